/*
 * client.c -- the weft CLI's client of a server (client.h): a DEALER for request/reply by
 * corr, a SUB for events, and the SUBMIT builder for a loaded workflow file.
 *
 * Invariants: one request frame out, one reply frame in; a reply is matched to its call by
 * corr alone (ZeroMQ keeps no order between calls that time out and late answers); sockets
 * linger 0 and cap frames at WF_MAX_CLIENT_MSG.  czmq's own SIGINT handler is switched off, so
 * Ctrl-C ends a verb at once, as for any command-line tool (nothing here needs cleaning up: the
 * server owns all state).
 *
 * Handshakes: every wait for a reply also reads the DEALER's monitor.  A failed handshake that
 * libzmq will not retry (ZAP refused our key, the security mechanisms differ, any other
 * protocol error) makes `refused` non-empty, and from then on every call fails at once with
 * ECLOSED and that sentence: waiting out --timeout would only hide the reason.  Handshakes
 * that break off (the server closed the connection mid-way, as it does when our idea of its
 * key is wrong) are retried by libzmq; they are only counted, and named if the call times out.
 *
 * Workload: a handful of calls per verb; a watch reads events for as long as a request runs.
 */
#include <czmq.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "client.h"
#include "proto.h"
#include "shell.h"

/* Handshake events that say why a connection will never carry a reply. */
#define S_MONITOR_EVENTS                                                                           \
    (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |                       \
     ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
/* Monitor events read per wait: a server dropping us in a loop cannot keep us busy. */
#define S_MONITOR_BATCH 64

struct wf_client {
    char *server;
    char client_ep[320];
    char events_ep[320];
    zsock_t *dealer;
    zsock_t *sub;
    zsock_t *monitor; /* the DEALER's handshake events; NULL if it could not be made */
    zcert_t *cert;    /* CURVE: our key pair; NULL without CURVE */
    char server_key[WF_AUTH_KEY_Z85_LEN + 1]; /* CURVE: the server's public key */
    uint64_t next_corr;
    uint64_t dropped;
    uint64_t broken_handshakes;         /* handshakes the server broke off (libzmq retries them) */
    char refused[WF_MAX_MESSAGE + 256]; /* why no reply can ever come; "" while one may */
    char errmsg[WF_MAX_MESSAGE + 512];
};

static void *
s_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        abort();
    return p;
}

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_err(wf_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
s_err(wf_client_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
}

/* ---- addresses ---- */

const char *
wf_client_server_default(const char *opt)
{
    if (opt)
        return opt;
    const char *env = getenv(WF_CLIENT_SERVER_ENV);
    return env && *env ? env : WF_CLIENT_DEFAULT_SERVER;
}

int
wf_client_endpoints(const char *server, char *client_ep, char *events_ep, size_t cap)
{
    if (!server || !client_ep || !events_ep || strncmp(server, "tcp://", 6) != 0)
        return WEFT_EINVAL;
    const char *colon = strrchr(server, ':');
    if (!colon || colon <= server + 6)
        return WEFT_EINVAL;
    const char *p = colon + 1;
    long port = 0;
    /* Strictly decimal: "7400x", "+7400" and " 7400" are typos, not ports. */
    if (!*p || strlen(p) > 5)
        return WEFT_EINVAL;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return WEFT_EINVAL;
        port = port * 10 + (*p - '0');
    }
    if (port < 1 || port > 65533)
        return WEFT_EINVAL;
    int host_len = (int)(colon - server);
    int n1 = snprintf(client_ep, cap, "%.*s:%ld", host_len, server, port + 1);
    int n2 = snprintf(events_ep, cap, "%.*s:%ld", host_len, server, port + 2);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= cap || (size_t)n2 >= cap)
        return WEFT_EINVAL;
    return WEFT_OK;
}

/* ---- keys ---- */

