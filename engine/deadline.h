/*
 * deadline.h -- a min-heap of intrusive timers: leases, heartbeats, timeouts, backoffs.
 * It gives the event loop its poll timeout (beanstalkd's prottick).  The owner embeds a
 * wf_timer_t in its object; setting an armed timer moves it; cancelling is O(log n).
 * Time is an argument (ms on the monotonic clock); the heap never reads a clock.
 * Workload: one timer per consumer and per running or backing-off job; 10^6 timers is fine.
 */
#ifndef WF_DEADLINE_H
#define WF_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct wf_timer {
    int64_t at;        /* when it is due */
    uint32_t slot;     /* heap position + 1; 0 when not armed */
    int kind;          /* the owner's tag: what kind of object `obj` is */
    void *obj;         /* the owner's object */
} wf_timer_t;

typedef struct wf_deadlines wf_deadlines_t;

wf_deadlines_t *wf_deadlines_new(void);
/* Timers still armed are simply forgotten (the heap does not own them). */
void wf_deadlines_destroy(wf_deadlines_t **dl_p);
/* Initialise a timer (not armed) with its owner tag. */
void wf_timer_init(wf_timer_t *t, int kind, void *obj);
/* Arm the timer for `at`, or move it there if already armed. */
void wf_timer_set(wf_deadlines_t *dl, wf_timer_t *t, int64_t at);
/* Disarm; a no-op when not armed. */
void wf_timer_cancel(wf_deadlines_t *dl, wf_timer_t *t);
static inline bool
wf_timer_armed(const wf_timer_t *t)
{
    return t->slot != 0;
}
/* The earliest `at`, or INT64_MAX when empty. */
int64_t wf_deadlines_next(const wf_deadlines_t *dl);
/* Remove and return one timer due at or before now (earliest first), or NULL. */
wf_timer_t *wf_deadlines_pop_due(wf_deadlines_t *dl, int64_t now);
uint32_t wf_deadlines_count(const wf_deadlines_t *dl);

#endif
