/*
 * shell.h -- the shell runner: runs a `shell` job's command with /bin/sh -c in its own process
 * group, started and reaped by the process's spawner (spawner.h), as a weft_handler_fn, so
 * local consumer threads and remote workers run shell jobs the same way.  This comment is the
 * full statement of a shell job's behaviour; shell.c keeps it.
 *
 * Payload of a shell job (msgpack map, built by wf_shell_payload_encode, which the workflow
 * loader uses):  { "run": str, "env": { str: str, ... }, "cwd": str }   ("env", "cwd" optional)
 * Decoding is strict (WEFT_EPROTO otherwise): exactly one msgpack map with no trailing bytes,
 * str keys, no unknown or duplicate key, "run" present; strings hold no NUL byte; "cwd" is not
 * empty; env names match [A-Za-z_][A-Za-z0-9_]*, appear once, and number at most
 * WF_SHELL_MAX_ENV; the whole payload is at most WF_MAX_PAYLOAD bytes.
 *
 * Processes: each weft process has one spawner, a small helper forked from weft on the first
 * attempt and shared by all of them; it starts every shell (vfork + exec) and is its parent.
 * Weft itself forks nothing per attempt.  "The group" below is the process group the shell
 * leads (pgid = the shell's pid): the shell and whatever the command starts.  Nothing of
 * weft's or of the spawner's is in it.
 *
 * What the handler guarantees:
 *   - a payload that does not decode fails the attempt with exit code 127 and the error
 *     "bad shell payload: <why>", without starting anything; so does any failure to set the
 *     attempt up (a log path too long, pipes, handing it to the spawner, process group:
 *     "cannot ...: <strerror>"), and a shell that cannot chdir to its cwd or exec /bin/sh
 *     ("cannot change directory to '<dir>': ...", "cannot run '/bin/sh': ..."); an attempt
 *     already cancelled on entry fails with 1, "cancelled";
 *   - the command runs as `/bin/sh -c RUN` in the group, stdin from /dev/null, in `cwd`: an
 *     absolute cwd as is, a relative one under opts->base_dir (or the process's cwd at the
 *     attempt's start if base_dir is NULL); with no cwd it runs in base_dir, or in the
 *     process's cwd if base_dir is NULL too.  Its umask, rlimits and nice value are weft's as
 *     they were when the spawner was forked;
 *   - its environment is the runner's, overridden by the job's env, overridden by WEFT_REQUEST
 *     (decimal request id), WEFT_JOB (job id), WEFT_ATTEMPT (1-based) and WEFT_PROGRESS_FD (3):
 *     a job's env cannot change those four.  Signal dispositions are default and no signal is
 *     blocked, whatever weft's are; no fd but 0-3 is open;
 *   - stdout and stderr are pipes that the handler drains into per-attempt log files under
 *     the log dir:
 *       <log_dir>/<request>/<job>.<attempt>.out and .err
 *     A file appears only when something is written to its stream: it is created 0644 and
 *     truncated when the stream's first byte arrives (the directory <log_dir>/<request> is
 *     created as with mkdir -p when missing), so a stream that stays silent leaves no file
 *     (and a request whose jobs print nothing, no directory).  A file is written while the
 *     command runs: reading it shows what the command wrote so far, give or take one wake-up
 *     of the handler.  What the command wrote ends up in the file byte for byte, except what
 *     a process outside the group writes (see Limits).  With log_dir NULL they go to /dev/null
 *     (no pipes) and error messages quote no stderr;
 *   - a log file that cannot be created or written (no space, permissions) does not fail the
 *     attempt: that stream is drained and discarded from then on, so the command never
 *     blocks on it.  If the attempt fails anyway, its error message names the first such
 *     failure after its prefix: "exit status N (output not logged: <why>): <stderr tail>";
 *     the first such failure of the process is also written once on stderr;
 *   - lines "PERCENT [message]" written to fd 3 (WEFT_PROGRESS_FD) become progress: PERCENT is
 *     1-3 decimal digits with a value 0..100, then the end of the line or blanks and a message
 *     (a trailing CR is dropped).  Malformed lines, lines longer than 4 KiB and a last line
 *     without a newline are ignored; of several lines read at once only the last is reported;
 *   - exit 0 is done (no result is set); exit N fails the attempt with exit code N and the error
 *     "exit status N: <stderr tail>"; death by signal S fails it with exit code 128+S and
 *     "killed by signal S (SIGNAME): <stderr tail>".  The tail is the last lines of the last
 *     4 KiB of the .err file that fit in WEFT_MAX_MESSAGE with the prefix (control bytes shown
 *     as '?'); with no stderr (no .err file) the message is the prefix alone;
 *   - when the attempt is cancelled (cancel, timeout, shutdown: weft_job_cancelled) the group
 *     gets SIGTERM, then SIGKILL after kill_grace_ms (both sent by the spawner, and only while
 *     the shell is not reaped, so never to a reused pgid); the attempt then fails with
 *     "cancelled: <stderr tail>" and exit code 128+S if the shell died of signal S, else 1;
 *   - when the shell exits, for whatever reason, the spawner SIGKILLs the group before it
 *     reaps the shell and reports its status.  So nothing the command left running in its
 *     group outlives the attempt;
 *   - when the handler's side of an attempt goes away (its runner thread, weft), the spawner
 *     SIGKILLs that group; when weft exits or is SIGKILLed, the spawner sees its control
 *     socket close, SIGKILLs every group whose shell it has not reaped, and exits.  So no
 *     process of a group outlives weft, even on SIGKILL;
 *   - a command that signals its own group (`kill -HUP 0`, `kill 0`) reaches only itself: the
 *     shell dies of it or not as it would anywhere else.
 * Limits:
 *   - a process that moves itself to another process group or session (setsid, setpgid,
 *     `set -m` job control) escapes the group and so every kill above.  It does not hold up
 *     the end of the attempt: once the shell is reaped and its group killed, the handler
 *     moves what the pipes hold without waiting, at most 1 MiB more per pipe, and closes
 *     them; such a process then gets EPIPE (SIGPIPE) on its next write, and what it wrote
 *     after that moment is lost.  Bytes a dying group member was writing at the instant of
 *     the group's SIGKILL are in the log or not;
 *   - if the spawner dies (SIGKILL by someone, the OOM killer), every running shell dies with
 *     it (PR_SET_PDEATHSIG(SIGKILL)), and the handler, on seeing the spawner gone, SIGKILLs the
 *     attempt's group once and fails the attempt with exit code 127 and "lost the shell: the
 *     spawner (pid N) died, ..." ("cancelled" if it was being cancelled).  That kill is best
 *     effort: the shell may already be reaped by init, so the pgid is held only by what is
 *     left in the group.  Were weft to die together with the spawner, the command's other
 *     processes would survive.  The next attempt forks a new spawner.  An attempt whose
 *     request the spawner took with it fails ("the spawner died while starting it"): it is not
 *     sent again, as the shell may have started.  Closing these needs a cgroup or a PID
 *     namespace per job.
 * The handler is called on several runner threads at once and never forks; it wakes every
 * ~50 ms to look at weft_job_cancelled, so a cancel takes effect within about that, and on
 * every write of the command to its pipes (moving at most 256 KiB per stream per wake-up, so
 * neither stream nor the progress pipe starves the others).
 */
