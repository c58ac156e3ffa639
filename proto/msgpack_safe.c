/*
 * msgpack_safe.c -- a bounds walk over msgpack bytes, run before msgpack-c's unpacker.
 *
 * Why: msgpack-c's object unpacker allocates n * sizeof(msgpack_object) from a container's
 * header count before it reads a single element, so a 5-byte array32 header claiming 2^32-1
 * elements would ask for ~100 GB.  Every element takes at least one byte, so a container whose
 * count exceeds the bytes left after its header is a lie; we reject it here, together with
 * nesting deeper than the caller allows and trailing bytes.  After this walk the unpacker's
 * allocations are bounded by a small multiple of the message size.
 */
#include "proto.h"

#include <string.h>

static bool
s_read_be(const uint8_t *p, size_t avail, size_t n, uint64_t *out)
{
    if (avail < n)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    *out = v;
    return true;
}

bool
wf_msgpack_safe(const uint8_t *buf, size_t len, int max_depth)
{
    /* pending[d] = objects still to read at depth d; depth 0 holds the single top object. */
    uint64_t pending[WF_MAX_DEPTH + 2];
    int depth = 0;
    size_t pos = 0;

    if (!buf || len == 0 || max_depth < 1 || max_depth > WF_MAX_DEPTH)
        return false;
    pending[0] = 1;
    while (depth >= 0) {
        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        pending[depth]--;
        if (pos >= len)
            return false;
        uint8_t b = buf[pos++];
        size_t avail = len - pos;
        uint64_t n = 0;     /* payload bytes to skip */
        uint64_t items = 0; /* child objects of a container */
        bool container = false;

        if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3 && b != 0xc1)) {
            n = 0;
        } else if (b >= 0x80 && b <= 0x8f) {
            items = 2ull * (b & 0x0f);
            container = true;
        } else if (b >= 0x90 && b <= 0x9f) {
            items = b & 0x0f;
            container = true;
        } else if (b >= 0xa0 && b <= 0xbf) {
            n = b & 0x1f;
        } else {
            uint64_t v = 0;
            switch (b) {
            case 0xc4: case 0xd9: /* bin8, str8 */
                if (!s_read_be(buf + pos, avail, 1, &v)) return false;
                pos += 1; n = v; break;
            case 0xc5: case 0xda: /* bin16, str16 */
                if (!s_read_be(buf + pos, avail, 2, &v)) return false;
                pos += 2; n = v; break;
            case 0xc6: case 0xdb: /* bin32, str32 */
                if (!s_read_be(buf + pos, avail, 4, &v)) return false;
                pos += 4; n = v; break;
            case 0xc7: /* ext8: len, type */
                if (!s_read_be(buf + pos, avail, 1, &v)) return false;
                pos += 1; n = v + 1; break;
            case 0xc8:
                if (!s_read_be(buf + pos, avail, 2, &v)) return false;
                pos += 2; n = v + 1; break;
            case 0xc9:
                if (!s_read_be(buf + pos, avail, 4, &v)) return false;
                pos += 4; n = v + 1; break;
            case 0xca: n = 4; break;
            case 0xcb: n = 8; break;
            case 0xcc: case 0xd0: n = 1; break;
            case 0xcd: case 0xd1: n = 2; break;
            case 0xce: case 0xd2: n = 4; break;
            case 0xcf: case 0xd3: n = 8; break;
            case 0xd4: n = 2; break;
            case 0xd5: n = 3; break;
            case 0xd6: n = 5; break;
            case 0xd7: n = 9; break;
            case 0xd8: n = 17; break;
            case 0xdc: /* array16 */
                if (!s_read_be(buf + pos, avail, 2, &v)) return false;
                pos += 2; items = v; container = true; break;
            case 0xdd:
                if (!s_read_be(buf + pos, avail, 4, &v)) return false;
                pos += 4; items = v; container = true; break;
            case 0xde: /* map16 */
                if (!s_read_be(buf + pos, avail, 2, &v)) return false;
                pos += 2; items = 2 * v; container = true; break;
            case 0xdf:
                if (!s_read_be(buf + pos, avail, 4, &v)) return false;
                pos += 4; items = 2 * v; container = true; break;
            default: /* 0xc1: never used */
                return false;
            }
        }
        if (container) {
            if (items > len - pos)
                return false; /* claims more elements than bytes remain */
            if (items > 0) {
                if (depth + 1 >= max_depth)
                    return false;
                pending[++depth] = items;
            }
        } else {
            if (n > len - pos)
                return false;
            pos += (size_t)n;
        }
    }
    return pos == len; /* exactly one object, no trailing bytes */
}
