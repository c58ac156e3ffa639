/*
 * codec_field.h -- what the two table-driven codecs (proto.c, client.c) share: reading and
 * writing an integer field of a struct by offset and size (fields are 4 or 8 bytes wide; memcpy
 * keeps it free of alignment and aliasing trouble), and the checks of names and texts both
 * encoders and decoders apply.  Internal to proto/.
 */
#ifndef WF_CODEC_FIELD_H
#define WF_CODEC_FIELD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto.h"

static inline uint64_t
wf_field_get_u(const void *base, size_t off, size_t size)
{
    const char *p = (const char *)base + off;
    if (size == sizeof(uint64_t)) {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* v must fit the field (the caller range-checks it against the field's bounds). */
static inline void
wf_field_set_u(void *base, size_t off, size_t size, uint64_t v)
{
    char *p = (char *)base + off;
    if (size == sizeof(uint64_t)) {
        memcpy(p, &v, sizeof v);
    } else {
        uint32_t v32 = (uint32_t)v;
        memcpy(p, &v32, sizeof v32);
    }
}

static inline int64_t
wf_field_get_i(const void *base, size_t off, size_t size)
{
    const char *p = (const char *)base + off;
    if (size == sizeof(int64_t)) {
        int64_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void
wf_field_set_i(void *base, size_t off, size_t size, int64_t v)
{
    char *p = (char *)base + off;
    if (size == sizeof(int64_t)) {
        memcpy(p, &v, sizeof v);
    } else {
        int32_t v32 = (int32_t)v;
        memcpy(p, &v32, sizeof v32);
    }
}

#define WF_CODEC_XSTR_(x) #x
#define WF_CODEC_XSTR(x) WF_CODEC_XSTR_(x)

/* A name (ids, types, pools, hosts): WEFT_OK, WEFT_EPROTO (the encoders say EINVAL) or
 * WEFT_ETOOBIG, with a reason in *why. */
static inline int
wf_codec_check_name(const char *s, size_t len, const char **why)
{
    if (len == 0) {
        *why = "empty name";
        return WEFT_EPROTO;
    }
    if (len > WF_MAX_NAME) {
        *why = "name longer than " WF_CODEC_XSTR(WF_MAX_NAME) " bytes";
        return WEFT_ETOOBIG;
    }
    if (!wf_name_ok(s, len)) {
        *why = "name has a bad character";
        return WEFT_EPROTO;
    }
    return WEFT_OK;
}

/* A message (progress, errors): at most WF_MAX_MESSAGE bytes, no NUL. */
static inline int
wf_codec_check_text(const char *s, size_t len, const char **why)
{
    if (len > WF_MAX_MESSAGE) {
        *why = "message longer than " WF_CODEC_XSTR(WF_MAX_MESSAGE) " bytes";
        return WEFT_ETOOBIG;
    }
    if (len > 0 && memchr(s, '\0', len)) {
        *why = "message has a NUL byte";
        return WEFT_EPROTO;
    }
    return WEFT_OK;
}

#endif
