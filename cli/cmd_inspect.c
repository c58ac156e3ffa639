/*
 * cmd_inspect.c -- the verbs of the `weft` command that look and never touch: status, list,
 * logs, why and dot.  docs/cli.md describes their output.
 *
 * Invariants: every verb opens the state directory read-only (wf_cli_open_readonly), so it works
 * while a `weft run` holds the directory and can never change a run; it sees what the running
 * engine has made durable, nothing newer.  Exit statuses: 0 when the question was answered (a
 * failed job is an answer, not an error), 2 for bad usage or something that does not exist (no
 * state directory, request or job).  Text that jobs supply (progress and error messages) is
 * printed with control bytes shown as '?', so a job cannot drive the terminal.
 *
 * `status --server`, `why --server`, `dot --server` and `logs --server` ask a weft server
 * (client.h) instead, with the same output: STATUS_R, WHY_R and GRAPH_R carry what the state
 * directory holds, and a ready job's reason is the board's live one.  What the wire does not
 * carry is said less precisely, never wrongly: a pending job's count of parents (the server
 * names only the unfinished ones).  A server that does not answer within --timeout exits 1.
 *
 * `logs` reads one attempt's two streams a chunk (<= 1 MiB) at a time, from STATE/logs with
 * the shell runner's own reader or from the server's LOGS (which fetches the bytes from the
 * worker that ran the attempt), and prints them with one function either way: the same bytes,
 * "(nothing written)" for a stream that has no file (the runner makes one only when the stream
 * writes), and with -f the same polling until the attempt ends.
 *
 * Workload: one request of up to WF_MAX_JOBS_PER_REQUEST jobs is read job by job (one LMDB read
 * each) or, from a server, a page of WF_CLIENT_MAX_PAGE jobs per call; `status` and `dot` keep a
 * compact row per job (a few short strings), never the whole weft_job_info_t, so two million
 * jobs stay in a few hundred MiB at most.  The DOT text is written by one function whatever the
 * source, so a run drawn from a server and from its state directory print the same bytes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "shell.h"
#include "workflow.h"

/* ---- small helpers (file-static: nothing here is shared with the other verbs) ---- */

static void *
s_alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        abort();
    return p;
}

static char *
s_dup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static char *s_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
s_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0 || !p)
        abort();
    return p;
}

static int64_t
s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Local time "YYYY-MM-DD HH:MM:SS" of a wall-clock ms value; "-" for 0. */
static const char *
s_time(char *buf, size_t cap, int64_t ms)
{
    if (ms <= 0) {
        snprintf(buf, cap, "-");
        return buf;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(buf, cap, "-");
    return buf;
}

/* Copy at most `max` bytes of job-supplied text with control bytes as '?' (newlines too unless
 * keep_nl), adding "..." when cut. */
static void
s_clean(char *dst, size_t cap, const char *src, size_t max, bool keep_nl)
{
    size_t n = 0, len = strlen(src);
    bool cut = len > max;
    if (cut)
        len = max;
    for (size_t i = 0; i < len && n + 4 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[n++] = (c < 0x20 && !(keep_nl && c == '\n')) || c == 0x7f ? '?' : (char)c;
    }
    if (cut && n + 3 < cap) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = 0;
}

static bool
s_is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode);
}

/* True when dir looks like a state directory (checked first so a missing one gets a hint
 * instead of the store's bare message). */
static bool
s_has_state(const char *dir)
{
    char *data = s_printf("%s/data.mdb", dir);
    bool ok = s_is_file(data);
    free(data);
    return ok;
}

/* Open the state directory for a verb; prints why not and returns NULL on failure. */
static weft_engine_t *
s_open(const char *verb, const char *state)
{
    if (!s_has_state(state)) {
        fprintf(stderr,
                "weft %s: no weft state in '%s' (give --state DIR, or run weft in the "
                "directory that holds .weft)\n",
                verb, state);
        return NULL;
    }
    return wf_cli_open_readonly(state);
}

/* The request a verb is about: `arg` (an id) or the newest.  Prints why not and returns 0. */
static weft_reqid_t
s_request(const char *verb, weft_engine_t *eng, const char *state, const char *arg,
          weft_request_info_t *info)
{
    weft_reqid_t id = 0;
    if (arg) {
        if (!wf_cli_parse_reqid(arg, &id)) {
            fprintf(stderr, "weft %s: '%s' is not a request id (like 12 or r12)\n", verb, arg);
            return 0;
        }
    } else {
        id = wf_cli_latest_request(eng, NULL);
        if (!id) {
            fprintf(stderr, "weft %s: no runs in '%s'\n", verb, state);
            return 0;
        }
    }
    if (weft_request_status(eng, id, info) != WEFT_OK) {
        fprintf(stderr, "weft %s: no request %llu in '%s' (weft list shows them)\n", verb,
                (unsigned long long)id, state);
        return 0;
    }
    return id;
}

/* A short reason for a job that ended badly or waits: "exit 3", "timed out", ... or "". */
static void
s_short_reason(char *buf, size_t cap, const weft_job_info_t *ji)
{
    buf[0] = 0;
    switch (ji->reason) {
    case WEFT_REASON_EXIT:
        if (strncmp(ji->error, "killed by signal ", 17) == 0 && ji->exit_code > 128)
            snprintf(buf, cap, "killed by signal %d", ji->exit_code - 128);
        else
            snprintf(buf, cap, "exit %d", ji->exit_code);
        break;
    case WEFT_REASON_TIMEOUT:
        snprintf(buf, cap, "timed out");
        break;
    case WEFT_REASON_LOST:
        snprintf(buf, cap, "lost consumer");
        break;
    case WEFT_REASON_CANCELLED_USER:
        snprintf(buf, cap, "cancelled by request");
        break;
    case WEFT_REASON_CANCELLED_PARENT:
        if (ji->cause[0])
            snprintf(buf, cap, "cancelled because of '%s'", ji->cause);
        else
            snprintf(buf, cap, "cancelled because a parent failed");
        break;
    case WEFT_REASON_SKIPPED_PARENT:
        if (ji->cause[0])
            snprintf(buf, cap, "skipped because '%s' was skipped", ji->cause);
        else
            snprintf(buf, cap, "skipped because a parent was skipped");
        break;
    case WEFT_REASON_SKIPPED_NO_FAILURE:
        snprintf(buf, cap, "skipped: no parent failed");
        break;
    case WEFT_REASON_CARRIED:
        snprintf(buf, cap, "done in an earlier run");
        break;
    case WEFT_REASON_WAIT_PARENTS:
        /* A server's STATUS does not carry the count (waiting_on 0): say less, not wrong. */
        if (ji->waiting_on == 0)
            snprintf(buf, cap, "waiting on parents");
        else
            snprintf(buf, cap, "waiting on %u parent%s", ji->waiting_on,
                     ji->waiting_on == 1 ? "" : "s");
        break;
    case WEFT_REASON_WAIT_CONSUMER:
    case WEFT_REASON_WAIT_SLOT:
    case WEFT_REASON_WAIT_POOL:
    case WEFT_REASON_BACKOFF:
    case WEFT_REASON_PAUSED:
    case WEFT_REASON_REQUEUED:
        snprintf(buf, cap, "%s", weft_reason_name(ji->reason));
        break;
    default:
        if (ji->state == WEFT_JOB_FAILED)
            snprintf(buf, cap, "failed");
        else if (ji->state == WEFT_JOB_CANCELLED)
            snprintf(buf, cap, "cancelled");
        else if (ji->state == WEFT_JOB_SKIPPED)
            snprintf(buf, cap, "skipped");
        break;
    }
}

/* The duration of the job's last attempt: started -> finished, or -> now while running. */
static void
s_job_duration(char *buf, size_t cap, const weft_job_info_t *ji, int64_t now)
{
    if (ji->started_ms <= 0)
        snprintf(buf, cap, "-");
    else if (ji->state == WEFT_JOB_RUNNING)
        wf_cli_duration(buf, cap, now - ji->started_ms);
    else if (ji->finished_ms >= ji->started_ms)
        wf_cli_duration(buf, cap, ji->finished_ms - ji->started_ms);
    else
        snprintf(buf, cap, "-"); /* e.g. ready again after a failed attempt */
}

static void
s_counts(const weft_request_info_t *ri)
{
    bool first = true;
    for (int s = 0; s < WEFT_JOB_STATE_COUNT_; s++) {
        if (!ri->count[s])
            continue;
        printf("%s%u %s", first ? "" : ", ", ri->count[s], weft_job_state_name(s));
        first = false;
    }
}

/* One table row, columns padded to width[], two blanks apart; the line ends after the last
 * non-empty cell, so no row has trailing blanks. */
static void
s_print_row(const char *const *cells, const size_t *width, int ncols)
{
    int last = 0;
    for (int c = 0; c < ncols; c++)
        if (cells[c][0])
            last = c;
    for (int c = 0; c < last; c++)
        printf("%-*s  ", (int)width[c], cells[c]);
    printf("%s\n", cells[last]);
}

/* Parse the options every inspecting verb shares plus its own; returns -1 after --help. */
typedef struct s_opts {
    const char *state_opt;
    const char *request;
    const char *attempt;
    const char **params;
    size_t nparams;
    bool out, err;
    bool follow;            /* logs -f */
    const char *server;     /* status, logs, why, dot: ask this server instead of a state dir */
    const char *timeout;    /* with --server: seconds to wait for an answer */
    const char *server_key; /* with --server: CURVE, the server's public key */
    const char *key;        /* with --server: CURVE, our secret key file */
} s_opts_t;

enum { S_OPT_STATE = 1000, S_OPT_SERVER, S_OPT_TIMEOUT, S_OPT_SERVER_KEY, S_OPT_KEY };

static int
s_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
         const char *help, const char *usage, s_opts_t *o)
{
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        switch (c) {
        case S_OPT_STATE:
            o->state_opt = optarg;
            break;
        case S_OPT_SERVER:
            o->server = optarg;
            break;
        case S_OPT_TIMEOUT:
            o->timeout = optarg;
            break;
        case S_OPT_SERVER_KEY:
            o->server_key = optarg;
            break;
        case S_OPT_KEY:
            o->key = optarg;
            break;
        case 'r':
            o->request = optarg;
            break;
        case 'a':
            o->attempt = optarg;
            break;
        case 'o':
            o->out = true;
            break;
        case 'e':
            o->err = true;
            break;
        case 'f':
            o->follow = true;
            break;
        case 'p':
            if (!wf_cli_param_ok(optarg))
                return WF_EXIT_USAGE;
            o->params[o->nparams++] = optarg;
            break;
        case 'h':
            fputs(help, stdout);
            return -1;
        default:
            fprintf(stderr, "%s\n", usage);
            return WF_EXIT_USAGE;
        }
    }
    return WF_EXIT_OK;
}

