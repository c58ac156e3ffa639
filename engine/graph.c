/*
 * graph.c -- validation and resolution of a request's job graph (see graph.h for the contract
 * and the exact messages).
 *
 * Passes, each O(jobs + edges), stopping at the first problem:
 *   1. the request header and its pools (a namemap of pool names);
 *   2. each job's own fields;
 *   3. a namemap id -> index, which also finds duplicate ids;
 *   4. need names -> parent indexes, per job sorted and deduplicated (needs[]);
 *   5. children[] as the exact inverse of needs[], each sorted by index;
 *   6. an iterative three-colour DFS along children edges; a grey child is a back edge and
 *      the grey stack from it to the top is the cycle.
 * Invariants: on success every job's needs/children are heap-owned by the job (per-job arrays,
 * NULL when empty, freed by wf_jobspec_fini); on failure every job's needs/children are NULL
 * with zero counts, never half-built.  Input is untrusted (a YAML file, a client message):
 * nothing here asserts on it or recurses on it.
 * Workload: up to WF_MAX_JOBS_PER_REQUEST jobs, once per submitted request or `weft validate`.
 */
#include "graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_limits.h"
#include "namemap.h"
#include "proto.h"

enum { S_WHITE = 0, S_GREY, S_BLACK };

/* Bytes of a rejected name shown in a message: enough to recognise it, bounded so a 1 MiB
 * "name" does not become a 1 MiB message. */
#define S_SHOW_MAX 64

static void *
s_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) {
        fprintf(stderr, "weft: out of memory (graph, %zu bytes)\n", size);
        abort();
    }
    return p;
}

