/*
 * engine.c -- the public API (include/weft/weft.h) on top of the server loop.
 *
 * The engine's loop runs in a czmq actor.  Calls that change state are control messages to it
 * (a DEALER per call, so any thread may call at any time) and are answered after the commit
 * that makes them durable.  Reads (status, jobs, results, lists) take their own LMDB read
 * transaction in the caller's thread, so they show exactly what is durable and never wait for
 * the loop; only a waiting job's live reason (which pool, which missing type) asks the loop.
 */
#include <weft/weft.h>

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "actor.h"
#include "graph.h"
#include "info.h"
#include "log.h"
#include "namemap.h"
#include "proto.h"
#include "server.h"
#include "store.h"

struct weft_options {
    int readonly;
    int durability;
    uint64_t map_size, map_max;
    int heartbeat_ms, liveness;
    char *board_bind;
    char *client_bind;
    char *events_bind;
    char *curve_keys;
    int log_level;
    int prefetch; /* -1: as many as the local consumer's threads */
};

typedef struct s_handler {
    char *type;
    weft_handler_fn *fn;
    void *arg;
} s_handler_t;

#define S_CTL_POOL 16

struct weft_engine {
    char *dir;
    bool readonly;            /* inspect only: no engine thread, reads only */
    wf_store_t *own_store;    /* the read-only store, owned here (else the loop owns it) */
    char board_ep[80], control_ep[80], events_ep[80];
    wf_actor_t *actor;
    wf_store_t *store; /* owned by the loop; reads are thread-safe */
    s_handler_t *handlers;
    uint32_t nhandlers;
    weft_worker_t *local;
    int prefetch;             /* WEFT_OPT_PREFETCH for the local consumer */
    weft_log_reader_fn *log_reader; /* for the local consumer; NULL: none */
    void *log_reader_arg;
    /* Idle control DEALERs, reused: a socket per call would leave closed sockets for ZeroMQ's
     * reaper to collect, and a burst of calls could outrun it past ZMQ_MAX_SOCKETS (czmq then
     * aborts).  A socket is only pooled after its reply arrived, so none holds a stale one. */
    pthread_mutex_t ctl_mu;
    zsock_t *ctl_pool[S_CTL_POOL];
    uint32_t nctl_pool;
    wf_actor_t *event_thread;
};

struct weft_request {
    wf_reqspec_t spec;
    wf_namemap_t *ids;
    bool resolved; /* spec's needs/children are current: no change since the last resolve */
    char errmsg[1024];
};

/* Resolve the graph unless nothing changed since the last successful resolve. */
static int
s_resolve(weft_request_t *r)
{
    if (r->resolved)
        return WEFT_OK;
    r->errmsg[0] = 0;
    int rc = wf_graph_resolve(&r->spec, r->errmsg, sizeof r->errmsg);
    r->resolved = rc == WEFT_OK;
    return rc;
}

struct weft_events {
    zsock_t *sub;
};

/* ---- options ---- */

int
weft_options_new(weft_options_t **opts_p)
{
    if (!opts_p)
        return WEFT_EINVAL;
    weft_options_t *o = calloc(1, sizeof *o);
    if (!o)
        abort();
    o->heartbeat_ms = 1000;
    o->liveness = 3;
    o->log_level = WF_LOG_WARN;
    o->prefetch = -1;
    *opts_p = o;
    return WEFT_OK;
}

void
weft_options_destroy(weft_options_t **opts_p)
{
    if (!opts_p || !*opts_p)
        return;
    free((*opts_p)->board_bind);
    free((*opts_p)->client_bind);
    free((*opts_p)->events_bind);
    free((*opts_p)->curve_keys);
    free(*opts_p);
    *opts_p = NULL;
}

int
weft_options_set_int(weft_options_t *o, weft_option opt, int64_t v)
{
    if (!o)
        return WEFT_EINVAL;
    switch (opt) {
    case WEFT_OPT_DURABILITY:
        if (v != WEFT_DURABLE_FULL && v != WEFT_DURABLE_PROCESS)
            return WEFT_EINVAL;
        o->durability = (int)v;
        return WEFT_OK;
    case WEFT_OPT_MAP_SIZE:
        if (v < 65536)
            return WEFT_EINVAL;
        o->map_size = (uint64_t)v;
        return WEFT_OK;
    case WEFT_OPT_MAP_MAX:
        if (v < 65536)
            return WEFT_EINVAL;
        o->map_max = (uint64_t)v;
        return WEFT_OK;
    case WEFT_OPT_HEARTBEAT_MS:
        if (v < 1 || v > 3600000)
            return WEFT_EINVAL;
        o->heartbeat_ms = (int)v;
        return WEFT_OK;
    case WEFT_OPT_LIVENESS:
        if (v < 1 || v > 100)
            return WEFT_EINVAL;
        o->liveness = (int)v;
        return WEFT_OK;
    case WEFT_OPT_LOG_LEVEL:
        if (v < 0 || v > 4)
            return WEFT_EINVAL;
        o->log_level = (int)v;
        return WEFT_OK;
    case WEFT_OPT_READONLY:
        if (v != 0 && v != 1)
            return WEFT_EINVAL;
        o->readonly = (int)v;
        return WEFT_OK;
    case WEFT_OPT_PREFETCH:
        if (v < 0 || v >= WF_MAX_SLOTS)
            return WEFT_EINVAL;
        o->prefetch = (int)v;
        return WEFT_OK;
    default:
        return WEFT_EINVAL;
    }
}