bool
wf_client_keys_default(wf_client_keys_t *keys, const char *server_key_opt, const char *key_opt,
                       char *err, size_t errlen)
{
    const char *env_server = getenv(WF_CLIENT_SERVER_KEY_ENV), *env_key = getenv(WF_CLIENT_KEY_ENV);
    keys->server_key = server_key_opt              ? server_key_opt
                       : env_server && *env_server ? env_server
                                                   : NULL;
    keys->key_file = key_opt ? key_opt : env_key && *env_key ? env_key : NULL;
    if (!keys->server_key != !keys->key_file) {
        if (err && errlen)
            snprintf(err, errlen,
                     "CURVE needs both the server's public key (--server-key or "
                     "$" WF_CLIENT_SERVER_KEY_ENV ") and this client's key file (--key or "
                     "$" WF_CLIENT_KEY_ENV "), or neither");
        return false;
    }
    return true;
}

/* ---- handshake monitor ---- */

/* Note one handshake event of the DEALER. */
static void
s_monitor_event(wf_client_t *c, uint16_t event, uint32_t value)
{
    if (c->refused[0])
        return; /* the first reason is the one */
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        if (value == 400)
            snprintf(c->refused, sizeof c->refused,
                     "the server at %s refused this client's key: its NAME.pub must be in the "
                     "server's clients/ key directory, which the server re-reads on SIGHUP "
                     "(docs/security.md)",
                     c->server);
        else
            snprintf(c->refused, sizeof c->refused,
                     "the server at %s could not check this client's key (ZAP status %u): see "
                     "its log",
                     c->server, (unsigned)value);
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
               value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
        if (c->cert)
            snprintf(c->refused, sizeof c->refused,
                     "the server at %s does not use CURVE: connect without --server-key and "
                     "--key (and $" WF_CLIENT_SERVER_KEY_ENV ", $" WF_CLIENT_KEY_ENV ")",
                     c->server);
        else
            snprintf(c->refused, sizeof c->refused,
                     "the server at %s requires CURVE: give --server-key SERVER.pub and --key "
                     "YOUR-KEY-FILE (docs/security.md)",
                     c->server);
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        snprintf(c->refused, sizeof c->refused,
                 "the handshake with the server at %s failed (ZeroMQ protocol error 0x%08x)%s",
                 c->server, (unsigned)value,
                 c->cert ? ": is --server-key the server's public key?" : "");
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        c->broken_handshakes++;
    }
}

/* Take the events waiting on the monitor (a bounded batch).  True once no reply can come. */
static bool
s_monitor_read(wf_client_t *c)
{
    if (!c->monitor)
        return c->refused[0] != 0;
    void *sock = zsock_resolve(c->monitor);
    for (int n = 0; n < S_MONITOR_BATCH; n++) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            break;
        }
        /* libzmq's own format: [event u16, value u32] then [endpoint]. */
        uint16_t event = 0;
        uint32_t value = 0;
        bool ok = zmq_msg_size(&part) == 6;
        if (ok) {
            memcpy(&event, zmq_msg_data(&part), sizeof event);
            memcpy(&value, (const uint8_t *)zmq_msg_data(&part) + 2, sizeof value);
        }
        while (zmq_msg_more(&part)) {
            zmq_msg_close(&part);
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0)
                break;
        }
        zmq_msg_close(&part);
        if (ok)
            s_monitor_event(c, event, value);
    }
    return c->refused[0] != 0;
}

/* Watch the DEALER's handshakes (before it connects, so the first one is seen).  Best effort:
 * without a monitor a refusal shows as a timeout, as it would anyway. */
static void
s_monitor_start(wf_client_t *c, zsock_t *dealer)
{
    static atomic_uint serial;
    char ep[128];
    snprintf(ep, sizeof ep, "inproc://weft-client-monitor-%p-%u", (void *)c,
             atomic_fetch_add(&serial, 1));
    if (zmq_socket_monitor(zsock_resolve(dealer), ep, S_MONITOR_EVENTS) != 0)
        return;
    c->monitor = zsock_new(ZMQ_PAIR);
    if (c->monitor) {
        zsock_set_linger(c->monitor, 0);
        if (zsock_connect(c->monitor, "%s", ep) != 0)
            zsock_destroy(&c->monitor);
    }
    if (!c->monitor)
        zmq_socket_monitor(zsock_resolve(dealer), NULL, 0);
}

static void
s_monitor_stop(wf_client_t *c, zsock_t *dealer)
{
    if (c->monitor && dealer)
        zmq_socket_monitor(zsock_resolve(dealer), NULL, 0);
    zsock_destroy(&c->monitor);
}

