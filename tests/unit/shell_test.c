/*
 * shell_test.c -- the shell runner with real processes: its payload codec (round trip and strict
 * rejections), and the handler run by a real engine's consumers: logs, environment, cwd, exit
 * status and signal deaths with the stderr tail, progress over fd 3, timeout and cancel killing
 * the whole process group, background processes killed after success, a job signalling its own
 * group, no job process outliving a weft process killed with SIGKILL (this binary re-executed as
 * `shell_test --child STATE_DIR WORKDIR` plays that weft), the spawner (spawner.h): killed under
 * a running attempt and replaced, clean signals and fds whatever weft's, big requests, many
 * attempts at once without an fd leak; big output, retries with per-attempt logs; output through
 * pipes: no log file for a silent stream, 10 MiB on each stream interleaved logged exactly (this
 * binary re-executed as `shell_test --write-both BYTES` writes them), logs readable while the
 * job runs, writers left after the shell (in the group or escaped from it) never holding up the
 * end of an attempt, and a log that cannot be created not failing the job.
 *
 * Each test gets its own temp dir holding the engine's state, the log dir and a work dir that is
 * the runner's base_dir.  Commands synchronise with the test through files in the work dir; the
 * test never sleeps for timing: it waits on events, files or states with generous deadlines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <msgpack.h>

#include <weft/weft.h>

#include "proto.h"
#include "shell.h"
#include "spawner.h"
#include "testutil.h"

typedef struct fx {
    char *dir;
    char logs[1024];
    char work[1024];
    weft_engine_t *eng;
    weft_options_t *opts;
    wf_shell_opts_t sh;
} fx_t;

static int
s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->dir = wf_test_tmpdir("shell");
    snprintf(f->logs, sizeof f->logs, "%s/logs", f->dir);
    snprintf(f->work, sizeof f->work, "%s/work", f->dir);
    char st[1100];
    snprintf(st, sizeof st, "%s/state", f->dir);
    if (mkdir(f->work, 0755) != 0 || mkdir(st, 0755) != 0)
        return -1;
    weft_options_new(&f->opts);
    weft_options_set_int(f->opts, WEFT_OPT_HEARTBEAT_MS, 100);
    weft_options_set_int(f->opts, WEFT_OPT_DURABILITY, WEFT_DURABLE_PROCESS);
    char err[256];
    int rc = weft_engine_open(&f->eng, st, f->opts, err, sizeof err);
    if (rc != WEFT_OK) {
        fprintf(stderr, "engine open: %s: %s\n", weft_strerror(rc), err);
        return -1;
    }
    f->sh.log_dir = f->logs;
    f->sh.base_dir = f->work;
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *f = *state;
    weft_engine_close(&f->eng);
    assert_null(f->eng);
    weft_options_destroy(&f->opts);
    wf_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Register the runner with the fixture's (possibly adjusted) options and start `slots` slots. */
static void
s_start_n(fx_t *f, uint32_t slots)
{
    assert_int_equal(weft_engine_register(f->eng, "shell", wf_shell_handler, &f->sh), WEFT_OK);
    assert_int_equal(weft_engine_start_consumers(f->eng, slots), WEFT_OK);
}

static void
s_start(fx_t *f)
{
    s_start_n(f, 2);
}

/* Add shell job `id` running `run`. */
static void
s_add(weft_request_t *r, const char *id, const char *run, const char *const *env, size_t nenv,
      const char *cwd)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(wf_shell_payload_encode(run, env, nenv, cwd, &buf, &len), WEFT_OK);
    assert_int_equal(weft_request_add_job(r, id, "shell", buf, len), WEFT_OK);
    free(buf);
}

static weft_reqid_t
s_submit(fx_t *f, weft_request_t **r_p)
{
    weft_reqid_t id = 0;
    int rc = weft_request_submit(f->eng, *r_p, &id);
    if (rc != WEFT_OK)
        fprintf(stderr, "submit: %s: %s\n", weft_strerror(rc), weft_request_errmsg(*r_p));
    assert_int_equal(rc, WEFT_OK);
    weft_request_destroy(r_p);
    return id;
}

/* Submit one job "j" running `run` (with options) and return the request id. */
static weft_reqid_t
s_run1(fx_t *f, const char *run, int64_t timeout_ms, int64_t retries)
{
    weft_request_t *r = NULL;
    assert_int_equal(weft_request_new(&r, "t"), WEFT_OK);
    s_add(r, "j", run, NULL, 0, NULL);
    if (timeout_ms)
        assert_int_equal(weft_request_job_set(r, "j", WEFT_JOBOPT_TIMEOUT_MS, timeout_ms), WEFT_OK);
    if (retries)
        assert_int_equal(weft_request_job_set(r, "j", WEFT_JOBOPT_RETRIES, retries), WEFT_OK);
    return s_submit(f, &r);
}

static weft_req_state
s_wait(fx_t *f, weft_reqid_t id)
{
    weft_req_state st = WEFT_REQ_RUNNING;
    assert_int_equal(weft_request_wait(f->eng, id, WF_TEST_DEADLINE_MS, &st), WEFT_OK);
    return st;
}

/* s_run1, then wait for the request's end and check it is `want`.  Returns the request id. */
static weft_reqid_t
s_run_wait(fx_t *f, const char *run, int64_t timeout_ms, int64_t retries, weft_req_state want)
{
    weft_reqid_t id = s_run1(f, run, timeout_ms, retries);
    assert_int_equal(s_wait(f, id), want);
    return id;
}

static weft_job_info_t
s_info(fx_t *f, weft_reqid_t id, const char *job)
{
    weft_job_info_t info;
    assert_int_equal(weft_job_status(f->eng, id, job, &info), WEFT_OK);
    return info;
}

/* A whole small file as a string (NULL if missing); caller frees. */
static char *
s_slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static char *
s_work_file(fx_t *f, const char *name)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", f->work, name);
    return s_slurp(path);
}

/* The work file `name` exists and holds exactly `want`. */
static void
s_assert_work_file(fx_t *f, const char *name, const char *want)
{
    char *got = s_work_file(f, name);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void
s_touch(fx_t *f, const char *name)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", f->work, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
}

static char *
s_log(fx_t *f, weft_reqid_t id, const char *job, uint32_t attempt, const char *stream)
{
    char path[2048];
    return s_slurp(wf_shell_log_path(path, sizeof path, f->logs, id, job, attempt, stream));
}

/* A pid written by the command into a work file: waits until the file holds a full line. */
typedef struct pidwait {
    fx_t *f;
    const char *name;
    pid_t pid;
} pidwait_t;

static bool
s_pid_ready(void *arg)
{
    pidwait_t *w = arg;
    char *s = s_work_file(w->f, w->name);
    bool ok = s && strchr(s, '\n') && atoi(s) > 0;
    if (ok)
        w->pid = (pid_t)atoi(s);
    free(s);
    return ok;
}

static pid_t
s_pid(fx_t *f, const char *name)
{
    pidwait_t w = {f, name, 0};
    assert_true(wf_test_wait(s_pid_ready, &w, WF_TEST_DEADLINE_MS));
    return w.pid;
}

/* Gone: no such process, or a zombie nobody reaps (orphans go to a PID 1 that may not reap). */
static bool
s_pid_gone(void *arg)
{
    pid_t pid = *(pid_t *)arg;
    if (kill(pid, 0) == -1 && errno == ESRCH)
        return true;
    char path[64], buf[512] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    const char *close_paren = strrchr(buf, ')');
    return close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z';
}

static void
s_assert_gone(pid_t pid)
{
    assert_true(pid > 0);
    assert_true(wf_test_wait(s_pid_gone, &pid, WF_TEST_DEADLINE_MS));
}

/* Field `pgrp` and the state of /proc/PID/stat; false if the process is gone. */
static bool
s_proc_stat(pid_t pid, char *state, pid_t *pgrp)
{
    char path[64], buf[512] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    const char *close_paren = strrchr(buf, ')');
    int ppid = 0, pg = 0;
    if (!close_paren || sscanf(close_paren + 1, " %c %d %d", state, &ppid, &pg) != 3)
        return false;
    *pgrp = (pid_t)pg;
    return true;
}