/* ---- asking a server instead (--server) ---- */

#define S_SERVER_OPTS_HELP                                                                         \
    "      --server tcp://HOST:PORT\n"                                                             \
    "                    ask this weft server (its base address, as `weft serve --bind` takes\n"   \
    "                    it: the client endpoint is PORT+1) instead of reading a state dir\n"      \
    "      --timeout S   with --server: seconds to wait for an answer (default 10)\n"              \
    "      --server-key FILE|KEY, --key FILE\n"                                                    \
    "                    with --server: CURVE, the server's public key (server.pub or\n"           \
    "                    the key) and your secret key file (default: $WEFT_SERVER_KEY,\n"          \
    "                    $WEFT_KEY; docs/security.md)\n"

/* The same for a help whose option column is 24 wide (logs, why). */
#define S_SERVER_OPTS_HELP_WIDE                                                                    \
    "      --server tcp://HOST:PORT\n"                                                             \
    "                        ask this weft server (its base address, as `weft serve\n"             \
    "                        --bind` takes it: the client endpoint is PORT+1) instead\n"           \
    "                        of reading a state directory\n"                                       \
    "      --timeout S       with --server: seconds to wait for an answer (default 10)\n"          \
    "      --server-key FILE|KEY, --key FILE\n"                                                    \
    "                        with --server: CURVE, the server's public key (server.pub\n"          \
    "                        or the key) and your secret key file (default:\n"                     \
    "                        $WEFT_SERVER_KEY, $WEFT_KEY; docs/security.md)\n"

/* The long options behind S_SERVER_OPTS_HELP, then --help and the end: the tail of the option
 * table of every verb that can ask a server. */
#define S_SERVER_LONGOPTS                                                                          \
    {"server", required_argument, NULL, S_OPT_SERVER},                                             \
    {"timeout", required_argument, NULL, S_OPT_TIMEOUT},                                           \
    {"server-key", required_argument, NULL, S_OPT_SERVER_KEY},                                     \
    {"key", required_argument, NULL, S_OPT_KEY},                                                   \
    {"help", no_argument, NULL, 'h'},                                                              \
    {NULL, 0, NULL, 0}

/* --server-key and --key mean nothing without --server: say so rather than ignore them. */
static bool
s_keys_need_server(const char *verb, const s_opts_t *o)
{
    if (o->server || (!o->server_key && !o->key))
        return true;
    fprintf(stderr, "weft %s: --server-key and --key go with --server\n", verb);
    return false;
}

/* Connect for a verb given --server; prints why not and returns NULL with *exit_p set. */
static wf_client_t *
s_server_open(const char *verb, const s_opts_t *o, int *timeout_ms, int *exit_p)
{
    *timeout_ms = WF_CLIENT_DEFAULT_TIMEOUT_MS;
    *exit_p = WF_EXIT_USAGE;
    if (o->timeout && !wf_cli_timeout_ok(verb, o->timeout, timeout_ms))
        return NULL;
    if (o->state_opt) {
        fprintf(stderr, "weft %s: --state and --server exclude each other\n", verb);
        return NULL;
    }
    wf_client_t *c = NULL;
    char err[1024] = "";
    wf_client_keys_t keys;
    if ((o->server_key && !*o->server_key) || (o->key && !*o->key)) {
        fprintf(stderr, "weft %s: --server-key and --key want a key or a file\n", verb);
        return NULL;
    }
    if (!wf_client_keys_default(&keys, o->server_key, o->key, err, sizeof err) ||
        wf_client_open(&c, o->server, &keys, err, sizeof err) != WEFT_OK) {
        fprintf(stderr, "weft %s: %s\n", verb, err);
        return NULL;
    }
    return c;
}

/* Report a failed call to a server; returns the exit status it means. */
static int
s_server_failed(const char *verb, wf_client_t *c, int rc, const wf_cmsg_t *reply, int expected)
{
    if (rc == WEFT_OK) {
        fprintf(stderr, "weft %s: the server answered %s with %s\n", verb,
                wf_cmsg_kind_name(expected), wf_cmsg_kind_name(reply->kind));
        return WF_EXIT_FAILED;
    }
    fprintf(stderr, "weft %s: %s\n", verb, wf_client_errmsg(c));
    return wf_cli_client_exit(rc);
}

/* The request a verb is about on a server, from its LIST: `arg` (an id) or the newest.  Fills
 * *info (its counts are LIST's: read STATUS for them).  Prints why not and returns 0 with
 * *exit_p set. */
static weft_reqid_t
s_server_request(const char *verb, wf_client_t *c, int timeout_ms, const char *arg,
                 weft_request_info_t *info, int *exit_p)
{
    weft_reqid_t id = 0;
    *exit_p = WF_EXIT_USAGE;
    if (arg && !wf_cli_parse_reqid(arg, &id)) {
        fprintf(stderr, "weft %s: '%s' is not a request id (like 12 or r12)\n", verb, arg);
        return 0;
    }
    wf_cmsg_t m, r;
    wf_cmsg_init(&m, WF_CMSG_LIST);
    int rc = wf_client_call(c, &m, &r, timeout_ms);
    if (rc != WEFT_OK || r.kind != WF_CMSG_LIST_R) {
        *exit_p = s_server_failed(verb, c, rc, &r, WF_CMSG_LIST);
        wf_cmsg_fini(&r);
        return 0;
    }
    const wf_creqinfo_t *hit = NULL;
    for (uint32_t i = 0; i < r.nreqs; i++)
        if (arg ? r.reqs[i].id == id : !hit || r.reqs[i].id > hit->id)
            hit = &r.reqs[i];
    if (hit) {
        wf_creqinfo_expand(hit, info);
        id = hit->id;
    } else if (arg) {
        fprintf(stderr, "weft %s: no request %llu on %s\n", verb, (unsigned long long)id,
                wf_client_server(c));
        id = 0;
    } else {
        fprintf(stderr, "weft %s: no requests on %s\n", verb, wf_client_server(c));
    }
    wf_cmsg_fini(&r);
    return id;
}

/* A request's jobs on a server, read a page at a time (STATUS with offset and limit) as the
 * caller walks them by index: a row costs a compact job info, a page of them at most. */
typedef struct s_pager {
    wf_client_t *cl;
    int timeout_ms;
    weft_reqid_t id;
    wf_cmsg_t page;      /* the page held now (kind STATUS_R) when `have` */
    bool have;
    uint32_t first, end; /* the indexes it answers for: [first, end) */
    int rc;              /* a failed call: every later read fails the same way */
} s_pager_t;

static void
s_pager_init(s_pager_t *p, wf_client_t *cl, int timeout_ms, weft_reqid_t id)
{
    memset(p, 0, sizeof *p);
    p->cl = cl;
    p->timeout_ms = timeout_ms;
    p->id = id;
    wf_cmsg_init(&p->page, WF_CMSG_STATUS_R);
}

static void
s_pager_fini(s_pager_t *p)
{
    wf_cmsg_fini(&p->page);
    p->have = false;
}

/* Hold the page that answers for index i (a page starts at a multiple of WF_CLIENT_MAX_PAGE). */
static int
s_pager_load(s_pager_t *p, uint32_t i)
{
    if (p->rc != WEFT_OK)
        return p->rc;
    if (p->have && i >= p->first && i < p->end)
        return WEFT_OK;
    s_pager_fini(p);
    uint32_t off = i / WF_CLIENT_MAX_PAGE * WF_CLIENT_MAX_PAGE;
    int rc = wf_client_status_page(p->cl, p->id, off, &p->page, p->timeout_ms);
    if (rc == WEFT_OK && p->page.kind != WF_CMSG_STATUS_R)
        rc = WEFT_EPROTO;
    if (rc != WEFT_OK) {
        p->rc = rc;
        return rc;
    }
    p->have = true;
    p->first = off;
    /* a page, or more from a server older than paging (the whole request from 0) */
    p->end = off + (p->page.njobs > WF_CLIENT_MAX_PAGE ? p->page.njobs : WF_CLIENT_MAX_PAGE);
    return WEFT_OK;
}

/* Job i, expanded; ENOTFOUND if the server left it out (it could not read it). */
static int
s_pager_job(s_pager_t *p, uint32_t i, weft_job_info_t *ji)
{
    int rc = s_pager_load(p, i);
    if (rc != WEFT_OK)
        return rc;
    /* Rows come in index order, one per index unless one could not be read: search. */
    uint32_t lo = 0, hi = p->page.njobs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->page.cjobs[mid].index < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->page.njobs || p->page.cjobs[lo].index != i)
        return WEFT_ENOTFOUND;
    wf_cjobinfo_expand(&p->page.cjobs[lo], ji);
    return WEFT_OK;
}

/* ---- weft status ---- */

typedef struct s_row {
    char *job, *state, *attempts, *duration, *progress, *reason;
} s_row_t;

enum { S_NCOLS = 6 };

static char **
s_cell(s_row_t *r, int i)
{
    char **cells[S_NCOLS] = {&r->job,      &r->state,    &r->attempts,
                             &r->duration, &r->progress, &r->reason};
    return cells[i];
}

/* Job `i` of the run being shown, from wherever it comes. */
typedef int(s_job_at_fn)(void *arg, uint32_t i, weft_job_info_t *ji);

typedef struct s_eng_at {
    weft_engine_t *eng;
    weft_reqid_t id;
} s_eng_at_t;

static int
s_job_at_engine(void *arg, uint32_t i, weft_job_info_t *ji)
{
    s_eng_at_t *a = arg;
    return weft_job_status_at(a->eng, a->id, i, ji);
}

/* From a server, a page at a time. */
static int
s_job_at_pager(void *arg, uint32_t i, weft_job_info_t *ji)
{
    return s_pager_job(arg, i, ji);
}

static void s_status_print(weft_reqid_t id, const weft_request_info_t *ri, s_job_at_fn *fn,
                           void *arg);
static int s_status_server(const s_opts_t *o, const char *req_arg);

