/*
 * engine_test.c -- the engine through its public API: validation, dispatch order on the usual
 * shapes, big requests, idempotency, events, progress and results, cancel, pause and priority,
 * pools, resume after close, a second engine refused, a full store.
 */
#include <lmdb.h> /* before itest.h: testutil.h's raw LMDB helper */

#include "itest.h"

#include <czmq.h>

#include "client.h"     /* the client protocol, spoken by hand */
#include "server_int.h" /* wf_server_test_fail_commits (WEFT_TESTING) */

/* ---- validation ---- */

static void
test_engine_rejects_unknown_need(void **state)
{
    it_fixture_t *f = *state;
    weft_request_t *r = NULL;
    weft_request_new(&r, "bad");
    it_job(r, "a", "ok");
    it_job(r, "b", "ok");
    it_need(r, "b", "x");
    weft_reqid_t id = 0;
    assert_int_equal(weft_request_submit(f->eng, r, &id), WEFT_EINVAL);
    assert_non_null(strstr(weft_request_errmsg(r), "job \"b\" needs unknown job \"x\""));
    weft_request_destroy(&r);
}

static void
test_engine_rejects_cycle_with_path(void **state)
{
    it_fixture_t *f = *state;
    weft_request_t *r = NULL;
    weft_request_new(&r, "cyc");
    it_job(r, "root", "ok");
    it_job(r, "a", "ok");
    it_job(r, "b", "ok");
    it_job(r, "c", "ok");
    it_need(r, "a", "root");
    it_need(r, "a", "c");
    it_need(r, "b", "a");
    it_need(r, "c", "b");
    weft_reqid_t id = 0;
    assert_int_equal(weft_request_submit(f->eng, r, &id), WEFT_ECYCLE);
    const char *msg = weft_request_errmsg(r);
    assert_non_null(strstr(msg, "cycle: "));
    /* every job of the cycle is named, the one outside it is not */
    assert_non_null(strstr(msg, "a"));
    assert_non_null(strstr(msg, "b"));
    assert_non_null(strstr(msg, "c"));
    assert_null(strstr(msg, "root"));
    weft_request_destroy(&r);
}

static void
test_engine_rejects_self_need_and_duplicates(void **state)
{
    it_fixture_t *f = *state;
    weft_request_t *r = NULL;
    weft_request_new(&r, "self");
    it_job(r, "a", "ok");
    assert_int_equal(weft_request_add_job(r, "a", "t", "ok", 2), WEFT_EEXIST);
    assert_int_equal(weft_request_add_job(r, "bad id", "t", "ok", 2), WEFT_EINVAL);
    it_need(r, "a", "a");
    weft_reqid_t id = 0;
    assert_int_equal(weft_request_submit(f->eng, r, &id), WEFT_EINVAL);
    assert_non_null(strstr(weft_request_errmsg(r), "job \"a\" needs itself"));
    weft_request_destroy(&r);
}

/* ---- dispatch order ---- */

/* Every job started after each of its parents was done. */
static void
s_check_order(it_fixture_t *f, weft_request_t *r, int njobs, char ids[][32], int *needs, int *nneeds,
              int maxneeds)
{
    (void)r;
    for (int i = 0; i < njobs; i++) {
        int s = it_log_index(f, "start", ids[i]);
        assert_true(s >= 0);
        assert_int_equal(it_log_count(f, "start", ids[i]), 1);
        for (int k = 0; k < nneeds[i]; k++) {
            int d = it_log_index(f, "done", ids[needs[i * maxneeds + k]]);
            assert_true(d >= 0);
            assert_true(d < s);
        }
    }
}

