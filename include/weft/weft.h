/*
 * weft.h -- the whole public API of libweft, a durable DAG workflow engine.
 *
 * Not in this header means not API.  Every function returns a weft_err code (0 on success) unless
 * it says otherwise; weft_strerror() names each code.  No input, file or peer can make the
 * library abort; only running out of memory does (see docs/decisions/0001-oom-aborts.md).
 *
 * Lifecycle (two-phase, like LMDB): weft_options_new -> weft_options_set_* -> weft_engine_open ->
 * weft_engine_register (handlers) -> weft_engine_start_consumers -> submit / wait / status ->
 * weft_engine_close.  An engine is safe to use from several threads at once: every call that
 * changes state is a message to the engine's own thread, and every read is an LMDB read
 * transaction, so it sees exactly what has been made durable.
 *
 * Ownership: functions that destroy or close take T ** and set *p to NULL; they accept NULL.
 * Strings passed in are copied; strings handed out are owned by weft and valid as documented.
 */
#ifndef WEFT_WEFT_H
#define WEFT_WEFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(WEFT_BUILDING) && defined(__GNUC__)
#define WEFT_EXPORT __attribute__((visibility("default")))
#else
#define WEFT_EXPORT
#endif

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0
#define WEFT_MAKE_VERSION(a, b, c) ((a) * 10000 + (b) * 100 + (c))
#define WEFT_VERSION                                                                               \
    WEFT_MAKE_VERSION(WEFT_VERSION_MAJOR, WEFT_VERSION_MINOR, WEFT_VERSION_PATCH)

/* The library's version as WEFT_MAKE_VERSION computes it; compare with WEFT_VERSION. */
WEFT_EXPORT int weft_version(void);

/* ------------------------------------------------------------------------------------------ */
/* Errors: one space for every module; weft_strerror(code) is "WEFT_EXXX: explanation".       */

typedef enum weft_err {
    WEFT_OK = 0,
    WEFT_EINVAL,    /* an argument is invalid */
    WEFT_ENOMEM,    /* out of memory (reserved; weft aborts on OOM) */
    WEFT_ENOTFOUND, /* no such request, job, handler or key */
    WEFT_EAGAIN,    /* nothing available now; try again */
    WEFT_EEXIST,    /* already exists (duplicate job id, handler type) */
    WEFT_ESTATE,    /* the object is in the wrong state for this call */
    WEFT_EPROTO,    /* a malformed or unexpected protocol message */
    WEFT_ETOOBIG,   /* a value exceeds its limit (see docs/limits.md) */
    WEFT_ELIMIT,    /* a count exceeds its limit (jobs, needs, types, ...) */
    WEFT_ESTORE,    /* the store failed; the engine stopped taking work */
    WEFT_EFULL,     /* the store's map is full and cannot grow */
    WEFT_EVERSION,  /* a version mismatch (schema on disk, protocol on the wire) */
    WEFT_ECLOSED,   /* the engine or connection is closed */
    WEFT_ETIMEDOUT, /* a wait ran out */
    WEFT_ECYCLE,    /* the job graph has a cycle */
    WEFT_EBUSY,     /* the state directory is in use by another engine */
    WEFT_ESYS,      /* a system call failed; errno is kept in the detail message */
    WEFT_ERR_COUNT_
} weft_err;

WEFT_EXPORT const char *weft_strerror(int err);

/* ------------------------------------------------------------------------------------------ */
/* States, trigger rules and reasons                                                          */

typedef uint64_t weft_reqid_t; /* 0 is never a valid request id */

typedef enum weft_job_state {
    WEFT_JOB_PENDING = 0, /* waiting on parents */
    WEFT_JOB_READY,       /* on the board (or backing off before a retry) */
    WEFT_JOB_RUNNING,     /* leased to a consumer, attempt n */
    WEFT_JOB_DONE,
    WEFT_JOB_FAILED,
    WEFT_JOB_CANCELLED,
    WEFT_JOB_SKIPPED,
    WEFT_JOB_STATE_COUNT_
} weft_job_state;