int
weft_cmd_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, S_OPT_STATE},
        S_SERVER_LONGOPTS,
    };
    static const char usage[] = "usage: weft status [--state DIR | --server tcp://HOST:PORT] "
                                "[REQUEST]  (weft status --help)";
    static const char help[] =
        "usage: weft status [--state DIR | --server tcp://HOST:PORT] [REQUEST]\n"
        "\n"
        "Show a run: its state, job counts and times, then one line per job with its state,\n"
        "attempts, duration, progress and, for jobs that did not succeed, a short reason.\n"
        "REQUEST is a run's id (12 or r12, as `weft list` shows); default: the newest run.\n"
        "Works while `weft run` is running: it reads what has been saved so far.\n"
        "\n"
        "      --state DIR   the state directory (default: ./.weft)\n" S_SERVER_OPTS_HELP
        "  -h, --help        this text\n"
        "\n"
        "exit status: 0 shown (whatever the run's state), 1 the server could not be reached,\n"
        "2 bad usage or no such run\n";
    s_opts_t o = {0};
    int rc = s_getopt(argc, argv, "h", longopts, help, usage, &o);
    if (rc != WF_EXIT_OK)
        return rc < 0 ? WF_EXIT_OK : rc;
    if (argc - optind > 1) {
        fprintf(stderr, "%s\n", usage);
        return WF_EXIT_USAGE;
    }
    const char *req_arg = optind < argc ? argv[optind] : NULL;
    if (!s_keys_need_server("status", &o))
        return WF_EXIT_USAGE;
    if (o.server)
        return s_status_server(&o, req_arg);

    char *state = wf_cli_state_default(o.state_opt);
    weft_engine_t *eng = s_open("status", state);
    weft_request_info_t ri;
    weft_reqid_t id = eng ? s_request("status", eng, state, req_arg, &ri) : 0;
    if (!id) {
        weft_engine_close(&eng);
        free(state);
        return WF_EXIT_USAGE;
    }
    s_eng_at_t at = {eng, id};
    s_status_print(id, &ri, s_job_at_engine, &at);
    weft_engine_close(&eng);
    free(state);
    return WF_EXIT_OK;
}

/* Print a run's status: the header, then a row per job read through fn(arg, index). */
static void
s_status_print(weft_reqid_t id, const weft_request_info_t *rip, s_job_at_fn *fn, void *arg)
{
    const weft_request_info_t ri = *rip;
    int64_t now = s_wall_ms();
    char t1[64], t2[64], dur[32];
    printf("run %llu: %s", (unsigned long long)id, ri.name);
    if (ri.session[0])
        printf(" (session %s)", ri.session);
    printf("\nstate:    %s\n", weft_req_state_name(ri.state));
    printf("jobs:     %u", ri.njobs);
    if (ri.njobs) {
        printf(" (");
        s_counts(&ri);
        printf(")");
    }
    printf("\ncreated:  %s\n", s_time(t1, sizeof t1, ri.created_ms));
    if (ri.finished_ms > 0) {
        printf("finished: %s\n", s_time(t2, sizeof t2, ri.finished_ms));
        printf("duration: %s\n", wf_cli_duration(dur, sizeof dur, ri.finished_ms - ri.created_ms));
    } else {
        printf("finished: - (still running)\n");
        printf("duration: %s so far\n", wf_cli_duration(dur, sizeof dur, now - ri.created_ms));
    }

    static const char *const heads[S_NCOLS] = {"JOB",      "STATE",    "ATTEMPTS",
                                               "DURATION", "PROGRESS", "REASON"};
    size_t width[S_NCOLS];
    for (int c = 0; c < S_NCOLS; c++)
        width[c] = strlen(heads[c]);
    s_row_t *rows = s_alloc(sizeof *rows * (ri.njobs ? ri.njobs : 1));
    uint32_t nrows = 0;
    weft_job_info_t ji;
    for (uint32_t i = 0; i < ri.njobs; i++) {
        if (fn(arg, i, &ji) != WEFT_OK)
            continue;
        s_row_t *r = &rows[nrows++];
        char buf[WEFT_MAX_MESSAGE + 64], msg[64];
        r->job = s_dup(ji.id);
        r->state = s_dup(weft_job_state_name(ji.state));
        r->attempts = s_printf("%u", ji.attempts);
        s_job_duration(buf, sizeof buf, &ji, now);
        r->duration = s_dup(buf);
        if (ji.state != WEFT_JOB_DONE && ji.state != WEFT_JOB_SKIPPED &&
            (ji.progress > 0 || ji.progress_msg[0])) {
            s_clean(msg, sizeof msg, ji.progress_msg, 40, false);
            r->progress = s_printf("%d%%%s%s", ji.progress, msg[0] ? " " : "", msg);
        } else {
            r->progress = s_dup("");
        }
        s_short_reason(buf, sizeof buf, &ji);
        r->reason = s_dup(buf);
        for (int c = 0; c < S_NCOLS; c++) {
            size_t w = strlen(*s_cell(r, c));
            if (w > width[c])
                width[c] = w;
        }
    }
    if (nrows) {
        printf("\n");
        s_print_row(heads, width, S_NCOLS);
        for (uint32_t i = 0; i < nrows; i++) {
            /* The last non-empty cell ends the line: no trailing blanks. */
            const char *cells[S_NCOLS];
            for (int c = 0; c < S_NCOLS; c++)
                cells[c] = *s_cell(&rows[i], c);
            s_print_row(cells, width, S_NCOLS);
        }
    }
    for (uint32_t i = 0; i < nrows; i++)
        for (int c = 0; c < S_NCOLS; c++)
            free(*s_cell(&rows[i], c));
    free(rows);
}

/* `weft status --server`: the same output, from the server's STATUS. */
static int
s_status_server(const s_opts_t *o, const char *req_arg)
{
    int timeout_ms, exit_code;
    wf_client_t *c = s_server_open("status", o, &timeout_ms, &exit_code);
    if (!c)
        return exit_code;
    weft_request_info_t ri;
    weft_reqid_t id = 0;
    if (req_arg && !wf_cli_parse_reqid(req_arg, &id)) {
        fprintf(stderr, "weft status: '%s' is not a request id (like 12 or r12)\n", req_arg);
        wf_client_close(&c);
        return WF_EXIT_USAGE;
    }
    if (!id)
        id = s_server_request("status", c, timeout_ms, NULL, &ri, &exit_code);
    if (!id) {
        wf_client_close(&c);
        return exit_code;
    }
    /* The first page carries the counts for the header; the rows follow page by page. */
    s_pager_t pager;
    s_pager_init(&pager, c, timeout_ms, id);
    int rc = s_pager_load(&pager, 0);
    if (rc == WEFT_ENOTFOUND) {
        fprintf(stderr, "weft status: no request %llu on %s\n", (unsigned long long)id,
                wf_client_server(c));
        exit_code = WF_EXIT_USAGE;
    } else if (rc != WEFT_OK) {
        exit_code = s_server_failed("status", c, rc, &pager.page, WF_CMSG_STATUS);
    } else {
        weft_request_info_t head = pager.page.info;
        s_status_print(id, &head, s_job_at_pager, &pager);
        exit_code = WF_EXIT_OK;
        if (pager.rc != WEFT_OK) /* the server went away in the middle: say so */
            exit_code = s_server_failed("status", c, pager.rc, &pager.page, WF_CMSG_STATUS);
    }
    s_pager_fini(&pager);
    wf_client_close(&c);
    return exit_code;
}

/* ---- weft list ---- */

typedef struct s_reqs {
    weft_request_info_t *v;
    size_t n, cap;
} s_reqs_t;

static int
s_collect_req(const weft_request_info_t *info, void *arg)
{
    s_reqs_t *r = arg;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->v = realloc(r->v, sizeof *r->v * r->cap);
        if (!r->v)
            abort();
    }
    r->v[r->n++] = *info;
    return 0;
}

int
weft_cmd_list(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, S_OPT_STATE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char usage[] = "usage: weft list [--state DIR]  (weft list --help)";
    static const char help[] =
        "usage: weft list [--state DIR]\n"
        "\n"
        "List the runs kept in a state directory, oldest first: id, name, session, state,\n"
        "jobs finished fine (done or skipped) of all, when it was created, how long it took.\n"
        "\n"
        "      --state DIR   the state directory (default: ./.weft)\n"
        "  -h, --help        this text\n"
        "\n"
        "exit status: 0 listed, 2 bad usage or no state directory\n";
    s_opts_t o = {0};
    int rc = s_getopt(argc, argv, "h", longopts, help, usage, &o);
    if (rc != WF_EXIT_OK)
        return rc < 0 ? WF_EXIT_OK : rc;
    if (optind != argc) {
        fprintf(stderr, "%s\n", usage);
        return WF_EXIT_USAGE;
    }
    char *state = wf_cli_state_default(o.state_opt);
    weft_engine_t *eng = s_open("list", state);
    if (!eng) {
        free(state);
        return WF_EXIT_USAGE;
    }
    s_reqs_t reqs = {0};
    weft_request_list(eng, s_collect_req, &reqs);
    /* The list gives no per-state counts: ask each request (one pass over its jobs). */
    for (size_t i = 0; i < reqs.n; i++) {
        weft_request_info_t full;
        if (weft_request_status(eng, reqs.v[i].id, &full) == WEFT_OK)
            reqs.v[i] = full;
    }
    if (reqs.n == 0) {
        printf("no runs in '%s'\n", state);
    } else {
        enum { NC = 7 };
        static const char *const heads[NC] = {"ID",   "NAME",    "SESSION", "STATE",
                                              "JOBS", "CREATED", "DURATION"};
        char **cells = s_alloc(sizeof *cells * reqs.n * NC);
        size_t width[NC];
        for (int c = 0; c < NC; c++)
            width[c] = strlen(heads[c]);
        int64_t now = s_wall_ms();
        for (size_t i = 0; i < reqs.n; i++) {
            const weft_request_info_t *ri = &reqs.v[i];
            char **row = cells + i * NC, t[64], d[32];
            row[0] = s_printf("%llu", (unsigned long long)ri->id);
            row[1] = s_dup(ri->name);
            row[2] = s_dup(ri->session);
            row[3] = s_dup(weft_req_state_name(ri->state));
            row[4] = s_printf("%u/%u", ri->count[WEFT_JOB_DONE] + ri->count[WEFT_JOB_SKIPPED],
                              ri->njobs);
            row[5] = s_dup(s_time(t, sizeof t, ri->created_ms));
            if (ri->finished_ms > 0)
                row[6] = s_dup(wf_cli_duration(d, sizeof d, ri->finished_ms - ri->created_ms));
            else
                row[6] = s_printf("%s so far", wf_cli_duration(d, sizeof d, now - ri->created_ms));
            for (int c = 0; c < NC; c++)
                if (strlen(row[c]) > width[c])
                    width[c] = strlen(row[c]);
        }
        s_print_row(heads, width, NC);
        for (size_t i = 0; i < reqs.n; i++)
            s_print_row((const char *const *)cells + i * NC, width, NC);
        for (size_t i = 0; i < reqs.n * NC; i++)
            free(cells[i]);
        free(cells);
    }
    free(reqs.v);
    weft_engine_close(&eng);
    free(state);
    return WF_EXIT_OK;
}

/* ---- weft logs ---- */

typedef struct s_older {
    const char *session;
    weft_reqid_t before;
    weft_reqid_t *v;
    size_t n, cap;
} s_older_t;

