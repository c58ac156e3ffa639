/*
 * consumer_test.c -- the consumer (weft_worker_t) against a FAKE BOARD: a real ZeroMQ ROUTER
 * in the test thread speaking the board protocol through wf_msg_encode/wf_msg_decode.
 *
 * The fake board answers every HEARTBEAT with one (unless told to go silent) and queues every
 * other message, so a test asks "the next DONE" and never misses one that arrived while it was
 * waiting for something else.  Nothing sleeps for timing: tests wait for messages or
 * conditions with generous deadlines; only "this must NOT happen" checks wait a bounded
 * number of heartbeats.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include "consumer.h"
#include "proto.h"
#include "shell.h"

#include <czmq.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T_HEARTBEAT_MS 100
#define T_LIVENESS 10 /* a 1 s silence window: the test thread is never that slow to answer */

/* ------------------------------------------------------------------------------------------ */
/* The fake board                                                                             */

typedef struct fb {
    zsock_t *router;
    char *endpoint;
    zframe_t *peer;    /* routing id of the last message's sender */
    zlist_t *queue;    /* zmsg_t [routing id][body] of non-HEARTBEAT messages, oldest first */
    zmsg_t *cur;       /* the message the last fb_expect decoded (its borrowed pointers need it) */
    bool echo;         /* answer HEARTBEAT with HEARTBEAT */
    int heartbeats;    /* HEARTBEATs received */
    int seen[32];      /* messages received per kind (all, queued or not) */
} fb_t;

static fb_t *
fb_new(const char *transport)
{
    fb_t *fb = calloc(1, sizeof *fb);
    assert_non_null(fb);
    fb->endpoint = wf_test_endpoint(transport);
    fb->router = zsock_new(ZMQ_ROUTER);
    assert_non_null(fb->router);
    zsock_set_linger(fb->router, 0);
    assert_int_equal(zsock_bind(fb->router, "%s", fb->endpoint), 0);
    fb->queue = zlist_new();
    fb->echo = true;
    return fb;
}

static void
fb_destroy(fb_t **fb_p)
{
    fb_t *fb = *fb_p;
    if (!fb)
        return;
    zmsg_t *q;
    while ((q = zlist_pop(fb->queue)))
        zmsg_destroy(&q);
    zlist_destroy(&fb->queue);
    zmsg_destroy(&fb->cur);
    zframe_destroy(&fb->peer);
    zsock_destroy(&fb->router);
    free(fb->endpoint);
    free(fb);
    *fb_p = NULL;
}

static void
fb_send(fb_t *fb, const wf_msg_t *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(wf_msg_encode(m, &buf, &len), WEFT_OK);
    assert_non_null(fb->peer);
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *){zframe_dup(fb->peer)});
    zmsg_addmem(msg, buf, len);
    assert_int_equal(zmsg_send(&msg, fb->router), 0);
    free(buf);
}

static void
fb_send_frames(fb_t *fb, const void *a, size_t alen, const void *b, size_t blen)
{
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *){zframe_dup(fb->peer)});
    zmsg_addmem(msg, a, alen);
    if (b)
        zmsg_addmem(msg, b, blen);
    assert_int_equal(zmsg_send(&msg, fb->router), 0);
}

/* Take at most one message, waiting up to timeout_ms.  True if one came. */
static bool
fb_poll(fb_t *fb, int timeout_ms)
{
    zmq_pollitem_t item = {zsock_resolve(fb->router), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return false;
    zmsg_t *msg = zmsg_recv(fb->router);
    assert_non_null(msg);
    assert_int_equal(zmsg_size(msg), 2); /* [routing id][one frame] */
    zframe_destroy(&fb->peer);
    fb->peer = zframe_dup(zmsg_first(msg));
    zframe_t *body = zmsg_last(msg);
    wf_msg_t m;
    char why[160];
    int rc = wf_msg_decode(zframe_data(body), zframe_size(body), &m, why, sizeof why);
    if (rc != WEFT_OK)
        fail_msg("the worker sent a malformed frame: %s", why);
    fb->seen[m.kind & 31]++;
    if (m.kind == WF_MSG_HEARTBEAT) {
        fb->heartbeats++;
        zmsg_destroy(&msg);
        if (fb->echo) {
            wf_msg_t hb;
            wf_msg_init(&hb, WF_MSG_HEARTBEAT);
            fb_send(fb, &hb);
        }
    } else {
        zlist_append(fb->queue, msg);
    }
    wf_msg_fini(&m);
    return true;
}

/* The oldest queued message of kind k1 or k2 (decoded into *out; wf_msg_fini it), waiting for
 * it. */
static bool
fb_expect2(fb_t *fb, wf_msg_kind k1, wf_msg_kind k2, wf_msg_t *out, int timeout_ms)
{
    int64_t end = wf_test_now_ms() + timeout_ms;
    for (;;) {
        for (zmsg_t *q = zlist_first(fb->queue); q; q = zlist_next(fb->queue)) {
            zframe_t *f = zmsg_last(q);
            assert_int_equal(wf_msg_decode(zframe_data(f), zframe_size(f), out, NULL, 0),
                             WEFT_OK);
            if (out->kind == k1 || out->kind == k2) {
                zlist_remove(fb->queue, q);
                zmsg_destroy(&fb->cur);
                fb->cur = q;
                return true;
            }
            wf_msg_fini(out);
        }
        int64_t left = end - wf_test_now_ms();
        if (left <= 0)
            return false;
        fb_poll(fb, (int)left);
    }
}

/* The oldest queued message of `kind`, waiting for it. */
static bool
fb_expect(fb_t *fb, wf_msg_kind kind, wf_msg_t *out, int timeout_ms)
{
    return fb_expect2(fb, kind, kind, out, timeout_ms);
}

/* Service the board (echo heartbeats, queue messages) until cond(arg) holds. */
static bool
fb_wait(fb_t *fb, bool (*cond)(void *), void *arg, int timeout_ms)
{
    int64_t end = wf_test_now_ms() + timeout_ms;
    while (!cond(arg)) {
        if (wf_test_now_ms() >= end)
            return cond(arg);
        fb_poll(fb, 5);
    }
    return true;
}

/* Service the board until n more HEARTBEATs arrived. */
static bool
fb_heartbeats(fb_t *fb, int n, int timeout_ms)
{
    int64_t end = wf_test_now_ms() + timeout_ms;
    int target = fb->heartbeats + n;
    while (fb->heartbeats < target) {
        int64_t left = end - wf_test_now_ms();
        if (left <= 0)
            return false;
        fb_poll(fb, (int)left);
    }
    return true;
}

static void
fb_welcome(fb_t *fb, uint32_t heartbeat_ms, uint32_t liveness)
{
    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_WELCOME);
    m.heartbeat_ms = heartbeat_ms;
    m.liveness = liveness;
    fb_send(fb, &m);
}

static wf_attempt_ref_t
ref_of(uint64_t req, uint32_t idx, uint32_t attempt)
{
    wf_attempt_ref_t r = {req, idx, attempt};
    return r;
}

static void
fb_job_timeout(fb_t *fb, wf_attempt_ref_t ref, const char *id, const char *type,
               const char *payload, uint32_t timeout_ms)
{
    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_JOB);
    m.ref = ref;
    snprintf(m.job, sizeof m.job, "%s", id);
    snprintf(m.type, sizeof m.type, "%s", type);
    m.payload = (const uint8_t *)payload;
    m.payload_len = (uint32_t)strlen(payload);
    m.timeout_ms = timeout_ms;
    fb_send(fb, &m);
}

static void
fb_job(fb_t *fb, wf_attempt_ref_t ref, const char *id, const char *type, const char *payload)
{
    fb_job_timeout(fb, ref, id, type, payload, 0);
}

static void
fb_ref_msg(fb_t *fb, wf_msg_kind kind, wf_attempt_ref_t ref)
{
    wf_msg_t m;
    wf_msg_init(&m, kind);
    m.ref = ref;
    fb_send(fb, &m);
}

static void
assert_ref(wf_attempt_ref_t got, wf_attempt_ref_t want)
{
    assert_int_equal(got.req, want.req);
    assert_int_equal(got.idx, want.idx);
    assert_int_equal(got.attempt, want.attempt);
}

/* The oldest queued DONE, waiting for it: ref's, with the "block" handler's result. */
static void
fb_expect_released(fb_t *fb, wf_attempt_ref_t ref)
{
    wf_msg_t m;
    assert_true(fb_expect(fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, ref);
    assert_memory_equal(m.result, "released", 8);
    wf_msg_fini(&m);
}

/* ------------------------------------------------------------------------------------------ */
/* Handlers and what they saw                                                                 */

typedef struct seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int started;     /* handlers that began */
    atomic_bool release;    /* lets h_block return */
    atomic_bool saw_cancel; /* h_wait_cancel saw weft_job_cancelled */
    atomic_int toobig_rc;
    int barrier;            /* under mu */
    char id[WEFT_MAX_ID + 1], type[WEFT_MAX_ID + 1], payload[256];
    uint64_t req;
    uint32_t attempt;
} seen_t;