typedef enum weft_req_state {
    WEFT_REQ_RUNNING = 0,
    WEFT_REQ_SUCCEEDED,
    WEFT_REQ_FAILED,
    WEFT_REQ_CANCELLED,
    WEFT_REQ_STATE_COUNT_
} weft_req_state;

typedef enum weft_when {
    WEFT_WHEN_SUCCESS = 0, /* run when every parent is done (default) */
    WEFT_WHEN_ALWAYS,      /* run when every parent is terminal */
    WEFT_WHEN_FAILURE,     /* run when every parent is terminal and one failed or was cancelled */
    WEFT_WHEN_COUNT_
} weft_when;

/* Why a job is in its state: every terminal or waiting state carries one. */
typedef enum weft_reason {
    WEFT_REASON_NONE = 0,
    WEFT_REASON_WAIT_PARENTS,     /* pending: parents not yet terminal */
    WEFT_REASON_WAIT_CONSUMER,    /* ready: no connected consumer handles its type */
    WEFT_REASON_WAIT_SLOT,        /* ready: consumers exist but none has a free slot */
    WEFT_REASON_WAIT_POOL,        /* ready: its pool is at its limit */
    WEFT_REASON_BACKOFF,          /* ready: backing off before the next attempt */
    WEFT_REASON_PAUSED,           /* ready: the board is paused */
    WEFT_REASON_REQUEUED,         /* ready: its consumer was lost or the engine restarted */
    WEFT_REASON_LEASED,           /* running under a lease */
    WEFT_REASON_SUCCEEDED,        /* done */
    WEFT_REASON_EXIT,             /* failed: the handler reported failure (exit_code) */
    WEFT_REASON_TIMEOUT,          /* failed: the attempt ran past its timeout */
    WEFT_REASON_LOST,             /* failed: its consumer was lost and lost_retries is spent */
    WEFT_REASON_CANCELLED_USER,   /* cancelled by a cancel call on the job or its request */
    WEFT_REASON_CANCELLED_PARENT, /* cancelled because job `cause` failed or was cancelled */
    WEFT_REASON_SKIPPED_PARENT,   /* skipped: a parent was skipped (when: success) */
    WEFT_REASON_SKIPPED_NO_FAILURE, /* skipped: when: failure and no parent failed */
    WEFT_REASON_CARRIED,          /* done: carried over from an earlier run (WEFT_JOBOPT_DONE) */
    WEFT_REASON_COUNT_
} weft_reason;

WEFT_EXPORT const char *weft_job_state_name(int state);     /* "pending", "ready", ... */
WEFT_EXPORT const char *weft_req_state_name(int state);     /* "running", "succeeded", ... */
WEFT_EXPORT const char *weft_reason_name(int reason);       /* "waiting on parents", ... */
WEFT_EXPORT const char *weft_when_name(int when);           /* "success", "always", "failure" */

/* ------------------------------------------------------------------------------------------ */
/* Options (set before weft_engine_open)                                                      */

typedef struct weft_options weft_options_t;

typedef enum weft_durability {
    WEFT_DURABLE_FULL = 0, /* fsync at every commit: survives an OS crash or power loss (default) */
    WEFT_DURABLE_PROCESS,  /* no fsync: survives a crash of the process, not of the OS */
} weft_durability;

