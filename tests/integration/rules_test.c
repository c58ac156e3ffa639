/*
 * rules_test.c -- trigger rules, the cascade, retries with backoff, timeouts, and retrying a
 * failed job, through the public API with real consumers.
 */
#include "itest.h"

static int
s_setup(void **state)
{
    if (it_setup(state) != 0)
        return -1;
    it_fixture_t *f = *state;
    return weft_engine_start_consumers(f->eng, 3) == WEFT_OK ? 0 : -1;
}

static void
s_when(weft_request_t *r, const char *job, weft_when when)
{
    assert_int_equal(weft_request_job_set(r, job, WEFT_JOBOPT_WHEN, when), WEFT_OK);
}

static void
test_rules_truth_table(void **state)
{
    it_fixture_t *f = *state;
    weft_request_t *r = NULL;
    weft_request_new(&r, "rules");
    it_job(r, "good", "ok");
    it_job(r, "bad", "fail");
    /* children of a done parent */
    it_job(r, "s_ok", "ok");
    it_job(r, "a_ok", "ok");
    it_job(r, "f_ok", "ok");
    it_need(r, "s_ok", "good");
    it_need(r, "a_ok", "good");
    it_need(r, "f_ok", "good");
    s_when(r, "a_ok", WEFT_WHEN_ALWAYS);
    s_when(r, "f_ok", WEFT_WHEN_FAILURE);
    /* children of a failed parent */
    it_job(r, "s_bad", "ok");
    it_job(r, "a_bad", "ok");
    it_job(r, "f_bad", "ok");
    it_need(r, "s_bad", "bad");
    it_need(r, "a_bad", "bad");
    it_need(r, "f_bad", "bad");
    s_when(r, "a_bad", WEFT_WHEN_ALWAYS);
    s_when(r, "f_bad", WEFT_WHEN_FAILURE);
    /* children of a skipped parent (f_ok is skipped) */
    it_job(r, "s_skip", "ok");
    it_job(r, "a_skip", "ok");
    it_job(r, "f_skip", "ok");
    it_need(r, "s_skip", "f_ok");
    it_need(r, "a_skip", "f_ok");
    it_need(r, "f_skip", "f_ok");
    s_when(r, "a_skip", WEFT_WHEN_ALWAYS);
    s_when(r, "f_skip", WEFT_WHEN_FAILURE);
    /* children of a cancelled parent (s_bad is cancelled) */
    it_job(r, "a_canc", "ok");
    it_job(r, "f_canc", "ok");
    it_need(r, "a_canc", "s_bad");
    it_need(r, "f_canc", "s_bad");
    s_when(r, "a_canc", WEFT_WHEN_ALWAYS);
    s_when(r, "f_canc", WEFT_WHEN_FAILURE);
    weft_reqid_t id = it_submit(f, r);
    assert_int_equal(it_wait(f, id), WEFT_REQ_FAILED);

    it_assert_state(f, id, "good", WEFT_JOB_DONE);
    it_assert_state(f, id, "bad", WEFT_JOB_FAILED);
    it_assert_state(f, id, "s_ok", WEFT_JOB_DONE);
    it_assert_state(f, id, "a_ok", WEFT_JOB_DONE);
    it_assert_state(f, id, "f_ok", WEFT_JOB_SKIPPED);
    it_assert_state(f, id, "s_bad", WEFT_JOB_CANCELLED);
    it_assert_state(f, id, "a_bad", WEFT_JOB_DONE);
    it_assert_state(f, id, "f_bad", WEFT_JOB_DONE);
    it_assert_state(f, id, "s_skip", WEFT_JOB_SKIPPED);
    it_assert_state(f, id, "a_skip", WEFT_JOB_DONE);
    it_assert_state(f, id, "f_skip", WEFT_JOB_SKIPPED);
    it_assert_state(f, id, "a_canc", WEFT_JOB_DONE);
    it_assert_state(f, id, "f_canc", WEFT_JOB_DONE);

    weft_job_info_t info = it_info(f, id, "bad");
    assert_int_equal(info.reason, WEFT_REASON_EXIT);
    assert_int_equal(info.exit_code, 3);
    assert_string_equal(info.error, "scripted failure");
    info = it_info(f, id, "s_bad");
    assert_int_equal(info.reason, WEFT_REASON_CANCELLED_PARENT);
    assert_string_equal(info.cause, "bad");
    info = it_info(f, id, "f_ok");
    assert_int_equal(info.reason, WEFT_REASON_SKIPPED_NO_FAILURE);
    info = it_info(f, id, "s_skip");
    assert_int_equal(info.reason, WEFT_REASON_SKIPPED_PARENT);
    assert_string_equal(info.cause, "f_ok");
    /* nothing cancelled or skipped ever started */
    assert_int_equal(it_log_index(f, "start", "s_bad"), -1);
    assert_int_equal(it_log_index(f, "start", "s_skip"), -1);
    weft_request_destroy(&r);
}

