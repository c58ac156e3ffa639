/*
 * client.c -- encode and strictly decode the client protocol's messages (see client.h and the
 * "Client protocol" section of docs/protocol.md).
 *
 * The protocol is data, as in proto.c: each message kind, and each nested record (a SUBMIT's
 * job, a request info, a job info, a worker, a GRAPH_R node), is a schema: a list of positional
 * fields with their type, range and place in a C struct.  Encoder and decoder walk the same
 * schemas and share one checker per rule, so whatever the encoder writes the decoder accepts and
 * whatever the decoder accepts the encoder writes again, byte for byte (the fuzz target checks
 * this).  Field numbers in error texts are 1-based positions in their msgpack array (for a
 * message: 1 = signature, 2 = version, 3 = kind, 4 = corr, 5 = first field); nested ones form a
 * path ("SUBMIT field 9 (jobs): job 3: field 4 (needs): need 2: name has a bad character").
 *
 * Untrusted input: frames are up to WF_MAX_CLIENT_MSG (256 MiB), so this file does not hand the
 * frame to msgpack-c's object unpacker, whose zone costs 24 bytes per element (6 GiB for a
 * frame of one-byte elements).  wf_msgpack_check() first proves the frame is one well-formed
 * value whose every count is backed by bytes; then a cursor (mp_reader.h, shared with proto.c)
 * reads it in place, twice: the first pass checks every rule and adds up what the arrays and
 * strings need, allocating nothing (array elements are decoded into a scratch record); the
 * second fills one block of exactly that size.  Strings inside arrays are packed into the
 * block (L + 1 bytes for a str of L bytes, which takes at least L + 1 on the wire) and records
 * are compact (strings by pointer), so the block is at most WF_CLIENT_DECODE_FACTOR (8) times
 * the frame: see client.h.
 * Section order inside the block -- 8-byte-aligned arrays, then uint32 arrays, then strings --
 * keeps alignment free of padding.  Names and texts that are fields of the message itself (or
 * of STATUS_R's info and WHY_R's job) are copied into its fixed arrays and cost no heap.
 *
 * Workload: every client request, reply and event goes through here; the large ones are a
 * SUBMIT of up to 2*10^6 jobs and the pages of STATUS_R and GRAPH_R.  Decoding costs two
 * passes over the frame.  No shared state: any thread may call any function.
 */
#include "client.h"
#include "codec_field.h"
#include "mp_reader.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(WF_CLIENT_VERSION_MIN == WF_CLIENT_VERSION,
               "the decoder knows one schema table; give each version its own before widening");
/* Enum and int fields of the public structs are stored through 4-byte copies. */
_Static_assert(sizeof(weft_job_state) == 4 && sizeof(weft_req_state) == 4 &&
                   sizeof(weft_reason) == 4 && sizeof(weft_when) == 4 && sizeof(int) == 4,
               "enum fields are assumed to be 4 bytes");
/* The block's first section holds records and pointer arrays back to back: every record size
 * must keep the next one 8-byte aligned.  The sizes are also what the factor of 8 rests on. */
_Static_assert(sizeof(wf_cjob_t) % 8 == 0 && sizeof(wf_creqinfo_t) % 8 == 0 &&
                   sizeof(wf_cjobinfo_t) % 8 == 0 && sizeof(wf_cworker_t) % 8 == 0 &&
                   sizeof(wf_cnode_t) % 8 == 0 && sizeof(const char *) == 8 &&
                   _Alignof(max_align_t) >= 8,
               "compact records are multiples of 8 bytes on an LP64 target");
_Static_assert(sizeof(wf_cjob_t) <= 72 && sizeof(wf_creqinfo_t) <= 80 &&
                   sizeof(wf_cjobinfo_t) <= 112 && sizeof(wf_cworker_t) <= 48 &&
                   sizeof(wf_cnode_t) <= 32,
               "a compact record grew: recheck WF_CLIENT_DECODE_FACTOR (client.h)");

#define S_STR(x) #x
#define S_XSTR(x) S_STR(x)

/* ---- the protocol as data ---------------------------------------------------------------- */

typedef enum s_ftype {
    FT_UINT,      /* uint in [lo, hi], stored in `size` bytes (4 or 8) */
    FT_INT,       /* int of either sign in [slo, shi], stored in `size` bytes (4 or 8) */
    FT_NAME,      /* a name (wf_name_ok) -> char[WF_MAX_NAME + 1] */
    FT_NAME_OPT,  /* nil or a name; nil <-> "" */
    FT_NAME_EV,   /* a str that is "" or a name (EVENT's job) */
    FT_TEXT,      /* str of 0..WF_MAX_MESSAGE bytes without NUL -> char[WF_MAX_MESSAGE + 1] */
    FT_PNAME,     /* a name -> const char * (into the block) */
    FT_PNAME_OPT, /* nil or a name -> const char *; nil <-> "" (NULL too when encoding) */
    FT_PTEXT,     /* a text -> const char * ("" for empty; NULL is "" when encoding) */
    FT_BIN,       /* bin of 0..hi bytes, borrowed: pointer at off, uint32_t length at cnt */
    FT_NAMES,     /* array of lo..hi names: const char ** at off, uint32_t count at cnt */
    FT_TEXTS,     /* array of lo..hi texts: const char ** at off, count at cnt */
    FT_U32S,      /* array of lo..hi uints 0..size: uint32_t * at off, count at cnt */
    FT_POOLS,     /* array of 0..WF_MAX_POOLS [name, limit 1..2^32-1]: a SUBMIT's pools */
    FT_COUNTS,    /* array of exactly WEFT_JOB_STATE_COUNT_ uints 0..hi: uint32_t[] at off */
    FT_RECORD,    /* one nested record (sub) stored in place at off */
    FT_RECORDS,   /* array of lo..hi records (sub), `size` bytes each: pointer at off, count cnt */
    FT_MODE,      /* one of the board modes -> char[16] */
    FT_VERSION,   /* str of 1..31 printable ASCII bytes (0x21..0x7e) -> char[32] */
    FT_STREAM,    /* str "out" or "err" (a log stream) -> char[4] */
} s_ftype;

typedef struct s_schema s_schema_t;

typedef struct s_field {
    const char *what; /* for error texts */
    s_ftype type;
    size_t off;       /* where the value (or the array's pointer) is in the base struct */
    size_t cnt;       /* FT_BIN: the length; arrays: the uint32_t count */
    size_t size;      /* FT_UINT/FT_INT: bytes of the stored integer; FT_RECORDS: element size;
                       * FT_U32S: the largest element value */
    uint64_t lo, hi;  /* FT_UINT: range; arrays: count range; FT_BIN: hi = max bytes */
    int64_t slo, shi; /* FT_INT: range */
    const s_schema_t *sub; /* FT_RECORD(S) */
    const char *item; /* arrays: what one element is called in error texts */
} s_field_t;

struct s_schema {
    const char *name;
    const s_field_t *fields;
    uint32_t nfields;
};

#define F_U(T, w, m, l, h) \
    { w, FT_UINT, offsetof(T, m), 0, sizeof(((T *)0)->m), (l), (h), 0, 0, NULL, NULL }
#define F_I(T, w, m, l, h) \
    { w, FT_INT, offsetof(T, m), 0, sizeof(((T *)0)->m), 0, 0, (l), (h), NULL, NULL }
#define F_S(T, ty, w, m) { w, ty, offsetof(T, m), 0, 0, 0, 0, 0, 0, NULL, NULL }
#define F_BIN(T, w, m, len, max) \
    { w, FT_BIN, offsetof(T, m), offsetof(T, len), 0, 0, (max), 0, 0, NULL, NULL }
#define F_ARR(T, ty, w, m, n, l, h, it) \
    { w, ty, offsetof(T, m), offsetof(T, n), 0, (l), (h), 0, 0, NULL, it }
#define F_U32S(T, w, m, n, l, h, max, it) \
    { w, FT_U32S, offsetof(T, m), offsetof(T, n), (max), (l), (h), 0, 0, NULL, it }
#define F_REC(T, w, m, sc) \
    { w, FT_RECORD, offsetof(T, m), 0, sizeof(((T *)0)->m), 0, 0, 0, 0, &sc, NULL }
#define F_RECS(T, w, m, n, et, l, h, sc, it) \
    { w, FT_RECORDS, offsetof(T, m), offsetof(T, n), sizeof(et), (l), (h), 0, 0, &sc, it }
#define S_SCHEMA(nm, f) { nm, f, sizeof(f) / sizeof(f[0]) }

/* [id, type, payload, needs, retries, lost_retries, retry_delay_ms, timeout_ms, priority, pool,
 *  when] */
