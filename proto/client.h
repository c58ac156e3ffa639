/*
 * client.h -- the client protocol: messages between a client (DEALER: the weft CLI, a Python
 * script, any ZeroMQ program) and a weft server's client endpoint (ROUTER), and the events the
 * server publishes (PUB).  docs/protocol.md ("Client protocol") is the contract.
 *
 * Every request and reply is ONE frame holding one msgpack array:
 *     [ "WEFT", version, kind, corr, field... ]
 * `corr` is a uint the client chooses and the server echoes in the reply (so a client may have
 * several requests in flight).  Events are two frames: an 8-byte big-endian request id (the
 * subscription topic; subscribe to "" for all) and [ "WEFT", version, WF_CMSG_EVENT, 0, ... ].
 * The decoder is as strict as the board's (proto.h): exact field counts and types, ranges,
 * names through wf_name_ok, every count bounded by the bytes received and by wf_limits.h.
 *
 * Knows nothing of the engine.  Thread-safe: no shared state.
 */
#ifndef WF_CLIENT_H
#define WF_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

typedef enum wf_cmsg_kind {
    /* client -> server */
    WF_CMSG_SUBMIT = 1,   /* request (see wf_csubmit_t) -> SUBMITTED | ERROR */
    WF_CMSG_STATUS = 2,   /* req [, offset, limit] -> STATUS | ERROR */
    WF_CMSG_LIST = 3,     /* (none) -> LIST */
    WF_CMSG_CANCEL = 4,   /* req, job (str or nil: whole request) -> OK | ERROR */
    WF_CMSG_RETRY = 5,    /* req, job (str or nil: every failed/cancelled job) -> OK | ERROR */
    WF_CMSG_WAIT = 6,     /* req -> FINISHED (when it is) | ERROR */
    WF_CMSG_WORKERS = 7,  /* (none) -> WORKERS */
    WF_CMSG_PAUSE = 8,    /* (none) -> BOARD */
    WF_CMSG_RESUME = 9,   /* (none) -> BOARD */
    WF_CMSG_DRAIN = 10,   /* (none) -> BOARD now (draining, running n), BOARD again (stopped) */
    WF_CMSG_WHY = 11,     /* req, job [, where] -> WHY_R | ERROR */
    WF_CMSG_PING = 12,    /* (none) -> PONG */
    WF_CMSG_GRAPH = 13,   /* req, offset, limit -> GRAPH_R | ERROR */
    WF_CMSG_LOGS = 14,    /* req, index, attempt, stream, offset, max -> LOGS_R | ERROR */
    /* server -> client */
    WF_CMSG_OK = 64,        /* (none) */
    WF_CMSG_ERROR = 65,     /* code (weft_err), message */
    WF_CMSG_SUBMITTED = 66, /* req, warnings: [str...] (e.g. a type no worker serves) */
    WF_CMSG_STATUS_R = 67,  /* request info, jobs: [jobinfo...] (one page of them) */
    WF_CMSG_LIST_R = 68,    /* [request info...] */
    WF_CMSG_FINISHED = 69,  /* req, state (weft_req_state) */
    WF_CMSG_WORKERS_R = 70, /* [worker...] */
    WF_CMSG_BOARD = 71,     /* mode ("running" | "paused" | "draining" | "stopped"), running */
    WF_CMSG_WHY_R = 72,     /* jobinfo, waiting_on: [job ids of unfinished parents]
                             * [, worker, host: where the last attempt ran (asked with where)] */
    WF_CMSG_PONG = 73,      /* server version (str), protocol version min, max */
    WF_CMSG_GRAPH_R = 74,   /* total, next, jobs: [[id, state, when, needs: [index...]]...] */
    WF_CMSG_LOGS_R = 75,    /* size, offset, data(bin): a chunk of one attempt's log */
    /* server -> subscribers (PUB) */
    WF_CMSG_EVENT = 96,     /* req, job index (or UINT32_MAX), job id (str, "" for a request
                             * event), state, reason, attempt, progress, time_ms */
} wf_cmsg_kind;

/*
 * Decoded strings.  Names and texts inside arrays and their elements are `const char *`: in a
 * decoded message they point into the message's one block (see "Memory" below), NUL-terminated;
 * "none" (nil on the wire) and the empty text are "" (a static string).  For the encoder they
 * are the caller's: NULL is "none" for an optional name and "" for a text, and is refused for a
 * required name.  Names and texts that are fields of the message itself, or of the records
 * embedded in it (STATUS_R's info, WHY_R's job), stay fixed char arrays.
 */

/* One job of a SUBMIT: [id, type, payload(bin), needs([str...]), retries, lost_retries,
 * retry_delay_ms, timeout_ms, priority(int), pool(str|nil), when(uint)] */
