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
 * Untrusted input: wf_msgpack_safe() bounds every container count by the bytes left before
 * msgpack-c allocates from it, so a decode allocates at most a small multiple of the frame's
 * size (msgpack-c's zone, freed before returning) plus HELLO's running[] (<= WF_MAX_RUNNING_REPORT
 * entries).  Strings and bytes are read in place; names and messages are copied into the struct.
 *
 * Workload: every frame between the board and its consumers goes through here, a few per job;
 * nothing is cached and there is no shared state, so any thread may call any function.
 */
#include "proto.h"
#include "codec_field.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(WF_PROTO_VERSION_MIN == WF_PROTO_VERSION,
               "the decoder knows one field table; give each version its own before widening");

/* ---- the protocol as data ---------------------------------------------------------------- */

typedef enum s_ftype {
    FT_UINT,    /* msgpack uint in [lo, hi], stored in a uint32_t or uint64_t (size) */
    FT_INT32,   /* msgpack int (either sign) that fits an int32_t */
    FT_NAME,    /* str passing wf_name_ok, copied into char[WF_MAX_NAME + 1] */
    FT_MSG,     /* str of 0..WF_MAX_MESSAGE bytes without NUL, copied into message[] */
    FT_BIN,     /* bin of 0..max bytes, borrowed: pointer + uint32_t length */
    FT_TYPES,   /* array of 1..WF_MAX_TYPES names: ntypes + types[][] */
    FT_RUNNING, /* array of 0..WF_MAX_RUNNING_REPORT [req, idx, attempt]: nrunning + running */
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
    [WF_MSG_WELCOME] = K("WELCOME", s_welcome),
    [WF_MSG_JOB] = K("JOB", s_job),
    [WF_MSG_CANCEL] = K("CANCEL", s_ref_only),
    [WF_MSG_ACK] = K("ACK", s_ref_only),
    [WF_MSG_ERROR] = K("ERROR", s_error),
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

#define S_STR(x) #x
#define S_XSTR(x) S_STR(x)

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
    if (!k)
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

static const char *
s_type_name(msgpack_object_type t)
{
    switch (t) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return "uint";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "negative int";
    case MSGPACK_OBJECT_FLOAT32: return "float32";
    case MSGPACK_OBJECT_FLOAT64: return "float64";
    case MSGPACK_OBJECT_STR: return "str";
    case MSGPACK_OBJECT_ARRAY: return "array";
    case MSGPACK_OBJECT_MAP: return "map";
    case MSGPACK_OBJECT_BIN: return "bin";
    case MSGPACK_OBJECT_EXT: return "ext";
    }
    return "unknown type";
}

/* Field n (1-based array position) of the current kind, for error texts. */
#define S_AT "%s field %u (%s): "

static int
s_dec_uint(s_dec_t *d, const msgpack_object *o, unsigned n, const char *what, uint64_t lo,
           uint64_t hi, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_fail(d, WEFT_EPROTO, S_AT "expected uint, got %s", d->kname, n, what,
                      s_type_name(o->type));
    if (o->via.u64 < lo || o->via.u64 > hi)
        return s_fail(d, WEFT_EPROTO, S_AT "%llu out of range %llu..%llu", d->kname, n, what,
                      (unsigned long long)o->via.u64, (unsigned long long)lo,
                      (unsigned long long)hi);
    *out = o->via.u64;
    return WEFT_OK;
}

