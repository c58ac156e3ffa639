/*
 * store_test.c -- the LMDB store against real LMDB in fresh temporary directories.
 *
 * Covers: open/close/reopen, the schema check, the directory lock (same process and a forked
 * child), every record read back field by field, jobstate updates, the name and idempotency
 * indexes, `active`, map growth and EFULL, readers on other threads while the map grows, corrupt
 * records (ESTORE, never a crash), stale reader slots of a killed process, and a fault loop that
 * fails the Nth write of a commit and demands all-or-nothing.  Raw LMDB is used only to plant
 * bad bytes and stale readers.  No sleeps: children signal through pipes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>
#include <msgpack.h>

#include "proto.h" /* limits */
#include "store.h"
#include "testutil.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

typedef struct fixture {
    char *dir;
    wf_store_t *store;
    char err[256];
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->dir = wf_test_tmpdir("store");
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    wf_store_close(&f->store);
    assert_null(f->store);
    wf_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void
s_open(fixture_t *f, uint64_t map_size, uint64_t map_max)
{
    wf_store_opts_t opts = {
        .durability = WEFT_DURABLE_PROCESS, .map_size = map_size, .map_max = map_max};
    int rc = wf_store_open(&f->store, f->dir, &opts, f->err, sizeof f->err);
    if (rc)
        fail_msg("wf_store_open: %s: %s", weft_strerror(rc), f->err);
    assert_non_null(f->store);
}

static void
s_reopen(fixture_t *f, uint64_t map_size, uint64_t map_max)
{
    wf_store_close(&f->store);
    s_open(f, map_size, map_max);
}

/* ---- building requests ---- */

__attribute__((format(printf, 1, 2))) static char *
s_fmt(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return strdup(buf);
}

static uint32_t *
s_u32s(uint32_t n, ...)
{
    uint32_t *v = malloc(n * sizeof *v);
    va_list ap;
    va_start(ap, n);
    for (uint32_t i = 0; i < n; i++)
        v[i] = va_arg(ap, uint32_t);
    va_end(ap);
    return v;
}

/* a -> b, a -> c, b -> c; binary payloads, pools, every field distinct. */
static void
s_spec3(wf_reqspec_t *rs)
{
    memset(rs, 0, sizeof *rs);
    rs->name = strdup("demo");
    rs->session = strdup("s1");
    rs->key = strdup("key-1");
    rs->npools = 2;
    rs->pools = calloc(2, sizeof *rs->pools);
    rs->pools[0] = (wf_pooldef_t){strdup("db"), 2};
    rs->pools[1] = (wf_pooldef_t){strdup("net"), 1};
    rs->njobs = rs->jobs_cap = 3;
    rs->jobs = calloc(3, sizeof *rs->jobs);

    wf_jobspec_t *a = &rs->jobs[0], *b = &rs->jobs[1], *c = &rs->jobs[2];
    a->id = strdup("a");
    a->type = strdup("shell");
    a->payload = (uint8_t *)strdup("echo a");
    a->payload_len = 6;
    a->retries = 2;
    a->lost_retries = 3;
    a->retry_delay_ms = 1500;
    a->timeout_ms = 60000;
    a->priority = -5;
    a->when = WEFT_WHEN_SUCCESS;
    a->nchildren = 2;
    a->children = s_u32s(2, 1u, 2u);

    b->id = strdup("b-long.id:x");
    b->type = strdup("sql");
    b->pool = strdup("db");
    b->payload = malloc(5);
    memcpy(b->payload, "\x00\x01\xff\x00\x7f", 5);
    b->payload_len = 5;
    b->priority = 7;
    b->when = WEFT_WHEN_FAILURE;
    b->nneeds = 1;
    b->needs = s_u32s(1, 0u);
    b->nchildren = 1;
    b->children = s_u32s(1, 2u);
    /* need_names are not stored: they must not come back. */
    b->nneed_names = b->need_names_cap = 1;
    b->need_names = calloc(1, sizeof *b->need_names);
    b->need_names[0] = strdup("a");

    c->id = strdup("c");
    c->type = strdup("shell");
    c->pool = strdup("net");
    c->payload = NULL; /* none */
    c->retries = 1000;
    c->when = WEFT_WHEN_ALWAYS;
    c->priority = INT32_MIN;
    c->timeout_ms = UINT32_MAX;
    c->nneeds = 2;
    c->needs = s_u32s(2, 0u, 1u);
}

/* n jobs "j<i>", a chain (i needs i-1), payload_len bytes of payload each. */
static void
s_spec_chain(wf_reqspec_t *rs, uint32_t n, uint32_t payload_len)
{
    memset(rs, 0, sizeof *rs);
    rs->name = s_fmt("chain-%u", n);
    rs->njobs = rs->jobs_cap = n;
    rs->jobs = calloc(n, sizeof *rs->jobs);
    for (uint32_t i = 0; i < n; i++) {
        wf_jobspec_t *j = &rs->jobs[i];
        j->id = s_fmt("j%u", i);
        j->type = strdup("t");
        if (payload_len) {
            j->payload = malloc(payload_len);
            memset(j->payload, 'a' + (int)(i % 26), payload_len);
            j->payload_len = payload_len;
        }
        j->priority = (int32_t)i;
        if (i > 0) {
            j->nneeds = 1;
            j->needs = s_u32s(1, i - 1);
        }
        if (i + 1 < n) {
            j->nchildren = 1;
            j->children = s_u32s(1, i + 1);
        }
    }
}

static void
s_rec_from(wf_reqrec_t *rec, uint64_t id, const wf_reqspec_t *rs)
{
    memset(rec, 0, sizeof *rec);
    rec->id = id;
    wf_str_set(&rec->name, rs->name, WF_MAX_NAME);
    wf_str_set(&rec->session, rs->session, WF_MAX_NAME);
    wf_str_set(&rec->key, rs->key, WF_MAX_NAME);
    rec->state = WEFT_REQ_RUNNING;
    rec->created_ms = 1700000000123;
    rec->njobs = rs->njobs;
    rec->npools = rs->npools;
    if (rs->npools) {
        rec->pools = calloc(rs->npools, sizeof *rec->pools);
        for (uint32_t i = 0; i < rs->npools; i++) {
            wf_str_set(&rec->pools[i].name, rs->pools[i].name, WF_MAX_NAME);
            rec->pools[i].limit = rs->pools[i].limit;
        }
    }
}

/* Commit one new request (and next_req = id + 1). */
static int
s_commit_new(fixture_t *f, uint64_t id, const wf_reqspec_t *rs)
{
    wf_reqrec_t rec;
    s_rec_from(&rec, id, rs);
    wf_batch_t *b = wf_batch_new(f->store);
    wf_batch_put_new_request(b, &rec, rs);
    wf_batch_put_next_req(b, id + 1);
    int rc = wf_store_commit(f->store, b, f->err, sizeof f->err);
    assert_true(wf_batch_empty(b));
    wf_batch_destroy(&b);
    assert_null(b);
    wf_reqrec_fini(&rec);
    return rc;
}

static void
s_assert_str_eq(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void
s_assert_jobspec_eq(const wf_jobspec_t *want, const wf_jobspec_t *got)
{
    assert_string_equal(want->id, got->id);
    assert_string_equal(want->type, got->type);
    s_assert_str_eq(want->pool, got->pool);
    assert_int_equal(want->payload_len, got->payload_len);
    if (want->payload)
        assert_memory_equal(want->payload, got->payload, want->payload_len);
    else
        assert_null(got->payload);
    assert_int_equal(want->retries, got->retries);
    assert_int_equal(want->lost_retries, got->lost_retries);
    assert_int_equal(want->retry_delay_ms, got->retry_delay_ms);
    assert_int_equal(want->timeout_ms, got->timeout_ms);
    assert_int_equal(want->priority, got->priority);
    assert_int_equal(want->when, got->when);
    assert_int_equal(want->nneeds, got->nneeds);
    if (want->nneeds)
        assert_memory_equal(want->needs, got->needs, want->nneeds * sizeof(uint32_t));
    assert_int_equal(want->nchildren, got->nchildren);
    if (want->nchildren)
        assert_memory_equal(want->children, got->children, want->nchildren * sizeof(uint32_t));
    assert_int_equal(got->nneed_names, 0);
    assert_null(got->need_names);
}

static void
s_assert_pending(const wf_jobstate_t *st)
{
    assert_int_equal(st->state, WEFT_JOB_PENDING);
    assert_int_equal(st->reason, WEFT_REASON_WAIT_PARENTS);
    assert_int_equal(st->cause, WF_NO_JOB);
    assert_int_equal(st->attempt, 0);
    assert_null(st->progress_msg);
    assert_null(st->error);
    assert_null(st->result);
}

/* ---- callbacks ---- */

typedef struct ids {
    uint64_t v[64];
    int n;
} ids_t;

static int
s_collect_req(const wf_reqrec_t *rec, void *arg)
{
    ids_t *ids = arg;
    if (ids->n < 64)
        ids->v[ids->n] = rec->id;
    ids->n++;
    return 0;
}

static int
s_stop_at_first(const wf_reqrec_t *rec, void *arg)
{
    (void)rec;
    (*(int *)arg)++;
    return 42;
}

typedef struct jobwalk {
    uint32_t next;
    uint32_t count;
    const wf_reqspec_t *want; /* compare specs if set */
    uint8_t **stolen;         /* move payloads out here if set */
} jobwalk_t;

static int
s_walk_job(uint32_t idx, wf_jobspec_t *spec, wf_jobstate_t *state, void *arg)
{
    jobwalk_t *w = arg;
    if (idx != w->next)
        return -1;
    w->next++;
    w->count++;
    if (w->want)
        s_assert_jobspec_eq(&w->want->jobs[idx], spec);
    if (!state)
        return -2;
    if (w->stolen) {
        /* take ownership of a heap field; the store must not free it */
        w->stolen[idx] = spec->payload;
        spec->payload = NULL;
    }
    return 0;
}

static int
s_count_job(uint32_t idx, wf_jobspec_t *spec, wf_jobstate_t *state, void *arg)
{
    (void)idx;
    (void)spec;
    (void)state;
    (*(uint32_t *)arg)++;
    return 0;
}

/* ---- raw LMDB, to plant bad bytes ---- */

static void
s_raw_put(const char *dir, const char *db, const void *k, size_t kl, const void *v, size_t vl)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(wf_test_lmdb_begin(dir, db, 0, MDB_CREATE, &env, &txn, &dbi), 0);
    MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
    assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* A copy of the stored value, or NULL. */
static uint8_t *
s_raw_get(const char *dir, const char *db, const void *k, size_t kl, size_t *vl)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t *out = NULL;
    assert_int_equal(wf_test_lmdb_begin(dir, db, MDB_RDONLY, 0, &env, &txn, &dbi), 0);
    MDB_val key = {kl, (void *)k}, val;
    if (mdb_get(txn, dbi, &key, &val) == 0) {
        out = malloc(val.mv_size ? val.mv_size : 1);
        memcpy(out, val.mv_data, val.mv_size);
        *vl = val.mv_size;
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return out;
}

static void
s_jobkey(uint8_t key[12], uint64_t req, uint32_t idx)
{
    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)(req >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        key[8 + i] = (uint8_t)(idx >> (24 - 8 * i));
}

/* ------------------------------------------------------------------------------------------ */

static void
test_store_open_creates_and_reopen_keeps_data(void **state)
{
    fixture_t *f = *state;
    char *sub = s_fmt("%s/a/b/state", f->dir);
    wf_store_opts_t opts = {.durability = WEFT_DURABLE_FULL};
    assert_int_equal(wf_store_open(&f->store, sub, &opts, f->err, sizeof f->err), WEFT_OK);
    struct stat sb;
    assert_int_equal(stat(sub, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(wf_store_next_reqid(f->store), 1);

    wf_reqspec_t rs;
    s_spec3(&rs);
    wf_reqrec_t rec;
    s_rec_from(&rec, 1, &rs);
    wf_batch_t *b = wf_batch_new(f->store);
    assert_true(wf_batch_empty(b));
    assert_int_equal(wf_store_commit(f->store, b, f->err, sizeof f->err), WEFT_OK); /* empty */
    wf_batch_put_new_request(b, &rec, &rs);
    wf_batch_put_next_req(b, 2);
    assert_false(wf_batch_empty(b));
    assert_int_equal(wf_store_commit(f->store, b, f->err, sizeof f->err), WEFT_OK);
    wf_batch_destroy(&b);
    assert_int_equal(wf_store_next_reqid(f->store), 2);
    wf_store_close(&f->store);
    assert_null(f->store);
    wf_store_close(&f->store); /* NULL is fine */

    assert_int_equal(wf_store_open(&f->store, sub, NULL, NULL, 0), WEFT_OK);
    assert_int_equal(wf_store_next_reqid(f->store), 2);
    wf_reqrec_t got;
    assert_int_equal(wf_store_get_request(f->store, 1, &got), WEFT_OK);
    assert_string_equal(got.name, "demo");
    assert_int_equal(got.njobs, 3);
    wf_reqrec_fini(&got);
    wf_reqrec_fini(&got); /* twice is fine */
    assert_int_equal(wf_store_get_request(f->store, 2, &got), WEFT_ENOTFOUND);

    wf_reqrec_fini(&rec);
    wf_reqspec_fini(&rs);
    free(sub);
}

static void
test_store_open_rejects_bad_arguments(void **state)
{
    fixture_t *f = *state;
    wf_store_opts_t bad = {.durability = 7};
    assert_int_equal(wf_store_open(&f->store, f->dir, &bad, f->err, sizeof f->err), WEFT_EINVAL);
    assert_null(f->store);
    wf_store_opts_t big = {.map_size = 2 * MIB, .map_max = MIB};
    assert_int_equal(wf_store_open(&f->store, f->dir, &big, f->err, sizeof f->err), WEFT_EINVAL);
    assert_int_equal(wf_store_open(&f->store, "", NULL, f->err, sizeof f->err), WEFT_EINVAL);
    assert_int_equal(wf_store_open(NULL, f->dir, NULL, f->err, sizeof f->err), WEFT_EINVAL);
    /* A file where the directory should be. */
    char *file = s_fmt("%s/file", f->dir);
    FILE *fp = fopen(file, "w");
    fclose(fp);
    assert_int_equal(wf_store_open(&f->store, file, NULL, f->err, sizeof f->err), WEFT_ESYS);
    assert_non_null(strstr(f->err, file));
    free(file);
}

static void
test_store_schema_mismatch_is_eversion(void **state)
{
    fixture_t *f = *state;
    s_open(f, 0, 0);
    wf_store_close(&f->store);
    uint8_t v[4] = {0, 0, 0, 99};
    s_raw_put(f->dir, "meta", "schema", 6, v, 4);
    assert_int_equal(wf_store_open(&f->store, f->dir, NULL, f->err, sizeof f->err), WEFT_EVERSION);
    assert_null(f->store);
    assert_non_null(strstr(f->err, "99"));
    char want[64];
    snprintf(want, sizeof want, "%d", WF_SCHEMA_VERSION);
    assert_non_null(strstr(f->err, want));
    /* a schema record of the wrong size is corruption */
    s_raw_put(f->dir, "meta", "schema", 6, v, 3);
    assert_int_equal(wf_store_open(&f->store, f->dir, NULL, f->err, sizeof f->err), WEFT_ESTORE);
    uint8_t ok[4] = {0, 0, 0, WF_SCHEMA_VERSION};
    s_raw_put(f->dir, "meta", "schema", 6, ok, 4);
    s_open(f, 0, 0);
}

static void
test_store_second_open_same_process_is_ebusy(void **state)
{
    fixture_t *f = *state;
    s_open(f, 0, 0);
    wf_store_t *other = NULL;
    assert_int_equal(wf_store_open(&other, f->dir, NULL, f->err, sizeof f->err), WEFT_EBUSY);
    assert_null(other);
    char want[512];
    snprintf(want, sizeof want, "state directory %s is in use by another weft engine (pid %ld)",
             f->dir, (long)getpid());
    assert_string_equal(f->err, want);
    /* The failed attempt closed its own descriptor: our lock still holds. */
    assert_int_equal(wf_store_open(&other, f->dir, NULL, NULL, 0), WEFT_EBUSY);
    wf_store_close(&f->store);
    assert_int_equal(wf_store_open(&other, f->dir, NULL, NULL, 0), WEFT_OK);
    wf_store_close(&other);
}

static void
test_store_second_open_from_child_is_ebusy(void **state)
{
    fixture_t *f = *state;
    s_open(f, 0, 0);
    char want[32];
    snprintf(want, sizeof want, "(pid %ld)", (long)getpid());
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* No LMDB use here before the open; _exit skips cmocka and atexit handlers. */
        wf_store_t *s = NULL;
        char err[256] = "";
        int rc = wf_store_open(&s, f->dir, NULL, err, sizeof err);
        _exit(rc == WEFT_EBUSY && s == NULL && strstr(err, want) ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_store_new_request_reads_back_field_by_field(void **state)
{
    fixture_t *f = *state;
    s_open(f, 0, 0);
    wf_reqspec_t rs;
    s_spec3(&rs);
    assert_int_equal(s_commit_new(f, 1, &rs), WEFT_OK);
    s_reopen(f, 0, 0);

    wf_reqrec_t rec;
    assert_int_equal(wf_store_get_request(f->store, 1, &rec), WEFT_OK);
    assert_int_equal(rec.id, 1);
    assert_string_equal(rec.name, "demo");
    assert_string_equal(rec.session, "s1");
    assert_string_equal(rec.key, "key-1");
    assert_int_equal(rec.state, WEFT_REQ_RUNNING);
    assert_false(rec.cancelled);
    assert_int_equal(rec.created_ms, 1700000000123);
    assert_int_equal(rec.finished_ms, 0);
    assert_int_equal(rec.njobs, 3);
    assert_int_equal(rec.npools, 2);
    assert_string_equal(rec.pools[0].name, "db");
    assert_int_equal(rec.pools[0].limit, 2);
    assert_string_equal(rec.pools[1].name, "net");
    assert_int_equal(rec.pools[1].limit, 1);
    wf_reqrec_fini(&rec);

    for (uint32_t i = 0; i < 3; i++) {
        wf_jobspec_t spec;
        wf_jobstate_t st;
        assert_int_equal(wf_store_get_job(f->store, 1, i, &spec, &st), WEFT_OK);
        s_assert_jobspec_eq(&rs.jobs[i], &spec);
        s_assert_pending(&st);
        wf_jobspec_fini(&spec);
        wf_jobstate_fini(&st);
        /* either pointer may be NULL */
        assert_int_equal(wf_store_get_job(f->store, 1, i, &spec, NULL), WEFT_OK);
        wf_jobspec_fini(&spec);
        assert_int_equal(wf_store_get_job(f->store, 1, i, NULL, &st), WEFT_OK);
        wf_jobstate_fini(&st);

        uint32_t idx = 99;
        assert_int_equal(wf_store_find_job(f->store, 1, rs.jobs[i].id, &idx), WEFT_OK);
        assert_int_equal(idx, i);
    }
    wf_jobstate_t st;
    assert_int_equal(wf_store_get_job(f->store, 1, 3, NULL, &st), WEFT_ENOTFOUND);
    assert_int_equal(wf_store_get_job(f->store, 2, 0, NULL, &st), WEFT_ENOTFOUND);

    uint32_t idx;
    assert_int_equal(wf_store_find_job(f->store, 1, "nope", &idx), WEFT_ENOTFOUND);
    assert_int_equal(wf_store_find_job(f->store, 2, "a", &idx), WEFT_ENOTFOUND);
    assert_int_equal(wf_store_find_job(f->store, 1, "", &idx), WEFT_ENOTFOUND);
    assert_int_equal(wf_store_find_job(f->store, 1, NULL, &idx), WEFT_EINVAL);
    char huge[600];
    memset(huge, 'x', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    assert_int_equal(wf_store_find_job(f->store, 1, huge, &idx), WEFT_ENOTFOUND);

    uint64_t req = 0;
    assert_int_equal(wf_store_find_idem(f->store, "key-1", &req), WEFT_OK);
    assert_int_equal(req, 1);
    assert_int_equal(wf_store_find_idem(f->store, "key-2", &req), WEFT_ENOTFOUND);
    assert_int_equal(wf_store_find_idem(f->store, huge, &req), WEFT_ENOTFOUND);

    /* each_job: index order, and fn may move heap fields out. */
    uint8_t *stolen[3] = {0};
    jobwalk_t w = {.want = &rs, .stolen = stolen};
    assert_int_equal(wf_store_each_job(f->store, 1, s_walk_job, &w), WEFT_OK);
    assert_int_equal(w.count, 3);
    assert_memory_equal(stolen[0], "echo a", 6);
    assert_memory_equal(stolen[1], "\x00\x01\xff\x00\x7f", 5);
    assert_null(stolen[2]);
    for (int i = 0; i < 3; i++)
        free(stolen[i]);
    assert_int_equal(wf_store_each_job(f->store, 2, s_walk_job, &w), WEFT_ENOTFOUND);

    wf_reqspec_fini(&rs);
}

static void
test_store_jobstate_updates(void **state)
{
    fixture_t *f = *state;
    s_open(f, 0, 0);
    wf_reqspec_t rs;
    s_spec3(&rs);
    wf_reqrec_t rec;
    s_rec_from(&rec, 1, &rs);

    /* A new request and a jobstate for it in one batch: the later op wins. */
    wf_jobstate_t ready = {
        .state = WEFT_JOB_READY, .reason = WEFT_REASON_WAIT_CONSUMER, .cause = WF_NO_JOB};
    wf_batch_t *b = wf_batch_new(f->store);
    wf_batch_put_new_request(b, &rec, &rs);
    wf_batch_put_jobstate(b, 1, 0, &ready);
    assert_int_equal(wf_store_commit(f->store, b, f->err, sizeof f->err), WEFT_OK);

    wf_jobstate_t got;
    assert_int_equal(wf_store_get_job(f->store, 1, 0, NULL, &got), WEFT_OK);
    assert_int_equal(got.state, WEFT_JOB_READY);
    assert_int_equal(got.reason, WEFT_REASON_WAIT_CONSUMER);
    wf_jobstate_fini(&got);
    assert_int_equal(wf_store_get_job(f->store, 1, 1, NULL, &got), WEFT_OK);
    s_assert_pending(&got);
    wf_jobstate_fini(&got);

    wf_jobstate_t done = {
        .state = WEFT_JOB_DONE,
        .reason = WEFT_REASON_SUCCEEDED,
        .progress = 100,
        .attempt = 3,
        .failures = 1,
        .lost = 1,
        .exit_code = -9,
        .cause = WF_NO_JOB,
        .started_ms = 1700000000000,
        .finished_ms = 1700000001000,
        .retry_at_ms = -1,
    };
    wf_str_set(&done.progress_msg, "almost there", WF_MAX_MESSAGE);
    wf_str_set(&done.error, "first attempt: exit 1", WF_MAX_MESSAGE);
    done.result = malloc(3);
    memcpy(done.result, "\x01\x00\x02", 3);
    done.result_len = 3;
    wf_jobstate_t cancelled = {.state = WEFT_JOB_CANCELLED,
                               .reason = WEFT_REASON_CANCELLED_PARENT,
                               .cause = 0,
                               .result = malloc(1),
                               .result_len = 0}; /* empty but present */
    wf_batch_put_jobstate(b, 1, 0, &done);
    wf_batch_put_jobstate(b, 1, 2, &cancelled);
    assert_int_equal(wf_store_commit(f->store, b, f->err, sizeof f->err), WEFT_OK);
    wf_batch_destroy(&b);
    s_reopen(f, 0, 0);

    assert_int_equal(wf_store_get_job(f->store, 1, 0, NULL, &got), WEFT_OK);
    assert_int_equal(got.state, WEFT_JOB_DONE);
    assert_int_equal(got.reason, WEFT_REASON_SUCCEEDED);
    assert_int_equal(got.progress, 100);
    assert_int_equal(got.attempt, 3);
    assert_int_equal(got.failures, 1);
    assert_int_equal(got.lost, 1);
    assert_int_equal(got.exit_code, -9);
    assert_int_equal(got.cause, WF_NO_JOB);
    assert_int_equal(got.started_ms, 1700000000000);
    assert_int_equal(got.finished_ms, 1700000001000);
    assert_int_equal(got.retry_at_ms, -1);
    assert_string_equal(got.progress_msg, "almost there");
    assert_string_equal(got.error, "first attempt: exit 1");
    assert_int_equal(got.result_len, 3);
    assert_memory_equal(got.result, "\x01\x00\x02", 3);
    wf_jobstate_fini(&got);
    assert_int_equal(wf_store_get_job(f->store, 1, 2, NULL, &got), WEFT_OK);
    assert_int_equal(got.state, WEFT_JOB_CANCELLED);
    assert_int_equal(got.cause, 0);
    assert_non_null(got.result);
    assert_int_equal(got.result_len, 0);
    wf_jobstate_fini(&got);

    /* A record the reader would reject is refused, and nothing of the batch is written. */
    b = wf_batch_new(f->store);
    wf_jobstate_t bogus = {.state = 99};
    wf_batch_put_jobstate(b, 1, 1, &ready);
    wf_batch_put_jobstate(b, 1, 2, &bogus);
    assert_int_equal(wf_store_commit(f->store, b, f->err, sizeof f->err), WEFT_EINVAL);
    assert_non_null(strstr(f->err, "job 2"));
    assert_true(wf_batch_empty(b));
    assert_int_equal(wf_store_get_job(f->store, 1, 1, NULL, &got), WEFT_OK);
    s_assert_pending(&got);
    wf_jobstate_fini(&got);
    assert_int_equal(wf_store_get_job(f->store, 1, 3, NULL, &got), WEFT_ENOTFOUND);
    wf_batch_destroy(&b);

    wf_jobstate_fini(&done);
    wf_jobstate_fini(&cancelled);
    wf_reqrec_fini(&rec);
    wf_reqspec_fini(&rs);
}

static void
test_store_each_active_drops_finished_requests(void **state)
{
    fixture_t *f = *state;
    s_open(f, 0, 0);
    wf_reqspec_t rs;
    s_spec_chain(&rs, 2, 4);
    for (uint64_t id = 1; id <= 3; id++)
        assert_int_equal(s_commit_new(f, id, &rs), WEFT_OK);
    assert_int_equal(wf_store_next_reqid(f->store), 4);

    ids_t ids = {0};
    assert_int_equal(wf_store_each_active(f->store, s_collect_req, &ids), WEFT_OK);
    assert_int_equal(ids.n, 3);

    wf_reqrec_t rec;
    assert_int_equal(wf_store_get_request(f->store, 2, &rec), WEFT_OK);
    rec.state = WEFT_REQ_SUCCEEDED;
    rec.finished_ms = 1700000009999;
    wf_batch_t *b = wf_batch_new(f->store);
    wf_batch_put_request(b, &rec);
    assert_int_equal(wf_store_commit(f->store, b, f->err, sizeof f->err), WEFT_OK);
    wf_batch_destroy(&b);
    s_reopen(f, 0, 0);

    memset(&ids, 0, sizeof ids);
    assert_int_equal(wf_store_each_active(f->store, s_collect_req, &ids), WEFT_OK);
    assert_int_equal(ids.n, 2);
    assert_int_equal(ids.v[0], 1);
    assert_int_equal(ids.v[1], 3);
    memset(&ids, 0, sizeof ids);
    assert_int_equal(wf_store_each_request(f->store, s_collect_req, &ids), WEFT_OK);
    assert_int_equal(ids.n, 3);
    assert_int_equal(ids.v[0], 1);
    assert_int_equal(ids.v[1], 2);
    assert_int_equal(ids.v[2], 3);
    wf_reqrec_t got;
    assert_int_equal(wf_store_get_request(f->store, 2, &got), WEFT_OK);
    assert_int_equal(got.state, WEFT_REQ_SUCCEEDED);
    assert_int_equal(got.finished_ms, 1700000009999);
    wf_reqrec_fini(&got);

    /* fn's non-zero return stops the walk and is returned. */
    int calls = 0;
    assert_int_equal(wf_store_each_request(f->store, s_stop_at_first, &calls), 42);
    assert_int_equal(calls, 1);
    calls = 0;
    assert_int_equal(wf_store_each_active(f->store, s_stop_at_first, &calls), 42);
    assert_int_equal(calls, 1);

    /* Running again puts it back. */
    rec.state = WEFT_REQ_RUNNING;
    rec.cancelled = true;
    b = wf_batch_new(f->store);
    wf_batch_put_request(b, &rec);
    assert_int_equal(wf_store_commit(f->store, b, f->err, sizeof f->err), WEFT_OK);
    wf_batch_destroy(&b);
    memset(&ids, 0, sizeof ids);
    assert_int_equal(wf_store_each_active(f->store, s_collect_req, &ids), WEFT_OK);
    assert_int_equal(ids.n, 3);
    assert_int_equal(wf_store_get_request(f->store, 2, &got), WEFT_OK);
    assert_true(got.cancelled);
    wf_reqrec_fini(&got);

    wf_reqrec_fini(&rec);
    wf_reqspec_fini(&rs);
}

static void
test_store_each_job_in_index_order(void **state)
{
    fixture_t *f = *state;
    s_open(f, 0, 0);
    /* Three requests side by side: the walk must stay inside its own. */
    wf_reqspec_t small, mid;
    s_spec_chain(&small, 3, 0);
    s_spec_chain(&mid, 300, 16); /* ids j0..j299 sort differently from their indexes */
    assert_int_equal(s_commit_new(f, 1, &small), WEFT_OK);
    assert_int_equal(s_commit_new(f, 2, &mid), WEFT_OK);
    assert_int_equal(s_commit_new(f, 3, &small), WEFT_OK);
    jobwalk_t w = {.want = &mid};
    assert_int_equal(wf_store_each_job(f->store, 2, s_walk_job, &w), WEFT_OK);
    assert_int_equal(w.count, 300);
    for (uint32_t i = 0; i < 300; i += 37) {
        uint32_t idx;
        assert_int_equal(wf_store_find_job(f->store, 2, mid.jobs[i].id, &idx), WEFT_OK);
        assert_int_equal(idx, i);
    }
    w = (jobwalk_t){.want = &small};
    assert_int_equal(wf_store_each_job(f->store, 3, s_walk_job, &w), WEFT_OK);
    assert_int_equal(w.count, 3);
    wf_reqspec_fini(&small);
    wf_reqspec_fini(&mid);
}

static void
test_store_next_reqid_never_reuses_an_id(void **state)
{
    fixture_t *f = *state;
    s_open(f, 0, 0);
    wf_reqspec_t rs;
    s_spec_chain(&rs, 1, 0);
    wf_reqrec_t rec;
    s_rec_from(&rec, 7, &rs);
    wf_batch_t *b = wf_batch_new(f->store);
    wf_batch_put_new_request(b, &rec, &rs);
    wf_batch_put_next_req(b, 5); /* stale: 7 is taken */
    assert_int_equal(wf_store_commit(f->store, b, f->err, sizeof f->err), WEFT_OK);
    wf_batch_destroy(&b);
    s_reopen(f, 0, 0);
    assert_int_equal(wf_store_next_reqid(f->store), 8);
    /* A lower id than the last still works (MDB_APPEND falls back to a plain put). */
    assert_int_equal(s_commit_new(f, 3, &rs), WEFT_OK);
    ids_t ids = {0};
    assert_int_equal(wf_store_each_request(f->store, s_collect_req, &ids), WEFT_OK);
    assert_int_equal(ids.n, 2);
    assert_int_equal(ids.v[0], 3);
    assert_int_equal(ids.v[1], 7);
    uint32_t n = 0;
    assert_int_equal(wf_store_each_job(f->store, 3, s_count_job, &n), WEFT_OK);
    assert_int_equal(n, 1);
    wf_reqrec_fini(&rec);
    wf_reqspec_fini(&rs);
}

static void
test_store_map_full_is_efull_and_store_stays_usable(void **state)
{
    fixture_t *f = *state;
    s_open(f, 256 * KIB, 256 * KIB);
    wf_reqspec_t small, big;
    s_spec3(&small);
    s_spec_chain(&big, 3000, 200);
    assert_int_equal(s_commit_new(f, 1, &small), WEFT_OK);
    assert_int_equal(s_commit_new(f, 2, &big), WEFT_EFULL);
    assert_non_null(strstr(f->err, "store map full at 262144 bytes (max 262144)"));
    wf_reqrec_t rec;
    assert_int_equal(wf_store_get_request(f->store, 2, &rec), WEFT_ENOTFOUND);
    assert_int_equal(wf_store_next_reqid(f->store), 2);

    s_reopen(f, 256 * KIB, 256 * KIB);
    assert_int_equal(wf_store_next_reqid(f->store), 2);
    assert_int_equal(wf_store_get_request(f->store, 2, &rec), WEFT_ENOTFOUND);
    uint32_t idx;
    assert_int_equal(wf_store_find_job(f->store, 2, "j0", &idx), WEFT_ENOTFOUND);
    ids_t ids = {0};
    assert_int_equal(wf_store_each_request(f->store, s_collect_req, &ids), WEFT_OK);
    assert_int_equal(ids.n, 1);
    jobwalk_t w = {.want = &small};
    assert_int_equal(wf_store_each_job(f->store, 1, s_walk_job, &w), WEFT_OK);
    assert_int_equal(w.count, 3);

    /* A small commit still works. */
    assert_int_equal(s_commit_new(f, 2, &small), WEFT_OK);
    assert_int_equal(wf_store_get_request(f->store, 2, &rec), WEFT_OK);
    wf_reqrec_fini(&rec);
    wf_reqspec_fini(&small);
    wf_reqspec_fini(&big);
}

static void
test_store_map_grows_for_a_big_request(void **state)
{
    fixture_t *f = *state;
    s_open(f, 256 * KIB, 64 * MIB);
    assert_int_equal(wf_store_map_size(f->store), 256 * KIB);
    wf_reqspec_t big;
    s_spec_chain(&big, 20000, 8);
    assert_int_equal(s_commit_new(f, 1, &big), WEFT_OK);
    assert_true(wf_store_map_size(f->store) > 256 * KIB);
    assert_true(wf_store_map_size(f->store) <= 64 * MIB);

    s_reopen(f, 256 * KIB, 64 * MIB);
    jobwalk_t w = {0};
    assert_int_equal(wf_store_each_job(f->store, 1, s_walk_job, &w), WEFT_OK);
    assert_int_equal(w.count, 20000);
    wf_jobspec_t spec;
    assert_int_equal(wf_store_get_job(f->store, 1, 19999, &spec, NULL), WEFT_OK);
    s_assert_jobspec_eq(&big.jobs[19999], &spec);
    wf_jobspec_fini(&spec);
    uint32_t idx;
    assert_int_equal(wf_store_find_job(f->store, 1, "j12345", &idx), WEFT_OK);
    assert_int_equal(idx, 12345);
    wf_reqspec_fini(&big);
}

typedef struct readers {
    wf_store_t *store;
    atomic_bool done;
    atomic_int errors;
    atomic_long reads;
} readers_t;

static void *
s_reader(void *arg)
{
    readers_t *r = arg;
    long mine = 0;
    while (!atomic_load(&r->done) || mine < 2000) {
        wf_reqrec_t rec;
        wf_jobstate_t st;
        wf_jobspec_t spec;
        uint32_t idx;
        if (wf_store_get_request(r->store, 1, &rec) != WEFT_OK || rec.njobs != 3)
            atomic_fetch_add(&r->errors, 1);
        wf_reqrec_fini(&rec);
        if (wf_store_get_job(r->store, 1, (uint32_t)(mine % 3), &spec, &st) != WEFT_OK)
            atomic_fetch_add(&r->errors, 1);
        wf_jobspec_fini(&spec);
        wf_jobstate_fini(&st);
        if (wf_store_find_job(r->store, 1, "c", &idx) != WEFT_OK || idx != 2)
            atomic_fetch_add(&r->errors, 1);
        if (mine % 64 == 0) {
            uint32_t n = 0;
            if (wf_store_each_job(r->store, 1, s_count_job, &n) != WEFT_OK || n != 3)
                atomic_fetch_add(&r->errors, 1);
        }
        mine++;
    }
    atomic_fetch_add(&r->reads, mine);
    return NULL;
}

static void
test_store_readers_on_other_threads_while_the_map_grows(void **state)
{
    fixture_t *f = *state;
    s_open(f, 256 * KIB, 64 * MIB);
    wf_reqspec_t small, chunk;
    s_spec3(&small);
    s_spec_chain(&chunk, 1500, 32);
    assert_int_equal(s_commit_new(f, 1, &small), WEFT_OK);

    readers_t r = {.store = f->store};
    atomic_init(&r.done, false);
    atomic_init(&r.errors, 0);
    atomic_init(&r.reads, 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, s_reader, &r), 0);
    uint64_t before = wf_store_map_size(f->store);
    for (uint64_t id = 2; id <= 12; id++) {
        int rc = s_commit_new(f, id, &chunk);
        if (rc)
            fail_msg("commit %" PRIu64 ": %s", id, f->err);
    }
    atomic_store(&r.done, true);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_true(wf_store_map_size(f->store) > before);
    assert_int_equal(atomic_load(&r.errors), 0);
    assert_true(atomic_load(&r.reads) >= 8000);
    uint32_t n = 0;
    assert_int_equal(wf_store_each_job(f->store, 12, s_count_job, &n), WEFT_OK);
    assert_int_equal(n, 1500);
    wf_reqspec_fini(&small);
    wf_reqspec_fini(&chunk);
}

/* Plant bytes under a jobstate key, check reads fail with ESTORE, then restore. */
static void
s_check_corrupt_jobstate(fixture_t *f, const void *bytes, size_t len)
{
    uint8_t key[12];
    s_jobkey(key, 1, 1);
    size_t good_len = 0;
    wf_store_close(&f->store);
    uint8_t *good = s_raw_get(f->dir, "jobstates", key, 12, &good_len);
    assert_non_null(good);
    s_raw_put(f->dir, "jobstates", key, 12, bytes, len);
    s_open(f, 0, 0);

    wf_jobstate_t st;
    wf_jobspec_t spec;
    assert_int_equal(wf_store_get_job(f->store, 1, 1, &spec, &st), WEFT_ESTORE);
    assert_null(spec.id); /* zeroed on error */
    assert_null(st.error);
    assert_int_equal(wf_store_get_job(f->store, 1, 1, NULL, &st), WEFT_ESTORE);
    assert_int_equal(wf_store_get_job(f->store, 1, 0, NULL, &st), WEFT_OK);
    wf_jobstate_fini(&st);
    uint32_t n = 0;
    assert_int_equal(wf_store_each_job(f->store, 1, s_count_job, &n), WEFT_ESTORE);
    assert_int_equal(n, 1); /* job 0 came before the bad one */

    wf_store_close(&f->store);
    s_raw_put(f->dir, "jobstates", key, 12, good, good_len);
    free(good);
    s_open(f, 0, 0);
    assert_int_equal(wf_store_get_job(f->store, 1, 1, NULL, &st), WEFT_OK);
    wf_jobstate_fini(&st);
}

/* A valid jobstate record with field i replaced by the given packing. */
static size_t
s_pack_jobstate_variant(char *out, size_t cap, int bad_field, int version)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, bad_field == 100 ? 16 : 15);
    msgpack_pack_uint32(&pk, (uint32_t)version);
    for (int i = 1; i < 15; i++) {
        if (i == bad_field) {
            if (i == 1)
                msgpack_pack_uint32(&pk, 99); /* state out of range */
            else if (i == 3)
                msgpack_pack_uint32(&pk, 101); /* progress > 100 */
            else if (i == 13)
                msgpack_pack_bin_with_body(&pk, "", 0); /* bin for a string */
            else
                msgpack_pack_str_with_body(&pk, "x", 1);
            continue;
        }
        if (i <= 11)
            msgpack_pack_uint32(&pk, i == 8 ? UINT32_MAX : 0);
        else
            msgpack_pack_nil(&pk);
    }
    if (bad_field == 100)
        msgpack_pack_nil(&pk); /* an extra field */
    assert_true(sb.size <= cap);
    memcpy(out, sb.data, sb.size);
    size_t n = sb.size;
    msgpack_sbuffer_destroy(&sb);
    return n;
}

/* ---- workers ---- */

static wf_workerrec_t
s_worker(uint32_t id, const char *name, const char *host, uint32_t pid)
{
    wf_workerrec_t w;
    memset(&w, 0, sizeof w);
    w.id = id;
    w.pid = pid;
    w.first_seen_ms = 1700000000000 + id;
    snprintf(w.name, sizeof w.name, "%s", name);
    snprintf(w.host, sizeof w.host, "%s", host);
    return w;
}

static int
s_commit_workers(fixture_t *f, const wf_workerrec_t *w, unsigned n)
{
    wf_batch_t *b = wf_batch_new(f->store);
    for (unsigned i = 0; i < n; i++)
        wf_batch_put_worker(b, &w[i]);
    int rc = wf_store_commit(f->store, b, f->err, sizeof f->err);
    wf_batch_destroy(&b);
    return rc;
}

static void
test_store_workers_are_kept_and_found_by_identity(void **state)
{
    fixture_t *f = *state;
    s_open(f, 0, 0);
    assert_int_equal(wf_store_next_worker(f->store), 1);
    char longname[WF_MAX_NAME + 1];
    memset(longname, 'n', WF_MAX_NAME);
    longname[WF_MAX_NAME] = '\0';
    wf_workerrec_t w[3] = {s_worker(1, "local", "host-a", 100), s_worker(2, "w1", "host-b", 7),
                           s_worker(3, longname, longname, UINT32_MAX)};
    assert_int_equal(s_commit_workers(f, w, 3), WEFT_OK);

    for (unsigned i = 0; i < 3; i++) {
        wf_workerrec_t got;
        assert_int_equal(wf_store_get_worker(f->store, w[i].id, &got), WEFT_OK);
        assert_int_equal(got.id, w[i].id);
        assert_int_equal(got.pid, w[i].pid);
        assert_true(got.first_seen_ms == w[i].first_seen_ms);
        assert_string_equal(got.name, w[i].name);
        assert_string_equal(got.host, w[i].host);
        uint32_t id = 0;
        assert_int_equal(wf_store_find_worker(f->store, w[i].name, w[i].host, w[i].pid, &id),
                         WEFT_OK);
        assert_int_equal(id, w[i].id);
    }
    /* The identity is the whole triple: another pid, host or name is another worker. */
    uint32_t id = 99;
    assert_int_equal(wf_store_find_worker(f->store, "w1", "host-b", 8, &id), WEFT_ENOTFOUND);
    assert_int_equal(wf_store_find_worker(f->store, "w1", "host-a", 7, &id), WEFT_ENOTFOUND);
    /* host and name are not confused by where the separator falls */
    assert_int_equal(wf_store_find_worker(f->store, "host-b", "w1", 7, &id), WEFT_ENOTFOUND);
    assert_int_equal(id, 99);
    assert_int_equal(wf_store_find_worker(f->store, NULL, "h", 1, &id), WEFT_EINVAL);
    wf_workerrec_t got;
    assert_int_equal(wf_store_get_worker(f->store, 0, &got), WEFT_ENOTFOUND);
    assert_int_equal(wf_store_get_worker(f->store, 4, &got), WEFT_ENOTFOUND);

    /* A commit refuses what could not be read back, and writes nothing of the batch. */
    wf_workerrec_t bad[2] = {s_worker(4, "ok", "h", 1), s_worker(0, "zero", "h", 1)};
    assert_int_equal(s_commit_workers(f, bad, 2), WEFT_EINVAL);
    bad[1] = s_worker(5, "a b", "h", 1);
    assert_int_equal(s_commit_workers(f, bad, 2), WEFT_EINVAL);
    assert_int_equal(wf_store_get_worker(f->store, 4, &got), WEFT_ENOTFOUND);

    /* Ids are never reused: the next one is above every stored one. */
    s_reopen(f, 0, 0);
    assert_int_equal(wf_store_next_worker(f->store), 4);
    assert_int_equal(wf_store_get_worker(f->store, 2, &got), WEFT_OK);
    assert_string_equal(got.name, "w1");
}

static void
test_store_jobstate_keeps_its_worker(void **state)
{
    fixture_t *f = *state;
    s_open(f, 0, 0);
    wf_reqspec_t rs;
    s_spec3(&rs);
    assert_int_equal(s_commit_new(f, 1, &rs), WEFT_OK);
    wf_jobstate_t st;
    assert_int_equal(wf_store_get_job(f->store, 1, 0, NULL, &st), WEFT_OK);
    assert_int_equal(st.worker, 0); /* never ran */
    wf_jobstate_fini(&st);
    wf_jobstate_t running = {.state = WEFT_JOB_RUNNING, .reason = WEFT_REASON_LEASED,
                             .attempt = 1, .cause = WF_NO_JOB, .worker = 7};
    wf_jobstate_t other = {.state = WEFT_JOB_RUNNING, .reason = WEFT_REASON_LEASED,
                           .attempt = 3, .cause = WF_NO_JOB, .worker = UINT32_MAX};
    wf_batch_t *b = wf_batch_new(f->store);
    wf_batch_put_jobstate(b, 1, 0, &running);
    wf_batch_put_jobstate(b, 1, 1, &other);
    assert_int_equal(wf_store_commit(f->store, b, f->err, sizeof f->err), WEFT_OK);
    wf_batch_destroy(&b);
    s_reopen(f, 0, 0);
    assert_int_equal(wf_store_get_job(f->store, 1, 0, NULL, &st), WEFT_OK);
    assert_int_equal(st.worker, 7);
    assert_int_equal(st.attempt, 1);
    wf_jobstate_fini(&st);
    assert_int_equal(wf_store_get_job(f->store, 1, 1, NULL, &st), WEFT_OK);
    assert_int_equal(st.worker, UINT32_MAX);
    wf_jobstate_fini(&st);
    wf_reqspec_fini(&rs);
}

/* Drop a named database with raw LMDB, as a store written before it existed would lack it. */
static void
s_raw_drop(const char *dir, const char *db)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(wf_test_lmdb_begin(dir, db, 0, 0, &env, &txn, &dbi), 0);
    assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void
test_store_without_worker_databases_still_opens(void **state)
{
    fixture_t *f = *state;
    s_open(f, 0, 0);
    wf_reqspec_t rs;
    s_spec3(&rs);
    assert_int_equal(s_commit_new(f, 1, &rs), WEFT_OK);
    wf_workerrec_t w = s_worker(1, "local", "h", 1);
    assert_int_equal(s_commit_workers(f, &w, 1), WEFT_OK);
    wf_store_close(&f->store);
    s_raw_drop(f->dir, "workers");
    s_raw_drop(f->dir, "workerkeys");

    /* Read-only (weft status while an older weft runs the directory): no workers, all else. */
    wf_store_opts_t ro = {.readonly = true};
    assert_int_equal(wf_store_open(&f->store, f->dir, &ro, f->err, sizeof f->err), WEFT_OK);
    assert_int_equal(wf_store_next_worker(f->store), 1);
    wf_workerrec_t got;
    uint32_t id;
    assert_int_equal(wf_store_get_worker(f->store, 1, &got), WEFT_ENOTFOUND);
    assert_int_equal(wf_store_find_worker(f->store, "local", "h", 1, &id), WEFT_ENOTFOUND);
    wf_jobstate_t st;
    assert_int_equal(wf_store_get_job(f->store, 1, 2, NULL, &st), WEFT_OK);
    wf_jobstate_fini(&st);
    wf_store_close(&f->store);

    /* Read-write creates them, empty, and workers are recorded from then on. */
    s_open(f, 0, 0);
    assert_int_equal(wf_store_next_worker(f->store), 1);
    assert_int_equal(s_commit_workers(f, &w, 1), WEFT_OK);
    assert_int_equal(wf_store_get_worker(f->store, 1, &got), WEFT_OK);
    wf_reqspec_fini(&rs);
}

static void
test_store_corrupt_records_are_estore(void **state)
{
    fixture_t *f = *state;
    s_open(f, 0, 0);
    wf_reqspec_t rs;
    s_spec3(&rs);
    assert_int_equal(s_commit_new(f, 1, &rs), WEFT_OK);

    char buf[256];
    size_t n;
    /* the control: a well-formed variant decodes */
    n = s_pack_jobstate_variant(buf, sizeof buf, -1, 1);
    {
        uint8_t key[12];
        s_jobkey(key, 1, 2);
        wf_store_close(&f->store);
        s_raw_put(f->dir, "jobstates", key, 12, buf, n);
        s_open(f, 0, 0);
        wf_jobstate_t st;
        assert_int_equal(wf_store_get_job(f->store, 1, 2, NULL, &st), WEFT_OK);
        assert_int_equal(st.cause, UINT32_MAX);
        assert_int_equal(st.worker, 0); /* the first layout (15 fields): not recorded */
        wf_jobstate_fini(&st);
    }

    s_check_corrupt_jobstate(f, "\xc1garbage\xff\x00", 10);
    s_check_corrupt_jobstate(f, "\xdd\xff\xff\xff\xff", 5); /* array32 claiming 2^32-1 */
    s_check_corrupt_jobstate(f, "\x91\x01", 2);             /* too few fields */
    s_check_corrupt_jobstate(f, "\x01", 1);                 /* not an array */
    s_check_corrupt_jobstate(f, "", 0);                     /* empty */
    s_check_corrupt_jobstate(f, "\x9f\x01\x00", 3);         /* truncated */
    char deep[16];
    memset(deep, 0x91, sizeof deep); /* [[[[...]]]] deeper than WF_MAX_DEPTH */
    deep[15] = 0x01;
    s_check_corrupt_jobstate(f, deep, sizeof deep);
    n = s_pack_jobstate_variant(buf, sizeof buf, -1, 2); /* unknown record version */
    s_check_corrupt_jobstate(f, buf, n);
    n = s_pack_jobstate_variant(buf, sizeof buf, 1, 1);
    s_check_corrupt_jobstate(f, buf, n);
    n = s_pack_jobstate_variant(buf, sizeof buf, 3, 1);
    s_check_corrupt_jobstate(f, buf, n);
    n = s_pack_jobstate_variant(buf, sizeof buf, 5, 1); /* str for an integer */
    s_check_corrupt_jobstate(f, buf, n);
    n = s_pack_jobstate_variant(buf, sizeof buf, 13, 1);
    s_check_corrupt_jobstate(f, buf, n);
    n = s_pack_jobstate_variant(buf, sizeof buf, 100, 1);
    s_check_corrupt_jobstate(f, buf, n);
    n = s_pack_jobstate_variant(buf, sizeof buf, -1, 1);
    buf[n] = 0x00; /* trailing byte */
    s_check_corrupt_jobstate(f, buf, n + 1);
    n = s_pack_jobstate_variant(buf, sizeof buf, -1, 1);
    assert_memory_equal(buf + n - 3, "\xc0\xc0\xc0", 3); /* progress_msg, error, result */
    buf[n - 3] = (char)0xa1; /* progress_msg "\0": a NUL inside a string */
    buf[n - 2] = 0x00;
    buf[n - 1] = (char)0xc0;
    buf[n] = (char)0xc0;
    s_check_corrupt_jobstate(f, buf, n + 1);

    /* A jobspec whose need points past the request's jobs. */
    wf_store_close(&f->store);
    uint8_t key[12];
    s_jobkey(key, 1, 1);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 13);
    msgpack_pack_uint32(&pk, 1);
    msgpack_pack_str_with_body(&pk, "b", 1);
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_nil(&pk);
    msgpack_pack_nil(&pk);
    for (int i = 0; i < 5; i++)
        msgpack_pack_uint32(&pk, 0);
    msgpack_pack_uint32(&pk, 0);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint32(&pk, 3); /* only jobs 0..2 exist */
    msgpack_pack_array(&pk, 0);
    s_raw_put(f->dir, "jobspecs", key, 12, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    /* A name index value of the wrong size, and an idem value of the wrong size. */
    uint8_t nkey[9];
    memcpy(nkey, key, 8);
    nkey[8] = 'a';
    s_raw_put(f->dir, "jobnames", nkey, 9, "\x00\x00\x01", 3);
    s_raw_put(f->dir, "idem", "key-1", 5, "\x01", 1);
    /* A request record of another id under key 1. */
    size_t rlen = 0;
    uint8_t rkey[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    uint8_t *rec = s_raw_get(f->dir, "requests", rkey, 8, &rlen);
    assert_non_null(rec);
    assert_int_equal(rec[2], 0x01); /* [ver, id=1, ...] */
    rec[2] = 0x02;
    s_raw_put(f->dir, "requests", rkey, 8, rec, rlen);
    free(rec);
    s_open(f, 0, 0);

    wf_jobspec_t spec;
    assert_int_equal(wf_store_get_job(f->store, 1, 0, &spec, NULL), WEFT_ESTORE); /* request bad */
    uint32_t idx;
    assert_int_equal(wf_store_find_job(f->store, 1, "a", &idx), WEFT_ESTORE);
    uint64_t req;
    assert_int_equal(wf_store_find_idem(f->store, "key-1", &req), WEFT_ESTORE);
    wf_reqrec_t rr;
    assert_int_equal(wf_store_get_request(f->store, 1, &rr), WEFT_ESTORE);
    assert_null(rr.name);
    ids_t ids = {0};
    assert_int_equal(wf_store_each_request(f->store, s_collect_req, &ids), WEFT_ESTORE);
    assert_int_equal(wf_store_each_active(f->store, s_collect_req, &ids), WEFT_ESTORE);
    assert_int_equal(ids.n, 0);
    uint32_t cnt = 0;
    assert_int_equal(wf_store_each_job(f->store, 1, s_count_job, &cnt), WEFT_ESTORE);

    /* Restore the request: now only the need out of range is wrong. */
    wf_store_close(&f->store);
    rec = s_raw_get(f->dir, "requests", rkey, 8, &rlen);
    rec[2] = 0x01;
    s_raw_put(f->dir, "requests", rkey, 8, rec, rlen);
    free(rec);
    s_open(f, 0, 0);
    assert_int_equal(wf_store_get_job(f->store, 1, 0, &spec, NULL), WEFT_OK);
    wf_jobspec_fini(&spec);
    assert_int_equal(wf_store_get_job(f->store, 1, 1, &spec, NULL), WEFT_ESTORE);
    cnt = 0;
    assert_int_equal(wf_store_each_job(f->store, 1, s_count_job, &cnt), WEFT_ESTORE);
    assert_int_equal(cnt, 1);
    wf_reqspec_fini(&rs);
}

/* A child that opens the environment with raw LMDB (optionally a read txn), says so on the
 * pipe, and waits to be killed. */
static pid_t
s_spawn_lmdb_child(const char *dir, bool read_txn)
{
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        MDB_env *env;
        MDB_txn *txn;
        close(ready[0]);
        if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 16) ||
            mdb_env_open(env, dir, 0, 0600) ||
            (read_txn && mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)))
            _exit(1);
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        for (;;)
            pause(); /* killed by the parent */
    }
    close(ready[1]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    return pid;
}

static void
s_kill_child(pid_t pid)
{
    int status;
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
}

static void
test_store_stale_reader_of_a_killed_process_is_cleared(void **state)
{
    fixture_t *f = *state;
    s_open(f, 0, 0);
    wf_store_close(&f->store);

    /* The first process to open an environment resets its reader table, so a holder keeps it
     * open: only then does the dead reader's slot survive for mdb_reader_check to find. */
    pid_t holder = s_spawn_lmdb_child(f->dir, false);
    pid_t reader = s_spawn_lmdb_child(f->dir, true);
    s_kill_child(reader);

    s_open(f, 0, 0);
    assert_int_equal(wf_store_stale_readers(f->store), 1);
    wf_reqspec_t rs;
    s_spec3(&rs);
    assert_int_equal(s_commit_new(f, 1, &rs), WEFT_OK);
    s_kill_child(holder);
    jobwalk_t w = {.want = &rs};
    assert_int_equal(wf_store_each_job(f->store, 1, s_walk_job, &w), WEFT_OK);
    wf_reqspec_fini(&rs);

    /* Without a holder, a killed reader is gone at the next open either way. */
    wf_store_close(&f->store);
    reader = s_spawn_lmdb_child(f->dir, true);
    s_kill_child(reader);
    s_open(f, 0, 0);
    assert_true(wf_store_stale_readers(f->store) >= 0);
}

/* Nothing of request id is visible. */
static void
s_assert_absent(fixture_t *f, uint64_t id, const char *key)
{
    wf_reqrec_t rec;
    wf_jobstate_t st;
    uint32_t idx;
    uint64_t req;
    assert_int_equal(wf_store_get_request(f->store, id, &rec), WEFT_ENOTFOUND);
    assert_int_equal(wf_store_get_job(f->store, id, 0, NULL, &st), WEFT_ENOTFOUND);
    assert_int_equal(wf_store_find_job(f->store, id, "a", &idx), WEFT_ENOTFOUND);
    if (key)
        assert_int_equal(wf_store_find_idem(f->store, key, &req), WEFT_ENOTFOUND);
    ids_t ids = {0};
    assert_int_equal(wf_store_each_active(f->store, s_collect_req, &ids), WEFT_OK);
    for (int i = 0; i < ids.n && i < 64; i++)
        assert_true(ids.v[i] != id);
}

static void
s_assert_present(fixture_t *f, uint64_t id, const char *key, const wf_reqspec_t *rs)
{
    wf_reqrec_t rec;
    uint64_t req;
    assert_int_equal(wf_store_get_request(f->store, id, &rec), WEFT_OK);
    wf_reqrec_fini(&rec);
    assert_int_equal(wf_store_find_idem(f->store, key, &req), WEFT_OK);
    assert_int_equal(req, id);
    jobwalk_t w = {.want = rs};
    assert_int_equal(wf_store_each_job(f->store, id, s_walk_job, &w), WEFT_OK);
    assert_int_equal(w.count, rs->njobs);
    wf_jobstate_t st;
    assert_int_equal(wf_store_get_job(f->store, id, 0, NULL, &st), WEFT_OK);
    assert_int_equal(st.state, WEFT_JOB_READY);
    wf_jobstate_fini(&st);
}

/* new request + next_req + a jobstate, with the nth write failing. */
static int
s_commit_faulty(fixture_t *f, uint64_t id, wf_reqspec_t *rs, unsigned nth, bool full)
{
    wf_reqrec_t rec;
    free(rs->key);
    rs->key = s_fmt("key-%" PRIu64, id);
    s_rec_from(&rec, id, rs);
    wf_jobstate_t ready = {.state = WEFT_JOB_READY, .cause = WF_NO_JOB};
    wf_batch_t *b = wf_batch_new(f->store);
    wf_batch_put_new_request(b, &rec, rs);
    wf_batch_put_jobstate(b, id, 0, &ready);
    wf_batch_put_next_req(b, id + 1);
    wf_store_set_fault(f->store, nth, full);
    int rc = wf_store_commit(f->store, b, f->err, sizeof f->err);
    wf_store_set_fault(f->store, 0, false);
    wf_batch_destroy(&b);
    wf_reqrec_fini(&rec);
    return rc;
}

static void
test_store_fault_on_any_write_is_all_or_nothing(void **state)
{
    fixture_t *f = *state;
    s_open(f, 0, 0);
    wf_reqspec_t rs;
    s_spec3(&rs);
    unsigned nth;
    int rc = WEFT_ESTORE;
    for (nth = 1; nth < 100 && rc != WEFT_OK; nth++) {
        rc = s_commit_faulty(f, 1, &rs, nth, false);
        if (rc == WEFT_OK)
            break;
        assert_int_equal(rc, WEFT_ESTORE);
        assert_non_null(strstr(f->err, "injected fault"));
        s_assert_absent(f, 1, "key-1");
        assert_int_equal(wf_store_next_reqid(f->store), 1);
    }
    assert_int_equal(rc, WEFT_OK);
    /* 1 request + 3 specs + 3 states + 3 names + idem + active + jobstate + next_req + commit */
    assert_int_equal(nth, 16);
    s_assert_present(f, 1, "key-1", &rs);
    s_reopen(f, 0, 0);
    s_assert_present(f, 1, "key-1", &rs);
    assert_int_equal(wf_store_next_reqid(f->store), 2);
    wf_reqspec_fini(&rs);
}

static void
test_store_map_full_fault_grows_or_is_efull_all_or_nothing(void **state)
{
    fixture_t *f = *state;
    s_open(f, 256 * KIB, 2 * MIB); /* room for three doublings */
    wf_reqspec_t rs;
    s_spec3(&rs);
    int ok = 0, full = 0;
    for (unsigned nth = 1; nth <= 15; nth++) { /* 15 writes: see the test above */
        uint64_t id = nth;
        int rc = s_commit_faulty(f, id, &rs, nth, true);
        if (rc == WEFT_OK) {
            ok++;
            s_assert_present(f, id, rs.key, &rs);
        } else {
            assert_int_equal(rc, WEFT_EFULL);
            assert_non_null(strstr(f->err, "store map full at 2097152 bytes (max 2097152)"));
            full++;
            s_assert_absent(f, id, rs.key);
        }
    }
    assert_int_equal(ok, 3);
    assert_int_equal(full, 12);
    assert_int_equal(wf_store_map_size(f->store), 2 * MIB);
    s_reopen(f, 256 * KIB, 2 * MIB);
    ids_t ids = {0};
    assert_int_equal(wf_store_each_request(f->store, s_collect_req, &ids), WEFT_OK);
    assert_int_equal(ids.n, 3);
    wf_reqspec_fini(&rs);
}

static void
test_store_schema_fini_and_str_set(void **state)
{
    (void)state;
    char *s = NULL;
    wf_str_set(&s, "hello", 10);
    assert_string_equal(s, "hello");
    wf_str_set(&s, "hello world", 5);
    assert_string_equal(s, "hello");
    wf_str_set(&s, s, 3); /* from itself */
    assert_string_equal(s, "hel");
    /* "é" is 2 bytes: cutting after its first byte keeps neither byte */
    wf_str_set(&s, "ab\xc3\xa9", 3);
    assert_string_equal(s, "ab");
    wf_str_set(&s, "ab\xc3\xa9", 4);
    assert_string_equal(s, "ab\xc3\xa9");
    wf_str_set(&s, NULL, 5);
    assert_null(s);

    wf_jobspec_t js = {0};
    wf_jobspec_fini(&js);
    wf_jobspec_fini(NULL);
    wf_reqspec_t rs;
    s_spec3(&rs);
    wf_reqspec_fini(&rs);
    assert_null(rs.jobs);
    assert_int_equal(rs.njobs, 0);
    wf_reqspec_fini(&rs);
    wf_reqrec_t rr = {0};
    wf_reqrec_fini(&rr);
    wf_jobstate_t st = {0};
    wf_str_set(&st.error, "x", 8);
    wf_jobstate_fini(&st);
    assert_null(st.error);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_open_creates_and_reopen_keeps_data, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_open_rejects_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_schema_mismatch_is_eversion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_second_open_same_process_is_ebusy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_second_open_from_child_is_ebusy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_new_request_reads_back_field_by_field, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_jobstate_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_each_active_drops_finished_requests, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_each_job_in_index_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_next_reqid_never_reuses_an_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_map_full_is_efull_and_store_stays_usable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_map_grows_for_a_big_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_readers_on_other_threads_while_the_map_grows,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_corrupt_records_are_estore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_workers_are_kept_and_found_by_identity, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_jobstate_keeps_its_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_without_worker_databases_still_opens, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_stale_reader_of_a_killed_process_is_cleared,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_fault_on_any_write_is_all_or_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_map_full_fault_grows_or_is_efull_all_or_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_schema_fini_and_str_set, setup, teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
