/*
 * schema.c -- lifetime helpers for the records of schema.h: the _fini functions and wf_str_set.
 *
 * Invariants: every heap field of a record is either NULL or owned by that record alone, so a
 * _fini frees each non-NULL field once and leaves the struct zeroed (a second _fini, or a _fini
 * of a struct that was only zeroed, is a no-op).  Workload: called once per record read or
 * built; a 10^6-job request means 10^6 jobspec finis, so nothing here does more than free.
 */
#include "schema.h"

#include <stdlib.h>
#include <string.h>

static void *
s_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort(); /* OOM aborts: docs/decisions/0001-oom-aborts.md */
    return p;
}

void
wf_jobspec_fini(wf_jobspec_t *js)
{
    if (!js)
        return;
    free(js->id);
    free(js->type);
    free(js->pool);
    free(js->payload);
    if (js->need_names) {
        for (uint32_t i = 0; i < js->nneed_names; i++)
            free(js->need_names[i]);
        free(js->need_names);
    }
    free(js->needs);
    free(js->children);
    memset(js, 0, sizeof *js);
}

void
wf_reqspec_fini(wf_reqspec_t *rs)
{
    if (!rs)
        return;
    free(rs->name);
    free(rs->session);
    free(rs->key);
    if (rs->jobs) {
        for (uint32_t i = 0; i < rs->njobs && !rs->arena; i++)
            wf_jobspec_fini(&rs->jobs[i]);
        free(rs->jobs);
    }
    free(rs->arena);
    if (rs->pools) {
        for (uint32_t i = 0; i < rs->npools; i++)
            free(rs->pools[i].name);
        free(rs->pools);
    }
    memset(rs, 0, sizeof *rs);
}

/* A few distinct strings (types, pools) remembered so each is stored once; a request with more
 * distinct ones than this just stores the rest per job. */
#define S_PACK_SHARED 16

typedef struct s_shared {
    char *seen[S_PACK_SHARED]; /* pass 1: the originals; pass 2: their copies in the arena
                                * (packing in place frees an original soon after) */
    uint32_t n;
} s_shared_t;

/* Pass 1 (out == NULL): bytes `s` adds.  Pass 2: its copy at *out (advanced).  Strings are
 * compared by value, so both passes store the same ones. */
static size_t
s_pack_shared(s_shared_t *sh, const char *s, char **out, char **copy)
{
    for (uint32_t i = 0; i < sh->n; i++)
        if (strcmp(sh->seen[i], s) == 0) {
            if (copy)
                *copy = sh->seen[i];
            return 0;
        }
    size_t len = strlen(s) + 1;
    char *d = (char *)s; /* pass 1 only compares it */
    if (out) {
        d = memcpy(*out, s, len);
        *out += len;
        *copy = d;
    }
    if (sh->n < S_PACK_SHARED)
        sh->seen[sh->n++] = d;
    return len;
}

static void *
s_pack_bytes(char **out, const void *src, size_t len)
{
    if (!src || len == 0)
        return NULL;
    void *d = *out;
    memcpy(d, src, len);
    *out += len;
    return d;
}

/* The jobs of src, packed into one arena (*arena_p) and written to dst[0..njobs).  dst may be
 * src itself: each job is then set aside, rewritten and its old allocations freed one at a
 * time, so no second array of njobs jobs is alive at the peak (~120 MB at 10^6 jobs). */
