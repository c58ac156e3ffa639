/*
 * inproc.c -- weft-bench-inproc: what the engine costs per job when nothing else does, through
 * the embedding API in one process (no fork, no job processes).
 *
 * Three measurements, each on a fresh state directory:
 *   1. the cost of one durable LMDB commit on the same file system (a raw LMDB environment with
 *      LMDB's default flags, so fsync at every commit): the floor a durable engine stands on;
 *   2. throughput: wide graphs of no-op jobs (benchutil.h), timed from weft_request_submit
 *      returning to weft_request_wait returning, per size, so one sees whether the cost per
 *      job grows with the request (it must not); the submit time is printed beside it;
 *   3. latency from a parent's completion to its child reaching a consumer, along a chain: the
 *      handler stamps CLOCK_MONOTONIC at entry and just before returning, and the latency of
 *      step i is entry(i) - return(i - 1); for WEFT_DURABLE_FULL and WEFT_DURABLE_PROCESS.
 * Then the targets of issue 5 with PASS or MISS.
 *
 * A size whose run would last longer than --budget seconds at the rate measured for the size
 * before is skipped and said so, so `bench/run` ends in a bounded time even while the engine
 * is slow.  Exit status 0 whatever the verdicts (they are figures, not a test); 1 if a
 * measurement could not be made.
 */
#include <errno.h>
#include <getopt.h>
#include <lmdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <weft/weft.h>

#include "benchutil.h"

#define S_MAX_SIZES 8
#define S_TYPE "noop"
#define S_COMMIT_MAP ((size_t)256 << 20) /* first map size of the raw LMDB environment */

typedef struct s_args {
    long sizes[S_MAX_SIZES];
    size_t nsizes;
    long threads;
    long prefetch;
    long chain;
    long commits;
    long record;
    double budget_s;
    int durability; /* for the throughput runs */
    bool throughput, latency, commit;
} s_args_t;

/* What the no-op handler writes: a count for throughput, stamps for the chain. */
typedef struct s_probe {
    atomic_long ran;
    int64_t *entry_ns; /* chain: by job index; NULL for throughput */
    int64_t *return_ns;
    long n;
} s_probe_t;

static int
s_noop(weft_job_t *job, void *arg)
{
    s_probe_t *p = arg;
    if (p->entry_ns) {
        int64_t t = wf_bench_now_ns();
        long i = wf_bench_id_index(weft_job_id(job));
        if (i >= 0 && i < p->n)
            p->entry_ns[i] = t;
        atomic_fetch_add_explicit(&p->ran, 1, memory_order_relaxed);
        if (i >= 0 && i < p->n)
            p->return_ns[i] = wf_bench_now_ns();
        return 0;
    }
    atomic_fetch_add_explicit(&p->ran, 1, memory_order_relaxed);
    return 0;
}

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: weft-bench-inproc [OPTIONS]\n"
            "\n"
            "  --sizes LIST      wide graph sizes for throughput (default 10000,100000,1000000)\n"
            "  --threads T       local consumer threads (default 2)\n"
            "  --prefetch P      WEFT_OPT_PREFETCH: jobs queued per local consumer (default 256)\n"
            "  --durability D    full or process, for the throughput runs (default full)\n"
            "  --chain N         jobs in the latency chain (default 5000)\n"
            "  --commits N       raw LMDB commits to time (default 2000)\n"
            "  --record BYTES    bytes per raw LMDB record (default 200)\n"
            "  --budget SECONDS  skip a size whose run would take longer at the rate of the\n"
            "                    size before (default 120; 0 = never skip)\n"
            "  --only WHAT       throughput, latency or commit (default: all three)\n"
            "  -h, --help\n"
            "\n"
            "State directories go under $WEFT_BENCH_DIR, else $TMPDIR, else /tmp.\n"
            "WEFT_BENCH_MODE=quick: sizes 10000,100000, chain 1000, 500 commits.\n");
}

