/*
 * client.h -- the client protocol: messages between a client (DEALER: the weft CLI, a Python
 * script, any ZeroMQ program) and a weft server's client endpoint (ROUTER), and the events the
 * server publishes (PUB).  docs/protocol.md ("Client protocol") is the contract.
 *
 * Every request and reply is ONE frame holding one msgpack array:
 *     [ "WEFT", version, kind, corr, field... ]
 * `corr` is a uint the client chooses and the server echoes in the reply (so a client may have
 * several requests in flight).  Events are two frames: an 8-byte big-endian request id (the
 * subscription topic; subscribe to "" for all) and [ "WEFT", version, WF_CMSG_EVENT, 0, ... ].
 * The decoder is as strict as the board's (proto.h): exact field counts and types, ranges,
 * names through wf_name_ok, every count bounded by the bytes received and by wf_limits.h.
 *
 * Knows nothing of the engine.  Thread-safe: no shared state.
 */
#ifndef WF_CLIENT_H
#define WF_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

typedef enum wf_cmsg_kind {
    /* client -> server */
    WF_CMSG_SUBMIT = 1,   /* request (see wf_csubmit_t) -> SUBMITTED | ERROR */
    WF_CMSG_STATUS = 2,   /* req -> STATUS | ERROR */
    WF_CMSG_LIST = 3,     /* (none) -> LIST */
    WF_CMSG_CANCEL = 4,   /* req, job (str or nil: whole request) -> OK | ERROR */
    WF_CMSG_RETRY = 5,    /* req, job (str or nil: every failed/cancelled job) -> OK | ERROR */
    WF_CMSG_WAIT = 6,     /* req -> FINISHED (when it is) | ERROR */
    WF_CMSG_WORKERS = 7,  /* (none) -> WORKERS */
    WF_CMSG_PAUSE = 8,    /* (none) -> BOARD */
    WF_CMSG_RESUME = 9,   /* (none) -> BOARD */
    WF_CMSG_DRAIN = 10,   /* (none) -> BOARD now (draining, running n), BOARD again (stopped) */
    WF_CMSG_WHY = 11,     /* req, job -> WHY | ERROR */
    WF_CMSG_PING = 12,    /* (none) -> PONG */
    /* server -> client */
    WF_CMSG_OK = 64,        /* (none) */
    WF_CMSG_ERROR = 65,     /* code (weft_err), message */
    WF_CMSG_SUBMITTED = 66, /* req, warnings: [str...] (e.g. a type no worker serves) */
    WF_CMSG_STATUS_R = 67,  /* request info, jobs: [jobinfo...] */
    WF_CMSG_LIST_R = 68,    /* [request info...] */
    WF_CMSG_FINISHED = 69,  /* req, state (weft_req_state) */
    WF_CMSG_WORKERS_R = 70, /* [worker...] */
    WF_CMSG_BOARD = 71,     /* mode ("running" | "paused" | "draining" | "stopped"), running */
    WF_CMSG_WHY_R = 72,     /* jobinfo, waiting_on: [job ids of unfinished parents] */
    WF_CMSG_PONG = 73,      /* server version (str), protocol version min, max */
    /* server -> subscribers (PUB) */
    WF_CMSG_EVENT = 96,     /* req, job index (or UINT32_MAX), job id (str, "" for a request
                             * event), state, reason, attempt, progress, time_ms */
} wf_cmsg_kind;

/* One job of a SUBMIT: [id, type, payload(bin), needs([str...]), retries, lost_retries,
 * retry_delay_ms, timeout_ms, priority(int), pool(str|nil), when(uint)] */
typedef struct wf_cjob {
    char id[WF_MAX_NAME + 1];
    char type[WF_MAX_NAME + 1];
    const uint8_t *payload; /* borrowed */
    uint32_t payload_len;
    uint32_t nneeds;
    char (*needs)[WF_MAX_NAME + 1]; /* nneeds names */
    uint32_t retries, lost_retries, retry_delay_ms, timeout_ms;
    int32_t priority;
    char pool[WF_MAX_NAME + 1]; /* "" = none */
    uint32_t when;
} wf_cjob_t;

/* SUBMIT: [name, session(str|nil), key(str|nil), pools([[name, limit]...]), jobs([cjob...])] */
typedef struct wf_csubmit {
    char name[WF_MAX_NAME + 1];
    char session[WF_MAX_NAME + 1]; /* "" = default */
    char key[WF_MAX_NAME + 1];     /* "" = none */
    uint32_t npools;
    char (*pool_names)[WF_MAX_NAME + 1];
    uint32_t *pool_limits;
    uint32_t njobs;
    wf_cjob_t *jobs;
} wf_csubmit_t;

/* Request info: [id, name, session, state, njobs, counts([7 uints]), created_ms, finished_ms] */
typedef weft_request_info_t wf_creqinfo_t;

/* Job info: [index, id, type, pool, state, reason, when, priority, attempts, failures, lost,
 * retries, lost_retries, exit_code(int), cause, progress, progress_msg, error, started_ms,
 * finished_ms] -- the fields of weft_job_info_t but result_len, waiting_on and fingerprint. */
typedef weft_job_info_t wf_cjobinfo_t;

/* Worker: [name, host, pid, types([str...]), slots, running, idle_ms] */
typedef struct wf_cworker {
    char name[WF_MAX_NAME + 1];
    char host[WF_MAX_NAME + 1];
    uint32_t pid;
    uint32_t ntypes;
    char (*types)[WF_MAX_NAME + 1];
    uint32_t slots, running;
    uint32_t idle_ms; /* since its last message */
} wf_cworker_t;

