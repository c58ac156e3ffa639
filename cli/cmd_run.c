/*
 * cmd_run.c -- `weft run FILE`: the embedded default.  One process holds the engine and N local
 * shell slots; state lives in .weft/ beside the file.
 *
 * Which request a run continues (the file's runs share one session, "file:<name>"):
 *   no earlier run, or --restart               -> a new request
 *   the newest is unfinished (interrupted)     -> resume it: done jobs never run again
 *   the newest failed or was cancelled         -> rescue it: re-run its failed and cancelled jobs
 *   the newest succeeded                       -> a new request (a fresh run)
 * If the file or its params changed since an unfinished or failed run, the changed jobs are
 * listed and the run needs --resume-changed (a new request in which every job that was done, is
 * unchanged and has no changed or unfinished ancestor is carried over as done) or --restart.
 *
 * Ctrl-C (SIGINT) or SIGTERM: stop handing out jobs, stop the running ones (their whole process
 * groups), leave everything durable, exit 130.  Running the same command again resumes.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "proto.h"
#include "shell.h"
#include "spawner.h"
#include "workflow.h"

static volatile sig_atomic_t s_interrupted;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_interrupted = 1;
}

typedef struct run_opts {
    const char *file;
    const char *state_opt;
    const char **params;
    size_t nparams;
    int jobs;
    int verbosity; /* 0 quiet, 1 normal, 2 verbose */
    int durability;
    bool restart, resume_changed;
} run_opts_t;

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_help(void)
{
    printf("usage: weft run [OPTIONS] FILE\n"
           "\n"
           "Run the workflow FILE here: an engine and N local shell slots in this process, state\n"
           "in .weft/ beside the file.  Running the same command again resumes an unfinished run,\n"
           "or re-runs only the failed and cancelled jobs of a failed one.\n"
           "\n"
           "  -j, --jobs N            run at most N jobs at once (default: cores + 2, but 3 on 2\n"
           "                          cores and 2 on 1, as ninja)\n"
           "  -p, --param NAME=VALUE  give a param a value (repeatable)\n"
           "      --state DIR         keep state in DIR instead of .weft/ beside FILE\n"
           "      --restart           start over: a new run, whatever happened before\n"
           "      --resume-changed    after the file changed: run the changed jobs and their\n"
           "                          dependents again, carry the rest over\n"
           "      --durability LEVEL  full (default): every state change is on disk before\n"
           "                          weft acts on it, and survives a power loss; process:\n"
           "                          no fsync, survives weft crashing but not the OS\n"
           "  -q, --quiet             print only errors and the outcome\n"
           "  -v, --verbose           print every state change, with reasons\n"
           "  -h, --help              this text\n"
           "\n"
           "exit status: 0 all jobs succeeded (skipped is fine), 1 a job failed or was\n"
           "cancelled, 2 invalid file or arguments, 130 interrupted\n");
}

/* Cores + 2 (2 on one core, 3 on two), as ninja does: while a slot is between two jobs (its
 * last one exited, the next not yet started) a core would otherwise sit idle.  Measured on 2
 * cores, wide 4,000: weft -j 3 is 10-15% faster than -j 2 (docs/decisions/0009). */
static int
s_default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 1)
        return 2;
    if (n == 2)
        return 3;
    return n + 2 > (long)WF_MAX_SLOTS ? (int)WF_MAX_SLOTS : (int)n + 2;
}