/* No live (non-zombie) process is left in process group *arg. */
static bool
s_group_gone(void *arg)
{
    pid_t pgid = *(pid_t *)arg;
    DIR *d = opendir("/proc");
    if (!d)
        return false;
    bool gone = true;
    struct dirent *e;
    while (gone && (e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        char st;
        pid_t pg;
        if (*end == '\0' && pid > 0 && s_proc_stat((pid_t)pid, &st, &pg) && pg == pgid && st != 'Z')
            gone = false;
    }
    closedir(d);
    return gone;
}

/* The ppid field of /proc/PID/stat, 0 if the process is gone. */
static pid_t
s_ppid(pid_t pid)
{
    char path[64], buf[512] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    const char *close_paren = strrchr(buf, ')');
    char st;
    int ppid = 0;
    if (!close_paren || sscanf(close_paren + 1, " %c %d", &st, &ppid) != 2)
        return 0;
    return (pid_t)ppid;
}

static bool
s_work_file_missing(fx_t *f, const char *name)
{
    char *s = s_work_file(f, name);
    free(s);
    return s == NULL;
}

/* ---- payload ------------------------------------------------------------------------------ */

static void
test_shell_payload_round_trip(void **state)
{
    (void)state;
    const char *env[] = {"FOO=bar", "EMPTY=", "EQ=a=b", "_x1=y"};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(wf_shell_payload_encode("echo \"$FOO\"", env, 4, "sub/dir", &buf, &len),
                     WEFT_OK);
    wf_shell_payload_t p;
    assert_int_equal(wf_shell_payload_decode(buf, len, &p), WEFT_OK);
    assert_string_equal(p.run, "echo \"$FOO\"");
    assert_int_equal(p.nenv, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(p.env[i], env[i]);
    assert_string_equal(p.cwd, "sub/dir");
    wf_shell_payload_fini(&p);
    assert_null(p.run);
    free(buf);

    /* run alone */
    assert_int_equal(wf_shell_payload_encode("true", NULL, 0, NULL, &buf, &len), WEFT_OK);
    assert_int_equal(wf_shell_payload_decode(buf, len, &p), WEFT_OK);
    assert_string_equal(p.run, "true");
    assert_int_equal(p.nenv, 0);
    assert_null(p.cwd);
    wf_shell_payload_fini(&p);
    wf_shell_payload_fini(&p); /* idempotent */
    free(buf);
}

static void
test_shell_payload_encode_rejects_bad_input(void **state)
{
    (void)state;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(wf_shell_payload_encode(NULL, NULL, 0, NULL, &buf, &len), WEFT_EINVAL);
    const char *bad[] = {"noequals", "=v", "1X=y", "A-B=c", "A B=c", "é=x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(wf_shell_payload_encode("true", &bad[i], 1, NULL, &buf, &len),
                         WEFT_EINVAL);
    const char *dup[] = {"A=1", "A=2"};
    assert_int_equal(wf_shell_payload_encode("true", dup, 2, NULL, &buf, &len), WEFT_EINVAL);
    assert_int_equal(wf_shell_payload_encode("true", NULL, 1, NULL, &buf, &len), WEFT_EINVAL);
    assert_int_equal(wf_shell_payload_encode("true", NULL, 0, "", &buf, &len), WEFT_EINVAL);
    assert_null(buf);
    /* over the payload limit */
    size_t big = WF_MAX_PAYLOAD + 10;
    char *run = malloc(big + 1);
    memset(run, 'x', big);
    run[big] = '\0';
    assert_int_equal(wf_shell_payload_encode(run, NULL, 0, NULL, &buf, &len), WEFT_ETOOBIG);
    assert_null(buf);
    free(run);
}

/* A hand-built payload: the packer callback fills `pk`, then decode must say EPROTO. */
typedef void (*pack_fn)(msgpack_packer *pk);

static void
s_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

#define S_KEY(pk, lit) s_str(pk, lit, sizeof(lit) - 1)

static void
p_array(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    S_KEY(pk, "true");
}
static void
p_no_run(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    S_KEY(pk, "cwd");
    S_KEY(pk, "x");
}
static void
p_run_int(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    S_KEY(pk, "run");
    msgpack_pack_int(pk, 3);
}
static void
p_run_bin(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    S_KEY(pk, "run");
    msgpack_pack_bin(pk, 4);
    msgpack_pack_bin_body(pk, "true", 4);
}
static void
p_unknown_key(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    S_KEY(pk, "run");
    S_KEY(pk, "true");
    S_KEY(pk, "shell");
    S_KEY(pk, "bash");
}
static void
p_dup_key(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    S_KEY(pk, "run");
    S_KEY(pk, "true");
    S_KEY(pk, "run");
    S_KEY(pk, "false");
}
static void
p_int_key(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    S_KEY(pk, "run");
    S_KEY(pk, "true");
    msgpack_pack_int(pk, 1);
    S_KEY(pk, "x");
}
static void
p_nul_run(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    S_KEY(pk, "run");
    s_str(pk, "tr\0ue", 5);
}
static void
p_nul_cwd(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    S_KEY(pk, "run");
    S_KEY(pk, "true");
    S_KEY(pk, "cwd");
    s_str(pk, "a\0b", 3);
}
static void
p_empty_cwd(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    S_KEY(pk, "run");
    S_KEY(pk, "true");
    S_KEY(pk, "cwd");
    s_str(pk, "", 0);
}
static void
p_env_array(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    S_KEY(pk, "run");
    S_KEY(pk, "true");
    S_KEY(pk, "env");
    msgpack_pack_array(pk, 1);
    S_KEY(pk, "A=1");
}
static void
p_env_bad_name(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    S_KEY(pk, "run");
    S_KEY(pk, "true");
    S_KEY(pk, "env");
    msgpack_pack_map(pk, 1);
    S_KEY(pk, "9A");
    S_KEY(pk, "1");
}
static void
p_env_eq_name(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    S_KEY(pk, "run");
    S_KEY(pk, "true");
    S_KEY(pk, "env");
    msgpack_pack_map(pk, 1);
    S_KEY(pk, "A=B");
    S_KEY(pk, "1");
}
static void
p_env_int_value(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    S_KEY(pk, "run");
    S_KEY(pk, "true");
    S_KEY(pk, "env");
    msgpack_pack_map(pk, 1);
    S_KEY(pk, "A");
    msgpack_pack_int(pk, 1);
}
static void
p_env_nul_value(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    S_KEY(pk, "run");
    S_KEY(pk, "true");
    S_KEY(pk, "env");
    msgpack_pack_map(pk, 1);
    S_KEY(pk, "A");
    s_str(pk, "x\0y", 3);
}
static void
p_env_dup(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    S_KEY(pk, "run");
    S_KEY(pk, "true");
    S_KEY(pk, "env");
    msgpack_pack_map(pk, 2);
    S_KEY(pk, "A");
    S_KEY(pk, "1");
    S_KEY(pk, "A");
    S_KEY(pk, "2");
}
static void
p_trailing(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    S_KEY(pk, "run");
    S_KEY(pk, "true");
    msgpack_pack_nil(pk);
}

static void
test_shell_payload_decode_is_strict(void **state)
{
    (void)state;
    pack_fn bad[] = {p_array,       p_no_run,       p_run_int,       p_run_bin,
                     p_unknown_key, p_dup_key,      p_int_key,       p_nul_run,
                     p_nul_cwd,     p_empty_cwd,    p_env_array,     p_env_bad_name,
                     p_env_eq_name, p_env_int_value, p_env_nul_value, p_env_dup,
                     p_trailing};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        bad[i](&pk);
        wf_shell_payload_t p;
        int rc = wf_shell_payload_decode(sb.data, sb.size, &p);
        if (rc != WEFT_EPROTO)
            fprintf(stderr, "case %zu decoded with %d\n", i, rc);
        assert_int_equal(rc, WEFT_EPROTO);
        assert_null(p.run);
        assert_null(p.env);
        wf_shell_payload_fini(&p);
        msgpack_sbuffer_destroy(&sb);
    }
    /* raw bytes: empty, garbage, a truncated good payload, a lying container count */
    wf_shell_payload_t p;
    assert_int_equal(wf_shell_payload_decode("", 0, &p), WEFT_EPROTO);
    assert_int_equal(wf_shell_payload_decode(NULL, 0, &p), WEFT_EPROTO);
    assert_int_equal(wf_shell_payload_decode("echo hi", 7, &p), WEFT_EPROTO);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(wf_shell_payload_encode("true", NULL, 0, "d", &buf, &len), WEFT_OK);
    for (size_t n = 0; n < len; n++)
        assert_int_equal(wf_shell_payload_decode(buf, n, &p), WEFT_EPROTO);
    free(buf);
    const uint8_t liar[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa3, 'r', 'u', 'n'};
    assert_int_equal(wf_shell_payload_decode(liar, sizeof liar, &p), WEFT_EPROTO);
}

static void
test_shell_log_path_layout(void **state)
{
    (void)state;
    char buf[256];
    assert_ptr_equal(wf_shell_log_path(buf, sizeof buf, "/var/weft", 42, "build", 3, "err"), buf);
    assert_string_equal(buf, "/var/weft/42/build.3.err");
}

/* ---- running commands ---------------------------------------------------------------------- */

static void
test_shell_runs_command_and_logs_output(void **state)
{
    fx_t *f = *state;
    s_start(f);
    weft_reqid_t id = s_run_wait(f, "echo hi; echo err >&2", 0, 0, WEFT_REQ_SUCCEEDED);
    weft_job_info_t info = s_info(f, id, "j");
    assert_int_equal(info.state, WEFT_JOB_DONE);
    assert_int_equal(info.exit_code, 0);
    char *out = s_log(f, id, "j", 1, "out");
    char *err = s_log(f, id, "j", 1, "err");
    assert_non_null(out);
    assert_non_null(err);
    assert_string_equal(out, "hi\n");
    assert_string_equal(err, "err\n");
    free(out);
    free(err);
}

static void
test_shell_sets_weft_and_job_environment(void **state)
{
    fx_t *f = *state;
    /* the job's env overrides the runner's; WEFT_* cannot be overridden by the job */
    setenv("WEFT_SHELL_TEST_INHERITED", "from-runner", 1);
    s_start(f);
    const char *env[] = {"GREETING=hello world", "WEFT_JOB=spoofed", "HOME=/nowhere"};
    weft_request_t *r = NULL;
    assert_int_equal(weft_request_new(&r, "env"), WEFT_OK);
    s_add(r, "envjob", "printf '%s\\n' \"$WEFT_JOB\" \"$WEFT_ATTEMPT\" \"$WEFT_REQUEST\" "
                       "\"$WEFT_PROGRESS_FD\" \"$GREETING\" \"$HOME\" "
                       "\"$WEFT_SHELL_TEST_INHERITED\" > env.txt",
          env, 3, NULL);
    weft_reqid_t id = s_submit(f, &r);
    assert_int_equal(s_wait(f, id), WEFT_REQ_SUCCEEDED);
    char *got = s_work_file(f, "env.txt");
    assert_non_null(got);
    char want[512];
    snprintf(want, sizeof want, "envjob\n1\n%" PRIu64 "\n3\nhello world\n/nowhere\nfrom-runner\n",
             id);
    assert_string_equal(got, want);
    free(got);
    unsetenv("WEFT_SHELL_TEST_INHERITED");
}

static void
test_shell_honours_cwd(void **state)
{
    fx_t *f = *state;
    s_start(f);
    char sub[1100];
    snprintf(sub, sizeof sub, "%s/sub", f->work);
    assert_int_equal(mkdir(sub, 0755), 0);
    weft_request_t *r = NULL;
    assert_int_equal(weft_request_new(&r, "cwd"), WEFT_OK);
    s_add(r, "rel", "pwd -P > here.txt", NULL, 0, "sub");     /* under base_dir */
    s_add(r, "abs", "pwd -P > there.txt", NULL, 0, sub);      /* absolute */
    s_add(r, "none", "pwd -P > base.txt", NULL, 0, NULL);     /* base_dir itself */
    s_add(r, "missing", "true", NULL, 0, "no/such/dir");      /* fails before running */
    weft_reqid_t id = s_submit(f, &r);
    assert_int_equal(s_wait(f, id), WEFT_REQ_FAILED);
    char real_sub[4096], real_work[4096];
    assert_non_null(realpath(sub, real_sub));
    assert_non_null(realpath(f->work, real_work));
    strcat(real_sub, "\n");
    strcat(real_work, "\n");
    char *here = s_work_file(f, "sub/here.txt");
    char *there = s_work_file(f, "sub/there.txt");
    char *base = s_work_file(f, "base.txt");
    assert_non_null(here);
    assert_non_null(there);
    assert_non_null(base);
    assert_string_equal(here, real_sub);
    assert_string_equal(there, real_sub);
    assert_string_equal(base, real_work);
    free(here);
    free(there);
    free(base);
    weft_job_info_t info = s_info(f, id, "missing");
    assert_int_equal(info.state, WEFT_JOB_FAILED);
    assert_int_equal(info.exit_code, 127);
    assert_non_null(strstr(info.error, "cannot change directory"));
    assert_non_null(strstr(info.error, "no/such/dir"));
}

static void
test_shell_exit_status_fails_with_stderr_tail(void **state)
{
    fx_t *f = *state;
    s_start(f);
    weft_reqid_t id = s_run_wait(f, "echo first >&2; echo 'boom: disk full' >&2; exit 3",
                                 0, 0, WEFT_REQ_FAILED);
    weft_job_info_t info = s_info(f, id, "j");
    assert_int_equal(info.state, WEFT_JOB_FAILED);
    assert_int_equal(info.reason, WEFT_REASON_EXIT);
    assert_int_equal(info.exit_code, 3);
    assert_string_equal(info.error, "exit status 3: first\nboom: disk full");
}

static void
test_shell_long_stderr_tail_is_bounded(void **state)
{
    fx_t *f = *state;
    s_start(f);
    /* 200 numbered lines, ~20 KiB: only the last lines fit, the final one must be there */
    weft_reqid_t id = s_run_wait(f,
                                 "i=0; while [ $i -lt 200 ]; do "
                                 "echo \"line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\" >&2; "
                                 "i=$((i+1)); done; exit 5",
                                 0, 0, WEFT_REQ_FAILED);
    weft_job_info_t info = s_info(f, id, "j");
    assert_int_equal(info.exit_code, 5);
    assert_true(strncmp(info.error, "exit status 5: line ", 20) == 0);
    assert_true(strlen(info.error) <= WEFT_MAX_MESSAGE);
    assert_non_null(strstr(info.error, "line 199 x"));
    assert_null(strstr(info.error, "line 100 x"));
}

static void
test_shell_signal_death_names_the_signal(void **state)
{
    fx_t *f = *state;
    s_start(f);
    weft_reqid_t id = s_run_wait(f, "echo dying >&2; kill -9 $$", 0, 0, WEFT_REQ_FAILED);
    weft_job_info_t info = s_info(f, id, "j");
    assert_int_equal(info.exit_code, 137);
    assert_string_equal(info.error, "killed by signal 9 (SIGKILL): dying");
}

static void
test_shell_without_log_dir_discards_output(void **state)
{
    fx_t *f = *state;
    f->sh.log_dir = NULL;
    s_start(f);
    weft_reqid_t id = s_run_wait(f, "echo out; echo err >&2; exit 2", 0, 0, WEFT_REQ_FAILED);
    weft_job_info_t info = s_info(f, id, "j");
    assert_int_equal(info.exit_code, 2);
    assert_string_equal(info.error, "exit status 2");
    struct stat st;
    assert_int_not_equal(stat(f->logs, &st), 0);
}

static void
test_shell_bad_payload_fails_without_running(void **state)
{
    fx_t *f = *state;
    s_start(f);
    weft_request_t *r = NULL;
    assert_int_equal(weft_request_new(&r, "bad"), WEFT_OK);
    assert_int_equal(weft_request_add_job(r, "j", "shell", "touch ran", 9), WEFT_OK);
    weft_reqid_t id = s_submit(f, &r);
    assert_int_equal(s_wait(f, id), WEFT_REQ_FAILED);
    weft_job_info_t info = s_info(f, id, "j");
    assert_int_equal(info.exit_code, 127);
    assert_non_null(strstr(info.error, "bad shell payload"));
    assert_true(s_work_file_missing(f, "ran"));
}

/* ---- progress ------------------------------------------------------------------------------ */

/* Next progress event of job "j" (state RUNNING, attempt set, progress > 0). */
static int
s_next_progress(weft_events_t *ev)
{
    weft_event_t e;
    for (;;) {
        assert_int_equal(weft_events_next(ev, &e, WF_TEST_DEADLINE_MS), WEFT_OK);
        if (e.job_index != UINT32_MAX && e.state == WEFT_JOB_RUNNING && e.progress > 0)
            return e.progress;
    }
}

static void
test_shell_progress_lines_become_events(void **state)
{
    fx_t *f = *state;
    s_start(f);
    weft_events_t *ev = NULL;
    assert_int_equal(weft_events_open(f->eng, 0, &ev), WEFT_OK);
    /* Phase 1 repeats its line until the test saw it, so a late subscription loses nothing.
     * Phase 2 writes malformed lines (none may become progress), an overlong line, then 90. */
    weft_reqid_t id = s_run1(
        f,
        "while ! test -f go; do echo \"40 loading\" >&$WEFT_PROGRESS_FD; sleep 0.05; done; "
        "printf 'abc\\n101 too much\\n50x\\n-1\\n 60 lead\\n1000\\n' >&$WEFT_PROGRESS_FD; "
        "{ printf '70 '; head -c 5000 /dev/zero | tr '\\0' y; echo; } >&$WEFT_PROGRESS_FD; "
        "printf '90   almost there\\r\\n' >&$WEFT_PROGRESS_FD; "
        "while ! test -f go2; do sleep 0.05; done",
        0, 0);
    assert_int_equal(s_next_progress(ev), 40);
    weft_job_info_t info = s_info(f, id, "j");
    assert_int_equal(info.state, WEFT_JOB_RUNNING);
    assert_int_equal(info.progress, 40);
    assert_string_equal(info.progress_msg, "loading");
    s_touch(f, "go");
    int p;
    while ((p = s_next_progress(ev)) == 40)
        ;
    assert_int_equal(p, 90); /* nothing malformed or overlong got through */
    info = s_info(f, id, "j");
    assert_int_equal(info.progress, 90);
    assert_string_equal(info.progress_msg, "almost there");
    s_touch(f, "go2");
    assert_int_equal(s_wait(f, id), WEFT_REQ_SUCCEEDED);
    info = s_info(f, id, "j");
    assert_int_equal(info.state, WEFT_JOB_DONE);
    assert_int_equal(info.progress, 100);
    weft_events_close(&ev);
}

/* ---- killing the process group ------------------------------------------------------------- */

#define S_TREE "echo $$ > sh.pid; sleep 30 & echo $! > bg.pid; "

static void
test_shell_timeout_kills_process_group(void **state)
{
    fx_t *f = *state;
    s_start(f);
    weft_reqid_t id = s_run_wait(f, S_TREE "sleep 30", 300, 0, WEFT_REQ_FAILED);
    weft_job_info_t info = s_info(f, id, "j");
    assert_int_equal(info.state, WEFT_JOB_FAILED);
    assert_int_equal(info.reason, WEFT_REASON_TIMEOUT);
    s_assert_gone(s_pid(f, "sh.pid"));
    s_assert_gone(s_pid(f, "bg.pid"));
}

static void
test_shell_cancel_kills_process_group(void **state)
{
    fx_t *f = *state;
    s_start(f);
    weft_reqid_t id = s_run1(f, S_TREE "sleep 30", 0, 0);
    pid_t sh = s_pid(f, "sh.pid");
    pid_t bg = s_pid(f, "bg.pid");
    assert_int_equal(kill(bg, 0), 0);
    assert_int_equal(weft_job_cancel(f->eng, id, "j"), WEFT_OK);
    assert_int_equal(s_wait(f, id), WEFT_REQ_FAILED); /* a cancelled job fails its request */
    assert_int_equal(s_info(f, id, "j").state, WEFT_JOB_CANCELLED);
    s_assert_gone(sh);
    s_assert_gone(bg);
}

static void
test_shell_background_process_killed_after_success(void **state)
{
    fx_t *f = *state;
    s_start(f);
    s_run_wait(f, S_TREE "exit 0", 0, 0, WEFT_REQ_SUCCEEDED);
    s_assert_gone(s_pid(f, "bg.pid"));
    s_assert_gone(s_pid(f, "sh.pid"));
}

static void
test_shell_sigterm_ignored_gets_sigkill_after_grace(void **state)
{
    fx_t *f = *state;
    f->sh.kill_grace_ms = 200;
    s_start(f);
    /* the shell traps TERM; its child ignores it (ignored dispositions survive exec) */
    weft_reqid_t id = s_run1(f,
                             "trap '' TERM; echo $$ > sh.pid; "
                             "sh -c 'trap \"\" TERM; sleep 30' & echo $! > bg.pid; wait",
                             0, 0);
    pid_t sh = s_pid(f, "sh.pid");
    pid_t bg = s_pid(f, "bg.pid");
    assert_int_equal(weft_request_cancel(f->eng, id), WEFT_OK);
    assert_int_equal(s_wait(f, id), WEFT_REQ_CANCELLED);
    s_assert_gone(sh);
    s_assert_gone(bg);
}

static void
test_shell_job_signalling_its_own_group_is_not_special(void **state)
{
    fx_t *f = *state;
    s_start(f);
    /* HUP to the whole group: the shell ignores it, so it must carry on (nothing of weft's is
     * in that group to be hit) */
    weft_reqid_t id = s_run_wait(f, "trap '' HUP; kill -HUP 0; echo on > after.txt; exit 4",
                                 0, 0, WEFT_REQ_FAILED);
    weft_job_info_t info = s_info(f, id, "j");
    assert_int_equal(info.exit_code, 4);
    assert_string_equal(info.error, "exit status 4");
    s_assert_work_file(f, "after.txt", "on\n");
    /* TERM to the whole group: the shell dies of it and says so */
    id = s_run_wait(f, "echo bye >&2; kill 0; sleep 30", 0, 0, WEFT_REQ_FAILED);
    info = s_info(f, id, "j");
    assert_int_equal(info.exit_code, 128 + SIGTERM);
    assert_string_equal(info.error, "killed by signal 15 (SIGTERM): bye");
}

/* The weft killed by the next test: an engine with one shell slot running a job that leaves a
 * process in the background, then nothing until SIGKILL.  Returns only on a setup error. */
static int
s_child_main(const char *state_dir, const char *work_dir)
{
    weft_options_t *opts = NULL;
    weft_engine_t *eng = NULL;
    weft_request_t *r = NULL;
    char err[256] = "";
    char run[4096];
    uint8_t *buf = NULL;
    size_t len = 0;
    weft_reqid_t id = 0;
    wf_shell_opts_t sh = {.log_dir = NULL, .base_dir = work_dir, .kill_grace_ms = 0};
    snprintf(run, sizeof run, "sleep 300 & echo $! > '%s/bg.pid'; echo $$ > '%s/sh.pid'; sleep 300",
             work_dir, work_dir);
    int rc = weft_options_new(&opts);
    if (rc == WEFT_OK)
        rc = weft_engine_open(&eng, state_dir, opts, err, sizeof err);
    if (rc == WEFT_OK)
        rc = weft_engine_register(eng, "shell", wf_shell_handler, &sh);
    if (rc == WEFT_OK)
        rc = weft_engine_start_consumers(eng, 1);
    if (rc == WEFT_OK)
        rc = wf_shell_payload_encode(run, NULL, 0, NULL, &buf, &len);
    if (rc == WEFT_OK)
        rc = weft_request_new(&r, "orphan");
    if (rc == WEFT_OK)
        rc = weft_request_add_job(r, "j", "shell", buf, len);
    if (rc == WEFT_OK)
        rc = weft_request_submit(eng, r, &id);
    free(buf);
    if (rc != WEFT_OK) {
        fprintf(stderr, "shell_test --child: %s %s\n", weft_strerror(rc), err);
        return 1;
    }
    for (;;)
        pause();
}

static void
test_shell_killed_weft_leaves_no_job_process(void **state)
{
    fx_t *f = *state;
    char st[1100], exe[PATH_MAX];
    snprintf(st, sizeof st, "%s/child-state", f->dir);
    assert_int_equal(mkdir(st, 0755), 0);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    char *argv[] = {exe, "--child", st, f->work, NULL};
    pid_t parent = getpid();
    pid_t weft = fork();
    assert_true(weft >= 0);
    if (weft == 0) {
        /* should this test fail before its SIGKILL, the child still ends with the test */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        execv(exe, argv);
        _exit(127);
    }
    pid_t bg = s_pid(f, "bg.pid");
    pid_t sh = s_pid(f, "sh.pid");
    pid_t pgid = getpgid(sh);
    assert_true(pgid > 0);
    assert_int_equal(getpgid(bg), pgid);
    assert_int_not_equal(pgid, getpgrp());
    assert_int_equal(kill(bg, 0), 0);
    pid_t spawner = s_ppid(sh); /* the child weft's spawner */
    assert_true(spawner > 0);
    assert_int_not_equal(spawner, weft);

    assert_int_equal(kill(weft, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(weft, &status, 0), weft);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);

    s_assert_gone(sh);
    s_assert_gone(bg);
    assert_true(wf_test_wait(s_group_gone, &pgid, WF_TEST_DEADLINE_MS));
    s_assert_gone(spawner); /* it saw its control socket close, killed the group and left */
}

/* ---- the spawner ---------------------------------------------------------------------------- */

static void
test_shell_background_sleep_is_gone_after_the_attempt(void **state)
{
    fx_t *f = *state;
    s_start(f);
    /* its fds go elsewhere, so nothing but the group kill can end it */
    s_run_wait(f,
               "echo $$ > sh.pid; sleep 1000 </dev/null >/dev/null 2>&1 3>&- & "
               "echo $! > bg.pid; exit 0",
               0, 0, WEFT_REQ_SUCCEEDED);
    pid_t sh = s_pid(f, "sh.pid");
    pid_t bg = s_pid(f, "bg.pid");
    s_assert_gone(bg);
    assert_true(wf_test_wait(s_group_gone, &sh, WF_TEST_DEADLINE_MS));
}

static void
test_shell_killed_spawner_fails_the_attempt_and_is_replaced(void **state)
{
    fx_t *f = *state;
    s_start(f);
    weft_reqid_t id = s_run1(f, S_TREE "sleep 300", 0, 0);
    pid_t sh = s_pid(f, "sh.pid");
    pid_t bg = s_pid(f, "bg.pid");
    pid_t spawner = wf_spawner_pid();
    assert_true(spawner > 0);
    assert_int_equal(s_ppid(sh), spawner); /* the shell is the spawner's child, not weft's */
    assert_int_equal(getpgid(sh), sh);
    assert_int_equal(getpgid(bg), sh);

    assert_int_equal(kill(spawner, SIGKILL), 0);
    assert_int_equal(s_wait(f, id), WEFT_REQ_FAILED);
    weft_job_info_t info = s_info(f, id, "j");
    assert_int_equal(info.exit_code, 127);
    assert_non_null(strstr(info.error, "spawner"));
    assert_non_null(strstr(info.error, "died"));
    s_assert_gone(sh); /* PDEATHSIG */
    s_assert_gone(bg); /* the handler's kill of the group */
    /* the dead spawner was reaped by weft */
    assert_int_equal(waitpid(spawner, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);

    id = s_run_wait(f, "echo again > again.txt", 0, 0, WEFT_REQ_SUCCEEDED);
    s_assert_work_file(f, "again.txt", "again\n");
    pid_t next = wf_spawner_pid();
    assert_true(next > 0);
    assert_int_not_equal(next, spawner);
}

/* The spawner raises its own RLIMIT_NOFILE (six fds per child) but a command still gets
 * weft's soft limit. */
static void
test_shell_command_keeps_weft_nofile_limit(void **state)
{
    fx_t *f = *state;
    struct rlimit orig;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &orig), 0);
    if (orig.rlim_max != RLIM_INFINITY && orig.rlim_max < 512) {
        skip(); /* cannot show the difference here */
        return;
    }
    struct rlimit low = orig;
    low.rlim_cur = 256;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    pid_t old = wf_spawner_pid();
    if (old > 0) { /* dead before the next request, which then forks one with the low limit */
        assert_int_equal(kill(old, SIGKILL), 0);
        s_assert_gone(old);
    }
    s_start(f);
    s_run_wait(f, "ulimit -n > nofile.txt", 0, 0, WEFT_REQ_SUCCEEDED);
    s_assert_work_file(f, "nofile.txt", "256\n");

    /* and the spawner itself runs with more */
    pid_t sp = wf_spawner_pid();
    assert_true(sp > 0);
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/limits", (int)sp);
    FILE *lf = fopen(path, "r");
    assert_non_null(lf);
    long soft = -1;
    while (fgets(line, sizeof line, lf))
        if (strncmp(line, "Max open files", 14) == 0)
            soft = strtol(line + 14, NULL, 10);
    fclose(lf);
    assert_true(soft > 256);

    assert_int_equal(setrlimit(RLIMIT_NOFILE, &orig), 0);
    assert_int_equal(kill(sp, SIGKILL), 0); /* the next test gets a spawner with weft's limit */
    s_assert_gone(sp);
}

