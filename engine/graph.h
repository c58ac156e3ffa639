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
 *     Arrows point from a parent to its child, i.e. in the order the jobs would run: "a -> b"
 *     means b needs a (so above, a needs c).  The path starts at the cycle's job with the
 *     lowest index; when there are several cycles, the one met first by a search that starts
 *     from the jobs in index order and visits children in index order is reported.
 * On success every job's needs[] (sorted parent indexes, no duplicates) and children[] (child
 * indexes, sorted) are filled, each a heap array owned by the job (NULL when empty; freed by
 * wf_jobspec_fini).  Any needs/children already there are freed first, so a spec may be
 * resolved again.  On failure every job's needs/children are NULL with zero counts.  Runs in
 * O(jobs + edges) time (iterative DFS, no recursion: a 10^6-job chain must not blow the stack).
 * Errors: EINVAL (names, values, duplicates, unknown or self needs), ECYCLE, ELIMIT (counts),
 * ETOOBIG (payload).  err gets the message (NUL-terminated, truncated to errlen; "" on success).
 *
 * The messages, exactly (part of the contract: other modules' tests match them).  Ids of jobs
 * and pools that passed validation are printed as they are, in double quotes; a value that
 * failed validation (a bad name, an unknown need) is shown as Q: quoted, bytes outside
 * printable ASCII and '"' '\' as \xNN, cut after 64 bytes with "..." appended; NULL as (null).
 * N is a number, I a 0-based job index.
 *   EINVAL  bad request name Q | bad session name Q | bad idempotency key Q
 *   EINVAL  request has no jobs
 *   ELIMIT  too many jobs: N (max N) | too many pools: N (max N)
 *   EINVAL  bad pool name Q | pool "p" has limit 0 (must be >= 1) | duplicate pool "p"
 *   EINVAL  job I has a bad id Q | job "a" has a bad type Q
 *   ETOOBIG job "a": payload is N bytes (max N)
 *   EINVAL  job "a": retries N (max N)   (likewise lost_retries, retry_delay_ms, timeout_ms)
 *   EINVAL  job "a": bad when N | job "a" uses undeclared pool Q
 *   ELIMIT  job "a" has too many needs: N (max N)
 *   EINVAL  duplicate job id "a" (jobs I and I)      (first index, then the duplicate's)
 *   EINVAL  job "b" needs unknown job Q | job "b" needs itself
 *   ECYCLE  cycle: a -> b -> a
 * (A NULL spec, or inconsistent arrays -- a count with a NULL array -- get EINVAL with a sentence
 * saying so.)
 */
#ifndef WF_GRAPH_H
#define WF_GRAPH_H

#include <stddef.h>

#include "schema.h"

int wf_graph_resolve(wf_reqspec_t *spec, char *err, size_t errlen);

#endif