/* ---- lifecycle ---- */

/* A socket to ep: linger 0, capped frames, CURVE when the client has keys; the DEALER also
 * gets its monitor.  NULL (errno set) if it cannot be made. */
static zsock_t *
s_socket(wf_client_t *c, int type, const char *ep)
{
    zsock_t *s = zsock_new(type);
    if (!s)
        return NULL;
    zsock_set_linger(s, 0);
    zsock_set_maxmsgsize(s, (int)WF_MAX_CLIENT_MSG);
    if (c->cert && wf_auth_client_socket(s, c->server_key, c->cert) != WEFT_OK) {
        zsock_destroy(&s);
        errno = EINVAL;
        return NULL;
    }
    if (type == ZMQ_DEALER)
        s_monitor_start(c, s);
    if (zsock_connect(s, "%s", ep) != 0) {
        int e = errno;
        if (type == ZMQ_DEALER)
            s_monitor_stop(c, s);
        zsock_destroy(&s);
        errno = e;
        return NULL;
    }
    return s;
}

/* Load the CURVE keys into c; err gets why not. */
static int
s_load_keys(wf_client_t *c, const wf_client_keys_t *keys, char *err, size_t errlen)
{
    if (!keys || (!keys->server_key && !keys->key_file))
        return WEFT_OK;
    if (!keys->server_key || !keys->key_file) {
        if (err && errlen)
            snprintf(err, errlen, "CURVE needs both the server's public key and a key file");
        return WEFT_EINVAL;
    }
    if (!zsys_has_curve()) {
        if (err && errlen)
            snprintf(err, errlen, "this libzmq was built without CURVE");
        return WEFT_EINVAL;
    }
    char why[512] = "";
    int rc = wf_auth_public_key(keys->server_key, c->server_key, why, sizeof why);
    if (rc != WEFT_OK) {
        if (err && errlen)
            snprintf(err, errlen,
                     "--server-key: '%s' is neither a 40-character key nor a "
                     "key file: %s",
                     keys->server_key, why);
        return rc;
    }
    rc = wf_auth_cert_load(&c->cert, keys->key_file, true, why, sizeof why);
    if (rc != WEFT_OK && err && errlen)
        snprintf(err, errlen, "--key: %s", why);
    return rc;
}

int
wf_client_open(wf_client_t **c_p, const char *server, const wf_client_keys_t *keys, char *err,
               size_t errlen)
{
    if (!c_p || !server) {
        if (err && errlen)
            snprintf(err, errlen, "no server address");
        return WEFT_EINVAL;
    }
    *c_p = NULL;
    wf_client_t *c = s_calloc(1, sizeof *c);
    if (wf_client_endpoints(server, c->client_ep, c->events_ep, sizeof c->client_ep) != WEFT_OK) {
        if (err && errlen)
            snprintf(err, errlen,
                     "'%s' is not a server address: want tcp://HOST:PORT (the base port of "
                     "`weft serve --bind`)",
                     server);
        free(c);
        return WEFT_EINVAL;
    }
    c->server = strdup(server);
    if (!c->server)
        abort();
    int rc = s_load_keys(c, keys, err, errlen);
    if (rc != WEFT_OK) {
        zcert_destroy(&c->cert);
        free(c->server);
        free(c);
        return rc;
    }
    /* Keep the default signal dispositions (czmq would catch SIGINT). */
    zsys_handler_set(NULL);
    c->dealer = s_socket(c, ZMQ_DEALER, c->client_ep);
    if (!c->dealer) {
        if (err && errlen)
            snprintf(err, errlen, "cannot connect to %s: %s", c->client_ep,
                     zmq_strerror(zmq_errno()));
        zcert_destroy(&c->cert);
        free(c->server);
        free(c);
        return WEFT_ESYS;
    }
    c->next_corr = 1;
    *c_p = c;
    return WEFT_OK;
}

void
wf_client_close(wf_client_t **c_p)
{
    if (!c_p || !*c_p)
        return;
    wf_client_t *c = *c_p;
    s_monitor_stop(c, c->dealer);
    zsock_destroy(&c->dealer);
    zsock_destroy(&c->sub);
    zcert_destroy(&c->cert);
    free(c->server);
    free(c);
    *c_p = NULL;
}