static void
test_shell_command_gets_clean_signals_and_only_fds_0_to_3(void **state)
{
    fx_t *f = *state;
    /* A weft that ignores SIGPIPE and SIGHUP and blocks SIGUSR1 on its runner threads (as a
     * CLI may), with a spawner forked after that: the command sees none of it. */
    pid_t old = wf_spawner_pid();
    if (old > 0) { /* dead before the next request, which then forks a new one */
        assert_int_equal(kill(old, SIGKILL), 0);
        s_assert_gone(old);
    }
    struct sigaction ign, pipe_old, hup_old;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    assert_int_equal(sigaction(SIGPIPE, &ign, &pipe_old), 0);
    assert_int_equal(sigaction(SIGHUP, &ign, &hup_old), 0);
    sigset_t usr1, mask_old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &usr1, &mask_old), 0);
    s_start(f); /* runner threads inherit the mask */
    /* Each command execs its probe, so what it shows is what the shell got (dash itself
     * blocks signals while it forks and waits).  ls lists its own fds: the shell's 0-3, then
     * its directory at the lowest free one. */
    weft_request_t *r = NULL;
    assert_int_equal(weft_request_new(&r, "clean"), WEFT_OK);
    s_add(r, "sig", "exec grep -E '^(SigBlk|SigIgn)' /proc/self/status > sig.txt", NULL, 0, NULL);
    s_add(r, "fds", "exec ls /proc/self/fd > fds.txt", NULL, 0, NULL);
    weft_reqid_t id = s_submit(f, &r);
    assert_int_equal(s_wait(f, id), WEFT_REQ_SUCCEEDED);
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &mask_old, NULL), 0);
    assert_int_equal(sigaction(SIGPIPE, &pipe_old, NULL), 0);
    assert_int_equal(sigaction(SIGHUP, &hup_old, NULL), 0);
    assert_int_not_equal(wf_spawner_pid(), old);
    char *sig = s_work_file(f, "sig.txt");
    char *fds = s_work_file(f, "fds.txt");
    assert_non_null(sig);
    assert_non_null(fds);
    assert_string_equal(sig, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
    assert_string_equal(fds, "0\n1\n2\n3\n4\n");
    free(sig);
    free(fds);
}