int
weft_options_set_str(weft_options_t *o, weft_option opt, const char *v)
{
    if (!o || !v || strlen(v) > 1024)
        return WEFT_EINVAL;
    char **field = opt == WEFT_OPT_BOARD_BIND    ? &o->board_bind
                   : opt == WEFT_OPT_CLIENT_BIND ? &o->client_bind
                   : opt == WEFT_OPT_EVENTS_BIND ? &o->events_bind
                   : opt == WEFT_OPT_CURVE_KEYS  ? &o->curve_keys
                                                 : NULL;
    if (!field)
        return WEFT_EINVAL;
    free(*field);
    *field = strdup(v);
    return WEFT_OK;
}

/* ---- engine ---- */

typedef struct s_actor_args {
    wf_server_opts_t sopts;
} s_actor_args_t;

static void
s_engine_actor(zsock_t *pipe, void *arg)
{
    s_actor_args_t *a = arg;
    wf_server_t *srv = NULL;
    char err[512] = "";
    int rc = wf_server_open(&srv, &a->sopts, err, sizeof err);
    zsock_signal(pipe, 0);
    zsock_send(pipe, "isp", rc, err, rc == WEFT_OK ? (void *)wf_server_store(srv) : NULL);
    if (rc != WEFT_OK)
        return;
    wf_server_run(srv, pipe);
    wf_server_close(&srv);
}

int
weft_engine_open(weft_engine_t **eng_p, const char *dir, const weft_options_t *opts, char *errbuf,
                 size_t errlen)
{
    char dummy[8];
    if (!errbuf) {
        errbuf = dummy;
        errlen = sizeof dummy;
    }
    if (errlen)
        errbuf[0] = 0;
    if (!eng_p || !dir || !*dir) {
        snprintf(errbuf, errlen, "no engine pointer or state directory given");
        return WEFT_EINVAL;
    }
    *eng_p = NULL;
    weft_options_t defaults;
    if (!opts) {
        memset(&defaults, 0, sizeof defaults);
        defaults.heartbeat_ms = 1000;
        defaults.liveness = 3;
        defaults.log_level = WF_LOG_WARN;
        defaults.prefetch = -1;
        opts = &defaults;
    }
    wf_log_set_level(opts->log_level);
    /* weft never takes over the application's SIGINT/SIGTERM: say so before czmq starts. */
    zsys_handler_set(NULL);
    zsys_init();

    weft_engine_t *eng = calloc(1, sizeof *eng);
    if (!eng)
        abort();
    eng->dir = strdup(dir);
    pthread_mutex_init(&eng->ctl_mu, NULL);
    eng->prefetch = opts->prefetch;
    if (opts->readonly) {
        /* Inspecting: no thread, no sockets, no lock; the store alone, opened read-only. */
        wf_store_opts_t so = {.durability = opts->durability, .readonly = true};
        int rc = wf_store_open(&eng->own_store, dir, &so, errbuf, errlen);
        if (rc != WEFT_OK) {
            pthread_mutex_destroy(&eng->ctl_mu);
            free(eng->dir);
            free(eng);
            return rc;
        }
        eng->readonly = true;
        eng->store = eng->own_store;
        *eng_p = eng;
        return WEFT_OK;
    }
    static atomic_uint counter;
    unsigned n = atomic_fetch_add(&counter, 1);
    snprintf(eng->board_ep, sizeof eng->board_ep, "inproc://weft-board-%d-%u", (int)getpid(), n);
    snprintf(eng->control_ep, sizeof eng->control_ep, "inproc://weft-control-%d-%u", (int)getpid(), n);
    snprintf(eng->events_ep, sizeof eng->events_ep, "inproc://weft-events-%d-%u", (int)getpid(), n);

    s_actor_args_t args = {0};
    args.sopts.dir = eng->dir;
    args.sopts.store.durability = opts->durability;
    args.sopts.store.map_size = opts->map_size;
    args.sopts.store.map_max = opts->map_max;
    args.sopts.heartbeat_ms = opts->heartbeat_ms;
    args.sopts.liveness = opts->liveness;
    args.sopts.board_bind = opts->board_bind;
    args.sopts.client_bind = opts->client_bind;
    args.sopts.events_bind = opts->events_bind;
    args.sopts.curve_keys = opts->curve_keys;
    args.sopts.board_ep = eng->board_ep;
    args.sopts.control_ep = eng->control_ep;
    args.sopts.events_ep = eng->events_ep;
    eng->actor = wf_actor_new(s_engine_actor, &args);
    int rc = WEFT_ESYS;
    char *err = NULL;
    void *store = NULL;
    if (eng->actor &&
        zsock_recv(wf_actor_sock(eng->actor), "isp", &rc, &err, &store) == 0 &&
        rc == WEFT_OK) {
        eng->store = store;
        free(err);
        *eng_p = eng;
        return WEFT_OK;
    }
    snprintf(errbuf, errlen, "%s", err && *err ? err : "the engine thread did not start");
    free(err);
    wf_actor_destroy(&eng->actor);
    pthread_mutex_destroy(&eng->ctl_mu);
    free(eng->dir);
    free(eng);
    return rc == WEFT_OK ? WEFT_ESYS : rc;
}

