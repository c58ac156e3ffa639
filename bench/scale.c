/*
 * scale.c -- weft-bench-scale: what a big request costs before and after a crash, for graphs of
 * 10^4, 10^5 and 10^6 no-op jobs, lattice (about 2 needs per job) and wide (benchutil.h).
 *
 * Per shape and size, each in a process of its own (forked from this small one, so that
 * getrusage's peak RSS is that measurement's alone):
 *   api       open an engine, then build the request through the API, submit it (validation
 *             and the durable write); peak RSS over the RSS just before building, per job; and
 *             what the engine still holds once the builder is freed (malloc_trim'd).
 *   yaml      the same graph as a workflow file (written beforehand, `defaults: {type: noop}`):
 *             wf_workflow_load (parse + check), wf_workflow_to_request, submit; the workflow is
 *             freed before the submit, as weft run does (the request has all it needs).
 *   recovery  a child opens an engine (durable full, prefetch 256), submits, starts 2 local
 *             consumers and SIGKILLs itself from the handler once a third of the jobs have
 *             run; then a fresh process times weft_engine_open on that directory, and the
 *             first round trip to the engine's thread.  weft_engine_open returns once every
 *             unfinished request is loaded (engine/server.c, wf_server_open); the jobs found
 *             running are re-queued and committed in the first turn of the loop, before any
 *             control message is served, so "open + first round trip" is the time until the
 *             engine has resumed.
 * Then the targets of issue 5 for the largest size: submitted <= 5 s, <= 1 KB of RSS per job,
 * recovery <= 2 s, with PASS or MISS.
 *
 * Results come back to this process through a pipe as a plain struct.  Exit status 0 whatever
 * the verdicts; 1 when a measurement could not be made at all.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/weft.h>

#include "benchutil.h"
#include "workflow.h"

#define S_MAX_SIZES 8
#define S_TYPE "noop"

typedef struct s_args {
    long sizes[S_MAX_SIZES];
    size_t nsizes;
    wf_bench_shape shapes[3];
    size_t nshapes;
    bool api, yaml, recovery;
    long threads;
    long timeout_s;
} s_args_t;

/* What a measuring child sends back. */
typedef struct s_res {
    int ok;
    char why[768];
    uint32_t njobs;
    double build_s, submit_s, load_s, convert_s; /* api: build + submit; yaml: all but build */
    long base_kb, peak_kb, held_kb;
    long file_bytes;
    double open_s, first_turn_s, status_s, close_s;
    uint32_t ran_before_kill;
    uint32_t count[WEFT_JOB_STATE_COUNT_];
} s_res_t;

typedef void(s_child_fn)(void *arg, s_res_t *res);

/* Read len bytes from fd into buf, giving up at the CLOCK_MONOTONIC time end (ns); returns how
 * many came, fewer on end of file, an error or the deadline. */
