/*
 * dispatcher.c -- trigger rules, cascade, retries, timeouts, cancel and retry (dispatcher.h).
 *
 * Truth table, applied when a job's last parent becomes terminal (or at once for a cascade):
 *   when      | a parent failed/cancelled | else a parent skipped | else (all done)
 *   success   | cancelled (at once)       | skipped               | ready
 *   always    | ready                     | ready                 | ready
 *   failure   | ready                     | skipped               | skipped
 * The root cause of a cascade is carried down (job.st.cause), so "cancelled because of X"
 * names the job that really failed, and a retry of X re-arms exactly the jobs it cancelled.
 */
#include "dispatcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A worklist of jobs that just became terminal and whose children must hear of it. */
typedef struct s_work {
    wf_job_t **v;
    uint32_t n, cap;
} s_work_t;

static void
s_push(s_work_t *w, wf_job_t *j)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 32;
        w->v = realloc(w->v, w->cap * sizeof *w->v);
        if (!w->v)
            abort();
    }
    w->v[w->n++] = j;
}

static bool
s_bad(int state)
{
    return state == WEFT_JOB_FAILED || state == WEFT_JOB_CANCELLED;
}

/* The job at the root of j's failure, cancel or skip. */
static uint32_t
s_root(const wf_job_t *j)
{
    if ((j->st.reason == WEFT_REASON_CANCELLED_PARENT || j->st.reason == WEFT_REASON_SKIPPED_PARENT) &&
        j->st.cause != WF_NO_JOB)
        return j->st.cause;
    return j->idx;
}

uint32_t
wf_dispatch_backoff_ms(uint32_t retry_delay_ms, uint32_t failures)
{
    uint64_t d = retry_delay_ms;
    for (uint32_t i = 1; i < failures && d < WF_MAX_RETRY_DELAY_MS; i++)
        d *= 2;
    if (d > WF_MAX_RETRY_DELAY_MS)
        d = retry_delay_ms > WF_MAX_RETRY_DELAY_MS ? retry_delay_ms : WF_MAX_RETRY_DELAY_MS;
    return (uint32_t)d;
}

static void
s_ready(wf_core_t *core, wf_job_t *j, int reason)
{
    j->st.retry_at_ms = 0;
    wf_core_transition(core, j, WEFT_JOB_READY, reason);
    wf_board_offer(core->board, j);
}

static void
s_end(wf_core_t *core, s_work_t *w, wf_job_t *j, int state, int reason, uint32_t cause)
{
    wf_timer_cancel(core->deadlines, &j->timer);
    wf_board_withdraw(core->board, j);
    j->st.cause = cause;
    wf_core_transition(core, j, state, reason);
    s_push(w, j);
}

/* j is pending and every parent is terminal: apply its rule. */
static void
s_decide(wf_core_t *core, s_work_t *w, wf_job_t *j)
{
    switch (j->spec->when) {
    case WEFT_WHEN_ALWAYS:
        s_ready(core, j, WEFT_REASON_WAIT_SLOT);
        break;
    case WEFT_WHEN_FAILURE:
        if (j->fail_cause != WF_NO_JOB)
            s_ready(core, j, WEFT_REASON_WAIT_SLOT);
        else
            s_end(core, w, j, WEFT_JOB_SKIPPED, WEFT_REASON_SKIPPED_NO_FAILURE, WF_NO_JOB);
        break;
    default:
        if (j->fail_cause != WF_NO_JOB)
            s_end(core, w, j, WEFT_JOB_CANCELLED, WEFT_REASON_CANCELLED_PARENT, j->fail_cause);
        else if (j->skip_cause != WF_NO_JOB)
            s_end(core, w, j, WEFT_JOB_SKIPPED, WEFT_REASON_SKIPPED_PARENT, j->skip_cause);
        else
            s_ready(core, j, WEFT_REASON_WAIT_SLOT);
        break;
    }
}

/* Tell the children of every job on the worklist; cascades extend the worklist. */
static void
s_propagate(wf_core_t *core, s_work_t *w)
{
    while (w->n > 0) {
        wf_job_t *p = w->v[--w->n];
        wf_req_t *r = p->req;
        bool bad = s_bad(p->st.state), skip = p->st.state == WEFT_JOB_SKIPPED;
        uint32_t root = s_root(p);
        for (uint32_t i = 0; i < p->spec->nchildren; i++) {
            wf_job_t *c = &r->jobs[p->spec->children[i]];
            if (c->st.state != WEFT_JOB_PENDING)
                continue; /* decided already, e.g. cancelled by an earlier parent */
            if (c->waiting > 0)
                c->waiting--;
            if (bad && c->fail_cause == WF_NO_JOB)
                c->fail_cause = root;
            if (skip && c->skip_cause == WF_NO_JOB)
                c->skip_cause = root;
            if (c->spec->when == WEFT_WHEN_SUCCESS && c->fail_cause != WF_NO_JOB)
                s_end(core, w, c, WEFT_JOB_CANCELLED, WEFT_REASON_CANCELLED_PARENT, c->fail_cause);
            else if (c->waiting == 0)
                s_decide(core, w, c);
        }
    }
    free(w->v);
    w->v = NULL;
    w->cap = 0;
}

