/*
 * remote.c -- weft-bench-remote: no-op jobs/s served by K `weft worker` processes over TCP on
 * 127.0.0.1, for K in --workers (default 1, 4, 16).
 *
 * For each K, on a fresh state directory: start `weft serve --state DIR --bind
 * tcp://127.0.0.1:PORT` (the board on PORT, the client endpoint on PORT+1, events on PORT+2: three
 * free ports below the ephemeral range), K `weft worker --types noop --slots S --prefetch P`,
 * wait until the server lists all K, submit a wide graph of --jobs no-op jobs (benchutil.h) over
 * the client protocol (cli/client.h), and time from the SUBMITTED reply (stored durably) to the
 * FINISHED reply of a WAIT.  The CPU the server and the workers used meanwhile is read from
 * /proc, to show where the time goes.  Then SIGTERM to every process, SIGKILL to any still there
 * after 10 s.
 *
 * Every process this program starts is killed whatever happens: on exit (atexit), on SIGINT or
 * SIGTERM, and by the kernel if this program dies (PR_SET_PDEATHSIG).  Their output goes to
 * files in the scratch directory, printed in part when something fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/weft.h>

#include "benchutil.h"
#include "../cli/client.h" /* by path: proto/ has a client.h too */

#ifndef WF_BENCH_WEFT
#define WF_BENCH_WEFT "weft"
#endif

#define S_MAX_KS 8
#define S_MAX_CHILDREN 512
#define S_READY_MS 30000

typedef struct s_args {
    long ks[S_MAX_KS];
    size_t nks;
    long jobs;
    long slots;
    long prefetch;
    long timeout_s;
    const char *weft;
} s_args_t;

/* ---- children: started, tracked, always killed ---- */

static volatile pid_t s_children[S_MAX_CHILDREN];
static volatile int s_nchildren;
static char *s_scratch; /* removed at exit */

static void
s_kill_all(int sig)
{
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] > 0)
            kill(s_children[i], sig);
}

/* SIGTERM, then up to grace_ms for each to exit, then SIGKILL; reaps them all. */
static void
s_stop_all(int grace_ms)
{
    s_kill_all(SIGTERM);
    int64_t end = wf_bench_now_ns() + (int64_t)grace_ms * 1000000;
    for (int i = 0; i < s_nchildren; i++) {
        pid_t pid = s_children[i];
        if (pid <= 0)
            continue;
        for (;;) {
            pid_t r = waitpid(pid, NULL, WNOHANG);
            if (r == pid || (r < 0 && errno == ECHILD))
                break;
            if (wf_bench_now_ns() > end) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                break;
            }
            usleep(10000);
        }
        s_children[i] = 0;
    }
    s_nchildren = 0;
}

static void
s_at_exit(void)
{
    s_kill_all(SIGKILL);
    for (int i = 0; i < s_nchildren; i++)
        if (s_children[i] > 0)
            waitpid(s_children[i], NULL, 0);
    s_nchildren = 0;
    if (s_scratch)
        wf_bench_rmtree(s_scratch);
}

