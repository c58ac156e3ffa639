/*
 * server.c -- the event loop (server.h): sockets, decoding, group commit, outbox.
 *
 * The outbox is the heart of the durability rule: nothing the loop decides this turn (a job
 * handed out, a report acknowledged, a submit answered, an event published) leaves the process
 * before the LMDB transaction recording it has committed.  If the commit fails, the outbox is
 * dropped, callers waiting for an answer get WEFT_ESTORE, and memory is rebuilt from the store
 * through the same path a restart takes.
 *
 * Where work ran: each consumer gets a worker id at its HELLO (the same name, host and pid get
 * the same id, found in the store's `workerkeys`; a new one is written with the turn's commit),
 * and every hand-out and re-adoption stamps the job's state with it, so `weft why` and
 * `weft logs --server` can name the worker long after it left.  The hand-out pays one cached
 * lookup of the consumer's id (wf_srv_wkr_t) and four bytes more in the job state it writes
 * anyway.
 */
#include "server.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "board.h"
#include "dispatcher.h"
#include "log.h"
#include "proto.h"
#include "runtime.h"
#include "server_int.h"

static int64_t
s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- workers: which id each live consumer has ---- */

/* The position of c in the sorted array, or where it would go. */
static uint32_t
s_wkr_pos(const wf_server_t *srv, const wf_consumer_t *c)
{
    uint32_t lo = 0, hi = srv->nwkrs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)srv->wkrs[mid].c < (uintptr_t)c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The worker id of a live consumer (0 if it has none: its registration found no id). */
static uint32_t
s_wkr_id(wf_server_t *srv, const wf_consumer_t *c)
{
    if (c == srv->wkr_last_c)
        return srv->wkr_last_id;
    uint32_t i = s_wkr_pos(srv, c);
    uint32_t id = i < srv->nwkrs && srv->wkrs[i].c == c ? srv->wkrs[i].id : 0;
    srv->wkr_last_c = c;
    srv->wkr_last_id = id;
    return id;
}

static void
s_wkr_drop(wf_server_t *srv, const wf_consumer_t *c)
{
    /* A consumer's address may be reused by the next one once it is reaped. */
    srv->wkr_last_c = NULL;
    uint32_t i = s_wkr_pos(srv, c);
    if (i < srv->nwkrs && srv->wkrs[i].c == c) {
        memmove(&srv->wkrs[i], &srv->wkrs[i + 1], (srv->nwkrs - i - 1) * sizeof *srv->wkrs);
        srv->nwkrs--;
    }
}

static void
s_wkr_set(wf_server_t *srv, const wf_consumer_t *c, uint32_t id)
{
    srv->wkr_last_c = NULL;
    uint32_t i = s_wkr_pos(srv, c);
    if (i < srv->nwkrs && srv->wkrs[i].c == c) {
        srv->wkrs[i].id = id;
        return;
    }
    if (srv->nwkrs == srv->wkrs_cap) {
        srv->wkrs_cap = srv->wkrs_cap ? srv->wkrs_cap * 2 : 16;
        srv->wkrs = realloc(srv->wkrs, srv->wkrs_cap * sizeof *srv->wkrs);
        if (!srv->wkrs)
            abort();
    }
    memmove(&srv->wkrs[i + 1], &srv->wkrs[i], (srv->nwkrs - i) * sizeof *srv->wkrs);
    srv->wkrs[i] = (wf_srv_wkr_t){c, id};
    srv->nwkrs++;
}

/* The worker id of a consumer that just said HELLO: the one its name, host and pid had before
 * (a registration waiting for its commit, or one in the store), else a new one, written with
 * this turn's commit.  0 only if the ids ran out or the store cannot be read: its jobs then
 * say nothing of where they ran, which is all that is lost. */
static uint32_t
s_wkr_register(wf_server_t *srv, const wf_consumer_t *c)
{
    for (uint32_t i = 0; i < srv->nwkr_new; i++) {
        const wf_workerrec_t *w = &srv->wkr_new[i];
        if (w->pid == c->pid && strcmp(w->name, c->name) == 0 && strcmp(w->host, c->host) == 0)
            return w->id;
    }
    uint32_t id = 0;
    int rc = wf_store_find_worker(srv->store, c->name, c->host, c->pid, &id);
    if (rc == WEFT_OK)
        return id;
    if (rc != WEFT_ENOTFOUND || srv->next_worker == 0 || srv->next_worker == UINT32_MAX)
        return 0;
    if (srv->nwkr_new == srv->wkr_new_cap) {
        srv->wkr_new_cap = srv->wkr_new_cap ? srv->wkr_new_cap * 2 : 8;
        srv->wkr_new = realloc(srv->wkr_new, srv->wkr_new_cap * sizeof *srv->wkr_new);
        if (!srv->wkr_new)
            abort();
    }
    wf_workerrec_t *w = &srv->wkr_new[srv->nwkr_new++];
    memset(w, 0, sizeof *w);
    w->id = srv->next_worker++;
    w->pid = c->pid;
    w->first_seen_ms = srv->core->wall;
    snprintf(w->name, sizeof w->name, "%s", c->name);
    snprintf(w->host, sizeof w->host, "%s", c->host);
    return w->id;
}

wf_consumer_t *
wf_srv_worker_consumer(wf_server_t *srv, uint32_t id)
{
    if (id == 0)
        return NULL;
    for (uint32_t i = 0; i < srv->nwkrs; i++)
        if (srv->wkrs[i].id == id && !srv->wkrs[i].c->dead)
            return (wf_consumer_t *)srv->wkrs[i].c;
    return NULL;
}

/* ---- outbox ---- */

static void
s_send_board(wf_server_t *srv, const uint8_t *rid, size_t rid_len, const wf_msg_t *msg)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = wf_msg_encode(msg, &buf, &len);
    if (rc != WEFT_OK) {
        wf_log_error("WEFT-PROTO-ENCODE", "cannot encode %s: %s", wf_msg_kind_name(msg->kind),
                     weft_strerror(rc));
        return;
    }
    if (srv->nboard_out == srv->board_out_cap) {
        srv->board_out_cap = srv->board_out_cap ? srv->board_out_cap * 2 : 256;
        srv->board_out = realloc(srv->board_out, srv->board_out_cap * sizeof *srv->board_out);
        if (!srv->board_out)
            abort();
    }
    wf_board_out_t *o = &srv->board_out[srv->nboard_out++];
    o->rid_len = (uint8_t)rid_len; /* <= WF_MAX_ROUTING_ID: the board never keeps a longer one */
    memcpy(o->rid, rid, rid_len);
    o->buf = buf;
    o->len = len;
}

void
wf_srv_send_board(wf_server_t *srv, const uint8_t *rid, size_t rid_len, const wf_msg_t *msg)
{
    s_send_board(srv, rid, rid_len, msg);
}

static void
s_send_ref(wf_server_t *srv, wf_consumer_t *c, wf_msg_kind kind, uint64_t req, uint32_t idx,
           uint32_t attempt)
{
    wf_msg_t m;
    wf_msg_init(&m, kind);
    m.ref.req = req;
    m.ref.idx = idx;
    m.ref.attempt = attempt;
    s_send_board(srv, c->rid, c->rid_len, &m);
}

