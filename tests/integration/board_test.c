/*
 * board_test.c -- the board seen by a consumer written by hand from the protocol: a consumer
 * that goes silent loses its job to another, a stale attempt's report is ignored (fencing),
 * and malformed or foreign-version frames are answered with ERROR and change nothing.  Every
 * attempt records the worker that ran it, and a client's LOGS is relayed to that worker (LOGREQ,
 * LOGDATA) with every bound: timeouts, the cap on reads in flight, a worker that leaves.
 */
#include "itest.h"

#include <czmq.h>

#include "client.h"
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

/* A HELLO that lists the same running attempt twice: the second listing is ignored (logged),
 * so the attempt is kept, not cancelled as one the board no longer knows. */
static void
test_board_hello_listing_an_attempt_twice_keeps_it(void **state)
{
    it_fixture_t *f = *state;
    raw_t *r = raw_connect(f, "t", 1);
    weft_request_t *req = NULL;
    weft_request_new(&req, "twice");
    it_job(req, "a", "ok");
    weft_reqid_t id = it_submit(f, req);
    wf_attempt_ref_t a[2];
    a[0] = a[1] = raw_expect(r, WF_MSG_JOB, "a");

    raw_t r2 = {zsock_new_dealer(weft_engine_board_endpoint(f->eng))};
    assert_non_null(r2.sock);
    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_HELLO);
    snprintf(m.name, sizeof m.name, "raw"); /* as raw_connect: the same worker */
    snprintf(m.host, sizeof m.host, "localhost");
    m.ntypes = 1;
    snprintf(m.types[0], sizeof m.types[0], "t");
    m.slots = 2; /* room for both listings */
    m.pid = 1;
    m.running = a;
    m.nrunning = 2;
    raw_send(&r2, &m);
    raw_expect(&r2, WF_MSG_WELCOME, NULL);
    raw_done(&r2, a[0], "a");
    raw_expect(&r2, WF_MSG_ACK, NULL); /* a CANCEL would have come first */
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    weft_job_info_t info = it_info(f, id, "a");
    assert_int_equal(info.attempts, 1);
    assert_int_equal(info.lost, 0);
    zsock_destroy(&r2.sock);
    raw_close(&r);
    weft_request_destroy(&req);
}

/* ---- a consumer holding many leases ---- */

#define MANY_CAP_SLOTS 100u
#define MANY_CAP_PREFETCH 300u
#define MANY_VICTIMS 40u  /* an older request, cancelled while its attempts still run */
#define MANY_JOBS 600u    /* more than slots + prefetch: grants come while others finish */

typedef struct many {
    raw_t *r;
    uint64_t main_id, victim_id;
    wf_attempt_ref_t held[MANY_CAP_SLOTS + MANY_CAP_PREFETCH]; /* attempts we run now */
    uint32_t nheld;
    uint8_t seen[MANY_JOBS];          /* JOBs received per main job */
    uint8_t victim_seen[MANY_VICTIMS];
    wf_attempt_ref_t sent[128];       /* reports sent, waiting for their ACK */
    uint32_t nsent;
} many_t;

static void
many_report(many_t *m, wf_attempt_ref_t ref, const char *result)
{
    assert_true(m->nsent < sizeof m->sent / sizeof m->sent[0]);
    m->sent[m->nsent++] = ref;
    raw_done(m->r, ref, result);
}