typedef struct wf_cjob {
    const char *id;
    const char *type;
    const uint8_t *payload; /* borrowed from the frame when decoded */
    const char **needs;     /* nneeds names */
    const char *pool;       /* "" (or NULL, encoding) = none */
    uint32_t payload_len;
    uint32_t nneeds;
    uint32_t retries, lost_retries, retry_delay_ms, timeout_ms;
    int32_t priority;
    uint32_t when;
} wf_cjob_t;

/* SUBMIT: [name, session(str|nil), key(str|nil), pools([[name, limit]...]), jobs([cjob...])] */
typedef struct wf_csubmit {
    char name[WF_MAX_NAME + 1];
    char session[WF_MAX_NAME + 1]; /* "" = default */
    char key[WF_MAX_NAME + 1];     /* "" = none */
    uint32_t npools;
    const char **pool_names;
    uint32_t *pool_limits;
    uint32_t njobs;
    wf_cjob_t *jobs;
} wf_csubmit_t;

/* Request info: [id, name, session, state, njobs, counts([7 uints]), created_ms, finished_ms].
 * STATUS_R's info is the public weft_request_info_t; LIST_R's are these (same member names,
 * strings by pointer). */
typedef struct wf_creqinfo {
    uint64_t id;
    const char *name;
    const char *session;
    weft_req_state state;
    uint32_t njobs;
    uint32_t count[WEFT_JOB_STATE_COUNT_];
    int64_t created_ms;
    int64_t finished_ms;
} wf_creqinfo_t;

/* Job info: [index, id, type, pool, state, reason, when, priority, attempts, failures, lost,
 * retries, lost_retries, exit_code(int), cause, progress, progress_msg, error, started_ms,
 * finished_ms] -- the fields of weft_job_info_t but result_len, waiting_on and fingerprint.
 * WHY_R's job is a weft_job_info_t; STATUS_R's jobs are these (same member names). */
typedef struct wf_cjobinfo {
    uint32_t index;
    weft_job_state state;
    weft_reason reason;
    weft_when when;
    int32_t priority;
    uint32_t attempts, failures, lost;
    uint32_t retries, lost_retries;
    int32_t exit_code;
    int progress;
    const char *id, *type;
    const char *pool;  /* "" = none */
    const char *cause; /* "" = none */
    const char *progress_msg, *error;
    int64_t started_ms, finished_ms;
} wf_cjobinfo_t;

/* Worker: [name, host, pid, types([str...]), slots, running, idle_ms] */
typedef struct wf_cworker {
    const char *name;
    const char *host;
    const char **types; /* ntypes names */
    uint32_t pid;
    uint32_t ntypes;
    uint32_t slots, running;
    uint32_t idle_ms; /* since its last message */
} wf_cworker_t;

/* One job of a GRAPH_R page: [id, state, when, needs([uint...])].  Its index is its place in
 * the page: the page holds jobs next - nnodes .. next - 1. */
typedef struct wf_cnode {
    const char *id;
    const uint32_t *needs; /* nneeds parent indexes, strictly ascending, each < total */
    weft_job_state state;
    weft_when when;
    uint32_t nneeds;
} wf_cnode_t;

