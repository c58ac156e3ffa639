/*
 * client_proto_test.c -- unit tests of the client protocol codec (proto/client.c).
 *
 * What is covered: a round trip of every kind at its lower bounds, upper bounds (counts at their
 * limits: 256 pools, 100,000 needs, 1,024 warnings, 65,536 workers, 64 types, 100,000 waiting
 * jobs, a GRAPH_R page of 10,000 jobs; a 1 MiB payload; every integer at its extreme) and typical
 * values; a SUBMIT of 10,000 jobs with needs; STATUS's two forms and GRAPH_R's rules on needs;
 * each class of rejection the decoder promises (signature, version with the corr kept, unknown
 * kind, corr, field counts at the top and in every nested record, a wrong msgpack type at every
 * position of every kind, names, messages with NUL or too long, integer ranges, counts over their
 * limits, array counts the bytes cannot hold, nesting, trailing bytes, truncation at every offset
 * of every kind); the decoder's memory bound (the worst shape of every kind decodes to at most
 * WF_CLIENT_DECODE_FACTOR times its frame); the views between compact and public records; the
 * encoder refusing what the decoder rejects; and 100,000 random and mutated inputs run through
 * the fuzz target's invariants (never crash, never leak -- the ASan build checks that -- stay
 * within the memory bound, and decode -> encode -> decode is exact).
 *
 * Malformed frames are made by unpacking a valid encoding with msgpack-c (trusted here), editing
 * the object tree in place and packing it again.  The 2,000,000-job limit is tested from above
 * only: a request at the limit would need about a gigabyte decoded.
 *
 * Seeds: with WEFT_CLIENT_CORPUS_OUT=DIR the binary first writes the seed corpus of
 * client_decode_fuzz to DIR (tests/fuzz/client_corpus holds the committed copy).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
bool wf_test_cmsg_eq(const wf_cmsg_t *a, const wf_cmsg_t *b);

static const int s_all_kinds[] = {
    WF_CMSG_SUBMIT,   WF_CMSG_STATUS,    WF_CMSG_LIST,     WF_CMSG_CANCEL,   WF_CMSG_RETRY,
    WF_CMSG_WAIT,     WF_CMSG_WORKERS,   WF_CMSG_PAUSE,    WF_CMSG_RESUME,   WF_CMSG_DRAIN,
    WF_CMSG_WHY,      WF_CMSG_PING,      WF_CMSG_OK,       WF_CMSG_ERROR,    WF_CMSG_SUBMITTED,
    WF_CMSG_STATUS_R, WF_CMSG_LIST_R,    WF_CMSG_FINISHED, WF_CMSG_WORKERS_R, WF_CMSG_BOARD,
    WF_CMSG_WHY_R,    WF_CMSG_PONG,      WF_CMSG_EVENT,    WF_CMSG_GRAPH,    WF_CMSG_GRAPH_R,
    WF_CMSG_LOGS,     WF_CMSG_LOGS_R,
};
#define S_NKINDS (sizeof s_all_kinds / sizeof s_all_kinds[0])

typedef char s_name_t[WF_MAX_NAME + 1];
typedef char s_text_t[WF_MAX_MESSAGE + 1];

static uint8_t s_payload[WF_MAX_PAYLOAD];

/* ---- memory the builders hand out, freed after each test --------------------------------- */

static void **s_kept;
static size_t s_nkept, s_capkept;

static void *
s_new(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    assert_non_null(p);
    if (s_nkept == s_capkept) {
        s_capkept = s_capkept ? 2 * s_capkept : 64;
        s_kept = realloc(s_kept, s_capkept * sizeof *s_kept);
        assert_non_null(s_kept);
    }
    s_kept[s_nkept++] = p;
    return p;
}

static int
s_release(void **state)
{
    (void)state;
    for (size_t i = 0; i < s_nkept; i++)
        free(s_kept[i]);
    free(s_kept);
    s_kept = NULL;
    s_nkept = s_capkept = 0;
    return 0;
}

/* ---- building valid messages ------------------------------------------------------------- */

typedef enum { V_MIN, V_MAX, V_TYPICAL } s_variant;
static const s_variant s_variants[] = { V_MIN, V_MAX, V_TYPICAL };

/* A valid name of len bytes, varied by seed so neighbours differ. */
static void
s_name(char *dst, size_t len, unsigned seed)
{
    static const char alphabet[] = "abcXYZ019_.:-";
    for (size_t i = 0; i < len; i++)
        dst[i] = alphabet[(i + seed) % (sizeof alphabet - 1)];
    dst[len] = '\0';
}

/* A text of WF_MAX_MESSAGE bytes: every byte value but NUL, not valid UTF-8 (allowed). */
static void
s_long_text(char *dst)
{
    for (unsigned i = 0; i < WF_MAX_MESSAGE; i++)
        dst[i] = (char)(1 + i % 255);
    dst[WF_MAX_MESSAGE] = '\0';
}

/* The same, kept until the end of the test, for the codec's pointer fields. */
static char *
s_nm(size_t len, unsigned seed)
{
    char *p = s_new(len + 1, 1);
    s_name(p, len, seed);
    return p;
}

