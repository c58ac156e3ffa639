/*
 * proto_test.c -- unit tests of the board protocol codec (proto/proto.c).
 *
 * What is covered: a round trip of every kind at its lower and upper bounds; each class of
 * rejection the decoder promises (signature, version, kind, field count, field type, integer
 * range, names, messages, byte limits, list limits, lying container counts, nesting, trailing
 * bytes, truncation at every offset); the encoder refusing what the decoder would reject; and a
 * seeded loop of random bytes and mutations that must never crash, leak or break the
 * decode -> encode -> decode round trip; and what a decode allocates (worst-case frames, and
 * every frame the other tests decode), counted by a hook on the allocator, against
 * WF_MSG_DECODE_FACTOR.  Malformed frames are built by unpacking a valid encoding with
 * msgpack-c, editing the top-level array and packing it again.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "proto.h"

/* ---- counting what a decode allocates ---------------------------------------------------- */
/* Bytes asked of malloc, calloc and realloc between s_count_start and s_count_stop: an upper
 * bound on what the code in between held at any moment, transient allocations included (a
 * mallinfo2 before and after would miss those).  Under AddressSanitizer the sanitizer's
 * allocation hook counts them; otherwise this program's malloc, calloc and realloc do, and hand
 * the call on to glibc's.  The tests are single-threaded, so nothing else allocates meanwhile. */

static bool s_counting;
static size_t s_counted;

static void
s_count(size_t n)
{
    if (s_counting)
        s_counted += n;
}

#if defined(__SANITIZE_ADDRESS__)
#define S_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_ASAN 1
#endif
#endif

#ifdef S_ASAN
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

static void
s_malloc_hook(const volatile void *p, size_t n)
{
    (void)p;
    s_count(n);
}

static void
s_free_hook(const volatile void *p)
{
    (void)p;
}

static void
s_count_install(void)
{
    static bool installed;
    if (!installed)
        installed = __sanitizer_install_malloc_and_free_hooks(s_malloc_hook, s_free_hook) != 0;
    assert_true(installed);
}
#else
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);

void *
malloc(size_t n)
{
    s_count(n);
    return __libc_malloc(n);
}

void *
calloc(size_t n, size_t size)
{
    size_t bytes;
    s_count(__builtin_mul_overflow(n, size, &bytes) ? SIZE_MAX : bytes);
    return __libc_calloc(n, size);
}

void *
realloc(void *p, size_t n)
{
    s_count(n);
    return __libc_realloc(p, n);
}

static void
s_count_install(void)
{
}
#endif

static void
s_count_start(void)
{
    s_count_install();
    s_counted = 0;
    s_counting = true;
}

static size_t
s_count_stop(void)
{
    s_counting = false;
    return s_counted;
}

/* wf_msg_decode, checking what it allocated: nothing unless it decoded a HELLO with running
 * entries, and never more than WF_MSG_DECODE_FACTOR times the frame. */
static int
s_decode(const uint8_t *buf, size_t len, wf_msg_t *m, char *why, size_t why_len)
{
    s_count_start();
    int rc = wf_msg_decode(buf, len, m, why, why_len);
    size_t bytes = s_count_stop();
    if (bytes > (size_t)WF_MSG_DECODE_FACTOR * len)
        fail_msg("decoding %zu bytes allocated %zu (the bound: %u times the frame)", len, bytes,
                 WF_MSG_DECODE_FACTOR);
    if (rc != WEFT_OK || m->nrunning == 0)
        assert_int_equal(bytes, 0);
    else
        assert_int_equal(bytes, wf_msg_decoded_size(m));
    return rc;
}

static const int s_all_kinds[] = {
    WF_MSG_HELLO, WF_MSG_HEARTBEAT, WF_MSG_PROGRESS, WF_MSG_DONE,  WF_MSG_FAILED, WF_MSG_BYE,
    WF_MSG_WELCOME, WF_MSG_JOB,     WF_MSG_CANCEL,   WF_MSG_ACK,   WF_MSG_ERROR,
    WF_MSG_LOGREQ,  WF_MSG_LOGDATA,
};
#define S_NKINDS (sizeof s_all_kinds / sizeof s_all_kinds[0])

/* Big buffers for the upper bounds, filled once. */
static uint8_t s_payload[WF_MAX_PAYLOAD + 1];
static uint8_t s_result[WF_MAX_RESULT + 1];
static wf_attempt_ref_t s_running[WF_MAX_RUNNING_REPORT + 1];

/* ---- building messages ------------------------------------------------------------------- */

typedef enum { V_MIN, V_MAX, V_TYPICAL } s_variant;

static void
s_fill_name(char *dst, size_t len, char c)
{
    static const char alphabet[] = "abcXYZ019_.:-";
    for (size_t i = 0; i < len; i++)
        dst[i] = c ? c : alphabet[i % (sizeof alphabet - 1)];
    dst[len] = '\0';
}

static void
s_make(wf_msg_t *m, int kind, s_variant v)
{
    wf_msg_init(m, (wf_msg_kind)kind);
    switch (v) {
    case V_MIN:
        m->ref = (wf_attempt_ref_t){ 1, 0, 1 };
        s_fill_name(m->name, 1, 'n');
        s_fill_name(m->host, 1, 'h');
        m->ntypes = 1;
        s_fill_name(m->types[0], 1, 't');
        m->slots = 1;
        m->prefetch = 0;
        m->pid = 0;
        m->percent = 0;
        m->exit_code = INT32_MIN;
        s_fill_name(m->job, 1, 'j');
        s_fill_name(m->type, 1, 'T');
        m->timeout_ms = 0;
        m->heartbeat_ms = 1;
        m->liveness = 1;
        m->code = 0;
        m->corr = 0;
        strcpy(m->stream, "out");
        m->offset = 0;
        m->max = 1;
        m->size = 0;
        break;
    case V_MAX:
        m->ref = (wf_attempt_ref_t){ UINT64_MAX, WF_MAX_JOBS_PER_REQUEST - 1, UINT32_MAX };
        s_fill_name(m->name, WF_MAX_NAME, 0);
        s_fill_name(m->host, WF_MAX_NAME, 0);
        m->ntypes = WF_MAX_TYPES;
        for (unsigned i = 0; i < WF_MAX_TYPES; i++) {
            s_fill_name(m->types[i], WF_MAX_NAME, 0);
            m->types[i][0] = (char)('A' + i % 26);
            m->types[i][1] = (char)('a' + i / 26);
        }
        m->slots = WF_MAX_SLOTS;
        m->prefetch = WF_MAX_SLOTS - 1;
        m->pid = UINT32_MAX;
        for (unsigned i = 0; i < WF_MAX_RUNNING_REPORT; i++)
            s_running[i] = (wf_attempt_ref_t){ UINT64_MAX - i, WF_MAX_JOBS_PER_REQUEST - 1 - i,
                                               UINT32_MAX - i };
        m->running = s_running;
        m->nrunning = WF_MAX_RUNNING_REPORT;
        m->percent = 100;
        for (unsigned i = 0; i < WF_MAX_MESSAGE; i++)
            m->message[i] = (char)(1 + i % 255); /* every byte but NUL, not valid UTF-8 */
        m->message[WF_MAX_MESSAGE] = '\0';
        m->exit_code = INT32_MAX;
        s_fill_name(m->job, WF_MAX_NAME, 0);
        s_fill_name(m->type, WF_MAX_NAME, 0);
        m->result = s_result;
        m->result_len = WF_MAX_RESULT;
        m->payload = s_payload;
        m->payload_len = WF_MAX_PAYLOAD;
        m->timeout_ms = WF_MAX_TIMEOUT_MS;
        m->heartbeat_ms = WF_PROTO_MAX_HEARTBEAT_MS;
        m->liveness = WF_PROTO_MAX_LIVENESS;
        /* LOGDATA carries bytes only with code 0 (an error carries none). */
        m->code = kind == WF_MSG_LOGDATA ? WEFT_OK : WEFT_ERR_COUNT_ - 1;
        m->corr = UINT64_MAX;
        strcpy(m->stream, "err");
        m->offset = WF_PROTO_MAX_LOG_OFFSET;
        m->max = WF_PROTO_MAX_LOG_CHUNK;
        m->size = WF_PROTO_MAX_LOG_OFFSET;
        m->data = s_payload; /* 1 MiB + 1 bytes */
        m->data_len = WF_PROTO_MAX_LOG_CHUNK;
        break;
    case V_TYPICAL:
        m->ref = (wf_attempt_ref_t){ 300, 70000, 2 };
        strcpy(m->name, "worker-7");
        strcpy(m->host, "build.example.org");
        m->ntypes = 3;
        strcpy(m->types[0], "shell");
        strcpy(m->types[1], "py:train");
        strcpy(m->types[2], "gpu.render");
        m->slots = 8;
        m->prefetch = 8;
        m->pid = 40321;
        m->running = s_running;
        m->nrunning = 2;
        s_running[0] = (wf_attempt_ref_t){ 5, 1, 1 };
        s_running[1] = (wf_attempt_ref_t){ 1u << 20, 65536, 300 };
        m->percent = 50;
        strcpy(m->message, "half way: 50 of 100 files");
        m->exit_code = -9;
        strcpy(m->job, "compile_a");
        strcpy(m->type, "shell");
        m->result = (const uint8_t *)"out/a.o";
        m->result_len = 7;
        m->payload = s_payload;
        m->payload_len = 300;
        m->timeout_ms = 60000;
        m->heartbeat_ms = 1000;
        m->liveness = 3;
        m->code = kind == WF_MSG_LOGDATA ? WEFT_OK : WEFT_EPROTO;
        m->corr = 17;
        strcpy(m->stream, "out");
        m->offset = 4096;
        m->max = 65536;
        m->size = 4103;
        m->data = (const uint8_t *)"hello\nx";
        m->data_len = 7;
        break;
    }
}

