/*
 * proto.c -- encode and strictly decode the board protocol's messages (see proto.h and
 * docs/protocol.md).
 *
 * The protocol is data: s_kinds[] lists, per message kind, its positional fields with their
 * type and range.  Encoder and decoder both walk that one table and share one checker per field
 * type, so whatever the encoder writes the decoder accepts and whatever the decoder accepts the
 * encoder can write again: the two are exact inverses over valid messages (the fuzz target
 * checks this).  Field numbers in error texts are 1-based positions in the msgpack array
 * (1 = signature, 2 = version, 3 = kind, 4 = first field), so a peer can find the culprit.
 *
 * Untrusted input: the decoder never builds a tree (msgpack-c's object unpacker would allocate
 * a zone of ~24 bytes per element, ~30 times the frame, before any schema check).
 * wf_msgpack_check() first proves the frame is one well-formed value whose every count is
 * backed by bytes, nested at most WF_MAX_DEPTH deep; then a cursor (mp_reader.h, shared with
 * client.c) reads it in place against the kind's field list.  Names and messages are copied
 * into the struct's fixed arrays, bytes (result, payload, data) are borrowed from the frame.
 * The one allocation a decode can make is HELLO's running[], made only after every entry has
 * been read and checked, so its size (16 bytes per entry of at least 4 bytes on the wire) is at
 * most WF_MSG_DECODE_FACTOR times the frame: proto_test and the fuzz target check it.
 *
 * Workload: every frame between the board and its consumers goes through here, a few per job
 * (JOB, ACK, DONE, HEARTBEAT): one bounds walk and one cursor pass, no allocation but HELLO's.
 * Nothing is cached and there is no shared state, so any thread may call any function.
 */
#include "proto.h"
#include "codec_field.h"
#include "mp_reader.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(WF_PROTO_VERSION_MIN == WF_PROTO_VERSION,
               "the decoder knows one field table; give each version its own before widening");
/* A running[] entry takes at least 4 bytes of the frame (fixarray header, three fixints). */
_Static_assert(sizeof(wf_attempt_ref_t) <= 4 * WF_MSG_DECODE_FACTOR,
               "a running[] entry outgrew WF_MSG_DECODE_FACTOR (proto.h)");

/* ---- the protocol as data ---------------------------------------------------------------- */

typedef enum s_ftype {
    FT_UINT,    /* msgpack uint in [lo, hi], stored in a uint32_t or uint64_t (size) */
    FT_INT32,   /* msgpack int (either sign) that fits an int32_t */
    FT_NAME,    /* str passing wf_name_ok, copied into char[WF_MAX_NAME + 1] */
    FT_MSG,     /* str of 0..WF_MAX_MESSAGE bytes without NUL, copied into message[] */
    FT_BIN,     /* bin of 0..max bytes, borrowed: pointer + uint32_t length */
    FT_TYPES,   /* array of 1..WF_MAX_TYPES names: ntypes + types[][] */
    FT_RUNNING, /* array of 0..WF_MAX_RUNNING_REPORT [req, idx, attempt]: nrunning + running */
    FT_STREAM,  /* str "out" or "err" (a log stream), copied into stream[4] */
} s_ftype;

typedef struct s_field {
    const char *what; /* for error texts */
    s_ftype type;
    size_t off;       /* offset of the value (FT_BIN: of the pointer) in wf_msg_t */
    size_t size;      /* FT_UINT: sizeof the stored integer */
    uint64_t lo, hi;  /* FT_UINT: inclusive range; FT_BIN: hi = max bytes */
    size_t len_off;   /* FT_BIN: offset of the uint32_t length */
} s_field_t;

#define F_U32(w, member, l, h) \
    { w, FT_UINT, offsetof(wf_msg_t, member), sizeof(uint32_t), (l), (h), 0 }
#define F_U64(w, member, l, h) \
    { w, FT_UINT, offsetof(wf_msg_t, member), sizeof(uint64_t), (l), (h), 0 }