static size_t
s_read_by(int fd, void *buf, size_t len, int64_t end)
{
    size_t got = 0;
    while (got < len) {
        int64_t left_ms = (end - wf_bench_now_ns()) / 1000000;
        if (left_ms <= 0)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, (int)(left_ms > 60000 ? 60000 : left_ms));
        if (pr < 0 && errno != EINTR)
            break;
        if (pr <= 0)
            continue;
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* Run fn in a child and bring its result back; res->ok is 0 with a reason if it failed. */
static void
s_in_child(s_child_fn *fn, void *arg, long timeout_s, s_res_t *res)
{
    memset(res, 0, sizeof *res);
    int fds[2];
    if (pipe(fds) != 0)
        wf_bench_die("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        wf_bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        s_res_t r;
        memset(&r, 0, sizeof r);
        fn(arg, &r);
        ssize_t w = write(fds[1], &r, sizeof r);
        fflush(stdout);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    size_t got =
        s_read_by(fds[0], res, sizeof *res, wf_bench_now_ns() + (int64_t)timeout_s * 1000000000);
    if (got != sizeof *res)
        kill(pid, SIGKILL); /* over --timeout; or already dead, and this changes nothing */
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != sizeof *res) {
        memset(res, 0, sizeof *res);
        if (WIFSIGNALED(status))
            snprintf(res->why, sizeof res->why, "the measuring process died of signal %d%s",
                     WTERMSIG(status),
                     WTERMSIG(status) == SIGKILL ? " (over --timeout, or out of memory)" : "");
        else
            snprintf(res->why, sizeof res->why, "the measuring process exited %d",
                     WEXITSTATUS(status));
    }
}

static void
s_fail(s_res_t *res, const char *what, int rc, const char *detail)
{
    res->ok = 0;
    snprintf(res->why, sizeof res->why, "%s: %s%s%s", what, weft_strerror(rc),
             detail && *detail ? ": " : "", detail ? detail : "");
}

static weft_engine_t *
s_open(const char *dir, s_res_t *res)
{
    weft_engine_t *eng = NULL;
    char err[512] = "";
    int rc = weft_engine_open(&eng, dir, NULL, err, sizeof err);
    if (rc != WEFT_OK)
        s_fail(res, "engine open", rc, err);
    return eng;
}

/* The RSS the engine keeps for a request once the builder is gone: free what malloc can give
 * back first, so it is not counted. */
static long
s_held_kb(void)
{
    malloc_trim(0);
    return wf_bench_rss_kb();
}

/* ---- api ---- */

typedef struct s_job {
    const char *dir; /* state directory */
    wf_bench_shape shape;
    uint32_t n;
    const char *yaml; /* yaml: the file */
    uint64_t id;      /* recovery: the request */
    long threads;
    int pipe_fd; /* recovery: where the crashing child writes the request id */
} s_job_t;

static void
s_child_api(void *arg, s_res_t *res)
{
    s_job_t *j = arg;
    weft_engine_t *eng = s_open(j->dir, res);
    if (!eng)
        return;
    res->base_kb = wf_bench_rss_kb();
    int64_t t0 = wf_bench_now_ns();
    weft_request_t *req = wf_bench_request(j->shape, j->n, S_TYPE);
    int64_t t1 = wf_bench_now_ns();
    weft_reqid_t id = 0;
    int rc = weft_request_submit(eng, req, &id);
    int64_t t2 = wf_bench_now_ns();
    if (rc != WEFT_OK) {
        s_fail(res, "submit", rc, weft_request_errmsg(req));
    } else {
        res->ok = 1;
        res->njobs = j->n;
        res->build_s = (double)(t1 - t0) / 1e9;
        res->submit_s = (double)(t2 - t1) / 1e9;
        res->peak_kb = wf_bench_peak_rss_kb();
    }
    weft_request_destroy(&req);
    res->held_kb = s_held_kb();
    weft_engine_close(&eng);
}

/* ---- yaml ---- */

typedef struct s_edges {
    char (*ids)[24];
    uint32_t *off; /* CSR: needs of job i are par[off[i] .. off[i + 1]) */
    uint32_t *par;
    uint32_t *fill;
    bool counting;
} s_edges_t;

static int
s_e_job(uint32_t idx, const char *id, void *arg)
{
    s_edges_t *e = arg;
    if (!e->counting)
        snprintf(e->ids[idx], sizeof e->ids[idx], "%s", id);
    return 0;
}

static int
s_e_need(uint32_t c, const char *child, uint32_t p, const char *parent, void *arg)
{
    (void)child;
    (void)parent;
    s_edges_t *e = arg;
    if (e->counting)
        e->off[c + 1]++;
    else
        e->par[e->off[c] + e->fill[c]++] = p;
    return 0;
}

/* Write the graph as a workflow file: one flow mapping per job, `defaults` giving the type. */
static void
s_child_write_yaml(void *arg, s_res_t *res)
{
    s_job_t *j = arg;
    s_edges_t e = {NULL, NULL, NULL, NULL, true};
    e.ids = calloc(j->n, sizeof *e.ids);
    e.off = calloc((size_t)j->n + 1, sizeof *e.off);
    e.fill = calloc(j->n, sizeof *e.fill);
    if (!e.ids || !e.off || !e.fill)
        abort();
    wf_bench_graph(j->shape, j->n, s_e_job, s_e_need, &e);
    for (uint32_t i = 0; i < j->n; i++)
        e.off[i + 1] += e.off[i];
    e.par = calloc(e.off[j->n] ? e.off[j->n] : 1, sizeof *e.par);
    if (!e.par)
        abort();
    e.counting = false;
    wf_bench_graph(j->shape, j->n, s_e_job, s_e_need, &e);
    FILE *f = fopen(j->yaml, "w");
    if (!f) {
        snprintf(res->why, sizeof res->why, "%s: %s", j->yaml, strerror(errno));
        goto out;
    }
    fprintf(f, "name: bench-%s-%u\ndefaults: {type: %s}\njobs:\n", wf_bench_shape_name(j->shape),
            j->n, S_TYPE);
    for (uint32_t i = 0; i < j->n; i++) {
        uint32_t a = e.off[i], b = e.off[i + 1];
        if (a == b) {
            fprintf(f, "  %s: {}\n", e.ids[i]);
            continue;
        }
        fprintf(f, "  %s: {needs: [", e.ids[i]);
        for (uint32_t k = a; k < b; k++)
            fprintf(f, "%s%s", k > a ? ", " : "", e.ids[e.par[k]]);
        fputs("]}\n", f);
    }
    res->ok = fclose(f) == 0;
    struct stat st;
    res->file_bytes = stat(j->yaml, &st) == 0 ? (long)st.st_size : 0;
    if (!res->ok)
        snprintf(res->why, sizeof res->why, "cannot write %s", j->yaml);
out:
    free(e.ids);
    free(e.off);
    free(e.par);
    free(e.fill);
}

static void
s_child_yaml(void *arg, s_res_t *res)
{
    s_job_t *j = arg;
    weft_engine_t *eng = s_open(j->dir, res);
    if (!eng)
        return;
    res->base_kb = wf_bench_rss_kb();
    wf_workflow_t *wf = NULL;
    wf_diags_t diags = {0};
    int64_t t0 = wf_bench_now_ns();
    int nerr = wf_workflow_load(j->yaml, NULL, 0, &wf, &diags);
    int64_t t1 = wf_bench_now_ns();
    if (nerr) {
        res->ok = 0;
        const char *msg = "";
        for (size_t i = 0; i < diags.n; i++)
            if (diags.v[i].level == WF_DIAG_ERROR) {
                msg = diags.v[i].message;
                break;
            }
        snprintf(res->why, sizeof res->why, "the loader refused it: %s", msg);
        wf_diags_fini(&diags);
        weft_engine_close(&eng);
        return;
    }
    wf_diags_fini(&diags);
    weft_request_t *req = NULL;
    int rc = wf_workflow_to_request(wf, &req);
    uint32_t njobs = (uint32_t)wf->njobs;
    wf_workflow_free(&wf);
    int64_t t2 = wf_bench_now_ns();
    weft_reqid_t id = 0;
    if (rc == WEFT_OK)
        rc = weft_request_submit(eng, req, &id);
    int64_t t3 = wf_bench_now_ns();
    if (rc != WEFT_OK) {
        s_fail(res, "to request / submit", rc, req ? weft_request_errmsg(req) : "");
    } else {
        res->ok = 1;
        res->njobs = njobs;
        res->load_s = (double)(t1 - t0) / 1e9;
        res->convert_s = (double)(t2 - t1) / 1e9;
        res->submit_s = (double)(t3 - t2) / 1e9;
        res->peak_kb = wf_bench_peak_rss_kb();
    }
    weft_request_destroy(&req);
    res->held_kb = s_held_kb();
    weft_engine_close(&eng);
}

/* ---- recovery ---- */

static atomic_long s_ran;
static long s_kill_after;

static int
s_crashing_noop(weft_job_t *job, void *arg)
{
    (void)job;
    (void)arg;
    /* Mid-run, from a consumer thread, as a crash would: nothing gets to clean up. */
    if (atomic_fetch_add(&s_ran, 1) + 1 >= s_kill_after)
        kill(getpid(), SIGKILL);
    return 0;
}

/* Runs in its own process and never returns: it is SIGKILLed part way through the request. */
static void
s_crash_run(s_job_t *j)
{
    weft_engine_t *eng = NULL;
    char err[512] = "";
    weft_options_t *o = NULL;
    weft_options_new(&o);
    /* Only to get there sooner (without it each job waits for a commit's round trip); it also
     * leaves more jobs handed out at the crash, for the reopening engine to re-queue. */
    weft_options_set_int(o, WEFT_OPT_PREFETCH, 256);
    int rc = weft_engine_open(&eng, j->dir, o, err, sizeof err);
    weft_options_destroy(&o);
    if (rc != WEFT_OK)
        wf_bench_die("engine open: %s: %s", weft_strerror(rc), err);
    s_kill_after = j->n / 3 > 0 ? j->n / 3 : 1;
    weft_request_t *req = wf_bench_request(j->shape, j->n, S_TYPE);
    weft_reqid_t id = 0;
    rc = weft_request_submit(eng, req, &id);
    if (rc != WEFT_OK)
        wf_bench_die("submit: %s: %s", weft_strerror(rc), weft_request_errmsg(req));
    weft_request_destroy(&req);
    uint64_t id64 = id;
    if (write(j->pipe_fd, &id64, sizeof id64) != (ssize_t)sizeof id64)
        _exit(1);
    rc = weft_engine_register(eng, S_TYPE, s_crashing_noop, NULL);
    if (rc == WEFT_OK)
        rc = weft_engine_start_consumers(eng, (unsigned)j->threads);
    if (rc != WEFT_OK)
        wf_bench_die("consumers: %s", weft_strerror(rc));
    weft_req_state st;
    weft_request_wait(eng, id, -1, &st);
    wf_bench_die("the request finished before the crash");
}

/* Start the crashing child; returns the id of its request once it is dead. */
static bool
s_crash(s_job_t *j, long timeout_s, char *why, size_t why_len)
{
    int fds[2];
    if (pipe(fds) != 0)
        wf_bench_die("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        wf_bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        j->pipe_fd = fds[1];
        s_crash_run(j);
        _exit(1);
    }
    close(fds[1]);
    /* One deadline for the whole run to crash: the wait for its request id and the wait for
     * its death share it, so that this never takes longer than --timeout. */
    int64_t end = wf_bench_now_ns() + (int64_t)timeout_s * 1000000000;
    uint64_t id = 0;
    bool got = s_read_by(fds[0], &id, sizeof id, end) == sizeof id;
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (wf_bench_now_ns() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            snprintf(why, why_len, "the run to crash took over --timeout");
            return false;
        }
        usleep(5000);
    }
    if (!got || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
        snprintf(why, why_len, "the run to crash did not end by SIGKILL (status 0x%x)", status);
        return false;
    }
    j->id = id;
    return true;
}

