/*
 * spawner.h -- the spawn server: one small helper process per weft process that starts the
 * shells of every shell attempt, owns their process groups and reaps them, so that weft never
 * forks itself per attempt.  shell.c is its client; anything that needs "run this program in
 * its own process group that cannot outlive weft" may use it.
 *
 * The spawner's contract:
 *   - it is forked from weft lazily, by the first wf_spawn_start (or wf_spawner_prestart), under
 *     a lock; from the fork on it calls only async-signal-safe functions (no malloc, stdio or
 *     locks: fixed static buffers and mmap), is single-threaded (one poll loop), has closed
 *     every fd it inherited (fds 0-3 are /dev/null, 4 is its control socket), leads a process
 *     group of its own (so signals for weft's group, Ctrl-C or `kill -TERM -PGID`, do not reach
 *     it), and has every signal disposition at default and no signal blocked;
 *   - each wf_spawn_start sends one request on the control socket (a SOCK_SEQPACKET pair):
 *     the attempt's own socket (another SEQPACKET pair), the fds to install, and a flat buffer
 *     with path, argv, envp and the directory (inline up to WF_SPAWN_INLINE_MAX bytes, else in
 *     a memfd; at most WF_SPAWN_MAX_REQUEST bytes: bigger ones fail with E2BIG before anything
 *     is sent).  The spawner checks every size and offset of it and answers a bad one with an
 *     error, never a crash;
 *   - the spawner starts the child with clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD): the child
 *     only does setpgid(0, 0) (it leads a new group: pgid = its pid), PR_SET_PDEATHSIG(SIGKILL)
 *     against the spawner (and checks the spawner is still its parent), dup2 of the given fds
 *     to 0..3 (fd i not given: /dev/null), chdir, execve.  Nothing else is open in it: every
 *     other fd of the spawner is close-on-exec.  The child inherits the spawner's cwd (unless
 *     a directory is given), umask, rlimits and nice value: weft's as they were at the
 *     spawner's fork.  A failing step is reported as {stage, errno} through memory shared
 *     with the suspended spawner (as glibc's posix_spawn does), then _exit(127);
 *     wf_spawn_start returns only once the child has exec'd or failed; wf_spawn_submit
 *     returns once the request is sent, and wf_spawn_poll then tells the start or failure;
 *   - the spawner keeps its copies of the child's fds open until it has sent the child's
 *     exit status: a pipe given to the child reads EOF only after that record is on the
 *     attempt's socket.  So a caller may wait on its pipes alone, with the socket polled for
 *     POLLHUP only (events 0: the spawner's own death), and find START and EXIT waiting when
 *     the pipes end: one wake-up per attempt instead of three;
 *   - when the child exits, the spawner waits for it with WNOWAIT (the zombie keeps the pid,
 *     so the group id, from being reused), SIGKILLs the group (nothing the child left in it
 *     outlives it), reaps it, and sends its wait status on the attempt's socket;
 *   - wf_spawn_kill(sp, sig) makes the spawner send sig to the group, only while the leader is
 *     not yet reaped, so the pgid surely still names this attempt's group;
 *   - EOF on an attempt's socket (its handler returned or weft crashed) makes the spawner
 *     SIGKILL that group (if the leader is not yet reaped); EOF on the control socket (weft
 *     exited or was SIGKILLed: the kernel closed its end) makes it SIGKILL every group whose
 *     leader it has not reaped, and exit.  So no child nor anything left in its group outlives
 *     weft, even on SIGKILL;
 *   - if the spawner dies (kill -9, OOM killer), its children die by PDEATHSIG; every running
 *     attempt sees WF_SPAWN_LOST, and wf_spawn_poll then SIGKILLs the attempt's group from
 *     weft.  That kill is best effort: the spawner's fds close before its children get their
 *     death signal, so the leader is usually still there, but it may already be reaped by
 *     init, the pgid then held only by what is left in the group.  The dead spawner is reaped
 *     and the next wf_spawn_start forks a new one.  A request the spawner took with it is not
 *     sent again (the child may have started): that start fails with EPIPE;
 *   - limits: a child that leaves its group (setsid, setpgid, job control) escapes every kill
 *     above.  At most WF_SPAWN_MAX_CHILDREN children run at once per spawner, fewer if
 *     RLIMIT_NOFILE is low (see below); more fail with EAGAIN.  The spawner shares
 *     weft's memory copy-on-write from its fork, so in a process that grows big start it
 *     early (wf_spawner_prestart).  Each child holds up to six of the spawner's fds (its
 *     socket, pidfd and the four it was given), so RLIMIT_NOFILE caps children at about a
 *     sixth of it: the spawner raises its own soft limit towards the hard one (up to what
 *     WF_SPAWN_MAX_CHILDREN needs) and gives each child weft's soft limit back before exec.
 *     Needs Linux >= 5.2 (CLONE_PIDFD); close_range is used where present.
 *
 * Threads: every function here may be called from any thread; a wf_spawn_t belongs to one
 * thread at a time.  Workload: one request, two replies and a few syscalls per child; the
 * spawner idles in poll between them.
 */
#ifndef WF_SPAWNER_H
#define WF_SPAWNER_H

#include <stddef.h>
#include <sys/types.h>

