/*
 * server.h -- the one event loop: sockets <-> decode <-> dispatcher/board <-> commit <-> outbox.
 *
 * One turn (docs/architecture.md):
 *     now = clock (cached for the turn)      timeout = next deadline - now
 *     zmq_poll(pipe, control, board, monitor)
 *     each readable socket: at most WF_MAX_MSGS_PER_TURN messages -> dispatcher / board
 *     due timers: timeouts, backoffs, lost consumers, heartbeats
 *     board match: hand-outs recorded as RUNNING, attempt n+1
 *     ONE LMDB write transaction for everything this turn changed  (group commit)
 *     commit ok  -> send the outbox (JOB, ACK, replies, events): durable before visible
 *     commit bad -> drop the outbox, reload memory from the store (the resume path), refuse
 *                   new work until a commit succeeds again
 *     evict finished requests, reap lost consumers
 * Runs on its own thread (a czmq actor); owns every socket, the store's write side and the
 * in-memory model.  Other threads talk to it only through the control socket.
 */
#ifndef WF_SERVER_H
#define WF_SERVER_H

#include <czmq.h>

#include "store.h"

typedef struct wf_server_opts {
    const char *dir;
    wf_store_opts_t store;
    int heartbeat_ms;        /* default 1000 */
    int liveness;            /* default 3 */
    const char *board_bind;  /* extra endpoint for the board (ipc:// or tcp://), or NULL */
    const char *client_bind; /* the client endpoint (docs/protocol.md, client protocol), or NULL */
    const char *events_bind; /* events for remote subscribers (msgpack over PUB), or NULL */
    const char *curve_keys;  /* CURVE: DIR/server (secret cert), DIR/workers/, DIR/clients/; NULL:
                              * no CURVE, and only loopback, ipc and inproc endpoints are bound */
    const char *board_ep;    /* inproc endpoint of the board */
    const char *control_ep;  /* inproc endpoint of the control socket */
    const char *events_ep;   /* inproc endpoint of the event publisher */
} wf_server_opts_t;

typedef struct wf_server wf_server_t;

/* Open the store, load every unfinished request, bind the sockets.  errbuf gets a sentence. */
int wf_server_open(wf_server_t **srv_p, const wf_server_opts_t *opts, char *errbuf, size_t errlen);
/* Run until "$TERM" arrives on pipe (or pipe is NULL and the server is interrupted). */
int wf_server_run(wf_server_t *srv, zsock_t *pipe);
void wf_server_close(wf_server_t **srv_p);
wf_store_t *wf_server_store(wf_server_t *srv);

/*
 * The control protocol (in-process only; see docs/architecture.md).  A caller connects a DEALER
 * to control_ep and sends one of these (czmq pictures); the reply comes after the commit:
 *   "SUBMIT" p(wf_reqspec_t *, ownership passes)  -> "i8s"  rc, request id, message
 *   "WAIT" 8(id)                                   -> "ii"   rc, weft_req_state (when finished)
 *   "CANCEL" 8 | "RETRY" 8                         -> "i"    rc
 *   "CANCELJOB" 84 | "RETRYJOB" 84 (id, index)     -> "i"    rc
 *   "PAUSE" | "RESUME"                             -> "i"    rc
 *   "WHY" 84                                       -> "iiii" rc, state, reason, waiting
 *   "RELOAD"                                       -> "i"    rc (re-read the CURVE keys)
 * Events go out on events_ep (PUB): frame 1 = the request id, 8 bytes big-endian; frame 2 = a
 * weft_event_t (in-process layout).
 */

#endif
