/*
 * process_test.c -- process-level faults: real processes, real signals, through the public API.
 *
 * - A consumer process killed (SIGKILL) while it runs a job: the board notices (connection or
 *   heartbeats), charges the job's lost budget and the job completes on another consumer.
 * - A consumer process stopped (SIGSTOP): silent but connected; declared lost after the
 *   liveness window, the job completes elsewhere, and the report it sends once continued is
 *   fenced off (stale attempt), leaving the recorded result alone.
 * - An engine process killed (SIGKILL) in the middle of a 400-job lattice, once and then twice
 *   in a row: reopening the state directory resumes the request; jobs recorded done never run
 *   again; only jobs running at a kill run again (at most one per consumer slot).
 * - A second engine on a held state directory is refused with EBUSY naming the holder's pid,
 *   and is accepted once the holder is dead (its flock and LMDB reader slots are stale).
 *
 * The helper programs (weft_test_worker, weft_test_crash_child) are found in $WEFT_TEST_BINDIR
 * (set by ctest) or else beside this executable.  Children get PR_SET_PDEATHSIG so an aborted
 * test (CMOCKA_TEST_ABORT) leaves no process behind.  Nothing sleeps for timing: every wait is
 * on a file's content or an engine event, with a generous deadline.
 *
 * Workload: a handful of processes per test; the lattice tests fsync every commit and every
 * log line, which dominates their run time (a few seconds each on a laptop disk).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <weft/weft.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
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
#define T_LATTICE_N 400
#define T_LATTICE_THREADS 4
/* A whole lattice on a slow, shared disk with fsync everywhere: well past the usual deadline. */
#define T_LATTICE_DEADLINE_MS (4 * WF_TEST_DEADLINE_MS)

/* ------------------------------------------------------------------------------------------ */
/* Fixture: a temp dir and the children to reap whatever happens                              */

#define T_MAX_CHILDREN 4

typedef struct fx {
    char *dir;      /* the test's own temp dir */
    char *state;    /* dir/state: the engine's state directory */
    char *log;      /* dir/log: the crash child's (and ok worker's) job log */
    char *mark;     /* dir/mark: the block worker's "started"/"finished" lines */
    char *out;      /* dir/out: the crash child's stdout */
    char *endpoint; /* a unique ipc:// endpoint */
    pid_t kids[T_MAX_CHILDREN];
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
    fx->dir = wf_test_tmpdir("proc");
    fx->state = s_join(fx->dir, "state");
    fx->log = s_join(fx->dir, "log");
    fx->mark = s_join(fx->dir, "mark");
    fx->out = s_join(fx->dir, "out");
    fx->endpoint = wf_test_endpoint("ipc");
    *state = fx;
    return 0;
}

static void
s_reap(pid_t pid, int *status_p)
{
    int status = 0;
    pid_t r;
    do
        r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    assert_int_equal(r, pid);
    if (status_p)
        *status_p = status;
}

static void
s_forget(fx_t *fx, pid_t pid)
{
    for (int i = 0; i < T_MAX_CHILDREN; i++)
        if (fx->kids[i] == pid)
            fx->kids[i] = 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    for (int i = 0; i < T_MAX_CHILDREN; i++) {
        if (fx->kids[i] > 0) {
            kill(fx->kids[i], SIGKILL);
            waitpid(fx->kids[i], NULL, 0);
        }
    }
    /* libzmq 4.3 leaves an ipc:// socket file behind when the bound socket closes. */
    if (strncmp(fx->endpoint, "ipc://", 6) == 0)
        unlink(fx->endpoint + 6);
    wf_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->state);
    free(fx->log);
    free(fx->mark);
    free(fx->out);
    free(fx->endpoint);
    free(fx);
    *state = NULL;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Child processes                                                                            */

/* $WEFT_TEST_BINDIR/name, or name beside this executable. */
static char *
s_helper(const char *name)
{
    const char *bindir = getenv("WEFT_TEST_BINDIR");
    char self[PATH_MAX];
    if (!bindir || !*bindir) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        assert_true(n > 0);
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        assert_non_null(slash);
        *slash = '\0';
        bindir = self;
    }
    char *path = s_join(bindir, name);
    if (access(path, X_OK) != 0)
        fail_msg("helper program %s is missing (build its target)", path);
    return path;
}

/*
 * Start argv[0] with the environment plus `extra` (NAME=value strings, NULL-terminated) and,
 * if out is not NULL, stdout to that file.  Everything is prepared before fork: between fork
 * and exec the child only makes async-signal-safe calls (the engine's threads may hold locks).
 */
