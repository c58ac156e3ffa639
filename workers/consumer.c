/*
 * consumer.c -- the consumer side of the board protocol (weft_worker_t) and the runner threads
 * that call C handlers (weft_job_t).  The same code serves the engine's local slots over
 * inproc:// and remote worker processes over tcp://, so it assumes nothing of its board.
 *
 * Threads and ownership:
 * - The LOOP (a czmq actor) owns the DEALER to the board, the PULL on which runners report, the
 *   list of unacknowledged reports and the table `held[]` of the attempts this worker holds
 *   (slots + prefetch entries: queued or in a handler).  It allocates a weft_job_t when a JOB
 *   arrives and frees it when the final report arrives, so a CANCEL can always reach a live job.
 * - The loop puts each new job on one FIFO queue (a ring of held[] indexes under qmu); RUNNER
 *   threads take the oldest job from it as soon as they are free, without a round trip through
 *   the loop, call the handler, encode the DONE/FAILED themselves and push it to the loop on
 *   their own inproc PUSH (zsock sockets are not thread-safe, so nothing is shared but the
 *   PULL's endpoint and the queue).  The runner never touches a job after that push.
 * - Prefetch (weft_worker_set_prefetch) is only the queue being longer than the slots: a
 *   runner that finishes finds its next job already here instead of waiting for the board's
 *   commit and hand-out.  A job cancelled while it waits is taken off as usual and reported
 *   without its handler being called.
 * - The API thread only builds the worker, starts it and destroys it.
 *
 * Invariants:
 * - held[i] != NULL  <=>  entry i is queued or in a handler; the free entries are on free_held;
 * - the loop's index (s_index_t) holds exactly the refs of held[] and of the unacked list, and
 *   no ref is in both (s_ix_check verifies it in debug builds);
 * - a DONE/FAILED stays in the unacked list until an ACK names its exact (req, idx, attempt); it
 *   is re-sent when the board WELCOMEs us after a (re)connect and every `liveness` heartbeats;
 * - the loop never blocks on the board: every send to the DEALER is ZMQ_DONTWAIT (a dropped
 *   HEARTBEAT or PROGRESS is harmless, a dropped report is re-sent), and the poll timeout comes
 *   from the next heartbeat, silence or reconnect deadline;
 * - bytes from the board are decoded strictly by wf_msg_decode; nothing it sends is asserted.
 *
 * Protocol choices made here (docs/protocol.md is the contract):
 * - Nothing but HELLO goes out before WELCOME (the board answers anything else with ERROR):
 *   HEARTBEATs start with WELCOME, reports made meanwhile wait in the unacked list and are sent
 *   on WELCOME, PROGRESS is dropped.  Before WELCOME only the silence window runs, so a board
 *   that never answers HELLO is retried like one that went quiet.
 * - HELLO's running[] lists the attempts held (queued or in a handler) first, then those
 *   finished and waiting for their ACK, up to WF_MAX_RUNNING_REPORT.
 * - Reports are re-sent every `liveness` heartbeats without an ACK, and on every WELCOME.
 * - PROGRESS is coalesced: at most one per S_PROGRESS_MIN_MS per attempt, the latest wins, and
 *   a pending one is dropped when the outcome is ready.
 * - A JOB for an attempt already running is ignored; one for an attempt whose report waits for
 *   its ACK gets that report again instead of a second run.
 * - Why an attempt was asked to stop decides its report (the first reason sticks):
 *     CANCEL from the board: 0 -> DONE, else FAILED(rc, the error or "cancelled");
 *     timeout_ms passed:     FAILED(rc, or -1 if rc is 0; "timed out", or "timed out: " error);
 *     the worker stopping:   0 -> DONE, else NOTHING is reported: BYE gives the attempt back
 *                            to the board as a lost one, so a worker's shutdown never spends
 *                            the job's own retries;
 *     the board gone too long (weft_worker_set_give_up): as for stopping, 0 -> DONE, else
 *                            nothing; the board re-queues the attempt when it loses us, or,
 *                            if it restarted, when our HELLO does not list it.
 * - Giving up on a silent board: when nothing well-formed has come from it for give_up_ms
 *   (across reconnects; 0 = never), every running attempt is asked to stop, once per silence.
 *   It is a statement about the work, not the connection: reconnecting goes on as before, and
 *   reports waiting for an ACK are kept, so a board that comes back still gets them.  HELLO
 *   leaves out attempts stopped this way that are still winding down: the board must not
 *   re-adopt work that will never be reported.
 * - Payloads reach the handler with a NUL after the last byte, so text reads as a C string.
 * - LOGREQ (a log read the board relays for a client) is answered on the loop, at once, with
 *   one LOGDATA: the program's log reader (weft_worker_set_log_reader) copies at most the
 *   asked bytes (<= 1 MiB) into a buffer of that size, so a read costs the loop one bounded
 *   read and nothing else waits for it.  Without a reader, or for a log that does not exist,
 *   the answer is WEFT_ENOTFOUND.  Nothing of a read is kept.
 * - CURVE (weft_worker_set_curve): every DEALER the loop creates, the first and each one after
 *   a reconnect, is a CURVE client with the same keys.  A server that refuses our key fails the
 *   handshake, and libzmq does not retry that connection: nothing ever arrives.  That is the
 *   silence the liveness window already handles (the socket is replaced after the backoff), so
 *   a refused worker costs one handshake per backoff period and gets in at the first attempt
 *   after the server admits its key.  The key files are read with czmq's zconfig, bounded, not
 *   through engine/auth.h: workers know proto and the public API, never the engine.
 *
 * Workload: up to WF_MAX_SLOTS runners and as many running attempts; a handful of messages per
 * job plus one heartbeat per interval.  What happens per message (a JOB, CANCEL or ACK finding
 * its attempt) goes through the loop's index by ref (s_index_t), not a walk: with a long
 * prefetch those walks were most of the loop's time.  Walks once per heartbeat or WELCOME
 * (re-sends, timeouts) are fine at that size.
 */
#include "consumer.h"

#include "actor.h"
#include "proto.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Until the board's WELCOME says otherwise (the engine's defaults, DESIGN.md). */
#define S_DEFAULT_HEARTBEAT_MS 1000
#define S_DEFAULT_LIVENESS 3
/* The protocol's own bounds (an hour, 100 beats); a WELCOME cannot exceed them either. */
#define S_MAX_HEARTBEAT_MS ((int)WF_PROTO_MAX_HEARTBEAT_MS)
#define S_MAX_LIVENESS WF_PROTO_MAX_LIVENESS
/* Reconnect backoff: quick after a blip, never hammering a board that is down. */
#define S_BACKOFF_MIN_MS 100
#define S_BACKOFF_MAX_MS 5000
/* Longest endpoint string accepted (a tcp:// URL with a long host name fits easily). */
#define S_MAX_ENDPOINT 1024
/* Reports waiting for ACKs: a board that stopped ACKing must not grow us without bound.  The
 * oldest are dropped (the board re-runs those jobs: at-least-once still holds). */
#define S_MAX_UNACKED (4 * WF_MAX_SLOTS)
/* Progress to the board per attempt: a few a second tells a person all there is to know. */
#define S_PROGRESS_MIN_MS 200
/* A runner blocked on a full PULL re-checks this often whether the loop is still there. */
#define S_RUNNER_SEND_WAIT_MS 100
/* How long the I/O thread may keep trying to deliver BYE after the DEALER is closed. */
#define S_BYE_LINGER_MS 200
/* A CURVE key: 32 bytes, 40 characters of Z85.  A zcert file is ~300 bytes: anything over
 * 64 KiB is not one (the same bound as the server's key directories). */
#define S_CURVE_KEY_LEN 32
#define S_CURVE_Z85_LEN 40
#define S_MAX_CERT_FILE (64 * 1024)

/* Runner -> loop frames: [header][encoded wire message]. */
#define S_HDR_LEN 5
#define S_HDR_PROGRESS 'P'
#define S_HDR_FINAL 'F'   /* body: the DONE/FAILED to report */
#define S_HDR_DISCARD 'X' /* no body: stopped by shutdown or give-up; the board re-queues it */

/* Why an attempt was asked to stop (weft_job_t.stop); the first one set sticks. */
enum { S_STOP_NONE = 0, S_STOP_CANCEL, S_STOP_TIMEOUT, S_STOP_SHUTDOWN, S_STOP_GIVE_UP };

#define S_STATS(X)                                                                                 \
    X(connects)                                                                                    \
    X(hellos)                                                                                      \
    X(welcomes)                                                                                    \
    X(heartbeats_sent)                                                                             \
    X(jobs_started)                                                                                \
    X(jobs_rejected)                                                                               \
    X(reports)                                                                                     \
    X(resends)                                                                                     \
    X(acks)                                                                                        \
    X(acks_unknown)                                                                                \
    X(cancels)                                                                                     \
    X(malformed)                                                                                   \
    X(board_errors)                                                                                \
    X(give_ups)                                                                                    \
    X(log_reads)                                                                                   \
    X(running)                                                                                     \
    X(unacked)

typedef struct s_stats {
#define S_STAT_FIELD(n) _Atomic uint64_t n;
    S_STATS(S_STAT_FIELD)
#undef S_STAT_FIELD
} s_stats_t;

