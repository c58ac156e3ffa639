/*
 * board_test.c -- the board seen by a consumer written by hand from the protocol: a consumer
 * that goes silent loses its job to another, a stale attempt's report is ignored (fencing),
 * and malformed or foreign-version frames are answered with ERROR and change nothing.
 */
#include "itest.h"

#include <czmq.h>

#include "proto.h"

typedef struct raw {
    zsock_t *sock;
} raw_t;

static void
raw_send(raw_t *r, const wf_msg_t *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(wf_msg_encode(m, &buf, &len), WEFT_OK);
    zframe_t *f = zframe_new(buf, len);
    free(buf);
    assert_int_equal(zframe_send(&f, r->sock, 0), 0);
}

/* The next message that is not a HEARTBEAT; false on timeout. */
static bool
raw_recv(raw_t *r, wf_msg_t *out, int timeout_ms)
{
    int64_t end = wf_test_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = end - wf_test_now_ms();
        if (left <= 0)
            return false;
        zsock_set_rcvtimeo(r->sock, (int)left);
        zframe_t *f = zframe_recv(r->sock);
        if (!f)
            return false;
        int rc = wf_msg_decode(zframe_data(f), zframe_size(f), out, NULL, 0);
        zframe_destroy(&f);
        assert_int_equal(rc, WEFT_OK);
        if (out->kind != WF_MSG_HEARTBEAT)
            return true;
        wf_msg_fini(out);
    }
}

static raw_t *
raw_connect_prefetch(it_fixture_t *f, const char *type, uint32_t slots, uint32_t prefetch)
{
    raw_t *r = calloc(1, sizeof *r);
    r->sock = zsock_new_dealer(weft_engine_board_endpoint(f->eng));
    assert_non_null(r->sock);
    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_HELLO);
    snprintf(m.name, sizeof m.name, "raw");
    snprintf(m.host, sizeof m.host, "localhost");
    m.ntypes = 1;
    snprintf(m.types[0], sizeof m.types[0], "%s", type);
    m.slots = slots;
    m.prefetch = prefetch;
    m.pid = 1;
    raw_send(r, &m);
    wf_msg_t w;
    assert_true(raw_recv(r, &w, WF_TEST_DEADLINE_MS));
    assert_int_equal(w.kind, WF_MSG_WELCOME);
    assert_int_equal(w.heartbeat_ms, 100);
    wf_msg_fini(&w);
    return r;
}

static raw_t *
raw_connect(it_fixture_t *f, const char *type, uint32_t slots)
{
    return raw_connect_prefetch(f, type, slots, 0);
}

static void
raw_close(raw_t **r_p)
{
    zsock_destroy(&(*r_p)->sock);
    free(*r_p);
    *r_p = NULL;
}

static void
raw_heartbeat(raw_t *r)
{
    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_HEARTBEAT);
    raw_send(r, &m);
}

static void
raw_done(raw_t *r, wf_attempt_ref_t ref, const char *result)
{
    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_DONE);
    m.ref = ref;
    m.result = (const uint8_t *)result;
    m.result_len = (uint32_t)strlen(result);
    raw_send(r, &m);
}