static void
test_engine_chain_diamond_fan_order(void **state)
{
    it_fixture_t *f = *state;
    assert_int_equal(weft_engine_start_consumers(f->eng, 4), WEFT_OK);
    /* chain c0..c9; diamond d0 -> d1,d2 -> d3; fan-out f0 -> f1..f8 -> fan-in f9 */
    char ids[30][32];
    int needs[30 * 8], nneeds[30] = {0};
    int n = 0;
    weft_request_t *r = NULL;
    weft_request_new(&r, "shapes");
    for (int i = 0; i < 10; i++, n++) {
        snprintf(ids[n], 32, "c%d", i);
        it_job(r, ids[n], "ok");
        if (i > 0) {
            it_need(r, ids[n], ids[n - 1]);
            needs[n * 8 + nneeds[n]++] = n - 1;
        }
    }
    int d0 = n;
    for (int i = 0; i < 4; i++, n++) {
        snprintf(ids[n], 32, "d%d", i);
        it_job(r, ids[n], "sleep:5");
    }
    it_need(r, "d1", "d0");
    it_need(r, "d2", "d0");
    it_need(r, "d3", "d1");
    it_need(r, "d3", "d2");
    needs[(d0 + 1) * 8 + nneeds[d0 + 1]++] = d0;
    needs[(d0 + 2) * 8 + nneeds[d0 + 2]++] = d0;
    needs[(d0 + 3) * 8 + nneeds[d0 + 3]++] = d0 + 1;
    needs[(d0 + 3) * 8 + nneeds[d0 + 3]++] = d0 + 2;
    int f0 = n;
    for (int i = 0; i < 10; i++, n++) {
        snprintf(ids[n], 32, "f%d", i);
        it_job(r, ids[n], "ok");
    }
    for (int i = 1; i <= 8; i++) {
        it_need(r, ids[f0 + i], "f0");
        needs[(f0 + i) * 8 + nneeds[f0 + i]++] = f0;
    }
    for (int i = 1; i <= 8; i++)
        it_need(r, "f9", ids[f0 + i]);
    weft_reqid_t id = it_submit(f, r);
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    s_check_order(f, r, n - 1, ids, needs, nneeds, 8);
    int start9 = it_log_index(f, "start", "f9");
    for (int i = 1; i <= 8; i++)
        assert_true(it_log_index(f, "done", ids[f0 + i]) < start9);
    weft_request_info_t info;
    assert_int_equal(weft_request_status(f->eng, id, &info), WEFT_OK);
    assert_int_equal(info.njobs, (uint32_t)n);
    assert_int_equal(info.count[WEFT_JOB_DONE], (uint32_t)n);
    assert_string_equal(info.name, "shapes");
    weft_request_destroy(&r);
}

static void
test_engine_random_lattice_order(void **state)
{
    it_fixture_t *f = *state;
    assert_int_equal(weft_engine_start_consumers(f->eng, 3), WEFT_OK);
    enum { L = 8, W = 25, K = 3, N = L * W };
    static char ids[N][32];
    static int needs[N * K], nneeds[N];
    memset(nneeds, 0, sizeof nneeds);
    unsigned seed = 12345;
    weft_request_t *r = NULL;
    weft_request_new(&r, "lattice");
    for (int l = 0; l < L; l++) {
        for (int w = 0; w < W; w++) {
            int i = l * W + w;
            snprintf(ids[i], 32, "j%d_%d", l, w);
            it_job(r, ids[i], "ok");
            for (int k = 0; l > 0 && k < K; k++) {
                int p = (l - 1) * W + (int)(rand_r(&seed) % W);
                it_need(r, ids[i], ids[p]);
                needs[i * K + nneeds[i]++] = p;
            }
        }
    }
    weft_reqid_t id = it_submit(f, r);
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    s_check_order(f, r, N, ids, needs, nneeds, K);
    weft_request_destroy(&r);
}

static void
test_engine_ten_thousand_jobs_complete(void **state)
{
    it_fixture_t *f = *state;
    assert_int_equal(weft_engine_start_consumers(f->eng, 4), WEFT_OK);
    enum { N = 10000 };
    weft_request_t *r = NULL;
    weft_request_new(&r, "big");
    char id[32], parent[32];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "j%d", i);
        it_job(r, id, "ok");
        if (i >= 100) { /* 100 chains of 100 interleaved */
            snprintf(parent, sizeof parent, "j%d", i - 100);
            it_need(r, id, parent);
        }
    }
    weft_reqid_t rid = it_submit(f, r);
    assert_int_equal(it_wait(f, rid), WEFT_REQ_SUCCEEDED);
    weft_request_info_t info;
    assert_int_equal(weft_request_status(f->eng, rid, &info), WEFT_OK);
    assert_int_equal(info.count[WEFT_JOB_DONE], N);
    assert_int_equal(atomic_load(&f->started), N);
    weft_request_destroy(&r);
}

/* ---- submission details ---- */

static void
test_engine_idempotency_key_returns_first_id(void **state)
{
    it_fixture_t *f = *state;
    weft_request_t *r = NULL;
    weft_request_new(&r, "idem");
    it_job(r, "a", "ok");
    weft_request_set_key(r, "deploy-42");
    weft_reqid_t a = it_submit(f, r);
    weft_reqid_t b = it_submit(f, r);
    assert_true(a == b);
    assert_int_equal(weft_engine_start_consumers(f->eng, 1), WEFT_OK);
    assert_int_equal(it_wait(f, a), WEFT_REQ_SUCCEEDED);
    /* still the same once the first has finished, and after a reopen */
    assert_true(it_submit(f, r) == a);
    it_reopen(f);
    assert_true(it_submit(f, r) == a);
    weft_request_set_key(r, "deploy-43");
    assert_true(it_submit(f, r) != a);
    weft_request_destroy(&r);
}

