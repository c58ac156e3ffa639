/*
 * server_client.c -- the server's client endpoint: requests from the weft CLI, scripts or any
 * ZeroMQ program (docs/protocol.md, "Client protocol"), and events for remote subscribers.
 *
 * Every reply goes through the outbox like everything else the loop decides: it leaves only
 * after the turn's commit, so SUBMITTED means durable.  If the commit fails, every queued reply
 * becomes ERROR(WEFT_ESTORE) for its corr.  A malformed or foreign-version request is answered
 * with ERROR and logged; it never stops the loop.
 *
 * Reads (STATUS, GRAPH, WHY, LIST) go straight to LMDB from the loop thread and are answered in
 * the same turn.  STATUS and GRAPH are paged (WF_CLIENT_MAX_PAGE jobs, GRAPH also
 * WF_CLIENT_PAGE_BYTES), so one call reads at most a page of jobs and holds a page of compact
 * rows, whatever the request's size: a 10^6-job request costs its client 100 calls, not one
 * stall of the loop.  Only the first page of STATUS (offset 0) counts jobs per state, which
 * reads every job.
 *
 * LOGS is the one request the loop cannot answer from its own store: a shell job's output is
 * on the host of the worker that ran it.  The server relays it: LOGS becomes a LOGREQ to that
 * worker (the job's state names it), and the worker's LOGDATA becomes the LOGS_R.  Nothing
 * waits for the worker: the relay is a small record (wf_relay_t) with a deadline in the loop's
 * heap, answered ETIMEDOUT if the worker stays silent, ENOTFOUND if it goes away, ESTORE if the
 * turn that would send its LOGREQ fails to commit (the LOGREQ is dropped with the outbox),
 * and at most WF_SRV_MAX_RELAYS are in flight (WF_SRV_MAX_RELAYS_PER_CLIENT per client
 * connection), each bringing back at most one chunk of WF_PROTO_MAX_LOG_CHUNK bytes.  Neither
 * side keeps anything of a read: a client that wants more asks again from a later offset.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "client.h"
#include "dispatcher.h"
#include "graph.h"
#include "info.h"
#include "log.h"
#include "server_int.h"

/* ---- outbox ---- */

static void
s_queue(wf_server_t *srv, zframe_t *rid, const wf_cmsg_t *m, bool durable)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = wf_cmsg_encode(m, &buf, &len);
    if (rc != WEFT_OK) {
        /* A reply too big to send (a status of millions of jobs over the frame limit, say):
         * answer with an error rather than nothing. */
        wf_cmsg_t e;
        wf_cmsg_init(&e, WF_CMSG_ERROR);
        e.corr = m->corr;
        e.code = (uint32_t)rc;
        snprintf(e.message, sizeof e.message, "the reply (%s) cannot be encoded: %s",
                 wf_cmsg_kind_name(m->kind), weft_strerror(rc));
        if (wf_cmsg_encode(&e, &buf, &len) != WEFT_OK)
            return;
    }
    s_creply_t *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->rid = zframe_dup(rid);
    r->corr = m->corr;
    r->buf = buf;
    r->len = len;
    r->durable = durable;
    zlist_append(srv->client_out, r);
}

static void
s_error(wf_server_t *srv, zframe_t *rid, uint64_t corr, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
s_error(wf_server_t *srv, zframe_t *rid, uint64_t corr, int code, const char *fmt, ...)
{
    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_ERROR);
    m.corr = corr;
    m.code = (uint32_t)code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m.message, sizeof m.message, fmt, ap);
    va_end(ap);
    s_queue(srv, rid, &m, false);
}

static void
s_ok(wf_server_t *srv, zframe_t *rid, uint64_t corr)
{
    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_OK);
    m.corr = corr;
    s_queue(srv, rid, &m, true);
}

static void s_relays_flushed(wf_server_t *srv, bool committed);
static void s_relay_free(wf_relay_t **relay_p);

void
wf_srv_client_flush(wf_server_t *srv, bool committed)
{
    s_relays_flushed(srv, committed);
    s_creply_t *r;
    while ((r = zlist_pop(srv->client_out)) != NULL) {
        if (!committed && r->durable) {
            wf_cmsg_t e;
            wf_cmsg_init(&e, WF_CMSG_ERROR);
            e.corr = r->corr;
            e.code = WEFT_ESTORE;
            snprintf(e.message, sizeof e.message, "the store failed; nothing was changed");
            free(r->buf);
            r->buf = NULL;
            if (wf_cmsg_encode(&e, &r->buf, &r->len) != WEFT_OK)
                r->len = 0;
        }
        if (srv->client && r->len) {
            zframe_send(&r->rid, srv->client, ZFRAME_MORE);
            zframe_t *body = zframe_new(r->buf, r->len);
            /* A client that is gone or not reading loses only its own reply. */
            zframe_send(&body, srv->client, ZFRAME_DONTWAIT);
        }
        zframe_destroy(&r->rid);
        free(r->buf);
        free(r);
    }
}

void
wf_srv_client_finished(wf_server_t *srv, zframe_t *rid, uint64_t corr, const wf_req_t *req)
{
    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_FINISHED);
    m.corr = corr;
    m.req = req->rec.id;
    m.state = req->rec.state;
    s_queue(srv, rid, &m, true);
}

