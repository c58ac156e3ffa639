/*
 * client.c -- encode and strictly decode the client protocol's messages (see client.h and the
 * "Client protocol" section of docs/protocol.md).
 *
 * The protocol is data, as in proto.c: each message kind, and each nested record (a SUBMIT's
 * job, a request info, a job info, a worker), is a schema: a list of positional fields with
 * their type, range and place in a C struct.  Encoder and decoder walk the same schemas and
 * share one checker per rule, so whatever the encoder writes the decoder accepts and whatever
 * the decoder accepts the encoder writes again, byte for byte (the fuzz target checks this).
 * Field numbers in error texts are 1-based positions in their msgpack array (for a message:
 * 1 = signature, 2 = version, 3 = kind, 4 = corr, 5 = first field); nested ones form a path
 * ("SUBMIT field 9 (jobs): job 3: field 4 (needs): need 2: name has a bad character").
 *
 * Untrusted input: frames are up to WF_MAX_CLIENT_MSG (256 MiB), so unlike proto.c this file
 * does not hand the frame to msgpack-c's object unpacker, whose zone costs 24 bytes per element
 * (6 GiB for a frame of one-byte elements).  wf_msgpack_check() first proves the frame is one
 * well-formed value whose every count is backed by bytes; then a cursor reads it in place.
 * Arrays are allocated only after their count passed its limit and a per-element minimum size
 * times the count fits in the bytes left, so a decode allocates under 80 times the frame (a job
 * info costs 1,632 bytes decoded for at least 21 on the wire, a name 129 for 2) and never more
 * than the count limits allow.
 * Everything a decoded message owns lives in one arena (owned_), freed by wf_cmsg_fini.
 *
 * Workload: every client request, reply and event goes through here; the large ones are a
 * SUBMIT of up to 2*10^6 jobs and the replies listing jobs.  No shared state: any thread may
 * call any function.
 */
#include "client.h"
#include "codec_field.h"

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

#define S_STR(x) #x
#define S_XSTR(x) S_STR(x)

/* ---- the protocol as data ---------------------------------------------------------------- */

typedef enum s_ftype {
    FT_UINT,     /* uint in [lo, hi], stored in `size` bytes (4 or 8) */
    FT_INT,      /* int of either sign in [slo, shi], stored in `size` bytes (4 or 8) */
    FT_NAME,     /* a name (wf_name_ok) -> char[WF_MAX_NAME + 1] */
    FT_NAME_OPT, /* nil or a name; nil <-> "" */
    FT_NAME_EV,  /* a str that is "" or a name (EVENT's job) */
    FT_TEXT,     /* str of 0..WF_MAX_MESSAGE bytes without NUL -> char[WF_MAX_MESSAGE + 1] */
    FT_BIN,      /* bin of 0..hi bytes, borrowed: pointer at off, uint32_t length at cnt */
    FT_NAMES,    /* array of lo..hi names: char (*)[WF_MAX_NAME + 1] at off, uint32_t at cnt */
    FT_TEXTS,    /* array of lo..hi texts: char (*)[WF_MAX_MESSAGE + 1] at off, count at cnt */
    FT_POOLS,    /* array of 0..WF_MAX_POOLS [name, limit 1..2^32-1]: a SUBMIT's pools */
    FT_COUNTS,   /* array of exactly WEFT_JOB_STATE_COUNT_ uints 0..hi: uint32_t[] at off */
    FT_RECORD,   /* one nested record (sub) stored in place at off */
    FT_RECORDS,  /* array of lo..hi records (sub), `size` bytes each: pointer at off, count cnt */
    FT_MODE,     /* one of the board modes -> char[16] */
    FT_VERSION,  /* str of 1..31 printable ASCII bytes (0x21..0x7e) -> char[32] */
} s_ftype;

typedef struct s_schema s_schema_t;

