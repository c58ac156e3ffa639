/*
 * workflow_test.c -- the workflow loader (cli/workflow.c).
 *
 * Golden files: every tests/cli/data/NAME.yml is loaded from inside that directory (so paths
 * print as "NAME.yml"), with the -p overrides listed one per line in NAME.params if there is
 * one, and its printed diagnostics must equal NAME.err exactly (no NAME.err: no diagnostic at
 * all, and the load succeeds).  Then: the documented example is the tested one and loads with
 * every value expected; params, -p and escapes; defaults applied and overridden; the duration
 * table; `with` as exact msgpack bytes; a request built from a workflow is accepted by a real
 * engine (LMDB in a temp dir) with every option read back; big graphs (a 100,000-job chain and
 * a cycle through all of it) in linear time; the diagnostics cap; nothing printed by libfyaml;
 * and 2,000 random mutations of a valid file, which must only ever produce errors (run under
 * ASan for leaks).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto.h"
#include "shell.h"
#include "testutil.h"
#include "workflow.h"

/* ---- helpers ------------------------------------------------------------------------- */

static const char *
s_data(void)
{
    const char *d = getenv("WEFT_CLI_DATA");
    assert_non_null(d);
    return d;
}

/* The whole file, NUL-terminated (NULL if it cannot be read). */
static char *
s_slurp(const char *path, size_t *len_p)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t r;
    while ((r = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += r;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[len] = 0;
    if (len_p)
        *len_p = len;
    return buf;
}

static void
s_spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* The diagnostics as wf_diags_print prints them (heap string). */
static char *
s_printed(const wf_diags_t *d)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    assert_non_null(m);
    wf_diags_print(d, m);
    fclose(m);
    return text;
}

typedef struct s_fix {
    char *dir;
    char *path; /* dir/w.yml */
} s_fix_t;

static int
s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = wf_test_tmpdir("workflow");
    assert_non_null(f->dir);
    assert_true(asprintf(&f->path, "%s/w.yml", f->dir) > 0);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    s_fix_t *f = *state;
    wf_test_rmtree(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

/* Write `yaml` to the fixture's file and load it. */
static int
s_load(s_fix_t *f, const char *yaml, const char *const *ov, size_t nov, wf_workflow_t **wf,
       wf_diags_t *d)
{
    s_spit(f->path, yaml, strlen(yaml));
    memset(d, 0, sizeof *d);
    return wf_workflow_load(f->path, ov, nov, wf, d);
}

/* Load and expect success with no diagnostic at all. */
static wf_workflow_t *
s_load_ok(s_fix_t *f, const char *yaml, const char *const *ov, size_t nov)
{
    wf_workflow_t *wf = NULL;
    wf_diags_t d;
    int rc = s_load(f, yaml, ov, nov, &wf, &d);
    if (rc != 0 || d.n != 0) {
        char *t = s_printed(&d);
        print_message("unexpected diagnostics:\n%s", t);
        free(t);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(d.n, 0);
    assert_non_null(wf);
    wf_diags_fini(&d);
    return wf;
}

/* Load and expect exactly one error (any further diagnostics must be notes); returns its
 * message (heap) and checks its place when line > 0. */
static char *
s_load_err(s_fix_t *f, const char *yaml, const char *const *ov, size_t nov, int line, int col)
{
    wf_workflow_t *wf = NULL;
    wf_diags_t d;
    int rc = s_load(f, yaml, ov, nov, &wf, &d);
    if (rc != 1) {
        char *t = s_printed(&d);
        print_message("expected one error, got %d:\n%s", rc, t);
        free(t);
    }
    assert_int_equal(rc, 1);
    assert_null(wf);
    assert_true(d.n >= 1);
    assert_int_equal(d.v[0].level, WF_DIAG_ERROR);
    if (line >= 0) {
        assert_int_equal(d.v[0].line, line);
        assert_int_equal(d.v[0].col, col);
    }
    char *msg = strdup(d.v[0].message);
    wf_diags_fini(&d);
    return msg;
}

static const wf_wfjob_t *
s_job(const wf_workflow_t *wf, const char *id)
{
    for (size_t i = 0; i < wf->njobs; i++) {
        if (strcmp(wf->jobs[i].id, id) == 0)
            return &wf->jobs[i];
    }
    fail_msg("no job '%s'", id);
    return NULL;
}

/* ---- golden files -------------------------------------------------------------------- */

static int
s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_workflow_golden_files(void **state)
{
    (void)state;
    char *here = getcwd(NULL, 0);
    assert_non_null(here);
    assert_int_equal(chdir(s_data()), 0);
    DIR *dir = opendir(".");
    assert_non_null(dir);
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".yml") == 0) {
            assert_true(n < 256);
            names[n++] = strndup(de->d_name, l - 4);
        }
    }
    closedir(dir);
    qsort(names, n, sizeof *names, s_cmp_str);
    int failures = 0, with_errors = 0;
    for (size_t i = 0; i < n; i++) {
        char yml[300], err[300], par[300];
        snprintf(yml, sizeof yml, "%s.yml", names[i]);
        snprintf(err, sizeof err, "%s.err", names[i]);
        snprintf(par, sizeof par, "%s.params", names[i]);
        char *params = s_slurp(par, NULL);
        const char *ov[16];
        size_t nov = 0;
        for (char *save = NULL, *line = params ? strtok_r(params, "\n", &save) : NULL;
             line && nov < 16; line = strtok_r(NULL, "\n", &save))
            ov[nov++] = line;
        wf_workflow_t *wf = NULL;
        wf_diags_t d = {0};
        int rc = wf_workflow_load(yml, ov, nov, &wf, &d);
        char *got = s_printed(&d);
        char *want = s_slurp(err, NULL);
        bool expect_errors = want && strstr(want, ": error: ");
        with_errors += expect_errors;
        if (strcmp(got, want ? want : "") != 0 || (rc != 0) != expect_errors ||
            (wf != NULL) != (rc == 0)) {
            print_message("golden %s (rc %d):\n--- expected\n%s--- got\n%s", yml, rc,
                          want ? want : "", got);
            failures++;
        }
        free(got);
        free(want);
        free(params);
        wf_diags_fini(&d);
        wf_workflow_free(&wf);
        assert_null(wf);
        free(names[i]);
    }
    assert_int_equal(chdir(here), 0);
    free(here);
    assert_int_equal(failures, 0);
    /* One golden pair per error class of docs/workflow-format.md, at least. */
    assert_true(with_errors >= 16);
}