typedef enum weft_option {
    WEFT_OPT_DURABILITY = 1, /* int: weft_durability */
    WEFT_OPT_MAP_SIZE,       /* int: initial LMDB map size in bytes (default 64 MiB) */
    WEFT_OPT_MAP_MAX,        /* int: largest the map may grow to, bytes (default 64 GiB) */
    WEFT_OPT_HEARTBEAT_MS,   /* int: heartbeat interval both ways (default 1000) */
    WEFT_OPT_LIVENESS,       /* int: missed heartbeats before a consumer is lost (default 3) */
    WEFT_OPT_BOARD_BIND,     /* string: an extra endpoint the board binds (ipc:// or tcp://) */
    WEFT_OPT_LOG_LEVEL,      /* int: 0 quiet, 1 errors, 2 warnings (default), 3 info, 4 debug */
    WEFT_OPT_CLIENT_BIND,    /* string: the client endpoint (submit, status, ... over the client
                              * protocol, docs/protocol.md); none unless set */
    WEFT_OPT_EVENTS_BIND,    /* string: publish events to remote subscribers (msgpack); none unless set */
    WEFT_OPT_CURVE_KEYS,     /* string: a directory holding `server` (the server's secret cert),
                              * `workers/` and `clients/` (admitted public keys): every endpoint
                              * becomes a CURVE server; without it only loopback, ipc and inproc
                              * endpoints are bound (docs/security.md) */
    WEFT_OPT_READONLY,       /* int: 1 = inspect only: no lock, no engine thread; reads work
                              * (status, jobs, results, lists) even while another engine runs the
                              * directory; every call that changes state returns WEFT_ESTATE */
    WEFT_OPT_PREFETCH,       /* int: jobs each local consumer (weft_engine_start_consumers) may
                              * hold queued beyond its threads, so the next job is already there
                              * when a handler returns (see weft_worker_set_prefetch); default
                              * one per thread, 0 = none */
} weft_option;

WEFT_EXPORT int weft_options_new(weft_options_t **opts_p);
WEFT_EXPORT void weft_options_destroy(weft_options_t **opts_p);
WEFT_EXPORT int weft_options_set_int(weft_options_t *opts, weft_option opt, int64_t value);
WEFT_EXPORT int weft_options_set_str(weft_options_t *opts, weft_option opt, const char *value);

/* ------------------------------------------------------------------------------------------ */
/* Engine                                                                                     */

typedef struct weft_engine weft_engine_t;

/*
 * Open (creating if needed) the state directory `dir` and start the engine's thread.  Every
 * unfinished request found there resumes: done jobs never run again, jobs that were running go
 * back to ready.  `opts` may be NULL; it is copied.  On failure *eng_p is NULL and, if errbuf is
 * not NULL, a sentence saying why is written there.
 * Errors: EINVAL, EBUSY (another engine holds dir), EVERSION (schema), ESTORE, ESYS.
 */
WEFT_EXPORT int weft_engine_open(weft_engine_t **eng_p, const char *dir, const weft_options_t *opts,
                                 char *errbuf, size_t errlen);

/* Stop consumers, stop the engine's thread, close the store.  Work left unfinished resumes at
 * the next open.  Accepts NULL; sets *eng_p to NULL. */
WEFT_EXPORT void weft_engine_close(weft_engine_t **eng_p);

/* The inproc endpoint consumers of this engine connect to (valid until close). */
WEFT_EXPORT const char *weft_engine_board_endpoint(const weft_engine_t *eng);

/* Read the CURVE key directories again (WEFT_OPT_CURVE_KEYS): keys added or removed count from
 * the next connection.  Errors: ESTATE (no CURVE), ENOTFOUND, ESYS. */
WEFT_EXPORT int weft_engine_reload_keys(weft_engine_t *eng);

/* Pause hand-outs (running jobs go on) and resume them. */
WEFT_EXPORT int weft_engine_pause(weft_engine_t *eng);
WEFT_EXPORT int weft_engine_resume(weft_engine_t *eng);

/* ------------------------------------------------------------------------------------------ */
/* Handlers and consumers                                                                     */

/* The handler's view of one attempt of one job.  Valid only inside the handler call. */
typedef struct weft_job weft_job_t;

/*
 * A job handler.  Return 0 for done; any other value fails the attempt with that value recorded
 * as its exit code.  A handler runs on a consumer thread; several run at once (one per slot).
 * It should check weft_job_cancelled() now and then and return early when it is true.
 */
typedef int(weft_handler_fn)(weft_job_t *job, void *arg);