const char *
wf_client_server(const wf_client_t *c)
{
    return c ? c->server : "";
}

const char *
wf_client_errmsg(const wf_client_t *c)
{
    return c ? c->errmsg : "";
}

uint64_t
wf_client_dropped(const wf_client_t *c)
{
    return c ? c->dropped : 0;
}

/* ---- requests and replies ---- */

int
wf_client_send(wf_client_t *c, wf_cmsg_t *req)
{
    if (!c || !req)
        return WEFT_EINVAL;
    c->errmsg[0] = 0;
    if (s_monitor_read(c)) {
        s_err(c, "%s", c->refused);
        return WEFT_ECLOSED;
    }
    req->corr = c->next_corr++;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = wf_cmsg_encode(req, &buf, &len);
    if (rc != WEFT_OK) {
        s_err(c, "cannot encode %s: %s", wf_cmsg_kind_name(req->kind), weft_strerror(rc));
        return rc;
    }
    if (len > (size_t)WF_MAX_CLIENT_MSG) {
        free(buf);
        s_err(c, "%s is %zu bytes, over the %lld the server takes", wf_cmsg_kind_name(req->kind),
              len, (long long)WF_MAX_CLIENT_MSG);
        return WEFT_ETOOBIG;
    }
    /* A connecting DEALER queues the message (its pipe exists from connect): DONTWAIT only
     * fails when that queue is full, which one verb never fills. */
    int n = zmq_send(zsock_resolve(c->dealer), buf, len, ZMQ_DONTWAIT);
    int e = zmq_errno();
    free(buf);
    if (n < 0) {
        s_err(c, "cannot send to %s: %s", c->client_ep, zmq_strerror(e));
        return WEFT_ESYS;
    }
    return WEFT_OK;
}

/* Wait up to timeout_ms (-1 for ever) for `sock` to be readable: WEFT_OK, ETIMEDOUT, ECLOSED
 * (a signal, or for the DEALER a refused handshake: errmsg says which), ESYS. */
static int
s_wait_readable(wf_client_t *c, zsock_t *sock, int timeout_ms)
{
    bool watch = sock == c->dealer && c->monitor;
    int64_t deadline = timeout_ms < 0 ? -1 : s_now_ms() + timeout_ms;
    for (;;) {
        if (sock == c->dealer && s_monitor_read(c)) {
            s_err(c, "%s", c->refused);
            return WEFT_ECLOSED;
        }
        int left = -1;
        if (deadline >= 0) {
            int64_t l = deadline - s_now_ms();
            left = l < 0 ? 0 : (int)l;
        }
        zmq_pollitem_t items[2] = {
            {zsock_resolve(sock), 0, ZMQ_POLLIN, 0},
            {watch ? zsock_resolve(c->monitor) : NULL, 0, ZMQ_POLLIN, 0},
        };
        int n = zmq_poll(items, watch ? 2 : 1, left);
        if (n < 0) {
            int e = zmq_errno();
            s_err(c, "%s", e == EINTR ? "interrupted" : zmq_strerror(e));
            return e == EINTR ? WEFT_ECLOSED : WEFT_ESYS;
        }
        if (items[0].revents & ZMQ_POLLIN)
            return WEFT_OK;
        if (n == 0)
            return WEFT_ETIMEDOUT;
        /* Only the monitor spoke: news about the handshake, not a reply. */
        if (s_monitor_read(c)) {
            s_err(c, "%s", c->refused);
            return WEFT_ECLOSED;
        }
        if (left == 0)
            return WEFT_ETIMEDOUT;
    }
}

/* The sentence for a call that got no answer in time (what to check depends on CURVE). */
static void
s_no_answer(wf_client_t *c, int timeout_ms)
{
    int secs = (timeout_ms + 999) / 1000;
    if (!c->cert)
        s_err(c, "no answer from %s within %d s: is `weft serve` running?", c->server, secs);
    else if (c->broken_handshakes)
        s_err(c,
              "no answer from %s within %d s: the server broke off the CURVE handshake %llu "
              "time%s: is --server-key the server's public key (its server.pub)?",
              c->server, secs, (unsigned long long)c->broken_handshakes,
              c->broken_handshakes == 1 ? "" : "s");
    else
        s_err(c,
              "no answer from %s within %d s: is `weft serve` running, and is your key "
              "admitted (--key, docs/security.md)?",
              c->server, secs);
}

