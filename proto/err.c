/*
 * err.c -- the one table of weft_err strings, and the names of states, reasons and rules.
 * Each error string names its code, as LMDB's do, so a log line is searchable.
 */
#include <weft/weft.h>

static const char *const s_errors[WEFT_ERR_COUNT_] = {
    [WEFT_OK] = "WEFT_OK: success",
    [WEFT_EINVAL] = "WEFT_EINVAL: invalid argument",
    [WEFT_ENOMEM] = "WEFT_ENOMEM: out of memory",
    [WEFT_ENOTFOUND] = "WEFT_ENOTFOUND: not found",
    [WEFT_EAGAIN] = "WEFT_EAGAIN: nothing available now, try again",
    [WEFT_EEXIST] = "WEFT_EEXIST: already exists",
    [WEFT_ESTATE] = "WEFT_ESTATE: wrong state for this operation",
    [WEFT_EPROTO] = "WEFT_EPROTO: malformed or unexpected protocol message",
    [WEFT_ETOOBIG] = "WEFT_ETOOBIG: value exceeds its limit",
    [WEFT_ELIMIT] = "WEFT_ELIMIT: count exceeds its limit",
    [WEFT_ESTORE] = "WEFT_ESTORE: the store failed; the engine stopped taking work",
    [WEFT_EFULL] = "WEFT_EFULL: the store is full and cannot grow",
    [WEFT_EVERSION] = "WEFT_EVERSION: unsupported version",
    [WEFT_ECLOSED] = "WEFT_ECLOSED: closed",
    [WEFT_ETIMEDOUT] = "WEFT_ETIMEDOUT: timed out",
    [WEFT_ECYCLE] = "WEFT_ECYCLE: the job graph has a cycle",
    [WEFT_EBUSY] = "WEFT_EBUSY: the state directory is in use by another engine",
    [WEFT_ESYS] = "WEFT_ESYS: a system call failed",
};

const char *
weft_strerror(int err)
{
    if (err < 0 || err >= WEFT_ERR_COUNT_ || !s_errors[err])
        return "WEFT_E???: unknown error code";
    return s_errors[err];
}

int
weft_version(void)
{
    return WEFT_VERSION;
}

const char *
weft_job_state_name(int state)
{
    static const char *const names[WEFT_JOB_STATE_COUNT_] = {
        "pending", "ready", "running", "done", "failed", "cancelled", "skipped"};
    return state >= 0 && state < WEFT_JOB_STATE_COUNT_ ? names[state] : "unknown";
}

const char *
weft_req_state_name(int state)
{
    static const char *const names[WEFT_REQ_STATE_COUNT_] = {"running", "succeeded", "failed",
                                                             "cancelled"};
    return state >= 0 && state < WEFT_REQ_STATE_COUNT_ ? names[state] : "unknown";
}

const char *
weft_when_name(int when)
{
    static const char *const names[WEFT_WHEN_COUNT_] = {"success", "always", "failure"};
    return when >= 0 && when < WEFT_WHEN_COUNT_ ? names[when] : "unknown";
}

const char *
weft_reason_name(int reason)
{
    static const char *const names[WEFT_REASON_COUNT_] = {
        [WEFT_REASON_NONE] = "",
        [WEFT_REASON_WAIT_PARENTS] = "waiting on parents",
        [WEFT_REASON_WAIT_CONSUMER] = "waiting for a consumer of its type",
        [WEFT_REASON_WAIT_SLOT] = "waiting for a free slot",
        [WEFT_REASON_WAIT_POOL] = "waiting for its pool",
        [WEFT_REASON_BACKOFF] = "backing off before a retry",
        [WEFT_REASON_PAUSED] = "the board is paused",
        [WEFT_REASON_REQUEUED] = "requeued",
        [WEFT_REASON_LEASED] = "leased to a consumer",
        [WEFT_REASON_SUCCEEDED] = "succeeded",
        [WEFT_REASON_EXIT] = "failed with an exit status",
        [WEFT_REASON_TIMEOUT] = "timed out",
        [WEFT_REASON_LOST] = "its consumer was lost too often",
        [WEFT_REASON_CANCELLED_USER] = "cancelled by request",
        [WEFT_REASON_CANCELLED_PARENT] = "cancelled because a parent failed",
        [WEFT_REASON_SKIPPED_PARENT] = "skipped because a parent was skipped",
        [WEFT_REASON_SKIPPED_NO_FAILURE] = "skipped: no parent failed",
        [WEFT_REASON_CARRIED] = "done in an earlier run",
    };
    return reason >= 0 && reason < WEFT_REASON_COUNT_ ? names[reason] : "unknown";
}