void
weft_engine_close(weft_engine_t **eng_p)
{
    if (!eng_p || !*eng_p)
        return;
    weft_engine_t *eng = *eng_p;
    wf_actor_destroy(&eng->event_thread);
    weft_worker_destroy(&eng->local);
    while (eng->nctl_pool > 0)
        zsock_destroy(&eng->ctl_pool[--eng->nctl_pool]);
    pthread_mutex_destroy(&eng->ctl_mu);
    wf_actor_destroy(&eng->actor);
    wf_store_close(&eng->own_store);
    for (uint32_t i = 0; i < eng->nhandlers; i++)
        free(eng->handlers[i].type);
    free(eng->handlers);
    free(eng->dir);
    free(eng);
    *eng_p = NULL;
}

const char *
weft_engine_board_endpoint(const weft_engine_t *eng)
{
    return eng ? eng->board_ep : NULL;
}

/* One round trip on the control socket.  picture/args as zsock_send; the reply is received
 * with reply_picture into the pointers given after `...`'s send arguments (two va_lists would
 * be clumsy, so callers pass a prepared zmsg instead). */
static zsock_t *
s_ctl_open(weft_engine_t *eng)
{
    if (eng->readonly)
        return NULL;
    zsock_t *s = NULL;
    pthread_mutex_lock(&eng->ctl_mu);
    if (eng->nctl_pool > 0)
        s = eng->ctl_pool[--eng->nctl_pool];
    pthread_mutex_unlock(&eng->ctl_mu);
    if (s)
        return s;
    s = zsock_new(ZMQ_DEALER);
    if (!s)
        return NULL;
    zsock_set_linger(s, 0);
    if (zsock_connect(s, "%s", eng->control_ep) < 0) {
        zsock_destroy(&s);
        return NULL;
    }
    return s;
}

/* Give back a control socket: to the pool if its exchange completed (no reply can still come),
 * else destroyed.  The mutex is also the memory barrier ZeroMQ asks for when a socket moves
 * between threads. */
static void
s_ctl_done(weft_engine_t *eng, zsock_t **s_p, bool completed)
{
    zsock_t *s = *s_p;
    *s_p = NULL;
    if (!s)
        return;
    if (completed) {
        zsock_set_rcvtimeo(s, -1);
        pthread_mutex_lock(&eng->ctl_mu);
        if (eng->nctl_pool < S_CTL_POOL) {
            eng->ctl_pool[eng->nctl_pool++] = s;
            s = NULL;
        }
        pthread_mutex_unlock(&eng->ctl_mu);
    }
    zsock_destroy(&s);
}

/* Send cmd with an optional id and index; receive "i" (rc). */
static int
s_ctl_simple(weft_engine_t *eng, const char *cmd, const uint64_t *id, const uint32_t *idx)
{
    if (!eng)
        return WEFT_EINVAL;
    if (eng->readonly)
        return WEFT_ESTATE;
    zsock_t *s = s_ctl_open(eng);
    if (!s)
        return WEFT_ECLOSED;
    zmsg_t *m = zmsg_new();
    zmsg_addstr(m, cmd);
    if (id)
        zmsg_addmem(m, id, 8);
    if (idx)
        zmsg_addmem(m, idx, 4);
    int rc = WEFT_ECLOSED;
    bool completed = zmsg_send(&m, s) == 0 && zsock_recv(s, "i", &rc) == 0;
    if (!completed)
        rc = WEFT_ECLOSED;
    zmsg_destroy(&m);
    s_ctl_done(eng, &s, completed);
    return rc;
}