#define F_REF                                                                               \
    { "req", FT_UINT, offsetof(wf_msg_t, ref.req), sizeof(uint64_t), 1, UINT64_MAX, 0 },    \
    F_U32("idx", ref.idx, 0, WF_MAX_JOBS_PER_REQUEST - 1),                                  \
    F_U32("attempt", ref.attempt, 1, UINT32_MAX)
#define F_NAME(w, member) { w, FT_NAME, offsetof(wf_msg_t, member), 0, 0, 0, 0 }
#define F_MSG { "message", FT_MSG, offsetof(wf_msg_t, message), 0, 0, 0, 0 }
#define F_BIN(w, ptr, len, max) \
    { w, FT_BIN, offsetof(wf_msg_t, ptr), 0, 0, (max), offsetof(wf_msg_t, len) }

static const s_field_t s_hello[] = {
    F_NAME("name", name),
    { "types", FT_TYPES, 0, 0, 0, 0, 0 },
    F_U32("slots", slots, 1, WF_MAX_SLOTS),
    F_U32("prefetch", prefetch, 0, WF_MAX_SLOTS - 1),
    F_U32("pid", pid, 0, UINT32_MAX),
    F_NAME("host", host),
    { "running", FT_RUNNING, 0, 0, 0, 0, 0 },
};
static const s_field_t s_progress[] = { F_REF, F_U32("percent", percent, 0, 100), F_MSG };
static const s_field_t s_done[] = { F_REF, F_BIN("result", result, result_len, WF_MAX_RESULT) };
static const s_field_t s_failed[] = {
    F_REF, { "exit_code", FT_INT32, offsetof(wf_msg_t, exit_code), 0, 0, 0, 0 }, F_MSG };
static const s_field_t s_welcome[] = {
    F_U32("heartbeat_ms", heartbeat_ms, 1, WF_PROTO_MAX_HEARTBEAT_MS),
    F_U32("liveness", liveness, 1, WF_PROTO_MAX_LIVENESS),
};
static const s_field_t s_job[] = {
    F_REF,
    F_NAME("job", job),
    F_NAME("type", type),
    F_BIN("payload", payload, payload_len, WF_MAX_PAYLOAD),
    F_U32("timeout_ms", timeout_ms, 0, WF_MAX_TIMEOUT_MS),
};
static const s_field_t s_ref_only[] = { F_REF };
static const s_field_t s_error[] = { F_U32("code", code, 0, WEFT_ERR_COUNT_ - 1), F_MSG };
/* A log read the board relays for a client (docs/protocol.md section 4.6): neither is durable
 * or acknowledged.  LOGDATA's rule across fields (an error carries no bytes) is s_cross's. */
static const s_field_t s_logreq[] = {
    F_U64("corr", corr, 0, UINT64_MAX),
    F_REF,
    F_NAME("job", job),
    { "stream", FT_STREAM, offsetof(wf_msg_t, stream), 0, 0, 0, 0 },
    F_U64("offset", offset, 0, WF_PROTO_MAX_LOG_OFFSET),
    F_U32("max", max, 1, WF_PROTO_MAX_LOG_CHUNK),
};
static const s_field_t s_logdata[] = {
    F_U64("corr", corr, 0, UINT64_MAX),
    F_U32("code", code, 0, WEFT_ERR_COUNT_ - 1),
    F_U64("size", size, 0, WF_PROTO_MAX_LOG_OFFSET),
    F_BIN("data", data, data_len, WF_PROTO_MAX_LOG_CHUNK),
};

typedef struct s_kind {
    const char *name;
    const s_field_t *fields;
    uint32_t nfields;
} s_kind_t;

#define K(name, f) { name, f, sizeof(f) / sizeof(f[0]) }
static const s_kind_t s_kinds[] = {
    [WF_MSG_HELLO] = K("HELLO", s_hello),
    [WF_MSG_HEARTBEAT] = { "HEARTBEAT", NULL, 0 },
    [WF_MSG_PROGRESS] = K("PROGRESS", s_progress),
    [WF_MSG_DONE] = K("DONE", s_done),
    [WF_MSG_FAILED] = K("FAILED", s_failed),
    [WF_MSG_BYE] = { "BYE", NULL, 0 },
    [WF_MSG_LOGDATA] = K("LOGDATA", s_logdata),
    [WF_MSG_WELCOME] = K("WELCOME", s_welcome),
    [WF_MSG_JOB] = K("JOB", s_job),
    [WF_MSG_CANCEL] = K("CANCEL", s_ref_only),
    [WF_MSG_ACK] = K("ACK", s_ref_only),
    [WF_MSG_ERROR] = K("ERROR", s_error),
    [WF_MSG_LOGREQ] = K("LOGREQ", s_logreq),
};
#define S_NKINDS (sizeof(s_kinds) / sizeof(s_kinds[0]))
#define S_PREFIX 3 /* signature, version, kind */

