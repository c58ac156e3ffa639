/*
 * cmd_client.c -- the verbs of the `weft` command that talk to a server (`weft serve`) over the
 * client protocol: submit, watch, cancel, retry, workers, pause, resume and drain.
 * (`status --server` and `why --server` live with their local versions in cmd_inspect.c.)
 *
 * Every verb takes --server tcp://HOST:PORT (or $WEFT_SERVER; default tcp://127.0.0.1:7400),
 * the server's BASE address as `weft serve --bind` takes it: requests go to PORT+1, events
 * come from PORT+2.  --timeout SECONDS (default 10) bounds every wait for an answer, so a
 * server that is not there is reported at once, not waited for.  With --server-key and --key
 * ($WEFT_SERVER_KEY, $WEFT_KEY) both sockets use CURVE (docs/security.md); a server that
 * refuses the key is reported as such at once (client.h).
 *
 * submit's idempotency key is --idempotency-key (--key is the CURVE key file, as everywhere).
 *
 * Exit statuses (cli.h): 0 done (watch: the request succeeded), 1 the request failed or was
 * cancelled, the server refused (nothing to retry, already finished) or could not be reached,
 * 2 bad usage, an invalid file, or an unknown request or job.
 *
 * Following a request (watch, submit --wait): subscribe to its events FIRST, then read its
 * STATUS (so nothing that happens after the status is missed), then print one line per change
 * until it finishes.  STATUS is read page by page (wf_client_status_page), so a request of any
 * size can be followed; per job only its last state and progress are kept (2 bytes).  A WAIT
 * is also outstanding, so an event the slow subscription missed cannot leave the watch hanging,
 * and a PING every few seconds notices a server that went away.  Text that jobs supply (error
 * messages) is printed with control bytes as '?'.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "proto.h"
#include "workflow.h"

/* PING a followed server this often: a dead server is noticed within this + --timeout. */
#define S_PING_MS 5000
/* Re-send WAIT this often while following: a server restarted meanwhile forgot the first. */
#define S_REWAIT_MS 60000
/* drain asks again this often to show how many jobs still run. */
#define S_DRAIN_ASK_MS 2000
/* After the request finished (by WAIT), how long to take the events still on their way. */
#define S_TAIL_MS 300
/* SUBMIT waits --timeout plus 1 ms per this many jobs: storing 10^6 jobs takes seconds. */
#define S_SUBMIT_JOBS_PER_MS 10

enum {
    S_OPT_SERVER = 2000,
    S_OPT_TIMEOUT,
    S_OPT_SERVER_KEY,
    S_OPT_KEY,
    S_OPT_IDEMPOTENCY_KEY,
    S_OPT_WAIT,
    S_OPT_SESSION
};

#define S_SERVER_HELP                                                                              \
    "      --server tcp://HOST:PORT\n"                                                             \
    "                           the server's base address, as `weft serve --bind` takes\n"         \
    "                           it: requests go to PORT+1, events come from PORT+2\n"              \
    "                           (default: $WEFT_SERVER, else tcp://127.0.0.1:7400)\n"              \
    "      --timeout SECONDS    how long to wait for an answer (default 10)\n"                     \
    "      --server-key FILE|KEY\n"                                                                \
    "                           CURVE: the server's public key, its server.pub file or the\n"      \
    "                           40-character key (default: $WEFT_SERVER_KEY)\n"                    \
    "      --key FILE           CURVE: your secret key file, as `weft keygen` writes it\n"         \
    "                           (default: $WEFT_KEY); its NAME.pub must be in the server's\n"      \
    "                           clients/ key directory (docs/security.md)\n"                       \
    "  -h, --help               this text\n"

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
wf_cli_timeout_ok(const char *verb, const char *arg, int *ms_p)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || !end || end == arg || *end || !(v > 0) || v > 86400) {
        fprintf(stderr,
                "weft %s: --timeout wants seconds, more than 0 and at most 86400, got "
                "'%s'\n",
                verb, arg);
        return false;
    }
    *ms_p = (int)(v * 1000.0);
    if (*ms_p < 1)
        *ms_p = 1;
    return true;
}

int
wf_cli_client_exit(int rc)
{
    switch (rc) {
    case WEFT_OK:
        return WF_EXIT_OK;
    case WEFT_ENOTFOUND:
    case WEFT_EINVAL:
    case WEFT_ECYCLE:
    case WEFT_ELIMIT:
    case WEFT_ETOOBIG:
        return WF_EXIT_USAGE;
    default:
        return WF_EXIT_FAILED;
    }
}

/* The options every client verb shares. */
typedef struct s_common {
    const char *server;
    int timeout_ms;
    const char *server_key; /* --server-key; NULL: $WEFT_SERVER_KEY or none */
    const char *key;        /* --key; NULL: $WEFT_KEY or none */
} s_common_t;

/* Handle a shared option; false when `c` is not one of them. *rc gets an exit status when the
 * option was bad. */
static bool
s_common_opt(const char *verb, int c, s_common_t *o, int *rc)
{
    switch (c) {
    case S_OPT_SERVER:
        o->server = optarg;
        return true;
    case S_OPT_TIMEOUT:
        if (!wf_cli_timeout_ok(verb, optarg, &o->timeout_ms))
            *rc = WF_EXIT_USAGE;
        return true;
    case S_OPT_SERVER_KEY:
    case S_OPT_KEY:
        if (!*optarg) {
            fprintf(stderr, "weft %s: %s wants a %s\n", verb,
                    c == S_OPT_KEY ? "--key" : "--server-key",
                    c == S_OPT_KEY ? "key file" : "key or a key file");
            *rc = WF_EXIT_USAGE;
        }
        *(c == S_OPT_KEY ? &o->key : &o->server_key) = optarg;
        return true;
    default:
        return false;
    }
}