void
wf_srv_client_publish(wf_server_t *srv)
{
    if (!srv->pub)
        return;
    wf_core_t *core = srv->core;
    for (uint32_t i = 0; i < core->nevents; i++) {
        if (!wf_subs_wants(&srv->pub_subs, core->events[i].ev.request))
            continue;
        wf_cmsg_t m;
        wf_cmsg_init(&m, WF_CMSG_EVENT);
        m.event = core->events[i].ev;
        m.req = m.event.request;
        uint8_t *buf = NULL;
        size_t len = 0;
        if (wf_cmsg_encode(&m, &buf, &len) != WEFT_OK)
            continue;
        uint8_t topic[8];
        for (int k = 0; k < 8; k++)
            topic[k] = (uint8_t)(m.req >> (56 - 8 * k));
        zmsg_t *z = zmsg_new();
        zmsg_addmem(z, topic, sizeof topic);
        zmsg_addmem(z, buf, len);
        free(buf);
        zmsg_send(&z, srv->pub);
    }
}

static const char *
s_mode_name(wf_server_t *srv)
{
    if (srv->draining)
        return wf_board_running(srv->core->board) == 0 ? "stopped" : "draining";
    return wf_board_mode_get(srv->core->board) == WF_BOARD_PAUSED ? "paused" : "running";
}

static void
s_board_reply(wf_server_t *srv, zframe_t *rid, uint64_t corr)
{
    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_BOARD);
    m.corr = corr;
    snprintf(m.mode, sizeof m.mode, "%s", s_mode_name(srv));
    m.running = wf_board_running(srv->core->board);
    s_queue(srv, rid, &m, true);
}

void
wf_srv_client_end_turn(wf_server_t *srv)
{
    /* A drain reports STOPPED once nothing runs any more. */
    if (!srv->draining || !srv->drainers || wf_board_running(srv->core->board) != 0)
        return;
    while (srv->drainers) {
        s_drainer_t *d = srv->drainers;
        srv->drainers = d->next;
        s_board_reply(srv, d->rid, d->corr);
        zframe_destroy(&d->rid);
        free(d);
    }
    /* These replies change nothing durable: send them now rather than a turn later. */
    wf_srv_client_flush(srv, true);
}

void
wf_srv_client_close(wf_server_t *srv)
{
    if (srv->client_out) {
        s_creply_t *r;
        while ((r = zlist_pop(srv->client_out)) != NULL) {
            zframe_destroy(&r->rid);
            free(r->buf);
            free(r);
        }
        zlist_destroy(&srv->client_out);
    }
    while (srv->drainers) {
        s_drainer_t *d = srv->drainers;
        srv->drainers = d->next;
        zframe_destroy(&d->rid);
        free(d);
    }
    /* Log reads still in flight: their timers go with the deadline heap. */
    while (srv->relays) {
        wf_relay_t *r = srv->relays;
        srv->relays = r->next;
        s_relay_free(&r);
    }
    srv->nrelays = 0;
    zsock_destroy(&srv->client);
    zsock_destroy(&srv->pub);
    wf_subs_fini(&srv->pub_subs);
}

/* ---- requests ---- */