typedef struct cb_state {
    atomic_int seen;
    atomic_int finished;
} cb_state_t;

static void
s_on_event(const weft_event_t *ev, void *arg)
{
    cb_state_t *s = arg;
    atomic_fetch_add(&s->seen, 1);
    if (ev->job_index == UINT32_MAX && ev->state == WEFT_REQ_SUCCEEDED)
        atomic_fetch_add(&s->finished, 1);
}

static bool
s_cb_finished(void *arg)
{
    return atomic_load(&((cb_state_t *)arg)->finished) > 0;
}

static void
test_engine_events_stream_and_callback(void **state)
{
    it_fixture_t *f = *state;
    weft_events_t *ev = NULL;
    cb_state_t cb = {0};
    assert_int_equal(weft_events_open(f->eng, 0, &ev), WEFT_OK);
    assert_int_equal(weft_engine_on_event(f->eng, s_on_event, &cb), WEFT_OK);
    int fd = -1;
    assert_int_equal(weft_events_fd(ev, &fd), WEFT_OK);
    assert_true(fd >= 0);
    it_msleep(50); /* let the subscriptions reach the publisher (slow joiner) */
    weft_request_t *r = NULL;
    weft_request_new(&r, "ev");
    it_job(r, "a", "progress");
    it_job(r, "b", "ok");
    it_need(r, "b", "a");
    weft_reqid_t id = it_submit(f, r);
    assert_int_equal(weft_engine_start_consumers(f->eng, 1), WEFT_OK);
    /* follow the stream to the request's end: a and b each go ready -> running -> done */
    bool saw_running_a = false, saw_done_b = false, saw_progress = false, saw_end = false;
    weft_event_t e;
    while (!saw_end) {
        assert_int_equal(weft_events_next(ev, &e, WF_TEST_DEADLINE_MS), WEFT_OK);
        assert_true(e.request == id);
        assert_true(e.time_ms > 0);
        if (e.job_index == UINT32_MAX) {
            assert_int_equal(e.state, WEFT_REQ_SUCCEEDED);
            saw_end = true;
        } else if (strcmp(e.job, "a") == 0 && e.state == WEFT_JOB_RUNNING) {
            if (e.progress == 50)
                saw_progress = true;
            else
                saw_running_a = true;
            assert_int_equal(e.attempt, 1);
        } else if (strcmp(e.job, "b") == 0 && e.state == WEFT_JOB_DONE) {
            saw_done_b = true;
        }
    }
    assert_true(saw_running_a && saw_done_b && saw_progress);
    assert_true(wf_test_wait(s_cb_finished, &cb, WF_TEST_DEADLINE_MS));
    assert_true(atomic_load(&cb.seen) >= 7);
    assert_int_equal(weft_engine_on_event(f->eng, NULL, NULL), WEFT_OK);
    weft_events_close(&ev);
    assert_null(ev);
    /* progress and result are kept with the job */
    weft_job_info_t info = it_info(f, id, "a");
    assert_int_equal(info.progress, 100);
    char buf[16];
    size_t len = 0;
    assert_int_equal(weft_job_result(f->eng, id, "a", buf, sizeof buf, &len), WEFT_OK);
    assert_int_equal(len, 1);
    assert_memory_equal(buf, "a", 1);
    weft_request_destroy(&r);
}

/* ---- cancel, pause, priority, pools ---- */

static bool
s_started_one(void *arg)
{
    return atomic_load(&((it_fixture_t *)arg)->started) >= 1;
}

static void
test_engine_cancel_request_stops_running_jobs(void **state)
{
    it_fixture_t *f = *state;
    assert_int_equal(weft_engine_start_consumers(f->eng, 1), WEFT_OK);
    weft_request_t *r = NULL;
    weft_request_new(&r, "cancel");
    it_job(r, "long", "block");
    it_job(r, "after", "ok");
    it_need(r, "after", "long");
    weft_reqid_t id = it_submit(f, r);
    assert_true(wf_test_wait(s_started_one, f, WF_TEST_DEADLINE_MS));
    assert_int_equal(weft_request_cancel(f->eng, id), WEFT_OK);
    assert_int_equal(it_wait(f, id), WEFT_REQ_CANCELLED);
    weft_job_info_t info = it_info(f, id, "long");
    assert_int_equal(info.state, WEFT_JOB_CANCELLED);
    assert_int_equal(info.reason, WEFT_REASON_CANCELLED_USER);
    it_assert_state(f, id, "after", WEFT_JOB_CANCELLED);
    /* the running handler was told to stop: it logs its failure */
    for (int i = 0; i < 5000 && it_log_index(f, "fail", "long") < 0; i++)
        it_msleep(2);
    assert_true(it_log_index(f, "fail", "long") >= 0);
    assert_int_equal(weft_request_cancel(f->eng, id), WEFT_ESTATE);
    assert_int_equal(weft_request_cancel(f->eng, 999999), WEFT_ENOTFOUND);
    weft_request_destroy(&r);
}

