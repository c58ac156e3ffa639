/*
 * msgpack_safe.c -- a bounds walk over msgpack bytes, run before anything decodes them.
 *
 * Why: a container's header may claim any count (a 5-byte array32 header can claim 2^32-1
 * elements), and a decoder that sizes anything from it -- msgpack-c's object unpacker
 * allocates n * sizeof(msgpack_object) before it reads a single element -- can be made to
 * allocate without limit.  Every element takes at least one byte, so a container whose count
 * exceeds the bytes left after its header is a lie; we reject it here, together with nesting
 * deeper than the caller allows, a truncated value, the reserved byte 0xc1 and trailing bytes.
 * After this walk a count is a true bound on the bytes that follow, so whoever reads the frame
 * next (the wire decoders' cursor, msgpack-c's unpacker on a store record) is bounded by a
 * small multiple of its size.
 *
 * The walk reads with the same cursor as the decoders (mp_reader.h), so the three agree on
 * what a msgpack value is.  One pass, no allocation: a counter of pending elements per level.
 */
#include "proto.h"
#include "mp_reader.h"

const char *
wf_msgpack_check(const uint8_t *buf, size_t len, int max_depth)
{
    if (!buf || len == 0)
        return "empty";
    if (max_depth < 1 || max_depth > WF_MAX_DEPTH)
        return "bad depth limit";
    uint64_t pending[WF_MAX_DEPTH + 2]; /* elements still to read at each open level */
    int depth = 0;
    wf_mp_rd_t r = { buf, buf + len };
    wf_mp_val_t v;

    pending[0] = 1;
    while (depth >= 0) {
        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        pending[depth]--;
        if (r.p < r.end && *r.p == 0xc1)
            return "reserved byte 0xc1";
        if (!wf_mp_next(&r, &v))
            return "truncated";
        if (v.type != WF_MP_ARRAY && v.type != WF_MP_MAP)
            continue;
        uint64_t items = v.type == WF_MP_MAP ? 2 * (uint64_t)v.len : v.len;
        if (items > (uint64_t)(r.end - r.p))
            return v.type == WF_MP_MAP ? "map count exceeds bytes" : "array count exceeds bytes";
        if (items > 0) {
            if (depth + 1 >= max_depth)
                return "nesting too deep";
            pending[++depth] = items;
        }
    }
    return r.p == r.end ? NULL : "trailing bytes";
}

bool
wf_msgpack_safe(const uint8_t *buf, size_t len, int max_depth)
{
    return wf_msgpack_check(buf, len, max_depth) == NULL;
}
