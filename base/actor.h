/*
 * actor.h -- a thread joined to a PAIR pipe: czmq's zactor contract, but the thread is joined.
 *
 * The handler has zactor's contract: it calls zsock_signal(pipe, 0) once it is ready, and
 * returns when the pipe says "$TERM" (or on its own).  wf_actor_new returns once the handler
 * has signalled; wf_actor_destroy sends "$TERM", waits for the handler to return and joins the
 * thread, so every socket the thread owned is closed when it returns.
 *
 * Why not zactor: its thread is detached and closes its end of the pipe only after it has
 * told zactor_destroy it is done.  A process that exits right after zactor_destroy can find
 * that socket still open, and czmq's exit handler (zsys_shutdown) then sleeps 200 ms "to let
 * actors finish": every weft command paid it in about half its runs.
 */
#ifndef WF_ACTOR_H
#define WF_ACTOR_H

#include <czmq.h>

typedef struct wf_actor wf_actor_t;
typedef void(wf_actor_fn)(zsock_t *pipe, void *args);

/* Start fn(pipe, args) on a new thread and wait for its first signal.  NULL when the pipe or
 * the thread cannot be created (errno says why). */
wf_actor_t *wf_actor_new(wf_actor_fn *fn, void *args);

/* Send "$TERM", wait for the handler to return, join its thread, free.  NULL-safe. */
void wf_actor_destroy(wf_actor_t **self_p);

/* The caller's end of the pipe, for zstr_send/zsock_recv/polling. */
zsock_t *wf_actor_sock(wf_actor_t *self);

#endif