static void
test_board_silent_consumer_loses_its_job(void **state)
{
    it_fixture_t *f = *state;
    raw_t *r = raw_connect(f, "t", 1);
    weft_request_t *req = NULL;
    weft_request_new(&req, "silent");
    it_job(req, "a", "ok");
    weft_reqid_t id = it_submit(f, req);
    wf_msg_t job;
    assert_true(raw_recv(r, &job, WF_TEST_DEADLINE_MS));
    assert_int_equal(job.kind, WF_MSG_JOB);
    assert_string_equal(job.job, "a");
    assert_int_equal(job.ref.attempt, 1);
    assert_int_equal(job.payload_len, 2);
    wf_attempt_ref_t ref = job.ref;
    wf_msg_fini(&job);
    /* the raw consumer now says nothing; the local one can take the job over */
    assert_int_equal(weft_engine_start_consumers(f->eng, 1), WEFT_OK);
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    weft_job_info_t info = it_info(f, id, "a");
    assert_int_equal(info.lost, 1);
    assert_int_equal(info.attempts, 2);
    assert_int_equal(info.failures, 0);
    /* its late report changes nothing: it is told it is unknown */
    raw_done(r, ref, "late");
    wf_msg_t reply;
    assert_true(raw_recv(r, &reply, WF_TEST_DEADLINE_MS));
    assert_int_equal(reply.kind, WF_MSG_ERROR);
    assert_int_equal(reply.code, WEFT_ESTATE);
    wf_msg_fini(&reply);
    char buf[16];
    size_t len = 0;
    assert_int_equal(weft_job_result(f->eng, id, "a", buf, sizeof buf, &len), WEFT_OK);
    assert_int_equal(len, 1);
    assert_memory_equal(buf, "a", 1);
    raw_close(&r);
    weft_request_destroy(&req);
}

/* The next message must be `kind` (for JOB: of job `id`); returns its ref. */
static wf_attempt_ref_t
raw_expect(raw_t *r, wf_msg_kind kind, const char *id)
{
    wf_msg_t m;
    assert_true(raw_recv(r, &m, WF_TEST_DEADLINE_MS));
    if (m.kind != kind || (id && strcmp(m.job, id) != 0))
        fail_msg("expected %s %s, got %s %s", wf_msg_kind_name(kind), id ? id : "",
                 wf_msg_kind_name(m.kind), m.job);
    wf_attempt_ref_t ref = m.ref;
    wf_msg_fini(&m);
    return ref;
}

/* A consumer with prefetch gets slots + prefetch jobs, in order, but a job with a timeout only
 * into a free slot: its timeout must not run while it waits in the consumer's queue. */
static void
test_board_prefetch_fills_the_queue_but_never_with_timeouts(void **state)
{
    it_fixture_t *f = *state;
    raw_t *r = raw_connect_prefetch(f, "t", 1, 2);
    weft_request_t *req = NULL;
    weft_request_new(&req, "prefetch");
    it_job(req, "a", "ok");
    it_job(req, "b", "ok");
    it_job(req, "c", "ok");
    it_job(req, "d", "ok");
    assert_int_equal(weft_request_job_set(req, "c", WEFT_JOBOPT_TIMEOUT_MS, 60000), WEFT_OK);
    weft_reqid_t id = it_submit(f, req);
    wf_attempt_ref_t a = raw_expect(r, WF_MSG_JOB, "a"); /* the slot */
    wf_attempt_ref_t b = raw_expect(r, WF_MSG_JOB, "b"); /* the queue; c (timeout) may not */
    raw_done(r, a, "a");
    raw_expect(r, WF_MSG_ACK, NULL);
    /* b still holds the slot for the board: c waits, and d behind it (order is kept). */
    raw_done(r, b, "b");
    raw_expect(r, WF_MSG_ACK, NULL); /* had c been queued after a, its JOB would come first */
    wf_attempt_ref_t c = raw_expect(r, WF_MSG_JOB, "c");
    wf_attempt_ref_t d = raw_expect(r, WF_MSG_JOB, "d");
    raw_done(r, c, "c");
    raw_done(r, d, "d");
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    raw_close(&r);
    weft_request_destroy(&req);
}

/* A worker that reconnects on a new socket before the board noticed its old one die (it found
 * the board silent during a long commit, say) keeps the attempts it lists: no CANCEL, no lost
 * budget spent, and its old registration is retired. */