static void
test_shell_big_command_and_environment_are_passed_whole(void **state)
{
    fx_t *f = *state;
    s_start(f);
    /* ~100 KiB of command and ~60 KiB of environment: over the spawner's inline size */
    size_t big = 100 * 1024, val = 60 * 1024;
    char *run = malloc(big + 128);
    char *env = malloc(val + 8);
    assert_non_null(run);
    assert_non_null(env);
    int n = snprintf(run, big + 128, "echo ${#BIG} > big.txt; : ");
    memset(run + n, 'x', big);
    run[n + (int)big] = '\0';
    memcpy(env, "BIG=", 4);
    memset(env + 4, 'y', val);
    env[4 + val] = '\0';
    const char *envs[] = {env};
    weft_request_t *r = NULL;
    assert_int_equal(weft_request_new(&r, "big"), WEFT_OK);
    s_add(r, "j", run, envs, 1, NULL);
    weft_reqid_t id = s_submit(f, &r);
    assert_int_equal(s_wait(f, id), WEFT_REQ_SUCCEEDED);
    char *got = s_work_file(f, "big.txt");
    assert_non_null(got);
    char want[32];
    snprintf(want, sizeof want, "%zu\n", val);
    assert_string_equal(got, want);
    free(got);
    free(run);
    free(env);
}