/* A kept copy of a formatted string. */
static char *s_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
s_fmt(const char *fmt, ...)
{
    char tmp[WF_MAX_MESSAGE + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    char *p = s_new(strlen(tmp) + 1, 1);
    strcpy(p, tmp);
    return p;
}

static char *
s_long_ptext(void)
{
    char *p = s_new(WF_MAX_MESSAGE + 1, 1);
    s_long_text(p);
    return p;
}

static void
s_make_cjob(wf_cjob_t *j, s_variant v, unsigned seed)
{
    memset(j, 0, sizeof *j);
    switch (v) {
    case V_MIN:
        j->id = s_nm(1, seed);
        j->type = s_nm(1, 0);
        j->priority = INT32_MIN;
        break;
    case V_MAX:
        j->id = s_nm(WF_MAX_NAME, seed);
        j->type = s_nm(WF_MAX_NAME, 1);
        j->payload = s_payload;
        j->payload_len = WF_MAX_PAYLOAD;
        j->nneeds = WF_MAX_NEEDS_PER_JOB;
        j->needs = s_new(j->nneeds, sizeof *j->needs);
        for (uint32_t i = 0; i < j->nneeds; i++)
            j->needs[i] = s_nm(WF_MAX_NAME, i);
        j->retries = WF_MAX_RETRIES;
        j->lost_retries = WF_MAX_RETRIES;
        j->retry_delay_ms = WF_MAX_RETRY_DELAY_MS;
        j->timeout_ms = WF_MAX_TIMEOUT_MS;
        j->priority = INT32_MAX;
        j->pool = s_nm(WF_MAX_NAME, 2);
        j->when = WEFT_WHEN_COUNT_ - 1;
        break;
    case V_TYPICAL:
        j->id = s_fmt("compile_%u", seed);
        j->type = seed % 2 ? "shell" : "py:train";
        j->payload = (const uint8_t *)"make -C src all";
        j->payload_len = 15;
        j->nneeds = seed;
        j->needs = s_new(seed, sizeof *j->needs);
        for (uint32_t i = 0; i < seed; i++)
            j->needs[i] = s_fmt("compile_%u", i);
        j->retries = 2;
        j->lost_retries = 3;
        j->retry_delay_ms = 500;
        j->timeout_ms = 60000;
        j->priority = -5 + (int32_t)seed;
        if (seed == 1)
            j->pool = "db";
        j->when = seed % 3;
        break;
    }
}

static void
s_make_reqinfo(weft_request_info_t *r, s_variant v, unsigned seed)
{
    memset(r, 0, sizeof *r);
    switch (v) {
    case V_MIN:
        r->id = 1;
        s_name(r->name, 1, seed);
        s_name(r->session, 1, 0);
        r->created_ms = INT64_MIN;
        r->finished_ms = INT64_MIN;
        break;
    case V_MAX:
        r->id = UINT64_MAX - seed;
        s_name(r->name, WF_MAX_NAME, seed);
        s_name(r->session, WF_MAX_NAME, 3);
        r->state = WEFT_REQ_STATE_COUNT_ - 1;
        r->njobs = WF_MAX_JOBS_PER_REQUEST;
        for (unsigned i = 0; i < WEFT_JOB_STATE_COUNT_; i++)
            r->count[i] = WF_MAX_JOBS_PER_REQUEST;
        r->created_ms = INT64_MAX;
        r->finished_ms = INT64_MAX;
        break;
    case V_TYPICAL:
        r->id = 1000 + seed;
        snprintf(r->name, sizeof r->name, "nightly-%u", seed);
        strcpy(r->session, "default");
        r->state = WEFT_REQ_RUNNING;
        r->njobs = 12;
        r->count[WEFT_JOB_DONE] = 7;
        r->count[WEFT_JOB_RUNNING] = 2;
        r->count[WEFT_JOB_PENDING] = 3;
        r->created_ms = 1700000000000 + seed;
        r->finished_ms = 0;
        break;
    }
}

static void
s_make_jobinfo(weft_job_info_t *j, s_variant v, unsigned seed)
{
    memset(j, 0, sizeof *j);
    switch (v) {
    case V_MIN:
        s_name(j->id, 1, seed);
        s_name(j->type, 1, 0);
        j->priority = INT32_MIN;
        j->exit_code = INT32_MIN;
        j->started_ms = INT64_MIN;
        j->finished_ms = INT64_MIN;
        break;
    case V_MAX:
        j->index = WF_MAX_JOBS_PER_REQUEST - 1 - seed;
        s_name(j->id, WF_MAX_NAME, seed);
        s_name(j->type, WF_MAX_NAME, 1);
        s_name(j->pool, WF_MAX_NAME, 2);
        j->state = WEFT_JOB_STATE_COUNT_ - 1;
        j->reason = WEFT_REASON_COUNT_ - 1;
        j->when = WEFT_WHEN_COUNT_ - 1;
        j->priority = INT32_MAX;
        j->attempts = j->failures = j->lost = UINT32_MAX;
        j->retries = j->lost_retries = WF_MAX_RETRIES;
        j->exit_code = INT32_MAX;
        s_name(j->cause, WF_MAX_NAME, 4);
        j->progress = 100;
        s_long_text(j->progress_msg);
        s_long_text(j->error);
        j->started_ms = j->finished_ms = INT64_MAX;
        break;
    case V_TYPICAL:
        j->index = seed;
        snprintf(j->id, sizeof j->id, "link_%u", seed);
        strcpy(j->type, "shell");
        if (seed == 1)
            strcpy(j->pool, "db");
        j->state = seed % 2 ? WEFT_JOB_FAILED : WEFT_JOB_RUNNING;
        j->reason = seed % 2 ? WEFT_REASON_CANCELLED_PARENT : WEFT_REASON_LEASED;
        j->when = WEFT_WHEN_ALWAYS;
        j->priority = -3;
        j->attempts = 2;
        j->failures = 1;
        j->lost = 1;
        j->retries = 3;
        j->lost_retries = 3;
        j->exit_code = -9;
        if (seed % 2)
            strcpy(j->cause, "compile_0");
        j->progress = 40;
        strcpy(j->progress_msg, "linking 4 of 10");
        strcpy(j->error, "exit status 2");
        j->started_ms = 1700000000000;
        j->finished_ms = seed % 2 ? 1700000001234 : 0;
        break;
    }
}

/* The compact records view kept public ones (their strings live as long as the test). */
static void
s_make_creqinfo(wf_creqinfo_t *r, s_variant v, unsigned seed)
{
    weft_request_info_t *full = s_new(1, sizeof *full);
    s_make_reqinfo(full, v, seed);
    wf_creqinfo_view(full, r);
}

static void
s_make_cjobinfo(wf_cjobinfo_t *j, s_variant v, unsigned seed)
{
    weft_job_info_t *full = s_new(1, sizeof *full);
    s_make_jobinfo(full, v, seed);
    wf_cjobinfo_view(full, j);
}

static void
s_make_worker(wf_cworker_t *w, s_variant v, unsigned seed)
{
    memset(w, 0, sizeof *w);
    switch (v) {
    case V_MIN:
        w->name = s_nm(1, seed);
        w->host = s_nm(1, 0);
        w->ntypes = 1;
        w->types = s_new(1, sizeof *w->types);
        w->types[0] = s_nm(1, 0);
        w->slots = 1;
        break;
    case V_MAX:
        w->name = s_nm(WF_MAX_NAME, seed);
        w->host = s_nm(WF_MAX_NAME, 1);
        w->pid = UINT32_MAX;
        w->ntypes = WF_MAX_TYPES;
        w->types = s_new(WF_MAX_TYPES, sizeof *w->types);
        for (unsigned i = 0; i < WF_MAX_TYPES; i++)
            w->types[i] = s_nm(WF_MAX_NAME, i);
        w->slots = WF_MAX_SLOTS;
        w->running = WF_MAX_SLOTS;
        w->idle_ms = UINT32_MAX;
        break;
    case V_TYPICAL:
        w->name = s_fmt("worker-%u", seed);
        w->host = "build.example.org";
        w->pid = 40321 + seed;
        w->ntypes = 2;
        w->types = s_new(2, sizeof *w->types);
        w->types[0] = "shell";
        w->types[1] = "py:train";
        w->slots = 8;
        w->running = 3;
        w->idle_ms = 250;
        break;
    }
}

/* Fill exactly the fields `kind` carries, at the variant's values; the rest stays zero. */
static void
s_make(wf_cmsg_t *m, int kind, s_variant v)
{
    wf_cmsg_init(m, (wf_cmsg_kind)kind);
    m->corr = v == V_MIN ? 0 : v == V_MAX ? UINT64_MAX : 4242;
    uint64_t req = v == V_MIN ? 1 : v == V_MAX ? UINT64_MAX : 77;
    uint32_t n;

    switch (kind) {
    case WF_CMSG_SUBMIT: {
        wf_csubmit_t *s = &m->submit;
        if (v == V_MIN) {
            s_name(s->name, 1, 0);
            s->njobs = 1;
            s->jobs = s_new(1, sizeof *s->jobs);
            s_make_cjob(&s->jobs[0], V_MIN, 0);
        } else if (v == V_MAX) {
            s_name(s->name, WF_MAX_NAME, 0);
            s_name(s->session, WF_MAX_NAME, 1);
            s_name(s->key, WF_MAX_NAME, 2);
            s->npools = WF_MAX_POOLS;
            s->pool_names = s_new(WF_MAX_POOLS, sizeof *s->pool_names);
            s->pool_limits = s_new(WF_MAX_POOLS, sizeof *s->pool_limits);
            for (unsigned i = 0; i < WF_MAX_POOLS; i++) {
                s->pool_names[i] = s_nm(WF_MAX_NAME, i);
                s->pool_limits[i] = UINT32_MAX - i;
            }
            s->njobs = 2;
            s->jobs = s_new(2, sizeof *s->jobs);
            s_make_cjob(&s->jobs[0], V_MAX, 0);
            s_make_cjob(&s->jobs[1], V_MIN, 1);
        } else {
            strcpy(s->name, "nightly-build");
            strcpy(s->session, "ci");
            strcpy(s->key, "build-42");
            s->npools = 2;
            s->pool_names = s_new(2, sizeof *s->pool_names);
            s->pool_limits = s_new(2, sizeof *s->pool_limits);
            s->pool_names[0] = "db";
            s->pool_limits[0] = 2;
            s->pool_names[1] = "gpu";
            s->pool_limits[1] = 1;
            s->njobs = 3;
            s->jobs = s_new(3, sizeof *s->jobs);
            for (unsigned i = 0; i < 3; i++)
                s_make_cjob(&s->jobs[i], V_TYPICAL, i);
        }
        break;
    }
    case WF_CMSG_WAIT:
        m->req = req;
        break;
    case WF_CMSG_STATUS: /* MIN: the short form [req]; the others page */
    case WF_CMSG_GRAPH:
        m->req = req;
        if (v == V_MAX) {
            m->offset = WF_MAX_JOBS_PER_REQUEST;
            m->limit = WF_CLIENT_MAX_PAGE;
        } else if (v == V_TYPICAL || kind == WF_CMSG_GRAPH) {
            m->offset = v == V_TYPICAL ? 100 : 0;
            m->limit = v == V_TYPICAL ? 100 : 1;
        }
        break;
    case WF_CMSG_CANCEL:
    case WF_CMSG_RETRY:
    case WF_CMSG_WHY:
        m->req = req;
        if (v == V_MAX)
            s_name(m->job, WF_MAX_NAME, 5);
        else if (v == V_TYPICAL)
            strcpy(m->job, "compile_1");
        else if (kind == WF_CMSG_WHY)
            s_name(m->job, 1, 5);
        if (kind == WF_CMSG_WHY) /* MIN: the short form; the others ask where it ran */
            m->where = v == V_MIN ? 0 : 1;
        break;
    case WF_CMSG_LOGS:
        m->req = req;
        m->index = v == V_MIN ? 0 : v == V_MAX ? WF_MAX_JOBS_PER_REQUEST - 1 : 3;
        m->attempt = v == V_MIN ? 0 : v == V_MAX ? UINT32_MAX : 2;
        strcpy(m->stream, v == V_TYPICAL ? "err" : v == V_MAX ? "err" : "out");
        m->log_offset = v == V_MIN ? 0 : v == V_MAX ? WF_PROTO_MAX_LOG_OFFSET : 65536;
        m->max = v == V_MIN ? 1 : v == V_MAX ? WF_PROTO_MAX_LOG_CHUNK : 65536;
        break;
    case WF_CMSG_LOGS_R:
        m->size = v == V_MIN ? 0 : v == V_MAX ? WF_PROTO_MAX_LOG_OFFSET : 100;
        m->log_offset = v == V_MIN ? 0 : v == V_MAX ? WF_PROTO_MAX_LOG_OFFSET : 90;
        if (v == V_MAX) {
            m->data = s_payload;
            m->data_len = WF_PROTO_MAX_LOG_CHUNK;
        } else if (v == V_TYPICAL) {
            m->data = (const uint8_t *)"6789\nabcd\n";
            m->data_len = 10;
        }
        break;
    case WF_CMSG_ERROR:
        m->code = v == V_MIN ? 1 : v == V_MAX ? WEFT_ERR_COUNT_ - 1 : WEFT_ENOTFOUND;
        if (v == V_MAX)
            s_long_text(m->message);
        else if (v == V_TYPICAL)
            strcpy(m->message, "no request 77");
        break;
    case WF_CMSG_SUBMITTED:
        m->req = req;
        n = v == V_MIN ? 0 : v == V_MAX ? WF_CLIENT_MAX_WARNINGS : 2;
        m->nwarnings = n;
        m->warnings = s_new(n, sizeof *m->warnings);
        for (uint32_t i = 0; i < n; i++) {
            if (v == V_MAX)
                m->warnings[i] = s_long_ptext();
            else
                m->warnings[i] = s_fmt("no connected worker serves type 't%u'", i);
        }
        if (v == V_TYPICAL)
            m->warnings[1] = ""; /* an empty warning is a valid text */
        break;
    case WF_CMSG_STATUS_R:
        s_make_reqinfo(&m->info, v, 0);
        n = v == V_MIN ? 0 : v == V_MAX ? 2 : 3;
        m->njobs = n;
        m->cjobs = s_new(n, sizeof *m->cjobs);
        for (uint32_t i = 0; i < n; i++)
            s_make_cjobinfo(&m->cjobs[i], v, i);
        break;
    case WF_CMSG_LIST_R:
        n = v == V_MIN ? 0 : v == V_MAX ? 3 : 2;
        m->nreqs = n;
        m->reqs = s_new(n, sizeof *m->reqs);
        for (uint32_t i = 0; i < n; i++)
            s_make_creqinfo(&m->reqs[i], v, i);
        break;
    case WF_CMSG_FINISHED:
        m->req = req;
        m->state = v == V_MIN   ? WEFT_REQ_SUCCEEDED
                   : v == V_MAX ? WEFT_REQ_CANCELLED
                                : WEFT_REQ_FAILED;
        break;
    case WF_CMSG_WORKERS_R:
        n = v == V_MIN ? 0 : v == V_MAX ? WF_CLIENT_MAX_WORKERS : 2;
        m->nworkers = n;
        m->workers = s_new(n, sizeof *m->workers);
        for (uint32_t i = 0; i < n; i++)
            s_make_worker(&m->workers[i], v == V_MAX && i > 0 ? V_MIN : v, i);
        break;
    case WF_CMSG_BOARD:
        strcpy(m->mode, v == V_MIN ? "running" : v == V_MAX ? "stopped" : "draining");
        m->running = v == V_MIN ? 0 : v == V_MAX ? UINT32_MAX : 5;
        break;
    case WF_CMSG_WHY_R:
        s_make_jobinfo(&m->jobinfo, v, 1);
        n = v == V_MIN ? 0 : v == V_MAX ? WF_MAX_NEEDS_PER_JOB : 2;
        m->nwaiting = n;
        m->waiting = s_new(n, sizeof *m->waiting);
        for (uint32_t i = 0; i < n; i++)
            m->waiting[i] = s_nm(v == V_MAX ? WF_MAX_NAME : 6, i);
        /* MIN: the short form; the others say where it ran (TYPICAL: a worker, no host) */
        m->where = v == V_MIN ? 0 : 1;
        if (v == V_MAX) {
            s_name(m->jobinfo.worker, WF_MAX_NAME, 8);
            s_name(m->jobinfo.host, WF_MAX_NAME, 9);
        } else if (v == V_TYPICAL) {
            strcpy(m->jobinfo.worker, "build-3");
        }
        break;
    case WF_CMSG_PONG:
        if (v == V_MIN) {
            strcpy(m->version, "1");
            m->proto_min = m->proto_max = 1;
        } else if (v == V_MAX) {
            for (unsigned i = 0; i < 31; i++)
                m->version[i] = (char)(0x21 + i * 3 % 94);
            m->version[31] = '\0';
            m->proto_min = m->proto_max = UINT32_MAX;
        } else {
            strcpy(m->version, "0.1.0+g1234abc");
            m->proto_min = WF_CLIENT_VERSION_MIN;
            m->proto_max = WF_CLIENT_VERSION;
        }
        break;
    case WF_CMSG_GRAPH_R:
        /* MIN: an empty last page; MAX: a full page at the end of the largest request, its
         * first job needing 100,000 others; TYPICAL: jobs 4..6 of 10 */
        m->total = v == V_MIN ? 0 : v == V_MAX ? WF_MAX_JOBS_PER_REQUEST : 10;
        m->next = v == V_MIN ? 0 : v == V_MAX ? WF_MAX_JOBS_PER_REQUEST : 7;
        n = v == V_MIN ? 0 : v == V_MAX ? WF_CLIENT_MAX_PAGE : 3;
        m->nnodes = n;
        m->nodes = s_new(n, sizeof *m->nodes);
        for (uint32_t i = 0; i < n; i++) {
            wf_cnode_t *g = &m->nodes[i];
            uint32_t self = m->next - n + i;
            g->id = v == V_MAX ? s_nm(WF_MAX_NAME, i) : s_fmt("step_%u", self);
            g->state = (weft_job_state)(v == V_MAX ? WEFT_JOB_STATE_COUNT_ - 1 : i % 4);
            g->when = (weft_when)(v == V_MAX ? WEFT_WHEN_COUNT_ - 1 : i % 3);
            g->nneeds = v == V_MAX ? (i == 0 ? WF_MAX_NEEDS_PER_JOB : 1) : i + 1;
            uint32_t *nd = s_new(g->nneeds, sizeof *nd);
            for (uint32_t k = 0; k < g->nneeds; k++)
                nd[k] = v == V_MAX && i == 0 ? k : v == V_MAX ? self - 1 : k * 2;
            g->needs = nd;
        }
        break;
    case WF_CMSG_EVENT: {
        weft_event_t *e = &m->event;
        m->corr = 0;
        if (v == V_MIN) {
            e->request = 1;
            e->job_index = WF_CLIENT_NO_JOB; /* a request event */
            e->state = WEFT_REQ_RUNNING;
            e->time_ms = INT64_MIN;
        } else if (v == V_MAX) {
            e->request = UINT64_MAX;
            e->job_index = WF_MAX_JOBS_PER_REQUEST - 1;
            s_name(e->job, WF_MAX_NAME, 7);
            e->state = WEFT_JOB_STATE_COUNT_ - 1;
            e->reason = WEFT_REASON_COUNT_ - 1;
            e->attempt = UINT32_MAX;
            e->progress = 100;
            e->time_ms = INT64_MAX;
        } else {
            e->request = 77;
            e->job_index = 3;
            strcpy(e->job, "link_3");
            e->state = WEFT_JOB_RUNNING;
            e->reason = WEFT_REASON_LEASED;
            e->attempt = 2;
            e->progress = 40;
            e->time_ms = 1700000000000;
        }
        /* what the decoder mirrors */
        m->req = e->request;
        strcpy(m->job, e->job);
        m->state = (uint32_t)e->state;
        break;
    }
    default: /* kinds without fields */
        break;
    }
}

static uint8_t *
s_encode(const wf_cmsg_t *m, size_t *len)
{
    uint8_t *buf = NULL;
    int rc = wf_cmsg_encode(m, &buf, len);
    if (rc != WEFT_OK)
        fail_msg("cannot encode %s: %s", wf_cmsg_kind_name(m->kind), weft_strerror(rc));
    return buf;
}

/* Encode, decode, compare, re-encode, compare bytes. */
static void
s_roundtrip(const wf_cmsg_t *src)
{
    size_t len, len2;
    uint8_t *buf = s_encode(src, &len);
    wf_cmsg_t dec;
    char why[256];
    int rc = wf_cmsg_decode(buf, len, &dec, why, sizeof why);
    if (rc != WEFT_OK)
        fail_msg("%s does not decode: %s", wf_cmsg_kind_name(src->kind), why);
    if (!wf_test_cmsg_eq(src, &dec))
        fail_msg("%s decodes to something else", wf_cmsg_kind_name(src->kind));
    uint8_t *buf2 = s_encode(&dec, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    wf_cmsg_fini(&dec);
    assert_null(dec.owned_);
    free(buf);
    free(buf2);
}

/* ---- editing encoded frames -------------------------------------------------------------- */

typedef struct s_edit {
    msgpack_unpacked up;
    msgpack_object *root;
    uint8_t *src;
} s_edit_t;

static void
s_edit_open(s_edit_t *e, int kind, s_variant v)
{
    wf_cmsg_t m;
    size_t len, off = 0;
    s_make(&m, kind, v);
    e->src = s_encode(&m, &len);
    msgpack_unpacked_init(&e->up);
    assert_int_equal(msgpack_unpack_next(&e->up, (const char *)e->src, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    e->root = &e->up.data;
}

/* Pack the edited tree into a new heap frame and drop the edit. */
static uint8_t *
s_edit_close(s_edit_t *e, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    assert_int_equal(msgpack_pack_object(&pk, *e->root), 0);
    msgpack_unpacked_destroy(&e->up);
    free(e->src);
    *len = sb.size;
    return (uint8_t *)sb.data;
}

#define P(...) ((const int[]){ __VA_ARGS__, -1 })
#define P_TOP ((const int[]){ -1 })

static msgpack_object *
s_at(msgpack_object *o, const int *path)
{
    for (; *path >= 0; path++) {
        if (o->type != MSGPACK_OBJECT_ARRAY || (uint32_t)*path >= o->via.array.size)
            fail_msg("bad test path");
        o = &o->via.array.ptr[*path];
    }
    return o;
}

static msgpack_object
o_nil(void)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_NIL };
    return o;
}

static msgpack_object
o_u(uint64_t v)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER };
    o.via.u64 = v;
    return o;
}

static msgpack_object
o_i(int64_t v)
{
    if (v >= 0)
        return o_u((uint64_t)v);
    msgpack_object o = { .type = MSGPACK_OBJECT_NEGATIVE_INTEGER };
    o.via.i64 = v;
    return o;
}

static msgpack_object
o_sn(const char *s, size_t len)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_STR };
    o.via.str.ptr = s;
    o.via.str.size = (uint32_t)len;
    return o;
}

static msgpack_object
o_s(const char *s)
{
    return o_sn(s, strlen(s));
}

static msgpack_object
o_bin(const char *s, size_t len)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_BIN };
    o.via.bin.ptr = s;
    o.via.bin.size = (uint32_t)len;
    return o;
}

static msgpack_object
o_float(void)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_FLOAT64 };
    o.via.f64 = 1.5;
    return o;
}

static msgpack_object
o_bool(void)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_BOOLEAN };
    o.via.boolean = true;
    return o;
}

static msgpack_object
o_map0(void)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_MAP };
    return o;
}

static msgpack_object
o_ext(void)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_EXT };
    o.via.ext.type = 1;
    o.via.ext.ptr = "x";
    o.via.ext.size = 1;
    return o;
}

/* An array of n copies of fill (kept until the end of the test). */
static msgpack_object
o_arr(uint32_t n, msgpack_object fill)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_ARRAY };
    msgpack_object *v = s_new(n, sizeof *v);
    for (uint32_t i = 0; i < n; i++)
        v[i] = fill;
    o.via.array.ptr = v;
    o.via.array.size = n;
    return o;
}

/* Resize the array at path: drop from the end, or append nils. */
static void
s_resize(msgpack_object *a, uint32_t n)
{
    msgpack_object *v = s_new(n, sizeof *v);
    for (uint32_t i = 0; i < n; i++)
        v[i] = i < a->via.array.size ? a->via.array.ptr[i] : o_nil();
    a->via.array.ptr = v;
    a->via.array.size = n;
}

/* Decode frame; expect rc and, if given, a reason containing want.  Frees the frame. */
static void
s_expect(uint8_t *frame, size_t len, int rc, const char *want, const char *ctx)
{
    wf_cmsg_t m;
    char why[512];
    int got = wf_cmsg_decode(frame, len, &m, why, sizeof why);
    if (got != rc)
        fail_msg("%s: expected %s, got %s (%s)", ctx, weft_strerror(rc), weft_strerror(got),
                 got ? why : "decoded");
    if (rc != WEFT_OK) {
        assert_null(m.owned_);
        assert_true(why[0] != '\0');
        if (want && !strstr(why, want))
            fail_msg("%s: reason \"%s\" lacks \"%s\"", ctx, why, want);
    }
    wf_cmsg_fini(&m);
    free(frame);
}

/* Take a valid (kind, variant) frame, put repl at path, and expect rc. */
static void
s_try(int kind, s_variant v, const int *path, msgpack_object repl, int rc, const char *want)
{
    s_edit_t e;
    size_t len;
    char ctx[128];
    s_edit_open(&e, kind, v);
    *s_at(e.root, path) = repl;
    uint8_t *frame = s_edit_close(&e, &len);
    int n = snprintf(ctx, sizeof ctx, "%s at", wf_cmsg_kind_name(kind));
    for (const int *p = path; *p >= 0 && n > 0 && (size_t)n < sizeof ctx; p++)
        n += snprintf(ctx + n, sizeof ctx - (size_t)n, " %d", *p);
    s_expect(frame, len, rc, want, ctx);
}

