/*
 * bench/floor.c -- the spawn floor: run shell commands with at most P at a time and nothing else.
 *
 *     floor [-j P] [-C DIR] FILE         run the jobs of FILE as a minimal make
 *     floor [-j P] [-C DIR] -n N CMD     run CMD N times ("{}" in CMD becomes 0..N-1)
 *     floor -m OUT PROG [ARG]...         measure: run PROG, write its wall time and peak RSS
 *
 * FILE is what `bench/gen.py --format deps` writes: one line per job, `ID TAB COMMAND TAB PARENTS`,
 * PARENTS being ids separated by spaces (possibly none).  A job starts as soon as all its parents
 * have exited with status 0, in file order among the ready ones; each runs as
 * posix_spawn("/bin/sh", "-c", COMMAND) with this process's stdio and environment, and is reaped
 * with waitpid.  That is the cost of the processes themselves and the least bookkeeping an
 * engine honouring the same dependencies needs: no engine running these commands can beat it.
 * bench/compare.py times this program against weft, make and ninja.
 *
 * Invariants: every job is spawned at most once, never before its parents are done, and never
 * with more than P running.  A job that fails (non-zero exit or signal) stops new spawns; the
 * running ones are waited for and floor exits 1.  Bad input (unknown parent, duplicate id, a
 * cycle, a malformed line) exits 2 before or instead of running anything it cannot honour.
 *
 * Workload: up to a few million jobs; the file is read whole, ids are resolved through one
 * open-addressing hash table, children are kept in one CSR array: O(jobs + edges) time and memory
 * and no allocation while jobs run.
 *
 * The -m mode is not part of the floor: it is how bench/compare.py measures every engine (this
 * program included).  ru_maxrss survives exec: a process forked from the Python runner would
 * report the runner's own 17 MB as its peak.  So the engine is started from this small process
 * instead, and its rusage (the engine and, by the kernel's rule, the largest of its reaped
 * children) is read here with wait4.  OUT gets one line, `WALL_SECONDS MAXRSS_KB EXIT_STATUS`
 * (a death by signal S is 128+S), and floor exits with that status.
 *
 * Build: cc -O2 -o floor bench/floor.c (bench/run and bench/compare.py do it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

typedef struct {
    pid_t pid;
    uint32_t job;
} s_slot_t;

static void *
s_alloc(size_t n)
{
    void *p = calloc(n ? n : 1, 1);
    if (!p) {
        fputs("floor: out of memory\n", stderr);
        abort();
    }
    return p;
}

static void
s_usage(void)
{
    fputs("usage: floor [-j P] [-C DIR] FILE        run FILE (ID TAB CMD TAB PARENTS per line)\n"
          "       floor [-j P] [-C DIR] -n N CMD    run CMD N times, {} replaced by 0..N-1\n"
          "       floor -m OUT PROG [ARG]...        run PROG; write 'WALL_S MAXRSS_KB STATUS' to OUT\n",
          stderr);
    exit(2);
}

static uint64_t
s_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: ids are short, this is enough */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The jobs, parsed in place in the file's buffer. */
typedef struct {
    uint32_t n;
    char **id;
    char **cmd;
    char **parents;     /* the PARENTS field of each line, tokenised in the second pass */
    uint32_t *pending;  /* parents not yet done */
    uint32_t *child_at; /* CSR: children of j are child[child_at[j] .. child_at[j + 1]) */
    uint32_t *child;
    uint32_t *table; /* hash table of job index + 1; 0 is empty */
    size_t mask;
    char *buf; /* the file; every string above points into it */
} s_jobs_t;

static void
s_jobs_fini(s_jobs_t *g)
{
    free(g->id);
    free(g->cmd);
    free(g->parents);
    free(g->pending);
    free(g->child_at);
    free(g->child);
    free(g->table);
    free(g->buf);
    *g = (s_jobs_t){0};
}

static uint32_t
s_find(const s_jobs_t *g, const char *id)
{
    size_t len = strlen(id);
    for (size_t at = s_hash(id, len) & g->mask;; at = (at + 1) & g->mask) {
        uint32_t v = g->table[at];
        if (v == 0 || strcmp(g->id[v - 1], id) == 0)
            return v; /* index + 1, or 0: unknown */
    }
}

