/*
 * info.h -- the public views of stored records: weft_request_info_t and weft_job_info_t filled
 * from the store.  Shared by the API (engine.c, in callers' threads) and the server's client
 * endpoint (engine thread), so both describe a job the same way.  Reads only; thread-safe as
 * the store's reads are.
 */
#ifndef WF_INFO_H
#define WF_INFO_H

#include <stdbool.h>

#include <weft/weft.h>

#include "store.h"

/* The header of a request (count[] zero). */
void wf_info_fill_request(const wf_reqrec_t *rec, weft_request_info_t *out);
/* A request with its counts per state (reads every job state: O(jobs)).  Errors: ENOTFOUND,
 * ESTORE. */
int wf_info_request(wf_store_t *store, uint64_t id, weft_request_info_t *out);
/* A job as stored: its reason for a ready job is the stored one (the live board may know
 * better: engine.c asks it).  Errors: ENOTFOUND, ESTORE. */
int wf_info_job(wf_store_t *store, uint64_t id, uint32_t idx, weft_job_info_t *out);
/* The same, saying where the last attempt ran (out->worker, out->host) only when `where` is
 * set: that costs one more read, which a page of thousands of jobs that does not show it
 * (STATUS) skips.  wf_info_job is this with where set. */
int wf_info_job_ex(wf_store_t *store, uint64_t id, uint32_t idx, weft_job_info_t *out,
                   bool where);

#endif
