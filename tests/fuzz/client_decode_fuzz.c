/*
 * client_decode_fuzz.c -- libFuzzer target for wf_cmsg_decode (the client protocol), also linked
 * into client_corpus_test, which replays tests/fuzz/client_corpus as a plain ctest, and into
 * client_proto_test, whose random-input loop runs every input through it.
 *
 * Invariants checked on every input: decoding never crashes, leaks or reads out of bounds; an
 * error is documented, says why and leaves the message finalised (but for corr); whatever
 * decodes holds at most WF_CLIENT_DECODE_FACTOR times its frame's size on the heap, re-encodes,
 * the re-encoding decodes to an equal message, and encoding that gives the
 * same bytes (encoder and decoder are exact inverses).  The input itself need not equal the
 * re-encoding: msgpack has several encodings of one value and the decoder accepts them all.
 * Any broken invariant calls abort(), which libFuzzer and ctest both report.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
bool wf_test_cmsg_eq(const wf_cmsg_t *a, const wf_cmsg_t *b);

static void
s_check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "client_decode_fuzz: %s\n", what);
        abort();
    }
}

static bool
s_bytes_eq(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Strings by pointer: NULL and "" are both "none" / the empty text. */
static bool
s_str_eq(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

static bool
s_reqinfo_eq(const weft_request_info_t *a, const weft_request_info_t *b)
{
    return a->id == b->id && !strcmp(a->name, b->name) && !strcmp(a->session, b->session) &&
           a->state == b->state && a->njobs == b->njobs &&
           !memcmp(a->count, b->count, sizeof a->count) && a->created_ms == b->created_ms &&
           a->finished_ms == b->finished_ms;
}

static bool
s_creqinfo_eq(const wf_creqinfo_t *a, const wf_creqinfo_t *b)
{
    return a->id == b->id && s_str_eq(a->name, b->name) && s_str_eq(a->session, b->session) &&
           a->state == b->state && a->njobs == b->njobs &&
           !memcmp(a->count, b->count, sizeof a->count) && a->created_ms == b->created_ms &&
           a->finished_ms == b->finished_ms;
}

static bool
s_jobinfo_eq(const weft_job_info_t *a, const weft_job_info_t *b)
{
    return a->index == b->index && !strcmp(a->id, b->id) && !strcmp(a->type, b->type) &&
           !strcmp(a->pool, b->pool) && a->state == b->state && a->reason == b->reason &&
           a->when == b->when && a->priority == b->priority && a->attempts == b->attempts &&
           a->failures == b->failures && a->lost == b->lost && a->retries == b->retries &&
           a->lost_retries == b->lost_retries && a->exit_code == b->exit_code &&
           !strcmp(a->cause, b->cause) && a->waiting_on == b->waiting_on &&
           a->progress == b->progress && !strcmp(a->progress_msg, b->progress_msg) &&
           !strcmp(a->error, b->error) && a->result_len == b->result_len &&
           a->started_ms == b->started_ms && a->finished_ms == b->finished_ms &&
           a->fingerprint == b->fingerprint;
}

static bool
s_cjobinfo_eq(const wf_cjobinfo_t *a, const wf_cjobinfo_t *b)
{
    return a->index == b->index && s_str_eq(a->id, b->id) && s_str_eq(a->type, b->type) &&
           s_str_eq(a->pool, b->pool) && a->state == b->state && a->reason == b->reason &&
           a->when == b->when && a->priority == b->priority && a->attempts == b->attempts &&
           a->failures == b->failures && a->lost == b->lost && a->retries == b->retries &&
           a->lost_retries == b->lost_retries && a->exit_code == b->exit_code &&
           s_str_eq(a->cause, b->cause) && a->progress == b->progress &&
           s_str_eq(a->progress_msg, b->progress_msg) && s_str_eq(a->error, b->error) &&
           a->started_ms == b->started_ms && a->finished_ms == b->finished_ms;
}

static bool
s_names_eq(const char *const *a, const char *const *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!s_str_eq(a[i], b[i]))
            return false;
    return true;
}

static bool
s_cjob_eq(const wf_cjob_t *a, const wf_cjob_t *b)
{
    return s_str_eq(a->id, b->id) && s_str_eq(a->type, b->type) &&
           s_bytes_eq(a->payload, a->payload_len, b->payload, b->payload_len) &&
           a->nneeds == b->nneeds && s_names_eq(a->needs, b->needs, a->nneeds) &&
           a->retries == b->retries && a->lost_retries == b->lost_retries &&
           a->retry_delay_ms == b->retry_delay_ms && a->timeout_ms == b->timeout_ms &&
           a->priority == b->priority && s_str_eq(a->pool, b->pool) && a->when == b->when;
}

static bool
s_worker_eq(const wf_cworker_t *a, const wf_cworker_t *b)
{
    return s_str_eq(a->name, b->name) && s_str_eq(a->host, b->host) && a->pid == b->pid &&
           a->ntypes == b->ntypes && s_names_eq(a->types, b->types, a->ntypes) &&
           a->slots == b->slots && a->running == b->running && a->idle_ms == b->idle_ms;
}

