/*
 * wf_limits.h -- every limit weft enforces, wire and engine, each with its reason.
 *
 * A limit is checked before anything is allocated from a size a peer or a file chose.
 * docs/limits.md mirrors this file; change both together.
 */
#ifndef WF_LIMITS_H
#define WF_LIMITS_H

#include <weft/weft.h>

/* Ids (job, type, pool, session, consumer name): short enough to print in a table and to key
 * LMDB (max key 511 bytes) with a request id in front; [A-Za-z0-9_.:-] only, see wf_name_ok(). */
#define WF_MAX_NAME WEFT_MAX_ID

/* Progress and error messages: one line for a status table, not a log. */
#define WF_MAX_MESSAGE WEFT_MAX_MESSAGE

/* A job's result: a small value (a path, a count, a digest); bulk data belongs in files. */
#define WF_MAX_RESULT WEFT_MAX_RESULT

/* A job's payload: a command line or a small msgpack map; 1 MiB leaves room for long commands. */
#define WF_MAX_PAYLOAD (1u << 20)

/* Jobs in one request: 10^6 is the scale weft is designed and benchmarked for; a bit more slack. */
#define WF_MAX_JOBS_PER_REQUEST 2000000u

/* Needs of one job: a fan-in of 10^5 is plenty; beyond that, add a join job. */
#define WF_MAX_NEEDS_PER_JOB 100000u

/* Pools declared by one request. */
#define WF_MAX_POOLS 256u

/* Job types one consumer registers. */
#define WF_MAX_TYPES 64u

/* Slots one consumer offers: far above any machine's useful concurrency. */
#define WF_MAX_SLOTS 4096u

/* Retries of either budget: a job failing 1000 times is broken, not flaky. */
#define WF_MAX_RETRIES 1000u

/* Backoff: the doubling of retry_delay stops here (one hour). */
#define WF_MAX_RETRY_DELAY_MS (3600u * 1000u)

/* A timeout longer than 30 days is a mistake, not a timeout. */
#define WF_MAX_TIMEOUT_MS (30u * 24u * 3600u * 1000u)

/* One wire message (ZMQ_MAXMSGSIZE on every socket): a JOB with the biggest payload, with room. */
#define WF_MAX_WIRE_MSG ((int64_t)WF_MAX_PAYLOAD + 64 * 1024)

/* msgpack nesting in any decoded message or record: ours are at most 3 deep. */
#define WF_MAX_DEPTH 8

/* Jobs a consumer may report as still running when it (re)connects. */
#define WF_MAX_RUNNING_REPORT WF_MAX_SLOTS

/* Messages taken from one socket in one loop turn, so no peer can starve the others. */
#define WF_MAX_MSGS_PER_TURN 256

#endif