/* Connect to the server; prints why not and returns NULL. */
static wf_client_t *
s_connect(const char *verb, const s_common_t *o)
{
    wf_client_t *c = NULL;
    char err[1024] = "";
    wf_client_keys_t keys;
    if (!wf_client_keys_default(&keys, o->server_key, o->key, err, sizeof err) ||
        wf_client_open(&c, wf_client_server_default(o->server), &keys, err, sizeof err) !=
            WEFT_OK) {
        fprintf(stderr, "weft %s: %s\n", verb, err);
        return NULL;
    }
    return c;
}

/* Report a failed call; returns the exit status it means. */
static int
s_call_failed(const char *verb, wf_client_t *c, int rc)
{
    const char *msg = wf_client_errmsg(c);
    fprintf(stderr, "weft %s: %s\n", verb, msg[0] ? msg : weft_strerror(rc));
    return wf_cli_client_exit(rc);
}

/* Copy job-supplied text with control bytes as '?' (newlines kept when keep_nl). */
static void
s_clean(char *dst, size_t cap, const char *src, bool keep_nl)
{
    size_t n = 0;
    for (; *src && n + 1 < cap; src++) {
        unsigned char ch = (unsigned char)*src;
        dst[n++] = (ch < 0x20 && !(keep_nl && ch == '\n')) || ch == 0x7f ? '?' : (char)ch;
    }
    dst[n] = 0;
}

static void
s_print_counts(const weft_request_info_t *ri)
{
    bool first = true;
    for (int s = 0; s < WEFT_JOB_STATE_COUNT_; s++) {
        if (!ri->count[s])
            continue;
        printf("%s%u %s", first ? "" : ", ", ri->count[s], weft_job_state_name(s));
        first = false;
    }
}

/* ---- following a request ---- */

typedef struct s_follow {
    wf_client_t *c;
    const char *verb;
    uint64_t id;
    int timeout_ms;
    uint32_t njobs;
    uint8_t *state;    /* per job: last state known */
    uint8_t *progress; /* per job: last progress shown */
} s_follow_t;

static void
s_event_line(s_follow_t *f, const weft_event_t *e)
{
    if (e->job_index >= f->njobs)
        return;
    bool changed = f->state[e->job_index] != (uint8_t)e->state;
    bool progressed = !changed && e->state == WEFT_JOB_RUNNING && e->progress > 0 &&
                      f->progress[e->job_index] != (uint8_t)e->progress;
    f->state[e->job_index] = (uint8_t)e->state;
    if (e->progress >= 0 && e->progress <= 100)
        f->progress[e->job_index] = (uint8_t)e->progress;
    if (!changed && !progressed)
        return;
    /* Ready is news only when it says why a job is back on the board. */
    if (e->state == WEFT_JOB_READY && e->reason != WEFT_REASON_BACKOFF &&
        e->reason != WEFT_REASON_REQUEUED)
        return;
    char when[16] = "--:--:--";
    time_t t = (time_t)(e->time_ms / 1000);
    struct tm tm;
    if (e->time_ms > 0 && localtime_r(&t, &tm))
        strftime(when, sizeof when, "%H:%M:%S", &tm);
    if (progressed) {
        printf("%s %s: %d%%\n", when, e->job, e->progress);
    } else {
        printf("%s %s: %s", when, e->job, weft_job_state_name(e->state));
        if (e->state == WEFT_JOB_RUNNING)
            printf(" (attempt %u)", e->attempt);
        else if (e->state != WEFT_JOB_DONE && e->reason != WEFT_REASON_NONE)
            printf(" (%s)", weft_reason_name(e->reason));
        printf("\n");
    }
    fflush(stdout);
}

/* One page of f->id's jobs, from `offset` on, into *page (wf_client_status_page: the info's
 * counts are filled for offset 0 only); prints why not and returns an exit status. */
static int
s_status_page(s_follow_t *f, uint32_t offset, wf_cmsg_t *page)
{
    int rc = wf_client_status_page(f->c, f->id, offset, page, f->timeout_ms);
    if (rc == WEFT_OK && page->kind != WF_CMSG_STATUS_R) {
        fprintf(stderr, "weft %s: the server answered STATUS with %s\n", f->verb,
                wf_cmsg_kind_name(page->kind));
        return WF_EXIT_FAILED;
    }
    if (rc != WEFT_OK)
        return s_call_failed(f->verb, f->c, rc);
    return WF_EXIT_OK;
}

/* Where the page after `page` (read from offset) starts.  Pages start at multiples of
 * WF_CLIENT_MAX_PAGE (a row the server could not read is left out, so a page may be short);
 * a server older than paging answers offset 0 with the whole request. */
static uint32_t
s_next_page(uint32_t offset, const wf_cmsg_t *page)
{
    return offset + (page->njobs > WF_CLIENT_MAX_PAGE ? page->njobs : WF_CLIENT_MAX_PAGE);
}

/* Remember the state and progress of a page's jobs, so events print only what changed. */
static void
s_note_rows(s_follow_t *f, const wf_cmsg_t *page)
{
    for (uint32_t i = 0; i < page->njobs; i++) {
        const wf_cjobinfo_t *j = &page->cjobs[i];
        if (j->index >= f->njobs)
            continue;
        f->state[j->index] = (uint8_t)j->state;
        f->progress[j->index] = (uint8_t)(j->progress >= 0 && j->progress <= 100 ? j->progress : 0);
    }
}

