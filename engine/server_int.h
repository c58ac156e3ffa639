/*
 * server_int.h -- the server's private state, shared by server.c (the loop, the board, the
 * control socket) and server_client.c (the client endpoint).  Not for any other module.
 */
#ifndef WF_SERVER_INT_H
#define WF_SERVER_INT_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

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
/* server_client.c */
void wf_srv_client_msg(wf_server_t *srv);
void wf_srv_client_flush(wf_server_t *srv, bool committed);
void wf_srv_client_publish(wf_server_t *srv);
void wf_srv_client_finished(wf_server_t *srv, zframe_t *rid, uint64_t corr, const wf_req_t *r);
void wf_srv_client_end_turn(wf_server_t *srv);
void wf_srv_client_close(wf_server_t *srv);

#endif