#define S_INC(w, n) atomic_fetch_add_explicit(&(w)->st.n, 1, memory_order_relaxed)
#define S_SET(w, n, v) atomic_store_explicit(&(w)->st.n, (uint64_t)(v), memory_order_relaxed)

typedef struct s_type {
    char name[WF_MAX_NAME + 1];
    weft_handler_fn *fn;
    void *arg;
} s_type_t;

typedef struct s_runner s_runner_t;

struct weft_job {
    wf_attempt_ref_t ref;
    char id[WF_MAX_NAME + 1];
    char type[WF_MAX_NAME + 1];
    uint8_t *payload; /* payload_len bytes and a NUL, so a text payload reads as a C string */
    size_t payload_len;
    uint32_t timeout_ms;
    const s_type_t *handler;
    uint32_t held;      /* its entry in weft_worker_t.held */
    s_runner_t *runner; /* set by the runner that takes it from the queue */
    atomic_int stop; /* S_STOP_*: set by the loop, read by the handler and the runner */
    /* the loop's bookkeeping */
    int64_t deadline;          /* when timeout_ms runs out; 0 for none */
    int64_t progress_sent;     /* when the last PROGRESS went to the board */
    uint8_t *progress_pending; /* the latest PROGRESS not yet sent (coalesced) */
    size_t progress_len;
    /* written from the handler's side only */
    uint8_t *result;
    size_t result_len;
    bool has_error;
    char error[WF_MAX_MESSAGE + 1];
};

struct s_runner {
    weft_worker_t *w;
    uint32_t index;
    pthread_t thread;
    bool joinable;
    pthread_mutex_t mu; /* guards ready */
    pthread_cond_t cv;
    int ready;          /* 0 starting, 1 PUSH connected, -1 could not create it */
    pthread_mutex_t send_mu; /* the PUSH is used by the handler's progress calls and the runner */
    zsock_t *push;
};

typedef struct s_report {
    struct s_report *next;
    struct s_report *prev; /* doubly linked: an ACK unlinks its report without a walk */
    wf_attempt_ref_t ref;
    uint8_t *buf;
    size_t len;
    uint64_t hb_mark; /* the loop's heartbeat count when this was last sent */
} s_report_t;

/* The loop's index of the attempts it knows, by ref: each held[] entry and each report waiting
 * for its ACK, so a JOB, CANCEL or ACK finds its attempt in O(1) instead of a walk over
 * held[] (up to WF_MAX_SLOTS) and the unacked list (up to S_MAX_UNACKED).  One table for both
 * because their keys never overlap: a JOB is taken only when its ref is neither held nor
 * waiting for an ACK, and a report is queued only after its held[] entry was cleared.  So one
 * probe answers s_on_job's two questions, and each slot says which kind it is.
 * Open addressing, linear probing, a power-of-two size kept at least twice the count (grown
 * by rehash), backward-shift deletion (no tombstones).  The loop's alone, like held[] and the
 * list it indexes: it lives in s_loop_t, which runners never see. */
enum { S_IX_EMPTY = 0, S_IX_HELD, S_IX_REPORT };

typedef struct s_ix_slot {
    wf_attempt_ref_t ref;
    uint32_t kind;      /* S_IX_* */
    uint32_t held;      /* S_IX_HELD: the entry of weft_worker_t.held */
    s_report_t *report; /* S_IX_REPORT: the report in the unacked list */
} s_ix_slot_t;

typedef struct s_index {
    s_ix_slot_t *slots;
    uint32_t mask; /* the size - 1 */
    uint32_t count;
} s_index_t;

struct weft_worker {
    char *endpoint;
    char name[WF_MAX_NAME + 1];
    char host[WF_MAX_NAME + 1];
    s_type_t types[WF_MAX_TYPES];
    uint32_t ntypes;
    int heartbeat_ms;
    int give_up_ms;         /* 0: never give up on a silent board */
    unsigned prefetch;      /* jobs taken beyond the slots, queued until a runner is free */
    weft_log_reader_fn *log_reader; /* answers LOGREQ on the loop; NULL: "no such log" */
    void *log_reader_arg;
    bool curve;             /* weft_worker_set_curve: every DEALER is a CURVE client */
    uint8_t curve_server[S_CURVE_KEY_LEN]; /* the server's public key */
    uint8_t curve_public[S_CURVE_KEY_LEN]; /* this worker's key pair */
    uint8_t curve_secret[S_CURVE_KEY_LEN];
    bool started;
    uint32_t slots;
    uint32_t cap;           /* slots + prefetch: the attempts held at once */
    s_runner_t *runners;    /* slots entries */
    weft_job_t **held;      /* cap entries: queued or in a handler; the loop's (destroy's after) */
    uint32_t *free_held;    /* the loop's stack of free entries of held[] */
    uint32_t nfree;
    /* The queue runners take jobs from, FIFO: entries of held[] (a ring of cap). */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    uint32_t *queue;
    uint32_t qhead, qlen;
    uint32_t qidle;         /* runners waiting on qcv */
    bool qstop;             /* runners leave (set once the loop is gone) */
    wf_actor_t *actor;
    char report_ep[96];     /* the loop's PULL: unique (address + serial number) */
    atomic_int loop_rc;     /* set by the loop before its first signal */
    atomic_bool loop_gone;  /* the loop left without draining the runners (context ended) */
    s_stats_t st;
};

typedef struct s_loop {
    weft_worker_t *w;
    zsock_t *pipe;
    zsock_t *pull;
    zsock_t *dealer;      /* NULL while waiting to reconnect, or after giving up */
    bool welcomed;        /* WELCOME received on the current DEALER */
    bool gave_up;         /* the board speaks another protocol version: stop trying */
    bool stopping;        /* $TERM received: cancel, drain, BYE */
    bool terminated;      /* the ZeroMQ context is gone: leave at once */
    int64_t now;          /* cached once per turn */
    int64_t heartbeat_ms;
    uint32_t liveness;
    int64_t last_recv;    /* last well-formed message from the board, or the last connect */
    int64_t heard_at;     /* last well-formed message from the board, whatever the connection */
    bool abandoned;       /* gave up on the board's silence; cleared when it speaks again */
    int64_t next_hb;
    int64_t reconnect_at; /* INT64_MAX when no reconnect is scheduled */
    int64_t backoff_ms;
    uint32_t rng;         /* xorshift state for backoff jitter */
    uint64_t hb_count;
    uint32_t nrunning;    /* entries of held[] in use (queued or running) */
    s_report_t *unacked;  /* oldest first */
    s_report_t *unacked_tail;
    size_t nunacked;
    s_index_t ix;         /* ref -> held[] entry or unacked report (s_ix_*) */
    bool timed;           /* a held job may have a deadline or a coalesced progress: only then
                           * do the per-turn walks (s_timeout, s_on_timers) look at held[] */
    wf_msg_t in;          /* decode scratch */
    wf_msg_t out;         /* encode scratch */
} s_loop_t;

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                              */

static void *
s_alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fputs("weft-worker: out of memory\n", stderr);
        abort();
    }
    return p;
}

static void s_log(const weft_worker_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
s_log(const weft_worker_t *w, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "weft-worker: %s: %s\n", w->name, line);
}

/* Copy at most cap bytes of src into dst (cap + 1 bytes), cutting on a UTF-8 boundary so a
 * truncated message stays valid text. */