/* A request's flat buffer up to this size travels inside the control message itself. */
#define WF_SPAWN_INLINE_MAX (32u * 1024u)
/* The biggest request: a command of up to WF_MAX_PAYLOAD (1 MiB) plus its environment, paths
 * and pointers; the kernel's own limit on argv + envp (ARG_MAX) is lower still. */
#define WF_SPAWN_MAX_REQUEST (4u * 1024u * 1024u)
/* Children one spawner runs at once: above any useful number of slots in one process. */
#define WF_SPAWN_MAX_CHILDREN 4096

/* Where a start failed: *stage_p of wf_spawn_start (with an errno in *err_p). */
typedef enum wf_spawn_stage {
    WF_SPAWN_STAGE_NONE = 0,
    WF_SPAWN_STAGE_LOCAL,   /* in weft: socketpair, memfd, starting the spawner, sending */
    WF_SPAWN_STAGE_SPAWNER, /* in the spawner: bad or oversized request, too many children,
                               clone; or the spawner died with the request */
    WF_SPAWN_STAGE_PGRP,    /* the child's setpgid */
    WF_SPAWN_STAGE_PARENT,  /* the spawner died while the child was being set up */
    WF_SPAWN_STAGE_FDS,     /* dup2 of the child's fds */
    WF_SPAWN_STAGE_CHDIR,   /* chdir to the request's directory */
    WF_SPAWN_STAGE_EXEC     /* execve */
} wf_spawn_stage;

/* What a child should be; everything is copied by wf_spawn_start (or wf_spawn_submit). */
typedef struct wf_spawn_req {
    const char *path;  /* absolute path of the program */
    char *const *argv; /* NULL-terminated, at least argv[0] */
    char *const *envp; /* NULL-terminated */
    const char *dir;   /* chdir target; NULL: the spawner's cwd, which is weft's at its fork */
    int fds[4];        /* become the child's fds 0..3; -1: /dev/null.  Borrowed: the caller
                          still owns (and closes) them */
} wf_spawn_req_t;

/* One child, seen from weft.  Fill by wf_spawn_start or wf_spawn_submit; end with
 * wf_spawn_close. */
typedef struct wf_spawn {
    int sock;          /* poll for POLLIN; then call wf_spawn_poll.  -1 once closed */
    pid_t pid;         /* the child, and its process group id; 0 until its START is read */
    pid_t spawner;     /* the spawner that runs it */
    unsigned long gen; /* that spawner's generation */
    int stage, err;    /* after WF_SPAWN_FAILED, or LOST with pid 0: where and why the start
                          failed (LOST: WF_SPAWN_STAGE_SPAWNER, EPIPE) */
    int early;         /* wf_spawn_start's: an outcome read while waiting for START */
    int early_status;
} wf_spawn_t;

/* What wf_spawn_poll found. */
typedef enum wf_spawn_state {
    WF_SPAWN_RUNNING = 0, /* nothing yet (started or not: sp->pid says) */
    WF_SPAWN_EXITED,      /* *status_p is the child's wait status; its group got SIGKILL */
    WF_SPAWN_LOST,        /* the spawner died: the child died by PDEATHSIG, and its group got
                             SIGKILL from weft (if its START had come: sp->pid); no status */
    WF_SPAWN_FAILED       /* after wf_spawn_submit: the start failed, sp->stage and sp->err
                             say where and why (as wf_spawn_start's *stage_p and *err_p) */
} wf_spawn_state;

/*
 * Start req as a child of the spawner (forked first if need be) and wait until it has exec'd.
 * Returns 0 with *sp filled, or -1 with *stage_p and *err_p (an errno: E2BIG for a request
 * over WF_SPAWN_MAX_REQUEST, EAGAIN for too many children, EPIPE when the spawner died with
 * the request, EINVAL for a NULL argument or a bad req) saying why; *sp is then closed.
 */
int wf_spawn_start(wf_spawn_t *sp, const wf_spawn_req_t *req, int *stage_p, int *err_p);

/* Send req to the spawner (forked first if need be) and return without waiting for the start.
 * Returns 0 with *sp open (sp->pid 0), or -1 with *stage_p (WF_SPAWN_STAGE_LOCAL) and *err_p
 * as for wf_spawn_start; the start itself is then told by wf_spawn_poll: RUNNING with
 * sp->pid set once started, FAILED, or LOST (sp->pid 0: it died with the request, which is
 * not sent again). */
int wf_spawn_submit(wf_spawn_t *sp, const wf_spawn_req_t *req, int *stage_p, int *err_p);

/* Non-blocking: what has the spawner said about this child?  Call when sp->sock is readable
 * (or at any time).  After EXITED or LOST, only wf_spawn_close remains to do. */
wf_spawn_state wf_spawn_poll(wf_spawn_t *sp, int *status_p);

/* Ask the spawner to send sig to the child's group (if its leader is not yet reaped).
 * Returns 0, or an errno (EPIPE: the child is already reported, or the spawner is gone). */
int wf_spawn_kill(wf_spawn_t *sp, int sig);

/* Close the attempt's socket; a child still running gets its group SIGKILLed by the spawner.
 * Accepts a closed sp. */
void wf_spawn_close(wf_spawn_t *sp);

/* Fork the spawner now if there is none (idempotent).  Returns 0 or an errno. */
int wf_spawner_prestart(void);

/* The current spawner's pid, 0 if there is none.  For tests. */
pid_t wf_spawner_pid(void);

#endif