int
weft_engine_reload_keys(weft_engine_t *eng)
{
    return s_ctl_simple(eng, "RELOAD", NULL, NULL);
}

int
weft_engine_pause(weft_engine_t *eng)
{
    return s_ctl_simple(eng, "PAUSE", NULL, NULL);
}

int
weft_engine_resume(weft_engine_t *eng)
{
    return s_ctl_simple(eng, "RESUME", NULL, NULL);
}

/* ---- handlers and local consumers ---- */

int
weft_engine_register(weft_engine_t *eng, const char *type, weft_handler_fn *fn, void *arg)
{
    if (!eng || !type || !fn || !wf_name_ok(type, strlen(type)))
        return WEFT_EINVAL;
    if (eng->local)
        return WEFT_ESTATE;
    for (uint32_t i = 0; i < eng->nhandlers; i++)
        if (strcmp(eng->handlers[i].type, type) == 0)
            return WEFT_EEXIST;
    if (eng->nhandlers >= WF_MAX_TYPES)
        return WEFT_ELIMIT;
    eng->handlers = realloc(eng->handlers, (eng->nhandlers + 1) * sizeof *eng->handlers);
    if (!eng->handlers)
        abort();
    eng->handlers[eng->nhandlers++] = (s_handler_t){strdup(type), fn, arg};
    return WEFT_OK;
}

int
weft_engine_set_log_reader(weft_engine_t *eng, weft_log_reader_fn *fn, void *arg)
{
    if (!eng || !fn)
        return WEFT_EINVAL;
    if (eng->local || eng->readonly)
        return WEFT_ESTATE;
    eng->log_reader = fn;
    eng->log_reader_arg = arg;
    return WEFT_OK;
}

int
weft_engine_start_consumers(weft_engine_t *eng, unsigned threads)
{
    if (!eng || threads == 0 || threads > WF_MAX_SLOTS || eng->nhandlers == 0)
        return WEFT_EINVAL;
    if (eng->local || eng->readonly)
        return WEFT_ESTATE;
    weft_worker_t *w = NULL;
    int rc = weft_worker_new(&w, eng->board_ep, "local");
    for (uint32_t i = 0; rc == WEFT_OK && i < eng->nhandlers; i++)
        rc = weft_worker_register(w, eng->handlers[i].type, eng->handlers[i].fn, eng->handlers[i].arg);
    /* By default one queued job per thread: enough that a thread never waits for the board's
     * commit between two jobs, few enough that "running" stays close to what runs. */
    unsigned prefetch = eng->prefetch < 0 ? threads : (unsigned)eng->prefetch;
    if (prefetch + threads > WF_MAX_SLOTS)
        prefetch = WF_MAX_SLOTS - threads;
    if (rc == WEFT_OK)
        rc = weft_worker_set_prefetch(w, prefetch);
    if (rc == WEFT_OK && eng->log_reader)
        rc = weft_worker_set_log_reader(w, eng->log_reader, eng->log_reader_arg);
    if (rc == WEFT_OK)
        rc = weft_worker_start(w, threads);
    if (rc != WEFT_OK) {
        weft_worker_destroy(&w);
        return rc;
    }
    eng->local = w;
    return WEFT_OK;
}

/* ---- building requests ---- */

static char *
s_strdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static bool
s_name_arg(const char *s)
{
    return s && wf_name_ok(s, strlen(s));
}

int
weft_request_new(weft_request_t **req_p, const char *name)
{
    if (!req_p || !s_name_arg(name))
        return WEFT_EINVAL;
    weft_request_t *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->spec.name = s_strdup(name);
    r->ids = wf_namemap_new(16);
    *req_p = r;
    return WEFT_OK;
}

void
weft_request_destroy(weft_request_t **req_p)
{
    if (!req_p || !*req_p)
        return;
    wf_namemap_destroy(&(*req_p)->ids);
    wf_reqspec_fini(&(*req_p)->spec);
    free(*req_p);
    *req_p = NULL;
}

int
weft_request_set_session(weft_request_t *r, const char *session)
{
    if (r)
        r->resolved = false;
    if (!r || !s_name_arg(session))
        return WEFT_EINVAL;
    wf_str_set(&r->spec.session, session, WF_MAX_NAME);
    return WEFT_OK;
}

int
weft_request_set_key(weft_request_t *r, const char *key)
{
    if (r)
        r->resolved = false;
    if (!r || !s_name_arg(key))
        return WEFT_EINVAL;
    wf_str_set(&r->spec.key, key, WF_MAX_NAME);
    return WEFT_OK;
}

