/*
 * benchutil.h -- what the benchmark programs of bench/ share: a monotonic clock, percentiles,
 * memory figures (peak and current RSS), the machine's description, scratch directories and the
 * no-op graphs every program submits.
 *
 * Not part of libweft and not a test: these programs print figures for people (and for
 * bench/run to collect).  Every helper either works or exits the program with a message; a
 * benchmark that cannot set itself up has nothing to say.
 *
 * The graph shapes (the same in every program, so their figures compare):
 *   wide N     N - 1 - G independent jobs and joins above them: when the leaves fit in one job's
 *              needs (WF_MAX_NEEDS_PER_JOB), one join needs them all (G = 0); otherwise each group
 *              of at most that many leaves gets a join and one final join needs those G joins.
 *              Exactly N jobs either way.
 *   chain N    j0 <- j1 <- ... <- j(N-1).
 *   lattice N  layers of W = ceil(sqrt(N)) jobs; each job after the first layer needs 2 jobs of
 *              the layer before, picked by a fixed-seed generator (the same graph every run).
 * Ids are "j" followed by the job's index in the order added (what wf_bench_id_index reads
 * back), joins are "join" / "join<g>".
 */
#ifndef WF_BENCHUTIL_H
#define WF_BENCHUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <weft/weft.h>

typedef enum wf_bench_shape { WF_BENCH_WIDE = 0, WF_BENCH_CHAIN, WF_BENCH_LATTICE } wf_bench_shape;

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t wf_bench_now_ns(void);

/* Sort v (n values) in place and return the q-quantile (0 <= q <= 1, nearest rank); 0 if n == 0. */
int64_t wf_bench_quantile(int64_t *v, size_t n, double q);

/* Peak resident set of this process so far (getrusage ru_maxrss), in KiB. */
long wf_bench_peak_rss_kb(void);
/* Resident set now (/proc/self/statm), in KiB. */
long wf_bench_rss_kb(void);
/* User + system CPU time of this process so far, in nanoseconds. */
int64_t wf_bench_cpu_ns(void);

/* Print "machine: ..." lines: cores, CPU model, kernel, and the file system holding dir. */
void wf_bench_print_machine(FILE *out, const char *dir);
/* What every program prints first, to stdout: "== title ==", then the machine lines for
 * wf_bench_base_dir(); flushed. */
void wf_bench_print_header(const char *title);

/* $WEFT_BENCH_DIR, else $TMPDIR, else /tmp: where scratch directories go. */
const char *wf_bench_base_dir(void);
/* A fresh directory under $WEFT_BENCH_DIR, else $TMPDIR, else /tmp (heap path; exits on
 * failure).  wf_bench_rmtree removes it and everything under it. */
char *wf_bench_tmpdir(const char *tag);
void wf_bench_rmtree(const char *path);

/* True when $WEFT_BENCH_MODE is "quick" (bench/run quick): smaller default sizes, so the whole
 * suite only checks that it works. */
bool wf_bench_quick(void);

/* "PASS" or "MISS". */
const char *wf_bench_verdict(bool pass);

/* The default graph sizes, 10^4, 10^5 and 10^6 (only the first two when wf_bench_quick()), into
 * v (room for 3); returns how many. */
size_t wf_bench_default_sizes(long *v);

/* Parse a comma-separated list of counts ("10000,100000", "1e6" allowed), each from min (>= 1)
 * to max, into v (at most cap); returns how many, or 0 on a malformed list. */
size_t wf_bench_parse_counts(const char *s, long *v, size_t cap, long min, long max);
/* A count from the command line ("5000", "1e5"); -1 when malformed. */
long wf_bench_parse_count(const char *s);
/* An option's count from min to max; exits with "bad count" otherwise. */
long wf_bench_count_arg(const char *s, long min, long max);

/* getopt_long(argc, argv, "h", longopts) with what every program does alike: -h and --help
 * print usage to stdout and exit 0; an unknown option or a missing argument (getopt_long has
 * said which) prints usage to stderr and exits 2, as does an argument left after the options.
 * Returns the next of the program's own options, -1 once all are read. */
struct option;
int wf_bench_getopt(int argc, char **argv, const struct option *longopts, void (*usage)(FILE *out));

const char *wf_bench_shape_name(wf_bench_shape shape);
/* Parse "wide" / "chain" / "lattice"; false otherwise. */
bool wf_bench_shape_parse(const char *s, wf_bench_shape *out);

/*
 * The graph of `shape` with n jobs, as a visitor: job(idx, id, arg) for every job in order, then
 * need(child_idx, child_id, parent_idx, parent_id, arg) for every edge (indices as job gave
 * them).  Either callback returns non-zero to stop, and that value is returned.  Jobs come
 * before the edges that name them.
 */
typedef int(wf_bench_job_fn)(uint32_t idx, const char *id, void *arg);
typedef int(wf_bench_need_fn)(uint32_t child_idx, const char *child, uint32_t parent_idx,
                              const char *parent, void *arg);
int wf_bench_graph(wf_bench_shape shape, uint32_t n, wf_bench_job_fn *job, wf_bench_need_fn *need,
                   void *arg);

/* Build the request of the graph with every job of type `type` and an empty payload (exits
 * with a message on any error).  Caller owns the request. */
weft_request_t *wf_bench_request(wf_bench_shape shape, uint32_t n, const char *type);

/* The index in a "j<digits>" id, or -1 (a join or anything else). */
long wf_bench_id_index(const char *id);

/* Print a message and exit(1). */
void wf_bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
