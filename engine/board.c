/*
 * board.c -- consumers, type queues, pools and leases.  See board.h for the rules.
 *
 * Each job type has a queue (a binary heap ordered by priority, then age).  A job sits in at
 * most one heap at a time: its type queue while it may be handed out, or its pool's wait heap
 * while the pool is full.  Pool-blocked jobs are found lazily: when a queue's best job belongs
 * to a full pool it moves to the pool's heap; when the pool frees a place, the pool's best job
 * moves back to its type queue.  So no scan of ready jobs ever happens.
 */
#include "board.h"

#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct wf_jobheap {
    wf_job_t **v;
    uint32_t n, cap;
};

typedef struct wf_typeq {
    char *name;
    wf_jobheap_t *heap;
    uint32_t nconsumers; /* live consumers registered for this type */
} wf_typeq_t;

struct wf_board {
    wf_core_t *core;
    zhashx_t *queues;        /* type name -> wf_typeq_t */
    wf_consumer_t *consumers; /* singly linked; new ones at the head */
    uint32_t nconsumers;
    uint32_t rr;              /* round-robin start for match */
    uint32_t running;         /* leases held */
    wf_board_mode mode;
};

static void *
s_alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        abort();
    return p;
}

/* ---- the job heap ---- */

/* a before b: higher priority, then older request, then lower index. */
static bool
s_before(const wf_job_t *a, const wf_job_t *b)
{
    if (a->spec->priority != b->spec->priority)
        return a->spec->priority > b->spec->priority;
    if (a->req->rec.id != b->req->rec.id)
        return a->req->rec.id < b->req->rec.id;
    return a->idx < b->idx;
}

wf_jobheap_t *
wf_jobheap_new(void)
{
    return s_alloc(sizeof(wf_jobheap_t));
}

void
wf_jobheap_destroy(wf_jobheap_t **h_p)
{
    if (!h_p || !*h_p)
        return;
    wf_jobheap_t *h = *h_p;
    for (uint32_t i = 0; i < h->n; i++) {
        h->v[i]->heap = NULL;
        h->v[i]->heap_slot = 0;
    }
    free(h->v);
    free(h);
    *h_p = NULL;
}

static void
s_heap_place(wf_jobheap_t *h, uint32_t i, wf_job_t *j)
{
    h->v[i] = j;
    j->heap_slot = i + 1;
    j->heap = h;
}

static void
s_heap_up(wf_jobheap_t *h, uint32_t i)
{
    wf_job_t *j = h->v[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!s_before(j, h->v[p]))
            break;
        s_heap_place(h, i, h->v[p]);
        i = p;
    }
    s_heap_place(h, i, j);
}

static void
s_heap_down(wf_jobheap_t *h, uint32_t i)
{
    wf_job_t *j = h->v[i];
    for (;;) {
        uint32_t l = 2 * i + 1, best = i;
        const wf_job_t *bj = j;
        if (l < h->n && s_before(h->v[l], bj)) {
            best = l;
            bj = h->v[l];
        }
        if (l + 1 < h->n && s_before(h->v[l + 1], bj))
            best = l + 1;
        if (best == i)
            break;
        s_heap_place(h, i, h->v[best]);
        i = best;
    }
    s_heap_place(h, i, j);
}

static void
s_heap_push(wf_jobheap_t *h, wf_job_t *j)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->v = realloc(h->v, h->cap * sizeof *h->v);
        if (!h->v)
            abort();
    }
    h->v[h->n++] = j;
    s_heap_up(h, h->n - 1);
}

static void
s_heap_remove(wf_jobheap_t *h, wf_job_t *j)
{
    uint32_t i = j->heap_slot - 1;
    j->heap_slot = 0;
    j->heap = NULL;
    h->n--;
    if (i == h->n)
        return;
    s_heap_place(h, i, h->v[h->n]);
    s_heap_down(h, i);
    s_heap_up(h, h->v[i]->heap_slot - 1);
}

static wf_job_t *
s_heap_top(const wf_jobheap_t *h)
{
    return h->n ? h->v[0] : NULL;
}

/* ---- queues ---- */

static void
s_typeq_free(void **item_p)
{
    wf_typeq_t *q = *item_p;
    if (!q)
        return;
    wf_jobheap_destroy(&q->heap);
    free(q->name);
    free(q);
    *item_p = NULL;
}