static const s_field_t s_cjob_f[] = {
    F_S(wf_cjob_t, FT_PNAME, "id", id),
    F_S(wf_cjob_t, FT_PNAME, "type", type),
    F_BIN(wf_cjob_t, "payload", payload, payload_len, WF_MAX_PAYLOAD),
    F_ARR(wf_cjob_t, FT_NAMES, "needs", needs, nneeds, 0, WF_MAX_NEEDS_PER_JOB, "need"),
    F_U(wf_cjob_t, "retries", retries, 0, WF_MAX_RETRIES),
    F_U(wf_cjob_t, "lost_retries", lost_retries, 0, WF_MAX_RETRIES),
    F_U(wf_cjob_t, "retry_delay_ms", retry_delay_ms, 0, WF_MAX_RETRY_DELAY_MS),
    F_U(wf_cjob_t, "timeout_ms", timeout_ms, 0, WF_MAX_TIMEOUT_MS),
    F_I(wf_cjob_t, "priority", priority, INT32_MIN, INT32_MAX),
    F_S(wf_cjob_t, FT_PNAME_OPT, "pool", pool),
    F_U(wf_cjob_t, "when", when, 0, WEFT_WHEN_COUNT_ - 1),
};
static const s_schema_t s_cjob = S_SCHEMA("job", s_cjob_f);

/* [id, name, session, state, njobs, counts, created_ms, finished_ms]: one list for the public
 * struct (strings in arrays) and the compact one (strings by pointer); member names match. */
#define S_REQINFO_FIELDS(T, NM)                                                                 \
    {                                                                                          \
        F_U(T, "id", id, 1, UINT64_MAX), F_S(T, NM, "name", name),                             \
            F_S(T, NM, "session", session),                                                    \
            F_U(T, "state", state, 0, WEFT_REQ_STATE_COUNT_ - 1),                              \
            F_U(T, "njobs", njobs, 0, WF_MAX_JOBS_PER_REQUEST),                                \
            { "counts", FT_COUNTS, offsetof(T, count), 0, 0, 0, WF_MAX_JOBS_PER_REQUEST, 0, 0, \
              NULL, NULL },                                                                    \
            F_I(T, "created_ms", created_ms, INT64_MIN, INT64_MAX),                            \
            F_I(T, "finished_ms", finished_ms, INT64_MIN, INT64_MAX),                          \
    }
static const s_field_t s_reqinfo_f[] = S_REQINFO_FIELDS(weft_request_info_t, FT_NAME);
static const s_schema_t s_reqinfo = S_SCHEMA("request info", s_reqinfo_f);
static const s_field_t s_creqinfo_f[] = S_REQINFO_FIELDS(wf_creqinfo_t, FT_PNAME);
static const s_schema_t s_creqinfo = S_SCHEMA("request info", s_creqinfo_f);

/* [index, id, type, pool, state, reason, when, priority, attempts, failures, lost, retries,
 *  lost_retries, exit_code, cause, progress, progress_msg, error, started_ms, finished_ms] */
#define S_JOBINFO_FIELDS(T, NM, NMOPT, TX)                                                      \
    {                                                                                          \
        F_U(T, "index", index, 0, WF_MAX_JOBS_PER_REQUEST - 1), F_S(T, NM, "id", id),          \
            F_S(T, NM, "type", type), F_S(T, NMOPT, "pool", pool),                             \
            F_U(T, "state", state, 0, WEFT_JOB_STATE_COUNT_ - 1),                              \
            F_U(T, "reason", reason, 0, WEFT_REASON_COUNT_ - 1),                               \
            F_U(T, "when", when, 0, WEFT_WHEN_COUNT_ - 1),                                     \
            F_I(T, "priority", priority, INT32_MIN, INT32_MAX),                                \
            F_U(T, "attempts", attempts, 0, UINT32_MAX),                                       \
            F_U(T, "failures", failures, 0, UINT32_MAX), F_U(T, "lost", lost, 0, UINT32_MAX),  \
            F_U(T, "retries", retries, 0, WF_MAX_RETRIES),                                     \
            F_U(T, "lost_retries", lost_retries, 0, WF_MAX_RETRIES),                           \
            F_I(T, "exit_code", exit_code, INT32_MIN, INT32_MAX),                              \
            F_S(T, NMOPT, "cause", cause), F_U(T, "progress", progress, 0, 100),               \
            F_S(T, TX, "progress_msg", progress_msg), F_S(T, TX, "error", error),              \
            F_I(T, "started_ms", started_ms, INT64_MIN, INT64_MAX),                            \
            F_I(T, "finished_ms", finished_ms, INT64_MIN, INT64_MAX),                          \
    }
static const s_field_t s_jobinfo_f[] =
    S_JOBINFO_FIELDS(weft_job_info_t, FT_NAME, FT_NAME_OPT, FT_TEXT);
static const s_schema_t s_jobinfo = S_SCHEMA("job info", s_jobinfo_f);
static const s_field_t s_cjobinfo_f[] =
    S_JOBINFO_FIELDS(wf_cjobinfo_t, FT_PNAME, FT_PNAME_OPT, FT_PTEXT);
static const s_schema_t s_cjobinfo = S_SCHEMA("job info", s_cjobinfo_f);

/* [name, host, pid, types, slots, running, idle_ms] */
static const s_field_t s_worker_f[] = {
    F_S(wf_cworker_t, FT_PNAME, "name", name),
    F_S(wf_cworker_t, FT_PNAME, "host", host),
    F_U(wf_cworker_t, "pid", pid, 0, UINT32_MAX),
    F_ARR(wf_cworker_t, FT_NAMES, "types", types, ntypes, 1, WF_MAX_TYPES, "type"),
    F_U(wf_cworker_t, "slots", slots, 1, WF_MAX_SLOTS),
    F_U(wf_cworker_t, "running", running, 0, WF_MAX_SLOTS),
    F_U(wf_cworker_t, "idle_ms", idle_ms, 0, UINT32_MAX),
};
static const s_schema_t s_worker = S_SCHEMA("worker", s_worker_f);

/* [id, state, when, needs]: needs against total and the node's index are checked in s_cross. */
static const s_field_t s_cnode_f[] = {
    F_S(wf_cnode_t, FT_PNAME, "id", id),
    F_U(wf_cnode_t, "state", state, 0, WEFT_JOB_STATE_COUNT_ - 1),
    F_U(wf_cnode_t, "when", when, 0, WEFT_WHEN_COUNT_ - 1),
    F_U32S(wf_cnode_t, "needs", needs, nneeds, 0, WF_MAX_NEEDS_PER_JOB,
           WF_MAX_JOBS_PER_REQUEST - 1, "need"),
};
static const s_schema_t s_cnode = S_SCHEMA("job", s_cnode_f);

/* Message fields (positions 5...), relative to wf_cmsg_t. */
#define M_REQ F_U(wf_cmsg_t, "req", req, 1, UINT64_MAX)
#define M_OFFSET F_U(wf_cmsg_t, "offset", offset, 0, WF_MAX_JOBS_PER_REQUEST)
#define M_LIMIT F_U(wf_cmsg_t, "limit", limit, 1, WF_CLIENT_MAX_PAGE)

