/*
 * dispatcher.h -- the rules: parent counters, trigger rules, cascade, retries and backoff,
 * timeouts, lost consumers, cancel and retry.  Pure over the in-memory model: no I/O, no
 * clock (core->now / core->wall), every change through wf_core_transition.
 *
 * Releasing dependents costs O(children): a job that becomes terminal decrements each child's
 * `waiting` and decides it when it reaches zero (or at once for a cascade).  No scan of a
 * request happens on the path from a parent's completion to its children reaching the board.
 * Cascades run on an explicit worklist, so a 10^6-job chain cannot overflow the stack.
 */
#ifndef WF_DISPATCHER_H
#define WF_DISPATCHER_H

#include "board.h"
#include "runtime.h"

/* A new request: release every job without needs. */
void wf_dispatch_start(wf_core_t *core, wf_req_t *req);
/* A request loaded from the store: recompute counters, re-queue RUNNING jobs (REQUEUED),
 * offer READY ones, re-arm backoffs, and settle anything left undecided. */
void wf_dispatch_resume(wf_core_t *core, wf_req_t *req);

/* A consumer reported the outcome of the job's current attempt (fencing done by the caller).
 * done: result kept; failed: exit code and message, then retry with backoff or fail. */
void wf_dispatch_done(wf_core_t *core, wf_job_t *job, const uint8_t *result, uint32_t len);
void wf_dispatch_failed(wf_core_t *core, wf_job_t *job, int32_t exit_code, const char *msg);
/* A job's timer fired: a running job timed out, or a backing-off job may go. */
void wf_dispatch_timer(wf_core_t *core, wf_job_t *job);
/* The job's consumer was lost while it ran this attempt: back to ready, spending one of its
 * lost_retries if charge (a crash or silence), or fail when they are spent.  A consumer that
 * leaves cleanly (BYE) hands its attempts back with charge false. */
void wf_dispatch_lost(wf_core_t *core, wf_job_t *job, bool charge);

/* Cancel one job (and cascade) or a whole request.  ESTATE if the job is already terminal. */
int wf_dispatch_cancel_job(wf_core_t *core, wf_job_t *job);
int wf_dispatch_cancel_request(wf_core_t *core, wf_req_t *req);
/* Re-run a failed or cancelled job with fresh budgets and re-arm exactly the jobs its failure
 * cancelled.  ESTATE if it is not failed or cancelled. */
int wf_dispatch_retry_job(wf_core_t *core, wf_job_t *job);
/* The same for every failed or cancelled job of the request. */
int wf_dispatch_retry_request(wf_core_t *core, wf_req_t *req);

/* The backoff before attempt n+1 after n own failures: retry_delay * 2^(n-1), capped. */
uint32_t wf_dispatch_backoff_ms(uint32_t retry_delay_ms, uint32_t failures);

#endif