/* Resize the array at path of a valid (kind, variant) frame, and expect rc. */
static void
s_try_resize(int kind, s_variant v, const int *path, int delta, int rc, const char *want)
{
    s_edit_t e;
    size_t len;
    s_edit_open(&e, kind, v);
    msgpack_object *a = s_at(e.root, path);
    assert_int_equal(a->type, MSGPACK_OBJECT_ARRAY);
    s_resize(a, (uint32_t)((int)a->via.array.size + delta));
    uint8_t *frame = s_edit_close(&e, &len);
    s_expect(frame, len, rc, want, wf_cmsg_kind_name(kind));
}

/* A frame from packed objects: [ "WEFT", version, kind, corr, fields... ]. */
static uint8_t *
s_frame(size_t *len, uint32_t n, const msgpack_object *el)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++)
        msgpack_pack_object(&pk, el[i]);
    *len = sb.size;
    return (uint8_t *)sb.data;
}

/* s_expect on a frame made by s_frame. */
static void
s_expect_frame(uint32_t n, const msgpack_object *el, int rc, const char *want, const char *ctx)
{
    size_t len;
    uint8_t *f = s_frame(&len, n, el);
    s_expect(f, len, rc, want, ctx);
}

/* ---- round trips ------------------------------------------------------------------------- */

static void
test_client_roundtrip_every_kind_at_its_bounds(void **state)
{
    (void)state;
    for (size_t i = 0; i < WF_MAX_PAYLOAD; i++)
        s_payload[i] = (uint8_t)(i * 7 + 3);
    for (size_t k = 0; k < S_NKINDS; k++) {
        for (size_t v = 0; v < 3; v++) {
            wf_cmsg_t m;
            s_make(&m, s_all_kinds[k], s_variants[v]);
            s_roundtrip(&m);
        }
        s_release(NULL);
    }
    /* every board mode */
    static const char *const modes[] = { "running", "paused", "draining", "stopped" };
    for (unsigned i = 0; i < 4; i++) {
        wf_cmsg_t m;
        s_make(&m, WF_CMSG_BOARD, V_TYPICAL);
        strcpy(m.mode, modes[i]);
        s_roundtrip(&m);
    }
    /* every request state in FINISHED but running, every state and reason in an EVENT */
    for (int st = WEFT_REQ_SUCCEEDED; st < WEFT_REQ_STATE_COUNT_; st++) {
        wf_cmsg_t m;
        s_make(&m, WF_CMSG_FINISHED, V_TYPICAL);
        m.state = (uint32_t)st;
        s_roundtrip(&m);
    }
    for (int st = 0; st < WEFT_JOB_STATE_COUNT_; st++) {
        for (int rs = 0; rs < WEFT_REASON_COUNT_; rs++) {
            wf_cmsg_t m;
            s_make(&m, WF_CMSG_EVENT, st < WEFT_REQ_STATE_COUNT_ && rs == 0 ? V_MIN : V_TYPICAL);
            m.event.state = m.state = (uint32_t)st;
            m.event.reason = (weft_reason)rs;
            s_roundtrip(&m);
        }
    }
}

static void
test_client_submit_of_10000_jobs_with_needs_round_trips(void **state)
{
    (void)state;
    enum { N = 10000 };
    wf_cmsg_t m;
    wf_cmsg_init(&m, WF_CMSG_SUBMIT);
    m.corr = 99;
    strcpy(m.submit.name, "big");
    m.submit.njobs = N;
    m.submit.jobs = s_new(N, sizeof *m.submit.jobs);
    char(*payloads)[32] = s_new(N, 32);
    for (uint32_t i = 0; i < N; i++) {
        wf_cjob_t *j = &m.submit.jobs[i];
        j->id = s_fmt("job-%u", i);
        j->type = i % 3 ? "shell" : "py:train";
        j->payload_len = (uint32_t)snprintf(payloads[i], 32, "echo %u", i);
        j->payload = (const uint8_t *)payloads[i];
        uint32_t parents[3] = { i - 1, i / 2, i / 3 };
        j->needs = s_new(3, sizeof *j->needs);
        for (unsigned k = 0; k < 3 && i > 0; k++) {
            bool dup = false;
            for (unsigned q = 0; q < k; q++)
                dup |= parents[q] == parents[k];
            if (!dup && parents[k] < i)
                j->needs[j->nneeds++] = s_fmt("job-%u", parents[k]);
        }
        j->retries = i % (WF_MAX_RETRIES + 1);
        j->lost_retries = 3;
        j->retry_delay_ms = i;
        j->timeout_ms = i * 1000;
        j->priority = (int32_t)i - N / 2;
        if (i % 10 == 0)
            j->pool = "db";
        j->when = i % WEFT_WHEN_COUNT_;
    }
    s_roundtrip(&m);

    /* And the decoded payloads are borrowed from the frame. */
    size_t len;
    uint8_t *buf = s_encode(&m, &len);
    wf_cmsg_t dec;
    assert_int_equal(wf_cmsg_decode(buf, len, &dec, NULL, 0), WEFT_OK);
    assert_int_equal(dec.submit.njobs, N);
    const wf_cjob_t *last = &dec.submit.jobs[N - 1];
    assert_string_equal(last->id, "job-9999");
    assert_int_equal(last->nneeds, 3);
    assert_string_equal(last->needs[1], "job-4999");
    assert_true(last->payload > buf && last->payload + last->payload_len <= buf + len);
    assert_memory_equal(last->payload, "echo 9999", 9);
    /* compact: about twice the frame, far under the bound of 8 */
    print_message("  10,000 jobs: %zu bytes -> %zu decoded\n", len, wf_cmsg_decoded_size(&dec));
    assert_true(wf_cmsg_decoded_size(&dec) <= 3 * len);
    wf_cmsg_fini(&dec);
    free(buf);
}

static void
test_client_decode_keeps_corr_and_mirrors_events(void **state)
{
    (void)state;
    wf_cmsg_t m, dec;
    size_t len;
    s_make(&m, WF_CMSG_EVENT, V_TYPICAL);
    uint8_t *buf = s_encode(&m, &len);
    assert_int_equal(wf_cmsg_decode(buf, len, &dec, NULL, 0), WEFT_OK);
    assert_true(dec.req == 77 && dec.event.request == 77);
    assert_string_equal(dec.job, "link_3");
    assert_int_equal(dec.state, WEFT_JOB_RUNNING);
    wf_cmsg_fini(&dec);
    free(buf);

    /* An encoder reads event, not the mirrors; a nonzero corr is refused. */
    s_make(&m, WF_CMSG_EVENT, V_TYPICAL);
    m.req = 5;
    strcpy(m.job, "other");
    buf = s_encode(&m, &len);
    assert_int_equal(wf_cmsg_decode(buf, len, &dec, NULL, 0), WEFT_OK);
    assert_true(dec.req == 77);
    wf_cmsg_fini(&dec);
    free(buf);
    m.corr = 1;
    assert_int_equal(wf_cmsg_encode(&m, &buf, &len), WEFT_EINVAL);

    /* A frame rejected after its corr was read keeps the corr, and only it. */
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(4), o_s("bad name"), WEFT_EPROTO, "bad character");
    s_edit_t e;
    s_edit_open(&e, WF_CMSG_SUBMIT, V_TYPICAL);
    *s_at(e.root, P(4)) = o_s("bad name");
    buf = s_edit_close(&e, &len);
    char why[256];
    assert_int_equal(wf_cmsg_decode(buf, len, &dec, why, sizeof why), WEFT_EPROTO);
    assert_true(dec.corr == 4242);
    assert_string_equal(why, "SUBMIT field 5 (name): name has a bad character");
    dec.corr = 0;
    static const wf_cmsg_t zero;
    assert_memory_equal(&dec, &zero, sizeof dec);
    free(buf);
}

static void
test_client_topic_round_trips(void **state)
{
    (void)state;
    uint8_t t[WF_CLIENT_TOPIC_LEN];
    uint64_t req = 0;
    wf_cmsg_topic(0x0102030405060708ull, t);
    static const uint8_t want[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    assert_memory_equal(t, want, 8);
    assert_int_equal(wf_cmsg_topic_req(t, 8, &req), WEFT_OK);
    assert_true(req == 0x0102030405060708ull);
    assert_int_equal(wf_cmsg_topic_req(t, 7, &req), WEFT_EPROTO);
    assert_int_equal(wf_cmsg_topic_req(t, 9, &req), WEFT_EPROTO);
    assert_int_equal(wf_cmsg_topic_req(NULL, 8, &req), WEFT_EINVAL);
}

/* ---- rejections: the prefix -------------------------------------------------------------- */

static void
test_client_rejects_bad_signatures(void **state)
{
    (void)state;
    msgpack_object el[] = { o_s("WEFX"), o_u(1), o_u(WF_CMSG_PING), o_u(1) };
    s_expect_frame(4, el, WEFT_EPROTO, "bad signature", "WEFX");
    el[0] = o_s("WEF");
    s_expect_frame(4, el, WEFT_EPROTO, "bad signature", "WEF");
    el[0] = o_bin("WEFT", 4);
    s_expect_frame(4, el, WEFT_EPROTO, "bad signature", "bin WEFT");
    el[0] = o_u(1);
    s_expect_frame(4, el, WEFT_EPROTO, "bad signature", "uint");
    s_expect_frame(0, el, WEFT_EPROTO, "bad signature", "empty array");
    /* not an array */
    uint8_t *one = malloc(1);
    one[0] = 0x01;
    s_expect(one, 1, WEFT_EPROTO, "not an array", "uint frame");
    uint8_t *map = malloc(1);
    map[0] = 0x80;
    s_expect(map, 1, WEFT_EPROTO, "not an array", "map frame");
    /* prefix elements missing */
    el[0] = o_s("WEFT");
    s_expect_frame(1, el, WEFT_EPROTO, "missing version", "sig only");
    s_expect_frame(2, el, WEFT_EPROTO, "missing kind", "no kind");
    s_expect_frame(3, el, WEFT_EPROTO, "missing corr", "no corr");
}

static void
test_client_rejects_other_versions_with_eversion_and_keeps_corr(void **state)
{
    (void)state;
    size_t len;
    wf_cmsg_t m;
    char why[256];
    uint64_t versions[] = { 0, WF_CLIENT_VERSION + 1, 1000, UINT64_MAX };
    for (unsigned i = 0; i < 4; i++) {
        /* a future version's fields are whatever it likes: only the prefix is frozen */
        msgpack_object el[] = { o_s("WEFT"), o_u(versions[i]), o_u(1), o_u(99), o_float() };
        uint8_t *f = s_frame(&len, 5, el);
        assert_int_equal(wf_cmsg_decode(f, len, &m, why, sizeof why), WEFT_EVERSION);
        assert_true(m.corr == 99);
        assert_non_null(strstr(why, "not supported (this peer speaks 1..1)"));
        free(f);
    }
    /* a corr that cannot be read is 0 */
    msgpack_object el[] = { o_s("WEFT"), o_u(2), o_s("SUBMIT"), o_u(99) };
    uint8_t *f = s_frame(&len, 4, el);
    assert_int_equal(wf_cmsg_decode(f, len, &m, why, sizeof why), WEFT_EVERSION);
    assert_true(m.corr == 0);
    free(f);
    f = s_frame(&len, 2, el);
    assert_int_equal(wf_cmsg_decode(f, len, &m, why, sizeof why), WEFT_EVERSION);
    assert_true(m.corr == 0);
    free(f);
    /* a version that is not a uint is malformed */
    el[1] = o_s("1");
    s_expect_frame(4, el, WEFT_EPROTO, "version: expected uint", "str version");
    el[1] = o_i(-1);
    s_expect_frame(4, el, WEFT_EPROTO, "version: expected uint", "neg version");
}

static void
test_client_rejects_unknown_kinds_and_bad_corr(void **state)
{
    (void)state;
    static const uint64_t bad[] = { 0, 15, 63, 76, 95, 97, 255, 4294967296ull, UINT64_MAX };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msgpack_object el[] = { o_s("WEFT"), o_u(1), o_u(bad[i]), o_u(1) };
        s_expect_frame(4, el, WEFT_EPROTO, "unknown kind", "kind");
        assert_string_equal(wf_cmsg_kind_name((int)(bad[i] & 0x7fffffff)), "UNKNOWN");
    }
    assert_string_equal(wf_cmsg_kind_name(-1), "UNKNOWN");
    assert_string_equal(wf_cmsg_kind_name(WF_CMSG_STATUS_R), "STATUS_R");
    msgpack_object el[] = { o_s("WEFT"), o_u(1), o_s("PING"), o_u(1) };
    s_expect_frame(4, el, WEFT_EPROTO, "kind: expected uint", "str kind");
    el[2] = o_u(WF_CMSG_PING);
    el[3] = o_i(-1);
    s_expect_frame(4, el, WEFT_EPROTO, "corr: expected uint", "neg corr");
    el[3] = o_nil();
    s_expect_frame(4, el, WEFT_EPROTO, "corr: expected uint", "nil corr");
    el[3] = o_u(UINT64_MAX);
    s_expect_frame(4, el, WEFT_OK, NULL, "max corr");
    /* an EVENT has no corr */
    s_try(WF_CMSG_EVENT, V_TYPICAL, P(3), o_u(1), WEFT_EPROTO, "corr must be 0");
}

/* ---- rejections: shape ------------------------------------------------------------------- */

/* WHY asks where the job ran with an optional last field; WHY_R answers with an optional pair,
 * exactly when asked.  Neither changes the short forms older clients send and read. */
static void
test_client_why_has_a_short_and_a_where_form(void **state)
{
    (void)state;
    wf_cmsg_t m, dec;
    size_t len;
    wf_cmsg_init(&m, WF_CMSG_WHY);
    m.corr = 5;
    m.req = 9;
    strcpy(m.job, "j");
    uint8_t *buf = s_encode(&m, &len);
    assert_int_equal(buf[0], 0x96); /* [sig, ver, kind, corr, req, job] */
    assert_int_equal(wf_cmsg_decode(buf, len, &dec, NULL, 0), WEFT_OK);
    assert_int_equal(dec.where, 0);
    wf_cmsg_fini(&dec);
    free(buf);
    m.where = 1;
    buf = s_encode(&m, &len);
    assert_int_equal(buf[0], 0x97);
    assert_int_equal(wf_cmsg_decode(buf, len, &dec, NULL, 0), WEFT_OK);
    assert_int_equal(dec.where, 1);
    wf_cmsg_fini(&dec);
    free(buf);
    m.where = 2;
    uint8_t *none = NULL;
    assert_int_equal(wf_cmsg_encode(&m, &none, &len), WEFT_EINVAL);
    assert_null(none);
    s_try(WF_CMSG_WHY, V_TYPICAL, P(6), o_u(0), WEFT_EPROTO, "WHY field 7 (where)");
    s_try(WF_CMSG_WHY, V_TYPICAL, P(6), o_u(2), WEFT_EPROTO, "out of range 1..1");
    s_try(WF_CMSG_WHY, V_TYPICAL, P(6), o_nil(), WEFT_EPROTO, "expected uint");

    /* WHY_R: the pair is written exactly when where is set, and read back into jobinfo */
    s_make(&m, WF_CMSG_WHY_R, V_TYPICAL);
    strcpy(m.jobinfo.host, "node-1.example");
    buf = s_encode(&m, &len);
    assert_int_equal(buf[0], 0x98);
    assert_int_equal(wf_cmsg_decode(buf, len, &dec, NULL, 0), WEFT_OK);
    assert_int_equal(dec.where, 1);
    assert_string_equal(dec.jobinfo.worker, "build-3");
    assert_string_equal(dec.jobinfo.host, "node-1.example");
    wf_cmsg_fini(&dec);
    free(buf);
    m.where = 0; /* the short form leaves them out, whatever the struct holds */
    buf = s_encode(&m, &len);
    assert_int_equal(buf[0], 0x96);
    assert_int_equal(wf_cmsg_decode(buf, len, &dec, NULL, 0), WEFT_OK);
    assert_int_equal(dec.where, 0);
    assert_string_equal(dec.jobinfo.worker, "");
    assert_string_equal(dec.jobinfo.host, "");
    wf_cmsg_fini(&dec);
    free(buf);
    /* none is nil, not ""; a name is checked as any */
    s_try(WF_CMSG_WHY_R, V_TYPICAL, P(7), o_s(""), WEFT_EPROTO, "empty name");
    s_try(WF_CMSG_WHY_R, V_TYPICAL, P(6), o_s("a b"), WEFT_EPROTO, "bad character");
    s_try_resize(WF_CMSG_WHY_R, V_TYPICAL, P_TOP, -1, WEFT_EPROTO, "WHY_R field 8 (host) missing");
    s_try_resize(WF_CMSG_WHY_R, V_TYPICAL, P_TOP, -2, WEFT_OK, NULL);
    s_release(NULL);
}