/* The example in docs/workflow-format.md is, byte for byte, tests/cli/data/example.yml. */
static void
test_workflow_doc_example_is_tested(void **state)
{
    (void)state;
    char *doc_path = NULL, *ex_path = NULL;
    assert_true(asprintf(&doc_path, "%s/../../../docs/workflow-format.md", s_data()) > 0);
    assert_true(asprintf(&ex_path, "%s/example.yml", s_data()) > 0);
    char *doc = s_slurp(doc_path, NULL);
    char *ex = s_slurp(ex_path, NULL);
    assert_non_null(doc);
    assert_non_null(ex);
    const char *mark = "<!-- the example: tests/cli/data/example.yml -->\n```yaml\n";
    char *start = strstr(doc, mark);
    assert_non_null(start);
    start += strlen(mark);
    char *end = strstr(start, "\n```\n");
    assert_non_null(end);
    end[1] = 0;
    assert_string_equal(start, ex);
    free(doc);
    free(ex);
    free(doc_path);
    free(ex_path);
}

static void
test_workflow_example_loads_with_every_value(void **state)
{
    (void)state;
    char *path = NULL;
    assert_true(asprintf(&path, "%s/example.yml", s_data()) > 0);
    const char *ov[] = {"day=2024-05-01"};
    wf_workflow_t *wf = NULL;
    wf_diags_t d = {0};
    assert_int_equal(wf_workflow_load(path, ov, 1, &wf, &d), 0);
    assert_int_equal(d.n, 0);
    assert_string_equal(wf->name, "nightly-etl");
    assert_string_equal(wf->description,
                        "Fetch, transform and load one day of orders and refunds.");
    assert_int_equal(wf->nparams, 3);
    assert_string_equal(wf->param_names[0], "day");
    assert_string_equal(wf->param_values[0], "2024-05-01");
    assert_string_equal(wf->param_values[2], "4");
    assert_int_equal(wf->npools, 2);
    assert_string_equal(wf->pool_names[0], "api");
    assert_int_equal(wf->pool_limits[0], 2);
    assert_int_equal(wf->pool_limits[1], 1);
    static const char *const order[] = {"fetch_orders", "fetch_refunds", "transform", "load",
                                        "report",       "alert",         "cleanup"};
    assert_int_equal(wf->njobs, 7);
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(wf->jobs[i].id, order[i]);

    const wf_wfjob_t *j = s_job(wf, "fetch_orders");
    assert_int_equal(j->line, 28);
    assert_int_equal(j->col, 3);
    assert_string_equal(j->type, "shell");
    assert_string_equal(j->run, "./fetch.sh orders \"$DAY\" \"s3://acme-raw/orders\"");
    assert_int_equal(j->nenv, 2);
    assert_string_equal(j->env[0], "DAY=2024-05-01");
    assert_string_equal(j->env[1], "BUCKET=s3://acme-raw");
    assert_string_equal(j->cwd, "/srv/etl");
    assert_int_equal(j->retries, 2);
    assert_int_equal(j->lost_retries, 3);
    assert_int_equal(j->retry_delay_ms, 30000);
    assert_int_equal(j->timeout_ms, 3600000);
    assert_int_equal(j->priority, 0);
    assert_string_equal(j->pool, "api");
    assert_int_equal(j->when, WEFT_WHEN_SUCCESS);
    assert_int_equal(j->nneeds, 0);

    assert_int_equal(s_job(wf, "fetch_refunds")->priority, 10);

    j = s_job(wf, "transform");
    assert_int_equal(j->nneeds, 2);
    assert_string_equal(j->needs[0], "fetch_orders");
    assert_string_equal(j->needs[1], "fetch_refunds");
    assert_int_equal(j->need_line[1], 38);
    assert_int_equal(j->need_col[1], 27);
    assert_string_equal(j->run, "./transform.py --jobs 4 --day \"$DAY\"");
    assert_int_equal(j->timeout_ms, 9000000);
    assert_int_equal(j->nenv, 2); /* the job's env replaces the default one */
    assert_string_equal(j->env[1], "PYTHONUNBUFFERED=1");
    assert_null(j->pool);

    j = s_job(wf, "load");
    assert_string_equal(j->run,
                        "./load.sh \"$DAY\"\necho \"50 loaded, checking\" >&$WEFT_PROGRESS_FD\n"
                        "./check.sh \"$DAY\"\n");
    assert_int_equal(j->lost_retries, 1);
    assert_string_equal(j->pool, "warehouse");

    j = s_job(wf, "report");
    assert_string_equal(j->type, "http");
    assert_null(j->run);
    assert_int_equal(j->nenv, 0); /* defaults' env and cwd are for shell jobs */
    assert_null(j->cwd);
    assert_non_null(j->with);
    assert_true(j->with_len > 0);
    assert_true(wf_msgpack_safe(j->with, j->with_len, WF_MAX_DEPTH));
    assert_int_equal(j->retries, 5);
    assert_int_equal(j->timeout_ms, 3600000);

    j = s_job(wf, "alert");
    assert_int_equal(j->when, WEFT_WHEN_FAILURE);
    assert_int_equal(j->retries, 0);
    assert_int_equal(j->timeout_ms, 90000);

    j = s_job(wf, "cleanup");
    assert_int_equal(j->when, WEFT_WHEN_ALWAYS);
    assert_string_equal(j->run, "rm -rf \"tmp/${DAY}\"");

    wf_workflow_free(&wf);
    assert_null(wf);
    wf_diags_fini(&d);
    free(path);
}

/* ---- files and places ---------------------------------------------------------------- */

static void
test_workflow_file_errors_have_no_place(void **state)
{
    s_fix_t *f = *state;
    wf_workflow_t *wf = NULL;
    wf_diags_t d = {0};
    char *missing = NULL;
    assert_true(asprintf(&missing, "%s/nope.yml", f->dir) > 0);
    assert_int_equal(wf_workflow_load(missing, NULL, 0, &wf, &d), 1);
    assert_null(wf);
    char *t = s_printed(&d);
    char *want = NULL;
    assert_true(asprintf(&want, "%s: error: cannot open: %s\n", missing, strerror(ENOENT)) > 0);
    assert_string_equal(t, want);
    free(t);
    free(want);
    wf_diags_fini(&d);

    assert_int_equal(wf_workflow_load(f->dir, NULL, 0, &wf, &d), 1);
    assert_string_equal(d.v[0].message, "cannot open: not a regular file");
    assert_int_equal(d.v[0].line, 0);
    wf_diags_fini(&d);

    /* Over the size limit: refused before parsing (sparse file, no real bytes written). */
    int fd = open(missing, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)WF_WORKFLOW_MAX_FILE + 1), 0);
    close(fd);
    assert_int_equal(wf_workflow_load(missing, NULL, 0, &wf, &d), 1);
    assert_non_null(strstr(d.v[0].message, "the limit is 268435456"));
    wf_diags_fini(&d);
    free(missing);
}