static char *
s_dupstr(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

/* Strings and arrays of a reply being built (job ids, texts, GRAPH's needs), copied out of the
 * records read for it and freed together once the reply is encoded.  Chunks never move, so pointers stay valid. */
typedef struct s_strs_chunk {
    struct s_strs_chunk *next;
    size_t used, cap;
    char data[];
} s_strs_chunk_t;

typedef struct s_strs {
    s_strs_chunk_t *head;
} s_strs_t;

/* n bytes of the arena, aligned for a uint32_t array (chunk data is malloc-aligned). */
static void *
s_strs_alloc(s_strs_t *a, size_t n)
{
    s_strs_chunk_t *c = a->head;
    size_t at = c ? (c->used + 3) & ~(size_t)3 : 0;
    if (!c || at > c->cap || c->cap - at < n) {
        size_t cap = n > ((size_t)64 << 10) ? n : ((size_t)64 << 10);
        c = malloc(sizeof *c + cap);
        if (!c)
            abort();
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
        at = 0;
    }
    c->used = at + n;
    return c->data + at;
}

static const char *
s_strs_dup(s_strs_t *a, const char *s)
{
    if (!s || !*s)
        return "";
    size_t n = strlen(s) + 1;
    return memcpy(s_strs_alloc(a, n), s, n);
}

static void
s_strs_free(s_strs_t *a)
{
    while (a->head) {
        s_strs_chunk_t *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}

/* A SUBMIT's request as a spec the engine takes (needs by name, resolved by the graph). */
static wf_reqspec_t *
s_spec_from(const wf_csubmit_t *sub)
{
    wf_reqspec_t *spec = calloc(1, sizeof *spec);
    if (!spec)
        abort();
    spec->name = s_dupstr(sub->name);
    spec->session = sub->session[0] ? s_dupstr(sub->session) : NULL;
    spec->key = sub->key[0] ? s_dupstr(sub->key) : NULL;
    spec->npools = sub->npools;
    spec->pools = calloc(sub->npools ? sub->npools : 1, sizeof *spec->pools);
    spec->njobs = spec->jobs_cap = sub->njobs;
    spec->jobs = calloc(sub->njobs ? sub->njobs : 1, sizeof *spec->jobs);
    if (!spec->pools || !spec->jobs)
        abort();
    for (uint32_t i = 0; i < sub->npools; i++)
        spec->pools[i] = (wf_pooldef_t){s_dupstr(sub->pool_names[i]), sub->pool_limits[i]};
    /* Decoded names are never NULL ("" for none). */
    for (uint32_t i = 0; i < sub->njobs; i++) {
        const wf_cjob_t *c = &sub->jobs[i];
        wf_jobspec_t *j = &spec->jobs[i];
        j->id = s_dupstr(c->id);
        j->type = s_dupstr(c->type);
        j->pool = c->pool && c->pool[0] ? s_dupstr(c->pool) : NULL;
        if (c->payload_len) {
            j->payload = malloc(c->payload_len);
            if (!j->payload)
                abort();
            memcpy(j->payload, c->payload, c->payload_len);
            j->payload_len = c->payload_len;
        }
        j->retries = c->retries;
        j->lost_retries = c->lost_retries;
        j->retry_delay_ms = c->retry_delay_ms;
        j->timeout_ms = c->timeout_ms;
        j->priority = c->priority;
        j->when = (uint8_t)c->when;
        j->nneed_names = j->need_names_cap = c->nneeds;
        if (c->nneeds) {
            j->need_names = calloc(c->nneeds, sizeof *j->need_names);
            if (!j->need_names)
                abort();
            for (uint32_t k = 0; k < c->nneeds; k++)
                j->need_names[k] = s_dupstr(c->needs[k]);
        }
    }
    return spec;
}

static void
s_submit(wf_server_t *srv, zframe_t *rid, wf_cmsg_t *msg)
{
    wf_reqspec_t *spec = s_spec_from(&msg->submit);
    char why[1024] = "";
    int rc = wf_graph_resolve(spec, why, sizeof why);
    if (rc != WEFT_OK) {
        s_error(srv, rid, msg->corr, rc, "%s", why);
        wf_reqspec_fini(spec);
        free(spec);
        return;
    }
    /* Warn about types no connected worker serves: the jobs will wait, not fail. */
    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_SUBMITTED);
    m.corr = msg->corr;
    char texts[8][WF_MAX_MESSAGE + 1];
    const char *warnings[8];
    for (uint32_t i = 0; i < spec->njobs && m.nwarnings < 8; i++) {
        const char *type = spec->jobs[i].type;
        bool seen = false;
        for (uint32_t k = 0; k < i && !seen; k++)
            seen = strcmp(spec->jobs[k].type, type) == 0;
        if (!seen && !wf_board_type_served(srv->core->board, type)) {
            snprintf(texts[m.nwarnings], sizeof texts[0],
                     "no connected worker serves type '%s' (job '%s' and others of it will wait)",
                     type, spec->jobs[i].id);
            warnings[m.nwarnings] = texts[m.nwarnings];
            m.nwarnings++;
        }
    }
    m.warnings = warnings;
    rc = wf_srv_submit(srv, spec, &m.req, why, sizeof why);
    if (rc != WEFT_OK)
        s_error(srv, rid, msg->corr, rc, "%s", why);
    else
        s_queue(srv, rid, &m, true);
}

static bool
s_find_job(wf_server_t *srv, zframe_t *rid, uint64_t corr, uint64_t req, const char *job,
           uint32_t *idx_p)
{
    int rc = wf_store_find_job(srv->store, req, job, idx_p);
    if (rc != WEFT_OK)
        s_error(srv, rid, corr, rc, "request %llu has no job '%s'", (unsigned long long)req, job);
    return rc == WEFT_OK;
}

/* The first and end index of the page [offset, offset + limit) of a request of n jobs. */
static void
s_page(uint32_t n, uint32_t offset, uint32_t limit, uint32_t *first_p, uint32_t *end_p)
{
    uint32_t first = offset < n ? offset : n;
    *first_p = first;
    *end_p = n - first < limit ? n : first + limit;
}

/* STATUS [req]: its first WF_CLIENT_MAX_STATUS_JOBS jobs (what version 1 always answered, less
 * the ETOOBIG it gave bigger requests); STATUS [req, offset, limit]: that page.  Job rows are
 * compact (strings in one arena): ~200 bytes a job while the reply is built. */
static void
s_status(wf_server_t *srv, zframe_t *rid, wf_cmsg_t *msg)
{
    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_STATUS_R);
    m.corr = msg->corr;
    int rc;
    if (msg->offset == 0) {
        rc = wf_info_request(srv->store, msg->req, &m.info);
    } else {
        /* Counting reads every job: only the first page does it. */
        wf_reqrec_t rec = {0};
        rc = wf_store_get_request(srv->store, msg->req, &rec);
        if (rc == WEFT_OK)
            wf_info_fill_request(&rec, &m.info);
        wf_reqrec_fini(&rec);
    }
    if (rc != WEFT_OK) {
        s_error(srv, rid, msg->corr, rc, "no request %llu", (unsigned long long)msg->req);
        return;
    }
    uint32_t first, end;
    s_page(m.info.njobs, msg->offset, msg->limit ? msg->limit : WF_CLIENT_MAX_STATUS_JOBS, &first,
           &end);
    m.cjobs = calloc(end > first ? end - first : 1, sizeof *m.cjobs);
    if (!m.cjobs)
        abort();
    s_strs_t strs = {0};
    wf_req_t *live = wf_core_find(srv->core, msg->req);
    for (uint32_t i = first; i < end; i++) {
        weft_job_info_t ji;
        /* STATUS_R's job rows do not say where jobs ran: skip that read. */
        if (wf_info_job_ex(srv->store, msg->req, i, &ji, false) != WEFT_OK)
            continue;
        if (live && ji.state == WEFT_JOB_READY && i < live->spec.njobs)
            ji.reason = wf_board_ready_reason(srv->core->board, &live->jobs[i]);
        wf_cjobinfo_t *c = &m.cjobs[m.njobs++];
        wf_cjobinfo_view(&ji, c);
        c->id = s_strs_dup(&strs, ji.id);
        c->type = s_strs_dup(&strs, ji.type);
        c->pool = s_strs_dup(&strs, ji.pool);
        c->cause = s_strs_dup(&strs, ji.cause);
        c->progress_msg = s_strs_dup(&strs, ji.progress_msg);
        c->error = s_strs_dup(&strs, ji.error);
    }
    s_queue(srv, rid, &m, false);
    free(m.cjobs);
    s_strs_free(&strs);
}

