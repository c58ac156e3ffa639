/*
 * codec_field.h -- reading and writing an integer field of a struct by offset and size, for the
 * table-driven codecs (proto.c, client.c).  Fields are 4 or 8 bytes wide; memcpy keeps it free
 * of alignment and aliasing trouble.  Internal to proto/.
 */
#ifndef WF_CODEC_FIELD_H
#define WF_CODEC_FIELD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

#endif