static int
s_collect_older(const weft_request_info_t *info, void *arg)
{
    s_older_t *o = arg;
    if (info->id >= o->before || strcmp(info->session, o->session) != 0)
        return 0;
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 16;
        o->v = realloc(o->v, sizeof *o->v * o->cap);
        if (!o->v)
            abort();
    }
    o->v[o->n++] = info->id;
    return 0;
}

/* A job carried over from an earlier run has no logs in this one: find the newest earlier run
 * of the same session in which it ran.  0 when there is none. */
static weft_reqid_t
s_ran_before(weft_engine_t *eng, weft_reqid_t id, const char *session, const char *job,
             weft_job_info_t *out)
{
    s_older_t o = {.session = session, .before = id};
    weft_request_list(eng, s_collect_older, &o);
    weft_reqid_t found = 0;
    for (size_t i = o.n; i-- > 0 && !found;)
        if (weft_job_status(eng, o.v[i], job, out) == WEFT_OK && out->attempts > 0 &&
            out->reason != WEFT_REASON_CARRIED)
            found = o.v[i];
    free(o.v);
    return found;
}

/* Where `logs` and `why` read jobs: the state directory, or a server (--server). */
typedef struct s_src {
    weft_engine_t *eng;     /* local; NULL with --server */
    wf_client_t *cl;        /* --server */
    int timeout_ms;         /* --server: for each call */
    s_pager_t pager;        /* --server: a run's jobs by index, a page at a time */
    bool short_why;         /* --server: the server is older than WHY's `where`: don't ask it */
} s_src_t;

/* --server: WHY of one job into *r (fini it whatever the result), asking where it ran;
 * waiting_on, which the wire does not carry, becomes the number of unfinished parents the
 * reply names.  A server older than WHY's `where` answers EPROTO: ask it the short way. */
static int
s_src_why(s_src_t *s, weft_reqid_t id, const char *job, wf_cmsg_t *r)
{
    wf_cmsg_t m;
    int rc;
    for (;;) {
        wf_cmsg_init(&m, WF_CMSG_WHY);
        m.req = id;
        snprintf(m.job, sizeof m.job, "%s", job);
        m.where = s->short_why ? 0 : 1;
        rc = wf_client_call(s->cl, &m, r, s->timeout_ms);
        if (rc != WEFT_EPROTO || s->short_why)
            break;
        wf_cmsg_fini(r);
        s->short_why = true;
    }
    if (rc == WEFT_OK && r->kind != WF_CMSG_WHY_R)
        rc = WEFT_EPROTO;
    if (rc == WEFT_OK && r->jobinfo.state == WEFT_JOB_PENDING)
        r->jobinfo.waiting_on = r->nwaiting;
    return rc;
}

static int
s_src_job(s_src_t *s, weft_reqid_t id, const char *job, weft_job_info_t *out)
{
    if (s->eng)
        return weft_job_status(s->eng, id, job, out);
    wf_cmsg_t r;
    int rc = s_src_why(s, id, job, &r);
    if (rc == WEFT_OK)
        *out = r.jobinfo;
    wf_cmsg_fini(&r);
    return rc;
}

static int
s_src_job_at(s_src_t *s, weft_reqid_t id, uint32_t i, weft_job_info_t *out)
{
    if (s->eng)
        return weft_job_status_at(s->eng, id, i, out);
    if (s->pager.id != id) {
        s_pager_fini(&s->pager);
        s_pager_init(&s->pager, s->cl, s->timeout_ms, id);
    }
    return s_pager_job(&s->pager, i, out);
}

/* s_ran_before, from wherever the jobs come. */
static weft_reqid_t
s_src_ran_before(s_src_t *s, weft_reqid_t id, const char *session, const char *job,
                 weft_job_info_t *out)
{
    if (s->eng)
        return s_ran_before(s->eng, id, session, job, out);
    wf_cmsg_t m, r;
    wf_cmsg_init(&m, WF_CMSG_LIST);
    weft_reqid_t found = 0;
    if (wf_client_call(s->cl, &m, &r, s->timeout_ms) == WEFT_OK && r.kind == WF_CMSG_LIST_R) {
        s_older_t o = {.session = session, .before = id};
        for (uint32_t i = 0; i < r.nreqs; i++) {
            weft_request_info_t ri;
            wf_creqinfo_expand(&r.reqs[i], &ri);
            s_collect_older(&ri, &o);
        }
        for (size_t i = o.n; i-- > 0 && !found;)
            if (s_src_job(s, o.v[i], job, out) == WEFT_OK && out->attempts > 0 &&
                out->reason != WEFT_REASON_CARRIED)
                found = o.v[i];
        free(o.v);
    }
    wf_cmsg_fini(&r);
    return found;
}

/* One attempt's logs, from the state directory (STATE/logs: what the engine's own slots
 * wrote) or from a server, which asks the worker that ran it.  Both give the same bytes, a
 * chunk at a time, and the same "nothing written" for a stream with no file (the shell runner
 * makes one only at the first byte), so everything below prints the same either way. */
typedef struct s_logsrc {
    s_src_t *src;
    weft_reqid_t id;
    weft_job_info_t ji;         /* the job as first read (its last attempt's worker) */
    uint32_t attempt;
    wf_shell_opts_t shell;      /* local: log_dir for wf_shell_log_read */
    char label[2][4096 + 64];   /* each stream's header: a path, or where it is on a server */
    bool failed;                /* a read failed (said on stderr): exit 1 */
} s_logsrc_t;

static const char *const s_stream_ext[2] = {"out", "err"};
static const char *const s_stream_name[2] = {"stdout", "stderr"};

/* A chunk of stream s at off: the log's size so far in *size_p (0: no log), up to cap bytes
 * in buf (*n_p).  Says why on stderr and returns an error when it cannot be read. */
static int
s_log_chunk(s_logsrc_t *L, int s, uint64_t off, uint8_t *buf, size_t cap, uint64_t *size_p,
            size_t *n_p)
{
    *size_p = 0;
    *n_p = 0;
    if (!L->src->cl) {
        int64_t r = wf_shell_log_read(&L->shell, L->id, L->ji.id, L->attempt, s_stream_ext[s],
                                      off, buf, cap, n_p);
        if (r == -WEFT_ENOTFOUND)
            return WEFT_OK;
        if (r < 0) {
            fprintf(stderr, "weft logs: cannot read %s: %s\n", L->label[s],
                    weft_strerror((int)-r));
            return (int)-r;
        }
        *size_p = (uint64_t)r;
        return WEFT_OK;
    }
    wf_cmsg_t r;
    int rc = wf_client_logs(L->src->cl, L->id, L->ji.index, L->attempt, s_stream_ext[s], off, &r,
                            L->src->timeout_ms);
    if (rc == WEFT_OK) {
        *size_p = r.size;
        *n_p = r.data_len < cap ? r.data_len : cap;
        if (*n_p)
            memcpy(buf, r.data, *n_p);
    } else {
        fflush(stdout);
        fprintf(stderr, "weft logs: %s\n", wf_client_errmsg(L->src->cl));
    }
    wf_cmsg_fini(&r);
    return rc;
}

/* Copy stream s from *off to its end as it is now; *nl: the last byte was a newline. */
static int
s_log_copy(s_logsrc_t *L, int s, uint64_t *off, uint8_t *buf, bool *nl, bool *moved)
{
    for (;;) {
        uint64_t size;
        size_t n;
        int rc = s_log_chunk(L, s, *off, buf, WF_PROTO_MAX_LOG_CHUNK, &size, &n);
        if (rc != WEFT_OK)
            return rc;
        if (n == 0)
            return WEFT_OK;
        fwrite(buf, 1, n, stdout);
        *nl = buf[n - 1] == '\n';
        *off += n;
        *moved = true;
        if (*off >= size)
            return WEFT_OK;
    }
}

/* Is the attempt over (the job moved on), as the store or the server says now? */
static bool
s_log_attempt_over(s_logsrc_t *L)
{
    weft_job_info_t now;
    int rc = L->src->eng ? weft_job_status_at(L->src->eng, L->id, L->ji.index, &now)
                         : s_src_job(L->src, L->id, L->ji.id, &now);
    L->ji.state = rc == WEFT_OK ? now.state : L->ji.state;
    return rc != WEFT_OK || now.state != WEFT_JOB_RUNNING || now.attempts != L->attempt;
}

/* What to say for a stream that has no log: under its header (both streams), or on stderr. */
static void
s_log_nothing(const s_logsrc_t *L, int s, bool both, bool running)
{
    const weft_job_info_t *ji = &L->ji;
    char what[WEFT_MAX_ID * 2 + 256];
    if (!L->src->cl && L->attempt == ji->attempts && ji->worker[0] &&
        strcmp(ji->worker, "local") != 0)
        /* STATE/logs holds what the engine's own slots wrote; this ran on a worker. */
        snprintf(what, sizeof what,
                 "no log here: attempt %u ran on worker %s (host %s), which keeps it; "
                 "weft logs --server reads it from there",
                 L->attempt, ji->worker, ji->host[0] ? ji->host : "?");
    else if (strcmp(ji->type, "shell") != 0)
        snprintf(what, sizeof what, "nothing written: only shell jobs write logs");
    else
        snprintf(what, sizeof what, "nothing written%s", running ? " yet" : "");
    if (both)
        printf("(%s)\n", what);
    else
        fprintf(stderr, "weft logs: %s of job '%s', attempt %u: (%s)\n", s_stream_name[s], ji->id,
                L->attempt, what);
}