void
wf_client_timed_out(wf_client_t *c, int timeout_ms)
{
    if (!c)
        return;
    s_monitor_read(c);
    if (c->refused[0])
        s_err(c, "%s", c->refused);
    else
        s_no_answer(c, timeout_ms);
}

/* Read one message of `sock` once a poll said it is there (ZeroMQ delivers a multi-frame
 * message whole, so this does not block). */
static zmsg_t *
s_read(zsock_t *sock)
{
    return zmsg_recv(sock);
}

int
wf_client_recv(wf_client_t *c, wf_cmsg_t *reply, int timeout_ms)
{
    if (!c || !reply)
        return WEFT_EINVAL;
    wf_cmsg_init(reply, WF_CMSG_OK);
    int rc = s_wait_readable(c, c->dealer, timeout_ms);
    if (rc == WEFT_ETIMEDOUT)
        s_no_answer(c, timeout_ms);
    if (rc != WEFT_OK)
        return rc;
    zmsg_t *z = s_read(c->dealer);
    if (!z) {
        s_err(c, "cannot read from %s: %s", c->client_ep, zmq_strerror(zmq_errno()));
        return WEFT_ESYS;
    }
    if (zmsg_size(z) != 1) {
        c->dropped++;
        s_err(c, "the server sent a reply of %zu frames", zmsg_size(z));
        zmsg_destroy(&z);
        return WEFT_EPROTO;
    }
    zframe_t *f = zmsg_first(z);
    char why[160] = "";
    rc = wf_cmsg_decode(zframe_data(f), zframe_size(f), reply, why, sizeof why);
    /* The frame goes now: a LOGS_R's bytes, which point into it, are copied first. */
    if (rc == WEFT_OK && reply->kind == WF_CMSG_LOGS_R)
        wf_cmsg_keep_data(reply);
    zmsg_destroy(&z);
    if (rc != WEFT_OK) {
        uint64_t corr = reply->corr;
        wf_cmsg_init(reply, WF_CMSG_OK);
        reply->corr = corr; /* the decoder keeps a readable corr: the call can tell it is its */
        c->dropped++;
        s_err(c, "the server sent a reply that does not decode (%s): %s", weft_strerror(rc), why);
        return WEFT_EPROTO;
    }
    if (reply->kind == WF_CMSG_ERROR)
        s_err(c, "%s", reply->message[0] ? reply->message : weft_strerror((int)reply->code));
    return WEFT_OK;
}

/* A STATUS without a limit asks for the whole request in one reply (reply->cjobs), for a
 * request of at most WF_CLIENT_MAX_STATUS_JOBS jobs (what one such reply lists: larger ones
 * must page). */
static int
s_status_whole(wf_client_t *c, wf_cmsg_t *reply)
{
    if (reply->info.njobs > WF_CLIENT_MAX_STATUS_JOBS) {
        s_err(c,
              "request %llu has %u jobs; a whole STATUS lists at most %u (read it by pages "
              "instead)",
              (unsigned long long)reply->info.id, reply->info.njobs, WF_CLIENT_MAX_STATUS_JOBS);
        return WEFT_ETOOBIG;
    }
    /* Callers size their tables by the jobs the request claims: more rows than that is a
     * malformed reply. */
    if (reply->njobs > reply->info.njobs) {
        s_err(c, "the server listed %u jobs for request %llu of %u jobs", reply->njobs,
              (unsigned long long)reply->info.id, reply->info.njobs);
        return WEFT_EPROTO;
    }
    return WEFT_OK;
}

