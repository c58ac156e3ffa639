/*
 * proto_decode_fuzz.c -- libFuzzer target for wf_msg_decode, also linked into
 * proto_corpus_test, which replays the seed corpus as a plain ctest.
 *
 * Invariants checked on every input: decoding never crashes, leaks or reads out of bounds; an
 * error leaves the message finalised; a decode allocates at most WF_MSG_DECODE_FACTOR times the
 * input's size (proto.h), nothing at all when it fails; and whatever decodes re-encodes, the
 * re-encoding decodes to an equal message, and encoding that gives the same bytes (encoder and
 * decoder are exact inverses).  The input itself need not equal the re-encoding: msgpack allows
 * several encodings of one value (an int in a wider format than needed) and the decoder accepts
 * them all.  Any broken invariant calls abort(), which libFuzzer and ctest both report.
 *
 * The allocation bound is checked twice: on what the message holds (wf_msg_decoded_size), and,
 * where a sanitizer runtime is linked in (the libFuzzer build; proto_corpus_test built with
 * WEFT_SANITIZE), on every byte asked of the allocator during the decode, transient ones
 * included, through the sanitizer's allocation hook.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The sanitizers' allocation hooks (sanitizer/allocator_interface.h); weak, so a build without a
 * sanitizer links too and counts nothing. */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *))
    __attribute__((weak));

/* Thread-local: libFuzzer's own threads allocate too, and are not the decoder. */
static _Thread_local bool s_counting;
static _Thread_local size_t s_counted;

static void
s_malloc_hook(const volatile void *p, size_t n)
{
    (void)p;
    if (s_counting)
        s_counted += n;
}

static void
s_free_hook(const volatile void *p)
{
    (void)p;
}

/* True when allocations are counted (the hook could be installed). */
static bool
s_hooked(void)
{
    static int hooked = -1;
    if (hooked < 0)
        hooked = __sanitizer_install_malloc_and_free_hooks &&
                 __sanitizer_install_malloc_and_free_hooks(s_malloc_hook, s_free_hook) != 0;
    return hooked == 1;
}

static void
s_check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "proto_decode_fuzz: %s\n", what);
        abort();
    }
}

static bool
s_bytes_eq(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Field by field: pointers differ between decodes, their contents must not. */
static bool
s_msg_eq(const wf_msg_t *a, const wf_msg_t *b)
{
    if (a->kind != b->kind || a->ref.req != b->ref.req || a->ref.idx != b->ref.idx ||
        a->ref.attempt != b->ref.attempt)
        return false;
    if (strcmp(a->name, b->name) || strcmp(a->host, b->host) || a->ntypes != b->ntypes ||
        a->slots != b->slots || a->pid != b->pid || a->nrunning != b->nrunning)
        return false;
    for (uint32_t i = 0; i < a->ntypes; i++)
        if (strcmp(a->types[i], b->types[i]))
            return false;
    for (uint32_t i = 0; i < a->nrunning; i++)
        if (a->running[i].req != b->running[i].req || a->running[i].idx != b->running[i].idx ||
            a->running[i].attempt != b->running[i].attempt)
            return false;
    return a->percent == b->percent && !strcmp(a->message, b->message) &&
           !strcmp(a->job, b->job) && !strcmp(a->type, b->type) && a->exit_code == b->exit_code &&
           s_bytes_eq(a->result, a->result_len, b->result, b->result_len) &&
           s_bytes_eq(a->payload, a->payload_len, b->payload, b->payload_len) &&
           a->timeout_ms == b->timeout_ms && a->heartbeat_ms == b->heartbeat_ms &&
           a->liveness == b->liveness && a->code == b->code;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wf_msg_t m1, m2;
    char why[256];
    uint8_t *enc1 = NULL, *enc2 = NULL;
    size_t len1 = 0, len2 = 0;

    bool hooked = s_hooked();
    s_counted = 0;
    s_counting = true;
    int rc = wf_msg_decode(data, size, &m1, why, sizeof why);
    s_counting = false;
    s_check(!hooked || s_counted <= (size_t)WF_MSG_DECODE_FACTOR * size,
            "a decode allocated more than WF_MSG_DECODE_FACTOR times its frame");
    if (rc != WEFT_OK) {
        s_check(rc == WEFT_EPROTO || rc == WEFT_ETOOBIG || rc == WEFT_EVERSION,
                "decode returned an undocumented error");
        s_check(m1.owned_ == NULL && m1.running == NULL && m1.nrunning == 0,
                "a failed decode left storage behind");
        s_check(!hooked || s_counted == 0, "a failed decode allocated");
        s_check(why[0] != '\0', "a failed decode gave no reason");
        return 0;
    }
    s_check(wf_msg_decoded_size(&m1) <= (size_t)WF_MSG_DECODE_FACTOR * size,
            "a decoded message holds more than WF_MSG_DECODE_FACTOR times its frame");
    s_check(!hooked || s_counted == wf_msg_decoded_size(&m1),
            "a decode allocated more than the message holds");
    s_check(wf_msg_encode(&m1, &enc1, &len1) == WEFT_OK, "a decoded message does not re-encode");
    rc = wf_msg_decode(enc1, len1, &m2, why, sizeof why);
    if (rc != WEFT_OK) {
        fprintf(stderr, "proto_decode_fuzz: re-encoding rejected: %s\n", why);
        abort();
    }
    s_check(s_msg_eq(&m1, &m2), "the re-encoding decodes to a different message");
    s_check(wf_msg_encode(&m2, &enc2, &len2) == WEFT_OK, "second re-encode failed");
    s_check(len1 == len2 && memcmp(enc1, enc2, len1) == 0, "encoding is not deterministic");

    wf_msg_fini(&m2); /* before enc1: m2 borrows from it */
    wf_msg_fini(&m1);
    free(enc1);
    free(enc2);
    return 0;
}
