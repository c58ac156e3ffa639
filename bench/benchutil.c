/*
 * benchutil.c -- the helpers of benchutil.h: clocks, percentiles, memory figures, the machine's
 * description, scratch directories and the graph shapes.
 *
 * Graphs are produced by a visitor rather than as arrays so a 10^6-job graph costs nothing
 * beyond what its consumer (a request builder, a YAML writer) keeps.
 */
#include "benchutil.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "wf_limits.h"

void
wf_bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

int64_t
wf_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int64_t
wf_bench_quantile(int64_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, s_cmp_i64);
    /* Nearest rank: the smallest value with at least q of the sample at or below it. */
    size_t rank = (size_t)ceil(q * (double)n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

long
wf_bench_peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

long
wf_bench_rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int64_t
wf_bench_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static const char *
s_fs_name(long type)
{
    switch ((unsigned long)type) {
    case 0xEF53UL:
        return "ext2/3/4";
    case 0x58465342UL:
        return "xfs";
    case 0x9123683EUL:
        return "btrfs";
    case 0x01021994UL:
        return "tmpfs";
    case 0x794C7630UL:
        return "overlayfs";
    case 0x2FC12FC1UL:
        return "zfs";
    case 0x6969UL:
        return "nfs";
    case 0x65735546UL:
        return "fuse";
    case 0xF2F52010UL:
        return "f2fs";
    default:
        return "other";
    }
}

void
wf_bench_print_machine(FILE *out, const char *dir)
{
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                const char *p = strchr(line, ':');
                if (p) {
                    p++;
                    while (*p == ' ' || *p == '\t')
                        p++;
                    snprintf(model, sizeof model, "%s", p);
                    model[strcspn(model, "\n")] = 0;
                }
                break;
            }
        }
        fclose(f);
    }
    struct utsname u;
    if (uname(&u) != 0)
        memset(&u, 0, sizeof u);
    struct statfs sf;
    const char *fs = "unknown";
    char fsbuf[64] = "";
    if (statfs(dir, &sf) == 0) {
        fs = s_fs_name((long)sf.f_type);
        snprintf(fsbuf, sizeof fsbuf, " (magic 0x%lx)", (unsigned long)sf.f_type);
    }
    fprintf(out, "machine: %ld cores (nproc), CPU %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
    fprintf(out, "machine: kernel %s %s %s\n", u.sysname, u.release, u.machine);
    fprintf(out, "machine: state directories under %s on %s%s\n", dir, fs, fsbuf);
    fprintf(out, "machine: weft %d.%d.%d\n", WEFT_VERSION_MAJOR, WEFT_VERSION_MINOR,
            WEFT_VERSION_PATCH);
}

void
wf_bench_print_header(const char *title)
{
    printf("== %s ==\n", title);
    wf_bench_print_machine(stdout, wf_bench_base_dir());
    fflush(stdout);
}

const char *
wf_bench_base_dir(void)
{
    const char *base = getenv("WEFT_BENCH_DIR");
    if (!base || !*base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    return base;
}

char *
wf_bench_tmpdir(const char *tag)
{
    const char *base = wf_bench_base_dir();
    size_t n = strlen(base) + strlen(tag) + 32;
    char *p = malloc(n);
    if (!p)
        abort();
    snprintf(p, n, "%s/weft-bench-%s-XXXXXX", base, tag);
    if (!mkdtemp(p))
        wf_bench_die("cannot make a directory %s: %s", p, strerror(errno));
    return p;
}

static int
s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void
wf_bench_rmtree(const char *path)
{
    if (path && *path)
        nftw(path, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}

bool
wf_bench_quick(void)
{
    const char *m = getenv("WEFT_BENCH_MODE");
    return m && strcmp(m, "quick") == 0;
}

const char *
wf_bench_verdict(bool pass)
{
    return pass ? "PASS" : "MISS";
}

long
wf_bench_parse_count(const char *s)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || end == s || *end || d < 0 || d > 1e9 || d != floor(d))
        return -1;
    return (long)d;
}

long
wf_bench_count_arg(const char *s, long min, long max)
{
    long v = wf_bench_parse_count(s);
    if (v < min || v > max)
        wf_bench_die("bad count '%s'", s);
    return v;
}

size_t
wf_bench_default_sizes(long *v)
{
    v[0] = 10000;
    v[1] = 100000;
    v[2] = 1000000;
    return wf_bench_quick() ? 2 : 3;
}

size_t
wf_bench_parse_counts(const char *s, long *v, size_t cap, long min, long max)
{
    size_t n = 0;
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf)
        return 0; /* cut short, its last count could pass for another */
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        long c = wf_bench_parse_count(tok);
        if (c < min || c > max || n >= cap) /* min >= 1 refuses a malformed one (-1) too */
            return 0;
        v[n++] = c;
    }
    return n;
}

int
wf_bench_getopt(int argc, char **argv, const struct option *longopts, void (*usage)(FILE *out))
{
    int c = getopt_long(argc, argv, "h", longopts, NULL);
    if (c == 'h') {
        usage(stdout);
        exit(0);
    }
    if (c == '?' || (c == -1 && optind != argc)) {
        usage(stderr);
        exit(2);
    }
    return c;
}

const char *
wf_bench_shape_name(wf_bench_shape shape)
{
    return shape == WF_BENCH_CHAIN ? "chain" : shape == WF_BENCH_LATTICE ? "lattice" : "wide";
}