static bool
s_node_eq(const wf_cnode_t *a, const wf_cnode_t *b)
{
    return s_str_eq(a->id, b->id) && a->state == b->state && a->when == b->when &&
           a->nneeds == b->nneeds &&
           (a->nneeds == 0 || !memcmp(a->needs, b->needs, a->nneeds * sizeof *a->needs));
}

/* Every field, of every kind; pointers differ between messages, what they point to must not. */
bool
wf_test_cmsg_eq(const wf_cmsg_t *a, const wf_cmsg_t *b)
{
    if (a->kind != b->kind || a->corr != b->corr || a->req != b->req || strcmp(a->job, b->job) ||
        a->offset != b->offset || a->limit != b->limit)
        return false;
    const wf_csubmit_t *sa = &a->submit, *sb = &b->submit;
    if (strcmp(sa->name, sb->name) || strcmp(sa->session, sb->session) ||
        strcmp(sa->key, sb->key) || sa->npools != sb->npools || sa->njobs != sb->njobs)
        return false;
    for (uint32_t i = 0; i < sa->npools; i++)
        if (!s_str_eq(sa->pool_names[i], sb->pool_names[i]) ||
            sa->pool_limits[i] != sb->pool_limits[i])
            return false;
    for (uint32_t i = 0; i < sa->njobs; i++)
        if (!s_cjob_eq(&sa->jobs[i], &sb->jobs[i]))
            return false;
    if (a->code != b->code || strcmp(a->message, b->message) || a->nwarnings != b->nwarnings)
        return false;
    if (!s_names_eq(a->warnings, b->warnings, a->nwarnings))
        return false;
    if (!s_reqinfo_eq(&a->info, &b->info) || a->njobs != b->njobs || a->nreqs != b->nreqs ||
        a->nworkers != b->nworkers)
        return false;
    for (uint32_t i = 0; i < a->njobs; i++)
        if (!s_cjobinfo_eq(&a->cjobs[i], &b->cjobs[i]))
            return false;
    for (uint32_t i = 0; i < a->nreqs; i++)
        if (!s_creqinfo_eq(&a->reqs[i], &b->reqs[i]))
            return false;
    for (uint32_t i = 0; i < a->nworkers; i++)
        if (!s_worker_eq(&a->workers[i], &b->workers[i]))
            return false;
    if (a->state != b->state || strcmp(a->mode, b->mode) || a->running != b->running ||
        !s_jobinfo_eq(&a->jobinfo, &b->jobinfo) || a->nwaiting != b->nwaiting ||
        !s_names_eq(a->waiting, b->waiting, a->nwaiting))
        return false;
    if (strcmp(a->version, b->version) || a->proto_min != b->proto_min ||
        a->proto_max != b->proto_max)
        return false;
    if (a->total != b->total || a->next != b->next || a->nnodes != b->nnodes)
        return false;
    for (uint32_t i = 0; i < a->nnodes; i++)
        if (!s_node_eq(&a->nodes[i], &b->nodes[i]))
            return false;
    const weft_event_t *ea = &a->event, *eb = &b->event;
    return ea->request == eb->request && ea->job_index == eb->job_index &&
           !strcmp(ea->job, eb->job) && ea->state == eb->state && ea->reason == eb->reason &&
           ea->attempt == eb->attempt && ea->progress == eb->progress &&
           ea->time_ms == eb->time_ms;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const wf_cmsg_t zero;
    wf_cmsg_t m1, m2;
    char why[256];
    uint8_t *enc1 = NULL, *enc2 = NULL;
    size_t len1 = 0, len2 = 0;

    int rc = wf_cmsg_decode(data, size, &m1, why, sizeof why);
    if (rc != WEFT_OK) {
        s_check(rc == WEFT_EPROTO || rc == WEFT_ETOOBIG || rc == WEFT_EVERSION,
                "decode returned an undocumented error");
        wf_cmsg_t rest;
        memcpy(&rest, &m1, sizeof rest); /* memcpy, not =: padding must be compared too */
        rest.corr = 0;
        s_check(memcmp(&rest, &zero, sizeof rest) == 0, "a failed decode left fields behind");
        s_check(why[0] != '\0', "a failed decode gave no reason");
        return 0;
    }
    s_check(wf_cmsg_decoded_size(&m1) <= (size_t)WF_CLIENT_DECODE_FACTOR * size,
            "a decoded message holds more than WF_CLIENT_DECODE_FACTOR times its frame");
    s_check(wf_cmsg_encode(&m1, &enc1, &len1) == WEFT_OK, "a decoded message does not re-encode");
    rc = wf_cmsg_decode(enc1, len1, &m2, why, sizeof why);
    if (rc != WEFT_OK) {
        fprintf(stderr, "client_decode_fuzz: re-encoding rejected: %s\n", why);
        abort();
    }
    s_check(wf_test_cmsg_eq(&m1, &m2), "the re-encoding decodes to a different message");
    s_check(wf_cmsg_encode(&m2, &enc2, &len2) == WEFT_OK, "second re-encode failed");
    s_check(len1 == len2 && memcmp(enc1, enc2, len1) == 0, "encoding is not deterministic");

    wf_cmsg_fini(&m2); /* before enc1: m2 borrows payloads from it */
    wf_cmsg_fini(&m1);
    s_check(m1.owned_ == NULL, "fini left storage behind");
    free(enc1);
    free(enc2);
    return 0;
}