static int
s_parse(int argc, char **argv, run_opts_t *o)
{
    static const struct option longopts[] = {
        {"jobs", required_argument, NULL, 'j'},
        {"param", required_argument, NULL, 'p'},
        {"state", required_argument, NULL, 's'},
        {"restart", no_argument, NULL, 'R'},
        {"resume-changed", no_argument, NULL, 'C'},
        {"durability", required_argument, NULL, 'D'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->params = calloc((size_t)argc + 1, sizeof *o->params);
    o->verbosity = 1;
    o->jobs = s_default_jobs();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "j:p:qvh", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': {
            char *end = NULL;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || !end || *end || v < 1 || v > 4096) {
                fprintf(stderr, "weft run: -j wants a number from 1 to 4096, got '%s'\n", optarg);
                return WF_EXIT_USAGE;
            }
            o->jobs = (int)v;
            break;
        }
        case 'p':
            if (!wf_cli_param_ok(optarg))
                return WF_EXIT_USAGE;
            o->params[o->nparams++] = optarg;
            break;
        case 's':
            o->state_opt = optarg;
            break;
        case 'R':
            o->restart = true;
            break;
        case 'C':
            o->resume_changed = true;
            break;
        case 'D':
            if (!wf_cli_durability_ok("run", optarg, &o->durability))
                return WF_EXIT_USAGE;
            break;
        case 'q':
            o->verbosity = 0;
            break;
        case 'v':
            o->verbosity = 2;
            break;
        case 'h':
            s_help();
            return -1;
        default:
            return WF_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: weft run [OPTIONS] FILE  (weft run --help)\n");
        return WF_EXIT_USAGE;
    }
    if (o->restart && o->resume_changed) {
        fprintf(stderr, "weft run: --restart and --resume-changed exclude each other\n");
        return WF_EXIT_USAGE;
    }
    o->file = argv[optind];
    return WF_EXIT_OK;
}

/* ---- comparing with the previous run ---- */

typedef struct name_idx {
    const char *name;
    size_t idx;
} name_idx_t;

static int
s_name_cmp(const void *a, const void *b)
{
    return strcmp(((const name_idx_t *)a)->name, ((const name_idx_t *)b)->name);
}

static size_t
s_lookup(const name_idx_t *sorted, size_t n, const char *name)
{
    name_idx_t key = {name, 0};
    const name_idx_t *hit = bsearch(&key, sorted, n, sizeof key, s_name_cmp);
    return hit ? hit->idx : (size_t)-1;
}

typedef struct diff {
    bool *changed;     /* per new job: definition differs or job is new */
    int *old_state;    /* per new job: its state in the previous run, -1 when absent */
    size_t nchanged;
    size_t nremoved;
} diff_t;

static void
s_diff(weft_engine_t *eng, weft_reqid_t prev, const wf_workflow_t *wf, weft_request_t *req, diff_t *d)
{
    d->changed = calloc(wf->njobs ? wf->njobs : 1, sizeof *d->changed);
    d->old_state = calloc(wf->njobs ? wf->njobs : 1, sizeof *d->old_state);
    for (size_t i = 0; i < wf->njobs; i++) {
        weft_job_info_t info;
        uint64_t fp = 0;
        d->old_state[i] = -1;
        if (weft_job_status(eng, prev, wf->jobs[i].id, &info) != WEFT_OK) {
            d->changed[i] = true;
        } else {
            d->old_state[i] = info.state;
            if (weft_request_job_fingerprint(req, wf->jobs[i].id, &fp) != WEFT_OK ||
                fp != info.fingerprint || info.index != i)
                d->changed[i] = true;
        }
        d->nchanged += d->changed[i];
    }
    weft_request_info_t ri;
    if (weft_request_status(eng, prev, &ri) == WEFT_OK && ri.njobs > wf->njobs - d->nchanged)
        d->nremoved = ri.njobs - (wf->njobs - d->nchanged); /* at most: jobs not matched */
    if (weft_request_status(eng, prev, &ri) == WEFT_OK && ri.njobs != wf->njobs && d->nchanged == 0)
        d->nchanged = 1; /* jobs were removed: the run differs even if every kept job is equal */
}

