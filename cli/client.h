/*
 * client.h -- a small client of a weft server (`weft serve`) for the verbs of the `weft`
 * command: one DEALER to the server's client endpoint for requests and replies, and one SUB to
 * its events endpoint for live events.  docs/protocol.md ("Client protocol") is the contract.
 *
 * Addresses: a server is named by its BASE address tcp://HOST:PORT, as `weft serve --bind`
 * takes it: the board is PORT, the client endpoint PORT+1, the events endpoint PORT+2.
 *
 * CURVE (docs/security.md): given the server's public key and a key file, both sockets are
 * CURVE clients.  A monitor on the DEALER turns handshake failures into sentences: a server
 * that refuses our key (ZAP 400) or a security mechanism that does not match the server's ends
 * every call at once with WEFT_ECLOSED and says which (libzmq never retries such a
 * connection); a handshake that keeps breaking off (a wrong server key) is named when the call
 * times out.
 *
 * Invariants: every request gets a fresh corr; a reply whose corr is not the one awaited is
 * dropped (a late answer to a call that timed out), except ERROR with corr 0, which is what the
 * server answers to a request it could not decode and so belongs to the call in flight.  Every
 * socket has linger 0 (closing never waits for a server that is gone) and ZMQ_MAXMSGSIZE
 * WF_MAX_CLIENT_MSG (a peer cannot make us allocate more).  Replies and events are decoded
 * strictly by proto/client.c; nothing a server sends can crash the client.
 *
 * Workload: a CLI verb: a few calls, or one subscription followed for as long as a request
 * runs.  Not thread-safe: one wf_client_t per thread.
 */
#ifndef WF_CLI_CLIENT_H
#define WF_CLI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/weft.h>

/* proto/client.h by path: a quoted "client.h" from cli/ finds this file first. */
#include "../proto/client.h"
#include "workflow.h"

#define WF_CLIENT_DEFAULT_SERVER "tcp://127.0.0.1:7400"
#define WF_CLIENT_SERVER_ENV "WEFT_SERVER"
#define WF_CLIENT_DEFAULT_TIMEOUT_MS 10000
#define WF_CLIENT_SERVER_KEY_ENV "WEFT_SERVER_KEY"
#define WF_CLIENT_KEY_ENV "WEFT_KEY"

typedef struct wf_client wf_client_t;

/* CURVE for a client: the server's public key (its 40 Z85 characters, or the path of a
 * certificate file holding it: server.pub) and this client's secret key file (as `weft keygen`
 * writes it, mode 0600).  Both NULL: no CURVE.  Borrowed. */
typedef struct wf_client_keys {
    const char *server_key;
    const char *key_file;
} wf_client_keys_t;

/* The keys a verb uses: each option if given (not NULL), else $WEFT_SERVER_KEY / $WEFT_KEY if
 * set and not empty.  Returns false, with a sentence in err, when only one of the two is set:
 * CURVE needs both. */
bool wf_client_keys_default(wf_client_keys_t *keys, const char *server_key_opt, const char *key_opt,
                            char *err, size_t errlen);

/* The server address a verb uses: opt if given, else $WEFT_SERVER if set and not empty, else
 * WF_CLIENT_DEFAULT_SERVER.  Borrowed (opt, the environment or a literal). */
const char *wf_client_server_default(const char *opt);

/* The client and events endpoints of a base address tcp://HOST:PORT (PORT 1..65533): PORT+1 and
 * PORT+2 on HOST.  Errors: EINVAL (not tcp://HOST:PORT, or an endpoint does not fit in cap). */
int wf_client_endpoints(const char *server, char *client_ep, char *events_ep, size_t cap);

/*
 * Connect a client to `server` (a base address, see above), with CURVE when keys is not NULL
 * and names both keys (only one of them: EINVAL).  Connecting does not wait for the server: a
 * server that is not there shows as ETIMEDOUT on the first call.  On failure *c_p is NULL and
 * err (if not NULL) gets a sentence saying why.
 * Errors: EINVAL (bad address; a key that is not one, a key file without secret key or
 * readable by others; no CURVE in libzmq), ENOTFOUND (no such key file), ETOOBIG (a key file
 * over 64 KiB), ESYS (a socket could not be made, a key file could not be read).
 */
int wf_client_open(wf_client_t **c_p, const char *server, const wf_client_keys_t *keys, char *err,
                   size_t errlen);
/* Close the sockets without waiting.  Accepts NULL; sets *c_p to NULL. */
void wf_client_close(wf_client_t **c_p);

/* The base address the client was opened with (borrowed, valid until close). */
const char *wf_client_server(const wf_client_t *c);
/* A sentence about the last error of wf_client_call / _send / _recv / _next_event: the server's
 * ERROR message, or what went wrong here.  "" when there is none.  Borrowed. */
const char *wf_client_errmsg(const wf_client_t *c);

/*
 * Send `req` (its corr is set to a fresh one) and wait up to timeout_ms (-1: for ever) for the
 * reply with that corr, into *reply (initialised here; wf_cmsg_fini it whatever the result).
 * An ERROR reply returns its code (never WEFT_OK: a code of 0 becomes EPROTO) and keeps its
 * message in wf_client_errmsg; *reply then holds the ERROR.
 * A STATUS without a limit (the whole request at once, in reply->cjobs) is for requests of at
 * most WF_CLIENT_MAX_STATUS_JOBS jobs; a bigger one is ETOOBIG: read it with
 * wf_client_status_page.
 * Errors: the ERROR's code; ETIMEDOUT ("no answer from SERVER within N s: is `weft serve`
 * running?", naming the keys with CURVE); EINVAL, ETOOBIG (req cannot be encoded; a whole
 * STATUS of too many jobs); EPROTO (a reply that does not decode); ESYS (a socket error);
 * ECLOSED (interrupted by a signal, or the server refused the handshake: our key, or our use or
 * not of CURVE; every later call fails so too).
 */
