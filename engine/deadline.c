/*
 * deadline.c -- binary min-heap of intrusive timers, keyed by `at`.
 *
 * Invariants:
 *   - heap[0..count) holds the armed timers; heap[i]->at <= heap[2i+1]->at, heap[2i+2]->at;
 *   - a timer is armed iff its slot != 0, and then heap[slot - 1] == that timer: the slot is
 *     how cancel and move find their timer in O(1) and fix the heap in O(log n);
 *   - timers with equal `at` come out in no particular order (callers must not rely on it).
 * The heap owns only its pointer array, never the timers.
 * Workload: one timer per consumer and per running or backing-off job (up to ~10^6); every
 * heartbeat moves one, every loop turn reads the minimum and pops the due ones.
 */
#include "deadline.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

struct wf_deadlines {
    wf_timer_t **heap;
    uint32_t count;
    uint32_t cap;
};

static void *
s_realloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p) {
        fprintf(stderr, "weft: out of memory (deadlines, %zu bytes)\n", size);
        abort();
    }
    return p;
}

static inline void
s_place(wf_deadlines_t *dl, uint32_t i, wf_timer_t *t)
{
    dl->heap[i] = t;
    t->slot = i + 1;
}

/* Move the timer at i towards the root while it is earlier than its parent. */
static void
s_up(wf_deadlines_t *dl, uint32_t i)
{
    wf_timer_t *t = dl->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (dl->heap[parent]->at <= t->at)
            break;
        s_place(dl, i, dl->heap[parent]);
        i = parent;
    }
    s_place(dl, i, t);
}

/* Move the timer at i towards the leaves while a child is earlier. */
static void
s_down(wf_deadlines_t *dl, uint32_t i)
{
    wf_timer_t *t = dl->heap[i];
    uint32_t n = dl->count;
    for (;;) {
        /* 64-bit index arithmetic: 2i+1 overflows uint32 near the top of the slot range. */
        uint64_t left = (uint64_t)i * 2 + 1;
        if (left >= n)
            break;
        uint32_t child = (uint32_t)left;
        if (child + 1 < n && dl->heap[child + 1]->at < dl->heap[child]->at)
            child++;
        if (t->at <= dl->heap[child]->at)
            break;
        s_place(dl, i, dl->heap[child]);
        i = child;
    }
    s_place(dl, i, t);
}

/* Restore order around i after its timer's `at` changed in either direction. */
static void
s_fix(wf_deadlines_t *dl, uint32_t i)
{
    if (i > 0 && dl->heap[(i - 1) / 2]->at > dl->heap[i]->at)
        s_up(dl, i);
    else
        s_down(dl, i);
}

wf_deadlines_t *
wf_deadlines_new(void)
{
    wf_deadlines_t *dl = s_realloc(NULL, sizeof *dl);
    dl->heap = NULL;
    dl->count = 0;
    dl->cap = 0;
    return dl;
}

void
wf_deadlines_destroy(wf_deadlines_t **dl_p)
{
    if (!dl_p || !*dl_p)
        return;
    free((*dl_p)->heap);
    free(*dl_p);
    *dl_p = NULL;
}

void
wf_timer_init(wf_timer_t *t, int kind, void *obj)
{
    t->at = 0;
    t->slot = 0;
    t->kind = kind;
    t->obj = obj;
}

void
wf_timer_set(wf_deadlines_t *dl, wf_timer_t *t, int64_t at)
{
    if (t->slot) {
        assert(t->slot <= dl->count && dl->heap[t->slot - 1] == t);
        t->at = at;
        s_fix(dl, t->slot - 1);
        return;
    }
    if (dl->count == dl->cap) {
        /* slot = position + 1 must fit in uint32 and never be 0. */
        assert(dl->cap < UINT32_MAX / 2);
        dl->cap = dl->cap ? dl->cap * 2 : 64;
        dl->heap = s_realloc(dl->heap, (size_t)dl->cap * sizeof *dl->heap);
    }
    t->at = at;
    uint32_t i = dl->count++;
    s_place(dl, i, t);
    s_up(dl, i);
}

void
wf_timer_cancel(wf_deadlines_t *dl, wf_timer_t *t)
{
    if (!t->slot)
        return;
    uint32_t i = t->slot - 1;
    assert(i < dl->count && dl->heap[i] == t);
    t->slot = 0;
    uint32_t last = --dl->count;
    if (i == last)
        return;
    /* The last timer fills the hole; it may belong above or below it. */
    s_place(dl, i, dl->heap[last]);
    s_fix(dl, i);
}

int64_t
wf_deadlines_next(const wf_deadlines_t *dl)
{
    return dl->count ? dl->heap[0]->at : INT64_MAX;
}

wf_timer_t *
wf_deadlines_pop_due(wf_deadlines_t *dl, int64_t now)
{
    if (!dl->count || dl->heap[0]->at > now)
        return NULL;
    wf_timer_t *t = dl->heap[0];
    wf_timer_cancel(dl, t);
    return t;
}

uint32_t
wf_deadlines_count(const wf_deadlines_t *dl)
{
    return dl->count;
}
