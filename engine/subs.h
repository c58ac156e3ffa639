/*
 * subs.h -- which event topics anyone subscribes to, read off an XPUB socket's subscription
 * messages, so the loop encodes and sends only events someone will receive.
 *
 * Event topics are 8-byte big-endian request ids; an empty subscription means "everything".
 * A subscription of any other length is a prefix we cannot match cheaply: it counts as
 * "everything" too (ZeroMQ still filters for the subscriber).  XPUB passes on only the first
 * subscription and the last unsubscription of a topic, so each topic is simply in or out.
 * Workload: a handful of subscribers (watchers, the embedding API's event streams); a linear
 * array is enough.
 */
#ifndef WF_SUBS_H
#define WF_SUBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* More distinct topics than this (a hostile subscriber) and the set stops tracking: every event
 * is sent, as without it. */
#define WF_SUBS_MAX_TOPICS 4096

typedef struct wf_subs {
    uint32_t all;     /* subscriptions that match every topic */
    bool overflow;    /* WF_SUBS_MAX_TOPICS was reached: everything from now on */
    uint64_t *topics; /* request ids subscribed to */
    uint32_t n, cap;
} wf_subs_t;

/* Apply one message read from an XPUB socket ([1 or 0][topic]); anything else is ignored. */
void wf_subs_update(wf_subs_t *s, const uint8_t *msg, size_t len);
/* True if an event of request `req` has a subscriber. */
bool wf_subs_wants(const wf_subs_t *s, uint64_t req);
void wf_subs_fini(wf_subs_t *s);

#endif
