/*
 * consumer.h -- internal view of the consumer (weft_worker_t): the side of the board protocol
 * that takes jobs, runs C handlers on runner threads and reports back.
 *
 * The public contract is the weft_worker_* and weft_job_* part of include/weft/weft.h; the wire
 * contract is proto/proto.h (docs/protocol.md).  This header only adds what tests and the
 * engine's embedding code may want to observe.
 *
 * Guarantees (see consumer.c for how):
 * - one consumer loop thread (a czmq actor) owns the DEALER to the board; `slots` runner threads
 *   run handlers and talk to the loop only through their own inproc PUSH socket;
 * - every DONE/FAILED is kept until the board ACKs that exact (req, idx, attempt), re-sent after
 *   each reconnect and every `liveness` heartbeats without an ACK;
 * - nothing a board sends can crash the worker: bad frames are dropped with a log line
 *   ("weft-worker: ..." on stderr), unexpected ones are answered or ignored;
 * - an attempt runs past its JOB's timeout_ms: it is cancelled and reported FAILED "timed out";
 * - weft_worker_destroy cancels every running attempt, waits for its handler to return (handlers
 *   must honour weft_job_cancelled; one that never returns blocks destroy), sends BYE and frees
 *   everything, whether or not the board is still there.  An attempt it stopped is NOT
 *   reported failed (unless its handler returned 0: then DONE): BYE gives it back to the board
 *   as a lost attempt, so shutting a worker down never spends a job's own retries;
 * - with weft_worker_set_give_up(w, ms), a board silent for ms (across reconnects) makes the
 *   worker stop every running attempt, reported as for destroy (nothing unless DONE) and left
 *   out of later HELLOs; unacknowledged reports are kept and reconnecting goes on;
 * - with weft_worker_set_curve, every DEALER (reconnects included) is a CURVE client; a server
 *   that refuses the key is treated as a silent one (liveness window, then a new socket after
 *   the backoff), so the worker never hangs and gets in once its key is admitted.
 */
#ifndef WF_CONSUMER_H
#define WF_CONSUMER_H

#include <stdint.h>

#include <weft/weft.h>

/* Counters of one worker since weft_worker_new; read with wf_worker_stats from any thread.
 * Each is read atomically, not all of them together. */
typedef struct wf_worker_stats {
    uint64_t connects;        /* DEALERs created: the first connect plus every reconnect */
    uint64_t hellos;          /* HELLO messages sent */
    uint64_t welcomes;        /* WELCOME messages received */
    uint64_t heartbeats_sent; /* HEARTBEATs sent */
    uint64_t jobs_started;    /* JOBs handed to a runner */
    uint64_t jobs_rejected;   /* JOBs answered FAILED at once (unknown type, no free slot, ...) */
    uint64_t reports;         /* DONE/FAILED produced (each counted once) */
    uint64_t resends;         /* DONE/FAILED sent again while waiting for their ACK */
    uint64_t acks;            /* ACKs that matched an unacknowledged report */
    uint64_t acks_unknown;    /* ACKs for an attempt with no report pending (ignored) */
    uint64_t cancels;         /* CANCELs that matched a running attempt */
    uint64_t malformed;       /* frames from the board dropped as malformed or unexpected */
    uint64_t board_errors;    /* ERROR messages received */
    uint64_t give_ups;        /* times a silent board made the worker stop its attempts */
    uint64_t log_reads;       /* LOGREQs answered (with data or an error) */
    uint64_t running;         /* attempts running now */
    uint64_t unacked;         /* reports waiting for their ACK now */
} wf_worker_stats_t;

/* Copy the worker's counters into *out.  `w` may be started or not. */
void wf_worker_stats(const weft_worker_t *w, wf_worker_stats_t *out);

/* The worker's name as sent in HELLO (the default "<host>-<pid>" when none was given). */
const char *wf_worker_name(const weft_worker_t *w);

#endif