static pid_t
s_spawn(fx_t *fx, char *const argv[], const char *const extra[], const char *out)
{
    size_t nenv = 0, nextra = 0;
    while (environ[nenv])
        nenv++;
    while (extra && extra[nextra])
        nextra++;
    char **envp = calloc(nenv + nextra + 1, sizeof *envp);
    assert_non_null(envp);
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
    envp[k] = NULL;

    int slot = -1;
    for (int i = 0; i < T_MAX_CHILDREN && slot < 0; i++)
        if (fx->kids[i] == 0)
            slot = i;
    assert_true(slot >= 0);

    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Die with the test process, so a failed assertion leaves nothing running. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(126);
        if (out) {
            int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
                _exit(126);
            close(fd);
        }
        execve(argv[0], argv, envp);
        _exit(127);
    }
    free(envp);
    fx->kids[slot] = pid;
    return pid;
}

/* SIGKILL a child and check it died of it. */
static void
s_kill9(fx_t *fx, pid_t pid)
{
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = 0;
    s_reap(pid, &status);
    s_forget(fx, pid);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        fail_msg("child %d ended with status 0x%x, not by SIGKILL", (int)pid, status);
}

/* ------------------------------------------------------------------------------------------ */
/* Files                                                                                      */

/* The whole file, NUL-terminated (heap), or NULL if it does not exist yet. */
static char *
s_slurp(const char *path, size_t *len_p)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    if (len_p)
        *len_p = len;
    return buf;
}

static size_t
s_count_lines(const char *path)
{
    char *s = s_slurp(path, NULL);
    size_t n = 0;
    for (char *p = s; p && *p; p++)
        if (*p == '\n')
            n++;
    free(s);
    return n;
}

typedef struct s_has {
    const char *path;
    const char *needle;
} s_has_t;

static bool
s_file_has(void *arg)
{
    s_has_t *h = arg;
    char *s = s_slurp(h->path, NULL);
    bool yes = s && strstr(s, h->needle);
    free(s);
    return yes;
}

static void
s_wait_file_has(const char *path, const char *needle)
{
    s_has_t h = {path, needle};
    if (!wf_test_wait(s_file_has, &h, WF_TEST_DEADLINE_MS))
        fail_msg("%s never contained \"%s\"", path, needle);
}

typedef struct s_lines {
    const char *path;
    size_t min;
} s_lines_t;

static bool
s_has_lines(void *arg)
{
    s_lines_t *l = arg;
    return s_count_lines(l->path) >= l->min;
}

/* ------------------------------------------------------------------------------------------ */
/* Engine helpers                                                                             */

static weft_engine_t *
s_open(const char *dir, const weft_options_t *opts)
{
    weft_engine_t *eng = NULL;
    char err[512] = "";
    int rc = weft_engine_open(&eng, dir, opts, err, sizeof err);
    if (rc != WEFT_OK)
        fail_msg("weft_engine_open(%s): %s (%s)", dir, weft_strerror(rc), err);
    assert_non_null(eng);
    return eng;
}

/* An engine whose board also listens on fx->endpoint, with quick heartbeats. */
static weft_engine_t *
s_open_with_board(fx_t *fx)
{
    weft_options_t *opts = NULL;
    assert_int_equal(weft_options_new(&opts), WEFT_OK);
    assert_int_equal(weft_options_set_int(opts, WEFT_OPT_HEARTBEAT_MS, T_HEARTBEAT_MS), WEFT_OK);
    assert_int_equal(weft_options_set_str(opts, WEFT_OPT_BOARD_BIND, fx->endpoint), WEFT_OK);
    weft_engine_t *eng = s_open(fx->state, opts);
    weft_options_destroy(&opts);
    return eng;
}

static weft_reqid_t
s_submit_one(weft_engine_t *eng, const char *name, const char *job, const char *type)
{
    weft_request_t *req = NULL;
    assert_int_equal(weft_request_new(&req, name), WEFT_OK);
    assert_int_equal(weft_request_add_job(req, job, type, NULL, 0), WEFT_OK);
    weft_reqid_t id = 0;
    int rc = weft_request_submit(eng, req, &id);
    if (rc != WEFT_OK)
        fail_msg("submit %s: %s (%s)", name, weft_strerror(rc), weft_request_errmsg(req));
    weft_request_destroy(&req);
    assert_true(id != 0);
    return id;
}

