/*
 * cmd_worker.c -- `weft worker`: serve `shell` jobs to a board elsewhere (`weft serve`, or any
 * engine binding WEFT_OPT_BOARD_BIND), from this process, until SIGINT or SIGTERM.
 *
 * It is a weft_worker_t with the shell handler registered and nothing else: the consumer does
 * the protocol (HELLO, heartbeats, reconnect with backoff, re-sending reports until ACKed,
 * re-adoption), the shell runner runs each job in its own process group.  Only `shell` can be
 * served here because a job type needs code: other types are served by programs that link
 * libweft and register their handlers (weft_worker_register).  The one exception is the
 * built-in `noop` type (--types noop or shell,noop), whose handler returns success at once: it
 * measures the engine and the protocol alone (bench/, smoke tests), with no process per job.
 *
 * --prefetch N lets the worker hold N jobs beyond its slots (weft_worker_set_prefetch), so a
 * slot that frees up starts the next job without waiting for the board's round trip.
 *
 * Signals: SIGINT and SIGTERM are blocked before the worker creates any thread, so every thread
 * inherits the mask and only this thread's sigwait sees them (nothing runs in a handler).  The
 * shell runner resets the mask of the commands it starts.  On either signal the worker is
 * destroyed: running jobs are stopped (their process groups killed) and handed back to the
 * board with BYE, which re-queues them without spending their retries; then exit 0.
 *
 * A board silent for --give-up seconds makes the worker stop its running jobs (the board has
 * re-queued them by then); it keeps reconnecting and keeps its unacknowledged reports.
 *
 * The shell runner's log reader is registered too: the server relays `weft logs --server`
 * for the jobs this worker ran to it (LOGREQ), and it answers from its --logs directory.
 *
 * CURVE (docs/security.md): --server-key and --key, or $WEFT_SERVER_KEY and $WEFT_KEY, both or
 * neither.  The key files are checked before anything starts, so a typo exits 1 at once; a key
 * the server does not admit shows as a board that never answers (the worker logs it and keeps
 * trying, and gets in once the server admits the key and re-reads its keys).
 *
 * Exit statuses: 0 stopped by a signal, 1 the worker could not start, 2 usage.
 *
 * Until cli.h declares it (the verb table in main.c), the verb is declared here.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "consumer.h"
#include "proto.h"
#include "shell.h"

#define S_ENDPOINT_ENV "WEFT_WORKER_CONNECT"
#define S_SERVER_KEY_ENV "WEFT_SERVER_KEY"
#define S_KEY_ENV "WEFT_KEY"
#define S_DEFAULT_LOGS "weft-worker-logs"
/* Ten minutes: well past any board restart or network blip, short enough that jobs the board
 * has long since re-queued elsewhere do not run on here for hours. */
#define S_DEFAULT_GIVE_UP_S 600
/* weft_worker_set_give_up takes an int of milliseconds. */
#define S_MAX_GIVE_UP_S (INT_MAX / 1000)

typedef struct worker_opts {
    const char *endpoint;
    const char *name;
    const char *logs;
    long slots;
    long heartbeat_ms; /* 0: the library's default (the board's WELCOME decides anyway) */
    long give_up_s;
    const char *server_key; /* CURVE: the server's public key or server.pub; NULL for none */
    const char *key;        /* CURVE: this worker's secret key file */
    bool shell, noop;       /* the types served (--types; default shell) */
    long prefetch;          /* jobs held beyond the slots (0: none, the library's default) */
} worker_opts_t;

