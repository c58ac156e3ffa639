/*
 * weft_test_worker.c -- a consumer in a process of its own, for process_test (real processes,
 * real signals).
 *
 *     weft_test_worker ENDPOINT TYPE MODE [SLOTS]
 *
 * Connects a weft_worker_t to ENDPOINT (an endpoint the engine under test binds with
 * WEFT_OPT_BOARD_BIND) and serves TYPE with the handler MODE picks:
 *   block  appends "started <job id> <attempt>\n" to the file named by $WEFT_TEST_MARK (fsync'd,
 *          so the test may read it as soon as it is there), then loops until the attempt is
 *          cancelled or the process gets SIGUSR1; it then sets the result "remote", appends
 *          "finished <job id> <attempt>\n" and returns 0.  Returning 0 with a result is on
 *          purpose: if the engine ever accepted that late report the test would see "remote".
 *   ok     appends "<job id>\n" to $WEFT_TEST_LOG and returns 0.
 * Every mode also serves the type "probe" with a handler that returns 0 at once: the test
 * routes a probe job to this process only, and its completion proves that everything this
 * worker sent before reached the board (one connection delivers in order).
 *
 * Signals: SIGTERM destroys the worker (which cancels running attempts and waits for them)
 * and exits 0; SIGUSR1 releases blocked handlers.  Both are blocked in every thread and taken
 * by sigwait() in main, so no handler code runs in signal context.  SIGSTOP / SIGCONT / SIGKILL
 * are the test's business and need nothing here.
 *
 * Exit codes: 0 after SIGTERM, 2 for bad usage, 3 if the worker cannot start.
 */
#include <weft/weft.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_bool s_released;

/* Append one line to path and fsync it.  Returns 0 or -1 (errno set). */
static int
s_append_line(const char *path, const char *line)
{
    if (!path || !*path) {
        errno = EINVAL;
        return -1;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t len = strlen(line);
    /* One write per line: O_APPEND makes it land whole, so a reader never sees half a line
     * from us (a line is far below any pipe or page size). */
    ssize_t n = write(fd, line, len);
    int rc = (n == (ssize_t)len && fsync(fd) == 0) ? 0 : -1;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static int
s_block(weft_job_t *job, void *arg)
{
    (void)arg;
    const char *mark = getenv("WEFT_TEST_MARK");
    char line[WEFT_MAX_ID + 64];
    snprintf(line, sizeof line, "started %s %u\n", weft_job_id(job), weft_job_attempt(job));
    if (s_append_line(mark, line) != 0) {
        fprintf(stderr, "weft_test_worker: cannot write $WEFT_TEST_MARK (%s): %s\n",
                mark ? mark : "unset", strerror(errno));
        return 1;
    }
    while (!weft_job_cancelled(job) && !atomic_load(&s_released)) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    weft_job_set_result(job, "remote", 6);
    snprintf(line, sizeof line, "finished %s %u\n", weft_job_id(job), weft_job_attempt(job));
    if (s_append_line(mark, line) != 0)
        fprintf(stderr, "weft_test_worker: cannot write $WEFT_TEST_MARK: %s\n", strerror(errno));
    return 0;
}

static int
s_ok(weft_job_t *job, void *arg)
{
    (void)arg;
    const char *log = getenv("WEFT_TEST_LOG");
    char line[WEFT_MAX_ID + 2];
    snprintf(line, sizeof line, "%s\n", weft_job_id(job));
    if (s_append_line(log, line) != 0) {
        fprintf(stderr, "weft_test_worker: cannot write $WEFT_TEST_LOG (%s): %s\n",
                log ? log : "unset", strerror(errno));
        return 1;
    }
    return 0;
}

static int
s_probe(weft_job_t *job, void *arg)
{
    (void)job;
    (void)arg;
    return 0;
}

static int
s_usage(void)
{
    fputs("usage: weft_test_worker ENDPOINT TYPE block|ok [SLOTS]\n", stderr);
    return 2;
}

int
main(int argc, char **argv)
{
    if (argc < 4 || argc > 5)
        return s_usage();
    const char *endpoint = argv[1], *type = argv[2], *mode = argv[3];
    weft_handler_fn *fn = NULL;
    if (strcmp(mode, "block") == 0)
        fn = s_block;
    else if (strcmp(mode, "ok") == 0)
        fn = s_ok;
    else
        return s_usage();
    unsigned slots = 1;
    if (argc == 5) {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(argv[4], &end, 10);
        if (errno || end == argv[4] || *end || v == 0 || v > 4096)
            return s_usage();
        slots = (unsigned)v;
    }

    /* Before any thread exists, so every thread weft starts inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return 3;

    weft_worker_t *w = NULL;
    int rc = weft_worker_new(&w, endpoint, NULL);
    if (rc == WEFT_OK)
        rc = weft_worker_register(w, type, fn, NULL);
    if (rc == WEFT_OK && strcmp(type, "probe") != 0)
        rc = weft_worker_register(w, "probe", s_probe, NULL);
    if (rc == WEFT_OK)
        rc = weft_worker_start(w, slots);
    if (rc != WEFT_OK) {
        fprintf(stderr, "weft_test_worker: cannot start a worker on %s: %s\n", endpoint,
                weft_strerror(rc));
        weft_worker_destroy(&w);
        return 3;
    }

    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGUSR1) {
            atomic_store(&s_released, true);
            continue;
        }
        break; /* SIGTERM */
    }
    weft_worker_destroy(&w);
    return 0;
}
