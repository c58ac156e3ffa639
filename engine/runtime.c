/*
 * runtime.c -- requests and jobs in memory, and wf_core_transition, the one door every state
 * change of a job passes through (see runtime.h for the invariants it keeps).
 */
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"

static void *
s_alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        abort();
    return p;
}

static void *
s_grow(void *p, uint32_t *cap, size_t elem)
{
    *cap = *cap ? *cap * 2 : 16;
    p = realloc(p, (size_t)*cap * elem);
    if (!p)
        abort();
    return p;
}

wf_core_t *
wf_core_new(const wf_core_hooks_t *hooks)
{
    wf_core_t *c = s_alloc(sizeof *c);
    c->deadlines = wf_deadlines_new();
    c->board = wf_board_new(c);
    if (hooks)
        c->hooks = *hooks;
    return c;
}

static void
s_req_free(wf_core_t *core, wf_req_t *r)
{
    for (uint32_t i = 0; i < r->spec.njobs; i++) {
        wf_job_t *j = &r->jobs[i];
        wf_timer_cancel(core->deadlines, &j->timer);
        wf_board_withdraw(core->board, j);
        wf_board_detach(core->board, j);
        wf_jobstate_fini(&j->st);
    }
    for (uint32_t i = 0; i < r->npools; i++)
        wf_jobheap_destroy(&r->pools[i].waiting);
    free(r->pools);
    free(r->jobs);
    wf_reqspec_fini(&r->spec);
    wf_reqrec_fini(&r->rec);
    free(r);
}

void
wf_core_destroy(wf_core_t **core_p)
{
    if (!core_p || !*core_p)
        return;
    wf_core_t *c = *core_p;
    for (uint32_t i = 0; i < c->nreqs; i++)
        s_req_free(c, c->reqs[i]);
    free(c->reqs);
    wf_board_destroy(&c->board);
    wf_deadlines_destroy(&c->deadlines);
    free(c->dirty_jobs);
    free(c->events);
    free(c);
    *core_p = NULL;
}

void
wf_core_set_time(wf_core_t *core, int64_t now, int64_t wall)
{
    core->now = now;
    core->wall = wall;
}

static void
s_insert(wf_core_t *core, wf_req_t *r)
{
    if (core->nreqs == core->reqs_cap)
        core->reqs = s_grow(core->reqs, &core->reqs_cap, sizeof *core->reqs);
    /* Ids only grow, except when a finished request is loaded back for a retry. */
    uint32_t pos = core->nreqs;
    while (pos > 0 && core->reqs[pos - 1]->rec.id > r->rec.id)
        pos--;
    memmove(&core->reqs[pos + 1], &core->reqs[pos], (core->nreqs - pos) * sizeof *core->reqs);
    core->reqs[pos] = r;
    core->nreqs++;
}