/* Read FILE into g; returns 0, or prints why and returns -1. */
static int
s_load(const char *path, s_jobs_t *g)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "floor: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    char *buf = g->buf = s_alloc(size + 2);
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r <= 0) {
            fprintf(stderr, "floor: %s: %s\n", path, r < 0 ? strerror(errno) : "short read");
            close(fd);
            return -1;
        }
        got += (size_t)r;
    }
    close(fd);
    if (size > 0 && buf[size - 1] != '\n')
        buf[size++] = '\n';

    uint32_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += buf[i] == '\n';
    g->id = s_alloc(lines * sizeof *g->id);
    g->cmd = s_alloc(lines * sizeof *g->cmd);
    g->parents = s_alloc(lines * sizeof *g->parents);
    size_t cap = 16;
    while (cap < 2 * (size_t)lines)
        cap <<= 1;
    g->mask = cap - 1;
    g->table = s_alloc(cap * sizeof *g->table);

    /* First pass: split each line into its three fields and index the ids. */
    char *p = buf, *end = buf + size;
    uint32_t lineno = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        *nl = '\0';
        lineno++;
        if (p == nl) { /* blank line */
            p = nl + 1;
            continue;
        }
        char *t1 = strchr(p, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2 || t1 == p || t2 == t1 + 1) {
            fprintf(stderr, "floor: %s:%u: want ID TAB COMMAND TAB PARENTS\n", path, lineno);
            return -1;
        }
        *t1 = *t2 = '\0';
        uint32_t j = g->n++;
        g->id[j] = p;
        g->cmd[j] = t1 + 1;
        g->parents[j] = t2 + 1;
        size_t at = s_hash(p, (size_t)(t1 - p)) & g->mask;
        for (; g->table[at]; at = (at + 1) & g->mask) {
            if (strcmp(g->id[g->table[at] - 1], p) == 0) {
                fprintf(stderr, "floor: %s:%u: duplicate id '%s'\n", path, lineno, p);
                return -1;
            }
        }
        g->table[at] = j + 1;
        p = nl + 1;
    }

    /* Second pass: resolve the parents, counting each job's children, then fill the CSR. */
    g->pending = s_alloc(g->n * sizeof *g->pending);
    g->child_at = s_alloc(((size_t)g->n + 1) * sizeof *g->child_at);
    uint64_t edges = 0;
    for (uint32_t j = 0; j < g->n; j++) {
        char *save = NULL;
        char *tail = g->parents[j];
        /* strtok_r ends each id with a NUL in place; the CSR pass below walks them again. */
        for (char *tok = strtok_r(tail, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
            uint32_t v = s_find(g, tok);
            if (!v) {
                fprintf(stderr, "floor: job '%s' needs unknown job '%s'\n", g->id[j], tok);
                return -1;
            }
            g->child_at[v - 1]++;
            g->pending[j]++;
            edges++;
        }
    }
    if (edges > UINT32_MAX) {
        fputs("floor: too many edges\n", stderr);
        return -1;
    }
    uint32_t sum = 0;
    for (uint32_t j = 0; j <= g->n; j++) {
        uint32_t c = g->child_at[j];
        g->child_at[j] = sum;
        sum += c;
    }
    g->child = s_alloc((size_t)edges * sizeof *g->child);
    uint32_t *fill = s_alloc(((size_t)g->n + 1) * sizeof *fill);
    memcpy(fill, g->child_at, ((size_t)g->n + 1) * sizeof *fill);
    for (uint32_t j = 0; j < g->n; j++) {
        /* Walk the tokens strtok_r left behind: NUL-separated, as many as pending[j]. */
        char *tok = g->parents[j];
        for (uint32_t k = 0; k < g->pending[j]; k++) {
            while (*tok == ' ' || *tok == '\0')
                tok++;
            uint32_t v = s_find(g, tok);
            g->child[fill[v - 1]++] = j;
            tok += strlen(tok);
        }
    }
    free(fill);
    return 0;
}

static pid_t
s_spawn(const char *cmd)
{
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "floor: posix_spawn: %s\n", strerror(rc));
        return -1;
    }
    return pid;
}

/* Wait for one child; return its slot index and set *ok, or -1 on error. */
static int
s_reap(s_slot_t *slots, int running, int *ok)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, 0)) < 0 && errno == EINTR)
        ;
    if (pid < 0) {
        fprintf(stderr, "floor: waitpid: %s\n", strerror(errno));
        return -1;
    }
    *ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    for (int i = 0; i < running; i++) {
        if (slots[i].pid == pid)
            return i;
    }
    return s_reap(slots, running, ok); /* not ours (cannot happen: we start every child) */
}

