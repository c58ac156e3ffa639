/*
 * store.c -- the LMDB store: environment, schema check, record encoding, group commit, reads.
 *
 * Invariants:
 *   - Only this file sees MDB_* codes; everything leaves as a weft_err with detail in errbuf.
 *   - Writes happen on one thread (the engine's), one write transaction per wf_store_commit.
 *     A commit writes every op of its batch or nothing.
 *   - Every read transaction in this process runs under s->resize held for reading, so
 *     mdb_env_set_mapsize (under the write side) never runs while a transaction is live.
 *   - Nothing borrowed from the map leaves a function: records are decoded into caller structs.
 *   - A record on disk is never trusted: every read goes through wf_msgpack_safe and a strict
 *     typed decode; anything unexpected is WEFT_ESTORE, never a crash.  Symmetrically, a commit
 *     refuses (WEFT_EINVAL) a record that the decoder would reject, so an engine bug cannot
 *     leave an unreadable store behind.
 *
 * Workload: one commit per loop turn, typically a few ops; a single request of up to 10^6 jobs
 * in one commit (keys known to be increasing are written with MDB_APPEND, which fills pages
 * instead of splitting them); reads from API threads at any time; resume walks every job once.
 */
#include "store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>
#include <msgpack.h>

#include "proto.h"

#define S_MIB ((uint64_t)1 << 20)
#define S_DEFAULT_MAP_SIZE (64 * S_MIB)
#define S_DEFAULT_MAP_MAX (64 * 1024 * S_MIB)
#define S_MAX_DBS 16
#define S_MAX_READERS 126
/* Every record is a msgpack array whose first element is this; bump it (and the schema version)
 * when a record's layout changes. */
#define S_REC_VERSION 1

enum {
    S_DB_META,
    S_DB_REQUESTS,
    S_DB_JOBSPECS,
    S_DB_JOBSTATES,
    S_DB_JOBNAMES,
    S_DB_IDEM,
    S_DB_ACTIVE,
    S_DB_WORKERS,    /* added within schema 1: a read-only open of an older store lacks them */
    S_DB_WORKERKEYS,
    S_DB_COUNT_
};
static const char *const s_db_names[S_DB_COUNT_] = {
    "meta", "requests", "jobspecs", "jobstates", "jobnames", "idem", "active", "workers",
    "workerkeys",
};
/* The job state's fields: 15 in the first layout, 16 since `worker` was appended. */
#define S_JOBSTATE_FIELDS_OLD 15
#define S_JOBSTATE_FIELDS 16
/* A workerkeys key: host, NUL, name, NUL, pid (4 bytes big-endian). */
#define S_WORKERKEY_MAX (2 * (WF_MAX_NAME + 1) + 4)

/* A growable byte buffer, the msgpack packer's sink; aborts on OOM instead of failing. */
typedef struct s_buf {
    char *data;
    size_t len, cap;
} s_buf_t;

struct wf_store {
    MDB_env *env;
    MDB_dbi dbi[S_DB_COUNT_];
    /* Read side: every read transaction.  Write side: mdb_env_set_mapsize. */
    pthread_rwlock_t resize;
    char *dir;
    int lock_fd;
    uint64_t map_size; /* current, as LMDB reports it */
    uint64_t map_max;
    uint64_t next_req; /* as last made durable */
    uint32_t next_worker; /* above every id in `workers` at open */
    bool have_workers; /* the worker databases exist (false only read-only on an old store) */
    int stale_readers; /* cleared by mdb_reader_check at open */
    bool readonly;     /* opened to inspect: no lock, no writes */
    size_t max_key;
    s_buf_t enc; /* engine thread: encoding scratch, kept between commits */
#ifdef WEFT_TESTING
    unsigned fault_countdown;
    bool fault_full;
#endif
};

typedef enum s_op_kind {
    S_OP_NEW_REQUEST,
    S_OP_REQUEST,
    S_OP_JOBSTATE,
    S_OP_NEXT_REQ,
    S_OP_WORKER,
} s_op_kind;

/* Pointers to the caller's records, not copies: a 10^6-job request is not duplicated. */
typedef struct s_op {
    s_op_kind kind;
    uint32_t idx;
    uint64_t req; /* S_OP_NEXT_REQ: the value */
    const void *ptr;
    const void *ptr2;
} s_op_t;

struct wf_batch {
    wf_store_t *store;
    s_op_t *ops;
    size_t n, cap;
};

/* Read transactions the current thread holds (any store): a commit that must grow the map
 * cannot wait for them to end, since they are its own. */
static _Thread_local unsigned s_reads_held;

/* ------------------------------------------------------------------------------------------ */
/* small helpers                                                                              */

static void *
s_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort(); /* OOM aborts: docs/decisions/0001-oom-aborts.md */
    return p;
}

static void *
s_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

static char *
s_xstrndup(const char *s, size_t n)
{
    char *p = s_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

__attribute__((format(printf, 3, 4))) static void
s_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (!errbuf || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

static void
s_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void
s_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t
s_get_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static int
s_buf_write(void *data, const char *buf, size_t len)
{
    s_buf_t *b = data;
    if (b->cap - b->len < len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < len)
            cap *= 2;
        b->data = s_xrealloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, buf, len);
    b->len += len;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* encoding: positional msgpack arrays, first element S_REC_VERSION                           */

static void
s_pack_str(msgpack_packer *pk, const char *s)
{
    if (!s) {
        msgpack_pack_nil(pk);
        return;
    }
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void
s_pack_bin(msgpack_packer *pk, const uint8_t *p, uint32_t len)
{
    if (!p) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_bin(pk, len);
    msgpack_pack_bin_body(pk, p, len);
}

static void
s_pack_u32s(msgpack_packer *pk, const uint32_t *v, uint32_t n)
{
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++)
        msgpack_pack_uint32(pk, v[i]);
}

static void
s_enc_reqrec(s_buf_t *b, const wf_reqrec_t *r)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, s_buf_write);
    msgpack_pack_array(&pk, 11);
    msgpack_pack_uint32(&pk, S_REC_VERSION);
    msgpack_pack_uint64(&pk, r->id);
    s_pack_str(&pk, r->name);
    s_pack_str(&pk, r->session);
    s_pack_str(&pk, r->key);
    msgpack_pack_uint32(&pk, r->state);
    if (r->cancelled)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    msgpack_pack_int64(&pk, r->created_ms);
    msgpack_pack_int64(&pk, r->finished_ms);
    msgpack_pack_uint32(&pk, r->njobs);
    msgpack_pack_array(&pk, r->npools);
    for (uint32_t i = 0; i < r->npools; i++) {
        msgpack_pack_array(&pk, 2);
        s_pack_str(&pk, r->pools[i].name);
        msgpack_pack_uint32(&pk, r->pools[i].limit);
    }
}

static void
s_enc_jobspec(s_buf_t *b, const wf_jobspec_t *js)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, s_buf_write);
    msgpack_pack_array(&pk, 13);
    msgpack_pack_uint32(&pk, S_REC_VERSION);
    s_pack_str(&pk, js->id);
    s_pack_str(&pk, js->type);
    s_pack_str(&pk, js->pool);
    s_pack_bin(&pk, js->payload, js->payload_len);
    msgpack_pack_uint32(&pk, js->retries);
    msgpack_pack_uint32(&pk, js->lost_retries);
    msgpack_pack_uint32(&pk, js->retry_delay_ms);
    msgpack_pack_uint32(&pk, js->timeout_ms);
    msgpack_pack_int32(&pk, js->priority);
    msgpack_pack_uint32(&pk, js->when);
    s_pack_u32s(&pk, js->needs, js->nneeds);
    s_pack_u32s(&pk, js->children, js->nchildren);
}

static void
s_enc_jobstate(s_buf_t *b, const wf_jobstate_t *st)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, s_buf_write);
    msgpack_pack_array(&pk, S_JOBSTATE_FIELDS);
    msgpack_pack_uint32(&pk, S_REC_VERSION);
    msgpack_pack_uint32(&pk, st->state);
    msgpack_pack_uint32(&pk, st->reason);
    msgpack_pack_uint32(&pk, st->progress);
    msgpack_pack_uint32(&pk, st->attempt);
    msgpack_pack_uint32(&pk, st->failures);
    msgpack_pack_uint32(&pk, st->lost);
    msgpack_pack_int32(&pk, st->exit_code);
    msgpack_pack_uint32(&pk, st->cause);
    msgpack_pack_int64(&pk, st->started_ms);
    msgpack_pack_int64(&pk, st->finished_ms);
    msgpack_pack_int64(&pk, st->retry_at_ms);
    s_pack_str(&pk, st->progress_msg);
    s_pack_str(&pk, st->error);
    s_pack_bin(&pk, st->result, st->result_len);
    msgpack_pack_uint32(&pk, st->worker);
}