static s_reply_t *
s_reply(wf_server_t *srv, zframe_t *rid, int kind, int rc)
{
    if (srv->nreplies == srv->replies_cap) {
        srv->replies_cap = srv->replies_cap ? srv->replies_cap * 2 : 16;
        srv->replies = realloc(srv->replies, srv->replies_cap * sizeof *srv->replies);
        if (!srv->replies)
            abort();
    }
    s_reply_t *r = &srv->replies[srv->nreplies++];
    memset(r, 0, sizeof *r);
    r->rid = zframe_dup(rid);
    r->kind = kind;
    r->rc = rc;
    return r;
}

static void
s_flush_replies(wf_server_t *srv, bool committed)
{
    for (uint32_t i = 0; i < srv->nreplies; i++) {
        s_reply_t *r = &srv->replies[i];
        int rc = committed || r->rc != WEFT_OK ? r->rc : WEFT_ESTORE;
        zframe_send(&r->rid, srv->control, ZFRAME_MORE);
        switch (r->kind) {
        case 0:
            zsock_send(srv->control, "i", rc);
            break;
        case 1:
            zsock_send(srv->control, "i8s", rc, rc == WEFT_OK ? r->id : (uint64_t)0,
                       r->msg ? r->msg : (rc == WEFT_ESTORE ? "the store failed" : ""));
            break;
        case 2:
            zsock_send(srv->control, "ii", rc, r->a);
            break;
        default:
            zsock_send(srv->control, "iiii", rc, r->a, r->b, r->c);
            break;
        }
        free(r->msg);
    }
    srv->nreplies = 0;
}

static void
s_flush_board(wf_server_t *srv, bool committed)
{
    void *sock = zsock_resolve(srv->board);
    for (uint32_t i = 0; i < srv->nboard_out; i++) {
        wf_board_out_t *o = &srv->board_out[i];
        /* ROUTER_MANDATORY: an unknown peer fails the first frame, a full pipe (EAGAIN) too,
         * so a message never goes half-way. */
        bool sent = committed &&
                    zmq_send(sock, o->rid, o->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) == o->rid_len &&
                    zmq_send(sock, o->buf, o->len, ZMQ_DONTWAIT) == (int)o->len;
        int err = errno;
        free(o->buf);
        o->buf = NULL;
        if (!committed || sent)
            continue;
        /* The peer is gone or not reading: never lose the message silently.  Declare the
         * consumer lost; its jobs go back to ready in the next turn. */
        wf_consumer_t *c = wf_board_find(srv->core->board, o->rid, o->rid_len);
        if (c && !c->unreachable) { /* once: a whole outbox for it may follow */
            c->unreachable = true;
            wf_log_warn("WEFT-BOARD-UNREACHABLE", "consumer %s unreachable (%s): lost", c->name,
                        zmq_strerror(err));
            wf_timer_set(srv->core->deadlines, &c->timer, srv->core->now);
        }
    }
    srv->nboard_out = 0;
}

static void
s_publish(wf_server_t *srv)
{
    wf_core_t *core = srv->core;
    for (uint32_t i = 0; i < core->nevents; i++) {
        const weft_event_t *ev = &core->events[i].ev;
        if (!wf_subs_wants(&srv->events_subs, ev->request))
            continue;
        uint8_t topic[8];
        for (int k = 0; k < 8; k++)
            topic[k] = (uint8_t)(ev->request >> (56 - 8 * k));
        void *sock = zsock_resolve(srv->events);
        if (zmq_send(sock, topic, sizeof topic, ZMQ_SNDMORE) == sizeof topic)
            zmq_send(sock, ev, sizeof *ev, 0);
    }
}

/* ---- core hooks ---- */

static void
s_hook_cancel(wf_core_t *core, wf_consumer_t *c, uint64_t req, uint32_t idx, uint32_t attempt)
{
    wf_server_t *srv = core->hooks.arg;
    s_send_ref(srv, c, WF_MSG_CANCEL, req, idx, attempt);
}

static void
s_hook_finished(wf_core_t *core, wf_req_t *r)
{
    wf_server_t *srv = core->hooks.arg;
    s_waiter_t **pp = &srv->waiters;
    while (*pp) {
        s_waiter_t *w = *pp;
        if (w->req != r->rec.id) {
            pp = &w->next;
            continue;
        }
        if (w->client) {
            wf_srv_client_finished(srv, w->rid, w->corr, r);
        } else {
            s_reply_t *rep = s_reply(srv, w->rid, 2, WEFT_OK);
            rep->a = r->rec.state;
        }
        *pp = w->next;
        zframe_destroy(&w->rid);
        free(w);
    }
}

/* ---- loading ---- */

static int
s_load_job(uint32_t idx, wf_jobspec_t *spec, wf_jobstate_t *st, void *arg)
{
    return wf_core_load_job(arg, idx, spec, st);
}

static int
s_load_request(wf_server_t *srv, wf_reqrec_t *rec, wf_req_t **out)
{
    wf_req_t *r = wf_core_add_loaded(srv->core, rec);
    int rc = wf_store_each_job(srv->store, r->rec.id, s_load_job, r);
    if (rc == WEFT_OK) {
        for (uint32_t i = 0; i < r->spec.njobs; i++)
            if (!r->jobs[i].spec) /* a job record missing */
                rc = WEFT_ESTORE;
    }
    if (rc != WEFT_OK) {
        wf_log_error("WEFT-STORE-LOAD", "request %llu cannot be loaded: %s",
                     (unsigned long long)r->rec.id, weft_strerror(rc));
        wf_core_evict(srv->core, r);
        return rc;
    }
    wf_reqspec_pack(&r->spec);
    wf_dispatch_resume(srv->core, r);
    if (out)
        *out = r;
    return WEFT_OK;
}

static int
s_load_active(const wf_reqrec_t *rec, void *arg)
{
    wf_server_t *srv = arg;
    wf_reqrec_t copy = *rec;
    /* The store finalises its copy after we return: take ownership of the heap fields. */
    memset((void *)rec, 0, sizeof *rec);
    s_load_request(srv, &copy, NULL);
    wf_reqrec_fini(&copy);
    return 0;
}

static int
s_load_all(wf_server_t *srv)
{
    return wf_store_each_active(srv->store, s_load_active, srv);
}

wf_req_t *
wf_srv_request(wf_server_t *srv, uint64_t id)
{
    wf_req_t *r = wf_core_find(srv->core, id);
    if (r)
        return r;
    wf_reqrec_t rec = {0};
    if (wf_store_get_request(srv->store, id, &rec) != WEFT_OK)
        return NULL;
    if (s_load_request(srv, &rec, &r) != WEFT_OK)
        r = NULL;
    wf_reqrec_fini(&rec);
    return r;
}

/* The board hands out jobs unless someone paused it, a drain is under way, or the store is
 * failing. */