WEFT_EXPORT const char *weft_job_id(const weft_job_t *job);
WEFT_EXPORT const char *weft_job_type(const weft_job_t *job);
WEFT_EXPORT weft_reqid_t weft_job_request(const weft_job_t *job);
WEFT_EXPORT uint32_t weft_job_attempt(const weft_job_t *job);
WEFT_EXPORT const void *weft_job_payload(const weft_job_t *job, size_t *len);
/* Report progress, 0..100, with an optional short message (truncated to WEFT_MAX_MESSAGE). */
WEFT_EXPORT int weft_job_progress(weft_job_t *job, int percent, const char *msg);
/* Set the result kept with the job when it is done (at most WEFT_MAX_RESULT bytes; ETOOBIG). */
WEFT_EXPORT int weft_job_set_result(weft_job_t *job, const void *data, size_t len);
/* Set the error message kept with the job when the attempt fails. */
WEFT_EXPORT int weft_job_set_error(weft_job_t *job, const char *msg);
/* True once the engine asked this attempt to stop (job or request cancelled, timeout). */
WEFT_EXPORT bool weft_job_cancelled(const weft_job_t *job);

/* Register a handler for a job type on this engine's local consumers (before starting them).
 * Errors: EINVAL (bad type name), EEXIST, ESTATE (consumers already started). */
WEFT_EXPORT int weft_engine_register(weft_engine_t *eng, const char *type, weft_handler_fn *fn,
                                     void *arg);

/* Start `threads` local consumer slots serving every registered type, over inproc with the same
 * protocol remote workers use.  Errors: EINVAL (0 threads or none registered), ESTATE. */
WEFT_EXPORT int weft_engine_start_consumers(weft_engine_t *eng, unsigned threads);

/*
 * A stand-alone consumer: connects to a board endpoint (inproc://, ipc:// or tcp://), registers
 * its handlers' types and `slots`, and runs jobs until destroyed.  This is how a separate
 * process (or host) serves job types to an engine.
 */
typedef struct weft_worker weft_worker_t;
WEFT_EXPORT int weft_worker_new(weft_worker_t **w_p, const char *endpoint, const char *name);
WEFT_EXPORT int weft_worker_register(weft_worker_t *w, const char *type, weft_handler_fn *fn,
                                     void *arg);
WEFT_EXPORT int weft_worker_set_heartbeat(weft_worker_t *w, int heartbeat_ms);
/* Give up on a board heard nothing from for `ms` (across reconnects; 0 = never, the default):
 * every running attempt is cancelled (handlers see weft_job_cancelled) and not reported unless
 * its handler returns 0; the worker keeps its unacknowledged reports and keeps reconnecting.
 * Before weft_worker_start.  Errors: EINVAL (ms < 0), ESTATE (started). */
WEFT_EXPORT int weft_worker_set_give_up(weft_worker_t *w, int ms);
/* Connect with CURVE (docs/security.md), to a server whose public key is `server_key` (its 40
 * Z85 characters, or the path of a certificate file holding it: server.pub), as the key pair in
 * the certificate file `cert_path` (as `weft keygen` writes it; it must hold the secret key and
 * must not be readable or writable by group or others).  Applies to every connection the worker
 * makes, reconnects included.  A server that refuses the key looks like a silent one: the
 * worker keeps reconnecting with backoff and gets in once the key is admitted.  Before
 * weft_worker_start.  Errors: EINVAL (NULL argument, not a certificate, no secret key, mode too
 * open, no CURVE in libzmq), ENOTFOUND (no such file), ETOOBIG, ESYS (unreadable), ESTATE
 * (started); the reason is logged on stderr. */
WEFT_EXPORT int weft_worker_set_curve(weft_worker_t *w, const char *server_key,
                                      const char *cert_path);
/* Take up to `n` jobs beyond the worker's slots, queued in the worker and started in the order
 * they came as slots free up, so a slot never waits for the board's round trip (a commit) between
 * two jobs.  A queued job counts as running for the board (it holds a lease and its pool's
 * place); a job with a timeout is never queued, only handed to a free slot, since its timeout
 * starts when it is handed out.  0 = none.  Before weft_worker_start.  Errors: EINVAL (over WF_MAX_SLOTS), ESTATE. */