static const s_field_t s_submit_f[] = {
    F_S(wf_cmsg_t, FT_NAME, "name", submit.name),
    F_S(wf_cmsg_t, FT_NAME_OPT, "session", submit.session),
    F_S(wf_cmsg_t, FT_NAME_OPT, "key", submit.key),
    { "pools", FT_POOLS, 0, 0, 0, 0, WF_MAX_POOLS, 0, 0, NULL, "pool" },
    F_RECS(wf_cmsg_t, "jobs", submit.jobs, submit.njobs, wf_cjob_t, 1, WF_MAX_JOBS_PER_REQUEST,
           s_cjob, "job"),
};
static const s_field_t s_req_only_f[] = { M_REQ };
/* STATUS: offset and limit are an optional pair (s_kind_t.nopt). */
static const s_field_t s_req_page_f[] = { M_REQ, M_OFFSET, M_LIMIT };
static const s_field_t s_req_optjob_f[] = { M_REQ, F_S(wf_cmsg_t, FT_NAME_OPT, "job", job) };
/* WHY: `where` is an optional field (s_kind_t.nopt), 1 when present. */
static const s_field_t s_why_f[] = {
    M_REQ,
    F_S(wf_cmsg_t, FT_NAME, "job", job),
    F_U(wf_cmsg_t, "where", where, 1, 1),
};
/* LOGS: one chunk of one attempt's log, relayed by the server from the worker that ran it. */
static const s_field_t s_logs_f[] = {
    M_REQ,
    F_U(wf_cmsg_t, "index", index, 0, WF_MAX_JOBS_PER_REQUEST - 1),
    F_U(wf_cmsg_t, "attempt", attempt, 0, UINT32_MAX),
    F_S(wf_cmsg_t, FT_STREAM, "stream", stream),
    F_U(wf_cmsg_t, "offset", log_offset, 0, WF_PROTO_MAX_LOG_OFFSET),
    F_U(wf_cmsg_t, "max", max, 1, WF_PROTO_MAX_LOG_CHUNK),
};
static const s_field_t s_logs_r_f[] = {
    F_U(wf_cmsg_t, "size", size, 0, WF_PROTO_MAX_LOG_OFFSET),
    F_U(wf_cmsg_t, "offset", log_offset, 0, WF_PROTO_MAX_LOG_OFFSET),
    F_BIN(wf_cmsg_t, "data", data, data_len, WF_PROTO_MAX_LOG_CHUNK),
};
static const s_field_t s_error_f[] = {
    F_U(wf_cmsg_t, "code", code, 1, WEFT_ERR_COUNT_ - 1),
    F_S(wf_cmsg_t, FT_TEXT, "message", message),
};
static const s_field_t s_submitted_f[] = {
    M_REQ,
    F_ARR(wf_cmsg_t, FT_TEXTS, "warnings", warnings, nwarnings, 0, WF_CLIENT_MAX_WARNINGS,
          "warning"),
};
static const s_field_t s_status_r_f[] = {
    F_REC(wf_cmsg_t, "info", info, s_reqinfo),
    F_RECS(wf_cmsg_t, "jobs", cjobs, njobs, wf_cjobinfo_t, 0, WF_MAX_JOBS_PER_REQUEST,
           s_cjobinfo, "job"),
};
static const s_field_t s_list_r_f[] = {
    F_RECS(wf_cmsg_t, "requests", reqs, nreqs, wf_creqinfo_t, 0, UINT32_MAX, s_creqinfo,
           "request"),
};
static const s_field_t s_finished_f[] = {
    M_REQ,
    F_U(wf_cmsg_t, "state", state, WEFT_REQ_SUCCEEDED, WEFT_REQ_STATE_COUNT_ - 1),
};
static const s_field_t s_workers_r_f[] = {
    F_RECS(wf_cmsg_t, "workers", workers, nworkers, wf_cworker_t, 0, WF_CLIENT_MAX_WORKERS,
           s_worker, "worker"),
};
static const s_field_t s_board_f[] = {
    F_S(wf_cmsg_t, FT_MODE, "mode", mode),
    F_U(wf_cmsg_t, "running", running, 0, UINT32_MAX),
};
/* WHY_R: worker and host are an optional pair (s_kind_t.nopt), present when WHY asked. */
static const s_field_t s_why_r_f[] = {
    F_REC(wf_cmsg_t, "job", jobinfo, s_jobinfo),
    F_ARR(wf_cmsg_t, FT_NAMES, "waiting_on", waiting, nwaiting, 0, WF_MAX_NEEDS_PER_JOB, "job"),
    F_S(wf_cmsg_t, FT_NAME_OPT, "worker", jobinfo.worker),
    F_S(wf_cmsg_t, FT_NAME_OPT, "host", jobinfo.host),
};
static const s_field_t s_pong_f[] = {
    F_S(wf_cmsg_t, FT_VERSION, "version", version),
    F_U(wf_cmsg_t, "proto_min", proto_min, 1, UINT32_MAX),
    F_U(wf_cmsg_t, "proto_max", proto_max, 1, UINT32_MAX),
};
static const s_field_t s_graph_r_f[] = {
    F_U(wf_cmsg_t, "total", total, 0, WF_MAX_JOBS_PER_REQUEST),
    F_U(wf_cmsg_t, "next", next, 0, WF_MAX_JOBS_PER_REQUEST),
    F_RECS(wf_cmsg_t, "jobs", nodes, nnodes, wf_cnode_t, 0, WF_CLIENT_MAX_PAGE, s_cnode, "job"),
};
/* The job index's range and the state's depend on whether it is a request event: s_cross(). */
static const s_field_t s_event_f[] = {
    F_U(wf_cmsg_t, "req", event.request, 1, UINT64_MAX),
    F_U(wf_cmsg_t, "job_index", event.job_index, 0, UINT32_MAX),
    F_S(wf_cmsg_t, FT_NAME_EV, "job", event.job),
    F_U(wf_cmsg_t, "state", event.state, 0, WEFT_JOB_STATE_COUNT_ - 1),
    F_U(wf_cmsg_t, "reason", event.reason, 0, WEFT_REASON_COUNT_ - 1),
    F_U(wf_cmsg_t, "attempt", event.attempt, 0, UINT32_MAX),
    F_U(wf_cmsg_t, "progress", event.progress, 0, 100),
    F_I(wf_cmsg_t, "time_ms", event.time_ms, INT64_MIN, INT64_MAX),
};

typedef struct s_kind {
    const char *name;
    const s_field_t *fields;
    uint32_t nfields;
    uint32_t nopt;  /* the last nopt fields are one optional group: all there or none (STATUS's
                     * offset and limit, present in the struct exactly when limit != 0; WHY's
                     * where and WHY_R's worker and host, exactly when where != 0) */
    bool corr_zero; /* EVENT: nobody asked, so there is no corr */
} s_kind_t;

#define K(nm, f) { nm, f, sizeof(f) / sizeof(f[0]), 0, false }
#define K0(nm) { nm, NULL, 0, 0, false }
static const s_kind_t s_kinds[] = {
    [WF_CMSG_SUBMIT] = K("SUBMIT", s_submit_f),
    [WF_CMSG_STATUS] = { "STATUS", s_req_page_f, 3, 2, false },
    [WF_CMSG_LIST] = K0("LIST"),
    [WF_CMSG_CANCEL] = K("CANCEL", s_req_optjob_f),
    [WF_CMSG_RETRY] = K("RETRY", s_req_optjob_f),
    [WF_CMSG_WAIT] = K("WAIT", s_req_only_f),
    [WF_CMSG_WORKERS] = K0("WORKERS"),
    [WF_CMSG_PAUSE] = K0("PAUSE"),
    [WF_CMSG_RESUME] = K0("RESUME"),
    [WF_CMSG_DRAIN] = K0("DRAIN"),
    [WF_CMSG_WHY] = { "WHY", s_why_f, 3, 1, false },
    [WF_CMSG_PING] = K0("PING"),
    [WF_CMSG_GRAPH] = K("GRAPH", s_req_page_f),
    [WF_CMSG_LOGS] = K("LOGS", s_logs_f),
    [WF_CMSG_OK] = K0("OK"),
    [WF_CMSG_ERROR] = K("ERROR", s_error_f),
    [WF_CMSG_SUBMITTED] = K("SUBMITTED", s_submitted_f),
    [WF_CMSG_STATUS_R] = K("STATUS_R", s_status_r_f),
    [WF_CMSG_LIST_R] = K("LIST_R", s_list_r_f),
    [WF_CMSG_FINISHED] = K("FINISHED", s_finished_f),
    [WF_CMSG_WORKERS_R] = K("WORKERS_R", s_workers_r_f),
    [WF_CMSG_BOARD] = K("BOARD", s_board_f),
    [WF_CMSG_WHY_R] = { "WHY_R", s_why_r_f, 4, 2, false },
    [WF_CMSG_PONG] = K("PONG", s_pong_f),
    [WF_CMSG_GRAPH_R] = K("GRAPH_R", s_graph_r_f),
    [WF_CMSG_LOGS_R] = K("LOGS_R", s_logs_r_f),
    [WF_CMSG_EVENT] = { "EVENT", s_event_f, sizeof(s_event_f) / sizeof(s_event_f[0]), 0, true },
};
#define S_NKINDS (sizeof(s_kinds) / sizeof(s_kinds[0]))
#define S_PREFIX 4 /* signature, version, kind, corr */

static const char *const s_modes[] = { "running", "paused", "draining", "stopped" };

/* What "none" and the empty text decode to: never freed, never written. */
static const char s_empty[] = "";

static const s_kind_t *
s_kind(uint64_t kind)
{
    if (kind >= S_NKINDS || !s_kinds[kind].name)
        return NULL;
    return &s_kinds[kind];
}

const char *
wf_cmsg_kind_name(int kind)
{
    const s_kind_t *k = kind >= 0 ? s_kind((uint64_t)kind) : NULL;
    return k ? k->name : "UNKNOWN";
}

/* Fields the encoder writes for msg: an optional group only when the struct says it is there
 * (STATUS: a limit; WHY and WHY_R: where). */
static uint32_t
s_nfields_of(const s_kind_t *k, const wf_cmsg_t *msg)
{
    bool present = msg->kind == WF_CMSG_STATUS ? msg->limit != 0 : msg->where != 0;
    return k->nopt && !present ? k->nfields - k->nopt : k->nfields;
}

/* ---- storage ----------------------------------------------------------------------------- */

void
wf_cmsg_init(wf_cmsg_t *msg, wf_cmsg_kind kind)
{
    memset(msg, 0, sizeof *msg);
    msg->kind = kind;
}

void
wf_cmsg_fini(wf_cmsg_t *msg)
{
    if (!msg)
        return;
    free(msg->owned_);
    /* Zero everything so a finalised message holds no pointer into freed or foreign memory. */
    memset(msg, 0, sizeof *msg);
}

size_t
wf_cmsg_decoded_size(const wf_cmsg_t *msg)
{
    return msg && msg->owned_ ? msg->owned_size_ : 0;
}

int
wf_cmsg_keep_data(wf_cmsg_t *msg)
{
    if (!msg || msg->kind != WF_CMSG_LOGS_R || msg->owned_ || (msg->data_len && !msg->data))
        return WEFT_EINVAL;
    if (msg->data_len == 0)
        return WEFT_OK;
    /* A LOGS_R's decode allocates nothing: the copy becomes its one block. */
    uint8_t *copy = malloc(msg->data_len);
    if (!copy)
        abort(); /* OOM policy (STYLE 2.4); at most WF_PROTO_MAX_LOG_CHUNK */
    memcpy(copy, msg->data, msg->data_len);
    msg->data = copy;
    msg->owned_ = copy;
    msg->owned_size_ = msg->data_len;
    return WEFT_OK;
}

/* ---- topics ------------------------------------------------------------------------------ */

