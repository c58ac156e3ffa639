/*
 * wordcount.c -- map/reduce over a directory of text files with libweft, as a tutorial.
 *
 *     wordcount [-j THREADS] [--state DIR] TEXT_DIR
 *
 * One request, N+1 jobs: a "count" job per file (the map: payload = the file's path, result =
 * "word count\n" lines) and one "reduce" job that needs every count job, reads their results
 * back from the engine and keeps the ten most frequent words overall.  Uses include/weft/weft.h
 * only; docs/embedding.md walks through it.  A word is a run of ASCII letters, folded to lower
 * case; a file's result keeps its most frequent words that fit in WEFT_MAX_RESULT bytes.
 *
 * With --state DIR the engine's state survives: stop the program half way (Ctrl-C) and run the
 * same command again, and the same request resumes (its idempotency key comes from TEXT_DIR)
 * without counting the finished files again.  Without --state a temporary directory is used.
 */
#if !defined(_GNU_SOURCE) && !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700 /* mkdtemp, scandir, nftw, realpath, strtok_r */
#endif
#include <weft/weft.h>

#include <ctype.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- a tiny word table: (word, n) pairs, merged and ranked by sorting ---- */
typedef struct {
    char *word;
    long n;
} wc_t;
typedef struct {
    wc_t *v;
    size_t len, cap;
} table_t;

static void *
xrealloc(void *p, size_t n)
{
    if (!(p = realloc(p, n))) abort(); /* out of memory: give up, as libweft itself does */
    return p;
}

static void
table_add(table_t *t, const char *word, long n)
{
    if (t->len == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 256;
        t->v = xrealloc(t->v, t->cap * sizeof *t->v);
    }
    t->v[t->len].word = strcpy(xrealloc(NULL, strlen(word) + 1), word);
    t->v[t->len++].n = n;
}

static int
by_word(const void *a, const void *b)
{
    return strcmp(((const wc_t *)a)->word, ((const wc_t *)b)->word);
}

static int
by_rank(const void *a, const void *b)
{
    const wc_t *x = a, *y = b;
    return x->n != y->n ? (x->n < y->n ? 1 : -1) : strcmp(x->word, y->word);
}

/* Merge duplicate words (summing their counts), then sort: most frequent first. */
static void
table_rank(table_t *t)
{
    size_t out = 0;
    qsort(t->v, t->len, sizeof *t->v, by_word);
    for (size_t i = 0; i < t->len; i++) {
        if (out > 0 && strcmp(t->v[out - 1].word, t->v[i].word) == 0) {
            t->v[out - 1].n += t->v[i].n;
            free(t->v[i].word);
        } else {
            t->v[out++] = t->v[i];
        }
    }
    t->len = out;
    qsort(t->v, t->len, sizeof *t->v, by_rank);
}

/* Parse "word count\n" lines (a job's result) into the table. */
static void
table_parse(table_t *t, char *text)
{
    char word[64], *save = NULL;
    long n;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (sscanf(line, "%63s %ld", word, &n) == 2) table_add(t, word, n);
}

/* Keep the first `top` entries as the job's result, stopping before WEFT_MAX_RESULT bytes. */
static int
table_set_result(const table_t *t, size_t top, weft_job_t *job)
{
    char *buf = xrealloc(NULL, WEFT_MAX_RESULT), line[128];
    size_t len = 0;
    for (size_t i = 0; i < t->len && i < top; i++) {
        int n = snprintf(line, sizeof line, "%s %ld\n", t->v[i].word, t->v[i].n);
        if (n < 0 || (size_t)n >= sizeof line || len + (size_t)n > WEFT_MAX_RESULT) break;
        memcpy(buf + len, line, (size_t)n);
        len += (size_t)n;
    }
    int rc = weft_job_set_result(job, buf, len);
    free(buf);
    return rc;
}

static void
table_free(table_t *t)
{
    for (size_t i = 0; i < t->len; i++)
        free(t->v[i].word);
    free(t->v);
}