/* Recompute a job's parent counter and causes from its parents' states. */
static void
s_recount(wf_job_t *j)
{
    wf_req_t *r = j->req;
    j->waiting = 0;
    j->fail_cause = j->skip_cause = WF_NO_JOB;
    for (uint32_t i = 0; i < j->spec->nneeds; i++) {
        const wf_job_t *p = &r->jobs[j->spec->needs[i]];
        if (!wf_job_state_terminal(p->st.state))
            j->waiting++;
        else if (s_bad(p->st.state) && j->fail_cause == WF_NO_JOB)
            j->fail_cause = s_root(p);
        else if (p->st.state == WEFT_JOB_SKIPPED && j->skip_cause == WF_NO_JOB)
            j->skip_cause = s_root(p);
    }
}

void
wf_dispatch_start(wf_core_t *core, wf_req_t *req)
{
    s_work_t w = {0};
    /* Jobs carried over from an earlier run count as done at once; their children hear of it
     * like of any other parent. */
    for (uint32_t i = 0; i < req->spec.njobs; i++) {
        wf_job_t *j = &req->jobs[i];
        if (j->spec->carried) {
            j->st.progress = 100;
            s_end(core, &w, j, WEFT_JOB_DONE, WEFT_REASON_CARRIED, WF_NO_JOB);
        }
    }
    s_propagate(core, &w);
    for (uint32_t i = 0; i < req->spec.njobs; i++)
        if (req->jobs[i].spec->nneeds == 0 && req->jobs[i].st.state == WEFT_JOB_PENDING)
            s_decide(core, &w, &req->jobs[i]);
    s_propagate(core, &w);
}

void
wf_dispatch_resume(wf_core_t *core, wf_req_t *req)
{
    s_work_t w = {0};
    memset(req->count, 0, sizeof req->count);
    req->unfinished = 0;
    for (uint32_t i = 0; i < req->spec.njobs; i++) {
        int s = req->jobs[i].st.state;
        if (s >= WEFT_JOB_STATE_COUNT_)
            s = req->jobs[i].st.state = WEFT_JOB_PENDING;
        req->count[s]++;
        if (!wf_job_state_terminal(s))
            req->unfinished++;
    }
    for (uint32_t i = 0; i < req->spec.njobs; i++) {
        wf_job_t *j = &req->jobs[i];
        if (!wf_job_state_terminal(j->st.state))
            s_recount(j);
    }
    for (uint32_t i = 0; i < req->spec.njobs; i++) {
        wf_job_t *j = &req->jobs[i];
        switch (j->st.state) {
        case WEFT_JOB_RUNNING:
            /* Its consumer may have died with the old engine, or (server mode) may still run it
             * and re-adopt it when it reconnects: either way it costs no budget.  With a grace
             * period it waits that long for its consumer before anyone else may take it. */
            if (core->requeue_grace_ms > 0) {
                j->st.retry_at_ms = 0;
                wf_core_transition(core, j, WEFT_JOB_READY, WEFT_REASON_REQUEUED);
                wf_timer_set(core->deadlines, &j->timer, core->now + core->requeue_grace_ms);
            } else {
                s_ready(core, j, WEFT_REASON_REQUEUED);
            }
            break;
        case WEFT_JOB_READY:
            if (j->st.retry_at_ms > core->wall) {
                int64_t left = j->st.retry_at_ms - core->wall;
                wf_timer_set(core->deadlines, &j->timer, core->now + left);
            } else {
                wf_board_offer(core->board, j);
            }
            break;
        case WEFT_JOB_PENDING:
            if (j->spec->when == WEFT_WHEN_SUCCESS && j->fail_cause != WF_NO_JOB)
                s_end(core, &w, j, WEFT_JOB_CANCELLED, WEFT_REASON_CANCELLED_PARENT, j->fail_cause);
            else if (j->waiting == 0)
                s_decide(core, &w, j);
            break;
        default:
            break;
        }
    }
    s_propagate(core, &w);
    if (req->unfinished == 0 && req->rec.state == WEFT_REQ_RUNNING)
        wf_core_finish_if_done(core, req);
}

