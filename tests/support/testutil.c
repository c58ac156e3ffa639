/* testutil.c -- see testutil.h. */
#include "testutil.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

char *
wf_test_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/weft-%s-XXXXXX", base && *base ? base : "/tmp", tag ? tag : "t");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        abort();
    }
    return strdup(buf);
}

static int
s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void
wf_test_rmtree(const char *path)
{
    if (path)
        nftw(path, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}

char *
wf_test_endpoint(const char *transport)
{
    static int counter;
    char buf[256];
    if (transport && strcmp(transport, "ipc") == 0)
        snprintf(buf, sizeof buf, "ipc:///tmp/weft-test-%d-%d.sock", (int)getpid(), ++counter);
    else
        snprintf(buf, sizeof buf, "inproc://weft-test-%d-%d", (int)getpid(), ++counter);
    return strdup(buf);
}

int64_t
wf_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
wf_test_wait(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
    int64_t end = wf_test_now_ms() + timeout_ms;
    while (!cond(arg)) {
        if (wf_test_now_ms() >= end)
            return cond(arg);
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return true;
}