static wf_typeq_t *
s_typeq(wf_board_t *b, const char *type)
{
    wf_typeq_t *q = zhashx_lookup(b->queues, type);
    if (!q) {
        q = s_alloc(sizeof *q);
        q->name = strdup(type);
        q->heap = wf_jobheap_new();
        zhashx_insert(b->queues, type, q);
    }
    return q;
}

wf_board_t *
wf_board_new(wf_core_t *core)
{
    wf_board_t *b = s_alloc(sizeof *b);
    b->core = core;
    b->queues = zhashx_new();
    zhashx_set_destructor(b->queues, s_typeq_free);
    return b;
}

static void
s_consumer_free(wf_consumer_t *c)
{
    free(c->types);
    free(c->leases);
    free(c);
}

void
wf_board_destroy(wf_board_t **board_p)
{
    if (!board_p || !*board_p)
        return;
    wf_board_t *b = *board_p;
    while (b->consumers) {
        wf_consumer_t *c = b->consumers;
        b->consumers = c->next;
        wf_timer_cancel(b->core->deadlines, &c->timer);
        s_consumer_free(c);
    }
    zhashx_destroy(&b->queues);
    free(b);
    *board_p = NULL;
}

/* ---- consumers ---- */

wf_consumer_t *
wf_board_find(wf_board_t *b, const uint8_t *rid, size_t rid_len)
{
    for (wf_consumer_t *c = b->consumers; c; c = c->next)
        if (!c->dead && c->rid_len == rid_len && memcmp(c->rid, rid, rid_len) == 0)
            return c;
    return NULL;
}

wf_consumer_t *
wf_board_join(wf_board_t *b, const uint8_t *rid, size_t rid_len, const wf_msg_t *hello, char *why,
              size_t why_len)
{
    if (rid_len == 0 || rid_len > WF_MAX_ROUTING_ID) {
        snprintf(why, why_len, "routing id of %zu bytes", rid_len);
        return NULL;
    }
    if (wf_board_find(b, rid, rid_len)) {
        snprintf(why, why_len, "HELLO from a consumer already registered");
        return NULL;
    }
    if ((uint64_t)hello->slots + hello->prefetch > WF_MAX_SLOTS) {
        snprintf(why, why_len, "slots %u + prefetch %u over %u", hello->slots, hello->prefetch,
                 (unsigned)WF_MAX_SLOTS);
        return NULL;
    }
    wf_consumer_t *c = s_alloc(sizeof *c);
    memcpy(c->rid, rid, rid_len);
    c->rid_len = rid_len;
    snprintf(c->name, sizeof c->name, "%s", hello->name);
    snprintf(c->host, sizeof c->host, "%s", hello->host);
    c->pid = hello->pid;
    c->slots = hello->slots;
    c->prefetch = hello->prefetch;
    c->leases = s_alloc(sizeof(wf_lease_t) * (c->slots + c->prefetch));
    c->types = s_alloc(sizeof(wf_typeq_t *) * hello->ntypes);
    for (uint32_t i = 0; i < hello->ntypes; i++) {
        wf_typeq_t *q = s_typeq(b, hello->types[i]);
        bool dup = false;
        for (uint32_t k = 0; k < c->ntypes; k++)
            dup |= c->types[k] == q;
        if (dup)
            continue;
        c->types[c->ntypes++] = q;
        q->nconsumers++;
    }
    c->fd = -1;
    c->board = b;
    c->last_heard = b->core->now;
    wf_timer_init(&c->timer, WF_TIMER_CONSUMER, c);
    c->next = b->consumers;
    b->consumers = c;
    b->nconsumers++;
    return c;
}

void
wf_board_each(wf_board_t *b, void (*fn)(wf_consumer_t *c, void *arg), void *arg)
{
    for (wf_consumer_t *c = b->consumers; c; c = c->next)
        if (!c->dead)
            fn(c, arg);
}

uint32_t
wf_board_consumer_count(const wf_board_t *b)
{
    return b->nconsumers;
}