/* GRAPH [req, offset, limit]: the page's jobs with their state, rule and needs, ending early
 * at WF_CLIENT_PAGE_BYTES (never before one job).  Every job of the page must read: a gap would
 * make `next` lie, so a job that does not read is ERROR ESTORE. */
static void
s_graph(wf_server_t *srv, zframe_t *rid, wf_cmsg_t *msg)
{
    wf_reqrec_t rec = {0};
    int rc = wf_store_get_request(srv->store, msg->req, &rec);
    uint32_t total = rec.njobs;
    wf_reqrec_fini(&rec);
    if (rc != WEFT_OK) {
        s_error(srv, rid, msg->corr, rc, "no request %llu", (unsigned long long)msg->req);
        return;
    }
    uint32_t first, end;
    s_page(total, msg->offset, msg->limit, &first, &end);
    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_GRAPH_R);
    m.corr = msg->corr;
    m.total = total;
    m.nodes = calloc(end > first ? end - first : 1, sizeof *m.nodes);
    if (!m.nodes)
        abort();
    s_strs_t strs = {0};
    size_t bytes = 0;
    for (uint32_t i = first; i < end && rc == WEFT_OK && bytes < WF_CLIENT_PAGE_BYTES; i++) {
        wf_jobspec_t spec = {0};
        wf_jobstate_t st = {0};
        rc = wf_store_get_job(srv->store, msg->req, i, &spec, &st);
        if (rc == WEFT_OK) {
            wf_cnode_t *n = &m.nodes[m.nnodes++];
            n->id = s_strs_dup(&strs, spec.id);
            n->state = (weft_job_state)st.state;
            n->when = (weft_when)spec.when;
            n->nneeds = spec.nneeds;
            if (spec.nneeds)
                n->needs = memcpy(s_strs_alloc(&strs, spec.nneeds * sizeof *spec.needs),
                                  spec.needs, spec.nneeds * sizeof *spec.needs);
            /* what the job adds to the frame, about: its id, a few small fields, 5 bytes a
             * need at most */
            bytes += 8 + strlen(spec.id) + 5 * (size_t)spec.nneeds;
        }
        wf_jobspec_fini(&spec);
        wf_jobstate_fini(&st);
    }
    m.next = first + m.nnodes;
    if (rc == WEFT_OK)
        s_queue(srv, rid, &m, false);
    else
        s_error(srv, rid, msg->corr, WEFT_ESTORE, "cannot read job %u of request %llu: %s",
                m.next, (unsigned long long)msg->req, weft_strerror(rc));
    free(m.nodes);
    s_strs_free(&strs);
}

typedef struct s_list_ctx {
    wf_server_t *srv;
    weft_request_info_t *v;
    uint32_t n, cap;
} s_list_ctx_t;

static int
s_list_one(const wf_reqrec_t *rec, void *arg)
{
    s_list_ctx_t *ctx = arg;
    if (ctx->n == ctx->cap) {
        ctx->cap = ctx->cap ? ctx->cap * 2 : 64;
        ctx->v = realloc(ctx->v, ctx->cap * sizeof *ctx->v);
        if (!ctx->v)
            abort();
    }
    wf_info_fill_request(rec, &ctx->v[ctx->n++]);
    return 0;
}

static void
s_list(wf_server_t *srv, zframe_t *rid, wf_cmsg_t *msg)
{
    s_list_ctx_t ctx = {srv, NULL, 0, 0};
    wf_store_each_request(srv->store, s_list_one, &ctx);
    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_LIST_R);
    m.corr = msg->corr;
    m.reqs = calloc(ctx.n ? ctx.n : 1, sizeof *m.reqs);
    if (!m.reqs)
        abort();
    for (uint32_t i = 0; i < ctx.n; i++)
        wf_creqinfo_view(&ctx.v[i], &m.reqs[i]);
    m.nreqs = ctx.n;
    s_queue(srv, rid, &m, false);
    free(m.reqs);
    free(ctx.v);
}

typedef struct s_workers_ctx {
    wf_server_t *srv;
    wf_cworker_t *v;
    uint32_t n, cap;
} s_workers_ctx_t;

