/*
 * graph.h -- validation and resolution of a request's job graph.  Pure: no I/O, no store, no
 * sockets, so `weft validate` can check a workflow with nothing else running.
 *
 * wf_graph_resolve checks, in this order, and stops at the first problem:
 *   - the request: name valid, 1..WF_MAX_JOBS_PER_REQUEST jobs, pools valid (name, limit >= 1,
 *     no duplicate), session/key valid names;
 *   - each job: id and type valid names (wf_name_ok), payload <= WF_MAX_PAYLOAD, retries and
 *     lost_retries <= WF_MAX_RETRIES, retry_delay_ms <= WF_MAX_RETRY_DELAY_MS, timeout_ms <=
 *     WF_MAX_TIMEOUT_MS, when < WEFT_WHEN_COUNT_, pool (if any) declared by the request,
 *     needs <= WF_MAX_NEEDS_PER_JOB;
 *   - duplicate job ids ("duplicate job id \"a\" (jobs 3 and 7)");
 *   - each need names an existing job ("job \"b\" needs unknown job \"x\""), not itself
 *     ("job \"b\" needs itself"); a need listed twice counts once;
 *   - no cycle: "cycle: a -> b -> c -> a" (the whole path, each job once, first job repeated).
 * On success every job's needs[] (sorted parent indexes) and children[] are filled.  Runs in
 * O(jobs + edges) time (iterative DFS, no recursion: a 10^6-job chain must not blow the stack).
 * Errors: EINVAL (names, values, duplicates, unknown or self needs), ECYCLE, ELIMIT (counts),
 * ETOOBIG (payload).  err gets the message (NUL-terminated, truncated to errlen).
 */
#ifndef WF_GRAPH_H
#define WF_GRAPH_H

#include <stddef.h>

#include "schema.h"

int wf_graph_resolve(wf_reqspec_t *spec, char *err, size_t errlen);

#endif