void
wf_srv_set_mode(wf_server_t *srv)
{
    bool paused = srv->user_paused || srv->draining || srv->degraded;
    wf_board_set_mode(srv->core->board, paused ? WF_BOARD_PAUSED : WF_BOARD_RUNNING);
}

/* ---- control ---- */

static bool
s_key_in_memory(wf_server_t *srv, const char *key, uint64_t *id_p)
{
    for (uint32_t i = 0; i < srv->core->nreqs; i++) {
        const wf_req_t *r = srv->core->reqs[i];
        if (r->rec.key && strcmp(r->rec.key, key) == 0) {
            *id_p = r->rec.id;
            return true;
        }
    }
    return false;
}

int
wf_srv_submit(wf_server_t *srv, wf_reqspec_t *spec, uint64_t *id_p, char *why, size_t n)
{
    int rc = WEFT_OK;
    if (srv->degraded) {
        snprintf(why, n, "the store failed; the engine refuses new work until it recovers");
        rc = WEFT_ESTORE;
    } else {
        uint64_t id = 0;
        if (spec->key && (s_key_in_memory(srv, spec->key, &id) ||
                          wf_store_find_idem(srv->store, spec->key, &id) == WEFT_OK)) {
            *id_p = id; /* the same key: the first request's id */
        } else {
            id = srv->next_req++;
            srv->next_req_dirty = true;
            wf_req_t *r = wf_core_add_new(srv->core, id, spec);
            wf_dispatch_start(srv->core, r);
            *id_p = id;
        }
    }
    wf_reqspec_fini(spec);
    free(spec);
    return rc;
}

static void
s_ctl_submit(wf_server_t *srv, zframe_t *rid, wf_reqspec_t *spec)
{
    s_reply_t *rep = s_reply(srv, rid, 1, WEFT_OK);
    if (!spec) {
        rep->rc = WEFT_EINVAL;
        return;
    }
    char why[160] = "";
    rep->rc = wf_srv_submit(srv, spec, &rep->id, why, sizeof why);
    if (why[0])
        rep->msg = strdup(why);
}

static wf_job_t *
s_job(wf_server_t *srv, uint64_t id, uint32_t idx, int *rc)
{
    wf_req_t *r = wf_srv_request(srv, id);
    if (!r || idx >= r->spec.njobs) {
        *rc = WEFT_ENOTFOUND;
        return NULL;
    }
    return &r->jobs[idx];
}

static void
s_ctl(wf_server_t *srv)
{
    zmsg_t *m = zmsg_recv(srv->control);
    if (!m)
        return;
    zframe_t *rid = zmsg_pop(m);
    char *cmd = zmsg_popstr(m);
    if (!rid || !cmd) {
        zframe_destroy(&rid);
        free(cmd);
        zmsg_destroy(&m);
        return;
    }
    uint64_t id = 0;
    uint32_t idx = 0;
    zframe_t *f = zmsg_first(m);
    if (f && zframe_size(f) == 8)
        memcpy(&id, zframe_data(f), 8);
    f = zmsg_next(m);
    if (f && zframe_size(f) == 4)
        memcpy(&idx, zframe_data(f), 4);
    int rc = WEFT_OK;

    if (streq(cmd, "SUBMIT")) {
        zframe_t *pf = zmsg_first(m);
        wf_reqspec_t *spec = NULL;
        if (pf && zframe_size(pf) == sizeof(void *))
            memcpy(&spec, zframe_data(pf), sizeof spec);
        s_ctl_submit(srv, rid, spec);
    } else if (streq(cmd, "WAIT")) {
        wf_req_t *r = wf_core_find(srv->core, id);
        wf_reqrec_t rec = {0};
        if (r && r->rec.state == WEFT_REQ_RUNNING) {
            s_waiter_t *w = calloc(1, sizeof *w);
            if (!w)
                abort();
            w->req = id;
            w->rid = zframe_dup(rid);
            w->next = srv->waiters;
            srv->waiters = w;
        } else if (r) {
            s_reply(srv, rid, 2, WEFT_OK)->a = r->rec.state;
        } else if (wf_store_get_request(srv->store, id, &rec) == WEFT_OK) {
            s_reply(srv, rid, 2, WEFT_OK)->a = rec.state;
            wf_reqrec_fini(&rec);
        } else {
            s_reply(srv, rid, 2, WEFT_ENOTFOUND);
        }
    } else if (streq(cmd, "CANCEL") || streq(cmd, "RETRY")) {
        wf_req_t *r = srv->degraded ? NULL : wf_srv_request(srv, id);
        if (srv->degraded)
            rc = WEFT_ESTORE;
        else if (!r)
            rc = WEFT_ENOTFOUND;
        else if (streq(cmd, "CANCEL"))
            rc = wf_dispatch_cancel_request(srv->core, r);
        else
            rc = wf_dispatch_retry_request(srv->core, r);
        s_reply(srv, rid, 0, rc);
    } else if (streq(cmd, "CANCELJOB") || streq(cmd, "RETRYJOB")) {
        wf_job_t *j = srv->degraded ? NULL : s_job(srv, id, idx, &rc);
        if (srv->degraded)
            rc = WEFT_ESTORE;
        else if (j && streq(cmd, "CANCELJOB"))
            rc = wf_dispatch_cancel_job(srv->core, j);
        else if (j)
            rc = wf_dispatch_retry_job(srv->core, j);
        s_reply(srv, rid, 0, rc);
    } else if (streq(cmd, "PAUSE") || streq(cmd, "RESUME")) {
        srv->user_paused = streq(cmd, "PAUSE");
        if (!srv->user_paused)
            srv->draining = false;
        wf_srv_set_mode(srv);
        s_reply(srv, rid, 0, WEFT_OK);
    } else if (streq(cmd, "RELOAD")) {
        char err[256] = "";
        int rrc = srv->auth ? wf_auth_reload(srv->auth, err, sizeof err) : WEFT_ESTATE;
        if (rrc == WEFT_OK)
            wf_log_warn("WEFT-AUTH-RELOAD", "keys reloaded: %d worker(s), %d client(s)",
                        wf_auth_key_count(srv->auth, WF_AUTH_DOMAIN_WORKERS),
                        wf_auth_key_count(srv->auth, WF_AUTH_DOMAIN_CLIENTS));
        else if (srv->auth)
            wf_log_error("WEFT-AUTH-RELOAD", "keys not reloaded: %s", err);
        s_reply(srv, rid, 0, rrc);
    } else if (streq(cmd, "WHY")) {
        wf_req_t *r = wf_core_find(srv->core, id);
        s_reply_t *rep = s_reply(srv, rid, 3, WEFT_OK);
        if (!r || idx >= r->spec.njobs) {
            rep->rc = WEFT_ENOTFOUND;
        } else {
            wf_job_t *j = &r->jobs[idx];
            rep->a = j->st.state;
            rep->b = j->st.reason;
            if (j->st.state == WEFT_JOB_READY)
                rep->b = wf_board_ready_reason(srv->core->board, j);
            rep->c = (int)j->waiting;
        }
    } else {
        wf_log_warn("WEFT-CTL-UNKNOWN", "unknown control command \"%.32s\"", cmd);
        s_reply(srv, rid, 0, WEFT_EINVAL);
    }
    free(cmd);
    zframe_destroy(&rid);
    zmsg_destroy(&m);
}