static bool
s_bytes_eq(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* The fields the kind carries must match; the others must be zero in the decoded message. */
static void
s_assert_same(const wf_msg_t *src, const wf_msg_t *dec)
{
    static const wf_msg_t zero;
    wf_msg_t exp;

    /* Start from zero and copy exactly the fields this kind carries. */
    memcpy(&exp, &zero, sizeof exp);
    exp.kind = src->kind;
    switch (src->kind) {
    case WF_MSG_HELLO:
        memcpy(exp.name, src->name, sizeof exp.name);
        memcpy(exp.host, src->host, sizeof exp.host);
        exp.ntypes = src->ntypes;
        memcpy(exp.types, src->types, sizeof exp.types);
        exp.slots = src->slots;
        exp.prefetch = src->prefetch;
        exp.pid = src->pid;
        exp.nrunning = src->nrunning;
        break;
    case WF_MSG_PROGRESS:
        exp.ref = src->ref;
        exp.percent = src->percent;
        memcpy(exp.message, src->message, sizeof exp.message);
        break;
    case WF_MSG_DONE:
        exp.ref = src->ref;
        exp.result_len = src->result_len;
        break;
    case WF_MSG_FAILED:
        exp.ref = src->ref;
        exp.exit_code = src->exit_code;
        memcpy(exp.message, src->message, sizeof exp.message);
        break;
    case WF_MSG_WELCOME:
        exp.heartbeat_ms = src->heartbeat_ms;
        exp.liveness = src->liveness;
        break;
    case WF_MSG_JOB:
        exp.ref = src->ref;
        memcpy(exp.job, src->job, sizeof exp.job);
        memcpy(exp.type, src->type, sizeof exp.type);
        exp.payload_len = src->payload_len;
        exp.timeout_ms = src->timeout_ms;
        break;
    case WF_MSG_CANCEL:
    case WF_MSG_ACK:
        exp.ref = src->ref;
        break;
    case WF_MSG_ERROR:
        exp.code = src->code;
        memcpy(exp.message, src->message, sizeof exp.message);
        break;
    case WF_MSG_LOGREQ:
        exp.corr = src->corr;
        exp.ref = src->ref;
        memcpy(exp.job, src->job, sizeof exp.job);
        memcpy(exp.stream, src->stream, sizeof exp.stream);
        exp.offset = src->offset;
        exp.max = src->max;
        break;
    case WF_MSG_LOGDATA:
        exp.corr = src->corr;
        exp.code = src->code;
        exp.size = src->size;
        exp.data_len = src->data_len;
        break;
    default:
        break;
    }
    assert_int_equal(dec->kind, exp.kind);
    assert_true(dec->ref.req == exp.ref.req);
    assert_int_equal(dec->ref.idx, exp.ref.idx);
    assert_int_equal(dec->ref.attempt, exp.ref.attempt);
    assert_string_equal(dec->name, exp.name);
    assert_string_equal(dec->host, exp.host);
    assert_int_equal(dec->ntypes, exp.ntypes);
    for (uint32_t i = 0; i < exp.ntypes; i++)
        assert_string_equal(dec->types[i], exp.types[i]);
    assert_int_equal(dec->slots, exp.slots);
    assert_int_equal(dec->prefetch, exp.prefetch);
    assert_int_equal(dec->pid, exp.pid);
    assert_int_equal(dec->nrunning, exp.nrunning);
    if (exp.nrunning)
        assert_memory_equal(dec->running, src->running, exp.nrunning * sizeof *dec->running);
    else
        assert_null(dec->running);
    assert_int_equal(dec->percent, exp.percent);
    assert_string_equal(dec->message, exp.message);
    assert_string_equal(dec->job, exp.job);
    assert_string_equal(dec->type, exp.type);
    assert_int_equal(dec->exit_code, exp.exit_code);
    assert_true(s_bytes_eq(dec->result, dec->result_len, src->result, exp.result_len));
    assert_true(s_bytes_eq(dec->payload, dec->payload_len, src->payload, exp.payload_len));
    assert_int_equal(dec->timeout_ms, exp.timeout_ms);
    assert_int_equal(dec->heartbeat_ms, exp.heartbeat_ms);
    assert_int_equal(dec->liveness, exp.liveness);
    assert_int_equal(dec->code, exp.code);
    assert_true(dec->corr == exp.corr);
    assert_string_equal(dec->stream, exp.stream);
    assert_true(dec->offset == exp.offset);
    assert_int_equal(dec->max, exp.max);
    assert_true(dec->size == exp.size);
    assert_true(s_bytes_eq(dec->data, dec->data_len, src->data, exp.data_len));
}

static void
s_roundtrip(const wf_msg_t *m)
{
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    wf_msg_t dec;
    char why[256];

    assert_int_equal(wf_msg_encode(m, &buf, &len), WEFT_OK);
    assert_true(len <= (size_t)WF_MAX_WIRE_MSG);
    int rc = s_decode(buf, len, &dec, why, sizeof why);
    if (rc != WEFT_OK)
        fail_msg("%s: %s", wf_msg_kind_name(m->kind), why);
    s_assert_same(m, &dec);
    /* Borrowed bytes point into the frame, not into a copy. */
    if (dec.payload_len)
        assert_true(dec.payload >= buf && dec.payload + dec.payload_len <= buf + len);
    if (dec.result_len)
        assert_true(dec.result >= buf && dec.result + dec.result_len <= buf + len);
    if (dec.data_len)
        assert_true(dec.data >= buf && dec.data + dec.data_len <= buf + len);
    assert_int_equal(wf_msg_encode(&dec, &buf2, &len2), WEFT_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(buf2, buf, len);
    wf_msg_fini(&dec);
    assert_null(dec.owned_);
    free(buf);
    free(buf2);
}

/* ---- editing frames ---------------------------------------------------------------------- */

#define S_MAX_ITEMS 16

typedef struct s_frame {
    uint8_t *enc;               /* the valid encoding the items point into */
    size_t enc_len;
    msgpack_unpacked up;
    msgpack_object items[S_MAX_ITEMS + 2];
    uint32_t n;
} s_frame_t;

static void
s_frame_open(s_frame_t *f, const wf_msg_t *m)
{
    size_t off = 0;
    assert_int_equal(wf_msg_encode(m, &f->enc, &f->enc_len), WEFT_OK);
    msgpack_unpacked_init(&f->up);
    assert_int_equal(msgpack_unpack_next(&f->up, (const char *)f->enc, f->enc_len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(f->up.data.type, MSGPACK_OBJECT_ARRAY);
    f->n = f->up.data.via.array.size;
    assert_true(f->n <= S_MAX_ITEMS);
    memcpy(f->items, f->up.data.via.array.ptr, f->n * sizeof f->items[0]);
}

static void
s_frame_close(s_frame_t *f)
{
    msgpack_unpacked_destroy(&f->up);
    free(f->enc);
}

static uint8_t *
s_pack_objects(const msgpack_object *items, uint32_t n, size_t *len_p)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    assert_int_equal(msgpack_pack_array(&pk, n), 0);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(msgpack_pack_object(&pk, items[i]), 0);
    *len_p = sb.size;
    return (uint8_t *)sb.data;
}

static uint8_t *
s_frame_pack(const s_frame_t *f, size_t *len_p)
{
    return s_pack_objects(f->items, f->n, len_p);
}

/* Decode buf and require rc; if why_part is not NULL, require it in the reason. */
static void
s_expect(const uint8_t *buf, size_t len, int rc, const char *why_part, const char *what)
{
    wf_msg_t m;
    char why[256];
    int got = s_decode(buf, len, &m, why, sizeof why);
    if (got != rc)
        fail_msg("%s: expected %s, got %s (%s)", what, weft_strerror(rc), weft_strerror(got),
                 why);
    if (rc != WEFT_OK) {
        assert_true(why[0] != '\0');
        assert_null(m.owned_);
        assert_null(m.running);
        assert_int_equal(m.nrunning, 0);
        if (why_part && !strstr(why, why_part))
            fail_msg("%s: reason \"%s\" lacks \"%s\"", what, why, why_part);
    }
    wf_msg_fini(&m);
}

static void
s_expect_frame(const s_frame_t *f, int rc, const char *why_part, const char *what)
{
    size_t len;
    uint8_t *buf = s_frame_pack(f, &len);
    s_expect(buf, len, rc, why_part, what);
    free(buf);
}

static msgpack_object
s_o_uint(uint64_t v)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER };
    o.via.u64 = v;
    return o;
}

static msgpack_object
s_o_neg(int64_t v)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_NEGATIVE_INTEGER };
    o.via.i64 = v;
    return o;
}

static msgpack_object
s_o_str(const char *s, size_t len)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_STR };
    o.via.str.ptr = s;
    o.via.str.size = (uint32_t)len;
    return o;
}

static msgpack_object
s_o_bin(const void *p, size_t len)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_BIN };
    o.via.bin.ptr = p;
    o.via.bin.size = (uint32_t)len;
    return o;
}

static msgpack_object
s_o_array(msgpack_object *items, uint32_t n)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_ARRAY };
    o.via.array.ptr = items;
    o.via.array.size = n;
    return o;
}