/* ---- the map: count the words of one file.  Runs on a consumer thread. ---- */
static int
count_handler(weft_job_t *job, void *arg)
{
    (void)arg;
    size_t plen;
    const char *payload = weft_job_payload(job, &plen); /* bytes, not a C string */
    char path[PATH_MAX], word[64];
    if (plen == 0 || plen >= sizeof path) {
        weft_job_set_error(job, "no path, or a path too long");
        return 2; /* any non-zero return fails the attempt, with this exit code */
    }
    memcpy(path, payload, plen);
    path[plen] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) {
        weft_job_set_error(job, "cannot open the file");
        return 1;
    }
    struct stat st;
    long size = fstat(fileno(f), &st) == 0 ? (long)st.st_size : 0, pos = 0, quarter = 0;
    table_t t = {0};
    size_t wlen = 0;
    int c, cancelled = 0;
    do { /* EOF ends the last word too */
        c = getc(f);
        if (c != EOF && c < 128 && isalpha(c)) {
            if (wlen < sizeof word - 1) word[wlen++] = (char)tolower(c);
        } else if (wlen > 0) {
            word[wlen] = '\0';
            table_add(&t, word, 1);
            wlen = 0;
        }
        /* Report progress at each quarter of the file, and stop early if asked to. */
        if (size > 0 && quarter < 4 && ++pos * 4 / size > quarter) {
            quarter = pos * 4 / size;
            weft_job_progress(job, (int)quarter * 25, "reading");
            cancelled = weft_job_cancelled(job);
        }
    } while (c != EOF && !cancelled);
    fclose(f);
    table_rank(&t);
    int rc = cancelled ? 3 : table_set_result(&t, SIZE_MAX, job);
    table_free(&t);
    return rc; /* 0: done, and the result is kept with the job */
}

/* ---- the reduce: merge the count jobs' results.  `arg` is the engine. ---- */
static int
reduce_handler(weft_job_t *job, void *arg)
{
    weft_engine_t *eng = arg;
    size_t plen, len;
    const char *payload = weft_job_payload(job, &plen); /* "count-0\ncount-1\n..." */
    char *ids = xrealloc(NULL, plen + 1), *buf = xrealloc(NULL, WEFT_MAX_RESULT + 1), *save = NULL;
    if (plen > 0) memcpy(ids, payload, plen);
    ids[plen] = '\0';
    table_t t = {0};
    int rc = 0;
    for (char *id = strtok_r(ids, "\n", &save); id; id = strtok_r(NULL, "\n", &save)) {
        /* "needs" guarantees that every count job is done: read its result from the store. */
        rc = weft_job_result(eng, weft_job_request(job), id, buf, WEFT_MAX_RESULT, &len);
        if (rc != WEFT_OK) {
            weft_job_set_error(job, weft_strerror(rc));
            break;
        }
        buf[len < WEFT_MAX_RESULT ? len : WEFT_MAX_RESULT] = '\0';
        table_parse(&t, buf);
    }
    if (rc == 0) {
        table_rank(&t);
        rc = table_set_result(&t, 10, job);
    }
    table_free(&t);
    free(buf);
    free(ids);
    return rc;
}