static int
s_fail(char *err, size_t errlen, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
s_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Render a name that may be invalid as a quoted, printable, bounded string: bytes outside
 * printable ASCII, '"' and '\' become \xNN; past S_SHOW_MAX bytes it ends with "...".  NULL
 * renders as (null).  out must hold S_SHOW_MAX * 4 + 8 bytes. */
#define S_SHOW_BUF (S_SHOW_MAX * 4 + 8)
static const char *
s_show(char *out, const char *s)
{
    if (!s)
        return "(null)";
    char *o = out;
    *o++ = '"';
    size_t i = 0;
    for (; s[i] && i < S_SHOW_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            o += sprintf(o, "\\x%02x", c);
        else
            *o++ = (char)c;
    }
    *o++ = '"';
    if (s[i]) {
        memcpy(o, "...", 3);
        o += 3;
    }
    *o = '\0';
    return out;
}

static bool
s_name_ok(const char *s)
{
    return s && wf_name_ok(s, strnlen(s, WF_MAX_NAME + 1));
}

/* Drop every job's needs/children: before a (re)build, and after a failure. */
static void
s_clear(wf_reqspec_t *spec)
{
    if (!spec->jobs)
        return;
    for (uint32_t i = 0; i < spec->njobs; i++) {
        wf_jobspec_t *js = &spec->jobs[i];
        free(js->needs);
        js->needs = NULL;
        js->nneeds = 0;
        free(js->children);
        js->children = NULL;
        js->nchildren = 0;
    }
}

/* Pass 1: the request header and its pools.  Fills *pools_p (caller destroys). */
static int
s_check_request(const wf_reqspec_t *spec, wf_namemap_t **pools_p, char *err, size_t errlen)
{
    char b[S_SHOW_BUF];
    if (!s_name_ok(spec->name))
        return s_fail(err, errlen, WEFT_EINVAL, "bad request name %s", s_show(b, spec->name));
    if (spec->session && !s_name_ok(spec->session))
        return s_fail(err, errlen, WEFT_EINVAL, "bad session name %s", s_show(b, spec->session));
    if (spec->key && !s_name_ok(spec->key))
        return s_fail(err, errlen, WEFT_EINVAL, "bad idempotency key %s", s_show(b, spec->key));
    if (spec->njobs == 0 || !spec->jobs)
        return s_fail(err, errlen, WEFT_EINVAL, "request has no jobs");
    if (spec->njobs > WF_MAX_JOBS_PER_REQUEST)
        return s_fail(err, errlen, WEFT_ELIMIT, "too many jobs: %u (max %u)", spec->njobs,
                      WF_MAX_JOBS_PER_REQUEST);
    if (spec->npools > WF_MAX_POOLS)
        return s_fail(err, errlen, WEFT_ELIMIT, "too many pools: %u (max %u)", spec->npools,
                      WF_MAX_POOLS);
    if (spec->npools && !spec->pools)
        return s_fail(err, errlen, WEFT_EINVAL, "request has %u pools but no pool array",
                      spec->npools);

    wf_namemap_t *pools = wf_namemap_new(spec->npools);
    *pools_p = pools;
    for (uint32_t i = 0; i < spec->npools; i++) {
        const wf_pooldef_t *p = &spec->pools[i];
        if (!s_name_ok(p->name))
            return s_fail(err, errlen, WEFT_EINVAL, "bad pool name %s", s_show(b, p->name));
        if (p->limit < 1)
            return s_fail(err, errlen, WEFT_EINVAL, "pool \"%s\" has limit 0 (must be >= 1)",
                          p->name);
        if (!wf_namemap_put(pools, p->name, i, NULL))
            return s_fail(err, errlen, WEFT_EINVAL, "duplicate pool \"%s\"", p->name);
    }
    return WEFT_OK;
}

/* Pass 2: one job's own fields. */
static int
s_check_job(const wf_jobspec_t *js, uint32_t idx, const wf_namemap_t *pools, char *err,
            size_t errlen)
{
    char b[S_SHOW_BUF];
    if (!s_name_ok(js->id))
        return s_fail(err, errlen, WEFT_EINVAL, "job %u has a bad id %s", idx, s_show(b, js->id));
    if (!s_name_ok(js->type))
        return s_fail(err, errlen, WEFT_EINVAL, "job \"%s\" has a bad type %s", js->id,
                      s_show(b, js->type));
    if (js->payload_len > WF_MAX_PAYLOAD)
        return s_fail(err, errlen, WEFT_ETOOBIG, "job \"%s\": payload is %u bytes (max %u)", js->id,
                      js->payload_len, WF_MAX_PAYLOAD);
    if (js->payload_len && !js->payload)
        return s_fail(err, errlen, WEFT_EINVAL, "job \"%s\": payload_len %u but no payload", js->id,
                      js->payload_len);
    if (js->retries > WF_MAX_RETRIES)
        return s_fail(err, errlen, WEFT_EINVAL, "job \"%s\": retries %u (max %u)", js->id,
                      js->retries, WF_MAX_RETRIES);
    if (js->lost_retries > WF_MAX_RETRIES)
        return s_fail(err, errlen, WEFT_EINVAL, "job \"%s\": lost_retries %u (max %u)", js->id,
                      js->lost_retries, WF_MAX_RETRIES);
    if (js->retry_delay_ms > WF_MAX_RETRY_DELAY_MS)
        return s_fail(err, errlen, WEFT_EINVAL, "job \"%s\": retry_delay_ms %u (max %u)", js->id,
                      js->retry_delay_ms, WF_MAX_RETRY_DELAY_MS);
    if (js->timeout_ms > WF_MAX_TIMEOUT_MS)
        return s_fail(err, errlen, WEFT_EINVAL, "job \"%s\": timeout_ms %u (max %u)", js->id,
                      js->timeout_ms, WF_MAX_TIMEOUT_MS);
    if (js->when >= WEFT_WHEN_COUNT_)
        return s_fail(err, errlen, WEFT_EINVAL, "job \"%s\": bad when %u", js->id,
                      (unsigned)js->when);
    if (js->pool && !wf_namemap_get(pools, js->pool, NULL))
        return s_fail(err, errlen, WEFT_EINVAL, "job \"%s\" uses undeclared pool %s", js->id,
                      s_show(b, js->pool));
    if (js->nneed_names > WF_MAX_NEEDS_PER_JOB)
        return s_fail(err, errlen, WEFT_ELIMIT, "job \"%s\" has too many needs: %u (max %u)",
                      js->id, js->nneed_names, WF_MAX_NEEDS_PER_JOB);
    if (js->nneed_names && !js->need_names)
        return s_fail(err, errlen, WEFT_EINVAL, "job \"%s\" has %u needs but no need array",
                      js->id, js->nneed_names);
    return WEFT_OK;
}

static int
s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Pass 4: need names -> sorted, deduplicated parent indexes. */
static int
s_resolve_needs(wf_reqspec_t *spec, const wf_namemap_t *ids, char *err, size_t errlen)
{
    char b[S_SHOW_BUF];
    for (uint32_t j = 0; j < spec->njobs; j++) {
        wf_jobspec_t *js = &spec->jobs[j];
        if (!js->nneed_names)
            continue;
        js->needs = s_malloc((size_t)js->nneed_names * sizeof *js->needs);
        for (uint32_t k = 0; k < js->nneed_names; k++) {
            const char *name = js->need_names[k];
            uint32_t p;
            if (!name || !wf_namemap_get(ids, name, &p))
                return s_fail(err, errlen, WEFT_EINVAL, "job \"%s\" needs unknown job %s", js->id,
                              s_show(b, name));
            if (p == j)
                return s_fail(err, errlen, WEFT_EINVAL, "job \"%s\" needs itself", js->id);
            js->needs[k] = p;
        }
        qsort(js->needs, js->nneed_names, sizeof *js->needs, s_cmp_u32);
        uint32_t n = 1;
        for (uint32_t k = 1; k < js->nneed_names; k++)
            if (js->needs[k] != js->needs[n - 1])
                js->needs[n++] = js->needs[k];
        js->nneeds = n;
    }
    return WEFT_OK;
}

/* Pass 5: children[] as the inverse of needs[].  Visiting children in index order leaves each
 * children[] sorted. */
static void
s_build_children(wf_reqspec_t *spec)
{
    wf_jobspec_t *jobs = spec->jobs;
    for (uint32_t j = 0; j < spec->njobs; j++)
        for (uint32_t k = 0; k < jobs[j].nneeds; k++)
            jobs[jobs[j].needs[k]].nchildren++;
    for (uint32_t j = 0; j < spec->njobs; j++) {
        if (jobs[j].nchildren)
            jobs[j].children = s_malloc((size_t)jobs[j].nchildren * sizeof *jobs[j].children);
        jobs[j].nchildren = 0; /* refilled below */
    }
    for (uint32_t j = 0; j < spec->njobs; j++)
        for (uint32_t k = 0; k < jobs[j].nneeds; k++) {
            wf_jobspec_t *parent = &jobs[jobs[j].needs[k]];
            parent->children[parent->nchildren++] = j;
        }
}

/* Append to a bounded message; returns false once it is full (the rest would be cut anyway). */
static bool
s_append(char *err, size_t errlen, size_t *len, const char *s)
{
    if (!err || *len + 1 >= errlen)
        return false;
    size_t n = strlen(s), room = errlen - 1 - *len;
    if (n > room)
        n = room;
    memcpy(err + *len, s, n);
    *len += n;
    err[*len] = '\0';
    return n == strlen(s);
}

/* "cycle: a -> b -> ... -> a" for the cycle path[0..n) (each element a child of the one
 * before, path[0] a child of path[n-1]), rotated to start at its lowest job index so the text
 * does not depend on where the search entered the cycle. */
static int
s_report_cycle(const wf_reqspec_t *spec, const uint32_t *path, uint32_t n, char *err,
               size_t errlen)
{
    if (!err || !errlen)
        return WEFT_ECYCLE;
    uint32_t r = 0;
    for (uint32_t i = 1; i < n; i++)
        if (path[i] < path[r])
            r = i;
    size_t len = 0;
    err[0] = '\0';
    bool more = s_append(err, errlen, &len, "cycle: ");
    for (uint32_t i = 0; i <= n && more; i++) {
        if (i)
            more = s_append(err, errlen, &len, " -> ");
        if (more)
            more = s_append(err, errlen, &len, spec->jobs[path[(r + i) % n]].id);
    }
    return WEFT_ECYCLE;
}

/* Pass 6: iterative three-colour DFS along children edges (stack depth <= njobs, on the
 * heap).  The grey jobs are exactly the stack, so a grey child v of the top job u closes the
 * cycle v -> ... -> u -> v, which is the stack from v up. */
static int
s_check_cycles(const wf_reqspec_t *spec, char *err, size_t errlen)
{
    uint32_t n = spec->njobs;
    const wf_jobspec_t *jobs = spec->jobs;
    uint8_t *colour = s_malloc(n);
    memset(colour, S_WHITE, n);
    uint32_t *stack = s_malloc((size_t)n * sizeof *stack);
    uint32_t *next = s_malloc((size_t)n * sizeof *next); /* next child to visit, per depth */
    int rc = WEFT_OK;
    for (uint32_t s = 0; s < n && rc == WEFT_OK; s++) {
        if (colour[s] != S_WHITE)
            continue;
        uint32_t top = 0;
        stack[0] = s;
        next[0] = 0;
        colour[s] = S_GREY;
        for (;;) {
            uint32_t u = stack[top];
            if (next[top] < jobs[u].nchildren) {
                uint32_t v = jobs[u].children[next[top]++];
                if (colour[v] == S_WHITE) {
                    colour[v] = S_GREY;
                    stack[++top] = v;
                    next[top] = 0;
                } else if (colour[v] == S_GREY) {
                    uint32_t at = top;
                    while (stack[at] != v)
                        at--;
                    rc = s_report_cycle(spec, stack + at, top - at + 1, err, errlen);
                    break;
                }
                continue;
            }
            colour[u] = S_BLACK;
            if (top == 0)
                break;
            top--;
        }
    }
    free(colour);
    free(stack);
    free(next);
    return rc;
}

int
wf_graph_resolve(wf_reqspec_t *spec, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!spec)
        return s_fail(err, errlen, WEFT_EINVAL, "no request");
    s_clear(spec);

    wf_namemap_t *pools = NULL, *ids = NULL;
    int rc = s_check_request(spec, &pools, err, errlen);
    for (uint32_t j = 0; j < spec->njobs && rc == WEFT_OK; j++)
        rc = s_check_job(&spec->jobs[j], j, pools, err, errlen);
    if (rc != WEFT_OK)
        goto cleanup;

    ids = wf_namemap_new(spec->njobs);
    for (uint32_t j = 0; j < spec->njobs; j++) {
        uint32_t first;
        if (!wf_namemap_put(ids, spec->jobs[j].id, j, &first)) {
            rc = s_fail(err, errlen, WEFT_EINVAL, "duplicate job id \"%s\" (jobs %u and %u)",
                        spec->jobs[j].id, first, j);
            goto cleanup;
        }
    }
    rc = s_resolve_needs(spec, ids, err, errlen);
    if (rc != WEFT_OK)
        goto cleanup;
    s_build_children(spec);
    rc = s_check_cycles(spec, err, errlen);

cleanup:
    if (rc != WEFT_OK)
        s_clear(spec);
    wf_namemap_destroy(&pools);
    wf_namemap_destroy(&ids);
    return rc;
}