/* How each failed job of a page failed; returns how many there were. */
static uint32_t
s_print_failed(const wf_cmsg_t *page)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < page->njobs; i++) {
        const wf_cjobinfo_t *ji = &page->cjobs[i];
        if (ji->state != WEFT_JOB_FAILED)
            continue;
        n++;
        printf("failed: %s: ", ji->id);
        if (ji->reason == WEFT_REASON_TIMEOUT)
            printf("timed out");
        else if (ji->reason == WEFT_REASON_LOST)
            printf("its consumer was lost");
        else if (ji->exit_code > 128)
            printf("killed by signal %d", ji->exit_code - 128);
        else
            printf("exit status %d", ji->exit_code);
        printf(" (attempt %u, retries: %u)\n", ji->attempts, ji->retries);
        if (ji->error && ji->error[0]) {
            char clean[WEFT_MAX_MESSAGE + 1];
            s_clean(clean, sizeof clean, ji->error, true);
            for (char *line = clean; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                    *nl = 0;
                printf("  | %s\n", line);
                line = nl ? nl + 1 : NULL;
            }
        }
    }
    return n;
}

/* The outcome line (from first, the page at offset 0) and, for every failed job, how it
 * failed: first's rows, then further pages only until every failed job its counts announce
 * has been shown, so a big request that succeeded costs one page.  Returns an exit status:
 * WF_EXIT_OK unless a page could not be read (said on stderr). */
static int
s_summary(s_follow_t *f, const wf_cmsg_t *first)
{
    const weft_request_info_t *ri = &first->info;
    char dur[32];
    printf("request %llu (%s) %s in %s", (unsigned long long)ri->id, ri->name,
           weft_req_state_name(ri->state),
           wf_cli_duration(dur, sizeof dur,
                           ri->finished_ms > 0 ? ri->finished_ms - ri->created_ms : 0));
    if (ri->njobs) {
        printf(": ");
        s_print_counts(ri);
    }
    printf("\n");
    uint32_t shown = s_print_failed(first);
    int exit_code = WF_EXIT_OK;
    for (uint32_t off = s_next_page(0, first);
         exit_code == WF_EXIT_OK && shown < ri->count[WEFT_JOB_FAILED] && off < ri->njobs;) {
        wf_cmsg_t page;
        fflush(stdout);
        exit_code = s_status_page(f, off, &page);
        if (exit_code == WF_EXIT_OK) {
            shown += s_print_failed(&page);
            off = s_next_page(off, &page);
        }
        wf_cmsg_fini(&page);
    }
    fflush(stdout);
    return exit_code;
}

/* Follow request id until it finishes: 0 succeeded, 1 failed or cancelled (or the server was
 * lost), 2 no such request. */