void
wf_cmsg_topic(uint64_t req, uint8_t topic[WF_CLIENT_TOPIC_LEN])
{
    for (int i = 0; i < WF_CLIENT_TOPIC_LEN; i++)
        topic[i] = (uint8_t)(req >> (56 - 8 * i));
}

int
wf_cmsg_topic_req(const uint8_t *buf, size_t len, uint64_t *req_p)
{
    if (!buf || !req_p)
        return WEFT_EINVAL;
    if (len != WF_CLIENT_TOPIC_LEN)
        return WEFT_EPROTO;
    uint64_t v = 0;
    for (int i = 0; i < WF_CLIENT_TOPIC_LEN; i++)
        v = (v << 8) | buf[i];
    *req_p = v;
    return WEFT_OK;
}

/* ---- field access ------------------------------------------------------------------------ */

static uint64_t
s_get_u(const void *base, const s_field_t *f)
{
    return wf_field_get_u(base, f->off, f->size);
}

static void
s_set_u(void *base, const s_field_t *f, uint64_t v)
{
    wf_field_set_u(base, f->off, f->size, v);
}

static int64_t
s_get_i(const void *base, const s_field_t *f)
{
    return wf_field_get_i(base, f->off, f->size);
}

static void
s_set_i(void *base, const s_field_t *f, int64_t v)
{
    wf_field_set_i(base, f->off, f->size, v);
}

static void *
s_get_ptr(const void *base, size_t off)
{
    void *p;
    memcpy(&p, (const char *)base + off, sizeof p);
    return p;
}

static void
s_set_ptr(void *base, size_t off, const void *p)
{
    memcpy((char *)base + off, &p, sizeof p);
}

static uint32_t
s_get_cnt(const void *base, size_t off)
{
    uint32_t n;
    memcpy(&n, (const char *)base + off, sizeof n);
    return n;
}

static void
s_set_cnt(void *base, size_t off, uint32_t n)
{
    memcpy((char *)base + off, &n, sizeof n);
}

/* ---- views between the compact records and the public ones ------------------------------ */

/* A record's public and compact schemas come from one field list (S_REQINFO_FIELDS,
 * S_JOBINFO_FIELDS) whose strings are arrays in one and pointers in the other, so field i of
 * one is field i of the other: integers are copied by their sizes, strings copied into the
 * public arrays or borrowed from them.  A field added to the list converts with it. */
_Static_assert(sizeof s_reqinfo_f == sizeof s_creqinfo_f &&
                   sizeof s_jobinfo_f == sizeof s_cjobinfo_f,
               "the public and compact schemas of a record go field by field");

static void
s_convert(const s_schema_t *from, const void *in, const s_schema_t *to, void *out)
{
    for (uint32_t i = 0; i < from->nfields; i++) {
        const s_field_t *a = &from->fields[i], *b = &to->fields[i];
        switch (a->type) {
        case FT_UINT:
            s_set_u(out, b, s_get_u(in, a));
            break;
        case FT_INT:
            s_set_i(out, b, s_get_i(in, a));
            break;
        case FT_COUNTS:
            memcpy((char *)out + b->off, (const char *)in + a->off,
                   WEFT_JOB_STATE_COUNT_ * sizeof(uint32_t));
            break;
        case FT_PNAME:
        case FT_PNAME_OPT:
        case FT_PTEXT: { /* compact -> public: a copy */
            const char *src = s_get_ptr(in, a->off);
            size_t cap = b->type == FT_TEXT ? WF_MAX_MESSAGE + 1 : WF_MAX_NAME + 1;
            snprintf((char *)out + b->off, cap, "%s", src ? src : "");
            break;
        }
        case FT_NAME:
        case FT_NAME_OPT:
        case FT_TEXT: /* public -> compact: borrowed */
            s_set_ptr(out, b->off, (const char *)in + a->off);
            break;
        default: /* a type the info lists do not use: convert it here before using it */
            abort();
        }
    }
}

void
wf_creqinfo_expand(const wf_creqinfo_t *in, weft_request_info_t *out)
{
    memset(out, 0, sizeof *out);
    s_convert(&s_creqinfo, in, &s_reqinfo, out);
}

void
wf_creqinfo_view(const weft_request_info_t *in, wf_creqinfo_t *out)
{
    memset(out, 0, sizeof *out);
    s_convert(&s_reqinfo, in, &s_creqinfo, out);
}

/* waiting_on, result_len, fingerprint, worker and host are not in the compact record: 0. */
void
wf_cjobinfo_expand(const wf_cjobinfo_t *in, weft_job_info_t *out)
{
    memset(out, 0, sizeof *out);
    s_convert(&s_cjobinfo, in, &s_jobinfo, out);
}

void
wf_cjobinfo_view(const weft_job_info_t *in, wf_cjobinfo_t *out)
{
    memset(out, 0, sizeof *out);
    s_convert(&s_jobinfo, in, &s_cjobinfo, out);
}

/* ---- the rules shared by encoder and decoder --------------------------------------------- */
/* Each returns WEFT_OK, WEFT_EPROTO (the encoder says EINVAL) or WEFT_ETOOBIG, and a reason.
 * Names and texts are checked by codec_field.h, as the board protocol's are. */

static int
s_check_mode(const char *s, size_t len, const char **why)
{
    for (size_t i = 0; i < sizeof s_modes / sizeof s_modes[0]; i++)
        if (len == strlen(s_modes[i]) && memcmp(s, s_modes[i], len) == 0)
            return WEFT_OK;
    *why = "not running, paused, draining or stopped";
    return WEFT_EPROTO;
}

static int
s_check_stream(const char *s, size_t len, const char **why)
{
    if (len == 3 && (memcmp(s, "out", 3) == 0 || memcmp(s, "err", 3) == 0))
        return WEFT_OK;
    *why = "not \"out\" or \"err\"";
    return WEFT_EPROTO;
}

#define S_VERSION_MAX (sizeof(((wf_cmsg_t *)0)->version) - 1)

static int
s_check_version(const char *s, size_t len, const char **why)
{
    if (len == 0) {
        *why = "empty version";
        return WEFT_EPROTO;
    }
    if (len > S_VERSION_MAX) {
        *why = "version longer than 31 bytes";
        return WEFT_ETOOBIG;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) {
            *why = "version has a character outside printable ASCII";
            return WEFT_EPROTO;
        }
    }
    return WEFT_OK;
}

/* Rules across fields of one message, checked after its fields (the decoder: once the block
 * is filled, since they read array elements). */
static int
s_cross(const wf_cmsg_t *m, const char **why, char *buf, size_t cap)
{
    if (m->kind == WF_CMSG_PONG && m->proto_min > m->proto_max) {
        *why = "PONG: proto_min above proto_max";
        return WEFT_EPROTO;
    }
    if (m->kind == WF_CMSG_STATUS && m->limit == 0 && m->offset != 0) {
        *why = "STATUS: an offset needs a limit"; /* only the encoder can meet this */
        return WEFT_EPROTO;
    }
    if (m->kind == WF_CMSG_GRAPH_R) {
        if (m->next > m->total) {
            *why = "GRAPH_R: next above total";
            return WEFT_EPROTO;
        }
        if (m->nnodes > m->next) {
            *why = "GRAPH_R: more jobs than next (the page would start below index 0)";
            return WEFT_EPROTO;
        }
        if (m->nnodes && !m->nodes) {
            *why = "GRAPH_R: no jobs array";
            return WEFT_EPROTO;
        }
        uint32_t first = m->next - m->nnodes;
        for (uint32_t i = 0; i < m->nnodes; i++) {
            const wf_cnode_t *n = &m->nodes[i];
            if (n->nneeds && !n->needs) {
                *why = "GRAPH_R: a job has no needs array";
                return WEFT_EPROTO;
            }
            for (uint32_t k = 0; k < n->nneeds; k++) {
                const char *bad = n->needs[k] >= m->total           ? "is not below total"
                                  : n->needs[k] == first + i         ? "is the job itself"
                                  : k && n->needs[k] <= n->needs[k - 1] ? "is not above the one before"
                                                                     : NULL;
                if (bad) {
                    snprintf(buf, cap, "GRAPH_R job %u (index %u): need %u (%u) %s", i + 1,
                             first + i, k + 1, n->needs[k], bad);
                    *why = buf;
                    return WEFT_EPROTO;
                }
            }
        }
    }
    if (m->kind == WF_CMSG_EVENT) {
        const weft_event_t *e = &m->event;
        if (e->job_index == WF_CLIENT_NO_JOB) {
            if (e->job[0]) {
                *why = "EVENT: a request event (job_index 4294967295) names a job";
                return WEFT_EPROTO;
            }
            if (e->state >= WEFT_REQ_STATE_COUNT_) {
                *why = "EVENT: request state out of range 0..3";
                return WEFT_EPROTO;
            }
        } else {
            if (e->job_index >= WF_MAX_JOBS_PER_REQUEST) {
                *why = "EVENT: job_index out of range";
                return WEFT_EPROTO;
            }
            if (!e->job[0]) {
                *why = "EVENT: a job event has no job id";
                return WEFT_EPROTO;
            }
        }
    }
    return WEFT_OK;
}

/* The fewest bytes one element of an array field can take on the wire: a count times this must
 * fit in the bytes left before the elements are read. */