/* ---- main: open, register, start, build, submit, follow, report, close ---- */
static int
skip_dot(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Every weft call returns a weft_err; weft_strerror() names it. */
#define CHECK(call)                                                                                \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != WEFT_OK) {                                                                      \
            fprintf(stderr, "wordcount: %s: %s\n", #call, weft_strerror(rc_));                     \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

int
main(int argc, char **argv)
{
    long threads = 4;
    const char *state = NULL, *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-j") == 0 && i + 1 < argc) {
            threads = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
            state = argv[++i];
        } else if (argv[i][0] == '-' || dir) {
            dir = NULL; /* anything unexpected: print the usage */
            break;
        } else {
            dir = argv[i];
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* one line per event, even into a pipe */
    if (!dir || threads < 1 || threads > 256) {
        fprintf(stderr, "usage: wordcount [-j THREADS] [--state DIR] TEXT_DIR\n");
        return 2;
    }
    int status = 1, njobs = 0, *last = NULL;
    char tmp[] = "/tmp/wordcount-XXXXXX", errbuf[256] = "", path[PATH_MAX], id[32], key[64];
    char top[WEFT_MAX_RESULT + 1], *ids = NULL;
    size_t idslen = 0, len;
    weft_options_t *opts = NULL;
    weft_engine_t *eng = NULL;
    weft_request_t *req = NULL;
    weft_events_t *ev = NULL;
    weft_reqid_t rid;
    weft_request_info_t info;
    weft_req_state final;
    struct dirent **files = NULL;
    int nfiles = scandir(dir, &files, skip_dot, alphasort);
    if (nfiles < 0) {
        perror(dir);
        return 1;
    }
    if (!state && !(state = mkdtemp(tmp))) {
        perror("mkdtemp");
        goto out;
    }

    /* 1. Options, then open: the state directory holds the LMDB store. */
    CHECK(weft_options_new(&opts));
    if (state == tmp) /* a throw-away store does not need an fsync per commit */
        CHECK(weft_options_set_int(opts, WEFT_OPT_DURABILITY, WEFT_DURABLE_PROCESS));
    if (weft_engine_open(&eng, state, opts, errbuf, sizeof errbuf) != WEFT_OK) {
        fprintf(stderr, "wordcount: cannot open %s: %s\n", state, errbuf);
        goto out;
    }

    /* 2. Handlers, then the local consumer threads that run them. */
    CHECK(weft_engine_register(eng, "count", count_handler, NULL));
    CHECK(weft_engine_register(eng, "reduce", reduce_handler, eng));
    CHECK(weft_engine_start_consumers(eng, (unsigned)threads));

    /* 3. The request: a count job per regular file, and a reduce job that needs them all. */
    CHECK(weft_request_new(&req, "wordcount"));
    CHECK(weft_request_set_pool(req, "disk", 4)); /* at most 4 files are read at once */
    for (int i = 0; i < nfiles; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, files[i]->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        snprintf(id, sizeof id, "count-%d", njobs++);
        CHECK(weft_request_add_job(req, id, "count", path, strlen(path)));
        CHECK(weft_request_job_set_pool(req, id, "disk"));
        CHECK(weft_request_job_set(req, id, WEFT_JOBOPT_RETRIES, 1));
        ids = xrealloc(ids, idslen + strlen(id) + 2);
        idslen += (size_t)sprintf(ids + idslen, "%s\n", id);
    }
    if (njobs == 0) {
        fprintf(stderr, "wordcount: no files in %s\n", dir);
        goto out;
    }
    CHECK(weft_request_add_job(req, "reduce", "reduce", ids, idslen));
    for (int i = 0; i < njobs; i++) { /* needs come after the job; parents may come later */
        snprintf(id, sizeof id, "count-%d", i);
        CHECK(weft_request_add_need(req, "reduce", id));
    }
    if (realpath(dir, path)) { /* same directory, same key: a rerun finds its request */
        unsigned long h = 5381;
        for (const char *p = path; *p; p++)
            h = h * 33 + (unsigned char)*p;
        snprintf(key, sizeof key, "wordcount-%lx", h);
        CHECK(weft_request_set_key(req, key));
    }

    /* 4. Subscribe first (events are not replayed), then submit: durable once it returns. */
    CHECK(weft_events_open(eng, 0, &ev));
    int rc = weft_request_submit(eng, req, &rid);
    if (rc != WEFT_OK) {
        fprintf(stderr, "wordcount: submit: %s: %s\n", weft_strerror(rc), weft_request_errmsg(req));
        goto out;
    }
    printf("request %llu: %d files\n", (unsigned long long)rid, njobs);

    /* 5. Follow: one line per job state change, until the request itself finishes. */
    last = xrealloc(NULL, (size_t)(njobs + 1) * sizeof *last);
    for (int i = 0; i <= njobs; i++)
        last[i] = -1;
    for (;;) {
        weft_event_t e;
        rc = weft_events_next(ev, &e, 1000);
        if (rc == WEFT_ETIMEDOUT) { /* a quiet second: finished before we subscribed? */
            if (weft_request_status(eng, rid, &info) == WEFT_OK && info.state != WEFT_REQ_RUNNING)
                break;
            continue;
        }
        CHECK(rc);
        if (e.request != rid) continue;
        if (e.job_index == UINT32_MAX) { /* an event about the request itself */
            if (e.state != WEFT_REQ_RUNNING) break;
            continue;
        }
        if (e.job_index <= (uint32_t)njobs) {
            if (last[e.job_index] == e.state)
                continue; /* a progress report, not a change of state */
            last[e.job_index] = e.state;
        }
        printf("  %-10s %-9s attempt %u (%s)\n", e.job, weft_job_state_name(e.state), e.attempt,
               weft_reason_name(e.reason));
    }
    CHECK(weft_request_wait(eng, rid, -1, &final));

    /* 6. The reduce job's result is the answer; then every job's final state. */
    if (final == WEFT_REQ_SUCCEEDED) {
        table_t t = {0};
        CHECK(weft_job_result(eng, rid, "reduce", top, WEFT_MAX_RESULT, &len));
        top[len < WEFT_MAX_RESULT ? len : WEFT_MAX_RESULT] = '\0';
        table_parse(&t, top);
        printf("top words:\n");
        for (size_t i = 0; i < t.len; i++)
            printf("  %2zu. %-12s %ld\n", i + 1, t.v[i].word, t.v[i].n);
        table_free(&t);
    }
    CHECK(weft_request_status(eng, rid, &info));
    for (uint32_t i = 0; i < info.njobs; i++) {
        weft_job_info_t ji;
        CHECK(weft_job_status_at(eng, rid, i, &ji));
        printf("  %-10s %-9s attempts %u, %s\n", ji.id, weft_job_state_name(ji.state), ji.attempts,
               ji.error[0] ? ji.error : weft_reason_name(ji.reason));
    }
    printf("request %llu %s\n", (unsigned long long)rid, weft_req_state_name(final));
    status = final == WEFT_REQ_SUCCEEDED ? 0 : 1;
out:
    /* 7. Close everything (each accepts NULL) and remove a temporary state directory. */
    weft_events_close(&ev);
    weft_request_destroy(&req);
    weft_engine_close(&eng);
    weft_options_destroy(&opts);
    if (state == tmp) nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    for (int i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    free(ids);
    free(last);
    return status;
}