typedef struct wf_cmsg {
    wf_cmsg_kind kind;
    uint64_t corr;
    uint64_t req;                       /* STATUS CANCEL RETRY WAIT WHY GRAPH SUBMITTED FINISHED
                                         * EVENT */
    char job[WF_MAX_NAME + 1];          /* CANCEL RETRY WHY ("" = nil); EVENT */
    uint32_t offset, limit;             /* GRAPH; STATUS (limit 0 = the short form [req],
                                         * which needs offset 0) */
    wf_csubmit_t submit;                /* SUBMIT */
    uint32_t code;                      /* ERROR */
    char message[WF_MAX_MESSAGE + 1];   /* ERROR */
    uint32_t nwarnings;                 /* SUBMITTED */
    const char **warnings;
    weft_request_info_t info;           /* STATUS_R */
    uint32_t njobs;                     /* STATUS_R: entries of cjobs */
    wf_cjobinfo_t *cjobs;               /* STATUS_R, as encoded and decoded */
    uint32_t nreqs;                     /* LIST_R */
    wf_creqinfo_t *reqs;
    uint32_t nworkers;                  /* WORKERS_R */
    wf_cworker_t *workers;
    uint32_t state;                     /* FINISHED (weft_req_state); EVENT (job or req state) */
    char mode[16];                      /* BOARD */
    uint32_t running;                   /* BOARD */
    weft_job_info_t jobinfo;            /* WHY_R (jobinfo.worker and .host only with where) */
    uint32_t nwaiting;                  /* WHY_R */
    const char **waiting;
    uint32_t where;                     /* WHY: 1 asks where the last attempt ran (0: the short
                                         * form); WHY_R: 1 when it says so (worker, host) */
    uint32_t index;                     /* LOGS: the job's index */
    uint32_t attempt;                   /* LOGS: 0 = the last one */
    char stream[4];                     /* LOGS: "out" or "err" */
    uint32_t max;                       /* LOGS: bytes wanted, 1..WF_PROTO_MAX_LOG_CHUNK */
    uint64_t log_offset;                /* LOGS: the first byte wanted; LOGS_R: where data starts */
    uint64_t size;                      /* LOGS_R: the log's size so far (0: nothing written) */
    const uint8_t *data;                /* LOGS_R: BORROWED from the decoded frame */
    uint32_t data_len;                  /* LOGS_R: <= WF_PROTO_MAX_LOG_CHUNK */
    char version[32];                   /* PONG */
    uint32_t proto_min, proto_max;      /* PONG */
    uint32_t total, next;               /* GRAPH_R: the request's jobs; the first index after
                                         * this page */
    uint32_t nnodes;                    /* GRAPH_R */
    wf_cnode_t *nodes;
    weft_event_t event;                 /* EVENT */
    void *owned_;                       /* the block a decoded message owns */
    size_t owned_size_;                 /* its size in bytes */
} wf_cmsg_t;

void wf_cmsg_init(wf_cmsg_t *msg, wf_cmsg_kind kind);
/* Free what the message owns (its decoded block), zero it. */
void wf_cmsg_fini(wf_cmsg_t *msg);
/* Encode into a malloc'd buffer.  Errors: EINVAL, ETOOBIG (as wf_msg_encode). */
int wf_cmsg_encode(const wf_cmsg_t *msg, uint8_t **buf_p, size_t *len_p);
/* Decode one frame strictly (events: the second frame).  Errors: EPROTO, EVERSION, ETOOBIG;
 * `why` gets a short reason.  See "Memory" below for what it allocates. */
int wf_cmsg_decode(const uint8_t *buf, size_t len, wf_cmsg_t *out, char *why, size_t why_len);
const char *wf_cmsg_kind_name(int kind);
/* Bytes a decoded message holds on the heap (its one block); 0 for one that owns nothing. */
size_t wf_cmsg_decoded_size(const wf_cmsg_t *msg);

/* Views between the compact records and the public ones.  _expand copies into the public
 * struct (waiting_on, result_len and fingerprint become 0); _view makes a compact record whose
 * strings BORROW from `in` (valid while `in` is). */
void wf_creqinfo_expand(const wf_creqinfo_t *in, weft_request_info_t *out);
void wf_creqinfo_view(const weft_request_info_t *in, wf_creqinfo_t *out);
void wf_cjobinfo_expand(const wf_cjobinfo_t *in, weft_job_info_t *out);
void wf_cjobinfo_view(const weft_job_info_t *in, wf_cjobinfo_t *out);
/* Make a decoded LOGS_R independent of its frame: copy `data` into memory the message owns
 * (freed by wf_cmsg_fini), so the frame may go.  A no-op for an empty one.  Errors: EINVAL
 * (not a LOGS_R, or one that owns memory already). */
int wf_cmsg_keep_data(wf_cmsg_t *msg);