static int
s_follow(wf_client_t *c, const char *verb, uint64_t id, int timeout_ms)
{
    s_follow_t f = {c, verb, id, timeout_ms, 0, NULL, NULL};
    int rc = wf_client_subscribe(c, id);
    if (rc != WEFT_OK)
        return s_call_failed(verb, c, rc);
    wf_cmsg_t st; /* the first page of the STATUS: the request's info with its counts */
    int exit_code = s_status_page(&f, 0, &st);
    if (exit_code != WF_EXIT_OK) {
        wf_cmsg_fini(&st);
        return exit_code;
    }
    printf("request %llu (%s): %s; %u job%s", (unsigned long long)id, st.info.name,
           weft_req_state_name(st.info.state), st.info.njobs, st.info.njobs == 1 ? "" : "s");
    if (st.info.njobs) {
        printf(": ");
        s_print_counts(&st.info);
    }
    printf("\n");
    fflush(stdout);
    int final = st.info.state == WEFT_REQ_RUNNING ? -1 : (int)st.info.state;
    f.njobs = st.info.njobs;
    f.state = calloc(f.njobs ? f.njobs : 1, 1);
    f.progress = calloc(f.njobs ? f.njobs : 1, 1);
    if (!f.state || !f.progress)
        abort();
    s_note_rows(&f, &st);
    /* Still running: the other jobs' states too, page by page, before following events. */
    for (uint32_t off = s_next_page(0, &st); final < 0 && off < f.njobs;) {
        wf_cmsg_t page;
        exit_code = s_status_page(&f, off, &page);
        if (exit_code == WF_EXIT_OK) {
            s_note_rows(&f, &page);
            off = s_next_page(off, &page);
        }
        wf_cmsg_fini(&page);
        if (exit_code != WF_EXIT_OK)
            goto out;
    }

    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_WAIT);
    m.req = id;
    int64_t now = s_now_ms(), last_wait = now, last_ping = now, ping_sent = 0;
    bool seen_end = false;
    if (final < 0 && (rc = wf_client_send(c, &m)) != WEFT_OK) {
        exit_code = s_call_failed(verb, c, rc);
        goto out;
    }
    uint64_t wait_corr = m.corr;
    while (final < 0) {
        int ready = wf_client_poll(c, 1000);
        if (ready < 0) {
            fprintf(stderr, "weft %s: %s\n", verb, wf_client_errmsg(c));
            exit_code = WF_EXIT_FAILED;
            goto out;
        }
        weft_event_t e;
        while (final < 0 && (ready & WF_CLIENT_READY_EVENT) &&
               wf_client_next_event(c, &e, 0) == WEFT_OK) {
            if (e.request != id)
                continue;
            if (e.job_index == WF_CLIENT_NO_JOB) {
                if (e.state != WEFT_REQ_RUNNING) {
                    final = e.state;
                    seen_end = true;
                }
            } else {
                s_event_line(&f, &e);
            }
        }
        wf_cmsg_t r;
        while (final < 0 && (ready & WF_CLIENT_READY_REPLY) &&
               (rc = wf_client_recv(c, &r, 0)) != WEFT_ETIMEDOUT) {
            if (rc == WEFT_OK) {
                ping_sent = 0; /* any answer shows the server is there */
                if (r.kind == WF_CMSG_FINISHED && r.req == id && r.state != WEFT_REQ_RUNNING) {
                    final = (int)r.state;
                } else if (r.kind == WF_CMSG_ERROR && r.corr == wait_corr) {
                    exit_code = s_call_failed(verb, c, r.code ? (int)r.code : WEFT_EPROTO);
                    wf_cmsg_fini(&r);
                    goto out;
                }
            } else if (rc != WEFT_EPROTO) {
                wf_cmsg_fini(&r);
                exit_code = s_call_failed(verb, c, rc);
                goto out;
            }
            wf_cmsg_fini(&r);
        }
        now = s_now_ms();
        if (final >= 0)
            break;
        if (ping_sent && now - ping_sent > timeout_ms) {
            fprintf(stderr, "weft %s: lost the server: no answer from %s within %d s\n", verb,
                    wf_client_server(c), (timeout_ms + 999) / 1000);
            exit_code = WF_EXIT_FAILED;
            goto out;
        }
        if (!ping_sent && now - last_ping >= S_PING_MS) {
            wf_cmsg_t p;
            wf_cmsg_init(&p, WF_CMSG_PING);
            if (wf_client_send(c, &p) == WEFT_OK)
                ping_sent = now;
            last_ping = now;
        }
        if (now - last_wait >= S_REWAIT_MS) {
            wf_cmsg_init(&m, WF_CMSG_WAIT);
            m.req = id;
            if (wf_client_send(c, &m) == WEFT_OK)
                wait_corr = m.corr;
            last_wait = now;
        }
    }
    /* Finished by WAIT: the last transitions may still be on their way on the other socket. */
    int64_t tail_end = s_now_ms() + S_TAIL_MS;
    while (!seen_end && st.info.state == WEFT_REQ_RUNNING) {
        int64_t left = tail_end - s_now_ms();
        weft_event_t e;
        if (left <= 0 || wf_client_next_event(c, &e, (int)left) != WEFT_OK)
            break;
        if (e.request != id)
            continue;
        if (e.job_index == WF_CLIENT_NO_JOB)
            seen_end = e.state != WEFT_REQ_RUNNING;
        else
            s_event_line(&f, &e);
    }
    if (st.info.state == WEFT_REQ_RUNNING) {
        wf_cmsg_fini(&st);
        exit_code = s_status_page(&f, 0, &st);
        if (exit_code != WF_EXIT_OK)
            goto out;
    }
    exit_code = s_summary(&f, &st);
    if (exit_code == WF_EXIT_OK)
        exit_code = st.info.state == WEFT_REQ_SUCCEEDED ? WF_EXIT_OK : WF_EXIT_FAILED;
out:
    wf_cmsg_fini(&st);
    free(f.state);
    free(f.progress);
    return exit_code;
}

/* ---- weft submit ---- */