/* One of each msgpack type, for the wrong-type tests. */
static msgpack_object
s_o_of_type(int i)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_NIL };
    switch (i) {
    case 0: return o;
    case 1: o.type = MSGPACK_OBJECT_BOOLEAN; o.via.boolean = true; return o;
    case 2: return s_o_uint(1);
    case 3: return s_o_neg(-1);
    case 4: o.type = MSGPACK_OBJECT_FLOAT64; o.via.f64 = 1.5; return o;
    case 5: o.type = MSGPACK_OBJECT_FLOAT32; o.via.f64 = 2.5; return o;
    case 6: return s_o_str("x", 1);
    case 7: return s_o_bin("x", 1);
    case 8: return s_o_array(NULL, 0);
    case 9: o.type = MSGPACK_OBJECT_MAP; o.via.map.size = 0; o.via.map.ptr = NULL; return o;
    default:
        o.type = MSGPACK_OBJECT_EXT;
        o.via.ext.type = 1;
        o.via.ext.ptr = "x";
        o.via.ext.size = 1;
        return o;
    }
}
#define S_NTYPES 11

/* ---- tests: names and helpers ------------------------------------------------------------ */

static void
test_proto_name_ok_accepts_only_the_name_alphabet(void **state)
{
    (void)state;
    char name[WF_MAX_NAME + 2];
    assert_true(wf_name_ok("a", 1));
    assert_true(wf_name_ok("Az09_.:-", 8));
    s_fill_name(name, WF_MAX_NAME, 'x');
    assert_true(wf_name_ok(name, WF_MAX_NAME));
    s_fill_name(name, WF_MAX_NAME + 1, 'x');
    assert_false(wf_name_ok(name, WF_MAX_NAME + 1));
    assert_false(wf_name_ok("", 0));
    assert_false(wf_name_ok(NULL, 3));
    assert_false(wf_name_ok("a b", 3));
    assert_false(wf_name_ok("a/b", 3));
    assert_false(wf_name_ok("a\0b", 3));
    assert_false(wf_name_ok("caf\xc3\xa9", 5));
    assert_false(wf_name_ok("x\n", 2));
}

static void
test_proto_kind_names(void **state)
{
    (void)state;
    assert_string_equal(wf_msg_kind_name(WF_MSG_HELLO), "HELLO");
    assert_string_equal(wf_msg_kind_name(WF_MSG_BYE), "BYE");
    assert_string_equal(wf_msg_kind_name(WF_MSG_JOB), "JOB");
    assert_string_equal(wf_msg_kind_name(WF_MSG_ERROR), "ERROR");
    assert_string_equal(wf_msg_kind_name(0), "UNKNOWN");
    assert_string_equal(wf_msg_kind_name(8), "UNKNOWN");
    assert_string_equal(wf_msg_kind_name(WF_MSG_LOGREQ), "LOGREQ");
    assert_string_equal(wf_msg_kind_name(WF_MSG_LOGDATA), "LOGDATA");
    assert_string_equal(wf_msg_kind_name(22), "UNKNOWN");
    assert_string_equal(wf_msg_kind_name(-1), "UNKNOWN");
    for (size_t i = 0; i < S_NKINDS; i++)
        assert_string_not_equal(wf_msg_kind_name(s_all_kinds[i]), "UNKNOWN");
}

static void
test_proto_init_and_fini(void **state)
{
    (void)state;
    wf_msg_t m;
    memset(&m, 0x5a, sizeof m);
    wf_msg_init(&m, WF_MSG_ACK);
    assert_int_equal(m.kind, WF_MSG_ACK);
    assert_null(m.owned_);
    assert_int_equal(m.ref.req, 0);
    wf_msg_fini(&m);
    wf_msg_fini(&m); /* a finalised message may be finalised again */
    wf_msg_fini(NULL);
}

/* ---- tests: round trips ------------------------------------------------------------------ */

static void
test_proto_roundtrip_every_kind_at_lower_bounds(void **state)
{
    (void)state;
    wf_msg_t m;
    for (size_t i = 0; i < S_NKINDS; i++) {
        s_make(&m, s_all_kinds[i], V_MIN);
        s_roundtrip(&m);
    }
    /* Lower bounds that V_MIN leaves at zero-length: empty message, result and payload. */
    s_make(&m, WF_MSG_FAILED, V_MIN);
    m.exit_code = 0;
    s_roundtrip(&m);
    m.exit_code = -1;
    s_roundtrip(&m);
}

static void
test_proto_roundtrip_every_kind_at_upper_bounds(void **state)
{
    (void)state;
    wf_msg_t m;
    for (size_t i = 0; i < S_NKINDS; i++) {
        s_make(&m, s_all_kinds[i], V_MAX);
        s_roundtrip(&m);
    }
}

static void
test_proto_roundtrip_every_kind_typical(void **state)
{
    (void)state;
    wf_msg_t m;
    for (size_t i = 0; i < S_NKINDS; i++) {
        s_make(&m, s_all_kinds[i], V_TYPICAL);
        s_roundtrip(&m);
    }
}

static void
test_proto_decode_accepts_any_int_and_str_format(void **state)
{
    (void)state;
    /* ["WEFT" as str8, 1 as uint64, 19 as int8, req as uint16, idx 0 as int64, attempt uint32]:
     * msgpack allows wider formats than needed; the decoder reads values, not formats. */
    static const uint8_t ack[] = {
        0x96, 0xd9, 0x04, 'W', 'E', 'F', 'T', 0xcf, 0, 0, 0, 0, 0, 0, 0, 1, 0xd0, 19,
        0xcd, 0x01, 0x00, 0xd3, 0, 0, 0, 0, 0, 0, 0, 0, 0xce, 0, 0, 0, 7,
    };
    wf_msg_t m;
    char why[128];
    assert_int_equal(wf_msg_decode(ack, sizeof ack, &m, why, sizeof why), WEFT_OK);
    assert_int_equal(m.kind, WF_MSG_ACK);
    assert_true(m.ref.req == 256);
    assert_int_equal(m.ref.idx, 0);
    assert_int_equal(m.ref.attempt, 7);
    wf_msg_fini(&m);
}

static void
test_proto_decode_out_needs_no_initialisation(void **state)
{
    (void)state;
    wf_msg_t src, m;
    uint8_t *buf;
    size_t len;
    s_make(&src, WF_MSG_HELLO, V_TYPICAL);
    assert_int_equal(wf_msg_encode(&src, &buf, &len), WEFT_OK);
    memset(&m, 0xa5, sizeof m); /* garbage must be neither read nor freed */
    assert_int_equal(wf_msg_decode(buf, len, &m, NULL, 0), WEFT_OK);
    s_assert_same(&src, &m);
    wf_msg_fini(&m);
    memset(&m, 0xa5, sizeof m);
    assert_int_equal(wf_msg_decode(buf, len - 1, &m, NULL, 0), WEFT_EPROTO);
    assert_null(m.owned_);
    free(buf);
}

/* ---- tests: prefix ----------------------------------------------------------------------- */

static void
test_proto_rejects_bad_signature(void **state)
{
    (void)state;
    wf_msg_t m;
    s_frame_t f;
    s_make(&m, WF_MSG_HEARTBEAT, V_MIN);
    s_frame_open(&f, &m);
    msgpack_object good = f.items[0];

    const char *sigs[] = { "WEFX", "WEF", "WEFTT", "weft", "" };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        f.items[0] = s_o_str(sigs[i], strlen(sigs[i]));
        s_expect_frame(&f, WEFT_EPROTO, "bad signature", sigs[i]);
    }
    f.items[0] = s_o_bin("WEFT", 4);
    s_expect_frame(&f, WEFT_EPROTO, "bad signature", "signature as bin");
    f.items[0] = s_o_uint(1);
    s_expect_frame(&f, WEFT_EPROTO, "bad signature", "signature as uint");
    /* A bad signature wins over a bad version: a stranger is not told about versions. */
    f.items[0] = s_o_str("ZMTP", 4);
    f.items[1] = s_o_uint(9);
    s_expect_frame(&f, WEFT_EPROTO, "bad signature", "stranger with other version");
    f.items[0] = good;
    f.items[1] = s_o_uint(WF_PROTO_VERSION);

    /* Not an array at all, or an empty one. */
    static const uint8_t map[] = { 0x81, 0xa4, 'W', 'E', 'F', 'T', 0x01 };
    s_expect(map, sizeof map, WEFT_EPROTO, "not an array", "map");
    static const uint8_t str[] = { 0xa4, 'W', 'E', 'F', 'T' };
    s_expect(str, sizeof str, WEFT_EPROTO, "not an array", "str");
    static const uint8_t empty[] = { 0x90 };
    s_expect(empty, sizeof empty, WEFT_EPROTO, "bad signature", "empty array");
    static const uint8_t sig_only[] = { 0x91, 0xa4, 'W', 'E', 'F', 'T' };
    s_expect(sig_only, sizeof sig_only, WEFT_EPROTO, "missing version", "signature only");
    static const uint8_t no_kind[] = { 0x92, 0xa4, 'W', 'E', 'F', 'T', 0x01 };
    s_expect(no_kind, sizeof no_kind, WEFT_EPROTO, "missing kind", "no kind");
    s_frame_close(&f);
}

static void
test_proto_other_version_is_eversion(void **state)
{
    (void)state;
    wf_msg_t m;
    s_frame_t f;
    s_make(&m, WF_MSG_HELLO, V_TYPICAL);
    s_frame_open(&f, &m);
    uint64_t versions[] = { 0, WF_PROTO_VERSION + 1, 255, UINT64_MAX };
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        f.items[1] = s_o_uint(versions[i]);
        s_expect_frame(&f, WEFT_EVERSION, "not supported", "other version");
    }
    /* A future version may change everything after the version: still EVERSION. */
    f.items[1] = s_o_uint(2);
    f.n = 2;
    s_expect_frame(&f, WEFT_EVERSION, "version 2 not supported (this peer speaks 1..1)", "v2");
    f.n = 3;
    f.items[2] = s_o_str("hello", 5);
    s_expect_frame(&f, WEFT_EVERSION, NULL, "v2 with a str kind");
    /* A version that is not a uint is malformed, not another version. */
    f.items[1] = s_o_neg(-1);
    s_expect_frame(&f, WEFT_EPROTO, "version: expected uint", "negative version");
    f.items[1] = s_o_str("1", 1);
    s_expect_frame(&f, WEFT_EPROTO, "version: expected uint", "str version");
    s_frame_close(&f);
}