static void
test_rules_success_when_skips_are_fine(void **state)
{
    it_fixture_t *f = *state;
    weft_request_t *r = NULL;
    weft_request_new(&r, "skips");
    it_job(r, "a", "ok");
    it_job(r, "notify", "ok");
    it_need(r, "notify", "a");
    s_when(r, "notify", WEFT_WHEN_FAILURE);
    weft_reqid_t id = it_submit(f, r);
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    it_assert_state(f, id, "notify", WEFT_JOB_SKIPPED);
    weft_request_destroy(&r);
}

/* A failure in the middle of a lattice cancels exactly its transitive dependents. */
static void
test_rules_cascade_in_lattice(void **state)
{
    it_fixture_t *f = *state;
    enum { L = 6, W = 12, N = L * W };
    static char ids[N][16];
    static bool needs[N][N];
    memset(needs, 0, sizeof needs);
    unsigned seed = 777;
    weft_request_t *r = NULL;
    weft_request_new(&r, "cascade");
    int failing = 2 * W + 5;
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], 16, "n%d", i);
        it_job(r, ids[i], i == failing ? "fail" : "ok");
        int l = i / W;
        for (int k = 0; l > 0 && k < 2; k++) {
            int p = (l - 1) * W + (int)(rand_r(&seed) % W);
            it_need(r, ids[i], ids[p]);
            needs[i][p] = true;
        }
    }
    /* expected: descendants of the failing job */
    static bool desc[N];
    memset(desc, 0, sizeof desc);
    for (int i = 0; i < N; i++)
        for (int p = 0; p < i; p++)
            if (needs[i][p] && (p == failing || desc[p]))
                desc[i] = true;
    weft_reqid_t id = it_submit(f, r);
    assert_int_equal(it_wait(f, id), WEFT_REQ_FAILED);
    int cancelled = 0;
    for (int i = 0; i < N; i++) {
        weft_job_info_t info = it_info(f, id, ids[i]);
        if (i == failing) {
            assert_int_equal(info.state, WEFT_JOB_FAILED);
        } else if (desc[i]) {
            assert_int_equal(info.state, WEFT_JOB_CANCELLED);
            assert_string_equal(info.cause, ids[failing]);
            assert_int_equal(it_log_index(f, "start", ids[i]), -1);
            cancelled++;
        } else {
            assert_int_equal(info.state, WEFT_JOB_DONE);
        }
    }
    assert_true(cancelled > 0);
    weft_request_info_t ri;
    assert_int_equal(weft_request_status(f->eng, id, &ri), WEFT_OK);
    assert_int_equal(ri.count[WEFT_JOB_CANCELLED], (uint32_t)cancelled);
    assert_int_equal(ri.count[WEFT_JOB_FAILED], 1);

    /* Retrying the failed job re-arms exactly the jobs its failure cancelled. */
    assert_int_equal(weft_job_retry(f->eng, id, ids[failing]), WEFT_OK);
    /* it fails again (scripted), so the same set is cancelled again, each started never */
    assert_int_equal(it_wait(f, id), WEFT_REQ_FAILED);
    assert_int_equal(it_log_count(f, "start", ids[failing]), 2);
    for (int i = 0; i < N; i++)
        if (!desc[i] && i != failing)
            assert_int_equal(it_log_count(f, "start", ids[i]), 1);
    weft_request_destroy(&r);
}

static void
test_rules_retry_job_rearms_dependents(void **state)
{
    it_fixture_t *f = *state;
    weft_request_t *r = NULL;
    weft_request_new(&r, "rearm");
    it_job(r, "flaky", "fail:1"); /* fails its first attempt, no retries allowed */
    it_job(r, "child", "ok");
    it_job(r, "grandchild", "ok");
    it_job(r, "other", "ok");
    it_job(r, "cleanup", "ok");
    it_need(r, "child", "flaky");
    it_need(r, "grandchild", "child");
    it_need(r, "cleanup", "flaky");
    s_when(r, "cleanup", WEFT_WHEN_ALWAYS);
    weft_reqid_t id = it_submit(f, r);
    assert_int_equal(it_wait(f, id), WEFT_REQ_FAILED);
    it_assert_state(f, id, "child", WEFT_JOB_CANCELLED);
    it_assert_state(f, id, "grandchild", WEFT_JOB_CANCELLED);
    it_assert_state(f, id, "cleanup", WEFT_JOB_DONE);
    assert_int_equal(weft_job_retry(f->eng, id, "other"), WEFT_ESTATE);
    assert_int_equal(weft_job_retry(f->eng, id, "flaky"), WEFT_OK);
    assert_int_equal(it_wait(f, id), WEFT_REQ_SUCCEEDED);
    it_assert_state(f, id, "grandchild", WEFT_JOB_DONE);
    assert_int_equal(it_log_count(f, "start", "flaky"), 2);
    assert_int_equal(it_log_count(f, "start", "child"), 1);
    assert_int_equal(it_log_count(f, "start", "other"), 1);
    assert_int_equal(it_log_count(f, "start", "cleanup"), 1);
    weft_job_info_t info = it_info(f, id, "flaky");
    assert_int_equal(info.attempts, 2);
    weft_request_destroy(&r);
}