static const s_kind_t *
s_kind(uint64_t kind)
{
    if (kind >= S_NKINDS || !s_kinds[kind].name)
        return NULL;
    return &s_kinds[kind];
}

/* ---- small helpers ----------------------------------------------------------------------- */

static void *
s_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        abort(); /* OOM policy: abort (STYLE 2.4); sizes here are bounded by the limits */
    return p;
}

static uint64_t
s_get_uint(const wf_msg_t *msg, const s_field_t *f)
{
    return wf_field_get_u(msg, f->off, f->size);
}

static void
s_set_uint(wf_msg_t *msg, const s_field_t *f, uint64_t v)
{
    wf_field_set_u(msg, f->off, f->size, v);
}

/* A HELLO running[] entry is checked against the same ranges as a message's ref fields. */
static bool
s_ref_ok(const wf_attempt_ref_t *r)
{
    const uint64_t v[3] = { r->req, r->idx, r->attempt };
    for (unsigned j = 0; j < 3; j++)
        if (v[j] < s_ref_only[j].lo || v[j] > s_ref_only[j].hi)
            return false;
    return true;
}

bool
wf_name_ok(const char *s, size_t len)
{
    if (!s || len < 1 || len > WF_MAX_NAME)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == ':' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* A log stream's name: "out" or "err", nothing else. */
static bool
s_stream_ok(const char *s, size_t len)
{
    return len == 3 && (memcmp(s, "out", 3) == 0 || memcmp(s, "err", 3) == 0);
}

/* Rules across fields, for encoder and decoder alike: a LOGDATA that carries an error carries
 * no size and no bytes, so a reader never mistakes a failed read for an empty log. */
static const char *
s_cross(const wf_msg_t *m)
{
    if (m->kind == WF_MSG_LOGDATA && m->code != WEFT_OK && (m->size != 0 || m->data_len != 0))
        return "LOGDATA: an error code with a size or data";
    return NULL;
}

/* ---- names ------------------------------------------------------------------------------- */

const char *
wf_msg_kind_name(int kind)
{
    const s_kind_t *k = kind >= 0 ? s_kind((uint64_t)kind) : NULL;
    return k ? k->name : "UNKNOWN";
}

void
wf_msg_init(wf_msg_t *msg, wf_msg_kind kind)
{
    /* Every message but HELLO is a few hundred bytes: zeroing the 8 KiB of type names too
     * would be most of the cost of a JOB or an ACK. */
    memset(msg, 0, offsetof(wf_msg_t, types));
    msg->kind = kind;
}

void
wf_msg_fini(wf_msg_t *msg)
{
    if (!msg)
        return;
    free(msg->owned_);
    /* Zero everything so a finalised message holds no pointer into a freed or foreign buffer
     * (the type names hold none and are read only below ntypes). */
    memset(msg, 0, offsetof(wf_msg_t, types));
}

/* ---- encoding ---------------------------------------------------------------------------- */

/* msgpack-c's packer returns -1 only when its buffer cannot grow: out of memory. */
#define S_PACK(call)       \
    do {                   \
        if ((call) != 0)   \
            abort();       \
    } while (0)

static void
s_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    S_PACK(msgpack_pack_str(pk, len));
    if (len > 0)
        S_PACK(msgpack_pack_str_body(pk, s, len));
}