void
wf_board_reap(wf_board_t *b)
{
    wf_consumer_t **pp = &b->consumers;
    while (*pp) {
        wf_consumer_t *c = *pp;
        if (!c->dead) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        for (uint32_t i = 0; i < c->ntypes; i++)
            c->types[i]->nconsumers--;
        for (uint32_t i = 0; i < c->nleases; i++)
            wf_board_lease_end(b, c, &c->leases[i--]);
        wf_timer_cancel(b->core->deadlines, &c->timer);
        b->nconsumers--;
        s_consumer_free(c);
    }
}

/* ---- offering and matching ---- */

static wf_pool_t *
s_pool(const wf_job_t *j)
{
    return j->pool >= 0 ? &j->req->pools[j->pool] : NULL;
}

void
wf_board_offer(wf_board_t *b, wf_job_t *job)
{
    if (job->heap)
        return;
    wf_pool_t *p = s_pool(job);
    if (p && p->running >= p->limit)
        s_heap_push(p->waiting, job);
    else
        s_heap_push(s_typeq(b, job->spec->type)->heap, job);
}

void
wf_board_withdraw(wf_board_t *b, wf_job_t *job)
{
    (void)b;
    if (job->heap)
        s_heap_remove(job->heap, job);
}

/* The best job c can take now, moving pool-blocked queue heads aside; NULL if none. */
static wf_job_t *
s_best_for(wf_consumer_t *c)
{
    wf_job_t *best = NULL;
    for (uint32_t i = 0; i < c->ntypes; i++) {
        wf_jobheap_t *h = c->types[i]->heap;
        wf_job_t *top;
        while ((top = s_heap_top(h)) != NULL) {
            wf_pool_t *p = s_pool(top);
            if (!p || p->running < p->limit)
                break;
            s_heap_remove(h, top);
            s_heap_push(p->waiting, top);
        }
        if (top && (!best || s_before(top, best)))
            best = top;
    }
    return best;
}

void
wf_board_match(wf_board_t *b, wf_grant_fn *fn, void *arg)
{
    if (b->mode != WF_BOARD_RUNNING || b->nconsumers == 0)
        return;
    /* Round-robin: start one further each time so no consumer always comes first. */
    uint32_t start = b->rr++ % b->nconsumers, i = 0;
    wf_consumer_t *first = b->consumers;
    for (; first && i < start; first = first->next, i++)
        ;
    for (uint32_t pass = 0; pass < 2; pass++) {
        wf_consumer_t *from = pass == 0 ? first : b->consumers;
        wf_consumer_t *to = pass == 0 ? NULL : first;
        for (wf_consumer_t *c = from; c != to; c = c->next) {
            while (!c->dead && c->nleases < c->slots + c->prefetch) {
                wf_job_t *j = s_best_for(c);
                /* A queued attempt waits for a runner, so its timeout would start before it
                 * does: a job with a timeout goes only to a free slot, never to the queue. */
                if (!j || (c->nleases >= c->slots && j->spec->timeout_ms > 0))
                    break;
                s_heap_remove(j->heap, j);
                fn(c, j, arg);
            }
        }
    }
}

/* ---- leases ---- */

/* Leases: a consumer's leases are packed in c->leases[0, nleases), in no order (ending one
 * moves the last into its place).  A running job records where its lease is (lease_slot), kept
 * up to date wherever a lease with a job is placed or moved, so a report finds its lease
 * without a scan; the record is only a hint, checked against the lease before it is used.  An
 * attempt given up on (lease.job NULL) has no job pointing at it: those, and reports that
 * match nothing, still take the scan. */

void
wf_board_lease_add(wf_board_t *b, wf_consumer_t *c, wf_job_t *job)
{
    job->lease_slot = c->nleases;
    wf_lease_t *l = &c->leases[c->nleases++];
    l->req = job->req->rec.id;
    l->idx = job->idx;
    l->attempt = job->st.attempt;
    l->pool = job->pool;
    l->job = job;
    job->owner = c;
    wf_pool_t *p = s_pool(job);
    if (p)
        p->running++;
    b->running++;
}

void
wf_board_lease_hold(wf_board_t *b, wf_consumer_t *c, uint64_t req, uint32_t idx, uint32_t attempt)
{
    c->leases[c->nleases++] = (wf_lease_t){.req = req, .idx = idx, .attempt = attempt, .pool = -1};
    b->running++; /* wf_board_lease_end takes it back */
}

