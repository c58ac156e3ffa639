/*
 * proto.h -- the board protocol: messages between the board (ROUTER) and consumers (DEALER),
 * their msgpack encoding and a strict decoder.  docs/protocol.md is the contract; this file
 * implements exactly it.
 *
 * Every message is ONE ZeroMQ frame holding one msgpack array:
 *     [ "WEFT", version, kind, field... ]
 * The field list is fixed per kind (positional, exact msgpack types).  The decoder rejects
 * anything else: wrong signature, other version (WEFT_EVERSION, so the caller can answer with
 * an ERROR naming the supported range), unknown kind, wrong field count or type, an integer
 * out of range, a name with a character outside wf_name_ok(), a string or bytes over its limit,
 * nesting deeper than WF_MAX_DEPTH, a container whose header claims more elements than bytes
 * remain, and trailing bytes.  It reads the frame in place and allocates nothing but HELLO's
 * running[], after its entries are read: no length field can make it allocate more than
 * WF_MSG_DECODE_FACTOR times the size of the frame it was given.
 *
 * Knows nothing of the engine or the workers.  Thread-safe: no shared state.
 */
#ifndef WF_PROTO_H
#define WF_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wf_limits.h"

#define WF_PROTO_SIGNATURE "WEFT"
#define WF_PROTO_VERSION 1
#define WF_PROTO_VERSION_MIN 1 /* oldest version this build still speaks */

/* WELCOME ranges: a heartbeat at most hourly, and at most 100 missed ones before a peer is lost. */
#define WF_PROTO_MAX_HEARTBEAT_MS 3600000u
#define WF_PROTO_MAX_LIVENESS 100u

/* LOGREQ/LOGDATA: a log is read in chunks of at most 1 MiB, so a LOGDATA fits WF_MAX_WIRE_MSG
 * and a consumer's loop never reads more than that at once; offsets and sizes stay below 2^63
 * (an off_t). */
#define WF_PROTO_MAX_LOG_CHUNK (1u << 20)
#define WF_PROTO_MAX_LOG_OFFSET ((uint64_t)INT64_MAX)

typedef enum wf_msg_kind {
    /* consumer -> board */
    WF_MSG_HELLO = 1,     /* name, types, slots, prefetch, pid, host, running[]: (re-)register */
    WF_MSG_HEARTBEAT = 2, /* (both ways) no fields */
    WF_MSG_PROGRESS = 3,  /* req, idx, attempt, percent, message */
    WF_MSG_DONE = 4,      /* req, idx, attempt, result(bin) */
    WF_MSG_FAILED = 5,    /* req, idx, attempt, exit_code(int), message */
    WF_MSG_BYE = 6,       /* no fields: the consumer is leaving; its jobs go back to ready */
    WF_MSG_LOGDATA = 7,   /* corr, code, size, data(bin): the answer to a LOGREQ */
    /* board -> consumer */
    WF_MSG_WELCOME = 16,  /* heartbeat_ms, liveness */
    WF_MSG_JOB = 17,      /* req, idx, attempt, job id, type, payload(bin), timeout_ms */
    WF_MSG_CANCEL = 18,   /* req, idx, attempt: stop this attempt */
    WF_MSG_ACK = 19,      /* req, idx, attempt: the DONE/FAILED for it is durable */
    WF_MSG_ERROR = 20,    /* code (weft_err), message; the board then forgets the peer */
    WF_MSG_LOGREQ = 21,   /* corr, req, idx, attempt, job id, stream, offset, max: read a log */
} wf_msg_kind;

/* One attempt of one job: what every job-related message names. */
typedef struct wf_attempt_ref {
    uint64_t req;
    uint32_t idx;
    uint32_t attempt;
} wf_attempt_ref_t;

/*
 * A decoded message.  Strings are copied, NUL-terminated, into the arrays; `payload`, `result`,
 * `data` and `running` are BORROWED: they point into the buffer given to wf_msg_decode
 * (payload, result, data) or into storage owned by the message (running), valid until
 * wf_msg_fini and while that buffer lives.  Encoding reads the same struct; there pointers are
 * the caller's.
 */