wf_req_t *
wf_core_find(const wf_core_t *core, uint64_t id)
{
    uint32_t lo = 0, hi = core->nreqs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint64_t mid_id = core->reqs[mid]->rec.id;
        if (mid_id == id)
            return core->reqs[mid];
        if (mid_id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void
s_req_setup(wf_req_t *r)
{
    r->npools = r->rec.npools;
    r->pools = s_alloc(sizeof(wf_pool_t) * (r->npools ? r->npools : 1));
    for (uint32_t i = 0; i < r->npools; i++) {
        r->pools[i].name = r->rec.pools[i].name;
        r->pools[i].limit = r->rec.pools[i].limit;
        r->pools[i].waiting = wf_jobheap_new();
    }
}

static void
s_job_setup(wf_req_t *r, uint32_t idx)
{
    wf_job_t *j = &r->jobs[idx];
    j->req = r;
    j->idx = idx;
    j->spec = &r->spec.jobs[idx];
    j->fail_cause = WF_NO_JOB;
    j->skip_cause = WF_NO_JOB;
    j->pool = -1;
    if (j->spec->pool)
        for (uint32_t p = 0; p < r->npools; p++)
            if (strcmp(r->pools[p].name, j->spec->pool) == 0)
                j->pool = (int32_t)p;
    wf_timer_init(&j->timer, WF_TIMER_JOB, j);
}

wf_req_t *
wf_core_add_new(wf_core_t *core, uint64_t id, wf_reqspec_t *spec)
{
    wf_req_t *r = s_alloc(sizeof *r);
    r->rec.id = id;
    r->rec.name = spec->name;
    r->rec.session = spec->session ? spec->session : strdup("default");
    r->rec.key = spec->key;
    r->rec.state = WEFT_REQ_RUNNING;
    r->rec.created_ms = core->wall;
    r->rec.njobs = spec->njobs;
    r->rec.npools = spec->npools;
    r->rec.pools = spec->pools;
    spec->name = spec->session = spec->key = NULL;
    spec->pools = NULL;
    spec->npools = 0;
    wf_reqspec_pack(spec); /* it lives as long as the request: keep it compact */
    r->spec = *spec;
    memset(spec, 0, sizeof *spec);
    s_req_setup(r);
    r->jobs = s_alloc(sizeof(wf_job_t) * r->spec.njobs);
    for (uint32_t i = 0; i < r->spec.njobs; i++) {
        s_job_setup(r, i);
        wf_job_t *j = &r->jobs[i];
        j->st.state = WEFT_JOB_PENDING;
        j->st.reason = WEFT_REASON_WAIT_PARENTS;
        j->st.cause = WF_NO_JOB;
        j->waiting = j->spec->nneeds;
    }
    r->unfinished = r->spec.njobs;
    r->count[WEFT_JOB_PENDING] = r->spec.njobs;
    r->is_new = true;
    wf_core_touch_req(core, r);
    s_insert(core, r);
    return r;
}

wf_req_t *
wf_core_add_loaded(wf_core_t *core, wf_reqrec_t *rec)
{
    wf_req_t *r = s_alloc(sizeof *r);
    r->rec = *rec;
    memset(rec, 0, sizeof *rec);
    s_req_setup(r);
    r->spec.njobs = r->rec.njobs;
    r->spec.jobs_cap = r->rec.njobs;
    r->spec.jobs = s_alloc(sizeof(wf_jobspec_t) * (r->rec.njobs ? r->rec.njobs : 1));
    r->jobs = s_alloc(sizeof(wf_job_t) * (r->rec.njobs ? r->rec.njobs : 1));
    s_insert(core, r);
    return r;
}

int
wf_core_load_job(wf_req_t *r, uint32_t idx, wf_jobspec_t *spec, wf_jobstate_t *st)
{
    if (idx >= r->spec.njobs)
        return WEFT_ESTORE;
    r->spec.jobs[idx] = *spec;
    memset(spec, 0, sizeof *spec);
    s_job_setup(r, idx);
    r->jobs[idx].st = *st;
    memset(st, 0, sizeof *st);
    return WEFT_OK;
}

void
wf_core_evict(wf_core_t *core, wf_req_t *r)
{
    for (uint32_t i = 0; i < core->nreqs; i++) {
        if (core->reqs[i] == r) {
            memmove(&core->reqs[i], &core->reqs[i + 1], (core->nreqs - i - 1) * sizeof *core->reqs);
            core->nreqs--;
            break;
        }
    }
    s_req_free(core, r);
}

/* ---- the turn's changes ---- */

void
wf_core_touch(wf_core_t *core, wf_job_t *job)
{
    if (job->dirty)
        return;
    if (core->ndirty == core->dirty_cap)
        core->dirty_jobs = s_grow(core->dirty_jobs, &core->dirty_cap, sizeof *core->dirty_jobs);
    core->dirty_jobs[core->ndirty++] = job;
    job->dirty = true;
}

void
wf_core_touch_req(wf_core_t *core, wf_req_t *req)
{
    if (req->dirty)
        return;
    req->dirty = true;
    req->next_dirty = core->dirty_reqs;
    core->dirty_reqs = req;
}

static weft_event_t *
s_event(wf_core_t *core, wf_req_t *r)
{
    if (core->nevents == core->events_cap)
        core->events = s_grow(core->events, &core->events_cap, sizeof *core->events);
    weft_event_t *ev = &core->events[core->nevents++].ev;
    memset(ev, 0, sizeof *ev);
    ev->request = r->rec.id;
    ev->time_ms = core->wall;
    return ev;
}

static void
s_job_event(wf_core_t *core, wf_job_t *job)
{
    weft_event_t *ev = s_event(core, job->req);
    ev->job_index = job->idx;
    snprintf(ev->job, sizeof ev->job, "%s", job->spec->id);
    ev->state = job->st.state;
    ev->reason = job->st.reason;
    ev->attempt = job->st.attempt;
    ev->progress = job->st.progress;
}

void
wf_core_progress_event(wf_core_t *core, wf_job_t *job)
{
    s_job_event(core, job);
}

static void
s_finish_request(wf_core_t *core, wf_req_t *r)
{
    if (r->rec.cancelled)
        r->rec.state = WEFT_REQ_CANCELLED;
    else if (r->count[WEFT_JOB_FAILED] || r->count[WEFT_JOB_CANCELLED])
        r->rec.state = WEFT_REQ_FAILED;
    else
        r->rec.state = WEFT_REQ_SUCCEEDED;
    r->rec.finished_ms = core->wall;
    r->evict = true;
    wf_core_touch_req(core, r);
    weft_event_t *ev = s_event(core, r);
    ev->job_index = UINT32_MAX;
    ev->state = r->rec.state;
    if (core->hooks.request_finished)
        core->hooks.request_finished(core, r);
}

void
wf_core_finish_if_done(wf_core_t *core, wf_req_t *r)
{
    if (r->unfinished == 0 && r->rec.state == WEFT_REQ_RUNNING)
        s_finish_request(core, r);
}

void
wf_core_transition(wf_core_t *core, wf_job_t *job, int state, int reason)
{
    wf_req_t *r = job->req;
    int old = job->st.state;
    bool was_terminal = wf_job_state_terminal(old);
    bool is_terminal = wf_job_state_terminal(state);

    r->count[old]--;
    r->count[state]++;
    job->st.state = (uint8_t)state;
    job->st.reason = (uint8_t)reason;
    if (is_terminal && !was_terminal) {
        r->unfinished--;
        job->st.finished_ms = core->wall;
    } else if (!is_terminal && was_terminal) {
        r->unfinished++;
        job->st.finished_ms = 0;
        if (r->rec.state != WEFT_REQ_RUNNING) {
            /* A retry brings a finished request back to life. */
            r->rec.state = WEFT_REQ_RUNNING;
            r->rec.finished_ms = 0;
            r->rec.cancelled = false;
            r->evict = false;
            wf_core_touch_req(core, r);
        }
    }
    wf_core_touch(core, job);
    s_job_event(core, job);
    if (is_terminal && !was_terminal && r->unfinished == 0)
        s_finish_request(core, r);
}

void
wf_core_clear_turn(wf_core_t *core)
{
    for (uint32_t i = 0; i < core->ndirty; i++)
        core->dirty_jobs[i]->dirty = false;
    core->ndirty = 0;
    while (core->dirty_reqs) {
        wf_req_t *r = core->dirty_reqs;
        core->dirty_reqs = r->next_dirty;
        r->dirty = false;
        r->is_new = false;
        r->next_dirty = NULL;
    }
    core->nevents = 0;
}