#ifndef WF_SHELL_H
#define WF_SHELL_H

#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

/* At most this many env entries in a payload: keeps duplicate checks and envp small. */
#define WF_SHELL_MAX_ENV 4096

typedef struct wf_shell_opts {
    const char *log_dir;    /* where per-attempt logs go (a file per stream that prints);
                               NULL: discard output */
    const char *base_dir;   /* relative cwd is taken from here, and a job without cwd runs
                               here; NULL: the process's cwd */
    int kill_grace_ms;      /* between SIGTERM and SIGKILL; 0: 5000 */
} wf_shell_opts_t;

/* Encode a shell payload.  env is n "NAME=VALUE" strings; cwd may be NULL.  *buf_p is malloc'd.
 * Errors: EINVAL (NULL run, malformed or duplicate env name, more than WF_SHELL_MAX_ENV entries,
 * empty cwd), ETOOBIG (over WF_MAX_PAYLOAD). */
int wf_shell_payload_encode(const char *run, const char *const *env, size_t nenv, const char *cwd,
                            uint8_t **buf_p, size_t *len_p);

/* A decoded shell payload; free with wf_shell_payload_fini. */
typedef struct wf_shell_payload {
    char *run;
    char **env;   /* "NAME=VALUE" */
    size_t nenv;
    char *cwd;    /* NULL: none */
} wf_shell_payload_t;

/* Decode strictly (see the top of this file); on error *out is left empty (fini is safe).
 * Errors: EPROTO (not a shell payload), EINVAL (out is NULL). */
int wf_shell_payload_decode(const void *buf, size_t len, wf_shell_payload_t *out);
void wf_shell_payload_fini(wf_shell_payload_t *p);

/* The handler: arg is a const wf_shell_opts_t * that outlives the worker. */
int wf_shell_handler(weft_job_t *job, void *arg);

/* The log file of one attempt's stream ("out" or "err") into buf (truncated to cap):
 * "<log_dir>/<req>/<job>.<attempt>.<stream>".  Returns buf. */
char *wf_shell_log_path(char *buf, size_t cap, const char *log_dir, weft_reqid_t req,
                        const char *job, uint32_t attempt, const char *stream);

/* The shell runner's weft_log_reader_fn (weft.h): arg is the const wf_shell_opts_t * the
 * handler runs with; it reads wf_shell_log_path's file with one pread of at most cap bytes
 * from offset.  Returns the file's size (what the command wrote so far), or -WEFT_ENOTFOUND
 * when there is no file (the stream wrote nothing, the attempt did not run here, or output is
 * discarded: log_dir NULL), -WEFT_EINVAL for a job or stream that is not a name or
 * "out"/"err" (no path outside the request's directory is ever opened), -WEFT_ESYS when the
 * file cannot be read.  Thread-safe; never blocks on anything but the file system. */
int64_t wf_shell_log_read(void *arg, weft_reqid_t req, const char *job, uint32_t attempt,
                          const char *stream, uint64_t offset, void *buf, size_t cap,
                          size_t *len_p);

#endif