static void
s_worker_one(wf_consumer_t *c, void *arg)
{
    s_workers_ctx_t *ctx = arg;
    if (ctx->n == ctx->cap) {
        ctx->cap = ctx->cap ? ctx->cap * 2 : 16;
        ctx->v = realloc(ctx->v, ctx->cap * sizeof *ctx->v);
        if (!ctx->v)
            abort();
    }
    wf_cworker_t *w = &ctx->v[ctx->n++];
    memset(w, 0, sizeof *w);
    /* Borrowed from the board, which does not change until the reply is encoded. */
    w->name = c->name;
    w->host = c->host;
    w->pid = c->pid;
    w->ntypes = c->ntypes;
    const char **types = calloc(c->ntypes ? c->ntypes : 1, sizeof *types);
    if (!types)
        abort();
    for (uint32_t i = 0; i < c->ntypes; i++)
        types[i] = wf_board_type_name(c->types[i]);
    w->types = types;
    w->slots = c->slots;
    w->running = c->nleases;
    int64_t idle = ctx->srv->core->now - c->last_heard;
    w->idle_ms = idle < 0 ? 0 : (uint32_t)idle;
}

static void
s_workers(wf_server_t *srv, zframe_t *rid, wf_cmsg_t *msg)
{
    s_workers_ctx_t ctx = {srv, NULL, 0, 0};
    wf_board_each(srv->core->board, s_worker_one, &ctx);
    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_WORKERS_R);
    m.corr = msg->corr;
    m.workers = ctx.v;
    m.nworkers = ctx.n;
    s_queue(srv, rid, &m, false);
    for (uint32_t i = 0; i < ctx.n; i++)
        free((void *)ctx.v[i].types);
    free(ctx.v);
}

static void
s_why(wf_server_t *srv, zframe_t *rid, wf_cmsg_t *msg)
{
    uint32_t idx;
    if (!s_find_job(srv, rid, msg->corr, msg->req, msg->job, &idx))
        return;
    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_WHY_R);
    m.corr = msg->corr;
    /* Where the job ran only for a client that asked (WHY's `where`): the short WHY_R is what
     * clients written before it decode. */
    m.where = msg->where ? 1 : 0;
    if (wf_info_job_ex(srv->store, msg->req, idx, &m.jobinfo, m.where != 0) != WEFT_OK) {
        s_error(srv, rid, msg->corr, WEFT_ESTORE, "cannot read job '%s'", msg->job);
        return;
    }
    wf_req_t *live = wf_core_find(srv->core, msg->req);
    if (live && idx < live->spec.njobs && m.jobinfo.state == WEFT_JOB_READY)
        m.jobinfo.reason = wf_board_ready_reason(srv->core->board, &live->jobs[idx]);
    const char **waiting = NULL;
    s_strs_t strs = {0};
    if (m.jobinfo.state == WEFT_JOB_PENDING) {
        wf_jobspec_t spec = {0};
        if (wf_store_get_job(srv->store, msg->req, idx, &spec, NULL) == WEFT_OK) {
            waiting = calloc(spec.nneeds ? spec.nneeds : 1, sizeof *waiting);
            if (!waiting)
                abort();
            for (uint32_t i = 0; i < spec.nneeds; i++) {
                wf_jobspec_t ps = {0};
                wf_jobstate_t pst = {0};
                if (wf_store_get_job(srv->store, msg->req, spec.needs[i], &ps, &pst) == WEFT_OK &&
                    !wf_job_state_terminal(pst.state))
                    waiting[m.nwaiting++] = s_strs_dup(&strs, ps.id);
                wf_jobspec_fini(&ps);
                wf_jobstate_fini(&pst);
            }
        }
        wf_jobspec_fini(&spec);
    }
    m.waiting = waiting;
    s_queue(srv, rid, &m, false);
    free(waiting);
    s_strs_free(&strs);
}

/* ---- log relays ---- */

/* "worker W (pid P) on host H", from the live consumer or else its record: the record it was
 * named from (one registered this turn, or the stored one, read into *w), NULL if none was. */
static const wf_workerrec_t *
s_worker_words(wf_server_t *srv, uint32_t id, char *buf, size_t cap, wf_workerrec_t *w)
{
    const wf_workerrec_t *rec = NULL;
    wf_consumer_t *c = wf_srv_worker_consumer(srv, id);
    if (c) {
        snprintf(buf, cap, "worker %s (pid %u) on host %s", c->name, c->pid, c->host);
        return NULL;
    }
    for (uint32_t i = 0; i < srv->nwkr_new && !rec; i++) /* registered, not yet committed */
        if (srv->wkr_new[i].id == id)
            rec = &srv->wkr_new[i];
    if (!rec && wf_store_get_worker(srv->store, id, w) == WEFT_OK)
        rec = w;
    if (rec)
        snprintf(buf, cap, "worker %s (pid %u) on host %s", rec->name, rec->pid, rec->host);
    else
        snprintf(buf, cap, "worker #%u", id);
    return rec;
}

static void
s_relay_unlink(wf_server_t *srv, wf_relay_t *relay)
{
    for (wf_relay_t **pp = &srv->relays; *pp; pp = &(*pp)->next)
        if (*pp == relay) {
            *pp = relay->next;
            srv->nrelays--;
            break;
        }
    wf_timer_cancel(srv->core->deadlines, &relay->timer);
}

static void
s_relay_free(wf_relay_t **relay_p)
{
    zframe_destroy(&(*relay_p)->rid);
    free(*relay_p);
    *relay_p = NULL;
}