/*
 * Details of the functions above (added with proto/client.c):
 * - Versions: the client protocol has its own version, WF_CLIENT_VERSION_MIN..WF_CLIENT_VERSION,
 *   independent of the board protocol's WF_PROTO_VERSION (both are 1 today).  PONG carries it.
 *   GRAPH/GRAPH_R, STATUS's offset/limit, WHY's `where` (with WHY_R's worker and host) and
 *   LOGS/LOGS_R are compatible additions to version 1 (docs/protocol.md, C8): an older server
 *   answers them ERROR WEFT_EPROTO, and no reply changes for a client that does not ask.
 * - "None": SUBMIT's session, key and a job's pool, CANCEL/RETRY's job, and a job info's pool and
 *   cause are msgpack nil on the wire for "" in the struct (an empty str is rejected); an EVENT's
 *   job is the str "" for a request event (job_index WF_CLIENT_NO_JOB).
 * - STATUS has two forms: [req] (limit 0 in the struct) and [req, offset, limit] (limit
 *   1..WF_CLIENT_MAX_PAGE).  The encoder writes the short form exactly when limit is 0.
 * - WHY has two forms: [req, job] (where 0) and [req, job, 1] (where 1); WHY_R likewise
 *   [job, waiting_on] and [job, waiting_on, worker, host] (names or nil), written exactly when
 *   where is 1 (the decoder sets it from the form it read).
 * - EVENT: the encoder reads `event` (and requires corr 0); the decoder fills `event` and copies
 *   event.request, event.job and event.state into req, job and state.
 * - GRAPH_R: the decoder checks next <= total, nnodes <= next, and each node's needs: strictly
 *   ascending, below total, never the node's own index (next - nnodes + i).
 * - On a decode error *out is finalised except out->corr, which keeps the frame's corr when its
 *   4th element could be read as a uint (even for WEFT_EVERSION: the prefix is frozen), so the
 *   server can answer ERROR with it; else 0.  Errors also include WEFT_EINVAL (out NULL, or buf
 *   NULL with len > 0).  *out need not be initialised and what it held is not freed.
 *
 * Memory (the bound the issue asks for: no length field makes the decoder allocate more than a
 * small multiple of the bytes received):
 * - A decode makes at most ONE heap allocation, the message's block (owned_, owned_size_ bytes,
 *   freed by wf_cmsg_fini), sized exactly: a first pass validates the whole frame and adds up
 *   what its arrays and strings need without allocating; the second fills the block.
 * - owned_size_ <= WF_CLIENT_DECODE_FACTOR * len for every frame of len bytes, and never more
 *   than WF_MAX_CLIENT_DECODED (else WEFT_ETOOBIG).  Why 8: every array element takes at least
 *   one byte of the frame, strings are packed (L + 1 bytes for a str of L bytes, whose encoding
 *   takes at least L + 1), and the widest element per byte of its smallest encoding is a
 *   SUBMITTED warning: an 8-byte pointer for an empty text, 1 byte on the wire.  Every other
 *   kind stays under 6 (a SUBMIT job: 72 bytes + its strings for at least 16 on the wire; a job
 *   info 112 + strings for 23; a GRAPH_R node 32 + strings for 6).  client_proto_test checks it.
 * - A SUBMIT job's payload and LOGS_R's data are BORROWED from the decoded buffer (NULL when
 *   empty): keep the frame while the message is used.  Nothing else points into the frame.
 */
#define WF_CLIENT_VERSION 1
#define WF_CLIENT_VERSION_MIN 1
#define WF_CLIENT_MAX_WORKERS 65536u  /* workers in one WORKERS reply */
#define WF_CLIENT_MAX_WARNINGS 1024u  /* warnings in one SUBMITTED */
#define WF_CLIENT_NO_JOB UINT32_MAX   /* EVENT job index of a request event */
#define WF_CLIENT_TOPIC_LEN 8         /* PUB topic: the request id, 8 bytes big-endian */
#define WF_CLIENT_DECODE_FACTOR 8u    /* decoded block <= this many times the frame (above) */

/* Write the PUB topic of request `req` (8 bytes, big-endian) into topic. */
void wf_cmsg_topic(uint64_t req, uint8_t topic[WF_CLIENT_TOPIC_LEN]);
/* Read a topic frame back.  Errors: EPROTO (not exactly 8 bytes), EINVAL (NULL pointer). */
int wf_cmsg_topic_req(const uint8_t *buf, size_t len, uint64_t *req_p);

/* The largest client frame: a SUBMIT of a big workflow (256 MiB: 10^6 jobs with small payloads);
 * replies with job lists are bounded the same way. */
#define WF_MAX_CLIENT_MSG ((int64_t)256 << 20)

/* The most one decoded message may hold whatever its frame: a frame over 128 MiB could
 * otherwise decode to up to 2 GiB (8 times).  A 10^6-job SUBMIT with a few needs per job
 * decodes to ~150 MiB; 1 GiB leaves room. */
#define WF_MAX_CLIENT_DECODED ((size_t)1 << 30)

/* Jobs one page of STATUS or GRAPH lists at most (`limit`): a page of job infos is at most
 * ~13 MiB on the wire (two 512-byte texts each), typically ~2 MiB, so the server's loop never
 * spends long on one reply and a client pages through 10^6 jobs in 100 calls. */
#define WF_CLIENT_MAX_PAGE 10000u

/* GRAPH: the server ends a page early once its ids and needs reach this many bytes (a job with
 * 100,000 needs is ~500 KiB alone); a page always holds at least one job when any is left. */
#define WF_CLIENT_PAGE_BYTES ((size_t)4 << 20)

/* Jobs the short STATUS [req] lists (the first ones; what version 1 always did, less the
 * ERROR ETOOBIG it used to answer for bigger requests): clients that page use
 * [req, offset, limit]. */
#define WF_CLIENT_MAX_STATUS_JOBS 100000u

#endif