static void
s_enc_workerrec(s_buf_t *b, const wf_workerrec_t *w)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, s_buf_write);
    msgpack_pack_array(&pk, 6);
    msgpack_pack_uint32(&pk, S_REC_VERSION);
    msgpack_pack_uint32(&pk, w->id);
    s_pack_str(&pk, w->name);
    s_pack_str(&pk, w->host);
    msgpack_pack_uint32(&pk, w->pid);
    msgpack_pack_int64(&pk, w->first_seen_ms);
}

static bool
s_workerrec_ok(const wf_workerrec_t *w)
{
    return w->id >= 1 && wf_name_ok(w->name, strnlen(w->name, sizeof w->name)) &&
           wf_name_ok(w->host, strnlen(w->host, sizeof w->host));
}

/* The workerkeys key of (host, name, pid) into key[S_WORKERKEY_MAX]; its length. */
static size_t
s_workerkey(uint8_t *key, const char *host, const char *name, uint32_t pid)
{
    size_t hl = strnlen(host, WF_MAX_NAME), nl = strnlen(name, WF_MAX_NAME);
    memcpy(key, host, hl);
    key[hl] = 0;
    memcpy(key + hl + 1, name, nl);
    key[hl + 1 + nl] = 0;
    s_be32(key + hl + nl + 2, pid);
    return hl + nl + 6;
}

/* The same rules the decoder enforces, checked before writing (see the file comment). */
static bool
s_reqrec_ok(const wf_reqrec_t *r)
{
    if (r->state >= WEFT_REQ_STATE_COUNT_ || r->njobs > WF_MAX_JOBS_PER_REQUEST ||
        r->npools > WF_MAX_POOLS || (r->npools && !r->pools))
        return false;
    for (uint32_t i = 0; i < r->npools; i++)
        if (!r->pools[i].name || r->pools[i].limit < 1)
            return false;
    return true;
}

static bool
s_jobspec_ok(const wf_jobspec_t *js, uint32_t njobs)
{
    if (!js->id || !js->type || js->when >= WEFT_WHEN_COUNT_ || (js->payload_len && !js->payload) ||
        (js->nneeds && !js->needs) || (js->nchildren && !js->children))
        return false;
    for (uint32_t i = 0; i < js->nneeds; i++)
        if (js->needs[i] >= njobs || (i > 0 && js->needs[i] <= js->needs[i - 1]))
            return false;
    for (uint32_t i = 0; i < js->nchildren; i++)
        if (js->children[i] >= njobs)
            return false;
    return true;
}

static bool
s_jobstate_ok(const wf_jobstate_t *st)
{
    return st->state < WEFT_JOB_STATE_COUNT_ && st->reason < WEFT_REASON_COUNT_ &&
           st->progress <= 100 && !(st->result_len && !st->result);
}

/* ------------------------------------------------------------------------------------------ */
/* decoding: wf_msgpack_safe, msgpack_unpack into a zone, then a strict positional walk      */

typedef struct s_rd {
    const msgpack_object *v;
    uint32_t n, i;
    bool bad;
} s_rd_t;

static const msgpack_object *
s_rd_next(s_rd_t *rd)
{
    if (rd->bad || rd->i >= rd->n) {
        rd->bad = true;
        return NULL;
    }
    return &rd->v[rd->i++];
}

static uint64_t
s_rd_uint(s_rd_t *rd, uint64_t max)
{
    const msgpack_object *o = s_rd_next(rd);
    if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max) {
        rd->bad = true;
        return 0;
    }
    return o->via.u64;
}

static int64_t
s_rd_int(s_rd_t *rd, int64_t min, int64_t max)
{
    const msgpack_object *o = s_rd_next(rd);
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && max >= 0 && o->via.u64 <= (uint64_t)max)
        return (int64_t)o->via.u64;
    if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 >= min && o->via.i64 <= max)
        return o->via.i64;
    rd->bad = true;
    return 0;
}

static bool
s_rd_bool(s_rd_t *rd)
{
    const msgpack_object *o = s_rd_next(rd);
    if (!o || o->type != MSGPACK_OBJECT_BOOLEAN) {
        rd->bad = true;
        return false;
    }
    return o->via.boolean;
}

/* A heap copy; nil gives NULL unless required.  A NUL inside would silently cut the C string. */
static char *
s_rd_str(s_rd_t *rd, bool required)
{
    const msgpack_object *o = s_rd_next(rd);
    if (o && o->type == MSGPACK_OBJECT_NIL && !required)
        return NULL;
    if (!o || o->type != MSGPACK_OBJECT_STR ||
        (o->via.str.size && memchr(o->via.str.ptr, '\0', o->via.str.size))) {
        rd->bad = true;
        return NULL;
    }
    return s_xstrndup(o->via.str.ptr, o->via.str.size);
}

/* nil gives NULL; a bin (even empty) gives a non-NULL copy, so NULL-vs-empty round-trips. */
static uint8_t *
s_rd_bin(s_rd_t *rd, uint32_t *len)
{
    const msgpack_object *o = s_rd_next(rd);
    *len = 0;
    if (o && o->type == MSGPACK_OBJECT_NIL)
        return NULL;
    if (!o || o->type != MSGPACK_OBJECT_BIN) {
        rd->bad = true;
        return NULL;
    }
    uint8_t *p = s_xmalloc(o->via.bin.size);
    if (o->via.bin.size)
        memcpy(p, o->via.bin.ptr, o->via.bin.size);
    *len = o->via.bin.size;
    return p;
}

static bool
s_rd_array(s_rd_t *rd, s_rd_t *sub)
{
    const msgpack_object *o = s_rd_next(rd);
    if (!o || o->type != MSGPACK_OBJECT_ARRAY) {
        rd->bad = true;
        return false;
    }
    sub->v = o->via.array.ptr;
    sub->n = o->via.array.size;
    sub->i = 0;
    sub->bad = false;
    return true;
}

/* An array of u32, each < bound; strictly ascending when sorted is set. */
static uint32_t *
s_rd_u32s(s_rd_t *rd, uint32_t *n_p, uint32_t bound, bool sorted)
{
    s_rd_t sub;
    *n_p = 0;
    if (!s_rd_array(rd, &sub))
        return NULL;
    if (sub.n == 0)
        return NULL;
    uint32_t *v = s_xmalloc((size_t)sub.n * sizeof *v);
    for (uint32_t i = 0; i < sub.n; i++) {
        uint64_t x = s_rd_uint(&sub, UINT32_MAX);
        if (sub.bad || x >= bound || (sorted && i > 0 && x <= v[i - 1])) {
            free(v);
            rd->bad = true;
            return NULL;
        }
        v[i] = (uint32_t)x;
    }
    *n_p = sub.n;
    return v;
}

/* Check and unpack one stored value into rd (the record's fields after its version). */
static int
s_rd_open(msgpack_zone *zone, const MDB_val *val, s_rd_t *rd)
{
    msgpack_object root;
    size_t off = 0;
    if (!val->mv_data || !wf_msgpack_safe(val->mv_data, val->mv_size, WF_MAX_DEPTH))
        return WEFT_ESTORE;
    msgpack_zone_clear(zone);
    if (msgpack_unpack(val->mv_data, val->mv_size, &off, zone, &root) != MSGPACK_UNPACK_SUCCESS ||
        root.type != MSGPACK_OBJECT_ARRAY)
        return WEFT_ESTORE;
    rd->v = root.via.array.ptr;
    rd->n = root.via.array.size;
    rd->i = 0;
    rd->bad = false;
    if (s_rd_uint(rd, UINT32_MAX) != S_REC_VERSION || rd->bad)
        return WEFT_ESTORE;
    return WEFT_OK;
}

static bool
s_rd_done(const s_rd_t *rd)
{
    return !rd->bad && rd->i == rd->n;
}