/* ---- board ---- */

static void
s_liveness(wf_server_t *srv, wf_consumer_t *c)
{
    c->last_heard = srv->core->now;
    wf_timer_set(srv->core->deadlines, &c->timer,
                 srv->core->now + (int64_t)srv->opts.heartbeat_ms * srv->opts.liveness);
}

/* A consumer is gone.  Its running attempts go back to ready; `charge` says whether that
 * spends the jobs' lost_retries (a crash or silence does; a clean BYE does not). */
static void
s_lose_ex(wf_server_t *srv, wf_consumer_t *c, const char *why, bool charge)
{
    if (c->dead)
        return;
    wf_log_info("WEFT-BOARD-LOST", "consumer %s (pid %u on %s) lost: %s; %u attempt(s) requeued",
                c->name, c->pid, c->host, why, c->nleases);
    for (uint32_t i = 0; i < c->nleases; i++)
        if (c->leases[i].job)
            wf_dispatch_lost(srv->core, c->leases[i].job, charge);
    c->dead = true;
    wf_timer_cancel(srv->core->deadlines, &c->timer);
    s_wkr_drop(srv, c);
    wf_srv_client_relays_gone(srv, c->rid, c->rid_len, why);
}

static void
s_lose(wf_server_t *srv, wf_consumer_t *c, const char *why)
{
    s_lose_ex(srv, c, why, true);
}

static void
s_error_to(wf_server_t *srv, const uint8_t *rid, size_t rid_len, int code, const char *text)
{
    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_ERROR);
    m.code = (uint32_t)code;
    snprintf(m.message, sizeof m.message, "%s", text);
    s_send_board(srv, rid, rid_len, &m);
}

typedef struct s_same {
    const wf_msg_t *hello;
    wf_consumer_t *found;
} s_same_t;

static void
s_same_one(wf_consumer_t *c, void *arg)
{
    s_same_t *s = arg;
    if (!s->found && !c->dead && c->pid == s->hello->pid && strcmp(c->name, s->hello->name) == 0 &&
        strcmp(c->host, s->hello->host) == 0)
        s->found = c;
}

static void
s_hello(wf_server_t *srv, const uint8_t *rid, size_t rid_len, int fd, wf_msg_t *msg)
{
    char why[128];
    wf_consumer_t *old = wf_board_find(srv->core->board, rid, rid_len);
    if (!old) {
        /* A worker we still hold on another connection (same name, host and pid) reconnected
         * before we noticed it had gone (it found us silent, e.g. during a long commit): that
         * connection is dead, and what it ran passes to this one like a re-HELLO's, instead of
         * being cancelled as someone else's attempts. */
        s_same_t same = {msg, NULL};
        wf_board_each(srv->core->board, s_same_one, &same);
        old = same.found;
        if (old)
            wf_log_info("WEFT-BOARD-REJOIN", "consumer %s (pid %u on %s) reconnected: %u attempt(s) "
                        "held on its old connection", old->name, old->pid, old->host, old->nleases);
    }
    if (old) {
        /* The same worker registers again: what it still runs passes to the new
         * registration below at no cost; the rest goes back to ready as if it were lost. */
        for (uint32_t i = 0; i < old->nleases; i++) {
            wf_lease_t *l = &old->leases[i];
            bool still = false;
            for (uint32_t k = 0; k < msg->nrunning && !still; k++)
                still = msg->running[k].req == l->req && msg->running[k].idx == l->idx &&
                        msg->running[k].attempt == l->attempt;
            if (l->job && !still)
                wf_dispatch_lost(srv->core, l->job, true);
        }
        old->dead = true;
        wf_timer_cancel(srv->core->deadlines, &old->timer);
        s_wkr_drop(srv, old);
        /* On the same connection its answers to log reads still come; on an old one, never. */
        if (old->rid_len != rid_len || memcmp(old->rid, rid, rid_len) != 0)
            wf_srv_client_relays_gone(srv, old->rid, old->rid_len, "it reconnected");
        wf_board_reap(srv->core->board);
    }
    wf_consumer_t *c = wf_board_join(srv->core->board, rid, rid_len, msg, why, sizeof why);
    if (!c) {
        s_error_to(srv, rid, rid_len, WEFT_EPROTO, why);
        return;
    }
    c->fd = fd;
    s_liveness(srv, c);
    uint32_t wid = s_wkr_register(srv, c);
    s_wkr_set(srv, c, wid);
    /* Re-adopt the attempts it still runs (after our restart or its reconnect); an attempt we
     * no longer know still occupies one of its slots until it reports.  Either way the job
     * runs on this worker now: its state says so. */
    for (uint32_t i = 0; i < msg->nrunning && c->nleases < c->slots + c->prefetch; i++) {
        wf_attempt_ref_t *a = &msg->running[i];
        if (wf_board_lease_find(c, a->req, a->idx, a->attempt)) {
            /* Listed twice: the first took its lease; a second would cancel a live attempt. */
            wf_log_warn("WEFT-BOARD-HELLO-DUP",
                        "consumer %s listed %llu/%u attempt %u twice as running: ignored one",
                        c->name, (unsigned long long)a->req, a->idx, a->attempt);
            continue;
        }
        wf_req_t *r = wf_core_find(srv->core, a->req);
        wf_job_t *j = r && a->idx < r->spec.njobs ? &r->jobs[a->idx] : NULL;
        if (j && j->st.attempt == a->attempt && j->st.state == WEFT_JOB_RUNNING && !j->owner) {
            if (j->st.worker != wid) {
                j->st.worker = wid;
                wf_core_touch(srv->core, j);
            }
            wf_board_lease_add(srv->core->board, c, j); /* its old registration's attempt */
        } else if (j && j->st.attempt == a->attempt && j->st.state == WEFT_JOB_READY &&
                   (!wf_timer_armed(&j->timer) || j->st.reason == WEFT_REASON_REQUEUED)) {
            wf_timer_cancel(srv->core->deadlines, &j->timer); /* a resume hold, if any */
            wf_board_withdraw(srv->core->board, j);
            j->st.worker = wid;
            wf_core_transition(srv->core, j, WEFT_JOB_RUNNING, WEFT_REASON_LEASED);
            wf_board_lease_add(srv->core->board, c, j);
            if (j->spec->timeout_ms)
                wf_timer_set(srv->core->deadlines, &j->timer, srv->core->now + j->spec->timeout_ms);
        } else {
            /* Not current any more (finished elsewhere, cancelled, or its request is gone):
             * tell it to stop; the slot stays taken until it reports. */
            wf_board_lease_hold(srv->core->board, c, a->req, a->idx, a->attempt);
            s_send_ref(srv, c, WF_MSG_CANCEL, a->req, a->idx, a->attempt);
        }
    }
    wf_msg_t w;
    wf_msg_init(&w, WF_MSG_WELCOME);
    w.heartbeat_ms = (uint32_t)srv->opts.heartbeat_ms;
    w.liveness = (uint32_t)srv->opts.liveness;
    s_send_board(srv, rid, rid_len, &w);
    wf_log_info("WEFT-BOARD-JOIN",
                "consumer %s (pid %u on %s) joined: %u type(s), %u slot(s), prefetch %u", c->name,
                c->pid, c->host, c->ntypes, c->slots, c->prefetch);
}