int
weft_cmd_submit(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"param", required_argument, NULL, 'p'},
        {"idempotency-key", required_argument, NULL, S_OPT_IDEMPOTENCY_KEY},
        {"session", required_argument, NULL, S_OPT_SESSION},
        {"wait", no_argument, NULL, S_OPT_WAIT},
        {"server", required_argument, NULL, S_OPT_SERVER},
        {"timeout", required_argument, NULL, S_OPT_TIMEOUT},
        {"server-key", required_argument, NULL, S_OPT_SERVER_KEY},
        {"key", required_argument, NULL, S_OPT_KEY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    s_common_t o = {.timeout_ms = WF_CLIENT_DEFAULT_TIMEOUT_MS};
    const char **params = calloc((size_t)argc + 1, sizeof *params);
    if (!params)
        abort();
    size_t nparams = 0;
    const char *key = NULL, *session_opt = NULL;
    bool wait = false;
    int c, rc = WF_EXIT_OK;
    optind = 1;
    while (rc == WF_EXIT_OK && (c = getopt_long(argc, argv, "p:h", longopts, NULL)) != -1) {
        if (s_common_opt("submit", c, &o, &rc))
            continue;
        switch (c) {
        case 'p':
            if (!wf_cli_param_ok(optarg))
                rc = WF_EXIT_USAGE;
            params[nparams++] = optarg;
            break;
        case S_OPT_IDEMPOTENCY_KEY:
            key = optarg;
            break;
        case S_OPT_SESSION:
            session_opt = optarg;
            break;
        case S_OPT_WAIT:
            wait = true;
            break;
        case 'h':
            printf(
                "usage: weft submit [OPTIONS] FILE\n"
                "\n"
                "Submit the workflow FILE to a weft server.  The file is checked here first,\n"
                "as `weft validate` does; the request's id is printed once the server has\n"
                "stored the request durably.  The server's warnings (a job type no connected\n"
                "worker serves, say) go to stderr.\n"
                "\n"
                "  -p, --param NAME=VALUE   give a param a value (repeatable)\n"
                "      --idempotency-key KEY\n"
                "                           submitting again with the same KEY gives the first\n"
                "                           request's id, not a new one\n"
                "      --session NAME       the request's session (default: file:<FILE's name>)\n"
                "      --wait               then follow the request as `weft watch` "
                "does\n" S_SERVER_HELP "\n"
                "Storing a big request takes a while: the answer to the submission itself is\n"
                "waited for --timeout plus 1 s per 10,000 jobs.\n"
                "\n"
                "exit status: 0 submitted (--wait: and succeeded), 1 the server could not be\n"
                "reached or refused it (--wait: or the request failed or was cancelled),\n"
                "2 invalid file or arguments\n");
            free(params);
            return WF_EXIT_OK;
        default:
            rc = WF_EXIT_USAGE;
            break;
        }
    }
    if (rc == WF_EXIT_OK && optind != argc - 1) {
        fprintf(stderr, "usage: weft submit [OPTIONS] FILE  (weft submit --help)\n");
        rc = WF_EXIT_USAGE;
    }
    if (rc == WF_EXIT_OK && key && !wf_name_ok(key, strlen(key))) {
        fprintf(stderr,
                "weft submit: --idempotency-key wants 1 to %d characters of [A-Za-z0-9_.:-], "
                "got '%s'\n",
                WF_MAX_NAME, key);
        rc = WF_EXIT_USAGE;
    }
    if (rc == WF_EXIT_OK && session_opt && !wf_name_ok(session_opt, strlen(session_opt))) {
        fprintf(stderr,
                "weft submit: --session wants 1 to %d characters of [A-Za-z0-9_.:-], "
                "got '%s'\n",
                WF_MAX_NAME, session_opt);
        rc = WF_EXIT_USAGE;
    }
    if (rc != WF_EXIT_OK) {
        free(params);
        return rc;
    }
    const char *file = argv[optind];
    wf_workflow_t *wf = NULL;
    wf_diags_t diags = {0};
    wf_client_t *cl = NULL;
    char *session = NULL;
    wf_cmsg_t msg, reply;
    wf_cmsg_init(&msg, WF_CMSG_SUBMIT);
    wf_cmsg_init(&reply, WF_CMSG_OK);
    /* Exactly what `weft validate` prints, so a file is judged the same everywhere. */
    int errors = wf_workflow_load(file, params, nparams, &wf, &diags);
    wf_diags_print(&diags, stderr);
    if (errors) {
        fprintf(stderr, "%s: %d error%s\n", file, errors, errors == 1 ? "" : "s");
        rc = WF_EXIT_USAGE;
        goto out;
    }
    session = session_opt ? strdup(session_opt) : wf_cli_session_for_file(file);
    if (!session)
        abort();
    int err = wf_client_submit_from(wf, key, session, &msg);
    if (err != WEFT_OK) {
        fprintf(stderr, "weft submit: cannot build the request for %s: %s\n", file,
                weft_strerror(err));
        rc = WF_EXIT_USAGE;
        goto out;
    }
    cl = s_connect("submit", &o);
    if (!cl) {
        rc = WF_EXIT_USAGE;
        goto out;
    }
    /* PING first: a server that is not there is noticed within --timeout whatever the size of
     * the workflow, and one that speaks another client protocol before it is sent. */
    wf_cmsg_t ping;
    wf_cmsg_init(&ping, WF_CMSG_PING);
    err = wf_client_call(cl, &ping, &reply, o.timeout_ms);
    if (err == WEFT_OK && reply.kind == WF_CMSG_PONG &&
        (WF_CLIENT_VERSION < reply.proto_min || WF_CLIENT_VERSION > reply.proto_max)) {
        fprintf(stderr,
                "weft submit: the server (weft %s) speaks protocol versions %u..%u, this "
                "weft speaks %d\n",
                reply.version, reply.proto_min, reply.proto_max, WF_CLIENT_VERSION);
        rc = WF_EXIT_FAILED;
        goto out;
    }
    if (err != WEFT_OK || reply.kind != WF_CMSG_PONG) {
        rc = err != WEFT_OK ? s_call_failed("submit", cl, err) : WF_EXIT_FAILED;
        if (err == WEFT_OK)
            fprintf(stderr, "weft submit: the server answered PING with %s\n",
                    wf_cmsg_kind_name(reply.kind));
        goto out;
    }
    wf_cmsg_fini(&reply);
    /* The server answers once the request is durable: a big one takes a while to store. */
    int64_t submit_ms = (int64_t)o.timeout_ms + (int64_t)(wf->njobs / S_SUBMIT_JOBS_PER_MS);
    err = wf_client_call(cl, &msg, &reply, submit_ms > INT32_MAX ? INT32_MAX : (int)submit_ms);
    if (err == WEFT_OK && reply.kind != WF_CMSG_SUBMITTED) {
        fprintf(stderr, "weft submit: the server answered SUBMIT with %s\n",
                wf_cmsg_kind_name(reply.kind));
        rc = WF_EXIT_FAILED;
        goto out;
    }
    if (err != WEFT_OK) {
        if (reply.kind == WF_CMSG_ERROR)
            fprintf(stderr, "weft submit: the server refused %s: %s\n", file, wf_client_errmsg(cl));
        else
            fprintf(stderr, "weft submit: %s\n", wf_client_errmsg(cl));
        rc = reply.kind == WF_CMSG_ERROR ? wf_cli_client_exit(err) : WF_EXIT_FAILED;
        goto out;
    }
    for (uint32_t i = 0; i < reply.nwarnings; i++) {
        char clean[WF_MAX_MESSAGE + 1];
        s_clean(clean, sizeof clean, reply.warnings[i], false);
        fprintf(stderr, "weft submit: warning: %s\n", clean);
    }
    printf("%llu\n", (unsigned long long)reply.req);
    fflush(stdout);
    rc = wait ? s_follow(cl, "submit", reply.req, o.timeout_ms) : WF_EXIT_OK;
out:
    wf_cmsg_fini(&reply);
    wf_client_submit_fini(&msg);
    wf_client_close(&cl);
    free(session);
    wf_workflow_free(&wf);
    wf_diags_fini(&diags);
    free(params);
    return rc;
}