/* LOGS and LOGS_R: strict ranges, a stream of "out" or "err", at most 1 MiB of data that the
 * decoded reply borrows from its frame until wf_cmsg_keep_data copies it. */
static void
test_client_logs_messages(void **state)
{
    (void)state;
    static const char *const bad_streams[] = { "OUT", "", "stdout", "er", "errr" };
    for (size_t i = 0; i < sizeof bad_streams / sizeof bad_streams[0]; i++)
        s_try(WF_CMSG_LOGS, V_TYPICAL, P(7), o_s(bad_streams[i]), WEFT_EPROTO,
              "not \"out\" or \"err\"");
    s_try(WF_CMSG_LOGS, V_TYPICAL, P(7), o_s("out"), WEFT_OK, NULL);
    s_try(WF_CMSG_LOGS, V_TYPICAL, P(9), o_u(0), WEFT_EPROTO, "out of range 1..1048576");
    s_try(WF_CMSG_LOGS, V_TYPICAL, P(9), o_u(WF_PROTO_MAX_LOG_CHUNK + 1), WEFT_EPROTO,
          "out of range 1..1048576");
    s_try(WF_CMSG_LOGS, V_TYPICAL, P(8), o_u(WF_PROTO_MAX_LOG_OFFSET + 1), WEFT_EPROTO,
          "out of range");
    s_try(WF_CMSG_LOGS, V_TYPICAL, P(5), o_u(WF_MAX_JOBS_PER_REQUEST), WEFT_EPROTO,
          "out of range");
    s_try(WF_CMSG_LOGS, V_TYPICAL, P(4), o_u(0), WEFT_EPROTO, "out of range");
    s_try(WF_CMSG_LOGS_R, V_TYPICAL, P(4), o_u(WF_PROTO_MAX_LOG_OFFSET + 1), WEFT_EPROTO,
          "out of range");
    s_try(WF_CMSG_LOGS_R, V_TYPICAL, P(6), o_s("text"), WEFT_EPROTO, "expected bin");

    /* the data: borrowed from the frame, then owned */
    wf_cmsg_t m, dec;
    size_t len;
    s_make(&m, WF_CMSG_LOGS_R, V_TYPICAL);
    uint8_t *buf = s_encode(&m, &len);
    assert_int_equal(wf_cmsg_decode(buf, len, &dec, NULL, 0), WEFT_OK);
    assert_true(dec.size == 100 && dec.log_offset == 90 && dec.data_len == 10);
    assert_true(dec.data > buf && dec.data + dec.data_len <= buf + len);
    assert_int_equal(wf_cmsg_decoded_size(&dec), 0);
    assert_int_equal(wf_cmsg_keep_data(&dec), WEFT_OK);
    assert_int_equal(wf_cmsg_keep_data(&dec), WEFT_EINVAL); /* owns it already */
    memset(buf, 0, len);
    free(buf);
    assert_memory_equal(dec.data, "6789\nabcd\n", 10);
    assert_int_equal(wf_cmsg_decoded_size(&dec), 10);
    wf_cmsg_fini(&dec);
    wf_cmsg_init(&dec, WF_CMSG_LOGS_R);
    assert_int_equal(wf_cmsg_keep_data(&dec), WEFT_OK); /* empty: nothing to copy */
    assert_null(dec.owned_);
    dec.kind = WF_CMSG_WHY_R;
    assert_int_equal(wf_cmsg_keep_data(&dec), WEFT_EINVAL);
    assert_int_equal(wf_cmsg_keep_data(NULL), WEFT_EINVAL);
    /* over 1 MiB of data: too big to encode, and to decode */
    s_make(&m, WF_CMSG_LOGS_R, V_MAX);
    m.data_len = WF_PROTO_MAX_LOG_CHUNK + 1;
    uint8_t *none = NULL;
    assert_int_equal(wf_cmsg_encode(&m, &none, &len), WEFT_ETOOBIG);
    static uint8_t big[WF_PROTO_MAX_LOG_CHUNK + 1];
    msgpack_object o = { .type = MSGPACK_OBJECT_BIN };
    o.via.bin.ptr = (const char *)big;
    o.via.bin.size = sizeof big;
    s_try(WF_CMSG_LOGS_R, V_TYPICAL, P(6), o, WEFT_ETOOBIG, "1048577 bytes exceed");
    /* a bad stream is refused by the encoder too */
    s_make(&m, WF_CMSG_LOGS, V_TYPICAL);
    strcpy(m.stream, "in");
    assert_int_equal(wf_cmsg_encode(&m, &none, &len), WEFT_EINVAL);
    s_release(NULL);
}

static void
test_client_rejects_wrong_field_counts(void **state)
{
    (void)state;
    for (size_t k = 0; k < S_NKINDS; k++) {
        /* WHY's typical form ends with its one optional field: one less is the short form */
        s_try_resize(s_all_kinds[k], V_TYPICAL, P_TOP, s_all_kinds[k] == WF_CMSG_WHY ? -2 : -1,
                     WEFT_EPROTO, "missing");
        s_try_resize(s_all_kinds[k], V_TYPICAL, P_TOP, +1, WEFT_EPROTO, "extra field");
        s_try_resize(s_all_kinds[k], V_TYPICAL, P_TOP, +5, WEFT_EPROTO, "5 extra field");
        s_release(NULL);
    }
    /* every nested record: a job, a pool, a request info, its counts, a job info, a worker */
    static const struct {
        int kind;
        int path[4];
        const char *want;
    } nested[] = {
        { WF_CMSG_SUBMIT, { 8, 0, -1 }, "job: 10 fields, expected 11" },
        { WF_CMSG_SUBMIT, { 7, 1, -1 }, "expected [name, limit]" },
        { WF_CMSG_STATUS_R, { 4, -1 }, "request info: 7 fields, expected 8" },
        { WF_CMSG_STATUS_R, { 4, 5, -1 }, "6 counts, expected 7" },
        { WF_CMSG_STATUS_R, { 5, 2, -1 }, "job info: 19 fields, expected 20" },
        { WF_CMSG_LIST_R, { 4, 1, -1 }, "request info: 7 fields" },
        { WF_CMSG_WORKERS_R, { 4, 0, -1 }, "worker: 6 fields, expected 7" },
        { WF_CMSG_WHY_R, { 4, -1 }, "job info: 19 fields" },
        { WF_CMSG_GRAPH_R, { 6, 1, -1 }, "job: 3 fields, expected 4" },
    };
    for (unsigned i = 0; i < sizeof nested / sizeof nested[0]; i++) {
        s_try_resize(nested[i].kind, V_TYPICAL, nested[i].path, -1, WEFT_EPROTO, nested[i].want);
        s_try_resize(nested[i].kind, V_TYPICAL, nested[i].path, +1, WEFT_EPROTO, NULL);
    }
    s_try_resize(WF_CMSG_STATUS_R, V_TYPICAL, P(4, 5), +1, WEFT_EPROTO, "8 counts, expected 7");
}

/* Every position below the prefix, depth first. */
typedef struct s_paths {
    int p[512][8];
    unsigned n;
} s_paths_t;

static void
s_collect(const msgpack_object *o, int *path, int depth, s_paths_t *out)
{
    if (depth > 0 && out->n < 512) {
        memcpy(out->p[out->n], path, sizeof(int) * (size_t)depth);
        out->p[out->n][depth] = -1;
        out->n++;
    }
    if (o->type != MSGPACK_OBJECT_ARRAY || depth >= 6)
        return;
    for (uint32_t i = depth == 0 ? 4 : 0; i < o->via.array.size; i++) {
        path[depth] = (int)i;
        s_collect(&o->via.array.ptr[i], path, depth + 1, out);
    }
}

static void
test_client_rejects_a_wrong_type_at_every_position(void **state)
{
    (void)state;
    static s_paths_t paths;
    msgpack_object never[] = { o_float(), o_bool(), o_map0(), o_ext() };
    unsigned tried = 0;
    for (size_t k = 0; k < S_NKINDS; k++) {
        for (size_t v = 0; v < 3; v += 2) { /* MIN and TYPICAL */
            s_edit_t e;
            int path[8];
            size_t len;
            paths.n = 0;
            s_edit_open(&e, s_all_kinds[k], s_variants[v]);
            s_collect(e.root, path, 0, &paths);
            free(s_edit_close(&e, &len));
            for (unsigned i = 0; i < paths.n; i++)
                for (unsigned t = 0; t < 4; t++, tried++)
                    s_try(s_all_kinds[k], s_variants[v], paths.p[i], never[t], WEFT_EPROTO,
                          NULL);
            s_release(NULL);
        }
    }
    assert_true(tried > 1000);

    /* Types that are valid somewhere, in the wrong place. */
    s_try(WF_CMSG_STATUS, V_TYPICAL, P(4), o_i(-1), WEFT_EPROTO, "expected uint, got negative int");
    s_try(WF_CMSG_STATUS, V_TYPICAL, P(4), o_s("77"), WEFT_EPROTO, "expected uint, got str");
    s_try(WF_CMSG_STATUS, V_TYPICAL, P(4), o_nil(), WEFT_EPROTO, "expected uint, got nil");
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(8, 0, 2), o_s("make"), WEFT_EPROTO, "expected bin, got str");
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(8, 0, 0), o_bin("a", 1), WEFT_EPROTO,
          "expected str, got bin");
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(4), o_nil(), WEFT_EPROTO, "expected str, got nil");
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(5), o_u(1), WEFT_EPROTO, "expected str or nil, got uint");
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(8, 0, 3), o_nil(), WEFT_EPROTO, "expected array, got nil");
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(8, 0, 8), o_s("1"), WEFT_EPROTO, "expected int, got str");
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(7, 0, 1), o_i(-2), WEFT_EPROTO, "limit: expected uint");
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(8, 1), o_nil(), WEFT_EPROTO, "job 2: job: expected array");
    s_try(WF_CMSG_WHY, V_TYPICAL, P(5), o_nil(), WEFT_EPROTO, "expected str, got nil");
    s_try(WF_CMSG_EVENT, V_TYPICAL, P(6), o_nil(), WEFT_EPROTO, "expected str, got nil");
    s_try(WF_CMSG_STATUS_R, V_TYPICAL, P(4, 5, 0), o_i(-1), WEFT_EPROTO, "count 1: expected uint");
    s_try(WF_CMSG_STATUS_R, V_TYPICAL, P(5, 0, 13), o_nil(), WEFT_EPROTO, "expected int, got nil");
    /* what is valid: nil for "none", any integer width, a negative int where an int goes */
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(5), o_nil(), WEFT_OK, NULL);
    s_try(WF_CMSG_CANCEL, V_TYPICAL, P(5), o_nil(), WEFT_OK, NULL);
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(8, 0, 8), o_i(INT32_MIN), WEFT_OK, NULL);
    s_try(WF_CMSG_STATUS_R, V_TYPICAL, P(4, 6), o_i(INT64_MIN), WEFT_OK, NULL);
}

/* A frame in a wider integer format than needed is the same value (msgpack allows it). */
static void
test_client_accepts_any_integer_width(void **state)
{
    (void)state;
    /* PING with corr 1 as uint64 (0xcf) and kind as int8 (0xd0) */
    static const uint8_t f[] = { 0x94, 0xa4, 'W', 'E', 'F', 'T', 0x01, 0xd0, WF_CMSG_PING,
                                 0xcf, 0, 0, 0, 0, 0, 0, 0, 1 };
    wf_cmsg_t m;
    assert_int_equal(wf_cmsg_decode(f, sizeof f, &m, NULL, 0), WEFT_OK);
    assert_int_equal(m.kind, WF_CMSG_PING);
    assert_true(m.corr == 1);
    /* and a str8 signature */
    static const uint8_t g[] = { 0x94, 0xd9, 4, 'W', 'E', 'F', 'T', 0x01, WF_CMSG_OK, 0x07 };
    assert_int_equal(wf_cmsg_decode(g, sizeof g, &m, NULL, 0), WEFT_OK);
    assert_true(m.kind == WF_CMSG_OK && m.corr == 7);
    /* a negative number in an int16 where an int32 goes */
    static const uint8_t h[] = { 0x95, 0xa4, 'W', 'E', 'F', 'T', 0x01, WF_CMSG_FINISHED, 0x00,
                                 0x01, 0xd1, 0xff, 0xfe };
    assert_int_equal(wf_cmsg_decode(h, sizeof h, &m, NULL, 0), WEFT_EPROTO); /* state is a uint */
}

/* ---- rejections: values ------------------------------------------------------------------ */

static char s_long_name[WF_MAX_NAME + 2];
static char s_long_msg[WF_MAX_MESSAGE + 2];

