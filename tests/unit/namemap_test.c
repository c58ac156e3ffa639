/*
 * namemap_test.c -- the string -> uint32 map: put/get, duplicates, growth from an empty map,
 * and 10^6 keys (the largest request weft is designed for).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "namemap.h"

static void
test_namemap_put_then_get(void **state)
{
    (void)state;
    wf_namemap_t *map = wf_namemap_new(4);
    assert_true(wf_namemap_put(map, "alpha", 1, NULL));
    assert_true(wf_namemap_put(map, "beta", 2, NULL));
    assert_true(wf_namemap_put(map, "", 3, NULL)); /* the map itself accepts any string */
    uint32_t v = 0;
    assert_true(wf_namemap_get(map, "alpha", &v));
    assert_int_equal(v, 1);
    assert_true(wf_namemap_get(map, "beta", &v));
    assert_int_equal(v, 2);
    assert_true(wf_namemap_get(map, "", &v));
    assert_int_equal(v, 3);
    assert_true(wf_namemap_get(map, "beta", NULL));
    assert_false(wf_namemap_get(map, "gamma", &v));
    assert_false(wf_namemap_get(map, "alph", &v));
    assert_int_equal(wf_namemap_size(map), 3);
    wf_namemap_destroy(&map);
    assert_null(map);
    wf_namemap_destroy(&map); /* NULL is fine */
}

static void
test_namemap_duplicate_put_keeps_old_value(void **state)
{
    (void)state;
    wf_namemap_t *map = wf_namemap_new(0);
    char key1[] = "job", key2[] = "job"; /* equal strings at different addresses */
    assert_true(wf_namemap_put(map, key1, 7, NULL));
    uint32_t old = 0;
    assert_false(wf_namemap_put(map, key2, 9, &old));
    assert_int_equal(old, 7);
    assert_false(wf_namemap_put(map, key1, 10, NULL));
    uint32_t v = 0;
    assert_true(wf_namemap_get(map, "job", &v));
    assert_int_equal(v, 7);
    assert_int_equal(wf_namemap_size(map), 1);
    wf_namemap_destroy(&map);
}

static void
test_namemap_grows_from_zero_expected(void **state)
{
    (void)state;
    enum { N = 5000 };
    char (*keys)[16] = malloc(N * sizeof *keys);
    assert_non_null(keys);
    wf_namemap_t *map = wf_namemap_new(0);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k%u", i);
        assert_true(wf_namemap_put(map, keys[i], i * 3, NULL));
        assert_int_equal(wf_namemap_size(map), i + 1);
        /* everything put so far survives each growth */
        if ((i & (i + 1)) == 0)
            for (uint32_t j = 0; j <= i; j++) {
                uint32_t v;
                assert_true(wf_namemap_get(map, keys[j], &v));
                assert_int_equal(v, j * 3);
            }
    }
    for (uint32_t i = 0; i < N; i++) {
        uint32_t v;
        assert_true(wf_namemap_get(map, keys[i], &v));
        assert_int_equal(v, i * 3);
    }
    assert_false(wf_namemap_get(map, "k5000", NULL));
    wf_namemap_destroy(&map);
    free(keys);
}

static void
test_namemap_million_keys(void **state)
{
    (void)state;
    enum { N = 1000000 };
    char (*keys)[16] = malloc((size_t)N * sizeof *keys);
    assert_non_null(keys);
    wf_namemap_t *map = wf_namemap_new(N);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "job-%07u", i);
        if (!wf_namemap_put(map, keys[i], i, NULL))
            fail_msg("put %u failed", i);
    }
    assert_int_equal(wf_namemap_size(map), N);
    for (uint32_t i = 0; i < N; i++) {
        uint32_t v = UINT32_MAX;
        if (!wf_namemap_get(map, keys[i], &v) || v != i)
            fail_msg("get %u", i);
    }
    /* absent keys, including near misses */
    char probe[32];
    for (uint32_t i = 0; i < 1000; i++) {
        snprintf(probe, sizeof probe, "job-%07u", N + i);
        assert_false(wf_namemap_get(map, probe, NULL));
        snprintf(probe, sizeof probe, "Job-%07u", i);
        assert_false(wf_namemap_get(map, probe, NULL));
    }
    /* every key again is a duplicate */
    for (uint32_t i = 0; i < N; i += 997) {
        uint32_t old;
        assert_false(wf_namemap_put(map, keys[i], 0, &old));
        assert_int_equal(old, i);
    }
    wf_namemap_destroy(&map);
    free(keys);
}

static void
test_namemap_million_keys_growing(void **state)
{
    (void)state;
    enum { N = 1000000 };
    char (*keys)[16] = malloc((size_t)N * sizeof *keys);
    assert_non_null(keys);
    wf_namemap_t *map = wf_namemap_new(0);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "%u", i * 2654435761u);
        uint32_t old;
        bool fresh = wf_namemap_put(map, keys[i], i, &old);
        if (!fresh)
            fail_msg("put %u (%s) collided with %u", i, keys[i], old);
    }
    for (uint32_t i = 0; i < N; i++) {
        uint32_t v = UINT32_MAX;
        if (!wf_namemap_get(map, keys[i], &v) || v != i)
            fail_msg("get %u", i);
    }
    assert_int_equal(wf_namemap_size(map), N);
    wf_namemap_destroy(&map);
    free(keys);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_namemap_put_then_get),
        cmocka_unit_test(test_namemap_duplicate_put_keeps_old_value),
        cmocka_unit_test(test_namemap_grows_from_zero_expected),
        cmocka_unit_test(test_namemap_million_keys),
        cmocka_unit_test(test_namemap_million_keys_growing),
    };
    return cmocka_run_group_tests_name("namemap", tests, NULL, NULL);
}