static void
test_proto_rejects_unknown_kind(void **state)
{
    (void)state;
    wf_msg_t m;
    s_frame_t f;
    s_make(&m, WF_MSG_HEARTBEAT, V_MIN);
    s_frame_open(&f, &m);
    uint64_t kinds[] = { 0, 8, 15, 22, 99, 1000, UINT64_MAX };
    char want[64];
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        f.items[2] = s_o_uint(kinds[i]);
        snprintf(want, sizeof want, "unknown kind %llu", (unsigned long long)kinds[i]);
        s_expect_frame(&f, WEFT_EPROTO, want, want);
    }
    f.items[2] = s_o_str("HELLO", 5);
    s_expect_frame(&f, WEFT_EPROTO, "kind: expected uint", "kind as str");
    f.items[2] = s_o_neg(-2);
    s_expect_frame(&f, WEFT_EPROTO, "kind: expected uint", "negative kind");
    s_frame_close(&f);
}

/* ---- tests: field count and types -------------------------------------------------------- */

static void
test_proto_rejects_missing_field(void **state)
{
    (void)state;
    for (size_t k = 0; k < S_NKINDS; k++) {
        wf_msg_t m;
        s_frame_t f;
        s_make(&m, s_all_kinds[k], V_TYPICAL);
        s_frame_open(&f, &m);
        msgpack_object all[S_MAX_ITEMS];
        uint32_t n = f.n;
        memcpy(all, f.items, n * sizeof all[0]);
        /* Drop each field in turn (the rest shift left), and drop the tail. */
        for (uint32_t drop = 3; drop < n; drop++) {
            uint32_t j = 0;
            for (uint32_t i = 0; i < n; i++)
                if (i != drop)
                    f.items[j++] = all[i];
            f.n = n - 1;
            s_expect_frame(&f, WEFT_EPROTO, "missing", wf_msg_kind_name(m.kind));
        }
        memcpy(f.items, all, n * sizeof all[0]);
        for (uint32_t keep = 3; keep < n; keep++) {
            f.n = keep;
            s_expect_frame(&f, WEFT_EPROTO, "missing", wf_msg_kind_name(m.kind));
        }
        s_frame_close(&f);
    }
    /* The reason names the first missing field by position and name. */
    wf_msg_t m;
    s_frame_t f;
    s_make(&m, WF_MSG_JOB, V_TYPICAL);
    s_frame_open(&f, &m);
    f.n = 8;
    s_expect_frame(&f, WEFT_EPROTO, "JOB field 9 (payload) missing", "JOB without payload");
    s_frame_close(&f);
}

static void
test_proto_rejects_extra_field(void **state)
{
    (void)state;
    for (size_t k = 0; k < S_NKINDS; k++) {
        wf_msg_t m;
        s_frame_t f;
        s_make(&m, s_all_kinds[k], V_TYPICAL);
        s_frame_open(&f, &m);
        for (int t = 0; t < S_NTYPES; t++) {
            f.items[f.n] = s_o_of_type(t);
            f.n++;
            s_expect_frame(&f, WEFT_EPROTO, "extra field", wf_msg_kind_name(m.kind));
            f.n--;
        }
        f.items[f.n] = s_o_uint(0);
        f.items[f.n + 1] = s_o_uint(0);
        f.n += 2;
        s_expect_frame(&f, WEFT_EPROTO, "2 extra field", wf_msg_kind_name(m.kind));
        s_frame_close(&f);
    }
}

static bool
s_same_class(msgpack_object_type a, msgpack_object_type b, bool field_is_int)
{
    if (a == b)
        return true;
    bool ai = a == MSGPACK_OBJECT_POSITIVE_INTEGER || a == MSGPACK_OBJECT_NEGATIVE_INTEGER;
    bool bi = b == MSGPACK_OBJECT_POSITIVE_INTEGER || b == MSGPACK_OBJECT_NEGATIVE_INTEGER;
    return field_is_int && ai && bi;
}

static void
test_proto_rejects_wrong_type_in_every_field(void **state)
{
    (void)state;
    for (size_t k = 0; k < S_NKINDS; k++) {
        wf_msg_t m;
        s_frame_t f;
        s_make(&m, s_all_kinds[k], V_TYPICAL);
        s_frame_open(&f, &m);
        for (uint32_t pos = 3; pos < f.n; pos++) {
            msgpack_object good = f.items[pos];
            bool is_int = m.kind == WF_MSG_FAILED && pos == 6; /* exit_code: either sign */
            for (int t = 0; t < S_NTYPES; t++) {
                msgpack_object bad = s_o_of_type(t);
                if (s_same_class(bad.type, good.type, is_int))
                    continue;
                char what[64], want[64];
                snprintf(what, sizeof what, "%s field %u as type %d", wf_msg_kind_name(m.kind),
                         pos + 1, t);
                snprintf(want, sizeof want, "%s field %u (", wf_msg_kind_name(m.kind), pos + 1);
                f.items[pos] = bad;
                s_expect_frame(&f, WEFT_EPROTO, want, what);
            }
            f.items[pos] = good;
        }
        s_expect_frame(&f, WEFT_OK, NULL, "restored frame");
        s_frame_close(&f);
    }
}

/* ---- tests: values ----------------------------------------------------------------------- */

/* Replace field `pos` (0-based) of a typical message of `kind` with o; expect rc. */
static void
s_expect_field(int kind, uint32_t pos, msgpack_object o, int rc, const char *why_part,
               const char *what)
{
    wf_msg_t m;
    s_frame_t f;
    s_make(&m, kind, V_TYPICAL);
    s_frame_open(&f, &m);
    assert_true(pos < f.n);
    f.items[pos] = o;
    s_expect_frame(&f, rc, why_part, what);
    s_frame_close(&f);
}

static void
test_proto_rejects_out_of_range_integers(void **state)
{
    (void)state;
    static const struct {
        int kind;
        uint32_t pos;
        uint64_t bad, good;
    } cases[] = {
        { WF_MSG_ACK, 3, 0, 1 },                                             /* req */
        { WF_MSG_ACK, 4, WF_MAX_JOBS_PER_REQUEST, WF_MAX_JOBS_PER_REQUEST - 1 }, /* idx */
        { WF_MSG_ACK, 4, UINT64_MAX, 0 },
        { WF_MSG_CANCEL, 5, 0, 1 },                                          /* attempt */
        { WF_MSG_CANCEL, 5, (uint64_t)UINT32_MAX + 1, UINT32_MAX },
        { WF_MSG_PROGRESS, 6, 101, 100 },                                    /* percent */
        { WF_MSG_HELLO, 5, 0, 1 },                                           /* slots */
        { WF_MSG_HELLO, 5, WF_MAX_SLOTS + 1, WF_MAX_SLOTS },
        { WF_MSG_HELLO, 6, WF_MAX_SLOTS, WF_MAX_SLOTS - 1 },                 /* prefetch */
        { WF_MSG_HELLO, 7, (uint64_t)UINT32_MAX + 1, UINT32_MAX },           /* pid */
        { WF_MSG_WELCOME, 3, 0, 1 },                                         /* heartbeat_ms */
        { WF_MSG_WELCOME, 3, WF_PROTO_MAX_HEARTBEAT_MS + 1, WF_PROTO_MAX_HEARTBEAT_MS },
        { WF_MSG_WELCOME, 4, 0, 1 },                                         /* liveness */
        { WF_MSG_WELCOME, 4, WF_PROTO_MAX_LIVENESS + 1, WF_PROTO_MAX_LIVENESS },
        { WF_MSG_JOB, 9, (uint64_t)WF_MAX_TIMEOUT_MS + 1, WF_MAX_TIMEOUT_MS }, /* timeout_ms */
        { WF_MSG_ERROR, 3, WEFT_ERR_COUNT_, WEFT_ERR_COUNT_ - 1 },           /* code */
        { WF_MSG_DONE, 3, 0, UINT64_MAX },                                   /* req, again */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "%s field %u = %llu", wf_msg_kind_name(cases[i].kind),
                 cases[i].pos + 1, (unsigned long long)cases[i].bad);
        s_expect_field(cases[i].kind, cases[i].pos, s_o_uint(cases[i].bad), WEFT_EPROTO,
                       "out of range", what);
        s_expect_field(cases[i].kind, cases[i].pos, s_o_uint(cases[i].good), WEFT_OK, NULL,
                       what);
    }
    /* exit_code: any int32, nothing wider. */
    s_expect_field(WF_MSG_FAILED, 6, s_o_uint((uint64_t)INT32_MAX + 1), WEFT_EPROTO,
                   "does not fit int32", "exit_code 2^31");
    s_expect_field(WF_MSG_FAILED, 6, s_o_neg((int64_t)INT32_MIN - 1), WEFT_EPROTO,
                   "does not fit int32", "exit_code -2^31-1");
    s_expect_field(WF_MSG_FAILED, 6, s_o_uint(INT32_MAX), WEFT_OK, NULL, "exit_code max");
    s_expect_field(WF_MSG_FAILED, 6, s_o_neg(INT32_MIN), WEFT_OK, NULL, "exit_code min");
    /* A negative number where a uint belongs is a type error. */
    s_expect_field(WF_MSG_ACK, 3, s_o_neg(-1), WEFT_EPROTO, "expected uint, got negative int",
                   "negative req");
}

