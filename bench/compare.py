#!/usr/bin/env python3
"""bench/compare.py -- weft against make -j, ninja -j and the spawn floor, on the same shell graphs.

    compare.py [--case SHAPE:ARGS]... [-j P] [-r R] [--warmup W] [--quick] [--json FILE]
               [--weft PATH] [--weft-arg ARG]... [--engines weft,make,ninja,floor] ...

For each case, bench/gen.py writes the graph once (workflow.yml, Makefile, build.ninja, jobs.tsv);
then every round runs each engine once, in turn (round-robin, the starting engine rotating from
round to round so none always runs first), each run in a FRESH directory: a new temporary
directory under one base directory (so on one filesystem) holding only that engine's file and an
empty out/.  The first --warmup rounds (default 1) are not counted; then come R rounds (default 5).
After each run the stamps in out/ must be exactly the graph's job ids, and the engine must exit 0:
anything else stops the benchmark with the engine's output (the run directory is kept).

What is measured, per run: the wall time from spawning the engine's process to reaping it, and
its ru_maxrss from wait4: the peak RSS of the engine process, or of its largest job process if
that was larger (the kernel reports the maximum over a process and its reaped children).  Both
are taken by `floor -m`, a small launcher in bench/floor.c: a process forked from this Python
runner would carry the runner's RSS as its own peak.
Reported per engine: median, min and max wall time, the largest peak RSS, and jobs/s (jobs /
median); per case the ratios weft/ninja, weft/make and weft/floor of the medians, with PASS or
MISS against issue 5's targets (weft/ninja <= 1.0, weft/floor <= 1.25).

Engines (cwd = the run directory):
    weft   weft run -q -j P [--weft-arg ...] workflow.yml --state DIR/state   (DIR/state is new)
    make   make -s -j P            (GNU make only; the Makefile disables built-in rules)
    ninja  ninja -j P --quiet      (--quiet only where the installed ninja has it)
    floor  floor -j P jobs.tsv     (bench/floor.c, compiled with cc -O2 if missing or stale)

Cases: --case wide:10000, chain:2000, fanin:10000, lattice:50x200x3 (L x W x K).  Defaults are
issue 5's sizes (wide 10000, lattice 50x200 k=3, chain 2000, fanin 10000) at -j 2 with 5 rounds;
--quick uses small ones (wide 1000, lattice 10x100 k=3, chain 300, fanin 1000) and 2 rounds.

Exit status: 0 when every run was correct (a MISS is a figure, not an error), 1 when a run failed
or left a stamp missing, 2 for bad arguments or a missing tool.
"""

import argparse
import atexit
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import gen  # noqa: E402  (bench/gen.py, beside this file)

DEFAULT_CASES = ["wide:10000", "lattice:50x200x3", "chain:2000", "fanin:10000"]
QUICK_CASES = ["wide:1000", "lattice:10x100x3", "chain:300", "fanin:1000"]
ENGINES = ["weft", "make", "ninja", "floor"]
TARGETS = {"weft/ninja": 1.0, "weft/floor": 1.25}  # issue 5; weft/make is shown, not judged
ENGINE_FILE = {"weft": "yaml", "make": "make", "ninja": "ninja", "floor": "deps"}


def die(msg, code=2):
    print(f"compare.py: {msg}", file=sys.stderr)
    sys.exit(code)


# --------------------------------------------------------------------------- the machine


def first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else f"unavailable (exit {out.returncode})"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def filesystem(path):
    """The type, device and options of the mount holding path, from /proc/self/mounts."""
    real = os.path.realpath(path)
    best = None
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                dev, mnt, fstype, opts = line.split()[:4]
                mnt = mnt.replace("\\040", " ")
                inside = real == mnt or real.startswith(mnt.rstrip("/") + "/")
                if inside and (best is None or len(mnt) >= len(best[1])):
                    best = (dev, mnt, fstype, opts)
    except OSError:
        return "unknown"
    if best is None:
        return "unknown"
    dev, mnt, fstype, opts = best
    return f"{fstype} ({dev} on {mnt}, {opts})"


def shown(path):
    """path relative to the checkout when it is inside it."""
    rel = os.path.relpath(path, ROOT)
    return path if rel.startswith("..") else rel