int
weft_request_set_pool(weft_request_t *r, const char *pool, uint32_t limit)
{
    if (r)
        r->resolved = false;
    if (!r || !s_name_arg(pool) || limit == 0)
        return WEFT_EINVAL;
    for (uint32_t i = 0; i < r->spec.npools; i++) {
        if (strcmp(r->spec.pools[i].name, pool) == 0) {
            r->spec.pools[i].limit = limit;
            return WEFT_OK;
        }
    }
    if (r->spec.npools >= WF_MAX_POOLS)
        return WEFT_ELIMIT;
    r->spec.pools = realloc(r->spec.pools, (r->spec.npools + 1) * sizeof *r->spec.pools);
    if (!r->spec.pools)
        abort();
    r->spec.pools[r->spec.npools++] = (wf_pooldef_t){s_strdup(pool), limit};
    return WEFT_OK;
}

int
weft_request_add_job(weft_request_t *r, const char *id, const char *type, const void *payload,
                     size_t len)
{
    if (r)
        r->resolved = false;
    if (!r || !s_name_arg(id) || !s_name_arg(type) || (len && !payload))
        return WEFT_EINVAL;
    if (len > WF_MAX_PAYLOAD)
        return WEFT_ETOOBIG;
    if (r->spec.njobs >= WF_MAX_JOBS_PER_REQUEST)
        return WEFT_ELIMIT;
    uint32_t old;
    if (wf_namemap_get(r->ids, id, &old))
        return WEFT_EEXIST;
    if (r->spec.njobs == r->spec.jobs_cap) {
        r->spec.jobs_cap = r->spec.jobs_cap ? r->spec.jobs_cap * 2 : 16;
        r->spec.jobs = realloc(r->spec.jobs, r->spec.jobs_cap * sizeof *r->spec.jobs);
        if (!r->spec.jobs)
            abort();
    }
    wf_jobspec_t *j = &r->spec.jobs[r->spec.njobs];
    memset(j, 0, sizeof *j);
    j->id = s_strdup(id);
    j->type = s_strdup(type);
    j->lost_retries = 3;
    if (len) {
        j->payload = malloc(len);
        if (!j->payload)
            abort();
        memcpy(j->payload, payload, len);
        j->payload_len = (uint32_t)len;
    }
    wf_namemap_put(r->ids, j->id, r->spec.njobs, NULL);
    r->spec.njobs++;
    return WEFT_OK;
}

static wf_jobspec_t *
s_find(weft_request_t *r, const char *id)
{
    uint32_t idx;
    if (!r || !id || !wf_namemap_get(r->ids, id, &idx))
        return NULL;
    return &r->spec.jobs[idx];
}

int
weft_request_add_need(weft_request_t *r, const char *job, const char *parent)
{
    if (r)
        r->resolved = false;
    wf_jobspec_t *j = s_find(r, job);
    if (!s_name_arg(parent))
        return WEFT_EINVAL;
    if (!j)
        return WEFT_ENOTFOUND;
    if (j->nneed_names >= WF_MAX_NEEDS_PER_JOB)
        return WEFT_ELIMIT;
    if (j->nneed_names == j->need_names_cap) {
        j->need_names_cap = j->need_names_cap ? j->need_names_cap * 2 : 4;
        j->need_names = realloc(j->need_names, j->need_names_cap * sizeof *j->need_names);
        if (!j->need_names)
            abort();
    }
    j->need_names[j->nneed_names++] = s_strdup(parent);
    return WEFT_OK;
}

int
weft_request_job_set(weft_request_t *r, const char *job, weft_jobopt opt, int64_t v)
{
    if (r)
        r->resolved = false;
    wf_jobspec_t *j = s_find(r, job);
    if (!j)
        return r ? WEFT_ENOTFOUND : WEFT_EINVAL;
    switch (opt) {
    case WEFT_JOBOPT_RETRIES:
        if (v < 0 || v > WF_MAX_RETRIES)
            return WEFT_EINVAL;
        j->retries = (uint32_t)v;
        break;
    case WEFT_JOBOPT_LOST_RETRIES:
        if (v < 0 || v > WF_MAX_RETRIES)
            return WEFT_EINVAL;
        j->lost_retries = (uint32_t)v;
        break;
    case WEFT_JOBOPT_RETRY_DELAY_MS:
        if (v < 0 || v > WF_MAX_RETRY_DELAY_MS)
            return WEFT_EINVAL;
        j->retry_delay_ms = (uint32_t)v;
        break;
    case WEFT_JOBOPT_TIMEOUT_MS:
        if (v < 0 || v > WF_MAX_TIMEOUT_MS)
            return WEFT_EINVAL;
        j->timeout_ms = (uint32_t)v;
        break;
    case WEFT_JOBOPT_PRIORITY:
        if (v < INT32_MIN || v > INT32_MAX)
            return WEFT_EINVAL;
        j->priority = (int32_t)v;
        break;
    case WEFT_JOBOPT_WHEN:
        if (v < 0 || v >= WEFT_WHEN_COUNT_)
            return WEFT_EINVAL;
        j->when = (uint8_t)v;
        break;
    case WEFT_JOBOPT_DONE:
        if (v != 0 && v != 1)
            return WEFT_EINVAL;
        j->carried = v == 1;
        break;
    default:
        return WEFT_EINVAL;
    }
    return WEFT_OK;
}

