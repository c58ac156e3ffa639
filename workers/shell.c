/*
 * shell.c -- the shell runner: a weft_handler_fn that runs a `shell` job's command as
 * `/bin/sh -c RUN` through the process's spawner (spawner.h), in a process group of its own,
 * moves its output from pipes into per-attempt log files, turns lines on a progress pipe into
 * weft_job_progress, and has the whole group killed when the attempt is cancelled or the shell
 * exits.  shell.h states the guarantees; this file keeps them.
 *
 * Processes of one attempt:
 *   runner thread --request--> spawner (one per weft process) --vfork+exec--> shell --> ...
 * The handler prepares the attempt in weft (decode, pipes, argv and envp), hands the fds and
 * the flat request to the spawner without waiting for the start (wf_spawn_submit), and then
 * waits in one poll loop on the progress pipe, the stdout and stderr pipes, and the attempt's
 * socket, where the spawner reports the shell's start and, once it has SIGKILLed what the
 * shell left in its group, the shell's wait status.  The spawner keeps its copies of the pipes
 * open until that status is sent, so while a pipe is open the socket is polled only for the
 * spawner's death: an attempt of a silent command wakes this thread once, when everything has
 * ended, instead of three times (start, pipes' end, status).  Cancel is a message on that
 * socket; so is the handler's own end (closing it SIGKILLs the group), and weft's death (EOF
 * on the spawner's control socket).  Nothing here forks.
 *
 * Output.  The command's stdout and stderr are pipes, not files: creating a file costs more
 * CPU on ext4 (0.2-1 ms) than spawning the process, and most commands of a build graph print
 * nothing.  A stream's log file is created (O_TRUNC, 0644; its directory only on ENOENT) when
 * poll first says its pipe holds a byte, and bytes move into it with splice(2), so they never
 * cross user space (read/write when the kernel refuses to splice that pair: EINVAL).  So a
 * silent attempt opens no file, and a printing one gets the same files as when the command
 * wrote them itself, filled while it runs.  Each wake-up moves at most S_DRAIN_TURN bytes per
 * stream, so a flood on one cannot starve the other, the progress pipe or a cancel.  When a
 * log cannot be created or written, the stream keeps being drained into nothing: the command
 * never blocks on it and the job is not failed for it; the reason goes into the attempt's
 * error message if the job fails, and on stderr once per process (see s_log_failed).
 *
 * End of an attempt.  Once the spawner reports the shell reaped (its group SIGKILLed) or lost,
 * every write of the group is in the pipes; the handler moves what they hold without waiting
 * (poll with timeout 0) and closes them.  A process that escaped the group (setsid) may hold
 * them open and keep writing: the handler stops after S_END_MAX more bytes per pipe and closes
 * it anyway (that process then gets EPIPE), so the end of an attempt never waits on it.
 *
 * Threads: the handler runs on a consumer's runner thread while other runners (and the engine,
 * and czmq) have threads of their own.  Every fd it opens is O_CLOEXEC, nothing is shared
 * between calls but the once-per-process warning flag: one handler call owns one s_proc_t.
 * The spawner is shared and thread-safe.
 *
 * Invariants:
 * - the handler never signals a process itself while the spawner lives: only the spawner,
 *   which reaps the shell, knows when its pid (the pgid) is still the job's; when the spawner
 *   dies, wf_spawn_poll SIGKILLs the group once, best effort (see shell.h);
 * - the handler's copies of the child's fds (the write ends of the three pipes) are closed as
 *   soon as the spawner has them, so a pipe reads EOF when the job's processes close it;
 * - a log file exists only once its pipe has held a byte; it is never written by anyone but
 *   this handler;
 * - progress lines are parsed from a bounded buffer (S_LINE_MAX); an overlong line is dropped
 *   whole, so no line can make the handler allocate.
 *
 * Workload: one handler call per attempt, up to one per consumer slot at a time; per attempt
 * in weft: a payload decode, three pipes (one without log_dir), a socketpair, one sendmsg, a
 * few polls and closes, and one open per stream that prints (plus a splice per wake-up while it
 * does).  The handler wakes at most every S_POLL_MS to look at weft_job_cancelled, sooner on
 * output, progress or the spawner's reports.
 */
#include "shell.h"

#include "mp_reader.h"
#include "proto.h"
#include "spawner.h"

#include <msgpack.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* The fds the command sees: 0 /dev/null, 1 and 2 the output pipes (/dev/null without a log
 * dir), 3 the progress pipe. */
#define S_PROGRESS_FD 3
/* The handler's wake-up period: bounds how late a cancel is seen. */
#define S_POLL_MS 50
/* One progress line, newline excluded; longer lines are discarded whole. */
#define S_LINE_MAX 4096
/* How much of the end of the .err file the error message may quote from. */
#define S_TAIL_BYTES 4096
/* Bytes one wake-up moves from one pipe at most: 4 pipe buffers of the default 64 KiB, so a
 * busy stream is emptied in one go but cannot keep the loop from the others for long. */
#define S_DRAIN_TURN (256u * 1024u)
/* Bytes moved from one pipe after the group is dead: what it holds (64 KiB by default) and
 * then some; past it only a process that escaped the group can be writing, and it is cut off. */
#define S_END_MAX (1024u * 1024u)
/* The read/write fallback's buffer (and the discard sink's). */
#define S_IO_BUF (16u * 1024u)
#define S_DEFAULT_GRACE_MS 5000
/* What a handler returns when the command could not be started at all (as sh does). */
#define S_EXIT_NOT_RUN 127
#define S_SHELL "/bin/sh"