static void
s_on_signal(int sig)
{
    s_kill_all(SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Start argv with stdout and stderr to log; returns the pid. */
static pid_t
s_spawn(char *const argv[], const char *log)
{
    if (s_nchildren >= S_MAX_CHILDREN)
        wf_bench_die("too many processes");
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        wf_bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        /* Die with this program, even by SIGKILL. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) {
            dup2(null, 0);
            close(null);
        }
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    s_children[s_nchildren++] = pid;
    return pid;
}

/* The last lines of a log, for a failure message. */
static void
s_print_tail(const char *log)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char buf[8192];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    fprintf(stderr, "---- %s ----\n%s\n----\n", log, buf);
}

/* utime + stime of a running child, in seconds (0 if unreadable). */
static double
s_proc_cpu_s(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p)
        return 0;
    unsigned long long utime = 0, stime = 0;
    /* Fields after the name: state(3) ... utime(14) stime(15). */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return 0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- ports ---- */

static bool
s_port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Three free consecutive ports below the usual ephemeral range (32768..), so that no outgoing
 * connection of this machine takes one of them between this check and the server's bind. */
static int
s_free_base_port(void)
{
    unsigned seed = (unsigned)getpid() ^ (unsigned)wf_bench_now_ns();
    for (int tries = 0; tries < 500; tries++) {
        int p = 20000 + (int)(rand_r(&seed) % 12000);
        if (s_port_free(p) && s_port_free(p + 1) && s_port_free(p + 2))
            return p;
    }
    wf_bench_die("no three free consecutive ports in 20000..32000");
}

/* ---- the request ---- */

typedef struct s_submit {
    wf_cmsg_t msg;
    uint32_t n;
} s_submit_t;

static int
s_sub_job(uint32_t idx, const char *id, void *arg)
{
    s_submit_t *s = arg;
    wf_cjob_t *j = &s->msg.submit.jobs[idx];
    j->id = strdup(id);
    if (!j->id)
        abort();
    j->type = "noop";
    j->pool = NULL; /* none */
    j->lost_retries = 3;
    j->when = WEFT_WHEN_SUCCESS;
    return 0;
}

static int
s_sub_need(uint32_t c, const char *child, uint32_t p, const char *parent, void *arg)
{
    (void)child;
    (void)parent;
    s_submit_t *s = arg;
    wf_cjob_t *j = &s->msg.submit.jobs[c];
    /* Grow by doubling: the one join of a wide graph has tens of thousands of needs. */
    if ((j->nneeds & (j->nneeds - 1)) == 0) {
        size_t cap = j->nneeds ? (size_t)j->nneeds * 2 : 1;
        j->needs = realloc(j->needs, cap * sizeof *j->needs);
        if (!j->needs)
            abort();
    }
    /* The parent's own id string: jobs are visited before the edges that name them. */
    j->needs[j->nneeds++] = s->msg.submit.jobs[p].id;
    return 0;
}

static void
s_submit_build(s_submit_t *s, wf_bench_shape shape, uint32_t n)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    wf_cmsg_init(&s->msg, WF_CMSG_SUBMIT);
    snprintf(s->msg.submit.name, sizeof s->msg.submit.name, "bench-remote-%s-%u",
             wf_bench_shape_name(shape), n);
    s->msg.submit.njobs = n;
    s->msg.submit.jobs = calloc(n, sizeof *s->msg.submit.jobs);
    if (!s->msg.submit.jobs)
        abort();
    wf_bench_graph(shape, n, s_sub_job, s_sub_need, s);
}

static void
s_submit_free(s_submit_t *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        free((char *)s->msg.submit.jobs[i].id);
        free(s->msg.submit.jobs[i].needs);
    }
    free(s->msg.submit.jobs);
    s->msg.submit.jobs = NULL;
}

/* ---- one run ---- */

typedef struct s_result {
    bool done;
    long k;
    double submit_s, run_s, rate;
    double server_cpu_s, workers_cpu_s;
} s_result_t;

static int
s_count_workers(wf_client_t *c)
{
    wf_cmsg_t m, r;
    wf_cmsg_init(&m, WF_CMSG_WORKERS);
    int rc = wf_client_call(c, &m, &r, 2000);
    int n = rc == WEFT_OK && r.kind == WF_CMSG_WORKERS_R ? (int)r.nworkers : -1;
    wf_cmsg_fini(&r);
    return n;
}

static void __attribute__((noreturn)) s_die_with_logs(const char *dir, long k, const char *what)
{
    char log[1024];
    snprintf(log, sizeof log, "%s/serve.log", dir);
    s_print_tail(log);
    for (long i = 0; i < k && i < 2; i++) {
        snprintf(log, sizeof log, "%s/worker-%ld.log", dir, i);
        s_print_tail(log);
    }
    wf_bench_die("%s", what);
}