static void
test_proto_rejects_bad_names(void **state)
{
    (void)state;
    static const struct {
        int kind;
        uint32_t pos;
    } fields[] = {
        { WF_MSG_HELLO, 3 }, /* name */
        { WF_MSG_HELLO, 8 }, /* host */
        { WF_MSG_JOB, 6 },   /* job */
        { WF_MSG_JOB, 7 },   /* type */
    };
    char longname[WF_MAX_NAME + 2];
    s_fill_name(longname, WF_MAX_NAME + 1, 'x');
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        int k = fields[i].kind;
        uint32_t p = fields[i].pos;
        s_expect_field(k, p, s_o_str("a b", 3), WEFT_EPROTO, "bad character", "space");
        s_expect_field(k, p, s_o_str("a\0b", 3), WEFT_EPROTO, "bad character", "NUL");
        s_expect_field(k, p, s_o_str("a/b", 3), WEFT_EPROTO, "bad character", "slash");
        s_expect_field(k, p, s_o_str("\xff", 1), WEFT_EPROTO, "bad character", "0xff");
        s_expect_field(k, p, s_o_str("", 0), WEFT_EPROTO, "empty name", "empty");
        s_expect_field(k, p, s_o_str(longname, WF_MAX_NAME + 1), WEFT_ETOOBIG, "longer than",
                       "129 bytes");
        s_expect_field(k, p, s_o_str(longname, WF_MAX_NAME), WEFT_OK, NULL, "128 bytes");
        s_expect_field(k, p, s_o_bin("abc", 3), WEFT_EPROTO, "expected str, got bin", "bin");
    }
}

static void
test_proto_rejects_bad_messages(void **state)
{
    (void)state;
    static const struct {
        int kind;
        uint32_t pos;
    } fields[] = { { WF_MSG_PROGRESS, 7 }, { WF_MSG_FAILED, 7 }, { WF_MSG_ERROR, 4 } };
    static char text[WF_MAX_MESSAGE + 1];
    static const char odd[] = "\xff\xfe tab\there \x01\x7f";
    memset(text, 'm', sizeof text);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        int k = fields[i].kind;
        uint32_t p = fields[i].pos;
        s_expect_field(k, p, s_o_str("a\0b", 3), WEFT_EPROTO, "NUL", "NUL inside");
        s_expect_field(k, p, s_o_str("\0", 1), WEFT_EPROTO, "NUL", "NUL only");
        s_expect_field(k, p, s_o_str(text, WF_MAX_MESSAGE + 1), WEFT_ETOOBIG, "longer than",
                       "513 bytes");
        s_expect_field(k, p, s_o_str(text, WF_MAX_MESSAGE), WEFT_OK, NULL, "512 bytes");
        s_expect_field(k, p, s_o_str("", 0), WEFT_OK, NULL, "empty");
        s_expect_field(k, p, s_o_str(odd, strlen(odd)), WEFT_OK, NULL, "any bytes");
        s_expect_field(k, p, s_o_bin("abc", 3), WEFT_EPROTO, "expected str", "bin");
    }
}

static void
test_proto_rejects_oversized_bytes(void **state)
{
    (void)state;
    s_expect_field(WF_MSG_DONE, 6, s_o_bin(s_result, WF_MAX_RESULT + 1), WEFT_ETOOBIG,
                   "DONE field 7 (result): 65537 bytes exceed", "result");
    s_expect_field(WF_MSG_DONE, 6, s_o_bin(s_result, WF_MAX_RESULT), WEFT_OK, NULL, "result");
    s_expect_field(WF_MSG_JOB, 8, s_o_bin(s_payload, WF_MAX_PAYLOAD + 1), WEFT_ETOOBIG,
                   "payload", "payload");
    s_expect_field(WF_MSG_JOB, 8, s_o_bin(s_payload, WF_MAX_PAYLOAD), WEFT_OK, NULL, "payload");
    s_expect_field(WF_MSG_JOB, 8, s_o_str("ls", 2), WEFT_EPROTO, "expected bin", "payload str");
    s_expect_field(WF_MSG_DONE, 6, s_o_str("ok", 2), WEFT_EPROTO, "expected bin", "result str");
}

static void
test_proto_rejects_bad_hello_lists(void **state)
{
    (void)state;
    static msgpack_object items[WF_MAX_RUNNING_REPORT + 1];
    static msgpack_object refs[WF_MAX_RUNNING_REPORT + 1][3];

    /* types: 1..WF_MAX_TYPES valid names. */
    for (unsigned i = 0; i <= WF_MAX_TYPES; i++)
        items[i] = s_o_str("t", 1);
    s_expect_field(WF_MSG_HELLO, 4, s_o_array(items, 0), WEFT_EPROTO, "no types", "0 types");
    s_expect_field(WF_MSG_HELLO, 4, s_o_array(items, WF_MAX_TYPES + 1), WEFT_ETOOBIG,
                   "65 types exceed", "65 types");
    s_expect_field(WF_MSG_HELLO, 4, s_o_array(items, WF_MAX_TYPES), WEFT_OK, NULL, "64 types");
    items[1] = s_o_str("a b", 3);
    s_expect_field(WF_MSG_HELLO, 4, s_o_array(items, 3), WEFT_EPROTO,
                   "HELLO field 5 (types): type 2: name has a bad character", "bad type");
    items[1] = s_o_bin("t", 1);
    s_expect_field(WF_MSG_HELLO, 4, s_o_array(items, 3), WEFT_EPROTO, "type 2: expected str",
                   "bin type");
    items[1] = s_o_str("", 0);
    s_expect_field(WF_MSG_HELLO, 4, s_o_array(items, 3), WEFT_EPROTO, "empty", "empty type");

    /* running: 0..WF_MAX_RUNNING_REPORT entries of [req, idx, attempt]. */
    for (unsigned i = 0; i <= WF_MAX_RUNNING_REPORT; i++) {
        refs[i][0] = s_o_uint(i + 1);
        refs[i][1] = s_o_uint(i);
        refs[i][2] = s_o_uint(1);
        items[i] = s_o_array(refs[i], 3);
    }
    s_expect_field(WF_MSG_HELLO, 9, s_o_array(items, 0), WEFT_OK, NULL, "0 running");
    s_expect_field(WF_MSG_HELLO, 9, s_o_array(items, WF_MAX_RUNNING_REPORT), WEFT_OK, NULL,
                   "max running");
    s_expect_field(WF_MSG_HELLO, 9, s_o_array(items, WF_MAX_RUNNING_REPORT + 1), WEFT_ETOOBIG,
                   "entries exceed", "too many running");
    /* A bad entry after good ones: nothing may be left allocated (ASan checks). */
    refs[9][0] = s_o_uint(0);
    s_expect_field(WF_MSG_HELLO, 9, s_o_array(items, 10), WEFT_EPROTO, "entry 10: req 0 out of",
                   "req 0");
    refs[9][0] = s_o_uint(1);
    refs[9][1] = s_o_uint(WF_MAX_JOBS_PER_REQUEST);
    s_expect_field(WF_MSG_HELLO, 9, s_o_array(items, 10), WEFT_EPROTO, "idx", "idx too big");
    refs[9][1] = s_o_uint(1);
    refs[9][2] = s_o_uint(0);
    s_expect_field(WF_MSG_HELLO, 9, s_o_array(items, 10), WEFT_EPROTO, "attempt", "attempt 0");
    refs[9][2] = s_o_str("1", 1);
    s_expect_field(WF_MSG_HELLO, 9, s_o_array(items, 10), WEFT_EPROTO, "expected uint", "str");
    refs[9][2] = s_o_uint(1);
    items[9] = s_o_array(refs[9], 2);
    s_expect_field(WF_MSG_HELLO, 9, s_o_array(items, 10), WEFT_EPROTO, "[req, idx, attempt]",
                   "short entry");
    items[9] = s_o_uint(5);
    s_expect_field(WF_MSG_HELLO, 9, s_o_array(items, 10), WEFT_EPROTO, "[req, idx, attempt]",
                   "entry not an array");
}

/* ---- tests: framing ---------------------------------------------------------------------- */

static void
test_proto_rejects_huge_count_with_few_bytes(void **state)
{
    (void)state;
    /* array32 claiming 2^32-1 elements, followed by a plausible prefix. */
    static const uint8_t top[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0xa4, 'W', 'E', 'F', 'T', 0x01,
                                   0x02 };
    s_expect(top, sizeof top, WEFT_EPROTO, "array count exceeds bytes", "array32 top");
    static const uint8_t map[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02 };
    s_expect(map, sizeof map, WEFT_EPROTO, "map count exceeds bytes", "map32 top");
    /* Inside a HELLO: running claims 2^32-1 entries. */
    wf_msg_t m;
    uint8_t *buf;
    size_t len;
    s_make(&m, WF_MSG_HELLO, V_MIN);
    assert_int_equal(wf_msg_encode(&m, &buf, &len), WEFT_OK);
    assert_int_equal(buf[len - 1], 0x90); /* running = [] is last */
    uint8_t *big = malloc(len + 4 + 8);
    memcpy(big, buf, len - 1);
    memcpy(big + len - 1, "\xdd\xff\xff\xff\xff", 5);
    memset(big + len + 4, 0x90, 8);
    s_expect(big, len + 12, WEFT_EPROTO, "array count exceeds bytes", "running array32");
    /* array16 / str32 / bin32 lengths past the end. */
    memcpy(big + len - 1, "\xdc\xff\xff", 3);
    s_expect(big, len + 2, WEFT_EPROTO, "array count exceeds bytes", "running array16");
    free(big);
    free(buf);
    static const uint8_t str32[] = { 0x93, 0xdb, 0xff, 0xff, 0xff, 0xff, 'W', 'E' };
    s_expect(str32, sizeof str32, WEFT_EPROTO, "truncated", "str32");
    static const uint8_t bin32[] = { 0x91, 0xc6, 0x7f, 0xff, 0xff, 0xff, 0 };
    s_expect(bin32, sizeof bin32, WEFT_EPROTO, "truncated", "bin32");
}