/* Print the attempt's streams; with follow, keep printing what they write until it ends. */
static void
s_logs_print(s_logsrc_t *L, const bool want[2], bool follow)
{
    bool both = want[0] && want[1], printed = false, nl[2] = {true, true};
    uint64_t off[2] = {0, 0};
    uint8_t *buf = s_alloc(WF_PROTO_MAX_LOG_CHUNK);
    bool running = L->ji.state == WEFT_JOB_RUNNING && L->ji.attempts == L->attempt;
    if (!follow) {
        for (int s = 0; s < 2; s++) {
            if (!want[s])
                continue;
            /* The first chunk before the header: a log that cannot be read prints nothing. */
            uint64_t size;
            size_t n;
            bool moved = false;
            if (s_log_chunk(L, s, 0, buf, WF_PROTO_MAX_LOG_CHUNK, &size, &n) != WEFT_OK) {
                L->failed = true;
                break;
            }
            if (both)
                printf("%s==> %s <==\n", printed ? "\n" : "", L->label[s]);
            printed = true;
            if (n > 0) {
                fwrite(buf, 1, n, stdout);
                nl[s] = buf[n - 1] == '\n';
                off[s] = n;
                if (off[s] < size && s_log_copy(L, s, &off[s], buf, &nl[s], &moved) != WEFT_OK) {
                    L->failed = true;
                    break;
                }
            }
            if (off[s] == 0)
                s_log_nothing(L, s, both, running);
            else if (both && !nl[s])
                printf("\n");
        }
        fflush(stdout);
        free(buf);
        return;
    }
    /* Follow: poll both streams; a header whenever the stream printed changes (as tail -f). */
    int shown = -1;
    bool over = !running, last_pass = over;
    for (;;) {
        bool moved = false;
        for (int s = 0; s < 2 && !L->failed; s++) {
            if (!want[s])
                continue;
            uint64_t size;
            size_t n;
            if (s_log_chunk(L, s, off[s], buf, WF_PROTO_MAX_LOG_CHUNK, &size, &n) != WEFT_OK) {
                L->failed = true;
                break;
            }
            if (n == 0)
                continue;
            if (both && shown != s) {
                if (shown >= 0 && !nl[shown])
                    printf("\n");
                printf("%s==> %s <==\n", shown >= 0 ? "\n" : "", L->label[s]);
                shown = s;
            }
            fwrite(buf, 1, n, stdout);
            nl[s] = buf[n - 1] == '\n';
            off[s] += n;
            moved = true;
        }
        fflush(stdout);
        if (L->failed || (!moved && last_pass))
            break;
        if (moved)
            continue;
        /* Nothing new: once the attempt is over, one more pass takes what it wrote last. */
        if (!over && s_log_attempt_over(L)) {
            over = true;
            continue;
        }
        if (over) {
            last_pass = true;
            continue;
        }
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!L->failed) {
        if (shown >= 0 && !nl[shown])
            printf("\n");
        for (int s = 0; s < 2; s++) {
            if (!want[s] || off[s] != 0)
                continue;
            if (both)
                printf("%s==> %s <==\n", shown >= 0 || (s == 1 && want[0]) ? "\n" : "",
                       L->label[s]);
            s_log_nothing(L, s, both, false);
        }
    }
    fflush(stdout);
    free(buf);
}

int
weft_cmd_logs(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, S_OPT_STATE},
        {"request", required_argument, NULL, 'r'},
        {"attempt", required_argument, NULL, 'a'},
        {"stdout", no_argument, NULL, 'o'},
        {"out", no_argument, NULL, 'o'},
        {"stderr", no_argument, NULL, 'e'},
        {"err", no_argument, NULL, 'e'},
        {"follow", no_argument, NULL, 'f'},
        S_SERVER_LONGOPTS,
    };
    static const char usage[] =
        "usage: weft logs [--state DIR | --server tcp://HOST:PORT] [-r REQUEST] [-a N] "
        "[--stdout|--stderr] [-f] JOB  (weft logs --help)";
    static const char help[] =
        "usage: weft logs [--state DIR | --server tcp://HOST:PORT] [-r REQUEST] [-a N]\n"
        "                 [--stdout|--stderr] [-f] JOB\n"
        "\n"
        "Print what a shell job wrote in its last attempt (or attempt N): its stdout, then its\n"
        "stderr, each under a \"==> FILE <==\" header when both are printed.  A stream the job\n"
        "wrote nothing to has no file and shows \"(nothing written)\".  The engine's own slots\n"
        "(weft run, weft serve --local-slots) keep the logs in STATE/logs/REQUEST/JOB.ATTEMPT.out\n"
        "and .err; a `weft worker` keeps them on its host, under its --logs directory, and\n"
        "--server asks the server, which fetches them from the worker that ran the attempt.\n"
        "\n"
        "      --state DIR       the state directory (default: ./.weft)\n"
        "  -r, --request REQ     the run (12 or r12; default: the newest)\n"
        "  -a, --attempt N       that attempt instead of the last one (1 is the first; only\n"
        "                        the last attempt's worker is recorded, so with --server an\n"
        "                        earlier one is found only if it ran on that same worker)\n"
        "  -o, --stdout, --out   only stdout\n"
        "  -e, --stderr, --err   only stderr\n"
        "  -f, --follow          keep printing what a running attempt writes until it ends\n"
        S_SERVER_OPTS_HELP_WIDE
        "  -h, --help            this text\n"
        "\n"
        "exit status: 0 printed (or the job has no logs yet: said on stderr), 1 the logs could\n"
        "not be read (the server or the worker that has them is not reachable), 2 bad usage,\n"
        "no such run, job or attempt\n";
    s_opts_t o = {0};
    int rc = s_getopt(argc, argv, "r:a:oefh", longopts, help, usage, &o);
    if (rc != WF_EXIT_OK)
        return rc < 0 ? WF_EXIT_OK : rc;
    if (optind != argc - 1) {
        fprintf(stderr, "%s\n", usage);
        return WF_EXIT_USAGE;
    }
    if (o.out && o.err) {
        fprintf(stderr, "weft logs: --stdout and --stderr exclude each other (give neither for "
                        "both)\n");
        return WF_EXIT_USAGE;
    }
    if (!s_keys_need_server("logs", &o))
        return WF_EXIT_USAGE;
    uint32_t attempt = 0;
    if (o.attempt) {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(o.attempt, &end, 10);
        if (errno || !end || *end || o.attempt[0] < '1' || o.attempt[0] > '9' || v > UINT32_MAX) {
            fprintf(stderr, "weft logs: --attempt wants a number from 1, got '%s'\n", o.attempt);
            return WF_EXIT_USAGE;
        }
        attempt = (uint32_t)v;
    }
    const char *job = argv[optind];

    char *state = NULL, *logs = NULL;
    s_src_t src = {0};
    s_pager_init(&src.pager, NULL, 0, 0);
    s_logsrc_t *L = s_alloc(sizeof *L);
    weft_request_info_t ri;
    weft_job_info_t ji;
    weft_reqid_t id = 0;
    int exit_code = WF_EXIT_USAGE;
    if (o.server) {
        src.cl = s_server_open("logs", &o, &src.timeout_ms, &exit_code);
        id = src.cl ? s_server_request("logs", src.cl, src.timeout_ms, o.request, &ri, &exit_code)
                    : 0;
        if (id) {
            rc = s_src_job(&src, id, job, &ji);
            if (rc == WEFT_ENOTFOUND) {
                fprintf(stderr, "weft: request %llu has no job '%s'\n", (unsigned long long)id,
                        job);
                exit_code = WF_EXIT_USAGE;
                id = 0;
            } else if (rc != WEFT_OK) {
                fprintf(stderr, "weft logs: %s\n", wf_client_errmsg(src.cl));
                exit_code = wf_cli_client_exit(rc);
                id = 0;
            }
        }
    } else {
        state = wf_cli_state_default(o.state_opt);
        src.eng = s_open("logs", state);
        id = src.eng ? s_request("logs", src.eng, state, o.request, &ri) : 0;
        if (id && !wf_cli_find_job(src.eng, id, job, &ji))
            id = 0;
    }
    if (!id)
        goto out;
    if (ji.attempts == 0 && ji.reason == WEFT_REASON_CARRIED) {
        weft_job_info_t before;
        weft_reqid_t was = s_src_ran_before(&src, id, ri.session, job, &before);
        if (!was) {
            fprintf(stderr,
                    "weft logs: job '%s' was carried over from an earlier run whose "
                    "logs are gone\n",
                    job);
            exit_code = WF_EXIT_OK;
            goto out;
        }
        fprintf(stderr, "weft logs: job '%s' was carried over: showing its logs from run %llu\n",
                job, (unsigned long long)was);
        id = was;
        ji = before;
    }
    if (attempt > ji.attempts) {
        fprintf(stderr, "weft logs: job '%s' of run %llu has had %u attempt%s, not %u\n", job,
                (unsigned long long)id, ji.attempts, ji.attempts == 1 ? "" : "s", attempt);
        goto out;
    }
    exit_code = WF_EXIT_OK;
    if (ji.attempts == 0) {
        fprintf(stderr, "weft logs: job '%s' %s (%s): no logs\n", job,
                ji.state >= WEFT_JOB_DONE ? "never ran" : "has not started yet",
                weft_job_state_name(ji.state));
        goto out;
    }
    if (!attempt)
        attempt = ji.attempts;
    L->src = &src;
    L->id = id;
    L->ji = ji;
    L->attempt = attempt;
    if (!src.cl) {
        logs = wf_cli_logs_dir(state);
        L->shell.log_dir = logs;
    }
    for (int s = 0; s < 2; s++) {
        if (!src.cl)
            wf_shell_log_path(L->label[s], sizeof L->label[s], logs, id, ji.id, attempt,
                              s_stream_ext[s]);
        else if (attempt == ji.attempts && ji.worker[0])
            snprintf(L->label[s], sizeof L->label[s], "worker %s on %s: %llu/%s.%u.%s",
                     ji.worker, ji.host[0] ? ji.host : "?", (unsigned long long)id, ji.id,
                     attempt, s_stream_ext[s]);
        else
            snprintf(L->label[s], sizeof L->label[s], "%llu/%s.%u.%s", (unsigned long long)id,
                     ji.id, attempt, s_stream_ext[s]);
    }
    bool want[2] = {!o.err, !o.out};
    s_logs_print(L, want, o.follow);
    if (L->failed)
        exit_code = WF_EXIT_FAILED;
out:
    s_pager_fini(&src.pager);
    wf_client_close(&src.cl);
    weft_engine_close(&src.eng);
    free(L);
    free(logs);
    free(state);
    return exit_code;
}

/* ---- weft why ---- */

/* One sentence on how a job that failed ended. */
static void
s_failure_sentence(char *buf, size_t cap, const weft_job_info_t *ji)
{
    switch (ji->reason) {
    case WEFT_REASON_EXIT:
        if (strncmp(ji->error, "killed by signal ", 17) == 0 && ji->exit_code > 128)
            snprintf(buf, cap, "it was killed by signal %d", ji->exit_code - 128);
        else
            snprintf(buf, cap, "it exited with status %d", ji->exit_code);
        break;
    case WEFT_REASON_TIMEOUT:
        snprintf(buf, cap, "its attempt ran past its timeout and was stopped");
        break;
    case WEFT_REASON_LOST:
        snprintf(buf, cap, "its consumer was lost %u time%s (%u allowed)", ji->lost,
                 ji->lost == 1 ? "" : "s", ji->lost_retries);
        break;
    case WEFT_REASON_CANCELLED_USER:
        snprintf(buf, cap, "it was cancelled by request");
        break;
    case WEFT_REASON_CANCELLED_PARENT:
        snprintf(buf, cap, "it was cancelled because '%s' failed", ji->cause);
        break;
    default:
        snprintf(buf, cap, "%s", weft_reason_name(ji->reason));
        break;
    }
}

static void
s_print_error(const weft_job_info_t *ji)
{
    if (!ji->error[0])
        return;
    char clean[WEFT_MAX_MESSAGE + 8];
    s_clean(clean, sizeof clean, ji->error, WEFT_MAX_MESSAGE, true);
    printf("Its error message:\n");
    for (char *line = clean; line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (*line || nl)
            printf("  | %s\n", line);
        line = nl ? nl + 1 : NULL;
    }
}

