/*
 * make_corpus.c -- writes the seed corpus for proto_decode_fuzz: one valid encoding of every
 * message kind, plus a few malformed frames that sit just past a check (bad signature, other
 * version, unknown kind, truncation, trailing bytes, a lying array32 count, deep nesting, a bad
 * name, a message with NUL).  Not built by CMake; the seeds are committed.  To regenerate:
 *
 *     cc -std=c11 -D_GNU_SOURCE -Iinclude -Iproto tests/fuzz/make_corpus.c proto/proto.c \
 *        proto/msgpack_safe.c proto/err.c -lmsgpackc -o /tmp/make_corpus
 *     /tmp/make_corpus tests/fuzz/corpus
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static const char *s_dir;

static void
s_write(const char *name, const uint8_t *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static uint8_t *
s_encode(const wf_msg_t *m, size_t *len)
{
    uint8_t *buf;
    if (wf_msg_encode(m, &buf, len) != WEFT_OK) {
        fprintf(stderr, "make_corpus: cannot encode %s\n", wf_msg_kind_name(m->kind));
        exit(1);
    }
    return buf;
}

static void
s_emit(const wf_msg_t *m, const char *name)
{
    size_t len;
    uint8_t *buf = s_encode(m, &len);
    s_write(name, buf, len);
    free(buf);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus DIR\n");
        return 2;
    }
    s_dir = argv[1];

    static wf_attempt_ref_t running[2] = { { 5, 1, 1 }, { 1u << 20, 65536, 300 } };
    static const uint8_t payload[] = "make -C src all";
    wf_msg_t m;

    wf_msg_init(&m, WF_MSG_HELLO);
    strcpy(m.name, "worker-7");
    strcpy(m.host, "build.example.org");
    m.ntypes = 2;
    strcpy(m.types[0], "shell");
    strcpy(m.types[1], "py:train");
    m.slots = 8;
    m.prefetch = 2;
    m.pid = 40321;
    m.running = running;
    m.nrunning = 2;
    s_emit(&m, "valid-hello");
    size_t hello_len;
    uint8_t *hello = s_encode(&m, &hello_len);

    wf_msg_init(&m, WF_MSG_HEARTBEAT);
    s_emit(&m, "valid-heartbeat");
    wf_msg_init(&m, WF_MSG_BYE);
    s_emit(&m, "valid-bye");

    wf_msg_init(&m, WF_MSG_PROGRESS);
    m.ref = (wf_attempt_ref_t){ 300, 7, 2 };
    m.percent = 50;
    strcpy(m.message, "half way");
    s_emit(&m, "valid-progress");

    wf_msg_init(&m, WF_MSG_DONE);
    m.ref = (wf_attempt_ref_t){ 300, 7, 2 };
    m.result = (const uint8_t *)"out/a.o";
    m.result_len = 7;
    s_emit(&m, "valid-done");

    wf_msg_init(&m, WF_MSG_FAILED);
    m.ref = (wf_attempt_ref_t){ UINT64_MAX, 1999999, UINT32_MAX };
    m.exit_code = -9;
    strcpy(m.message, "killed by signal 9");
    s_emit(&m, "valid-failed");

    wf_msg_init(&m, WF_MSG_WELCOME);
    m.heartbeat_ms = 1000;
    m.liveness = 3;
    s_emit(&m, "valid-welcome");

    wf_msg_init(&m, WF_MSG_JOB);
    m.ref = (wf_attempt_ref_t){ 300, 7, 2 };
    strcpy(m.job, "compile_a");
    strcpy(m.type, "shell");
    m.payload = payload;
    m.payload_len = sizeof payload - 1;
    m.timeout_ms = 60000;
    s_emit(&m, "valid-job");
    size_t job_len;
    uint8_t *job = s_encode(&m, &job_len);

    wf_msg_init(&m, WF_MSG_CANCEL);
    m.ref = (wf_attempt_ref_t){ 1, 0, 1 };
    s_emit(&m, "valid-cancel");
    wf_msg_init(&m, WF_MSG_ACK);
    m.ref = (wf_attempt_ref_t){ 1, 0, 1 };
    s_emit(&m, "valid-ack");

    wf_msg_init(&m, WF_MSG_ERROR);
    m.code = WEFT_EVERSION;
    strcpy(m.message, "version 2 not supported (this peer speaks 1..1)");
    s_emit(&m, "valid-error");

    wf_msg_init(&m, WF_MSG_LOGREQ);
    m.corr = 12;
    m.ref = (wf_attempt_ref_t){ 300, 7, 2 };
    strcpy(m.job, "compile_a");
    strcpy(m.stream, "err");
    m.offset = 65536;
    m.max = 1u << 20;
    s_emit(&m, "valid-logreq");
    size_t logreq_len;
    uint8_t *logreq = s_encode(&m, &logreq_len);

    wf_msg_init(&m, WF_MSG_LOGDATA);
    m.corr = 12;
    m.size = 65542;
    m.data = (const uint8_t *)"done.\n";
    m.data_len = 6;
    s_emit(&m, "valid-logdata");
    wf_msg_init(&m, WF_MSG_LOGDATA);
    m.corr = 13;
    m.code = WEFT_ENOTFOUND;
    s_emit(&m, "valid-logdata-notfound");
    size_t logdata_len;
    uint8_t *logdata = s_encode(&m, &logdata_len);

    /* Malformed: each just past one check. */
    static const uint8_t bad_sig[] = { 0x93, 0xa4, 'W', 'E', 'F', 'X', 0x01, 0x02 };
    s_write("bad-signature", bad_sig, sizeof bad_sig);
    static const uint8_t other_version[] = { 0x93, 0xa4, 'W', 'E', 'F', 'T', 0x02, 0x02 };
    s_write("bad-other-version", other_version, sizeof other_version);
    static const uint8_t unknown_kind[] = { 0x93, 0xa4, 'W', 'E', 'F', 'T', 0x01, 0x63 };
    s_write("bad-unknown-kind", unknown_kind, sizeof unknown_kind);
    static const uint8_t huge[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0xa4, 'W', 'E', 'F', 'T',
                                    0x01, 0x02 };
    s_write("bad-huge-array32", huge, sizeof huge);
    uint8_t deep[WF_MAX_DEPTH + 2];
    memset(deep, 0x91, sizeof deep);
    deep[sizeof deep - 1] = 0x01;
    s_write("bad-deep-nesting", deep, sizeof deep);

    s_write("bad-truncated-job", job, job_len - 3);
    uint8_t *trail = malloc(job_len + 1);
    memcpy(trail, job, job_len);
    trail[job_len] = 0xc0;
    s_write("bad-trailing-bytes", trail, job_len + 1);
    free(trail);

    /* HELLO with a space in its first type name: "shell" -> "sh ll". */
    uint8_t *p = memmem(hello, hello_len, "shell", 5);
    if (p)
        p[2] = ' ';
    s_write("bad-hello-type-name", hello, hello_len);
    free(hello);

    /* FAILED whose message carries a NUL. */
    wf_msg_init(&m, WF_MSG_FAILED);
    m.ref = (wf_attempt_ref_t){ 3, 0, 1 };
    m.exit_code = 1;
    strcpy(m.message, "exit 1");
    size_t failed_len;
    uint8_t *failed = s_encode(&m, &failed_len);
    failed[failed_len - 2] = '\0';
    s_write("bad-message-nul", failed, failed_len);
    free(failed);
    free(job);

    /* LOGREQ for the stream "ers" (not out or err). */
    p = memmem(logreq, logreq_len, "err", 3);
    if (p)
        p[2] = 's';
    s_write("bad-logreq-stream", logreq, logreq_len);
    free(logreq);
    /* LOGDATA "no such log" that claims a size: an error carries none (its size is 0, the
     * byte before the empty bin). */
    logdata[logdata_len - 3] = 0x05;
    s_write("bad-logdata-error-with-size", logdata, logdata_len);
    free(logdata);
    return 0;
}