WEFT_EXPORT int weft_worker_set_prefetch(weft_worker_t *w, unsigned n);
/*
 * A log reader: what lets a server show the output of jobs this worker ran (`weft logs
 * --server`).  It copies up to `cap` bytes of the log `stream` ("out" or "err") of attempt
 * `attempt` of job `job` of request `req`, from byte `offset` on, into buf, sets *len_p to how
 * many it copied, and returns the log's whole size so far (>= 0; an offset at or past it copies
 * nothing), or a negative weft_err: -WEFT_ENOTFOUND when there is no such log (the stream
 * wrote nothing, or this worker never ran that attempt), another code when the read failed.
 * It runs on the worker's loop thread, one call at a time, so it must not block: one bounded
 * read (cap is at most 1 MiB).  A worker without a reader answers every read "no such log".
 * The shell runner's files are read by wf_shell_log_read (`weft worker` registers it).
 * Before weft_worker_start.  Errors: EINVAL (w or fn NULL), ESTATE (started).
 */
typedef int64_t(weft_log_reader_fn)(void *arg, weft_reqid_t req, const char *job,
                                    uint32_t attempt, const char *stream, uint64_t offset,
                                    void *buf, size_t cap, size_t *len_p);
WEFT_EXPORT int weft_worker_set_log_reader(weft_worker_t *w, weft_log_reader_fn *fn, void *arg);
/* The log reader of this engine's local consumers (see weft_worker_set_log_reader): a server
 * with local slots answers `weft logs --server` for what they ran through it.  Before
 * weft_engine_start_consumers.  Errors: EINVAL (eng or fn NULL), ESTATE (consumers started). */
WEFT_EXPORT int weft_engine_set_log_reader(weft_engine_t *eng, weft_log_reader_fn *fn, void *arg);
WEFT_EXPORT int weft_worker_start(weft_worker_t *w, unsigned slots);
WEFT_EXPORT void weft_worker_destroy(weft_worker_t **w_p);

/* ------------------------------------------------------------------------------------------ */
/* Building and submitting requests                                                           */

typedef struct weft_request weft_request_t;

/* Per-job options for weft_request_job_set(). */
typedef enum weft_jobopt {
    WEFT_JOBOPT_RETRIES = 1,    /* own failures allowed before the job fails (default 0) */
    WEFT_JOBOPT_LOST_RETRIES,   /* lost consumers allowed before the job fails (default 3) */
    WEFT_JOBOPT_RETRY_DELAY_MS, /* first backoff; doubles per attempt, capped (default 0) */
    WEFT_JOBOPT_TIMEOUT_MS,     /* per attempt; 0 = none (default) */
    WEFT_JOBOPT_PRIORITY,       /* higher first (default 0) */
    WEFT_JOBOPT_WHEN,           /* weft_when (default success) */
    WEFT_JOBOPT_DONE,           /* 1: counts as done without running (carried over from an
                                 * earlier run); give it only to jobs whose parents have it too */
} weft_jobopt;

WEFT_EXPORT int weft_request_new(weft_request_t **req_p, const char *name);
WEFT_EXPORT void weft_request_destroy(weft_request_t **req_p);
WEFT_EXPORT int weft_request_set_session(weft_request_t *req, const char *session);
/* An idempotency key: submitting again with the same key returns the first request's id. */
WEFT_EXPORT int weft_request_set_key(weft_request_t *req, const char *key);
/* Declare a pool: at most `limit` jobs naming it run at once (pools are per request). */
WEFT_EXPORT int weft_request_set_pool(weft_request_t *req, const char *pool, uint32_t limit);
/* Add a job; the payload is copied.  Errors: EINVAL (bad id or type), EEXIST, ELIMIT, ETOOBIG. */
WEFT_EXPORT int weft_request_add_job(weft_request_t *req, const char *id, const char *type,
                                     const void *payload, size_t len);
/* `job` needs `parent`; the parent may be added later (checked at submit). */
WEFT_EXPORT int weft_request_add_need(weft_request_t *req, const char *job, const char *parent);
WEFT_EXPORT int weft_request_job_set(weft_request_t *req, const char *job, weft_jobopt opt,
                                     int64_t value);