static void
s_run(const s_args_t *a, long k, s_submit_t *sub, s_result_t *res)
{
    res->k = k;
    char *dir = wf_bench_tmpdir("remote");
    s_scratch = dir;
    char state[1024], log[1024], bind[64], slots[32], prefetch[32], name[64], wlogs[1024];
    snprintf(state, sizeof state, "%s/state", dir);
    snprintf(wlogs, sizeof wlogs, "%s/wlogs", dir);
    int port = s_free_base_port();
    snprintf(bind, sizeof bind, "tcp://127.0.0.1:%d", port);

    snprintf(log, sizeof log, "%s/serve.log", dir);
    char *serve_argv[] = {(char *)a->weft, "serve", "--state", state, "--bind", bind, NULL};
    pid_t server = s_spawn(serve_argv, log);

    wf_client_t *c = NULL;
    char err[512];
    if (wf_client_open(&c, bind, NULL, err, sizeof err) != WEFT_OK)
        wf_bench_die("client: %s", err);
    /* The server answers PING once it has opened its state and bound its endpoints. */
    int64_t deadline = wf_bench_now_ns() + (int64_t)S_READY_MS * 1000000;
    for (;;) {
        wf_cmsg_t m, r;
        wf_cmsg_init(&m, WF_CMSG_PING);
        int rc = wf_client_call(c, &m, &r, 200);
        wf_cmsg_fini(&r);
        if (rc == WEFT_OK)
            break;
        if (waitpid(server, NULL, WNOHANG) == server)
            s_die_with_logs(dir, 0, "weft serve exited at start");
        if (wf_bench_now_ns() > deadline)
            s_die_with_logs(dir, 0, "weft serve did not answer within 30 s");
    }

    pid_t *workers = calloc((size_t)k, sizeof *workers);
    if (!workers)
        abort();
    snprintf(slots, sizeof slots, "%ld", a->slots);
    snprintf(prefetch, sizeof prefetch, "%ld", a->prefetch);
    for (long i = 0; i < k; i++) {
        snprintf(name, sizeof name, "bench-w%ld", i);
        snprintf(log, sizeof log, "%s/worker-%ld.log", dir, i);
        char *wargv[] = {(char *)a->weft, "worker",  "--connect", bind,         "--types",
                         "noop",          "--slots", slots,       "--prefetch", prefetch,
                         "--name",        name,      "--logs",    wlogs,        NULL};
        workers[i] = s_spawn(wargv, log);
    }
    while (s_count_workers(c) < k) {
        if (wf_bench_now_ns() > deadline)
            s_die_with_logs(dir, k, "the workers did not all register within 30 s");
        usleep(20000);
    }

    double cpu_server0 = s_proc_cpu_s(server), cpu_workers0 = 0;
    for (long i = 0; i < k; i++)
        cpu_workers0 += s_proc_cpu_s(workers[i]);
    wf_cmsg_t reply;
    int64_t t0 = wf_bench_now_ns();
    /* A big request takes a while to store: as weft submit, 1 s more per 10,000 jobs. */
    int rc = wf_client_call(c, &sub->msg, &reply, 10000 + (int)(sub->n / 10));
    int64_t t1 = wf_bench_now_ns();
    if (rc != WEFT_OK || reply.kind != WF_CMSG_SUBMITTED) {
        fprintf(stderr, "bench: submit: %s\n", wf_client_errmsg(c));
        s_die_with_logs(dir, k, "the server did not take the request");
    }
    uint64_t id = reply.req;
    wf_cmsg_fini(&reply);
    wf_cmsg_t w;
    wf_cmsg_init(&w, WF_CMSG_WAIT);
    w.req = id;
    long wait_ms = a->timeout_s * 1000;
    rc = wf_client_call(c, &w, &reply, wait_ms > INT32_MAX ? INT32_MAX : (int)wait_ms);
    int64_t t2 = wf_bench_now_ns();
    uint32_t state_end = reply.state;
    bool finished = rc == WEFT_OK && reply.kind == WF_CMSG_FINISHED;
    wf_cmsg_fini(&reply);
    res->server_cpu_s = s_proc_cpu_s(server) - cpu_server0;
    double cpu_workers1 = 0;
    for (long i = 0; i < k; i++)
        cpu_workers1 += s_proc_cpu_s(workers[i]);
    res->workers_cpu_s = cpu_workers1 - cpu_workers0;
    if (!finished) {
        printf("remote: %2ld worker(s): the request did not finish within --timeout %ld s: %s\n", k,
               a->timeout_s, rc == WEFT_OK ? "unexpected reply" : wf_client_errmsg(c));
    } else if (state_end != WEFT_REQ_SUCCEEDED) {
        fprintf(stderr, "bench: request ended %s\n", weft_req_state_name((int)state_end));
        s_die_with_logs(dir, k, "the request did not succeed");
    } else {
        res->done = true;
        res->submit_s = (double)(t1 - t0) / 1e9;
        res->run_s = (double)(t2 - t1) / 1e9;
        res->rate = (double)sub->n / res->run_s;
        printf("remote: %2ld worker(s) x %ld slots, prefetch %ld: %9.0f jobs/s  (%u jobs in %.2f "
               "s; submit %.2f s; cpu: server %.2f s, workers %.2f s = %.1f us/job)\n",
               k, a->slots, a->prefetch, res->rate, sub->n, res->run_s, res->submit_s,
               res->server_cpu_s, res->workers_cpu_s,
               (res->server_cpu_s + res->workers_cpu_s) * 1e6 / sub->n);
    }
    fflush(stdout);
    wf_client_close(&c);
    s_stop_all(10000);
    free(workers);
    s_scratch = NULL;
    wf_bench_rmtree(dir);
    free(dir);
}

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: weft-bench-remote [OPTIONS]\n"
            "\n"
            "  --workers LIST   worker process counts (default 1,4,16)\n"
            "  --jobs N         no-op jobs in the wide graph (default 100000)\n"
            "  --slots S        slots per worker (default 2)\n"
            "  --prefetch P     worker --prefetch (default 256)\n"
            "  --timeout SECS   give up on one run after this long (default 300)\n"
            "  --weft PATH      the weft command (default %s)\n"
            "  -h, --help\n"
            "\n"
            "State directories go under $WEFT_BENCH_DIR, else $TMPDIR, else /tmp.\n"
            "WEFT_BENCH_MODE=quick: 20000 jobs.\n",
            WF_BENCH_WEFT);
}