typedef struct s_field {
    const char *what; /* for error texts */
    s_ftype type;
    size_t off;       /* where the value (or the array's pointer) is in the base struct */
    size_t cnt;       /* FT_BIN: the length; arrays: the uint32_t count */
    size_t size;      /* FT_UINT/FT_INT: bytes of the stored integer; FT_RECORDS: element size */
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
#define F_REC(T, w, m, sc) \
    { w, FT_RECORD, offsetof(T, m), 0, sizeof(((T *)0)->m), 0, 0, 0, 0, &sc, NULL }
#define F_RECS(T, w, m, n, et, l, h, sc, it) \
    { w, FT_RECORDS, offsetof(T, m), offsetof(T, n), sizeof(et), (l), (h), 0, 0, &sc, it }
#define S_SCHEMA(nm, f) { nm, f, sizeof(f) / sizeof(f[0]) }

/* [id, type, payload, needs, retries, lost_retries, retry_delay_ms, timeout_ms, priority, pool,
 *  when] */
static const s_field_t s_cjob_f[] = {
    F_S(wf_cjob_t, FT_NAME, "id", id),
    F_S(wf_cjob_t, FT_NAME, "type", type),
    F_BIN(wf_cjob_t, "payload", payload, payload_len, WF_MAX_PAYLOAD),
    F_ARR(wf_cjob_t, FT_NAMES, "needs", needs, nneeds, 0, WF_MAX_NEEDS_PER_JOB, "need"),
    F_U(wf_cjob_t, "retries", retries, 0, WF_MAX_RETRIES),
    F_U(wf_cjob_t, "lost_retries", lost_retries, 0, WF_MAX_RETRIES),
    F_U(wf_cjob_t, "retry_delay_ms", retry_delay_ms, 0, WF_MAX_RETRY_DELAY_MS),
    F_U(wf_cjob_t, "timeout_ms", timeout_ms, 0, WF_MAX_TIMEOUT_MS),
    F_I(wf_cjob_t, "priority", priority, INT32_MIN, INT32_MAX),
    F_S(wf_cjob_t, FT_NAME_OPT, "pool", pool),
    F_U(wf_cjob_t, "when", when, 0, WEFT_WHEN_COUNT_ - 1),
};
static const s_schema_t s_cjob = S_SCHEMA("job", s_cjob_f);

/* [id, name, session, state, njobs, counts, created_ms, finished_ms] */
static const s_field_t s_reqinfo_f[] = {
    F_U(wf_creqinfo_t, "id", id, 1, UINT64_MAX),
    F_S(wf_creqinfo_t, FT_NAME, "name", name),
    F_S(wf_creqinfo_t, FT_NAME, "session", session),
    F_U(wf_creqinfo_t, "state", state, 0, WEFT_REQ_STATE_COUNT_ - 1),
    F_U(wf_creqinfo_t, "njobs", njobs, 0, WF_MAX_JOBS_PER_REQUEST),
    { "counts", FT_COUNTS, offsetof(wf_creqinfo_t, count), 0, 0, 0, WF_MAX_JOBS_PER_REQUEST, 0, 0,
      NULL, NULL },
    F_I(wf_creqinfo_t, "created_ms", created_ms, INT64_MIN, INT64_MAX),
    F_I(wf_creqinfo_t, "finished_ms", finished_ms, INT64_MIN, INT64_MAX),
};
static const s_schema_t s_reqinfo = S_SCHEMA("request info", s_reqinfo_f);

/* [index, id, type, pool, state, reason, when, priority, attempts, failures, lost, retries,
 *  lost_retries, exit_code, cause, progress, progress_msg, error, started_ms, finished_ms] */
static const s_field_t s_jobinfo_f[] = {
    F_U(wf_cjobinfo_t, "index", index, 0, WF_MAX_JOBS_PER_REQUEST - 1),
    F_S(wf_cjobinfo_t, FT_NAME, "id", id),
    F_S(wf_cjobinfo_t, FT_NAME, "type", type),
    F_S(wf_cjobinfo_t, FT_NAME_OPT, "pool", pool),
    F_U(wf_cjobinfo_t, "state", state, 0, WEFT_JOB_STATE_COUNT_ - 1),
    F_U(wf_cjobinfo_t, "reason", reason, 0, WEFT_REASON_COUNT_ - 1),
    F_U(wf_cjobinfo_t, "when", when, 0, WEFT_WHEN_COUNT_ - 1),
    F_I(wf_cjobinfo_t, "priority", priority, INT32_MIN, INT32_MAX),
    F_U(wf_cjobinfo_t, "attempts", attempts, 0, UINT32_MAX),
    F_U(wf_cjobinfo_t, "failures", failures, 0, UINT32_MAX),
    F_U(wf_cjobinfo_t, "lost", lost, 0, UINT32_MAX),
    F_U(wf_cjobinfo_t, "retries", retries, 0, WF_MAX_RETRIES),
    F_U(wf_cjobinfo_t, "lost_retries", lost_retries, 0, WF_MAX_RETRIES),
    F_I(wf_cjobinfo_t, "exit_code", exit_code, INT32_MIN, INT32_MAX),
    F_S(wf_cjobinfo_t, FT_NAME_OPT, "cause", cause),
    F_U(wf_cjobinfo_t, "progress", progress, 0, 100),
    F_S(wf_cjobinfo_t, FT_TEXT, "progress_msg", progress_msg),
    F_S(wf_cjobinfo_t, FT_TEXT, "error", error),
    F_I(wf_cjobinfo_t, "started_ms", started_ms, INT64_MIN, INT64_MAX),
    F_I(wf_cjobinfo_t, "finished_ms", finished_ms, INT64_MIN, INT64_MAX),
};
static const s_schema_t s_jobinfo = S_SCHEMA("job info", s_jobinfo_f);

/* [name, host, pid, types, slots, running, idle_ms] */
static const s_field_t s_worker_f[] = {
    F_S(wf_cworker_t, FT_NAME, "name", name),
    F_S(wf_cworker_t, FT_NAME, "host", host),
    F_U(wf_cworker_t, "pid", pid, 0, UINT32_MAX),
    F_ARR(wf_cworker_t, FT_NAMES, "types", types, ntypes, 1, WF_MAX_TYPES, "type"),
    F_U(wf_cworker_t, "slots", slots, 1, WF_MAX_SLOTS),
    F_U(wf_cworker_t, "running", running, 0, WF_MAX_SLOTS),
    F_U(wf_cworker_t, "idle_ms", idle_ms, 0, UINT32_MAX),
};
static const s_schema_t s_worker = S_SCHEMA("worker", s_worker_f);

/* Message fields (positions 5...), relative to wf_cmsg_t. */
#define M_REQ F_U(wf_cmsg_t, "req", req, 1, UINT64_MAX)

static const s_field_t s_submit_f[] = {
    F_S(wf_cmsg_t, FT_NAME, "name", submit.name),
    F_S(wf_cmsg_t, FT_NAME_OPT, "session", submit.session),
    F_S(wf_cmsg_t, FT_NAME_OPT, "key", submit.key),
    { "pools", FT_POOLS, 0, 0, 0, 0, WF_MAX_POOLS, 0, 0, NULL, "pool" },
    F_RECS(wf_cmsg_t, "jobs", submit.jobs, submit.njobs, wf_cjob_t, 1, WF_MAX_JOBS_PER_REQUEST,
           s_cjob, "job"),
};
static const s_field_t s_req_only_f[] = { M_REQ };
static const s_field_t s_req_optjob_f[] = { M_REQ, F_S(wf_cmsg_t, FT_NAME_OPT, "job", job) };
static const s_field_t s_req_job_f[] = { M_REQ, F_S(wf_cmsg_t, FT_NAME, "job", job) };
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
    F_RECS(wf_cmsg_t, "jobs", jobs, njobs, wf_cjobinfo_t, 0, WF_MAX_JOBS_PER_REQUEST, s_jobinfo,
           "job"),
};
static const s_field_t s_list_r_f[] = {
    F_RECS(wf_cmsg_t, "requests", reqs, nreqs, wf_creqinfo_t, 0, UINT32_MAX, s_reqinfo,
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
static const s_field_t s_why_r_f[] = {
    F_REC(wf_cmsg_t, "job", jobinfo, s_jobinfo),
    F_ARR(wf_cmsg_t, FT_NAMES, "waiting_on", waiting, nwaiting, 0, WF_MAX_NEEDS_PER_JOB, "job"),
};
static const s_field_t s_pong_f[] = {
    F_S(wf_cmsg_t, FT_VERSION, "version", version),
    F_U(wf_cmsg_t, "proto_min", proto_min, 1, UINT32_MAX),
    F_U(wf_cmsg_t, "proto_max", proto_max, 1, UINT32_MAX),
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
    bool corr_zero; /* EVENT: nobody asked, so there is no corr */
} s_kind_t;

#define K(nm, f) { nm, f, sizeof(f) / sizeof(f[0]), false }
#define K0(nm) { nm, NULL, 0, false }
static const s_kind_t s_kinds[] = {
    [WF_CMSG_SUBMIT] = K("SUBMIT", s_submit_f),
    [WF_CMSG_STATUS] = K("STATUS", s_req_only_f),
    [WF_CMSG_LIST] = K0("LIST"),
    [WF_CMSG_CANCEL] = K("CANCEL", s_req_optjob_f),
    [WF_CMSG_RETRY] = K("RETRY", s_req_optjob_f),
    [WF_CMSG_WAIT] = K("WAIT", s_req_only_f),
    [WF_CMSG_WORKERS] = K0("WORKERS"),
    [WF_CMSG_PAUSE] = K0("PAUSE"),
    [WF_CMSG_RESUME] = K0("RESUME"),
    [WF_CMSG_DRAIN] = K0("DRAIN"),
    [WF_CMSG_WHY] = K("WHY", s_req_job_f),
    [WF_CMSG_PING] = K0("PING"),
    [WF_CMSG_OK] = K0("OK"),
    [WF_CMSG_ERROR] = K("ERROR", s_error_f),
    [WF_CMSG_SUBMITTED] = K("SUBMITTED", s_submitted_f),
    [WF_CMSG_STATUS_R] = K("STATUS_R", s_status_r_f),
    [WF_CMSG_LIST_R] = K("LIST_R", s_list_r_f),
    [WF_CMSG_FINISHED] = K("FINISHED", s_finished_f),
    [WF_CMSG_WORKERS_R] = K("WORKERS_R", s_workers_r_f),
    [WF_CMSG_BOARD] = K("BOARD", s_board_f),
    [WF_CMSG_WHY_R] = K("WHY_R", s_why_r_f),
    [WF_CMSG_PONG] = K("PONG", s_pong_f),
    [WF_CMSG_EVENT] = { "EVENT", s_event_f, sizeof(s_event_f) / sizeof(s_event_f[0]), true },
};
#define S_NKINDS (sizeof(s_kinds) / sizeof(s_kinds[0]))
#define S_PREFIX 4 /* signature, version, kind, corr */

static const char *const s_modes[] = { "running", "paused", "draining", "stopped" };

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

/* ---- storage ----------------------------------------------------------------------------- */

/* The arena: zeroed chunks in a list; small allocations share a chunk, big ones get their own.
 * Chunk sizes double from 4 KiB to 1 MiB so a small reply costs one small malloc. */
typedef struct s_chunk {
    struct s_chunk *next;
    size_t used, cap;
    max_align_t data[];
} s_chunk_t;

#define S_CHUNK_MIN ((size_t)4 << 10)
#define S_CHUNK_MAX ((size_t)1 << 20)

static void *
s_alloc(wf_cmsg_t *msg, size_t size)
{
    const size_t align = sizeof(max_align_t);
    size = (size + align - 1) / align * align;
    s_chunk_t *head = msg->owned_;
    if (head && head->cap - head->used >= size) {
        void *p = (char *)head->data + head->used;
        head->used += size;
        return p;
    }
    size_t cap = head ? head->cap * 2 : S_CHUNK_MIN;
    if (cap > S_CHUNK_MAX)
        cap = S_CHUNK_MAX;
    bool own = size > cap / 2; /* big: its own chunk, behind the current one */
    if (own)
        cap = size;
    s_chunk_t *c = calloc(1, sizeof *c + cap);
    if (!c)
        abort(); /* OOM policy: abort (STYLE 2.4); sizes are bounded by the frame and limits */
    c->cap = cap;
    c->used = size;
    if (own && head) {
        c->next = head->next;
        head->next = c;
    } else {
        c->next = head;
        msg->owned_ = c;
    }
    return c->data;
}

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
    s_chunk_t *c = msg->owned_;
    while (c) {
        s_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    /* Zero everything so a finalised message holds no pointer into freed or foreign memory. */
    memset(msg, 0, sizeof *msg);
}

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

/* Rules across fields of one message, checked after its fields. */
static int
s_cross(const wf_cmsg_t *m, const char **why)
{
    if (m->kind == WF_CMSG_PONG && m->proto_min > m->proto_max) {
        *why = "PONG: proto_min above proto_max";
        return WEFT_EPROTO;
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
 * fit in the bytes left before anything is allocated for it. */
static size_t
s_min_elem(const s_field_t *f)
{
    switch (f->type) {
    case FT_NAMES: return 2;                     /* str header + one byte */
    case FT_POOLS: return 4;                     /* [name, limit] */
    case FT_RECORDS: return 1 + f->sub->nfields; /* array header + one byte per field */
    default: return 1;
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

/* A fixed-size C string field: strnlen with one byte of slack, so an unterminated array reads as
 * too long rather than past its end. */
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
    case FT_MODE:
        return s_enc_cstr(pk, s, sizeof(((wf_cmsg_t *)0)->mode), s_check_mode);
    case FT_VERSION:
        return s_enc_cstr(pk, s, S_VERSION_MAX + 1, s_check_version);
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
        size_t stride = f->type == FT_NAMES   ? WF_MAX_NAME + 1
                        : f->type == FT_TEXTS ? WF_MAX_MESSAGE + 1
                                              : f->size;
        for (uint32_t i = 0; i < n; i++) {
            const char *e = p + (size_t)i * stride;
            if (f->type == FT_NAMES)
                rc = s_enc_cstr(pk, e, WF_MAX_NAME + 1, wf_codec_check_name);
            else if (f->type == FT_TEXTS)
                rc = s_enc_cstr(pk, e, WF_MAX_MESSAGE + 1, wf_codec_check_text);
            else
                rc = s_enc_record(pk, f->sub, e);
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
            if ((rc = s_enc_cstr(pk, sub->pool_names[i], WF_MAX_NAME + 1, wf_codec_check_name)) != 0)
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
    const char *why;
    int rc = s_cross(msg, &why);
    if (rc != WEFT_OK)
        return s_enc_rc(rc);

    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    S_PACK(msgpack_pack_array(&pk, S_PREFIX + k->nfields));
    s_pack_str(&pk, WF_PROTO_SIGNATURE, sizeof(WF_PROTO_SIGNATURE) - 1);
    S_PACK(msgpack_pack_uint32(&pk, WF_CLIENT_VERSION));
    S_PACK(msgpack_pack_uint32(&pk, (uint32_t)msg->kind));
    S_PACK(msgpack_pack_uint64(&pk, msg->corr));
    for (uint32_t i = 0; i < k->nfields && rc == WEFT_OK; i++)
        rc = s_enc_field(&pk, &k->fields[i], msg);
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

/* ---- reading msgpack in place ------------------------------------------------------------ */

typedef enum s_mtype {
    MT_NIL,
    MT_BOOL,
    MT_UINT, /* any integer format holding a value >= 0 (as msgpack-c classifies them) */
    MT_NINT, /* any integer format holding a value < 0 */
    MT_FLOAT,
    MT_STR,
    MT_BIN,
    MT_ARRAY,
    MT_MAP,
    MT_EXT,
} s_mtype;

static const char *const s_mtype_names[] = {
    "nil", "bool", "uint", "negative int", "float", "str", "bin", "array", "map", "ext",
};

typedef struct s_val {
    s_mtype type;
    uint64_t u;         /* MT_UINT */
    int64_t i;          /* MT_NINT */
    const uint8_t *ptr; /* MT_STR, MT_BIN */
    uint32_t len;       /* MT_STR, MT_BIN: bytes; MT_ARRAY: elements; MT_MAP: pairs */
} s_val_t;

typedef struct s_rd {
    const uint8_t *p, *end;
} s_rd_t;

static bool
s_rd_be(s_rd_t *r, unsigned n, uint64_t *v)
{
    if ((size_t)(r->end - r->p) < n)
        return false;
    uint64_t x = 0;
    for (unsigned i = 0; i < n; i++)
        x = (x << 8) | r->p[i];
    r->p += n;
    *v = x;
    return true;
}

static bool
s_rd_skip(s_rd_t *r, uint64_t n)
{
    if ((uint64_t)(r->end - r->p) < n)
        return false;
    r->p += n;
    return true;
}

/* Read one value's header; scalars, str, bin and ext are consumed whole, an array or a map only
 * up to its first element.  False if the bytes end first (the pre-walk makes that impossible;
 * checked anyway). */
static bool
s_rd_next(s_rd_t *r, s_val_t *v)
{
    if (r->p >= r->end)
        return false;
    uint8_t b = *r->p++;
    uint64_t x = 0;

    if (b <= 0x7f) {
        v->type = MT_UINT, v->u = b;
        return true;
    }
    if (b >= 0xe0) {
        v->type = MT_NINT, v->i = (int8_t)b;
        return true;
    }
    if (b <= 0x8f) {
        v->type = MT_MAP, v->len = b & 0x0f;
        return true;
    }
    if (b <= 0x9f) {
        v->type = MT_ARRAY, v->len = b & 0x0f;
        return true;
    }
    if (b <= 0xbf) {
        v->type = MT_STR, v->len = b & 0x1f, v->ptr = r->p;
        return s_rd_skip(r, v->len);
    }
    switch (b) {
    case 0xc0: v->type = MT_NIL; return true;
    case 0xc2:
    case 0xc3: v->type = MT_BOOL; return true;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        if (!s_rd_be(r, 1u << (b - 0xc4), &x))
            return false;
        v->type = MT_BIN, v->len = (uint32_t)x, v->ptr = r->p;
        return s_rd_skip(r, x);
    case 0xc7:
    case 0xc8:
    case 0xc9:
        if (!s_rd_be(r, 1u << (b - 0xc7), &x))
            return false;
        v->type = MT_EXT;
        return s_rd_skip(r, x + 1);
    case 0xca: v->type = MT_FLOAT; return s_rd_skip(r, 4);
    case 0xcb: v->type = MT_FLOAT; return s_rd_skip(r, 8);
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        if (!s_rd_be(r, 1u << (b - 0xcc), &x))
            return false;
        v->type = MT_UINT, v->u = x;
        return true;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        unsigned n = 1u << (b - 0xd0);
        if (!s_rd_be(r, n, &x))
            return false;
        int64_t s;
        if (n == 8) {
            memcpy(&s, &x, sizeof s);
        } else {
            /* sign-extend the n-byte two's complement value */
            uint64_t sign = (uint64_t)1 << (8 * n - 1);
            s = (int64_t)(x ^ sign) - (int64_t)sign;
        }
        if (s >= 0)
            v->type = MT_UINT, v->u = (uint64_t)s;
        else
            v->type = MT_NINT, v->i = s;
        return true;
    }
    case 0xd4: v->type = MT_EXT; return s_rd_skip(r, 2);
    case 0xd5: v->type = MT_EXT; return s_rd_skip(r, 3);
    case 0xd6: v->type = MT_EXT; return s_rd_skip(r, 5);
    case 0xd7: v->type = MT_EXT; return s_rd_skip(r, 9);
    case 0xd8: v->type = MT_EXT; return s_rd_skip(r, 17);
    case 0xd9:
    case 0xda:
    case 0xdb:
        if (!s_rd_be(r, 1u << (b - 0xd9), &x))
            return false;
        v->type = MT_STR, v->len = (uint32_t)x, v->ptr = r->p;
        return s_rd_skip(r, x);
    case 0xdc:
    case 0xdd:
        if (!s_rd_be(r, 2u << (b - 0xdc), &x))
            return false;
        v->type = MT_ARRAY, v->len = (uint32_t)x;
        return true;
    case 0xde:
    case 0xdf:
        if (!s_rd_be(r, 2u << (b - 0xde), &x))
            return false;
        v->type = MT_MAP, v->len = (uint32_t)x;
        return true;
    default: /* 0xc1: reserved; the pre-walk rejects it */
        return false;
    }
}

/* ---- decoding ---------------------------------------------------------------------------- */

/* Where the decoder is, kept as data and formatted only when it fails (a SUBMIT of 10^6 jobs
 * must not pay for formatting a path per field). */
typedef struct s_frame {
    const s_field_t *f;
    unsigned pos;  /* 1-based position in the enclosing array */
    uint32_t item; /* 1-based element of an array field; 0 = none */
} s_frame_t;

typedef struct s_dec {
    char *why;
    size_t why_len;
    const char *kname; /* the kind's name once known */
    s_frame_t frames[WF_MAX_DEPTH];
    int depth;
    wf_cmsg_t *out; /* owns the arena */
    bool have_corr;
    uint64_t corr;
    size_t spent;   /* bytes of arrays allocated so far for this message */
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
s_want(s_dec_t *d, const s_val_t *v, s_mtype t)
{
    return s_fail(d, WEFT_EPROTO, "expected %s, got %s", s_mtype_names[t],
                  s_mtype_names[v->type]);
}

/* Read a str and check it with `check`; copy it NUL-terminated into dst. */
static int
s_dec_cstr(s_dec_t *d, s_rd_t *r, char *dst, int (*check)(const char *, size_t, const char **))
{
    s_val_t v;
    const char *why;
    if (!s_rd_next(r, &v))
        return s_trunc(d);
    if (v.type != MT_STR)
        return s_want(d, &v, MT_STR);
    int rc = check((const char *)v.ptr, v.len, &why);
    if (rc != WEFT_OK)
        return s_fail(d, rc, "%s", why);
    if (v.len > 0)
        memcpy(dst, v.ptr, v.len);
    dst[v.len] = '\0';
    return WEFT_OK;
}

/* Read an array header for field f and check its count against the range and the bytes left. */
static int
s_dec_count(s_dec_t *d, s_rd_t *r, const s_field_t *f, uint32_t *n_p)
{
    s_val_t v;
    if (!s_rd_next(r, &v))
        return s_trunc(d);
    if (v.type != MT_ARRAY)
        return s_want(d, &v, MT_ARRAY);
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

static int s_dec_record(s_dec_t *d, s_rd_t *r, const s_schema_t *sc, void *base);

static int
s_dec_value(s_dec_t *d, s_rd_t *r, const s_field_t *f, void *base)
{
    char *dst = (char *)base + f->off;
    s_val_t v;
    int rc;
    uint32_t n = 0;

    switch (f->type) {
    case FT_UINT:
        if (!s_rd_next(r, &v))
            return s_trunc(d);
        if (v.type != MT_UINT)
            return s_want(d, &v, MT_UINT);
        if (v.u < f->lo || v.u > f->hi)
            return s_fail(d, WEFT_EPROTO, "%llu out of range %llu..%llu", (unsigned long long)v.u,
                          (unsigned long long)f->lo, (unsigned long long)f->hi);
        s_set_u(base, f, v.u);
        return WEFT_OK;
    case FT_INT:
        if (!s_rd_next(r, &v))
            return s_trunc(d);
        if (v.type == MT_UINT && v.u <= (uint64_t)f->shi) {
            s_set_i(base, f, (int64_t)v.u);
        } else if (v.type == MT_NINT && v.i >= f->slo) {
            s_set_i(base, f, v.i);
        } else if (v.type == MT_UINT || v.type == MT_NINT) {
            return s_fail(d, WEFT_EPROTO, "out of range %lld..%lld", (long long)f->slo,
                          (long long)f->shi);
        } else {
            return s_fail(d, WEFT_EPROTO, "expected int, got %s", s_mtype_names[v.type]);
        }
        return WEFT_OK;
    case FT_NAME:
        return s_dec_cstr(d, r, dst, wf_codec_check_name);
    case FT_NAME_OPT: {
        s_rd_t peek = *r;
        if (!s_rd_next(&peek, &v))
            return s_trunc(d);
        if (v.type == MT_NIL) {
            *r = peek;
            dst[0] = '\0';
            return WEFT_OK;
        }
        if (v.type != MT_STR)
            return s_fail(d, WEFT_EPROTO, "expected str or nil, got %s", s_mtype_names[v.type]);
        if (v.len == 0)
            return s_fail(d, WEFT_EPROTO, "empty name (send nil for none)");
        return s_dec_cstr(d, r, dst, wf_codec_check_name);
    }
    case FT_NAME_EV: {
        s_rd_t peek = *r;
        if (!s_rd_next(&peek, &v))
            return s_trunc(d);
        if (v.type == MT_STR && v.len == 0) {
            *r = peek;
            dst[0] = '\0';
            return WEFT_OK;
        }
        return s_dec_cstr(d, r, dst, wf_codec_check_name);
    }
    case FT_TEXT:
        return s_dec_cstr(d, r, dst, wf_codec_check_text);
    case FT_MODE:
        return s_dec_cstr(d, r, dst, s_check_mode);
    case FT_VERSION:
        return s_dec_cstr(d, r, dst, s_check_version);
    case FT_BIN:
        if (!s_rd_next(r, &v))
            return s_trunc(d);
        if (v.type != MT_BIN)
            return s_want(d, &v, MT_BIN);
        if (v.len > f->hi)
            return s_fail(d, WEFT_ETOOBIG, "%u bytes exceed the limit of %llu", v.len,
                          (unsigned long long)f->hi);
        /* Borrowed from the caller's buffer; NULL when empty, so it never points past it. */
        s_set_ptr(base, f->off, v.len ? v.ptr : NULL);
        s_set_cnt(base, f->cnt, v.len);
        return WEFT_OK;
    case FT_NAMES:
    case FT_TEXTS:
    case FT_RECORDS: {
        if ((rc = s_dec_count(d, r, f, &n)) != WEFT_OK)
            return rc;
        size_t stride = f->type == FT_NAMES   ? WF_MAX_NAME + 1
                        : f->type == FT_TEXTS ? WF_MAX_MESSAGE + 1
                                              : f->size;
        /* Decoded arrays are wider than their wire form (a 2-byte name takes a 129-byte
         * slot): keep the whole message within WF_MAX_CLIENT_DECODED. */
        if ((uint64_t)n * stride > WF_MAX_CLIENT_DECODED - d->spent)
            return s_fail(d, WEFT_ETOOBIG, "the message would decode to more than %llu bytes",
                          (unsigned long long)WF_MAX_CLIENT_DECODED);
        d->spent += (size_t)n * stride;
        char *arr = n ? s_alloc(d->out, (size_t)n * stride) : NULL;
        s_set_ptr(base, f->off, arr);
        s_set_cnt(base, f->cnt, n);
        s_frame_t *fr = &d->frames[d->depth - 1];
        for (uint32_t i = 0; i < n; i++) {
            char *e = arr + (size_t)i * stride;
            fr->item = i + 1;
            if (f->type == FT_NAMES)
                rc = s_dec_cstr(d, r, e, wf_codec_check_name);
            else if (f->type == FT_TEXTS)
                rc = s_dec_cstr(d, r, e, wf_codec_check_text);
            else
                rc = s_dec_record(d, r, f->sub, e);
            if (rc != WEFT_OK)
                return rc;
        }
        fr->item = 0;
        return WEFT_OK;
    }
    case FT_POOLS: {
        wf_csubmit_t *sub = &((wf_cmsg_t *)base)->submit;
        if ((rc = s_dec_count(d, r, f, &n)) != WEFT_OK)
            return rc;
        if (n > 0) {
            sub->pool_names = s_alloc(d->out, (size_t)n * sizeof *sub->pool_names);
            sub->pool_limits = s_alloc(d->out, (size_t)n * sizeof *sub->pool_limits);
        }
        sub->npools = n;
        s_frame_t *fr = &d->frames[d->depth - 1];
        for (uint32_t i = 0; i < n; i++) {
            fr->item = i + 1;
            if (!s_rd_next(r, &v))
                return s_trunc(d);
            if (v.type != MT_ARRAY || v.len != 2)
                return s_fail(d, WEFT_EPROTO, "expected [name, limit]");
            if ((rc = s_dec_cstr(d, r, sub->pool_names[i], wf_codec_check_name)) != WEFT_OK)
                return rc;
            if (!s_rd_next(r, &v))
                return s_trunc(d);
            if (v.type != MT_UINT)
                return s_fail(d, WEFT_EPROTO, "limit: expected uint, got %s",
                              s_mtype_names[v.type]);
            if (v.u < 1 || v.u > UINT32_MAX)
                return s_fail(d, WEFT_EPROTO, "limit %llu out of range 1..4294967295",
                              (unsigned long long)v.u);
            sub->pool_limits[i] = (uint32_t)v.u;
        }
        fr->item = 0;
        return WEFT_OK;
    }
    case FT_COUNTS:
        if (!s_rd_next(r, &v))
            return s_trunc(d);
        if (v.type != MT_ARRAY)
            return s_want(d, &v, MT_ARRAY);
        if (v.len != WEFT_JOB_STATE_COUNT_)
            return s_fail(d, WEFT_EPROTO, "%u counts, expected %d (one per job state)", v.len,
                          WEFT_JOB_STATE_COUNT_);
        for (unsigned i = 0; i < WEFT_JOB_STATE_COUNT_; i++) {
            if (!s_rd_next(r, &v))
                return s_trunc(d);
            if (v.type != MT_UINT)
                return s_fail(d, WEFT_EPROTO, "count %u: expected uint, got %s", i + 1,
                              s_mtype_names[v.type]);
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
s_dec_field(s_dec_t *d, s_rd_t *r, const s_field_t *f, unsigned pos, void *base)
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
s_dec_record(s_dec_t *d, s_rd_t *r, const s_schema_t *sc, void *base)
{
    s_val_t v;
    if (!s_rd_next(r, &v))
        return s_trunc(d);
    if (v.type != MT_ARRAY)
        return s_fail(d, WEFT_EPROTO, "%s: expected array, got %s", sc->name,
                      s_mtype_names[v.type]);
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
s_peek_corr(s_dec_t *d, s_rd_t *r, uint32_t nel)
{
    s_val_t v;
    if (nel < S_PREFIX || !s_rd_next(r, &v) || v.type != MT_UINT || !s_rd_next(r, &v) ||
        v.type != MT_UINT)
        return;
    d->have_corr = true;
    d->corr = v.u;
}

static int
s_dec_message(s_dec_t *d, s_rd_t *r, wf_cmsg_t *out)
{
    static const char sig[] = WF_PROTO_SIGNATURE;
    s_val_t top, v;

    if (!s_rd_next(r, &top))
        return s_trunc(d);
    if (top.type != MT_ARRAY)
        return s_fail(d, WEFT_EPROTO, "not an array (got %s)", s_mtype_names[top.type]);
    uint32_t nel = top.len;
    if (nel < 1 || !s_rd_next(r, &v) || v.type != MT_STR || v.len != sizeof sig - 1 ||
        memcmp(v.ptr, sig, sizeof sig - 1) != 0)
        return s_fail(d, WEFT_EPROTO, "bad signature");
    if (nel < 2)
        return s_fail(d, WEFT_EPROTO, "missing version");
    if (!s_rd_next(r, &v))
        return s_trunc(d);
    if (v.type != MT_UINT)
        return s_fail(d, WEFT_EPROTO, "version: expected uint, got %s", s_mtype_names[v.type]);
    if (v.u < WF_CLIENT_VERSION_MIN || v.u > WF_CLIENT_VERSION) {
        s_peek_corr(d, r, nel);
        return s_fail(d, WEFT_EVERSION, "version %llu not supported (this peer speaks %d..%d)",
                      (unsigned long long)v.u, WF_CLIENT_VERSION_MIN, WF_CLIENT_VERSION);
    }
    if (nel < 3)
        return s_fail(d, WEFT_EPROTO, "missing kind");
    if (!s_rd_next(r, &v))
        return s_trunc(d);
    if (v.type != MT_UINT)
        return s_fail(d, WEFT_EPROTO, "kind: expected uint, got %s", s_mtype_names[v.type]);
    const s_kind_t *k = s_kind(v.u);
    if (!k)
        return s_fail(d, WEFT_EPROTO, "unknown kind %llu", (unsigned long long)v.u);
    d->kname = k->name;
    out->kind = (wf_cmsg_kind)v.u;
    if (nel < 4)
        return s_fail(d, WEFT_EPROTO, "%s: missing corr", k->name);
    if (!s_rd_next(r, &v))
        return s_trunc(d);
    if (v.type != MT_UINT)
        return s_fail(d, WEFT_EPROTO, "%s: corr: expected uint, got %s", k->name,
                      s_mtype_names[v.type]);
    d->have_corr = true;
    d->corr = v.u;
    out->corr = v.u;
    if (k->corr_zero && v.u != 0)
        return s_fail(d, WEFT_EPROTO, "%s: corr must be 0", k->name);
    if (nel < S_PREFIX + k->nfields)
        return s_fail(d, WEFT_EPROTO, "%s field %u (%s) missing", k->name, nel + 1,
                      k->fields[nel - S_PREFIX].what);
    if (nel > S_PREFIX + k->nfields)
        return s_fail(d, WEFT_EPROTO, "%s has %u extra field(s)", k->name,
                      nel - S_PREFIX - k->nfields);
    for (uint32_t i = 0; i < k->nfields; i++) {
        int rc = s_dec_field(d, r, &k->fields[i], S_PREFIX + i + 1, out);
        if (rc != WEFT_OK)
            return rc;
    }
    const char *why;
    int rc = s_cross(out, &why);
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
    s_dec_t d = { .why = why, .why_len = why_len, .kname = "?", .out = out };

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

    s_rd_t r = { buf, buf + len };
    int rc = s_dec_message(&d, &r, out);
    if (rc == WEFT_OK && r.p != r.end) {
        d.depth = 0;
        rc = s_fail(&d, WEFT_EPROTO, "trailing bytes"); /* the pre-walk should catch it */
    }
    if (rc != WEFT_OK) {
        wf_cmsg_fini(out);
        if (d.have_corr)
            out->corr = d.corr;
    }
    return rc;
}