WEFT_EXPORT int weft_request_job_set_pool(weft_request_t *req, const char *job, const char *pool);
/* A digest of the job's definition (type, payload, options, its parents' positions): equal for
 * the same definition, so a caller can tell which jobs changed since an earlier submission
 * (compare with weft_job_info_t.fingerprint).  Resolves the request first; errors as submit. */
WEFT_EXPORT int weft_request_job_fingerprint(weft_request_t *req, const char *job, uint64_t *fp_p);

/*
 * Validate and durably submit.  On WEFT_OK the request with all its jobs and edges is in LMDB
 * and *id_p holds its id.  On a validation error (EINVAL, ECYCLE, ELIMIT, ...) nothing is
 * stored and weft_request_errmsg(req) names the jobs involved (a cycle prints its whole path).
 * The builder stays owned by the caller and may be submitted again.
 */
WEFT_EXPORT int weft_request_submit(weft_engine_t *eng, weft_request_t *req, weft_reqid_t *id_p);
WEFT_EXPORT const char *weft_request_errmsg(const weft_request_t *req);

/* ------------------------------------------------------------------------------------------ */
/* Following, inspecting and steering requests                                                */

#define WEFT_MAX_ID 128      /* job ids, type names, pool names, sessions: bytes, no NUL */
#define WEFT_MAX_MESSAGE 512 /* progress and error messages */
#define WEFT_MAX_RESULT 65536

typedef struct weft_request_info {
    weft_reqid_t id;
    char name[WEFT_MAX_ID + 1];
    char session[WEFT_MAX_ID + 1];
    weft_req_state state;
    uint32_t njobs;
    uint32_t count[WEFT_JOB_STATE_COUNT_]; /* jobs per weft_job_state */
    int64_t created_ms;                    /* wall clock, ms since the epoch */
    int64_t finished_ms;                   /* 0 while running */
} weft_request_info_t;

typedef struct weft_job_info {
    uint32_t index; /* position in the request, 0-based, in the order jobs were added */
    char id[WEFT_MAX_ID + 1];
    char type[WEFT_MAX_ID + 1];
    char pool[WEFT_MAX_ID + 1];
    weft_job_state state;
    weft_reason reason;
    weft_when when;
    int32_t priority;
    uint32_t attempts;     /* hand-outs so far */
    uint32_t failures;     /* own failures so far (against retries) */
    uint32_t lost;         /* lost consumers so far (against lost_retries) */
    uint32_t retries, lost_retries;
    int32_t exit_code;     /* for WEFT_REASON_EXIT */
    char cause[WEFT_MAX_ID + 1]; /* for CANCELLED_PARENT / SKIPPED_PARENT: the job at the root */
    uint32_t waiting_on;   /* for WAIT_PARENTS: parents not yet terminal */
    int progress;          /* 0..100 */
    char progress_msg[WEFT_MAX_MESSAGE + 1];
    char error[WEFT_MAX_MESSAGE + 1];
    uint32_t result_len;   /* read the bytes with weft_job_result() */
    int64_t started_ms, finished_ms; /* wall clock of the last attempt; 0 if none */
    uint64_t fingerprint;  /* see weft_request_job_fingerprint */
    /* Where the last attempt ran: the consumer's name and host as its HELLO gave them ("local"
     * for an engine's own slots); "" when it never ran or is not recorded (a state directory
     * written before weft recorded it). */
    char worker[WEFT_MAX_ID + 1];
    char host[WEFT_MAX_ID + 1];
} weft_job_info_t;

WEFT_EXPORT int weft_request_status(weft_engine_t *eng, weft_reqid_t id, weft_request_info_t *out);
/* A job by id or by index.  Errors: ENOTFOUND. */
WEFT_EXPORT int weft_job_status(weft_engine_t *eng, weft_reqid_t id, const char *job,
                                weft_job_info_t *out);
WEFT_EXPORT int weft_job_status_at(weft_engine_t *eng, weft_reqid_t id, uint32_t index,
                                   weft_job_info_t *out);
/* As weft_job_status_at, but a READY job's reason is the one stored with it rather than the
 * live one (which of type, slot or pool it waits for is asked of the engine thread, one round
 * trip per READY job), and worker and host are left empty (one more read each): a read
 * transaction only, cheap enough to scan every job of a big request.  Also works on a
 * read-only engine. */