static size_t
s_min_elem(const s_field_t *f)
{
    switch (f->type) {
    case FT_NAMES: return 2;                     /* str header + one byte */
    case FT_POOLS: return 4;                     /* [name, limit] */
    case FT_RECORDS: return 1 + f->sub->nfields; /* array header + one byte per field */
    default: return 1;                           /* a text, a uint */
    }
}

/* Bytes of one element of an array field in the decoded block. */
static size_t
s_stride(const s_field_t *f)
{
    switch (f->type) {
    case FT_U32S: return sizeof(uint32_t);
    case FT_RECORDS: return f->size;
    default: return sizeof(const char *); /* FT_NAMES, FT_TEXTS */
    }
}

/* ---- encoding ---------------------------------------------------------------------------- */

/* msgpack-c's packer returns -1 only when its buffer cannot grow: out of memory. */
#define S_PACK(call)     \
    do {                 \
        if ((call) != 0) \
            abort();     \
    } while (0)

static int
s_enc_rc(int rc)
{
    return rc == WEFT_ETOOBIG ? WEFT_ETOOBIG : WEFT_EINVAL;
}

static void
s_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    S_PACK(msgpack_pack_str(pk, len));
    if (len > 0)
        S_PACK(msgpack_pack_str_body(pk, s, len));
}

/* A C string of at most cap - 1 bytes: strnlen with one byte of slack, so an unterminated array
 * (or a string that is too long) reads as too long rather than past its end. */
static int
s_enc_cstr(msgpack_packer *pk, const char *s, size_t cap,
           int (*check)(const char *, size_t, const char **))
{
    const char *why;
    size_t len = strnlen(s, cap);
    int rc = check(s, len, &why);
    if (rc != WEFT_OK)
        return s_enc_rc(rc);
    s_pack_str(pk, s, len);
    return WEFT_OK;
}

/* A name by pointer: NULL is refused (a required name) unless opt, where NULL and "" are nil. */
static int
s_enc_pname(msgpack_packer *pk, const char *s, bool opt)
{
    if (opt && (!s || !s[0])) {
        S_PACK(msgpack_pack_nil(pk));
        return WEFT_OK;
    }
    if (!s)
        return WEFT_EINVAL;
    return s_enc_cstr(pk, s, WF_MAX_NAME + 1, wf_codec_check_name);
}

static int
s_enc_ptext(msgpack_packer *pk, const char *s)
{
    return s_enc_cstr(pk, s ? s : "", WF_MAX_MESSAGE + 1, wf_codec_check_text);
}

static int s_enc_record(msgpack_packer *pk, const s_schema_t *sc, const void *base);

static int
s_enc_field(msgpack_packer *pk, const s_field_t *f, const void *base)
{
    const char *s = (const char *)base + f->off;
    int rc;

    switch (f->type) {
    case FT_UINT: {
        uint64_t v = s_get_u(base, f);
        if (v < f->lo || v > f->hi)
            return WEFT_EINVAL;
        S_PACK(msgpack_pack_uint64(pk, v));
        return WEFT_OK;
    }
    case FT_INT: {
        int64_t v = s_get_i(base, f);
        if (v < f->slo || v > f->shi)
            return WEFT_EINVAL;
        S_PACK(msgpack_pack_int64(pk, v));
        return WEFT_OK;
    }
    case FT_NAME:
        return s_enc_cstr(pk, s, WF_MAX_NAME + 1, wf_codec_check_name);
    case FT_NAME_OPT:
        if (s[0] == '\0') {
            S_PACK(msgpack_pack_nil(pk));
            return WEFT_OK;
        }
        return s_enc_cstr(pk, s, WF_MAX_NAME + 1, wf_codec_check_name);
    case FT_NAME_EV:
        if (s[0] == '\0') {
            s_pack_str(pk, "", 0);
            return WEFT_OK;
        }
        return s_enc_cstr(pk, s, WF_MAX_NAME + 1, wf_codec_check_name);
    case FT_TEXT:
        return s_enc_cstr(pk, s, WF_MAX_MESSAGE + 1, wf_codec_check_text);
    case FT_PNAME:
    case FT_PNAME_OPT:
        return s_enc_pname(pk, s_get_ptr(base, f->off), f->type == FT_PNAME_OPT);
    case FT_PTEXT:
        return s_enc_ptext(pk, s_get_ptr(base, f->off));
    case FT_MODE:
        return s_enc_cstr(pk, s, sizeof(((wf_cmsg_t *)0)->mode), s_check_mode);
    case FT_VERSION:
        return s_enc_cstr(pk, s, S_VERSION_MAX + 1, s_check_version);
    case FT_STREAM:
        return s_enc_cstr(pk, s, sizeof(((wf_cmsg_t *)0)->stream), s_check_stream);
    case FT_BIN: {
        const uint8_t *p = s_get_ptr(base, f->off);
        uint32_t len = s_get_cnt(base, f->cnt);
        if (len > f->hi)
            return WEFT_ETOOBIG;
        if (len > 0 && !p)
            return WEFT_EINVAL;
        S_PACK(msgpack_pack_bin(pk, len));
        if (len > 0)
            S_PACK(msgpack_pack_bin_body(pk, p, len));
        return WEFT_OK;
    }
    case FT_NAMES:
    case FT_TEXTS:
    case FT_U32S:
    case FT_RECORDS: {
        uint32_t n = s_get_cnt(base, f->cnt);
        const char *p = s_get_ptr(base, f->off);
        if (n < f->lo)
            return WEFT_EINVAL;
        if (n > f->hi)
            return WEFT_ETOOBIG;
        if (n > 0 && !p)
            return WEFT_EINVAL;
        S_PACK(msgpack_pack_array(pk, n));
        size_t stride = s_stride(f);
        for (uint32_t i = 0; i < n; i++) {
            const char *e = p + (size_t)i * stride;
            if (f->type == FT_NAMES || f->type == FT_TEXTS) {
                const char *str;
                memcpy(&str, e, sizeof str);
                rc = f->type == FT_NAMES ? s_enc_pname(pk, str, false) : s_enc_ptext(pk, str);
            } else if (f->type == FT_U32S) {
                uint32_t v;
                memcpy(&v, e, sizeof v);
                if (v > f->size)
                    return WEFT_EINVAL;
                S_PACK(msgpack_pack_uint32(pk, v));
                rc = WEFT_OK;
            } else {
                rc = s_enc_record(pk, f->sub, e);
            }
            if (rc != WEFT_OK)
                return rc;
        }
        return WEFT_OK;
    }
    case FT_POOLS: {
        const wf_csubmit_t *sub = &((const wf_cmsg_t *)base)->submit;
        if (sub->npools > f->hi)
            return WEFT_ETOOBIG;
        if (sub->npools > 0 && (!sub->pool_names || !sub->pool_limits))
            return WEFT_EINVAL;
        S_PACK(msgpack_pack_array(pk, sub->npools));
        for (uint32_t i = 0; i < sub->npools; i++) {
            if (sub->pool_limits[i] == 0)
                return WEFT_EINVAL;
            S_PACK(msgpack_pack_array(pk, 2));
            if ((rc = s_enc_pname(pk, sub->pool_names[i], false)) != WEFT_OK)
                return rc;
            S_PACK(msgpack_pack_uint32(pk, sub->pool_limits[i]));
        }
        return WEFT_OK;
    }
    case FT_COUNTS: {
        S_PACK(msgpack_pack_array(pk, WEFT_JOB_STATE_COUNT_));
        for (unsigned i = 0; i < WEFT_JOB_STATE_COUNT_; i++) {
            uint32_t v;
            memcpy(&v, s + i * sizeof v, sizeof v);
            if (v > f->hi)
                return WEFT_EINVAL;
            S_PACK(msgpack_pack_uint32(pk, v));
        }
        return WEFT_OK;
    }
    case FT_RECORD:
        return s_enc_record(pk, f->sub, s);
    }
    return WEFT_EINVAL;
}

static int
s_enc_record(msgpack_packer *pk, const s_schema_t *sc, const void *base)
{
    S_PACK(msgpack_pack_array(pk, sc->nfields));
    for (uint32_t i = 0; i < sc->nfields; i++) {
        int rc = s_enc_field(pk, &sc->fields[i], base);
        if (rc != WEFT_OK)
            return rc;
    }
    return WEFT_OK;
}