static void
test_client_rejects_bad_names(void **state)
{
    (void)state;
    memset(s_long_name, 'a', WF_MAX_NAME + 1);
    static const struct {
        int kind;
        int path[5];
    } names[] = {
        { WF_CMSG_SUBMIT, { 4, -1 } },          { WF_CMSG_SUBMIT, { 5, -1 } },
        { WF_CMSG_SUBMIT, { 6, -1 } },          { WF_CMSG_SUBMIT, { 7, 0, 0, -1 } },
        { WF_CMSG_SUBMIT, { 8, 0, 0, -1 } },    { WF_CMSG_SUBMIT, { 8, 0, 1, -1 } },
        { WF_CMSG_SUBMIT, { 8, 2, 3, 1, -1 } }, { WF_CMSG_SUBMIT, { 8, 1, 9, -1 } },
        { WF_CMSG_CANCEL, { 5, -1 } },          { WF_CMSG_RETRY, { 5, -1 } },
        { WF_CMSG_WHY, { 5, -1 } },             { WF_CMSG_STATUS_R, { 4, 1, -1 } },
        { WF_CMSG_STATUS_R, { 4, 2, -1 } },     { WF_CMSG_STATUS_R, { 5, 0, 1, -1 } },
        { WF_CMSG_STATUS_R, { 5, 0, 2, -1 } },  { WF_CMSG_STATUS_R, { 5, 1, 3, -1 } },
        { WF_CMSG_STATUS_R, { 5, 1, 14, -1 } }, { WF_CMSG_LIST_R, { 4, 1, 1, -1 } },
        { WF_CMSG_LIST_R, { 4, 1, 2, -1 } },    { WF_CMSG_WORKERS_R, { 4, 0, 0, -1 } },
        { WF_CMSG_WORKERS_R, { 4, 1, 1, -1 } }, { WF_CMSG_WORKERS_R, { 4, 1, 3, 1, -1 } },
        { WF_CMSG_WHY_R, { 4, 1, -1 } },        { WF_CMSG_WHY_R, { 5, 1, -1 } },
        { WF_CMSG_EVENT, { 6, -1 } },
    };
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
        int k = names[i].kind;
        const int *p = names[i].path;
        s_try(k, V_TYPICAL, p, o_s(""), WEFT_EPROTO, NULL);
        s_try(k, V_TYPICAL, p, o_s(s_long_name), WEFT_ETOOBIG, "longer than 128");
        s_try(k, V_TYPICAL, p, o_s("a b"), WEFT_EPROTO, "bad character");
        s_try(k, V_TYPICAL, p, o_s("a/b"), WEFT_EPROTO, "bad character");
        s_try(k, V_TYPICAL, p, o_s("caf\xc3\xa9"), WEFT_EPROTO, "bad character");
        s_try(k, V_TYPICAL, p, o_sn("a\0b", 3), WEFT_EPROTO, "bad character");
        s_try(k, V_TYPICAL, p, o_sn(s_long_name, WF_MAX_NAME), WEFT_OK, NULL);
        s_release(NULL);
    }
    /* The reason says where, down the nesting. */
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(8, 2, 3, 1), o_s("x y"), WEFT_EPROTO,
          "SUBMIT field 9 (jobs): job 3: field 4 (needs): need 2: name has a bad character");
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(5), o_s(""), WEFT_EPROTO, "send nil for none");
    /* EVENT: "" only for a request event */
    s_try(WF_CMSG_EVENT, V_TYPICAL, P(6), o_s(""), WEFT_EPROTO, "job event has no job id");
}

static void
test_client_rejects_bad_texts(void **state)
{
    (void)state;
    memset(s_long_msg, 'm', WF_MAX_MESSAGE + 1);
    static const struct {
        int kind;
        int path[4];
    } texts[] = {
        { WF_CMSG_ERROR, { 5, -1 } },          { WF_CMSG_SUBMITTED, { 5, 0, -1 } },
        { WF_CMSG_STATUS_R, { 5, 0, 16, -1 } }, { WF_CMSG_STATUS_R, { 5, 2, 17, -1 } },
        { WF_CMSG_WHY_R, { 4, 16, -1 } },      { WF_CMSG_WHY_R, { 4, 17, -1 } },
    };
    for (unsigned i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int k = texts[i].kind;
        const int *p = texts[i].path;
        s_try(k, V_TYPICAL, p, o_sn("a\0b", 3), WEFT_EPROTO, "NUL");
        s_try(k, V_TYPICAL, p, o_sn("\0", 1), WEFT_EPROTO, "NUL");
        s_try(k, V_TYPICAL, p, o_s(s_long_msg), WEFT_ETOOBIG, "longer than 512");
        s_try(k, V_TYPICAL, p, o_sn(s_long_msg, WF_MAX_MESSAGE), WEFT_OK, NULL);
        s_try(k, V_TYPICAL, p, o_s(""), WEFT_OK, NULL);
        s_try(k, V_TYPICAL, p, o_bin("x", 1), WEFT_EPROTO, "expected str");
        s_release(NULL);
    }
    /* PONG's version and BOARD's mode are strs with their own rules */
    s_try(WF_CMSG_PONG, V_TYPICAL, P(4), o_s(""), WEFT_EPROTO, "empty version");
    s_try(WF_CMSG_PONG, V_TYPICAL, P(4), o_s("0123456789abcdef0123456789abcdef"), WEFT_ETOOBIG,
          "longer than 31");
    s_try(WF_CMSG_PONG, V_TYPICAL, P(4), o_s("1 0"), WEFT_EPROTO, "printable");
    s_try(WF_CMSG_PONG, V_TYPICAL, P(4), o_s("1\x7f"), WEFT_EPROTO, "printable");
    s_try(WF_CMSG_BOARD, V_TYPICAL, P(4), o_s("RUNNING"), WEFT_EPROTO, "not running, paused");
    s_try(WF_CMSG_BOARD, V_TYPICAL, P(4), o_s("runningx"), WEFT_EPROTO, "not running, paused");
    s_try(WF_CMSG_BOARD, V_TYPICAL, P(4), o_s(""), WEFT_EPROTO, "not running, paused");
}

static void
test_client_rejects_out_of_range_integers(void **state)
{
    (void)state;
    static const struct {
        int kind;
        int path[4];
        int64_t bad;  /* rejected */
        int64_t good; /* the bound next to it, accepted */
    } r[] = {
        { WF_CMSG_STATUS, { 4, -1 }, 0, 1 },
        { WF_CMSG_WAIT, { 4, -1 }, 0, 1 },
        { WF_CMSG_SUBMIT, { 8, 0, 4, -1 }, WF_MAX_RETRIES + 1, WF_MAX_RETRIES },
        { WF_CMSG_SUBMIT, { 8, 0, 5, -1 }, WF_MAX_RETRIES + 1, WF_MAX_RETRIES },
        { WF_CMSG_SUBMIT, { 8, 0, 6, -1 }, WF_MAX_RETRY_DELAY_MS + 1, WF_MAX_RETRY_DELAY_MS },
        { WF_CMSG_SUBMIT, { 8, 0, 7, -1 }, (int64_t)WF_MAX_TIMEOUT_MS + 1, WF_MAX_TIMEOUT_MS },
        { WF_CMSG_SUBMIT, { 8, 0, 8, -1 }, (int64_t)INT32_MAX + 1, INT32_MAX },
        { WF_CMSG_SUBMIT, { 8, 0, 8, -1 }, (int64_t)INT32_MIN - 1, INT32_MIN },
        { WF_CMSG_SUBMIT, { 8, 0, 10, -1 }, WEFT_WHEN_COUNT_, WEFT_WHEN_COUNT_ - 1 },
        { WF_CMSG_SUBMIT, { 7, 0, 1, -1 }, 0, 1 },
        { WF_CMSG_SUBMIT, { 7, 0, 1, -1 }, (int64_t)UINT32_MAX + 1, UINT32_MAX },
        { WF_CMSG_ERROR, { 4, -1 }, 0, 1 },
        { WF_CMSG_ERROR, { 4, -1 }, WEFT_ERR_COUNT_, WEFT_ERR_COUNT_ - 1 },
        { WF_CMSG_FINISHED, { 5, -1 }, WEFT_REQ_RUNNING, WEFT_REQ_SUCCEEDED },
        { WF_CMSG_FINISHED, { 5, -1 }, WEFT_REQ_STATE_COUNT_, WEFT_REQ_STATE_COUNT_ - 1 },
        { WF_CMSG_SUBMITTED, { 4, -1 }, 0, 1 },
        { WF_CMSG_STATUS_R, { 4, 0, -1 }, 0, 1 },
        { WF_CMSG_STATUS_R, { 4, 3, -1 }, WEFT_REQ_STATE_COUNT_, WEFT_REQ_STATE_COUNT_ - 1 },
        { WF_CMSG_STATUS_R, { 4, 4, -1 }, WF_MAX_JOBS_PER_REQUEST + 1, WF_MAX_JOBS_PER_REQUEST },
        { WF_CMSG_STATUS_R, { 4, 5, 6, -1 }, WF_MAX_JOBS_PER_REQUEST + 1, WF_MAX_JOBS_PER_REQUEST },
        { WF_CMSG_STATUS_R, { 5, 0, 0, -1 }, WF_MAX_JOBS_PER_REQUEST, WF_MAX_JOBS_PER_REQUEST - 1 },
        { WF_CMSG_STATUS_R, { 5, 0, 4, -1 }, WEFT_JOB_STATE_COUNT_, WEFT_JOB_STATE_COUNT_ - 1 },
        { WF_CMSG_STATUS_R, { 5, 0, 5, -1 }, WEFT_REASON_COUNT_, WEFT_REASON_COUNT_ - 1 },
        { WF_CMSG_STATUS_R, { 5, 0, 6, -1 }, WEFT_WHEN_COUNT_, WEFT_WHEN_COUNT_ - 1 },
        { WF_CMSG_STATUS_R, { 5, 0, 7, -1 }, (int64_t)INT32_MAX + 1, INT32_MAX },
        { WF_CMSG_STATUS_R, { 5, 0, 8, -1 }, (int64_t)UINT32_MAX + 1, UINT32_MAX },
        { WF_CMSG_STATUS_R, { 5, 0, 11, -1 }, WF_MAX_RETRIES + 1, WF_MAX_RETRIES },
        { WF_CMSG_STATUS_R, { 5, 0, 12, -1 }, WF_MAX_RETRIES + 1, WF_MAX_RETRIES },
        { WF_CMSG_STATUS_R, { 5, 0, 13, -1 }, (int64_t)INT32_MIN - 1, INT32_MIN },
        { WF_CMSG_STATUS_R, { 5, 0, 15, -1 }, 101, 100 },
        { WF_CMSG_WORKERS_R, { 4, 0, 2, -1 }, (int64_t)UINT32_MAX + 1, UINT32_MAX },
        { WF_CMSG_WORKERS_R, { 4, 0, 4, -1 }, 0, 1 },
        { WF_CMSG_WORKERS_R, { 4, 0, 4, -1 }, WF_MAX_SLOTS + 1, WF_MAX_SLOTS },
        { WF_CMSG_WORKERS_R, { 4, 0, 5, -1 }, WF_MAX_SLOTS + 1, WF_MAX_SLOTS },
        { WF_CMSG_BOARD, { 5, -1 }, (int64_t)UINT32_MAX + 1, UINT32_MAX },
        { WF_CMSG_PONG, { 5, -1 }, 0, 1 },
        { WF_CMSG_PONG, { 6, -1 }, 0, 1 },
        { WF_CMSG_EVENT, { 4, -1 }, 0, 1 },
        { WF_CMSG_EVENT, { 5, -1 }, WF_MAX_JOBS_PER_REQUEST, WF_MAX_JOBS_PER_REQUEST - 1 },
        { WF_CMSG_EVENT, { 7, -1 }, WEFT_JOB_STATE_COUNT_, WEFT_JOB_STATE_COUNT_ - 1 },
        { WF_CMSG_EVENT, { 8, -1 }, WEFT_REASON_COUNT_, WEFT_REASON_COUNT_ - 1 },
        { WF_CMSG_EVENT, { 9, -1 }, (int64_t)UINT32_MAX + 1, UINT32_MAX },
        { WF_CMSG_EVENT, { 10, -1 }, 101, 100 },
    };
    for (unsigned i = 0; i < sizeof r / sizeof r[0]; i++) {
        s_try(r[i].kind, V_TYPICAL, r[i].path, o_i(r[i].bad), WEFT_EPROTO, NULL);
        s_try(r[i].kind, V_TYPICAL, r[i].path, o_i(r[i].good), WEFT_OK, NULL);
        s_release(NULL);
    }
    /* int64 fields: a uint above INT64_MAX does not fit */
    s_try(WF_CMSG_STATUS_R, V_TYPICAL, P(4, 6), o_u((uint64_t)INT64_MAX + 1), WEFT_EPROTO,
          "out of range");
    s_try(WF_CMSG_EVENT, V_TYPICAL, P(11), o_u((uint64_t)INT64_MAX + 1), WEFT_EPROTO, NULL);
    /* across fields */
    s_try(WF_CMSG_PONG, V_TYPICAL, P(5), o_u(2), WEFT_EPROTO, "proto_min above proto_max");
    s_try(WF_CMSG_EVENT, V_TYPICAL, P(5), o_u(UINT32_MAX), WEFT_EPROTO, "names a job");
    s_try(WF_CMSG_EVENT, V_MIN, P(5), o_u(0), WEFT_EPROTO, "has no job id");
    s_try(WF_CMSG_EVENT, V_MIN, P(7), o_u(WEFT_REQ_STATE_COUNT_), WEFT_EPROTO, "request state");
}

static void
test_client_rejects_counts_over_limits(void **state)
{
    (void)state;
    /* pools: 257 valid pairs */
    msgpack_object pair = o_arr(2, o_s("db"));
    pair.via.array.ptr[1] = o_u(1);
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(7), o_arr(WF_MAX_POOLS + 1, pair), WEFT_ETOOBIG,
          "257 pool(s) exceed the limit of 256");
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(7), o_arr(WF_MAX_POOLS, pair), WEFT_OK, NULL);
    /* needs */
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(8, 0, 3), o_arr(WF_MAX_NEEDS_PER_JOB + 1, o_s("a")),
          WEFT_ETOOBIG, "need(s) exceed the limit of 100000");
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(8, 0, 3), o_arr(WF_MAX_NEEDS_PER_JOB, o_s("a")), WEFT_OK,
          NULL);
    /* jobs: none, and more than 2,000,000 (each a nil: the count is checked first) */
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(8), o_arr(0, o_nil()), WEFT_EPROTO, "at least 1");
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(8), o_arr(WF_MAX_JOBS_PER_REQUEST + 1, o_nil()),
          WEFT_ETOOBIG, "2000001 job(s) exceed the limit of 2000000");
    s_release(NULL);
    /* warnings, workers, types, waiting, job infos */
    s_try(WF_CMSG_SUBMITTED, V_TYPICAL, P(5), o_arr(WF_CLIENT_MAX_WARNINGS + 1, o_s("w")),
          WEFT_ETOOBIG, "exceed the limit of 1024");
    s_try(WF_CMSG_SUBMITTED, V_TYPICAL, P(5), o_arr(WF_CLIENT_MAX_WARNINGS, o_s("w")), WEFT_OK,
          NULL);
    s_try(WF_CMSG_WORKERS_R, V_TYPICAL, P(4), o_arr(WF_CLIENT_MAX_WORKERS + 1, o_nil()),
          WEFT_ETOOBIG, "exceed the limit of 65536");
    s_try(WF_CMSG_WORKERS_R, V_TYPICAL, P(4, 0, 3), o_arr(WF_MAX_TYPES + 1, o_s("t")),
          WEFT_ETOOBIG, "65 type(s) exceed the limit of 64");
    s_try(WF_CMSG_WORKERS_R, V_TYPICAL, P(4, 0, 3), o_arr(0, o_nil()), WEFT_EPROTO,
          "at least 1");
    s_try(WF_CMSG_WHY_R, V_TYPICAL, P(5), o_arr(WF_MAX_NEEDS_PER_JOB + 1, o_s("j")),
          WEFT_ETOOBIG, "exceed the limit of 100000");
    s_try(WF_CMSG_STATUS_R, V_TYPICAL, P(5), o_arr(WF_MAX_JOBS_PER_REQUEST + 1, o_nil()),
          WEFT_ETOOBIG, "exceed the limit of 2000000");
}