static void
test_proto_rejects_deep_nesting(void **state)
{
    (void)state;
    uint8_t buf[64];
    /* WF_MAX_DEPTH + 1 nested one-element arrays around an int. */
    size_t n = 0;
    for (int i = 0; i < WF_MAX_DEPTH + 1; i++)
        buf[n++] = 0x91;
    buf[n++] = 0x01;
    s_expect(buf, n, WEFT_EPROTO, "nesting too deep", "deep arrays");
    /* The same depth inside a HELLO's running entry (a plausible place to hide it). */
    msgpack_object levels[WF_MAX_DEPTH + 1];
    levels[0] = s_o_uint(1);
    for (int i = 1; i <= WF_MAX_DEPTH; i++)
        levels[i] = s_o_array(&levels[i - 1], 1);
    s_expect_field(WF_MSG_HELLO, 9, levels[WF_MAX_DEPTH], WEFT_EPROTO, "nesting too deep",
                   "deep running");
    /* A shallower nest is well-formed msgpack, just the wrong shape. */
    s_expect_field(WF_MSG_HELLO, 9, levels[3], WEFT_EPROTO, "[req, idx, attempt]",
                   "shallow running");
}

static void
test_proto_rejects_trailing_bytes(void **state)
{
    (void)state;
    for (size_t k = 0; k < S_NKINDS; k++) {
        wf_msg_t m;
        uint8_t *buf;
        size_t len;
        s_make(&m, s_all_kinds[k], V_TYPICAL);
        assert_int_equal(wf_msg_encode(&m, &buf, &len), WEFT_OK);
        uint8_t *two = malloc(2 * len);
        memcpy(two, buf, len);
        two[len] = 0xc0;
        s_expect(two, len + 1, WEFT_EPROTO, "trailing bytes", "one nil after");
        memcpy(two + len, buf, len);
        s_expect(two, 2 * len, WEFT_EPROTO, "trailing bytes", "two messages in one frame");
        two[len] = 0xc1;
        s_expect(two, len + 1, WEFT_EPROTO, "trailing bytes", "reserved byte after");
        free(two);
        free(buf);
    }
}

static void
test_proto_rejects_truncation_at_every_offset(void **state)
{
    (void)state;
    static const s_variant variants[] = { V_MIN, V_TYPICAL };
    for (size_t v = 0; v < 2; v++) {
        for (size_t k = 0; k < S_NKINDS; k++) {
            wf_msg_t m;
            uint8_t *buf;
            size_t len;
            s_make(&m, s_all_kinds[k], variants[v]);
            assert_int_equal(wf_msg_encode(&m, &buf, &len), WEFT_OK);
            for (size_t cut = 0; cut < len; cut++) {
                /* A heap copy of exactly `cut` bytes, so ASan sees any read past the end. */
                uint8_t *part = malloc(cut ? cut : 1);
                memcpy(part, buf, cut);
                s_expect(part, cut, WEFT_EPROTO, NULL, wf_msg_kind_name(m.kind));
                free(part);
            }
            free(buf);
        }
    }
    static const uint8_t cut[] = { 0x93, 0xa4, 'W', 'E' };
    s_expect(cut, sizeof cut, WEFT_EPROTO, "truncated", "cut in a string");
}

static void
test_proto_rejects_empty_and_oversized_frames(void **state)
{
    (void)state;
    wf_msg_t m;
    char why[128];
    s_expect((const uint8_t *)"", 0, WEFT_EPROTO, "empty frame", "empty");
    s_expect(NULL, 0, WEFT_EPROTO, "empty frame", "NULL empty");
    size_t big = (size_t)WF_MAX_WIRE_MSG + 1;
    uint8_t *buf = calloc(1, big);
    s_expect(buf, big, WEFT_ETOOBIG, "exceeds", "over WF_MAX_WIRE_MSG");
    free(buf);
    assert_int_equal(wf_msg_decode(NULL, 5, &m, why, sizeof why), WEFT_EINVAL);
    assert_int_equal(wf_msg_decode((const uint8_t *)"\x90", 1, NULL, why, sizeof why),
                     WEFT_EINVAL);
    /* A tiny why buffer is truncated, never overrun. */
    why[3] = 'Z';
    assert_int_equal(wf_msg_decode((const uint8_t *)"\x90", 1, &m, why, 3), WEFT_EPROTO);
    assert_int_equal(strlen(why), 2);
    assert_int_equal(why[3], 'Z');
}

/* ---- tests: what a decode allocates ------------------------------------------------------ */

/* Decode a frame that must fail with rc (and why_part) while allocating nothing at all. */
static void
s_expect_no_alloc(const uint8_t *buf, size_t len, int rc, const char *why_part, const char *what)
{
    s_expect(buf, len, rc, why_part, what); /* s_decode: 0 bytes for any failed decode */
    print_message("  %-44s %8zu bytes: allocated 0\n", what, len);
}

static void
test_proto_decode_allocation_is_bounded_by_the_frame(void **state)
{
    (void)state;
    wf_msg_t m;
    uint8_t *buf;
    size_t len;
    char why[256];

    /* A HELLO whose running[] claims WF_MAX_RUNNING_REPORT entries and holds none: the count
     * is refused before anything is sized from it. */
    s_make(&m, WF_MSG_HELLO, V_MIN);
    assert_int_equal(wf_msg_encode(&m, &buf, &len), WEFT_OK);
    assert_int_equal(buf[len - 1], 0x90); /* running = [] is last */
    uint8_t *lie = malloc(len + 2);
    memcpy(lie, buf, len - 1);
    lie[len - 1] = 0xdc; /* array16 of 4096 */
    lie[len] = (uint8_t)(WF_MAX_RUNNING_REPORT >> 8);
    lie[len + 1] = (uint8_t)(WF_MAX_RUNNING_REPORT & 0xff);
    s_expect_no_alloc(lie, len + 2, WEFT_EPROTO, "array count exceeds bytes",
                      "HELLO claiming 4096 running, none sent");
    free(lie);
    free(buf);

    /* The same count really sent, 4 bytes an entry, the last entry bad: every entry is checked
     * before running[] is allocated, so nothing is. */
    s_make(&m, WF_MSG_HELLO, V_MIN);
    for (unsigned i = 0; i < WF_MAX_RUNNING_REPORT; i++)
        s_running[i] = (wf_attempt_ref_t){ 1, 0, 1 };
    m.running = s_running;
    m.nrunning = WF_MAX_RUNNING_REPORT;
    assert_int_equal(wf_msg_encode(&m, &buf, &len), WEFT_OK);
    assert_int_equal(buf[len - 1], 0x01); /* the last attempt */
    buf[len - 1] = 0x00;
    s_expect_no_alloc(buf, len, WEFT_EPROTO, "entry 4096: attempt 0 out of range",
                      "HELLO of 4096 running, the last one bad");

    /* All valid: the worst case there is, 16 bytes held per 4 bytes received. */
    buf[len - 1] = 0x01;
    s_count_start();
    assert_int_equal(wf_msg_decode(buf, len, &m, why, sizeof why), WEFT_OK);
    size_t bytes = s_count_stop();
    assert_int_equal(m.nrunning, WF_MAX_RUNNING_REPORT);
    assert_int_equal(bytes, wf_msg_decoded_size(&m));
    assert_int_equal(bytes, WF_MAX_RUNNING_REPORT * sizeof(wf_attempt_ref_t));
    assert_true(bytes <= (size_t)WF_MSG_DECODE_FACTOR * len);
    print_message("  %-44s %8zu bytes: allocated %zu (%.2fx; the bound: %ux)\n",
                  "HELLO of 4096 running, 4 bytes each", len, bytes, (double)bytes / len,
                  WF_MSG_DECODE_FACTOR);
    wf_msg_fini(&m);
    free(buf);

    /* A frame of 1 MiB of nils: msgpack-c's unpacker would build a tree of 2^20 objects (tens
     * of MB) before the signature is even looked at. */
    size_t nils = (size_t)1 << 20;
    len = 5 + nils;
    assert_true(len <= (size_t)WF_MAX_WIRE_MSG);
    buf = malloc(len);
    buf[0] = 0xdd; /* array32 */
    buf[1] = (uint8_t)(nils >> 24);
    buf[2] = (uint8_t)(nils >> 16);
    buf[3] = (uint8_t)(nils >> 8);
    buf[4] = (uint8_t)nils;
    memset(buf + 5, 0xc0, nils);
    s_expect_no_alloc(buf, len, WEFT_EPROTO, "bad signature", "1 MiB of nils");
    /* ... and behind a good prefix: a DONE with a million extra fields. */
    static const uint8_t done[] = { 0xa4, 'W', 'E', 'F', 'T', 0x01, WF_MSG_DONE };
    memcpy(buf + 5, done, sizeof done);
    size_t nel = 3 + nils - sizeof done; /* signature, version, kind, then the nils */
    buf[1] = (uint8_t)(nel >> 24);
    buf[2] = (uint8_t)(nel >> 16);
    buf[3] = (uint8_t)(nel >> 8);
    buf[4] = (uint8_t)nel;
    s_expect_no_alloc(buf, len, WEFT_EPROTO, "extra field(s)", "DONE + 1 MiB of nils");
    free(buf);

    /* Deep nesting, too deep and just deep enough (an ERROR's code field as nested arrays). */
    uint8_t deep[64];
    len = 0;
    for (int i = 0; i < WF_MAX_DEPTH + 1; i++)
        deep[len++] = 0x91;
    deep[len++] = 0x01;
    s_expect_no_alloc(deep, len, WEFT_EPROTO, "nesting too deep", "nesting WF_MAX_DEPTH + 1");
    static const uint8_t err[] = { 0x95, 0xa4, 'W', 'E', 'F', 'T', 0x01, WF_MSG_ERROR };
    memcpy(deep, err, sizeof err);
    len = sizeof err;
    for (int i = 0; i < WF_MAX_DEPTH - 2; i++)
        deep[len++] = 0x91;
    deep[len++] = 0x01;
    deep[len++] = 0xa0; /* message "" */
    s_expect_no_alloc(deep, len, WEFT_EPROTO, "ERROR field 4 (code): expected uint, got array",
                      "nesting WF_MAX_DEPTH - 1 in a field");

    /* The biggest valid frame, a JOB with a 1 MiB payload: borrowed, nothing allocated. */
    s_make(&m, WF_MSG_JOB, V_MAX);
    assert_int_equal(wf_msg_encode(&m, &buf, &len), WEFT_OK);
    s_count_start();
    assert_int_equal(wf_msg_decode(buf, len, &m, why, sizeof why), WEFT_OK);
    assert_int_equal(s_count_stop(), 0);
    assert_int_equal(wf_msg_decoded_size(&m), 0);
    print_message("  %-44s %8zu bytes: allocated 0\n", "JOB with a 1 MiB payload", len);
    wf_msg_fini(&m);
    free(buf);
}