static void
s_report(wf_server_t *srv, wf_consumer_t *c, wf_msg_t *msg)
{
    wf_lease_t *l = wf_board_lease_find(c, msg->ref.req, msg->ref.idx, msg->ref.attempt);
    wf_job_t *j = l ? l->job : NULL;
    if (msg->kind == WF_MSG_PROGRESS) {
        if (j) {
            j->st.progress = (uint8_t)msg->percent;
            wf_str_set(&j->st.progress_msg, msg->message[0] ? msg->message : NULL, WF_MAX_MESSAGE);
            wf_core_touch(srv->core, j);
            wf_core_progress_event(srv->core, j);
        }
        return;
    }
    if (j && msg->kind == WF_MSG_DONE) {
        wf_board_lease_end(srv->core->board, c, l);
        wf_dispatch_done(srv->core, j, msg->result, msg->result_len);
    } else if (j) {
        wf_board_lease_end(srv->core->board, c, l);
        wf_dispatch_failed(srv->core, j, msg->exit_code, msg->message);
    } else {
        /* Not the current attempt (fencing): count it, free its slot, acknowledge it so the
         * consumer stops re-sending, and change nothing else. */
        if (l)
            wf_board_lease_end(srv->core->board, c, l);
        srv->core->stale_reports++;
        wf_log_debug("WEFT-BOARD-STALE", "stale report for %llu/%u attempt %u from %s",
                     (unsigned long long)msg->ref.req, msg->ref.idx, msg->ref.attempt, c->name);
    }
    s_send_ref(srv, c, WF_MSG_ACK, msg->ref.req, msg->ref.idx, msg->ref.attempt);
}

static void
s_board_msg(wf_server_t *srv)
{
    zmq_msg_t part;
    uint8_t rid[WF_MAX_ROUTING_ID];
    size_t rid_len = 0;
    void *sock = zsock_resolve(srv->board);
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&part);
        return;
    }
    rid_len = zmq_msg_size(&part) <= sizeof rid ? zmq_msg_size(&part) : 0;
    memcpy(rid, zmq_msg_data(&part), rid_len);
    int frames = 1, more = zmq_msg_more(&part);
    zmq_msg_t body;
    zmq_msg_init(&body);
    int fd = -1;
    while (more) {
        zmq_msg_close(&body);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&body, sock, 0) < 0)
            break;
        frames++;
        more = zmq_msg_more(&body);
    }
    fd = zmq_msg_get(&body, ZMQ_SRCFD);
    zmq_msg_close(&part);

    wf_msg_t msg;
    char why[160] = "";
    int rc = frames == 2 ? wf_msg_decode(zmq_msg_data(&body), zmq_msg_size(&body), &msg, why,
                                         sizeof why)
                         : WEFT_EPROTO;
    if (frames != 2)
        snprintf(why, sizeof why, "%d frames, expected 1 after the routing id", frames - 1);
    if (rc != WEFT_OK || rid_len == 0) {
        srv->dropped++;
        wf_log_warn_limited(&srv->lim_board_drop, srv->core->now,
                            rc == WEFT_EVERSION ? "WEFT-PROTO-VERSION" : "WEFT-PROTO-DROP",
                            "dropped a message from a board peer: %s", why);
        if (rid_len) {
            char text[200];
            if (rc == WEFT_EVERSION)
                snprintf(text, sizeof text, "unsupported protocol version; this board speaks %d..%d",
                         WF_PROTO_VERSION_MIN, WF_PROTO_VERSION);
            else
                snprintf(text, sizeof text, "malformed message: %s", why);
            s_error_to(srv, rid, rid_len, rc == WEFT_OK ? WEFT_EPROTO : rc, text);
            wf_consumer_t *c = wf_board_find(srv->core->board, rid, rid_len);
            if (c)
                s_lose(srv, c, "protocol error");
        }
        zmq_msg_close(&body);
        return;
    }

    wf_consumer_t *c = wf_board_find(srv->core->board, rid, rid_len);
    if (msg.kind == WF_MSG_HELLO) {
        s_hello(srv, rid, rid_len, fd, &msg);
    } else if (!c) {
        /* Not registered (we restarted, or it was declared lost): ask it to say HELLO again. */
        if (msg.kind != WF_MSG_BYE)
            s_error_to(srv, rid, rid_len, WEFT_ESTATE, "unknown consumer: send HELLO");
    } else {
        if (fd >= 0)
            c->fd = fd;
        s_liveness(srv, c);
        switch (msg.kind) {
        case WF_MSG_HEARTBEAT:
            break;
        case WF_MSG_PROGRESS:
        case WF_MSG_DONE:
        case WF_MSG_FAILED:
            s_report(srv, c, &msg);
            break;
        case WF_MSG_BYE:
            s_lose_ex(srv, c, "it left", false);
            break;
        case WF_MSG_LOGDATA:
            wf_srv_client_logdata(srv, c, &msg);
            break;
        default:
            srv->dropped++;
            wf_log_warn("WEFT-PROTO-UNEXPECTED", "consumer %s sent %s, which only the board sends",
                        c->name, wf_msg_kind_name(msg.kind));
            break;
        }
    }
    wf_msg_fini(&msg);
    zmq_msg_close(&body);
}

typedef struct s_fd_ctx {
    wf_server_t *srv;
    int fd;
} s_fd_ctx_t;

static void
s_fd_lost(wf_consumer_t *c, void *arg)
{
    s_fd_ctx_t *ctx = arg;
    if (c->fd >= 0 && c->fd == ctx->fd)
        s_lose(ctx->srv, c, "its connection dropped");
}

static void
s_monitor_event(wf_server_t *srv)
{
    zmsg_t *m = zmsg_recv(srv->monitor);
    if (!m)
        return;
    zframe_t *f = zmsg_first(m);
    if (f && zframe_size(f) == 6) {
        uint16_t event;
        uint32_t value;
        memcpy(&event, zframe_data(f), 2);
        memcpy(&value, zframe_data(f) + 2, 4);
        if (event == ZMQ_EVENT_DISCONNECTED) {
            /* A connection dropped: every consumer whose messages came over it is lost now,
             * not at the end of its liveness window. */
            s_fd_ctx_t ctx = {srv, (int)value};
            wf_board_each(srv->core->board, s_fd_lost, &ctx);
        }
    }
    zmsg_destroy(&m);
}

/* ---- timers, matching ---- */

