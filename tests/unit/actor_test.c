/*
 * actor_test.c -- base/actor: the pipe carries messages both ways, a handler that returns on
 * its own does not hang the destroyer, and wf_actor_destroy returns only once the thread has
 * ended: a thread-exit destructor that runs after the handler (and after the shim closed its
 * end of the pipe) has run by then.  That last property is what zactor lacks (its thread is
 * detached), and what keeps czmq's exit handler from sleeping 200 ms in every weft command.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "actor.h"

static pthread_key_t s_key;
static atomic_int s_thread_ended;

/* Runs at the thread's exit, after the shim: slow on purpose, so a detached thread would be
 * caught still in it. */
static void
s_on_thread_exit(void *value)
{
    (void)value;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    atomic_store(&s_thread_ended, 1);
}

/* Answers PING with PONG, returns on $TERM or QUIT. */
static void
s_echo(zsock_t *pipe, void *args)
{
    pthread_setspecific(s_key, args);
    zsock_signal(pipe, 0);
    for (;;) {
        char *cmd = zstr_recv(pipe);
        if (!cmd)
            return;
        bool stop = streq(cmd, "$TERM") || streq(cmd, "QUIT");
        if (streq(cmd, "PING"))
            zstr_send(pipe, "PONG");
        zstr_free(&cmd);
        if (stop)
            return;
    }
}

/* Fails to start: says so in its ready signal and returns, as the consumer's loop does. */
static void
s_fails(zsock_t *pipe, void *args)
{
    pthread_setspecific(s_key, args);
    zsock_signal(pipe, 1);
}

static int
s_setup(void **state)
{
    (void)state;
    atomic_store(&s_thread_ended, 0);
    return 0;
}

static void
test_actor_messages_both_ways_and_destroy_joins(void **state)
{
    (void)state;
    wf_actor_t *a = wf_actor_new(s_echo, (void *)1);
    assert_non_null(a);
    assert_int_equal(zstr_send(wf_actor_sock(a), "PING"), 0);
    char *reply = zstr_recv(wf_actor_sock(a));
    assert_string_equal(reply, "PONG");
    zstr_free(&reply);
    wf_actor_destroy(&a);
    assert_null(a);
    assert_int_equal(atomic_load(&s_thread_ended), 1);
    wf_actor_destroy(&a); /* NULL-safe */
}

static void
test_actor_handler_that_returned_on_its_own(void **state)
{
    (void)state;
    wf_actor_t *a = wf_actor_new(s_echo, (void *)1);
    assert_non_null(a);
    assert_int_equal(zstr_send(wf_actor_sock(a), "QUIT"), 0);
    zsock_wait(wf_actor_sock(a)); /* the shim's final signal: the handler has returned */
    wf_actor_destroy(&a);         /* nobody reads $TERM now: it must only join */
    assert_int_equal(atomic_load(&s_thread_ended), 1);
}

static void
test_actor_handler_that_failed_to_start(void **state)
{
    (void)state;
    wf_actor_t *a = wf_actor_new(s_fails, (void *)1);
    assert_non_null(a); /* as zactor: the handler's signal says how it went, not the return */
    wf_actor_destroy(&a);
    assert_int_equal(atomic_load(&s_thread_ended), 1);
}

int
main(void)
{
    if (pthread_key_create(&s_key, s_on_thread_exit) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_actor_messages_both_ways_and_destroy_joins, s_setup),
        cmocka_unit_test_setup(test_actor_handler_that_returned_on_its_own, s_setup),
        cmocka_unit_test_setup(test_actor_handler_that_failed_to_start, s_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