static int
s_encode_field(const wf_msg_t *msg, const s_field_t *f, msgpack_packer *pk)
{
    const char *why = NULL;
    int rc;

    switch (f->type) {
    case FT_UINT: {
        uint64_t v = s_get_uint(msg, f);
        if (v < f->lo || v > f->hi)
            return WEFT_EINVAL;
        S_PACK(msgpack_pack_uint64(pk, v));
        return WEFT_OK;
    }
    case FT_INT32:
        S_PACK(msgpack_pack_int32(pk, msg->exit_code));
        return WEFT_OK;
    case FT_NAME: {
        const char *s = (const char *)msg + f->off;
        size_t len = strnlen(s, WF_MAX_NAME + 1);
        if ((rc = wf_codec_check_name(s, len, &why)) != WEFT_OK)
            return rc == WEFT_ETOOBIG ? WEFT_ETOOBIG : WEFT_EINVAL;
        s_pack_str(pk, s, len);
        return WEFT_OK;
    }
    case FT_MSG: {
        /* An unterminated array reads as WF_MAX_MESSAGE + 1 bytes: too big. */
        size_t len = strnlen(msg->message, WF_MAX_MESSAGE + 1);
        if ((rc = wf_codec_check_text(msg->message, len, &why)) != WEFT_OK)
            return rc == WEFT_ETOOBIG ? WEFT_ETOOBIG : WEFT_EINVAL;
        s_pack_str(pk, msg->message, len);
        return WEFT_OK;
    }
    case FT_BIN: {
        const uint8_t *p;
        uint32_t len;
        memcpy(&p, (const char *)msg + f->off, sizeof p);
        memcpy(&len, (const char *)msg + f->len_off, sizeof len);
        if (len > f->hi)
            return WEFT_ETOOBIG;
        if (len > 0 && !p)
            return WEFT_EINVAL;
        S_PACK(msgpack_pack_bin(pk, len));
        if (len > 0)
            S_PACK(msgpack_pack_bin_body(pk, p, len));
        return WEFT_OK;
    }
    case FT_TYPES:
        if (msg->ntypes == 0)
            return WEFT_EINVAL;
        if (msg->ntypes > WF_MAX_TYPES)
            return WEFT_ETOOBIG;
        S_PACK(msgpack_pack_array(pk, msg->ntypes));
        for (uint32_t i = 0; i < msg->ntypes; i++) {
            size_t len = strnlen(msg->types[i], WF_MAX_NAME + 1);
            if ((rc = wf_codec_check_name(msg->types[i], len, &why)) != WEFT_OK)
                return rc == WEFT_ETOOBIG ? WEFT_ETOOBIG : WEFT_EINVAL;
            s_pack_str(pk, msg->types[i], len);
        }
        return WEFT_OK;
    case FT_RUNNING:
        if (msg->nrunning > WF_MAX_RUNNING_REPORT)
            return WEFT_ETOOBIG;
        if (msg->nrunning > 0 && !msg->running)
            return WEFT_EINVAL;
        S_PACK(msgpack_pack_array(pk, msg->nrunning));
        for (uint32_t i = 0; i < msg->nrunning; i++) {
            const wf_attempt_ref_t *r = &msg->running[i];
            if (!s_ref_ok(r))
                return WEFT_EINVAL;
            S_PACK(msgpack_pack_array(pk, 3));
            S_PACK(msgpack_pack_uint64(pk, r->req));
            S_PACK(msgpack_pack_uint32(pk, r->idx));
            S_PACK(msgpack_pack_uint32(pk, r->attempt));
        }
        return WEFT_OK;
    case FT_STREAM: {
        size_t len = strnlen(msg->stream, sizeof msg->stream);
        if (!s_stream_ok(msg->stream, len))
            return WEFT_EINVAL;
        s_pack_str(pk, msg->stream, len);
        return WEFT_OK;
    }
    }
    return WEFT_EINVAL;
}