static void
s_parse(int argc, char **argv, s_args_t *a)
{
    enum {
        O_SIZES = 256,
        O_THREADS,
        O_PREFETCH,
        O_DUR,
        O_CHAIN,
        O_COMMITS,
        O_RECORD,
        O_BUDGET,
        O_ONLY
    };
    static const struct option longopts[] = {
        {"sizes", required_argument, NULL, O_SIZES},
        {"threads", required_argument, NULL, O_THREADS},
        {"prefetch", required_argument, NULL, O_PREFETCH},
        {"durability", required_argument, NULL, O_DUR},
        {"chain", required_argument, NULL, O_CHAIN},
        {"commits", required_argument, NULL, O_COMMITS},
        {"record", required_argument, NULL, O_RECORD},
        {"budget", required_argument, NULL, O_BUDGET},
        {"only", required_argument, NULL, O_ONLY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->nsizes = wf_bench_default_sizes(a->sizes);
    a->threads = 2;
    a->prefetch = 256;
    a->chain = 5000;
    a->commits = 2000;
    a->record = 200;
    a->budget_s = 120;
    a->durability = WEFT_DURABLE_FULL;
    a->throughput = a->latency = a->commit = true;
    if (wf_bench_quick()) {
        a->chain = 1000;
        a->commits = 500;
    }
    int c;
    while ((c = wf_bench_getopt(argc, argv, longopts, s_usage)) != -1) {
        long v = 0;
        switch (c) {
        case O_SIZES:
            a->nsizes = wf_bench_parse_counts(optarg, a->sizes, S_MAX_SIZES, 1, 1000000000);
            if (!a->nsizes)
                wf_bench_die("--sizes wants a list of counts, got '%s'", optarg);
            break;
        case O_THREADS:
        case O_PREFETCH:
        case O_CHAIN:
        case O_COMMITS:
        case O_RECORD:
            v = wf_bench_count_arg(optarg, c == O_PREFETCH ? 0 : 1, 100000000);
            *(c == O_THREADS    ? &a->threads
              : c == O_PREFETCH ? &a->prefetch
              : c == O_CHAIN    ? &a->chain
              : c == O_COMMITS  ? &a->commits
                                : &a->record) = v;
            break;
        case O_DUR:
            if (strcmp(optarg, "full") == 0)
                a->durability = WEFT_DURABLE_FULL;
            else if (strcmp(optarg, "process") == 0)
                a->durability = WEFT_DURABLE_PROCESS;
            else
                wf_bench_die("--durability wants full or process, got '%s'", optarg);
            break;
        case O_BUDGET:
            v = wf_bench_parse_count(optarg);
            if (v < 0)
                wf_bench_die("--budget wants seconds, got '%s'", optarg);
            a->budget_s = (double)v;
            break;
        case O_ONLY:
            a->throughput = strcmp(optarg, "throughput") == 0;
            a->latency = strcmp(optarg, "latency") == 0;
            a->commit = strcmp(optarg, "commit") == 0;
            if (!a->throughput && !a->latency && !a->commit)
                wf_bench_die("--only wants throughput, latency or commit, got '%s'", optarg);
            break;
        }
    }
}

/* ---- the engine ---- */

/* WEFT_OPT_PREFETCH refused the value asked for: the runs go without, and say so. */
static bool s_prefetch_refused;

static const char *
s_prefetch_text(const s_args_t *a)
{
    static char buf[64];
    if (s_prefetch_refused)
        snprintf(buf, sizeof buf, "prefetch %ld REFUSED, none", a->prefetch);
    else
        snprintf(buf, sizeof buf, "prefetch %ld", a->prefetch);
    return buf;
}

typedef struct s_run {
    char *tmp;   /* scratch directory, removed at the end */
    char *state; /* tmp/state */
    weft_engine_t *eng;
} s_run_t;

static void
s_open(s_run_t *r, const char *tag, int durability, const s_args_t *a, s_probe_t *probe)
{
    r->tmp = wf_bench_tmpdir(tag);
    size_t n = strlen(r->tmp) + 16;
    r->state = malloc(n);
    if (!r->state)
        abort();
    snprintf(r->state, n, "%s/state", r->tmp);
    weft_options_t *o = NULL;
    weft_options_new(&o);
    weft_options_set_int(o, WEFT_OPT_DURABILITY, durability);
    int rc = weft_options_set_int(o, WEFT_OPT_PREFETCH, a->prefetch);
    if (rc != WEFT_OK && !s_prefetch_refused) {
        s_prefetch_refused = true;
        printf("note: WEFT_OPT_PREFETCH %ld refused (%s): running without it\n", a->prefetch,
               weft_strerror(rc));
    }
    char err[512] = "";
    rc = weft_engine_open(&r->eng, r->state, o, err, sizeof err);
    weft_options_destroy(&o);
    if (rc != WEFT_OK)
        wf_bench_die("engine open %s: %s: %s", r->state, weft_strerror(rc), err);
    rc = weft_engine_register(r->eng, S_TYPE, s_noop, probe);
    if (rc == WEFT_OK)
        rc = weft_engine_start_consumers(r->eng, (unsigned)a->threads);
    if (rc != WEFT_OK)
        wf_bench_die("local consumers: %s", weft_strerror(rc));
}

static void
s_close(s_run_t *r)
{
    weft_engine_close(&r->eng);
    wf_bench_rmtree(r->tmp);
    free(r->state);
    free(r->tmp);
    r->state = r->tmp = NULL;
}

/* Submit, wait; the times in seconds, and how many jobs had run when submit returned.  Checks
 * that every job ran and the request succeeded. */
static void
s_submit_wait(s_run_t *r, weft_request_t *req, s_probe_t *probe, uint32_t n, double *submit_s,
              double *run_s, long *early_p)
{
    weft_reqid_t id = 0;
    int64_t t0 = wf_bench_now_ns();
    int rc = weft_request_submit(r->eng, req, &id);
    int64_t t1 = wf_bench_now_ns();
    /* The engine may hand out jobs before the submitter hears back: count them. */
    *early_p = atomic_load(&probe->ran);
    if (rc != WEFT_OK)
        wf_bench_die("submit: %s: %s", weft_strerror(rc), weft_request_errmsg(req));
    weft_req_state st = WEFT_REQ_RUNNING;
    rc = weft_request_wait(r->eng, id, -1, &st);
    int64_t t2 = wf_bench_now_ns();
    if (rc != WEFT_OK)
        wf_bench_die("wait: %s", weft_strerror(rc));
    if (st != WEFT_REQ_SUCCEEDED)
        wf_bench_die("request %llu ended %s", (unsigned long long)id, weft_req_state_name(st));
    long ran = atomic_load(&probe->ran);
    if (ran < (long)n)
        wf_bench_die("request %llu succeeded but only %ld of %u jobs ran", (unsigned long long)id,
                     ran, n);
    *submit_s = (double)(t1 - t0) / 1e9;
    *run_s = (double)(t2 - t1) / 1e9;
}

/* ---- 1. a raw LMDB commit ---- */

typedef struct s_commit {
    bool done;
    int64_t p50_ns, p99_ns, max_ns;
    double mean_ns;
} s_commit_t;

static void
s_measure_commit(const s_args_t *a, s_commit_t *out)
{
    char *tmp = wf_bench_tmpdir("commit");
    size_t n = strlen(tmp) + 16;
    char *dir = malloc(n);
    if (!dir)
        abort();
    /* Beside where the engine's state directories go: the same file system. */
    snprintf(dir, n, "%s/lmdb", tmp);
    if (mkdir(dir, 0755) != 0)
        wf_bench_die("mkdir %s: %s", dir, strerror(errno));
    /* The map starts at S_COMMIT_MAP and is doubled whenever a commit meets MDB_MAP_FULL (big
     * --commits x --record), rather than sized beforehand: what LMDB needs beyond the records
     * themselves (overflow pages, the free list, copy-on-write) is not worth estimating.  The
     * default options never get there, so their timings never include a remap. */
    MDB_env *env = NULL;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_set_mapsize(env, S_COMMIT_MAP);
    if (rc == 0)
        rc = mdb_env_open(env, dir, 0, 0644); /* default flags: fsync at every commit */
    if (rc != 0)
        wf_bench_die("lmdb commit: cannot open a raw LMDB environment in %s: %s", dir,
                     mdb_strerror(rc));
    MDB_dbi dbi;
    MDB_txn *txn = NULL;
    rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, &dbi);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    if (rc != 0)
        wf_bench_die("lmdb: %s", mdb_strerror(rc));
    char *value = malloc((size_t)a->record);
    if (!value)
        abort();
    memset(value, 'v', (size_t)a->record);
    int64_t *t = calloc((size_t)a->commits, sizeof *t);
    if (!t)
        abort();
    double sum = 0;
    for (long i = 0; i < a->commits; i++) {
        uint64_t k = __builtin_bswap64((uint64_t)i);
        MDB_val key = {sizeof k, &k}, val = {(size_t)a->record, value};
        int64_t t0 = wf_bench_now_ns();
        rc = mdb_txn_begin(env, NULL, 0, &txn);
        if (rc == 0) {
            rc = mdb_put(txn, dbi, &key, &val, 0);
            if (rc == 0)
                rc = mdb_txn_commit(txn); /* frees txn, also when it fails */
            else
                mdb_txn_abort(txn);
        }
        t[i] = wf_bench_now_ns() - t0;
        if (rc == MDB_MAP_FULL) {
            /* No transaction is open now, as mdb_env_set_mapsize wants; the commit is done
             * again and timed afresh, so the failed attempt and the remap are not counted. */
            MDB_envinfo info;
            mdb_env_info(env, &info);
            size_t size = info.me_mapsize;
            rc = size > SIZE_MAX / 2 ? ENOMEM : mdb_env_set_mapsize(env, size * 2);
            if (rc != 0)
                wf_bench_die("lmdb commit: %ld commits of %ld bytes do not fit: the map is full "
                             "at %zu MiB and cannot grow to %zu MiB (%s); lower --commits or "
                             "--record",
                             a->commits, a->record, size >> 20, (size >> 20) * 2,
                             mdb_strerror(rc));
            i--;
            continue;
        }
        if (rc != 0)
            wf_bench_die("lmdb commit: commit %ld of %ld (one %ld-byte record) failed, no "
                         "figure: %s",
                         i + 1, a->commits, a->record, mdb_strerror(rc));
        sum += (double)t[i];
    }
    out->mean_ns = sum / (double)a->commits;
    out->p50_ns = wf_bench_quantile(t, (size_t)a->commits, 0.50);
    out->p99_ns = wf_bench_quantile(t, (size_t)a->commits, 0.99);
    out->max_ns = t[a->commits - 1];
    out->done = true;
    printf("lmdb commit: %ld write txns of one %ld-byte record, default flags (fsync): "
           "p50 %.1f us  p99 %.1f us  max %.1f us  mean %.1f us\n",
           a->commits, a->record, out->p50_ns / 1e3, out->p99_ns / 1e3, out->max_ns / 1e3,
           out->mean_ns / 1e3);
    free(t);
    free(value);
    mdb_env_close(env);
    wf_bench_rmtree(tmp);
    free(dir);
    free(tmp);
}

/* ---- 2. throughput ---- */

typedef struct s_tput {
    long n;
    bool run;
    double build_s, submit_s, run_s, rate;
} s_tput_t;

static void
s_measure_throughput(const s_args_t *a, s_tput_t *res)
{
    double last_rate = 0;
    for (size_t i = 0; i < a->nsizes; i++) {
        s_tput_t *t = &res[i];
        t->n = a->sizes[i];
        if (a->budget_s > 0 && last_rate > 0 && (double)t->n / last_rate > a->budget_s) {
            printf("throughput: wide %ld: skipped: about %.0f s at %.0f jobs/s, over --budget "
                   "%.0f s\n",
                   t->n, (double)t->n / last_rate, last_rate, a->budget_s);
            continue;
        }
        s_probe_t probe = {0};
        s_run_t r = {0};
        s_open(&r, "tput", a->durability, a, &probe);
        int64_t t0 = wf_bench_now_ns();
        weft_request_t *req = wf_bench_request(WF_BENCH_WIDE, (uint32_t)t->n, S_TYPE);
        t->build_s = (double)(wf_bench_now_ns() - t0) / 1e9;
        long early = 0;
        s_submit_wait(&r, req, &probe, (uint32_t)t->n, &t->submit_s, &t->run_s, &early);
        weft_request_destroy(&req);
        s_close(&r);
        /* Jobs that ran before submit returned are not counted against the run's time. */
        t->rate = (double)(t->n - early) / t->run_s;
        t->run = true;
        last_rate = t->rate;
        printf("throughput: wide %7ld jobs: %9.0f jobs/s  (run %.2f s; build %.2f s, submit "
               "%.2f s = %.1f us/job; %ld ran before submit returned; %.0f jobs/s from submit "
               "called; %s, %ld threads, %s)\n",
               t->n, t->rate, t->run_s, t->build_s, t->submit_s, t->submit_s * 1e6 / (double)t->n,
               early, (double)t->n / (t->submit_s + t->run_s),
               a->durability == WEFT_DURABLE_FULL ? "durable full" : "durable process", a->threads,
               s_prefetch_text(a));
        fflush(stdout);
    }
}

/* ---- 3. latency along a chain ---- */

typedef struct s_lat {
    bool done;
    int64_t p50_ns, p99_ns, max_ns;
    double per_job_us;
} s_lat_t;

static void
s_measure_latency(const s_args_t *a, int durability, s_lat_t *out)
{
    s_probe_t probe = {0};
    probe.n = a->chain;
    probe.entry_ns = calloc((size_t)a->chain, sizeof *probe.entry_ns);
    probe.return_ns = calloc((size_t)a->chain, sizeof *probe.return_ns);
    if (!probe.entry_ns || !probe.return_ns)
        abort();
    s_run_t r = {0};
    s_open(&r, "lat", durability, a, &probe);
    weft_request_t *req = wf_bench_request(WF_BENCH_CHAIN, (uint32_t)a->chain, S_TYPE);
    double submit_s = 0, run_s = 0;
    long early = 0;
    s_submit_wait(&r, req, &probe, (uint32_t)a->chain, &submit_s, &run_s, &early);
    weft_request_destroy(&req);
    s_close(&r);
    /* The stamps were written by consumer threads before they reported; the engine only ended
     * the request after every report, and wait's round trip orders us after it. */
    size_t n = (size_t)a->chain - 1;
    int64_t *lat = calloc(n ? n : 1, sizeof *lat);
    if (!lat)
        abort();
    for (size_t i = 0; i < n; i++)
        lat[i] = probe.entry_ns[i + 1] - probe.return_ns[i];
    out->p50_ns = wf_bench_quantile(lat, n, 0.50);
    out->p99_ns = wf_bench_quantile(lat, n, 0.99);
    out->max_ns = n ? lat[n - 1] : 0;
    /* From the first job's entry to the last one's return, by the handler's own stamps: the
     * engine may have started the chain before submit returned. */
    double span_s = (double)(probe.return_ns[a->chain - 1] - probe.entry_ns[0]) / 1e9;
    out->per_job_us = span_s * 1e6 / (double)a->chain;
    out->done = true;
    printf("latency: chain %ld, %s: parent return -> child entry p50 %.1f us  p99 %.1f us  max "
           "%.1f us  (%.1f us per job end to end, %.0f jobs/s)\n",
           a->chain, durability == WEFT_DURABLE_FULL ? "durable full   " : "durable process",
           out->p50_ns / 1e3, out->p99_ns / 1e3, out->max_ns / 1e3, out->per_job_us,
           (double)a->chain / span_s);
    fflush(stdout);
    free(lat);
    free(probe.entry_ns);
    free(probe.return_ns);
}

int
main(int argc, char **argv)
{
    s_args_t a;
    s_parse(argc, argv, &a);
    wf_bench_print_header("weft-bench-inproc: no-op handlers through the embedding API");

    s_commit_t commit = {0};
    if (a.commit)
        s_measure_commit(&a, &commit);
    s_tput_t tput[S_MAX_SIZES] = {{0}};
    if (a.throughput)
        s_measure_throughput(&a, tput);
    s_lat_t full = {0}, proc = {0};
    if (a.latency) {
        s_measure_latency(&a, WEFT_DURABLE_FULL, &full);
        s_measure_latency(&a, WEFT_DURABLE_PROCESS, &proc);
    }

    printf("targets:\n");
    if (a.throughput) {
        double lo = 0, hi = 0;
        long lo_n = 0, hi_n = 0;
        for (size_t i = 0; i < a.nsizes; i++) {
            if (!tput[i].run) {
                printf("  throughput wide %ld >= 100000 jobs/s (%s): not run\n", tput[i].n,
                       a.durability == WEFT_DURABLE_FULL ? "durable" : "process");
                continue;
            }
            printf("  throughput wide %ld >= 100000 jobs/s (%s): %.0f jobs/s  %s\n", tput[i].n,
                   a.durability == WEFT_DURABLE_FULL ? "durable" : "process", tput[i].rate,
                   wf_bench_verdict(tput[i].rate >= 100000));
            if (!lo_n) {
                lo = tput[i].rate;
                lo_n = tput[i].n;
            }
            hi = tput[i].rate;
            hi_n = tput[i].n;
        }
        if (lo_n && hi_n != lo_n)
            printf("  flat: jobs/s at %ld / at %ld = %.3f (>= 0.800)  %s\n", hi_n, lo_n, hi / lo,
                   wf_bench_verdict(hi / lo >= 0.80));
    }
    if (a.latency && a.commit)
        printf("  durable latency p99 <= commit p50 + 100 us: %.1f us vs %.1f us  %s\n",
               full.p99_ns / 1e3, (commit.p50_ns + 100000) / 1e3,
               wf_bench_verdict(full.p99_ns <= commit.p50_ns + 100000));
    if (a.latency && a.commit)
        printf("    (for reference: a raw commit's own p99 is %.1f us, fsync's tail here)\n",
               commit.p99_ns / 1e3);
    else if (a.latency)
        printf("  durable latency p99 <= commit p50 + 100 us: no commit measured\n");
    if (a.latency)
        printf("  process-level latency p99 <= 100 us: %.1f us  %s\n", proc.p99_ns / 1e3,
               wf_bench_verdict(proc.p99_ns <= 100000));
    return 0;
}