static void
s_child_recover(void *arg, s_res_t *res)
{
    s_job_t *j = arg;
    res->base_kb = wf_bench_rss_kb();
    int64_t t0 = wf_bench_now_ns();
    weft_engine_t *eng = s_open(j->dir, res);
    if (!eng)
        return;
    int64_t t1 = wf_bench_now_ns();
    /* A round trip through the engine's thread: served only after its first turn, which
     * commits the re-queued jobs (see the top of this file). */
    int rc = weft_engine_resume(eng);
    int64_t t2 = wf_bench_now_ns();
    weft_request_info_t info;
    if (rc == WEFT_OK)
        rc = weft_request_status(eng, j->id, &info);
    int64_t t3 = wf_bench_now_ns();
    if (rc != WEFT_OK) {
        s_fail(res, "after reopening", rc, "");
        weft_engine_close(&eng);
        return;
    }
    res->peak_kb = wf_bench_peak_rss_kb();
    weft_engine_close(&eng);
    int64_t t4 = wf_bench_now_ns();
    res->ok = 1;
    res->njobs = info.njobs;
    memcpy(res->count, info.count, sizeof res->count);
    res->open_s = (double)(t1 - t0) / 1e9;
    res->first_turn_s = (double)(t2 - t1) / 1e9;
    res->status_s = (double)(t3 - t2) / 1e9;
    res->close_s = (double)(t4 - t3) / 1e9;
}