static int
s_dec_reqrec(msgpack_zone *zone, const MDB_val *val, wf_reqrec_t *r)
{
    s_rd_t rd, pools = {0};
    memset(r, 0, sizeof *r);
    if (s_rd_open(zone, val, &rd) != WEFT_OK)
        return WEFT_ESTORE;
    r->id = s_rd_uint(&rd, UINT64_MAX);
    r->name = s_rd_str(&rd, false);
    r->session = s_rd_str(&rd, false);
    r->key = s_rd_str(&rd, false);
    r->state = (uint8_t)s_rd_uint(&rd, WEFT_REQ_STATE_COUNT_ - 1);
    r->cancelled = s_rd_bool(&rd);
    r->created_ms = s_rd_int(&rd, INT64_MIN, INT64_MAX);
    r->finished_ms = s_rd_int(&rd, INT64_MIN, INT64_MAX);
    r->njobs = (uint32_t)s_rd_uint(&rd, WF_MAX_JOBS_PER_REQUEST);
    if (s_rd_array(&rd, &pools) && pools.n > 0) {
        if (pools.n > WF_MAX_POOLS) {
            rd.bad = true;
        } else {
            r->pools = s_xmalloc(pools.n * sizeof *r->pools);
            memset(r->pools, 0, pools.n * sizeof *r->pools);
            r->npools = pools.n;
            for (uint32_t i = 0; i < pools.n && !rd.bad; i++) {
                s_rd_t pool;
                if (!s_rd_array(&pools, &pool)) {
                    rd.bad = true;
                    break;
                }
                r->pools[i].name = s_rd_str(&pool, true);
                r->pools[i].limit = (uint32_t)s_rd_uint(&pool, UINT32_MAX);
                if (!s_rd_done(&pool) || r->pools[i].limit < 1)
                    rd.bad = true;
            }
        }
    }
    if (!s_rd_done(&rd) || pools.bad) {
        wf_reqrec_fini(r);
        return WEFT_ESTORE;
    }
    return WEFT_OK;
}

/* njobs bounds the needs and children, so the engine can index arrays by them. */
static int
s_dec_jobspec(msgpack_zone *zone, const MDB_val *val, uint32_t njobs, wf_jobspec_t *js)
{
    s_rd_t rd;
    memset(js, 0, sizeof *js);
    if (s_rd_open(zone, val, &rd) != WEFT_OK)
        return WEFT_ESTORE;
    js->id = s_rd_str(&rd, true);
    js->type = s_rd_str(&rd, true);
    js->pool = s_rd_str(&rd, false);
    js->payload = s_rd_bin(&rd, &js->payload_len);
    js->retries = (uint32_t)s_rd_uint(&rd, UINT32_MAX);
    js->lost_retries = (uint32_t)s_rd_uint(&rd, UINT32_MAX);
    js->retry_delay_ms = (uint32_t)s_rd_uint(&rd, UINT32_MAX);
    js->timeout_ms = (uint32_t)s_rd_uint(&rd, UINT32_MAX);
    js->priority = (int32_t)s_rd_int(&rd, INT32_MIN, INT32_MAX);
    js->when = (uint8_t)s_rd_uint(&rd, WEFT_WHEN_COUNT_ - 1);
    js->needs = s_rd_u32s(&rd, &js->nneeds, njobs, true);
    js->children = s_rd_u32s(&rd, &js->nchildren, njobs, false);
    if (!s_rd_done(&rd)) {
        wf_jobspec_fini(js);
        return WEFT_ESTORE;
    }
    return WEFT_OK;
}

static int
s_dec_jobstate(msgpack_zone *zone, const MDB_val *val, wf_jobstate_t *st)
{
    s_rd_t rd;
    memset(st, 0, sizeof *st);
    if (s_rd_open(zone, val, &rd) != WEFT_OK)
        return WEFT_ESTORE;
    st->state = (uint8_t)s_rd_uint(&rd, WEFT_JOB_STATE_COUNT_ - 1);
    st->reason = (uint8_t)s_rd_uint(&rd, WEFT_REASON_COUNT_ - 1);
    st->progress = (uint8_t)s_rd_uint(&rd, 100);
    st->attempt = (uint32_t)s_rd_uint(&rd, UINT32_MAX);
    st->failures = (uint32_t)s_rd_uint(&rd, UINT32_MAX);
    st->lost = (uint32_t)s_rd_uint(&rd, UINT32_MAX);
    st->exit_code = (int32_t)s_rd_int(&rd, INT32_MIN, INT32_MAX);
    st->cause = (uint32_t)s_rd_uint(&rd, UINT32_MAX);
    st->started_ms = s_rd_int(&rd, INT64_MIN, INT64_MAX);
    st->finished_ms = s_rd_int(&rd, INT64_MIN, INT64_MAX);
    st->retry_at_ms = s_rd_int(&rd, INT64_MIN, INT64_MAX);
    st->progress_msg = s_rd_str(&rd, false);
    st->error = s_rd_str(&rd, false);
    st->result = s_rd_bin(&rd, &st->result_len);
    /* `worker` came later (within schema 1): a record of the first layout ends here and reads
     * as 0, "not recorded"; nothing else may be missing. */
    if (rd.n == S_JOBSTATE_FIELDS)
        st->worker = (uint32_t)s_rd_uint(&rd, UINT32_MAX);
    else if (rd.n != S_JOBSTATE_FIELDS_OLD)
        rd.bad = true;
    if (!s_rd_done(&rd)) {
        wf_jobstate_fini(st);
        return WEFT_ESTORE;
    }
    return WEFT_OK;
}

static int
s_dec_workerrec(msgpack_zone *zone, const MDB_val *val, wf_workerrec_t *w)
{
    s_rd_t rd;
    memset(w, 0, sizeof *w);
    if (s_rd_open(zone, val, &rd) != WEFT_OK)
        return WEFT_ESTORE;
    w->id = (uint32_t)s_rd_uint(&rd, UINT32_MAX);
    char *name = s_rd_str(&rd, true);
    char *host = s_rd_str(&rd, true);
    w->pid = (uint32_t)s_rd_uint(&rd, UINT32_MAX);
    w->first_seen_ms = s_rd_int(&rd, INT64_MIN, INT64_MAX);
    bool ok = s_rd_done(&rd) && name && host && wf_name_ok(name, strlen(name)) &&
              wf_name_ok(host, strlen(host)) && w->id >= 1;
    if (ok) {
        memcpy(w->name, name, strlen(name) + 1);
        memcpy(w->host, host, strlen(host) + 1);
    }
    free(name);
    free(host);
    if (!ok) {
        memset(w, 0, sizeof *w);
        return WEFT_ESTORE;
    }
    return WEFT_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* open / close                                                                               */

/* mkdir -p; the leaf is created 0700 (it holds the whole state), parents as mkdir -p would. */
static int
s_mkdir_p(const char *dir)
{
    char *p = s_xstrndup(dir, strlen(dir));
    int rc = 0;
    for (char *s = p + 1; *s && rc == 0; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            rc = -1;
        *s = '/';
    }
    if (rc == 0 && mkdir(p, 0700) != 0 && errno != EEXIST)
        rc = -1;
    struct stat sb;
    if (rc == 0 && stat(p, &sb) != 0)
        rc = -1;
    else if (rc == 0 && !S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        rc = -1;
    }
    int saved = errno;
    free(p);
    errno = saved;
    return rc;
}

/* Take DIR/weft.lock.  flock (not fcntl) locks belong to the open file description, so a
 * second open in this same process conflicts too, and closing some other descriptor of the
 * file never drops the lock.  O_CLOEXEC keeps it out of the shell jobs we spawn. */
static int
s_lock_dir(wf_store_t *s, char *errbuf, size_t errlen)
{
    size_t n = strlen(s->dir) + sizeof "/weft.lock";
    char *path = s_xmalloc(n);
    snprintf(path, n, "%s/weft.lock", s->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        s_err(errbuf, errlen, "cannot open lock file %s: %s", path, strerror(e));
        free(path);
        return WEFT_ESYS;
    }
    free(path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK || e == EAGAIN) {
            char buf[32] = {0};
            ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
            char *end = NULL;
            long pid = r > 0 ? strtol(buf, &end, 10) : 0;
            if (pid > 0 && end != buf)
                s_err(errbuf, errlen,
                      "state directory %s is in use by another weft engine (pid %ld)", s->dir, pid);
            else
                s_err(errbuf, errlen,
                      "state directory %s is in use by another weft engine (pid unknown)", s->dir);
            close(fd);
            return WEFT_EBUSY;
        }
        s_err(errbuf, errlen, "cannot lock %s/weft.lock: %s", s->dir, strerror(e));
        close(fd);
        return WEFT_ESYS;
    }
    /* The pid is only for the EBUSY message; failing to write it is not worth failing open. */
    char pidbuf[32];
    int len = snprintf(pidbuf, sizeof pidbuf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0) {
        ssize_t w = pwrite(fd, pidbuf, (size_t)len, 0);
        (void)w;
    }
    s->lock_fd = fd;
    return WEFT_OK;
}

