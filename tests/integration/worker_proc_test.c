/*
 * worker_proc_test.c -- `weft worker` as a real process serving an engine in this process.
 *
 * The engine binds its board on a unique ipc:// endpoint (WEFT_OPT_BOARD_BIND) and registers no
 * handler of its own, so every job runs in the worker process:
 * - a diamond of shell jobs writing files runs to success, each job's stdout lands in
 *   LOGS/<request>/<job>.1.out, and SIGTERM stops the worker with exit status 0;
 * - with --give-up 1 and the endpoint from $WEFT_WORKER_CONNECT, a running job's processes
 *   (the shell and a background child) are killed once the engine has closed, though the
 *   worker goes on trying to reconnect; SIGTERM still ends it with 0;
 * - usage errors (a type other than shell, no endpoint, a stray argument) exit 2.
 *
 * The weft binary comes from $WEFT_CLI (set by ctest).  Children get PR_SET_PDEATHSIG so an
 * aborted test leaves no worker behind; teardown SIGKILLs whatever is left, job processes
 * included.  Nothing sleeps for timing: waits are on files, process states and the engine,
 * with generous deadlines.  PID 1 of a container may not reap orphans, so a process counts as
 * gone when kill(pid, 0) says ESRCH or /proc/PID/stat shows it a zombie.
 *
 * Workload: two worker processes, five short shell jobs and one long one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <weft/weft.h>

#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define T_HEARTBEAT_MS 200
#define T_MAX_PIDS 4

typedef struct fx {
    char *dir;      /* the test's own temp dir */
    char *state;    /* dir/state: the engine's state directory */
    char *logs;     /* dir/logs: the worker's --logs */
    char *work;     /* dir/work: where the jobs run and write */
    char *endpoint; /* a unique ipc:// endpoint */
    weft_engine_t *eng;
    pid_t worker;           /* the worker process, until reaped */
    pid_t jobs[T_MAX_PIDS]; /* job processes to SIGKILL if a test fails */
} fx_t;

static char *
s_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    fx->dir = wf_test_tmpdir("wkproc");
    fx->state = s_join(fx->dir, "state");
    fx->logs = s_join(fx->dir, "logs");
    fx->work = s_join(fx->dir, "work");
    if (mkdir(fx->work, 0755) != 0)
        return -1;
    fx->endpoint = wf_test_endpoint("ipc");
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    if (fx->worker > 0) {
        kill(fx->worker, SIGKILL);
        waitpid(fx->worker, NULL, 0);
    }
    for (int i = 0; i < T_MAX_PIDS; i++)
        if (fx->jobs[i] > 0)
            kill(fx->jobs[i], SIGKILL);
    weft_engine_close(&fx->eng);
    /* libzmq 4.3 leaves an ipc:// socket file behind when the bound socket closes. */
    unlink(fx->endpoint + strlen("ipc://"));
    wf_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->state);
    free(fx->logs);
    free(fx->work);
    free(fx->endpoint);
    free(fx);
    *state = NULL;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The worker process                                                                         */

static const char *
s_weft(void)
{
    const char *bin = getenv("WEFT_CLI");
    if (!bin || !*bin || access(bin, X_OK) != 0)
        fail_msg("$WEFT_CLI does not name the weft binary (got '%s'); run through ctest",
                 bin ? bin : "");
    return bin;
}

/*
 * Start `weft worker ARGS...` with the environment plus `extra` (NAME=value, NULL-terminated),
 * stdout and stderr to the given files (NULL: inherited).  Everything is prepared before fork:
 * the engine's threads may hold locks, so the child only makes async-signal-safe calls.
 */