static void
test_client_rejects_array_counts_the_bytes_cannot_hold(void **state)
{
    (void)state;
    /* A jobs array whose array32 header claims 2^32-1 elements: caught before anything is read. */
    wf_cmsg_t m;
    size_t len;
    s_make(&m, WF_CMSG_SUBMIT, V_MIN);
    uint8_t *f = s_encode(&m, &len);
    /* V_MIN's last field is the jobs array: fixarray(1) (0x91), then the job's fixarray(11)
     * (0x9b), in which no byte is 0x91.  Replace the array from its header on. */
    size_t at = len - 1;
    while (at > 0 && f[at] != 0x91)
        at--;
    assert_true(at > 0 && f[at + 1] == 0x9b);
    uint8_t *lie = malloc(at + 5);
    memcpy(lie, f, at);
    lie[at] = 0xdd;
    memset(lie + at + 1, 0xff, 4);
    s_expect(lie, at + 5, WEFT_EPROTO, "array count exceeds bytes", "array32 lie");
    /* a str32 claiming 4 GiB */
    lie = malloc(at + 5);
    memcpy(lie, f, at);
    lie[at] = 0xdb;
    memset(lie + at + 1, 0xff, 4);
    s_expect(lie, at + 5, WEFT_EPROTO, "truncated", "str32 lie");
    free(f);
    /* Counts the bytes hold one byte each, but not a job's minimum of 12 each. */
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(8), o_arr(100, o_nil()), WEFT_EPROTO,
          "array count exceeds bytes (100 job(s)");
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(8, 0, 3), o_arr(1000, o_nil()), WEFT_EPROTO,
          "array count exceeds bytes (1000 need(s)");
    s_try(WF_CMSG_LIST_R, V_TYPICAL, P(4), o_arr(1000, o_nil()), WEFT_EPROTO,
          "array count exceeds bytes");
}

static void
test_client_rejects_deep_nesting_and_trailing_bytes(void **state)
{
    (void)state;
    /* 8 nested arrays in a field: deeper than WF_MAX_DEPTH with the message's own level */
    msgpack_object o = o_u(1);
    for (int i = 0; i < 8; i++) {
        msgpack_object a = o_arr(1, o);
        o = a;
    }
    s_try(WF_CMSG_STATUS, V_TYPICAL, P(4), o, WEFT_EPROTO, "nesting too deep");
    s_try(WF_CMSG_SUBMIT, V_TYPICAL, P(8, 2, 3, 0), o, WEFT_EPROTO, "nesting too deep");
    /* trailing bytes after a valid frame, for every kind */
    for (size_t k = 0; k < S_NKINDS; k++) {
        wf_cmsg_t m;
        size_t len;
        s_make(&m, s_all_kinds[k], V_TYPICAL);
        uint8_t *f = s_encode(&m, &len);
        uint8_t *g = malloc(len + 1);
        memcpy(g, f, len);
        g[len] = 0xc0;
        s_expect(g, len + 1, WEFT_EPROTO, "trailing bytes", wf_cmsg_kind_name(m.kind));
        free(f);
        s_release(NULL);
    }
    /* two frames back to back */
    wf_cmsg_t m;
    size_t len;
    s_make(&m, WF_CMSG_PING, V_TYPICAL);
    uint8_t *f = s_encode(&m, &len);
    uint8_t *g = malloc(2 * len);
    memcpy(g, f, len);
    memcpy(g + len, f, len);
    s_expect(g, 2 * len, WEFT_EPROTO, "trailing bytes", "two frames");
    free(f);
}

static void
test_client_rejects_truncation_at_every_offset(void **state)
{
    (void)state;
    for (size_t k = 0; k < S_NKINDS; k++) {
        for (size_t v = 0; v < 3; v += 2) {
            wf_cmsg_t m, out;
            size_t len;
            char why[256];
            s_make(&m, s_all_kinds[k], s_variants[v]);
            uint8_t *f = s_encode(&m, &len);
            for (size_t cut = 0; cut < len; cut++) {
                /* a heap copy of exactly `cut` bytes, so ASan sees any read past it */
                uint8_t *g = malloc(cut ? cut : 1);
                memcpy(g, f, cut);
                int rc = wf_cmsg_decode(g, cut, &out, why, sizeof why);
                if (rc != WEFT_EPROTO)
                    fail_msg("%s cut at %zu of %zu: %s", wf_cmsg_kind_name(m.kind), cut, len,
                             weft_strerror(rc));
                assert_null(out.owned_);
                free(g);
            }
            free(f);
            s_release(NULL);
        }
    }
}

static void
test_client_rejects_oversized_frames_and_bad_arguments(void **state)
{
    (void)state;
    wf_cmsg_t m;
    char why[128];
    static const uint8_t ping[] = { 0x94, 0xa4, 'W', 'E', 'F', 'T', 1, WF_CMSG_PING, 0 };
    /* the length is checked before a byte is read */
    assert_int_equal(wf_cmsg_decode(ping, (size_t)WF_MAX_CLIENT_MSG + 1, &m, why, sizeof why),
                     WEFT_ETOOBIG);
    assert_non_null(strstr(why, "exceeds"));
    assert_int_equal(wf_cmsg_decode(ping, 0, &m, why, sizeof why), WEFT_EPROTO);
    assert_string_equal(why, "empty frame");
    assert_int_equal(wf_cmsg_decode(NULL, 0, &m, why, sizeof why), WEFT_EPROTO);
    assert_int_equal(wf_cmsg_decode(NULL, 5, &m, why, sizeof why), WEFT_EINVAL);
    assert_int_equal(wf_cmsg_decode(ping, sizeof ping, NULL, why, sizeof why), WEFT_EINVAL);
    assert_int_equal(wf_cmsg_decode(ping, sizeof ping, &m, NULL, 0), WEFT_OK);
    /* a tiny why buffer is still NUL-terminated */
    char tiny[4];
    assert_int_equal(wf_cmsg_decode(ping, 3, &m, tiny, sizeof tiny), WEFT_EPROTO);
    assert_int_equal(strlen(tiny), 3);
    /* the reserved byte */
    static const uint8_t c1[] = { 0x94, 0xa4, 'W', 'E', 'F', 'T', 1, WF_CMSG_PING, 0xc1 };
    assert_int_equal(wf_cmsg_decode(c1, sizeof c1, &m, why, sizeof why), WEFT_EPROTO);
    /* fini accepts NULL and a zeroed message, twice */
    wf_cmsg_fini(NULL);
    wf_cmsg_init(&m, WF_CMSG_OK);
    wf_cmsg_fini(&m);
    wf_cmsg_fini(&m);
}

/* ---- the encoder ------------------------------------------------------------------------- */

static void
s_enc_expect(const wf_cmsg_t *m, int rc, const char *what)
{
    uint8_t *buf = (uint8_t *)"x";
    size_t len = 1;
    int got = wf_cmsg_encode(m, &buf, &len);
    if (got != rc)
        fail_msg("encoding %s: expected %s, got %s", what, weft_strerror(rc), weft_strerror(got));
    if (rc != WEFT_OK) {
        assert_null(buf);
        assert_int_equal(len, 0);
    }
    free(buf);
}

static void
test_client_encoder_refuses_what_the_decoder_rejects(void **state)
{
    (void)state;
    wf_cmsg_t m;
    uint8_t *buf;
    size_t len;
    assert_int_equal(wf_cmsg_encode(NULL, &buf, &len), WEFT_EINVAL);
    wf_cmsg_init(&m, WF_CMSG_PING);
    assert_int_equal(wf_cmsg_encode(&m, NULL, &len), WEFT_EINVAL);
    assert_int_equal(wf_cmsg_encode(&m, &buf, NULL), WEFT_EINVAL);
    m.kind = (wf_cmsg_kind)14;
    s_enc_expect(&m, WEFT_EINVAL, "unknown kind");
    m.kind = (wf_cmsg_kind)-1;
    s_enc_expect(&m, WEFT_EINVAL, "negative kind");

#define CASE(kind, v, edit, rc)       \
    do {                              \
        s_make(&m, kind, v);          \
        edit;                         \
        s_enc_expect(&m, rc, #edit);  \
    } while (0)
    CASE(WF_CMSG_STATUS, V_TYPICAL, m.req = 0, WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.name[0] = '\0', WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, strcpy(m.submit.name, "a b"), WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, memset(m.submit.name, 'a', sizeof m.submit.name), WEFT_ETOOBIG);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, strcpy(m.submit.session, "x/y"), WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.njobs = 0, WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.njobs = WF_MAX_JOBS_PER_REQUEST + 1, WEFT_ETOOBIG);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.jobs = NULL, WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.npools = WF_MAX_POOLS + 1, WEFT_ETOOBIG);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.pool_limits = NULL, WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.pool_limits[1] = 0, WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.pool_names[0] = "", WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.pool_names[0] = NULL, WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.jobs[2].payload = NULL, WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.jobs[2].payload_len = WF_MAX_PAYLOAD + 1,
         WEFT_ETOOBIG);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.jobs[2].nneeds = WF_MAX_NEEDS_PER_JOB + 1,
         WEFT_ETOOBIG);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.jobs[2].needs = NULL, WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.jobs[2].needs[1] = "é", WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.jobs[2].needs[1] = NULL, WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.jobs[2].id = NULL, WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.jobs[2].type = s_nm(WF_MAX_NAME + 1, 0),
         WEFT_ETOOBIG);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.jobs[0].retries = WF_MAX_RETRIES + 1, WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.jobs[0].timeout_ms = WF_MAX_TIMEOUT_MS + 1,
         WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.jobs[0].when = WEFT_WHEN_COUNT_, WEFT_EINVAL);
    CASE(WF_CMSG_SUBMIT, V_TYPICAL, m.submit.jobs[0].pool = "p q", WEFT_EINVAL);
    CASE(WF_CMSG_WHY, V_TYPICAL, m.job[0] = '\0', WEFT_EINVAL);
    CASE(WF_CMSG_ERROR, V_TYPICAL, m.code = 0, WEFT_EINVAL);
    CASE(WF_CMSG_ERROR, V_TYPICAL, memset(m.message, 'm', sizeof m.message), WEFT_ETOOBIG);
    CASE(WF_CMSG_SUBMITTED, V_TYPICAL, m.nwarnings = WF_CLIENT_MAX_WARNINGS + 1, WEFT_ETOOBIG);
    CASE(WF_CMSG_SUBMITTED, V_TYPICAL, m.warnings = NULL, WEFT_EINVAL);
    CASE(WF_CMSG_STATUS_R, V_TYPICAL, m.info.state = (weft_req_state)9, WEFT_EINVAL);
    CASE(WF_CMSG_STATUS_R, V_TYPICAL, m.info.count[3] = WF_MAX_JOBS_PER_REQUEST + 1, WEFT_EINVAL);
    CASE(WF_CMSG_STATUS_R, V_TYPICAL, m.cjobs[1].progress = -1, WEFT_EINVAL);
    CASE(WF_CMSG_STATUS_R, V_TYPICAL, m.cjobs[1].id = "", WEFT_EINVAL);
    CASE(WF_CMSG_STATUS_R, V_TYPICAL, m.cjobs[1].cause = "a b", WEFT_EINVAL);
    CASE(WF_CMSG_STATUS_R, V_TYPICAL, m.cjobs[1].error = NULL, WEFT_OK); /* NULL text: "" */
    CASE(WF_CMSG_STATUS_R, V_TYPICAL, m.cjobs[1].pool = NULL, WEFT_OK);  /* NULL name: none */
    CASE(WF_CMSG_STATUS_R, V_TYPICAL, m.cjobs = NULL, WEFT_EINVAL);
    CASE(WF_CMSG_STATUS, V_TYPICAL, m.limit = WF_CLIENT_MAX_PAGE + 1, WEFT_EINVAL);
    CASE(WF_CMSG_STATUS, V_TYPICAL, m.offset = WF_MAX_JOBS_PER_REQUEST + 1, WEFT_EINVAL);
    CASE(WF_CMSG_STATUS, V_TYPICAL, m.limit = 0, WEFT_EINVAL); /* an offset without a limit */
    CASE(WF_CMSG_GRAPH, V_TYPICAL, m.limit = 0, WEFT_EINVAL);
    CASE(WF_CMSG_GRAPH, V_TYPICAL, m.req = 0, WEFT_EINVAL);
    CASE(WF_CMSG_GRAPH_R, V_TYPICAL, m.next = 11, WEFT_EINVAL);
    CASE(WF_CMSG_GRAPH_R, V_TYPICAL, m.next = 2, WEFT_EINVAL);
    CASE(WF_CMSG_GRAPH_R, V_TYPICAL, m.nnodes = WF_CLIENT_MAX_PAGE + 1, WEFT_ETOOBIG);
    CASE(WF_CMSG_GRAPH_R, V_TYPICAL, m.nodes[1].id = "a b", WEFT_EINVAL);
    CASE(WF_CMSG_GRAPH_R, V_TYPICAL, m.nodes[1].state = WEFT_JOB_STATE_COUNT_, WEFT_EINVAL);
    CASE(WF_CMSG_GRAPH_R, V_TYPICAL, m.nodes[1].nneeds = WF_MAX_NEEDS_PER_JOB + 1, WEFT_ETOOBIG);
    CASE(WF_CMSG_GRAPH_R, V_TYPICAL, ((uint32_t *)m.nodes[2].needs)[2] = 10, WEFT_EINVAL);
    CASE(WF_CMSG_GRAPH_R, V_TYPICAL, ((uint32_t *)m.nodes[2].needs)[2] = 6, WEFT_EINVAL);
    CASE(WF_CMSG_GRAPH_R, V_TYPICAL, ((uint32_t *)m.nodes[2].needs)[2] = 2, WEFT_EINVAL);
    CASE(WF_CMSG_LIST_R, V_TYPICAL, m.reqs[0].session = NULL, WEFT_EINVAL);
    CASE(WF_CMSG_WORKERS_R, V_TYPICAL, m.workers[0].types[1] = "", WEFT_EINVAL);
    CASE(WF_CMSG_LIST_R, V_TYPICAL, m.reqs[1].id = 0, WEFT_EINVAL);
    CASE(WF_CMSG_FINISHED, V_TYPICAL, m.state = WEFT_REQ_RUNNING, WEFT_EINVAL);
    CASE(WF_CMSG_WORKERS_R, V_TYPICAL, m.workers[1].ntypes = 0, WEFT_EINVAL);
    CASE(WF_CMSG_WORKERS_R, V_TYPICAL, m.workers[1].ntypes = WF_MAX_TYPES + 1, WEFT_ETOOBIG);
    CASE(WF_CMSG_WORKERS_R, V_TYPICAL, m.workers[1].slots = 0, WEFT_EINVAL);
    CASE(WF_CMSG_WORKERS_R, V_TYPICAL, m.nworkers = WF_CLIENT_MAX_WORKERS + 1, WEFT_ETOOBIG);
    CASE(WF_CMSG_BOARD, V_TYPICAL, strcpy(m.mode, "busy"), WEFT_EINVAL);
    CASE(WF_CMSG_BOARD, V_TYPICAL, memset(m.mode, 'r', sizeof m.mode), WEFT_EINVAL);
    CASE(WF_CMSG_WHY_R, V_TYPICAL, m.nwaiting = WF_MAX_NEEDS_PER_JOB + 1, WEFT_ETOOBIG);
    CASE(WF_CMSG_PONG, V_TYPICAL, m.version[0] = '\0', WEFT_EINVAL);
    CASE(WF_CMSG_PONG, V_TYPICAL, memset(m.version, 'v', sizeof m.version), WEFT_ETOOBIG);
    CASE(WF_CMSG_PONG, V_TYPICAL, m.proto_min = 2, WEFT_EINVAL);
    CASE(WF_CMSG_EVENT, V_TYPICAL, m.corr = 5, WEFT_EINVAL);
    CASE(WF_CMSG_EVENT, V_TYPICAL, m.event.request = 0, WEFT_EINVAL);
    CASE(WF_CMSG_EVENT, V_TYPICAL, m.event.job[0] = '\0', WEFT_EINVAL);
    CASE(WF_CMSG_EVENT, V_TYPICAL, m.event.job_index = WF_CLIENT_NO_JOB, WEFT_EINVAL);
    CASE(WF_CMSG_EVENT, V_MIN, m.event.state = WEFT_JOB_DONE + 1, WEFT_EINVAL);
    CASE(WF_CMSG_EVENT, V_TYPICAL, m.event.progress = 101, WEFT_EINVAL);
    CASE(WF_CMSG_EVENT, V_TYPICAL, m.event.reason = (weft_reason)-1, WEFT_EINVAL);