int
weft_request_job_set_pool(weft_request_t *r, const char *job, const char *pool)
{
    if (r)
        r->resolved = false;
    wf_jobspec_t *j = s_find(r, job);
    if (!j)
        return r ? WEFT_ENOTFOUND : WEFT_EINVAL;
    if (pool && !s_name_arg(pool))
        return WEFT_EINVAL;
    wf_str_set(&j->pool, pool, WF_MAX_NAME);
    return WEFT_OK;
}

int
weft_request_job_fingerprint(weft_request_t *r, const char *job, uint64_t *fp_p)
{
    wf_jobspec_t *j = s_find(r, job);
    if (!j || !fp_p)
        return r && fp_p ? WEFT_ENOTFOUND : WEFT_EINVAL;
    int rc = s_resolve(r);
    if (rc == WEFT_OK)
        *fp_p = wf_jobspec_fingerprint(j);
    return rc;
}

const char *
weft_request_errmsg(const weft_request_t *r)
{
    return r ? r->errmsg : "";
}

/* A copy of a resolved spec for the engine (need names are not needed there). */
static wf_reqspec_t *
s_clone(const wf_reqspec_t *s)
{
    wf_reqspec_t *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    /* The jobs go straight into one packed arena: no per-job allocations to copy first. */
    wf_reqspec_copy_packed(s, c);
    c->name = s_strdup(s->name);
    c->session = s->session ? s_strdup(s->session) : NULL;
    c->key = s->key ? s_strdup(s->key) : NULL;
    c->npools = s->npools;
    c->pools = calloc(s->npools ? s->npools : 1, sizeof *c->pools);
    if (!c->pools)
        abort();
    for (uint32_t i = 0; i < s->npools; i++)
        c->pools[i] = (wf_pooldef_t){s_strdup(s->pools[i].name), s->pools[i].limit};
    return c;
}

int
weft_request_submit(weft_engine_t *eng, weft_request_t *r, weft_reqid_t *id_p)
{
    if (!eng || !r)
        return WEFT_EINVAL;
    if (eng->readonly)
        return WEFT_ESTATE;
    r->errmsg[0] = 0;
    int rc = s_resolve(r);
    if (rc != WEFT_OK)
        return rc;
    wf_reqspec_t *copy = s_clone(&r->spec);
    zsock_t *s = s_ctl_open(eng);
    if (!s) {
        wf_reqspec_fini(copy);
        free(copy);
        return WEFT_ECLOSED;
    }
    uint64_t id = 0;
    char *msg = NULL;
    rc = WEFT_ECLOSED;
    bool completed = false;
    if (zsock_send(s, "sp", "SUBMIT", (void *)copy) != 0) {
        wf_reqspec_fini(copy);
        free(copy);
    } else if (zsock_recv(s, "i8s", &rc, &id, &msg) != 0) {
        rc = WEFT_ECLOSED;
    } else {
        completed = true;
    }
    if (msg && *msg)
        snprintf(r->errmsg, sizeof r->errmsg, "%s", msg);
    free(msg);
    s_ctl_done(eng, &s, completed);
    if (rc == WEFT_OK && id_p)
        *id_p = id;
    return rc;
}

/* ---- reading ---- */

int
weft_request_status(weft_engine_t *eng, weft_reqid_t id, weft_request_info_t *out)
{
    if (!eng || !out)
        return WEFT_EINVAL;
    return wf_info_request(eng->store, id, out);
}

int
weft_job_status_at(weft_engine_t *eng, weft_reqid_t id, uint32_t index, weft_job_info_t *out)
{
    if (!eng || !out)
        return WEFT_EINVAL;
    int rc = wf_info_job(eng->store, id, index, out);
    if (rc == WEFT_OK && out->state == WEFT_JOB_READY) {
        /* Which of pool, type or slot it waits for is live board state: ask the loop. */
        zsock_t *s = s_ctl_open(eng);
        if (s) {
            int qrc = WEFT_ECLOSED, state = 0, reason = 0, waiting = 0;
            zmsg_t *m = zmsg_new();
            zmsg_addstr(m, "WHY");
            zmsg_addmem(m, &id, 8);
            zmsg_addmem(m, &index, 4);
            bool completed = zmsg_send(&m, s) == 0 &&
                             zsock_recv(s, "iiii", &qrc, &state, &reason, &waiting) == 0;
            if (completed && qrc == WEFT_OK && state == WEFT_JOB_READY)
                out->reason = reason;
            zmsg_destroy(&m);
            s_ctl_done(eng, &s, completed);
        }
    }
    return rc;
}