static void
s_update_map_size(wf_store_t *s)
{
    MDB_envinfo info;
    if (mdb_env_info(s->env, &info) == 0)
        s->map_size = info.me_mapsize;
}

/* The last key of dbi, a big-endian id of `size` bytes, in *last (0: the database is empty).
 * A last key of another size is no id, and counting on from 1 would write over records:
 * *bad_size is then that size, and the result MDB_CORRUPTED. */
static int
s_last_id(MDB_txn *txn, MDB_dbi dbi, size_t size, uint64_t *last, size_t *bad_size)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    *last = 0;
    int mrc = mdb_cursor_open(txn, dbi, &cur);
    if (mrc)
        return mrc;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (mrc == 0 && k.mv_size != size) {
        *bad_size = k.mv_size;
        mrc = MDB_CORRUPTED;
    } else if (mrc == 0) {
        *last = s_get_be(k.mv_data, size);
    } else if (mrc == MDB_NOTFOUND) {
        mrc = 0;
    }
    mdb_cursor_close(cur);
    return mrc;
}

/* One write txn: open or create every database, check or write the schema, read next_req. */
static int
s_open_schema(wf_store_t *s, char *errbuf, size_t errlen)
{
    MDB_txn *txn = NULL;
    MDB_val k, v;
    const char *what = "begin";
    int mrc = mdb_txn_begin(s->env, NULL, s->readonly ? MDB_RDONLY : 0, &txn);
    if (mrc)
        goto fail;
    what = "opening databases";
    for (int i = 0; i < S_DB_COUNT_; i++) {
        mrc = mdb_dbi_open(txn, s_db_names[i], s->readonly ? 0 : MDB_CREATE, &s->dbi[i]);
        if (mrc == MDB_NOTFOUND && s->readonly && i >= S_DB_WORKERS) {
            /* A store written before workers were recorded: it names none. */
            mrc = 0;
            continue;
        }
        if (mrc == MDB_NOTFOUND && s->readonly) {
            mdb_txn_abort(txn);
            s_err(errbuf, errlen, "%s is not a weft state directory (no \"%s\" database)", s->dir,
                  s_db_names[i]);
            return WEFT_ENOTFOUND;
        }
        if (mrc)
            goto fail;
    }

    what = "reading the schema version";
    k.mv_data = (void *)"schema";
    k.mv_size = 6;
    mrc = mdb_get(txn, s->dbi[S_DB_META], &k, &v);
    if (mrc == 0) {
        if (v.mv_size != 4) {
            mdb_txn_abort(txn);
            s_err(errbuf, errlen, "state directory %s: corrupt schema version record (%zu bytes)",
                  s->dir, v.mv_size);
            return WEFT_ESTORE;
        }
        uint32_t ver = (uint32_t)s_get_be(v.mv_data, 4);
        if (ver != WF_SCHEMA_VERSION) {
            mdb_txn_abort(txn);
            s_err(errbuf, errlen,
                  "state directory %s has schema version %" PRIu32
                  ", but this build of weft reads schema version %d",
                  s->dir, ver, WF_SCHEMA_VERSION);
            return WEFT_EVERSION;
        }
    } else if (mrc == MDB_NOTFOUND && s->readonly) {
        mdb_txn_abort(txn);
        s_err(errbuf, errlen, "%s is not a weft state directory (no schema version)", s->dir);
        return WEFT_ENOTFOUND;
    } else if (mrc == MDB_NOTFOUND) {
        uint8_t buf[4];
        s_be32(buf, WF_SCHEMA_VERSION);
        v.mv_data = buf;
        v.mv_size = 4;
        what = "writing the schema version";
        mrc = mdb_put(txn, s->dbi[S_DB_META], &k, &v, 0);
        if (mrc)
            goto fail;
    } else {
        goto fail;
    }

    what = "reading next_req";
    s->next_req = 1;
    k.mv_data = (void *)"next_req";
    k.mv_size = 8;
    mrc = mdb_get(txn, s->dbi[S_DB_META], &k, &v);
    if (mrc == 0 && v.mv_size == 8)
        s->next_req = s_get_be(v.mv_data, 8);
    else if (mrc != 0 && mrc != MDB_NOTFOUND)
        goto fail;
    /* Never hand out an id that is already taken, whatever meta says. */
    uint64_t last = 0;
    size_t bad_size = 0, want_size = 8;
    const char *bad_db = "requests";
    mrc = s_last_id(txn, s->dbi[S_DB_REQUESTS], want_size, &last, &bad_size);
    if (bad_size)
        goto corrupt;
    if (mrc)
        goto fail;
    if (last != UINT64_MAX && last >= s->next_req)
        s->next_req = last + 1;
    if (s->next_req == 0)
        s->next_req = 1;

    what = "reading the last worker id";
    s->have_workers = true;
    for (int i = S_DB_WORKERS; i < S_DB_COUNT_; i++)
        s->have_workers = s->have_workers && s->dbi[i] != 0;
    s->next_worker = 1;
    if (s->have_workers) {
        want_size = 4;
        bad_db = "workers";
        mrc = s_last_id(txn, s->dbi[S_DB_WORKERS], want_size, &last, &bad_size);
        if (bad_size)
            goto corrupt;
        if (mrc)
            goto fail;
        if (last)
            s->next_worker = last == UINT32_MAX ? UINT32_MAX : (uint32_t)last + 1;
    }

    what = "commit";
    mrc = mdb_txn_commit(txn);
    txn = NULL;
    if (mrc)
        goto fail;
    return WEFT_OK;

fail:
    if (txn)
        mdb_txn_abort(txn);
    s_err(errbuf, errlen, "cannot open store in %s (%s): %s", s->dir, what, mdb_strerror(mrc));
    return mrc == MDB_MAP_FULL ? WEFT_EFULL : WEFT_ESTORE;
corrupt:
    mdb_txn_abort(txn);
    s_err(errbuf, errlen,
          "cannot open store in %s: corrupt \"%s\" database (its last key is %zu bytes, not %zu)",
          s->dir, bad_db, bad_size, want_size);
    return WEFT_ESTORE;
}