/* Open fds of this process that a handler could leak: pipes, sockets, files.  ZeroMQ's
 * eventfds and epolls are left out: its reaper thread closes them at its own pace. */
static int
s_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[300], target[300];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(path, target, sizeof target - 1);
        if (e->d_name[0] == '.' || k <= 0 || atoi(e->d_name) == dirfd(d))
            continue; /* closed meanwhile by another thread, or the DIR's own */
        target[k] = '\0';
        if (strncmp(target, "anon_inode:", 11) != 0)
            n++;
    }
    closedir(d);
    return n;
}

static bool
s_fds_back_to(void *arg)
{
    return s_count_fds() == *(int *)arg;
}

static void
test_shell_many_attempts_at_once_leak_no_fd(void **state)
{
    fx_t *f = *state;
    s_start_n(f, 4);
    weft_reqid_t id = s_run1(f, "true", 0, 0); /* the spawner and the runners exist now */
    assert_int_equal(s_wait(f, id), WEFT_REQ_SUCCEEDED);
    int before = s_count_fds();
    weft_request_t *r = NULL;
    assert_int_equal(weft_request_new(&r, "many"), WEFT_OK);
    for (int i = 0; i < 200; i++) {
        char job[32], run[64];
        snprintf(job, sizeof job, "j%d", i);
        snprintf(run, sizeof run, "echo %d > out%d.txt", i, i);
        s_add(r, job, run, NULL, 0, NULL);
    }
    id = s_submit(f, &r);
    assert_int_equal(s_wait(f, id), WEFT_REQ_SUCCEEDED);
    for (int i = 0; i < 200; i += 37) {
        char name[32], want[16];
        snprintf(name, sizeof name, "out%d.txt", i);
        snprintf(want, sizeof want, "%d\n", i);
        s_assert_work_file(f, name, want);
    }
    assert_true(wf_test_wait(s_fds_back_to, &before, WF_TEST_DEADLINE_MS));
}