static int
s_dec_name(s_dec_t *d, const msgpack_object *o, unsigned n, const char *what, char *dst)
{
    const char *why;
    if (o->type != MSGPACK_OBJECT_STR)
        return s_fail(d, WEFT_EPROTO, S_AT "expected str, got %s", d->kname, n, what,
                      s_type_name(o->type));
    int rc = wf_codec_check_name(o->via.str.ptr, o->via.str.size, &why);
    if (rc != WEFT_OK)
        return s_fail(d, rc, S_AT "%s", d->kname, n, what, why);
    memcpy(dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = '\0';
    return WEFT_OK;
}

static int
s_dec_field(s_dec_t *d, const s_field_t *f, const msgpack_object *o, unsigned n, wf_msg_t *out)
{
    const char *why;
    int rc;
    uint64_t v = 0;

    switch (f->type) {
    case FT_UINT:
        if ((rc = s_dec_uint(d, o, n, f->what, f->lo, f->hi, &v)) != WEFT_OK)
            return rc;
        s_set_uint(out, f, v);
        return WEFT_OK;
    case FT_INT32:
        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT32_MAX) {
            out->exit_code = (int32_t)o->via.u64;
        } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 >= INT32_MIN) {
            out->exit_code = (int32_t)o->via.i64;
        } else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                   o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
            return s_fail(d, WEFT_EPROTO, S_AT "does not fit int32", d->kname, n, f->what);
        } else {
            return s_fail(d, WEFT_EPROTO, S_AT "expected int, got %s", d->kname, n, f->what,
                          s_type_name(o->type));
        }
        return WEFT_OK;
    case FT_NAME:
        return s_dec_name(d, o, n, f->what, (char *)out + f->off);
    case FT_MSG:
        if (o->type != MSGPACK_OBJECT_STR)
            return s_fail(d, WEFT_EPROTO, S_AT "expected str, got %s", d->kname, n, f->what,
                          s_type_name(o->type));
        if ((rc = wf_codec_check_text(o->via.str.ptr, o->via.str.size, &why)) != WEFT_OK)
            return s_fail(d, rc, S_AT "%s", d->kname, n, f->what, why);
        if (o->via.str.size > 0)
            memcpy(out->message, o->via.str.ptr, o->via.str.size);
        out->message[o->via.str.size] = '\0';
        return WEFT_OK;
    case FT_BIN: {
        if (o->type != MSGPACK_OBJECT_BIN)
            return s_fail(d, WEFT_EPROTO, S_AT "expected bin, got %s", d->kname, n, f->what,
                          s_type_name(o->type));
        if (o->via.bin.size > f->hi)
            return s_fail(d, WEFT_ETOOBIG, S_AT "%u bytes exceed the limit of %llu", d->kname, n,
                          f->what, (unsigned)o->via.bin.size, (unsigned long long)f->hi);
        /* Borrowed: msgpack-c points bin objects into the caller's buffer, not its zone. */
        const uint8_t *p = (const uint8_t *)o->via.bin.ptr;
        uint32_t len = o->via.bin.size;
        memcpy((char *)out + f->off, &p, sizeof p);
        memcpy((char *)out + f->len_off, &len, sizeof len);
        return WEFT_OK;
    }
    case FT_TYPES: {
        if (o->type != MSGPACK_OBJECT_ARRAY)
            return s_fail(d, WEFT_EPROTO, S_AT "expected array, got %s", d->kname, n, f->what,
                          s_type_name(o->type));
        uint32_t cnt = o->via.array.size;
        if (cnt == 0)
            return s_fail(d, WEFT_EPROTO, S_AT "no types", d->kname, n, f->what);
        if (cnt > WF_MAX_TYPES)
            return s_fail(d, WEFT_ETOOBIG, S_AT "%u types exceed the limit of %u", d->kname, n,
                          f->what, cnt, WF_MAX_TYPES);
        for (uint32_t i = 0; i < cnt; i++) {
            const msgpack_object *e = &o->via.array.ptr[i];
            if (e->type != MSGPACK_OBJECT_STR)
                return s_fail(d, WEFT_EPROTO, S_AT "type %u: expected str, got %s", d->kname, n,
                              f->what, i + 1, s_type_name(e->type));
            if ((rc = wf_codec_check_name(e->via.str.ptr, e->via.str.size, &why)) != WEFT_OK)
                return s_fail(d, rc, S_AT "type %u: %s", d->kname, n, f->what, i + 1, why);
            memcpy(out->types[i], e->via.str.ptr, e->via.str.size);
            out->types[i][e->via.str.size] = '\0';
        }
        out->ntypes = cnt;
        return WEFT_OK;
    }
    case FT_RUNNING: {
        if (o->type != MSGPACK_OBJECT_ARRAY)
            return s_fail(d, WEFT_EPROTO, S_AT "expected array, got %s", d->kname, n, f->what,
                          s_type_name(o->type));
        uint32_t cnt = o->via.array.size;
        if (cnt > WF_MAX_RUNNING_REPORT)
            return s_fail(d, WEFT_ETOOBIG, S_AT "%u entries exceed the limit of %u", d->kname, n,
                          f->what, cnt, WF_MAX_RUNNING_REPORT);
        if (cnt == 0)
            return WEFT_OK;
        /* Check every entry before allocating, so an error leaves nothing to free. */
        const s_field_t *ref = s_ref_only;
        for (uint32_t i = 0; i < cnt; i++) {
            const msgpack_object *e = &o->via.array.ptr[i];
            if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3)
                return s_fail(d, WEFT_EPROTO, S_AT "entry %u: expected [req, idx, attempt]",
                              d->kname, n, f->what, i + 1);
            for (unsigned j = 0; j < 3; j++) {
                const msgpack_object *x = &e->via.array.ptr[j];
                if (x->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                    return s_fail(d, WEFT_EPROTO, S_AT "entry %u: %s: expected uint, got %s",
                                  d->kname, n, f->what, i + 1, ref[j].what,
                                  s_type_name(x->type));
                if (x->via.u64 < ref[j].lo || x->via.u64 > ref[j].hi)
                    return s_fail(d, WEFT_EPROTO, S_AT "entry %u: %s %llu out of range",
                                  d->kname, n, f->what, i + 1, ref[j].what,
                                  (unsigned long long)x->via.u64);
            }
        }
        wf_attempt_ref_t *run = s_xmalloc(cnt * sizeof *run);
        for (uint32_t i = 0; i < cnt; i++) {
            const msgpack_object *e = o->via.array.ptr[i].via.array.ptr;
            run[i].req = e[0].via.u64;
            run[i].idx = (uint32_t)e[1].via.u64;
            run[i].attempt = (uint32_t)e[2].via.u64;
        }
        out->running = run;
        out->owned_ = run;
        out->nrunning = cnt;
        return WEFT_OK;
    }
    }
    return s_fail(d, WEFT_EPROTO, "internal: unknown field type");
}

