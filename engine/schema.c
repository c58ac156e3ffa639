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