static void
s_copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n > cap) {
        n = cap;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static bool
s_ref_eq(wf_attempt_ref_t a, wf_attempt_ref_t b)
{
    return a.req == b.req && a.idx == b.idx && a.attempt == b.attempt;
}

/* ------------------------------------------------------------------------------------------ */
/* The loop's index (s_index_t)                                                               */

static uint64_t
s_mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint32_t
s_ix_home(const s_index_t *ix, wf_attempt_ref_t ref)
{
    uint64_t h = s_mix64(ref.req ^ s_mix64((uint64_t)ref.idx << 32 | ref.attempt));
    return (uint32_t)h & ix->mask;
}

/* Room for `expect` entries without growing. */
static void
s_ix_init(s_index_t *ix, uint32_t expect)
{
    uint32_t size = 16;
    while (size / 2 < expect)
        size *= 2;
    ix->slots = s_alloc(sizeof *ix->slots * size);
    ix->mask = size - 1;
    ix->count = 0;
}

static void
s_ix_fini(s_index_t *ix)
{
    free(ix->slots);
    ix->slots = NULL;
    ix->mask = 0;
    ix->count = 0;
}

/* The slot of ref, or NULL. */
static s_ix_slot_t *
s_ix_find(const s_index_t *ix, wf_attempt_ref_t ref)
{
    for (uint32_t i = s_ix_home(ix, ref);; i = (i + 1) & ix->mask) {
        s_ix_slot_t *e = &ix->slots[i];
        if (e->kind == S_IX_EMPTY)
            return NULL;
        if (s_ref_eq(e->ref, ref))
            return e;
    }
}

/* The first empty slot of ref's probe run (ref is not in the index). */
static s_ix_slot_t *
s_ix_empty_for(const s_index_t *ix, wf_attempt_ref_t ref)
{
    uint32_t i = s_ix_home(ix, ref);
    while (ix->slots[i].kind != S_IX_EMPTY)
        i = (i + 1) & ix->mask;
    return &ix->slots[i];
}

/* A free slot for ref, which must not be in the index; the caller fills kind and the value. */
static s_ix_slot_t *
s_ix_add(s_index_t *ix, wf_attempt_ref_t ref)
{
    assert(!s_ix_find(ix, ref));
    if ((ix->count + 1) > (ix->mask + 1) / 2) {
        /* Keep the load at most 1/2: rehash into twice the size. */
        s_ix_slot_t *old = ix->slots;
        uint32_t old_size = ix->mask + 1;
        ix->slots = s_alloc(sizeof *ix->slots * old_size * 2);
        ix->mask = old_size * 2 - 1;
        for (uint32_t i = 0; i < old_size; i++)
            if (old[i].kind != S_IX_EMPTY)
                *s_ix_empty_for(ix, old[i].ref) = old[i];
        free(old);
    }
    ix->count++;
    s_ix_slot_t *e = s_ix_empty_for(ix, ref);
    e->ref = ref;
    return e;
}

static void
s_ix_add_held(s_index_t *ix, wf_attempt_ref_t ref, uint32_t held)
{
    s_ix_slot_t *e = s_ix_add(ix, ref);
    e->kind = S_IX_HELD;
    e->held = held;
    e->report = NULL;
}

static void
s_ix_add_report(s_index_t *ix, s_report_t *r)
{
    s_ix_slot_t *e = s_ix_add(ix, r->ref);
    e->kind = S_IX_REPORT;
    e->held = 0;
    e->report = r;
}

/* Remove the slot e (from s_ix_find).  Backward shift: each later entry of the run that may
 * live closer to its home moves into the hole, so no tombstone is needed. */
static void
s_ix_del(s_index_t *ix, s_ix_slot_t *e)
{
    uint32_t hole = (uint32_t)(e - ix->slots);
    for (uint32_t j = (hole + 1) & ix->mask; ix->slots[j].kind != S_IX_EMPTY;
         j = (j + 1) & ix->mask) {
        uint32_t home = s_ix_home(ix, ix->slots[j].ref);
        /* It may move if its home is not within (hole, j], cyclically. */
        if (((j - home) & ix->mask) >= ((j - hole) & ix->mask)) {
            ix->slots[hole] = ix->slots[j];
            hole = j;
        }
    }
    memset(&ix->slots[hole], 0, sizeof ix->slots[hole]);
    ix->count--;
}

/* Remove ref, which must be in the index as `kind`. */
static void
s_ix_remove(s_index_t *ix, wf_attempt_ref_t ref, uint32_t kind)
{
    s_ix_slot_t *e = s_ix_find(ix, ref);
    assert(e && e->kind == kind);
    (void)kind;
    if (e)
        s_ix_del(ix, e);
}

static bool
s_endpoint_ok(const char *ep)
{
    static const char *const schemes[] = {"inproc://", "ipc://", "tcp://"};
    if (!ep)
        return false;
    size_t len = strnlen(ep, S_MAX_ENDPOINT + 1);
    if (len > S_MAX_ENDPOINT)
        return false;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t sl = strlen(schemes[i]);
        if (len > sl && strncmp(ep, schemes[i], sl) == 0)
            return true;
    }
    return false;
}

/* This host's name reduced to name characters, so it always passes wf_name_ok. */
static void
s_host_name(char *out, size_t cap)
{
    char buf[256] = "";
    if (gethostname(buf, sizeof buf - 1) != 0)
        buf[0] = '\0';
    buf[sizeof buf - 1] = '\0';
    size_t n = 0;
    for (const char *p = buf; *p && n < cap; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == ':' || c == '-';
        out[n++] = ok ? c : '_';
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, cap + 1, "localhost");
}

/* ------------------------------------------------------------------------------------------ */
/* CURVE keys                                                                                 */

/* 40 characters of Z85 into 32 bytes; false if malformed or the (never valid) all-zero key. */
static bool
s_z85_key(const char *text, uint8_t key[S_CURVE_KEY_LEN])
{
    if (!text || strnlen(text, S_CURVE_Z85_LEN + 1) != S_CURVE_Z85_LEN ||
        !zmq_z85_decode(key, text))
        return false;
    uint8_t acc = 0;
    for (int i = 0; i < S_CURVE_KEY_LEN; i++)
        acc |= key[i];
    return acc != 0;
}

/* Read the keys of a zcert file as `weft keygen` writes it.  Not zcert_load: it would read
 * PATH_secret instead when one exists, and reads a file of any size or kind.  Here a FIFO
 * cannot hang the caller (O_NONBLOCK, regular files only), the size is capped, and with
 * need_secret the file must hold a secret key that only its owner can read or change, as ssh
 * demands of its keys.  Logs why it refuses.  Returns WEFT_OK, WEFT_ENOTFOUND (no such file),
 * WEFT_ETOOBIG, WEFT_ESYS (unreadable) or WEFT_EINVAL (not a certificate, no secret key, mode
 * too open). */
