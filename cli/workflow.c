/*
 * workflow.c -- the workflow file loader: reads a YAML file with libfyaml's event parser into a
 * small tree of our own (every node keeps its line and column), checks it strictly against the
 * grammar of docs/workflow-format.md, and reports every problem as a wf_diag_t.  Also turns a
 * loaded workflow into a weft request.
 *
 * Invariants:
 *   - Nothing here prints: libfyaml's diagnostics are collected (fy_diag with collect_errors and
 *     an output callback that drops everything) and re-issued as wf_diag_t.
 *   - No input can crash the loader or make it assert: every size is checked against
 *     proto/wf_limits.h or WF_WORKFLOW_* before anything is allocated from it, every node's kind
 *     and type is checked before its value is read, and nodes that already caused an error are
 *     marked `bad` so that they cause no second, derived error.
 *   - wf_workflow_load returns a workflow only when there is no error; the tree, the parse state
 *     and any partial result are freed on every path.
 *   - Jobs keep file order: jobs[i] is the i-th key of `jobs:`, and becomes job index i.
 *
 * Workload: a file of at most WF_WORKFLOW_MAX_FILE (256 MiB) with up to WF_MAX_JOBS_PER_REQUEST
 * jobs.  Every pass is linear in the file (hash maps for ids and duplicate keys; an iterative
 * Tarjan for cycles, no recursion over jobs); "did you mean" suggestions draw on a bounded
 * budget of edit-distance work so a file full of typos stays fast.
 *
 * Memory, which at 10^6 jobs is what bounds the load (bench/scale.c): the tree comes from one
 * arena, and is freed with the file's text as soon as the jobs have been read from it, before
 * the graph checks.  What the jobs keep (ids, needs, commands...) goes into a second arena that
 * becomes the workflow's: a malloc per string would cost 16 to 32 bytes more each, and the peak
 * (text + tree + jobs) is where a big file is refused or not.
 */
#include "workflow.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libfyaml.h>
#include <limits.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto.h"
#include "shell.h"

/* YAML nesting the loader accepts at all (the grammar itself is at most 4 deep outside `with`,
 * and `with` is limited to WF_MAX_DEPTH); deeper input is refused before it costs anything. */
#define S_MAX_YAML_DEPTH 64

/* Edit-distance cells the "did you mean" suggestions may compute in one load. */
#define S_SUGGEST_BUDGET (20u * 1000u * 1000u)

/* A cycle message names at most this many jobs; longer cycles are shortened with "...". */
#define S_CYCLE_SHOWN 16

/* ------------------------------------------------------------------------------------------ */
/* Allocation: out of memory aborts (docs/decisions/0001-oom-aborts.md).                      */

static void *
s_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

static void *
s_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        abort();
    return p;
}

static void *
s_realloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

static char *
s_strndup(const char *s, size_t n)
{
    char *d = s_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static char *
s_strdup(const char *s)
{
    return s_strndup(s, strlen(s));
}

static char *s_vfmt(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static char *
s_vfmt(const char *fmt, va_list ap)
{
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0)
        abort();
    return out;
}

/* A growable byte buffer (messages, substituted strings). */
typedef struct s_buf {
    char *p;
    size_t len, cap;
} s_buf_t;

static void
s_buf_add(s_buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = s_realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void
s_buf_str(s_buf_t *b, const char *s)
{
    s_buf_add(b, s, strlen(s));
}

/* ------------------------------------------------------------------------------------------ */
/* Diagnostics                                                                                */

void
wf_diags_fini(wf_diags_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].message);
    }
    free(d->v);
    memset(d, 0, sizeof *d);
}

static const char *
s_level_name(wf_diag_level level)
{
    switch (level) {
    case WF_DIAG_WARNING:
        return "warning";
    case WF_DIAG_NOTE:
        return "note";
    default:
        return "error";
    }
}

void
wf_diags_print(const wf_diags_t *d, FILE *out)
{
    if (!d || !out)
        return;
    for (size_t i = 0; i < d->n; i++) {
        const wf_diag_t *g = &d->v[i];
        if (g->line > 0)
            fprintf(out, "%s:%d:%d: %s: %s\n", g->file, g->line, g->col, s_level_name(g->level),
                    g->message);
        else
            fprintf(out, "%s: %s: %s\n", g->file, s_level_name(g->level), g->message);
    }
}

static void
s_diag_push(wf_diags_t *d, wf_diag_level level, const char *file, int line, int col, char *msg)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->v = s_realloc(d->v, d->cap * sizeof *d->v);
    }
    d->v[d->n++] = (wf_diag_t){level, s_strdup(file), line, col, msg};
}

/* ------------------------------------------------------------------------------------------ */
/* Arenas: the tree (lives until the jobs are read) and the workflow's jobs (workflow.h).     */

typedef struct s_chunk {
    struct s_chunk *next;
    size_t used, cap, size; /* size: of the whole mapping */
    max_align_t data[];
} s_chunk_t;

typedef struct wf_wfarena {
    s_chunk_t *head;
} s_arena_t;

/* Mappings start small and double up to S_CHUNK_MAX; only the pages touched count, so a short
 * file costs a page or two and a big one few system calls. */
#define S_CHUNK_MIN ((size_t)64 << 10)
#define S_CHUNK_MAX ((size_t)4 << 20)

/*
 * Chunks are mapped, not malloc'd, so that freeing an arena gives its pages back at once.  A
 * malloc'd chunk mostly ends up in the middle of the heap, below what was allocated after it
 * (a request built from the workflow), and stays resident until a later allocation of the
 * same thread reuses it; what follows a load mostly does not (the engine's copy of a request
 * is one large block, and the engine works on its own thread).  Measured at 10^6 jobs: 40 MB
 * of freed chunks still resident when the request was submitted.
 */
static s_chunk_t *
s_chunk_new(s_chunk_t *prev, size_t n)
{
    size_t size = !prev ? S_CHUNK_MIN : prev->size < S_CHUNK_MAX ? 2 * prev->size : S_CHUNK_MAX;
    if (n > size - sizeof(s_chunk_t)) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        if (n > SIZE_MAX - sizeof(s_chunk_t) - page)
            abort();
        size = (n + sizeof(s_chunk_t) + page - 1) / page * page;
    }
    s_chunk_t *c = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (c == MAP_FAILED)
        abort();
    c->next = prev;
    c->used = 0;
    c->cap = size - sizeof *c;
    c->size = size;
    return c;
}

