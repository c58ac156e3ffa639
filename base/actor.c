/*
 * actor.c -- a thread joined to a PAIR pipe (see actor.h for why not zactor).
 */
#include "actor.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct wf_actor {
    zsock_t *pipe; /* the caller's end */
    pthread_t thread;
};

typedef struct {
    wf_actor_fn *fn;
    void *args;
    zsock_t *pipe; /* the thread's end */
} s_shim_t;

static void *
s_shim(void *arg)
{
    s_shim_t *shim = arg;
    shim->fn(shim->pipe, shim->args);
    /* As zactor: a final signal, so a constructor whose handler returned without signalling
     * does not wait for ever.  Never block on a caller that has gone. */
    zsock_set_sndtimeo(shim->pipe, 0);
    zsock_signal(shim->pipe, 0);
    zsock_destroy(&shim->pipe);
    free(shim);
    return NULL;
}

wf_actor_t *
wf_actor_new(wf_actor_fn *fn, void *args)
{
    wf_actor_t *self = calloc(1, sizeof *self);
    s_shim_t *shim = calloc(1, sizeof *shim);
    if (!self || !shim)
        goto fail;
    shim->fn = fn;
    shim->args = args;
    self->pipe = zsys_create_pipe(&shim->pipe);
    if (!self->pipe)
        goto fail;
    int rc = pthread_create(&self->thread, NULL, s_shim, shim);
    if (rc != 0) {
        zsock_destroy(&shim->pipe);
        zsock_destroy(&self->pipe);
        errno = rc;
        goto fail;
    }
    zsock_wait(self->pipe);
    return self;
fail:
    free(shim);
    free(self);
    return NULL;
}

void
wf_actor_destroy(wf_actor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wf_actor_t *self = *self_p;
    /* The join is the wait: no reply to $TERM is needed.  A handler that has returned already
     * may leave $TERM unsendable (its end is gone, or going): then the thread is joinable. */
    bool joined = false;
    zsock_set_sndtimeo(self->pipe, 100);
    while (zstr_send(self->pipe, "$TERM") != 0) {
        if (pthread_tryjoin_np(self->thread, NULL) == 0) {
            joined = true;
            break;
        }
    }
    if (!joined)
        pthread_join(self->thread, NULL);
    zsock_destroy(&self->pipe);
    free(self);
    *self_p = NULL;
}

zsock_t *
wf_actor_sock(wf_actor_t *self)
{
    return self ? self->pipe : NULL;
}
