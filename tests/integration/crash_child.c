/*
 * crash_child.c -- an engine in a process of its own, for process_test to SIGKILL mid-run.
 *
 *     weft_test_crash_child STATE_DIR LOG N THREADS
 *
 * Opens an engine on STATE_DIR, serves the type "append" with THREADS local consumers (the
 * handler appends "<job id>\n" to LOG with O_APPEND and fsync, then returns 0), and:
 *   - if STATE_DIR holds no request yet, submits one: a lattice of N jobs in 10 layers of N/10,
 *     each job of layer l > 0 needing 2 distinct jobs of layer l - 1 picked by a fixed-seed
 *     generator (so every run builds the same graph);
 *   - otherwise follows the request already there (the engine resumed it at open).
 * It prints the request id on stdout ("<id>\n", flushed) and waits for ever; the test kills it.
 *
 * Invariant the test relies on: a line is in LOG only after the engine handed the job out, and
 * that hand-out was durable before it was sent (durable before visible), so every id in LOG
 * was at least RUNNING in the store when the line was written.  Job ids are "L<layer>.<index>".
 *
 * If the request ends before the kill (a test that waited too long), it says so on stderr and
 * still waits to be killed, so the test always meets the same kind of exit.
 *
 * Exit codes: 2 bad usage, 3 engine error; otherwise it only ends by a signal.
 */
#include <weft/weft.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_LAYERS 10u
#define S_SEED 0x9e3779b97f4a7c15ull

static int
s_append(weft_job_t *job, void *arg)
{
    const char *log = arg;
    char line[WEFT_MAX_ID + 2];
    int len = snprintf(line, sizeof line, "%s\n", weft_job_id(job));
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "weft_test_crash_child: cannot open %s: %s\n", log, strerror(errno));
        return 1;
    }
    /* One write per line: O_APPEND lands it whole; fsync before the DONE report goes out,
     * so the line is on disk before the engine can record the job as done. */
    int rc = (write(fd, line, (size_t)len) == len && fsync(fd) == 0) ? 0 : 1;
    close(fd);
    return rc;
}

static uint64_t
s_next(uint64_t *state)
{
    /* xorshift64*: a fixed, portable sequence (rand() differs between C libraries). */
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static int
s_count_one(const weft_request_info_t *info, void *arg)
{
    weft_reqid_t *id = arg;
    *id = info->id;
    return 1; /* one is enough */
}

static int
s_submit_lattice(weft_engine_t *eng, unsigned n, weft_reqid_t *id_p)
{
    unsigned per = n / S_LAYERS;
    weft_request_t *req = NULL;
    int rc = weft_request_new(&req, "lattice");
    char id[32], parent[32];
    uint64_t rng = S_SEED;
    for (unsigned l = 0; rc == WEFT_OK && l < S_LAYERS; l++) {
        for (unsigned i = 0; rc == WEFT_OK && i < per; i++) {
            snprintf(id, sizeof id, "L%u.%u", l, i);
            rc = weft_request_add_job(req, id, "append", NULL, 0);
            if (rc != WEFT_OK || l == 0)
                continue;
            unsigned a = (unsigned)(s_next(&rng) % per);
            unsigned b = (unsigned)(s_next(&rng) % (per - 1));
            if (b >= a)
                b++; /* distinct from a */
            snprintf(parent, sizeof parent, "L%u.%u", l - 1, a);
            rc = weft_request_add_need(req, id, parent);
            snprintf(parent, sizeof parent, "L%u.%u", l - 1, b);
            if (rc == WEFT_OK)
                rc = weft_request_add_need(req, id, parent);
        }
    }
    if (rc == WEFT_OK)
        rc = weft_request_submit(eng, req, id_p);
    if (rc != WEFT_OK)
        fprintf(stderr, "weft_test_crash_child: cannot submit the lattice: %s (%s)\n",
                weft_strerror(rc), req ? weft_request_errmsg(req) : "");
    weft_request_destroy(&req);
    return rc;
}

static int
s_parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int
main(int argc, char **argv)
{
    unsigned n = 0, threads = 0;
    if (argc != 5 || s_parse_uint(argv[3], 2 * S_LAYERS, 100000, &n) != 0 ||
        s_parse_uint(argv[4], 1, 256, &threads) != 0) {
        fputs("usage: weft_test_crash_child STATE_DIR LOG N THREADS  (N >= 20, a multiple of 10)\n",
              stderr);
        return 2;
    }
    if (n % S_LAYERS != 0) {
        fputs("weft_test_crash_child: N must be a multiple of 10\n", stderr);
        return 2;
    }
    const char *dir = argv[1];
    char *log = argv[2];

    char err[512] = "";
    weft_engine_t *eng = NULL;
    int rc = weft_engine_open(&eng, dir, NULL, err, sizeof err);
    if (rc != WEFT_OK) {
        fprintf(stderr, "weft_test_crash_child: cannot open %s: %s (%s)\n", dir, weft_strerror(rc),
                err);
        return 3;
    }
    rc = weft_engine_register(eng, "append", s_append, log);
    if (rc == WEFT_OK)
        rc = weft_engine_start_consumers(eng, threads);
    weft_reqid_t id = 0;
    if (rc == WEFT_OK)
        rc = weft_request_list(eng, s_count_one, &id);
    if (rc == WEFT_OK && id == 0)
        rc = s_submit_lattice(eng, n, &id);
    if (rc != WEFT_OK) {
        fprintf(stderr, "weft_test_crash_child: %s\n", weft_strerror(rc));
        weft_engine_close(&eng);
        return 3;
    }
    printf("%llu\n", (unsigned long long)id);
    fflush(stdout);

    weft_req_state st = WEFT_REQ_RUNNING;
    rc = weft_request_wait(eng, id, -1, &st);
    fprintf(stderr, "weft_test_crash_child: request %llu ended before the kill: %s, %s\n",
            (unsigned long long)id, weft_strerror(rc), weft_req_state_name(st));
    for (;;)
        pause();
}
