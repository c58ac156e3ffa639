/*
 * deadline_test.c -- the timer heap: ordering, move, cancel in the middle, pop_due against a
 * given now, the empty case, and 10^5 timers under random set/cancel/pop checked against a
 * brute-force model.  Time is an argument: nothing here reads a clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "deadline.h"

/* Deterministic xorshift64*: a failure replays exactly. */
static uint64_t s_rng = 0x9e3779b97f4a7c15ull;
static uint64_t
s_rand(void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 2685821657736338717ull;
}

static void
test_deadline_empty_heap(void **state)
{
    (void)state;
    wf_deadlines_t *dl = wf_deadlines_new();
    assert_true(wf_deadlines_next(dl) == INT64_MAX);
    assert_null(wf_deadlines_pop_due(dl, INT64_MAX));
    assert_int_equal(wf_deadlines_count(dl), 0);
    wf_timer_t t;
    wf_timer_init(&t, 5, &t);
    assert_false(wf_timer_armed(&t));
    assert_int_equal(t.kind, 5);
    assert_ptr_equal(t.obj, &t);
    wf_timer_cancel(dl, &t); /* not armed: no-op */
    assert_int_equal(wf_deadlines_count(dl), 0);
    wf_deadlines_destroy(&dl);
    assert_null(dl);
    wf_deadlines_destroy(&dl);
}

static void
test_deadline_pops_in_order(void **state)
{
    (void)state;
    enum { N = 10000 };
    wf_timer_t *t = calloc(N, sizeof *t);
    assert_non_null(t);
    wf_deadlines_t *dl = wf_deadlines_new();
    int64_t min = INT64_MAX;
    for (int i = 0; i < N; i++) {
        wf_timer_init(&t[i], 1, NULL);
        int64_t at = (int64_t)(s_rand() % 1000000) - 500000; /* negatives too */
        wf_timer_set(dl, &t[i], at);
        assert_true(wf_timer_armed(&t[i]));
        if (at < min)
            min = at;
        assert_true(wf_deadlines_next(dl) == min);
    }
    assert_int_equal(wf_deadlines_count(dl), N);
    int64_t last = INT64_MIN;
    for (int i = 0; i < N; i++) {
        wf_timer_t *p = wf_deadlines_pop_due(dl, INT64_MAX);
        assert_non_null(p);
        assert_false(wf_timer_armed(p));
        assert_true(p->at >= last);
        last = p->at;
    }
    assert_null(wf_deadlines_pop_due(dl, INT64_MAX));
    assert_true(wf_deadlines_next(dl) == INT64_MAX);
    wf_deadlines_destroy(&dl);
    free(t);
}

static void
test_deadline_set_moves_an_armed_timer(void **state)
{
    (void)state;
    wf_deadlines_t *dl = wf_deadlines_new();
    wf_timer_t a, b, c;
    wf_timer_init(&a, 1, NULL);
    wf_timer_init(&b, 2, NULL);
    wf_timer_init(&c, 3, NULL);
    wf_timer_set(dl, &a, 100);
    wf_timer_set(dl, &b, 200);
    wf_timer_set(dl, &c, 300);
    assert_true(wf_deadlines_next(dl) == 100);
    wf_timer_set(dl, &c, 50); /* earlier */
    assert_int_equal(wf_deadlines_count(dl), 3);
    assert_true(wf_deadlines_next(dl) == 50);
    wf_timer_set(dl, &c, 400); /* later again */
    wf_timer_set(dl, &a, 250);
    assert_int_equal(wf_deadlines_count(dl), 3);
    assert_true(wf_deadlines_next(dl) == 200);
    assert_ptr_equal(wf_deadlines_pop_due(dl, 1000), &b);
    assert_ptr_equal(wf_deadlines_pop_due(dl, 1000), &a);
    assert_ptr_equal(wf_deadlines_pop_due(dl, 1000), &c);
    assert_null(wf_deadlines_pop_due(dl, 1000));
    wf_deadlines_destroy(&dl);
}

static void
test_deadline_cancel_in_the_middle(void **state)
{
    (void)state;
    enum { N = 101 };
    wf_timer_t t[N];
    wf_deadlines_t *dl = wf_deadlines_new();
    for (int i = 0; i < N; i++) {
        wf_timer_init(&t[i], 0, NULL);
        wf_timer_set(dl, &t[i], (int64_t)((i * 37) % N)); /* a permutation of 0..N-1 */
    }
    /* cancel every timer whose `at` is odd, wherever it sits in the heap */
    for (int i = 0; i < N; i++)
        if (t[i].at % 2) {
            wf_timer_cancel(dl, &t[i]);
            assert_false(wf_timer_armed(&t[i]));
            wf_timer_cancel(dl, &t[i]); /* twice is fine */
        }
    assert_int_equal(wf_deadlines_count(dl), (N + 1) / 2);
    for (int64_t want = 0; want < N; want += 2) {
        wf_timer_t *p = wf_deadlines_pop_due(dl, INT64_MAX);
        assert_non_null(p);
        assert_true(p->at == want);
    }
    assert_int_equal(wf_deadlines_count(dl), 0);
    wf_deadlines_destroy(&dl);
}