static void *
s_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort(); /* OOM policy: abort (docs/decisions/0001-oom-aborts.md) */
    return p;
}

static char *
s_strndup(const char *s, size_t n)
{
    char *p = s_alloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *s_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
s_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    char *p = s_alloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- payload ------------------------------------------------------------------------------ */

/* [A-Za-z_][A-Za-z0-9_]* : what POSIX shells accept as a variable name. */
static bool
s_env_name_ok(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

/* Length of the NAME in "NAME=VALUE" (the whole string if it has no '='). */
static size_t
s_env_name_len(const char *entry)
{
    return strcspn(entry, "=");
}

#define S_PACK(call)     \
    do {                 \
        if ((call) != 0) \
            abort();     \
    } while (0) /* msgpack-c's packer fails only when its buffer cannot grow: OOM */

static void
s_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    S_PACK(msgpack_pack_str(pk, len));
    if (len > 0)
        S_PACK(msgpack_pack_str_body(pk, s, len));
}

int
wf_shell_payload_encode(const char *run, const char *const *env, size_t nenv, const char *cwd,
                        uint8_t **buf_p, size_t *len_p)
{
    if (!buf_p || !len_p)
        return WEFT_EINVAL;
    *buf_p = NULL;
    *len_p = 0;
    if (!run || (nenv > 0 && !env) || nenv > WF_SHELL_MAX_ENV || (cwd && !*cwd))
        return WEFT_EINVAL;
    for (size_t i = 0; i < nenv; i++) {
        if (!env[i])
            return WEFT_EINVAL;
        size_t n = s_env_name_len(env[i]);
        if (env[i][n] != '=' || !s_env_name_ok(env[i], n))
            return WEFT_EINVAL;
        for (size_t k = 0; k < i; k++)
            if (s_env_name_len(env[k]) == n && memcmp(env[k], env[i], n) == 0)
                return WEFT_EINVAL; /* the decoder would reject the duplicate key */
    }

    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    S_PACK(msgpack_pack_map(&pk, 1 + (nenv > 0) + (cwd != NULL)));
    s_pack_str(&pk, "run", 3);
    s_pack_str(&pk, run, strlen(run));
    if (nenv > 0) {
        s_pack_str(&pk, "env", 3);
        S_PACK(msgpack_pack_map(&pk, nenv));
        for (size_t i = 0; i < nenv; i++) {
            size_t n = s_env_name_len(env[i]);
            s_pack_str(&pk, env[i], n);
            s_pack_str(&pk, env[i] + n + 1, strlen(env[i] + n + 1));
        }
    }
    if (cwd) {
        s_pack_str(&pk, "cwd", 3);
        s_pack_str(&pk, cwd, strlen(cwd));
    }
    if (sb.size > WF_MAX_PAYLOAD) {
        msgpack_sbuffer_destroy(&sb);
        return WEFT_ETOOBIG;
    }
    *buf_p = (uint8_t *)sb.data; /* allocated by realloc: the caller free()s it */
    *len_p = sb.size;
    return WEFT_OK;
}

void
wf_shell_payload_fini(wf_shell_payload_t *p)
{
    if (!p)
        return;
    free(p->run);
    for (size_t i = 0; i < p->nenv; i++)
        free(p->env[i]);
    free(p->env);
    free(p->cwd);
    memset(p, 0, sizeof *p);
}

static int s_bad(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
s_bad(char *why, size_t cap, const char *fmt, ...)
{
    if (why && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return WEFT_EPROTO;
}

/* A str value: wf_msgpack_safe has checked the whole payload already, so a failed read here
 * can only be a value of another type. */
static bool
s_read_str(wf_mp_rd_t *r, wf_mp_val_t *v)
{
    return wf_mp_next(r, v) && v->type == WF_MP_STR;
}

static bool
s_key_is(const wf_mp_val_t *k, const char *name)
{
    size_t n = strlen(name);
    return k->len == n && memcmp(k->ptr, name, n) == 0;
}

/* A str value with no NUL byte, copied out. */
static bool
s_str_copy(wf_mp_rd_t *r, char **out)
{
    wf_mp_val_t v;
    if (!s_read_str(r, &v) || memchr(v.ptr, '\0', v.len))
        return false;
    *out = s_strndup((const char *)v.ptr, v.len);
    return true;
}

static int
s_decode_env(wf_mp_rd_t *r, wf_shell_payload_t *out, char *why, size_t cap)
{
    wf_mp_val_t m;
    if (!wf_mp_next(r, &m) || m.type != WF_MP_MAP)
        return s_bad(why, cap, "\"env\" is not a map");
    uint32_t n = m.len;
    if (n > WF_SHELL_MAX_ENV)
        return s_bad(why, cap, "\"env\" has more than %u entries", (unsigned)WF_SHELL_MAX_ENV);
    out->env = s_alloc((n ? n : 1) * sizeof *out->env);
    for (uint32_t i = 0; i < n; i++) {
        wf_mp_val_t k, v;
        if (!s_read_str(r, &k) || !s_env_name_ok((const char *)k.ptr, k.len))
            return s_bad(why, cap, "env entry %u: bad variable name", i + 1);
        if (!s_read_str(r, &v) || memchr(v.ptr, '\0', v.len))
            return s_bad(why, cap, "env entry %u: value is not a string without NUL", i + 1);
        /* Names are compared as the "NAME=" prefixes of the entries built so far. */
        for (uint32_t j = 0; j < i; j++) {
            const char *e = out->env[j];
            if (strncmp(e, (const char *)k.ptr, k.len) == 0 && e[k.len] == '=')
                return s_bad(why, cap, "env entry %u: duplicate name", i + 1);
        }
        size_t kl = k.len, vl = v.len;
        char *e = s_alloc(kl + 1 + vl + 1);
        memcpy(e, k.ptr, kl);
        e[kl] = '=';
        if (vl)
            memcpy(e + kl + 1, v.ptr, vl);
        e[kl + 1 + vl] = '\0';
        out->env[out->nenv++] = e;
    }
    return WEFT_OK;
}

static int
s_decode_map(wf_mp_rd_t *r, wf_shell_payload_t *out, char *why, size_t cap)
{
    wf_mp_val_t m;
    if (!wf_mp_next(r, &m) || m.type != WF_MP_MAP)
        return s_bad(why, cap, "not a map");
    bool have_env = false;
    for (uint32_t i = 0; i < m.len; i++) {
        wf_mp_val_t k;
        if (!s_read_str(r, &k))
            return s_bad(why, cap, "a key is not a string");
        if (s_key_is(&k, "run")) {
            if (out->run)
                return s_bad(why, cap, "duplicate key \"run\"");
            if (!s_str_copy(r, &out->run))
                return s_bad(why, cap, "\"run\" is not a string without NUL");
        } else if (s_key_is(&k, "cwd")) {
            if (out->cwd)
                return s_bad(why, cap, "duplicate key \"cwd\"");
            if (!s_str_copy(r, &out->cwd))
                return s_bad(why, cap, "\"cwd\" is not a string without NUL");
            if (!out->cwd[0])
                return s_bad(why, cap, "\"cwd\" is empty");
        } else if (s_key_is(&k, "env")) {
            if (have_env)
                return s_bad(why, cap, "duplicate key \"env\"");
            have_env = true;
            int rc = s_decode_env(r, out, why, cap);
            if (rc != WEFT_OK)
                return rc;
        } else {
            return s_bad(why, cap, "unknown key");
        }
    }
    if (!out->run)
        return s_bad(why, cap, "no \"run\"");
    return WEFT_OK;
}

/* wf_shell_payload_decode with a reason for the error message.  The payload is read in place
 * (proto/mp_reader.h): nothing is allocated but the decoded strings themselves. */
static int
s_decode(const void *buf, size_t len, wf_shell_payload_t *out, char *why, size_t cap)
{
    if (!out)
        return WEFT_EINVAL;
    memset(out, 0, sizeof *out);
    if (!buf || len == 0)
        return s_bad(why, cap, "empty");
    if (len > WF_MAX_PAYLOAD)
        return s_bad(why, cap, "over %u bytes", (unsigned)WF_MAX_PAYLOAD);
    /* Exactly one well-formed value, every count bounded by the bytes present: so the walk
     * below meets only type errors, and a malformed payload is called that first. */
    if (!wf_msgpack_safe(buf, len, WF_MAX_DEPTH))
        return s_bad(why, cap, "malformed msgpack");
    wf_mp_rd_t r = {buf, (const uint8_t *)buf + len};
    int rc = s_decode_map(&r, out, why, cap);
    if (rc != WEFT_OK)
        wf_shell_payload_fini(out);
    return rc;
}

int
wf_shell_payload_decode(const void *buf, size_t len, wf_shell_payload_t *out)
{
    return s_decode(buf, len, out, NULL, 0);
}

char *
wf_shell_log_path(char *buf, size_t cap, const char *log_dir, weft_reqid_t req, const char *job,
                  uint32_t attempt, const char *stream)
{
    if (buf && cap > 0)
        snprintf(buf, cap, "%s/%" PRIu64 "/%s.%" PRIu32 ".%s", log_dir ? log_dir : ".", req,
                 job ? job : "", attempt, stream ? stream : "");
    return buf;
}

int64_t
wf_shell_log_read(void *arg, weft_reqid_t req, const char *job, uint32_t attempt,
                  const char *stream, uint64_t offset, void *buf, size_t cap, size_t *len_p)
{
    const wf_shell_opts_t *opts = arg;
    if (len_p)
        *len_p = 0;
    if (!opts || !job || !stream || (!buf && cap > 0) || !len_p)
        return -WEFT_EINVAL;
    /* Names only ([A-Za-z0-9_.:-], no '/'): the path stays in its request's directory. */
    if (!wf_name_ok(job, strlen(job)) ||
        (strcmp(stream, "out") != 0 && strcmp(stream, "err") != 0))
        return -WEFT_EINVAL;
    if (!opts->log_dir)
        return -WEFT_ENOTFOUND; /* output is discarded: there is no log */
    char path[PATH_MAX];
    wf_shell_log_path(path, sizeof path, opts->log_dir, req, job, attempt, stream);
    if (strlen(path) + 1 >= sizeof path)
        return -WEFT_ENOTFOUND; /* the runner could not have made it either */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? -WEFT_ENOTFOUND : -WEFT_ESYS;
    struct stat sb;
    int64_t rc;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = -WEFT_ESYS;
    } else {
        rc = (int64_t)sb.st_size;
        if (offset < (uint64_t)sb.st_size && cap > 0) {
            /* What the command wrote so far: the file may grow while it is read, but never
             * past what fstat saw is returned, so data and size agree. */
            uint64_t left = (uint64_t)sb.st_size - offset;
            size_t want = left < cap ? (size_t)left : cap;
            size_t got = 0;
            while (got < want) {
                ssize_t n = pread(fd, (char *)buf + got, want - got, (off_t)(offset + got));
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    break; /* the file shrank meanwhile: what was read */
                got += (size_t)n;
            }
            *len_p = got;
        }
    }
    close(fd);
    return rc;
}

/* ---- the attempt ----------------------------------------------------------------------------- */

/* One output stream of the command (stdout or stderr) with a log dir: a pipe the handler
 * drains into the stream's log file, created at the first byte. */
typedef struct s_stream {
    int rd;              /* the pipe's read end (O_NONBLOCK); -1 without a log dir, at EOF,
                            or once the attempt is over */
    int wr;              /* the command's end, until the spawner has it */
    int log;             /* the log file; -1 until the first byte (and if it failed) */
    bool made;           /* the log file was created by this attempt */
    bool discard;        /* the log could not be created or written: bytes go nowhere */
    bool no_splice;      /* splice refused this pipe and file (EINVAL): read and write */
    char path[PATH_MAX]; /* the log file's path */
} s_stream_t;

enum { S_OUT = 0, S_ERR = 1 };

/* Everything one attempt needs. */
typedef struct s_proc {
    char *argv[4];
    char **envp;
    char *weftenv[4]; /* the WEFT_* entries of envp (owned) */
    char *dir;        /* chdir target, or NULL */
    int prog_r, prog_w;
    wf_spawn_t sp;
    s_stream_t out[2];      /* S_OUT, S_ERR */
    char log_dir[PATH_MAX]; /* <log_dir>/<request>, made when a first log needs it */
    char log_fail[512];     /* why a log was not (fully) written; empty if it was */
    char line[S_LINE_MAX];
    size_t line_len;
    bool line_skip;    /* in the middle of an overlong line */
    char io[S_IO_BUF]; /* the read/write fallback's and the discard's buffer */
} s_proc_t;

static void
s_proc_init(s_proc_t *p)
{
    memset(p, 0, sizeof *p);
    p->prog_r = p->prog_w = -1;
    for (int i = 0; i < 2; i++)
        p->out[i].rd = p->out[i].wr = p->out[i].log = -1;
    p->sp.sock = -1;
}

static void
s_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void
s_proc_fini(s_proc_t *p)
{
    for (int i = 0; i < 2; i++) {
        s_close(&p->out[i].rd);
        s_close(&p->out[i].wr);
        s_close(&p->out[i].log);
    }
    s_close(&p->prog_r);
    s_close(&p->prog_w);
    wf_spawn_close(&p->sp);
    free(p->envp);
    for (int i = 0; i < 4; i++)
        free(p->weftenv[i]);
    free(p->dir);
}

/* mkdir -p, 0755. */
static int
s_mkdirs(const char *path)
{
    char *tmp = s_strndup(path, strlen(path));
    int rc = 0;
    for (char *s = tmp + 1; rc == 0; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            rc = -1;
        *s = c;
        if (c == '\0')
            break;
    }
    free(tmp);
    if (rc == 0) {
        struct stat st;
        if (stat(path, &st) != 0)
            return -1;
        if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return -1;
        }
    }
    return rc;
}

static bool
s_is_weft_var(const char *entry, size_t n)
{
    static const char *const names[] = {"WEFT_REQUEST", "WEFT_JOB", "WEFT_ATTEMPT",
                                        "WEFT_PROGRESS_FD"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], entry, n) == 0)
            return true;
    return false;
}