static const char *const s_when_rule[WEFT_WHEN_COUNT_] = {
    "when every parent is done (when: success)",
    "when every parent has finished, however it ended (when: always)",
    "when every parent has finished and one of them failed or was cancelled (when: failure)",
};

/* One line about an unfinished parent. */
static void
s_why_parent(const weft_job_info_t *pi)
{
    printf("  %s (%s", pi->id, weft_job_state_name(pi->state));
    if (pi->state == WEFT_JOB_RUNNING)
        printf(", attempt %u", pi->attempts);
    else if (pi->state == WEFT_JOB_PENDING)
        printf(", itself waiting on %u parent%s", pi->waiting_on, pi->waiting_on == 1 ? "" : "s");
    printf(")\n");
}

/* --server: the server names the unfinished parents, not how many there are in all. */
static void
s_why_pending_server(s_src_t *s, weft_reqid_t id, const weft_job_info_t *ji, const wf_cmsg_t *why)
{
    if (why->nwaiting == 1)
        printf("It waits for its unfinished parent to finish:\n");
    else
        printf("It waits for %u unfinished parents to finish:\n", why->nwaiting);
    uint32_t shown = 0;
    weft_job_info_t pi;
    for (uint32_t i = 0; i < why->nwaiting && shown < 20; i++) {
        if (s_src_job(s, id, why->waiting[i], &pi) != WEFT_OK)
            continue;
        s_why_parent(&pi);
        shown++;
    }
    if (why->nwaiting > shown)
        printf("  and %u more\n", why->nwaiting - shown);
    printf("It will run %s.\n",
           ji->when < WEFT_WHEN_COUNT_ ? s_when_rule[ji->when] : s_when_rule[0]);
}

static void
s_why_pending(weft_engine_t *eng, weft_reqid_t id, const weft_job_info_t *ji)
{
    size_t n = 0;
    weft_job_needs(eng, id, ji->index, NULL, 0, &n);
    uint32_t *needs = s_alloc(sizeof *needs * (n ? n : 1));
    weft_job_needs(eng, id, ji->index, needs, n, &n);
    if (ji->waiting_on == n)
        printf("It waits for %s to finish:\n", n == 1 ? "its parent" : "all its parents");
    else
        printf("It waits for %u of its %zu parents to finish:\n", ji->waiting_on, n);
    size_t shown = 0, unfinished = 0;
    weft_job_info_t pi;
    for (size_t i = 0; i < n; i++) {
        if (weft_job_status_at(eng, id, needs[i], &pi) != WEFT_OK)
            continue;
        if (pi.state >= WEFT_JOB_DONE)
            continue;
        unfinished++;
        if (shown < 20) {
            s_why_parent(&pi);
            shown++;
        }
    }
    if (unfinished > shown)
        printf("  and %zu more\n", unfinished - shown);
    printf("It will run %s.\n",
           ji->when < WEFT_WHEN_COUNT_ ? s_when_rule[ji->when] : s_when_rule[0]);
    free(needs);
}

/* Where the last attempt ran, when that is recorded (a job that ran under a weft that did not
 * record it, or read from a server too old to say, has no worker). */
static void
s_why_where(const weft_job_info_t *ji, bool running)
{
    if (!ji->worker[0] || ji->attempts == 0)
        return;
    printf("Attempt %u %s on worker %s (host %s).\n", ji->attempts, running ? "runs" : "ran",
           ji->worker, ji->host[0] ? ji->host : "?");
}

/* live: the reason comes from a running server's board, not from what was last saved. */
static void
s_why_ready(const weft_job_info_t *ji, bool live)
{
    switch (ji->reason) {
    case WEFT_REASON_WAIT_CONSUMER:
        printf("It waits for a consumer of type '%s': none that is connected handles that type.\n",
               ji->type);
        break;
    case WEFT_REASON_WAIT_SLOT:
        printf("It waits for a free slot: every consumer of type '%s' is busy.\n", ji->type);
        break;
    case WEFT_REASON_WAIT_POOL:
        printf("It waits for pool '%s', which has as many jobs running as its limit allows.\n",
               ji->pool);
        break;
    case WEFT_REASON_BACKOFF:
        printf("It is backing off before attempt %u: it failed %u time%s, %u retr%s allowed.\n",
               ji->attempts + 1, ji->failures, ji->failures == 1 ? "" : "s", ji->retries,
               ji->retries == 1 ? "y" : "ies");
        break;
    case WEFT_REASON_PAUSED:
        printf("It waits because the board is paused: no job is handed out until it resumes.\n");
        break;
    case WEFT_REASON_REQUEUED:
        printf("It was requeued (its consumer was lost, or the engine restarted) and waits to "
               "be handed out again.\n");
        break;
    default:
        printf("Its parents are finished; it waits to be handed out to a consumer of type "
               "'%s'.\n",
               ji->type);
        break;
    }
    if (ji->attempts > 0) {
        printf("It has had %u attempt%s so far.\n", ji->attempts, ji->attempts == 1 ? "" : "s");
        s_why_where(ji, false);
        s_print_error(ji);
    }
    if (!live)
        printf("(This is the state last saved; a running `weft run` knows the live reason.)\n");
}

/* The jobs whose cancellation or skipping `ji` caused (their cause is ji). */
static void
s_why_caused(s_src_t *src, weft_reqid_t id, uint32_t njobs, const weft_job_info_t *ji)
{
    size_t ncancelled = 0, nskipped = 0, shown = 0;
    char names[1024] = "";
    size_t len = 0;
    weft_job_info_t oi;
    for (uint32_t i = 0; i < njobs; i++) {
        if (i == ji->index || s_src_job_at(src, id, i, &oi) != WEFT_OK ||
            strcmp(oi.cause, ji->id) != 0)
            continue;
        if (oi.reason == WEFT_REASON_CANCELLED_PARENT)
            ncancelled++;
        else if (oi.reason == WEFT_REASON_SKIPPED_PARENT)
            nskipped++;
        else
            continue;
        if (shown < 10 && len + strlen(oi.id) + 8 < sizeof names) {
            len += (size_t)snprintf(names + len, sizeof names - len, "%s'%s'", shown ? ", " : "",
                                    oi.id);
            shown++;
        }
    }
    size_t total = ncancelled + nskipped;
    if (ncancelled)
        printf("Because of it, %zu job%s %s cancelled", ncancelled, ncancelled == 1 ? "" : "s",
               ncancelled == 1 ? "was" : "were");
    if (nskipped)
        printf("%s%zu job%s %s skipped", ncancelled ? " and " : "Because of it, ", nskipped,
               nskipped == 1 ? "" : "s", nskipped == 1 ? "was" : "were");
    if (total)
        printf(": %s%s.\n", names, total > shown ? ", ..." : "");
    else if (ji->state == WEFT_JOB_FAILED || ji->state == WEFT_JOB_CANCELLED)
        printf("No other job was cancelled because of it.\n");
}