static int
s_cert_read(const weft_worker_t *w, const char *path, bool need_secret,
            uint8_t pub[S_CURVE_KEY_LEN], uint8_t sec[S_CURVE_KEY_LEN])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        s_log(w, "cannot read the key file %s: %s", path, strerror(e));
        return e == ENOENT || e == ENOTDIR ? WEFT_ENOTFOUND : WEFT_ESYS;
    }
    int rc = WEFT_OK;
    char *buf = NULL;
    zchunk_t *chunk = NULL;
    zconfig_t *root = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        s_log(w, "cannot read the key file %s: %s", path, strerror(errno));
        rc = WEFT_ESYS;
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        s_log(w, "the key file %s is not a regular file", path);
        rc = WEFT_EINVAL;
        goto cleanup;
    }
    if (need_secret && (st.st_mode & (S_IRWXG | S_IRWXO))) {
        s_log(w, "%s holds a secret key but others may read or change it (mode %03o); chmod 600 it",
              path, (unsigned)(st.st_mode & 0777));
        rc = WEFT_EINVAL;
        goto cleanup;
    }
    if (st.st_size > S_MAX_CERT_FILE) {
        s_log(w, "the key file %s is %lld bytes, more than a certificate's %d", path,
              (long long)st.st_size, S_MAX_CERT_FILE);
        rc = WEFT_ETOOBIG;
        goto cleanup;
    }
    buf = s_alloc(S_MAX_CERT_FILE + 1);
    size_t len = 0;
    while (len <= S_MAX_CERT_FILE) {
        ssize_t got = read(fd, buf + len, S_MAX_CERT_FILE + 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            s_log(w, "cannot read the key file %s: %s", path, strerror(errno));
            rc = WEFT_ESYS;
            goto cleanup;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    if (len > S_MAX_CERT_FILE) {
        s_log(w, "the key file %s grew past %d bytes while read", path, S_MAX_CERT_FILE);
        rc = WEFT_ETOOBIG;
        goto cleanup;
    }
    chunk = zchunk_new(buf, len);
    root = chunk ? zconfig_chunk_load(chunk) : NULL;
    const char *pub_txt = root ? zconfig_get(root, "/curve/public-key", NULL) : NULL;
    const char *sec_txt = root ? zconfig_get(root, "/curve/secret-key", NULL) : NULL;
    if (!s_z85_key(pub_txt, pub)) {
        s_log(w, "%s is not a CURVE certificate (no valid curve/public-key)", path);
        rc = WEFT_EINVAL;
    } else if (need_secret && !s_z85_key(sec_txt, sec)) {
        s_log(w, "%s holds no secret key (give the key file itself, not NAME.pub)", path);
        rc = WEFT_EINVAL;
    }
cleanup:
    zconfig_destroy(&root);
    zchunk_destroy(&chunk);
    if (buf) {
        explicit_bzero(buf, S_MAX_CERT_FILE + 1);
        free(buf);
    }
    close(fd);
    return rc;
}

/* Make a fresh DEALER a CURVE client of the server with the worker's keys (before connect). */
static bool
s_curve_apply(const weft_worker_t *w, zsock_t *sock)
{
    void *h = zsock_resolve(sock);
    return zmq_setsockopt(h, ZMQ_CURVE_SERVERKEY, w->curve_server, S_CURVE_KEY_LEN) == 0 &&
           zmq_setsockopt(h, ZMQ_CURVE_PUBLICKEY, w->curve_public, S_CURVE_KEY_LEN) == 0 &&
           zmq_setsockopt(h, ZMQ_CURVE_SECRETKEY, w->curve_secret, S_CURVE_KEY_LEN) == 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The handler's view of a job                                                                */

static void
s_job_free(weft_job_t **job_p)
{
    weft_job_t *job = *job_p;
    if (!job)
        return;
    free(job->payload);
    free(job->result);
    free(job->progress_pending);
    free(job);
    *job_p = NULL;
}

const char *
weft_job_id(const weft_job_t *job)
{
    return job ? job->id : NULL;
}

const char *
weft_job_type(const weft_job_t *job)
{
    return job ? job->type : NULL;
}

weft_reqid_t
weft_job_request(const weft_job_t *job)
{
    return job ? job->ref.req : 0;
}

uint32_t
weft_job_attempt(const weft_job_t *job)
{
    return job ? job->ref.attempt : 0;
}

const void *
weft_job_payload(const weft_job_t *job, size_t *len)
{
    if (!job) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = job->payload_len;
    return job->payload;
}

bool
weft_job_cancelled(const weft_job_t *job)
{
    return job && atomic_load_explicit(&job->stop, memory_order_acquire) != S_STOP_NONE;
}

int
weft_job_set_result(weft_job_t *job, const void *data, size_t len)
{
    if (!job || (!data && len > 0))
        return WEFT_EINVAL;
    if (len > WF_MAX_RESULT)
        return WEFT_ETOOBIG;
    uint8_t *copy = s_alloc(len);
    if (len)
        memcpy(copy, data, len);
    free(job->result);
    job->result = copy;
    job->result_len = len;
    return WEFT_OK;
}

int
weft_job_set_error(weft_job_t *job, const char *msg)
{
    if (!job)
        return WEFT_EINVAL;
    if (!msg) {
        job->has_error = false;
        job->error[0] = '\0';
        return WEFT_OK;
    }
    s_copy_text(job->error, WF_MAX_MESSAGE, msg);
    job->has_error = true;
    return WEFT_OK;
}

/* One frame to the loop, waiting while its PULL is full.  The loop drains its PULL until every
 * runner is idle, so waiting here only slows a handler that floods progress; the timeout exists
 * so a runner notices when the loop is gone for good instead of blocking for ever. */
static bool
s_runner_send(s_runner_t *r, void *sock, const void *data, size_t len, int flags)
{
    for (;;) {
        if (zmq_send(sock, data, len, flags) == (int)len)
            return true;
        if (errno != EAGAIN && errno != EINTR)
            return false;
        if (atomic_load(&r->w->loop_gone))
            return false;
    }
}

/* Push [header][body] to the loop. */
static int
s_runner_push(s_runner_t *r, uint32_t held, char kind, const uint8_t *body, size_t len)
{
    uint8_t hdr[S_HDR_LEN];
    memcpy(hdr, &held, sizeof held);
    hdr[4] = (uint8_t)kind;
    pthread_mutex_lock(&r->send_mu);
    void *sock = zsock_resolve(r->push);
    /* Once the header is queued the body follows at once (a multipart message is atomic). */
    int rc = s_runner_send(r, sock, hdr, sizeof hdr, ZMQ_SNDMORE) &&
                     s_runner_send(r, sock, body, len, 0)
                 ? WEFT_OK
                 : WEFT_ECLOSED;
    pthread_mutex_unlock(&r->send_mu);
    return rc;
}

/* A message for a runner to encode.  malloc, not calloc: wf_msg_init zeroes what a report
 * uses, not HELLO's 8 KiB of type names. */
static wf_msg_t *
s_msg_new(wf_msg_kind kind)
{
    wf_msg_t *m = malloc(sizeof *m);
    if (!m)
        abort(); /* OOM policy: abort (docs/decisions/0001-oom-aborts.md) */
    wf_msg_init(m, kind);
    return m;
}

int
weft_job_progress(weft_job_t *job, int percent, const char *msg)
{
    if (!job || percent < 0 || percent > 100)
        return WEFT_EINVAL;
    wf_msg_t *m = s_msg_new(WF_MSG_PROGRESS);
    m->ref = job->ref;
    m->percent = (uint32_t)percent;
    s_copy_text(m->message, WF_MAX_MESSAGE, msg ? msg : "");
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = wf_msg_encode(m, &buf, &len);
    free(m);
    if (rc != WEFT_OK)
        return rc;
    rc = s_runner_push(job->runner, job->held, S_HDR_PROGRESS, buf, len);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Runner threads                                                                             */

/* Encode the attempt's outcome (see the top of this file for the rules).  Falls back to a plain
 * FAILED if the outcome cannot be encoded (a message the encoder refuses), and to nothing
 * (*buf_p NULL) only if even that fails. */
static void
s_runner_outcome(const weft_job_t *job, int rc, uint8_t **buf_p, size_t *len_p)
{
    int stop = atomic_load(&job->stop);
    bool done = stop != S_STOP_TIMEOUT && rc == 0;
    wf_msg_t *m = s_msg_new(done ? WF_MSG_DONE : WF_MSG_FAILED);
    if (stop == S_STOP_TIMEOUT) {
        m->exit_code = rc != 0 ? rc : -1;
        if (job->has_error) {
            char text[WF_MAX_MESSAGE + 32];
            snprintf(text, sizeof text, "timed out: %s", job->error);
            s_copy_text(m->message, WF_MAX_MESSAGE, text);
        } else {
            snprintf(m->message, sizeof m->message, "timed out");
        }
    } else if (done) {
        m->result = job->result;
        m->result_len = (uint32_t)job->result_len;
    } else {
        m->exit_code = rc;
        if (job->has_error)
            s_copy_text(m->message, WF_MAX_MESSAGE, job->error);
        else if (stop == S_STOP_CANCEL)
            snprintf(m->message, sizeof m->message, "cancelled");
        else
            snprintf(m->message, sizeof m->message, "handler returned %d", rc);
    }
    m->ref = job->ref;
    int erc = wf_msg_encode(m, buf_p, len_p);
    if (erc != WEFT_OK) {
        *buf_p = NULL;
        wf_msg_init(m, WF_MSG_FAILED);
        m->ref = job->ref;
        m->exit_code = rc != 0 ? rc : -1;
        snprintf(m->message, sizeof m->message, "the worker could not encode the %s: %s",
                 rc == 0 ? "result" : "error", weft_strerror(erc));
        if (wf_msg_encode(m, buf_p, len_p) != WEFT_OK)
            *buf_p = NULL;
    }
    free(m);
}

static void *
s_runner_main(void *arg)
{
    s_runner_t *r = arg;
    zsock_t *push = zsock_new(ZMQ_PUSH);
    if (push) {
        zsock_set_linger(push, 0);
        zsock_set_sndtimeo(push, S_RUNNER_SEND_WAIT_MS);
        if (zsock_connect(push, "%s", r->w->report_ep) != 0)
            zsock_destroy(&push);
    }
    pthread_mutex_lock(&r->mu);
    r->push = push;
    r->ready = push ? 1 : -1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (!push)
        return NULL;

    weft_worker_t *w = r->w;
    for (;;) {
        pthread_mutex_lock(&w->qmu);
        while (w->qlen == 0 && !w->qstop) {
            w->qidle++;
            pthread_cond_wait(&w->qcv, &w->qmu);
            w->qidle--;
        }
        weft_job_t *job = NULL;
        if (!w->qstop) {
            job = w->held[w->queue[w->qhead]];
            w->qhead = (w->qhead + 1) % w->cap;
            w->qlen--;
        }
        pthread_mutex_unlock(&w->qmu);
        if (!job)
            break;

        /* Asked to stop while it waited in the queue (cancel, shutdown, give-up): it never
         * starts, and is reported as a handler that gave up at once would be. */
        job->runner = r;
        int rc = weft_job_cancelled(job) ? 1 : job->handler->fn(job, job->handler->arg);

        uint8_t *buf = NULL;
        size_t len = 0;
        int stop = atomic_load(&job->stop);
        bool discard = rc != 0 && (stop == S_STOP_SHUTDOWN || stop == S_STOP_GIVE_UP);
        if (!discard)
            s_runner_outcome(job, rc, &buf, &len);
        /* From this push on the job belongs to the loop again: it frees it on the report. */
        s_runner_push(r, job->held, discard ? S_HDR_DISCARD : S_HDR_FINAL,
                      buf ? buf : (const uint8_t *)"", buf ? len : 0);
        free(buf);
    }
    zsock_destroy(&r->push);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* The loop: talking to the board                                                             */

static bool
s_send_any(s_loop_t *L, const uint8_t *buf, size_t len)
{
    if (!L->dealer)
        return false;
    return zmq_send(zsock_resolve(L->dealer), buf, len, ZMQ_DONTWAIT) == (int)len;
}

/* Send one frame to the board if it registered us: only HELLO may go out before WELCOME. */
static bool
s_send(s_loop_t *L, const uint8_t *buf, size_t len)
{
    return L->welcomed && s_send_any(L, buf, len);
}

/* Encode L->out and send it. */
static bool
s_send_out(s_loop_t *L)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = wf_msg_encode(&L->out, &buf, &len);
    if (rc != WEFT_OK) {
        s_log(L->w, "could not encode %s: %s", wf_msg_kind_name(L->out.kind), weft_strerror(rc));
        return false;
    }
    bool sent = L->out.kind == WF_MSG_HELLO ? s_send_any(L, buf, len) : s_send(L, buf, len);
    free(buf);
    return sent;
}

static void
s_send_hello(s_loop_t *L)
{
    weft_worker_t *w = L->w;
    wf_msg_t *m = &L->out;
    wf_msg_init(m, WF_MSG_HELLO);
    memcpy(m->name, w->name, sizeof m->name);
    memcpy(m->host, w->host, sizeof m->host);
    m->ntypes = w->ntypes;
    for (uint32_t i = 0; i < w->ntypes; i++)
        memcpy(m->types[i], w->types[i].name, sizeof m->types[i]);
    m->slots = w->slots;
    m->prefetch = w->cap - w->slots;
    m->pid = (uint32_t)getpid();
    /* Every attempt we hold, so a board that lost us (or restarted) re-adopts them: those
     * queued or in a handler first (they fit: slots + prefetch <= WF_MAX_SLOTS =
     * WF_MAX_RUNNING_REPORT), then those awaiting an ACK. */
    wf_attempt_ref_t *running = s_alloc(sizeof *running * WF_MAX_RUNNING_REPORT);
    uint32_t n = 0;
    for (uint32_t i = 0; i < w->cap && n < WF_MAX_RUNNING_REPORT; i++)
        if (w->held[i] && atomic_load(&w->held[i]->stop) != S_STOP_GIVE_UP)
            running[n++] = w->held[i]->ref;
    for (s_report_t *r = L->unacked; r && n < WF_MAX_RUNNING_REPORT; r = r->next)
        running[n++] = r->ref;
    m->running = running;
    m->nrunning = n;
    s_send_out(L);
    m->running = NULL;
    free(running);
    S_INC(w, hellos);
}

/* Schedule the next connect after the current backoff plus up to a quarter more (so workers
 * cut off together do not all come back in the same millisecond), then double the backoff. */
static void
s_schedule_reconnect(s_loop_t *L)
{
    L->rng ^= L->rng << 13;
    L->rng ^= L->rng >> 17;
    L->rng ^= L->rng << 5;
    int64_t jitter = (int64_t)(L->rng % (uint32_t)(L->backoff_ms / 4 + 1));
    L->reconnect_at = L->now + L->backoff_ms + jitter;
    L->backoff_ms = L->backoff_ms * 2 > S_BACKOFF_MAX_MS ? S_BACKOFF_MAX_MS : L->backoff_ms * 2;
}

static void
s_connect(s_loop_t *L)
{
    weft_worker_t *w = L->w;
    L->reconnect_at = INT64_MAX;
    L->welcomed = false;
    L->dealer = zsock_new(ZMQ_DEALER);
    if (!L->dealer) {
        if (errno == ETERM) {
            L->terminated = true;
            return;
        }
        s_log(w, "cannot create a socket: %s", zmq_strerror(errno));
    } else {
        zsock_set_maxmsgsize(L->dealer, (int)WF_MAX_WIRE_MSG);
        zsock_set_linger(L->dealer, 0);
        if (w->curve && !s_curve_apply(w, L->dealer)) {
            s_log(w, "cannot make the socket a CURVE client: %s", zmq_strerror(errno));
            zsock_destroy(&L->dealer);
        } else if (zsock_connect(L->dealer, "%s", w->endpoint) != 0) {
            s_log(w, "cannot connect to %s: %s", w->endpoint, zmq_strerror(errno));
            zsock_destroy(&L->dealer);
        }
    }
    S_INC(w, connects);
    if (!L->dealer) {
        s_schedule_reconnect(L);
        return;
    }
    L->last_recv = L->now;
    s_send_hello(L);
}

/* Drop the connection; reconnect after the current backoff unless we gave up. */
static void
s_disconnect(s_loop_t *L)
{
    zsock_destroy(&L->dealer);
    L->welcomed = false;
    if (L->gave_up) {
        L->reconnect_at = INT64_MAX;
        return;
    }
    s_schedule_reconnect(L);
}

#ifndef NDEBUG
/* Debug builds: the index holds exactly the held[] entries and the unacked reports.  A walk
 * over both, so only at a few points (WELCOME, each heartbeat, the loop's end). */
static void
s_ix_check(const s_loop_t *L)
{
    const weft_worker_t *w = L->w;
    uint32_t n = 0;
    for (uint32_t i = 0; i < w->cap; i++) {
        if (!w->held[i])
            continue;
        const s_ix_slot_t *e = s_ix_find(&L->ix, w->held[i]->ref);
        assert(e && e->kind == S_IX_HELD && e->held == i);
        n++;
    }
    assert(n == L->nrunning);
    size_t nr = 0;
    const s_report_t *prev = NULL;
    for (const s_report_t *r = L->unacked; r; prev = r, r = r->next) {
        const s_ix_slot_t *e = s_ix_find(&L->ix, r->ref);
        assert(e && e->kind == S_IX_REPORT && e->report == r && r->prev == prev);
        nr++;
    }
    assert(prev == L->unacked_tail && nr == L->nunacked);
    assert(L->ix.count == n + nr);
}
#else
#define s_ix_check(L) ((void)0)
#endif

/* Forget r: off the list and the index, freed. */
static void
s_unacked_unlink(s_loop_t *L, s_report_t *r)
{
    s_ix_remove(&L->ix, r->ref, S_IX_REPORT);
    if (r->prev)
        r->prev->next = r->next;
    else
        L->unacked = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        L->unacked_tail = r->prev;
    L->nunacked--;
    S_SET(L->w, unacked, L->nunacked);
    free(r->buf);
    free(r);
}

/* Keep a report until its ACK and send it now.  Takes ownership of buf. */
static void
s_report(s_loop_t *L, wf_attempt_ref_t ref, uint8_t *buf, size_t len)
{
    if (L->nunacked >= S_MAX_UNACKED) {
        s_report_t *old = L->unacked;
        s_log(L->w,
              "%zu reports wait for an ACK; dropping the one for request %" PRIu64
              " job #%u attempt %u",
              L->nunacked, old->ref.req, old->ref.idx, old->ref.attempt);
        s_unacked_unlink(L, old);
    }
    s_report_t *r = s_alloc(sizeof *r);
    r->ref = ref;
    r->buf = buf;
    r->len = len;
    r->hb_mark = L->hb_count;
    r->prev = L->unacked_tail;
    if (L->unacked_tail)
        L->unacked_tail->next = r;
    else
        L->unacked = r;
    L->unacked_tail = r;
    L->nunacked++;
    s_ix_add_report(&L->ix, r);
    S_SET(L->w, unacked, L->nunacked);
    S_INC(L->w, reports);
    s_send(L, buf, len);
}

/* Answer a JOB we will not run with FAILED(-1, why); it is durable like any report. */
static void
s_reject(s_loop_t *L, wf_attempt_ref_t ref, const char *why)
{
    s_log(L->w, "refusing request %" PRIu64 " job #%u attempt %u: %s", ref.req, ref.idx,
          ref.attempt, why);
    wf_msg_t *m = &L->out;
    wf_msg_init(m, WF_MSG_FAILED);
    m->ref = ref;
    m->exit_code = -1;
    s_copy_text(m->message, WF_MAX_MESSAGE, why);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = wf_msg_encode(m, &buf, &len);
    if (rc != WEFT_OK) {
        s_log(L->w, "could not encode a FAILED: %s", weft_strerror(rc));
        return;
    }
    S_INC(L->w, jobs_rejected);
    s_report(L, ref, buf, len);
}

static void
s_on_job(s_loop_t *L, const wf_msg_t *m)
{
    weft_worker_t *w = L->w;
    char why[WF_MAX_MESSAGE + 1];
    if (L->stopping) {
        /* Not the job's fault: leave it unanswered and let BYE give it back. */
        s_log(w, "stopping: not taking request %" PRIu64 " job #%u attempt %u", m->ref.req,
              m->ref.idx, m->ref.attempt);
        return;
    }
    const s_ix_slot_t *known = s_ix_find(&L->ix, m->ref);
    if (known && known->kind == S_IX_HELD) {
        /* Sent twice (e.g. around a re-adoption): the one running is the one. */
        s_log(w, "JOB for request %" PRIu64 " job #%u attempt %u is already running", m->ref.req,
              m->ref.idx, m->ref.attempt);
        return;
    }
    if (known) {
        /* It already ran; the board has not seen the outcome yet.  Say it again, don't rerun. */
        s_report_t *done = known->report;
        S_INC(w, resends);
        done->hb_mark = L->hb_count;
        s_send(L, done->buf, done->len);
        return;
    }
    const s_type_t *type = NULL;
    for (uint32_t i = 0; i < w->ntypes; i++)
        if (strcmp(w->types[i].name, m->type) == 0)
            type = &w->types[i];
    if (!type) {
        snprintf(why, sizeof why, "no handler for type %s on worker %s", m->type, w->name);
        s_reject(L, m->ref, why);
        return;
    }
    if (w->nfree == 0) {
        snprintf(why, sizeof why, "no free slot: all %u slots (and %u queue places) of worker %s "
                 "are busy", w->slots, w->cap - w->slots, w->name);
        s_reject(L, m->ref, why);
        return;
    }

    weft_job_t *job = s_alloc(sizeof *job);
    job->ref = m->ref;
    memcpy(job->id, m->job, sizeof job->id);
    memcpy(job->type, m->type, sizeof job->type);
    job->payload = s_alloc((size_t)m->payload_len + 1);
    if (m->payload_len)
        memcpy(job->payload, m->payload, m->payload_len);
    job->payload_len = m->payload_len;
    job->timeout_ms = m->timeout_ms;
    job->handler = type;
    atomic_init(&job->stop, S_STOP_NONE);
    job->progress_sent = INT64_MIN / 2;
    job->deadline = m->timeout_ms ? L->now + (int64_t)m->timeout_ms : 0;
    if (job->deadline)
        L->timed = true;

    job->held = w->free_held[--w->nfree];
    w->held[job->held] = job;
    s_ix_add_held(&L->ix, job->ref, job->held);
    L->nrunning++;
    S_SET(w, running, L->nrunning);
    S_INC(w, jobs_started);
    /* To the runners' queue: the first free runner takes it (FIFO, so queued jobs start in the
     * order the board handed them out). */
    pthread_mutex_lock(&w->qmu);
    w->queue[(w->qhead + w->qlen) % w->cap] = job->held;
    w->qlen++;
    if (w->qidle > 0)
        pthread_cond_signal(&w->qcv);
    pthread_mutex_unlock(&w->qmu);
}

/* Ask a running attempt to stop; the first reason given is the one reported. */
static void
s_stop_job(weft_job_t *job, int why)
{
    int none = S_STOP_NONE;
    atomic_compare_exchange_strong(&job->stop, &none, why);
}

static void
s_on_welcome(s_loop_t *L, const wf_msg_t *m)
{
    weft_worker_t *w = L->w;
    if (m->heartbeat_ms > 0)
        L->heartbeat_ms =
            m->heartbeat_ms > S_MAX_HEARTBEAT_MS ? S_MAX_HEARTBEAT_MS : m->heartbeat_ms;
    if (m->liveness > 0)
        L->liveness = m->liveness > S_MAX_LIVENESS ? S_MAX_LIVENESS : m->liveness;
    L->welcomed = true;
    L->backoff_ms = S_BACKOFF_MIN_MS;
    L->next_hb = L->now + L->heartbeat_ms;
    S_INC(w, welcomes);
    s_ix_check(L);
    /* Registered (again): every outcome the board has not ACKed goes out once more. */
    for (s_report_t *r = L->unacked; r; r = r->next) {
        r->hb_mark = L->hb_count;
        if (s_send(L, r->buf, r->len))
            S_INC(w, resends);
    }
}

/* LOGREQ: read the asked chunk through the program's reader and answer LOGDATA at once. */
static void
s_on_logreq(s_loop_t *L, const wf_msg_t *m)
{
    weft_worker_t *w = L->w;
    S_INC(w, log_reads);
    uint64_t corr = m->corr;
    uint8_t *buf = NULL;
    size_t got = 0;
    int64_t size = -WEFT_ENOTFOUND;
    if (w->log_reader) {
        buf = s_alloc(m->max);
        size = w->log_reader(w->log_reader_arg, m->ref.req, m->job, m->ref.attempt, m->stream,
                             m->offset, buf, m->max, &got);
        /* A reader that says more than it may is a bug of the program's: answer an error
         * rather than bytes that were never read. */
        if (size >= 0 && (got > m->max || (uint64_t)size > WF_PROTO_MAX_LOG_OFFSET))
            size = -WEFT_EINVAL;
        if (size < -(int64_t)(WEFT_ERR_COUNT_ - 1)) /* not a weft_err */
            size = -WEFT_ESYS;
    }
    wf_msg_t *out = &L->out;
    wf_msg_init(out, WF_MSG_LOGDATA);
    out->corr = corr;
    if (size >= 0) {
        out->code = WEFT_OK;
        out->size = (uint64_t)size;
        out->data = buf;
        out->data_len = (uint32_t)got;
    } else {
        out->code = (uint32_t)-size;
    }
    s_send_out(L);
    free(buf);
}

static void
s_on_board_frame(s_loop_t *L, const uint8_t *buf, size_t len)
{
    weft_worker_t *w = L->w;
    char why[160] = "";
    wf_msg_t *m = &L->in;
    int rc = wf_msg_decode(buf, len, m, why, sizeof why);
    if (rc != WEFT_OK) {
        S_INC(w, malformed);
        s_log(w, "dropped a malformed frame from the board (%zu bytes): %s (%s)", len,
              weft_strerror(rc), why);
        return;
    }
    L->last_recv = L->now;
    L->heard_at = L->now;
    L->abandoned = false;
    switch (m->kind) {
    case WF_MSG_WELCOME:
        s_on_welcome(L, m);
        break;
    case WF_MSG_HEARTBEAT:
        break;
    case WF_MSG_JOB:
        s_on_job(L, m);
        break;
    case WF_MSG_CANCEL: {
        const s_ix_slot_t *e = s_ix_find(&L->ix, m->ref);
        if (e && e->kind == S_IX_HELD) {
            s_stop_job(w->held[e->held], S_STOP_CANCEL);
            S_INC(w, cancels);
        }
        break;
    }
    case WF_MSG_ACK: {
        const s_ix_slot_t *e = s_ix_find(&L->ix, m->ref);
        if (e && e->kind == S_IX_REPORT) {
            s_unacked_unlink(L, e->report);
            S_INC(w, acks);
        } else {
            S_INC(w, acks_unknown);
        }
        break;
    }
    case WF_MSG_LOGREQ:
        s_on_logreq(L, m);
        break;
    case WF_MSG_ERROR:
        S_INC(w, board_errors);
        if (m->code == WEFT_EVERSION) {
            s_log(w, "the board at %s speaks another protocol version (%s); giving up",
                  w->endpoint, m->message);
            L->gave_up = true;
        } else {
            s_log(w, "the board at %s sent an error: %s (%s); reconnecting in %" PRId64 " ms",
                  w->endpoint, weft_strerror((int)m->code), m->message, L->backoff_ms);
        }
        s_disconnect(L);
        break;
    default:
        S_INC(w, malformed);
        s_log(w, "dropped an unexpected %s from the board", wf_msg_kind_name(m->kind));
        break;
    }
    wf_msg_fini(m);
}

/* Read what the board sent, a bounded number of messages per turn. */
static void
s_read_board(s_loop_t *L)
{
    for (int n = 0; n < WF_MAX_MSGS_PER_TURN && L->dealer; n++) {
        void *sock = zsock_resolve(L->dealer);
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, sock, ZMQ_DONTWAIT) < 0) {
            if (errno == ETERM)
                L->terminated = true;
            zmq_msg_close(&frame);
            return;
        }
        if (zmq_msg_more(&frame)) {
            /* The protocol is one frame per message: drop every part of this one. */
            size_t parts = 1;
            while (zmq_msg_more(&frame)) {
                zmq_msg_close(&frame);
                zmq_msg_init(&frame);
                if (zmq_msg_recv(&frame, sock, ZMQ_DONTWAIT) < 0)
                    break;
                parts++;
            }
            zmq_msg_close(&frame);
            S_INC(L->w, malformed);
            s_log(L->w, "dropped a %zu-frame message from the board (one frame expected)", parts);
            continue;
        }
        s_on_board_frame(L, zmq_msg_data(&frame), zmq_msg_size(&frame));
        zmq_msg_close(&frame);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The loop: runners' reports                                                                 */

static void
s_on_runner_report(s_loop_t *L, const uint8_t *hdr, size_t hlen, const uint8_t *body, size_t len)
{
    weft_worker_t *w = L->w;
    uint32_t index;
    if (hlen != S_HDR_LEN)
        return;
    memcpy(&index, hdr, sizeof index);
    if (index >= w->cap || !w->held[index])
        return; /* cannot happen: runners only report on jobs the loop gave them */
    weft_job_t *job = w->held[index];
    if (hdr[4] == S_HDR_PROGRESS) {
        /* Advisory: dropped while not registered, coalesced when it comes too fast. */
        if (!L->welcomed)
            return;
        if (L->now - job->progress_sent >= S_PROGRESS_MIN_MS) {
            s_send(L, body, len);
            job->progress_sent = L->now;
            free(job->progress_pending);
            job->progress_pending = NULL;
        } else {
            free(job->progress_pending);
            job->progress_pending = s_alloc(len);
            memcpy(job->progress_pending, body, len);
            job->progress_len = len;
            L->timed = true;
        }
        return;
    }
    wf_attempt_ref_t ref = job->ref;
    bool discard = hdr[4] == S_HDR_DISCARD;
    bool gave_up = atomic_load(&job->stop) == S_STOP_GIVE_UP;
    s_ix_remove(&L->ix, ref, S_IX_HELD);
    w->held[index] = NULL;
    w->free_held[w->nfree++] = index;
    L->nrunning--;
    S_SET(w, running, L->nrunning);
    s_job_free(&job);
    if (discard) {
        s_log(w, "request %" PRIu64 " job #%u attempt %u stopped by %s: given back", ref.req,
              ref.idx, ref.attempt, gave_up ? "the board's silence" : "shutdown");
        return;
    }
    if (len == 0) {
        s_reject(L, ref, "the worker could not encode the outcome");
        return;
    }
    uint8_t *copy = s_alloc(len);
    memcpy(copy, body, len);
    s_report(L, ref, copy, len);
}

static void
s_read_runners(s_loop_t *L)
{
    void *sock = zsock_resolve(L->pull);
    for (int n = 0; n < WF_MAX_MSGS_PER_TURN; n++) {
        zmq_msg_t hdr, body;
        zmq_msg_init(&hdr);
        if (zmq_msg_recv(&hdr, sock, ZMQ_DONTWAIT) < 0) {
            if (errno == ETERM)
                L->terminated = true;
            zmq_msg_close(&hdr);
            return;
        }
        zmq_msg_init(&body);
        /* Runners always send two frames and inproc delivers them together. */
        if (zmq_msg_more(&hdr) && zmq_msg_recv(&body, sock, 0) >= 0)
            s_on_runner_report(L, zmq_msg_data(&hdr), zmq_msg_size(&hdr), zmq_msg_data(&body),
                               zmq_msg_size(&body));
        zmq_msg_close(&body);
        zmq_msg_close(&hdr);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The loop itself                                                                            */

static void
s_on_pipe(s_loop_t *L)
{
    zmsg_t *cmd = zmsg_recv(L->pipe);
    if (!cmd) {
        if (errno == ETERM)
            L->terminated = true; /* else a signal interrupted the read: poll again */
        return;
    }
    char *verb = zmsg_popstr(cmd);
    if (verb && strcmp(verb, "$TERM") == 0) {
        L->stopping = true;
        /* Handlers are expected to honour this and return soon. */
        for (uint32_t i = 0; i < L->w->cap; i++)
            if (L->w->held[i])
                s_stop_job(L->w->held[i], S_STOP_SHUTDOWN);
    } else if (verb && strcmp(verb, "GO") == 0 && !L->dealer && L->reconnect_at == INT64_MAX) {
        L->heard_at = L->now; /* the silence counts from the first attempt to reach the board */
        s_connect(L);
    }
    free(verb);
    zmsg_destroy(&cmd);
}

/* Worth a wake-up: there is running work to stop should the board stay silent.  No JOB can
 * arrive without the board speaking, so an idle worker needs no give-up timer at all. */
static bool
s_give_up_armed(const s_loop_t *L)
{
    return L->w->give_up_ms > 0 && !L->abandoned && !L->stopping && L->nrunning > 0;
}

static bool
s_give_up_due(const s_loop_t *L)
{
    return s_give_up_armed(L) && L->now - L->heard_at >= L->w->give_up_ms;
}

/* The board has been silent for give_up_ms: stop the work it can no longer take outcomes for,
 * since it has likely re-queued it elsewhere by now.  Reports and reconnecting are untouched. */
static void
s_give_up(s_loop_t *L)
{
    weft_worker_t *w = L->w;
    L->abandoned = true;
    uint32_t n = 0;
    for (uint32_t i = 0; i < w->cap; i++)
        if (w->held[i] && atomic_load(&w->held[i]->stop) == S_STOP_NONE) {
            s_stop_job(w->held[i], S_STOP_GIVE_UP);
            n++;
        }
    if (n == 0)
        return; /* all already stopping for their own reasons */
    S_INC(w, give_ups);
    int64_t silent = L->now - L->heard_at;
    if (silent >= 10000)
        s_log(w, "server gone for %" PRId64 " s: stopping %u running job(s)", silent / 1000, n);
    else
        s_log(w, "server gone for %.1f s: stopping %u running job(s)", (double)silent / 1000.0, n);
}

static void
s_on_timers(s_loop_t *L)
{
    weft_worker_t *w = L->w;
    if (L->dealer && L->now - L->last_recv >= L->heartbeat_ms * (int64_t)L->liveness) {
        /* With CURVE, a connection never WELCOMEd is most likely a refused handshake. */
        s_log(w, "no word from the board at %s for %" PRId64 " ms; reconnecting in %" PRId64
              " ms%s",
              w->endpoint, L->now - L->last_recv, L->backoff_ms,
              w->curve && !L->welcomed ? " (CURVE: is this worker's public key in the server's "
                                         "workers/ key directory, and the server key right?)"
                                       : "");
        s_disconnect(L);
    }
    if (L->dealer && L->welcomed && L->now >= L->next_hb) {
        wf_msg_init(&L->out, WF_MSG_HEARTBEAT);
        if (s_send_out(L))
            S_INC(w, heartbeats_sent);
        L->hb_count++;
        L->next_hb = L->now + L->heartbeat_ms;
        s_ix_check(L);
        for (s_report_t *r = L->unacked; r; r = r->next)
            if (L->hb_count - r->hb_mark >= L->liveness) {
                r->hb_mark = L->hb_count;
                if (s_send(L, r->buf, r->len))
                    S_INC(w, resends);
            }
    }
    if (!L->dealer && !L->gave_up && L->now >= L->reconnect_at)
        s_connect(L);
    if (s_give_up_due(L))
        s_give_up(L);
    bool timed = false;
    for (uint32_t i = 0; L->timed && i < w->cap; i++) {
        weft_job_t *job = w->held[i];
        if (!job)
            continue;
        if (job->deadline && L->now >= job->deadline) {
            job->deadline = 0;
            s_log(w, "request %" PRIu64 " job #%u attempt %u ran past its %u ms; stopping it",
                  job->ref.req, job->ref.idx, job->ref.attempt, job->timeout_ms);
            s_stop_job(job, S_STOP_TIMEOUT);
        }
        if (job->progress_pending && L->now - job->progress_sent >= S_PROGRESS_MIN_MS) {
            s_send(L, job->progress_pending, job->progress_len);
            job->progress_sent = L->now;
            free(job->progress_pending);
            job->progress_pending = NULL;
        }
        timed = timed || job->deadline || job->progress_pending;
    }
    L->timed = timed; /* none left: skip the walks until a job with either comes */
}

static long
s_timeout(const s_loop_t *L)
{
    int64_t next = INT64_MAX;
    if (L->dealer) {
        next = L->last_recv + L->heartbeat_ms * (int64_t)L->liveness;
        if (L->welcomed && L->next_hb < next)
            next = L->next_hb;
    } else if (!L->gave_up) {
        next = L->reconnect_at;
    }
    if (s_give_up_armed(L) && L->heard_at + L->w->give_up_ms < next)
        next = L->heard_at + L->w->give_up_ms;
    for (uint32_t i = 0; L->timed && i < L->w->cap; i++) {
        const weft_job_t *job = L->w->held[i];
        if (!job)
            continue;
        if (job->deadline && job->deadline < next)
            next = job->deadline;
        if (job->progress_pending && job->progress_sent + S_PROGRESS_MIN_MS < next)
            next = job->progress_sent + S_PROGRESS_MIN_MS;
    }
    if (next == INT64_MAX)
        return -1;
    return next <= L->now ? 0 : (long)(next - L->now);
}

static void
s_loop_actor(zsock_t *pipe, void *args)
{
    weft_worker_t *w = args;
    s_loop_t *L = s_alloc(sizeof *L);
    L->w = w;
    L->pipe = pipe;
    L->heartbeat_ms = w->heartbeat_ms;
    L->liveness = S_DEFAULT_LIVENESS;
    L->backoff_ms = S_BACKOFF_MIN_MS;
    L->reconnect_at = INT64_MAX;
    L->rng = (uint32_t)getpid() * 2654435761u ^ (uint32_t)(uintptr_t)w ^ (uint32_t)zclock_usecs();
    if (L->rng == 0)
        L->rng = 1;
    L->pull = zsock_new(ZMQ_PULL);
    if (!L->pull || zsock_bind(L->pull, "%s", w->report_ep) != 0) {
        s_log(w, "cannot bind %s: %s", w->report_ep, zmq_strerror(errno));
        zsock_destroy(&L->pull);
        free(L);
        w->loop_rc = WEFT_ESYS;
        zsock_signal(pipe, 1);
        return;
    }
    /* Room for every held entry; it grows if reports waiting for ACKs pile up. */
    s_ix_init(&L->ix, w->cap);
    w->loop_rc = WEFT_OK;
    zsock_signal(pipe, 0);

    while (!L->terminated && !(L->stopping && L->nrunning == 0)) {
        L->now = zclock_mono();
        zmq_pollitem_t items[3] = {
            {zsock_resolve(L->pipe), 0, ZMQ_POLLIN, 0},
            {zsock_resolve(L->pull), 0, ZMQ_POLLIN, 0},
            {L->dealer ? zsock_resolve(L->dealer) : NULL, 0, ZMQ_POLLIN, 0},
        };
        int rc = zmq_poll(items, L->dealer ? 3 : 2, s_timeout(L));
        if (rc < 0) {
            if (errno == ETERM)
                L->terminated = true;
            continue; /* EINTR: a signal for someone else */
        }
        L->now = zclock_mono();
        bool had_dealer = L->dealer != NULL;
        if (items[0].revents & ZMQ_POLLIN)
            s_on_pipe(L);
        if (items[1].revents & ZMQ_POLLIN)
            s_read_runners(L);
        /* The DEALER may have been replaced meanwhile; only read the one that was polled. */
        if (had_dealer && L->dealer && (items[2].revents & ZMQ_POLLIN))
            s_read_board(L);
        s_on_timers(L);
    }

    if (L->terminated) {
        /* The context is going away under us: cancel what runs; destroy frees it after join. */
        atomic_store(&w->loop_gone, true);
        for (uint32_t i = 0; i < w->cap; i++)
            if (w->held[i])
                s_stop_job(w->held[i], S_STOP_SHUTDOWN);
    } else if (L->dealer) {
        /* Let the board free our slots at once rather than after the liveness window. */
        wf_msg_init(&L->out, WF_MSG_BYE);
        zsock_set_linger(L->dealer, S_BYE_LINGER_MS);
        s_send_out(L);
    }
    zsock_destroy(&L->dealer);
    zsock_destroy(&L->pull);
    s_ix_check(L);
    while (L->unacked)
        s_unacked_unlink(L, L->unacked);
    /* held[] entries still set (the context ended under us) are freed by destroy, after the
     * runners are joined; their index dies with the loop, which is the only one to use it. */
    s_ix_fini(&L->ix);
    free(L);
}

/* ------------------------------------------------------------------------------------------ */
/* Public API                                                                                 */

int
weft_worker_new(weft_worker_t **w_p, const char *endpoint, const char *name)
{
    if (!w_p)
        return WEFT_EINVAL;
    *w_p = NULL;
    if (!s_endpoint_ok(endpoint))
        return WEFT_EINVAL;
    if (name && !wf_name_ok(name, strlen(name)))
        return WEFT_EINVAL;
    /* A library must not take over the program's SIGINT/SIGTERM: tell czmq before its first
     * socket exists (it installs its own handlers otherwise). */
    zsys_handler_set(NULL);
    weft_worker_t *w = s_alloc(sizeof *w);
    w->endpoint = strdup(endpoint);
    if (!w->endpoint)
        abort();
    s_host_name(w->host, WF_MAX_NAME);
    if (name) {
        memcpy(w->name, name, strlen(name) + 1);
    } else {
        char pid[16];
        int plen = snprintf(pid, sizeof pid, "-%u", (unsigned)getpid());
        snprintf(w->name, sizeof w->name, "%.*s%s", WF_MAX_NAME - plen, w->host, pid);
    }
    w->heartbeat_ms = S_DEFAULT_HEARTBEAT_MS;
    /* Unique for the process's lifetime, not just among live workers: libzmq releases an inproc
     * name only when the reaper gets to the closed socket, and malloc reuses addresses. */
    static atomic_uint_fast64_t serial;
    snprintf(w->report_ep, sizeof w->report_ep, "inproc://weft-worker-%p-%" PRIu64 "-reports",
             (void *)w, (uint64_t)atomic_fetch_add(&serial, 1));
    *w_p = w;
    return WEFT_OK;
}

int
weft_worker_register(weft_worker_t *w, const char *type, weft_handler_fn *fn, void *arg)
{
    if (!w)
        return WEFT_EINVAL;
    if (w->started)
        return WEFT_ESTATE;
    if (!type || !fn || !wf_name_ok(type, strlen(type)))
        return WEFT_EINVAL;
    for (uint32_t i = 0; i < w->ntypes; i++)
        if (strcmp(w->types[i].name, type) == 0)
            return WEFT_EEXIST;
    if (w->ntypes >= WF_MAX_TYPES)
        return WEFT_ELIMIT;
    s_type_t *t = &w->types[w->ntypes++];
    memcpy(t->name, type, strlen(type) + 1);
    t->fn = fn;
    t->arg = arg;
    return WEFT_OK;
}

int
weft_worker_set_heartbeat(weft_worker_t *w, int heartbeat_ms)
{
    if (!w || heartbeat_ms < 1 || heartbeat_ms > S_MAX_HEARTBEAT_MS)
        return WEFT_EINVAL;
    if (w->started)
        return WEFT_ESTATE;
    w->heartbeat_ms = heartbeat_ms;
    return WEFT_OK;
}

int
weft_worker_set_give_up(weft_worker_t *w, int ms)
{
    if (!w || ms < 0)
        return WEFT_EINVAL;
    if (w->started)
        return WEFT_ESTATE;
    w->give_up_ms = ms;
    return WEFT_OK;
}

int
weft_worker_set_prefetch(weft_worker_t *w, unsigned n)
{
    if (!w || n >= WF_MAX_SLOTS)
        return WEFT_EINVAL;
    if (w->started)
        return WEFT_ESTATE;
    w->prefetch = n;
    return WEFT_OK;
}

int
weft_worker_set_log_reader(weft_worker_t *w, weft_log_reader_fn *fn, void *arg)
{
    if (!w || !fn)
        return WEFT_EINVAL;
    if (w->started)
        return WEFT_ESTATE;
    w->log_reader = fn;
    w->log_reader_arg = arg;
    return WEFT_OK;
}

int
weft_worker_set_curve(weft_worker_t *w, const char *server_key, const char *cert_path)
{
    if (!w || !server_key || !cert_path)
        return WEFT_EINVAL;
    if (w->started)
        return WEFT_ESTATE;
    if (!zsys_has_curve()) {
        s_log(w, "this libzmq was built without CURVE");
        return WEFT_EINVAL;
    }
    uint8_t server[S_CURVE_KEY_LEN], pub[S_CURVE_KEY_LEN];
    uint8_t sec[S_CURVE_KEY_LEN] = {0}, unused[S_CURVE_KEY_LEN] = {0};
    int rc = WEFT_OK;
    /* The key itself, or the file holding it (server.pub). */
    if (!s_z85_key(server_key, server))
        rc = s_cert_read(w, server_key, false, server, unused);
    if (rc == WEFT_OK)
        rc = s_cert_read(w, cert_path, true, pub, sec);
    if (rc == WEFT_OK) {
        memcpy(w->curve_server, server, sizeof server);
        memcpy(w->curve_public, pub, sizeof pub);
        memcpy(w->curve_secret, sec, sizeof sec);
        w->curve = true;
    }
    explicit_bzero(sec, sizeof sec);
    explicit_bzero(unused, sizeof unused);
    return rc;
}

/* Stop and join runners [0, n) and free the runner table.  They must be idle or stoppable. */
static void
s_runners_stop(weft_worker_t *w, uint32_t n)
{
    pthread_mutex_lock(&w->qmu);
    w->qstop = true;
    pthread_cond_broadcast(&w->qcv);
    pthread_mutex_unlock(&w->qmu);
    for (uint32_t i = 0; i < n; i++) {
        s_runner_t *r = &w->runners[i];
        if (r->joinable)
            pthread_join(r->thread, NULL);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->send_mu);
    }
    for (uint32_t i = 0; i < w->cap; i++)
        s_job_free(&w->held[i]);
    pthread_mutex_destroy(&w->qmu);
    pthread_cond_destroy(&w->qcv);
    free(w->runners);
    free(w->held);
    free(w->free_held);
    free(w->queue);
    w->runners = NULL;
    w->held = NULL;
    w->free_held = NULL;
    w->queue = NULL;
}

int
weft_worker_start(weft_worker_t *w, unsigned slots)
{
    if (!w)
        return WEFT_EINVAL;
    if (w->started)
        return WEFT_ESTATE;
    if (slots == 0 || slots + w->prefetch > WF_MAX_SLOTS || w->ntypes == 0)
        return WEFT_EINVAL;
    w->slots = slots;
    w->cap = slots + w->prefetch;
    w->runners = s_alloc(sizeof *w->runners * slots);
    w->held = s_alloc(sizeof *w->held * w->cap);
    w->free_held = s_alloc(sizeof *w->free_held * w->cap);
    w->queue = s_alloc(sizeof *w->queue * w->cap);
    /* Lowest entries first, so a worker without prefetch uses held[] like one entry per slot. */
    for (uint32_t i = 0; i < w->cap; i++)
        w->free_held[i] = w->cap - 1 - i;
    w->nfree = w->cap;
    w->qhead = w->qlen = w->qidle = 0;
    w->qstop = false;
    pthread_mutex_init(&w->qmu, NULL);
    pthread_cond_init(&w->qcv, NULL);

    /* The loop binds the runners' endpoint first; it only connects to the board on GO, once
     * every runner is ready, so no JOB is ever handed to a runner that does not exist. */
    w->loop_rc = WEFT_ESYS;
    w->actor = wf_actor_new(s_loop_actor, w);
    if (!w->actor || w->loop_rc != WEFT_OK) {
        wf_actor_destroy(&w->actor);
        s_runners_stop(w, 0);
        w->slots = 0;
        w->cap = 0;
        return WEFT_ESYS;
    }
    uint32_t n = 0;
    int rc = WEFT_OK;
    for (; n < slots; n++) {
        s_runner_t *r = &w->runners[n];
        r->w = w;
        r->index = n;
        pthread_mutex_init(&r->mu, NULL);
        pthread_cond_init(&r->cv, NULL);
        pthread_mutex_init(&r->send_mu, NULL);
        if (pthread_create(&r->thread, NULL, s_runner_main, r) != 0) {
            s_log(w, "cannot start runner thread %u: %s", n, strerror(errno));
            pthread_mutex_destroy(&r->mu);
            pthread_cond_destroy(&r->cv);
            pthread_mutex_destroy(&r->send_mu);
            rc = WEFT_ESYS;
            break;
        }
        r->joinable = true;
        pthread_mutex_lock(&r->mu);
        while (r->ready == 0)
            pthread_cond_wait(&r->cv, &r->mu);
        bool ok = r->ready > 0;
        pthread_mutex_unlock(&r->mu);
        if (!ok) {
            s_log(w, "runner thread %u cannot reach the loop", n);
            n++; /* joinable: stop and join it too */
            rc = WEFT_ESYS;
            break;
        }
    }
    if (rc != WEFT_OK) {
        wf_actor_destroy(&w->actor);
        s_runners_stop(w, n);
        w->slots = 0;
        w->cap = 0;
        return rc;
    }
    w->started = true;
    zstr_send(wf_actor_sock(w->actor), "GO");
    return WEFT_OK;
}

void
weft_worker_destroy(weft_worker_t **w_p)
{
    if (!w_p || !*w_p)
        return;
    weft_worker_t *w = *w_p;
    if (w->started) {
        /* The loop cancels every attempt, waits for the handlers, sends BYE and returns. */
        wf_actor_destroy(&w->actor);
        s_runners_stop(w, w->slots);
    }
    free(w->endpoint);
    explicit_bzero(w->curve_secret, sizeof w->curve_secret);
    free(w);
    *w_p = NULL;
}

void
wf_worker_stats(const weft_worker_t *w, wf_worker_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!w)
        return;
#define S_STAT_COPY(n) out->n = atomic_load_explicit(&w->st.n, memory_order_relaxed);
    S_STATS(S_STAT_COPY)
#undef S_STAT_COPY
}

const char *
wf_worker_name(const weft_worker_t *w)
{
    return w ? w->name : NULL;
}