int
wf_cmsg_encode(const wf_cmsg_t *msg, uint8_t **buf_p, size_t *len_p)
{
    if (!msg || !buf_p || !len_p)
        return WEFT_EINVAL;
    *buf_p = NULL;
    *len_p = 0;
    const s_kind_t *k = (int)msg->kind >= 0 ? s_kind((uint64_t)msg->kind) : NULL;
    if (!k || (k->corr_zero && msg->corr != 0))
        return WEFT_EINVAL;
    int rc = WEFT_OK;
    uint32_t nfields = s_nfields_of(k, msg);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    S_PACK(msgpack_pack_array(&pk, S_PREFIX + nfields));
    s_pack_str(&pk, WF_PROTO_SIGNATURE, sizeof(WF_PROTO_SIGNATURE) - 1);
    S_PACK(msgpack_pack_uint32(&pk, WF_CLIENT_VERSION));
    S_PACK(msgpack_pack_uint32(&pk, (uint32_t)msg->kind));
    S_PACK(msgpack_pack_uint64(&pk, msg->corr));
    for (uint32_t i = 0; i < nfields && rc == WEFT_OK; i++)
        rc = s_enc_field(&pk, &k->fields[i], msg);
    /* After the fields, as the decoder does: every count is known to be in range by now. */
    if (rc == WEFT_OK) {
        const char *why;
        char whybuf[128];
        rc = s_cross(msg, &why, whybuf, sizeof whybuf);
        if (rc != WEFT_OK)
            rc = s_enc_rc(rc);
    }
    if (rc == WEFT_OK && sb.size > (uint64_t)WF_MAX_CLIENT_MSG)
        rc = WEFT_ETOOBIG;
    if (rc != WEFT_OK) {
        msgpack_sbuffer_destroy(&sb);
        return rc;
    }
    *buf_p = (uint8_t *)sb.data; /* allocated by realloc: the caller free()s it */
    *len_p = sb.size;
    return WEFT_OK;
}

/* ---- decoding ---------------------------------------------------------------------------- */

/* Where the decoder is, kept as data and formatted only when it fails (a SUBMIT of 10^6 jobs
 * must not pay for formatting a path per field). */
typedef struct s_frame {
    const s_field_t *f;
    unsigned pos;  /* 1-based position in the enclosing array */
    uint32_t item; /* 1-based element of an array field; 0 = none */
} s_frame_t;

/* The largest compact record: array elements are decoded into scratch records while sizing. */
#define S_MAX_RECORD 128
_Static_assert(sizeof(wf_cjob_t) <= S_MAX_RECORD && sizeof(wf_creqinfo_t) <= S_MAX_RECORD &&
                   sizeof(wf_cjobinfo_t) <= S_MAX_RECORD && sizeof(wf_cworker_t) <= S_MAX_RECORD &&
                   sizeof(wf_cnode_t) <= S_MAX_RECORD,
               "a record outgrew the sizing pass's scratch");

/* The block's sections, in order: 8-byte-aligned arrays (records, pointers), uint32 arrays,
 * strings. */
enum { S_SEC8, S_SEC4, S_SEC1, S_NSEC };

typedef struct s_dec {
    char *why;
    size_t why_len;
    const char *kname; /* the kind's name once known */
    s_frame_t frames[WF_MAX_DEPTH];
    int depth;
    wf_cmsg_t *out;
    bool have_corr;
    uint64_t corr;
    bool sizing;              /* pass 1: check and count, write nothing outside *out */
    size_t need[S_NSEC];      /* pass 1: bytes each section needs */
    char *cur[S_NSEC];        /* pass 2: where each section's next bytes go */
    char *end[S_NSEC];
    max_align_t scratch[WF_MAX_DEPTH + 1][S_MAX_RECORD / sizeof(max_align_t) + 1];
} s_dec_t;