int
wf_client_call(wf_client_t *c, wf_cmsg_t *req, wf_cmsg_t *reply, int timeout_ms)
{
    if (!c || !req || !reply)
        return WEFT_EINVAL;
    wf_cmsg_init(reply, WF_CMSG_OK);
    int rc = wf_client_send(c, req);
    if (rc != WEFT_OK)
        return rc;
    uint64_t corr = req->corr, dropped = c->dropped;
    int64_t deadline = timeout_ms < 0 ? -1 : s_now_ms() + timeout_ms;
    for (;;) {
        int left = -1;
        if (deadline >= 0) {
            int64_t l = deadline - s_now_ms();
            left = l < 0 ? 0 : (int)l;
        }
        wf_cmsg_fini(reply);
        rc = wf_client_recv(c, reply, left);
        if (rc == WEFT_ETIMEDOUT) {
            if (c->dropped > dropped)
                s_err(c,
                      "no answer from %s within %d s that this client can read (%llu "
                      "replies did not decode: another weft version?)",
                      c->server, (timeout_ms + 999) / 1000,
                      (unsigned long long)(c->dropped - dropped));
            else
                s_no_answer(c, timeout_ms);
            return rc;
        }
        if (rc == WEFT_EPROTO && reply->corr != corr)
            continue; /* undecodable and not ours (or not even a readable corr) */
        if (rc != WEFT_OK)
            return rc;
        /* ERROR with corr 0: the server could not read our request, so it could not echo. */
        bool ours = reply->corr == corr || (reply->kind == WF_CMSG_ERROR && reply->corr == 0);
        if (!ours)
            continue;
        if (reply->kind == WF_CMSG_ERROR)
            return reply->code ? (int)reply->code : WEFT_EPROTO;
        if (req->kind == WF_CMSG_STATUS && req->limit == 0 && reply->kind == WF_CMSG_STATUS_R)
            return s_status_whole(c, reply);
        return WEFT_OK;
    }
}

int
wf_client_status_page(wf_client_t *c, uint64_t req, uint32_t offset, wf_cmsg_t *reply,
                      int timeout_ms)
{
    if (!c || !reply)
        return WEFT_EINVAL;
    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_STATUS);
    m.req = req;
    m.offset = offset;
    m.limit = WF_CLIENT_MAX_PAGE;
    int rc = wf_client_call(c, &m, reply, timeout_ms);
    if (rc == WEFT_EPROTO && offset == 0 && reply->kind == WF_CMSG_ERROR) {
        /* A server older than paging: it lists every job (or none, with ETOOBIG) at once. */
        wf_cmsg_fini(reply);
        wf_cmsg_init(&m, WF_CMSG_STATUS);
        m.req = req;
        rc = wf_client_call(c, &m, reply, timeout_ms);
    }
    return rc;
}

/* ---- events ---- */

int
wf_client_logs(wf_client_t *c, uint64_t req, uint32_t index, uint32_t attempt,
               const char *stream, uint64_t offset, wf_cmsg_t *reply, int timeout_ms)
{
    if (!c || !stream || !reply)
        return WEFT_EINVAL;
    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_LOGS);
    m.req = req;
    m.index = index;
    m.attempt = attempt;
    snprintf(m.stream, sizeof m.stream, "%s", stream);
    m.log_offset = offset;
    m.max = WF_PROTO_MAX_LOG_CHUNK;
    int rc = wf_client_call(c, &m, reply, timeout_ms);
    if (rc == WEFT_OK && reply->kind != WF_CMSG_LOGS_R) {
        s_err(c, "the server answered LOGS with %s", wf_cmsg_kind_name(reply->kind));
        rc = WEFT_EPROTO;
    }
    return rc;
}

int
wf_client_subscribe(wf_client_t *c, uint64_t req)
{
    if (!c)
        return WEFT_EINVAL;
    if (!c->sub) {
        c->sub = s_socket(c, ZMQ_SUB, c->events_ep);
        if (!c->sub) {
            s_err(c, "cannot connect to %s: %s", c->events_ep, zmq_strerror(zmq_errno()));
            return WEFT_ESYS;
        }
    }
    /* The topic is the request id, 8 bytes big-endian (proto/client.h); "" is every request. */
    uint8_t topic[WF_CLIENT_TOPIC_LEN];
    for (int k = 0; k < WF_CLIENT_TOPIC_LEN; k++)
        topic[k] = (uint8_t)(req >> (56 - 8 * k));
    if (zmq_setsockopt(zsock_resolve(c->sub), ZMQ_SUBSCRIBE, topic, req ? sizeof topic : 0) != 0) {
        s_err(c, "cannot subscribe: %s", zmq_strerror(zmq_errno()));
        return WEFT_ESYS;
    }
    return WEFT_OK;
}