static seen_t g_seen;

static void
seen_reset(void)
{
    pthread_mutex_destroy(&g_seen.mu);
    pthread_cond_destroy(&g_seen.cv);
    memset(&g_seen, 0, sizeof g_seen);
    pthread_mutex_init(&g_seen.mu, NULL);
    pthread_cond_init(&g_seen.cv, NULL);
}

static int
h_echo(weft_job_t *job, void *arg)
{
    seen_t *s = arg;
    size_t len = 0;
    const char *p = weft_job_payload(job, &len);
    pthread_mutex_lock(&s->mu);
    snprintf(s->id, sizeof s->id, "%s", weft_job_id(job));
    snprintf(s->type, sizeof s->type, "%s", weft_job_type(job));
    snprintf(s->payload, sizeof s->payload, "%.*s", (int)len, p);
    s->req = weft_job_request(job);
    s->attempt = weft_job_attempt(job);
    pthread_mutex_unlock(&s->mu);
    static uint8_t big[WEFT_MAX_RESULT + 1];
    atomic_store(&s->toobig_rc, weft_job_set_result(job, big, sizeof big));
    char out[300];
    int n = snprintf(out, sizeof out, "got:%.*s", (int)len, p);
    atomic_fetch_add(&s->started, 1);
    return weft_job_set_result(job, out, (size_t)n);
}

static int
h_fail(weft_job_t *job, void *arg)
{
    (void)arg;
    weft_job_set_error(job, "boom: the disk is full");
    return 3;
}

static int
h_fail_plain(weft_job_t *job, void *arg)
{
    (void)job;
    (void)arg;
    return 7;
}

static int
h_progress(weft_job_t *job, void *arg)
{
    (void)arg;
    if (weft_job_progress(job, 101, "no") != WEFT_EINVAL)
        return 1;
    return weft_job_progress(job, 50, "half way");
}

static bool
c_released_only(void *arg)
{
    (void)arg;
    return atomic_load(&g_seen.release);
}

/* 1000 progress calls as fast as possible, then wait to be released. */
static int
h_progress_flood(weft_job_t *job, void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "step %d", i);
        if (weft_job_progress(job, i / 10, msg) != WEFT_OK)
            return 1;
    }
    atomic_fetch_add(&g_seen.started, 1);
    wf_test_wait(c_released_only, NULL, WF_TEST_DEADLINE_MS);
    return 0;
}

static bool
c_cancelled(void *job)
{
    return weft_job_cancelled(job);
}

static int
h_wait_cancel(weft_job_t *job, void *arg)
{
    seen_t *s = arg;
    atomic_fetch_add(&s->started, 1);
    wf_test_wait(c_cancelled, job, WF_TEST_DEADLINE_MS);
    atomic_store(&s->saw_cancel, weft_job_cancelled(job));
    return 5;
}

typedef struct block_arg {
    seen_t *s;
    weft_job_t *job;
} block_arg_t;

static bool
c_released(void *arg)
{
    block_arg_t *b = arg;
    return atomic_load(&b->s->release) || weft_job_cancelled(b->job);
}

static int
h_block(weft_job_t *job, void *arg)
{
    block_arg_t b = {arg, job};
    atomic_fetch_add(&b.s->started, 1);
    wf_test_wait(c_released, &b, WF_TEST_DEADLINE_MS);
    weft_job_set_result(job, "released", 8);
    return weft_job_cancelled(job) ? 9 : 0;
}

static int
h_barrier(weft_job_t *job, void *arg)
{
    (void)job;
    seen_t *s = arg;
    struct timespec end;
    clock_gettime(CLOCK_REALTIME, &end);
    end.tv_sec += WF_TEST_DEADLINE_MS / 1000;
    pthread_mutex_lock(&s->mu);
    s->barrier++;
    pthread_cond_broadcast(&s->cv);
    int rc = 0;
    while (s->barrier < 3 && rc == 0)
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &end);
    bool all = s->barrier >= 3;
    pthread_mutex_unlock(&s->mu);
    return all ? 0 : 1;
}

/* At least *(const int *)arg handlers have started. */
static bool
c_started_n(void *arg)
{
    return atomic_load(&g_seen.started) >= *(const int *)arg;
}

static bool
c_started1(void *arg)
{
    (void)arg;
    return c_started_n(&(int){1});
}

/* ------------------------------------------------------------------------------------------ */
/* Fixture: a fake board and a started worker that has said HELLO and been WELCOMEd          */

typedef struct fix {
    fb_t *fb;
    weft_worker_t *w;
    wf_msg_t hello;
} fix_t;

/* weft_worker_set_prefetch's value for the next fix_open (reset by it). */
static unsigned g_prefetch;
/* weft_worker_set_log_reader's for the next fix_open (reset by it); NULL: none. */
static weft_log_reader_fn *g_log_reader;
static void *g_log_reader_arg;

/* give_up_ms: weft_worker_set_give_up's value (0 = the default, never). */
static void
fix_open_give_up(fix_t *f, const char *transport, unsigned slots, int give_up_ms)
{
    seen_reset();
    memset(f, 0, sizeof *f);
    f->fb = fb_new(transport);
    assert_int_equal(weft_worker_new(&f->w, f->fb->endpoint, "test-worker"), WEFT_OK);
    assert_int_equal(weft_worker_register(f->w, "echo", h_echo, &g_seen), WEFT_OK);
    assert_int_equal(weft_worker_register(f->w, "fail", h_fail, &g_seen), WEFT_OK);
    assert_int_equal(weft_worker_register(f->w, "fail.plain", h_fail_plain, &g_seen), WEFT_OK);
    assert_int_equal(weft_worker_register(f->w, "progress", h_progress, &g_seen), WEFT_OK);
    assert_int_equal(weft_worker_register(f->w, "wait-cancel", h_wait_cancel, &g_seen), WEFT_OK);
    assert_int_equal(weft_worker_register(f->w, "block", h_block, &g_seen), WEFT_OK);
    assert_int_equal(weft_worker_register(f->w, "barrier", h_barrier, &g_seen), WEFT_OK);
    assert_int_equal(weft_worker_register(f->w, "flood", h_progress_flood, &g_seen), WEFT_OK);
    assert_int_equal(weft_worker_set_heartbeat(f->w, T_HEARTBEAT_MS), WEFT_OK);
    if (give_up_ms)
        assert_int_equal(weft_worker_set_give_up(f->w, give_up_ms), WEFT_OK);
    if (g_prefetch)
        assert_int_equal(weft_worker_set_prefetch(f->w, g_prefetch), WEFT_OK);
    g_prefetch = 0;
    if (g_log_reader)
        assert_int_equal(weft_worker_set_log_reader(f->w, g_log_reader, g_log_reader_arg),
                         WEFT_OK);
    g_log_reader = NULL;
    assert_int_equal(weft_worker_start(f->w, slots), WEFT_OK);
    assert_true(fb_expect(f->fb, WF_MSG_HELLO, &f->hello, WF_TEST_DEADLINE_MS));
    fb_welcome(f->fb, T_HEARTBEAT_MS, T_LIVENESS);
}

static void
fix_open(fix_t *f, const char *transport, unsigned slots)
{
    fix_open_give_up(f, transport, slots, 0);
}

static void
fix_close(fix_t *f)
{
    wf_msg_fini(&f->hello);
    weft_worker_destroy(&f->w);
    assert_null(f->w);
    fb_destroy(&f->fb);
}

/* ------------------------------------------------------------------------------------------ */
/* Tests                                                                                      */