/* The spawner's API directly: which stage failed, and a status after a kill. */
static void
test_shell_spawner_reports_stage_and_status(void **state)
{
    (void)state;
    char *argv[] = {"x", NULL};
    char *envp[] = {NULL};
    wf_spawn_t sp;
    int stage = 0, err = 0;
    wf_spawn_req_t req = {
        .path = "/nonexistent/x", .argv = argv, .envp = envp, .fds = {-1, -1, -1, -1}};
    assert_int_equal(wf_spawn_start(&sp, &req, &stage, &err), -1);
    assert_int_equal(stage, WF_SPAWN_STAGE_EXEC);
    assert_int_equal(err, ENOENT);
    assert_int_equal(sp.sock, -1);
    /* over WF_SPAWN_MAX_REQUEST: refused before anything is sent */
    size_t huge = WF_SPAWN_MAX_REQUEST + 1;
    char *big = malloc(huge + 1);
    assert_non_null(big);
    memset(big, 'v', huge);
    memcpy(big, "V=", 2);
    big[huge] = '\0';
    char *bigenv[] = {big, NULL};
    req.envp = bigenv;
    assert_int_equal(wf_spawn_start(&sp, &req, &stage, &err), -1);
    assert_int_equal(stage, WF_SPAWN_STAGE_LOCAL);
    assert_int_equal(err, E2BIG);
    free(big);
    req.envp = envp;
    req.path = "/bin/sh";
    req.dir = "/nonexistent";
    assert_int_equal(wf_spawn_start(&sp, &req, &stage, &err), -1);
    assert_int_equal(stage, WF_SPAWN_STAGE_CHDIR);
    assert_int_equal(err, ENOENT);

    char *sleeper[] = {"sh", "-c", "exec sleep 300", NULL};
    req.argv = sleeper;
    req.dir = NULL;
    assert_int_equal(wf_spawn_start(&sp, &req, &stage, &err), 0);
    assert_true(sp.pid > 0);
    assert_int_equal(getpgid(sp.pid), sp.pid);
    int status = 0;
    assert_int_equal(wf_spawn_poll(&sp, &status), WF_SPAWN_RUNNING);
    assert_int_equal(wf_spawn_kill(&sp, SIGUSR1), 0);
    struct pollfd pf = {sp.sock, POLLIN, 0};
    assert_int_equal(poll(&pf, 1, WF_TEST_DEADLINE_MS), 1);
    assert_int_equal(wf_spawn_poll(&sp, &status), WF_SPAWN_EXITED);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGUSR1);
    wf_spawn_close(&sp);
    wf_spawn_close(&sp); /* idempotent */

    /* closing the socket of a running child kills its group */
    assert_int_equal(wf_spawn_start(&sp, &req, &stage, &err), 0);
    pid_t pid = sp.pid;
    wf_spawn_close(&sp);
    s_assert_gone(pid);
}

/* wf_spawn_submit: the start is told by wf_spawn_poll, and a pipe given to the child ends only
 * after the spawner has sent its EXIT, so a caller that waits on the pipe alone finds the
 * outcome already there (spawner.h). */
static void
test_shell_spawner_submit_and_exit_before_eof(void **state)
{
    (void)state;
    char *envp[] = {NULL};
    int stage = 0, err = 0, status = -1;
    wf_spawn_t sp;

    char *bad[] = {"x", NULL};
    wf_spawn_req_t req = {.path = "/nonexistent/x", .argv = bad, .envp = envp,
                          .fds = {-1, -1, -1, -1}};
    assert_int_equal(wf_spawn_submit(&sp, &req, &stage, &err), 0);
    assert_int_equal(sp.pid, 0);
    struct pollfd pf = {sp.sock, POLLIN, 0};
    assert_int_equal(poll(&pf, 1, WF_TEST_DEADLINE_MS), 1);
    assert_int_equal(wf_spawn_poll(&sp, &status), WF_SPAWN_FAILED);
    assert_int_equal(sp.stage, WF_SPAWN_STAGE_EXEC);
    assert_int_equal(sp.err, ENOENT);
    wf_spawn_close(&sp);

    for (int round = 0; round < 20; round++) {
        int fds[2];
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        /* The child's group includes a short-lived grandchild holding the pipe too. */
        char *argv[] = {"sh", "-c", "echo out; (sleep 0.01; echo late) & exit 3", NULL};
        req = (wf_spawn_req_t){.path = "/bin/sh", .argv = argv, .envp = envp,
                               .fds = {-1, fds[1], -1, -1}};
        assert_int_equal(wf_spawn_submit(&sp, &req, &stage, &err), 0);
        close(fds[1]);
        char buf[256];
        size_t got = 0;
        for (;;) {
            struct pollfd q = {fds[0], POLLIN, 0};
            assert_int_equal(poll(&q, 1, WF_TEST_DEADLINE_MS), 1);
            ssize_t n = read(fds[0], buf + got, sizeof buf - 1 - got);
            assert_true(n >= 0);
            if (n == 0)
                break;
            got += (size_t)n;
        }
        close(fds[0]);
        buf[got] = '\0';
        assert_true(strncmp(buf, "out\n", 4) == 0);
        /* EOF came: EXIT is on the socket already, START before it. */
        assert_int_equal(wf_spawn_poll(&sp, &status), WF_SPAWN_EXITED);
        assert_true(sp.pid > 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 3);
        wf_spawn_close(&sp);
    }
}

/* Reaped by its parent (a zombie still answers kill). */
static bool
s_pid_reaped(void *arg)
{
    return kill(*(pid_t *)arg, 0) == -1 && errno == ESRCH;
}

/* A copy of the spawner's end of the one attempt socket it holds (its only socket above fd 4,
 * spawner.c), taken with pidfd_getfd; -1 where the kernel or its ptrace policy refuses. */
static int
s_grab_spawner_socket(pid_t spawner)
{
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
    int pfd = (int)syscall(SYS_pidfd_open, spawner, 0);
    if (pfd < 0)
        return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)spawner);
    DIR *d = opendir(path);
    int found = -1, nsock = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd <= 4) /* 0-3 /dev/null, 4 the control socket */
            continue;
        int got = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
        struct stat st;
        if (got >= 0 && fstat(got, &st) == 0 && S_ISSOCK(st.st_mode) && nsock++ == 0) {
            found = got;
            continue;
        }
        if (got >= 0)
            close(got);
    }
    if (d)
        closedir(d);
    close(pfd);
    if (nsock > 1) /* not the single attempt this test expects */
        fail_msg("spawner holds %d attempt sockets", nsock);
    return found;
#else
    (void)spawner;
    return -1;
#endif
}

/* An EXIT the spawner cannot send at once (its socket's buffer is full: EAGAIN) waits until
 * weft reads, and is not dropped: weft takes an EOF before EXIT for the spawner's death and
 * buries it, with every running job. */