/* Decode one event message; false (and counted as dropped) if it is not a good EVENT. */
static bool
s_event_from(wf_client_t *c, zmsg_t *z, weft_event_t *ev)
{
    if (zmsg_size(z) != 2) {
        c->dropped++;
        return false;
    }
    zframe_t *topic = zmsg_first(z);
    zframe_t *body = zmsg_next(z);
    if (zframe_size(topic) != WF_CLIENT_TOPIC_LEN) {
        c->dropped++;
        return false;
    }
    uint64_t req = 0;
    for (int k = 0; k < WF_CLIENT_TOPIC_LEN; k++)
        req = req << 8 | zframe_data(topic)[k];
    wf_cmsg_t m;
    char why[160] = "";
    int rc = wf_cmsg_decode(zframe_data(body), zframe_size(body), &m, why, sizeof why);
    bool ok = rc == WEFT_OK && m.kind == WF_CMSG_EVENT && m.event.request == req;
    if (ok)
        *ev = m.event;
    else
        c->dropped++;
    if (rc == WEFT_OK)
        wf_cmsg_fini(&m);
    return ok;
}

int
wf_client_next_event(wf_client_t *c, weft_event_t *ev, int timeout_ms)
{
    if (!c || !ev)
        return WEFT_EINVAL;
    if (!c->sub) {
        s_err(c, "not subscribed to events");
        return WEFT_ESTATE;
    }
    int64_t deadline = timeout_ms < 0 ? -1 : s_now_ms() + timeout_ms;
    for (;;) {
        int left = -1;
        if (deadline >= 0) {
            int64_t l = deadline - s_now_ms();
            left = l < 0 ? 0 : (int)l;
        }
        int rc = s_wait_readable(c, c->sub, left);
        if (rc != WEFT_OK)
            return rc;
        zmsg_t *z = s_read(c->sub);
        if (!z)
            continue;
        bool ok = s_event_from(c, z, ev);
        zmsg_destroy(&z);
        if (ok)
            return WEFT_OK;
    }
}