/* LOGS [req, index, attempt, stream, offset, max]: ask the worker that ran the attempt. */
static void
s_logs(wf_server_t *srv, zframe_t *rid, wf_cmsg_t *msg)
{
    wf_jobspec_t spec = {0};
    wf_jobstate_t st = {0};
    char who[WF_MAX_NAME * 2 + 64];
    int rc = wf_store_get_job(srv->store, msg->req, msg->index, &spec, &st);
    if (rc != WEFT_OK) {
        s_error(srv, rid, msg->corr, rc == WEFT_ENOTFOUND ? WEFT_ENOTFOUND : WEFT_ESTORE,
                "request %llu has no job #%u", (unsigned long long)msg->req, msg->index);
        goto out;
    }
    uint32_t attempt = msg->attempt ? msg->attempt : st.attempt;
    if (st.attempt == 0) {
        s_error(srv, rid, msg->corr, WEFT_ENOTFOUND, "job '%s' has not run", spec.id);
        goto out;
    }
    if (attempt > st.attempt) {
        s_error(srv, rid, msg->corr, WEFT_ENOTFOUND, "job '%s' has had %u attempt%s, not %u",
                spec.id, st.attempt, st.attempt == 1 ? "" : "s", attempt);
        goto out;
    }
    if (st.worker == 0) {
        s_error(srv, rid, msg->corr, WEFT_ENOTFOUND,
                "which worker ran job '%s' is not recorded (it ran before this server "
                "recorded it)", spec.id);
        goto out;
    }
    /* Only the last attempt's worker is recorded: an earlier attempt is asked of it too, and
     * is found if it ran there. */
    wf_consumer_t *c = wf_srv_worker_consumer(srv, st.worker);
    wf_workerrec_t w;
    const wf_workerrec_t *rec = s_worker_words(srv, st.worker, who, sizeof who, &w);
    if (!c) {
        if (rec)
            s_error(srv, rid, msg->corr, WEFT_ENOTFOUND,
                    "%s is not connected: job '%s' attempt %u ran there, so its output is on "
                    "%s, in that worker's --logs directory as %llu/%s.%u.out and .err",
                    who, spec.id, attempt, rec->host, (unsigned long long)msg->req, spec.id,
                    attempt);
        else
            s_error(srv, rid, msg->corr, WEFT_ENOTFOUND, "%s, which ran job '%s', is not connected",
                    who, spec.id);
        goto out;
    }
    if (srv->nrelays >= WF_SRV_MAX_RELAYS) {
        s_error(srv, rid, msg->corr, WEFT_ELIMIT,
                "%u log reads are in flight already, the most this server relays at once; "
                "try again", srv->nrelays);
        goto out;
    }
    uint32_t mine = 0;
    for (wf_relay_t *r = srv->relays; r; r = r->next)
        if (zframe_eq(r->rid, rid))
            mine++;
    if (mine >= WF_SRV_MAX_RELAYS_PER_CLIENT) {
        s_error(srv, rid, msg->corr, WEFT_ELIMIT,
                "this connection has %u log reads in flight, the most it may; wait for their "
                "answers", mine);
        goto out;
    }
    wf_relay_t *relay = calloc(1, sizeof *relay);
    if (!relay)
        abort();
    relay->corr = srv->next_relay++;
    relay->rid = zframe_dup(rid);
    relay->client_corr = msg->corr;
    relay->wrid_len = (uint8_t)c->rid_len; /* <= WF_MAX_ROUTING_ID (board.h) */
    memcpy(relay->wrid, c->rid, c->rid_len);
    relay->worker = st.worker;
    relay->offset = msg->log_offset;
    relay->max = msg->max;
    relay->unsent = true;
    wf_timer_init(&relay->timer, WF_SRV_TIMER_RELAY, relay);
    wf_timer_set(srv->core->deadlines, &relay->timer, srv->core->now + WF_SRV_RELAY_TIMEOUT_MS);
    relay->next = srv->relays;
    srv->relays = relay;
    srv->nrelays++;

    wf_msg_t m;
    wf_msg_init(&m, WF_MSG_LOGREQ);
    m.corr = relay->corr;
    m.ref.req = msg->req;
    m.ref.idx = msg->index;
    m.ref.attempt = attempt;
    snprintf(m.job, sizeof m.job, "%s", spec.id);
    memcpy(m.stream, msg->stream, sizeof m.stream);
    m.offset = msg->log_offset;
    m.max = msg->max;
    wf_srv_send_board(srv, c->rid, c->rid_len, &m);
out:
    wf_jobspec_fini(&spec);
    wf_jobstate_fini(&st);
}

