/*
 * graph_test.c -- wf_graph_resolve: valid shapes (chain, diamond, fan-out, fan-in), every
 * rejection with its exact message and code, the order of the checks, re-resolving, 10^6-job
 * chains with and without a back edge (no recursion), and a random 5,000-job DAG whose
 * children[] must be exactly the inverse of its needs[].
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "wf_limits.h"
#include "schema.h"

/* ---- building specs ------------------------------------------------------------------ */

static char *
s_dup(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

/* A spec of n jobs with ids from `ids` (NULL: "j0", "j1", ...), all of type "shell". */
static void
s_spec(wf_reqspec_t *rs, uint32_t n, const char *const *ids)
{
    memset(rs, 0, sizeof *rs);
    rs->name = s_dup("req");
    rs->njobs = rs->jobs_cap = n;
    rs->jobs = calloc(n ? n : 1, sizeof *rs->jobs);
    assert_non_null(rs->jobs);
    for (uint32_t i = 0; i < n; i++) {
        char buf[32];
        if (!ids)
            snprintf(buf, sizeof buf, "j%u", i);
        rs->jobs[i].id = s_dup(ids ? ids[i] : buf);
        rs->jobs[i].type = s_dup("shell");
    }
}

static void
s_need(wf_jobspec_t *js, const char *name)
{
    if (js->nneed_names == js->need_names_cap) {
        js->need_names_cap = js->need_names_cap ? js->need_names_cap * 2 : 4;
        js->need_names = realloc(js->need_names, js->need_names_cap * sizeof *js->need_names);
        assert_non_null(js->need_names);
    }
    js->need_names[js->nneed_names++] = name ? s_dup(name) : NULL;
}

/* Job `i` needs job `p` (by index, through its id). */
static void
s_edge(wf_reqspec_t *rs, uint32_t i, uint32_t p)
{
    s_need(&rs->jobs[i], rs->jobs[p].id);
}

static void
s_pool(wf_reqspec_t *rs, const char *name, uint32_t limit)
{
    rs->pools = realloc(rs->pools, (rs->npools + 1) * sizeof *rs->pools);
    assert_non_null(rs->pools);
    rs->pools[rs->npools].name = s_dup(name);
    rs->pools[rs->npools].limit = limit;
    rs->npools++;
}

static void
s_assert_u32s(const uint32_t *got, uint32_t ngot, const uint32_t *want, uint32_t nwant)
{
    assert_int_equal(ngot, nwant);
    for (uint32_t i = 0; i < nwant; i++)
        assert_int_equal(got[i], want[i]);
}

#define ASSERT_NEEDS(rs, i, ...)                                                            \
    do {                                                                                    \
        const uint32_t want_[] = {__VA_ARGS__};                                             \
        s_assert_u32s((rs)->jobs[i].needs, (rs)->jobs[i].nneeds, want_,                     \
                      sizeof want_ / sizeof want_[0]);                                      \
    } while (0)
#define ASSERT_CHILDREN(rs, i, ...)                                                         \
    do {                                                                                    \
        const uint32_t want_[] = {__VA_ARGS__};                                             \
        s_assert_u32s((rs)->jobs[i].children, (rs)->jobs[i].nchildren, want_,               \
                      sizeof want_ / sizeof want_[0]);                                      \
    } while (0)

/* Resolve and expect `code` with exactly `msg`; on failure no job keeps needs/children. */
static void
s_expect(wf_reqspec_t *rs, int code, const char *msg)
{
    char err[512];
    memset(err, 'x', sizeof err);
    int rc = wf_graph_resolve(rs, err, sizeof err);
    if (rc != code || strcmp(err, msg) != 0)
        fail_msg("got %d \"%s\", want %d \"%s\"", rc, err, code, msg);
    if (code != WEFT_OK)
        for (uint32_t i = 0; i < rs->njobs && rs->jobs; i++) {
            assert_null(rs->jobs[i].needs);
            assert_null(rs->jobs[i].children);
            assert_int_equal(rs->jobs[i].nneeds, 0);
            assert_int_equal(rs->jobs[i].nchildren, 0);
        }
}

#define S_OK(rs) s_expect((rs), WEFT_OK, "")

/* ---- valid shapes ---------------------------------------------------------------------- */

static void
test_graph_chain_resolves(void **state)
{
    (void)state;
    wf_reqspec_t rs;
    s_spec(&rs, 3, (const char *const[]){"a", "b", "c"});
    s_need(&rs.jobs[1], "a");
    s_need(&rs.jobs[2], "b");
    S_OK(&rs);
    assert_int_equal(rs.jobs[0].nneeds, 0);
    assert_null(rs.jobs[0].needs);
    ASSERT_CHILDREN(&rs, 0, 1);
    ASSERT_NEEDS(&rs, 1, 0);
    ASSERT_CHILDREN(&rs, 1, 2);
    ASSERT_NEEDS(&rs, 2, 1);
    assert_int_equal(rs.jobs[2].nchildren, 0);
    assert_null(rs.jobs[2].children);
    wf_reqspec_fini(&rs);
}

static void
test_graph_diamond_resolves(void **state)
{
    (void)state;
    wf_reqspec_t rs;
    s_spec(&rs, 4, (const char *const[]){"d", "b", "c", "a"});
    /* d needs c and b (listed out of order), b and c need a */
    s_need(&rs.jobs[0], "c");
    s_need(&rs.jobs[0], "b");
    s_need(&rs.jobs[1], "a");
    s_need(&rs.jobs[2], "a");
    S_OK(&rs);
    ASSERT_NEEDS(&rs, 0, 1, 2);
    ASSERT_NEEDS(&rs, 1, 3);
    ASSERT_NEEDS(&rs, 2, 3);
    ASSERT_CHILDREN(&rs, 3, 1, 2);
    ASSERT_CHILDREN(&rs, 1, 0);
    ASSERT_CHILDREN(&rs, 2, 0);
    wf_reqspec_fini(&rs);
}

static void
test_graph_fan_out_and_fan_in_resolve(void **state)
{
    (void)state;
    enum { W = 200 };
    wf_reqspec_t rs;
    /* j0 -> j1..jW -> j(W+1); the join lists its needs backwards */
    s_spec(&rs, W + 2, NULL);
    for (uint32_t i = 1; i <= W; i++)
        s_edge(&rs, i, 0);
    for (uint32_t i = W; i >= 1; i--)
        s_edge(&rs, W + 1, i);
    S_OK(&rs);
    assert_int_equal(rs.jobs[0].nchildren, W);
    assert_int_equal(rs.jobs[W + 1].nneeds, W);
    for (uint32_t i = 1; i <= W; i++) {
        assert_int_equal(rs.jobs[0].children[i - 1], i);
        assert_int_equal(rs.jobs[W + 1].needs[i - 1], i);
        ASSERT_NEEDS(&rs, i, 0);
        ASSERT_CHILDREN(&rs, i, W + 1);
    }
    wf_reqspec_fini(&rs);
}

static void
test_graph_single_job_and_pools_resolve(void **state)
{
    (void)state;
    wf_reqspec_t rs;
    s_spec(&rs, 2, (const char *const[]){"x", "y"});
    rs.session = s_dup("nightly");
    rs.key = s_dup("build-42:retry.1");
    s_pool(&rs, "db", 2);
    s_pool(&rs, "gpu", 1);
    rs.jobs[0].pool = s_dup("gpu");
    rs.jobs[1].pool = s_dup("db");
    rs.jobs[1].retries = WF_MAX_RETRIES;
    rs.jobs[1].lost_retries = WF_MAX_RETRIES;
    rs.jobs[1].retry_delay_ms = WF_MAX_RETRY_DELAY_MS;
    rs.jobs[1].timeout_ms = WF_MAX_TIMEOUT_MS;
    rs.jobs[1].when = WEFT_WHEN_FAILURE;
    rs.jobs[1].payload_len = WF_MAX_PAYLOAD; /* exactly the limit is fine */
    rs.jobs[1].payload = calloc(1, WF_MAX_PAYLOAD);
    assert_non_null(rs.jobs[1].payload);
    S_OK(&rs);
    wf_reqspec_fini(&rs);
}

static void
test_graph_duplicate_needs_collapse(void **state)
{
    (void)state;
    wf_reqspec_t rs;
    s_spec(&rs, 3, (const char *const[]){"a", "b", "c"});
    s_need(&rs.jobs[2], "b");
    s_need(&rs.jobs[2], "a");
    s_need(&rs.jobs[2], "b");
    s_need(&rs.jobs[2], "a");
    s_need(&rs.jobs[2], "b");
    S_OK(&rs);
    ASSERT_NEEDS(&rs, 2, 0, 1);
    ASSERT_CHILDREN(&rs, 0, 2);
    ASSERT_CHILDREN(&rs, 1, 2);
    wf_reqspec_fini(&rs);
}

static void
test_graph_resolving_twice_rebuilds(void **state)
{
    (void)state;
    wf_reqspec_t rs;
    s_spec(&rs, 3, (const char *const[]){"a", "b", "c"});
    s_need(&rs.jobs[1], "a");
    s_need(&rs.jobs[2], "a");
    S_OK(&rs);
    S_OK(&rs); /* the first arrays are freed (ASan would see a leak), the result is the same */
    ASSERT_CHILDREN(&rs, 0, 1, 2);
    ASSERT_NEEDS(&rs, 2, 0);
    /* a cycle now: the failed resolve leaves no arrays behind */
    s_need(&rs.jobs[0], "c");
    s_expect(&rs, WEFT_ECYCLE, "cycle: a -> c -> a");
    /* and a fixed spec resolves again */
    free(rs.jobs[0].need_names[0]);
    rs.jobs[0].nneed_names = 0;
    s_need(&rs.jobs[2], "b");
    S_OK(&rs);
    ASSERT_NEEDS(&rs, 2, 0, 1);
    ASSERT_CHILDREN(&rs, 0, 1, 2);
    ASSERT_CHILDREN(&rs, 1, 2);
    wf_reqspec_fini(&rs);
}

static void
test_graph_error_buffer_is_optional_and_truncated(void **state)
{
    (void)state;
    wf_reqspec_t rs;
    s_spec(&rs, 2, (const char *const[]){"a", "b"});
    s_need(&rs.jobs[1], "nowhere");
    assert_int_equal(wf_graph_resolve(&rs, NULL, 0), WEFT_EINVAL);
    char err[8];
    assert_int_equal(wf_graph_resolve(&rs, err, sizeof err), WEFT_EINVAL);
    assert_string_equal(err, "job \"b\"");
    assert_int_equal(wf_graph_resolve(NULL, err, sizeof err), WEFT_EINVAL);
    wf_reqspec_fini(&rs);
}

/* ---- rejections ------------------------------------------------------------------------ */

static void
test_graph_duplicate_ids_are_rejected(void **state)
{
    (void)state;
    wf_reqspec_t rs;
    s_spec(&rs, 5, (const char *const[]){"a", "b", "c", "b", "a"});
    s_expect(&rs, WEFT_EINVAL, "duplicate job id \"b\" (jobs 1 and 3)");
    wf_reqspec_fini(&rs);
}

static void
test_graph_unknown_need_is_rejected(void **state)
{
    (void)state;
    wf_reqspec_t rs;
    s_spec(&rs, 3, (const char *const[]){"a", "b", "c"});
    s_need(&rs.jobs[1], "a");
    s_need(&rs.jobs[1], "x");
    s_expect(&rs, WEFT_EINVAL, "job \"b\" needs unknown job \"x\"");
    /* a need that is not even a valid name is quoted safely */
    free(rs.jobs[1].need_names[1]);
    rs.jobs[1].need_names[1] = s_dup("bad\"name\n");
    s_expect(&rs, WEFT_EINVAL, "job \"b\" needs unknown job \"bad\\x22name\\x0a\"");
    free(rs.jobs[1].need_names[1]);
    rs.jobs[1].need_names[1] = NULL;
    s_expect(&rs, WEFT_EINVAL, "job \"b\" needs unknown job (null)");
    wf_reqspec_fini(&rs);
}

static void
test_graph_self_need_is_rejected(void **state)
{
    (void)state;
    wf_reqspec_t rs;
    s_spec(&rs, 2, (const char *const[]){"a", "b"});
    s_need(&rs.jobs[1], "a");
    s_need(&rs.jobs[1], "b");
    s_expect(&rs, WEFT_EINVAL, "job \"b\" needs itself");
    wf_reqspec_fini(&rs);
}

static void
test_graph_two_cycle_is_reported(void **state)
{
    (void)state;
    wf_reqspec_t rs;
    s_spec(&rs, 3, (const char *const[]){"start", "a", "b"});
    s_need(&rs.jobs[1], "b");
    s_need(&rs.jobs[2], "a");
    s_need(&rs.jobs[2], "start");
    s_expect(&rs, WEFT_ECYCLE, "cycle: a -> b -> a");
    wf_reqspec_fini(&rs);
}

static void
test_graph_three_cycle_inside_a_larger_graph_is_reported(void **state)
{
    (void)state;
    wf_reqspec_t rs;
    /* root -> x -> c1 -> c2 -> c3 -> c1, and c3 -> tail; plus an unrelated diamond */
    s_spec(&rs, 10, (const char *const[]){"root", "x", "c3", "c2", "tail", "c1", "d0", "d1",
                                          "d2", "d3"});
    s_need(&rs.jobs[1], "root");
    s_need(&rs.jobs[5], "x");
    s_need(&rs.jobs[5], "c3");
    s_need(&rs.jobs[3], "c1");
    s_need(&rs.jobs[2], "c2");
    s_need(&rs.jobs[4], "c3");
    s_need(&rs.jobs[7], "d0");
    s_need(&rs.jobs[8], "d0");
    s_need(&rs.jobs[9], "d1");
    s_need(&rs.jobs[9], "d2");
    /* printed in run order (c2 needs c1, ...), from the cycle's lowest index (c3 = job 2) */
    s_expect(&rs, WEFT_ECYCLE, "cycle: c3 -> c1 -> c2 -> c3");
    wf_reqspec_fini(&rs);
}

static void
test_graph_bad_names_are_rejected(void **state)
{
    (void)state;
    wf_reqspec_t rs;

    s_spec(&rs, 2, (const char *const[]){"a", "b c"});
    s_expect(&rs, WEFT_EINVAL, "job 1 has a bad id \"b c\"");
    free(rs.jobs[1].id);
    rs.jobs[1].id = s_dup("");
    s_expect(&rs, WEFT_EINVAL, "job 1 has a bad id \"\"");
    free(rs.jobs[1].id);
    rs.jobs[1].id = NULL;
    s_expect(&rs, WEFT_EINVAL, "job 1 has a bad id (null)");
    rs.jobs[1].id = s_dup("b");
    free(rs.jobs[0].type);
    rs.jobs[0].type = s_dup("sh/ell");
    s_expect(&rs, WEFT_EINVAL, "job \"a\" has a bad type \"sh/ell\"");
    free(rs.jobs[0].type);
    rs.jobs[0].type = NULL;
    s_expect(&rs, WEFT_EINVAL, "job \"a\" has a bad type (null)");
    rs.jobs[0].type = s_dup("shell");
    S_OK(&rs);

    /* too long: WF_MAX_NAME + 1 bytes; shown cut after 64 with "..." */
    char longname[WF_MAX_NAME + 2];
    memset(longname, 'n', WF_MAX_NAME + 1);
    longname[WF_MAX_NAME + 1] = '\0';
    free(rs.jobs[1].id);
    rs.jobs[1].id = s_dup(longname);
    char want[256];
    snprintf(want, sizeof want, "job 1 has a bad id \"%.64s\"...", longname);
    s_expect(&rs, WEFT_EINVAL, want);
    longname[WF_MAX_NAME] = '\0'; /* exactly WF_MAX_NAME is fine */
    free(rs.jobs[1].id);
    rs.jobs[1].id = s_dup(longname);
    S_OK(&rs);

    free(rs.name);
    rs.name = s_dup("my request");
    s_expect(&rs, WEFT_EINVAL, "bad request name \"my request\"");
    free(rs.name);
    rs.name = NULL;
    s_expect(&rs, WEFT_EINVAL, "bad request name (null)");
    rs.name = s_dup("r");
    rs.session = s_dup("s\xc3\xa9");
    s_expect(&rs, WEFT_EINVAL, "bad session name \"s\\xc3\\xa9\"");
    free(rs.session);
    rs.session = s_dup("s");
    rs.key = s_dup("k\\1");
    s_expect(&rs, WEFT_EINVAL, "bad idempotency key \"k\\x5c1\"");
    free(rs.key);
    rs.key = NULL;
    s_pool(&rs, "a pool", 1);
    s_expect(&rs, WEFT_EINVAL, "bad pool name \"a pool\"");
    wf_reqspec_fini(&rs);
}

static void
test_graph_limits_are_enforced(void **state)
{
    (void)state;
    wf_reqspec_t rs;
    s_spec(&rs, 2, (const char *const[]){"a", "b"});

    rs.jobs[1].retries = WF_MAX_RETRIES + 1;
    s_expect(&rs, WEFT_EINVAL, "job \"b\": retries 1001 (max 1000)");
    rs.jobs[1].retries = 0;
    rs.jobs[1].lost_retries = WF_MAX_RETRIES + 1;
    s_expect(&rs, WEFT_EINVAL, "job \"b\": lost_retries 1001 (max 1000)");
    rs.jobs[1].lost_retries = 0;
    rs.jobs[1].retry_delay_ms = WF_MAX_RETRY_DELAY_MS + 1;
    s_expect(&rs, WEFT_EINVAL, "job \"b\": retry_delay_ms 3600001 (max 3600000)");
    rs.jobs[1].retry_delay_ms = 0;
    rs.jobs[1].timeout_ms = WF_MAX_TIMEOUT_MS + 1;
    s_expect(&rs, WEFT_EINVAL, "job \"b\": timeout_ms 2592000001 (max 2592000000)");
    rs.jobs[1].timeout_ms = 0;
    rs.jobs[1].when = WEFT_WHEN_COUNT_;
    s_expect(&rs, WEFT_EINVAL, "job \"b\": bad when 3");
    rs.jobs[1].when = WEFT_WHEN_ALWAYS;

    rs.jobs[0].payload_len = WF_MAX_PAYLOAD + 1;
    rs.jobs[0].payload = calloc(1, WF_MAX_PAYLOAD + 1);
    assert_non_null(rs.jobs[0].payload);
    s_expect(&rs, WEFT_ETOOBIG, "job \"a\": payload is 1048577 bytes (max 1048576)");
    rs.jobs[0].payload_len = 3;
    S_OK(&rs);

    rs.jobs[0].pool = s_dup("gpu");
    s_expect(&rs, WEFT_EINVAL, "job \"a\" uses undeclared pool \"gpu\"");
    s_pool(&rs, "db", 1);
    s_expect(&rs, WEFT_EINVAL, "job \"a\" uses undeclared pool \"gpu\"");
    s_pool(&rs, "gpu", 0);
    s_expect(&rs, WEFT_EINVAL, "pool \"gpu\" has limit 0 (must be >= 1)");
    rs.pools[1].limit = 4;
    S_OK(&rs);
    s_pool(&rs, "db", 3);
    s_expect(&rs, WEFT_EINVAL, "duplicate pool \"db\"");
    wf_reqspec_fini(&rs);

    /* too many pools */
    s_spec(&rs, 1, NULL);
    for (uint32_t i = 0; i <= WF_MAX_POOLS; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%u", i);
        s_pool(&rs, name, 1);
    }
    s_expect(&rs, WEFT_ELIMIT, "too many pools: 257 (max 256)");
    wf_reqspec_fini(&rs);

    /* too many needs: counted as listed, before duplicates collapse */
    s_spec(&rs, 2, NULL);
    for (uint32_t i = 0; i <= WF_MAX_NEEDS_PER_JOB; i++)
        s_need(&rs.jobs[1], "j0");
    s_expect(&rs, WEFT_ELIMIT, "job \"j1\" has too many needs: 100001 (max 100000)");
    free(rs.jobs[1].need_names[--rs.jobs[1].nneed_names]);
    S_OK(&rs);
    ASSERT_NEEDS(&rs, 1, 0);
    wf_reqspec_fini(&rs);

    /* no jobs */
    memset(&rs, 0, sizeof rs);
    rs.name = s_dup("empty");
    s_expect(&rs, WEFT_EINVAL, "request has no jobs");
    wf_reqspec_fini(&rs);
}

static void
test_graph_checks_run_in_the_documented_order(void **state)
{
    (void)state;
    wf_reqspec_t rs;
    /* a duplicate id (job 3), an unknown need (job 1), a cycle, and a bad type in the last job:
     * the job's own fields are checked first */
    s_spec(&rs, 5, (const char *const[]){"a", "b", "c", "a", "e"});
    s_need(&rs.jobs[1], "zz");
    s_need(&rs.jobs[0], "c");
    s_need(&rs.jobs[2], "a");
    free(rs.jobs[4].type);
    rs.jobs[4].type = s_dup("?");
    s_expect(&rs, WEFT_EINVAL, "job \"e\" has a bad type \"?\"");
    free(rs.jobs[4].type);
    rs.jobs[4].type = s_dup("t");
    s_expect(&rs, WEFT_EINVAL, "duplicate job id \"a\" (jobs 0 and 3)");
    free(rs.jobs[3].id);
    rs.jobs[3].id = s_dup("d");
    s_expect(&rs, WEFT_EINVAL, "job \"b\" needs unknown job \"zz\"");
    free(rs.jobs[1].need_names[0]);
    rs.jobs[1].need_names[0] = s_dup("e");
    s_expect(&rs, WEFT_ECYCLE, "cycle: a -> c -> a");
    wf_reqspec_fini(&rs);
}

/* ---- scale ----------------------------------------------------------------------------- */

enum { S_BIG = 1000000 };

static void
s_chain(wf_reqspec_t *rs)
{
    s_spec(rs, 0, NULL);
    free(rs->jobs);
    rs->njobs = rs->jobs_cap = S_BIG;
    rs->jobs = calloc(S_BIG, sizeof *rs->jobs);
    assert_non_null(rs->jobs);
    for (uint32_t i = 0; i < S_BIG; i++) {
        char id[16];
        snprintf(id, sizeof id, "j%07u", i);
        rs->jobs[i].id = s_dup(id);
        rs->jobs[i].type = s_dup("shell");
        if (i)
            s_edge(rs, i, i - 1);
    }
}

static void
test_graph_million_job_chain_resolves(void **state)
{
    (void)state;
    wf_reqspec_t rs;
    s_chain(&rs);
    S_OK(&rs);
    for (uint32_t i = 0; i < S_BIG; i++) {
        if (i)
            assert_true(rs.jobs[i].nneeds == 1 && rs.jobs[i].needs[0] == i - 1);
        if (i + 1 < S_BIG)
            assert_true(rs.jobs[i].nchildren == 1 && rs.jobs[i].children[0] == i + 1);
    }
    assert_int_equal(rs.jobs[S_BIG - 1].nchildren, 0);
    wf_reqspec_fini(&rs);
}

static void
test_graph_million_job_chain_with_back_edge_is_a_cycle(void **state)
{
    (void)state;
    wf_reqspec_t rs;
    s_chain(&rs);
    s_edge(&rs, 0, S_BIG - 1); /* the first job needs the last */

    char small[64];
    assert_int_equal(wf_graph_resolve(&rs, small, sizeof small), WEFT_ECYCLE);
    assert_string_equal(small, "cycle: j0000000 -> j0000001 -> j0000002 -> j0000003 -> j0000004");

    /* the whole path: 10^6 + 1 names of 8 bytes and 10^6 arrows */
    size_t want_len = 7 + (size_t)(S_BIG + 1) * 8 + (size_t)S_BIG * 4;
    char *err = malloc(want_len + 16);
    assert_non_null(err);
    assert_int_equal(wf_graph_resolve(&rs, err, want_len + 16), WEFT_ECYCLE);
    assert_int_equal(strlen(err), want_len);
    assert_memory_equal(err, "cycle: j0000000 -> j0000001 -> ", 31);
    const char *tail = "j0999998 -> j0999999 -> j0000000";
    assert_string_equal(err + want_len - strlen(tail), tail);
    free(err);
    wf_reqspec_fini(&rs);
}

/* Deterministic xorshift64*: a failure replays exactly. */
static uint64_t s_rng = 0x2545f4914f6cdd1dull;
static uint32_t
s_rand(uint32_t n)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return (uint32_t)((s_rng * 2685821657736338717ull) >> 33) % n;
}

