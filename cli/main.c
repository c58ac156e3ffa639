/*
 * main.c -- the `weft` command: verb dispatch, --help/--version, `weft validate`, and the
 * helpers every verb shares (cli.h).
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "shell.h"
#include "proto.h"
#include "workflow.h"

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: weft [--version] [--help] VERB [ARGS]\n"
            "\n"
            "Run workflows of dependent jobs, durably.\n"
            "\n"
            "verbs:\n"
            "  run FILE        run a workflow file here (resumes an unfinished run)\n"
            "  validate FILE   check a workflow file without running it\n"
            "  status [REQ]    the jobs of a run: state, attempts, duration, progress\n"
            "  list            the runs kept in a state directory\n"
            "  logs JOB        the output of a job's last (or given) attempt\n"
            "  why JOB         why a job is in its state, or what it still waits for\n"
            "  dot FILE|REQ    the job graph in Graphviz format, coloured by state\n"
            "  serve           run the engine as a server for remote workers and clients\n"
            "  worker          serve shell jobs to a server (--connect tcp://HOST:PORT)\n"
            "  keygen NAME     make a CURVE key pair (NAME, NAME.pub) for a server, worker or client\n"
            "  submit FILE     submit a workflow file to a server (--server tcp://HOST:PORT)\n"
            "  watch REQ       follow a request on a server until it finishes\n"
            "  cancel REQ [JOB]  cancel a request on a server, or one job of it\n"
            "  retry REQ [JOB]   re-run the failed and cancelled jobs of a request on a server\n"
            "  workers         the workers connected to a server\n"
            "  pause, resume   stop and restart a server's hand-outs\n"
            "  drain           pause a server and wait until none of its jobs runs\n"
            "\n"
            "'weft VERB --help' describes each verb; docs/cli.md has the details.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        s_usage(stderr);
        return WF_EXIT_USAGE;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 || strcmp(verb, "help") == 0) {
        s_usage(stdout);
        return WF_EXIT_OK;
    }
    if (strcmp(verb, "--version") == 0 || strcmp(verb, "version") == 0) {
        printf("weft %d.%d.%d (library %d, protocol %d, schema 1)\n", WEFT_VERSION_MAJOR,
               WEFT_VERSION_MINOR, WEFT_VERSION_PATCH, weft_version(), WF_PROTO_VERSION);
        return WF_EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } verbs[] = {
        {"run", weft_cmd_run},       {"validate", weft_cmd_validate}, {"status", weft_cmd_status},
        {"logs", weft_cmd_logs},     {"list", weft_cmd_list},         {"why", weft_cmd_why},
        {"dot", weft_cmd_dot},       {"serve", weft_cmd_serve},
        {"submit", weft_cmd_submit}, {"watch", weft_cmd_watch},
        {"cancel", weft_cmd_cancel}, {"retry", weft_cmd_retry},
        {"workers", weft_cmd_workers}, {"pause", weft_cmd_pause},
        {"resume", weft_cmd_resume}, {"drain", weft_cmd_drain},
        {"worker", weft_cmd_worker}, {"keygen", weft_cmd_keygen},
    };
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(verb, verbs[i].name) == 0)
            return verbs[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "weft: unknown verb '%s'\n", verb);
    s_usage(stderr);
    return WF_EXIT_USAGE;
}

/* ---- weft validate ---- */

int
weft_cmd_validate(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"param", required_argument, NULL, 'p'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char **params = calloc((size_t)argc + 1, sizeof *params);
    size_t nparams = 0;
    bool quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (!wf_cli_param_ok(optarg)) {
                free(params);
                return WF_EXIT_USAGE;
            }
            params[nparams++] = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            printf("usage: weft validate [-p NAME=VALUE]... [-q] FILE\n"
                   "\n"
                   "Check a workflow file as `weft run` would, without running anything.\n"
                   "Errors are printed as FILE:LINE:COL: error: MESSAGE.\n"
                   "\n"
                   "  -p, --param NAME=VALUE   give a param a value (repeatable)\n"
                   "  -q, --quiet              print nothing when the file is valid\n"
                   "exit status: 0 valid, 2 invalid\n");
            free(params);
            return WF_EXIT_OK;
        default:
            free(params);
            return WF_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: weft validate [-p NAME=VALUE]... FILE\n");
        free(params);
        return WF_EXIT_USAGE;
    }
    wf_workflow_t *wf = NULL;
    wf_diags_t diags = {0};
    int errors = wf_workflow_load(argv[optind], params, nparams, &wf, &diags);
    wf_diags_print(&diags, stderr);
    int rc = WF_EXIT_OK;
    if (errors) {
        fprintf(stderr, "%s: %d error%s\n", argv[optind], errors, errors == 1 ? "" : "s");
        rc = WF_EXIT_USAGE;
    } else if (!quiet) {
        printf("%s: valid: %zu job%s\n", argv[optind], wf->njobs, wf->njobs == 1 ? "" : "s");
    }
    wf_workflow_free(&wf);
    wf_diags_fini(&diags);
    free(params);
    return rc;
}

/* ---- shared helpers ---- */

static char *
s_strdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static char *
s_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (!p)
        abort();
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