static pid_t
s_spawn(const char *const args[], const char *const extra[], const char *out, const char *err)
{
    size_t nargs = 0, nenv = 0, nextra = 0;
    while (args[nargs])
        nargs++;
    while (environ[nenv])
        nenv++;
    while (extra && extra[nextra])
        nextra++;
    char **argv = calloc(nargs + 3, sizeof *argv);
    char **envp = calloc(nenv + nextra + 1, sizeof *envp);
    assert_non_null(argv);
    assert_non_null(envp);
    argv[0] = (char *)s_weft();
    argv[1] = "worker";
    for (size_t i = 0; i < nargs; i++)
        argv[i + 2] = (char *)args[i];
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++) {
        bool shadowed = false;
        for (size_t j = 0; j < nextra; j++) {
            size_t eq = strcspn(extra[j], "=");
            if (strncmp(environ[i], extra[j], eq + 1) == 0)
                shadowed = true;
        }
        if (!shadowed)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < nextra; j++)
        envp[k++] = (char *)extra[j];

    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(126);
        const char *files[2] = {out, err};
        for (int i = 0; i < 2; i++) {
            if (!files[i])
                continue;
            int fd = open(files[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || dup2(fd, i + 1) < 0)
                _exit(126);
            close(fd);
        }
        execve(argv[0], argv, envp);
        _exit(127);
    }
    free(argv);
    free(envp);
    return pid;
}

/* Wait for the process to end; its wait status. */
static int
s_reap(pid_t pid)
{
    int status = 0;
    pid_t r;
    do
        r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    assert_int_equal(r, pid);
    return status;
}

static void
s_assert_exit(int status, int code, const char *what)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != code)
        fail_msg("%s: wait status 0x%x, wanted exit %d", what, status, code);
}

/* SIGTERM the worker: it stops its jobs, says BYE and exits 0. */
static void
s_stop_worker(fx_t *fx)
{
    assert_int_equal(kill(fx->worker, SIGTERM), 0);
    int status = s_reap(fx->worker);
    fx->worker = 0;
    s_assert_exit(status, 0, "weft worker after SIGTERM");
}

/* ------------------------------------------------------------------------------------------ */
/* Files and processes                                                                        */

/* The whole file, NUL-terminated (heap), or NULL if it does not exist. */
static char *
s_slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

typedef struct s_file_wait {
    fx_t *fx;
    const char *path;
    int status; /* the worker's wait status if it ended meanwhile */
} s_file_wait_t;

/* The file exists, or the worker process ended (no point waiting any longer). */
static bool
s_exists_or_worker_ended(void *arg)
{
    s_file_wait_t *fw = arg;
    if (access(fw->path, F_OK) == 0)
        return true;
    if (waitpid(fw->fx->worker, &fw->status, WNOHANG) == fw->fx->worker) {
        fw->fx->worker = 0;
        return true;
    }
    return false;
}

/* Gone: no such process, or a zombie nobody reaps (an orphan under a PID 1 that does not). */
static bool
s_gone(pid_t pid)
{
    if (kill(pid, 0) != 0)
        return errno == ESRCH;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *stat = s_slurp(path);
    if (!stat)
        return true;
    const char *paren = strrchr(stat, ')');
    bool zombie = paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
    free(stat);
    return zombie;
}

static bool
s_all_gone(void *arg)
{
    const fx_t *fx = arg;
    for (int i = 0; i < T_MAX_PIDS; i++)
        if (fx->jobs[i] > 0 && !s_gone(fx->jobs[i]))
            return false;
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Engine                                                                                     */

static void
s_open(fx_t *fx)
{
    weft_options_t *opts = NULL;
    assert_int_equal(weft_options_new(&opts), WEFT_OK);
    assert_int_equal(weft_options_set_int(opts, WEFT_OPT_HEARTBEAT_MS, T_HEARTBEAT_MS), WEFT_OK);
    assert_int_equal(weft_options_set_int(opts, WEFT_OPT_DURABILITY, WEFT_DURABLE_PROCESS),
                     WEFT_OK);
    assert_int_equal(weft_options_set_str(opts, WEFT_OPT_BOARD_BIND, fx->endpoint), WEFT_OK);
    char err[512] = "";
    int rc = weft_engine_open(&fx->eng, fx->state, opts, err, sizeof err);
    weft_options_destroy(&opts);
    if (rc != WEFT_OK)
        fail_msg("weft_engine_open: %s (%s)", weft_strerror(rc), err);
}

/* A shell job running `run` in fx->work. */
static void
s_add_shell(fx_t *fx, weft_request_t *req, const char *id, const char *run)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(wf_shell_payload_encode(run, NULL, 0, fx->work, &buf, &len), WEFT_OK);
    assert_int_equal(weft_request_add_job(req, id, "shell", buf, len), WEFT_OK);
    free(buf);
}