WEFT_EXPORT int weft_job_status_stored_at(weft_engine_t *eng, weft_reqid_t id, uint32_t index,
                                          weft_job_info_t *out);
/* The indexes of the job's parents (its needs), sorted: up to cap into buf; *n_p gets how many
 * there are.  Errors: ENOTFOUND. */
WEFT_EXPORT int weft_job_needs(weft_engine_t *eng, weft_reqid_t id, uint32_t index, uint32_t *buf,
                               size_t cap, size_t *n_p);
/* Copy a done job's result into buf (up to cap bytes); *len_p gets its full length. */
WEFT_EXPORT int weft_job_result(weft_engine_t *eng, weft_reqid_t id, const char *job, void *buf,
                                size_t cap, size_t *len_p);
/* Call fn for every request in the store, oldest first; stop early if fn returns non-zero.
 * The infos carry the request's header only: count[] is zero (weft_request_status fills it). */
typedef int(weft_request_fn)(const weft_request_info_t *info, void *arg);
WEFT_EXPORT int weft_request_list(weft_engine_t *eng, weft_request_fn *fn, void *arg);

/* Block until the request is finished or timeout_ms passes (-1 waits for ever).
 * Errors: ENOTFOUND, ETIMEDOUT, ECLOSED. */
WEFT_EXPORT int weft_request_wait(weft_engine_t *eng, weft_reqid_t id, int timeout_ms,
                                  weft_req_state *state_p);

/* Cancel a whole request or one job (and its cascade); running attempts are told to stop. */
WEFT_EXPORT int weft_request_cancel(weft_engine_t *eng, weft_reqid_t id);
WEFT_EXPORT int weft_job_cancel(weft_engine_t *eng, weft_reqid_t id, const char *job);
/* Re-run a failed or cancelled job with fresh budgets, re-arming exactly the jobs its failure
 * cancelled.  weft_request_retry does so for every failed or cancelled job of the request. */
WEFT_EXPORT int weft_job_retry(weft_engine_t *eng, weft_reqid_t id, const char *job);
WEFT_EXPORT int weft_request_retry(weft_engine_t *eng, weft_reqid_t id);

/* ------------------------------------------------------------------------------------------ */
/* Events: every transition, published after it is durable                                    */

typedef struct weft_event {
    weft_reqid_t request;
    uint32_t job_index;        /* UINT32_MAX for an event about the request itself */
    char job[WEFT_MAX_ID + 1]; /* empty for a request event */
    int state;                 /* weft_job_state, or weft_req_state for a request event */
    weft_reason reason;
    uint32_t attempt;
    int progress;              /* for progress events (state RUNNING) */
    int64_t time_ms;           /* wall clock */
} weft_event_t;

typedef struct weft_events weft_events_t;

/* Subscribe to events of one request (or of all, with id 0).  Events published before the
 * subscription took effect are not delivered: read the status after opening to catch up. */
WEFT_EXPORT int weft_events_open(weft_engine_t *eng, weft_reqid_t id, weft_events_t **ev_p);
/* Next event, waiting up to timeout_ms (-1 for ever, 0 not at all).  Errors: ETIMEDOUT. */
WEFT_EXPORT int weft_events_next(weft_events_t *ev, weft_event_t *out, int timeout_ms);
/* A file descriptor that polls readable when weft_events_next may have an event (edge-style:
 * drain with timeout 0 until ETIMEDOUT). */
WEFT_EXPORT int weft_events_fd(weft_events_t *ev, int *fd_p);
WEFT_EXPORT void weft_events_close(weft_events_t **ev_p);

/* Call fn for every event of every request, on a thread of weft's, one at a time, until the
 * engine closes or fn is replaced (NULL removes it).  fn must not block for long. */
typedef void(weft_event_fn)(const weft_event_t *ev, void *arg);
WEFT_EXPORT int weft_engine_on_event(weft_engine_t *eng, weft_event_fn *fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_WEFT_H */