/* ---- driver ---- */

static double
s_per_job_b(const s_res_t *r)
{
    return r->njobs ? (double)(r->peak_kb - r->base_kb) * 1024.0 / r->njobs : 0;
}

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: weft-bench-scale [OPTIONS]\n"
                 "\n"
                 "  --sizes LIST     graph sizes (default 10000,100000,1000000); the targets are\n"
                 "                   judged on the largest, in whatever order they are given\n"
                 "  --shapes LIST    lattice, wide, chain (default lattice,wide)\n"
                 "  --only LIST      api, yaml, recovery (default all three)\n"
                 "  --threads T      local consumers of the run that is crashed (default 2)\n"
                 "  --timeout SECS   give up on one measurement after this long (default 600)\n"
                 "  -h, --help\n"
                 "\n"
                 "State directories and workflow files go under $WEFT_BENCH_DIR, else $TMPDIR,\n"
                 "else /tmp.  WEFT_BENCH_MODE=quick: sizes 10000,100000.\n");
}

static void
s_parse(int argc, char **argv, s_args_t *a)
{
    enum { O_SIZES = 256, O_SHAPES, O_ONLY, O_THREADS, O_TIMEOUT };
    static const struct option longopts[] = {
        {"sizes", required_argument, NULL, O_SIZES},
        {"shapes", required_argument, NULL, O_SHAPES},
        {"only", required_argument, NULL, O_ONLY},
        {"threads", required_argument, NULL, O_THREADS},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->nsizes = wf_bench_default_sizes(a->sizes);
    a->shapes[0] = WF_BENCH_LATTICE;
    a->shapes[1] = WF_BENCH_WIDE;
    a->nshapes = 2;
    a->api = a->yaml = a->recovery = true;
    a->threads = 2;
    a->timeout_s = 600;
    int c;
    char buf[256];
    while ((c = wf_bench_getopt(argc, argv, longopts, s_usage)) != -1) {
        switch (c) {
        case O_SIZES:
            a->nsizes = wf_bench_parse_counts(optarg, a->sizes, S_MAX_SIZES, 2, 2000000);
            if (!a->nsizes)
                wf_bench_die("--sizes wants counts from 2 to 2000000, got '%s'", optarg);
            break;
        case O_SHAPES:
        case O_ONLY:
            snprintf(buf, sizeof buf, "%s", optarg);
            if (c == O_SHAPES)
                a->nshapes = 0;
            else
                a->api = a->yaml = a->recovery = false;
            for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
                 t = strtok_r(NULL, ",", &save)) {
                if (c == O_SHAPES) {
                    if (a->nshapes >= 3 || !wf_bench_shape_parse(t, &a->shapes[a->nshapes]))
                        wf_bench_die("--shapes wants lattice, wide or chain, got '%s'", t);
                    a->nshapes++;
                } else if (strcmp(t, "api") == 0) {
                    a->api = true;
                } else if (strcmp(t, "yaml") == 0) {
                    a->yaml = true;
                } else if (strcmp(t, "recovery") == 0) {
                    a->recovery = true;
                } else {
                    wf_bench_die("--only wants api, yaml or recovery, got '%s'", t);
                }
            }
            break;
        case O_THREADS:
        case O_TIMEOUT:
            *(c == O_THREADS ? &a->threads : &a->timeout_s) = wf_bench_count_arg(optarg, 1, 100000);
            break;
        }
    }
    if (!a->nshapes) {
        s_usage(stderr);
        exit(2);
    }
}