wf_lease_t *
wf_board_lease_find(wf_consumer_t *c, uint64_t req, uint32_t idx, uint32_t attempt)
{
    /* The running attempt of a job c holds: where the job says its lease is. */
    wf_req_t *r = wf_core_find(c->board->core, req);
    if (r && idx < r->spec.njobs) {
        const wf_job_t *j = &r->jobs[idx];
        if (j->owner == c && j->lease_slot < c->nleases) {
            wf_lease_t *l = &c->leases[j->lease_slot];
            if (l->job == j && l->req == req && l->idx == idx && l->attempt == attempt)
                return l;
        }
    }
    /* An attempt given up on, or none of c's. */
    for (uint32_t i = 0; i < c->nleases; i++) {
        wf_lease_t *l = &c->leases[i];
        if (l->req == req && l->idx == idx && l->attempt == attempt) {
            assert(!l->job); /* a running job's lease is always found above */
            return l;
        }
    }
    return NULL;
}

void
wf_board_lease_end(wf_board_t *b, wf_consumer_t *c, wf_lease_t *lease)
{
    if (lease->job) {
        lease->job->owner = NULL;
        lease->job = NULL;
    }
    if (lease->pool >= 0) {
        wf_req_t *r = wf_core_find(b->core, lease->req);
        if (r && (uint32_t)lease->pool < r->npools) {
            wf_pool_t *p = &r->pools[lease->pool];
            if (p->running > 0)
                p->running--;
            /* A place freed: the pool's best waiting job goes back to its queue. */
            wf_job_t *w = s_heap_top(p->waiting);
            if (w && p->running < p->limit) {
                s_heap_remove(p->waiting, w);
                s_heap_push(s_typeq(b, w->spec->type)->heap, w);
            }
        }
    }
    *lease = c->leases[--c->nleases];
    if (lease->job) { /* the last lease moved into the freed place */
        lease->job->lease_slot = (uint32_t)(lease - c->leases);
        assert(lease->job->owner == c);
    }
    b->running--;
}

void
wf_board_detach(wf_board_t *b, wf_job_t *job)
{
    (void)b;
    wf_consumer_t *c = job->owner;
    if (!c)
        return;
    if (job->lease_slot < c->nleases && c->leases[job->lease_slot].job == job) {
        c->leases[job->lease_slot].job = NULL;
    } else {
        assert(!"a running job's lease_slot is wrong");
        for (uint32_t i = 0; i < c->nleases; i++)
            if (c->leases[i].job == job)
                c->leases[i].job = NULL;
    }
    job->owner = NULL;
}

void
wf_board_forget_leases(wf_board_t *b)
{
    for (wf_consumer_t *c = b->consumers; c; c = c->next) {
        for (uint32_t i = 0; i < c->nleases; i++)
            if (c->leases[i].job)
                c->leases[i].job->owner = NULL;
        b->running -= c->nleases;
        c->nleases = 0;
    }
}

void
wf_board_set_mode(wf_board_t *b, wf_board_mode mode)
{
    b->mode = mode;
}

wf_board_mode
wf_board_mode_get(const wf_board_t *b)
{
    return b->mode;
}

uint32_t
wf_board_running(const wf_board_t *b)
{
    return b->running;
}

int
wf_board_ready_reason(const wf_board_t *b, const wf_job_t *job)
{
    if (wf_timer_armed(&job->timer))
        return job->st.reason == WEFT_REASON_REQUEUED ? WEFT_REASON_REQUEUED : WEFT_REASON_BACKOFF;
    const wf_pool_t *p = s_pool(job);
    if (p && p->running >= p->limit)
        return WEFT_REASON_WAIT_POOL;
    if (b->mode == WF_BOARD_PAUSED)
        return WEFT_REASON_PAUSED;
    wf_typeq_t *q = zhashx_lookup(b->queues, job->spec->type);
    if (!q || q->nconsumers == 0)
        return WEFT_REASON_WAIT_CONSUMER;
    return WEFT_REASON_WAIT_SLOT;
}

bool
wf_board_type_served(const wf_board_t *b, const char *type)
{
    const wf_typeq_t *q = zhashx_lookup(b->queues, type);
    return q && q->nconsumers > 0;
}

const char *
wf_board_type_name(const struct wf_typeq *q)
{
    return q->name;
}