static void
s_pack_jobs(const wf_jobspec_t *src, uint32_t njobs, wf_jobspec_t *dst, void **arena_p)
{
    /* Pass 1: sizes.  uint32 arrays first, so they need no alignment padding. */
    size_t words = 0, bytes = 0;
    s_shared_t types = {0}, pools = {0};
    for (uint32_t i = 0; i < njobs; i++) {
        const wf_jobspec_t *js = &src[i];
        words += (size_t)js->nneeds + js->nchildren;
        bytes += strlen(js->id) + 1 + js->payload_len;
        bytes += s_pack_shared(&types, js->type, NULL, NULL);
        if (js->pool)
            bytes += s_pack_shared(&pools, js->pool, NULL, NULL);
    }
    char *arena = malloc(words * sizeof(uint32_t) + bytes + 1);
    if (!arena)
        abort();
    /* Pass 2: copy. */
    char *w = arena, *b = arena + words * sizeof(uint32_t);
    memset(&types, 0, sizeof types);
    memset(&pools, 0, sizeof pools);
    for (uint32_t i = 0; i < njobs; i++) {
        wf_jobspec_t o = src[i]; /* aside: dst[i] may be src[i] */
        wf_jobspec_t *js = &dst[i];
        *js = o;
        js->needs = s_pack_bytes(&w, o.needs, (size_t)o.nneeds * sizeof(uint32_t));
        js->children = s_pack_bytes(&w, o.children, (size_t)o.nchildren * sizeof(uint32_t));
        js->id = s_pack_bytes(&b, o.id, strlen(o.id) + 1);
        js->payload = s_pack_bytes(&b, o.payload, o.payload_len);
        s_pack_shared(&types, o.type, &b, &js->type);
        js->pool = NULL;
        if (o.pool)
            s_pack_shared(&pools, o.pool, &b, &js->pool);
        js->need_names = NULL;
        js->nneed_names = js->need_names_cap = 0;
        if (dst == src)
            wf_jobspec_fini(&o);
    }
    *arena_p = arena;
}

void
wf_reqspec_pack(wf_reqspec_t *rs)
{
    if (!rs || rs->arena || rs->njobs == 0)
        return;
    /* In place: jobs[] stays where it is, since the engine's wf_job_t point into it. */
    s_pack_jobs(rs->jobs, rs->njobs, rs->jobs, &rs->arena);
}

void
wf_reqspec_copy_packed(const wf_reqspec_t *src, wf_reqspec_t *dst)
{
    memset(dst, 0, sizeof *dst);
    dst->njobs = dst->jobs_cap = src->njobs;
    if (src->njobs) {
        dst->jobs = s_xmalloc(sizeof *dst->jobs * src->njobs);
        s_pack_jobs(src->jobs, src->njobs, dst->jobs, &dst->arena);
    }
}

void
wf_reqrec_fini(wf_reqrec_t *rr)
{
    if (!rr)
        return;
    free(rr->name);
    free(rr->session);
    free(rr->key);
    if (rr->pools) {
        for (uint32_t i = 0; i < rr->npools; i++)
            free(rr->pools[i].name);
        free(rr->pools);
    }
    memset(rr, 0, sizeof *rr);
}

void
wf_jobstate_fini(wf_jobstate_t *st)
{
    if (!st)
        return;
    free(st->progress_msg);
    free(st->error);
    free(st->result);
    memset(st, 0, sizeof *st);
}

void
wf_str_set(char **field, const char *s, size_t max)
{
    char *copy = NULL;
    if (s) {
        size_t n = strnlen(s, max);
        /* Cutting inside a UTF-8 sequence would leave an invalid string in a record and on the
         * wire; back up to the first byte of the character that was cut. */
        if (n == max && s[n] != '\0') {
            size_t cut = n;
            while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
                cut--;
            n = cut;
        }
        copy = s_xmalloc(n + 1);
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    /* Copy before freeing: s may be *field itself. */
    free(*field);
    *field = copy;
}

static uint64_t
s_fnv(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t
s_fnv_str(uint64_t h, const char *s)
{
    /* length first, so ("ab","c") and ("a","bc") differ */
    uint32_t n = s ? (uint32_t)strlen(s) + 1 : 0;
    h = s_fnv(h, &n, sizeof n);
    return s ? s_fnv(h, s, n - 1) : h;
}

uint64_t
wf_jobspec_fingerprint(const wf_jobspec_t *js)
{
    uint64_t h = 14695981039346656037ull;
    h = s_fnv_str(h, js->id);
    h = s_fnv_str(h, js->type);
    h = s_fnv_str(h, js->pool);
    h = s_fnv(h, &js->payload_len, sizeof js->payload_len);
    if (js->payload_len)
        h = s_fnv(h, js->payload, js->payload_len);
    uint32_t v[6] = {js->retries, js->lost_retries, js->retry_delay_ms, js->timeout_ms,
                     (uint32_t)js->priority, js->when};
    h = s_fnv(h, v, sizeof v);
    h = s_fnv(h, &js->nneeds, sizeof js->nneeds);
    if (js->nneeds)
        h = s_fnv(h, js->needs, js->nneeds * sizeof *js->needs);
    return h;
}