static void
s_wait_succeeded(weft_engine_t *eng, weft_reqid_t id, int timeout_ms)
{
    weft_req_state st = WEFT_REQ_RUNNING;
    int rc = weft_request_wait(eng, id, timeout_ms, &st);
    if (rc != WEFT_OK || st != WEFT_REQ_SUCCEEDED) {
        weft_request_info_t info;
        memset(&info, 0, sizeof info);
        weft_request_status(eng, id, &info);
        fail_msg("request %llu: wait %s, state %s (done %u, ready %u, running %u, failed %u of %u)",
                 (unsigned long long)id, weft_strerror(rc), weft_req_state_name(st),
                 info.count[WEFT_JOB_DONE], info.count[WEFT_JOB_READY],
                 info.count[WEFT_JOB_RUNNING], info.count[WEFT_JOB_FAILED], info.njobs);
    }
}

/* The local consumer's handler: counts its calls and leaves its mark in the result. */
typedef struct s_local {
    atomic_int calls;
} s_local_t;

static int
s_local_handler(weft_job_t *job, void *arg)
{
    s_local_t *l = arg;
    atomic_fetch_add(&l->calls, 1);
    return weft_job_set_result(job, "local", 5) == WEFT_OK ? 0 : 1;
}

/* The crash child's handler, for finishing its lattice in this process. */
static int
s_append_handler(weft_job_t *job, void *arg)
{
    const char *log = arg;
    char line[WEFT_MAX_ID + 2];
    int len = snprintf(line, sizeof line, "%s\n", weft_job_id(job));
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return 1;
    int rc = (write(fd, line, (size_t)len) == len && fsync(fd) == 0) ? 0 : 1;
    close(fd);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* A remote consumer lost while it runs a job                                                 */

/* Engine with a local "t" handler (not started), a block worker process, one job "j" of type
 * "t" it has taken.  Returns the worker's pid. */
static pid_t
s_remote_takes_job(fx_t *fx, weft_engine_t *eng, s_local_t *local, weft_reqid_t *id_p)
{
    assert_int_equal(weft_engine_register(eng, "t", s_local_handler, local), WEFT_OK);
    char *bin = s_helper("weft_test_worker");
    char markenv[PATH_MAX + 32];
    snprintf(markenv, sizeof markenv, "WEFT_TEST_MARK=%s", fx->mark);
    char *argv[] = {bin, fx->endpoint, "t", "block", "1", NULL};
    const char *extra[] = {markenv, NULL};
    pid_t pid = s_spawn(fx, argv, extra, NULL);
    free(bin);

    *id_p = s_submit_one(eng, "lose-me", "j", "t");
    /* Only the remote worker serves "t" until it has the job: local slots start after. */
    s_wait_file_has(fx->mark, "started j 1\n");
    assert_int_equal(weft_engine_start_consumers(eng, 1), WEFT_OK);

    weft_job_info_t info;
    assert_int_equal(weft_job_status(eng, *id_p, "j", &info), WEFT_OK);
    assert_int_equal(info.state, WEFT_JOB_RUNNING);
    assert_int_equal(info.attempts, 1);
    assert_int_equal(info.lost, 0);
    return pid;
}

static void
s_check_rerun_once(weft_engine_t *eng, weft_reqid_t id, s_local_t *local)
{
    weft_job_info_t info;
    assert_int_equal(weft_job_status(eng, id, "j", &info), WEFT_OK);
    assert_int_equal(info.state, WEFT_JOB_DONE);
    assert_int_equal(info.reason, WEFT_REASON_SUCCEEDED);
    assert_int_equal(info.attempts, 2);
    assert_int_equal(info.lost, 1);
    assert_int_equal(info.failures, 0);
    assert_int_equal(atomic_load(&local->calls), 1);
    char buf[16];
    size_t len = 0;
    assert_int_equal(weft_job_result(eng, id, "j", buf, sizeof buf, &len), WEFT_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "local", 5);
}

static void
test_process_consumer_killed_jobs_complete_elsewhere(void **state)
{
    fx_t *fx = *state;
    s_local_t local = {0};
    weft_engine_t *eng = s_open_with_board(fx);
    weft_reqid_t id = 0;
    pid_t pid = s_remote_takes_job(fx, eng, &local, &id);

    int64_t t0 = wf_test_now_ms();
    s_kill9(fx, pid);
    s_wait_succeeded(eng, id, WF_TEST_DEADLINE_MS);
    print_message("      job re-run and done %lld ms after the consumer was killed\n",
                  (long long)(wf_test_now_ms() - t0));
    s_check_rerun_once(eng, id, &local);
    weft_engine_close(&eng);
    assert_null(eng);
}

static void
test_process_consumer_stopped_is_lost_and_fenced(void **state)
{
    fx_t *fx = *state;
    s_local_t local = {0};
    weft_engine_t *eng = s_open_with_board(fx);
    weft_reqid_t id = 0;
    pid_t pid = s_remote_takes_job(fx, eng, &local, &id);

    /* Stopped, its connection stays up: only the missing heartbeats can tell. */
    assert_int_equal(kill(pid, SIGSTOP), 0);
    int64_t t0 = wf_test_now_ms();
    s_wait_succeeded(eng, id, WF_TEST_DEADLINE_MS);
    print_message("      job re-run and done %lld ms after the consumer was stopped\n",
                  (long long)(wf_test_now_ms() - t0));
    s_check_rerun_once(eng, id, &local);

    /* Continued, the worker reconnects still running attempt 1; released, it reports DONE
     * with the result "remote" for that attempt.  The board must ignore it. */
    assert_int_equal(kill(pid, SIGCONT), 0);
    assert_int_equal(kill(pid, SIGUSR1), 0);
    s_wait_file_has(fx->mark, "finished j 1\n");
    /* A probe only that worker serves: once it is done, the late DONE it sent first on the
     * same connection has been handled by the board. */
    weft_reqid_t probe = s_submit_one(eng, "probe", "p", "probe");
    s_wait_succeeded(eng, probe, WF_TEST_DEADLINE_MS);
    s_check_rerun_once(eng, id, &local);
    weft_request_info_t rinfo;
    assert_int_equal(weft_request_status(eng, id, &rinfo), WEFT_OK);
    assert_int_equal(rinfo.state, WEFT_REQ_SUCCEEDED);
    assert_int_equal(rinfo.count[WEFT_JOB_DONE], 1);

    assert_int_equal(kill(pid, SIGTERM), 0);
    int status = 0;
    s_reap(pid, &status);
    s_forget(fx, pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    s_check_rerun_once(eng, id, &local);
    weft_engine_close(&eng);
    assert_null(eng);
}

/* ------------------------------------------------------------------------------------------ */
/* An engine killed in the middle of a lattice                                                */

/* What the store says about every job of the one request, read right after a reopen. */
typedef struct snap {
    weft_reqid_t id;
    uint32_t njobs;
    char (*ids)[WEFT_MAX_ID + 1];
    bool *done;     /* DONE when the engine was killed */
    bool *inflight; /* handed out (attempts > 0) and not terminal: running at a kill */
    uint32_t ndone, ninflight;
} snap_t;

static void
s_snap_free(snap_t *s)
{
    free(s->ids);
    free(s->done);
    free(s->inflight);
    memset(s, 0, sizeof *s);
}

typedef struct s_list {
    int n;
    weft_request_info_t first;
} s_list_t;

static int
s_list_fn(const weft_request_info_t *info, void *arg)
{
    s_list_t *l = arg;
    if (l->n++ == 0)
        l->first = *info;
    return 0;
}

static void
s_snapshot(weft_engine_t *eng, snap_t *s)
{
    memset(s, 0, sizeof *s);
    s_list_t l = {0};
    assert_int_equal(weft_request_list(eng, s_list_fn, &l), WEFT_OK);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.first.njobs, T_LATTICE_N);
    s->id = l.first.id;
    s->njobs = l.first.njobs;
    s->ids = calloc(s->njobs, sizeof *s->ids);
    s->done = calloc(s->njobs, sizeof *s->done);
    s->inflight = calloc(s->njobs, sizeof *s->inflight);
    assert_true(s->ids && s->done && s->inflight);
    for (uint32_t i = 0; i < s->njobs; i++) {
        weft_job_info_t info;
        assert_int_equal(weft_job_status_at(eng, s->id, i, &info), WEFT_OK);
        assert_int_equal(info.index, i);
        memcpy(s->ids[i], info.id, sizeof s->ids[i]);
        switch (info.state) {
        case WEFT_JOB_DONE:
            s->done[i] = true;
            s->ndone++;
            break;
        case WEFT_JOB_PENDING:
        case WEFT_JOB_READY:
        case WEFT_JOB_RUNNING:
            if (info.attempts > 0) {
                s->inflight[i] = true;
                s->ninflight++;
            }
            break;
        default:
            fail_msg("job %s is %s (%s) after the kill", info.id, weft_job_state_name(info.state),
                     weft_reason_name(info.reason));
        }
    }
}

static uint32_t
s_job_index(const snap_t *s, const char *id, size_t len)
{
    for (uint32_t i = 0; i < s->njobs; i++)
        if (strlen(s->ids[i]) == len && memcmp(s->ids[i], id, len) == 0)
            return i;
    fail_msg("the log names a job the request does not have: %.*s", (int)len, id);
    return UINT32_MAX;
}

/*
 * Check the log against the snapshots taken at each of `nkills` restarts.  Phase p (0..nkills)
 * holds the lines written by run p: lines [cut[p-1], cut[p]) with cut[-1] = 0 and the last
 * phase running to the end.  The rules (at-least-once running, exactly-once recording):
 *  - every job is in the log;
 *  - no job is in one phase twice (one engine run runs a job once; no consumer is lost);
 *  - a job DONE at snapshot k is in no phase >= k: done jobs never run again;
 *  - a job done at the first snapshot is in the log exactly once;
 *  - the jobs of phase k-1 that are in a later phase too were running at kill k: not done,
 *    handed out, and at most one per consumer slot and queue place (prefetch).
 */
static void
s_check_log(const char *log, const snap_t *snaps, const size_t *cut, int nkills)
{
    const snap_t *s0 = &snaps[0];
    uint32_t n = s0->njobs;
    int nphases = nkills + 1;
    uint32_t *seen = calloc((size_t)n * (size_t)nphases, sizeof *seen);
    assert_non_null(seen);
    char *text = s_slurp(log, NULL);
    assert_non_null(text);
    size_t line = 0;
    int phase = 0;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        if (!nl)
            fail_msg("the log ends in a partial line: \"%s\"", p);
        while (phase < nkills && line >= cut[phase])
            phase++;
        uint32_t i = s_job_index(s0, p, (size_t)(nl - p));
        if (++seen[(size_t)i * nphases + phase] > 1)
            fail_msg("job %s ran twice in run %d", s0->ids[i], phase);
        line++;
        p = nl + 1;
    }
    free(text);

    uint32_t crossing[8] = {0};
    for (uint32_t i = 0; i < n; i++) {
        uint32_t total = 0;
        for (int q = 0; q < nphases; q++)
            total += seen[(size_t)i * nphases + q];
        if (total == 0)
            fail_msg("job %s never ran", s0->ids[i]);
        if (snaps[0].done[i] && total != 1)
            fail_msg("job %s was done before the first restart but ran %u times", s0->ids[i],
                     total);
        for (int k = 1; k <= nkills; k++) {
            const snap_t *sk = &snaps[k - 1];
            uint32_t after = 0;
            for (int q = k; q < nphases; q++)
                after += seen[(size_t)i * nphases + q];
            if (sk->done[i] && after)
                fail_msg("job %s was done at restart %d and ran again", s0->ids[i], k);
            if (seen[(size_t)i * nphases + k - 1] && after) {
                if (!sk->inflight[i])
                    fail_msg("job %s ran in runs %d and later but was not running at kill %d",
                             s0->ids[i], k - 1, k);
                crossing[k]++;
            }
        }
    }
    for (int k = 1; k <= nkills; k++) {
        print_message("      restart %d: %u done, %u in flight, %u ran again after it\n", k,
                      snaps[k - 1].ndone, snaps[k - 1].ninflight, crossing[k]);
        /* Leased at the kill: a job per thread plus one queued per thread (the default
         * WEFT_OPT_PREFETCH), each of which may have run without its outcome being durable. */
        if (crossing[k] > 2 * T_LATTICE_THREADS)
            fail_msg("%u jobs ran again after kill %d; at most %d were leased", crossing[k], k,
                     2 * T_LATTICE_THREADS);
    }
    free(seen);
}

