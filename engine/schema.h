/*
 * schema.h -- the records weft keeps: a request spec as built and validated, and the persistent
 * records of requests and jobs.  Plain data, no behaviour; store.c owns their encoding.
 *
 * Persistent layout (LMDB named databases; integers in keys are big-endian so keys sort):
 *   meta      "schema" -> u32 WF_SCHEMA_VERSION;  "next_req" -> u64
 *   requests  u64 req                -> wf_reqrec_t   (msgpack array)
 *   jobspecs  u64 req . u32 idx      -> wf_jobspec_t  (immutable after submit; msgpack array)
 *   jobstates u64 req . u32 idx      -> wf_jobstate_t (rewritten at each transition; msgpack)
 *   jobnames  u64 req . job id bytes -> u32 idx
 *   idem      key bytes              -> u64 req
 *   active    u64 req                -> (empty): requests not yet finished, for resume
 *   workers   u32 worker id          -> wf_workerrec_t (msgpack array): who ran attempts
 *   workerkeys host \0 name \0 u32 pid -> u32 worker id: the same consumer gets the same id
 * Bump WF_SCHEMA_VERSION on every change of a record or key, even between releases, and keep
 * a reader for the old one (docs/storage.md).  The job state's trailing `worker` and the two
 * worker databases were added within version 1: a record without `worker` reads as 0 (not
 * recorded) and a store without the databases as one that knows no worker, so every store of
 * version 1 still reads.
 */
#ifndef WF_SCHEMA_H
#define WF_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>

#include <weft/weft.h>

#define WF_SCHEMA_VERSION 1
#define WF_NO_JOB UINT32_MAX /* "no job" in an index field */

/* One job as submitted.  Strings and arrays are heap-owned by the struct (wf_jobspec_fini). */
typedef struct wf_jobspec {
    char *id;
    char *type;
    char *pool;             /* NULL: no pool */
    uint8_t *payload;
    uint32_t payload_len;
    uint32_t retries;       /* own failures allowed */
    uint32_t lost_retries;  /* lost consumers allowed */
    uint32_t retry_delay_ms;
    uint32_t timeout_ms;    /* 0 = none */
    int32_t priority;
    uint8_t when;           /* weft_when */
    /* Needs by name as the builder collected them; wf_graph_resolve fills needs/children. */
    uint32_t nneed_names, need_names_cap;
    char **need_names;
    uint32_t nneeds;
    uint32_t *needs;        /* parent indexes, sorted, no duplicates */
    uint32_t nchildren;
    uint32_t *children;     /* child indexes */
    bool carried;           /* submit as done without running (not stored: used at submit) */
} wf_jobspec_t;

typedef struct wf_pooldef {
    char *name;
    uint32_t limit;         /* >= 1 */
} wf_pooldef_t;

/* A whole request as submitted. */
typedef struct wf_reqspec {
    char *name;
    char *session;          /* NULL: "default" */
    char *key;              /* idempotency key; NULL: none */
    uint32_t njobs, jobs_cap;
    wf_jobspec_t *jobs;
    uint32_t npools;
    wf_pooldef_t *pools;
    /* Set by wf_reqspec_pack: every job's strings and arrays live here, not in their own
     * allocations (wf_reqspec_fini frees it whole; never wf_jobspec_fini such a job). */
    void *arena;
} wf_reqspec_t;

/* The persistent header of a request: its spec's header plus its state. */
typedef struct wf_reqrec {
    uint64_t id;
    char *name;
    char *session;
    char *key;              /* NULL: none */
    uint8_t state;          /* weft_req_state */
    bool cancelled;         /* a cancel call was made on the whole request */
    int64_t created_ms;     /* wall clock */
    int64_t finished_ms;    /* 0 while running */
    uint32_t njobs;
    uint32_t npools;
    wf_pooldef_t *pools;
} wf_reqrec_t;

/* The mutable state of one job. */
typedef struct wf_jobstate {
    uint8_t state;          /* weft_job_state */
    uint8_t reason;         /* weft_reason */
    uint8_t progress;       /* 0..100 */
    uint32_t attempt;       /* hand-outs so far; the current attempt when running */
    uint32_t failures;      /* own failures used */
    uint32_t lost;          /* lost consumers used */
    int32_t exit_code;
    uint32_t cause;         /* job index at the root of a cancel/skip cascade, or WF_NO_JOB */
    int64_t started_ms;     /* wall clock of the last hand-out; 0 none */
    int64_t finished_ms;    /* wall clock of reaching a terminal state; 0 none */
    int64_t retry_at_ms;    /* wall clock before which a backing-off job is not offered */
    char *progress_msg;     /* NULL: none */
    char *error;            /* NULL: none */
    uint8_t *result;        /* NULL: none */
    uint32_t result_len;
    uint32_t worker;        /* who holds or last held it: a workers id; 0 none / not recorded
                             * (after result_len: it fills the struct's tail padding) */
} wf_jobstate_t;

/* A consumer as it registered (HELLO), kept so a job's `worker` can be named after the
 * consumer is gone.  Written once, when the server first sees that name, host and pid. */
typedef struct wf_workerrec {
    uint32_t id;            /* >= 1 */
    uint32_t pid;
    int64_t first_seen_ms;  /* wall clock of its first HELLO */
    char name[WEFT_MAX_ID + 1];
    char host[WEFT_MAX_ID + 1];
} wf_workerrec_t;

/* A digest of a resolved job's definition: FNV-1a 64 over id, type, payload, pool, budgets,
 * delays, priority, rule and parent indexes.  Stable across versions of weft that keep
 * WF_SCHEMA_VERSION. */
uint64_t wf_jobspec_fingerprint(const wf_jobspec_t *js);
void wf_jobspec_fini(wf_jobspec_t *js);
void wf_reqspec_fini(wf_reqspec_t *rs);
/* Move every job's id, type, pool, payload, needs and children into one allocation (types and
 * pools shared), and drop the need names: what a request keeps in memory for its whole life
 * shrinks by ~100 bytes a job (malloc's 32-byte minimum per small string, and per type).  The
 * fields of jobs[] change; jobs[] itself stays where it is.  Idempotent. */
void wf_reqspec_pack(wf_reqspec_t *rs);
/* The jobs of src, packed as by wf_reqspec_pack, into dst (zeroed first; header fields, pools
 * and name stay empty for the caller to fill).  src is left as it is. */
void wf_reqspec_copy_packed(const wf_reqspec_t *src, wf_reqspec_t *dst);
void wf_reqrec_fini(wf_reqrec_t *rr);
void wf_jobstate_fini(wf_jobstate_t *st);
/* Replace a heap string field with a copy of s (NULL clears it), truncated to max bytes. */
void wf_str_set(char **field, const char *s, size_t max);

static inline bool
wf_job_state_terminal(int state)
{
    return state == WEFT_JOB_DONE || state == WEFT_JOB_FAILED || state == WEFT_JOB_CANCELLED ||
           state == WEFT_JOB_SKIPPED;
}

#endif