static void
test_shell_spawner_exit_waits_for_room_on_a_full_socket(void **state)
{
    (void)state;
    char *envp[] = {NULL};
    int stage = 0, err = 0, status = -1;
    assert_int_equal(wf_spawner_prestart(), 0);
    pid_t spawner = wf_spawner_pid();
    assert_true(spawner > 0);
    int in[2];
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    char *argv[] = {"sh", "-c", "read x; exit 3", NULL};
    wf_spawn_req_t req = {
        .path = "/bin/sh", .argv = argv, .envp = envp, .fds = {in[0], -1, -1, -1}};
    wf_spawn_t sp;
    assert_int_equal(wf_spawn_start(&sp, &req, &stage, &err), 0); /* START is read */
    close(in[0]);
    pid_t child = sp.pid;
    int grab = s_grab_spawner_socket(spawner);
    if (grab < 0) {
        close(in[1]);
        wf_spawn_close(&sp);
        skip(); /* no pidfd_getfd here: nothing else can fill the spawner's buffer */
    }
    /* Fill the spawner's send buffer (what it sent and weft has not read) with records that
     * wf_spawn_poll ignores. */
    int tiny = 1; /* the kernel rounds it up to its minimum */
    assert_int_equal(setsockopt(grab, SOL_SOCKET, SO_SNDBUF, &tiny, sizeof tiny), 0);
    int32_t junk[4] = {0, 0, 0, 0};
    int sent = 0;
    while (send(grab, junk, sizeof junk, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof junk)
        sent++;
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    assert_true(sent > 0);
    close(grab);

    /* The child ends; the spawner reaps it, then finds no room for its EXIT. */
    close(in[1]);
    assert_true(wf_test_wait(s_pid_reaped, &child, WF_TEST_DEADLINE_MS));
    /* The spawner serves requests after the exits of the same turn, one at a time: once this
     * start is answered, it has tried that EXIT. */
    char *t_argv[] = {"true", NULL};
    wf_spawn_req_t t_req = {
        .path = "/bin/true", .argv = t_argv, .envp = envp, .fds = {-1, -1, -1, -1}};
    wf_spawn_t other;
    assert_int_equal(wf_spawn_start(&other, &t_req, &stage, &err), 0);
    wf_spawn_close(&other);

    /* Reading makes room: the EXIT follows the filler, where an EOF was before. */
    int64_t end = wf_test_now_ms() + WF_TEST_DEADLINE_MS;
    wf_spawn_state st;
    while ((st = wf_spawn_poll(&sp, &status)) == WF_SPAWN_RUNNING) {
        assert_true(wf_test_now_ms() < end);
        struct pollfd pf = {sp.sock, POLLIN, 0};
        (void)poll(&pf, 1, 1000);
    }
    assert_int_equal(st, WF_SPAWN_EXITED);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    wf_spawn_close(&sp);
    assert_int_equal(wf_spawner_pid(), spawner); /* the spawner was not buried */
}

/* ---- volume and retries -------------------------------------------------------------------- */

static void
test_shell_big_output_completes(void **state)
{
    fx_t *f = *state;
    s_start(f);
    weft_reqid_t id = s_run_wait(f, "head -c 10000000 /dev/zero; head -c 1000000 /dev/zero >&2",
                                 0, 0, WEFT_REQ_SUCCEEDED);
    char path[2048];
    struct stat st;
    assert_int_equal(stat(wf_shell_log_path(path, sizeof path, f->logs, id, "j", 1, "out"), &st),
                     0);
    assert_int_equal(st.st_size, 10000000);
    assert_int_equal(stat(wf_shell_log_path(path, sizeof path, f->logs, id, "j", 1, "err"), &st),
                     0);
    assert_int_equal(st.st_size, 1000000);
}

static void
test_shell_retry_gets_fresh_logs_per_attempt(void **state)
{
    fx_t *f = *state;
    s_start(f);
    weft_reqid_t id = s_run_wait(f,
                                 "echo \"attempt $WEFT_ATTEMPT\"; echo \"e$WEFT_ATTEMPT\" >&2; "
                                 "test -f marker || { touch marker; exit 1; }",
                                 0, 1, WEFT_REQ_SUCCEEDED);
    weft_job_info_t info = s_info(f, id, "j");
    assert_int_equal(info.state, WEFT_JOB_DONE);
    assert_int_equal(info.attempts, 2);
    assert_int_equal(info.failures, 1);
    char *o1 = s_log(f, id, "j", 1, "out");
    char *o2 = s_log(f, id, "j", 2, "out");
    char *e1 = s_log(f, id, "j", 1, "err");
    char *e2 = s_log(f, id, "j", 2, "err");
    assert_non_null(o1);
    assert_non_null(o2);
    assert_non_null(e1);
    assert_non_null(e2);
    assert_string_equal(o1, "attempt 1\n");
    assert_string_equal(o2, "attempt 2\n");
    assert_string_equal(e1, "e1\n");
    assert_string_equal(e2, "e2\n");
    free(o1);
    free(o2);
    free(e1);
    free(e2);
}

/* ---- output through pipes ------------------------------------------------------------------ */

static bool
s_log_exists(fx_t *f, weft_reqid_t id, const char *job, uint32_t attempt, const char *stream)
{
    char path[2048];
    struct stat st;
    return stat(wf_shell_log_path(path, sizeof path, f->logs, id, job, attempt, stream), &st) == 0;
}

static void
test_shell_silent_stream_leaves_no_log_file(void **state)
{
    fx_t *f = *state;
    s_start(f);
    /* a request whose jobs print nothing does not even get its log directory */
    weft_reqid_t id = s_run_wait(f, "true", 0, 0, WEFT_REQ_SUCCEEDED);
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/%" PRIu64, f->logs, id);
    struct stat st;
    assert_int_not_equal(stat(dir, &st), 0);
    assert_int_equal(errno, ENOENT);

    weft_request_t *r = NULL;
    assert_int_equal(weft_request_new(&r, "quiet"), WEFT_OK);
    s_add(r, "quiet", "touch q.txt", NULL, 0, NULL);
    s_add(r, "erronly", "echo e >&2", NULL, 0, NULL);
    s_add(r, "outonly", "echo o", NULL, 0, NULL);
    s_add(r, "fails", "exit 3", NULL, 0, NULL);
    id = s_submit(f, &r);
    assert_int_equal(s_wait(f, id), WEFT_REQ_FAILED);
    assert_false(s_log_exists(f, id, "quiet", 1, "out"));
    assert_false(s_log_exists(f, id, "quiet", 1, "err"));
    assert_false(s_log_exists(f, id, "erronly", 1, "out"));
    assert_false(s_log_exists(f, id, "outonly", 1, "err"));
    assert_false(s_log_exists(f, id, "fails", 1, "out"));
    assert_false(s_log_exists(f, id, "fails", 1, "err"));
    char *e = s_log(f, id, "erronly", 1, "err");
    char *o = s_log(f, id, "outonly", 1, "out");
    assert_non_null(e);
    assert_non_null(o);
    assert_string_equal(e, "e\n");
    assert_string_equal(o, "o\n");
    free(e);
    free(o);
    weft_job_info_t info = s_info(f, id, "fails");
    assert_int_equal(info.exit_code, 3);
    assert_string_equal(info.error, "exit status 3"); /* no stderr: the prefix alone */
    assert_int_equal(s_info(f, id, "quiet").state, WEFT_JOB_DONE);
}

/* The bytes of the --write-both streams: xorshift64 from a per-stream seed, one byte a step. */
static uint64_t
s_xs(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

#define S_SEED_OUT 0x9E3779B97F4A7C15ull
#define S_SEED_ERR 0xD1B54A32D192ED03ull
#define S_SEED_CHUNK 0x2545F4914F6CDD1Dull

/* `shell_test --write-both BYTES`: BYTES of S_SEED_OUT's stream on fd 1 and of S_SEED_ERR's
 * on fd 2, in chunks of 1..96 KiB taken in turn, so both pipes fill up at once. */
static int
s_write_both_main(const char *arg)
{
    size_t total = (size_t)strtoull(arg, NULL, 10);
    uint64_t seed[2] = {S_SEED_OUT, S_SEED_ERR}, chunk = S_SEED_CHUNK;
    size_t left[2] = {total, total};
    static unsigned char buf[96 * 1024];
    while (left[0] || left[1]) {
        for (int i = 0; i < 2; i++) {
            size_t n = 1 + (size_t)(s_xs(&chunk) % sizeof buf);
            if (n > left[i])
                n = left[i];
            for (size_t k = 0; k < n; k++)
                buf[k] = (unsigned char)(s_xs(&seed[i]) >> 56);
            for (size_t off = 0; off < n;) {
                ssize_t w = write(1 + i, buf + off, n - off);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0)
                    return 1;
                off += (size_t)w;
            }
            left[i] -= n;
        }
    }
    return 0;
}

/* FNV-1a 64 of a file's bytes and its size; false if it cannot be read. */
static bool
s_file_sum(const char *path, uint64_t *sum, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    uint64_t h = 0xcbf29ce484222325ull;
    size_t total = 0, n;
    unsigned char buf[65536];
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) {
        for (size_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 0x100000001b3ull;
        total += n;
    }
    fclose(fp);
    *sum = h;
    *size = total;
    return true;
}

static uint64_t
s_stream_sum(uint64_t seed, size_t total)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < total; i++)
        h = (h ^ (unsigned char)(s_xs(&seed) >> 56)) * 0x100000001b3ull;
    return h;
}