/* n bytes aligned to `align` (a power of two, at most that of max_align_t). */
static void *
s_arena_alloc_aligned(s_arena_t *a, size_t n, size_t align)
{
    if (a->head)
        a->head->used = (a->head->used + align - 1) & ~(align - 1);
    if (!a->head || a->head->used > a->head->cap || a->head->cap - a->head->used < n)
        a->head = s_chunk_new(a->head, n);
    void *p = (char *)a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

static void *
s_arena_alloc(s_arena_t *a, size_t n)
{
    return s_arena_alloc_aligned(a, n, sizeof(void *));
}

static void *
s_arena_dup(s_arena_t *a, const void *p, size_t n, size_t align)
{
    void *d = s_arena_alloc_aligned(a, n ? n : 1, align);
    if (n)
        memcpy(d, p, n);
    return d;
}

static char *
s_arena_strndup(s_arena_t *a, const char *s, size_t n)
{
    char *d = s_arena_alloc_aligned(a, n + 1, 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static void
s_arena_fini(s_arena_t *a)
{
    while (a->head) {
        s_chunk_t *c = a->head;
        a->head = c->next;
        munmap(c, c->size);
    }
}

/* Node offsets and lengths are 32-bit: a scalar's value is at most 1.5 times its source (the
 * "\\L" escape), and the source is at most WF_WORKFLOW_MAX_FILE bytes. */
_Static_assert(WF_WORKFLOW_MAX_FILE <= UINT32_MAX / 2, "node fields are 32-bit");

typedef enum s_kind { S_SCALAR = 0, S_MAP, S_SEQ } s_kind;
typedef enum s_type { T_NULL = 0, T_BOOL, T_INT, T_FLOAT, T_STR } s_type;

/* 48 bytes: a big file has several nodes per job, and the tree is most of the load's peak. */
typedef struct s_node {
    uint8_t kind;        /* s_kind */
    uint8_t type;        /* s_type, scalars only */
    uint8_t style;       /* enum fy_scalar_style, scalars only */
    bool bad;            /* already reported: check nothing more about it */
    uint32_t len;        /* scalar text length (a file is under 4 GiB: WF_WORKFLOW_MAX_FILE) */
    int32_t line, col;   /* 1-based, where a message about this node points */
    int32_t scol;        /* 0-based column where the content starts, on `line` (see s_loc_in) */
    uint32_t spos, epos; /* the content's byte range in the source */
    uint32_t nkids;
    const char *text;     /* scalars: NUL-terminated copy (may hold NULs: see len) */
    struct s_node **kids; /* maps: key, value, key, value...; lists: items */
} s_node_t;
_Static_assert(sizeof(s_node_t) <= 48, "a node is 48 bytes at most");

/* ------------------------------------------------------------------------------------------ */
/* A string -> uint32 hash map over borrowed keys (ids, duplicate keys).                      */

/* 16 bytes: the job map has two slots per job.  Keys are at most a file's size (under 4 GiB);
 * a longer key (a -p argument) is never present. */
typedef struct s_slot {
    const char *k;
    uint32_t len;
    uint32_t val;
} s_slot_t;
_Static_assert(sizeof(s_slot_t) <= 16, "a slot is 16 bytes at most");

typedef struct s_strmap {
    s_slot_t *slots;
    size_t cap, n;
} s_strmap_t;

static uint64_t
s_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void
s_strmap_init(s_strmap_t *m, size_t expect)
{
    size_t cap = 16;
    while (cap < expect * 2)
        cap *= 2;
    m->slots = s_calloc(cap, sizeof *m->slots);
    m->cap = cap;
    m->n = 0;
}

static void
s_strmap_fini(s_strmap_t *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static s_slot_t *
s_strmap_slot(s_strmap_t *m, const char *k, uint32_t len)
{
    size_t i = (size_t)s_hash(k, len) & (m->cap - 1);
    while (m->slots[i].k) {
        if (m->slots[i].len == len && memcmp(m->slots[i].k, k, len) == 0)
            return &m->slots[i];
        i = (i + 1) & (m->cap - 1);
    }
    return &m->slots[i];
}

/* Find k; true and *val set if present. */
static bool
s_strmap_get(const s_strmap_t *m, const char *k, size_t len, uint32_t *val)
{
    if (!m->cap || len > UINT32_MAX)
        return false;
    s_slot_t *s = s_strmap_slot((s_strmap_t *)m, k, (uint32_t)len);
    if (!s->k)
        return false;
    if (val)
        *val = s->val;
    return true;
}

/* Insert k -> val unless present; returns false (and *old) if it was already there. */
static bool
s_strmap_put(s_strmap_t *m, const char *k, size_t len, uint32_t val, uint32_t *old)
{
    if ((m->n + 1) * 2 > m->cap) {
        s_strmap_t bigger;
        s_strmap_init(&bigger, m->cap);
        for (size_t i = 0; i < m->cap; i++) {
            if (m->slots[i].k)
                *s_strmap_slot(&bigger, m->slots[i].k, m->slots[i].len) = m->slots[i];
        }
        bigger.n = m->n;
        free(m->slots);
        *m = bigger;
    }
    assert(len <= UINT32_MAX); /* keys come from the file */
    s_slot_t *s = s_strmap_slot(m, k, (uint32_t)len);
    if (s->k) {
        if (old)
            *old = s->val;
        return false;
    }
    *s = (s_slot_t){k, (uint32_t)len, val};
    m->n++;
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* The load context                                                                           */

/* Keys of a job (and of defaults, which take all but run/needs/with). */
typedef enum s_jk {
    K_RUN = 0,
    K_TYPE,
    K_NEEDS,
    K_RETRIES,
    K_LOST_RETRIES,
    K_RETRY_DELAY,
    K_TIMEOUT,
    K_PRIORITY,
    K_POOL,
    K_WHEN,
    K_ENV,
    K_CWD,
    K_WITH,
    K_COUNT
} s_jk;

static const char *const s_job_keys[K_COUNT] = {
    "run",      "type", "needs", "retries", "lost_retries", "retry_delay", "timeout",
    "priority", "pool", "when",  "env",     "cwd",          "with",
};

typedef enum s_tk {
    TK_NAME = 0,
    TK_DESCRIPTION,
    TK_PARAMS,
    TK_POOLS,
    TK_DEFAULTS,
    TK_JOBS,
    TK_COUNT
} s_tk;

static const char *const s_top_keys[TK_COUNT] = {
    "name", "description", "params", "pools", "defaults", "jobs",
};

/* What the loader knows about one job beyond wf_wfjob_t, while it reads that job.  One at a
 * time: kept for every job, it was the largest part of a big file's peak after the tree. */
typedef struct s_jobx {
    s_node_t *key;          /* the job id's node */
    s_node_t *val[K_COUNT]; /* value nodes of the keys the job sets (NULL: not set) */
    s_node_t *kn[K_COUNT];  /* their key nodes */
    bool ok[K_COUNT];       /* the key is set and its value is valid */
    bool merge;             /* the job's mapping has a (refused) merge key */
} s_jobx_t;

typedef struct s_ld {
    const char *path;
    wf_diags_t *diags;
    bool full;       /* diagnostics are at their cap: stop looking */
    s_arena_t arena; /* the tree */
    s_node_t *root;
    s_arena_t mem; /* what the jobs point to: becomes the workflow's arena */
    size_t suggest_budget;
    size_t expansion; /* bytes added by substitution and defaults so far */
    bool expansion_reported;

    /* params */
    size_t nparams;
    char **pnames, **pvalues; /* pvalues[i] NULL: no value */
    s_node_t **pnodes;        /* the param's key node (NULL for none) */
    bool *pbad;               /* the param's value is in error: substitute silently */
    s_strmap_t pmap;

    /* pools */
    size_t npools;
    char **pool_names;
    uint32_t *pool_limits;
    s_strmap_t poolmap;

    /* defaults */
    wf_wfjob_t def;
    s_jobx_t defx;

    /* jobs */
    size_t njobs;
    wf_wfjob_t *jobs;
    bool *valid;       /* job i: id valid and unique, value a mapping */
    s_strmap_t jobmap; /* keys: the jobs' ids (in mem) */

    char *shell;     /* the default type, one copy in mem */
    s_buf_t scratch; /* s_subst's result, before it goes into mem (or a 'with' payload) */
    char *name, *description;
    char *src; /* the file's bytes (owned), until the jobs are read */
    size_t srclen;
} s_ld_t;

static void s_diag(s_ld_t *ld, wf_diag_level level, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
s_diag(s_ld_t *ld, wf_diag_level level, int line, int col, const char *fmt, ...)
{
    wf_diags_t *d = ld->diags;
    if (level == WF_DIAG_ERROR)
        d->errors++;
    if (ld->full)
        return;
    if (d->n + 1 >= WF_WORKFLOW_MAX_DIAGS) {
        /* The last slot says why the list stops; the loader then stops looking. */
        s_diag_push(d, WF_DIAG_ERROR, ld->path, 0, 0, s_strdup("too many errors; stopping here"));
        if (level != WF_DIAG_ERROR)
            d->errors++;
        ld->full = true;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *msg = s_vfmt(fmt, ap);
    va_end(ap);
    s_diag_push(d, level, ld->path, line < 0 ? 0 : line, col < 0 ? 0 : col, msg);
}

#define s_err(ld, n, ...) s_diag((ld), WF_DIAG_ERROR, (n)->line, (n)->col, __VA_ARGS__)

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
s_utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] >= 0xF0 && s[0] <= 0xF4   ? 4
                 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
                 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
                                                : 0;
    if (!len || len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    }
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))
        return 0; /* overlong, surrogate or past U+10FFFF */
    return len;
}

/* A value shown in a message: printable ASCII and valid UTF-8 kept, other bytes and '\\' as
 * \xNN, cut after 64 bytes with "...". */
static const char *
s_show(char buf[static 300], const char *s, size_t len)
{
    size_t o = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        if (i >= 64) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        size_t ul = u[i] >= 0x80 ? s_utf8_len(u + i, len - i) : 0;
        if (ul) {
            memcpy(buf + o, s + i, ul);
            o += ul;
            i += ul;
        } else if (u[i] >= 0x20 && u[i] < 0x7f && u[i] != '\\') {
            buf[o++] = (char)u[i++];
        } else {
            snprintf(buf + o, 5, "\\x%02x", u[i++]);
            o += 4;
        }
    }
    buf[o] = 0;
    return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* "did you mean": optimal string alignment distance (Damerau-Levenshtein with adjacent       */
/* transpositions), bounded.                                                                  */

static size_t
s_osa(s_ld_t *ld, const char *a, size_t la, const char *b, size_t lb)
{
    enum { MAXL = 128 };
    if (la > MAXL || lb > MAXL)
        return SIZE_MAX;
    if ((la > lb ? la - lb : lb - la) > 2)
        return SIZE_MAX;
    size_t cells = (la + 1) * (lb + 1);
    if (ld->suggest_budget < cells)
        return SIZE_MAX;
    ld->suggest_budget -= cells;
    size_t rows[3][MAXL + 1];
    size_t *pp = rows[0], *p = rows[1], *c = rows[2];
    for (size_t j = 0; j <= lb; j++)
        p[j] = j;
    for (size_t i = 1; i <= la; i++) {
        c[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = p[j] + 1;
            if (c[j - 1] + 1 < v)
                v = c[j - 1] + 1;
            if (p[j - 1] + cost < v)
                v = p[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            c[j] = v;
        }
        size_t *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[lb];
}

/* The closest candidate within distance 2 (and closer than the word's length), or NULL. */
static const char *
s_suggest(s_ld_t *ld, const char *w, size_t wl, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bestd = 3;
    if (ld->full)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!cands[i])
            continue;
        size_t d = s_osa(ld, w, wl, cands[i], strlen(cands[i]));
        if (d < bestd && d < wl) {
            best = cands[i];
            bestd = d;
        }
    }
    return best;
}

/* " (did you mean 'x'?)" or "" */
static const char *
s_mean(char buf[static 160], const char *sugg)
{
    if (!sugg)
        return "";
    snprintf(buf, 160, " (did you mean '%s'?)", sugg);
    return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* Scalars: YAML 1.2 core schema resolution of plain scalars; quoted and block ones are str.  */

static bool
s_is_digits(const char *s, size_t n, int base)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = base == 8 ? (c >= '0' && c <= '7')
                  : base == 16
                      ? ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
                      : (c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

static bool
s_is_int(const char *s, size_t n)
{
    if (n > 2 && s[0] == '0' && s[1] == 'o')
        return s_is_digits(s + 2, n - 2, 8);
    if (n > 2 && s[0] == '0' && s[1] == 'x')
        return s_is_digits(s + 2, n - 2, 16);
    if (n && (s[0] == '-' || s[0] == '+'))
        s++, n--;
    return s_is_digits(s, n, 10);
}

static bool
s_is_float(const char *s, size_t n)
{
    static const char *const special[] = {".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"};
    size_t i = 0;
    if (n && (s[0] == '-' || s[0] == '+'))
        i = 1;
    for (size_t k = 0; k < 6; k++) {
        size_t sl = strlen(special[k]);
        bool nan = k >= 3;
        if ((nan ? n : n - i) == sl && memcmp(nan ? s : s + i, special[k], sl) == 0)
            return !nan || i == 0;
    }
    size_t int_digits = 0, frac_digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, int_digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, frac_digits++;
    }
    if (int_digits + frac_digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t e = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, e++;
        if (!e)
            return false;
    }
    return i == n;
}

static s_type
s_resolve(const char *s, size_t n)
{
    if (n == 0 || (n == 1 && s[0] == '~'))
        return T_NULL;
    if (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)))
        return T_NULL;
    if (n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4)))
        return T_BOOL;
    if (n == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5)))
        return T_BOOL;
    if (s_is_int(s, n))
        return T_INT;
    if (s_is_float(s, n))
        return T_FLOAT;
    return T_STR;
}

/* The integer value of a T_INT node: 0 ok, 1 out of the int64/uint64 range. */
static int
s_int_value(const s_node_t *n, int64_t *v, uint64_t *uv, bool *is_unsigned)
{
    const char *s = n->text;
    size_t len = n->len;
    int base = 10;
    bool neg = false;
    if (len > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
        base = s[1] == 'o' ? 8 : 16;
        s += 2;
        len -= 2;
    } else if (len && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s++;
        len--;
    }
    uint64_t acc = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        unsigned d = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
        if (acc > (UINT64_MAX - d) / (uint64_t)base)
            return 1;
        acc = acc * (uint64_t)base + d;
    }
    *is_unsigned = false;
    if (neg) {
        if (acc > (uint64_t)INT64_MAX + 1)
            return 1;
        *v = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    } else if (acc > (uint64_t)INT64_MAX) {
        *is_unsigned = true;
        *uv = acc;
    } else {
        *v = (int64_t)acc;
    }
    return 0;
}