static void
test_workflow_libfyaml_prints_nothing(void **state)
{
    s_fix_t *f = *state;
    char *errpath = NULL;
    assert_true(asprintf(&errpath, "%s/stderr.txt", f->dir) > 0);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    static const char *const bad[] = {
        "jobs: [1, 2\n",
        "jobs:\n  a:\n\trun: x\n",
        "a: b: c\n",
        "{",
        "\"abc",
        "- - -\n:\n",
        "jobs: {a: {run: \"\\q\"}}\n",
        "%YAML 9.9\n---\njobs: {}\n",
        "!<x> a: b\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wf_workflow_t *wf = NULL;
        wf_diags_t d;
        int rc = s_load(f, bad[i], NULL, 0, &wf, &d);
        assert_true(rc > 0);
        assert_null(wf);
        for (size_t k = 0; k < d.n; k++) {
            assert_true(d.v[k].line >= 0 && d.v[k].col >= 0);
            assert_non_null(d.v[k].message);
        }
        wf_diags_fini(&d);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size_t len = 99;
    char *txt = s_slurp(errpath, &len);
    assert_non_null(txt);
    assert_int_equal(len, 0);
    free(txt);
    free(errpath);
}

/* ${...} errors point at the "${" itself wherever the column is exact. */
static void
test_workflow_param_error_columns(void **state)
{
    s_fix_t *f = *state;
    struct {
        const char *yaml;
        int line, col;
    } cases[] = {
        {"jobs:\n  a:\n    run: echo ${x}\n", 3, 15},
        {"jobs:\n  a:\n    run: \"echo ${x}\"\n", 3, 16},
        {"jobs:\n  a:\n    run: 'it''s ${x}'\n", 3, 17},
        {"jobs:\n  a:\n    run: \"a\\tb ${x}\"\n", 3, 10}, /* backslash: the scalar's place */
        {"jobs:\n  a:\n    run: |\n      echo 1\n      echo ${x}\n", 5, 12},
        {"jobs:\n  a:\n    run: >\n      one\n      two ${x}\n", 5, 11},
        {"jobs:\n  a:\n    run: echo\n      and ${x}\n", 4, 11},
        {"jobs:\n  a:\n    run: \"é ${x}\"\n", 3, 13},
        {"jobs:\n  a:\n    run: $${x} ${x}\n", 3, 16},
        {"jobs:\n  a: {run: \"${x}\"}\n", 2, 13},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *m = s_load_err(f, cases[i].yaml, NULL, 0, cases[i].line, cases[i].col);
        assert_string_equal(m, "unknown param 'x' in 'run'");
        free(m);
    }
}

/* ---- params -------------------------------------------------------------------------- */

static const char s_params_yaml[] =
    "params:\n"
    "  who: world\n"
    "  n: 3\n"
    "  flag: true\n"
    "  ver: 1.50\n"
    "  empty: \"\"\n"
    "jobs:\n"
    "  a:\n"
    "    run: echo ${who} ${n} ${flag} ${ver} [${empty}] $${who} $$ ${who}${who} $HOME $ $$$${x}\n"
    "    env: {GREETING: \"hi ${who}\", N: \"${n}\", RAW: 12}\n"
    "    cwd: /tmp/${who}\n"
    "  b:\n"
    "    type: http\n"
    "    with: {url: \"http://${who}/\", key: \"$${k}\"}\n";

static void
test_workflow_params_substitute(void **state)
{
    s_fix_t *f = *state;
    wf_workflow_t *wf = s_load_ok(f, s_params_yaml, NULL, 0);
    const wf_wfjob_t *a = s_job(wf, "a");
    assert_string_equal(a->run, "echo world 3 true 1.50 [] ${who} $$ worldworld $HOME $ $$${x}");
    assert_int_equal(a->nenv, 3);
    assert_string_equal(a->env[0], "GREETING=hi world");
    assert_string_equal(a->env[1], "N=3");
    assert_string_equal(a->env[2], "RAW=12");
    assert_string_equal(a->cwd, "/tmp/world");
    assert_string_equal(wf->param_values[4], "");
    /* with: {url: "http://world/", key: "${k}"} */
    static const uint8_t want[] = {0x82, 0xa3, 'u', 'r',  'l', 0xad, 'h', 't', 't', 'p',
                                   ':',  '/',  '/', 'w',  'o', 'r',  'l', 'd', '/', 0xa3,
                                   'k',  'e',  'y', 0xa4, '$', '{',  'k', '}'};
    const wf_wfjob_t *b = s_job(wf, "b");
    assert_int_equal(b->with_len, sizeof want);
    assert_memory_equal(b->with, want, sizeof want);
    wf_workflow_free(&wf);
}

static void
test_workflow_params_overridden_with_p(void **state)
{
    s_fix_t *f = *state;
    const char *ov[] = {"who=moon", "n=7", "who=a=b", "empty=x"};
    wf_workflow_t *wf = s_load_ok(f, s_params_yaml, ov, 4);
    const wf_wfjob_t *a = s_job(wf, "a");
    assert_string_equal(a->run, "echo a=b 7 true 1.50 [x] ${who} $$ a=ba=b $HOME $ $$${x}");
    assert_string_equal(wf->param_values[0], "a=b"); /* the last -p wins */
    wf_workflow_free(&wf);

    /* A param without a value is fine once -p gives it one. */
    const char *yaml = "params:\n  day:\njobs:\n  a:\n    run: echo ${day}\n";
    const char *ov2[] = {"day=2024-01-01"};
    wf = s_load_ok(f, yaml, ov2, 1);
    assert_string_equal(wf->jobs[0].run, "echo 2024-01-01");
    wf_workflow_free(&wf);
    char *m = s_load_err(f, yaml, NULL, 0, 2, 3);
    assert_string_equal(m, "param 'day' has no value; give it with -p day=VALUE");
    free(m);

    /* -p of an undeclared param: an error with no place, and a suggestion when close. */
    const char *ov3[] = {"day=1", "dy=2"};
    m = s_load_err(f, yaml, ov3, 2, 0, 0);
    assert_string_equal(m, "unknown param 'dy' given with -p (did you mean 'day'?)");
    free(m);
    const char *ov4[] = {"day=1", "=2"};
    m = s_load_err(f, yaml, ov4, 2, 0, 0);
    assert_string_equal(m, "unknown param '' given with -p");
    free(m);
}

static void
test_workflow_param_declarations_are_checked(void **state)
{
    s_fix_t *f = *state;
    char *m = s_load_err(f, "params:\n  2x: 1\njobs: {a: {run: x}}\n", NULL, 0, 2, 3);
    assert_string_equal(m, "param name '2x' is not valid: use letters, digits and '_', not "
                           "starting with a digit (at most 128 characters)");
    free(m);
    m = s_load_err(f, "params:\n  x: [1]\njobs: {a: {run: x}}\n", NULL, 0, 2, 6);
    assert_string_equal(m, "param 'x' must be a string, number or boolean, got a list");
    free(m);
    m = s_load_err(f, "params:\n  x: 1\n  x: 2\njobs: {a: {run: x}}\n", NULL, 0, 3, 3);
    assert_string_equal(m, "duplicate param 'x' (first at 2:3)");
    free(m);
    m = s_load_err(f, "jobs: {a: {run: \"${x\"}}\n", NULL, 0, 1, 18);
    assert_string_equal(
        m, "bad param reference '${x' in 'run': write ${NAME}, or $${ for a literal '${'");
    free(m);
}

/* ---- defaults ------------------------------------------------------------------------ */

static void
test_workflow_defaults_applied_and_overridden(void **state)
{
    s_fix_t *f = *state;
    wf_workflow_t *wf = s_load_ok(f,
                                  "pools: {db: 1, cpu: 4}\n"
                                  "defaults:\n"
                                  "  retries: 3\n"
                                  "  lost_retries: 5\n"
                                  "  retry_delay: 10s\n"
                                  "  timeout: 5m\n"
                                  "  priority: 7\n"
                                  "  pool: db\n"
                                  "  when: always\n"
                                  "  env: {A: 1, B: 2}\n"
                                  "  cwd: /work\n"
                                  "jobs:\n"
                                  "  a:\n"
                                  "    run: echo a\n"
                                  "  b:\n"
                                  "    run: echo b\n"
                                  "    retries: 0\n"
                                  "    lost_retries: 0\n"
                                  "    retry_delay: 250ms\n"
                                  "    timeout: 0\n"
                                  "    priority: -3\n"
                                  "    pool: cpu\n"
                                  "    when: success\n"
                                  "    env: {C: 3}\n"
                                  "    cwd: /other\n"
                                  "  c:\n"
                                  "    type: noop\n"
                                  "    needs: [a, b]\n"
                                  "  d:\n"
                                  "    run: echo d\n",
                                  NULL, 0);
    const wf_wfjob_t *a = s_job(wf, "a"), *b = s_job(wf, "b"), *c = s_job(wf, "c");
    assert_int_equal(a->retries, 3);
    assert_int_equal(a->lost_retries, 5);
    assert_int_equal(a->retry_delay_ms, 10000);
    assert_int_equal(a->timeout_ms, 300000);
    assert_int_equal(a->priority, 7);
    assert_string_equal(a->pool, "db");
    assert_int_equal(a->when, WEFT_WHEN_ALWAYS);
    assert_int_equal(a->nenv, 2);
    assert_string_equal(a->env[0], "A=1");
    assert_string_equal(a->cwd, "/work");

    assert_int_equal(b->retries, 0);
    assert_int_equal(b->lost_retries, 0);
    assert_int_equal(b->retry_delay_ms, 250);
    assert_int_equal(b->timeout_ms, 0);
    assert_int_equal(b->priority, -3);
    assert_string_equal(b->pool, "cpu");
    assert_int_equal(b->when, WEFT_WHEN_SUCCESS);
    assert_int_equal(b->nenv, 1);
    assert_string_equal(b->env[0], "C=3");
    assert_string_equal(b->cwd, "/other");

    assert_string_equal(c->type, "noop");
    assert_null(c->run);
    assert_null(c->with);
    assert_int_equal(c->nenv, 0);
    assert_null(c->cwd);
    assert_int_equal(c->retries, 3);
    assert_string_equal(c->pool, "db");
    assert_int_equal(c->nneeds, 2);

    /* Every job that inherits gets all of defaults, not only the first. */
    const wf_wfjob_t *dj = s_job(wf, "d");
    assert_int_equal(dj->nenv, 2);
    assert_string_equal(dj->env[0], "A=1");
    assert_string_equal(dj->env[1], "B=2");
    assert_string_equal(dj->cwd, "/work");
    assert_string_equal(dj->pool, "db");
    assert_string_equal(dj->type, "shell");
    wf_workflow_free(&wf);

    /* No defaults at all: the documented built-in defaults. */
    wf = s_load_ok(f, "jobs:\n  a:\n    run: x\n", NULL, 0);
    a = &wf->jobs[0];
    assert_string_equal(wf->name, "w"); /* the file's base name */
    assert_null(wf->description);
    assert_string_equal(a->type, "shell");
    assert_int_equal(a->retries, 0);
    assert_int_equal(a->lost_retries, 3);
    assert_int_equal(a->retry_delay_ms, 0);
    assert_int_equal(a->timeout_ms, 0);
    assert_int_equal(a->priority, 0);
    assert_null(a->pool);
    assert_int_equal(a->when, WEFT_WHEN_SUCCESS);
    assert_null(a->cwd);
    assert_int_equal(a->nenv, 0);
    wf_workflow_free(&wf);

    /* A default type makes jobs without `run` legal. */
    wf = s_load_ok(f, "defaults: {type: noop}\njobs: {a: {}, b: {needs: a, type: shell, run: x}}\n",
                   NULL, 0);
    assert_string_equal(wf->jobs[0].type, "noop");
    assert_string_equal(wf->jobs[1].type, "shell");
    wf_workflow_free(&wf);
}

/* ---- durations ----------------------------------------------------------------------- */

static void
test_workflow_durations_table(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool ok;
        uint32_t ms;
    } t[] = {
        {"0", true, 0},
        {"90", true, 90000},
        {"90s", true, 90000},
        {"5m", true, 300000},
        {"1h30m", true, 5400000},
        {"250ms", true, 250},
        {"2h", true, 7200000},
        {"1d", true, 86400000},
        {"0s", true, 0},
        {"1m30s", true, 90000},
        {"1d2h3m4s5ms", true, 93784005},
        {"007s", true, 7000},
        {"4294967295ms", true, 4294967295u},
        {"4294967", true, 4294967000u},
        {"49d", true, 4233600000u},
        {"", false, 0},
        {"s", false, 0},
        {"ms", false, 0},
        {"-5s", false, 0},
        {"+5s", false, 0},
        {"5 s", false, 0},
        {" 5s", false, 0},
        {"5s ", false, 0},
        {"5x", false, 0},
        {"1.5h", false, 0},
        {"30m1h", false, 0},
        {"1h1h", false, 0},
        {"5ms5s", false, 0},
        {"5S", false, 0},
        {"1H", false, 0},
        {"1h30", false, 0},
        {"5sm", false, 0},
        {"4294967296ms", false, 0},
        {"4294968", false, 0},
        {"50d", false, 0},
        {"99999999999999999999s", false, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint32_t ms = 12345;
        bool ok = wf_parse_duration(t[i].s, &ms);
        if (ok != t[i].ok || (ok && ms != t[i].ms))
            fail_msg("wf_parse_duration(\"%s\") = %d, %u", t[i].s, ok, ms);
    }
    assert_false(wf_parse_duration(NULL, NULL));
}

static void
test_workflow_durations_in_files(void **state)
{
    s_fix_t *f = *state;
    wf_workflow_t *wf = s_load_ok(f,
                                  "jobs:\n"
                                  "  a: {run: x, timeout: 90, retry_delay: \"90\"}\n"
                                  "  b: {run: x, timeout: 30d, retry_delay: 1h}\n"
                                  "  c: {run: x, timeout: 0, retry_delay: 0ms}\n",
                                  NULL, 0);
    assert_int_equal(wf->jobs[0].timeout_ms, 90000);
    assert_int_equal(wf->jobs[0].retry_delay_ms, 90000);
    assert_int_equal(wf->jobs[1].timeout_ms, WF_MAX_TIMEOUT_MS);
    assert_int_equal(wf->jobs[1].retry_delay_ms, WF_MAX_RETRY_DELAY_MS);
    assert_int_equal(wf->jobs[2].timeout_ms, 0);
    wf_workflow_free(&wf);
    char *m = s_load_err(f, "jobs: {a: {run: x, timeout: 99999999999}}\n", NULL, 0, 1, 29);
    assert_string_equal(m, "'timeout' must be at most 30d, got 99999999999s");
    free(m);
    m = s_load_err(f, "jobs: {a: {run: x, timeout: true}}\n", NULL, 0, 1, 29);
    assert_string_equal(m,
                        "'timeout' must be a duration like 90s, 5m, 1h30m or 250ms, got a boolean");
    free(m);
    m = s_load_err(f, "jobs: {a: {run: x, retry_delay: 3601s}}\n", NULL, 0, 1, 33);
    assert_string_equal(m, "'retry_delay' must be at most 1h, got 1h1s");
    free(m);
}

/* ---- with ---------------------------------------------------------------------------- */

static void
test_workflow_with_encodes_msgpack(void **state)
{
    s_fix_t *f = *state;
    wf_workflow_t *wf = s_load_ok(f,
                                  "params: {p: q}\n"
                                  "jobs:\n"
                                  "  h:\n"
                                  "    type: http\n"
                                  "    with:\n"
                                  "      url: https://x/${p}\n"
                                  "      n: 1\n"
                                  "      neg: -2\n"
                                  "      big: 18446744073709551615\n"
                                  "      f: 1.5\n"
                                  "      t: true\n"
                                  "      z: null\n"
                                  "      list: [a, 0x10]\n"
                                  "      m: {k: \"v\", 7: ~}\n"
                                  "  e:\n"
                                  "    type: http\n"
                                  "    with: {}\n",
                                  NULL, 0);
    static const uint8_t want[] = {
        0x89, /* map of 9 */
        0xa3, 'u',  'r',  'l',  0xab, 'h',  't',  't',  'p',  's',  ':',  '/',
        '/',  'x',  '/',  'q',  0xa1, 'n',  0x01, /* n: 1 */
        0xa3, 'n',  'e',  'g',  0xfe,             /* neg: -2 */
        0xa3, 'b',  'i',  'g',  0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xa1, 'f',  0xcb, 0x3f, 0xf8, 0,    0,    0,    0,    0,    0, /* f: 1.5 */
        0xa1, 't',  0xc3,                                                    /* t: true */
        0xa1, 'z',  0xc0,                                                    /* z: nil */
        0xa4, 'l',  'i',  's',  't',  0x92, 0xa1, 'a',  0x10,                /* list: [a, 16] */
        0xa1, 'm',  0x82, 0xa1, 'k',  0xa1, 'v',  0x07, 0xc0,                /* m: {k: v, 7: nil} */
    };
    const wf_wfjob_t *h = s_job(wf, "h");
    assert_int_equal(h->with_len, sizeof want);
    assert_memory_equal(h->with, want, sizeof want);
    const wf_wfjob_t *e = s_job(wf, "e");
    assert_int_equal(e->with_len, 1);
    assert_int_equal(e->with[0], 0x80);
    wf_workflow_free(&wf);

    char *m = s_load_err(f, "jobs: {h: {type: t, with: [1]}}\n", NULL, 0, 1, 27);
    assert_string_equal(m, "'with' must be a mapping, got a list");
    free(m);
    m = s_load_err(f, "jobs: {h: {type: t, with: {a: 1, a: 2}}}\n", NULL, 0, 1, 34);
    assert_string_equal(m, "duplicate key 'a' (first at 1:28)");
    free(m);
    m = s_load_err(f, "jobs: {h: {type: t, with: {a: [[[[[[[[1]]]]]]]]}}}\n", NULL, 0, 1, 38);
    assert_string_equal(m, "'with' is nested deeper than 8 levels");
    free(m);
    m = s_load_err(f, "jobs: {h: {type: t, with: {? [1] : 2}}}\n", NULL, 0, -1, -1);
    assert_string_equal(m, "a key in 'with' must be a scalar, got a list");
    free(m);
    m = s_load_err(f, "jobs: {h: {type: t, with: {a: 99999999999999999999}}}\n", NULL, 0, 1, 31);
    assert_string_equal(m, "integer 99999999999999999999 is out of range");
    free(m);
}

/* ---- more rules, one error each ------------------------------------------------------ */

static void
test_workflow_rules_one_error_each(void **state)
{
    s_fix_t *f = *state;
    static const struct {
        const char *yaml;
        const char *msg;
    } t[] = {
        {"jobs: {}\n", "'jobs' is empty: a workflow needs at least one job"},
        {"name: x\n", "the workflow has no 'jobs'"},
        {"jobs: [a]\n", "'jobs' must be a mapping, got a list"},
        {"jobs: {a: run}\n",
         "job 'a' must be a mapping of its keys (run, needs, ...), got a string"},
        {"jobs: {a: {run: \"\"}}\n", "'run' is empty"},
        {"jobs: {a: {run: x, cwd: \"\"}}\n", "'cwd' is empty"},
        {"jobs: {a: {run: \"a\\0b\"}}\n", "'run' must not contain a NUL character"},
        {"jobs: {a: {run: x, env: {1A: x}}}\n",
         "env name '1A' is not valid: use letters, digits and '_', not starting with a digit"},
        {"jobs: {a: {run: x, env: {A: ~}}}\n",
         "env 'A' must be a string, number or boolean, got null"},
        {"jobs: {a: {run: x, env: {A: 1, A: 2}}}\n", "duplicate env 'A' (first at 1:26)"},
        {"jobs: {a: {run: x, needs: [[b]]}, b: {run: x}}\n", "a need must be a job id, got a list"},
        {"jobs: {a: {run: x, needs: ~}}\n",
         "'needs' must be a job id or a list of job ids, got null"},
        {"jobs: {a: {run: x, run: y}}\n", "duplicate key 'run' (first at 1:12)"},
        {"jobs: {a: {run: x}}\njobs: {b: {run: y}}\n", "duplicate key 'jobs' (first at 1:1)"},
        {"pools: {a: 1, a: 2}\njobs: {a: {run: x}}\n", "duplicate pool 'a' (first at 1:9)"},
        {"pools: [a]\njobs: {a: {run: x}}\n", "'pools' must be a mapping, got a list"},
        {"name: \"\"\njobs: {a: {run: x}}\n", "'name' must be 1 to 128 bytes, got 0"},
        {"name: [x]\njobs: {a: {run: x}}\n", "'name' must be a string, got a list"},
        {"description: 5\njobs: {a: {run: x}}\n", "'description' must be a string, got an integer"},
        {"defaults: {needs: a}\njobs: {a: {run: x}}\n",
         "'needs' cannot be set in defaults: it belongs to each job"},
        {"jobs: {a: {type: t, env: {A: b}}}\n",
         "'env' is only for shell jobs; type 't' takes 'with'"},
        {"jobs: {a: {type: t, cwd: /}}\n", "'cwd' is only for shell jobs; type 't' takes 'with'"},
        {"jobs: {a: {run: x, tpye: t}}\n", "unknown key 'tpye' in job 'a' (did you mean 'type'?)"},
        {"pool: {a: 1}\njobs: {a: {run: x}}\n", "unknown key 'pool' (did you mean 'pools'?)"},
        {"jobs: {a: {run: !!int x}}\n", "'x' is not a valid !!int"},
        {"jobs: {a: {run: !foo x}}\n",
         "unsupported YAML tag '!foo' (only the core tags like !!str are allowed)"},
        {"jobs: {a: {run: x, retries: !!str 3}}\n", "'retries' must be an integer, got a string"},
        {"jobs: {a: {run: x, needs: b}, b: {run: x, needs: [a, a]}}\n", "cycle: a -> b -> a"},
        {"jobs: {? [a] : {run: x}}\n", "a key must be a plain name, got a list"},
        {"jobs: {a: {<<: {run: x}}}\n", "YAML merge keys (<<) are not supported: use 'defaults'"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        wf_workflow_t *wf = NULL;
        wf_diags_t d;
        int rc = s_load(f, t[i].yaml, NULL, 0, &wf, &d);
        size_t errors = 0;
        const char *first = NULL;
        for (size_t k = 0; k < d.n; k++) {
            if (d.v[k].level == WF_DIAG_ERROR) {
                errors++;
                if (!first)
                    first = d.v[k].message;
            }
        }
        if (rc != 1 || errors != 1 || strcmp(first, t[i].msg) != 0) {
            char *p = s_printed(&d);
            fail_msg("case %zu: %s\nexpected one error: %s\ngot rc %d:\n%s", i, t[i].yaml, t[i].msg,
                     rc, p);
        }
        assert_null(wf);
        wf_diags_fini(&d);
    }
}

static void
test_workflow_duplicate_need_is_a_warning(void **state)
{
    s_fix_t *f = *state;
    wf_workflow_t *wf = NULL;
    wf_diags_t d;
    assert_int_equal(
        s_load(f, "jobs:\n  a: {run: x}\n  b: {run: x, needs: [a, a]}\n", NULL, 0, &wf, &d), 0);
    assert_non_null(wf);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.v[0].level, WF_DIAG_WARNING);
    assert_string_equal(d.v[0].message, "job 'b' needs 'a' twice (first at 3:23); once is enough");
    assert_int_equal(d.v[0].line, 3);
    assert_int_equal(d.v[0].col, 26);
    wf_diags_fini(&d);
    /* The request is built with the need once; the engine counts it once anyway. */
    weft_request_t *req = NULL;
    assert_int_equal(wf_workflow_to_request(wf, &req), WEFT_OK);
    weft_request_destroy(&req);
    wf_workflow_free(&wf);
}

/* ---- to a request, through a real engine ----------------------------------------------- */

static void
test_workflow_to_request_submits(void **state)
{
    s_fix_t *f = *state;
    wf_workflow_t *wf = s_load_ok(f,
                                  "name: My Pipeline (nightly) é\n"
                                  "pools: {db: 2}\n"
                                  "defaults: {retries: 2, timeout: 1m}\n"
                                  "jobs:\n"
                                  "  fetch:\n"
                                  "    run: echo fetch\n"
                                  "    env: {A: b}\n"
                                  "    cwd: /tmp\n"
                                  "    priority: 5\n"
                                  "    pool: db\n"
                                  "  store:\n"
                                  "    type: noop\n"
                                  "    needs: fetch\n"
                                  "    with: {table: t}\n"
                                  "    lost_retries: 7\n"
                                  "    retry_delay: 2s\n"
                                  "  notify:\n"
                                  "    needs: [fetch, store]\n"
                                  "    when: failure\n"
                                  "    run: echo notify\n"
                                  "  last:\n"
                                  "    needs: notify\n"
                                  "    when: always\n"
                                  "    type: noop\n",
                                  NULL, 0);
    weft_request_t *req = NULL;
    assert_int_equal(wf_workflow_to_request(wf, &req), WEFT_OK);
    assert_non_null(req);
    /* The request holds all it needs: the workflow can go before the submit (as weft run
     * does, to keep the peak down). */
    wf_workflow_free(&wf);
    assert_null(wf);

    char *state_dir = NULL;
    assert_true(asprintf(&state_dir, "%s/state", f->dir) > 0);
    weft_options_t *opts = NULL;
    assert_int_equal(weft_options_new(&opts), WEFT_OK);
    assert_int_equal(weft_options_set_int(opts, WEFT_OPT_DURABILITY, WEFT_DURABLE_PROCESS),
                     WEFT_OK);
    assert_int_equal(weft_options_set_int(opts, WEFT_OPT_LOG_LEVEL, 0), WEFT_OK);
    weft_engine_t *eng = NULL;
    char errbuf[256] = "";
    int rc = weft_engine_open(&eng, state_dir, opts, errbuf, sizeof errbuf);
    if (rc != WEFT_OK)
        fail_msg("weft_engine_open: %s: %s", weft_strerror(rc), errbuf);
    weft_options_destroy(&opts);

    weft_reqid_t id = 0;
    rc = weft_request_submit(eng, req, &id);
    if (rc != WEFT_OK)
        fail_msg("submit: %s: %s", weft_strerror(rc), weft_request_errmsg(req));
    assert_true(id != 0);

    weft_request_info_t ri;
    assert_int_equal(weft_request_status(eng, id, &ri), WEFT_OK);
    assert_string_equal(ri.name, "My-Pipeline--nightly----");
    assert_int_equal(ri.njobs, 4);

    static const char *const order[] = {"fetch", "store", "notify", "last"};
    for (uint32_t i = 0; i < 4; i++) {
        weft_job_info_t ji;
        assert_int_equal(weft_job_status_at(eng, id, i, &ji), WEFT_OK);
        assert_string_equal(ji.id, order[i]);
    }
    weft_job_info_t ji;
    assert_int_equal(weft_job_status(eng, id, "fetch", &ji), WEFT_OK);
    assert_string_equal(ji.type, "shell");
    assert_string_equal(ji.pool, "db");
    assert_int_equal(ji.priority, 5);
    assert_int_equal(ji.retries, 2);
    assert_int_equal(ji.lost_retries, 3);
    assert_int_equal(ji.when, WEFT_WHEN_SUCCESS);
    assert_int_equal(ji.state, WEFT_JOB_READY); /* no consumer: it waits on the board */

    assert_int_equal(weft_job_status(eng, id, "store", &ji), WEFT_OK);
    assert_string_equal(ji.type, "noop");
    assert_string_equal(ji.pool, "");
    assert_int_equal(ji.lost_retries, 7);
    assert_int_equal(ji.retries, 2);
    assert_int_equal(ji.state, WEFT_JOB_PENDING);
    assert_int_equal(ji.waiting_on, 1);

    assert_int_equal(weft_job_status(eng, id, "notify", &ji), WEFT_OK);
    assert_int_equal(ji.when, WEFT_WHEN_FAILURE);
    assert_int_equal(ji.waiting_on, 2);
    assert_int_equal(weft_job_status(eng, id, "last", &ji), WEFT_OK);
    assert_int_equal(ji.when, WEFT_WHEN_ALWAYS);

    weft_engine_close(&eng);
    assert_null(eng);
    weft_request_destroy(&req);
    assert_null(req);
    free(state_dir);
}

/* The shell payload of a job is what wf_shell_payload_encode makes of its run, env and cwd. */
static void
test_workflow_shell_payload_roundtrip(void **state)
{
    s_fix_t *f = *state;
    wf_workflow_t *wf = s_load_ok(f,
                                  "params: {x: 42}\n"
                                  "jobs:\n"
                                  "  a:\n"
                                  "    run: echo ${x}\n"
                                  "    env: {X: \"${x}\", Y: two}\n"
                                  "    cwd: sub/${x}\n",
                                  NULL, 0);
    const wf_wfjob_t *a = &wf->jobs[0];
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(
        wf_shell_payload_encode(a->run, (const char *const *)a->env, a->nenv, a->cwd, &buf, &len),
        WEFT_OK);
    wf_shell_payload_t p;
    memset(&p, 0, sizeof p);
    assert_int_equal(wf_shell_payload_decode(buf, len, &p), WEFT_OK);
    assert_string_equal(p.run, "echo 42");
    assert_int_equal(p.nenv, 2);
    assert_string_equal(p.env[0], "X=42");
    assert_string_equal(p.env[1], "Y=two");
    assert_string_equal(p.cwd, "sub/42");
    wf_shell_payload_fini(&p);
    free(buf);
    wf_workflow_free(&wf);
}

/* ---- scale and limits ---------------------------------------------------------------- */

static char *
s_chain_yaml(size_t n, bool back_edge)
{
    size_t cap = n * 64 + 64, len = 0;
    char *y = malloc(cap);
    assert_non_null(y);
    len += (size_t)snprintf(y + len, cap - len, "jobs:\n");
    for (size_t i = 0; i < n; i++) {
        if (i == 0 && back_edge)
            len += (size_t)snprintf(y + len, cap - len, "  j0: {run: x, needs: j%zu}\n", n - 1);
        else if (i == 0)
            len += (size_t)snprintf(y + len, cap - len, "  j0: {run: x}\n");
        else
            len +=
                (size_t)snprintf(y + len, cap - len, "  j%zu: {run: x, needs: j%zu}\n", i, i - 1);
    }
    return y;
}

static void
test_workflow_big_chain_and_cycle(void **state)
{
    s_fix_t *f = *state;
    const size_t n = 100000;
    char *y = s_chain_yaml(n, false);
    int64_t t0 = wf_test_now_ms();
    wf_workflow_t *wf = s_load_ok(f, y, NULL, 0);
    assert_int_equal(wf->njobs, n);
    assert_string_equal(wf->jobs[n - 1].needs[0], "j99998");
    wf_workflow_free(&wf);
    free(y);

    y = s_chain_yaml(n, true);
    wf_diags_t d;
    assert_int_equal(s_load(f, y, NULL, 0, &wf, &d), 1);
    assert_null(wf);
    assert_int_equal(d.v[0].line, 2);
    assert_int_equal(d.v[0].col, 3);
    assert_non_null(strstr(d.v[0].message, "cycle: j0 -> j1 -> j2 -> "));
    assert_non_null(strstr(d.v[0].message, "... (100000 jobs) -> j0"));
    /* then notes, as many as fit under the cap */
    assert_int_equal(d.v[1].level, WF_DIAG_NOTE);
    assert_string_equal(d.v[1].message, "'j1' needs 'j0'");
    assert_int_equal(d.v[1].line, 3);
    /* the notes of the edges shown, and of the one closing the cycle */
    assert_int_equal(d.n, 1 + 16 + 1);
    assert_string_equal(d.v[17].message, "'j0' needs 'j99999'");
    assert_int_equal(d.v[17].line, 2);
    assert_int_equal(d.v[17].col, 23);
    wf_diags_fini(&d);
    free(y);
    /* Linear passes: generous bound, but quadratic work on 10^5 jobs would blow through it. */
    assert_true(wf_test_now_ms() - t0 < 30000);
}

static void
test_workflow_diagnostics_are_capped(void **state)
{
    s_fix_t *f = *state;
    size_t cap = 200 * 48, len = 0;
    char *y = malloc(cap);
    assert_non_null(y);
    len += (size_t)snprintf(y + len, cap - len, "jobs:\n");
    for (int i = 0; i < 200; i++)
        len += (size_t)snprintf(y + len, cap - len, "  j%d: {run: x, retries: -1}\n", i);
    wf_workflow_t *wf = NULL;
    wf_diags_t d;
    int rc = s_load(f, y, NULL, 0, &wf, &d);
    assert_true(rc >= WF_WORKFLOW_MAX_DIAGS);
    assert_null(wf);
    assert_int_equal(d.n, WF_WORKFLOW_MAX_DIAGS);
    assert_string_equal(d.v[d.n - 1].message, "too many errors; stopping here");
    assert_int_equal(d.v[0].line, 2);
    wf_diags_fini(&d);
    free(y);
}

/* The file is refused, among its errors one that it would expand past
 * WF_WORKFLOW_MAX_EXPANSION. */
static void
s_assert_expansion_refused(s_fix_t *f, const char *yaml)
{
    wf_workflow_t *wf = NULL;
    wf_diags_t d;
    assert_true(s_load(f, yaml, NULL, 0, &wf, &d) >= 1);
    assert_null(wf);
    bool found = false;
    for (size_t i = 0; i < d.n; i++)
        found = found || strstr(d.v[i].message, "expand the workflow past") != NULL;
    assert_true(found);
    wf_diags_fini(&d);
}

static void
test_workflow_limits_are_checked(void **state)
{
    s_fix_t *f = *state;
    /* 257 pools */
    size_t cap = 300 * 16 + 64, len = 0;
    char *y = malloc(cap);
    assert_non_null(y);
    len += (size_t)snprintf(y + len, cap - len, "pools:\n");
    for (int i = 0; i <= (int)WF_MAX_POOLS; i++)
        len += (size_t)snprintf(y + len, cap - len, "  p%d: 1\n", i);
    snprintf(y + len, cap - len, "jobs: {a: {run: x}}\n");
    char *m = s_load_err(f, y, NULL, 0, 2 + (int)WF_MAX_POOLS, 3);
    assert_string_equal(m, "too many pools: 257 (the limit is 256)");
    free(m);
    free(y);

    /* a name one byte too long */
    char id[WF_MAX_NAME + 2];
    memset(id, 'a', sizeof id - 1);
    id[sizeof id - 1] = 0;
    char *yaml = NULL;
    assert_true(asprintf(&yaml, "jobs: {%s: {run: x}}\n", id) > 0);
    m = s_load_err(f, yaml, NULL, 0, 1, 8);
    assert_non_null(strstr(m, "is not a valid name"));
    free(m);
    free(yaml);

    /* a param that would expand the workflow past WF_WORKFLOW_MAX_EXPANSION */
    size_t big = 1u << 20;
    size_t ycap = big + 4096;
    y = malloc(ycap);
    assert_non_null(y);
    len = (size_t)snprintf(y, ycap, "params:\n  x: ");
    memset(y + len, 'x', big);
    len += big;
    len += (size_t)snprintf(y + len, ycap - len, "\njobs:\n  a:\n    run: \"");
    for (int i = 0; i < 300; i++)
        len += (size_t)snprintf(y + len, ycap - len, "${x}");
    snprintf(y + len, ycap - len, "\"\n");
    s_assert_expansion_refused(f, y);
    free(y);

    /* defaults' env counts once per job that inherits it (each job's request carries a copy):
     * 600 jobs of 512 KiB each, every one under WF_MAX_PAYLOAD */
    size_t half = big / 2, hcap = half + 4096 + 600 * 32;
    y = malloc(hcap);
    assert_non_null(y);
    len = (size_t)snprintf(y, hcap, "defaults:\n  env: {X: ");
    memset(y + len, 'x', half);
    len += half;
    len += (size_t)snprintf(y + len, hcap - len, "}\njobs:\n");
    for (int i = 0; i < 600; i++)
        len += (size_t)snprintf(y + len, hcap - len, "  j%d: {run: x}\n", i);
    s_assert_expansion_refused(f, y);
    free(y);

    /* nesting beyond what the loader reads at all */
    y = malloc(4096);
    assert_non_null(y);
    len = (size_t)snprintf(y, 4096, "jobs: {a: {type: t, with: {x: ");
    for (int i = 0; i < 100; i++)
        y[len++] = '[';
    for (int i = 0; i < 100; i++)
        y[len++] = ']';
    snprintf(y + len, 4096 - len, "}}}\n");
    wf_workflow_t *wf = NULL;
    wf_diags_t d;
    assert_true(s_load(f, y, NULL, 0, &wf, &d) >= 1);
    assert_null(wf);
    wf_diags_fini(&d);
    free(y);
}

/* ---- robustness ---------------------------------------------------------------------- */

static uint64_t s_rng = 0x9E3779B97F4A7C15ull;

static uint32_t
s_rand(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return (uint32_t)(s_rng >> 16);
}

static void
test_workflow_random_mutations_never_crash(void **state)
{
    s_fix_t *f = *state;
    char *path = NULL;
    assert_true(asprintf(&path, "%s/example.yml", s_data()) > 0);
    size_t len = 0;
    char *orig = s_slurp(path, &len);
    assert_non_null(orig);
    free(path);
    static const char tokens[] = ":-[]{},&*!|>'\"#%@`?\n\t $\\{}0123456789";
    static const char *const words[] = {
        "${day}", "${nope}", "$${",  "needs: ", "<<: ",     "*a", "&a ",
        "!!int ", "- ",      "\n  ", "\xff",    "\xc3\xa9", "~"};
    const char *ov[] = {"day=2024-05-01"};
    char *buf = malloc(len * 2 + 256);
    assert_non_null(buf);
    int loaded = 0, failed = 0;
    for (int iter = 0; iter < 2000; iter++) {
        memcpy(buf, orig, len);
        size_t n = len;
        int edits = 1 + (int)(s_rand() % 4);
        for (int e = 0; e < edits && n > 1; e++) {
            size_t at = s_rand() % n;
            switch (s_rand() % 5) {
            case 0: /* replace a byte */
                buf[at] =
                    (char)(s_rand() % 3 ? tokens[s_rand() % (sizeof tokens - 1)] : (char)s_rand());
                break;
            case 1: /* delete a run */ {
                size_t k = 1 + s_rand() % 16;
                if (at + k > n)
                    k = n - at;
                memmove(buf + at, buf + at + k, n - at - k);
                n -= k;
                break;
            }
            case 2: /* insert a word */ {
                const char *w = words[s_rand() % (sizeof words / sizeof words[0])];
                size_t wl = strlen(w);
                if (n + wl < len * 2 + 200) {
                    memmove(buf + at + wl, buf + at, n - at);
                    memcpy(buf + at, w, wl);
                    n += wl;
                }
                break;
            }
            case 3: /* duplicate a line */ {
                size_t s0 = at;
                while (s0 > 0 && buf[s0 - 1] != '\n')
                    s0--;
                size_t e0 = at;
                while (e0 < n && buf[e0] != '\n')
                    e0++;
                size_t ll = e0 - s0 + (e0 < n);
                if (n + ll < len * 2 + 200) {
                    memmove(buf + e0 + (e0 < n), buf + s0, n - s0);
                    n += ll;
                }
                break;
            }
            default: /* cut the file */
                n = at;
                break;
            }
        }
        s_spit(f->path, buf, n);
        wf_workflow_t *wf = NULL;
        wf_diags_t d = {0};
        int rc = wf_workflow_load(f->path, ov, 1, &wf, &d);
        assert_true(rc >= 0);
        assert_true((rc == 0) == (wf != NULL));
        assert_true(d.n <= WF_WORKFLOW_MAX_DIAGS);
        for (size_t k = 0; k < d.n; k++) {
            assert_non_null(d.v[k].message);
            assert_true(d.v[k].line >= 0 && d.v[k].col >= 0);
        }
        if (wf) {
            loaded++;
            weft_request_t *req = NULL;
            /* whatever loads must also build */
            assert_int_equal(wf_workflow_to_request(wf, &req), WEFT_OK);
            weft_request_destroy(&req);
        } else {
            failed++;
        }
        wf_workflow_free(&wf);
        wf_diags_fini(&d);
    }
    free(buf);
    free(orig);
    assert_true(failed > 0);
    print_message("mutations: %d loaded, %d refused\n", loaded, failed);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workflow_golden_files),
        cmocka_unit_test(test_workflow_doc_example_is_tested),
        cmocka_unit_test(test_workflow_example_loads_with_every_value),
        cmocka_unit_test_setup_teardown(test_workflow_file_errors_have_no_place, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_workflow_libfyaml_prints_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_workflow_param_error_columns, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_workflow_params_substitute, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_workflow_params_overridden_with_p, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_workflow_param_declarations_are_checked, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_workflow_defaults_applied_and_overridden, s_setup,
                                        s_teardown),
        cmocka_unit_test(test_workflow_durations_table),
        cmocka_unit_test_setup_teardown(test_workflow_durations_in_files, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_workflow_with_encodes_msgpack, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_workflow_rules_one_error_each, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_workflow_duplicate_need_is_a_warning, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_workflow_to_request_submits, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_workflow_shell_payload_roundtrip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_workflow_big_chain_and_cycle, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_workflow_diagnostics_are_capped, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_workflow_limits_are_checked, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_workflow_random_mutations_never_crash, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests_name("workflow", tests, NULL, NULL);
}