typedef struct wf_msg {
    wf_msg_kind kind;
    wf_attempt_ref_t ref;                     /* PROGRESS DONE FAILED JOB CANCEL ACK */
    /* HELLO */
    char name[WF_MAX_NAME + 1];
    char host[WF_MAX_NAME + 1];
    uint32_t ntypes;                          /* types[0..ntypes) hold the names */
    uint32_t slots;                           /* 1..WF_MAX_SLOTS */
    uint32_t prefetch;                        /* 0..WF_MAX_SLOTS - slots: jobs it queues */
    uint32_t pid;
    uint32_t nrunning;
    wf_attempt_ref_t *running;                /* nrunning entries */
    /* PROGRESS */
    uint32_t percent;                         /* 0..100 */
    /* PROGRESS FAILED ERROR: message; JOB: job id in `job`, type in `type` */
    char message[WF_MAX_MESSAGE + 1];
    char job[WF_MAX_NAME + 1];
    char type[WF_MAX_NAME + 1];
    /* FAILED */
    int32_t exit_code;
    /* DONE */
    const uint8_t *result;
    uint32_t result_len;                      /* <= WF_MAX_RESULT */
    /* JOB */
    const uint8_t *payload;
    uint32_t payload_len;                     /* <= WF_MAX_PAYLOAD */
    uint32_t timeout_ms;                      /* 0 = none */
    /* WELCOME */
    uint32_t heartbeat_ms;
    uint32_t liveness;
    /* ERROR; LOGDATA (0 = the data is there) */
    uint32_t code;                            /* a weft_err */
    /* LOGREQ LOGDATA: a read of one attempt's log, which the board relays for a client */
    uint64_t corr;                            /* the board's number for the read, echoed */
    char stream[4];                           /* LOGREQ: "out" or "err" */
    uint32_t max;                             /* LOGREQ: bytes wanted, 1..WF_PROTO_MAX_LOG_CHUNK */
    uint64_t offset;                          /* LOGREQ: the first byte wanted */
    uint64_t size;                            /* LOGDATA: the log's size so far (0: none) */
    const uint8_t *data;                      /* LOGDATA: borrowed, data_len bytes from offset */
    uint32_t data_len;                        /* <= WF_PROTO_MAX_LOG_CHUNK; 0 unless code is 0 */
    /* internal: storage owned by the message (freed by wf_msg_fini) */
    void *owned_;
    /* HELLO: last and not cleared by wf_msg_init (8 KiB): only [0, ntypes) is ever read */
    char types[WF_MAX_TYPES][WF_MAX_NAME + 1];
} wf_msg_t;

/* Zero a message and set its kind. */
void
wf_msg_init(wf_msg_t *msg, wf_msg_kind kind);

/* Free what a decoded message owns; the struct may be reused.  Accepts a zeroed message. */
void
wf_msg_fini(wf_msg_t *msg);

/*
 * Encode `msg` into a new heap buffer (*buf_p, *len_p; free() it).  The caller fills the fields
 * its kind uses.  Errors: WEFT_EINVAL (unknown kind, bad name), WEFT_ETOOBIG (over a limit).
 */
int
wf_msg_encode(const wf_msg_t *msg, uint8_t **buf_p, size_t *len_p);

/*
 * Decode one frame strictly.  On WEFT_OK *out is filled (call wf_msg_fini later).  On error
 * *out is left finalised and, if why is not NULL, a short reason ("truncated", "field 4: name
 * has a bad character", ...) is written to why (why_len bytes, NUL-terminated).
 * Errors: WEFT_EPROTO (malformed), WEFT_EVERSION (good signature, unsupported version),
 *         WEFT_ETOOBIG (a string, bytes or count over its limit, or len > WF_MAX_WIRE_MSG),
 *         WEFT_EINVAL (out is NULL, or buf is NULL with len > 0).
 * *out need not be initialised, and what it held is not freed: fini a decoded message first.
 */
int
wf_msg_decode(const uint8_t *buf, size_t len, wf_msg_t *out, char *why, size_t why_len);

/*
 * What a decode may allocate: only a HELLO's running[] (owned_, nrunning entries of 16 bytes),
 * made after every entry has been read, and each entry takes at least 4 bytes of the frame
 * ([req, idx, attempt] with one-byte ints), so a decode of a frame of len bytes allocates at
 * most WF_MSG_DECODE_FACTOR * len bytes, and nothing at all for any other kind or on an error.
 * wf_msg_decoded_size is what a decoded message holds on the heap (0 when it owns nothing).
 */
#define WF_MSG_DECODE_FACTOR 4u

size_t
wf_msg_decoded_size(const wf_msg_t *msg);

/* The message kind's name ("HELLO", ...), or "UNKNOWN". */
const char *
wf_msg_kind_name(int kind);

/* True if s (len bytes) is a valid name: 1..WF_MAX_NAME bytes of [A-Za-z0-9_.:-]. */
bool
wf_name_ok(const char *s, size_t len);

/*
 * Check that buf holds exactly one well-formed msgpack object with every container count no
 * larger than the bytes left and nesting at most max_depth.  Run before anything reads a frame
 * or a record (both wire decoders, and the store before msgpack-c's unpacker, which allocates
 * from header counts).  Never allocates.
 */
bool
wf_msgpack_safe(const uint8_t *buf, size_t len, int max_depth);

/* The same check, saying why: NULL when safe, else the first problem ("truncated", "trailing
 * bytes", "array count exceeds bytes", "nesting too deep", ...). */
const char *
wf_msgpack_check(const uint8_t *buf, size_t len, int max_depth);

#endif
