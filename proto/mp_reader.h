/*
 * mp_reader.h -- a cursor that reads msgpack in place: the one msgpack reader of proto/, used
 * by both wire decoders (proto.c, client.c), by the bounds walk (msgpack_safe.c), and by the
 * shell runner's payload decoder (workers/shell.c).  Not part of the public API.
 *
 * wf_mp_next() reads one value's header and moves the cursor past it: a scalar, str, bin or ext
 * is consumed whole (str and bin point into the buffer: nothing is copied), an array or a map
 * only up to its first element, so a decoder walks a message against its schema and never
 * builds a tree.  It allocates nothing and trusts no length: every read is checked against the
 * end of the buffer, and a header that claims more bytes than remain is a failed read, never a
 * read past the end.  Counts of arrays and maps are returned as they are; bounding them by the
 * bytes left (each element takes at least one) is the caller's business -- wf_msgpack_check()
 * does it for a whole frame before a decoder walks it.
 *
 * Integers are classified as msgpack-c classifies them: any format holding a value >= 0 is
 * WF_MP_UINT (so an int8 of 5 is a uint), any holding a value < 0 is WF_MP_NINT.
 *
 * Everything here is static inline: it is every decoder's innermost loop (a few values per
 * board message, millions per big SUBMIT), and a call per value would cost more than the read.
 */
#ifndef WF_MP_READER_H
#define WF_MP_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum wf_mp_type {
    WF_MP_NIL,
    WF_MP_BOOL,
    WF_MP_UINT, /* any integer format holding a value >= 0 */
    WF_MP_NINT, /* any integer format holding a value < 0 */
    WF_MP_FLOAT,
    WF_MP_STR,
    WF_MP_BIN,
    WF_MP_ARRAY,
    WF_MP_MAP,
    WF_MP_EXT,
} wf_mp_type;

typedef struct wf_mp_val {
    wf_mp_type type;
    uint64_t u;         /* WF_MP_UINT */
    int64_t i;          /* WF_MP_NINT */
    const uint8_t *ptr; /* WF_MP_STR, WF_MP_BIN: into the buffer */
    uint32_t len;       /* STR, BIN: bytes; ARRAY: elements; MAP: pairs; FLOAT: 4 or 8 */
} wf_mp_val_t;

/* The unread bytes [p, end). */
typedef struct wf_mp_rd {
    const uint8_t *p, *end;
} wf_mp_rd_t;

/* The type's name for error texts ("uint", "negative int", "str", ...). */
static inline const char *
wf_mp_type_name(wf_mp_type t)
{
    static const char *const names[] = {
        "nil", "bool", "uint", "negative int", "float", "str", "bin", "array", "map", "ext",
    };
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown type";
}

/* n (<= 8) big-endian bytes as an unsigned integer. */
static inline bool
wf_mp_be_(wf_mp_rd_t *r, unsigned n, uint64_t *v)
{
    if ((size_t)(r->end - r->p) < n)
        return false;
    uint64_t x = 0;
    for (unsigned i = 0; i < n; i++)
        x = (x << 8) | r->p[i];
    r->p += n;
    *v = x;
    return true;
}

static inline bool
wf_mp_skip_(wf_mp_rd_t *r, uint64_t n)
{
    if ((uint64_t)(r->end - r->p) < n)
        return false;
    r->p += n;
    return true;
}

/* Read one value's header into *v (see the top of the file).  False if the bytes end first or
 * the byte is 0xc1 (reserved); the cursor is then somewhere inside the value. */
static inline bool
wf_mp_next(wf_mp_rd_t *r, wf_mp_val_t *v)
{
    /* Every field defined on every path (a few bytes): callers then read len or u without the
     * compiler (-O3) having to prove which type set which field. */
    *v = (wf_mp_val_t){0};
    if (r->p >= r->end)
        return false;
    uint8_t b = *r->p++;
    uint64_t x = 0;

    if (b <= 0x7f) {
        v->type = WF_MP_UINT, v->u = b;
        return true;
    }
    if (b >= 0xe0) {
        v->type = WF_MP_NINT, v->i = (int8_t)b;
        return true;
    }
    if (b <= 0x8f) {
        v->type = WF_MP_MAP, v->len = b & 0x0f;
        return true;
    }
    if (b <= 0x9f) {
        v->type = WF_MP_ARRAY, v->len = b & 0x0f;
        return true;
    }
    if (b <= 0xbf) {
        v->type = WF_MP_STR, v->len = b & 0x1f, v->ptr = r->p;
        return wf_mp_skip_(r, v->len);
    }
    switch (b) {
    case 0xc0: v->type = WF_MP_NIL; return true;
    case 0xc2:
    case 0xc3: v->type = WF_MP_BOOL; return true;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        if (!wf_mp_be_(r, 1u << (b - 0xc4), &x))
            return false;
        v->type = WF_MP_BIN, v->len = (uint32_t)x, v->ptr = r->p;
        return wf_mp_skip_(r, x);
    case 0xc7:
    case 0xc8:
    case 0xc9:
        if (!wf_mp_be_(r, 1u << (b - 0xc7), &x))
            return false;
        v->type = WF_MP_EXT;
        return wf_mp_skip_(r, x + 1);
    case 0xca: v->type = WF_MP_FLOAT, v->len = 4; return wf_mp_skip_(r, 4);
    case 0xcb: v->type = WF_MP_FLOAT, v->len = 8; return wf_mp_skip_(r, 8);
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        if (!wf_mp_be_(r, 1u << (b - 0xcc), &x))
            return false;
        v->type = WF_MP_UINT, v->u = x;
        return true;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        unsigned n = 1u << (b - 0xd0);
        if (!wf_mp_be_(r, n, &x))
            return false;
        int64_t s;
        if (n == 8) {
            memcpy(&s, &x, sizeof s);
        } else {
            /* sign-extend the n-byte two's complement value */
            uint64_t sign = (uint64_t)1 << (8 * n - 1);
            s = (int64_t)(x ^ sign) - (int64_t)sign;
        }
        if (s >= 0)
            v->type = WF_MP_UINT, v->u = (uint64_t)s;
        else
            v->type = WF_MP_NINT, v->i = s;
        return true;
    }
    case 0xd4: v->type = WF_MP_EXT; return wf_mp_skip_(r, 2);
    case 0xd5: v->type = WF_MP_EXT; return wf_mp_skip_(r, 3);
    case 0xd6: v->type = WF_MP_EXT; return wf_mp_skip_(r, 5);
    case 0xd7: v->type = WF_MP_EXT; return wf_mp_skip_(r, 9);
    case 0xd8: v->type = WF_MP_EXT; return wf_mp_skip_(r, 17);
    case 0xd9:
    case 0xda:
    case 0xdb:
        if (!wf_mp_be_(r, 1u << (b - 0xd9), &x))
            return false;
        v->type = WF_MP_STR, v->len = (uint32_t)x, v->ptr = r->p;
        return wf_mp_skip_(r, x);
    case 0xdc:
    case 0xdd:
        if (!wf_mp_be_(r, 2u << (b - 0xdc), &x))
            return false;
        v->type = WF_MP_ARRAY, v->len = (uint32_t)x;
        return true;
    case 0xde:
    case 0xdf:
        if (!wf_mp_be_(r, 2u << (b - 0xde), &x))
            return false;
        v->type = WF_MP_MAP, v->len = (uint32_t)x;
        return true;
    default: /* 0xc1: reserved */
        return false;
    }
}

#endif