int
weft_job_status_stored_at(weft_engine_t *eng, weft_reqid_t id, uint32_t index, weft_job_info_t *out)
{
    if (!eng || !out)
        return WEFT_EINVAL;
    return wf_info_job_ex(eng->store, id, index, out, false);
}

int
weft_job_status(weft_engine_t *eng, weft_reqid_t id, const char *job, weft_job_info_t *out)
{
    uint32_t idx;
    if (!eng || !job || !out)
        return WEFT_EINVAL;
    int rc = wf_store_find_job(eng->store, id, job, &idx);
    return rc == WEFT_OK ? weft_job_status_at(eng, id, idx, out) : rc;
}

int
weft_job_needs(weft_engine_t *eng, weft_reqid_t id, uint32_t index, uint32_t *buf, size_t cap,
               size_t *n_p)
{
    if (!eng || (cap && !buf))
        return WEFT_EINVAL;
    wf_jobspec_t spec = {0};
    int rc = wf_store_get_job(eng->store, id, index, &spec, NULL);
    if (rc == WEFT_OK) {
        if (n_p)
            *n_p = spec.nneeds;
        for (size_t i = 0; i < spec.nneeds && i < cap; i++)
            buf[i] = spec.needs[i];
    }
    wf_jobspec_fini(&spec);
    return rc;
}

int
weft_job_result(weft_engine_t *eng, weft_reqid_t id, const char *job, void *buf, size_t cap,
                size_t *len_p)
{
    uint32_t idx;
    if (!eng || !job || (cap && !buf))
        return WEFT_EINVAL;
    int rc = wf_store_find_job(eng->store, id, job, &idx);
    if (rc != WEFT_OK)
        return rc;
    wf_jobstate_t st = {0};
    rc = wf_store_get_job(eng->store, id, idx, NULL, &st);
    if (rc == WEFT_OK) {
        if (len_p)
            *len_p = st.result_len;
        if (st.result_len && cap)
            memcpy(buf, st.result, st.result_len < cap ? st.result_len : cap);
    }
    wf_jobstate_fini(&st);
    return rc;
}

typedef struct s_list_ctx {
    weft_engine_t *eng;
    weft_request_fn *fn;
    void *arg;
} s_list_ctx_t;

static int
s_list_one(const wf_reqrec_t *rec, void *arg)
{
    s_list_ctx_t *ctx = arg;
    weft_request_info_t info;
    wf_info_fill_request(rec, &info);
    return ctx->fn(&info, ctx->arg);
}

int
weft_request_list(weft_engine_t *eng, weft_request_fn *fn, void *arg)
{
    if (!eng || !fn)
        return WEFT_EINVAL;
    s_list_ctx_t ctx = {eng, fn, arg};
    int rc = wf_store_each_request(eng->store, s_list_one, &ctx);
    return rc < 0 ? WEFT_ESTORE : WEFT_OK;
}

int
weft_request_wait(weft_engine_t *eng, weft_reqid_t id, int timeout_ms, weft_req_state *state_p)
{
    if (!eng)
        return WEFT_EINVAL;
    if (eng->readonly)
        return WEFT_ESTATE;
    zsock_t *s = s_ctl_open(eng);
    if (!s)
        return WEFT_ECLOSED;
    zsock_set_rcvtimeo(s, timeout_ms < 0 ? -1 : timeout_ms);
    zmsg_t *m = zmsg_new();
    zmsg_addstr(m, "WAIT");
    zmsg_addmem(m, &id, 8);
    int rc = WEFT_ECLOSED, state = 0;
    bool completed = false;
    if (zmsg_send(&m, s) == 0) {
        if (zsock_recv(s, "ii", &rc, &state) != 0)
            rc = errno == EAGAIN ? WEFT_ETIMEDOUT : WEFT_ECLOSED;
        else
            completed = true; /* a timed-out WAIT may still be answered: not pooled */
    }
    zmsg_destroy(&m);
    s_ctl_done(eng, &s, completed);
    if (rc == WEFT_OK && state_p)
        *state_p = (weft_req_state)state;
    return rc;
}

int
weft_request_cancel(weft_engine_t *eng, weft_reqid_t id)
{
    return s_ctl_simple(eng, "CANCEL", &id, NULL);
}

int
weft_request_retry(weft_engine_t *eng, weft_reqid_t id)
{
    return s_ctl_simple(eng, "RETRY", &id, NULL);
}