static void
test_graph_random_dag_children_invert_needs(void **state)
{
    (void)state;
    enum { N = 5000 };
    wf_reqspec_t rs;
    s_spec(&rs, N, NULL);
    /* rank[] is a random topological order, so parents are not always at lower indexes */
    uint32_t *rank = malloc(N * sizeof *rank), *byrank = malloc(N * sizeof *byrank);
    uint8_t *adj = calloc((size_t)N * N, 1); /* adj[child * N + parent]: the model */
    assert_true(rank && byrank && adj);
    for (uint32_t i = 0; i < N; i++)
        byrank[i] = i;
    for (uint32_t i = N - 1; i > 0; i--) {
        uint32_t j = s_rand(i + 1), t = byrank[i];
        byrank[i] = byrank[j];
        byrank[j] = t;
    }
    for (uint32_t r = 0; r < N; r++)
        rank[byrank[r]] = r;
    uint64_t edges = 0;
    for (uint32_t c = 0; c < N; c++) {
        if (rank[c] == 0)
            continue;
        uint32_t k = s_rand(8);
        for (uint32_t e = 0; e < k; e++) {
            uint32_t p = byrank[s_rand(rank[c])]; /* any job ranked before c */
            s_edge(&rs, c, p);                    /* possibly twice: collapses */
            if (!adj[(size_t)c * N + p])
                edges++;
            adj[(size_t)c * N + p] = 1;
        }
    }
    S_OK(&rs);

    uint64_t nneeds = 0, nchildren = 0;
    for (uint32_t c = 0; c < N; c++) {
        const wf_jobspec_t *js = &rs.jobs[c];
        nneeds += js->nneeds;
        nchildren += js->nchildren;
        for (uint32_t k = 0; k < js->nneeds; k++) {
            if (k)
                assert_true(js->needs[k - 1] < js->needs[k]); /* sorted, no duplicates */
            assert_true(adj[(size_t)c * N + js->needs[k]]);
        }
        uint32_t model = 0;
        for (uint32_t p = 0; p < N; p++)
            model += adj[(size_t)c * N + p];
        assert_int_equal(js->nneeds, model);
        for (uint32_t k = 0; k < js->nchildren; k++) {
            uint32_t child = js->children[k];
            if (k)
                assert_true(js->children[k - 1] < child);
            assert_true(adj[(size_t)child * N + c]); /* c is a parent of each of its children */
        }
    }
    assert_true(nneeds == edges && nchildren == edges);

    /* a parent that also needs its child closes a cycle */
    uint32_t c = 0;
    while (rs.jobs[c].nneeds == 0)
        c++;
    s_edge(&rs, rs.jobs[c].needs[0], c);
    char err[256];
    assert_int_equal(wf_graph_resolve(&rs, err, sizeof err), WEFT_ECYCLE);
    assert_memory_equal(err, "cycle: ", 7);

    free(rank);
    free(byrank);
    free(adj);
    wf_reqspec_fini(&rs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_chain_resolves),
        cmocka_unit_test(test_graph_diamond_resolves),
        cmocka_unit_test(test_graph_fan_out_and_fan_in_resolve),
        cmocka_unit_test(test_graph_single_job_and_pools_resolve),
        cmocka_unit_test(test_graph_duplicate_needs_collapse),
        cmocka_unit_test(test_graph_resolving_twice_rebuilds),
        cmocka_unit_test(test_graph_error_buffer_is_optional_and_truncated),
        cmocka_unit_test(test_graph_duplicate_ids_are_rejected),
        cmocka_unit_test(test_graph_unknown_need_is_rejected),
        cmocka_unit_test(test_graph_self_need_is_rejected),
        cmocka_unit_test(test_graph_two_cycle_is_reported),
        cmocka_unit_test(test_graph_three_cycle_inside_a_larger_graph_is_reported),
        cmocka_unit_test(test_graph_bad_names_are_rejected),
        cmocka_unit_test(test_graph_limits_are_enforced),
        cmocka_unit_test(test_graph_checks_run_in_the_documented_order),
        cmocka_unit_test(test_graph_million_job_chain_resolves),
        cmocka_unit_test(test_graph_million_job_chain_with_back_edge_is_a_cycle),
        cmocka_unit_test(test_graph_random_dag_children_invert_needs),
    };
    return cmocka_run_group_tests_name("graph", tests, NULL, NULL);
}
