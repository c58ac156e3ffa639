/*
 * store.h -- the LMDB store: environment, schema, typed get/put of requests and jobs.
 *
 * Knows LMDB and the records of schema.h; knows nothing of sockets, the board or the clock.
 * Only store.c sees MDB_* codes: everything comes out as weft_err, with detail in errbuf.
 *
 * Writes: the engine thread gathers one loop turn's writes in a wf_batch_t (a list of
 * pointers to records it owns, nothing copied) and wf_store_commit() writes them all in ONE
 * write transaction -- group commit.  On MDB_MAP_FULL the transaction is aborted, the map is
 * doubled (up to the configured maximum) and the batch is written again; if it cannot grow,
 * the commit fails with WEFT_EFULL and nothing of the batch is stored.  The records the batch
 * points to must stay unchanged until wf_store_commit returns.
 *
 * Reads may come from any thread (each takes its own read transaction); they copy records out,
 * so nothing borrowed from the map outlives a call.  A reader/resize lock keeps reads out while
 * the map is resized (LMDB requires no live transaction in the process then).
 *
 * Opening takes an exclusive flock on DIR/weft.lock: a second engine on the same directory gets
 * WEFT_EBUSY naming the holder's pid.  Stale reader slots of killed processes are cleared.
 */
#ifndef WF_STORE_H
#define WF_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "schema.h"

typedef struct wf_store wf_store_t;
typedef struct wf_batch wf_batch_t;

typedef struct wf_store_opts {
    int durability;          /* weft_durability */
    uint64_t map_size;       /* initial; 0 = 64 MiB */
    uint64_t map_max;        /* 0 = 64 GiB */
} wf_store_opts_t;

/* Errors: EINVAL, EBUSY, EVERSION (schema on disk newer/older than this build reads), ESTORE,
 * ESYS.  errbuf gets a sentence (may be NULL). */
int wf_store_open(wf_store_t **store_p, const char *dir, const wf_store_opts_t *opts,
                  char *errbuf, size_t errlen);
void wf_store_close(wf_store_t **store_p);

/* The next request id to hand out (1 on a new store); the engine increments it in memory and
 * persists it with wf_batch_put_next_req. */
uint64_t wf_store_next_reqid(wf_store_t *self);

/* ---- writes ---- */
wf_batch_t *wf_batch_new(wf_store_t *store);
void wf_batch_destroy(wf_batch_t **batch_p);
/* Empty the batch for the next turn (keeps its memory). */
void wf_batch_reset(wf_batch_t *self);
bool wf_batch_empty(const wf_batch_t *self);
/* A new request: its record, every job spec and name index entry, the idem key if any, and
 * its entry in `active`.  spec must be resolved (wf_graph_resolve). */
void wf_batch_put_new_request(wf_batch_t *self, const wf_reqrec_t *rec, const wf_reqspec_t *spec);
/* A request's record changed (state, finished); removes it from `active` once finished. */
void wf_batch_put_request(wf_batch_t *self, const wf_reqrec_t *rec);
void wf_batch_put_jobstate(wf_batch_t *self, uint64_t req, uint32_t idx, const wf_jobstate_t *st);
void wf_batch_put_next_req(wf_batch_t *self, uint64_t next);
/* Write the batch in one transaction (fsync per durability).  The batch is left empty whatever
 * happens.  Errors: EFULL (map cannot grow; nothing written), ESTORE (detail in errbuf). */
int wf_store_commit(wf_store_t *self, wf_batch_t *batch, char *errbuf, size_t errlen);

/* ---- reads (any thread; results copied out, free with the _fini of schema.h) ---- */
int wf_store_get_request(wf_store_t *self, uint64_t req, wf_reqrec_t *out);     /* ENOTFOUND */
int wf_store_find_job(wf_store_t *self, uint64_t req, const char *id, uint32_t *idx_p);
/* Either out pointer may be NULL. */
int wf_store_get_job(wf_store_t *self, uint64_t req, uint32_t idx, wf_jobspec_t *spec,
                     wf_jobstate_t *state);
int wf_store_find_idem(wf_store_t *self, const char *key, uint64_t *req_p);    /* ENOTFOUND */
/* Every request, ascending id; stop when fn returns non-zero (that value is returned). */
typedef int(wf_store_req_fn)(const wf_reqrec_t *rec, void *arg);
int wf_store_each_request(wf_store_t *self, wf_store_req_fn *fn, void *arg);
/* Every request in `active` (unfinished), ascending id: the resume path. */
int wf_store_each_active(wf_store_t *self, wf_store_req_fn *fn, void *arg);
/* Every job of a request in index order, spec and state (both copied; fn takes ownership of
 * nothing: they are finalised after fn returns).  Used by resume to rebuild memory. */
typedef int(wf_store_job_fn)(uint32_t idx, wf_jobspec_t *spec, wf_jobstate_t *state, void *arg);
int wf_store_each_job(wf_store_t *self, uint64_t req, wf_store_job_fn *fn, void *arg);

#ifdef WEFT_TESTING
/* Fail the countdown-th LMDB write operation from now (0 = off) with MDB_PANIC-like ESTORE,
 * or with MDB_MAP_FULL when full is true. */
void wf_store_set_fault(wf_store_t *self, unsigned countdown, bool full);
#endif

#endif