static int
s_job_ctl(weft_engine_t *eng, const char *cmd, weft_reqid_t id, const char *job)
{
    uint32_t idx;
    if (!eng || !job)
        return WEFT_EINVAL;
    int rc = wf_store_find_job(eng->store, id, job, &idx);
    return rc == WEFT_OK ? s_ctl_simple(eng, cmd, &id, &idx) : rc;
}

int
weft_job_cancel(weft_engine_t *eng, weft_reqid_t id, const char *job)
{
    return s_job_ctl(eng, "CANCELJOB", id, job);
}

int
weft_job_retry(weft_engine_t *eng, weft_reqid_t id, const char *job)
{
    return s_job_ctl(eng, "RETRYJOB", id, job);
}

/* ---- events ---- */

int
weft_events_open(weft_engine_t *eng, weft_reqid_t id, weft_events_t **ev_p)
{
    if (!eng || !ev_p)
        return WEFT_EINVAL;
    if (eng->readonly)
        return WEFT_ESTATE;
    weft_events_t *ev = calloc(1, sizeof *ev);
    if (!ev)
        abort();
    ev->sub = zsock_new(ZMQ_SUB);
    if (!ev->sub || zsock_connect(ev->sub, "%s", eng->events_ep) < 0) {
        zsock_destroy(&ev->sub);
        free(ev);
        return WEFT_ECLOSED;
    }
    zsock_set_rcvhwm(ev->sub, 1000000);
    if (id) {
        uint8_t topic[8];
        for (int k = 0; k < 8; k++)
            topic[k] = (uint8_t)(id >> (56 - 8 * k));
        zmq_setsockopt(zsock_resolve(ev->sub), ZMQ_SUBSCRIBE, topic, sizeof topic);
    } else {
        zsock_set_subscribe(ev->sub, "");
    }
    *ev_p = ev;
    return WEFT_OK;
}

int
weft_events_next(weft_events_t *ev, weft_event_t *out, int timeout_ms)
{
    if (!ev || !out)
        return WEFT_EINVAL;
    zsock_set_rcvtimeo(ev->sub, timeout_ms < 0 ? -1 : timeout_ms);
    for (;;) {
        zmsg_t *m = zmsg_recv(ev->sub);
        if (!m)
            return errno == EAGAIN ? WEFT_ETIMEDOUT : WEFT_ECLOSED;
        zframe_t *body = zmsg_last(m);
        bool ok = zmsg_size(m) == 2 && zframe_size(body) == sizeof *out;
        if (ok)
            memcpy(out, zframe_data(body), sizeof *out);
        zmsg_destroy(&m);
        if (ok)
            return WEFT_OK;
    }
}

int
weft_events_fd(weft_events_t *ev, int *fd_p)
{
    if (!ev || !fd_p)
        return WEFT_EINVAL;
    *fd_p = zsock_fd(ev->sub);
    return WEFT_OK;
}

void
weft_events_close(weft_events_t **ev_p)
{
    if (!ev_p || !*ev_p)
        return;
    zsock_destroy(&(*ev_p)->sub);
    free(*ev_p);
    *ev_p = NULL;
}

typedef struct s_cb_args {
    weft_engine_t *eng;
    weft_event_fn *fn;
    void *arg;
} s_cb_args_t;

static void
s_event_actor(zsock_t *pipe, void *arg)
{
    s_cb_args_t a = *(s_cb_args_t *)arg;
    free(arg);
    weft_events_t *ev = NULL;
    int rc = weft_events_open(a.eng, 0, &ev);
    zsock_signal(pipe, 0);
    if (rc != WEFT_OK)
        return;
    zpoller_t *poller = zpoller_new(pipe, ev->sub, NULL);
    while (poller) {
        void *which = zpoller_wait(poller, -1);
        if (which == pipe || !which)
            break;
        weft_event_t e;
        while (weft_events_next(ev, &e, 0) == WEFT_OK)
            a.fn(&e, a.arg);
    }
    zpoller_destroy(&poller);
    weft_events_close(&ev);
}

int
weft_engine_on_event(weft_engine_t *eng, weft_event_fn *fn, void *arg)
{
    if (!eng)
        return WEFT_EINVAL;
    if (eng->readonly)
        return WEFT_ESTATE;
    wf_actor_destroy(&eng->event_thread);
    if (!fn)
        return WEFT_OK;
    s_cb_args_t *a = malloc(sizeof *a);
    if (!a)
        abort();
    *a = (s_cb_args_t){eng, fn, arg};
    eng->event_thread = wf_actor_new(s_event_actor, a);
    return eng->event_thread ? WEFT_OK : WEFT_ESYS;
}