static void
test_rules_retries_with_backoff(void **state)
{
    it_fixture_t *f = *state;
    weft_request_t *r = NULL;
    weft_request_new(&r, "retry");
    it_job(r, "flaky", "fail:2");
    weft_request_job_set(r, "flaky", WEFT_JOBOPT_RETRIES, 2);
    weft_request_job_set(r, "flaky", WEFT_JOBOPT_RETRY_DELAY_MS, 40);
    it_job(r, "hopeless", "fail");
    weft_request_job_set(r, "hopeless", WEFT_JOBOPT_RETRIES, 1);
    int64_t t0 = wf_test_now_ms();
    weft_reqid_t id = it_submit(f, r);
    assert_int_equal(it_wait(f, id), WEFT_REQ_FAILED);
    int64_t elapsed = wf_test_now_ms() - t0;
    /* backoff 40 ms then 80 ms: a lower bound, which cannot flake */
    assert_true(elapsed >= 120);
    weft_job_info_t info = it_info(f, id, "flaky");
    assert_int_equal(info.state, WEFT_JOB_DONE);
    assert_int_equal(info.attempts, 3);
    assert_int_equal(info.failures, 2);
    info = it_info(f, id, "hopeless");
    assert_int_equal(info.state, WEFT_JOB_FAILED);
    assert_int_equal(info.attempts, 2);
    assert_int_equal(info.exit_code, 3);
    weft_request_destroy(&r);
}

static void
test_rules_timeout_fails_attempt(void **state)
{
    it_fixture_t *f = *state;
    weft_request_t *r = NULL;
    weft_request_new(&r, "timeout");
    it_job(r, "slow", "block");
    weft_request_job_set(r, "slow", WEFT_JOBOPT_TIMEOUT_MS, 100);
    weft_request_job_set(r, "slow", WEFT_JOBOPT_RETRIES, 1);
    it_job(r, "after", "ok");
    it_need(r, "after", "slow");
    weft_reqid_t id = it_submit(f, r);
    assert_int_equal(it_wait(f, id), WEFT_REQ_FAILED);
    weft_job_info_t info = it_info(f, id, "slow");
    assert_int_equal(info.state, WEFT_JOB_FAILED);
    assert_int_equal(info.reason, WEFT_REASON_TIMEOUT);
    assert_int_equal(info.attempts, 2);
    assert_non_null(strstr(info.error, "timed out"));
    it_assert_state(f, id, "after", WEFT_JOB_CANCELLED);
    /* both attempts were told to stop and did */
    for (int i = 0; i < 5000 && it_log_count(f, "fail", "slow") < 2; i++)
        it_msleep(2);
    assert_int_equal(it_log_count(f, "fail", "slow"), 2);
    weft_request_destroy(&r);
}

static void
test_rules_cancel_one_job_cascades(void **state)
{
    it_fixture_t *f = *state;
    weft_request_t *r = NULL;
    weft_request_new(&r, "canceljob");
    it_job(r, "wait", "block");
    it_job(r, "dep", "ok");
    it_job(r, "free", "ok");
    it_need(r, "dep", "wait");
    weft_reqid_t id = it_submit(f, r);
    for (int i = 0; i < 10000 && it_log_index(f, "start", "wait") < 0; i++)
        it_msleep(2);
    assert_int_equal(weft_job_cancel(f->eng, id, "wait"), WEFT_OK);
    assert_int_equal(it_wait(f, id), WEFT_REQ_FAILED);
    it_assert_state(f, id, "wait", WEFT_JOB_CANCELLED);
    it_assert_state(f, id, "dep", WEFT_JOB_CANCELLED);
    it_assert_state(f, id, "free", WEFT_JOB_DONE);
    weft_job_info_t info = it_info(f, id, "dep");
    assert_string_equal(info.cause, "wait");
    /* a retry of the whole request re-runs the cancelled ones */
    assert_int_equal(weft_job_cancel(f->eng, id, "free"), WEFT_ESTATE);
    weft_request_destroy(&r);
}

#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, it_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_rules_truth_table),
        T(test_rules_success_when_skips_are_fine),
        T(test_rules_cascade_in_lattice),
        T(test_rules_retry_job_rearms_dependents),
        T(test_rules_retries_with_backoff),
        T(test_rules_timeout_fails_attempt),
        T(test_rules_cancel_one_job_cascades),
    };
    return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