static pid_t
s_start_crash_child(fx_t *fx)
{
    char *bin = s_helper("weft_test_crash_child");
    char n[16], threads[16];
    snprintf(n, sizeof n, "%d", T_LATTICE_N);
    snprintf(threads, sizeof threads, "%d", T_LATTICE_THREADS);
    char *argv[] = {bin, fx->state, fx->log, n, threads, NULL};
    pid_t pid = s_spawn(fx, argv, NULL, fx->out);
    free(bin);
    return pid;
}

/* Let the child log at least `lines` lines, kill it, and return how many lines it left. */
static size_t
s_kill_child_at(fx_t *fx, pid_t pid, size_t lines)
{
    s_lines_t l = {fx->log, lines};
    if (!wf_test_wait(s_has_lines, &l, T_LATTICE_DEADLINE_MS))
        fail_msg("the crash child logged only %zu of %zu lines", s_count_lines(fx->log), lines);
    s_kill9(fx, pid);
    return s_count_lines(fx->log);
}

/* Reopen without consumers, read every job's state, close again. */
static void
s_snapshot_closed(fx_t *fx, snap_t *s)
{
    weft_engine_t *eng = s_open(fx->state, NULL);
    s_snapshot(eng, s);
    weft_engine_close(&eng);
}

/* Reopen, read every job's state before any consumer starts, then finish the lattice here. */
static void
s_finish_here(fx_t *fx, snap_t *s)
{
    weft_engine_t *eng = s_open(fx->state, NULL);
    s_snapshot(eng, s);
    assert_int_equal(weft_engine_register(eng, "append", s_append_handler, fx->log), WEFT_OK);
    assert_int_equal(weft_engine_start_consumers(eng, T_LATTICE_THREADS), WEFT_OK);
    s_wait_succeeded(eng, s->id, T_LATTICE_DEADLINE_MS);
    weft_request_info_t info;
    assert_int_equal(weft_request_status(eng, s->id, &info), WEFT_OK);
    assert_int_equal(info.count[WEFT_JOB_DONE], T_LATTICE_N);
    assert_true(info.finished_ms > 0);
    weft_engine_close(&eng);
    assert_null(eng);
}