static void
s_help(void)
{
    printf("usage: weft worker [OPTIONS]\n"
           "\n"
           "Serve shell jobs to a weft board elsewhere, until SIGINT or SIGTERM.  The board\n"
           "hands this worker jobs of the types it serves, up to its slots at once; each job runs\n"
           "in its own process group, its output in LOGS/<request>/<job>.<attempt>.out and .err.\n"
           "If the board goes away, the worker reconnects and reports what finished meanwhile.\n"
           "\n"
           "  -c, --connect ENDPOINT  the board: tcp://HOST:PORT or ipc://PATH\n"
           "                          (default: $%s)\n"
           "  -t, --types LIST        job types to serve, comma-separated: shell, noop\n"
           "                          (default: shell).  noop jobs succeed at once, without\n"
           "                          running anything: for benchmarks and smoke tests\n"
           "  -s, --slots N           run at most N jobs at once (default: number of cores)\n"
           "      --prefetch N        hold up to N jobs beyond the slots, so a freed slot\n"
           "                          starts the next one at once (default: 0; --slots plus\n"
           "                          --prefetch at most %u)\n"
           "  -n, --name NAME         this worker's name for people (default: HOST-PID)\n"
           "  -l, --logs DIR          where job output goes (default: ./%s)\n"
           "      --heartbeat MS      heartbeat interval until the board says its own\n"
           "      --give-up SECONDS   stop running jobs after the board has been silent this\n"
           "                          long; 0 never (default: %d)\n"
           "      --server-key FILE|KEY\n"
           "                          CURVE: the server's public key, its server.pub file or\n"
           "                          the 40-character key (default: $%s)\n"
           "      --key FILE          CURVE: this worker's secret key file, as `weft keygen`\n"
           "                          writes it, mode 0600 (default: $%s); its NAME.pub must\n"
           "                          be in the server's workers/ key directory\n"
           "  -h, --help              this text\n"
           "\n"
           "On SIGINT or SIGTERM running jobs are stopped and handed back to the board, which\n"
           "runs them again elsewhere without counting it against their retries.\n"
           "\n"
           "--server-key and --key go together: with them every connection is encrypted and\n"
           "authenticated (docs/security.md).  A worker whose key the server does not admit\n"
           "gets no answer; it says so on stderr and keeps trying.\n"
           "\n"
           "exit status: 0 stopped by a signal, 1 could not start, 2 invalid arguments\n",
           S_ENDPOINT_ENV, (unsigned)WF_MAX_SLOTS, S_DEFAULT_LOGS, S_DEFAULT_GIVE_UP_S,
           S_SERVER_KEY_ENV, S_KEY_ENV);
}

/* Strict decimal in [lo, hi]; prints why and returns false otherwise. */
static bool
s_parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "weft worker: %s wants a number from %ld to %ld, got '%s'\n", opt, lo, hi,
                s);
        return false;
    }
    *out = v;
    return true;
}

static bool
s_word_is(const char *p, size_t n, const char *word)
{
    return n == strlen(word) && strncmp(p, word, n) == 0;
}

/* Every type in the comma-separated list must be one this command can serve; the list replaces
 * the default (shell alone). */
static bool
s_types_parse(const char *list, worker_opts_t *o)
{
    const char *p = list;
    o->shell = o->noop = false;
    for (;;) {
        size_t n = strcspn(p, ",");
        if (s_word_is(p, n, "shell")) {
            o->shell = true;
        } else if (s_word_is(p, n, "noop")) {
            o->noop = true;
        } else {
            fprintf(stderr,
                    "weft worker: cannot serve type '%.*s': the weft command serves only shell "
                    "jobs (and noop, for benchmarks); serve other types from a program that "
                    "links libweft (weft_worker_register)\n",
                    (int)n, p);
            return false;
        }
        if (!p[n])
            return true;
        p += n + 1;
    }
}

/* The built-in `noop` type: success at once, no process, no output, no result. */
static int
s_noop_handler(weft_job_t *job, void *arg)
{
    (void)job;
    (void)arg;
    return 0;
}