static void
test_engine_pause_then_priority_order(void **state)
{
    it_fixture_t *f = *state;
    assert_int_equal(weft_engine_pause(f->eng), WEFT_OK);
    assert_int_equal(weft_engine_start_consumers(f->eng, 1), WEFT_OK);
    weft_request_t *r = NULL;
    weft_request_new(&r, "prio");
    const char *ids[] = {"low", "mid", "high", "mid2", "top"};
    int prio[] = {-5, 0, 10, 0, 100};
    for (int i = 0; i < 5; i++) {
        it_job(r, ids[i], "ok");
        weft_request_job_set(r, ids[i], WEFT_JOBOPT_PRIORITY, prio[i]);
    }
    weft_reqid_t id = it_submit(f, r);
    weft_job_info_t info = it_info(f, id, "top");
    assert_int_equal(info.state, WEFT_JOB_READY);
    assert_int_equal(info.reason, WEFT_REASON_PAUSED);
    assert_int_equal(f->nlog, 0);
    assert_int_equal(weft_engine_resume(f->eng), WEFT_OK);
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    /* one slot: strictly by priority, ties by age (mid before mid2) */
    const char *order[] = {"top", "high", "mid", "mid2", "low"};
    for (int i = 0; i < 4; i++)
        assert_true(it_log_index(f, "start", order[i]) < it_log_index(f, "start", order[i + 1]));
    weft_request_destroy(&r);
}

static void
test_engine_pool_limits_concurrency(void **state)
{
    it_fixture_t *f = *state;
    assert_int_equal(weft_engine_start_consumers(f->eng, 6), WEFT_OK);
    weft_request_t *r = NULL;
    weft_request_new(&r, "pools");
    weft_request_set_pool(r, "db", 2);
    char id[16];
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof id, "q%d", i);
        it_job(r, id, "sleep:20");
        weft_request_job_set_pool(r, id, "db");
    }
    weft_reqid_t rid = it_submit(f, r);
    assert_int_equal(it_wait(f, rid), WEFT_REQ_SUCCEEDED);
    assert_true(atomic_load(&f->max_running) <= 2);
    assert_true(atomic_load(&f->max_running) >= 1);
    /* an undeclared pool is refused */
    weft_request_t *bad = NULL;
    weft_request_new(&bad, "nopool");
    it_job(bad, "x", "ok");
    weft_request_job_set_pool(bad, "x", "gpu");
    weft_reqid_t bid;
    assert_int_equal(weft_request_submit(f->eng, bad, &bid), WEFT_EINVAL);
    assert_non_null(strstr(weft_request_errmsg(bad), "gpu"));
    weft_request_destroy(&bad);
    weft_request_destroy(&r);
}

static void
test_engine_waiting_reasons(void **state)
{
    it_fixture_t *f = *state;
    weft_request_t *r = NULL;
    weft_request_new(&r, "why");
    assert_int_equal(weft_request_add_job(r, "orphan", "no-such-type", NULL, 0), WEFT_OK);
    it_job(r, "child", "ok");
    it_need(r, "child", "orphan");
    weft_reqid_t id = it_submit(f, r);
    weft_job_info_t info = it_info(f, id, "orphan");
    assert_int_equal(info.state, WEFT_JOB_READY);
    assert_int_equal(info.reason, WEFT_REASON_WAIT_CONSUMER);
    info = it_info(f, id, "child");
    assert_int_equal(info.state, WEFT_JOB_PENDING);
    assert_int_equal(info.reason, WEFT_REASON_WAIT_PARENTS);
    assert_int_equal(info.waiting_on, 1);
    weft_job_info_t none;
    assert_int_equal(weft_job_status(f->eng, id, "nobody", &none), WEFT_ENOTFOUND);
    assert_int_equal(weft_request_wait(f->eng, id, 50, NULL), WEFT_ETIMEDOUT);
    weft_request_destroy(&r);
}

/* ---- durability ---- */

