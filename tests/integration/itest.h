/*
 * itest.h -- shared fixture for the in-process integration tests: an engine on a fresh temp
 * directory, a scripted handler, and a log of what ran in which order.
 *
 * The scripted handler reads its payload as a command:
 *   "ok"          succeed (result = the job id)
 *   "fail"        fail with exit code 3
 *   "fail:N"      fail the first N attempts, then succeed
 *   "sleep:MS"    sleep MS ms (checking cancel), then succeed
 *   "block"       run until cancelled, then fail
 *   "progress"    report 50% "half way", then succeed
 * Every start and end is appended to the fixture's log, so tests can check order.
 */
#ifndef WF_ITEST_H
#define WF_ITEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/weft.h>

#include "testutil.h"

#define IT_MAX_LOG 200000

typedef struct it_fixture {
    char *dir;
    weft_engine_t *eng;
    pthread_mutex_t mu;
    char **log;        /* "start:<id>" / "done:<id>" / "fail:<id>" */
    int nlog;
    atomic_int running;
    atomic_int max_running;
    atomic_int started;
    weft_options_t *opts;
} it_fixture_t;

static inline void
it_log(it_fixture_t *f, const char *what, const char *id)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s:%s", what, id);
    pthread_mutex_lock(&f->mu);
    if (f->nlog < IT_MAX_LOG)
        f->log[f->nlog++] = strdup(buf);
    pthread_mutex_unlock(&f->mu);
}

static inline int
it_log_index(it_fixture_t *f, const char *what, const char *id)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s:%s", what, id);
    int found = -1;
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->nlog && found < 0; i++)
        if (strcmp(f->log[i], buf) == 0)
            found = i;
    pthread_mutex_unlock(&f->mu);
    return found;
}

static inline int
it_log_count(it_fixture_t *f, const char *what, const char *id)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s:%s", what, id);
    int n = 0;
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->nlog; i++)
        n += strcmp(f->log[i], buf) == 0;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static inline void
it_msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int
it_handler(weft_job_t *job, void *arg)
{
    it_fixture_t *f = arg;
    size_t len = 0;
    const char *p = weft_job_payload(job, &len);
    char cmd[64] = "";
    if (p && len < sizeof cmd) {
        memcpy(cmd, p, len);
        cmd[len] = 0;
    }
    const char *id = weft_job_id(job);
    int now = atomic_fetch_add(&f->running, 1) + 1;
    int max = atomic_load(&f->max_running);
    while (now > max && !atomic_compare_exchange_weak(&f->max_running, &max, now))
        ;
    atomic_fetch_add(&f->started, 1);
    it_log(f, "start", id);
    int rc = 0;
    if (strcmp(cmd, "fail") == 0) {
        weft_job_set_error(job, "scripted failure");
        rc = 3;
    } else if (strncmp(cmd, "fail:", 5) == 0) {
        if (weft_job_attempt(job) <= (uint32_t)atoi(cmd + 5)) {
            weft_job_set_error(job, "flaky");
            rc = 4;
        }
    } else if (strncmp(cmd, "sleep:", 6) == 0) {
        int ms = atoi(cmd + 6);
        for (int t = 0; t < ms && !weft_job_cancelled(job); t += 2)
            it_msleep(2);
    } else if (strcmp(cmd, "block") == 0) {
        while (!weft_job_cancelled(job))
            it_msleep(2);
        rc = 9;
    } else if (strcmp(cmd, "progress") == 0) {
        weft_job_progress(job, 50, "half way");
    }
    if (rc == 0)
        weft_job_set_result(job, id, strlen(id));
    it_log(f, rc == 0 ? "done" : "fail", id);
    atomic_fetch_sub(&f->running, 1);
    return rc;
}

static inline int
it_setup(void **state)
{
    it_fixture_t *f = calloc(1, sizeof *f);
    f->dir = wf_test_tmpdir("it");
    f->log = calloc(IT_MAX_LOG, sizeof *f->log);
    pthread_mutex_init(&f->mu, NULL);
    weft_options_new(&f->opts);
    weft_options_set_int(f->opts, WEFT_OPT_HEARTBEAT_MS, 100);
    weft_options_set_int(f->opts, WEFT_OPT_LIVENESS, 3);
    weft_options_set_int(f->opts, WEFT_OPT_DURABILITY, WEFT_DURABLE_PROCESS);
    char err[256];
    int rc = weft_engine_open(&f->eng, f->dir, f->opts, err, sizeof err);
    if (rc != WEFT_OK) {
        fprintf(stderr, "engine open: %s: %s\n", weft_strerror(rc), err);
        return -1;
    }
    weft_engine_register(f->eng, "t", it_handler, f);
    *state = f;
    return 0;
}

/* Close and reopen the engine on the same directory (consumers must be started again). */
static inline void
it_reopen(it_fixture_t *f)
{
    weft_engine_close(&f->eng);
    char err[256];
    assert_int_equal(weft_engine_open(&f->eng, f->dir, f->opts, err, sizeof err), WEFT_OK);
    weft_engine_register(f->eng, "t", it_handler, f);
}

static inline int
it_teardown(void **state)
{
    it_fixture_t *f = *state;
    weft_engine_close(&f->eng);
    assert_null(f->eng);
    weft_options_destroy(&f->opts);
    for (int i = 0; i < f->nlog; i++)
        free(f->log[i]);
    free(f->log);
    pthread_mutex_destroy(&f->mu);
    wf_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Add a job of type "t" with a command payload. */
static inline void
it_job(weft_request_t *r, const char *id, const char *cmd)
{
    assert_int_equal(weft_request_add_job(r, id, "t", cmd, strlen(cmd)), WEFT_OK);
}

static inline void
it_need(weft_request_t *r, const char *job, const char *parent)
{
    assert_int_equal(weft_request_add_need(r, job, parent), WEFT_OK);
}

static inline weft_reqid_t
it_submit(it_fixture_t *f, weft_request_t *r)
{
    weft_reqid_t id = 0;
    int rc = weft_request_submit(f->eng, r, &id);
    if (rc != WEFT_OK)
        fprintf(stderr, "submit: %s: %s\n", weft_strerror(rc), weft_request_errmsg(r));
    assert_int_equal(rc, WEFT_OK);
    assert_true(id > 0);
    return id;
}

static inline weft_req_state
it_wait(it_fixture_t *f, weft_reqid_t id)
{
    weft_req_state st = WEFT_REQ_RUNNING;
    assert_int_equal(weft_request_wait(f->eng, id, WF_TEST_DEADLINE_MS, &st), WEFT_OK);
    return st;
}

static inline weft_job_info_t
it_info(it_fixture_t *f, weft_reqid_t id, const char *job)
{
    weft_job_info_t info;
    assert_int_equal(weft_job_status(f->eng, id, job, &info), WEFT_OK);
    return info;
}

static inline void
it_assert_state(it_fixture_t *f, weft_reqid_t id, const char *job, weft_job_state state)
{
    weft_job_info_t info = it_info(f, id, job);
    if (info.state != state)
        fprintf(stderr, "job %s is %s (%s), expected %s\n", job, weft_job_state_name(info.state),
                weft_reason_name(info.reason), weft_job_state_name(state));
    assert_int_equal(info.state, state);
}

#endif