bool
wf_bench_shape_parse(const char *s, wf_bench_shape *out)
{
    for (int i = WF_BENCH_WIDE; i <= WF_BENCH_LATTICE; i++)
        if (strcmp(s, wf_bench_shape_name((wf_bench_shape)i)) == 0) {
            *out = (wf_bench_shape)i;
            return true;
        }
    return false;
}

/* xorshift64*: a fixed seed makes the lattice the same graph in every run and program. */
static uint64_t
s_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* Jobs j0 .. j(n-1). */
static int
s_jobs(uint32_t n, wf_bench_job_fn *job, void *arg)
{
    char id[32];
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        snprintf(id, sizeof id, "j%u", i);
        rc = job(i, id, arg);
    }
    return rc;
}

static int
s_wide(uint32_t n, wf_bench_job_fn *job, wf_bench_need_fn *need, void *arg)
{
    if (n == 1)
        return job(0, "j0", arg);
    uint32_t per = WF_MAX_NEEDS_PER_JOB;
    uint32_t groups = n - 1 <= per ? 0 : (n - 1 + per - 1) / per;
    uint32_t leaves = n - 1 - groups;
    char id[32], parent[32];
    int rc = s_jobs(leaves, job, arg);
    for (uint32_t g = 0; g < groups && !rc; g++) {
        snprintf(id, sizeof id, "join%u", g);
        rc = job(leaves + g, id, arg);
    }
    if (!rc)
        rc = job(n - 1, "join", arg);
    for (uint32_t i = 0; i < leaves && !rc; i++) {
        snprintf(parent, sizeof parent, "j%u", i);
        if (groups) {
            snprintf(id, sizeof id, "join%u", i / per);
            rc = need(leaves + i / per, id, i, parent, arg);
        } else {
            rc = need(n - 1, "join", i, parent, arg);
        }
    }
    for (uint32_t g = 0; g < groups && !rc; g++) {
        snprintf(parent, sizeof parent, "join%u", g);
        rc = need(n - 1, "join", leaves + g, parent, arg);
    }
    return rc;
}

static int
s_chain(uint32_t n, wf_bench_job_fn *job, wf_bench_need_fn *need, void *arg)
{
    char id[32], parent[32];
    int rc = s_jobs(n, job, arg);
    for (uint32_t i = 1; i < n && !rc; i++) {
        snprintf(id, sizeof id, "j%u", i);
        snprintf(parent, sizeof parent, "j%u", i - 1);
        rc = need(i, id, i - 1, parent, arg);
    }
    return rc;
}

static int
s_lattice(uint32_t n, wf_bench_job_fn *job, wf_bench_need_fn *need, void *arg)
{
    uint32_t w = (uint32_t)ceil(sqrt((double)n));
    if (w < 1)
        w = 1;
    char id[32], parent[32];
    int rc = s_jobs(n, job, arg);
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (uint32_t i = w; i < n && !rc; i++) {
        uint32_t prev = (i / w - 1) * w; /* first job of the layer before; that layer is full */
        uint32_t a = prev + (uint32_t)(s_rand(&seed) % w);
        uint32_t b = prev + (uint32_t)(s_rand(&seed) % (w - (w > 1)));
        if (w > 1 && b >= a)
            b++; /* a second parent, distinct from the first */
        snprintf(id, sizeof id, "j%u", i);
        snprintf(parent, sizeof parent, "j%u", a);
        rc = need(i, id, a, parent, arg);
        if (!rc && w > 1) {
            snprintf(parent, sizeof parent, "j%u", b);
            rc = need(i, id, b, parent, arg);
        }
    }
    return rc;
}

int
wf_bench_graph(wf_bench_shape shape, uint32_t n, wf_bench_job_fn *job, wf_bench_need_fn *need,
               void *arg)
{
    if (n == 0)
        return 0;
    switch (shape) {
    case WF_BENCH_CHAIN:
        return s_chain(n, job, need, arg);
    case WF_BENCH_LATTICE:
        return s_lattice(n, job, need, arg);
    default:
        return s_wide(n, job, need, arg);
    }
}

typedef struct s_build {
    weft_request_t *req;
    const char *type;
} s_build_t;

static int
s_build_job(uint32_t idx, const char *id, void *arg)
{
    (void)idx;
    s_build_t *b = arg;
    int rc = weft_request_add_job(b->req, id, b->type, NULL, 0);
    if (rc != WEFT_OK)
        wf_bench_die("add job %s: %s", id, weft_strerror(rc));
    return 0;
}

static int
s_build_need(uint32_t child_idx, const char *child, uint32_t parent_idx, const char *parent,
             void *arg)
{
    (void)child_idx;
    (void)parent_idx;
    s_build_t *b = arg;
    int rc = weft_request_add_need(b->req, child, parent);
    if (rc != WEFT_OK)
        wf_bench_die("add need %s -> %s: %s", child, parent, weft_strerror(rc));
    return 0;
}

weft_request_t *
wf_bench_request(wf_bench_shape shape, uint32_t n, const char *type)
{
    s_build_t b = {NULL, type};
    char name[64];
    snprintf(name, sizeof name, "bench-%s-%u", wf_bench_shape_name(shape), n);
    int rc = weft_request_new(&b.req, name);
    if (rc != WEFT_OK)
        wf_bench_die("request new: %s", weft_strerror(rc));
    wf_bench_graph(shape, n, s_build_job, s_build_need, &b);
    return b.req;
}

long
wf_bench_id_index(const char *id)
{
    if (!id || id[0] != 'j' || id[1] < '0' || id[1] > '9')
        return -1;
    char *end = NULL;
    long v = strtol(id + 1, &end, 10);
    return *end ? -1 : v;
}
