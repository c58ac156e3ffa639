/*
 * server_int.h -- the server's private state, shared by server.c (the loop, the board, the
 * control socket) and server_client.c (the client endpoint).  Not for any other module.
 */
#ifndef WF_SERVER_INT_H
#define WF_SERVER_INT_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "board.h"
#include "subs.h"
#include "client.h"
#include "log.h"
#include "runtime.h"
#include "server.h"
#include "store.h"

/* A reply to a client waiting for the commit (encoded; replaced by ERROR if it fails). */
typedef struct s_creply {
    zframe_t *rid;
    uint64_t corr;
    uint8_t *buf;
    size_t len;
    bool durable; /* only true once committed: becomes ERROR(ESTORE) if the commit fails */
} s_creply_t;

typedef struct s_drainer {
    zframe_t *rid;
    uint64_t corr;
    struct s_drainer *next;
} s_drainer_t;

/* Someone waiting for a request to finish: a control caller (API) or a client (corr). */
typedef struct s_waiter {
    uint64_t req;
    zframe_t *rid;
    bool client;    /* answer on the client endpoint with FINISHED(corr) */
    uint64_t corr;
    struct s_waiter *next;
} s_waiter_t;

/* A control reply waiting for the commit; rc is rewritten to ESTORE if the commit fails. */
typedef struct s_reply {
    zframe_t *rid;
    int kind; /* 0: "i", 1: "i8s", 2: "ii", 3: "iiii" */
    int rc;
    uint64_t id;
    int a, b, c;
    char *msg;
} s_reply_t;

/* A live consumer's worker id (the `workers` database): the server keeps them sorted by
 * consumer address, set at HELLO and dropped when the consumer dies, so a hand-out finds the
 * id of the consumer it goes to with a binary search (behind a one-entry cache). */
typedef struct wf_srv_wkr {
    const wf_consumer_t *c;
    uint32_t id;
} wf_srv_wkr_t;

/* Log reads relayed to workers (client LOGS -> board LOGREQ ... LOGDATA -> client LOGS_R):
 * at most this many at once, this many per client connection, each answered ETIMEDOUT if its
 * worker says nothing for this long.  Each may bring back up to 1 MiB, so the cap also bounds
 * what the relays can have in the server's queues at once. */
#define WF_SRV_MAX_RELAYS 32u
#define WF_SRV_MAX_RELAYS_PER_CLIENT 4u
#define WF_SRV_RELAY_TIMEOUT_MS 5000
/* The deadline heap's tag for a relay's timer (runtime.h's kinds are 1..3). */
#define WF_SRV_TIMER_RELAY 100

typedef struct wf_relay {
    uint64_t corr;             /* ours, in LOGREQ and LOGDATA: unique for the server's life */
    zframe_t *rid;             /* the client that asked */
    uint64_t client_corr;
    uint8_t wrid[WF_MAX_ROUTING_ID]; /* the consumer asked: only its LOGDATA answers */
    uint8_t wrid_len;
    uint32_t worker;           /* its worker id, for messages */
    uint64_t offset;
    uint32_t max;
    bool unsent;               /* made this turn (so at the head of the list): its LOGREQ
                                * waits in the board's outbox, dropped with it if the commit
                                * fails */
    wf_timer_t timer;
    struct wf_relay *next;
} wf_relay_t;

/* One message to a consumer waiting in the outbox: its routing id and its encoded frame. */
typedef struct wf_board_out {
    uint8_t rid[WF_MAX_ROUTING_ID];
    uint8_t rid_len;
    uint8_t *buf; /* malloc'd by wf_msg_encode */
    size_t len;
} wf_board_out_t;