static void
test_shell_big_interleaved_output_is_logged_exactly(void **state)
{
    fx_t *f = *state;
    s_start(f);
    char exe[PATH_MAX], run[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    const size_t total = 10u * 1024u * 1024u;
    snprintf(run, sizeof run, "exec '%s' --write-both %zu", exe, total);
    weft_reqid_t id = s_run_wait(f, run, 0, 0, WEFT_REQ_SUCCEEDED);
    static const char *const streams[2] = {"out", "err"};
    const uint64_t seeds[2] = {S_SEED_OUT, S_SEED_ERR};
    for (int i = 0; i < 2; i++) {
        char path[2048];
        uint64_t sum = 0;
        size_t size = 0;
        wf_shell_log_path(path, sizeof path, f->logs, id, "j", 1, streams[i]);
        assert_true(s_file_sum(path, &sum, &size));
        assert_int_equal(size, total);
        assert_true(sum == s_stream_sum(seeds[i], total));
    }
}

typedef struct logwait {
    fx_t *f;
    weft_reqid_t id;
    const char *stream;
    const char *want;
} logwait_t;

static bool
s_log_is(void *arg)
{
    logwait_t *w = arg;
    char *got = s_log(w->f, w->id, "j", 1, w->stream);
    bool ok = got && strcmp(got, w->want) == 0;
    free(got);
    return ok;
}

static void
test_shell_log_of_a_running_job_shows_output_so_far(void **state)
{
    fx_t *f = *state;
    s_start(f);
    weft_reqid_t id = s_run1(f,
                             "echo first; echo efirst >&2; "
                             "while ! test -f go; do sleep 0.02; done; echo second",
                             0, 0);
    /* what `weft logs` does: read the files, while the job waits for us */
    logwait_t w = {f, id, "out", "first\n"};
    assert_true(wf_test_wait(s_log_is, &w, WF_TEST_DEADLINE_MS));
    logwait_t we = {f, id, "err", "efirst\n"};
    assert_true(wf_test_wait(s_log_is, &we, WF_TEST_DEADLINE_MS));
    assert_int_equal(s_info(f, id, "j").state, WEFT_JOB_RUNNING);
    s_touch(f, "go");
    assert_int_equal(s_wait(f, id), WEFT_REQ_SUCCEEDED);
    char *out = s_log(f, id, "j", 1, "out");
    assert_non_null(out);
    assert_string_equal(out, "first\nsecond\n");
    free(out);
}

/* The log holds a prefix of `yes`'s output: "y\n" repeated, possibly cut after a 'y'. */
static void
s_assert_yes_prefix(fx_t *f, weft_reqid_t id)
{
    char path[2048];
    wf_shell_log_path(path, sizeof path, f->logs, id, "j", 1, "out");
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return; /* nothing reached the pipe before the end: no file, as it should */
    int c, i = 0, bad = 0;
    while ((c = fgetc(fp)) != EOF)
        bad += c != (i++ % 2 ? '\n' : 'y');
    fclose(fp);
    assert_int_equal(bad, 0);
}

static void
test_shell_writers_left_after_the_shell_do_not_hold_up_the_attempt(void **state)
{
    fx_t *f = *state;
    s_start(f);
    /* In the group: killed with it; what it wrote before is in the log or not. */
    weft_reqid_t id = s_run_wait(f, "yes & echo $! > bg.pid; exit 0", 0, 0, WEFT_REQ_SUCCEEDED);
    s_assert_gone(s_pid(f, "bg.pid"));
    s_assert_yes_prefix(f, id);

    /* Escaped from the group (setsid): it keeps the pipe open and writes as fast as it can.
     * The attempt still ends, and once the handler has closed its end the writer dies of
     * SIGPIPE. */
    char pidfile[1100];
    snprintf(pidfile, sizeof pidfile, "%s/bg.pid", f->work);
    assert_int_equal(unlink(pidfile), 0);
    id = s_run_wait(f, "setsid yes & echo $! > bg.pid; exit 0", 0, 0, WEFT_REQ_SUCCEEDED);
    pid_t bg = s_pid(f, "bg.pid");
    bool gone = wf_test_wait(s_pid_gone, &bg, WF_TEST_DEADLINE_MS);
    if (!gone)
        kill(bg, SIGKILL);
    assert_true(gone);
    s_assert_yes_prefix(f, id);
}

static void
test_shell_unwritable_log_does_not_fail_the_job(void **state)
{
    fx_t *f = *state;
    /* the log dir is a file: no log can be created under it */
    FILE *fp = fopen(f->logs, "w");
    assert_non_null(fp);
    fclose(fp);
    s_start(f);
    weft_request_t *r = NULL;
    assert_int_equal(weft_request_new(&r, "nolog"), WEFT_OK);
    s_add(r, "ok", "echo hi; echo e >&2; echo ran > ok.txt", NULL, 0, NULL);
    s_add(r, "big", "head -c 3000000 /dev/zero; head -c 3000000 /dev/zero >&2", NULL, 0, NULL);
    s_add(r, "bad", "echo out; echo boom >&2; exit 3", NULL, 0, NULL);
    weft_reqid_t id = s_submit(f, &r);
    assert_int_equal(s_wait(f, id), WEFT_REQ_FAILED);
    assert_int_equal(s_info(f, id, "ok").state, WEFT_JOB_DONE);
    assert_int_equal(s_info(f, id, "big").state, WEFT_JOB_DONE); /* drained into nothing */
    char *ran = s_work_file(f, "ok.txt");
    assert_non_null(ran);
    free(ran);
    weft_job_info_t info = s_info(f, id, "bad");
    assert_int_equal(info.state, WEFT_JOB_FAILED);
    assert_int_equal(info.exit_code, 3);
    const char *want = "exit status 3 (output not logged: cannot create log '";
    assert_true(strncmp(info.error, want, strlen(want)) == 0);
    assert_non_null(strstr(info.error, "Not a directory)"));
}

#define S_T(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)

int
main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--child") == 0)
        return s_child_main(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "--write-both") == 0)
        return s_write_both_main(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shell_payload_round_trip),
        cmocka_unit_test(test_shell_payload_encode_rejects_bad_input),
        cmocka_unit_test(test_shell_payload_decode_is_strict),
        cmocka_unit_test(test_shell_log_path_layout),
        S_T(test_shell_runs_command_and_logs_output),
        S_T(test_shell_sets_weft_and_job_environment),
        S_T(test_shell_honours_cwd),
        S_T(test_shell_exit_status_fails_with_stderr_tail),
        S_T(test_shell_long_stderr_tail_is_bounded),
        S_T(test_shell_signal_death_names_the_signal),
        S_T(test_shell_without_log_dir_discards_output),
        S_T(test_shell_bad_payload_fails_without_running),
        S_T(test_shell_progress_lines_become_events),
        S_T(test_shell_timeout_kills_process_group),
        S_T(test_shell_cancel_kills_process_group),
        S_T(test_shell_background_process_killed_after_success),
        S_T(test_shell_sigterm_ignored_gets_sigkill_after_grace),
        S_T(test_shell_job_signalling_its_own_group_is_not_special),
        S_T(test_shell_killed_weft_leaves_no_job_process),
        S_T(test_shell_background_sleep_is_gone_after_the_attempt),
        S_T(test_shell_killed_spawner_fails_the_attempt_and_is_replaced),
        S_T(test_shell_command_gets_clean_signals_and_only_fds_0_to_3),
        S_T(test_shell_command_keeps_weft_nofile_limit),
        S_T(test_shell_big_command_and_environment_are_passed_whole),
        S_T(test_shell_many_attempts_at_once_leak_no_fd),
        cmocka_unit_test(test_shell_spawner_reports_stage_and_status),
        cmocka_unit_test(test_shell_spawner_submit_and_exit_before_eof),
        cmocka_unit_test(test_shell_spawner_exit_waits_for_room_on_a_full_socket),
        S_T(test_shell_big_output_completes),
        S_T(test_shell_retry_gets_fresh_logs_per_attempt),
        S_T(test_shell_silent_stream_leaves_no_log_file),
        S_T(test_shell_big_interleaved_output_is_logged_exactly),
        S_T(test_shell_log_of_a_running_job_shows_output_so_far),
        S_T(test_shell_writers_left_after_the_shell_do_not_hold_up_the_attempt),
        S_T(test_shell_unwritable_log_does_not_fail_the_job),
    };
    return cmocka_run_group_tests_name("shell", tests, NULL, NULL);
}