/* Figures of the largest size of each shape, for the targets. */
typedef struct s_best {
    long n;
    bool api_run, yaml_run, rec_run;
    s_res_t api, yaml, rec;
} s_best_t;

static void
s_measure(const s_args_t *a, wf_bench_shape shape, long n, s_best_t *best)
{
    const char *sh = wf_bench_shape_name(shape);
    char *tmp = wf_bench_tmpdir("scale");
    char dir[1024], yaml[1024];
    s_job_t j = {0};
    j.shape = shape;
    j.n = (uint32_t)n;
    j.threads = a->threads;
    j.dir = dir;
    j.yaml = yaml;
    snprintf(yaml, sizeof yaml, "%s/graph.yml", tmp);
    s_res_t r;
    /* The targets are judged on the largest size measured, whatever the order of --sizes (on
     * a tie, the later run). */
    bool largest = n >= best->n;
    if (largest)
        best->n = n;

    if (a->api) {
        snprintf(dir, sizeof dir, "%s/api", tmp);
        s_in_child(s_child_api, &j, a->timeout_s, &r);
        if (r.ok)
            printf("api:      %-7s %7ld jobs: build %.2f s + submit %.2f s = %.2f s;  peak RSS "
                   "+%.1f MiB = %.0f B/job;  held after the builder is freed +%.1f MiB = %.0f "
                   "B/job\n",
                   sh, n, r.build_s, r.submit_s, r.build_s + r.submit_s,
                   (r.peak_kb - r.base_kb) / 1024.0, s_per_job_b(&r),
                   (r.held_kb - r.base_kb) / 1024.0,
                   (double)(r.held_kb - r.base_kb) * 1024.0 / (double)n);
        else
            printf("api:      %-7s %7ld jobs: FAILED: %s\n", sh, n, r.why);
        if (largest) {
            best->api = r;
            best->api_run = true;
        }
        fflush(stdout);
    }

    if (a->yaml) {
        snprintf(dir, sizeof dir, "%s/yaml", tmp);
        s_res_t w;
        s_in_child(s_child_write_yaml, &j, a->timeout_s, &w);
        if (!w.ok) {
            printf("yaml:     %-7s %7ld jobs: FAILED to write the file: %s\n", sh, n, w.why);
            r = w;
        } else {
            s_in_child(s_child_yaml, &j, a->timeout_s, &r);
            r.file_bytes = w.file_bytes;
            if (r.ok)
                printf("yaml:     %-7s %7ld jobs: load %.2f s + to request %.2f s + submit %.2f "
                       "s = %.2f s;  peak RSS +%.1f MiB = %.0f B/job;  file %.1f MiB\n",
                       sh, n, r.load_s, r.convert_s, r.submit_s,
                       r.load_s + r.convert_s + r.submit_s, (r.peak_kb - r.base_kb) / 1024.0,
                       s_per_job_b(&r), w.file_bytes / 1048576.0);
            else
                printf("yaml:     %-7s %7ld jobs: FAILED (file %.1f MiB): %s\n", sh, n,
                       w.file_bytes / 1048576.0, r.why);
        }
        if (largest) {
            best->yaml = r;
            best->yaml_run = true;
        }
        fflush(stdout);
    }

    if (a->recovery) {
        snprintf(dir, sizeof dir, "%s/recovery", tmp);
        char why[256];
        if (!s_crash(&j, a->timeout_s, why, sizeof why)) {
            memset(&r, 0, sizeof r);
            snprintf(r.why, sizeof r.why, "%s", why);
        } else {
            s_in_child(s_child_recover, &j, a->timeout_s, &r);
        }
        if (r.ok) {
            uint32_t *c = r.count;
            printf("recovery: %-7s %7ld jobs: open %.3f s + first turn %.3f s = %.3f s;  status "
                   "%.3f s, close %.3f s;  peak RSS +%.1f MiB;  found %u done, %u ready, %u "
                   "running, %u pending\n",
                   sh, n, r.open_s, r.first_turn_s, r.open_s + r.first_turn_s, r.status_s,
                   r.close_s, (r.peak_kb - r.base_kb) / 1024.0, c[WEFT_JOB_DONE], c[WEFT_JOB_READY],
                   c[WEFT_JOB_RUNNING], c[WEFT_JOB_PENDING]);
        } else {
            printf("recovery: %-7s %7ld jobs: FAILED: %s\n", sh, n, r.why);
        }
        if (largest) {
            best->rec = r;
            best->rec_run = true;
        }
        fflush(stdout);
    }
    wf_bench_rmtree(tmp);
    free(tmp);
}

