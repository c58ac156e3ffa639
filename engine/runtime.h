/*
 * runtime.h -- the engine's in-memory model of the requests it is running, and the one
 * primitive every change of a job goes through.
 *
 * Invariants (checked by the dispatcher and board, relied on by the server):
 *   - every unfinished request of the store is in memory (loaded at open or at submit); a
 *     request that finishes is evicted after the commit that records it, and loaded back from
 *     the store if it is retried;
 *   - job.waiting == the number of the job's parents that are not terminal;
 *   - a job's durable record (job.st) changes only through wf_core_transition() or with
 *     wf_core_touch(); both put the job on the turn's dirty list, so the end-of-turn commit
 *     writes it once however often it changed (group commit);
 *   - nothing a transition causes is visible outside before that commit: events, replies and
 *     hand-outs wait in the outbox (server.c) and are dropped if the commit fails.
 * Workload: up to 10^6 jobs per request, a few hundred bytes of memory each.
 */
#ifndef WF_RUNTIME_H
#define WF_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "deadline.h"
#include "schema.h"

struct wf_board;
struct wf_consumer;
struct wf_core;

enum { WF_TIMER_JOB = 1, WF_TIMER_CONSUMER, WF_TIMER_HEARTBEAT };

/* A pool of one request: how many of its jobs run now, and the ready jobs waiting for it. */
typedef struct wf_pool {
    const char *name; /* borrowed from the request record */
    uint32_t limit;
    uint32_t running;
    struct wf_jobheap *waiting; /* ready jobs blocked by the limit (board.c) */
} wf_pool_t;

typedef struct wf_job {
    struct wf_req *req;
    uint32_t idx;
    wf_jobspec_t *spec;       /* = &req->spec.jobs[idx] */
    wf_jobstate_t st;         /* the durable state */
    uint32_t waiting;         /* parents not yet terminal */
    uint32_t fail_cause;      /* root cause of the first failed/cancelled parent, or WF_NO_JOB */
    uint32_t skip_cause;      /* root cause of the first skipped parent, or WF_NO_JOB */
    int32_t pool;             /* index into req->pools, -1 for none */
    bool dirty;               /* on the core's dirty list this turn */
    wf_timer_t timer;         /* running: timeout; ready: end of backoff */
    struct wf_consumer *owner; /* running: the consumer holding the lease */
    uint32_t heap_slot;       /* position + 1 in the board heap it is queued in; 0 = none */
    uint32_t lease_slot;      /* owner set: where its lease is in owner->leases (board.c);
                               * a hint, checked before use (fills padding before heap) */
    struct wf_jobheap *heap;  /* which heap */
} wf_job_t;

typedef struct wf_req {
    wf_reqrec_t rec;          /* durable header */
    wf_reqspec_t spec;        /* jobs' specs (spec.jobs[i]); header fields unused */
    wf_job_t *jobs;           /* spec.njobs entries */
    uint32_t unfinished;      /* jobs not terminal */
    uint32_t count[WEFT_JOB_STATE_COUNT_];
    uint32_t npools;
    wf_pool_t *pools;
    bool is_new;              /* submitted this turn: the commit writes it whole */
    bool dirty;               /* header changed this turn */
    bool evict;               /* finished: free after the commit */
    struct wf_req *next_dirty;
} wf_req_t;

/* One event, queued until the commit that makes it true. */
typedef struct wf_evt {
    weft_event_t ev;
} wf_evt_t;

/* Hooks the server gives the core: what to do, after commit, about things that happened. */
typedef struct wf_core_hooks {
    /* A running attempt must stop (cancel or timeout): tell its consumer. */
    void (*cancel_attempt)(struct wf_core *core, struct wf_consumer *c, uint64_t req, uint32_t idx,
                           uint32_t attempt);
    /* A request finished (its state is final in rec). */
    void (*request_finished)(struct wf_core *core, wf_req_t *req);
    void *arg;
} wf_core_hooks_t;

typedef struct wf_core {
    int64_t now;              /* monotonic ms, cached for the turn */
    int64_t wall;             /* wall-clock ms, cached for the turn (records only) */
    wf_deadlines_t *deadlines;
    struct wf_board *board;
    /* requests in memory, by id (a sorted growable array: ids only grow) */
    wf_req_t **reqs;
    uint32_t nreqs, reqs_cap;
    /* this turn's changes */
    wf_job_t **dirty_jobs;
    uint32_t ndirty, dirty_cap;
    wf_req_t *dirty_reqs;
    wf_evt_t *events;
    uint32_t nevents, events_cap;
    wf_core_hooks_t hooks;
    uint64_t stale_reports;   /* fencing counter */
    int64_t requeue_grace_ms; /* resume: how long attempts found running wait for their
                               * consumer to reconnect and re-adopt them (0: none) */
} wf_core_t;

wf_core_t *wf_core_new(const wf_core_hooks_t *hooks);
void wf_core_destroy(wf_core_t **core_p);
void wf_core_set_time(wf_core_t *core, int64_t now, int64_t wall);

/* Build a request in memory from a resolved spec (moved: *spec is zeroed) under id.  The
 * request is new (is_new) and every job pending; call wf_dispatch_start to release roots. */
wf_req_t *wf_core_add_new(wf_core_t *core, uint64_t id, wf_reqspec_t *spec);
/* Create an empty loaded request from a record (moved); jobs are filled by wf_core_load_job,
 * then wf_dispatch_resume rebuilds counters and queues. */
wf_req_t *wf_core_add_loaded(wf_core_t *core, wf_reqrec_t *rec);
int wf_core_load_job(wf_req_t *req, uint32_t idx, wf_jobspec_t *spec, wf_jobstate_t *st);
wf_req_t *wf_core_find(const wf_core_t *core, uint64_t id);
/* Remove a request from memory and free it (after the commit recording it finished). */
void wf_core_evict(wf_core_t *core, wf_req_t *req);

/* The one way to change a job's state: updates counts, marks dirty, queues the event, and
 * finishes the request when its last job becomes terminal. */
void wf_core_transition(wf_core_t *core, wf_job_t *job, int state, int reason);
/* Mark a job dirty after changing st fields other than state (progress, result, ...). */
void wf_core_touch(wf_core_t *core, wf_job_t *job);
/* Queue a progress event (no state change). */
void wf_core_progress_event(wf_core_t *core, wf_job_t *job);
void wf_core_touch_req(wf_core_t *core, wf_req_t *req);
/* Finish a request whose jobs are all terminal (resume of an inconsistent record). */
void wf_core_finish_if_done(wf_core_t *core, wf_req_t *req);
/* Forget this turn's dirty lists and events (after commit, or after a failed one). */
void wf_core_clear_turn(wf_core_t *core);

#endif
