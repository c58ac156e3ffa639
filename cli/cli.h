/*
 * cli.h -- what the verbs of the `weft` command share: exit codes, state-directory resolution,
 * opening an engine to inspect, finding a run's request, and printing helpers.
 * Every verb is `int weft_cmd_<verb>(int argc, char **argv)` returning the process exit status.
 */
#ifndef WF_CLI_H
#define WF_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

/* Exit statuses (docs/cli.md). */
enum {
    WF_EXIT_OK = 0,          /* every job succeeded (skipped counts as fine) */
    WF_EXIT_FAILED = 1,      /* some job failed or was cancelled */
    WF_EXIT_USAGE = 2,       /* invalid file or arguments */
    WF_EXIT_INTERRUPTED = 130,
};

#define WF_CLI_STATE_DIRNAME ".weft"
#define WF_CLI_LOGS_DIRNAME "logs"

int weft_cmd_run(int argc, char **argv);
int weft_cmd_validate(int argc, char **argv);
int weft_cmd_status(int argc, char **argv);
int weft_cmd_logs(int argc, char **argv);
int weft_cmd_list(int argc, char **argv);
int weft_cmd_why(int argc, char **argv);
int weft_cmd_dot(int argc, char **argv);
int weft_cmd_serve(int argc, char **argv);
int weft_cmd_worker(int argc, char **argv);
int weft_cmd_keygen(int argc, char **argv);
int weft_cmd_submit(int argc, char **argv);
int weft_cmd_watch(int argc, char **argv);
int weft_cmd_cancel(int argc, char **argv);
int weft_cmd_retry(int argc, char **argv);
int weft_cmd_workers(int argc, char **argv);
int weft_cmd_pause(int argc, char **argv);
int weft_cmd_resume(int argc, char **argv);
int weft_cmd_drain(int argc, char **argv);

/* The state directory of a workflow file: --state if given, else .weft beside the file.
 * Returns a heap string. */
char *wf_cli_state_for_file(const char *file, const char *state_opt);
/* The state directory for inspecting: --state if given, else ./.weft.  Heap string. */
char *wf_cli_state_default(const char *state_opt);
/* The log directory inside a state directory (heap). */
char *wf_cli_logs_dir(const char *state);
/* The session a workflow file's runs belong to: "file:<base name>" with bad characters
 * replaced (a valid name).  Heap string. */
char *wf_cli_session_for_file(const char *file);

/* Open an engine read-only on state (prints the error and returns NULL on failure). */
weft_engine_t *wf_cli_open_readonly(const char *state);
/* The newest request, optionally of one session (NULL: any); 0 when there is none. */
weft_reqid_t wf_cli_latest_request(weft_engine_t *eng, const char *session);
/* Parse a request id ("12" or "r12"); false if malformed. */
bool wf_cli_parse_reqid(const char *s, weft_reqid_t *id_p);
/* Find a job by id in a request; prints an error and returns false when absent. */
bool wf_cli_find_job(weft_engine_t *eng, weft_reqid_t id, const char *job, weft_job_info_t *info);

/* "1.2s", "3m04s", "1h02m" into buf. */
const char *wf_cli_duration(char *buf, size_t cap, int64_t ms);
/* Print the last `lines` lines of a file (at most 64 KiB read) with a prefix; false if none. */
bool wf_cli_print_tail(const char *path, int lines, const char *prefix);
/* Parse "-p name=value" values: checks the form; prints an error and returns false if bad. */
bool wf_cli_param_ok(const char *kv);
/* Parse a --durability value ("full" or "process") into a weft_durability; prints an error
 * naming the verb and returns false if bad. */
bool wf_cli_durability_ok(const char *verb, const char *arg, int *durability_p);
/* Start `slots` local shell slots on eng: its own consumer serving `shell`, with the shell
 * runner's log reader.  shell must outlive the engine.  Returns a weft_err. */
struct wf_shell_opts;
int wf_cli_start_shell_slots(weft_engine_t *eng, unsigned slots, struct wf_shell_opts *shell);
/* Parse a --timeout value in seconds ("10", "0.5") into ms; prints an error naming the verb and
 * returns false if bad (cmd_client.c). */
bool wf_cli_timeout_ok(const char *verb, const char *arg, int *ms_p);
/* The exit status a client call's error means: 2 for an unknown request or job or an invalid
 * request, 1 for the rest (cmd_client.c). */
int wf_cli_client_exit(int rc);

#endif