static const char *
s_tname(const s_node_t *n)
{
    if (n->kind == S_MAP)
        return "a mapping";
    if (n->kind == S_SEQ)
        return "a list";
    switch (n->type) {
    case T_NULL:
        return "null";
    case T_BOOL:
        return "a boolean";
    case T_INT:
        return "an integer";
    case T_FLOAT:
        return "a number";
    default:
        return "a string";
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Reading the file and building the tree                                                     */

typedef struct s_frame {
    s_node_t *node;
    s_node_t **kids;
    size_t n, cap;
} s_frame_t;

typedef enum s_tag {
    TAG_NONE = 0,
    TAG_BANG,
    TAG_STR,
    TAG_INT,
    TAG_FLOAT,
    TAG_BOOL,
    TAG_NULL,
    TAG_MAP,
    TAG_SEQ,
    TAG_OTHER
} s_tag;

static s_tag
s_tag_of(struct fy_token *tag, const char **text, size_t *len)
{
    static const struct {
        const char *name;
        s_tag tag;
    } core[] = {{"str", TAG_STR},   {"int", TAG_INT}, {"float", TAG_FLOAT}, {"bool", TAG_BOOL},
                {"null", TAG_NULL}, {"map", TAG_MAP}, {"seq", TAG_SEQ}};
    static const char prefix[] = "tag:yaml.org,2002:";
    *text = "";
    *len = 0;
    if (!tag)
        return TAG_NONE;
    const char *t = fy_token_get_text(tag, len);
    if (!t)
        return TAG_OTHER;
    *text = t;
    if (*len == 1 && t[0] == '!')
        return TAG_BANG;
    size_t pl = sizeof prefix - 1;
    if (*len > pl && memcmp(t, prefix, pl) == 0) {
        for (size_t i = 0; i < sizeof core / sizeof core[0]; i++) {
            if (*len - pl == strlen(core[i].name) && memcmp(t + pl, core[i].name, *len - pl) == 0)
                return core[i].tag;
        }
    }
    return TAG_OTHER;
}

static s_node_t *
s_node_new(s_ld_t *ld, s_kind kind, const struct fy_mark *sm, const struct fy_mark *em)
{
    s_node_t *n = s_arena_alloc(&ld->arena, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    int sline = sm && sm->line >= 0 ? sm->line : 0;
    n->scol = sm && sm->column >= 0 ? sm->column : 0;
    size_t spos = sm && sm->input_pos <= ld->srclen ? sm->input_pos : 0;
    size_t epos = em && em->input_pos <= ld->srclen ? em->input_pos : spos;
    n->spos = (uint32_t)spos;
    n->epos = (uint32_t)(epos < spos ? spos : epos);
    n->line = sline + 1;
    n->col = n->scol + 1;
    n->text = "";
    return n;
}

/* Tag checks shared by scalars and collections; false (and an error) for a tag we refuse. */
static bool
s_check_tag(s_ld_t *ld, s_node_t *n, struct fy_token *tagtok, s_tag *tag_p)
{
    const char *t;
    size_t tl;
    s_tag tag = s_tag_of(tagtok, &t, &tl);
    *tag_p = tag;
    char b[300];
    if (tag == TAG_OTHER) {
        s_err(ld, n, "unsupported YAML tag '%s' (only the core tags like !!str are allowed)",
              s_show(b, t, tl));
        return false;
    }
    bool want_map = tag == TAG_MAP, want_seq = tag == TAG_SEQ;
    if ((want_map && n->kind != S_MAP) || (want_seq && n->kind != S_SEQ) ||
        (n->kind != S_SCALAR && tag != TAG_NONE && tag != TAG_BANG && !want_map && !want_seq)) {
        s_err(ld, n, "YAML tag '%s' does not fit %s", s_show(b, t, tl), s_tname(n));
        return false;
    }
    return true;
}

static void
s_attach(s_ld_t *ld, s_frame_t *stack, size_t depth, s_node_t *n)
{
    if (depth == 0) {
        ld->root = n;
        return;
    }
    s_frame_t *f = &stack[depth - 1];
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->kids = s_realloc(f->kids, f->cap * sizeof *f->kids);
    }
    f->kids[f->n++] = n;
}

static void
s_fy_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    /* libfyaml's own printing is dropped: its errors are collected and re-issued as ours. */
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

/* Parse buf into ld->root.  Returns false after reporting a syntax (or structure) error. */
static bool
s_parse(s_ld_t *ld, const char *buf, size_t len)
{
    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.output_fn = s_fy_output;
    dc.user = NULL;
    dc.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dc);
    if (!diag)
        abort();
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg pc = {
        .search_path = NULL,
        .flags = FYPCF_QUIET | FYPCF_JSON_NONE,
        .userdata = NULL,
        .diag = diag,
    };
    struct fy_parser *p = fy_parser_create(&pc);
    if (!p)
        abort();
    bool ok = true;
    s_frame_t stack[S_MAX_YAML_DEPTH];
    size_t depth = 0;
    int ndocs = 0;
    int last_line = 0, last_col = 0;
    if (fy_parser_set_string(p, buf, len) != 0) {
        s_diag(ld, WF_DIAG_ERROR, 0, 0, "cannot parse: libfyaml refused the input");
        ok = false;
        goto done;
    }
    struct fy_event *ev;
    while (ok && (ev = fy_parser_parse(p)) != NULL) {
        const struct fy_mark *sm = fy_event_start_mark(ev);
        const struct fy_mark *em = fy_event_end_mark(ev);
        if (sm && sm->line >= 0) {
            last_line = sm->line + 1;
            last_col = sm->column + 1;
        }
        s_tag tag;
        s_node_t *n;
        switch (ev->type) {
        case FYET_DOCUMENT_START:
            if (++ndocs > 1) {
                s_diag(ld, WF_DIAG_ERROR, last_line, last_col,
                       "a workflow file holds one YAML document; a second one starts here");
                ok = false;
            }
            break;
        case FYET_MAPPING_START:
        case FYET_SEQUENCE_START: {
            bool is_map = ev->type == FYET_MAPPING_START;
            n = s_node_new(ld, is_map ? S_MAP : S_SEQ, sm, em);
            if (depth == S_MAX_YAML_DEPTH) {
                s_err(ld, n, "nesting is deeper than %d levels", S_MAX_YAML_DEPTH);
                ok = false;
                break;
            }
            if (!s_check_tag(ld, n, is_map ? ev->mapping_start.tag : ev->sequence_start.tag, &tag))
                n->bad = true;
            stack[depth++] = (s_frame_t){n, NULL, 0, 0};
            break;
        }
        case FYET_MAPPING_END:
        case FYET_SEQUENCE_END: {
            if (depth == 0) { /* cannot happen with a conforming parser; refuse, do not trust */
                s_diag(ld, WF_DIAG_ERROR, last_line, last_col, "malformed YAML event stream");
                ok = false;
                break;
            }
            s_frame_t *f = &stack[--depth];
            n = f->node;
            n->nkids = (uint32_t)f->n;
            n->kids = s_arena_alloc(&ld->arena, (f->n ? f->n : 1) * sizeof *n->kids);
            if (f->n)
                memcpy(n->kids, f->kids, f->n * sizeof *n->kids);
            free(f->kids);
            if (n->kind == S_MAP && n->nkids % 2) { /* likewise: never trust a count */
                s_err(ld, n, "malformed YAML mapping");
                ok = false;
            }
            s_attach(ld, stack, depth, n);
            break;
        }
        case FYET_SCALAR: {
            n = s_node_new(ld, S_SCALAR, sm, em);
            size_t tl = 0;
            const char *t = fy_token_get_text(ev->scalar.value, &tl);
            if (!t)
                t = "", tl = 0;
            char *copy = s_arena_alloc_aligned(&ld->arena, tl + 1, 1);
            memcpy(copy, t, tl);
            copy[tl] = 0;
            n->text = copy;
            n->len = (uint32_t)tl;
            enum fy_scalar_style st = fy_token_scalar_style(ev->scalar.value);
            n->style = (uint8_t)(st < 0 ? FYSS_PLAIN : st);
            if ((st == FYSS_SINGLE_QUOTED || st == FYSS_DOUBLE_QUOTED) && n->col > 1)
                n->col--; /* the marks are inside the quotes; point at the opening one */
            if (st == FYSS_LITERAL || st == FYSS_FOLDED) {
                /* A block scalar's mark is the start of its first content line: point at
                 * the first character after the indentation instead. */
                for (size_t q = n->spos; q < n->epos && ld->src[q] == ' '; q++)
                    n->col++;
            }
            n->type = st == FYSS_PLAIN ? (uint8_t)s_resolve(t, tl) : T_STR;
            if (!s_check_tag(ld, n, ev->scalar.tag, &tag)) {
                n->bad = true;
            } else if (tag == TAG_STR || tag == TAG_BANG) {
                n->type = T_STR;
            } else if (tag != TAG_NONE) {
                s_type want = tag == TAG_INT     ? T_INT
                              : tag == TAG_FLOAT ? T_FLOAT
                              : tag == TAG_BOOL  ? T_BOOL
                                                 : T_NULL;
                s_type got = s_resolve(t, tl);
                if (got == want || (want == T_FLOAT && got == T_INT)) {
                    n->type = (uint8_t)want;
                } else {
                    char b[300];
                    s_err(ld, n, "'%s' is not a valid %s", s_show(b, t, tl),
                          tag == TAG_INT     ? "!!int"
                          : tag == TAG_FLOAT ? "!!float"
                          : tag == TAG_BOOL  ? "!!bool"
                                             : "!!null");
                    n->bad = true;
                }
            }
            s_attach(ld, stack, depth, n);
            break;
        }
        case FYET_ALIAS: {
            n = s_node_new(ld, S_SCALAR, sm, em);
            size_t tl = 0;
            const char *t = fy_token_get_text(ev->alias.anchor, &tl);
            char b[300];
            s_err(ld, n, "YAML aliases (*%s) are not supported: use 'defaults' or params instead",
                  s_show(b, t ? t : "", t ? tl : 0));
            n->bad = true;
            s_attach(ld, stack, depth, n);
            break;
        }
        default:
            break;
        }
        fy_parser_event_free(p, ev);
    }
    if (ok && fy_parser_get_stream_error(p)) {
        ok = false;
        size_t before = ld->diags->errors;
        void *it = NULL;
        struct fy_diag_error *de;
        while ((de = fy_diag_errors_iterate(diag, &it)) != NULL) {
            if (de->type < FYET_ERROR)
                continue;
            /* libfyaml's collected positions are already 1-based. */
            s_diag(ld, WF_DIAG_ERROR, de->line > 0 ? de->line : 1, de->column > 0 ? de->column : 1,
                   "%s", de->msg && *de->msg ? de->msg : "YAML syntax error");
        }
        if (ld->diags->errors == before)
            s_diag(ld, WF_DIAG_ERROR, last_line ? last_line : 1, last_col ? last_col : 1,
                   "YAML syntax error");
    }
done:
    while (depth)
        free(stack[--depth].kids);
    fy_parser_destroy(p);
    fy_diag_destroy(diag);
    return ok;
}

/* Read the whole file (a regular file of at most WF_WORKFLOW_MAX_FILE bytes). */
static char *
s_read_file(s_ld_t *ld, size_t *len_p)
{
    /* O_NONBLOCK: a FIFO must not hang the open; a regular file ignores the flag. */
    int fd = open(ld->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        s_diag(ld, WF_DIAG_ERROR, 0, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        s_diag(ld, WF_DIAG_ERROR, 0, 0, "cannot open: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        s_diag(ld, WF_DIAG_ERROR, 0, 0, "cannot open: not a regular file");
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > WF_WORKFLOW_MAX_FILE) {
        s_diag(ld, WF_DIAG_ERROR, 0, 0, "the file is %" PRIu64 " bytes; the limit is %u",
               (uint64_t)st.st_size, WF_WORKFLOW_MAX_FILE);
        close(fd);
        return NULL;
    }
    /* The size may change under us: read at most one byte past the limit, and check. */
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = s_malloc(cap + 1);
    for (;;) {
        if (len == cap) {
            if (cap > WF_WORKFLOW_MAX_FILE)
                break;
            cap = cap * 2 > (size_t)WF_WORKFLOW_MAX_FILE + 1 ? (size_t)WF_WORKFLOW_MAX_FILE + 1
                                                             : cap * 2;
            buf = s_realloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            s_diag(ld, WF_DIAG_ERROR, 0, 0, "cannot read: %s", strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (len > WF_WORKFLOW_MAX_FILE) {
        s_diag(ld, WF_DIAG_ERROR, 0, 0, "the file is over the limit of %u bytes",
               WF_WORKFLOW_MAX_FILE);
        free(buf);
        return NULL;
    }
    buf[len] = 0;
    *len_p = len;
    return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* Checking values                                                                            */

/* True if n is a scalar (not bad); the error otherwise names `what`. */
static bool
s_want_scalar(s_ld_t *ld, const s_node_t *n, const char *what, const char *expect)
{
    if (n->bad)
        return false;
    if (n->kind != S_SCALAR || n->type == T_NULL) {
        s_err(ld, n, "%s must be %s, got %s", what, expect, s_tname(n));
        return false;
    }
    return true;
}

static bool
s_want_string(s_ld_t *ld, const s_node_t *n, const char *what)
{
    if (n->bad)
        return false;
    if (n->kind != S_SCALAR || n->type != T_STR) {
        s_err(ld, n, "%s must be a string, got %s", what, s_tname(n));
        return false;
    }
    if (memchr(n->text, 0, n->len)) {
        s_err(ld, n, "%s must not contain a NUL character", what);
        return false;
    }
    return true;
}

static bool
s_want_map(s_ld_t *ld, const s_node_t *n, const char *what)
{
    if (n->bad)
        return false;
    if (n->kind != S_MAP) {
        s_err(ld, n, "%s must be a mapping, got %s", what, s_tname(n));
        return false;
    }
    return true;
}

/* An integer in [lo, hi]. */
static bool
s_want_int(s_ld_t *ld, const s_node_t *n, const char *what, int64_t lo, int64_t hi, int64_t *v)
{
    if (n->bad)
        return false;
    if (n->kind != S_SCALAR || n->type != T_INT) {
        s_err(ld, n, "%s must be an integer, got %s", what, s_tname(n));
        return false;
    }
    uint64_t uv = 0;
    bool is_unsigned = false;
    char b[300];
    if (s_int_value(n, v, &uv, &is_unsigned) != 0 || is_unsigned || *v < lo || *v > hi) {
        s_err(ld, n, "%s must be between %" PRId64 " and %" PRId64 ", got %s", what, lo, hi,
              s_show(b, n->text, n->len));
        return false;
    }
    return true;
}

static bool
s_ident_ok(const char *s, size_t n)
{
    if (n == 0 || n > WF_MAX_NAME)
        return false;
    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

/* A mapping key: a scalar (its text is the key).  Collections and aliases as keys are refused. */
static bool
s_key_ok(s_ld_t *ld, const s_node_t *k)
{
    if (k->bad)
        return false;
    if (k->kind != S_SCALAR) {
        s_err(ld, k, "a key must be a plain name, got %s", s_tname(k));
        return false;
    }
    return true;
}

/* Bytes added to the workflow by substitution or by copying defaults; false once over. */
static bool
s_expand(s_ld_t *ld, const s_node_t *at, size_t n)
{
    if (ld->expansion_reported)
        return false;
    if (n > WF_WORKFLOW_MAX_EXPANSION - ld->expansion) {
        s_err(ld, at,
              "params and defaults expand the workflow past %u bytes; the workflow is too large",
              WF_WORKFLOW_MAX_EXPANSION);
        ld->expansion_reported = true;
        return false;
    }
    ld->expansion += n;
    return true;
}

/*
 * Where byte `off` (the '$' of a "${") of scalar n is in the file.  Every "${" of a scalar's
 * value comes from a "${" of its source, in the same order: plain, single-quoted and block
 * scalars have no escape that could make one (folding turns a line break into a space or drops
 * it, never joining '$' to '{'), and a double-quoted one is used only if its source holds no
 * backslash.  So when the source range holds exactly as many "${" as the value, the k-th of
 * the value is the k-th of the source.  Otherwise the scalar's own place is used.
 */
static void
s_loc_in(const s_ld_t *ld, const s_node_t *n, size_t off, int *line, int *col)
{
    *line = n->line;
    *col = n->col;
    if (n->kind != S_SCALAR || !ld->src || n->epos <= n->spos)
        return;
    const char *src = ld->src + n->spos;
    size_t slen = n->epos - n->spos;
    if (n->style == FYSS_DOUBLE_QUOTED && memchr(src, '\\', slen))
        return;
    size_t k = 0, total = 0;
    for (size_t i = 0; i + 1 < n->len; i++) {
        if (n->text[i] == '$' && n->text[i + 1] == '{') {
            if (i < off)
                k++;
            total++;
        }
    }
    size_t found = SIZE_MAX, seen = 0;
    for (size_t i = 0; i + 1 < slen; i++) {
        if (src[i] == '$' && src[i + 1] == '{') {
            if (seen == k)
                found = i;
            seen++;
        }
    }
    if (seen != total || found == SIZE_MAX)
        return;
    int l = n->line - 1, c = n->scol;
    for (size_t i = 0; i < found; i++) {
        unsigned char ch = (unsigned char)src[i];
        if (ch == '\n') {
            l++;
            c = 0;
        } else if (ch == '\r' && i + 1 < found && src[i + 1] == '\n') {
            continue;
        } else if ((ch & 0xC0) != 0x80) { /* columns count characters, not UTF-8 bytes */
            c++;
        }
    }
    *line = l + 1;
    *col = c + 1;
}

/*
 * Substitute ${NAME} in a scalar's text, appending the result to *out (ld->scratch: one buffer
 * reused for every value, not a heap string each).  "$${" is a literal "${"; any other '$' is
 * kept (so shell variables work).  Returns false after reporting every bad reference.
 */
static bool
s_subst(s_ld_t *ld, const s_node_t *n, const char *what, s_buf_t *out)
{
    const char *s = n->text;
    size_t len = n->len;
    bool ok = true;
    char b[300], mb[160];
    if (memchr(s, 0, len)) {
        s_err(ld, n, "%s must not contain a NUL character", what);
        return false;
    }
    size_t i = 0;
    while (i < len) {
        const char *dollar = memchr(s + i, '$', len - i);
        size_t stop = dollar ? (size_t)(dollar - s) : len;
        s_buf_add(out, s + i, stop - i);
        i = stop;
        if (i >= len)
            break;
        if (i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
            s_buf_add(out, "${", 2);
            i += 3;
            continue;
        }
        if (!(i + 1 < len && s[i + 1] == '{')) {
            s_buf_add(out, "$", 1);
            i++;
            continue;
        }
        int line, col;
        s_loc_in(ld, n, i, &line, &col);
        const char *close = memchr(s + i + 2, '}', len - i - 2);
        size_t nl = close ? (size_t)(close - (s + i + 2)) : 0;
        if (!close || !s_ident_ok(s + i + 2, nl)) {
            s_diag(ld, WF_DIAG_ERROR, line, col,
                   "bad param reference '%s' in %s: write ${NAME}, or $${ for a literal '${'",
                   s_show(b, s + i, close ? nl + 3 : len - i), what);
            ok = false;
            i += 2;
            continue;
        }
        uint32_t idx;
        if (!s_strmap_get(&ld->pmap, s + i + 2, nl, &idx)) {
            const char *sg =
                s_suggest(ld, s + i + 2, nl, (const char *const *)ld->pnames, ld->nparams);
            s_diag(ld, WF_DIAG_ERROR, line, col, "unknown param '%s' in %s%s",
                   s_show(b, s + i + 2, nl), what, s_mean(mb, sg));
            ok = false;
        } else if (!ld->pbad[idx] && ld->pvalues[idx]) {
            size_t vl = strlen(ld->pvalues[idx]);
            if (!s_expand(ld, n, vl)) {
                ok = false;
                break;
            }
            s_buf_add(out, ld->pvalues[idx], vl);
        }
        i += nl + 3;
    }
    return ok;
}

/* A value substituted into the jobs' arena; NULL as s_subst. */
static char *
s_subst_mem(s_ld_t *ld, const s_node_t *n, const char *what)
{
    ld->scratch.len = 0;
    if (!s_subst(ld, n, what, &ld->scratch))
        return NULL;
    return s_arena_strndup(&ld->mem, ld->scratch.p ? ld->scratch.p : "", ld->scratch.len);
}

/* Durations ------------------------------------------------------------------------------ */

bool
wf_parse_duration(const char *s, uint32_t *ms_p)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {
        {"d", 86400000ull}, {"h", 3600000ull}, {"ms", 1ull}, {"m", 60000ull}, {"s", 1000ull}};
    /* rank: the order units must come in (d, h, m, s, ms) */
    static const int rank[] = {0, 1, 4, 2, 3};
    if (!s || !*s)
        return false;
    uint64_t total = 0;
    int last_rank = -1;
    size_t i = 0, n = strlen(s);
    bool bare = true;
    for (size_t k = 0; k < n; k++)
        bare = bare && s[k] >= '0' && s[k] <= '9';
    if (bare) {
        uint64_t v = 0;
        for (size_t k = 0; k < n; k++) {
            v = v * 10 + (uint64_t)(s[k] - '0');
            if (v > UINT32_MAX / 1000u)
                return false;
        }
        if (ms_p)
            *ms_p = (uint32_t)(v * 1000u);
        return true;
    }
    while (i < n) {
        uint64_t v = 0;
        size_t digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (uint64_t)(s[i] - '0');
            if (v > UINT32_MAX)
                return false;
            i++, digits++;
        }
        if (!digits)
            return false;
        size_t u;
        for (u = 0; u < sizeof units / sizeof units[0]; u++) {
            size_t ul = strlen(units[u].unit);
            if (n - i >= ul && memcmp(s + i, units[u].unit, ul) == 0)
                break;
        }
        if (u == sizeof units / sizeof units[0])
            return false;
        if (rank[u] <= last_rank)
            return false;
        last_rank = rank[u];
        i += strlen(units[u].unit);
        total += v * units[u].ms;
        if (total > UINT32_MAX)
            return false;
    }
    if (ms_p)
        *ms_p = (uint32_t)total;
    return true;
}

/* The shortest exact spelling of a duration ("30d", "1h30m", "250ms", "0s"). */
static const char *
s_fmt_duration(char buf[static 64], uint64_t ms)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {
        {"d", 86400000ull}, {"h", 3600000ull}, {"m", 60000ull}, {"s", 1000ull}, {"ms", 1ull}};
    size_t o = 0;
    buf[0] = 0;
    if (ms == 0)
        return strcpy(buf, "0s");
    for (size_t u = 0; u < 5; u++) {
        if (ms >= units[u].ms) {
            o +=
                (size_t)snprintf(buf + o, 64 - o, "%" PRIu64 "%s", ms / units[u].ms, units[u].unit);
            ms %= units[u].ms;
        }
    }
    return buf;
}

static bool
s_want_duration(s_ld_t *ld, const s_node_t *n, const char *what, uint32_t max_ms, uint32_t *ms)
{
    char b[300], d1[64], d2[64];
    if (n->bad)
        return false;
    if (n->kind == S_SCALAR && n->type == T_INT) {
        int64_t v;
        uint64_t uv;
        bool is_unsigned;
        int rc = s_int_value(n, &v, &uv, &is_unsigned);
        if (rc == 0 && !is_unsigned && v >= 0 && v <= (int64_t)(UINT32_MAX / 1000u)) {
            *ms = (uint32_t)v * 1000u;
        } else if (rc == 0 && !is_unsigned && v < 0) {
            s_err(ld, n, "%s must be a duration like 90s, 5m, 1h30m or 250ms, got %s", what,
                  s_show(b, n->text, n->len));
            return false;
        } else {
            s_err(ld, n, "%s must be at most %s, got %ss", what, s_fmt_duration(d1, max_ms),
                  s_show(b, n->text, n->len));
            return false;
        }
    } else if (n->kind == S_SCALAR && n->type == T_STR && !memchr(n->text, 0, n->len)) {
        if (!wf_parse_duration(n->text, ms)) {
            s_err(ld, n, "%s must be a duration like 90s, 5m, 1h30m or 250ms, got '%s'", what,
                  s_show(b, n->text, n->len));
            return false;
        }
    } else {
        s_err(ld, n, "%s must be a duration like 90s, 5m, 1h30m or 250ms, got %s", what,
              s_tname(n));
        return false;
    }
    if (*ms > max_ms) {
        s_err(ld, n, "%s must be at most %s, got %s", what, s_fmt_duration(d1, max_ms),
              s_fmt_duration(d2, *ms));
        return false;
    }
    return true;
}

/* `with` -> msgpack ----------------------------------------------------------------------- */

static bool
s_pack(s_ld_t *ld, msgpack_packer *pk, const s_node_t *n, int depth, bool is_key)
{
    if (n->bad)
        return false;
    if (n->kind != S_SCALAR && depth >= WF_MAX_DEPTH) {
        s_err(ld, n, "'with' is nested deeper than %d levels", WF_MAX_DEPTH);
        return false;
    }
    if (n->kind == S_MAP) {
        if (is_key) {
            s_err(ld, n, "a key in 'with' must be a scalar, got a mapping");
            return false;
        }
        bool ok = true;
        s_strmap_t seen;
        s_strmap_init(&seen, n->nkids / 2);
        msgpack_pack_map(pk, n->nkids / 2);
        for (size_t i = 0; i < n->nkids; i += 2) {
            const s_node_t *k = n->kids[i];
            if (!k->bad && k->kind == S_SCALAR) {
                uint32_t first;
                if (!s_strmap_put(&seen, k->text, k->len, (uint32_t)i, &first)) {
                    char b[300];
                    const s_node_t *f = n->kids[first];
                    s_err(ld, k, "duplicate key '%s' (first at %d:%d)", s_show(b, k->text, k->len),
                          f->line, f->col);
                    ok = false;
                }
            }
            ok = s_pack(ld, pk, k, depth + 1, true) && ok;
            ok = s_pack(ld, pk, n->kids[i + 1], depth + 1, false) && ok;
            if (ld->full)
                break;
        }
        s_strmap_fini(&seen);
        return ok;
    }
    if (n->kind == S_SEQ) {
        if (is_key) {
            s_err(ld, n, "a key in 'with' must be a scalar, got a list");
            return false;
        }
        bool ok = true;
        msgpack_pack_array(pk, n->nkids);
        for (size_t i = 0; i < n->nkids && !ld->full; i++)
            ok = s_pack(ld, pk, n->kids[i], depth + 1, false) && ok;
        return ok;
    }
    switch (n->type) {
    case T_NULL:
        msgpack_pack_nil(pk);
        return true;
    case T_BOOL:
        if (n->text[0] == 't' || n->text[0] == 'T')
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        return true;
    case T_INT: {
        int64_t v = 0;
        uint64_t uv = 0;
        bool is_unsigned = false;
        if (s_int_value(n, &v, &uv, &is_unsigned) != 0) {
            char b[300];
            s_err(ld, n, "integer %s is out of range", s_show(b, n->text, n->len));
            return false;
        }
        if (is_unsigned)
            msgpack_pack_uint64(pk, uv);
        else
            msgpack_pack_int64(pk, v);
        return true;
    }
    case T_FLOAT: {
        const char *t = n->text;
        double v;
        size_t o = (t[0] == '-' || t[0] == '+') ? 1 : 0;
        if (t[o] == '.' && (t[o + 1] == 'i' || t[o + 1] == 'I'))
            v = t[0] == '-' ? -HUGE_VAL : HUGE_VAL;
        else if (t[0] == '.' && (t[1] == 'n' || t[1] == 'N'))
            v = NAN;
        else
            v = strtod(t, NULL);
        msgpack_pack_double(pk, v);
        return true;
    }
    default: {
        if (is_key) {
            msgpack_pack_str(pk, n->len);
            msgpack_pack_str_body(pk, n->text, n->len);
            return true;
        }
        /* String values get param substitution, like run, env and cwd. */
        if (memchr(n->text, 0, n->len)) {
            msgpack_pack_str(pk, n->len);
            msgpack_pack_str_body(pk, n->text, n->len);
            return true;
        }
        ld->scratch.len = 0;
        if (!s_subst(ld, n, "'with'", &ld->scratch))
            return false;
        msgpack_pack_str(pk, ld->scratch.len);
        msgpack_pack_str_body(pk, ld->scratch.p ? ld->scratch.p : "", ld->scratch.len);
        return true;
    }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Sections                                                                                   */

/* Scan a mapping of known keys: fills vals/keys (indexed like names); reports unknown keys (with
 * a suggestion) and duplicates.  `where` is appended to "unknown key 'x'" (e.g. " in job 'a'"). */
static bool
s_scan_keys(s_ld_t *ld, const s_node_t *map, const char *const *names, size_t nnames,
            s_node_t **vals, s_node_t **keys, const char *where)
{
    char b[300], mb[160];
    bool merge = false;
    for (size_t i = 0; i + 1 < map->nkids && !ld->full; i += 2) {
        s_node_t *k = map->kids[i];
        if (!s_key_ok(ld, k))
            continue;
        if (k->style == FYSS_PLAIN && k->len == 2 && memcmp(k->text, "<<", 2) == 0) {
            /* A merge key would bring keys we cannot see: the caller skips the checks of
             * missing keys.  Its alias was reported already. */
            merge = true;
            if (!map->kids[i + 1]->bad)
                s_err(ld, k, "YAML merge keys (<<) are not supported: use 'defaults'");
            continue;
        }
        size_t idx;
        for (idx = 0; idx < nnames; idx++) {
            if (k->len == strlen(names[idx]) && memcmp(k->text, names[idx], k->len) == 0)
                break;
        }
        if (idx == nnames) {
            const char *sg = s_suggest(ld, k->text, k->len, names, nnames);
            s_err(ld, k, "unknown key '%s'%s%s", s_show(b, k->text, k->len), where, s_mean(mb, sg));
            continue;
        }
        if (keys[idx]) {
            s_err(ld, k, "duplicate key '%s' (first at %d:%d)", names[idx], keys[idx]->line,
                  keys[idx]->col);
            continue;
        }
        keys[idx] = k;
        vals[idx] = map->kids[i + 1];
    }
    return merge;
}

static void
s_params(s_ld_t *ld, const s_node_t *map, const char *const *ov, size_t nov)
{
    char b[300], mb[160];
    size_t n = map && s_want_map(ld, map, "'params'") ? map->nkids / 2 : 0;
    ld->pnames = s_calloc(n + 1, sizeof *ld->pnames);
    ld->pvalues = s_calloc(n + 1, sizeof *ld->pvalues);
    ld->pnodes = s_calloc(n + 1, sizeof *ld->pnodes);
    ld->pbad = s_calloc(n + 1, sizeof *ld->pbad);
    s_strmap_init(&ld->pmap, n);
    for (size_t i = 0; i < n && !ld->full; i++) {
        s_node_t *k = map->kids[2 * i], *v = map->kids[2 * i + 1];
        if (!s_key_ok(ld, k))
            continue;
        if (!s_ident_ok(k->text, k->len)) {
            s_err(ld, k,
                  "param name '%s' is not valid: use letters, digits and '_', not starting "
                  "with a digit (at most %d characters)",
                  s_show(b, k->text, k->len), WF_MAX_NAME);
            continue;
        }
        uint32_t first;
        if (s_strmap_get(&ld->pmap, k->text, k->len, &first)) {
            const s_node_t *f = ld->pnodes[first];
            s_err(ld, k, "duplicate param '%s' (first at %d:%d)", k->text, f->line, f->col);
            continue;
        }
        size_t idx = ld->nparams++;
        ld->pnames[idx] = s_strndup(k->text, k->len);
        ld->pnodes[idx] = k;
        s_strmap_put(&ld->pmap, ld->pnames[idx], k->len, (uint32_t)idx, NULL);
        if (v->bad) {
            ld->pbad[idx] = true;
        } else if (v->kind != S_SCALAR) {
            s_err(ld, v, "param '%s' must be a string, number or boolean, got %s", ld->pnames[idx],
                  s_tname(v));
            ld->pbad[idx] = true;
        } else if (memchr(v->text, 0, v->len)) {
            s_err(ld, v, "param '%s' must not contain a NUL character", ld->pnames[idx]);
            ld->pbad[idx] = true;
        } else if (v->type != T_NULL) {
            ld->pvalues[idx] = s_strndup(v->text, v->len);
        }
    }
    /* -p NAME=VALUE: only declared params may be overridden (a typo must not pass silently). */
    for (size_t i = 0; i < nov && !ld->full; i++) {
        const char *o = ov[i] ? ov[i] : "";
        const char *eq = strchr(o, '=');
        if (!eq) {
            s_diag(ld, WF_DIAG_ERROR, 0, 0, "-p '%s' must be NAME=VALUE", s_show(b, o, strlen(o)));
            continue;
        }
        uint32_t idx;
        size_t nl = (size_t)(eq - o);
        if (!s_strmap_get(&ld->pmap, o, nl, &idx)) {
            const char *sg = s_suggest(ld, o, nl, (const char *const *)ld->pnames, ld->nparams);
            s_diag(ld, WF_DIAG_ERROR, 0, 0, "unknown param '%s' given with -p%s", s_show(b, o, nl),
                   s_mean(mb, sg));
            continue;
        }
        free(ld->pvalues[idx]);
        ld->pvalues[idx] = s_strdup(eq + 1);
        ld->pbad[idx] = false;
    }
    for (size_t i = 0; i < ld->nparams && !ld->full; i++) {
        if (!ld->pvalues[i] && !ld->pbad[i]) {
            s_err(ld, ld->pnodes[i], "param '%s' has no value; give it with -p %s=VALUE",
                  ld->pnames[i], ld->pnames[i]);
            ld->pbad[i] = true;
        }
    }
}

static void
s_pools(s_ld_t *ld, const s_node_t *map)
{
    char b[300];
    size_t n = map && s_want_map(ld, map, "'pools'") ? map->nkids / 2 : 0;
    if (n > WF_MAX_POOLS) {
        s_node_t *k = map->kids[2 * WF_MAX_POOLS];
        s_err(ld, k, "too many pools: %zu (the limit is %u)", n, WF_MAX_POOLS);
        n = WF_MAX_POOLS;
    }
    ld->pool_names = s_calloc(n + 1, sizeof *ld->pool_names);
    ld->pool_limits = s_calloc(n + 1, sizeof *ld->pool_limits);
    s_strmap_init(&ld->poolmap, n);
    s_node_t **first_at = s_calloc(n + 1, sizeof *first_at);
    for (size_t i = 0; i < n && !ld->full; i++) {
        s_node_t *k = map->kids[2 * i], *v = map->kids[2 * i + 1];
        if (!s_key_ok(ld, k))
            continue;
        if (!wf_name_ok(k->text, k->len)) {
            s_err(ld, k, "pool name '%s' is not valid: use 1 to %d of A-Z a-z 0-9 _ . : -",
                  s_show(b, k->text, k->len), WF_MAX_NAME);
            continue;
        }
        uint32_t first;
        if (s_strmap_get(&ld->poolmap, k->text, k->len, &first)) {
            s_err(ld, k, "duplicate pool '%s' (first at %d:%d)", k->text, first_at[first]->line,
                  first_at[first]->col);
            continue;
        }
        int64_t lim = 0;
        char what[WF_MAX_NAME + 16];
        snprintf(what, sizeof what, "pool '%s'", k->text);
        bool ok = s_want_int(ld, v, what, 1, UINT32_MAX, &lim);
        /* Declared even when its limit is wrong, so jobs naming it get no second error. */
        size_t idx = ld->npools++;
        ld->pool_names[idx] = s_strndup(k->text, k->len);
        ld->pool_limits[idx] = ok ? (uint32_t)lim : 1;
        first_at[idx] = k;
        s_strmap_put(&ld->poolmap, ld->pool_names[idx], k->len, (uint32_t)idx, NULL);
    }
    free(first_at);
}

static void
s_str_list_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static bool
s_parse_env(s_ld_t *ld, const s_node_t *v, wf_wfjob_t *j)
{
    char b[300];
    if (!s_want_map(ld, v, "'env'"))
        return false;
    size_t n = v->nkids / 2;
    if (n > WF_SHELL_MAX_ENV) {
        s_err(ld, v, "too many env entries: %zu (the limit is %d)", n, WF_SHELL_MAX_ENV);
        return false;
    }
    bool ok = true;
    s_strmap_t seen;
    s_strmap_init(&seen, n);
    j->env = s_arena_alloc(&ld->mem, (n + 1) * sizeof *j->env);
    j->nenv = 0;
    for (size_t i = 0; i < n && !ld->full; i++) {
        s_node_t *k = v->kids[2 * i], *val = v->kids[2 * i + 1];
        if (!s_key_ok(ld, k)) {
            ok = false;
            continue;
        }
        if (!s_ident_ok(k->text, k->len)) {
            s_err(ld, k,
                  "env name '%s' is not valid: use letters, digits and '_', not starting with "
                  "a digit",
                  s_show(b, k->text, k->len));
            ok = false;
            continue;
        }
        uint32_t first;
        if (!s_strmap_put(&seen, k->text, k->len, (uint32_t)(2 * i), &first)) {
            const s_node_t *f = v->kids[first];
            s_err(ld, k, "duplicate env '%s' (first at %d:%d)", k->text, f->line, f->col);
            ok = false;
            continue;
        }
        char what[WF_MAX_NAME + 16];
        snprintf(what, sizeof what, "env '%s'", k->text);
        if (!s_want_scalar(ld, val, what, "a string, number or boolean")) {
            ok = false;
            continue;
        }
        ld->scratch.len = 0;
        s_buf_add(&ld->scratch, k->text, k->len);
        s_buf_add(&ld->scratch, "=", 1);
        if (!s_subst(ld, val, what, &ld->scratch)) {
            ok = false;
            continue;
        }
        j->env[j->nenv++] = s_arena_strndup(&ld->mem, ld->scratch.p, ld->scratch.len);
    }
    j->env[j->nenv] = NULL;
    s_strmap_fini(&seen);
    return ok;
}

static bool
s_parse_needs(s_ld_t *ld, const s_node_t *v, wf_wfjob_t *j)
{
    const s_node_t *one[1] = {v};
    const s_node_t *const *items = one;
    size_t n = 1;
    if (v->bad)
        return false;
    if (v->kind == S_SEQ) {
        items = (const s_node_t *const *)v->kids;
        n = v->nkids;
        if (n > WF_MAX_NEEDS_PER_JOB) {
            s_err(ld, v, "too many needs: %zu (the limit is %u; add a join job)", n,
                  WF_MAX_NEEDS_PER_JOB);
            return false;
        }
    } else if (v->kind != S_SCALAR || (v->type != T_STR && v->type != T_INT)) {
        s_err(ld, v, "'needs' must be a job id or a list of job ids, got %s", s_tname(v));
        return false;
    }
    bool ok = true;
    j->needs = s_arena_alloc(&ld->mem, n * sizeof *j->needs);
    j->need_line = s_arena_alloc_aligned(&ld->mem, n * sizeof *j->need_line, sizeof(int));
    j->need_col = s_arena_alloc_aligned(&ld->mem, n * sizeof *j->need_col, sizeof(int));
    j->nneeds = 0;
    for (size_t i = 0; i < n && !ld->full; i++) {
        const s_node_t *it = items[i];
        if (it->bad) {
            ok = false;
            continue;
        }
        if (it->kind != S_SCALAR || (it->type != T_STR && it->type != T_INT)) {
            s_err(ld, it, "a need must be a job id, got %s", s_tname(it));
            ok = false;
            continue;
        }
        j->needs[j->nneeds] = s_arena_strndup(&ld->mem, it->text, it->len);
        j->need_line[j->nneeds] = it->line;
        j->need_col[j->nneeds] = it->col;
        j->nneeds++;
    }
    return ok;
}

/*
 * Parse one key of a job (or of defaults, job_id NULL) into j.  Checks everything that does not
 * depend on other keys (the type/run/with rules are checked once the job is complete).
 */
static bool
s_parse_key(s_ld_t *ld, s_jk k, const s_node_t *v, wf_wfjob_t *j)
{
    char b[300], mb[160];
    int64_t iv;
    switch (k) {
    case K_RUN: {
        if (!s_want_string(ld, v, "'run'"))
            return false;
        if (v->len == 0) {
            s_err(ld, v, "'run' is empty");
            return false;
        }
        j->run = s_subst_mem(ld, v, "'run'");
        return j->run != NULL;
    }
    case K_TYPE:
        if (!s_want_string(ld, v, "'type'"))
            return false;
        if (!wf_name_ok(v->text, v->len)) {
            s_err(ld, v, "type '%s' is not a valid name: use 1 to %d of A-Z a-z 0-9 _ . : -",
                  s_show(b, v->text, v->len), WF_MAX_NAME);
            return false;
        }
        j->type = s_arena_strndup(&ld->mem, v->text, v->len);
        return true;
    case K_NEEDS:
        return s_parse_needs(ld, v, j);
    case K_RETRIES:
    case K_LOST_RETRIES:
        if (!s_want_int(ld, v, k == K_RETRIES ? "'retries'" : "'lost_retries'", 0, WF_MAX_RETRIES,
                        &iv))
            return false;
        if (k == K_RETRIES)
            j->retries = (uint32_t)iv;
        else
            j->lost_retries = (uint32_t)iv;
        return true;
    case K_RETRY_DELAY:
        return s_want_duration(ld, v, "'retry_delay'", WF_MAX_RETRY_DELAY_MS, &j->retry_delay_ms);
    case K_TIMEOUT:
        return s_want_duration(ld, v, "'timeout'", WF_MAX_TIMEOUT_MS, &j->timeout_ms);
    case K_PRIORITY:
        if (!s_want_int(ld, v, "'priority'", INT32_MIN, INT32_MAX, &iv))
            return false;
        j->priority = (int32_t)iv;
        return true;
    case K_POOL: {
        if (!s_want_string(ld, v, "'pool'"))
            return false;
        if (!s_strmap_get(&ld->poolmap, v->text, v->len, NULL)) {
            const char *sg =
                s_suggest(ld, v->text, v->len, (const char *const *)ld->pool_names, ld->npools);
            s_err(ld, v, "unknown pool '%s'%s%s", s_show(b, v->text, v->len),
                  ld->npools ? "" : " (no pools are declared)", s_mean(mb, sg));
            return false;
        }
        j->pool = s_arena_strndup(&ld->mem, v->text, v->len);
        return true;
    }
    case K_WHEN: {
        static const char *const whens[] = {"success", "always", "failure"};
        if (!v->bad && v->kind == S_SCALAR && v->type == T_STR) {
            for (int w = 0; w < 3; w++) {
                if (v->len == strlen(whens[w]) && memcmp(v->text, whens[w], v->len) == 0) {
                    j->when = w;
                    return true;
                }
            }
        }
        if (v->bad)
            return false;
        if (v->kind == S_SCALAR && v->type == T_STR) {
            const char *sg = s_suggest(ld, v->text, v->len, whens, 3);
            s_err(ld, v, "'when' must be success, always or failure, got '%s'%s",
                  s_show(b, v->text, v->len), s_mean(mb, sg));
        } else {
            s_err(ld, v, "'when' must be success, always or failure, got %s", s_tname(v));
        }
        return false;
    }
    case K_ENV:
        return s_parse_env(ld, v, j);
    case K_CWD:
        if (!s_want_string(ld, v, "'cwd'"))
            return false;
        if (v->len == 0) {
            s_err(ld, v, "'cwd' is empty");
            return false;
        }
        j->cwd = s_subst_mem(ld, v, "'cwd'");
        return j->cwd != NULL;
    case K_WITH: {
        if (!s_want_map(ld, v, "'with'"))
            return false;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        bool ok = s_pack(ld, &pk, v, 0, false);
        if (ok && sb.size > WF_MAX_PAYLOAD) {
            s_err(ld, v, "'with' encodes to %zu bytes; the limit is %u", sb.size, WF_MAX_PAYLOAD);
            ok = false;
        }
        if (ok) {
            j->with = s_arena_dup(&ld->mem, sb.data, sb.size, 1);
            j->with_len = sb.size;
        }
        msgpack_sbuffer_destroy(&sb);
        return ok;
    }
    default:
        return false;
    }
}

static void
s_defaults(s_ld_t *ld, const s_node_t *map)
{
    wf_wfjob_t *d = &ld->def;
    memset(d, 0, sizeof *d);
    d->lost_retries = 3;
    if (!map || !s_want_map(ld, map, "'defaults'"))
        return;
    s_scan_keys(ld, map, s_job_keys, K_COUNT, ld->defx.val, ld->defx.kn, " in defaults");
    for (int k = 0; k < K_COUNT && !ld->full; k++) {
        if (!ld->defx.val[k])
            continue;
        if (k == K_RUN || k == K_NEEDS || k == K_WITH) {
            s_err(ld, ld->defx.kn[k], "'%s' cannot be set in defaults: it belongs to each job",
                  s_job_keys[k]);
            continue;
        }
        ld->defx.ok[k] = s_parse_key(ld, (s_jk)k, ld->defx.val[k], d);
    }
}

/* Defaults' env for one job: the jobs share defaults' list, but each is counted against the
 * expansion budget as the copy it stands for (what the request will hold).  NULL (and *n_p 0)
 * once the budget is spent. */
static char **
s_share_list(s_ld_t *ld, const s_node_t *at, char **v, size_t n, size_t *n_p)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(v[i]) + 1;
    *n_p = 0;
    if (!s_expand(ld, at, bytes))
        return NULL;
    *n_p = n;
    return v;
}

/* Fill a job's unset keys from defaults, then check the rules that tie keys together.  What
 * comes from defaults is shared, not copied: it is all in ld->mem. */
static void
s_finish_job(s_ld_t *ld, wf_wfjob_t *j, const s_jobx_t *x)
{
    const wf_wfjob_t *d = &ld->def;
    const s_jobx_t *dx = &ld->defx;
    char b[300];
    bool type_known = true; /* false if the job's own or the default type was invalid */
    if (!x->val[K_TYPE]) {
        if (dx->val[K_TYPE] && !dx->ok[K_TYPE])
            type_known = false;
        else if (dx->ok[K_TYPE])
            j->type = d->type;
    } else if (!x->ok[K_TYPE]) {
        type_known = false;
    }
    if (!j->type) {
        if (!ld->shell)
            ld->shell = s_arena_strndup(&ld->mem, "shell", 5);
        j->type = ld->shell;
    }
#define S_INHERIT(key, field)                                                                      \
    if (!x->val[key] && dx->ok[key])                                                               \
        j->field = d->field;
    S_INHERIT(K_RETRIES, retries)
    S_INHERIT(K_LOST_RETRIES, lost_retries)
    S_INHERIT(K_RETRY_DELAY, retry_delay_ms)
    S_INHERIT(K_TIMEOUT, timeout_ms)
    S_INHERIT(K_PRIORITY, priority)
    S_INHERIT(K_WHEN, when)
#undef S_INHERIT
    if (!x->val[K_POOL] && dx->ok[K_POOL])
        j->pool = d->pool;
    bool shell = strcmp(j->type, "shell") == 0;
    /* env and cwd from defaults apply to shell jobs only: they are shell-payload fields. */
    if (shell && !x->val[K_ENV] && dx->ok[K_ENV]) {
        j->env = s_share_list(ld, x->key, d->env, d->nenv, &j->nenv);
    }
    if (shell && !x->val[K_CWD] && dx->ok[K_CWD] && s_expand(ld, x->key, strlen(d->cwd)))
        j->cwd = d->cwd;
    if (j->when == WEFT_WHEN_FAILURE && x->ok[K_WHEN] && !x->val[K_NEEDS])
        s_diag(ld, WF_DIAG_WARNING, x->val[K_WHEN]->line, x->val[K_WHEN]->col,
               "job '%s' runs on failure but needs nothing: it will always be skipped", j->id);
    if (!type_known)
        return;
    if (shell) {
        if (!x->val[K_RUN] && !x->merge)
            s_err(ld, x->key, "job '%s' has no 'run': a shell job needs a command", j->id);
        if (x->val[K_WITH])
            s_err(ld, x->kn[K_WITH],
                  "'with' is for jobs of other types; a shell job takes 'run' (and 'env', 'cwd')");
        if (x->ok[K_RUN]) {
            /* A bound on the shell payload (run, env, cwd and msgpack framing). */
            size_t sz = strlen(j->run) + 16 + (j->cwd ? strlen(j->cwd) + 16 : 0);
            for (size_t i = 0; i < j->nenv; i++)
                sz += strlen(j->env[i]) + 16;
            if (sz > WF_MAX_PAYLOAD)
                s_err(ld, x->key,
                      "job '%s': its command, env and cwd take about %zu bytes; the limit is %u",
                      j->id, sz, WF_MAX_PAYLOAD);
        }
    } else {
        static const s_jk shell_only[] = {K_RUN, K_ENV, K_CWD};
        for (size_t i = 0; i < 3; i++) {
            s_jk k = shell_only[i];
            if (x->val[k])
                s_err(ld, x->kn[k], "'%s' is only for shell jobs; type '%s' takes 'with'",
                      s_job_keys[k], s_show(b, j->type, strlen(j->type)));
        }
    }
}

static void
s_jobs(s_ld_t *ld, const s_node_t *key, const s_node_t *map)
{
    char b[300];
    if (!map) {
        s_err(ld, ld->root, "the workflow has no 'jobs'");
        return;
    }
    if (!s_want_map(ld, map, "'jobs'"))
        return;
    size_t n = map->nkids / 2;
    if (n == 0) {
        s_err(ld, key, "'jobs' is empty: a workflow needs at least one job");
        return;
    }
    if (n > WF_MAX_JOBS_PER_REQUEST) {
        s_err(ld, key, "too many jobs: %zu (the limit is %u)", n, WF_MAX_JOBS_PER_REQUEST);
        return;
    }
    ld->njobs = n;
    ld->jobs = s_calloc(n, sizeof *ld->jobs);
    ld->valid = s_calloc(n, sizeof *ld->valid);
    s_strmap_init(&ld->jobmap, n);
    for (size_t i = 0; i < n && !ld->full; i++) {
        s_node_t *k = map->kids[2 * i], *v = map->kids[2 * i + 1];
        wf_wfjob_t *j = &ld->jobs[i];
        s_jobx_t x = {.key = k};
        j->line = k->line;
        j->col = k->col;
        j->lost_retries = 3;
        if (!s_key_ok(ld, k))
            continue;
        if (!wf_name_ok(k->text, k->len)) {
            s_err(ld, k, "job id '%s' is not a valid name: use 1 to %d of A-Z a-z 0-9 _ . : -",
                  s_show(b, k->text, k->len), WF_MAX_NAME);
            continue;
        }
        /* The map's key is the job's own copy: the tree is gone before the graph is checked. */
        char *id = s_arena_strndup(&ld->mem, k->text, k->len);
        uint32_t first;
        if (!s_strmap_put(&ld->jobmap, id, k->len, (uint32_t)i, &first)) {
            const wf_wfjob_t *f = &ld->jobs[first];
            s_err(ld, k, "duplicate job id '%s' (first at %d:%d)", k->text, f->line, f->col);
            continue;
        }
        j->id = id;
        if (v->bad)
            continue;
        if (v->kind != S_MAP) {
            s_err(ld, v, "job '%s' must be a mapping of its keys (run, needs, ...), got %s", j->id,
                  s_tname(v));
            continue;
        }
        ld->valid[i] = true;
        char where[WF_MAX_NAME + 16];
        snprintf(where, sizeof where, " in job '%s'", j->id);
        x.merge = s_scan_keys(ld, v, s_job_keys, K_COUNT, x.val, x.kn, where);
        for (int kk = 0; kk < K_COUNT && !ld->full; kk++) {
            if (x.val[kk])
                x.ok[kk] = s_parse_key(ld, (s_jk)kk, x.val[kk], j);
        }
        if (!ld->full)
            s_finish_job(ld, j, &x);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The graph: needs resolved to indexes, then cycles (iterative Tarjan, then one shortest cycle */
/* per strongly connected component, reported from its first job in file order).              */

typedef struct s_graph {
    size_t n;
    size_t *off;     /* CSR: edges of job i are [off[i], off[i+1]) */
    uint32_t *to;    /* parent index */
    uint32_t *entry; /* which need entry of job i the edge came from (for note locations) */
} s_graph_t;

static void
s_graph_fini(s_graph_t *g)
{
    free(g->off);
    free(g->to);
    free(g->entry);
    memset(g, 0, sizeof *g);
}

static const char **
s_job_ids(s_ld_t *ld)
{
    const char **ids = s_calloc(ld->njobs + 1, sizeof *ids);
    for (size_t i = 0; i < ld->njobs; i++)
        ids[i] = ld->valid[i] ? ld->jobs[i].id : NULL;
    return ids;
}

static void
s_resolve_needs(s_ld_t *ld, s_graph_t *g)
{
    char b[300], mb[160];
    size_t n = ld->njobs, total = 0;
    for (size_t i = 0; i < n; i++)
        total += ld->jobs[i].nneeds;
    g->n = n;
    g->off = s_calloc(n + 1, sizeof *g->off);
    g->to = s_calloc(total + 1, sizeof *g->to);
    g->entry = s_calloc(total + 1, sizeof *g->entry);
    const char **ids = NULL;
    size_t e = 0;
    for (size_t i = 0; i < n; i++) {
        g->off[i] = e;
        wf_wfjob_t *j = &ld->jobs[i];
        if (!ld->valid[i] || ld->full)
            continue;
        size_t start = e;
        /* Duplicate needs: a scan of the few resolved so far, or a set for long lists. */
        bool use_set = j->nneeds > 16;
        s_strmap_t seen = {0};
        if (use_set)
            s_strmap_init(&seen, j->nneeds);
        for (size_t k = 0; k < j->nneeds && !ld->full; k++) {
            const char *nm = j->needs[k];
            size_t nl = strlen(nm);
            uint32_t p;
            if (!s_strmap_get(&ld->jobmap, nm, nl, &p) || !ld->valid[p]) {
                if (!ids)
                    ids = s_job_ids(ld);
                const char *sg = s_suggest(ld, nm, nl, ids, n);
                s_diag(ld, WF_DIAG_ERROR, j->need_line[k], j->need_col[k],
                       "job '%s' needs unknown job '%s'%s", j->id, s_show(b, nm, nl),
                       s_mean(mb, sg));
                continue;
            }
            if (p == i) {
                s_diag(ld, WF_DIAG_ERROR, j->need_line[k], j->need_col[k], "job '%s' needs itself",
                       j->id);
                continue;
            }
            uint32_t f = UINT32_MAX;
            if (use_set) {
                s_strmap_put(&seen, nm, nl, (uint32_t)k, &f);
            } else {
                for (size_t q = start; q < e && f == UINT32_MAX; q++) {
                    if (g->to[q] == p)
                        f = g->entry[q];
                }
            }
            if (f != UINT32_MAX) {
                s_diag(ld, WF_DIAG_WARNING, j->need_line[k], j->need_col[k],
                       "job '%s' needs '%s' twice (first at %d:%d); once is enough", j->id, nm,
                       j->need_line[f], j->need_col[f]);
                continue;
            }
            g->to[e] = p;
            g->entry[e] = (uint32_t)k;
            e++;
        }
        if (use_set)
            s_strmap_fini(&seen);
    }
    g->off[n] = e;
    free(ids);
}

/* Report one cycle inside the SCC `in_scc` (members flagged with mark == scc id), starting at
 * its lowest-index job m: the shortest path m -needs-> ... -needs-> m, shown in run order. */
static void
s_report_cycle(s_ld_t *ld, const s_graph_t *g, uint32_t m, const uint32_t *scc, uint32_t id,
               uint32_t *prev, uint32_t *queue)
{
    /* BFS from m along needs edges within the SCC; prev[v] = the job whose need led to v. */
    size_t head = 0, tail = 0;
    uint32_t found_from = UINT32_MAX;
    queue[tail++] = m;
    prev[m] = m;
    while (head < tail && found_from == UINT32_MAX) {
        uint32_t u = queue[head++];
        for (size_t e = g->off[u]; e < g->off[u + 1]; e++) {
            uint32_t v = g->to[e];
            if (scc[v] != id)
                continue;
            if (v == m) {
                found_from = u;
                break;
            }
            if (prev[v] == UINT32_MAX) {
                prev[v] = u;
                queue[tail++] = v;
            }
        }
    }
    if (found_from == UINT32_MAX) { /* cannot happen inside a component; stay safe */
        for (size_t i = 0; i < tail; i++)
            prev[queue[i]] = UINT32_MAX;
        return;
    }
    /* Path in needs order: m -> ... -> found_from -> m; read backwards it is run order:
     * m, found_from, prev[found_from], ..., (the job right after m in needs order), m. */
    size_t len = 0;
    for (uint32_t v = found_from; v != m; v = prev[v])
        len++;
    len++; /* m itself */
    uint32_t *cyc = s_calloc(len + 1, sizeof *cyc);
    size_t c = 0;
    cyc[c++] = m;
    for (uint32_t v = found_from; v != m; v = prev[v])
        cyc[c++] = v;
    cyc[c] = m;
    s_buf_t msg = {0};
    s_buf_str(&msg, "cycle: ");
    for (size_t i = 0; i <= len; i++) {
        if (i == S_CYCLE_SHOWN && len > S_CYCLE_SHOWN + 1) {
            char t[64];
            snprintf(t, sizeof t, "... (%zu jobs) -> ", len);
            s_buf_str(&msg, t);
            i = len;
        }
        s_buf_str(&msg, ld->jobs[cyc[i]].id);
        if (i < len)
            s_buf_str(&msg, " -> ");
    }
    const wf_wfjob_t *jm = &ld->jobs[m];
    s_diag(ld, WF_DIAG_ERROR, jm->line, jm->col, "%s", msg.p);
    free(msg.p);
    /* One note per edge: cyc[i+1] needs cyc[i], at that need entry.  A long cycle gets the
     * notes of the edges its message shows, and of the edge that closes it. */
    for (size_t i = 0; i < len && !ld->full; i++) {
        if (i >= S_CYCLE_SHOWN && i + 1 < len)
            continue;
        uint32_t parent = cyc[i], child = cyc[i + 1];
        const wf_wfjob_t *cj = &ld->jobs[child];
        int line = cj->line, col = cj->col;
        for (size_t e = g->off[child]; e < g->off[child + 1]; e++) {
            if (g->to[e] == parent) {
                line = cj->need_line[g->entry[e]];
                col = cj->need_col[g->entry[e]];
                break;
            }
        }
        s_diag(ld, WF_DIAG_NOTE, line, col, "'%s' needs '%s'", cj->id, ld->jobs[parent].id);
    }
    /* Reset what the BFS touched. */
    for (size_t i = 0; i < tail; i++)
        prev[queue[i]] = UINT32_MAX;
    free(cyc);
}

static int
s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void
s_cycles(s_ld_t *ld, const s_graph_t *g)
{
    size_t n = g->n;
    uint32_t *index = s_malloc(n * sizeof *index);
    uint32_t *low = s_malloc(n * sizeof *low);
    uint32_t *scc = s_malloc(n * sizeof *scc);
    uint32_t *stack = s_malloc(n * sizeof *stack);
    bool *on = s_calloc(n, sizeof *on);
    uint32_t *cs_node = s_malloc(n * sizeof *cs_node); /* the DFS "call stack" */
    size_t *cs_edge = s_malloc(n * sizeof *cs_edge);
    for (size_t i = 0; i < n; i++)
        index[i] = scc[i] = UINT32_MAX;
    uint32_t next = 0, nscc = 0;
    size_t sp = 0;
    /* SCCs with more than one job, by lowest member index. */
    uint32_t *firsts = NULL;
    size_t nfirsts = 0, firsts_cap = 0;
    for (size_t root = 0; root < n; root++) {
        if (index[root] != UINT32_MAX)
            continue;
        size_t csp = 0;
        cs_node[csp] = (uint32_t)root;
        cs_edge[csp++] = g->off[root];
        index[root] = low[root] = next++;
        stack[sp++] = (uint32_t)root;
        on[root] = true;
        while (csp) {
            uint32_t u = cs_node[csp - 1];
            if (cs_edge[csp - 1] < g->off[u + 1]) {
                uint32_t v = g->to[cs_edge[csp - 1]++];
                if (index[v] == UINT32_MAX) {
                    index[v] = low[v] = next++;
                    stack[sp++] = v;
                    on[v] = true;
                    cs_node[csp] = v;
                    cs_edge[csp++] = g->off[v];
                } else if (on[v] && index[v] < low[u]) {
                    low[u] = index[v];
                }
                continue;
            }
            csp--;
            if (csp && low[u] < low[cs_node[csp - 1]])
                low[cs_node[csp - 1]] = low[u];
            if (low[u] == index[u]) {
                uint32_t id = nscc++, size = 0, first = UINT32_MAX, w;
                do {
                    w = stack[--sp];
                    on[w] = false;
                    scc[w] = id;
                    size++;
                    if (w < first)
                        first = w;
                } while (w != u);
                if (size > 1) {
                    if (nfirsts == firsts_cap) {
                        firsts_cap = firsts_cap ? firsts_cap * 2 : 8;
                        firsts = s_realloc(firsts, firsts_cap * sizeof *firsts);
                    }
                    firsts[nfirsts++] = first;
                }
            }
        }
    }
    free(index);
    free(low);
    free(on);
    free(cs_edge);
    free(stack);
    if (nfirsts) {
        /* Report in file order of each cycle's first job. */
        qsort(firsts, nfirsts, sizeof *firsts, s_cmp_u32);
        uint32_t *prev = s_malloc(n * sizeof *prev);
        for (size_t i = 0; i < n; i++)
            prev[i] = UINT32_MAX;
        for (size_t i = 0; i < nfirsts && !ld->full; i++)
            s_report_cycle(ld, g, firsts[i], scc, scc[firsts[i]], prev, cs_node);
        free(prev);
    }
    free(firsts);
    free(cs_node);
    free(scc);
}

/* ------------------------------------------------------------------------------------------ */
/* Load                                                                                       */

static char *
s_default_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    return n ? s_strndup(base, n) : s_strdup("workflow");
}

/* Free the file's text and the tree, and everything that points into them: once the jobs are
 * read, the rest of the checks (needs, cycles) look only at the jobs.  Freeing them here rather
 * than at the end of the load keeps the graph checks' arrays out of the peak. */
static void
s_drop_source(s_ld_t *ld)
{
    s_arena_fini(&ld->arena);
    ld->root = NULL;
    free(ld->pnodes);
    ld->pnodes = NULL;
    memset(&ld->defx, 0, sizeof ld->defx);
    free(ld->src);
    ld->src = NULL;
}

static void
s_ld_fini(s_ld_t *ld)
{
    s_drop_source(ld);
    s_str_list_free(ld->pnames, ld->nparams);
    s_str_list_free(ld->pvalues, ld->nparams);
    free(ld->pbad);
    s_strmap_fini(&ld->pmap);
    s_str_list_free(ld->pool_names, ld->npools);
    free(ld->pool_limits);
    s_strmap_fini(&ld->poolmap);
    free(ld->jobs);
    free(ld->valid);
    s_strmap_fini(&ld->jobmap);
    s_arena_fini(&ld->mem);
    free(ld->scratch.p);
    free(ld->name);
    free(ld->description);
}

static void
s_check(s_ld_t *ld, const char *const *overrides, size_t noverrides)
{
    s_node_t *root = ld->root;
    s_node_t *tv[TK_COUNT] = {0}, *tk[TK_COUNT] = {0};
    if (!root) {
        s_diag(ld, WF_DIAG_ERROR, 0, 0, "the file is empty: a workflow needs 'jobs'");
        s_params(ld, NULL, overrides, noverrides); /* still check -p against nothing */
        return;
    }
    if (root->bad)
        return;
    if (root->kind != S_MAP) {
        s_err(ld, root,
              "a workflow must be a mapping (name, params, pools, defaults, jobs), got %s",
              s_tname(root));
        return;
    }
    s_scan_keys(ld, root, s_top_keys, TK_COUNT, tv, tk, "");
    if (tv[TK_NAME] && s_want_string(ld, tv[TK_NAME], "'name'")) {
        if (tv[TK_NAME]->len == 0 || tv[TK_NAME]->len > WF_MAX_NAME)
            s_err(ld, tv[TK_NAME], "'name' must be 1 to %d bytes, got %zu", WF_MAX_NAME,
                  (size_t)tv[TK_NAME]->len);
        else
            ld->name = s_strndup(tv[TK_NAME]->text, tv[TK_NAME]->len);
    }
    if (tv[TK_DESCRIPTION] && s_want_string(ld, tv[TK_DESCRIPTION], "'description'"))
        ld->description = s_strndup(tv[TK_DESCRIPTION]->text, tv[TK_DESCRIPTION]->len);
    s_params(ld, tv[TK_PARAMS], overrides, noverrides);
    if (ld->full)
        return;
    s_pools(ld, tv[TK_POOLS]);
    if (ld->full)
        return;
    s_defaults(ld, tv[TK_DEFAULTS]);
    if (ld->full)
        return;
    s_jobs(ld, tk[TK_JOBS], tv[TK_JOBS]);
    s_drop_source(ld);
    if (ld->full || !ld->njobs)
        return;
    s_graph_t g = {0};
    s_resolve_needs(ld, &g);
    if (!ld->full)
        s_cycles(ld, &g);
    s_graph_fini(&g);
}

typedef struct s_group {
    size_t start, count, seq;
    int line, col;
} s_group_t;

static int
s_cmp_group(const void *a, const void *b)
{
    const s_group_t *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Put the diagnostics [from, to) in file order (those without a place first), each error or
 * warning keeping the notes that follow it, ties in the order they were found. */
static void
s_sort_diags(wf_diags_t *d, size_t from, size_t to)
{
    if (to <= from + 1)
        return;
    s_group_t *g = s_calloc(to - from, sizeof *g);
    size_t ng = 0;
    for (size_t i = from; i < to; i++) {
        if (d->v[i].level == WF_DIAG_NOTE && ng > 0) {
            g[ng - 1].count++;
            continue;
        }
        g[ng] = (s_group_t){i, 1, ng, d->v[i].line, d->v[i].col};
        ng++;
    }
    qsort(g, ng, sizeof *g, s_cmp_group);
    wf_diag_t *v = s_malloc((to - from) * sizeof *v);
    size_t o = 0;
    for (size_t i = 0; i < ng; i++) {
        memcpy(v + o, d->v + g[i].start, g[i].count * sizeof *v);
        o += g[i].count;
    }
    memcpy(d->v + from, v, (to - from) * sizeof *v);
    free(v);
    free(g);
}

int
wf_workflow_load(const char *path, const char *const *overrides, size_t noverrides,
                 wf_workflow_t **wf_p, wf_diags_t *diags)
{
    if (wf_p)
        *wf_p = NULL;
    if (!path || !diags || !wf_p)
        return 1;
    s_ld_t ld;
    memset(&ld, 0, sizeof ld);
    ld.path = path;
    ld.diags = diags;
    ld.suggest_budget = S_SUGGEST_BUDGET;
    size_t errors0 = diags->errors;
    size_t len = 0;
    ld.src = s_read_file(&ld, &len);
    size_t first = diags->n;
    if (ld.src) {
        ld.srclen = len;
        if (s_parse(&ld, ld.src, len))
            s_check(&ld, overrides, noverrides);
    }
    s_sort_diags(diags, first, ld.full ? diags->n - 1 : diags->n);
    size_t errors = diags->errors - errors0;
    if (errors) {
        s_ld_fini(&ld);
        return errors > INT_MAX ? INT_MAX : (int)errors;
    }
    /* Hand the results over to the workflow; what is left in ld is freed with it. */
    wf_workflow_t *wf = s_calloc(1, sizeof *wf);
    wf->path = s_strdup(path);
    wf->name = ld.name ? ld.name : s_default_name(path);
    ld.name = NULL;
    wf->description = ld.description;
    ld.description = NULL;
    wf->nparams = ld.nparams;
    wf->param_names = ld.pnames;
    wf->param_values = ld.pvalues;
    ld.pnames = ld.pvalues = NULL;
    ld.nparams = 0;
    wf->npools = ld.npools;
    wf->pool_names = ld.pool_names;
    wf->pool_limits = ld.pool_limits;
    ld.pool_names = NULL;
    ld.pool_limits = NULL;
    ld.npools = 0;
    wf->njobs = ld.njobs;
    wf->jobs = ld.jobs;
    ld.jobs = NULL;
    wf->arena = s_malloc(sizeof *wf->arena);
    *wf->arena = ld.mem;
    ld.mem = (s_arena_t){0};
    s_ld_fini(&ld);
    *wf_p = wf;
    return 0;
}

void
wf_workflow_free(wf_workflow_t **wf_p)
{
    if (!wf_p || !*wf_p)
        return;
    wf_workflow_t *wf = *wf_p;
    free(wf->path);
    free(wf->name);
    free(wf->description);
    s_str_list_free(wf->param_names, wf->nparams);
    s_str_list_free(wf->param_values, wf->nparams);
    s_str_list_free(wf->pool_names, wf->npools);
    free(wf->pool_limits);
    free(wf->jobs);
    if (wf->arena)
        s_arena_fini(wf->arena);
    free(wf->arena);
    free(wf);
    *wf_p = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* To a request                                                                               */

/* The request name: the workflow's name with every byte outside wf_name_ok's set made '-',
 * cut to WF_MAX_NAME bytes. */
static char *
s_request_name(const char *name)
{
    size_t n = strlen(name);
    if (n > WF_MAX_NAME)
        n = WF_MAX_NAME;
    if (n == 0)
        return s_strdup("workflow");
    char *out = s_strndup(name, n);
    for (size_t i = 0; i < n; i++) {
        if (!wf_name_ok(out + i, 1))
            out[i] = '-';
    }
    return out;
}

int
wf_workflow_to_request(const wf_workflow_t *wf, weft_request_t **req_p)
{
    if (!wf || !req_p)
        return WEFT_EINVAL;
    *req_p = NULL;
    char *name = s_request_name(wf->name ? wf->name : "");
    weft_request_t *req = NULL;
    int rc = weft_request_new(&req, name);
    free(name);
    if (rc != WEFT_OK)
        return rc;
    for (size_t i = 0; i < wf->npools && rc == WEFT_OK; i++)
        rc = weft_request_set_pool(req, wf->pool_names[i], wf->pool_limits[i]);
    for (size_t i = 0; i < wf->njobs && rc == WEFT_OK; i++) {
        const wf_wfjob_t *j = &wf->jobs[i];
        uint8_t *payload = NULL;
        size_t plen = 0;
        if (strcmp(j->type, "shell") == 0) {
            rc = wf_shell_payload_encode(j->run, (const char *const *)j->env, j->nenv, j->cwd,
                                         &payload, &plen);
            if (rc != WEFT_OK)
                break;
            rc = weft_request_add_job(req, j->id, j->type, payload, plen);
            free(payload);
        } else {
            rc = weft_request_add_job(req, j->id, j->type, j->with, j->with ? j->with_len : 0);
        }
    }
    for (size_t i = 0; i < wf->njobs && rc == WEFT_OK; i++) {
        const wf_wfjob_t *j = &wf->jobs[i];
        for (size_t k = 0; k < j->nneeds && rc == WEFT_OK; k++)
            rc = weft_request_add_need(req, j->id, j->needs[k]);
        const struct {
            weft_jobopt opt;
            int64_t v;
        } opts[] = {
            {WEFT_JOBOPT_RETRIES, j->retries},
            {WEFT_JOBOPT_LOST_RETRIES, j->lost_retries},
            {WEFT_JOBOPT_RETRY_DELAY_MS, j->retry_delay_ms},
            {WEFT_JOBOPT_TIMEOUT_MS, j->timeout_ms},
            {WEFT_JOBOPT_PRIORITY, j->priority},
            {WEFT_JOBOPT_WHEN, j->when},
        };
        for (size_t o = 0; o < sizeof opts / sizeof opts[0] && rc == WEFT_OK; o++)
            rc = weft_request_job_set(req, j->id, opts[o].opt, opts[o].v);
        if (rc == WEFT_OK && j->pool)
            rc = weft_request_job_set_pool(req, j->id, j->pool);
    }
    if (rc != WEFT_OK) {
        weft_request_destroy(&req);
        return rc;
    }
    *req_p = req;
    return WEFT_OK;
}