static void
s_heartbeat_one(wf_consumer_t *c, void *arg)
{
    wf_server_t *srv = arg;
    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_HEARTBEAT);
    s_send_board(srv, c->rid, c->rid_len, &m);
}

static void
s_timers(wf_server_t *srv)
{
    wf_timer_t *t;
    while ((t = wf_deadlines_pop_due(srv->core->deadlines, srv->core->now)) != NULL) {
        switch (t->kind) {
        case WF_TIMER_JOB:
            wf_dispatch_timer(srv->core, t->obj);
            break;
        case WF_TIMER_CONSUMER:
            s_lose(srv, t->obj, "silent for the liveness window");
            break;
        case WF_TIMER_HEARTBEAT:
            wf_board_each(srv->core->board, s_heartbeat_one, srv);
            wf_timer_set(srv->core->deadlines, &srv->heartbeat, srv->core->now + srv->opts.heartbeat_ms);
            break;
        case WF_SRV_TIMER_RELAY:
            wf_srv_client_relay_timeout(srv, t->obj);
            break;
        default:
            break;
        }
    }
}

static void
s_grant(wf_consumer_t *c, wf_job_t *j, void *arg)
{
    wf_server_t *srv = arg;
    wf_core_t *core = srv->core;
    j->st.attempt++;
    j->st.worker = s_wkr_id(srv, c);
    j->st.started_ms = core->wall;
    j->st.progress = 0;
    wf_str_set(&j->st.progress_msg, NULL, 0);
    wf_core_transition(core, j, WEFT_JOB_RUNNING, WEFT_REASON_LEASED);
    wf_board_lease_add(core->board, c, j);
    if (j->spec->timeout_ms)
        wf_timer_set(core->deadlines, &j->timer, core->now + j->spec->timeout_ms);

    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_JOB);
    m.ref.req = j->req->rec.id;
    m.ref.idx = j->idx;
    m.ref.attempt = j->st.attempt;
    snprintf(m.job, sizeof m.job, "%s", j->spec->id);
    snprintf(m.type, sizeof m.type, "%s", j->spec->type);
    m.payload = j->spec->payload;
    m.payload_len = j->spec->payload_len;
    m.timeout_ms = j->spec->timeout_ms;
    s_send_board(srv, c->rid, c->rid_len, &m);
}

/* ---- commit ---- */

#ifdef WEFT_TESTING
/* Every commit fails with ESTORE while on (server_int.h): an injected LMDB fault. */
static atomic_bool s_test_fail_commits;

void
wf_server_test_fail_commits(bool on)
{
    atomic_store(&s_test_fail_commits, on);
}
#endif

static int
s_commit(wf_server_t *srv)
{
    wf_core_t *core = srv->core;
#ifdef WEFT_TESTING
    if (atomic_load(&s_test_fail_commits)) {
        srv->next_req_dirty = true; /* something to write (the same value): the fault hits it */
        wf_store_set_fault(srv->store, 1, false);
    }
#endif
    if (core->ndirty == 0 && !core->dirty_reqs && !srv->next_req_dirty && srv->nwkr_new == 0)
        return WEFT_OK;
    wf_batch_reset(srv->batch);
    for (wf_req_t *r = core->dirty_reqs; r; r = r->next_dirty) {
        if (r->is_new)
            wf_batch_put_new_request(srv->batch, &r->rec, &r->spec);
        else
            wf_batch_put_request(srv->batch, &r->rec);
    }
    for (uint32_t i = 0; i < core->ndirty; i++) {
        wf_job_t *j = core->dirty_jobs[i];
        wf_batch_put_jobstate(srv->batch, j->req->rec.id, j->idx, &j->st);
    }
    if (srv->next_req_dirty)
        wf_batch_put_next_req(srv->batch, srv->next_req);
    /* In the transaction of the job states that name them; kept and written again until a
     * commit takes them (the consumers, and so their ids, outlive a failed commit). */
    for (uint32_t i = 0; i < srv->nwkr_new; i++)
        wf_batch_put_worker(srv->batch, &srv->wkr_new[i]);
    char err[256] = "";
    int rc = wf_store_commit(srv->store, srv->batch, err, sizeof err);
    if (rc != WEFT_OK) {
        wf_log_error(rc == WEFT_EFULL ? "WEFT-STORE-FULL" : "WEFT-STORE-COMMIT", "commit failed: %s",
                     err[0] ? err : weft_strerror(rc));
        /* A record the store refuses (an engine bug: HELLO's names are checked on the wire)
         * must not fail every commit after this one: forget the registrations. */
        if (rc == WEFT_EINVAL)
            srv->nwkr_new = 0;
    } else {
        srv->next_req_dirty = false;
        srv->nwkr_new = 0;
    }
    return rc;
}

/* The commit failed: memory is ahead of the store.  Forget memory and rebuild it from the
 * store through the resume path; hand-outs of this turn never left, so consumers know nothing
 * of them. */
static void
s_reload(wf_server_t *srv)
{
    wf_core_t *core = srv->core;
    wf_board_forget_leases(core->board);
    wf_core_clear_turn(core);
    while (core->nreqs > 0)
        wf_core_evict(core, core->reqs[core->nreqs - 1]);
    srv->next_req = wf_store_next_reqid(srv->store);
    srv->next_req_dirty = false;
    s_load_all(srv);
    /* Write what the resume path changed (requeued jobs).  If that works the store is healthy
     * again (a too-big request, say, was refused whole); if not, refuse new work and try again
     * every turn until it does. */
    if (s_commit(srv) == WEFT_OK) {
        s_publish(srv);
        wf_srv_client_publish(srv);
        wf_core_clear_turn(core);
        srv->degraded = false;
        wf_srv_set_mode(srv);
        return;
    }
    srv->degraded = true;
    wf_board_set_mode(core->board, WF_BOARD_PAUSED);
}

static void
s_end_turn(wf_server_t *srv)
{
    wf_core_t *core = srv->core;
    wf_board_match(core->board, s_grant, srv);
    int rc = s_commit(srv);
    bool ok = rc == WEFT_OK;
    s_flush_board(srv, ok);
    s_flush_replies(srv, ok);
    wf_srv_client_flush(srv, ok);
    if (!ok) {
        s_reload(srv);
        return;
    }
    s_publish(srv);
    wf_srv_client_publish(srv);
    wf_srv_client_end_turn(srv);
    /* Finished requests leave memory once their end is durable (collected before the dirty
     * list is cleared). */
    uint32_t n = 0;
    wf_req_t **list = NULL;
    for (wf_req_t *r = core->dirty_reqs; r; r = r->next_dirty)
        if (r->evict)
            n++;
    if (n) {
        list = malloc(n * sizeof *list);
        if (!list)
            abort();
        n = 0;
        for (wf_req_t *r = core->dirty_reqs; r; r = r->next_dirty)
            if (r->evict)
                list[n++] = r;
    }
    wf_core_clear_turn(core);
    for (uint32_t i = 0; i < n; i++)
        wf_core_evict(core, list[i]);
    free(list);
    if (srv->degraded) {
        srv->degraded = false;
        wf_log_warn("WEFT-STORE-RECOVERED", "the store accepts writes again; taking work");
        wf_srv_set_mode(srv);
    }
    wf_board_reap(core->board);
}