static int s_fail(s_dec_t *d, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
s_fail(s_dec_t *d, int rc, const char *fmt, ...)
{
    if (!d->why || d->why_len == 0)
        return rc;
    size_t n = 0;
    char *w = d->why;
#define S_ADD(...)                                                                   \
    do {                                                                             \
        if (n < d->why_len) {                                                        \
            int k_ = snprintf(w + n, d->why_len - n, __VA_ARGS__);                   \
            n += k_ > 0 ? (size_t)k_ : 0;                                            \
        }                                                                            \
    } while (0)
    w[0] = '\0';
    if (d->depth > 0)
        S_ADD("%s ", d->kname);
    for (int i = 0; i < d->depth; i++) {
        S_ADD("field %u (%s): ", d->frames[i].pos, d->frames[i].f->what);
        if (d->frames[i].item)
            S_ADD("%s %u: ", d->frames[i].f->item, d->frames[i].item);
    }
#undef S_ADD
    if (n < d->why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w + n, d->why_len - n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int
s_trunc(s_dec_t *d)
{
    return s_fail(d, WEFT_EPROTO, "truncated");
}

static int
s_want(s_dec_t *d, const wf_mp_val_t *v, wf_mp_type t)
{
    return s_fail(d, WEFT_EPROTO, "expected %s, got %s", wf_mp_type_name(t),
                  wf_mp_type_name(v->type));
}

/* Room for `size` bytes in section `sec`: counted while sizing (NULL), taken while filling.
 * Filling never asks for more than sizing counted: both passes read the same bytes. */
static void *
s_take(s_dec_t *d, int sec, size_t size)
{
    if (d->sizing) {
        d->need[sec] += size;
        return NULL;
    }
    if ((size_t)(d->end[sec] - d->cur[sec]) < size)
        return NULL;
    void *p = d->cur[sec];
    d->cur[sec] += size;
    return p;
}

/* Read a str and check it with `check`; *v then points at its bytes in the frame. */
static int
s_dec_str(s_dec_t *d, wf_mp_rd_t *r, wf_mp_val_t *v,
          int (*check)(const char *, size_t, const char **))
{
    const char *why;
    if (!wf_mp_next(r, v))
        return s_trunc(d);
    if (v->type != WF_MP_STR)
        return s_want(d, v, WF_MP_STR);
    int rc = check((const char *)v->ptr, v->len, &why);
    if (rc != WEFT_OK)
        return s_fail(d, rc, "%s", why);
    return WEFT_OK;
}

/* Read a str and check it with `check`; copy it NUL-terminated into dst (a fixed array). */
static int
s_dec_cstr(s_dec_t *d, wf_mp_rd_t *r, char *dst, int (*check)(const char *, size_t, const char **))
{
    wf_mp_val_t v;
    int rc = s_dec_str(d, r, &v, check);
    if (rc != WEFT_OK)
        return rc;
    if (v.len > 0)
        memcpy(dst, v.ptr, v.len);
    dst[v.len] = '\0';
    return WEFT_OK;
}

/* Read a str and check it; point *dst at a packed copy in the block ("" when empty).  While
 * sizing, dst may be NULL and only the bytes are counted. */
static int
s_dec_pstr(s_dec_t *d, wf_mp_rd_t *r, const char **dst,
           int (*check)(const char *, size_t, const char **))
{
    wf_mp_val_t v;
    int rc = s_dec_str(d, r, &v, check);
    if (rc != WEFT_OK)
        return rc;
    const char *p = s_empty;
    if (v.len > 0) {
        char *c = s_take(d, S_SEC1, (size_t)v.len + 1);
        if (!d->sizing && !c)
            return s_fail(d, WEFT_EPROTO, "internal: block too small");
        if (c) {
            memcpy(c, v.ptr, v.len);
            c[v.len] = '\0';
        }
        p = c;
    }
    if (dst)
        *dst = p;
    return WEFT_OK;
}

/* An optional name's first step: nil ("none") sets *nil and is read; anything else must be a
 * str that is not empty (nil means none), left unread for the caller to read as a name. */
static int
s_dec_nil(s_dec_t *d, wf_mp_rd_t *r, bool *nil)
{
    wf_mp_rd_t peek = *r;
    wf_mp_val_t v;
    if (!wf_mp_next(&peek, &v))
        return s_trunc(d);
    *nil = v.type == WF_MP_NIL;
    if (*nil) {
        *r = peek;
        return WEFT_OK;
    }
    if (v.type != WF_MP_STR)
        return s_fail(d, WEFT_EPROTO, "expected str or nil, got %s", wf_mp_type_name(v.type));
    if (v.len == 0)
        return s_fail(d, WEFT_EPROTO, "empty name (send nil for none)");
    return WEFT_OK;
}

/* nil -> "", else a name by pointer. */
static int
s_dec_pname_opt(s_dec_t *d, wf_mp_rd_t *r, const char **dst)
{
    bool nil = false;
    int rc = s_dec_nil(d, r, &nil);
    if (rc != WEFT_OK)
        return rc;
    if (!nil)
        return s_dec_pstr(d, r, dst, wf_codec_check_name);
    if (dst)
        *dst = s_empty;
    return WEFT_OK;
}

/* Read an array header for field f and check its count against the range and the bytes left. */
static int
s_dec_count(s_dec_t *d, wf_mp_rd_t *r, const s_field_t *f, uint32_t *n_p)
{
    wf_mp_val_t v;
    if (!wf_mp_next(r, &v))
        return s_trunc(d);
    if (v.type != WF_MP_ARRAY)
        return s_want(d, &v, WF_MP_ARRAY);
    if (v.len < f->lo)
        return s_fail(d, WEFT_EPROTO, "%u %s(s), at least %llu needed", v.len, f->item,
                      (unsigned long long)f->lo);
    if (v.len > f->hi)
        return s_fail(d, WEFT_ETOOBIG, "%u %s(s) exceed the limit of %llu", v.len, f->item,
                      (unsigned long long)f->hi);
    size_t left = (size_t)(r->end - r->p);
    if ((uint64_t)v.len * s_min_elem(f) > left)
        return s_fail(d, WEFT_EPROTO, "array count exceeds bytes (%u %s(s) in %zu bytes)",
                      v.len, f->item, left);
    *n_p = v.len;
    return WEFT_OK;
}

static int s_dec_record(s_dec_t *d, wf_mp_rd_t *r, const s_schema_t *sc, void *base);

/* Decode an array field's elements into arr (NULL while sizing). */
static int
s_dec_elements(s_dec_t *d, wf_mp_rd_t *r, const s_field_t *f, char *arr, uint32_t n)
{
    size_t stride = s_stride(f);
    s_frame_t *fr = &d->frames[d->depth - 1];
    wf_mp_val_t v;
    int rc = WEFT_OK;
    for (uint32_t i = 0; i < n && rc == WEFT_OK; i++) {
        char *e = arr ? arr + (size_t)i * stride : NULL;
        fr->item = i + 1;
        switch (f->type) {
        case FT_NAMES:
        case FT_TEXTS: {
            const char *str = NULL;
            rc = s_dec_pstr(d, r, e ? &str : NULL,
                            f->type == FT_NAMES ? wf_codec_check_name : wf_codec_check_text);
            if (rc == WEFT_OK && e)
                memcpy(e, &str, sizeof str);
            break;
        }
        case FT_U32S:
            if (!wf_mp_next(r, &v))
                return s_trunc(d);
            if (v.type != WF_MP_UINT)
                return s_want(d, &v, WF_MP_UINT);
            if (v.u > f->size)
                return s_fail(d, WEFT_EPROTO, "%llu out of range 0..%zu", (unsigned long long)v.u,
                              f->size);
            if (e) {
                uint32_t x = (uint32_t)v.u;
                memcpy(e, &x, sizeof x);
            }
            break;
        default: /* FT_RECORDS: while sizing, into this depth's scratch record */
            rc = s_dec_record(d, r, f->sub, e ? (void *)e : (void *)d->scratch[d->depth]);
            break;
        }
    }
    fr->item = 0;
    return rc;
}

static int
s_dec_value(s_dec_t *d, wf_mp_rd_t *r, const s_field_t *f, void *base)
{
    char *dst = (char *)base + f->off;
    wf_mp_val_t v;
    int rc;
    uint32_t n = 0;

    switch (f->type) {
    case FT_UINT:
        if (!wf_mp_next(r, &v))
            return s_trunc(d);
        if (v.type != WF_MP_UINT)
            return s_want(d, &v, WF_MP_UINT);
        if (v.u < f->lo || v.u > f->hi)
            return s_fail(d, WEFT_EPROTO, "%llu out of range %llu..%llu", (unsigned long long)v.u,
                          (unsigned long long)f->lo, (unsigned long long)f->hi);
        s_set_u(base, f, v.u);
        return WEFT_OK;
    case FT_INT:
        if (!wf_mp_next(r, &v))
            return s_trunc(d);
        if (v.type == WF_MP_UINT && v.u <= (uint64_t)f->shi) {
            s_set_i(base, f, (int64_t)v.u);
        } else if (v.type == WF_MP_NINT && v.i >= f->slo) {
            s_set_i(base, f, v.i);
        } else if (v.type == WF_MP_UINT || v.type == WF_MP_NINT) {
            return s_fail(d, WEFT_EPROTO, "out of range %lld..%lld", (long long)f->slo,
                          (long long)f->shi);
        } else {
            return s_fail(d, WEFT_EPROTO, "expected int, got %s", wf_mp_type_name(v.type));
        }
        return WEFT_OK;
    case FT_NAME:
        return s_dec_cstr(d, r, dst, wf_codec_check_name);
    case FT_NAME_OPT: {
        bool nil = false;
        if ((rc = s_dec_nil(d, r, &nil)) != WEFT_OK)
            return rc;
        if (!nil)
            return s_dec_cstr(d, r, dst, wf_codec_check_name);
        dst[0] = '\0';
        return WEFT_OK;
    }
    case FT_NAME_EV: {
        wf_mp_rd_t peek = *r;
        if (!wf_mp_next(&peek, &v))
            return s_trunc(d);
        if (v.type == WF_MP_STR && v.len == 0) {
            *r = peek;
            dst[0] = '\0';
            return WEFT_OK;
        }
        return s_dec_cstr(d, r, dst, wf_codec_check_name);
    }
    case FT_TEXT:
        return s_dec_cstr(d, r, dst, wf_codec_check_text);
    case FT_PNAME:
    case FT_PTEXT: {
        const char *p = NULL;
        rc = s_dec_pstr(d, r, &p,
                        f->type == FT_PNAME ? wf_codec_check_name : wf_codec_check_text);
        if (rc == WEFT_OK)
            s_set_ptr(base, f->off, p);
        return rc;
    }
    case FT_PNAME_OPT: {
        const char *p = NULL;
        rc = s_dec_pname_opt(d, r, &p);
        if (rc == WEFT_OK)
            s_set_ptr(base, f->off, p);
        return rc;
    }
    case FT_MODE:
        return s_dec_cstr(d, r, dst, s_check_mode);
    case FT_VERSION:
        return s_dec_cstr(d, r, dst, s_check_version);
    case FT_STREAM:
        return s_dec_cstr(d, r, dst, s_check_stream);
    case FT_BIN:
        if (!wf_mp_next(r, &v))
            return s_trunc(d);
        if (v.type != WF_MP_BIN)
            return s_want(d, &v, WF_MP_BIN);
        if (v.len > f->hi)
            return s_fail(d, WEFT_ETOOBIG, "%u bytes exceed the limit of %llu", v.len,
                          (unsigned long long)f->hi);
        /* Borrowed from the caller's buffer; NULL when empty, so it never points past it. */
        s_set_ptr(base, f->off, v.len ? v.ptr : NULL);
        s_set_cnt(base, f->cnt, v.len);
        return WEFT_OK;
    case FT_NAMES:
    case FT_TEXTS:
    case FT_U32S:
    case FT_RECORDS: {
        if ((rc = s_dec_count(d, r, f, &n)) != WEFT_OK)
            return rc;
        char *arr = NULL;
        if (n) {
            arr = s_take(d, f->type == FT_U32S ? S_SEC4 : S_SEC8, (size_t)n * s_stride(f));
            if (!d->sizing && !arr)
                return s_fail(d, WEFT_EPROTO, "internal: block too small");
        }
        s_set_ptr(base, f->off, arr);
        s_set_cnt(base, f->cnt, n);
        return s_dec_elements(d, r, f, arr, n);
    }
    case FT_POOLS: {
        wf_csubmit_t *sub = &((wf_cmsg_t *)base)->submit;
        if ((rc = s_dec_count(d, r, f, &n)) != WEFT_OK)
            return rc;
        if (n > 0) {
            sub->pool_names = s_take(d, S_SEC8, (size_t)n * sizeof *sub->pool_names);
            sub->pool_limits = s_take(d, S_SEC4, (size_t)n * sizeof *sub->pool_limits);
            if (!d->sizing && (!sub->pool_names || !sub->pool_limits))
                return s_fail(d, WEFT_EPROTO, "internal: block too small");
        }
        sub->npools = n;
        s_frame_t *fr = &d->frames[d->depth - 1];
        for (uint32_t i = 0; i < n; i++) {
            fr->item = i + 1;
            if (!wf_mp_next(r, &v))
                return s_trunc(d);
            if (v.type != WF_MP_ARRAY || v.len != 2)
                return s_fail(d, WEFT_EPROTO, "expected [name, limit]");
            rc = s_dec_pstr(d, r, sub->pool_names ? &sub->pool_names[i] : NULL,
                            wf_codec_check_name);
            if (rc != WEFT_OK)
                return rc;
            if (!wf_mp_next(r, &v))
                return s_trunc(d);
            if (v.type != WF_MP_UINT)
                return s_fail(d, WEFT_EPROTO, "limit: expected uint, got %s",
                              wf_mp_type_name(v.type));
            if (v.u < 1 || v.u > UINT32_MAX)
                return s_fail(d, WEFT_EPROTO, "limit %llu out of range 1..4294967295",
                              (unsigned long long)v.u);
            if (sub->pool_limits)
                sub->pool_limits[i] = (uint32_t)v.u;
        }
        fr->item = 0;
        return WEFT_OK;
    }
    case FT_COUNTS:
        if (!wf_mp_next(r, &v))
            return s_trunc(d);
        if (v.type != WF_MP_ARRAY)
            return s_want(d, &v, WF_MP_ARRAY);
        if (v.len != WEFT_JOB_STATE_COUNT_)
            return s_fail(d, WEFT_EPROTO, "%u counts, expected %d (one per job state)", v.len,
                          WEFT_JOB_STATE_COUNT_);
        for (unsigned i = 0; i < WEFT_JOB_STATE_COUNT_; i++) {
            if (!wf_mp_next(r, &v))
                return s_trunc(d);
            if (v.type != WF_MP_UINT)
                return s_fail(d, WEFT_EPROTO, "count %u: expected uint, got %s", i + 1,
                              wf_mp_type_name(v.type));
            if (v.u > f->hi)
                return s_fail(d, WEFT_EPROTO, "count %u: %llu out of range 0..%llu", i + 1,
                              (unsigned long long)v.u, (unsigned long long)f->hi);
            uint32_t c = (uint32_t)v.u;
            memcpy(dst + i * sizeof c, &c, sizeof c);
        }
        return WEFT_OK;
    case FT_RECORD:
        return s_dec_record(d, r, f->sub, dst);
    }
    return s_fail(d, WEFT_EPROTO, "internal: unknown field type");
}

static int
s_dec_field(s_dec_t *d, wf_mp_rd_t *r, const s_field_t *f, unsigned pos, void *base)
{
    if (d->depth >= WF_MAX_DEPTH) /* our schemas nest 3 deep; the pre-walk bounds input */
        return s_fail(d, WEFT_EPROTO, "nesting too deep");
    d->frames[d->depth++] = (s_frame_t){ f, pos, 0 };
    int rc = s_dec_value(d, r, f, base);
    if (rc == WEFT_OK)
        d->depth--; /* on error the path stays for the caller's text */
    return rc;
}

static int
s_dec_record(s_dec_t *d, wf_mp_rd_t *r, const s_schema_t *sc, void *base)
{
    wf_mp_val_t v;
    if (!wf_mp_next(r, &v))
        return s_trunc(d);
    if (v.type != WF_MP_ARRAY)
        return s_fail(d, WEFT_EPROTO, "%s: expected array, got %s", sc->name,
                      wf_mp_type_name(v.type));
    if (v.len != sc->nfields)
        return s_fail(d, WEFT_EPROTO, "%s: %u fields, expected %u", sc->name, v.len,
                      sc->nfields);
    for (uint32_t i = 0; i < sc->nfields; i++) {
        int rc = s_dec_field(d, r, &sc->fields[i], i + 1, base);
        if (rc != WEFT_OK)
            return rc;
    }
    return WEFT_OK;
}

/* After an unsupported version, read kind and corr if they are uints: the prefix is frozen. */
static void
s_peek_corr(s_dec_t *d, wf_mp_rd_t *r, uint32_t nel)
{
    wf_mp_val_t v;
    if (nel < S_PREFIX || !wf_mp_next(r, &v) || v.type != WF_MP_UINT || !wf_mp_next(r, &v) ||
        v.type != WF_MP_UINT)
        return;
    d->have_corr = true;
    d->corr = v.u;
}

/* One pass over the frame: the prefix, then the kind's fields. */
static int
s_dec_message(s_dec_t *d, wf_mp_rd_t *r, wf_cmsg_t *out)
{
    static const char sig[] = WF_PROTO_SIGNATURE;
    wf_mp_val_t top, v;

    if (!wf_mp_next(r, &top))
        return s_trunc(d);
    if (top.type != WF_MP_ARRAY)
        return s_fail(d, WEFT_EPROTO, "not an array (got %s)", wf_mp_type_name(top.type));
    uint32_t nel = top.len;
    if (nel < 1 || !wf_mp_next(r, &v) || v.type != WF_MP_STR || v.len != sizeof sig - 1 ||
        memcmp(v.ptr, sig, sizeof sig - 1) != 0)
        return s_fail(d, WEFT_EPROTO, "bad signature");
    if (nel < 2)
        return s_fail(d, WEFT_EPROTO, "missing version");
    if (!wf_mp_next(r, &v))
        return s_trunc(d);
    if (v.type != WF_MP_UINT)
        return s_fail(d, WEFT_EPROTO, "version: expected uint, got %s", wf_mp_type_name(v.type));
    if (v.u < WF_CLIENT_VERSION_MIN || v.u > WF_CLIENT_VERSION) {
        s_peek_corr(d, r, nel);
        return s_fail(d, WEFT_EVERSION, "version %llu not supported (this peer speaks %d..%d)",
                      (unsigned long long)v.u, WF_CLIENT_VERSION_MIN, WF_CLIENT_VERSION);
    }
    if (nel < 3)
        return s_fail(d, WEFT_EPROTO, "missing kind");
    if (!wf_mp_next(r, &v))
        return s_trunc(d);
    if (v.type != WF_MP_UINT)
        return s_fail(d, WEFT_EPROTO, "kind: expected uint, got %s", wf_mp_type_name(v.type));
    const s_kind_t *k = s_kind(v.u);
    if (!k)
        return s_fail(d, WEFT_EPROTO, "unknown kind %llu", (unsigned long long)v.u);
    d->kname = k->name;
    out->kind = (wf_cmsg_kind)v.u;
    if (nel < 4)
        return s_fail(d, WEFT_EPROTO, "%s: missing corr", k->name);
    if (!wf_mp_next(r, &v))
        return s_trunc(d);
    if (v.type != WF_MP_UINT)
        return s_fail(d, WEFT_EPROTO, "%s: corr: expected uint, got %s", k->name,
                      wf_mp_type_name(v.type));
    d->have_corr = true;
    d->corr = v.u;
    out->corr = v.u;
    if (k->corr_zero && v.u != 0)
        return s_fail(d, WEFT_EPROTO, "%s: corr must be 0", k->name);
    /* The fields: all of them, or all but the optional group. */
    uint32_t nf = nel - S_PREFIX, least = k->nfields - k->nopt;
    if (nf < least || (nf > least && nf < k->nfields))
        return s_fail(d, WEFT_EPROTO, "%s field %u (%s) missing", k->name, nel + 1,
                      k->fields[nf].what);
    if (nf > k->nfields)
        return s_fail(d, WEFT_EPROTO, "%s has %u extra field(s)", k->name, nf - k->nfields);
    for (uint32_t i = 0; i < nf; i++) {
        int rc = s_dec_field(d, r, &k->fields[i], S_PREFIX + i + 1, out);
        if (rc != WEFT_OK)
            return rc;
    }
    /* WHY_R's optional pair has no flag of its own on the wire: its presence is the flag. */
    if (out->kind == WF_CMSG_WHY_R && nf == k->nfields)
        out->where = 1;
    return WEFT_OK;
}

/* After the second pass: rules across fields, and EVENT's mirrors. */
static int
s_dec_finish(s_dec_t *d, wf_cmsg_t *out)
{
    const char *why;
    char buf[128];
    int rc = s_cross(out, &why, buf, sizeof buf);
    if (rc != WEFT_OK)
        return s_fail(d, rc, "%s", why);
    if (out->kind == WF_CMSG_EVENT) {
        out->req = out->event.request;
        memcpy(out->job, out->event.job, sizeof out->job);
        out->state = (uint32_t)out->event.state;
    }
    return WEFT_OK;
}

int
wf_cmsg_decode(const uint8_t *buf, size_t len, wf_cmsg_t *out, char *why, size_t why_len)
{
    s_dec_t d = { .why = why, .why_len = why_len, .kname = "?", .out = out, .sizing = true };

    if (why && why_len > 0)
        why[0] = '\0';
    if (!out)
        return s_fail(&d, WEFT_EINVAL, "no output message");
    /* out may be uninitialised: never free what it holds. */
    memset(out, 0, sizeof *out);
    if (!buf && len > 0)
        return s_fail(&d, WEFT_EINVAL, "no buffer");
    if (len == 0)
        return s_fail(&d, WEFT_EPROTO, "empty frame");
    if (len > (uint64_t)WF_MAX_CLIENT_MSG)
        return s_fail(&d, WEFT_ETOOBIG, "frame of %zu bytes exceeds %lld", len,
                      (long long)WF_MAX_CLIENT_MSG);
    const char *unsafe = wf_msgpack_check(buf, len, WF_MAX_DEPTH);
    if (unsafe)
        return s_fail(&d, WEFT_EPROTO, "%s", unsafe);

    /* Pass 1: every rule but the cross-field ones, and the block's size. */
    wf_mp_rd_t r = { buf, buf + len };
    int rc = s_dec_message(&d, &r, out);
    if (rc == WEFT_OK && r.p != r.end) {
        d.depth = 0;
        rc = s_fail(&d, WEFT_EPROTO, "trailing bytes"); /* the pre-walk should catch it */
    }
    size_t total = d.need[S_SEC8] + d.need[S_SEC4] + d.need[S_SEC1];
    if (rc == WEFT_OK && total > WF_MAX_CLIENT_DECODED) {
        d.depth = 0;
        rc = s_fail(&d, WEFT_ETOOBIG, "the message would decode to %zu bytes, over %zu", total,
                    WF_MAX_CLIENT_DECODED);
    }
    /* Pass 2: the same reads, filling one block of exactly that size. */
    if (rc == WEFT_OK) {
        memset(out, 0, sizeof *out);
        if (total) {
            /* calloc: padding inside records is zero too, so equal messages compare equal */
            char *block = calloc(1, total);
            if (!block)
                abort(); /* OOM policy (STYLE 2.4); the size is bounded above */
            out->owned_ = block;
            out->owned_size_ = total;
            d.cur[S_SEC8] = block;
            d.cur[S_SEC4] = d.end[S_SEC8] = block + d.need[S_SEC8];
            d.cur[S_SEC1] = d.end[S_SEC4] = d.end[S_SEC8] + d.need[S_SEC4];
            d.end[S_SEC1] = d.end[S_SEC4] + d.need[S_SEC1];
        }
        d.sizing = false;
        d.depth = 0;
        r = (wf_mp_rd_t){ buf, buf + len };
        rc = s_dec_message(&d, &r, out);
        if (rc == WEFT_OK)
            rc = s_dec_finish(&d, out);
    }
    if (rc != WEFT_OK) {
        wf_cmsg_fini(out);
        if (d.have_corr)
            out->corr = d.corr;
    }
    return rc;
}