static void
test_engine_resumes_after_reopen(void **state)
{
    it_fixture_t *f = *state;
    weft_request_t *r = NULL;
    weft_request_new(&r, "resume");
    it_job(r, "a", "ok");
    it_job(r, "b", "ok");
    it_need(r, "b", "a");
    weft_reqid_t id = it_submit(f, r);
    /* no consumers: nothing ran; close and reopen, then run */
    it_reopen(f);
    assert_int_equal(weft_engine_start_consumers(f->eng, 2), WEFT_OK);
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    assert_int_equal(it_log_count(f, "start", "a"), 1);
    /* a finished request does not run again after another reopen */
    it_reopen(f);
    assert_int_equal(weft_engine_start_consumers(f->eng, 2), WEFT_OK);
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    assert_int_equal(it_log_count(f, "start", "a"), 1);
    weft_request_destroy(&r);
}

static void
test_engine_second_engine_refused(void **state)
{
    it_fixture_t *f = *state;
    weft_engine_t *other = NULL;
    char err[256] = "";
    assert_int_equal(weft_engine_open(&other, f->dir, NULL, err, sizeof err), WEFT_EBUSY);
    assert_null(other);
    assert_non_null(strstr(err, "in use"));
}

static void
test_engine_full_store_fails_cleanly(void **state)
{
    (void)state;
    char *dir = wf_test_tmpdir("full");
    weft_options_t *o = NULL;
    weft_options_new(&o);
    weft_options_set_int(o, WEFT_OPT_MAP_SIZE, 256 * 1024);
    weft_options_set_int(o, WEFT_OPT_MAP_MAX, 512 * 1024);
    weft_options_set_int(o, WEFT_OPT_DURABILITY, WEFT_DURABLE_PROCESS);
    weft_engine_t *eng = NULL;
    assert_int_equal(weft_engine_open(&eng, dir, o, NULL, 0), WEFT_OK);
    /* too big for the map: refused, nothing stored */
    weft_request_t *big = NULL;
    weft_request_new(&big, "big");
    static char payload[4096];
    memset(payload, 'x', sizeof payload);
    char id[16];
    for (int i = 0; i < 400; i++) {
        snprintf(id, sizeof id, "j%d", i);
        assert_int_equal(weft_request_add_job(big, id, "t", payload, sizeof payload), WEFT_OK);
    }
    weft_reqid_t bid = 0;
    int rc = weft_request_submit(eng, big, &bid);
    assert_true(rc == WEFT_EFULL || rc == WEFT_ESTORE);
    /* the engine goes on: a small request is accepted and runs */
    weft_request_t *small = NULL;
    weft_request_new(&small, "small");
    assert_int_equal(weft_request_add_job(small, "a", "t", "ok", 2), WEFT_OK);
    weft_reqid_t sid = 0;
    assert_int_equal(weft_request_submit(eng, small, &sid), WEFT_OK);
    weft_request_info_t info;
    assert_int_equal(weft_request_status(eng, sid, &info), WEFT_OK);
    weft_engine_close(&eng);
    /* and the store reopens consistently */
    assert_int_equal(weft_engine_open(&eng, dir, o, NULL, 0), WEFT_OK);
    assert_int_equal(weft_request_status(eng, sid, &info), WEFT_OK);
    assert_int_equal(info.njobs, 1);
    weft_engine_close(&eng);
    weft_request_destroy(&big);
    weft_request_destroy(&small);
    weft_options_destroy(&o);
    wf_test_rmtree(dir);
    free(dir);
}

/* Put (bad) or delete (!bad) a key of `size` bytes 0xff, past every real id, as the last key of
 * the store's database `db`, with LMDB itself (no engine holds the directory).  `first` is a
 * real key the database must hold already. */
