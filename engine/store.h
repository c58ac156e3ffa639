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
 * the map is resized (LMDB requires no live transaction in the process then).  The wf_store_each_*
 * functions hold their read transaction (one snapshot) while they call fn, so fn must not wait on
 * the engine thread, and a commit made from inside fn fails with ESTORE if the map has to grow.
 *
 * Every record read from disk is checked (bounds walk, exact types, enum ranges, needs/children
 * below the request's job count): a corrupt record is WEFT_ESTORE, never a crash.  A commit
 * refuses (WEFT_EINVAL) any record the reader would reject.  Layouts: docs/storage.md.
 *
 * Opening takes an exclusive flock on DIR/weft.lock: a second engine on the same directory gets
 * WEFT_EBUSY naming the holder's pid.  Stale reader slots of killed processes are cleared.
 */
#ifndef WF_STORE_H
#define WF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema.h"

typedef struct wf_store wf_store_t;
typedef struct wf_batch wf_batch_t;

typedef struct wf_store_opts {
    int durability;    /* weft_durability */
    uint64_t map_size; /* initial; 0 = 64 MiB (or map_max if smaller) */
    uint64_t map_max;  /* 0 = 64 GiB */
    bool readonly;     /* inspect a state directory another engine may hold: no lock taken,
                        * nothing created, reads only (commits fail with EINVAL) */
} wf_store_opts_t;

/* Create DIR if missing (0700), lock it, open or create the environment and check the schema.
 * opts may be NULL (full durability, 64 MiB map growing to 64 GiB).
 * Errors: EINVAL (bad argument; map_size > map_max), EBUSY (another engine holds DIR),
 * EVERSION (schema on disk newer/older than this build reads), ESTORE, EFULL (the map cannot
 * even hold the schema), ESYS.  errbuf gets a sentence (may be NULL).  *store_p is NULL on
 * failure. */
int wf_store_open(wf_store_t **store_p, const char *dir, const wf_store_opts_t *opts, char *errbuf,
                  size_t errlen);
void wf_store_close(wf_store_t **store_p);

/* The next request id to hand out: at open, meta next_req but above every id in `requests`
 * (1 on a new store); after a commit, the last value put with wf_batch_put_next_req.  The engine
 * increments it in memory and persists it that way.  Engine thread. */
uint64_t wf_store_next_reqid(wf_store_t *self);
/* The next worker id to hand out: above every id in `workers` at open (1 on a new store, or on
 * an old one opened read-only, which has none).  The engine counts on from it in memory; a
 * worker record put with wf_batch_put_worker must use a new, larger id.  Engine thread. */
uint32_t wf_store_next_worker(wf_store_t *self);
/* The current map size in bytes (grows by doubling up to map_max).  Engine thread. */
uint64_t wf_store_map_size(wf_store_t *self);
/* Stale reader slots (of killed processes) that mdb_reader_check cleared at open. */
int wf_store_stale_readers(wf_store_t *self);

/* ---- writes ---- */
wf_batch_t *wf_batch_new(wf_store_t *store);
void wf_batch_destroy(wf_batch_t **batch_p);
/* Empty the batch for the next turn (keeps its memory). */
void wf_batch_reset(wf_batch_t *self);
bool wf_batch_empty(const wf_batch_t *self);
/* A new request: its record, every job spec and name index entry, the idem key if any, its
 * entry in `active` (if running), and an initial state for every job: pending, waiting on
 * parents, cause WF_NO_JOB.  Jobstates put later in the same batch overwrite those (ops apply
 * in order).  spec must be resolved (wf_graph_resolve); rec->njobs == spec->njobs; the request
 * id should be above every stored one (keys are appended; a lower id still works, slower). */
void wf_batch_put_new_request(wf_batch_t *self, const wf_reqrec_t *rec, const wf_reqspec_t *spec);
/* A request's record changed (state, finished); removes it from `active` once finished. */
void wf_batch_put_request(wf_batch_t *self, const wf_reqrec_t *rec);
/* Only for a job whose spec is stored (or written earlier in the same batch): the commit does
 * not look the spec up, since that lookup cost a B-tree walk per transition. */
void wf_batch_put_jobstate(wf_batch_t *self, uint64_t req, uint32_t idx, const wf_jobstate_t *st);
void wf_batch_put_next_req(wf_batch_t *self, uint64_t next);
/* A consumer seen for the first time: its record under rec->id in `workers` and its id under
 * (host, name, pid) in `workerkeys`.  Written once per consumer, at its first HELLO; a commit
 * refuses (EINVAL) a record with id 0 or a name or host that is not a valid name. */
void wf_batch_put_worker(wf_batch_t *self, const wf_workerrec_t *rec);
/* Write the batch in one transaction (fsync per durability), growing the map and replaying the
 * batch on MDB_MAP_FULL.  The batch is left empty whatever happens, and on any error nothing of
 * it is written.  Engine thread only.  Errors: EFULL (map cannot grow), EINVAL (a record the
 * store could not read back: an engine bug), ESTORE
 * (detail in errbuf). */
int wf_store_commit(wf_store_t *self, wf_batch_t *batch, char *errbuf, size_t errlen);

/* ---- reads (any thread; results copied out, free with the _fini of schema.h) ----
 * Every read may also fail with ESTORE (LMDB error, corrupt record); out structs are zeroed
 * then, so a _fini is always safe. */
int wf_store_get_request(wf_store_t *self, uint64_t req, wf_reqrec_t *out); /* ENOTFOUND */
/* ENOTFOUND; EINVAL for NULL arguments. */
int wf_store_find_job(wf_store_t *self, uint64_t req, const char *id, uint32_t *idx_p);
/* Either out pointer may be NULL.  ENOTFOUND: no such job.  The returned spec has needs and
 * children (each below the request's njobs) but no need_names. */
int wf_store_get_job(wf_store_t *self, uint64_t req, uint32_t idx, wf_jobspec_t *spec,
                     wf_jobstate_t *state);
int wf_store_find_idem(wf_store_t *self, const char *key, uint64_t *req_p); /* ENOTFOUND */
/* A worker record by id.  ENOTFOUND: none (id 0, never written, or a store from before worker
 * records).  ESTORE: corrupt (out zeroed). */
int wf_store_get_worker(wf_store_t *self, uint32_t id, wf_workerrec_t *out);
/* The id of the consumer that registered as (name, host, pid), if one did.  ENOTFOUND; EINVAL
 * for NULL arguments. */
int wf_store_find_worker(wf_store_t *self, const char *name, const char *host, uint32_t pid,
                         uint32_t *id_p);
/* Every request, ascending id; stop when fn returns non-zero (that value is returned).  rec is
 * the store's private copy, finalised after fn returns: fn may move its heap fields out (cast
 * away const, set the pointers NULL), as each_job allows. */
typedef int(wf_store_req_fn)(const wf_reqrec_t *rec, void *arg);
int wf_store_each_request(wf_store_t *self, wf_store_req_fn *fn, void *arg);
/* Every request in `active` (unfinished), ascending id: the resume path. */
int wf_store_each_active(wf_store_t *self, wf_store_req_fn *fn, void *arg);
/* Every job of a request in index order 0..njobs-1, spec and state (both copied out of the
 * map).  fn may take ownership of any heap field of spec or state by moving it out (setting the
 * pointer in the struct to NULL); whatever is left is finalised after fn returns.  Used by
 * resume to rebuild memory.  ENOTFOUND: no such request; ESTORE: a job missing, stray or
 * corrupt (fn may have been called for earlier jobs). */
typedef int(wf_store_job_fn)(uint32_t idx, wf_jobspec_t *spec, wf_jobstate_t *state, void *arg);
int wf_store_each_job(wf_store_t *self, uint64_t req, wf_store_job_fn *fn, void *arg);

#ifdef WEFT_TESTING
/* Fail the countdown-th LMDB write operation from now (0 = off; one-shot): each put, delete and
 * the final commit of a wf_store_commit counts one.  The fault is an I/O error (ESTORE), or
 * MDB_MAP_FULL when full is true (the map grows and the batch is replayed, or EFULL at max). */
void wf_store_set_fault(wf_store_t *self, unsigned countdown, bool full);
#endif

#endif