/* Returns WF_EXIT_OK to go on, -1 after --help, or WF_EXIT_USAGE. */
static int
s_parse(int argc, char **argv, worker_opts_t *o)
{
    enum { OPT_HEARTBEAT = 256, OPT_GIVE_UP, OPT_SERVER_KEY, OPT_KEY, OPT_PREFETCH };
    static const struct option longopts[] = {
        {"connect", required_argument, NULL, 'c'},
        {"types", required_argument, NULL, 't'},
        {"slots", required_argument, NULL, 's'},
        {"name", required_argument, NULL, 'n'},
        {"logs", required_argument, NULL, 'l'},
        {"heartbeat", required_argument, NULL, OPT_HEARTBEAT},
        {"give-up", required_argument, NULL, OPT_GIVE_UP},
        {"server-key", required_argument, NULL, OPT_SERVER_KEY},
        {"key", required_argument, NULL, OPT_KEY},
        {"prefetch", required_argument, NULL, OPT_PREFETCH},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    const char *env = getenv(S_ENDPOINT_ENV);
    o->endpoint = env && *env ? env : NULL;
    env = getenv(S_SERVER_KEY_ENV);
    o->server_key = env && *env ? env : NULL;
    env = getenv(S_KEY_ENV);
    o->key = env && *env ? env : NULL;
    o->logs = S_DEFAULT_LOGS;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->slots = cores < 1 ? 1 : cores > (long)WF_MAX_SLOTS ? (long)WF_MAX_SLOTS : cores;
    o->give_up_s = S_DEFAULT_GIVE_UP_S;
    o->shell = true;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:t:s:n:l:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->endpoint = optarg;
            break;
        case 't':
            if (!s_types_parse(optarg, o))
                return WF_EXIT_USAGE;
            break;
        case 's':
            if (!s_parse_long("--slots", optarg, 1, (long)WF_MAX_SLOTS, &o->slots))
                return WF_EXIT_USAGE;
            break;
        case 'n':
            if (!wf_name_ok(optarg, strlen(optarg))) {
                fprintf(stderr,
                        "weft worker: --name wants 1 to %d characters of A-Z a-z 0-9 _ . : -, "
                        "got '%s'\n",
                        (int)WF_MAX_NAME, optarg);
                return WF_EXIT_USAGE;
            }
            o->name = optarg;
            break;
        case 'l':
            if (!*optarg) {
                fprintf(stderr, "weft worker: --logs wants a directory\n");
                return WF_EXIT_USAGE;
            }
            o->logs = optarg;
            break;
        case OPT_HEARTBEAT:
            if (!s_parse_long("--heartbeat", optarg, 1, (long)WF_PROTO_MAX_HEARTBEAT_MS,
                              &o->heartbeat_ms))
                return WF_EXIT_USAGE;
            break;
        case OPT_PREFETCH:
            if (!s_parse_long("--prefetch", optarg, 0, (long)WF_MAX_SLOTS - 1, &o->prefetch))
                return WF_EXIT_USAGE;
            break;
        case OPT_GIVE_UP:
            if (!s_parse_long("--give-up", optarg, 0, S_MAX_GIVE_UP_S, &o->give_up_s))
                return WF_EXIT_USAGE;
            break;
        case OPT_SERVER_KEY:
        case OPT_KEY:
            if (!*optarg) {
                fprintf(stderr, "weft worker: %s wants a %s\n",
                        c == OPT_KEY ? "--key" : "--server-key",
                        c == OPT_KEY ? "key file" : "key or a key file");
                return WF_EXIT_USAGE;
            }
            *(c == OPT_KEY ? &o->key : &o->server_key) = optarg;
            break;
        case 'h':
            s_help();
            return -1;
        default:
            return WF_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "weft worker: unexpected argument '%s'  (weft worker --help)\n",
                argv[optind]);
        return WF_EXIT_USAGE;
    }
    if (!o->endpoint) {
        fprintf(stderr, "weft worker: no board to connect to: give --connect ENDPOINT or set "
                        "$" S_ENDPOINT_ENV "  (weft worker --help)\n");
        return WF_EXIT_USAGE;
    }
    if (o->slots + o->prefetch > (long)WF_MAX_SLOTS) {
        fprintf(stderr, "weft worker: --slots %ld and --prefetch %ld together may not exceed %u\n",
                o->slots, o->prefetch, (unsigned)WF_MAX_SLOTS);
        return WF_EXIT_USAGE;
    }
    if (!o->server_key != !o->key) {
        fprintf(stderr, "weft worker: CURVE needs both the server's public key (--server-key or "
                        "$" S_SERVER_KEY_ENV ") and this worker's key file (--key or $" S_KEY_ENV
                        "), or neither\n");
        return WF_EXIT_USAGE;
    }
    return WF_EXIT_OK;
}