int
wf_msg_encode(const wf_msg_t *msg, uint8_t **buf_p, size_t *len_p)
{
    if (!msg || !buf_p || !len_p)
        return WEFT_EINVAL;
    *buf_p = NULL;
    *len_p = 0;
    const s_kind_t *k = (int)msg->kind >= 0 ? s_kind((uint64_t)msg->kind) : NULL;
    if (!k || s_cross(msg))
        return WEFT_EINVAL;

    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    S_PACK(msgpack_pack_array(&pk, S_PREFIX + k->nfields));
    s_pack_str(&pk, WF_PROTO_SIGNATURE, sizeof(WF_PROTO_SIGNATURE) - 1);
    S_PACK(msgpack_pack_uint32(&pk, WF_PROTO_VERSION));
    S_PACK(msgpack_pack_uint32(&pk, (uint32_t)msg->kind));
    for (uint32_t i = 0; i < k->nfields; i++) {
        int rc = s_encode_field(msg, &k->fields[i], &pk);
        if (rc != WEFT_OK) {
            msgpack_sbuffer_destroy(&sb);
            return rc;
        }
    }
    *buf_p = (uint8_t *)sb.data; /* allocated by realloc: the caller free()s it */
    *len_p = sb.size;
    return WEFT_OK;
}

/* ---- decoding ---------------------------------------------------------------------------- */

typedef struct s_dec {
    char *why;
    size_t why_len;
    const char *kname; /* the kind's name once known, for error texts */
} s_dec_t;