static void
s_bad_last_key(const char *dir, const char *db, size_t size, MDB_val first, bool bad)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    assert_int_equal(wf_test_lmdb_begin(dir, db, 0, 0, &env, &txn, &dbi), 0);
    uint8_t key[16];
    memset(key, 0xff, sizeof key);
    MDB_val k = {size, key}, v = {1, (void *)"x"}, fv;
    if (bad) {
        assert_int_equal(mdb_get(txn, dbi, &first, &fv), 0);
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    } else {
        assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* A `workers` (or `requests`) database whose last key is not an id: the next id would restart
 * at 1 and every new registration (request) land on a stored one.  The store is refused at
 * open, saying why; the same store without that key opens and runs. */
static void
test_engine_refuses_a_malformed_last_id_key(void **state)
{
    it_fixture_t *f = *state;
    assert_int_equal(weft_engine_start_consumers(f->eng, 1), WEFT_OK);
    weft_request_t *r = NULL;
    weft_request_new(&r, "wkr");
    it_job(r, "a", "ok");
    weft_reqid_t id = it_submit(f, r);
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    weft_engine_close(&f->eng);

    static const struct {
        const char *db;
        size_t good, bad;
    } cases[] = {{"workers", 4, 5}, {"requests", 8, 9}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t one[8] = {0};
        one[cases[i].good - 1] = 1; /* id 1, big-endian: the first worker, the first request */
        MDB_val first = {cases[i].good, one};
        s_bad_last_key(f->dir, cases[i].db, cases[i].bad, first, true);
        char err[512] = "", want[128];
        assert_int_equal(weft_engine_open(&f->eng, f->dir, f->opts, err, sizeof err), WEFT_ESTORE);
        assert_null(f->eng);
        snprintf(want, sizeof want, "corrupt \"%s\" database (its last key is %zu bytes, not %zu)",
                 cases[i].db, cases[i].bad, cases[i].good);
        assert_non_null(strstr(err, want));
        s_bad_last_key(f->dir, cases[i].db, cases[i].bad, first, false);
    }

    it_reopen(f);
    assert_int_equal(weft_engine_start_consumers(f->eng, 1), WEFT_OK);
    weft_request_t *r2 = NULL;
    weft_request_new(&r2, "wkr2");
    it_job(r2, "b", "ok");
    weft_reqid_t id2 = it_submit(f, r2);
    assert_int_equal(it_wait(f, id2), WEFT_REQ_SUCCEEDED);
    assert_true(id2 > id);
    weft_request_destroy(&r2);
    weft_request_destroy(&r);
}

/* A client's LOGS, by hand on the client endpoint; the reply (copied out of its frame). */
static void
s_logs(zsock_t *sock, uint64_t corr, weft_reqid_t req, wf_cmsg_t *out)
{
    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_LOGS);
    m.corr = corr;
    m.req = req;
    m.index = 0;
    m.attempt = 0;
    snprintf(m.stream, sizeof m.stream, "out");
    m.max = 100;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(wf_cmsg_encode(&m, &buf, &len), WEFT_OK);
    zframe_t *fr = zframe_new(buf, len);
    free(buf);
    assert_int_equal(zframe_send(&fr, sock, 0), 0);
    zsock_set_rcvtimeo(sock, WF_TEST_DEADLINE_MS);
    fr = zframe_recv(sock);
    assert_non_null(fr);
    assert_int_equal(wf_cmsg_decode(zframe_data(fr), zframe_size(fr), out, NULL, 0), WEFT_OK);
    if (out->kind == WF_CMSG_LOGS_R)
        assert_int_equal(wf_cmsg_keep_data(out), WEFT_OK);
    zframe_destroy(&fr);
    assert_true(out->corr == corr);
}

/* A LOGS relayed in a turn whose commit fails: its LOGREQ never leaves, so the client is told
 * ESTORE with the turn's other replies, not ETIMEDOUT when the relay's 5 s run out. */
static void
test_engine_log_read_in_a_failed_turn_gets_estore(void **state)
{
    it_fixture_t *f = *state;
    char *client_ep = wf_test_endpoint("ipc");
    weft_options_set_str(f->opts, WEFT_OPT_CLIENT_BIND, client_ep);
    it_reopen(f);
    assert_int_equal(weft_engine_start_consumers(f->eng, 1), WEFT_OK);
    weft_request_t *r = NULL;
    weft_request_new(&r, "logs");
    it_job(r, "a", "ok");
    weft_reqid_t id = it_submit(f, r);
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    zsock_t *c = zsock_new_dealer(client_ep);
    assert_non_null(c);
    /* relayed to the local consumer that ran it (no log reader: an empty log) */
    wf_cmsg_t rep;
    s_logs(c, 1, id, &rep);
    assert_int_equal(rep.kind, WF_CMSG_LOGS_R);
    assert_true(rep.size == 0 && rep.data_len == 0);
    wf_cmsg_fini(&rep);
    /* the store refuses writes: the read is answered with the store's error */
    wf_server_test_fail_commits(true);
    s_logs(c, 2, id, &rep);
    wf_server_test_fail_commits(false);
    if (rep.kind != WF_CMSG_ERROR || rep.code != WEFT_ESTORE)
        fail_msg("expected ERROR ESTORE, got %s %s \"%s\"", wf_cmsg_kind_name(rep.kind),
                 weft_strerror((int)rep.code), rep.message);
    assert_non_null(strstr(rep.message, "store failed"));
    wf_cmsg_fini(&rep);
    /* once it takes writes again, reads are relayed again */
    s_logs(c, 3, id, &rep);
    assert_int_equal(rep.kind, WF_CMSG_LOGS_R);
    wf_cmsg_fini(&rep);
    zsock_destroy(&c);
    weft_request_destroy(&r);
    free(client_ep);
}