struct wf_server {
    wf_server_opts_t opts;
    wf_store_t *store;
    wf_batch_t *batch;
    wf_core_t *core;
    zsock_t *board;
    zsock_t *control;
    zsock_t *events;      /* XPUB: weft_event_t to the API's subscribers */
    wf_subs_t events_subs;
    zsock_t *monitor;
    zsock_t *client;      /* client endpoint (ROUTER), NULL unless client_bind */
    zsock_t *pub;         /* events for remote subscribers (XPUB, msgpack), NULL unless events_bind */
    wf_subs_t pub_subs;
    struct wf_auth *auth; /* the ZAP handler when CURVE is on */
    zcert_t *cert;        /* the server's key pair when CURVE is on */
    char monitor_ep[64];
    wf_timer_t heartbeat;
    uint64_t next_req;
    bool next_req_dirty;
    bool degraded;        /* the last commit failed: refuse new work until one succeeds */
    bool user_paused;
    bool terminated;
    /* this turn's outbox */
    wf_board_out_t *board_out; /* messages to consumers, sent after the commit */
    uint32_t nboard_out, board_out_cap;
    s_reply_t *replies;
    uint32_t nreplies, replies_cap;
    s_waiter_t *waiters;
    zlist_t *client_out;  /* s_creply_t*: replies to clients, sent after the commit */
    s_drainer_t *drainers; /* clients waiting for a drain to reach STOPPED */
    bool draining;
    /* workers: the ids of live consumers, and first registrations not yet committed (written
     * by every commit until one succeeds) */
    wf_srv_wkr_t *wkrs;
    uint32_t nwkrs, wkrs_cap;
    const wf_consumer_t *wkr_last_c; /* the cache: the consumer of the last lookup, its id */
    uint32_t wkr_last_id;
    wf_workerrec_t *wkr_new;
    uint32_t nwkr_new, wkr_new_cap;
    uint32_t next_worker;
    /* log reads in flight (server_client.c) */
    wf_relay_t *relays;
    uint32_t nrelays;
    uint64_t next_relay;
    /* counters */
    uint64_t dropped;
    /* rate limits for lines a peer can trigger (dropped frames) */
    wf_log_limit_t lim_board_drop, lim_client_drop;
};


/* server.c */
/* Submit a resolved spec (ownership passes; freed whatever happens).  Returns the request id
 * in *id_p (the first one's for a known idempotency key).  Errors: ESTORE (degraded). */
int wf_srv_submit(wf_server_t *srv, wf_reqspec_t *spec, uint64_t *id_p, char *why, size_t n);
/* Make sure a request is in memory (loaded back from the store if it had finished). */
wf_req_t *wf_srv_request(wf_server_t *srv, uint64_t id);
void wf_srv_set_mode(wf_server_t *srv);
/* Queue a message to a consumer (sent after the turn's commit). */
void wf_srv_send_board(wf_server_t *srv, const uint8_t *rid, size_t rid_len, const wf_msg_t *msg);
/* The live consumer registered under worker id `id`, or NULL. */
wf_consumer_t *wf_srv_worker_consumer(wf_server_t *srv, uint32_t id);
#ifdef WEFT_TESTING
/* Fault injection for tests: while on, every turn writes and its commit fails with ESTORE
 * (an injected LMDB fault), as a store that refuses writes would.  Any thread. */
void wf_server_test_fail_commits(bool on);
#endif
/* server_client.c */
/* LOGDATA from consumer c: answer the client whose LOGS it is for. */
void wf_srv_client_logdata(wf_server_t *srv, wf_consumer_t *c, const wf_msg_t *msg);
/* A relay's worker said nothing in time: answer its client ETIMEDOUT. */
void wf_srv_client_relay_timeout(wf_server_t *srv, wf_relay_t *relay);
/* Consumer rid is gone: answer every relay waiting on it, saying why. */
void wf_srv_client_relays_gone(wf_server_t *srv, const uint8_t *rid, size_t rid_len,
                               const char *why);
void wf_srv_client_msg(wf_server_t *srv);
void wf_srv_client_flush(wf_server_t *srv, bool committed);
void wf_srv_client_publish(wf_server_t *srv);
void wf_srv_client_finished(wf_server_t *srv, zframe_t *rid, uint64_t corr, const wf_req_t *r);
void wf_srv_client_end_turn(wf_server_t *srv);
void wf_srv_client_close(wf_server_t *srv);

#endif
