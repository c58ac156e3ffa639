#!/usr/bin/env python3
"""bench/gen.py -- write one job graph as a weft workflow, a Makefile, a build.ninja and a jobs file.

    gen.py SHAPE ARGS... [--seed S] [--sleep S] [--format yaml|make|ninja|deps|all] -o DIR_OR_FILE

Shapes (job ids are the same in every format; every job writes the stamp file out/<id>):
    wide N          N independent jobs w0..w{N-1} and one job 'join' needing all of them
    chain N         c0..c{N-1}, each needing the one before
    lattice L W K   L layers of W jobs l<layer>.<i>; each job of a layer after the first needs K
                    distinct jobs of the layer before, chosen at random (seeded by --seed, default 1)
    fanin N         N independent jobs f0..f{N-1} and one job 'sink' needing all of them (the same
                    structure as wide; it is there to name the case that stresses one job's needs)

Every job runs the same shell command, `true && touch out/<id>`, or with --sleep S
`sleep S && touch out/<id>`, run from the directory that holds the files (out/ must exist there).

Invariants:
  * The four formats describe the same graph with the same command per job, in the same job order.
  * The workflow uses only `name`, `jobs`, `run` and `needs`: nothing make or ninja cannot express.
  * A weft job may have at most WF_MAX_NEEDS_PER_JOB (100,000) needs.  When a join would need more,
    the generator puts a layer of intermediate joins (`join.0`, `join.1`, ...; `sink.0`, ...) in
    front of it, each needing at most 100,000 jobs, and writes the same extra jobs to every format.
  * Output is deterministic for given arguments (the lattice uses its own seeded PRNG).

Formats (--format, default all):
    yaml   the weft workflow          (all: DIR/workflow.yml)
    make   a GNU Makefile, no .PHONY  (all: DIR/Makefile)     `make -j P` builds everything
    ninja  a build.ninja, one rule    (all: DIR/build.ninja)  `ninja -j P` builds everything
    deps   one line per job: ID TAB COMMAND TAB PARENT-IDS (space-separated), for bench/floor
                                      (all: DIR/jobs.tsv)
With --format all, -o names a directory (created, with an empty out/ inside); otherwise -o names
the file to write ('-' for stdout).

Workload: up to a few million jobs; the scale benchmark writes `wide 1000000`, so everything is
built with list comprehensions and written in a few large writes (about 2 s per million jobs).
"""

import argparse
import os
import random
import re
import sys

MAX_NEEDS = 100000  # WF_MAX_NEEDS_PER_JOB in proto/wf_limits.h
EMPTY = ()


class Graph:
    """A job graph in file order: ids[i] needs parents[i] (a tuple of ids, every one earlier)."""

    def __init__(self, name, ids, parents):
        self.name = name
        self.ids = ids
        self.parents = parents

    def sinks(self):
        """The jobs nothing needs, in file order: what make's 'all' and ninja's default build."""
        needed = set()
        for ps in self.parents:
            needed.update(ps)
        return [i for i in self.ids if i not in needed]


def _join(ids, parents, leaves, name):
    """Append a job `name` needing every id of leaves, through intermediate joins if too many."""
    if len(leaves) <= MAX_NEEDS:
        ids.append(name)
        parents.append(tuple(leaves))
        return
    mids = []
    for k, start in enumerate(range(0, len(leaves), MAX_NEEDS)):
        mid = f"{name}.{k}"
        ids.append(mid)
        parents.append(tuple(leaves[start:start + MAX_NEEDS]))
        mids.append(mid)
    _join(ids, parents, mids, name)


def _positive(what, text):
    try:
        v = int(text)
    except ValueError:
        raise SystemExit(f"gen.py: {what} must be an integer, got '{text}'")
    if v < 1:
        raise SystemExit(f"gen.py: {what} must be at least 1, got {v}")
    return v


def build(shape, args, seed=1):
    """The graph of SHAPE with its ARGS (a list of strings or ints)."""
    args = [str(a) for a in args]
    need = {"wide": 1, "chain": 1, "fanin": 1, "lattice": 3}
    if shape not in need:
        raise SystemExit(f"gen.py: unknown shape '{shape}' (wide, chain, lattice, fanin)")
    if len(args) != need[shape]:
        raise SystemExit(f"gen.py: {shape} takes {need[shape]} argument(s), got {len(args)}")
    if shape in ("wide", "fanin"):
        n = _positive("N", args[0])
        prefix, join = ("w", "join") if shape == "wide" else ("f", "sink")
        ids = [f"{prefix}{i}" for i in range(n)]
        parents = [EMPTY] * n
        _join(ids, parents, ids[:n], join)
        return Graph(f"bench-{shape}-{n}", ids, parents)
    if shape == "chain":
        n = _positive("N", args[0])
        ids = [f"c{i}" for i in range(n)]
        parents = [EMPTY] + [(ids[i - 1],) for i in range(1, n)]
        return Graph(f"bench-chain-{n}", ids, parents)
    layers, width, k = (_positive(w, a) for w, a in zip(("L", "W", "K"), args))
    if k > width:
        raise SystemExit(f"gen.py: lattice K ({k}) must be at most W ({width})")
    rng = random.Random(seed)
    grid = [[f"l{layer}.{i}" for i in range(width)] for layer in range(layers)]
    ids = [j for row in grid for j in row]
    parents = [EMPTY] * width
    for layer in range(1, layers):
        before = grid[layer - 1]
        parents.extend(tuple(before[p] for p in sorted(rng.sample(range(width), k)))
                       for _ in range(width))
    return Graph(f"bench-lattice-{layers}x{width}x{k}", ids, parents)