static void
test_deadline_pop_due_respects_now(void **state)
{
    (void)state;
    wf_deadlines_t *dl = wf_deadlines_new();
    wf_timer_t t[5];
    for (int i = 0; i < 5; i++) {
        wf_timer_init(&t[i], i, &t[i]);
        wf_timer_set(dl, &t[i], 10 * (i + 1)); /* 10 20 30 40 50 */
    }
    assert_null(wf_deadlines_pop_due(dl, 9));
    wf_timer_t *p = wf_deadlines_pop_due(dl, 10); /* due exactly at now */
    assert_ptr_equal(p, &t[0]);
    assert_int_equal(p->kind, 0);
    assert_null(wf_deadlines_pop_due(dl, 19));
    assert_ptr_equal(wf_deadlines_pop_due(dl, 35), &t[1]);
    assert_ptr_equal(wf_deadlines_pop_due(dl, 35), &t[2]);
    assert_null(wf_deadlines_pop_due(dl, 35));
    assert_true(wf_deadlines_next(dl) == 40);
    /* a popped timer can be armed again */
    wf_timer_set(dl, &t[0], 1);
    assert_ptr_equal(wf_deadlines_pop_due(dl, 35), &t[0]);
    assert_int_equal(wf_deadlines_count(dl), 2);
    wf_deadlines_destroy(&dl); /* still-armed timers are forgotten, not touched */
}

/* The model: each timer's armed flag and `at`; the heap must agree on count and minimum, and
 * pop_due must return exactly the armed timers at or before now, earliest first. */
static void
test_deadline_random_against_model(void **state)
{
    (void)state;
    enum { N = 100000, OPS = 1000000 };
    wf_timer_t *t = calloc(N, sizeof *t);
    bool *armed = calloc(N, sizeof *armed);
    int64_t *at = calloc(N, sizeof *at);
    assert_non_null(t);
    assert_non_null(armed);
    assert_non_null(at);
    wf_deadlines_t *dl = wf_deadlines_new();
    for (uint32_t i = 0; i < N; i++)
        wf_timer_init(&t[i], 0, &t[i]);
    uint32_t count = 0;
    int64_t now = 0;
    for (uint32_t op = 0; op < OPS; op++) {
        uint64_t r = s_rand();
        uint32_t i = (uint32_t)((r >> 8) % N);
        switch (r % 16) {
        default: /* set or move, a bit after now */
            if (!armed[i])
                count++;
            armed[i] = true;
            at[i] = now + (int64_t)((r >> 32) % 100000);
            wf_timer_set(dl, &t[i], at[i]);
            break;
        case 10: case 11: case 12: case 13:
            if (armed[i])
                count--;
            armed[i] = false;
            wf_timer_cancel(dl, &t[i]);
            break;
        case 14: { /* time passes: pop what is due */
            now += (int64_t)((r >> 32) % 50);
            wf_timer_t *p;
            int64_t last = INT64_MIN;
            while ((p = wf_deadlines_pop_due(dl, now))) {
                uint32_t k = (uint32_t)(p - t);
                assert_true(armed[k]);
                assert_true(at[k] <= now && at[k] == p->at && at[k] >= last);
                last = at[k];
                armed[k] = false;
                count--;
            }
            break;
        }
        case 15: /* occasionally a full check: nothing due is left, the minimum agrees */
            if (op % 64 == 15) {
                int64_t min = INT64_MAX;
                for (uint32_t k = 0; k < N; k++) {
                    if (armed[k] != wf_timer_armed(&t[k]))
                        fail_msg("timer %u armed %d in model, %d in heap", k, armed[k],
                                 wf_timer_armed(&t[k]));
                    if (armed[k] && at[k] < min)
                        min = at[k];
                }
                assert_true(wf_deadlines_next(dl) == min);
            }
            break;
        }
        if (wf_deadlines_count(dl) != count)
            fail_msg("op %u: count %u, model %u", op, wf_deadlines_count(dl), count);
    }
    /* drain everything in order and check it against the model once more */
    int64_t last = INT64_MIN;
    wf_timer_t *p;
    while ((p = wf_deadlines_pop_due(dl, INT64_MAX))) {
        uint32_t k = (uint32_t)(p - t);
        assert_true(armed[k] && p->at >= last);
        last = p->at;
        armed[k] = false;
        count--;
    }
    assert_int_equal(count, 0);
    wf_deadlines_destroy(&dl);
    free(t);
    free(armed);
    free(at);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline_empty_heap),
        cmocka_unit_test(test_deadline_pops_in_order),
        cmocka_unit_test(test_deadline_set_moves_an_armed_timer),
        cmocka_unit_test(test_deadline_cancel_in_the_middle),
        cmocka_unit_test(test_deadline_pop_due_respects_now),
        cmocka_unit_test(test_deadline_random_against_model),
    };
    return cmocka_run_group_tests_name("deadline", tests, NULL, NULL);
}