static void
test_consumer_api_validates_arguments(void **state)
{
    (void)state;
    weft_worker_t *w = NULL;
    assert_int_equal(weft_worker_new(&w, NULL, "x"), WEFT_EINVAL);
    assert_int_equal(weft_worker_new(&w, "http://x", "x"), WEFT_EINVAL);
    assert_int_equal(weft_worker_new(&w, "tcp://", "x"), WEFT_EINVAL);
    assert_int_equal(weft_worker_new(&w, "inproc://x", "bad name"), WEFT_EINVAL);
    assert_int_equal(weft_worker_new(&w, "inproc://x", ""), WEFT_EINVAL);
    assert_null(w);
    assert_int_equal(weft_worker_new(&w, "inproc://x", "ok-name"), WEFT_OK);
    assert_string_equal(wf_worker_name(w), "ok-name");

    assert_int_equal(weft_worker_register(w, "a", h_echo, NULL), WEFT_OK);
    assert_int_equal(weft_worker_register(w, "a", h_echo, NULL), WEFT_EEXIST);
    assert_int_equal(weft_worker_register(w, "b/c", h_echo, NULL), WEFT_EINVAL);
    assert_int_equal(weft_worker_register(w, "", h_echo, NULL), WEFT_EINVAL);
    assert_int_equal(weft_worker_register(w, "b", NULL, NULL), WEFT_EINVAL);
    for (unsigned i = 1; i < WF_MAX_TYPES; i++) {
        char t[32];
        snprintf(t, sizeof t, "t%u", i);
        assert_int_equal(weft_worker_register(w, t, h_echo, NULL), WEFT_OK);
    }
    assert_int_equal(weft_worker_register(w, "one-too-many", h_echo, NULL), WEFT_ELIMIT);
    assert_int_equal(weft_worker_set_heartbeat(w, 0), WEFT_EINVAL);
    assert_int_equal(weft_worker_set_heartbeat(w, 250), WEFT_OK);
    assert_int_equal(weft_worker_set_give_up(NULL, 10), WEFT_EINVAL);
    assert_int_equal(weft_worker_set_give_up(w, -1), WEFT_EINVAL);
    assert_int_equal(weft_worker_set_give_up(w, 0), WEFT_OK);
    assert_int_equal(weft_worker_set_give_up(w, 600000), WEFT_OK);
    assert_int_equal(weft_worker_start(w, 0), WEFT_EINVAL);
    assert_int_equal(weft_worker_start(w, WF_MAX_SLOTS + 1), WEFT_EINVAL);
    assert_int_equal(weft_worker_start(w, 1), WEFT_OK);
    assert_int_equal(weft_worker_start(w, 1), WEFT_ESTATE);
    assert_int_equal(weft_worker_register(w, "late", h_echo, NULL), WEFT_ESTATE);
    assert_int_equal(weft_worker_set_heartbeat(w, 100), WEFT_ESTATE);
    assert_int_equal(weft_worker_set_give_up(w, 100), WEFT_ESTATE);
    /* Nothing listens at inproc://x: destroy must not wait for a board. */
    weft_worker_destroy(&w);
    assert_null(w);
    weft_worker_destroy(&w);
    weft_worker_destroy(NULL);

    /* A worker with no types cannot start; one never started destroys cleanly. */
    assert_int_equal(weft_worker_new(&w, "inproc://y", NULL), WEFT_OK);
    assert_int_equal(weft_worker_start(w, 1), WEFT_EINVAL);
    weft_worker_destroy(&w);
}

static int
s_curve_noop(weft_job_t *job, void *arg)
{
    (void)job;
    (void)arg;
    return 0;
}

/* CURVE keys: the server key as z85 or a .pub file, a private key file that others cannot
 * read, before start only. */
static void
test_consumer_set_curve_checks_keys_and_state(void **state)
{
    (void)state;
    char *dir = wf_test_tmpdir("curve");
    char secret[512], pub[512];
    snprintf(secret, sizeof secret, "%s/me", dir);
    snprintf(pub, sizeof pub, "%s/me.pub", dir);
    zcert_t *cert = zcert_new();
    assert_non_null(cert);
    /* as `weft keygen` writes them: NAME holds the key pair, NAME.pub the public half */
    assert_int_equal(zcert_save_secret(cert, secret), 0);
    assert_int_equal(zcert_save_public(cert, pub), 0);
    zcert_t *server = zcert_new();
    const char *server_z85 = zcert_public_txt(server);

    weft_worker_t *w = NULL;
    assert_int_equal(weft_worker_new(&w, "inproc://weft-curve-test", "curvy"), WEFT_OK);
    /* a secret key readable by others is refused */
    assert_int_equal(chmod(secret, 0644), 0);
    assert_int_equal(weft_worker_set_curve(w, server_z85, secret), WEFT_EINVAL);
    assert_int_equal(chmod(secret, 0600), 0);
    /* a public file is no private key; a missing file is not found */
    assert_int_not_equal(weft_worker_set_curve(w, server_z85, pub), WEFT_OK);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    assert_int_equal(weft_worker_set_curve(w, server_z85, missing), WEFT_ENOTFOUND);
    /* a malformed server key */
    assert_int_not_equal(weft_worker_set_curve(w, "not-a-key", secret), WEFT_OK);
    /* good: the server's key itself, or its .pub file (here, ours stands in for it) */
    assert_int_equal(weft_worker_set_curve(w, server_z85, secret), WEFT_OK);
    assert_int_equal(weft_worker_set_curve(w, pub, secret), WEFT_OK);
    assert_int_equal(weft_worker_set_curve(NULL, server_z85, secret), WEFT_EINVAL);
    /* keys are fixed once the worker runs */
    assert_int_equal(weft_worker_register(w, "t", s_curve_noop, NULL), WEFT_OK);
    assert_int_equal(weft_worker_start(w, 1), WEFT_OK);
    assert_int_equal(weft_worker_set_curve(w, server_z85, secret), WEFT_ESTATE);
    weft_worker_destroy(&w);
    assert_null(w);
    zcert_destroy(&server);
    zcert_destroy(&cert);
    wf_test_rmtree(dir);
    free(dir);
}

static void
test_consumer_default_name_is_host_and_pid(void **state)
{
    (void)state;
    weft_worker_t *w = NULL;
    assert_int_equal(weft_worker_new(&w, "tcp://127.0.0.1:1", NULL), WEFT_OK);
    const char *name = wf_worker_name(w);
    assert_true(wf_name_ok(name, strlen(name)));
    char suffix[32];
    snprintf(suffix, sizeof suffix, "-%u", (unsigned)getpid());
    size_t n = strlen(name), s = strlen(suffix);
    assert_true(n > s);
    assert_string_equal(name + n - s, suffix);
    weft_worker_destroy(&w);
}

static void
s_hello_carries_types_and_slots(const char *transport)
{
    fix_t f;
    fix_open(&f, transport, 2);
    assert_string_equal(f.hello.name, "test-worker");
    assert_int_equal(f.hello.slots, 2);
    assert_int_equal(f.hello.pid, (uint32_t)getpid());
    assert_true(wf_name_ok(f.hello.host, strlen(f.hello.host)));
    assert_int_equal(f.hello.nrunning, 0);
    assert_int_equal(f.hello.ntypes, 8);
    assert_string_equal(f.hello.types[0], "echo");
    assert_string_equal(f.hello.types[6], "barrier");
    /* After WELCOME the worker heartbeats at the board's interval. */
    assert_true(fb_heartbeats(f.fb, 2, WF_TEST_DEADLINE_MS));
    fix_close(&f);
}

static void
test_consumer_hello_carries_types_and_slots_inproc(void **state)
{
    (void)state;
    s_hello_carries_types_and_slots("inproc");
}

static void
test_consumer_hello_carries_types_and_slots_ipc(void **state)
{
    (void)state;
    s_hello_carries_types_and_slots("ipc");
}

static void
s_job_runs_handler_and_reports_done(const char *transport)
{
    fix_t f;
    fix_open(&f, transport, 1);
    wf_attempt_ref_t ref = ref_of(42, 3, 2);
    fb_job(f.fb, ref, "build", "echo", "make all");
    wf_msg_t m;
    assert_true(fb_expect(f.fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, ref);
    assert_int_equal(m.result_len, strlen("got:make all"));
    assert_memory_equal(m.result, "got:make all", m.result_len);
    wf_msg_fini(&m);
    assert_string_equal(g_seen.id, "build");
    assert_string_equal(g_seen.type, "echo");
    assert_string_equal(g_seen.payload, "make all");
    assert_int_equal(g_seen.req, 42);
    assert_int_equal(g_seen.attempt, 2);
    assert_int_equal(atomic_load(&g_seen.toobig_rc), WEFT_ETOOBIG);

    fb_ref_msg(f.fb, WF_MSG_ACK, ref);
    wf_worker_stats_t st;
    for (int64_t end = wf_test_now_ms() + WF_TEST_DEADLINE_MS; wf_test_now_ms() < end;) {
        wf_worker_stats(f.w, &st);
        if (st.acks == 1)
            break;
        fb_poll(f.fb, 5);
    }
    assert_int_equal(st.acks, 1);
    assert_int_equal(st.unacked, 0);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.jobs_started, 1);
    fix_close(&f);
}

static void
test_consumer_job_runs_handler_and_reports_done_inproc(void **state)
{
    (void)state;
    s_job_runs_handler_and_reports_done("inproc");
}

static void
test_consumer_job_runs_handler_and_reports_done_ipc(void **state)
{
    (void)state;
    s_job_runs_handler_and_reports_done("ipc");
}