def command_prefix(sleep):
    return "true" if sleep is None else f"sleep {sleep}"


def write_yaml(g, out, prefix):
    # Flow mappings keep a million jobs under the loader's file limit for as long as possible and
    # parse fast; ids and commands are plain scalars (no ',', '[', ']', '{', '}', ': ' or ' #').
    out.write(f"# generated by bench/gen.py\nname: {g.name}\njobs:\n")
    lines = [f"  {j}: {{run: {prefix} && touch out/{j}}}\n" if not ps else
             f"  {j}: {{needs: [{', '.join(ps)}], run: {prefix} && touch out/{j}}}\n"
             for j, ps in zip(g.ids, g.parents)]
    out.write("".join(lines))


def write_make(g, out, prefix):
    # No built-in rules or suffixes: make must not search implicit rules for a million stamps.
    # 'all' is not a file and has no recipe, so it needs no .PHONY; it comes first, so it is the
    # default goal, and lists the sinks in file order so the jobs start in the same order as weft's.
    out.write("# generated by bench/gen.py: run with GNU make -j P\n"
              "MAKEFLAGS += --no-builtin-rules --no-builtin-variables\n.SUFFIXES:\n")
    out.write("all: " + " ".join(f"out/{j}" for j in g.sinks()) + "\n")
    lines = [f"out/{j}: {' '.join('out/' + p for p in ps)}\n\t{prefix} && touch out/{j}\n"
             if ps else f"out/{j}:\n\t{prefix} && touch out/{j}\n"
             for j, ps in zip(g.ids, g.parents)]
    out.write("".join(lines))


def write_ninja(g, out, prefix):
    # $out is out/<id>, so the command each job runs is the same text as in the other formats.
    out.write(f"# generated by bench/gen.py: run with ninja -j P\n"
              f"rule job\n  command = {prefix} && touch $out\n")
    lines = [f"build out/{j}: job {' '.join('out/' + p for p in ps)}\n" if ps else
             f"build out/{j}: job\n" for j, ps in zip(g.ids, g.parents)]
    out.write("".join(lines))


def write_deps(g, out, prefix):
    lines = [f"{j}\t{prefix} && touch out/{j}\t{' '.join(ps)}\n" for j, ps in zip(g.ids, g.parents)]
    out.write("".join(lines))


WRITERS = {"yaml": write_yaml, "make": write_make, "ninja": write_ninja, "deps": write_deps}
FILES = {"yaml": "workflow.yml", "make": "Makefile", "ninja": "build.ninja", "deps": "jobs.tsv"}


def write_all(g, directory, sleep=None, formats=("yaml", "make", "ninja", "deps")):
    """Write the formats into directory under their FILES names, and an empty out/ beside them."""
    os.makedirs(os.path.join(directory, "out"), exist_ok=True)
    prefix = command_prefix(sleep)
    for f in formats:
        with open(os.path.join(directory, FILES[f]), "w") as out:
            WRITERS[f](g, out, prefix)


def _sleep_arg(text):
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        raise argparse.ArgumentTypeError(f"must be a non-negative number of seconds, got '{text}'")
    return text


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="gen.py", description="Write one job graph as a weft workflow, a Makefile, a "
        "build.ninja and a jobs file for bench/floor.",
        epilog="shapes: wide N | chain N | lattice L W K | fanin N")
    ap.add_argument("shape")
    ap.add_argument("args", nargs="*")
    ap.add_argument("--seed", type=int, default=1, help="the lattice's random seed (default 1)")
    ap.add_argument("--sleep", type=_sleep_arg, help="jobs run `sleep S` instead of `true`")
    ap.add_argument("--format", choices=["yaml", "make", "ninja", "deps", "all"], default="all")
    ap.add_argument("-o", "--output", required=True,
                    help="a directory with --format all, else a file ('-' for stdout)")
    a = ap.parse_args(argv)
    g = build(a.shape, a.args, a.seed)
    if a.format == "all":
        write_all(g, a.output, a.sleep)
    elif a.output == "-":
        WRITERS[a.format](g, sys.stdout, command_prefix(a.sleep))
    else:
        with open(a.output, "w") as out:
            WRITERS[a.format](g, out, command_prefix(a.sleep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