/* Take one message: a JOB is held, an ACK must answer a report sent (once).  Returns its kind. */
static wf_msg_kind
many_take(many_t *m)
{
    wf_msg_t msg;
    assert_true(raw_recv(m->r, &msg, WF_TEST_DEADLINE_MS));
    raw_heartbeat(m->r); /* stay alive however long this takes */
    wf_msg_kind kind = msg.kind;
    char name[32];
    if (kind == WF_MSG_JOB) {
        assert_int_equal(msg.ref.attempt, 1);
        assert_true(m->nheld < MANY_CAP_SLOTS + MANY_CAP_PREFETCH);
        if (msg.ref.req == m->main_id) {
            assert_true(msg.ref.idx < MANY_JOBS);
            snprintf(name, sizeof name, "j%u", msg.ref.idx);
            assert_int_equal(m->seen[msg.ref.idx]++, 0);
        } else {
            assert_true(msg.ref.req == m->victim_id && msg.ref.idx < MANY_VICTIMS);
            snprintf(name, sizeof name, "v%u", msg.ref.idx);
            assert_int_equal(m->victim_seen[msg.ref.idx]++, 0);
        }
        assert_string_equal(msg.job, name);
        m->held[m->nheld++] = msg.ref;
    } else if (kind == WF_MSG_ACK) {
        uint32_t i = 0;
        while (i < m->nsent && memcmp(&m->sent[i], &msg.ref, sizeof msg.ref) != 0)
            i++;
        if (i == m->nsent)
            fail_msg("ACK of %llu/%u attempt %u, never reported or acknowledged twice",
                     (unsigned long long)msg.ref.req, msg.ref.idx, msg.ref.attempt);
        m->sent[i] = m->sent[--m->nsent];
    } else if (kind != WF_MSG_CANCEL) {
        fail_msg("unexpected %s", wf_msg_kind_name(kind));
    }
    wf_msg_fini(&msg);
    return kind;
}

/* A consumer with hundreds of leases finishes them out of order, from the middle, while new
 * ones arrive and an older request's attempts, cancelled, linger until reported: every report
 * reaches its own attempt's job, once; stale, repeated and unknown reports change nothing. */