/* The options every client verb shares (--server, --timeout, --server-key, --key, --help);
 * leaves optind at the first argument.  Returns -1 after --help, else an exit status. */
static int
s_parse_common(const char *verb, int argc, char **argv, const char *help, s_common_t *o)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, S_OPT_SERVER},
        {"timeout", required_argument, NULL, S_OPT_TIMEOUT},
        {"server-key", required_argument, NULL, S_OPT_SERVER_KEY},
        {"key", required_argument, NULL, S_OPT_KEY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc = WF_EXIT_OK;
    optind = 1;
    while (rc == WF_EXIT_OK && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (s_common_opt(verb, c, o, &rc))
            continue;
        if (c == 'h') {
            fputs(help, stdout);
            return -1;
        }
        rc = WF_EXIT_USAGE;
    }
    return rc;
}

/* ---- verbs that name a request ---- */

/* Parse the usual options of a verb taking REQUEST [JOB]; returns -1 after --help. */
static int
s_parse_req_verb(const char *verb, int argc, char **argv, const char *help, int max_args,
                 s_common_t *o, uint64_t *id_p, const char **job_p)
{
    int rc = s_parse_common(verb, argc, argv, help, o);
    if (rc != WF_EXIT_OK)
        return rc;
    int nargs = argc - optind;
    if (nargs < 1 || nargs > max_args) {
        fprintf(stderr, "usage: weft %s REQUEST%s [OPTIONS]  (weft %s --help)\n", verb,
                max_args > 1 ? " [JOB]" : "", verb);
        return WF_EXIT_USAGE;
    }
    weft_reqid_t id = 0;
    if (!wf_cli_parse_reqid(argv[optind], &id)) {
        fprintf(stderr, "weft %s: '%s' is not a request id (like 12 or r12)\n", verb, argv[optind]);
        return WF_EXIT_USAGE;
    }
    *id_p = id;
    if (job_p) {
        *job_p = nargs > 1 ? argv[optind + 1] : NULL;
        if (*job_p && !wf_name_ok(*job_p, strlen(*job_p))) {
            fprintf(stderr, "weft %s: '%s' is not a job id\n", verb, *job_p);
            return WF_EXIT_USAGE;
        }
    }
    return WF_EXIT_OK;
}

int
weft_cmd_watch(int argc, char **argv)
{
    static const char help[] =
        "usage: weft watch REQUEST [OPTIONS]\n"
        "\n"
        "Follow a request on a weft server: its current state, then one line per change of a\n"
        "job (running, done, failed, ...) until the request finishes, then its outcome and job\n"
        "counts, and how each failed job failed.  A finished request is shown at once.\n"
        "REQUEST is the id `weft submit` printed (12 or r12).\n"
        "\n" S_SERVER_HELP "\n"
        "exit status: 0 the request succeeded, 1 it failed or was cancelled (or the server was\n"
        "lost), 2 bad usage or no such request\n";
    s_common_t o = {.timeout_ms = WF_CLIENT_DEFAULT_TIMEOUT_MS};
    uint64_t id = 0;
    int rc = s_parse_req_verb("watch", argc, argv, help, 1, &o, &id, NULL);
    if (rc != WF_EXIT_OK)
        return rc < 0 ? WF_EXIT_OK : rc;
    wf_client_t *c = s_connect("watch", &o);
    if (!c)
        return WF_EXIT_USAGE;
    rc = s_follow(c, "watch", id, o.timeout_ms);
    wf_client_close(&c);
    return rc;
}

static int
s_cancel_retry(bool cancel, int argc, char **argv)
{
    const char *verb = cancel ? "cancel" : "retry";
    static const char help_cancel[] =
        "usage: weft cancel REQUEST [JOB] [OPTIONS]\n"
        "\n"
        "Cancel a request on a weft server, or one job of it: running attempts are told to\n"
        "stop, and the cascade follows each dependent's rule: `success` jobs below a cancelled\n"
        "one are cancelled, `always` and `failure` jobs still run.\n"
        "\n" S_SERVER_HELP "\n"
        "exit status: 0 cancelled, 1 refused (already finished) or the server could not be\n"
        "reached, 2 bad usage or no such request or job\n";
    static const char help_retry[] =
        "usage: weft retry REQUEST [JOB] [OPTIONS]\n"
        "\n"
        "Run the failed and cancelled jobs of a request on a weft server again (or one such\n"
        "job), with fresh retry budgets; the jobs their failure cancelled are re-armed.\n"
        "\n" S_SERVER_HELP "\n"
        "exit status: 0 retrying, 1 refused (nothing failed or was cancelled) or the server\n"
        "could not be reached, 2 bad usage or no such request or job\n";
    s_common_t o = {.timeout_ms = WF_CLIENT_DEFAULT_TIMEOUT_MS};
    uint64_t id = 0;
    const char *job = NULL;
    int rc =
        s_parse_req_verb(verb, argc, argv, cancel ? help_cancel : help_retry, 2, &o, &id, &job);
    if (rc != WF_EXIT_OK)
        return rc < 0 ? WF_EXIT_OK : rc;
    wf_client_t *c = s_connect(verb, &o);
    if (!c)
        return WF_EXIT_USAGE;
    wf_cmsg_t m, r;
    wf_cmsg_init(&m, cancel ? WF_CMSG_CANCEL : WF_CMSG_RETRY);
    m.req = id;
    if (job)
        snprintf(m.job, sizeof m.job, "%s", job);
    int err = wf_client_call(c, &m, &r, o.timeout_ms);
    if (err != WEFT_OK) {
        rc = s_call_failed(verb, c, err);
    } else if (r.kind != WF_CMSG_OK) {
        fprintf(stderr, "weft %s: the server answered with %s\n", verb, wf_cmsg_kind_name(r.kind));
        rc = WF_EXIT_FAILED;
    } else if (cancel) {
        if (job)
            printf("request %llu: cancelled job '%s' (and, by their rules, its dependents)\n",
                   (unsigned long long)id, job);
        else
            printf("request %llu: cancelled\n", (unsigned long long)id);
    } else {
        if (job)
            printf("request %llu: retrying job '%s'\n", (unsigned long long)id, job);
        else
            printf("request %llu: retrying its failed and cancelled jobs\n",
                   (unsigned long long)id);
    }
    wf_cmsg_fini(&r);
    wf_client_close(&c);
    return rc;
}