/* ---- tests: log reads (LOGREQ, LOGDATA) --------------------------------------------------- */

static void s_expect_encode(const wf_msg_t *m, int rc, const char *what);

static void
test_proto_log_messages_are_strict(void **state)
{
    (void)state;
    /* LOGREQ: [sig, ver, kind, corr, req, idx, attempt, job, stream, offset, max] */
    static const struct {
        const char *s;
        size_t len;
    } streams[] = { { "OUT", 3 }, { "ou", 2 }, { "outx", 4 }, { "", 0 }, { "in", 2 },
                    { "o\0t", 3 } };
    for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++)
        s_expect_field(WF_MSG_LOGREQ, 8, s_o_str(streams[i].s, streams[i].len), WEFT_EPROTO,
                       "LOGREQ field 9 (stream): not \"out\" or \"err\"", streams[i].s);
    s_expect_field(WF_MSG_LOGREQ, 8, s_o_str("err", 3), WEFT_OK, NULL, "stream err");
    s_expect_field(WF_MSG_LOGREQ, 8, s_o_bin("out", 3), WEFT_EPROTO, "expected str",
                   "stream as bin");
    s_expect_field(WF_MSG_LOGREQ, 10, s_o_uint(0), WEFT_EPROTO, "out of range", "max 0");
    s_expect_field(WF_MSG_LOGREQ, 10, s_o_uint(WF_PROTO_MAX_LOG_CHUNK + 1), WEFT_EPROTO,
                   "out of range", "max over 1 MiB");
    s_expect_field(WF_MSG_LOGREQ, 10, s_o_uint(WF_PROTO_MAX_LOG_CHUNK), WEFT_OK, NULL,
                   "max 1 MiB");
    s_expect_field(WF_MSG_LOGREQ, 9, s_o_uint(WF_PROTO_MAX_LOG_OFFSET + 1), WEFT_EPROTO,
                   "out of range", "offset 2^63");
    s_expect_field(WF_MSG_LOGREQ, 6, s_o_uint(0), WEFT_EPROTO, "out of range", "attempt 0");
    s_expect_field(WF_MSG_LOGREQ, 7, s_o_str("../x", 4), WEFT_EPROTO, "bad character",
                   "job with a slash");
    s_expect_field(WF_MSG_LOGREQ, 3, s_o_neg(-1), WEFT_EPROTO, "expected uint", "negative corr");
    /* LOGDATA: [sig, ver, kind, corr, code, size, data] */
    s_expect_field(WF_MSG_LOGDATA, 4, s_o_uint(WEFT_ERR_COUNT_), WEFT_EPROTO, "out of range",
                   "code");
    s_expect_field(WF_MSG_LOGDATA, 5, s_o_uint(WF_PROTO_MAX_LOG_OFFSET + 1), WEFT_EPROTO,
                   "out of range", "size 2^63");
    s_expect_field(WF_MSG_LOGDATA, 6, s_o_bin(s_payload, WF_PROTO_MAX_LOG_CHUNK + 1),
                   WEFT_ETOOBIG, "LOGDATA field 7 (data): 1048577 bytes exceed", "data");
    s_expect_field(WF_MSG_LOGDATA, 6, s_o_str("hi", 2), WEFT_EPROTO, "expected bin",
                   "data as str");
    /* An error carries no size and no bytes; "no such log" is an error with neither. */
    s_expect_field(WF_MSG_LOGDATA, 4, s_o_uint(WEFT_ENOTFOUND), WEFT_EPROTO,
                   "an error code with a size or data", "ENOTFOUND with data");
    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_LOGDATA);
    m.corr = 9;
    m.code = WEFT_ENOTFOUND;
    s_roundtrip(&m);
    m.size = 1;
    s_expect_encode(&m, WEFT_EINVAL, "LOGDATA error with a size");
    m.size = 0;
    m.data = (const uint8_t *)"x";
    m.data_len = 1;
    s_expect_encode(&m, WEFT_EINVAL, "LOGDATA error with data");
    /* The biggest LOGDATA fits a frame and decodes without allocating. */
    s_make(&m, WF_MSG_LOGDATA, V_MAX);
    uint8_t *buf;
    size_t len;
    char why[128];
    assert_int_equal(wf_msg_encode(&m, &buf, &len), WEFT_OK);
    assert_true(len <= (size_t)WF_MAX_WIRE_MSG);
    s_count_start();
    assert_int_equal(wf_msg_decode(buf, len, &m, why, sizeof why), WEFT_OK);
    assert_int_equal(s_count_stop(), 0);
    wf_msg_fini(&m);
    free(buf);
    /* The encoder checks the stream like the decoder. */
    s_make(&m, WF_MSG_LOGREQ, V_TYPICAL);
    strcpy(m.stream, "in");
    s_expect_encode(&m, WEFT_EINVAL, "LOGREQ stream in");
    memcpy(m.stream, "outs", 4); /* unterminated */
    s_expect_encode(&m, WEFT_EINVAL, "LOGREQ stream unterminated");
}

/* ---- tests: the encoder refuses what the decoder rejects --------------------------------- */

static void
s_expect_encode(const wf_msg_t *m, int rc, const char *what)
{
    uint8_t *buf = (uint8_t *)"untouched";
    size_t len = 99;
    int got = wf_msg_encode(m, &buf, &len);
    if (got != rc)
        fail_msg("%s: expected %s, got %s", what, weft_strerror(rc), weft_strerror(got));
    if (rc != WEFT_OK) {
        assert_null(buf);
        assert_int_equal(len, 0);
    }
    free(buf);
}