static void
s_parse(int argc, char **argv, s_args_t *a)
{
    enum { O_WORKERS = 256, O_JOBS, O_SLOTS, O_PREFETCH, O_TIMEOUT, O_WEFT };
    static const struct option longopts[] = {
        {"workers", required_argument, NULL, O_WORKERS},
        {"jobs", required_argument, NULL, O_JOBS},
        {"slots", required_argument, NULL, O_SLOTS},
        {"prefetch", required_argument, NULL, O_PREFETCH},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"weft", required_argument, NULL, O_WEFT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->ks[0] = 1;
    a->ks[1] = 4;
    a->ks[2] = 16;
    a->nks = 3;
    a->jobs = 100000;
    a->slots = 2;
    a->prefetch = 256;
    a->timeout_s = 300;
    a->weft = WF_BENCH_WEFT;
    if (wf_bench_quick())
        a->jobs = 20000;
    int c;
    while ((c = wf_bench_getopt(argc, argv, longopts, s_usage)) != -1) {
        switch (c) {
        case O_WORKERS:
            a->nks = wf_bench_parse_counts(optarg, a->ks, S_MAX_KS, 1, 256);
            if (!a->nks)
                wf_bench_die("--workers wants a list of counts up to 256, got '%s'", optarg);
            break;
        case O_JOBS:
        case O_SLOTS:
        case O_PREFETCH:
        case O_TIMEOUT:
            *(c == O_JOBS       ? &a->jobs
              : c == O_SLOTS    ? &a->slots
              : c == O_PREFETCH ? &a->prefetch
                                : &a->timeout_s) =
                wf_bench_count_arg(optarg, c == O_PREFETCH ? 0 : 1, 2000000);
            break;
        case O_WEFT:
            a->weft = optarg;
            break;
        }
    }
    if (access(a->weft, X_OK) != 0)
        wf_bench_die("%s is not an executable `weft` (--weft PATH)", a->weft);
}

int
main(int argc, char **argv)
{
    s_args_t a;
    s_parse(argc, argv, &a);
    atexit(s_at_exit);
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    signal(SIGHUP, s_on_signal);
    signal(SIGPIPE, SIG_IGN);

    wf_bench_print_header(
        "weft-bench-remote: no-op jobs served by `weft worker` processes over TCP loopback");
    printf("weft: %s\n", a.weft);
    fflush(stdout);

    s_submit_t sub;
    s_submit_build(&sub, WF_BENCH_WIDE, (uint32_t)a.jobs);
    s_result_t res[S_MAX_KS] = {{0}};
    for (size_t i = 0; i < a.nks; i++)
        s_run(&a, a.ks[i], &sub, &res[i]);
    s_submit_free(&sub);

    printf("targets:\n");
    bool any4 = false;
    for (size_t i = 0; i < a.nks; i++) {
        if (res[i].k != 4)
            continue;
        any4 = true;
        if (res[i].done)
            printf("  4 workers >= 50000 jobs/s: %.0f jobs/s  %s\n", res[i].rate,
                   wf_bench_verdict(res[i].rate >= 50000));
        else
            printf("  4 workers >= 50000 jobs/s: did not finish  MISS\n");
    }
    if (!any4)
        printf("  4 workers >= 50000 jobs/s: not run (--workers has no 4)\n");
    return 0;
}
