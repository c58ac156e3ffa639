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
        for (uint32_t i = 0; i < rs->njobs; i++)
            wf_jobspec_fini(&rs->jobs[i]);
        free(rs->jobs);
    }
    if (rs->pools) {
        for (uint32_t i = 0; i < rs->npools; i++)
            free(rs->pools[i].name);
        free(rs->pools);
    }
    memset(rs, 0, sizeof *rs);
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