def machine_info(a, workdir):
    m = {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "cpu": cpu_model(),
        "kernel": " ".join(platform.uname()[i] for i in (0, 2, 3, 4)),
        "filesystem": filesystem(workdir),
        "workdir": workdir,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        with open("/proc/meminfo") as f:
            m["memory"] = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    tools = {
        "weft": first_line([a.weft, "--version"]),
        "make": first_line(["make", "--version"]),
        "ninja": first_line(["ninja", "--version"]),
        "floor": f"{shown(a.floor)} ({first_line([a.cc, '--version'])}, -O2)",
        "python": sys.version.split()[0],
    }
    return m, tools


# --------------------------------------------------------------------------- setup


def parse_case(spec):
    shape, _, rest = spec.partition(":")
    args = [x for x in rest.replace(",", "x").split("x") if x] if rest else []
    g = gen.build(shape, args)  # validates; rebuilt with the seed in main
    del g
    if shape == "lattice":
        label = f"lattice {args[0]}x{args[1]} k={args[2]}"
    else:
        label = f"{shape} {args[0]}"
    return {"spec": spec, "shape": shape, "args": args, "label": label}


def build_floor(a):
    src = os.path.join(HERE, "floor.c")
    if os.path.exists(a.floor) and os.path.getmtime(a.floor) >= os.path.getmtime(src):
        return
    os.makedirs(os.path.dirname(a.floor), exist_ok=True)
    cmd = [a.cc, "-O2", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-o", a.floor, src]
    print("compiling the spawn floor: " + " ".join(cmd), flush=True)
    if subprocess.run(cmd).returncode != 0:
        die("could not compile bench/floor.c")


def check_tools(a):
    if "weft" in a.engines and not os.access(a.weft, os.X_OK):
        die(f"no weft at {a.weft}: build it (bench/run does) or give --weft PATH")
    if "make" in a.engines:
        v = first_line(["make", "--version"])
        if "GNU Make" not in v:
            die(f"make must be GNU make, got: {v}")
    if "ninja" in a.engines and shutil.which("ninja") is None:
        die("no ninja on PATH (Debian: apt-get install ninja-build)")
    build_floor(a)  # also the launcher that measures every engine


def ninja_quiet():
    try:
        out = subprocess.run(["ninja", "--help"], capture_output=True, text=True).stderr
    except OSError:
        return []
    return ["--quiet"] if "--quiet" in out else []


def engine_argv(a, engine, rundir, quiet):
    j = str(a.jobs)
    if engine == "weft":
        return [a.weft, "run", "-q", "-j", j, *a.weft_arg, "workflow.yml",
                "--state", os.path.join(rundir, "state")]
    if engine == "make":
        return ["make", "-s", "-j", j]
    if engine == "ninja":
        return ["ninja", "-j", j, *quiet]
    return [a.floor, "-j", j, "jobs.tsv"]


# --------------------------------------------------------------------------- one run


def tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def run_once(a, case, engine, quiet):
    """Run engine on a fresh copy of case's files; return (wall seconds, peak RSS KiB)."""
    rundir = tempfile.mkdtemp(prefix=f"{case['shape']}-{engine}-", dir=case["base"])
    name = gen.FILES[ENGINE_FILE[engine]]
    shutil.copyfile(os.path.join(case["template"], name), os.path.join(rundir, name))
    os.mkdir(os.path.join(rundir, "out"))
    argv = engine_argv(a, engine, rundir, quiet)
    log = os.path.join(rundir, "engine.log")
    measured = os.path.join(rundir, "measure.txt")
    # Started through `floor -m` (see floor.c) so that ru_maxrss is the engine's, not this
    # Python process's: the wall time and rusage are taken there, around spawn and wait4.
    with open(log, "wb") as out:
        p = subprocess.Popen([a.floor, "-m", measured, *argv], cwd=rundir,
                             stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                             start_new_session=True)
        try:
            p.wait(timeout=a.timeout if a.timeout > 0 else None)
        except subprocess.TimeoutExpired:
            # The whole group: make and ninja would leave their jobs running.
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        except BaseException:  # Ctrl-C or SIGTERM: take the engine and its jobs down too
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            raise
    wall, kb, code = None, 0, p.returncode
    try:
        with open(measured) as f:
            w, k, c = f.read().split()
        wall, kb, code = float(w), int(k), int(c)
    except (OSError, ValueError):
        pass
    problem = None
    if wall is None or code != 0:
        problem = (f"exited with status {code}" if wall is not None else
                   f"was killed or could not start (launcher status {p.returncode})")
    else:
        have = set(os.listdir(os.path.join(rundir, "out")))
        missing = [j for j in case["ids"] if j not in have]
        extra = have.difference(case["idset"])
        if missing:
            problem = (f"{len(missing)} of {len(case['ids'])} stamps missing "
                       f"(first: {', '.join('out/' + m for m in missing[:5])})")
        elif extra:
            problem = f"unexpected files in out/: {', '.join(sorted(extra)[:5])}"
    if problem:
        print(f"\nFAILED: {engine} on {case['label']}: {problem}\n  command: {' '.join(argv)}"
              f"\n  kept in: {rundir}\n  its output (last lines):\n{tail(log)}", file=sys.stderr)
        a.keep_base = True
        sys.exit(1)
    if not a.keep:
        shutil.rmtree(rundir, ignore_errors=True)
    return wall, kb


# --------------------------------------------------------------------------- report


def ratio(res, x, y):
    if x in res and y in res and res[y]["median_s"] > 0:
        return res[x]["median_s"] / res[y]["median_s"]
    return None


def summarize(case, walls, rss, engines):
    res = {}
    for e in engines:
        med = statistics.median(walls[e])
        res[e] = {"wall_s": [round(w, 4) for w in walls[e]], "median_s": round(med, 4),
                  "min_s": round(min(walls[e]), 4), "max_s": round(max(walls[e]), 4),
                  "peak_rss_kb": max(rss[e]), "jobs_per_s": round(case["jobs"] / med, 1)}
    ratios, verdicts = {}, {}
    for other in ("ninja", "make", "floor"):
        r = ratio(res, "weft", other)
        if r is not None:
            ratios[f"weft/{other}"] = round(r, 3)
    for k, limit in TARGETS.items():
        if k in ratios:
            verdicts[k] = {"target": limit, "value": ratios[k], "pass": ratios[k] <= limit}
    return res, ratios, verdicts


def print_case(case, res, ratios, verdicts, rounds):
    print(f"\n== {case['label']}: {case['jobs']} jobs, {case['edges']} needs, -j {case['j']}, "
          f"{rounds} rounds")
    print(f"  {'engine':<7} {'median s':>9} {'min s':>8} {'max s':>8} {'peak RSS':>10} "
          f"{'jobs/s':>9}")
    for e, r in res.items():
        print(f"  {e:<7} {r['median_s']:>9.3f} {r['min_s']:>8.3f} {r['max_s']:>8.3f} "
              f"{r['peak_rss_kb'] / 1024:>7.1f} MB {r['jobs_per_s']:>9.0f}")
    for k, v in ratios.items():
        mark = ""
        if k in verdicts:
            mark = f"   {'PASS' if verdicts[k]['pass'] else 'MISS'} (target <= {TARGETS[k]:.2f})"
        print(f"  {k:<11} {v:6.2f}{mark}")


def print_summary(results):
    print("\n== summary (ratios of medians)")
    print(f"  {'case':<22} {'weft s':>8} {'weft/ninja':>14} {'weft/make':>10} {'weft/floor':>16}")
    for c in results:
        r, v = c["ratios"], c["targets"]

        def cell(k, width):
            if k not in r:
                return f"{'-':>{width}}"
            mark = "" if k not in v else (" PASS" if v[k]["pass"] else " MISS")
            return f"{r[k]:.2f}{mark}".rjust(width)

        weft = c["engines"].get("weft", {}).get("median_s")
        ws = f"{weft:8.3f}" if weft is not None else f"{'-':>8}"
        print(f"  {c['case']:<22} {ws} {cell('weft/ninja', 14)} {cell('weft/make', 10)} "
              f"{cell('weft/floor', 16)}")


# --------------------------------------------------------------------------- main


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="compare.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run weft, make -j, ninja -j and the spawn floor round-robin on the same "
        "shell graphs and compare their wall times.",
        epilog="cases: wide:N  chain:N  fanin:N  lattice:LxWxK\n"
        "defaults: " + " ".join(DEFAULT_CASES) + "; --quick: " + " ".join(QUICK_CASES))
    ap.add_argument("--case", action="append", metavar="SHAPE:ARGS",
                    help="a case to run (repeatable; replaces the default list)")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="parallelism of every engine (2)")
    ap.add_argument("-r", "--reps", type=int, help="counted rounds (default 5; 2 with --quick)")
    ap.add_argument("--warmup", type=int, default=1, help="uncounted rounds first (1)")
    ap.add_argument("--quick", action="store_true", help="small cases and 2 rounds")
    ap.add_argument("--engines", default=",".join(ENGINES),
                    help="comma-separated subset of weft,make,ninja,floor (all)")
    ap.add_argument("--weft", default=os.path.join(ROOT, "build-bench", "cli", "weft"),
                    help="the weft binary (build-bench/cli/weft)")
    ap.add_argument("--weft-arg", action="append", default=[], metavar="ARG",
                    help="an extra argument for weft run (repeatable), e.g. --weft-arg=--foo")
    ap.add_argument("--floor", default=os.path.join(ROOT, "build-bench", "bench", "floor"),
                    help="the spawn-floor binary, compiled from bench/floor.c if missing or stale")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"), help="compiler for floor.c")
    ap.add_argument("--sleep", type=gen._sleep_arg, help="jobs run `sleep S` instead of `true`")
    ap.add_argument("--seed", type=int, default=1, help="the lattice's seed (1)")
    ap.add_argument("--workdir", help="base directory for the run directories (a new temporary "
                    "directory by default); it is created and, unless --keep, removed")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per run before it is "
                    "killed and counted as a failure (900; 0 = none)")
    ap.add_argument("--keep", action="store_true", help="keep every run directory")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE")
    a = ap.parse_args(argv)

    a.engines = [e for e in a.engines.split(",") if e]
    for e in a.engines:
        if e not in ENGINES:
            die(f"unknown engine '{e}' (weft, make, ninja, floor)")
    if a.jobs < 1 or a.warmup < 0 or (a.reps is not None and a.reps < 1):
        die("-j and -r must be at least 1, --warmup at least 0")
    reps = a.reps if a.reps is not None else (2 if a.quick else 5)
    specs = a.case or (QUICK_CASES if a.quick else DEFAULT_CASES)
    a.weft = os.path.abspath(a.weft)
    a.floor = os.path.abspath(a.floor)
    cases = [parse_case(s) for s in specs]
    check_tools(a)
    quiet = ninja_quiet()

    if a.workdir:
        os.makedirs(a.workdir, exist_ok=True)
        base = tempfile.mkdtemp(prefix="weft-bench-", dir=a.workdir)
    else:
        base = tempfile.mkdtemp(prefix="weft-bench-")
    if not a.keep:
        # Also on Ctrl-C; a failed run's directory is kept (run_once clears a.keep_base).
        a.keep_base = False
        atexit.register(lambda: a.keep_base or shutil.rmtree(base, ignore_errors=True))
    machine, tools = machine_info(a, base)
    started = datetime.datetime.now(datetime.timezone.utc)

    print("weft benchmark: bench/compare.py " + " ".join(sys.argv[1:] if argv is None else argv))
    print(f"machine: {machine['nproc']} cpus ({machine['usable_cpus']} usable), {machine['cpu']}, "
          f"{machine.get('memory', '?')}")
    print(f"kernel:  {machine['kernel']}")
    print(f"workdir: {base}: {machine['filesystem']}")
    print(f"load:    {' '.join(map(str, machine['loadavg_at_start']))} (1, 5, 15 min) at start")
    for k, v in tools.items():
        print(f"{k + ':':<8} {v}")
    print(f"config:  -j {a.jobs}, {a.warmup} warm-up + {reps} counted rounds, engines "
          f"{','.join(a.engines)}, jobs run `{gen.command_prefix(a.sleep)} && touch out/ID`, "
          f"weft args: {' '.join(a.weft_arg) or '(none)'}", flush=True)

    results = []
    for n, case in enumerate(cases):
        g = gen.build(case["shape"], case["args"], a.seed)
        case.update(base=os.path.join(base, f"case{n}"), j=a.jobs, jobs=len(g.ids),
                    edges=sum(len(p) for p in g.parents), ids=g.ids, idset=set(g.ids))
        case["template"] = os.path.join(case["base"], "template")
        os.makedirs(case["template"])
        gen.write_all(g, case["template"], a.sleep)
        del g
        walls = {e: [] for e in a.engines}
        rss = {e: [] for e in a.engines}
        print(f"\n-- {case['label']} ({case['jobs']} jobs): ", end="", flush=True)
        for rnd in range(a.warmup + reps):
            counted = rnd >= a.warmup
            k = rnd % len(a.engines)
            for e in a.engines[k:] + a.engines[:k]:
                wall, kb = run_once(a, case, e, quiet)
                if counted:
                    walls[e].append(wall)
                    rss[e].append(kb)
                print(f"{e} {wall:.2f}s{'' if counted else ' (warm-up)'}  ", end="", flush=True)
            print(f"| " if rnd + 1 < a.warmup + reps else "", end="", flush=True)
        print()
        res, ratios, verdicts = summarize(case, walls, rss, a.engines)
        print_case(case, res, ratios, verdicts, reps)
        results.append({"case": case["label"], "shape": case["shape"], "args": case["args"],
                        "jobs": case["jobs"], "needs": case["edges"], "j": a.jobs,
                        "engines": res, "ratios": ratios, "targets": verdicts})
        if not a.keep:
            shutil.rmtree(case["base"], ignore_errors=True)

    print_summary(results)
    if a.json:
        doc = {"command": "bench/compare.py " + " ".join(sys.argv[1:] if argv is None else argv),
               "started_utc": started.isoformat(timespec="seconds"),
               "finished_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
                   timespec="seconds"),
               "machine": machine, "tools": tools,
               "config": {"j": a.jobs, "warmup": a.warmup, "reps": reps, "engines": a.engines,
                          "sleep": a.sleep, "seed": a.seed, "weft_args": a.weft_arg,
                          "command": f"{gen.command_prefix(a.sleep)} && touch out/ID",
                          "targets": TARGETS},
               "cases": results}
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        print(f"\nfigures written to {a.json}")
    return 0


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ncompare.py: interrupted", file=sys.stderr)
        sys.exit(130)