static int s_fail(s_dec_t *d, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
s_fail(s_dec_t *d, int rc, const char *fmt, ...)
{
    if (d->why && d->why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->why, d->why_len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* The value's type for error texts: the reader's names, floats by width (as this decoder has
 * always named them). */
static const char *
s_type_name(const wf_mp_val_t *v)
{
    if (v->type == WF_MP_FLOAT)
        return v->len == 4 ? "float32" : "float64";
    return wf_mp_type_name(v->type);
}

/* Field n (1-based array position) of the current kind, for error texts. */
#define S_AT "%s field %u (%s): "

/* The next value; a read that fails is "truncated" (the pre-walk makes it impossible). */
static int
s_next(s_dec_t *d, wf_mp_rd_t *r, wf_mp_val_t *v)
{
    if (!wf_mp_next(r, v)) {
        /* Defined on every path, so no caller reads an unset value (and GCC's -O2
         * maybe-uninitialized analysis, which cannot see through s_fail, agrees). */
        memset(v, 0, sizeof *v);
        return s_fail(d, WEFT_EPROTO, "truncated");
    }
    return WEFT_OK;
}

static int
s_dec_uint(s_dec_t *d, wf_mp_rd_t *r, unsigned n, const char *what, uint64_t lo, uint64_t hi,
           uint64_t *out)
{
    wf_mp_val_t v;
    int rc = s_next(d, r, &v);
    if (rc != WEFT_OK)
        return rc;
    if (v.type != WF_MP_UINT)
        return s_fail(d, WEFT_EPROTO, S_AT "expected uint, got %s", d->kname, n, what,
                      s_type_name(&v));
    if (v.u < lo || v.u > hi)
        return s_fail(d, WEFT_EPROTO, S_AT "%llu out of range %llu..%llu", d->kname, n, what,
                      (unsigned long long)v.u, (unsigned long long)lo, (unsigned long long)hi);
    *out = v.u;
    return WEFT_OK;
}

/* A str for field n, checked by `check` (names, messages) and copied NUL-terminated into dst.
 * A type name is element `type` (1-based) of HELLO's types, which the reason then names;
 * 0 for a str that is the field itself. */
static int
s_dec_str(s_dec_t *d, wf_mp_rd_t *r, unsigned n, const char *what, uint32_t type,
          int (*check)(const char *, size_t, const char **), char *dst)
{
    const char *why;
    wf_mp_val_t v;
    int rc = s_next(d, r, &v);
    if (rc != WEFT_OK)
        return rc;
    if (v.type != WF_MP_STR) {
        if (type)
            return s_fail(d, WEFT_EPROTO, S_AT "type %u: expected str, got %s", d->kname, n,
                          what, type, s_type_name(&v));
        return s_fail(d, WEFT_EPROTO, S_AT "expected str, got %s", d->kname, n, what,
                      s_type_name(&v));
    }
    if ((rc = check((const char *)v.ptr, v.len, &why)) != WEFT_OK) {
        if (type)
            return s_fail(d, rc, S_AT "type %u: %s", d->kname, n, what, type, why);
        return s_fail(d, rc, S_AT "%s", d->kname, n, what, why);
    }
    if (v.len > 0)
        memcpy(dst, v.ptr, v.len);
    dst[v.len] = '\0';
    return WEFT_OK;
}

/* One running[] entry, [req, idx, attempt], checked as a message's ref fields are. */
static int
s_dec_running_entry(s_dec_t *d, wf_mp_rd_t *r, unsigned n, const char *what, uint32_t i,
                    wf_attempt_ref_t *e)
{
    const s_field_t *ref = s_ref_only;
    uint64_t x[3];
    wf_mp_val_t v;
    int rc = s_next(d, r, &v);
    if (rc != WEFT_OK)
        return rc;
    if (v.type != WF_MP_ARRAY || v.len != 3)
        return s_fail(d, WEFT_EPROTO, S_AT "entry %u: expected [req, idx, attempt]", d->kname,
                      n, what, i + 1);
    for (unsigned j = 0; j < 3; j++) {
        if ((rc = s_next(d, r, &v)) != WEFT_OK)
            return rc;
        if (v.type != WF_MP_UINT)
            return s_fail(d, WEFT_EPROTO, S_AT "entry %u: %s: expected uint, got %s", d->kname,
                          n, what, i + 1, ref[j].what, s_type_name(&v));
        if (v.u < ref[j].lo || v.u > ref[j].hi)
            return s_fail(d, WEFT_EPROTO, S_AT "entry %u: %s %llu out of range", d->kname, n,
                          what, i + 1, ref[j].what, (unsigned long long)v.u);
        x[j] = v.u;
    }
    e->req = x[0];
    e->idx = (uint32_t)x[1];
    e->attempt = (uint32_t)x[2];
    return WEFT_OK;
}

/* running[]: checked whole first, reading the frame in place, and only then allocated and
 * filled by reading the same bytes again.  So the allocation is made only for entries the
 * frame really holds (each at least 4 bytes of it), and an error leaves nothing to free. */
static int
s_dec_running(s_dec_t *d, wf_mp_rd_t *r, unsigned n, const s_field_t *f, wf_msg_t *out)
{
    wf_mp_val_t v;
    int rc = s_next(d, r, &v);
    if (rc != WEFT_OK)
        return rc;
    if (v.type != WF_MP_ARRAY)
        return s_fail(d, WEFT_EPROTO, S_AT "expected array, got %s", d->kname, n, f->what,
                      s_type_name(&v));
    uint32_t cnt = v.len;
    if (cnt > WF_MAX_RUNNING_REPORT)
        return s_fail(d, WEFT_ETOOBIG, S_AT "%u entries exceed the limit of %u", d->kname, n,
                      f->what, cnt, WF_MAX_RUNNING_REPORT);
    if (cnt == 0)
        return WEFT_OK;
    wf_mp_rd_t entries = *r;
    wf_attempt_ref_t e;
    for (uint32_t i = 0; i < cnt; i++)
        if ((rc = s_dec_running_entry(d, r, n, f->what, i, &e)) != WEFT_OK)
            return rc;
    wf_attempt_ref_t *run = s_xmalloc(cnt * sizeof *run);
    for (uint32_t i = 0; i < cnt; i++) {
        rc = s_dec_running_entry(d, &entries, n, f->what, i, &run[i]);
        if (rc != WEFT_OK) { /* the same bytes passed above: cannot happen */
            free(run);
            return rc;
        }
    }
    out->running = run;
    out->owned_ = run;
    out->nrunning = cnt;
    return WEFT_OK;
}

static int
s_dec_field(s_dec_t *d, wf_mp_rd_t *r, const s_field_t *f, unsigned n, wf_msg_t *out)
{
    int rc;
    uint64_t u = 0;
    wf_mp_val_t v;

    switch (f->type) {
    case FT_UINT:
        if ((rc = s_dec_uint(d, r, n, f->what, f->lo, f->hi, &u)) != WEFT_OK)
            return rc;
        s_set_uint(out, f, u);
        return WEFT_OK;
    case FT_INT32:
        if ((rc = s_next(d, r, &v)) != WEFT_OK)
            return rc;
        if (v.type == WF_MP_UINT && v.u <= INT32_MAX) {
            out->exit_code = (int32_t)v.u;
        } else if (v.type == WF_MP_NINT && v.i >= INT32_MIN) {
            out->exit_code = (int32_t)v.i;
        } else if (v.type == WF_MP_UINT || v.type == WF_MP_NINT) {
            return s_fail(d, WEFT_EPROTO, S_AT "does not fit int32", d->kname, n, f->what);
        } else {
            return s_fail(d, WEFT_EPROTO, S_AT "expected int, got %s", d->kname, n, f->what,
                          s_type_name(&v));
        }
        return WEFT_OK;
    case FT_NAME:
        return s_dec_str(d, r, n, f->what, 0, wf_codec_check_name, (char *)out + f->off);
    case FT_MSG:
        return s_dec_str(d, r, n, f->what, 0, wf_codec_check_text, out->message);
    case FT_BIN: {
        if ((rc = s_next(d, r, &v)) != WEFT_OK)
            return rc;
        if (v.type != WF_MP_BIN)
            return s_fail(d, WEFT_EPROTO, S_AT "expected bin, got %s", d->kname, n, f->what,
                          s_type_name(&v));
        if (v.len > f->hi)
            return s_fail(d, WEFT_ETOOBIG, S_AT "%u bytes exceed the limit of %llu", d->kname, n,
                          f->what, v.len, (unsigned long long)f->hi);
        /* Borrowed: the bytes stay in the caller's buffer. */
        const uint8_t *p = v.ptr;
        memcpy((char *)out + f->off, &p, sizeof p);
        memcpy((char *)out + f->len_off, &v.len, sizeof v.len);
        return WEFT_OK;
    }
    case FT_TYPES: {
        if ((rc = s_next(d, r, &v)) != WEFT_OK)
            return rc;
        if (v.type != WF_MP_ARRAY)
            return s_fail(d, WEFT_EPROTO, S_AT "expected array, got %s", d->kname, n, f->what,
                          s_type_name(&v));
        uint32_t cnt = v.len;
        if (cnt == 0)
            return s_fail(d, WEFT_EPROTO, S_AT "no types", d->kname, n, f->what);
        if (cnt > WF_MAX_TYPES)
            return s_fail(d, WEFT_ETOOBIG, S_AT "%u types exceed the limit of %u", d->kname, n,
                          f->what, cnt, WF_MAX_TYPES);
        for (uint32_t i = 0; i < cnt; i++)
            if ((rc = s_dec_str(d, r, n, f->what, i + 1, wf_codec_check_name, out->types[i])) !=
                WEFT_OK)
                return rc;
        out->ntypes = cnt;
        return WEFT_OK;
    }
    case FT_RUNNING:
        return s_dec_running(d, r, n, f, out);
    case FT_STREAM:
        if ((rc = s_next(d, r, &v)) != WEFT_OK)
            return rc;
        if (v.type != WF_MP_STR)
            return s_fail(d, WEFT_EPROTO, S_AT "expected str, got %s", d->kname, n, f->what,
                          s_type_name(&v));
        if (!s_stream_ok((const char *)v.ptr, v.len))
            return s_fail(d, WEFT_EPROTO, S_AT "not \"out\" or \"err\"", d->kname, n, f->what);
        memcpy(out->stream, v.ptr, 3);
        out->stream[3] = '\0';
        return WEFT_OK;
    }
    return s_fail(d, WEFT_EPROTO, "internal: unknown field type");
}

/* The frame, read in place: the prefix, the field count, then each field in order. */
static int
s_decode_frame(s_dec_t *d, wf_mp_rd_t *r, wf_msg_t *out)
{
    static const char sig[] = WF_PROTO_SIGNATURE;
    wf_mp_val_t top, v;
    int rc;

    if ((rc = s_next(d, r, &top)) != WEFT_OK)
        return rc;
    if (top.type != WF_MP_ARRAY)
        return s_fail(d, WEFT_EPROTO, "not an array (got %s)", s_type_name(&top));
    uint32_t nel = top.len;
    if (nel < 1 || !wf_mp_next(r, &v) || v.type != WF_MP_STR || v.len != sizeof sig - 1 ||
        memcmp(v.ptr, sig, sizeof sig - 1) != 0)
        return s_fail(d, WEFT_EPROTO, "bad signature");
    if (nel < 2)
        return s_fail(d, WEFT_EPROTO, "missing version");
    if ((rc = s_next(d, r, &v)) != WEFT_OK)
        return rc;
    if (v.type != WF_MP_UINT)
        return s_fail(d, WEFT_EPROTO, "version: expected uint, got %s", s_type_name(&v));
    if (v.u < WF_PROTO_VERSION_MIN || v.u > WF_PROTO_VERSION)
        return s_fail(d, WEFT_EVERSION, "version %llu not supported (this peer speaks %d..%d)",
                      (unsigned long long)v.u, WF_PROTO_VERSION_MIN, WF_PROTO_VERSION);
    if (nel < 3)
        return s_fail(d, WEFT_EPROTO, "missing kind");
    if ((rc = s_next(d, r, &v)) != WEFT_OK)
        return rc;
    if (v.type != WF_MP_UINT)
        return s_fail(d, WEFT_EPROTO, "kind: expected uint, got %s", s_type_name(&v));
    const s_kind_t *k = s_kind(v.u);
    if (!k)
        return s_fail(d, WEFT_EPROTO, "unknown kind %llu", (unsigned long long)v.u);
    d->kname = k->name;
    if (nel < S_PREFIX + k->nfields)
        return s_fail(d, WEFT_EPROTO, "%s field %u (%s) missing", k->name, nel + 1,
                      k->fields[nel - S_PREFIX].what);
    if (nel > S_PREFIX + k->nfields)
        return s_fail(d, WEFT_EPROTO, "%s has %u extra field(s)", k->name,
                      nel - S_PREFIX - k->nfields);
    out->kind = (wf_msg_kind)v.u;
    for (uint32_t i = 0; i < k->nfields; i++)
        if ((rc = s_dec_field(d, r, &k->fields[i], S_PREFIX + i + 1, out)) != WEFT_OK)
            return rc;
    if (r->p != r->end) /* the pre-walk proved the array spans the frame: cannot happen */
        return s_fail(d, WEFT_EPROTO, "trailing bytes");
    const char *cross = s_cross(out);
    if (cross)
        return s_fail(d, WEFT_EPROTO, "%s", cross);
    return WEFT_OK;
}

int
wf_msg_decode(const uint8_t *buf, size_t len, wf_msg_t *out, char *why, size_t why_len)
{
    s_dec_t d = { why, why_len, "?" };

    if (why && why_len > 0)
        why[0] = '\0';
    if (!out)
        return s_fail(&d, WEFT_EINVAL, "no output message");
    /* out may be uninitialised: never free what it holds. */
    memset(out, 0, offsetof(wf_msg_t, types));
    if (!buf && len > 0)
        return s_fail(&d, WEFT_EINVAL, "no buffer");
    if (len == 0)
        return s_fail(&d, WEFT_EPROTO, "empty frame");
    if (len > (uint64_t)WF_MAX_WIRE_MSG)
        return s_fail(&d, WEFT_ETOOBIG, "frame of %zu bytes exceeds %lld", len,
                      (long long)WF_MAX_WIRE_MSG);
    /* Structure first (counts backed by bytes, depth, truncation, trailing bytes), so those
     * errors read the same whatever the schema walk would have found first. */
    const char *unsafe = wf_msgpack_check(buf, len, WF_MAX_DEPTH);
    if (unsafe)
        return s_fail(&d, WEFT_EPROTO, "%s", unsafe);
    wf_mp_rd_t r = { buf, buf + len };
    int rc = s_decode_frame(&d, &r, out);
    if (rc != WEFT_OK)
        wf_msg_fini(out);
    return rc;
}

size_t
wf_msg_decoded_size(const wf_msg_t *msg)
{
    return msg && msg->owned_ ? (size_t)msg->nrunning * sizeof *msg->running : 0;
}