static weft_reqid_t
s_submit(fx_t *fx, weft_request_t **req_p)
{
    weft_reqid_t id = 0;
    int rc = weft_request_submit(fx->eng, *req_p, &id);
    if (rc != WEFT_OK)
        fail_msg("submit: %s (%s)", weft_strerror(rc), weft_request_errmsg(*req_p));
    weft_request_destroy(req_p);
    return id;
}

/* Wait for the request to finish, failing at once if the worker process ends meanwhile (a
 * weft binary without the verb, a crash) rather than after the whole deadline. */
static int
s_wait_request(fx_t *fx, weft_reqid_t id, weft_req_state *st_p)
{
    int64_t end = wf_test_now_ms() + WF_TEST_DEADLINE_MS;
    for (;;) {
        int rc = weft_request_wait(fx->eng, id, 250, st_p);
        if (rc != WEFT_ETIMEDOUT || wf_test_now_ms() >= end)
            return rc;
        int status = 0;
        if (waitpid(fx->worker, &status, WNOHANG) == fx->worker) {
            fx->worker = 0;
            fail_msg("weft worker ended early, wait status 0x%x", status);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Tests                                                                                      */

static void
test_worker_proc_runs_shell_diamond_and_stops_on_sigterm(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    char *out = s_join(fx->dir, "worker.out");
    const char *args[] = {"--connect", fx->endpoint, "--slots",    "2", "--logs",
                          fx->logs,    "--name",     "wk-diamond", NULL};
    fx->worker = s_spawn(args, NULL, out, NULL);

    weft_request_t *req = NULL;
    assert_int_equal(weft_request_new(&req, "diamond"), WEFT_OK);
    s_add_shell(fx, req, "a", "echo a > a.txt");
    s_add_shell(fx, req, "b", "cat a.txt > b.txt && echo b >> b.txt");
    s_add_shell(fx, req, "c", "cat a.txt > c.txt && echo c >> c.txt");
    s_add_shell(fx, req, "d", "cat b.txt c.txt > d.txt && echo out-d");
    assert_int_equal(weft_request_add_need(req, "b", "a"), WEFT_OK);
    assert_int_equal(weft_request_add_need(req, "c", "a"), WEFT_OK);
    assert_int_equal(weft_request_add_need(req, "d", "b"), WEFT_OK);
    assert_int_equal(weft_request_add_need(req, "d", "c"), WEFT_OK);
    weft_reqid_t id = s_submit(fx, &req);

    weft_req_state st = WEFT_REQ_RUNNING;
    int rc = s_wait_request(fx, id, &st);
    if (rc != WEFT_OK || st != WEFT_REQ_SUCCEEDED) {
        weft_job_info_t info;
        memset(&info, 0, sizeof info);
        weft_job_status(fx->eng, id, "a", &info);
        fail_msg("diamond: wait %s, state %s; job a %s (%s) %s", weft_strerror(rc),
                 weft_req_state_name(st), weft_job_state_name(info.state),
                 weft_reason_name(info.reason), info.error);
    }

    char *d_path = s_join(fx->work, "d.txt");
    char *d = s_slurp(d_path);
    assert_non_null(d);
    assert_string_equal(d, "a\nb\na\nc\n");
    char log[PATH_MAX];
    wf_shell_log_path(log, sizeof log, fx->logs, id, "d", 1, "out");
    char *d_out = s_slurp(log);
    if (!d_out)
        fail_msg("job d's stdout is not at %s", log);
    assert_string_equal(d_out, "out-d\n");

    s_stop_worker(fx);
    char *banner = s_slurp(out);
    assert_non_null(banner);
    char want[PATH_MAX + 128];
    snprintf(want, sizeof want, "weft worker wk-diamond: connecting to %s, 2 slots, types shell\n",
             fx->endpoint);
    assert_string_equal(banner, want);
    free(banner);
    free(d_out);
    free(d);
    free(d_path);
    free(out);
}

static void
test_worker_proc_gives_up_on_a_closed_engine(void **state)
{
    fx_t *fx = *state;
    s_open(fx);
    char *err = s_join(fx->dir, "worker.err");
    char connect[PATH_MAX + 32];
    snprintf(connect, sizeof connect, "WEFT_WORKER_CONNECT=%s", fx->endpoint);
    const char *extra[] = {connect, NULL};
    const char *args[] = {"--slots", "1", "--logs", fx->logs, "--give-up", "1", NULL};
    fx->worker = s_spawn(args, extra, NULL, err);

    weft_request_t *req = NULL;
    assert_int_equal(weft_request_new(&req, "long"), WEFT_OK);
    /* The background sleep is in the job's process group; "$! $$" are it and the shell. */
    s_add_shell(fx, req, "long",
                "sleep 300 & echo \"$! $$\" > pid.tmp && mv pid.tmp pid; sleep 300");
    weft_reqid_t id = s_submit(fx, &req);
    (void)id;

    char *pid_path = s_join(fx->work, "pid");
    s_file_wait_t fw = {fx, pid_path, 0};
    if (!wf_test_wait(s_exists_or_worker_ended, &fw, WF_TEST_DEADLINE_MS))
        fail_msg("the job never wrote %s", pid_path);
    if (fx->worker == 0)
        fail_msg("weft worker ended early, wait status 0x%x", fw.status);
    char *pids = s_slurp(pid_path);
    assert_non_null(pids);
    int bg = 0, sh = 0;
    assert_int_equal(sscanf(pids, "%d %d", &bg, &sh), 2);
    assert_true(bg > 1 && sh > 1);
    fx->jobs[0] = bg;
    fx->jobs[1] = sh;
    assert_false(s_gone(bg));
    assert_false(s_gone(sh));

    /* The board disappears for good: within the give-up time the worker kills the job. */
    weft_engine_close(&fx->eng);
    if (!wf_test_wait(s_all_gone, fx, WF_TEST_DEADLINE_MS))
        fail_msg("job processes %d and %d outlived the worker's give-up", bg, sh);
    /* Still running (trying to reconnect) until told to stop. */
    assert_int_equal(waitpid(fx->worker, NULL, WNOHANG), 0);
    s_stop_worker(fx);
    fx->jobs[0] = fx->jobs[1] = 0;

    char *text = s_slurp(err);
    assert_non_null(text);
    if (!strstr(text, "server gone for ") || !strstr(text, "stopping 1 running job(s)"))
        fail_msg("no give-up line in the worker's stderr:\n%s", text);
    free(text);
    free(pids);
    free(pid_path);
    free(err);
}

static void
test_worker_proc_usage_errors_exit_2(void **state)
{
    fx_t *fx = *state;
    static const char *const no_env[] = {"WEFT_WORKER_CONNECT=", NULL};
    const char *other_type[] = {"--connect", fx->endpoint, "--types", "shell,python", NULL};
    const char *no_endpoint[] = {"--slots", "1", NULL};
    const char *stray[] = {"--connect", fx->endpoint, "extra", NULL};
    const char *bad_slots[] = {"--connect", fx->endpoint, "--slots", "0", NULL};
    const char *bad_endpoint[] = {"--connect", "http://x", NULL};
    const char *const *cases[] = {other_type, no_endpoint, stray, bad_slots, bad_endpoint};
    char *err = s_join(fx->dir, "usage.err");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pid_t pid = s_spawn(cases[i], no_env, "/dev/null", err);
        char what[64];
        snprintf(what, sizeof what, "usage case %zu", i);
        s_assert_exit(s_reap(pid), 2, what);
    }
    /* The refusal says why. */
    pid_t pid = s_spawn(other_type, no_env, "/dev/null", err);
    s_assert_exit(s_reap(pid), 2, "--types shell,python");
    char *text = s_slurp(err);
    assert_non_null(text);
    assert_non_null(strstr(text, "cannot serve type 'python'"));
    free(text);
    const char *help[] = {"--help", NULL};
    pid = s_spawn(help, no_env, err, NULL);
    s_assert_exit(s_reap(pid), 0, "--help");
    text = s_slurp(err);
    assert_non_null(text);
    assert_non_null(strstr(text, "usage: weft worker"));
    free(text);
    free(err);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_worker_proc_runs_shell_diamond_and_stops_on_sigterm,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_worker_proc_gives_up_on_a_closed_engine, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_worker_proc_usage_errors_exit_2, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("worker_proc", tests, NULL, NULL);
}