/* ---- lifecycle ---- */

int
wf_server_open(wf_server_t **srv_p, const wf_server_opts_t *opts, char *errbuf, size_t errlen)
{
    *srv_p = NULL;
    wf_server_t *srv = calloc(1, sizeof *srv);
    if (!srv)
        abort();
    srv->opts = *opts;
    /* The caller's strings may not outlive this call: keep our own copy of the one we reuse. */
    srv->opts.board_bind = opts->board_bind && *opts->board_bind ? strdup(opts->board_bind) : NULL;
    srv->opts.client_bind = NULL; /* used only here, below */
    srv->opts.events_bind = NULL;
    if (srv->opts.heartbeat_ms <= 0)
        srv->opts.heartbeat_ms = 1000;
    if (srv->opts.liveness <= 0)
        srv->opts.liveness = 3;
    int rc = wf_store_open(&srv->store, opts->dir, &opts->store, errbuf, errlen);
    if (rc != WEFT_OK) {
        free((char *)srv->opts.board_bind);
        free(srv);
        return rc;
    }
    wf_core_hooks_t hooks = {s_hook_cancel, s_hook_finished, srv};
    srv->core = wf_core_new(&hooks);
    srv->batch = wf_batch_new(srv->store);
    srv->next_req = wf_store_next_reqid(srv->store);
    srv->next_worker = wf_store_next_worker(srv->store);
    srv->next_relay = 1;

    /* Security first: without CURVE only endpoints that expose nothing beyond this host are
     * bound (a server runs shell commands for whoever reaches it). */
    const char *binds[] = {opts->board_bind, opts->client_bind, opts->events_bind};
    if (opts->curve_keys && *opts->curve_keys) {
        char path[4096], wdir[4096], cdir[4096];
        snprintf(path, sizeof path, "%s/server", opts->curve_keys);
        snprintf(wdir, sizeof wdir, "%s/workers", opts->curve_keys);
        snprintf(cdir, sizeof cdir, "%s/clients", opts->curve_keys);
        rc = wf_auth_cert_load(&srv->cert, path, true, errbuf, errlen);
        if (rc == WEFT_OK)
            rc = wf_auth_start(&srv->auth, wdir, cdir, errbuf, errlen);
        if (rc != WEFT_OK)
            goto fail;
    } else {
        for (int i = 0; i < 3; i++) {
            if (binds[i] && *binds[i] && !wf_bind_is_local(binds[i])) {
                snprintf(errbuf, errlen,
                         "refusing to bind %s without CURVE keys: a server that runs shell "
                         "commands must not be open to the network (docs/security.md)",
                         binds[i]);
                rc = WEFT_EINVAL;
                goto fail;
            }
        }
    }
    srv->board = zsock_new(ZMQ_ROUTER);
    srv->control = zsock_new(ZMQ_ROUTER);
    /* XPUB: the loop learns what is subscribed and skips events nobody would receive. */
    srv->events = zsock_new(ZMQ_XPUB);
    if (!srv->board || !srv->control || !srv->events)
        goto sockfail;
    if (srv->auth && wf_auth_server_socket(srv->board, srv->cert, WF_AUTH_DOMAIN_WORKERS) != WEFT_OK) {
        snprintf(errbuf, errlen, "cannot make the board a CURVE server");
        rc = WEFT_EINVAL;
        goto fail;
    }
    zsock_set_router_mandatory(srv->board, 1);
    zsock_set_sndtimeo(srv->board, 0);
    zsock_set_maxmsgsize(srv->board, WF_MAX_WIRE_MSG);
    zsock_set_linger(srv->board, 0);
    zsock_set_sndhwm(srv->board, 100000);
    zsock_set_rcvhwm(srv->board, 100000);
    zsock_set_sndhwm(srv->events, 1000000);
    zsock_set_linger(srv->control, 0);
    zsock_set_linger(srv->events, 0);
    if (zsock_bind(srv->board, "%s", opts->board_ep) < 0 ||
        zsock_bind(srv->control, "%s", opts->control_ep) < 0 ||
        zsock_bind(srv->events, "%s", opts->events_ep) < 0)
        goto sockfail;
    if (opts->board_bind && *opts->board_bind && zsock_bind(srv->board, "%s", opts->board_bind) < 0) {
        snprintf(errbuf, errlen, "cannot bind the board to %s: %s", opts->board_bind,
                 zmq_strerror(errno));
        rc = WEFT_EINVAL;
        goto fail;
    }
    srv->client_out = zlist_new();
    if (opts->client_bind && *opts->client_bind) {
        srv->client = zsock_new(ZMQ_ROUTER);
        if (!srv->client)
            goto sockfail;
        if (srv->auth &&
            wf_auth_server_socket(srv->client, srv->cert, WF_AUTH_DOMAIN_CLIENTS) != WEFT_OK) {
            snprintf(errbuf, errlen, "cannot make the client endpoint a CURVE server");
            rc = WEFT_EINVAL;
            goto fail;
        }
        zsock_set_maxmsgsize(srv->client, WF_MAX_CLIENT_MSG);
        zsock_set_linger(srv->client, 0);
        zsock_set_sndtimeo(srv->client, 0);
        if (zsock_bind(srv->client, "%s", opts->client_bind) < 0) {
            snprintf(errbuf, errlen, "cannot bind the client endpoint to %s: %s", opts->client_bind,
                     zmq_strerror(errno));
            rc = WEFT_EINVAL;
            goto fail;
        }
    }
    if (opts->events_bind && *opts->events_bind) {
        srv->pub = zsock_new(ZMQ_XPUB);
        if (!srv->pub)
            goto sockfail;
        /* Events say what runs where: only admitted clients may subscribe. */
        if (srv->auth && wf_auth_server_socket(srv->pub, srv->cert, WF_AUTH_DOMAIN_CLIENTS) != WEFT_OK) {
            snprintf(errbuf, errlen, "cannot make the event publisher a CURVE server");
            rc = WEFT_EINVAL;
            goto fail;
        }
        zsock_set_linger(srv->pub, 0);
        zsock_set_sndhwm(srv->pub, 1000000);
        /* Subscribers only send subscriptions (a few bytes): refuse anything bigger before
         * libzmq allocates what a hostile frame header claims. */
        zsock_set_maxmsgsize(srv->pub, 4096);
        if (zsock_bind(srv->pub, "%s", opts->events_bind) < 0) {
            snprintf(errbuf, errlen, "cannot bind the event publisher to %s: %s", opts->events_bind,
                     zmq_strerror(errno));
            rc = WEFT_EINVAL;
            goto fail;
        }
    }
    snprintf(srv->monitor_ep, sizeof srv->monitor_ep, "inproc://weft-monitor-%p", (void *)srv);
    if (zmq_socket_monitor(zsock_resolve(srv->board), srv->monitor_ep, ZMQ_EVENT_DISCONNECTED) == 0) {
        srv->monitor = zsock_new(ZMQ_PAIR);
        if (srv->monitor)
            zsock_connect(srv->monitor, "%s", srv->monitor_ep);
    }
    wf_timer_init(&srv->heartbeat, WF_TIMER_HEARTBEAT, srv);

    /* Attempts that were running when the engine stopped may still be running on remote
     * workers, which re-report them when they reconnect (re-adoption).  In server mode, hold
     * them back for about a liveness window plus a worker's longest reconnect backoff before
     * handing them to someone else; embedded consumers died with the engine, so no wait. */
    if ((opts->board_bind && *opts->board_bind) || (opts->client_bind && *opts->client_bind))
        srv->core->requeue_grace_ms = (int64_t)srv->opts.heartbeat_ms * srv->opts.liveness + 6000;
    wf_core_set_time(srv->core, s_mono_ms(), s_wall_ms());
    rc = s_load_all(srv);
    if (rc != WEFT_OK) {
        snprintf(errbuf, errlen, "cannot load the unfinished requests: %s", weft_strerror(rc));
        goto fail;
    }
    *srv_p = srv;
    return WEFT_OK;
sockfail:
    snprintf(errbuf, errlen, "cannot create the engine's sockets: %s", zmq_strerror(errno));
    rc = WEFT_ESYS;
fail:
    wf_server_close(&srv);
    return rc;
}