#undef CASE
    s_release(NULL);
}

/* ---- paging and GRAPH --------------------------------------------------------------------- */

static void
test_client_status_has_a_short_and_a_paged_form(void **state)
{
    (void)state;
    wf_cmsg_t m, dec;
    size_t len;
    /* limit 0: the short form, five elements */
    wf_cmsg_init(&m, WF_CMSG_STATUS);
    m.corr = 3;
    m.req = 9;
    uint8_t *buf = s_encode(&m, &len);
    assert_int_equal(buf[0], 0x95);
    assert_int_equal(wf_cmsg_decode(buf, len, &dec, NULL, 0), WEFT_OK);
    assert_true(dec.req == 9 && dec.offset == 0 && dec.limit == 0);
    wf_cmsg_fini(&dec);
    free(buf);
    /* a limit: seven elements, offset 0 included */
    m.limit = 50;
    buf = s_encode(&m, &len);
    assert_int_equal(buf[0], 0x97);
    assert_int_equal(wf_cmsg_decode(buf, len, &dec, NULL, 0), WEFT_OK);
    assert_true(dec.offset == 0 && dec.limit == 50);
    wf_cmsg_fini(&dec);
    free(buf);
    /* six elements is neither form; a zero limit is out of range; GRAPH has one form */
    s_try_resize(WF_CMSG_STATUS, V_TYPICAL, P_TOP, -1, WEFT_EPROTO, "STATUS field 7 (limit) missing");
    s_try_resize(WF_CMSG_STATUS, V_TYPICAL, P_TOP, -2, WEFT_OK, NULL);
    s_try_resize(WF_CMSG_STATUS, V_TYPICAL, P_TOP, -3, WEFT_EPROTO, "field 5 (req) missing");
    s_try(WF_CMSG_STATUS, V_TYPICAL, P(6), o_u(0), WEFT_EPROTO, "out of range 1..10000");
    s_try(WF_CMSG_STATUS, V_TYPICAL, P(6), o_u(WF_CLIENT_MAX_PAGE + 1), WEFT_EPROTO,
          "out of range 1..10000");
    s_try(WF_CMSG_STATUS, V_TYPICAL, P(5), o_u(WF_MAX_JOBS_PER_REQUEST + 1), WEFT_EPROTO,
          "out of range 0..2000000");
    s_try_resize(WF_CMSG_GRAPH, V_TYPICAL, P_TOP, -2, WEFT_EPROTO, "GRAPH field 6 (offset) missing");
    s_try(WF_CMSG_GRAPH, V_TYPICAL, P(6), o_u(0), WEFT_EPROTO, "out of range 1..10000");
}

static void
test_client_graph_r_checks_every_need(void **state)
{
    (void)state;
    /* TYPICAL: total 10, next 7, jobs 4, 5, 6 whose needs are [0], [0 2], [0 2 4] */
    wf_cmsg_t m, dec;
    size_t len;
    s_make(&m, WF_CMSG_GRAPH_R, V_TYPICAL);
    uint8_t *buf = s_encode(&m, &len);
    assert_int_equal(wf_cmsg_decode(buf, len, &dec, NULL, 0), WEFT_OK);
    assert_int_equal(dec.nnodes, 3);
    assert_string_equal(dec.nodes[2].id, "step_6");
    assert_int_equal(dec.nodes[2].nneeds, 3);
    assert_int_equal(dec.nodes[2].needs[2], 4);
    wf_cmsg_fini(&dec);
    free(buf);

    s_try(WF_CMSG_GRAPH_R, V_TYPICAL, P(6, 2, 3, 2), o_u(10), WEFT_EPROTO,
          "GRAPH_R job 3 (index 6): need 3 (10) is not below total");
    s_try(WF_CMSG_GRAPH_R, V_TYPICAL, P(6, 2, 3, 2), o_u(6), WEFT_EPROTO, "is the job itself");
    s_try(WF_CMSG_GRAPH_R, V_TYPICAL, P(6, 2, 3, 2), o_u(2), WEFT_EPROTO,
          "is not above the one before");
    s_try(WF_CMSG_GRAPH_R, V_TYPICAL, P(6, 2, 3, 2), o_u(9), WEFT_OK, NULL);
    s_try(WF_CMSG_GRAPH_R, V_TYPICAL, P(6, 2, 3, 2), o_u(WF_MAX_JOBS_PER_REQUEST), WEFT_EPROTO,
          "out of range 0..1999999");
    s_try(WF_CMSG_GRAPH_R, V_TYPICAL, P(6, 2, 3, 2), o_i(-1), WEFT_EPROTO, "expected uint");
    s_try(WF_CMSG_GRAPH_R, V_TYPICAL, P(5), o_u(11), WEFT_EPROTO, "next above total");
    s_try(WF_CMSG_GRAPH_R, V_TYPICAL, P(5), o_u(2), WEFT_EPROTO, "more jobs than next");
    s_try(WF_CMSG_GRAPH_R, V_TYPICAL, P(4), o_u(WF_MAX_JOBS_PER_REQUEST + 1), WEFT_EPROTO,
          "out of range");
    s_try(WF_CMSG_GRAPH_R, V_TYPICAL, P(6, 0, 1), o_u(WEFT_JOB_STATE_COUNT_), WEFT_EPROTO,
          "out of range 0..6");
    s_try(WF_CMSG_GRAPH_R, V_TYPICAL, P(6, 0, 2), o_u(WEFT_WHEN_COUNT_), WEFT_EPROTO,
          "out of range 0..2");
    s_try(WF_CMSG_GRAPH_R, V_TYPICAL, P(6, 0, 0), o_s("a b"), WEFT_EPROTO, "bad character");
    s_try(WF_CMSG_GRAPH_R, V_TYPICAL, P(6, 0, 3), o_arr(WF_MAX_NEEDS_PER_JOB + 1, o_u(1)),
          WEFT_ETOOBIG, "exceed the limit of 100000");
    s_try(WF_CMSG_GRAPH_R, V_TYPICAL, P(6), o_arr(WF_CLIENT_MAX_PAGE + 1, o_nil()), WEFT_ETOOBIG,
          "exceed the limit of 10000");
    /* an empty page past the end, and an empty request */
    s_try(WF_CMSG_GRAPH_R, V_TYPICAL, P(6), o_arr(0, o_nil()), WEFT_OK, NULL);
}

/* ---- the decoder's memory bound ---------------------------------------------------------- */

/* Frames of the shapes that cost the most decoded bytes per frame byte: many elements, each
 * at its smallest encoding.  Built by hand with msgpack-c's packer. */
typedef struct s_pk {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} s_pk_t;

static msgpack_packer *
s_pk_open(s_pk_t *p, int kind, uint32_t nfields)
{
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
    msgpack_pack_array(&p->pk, 4 + nfields);
    msgpack_pack_str_with_body(&p->pk, "WEFT", 4);
    msgpack_pack_uint8(&p->pk, WF_CLIENT_VERSION);
    msgpack_pack_uint8(&p->pk, (uint8_t)kind);
    msgpack_pack_uint8(&p->pk, 1);
    return &p->pk;
}

static void
s_pk_name(msgpack_packer *pk)
{
    msgpack_pack_str_with_body(pk, "a", 1);
}

static void
s_pk_zeros(msgpack_packer *pk, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        msgpack_pack_uint8(pk, 0);
}

/* The smallest job info: index 0, names "a", nil pool and cause, empty texts, zeros. */
static void
s_pk_jobinfo(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 20);
    s_pk_zeros(pk, 1);
    s_pk_name(pk);
    s_pk_name(pk);
    msgpack_pack_nil(pk);
    s_pk_zeros(pk, 10);
    msgpack_pack_nil(pk);
    s_pk_zeros(pk, 1);
    msgpack_pack_str(pk, 0);
    msgpack_pack_str(pk, 0);
    s_pk_zeros(pk, 2);
}

/* Decode p's frame; assert it decodes and its block is at most factor x the frame. */
static double
s_pk_check(s_pk_t *p, const char *what, unsigned factor)
{
    wf_cmsg_t m;
    char why[256];
    int rc = wf_cmsg_decode((const uint8_t *)p->sb.data, p->sb.size, &m, why, sizeof why);
    if (rc != WEFT_OK)
        fail_msg("%s does not decode: %s", what, why);
    size_t dec = wf_cmsg_decoded_size(&m);
    double ratio = (double)dec / (double)p->sb.size;
    print_message("  %-44s %9zu bytes -> %10zu decoded (%.2fx)\n", what, p->sb.size, dec, ratio);
    if (dec > (size_t)factor * p->sb.size)
        fail_msg("%s: %zu bytes decode to %zu, over %u x", what, p->sb.size, dec, factor);
    wf_cmsg_fini(&m);
    msgpack_sbuffer_destroy(&p->sb);
    return ratio;
}

static void
test_client_decoded_size_is_bounded_by_the_frame(void **state)
{
    (void)state;
    s_pk_t p;
    msgpack_packer *pk;
    double worst = 0, r;
#define S_TRACK(x) (r = (x), worst = r > worst ? r : worst)

    /* SUBMITTED: 1,024 empty warnings, the one shape that reaches 8 (a pointer per byte) */
    pk = s_pk_open(&p, WF_CMSG_SUBMITTED, 2);
    msgpack_pack_uint8(pk, 1);
    msgpack_pack_array(pk, WF_CLIENT_MAX_WARNINGS);
    for (unsigned i = 0; i < WF_CLIENT_MAX_WARNINGS; i++)
        msgpack_pack_str(pk, 0);
    S_TRACK(s_pk_check(&p, "SUBMITTED, 1024 empty warnings", WF_CLIENT_DECODE_FACTOR));

    /* Every other shape stays under 6. */
    /* SUBMIT: 200,000 smallest jobs */
    pk = s_pk_open(&p, WF_CMSG_SUBMIT, 5);
    s_pk_name(pk);
    msgpack_pack_nil(pk);
    msgpack_pack_nil(pk);
    msgpack_pack_array(pk, 0);
    msgpack_pack_array(pk, 200000);
    for (unsigned i = 0; i < 200000; i++) {
        msgpack_pack_array(pk, 11);
        s_pk_name(pk);
        s_pk_name(pk);
        msgpack_pack_bin(pk, 0);
        msgpack_pack_array(pk, 0);
        s_pk_zeros(pk, 5);
        msgpack_pack_nil(pk);
        s_pk_zeros(pk, 1);
    }
    S_TRACK(s_pk_check(&p, "SUBMIT, 200,000 smallest jobs", 6));

    /* SUBMIT: one job needing 100,000 one-byte names, and 256 smallest pools */
    pk = s_pk_open(&p, WF_CMSG_SUBMIT, 5);
    s_pk_name(pk);
    msgpack_pack_nil(pk);
    msgpack_pack_nil(pk);
    msgpack_pack_array(pk, WF_MAX_POOLS);
    for (unsigned i = 0; i < WF_MAX_POOLS; i++) {
        msgpack_pack_array(pk, 2);
        s_pk_name(pk);
        msgpack_pack_uint8(pk, 1);
    }
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 11);
    s_pk_name(pk);
    s_pk_name(pk);
    msgpack_pack_bin(pk, 0);
    msgpack_pack_array(pk, WF_MAX_NEEDS_PER_JOB);
    for (unsigned i = 0; i < WF_MAX_NEEDS_PER_JOB; i++)
        s_pk_name(pk);
    s_pk_zeros(pk, 5);
    msgpack_pack_nil(pk);
    s_pk_zeros(pk, 1);
    S_TRACK(s_pk_check(&p, "SUBMIT, 100,000 needs and 256 pools", 6));

    /* STATUS_R: 100,000 smallest job infos */
    pk = s_pk_open(&p, WF_CMSG_STATUS_R, 2);
    msgpack_pack_array(pk, 8);
    msgpack_pack_uint8(pk, 1);
    s_pk_name(pk);
    s_pk_name(pk);
    s_pk_zeros(pk, 2);
    msgpack_pack_array(pk, WEFT_JOB_STATE_COUNT_);
    s_pk_zeros(pk, WEFT_JOB_STATE_COUNT_ + 2);
    msgpack_pack_array(pk, 100000);
    for (unsigned i = 0; i < 100000; i++)
        s_pk_jobinfo(pk);
    S_TRACK(s_pk_check(&p, "STATUS_R, 100,000 smallest job infos", 6));

    /* WHY_R: 100,000 one-byte names */
    pk = s_pk_open(&p, WF_CMSG_WHY_R, 2);
    s_pk_jobinfo(pk);
    msgpack_pack_array(pk, WF_MAX_NEEDS_PER_JOB);
    for (unsigned i = 0; i < WF_MAX_NEEDS_PER_JOB; i++)
        s_pk_name(pk);
    S_TRACK(s_pk_check(&p, "WHY_R, 100,000 waiting names", 6));

    /* LIST_R: 100,000 smallest request infos */
    pk = s_pk_open(&p, WF_CMSG_LIST_R, 1);
    msgpack_pack_array(pk, 100000);
    for (unsigned i = 0; i < 100000; i++) {
        msgpack_pack_array(pk, 8);
        msgpack_pack_uint8(pk, 1);
        s_pk_name(pk);
        s_pk_name(pk);
        s_pk_zeros(pk, 2);
        msgpack_pack_array(pk, WEFT_JOB_STATE_COUNT_);
        s_pk_zeros(pk, WEFT_JOB_STATE_COUNT_ + 2);
    }
    S_TRACK(s_pk_check(&p, "LIST_R, 100,000 smallest request infos", 6));

    /* WORKERS_R: 65,536 smallest workers */
    pk = s_pk_open(&p, WF_CMSG_WORKERS_R, 1);
    msgpack_pack_array(pk, WF_CLIENT_MAX_WORKERS);
    for (unsigned i = 0; i < WF_CLIENT_MAX_WORKERS; i++) {
        msgpack_pack_array(pk, 7);
        s_pk_name(pk);
        s_pk_name(pk);
        s_pk_zeros(pk, 1);
        msgpack_pack_array(pk, 1);
        s_pk_name(pk);
        msgpack_pack_uint8(pk, 1);
        s_pk_zeros(pk, 2);
    }
    S_TRACK(s_pk_check(&p, "WORKERS_R, 65,536 smallest workers", 6));

    /* GRAPH_R: a page of 10,000 smallest jobs, then one job with 100,000 needs */
    pk = s_pk_open(&p, WF_CMSG_GRAPH_R, 3);
    msgpack_pack_uint32(pk, WF_CLIENT_MAX_PAGE);
    msgpack_pack_uint32(pk, WF_CLIENT_MAX_PAGE);
    msgpack_pack_array(pk, WF_CLIENT_MAX_PAGE);
    for (unsigned i = 0; i < WF_CLIENT_MAX_PAGE; i++) {
        msgpack_pack_array(pk, 4);
        s_pk_name(pk);
        s_pk_zeros(pk, 2);
        msgpack_pack_array(pk, 0);
    }
    S_TRACK(s_pk_check(&p, "GRAPH_R, 10,000 smallest jobs", 6));
    pk = s_pk_open(&p, WF_CMSG_GRAPH_R, 3);
    msgpack_pack_uint32(pk, WF_MAX_NEEDS_PER_JOB + 1);
    msgpack_pack_uint32(pk, WF_MAX_NEEDS_PER_JOB + 1);
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 4);
    s_pk_name(pk);
    s_pk_zeros(pk, 2);
    msgpack_pack_array(pk, WF_MAX_NEEDS_PER_JOB);
    for (unsigned i = 0; i < WF_MAX_NEEDS_PER_JOB; i++)
        msgpack_pack_uint32(pk, i);
    S_TRACK(s_pk_check(&p, "GRAPH_R, one job with 100,000 needs", 6));

    /* And the typical and largest valid message of every kind. */
    for (size_t k = 0; k < S_NKINDS; k++) {
        for (size_t v = 0; v < 3; v++) {
            wf_cmsg_t m, dec;
            size_t len;
            s_make(&m, s_all_kinds[k], s_variants[v]);
            uint8_t *buf = s_encode(&m, &len);
            assert_int_equal(wf_cmsg_decode(buf, len, &dec, NULL, 0), WEFT_OK);
            S_TRACK((double)wf_cmsg_decoded_size(&dec) / (double)len);
            assert_true(wf_cmsg_decoded_size(&dec) <= WF_CLIENT_DECODE_FACTOR * len);
            wf_cmsg_fini(&dec);
            free(buf);
        }
        s_release(NULL);
    }