int
weft_cmd_cancel(int argc, char **argv)
{
    return s_cancel_retry(true, argc, argv);
}

int
weft_cmd_retry(int argc, char **argv)
{
    return s_cancel_retry(false, argc, argv);
}

/* ---- verbs about the server ---- */

/* Parse a verb with no arguments but the shared options; returns -1 after --help. */
static int
s_parse_plain(const char *verb, int argc, char **argv, const char *help, s_common_t *o)
{
    int rc = s_parse_common(verb, argc, argv, help, o);
    if (rc == WF_EXIT_OK && optind != argc) {
        fprintf(stderr, "usage: weft %s [OPTIONS]  (weft %s --help)\n", verb, verb);
        rc = WF_EXIT_USAGE;
    }
    return rc;
}

int
weft_cmd_workers(int argc, char **argv)
{
    static const char help[] =
        "usage: weft workers [OPTIONS]\n"
        "\n"
        "List the workers connected to a weft server: name, host, process id, the job types\n"
        "they serve, their slots, how many jobs they run now and when the server last heard\n"
        "from them.  A server's own --local-slots show as one worker named local.\n"
        "\n" S_SERVER_HELP "\n"
        "exit status: 0 listed, 1 the server could not be reached, 2 bad usage\n";
    s_common_t o = {.timeout_ms = WF_CLIENT_DEFAULT_TIMEOUT_MS};
    int rc = s_parse_plain("workers", argc, argv, help, &o);
    if (rc != WF_EXIT_OK)
        return rc < 0 ? WF_EXIT_OK : rc;
    wf_client_t *c = s_connect("workers", &o);
    if (!c)
        return WF_EXIT_USAGE;
    wf_cmsg_t m, r;
    wf_cmsg_init(&m, WF_CMSG_WORKERS);
    int err = wf_client_call(c, &m, &r, o.timeout_ms);
    if (err == WEFT_OK && r.kind != WF_CMSG_WORKERS_R) {
        fprintf(stderr, "weft workers: the server answered with %s\n", wf_cmsg_kind_name(r.kind));
        rc = WF_EXIT_FAILED;
    } else if (err != WEFT_OK) {
        rc = s_call_failed("workers", c, err);
    } else if (r.nworkers == 0) {
        printf("no workers connected to %s\n", wf_client_server(c));
    } else {
        enum { NC = 7 };
        static const char *const heads[NC] = {"NAME",  "HOST",    "PID",       "TYPES",
                                              "SLOTS", "RUNNING", "LAST-HEARD"};
        char **cells = calloc((size_t)r.nworkers * NC, sizeof *cells);
        if (!cells)
            abort();
        size_t width[NC];
        for (int k = 0; k < NC; k++)
            width[k] = strlen(heads[k]);
        for (uint32_t i = 0; i < r.nworkers; i++) {
            const wf_cworker_t *w = &r.workers[i];
            char **row = cells + (size_t)i * NC, dur[32];
            size_t tlen = 1;
            for (uint32_t t = 0; t < w->ntypes; t++)
                tlen += strlen(w->types[t]) + 1;
            char *types = calloc(1, tlen);
            if (!types)
                abort();
            for (uint32_t t = 0; t < w->ntypes; t++) {
                if (t)
                    strcat(types, ",");
                strcat(types, w->types[t]);
            }
            if (asprintf(&row[0], "%s", w->name) < 0 || asprintf(&row[1], "%s", w->host) < 0 ||
                asprintf(&row[2], "%u", w->pid) < 0 ||
                asprintf(&row[3], "%s", w->ntypes ? types : "-") < 0 ||
                asprintf(&row[4], "%u", w->slots) < 0 || asprintf(&row[5], "%u", w->running) < 0 ||
                asprintf(&row[6], "%s ago", wf_cli_duration(dur, sizeof dur, w->idle_ms)) < 0)
                abort();
            free(types);
            for (int k = 0; k < NC; k++)
                if (strlen(row[k]) > width[k])
                    width[k] = strlen(row[k]);
        }
        for (uint32_t i = 0; i <= r.nworkers; i++) {
            const char *const *row =
                i == 0 ? heads : (const char *const *)cells + (size_t)(i - 1) * NC;
            for (int k = 0; k < NC - 1; k++)
                printf("%-*s  ", (int)width[k], row[k]);
            printf("%s\n", row[NC - 1]);
        }
        for (size_t i = 0; i < (size_t)r.nworkers * NC; i++)
            free(cells[i]);
        free(cells);
    }
    wf_cmsg_fini(&r);
    wf_client_close(&c);
    return rc;
}

