/*
 * namemap.c -- string -> uint32 hash map: open addressing, linear probing, power-of-two table.
 *
 * Invariants:
 *   - cap is a power of two (>= S_MIN_CAP); an empty slot has key == NULL;
 *   - size <= cap * 7 / 10 after every put (the table doubles before it would pass 70%), so a
 *     probe always ends at an empty slot;
 *   - nothing is ever removed, so no tombstones: a probe for an absent key stops at the first
 *     empty slot;
 *   - each slot caches the low 32 bits of its key's hash: growing rehashes without reading
 *     the keys, and a probe compares strings only when the cached hashes agree.
 * Keys are borrowed (the caller keeps them alive); the map allocates only its slot array, so a
 * request of 10^6 jobs costs one 16 MiB array, not 10^6 mallocs.
 * Workload: built once per submitted request (<= WF_MAX_JOBS_PER_REQUEST keys), then read.
 */
#include "namemap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MIN_CAP 8u

typedef struct s_slot {
    const char *key;  /* NULL: empty */
    uint32_t hash;    /* low 32 bits of the key's hash; indexes a table of up to 2^32 slots */
    uint32_t value;
} s_slot_t;

struct wf_namemap {
    s_slot_t *slots;
    size_t cap;       /* power of two */
    size_t size;
};

static void *
s_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "weft: out of memory (namemap, %zu x %zu bytes)\n", n, size);
        abort();
    }
    return p;
}

/* FNV-1a over the bytes, then a 64-bit finaliser (murmur3's fmix64): FNV alone leaves ids
 * that differ only in their last characters ("job-000123", "job-000124") clustered in the low
 * bits, which is exactly what linear probing on a power-of-two table looks at. */
static uint32_t
s_hash(const char *key)
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return (uint32_t)h;
}

/* Smallest power-of-two capacity that holds n keys at or under 70% load. */
static size_t
s_cap_for(size_t n)
{
    size_t cap = S_MIN_CAP;
    while (cap * 7 / 10 < n)
        cap <<= 1;
    return cap;
}

/* The slot holding key, or the empty slot where it would go. */
static s_slot_t *
s_find(const wf_namemap_t *map, const char *key, uint32_t hash)
{
    size_t mask = map->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        s_slot_t *s = &map->slots[i];
        if (!s->key || (s->hash == hash && strcmp(s->key, key) == 0))
            return s;
    }
}

static void
s_grow(wf_namemap_t *map)
{
    s_slot_t *old = map->slots;
    size_t old_cap = map->cap;
    map->cap = old_cap * 2;
    map->slots = s_calloc(map->cap, sizeof *map->slots);
    size_t mask = map->cap - 1;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].key)
            continue;
        size_t j = old[i].hash & mask;
        while (map->slots[j].key)
            j = (j + 1) & mask;
        map->slots[j] = old[i];
    }
    free(old);
}

wf_namemap_t *
wf_namemap_new(size_t expected)
{
    wf_namemap_t *map = s_calloc(1, sizeof *map);
    map->cap = s_cap_for(expected);
    map->slots = s_calloc(map->cap, sizeof *map->slots);
    return map;
}

void
wf_namemap_destroy(wf_namemap_t **map_p)
{
    if (!map_p || !*map_p)
        return;
    free((*map_p)->slots);
    free(*map_p);
    *map_p = NULL;
}

bool
wf_namemap_put(wf_namemap_t *map, const char *key, uint32_t value, uint32_t *old_p)
{
    uint32_t hash = s_hash(key);
    s_slot_t *s = s_find(map, key, hash);
    if (s->key) {
        if (old_p)
            *old_p = s->value;
        return false;
    }
    /* Grow before filling so the load never passes 70%; the slot found above is then stale. */
    if ((map->size + 1) > map->cap * 7 / 10) {
        s_grow(map);
        s = s_find(map, key, hash);
    }
    s->key = key;
    s->hash = hash;
    s->value = value;
    map->size++;
    return true;
}

bool
wf_namemap_get(const wf_namemap_t *map, const char *key, uint32_t *value_p)
{
    const s_slot_t *s = s_find(map, key, s_hash(key));
    if (!s->key)
        return false;
    if (value_p)
        *value_p = s->value;
    return true;
}

size_t
wf_namemap_size(const wf_namemap_t *map)
{
    return map->size;
}
