/*
 * namemap.h -- a string -> uint32 hash map (open addressing, linear probing), used to look up
 * jobs by id while a request is built and validated, at 10^6 jobs without a malloc per entry.
 * Keys are borrowed: the caller keeps them alive and unchanged while they are in the map.
 */
#ifndef WF_NAMEMAP_H
#define WF_NAMEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wf_namemap wf_namemap_t;

wf_namemap_t *wf_namemap_new(size_t expected);
void wf_namemap_destroy(wf_namemap_t **map_p);
/* Insert key -> value.  Returns false (and leaves the map unchanged) if the key is present; if
 * old_p is not NULL it then gets the present value. */
bool wf_namemap_put(wf_namemap_t *map, const char *key, uint32_t value, uint32_t *old_p);
/* Look a key up; false if absent. */
bool wf_namemap_get(const wf_namemap_t *map, const char *key, uint32_t *value_p);
size_t wf_namemap_size(const wf_namemap_t *map);

#endif