static void
test_process_engine_killed_resumes_exactly_once(void **state)
{
    fx_t *fx = *state;

    /* One kill, resumed in this process. */
    pid_t pid = s_start_crash_child(fx);
    size_t cut[2];
    snap_t snaps[2];
    cut[0] = s_kill_child_at(fx, pid, 120);
    s_finish_here(fx, &snaps[0]);
    assert_true(snaps[0].ndone > 0);
    assert_true(snaps[0].ndone < T_LATTICE_N);
    s_check_log(fx->log, snaps, cut, 1);
    s_snap_free(&snaps[0]);

    /* Two kills in a row: the second child resumes the first one's request, is killed in
     * turn, and this process finishes it. */
    wf_test_rmtree(fx->state);
    unlink(fx->log);
    pid = s_start_crash_child(fx);
    cut[0] = s_kill_child_at(fx, pid, 40);
    s_snapshot_closed(fx, &snaps[0]);
    pid = s_start_crash_child(fx);
    cut[1] = s_kill_child_at(fx, pid, cut[0] + 80);
    s_finish_here(fx, &snaps[1]);
    assert_true(snaps[1].ndone > snaps[0].ndone);
    s_check_log(fx->log, snaps, cut, 2);
    s_snap_free(&snaps[0]);
    s_snap_free(&snaps[1]);
}

