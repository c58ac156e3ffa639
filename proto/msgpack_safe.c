/*
 * msgpack_safe.c -- a bounds walk over msgpack bytes, run before msgpack-c's unpacker.
 *
 * Why: msgpack-c's object unpacker allocates n * sizeof(msgpack_object) from a container's
 * header count before it reads a single element, so a 5-byte array32 header claiming 2^32-1
 * elements would ask for ~100 GB.  Every element takes at least one byte, so a container whose
 * count exceeds the bytes left after its header is a lie; we reject it here, together with
 * nesting deeper than the caller allows and trailing bytes.  After this walk the unpacker's
 * allocations are bounded by a small multiple of the message size.  Never allocates.
 */
#include "proto.h"

const char *
wf_msgpack_check(const uint8_t *buf, size_t len, int max_depth)
{
    if (!buf || len == 0)
        return "empty";
    if (max_depth < 1 || max_depth > WF_MAX_DEPTH)
        return "bad depth limit";
    uint64_t pending[WF_MAX_DEPTH + 2];
    int depth = 0;
    size_t pos = 0;

    pending[0] = 1;
    while (depth >= 0) {
        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        pending[depth]--;
        if (pos >= len)
            return "truncated";
        uint8_t b = buf[pos++];
        uint64_t skip = 0, items = 0;
        int hdr = 0; /* bytes of length after the type byte */
        bool container = false, map = false;

        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            skip = 0;
        } else if (b <= 0x8f) {
            items = 2u * (b & 0x0f), container = map = true;
        } else if (b <= 0x9f) {
            items = b & 0x0f, container = true;
        } else if (b <= 0xbf) {
            skip = b & 0x1f;
        } else if (b == 0xc1) {
            return "reserved byte 0xc1";
        } else {
            static const struct { uint8_t b; uint8_t hdr; uint8_t fixed; uint8_t kind; } t[] = {
                /* kind: 0 = hdr gives byte length, 1 = ext (+1 type byte), 2 = array, 3 = map,
                 *       4 = fixed size */
                { 0xc4, 1, 0, 0 }, { 0xc5, 2, 0, 0 }, { 0xc6, 4, 0, 0 }, { 0xc7, 1, 0, 1 },
                { 0xc8, 2, 0, 1 }, { 0xc9, 4, 0, 1 }, { 0xca, 0, 4, 4 }, { 0xcb, 0, 8, 4 },
                { 0xcc, 0, 1, 4 }, { 0xcd, 0, 2, 4 }, { 0xce, 0, 4, 4 }, { 0xcf, 0, 8, 4 },
                { 0xd0, 0, 1, 4 }, { 0xd1, 0, 2, 4 }, { 0xd2, 0, 4, 4 }, { 0xd3, 0, 8, 4 },
                { 0xd4, 0, 2, 4 }, { 0xd5, 0, 3, 4 }, { 0xd6, 0, 5, 4 }, { 0xd7, 0, 9, 4 },
                { 0xd8, 0, 17, 4 }, { 0xd9, 1, 0, 0 }, { 0xda, 2, 0, 0 }, { 0xdb, 4, 0, 0 },
                { 0xdc, 2, 0, 2 }, { 0xdd, 4, 0, 2 }, { 0xde, 2, 0, 3 }, { 0xdf, 4, 0, 3 },
            };
            unsigned i = b - 0xc4; /* t[] is indexed by b - 0xc4 for 0xc4..0xdf */
            hdr = t[i].hdr;
            if ((size_t)hdr > len - pos)
                return "truncated";
            uint64_t v = 0;
            for (int j = 0; j < hdr; j++)
                v = (v << 8) | buf[pos++];
            switch (t[i].kind) {
            case 0: skip = v; break;
            case 1: skip = v + 1; break;
            case 2: items = v, container = true; break;
            case 3: items = 2 * v, container = map = true; break;
            default: skip = t[i].fixed; break;
            }
        }
        if (container) {
            if (items > len - pos)
                return map ? "map count exceeds bytes" : "array count exceeds bytes";
            if (items > 0) {
                if (depth + 1 >= max_depth)
                    return "nesting too deep";
                pending[++depth] = items;
            }
        } else {
            if (skip > len - pos)
                return "truncated";
            pos += (size_t)skip;
        }
    }
    return pos == len ? NULL : "trailing bytes";
}

bool
wf_msgpack_safe(const uint8_t *buf, size_t len, int max_depth)
{
    return wf_msgpack_check(buf, len, max_depth) == NULL;
}