/*
 * The command's environment: the runner's, less what the job sets, plus the job's env, plus the
 * WEFT_* variables (last, so a job's env cannot hide the progress fd or its own identity).
 * Strings of environ and of the payload are borrowed: wf_spawn_submit copies them.
 */
static void
s_build_env(s_proc_t *p, const weft_job_t *job, const wf_shell_payload_t *pl)
{
    size_t n = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    p->envp = s_alloc((n + pl->nenv + 5) * sizeof *p->envp);
    size_t k = 0;
    for (char **e = environ; e && *e; e++) {
        size_t len = s_env_name_len(*e);
        bool drop = s_is_weft_var(*e, len);
        for (size_t i = 0; i < pl->nenv && !drop; i++)
            drop = s_env_name_len(pl->env[i]) == len && memcmp(pl->env[i], *e, len) == 0;
        if (!drop)
            p->envp[k++] = *e;
    }
    for (size_t i = 0; i < pl->nenv; i++)
        if (!s_is_weft_var(pl->env[i], s_env_name_len(pl->env[i])))
            p->envp[k++] = pl->env[i];
    p->weftenv[0] = s_printf("WEFT_REQUEST=%" PRIu64, weft_job_request(job));
    p->weftenv[1] = s_printf("WEFT_JOB=%s", weft_job_id(job));
    p->weftenv[2] = s_printf("WEFT_ATTEMPT=%" PRIu32, weft_job_attempt(job));
    p->weftenv[3] = s_printf("WEFT_PROGRESS_FD=%d", S_PROGRESS_FD);
    for (int i = 0; i < 4; i++)
        p->envp[k++] = p->weftenv[i];
    p->envp[k] = NULL;
}