static void
test_board_many_leases_finish_out_of_order(void **state)
{
    it_fixture_t *f = *state;
    many_t *m = calloc(1, sizeof *m);
    m->r = raw_connect_prefetch(f, "t", MANY_CAP_SLOTS, MANY_CAP_PREFETCH);
    char name[32];
    weft_request_t *victim = NULL, *req = NULL;
    weft_request_new(&victim, "victim");
    for (uint32_t i = 0; i < MANY_VICTIMS; i++) {
        snprintf(name, sizeof name, "v%u", i);
        it_job(victim, name, "ok");
    }
    m->victim_id = it_submit(f, victim);
    weft_request_new(&req, "many");
    for (uint32_t i = 0; i < MANY_JOBS; i++) {
        snprintf(name, sizeof name, "j%u", i);
        it_job(req, name, "ok");
    }
    m->main_id = it_submit(f, req);
    /* all the victims (older) and the rest of the room in main jobs */
    while (m->nheld < MANY_CAP_SLOTS + MANY_CAP_PREFETCH)
        assert_int_equal(many_take(m), WF_MSG_JOB);
    for (uint32_t i = 0; i < MANY_VICTIMS; i++)
        assert_int_equal(m->victim_seen[i], 1);

    /* progress of some main attempts reaches their own jobs */
    for (uint32_t i = 0; i < m->nheld; i += 7) {
        if (m->held[i].req != m->main_id)
            continue;
        wf_msg_t p;
        wf_msg_init(&p, WF_MSG_PROGRESS);
        p.ref = m->held[i];
        p.percent = m->held[i].idx % 100;
        raw_send(m->r, &p);
    }
    /* a report on the same socket answers after them: they have been applied */
    wf_attempt_ref_t nothing = {m->main_id, MANY_JOBS + 1, 1};
    many_report(m, nothing, "none");
    while (m->nsent > 0)
        assert_int_equal(many_take(m), WF_MSG_ACK);
    /* the victims are cancelled: each of their attempts is told to stop, once, and keeps its
     * lease until it reports */
    assert_int_equal(weft_request_cancel(f->eng, m->victim_id), WEFT_OK);
    uint8_t cancelled[MANY_VICTIMS] = {0};
    for (uint32_t n = 0; n < MANY_VICTIMS;) {
        wf_msg_t c;
        assert_true(raw_recv(m->r, &c, WF_TEST_DEADLINE_MS));
        raw_heartbeat(m->r);
        if (c.kind == WF_MSG_CANCEL) {
            assert_true(c.ref.req == m->victim_id && c.ref.idx < MANY_VICTIMS && c.ref.attempt == 1);
            assert_int_equal(cancelled[c.ref.idx]++, 0);
            n++;
        } else {
            fail_msg("unexpected %s while cancelling", wf_msg_kind_name(c.kind));
        }
        wf_msg_fini(&c);
    }
    assert_int_equal(it_wait(f, m->victim_id), WEFT_REQ_CANCELLED);
    for (uint32_t i = 0; i < m->nheld; i += 7) {
        if (m->held[i].req != m->main_id)
            continue;
        snprintf(name, sizeof name, "j%u", m->held[i].idx);
        weft_job_info_t info = it_info(f, m->main_id, name);
        assert_int_equal(info.state, WEFT_JOB_RUNNING);
        assert_int_equal(info.progress, (int)(m->held[i].idx % 100));
    }

    /* finish in batches picked from anywhere in what we hold; each batch also repeats a
     * finished report, claims a later attempt of a running job and names a job that does not
     * exist: all acknowledged, none changing anything */
    unsigned seed = 7;
    uint32_t finished = 0, batches = 0;
    wf_attempt_ref_t last_done = {0};
    while (m->nheld > 0) {
        uint32_t batch = 1 + (uint32_t)rand_r(&seed) % 40;
        for (uint32_t k = 0; k < batch && m->nheld > 0; k++) {
            uint32_t i = (uint32_t)rand_r(&seed) % m->nheld;
            wf_attempt_ref_t ref = m->held[i];
            m->held[i] = m->held[--m->nheld];
            if (ref.req == m->victim_id) {
                many_report(m, ref, "stale");
                continue;
            }
            snprintf(name, sizeof name, "j%u", ref.idx);
            many_report(m, ref, name);
            last_done = ref;
            finished++;
        }
        if (m->nheld > 0) {
            wf_attempt_ref_t later = m->held[(uint32_t)rand_r(&seed) % m->nheld];
            later.attempt++;
            many_report(m, later, "later");
        }
        if (last_done.req)
            many_report(m, last_done, "twice");
        wf_attempt_ref_t none = {m->main_id, MANY_JOBS + 5, 1};
        many_report(m, none, "none");
        while (m->nsent > 0)
            assert_int_not_equal(many_take(m), WF_MSG_CANCEL);
        batches++;
        /* grants for the freed room come after the ACKs' commit: take what is due so far */
        while (m->nheld == 0 && finished < MANY_JOBS)
            assert_int_equal(many_take(m), WF_MSG_JOB);
    }
    assert_int_equal(finished, MANY_JOBS);
    assert_true(batches > 10);
    assert_int_equal(it_wait(f, m->main_id), WEFT_REQ_SUCCEEDED);
    for (uint32_t i = 0; i < MANY_JOBS; i++) {
        assert_int_equal(m->seen[i], 1);
        snprintf(name, sizeof name, "j%u", i);
        weft_job_info_t info = it_info(f, m->main_id, name);
        assert_int_equal(info.state, WEFT_JOB_DONE);
        assert_int_equal(info.attempts, 1);
        assert_int_equal(info.failures, 0);
        assert_int_equal(info.lost, 0);
        char buf[32];
        size_t len = 0;
        assert_int_equal(weft_job_result(f->eng, m->main_id, name, buf, sizeof buf, &len), WEFT_OK);
        assert_int_equal(len, strlen(name));
        assert_memory_equal(buf, name, len);
    }
    /* every lease was released, the victims' too: the whole room is free again */
    weft_request_t *after = NULL;
    weft_request_new(&after, "after");
    for (uint32_t i = 0; i < MANY_CAP_SLOTS + MANY_CAP_PREFETCH; i++) {
        snprintf(name, sizeof name, "a%u", i);
        it_job(after, name, "ok");
    }
    uint64_t aid = it_submit(f, after);
    for (uint32_t i = 0; i < MANY_CAP_SLOTS + MANY_CAP_PREFETCH; i++) {
        wf_msg_t j;
        assert_true(raw_recv(m->r, &j, WF_TEST_DEADLINE_MS));
        raw_heartbeat(m->r);
        assert_int_equal(j.kind, WF_MSG_JOB);
        assert_true(j.ref.req == aid);
        raw_done(m->r, j.ref, j.job);
        wf_msg_fini(&j);
    }
    assert_int_equal(it_wait(f, aid), WEFT_REQ_SUCCEEDED);
    raw_close(&m->r);
    free(m);
    weft_request_destroy(&after);
    weft_request_destroy(&req);
    weft_request_destroy(&victim);
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

/* ---- where attempts ran, and log reads relayed to the worker that ran them ---- */

/* A HELLO as raw_connect's, with another name: another worker. */
static raw_t *
raw_connect_named(it_fixture_t *f, const char *name, uint32_t pid)
{
    raw_t *r = calloc(1, sizeof *r);
    r->sock = zsock_new_dealer(weft_engine_board_endpoint(f->eng));
    assert_non_null(r->sock);
    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_HELLO);
    snprintf(m.name, sizeof m.name, "%s", name);
    snprintf(m.host, sizeof m.host, "host-%s", name);
    m.ntypes = 1;
    snprintf(m.types[0], sizeof m.types[0], "t");
    m.slots = 1;
    m.pid = pid;
    raw_send(r, &m);
    raw_expect(r, WF_MSG_WELCOME, NULL);
    return r;
}