#undef S_TRACK
    print_message("  worst: %.2fx (the bound: %ux)\n", worst, WF_CLIENT_DECODE_FACTOR);
    assert_true(worst <= WF_CLIENT_DECODE_FACTOR);
    /* nothing to own, nothing held */
    wf_cmsg_t m;
    static const uint8_t ping[] = { 0x94, 0xa4, 'W', 'E', 'F', 'T', 1, WF_CMSG_PING, 0 };
    assert_int_equal(wf_cmsg_decode(ping, sizeof ping, &m, NULL, 0), WEFT_OK);
    assert_int_equal(wf_cmsg_decoded_size(&m), 0);
    assert_null(m.owned_);
    assert_int_equal(wf_cmsg_decoded_size(NULL), 0);
}

static void
test_client_views_expand_and_borrow(void **state)
{
    (void)state;
    weft_job_info_t full, back;
    wf_cjobinfo_t c;
    s_make_jobinfo(&full, V_MAX, 1);
    wf_cjobinfo_view(&full, &c);
    assert_ptr_equal(c.id, full.id);
    assert_ptr_equal(c.error, full.error);
    wf_cjobinfo_expand(&c, &back);
    assert_memory_equal(&full, &back, sizeof full);
    weft_request_info_t rf, rb;
    wf_creqinfo_t rc;
    s_make_reqinfo(&rf, V_TYPICAL, 2);
    wf_creqinfo_view(&rf, &rc);
    wf_creqinfo_expand(&rc, &rb);
    assert_memory_equal(&rf, &rb, sizeof rf);

    /* A decoded STATUS_R's compact rows expand one by one; fini frees the decoded block. */
    wf_cmsg_t m, dec;
    size_t len;
    s_make(&m, WF_CMSG_STATUS_R, V_TYPICAL);
    uint8_t *buf = s_encode(&m, &len);
    assert_int_equal(wf_cmsg_decode(buf, len, &dec, NULL, 0), WEFT_OK);
    weft_job_info_t row;
    wf_cjobinfo_expand(&dec.cjobs[2], &row);
    assert_string_equal(row.id, "link_2");
    wf_cjobinfo_expand(&dec.cjobs[1], &row);
    assert_string_equal(row.cause, "compile_0");
    assert_int_equal(row.state, WEFT_JOB_FAILED);
    wf_cjobinfo_expand(&dec.cjobs[0], &row);
    assert_string_equal(row.cause, "");
    wf_cmsg_fini(&dec);
    assert_null(dec.owned_);
    free(buf);
}

/* ---- random and mutated input ------------------------------------------------------------ */

static uint64_t s_rng = 0x9e3779b97f4a7c15ull;

static uint64_t
s_rand(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static void
test_client_random_inputs_never_crash(void **state)
{
    (void)state;
    /* the seeds: MIN and TYPICAL of every kind */
    enum { NSEEDS = 2 * S_NKINDS };
    uint8_t *seeds[NSEEDS];
    size_t seedlen[NSEEDS];
    for (size_t k = 0; k < S_NKINDS; k++) {
        for (size_t v = 0; v < 2; v++) {
            wf_cmsg_t m;
            s_make(&m, s_all_kinds[k], v ? V_TYPICAL : V_MIN);
            seeds[2 * k + v] = s_encode(&m, &seedlen[2 * k + v]);
        }
    }
    static const uint8_t interesting[] = { 0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                           0xc0, 0xc1, 0xc2, 0xc4, 0xcc, 0xcf, 0xd0, 0xd3, 0xd9,
                                           0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff };
    uint8_t buf[1024];
    unsigned decoded = 0;
    for (unsigned iter = 0; iter < 100000; iter++) {
        size_t len;
        uint64_t r = s_rand();
        if (r % 10 == 0) {
            len = s_rand() % 64;
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)s_rand();
        } else {
            unsigned s = (unsigned)(s_rand() % NSEEDS);
            len = seedlen[s] < sizeof buf ? seedlen[s] : sizeof buf;
            memcpy(buf, seeds[s], len);
            unsigned nmut = 1 + (unsigned)(s_rand() % 4);
            for (unsigned q = 0; q < nmut && len > 0; q++) {
                size_t at = s_rand() % len;
                switch (s_rand() % 6) {
                case 0: buf[at] ^= (uint8_t)(1u << (s_rand() % 8)); break;
                case 1: buf[at] = interesting[s_rand() % sizeof interesting]; break;
                case 2: buf[at] = (uint8_t)s_rand(); break;
                case 3: len = at; break; /* truncate */
                case 4:
                    if (len < sizeof buf) { /* insert a byte */
                        memmove(buf + at + 1, buf + at, len - at);
                        buf[at] = interesting[s_rand() % sizeof interesting];
                        len++;
                    }
                    break;
                default: /* small integers: nudge a value across a bound */
                    if (buf[at] < 0x7f)
                        buf[at] = (uint8_t)(buf[at] + 1);
                    break;
                }
            }
        }
        /* an exact-size heap copy, so ASan catches any read past the end */
        uint8_t *in = malloc(len ? len : 1);
        memcpy(in, buf, len);
        LLVMFuzzerTestOneInput(in, len); /* aborts on a broken invariant */
        wf_cmsg_t m;
        if (wf_cmsg_decode(in, len, &m, NULL, 0) == WEFT_OK)
            decoded++;
        wf_cmsg_fini(&m);
        free(in);
    }
    /* Many mutations must still decode, or the round-trip check above tested little. */
    assert_true(decoded > 5000);
    for (unsigned i = 0; i < NSEEDS; i++)
        free(seeds[i]);
}

/* ---- the seed corpus --------------------------------------------------------------------- */

static void
s_write(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* Valid MIN and TYPICAL frames of every kind, and frames just past each check. */
static void
s_write_corpus(const char *dir)
{
    char name[64];
    for (size_t k = 0; k < S_NKINDS; k++) {
        for (size_t v = 0; v < 2; v++) {
            wf_cmsg_t m;
            size_t len;
            s_make(&m, s_all_kinds[k], v ? V_TYPICAL : V_MIN);
            uint8_t *f = s_encode(&m, &len);
            snprintf(name, sizeof name, "valid-%s-%s", wf_cmsg_kind_name(s_all_kinds[k]),
                     v ? "typical" : "min");
            for (char *c = name; *c; c++)
                *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
            s_write(dir, name, f, len);
            if (s_all_kinds[k] == WF_CMSG_SUBMIT && v) {
                s_write(dir, "bad-truncated-submit", f, len / 2);
                uint8_t *g = malloc(len + 1);
                memcpy(g, f, len);
                g[len] = 0;
                s_write(dir, "bad-trailing-bytes", g, len + 1);
                free(g);
            }
            free(f);
        }
    }
    static const uint8_t other_version[] = { 0x95, 0xa4, 'W', 'E', 'F', 'T', 2, 1, 9, 0xc0 };
    s_write(dir, "bad-other-version", other_version, sizeof other_version);
    static const uint8_t bad_sig[] = { 0x94, 0xa4, 'W', 'E', 'F', 'X', 1, 12, 1 };
    s_write(dir, "bad-signature", bad_sig, sizeof bad_sig);
    static const uint8_t unknown_kind[] = { 0x94, 0xa4, 'W', 'E', 'F', 'T', 1, 14, 1 };
    s_write(dir, "bad-unknown-kind", unknown_kind, sizeof unknown_kind);
    static const uint8_t event_corr[] = { 0x94, 0xa4, 'W', 'E', 'F', 'T', 1, 96, 1 };
    s_write(dir, "bad-event-corr", event_corr, sizeof event_corr);
    static const uint8_t lie[] = { 0x95, 0xa4, 'W', 'E', 'F', 'T', 1, 68, 1, 0xdd, 0xff, 0xff,
                                   0xff, 0xff };
    s_write(dir, "bad-huge-array32", lie, sizeof lie);
    static const uint8_t deep[] = { 0x95, 0xa4, 'W', 'E', 'F', 'T', 1, 2, 1, 0x91, 0x91, 0x91,
                                    0x91, 0x91, 0x91, 0x91, 0x91, 0x01 };
    s_write(dir, "bad-deep-nesting", deep, sizeof deep);
    /* WHY with a job id holding a space; ERROR with a NUL in its message */
    static const uint8_t why_name[] = { 0x96, 0xa4, 'W', 'E', 'F', 'T', 1, 11, 1, 7, 0xa3,
                                        'a', ' ', 'b' };
    s_write(dir, "bad-why-name", why_name, sizeof why_name);
    static const uint8_t err_nul[] = { 0x96, 0xa4, 'W', 'E', 'F', 'T', 1, 65, 1, 3, 0xa3,
                                       'a', 0, 'b' };
    s_write(dir, "bad-error-message-nul", err_nul, sizeof err_nul);
    /* LOGS for the stream "in"; WHY asking where with 2 (only 1 means it) */
    static const uint8_t logs_in[] = { 0x9a, 0xa4, 'W', 'E', 'F', 'T', 1, 14, 1, 7, 0, 0,
                                       0xa2, 'i', 'n', 0, 0xcd, 0x10, 0x00 };
    s_write(dir, "bad-logs-stream", logs_in, sizeof logs_in);
    static const uint8_t why_where[] = { 0x97, 0xa4, 'W', 'E', 'F', 'T', 1, 11, 1, 7, 0xa1,
                                         'a', 2 };
    s_write(dir, "bad-why-where", why_where, sizeof why_where);
    /* STATUS with an offset but no limit; GRAPH_R pages that break its rules: a job needing
     * itself (total 3, next 2, one job: index 1, needs [1]), next above total, needs not
     * ascending, and a GRAPH with limit 0 */
    static const uint8_t status6[] = { 0x96, 0xa4, 'W', 'E', 'F', 'T', 1, 2, 1, 7, 0 };
    s_write(dir, "bad-status-offset-without-limit", status6, sizeof status6);
    static const uint8_t self[] = { 0x97, 0xa4, 'W', 'E', 'F', 'T', 1, 74, 1, 3, 2, 0x91,
                                    0x94, 0xa1, 'b', 0, 0, 0x91, 1 };
    s_write(dir, "bad-graph_r-need-self", self, sizeof self);
    static const uint8_t over[] = { 0x97, 0xa4, 'W', 'E', 'F', 'T', 1, 74, 1, 3, 4, 0x90 };
    s_write(dir, "bad-graph_r-next-over-total", over, sizeof over);
    static const uint8_t order[] = { 0x97, 0xa4, 'W', 'E', 'F', 'T', 1, 74, 1, 5, 4, 0x91,
                                     0x94, 0xa1, 'd', 3, 0, 0x92, 2, 1 };
    s_write(dir, "bad-graph_r-needs-unsorted", order, sizeof order);
    static const uint8_t limit0[] = { 0x97, 0xa4, 'W', 'E', 'F', 'T', 1, 13, 1, 7, 0, 0 };
    s_write(dir, "bad-graph-limit-0", limit0, sizeof limit0);
    s_release(NULL);
}

int
main(void)
{
    const char *corpus = getenv("WEFT_CLIENT_CORPUS_OUT");
    if (corpus && *corpus) {
        s_write_corpus(corpus);
        printf("client_proto_test: wrote the seed corpus to %s\n", corpus);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_client_roundtrip_every_kind_at_its_bounds, s_release),
        cmocka_unit_test_teardown(test_client_submit_of_10000_jobs_with_needs_round_trips,
                                  s_release),
        cmocka_unit_test_teardown(test_client_decode_keeps_corr_and_mirrors_events, s_release),
        cmocka_unit_test_teardown(test_client_topic_round_trips, s_release),
        cmocka_unit_test_teardown(test_client_rejects_bad_signatures, s_release),
        cmocka_unit_test_teardown(test_client_rejects_other_versions_with_eversion_and_keeps_corr,
                                  s_release),
        cmocka_unit_test_teardown(test_client_rejects_unknown_kinds_and_bad_corr, s_release),
        cmocka_unit_test_teardown(test_client_rejects_wrong_field_counts, s_release),
        cmocka_unit_test_teardown(test_client_why_has_a_short_and_a_where_form, s_release),
        cmocka_unit_test_teardown(test_client_logs_messages, s_release),
        cmocka_unit_test_teardown(test_client_rejects_a_wrong_type_at_every_position, s_release),
        cmocka_unit_test_teardown(test_client_accepts_any_integer_width, s_release),
        cmocka_unit_test_teardown(test_client_rejects_bad_names, s_release),
        cmocka_unit_test_teardown(test_client_rejects_bad_texts, s_release),
        cmocka_unit_test_teardown(test_client_rejects_out_of_range_integers, s_release),
        cmocka_unit_test_teardown(test_client_rejects_counts_over_limits, s_release),
        cmocka_unit_test_teardown(test_client_rejects_array_counts_the_bytes_cannot_hold,
                                  s_release),
        cmocka_unit_test_teardown(test_client_rejects_deep_nesting_and_trailing_bytes, s_release),
        cmocka_unit_test_teardown(test_client_rejects_truncation_at_every_offset, s_release),
        cmocka_unit_test_teardown(test_client_rejects_oversized_frames_and_bad_arguments,
                                  s_release),
        cmocka_unit_test_teardown(test_client_encoder_refuses_what_the_decoder_rejects,
                                  s_release),
        cmocka_unit_test_teardown(test_client_status_has_a_short_and_a_paged_form, s_release),
        cmocka_unit_test_teardown(test_client_graph_r_checks_every_need, s_release),
        cmocka_unit_test_teardown(test_client_decoded_size_is_bounded_by_the_frame, s_release),
        cmocka_unit_test_teardown(test_client_views_expand_and_borrow, s_release),
        cmocka_unit_test_teardown(test_client_random_inputs_never_crash, s_release),
    };
    return cmocka_run_group_tests_name("client_proto", tests, NULL, NULL);
}