static void
test_board_worker_reconnecting_keeps_its_attempts(void **state)
{
    it_fixture_t *f = *state;
    raw_t *r = raw_connect(f, "t", 1);
    weft_request_t *req = NULL;
    weft_request_new(&req, "rejoin");
    it_job(req, "a", "ok");
    weft_reqid_t id = it_submit(f, req);
    wf_attempt_ref_t a = raw_expect(r, WF_MSG_JOB, "a");

    raw_t r2 = {zsock_new_dealer(weft_engine_board_endpoint(f->eng))};
    assert_non_null(r2.sock);
    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_HELLO);
    snprintf(m.name, sizeof m.name, "raw"); /* as raw_connect: the same worker */
    snprintf(m.host, sizeof m.host, "localhost");
    m.ntypes = 1;
    snprintf(m.types[0], sizeof m.types[0], "t");
    m.slots = 1;
    m.pid = 1;
    m.running = &a;
    m.nrunning = 1;
    raw_send(&r2, &m);
    raw_expect(&r2, WF_MSG_WELCOME, NULL);
    raw_done(&r2, a, "a");
    raw_expect(&r2, WF_MSG_ACK, NULL); /* a CANCEL would have come first */
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    weft_job_info_t info = it_info(f, id, "a");
    assert_int_equal(info.attempts, 1);
    assert_int_equal(info.lost, 0);
    zsock_destroy(&r2.sock);
    raw_close(&r);
    weft_request_destroy(&req);
}

/* slots + prefetch over WF_MAX_SLOTS: the HELLO is refused. */
static void
test_board_refuses_too_much_prefetch(void **state)
{
    it_fixture_t *f = *state;
    zsock_t *sock = zsock_new_dealer(weft_engine_board_endpoint(f->eng));
    raw_t r = {sock};
    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_HELLO);
    snprintf(m.name, sizeof m.name, "greedy");
    snprintf(m.host, sizeof m.host, "localhost");
    m.ntypes = 1;
    snprintf(m.types[0], sizeof m.types[0], "t");
    m.slots = 2;
    m.prefetch = WF_MAX_SLOTS - 1;
    raw_send(&r, &m);
    wf_msg_t e;
    assert_true(raw_recv(&r, &e, WF_TEST_DEADLINE_MS));
    assert_int_equal(e.kind, WF_MSG_ERROR);
    assert_int_equal(e.code, WEFT_EPROTO);
    assert_non_null(strstr(e.message, "prefetch"));
    wf_msg_fini(&e);
    zsock_destroy(&sock);
}

static void
test_board_stale_attempt_is_fenced(void **state)
{
    it_fixture_t *f = *state;
    raw_t *r = raw_connect(f, "rawtype", 1);
    weft_request_t *req = NULL;
    weft_request_new(&req, "fence");
    assert_int_equal(weft_request_add_job(req, "x", "rawtype", "p", 1), WEFT_OK);
    weft_request_job_set(req, "x", WEFT_JOBOPT_TIMEOUT_MS, 150);
    weft_request_job_set(req, "x", WEFT_JOBOPT_RETRIES, 1);
    weft_reqid_t id = it_submit(f, req);
    wf_msg_t m;
    assert_true(raw_recv(r, &m, WF_TEST_DEADLINE_MS));
    assert_int_equal(m.kind, WF_MSG_JOB);
    wf_attempt_ref_t first = m.ref;
    wf_msg_fini(&m);
    /* keep heartbeating but never answer: the attempt times out and we are told to stop */
    bool cancelled = false;
    for (int i = 0; i < 600 && !cancelled; i++) {
        raw_heartbeat(r);
        if (raw_recv(r, &m, 50)) {
            if (m.kind == WF_MSG_CANCEL) {
                assert_true(m.ref.attempt == first.attempt && m.ref.idx == first.idx);
                cancelled = true;
            }
            wf_msg_fini(&m);
        }
    }
    assert_true(cancelled);
    /* our only slot is still ours until we report: the retry waits for it */
    weft_job_info_t info = it_info(f, id, "x");
    assert_int_equal(info.state, WEFT_JOB_READY);
    assert_int_equal(info.reason, WEFT_REASON_WAIT_SLOT);
    /* the stale report is acknowledged and ignored; then attempt 2 arrives */
    raw_done(r, first, "stale");
    bool acked = false, second = false;
    wf_attempt_ref_t ref2 = {0};
    while (!(acked && second)) {
        assert_true(raw_recv(r, &m, WF_TEST_DEADLINE_MS));
        if (m.kind == WF_MSG_ACK && m.ref.attempt == first.attempt)
            acked = true;
        if (m.kind == WF_MSG_JOB) {
            assert_int_equal(m.ref.attempt, first.attempt + 1);
            ref2 = m.ref;
            second = true;
        }
        wf_msg_fini(&m);
    }
    raw_done(r, ref2, "fresh");
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    char buf[16];
    size_t len = 0;
    assert_int_equal(weft_job_result(f->eng, id, "x", buf, sizeof buf, &len), WEFT_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "fresh", 5);
    info = it_info(f, id, "x");
    assert_int_equal(info.attempts, 2);
    assert_int_equal(info.failures, 1);
    raw_close(&r);
    weft_request_destroy(&req);
}