static void
test_engine_readonly_inspects_a_busy_directory(void **state)
{
    it_fixture_t *f = *state;
    weft_request_t *r = NULL;
    weft_request_new(&r, "inspect");
    it_job(r, "a", "ok");
    weft_reqid_t id = it_submit(f, r);
    weft_options_t *o = NULL;
    weft_options_new(&o);
    assert_int_equal(weft_options_set_int(o, WEFT_OPT_READONLY, 1), WEFT_OK);
    weft_engine_t *ro = NULL;
    char err[256] = "";
    assert_int_equal(weft_engine_open(&ro, f->dir, o, err, sizeof err), WEFT_OK);
    weft_request_info_t info;
    assert_int_equal(weft_request_status(ro, id, &info), WEFT_OK);
    assert_int_equal(info.njobs, 1);
    weft_job_info_t ji;
    assert_int_equal(weft_job_status(ro, id, "a", &ji), WEFT_OK);
    assert_int_equal(ji.state, WEFT_JOB_READY);
    /* nothing that changes state */
    assert_int_equal(weft_request_cancel(ro, id), WEFT_ESTATE);
    assert_int_equal(weft_request_submit(ro, r, NULL), WEFT_ESTATE);
    assert_int_equal(weft_request_wait(ro, id, 10, NULL), WEFT_ESTATE);
    weft_events_t *ev = NULL;
    assert_int_equal(weft_events_open(ro, 0, &ev), WEFT_ESTATE);
    /* it sees what the live engine makes durable */
    assert_int_equal(weft_engine_start_consumers(f->eng, 1), WEFT_OK);
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    assert_int_equal(weft_request_status(ro, id, &info), WEFT_OK);
    assert_int_equal(info.state, WEFT_REQ_SUCCEEDED);
    weft_engine_close(&ro);
    /* a directory that is not a state directory */
    char *empty = wf_test_tmpdir("empty");
    assert_int_equal(weft_engine_open(&ro, empty, o, err, sizeof err), WEFT_ENOTFOUND);
    assert_null(ro);
    wf_test_rmtree(empty);
    free(empty);
    weft_options_destroy(&o);
    weft_request_destroy(&r);
}

static void
test_engine_carried_jobs_and_fingerprints(void **state)
{
    it_fixture_t *f = *state;
    weft_request_t *r = NULL;
    weft_request_new(&r, "carry");
    it_job(r, "a", "ok");
    it_job(r, "b", "ok");
    it_job(r, "c", "ok");
    it_need(r, "b", "a");
    it_need(r, "c", "b");
    uint64_t fa = 0, fb = 0;
    assert_int_equal(weft_request_job_fingerprint(r, "a", &fa), WEFT_OK);
    assert_int_equal(weft_request_job_fingerprint(r, "b", &fb), WEFT_OK);
    assert_true(fa != fb);
    assert_int_equal(weft_request_job_set(r, "a", WEFT_JOBOPT_DONE, 1), WEFT_OK);
    assert_int_equal(weft_request_job_set(r, "b", WEFT_JOBOPT_DONE, 1), WEFT_OK);
    weft_reqid_t id = it_submit(f, r);
    assert_int_equal(weft_engine_start_consumers(f->eng, 1), WEFT_OK);
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    weft_job_info_t info = it_info(f, id, "a");
    assert_int_equal(info.state, WEFT_JOB_DONE);
    assert_int_equal(info.reason, WEFT_REASON_CARRIED);
    assert_int_equal(info.attempts, 0);
    assert_true(info.fingerprint == fa);
    assert_int_equal(it_log_count(f, "start", "a"), 0);
    assert_int_equal(it_log_count(f, "start", "b"), 0);
    assert_int_equal(it_log_count(f, "start", "c"), 1);
    /* a changed job has another fingerprint */
    weft_request_t *r2 = NULL;
    weft_request_new(&r2, "carry");
    it_job(r2, "a", "fail");
    uint64_t fa2 = 0;
    assert_int_equal(weft_request_job_fingerprint(r2, "a", &fa2), WEFT_OK);
    assert_true(fa2 != fa);
    weft_request_destroy(&r2);
    weft_request_destroy(&r);
}

/* Closing the engine while a local handler runs: the handler is asked to stop, the attempt is
 * given back by BYE (neither a failure nor a lost consumer), and it runs again after a reopen. */