typedef struct wf_cmsg {
    wf_cmsg_kind kind;
    uint64_t corr;
    uint64_t req;                       /* STATUS CANCEL RETRY WAIT WHY SUBMITTED FINISHED EVENT */
    char job[WF_MAX_NAME + 1];          /* CANCEL RETRY WHY ("" = nil); EVENT */
    wf_csubmit_t submit;                /* SUBMIT */
    uint32_t code;                      /* ERROR */
    char message[WF_MAX_MESSAGE + 1];   /* ERROR */
    uint32_t nwarnings;                 /* SUBMITTED */
    char (*warnings)[WF_MAX_MESSAGE + 1];
    wf_creqinfo_t info;                 /* STATUS_R */
    uint32_t njobs;                     /* STATUS_R */
    wf_cjobinfo_t *jobs;
    uint32_t nreqs;                     /* LIST_R */
    wf_creqinfo_t *reqs;
    uint32_t nworkers;                  /* WORKERS_R */
    wf_cworker_t *workers;
    uint32_t state;                     /* FINISHED (weft_req_state); EVENT (job or req state) */
    char mode[16];                      /* BOARD */
    uint32_t running;                   /* BOARD */
    wf_cjobinfo_t jobinfo;              /* WHY_R */
    uint32_t nwaiting;                  /* WHY_R */
    char (*waiting)[WF_MAX_NAME + 1];
    char version[32];                   /* PONG */
    uint32_t proto_min, proto_max;      /* PONG */
    weft_event_t event;                 /* EVENT */
    void *owned_;                       /* storage owned by a decoded message */
} wf_cmsg_t;

void wf_cmsg_init(wf_cmsg_t *msg, wf_cmsg_kind kind);
void wf_cmsg_fini(wf_cmsg_t *msg);
/* Encode into a malloc'd buffer.  Errors: EINVAL, ETOOBIG (as wf_msg_encode). */
int wf_cmsg_encode(const wf_cmsg_t *msg, uint8_t **buf_p, size_t *len_p);
/* Decode one frame strictly (events: the second frame).  Errors: EPROTO, EVERSION, ETOOBIG;
 * `why` gets a short reason.  Arrays are allocated, bounded by the frame size. */
int wf_cmsg_decode(const uint8_t *buf, size_t len, wf_cmsg_t *out, char *why, size_t why_len);
const char *wf_cmsg_kind_name(int kind);

/*
 * Details of the functions above (added with proto/client.c):
 * - Versions: the client protocol has its own version, WF_CLIENT_VERSION_MIN..WF_CLIENT_VERSION,
 *   independent of the board protocol's WF_PROTO_VERSION (both are 1 today).  PONG carries it.
 * - "None": SUBMIT's session, key and a job's pool, CANCEL/RETRY's job, and a job info's pool and
 *   cause are msgpack nil on the wire for "" in the struct (an empty str is rejected); an EVENT's
 *   job is the str "" for a request event (job_index WF_CLIENT_NO_JOB).
 * - EVENT: the encoder reads `event` (and requires corr 0); the decoder fills `event` and copies
 *   event.request, event.job and event.state into req, job and state.
 * - Decoded storage: arrays are owned by the message (one arena in owned_, freed by
 *   wf_cmsg_fini); a job's payload is BORROWED from the decoded buffer (NULL when empty).
 * - On a decode error *out is finalised except out->corr, which keeps the frame's corr when its
 *   4th element could be read as a uint (even for WEFT_EVERSION: the prefix is frozen), so the
 *   server can answer ERROR with it; else 0.  Errors also include WEFT_EINVAL (out NULL, or buf
 *   NULL with len > 0).  *out need not be initialised and what it held is not freed.
 */
#define WF_CLIENT_VERSION 1
#define WF_CLIENT_VERSION_MIN 1
#define WF_CLIENT_MAX_WORKERS 65536u  /* workers in one WORKERS reply */
#define WF_CLIENT_MAX_WARNINGS 1024u  /* warnings in one SUBMITTED */
#define WF_CLIENT_NO_JOB UINT32_MAX   /* EVENT job index of a request event */
#define WF_CLIENT_TOPIC_LEN 8         /* PUB topic: the request id, 8 bytes big-endian */

/* Write the PUB topic of request `req` (8 bytes, big-endian) into topic. */
void wf_cmsg_topic(uint64_t req, uint8_t topic[WF_CLIENT_TOPIC_LEN]);
/* Read a topic frame back.  Errors: EPROTO (not exactly 8 bytes), EINVAL (NULL pointer). */
int wf_cmsg_topic_req(const uint8_t *buf, size_t len, uint64_t *req_p);

/* The largest client frame: a SUBMIT of a big workflow (256 MiB: 10^6 jobs with small payloads);
 * replies with job lists are bounded the same way. */
#define WF_MAX_CLIENT_MSG ((int64_t)256 << 20)

/* The most a decoded client message may take in memory: its arrays use fixed-width slots (a
 * 2-byte job name takes WF_MAX_NAME+1), so without a cap a hostile 256 MiB frame of tiny names
 * would decode to ~16 GiB.  A 10^6-job SUBMIT decodes to ~700 MiB; 1 GiB leaves room. */
#define WF_MAX_CLIENT_DECODED ((size_t)1 << 30)

/* Jobs one STATUS reply lists: a job info is ~1.6 KiB decoded and ~200 bytes on the wire, so
 * 100,000 stay within both limits above; a bigger request is answered with ERROR ETOOBIG until
 * STATUS can page (its counts are still available through WAIT/LIST and events). */
#define WF_CLIENT_MAX_STATUS_JOBS 100000u

#endif