static void
test_board_records_where_each_attempt_ran(void **state)
{
    it_fixture_t *f = *state;
    raw_t *r = raw_connect_named(f, "w1", 11);
    weft_request_t *req = NULL;
    weft_request_new(&req, "where");
    it_job(req, "a", "ok");
    weft_reqid_t id = it_submit(f, req);
    wf_attempt_ref_t a = raw_expect(r, WF_MSG_JOB, "a");
    weft_job_info_t info = it_info(f, id, "a");
    assert_string_equal(info.worker, "w1");
    assert_string_equal(info.host, "host-w1");
    /* the same worker on a new connection (same name, host and pid): still w1 */
    raw_t r2 = {zsock_new_dealer(weft_engine_board_endpoint(f->eng))};
    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_HELLO);
    snprintf(m.name, sizeof m.name, "w1");
    snprintf(m.host, sizeof m.host, "host-w1");
    m.ntypes = 1;
    snprintf(m.types[0], sizeof m.types[0], "t");
    m.slots = 1;
    m.pid = 11;
    m.running = &a;
    m.nrunning = 1;
    raw_send(&r2, &m);
    raw_expect(&r2, WF_MSG_WELCOME, NULL);
    info = it_info(f, id, "a");
    assert_string_equal(info.worker, "w1");
    /* it leaves without reporting; another worker runs attempt 2 and is named */
    wf_msg_init(&m, WF_MSG_BYE);
    raw_send(&r2, &m);
    raw_t *other = raw_connect_named(f, "w2", 22);
    wf_attempt_ref_t a2 = raw_expect(other, WF_MSG_JOB, "a");
    assert_int_equal(a2.attempt, 2);
    raw_done(other, a2, "a");
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    info = it_info(f, id, "a");
    assert_string_equal(info.worker, "w2");
    assert_string_equal(info.host, "host-w2");
    /* and the store keeps it: a reopened engine still says so */
    raw_close(&other);
    zsock_destroy(&r2.sock);
    raw_close(&r);
    it_reopen(f);
    info = it_info(f, id, "a");
    assert_string_equal(info.worker, "w2");
    weft_request_destroy(&req);
}

/* A client of the engine's client endpoint, speaking the client protocol by hand. */
typedef struct cl {
    zsock_t *sock;
    uint64_t corr;
} cl_t;

static uint64_t
cl_send(cl_t *c, wf_cmsg_t *m)
{
    m->corr = ++c->corr;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(wf_cmsg_encode(m, &buf, &len), WEFT_OK);
    zframe_t *fr = zframe_new(buf, len);
    free(buf);
    assert_int_equal(zframe_send(&fr, c->sock, 0), 0);
    return m->corr;
}

/* The worker whose liveness cl_recv keeps up while it waits (raw consumers heartbeat only
 * when told to, and the board loses one silent for 300 ms). */
static raw_t *cl_alive;

/* The next reply (any corr); its bytes are copied out of the frame. */
static void
cl_recv(cl_t *c, wf_cmsg_t *out)
{
    zframe_t *fr = NULL;
    zsock_set_rcvtimeo(c->sock, 50);
    for (int64_t end = wf_test_now_ms() + WF_TEST_DEADLINE_MS; !fr && wf_test_now_ms() < end;) {
        fr = zframe_recv(c->sock);
        if (!fr && cl_alive)
            raw_heartbeat(cl_alive);
    }
    assert_non_null(fr);
    assert_int_equal(wf_cmsg_decode(zframe_data(fr), zframe_size(fr), out, NULL, 0), WEFT_OK);
    if (out->kind == WF_CMSG_LOGS_R)
        assert_int_equal(wf_cmsg_keep_data(out), WEFT_OK);
    zframe_destroy(&fr);
}