wf_store_t *
wf_server_store(wf_server_t *srv)
{
    return srv->store;
}

/* Drain an XPUB's subscription messages into its set. */
static void
s_read_subs(zsock_t *xpub, wf_subs_t *subs)
{
    void *sock = zsock_resolve(xpub);
    for (int i = 0; i < WF_MAX_MSGS_PER_TURN && (zsock_events(xpub) & ZMQ_POLLIN); i++) {
        uint8_t buf[16];
        int n = zmq_recv(sock, buf, sizeof buf, ZMQ_DONTWAIT);
        if (n < 0)
            break;
        wf_subs_update(subs, buf, n > (int)sizeof buf ? 0 : (size_t)n); /* longer: ignored */
    }
}

int
wf_server_run(wf_server_t *srv, zsock_t *pipe)
{
    zmq_pollitem_t items[7];
    int n = 0;
    items[n++] = (zmq_pollitem_t){zsock_resolve(pipe), 0, ZMQ_POLLIN, 0};
    items[n++] = (zmq_pollitem_t){zsock_resolve(srv->control), 0, ZMQ_POLLIN, 0};
    items[n++] = (zmq_pollitem_t){zsock_resolve(srv->board), 0, ZMQ_POLLIN, 0};
    if (srv->monitor)
        items[n++] = (zmq_pollitem_t){zsock_resolve(srv->monitor), 0, ZMQ_POLLIN, 0};
    if (srv->client)
        items[n++] = (zmq_pollitem_t){zsock_resolve(srv->client), 0, ZMQ_POLLIN, 0};
    items[n++] = (zmq_pollitem_t){zsock_resolve(srv->events), 0, ZMQ_POLLIN, 0};
    if (srv->pub)
        items[n++] = (zmq_pollitem_t){zsock_resolve(srv->pub), 0, ZMQ_POLLIN, 0};
    wf_core_set_time(srv->core, s_mono_ms(), s_wall_ms());
    wf_timer_set(srv->core->deadlines, &srv->heartbeat, srv->core->now + srv->opts.heartbeat_ms);
    s_end_turn(srv); /* commit what loading changed (requeued jobs), hand out what is ready */

    while (!srv->terminated) {
        int64_t now = s_mono_ms();
        int64_t next = wf_deadlines_next(srv->core->deadlines);
        long timeout = next == INT64_MAX ? -1 : (next <= now ? 0 : (long)(next - now));
        if (srv->degraded && (timeout < 0 || timeout > 1000))
            timeout = 1000; /* retry the failed store regularly */
        int rc = zmq_poll(items, n, timeout);
        if (rc < 0 && errno != EINTR)
            break;
        wf_core_set_time(srv->core, s_mono_ms(), s_wall_ms());
        if (items[0].revents & ZMQ_POLLIN) {
            char *cmd = zstr_recv(pipe);
            if (!cmd || streq(cmd, "$TERM"))
                srv->terminated = true;
            free(cmd);
        }
        /* Subscriptions first: one made before a control message (open events, then submit)
         * must count for the events that message causes. */
        s_read_subs(srv->events, &srv->events_subs);
        if (srv->pub)
            s_read_subs(srv->pub, &srv->pub_subs);
        for (int i = 0; i < WF_MAX_MSGS_PER_TURN && (zsock_events(srv->control) & ZMQ_POLLIN); i++)
            s_ctl(srv);
        for (int i = 0; i < WF_MAX_MSGS_PER_TURN && (zsock_events(srv->board) & ZMQ_POLLIN); i++)
            s_board_msg(srv);
        while (srv->monitor && (zsock_events(srv->monitor) & ZMQ_POLLIN))
            s_monitor_event(srv);
        for (int i = 0; srv->client && i < WF_MAX_MSGS_PER_TURN &&
                        (zsock_events(srv->client) & ZMQ_POLLIN);
             i++)
            wf_srv_client_msg(srv);
        s_timers(srv);
        s_end_turn(srv);
    }
    return WEFT_OK;
}

void
wf_server_close(wf_server_t **srv_p)
{
    if (!srv_p || !*srv_p)
        return;
    wf_server_t *srv = *srv_p;
    if (srv->board && srv->monitor)
        zmq_socket_monitor(zsock_resolve(srv->board), NULL, 0);
    zsock_destroy(&srv->monitor);
    zsock_destroy(&srv->board);
    /* libzmq leaves an ipc socket file behind; remove ours so the path can be bound again. */
    if (srv->opts.board_bind && strncmp(srv->opts.board_bind, "ipc://", 6) == 0)
        unlink(srv->opts.board_bind + 6);
    zsock_destroy(&srv->control);
    zsock_destroy(&srv->events);
    wf_subs_fini(&srv->events_subs);
    wf_srv_client_close(srv);
    /* sockets first: the ZAP handler must outlive every CURVE socket */
    wf_auth_stop(&srv->auth);
    zcert_destroy(&srv->cert);
    for (uint32_t i = 0; i < srv->nboard_out; i++)
        free(srv->board_out[i].buf);
    free(srv->board_out);
    for (uint32_t i = 0; i < srv->nreplies; i++) {
        zframe_destroy(&srv->replies[i].rid);
        free(srv->replies[i].msg);
    }
    free(srv->replies);
    while (srv->waiters) {
        s_waiter_t *w = srv->waiters;
        srv->waiters = w->next;
        zframe_destroy(&w->rid);
        free(w);
    }
    free(srv->wkrs);
    free(srv->wkr_new);
    wf_core_destroy(&srv->core);
    wf_batch_destroy(&srv->batch);
    wf_store_close(&srv->store);
    free((char *)srv->opts.board_bind);
    free(srv);
    *srv_p = NULL;
}