static void
test_consumer_failing_handler_reports_failed(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "inproc", 2);
    wf_attempt_ref_t a = ref_of(7, 0, 1), b = ref_of(7, 1, 4);
    fb_job(f.fb, a, "a", "fail", "");
    wf_msg_t m;
    assert_true(fb_expect(f.fb, WF_MSG_FAILED, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, a);
    assert_int_equal(m.exit_code, 3);
    assert_string_equal(m.message, "boom: the disk is full");
    wf_msg_fini(&m);
    fb_job(f.fb, b, "b", "fail.plain", "");
    assert_true(fb_expect(f.fb, WF_MSG_FAILED, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, b);
    assert_int_equal(m.exit_code, 7);
    assert_string_equal(m.message, "handler returned 7");
    wf_msg_fini(&m);
    fix_close(&f);
}

static void
test_consumer_progress_arrives_as_progress(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "inproc", 1);
    wf_attempt_ref_t ref = ref_of(9, 2, 1);
    fb_job(f.fb, ref, "p", "progress", "");
    wf_msg_t m;
    assert_true(fb_expect(f.fb, WF_MSG_PROGRESS, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, ref);
    assert_int_equal(m.percent, 50);
    assert_string_equal(m.message, "half way");
    wf_msg_fini(&m);
    assert_true(fb_expect(f.fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, ref);
    assert_int_equal(m.result_len, 0);
    wf_msg_fini(&m);
    assert_int_equal(f.fb->seen[WF_MSG_PROGRESS], 1);
    fix_close(&f);
}

static void
test_consumer_cancel_sets_flag_and_reports_failed(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "inproc", 1);
    wf_attempt_ref_t ref = ref_of(11, 0, 3);
    fb_job(f.fb, ref, "c", "wait-cancel", "");
    assert_true(fb_wait(f.fb, c_started1, NULL, WF_TEST_DEADLINE_MS));
    /* A CANCEL for another attempt of the same job must not stop this one. */
    fb_ref_msg(f.fb, WF_MSG_CANCEL, ref_of(11, 0, 2));
    fb_ref_msg(f.fb, WF_MSG_CANCEL, ref);
    wf_msg_t m;
    assert_true(fb_expect(f.fb, WF_MSG_FAILED, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, ref);
    assert_int_equal(m.exit_code, 5);
    assert_string_equal(m.message, "cancelled");
    wf_msg_fini(&m);
    assert_true(atomic_load(&g_seen.saw_cancel));
    wf_worker_stats_t st;
    wf_worker_stats(f.w, &st);
    assert_int_equal(st.cancels, 1);
    fix_close(&f);
}

/* With prefetch, jobs beyond the slots wait in the worker and start in the order they came; a
 * queued job that is cancelled never starts; past slots + prefetch a JOB is refused. */
static void
test_consumer_prefetch_queues_in_order_and_cancels_queued(void **state)
{
    (void)state;
    fix_t f;
    g_prefetch = 2;
    fix_open(&f, "inproc", 1);
    assert_int_equal(f.hello.slots, 1);
    assert_int_equal(f.hello.prefetch, 2);
    wf_attempt_ref_t a = ref_of(5, 0, 1), b = ref_of(5, 1, 1), c = ref_of(5, 2, 1),
                     d = ref_of(5, 3, 1);
    fb_job(f.fb, a, "a", "block", "");
    assert_true(fb_wait(f.fb, c_started1, NULL, WF_TEST_DEADLINE_MS));
    fb_job(f.fb, b, "b", "echo", "second");
    fb_job(f.fb, c, "c", "wait-cancel", "");
    fb_job(f.fb, d, "d", "echo", "one too many");
    wf_msg_t m;
    assert_true(fb_expect(f.fb, WF_MSG_FAILED, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, d);
    assert_non_null(strstr(m.message, "no free slot"));
    wf_msg_fini(&m);
    /* c waits behind a and b: cancelled there, it is reported without its handler running. */
    fb_ref_msg(f.fb, WF_MSG_CANCEL, c);
    atomic_store(&g_seen.release, true);
    assert_true(fb_expect(f.fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, a);
    wf_msg_fini(&m);
    assert_true(fb_expect(f.fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, b);
    assert_memory_equal(m.result, "got:second", m.result_len);
    wf_msg_fini(&m);
    assert_true(fb_expect(f.fb, WF_MSG_FAILED, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, c);
    assert_string_equal(m.message, "cancelled");
    wf_msg_fini(&m);
    assert_false(atomic_load(&g_seen.saw_cancel)); /* h_wait_cancel never ran */
    assert_int_equal(atomic_load(&g_seen.started), 2); /* a (block) and b (echo) */
    fix_close(&f);
}

/* A worker's slots and prefetch together stay within WF_MAX_SLOTS. */
static void
test_consumer_prefetch_is_bounded(void **state)
{
    (void)state;
    weft_worker_t *w = NULL;
    assert_int_equal(weft_worker_new(&w, "inproc://nowhere", NULL), WEFT_OK);
    assert_int_equal(weft_worker_register(w, "echo", h_echo, &g_seen), WEFT_OK);
    assert_int_equal(weft_worker_set_prefetch(w, WF_MAX_SLOTS), WEFT_EINVAL);
    assert_int_equal(weft_worker_set_prefetch(w, WF_MAX_SLOTS - 1), WEFT_OK);
    assert_int_equal(weft_worker_start(w, 2), WEFT_EINVAL);
    assert_int_equal(weft_worker_set_prefetch(w, 0), WEFT_OK);
    weft_worker_destroy(&w);
}

static bool
c_acked1(void *w)
{
    wf_worker_stats_t st;
    wf_worker_stats(w, &st);
    return st.acks >= 1;
}

static void
test_consumer_done_is_resent_until_acked(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "inproc", 1);
    wf_attempt_ref_t ref = ref_of(5, 1, 1);
    fb_job(f.fb, ref, "r", "echo", "x");
    wf_msg_t m;
    assert_true(fb_expect(f.fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
    wf_msg_fini(&m);
    int hb0 = f.fb->heartbeats;
    /* No ACK: the same DONE comes again after `liveness` heartbeats. */
    assert_true(fb_expect(f.fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, ref);
    assert_memory_equal(m.result, "got:x", 5);
    wf_msg_fini(&m);
    assert_true(f.fb->heartbeats - hb0 >= T_LIVENESS - 1);
    assert_int_equal(f.fb->seen[WF_MSG_HELLO], 1); /* re-sent on the same connection */
    /* An ACK for an attempt the worker never reported is ignored. */
    fb_ref_msg(f.fb, WF_MSG_ACK, ref_of(5, 1, 2));
    fb_ref_msg(f.fb, WF_MSG_ACK, ref);
    assert_true(fb_wait(f.fb, c_acked1, f.w, WF_TEST_DEADLINE_MS));
    /* A DONE sent before the ACK was read would arrive before this heartbeat. */
    assert_true(fb_heartbeats(f.fb, 1, WF_TEST_DEADLINE_MS));
    int done_seen = f.fb->seen[WF_MSG_DONE];
    /* Twice the re-send period without a DONE: the re-sends stopped. */
    assert_true(fb_heartbeats(f.fb, 2 * T_LIVENESS + 1, WF_TEST_DEADLINE_MS));
    assert_int_equal(f.fb->seen[WF_MSG_DONE], done_seen);
    wf_worker_stats_t st;
    wf_worker_stats(f.w, &st);
    assert_int_equal(st.acks, 1);
    assert_int_equal(st.acks_unknown, 1);
    assert_int_equal(st.unacked, 0);
    assert_true(st.resends >= 1);
    fix_close(&f);
}

static bool
c_reported1(void *w)
{
    wf_worker_stats_t st;
    wf_worker_stats(w, &st);
    return st.reports >= 1;
}

static void
test_consumer_silent_board_causes_reconnect_listing_running_attempt(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "inproc", 2);
    wf_attempt_ref_t ref = ref_of(77, 4, 2);
    fb_job(f.fb, ref, "long", "block", "");
    assert_true(fb_wait(f.fb, c_started1, NULL, WF_TEST_DEADLINE_MS));
    zframe_t *old_peer = zframe_dup(f.fb->peer);
    f.fb->echo = false; /* the board goes silent */
    wf_msg_t hello;
    assert_true(fb_expect(f.fb, WF_MSG_HELLO, &hello, WF_TEST_DEADLINE_MS));
    assert_false(zframe_eq(old_peer, f.fb->peer)); /* a new DEALER */
    zframe_destroy(&old_peer);
    assert_int_equal(hello.nrunning, 1);
    assert_ref(hello.running[0], ref);
    wf_msg_fini(&hello);
    /* Finished before the board WELCOMEs the new connection: held back until it does. */
    atomic_store(&g_seen.release, true);
    assert_true(fb_wait(f.fb, c_reported1, f.w, WF_TEST_DEADLINE_MS));
    fb_poll(f.fb, 50);
    assert_int_equal(f.fb->seen[WF_MSG_DONE], 0);
    f.fb->echo = true;
    fb_welcome(f.fb, T_HEARTBEAT_MS, T_LIVENESS);
    fb_expect_released(f.fb, ref);
    wf_worker_stats_t st;
    wf_worker_stats(f.w, &st);
    assert_int_equal(st.connects, 2);
    assert_int_equal(st.welcomes, 2);
    fix_close(&f);
}

static void
test_consumer_unacked_report_is_resent_after_reconnect(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "inproc", 1);
    wf_attempt_ref_t ref = ref_of(8, 0, 1);
    fb_job(f.fb, ref, "j", "echo", "y");
    wf_msg_t m;
    assert_true(fb_expect(f.fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
    wf_msg_fini(&m);
    f.fb->echo = false;
    assert_true(fb_expect(f.fb, WF_MSG_HELLO, &m, WF_TEST_DEADLINE_MS));
    /* Finished but not ACKed: still held, so listed for re-adoption. */
    assert_int_equal(m.nrunning, 1);
    assert_ref(m.running[0], ref);
    wf_msg_fini(&m);
    zframe_t *new_peer = zframe_dup(f.fb->peer);
    f.fb->echo = true;
    fb_welcome(f.fb, T_HEARTBEAT_MS, T_LIVENESS);
    /* Skip DONEs re-sent on the old connection while it waited; one must come on the new. */
    bool on_new = false;
    while (!on_new) {
        assert_true(fb_expect(f.fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
        assert_ref(m.ref, ref);
        on_new = zframe_eq(zmsg_first(f.fb->cur), new_peer);
        wf_msg_fini(&m);
    }
    zframe_destroy(&new_peer);
    fix_close(&f);
}

static void
test_consumer_timeout_stops_attempt_and_reports_timed_out(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "inproc", 1);
    wf_attempt_ref_t ref = ref_of(12, 0, 1);
    fb_job_timeout(f.fb, ref, "slow", "wait-cancel", "", 150);
    wf_msg_t m;
    assert_true(fb_expect(f.fb, WF_MSG_FAILED, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, ref);
    assert_int_equal(m.exit_code, 5);
    assert_string_equal(m.message, "timed out");
    wf_msg_fini(&m);
    assert_true(atomic_load(&g_seen.saw_cancel));
    fix_close(&f);
}

static void
test_consumer_progress_is_coalesced(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "inproc", 1);
    wf_attempt_ref_t ref = ref_of(13, 0, 1);
    fb_job(f.fb, ref, "chatty", "flood", "");
    /* The last of 1000 updates arrives (the latest wins), carried by a handful of messages. */
    int got = 0;
    for (bool last = false; !last; got++) {
        wf_msg_t m;
        assert_true(fb_expect(f.fb, WF_MSG_PROGRESS, &m, WF_TEST_DEADLINE_MS));
        assert_ref(m.ref, ref);
        last = strcmp(m.message, "step 999") == 0;
        if (last)
            assert_int_equal(m.percent, 99);
        wf_msg_fini(&m);
    }
    assert_true(got < 100);
    atomic_store(&g_seen.release, true);
    wf_msg_t m;
    assert_true(fb_expect(f.fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
    wf_msg_fini(&m);
    fix_close(&f);
}

static void
test_consumer_destroy_while_running_returns_promptly(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "inproc", 2);
    wf_attempt_ref_t ref = ref_of(3, 0, 1);
    fb_job(f.fb, ref, "forever", "wait-cancel", "");
    assert_true(fb_wait(f.fb, c_started1, NULL, WF_TEST_DEADLINE_MS));
    int64_t t0 = wf_test_now_ms();
    weft_worker_destroy(&f.w);
    assert_null(f.w);
    assert_true(wf_test_now_ms() - t0 < 5000);
    assert_true(atomic_load(&g_seen.saw_cancel));
    /* The board hears BYE, and no FAILED before it: an attempt stopped by the worker's own
     * shutdown is given back (like a lost one), not failed against the job's retries. */
    wf_msg_t m;
    assert_true(fb_expect(f.fb, WF_MSG_BYE, &m, WF_TEST_DEADLINE_MS));
    wf_msg_fini(&m);
    assert_int_equal(f.fb->seen[WF_MSG_FAILED], 0);
    (void)ref;
    fix_close(&f);
}

static void
test_consumer_destroy_with_board_gone_returns_promptly(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "ipc", 1);
    fb_job(f.fb, ref_of(4, 0, 1), "forever", "wait-cancel", "");
    assert_true(fb_wait(f.fb, c_started1, NULL, WF_TEST_DEADLINE_MS));
    fb_destroy(&f.fb);
    int64_t t0 = wf_test_now_ms();
    weft_worker_destroy(&f.w);
    assert_true(wf_test_now_ms() - t0 < 5000);
    fix_close(&f);
}

static void
test_consumer_slots_run_jobs_concurrently(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "inproc", 3);
    for (uint32_t i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "b%u", i);
        fb_job(f.fb, ref_of(21, i, 1), id, "barrier", "");
    }
    bool done[3] = {false, false, false};
    for (int i = 0; i < 3; i++) {
        wf_msg_t m;
        assert_true(fb_expect(f.fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
        assert_int_equal(m.ref.req, 21);
        assert_true(m.ref.idx < 3);
        done[m.ref.idx] = true;
        wf_msg_fini(&m);
    }
    assert_true(done[0] && done[1] && done[2]);
    assert_int_equal(f.fb->seen[WF_MSG_FAILED], 0);
    fix_close(&f);
}

static void
test_consumer_unknown_type_and_excess_jobs_fail(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "inproc", 1);
    wf_msg_t m;
    fb_job(f.fb, ref_of(1, 0, 1), "x", "no-such-type", "");
    assert_true(fb_expect(f.fb, WF_MSG_FAILED, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, ref_of(1, 0, 1));
    assert_int_equal(m.exit_code, -1);
    assert_non_null(strstr(m.message, "no handler for type no-such-type"));
    wf_msg_fini(&m);

    fb_job(f.fb, ref_of(1, 1, 1), "busy", "block", "");
    assert_true(fb_wait(f.fb, c_started1, NULL, WF_TEST_DEADLINE_MS));
    fb_job(f.fb, ref_of(1, 2, 1), "extra", "echo", "");
    assert_true(fb_expect(f.fb, WF_MSG_FAILED, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, ref_of(1, 2, 1));
    assert_int_equal(m.exit_code, -1);
    assert_non_null(strstr(m.message, "no free slot"));
    wf_msg_fini(&m);
    /* The same attempt again while it runs is not run twice. */
    fb_job(f.fb, ref_of(1, 1, 1), "busy", "block", "");
    atomic_store(&g_seen.release, true);
    assert_true(fb_expect(f.fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, ref_of(1, 1, 1));
    wf_msg_fini(&m);
    assert_int_equal(atomic_load(&g_seen.started), 1);
    wf_worker_stats_t st;
    wf_worker_stats(f.w, &st);
    assert_int_equal(st.jobs_rejected, 2);
    fix_close(&f);
}

/* The oldest queued DONE or FAILED (decoded into *out; wf_msg_fini it), waiting for it. */
static bool
fb_expect_report(fb_t *fb, wf_msg_t *out, int timeout_ms)
{
    return fb_expect2(fb, WF_MSG_DONE, WF_MSG_FAILED, out, timeout_ms);
}

/* A JOB for an unknown type, answered FAILED at once: when it comes back, the loop has read
 * every message the board sent before it. */
static void
fb_marker(fb_t *fb, wf_attempt_ref_t ref)
{
    fb_job(fb, ref, "marker", "no-such-type", "");
    wf_msg_t m;
    assert_true(fb_expect(fb, WF_MSG_FAILED, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, ref);
    assert_non_null(strstr(m.message, "no handler"));
    wf_msg_fini(&m);
}

/* The worker re-sends unacknowledged reports only when a JOB asks for one again: no
 * heartbeat for a minute, so no re-send on the timer (nor silence) during the test. */
static void
fb_quiet(fb_t *fb)
{
    fb_welcome(fb, 60000, T_LIVENESS);
}

typedef struct stat_want {
    weft_worker_t *w;
    uint64_t cancels, acks;
} stat_want_t;

static bool
c_stats_reached(void *arg)
{
    stat_want_t *want = arg;
    wf_worker_stats_t st;
    wf_worker_stats(want->w, &st);
    return st.cancels >= want->cancels && st.acks >= want->acks;
}

/* A JOB for an attempt it holds is ignored (not refused for want of a slot); one for an
 * attempt whose report waits for its ACK gets that report again, never a second run. */
static void
test_consumer_duplicate_job_never_reruns(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "inproc", 1);
    fb_quiet(f.fb);
    wf_attempt_ref_t ref = ref_of(31, 2, 1);
    fb_job(f.fb, ref, "once", "block", "");
    assert_true(fb_wait(f.fb, c_started1, NULL, WF_TEST_DEADLINE_MS));
    fb_job(f.fb, ref, "once", "block", "");
    fb_marker(f.fb, ref_of(31, 99, 1));
    atomic_store(&g_seen.release, true);
    fb_expect_released(f.fb, ref);
    assert_int_equal(f.fb->seen[WF_MSG_FAILED], 1); /* the marker only */

    /* Reported, not ACKed: the same report again, as many times as asked. */
    for (int i = 0; i < 2; i++) {
        fb_job(f.fb, ref, "once", "block", "");
        fb_expect_released(f.fb, ref);
    }
    fb_marker(f.fb, ref_of(31, 98, 1));
    assert_int_equal(f.fb->seen[WF_MSG_DONE], 3);
    assert_int_equal(atomic_load(&g_seen.started), 1);
    wf_worker_stats_t st;
    wf_worker_stats(f.w, &st);
    assert_int_equal(st.jobs_started, 1);
    assert_int_equal(st.reports, 3); /* the DONE and two markers */
    assert_int_equal(st.resends, 2);
    assert_int_equal(st.unacked, 3);
    fb_ref_msg(f.fb, WF_MSG_ACK, ref);
    stat_want_t want = {f.w, 0, 1};
    assert_true(fb_wait(f.fb, c_stats_reached, &want, WF_TEST_DEADLINE_MS));
    wf_worker_stats(f.w, &st);
    assert_int_equal(st.unacked, 2);
    fix_close(&f);
}

#define T_MANY_SLOTS 2
#define T_MANY_PREFETCH 500
#define T_MANY (T_MANY_SLOTS + T_MANY_PREFETCH)

/* Cancelled in the test below: one running, two queued (one of them never ACKed), the last. */
static bool
many_cancelled(uint32_t i)
{
    return i == 1 || i == 251 || i == 400 || i == T_MANY - 1;
}

/* Many attempts held at once (slots 2 + prefetch 500): duplicates of held attempts are
 * ignored, CANCEL finds its own attempt among them, reports ACKed out of order are forgotten
 * (a JOB for one of those runs again) while those not ACKed are said again, never rerun; each
 * report arrives once per send. */
static void
test_consumer_many_held_attempts_dedup_cancel_and_ack(void **state)
{
    (void)state;
    static unsigned done_n[T_MANY], failed_n[T_MANY];
    static bool acked[T_MANY];
    memset(done_n, 0, sizeof done_n);
    memset(failed_n, 0, sizeof failed_n);
    memset(acked, 0, sizeof acked);
    const uint64_t req = 100;
    fix_t f;
    g_prefetch = T_MANY_PREFETCH;
    fix_open(&f, "inproc", T_MANY_SLOTS);
    fb_quiet(f.fb);
    for (uint32_t i = 0; i < T_MANY; i++)
        fb_job(f.fb, ref_of(req, i, 1), "held", "block", "");
    fb_marker(f.fb, ref_of(req, 10000, 1));
    assert_true(fb_wait(f.fb, c_started_n, &(int){2}, WF_TEST_DEADLINE_MS));
    /* Every entry is taken: a duplicate would be refused for want of a slot if it got that
     * far.  Other attempts of the same jobs are new attempts, and are refused. */
    for (uint32_t i = 0; i < T_MANY; i++)
        fb_job(f.fb, ref_of(req, T_MANY - 1 - i, 1), "held", "block", "");
    fb_job(f.fb, ref_of(req, 7, 2), "held", "block", "");
    wf_msg_t m;
    assert_true(fb_expect(f.fb, WF_MSG_FAILED, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, ref_of(req, 7, 2));
    assert_non_null(strstr(m.message, "no free slot"));
    wf_msg_fini(&m);
    assert_int_equal(f.fb->seen[WF_MSG_FAILED], 2); /* the marker and the refusal */

    /* CANCEL by ref among them (many_cancelled), and for attempts not held. */
    static const uint32_t cancel[] = {1, 251, 400, T_MANY - 1};
    for (size_t k = 0; k < sizeof cancel / sizeof cancel[0]; k++)
        fb_ref_msg(f.fb, WF_MSG_CANCEL, ref_of(req, cancel[k], 1));
    fb_ref_msg(f.fb, WF_MSG_CANCEL, ref_of(req, 251, 2));
    fb_ref_msg(f.fb, WF_MSG_CANCEL, ref_of(req + 1, 251, 1));
    stat_want_t want = {f.w, 4, 0};
    assert_true(fb_wait(f.fb, c_stats_reached, &want, WF_TEST_DEADLINE_MS));
    atomic_store(&g_seen.release, true);

    for (uint32_t n = 0; n < T_MANY; n++) {
        assert_true(fb_expect_report(f.fb, &m, WF_TEST_DEADLINE_MS));
        assert_int_equal(m.ref.req, req);
        assert_int_equal(m.ref.attempt, 1);
        assert_true(m.ref.idx < T_MANY);
        if (m.kind == WF_MSG_DONE) {
            done_n[m.ref.idx]++;
            assert_memory_equal(m.result, "released", 8);
        } else {
            failed_n[m.ref.idx]++;
            assert_string_equal(m.message, "cancelled");
        }
        wf_msg_fini(&m);
    }
    for (uint32_t i = 0; i < T_MANY; i++) {
        bool cancelled = many_cancelled(i);
        assert_int_equal(done_n[i], cancelled ? 0 : 1);
        assert_int_equal(failed_n[i], cancelled ? 1 : 0);
    }
    /* Three cancelled while queued never started. */
    assert_int_equal(atomic_load(&g_seen.started), T_MANY - 3);
    wf_worker_stats_t st;
    wf_worker_stats(f.w, &st);
    assert_int_equal(st.cancels, 4);
    assert_int_equal(st.jobs_started, T_MANY);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.unacked, T_MANY + 2);

    /* ACK two thirds, out of order (descending, then by a stride); a third stays unACKed. */
    uint64_t nacks = 0;
    for (uint32_t i = T_MANY; i-- > 0;)
        if (i % 3 == 0) {
            fb_ref_msg(f.fb, WF_MSG_ACK, ref_of(req, i, 1));
            acked[i] = true;
            nacks++;
        }
    for (uint32_t k = 0, i = 0; k < T_MANY; k++, i = (i + 97) % T_MANY)
        if (i % 3 == 1) {
            fb_ref_msg(f.fb, WF_MSG_ACK, ref_of(req, i, 1));
            acked[i] = true;
            nacks++;
        }
    fb_ref_msg(f.fb, WF_MSG_ACK, ref_of(req, 10000, 1)); /* the marker's FAILED */
    fb_ref_msg(f.fb, WF_MSG_ACK, ref_of(req, 3, 1));     /* twice: unknown now */
    nacks++;
    want.acks = nacks;
    assert_true(fb_wait(f.fb, c_stats_reached, &want, WF_TEST_DEADLINE_MS));
    wf_worker_stats(f.w, &st);
    assert_int_equal(st.acks, nacks);
    assert_int_equal(st.unacked, T_MANY + 2 - nacks);

    /* Every JOB again: the ACKed run again (the worker forgot them), the others' reports are
     * said again.  Each gives exactly one report. */
    memset(done_n, 0, sizeof done_n);
    memset(failed_n, 0, sizeof failed_n);
    unsigned reruns = 0;
    for (uint32_t i = 0; i < T_MANY; i++) {
        fb_job(f.fb, ref_of(req, i, 1), "held", "block", "");
        reruns += acked[i];
    }
    for (uint32_t n = 0; n < T_MANY; n++) {
        assert_true(fb_expect_report(f.fb, &m, WF_TEST_DEADLINE_MS));
        assert_int_equal(m.ref.req, req);
        assert_true(m.ref.idx < T_MANY);
        if (m.kind == WF_MSG_DONE)
            done_n[m.ref.idx]++;
        else
            failed_n[m.ref.idx]++;
        wf_msg_fini(&m);
    }
    for (uint32_t i = 0; i < T_MANY; i++) {
        bool cancelled = many_cancelled(i);
        /* A rerun is released at once; a report said again is the same report. */
        bool failed = !acked[i] && cancelled;
        assert_int_equal(done_n[i], failed ? 0 : 1);
        assert_int_equal(failed_n[i], failed ? 1 : 0);
    }
    assert_int_equal(atomic_load(&g_seen.started), T_MANY - 3 + (int)reruns);
    wf_worker_stats(f.w, &st);
    assert_int_equal(st.jobs_started, T_MANY + reruns);
    assert_int_equal(st.resends, T_MANY - reruns);

    /* The rest ACKed at last, the reruns too: nothing is left. */
    for (uint32_t i = 0; i < T_MANY; i++)
        fb_ref_msg(f.fb, WF_MSG_ACK, ref_of(req, i, 1));
    fb_ref_msg(f.fb, WF_MSG_ACK, ref_of(req, 7, 2));
    want.acks = nacks + T_MANY + 1;
    assert_true(fb_wait(f.fb, c_stats_reached, &want, WF_TEST_DEADLINE_MS));
    wf_worker_stats(f.w, &st);
    assert_int_equal(st.unacked, 0);
    assert_int_equal(st.acks_unknown, 1);
    fix_close(&f);
}

static void
test_consumer_malformed_frames_are_dropped(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "inproc", 1);
    static const uint8_t garbage[] = {0xc1, 0x00, 0xff, 0x13};
    fb_send_frames(f.fb, garbage, sizeof garbage, NULL, 0);
    fb_send_frames(f.fb, "", 0, NULL, 0);
    /* Two frames where the protocol has one. */
    wf_msg_t hb;
    wf_msg_init(&hb, WF_MSG_HEARTBEAT);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(wf_msg_encode(&hb, &buf, &len), WEFT_OK);
    fb_send_frames(f.fb, buf, len, buf, len);
    /* Another protocol version: ["WEFT", 99, 2]. */
    assert_int_equal(buf[0], 0x93);
    assert_int_equal(buf[6], WF_PROTO_VERSION);
    buf[6] = 99;
    fb_send_frames(f.fb, buf, len, NULL, 0);
    free(buf);
    /* A message only a consumer sends. */
    wf_msg_t bye;
    wf_msg_init(&bye, WF_MSG_BYE);
    fb_send(f.fb, &bye);

    fb_job(f.fb, ref_of(2, 0, 1), "after", "echo", "still fine");
    wf_msg_t m;
    assert_true(fb_expect(f.fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
    assert_memory_equal(m.result, "got:still fine", m.result_len);
    wf_msg_fini(&m);
    wf_worker_stats_t st;
    wf_worker_stats(f.w, &st);
    assert_int_equal(st.malformed, 5);
    assert_int_equal(st.connects, 1);
    fix_close(&f);
}

static bool
c_board_errors2(void *w)
{
    wf_worker_stats_t st;
    wf_worker_stats(w, &st);
    return st.board_errors >= 2;
}

static void
test_consumer_error_from_board_reconnects_and_eversion_gives_up(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "inproc", 1);
    wf_msg_t e, m;
    wf_msg_init(&e, WF_MSG_ERROR);
    e.code = WEFT_EPROTO;
    snprintf(e.message, sizeof e.message, "you said something odd");
    fb_send(f.fb, &e);
    assert_true(fb_expect(f.fb, WF_MSG_HELLO, &m, WF_TEST_DEADLINE_MS));
    wf_msg_fini(&m);
    fb_welcome(f.fb, T_HEARTBEAT_MS, T_LIVENESS);
    e.code = WEFT_EVERSION;
    snprintf(e.message, sizeof e.message, "this board speaks 7..9");
    fb_send(f.fb, &e);
    assert_true(fb_wait(f.fb, c_board_errors2, f.w, WF_TEST_DEADLINE_MS));
    /* Gave up: no HELLO within many backoff periods (the first would come after 100 ms). */
    assert_false(fb_expect(f.fb, WF_MSG_HELLO, &m, 1500));
    wf_worker_stats_t st;
    wf_worker_stats(f.w, &st);
    assert_int_equal(st.connects, 2);
    fix_close(&f);
}

static bool
c_gave_up1(void *w)
{
    wf_worker_stats_t st;
    wf_worker_stats(w, &st);
    return st.give_ups >= 1;
}

static bool
c_idle(void *w)
{
    wf_worker_stats_t st;
    wf_worker_stats(w, &st);
    return st.running == 0;
}

/* Longer than the worker's own silence window (T_LIVENESS beats), so the worker has already
 * reconnected once when it gives up: the silence is counted across connections. */
#define T_GIVE_UP_MS (T_HEARTBEAT_MS * T_LIVENESS * 3 / 2)

static void
test_consumer_silent_board_past_give_up_stops_attempts_and_keeps_reports(void **state)
{
    (void)state;
    fix_t f;
    fix_open_give_up(&f, "inproc", 2, T_GIVE_UP_MS);
    wf_attempt_ref_t done = ref_of(31, 0, 1), held = ref_of(31, 1, 2);
    fb_job(f.fb, done, "finished", "echo", "z");
    wf_msg_t m;
    assert_true(fb_expect(f.fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
    wf_msg_fini(&m);
    fb_job(f.fb, held, "long", "wait-cancel", "");
    assert_true(fb_wait(f.fb, c_started1, NULL, WF_TEST_DEADLINE_MS));

    /* The board goes silent (it still reads what the worker sends). */
    f.fb->echo = false;
    assert_true(fb_wait(f.fb, c_gave_up1, f.w, WF_TEST_DEADLINE_MS));
    assert_true(fb_wait(f.fb, c_idle, f.w, WF_TEST_DEADLINE_MS));
    assert_true(atomic_load(&g_seen.saw_cancel));
    wf_worker_stats_t st;
    wf_worker_stats(f.w, &st);
    assert_true(st.connects >= 2); /* it had reconnected before giving up, and keeps trying */
    assert_int_equal(st.reports, 1);  /* the stopped attempt is not reported... */
    assert_int_equal(st.unacked, 1);  /* ...and the finished one is still held */
    assert_int_equal(f.fb->seen[WF_MSG_FAILED], 0);

    /* Every HELLO from now on lists what waits for its ACK, not the attempt given up. */
    while (fb_expect(f.fb, WF_MSG_HELLO, &m, 0))
        wf_msg_fini(&m);
    assert_true(fb_expect(f.fb, WF_MSG_HELLO, &m, WF_TEST_DEADLINE_MS));
    assert_int_equal(m.nrunning, 1);
    assert_ref(m.running[0], done);
    wf_msg_fini(&m);

    /* The board is back: the held DONE comes on the new connection, and work goes on. */
    zframe_t *new_peer = zframe_dup(f.fb->peer);
    f.fb->echo = true;
    fb_welcome(f.fb, T_HEARTBEAT_MS, T_LIVENESS);
    bool on_new = false;
    while (!on_new) {
        assert_true(fb_expect(f.fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
        assert_ref(m.ref, done);
        on_new = zframe_eq(zmsg_first(f.fb->cur), new_peer);
        wf_msg_fini(&m);
    }
    zframe_destroy(&new_peer);
    fb_ref_msg(f.fb, WF_MSG_ACK, done);
    assert_true(fb_wait(f.fb, c_acked1, f.w, WF_TEST_DEADLINE_MS));
    wf_attempt_ref_t next = ref_of(32, 0, 1);
    fb_job(f.fb, next, "after", "echo", "back");
    assert_true(fb_expect(f.fb, WF_MSG_DONE, &m, WF_TEST_DEADLINE_MS));
    assert_ref(m.ref, next);
    wf_msg_fini(&m);
    assert_int_equal(f.fb->seen[WF_MSG_FAILED], 0);
    wf_worker_stats(f.w, &st);
    assert_int_equal(st.give_ups, 1);
    assert_int_equal(st.unacked, 1); /* only `next`, not yet ACKed */
    fix_close(&f);
}

/* ---- log reads (LOGREQ -> LOGDATA) ---- */

/* What the test reader was last asked, and what it answers by request id: 1 the text below,
 * 2 no such log, 3 a code that is not a weft_err, 4 more bytes than it may. */
static struct {
    weft_reqid_t req;
    char job[WEFT_MAX_ID + 1], stream[8];
    uint32_t attempt;
    uint64_t offset;
    size_t cap;
} g_asked;

static int64_t
r_test(void *arg, weft_reqid_t req, const char *job, uint32_t attempt, const char *stream,
       uint64_t offset, void *buf, size_t cap, size_t *len_p)
{
    static const char text[] = "hello world";
    assert_ptr_equal(arg, &g_asked);
    g_asked.req = req;
    snprintf(g_asked.job, sizeof g_asked.job, "%s", job);
    snprintf(g_asked.stream, sizeof g_asked.stream, "%s", stream);
    g_asked.attempt = attempt;
    g_asked.offset = offset;
    g_asked.cap = cap;
    *len_p = 0;
    switch (req) {
    case 1: {
        size_t size = sizeof text - 1;
        if (offset < size) {
            *len_p = size - offset < cap ? size - offset : cap;
            memcpy(buf, text + offset, *len_p);
        }
        return (int64_t)size;
    }
    case 2:
        return -WEFT_ENOTFOUND;
    case 3:
        return -999;
    default:
        *len_p = cap + 1;
        return 100;
    }
}

static void
fb_logreq(fb_t *fb, uint64_t corr, uint64_t req, const char *job, uint32_t attempt,
          const char *stream, uint64_t offset, uint32_t max)
{
    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_LOGREQ);
    m.corr = corr;
    m.ref = ref_of(req, 3, attempt);
    snprintf(m.job, sizeof m.job, "%s", job);
    snprintf(m.stream, sizeof m.stream, "%s", stream);
    m.offset = offset;
    m.max = max;
    fb_send(fb, &m);
}

static void
test_consumer_logreq_without_reader_is_not_found(void **state)
{
    (void)state;
    fix_t f;
    fix_open(&f, "inproc", 1);
    fb_logreq(f.fb, 41, 1, "j", 1, "out", 0, 100);
    wf_msg_t m;
    assert_true(fb_expect(f.fb, WF_MSG_LOGDATA, &m, WF_TEST_DEADLINE_MS));
    assert_true(m.corr == 41);
    assert_int_equal(m.code, WEFT_ENOTFOUND);
    assert_true(m.size == 0);
    assert_int_equal(m.data_len, 0);
    wf_msg_fini(&m);
    assert_int_equal(weft_worker_set_log_reader(f.w, r_test, NULL), WEFT_ESTATE);
    assert_int_equal(weft_worker_set_log_reader(NULL, r_test, NULL), WEFT_EINVAL);
    fix_close(&f);
}

static void
test_consumer_logreq_reads_through_the_reader(void **state)
{
    (void)state;
    fix_t f;
    g_log_reader = r_test;
    g_log_reader_arg = &g_asked;
    fix_open(&f, "inproc", 1);
    wf_msg_t m;
    /* a chunk from the middle, no more than asked */
    fb_logreq(f.fb, 7, 1, "build.x", 2, "err", 6, 3);
    assert_true(fb_expect(f.fb, WF_MSG_LOGDATA, &m, WF_TEST_DEADLINE_MS));
    assert_true(m.corr == 7);
    assert_int_equal(m.code, WEFT_OK);
    assert_true(m.size == 11);
    assert_int_equal(m.data_len, 3);
    assert_memory_equal(m.data, "wor", 3);
    wf_msg_fini(&m);
    assert_true(g_asked.req == 1);
    assert_string_equal(g_asked.job, "build.x");
    assert_int_equal(g_asked.attempt, 2);
    assert_string_equal(g_asked.stream, "err");
    assert_true(g_asked.offset == 6 && g_asked.cap == 3);
    /* past the end: the size, no bytes */
    fb_logreq(f.fb, 8, 1, "j", 1, "out", 20, WF_PROTO_MAX_LOG_CHUNK);
    assert_true(fb_expect(f.fb, WF_MSG_LOGDATA, &m, WF_TEST_DEADLINE_MS));
    assert_true(m.corr == 8 && m.code == WEFT_OK && m.size == 11 && m.data_len == 0);
    wf_msg_fini(&m);
    /* errors carry their code and nothing else; a reader's nonsense becomes one */
    static const struct {
        uint64_t req;
        uint32_t code;
    } errs[] = {{2, WEFT_ENOTFOUND}, {3, WEFT_ESYS}, {4, WEFT_EINVAL}};
    for (unsigned i = 0; i < 3; i++) {
        fb_logreq(f.fb, 100 + i, errs[i].req, "j", 1, "out", 0, 10);
        assert_true(fb_expect(f.fb, WF_MSG_LOGDATA, &m, WF_TEST_DEADLINE_MS));
        assert_true(m.corr == 100 + i);
        assert_int_equal(m.code, errs[i].code);
        assert_true(m.size == 0 && m.data_len == 0);
        wf_msg_fini(&m);
    }
    wf_worker_stats_t st;
    wf_worker_stats(f.w, &st);
    assert_int_equal(st.log_reads, 5);
    fix_close(&f);
}

static void
s_write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void
test_consumer_shell_log_reader_reads_bounded_chunks(void **state)
{
    (void)state;
    char *dir = wf_test_tmpdir("logs");
    char path[4096];
    snprintf(path, sizeof path, "%s/5", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    static uint8_t big[3 * 1000 * 1000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 31 + 7);
    wf_shell_log_path(path, sizeof path, dir, 5, "job.a", 2, "out");
    s_write_file(path, big, sizeof big);
    wf_shell_opts_t opts = {.log_dir = dir};
    static uint8_t buf[WF_PROTO_MAX_LOG_CHUNK];
    size_t n = 99;
    /* in chunks of at most cap, every byte as written */
    uint64_t off = 0;
    while (off < sizeof big) {
        int64_t size = wf_shell_log_read(&opts, 5, "job.a", 2, "out", off, buf, sizeof buf, &n);
        assert_true(size == (int64_t)sizeof big);
        assert_true(n > 0 && n <= sizeof buf);
        assert_memory_equal(buf, big + off, n);
        off += n;
    }
    assert_true(wf_shell_log_read(&opts, 5, "job.a", 2, "out", off, buf, sizeof buf, &n) ==
                (int64_t)sizeof big);
    assert_int_equal(n, 0);
    /* no file: the stream wrote nothing (or the attempt ran elsewhere) */
    assert_true(wf_shell_log_read(&opts, 5, "job.a", 2, "err", 0, buf, 10, &n) ==
                -WEFT_ENOTFOUND);
    assert_true(wf_shell_log_read(&opts, 6, "job.a", 2, "out", 0, buf, 10, &n) ==
                -WEFT_ENOTFOUND);
    /* nothing outside the request's directory: names only, out or err only */
    assert_true(wf_shell_log_read(&opts, 5, "../5/job.a", 2, "out", 0, buf, 10, &n) ==
                -WEFT_EINVAL);
    assert_true(wf_shell_log_read(&opts, 5, "job.a", 2, "out/..", 0, buf, 10, &n) ==
                -WEFT_EINVAL);
    assert_true(wf_shell_log_read(NULL, 5, "job.a", 2, "out", 0, buf, 10, &n) == -WEFT_EINVAL);
    wf_shell_opts_t discard = {.log_dir = NULL};
    assert_true(wf_shell_log_read(&discard, 5, "job.a", 2, "out", 0, buf, 10, &n) ==
                -WEFT_ENOTFOUND);

    /* through a worker: the board asks, the file answers */
    fix_t f;
    g_log_reader = wf_shell_log_read;
    g_log_reader_arg = &opts;
    fix_open(&f, "inproc", 1);
    fb_logreq(f.fb, 3, 5, "job.a", 2, "out", 1000, 5);
    wf_msg_t m;
    assert_true(fb_expect(f.fb, WF_MSG_LOGDATA, &m, WF_TEST_DEADLINE_MS));
    assert_int_equal(m.code, WEFT_OK);
    assert_true(m.size == sizeof big);
    assert_int_equal(m.data_len, 5);
    assert_memory_equal(m.data, big + 1000, 5);
    wf_msg_fini(&m);
    fb_logreq(f.fb, 4, 5, "job.a", 2, "err", 0, WF_PROTO_MAX_LOG_CHUNK);
    assert_true(fb_expect(f.fb, WF_MSG_LOGDATA, &m, WF_TEST_DEADLINE_MS));
    assert_int_equal(m.code, WEFT_ENOTFOUND);
    wf_msg_fini(&m);
    fix_close(&f);
    wf_test_rmtree(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consumer_api_validates_arguments),
        cmocka_unit_test(test_consumer_default_name_is_host_and_pid),
        cmocka_unit_test(test_consumer_hello_carries_types_and_slots_inproc),
        cmocka_unit_test(test_consumer_hello_carries_types_and_slots_ipc),
        cmocka_unit_test(test_consumer_job_runs_handler_and_reports_done_inproc),
        cmocka_unit_test(test_consumer_job_runs_handler_and_reports_done_ipc),
        cmocka_unit_test(test_consumer_failing_handler_reports_failed),
        cmocka_unit_test(test_consumer_progress_arrives_as_progress),
        cmocka_unit_test(test_consumer_cancel_sets_flag_and_reports_failed),
        cmocka_unit_test(test_consumer_done_is_resent_until_acked),
        cmocka_unit_test(test_consumer_silent_board_causes_reconnect_listing_running_attempt),
        cmocka_unit_test(test_consumer_unacked_report_is_resent_after_reconnect),
        cmocka_unit_test(test_consumer_timeout_stops_attempt_and_reports_timed_out),
        cmocka_unit_test(test_consumer_progress_is_coalesced),
        cmocka_unit_test(test_consumer_destroy_while_running_returns_promptly),
        cmocka_unit_test(test_consumer_destroy_with_board_gone_returns_promptly),
        cmocka_unit_test(test_consumer_slots_run_jobs_concurrently),
        cmocka_unit_test(test_consumer_unknown_type_and_excess_jobs_fail),
        cmocka_unit_test(test_consumer_prefetch_queues_in_order_and_cancels_queued),
        cmocka_unit_test(test_consumer_prefetch_is_bounded),
        cmocka_unit_test(test_consumer_duplicate_job_never_reruns),
        cmocka_unit_test(test_consumer_many_held_attempts_dedup_cancel_and_ack),
        cmocka_unit_test(test_consumer_malformed_frames_are_dropped),
        cmocka_unit_test(test_consumer_error_from_board_reconnects_and_eversion_gives_up),
        cmocka_unit_test(test_consumer_silent_board_past_give_up_stops_attempts_and_keeps_reports),
        cmocka_unit_test(test_consumer_set_curve_checks_keys_and_state),
        cmocka_unit_test(test_consumer_logreq_without_reader_is_not_found),
        cmocka_unit_test(test_consumer_logreq_reads_through_the_reader),
        cmocka_unit_test(test_consumer_shell_log_reader_reads_bounded_chunks),
    };
    seen_reset();
    int rc = cmocka_run_group_tests_name("consumer", tests, NULL, NULL);
    pthread_mutex_destroy(&g_seen.mu);
    pthread_cond_destroy(&g_seen.cv);
    return rc;
}
