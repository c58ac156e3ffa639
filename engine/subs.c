/*
 * subs.c -- the subscription set of an event publisher (see subs.h).
 */
#include "subs.h"

#include <stdlib.h>

static uint64_t
s_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void
wf_subs_update(wf_subs_t *s, const uint8_t *msg, size_t len)
{
    if (len < 1 || (msg[0] != 0 && msg[0] != 1))
        return;
    bool on = msg[0] == 1;
    if (len - 1 != 8) { /* "" or a prefix we cannot match: all events */
        if (on)
            s->all++;
        else if (s->all > 0)
            s->all--;
        return;
    }
    uint64_t req = s_be64(msg + 1);
    for (uint32_t i = 0; i < s->n; i++)
        if (s->topics[i] == req) {
            if (!on)
                s->topics[i] = s->topics[--s->n];
            return;
        }
    if (!on)
        return;
    if (s->n >= WF_SUBS_MAX_TOPICS) {
        s->overflow = true;
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->topics = realloc(s->topics, s->cap * sizeof *s->topics);
        if (!s->topics)
            abort();
    }
    s->topics[s->n++] = req;
}

bool
wf_subs_wants(const wf_subs_t *s, uint64_t req)
{
    if (s->all > 0 || s->overflow)
        return true;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->topics[i] == req)
            return true;
    return false;
}

void
wf_subs_fini(wf_subs_t *s)
{
    free(s->topics);
    s->topics = NULL;
    s->n = s->cap = s->all = 0;
    s->overflow = false;
}