static int
s_run_graph(s_jobs_t *g, int par)
{
    uint32_t *ready = s_alloc(((size_t)g->n + 1) * sizeof *ready); /* FIFO; each job enters once */
    uint32_t head = 0, tail = 0, done = 0;
    for (uint32_t j = 0; j < g->n; j++) {
        if (g->pending[j] == 0)
            ready[tail++] = j;
    }
    s_slot_t *slots = s_alloc((size_t)par * sizeof *slots);
    int running = 0, failed = 0;
    for (;;) {
        while (!failed && running < par && head < tail) {
            uint32_t j = ready[head++];
            pid_t pid = s_spawn(g->cmd[j]);
            if (pid < 0) {
                failed = 1;
                break;
            }
            slots[running++] = (s_slot_t){pid, j};
        }
        if (running == 0)
            break;
        int ok;
        int i = s_reap(slots, running, &ok);
        if (i < 0)
            return 2;
        uint32_t j = slots[i].job;
        slots[i] = slots[--running];
        if (!ok) {
            fprintf(stderr, "floor: job '%s' failed\n", g->id[j]);
            failed = 1;
            continue;
        }
        done++;
        for (uint32_t c = g->child_at[j]; c < g->child_at[j + 1]; c++) {
            uint32_t k = g->child[c];
            if (--g->pending[k] == 0)
                ready[tail++] = k;
        }
    }
    free(slots);
    free(ready);
    if (failed)
        return 1;
    if (done != g->n) {
        fprintf(stderr, "floor: %u of %u jobs never became ready: the needs form a cycle\n",
                g->n - done, g->n);
        return 2;
    }
    return 0;
}

/* CMD with every "{}" replaced by i, in buf (big enough: see s_run_pattern). */
static void
s_expand(char *buf, const char *cmd, unsigned long i)
{
    char num[24];
    int nlen = snprintf(num, sizeof num, "%lu", i);
    for (const char *s = cmd; *s;) {
        if (s[0] == '{' && s[1] == '}') {
            memcpy(buf, num, (size_t)nlen);
            buf += nlen;
            s += 2;
        } else {
            *buf++ = *s++;
        }
    }
    *buf = '\0';
}

static int
s_run_pattern(unsigned long n, const char *cmd, int par)
{
    size_t holes = 0;
    for (const char *s = cmd; (s = strstr(s, "{}")); s += 2)
        holes++;
    char *buf = s_alloc(strlen(cmd) + holes * 22 + 1);
    s_slot_t *slots = s_alloc((size_t)par * sizeof *slots);
    unsigned long next = 0;
    int running = 0, failed = 0;
    for (;;) {
        while (!failed && running < par && next < n) {
            s_expand(buf, cmd, next);
            pid_t pid = s_spawn(buf);
            if (pid < 0) {
                failed = 1;
                break;
            }
            slots[running++] = (s_slot_t){pid, (uint32_t)next++};
        }
        if (running == 0)
            break;
        int ok;
        int i = s_reap(slots, running, &ok);
        if (i < 0)
            return 2;
        if (!ok) {
            fprintf(stderr, "floor: run %u failed\n", slots[i].job);
            failed = 1;
        }
        slots[i] = slots[--running];
    }
    free(slots);
    free(buf);
    return failed;
}

static int
s_measure(const char *out, char **argv)
{
    struct timespec t0, t1;
    pid_t pid;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "floor: %s: %s\n", argv[0], strerror(rc));
        return 127;
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "floor: wait4: %s\n", strerror(errno));
            return 2;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    FILE *f = fopen(out, "w");
    if (!f || fprintf(f, "%.6f %ld %d\n", wall, ru.ru_maxrss, code) < 0 || fclose(f) != 0) {
        fprintf(stderr, "floor: -m %s: %s\n", out, strerror(errno));
        return 2;
    }
    return code;
}

static long
s_number(const char *s, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "floor: %s must be an integer from %ld to %ld, got '%s'\n", what, lo, hi, s);
        exit(2);
    }
    return v;
}

int
main(int argc, char **argv)
{
    int par = 2;
    long n = -1;
    const char *measure = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "+j:C:n:m:h")) != -1) {
        switch (opt) {
        case 'm':
            measure = optarg;
            break;
        case 'j':
            par = (int)s_number(optarg, 1, 4096, "-j");
            break;
        case 'C':
            if (chdir(optarg) != 0) {
                fprintf(stderr, "floor: -C %s: %s\n", optarg, strerror(errno));
                return 2;
            }
            break;
        case 'n':
            n = s_number(optarg, 0, UINT32_MAX, "-n");
            break;
        default:
            s_usage();
        }
    }
    if (measure && optind < argc)
        return s_measure(measure, argv + optind);
    if (optind != argc - 1)
        s_usage();
    if (n >= 0)
        return s_run_pattern((unsigned long)n, argv[optind], par);
    s_jobs_t g = {0};
    int rc = s_load(argv[optind], &g) == 0 ? s_run_graph(&g, par) : 2;
    s_jobs_fini(&g);
    return rc;
}