/* PAUSE or RESUME: print the board's mode. */
static int
s_board_verb(const char *verb, wf_cmsg_kind kind, int argc, char **argv, const char *help)
{
    s_common_t o = {.timeout_ms = WF_CLIENT_DEFAULT_TIMEOUT_MS};
    int rc = s_parse_plain(verb, argc, argv, help, &o);
    if (rc != WF_EXIT_OK)
        return rc < 0 ? WF_EXIT_OK : rc;
    wf_client_t *c = s_connect(verb, &o);
    if (!c)
        return WF_EXIT_USAGE;
    wf_cmsg_t m, r;
    wf_cmsg_init(&m, kind);
    int err = wf_client_call(c, &m, &r, o.timeout_ms);
    if (err != WEFT_OK) {
        rc = s_call_failed(verb, c, err);
    } else if (r.kind != WF_CMSG_BOARD) {
        fprintf(stderr, "weft %s: the server answered with %s\n", verb, wf_cmsg_kind_name(r.kind));
        rc = WF_EXIT_FAILED;
    } else {
        printf("board: %s, %u job%s running\n", r.mode, r.running, r.running == 1 ? "" : "s");
    }
    wf_cmsg_fini(&r);
    wf_client_close(&c);
    return rc;
}

int
weft_cmd_pause(int argc, char **argv)
{
    static const char help[] =
        "usage: weft pause [OPTIONS]\n"
        "\n"
        "Stop a weft server from handing out jobs: running jobs go on, ready jobs wait (their\n"
        "reason says paused) until `weft resume`.  Submissions are still taken.\n"
        "\n" S_SERVER_HELP "\n"
        "exit status: 0 paused, 1 the server could not be reached, 2 bad usage\n";
    return s_board_verb("pause", WF_CMSG_PAUSE, argc, argv, help);
}

int
weft_cmd_resume(int argc, char **argv)
{
    static const char help[] =
        "usage: weft resume [OPTIONS]\n"
        "\n"
        "Let a paused or drained weft server hand out jobs again.\n"
        "\n" S_SERVER_HELP "\n"
        "exit status: 0 resumed, 1 the server could not be reached, 2 bad usage\n";
    return s_board_verb("resume", WF_CMSG_RESUME, argc, argv, help);
}

int
weft_cmd_drain(int argc, char **argv)
{
    static const char help[] =
        "usage: weft drain [OPTIONS]\n"
        "\n"
        "Pause a weft server and wait until none of its jobs runs any more (before stopping it\n"
        "or its workers for maintenance, say), printing \"draining: N running\" as the count\n"
        "changes, then \"STOPPED\".  `weft resume` hands out jobs again.  It waits as long as\n"
        "the running jobs take; --timeout bounds each wait for an answer.\n"
        "\n" S_SERVER_HELP "\n"
        "exit status: 0 stopped, 1 the server could not be reached, 2 bad usage\n";
    s_common_t o = {.timeout_ms = WF_CLIENT_DEFAULT_TIMEOUT_MS};
    int rc = s_parse_plain("drain", argc, argv, help, &o);
    if (rc != WF_EXIT_OK)
        return rc < 0 ? WF_EXIT_OK : rc;
    wf_client_t *c = s_connect("drain", &o);
    if (!c)
        return WF_EXIT_USAGE;
    /* Every DRAIN is answered twice: BOARD at once, and BOARD(stopped) when nothing runs.  So
     * asking again now and then both shows the count and notices a server that went away. */
    int64_t asked = 0, last_ask = 0;
    long shown = -1;
    bool stopped = false;
    while (!stopped) {
        int64_t now = s_now_ms();
        if (!asked && (last_ask == 0 || now - last_ask >= S_DRAIN_ASK_MS)) {
            wf_cmsg_t m;
            wf_cmsg_init(&m, WF_CMSG_DRAIN);
            int err = wf_client_send(c, &m);
            if (err != WEFT_OK) {
                rc = s_call_failed("drain", c, err);
                break;
            }
            asked = last_ask = now;
        }
        if (asked && now - asked > o.timeout_ms) {
            wf_client_timed_out(c, o.timeout_ms);
            fprintf(stderr, "weft drain: %s\n", wf_client_errmsg(c));
            rc = WF_EXIT_FAILED;
            break;
        }
        wf_cmsg_t r;
        int err = wf_client_recv(c, &r, 250);
        if (err == WEFT_ETIMEDOUT || err == WEFT_EPROTO) {
            wf_cmsg_fini(&r);
            continue;
        }
        if (err != WEFT_OK) {
            wf_cmsg_fini(&r);
            rc = s_call_failed("drain", c, err);
            break;
        }
        if (r.kind == WF_CMSG_ERROR) {
            rc = s_call_failed("drain", c, r.code ? (int)r.code : WEFT_EPROTO);
            wf_cmsg_fini(&r);
            break;
        }
        if (r.kind == WF_CMSG_BOARD) {
            asked = 0;
            if (strcmp(r.mode, "stopped") == 0 || r.running == 0) {
                stopped = true;
            } else if ((long)r.running != shown) {
                printf("draining: %u running\n", r.running);
                fflush(stdout);
                shown = (long)r.running;
            }
        }
        wf_cmsg_fini(&r);
    }
    if (stopped) {
        printf("STOPPED\n");
        fflush(stdout);
    }
    wf_client_close(&c);
    return rc;
}