static uint64_t
cl_logs(cl_t *c, uint64_t req, uint32_t index, uint32_t attempt, const char *stream,
        uint64_t offset, uint32_t max)
{
    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_LOGS);
    m.req = req;
    m.index = index;
    m.attempt = attempt;
    snprintf(m.stream, sizeof m.stream, "%s", stream);
    m.log_offset = offset;
    m.max = max;
    return cl_send(c, &m);
}

/* The next reply must be an ERROR with code and a message holding part. */
static void
cl_expect_error(cl_t *c, uint64_t corr, int code, const char *part)
{
    wf_cmsg_t r;
    cl_recv(c, &r);
    if (r.kind != WF_CMSG_ERROR || (int)r.code != code || (corr && r.corr != corr) ||
        (part && !strstr(r.message, part)))
        fail_msg("expected ERROR %s \"...%s...\", got %s %s \"%s\"", weft_strerror(code),
                 part ? part : "", wf_cmsg_kind_name(r.kind), weft_strerror((int)r.code),
                 r.message);
    wf_cmsg_fini(&r);
}

/* The worker got a LOGREQ; check it, and answer it with code, size and data. */
static void
raw_answer_logreq(raw_t *r, const char *job, uint32_t attempt, const char *stream,
                  uint32_t code, uint64_t size, const char *data)
{
    wf_msg_t q;
    assert_true(raw_recv(r, &q, WF_TEST_DEADLINE_MS));
    assert_int_equal(q.kind, WF_MSG_LOGREQ);
    assert_string_equal(q.job, job);
    assert_int_equal(q.ref.attempt, attempt);
    assert_string_equal(q.stream, stream);
    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_LOGDATA);
    m.corr = q.corr;
    m.code = code;
    m.size = size;
    m.data = (const uint8_t *)data;
    m.data_len = data ? (uint32_t)strlen(data) : 0;
    wf_msg_fini(&q);
    raw_send(r, &m);
}