int
wf_store_open(wf_store_t **store_p, const char *dir, const wf_store_opts_t *opts, char *errbuf,
              size_t errlen)
{
    wf_store_opts_t def = {.durability = WEFT_DURABLE_FULL};
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!store_p) {
        s_err(errbuf, errlen, "no store pointer");
        return WEFT_EINVAL;
    }
    *store_p = NULL;
    if (!dir || !*dir) {
        s_err(errbuf, errlen, "no state directory given");
        return WEFT_EINVAL;
    }
    if (!opts)
        opts = &def;
    if (opts->durability != WEFT_DURABLE_FULL && opts->durability != WEFT_DURABLE_PROCESS) {
        s_err(errbuf, errlen, "unknown durability level %d", opts->durability);
        return WEFT_EINVAL;
    }
    uint64_t map_max = opts->map_max ? opts->map_max : S_DEFAULT_MAP_MAX;
    uint64_t map_size = opts->map_size;
    if (!map_size)
        map_size = S_DEFAULT_MAP_SIZE < map_max ? S_DEFAULT_MAP_SIZE : map_max;
    if (map_size > map_max) {
        s_err(errbuf, errlen, "map size %" PRIu64 " exceeds the map maximum %" PRIu64, map_size,
              map_max);
        return WEFT_EINVAL;
    }

    wf_store_t *s = s_xmalloc(sizeof *s);
    memset(s, 0, sizeof *s);
    s->lock_fd = -1;
    s->map_max = map_max;
    s->dir = s_xstrndup(dir, strlen(dir));
    /* Readers first: a thread may nest reads (each_active's callback calling each_job), which
     * a writer-preferring lock would deadlock against a waiting resize. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_READER_NP);
    if (pthread_rwlock_init(&s->resize, &attr) != 0)
        abort();
    pthread_rwlockattr_destroy(&attr);

    s->readonly = opts->readonly;
    int rc;
    if (s->readonly) {
        struct stat sb;
        char data[4096];
        snprintf(data, sizeof data, "%s/data.mdb", dir);
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || stat(data, &sb) != 0) {
            s_err(errbuf, errlen, "%s is not a weft state directory", dir);
            rc = WEFT_ENOTFOUND;
            goto fail;
        }
    } else if (s_mkdir_p(dir) != 0) {
        int e = errno;
        s_err(errbuf, errlen, "cannot create state directory %s: %s", dir, strerror(e));
        rc = WEFT_ESYS;
        goto fail;
    }
    if (!s->readonly) {
        rc = s_lock_dir(s, errbuf, errlen);
        if (rc)
            goto fail;
    }

    int mrc = mdb_env_create(&s->env);
    if (mrc == 0)
        mrc = mdb_env_set_maxdbs(s->env, S_MAX_DBS);
    if (mrc == 0)
        mrc = mdb_env_set_maxreaders(s->env, S_MAX_READERS);
    if (mrc == 0 && !s->readonly) /* read-only: adopt the size the writer left */
        mrc = mdb_env_set_mapsize(s->env, (size_t)map_size);
    unsigned flags = MDB_NOTLS;
    if (opts->durability == WEFT_DURABLE_PROCESS)
        flags |= MDB_NOSYNC;
    if (s->readonly)
        flags |= MDB_RDONLY;
    if (mrc == 0)
        mrc = mdb_env_open(s->env, dir, flags, 0600);
    if (mrc) {
        s_err(errbuf, errlen, "cannot open LMDB environment in %s: %s", dir, mdb_strerror(mrc));
        rc = WEFT_ESTORE;
        goto fail;
    }
    /* Reader slots of killed processes would pin old pages forever and eat the 126 slots. */
    mrc = mdb_reader_check(s->env, &s->stale_readers);
    if (mrc) {
        s_err(errbuf, errlen, "cannot check stale readers in %s: %s", dir, mdb_strerror(mrc));
        rc = WEFT_ESTORE;
        goto fail;
    }
    s->max_key = (size_t)mdb_env_get_maxkeysize(s->env);
    rc = s_open_schema(s, errbuf, errlen);
    if (rc)
        goto fail;
    s_update_map_size(s);
    *store_p = s;
    return WEFT_OK;

fail:
    wf_store_close(&s);
    return rc;
}

void
wf_store_close(wf_store_t **store_p)
{
    if (!store_p || !*store_p)
        return;
    wf_store_t *s = *store_p;
    if (s->env)
        mdb_env_close(s->env);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* drops the flock */
    pthread_rwlock_destroy(&s->resize);
    free(s->dir);
    free(s->enc.data);
    free(s);
    *store_p = NULL;
}

uint64_t
wf_store_next_reqid(wf_store_t *self)
{
    return self->next_req;
}

uint32_t
wf_store_next_worker(wf_store_t *self)
{
    return self->next_worker;
}

uint64_t
wf_store_map_size(wf_store_t *self)
{
    return self->map_size;
}

int
wf_store_stale_readers(wf_store_t *self)
{
    return self->stale_readers;
}

/* ------------------------------------------------------------------------------------------ */
/* batches                                                                                    */

wf_batch_t *
wf_batch_new(wf_store_t *store)
{
    wf_batch_t *b = s_xmalloc(sizeof *b);
    memset(b, 0, sizeof *b);
    b->store = store;
    return b;
}

void
wf_batch_destroy(wf_batch_t **batch_p)
{
    if (!batch_p || !*batch_p)
        return;
    free((*batch_p)->ops);
    free(*batch_p);
    *batch_p = NULL;
}

void
wf_batch_reset(wf_batch_t *self)
{
    self->n = 0;
}

bool
wf_batch_empty(const wf_batch_t *self)
{
    return self->n == 0;
}

static void
s_push(wf_batch_t *b, s_op_t op)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->ops = s_xrealloc(b->ops, b->cap * sizeof *b->ops);
    }
    b->ops[b->n++] = op;
}

void
wf_batch_put_new_request(wf_batch_t *self, const wf_reqrec_t *rec, const wf_reqspec_t *spec)
{
    s_push(self, (s_op_t){.kind = S_OP_NEW_REQUEST, .req = rec->id, .ptr = rec, .ptr2 = spec});
}

void
wf_batch_put_request(wf_batch_t *self, const wf_reqrec_t *rec)
{
    s_push(self, (s_op_t){.kind = S_OP_REQUEST, .req = rec->id, .ptr = rec});
}

void
wf_batch_put_jobstate(wf_batch_t *self, uint64_t req, uint32_t idx, const wf_jobstate_t *st)
{
    s_push(self, (s_op_t){.kind = S_OP_JOBSTATE, .req = req, .idx = idx, .ptr = st});
}

void
wf_batch_put_worker(wf_batch_t *self, const wf_workerrec_t *rec)
{
    s_push(self, (s_op_t){.kind = S_OP_WORKER, .idx = rec->id, .ptr = rec});
}

void
wf_batch_put_next_req(wf_batch_t *self, uint64_t next)
{
    s_push(self, (s_op_t){.kind = S_OP_NEXT_REQ, .req = next});
}

/* ------------------------------------------------------------------------------------------ */
/* commit                                                                                     */

/* Why a write failed, for errbuf. */
typedef struct s_why {
    const char *what;
    uint64_t req;
    uint32_t idx;
    bool injected;
} s_why_t;

/* A commit-time refusal of a record the decoder would reject: not an MDB code. */
#define S_RC_INVALID (-1)

#ifdef WEFT_TESTING
void
wf_store_set_fault(wf_store_t *self, unsigned countdown, bool full)
{
    self->fault_countdown = countdown;
    self->fault_full = full;
}

static int
s_fault(wf_store_t *s, s_why_t *why)
{
    if (s->fault_countdown == 0 || --s->fault_countdown != 0)
        return 0;
    why->injected = true;
    return s->fault_full ? MDB_MAP_FULL : EIO;
}
#define S_FAULT(s, why)                                                                            \
    do {                                                                                           \
        int frc_ = s_fault((s), (why));                                                            \
        if (frc_)                                                                                  \
            return frc_;                                                                           \
    } while (0)
#else
#define S_FAULT(s, why) ((void)(s), (void)(why))
#endif

/* mdb_put; with MDB_APPEND, a key that turns out not to be the largest falls back to a plain
 * put (LMDB refuses it with MDB_KEYEXIST before touching anything), so APPEND is only ever an
 * optimisation. */
static int
s_put(wf_store_t *s, MDB_txn *txn, int db, MDB_val *k, MDB_val *v, unsigned flags, s_why_t *why)
{
    S_FAULT(s, why);
    int rc = mdb_put(txn, s->dbi[db], k, v, flags);
    if (rc == MDB_KEYEXIST && (flags & MDB_APPEND))
        rc = mdb_put(txn, s->dbi[db], k, v, flags & ~(unsigned)MDB_APPEND);
    return rc;
}