char *
wf_cli_state_for_file(const char *file, const char *state_opt)
{
    if (state_opt)
        return s_strdup(state_opt);
    char *copy = s_strdup(file);
    char *dir = s_join(dirname(copy), WF_CLI_STATE_DIRNAME);
    free(copy);
    return dir;
}

char *
wf_cli_state_default(const char *state_opt)
{
    return s_strdup(state_opt ? state_opt : WF_CLI_STATE_DIRNAME);
}

char *
wf_cli_logs_dir(const char *state)
{
    return s_join(state, WF_CLI_LOGS_DIRNAME);
}

char *
wf_cli_session_for_file(const char *file)
{
    char *copy = s_strdup(file);
    const char *base = basename(copy);
    char buf[WF_MAX_NAME + 1];
    int n = snprintf(buf, sizeof buf, "file:%s", base);
    if (n < 0 || (size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1;
    for (int i = 0; i < n; i++) {
        char ch = buf[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '_' || ch == '.' || ch == ':' || ch == '-';
        if (!ok)
            buf[i] = '-';
    }
    free(copy);
    return s_strdup(buf);
}

weft_engine_t *
wf_cli_open_readonly(const char *state)
{
    weft_options_t *o = NULL;
    weft_options_new(&o);
    weft_options_set_int(o, WEFT_OPT_READONLY, 1);
    weft_options_set_int(o, WEFT_OPT_LOG_LEVEL, 1);
    weft_engine_t *eng = NULL;
    char err[512] = "";
    int rc = weft_engine_open(&eng, state, o, err, sizeof err);
    weft_options_destroy(&o);
    if (rc != WEFT_OK) {
        fprintf(stderr, "weft: %s\n", err[0] ? err : weft_strerror(rc));
        return NULL;
    }
    return eng;
}

typedef struct s_latest {
    const char *session;
    weft_reqid_t id;
} s_latest_t;

static int
s_latest_fn(const weft_request_info_t *info, void *arg)
{
    s_latest_t *l = arg;
    if (!l->session || strcmp(info->session, l->session) == 0)
        if (info->id > l->id)
            l->id = info->id;
    return 0;
}

weft_reqid_t
wf_cli_latest_request(weft_engine_t *eng, const char *session)
{
    s_latest_t l = {session, 0};
    weft_request_list(eng, s_latest_fn, &l);
    return l.id;
}

bool
wf_cli_parse_reqid(const char *s, weft_reqid_t *id_p)
{
    if (!s || !*s)
        return false;
    if (*s == 'r' || *s == 'R')
        s++;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0)
        return false;
    *id_p = v;
    return true;
}

bool
wf_cli_find_job(weft_engine_t *eng, weft_reqid_t id, const char *job, weft_job_info_t *info)
{
    int rc = weft_job_status(eng, id, job, info);
    if (rc != WEFT_OK) {
        fprintf(stderr, "weft: request %llu has no job '%s'\n", (unsigned long long)id, job);
        return false;
    }
    return true;
}

const char *
wf_cli_duration(char *buf, size_t cap, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    if (ms < 60000)
        snprintf(buf, cap, "%.1fs", (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(buf, cap, "%dm%02ds", (int)(ms / 60000), (int)(ms / 1000 % 60));
    else
        snprintf(buf, cap, "%dh%02dm", (int)(ms / 3600000), (int)(ms / 60000 % 60));
    return buf;
}

bool
wf_cli_print_tail(const char *path, int lines, const char *prefix)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    enum { CAP = 64 * 1024 };
    char *buf = malloc(CAP + 1);
    if (!buf)
        abort();
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > CAP ? size - CAP : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(buf, 1, CAP, f);
    fclose(f);
    buf[n] = 0;
    if (n == 0) {
        free(buf);
        return false;
    }
    /* find the start of the last `lines` lines */
    size_t end = n;
    if (end > 0 && buf[end - 1] == '\n')
        end--;
    size_t start = end;
    int seen = 0;
    while (start > 0) {
        if (buf[start - 1] == '\n' && ++seen == lines)
            break;
        start--;
    }
    char *line = buf + start;
    buf[end] = 0;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        printf("%s%s\n", prefix, line);
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    return true;
}

bool
wf_cli_param_ok(const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        fprintf(stderr, "weft: -p wants NAME=VALUE, got '%s'\n", kv);
        return false;
    }
    return true;
}

bool
wf_cli_durability_ok(const char *verb, const char *arg, int *durability_p)
{
    if (strcmp(arg, "full") == 0) {
        *durability_p = WEFT_DURABLE_FULL;
        return true;
    }
    if (strcmp(arg, "process") == 0) {
        *durability_p = WEFT_DURABLE_PROCESS;
        return true;
    }
    fprintf(stderr, "weft %s: --durability wants 'full' or 'process', got '%s'\n", verb, arg);
    return false;
}

int
wf_cli_start_shell_slots(weft_engine_t *eng, unsigned slots, struct wf_shell_opts *shell)
{
    int rc = weft_engine_register(eng, "shell", wf_shell_handler, shell);
    if (rc == WEFT_OK)
        rc = weft_engine_set_log_reader(eng, wf_shell_log_read, shell);
    if (rc == WEFT_OK)
        rc = weft_engine_start_consumers(eng, slots);
    return rc;
}