static int s_setup_fail(char *msg, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_setup_fail(char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* A pipe for the command: both ends close-on-exec (the spawner dup2s the write end into the
 * child, which clears it), the read end non-blocking; the write end must block like any
 * pipe. */
static int
s_pipe(int *rd, int *wr, char *msg, size_t cap)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return s_setup_fail(msg, cap, "cannot create a pipe: %s", strerror(errno));
    *rd = fds[0];
    *wr = fds[1];
    if (fcntl(*rd, F_SETFL, O_NONBLOCK) != 0)
        return s_setup_fail(msg, cap, "cannot set up a pipe: %s", strerror(errno));
    return 0;
}

/* Everything but the start: paths, the pipes, env, argv.  On failure msg says why. */
static int
s_prepare(s_proc_t *p, const weft_job_t *job, const wf_shell_opts_t *opts,
          const wf_shell_payload_t *pl, char *msg, size_t cap)
{
    const char *log_dir = opts ? opts->log_dir : NULL;
    const char *base = opts ? opts->base_dir : NULL;

    /* The spawner's cwd is weft's as it was at the spawner's fork: name weft's current one.
     * (Should weft's cwd be gone, the spawner's is the best there is.) */
    char here[PATH_MAX];
    if (!base && !(pl->cwd && pl->cwd[0] == '/') && getcwd(here, sizeof here))
        base = here;
    if (pl->cwd && (pl->cwd[0] == '/' || !base))
        p->dir = s_strndup(pl->cwd, strlen(pl->cwd));
    else if (pl->cwd)
        p->dir = s_printf("%s/%s", base, pl->cwd);
    else if (base)
        p->dir = s_strndup(base, strlen(base));

    if (log_dir) { /* without a log dir, out and err stay -1: the spawner's /dev/null */
        static const char *const names[2] = {"out", "err"};
        int n =
            snprintf(p->log_dir, sizeof p->log_dir, "%s/%" PRIu64, log_dir, weft_job_request(job));
        bool fits = n >= 0 && (size_t)n < sizeof p->log_dir;
        for (int i = 0; i < 2; i++) {
            s_stream_t *s = &p->out[i];
            wf_shell_log_path(s->path, sizeof s->path, log_dir, weft_job_request(job),
                              weft_job_id(job), weft_job_attempt(job), names[i]);
            fits = fits && strlen(s->path) + 1 < sizeof s->path;
        }
        if (!fits)
            return s_setup_fail(msg, cap, "log path too long under '%s'", log_dir);
        for (int i = 0; i < 2; i++)
            if (s_pipe(&p->out[i].rd, &p->out[i].wr, msg, cap) != 0)
                return -1;
    }
    if (s_pipe(&p->prog_r, &p->prog_w, msg, cap) != 0)
        return -1;

    s_build_env(p, job, pl);
    p->argv[0] = "sh";
    p->argv[1] = "-c";
    p->argv[2] = pl->run;
    p->argv[3] = NULL;
    return 0;
}

/* ---- output ---------------------------------------------------------------------------------- */

static atomic_flag s_log_warned = ATOMIC_FLAG_INIT;

/*
 * A stream's log could not be created or written (fmt says why): from now on its pipe is
 * drained into nothing, so the command never blocks on it and the job does not fail for it.
 * The first reason of the attempt goes into its error message should the job fail (where the
 * missing stderr tail would otherwise go unexplained); a job that succeeds has no message, so
 * the first such reason of the process is also said on stderr, once: a full disk fails every
 * log at once and must not flood it.
 */
static void s_log_failed(s_proc_t *p, s_stream_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_log_failed(s_proc_t *p, s_stream_t *s, const char *fmt, ...)
{
    s->discard = true;
    s_close(&s->log);
    if (p->log_fail[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->log_fail, sizeof p->log_fail, fmt, ap);
    va_end(ap);
    if (!atomic_flag_test_and_set(&s_log_warned))
        fprintf(stderr, "weft: shell: %s; output that cannot be logged is discarded (said once)\n",
                p->log_fail);
}

/* The stream's first byte is in its pipe: create its log, and its directory when missing, so
 * a request's later attempts cost one open each. */
static void
s_open_log(s_proc_t *p, s_stream_t *s)
{
    int fd = open(s->path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT) {
        if (s_mkdirs(p->log_dir) != 0) {
            s_log_failed(p, s, "cannot create log directory '%s': %s", p->log_dir, strerror(errno));
            return;
        }
        fd = open(s->path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    }
    if (fd < 0) {
        s_log_failed(p, s, "cannot create log '%s': %s", s->path, strerror(errno));
        return;
    }
    s->log = fd;
    s->made = true;
}

/* Write all of buf to the log; false with errno set if it cannot. */
static bool
s_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/*
 * Move up to budget bytes from the stream's pipe into its log (or nowhere, when discarding),
 * until the pipe is empty (EAGAIN) or at EOF (then it is closed).  Called when poll said the
 * pipe holds data, so the log is created here on its first byte.  Returns the bytes moved.
 */
static size_t
s_drain(s_proc_t *p, s_stream_t *s, size_t budget)
{
    if (s->log < 0 && !s->discard)
        s_open_log(p, s);
    size_t moved = 0;
    while (s->rd >= 0 && moved < budget) {
        size_t want = budget - moved;
        ssize_t n;
        if (!s->discard && !s->no_splice) {
            n = splice(s->rd, NULL, s->log, NULL, want, SPLICE_F_NONBLOCK);
            if (n < 0 && errno == EINVAL) { /* a file system that takes no splice */
                s->no_splice = true;
                continue;
            }
            if (n < 0 && errno != EINTR && errno != EAGAIN) {
                /* Pipe-side errors are EAGAIN and EINTR; anything else is the file's. */
                s_log_failed(p, s, "cannot write log '%s': %s", s->path, strerror(errno));
                continue;
            }
        } else {
            n = read(s->rd, p->io, want < sizeof p->io ? want : sizeof p->io);
            if (n > 0 && !s->discard && !s_write_all(s->log, p->io, (size_t)n))
                s_log_failed(p, s, "cannot write log '%s': %s", s->path, strerror(errno));
        }
        if (n == 0) { /* every writer closed it and it is empty */
            s_close(&s->rd);
            break;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                s_close(&s->rd); /* a pipe we own cannot fail to read: give it up */
            break;
        }
        moved += (size_t)n;
    }
    return moved;
}

/* poll said `revents` of the stream's pipe: data (drain up to budget) or EOF with nothing in
 * it (close; no log is created).  Returns the bytes moved. */
static size_t
s_stream_ready(s_proc_t *p, s_stream_t *s, short revents, size_t budget)
{
    if (revents & POLLIN)
        return s_drain(p, s, budget);
    if (revents & (POLLHUP | POLLERR))
        s_close(&s->rd);
    return 0;
}

static bool
s_parse_progress(char *line, size_t len, int *pct, const char **msg)
{
    while (len > 0 && line[len - 1] == '\r')
        len--;
    line[len] = '\0';
    size_t i = 0;
    int v = 0;
    while (i < len && i < 4 && line[i] >= '0' && line[i] <= '9')
        v = v * 10 + (line[i++] - '0');
    if (i == 0 || i > 3 || v > 100)
        return false;
    if (i < len && line[i] != ' ' && line[i] != '\t')
        return false;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    *pct = v;
    *msg = line + i;
    return true;
}

/* Read up to budget bytes of what the progress pipe holds; report the last good line of this
 * batch.  Closes the pipe once every writer has closed it.  Returns the bytes read. */
static size_t
s_pump(s_proc_t *p, weft_job_t *job, size_t budget)
{
    char chunk[4096];
    size_t got = 0;
    int pct = -1;
    char msg[WEFT_MAX_MESSAGE + 1] = "";
    while (p->prog_r >= 0 && got < budget) {
        ssize_t n = read(p->prog_r, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0 || errno != EAGAIN)
                s_close(&p->prog_r);
            break;
        }
        got += (size_t)n;
        for (ssize_t i = 0; i < n; i++) {
            char c = chunk[i];
            if (c == '\n') {
                int v;
                const char *m;
                if (!p->line_skip && s_parse_progress(p->line, p->line_len, &v, &m)) {
                    pct = v;
                    snprintf(msg, sizeof msg, "%s", m);
                }
                p->line_len = 0;
                p->line_skip = false;
            } else if (p->line_skip) {
                continue;
            } else if (p->line_len + 1 >= sizeof p->line) {
                p->line_skip = true; /* overlong: drop the whole line, not just its end */
                p->line_len = 0;
            } else {
                p->line[p->line_len++] = c;
            }
        }
    }
    /* Only the latest of a burst: the consumer coalesces progress anyway. */
    if (pct >= 0)
        weft_job_progress(job, pct, msg[0] ? msg : NULL);
    return got;
}

/*
 * The last lines of the .err file that fit in `room` bytes, into out (room + 1 bytes).  Starts
 * on a line boundary when it can, never in the middle of a UTF-8 sequence, and replaces control
 * bytes other than newline and tab, so the message stays printable.
 */
static void
s_tail(const char *path, char *out, size_t room)
{
    out[0] = '\0';
    if (!path || !path[0] || room == 0)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[S_TAIL_BYTES];
    struct stat st;
    ssize_t n = -1;
    off_t off = 0;
    if (fstat(fd, &st) == 0) {
        off = st.st_size > S_TAIL_BYTES ? st.st_size - S_TAIL_BYTES : 0;
        n = pread(fd, buf, sizeof buf, off);
    }
    close(fd);
    if (n <= 0)
        return;
    size_t start = 0, end = (size_t)n;
    if (off > 0) { /* the window starts mid-line: drop that partial line if another follows */
        char *nl = memchr(buf, '\n', end);
        if (nl && (size_t)(nl - buf) + 1 < end)
            start = (size_t)(nl - buf) + 1;
    }
    while (end > start && (buf[end - 1] == '\n' || buf[end - 1] == '\r' || buf[end - 1] == ' ' ||
                           buf[end - 1] == '\t'))
        end--;
    while (start < end && buf[start] == '\n')
        start++;
    if (end - start > room) {
        size_t from = end - room;
        if (buf[from - 1] != '\n') {
            char *nl = memchr(buf + from, '\n', end - from);
            if (nl)
                from = (size_t)(nl - buf) + 1; /* else the last line alone is too long: its end */
        }
        start = from;
    }
    while (start < end && ((unsigned char)buf[start] & 0xC0) == 0x80)
        start++;
    size_t k = 0;
    for (size_t i = start; i < end; i++) {
        unsigned char c = (unsigned char)buf[i];
        out[k++] = (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : (char)c;
    }
    out[k] = '\0';
}

/* "PREFIX: <stderr tail>", or PREFIX alone when the tail is empty (no .err file: the command
 * wrote nothing there), within WEFT_MAX_MESSAGE.  A log that could not be written is named
 * after the prefix: "PREFIX (output not logged: <why>): <tail>". */
static void
s_set_error(weft_job_t *job, const s_proc_t *p, const char *base)
{
    char msg[WEFT_MAX_MESSAGE + 1];
    char tail[WEFT_MAX_MESSAGE + 1];
    char prefix[WEFT_MAX_MESSAGE + 1];
    if (p->log_fail[0]) {
        if (snprintf(prefix, sizeof prefix, "%s (output not logged: %s)", base, p->log_fail) < 0)
            prefix[0] = '\0';
    } else {
        snprintf(prefix, sizeof prefix, "%s", base);
    }
    size_t plen = strlen(prefix);
    size_t room = plen + 2 < WEFT_MAX_MESSAGE ? WEFT_MAX_MESSAGE - plen - 2 : 0;
    const s_stream_t *err = &p->out[S_ERR];
    s_tail(err->made ? err->path : NULL, tail, room); /* only a file this attempt made */
    /* Assembled by hand: the sizes are bounded above, and snprintf's truncation warning
     * cannot see that room already leaves space for the prefix. */
    size_t n = plen < WEFT_MAX_MESSAGE ? plen : WEFT_MAX_MESSAGE;
    memcpy(msg, prefix, n);
    if (tail[0] && n + 2 < WEFT_MAX_MESSAGE) {
        size_t t = strlen(tail);
        if (t > WEFT_MAX_MESSAGE - n - 2)
            t = WEFT_MAX_MESSAGE - n - 2;
        memcpy(msg + n, ": ", 2);
        memcpy(msg + n + 2, tail, t);
        n += 2 + t;
    }
    msg[n] = '\0';
    weft_job_set_error(job, msg);
}

static const char *
s_signame(int sig, char *buf, size_t cap)
{
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(buf, cap, "SIG%s", abbrev);
    else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        snprintf(buf, cap, "SIGRTMIN+%d", sig - SIGRTMIN);
    else
        snprintf(buf, cap, "unknown");
    return buf;
}

/* The message for a start that failed at `stage` with errno `err`. */
static void
s_start_error(const s_proc_t *p, int stage, int err, char *msg, size_t cap)
{
    switch (stage) {
    case WF_SPAWN_STAGE_CHDIR:
        snprintf(msg, cap, "cannot change directory to '%s': %s", p->dir ? p->dir : "",
                 strerror(err));
        break;
    case WF_SPAWN_STAGE_PGRP:
        snprintf(msg, cap, "cannot create a process group: %s", strerror(err));
        break;
    case WF_SPAWN_STAGE_FDS:
        snprintf(msg, cap, "cannot set up the fds of '%s': %s", S_SHELL, strerror(err));
        break;
    case WF_SPAWN_STAGE_PARENT:
        snprintf(msg, cap, "cannot run '%s': the spawner died while starting it", S_SHELL);
        break;
    case WF_SPAWN_STAGE_SPAWNER:
        if (err == EPIPE)
            snprintf(msg, cap, "cannot run '%s': the spawner died while starting it", S_SHELL);
        else if (err == E2BIG)
            snprintf(msg, cap, "cannot run '%s': %s", S_SHELL, strerror(err));
        else
            snprintf(msg, cap, "cannot start '%s' in the spawner: %s", S_SHELL, strerror(err));
        break;
    case WF_SPAWN_STAGE_LOCAL:
        if (err == E2BIG)
            snprintf(msg, cap, "cannot run '%s': %s", S_SHELL, strerror(err));
        else
            snprintf(msg, cap, "cannot hand '%s' to the spawner: %s", S_SHELL, strerror(err));
        break;
    default: /* WF_SPAWN_STAGE_EXEC */
        snprintf(msg, cap, "cannot run '%s': %s", S_SHELL, strerror(err));
        break;
    }
}

/*
 * The shell is reaped and its group SIGKILLed (or, LOST, killed from here): everything the
 * group wrote is in the pipes.  Move it without waiting (poll with timeout 0), at most
 * S_END_MAX bytes per pipe, and close them: a process that escaped the group may hold a pipe
 * open and keep writing, and must not keep the attempt from ending.
 */
static void
s_finish_output(s_proc_t *p, weft_job_t *job)
{
    size_t left[3] = {S_END_MAX, S_END_MAX, S_END_MAX};
    for (;;) {
        struct pollfd pf[3] = {
            {left[0] ? p->prog_r : -1, POLLIN, 0},
            {left[1] ? p->out[S_OUT].rd : -1, POLLIN, 0},
            {left[2] ? p->out[S_ERR].rd : -1, POLLIN, 0},
        };
        if (poll(pf, 3, 0) <= 0)
            break; /* all empty, or EINTR: good enough at this point */
        size_t n[3] = {0, 0, 0};
        size_t turn[3];
        for (int i = 0; i < 3; i++)
            turn[i] = left[i] < S_DRAIN_TURN ? left[i] : S_DRAIN_TURN;
        if (pf[0].revents)
            n[0] = s_pump(p, job, turn[0]);
        for (int i = 0; i < 2; i++)
            if (pf[1 + i].revents)
                n[1 + i] = s_stream_ready(p, &p->out[i], pf[1 + i].revents, turn[1 + i]);
        for (int i = 0; i < 3; i++)
            left[i] -= n[i];
        /* Each turn moves bytes out of a finite budget or closes a pipe (poll said so): this
         * ends. */
    }
    s_close(&p->prog_r);
    for (int i = 0; i < 2; i++)
        s_close(&p->out[i].rd);
}

/* Is a pipe from the command still open? */
static bool
s_piped(const s_proc_t *p)
{
    return p->prog_r >= 0 || p->out[S_OUT].rd >= 0 || p->out[S_ERR].rd >= 0;
}

/* Run the prepared attempt; returns the handler's result. */
static int
s_run(s_proc_t *p, weft_job_t *job, const wf_shell_opts_t *opts)
{
    char msg[WEFT_MAX_MESSAGE + 1];
    int grace = opts && opts->kill_grace_ms ? opts->kill_grace_ms : S_DEFAULT_GRACE_MS;
    if (grace < 0)
        grace = 0;

    wf_spawn_req_t req = {
        .path = S_SHELL,
        .argv = p->argv,
        .envp = p->envp,
        .dir = p->dir,
        .fds = {-1, p->out[S_OUT].wr, p->out[S_ERR].wr, p->prog_w},
    };
    int stage = 0, err = 0;
    int rc = wf_spawn_submit(&p->sp, &req, &stage, &err);
    /* The spawner holds its own copies (and the shell its own) from here on. */
    s_close(&p->out[S_OUT].wr);
    s_close(&p->out[S_ERR].wr);
    s_close(&p->prog_w);
    if (rc != 0) {
        s_start_error(p, stage, err, msg, sizeof msg);
        weft_job_set_error(job, msg);
        return S_EXIT_NOT_RUN;
    }

    int64_t term_at = 0;
    bool killed = false;
    int status = 0;
    wf_spawn_state st = WF_SPAWN_RUNNING;
    int64_t looked = s_now_ms(); /* when the attempt's socket was last read */
    for (;;) {
        /* The pipes end only after the spawner has sent the shell's EXIT (spawner.h), so
         * while one is open the socket is polled for the spawner's death alone (events 0):
         * START and EXIT do not wake us, the pipes' end does, and we read both then.  A
         * process that escaped the group may hold a pipe past the shell's exit: the socket
         * is read at least every S_POLL_MS, so that costs at most that long.  A closed pipe
         * is -1, which poll skips. */
        struct pollfd pf[4] = {
            {p->prog_r, POLLIN, 0},
            {p->out[S_OUT].rd, POLLIN, 0},
            {p->out[S_ERR].rd, POLLIN, 0},
            {p->sp.sock, s_piped(p) ? 0 : POLLIN, 0},
        };
        int timeout = S_POLL_MS;
        if (term_at && !killed) {
            int64_t left = term_at + grace - s_now_ms();
            timeout = left < 0 ? 0 : left < timeout ? (int)left : timeout;
        }
        (void)poll(pf, 4, timeout); /* EINTR is only an early wake-up */
        if (pf[0].revents)
            s_pump(p, job, S_DRAIN_TURN);
        for (int i = 0; i < 2; i++)
            if (pf[1 + i].revents)
                s_stream_ready(p, &p->out[i], pf[1 + i].revents, S_DRAIN_TURN);
        int64_t now = s_now_ms();
        if (pf[3].revents || !s_piped(p) || now - looked >= S_POLL_MS) {
            looked = now;
            if ((st = wf_spawn_poll(&p->sp, &status)) != WF_SPAWN_RUNNING)
                break;
        }
        if (weft_job_cancelled(job)) {
            if (!term_at) {
                (void)wf_spawn_kill(&p->sp, SIGTERM);
                term_at = s_now_ms();
                if (!term_at)
                    term_at = 1;
            } else if (!killed && s_now_ms() - term_at >= grace) {
                (void)wf_spawn_kill(&p->sp, SIGKILL);
                killed = true;
            }
        }
    }
    s_finish_output(p, job);
    pid_t spawner = p->sp.spawner;
    wf_spawn_close(&p->sp);
    if (st == WF_SPAWN_FAILED || (st == WF_SPAWN_LOST && p->sp.pid == 0)) {
        /* Not started, or the spawner died with the request (not sent again: the child may
         * have started and died by PDEATHSIG); sp says where and why (spawner.h). */
        s_start_error(p, p->sp.stage, p->sp.err, msg, sizeof msg);
        weft_job_set_error(job, msg);
        return S_EXIT_NOT_RUN;
    }

    if (term_at) {
        s_set_error(job, p, "cancelled");
        return st == WF_SPAWN_EXITED && WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
    }
    if (st == WF_SPAWN_LOST) {
        snprintf(msg, sizeof msg,
                 "lost the shell: the spawner (pid %d) died, and the job's process group was "
                 "killed",
                 (int)spawner);
        s_set_error(job, p, msg);
        return S_EXIT_NOT_RUN;
    }

    char prefix[128], name[32];
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    if (sig) {
        snprintf(prefix, sizeof prefix, "killed by signal %d (%s)", sig,
                 s_signame(sig, name, sizeof name));
        s_set_error(job, p, prefix);
        return 128 + sig;
    }
    if (code != 0) {
        snprintf(prefix, sizeof prefix, "exit status %d", code);
        s_set_error(job, p, prefix);
        return code;
    }
    return 0;
}

int
wf_shell_handler(weft_job_t *job, void *arg)
{
    const wf_shell_opts_t *opts = arg;
    char why[128] = "";
    char msg[WEFT_MAX_MESSAGE + 1];
    size_t len = 0;
    const void *buf = weft_job_payload(job, &len);
    wf_shell_payload_t pl;
    if (s_decode(buf, len, &pl, why, sizeof why) != WEFT_OK) {
        snprintf(msg, sizeof msg, "bad shell payload: %s", why);
        weft_job_set_error(job, msg);
        return S_EXIT_NOT_RUN;
    }
    if (weft_job_cancelled(job)) {
        wf_shell_payload_fini(&pl);
        weft_job_set_error(job, "cancelled");
        return 1;
    }
    s_proc_t *p = s_alloc(sizeof *p); /* ~36 KiB: keep it off a runner's stack */
    s_proc_init(p);
    int rc;
    if (s_prepare(p, job, opts, &pl, msg, sizeof msg) != 0) {
        weft_job_set_error(job, msg);
        rc = S_EXIT_NOT_RUN;
    } else {
        rc = s_run(p, job, opts);
    }
    s_proc_fini(p);
    free(p);
    wf_shell_payload_fini(&pl);
    return rc;
}