/* Carry over every job that was done, is unchanged and whose ancestors are all carried. */
static void
s_mark_carried(const wf_workflow_t *wf, weft_request_t *req, const diff_t *d)
{
    size_t n = wf->njobs;
    name_idx_t *sorted = malloc(sizeof *sorted * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        sorted[i] = (name_idx_t){wf->jobs[i].id, i};
    qsort(sorted, n, sizeof *sorted, s_name_cmp);
    /* Kahn's order over needs, so a job is decided after its parents. */
    size_t *indeg = calloc(n ? n : 1, sizeof *indeg);
    size_t *queue = malloc(sizeof *queue * (n ? n : 1));
    bool *carried = calloc(n ? n : 1, sizeof *carried);
    /* children lists as CSR */
    size_t *nkids = calloc(n + 1, sizeof *nkids);
    for (size_t i = 0; i < n; i++) {
        indeg[i] = wf->jobs[i].nneeds;
        for (size_t k = 0; k < wf->jobs[i].nneeds; k++) {
            size_t p = s_lookup(sorted, n, wf->jobs[i].needs[k]);
            if (p != (size_t)-1)
                nkids[p + 1]++;
        }
    }
    for (size_t i = 0; i < n; i++)
        nkids[i + 1] += nkids[i];
    size_t *kids = malloc(sizeof *kids * (nkids[n] ? nkids[n] : 1));
    size_t *fill = calloc(n ? n : 1, sizeof *fill);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < wf->jobs[i].nneeds; k++) {
            size_t p = s_lookup(sorted, n, wf->jobs[i].needs[k]);
            if (p != (size_t)-1)
                kids[nkids[p] + fill[p]++] = i;
        }
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++)
        if (indeg[i] == 0)
            queue[tail++] = i;
    while (head < tail) {
        size_t i = queue[head++];
        bool ok = !d->changed[i] && d->old_state[i] == WEFT_JOB_DONE;
        for (size_t k = 0; ok && k < wf->jobs[i].nneeds; k++) {
            size_t p = s_lookup(sorted, n, wf->jobs[i].needs[k]);
            ok = p != (size_t)-1 && carried[p];
        }
        carried[i] = ok;
        if (ok)
            weft_request_job_set(req, wf->jobs[i].id, WEFT_JOBOPT_DONE, 1);
        for (size_t k = nkids[i]; k < nkids[i + 1]; k++)
            if (--indeg[kids[k]] == 0)
                queue[tail++] = kids[k];
    }
    free(sorted);
    free(indeg);
    free(queue);
    free(carried);
    free(nkids);
    free(kids);
    free(fill);
}

/* ---- following a run ---- */

typedef struct follow {
    weft_engine_t *eng;
    weft_reqid_t id;
    uint32_t njobs;
    uint8_t *state;
    uint32_t count[WEFT_JOB_STATE_COUNT_];
    int verbosity;
    bool tty;
    bool line_shown;
    int64_t t0;
    const char *logs;
} follow_t;

static void
s_clear_line(follow_t *f)
{
    if (f->tty && f->line_shown) {
        fputs("\r\033[K", stdout);
        f->line_shown = false;
    }
}

static void
s_status_line(follow_t *f)
{
    if (!f->tty || f->verbosity == 0)
        return;
    struct winsize ws;
    int width = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 80;
    char line[1024], dur[32];
    if (width > (int)sizeof line)
        width = (int)sizeof line; /* line[width - 1] below must be in the line */
    int n = snprintf(line, sizeof line, "[%s] %u/%u done  %u running  %u failed  %u pending",
                     wf_cli_duration(dur, sizeof dur, s_now_ms() - f->t0),
                     f->count[WEFT_JOB_DONE] + f->count[WEFT_JOB_SKIPPED], f->njobs,
                     f->count[WEFT_JOB_RUNNING],
                     f->count[WEFT_JOB_FAILED] + f->count[WEFT_JOB_CANCELLED],
                     f->count[WEFT_JOB_PENDING] + f->count[WEFT_JOB_READY]);
    if (f->count[WEFT_JOB_RUNNING] && n > 0 && (size_t)n < sizeof line) {
        n += snprintf(line + n, sizeof line - (size_t)n, "  |");
        /* Names are read, not kept for every job: one read per running job shown, and the
         * scan stops at the last running job or once the line is as wide as the terminal. */
        uint32_t left = f->count[WEFT_JOB_RUNNING];
        for (uint32_t i = 0; i < f->njobs && left > 0 && n < width - 1; i++) {
            if (f->state[i] != WEFT_JOB_RUNNING)
                continue;
            left--;
            weft_job_info_t info;
            if (weft_job_status_stored_at(f->eng, f->id, i, &info) == WEFT_OK)
                n += snprintf(line + n, sizeof line - (size_t)n, " %s", info.id);
        }
    }
    if (n > width - 1)
        line[width - 1] = 0;
    fputs("\r\033[K", stdout);
    fputs(line, stdout);
    fflush(stdout);
    f->line_shown = true;
}