void
wf_dispatch_done(wf_core_t *core, wf_job_t *j, const uint8_t *result, uint32_t len)
{
    s_work_t w = {0};
    free(j->st.result);
    j->st.result = NULL;
    j->st.result_len = 0;
    if (len > 0) {
        j->st.result = malloc(len);
        if (!j->st.result)
            abort();
        memcpy(j->st.result, result, len);
        j->st.result_len = len;
    }
    j->st.progress = 100;
    j->st.exit_code = 0;
    s_end(core, &w, j, WEFT_JOB_DONE, WEFT_REASON_SUCCEEDED, WF_NO_JOB);
    s_propagate(core, &w);
}

/* An attempt failed by its own fault (exit status, timeout): retry after backoff, or fail. */
static void
s_attempt_failed(wf_core_t *core, wf_job_t *j, int reason, int32_t exit_code, const char *msg)
{
    s_work_t w = {0};
    wf_timer_cancel(core->deadlines, &j->timer);
    j->st.failures++;
    j->st.exit_code = exit_code;
    wf_str_set(&j->st.error, msg && *msg ? msg : NULL, WF_MAX_MESSAGE);
    if (j->st.failures <= j->spec->retries) {
        uint32_t delay = wf_dispatch_backoff_ms(j->spec->retry_delay_ms, j->st.failures);
        if (delay == 0) {
            s_ready(core, j, WEFT_REASON_WAIT_SLOT);
        } else {
            j->st.retry_at_ms = core->wall + delay;
            wf_core_transition(core, j, WEFT_JOB_READY, WEFT_REASON_BACKOFF);
            wf_timer_set(core->deadlines, &j->timer, core->now + delay);
        }
        return;
    }
    s_end(core, &w, j, WEFT_JOB_FAILED, reason, WF_NO_JOB);
    s_propagate(core, &w);
}

void
wf_dispatch_failed(wf_core_t *core, wf_job_t *j, int32_t exit_code, const char *msg)
{
    /* A consumer enforces the timeout too, and its report can reach us in the same turn as our
     * own timer: if the deadline has passed, the attempt timed out, whoever noticed first. */
    if (j->spec->timeout_ms && wf_timer_armed(&j->timer) && j->timer.at <= core->now) {
        char why[96];
        snprintf(why, sizeof why, "timed out after %u ms", j->spec->timeout_ms);
        s_attempt_failed(core, j, WEFT_REASON_TIMEOUT, exit_code, why);
        return;
    }
    s_attempt_failed(core, j, WEFT_REASON_EXIT, exit_code, msg);
}

void
wf_dispatch_timer(wf_core_t *core, wf_job_t *j)
{
    if (j->st.state == WEFT_JOB_RUNNING) {
        char msg[96];
        snprintf(msg, sizeof msg, "timed out after %u ms", j->spec->timeout_ms);
        if (j->owner && core->hooks.cancel_attempt)
            core->hooks.cancel_attempt(core, j->owner, j->req->rec.id, j->idx, j->st.attempt);
        wf_board_detach(core->board, j);
        s_attempt_failed(core, j, WEFT_REASON_TIMEOUT, -1, msg);
    } else if (j->st.state == WEFT_JOB_READY) {
        s_ready(core, j, WEFT_REASON_WAIT_SLOT); /* backoff over */
    }
}

void
wf_dispatch_lost(wf_core_t *core, wf_job_t *j, bool charge)
{
    s_work_t w = {0};
    wf_timer_cancel(core->deadlines, &j->timer);
    wf_board_detach(core->board, j);
    if (charge)
        j->st.lost++;
    if (j->st.lost <= j->spec->lost_retries) {
        s_ready(core, j, WEFT_REASON_REQUEUED);
        return;
    }
    wf_str_set(&j->st.error, "its consumer was lost", WF_MAX_MESSAGE);
    s_end(core, &w, j, WEFT_JOB_FAILED, WEFT_REASON_LOST, WF_NO_JOB);
    s_propagate(core, &w);
}

/* Stop whatever the job is doing now (queue, backoff, running attempt). */
static void
s_stop(wf_core_t *core, wf_job_t *j)
{
    wf_timer_cancel(core->deadlines, &j->timer);
    wf_board_withdraw(core->board, j);
    if (j->st.state == WEFT_JOB_RUNNING && j->owner) {
        if (core->hooks.cancel_attempt)
            core->hooks.cancel_attempt(core, j->owner, j->req->rec.id, j->idx, j->st.attempt);
        wf_board_detach(core->board, j);
    }
}