/* dir made absolute against cwd (heap), so what the runner writes does not depend on where
 * anything else changes directory to. */
static char *
s_absolute(const char *dir, const char *cwd)
{
    if (dir[0] == '/')
        return strdup(dir);
    size_t n = strlen(cwd) + strlen(dir) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", cwd, dir);
    return p;
}

int
weft_cmd_worker(int argc, char **argv)
{
    worker_opts_t o;
    int rc = s_parse(argc, argv, &o);
    if (rc < 0)
        return WF_EXIT_OK;
    if (rc != WF_EXIT_OK)
        return rc;

    char *cwd = getcwd(NULL, 0);
    if (!cwd) {
        fprintf(stderr, "weft worker: cannot get the current directory: %s\n", strerror(errno));
        return WF_EXIT_FAILED;
    }
    char *logs = s_absolute(o.logs, cwd);
    if (!logs)
        abort();
    /* Static: the handler reads it from runner threads until the worker is destroyed. */
    static wf_shell_opts_t shell;
    shell.log_dir = logs;
    shell.base_dir = cwd;

    /* Before any thread exists, so that every thread inherits it (see the top of this file). */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    weft_worker_t *w = NULL;
    rc = weft_worker_new(&w, o.endpoint, o.name);
    if (rc != WEFT_OK) {
        /* The name was checked already: the endpoint is what it refused. */
        fprintf(stderr,
                "weft worker: '%s' is not an endpoint to connect to (tcp://HOST:PORT, "
                "ipc://PATH or inproc://NAME)\n",
                o.endpoint);
        rc = WF_EXIT_USAGE;
        goto cleanup;
    }
    rc = WEFT_OK;
    if (o.shell)
        rc = weft_worker_register(w, "shell", wf_shell_handler, &shell);
    /* The server relays `weft logs --server` here: the logs are on this host. */
    if (rc == WEFT_OK && o.shell)
        rc = weft_worker_set_log_reader(w, wf_shell_log_read, &shell);
    if (rc == WEFT_OK && o.noop)
        rc = weft_worker_register(w, "noop", s_noop_handler, NULL);
    if (rc == WEFT_OK && o.prefetch)
        rc = weft_worker_set_prefetch(w, (unsigned)o.prefetch);
    if (rc == WEFT_OK && o.heartbeat_ms)
        rc = weft_worker_set_heartbeat(w, (int)o.heartbeat_ms);
    if (rc == WEFT_OK)
        rc = weft_worker_set_give_up(w, (int)(o.give_up_s * 1000));
    if (rc == WEFT_OK && o.key) {
        /* It logs why it refuses (a missing file, a mode too open, not a key file). */
        rc = weft_worker_set_curve(w, o.server_key, o.key);
        if (rc != WEFT_OK) {
            fprintf(stderr,
                    "weft worker: cannot use the CURVE keys (--server-key %s, --key %s): %s\n",
                    o.server_key, o.key, weft_strerror(rc));
            rc = WF_EXIT_FAILED;
            goto cleanup;
        }
    }
    if (rc == WEFT_OK)
        rc = weft_worker_start(w, (unsigned)o.slots);
    if (rc != WEFT_OK) {
        fprintf(stderr, "weft worker: cannot start: %s\n", weft_strerror(rc));
        rc = WF_EXIT_FAILED;
        goto cleanup;
    }
    printf("weft worker %s: connecting to %s%s, %ld slot%s, types %s\n", wf_worker_name(w),
           o.endpoint, o.key ? " with CURVE" : "", o.slots, o.slots == 1 ? "" : "s",
           o.shell && o.noop ? "shell,noop"
           : o.noop          ? "noop"
                             : "shell");
    fflush(stdout);

    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    fprintf(stderr, "weft worker %s: %s: stopping\n", wf_worker_name(w),
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = WF_EXIT_OK;

cleanup:
    /* Stops what runs (process groups included) and says BYE, board or no board. */
    weft_worker_destroy(&w);
    shell.log_dir = shell.base_dir = NULL;
    free(logs);
    free(cwd);
    return rc;
}