/* Decode a parsed object into out; on error out may hold owned storage (the caller fini's). */
static int
s_decode_object(s_dec_t *d, const msgpack_object *top, wf_msg_t *out)
{
    if (top->type != MSGPACK_OBJECT_ARRAY)
        return s_fail(d, WEFT_EPROTO, "not an array (got %s)", s_type_name(top->type));
    const msgpack_object *el = top->via.array.ptr;
    uint32_t nel = top->via.array.size;
    static const char sig[] = WF_PROTO_SIGNATURE;

    if (nel < 1 || el[0].type != MSGPACK_OBJECT_STR || el[0].via.str.size != sizeof sig - 1 ||
        memcmp(el[0].via.str.ptr, sig, sizeof sig - 1) != 0)
        return s_fail(d, WEFT_EPROTO, "bad signature");
    if (nel < 2)
        return s_fail(d, WEFT_EPROTO, "missing version");
    if (el[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_fail(d, WEFT_EPROTO, "version: expected uint, got %s", s_type_name(el[1].type));
    if (el[1].via.u64 < WF_PROTO_VERSION_MIN || el[1].via.u64 > WF_PROTO_VERSION)
        return s_fail(d, WEFT_EVERSION, "version %llu not supported (this peer speaks %d..%d)",
                      (unsigned long long)el[1].via.u64, WF_PROTO_VERSION_MIN, WF_PROTO_VERSION);
    if (nel < 3)
        return s_fail(d, WEFT_EPROTO, "missing kind");
    if (el[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_fail(d, WEFT_EPROTO, "kind: expected uint, got %s", s_type_name(el[2].type));
    const s_kind_t *k = s_kind(el[2].via.u64);
    if (!k)
        return s_fail(d, WEFT_EPROTO, "unknown kind %llu", (unsigned long long)el[2].via.u64);
    d->kname = k->name;
    if (nel < S_PREFIX + k->nfields)
        return s_fail(d, WEFT_EPROTO, "%s field %u (%s) missing", k->name, nel + 1,
                      k->fields[nel - S_PREFIX].what);
    if (nel > S_PREFIX + k->nfields)
        return s_fail(d, WEFT_EPROTO, "%s has %u extra field(s)", k->name,
                      nel - S_PREFIX - k->nfields);
    out->kind = (wf_msg_kind)el[2].via.u64;
    for (uint32_t i = 0; i < k->nfields; i++) {
        int rc = s_dec_field(d, &k->fields[i], &el[S_PREFIX + i], S_PREFIX + i + 1, out);
        if (rc != WEFT_OK)
            return rc;
    }
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
    const char *unsafe = wf_msgpack_check(buf, len, WF_MAX_DEPTH);
    if (unsafe)
        return s_fail(&d, WEFT_EPROTO, "%s", unsafe);

    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    msgpack_unpack_return ur = msgpack_unpack_next(&up, (const char *)buf, len, &off);
    int rc;
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        abort(); /* OOM policy; the pre-walk bounded the zone to a few times len */
    if (ur != MSGPACK_UNPACK_SUCCESS || off != len)
        rc = s_fail(&d, WEFT_EPROTO, "msgpack parse error"); /* the pre-walk should catch all */
    else
        rc = s_decode_object(&d, &up.data, out);
    msgpack_unpacked_destroy(&up);
    if (rc != WEFT_OK)
        wf_msg_fini(out);
    return rc;
}