int
wf_dispatch_cancel_job(wf_core_t *core, wf_job_t *j)
{
    s_work_t w = {0};
    if (wf_job_state_terminal(j->st.state))
        return WEFT_ESTATE;
    s_stop(core, j);
    s_end(core, &w, j, WEFT_JOB_CANCELLED, WEFT_REASON_CANCELLED_USER, WF_NO_JOB);
    s_propagate(core, &w);
    return WEFT_OK;
}

int
wf_dispatch_cancel_request(wf_core_t *core, wf_req_t *req)
{
    if (req->rec.state != WEFT_REQ_RUNNING)
        return WEFT_ESTATE;
    req->rec.cancelled = true;
    wf_core_touch_req(core, req);
    /* Every unfinished job is cancelled, so no cascade is needed: nothing is left to decide. */
    for (uint32_t i = 0; i < req->spec.njobs && req->rec.state == WEFT_REQ_RUNNING; i++) {
        wf_job_t *j = &req->jobs[i];
        if (wf_job_state_terminal(j->st.state))
            continue;
        s_stop(core, j);
        j->st.cause = WF_NO_JOB;
        wf_core_transition(core, j, WEFT_JOB_CANCELLED, WEFT_REASON_CANCELLED_USER);
    }
    return WEFT_OK;
}

/* Re-arm the jobs in set (all terminal), then settle them and their live children. */
static void
s_rearm(wf_core_t *core, wf_req_t *r, wf_job_t **set, uint32_t n)
{
    s_work_t w = {0};
    for (uint32_t i = 0; i < n; i++) {
        wf_job_t *j = set[i];
        j->st.cause = WF_NO_JOB;
        if (j->st.state == WEFT_JOB_FAILED) {
            j->st.failures = 0;
            j->st.lost = 0;
            j->st.exit_code = 0;
            wf_str_set(&j->st.error, NULL, 0);
        }
        wf_core_transition(core, j, WEFT_JOB_PENDING, WEFT_REASON_WAIT_PARENTS);
    }
    for (uint32_t i = 0; i < n; i++) {
        wf_job_t *j = set[i];
        s_recount(j);
        /* A live child that counted this job as finished must wait for it again. */
        for (uint32_t k = 0; k < j->spec->nchildren; k++) {
            wf_job_t *c = &r->jobs[j->spec->children[k]];
            if (c->st.state == WEFT_JOB_PENDING)
                s_recount(c);
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        wf_job_t *j = set[i];
        if (j->st.state != WEFT_JOB_PENDING)
            continue;
        if (j->spec->when == WEFT_WHEN_SUCCESS && j->fail_cause != WF_NO_JOB)
            s_end(core, &w, j, WEFT_JOB_CANCELLED, WEFT_REASON_CANCELLED_PARENT, j->fail_cause);
        else if (j->waiting == 0)
            s_decide(core, &w, j);
    }
    s_propagate(core, &w);
}

int
wf_dispatch_retry_job(wf_core_t *core, wf_job_t *x)
{
    if (!s_bad(x->st.state))
        return WEFT_ESTATE;
    wf_req_t *r = x->req;
    /* The set: x and every job whose cancel x's failure caused, found by walking down from x
     * through the jobs it cancelled (a cascade only travels through cancelled jobs). */
    wf_job_t **set = malloc(sizeof *set * r->spec.njobs);
    bool *seen = calloc(r->spec.njobs, 1);
    if (!set || !seen)
        abort();
    uint32_t n = 0;
    set[n++] = x;
    seen[x->idx] = true;
    for (uint32_t head = 0; head < n; head++) {
        wf_job_t *p = set[head];
        for (uint32_t k = 0; k < p->spec->nchildren; k++) {
            wf_job_t *c = &r->jobs[p->spec->children[k]];
            if (seen[c->idx])
                continue;
            if (c->st.state == WEFT_JOB_CANCELLED && c->st.reason == WEFT_REASON_CANCELLED_PARENT &&
                c->st.cause == x->idx) {
                seen[c->idx] = true;
                set[n++] = c;
            }
        }
    }
    s_rearm(core, r, set, n);
    free(seen);
    free(set);
    return WEFT_OK;
}

int
wf_dispatch_retry_request(wf_core_t *core, wf_req_t *r)
{
    wf_job_t **set = malloc(sizeof *set * (r->spec.njobs ? r->spec.njobs : 1));
    if (!set)
        abort();
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->spec.njobs; i++)
        if (s_bad(r->jobs[i].st.state))
            set[n++] = &r->jobs[i];
    if (n == 0) {
        free(set);
        return WEFT_ESTATE;
    }
    s_rearm(core, r, set, n);
    free(set);
    return WEFT_OK;
}