static void
s_print_change(follow_t *f, const weft_event_t *e)
{
    if (f->verbosity == 0 || (f->tty && f->verbosity < 2))
        return;
    if (e->state == WEFT_JOB_READY && f->verbosity < 2)
        return;
    char when[16];
    time_t t = (time_t)(e->time_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%H:%M:%S", &tm);
    s_clear_line(f);
    printf("%s %s: %s", when, e->job, weft_job_state_name(e->state));
    if (e->state == WEFT_JOB_RUNNING)
        printf(" (attempt %u)", e->attempt);
    if (e->state == WEFT_JOB_FAILED || (f->verbosity >= 2 && e->reason != WEFT_REASON_NONE))
        printf(" (%s)", weft_reason_name(e->reason));
    printf("\n");
    fflush(stdout);
}

static void
s_sync_counts(follow_t *f)
{
    memset(f->count, 0, sizeof f->count);
    /* States only: the stored read, not one round trip to the engine per READY job. */
    for (uint32_t i = 0; i < f->njobs; i++) {
        weft_job_info_t info;
        if (weft_job_status_stored_at(f->eng, f->id, i, &info) == WEFT_OK) {
            f->state[i] = (uint8_t)info.state;
        }
        f->count[f->state[i]]++;
    }
}

/* Follow the request until it finishes (returns its state) or an interrupt (-1). */
static int
s_follow(follow_t *f, weft_events_t *ev)
{
    s_sync_counts(f);
    int64_t last_check = 0;
    for (;;) {
        if (s_interrupted)
            return -1;
        weft_event_t e;
        int rc = weft_events_next(ev, &e, 100);
        if (rc == WEFT_OK && e.request == f->id) {
            if (e.job_index == UINT32_MAX) {
                return e.state;
            } else if (e.job_index < f->njobs && e.state != f->state[e.job_index]) {
                f->count[f->state[e.job_index]]--;
                f->state[e.job_index] = (uint8_t)e.state;
                f->count[e.state]++;
                s_print_change(f, &e);
            }
        }
        int64_t now = s_now_ms();
        if (now - last_check >= 500) {
            /* Events can be missed (a subscription is asynchronous): ask the engine too. */
            last_check = now;
            weft_req_state st;
            if (weft_request_wait(f->eng, f->id, 0, &st) == WEFT_OK && st != WEFT_REQ_RUNNING)
                return st;
            s_status_line(f);
        }
        if (rc != WEFT_OK && rc != WEFT_ETIMEDOUT && !s_interrupted)
            return -2;
    }
}

static void
s_summary(follow_t *f, const char *name, int state, int64_t wall_ms)
{
    s_clear_line(f);
    /* The counts alone come from one scan of the request (weft_request_status); the per-job
     * reads of s_sync_counts are needed only to find the failed jobs listed below. */
    weft_request_info_t ri;
    bool none_failed = weft_request_status(f->eng, f->id, &ri) == WEFT_OK && ri.njobs == f->njobs &&
                       ri.count[WEFT_JOB_FAILED] == 0;
    if (none_failed)
        memcpy(f->count, ri.count, sizeof f->count);
    else
        s_sync_counts(f);
    char dur[32];
    wf_cli_duration(dur, sizeof dur, wall_ms);
    printf("weft: %s %s in %s:", name, weft_req_state_name(state), dur);
    bool first = true;
    for (int s = 0; s < WEFT_JOB_STATE_COUNT_; s++) {
        if (!f->count[s])
            continue;
        printf("%s %u %s", first ? "" : ",", f->count[s], weft_job_state_name(s));
        first = false;
    }
    printf("\n");
    for (uint32_t i = 0; !none_failed && i < f->njobs; i++) {
        if (f->state[i] != WEFT_JOB_FAILED)
            continue;
        weft_job_info_t info;
        if (weft_job_status_at(f->eng, f->id, i, &info) != WEFT_OK)
            continue;
        printf("failed: %s: ", info.id);
        if (info.reason == WEFT_REASON_TIMEOUT)
            printf("timed out");
        else if (info.reason == WEFT_REASON_LOST)
            printf("its consumer was lost");
        else if (info.exit_code > 128)
            printf("killed by signal %d", info.exit_code - 128);
        else
            printf("exit status %d", info.exit_code);
        printf(" (attempt %u, retries: %u)\n", info.attempts, info.retries);
        char path[4096];
        wf_shell_log_path(path, sizeof path, f->logs, f->id, info.id, info.attempts, "err");
        if (!wf_cli_print_tail(path, 10, "  | ") && info.error[0])
            printf("  | %s\n", info.error);
    }
    fflush(stdout);
}

/* ---- the verb ---- */

static bool
s_types_ok(const wf_workflow_t *wf)
{
    bool ok = true;
    for (size_t i = 0; i < wf->njobs; i++) {
        if (strcmp(wf->jobs[i].type, "shell") != 0) {
            fprintf(stderr,
                    "%s:%d:%d: error: job '%s' has type '%s', which weft run cannot run here "
                    "(only shell jobs run locally; serve other types with a worker)\n",
                    wf->path, wf->jobs[i].line, wf->jobs[i].col, wf->jobs[i].id, wf->jobs[i].type);
            ok = false;
        }
    }
    return ok;
}

int
weft_cmd_run(int argc, char **argv)
{
    run_opts_t o;
    int rc = s_parse(argc, argv, &o);
    if (rc != WF_EXIT_OK) {
        free(o.params);
        return rc < 0 ? WF_EXIT_OK : rc;
    }
    int exit_code = WF_EXIT_USAGE;
    wf_workflow_t *wf = NULL;
    wf_diags_t diags = {0};
    weft_request_t *req = NULL;
    weft_engine_t *eng = NULL;
    weft_events_t *ev = NULL;
    char *state = NULL, *logs = NULL, *session = NULL, *name = NULL;
    char *filecopy = NULL; /* the file's directory: the slots' base_dir till the engine closes */
    size_t njobs = 0;
    follow_t f = {0};
    diff_t d = {0};

    /* The spawn server is forked before the workflow and the engine grow this process: it
     * shares our pages copy-on-write from its fork (spawner.h). */
    wf_spawner_prestart();
    int errors = wf_workflow_load(o.file, o.params, o.nparams, &wf, &diags);
    wf_diags_print(&diags, stderr);
    if (errors || !s_types_ok(wf))
        goto out;
    if (wf_workflow_to_request(wf, &req) != WEFT_OK) {
        fprintf(stderr, "weft run: cannot build the request for %s\n", o.file);
        goto out;
    }
    session = wf_cli_session_for_file(o.file);
    weft_request_set_session(req, session);

    state = wf_cli_state_for_file(o.file, o.state_opt);
    logs = wf_cli_logs_dir(state);
    weft_options_t *opts = NULL;
    weft_options_new(&opts);
    weft_options_set_int(opts, WEFT_OPT_LOG_LEVEL, o.verbosity >= 2 ? 2 : 1);
    weft_options_set_int(opts, WEFT_OPT_DURABILITY, o.durability);
    char err[512] = "";
    rc = weft_engine_open(&eng, state, opts, err, sizeof err);
    weft_options_destroy(&opts);
    if (rc != WEFT_OK) {
        fprintf(stderr, "weft run: %s\n", err[0] ? err : weft_strerror(rc));
        goto out;
    }
    static wf_shell_opts_t shell;
    shell.log_dir = logs;
    filecopy = strdup(o.file);
    if (!filecopy)
        abort();
    char *slash = strrchr(filecopy, '/');
    if (slash)
        *slash = 0;
    shell.base_dir = slash ? filecopy : ".";

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Subscribe before anything happens, so the first transitions are seen. */
    weft_events_open(eng, 0, &ev);

    weft_reqid_t prev = o.restart ? 0 : wf_cli_latest_request(eng, session);
    weft_reqid_t id = 0;
    const char *what = "run";
    if (o.restart) {
        weft_reqid_t old = wf_cli_latest_request(eng, session);
        if (old)
            weft_request_cancel(eng, old); /* ESTATE if it had finished: fine */
    }
    if (prev) {
        weft_request_info_t pi;
        weft_request_status(eng, prev, &pi);
        if (pi.state == WEFT_REQ_SUCCEEDED) {
            prev = 0; /* a fresh run */
        } else {
            s_diff(eng, prev, wf, req, &d);
            if (d.nchanged && !o.resume_changed) {
                fprintf(stderr, "weft run: %s changed since run %llu (%s):\n", o.file,
                        (unsigned long long)prev, weft_req_state_name(pi.state));
                for (size_t i = 0; i < wf->njobs; i++)
                    if (d.changed[i])
                        fprintf(stderr, "  %s:%d:%d: %s %s\n", wf->path, wf->jobs[i].line,
                                wf->jobs[i].col, wf->jobs[i].id,
                                d.old_state[i] < 0 ? "is new" : "changed");
                if (pi.njobs != wf->njobs)
                    fprintf(stderr, "  the run had %u jobs, the file has %zu\n", pi.njobs,
                            wf->njobs);
                fprintf(stderr, "use --resume-changed to run the changed jobs and their "
                                "dependents again, or --restart to start over\n");
                goto out;
            }
            if (d.nchanged) {
                s_mark_carried(wf, req, &d);
                if (pi.state == WEFT_REQ_RUNNING)
                    weft_request_cancel(eng, prev);
                prev = 0;
                what = "resume-changed";
            } else if (pi.state == WEFT_REQ_RUNNING) {
                id = prev;
                what = "resume";
            } else {
                rc = weft_request_retry(eng, prev);
                if (rc != WEFT_OK) {
                    fprintf(stderr, "weft run: cannot re-run run %llu: %s\n",
                            (unsigned long long)prev, weft_strerror(rc));
                    goto out;
                }
                id = prev;
                what = "rescue";
            }
        }
    }
    /* From here on the run needs only the workflow's name and size.  The workflow is freed
     * before the engine takes its own copy of the request, and the request once submitted:
     * at 10^6 jobs each is hundreds of MB, and the three together set the peak. */
    njobs = wf->njobs;
    name = strdup(wf->name);
    if (!name)
        abort();
    wf_workflow_free(&wf);
    if (!id) {
        rc = weft_request_submit(eng, req, &id);
        if (rc != WEFT_OK) {
            fprintf(stderr, "weft run: %s: %s\n", weft_strerror(rc), weft_request_errmsg(req));
            goto out;
        }
    }
    weft_request_destroy(&req);
    if (o.verbosity > 0) {
        if (strcmp(what, "run") == 0)
            printf("weft: running %s (%zu jobs, run %llu, -j %d)\n", name, njobs,
                   (unsigned long long)id, o.jobs);
        else if (strcmp(what, "resume") == 0)
            printf("weft: resuming run %llu of %s\n", (unsigned long long)id, name);
        else if (strcmp(what, "rescue") == 0)
            printf("weft: re-running the failed and cancelled jobs of run %llu of %s\n",
                   (unsigned long long)id, name);
        else
            printf("weft: running the changed jobs of %s and their dependents (run %llu)\n",
                   name, (unsigned long long)id);
        fflush(stdout);
    }

    rc = wf_cli_start_shell_slots(eng, (unsigned)o.jobs, &shell);
    if (rc != WEFT_OK) {
        fprintf(stderr, "weft run: cannot start %d local slots: %s\n", o.jobs, weft_strerror(rc));
        goto out;
    }
    f.eng = eng;
    f.id = id;
    f.njobs = (uint32_t)njobs;
    f.state = calloc(f.njobs ? f.njobs : 1, 1);
    f.verbosity = o.verbosity;
    f.tty = isatty(STDOUT_FILENO);
    f.t0 = s_now_ms();
    f.logs = logs;
    int final = s_follow(&f, ev);
    if (final == -1) {
        s_clear_line(&f);
        fprintf(stderr, "\nweft: interrupted: stopping %u running job%s\n",
                f.count[WEFT_JOB_RUNNING], f.count[WEFT_JOB_RUNNING] == 1 ? "" : "s");
        weft_events_close(&ev);
        weft_engine_close(&eng); /* stops the slots first: groups killed, jobs requeued */
        fprintf(stderr, "weft: state saved in %s; run the same command again to resume\n", state);
        exit_code = WF_EXIT_INTERRUPTED;
    } else if (final < 0) {
        fprintf(stderr, "weft run: lost the engine's event stream\n");
        exit_code = WF_EXIT_FAILED;
    } else {
        if (o.verbosity > 0 || final != WEFT_REQ_SUCCEEDED)
            s_summary(&f, name, final, s_now_ms() - f.t0);
        exit_code = final == WEFT_REQ_SUCCEEDED ? WF_EXIT_OK : WF_EXIT_FAILED;
    }

out:
    weft_events_close(&ev);
    weft_engine_close(&eng);
    weft_request_destroy(&req);
    wf_workflow_free(&wf);
    wf_diags_fini(&diags);
    free(f.state);
    free(d.changed);
    free(d.old_state);
    free(state);
    free(logs);
    free(session);
    free(name);
    free(filecopy);
    free(o.params);
    return exit_code;
}
