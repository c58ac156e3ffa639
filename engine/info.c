/* info.c -- see info.h.  Reads only: every function here copies records out of the store and
 * fills the public structs; a job's `worker` id is turned into a name and host through the
 * store's worker records (one more read, only for jobs that ran). */
#include "info.h"

#include <stdio.h>
#include <string.h>

static void
s_copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

void
wf_info_fill_request(const wf_reqrec_t *rec, weft_request_info_t *out)
{
    memset(out, 0, sizeof *out);
    out->id = rec->id;
    s_copy_str(out->name, sizeof out->name, rec->name);
    s_copy_str(out->session, sizeof out->session, rec->session);
    out->state = rec->state;
    out->njobs = rec->njobs;
    out->created_ms = rec->created_ms;
    out->finished_ms = rec->finished_ms;
}

static int
s_count_job(uint32_t idx, wf_jobspec_t *spec, wf_jobstate_t *st, void *arg)
{
    (void)idx;
    (void)spec;
    weft_request_info_t *info = arg;
    if (st->state < WEFT_JOB_STATE_COUNT_)
        info->count[st->state]++;
    return 0;
}

int
wf_info_request(wf_store_t *store, uint64_t id, weft_request_info_t *out)
{
    wf_reqrec_t rec = {0};
    int rc = wf_store_get_request(store, id, &rec);
    if (rc != WEFT_OK)
        return rc;
    wf_info_fill_request(&rec, out);
    wf_reqrec_fini(&rec);
    return wf_store_each_job(store, id, s_count_job, out);
}

int
wf_info_job(wf_store_t *store, uint64_t id, uint32_t idx, weft_job_info_t *out)
{
    return wf_info_job_ex(store, id, idx, out, true);
}

int
wf_info_job_ex(wf_store_t *store, uint64_t id, uint32_t idx, weft_job_info_t *out, bool where)
{
    wf_jobspec_t spec = {0};
    wf_jobstate_t st = {0};
    int rc = wf_store_get_job(store, id, idx, &spec, &st);
    if (rc != WEFT_OK)
        return rc;
    memset(out, 0, sizeof *out);
    out->index = idx;
    s_copy_str(out->id, sizeof out->id, spec.id);
    s_copy_str(out->type, sizeof out->type, spec.type);
    s_copy_str(out->pool, sizeof out->pool, spec.pool);
    out->state = st.state;
    out->reason = st.reason;
    out->when = spec.when;
    out->priority = spec.priority;
    out->attempts = st.attempt;
    out->failures = st.failures;
    out->lost = st.lost;
    out->retries = spec.retries;
    out->lost_retries = spec.lost_retries;
    out->exit_code = st.exit_code;
    out->progress = st.progress;
    s_copy_str(out->progress_msg, sizeof out->progress_msg, st.progress_msg);
    s_copy_str(out->error, sizeof out->error, st.error);
    out->result_len = st.result_len;
    out->started_ms = st.started_ms;
    out->finished_ms = st.finished_ms;
    out->fingerprint = wf_jobspec_fingerprint(&spec);
    if (st.cause != WF_NO_JOB) {
        wf_jobspec_t cause = {0};
        if (wf_store_get_job(store, id, st.cause, &cause, NULL) == WEFT_OK)
            s_copy_str(out->cause, sizeof out->cause, cause.id);
        wf_jobspec_fini(&cause);
    }
    if (where && st.worker != 0) {
        /* A worker id with no record (a commit refused it, a damaged store) says nothing
         * rather than something wrong. */
        wf_workerrec_t w;
        if (wf_store_get_worker(store, st.worker, &w) == WEFT_OK) {
            s_copy_str(out->worker, sizeof out->worker, w.name);
            s_copy_str(out->host, sizeof out->host, w.host);
        }
    }
    if (st.state == WEFT_JOB_PENDING) {
        for (uint32_t i = 0; i < spec.nneeds; i++) {
            wf_jobstate_t ps = {0};
            if (wf_store_get_job(store, id, spec.needs[i], NULL, &ps) == WEFT_OK &&
                !wf_job_state_terminal(ps.state))
                out->waiting_on++;
            wf_jobstate_fini(&ps);
        }
    }
    wf_jobspec_fini(&spec);
    wf_jobstate_fini(&st);
    return WEFT_OK;
}