int wf_client_call(wf_client_t *c, wf_cmsg_t *req, wf_cmsg_t *reply, int timeout_ms);

/* One page of a request's jobs: STATUS [req, offset, WF_CLIENT_MAX_PAGE] into *reply (a
 * STATUS_R whose cjobs are jobs offset.. of the request, at most a page; its info's counts are
 * filled only for offset 0).  A server older than paging answers that form with ERROR
 * WEFT_EPROTO: for offset 0 this falls back to STATUS [req], whose reply lists the whole request
 * (so no further page is needed).  Errors: as wf_client_call. */
int wf_client_status_page(wf_client_t *c, uint64_t req, uint32_t offset, wf_cmsg_t *reply,
                          int timeout_ms);

/* One chunk (at most WF_PROTO_MAX_LOG_CHUNK bytes from `offset`) of the log `stream` ("out" or
 * "err") of attempt `attempt` (0: the last) of job `index` of request `req`: LOGS into *reply,
 * a LOGS_R whose `size` is the log's size so far (0: nothing written) and whose data the reply
 * owns (copied out of the frame; wf_cmsg_fini frees it).  The server asks the worker that ran
 * the attempt.  Errors: as wf_client_call; the server's ERROR codes include ENOTFOUND (no such
 * job or attempt, or that worker is not connected: the message says where the files are),
 * ETIMEDOUT (the worker did not answer) and ELIMIT (too many reads in flight). */
int wf_client_logs(wf_client_t *c, uint64_t req, uint32_t index, uint32_t attempt,
                   const char *stream, uint64_t offset, wf_cmsg_t *reply, int timeout_ms);

/* Set wf_client_errmsg to the sentence for a wait of timeout_ms that got no answer (as
 * wf_client_call does): why the handshake was refused if it was, else what to check. */
void wf_client_timed_out(wf_client_t *c, int timeout_ms);

/* Send `req` with a fresh corr (written to req->corr) without waiting: for requests answered
 * more than once (DRAIN) or much later (WAIT).  Errors: EINVAL, ETOOBIG, ESYS, ECLOSED (the
 * server refused the handshake). */
int wf_client_send(wf_client_t *c, wf_cmsg_t *req);
/* The next reply of any corr within timeout_ms (0: only one already there; -1: for ever), into
 * *reply (initialised here; fini it whatever the result).  An ERROR is returned as a reply
 * (WEFT_OK), its message also kept in wf_client_errmsg.
 * A LOGS_R owns its data (copied out of the frame before the frame is freed).
 * Errors: ETIMEDOUT, EPROTO (a reply that does not decode: dropped), ESYS, ECLOSED (a signal,
 * or the server refused the handshake). */
int wf_client_recv(wf_client_t *c, wf_cmsg_t *reply, int timeout_ms);

/* Subscribe to the events of request `req`, or of every request with 0.  The SUB socket is made
 * on the first call.  Events published before the subscription took effect are not delivered
 * (ZeroMQ subscriptions are asynchronous): read STATUS after subscribing, and WAIT for the end.
 * Errors: EINVAL (bad events endpoint), ESYS. */
int wf_client_subscribe(wf_client_t *c, uint64_t req);
/* The next event within timeout_ms (0: none waiting -> ETIMEDOUT; -1: for ever).  Malformed
 * events are dropped (and counted in wf_client_dropped).
 * Errors: ETIMEDOUT, ESTATE (not subscribed), ESYS, ECLOSED. */
int wf_client_next_event(wf_client_t *c, weft_event_t *ev, int timeout_ms);
/* Events and replies dropped because they did not decode. */
uint64_t wf_client_dropped(const wf_client_t *c);

/* Wait up to timeout_ms for a reply or an event to be readable.  Returns a mask of
 * WF_CLIENT_READY_REPLY and WF_CLIENT_READY_EVENT (0 when the time ran out); -1 on a socket
 * error or a signal.  A refused handshake shows as WF_CLIENT_READY_REPLY: wf_client_recv then
 * says ECLOSED. */
#define WF_CLIENT_READY_REPLY 1
#define WF_CLIENT_READY_EVENT 2
int wf_client_poll(wf_client_t *c, int timeout_ms);

/*
 * Fill *msg (initialised here) as the SUBMIT of a loaded workflow: its name (bad characters
 * replaced, as weft run names it), session and key ("" or NULL for none), pools, and every job
 * with its needs by name, its payload (shell: wf_shell_payload_encode of run, env and cwd;
 * other types: the `with` bytes), retries, lost_retries, retry_delay_ms, timeout_ms, priority,
 * pool and when.  The message owns its arrays and payloads (free it with
 * wf_client_submit_fini, not wf_cmsg_fini); its names are BORROWED from wf: keep wf until then.  Errors: EINVAL (NULL argument, a session or key that is not a valid name, a
 * shell job the payload encoder refuses), ETOOBIG (a payload over WF_MAX_PAYLOAD), ELIMIT (more
 * jobs, needs or pools than the limits allow); *msg is then empty.
 */
int wf_client_submit_from(const wf_workflow_t *wf, const char *key, const char *session,
                          wf_cmsg_t *msg);
void wf_client_submit_fini(wf_cmsg_t *msg);

#endif