/* ------------------------------------------------------------------------------------------ */
/* One engine per state directory                                                             */

static bool
s_has_line(void *arg)
{
    return s_count_lines(arg) >= 1;
}

static void
test_process_second_engine_refused(void **state)
{
    fx_t *fx = *state;
    pid_t pid = s_start_crash_child(fx);
    /* It prints the request id once the engine is open and the request submitted. */
    if (!wf_test_wait(s_has_line, fx->out, WF_TEST_DEADLINE_MS))
        fail_msg("the crash child never printed its request id");

    weft_engine_t *eng = NULL;
    char err[512] = "";
    assert_int_equal(weft_engine_open(&eng, fx->state, NULL, err, sizeof err), WEFT_EBUSY);
    assert_null(eng);
    char pidtext[32];
    snprintf(pidtext, sizeof pidtext, "%d", (int)pid);
    if (!strstr(err, pidtext))
        fail_msg("the EBUSY message does not name pid %s: \"%s\"", pidtext, err);

    /* Dead, it leaves its flock (gone with its file descriptors) and its LMDB reader slots
     * behind: the next open must take over, resume the request and finish it. */
    s_kill9(fx, pid);
    size_t cut = s_count_lines(fx->log);
    snap_t s;
    s_finish_here(fx, &s);
    s_check_log(fx->log, &s, &cut, 1);
    s_snap_free(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_process_consumer_killed_jobs_complete_elsewhere,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_process_consumer_stopped_is_lost_and_fenced, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_process_engine_killed_resumes_exactly_once, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_process_second_engine_refused, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("process", tests, NULL, NULL);
}