static int
s_del(wf_store_t *s, MDB_txn *txn, int db, MDB_val *k, s_why_t *why)
{
    S_FAULT(s, why);
    int rc = mdb_del(txn, s->dbi[db], k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
s_put_buf(wf_store_t *s, MDB_txn *txn, int db, const uint8_t *key, size_t klen, unsigned flags,
          s_why_t *why)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v = {.mv_size = s->enc.len, .mv_data = s->enc.data};
    return s_put(s, txn, db, &k, &v, flags, why);
}

/* Sort job indexes in LMDB's default key order of their ids (memcmp, then shorter first), so
 * a new request's name index can be appended too. */
static int
s_cmp_ids(const void *a, const void *b, void *arg)
{
    const wf_jobspec_t *jobs = arg;
    const char *x = jobs[*(const uint32_t *)a].id, *y = jobs[*(const uint32_t *)b].id;
    size_t lx = strlen(x), ly = strlen(y);
    int c = memcmp(x, y, lx < ly ? lx : ly);
    if (c)
        return c;
    return lx < ly ? -1 : lx > ly;
}

static int
s_write_new_request(wf_store_t *s, MDB_txn *txn, const wf_reqrec_t *rec, const wf_reqspec_t *spec,
                    s_why_t *why)
{
    uint8_t key[8 + 4];
    int rc;
    uint64_t req = rec->id;
    s_be64(key, req);

    why->what = "request record";
    if (!s_reqrec_ok(rec) || rec->njobs != spec->njobs)
        return S_RC_INVALID;
    s->enc.len = 0;
    s_enc_reqrec(&s->enc, rec);
    if ((rc = s_put_buf(s, txn, S_DB_REQUESTS, key, 8, MDB_APPEND, why)))
        return rc;

    why->what = "job spec";
    for (uint32_t i = 0; i < spec->njobs; i++) {
        why->idx = i;
        if (!s_jobspec_ok(&spec->jobs[i], spec->njobs))
            return S_RC_INVALID;
        s_be32(key + 8, i);
        s->enc.len = 0;
        s_enc_jobspec(&s->enc, &spec->jobs[i]);
        if ((rc = s_put_buf(s, txn, S_DB_JOBSPECS, key, 12, MDB_APPEND, why)))
            return rc;
    }

    /* Every job starts pending on its parents; the engine overwrites those it makes ready
     * later in the same batch (ops are applied in order). */
    why->what = "initial job state";
    wf_jobstate_t pending = {
        .state = WEFT_JOB_PENDING, .reason = WEFT_REASON_WAIT_PARENTS, .cause = WF_NO_JOB};
    s->enc.len = 0;
    s_enc_jobstate(&s->enc, &pending);
    for (uint32_t i = 0; i < spec->njobs; i++) {
        why->idx = i;
        s_be32(key + 8, i);
        if ((rc = s_put_buf(s, txn, S_DB_JOBSTATES, key, 12, MDB_APPEND, why)))
            return rc;
    }

    why->what = "job name index";
    uint32_t *order = s_xmalloc((size_t)spec->njobs * sizeof *order);
    for (uint32_t i = 0; i < spec->njobs; i++)
        order[i] = i;
    qsort_r(order, spec->njobs, sizeof *order, s_cmp_ids, spec->jobs);
    uint8_t *nkey = s_xmalloc(8 + WF_MAX_NAME + 1);
    size_t nkey_cap = 8 + WF_MAX_NAME + 1;
    s_be64(nkey, req);
    rc = 0;
    for (uint32_t n = 0; n < spec->njobs && rc == 0; n++) {
        uint32_t i = order[n];
        size_t len = strlen(spec->jobs[i].id);
        why->idx = i;
        if (8 + len > nkey_cap) {
            nkey_cap = 8 + len;
            nkey = s_xrealloc(nkey, nkey_cap);
        }
        memcpy(nkey + 8, spec->jobs[i].id, len);
        uint8_t val[4];
        s_be32(val, i);
        MDB_val k = {.mv_size = 8 + len, .mv_data = nkey};
        MDB_val v = {.mv_size = 4, .mv_data = val};
        rc = s_put(s, txn, S_DB_JOBNAMES, &k, &v, MDB_APPEND, why);
    }
    free(nkey);
    free(order);
    if (rc)
        return rc;
    why->idx = WF_NO_JOB;

    if (rec->key) {
        why->what = "idempotency key";
        MDB_val k = {.mv_size = strlen(rec->key), .mv_data = rec->key};
        MDB_val v = {.mv_size = 8, .mv_data = key};
        if ((rc = s_put(s, txn, S_DB_IDEM, &k, &v, 0, why)))
            return rc;
    }
    if (rec->state == WEFT_REQ_RUNNING) {
        why->what = "active entry";
        MDB_val k = {.mv_size = 8, .mv_data = key};
        MDB_val v = {.mv_size = 0, .mv_data = NULL};
        if ((rc = s_put(s, txn, S_DB_ACTIVE, &k, &v, MDB_APPEND, why)))
            return rc;
    }
    return 0;
}

static int
s_write_op(wf_store_t *s, MDB_txn *txn, const s_op_t *op, s_why_t *why)
{
    uint8_t key[12];
    int rc;
    s_be64(key, op->req);
    why->req = op->req;
    why->idx = WF_NO_JOB;
    switch (op->kind) {
    case S_OP_NEW_REQUEST:
        return s_write_new_request(s, txn, op->ptr, op->ptr2, why);
    case S_OP_REQUEST: {
        const wf_reqrec_t *rec = op->ptr;
        why->what = "request record";
        if (!s_reqrec_ok(rec))
            return S_RC_INVALID;
        s->enc.len = 0;
        s_enc_reqrec(&s->enc, rec);
        if ((rc = s_put_buf(s, txn, S_DB_REQUESTS, key, 8, 0, why)))
            return rc;
        why->what = "active entry";
        MDB_val k = {.mv_size = 8, .mv_data = key};
        if (rec->state == WEFT_REQ_RUNNING) {
            MDB_val v = {.mv_size = 0, .mv_data = NULL};
            return s_put(s, txn, S_DB_ACTIVE, &k, &v, 0, why);
        }
        return s_del(s, txn, S_DB_ACTIVE, &k, why);
    }
    case S_OP_JOBSTATE: {
        why->what = "job state";
        why->idx = op->idx;
        s_be32(key + 8, op->idx);
        if (!s_jobstate_ok(op->ptr))
            return S_RC_INVALID;
        /* The spec is not looked up (a B-tree walk per transition): the engine writes states
         * only for jobs of requests it loaded or wrote in this same batch. */
        s->enc.len = 0;
        s_enc_jobstate(&s->enc, op->ptr);
        return s_put_buf(s, txn, S_DB_JOBSTATES, key, 12, 0, why);
    }
    case S_OP_NEXT_REQ: {
        why->what = "next_req";
        MDB_val k = {.mv_size = 8, .mv_data = (void *)"next_req"};
        MDB_val v = {.mv_size = 8, .mv_data = key};
        return s_put(s, txn, S_DB_META, &k, &v, 0, why);
    }
    case S_OP_WORKER: {
        const wf_workerrec_t *w = op->ptr;
        why->what = "worker record";
        why->req = 0;
        if (!s->have_workers || !s_workerrec_ok(w))
            return S_RC_INVALID;
        uint8_t wkey[S_WORKERKEY_MAX];
        s_be32(key, w->id);
        s->enc.len = 0;
        s_enc_workerrec(&s->enc, w);
        /* Ids only grow: appended, like requests. */
        if ((rc = s_put_buf(s, txn, S_DB_WORKERS, key, 4, MDB_APPEND, why)))
            return rc;
        why->what = "worker key";
        MDB_val k = {.mv_size = s_workerkey(wkey, w->host, w->name, w->pid), .mv_data = wkey};
        MDB_val v = {.mv_size = 4, .mv_data = key};
        return s_put(s, txn, S_DB_WORKERKEYS, &k, &v, 0, why);
    }
    }
    return S_RC_INVALID;
}

/* The whole batch in one write txn.  Returns 0, an MDB/errno code, or S_RC_INVALID. */
static int
s_write_batch(wf_store_t *s, const wf_batch_t *b, s_why_t *why)
{
    MDB_txn *txn = NULL;
    why->what = "begin";
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        return rc;
    for (size_t i = 0; i < b->n; i++) {
        rc = s_write_op(s, txn, &b->ops[i], why);
        if (rc) {
            mdb_txn_abort(txn);
            return rc;
        }
    }
    why->what = "commit";
    why->req = 0;
    why->idx = WF_NO_JOB;
#ifdef WEFT_TESTING
    rc = s_fault(s, why);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
#endif
    return mdb_txn_commit(txn); /* frees txn on failure too */
}

/* Double the map, up to map_max.  Only between transactions: the write side of the rwlock
 * waits for every reader of this process to finish its read transaction. */
static int
s_grow(wf_store_t *s, char *errbuf, size_t errlen)
{
    uint64_t cur = s->map_size;
    if (cur >= s->map_max) {
        s_err(errbuf, errlen, "store map full at %" PRIu64 " bytes (max %" PRIu64 ")", cur,
              s->map_max);
        return WEFT_EFULL;
    }
    if (s_reads_held > 0) {
        s_err(errbuf, errlen,
              "store map must grow but this thread is inside a store read (commit called from "
              "a wf_store_each_* callback)");
        return WEFT_ESTORE;
    }
    uint64_t next = cur > s->map_max / 2 ? s->map_max : cur * 2;
    pthread_rwlock_wrlock(&s->resize);
    int mrc = mdb_env_set_mapsize(s->env, (size_t)next);
    if (mrc == 0)
        s_update_map_size(s);
    pthread_rwlock_unlock(&s->resize);
    if (mrc) {
        s_err(errbuf, errlen, "cannot grow the store map to %" PRIu64 " bytes: %s", next,
              mdb_strerror(mrc));
        return WEFT_ESTORE;
    }
    if (s->map_size <= cur) {
        s_err(errbuf, errlen, "store map full at %" PRIu64 " bytes (max %" PRIu64 ")", cur,
              s->map_max);
        return WEFT_EFULL;
    }
    return WEFT_OK;
}

int
wf_store_commit(wf_store_t *self, wf_batch_t *batch, char *errbuf, size_t errlen)
{
    assert(self && batch && batch->store == self);
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (batch->n == 0)
        return WEFT_OK;
    if (self->readonly) {
        wf_batch_reset(batch);
        s_err(errbuf, errlen, "the store was opened read-only");
        return WEFT_EINVAL;
    }
    int rc;
    for (;;) {
        s_why_t why = {.what = "", .idx = WF_NO_JOB};
        int mrc = s_write_batch(self, batch, &why);
        if (mrc == 0) {
            for (size_t i = 0; i < batch->n; i++)
                if (batch->ops[i].kind == S_OP_NEXT_REQ)
                    self->next_req = batch->ops[i].req;
            rc = WEFT_OK;
            break;
        }
        if (mrc == MDB_MAP_FULL) {
            rc = s_grow(self, errbuf, errlen);
            if (rc)
                break;
            continue; /* replay the whole batch in a fresh txn */
        }
        char where[64] = "";
        if (why.req && why.idx != WF_NO_JOB)
            snprintf(where, sizeof where, " of request %" PRIu64 " job %" PRIu32, why.req, why.idx);
        else if (why.req)
            snprintf(where, sizeof where, " of request %" PRIu64, why.req);
        if (mrc == S_RC_INVALID) {
            s_err(errbuf, errlen, "store refused an invalid %s%s; nothing was written", why.what,
                  where);
            rc = WEFT_EINVAL;
        } else {
            s_err(errbuf, errlen, "store commit failed writing %s%s: %s%s", why.what, where,
                  mdb_strerror(mrc), why.injected ? " (injected fault)" : "");
            rc = WEFT_ESTORE;
        }
        break;
    }
    wf_batch_reset(batch);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* reads                                                                                      */

static int
s_rbegin(wf_store_t *s, MDB_txn **txn)
{
    pthread_rwlock_rdlock(&s->resize);
    int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    if (mrc == MDB_MAP_RESIZED && s->readonly) {
        /* Another process (the engine we inspect) grew the map: adopt its size.  Only a
         * read-only store can see this; in the engine's own process the resize is ours. */
        pthread_rwlock_unlock(&s->resize);
        pthread_rwlock_wrlock(&s->resize);
        mdb_env_set_mapsize(s->env, 0);
        pthread_rwlock_unlock(&s->resize);
        pthread_rwlock_rdlock(&s->resize);
        mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    }
    if (mrc) {
        pthread_rwlock_unlock(&s->resize);
        return WEFT_ESTORE;
    }
    s_reads_held++;
    return WEFT_OK;
}

static void
s_rend(wf_store_t *s, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    s_reads_held--;
    pthread_rwlock_unlock(&s->resize);
}

static void
s_zone_init(msgpack_zone *zone, size_t chunk)
{
    if (!msgpack_zone_init(zone, chunk))
        abort();
}

static int
s_map_get(int mrc)
{
    return mrc == MDB_NOTFOUND ? WEFT_ENOTFOUND : WEFT_ESTORE;
}

/* The request record of req in txn, decoded; its id must match the key. */
static int
s_get_reqrec(wf_store_t *s, MDB_txn *txn, msgpack_zone *zone, uint64_t req, wf_reqrec_t *out)
{
    uint8_t key[8];
    s_be64(key, req);
    MDB_val k = {.mv_size = 8, .mv_data = key}, v;
    int mrc = mdb_get(txn, s->dbi[S_DB_REQUESTS], &k, &v);
    if (mrc)
        return s_map_get(mrc);
    int rc = s_dec_reqrec(zone, &v, out);
    if (rc == WEFT_OK && out->id != req) {
        wf_reqrec_fini(out);
        rc = WEFT_ESTORE;
    }
    return rc;
}

int
wf_store_get_request(wf_store_t *self, uint64_t req, wf_reqrec_t *out)
{
    MDB_txn *txn;
    msgpack_zone zone;
    memset(out, 0, sizeof *out);
    if (s_rbegin(self, &txn))
        return WEFT_ESTORE;
    s_zone_init(&zone, 1024);
    int rc = s_get_reqrec(self, txn, &zone, req, out);
    msgpack_zone_destroy(&zone);
    s_rend(self, txn);
    return rc;
}

int
wf_store_find_job(wf_store_t *self, uint64_t req, const char *id, uint32_t *idx_p)
{
    if (!id || !idx_p)
        return WEFT_EINVAL;
    size_t len = strlen(id);
    if (len == 0 || 8 + len > self->max_key)
        return WEFT_ENOTFOUND; /* no such key can have been written */
    uint8_t *key = s_xmalloc(8 + len);
    s_be64(key, req);
    memcpy(key + 8, id, len);
    MDB_txn *txn;
    int rc = s_rbegin(self, &txn);
    if (rc == WEFT_OK) {
        MDB_val k = {.mv_size = 8 + len, .mv_data = key}, v;
        int mrc = mdb_get(txn, self->dbi[S_DB_JOBNAMES], &k, &v);
        if (mrc)
            rc = s_map_get(mrc);
        else if (v.mv_size != 4)
            rc = WEFT_ESTORE;
        else
            *idx_p = (uint32_t)s_get_be(v.mv_data, 4);
        s_rend(self, txn);
    }
    free(key);
    return rc;
}

int
wf_store_find_idem(wf_store_t *self, const char *key, uint64_t *req_p)
{
    if (!key || !req_p)
        return WEFT_EINVAL;
    size_t len = strlen(key);
    if (len == 0 || len > self->max_key)
        return WEFT_ENOTFOUND;
    MDB_txn *txn;
    int rc = s_rbegin(self, &txn);
    if (rc)
        return rc;
    MDB_val k = {.mv_size = len, .mv_data = (void *)key}, v;
    int mrc = mdb_get(txn, self->dbi[S_DB_IDEM], &k, &v);
    if (mrc)
        rc = s_map_get(mrc);
    else if (v.mv_size != 8)
        rc = WEFT_ESTORE;
    else
        *req_p = s_get_be(v.mv_data, 8);
    s_rend(self, txn);
    return rc;
}

int
wf_store_get_job(wf_store_t *self, uint64_t req, uint32_t idx, wf_jobspec_t *spec,
                 wf_jobstate_t *state)
{
    uint8_t key[12];
    MDB_txn *txn;
    msgpack_zone zone;
    wf_reqrec_t rec = {0};
    if (spec)
        memset(spec, 0, sizeof *spec);
    if (state)
        memset(state, 0, sizeof *state);
    s_be64(key, req);
    s_be32(key + 8, idx);
    MDB_val k = {.mv_size = 12, .mv_data = key}, v;
    int rc = s_rbegin(self, &txn);
    if (rc)
        return rc;
    s_zone_init(&zone, 1024);
    if (spec) {
        int mrc = mdb_get(txn, self->dbi[S_DB_JOBSPECS], &k, &v);
        if (mrc) {
            rc = s_map_get(mrc);
            goto done;
        }
        /* The request's job count bounds needs and children. */
        rc = s_get_reqrec(self, txn, &zone, req, &rec);
        if (rc == WEFT_ENOTFOUND || (rc == WEFT_OK && idx >= rec.njobs))
            rc = WEFT_ESTORE; /* a spec without its request, or beyond its count */
        if (rc)
            goto done;
        rc = s_dec_jobspec(&zone, &v, rec.njobs, spec);
        if (rc)
            goto done;
    }
    if (state) {
        int mrc = mdb_get(txn, self->dbi[S_DB_JOBSTATES], &k, &v);
        if (mrc) {
            rc = s_map_get(mrc);
            if (rc == WEFT_ENOTFOUND && spec)
                rc = WEFT_ESTORE; /* a spec without its state */
            goto done;
        }
        rc = s_dec_jobstate(&zone, &v, state);
    }
done:
    msgpack_zone_destroy(&zone);
    s_rend(self, txn);
    wf_reqrec_fini(&rec);
    if (rc) {
        wf_jobspec_fini(spec);
        wf_jobstate_fini(state);
    }
    return rc;
}

int
wf_store_get_worker(wf_store_t *self, uint32_t id, wf_workerrec_t *out)
{
    memset(out, 0, sizeof *out);
    if (!self->have_workers || id == 0)
        return WEFT_ENOTFOUND;
    uint8_t key[4];
    s_be32(key, id);
    MDB_txn *txn;
    int rc = s_rbegin(self, &txn);
    if (rc)
        return rc;
    MDB_val k = {.mv_size = 4, .mv_data = key}, v;
    int mrc = mdb_get(txn, self->dbi[S_DB_WORKERS], &k, &v);
    if (mrc) {
        rc = s_map_get(mrc);
    } else {
        msgpack_zone zone;
        s_zone_init(&zone, 512);
        rc = s_dec_workerrec(&zone, &v, out);
        msgpack_zone_destroy(&zone);
        if (rc == WEFT_OK && out->id != id) {
            memset(out, 0, sizeof *out);
            rc = WEFT_ESTORE;
        }
    }
    s_rend(self, txn);
    return rc;
}

int
wf_store_find_worker(wf_store_t *self, const char *name, const char *host, uint32_t pid,
                     uint32_t *id_p)
{
    if (!name || !host || !id_p)
        return WEFT_EINVAL;
    if (!self->have_workers || strnlen(name, WF_MAX_NAME + 1) > WF_MAX_NAME ||
        strnlen(host, WF_MAX_NAME + 1) > WF_MAX_NAME)
        return WEFT_ENOTFOUND;
    uint8_t key[S_WORKERKEY_MAX];
    MDB_val k = {.mv_size = s_workerkey(key, host, name, pid), .mv_data = key}, v;
    MDB_txn *txn;
    int rc = s_rbegin(self, &txn);
    if (rc)
        return rc;
    int mrc = mdb_get(txn, self->dbi[S_DB_WORKERKEYS], &k, &v);
    if (mrc)
        rc = s_map_get(mrc);
    else if (v.mv_size != 4 || s_get_be(v.mv_data, 4) == 0)
        rc = WEFT_ESTORE;
    else
        *id_p = (uint32_t)s_get_be(v.mv_data, 4);
    s_rend(self, txn);
    return rc;
}

/* Walk requests in id order: `requests` itself (each value is the record), or `active` (each
 * key names a request whose record is looked up; a missing one is corruption). */
static int
s_each_req(wf_store_t *self, int db, wf_store_req_fn *fn, void *arg)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    msgpack_zone zone;
    MDB_val k, v;
    int rc = s_rbegin(self, &txn);
    if (rc)
        return rc;
    s_zone_init(&zone, 1024);
    if (mdb_cursor_open(txn, self->dbi[db], &cur)) {
        rc = WEFT_ESTORE;
        goto done;
    }
    for (int op = MDB_FIRST;; op = MDB_NEXT) {
        int mrc = mdb_cursor_get(cur, &k, &v, op);
        if (mrc == MDB_NOTFOUND)
            break;
        if (mrc || k.mv_size != 8) {
            rc = WEFT_ESTORE;
            break;
        }
        wf_reqrec_t rec;
        uint64_t id = s_get_be(k.mv_data, 8);
        if (db == S_DB_ACTIVE) {
            rc = s_get_reqrec(self, txn, &zone, id, &rec) ? WEFT_ESTORE : WEFT_OK;
        } else {
            rc = s_dec_reqrec(&zone, &v, &rec);
            if (rc == WEFT_OK && rec.id != id) {
                wf_reqrec_fini(&rec);
                rc = WEFT_ESTORE;
            }
        }
        if (rc)
            break;
        rc = fn(&rec, arg);
        wf_reqrec_fini(&rec);
        if (rc)
            break;
    }
done:
    if (cur)
        mdb_cursor_close(cur);
    msgpack_zone_destroy(&zone);
    s_rend(self, txn);
    return rc;
}

int
wf_store_each_request(wf_store_t *self, wf_store_req_fn *fn, void *arg)
{
    return s_each_req(self, S_DB_REQUESTS, fn, arg);
}

int
wf_store_each_active(wf_store_t *self, wf_store_req_fn *fn, void *arg)
{
    return s_each_req(self, S_DB_ACTIVE, fn, arg);
}

/* The cursor is at (req, idx) exactly. */
static bool
s_at_job(const MDB_val *k, uint64_t req, uint32_t idx)
{
    return k->mv_size == 12 && s_get_be(k->mv_data, 8) == req &&
           s_get_be((const uint8_t *)k->mv_data + 8, 4) == idx;
}

int
wf_store_each_job(wf_store_t *self, uint64_t req, wf_store_job_fn *fn, void *arg)
{
    MDB_txn *txn;
    MDB_cursor *cspec = NULL, *cstate = NULL;
    msgpack_zone zone;
    wf_reqrec_t rec = {0};
    uint8_t key[12];
    int rc = s_rbegin(self, &txn);
    if (rc)
        return rc;
    s_zone_init(&zone, 4096);
    rc = s_get_reqrec(self, txn, &zone, req, &rec);
    if (rc)
        goto done;
    if (mdb_cursor_open(txn, self->dbi[S_DB_JOBSPECS], &cspec) ||
        mdb_cursor_open(txn, self->dbi[S_DB_JOBSTATES], &cstate)) {
        rc = WEFT_ESTORE;
        goto done;
    }
    s_be64(key, req);
    s_be32(key + 8, 0);
    MDB_val ks = {.mv_size = 12, .mv_data = key}, kt = ks, vs, vt;
    int ms = mdb_cursor_get(cspec, &ks, &vs, MDB_SET_RANGE);
    int mt = mdb_cursor_get(cstate, &kt, &vt, MDB_SET_RANGE);
    /* Both databases hold exactly the keys (req, 0..njobs-1), walked side by side; anything
     * else (a gap, a spec without a state, a stray key) is corruption. */
    for (uint32_t idx = 0; idx < rec.njobs; idx++) {
        if (ms || mt || !s_at_job(&ks, req, idx) || !s_at_job(&kt, req, idx)) {
            rc = WEFT_ESTORE;
            goto done;
        }
        wf_jobspec_t spec;
        wf_jobstate_t state;
        rc = s_dec_jobspec(&zone, &vs, rec.njobs, &spec);
        if (rc)
            goto done;
        rc = s_dec_jobstate(&zone, &vt, &state);
        if (rc) {
            wf_jobspec_fini(&spec);
            goto done;
        }
        rc = fn(idx, &spec, &state, arg);
        wf_jobspec_fini(&spec);
        wf_jobstate_fini(&state);
        if (rc)
            goto done;
        ms = mdb_cursor_get(cspec, &ks, &vs, MDB_NEXT);
        mt = mdb_cursor_get(cstate, &kt, &vt, MDB_NEXT);
    }
    if ((ms == 0 && ks.mv_size >= 8 && s_get_be(ks.mv_data, 8) == req) ||
        (mt == 0 && kt.mv_size >= 8 && s_get_be(kt.mv_data, 8) == req) ||
        (ms && ms != MDB_NOTFOUND) || (mt && mt != MDB_NOTFOUND))
        rc = WEFT_ESTORE; /* more jobs stored than the request counts */
done:
    if (cspec)
        mdb_cursor_close(cspec);
    if (cstate)
        mdb_cursor_close(cstate);
    msgpack_zone_destroy(&zone);
    s_rend(self, txn);
    wf_reqrec_fini(&rec);
    return rc;
}