void
wf_srv_client_logdata(wf_server_t *srv, wf_consumer_t *c, const wf_msg_t *msg)
{
    wf_relay_t *relay = srv->relays;
    while (relay && relay->corr != msg->corr)
        relay = relay->next;
    if (!relay || relay->wrid_len != c->rid_len || memcmp(relay->wrid, c->rid, c->rid_len) != 0) {
        /* Late (its client was answered ETIMEDOUT), or not asked of this consumer. */
        wf_log_debug("WEFT-LOGS-STRAY", "dropped a LOGDATA (corr %llu) from %s: no read waits "
                     "for it", (unsigned long long)msg->corr, c->name);
        return;
    }
    s_relay_unlink(srv, relay);
    char who[WF_MAX_NAME * 2 + 64];
    wf_workerrec_t w;
    s_worker_words(srv, relay->worker, who, sizeof who, &w);
    if (msg->code == WEFT_OK && msg->data_len > relay->max) {
        s_error(srv, relay->rid, relay->client_corr, WEFT_EPROTO,
                "%s sent %u bytes of log for a read of at most %u", who, msg->data_len,
                relay->max);
    } else if (msg->code == WEFT_OK || msg->code == WEFT_ENOTFOUND) {
        /* No such log is an empty one: the stream wrote nothing (no file is made for it). */
        wf_cmsg_t m;
        wf_cmsg_init(&m, WF_CMSG_LOGS_R);
        m.corr = relay->client_corr;
        m.size = msg->code == WEFT_OK ? msg->size : 0;
        m.log_offset = relay->offset;
        m.data = msg->code == WEFT_OK ? msg->data : NULL;
        m.data_len = msg->code == WEFT_OK ? msg->data_len : 0;
        s_queue(srv, relay->rid, &m, false);
    } else {
        s_error(srv, relay->rid, relay->client_corr, (int)msg->code,
                "%s could not read the log: %s", who, weft_strerror((int)msg->code));
    }
    s_relay_free(&relay);
}

/* The turn's board outbox is gone: sent if committed, dropped if not.  A relay made this turn
 * whose LOGREQ was dropped has nobody left to answer it but us, now: its client gets the store's
 * error with the turn's other replies (not a time-out 5 s later).  s_logs puts new relays at
 * the head of the list, so this turn's are the ones before the first sent one. */
static void
s_relays_flushed(wf_server_t *srv, bool committed)
{
    wf_relay_t *relay;
    if (committed) {
        for (relay = srv->relays; relay && relay->unsent; relay = relay->next)
            relay->unsent = false;
        return;
    }
    while ((relay = srv->relays) != NULL && relay->unsent) {
        s_error(srv, relay->rid, relay->client_corr, WEFT_ESTORE,
                "the store failed; the log read was not sent, try again");
        s_relay_unlink(srv, relay); /* the head: no walk */
        s_relay_free(&relay);
    }
}

void
wf_srv_client_relay_timeout(wf_server_t *srv, wf_relay_t *relay)
{
    s_relay_unlink(srv, relay);
    char who[WF_MAX_NAME * 2 + 64];
    wf_workerrec_t w;
    s_worker_words(srv, relay->worker, who, sizeof who, &w);
    s_error(srv, relay->rid, relay->client_corr, WEFT_ETIMEDOUT,
            "%s did not answer the log read within %d s", who, WF_SRV_RELAY_TIMEOUT_MS / 1000);
    s_relay_free(&relay);
}

void
wf_srv_client_relays_gone(wf_server_t *srv, const uint8_t *rid, size_t rid_len, const char *why)
{
    wf_relay_t **pp = &srv->relays;
    while (*pp) {
        wf_relay_t *relay = *pp;
        if (relay->wrid_len != rid_len || memcmp(relay->wrid, rid, rid_len) != 0) {
            pp = &relay->next;
            continue;
        }
        char who[WF_MAX_NAME * 2 + 64];
        wf_workerrec_t w;
        s_worker_words(srv, relay->worker, who, sizeof who, &w);
        s_error(srv, relay->rid, relay->client_corr, WEFT_ENOTFOUND,
                "%s is not connected any more (%s): it did not answer the log read", who, why);
        s_relay_unlink(srv, relay); /* unlinks *pp */
        s_relay_free(&relay);
    }
}

static void
s_cancel_retry(wf_server_t *srv, zframe_t *rid, wf_cmsg_t *msg)
{
    bool cancel = msg->kind == WF_CMSG_CANCEL;
    if (srv->degraded) {
        s_error(srv, rid, msg->corr, WEFT_ESTORE, "the store failed; try again later");
        return;
    }
    wf_req_t *r = wf_srv_request(srv, msg->req);
    if (!r) {
        s_error(srv, rid, msg->corr, WEFT_ENOTFOUND, "no request %llu",
                (unsigned long long)msg->req);
        return;
    }
    int rc;
    if (msg->job[0]) {
        uint32_t idx;
        if (!s_find_job(srv, rid, msg->corr, msg->req, msg->job, &idx))
            return;
        rc = cancel ? wf_dispatch_cancel_job(srv->core, &r->jobs[idx])
                    : wf_dispatch_retry_job(srv->core, &r->jobs[idx]);
    } else {
        rc = cancel ? wf_dispatch_cancel_request(srv->core, r) : wf_dispatch_retry_request(srv->core, r);
    }
    if (rc == WEFT_OK)
        s_ok(srv, rid, msg->corr);
    else
        s_error(srv, rid, msg->corr, rc, "%s: nothing to %s", weft_strerror(rc),
                cancel ? "cancel (already finished)" : "retry (nothing failed or was cancelled)");
}