int
weft_cmd_why(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, S_OPT_STATE},
        {"request", required_argument, NULL, 'r'},
        S_SERVER_LONGOPTS,
    };
    static const char usage[] = "usage: weft why [--state DIR | --server tcp://HOST:PORT] "
                                "[-r REQUEST] JOB  (weft why --help)";
    static const char help[] =
        "usage: weft why [--state DIR | --server tcp://HOST:PORT] [-r REQUEST] JOB\n"
        "\n"
        "Explain a job's state: what a pending job still waits for, why a ready job has not\n"
        "started, how a running job is doing, how a finished one ended (exit status, timeout,\n"
        "lost consumer, its error message, the retries it used) and which jobs a failure\n"
        "cancelled, or which job's failure cancelled or skipped this one.\n"
        "\n"
        "      --state DIR       the state directory (default: ./.weft)\n"
        "  -r, --request REQ     the run (12 or r12; default: the newest)\n"
        S_SERVER_OPTS_HELP_WIDE
        "  -h, --help            this text\n"
        "\n"
        "exit status: 0 explained (whatever the state), 1 the server could not be reached,\n"
        "2 bad usage, no such run or job\n";
    s_opts_t o = {0};
    int rc = s_getopt(argc, argv, "r:h", longopts, help, usage, &o);
    if (rc != WF_EXIT_OK)
        return rc < 0 ? WF_EXIT_OK : rc;
    if (optind != argc - 1) {
        fprintf(stderr, "%s\n", usage);
        return WF_EXIT_USAGE;
    }
    if (!s_keys_need_server("why", &o))
        return WF_EXIT_USAGE;
    const char *job = argv[optind];
    char *state = NULL;
    weft_engine_t *eng = NULL;
    s_src_t src = {0};
    wf_cmsg_t why;
    wf_cmsg_init(&why, WF_CMSG_WHY_R);
    s_pager_init(&src.pager, NULL, 0, 0);
    weft_request_info_t ri;
    weft_job_info_t ji;
    weft_reqid_t id = 0;
    int exit_code = WF_EXIT_USAGE;
    if (o.server) {
        src.cl = s_server_open("why", &o, &src.timeout_ms, &exit_code);
        id = src.cl ? s_server_request("why", src.cl, src.timeout_ms, o.request, &ri, &exit_code)
                    : 0;
        if (id) {
            rc = s_src_why(&src, id, job, &why);
            if (rc == WEFT_ENOTFOUND) {
                fprintf(stderr, "weft: request %llu has no job '%s'\n", (unsigned long long)id,
                        job);
                id = 0;
            } else if (rc != WEFT_OK) {
                exit_code = s_server_failed("why", src.cl, rc, &why, WF_CMSG_WHY);
                id = 0;
            }
            ji = why.jobinfo;
        }
    } else {
        state = wf_cli_state_default(o.state_opt);
        eng = s_open("why", state);
        id = eng ? s_request("why", eng, state, o.request, &ri) : 0;
        if (id && !wf_cli_find_job(eng, id, job, &ji))
            id = 0;
        src.eng = eng;
    }
    if (!id)
        goto out;
    exit_code = WF_EXIT_OK;
    int64_t now = s_wall_ms();
    char t[64], d[32], buf[WEFT_MAX_MESSAGE + 128];
    printf("Job '%s' of run %llu (%s): %s.\n", ji.id, (unsigned long long)id, ri.name,
           weft_job_state_name(ji.state));
    switch (ji.state) {
    case WEFT_JOB_PENDING:
        if (eng)
            s_why_pending(eng, id, &ji);
        else
            s_why_pending_server(&src, id, &ji, &why);
        break;
    case WEFT_JOB_READY:
        s_why_ready(&ji, eng == NULL);
        break;
    case WEFT_JOB_RUNNING:
        printf("Attempt %u has been running since %s (for %s).\n", ji.attempts,
               s_time(t, sizeof t, ji.started_ms),
               wf_cli_duration(d, sizeof d, now - ji.started_ms));
        s_why_where(&ji, true);
        if (ji.progress > 0 || ji.progress_msg[0]) {
            s_clean(buf, sizeof buf, ji.progress_msg, WEFT_MAX_MESSAGE, false);
            printf("Progress: %d%%%s%s.\n", ji.progress, buf[0] ? ": " : "", buf);
        }
        if (ji.failures)
            printf("Earlier attempts failed %u time%s (%u retr%s allowed).\n", ji.failures,
                   ji.failures == 1 ? "" : "s", ji.retries, ji.retries == 1 ? "y" : "ies");
        break;
    case WEFT_JOB_DONE:
        if (ji.reason == WEFT_REASON_CARRIED) {
            weft_job_info_t before;
            weft_reqid_t was = s_src_ran_before(&src, id, ri.session, ji.id, &before);
            if (was)
                printf("It was done in run %llu (at %s) and carried over unchanged: it did not "
                       "run again.\n",
                       (unsigned long long)was, s_time(t, sizeof t, before.finished_ms));
            else
                printf("It was done in an earlier run and carried over unchanged: it did not "
                       "run again.\n");
            break;
        }
        printf("It finished at %s after %s, in attempt %u", s_time(t, sizeof t, ji.finished_ms),
               ji.started_ms > 0 ? wf_cli_duration(d, sizeof d, ji.finished_ms - ji.started_ms)
                                 : "-",
               ji.attempts);
        if (ji.attempts > 1)
            printf(" (%u failure%s before, %u consumer%s lost)", ji.failures,
                   ji.failures == 1 ? "" : "s", ji.lost, ji.lost == 1 ? "" : "s");
        printf(".\n");
        s_why_where(&ji, false);
        break;
    case WEFT_JOB_FAILED: {
        s_failure_sentence(buf, sizeof buf, &ji);
        printf("It failed in attempt %u", ji.attempts);
        if (ji.finished_ms > 0)
            printf(" at %s", s_time(t, sizeof t, ji.finished_ms));
        if (ji.started_ms > 0 && ji.finished_ms >= ji.started_ms)
            printf(" after %s", wf_cli_duration(d, sizeof d, ji.finished_ms - ji.started_ms));
        printf(": %s.\n", buf);
        s_why_where(&ji, false);
        uint32_t used = ji.failures < ji.retries ? ji.failures : ji.retries;
        if (ji.retries)
            printf("It used %u of its %u retr%s", used, ji.retries, ji.retries == 1 ? "y" : "ies");
        else
            printf("It was allowed no retries");
        if (ji.lost)
            printf(" and lost its consumer %u time%s (%u allowed)", ji.lost,
                   ji.lost == 1 ? "" : "s", ji.lost_retries);
        printf(".\n");
        s_print_error(&ji);
        s_why_caused(&src, id, ri.njobs, &ji);
        if (o.server)
            printf("Its output: weft logs --server %s -r %llu %s\n", wf_client_server(src.cl),
                   (unsigned long long)id, ji.id);
        else
            printf("Its output: weft logs -r %llu %s\n", (unsigned long long)id, ji.id);
        break;
    }
    case WEFT_JOB_CANCELLED:
        if (ji.reason == WEFT_REASON_CANCELLED_PARENT && ji.cause[0]) {
            weft_job_info_t ci;
            if (s_src_job(&src, id, ji.cause, &ci) == WEFT_OK) {
                if (ci.state == WEFT_JOB_FAILED) {
                    s_failure_sentence(buf, sizeof buf, &ci);
                    printf("It was cancelled because '%s' failed, which it depends on: %s.\n",
                           ci.id, buf);
                } else {
                    printf("It was cancelled because '%s', which it depends on, was %s%s%s.\n",
                           ci.id, weft_job_state_name(ci.state),
                           ci.reason == WEFT_REASON_CANCELLED_USER ? " by request" : "",
                           ci.reason == WEFT_REASON_TIMEOUT ? " (timed out)" : "");
                }
                printf("(weft why -r %llu %s tells more.)\n", (unsigned long long)id, ci.id);
            } else {
                printf("It was cancelled because '%s' failed.\n", ji.cause);
            }
        } else if (ji.reason == WEFT_REASON_CANCELLED_PARENT) {
            printf("It was cancelled because a job it depends on failed.\n");
        } else {
            printf("It was cancelled by request (a cancel of the job or its run, or a "
                   "`weft run --restart`).\n");
        }
        if (ji.attempts > 0) {
            printf("It had had %u attempt%s.\n", ji.attempts, ji.attempts == 1 ? "" : "s");
            s_why_where(&ji, false);
        }
        /* A cascade names its root as every cancelled job's cause, so only a job cancelled by
         * request can be the cause of others. */
        if (ji.reason == WEFT_REASON_CANCELLED_USER)
            s_why_caused(&src, id, ri.njobs, &ji);
        break;
    case WEFT_JOB_SKIPPED:
        if (ji.reason == WEFT_REASON_SKIPPED_NO_FAILURE)
            printf("It was skipped because no parent failed or was cancelled: it runs only "
                   "after a failure (when: failure).\n");
        else if (ji.cause[0])
            printf("It was skipped because '%s', which it depends on, was skipped, and it runs "
                   "only when every parent is done (when: success).\n",
                   ji.cause);
        else
            printf("It was skipped because a parent was skipped (when: success).\n");
        s_why_caused(&src, id, ri.njobs, &ji);
        break;
    default:
        printf("Its reason: %s.\n", weft_reason_name(ji.reason));
        break;
    }
out:
    wf_cmsg_fini(&why);
    s_pager_fini(&src.pager);
    wf_client_close(&src.cl);
    weft_engine_close(&eng);
    free(state);
    return exit_code;
}

/* ---- weft dot ---- */

/* Write s as a double-quoted DOT string. */
static void
s_dot_quote(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            putchar(' ');
        else
            putchar(c);
    }
    putchar('"');
}

static void
s_dot_node(const char *id, int state)
{
    static const char *const fill[WEFT_JOB_STATE_COUNT_] = {
        [WEFT_JOB_PENDING] = "white", [WEFT_JOB_READY] = "lightblue",
        [WEFT_JOB_RUNNING] = "blue",  [WEFT_JOB_DONE] = "green",
        [WEFT_JOB_FAILED] = "red",    [WEFT_JOB_CANCELLED] = "orange",
        [WEFT_JOB_SKIPPED] = "grey",
    };
    printf("  ");
    s_dot_quote(id);
    if (state < 0 || state >= WEFT_JOB_STATE_COUNT_) {
        printf(";\n");
        return;
    }
    /* "\n" is DOT's own line break in a label, not a C escape. */
    printf(" [label=\"");
    for (const char *p = id; *p; p++)
        printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
    printf("\\n%s\", style=\"rounded,filled\", fillcolor=\"%s\"%s];\n", weft_job_state_name(state),
           fill[state], state == WEFT_JOB_RUNNING ? ", fontcolor=\"white\"" : "");
}

static void
s_dot_edge(const char *parent, const char *child, int when)
{
    printf("  ");
    s_dot_quote(parent);
    printf(" -> ");
    s_dot_quote(child);
    /* Edges into jobs that run on failure (or always) look different from the success path. */
    if (when == WEFT_WHEN_ALWAYS)
        printf(" [style=dashed]");
    else if (when == WEFT_WHEN_FAILURE)
        printf(" [style=dotted]");
    printf(";\n");
}

