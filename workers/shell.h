/*
 * shell.h -- the shell runner: runs a `shell` job's command with /bin/sh -c in its own process
 * group, as a weft_handler_fn, so local consumer threads and remote workers run shell jobs the
 * same way.
 *
 * Payload of a shell job (msgpack map, built by wf_shell_payload_encode, which the workflow
 * loader uses):  { "run": str, "env": { str: str, ... }, "cwd": str }   ("env", "cwd" optional)
 *
 * What the handler guarantees (docs/workflow-format.md, "Shell jobs"):
 *   - the command runs as `/bin/sh -c RUN` in a new process group, in `cwd` (relative paths are
 *     taken from the runner's base dir), with the runner's environment plus WEFT_REQUEST,
 *     WEFT_JOB, WEFT_ATTEMPT, WEFT_PROGRESS_FD and the job's env;
 *   - stdout and stderr go to per-attempt log files under the log dir:
 *       <log_dir>/<request>/<job>.<attempt>.out and .err
 *   - lines "PERCENT [message]" written to the fd named in WEFT_PROGRESS_FD become progress;
 *   - exit 0 is done; any other exit fails the attempt with that exit code; death by signal N
 *     fails it with exit code 128+N; the error message then holds the reason and the last lines
 *     of stderr (bounded by WEFT_MAX_MESSAGE);
 *   - when the attempt is cancelled (cancel, timeout, shutdown) the whole process group gets
 *     SIGTERM, then SIGKILL after kill_grace_ms; when the shell exits, anything it left running in
 *     its group is killed too, so no job's processes outlive the attempt; the child also has
 *     PR_SET_PDEATHSIG(SIGKILL), so it dies with weft even on SIGKILL.
 */
#ifndef WF_SHELL_H
#define WF_SHELL_H

#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

typedef struct wf_shell_opts {
    const char *log_dir;    /* where per-attempt logs go; NULL: discard output */
    const char *base_dir;   /* relative cwd is taken from here; NULL: the process's cwd */
    int kill_grace_ms;      /* between SIGTERM and SIGKILL; 0: 5000 */
} wf_shell_opts_t;

/* Encode a shell payload.  env is n "NAME=VALUE" strings.  *buf_p is malloc'd.
 * Errors: EINVAL (NULL run, malformed env entry), ETOOBIG (over WF_MAX_PAYLOAD). */
int wf_shell_payload_encode(const char *run, const char *const *env, size_t nenv, const char *cwd,
                            uint8_t **buf_p, size_t *len_p);

/* A decoded shell payload; free with wf_shell_payload_fini. */
typedef struct wf_shell_payload {
    char *run;
    char **env;   /* "NAME=VALUE" */
    size_t nenv;
    char *cwd;    /* NULL: none */
} wf_shell_payload_t;

/* Errors: EPROTO (not a shell payload). */
int wf_shell_payload_decode(const void *buf, size_t len, wf_shell_payload_t *out);
void wf_shell_payload_fini(wf_shell_payload_t *p);

/* The handler: arg is a const wf_shell_opts_t * that outlives the worker. */
int wf_shell_handler(weft_job_t *job, void *arg);

/* The log file of one attempt's stream ("out" or "err") into buf; returns buf. */
char *wf_shell_log_path(char *buf, size_t cap, const char *log_dir, weft_reqid_t req,
                        const char *job, uint32_t attempt, const char *stream);

#endif