int
main(int argc, char **argv)
{
    s_args_t a;
    s_parse(argc, argv, &a);
    wf_bench_print_header("weft-bench-scale: submitting, holding and recovering big requests");

    s_best_t best[3];
    memset(best, 0, sizeof best);
    for (size_t s = 0; s < a.nshapes; s++)
        for (size_t i = 0; i < a.nsizes; i++)
            s_measure(&a, a.shapes[s], a.sizes[i], &best[s]);

    printf("targets (largest size of each shape):\n");
    for (size_t s = 0; s < a.nshapes; s++) {
        const char *sh = wf_bench_shape_name(a.shapes[s]);
        s_best_t *b = &best[s];
        if (b->api_run) {
            double t = b->api.build_s + b->api.submit_s;
            if (b->api.ok) {
                printf("  %s %ld, api: submitted <= 5 s: %.2f s  %s\n", sh, b->n, t,
                       wf_bench_verdict(t <= 5.0));
                printf("  %s %ld, api: <= 1 KB RSS per job: %.0f B  %s\n", sh, b->n,
                       s_per_job_b(&b->api), wf_bench_verdict(s_per_job_b(&b->api) <= 1024));
            } else {
                printf("  %s %ld, api: submitted <= 5 s: failed  MISS\n", sh, b->n);
            }
        }
        if (b->yaml_run) {
            double t = b->yaml.load_s + b->yaml.convert_s + b->yaml.submit_s;
            if (b->yaml.ok) {
                printf("  %s %ld, yaml: submitted <= 5 s: %.2f s  %s\n", sh, b->n, t,
                       wf_bench_verdict(t <= 5.0));
                printf("  %s %ld, yaml: <= 1 KB RSS per job: %.0f B  %s\n", sh, b->n,
                       s_per_job_b(&b->yaml), wf_bench_verdict(s_per_job_b(&b->yaml) <= 1024));
            } else
                printf("  %s %ld, yaml: submitted <= 5 s: failed (%s)  MISS\n", sh, b->n,
                       b->yaml.why);
        }
        if (b->rec_run) {
            double t = b->rec.open_s + b->rec.first_turn_s;
            if (b->rec.ok)
                printf("  %s %ld: recovery <= 2 s: %.2f s  %s\n", sh, b->n, t,
                       wf_bench_verdict(t <= 2.0));
            else
                printf("  %s %ld: recovery <= 2 s: failed  MISS\n", sh, b->n);
        }
    }
    return 0;
}