static void
s_dot_open(const char *name)
{
    printf("digraph ");
    s_dot_quote(name);
    printf(" {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
}

/* Draw a workflow file, coloured by the newest run of its session when the state has one. */
static int
s_dot_file(const char *file, const s_opts_t *o)
{
    wf_workflow_t *wf = NULL;
    wf_diags_t diags = {0};
    int errors = wf_workflow_load(file, o->params, o->nparams, &wf, &diags);
    wf_diags_print(&diags, stderr);
    wf_diags_fini(&diags);
    if (errors) {
        fprintf(stderr, "%s: %d error%s\n", file, errors, errors == 1 ? "" : "s");
        return WF_EXIT_USAGE;
    }
    char *state = wf_cli_state_for_file(file, o->state_opt);
    char *session = wf_cli_session_for_file(file);
    weft_engine_t *eng = s_has_state(state) ? wf_cli_open_readonly(state) : NULL;
    weft_reqid_t id = eng ? wf_cli_latest_request(eng, session) : 0;
    s_dot_open(wf->name);
    for (size_t i = 0; i < wf->njobs; i++) {
        weft_job_info_t ji;
        int st = -1;
        /* A job the file has but the run had not (the file changed) stays uncoloured. */
        if (id && weft_job_status(eng, id, wf->jobs[i].id, &ji) == WEFT_OK)
            st = (int)ji.state;
        s_dot_node(wf->jobs[i].id, st);
    }
    for (size_t i = 0; i < wf->njobs; i++)
        for (size_t k = 0; k < wf->jobs[i].nneeds; k++)
            s_dot_edge(wf->jobs[i].needs[k], wf->jobs[i].id, wf->jobs[i].when);
    printf("}\n");
    weft_engine_close(&eng);
    free(session);
    free(state);
    wf_workflow_free(&wf);
    return WF_EXIT_OK;
}

/* A run's graph, from wherever it comes: job i's id, state and rule (false: it cannot be read,
 * and is left out with its edges), and job i's parents (borrowed until the next call). */
typedef struct s_dot_src {
    bool (*job)(void *arg, uint32_t i, const char **id, int *state, int *when);
    bool (*needs)(void *arg, uint32_t i, const uint32_t **needs, size_t *n);
    void *arg;
} s_dot_src_t;

/* Draw a run of njobs jobs: every node in index order, then every edge in its child's order. */
static void
s_dot_write_run(const char *name, weft_reqid_t id, uint32_t njobs, const s_dot_src_t *src)
{
    char **ids = s_alloc(sizeof *ids * (njobs ? njobs : 1));
    uint8_t *when = s_alloc(njobs ? njobs : 1);
    char *title = s_printf("%s (run %llu)", name, (unsigned long long)id);
    s_dot_open(title);
    free(title);
    for (uint32_t i = 0; i < njobs; i++) {
        const char *jid;
        int state, w;
        if (!src->job(src->arg, i, &jid, &state, &w))
            continue;
        ids[i] = s_dup(jid);
        when[i] = (uint8_t)w;
        s_dot_node(jid, state);
    }
    for (uint32_t i = 0; i < njobs; i++) {
        const uint32_t *needs;
        size_t n = 0;
        if (!ids[i] || !src->needs(src->arg, i, &needs, &n))
            continue;
        for (size_t k = 0; k < n; k++)
            if (needs[k] < njobs && ids[needs[k]])
                s_dot_edge(ids[needs[k]], ids[i], when[i]);
    }
    printf("}\n");
    for (uint32_t i = 0; i < njobs; i++)
        free(ids[i]);
    free(ids);
    free(when);
}

/* The state directory as a DOT source. */
typedef struct s_dot_local {
    weft_engine_t *eng;
    weft_reqid_t id;
    weft_job_info_t ji; /* the last job read */
    uint32_t *needs;
    size_t cap;
} s_dot_local_t;

static bool
s_dot_local_job(void *arg, uint32_t i, const char **id, int *state, int *when)
{
    s_dot_local_t *l = arg;
    if (weft_job_status_at(l->eng, l->id, i, &l->ji) != WEFT_OK)
        return false;
    *id = l->ji.id;
    *state = (int)l->ji.state;
    *when = (int)l->ji.when;
    return true;
}

static bool
s_dot_local_needs(void *arg, uint32_t i, const uint32_t **needs, size_t *n_p)
{
    s_dot_local_t *l = arg;
    size_t n = 0;
    if (weft_job_needs(l->eng, l->id, i, l->needs, l->cap, &n) != WEFT_OK)
        return false;
    if (n > l->cap) {
        free(l->needs);
        l->cap = n;
        l->needs = s_alloc(sizeof *l->needs * l->cap);
        if (weft_job_needs(l->eng, l->id, i, l->needs, l->cap, &n) != WEFT_OK)
            return false;
    }
    *needs = l->needs;
    *n_p = n < l->cap ? n : l->cap;
    return true;
}

/* Draw a request from the state directory. */
static int
s_dot_request(const char *arg, const s_opts_t *o)
{
    weft_reqid_t probe;
    if (!wf_cli_parse_reqid(arg, &probe)) {
        fprintf(stderr, "weft dot: '%s' is neither a file nor a request id (like 12 or r12)\n",
                arg);
        return WF_EXIT_USAGE;
    }
    char *state = wf_cli_state_default(o->state_opt);
    weft_engine_t *eng = s_open("dot", state);
    weft_request_info_t ri;
    weft_reqid_t id = eng ? s_request("dot", eng, state, arg, &ri) : 0;
    if (!id) {
        weft_engine_close(&eng);
        free(state);
        return WF_EXIT_USAGE;
    }
    s_dot_local_t l = {.eng = eng, .id = id};
    s_dot_src_t src = {s_dot_local_job, s_dot_local_needs, &l};
    s_dot_write_run(ri.name, id, ri.njobs, &src);
    free(l.needs);
    weft_engine_close(&eng);
    free(state);
    return WF_EXIT_OK;
}

/* A server as a DOT source: every GRAPH page of the run, read before anything is printed (so a
 * server lost half-way prints nothing rather than half a graph).  Page p answers for indexes
 * [next - nnodes, next) of its reply. */
typedef struct s_dot_remote {
    wf_cmsg_t *pages;
    size_t npages;
} s_dot_remote_t;

static const wf_cnode_t *
s_dot_remote_node(const s_dot_remote_t *r, uint32_t i)
{
    size_t lo = 0, hi = r->npages;
    while (lo < hi) { /* the first page whose next is above i */
        size_t mid = lo + (hi - lo) / 2;
        if (r->pages[mid].next <= i)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == r->npages)
        return NULL;
    const wf_cmsg_t *p = &r->pages[lo];
    uint32_t first = p->next - p->nnodes;
    return i >= first ? &p->nodes[i - first] : NULL;
}

static bool
s_dot_remote_job(void *arg, uint32_t i, const char **id, int *state, int *when)
{
    const wf_cnode_t *n = s_dot_remote_node(arg, i);
    if (!n)
        return false;
    *id = n->id;
    *state = (int)n->state;
    *when = (int)n->when;
    return true;
}

static bool
s_dot_remote_needs(void *arg, uint32_t i, const uint32_t **needs, size_t *n_p)
{
    const wf_cnode_t *n = s_dot_remote_node(arg, i);
    if (!n)
        return false;
    *needs = n->needs;
    *n_p = n->nneeds;
    return true;
}

/* `weft dot REQUEST --server`: the request's header (STATUS past its last job: no rows, and no
 * counts to make the server read every job), then its GRAPH pages. */
static int
s_dot_server(const char *arg, const s_opts_t *o)
{
    weft_reqid_t id;
    if (s_is_file(arg)) {
        fprintf(stderr, "weft dot: with --server, give a run (12 or r12), not a file\n");
        return WF_EXIT_USAGE;
    }
    if (!wf_cli_parse_reqid(arg, &id)) {
        fprintf(stderr, "weft dot: '%s' is not a request id (like 12 or r12)\n", arg);
        return WF_EXIT_USAGE;
    }
    int timeout_ms, exit_code;
    wf_client_t *c = s_server_open("dot", o, &timeout_ms, &exit_code);
    if (!c)
        return exit_code;
    wf_cmsg_t m, head;
    wf_cmsg_init(&m, WF_CMSG_STATUS);
    m.req = id;
    m.offset = WF_MAX_JOBS_PER_REQUEST;
    m.limit = 1;
    s_dot_remote_t r = {0};
    size_t cap = 0;
    int asked = WF_CMSG_STATUS; /* the call that failed, for its message */
    int rc = wf_client_call(c, &m, &head, timeout_ms);
    exit_code = WF_EXIT_FAILED;
    if (rc == WEFT_ENOTFOUND) {
        fprintf(stderr, "weft dot: no request %llu on %s\n", (unsigned long long)id,
                wf_client_server(c));
        exit_code = WF_EXIT_USAGE;
        goto out;
    }
    if (rc != WEFT_OK || head.kind != WF_CMSG_STATUS_R)
        goto failed;
    uint32_t total = head.info.njobs;
    for (uint32_t next = 0; next < total;) {
        if (r.npages == cap) {
            cap = cap ? 2 * cap : 8;
            r.pages = realloc(r.pages, cap * sizeof *r.pages);
            if (!r.pages)
                abort();
        }
        wf_cmsg_t *p = &r.pages[r.npages];
        wf_cmsg_init(&m, WF_CMSG_GRAPH);
        asked = WF_CMSG_GRAPH;
        m.req = id;
        m.offset = next;
        m.limit = WF_CLIENT_MAX_PAGE;
        rc = wf_client_call(c, &m, p, timeout_ms);
        if (rc != WEFT_OK || p->kind != WF_CMSG_GRAPH_R) {
            wf_cmsg_fini(&head);
            head = *p; /* the ERROR, for the message below */
            goto failed;
        }
        r.npages++;
        /* A page must start where it was asked to and move on, or this would never end. */
        if (p->total != total || p->next <= next || p->next - p->nnodes != next) {
            fprintf(stderr,
                    "weft dot: the server's graph of run %llu does not add up (asked from job "
                    "%u, got jobs %u..%u of %u)\n",
                    (unsigned long long)id, next, p->next - p->nnodes, p->next, p->total);
            goto out;
        }
        next = p->next;
    }
    s_dot_src_t src = {s_dot_remote_job, s_dot_remote_needs, &r};
    s_dot_write_run(head.info.name, id, total, &src);
    exit_code = WF_EXIT_OK;
    goto out;
failed:
    /* A server older than paging and GRAPH answers either with ERROR WEFT_EPROTO. */
    if (rc == WEFT_EPROTO && head.kind == WF_CMSG_ERROR)
        fprintf(stderr,
                "weft dot: the server at %s cannot draw runs (it is older than this weft): %s\n",
                wf_client_server(c), wf_client_errmsg(c));
    else
        exit_code = s_server_failed("dot", c, rc, &head, asked);
out:
    for (size_t i = 0; i < r.npages; i++)
        wf_cmsg_fini(&r.pages[i]);
    free(r.pages);
    wf_cmsg_fini(&head);
    wf_client_close(&c);
    return exit_code;
}

int
weft_cmd_dot(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, S_OPT_STATE},
        {"param", required_argument, NULL, 'p'},
        S_SERVER_LONGOPTS,
    };
    static const char usage[] = "usage: weft dot [--state DIR | --server tcp://HOST:PORT] "
                                "[-p NAME=VALUE]... FILE|REQUEST  (weft dot --help)";
    static const char help[] =
        "usage: weft dot [--state DIR] [-p NAME=VALUE]... FILE|REQUEST\n"
        "       weft dot --server tcp://HOST:PORT REQUEST\n"
        "\n"
        "Print the job graph in Graphviz DOT format (render it with `dot -Tsvg`), one node per\n"
        "job and an edge from each parent to the job that needs it.  FILE: a workflow file,\n"
        "coloured by the newest run of it in its state directory if there is one; REQUEST: a\n"
        "run (12 or r12) in the state directory, or on a server with --server (the same\n"
        "output).  An existing file wins over a run id.\n"
        "Colours: done green, failed red, cancelled orange, skipped grey, running blue,\n"
        "ready light blue, pending white.  Edges into `when: always` jobs are dashed, into\n"
        "`when: failure` jobs dotted.\n"
        "\n"
        "      --state DIR            the state directory (default: .weft beside FILE, or\n"
        "                             ./.weft for a REQUEST)\n"
        "  -p, --param NAME=VALUE     give a param of FILE a value (repeatable)\n"
        "      --server tcp://HOST:PORT\n"
        "                             draw REQUEST as this weft server has it (its base\n"
        "                             address, as `weft serve --bind` takes it)\n"
        "      --timeout S            with --server: seconds to wait for each answer (10)\n"
        "      --server-key FILE|KEY, --key FILE\n"
        "                             with --server: CURVE, the server's public key and your\n"
        "                             secret key file (default: $WEFT_SERVER_KEY, $WEFT_KEY)\n"
        "  -h, --help                 this text\n"
        "\n"
        "exit status: 0 printed, 1 the server could not be reached, 2 bad usage, an invalid\n"
        "file or no such run\n";
    s_opts_t o = {0};
    o.params = s_alloc(sizeof *o.params * ((size_t)argc + 1));
    int rc = s_getopt(argc, argv, "p:h", longopts, help, usage, &o);
    if (rc == WF_EXIT_OK && optind != argc - 1) {
        fprintf(stderr, "%s\n", usage);
        rc = WF_EXIT_USAGE;
    }
    if (rc == WF_EXIT_OK && !s_keys_need_server("dot", &o))
        rc = WF_EXIT_USAGE;
    if (rc == WF_EXIT_OK)
        rc = o.server                 ? s_dot_server(argv[optind], &o)
             : s_is_file(argv[optind]) ? s_dot_file(argv[optind], &o)
                                       : s_dot_request(argv[optind], &o);
    free(o.params);
    return rc < 0 ? WF_EXIT_OK : rc;
}