static void
test_board_relays_log_reads_to_the_worker(void **state)
{
    it_fixture_t *f = *state;
    char *client_ep = wf_test_endpoint("ipc");
    weft_options_set_str(f->opts, WEFT_OPT_CLIENT_BIND, client_ep);
    it_reopen(f);
    cl_t c = {zsock_new_dealer(client_ep), 0};
    assert_non_null(c.sock);

    raw_t *r = raw_connect_named(f, "w1", 11);
    cl_alive = r;
    weft_request_t *req = NULL;
    weft_request_new(&req, "logs");
    it_job(req, "a", "ok");
    it_job(req, "b", "ok");
    it_need(req, "b", "a");
    weft_reqid_t id = it_submit(f, req);
    wf_attempt_ref_t a = raw_expect(r, WF_MSG_JOB, "a");
    raw_done(r, a, "a");
    raw_expect(r, WF_MSG_ACK, NULL);
    wf_attempt_ref_t b = raw_expect(r, WF_MSG_JOB, "b"); /* b runs (and stays running) */

    /* a chunk: the worker's bytes, the size it says, the offset asked */
    uint64_t corr = cl_logs(&c, id, 0, 0, "err", 3, 100);
    raw_answer_logreq(r, "a", 1, "err", WEFT_OK, 9, "lo wor");
    wf_cmsg_t rep;
    cl_recv(&c, &rep);
    assert_int_equal(rep.kind, WF_CMSG_LOGS_R);
    assert_true(rep.corr == corr && rep.size == 9 && rep.log_offset == 3);
    assert_int_equal(rep.data_len, 6);
    assert_memory_equal(rep.data, "lo wor", 6);
    wf_cmsg_fini(&rep);
    /* no such log: nothing written, size 0 */
    corr = cl_logs(&c, id, 1, 1, "out", 0, 100);
    raw_answer_logreq(r, "b", 1, "out", WEFT_ENOTFOUND, 0, NULL);
    cl_recv(&c, &rep);
    assert_int_equal(rep.kind, WF_CMSG_LOGS_R);
    assert_true(rep.corr == corr && rep.size == 0 && rep.data_len == 0);
    wf_cmsg_fini(&rep);
    /* a read that failed there: its code */
    corr = cl_logs(&c, id, 0, 1, "out", 0, 100);
    raw_answer_logreq(r, "a", 1, "out", WEFT_ESYS, 0, NULL);
    cl_expect_error(&c, corr, WEFT_ESYS, "could not read the log");
    /* more bytes than asked: refused */
    corr = cl_logs(&c, id, 0, 1, "out", 0, 2);
    raw_answer_logreq(r, "a", 1, "out", WEFT_OK, 9, "hello");
    cl_expect_error(&c, corr, WEFT_EPROTO, "at most 2");
    /* an answer nobody asked for changes nothing */
    wf_msg_t stray;
    wf_msg_init(&stray, WF_MSG_LOGDATA);
    stray.corr = 999999;
    raw_send(r, &stray);
    /* what the server can answer itself */
    corr = cl_logs(&c, id, 7, 0, "out", 0, 100);
    cl_expect_error(&c, corr, WEFT_ENOTFOUND, "no job #7");
    corr = cl_logs(&c, id, 0, 2, "out", 0, 100);
    cl_expect_error(&c, corr, WEFT_ENOTFOUND, "has had 1 attempt, not 2");

    /* WHY asking where: the worker and its host */
    wf_cmsg_t why;
    wf_cmsg_init(&why, WF_CMSG_WHY);
    why.req = id;
    snprintf(why.job, sizeof why.job, "a");
    why.where = 1;
    corr = cl_send(&c, &why);
    cl_recv(&c, &rep);
    assert_int_equal(rep.kind, WF_CMSG_WHY_R);
    assert_int_equal(rep.where, 1);
    assert_string_equal(rep.jobinfo.worker, "w1");
    assert_string_equal(rep.jobinfo.host, "host-w1");
    wf_cmsg_fini(&rep);

    /* bounds: four reads in flight per connection, the fifth is refused at once; the four
     * the worker never answers time out */
    uint64_t pending[4];
    for (int i = 0; i < 4; i++)
        pending[i] = cl_logs(&c, id, 0, 1, "out", (uint64_t)i, 100);
    corr = cl_logs(&c, id, 0, 1, "out", 9, 100);
    cl_expect_error(&c, corr, WEFT_ELIMIT, "in flight");
    for (int i = 0; i < 4; i++) {
        wf_cmsg_t e;
        cl_recv(&c, &e);
        assert_int_equal(e.kind, WF_CMSG_ERROR);
        assert_int_equal(e.code, WEFT_ETIMEDOUT);
        assert_non_null(strstr(e.message, "did not answer"));
        bool ours = false;
        for (int k = 0; k < 4; k++)
            ours = ours || e.corr == pending[k];
        assert_true(ours);
        wf_cmsg_fini(&e);
    }
    wf_msg_t q;
    for (int i = 0; i < 4; i++) { /* the LOGREQs it ignored */
        assert_true(raw_recv(r, &q, WF_TEST_DEADLINE_MS));
        assert_int_equal(q.kind, WF_MSG_LOGREQ);
        wf_msg_fini(&q);
    }

    /* a worker that leaves while a read waits on it: told at once */
    corr = cl_logs(&c, id, 1, 0, "out", 0, 100);
    assert_true(raw_recv(r, &q, WF_TEST_DEADLINE_MS));
    assert_int_equal(q.kind, WF_MSG_LOGREQ);
    wf_msg_fini(&q);
    wf_msg_t bye;
    wf_msg_init(&bye, WF_MSG_BYE);
    raw_send(r, &bye);
    cl_alive = NULL;
    cl_expect_error(&c, corr, WEFT_ENOTFOUND, "not connected any more");
    /* and once it is gone, where its files are */
    corr = cl_logs(&c, id, 0, 0, "out", 0, 100);
    cl_expect_error(&c, corr, WEFT_ENOTFOUND, "is not connected");
    (void)b;
    raw_close(&r);
    zsock_destroy(&c.sock);
    weft_request_destroy(&req);
    free(client_ep);
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
        T(test_board_hello_listing_an_attempt_twice_keeps_it),
        T(test_board_many_leases_finish_out_of_order),
        T(test_board_records_where_each_attempt_ran),
        T(test_board_relays_log_reads_to_the_worker),
    };
    return cmocka_run_group_tests_name("board", tests, NULL, NULL);
}