static void
test_proto_encode_refuses_invalid_messages(void **state)
{
    (void)state;
    wf_msg_t m;
    uint8_t *buf;
    size_t len;

    assert_int_equal(wf_msg_encode(NULL, &buf, &len), WEFT_EINVAL);
    s_make(&m, WF_MSG_ACK, V_TYPICAL);
    assert_int_equal(wf_msg_encode(&m, NULL, &len), WEFT_EINVAL);
    assert_int_equal(wf_msg_encode(&m, &buf, NULL), WEFT_EINVAL);
    int bad_kinds[] = { 0, 8, 15, 22, -1 };
    for (size_t i = 0; i < sizeof bad_kinds / sizeof bad_kinds[0]; i++) {
        m.kind = (wf_msg_kind)bad_kinds[i];
        s_expect_encode(&m, WEFT_EINVAL, "bad kind");
    }

#define CASE(kind, stmt, rc)         \
    do {                             \
        s_make(&m, kind, V_TYPICAL); \
        stmt;                        \
        s_expect_encode(&m, rc, #stmt); \
    } while (0)

    /* attempt refs */
    CASE(WF_MSG_ACK, m.ref.req = 0, WEFT_EINVAL);
    CASE(WF_MSG_CANCEL, m.ref.idx = WF_MAX_JOBS_PER_REQUEST, WEFT_EINVAL);
    CASE(WF_MSG_PROGRESS, m.ref.attempt = 0, WEFT_EINVAL);
    CASE(WF_MSG_ACK, m.ref.req = UINT64_MAX, WEFT_OK);
    /* HELLO */
    CASE(WF_MSG_HELLO, m.name[0] = '\0', WEFT_EINVAL);
    CASE(WF_MSG_HELLO, m.name[2] = ' ', WEFT_EINVAL);
    CASE(WF_MSG_HELLO, memset(m.name, 'x', sizeof m.name), WEFT_ETOOBIG); /* unterminated */
    CASE(WF_MSG_HELLO, strcpy(m.host, "a/b"), WEFT_EINVAL);
    CASE(WF_MSG_HELLO, m.ntypes = 0, WEFT_EINVAL);
    CASE(WF_MSG_HELLO, m.ntypes = WF_MAX_TYPES + 1, WEFT_ETOOBIG);
    CASE(WF_MSG_HELLO, strcpy(m.types[2], "a b"), WEFT_EINVAL);
    CASE(WF_MSG_HELLO, m.types[1][0] = '\0', WEFT_EINVAL);
    CASE(WF_MSG_HELLO, memset(m.types[0], 'x', sizeof m.types[0]), WEFT_ETOOBIG);
    CASE(WF_MSG_HELLO, m.slots = 0, WEFT_EINVAL);
    CASE(WF_MSG_HELLO, m.slots = WF_MAX_SLOTS + 1, WEFT_EINVAL);
    CASE(WF_MSG_HELLO, m.nrunning = WF_MAX_RUNNING_REPORT + 1, WEFT_ETOOBIG);
    CASE(WF_MSG_HELLO, m.running = NULL, WEFT_EINVAL);
    CASE(WF_MSG_HELLO, s_running[1].attempt = 0, WEFT_EINVAL);
    CASE(WF_MSG_HELLO, (m.running = NULL, m.nrunning = 0), WEFT_OK);
    /* PROGRESS FAILED ERROR */
    CASE(WF_MSG_PROGRESS, m.percent = 101, WEFT_EINVAL);
    CASE(WF_MSG_PROGRESS, memset(m.message, 'm', sizeof m.message), WEFT_ETOOBIG);
    CASE(WF_MSG_FAILED, (memset(m.message, 'm', WF_MAX_MESSAGE), m.message[WF_MAX_MESSAGE] = 0),
         WEFT_OK);
    CASE(WF_MSG_ERROR, m.code = WEFT_ERR_COUNT_, WEFT_EINVAL);
    /* DONE JOB */
    CASE(WF_MSG_DONE, (m.result = s_result, m.result_len = WF_MAX_RESULT + 1), WEFT_ETOOBIG);
    CASE(WF_MSG_DONE, m.result = NULL, WEFT_EINVAL);
    CASE(WF_MSG_DONE, (m.result = NULL, m.result_len = 0), WEFT_OK);
    CASE(WF_MSG_JOB, m.payload_len = WF_MAX_PAYLOAD + 1, WEFT_ETOOBIG);
    CASE(WF_MSG_JOB, m.payload = NULL, WEFT_EINVAL);
    CASE(WF_MSG_JOB, strcpy(m.job, "a b"), WEFT_EINVAL);
    CASE(WF_MSG_JOB, m.type[0] = '\0', WEFT_EINVAL);
    CASE(WF_MSG_JOB, m.timeout_ms = WF_MAX_TIMEOUT_MS + 1, WEFT_EINVAL);
    /* WELCOME */
    CASE(WF_MSG_WELCOME, m.heartbeat_ms = 0, WEFT_EINVAL);
    CASE(WF_MSG_WELCOME, m.heartbeat_ms = WF_PROTO_MAX_HEARTBEAT_MS + 1, WEFT_EINVAL);
    CASE(WF_MSG_WELCOME, m.liveness = 0, WEFT_EINVAL);
    CASE(WF_MSG_WELCOME, m.liveness = WF_PROTO_MAX_LIVENESS + 1, WEFT_EINVAL);
    /* Fields a kind does not carry are ignored, so junk there is harmless. */
    CASE(WF_MSG_HEARTBEAT, (m.ref.req = 0, m.slots = 0, m.ntypes = 999), WEFT_OK);
#undef CASE
}

/* ---- tests: random input ----------------------------------------------------------------- */

static uint64_t s_rng = 0x9e3779b97f4a7c15ull;

static uint64_t
s_rand(void)
{
    /* xorshift64*: fixed seed, so a failure reproduces */
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 0x2545f4914f6cdd1dull;
}

/* Decode; on success, re-encode, decode again and compare: what the fuzz target checks. */
static int
s_decode_check(const uint8_t *buf, size_t len)
{
    wf_msg_t m, m2;
    char why[256];
    uint8_t *enc = NULL, *enc2 = NULL;
    size_t elen = 0, elen2 = 0;
    int rc = s_decode(buf, len, &m, why, sizeof why);
    if (rc != WEFT_OK) {
        assert_true(rc == WEFT_EPROTO || rc == WEFT_ETOOBIG || rc == WEFT_EVERSION);
        assert_null(m.owned_);
        return rc;
    }
    assert_int_equal(wf_msg_encode(&m, &enc, &elen), WEFT_OK);
    assert_int_equal(wf_msg_decode(enc, elen, &m2, why, sizeof why), WEFT_OK);
    assert_int_equal(wf_msg_encode(&m2, &enc2, &elen2), WEFT_OK);
    assert_int_equal(elen, elen2);
    assert_memory_equal(enc, enc2, elen);
    wf_msg_fini(&m2);
    wf_msg_fini(&m);
    free(enc);
    free(enc2);
    return rc;
}

static void
test_proto_random_bytes_and_mutations_never_crash(void **state)
{
    (void)state;
    enum { ITERATIONS = 200000, MAXLEN = 2048 };
    uint8_t *seeds[2 * S_NKINDS];
    size_t seed_len[2 * S_NKINDS];
    size_t nseeds = 0;
    for (size_t k = 0; k < S_NKINDS; k++) {
        wf_msg_t m;
        s_make(&m, s_all_kinds[k], V_TYPICAL);
        assert_int_equal(wf_msg_encode(&m, &seeds[nseeds], &seed_len[nseeds]), WEFT_OK);
        nseeds++;
        s_make(&m, s_all_kinds[k], V_MIN);
        assert_int_equal(wf_msg_encode(&m, &seeds[nseeds], &seed_len[nseeds]), WEFT_OK);
        nseeds++;
    }
    unsigned ok = 0, bad = 0;
    uint8_t *buf = malloc(MAXLEN);
    for (unsigned it = 0; it < ITERATIONS; it++) {
        size_t len;
        if (it % 8 == 0) {
            /* random bytes, biased toward msgpack containers so some get deep */
            len = (size_t)(s_rand() % 64) + 1;
            for (size_t i = 0; i < len; i++) {
                uint64_t r = s_rand();
                buf[i] = (r & 3) == 0 ? (uint8_t)(0x90 | ((r >> 8) & 3)) : (uint8_t)(r >> 16);
            }
        } else {
            size_t s = (size_t)(s_rand() % nseeds);
            len = seed_len[s];
            assert_true(len <= MAXLEN / 2);
            memcpy(buf, seeds[s], len);
            unsigned edits = 1 + (unsigned)(s_rand() % 4);
            for (unsigned e = 0; e < edits && len > 0; e++) {
                size_t at = (size_t)(s_rand() % len);
                switch (s_rand() % 6) {
                case 0: buf[at] ^= (uint8_t)(1u << (s_rand() % 8)); break;
                case 1: buf[at] = (uint8_t)s_rand(); break;
                case 2: /* interesting bytes: container and length headers */
                    buf[at] = (uint8_t[]){ 0x00, 0x7f, 0x80, 0x90, 0x9f, 0xc0, 0xc1, 0xc4, 0xd9,
                                           0xdc, 0xdd, 0xde, 0xdf, 0xff }[s_rand() % 14];
                    break;
                case 3: len = at; break; /* truncate */
                case 4:                  /* delete a byte */
                    memmove(buf + at, buf + at + 1, len - at - 1);
                    len--;
                    break;
                default: /* insert a byte */
                    if (len < MAXLEN) {
                        memmove(buf + at + 1, buf + at, len - at);
                        buf[at] = (uint8_t)s_rand();
                        len++;
                    }
                    break;
                }
            }
        }
        /* Decode from an exact-size heap copy so ASan catches any overread. */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        if (s_decode_check(exact, len) == WEFT_OK)
            ok++;
        else
            bad++;
        free(exact);
    }
    free(buf);
    for (size_t i = 0; i < nseeds; i++)
        free(seeds[i]);
    print_message("random: %u decoded, %u rejected\n", ok, bad);
    assert_true(ok > 0);
    assert_true(bad > 0);
}

static int
s_group_setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_payload; i++)
        s_payload[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof s_result; i++)
        s_result[i] = (uint8_t)(i * 13 + 1);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_name_ok_accepts_only_the_name_alphabet),
        cmocka_unit_test(test_proto_kind_names),
        cmocka_unit_test(test_proto_init_and_fini),
        cmocka_unit_test(test_proto_roundtrip_every_kind_at_lower_bounds),
        cmocka_unit_test(test_proto_roundtrip_every_kind_at_upper_bounds),
        cmocka_unit_test(test_proto_roundtrip_every_kind_typical),
        cmocka_unit_test(test_proto_decode_accepts_any_int_and_str_format),
        cmocka_unit_test(test_proto_decode_out_needs_no_initialisation),
        cmocka_unit_test(test_proto_rejects_bad_signature),
        cmocka_unit_test(test_proto_other_version_is_eversion),
        cmocka_unit_test(test_proto_rejects_unknown_kind),
        cmocka_unit_test(test_proto_rejects_missing_field),
        cmocka_unit_test(test_proto_rejects_extra_field),
        cmocka_unit_test(test_proto_rejects_wrong_type_in_every_field),
        cmocka_unit_test(test_proto_rejects_out_of_range_integers),
        cmocka_unit_test(test_proto_rejects_bad_names),
        cmocka_unit_test(test_proto_rejects_bad_messages),
        cmocka_unit_test(test_proto_rejects_oversized_bytes),
        cmocka_unit_test(test_proto_rejects_bad_hello_lists),
        cmocka_unit_test(test_proto_rejects_huge_count_with_few_bytes),
        cmocka_unit_test(test_proto_rejects_deep_nesting),
        cmocka_unit_test(test_proto_rejects_trailing_bytes),
        cmocka_unit_test(test_proto_rejects_truncation_at_every_offset),
        cmocka_unit_test(test_proto_rejects_empty_and_oversized_frames),
        cmocka_unit_test(test_proto_decode_allocation_is_bounded_by_the_frame),
        cmocka_unit_test(test_proto_encode_refuses_invalid_messages),
        cmocka_unit_test(test_proto_log_messages_are_strict),
        cmocka_unit_test(test_proto_random_bytes_and_mutations_never_crash),
    };
    return cmocka_run_group_tests_name("proto", tests, s_group_setup, NULL);
}