static void
s_wait(wf_server_t *srv, zframe_t *rid, wf_cmsg_t *msg)
{
    wf_req_t *r = wf_core_find(srv->core, msg->req);
    if (r && r->rec.state == WEFT_REQ_RUNNING) {
        s_waiter_t *w = calloc(1, sizeof *w);
        if (!w)
            abort();
        w->req = msg->req;
        w->rid = zframe_dup(rid);
        w->client = true;
        w->corr = msg->corr;
        w->next = srv->waiters;
        srv->waiters = w;
        return;
    }
    wf_reqrec_t rec = {0};
    if (r) {
        wf_srv_client_finished(srv, rid, msg->corr, r);
    } else if (wf_store_get_request(srv->store, msg->req, &rec) == WEFT_OK) {
        wf_cmsg_t m;
        wf_cmsg_init(&m, WF_CMSG_FINISHED);
        m.corr = msg->corr;
        m.req = rec.id;
        m.state = rec.state;
        s_queue(srv, rid, &m, true);
        wf_reqrec_fini(&rec);
    } else {
        s_error(srv, rid, msg->corr, WEFT_ENOTFOUND, "no request %llu", (unsigned long long)msg->req);
    }
}

static void
s_board_cmd(wf_server_t *srv, zframe_t *rid, wf_cmsg_t *msg)
{
    if (msg->kind == WF_CMSG_PAUSE) {
        srv->user_paused = true;
    } else if (msg->kind == WF_CMSG_RESUME) {
        srv->user_paused = false;
        srv->draining = false;
    } else {
        srv->draining = true;
    }
    wf_srv_set_mode(srv);
    s_board_reply(srv, rid, msg->corr);
    if (msg->kind == WF_CMSG_DRAIN) {
        s_drainer_t *d = calloc(1, sizeof *d);
        if (!d)
            abort();
        d->rid = zframe_dup(rid);
        d->corr = msg->corr;
        d->next = srv->drainers;
        srv->drainers = d;
    }
}

void
wf_srv_client_msg(wf_server_t *srv)
{
    zmsg_t *z = zmsg_recv(srv->client);
    if (!z)
        return;
    zframe_t *rid = zmsg_pop(z);
    zframe_t *body = zmsg_pop(z);
    if (!rid || !body || zmsg_size(z) != 0) {
        wf_log_warn_limited(&srv->lim_client_drop, srv->core->now, "WEFT-CLIENT-DROP",
                            "dropped a client message of %zu frames",
                            (rid ? 1u : 0u) + (body ? 1u : 0u) + zmsg_size(z));
        if (rid && body)
            s_error(srv, rid, 0, WEFT_EPROTO, "one frame per message");
        zframe_destroy(&rid);
        zframe_destroy(&body);
        zmsg_destroy(&z);
        return;
    }
    zmsg_destroy(&z);
    wf_cmsg_t msg;
    char why[160] = "";
    int rc = wf_cmsg_decode(zframe_data(body), zframe_size(body), &msg, why, sizeof why);
    if (rc != WEFT_OK) {
        wf_log_warn_limited(&srv->lim_client_drop, srv->core->now,
                            rc == WEFT_EVERSION ? "WEFT-PROTO-VERSION" : "WEFT-CLIENT-DROP",
                            "dropped a client message: %s", why);
        /* The decoder keeps the corr when it could read it, so the client can match the error. */
        if (rc == WEFT_EVERSION)
            s_error(srv, rid, msg.corr, rc, "unsupported protocol version; this server speaks %d..%d",
                    WF_CLIENT_VERSION_MIN, WF_CLIENT_VERSION);
        else
            s_error(srv, rid, msg.corr, rc, "malformed message: %s", why);
        zframe_destroy(&rid);
        zframe_destroy(&body);
        return;
    }
    switch (msg.kind) {
    case WF_CMSG_SUBMIT:
        s_submit(srv, rid, &msg);
        break;
    case WF_CMSG_STATUS:
        s_status(srv, rid, &msg);
        break;
    case WF_CMSG_LIST:
        s_list(srv, rid, &msg);
        break;
    case WF_CMSG_CANCEL:
    case WF_CMSG_RETRY:
        s_cancel_retry(srv, rid, &msg);
        break;
    case WF_CMSG_WAIT:
        s_wait(srv, rid, &msg);
        break;
    case WF_CMSG_WORKERS:
        s_workers(srv, rid, &msg);
        break;
    case WF_CMSG_PAUSE:
    case WF_CMSG_RESUME:
    case WF_CMSG_DRAIN:
        s_board_cmd(srv, rid, &msg);
        break;
    case WF_CMSG_WHY:
        s_why(srv, rid, &msg);
        break;
    case WF_CMSG_GRAPH:
        s_graph(srv, rid, &msg);
        break;
    case WF_CMSG_LOGS:
        s_logs(srv, rid, &msg);
        break;
    case WF_CMSG_PING: {
        wf_cmsg_t m;
        wf_cmsg_init(&m, WF_CMSG_PONG);
        m.corr = msg.corr;
        snprintf(m.version, sizeof m.version, "%d.%d.%d", WEFT_VERSION_MAJOR, WEFT_VERSION_MINOR,
                 WEFT_VERSION_PATCH);
        m.proto_min = WF_CLIENT_VERSION_MIN;
        m.proto_max = WF_CLIENT_VERSION;
        s_queue(srv, rid, &m, false);
        break;
    }
    default:
        wf_log_warn("WEFT-CLIENT-UNEXPECTED", "a client sent %s, which only the server sends",
                    wf_cmsg_kind_name(msg.kind));
        s_error(srv, rid, msg.corr, WEFT_EPROTO, "%s is not a request",
                wf_cmsg_kind_name(msg.kind));
        break;
    }
    wf_cmsg_fini(&msg);
    zframe_destroy(&rid);
    zframe_destroy(&body);
}