int
wf_client_poll(wf_client_t *c, int timeout_ms)
{
    if (!c)
        return -1;
    /* A refused handshake reads as a reply, so that the caller's recv reports it. */
    if (s_monitor_read(c))
        return WF_CLIENT_READY_REPLY;
    zmq_pollitem_t items[3];
    int nitems = 0, sub_at = -1;
    items[nitems++] = (zmq_pollitem_t){zsock_resolve(c->dealer), 0, ZMQ_POLLIN, 0};
    if (c->sub) {
        sub_at = nitems;
        items[nitems++] = (zmq_pollitem_t){zsock_resolve(c->sub), 0, ZMQ_POLLIN, 0};
    }
    if (c->monitor)
        items[nitems++] = (zmq_pollitem_t){zsock_resolve(c->monitor), 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(items, nitems, timeout_ms);
    if (n < 0) {
        s_err(c, "%s", zmq_strerror(zmq_errno()));
        return -1;
    }
    int mask = 0;
    if (items[0].revents & ZMQ_POLLIN)
        mask |= WF_CLIENT_READY_REPLY;
    if (sub_at >= 0 && (items[sub_at].revents & ZMQ_POLLIN))
        mask |= WF_CLIENT_READY_EVENT;
    if (s_monitor_read(c))
        mask |= WF_CLIENT_READY_REPLY;
    return mask;
}

/* ---- SUBMIT from a workflow ---- */

/* Copy a name into a fixed field; false if it is not a valid name. */
static bool
s_name_copy(char *dst, const char *src)
{
    size_t n = strlen(src);
    if (!wf_name_ok(src, n))
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

static bool
s_name_ok(const char *s)
{
    return s && wf_name_ok(s, strlen(s));
}

void
wf_client_submit_fini(wf_cmsg_t *msg)
{
    if (!msg)
        return;
    wf_csubmit_t *s = &msg->submit;
    for (uint32_t i = 0; s->jobs && i < s->njobs; i++) {
        free((void *)s->jobs[i].payload);
        free((void *)s->jobs[i].needs);
    }
    free(s->jobs);
    free((void *)s->pool_names);
    free(s->pool_limits);
    wf_cmsg_init(msg, WF_CMSG_SUBMIT);
}

int
wf_client_submit_from(const wf_workflow_t *wf, const char *key, const char *session, wf_cmsg_t *msg)
{
    if (!msg)
        return WEFT_EINVAL;
    wf_cmsg_init(msg, WF_CMSG_SUBMIT);
    if (!wf)
        return WEFT_EINVAL;
    wf_csubmit_t *s = &msg->submit;
    /* The request's name as weft run gives it: the workflow's name, cut to WF_MAX_NAME, with
     * every character a name may not hold replaced by '-'. */
    const char *name = wf->name && *wf->name ? wf->name : "workflow";
    size_t nlen = strlen(name);
    if (nlen > WF_MAX_NAME)
        nlen = WF_MAX_NAME;
    for (size_t i = 0; i < nlen; i++)
        s->name[i] = wf_name_ok(name + i, 1) ? name[i] : '-';
    s->name[nlen] = 0;
    if ((session && *session && !s_name_copy(s->session, session)) ||
        (key && *key && !s_name_copy(s->key, key)))
        return WEFT_EINVAL;
    if (wf->npools > WF_MAX_POOLS || wf->njobs > WF_MAX_JOBS_PER_REQUEST)
        return WEFT_ELIMIT;
    int rc = WEFT_OK;
    s->npools = (uint32_t)wf->npools;
    s->pool_names = s_calloc(wf->npools, sizeof *s->pool_names);
    s->pool_limits = s_calloc(wf->npools, sizeof *s->pool_limits);
    for (size_t i = 0; i < wf->npools && rc == WEFT_OK; i++) {
        s->pool_names[i] = wf->pool_names[i];
        if (!s_name_ok(wf->pool_names[i]))
            rc = WEFT_EINVAL;
        s->pool_limits[i] = wf->pool_limits[i];
    }
    s->jobs = s_calloc(wf->njobs, sizeof *s->jobs);
    s->njobs = (uint32_t)wf->njobs;
    for (size_t i = 0; i < wf->njobs && rc == WEFT_OK; i++) {
        const wf_wfjob_t *j = &wf->jobs[i];
        wf_cjob_t *cj = &s->jobs[i];
        cj->id = j->id;
        cj->type = j->type;
        cj->pool = j->pool;
        if (!s_name_ok(j->id) || !s_name_ok(j->type) || (j->pool && !s_name_ok(j->pool)) ||
            j->when < 0 || j->when >= WEFT_WHEN_COUNT_) {
            rc = WEFT_EINVAL;
            break;
        }
        if (j->nneeds > WF_MAX_NEEDS_PER_JOB) {
            rc = WEFT_ELIMIT;
            break;
        }
        uint8_t *payload = NULL;
        size_t plen = 0;
        if (strcmp(j->type, "shell") == 0) {
            rc = wf_shell_payload_encode(j->run, (const char *const *)j->env, j->nenv, j->cwd,
                                         &payload, &plen);
            if (rc != WEFT_OK)
                break;
        } else if (j->with && j->with_len) {
            payload = malloc(j->with_len);
            if (!payload)
                abort();
            memcpy(payload, j->with, j->with_len);
            plen = j->with_len;
        }
        cj->payload = payload; /* owned by the message: wf_client_submit_fini frees it */
        if (plen > WF_MAX_PAYLOAD) {
            rc = WEFT_ETOOBIG;
            break;
        }
        cj->payload_len = (uint32_t)plen;
        cj->nneeds = (uint32_t)j->nneeds;
        const char **needs = s_calloc(j->nneeds, sizeof *needs);
        cj->needs = needs;
        for (size_t k = 0; k < j->nneeds && rc == WEFT_OK; k++) {
            needs[k] = j->needs[k];
            if (!s_name_ok(j->needs[k]))
                rc = WEFT_EINVAL;
        }
        cj->retries = j->retries;
        cj->lost_retries = j->lost_retries;
        cj->retry_delay_ms = j->retry_delay_ms;
        cj->timeout_ms = j->timeout_ms;
        cj->priority = j->priority;
        cj->when = (uint32_t)j->when;
    }
    if (rc != WEFT_OK)
        wf_client_submit_fini(msg);
    return rc;
}