static void
test_engine_close_gives_back_running_jobs(void **state)
{
    it_fixture_t *f = *state;
    assert_int_equal(weft_engine_start_consumers(f->eng, 2), WEFT_OK);
    weft_request_t *r = NULL;
    weft_request_new(&r, "closing");
    it_job(r, "long", "block");
    weft_reqid_t id = it_submit(f, r);
    assert_true(wf_test_wait(s_started_one, f, WF_TEST_DEADLINE_MS));
    it_reopen(f);
    /* the handler saw weft_job_cancelled before close returned */
    assert_true(it_log_index(f, "fail", "long") >= 0);
    weft_job_info_t info = it_info(f, id, "long");
    assert_int_equal(info.state, WEFT_JOB_READY);
    assert_int_equal(info.failures, 0);
    assert_int_equal(info.lost, 0); /* a clean BYE does not spend lost_retries */
    assert_int_equal(weft_engine_start_consumers(f->eng, 1), WEFT_OK);
    for (int i = 0; i < 5000 && atomic_load(&f->started) < 2; i++)
        it_msleep(2);
    assert_int_equal(atomic_load(&f->started), 2);
    assert_int_equal(weft_request_cancel(f->eng, id), WEFT_OK);
    assert_int_equal(it_wait(f, id), WEFT_REQ_CANCELLED);
    weft_request_destroy(&r);
}

/* Thousands of control calls in a row (the live reason of every READY job, as `weft run` reads
 * them) reuse a few sockets: none is left for ZeroMQ's reaper to pile up past its limit. */
static void
test_engine_control_calls_in_a_burst(void **state)
{
    it_fixture_t *f = *state;
    weft_request_t *req = NULL;
    weft_request_new(&req, "burst");
    char id[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof id, "j%d", i);
        assert_int_equal(weft_request_add_job(req, id, "nobody-serves-this", NULL, 0), WEFT_OK);
    }
    weft_reqid_t rid = it_submit(f, req);
    for (int round = 0; round < 5; round++)
        for (uint32_t i = 0; i < 2000; i++) {
            weft_job_info_t info;
            assert_int_equal(weft_job_status_at(f->eng, rid, i, &info), WEFT_OK);
            assert_int_equal(info.state, WEFT_JOB_READY);
            assert_int_equal(info.reason, WEFT_REASON_WAIT_CONSUMER);
        }
    /* The stored view: the same states, read without asking the engine thread. */
    for (uint32_t i = 0; i < 2000; i++) {
        weft_job_info_t info;
        assert_int_equal(weft_job_status_stored_at(f->eng, rid, i, &info), WEFT_OK);
        assert_int_equal(info.state, WEFT_JOB_READY);
        assert_int_equal(info.index, i);
    }
    weft_job_info_t none;
    assert_int_equal(weft_job_status_stored_at(f->eng, rid, 2000, &none), WEFT_ENOTFOUND);
    assert_int_equal(weft_job_status_stored_at(NULL, rid, 0, &none), WEFT_EINVAL);
    weft_req_state st;
    assert_int_equal(weft_request_wait(f->eng, rid, 0, &st), WEFT_ETIMEDOUT);
    assert_int_equal(weft_request_cancel(f->eng, rid), WEFT_OK);
    assert_int_equal(weft_request_wait(f->eng, rid, WF_TEST_DEADLINE_MS, &st), WEFT_OK);
    assert_int_equal(st, WEFT_REQ_CANCELLED);
    weft_request_destroy(&req);
}

#define T(name) cmocka_unit_test_setup_teardown(name, it_setup, it_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_engine_rejects_unknown_need),
        T(test_engine_rejects_cycle_with_path),
        T(test_engine_rejects_self_need_and_duplicates),
        T(test_engine_chain_diamond_fan_order),
        T(test_engine_random_lattice_order),
        T(test_engine_ten_thousand_jobs_complete),
        T(test_engine_idempotency_key_returns_first_id),
        T(test_engine_events_stream_and_callback),
        T(test_engine_cancel_request_stops_running_jobs),
        T(test_engine_close_gives_back_running_jobs),
        T(test_engine_pause_then_priority_order),
        T(test_engine_pool_limits_concurrency),
        T(test_engine_waiting_reasons),
        T(test_engine_resumes_after_reopen),
        T(test_engine_second_engine_refused),
        T(test_engine_readonly_inspects_a_busy_directory),
        T(test_engine_carried_jobs_and_fingerprints),
        T(test_engine_control_calls_in_a_burst),
        T(test_engine_refuses_a_malformed_last_id_key),
        T(test_engine_log_read_in_a_failed_turn_gets_estore),
        cmocka_unit_test(test_engine_full_store_fails_cleanly),
    };
    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
