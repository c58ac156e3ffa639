/*
 * board.h -- who may run what, and when: consumers, their types and slots, leases, ready
 * queues by type, pools, priorities, pause.  Memory only: no LMDB, no sockets, no clock (time
 * comes in through the core).  The server turns its decisions into messages.
 *
 * Order of hand-out: a ready job goes only to a consumer that registered its type and has a
 * free slot, never past its pool's limit; among the jobs a consumer could take, the highest
 * priority first, then the oldest (lowest request id, then lowest job index).  Consumers are
 * served round-robin so none starves.  A consumer that registered a prefetch also takes that
 * many jobs beyond its slots, to queue, but never one with a timeout (it would start ticking
 * before the job does): such a job at the head of its choice waits for a free slot.
 *
 * Leases: a consumer holds one lease per attempt it runs.  A lease is released only when the
 * consumer reports that attempt (or is lost): an attempt the engine gave up on (timeout,
 * cancel) keeps its slot and its pool place until then, because its process may still run.
 * lease.job is non-NULL exactly while that job is RUNNING under that lease.
 * Workload: <= 10^4 consumers, 10^6 ready jobs; match runs once per loop turn that changed
 * something, costing O(grants * types-per-consumer * log(ready)).
 */
#ifndef WF_BOARD_H
#define WF_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "runtime.h"

#define WF_MAX_ROUTING_ID 255

typedef struct wf_lease {
    uint64_t req;
    uint32_t idx;
    uint32_t attempt;
    int32_t pool;   /* pool index in the request, -1 none */
    wf_job_t *job;  /* NULL once the engine gave up on this attempt */
} wf_lease_t;

typedef struct wf_consumer {
    uint8_t rid[WF_MAX_ROUTING_ID];
    size_t rid_len;
    char name[WF_MAX_NAME + 1];
    char host[WF_MAX_NAME + 1];
    uint32_t pid;
    uint32_t ntypes;
    struct wf_typeq **types;
    uint32_t slots;            /* attempts it runs at once */
    uint32_t prefetch;         /* attempts it queues beyond those (never one with a timeout) */
    uint32_t nleases;
    wf_lease_t *leases;        /* slots + prefetch entries; a running job knows its own
                                * (job->lease_slot), so a report finds it in O(1) */
    struct wf_board *board;    /* the board it joined */
    wf_timer_t timer;          /* liveness */
    int64_t last_heard;
    int fd;                    /* source fd of its last message (-1 inproc/unknown) */
    bool dead;                 /* lost: reaped at the end of the turn */
    bool unreachable;          /* a message to it could not be sent: lost next turn */
    struct wf_consumer *next;
} wf_consumer_t;

typedef enum wf_board_mode { WF_BOARD_RUNNING = 0, WF_BOARD_PAUSED } wf_board_mode;

typedef struct wf_board wf_board_t;

wf_board_t *wf_board_new(wf_core_t *core);
void wf_board_destroy(wf_board_t **board_p);

/* Register a consumer from its HELLO.  Returns NULL (with a reason in why) when the routing id
 * is already registered or too long. */
wf_consumer_t *wf_board_join(wf_board_t *b, const uint8_t *rid, size_t rid_len,
                             const wf_msg_t *hello, char *why, size_t why_len);
wf_consumer_t *wf_board_find(wf_board_t *b, const uint8_t *rid, size_t rid_len);
/* Call fn for each live consumer. */
void wf_board_each(wf_board_t *b, void (*fn)(wf_consumer_t *c, void *arg), void *arg);
uint32_t wf_board_consumer_count(const wf_board_t *b);
/* Remove a consumer marked dead and free it (its leases must have been handled). */
void wf_board_reap(wf_board_t *b);

/* A job became READY and may be handed out now. */
void wf_board_offer(wf_board_t *b, wf_job_t *job);
/* Take a job out of whatever queue it is in (it is being cancelled or re-armed). */
void wf_board_withdraw(wf_board_t *b, wf_job_t *job);

/* Hand out everything that can go now.  For each grant fn(c, job) is called: it must record
 * the hand-out (state RUNNING, attempt+1) and then call wf_board_lease_add. */
typedef void(wf_grant_fn)(wf_consumer_t *c, wf_job_t *job, void *arg);
void wf_board_match(wf_board_t *b, wf_grant_fn *fn, void *arg);

void wf_board_lease_add(wf_board_t *b, wf_consumer_t *c, wf_job_t *job);
/* A lease for an attempt c runs that the engine does not know (any more): it holds a slot, and
 * counts as running, until c reports it.  The caller checks c has a free entry. */
void wf_board_lease_hold(wf_board_t *b, wf_consumer_t *c, uint64_t req, uint32_t idx,
                         uint32_t attempt);
/* The lease of (req, idx, attempt) on c; NULL if c holds none. */
wf_lease_t *wf_board_lease_find(wf_consumer_t *c, uint64_t req, uint32_t idx, uint32_t attempt);
/* Release a lease: frees the slot and the pool place; clears job->owner. */
void wf_board_lease_end(wf_board_t *b, wf_consumer_t *c, wf_lease_t *lease);
/* The engine gave up on a running attempt (timeout, cancel): keep the lease, drop the job. */
void wf_board_detach(wf_board_t *b, wf_job_t *job);
/* Forget every lease of every consumer (store reload). */
void wf_board_forget_leases(wf_board_t *b);

void wf_board_set_mode(wf_board_t *b, wf_board_mode mode);
wf_board_mode wf_board_mode_get(const wf_board_t *b);
/* Why a READY job is still waiting: WAIT_CONSUMER, WAIT_SLOT, WAIT_POOL, PAUSED, BACKOFF. */
int wf_board_ready_reason(const wf_board_t *b, const wf_job_t *job);
/* True if a live consumer registered this type. */
bool wf_board_type_served(const wf_board_t *b, const char *type);
/* The name of one of a consumer's types. */
const char *wf_board_type_name(const struct wf_typeq *q);
/* Running attempts across all consumers (leases, including those given up on). */
uint32_t wf_board_running(const wf_board_t *b);

/* The intrusive priority heap of jobs used for type queues and pool waits. */
typedef struct wf_jobheap wf_jobheap_t;
wf_jobheap_t *wf_jobheap_new(void);
void wf_jobheap_destroy(wf_jobheap_t **h_p);

#endif