static void
test_board_malformed_frames_are_refused(void **state)
{
    it_fixture_t *f = *state;
    zsock_t *s = zsock_new_dealer(weft_engine_board_endpoint(f->eng));
    assert_non_null(s);
    /* garbage */
    zstr_send(s, "hello?");
    zframe_t *reply = NULL;
    zsock_set_rcvtimeo(s, WF_TEST_DEADLINE_MS);
    reply = zframe_recv(s);
    assert_non_null(reply);
    wf_msg_t m;
    assert_int_equal(wf_msg_decode(zframe_data(reply), zframe_size(reply), &m, NULL, 0), WEFT_OK);
    assert_int_equal(m.kind, WF_MSG_ERROR);
    assert_int_equal(m.code, WEFT_EPROTO);
    wf_msg_fini(&m);
    zframe_destroy(&reply);
    /* another protocol version: an explicit EVERSION */
    const uint8_t v2[] = {0x93, 0xa4, 'W', 'E', 'F', 'T', 0x02, 0x02};
    zframe_t *fr = zframe_new(v2, sizeof v2);
    zframe_send(&fr, s, 0);
    reply = zframe_recv(s);
    assert_non_null(reply);
    assert_int_equal(wf_msg_decode(zframe_data(reply), zframe_size(reply), &m, NULL, 0), WEFT_OK);
    assert_int_equal(m.kind, WF_MSG_ERROR);
    assert_int_equal(m.code, WEFT_EVERSION);
    wf_msg_fini(&m);
    zframe_destroy(&reply);
    /* two frames at once, and random bytes, many times: the engine goes on */
    zstr_sendm(s, "a");
    zstr_send(s, "b");
    unsigned seed = 99;
    for (int i = 0; i < 2000; i++) {
        uint8_t junk[64];
        size_t n = 1 + rand_r(&seed) % sizeof junk;
        for (size_t k = 0; k < n; k++)
            junk[k] = (uint8_t)rand_r(&seed);
        if (i % 3 == 0)
            junk[0] = 0x93; /* looks like an array: get past the first check */
        fr = zframe_new(junk, n);
        zframe_send(&fr, s, 0);
    }
    zsock_destroy(&s);
    /* and still works */
    assert_int_equal(weft_engine_start_consumers(f->eng, 1), WEFT_OK);
    weft_request_t *req = NULL;
    weft_request_new(&req, "after");
    it_job(req, "a", "ok");
    weft_reqid_t id = it_submit(f, req);
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    weft_request_destroy(&req);
}

#define T(name) cmocka_unit_test_setup_teardown(name, it_setup, it_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_board_silent_consumer_loses_its_job),
        T(test_board_stale_attempt_is_fenced),
        T(test_board_malformed_frames_are_refused),
        T(test_board_prefetch_fills_the_queue_but_never_with_timeouts),
        T(test_board_refuses_too_much_prefetch),
        T(test_board_worker_reconnecting_keeps_its_attempts),
    };
    return cmocka_run_group_tests_name("board", tests, NULL, NULL);
}
