/*
 * spawner.c -- the spawn server (spawner.h states its contract): weft's side, which forks it,
 * sends it requests and reads its replies, and the spawner itself, a forked copy of weft that
 * runs s_serve() and never returns from it.
 *
 * Invariants:
 * - weft side: s_lock guards {s_ctl, s_pid, s_gen}.  Senders hold it shared, so the control fd
 *   cannot be closed and reused under a sendmsg; forking a spawner and burying a dead one take
 *   it exclusive.  A spawner is reaped only by s_bury(), only once (s_gen changes with it);
 * - spawner side: from fork on, only async-signal-safe calls on static memory and mmap'd
 *   memory.  fds 0-3 are /dev/null and fd 4 the control socket, so every fd the spawner
 *   receives is >= 5 and dup2 to 0..3 in the child never aliases; every fd above 3 is
 *   close-on-exec (received with MSG_CMSG_CLOEXEC, pidfds are), so a child starts with 0-3 only;
 * - s_att[0..s_natt) are dense: the children not yet reaped, and the `done` slots whose last
 *   record still waits to be sent; s_pfd[1 + 2i] polls s_att[i]'s socket (fd -1 once weft
 *   closed it) and s_pfd[2 + 2i] its pidfd (-1 once done).  A child's group is signalled only
 *   while its slot exists and is not done, i.e. while its leader is alive or an unreaped
 *   zombie, so the pgid cannot name anyone else's group;
 * - replies on an attempt's socket are fixed-size s_msg_t records: START or ERROR once, then
 *   EXIT once; weft sends SIGNAL records.  SEQPACKET keeps each record whole;
 * - s_att[i].held are the fds the child was given; they close only after its EXIT is sent (or
 *   at once when the start fails, after its ERROR), so a pipe's EOF implies the record is there;
 * - a record is never dropped while weft's end of its socket is open: one the socket cannot take
 *   now waits in s_att[i].out (s_flush), and the slot lives on, holding the socket and the
 *   child's fds, until it is sent.  A slot whose child is reaped (or never started) is `done`:
 *   its pid names nobody's group any more, so nothing signals it.
 *
 * Workload: per child one request (inline up to WF_SPAWN_INLINE_MAX), one clone, about ten
 * syscalls in the spawner and a few in weft; the spawner sleeps in poll otherwise.
 */
#include "spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* The spawner's fds: 0-3 /dev/null (what a child gets for a fd it was not given), 4 control. */
#define S_CTL_FD 4
/* Fds in one request: the attempt's socket, up to four for the child, the memfd. */
#define S_MAX_FDS 6
/* The vfork child's stack: a few libc calls, with room for sanitizer frames. */
#define S_STACK_SIZE (256u * 1024u)
/* The fds the spawner can use at most: six per child (spawner.h) and a few of its own. */
#define S_NOFILE_WANT ((rlim_t)(6 * WF_SPAWN_MAX_CHILDREN + 16))
/* A fallback bound for closing inherited fds where close_range is missing. */
#define S_MAX_CLOSE_FD 65536
#define S_MAGIC 0x57465331u /* "WFS1" */
#define S_NO_DIR UINT32_MAX
/* Header flag: the body is in the memfd passed last, not inline. */
#define S_BODY_MEMFD 0x10u
/* A record the kernel had no memory for is tried again this often (ms) until it goes. */
#define S_RETRY_MS 10
/* Without a slot to wait in (s_answer_failed), an ERROR is tried this many times, S_RETRY_MS
 * apart, before it is given up. */
#define S_SEND_TRIES 100

/* The control message's fixed part; the body (inline) follows it in a second iovec. */
typedef struct s_hdr {
    uint32_t magic;
    uint32_t body_len;
    uint32_t nslots; /* pointer slots at the start of the body: argv, NULL, envp, NULL */
    uint32_t argc;
    uint32_t path_off;
    uint32_t dir_off; /* S_NO_DIR: none */
    uint32_t flags;   /* bit i (0..3): fd i of the child is passed; S_BODY_MEMFD */
    uint32_t pad;
} s_hdr_t;

/* Records on an attempt's socket. */
enum { S_MSG_START = 1, S_MSG_ERROR, S_MSG_EXIT, S_MSG_SIGNAL };
typedef struct s_msg {
    int32_t kind;
    int32_t a; /* START: pid; ERROR: stage; EXIT: wait status; SIGNAL: signal */
    int32_t b; /* ERROR: errno */
    int32_t pad;
} s_msg_t;

/* ---- the spawner (forked; async-signal-safe from here to the weft side below) ------------- */

typedef struct s_att {
    int sock;  /* -1 once weft closed its end */
    int pidfd; /* -1 once done */
    pid_t pid; /* also the pgid; signalled only while !done */
    /* The child's fds as received (-1: none), kept until EXIT is sent; after a failed start,
     * whatever the request brought besides the socket, kept until ERROR is sent. */
    int held[S_MAX_FDS - 1];
    s_msg_t out[2]; /* records not sent yet, oldest first: at most START and EXIT */
    int nout;
    bool retry; /* the last send lacked memory: try again in S_RETRY_MS, not on POLLOUT */
    bool done;  /* reaped, or never started: the slot only waits for out to drain */
} s_att_t;

/* What the vfork child needs; stage and err are written by the child into this (shared)
 * memory before it _exits, and read by the spawner once clone returns. */
typedef struct s_child {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *dir;
    int fds[4];
    pid_t spawner;
    const struct rlimit *nofile; /* weft's RLIMIT_NOFILE to restore; NULL: unchanged */
    volatile int stage;
    volatile int err;
} s_child_t;

static s_att_t s_att[WF_SPAWN_MAX_CHILDREN];
static struct pollfd s_pfd[1 + 2 * WF_SPAWN_MAX_CHILDREN];
static int s_natt;
static int s_max_att; /* WF_SPAWN_MAX_CHILDREN, or fewer: poll's nfds must fit RLIMIT_NOFILE */
static uintptr_t s_inline[WF_SPAWN_INLINE_MAX / sizeof(uintptr_t)];
static char *s_stack;
static s_child_t s_kid;
static struct rlimit s_nofile; /* weft's RLIMIT_NOFILE, when the spawner raised its own */
static bool s_nofile_raised;
static int s_nretry; /* slots with retry set: poll wakes after S_RETRY_MS while any */

/* Set a->retry, keeping s_nretry.  A slot is freed (s_settle) only with nothing to send, so
 * never with retry set: moving or dropping slots leaves the count right. */
static void
s_set_retry(s_att_t *a, bool retry)
{
    s_nretry += (int)retry - (int)a->retry;
    a->retry = retry;
}

/* Send one record without blocking.  Returns 0, EAGAIN or ENOBUFS (the socket cannot take it
 * now: try again later), or another errno (weft's end is gone). */
static int
s_send_rec(int sock, const s_msg_t *m)
{
    ssize_t n;
    do {
        n = send(sock, m, sizeof *m, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n >= 0)
        return 0;
    if (errno == EWOULDBLOCK)
        return EAGAIN;
    return errno == ENOMEM ? ENOBUFS : errno;
}

/*
 * Send a's pending records, in order, as far as the socket takes them.
 *
 * Weft reads an EOF that comes before EXIT (or ERROR) as the spawner's death, and answers it by
 * killing the spawner and with it every running job; so a record may never be dropped for
 * want of room (EAGAIN: weft has not read yet) or memory (ENOBUFS under pressure).  Nor may
 * the spawner block on one socket: it serves every attempt from one thread, and a runner that
 * is slow to read would stall them all.  So a record that does not go now stays in a->out and
 * the slot stays, holding the socket and the child's fds (so the pipe EOF still comes after the
 * record); the loop polls the socket for POLLOUT (EAGAIN), or tries again in S_RETRY_MS
 * (ENOBUFS: POLLOUT would be set already and spin).  Only weft's end going away ends the wait:
 * then nobody is left to tell.
 */
static void
s_flush(s_att_t *a)
{
    s_set_retry(a, false);
    while (a->nout > 0) {
        int err = s_send_rec(a->sock, &a->out[0]);
        if (err == EAGAIN || err == ENOBUFS) {
            s_set_retry(a, err == ENOBUFS);
            return;
        }
        if (err != 0) {
            a->nout = 0; /* weft's end is closed; its EOF is read by s_on_sock */
            return;
        }
        a->out[0] = a->out[1];
        a->nout--;
    }
}

/* Queue a record on a's socket (after any still pending, so the order holds) and send what
 * can go. */
static void
s_reply(s_att_t *a, int32_t kind, int32_t x, int32_t y)
{
    if (a->sock < 0 || a->nout >= 2)
        return; /* nobody to tell; or a third record, which the protocol does not have */
    a->out[a->nout++] = (s_msg_t){kind, x, y, 0};
    s_flush(a);
}

/* Weft is gone: nothing it started may stay. */
static void __attribute__((noreturn))
s_shutdown(void)
{
    for (int i = 0; i < s_natt; i++)
        if (!s_att[i].done)
            kill(-s_att[i].pid, SIGKILL);
    _exit(0);
}

/* The child runs on s_stack, which sanitizers do not know: leave its two functions
 * uninstrumented (they only call libc on memory the spawner prepared). */
#define S_UNINSTRUMENTED __attribute__((no_sanitize("address", "undefined")))

static void S_UNINSTRUMENTED __attribute__((noreturn))
s_child_fail(s_child_t *c, int stage)
{
    c->err = errno;
    c->stage = stage;
    _exit(127);
}

/* The child, on s_stack, sharing the spawner's memory while the spawner waits (CLONE_VFORK):
 * syscalls only, on data the spawner prepared. */
static int S_UNINSTRUMENTED
s_child(void *arg)
{
    s_child_t *c = arg;
    if (setpgid(0, 0) != 0)
        s_child_fail(c, WF_SPAWN_STAGE_PGRP);
    /* Dies with the spawner; had it died already, we are someone else's child by now. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != c->spawner)
        s_child_fail(c, WF_SPAWN_STAGE_PARENT);
    for (int i = 0; i < 4; i++)
        if (c->fds[i] >= 0 && dup2(c->fds[i], i) != i)
            s_child_fail(c, WF_SPAWN_STAGE_FDS);
    if (c->dir && chdir(c->dir) != 0)
        s_child_fail(c, WF_SPAWN_STAGE_CHDIR);
    /* Lowering the soft limit back to weft's cannot fail short of a broken kernel. */
    if (c->nofile && setrlimit(RLIMIT_NOFILE, c->nofile) != 0)
        s_child_fail(c, WF_SPAWN_STAGE_FDS);
    execve(c->path, c->argv, c->envp);
    s_child_fail(c, WF_SPAWN_STAGE_EXEC);
}

/* Turn the body's offsets into pointers, checking each; false if the body is malformed. */
static bool
s_fixup(const s_hdr_t *h, char *body)
{
    size_t len = h->body_len;
    size_t nslots = h->nslots;
    if (len == 0 || body[len - 1] != '\0') /* so every string ends inside the body */
        return false;
    if (h->argc < 1 || nslots < (size_t)h->argc + 2 || nslots > len / sizeof(uintptr_t))
        return false;
    size_t strings = nslots * sizeof(uintptr_t);
    if (h->path_off < strings || h->path_off >= len)
        return false;
    if (h->dir_off != S_NO_DIR && (h->dir_off < strings || h->dir_off >= len))
        return false;
    for (size_t i = 0; i < nslots; i++) {
        uintptr_t off;
        memcpy(&off, body + i * sizeof off, sizeof off);
        char *p = NULL;
        if (i == h->argc || i == nslots - 1) {
            if (off != 0)
                return false;
        } else {
            if (off < strings || off >= len)
                return false;
            p = body + off;
        }
        memcpy(body + i * sizeof p, &p, sizeof p);
    }
    return true;
}

static int
s_status(const siginfo_t *si)
{
    if (si->si_code == CLD_EXITED)
        return (si->si_status & 0xff) << 8;
    if (si->si_code == CLD_DUMPED)
        return (si->si_status & 0x7f) | 0x80;
    return si->si_status & 0x7f;
}

static void
s_reap_now(pid_t pid)
{
    siginfo_t si;
    while (waitid(P_PID, (id_t)pid, &si, WEXITED) != 0 && errno == EINTR)
        ;
}

static void
s_remove(int i)
{
    int last = --s_natt;
    if (i != last) {
        s_att[i] = s_att[last];
        s_pfd[1 + 2 * i] = s_pfd[1 + 2 * last];
        s_pfd[2 + 2 * i] = s_pfd[2 + 2 * last];
    }
}

/* After slot i changed: free it once done with nothing left to send (closing the socket and,
 * only now, the fds it holds), else poll what it waits for. */
static void
s_settle(int i)
{
    s_att_t *a = &s_att[i];
    if (a->done && a->nout == 0) {
        if (a->sock >= 0)
            close(a->sock);
        for (int k = 0; k < S_MAX_FDS - 1; k++)
            if (a->held[k] >= 0)
                close(a->held[k]);
        if (a->pidfd >= 0)
            close(a->pidfd);
        s_remove(i);
        return;
    }
    short out = a->nout > 0 && !a->retry ? POLLOUT : 0;
    s_pfd[1 + 2 * i] = (struct pollfd){a->sock, (short)(POLLIN | out), 0};
    s_pfd[2 + 2 * i] = (struct pollfd){a->pidfd, POLLIN, 0};
}

/* A start failed: answer ERROR on sock, then close it and held (S_MAX_FDS - 1 fds, -1: none). */
static void
s_answer_failed(int sock, const int *held, int32_t stage, int32_t err)
{
    if (s_natt < s_max_att) {
        /* A slot of its own, so an ERROR that cannot go now waits like an EXIT (s_flush). */
        int i = s_natt++;
        s_att_t *a = &s_att[i];
        *a = (s_att_t){.sock = sock, .pidfd = -1, .done = true};
        memcpy(a->held, held, sizeof a->held);
        s_reply(a, S_MSG_ERROR, stage, err);
        s_settle(i);
        return;
    }
    /* No slot left (this is the "too many children" answer, or one to a request that came with
     * the table full).  The ERROR is the first record on a socket that nothing else writes, so
     * it cannot lack room, only memory: wait for that a bounded while, then give up (weft then
     * sees the spawner as lost, as it would had the spawner run out of memory altogether). */
    s_msg_t m = {S_MSG_ERROR, stage, err, 0};
    for (int t = 0; t < S_SEND_TRIES; t++) {
        int rc = s_send_rec(sock, &m);
        if (rc != EAGAIN && rc != ENOBUFS)
            break;
        struct pollfd q = {sock, rc == EAGAIN ? POLLOUT : 0, 0};
        (void)poll(&q, 1, S_RETRY_MS);
    }
    close(sock);
    for (int k = 0; k < S_MAX_FDS - 1; k++)
        if (held[k] >= 0)
            close(held[k]);
}

/* One request from the control socket: check it, start the child, answer on its socket. */
static void
s_on_request(void)
{
    s_hdr_t h;
    memset(&h, 0, sizeof h);
    struct iovec iov[2] = {{&h, sizeof h}, {s_inline, sizeof s_inline}};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * S_MAX_FDS)];
    } cm;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    m.msg_control = cm.buf;
    m.msg_controllen = sizeof cm.buf;
    ssize_t n = recvmsg(S_CTL_FD, &m, MSG_CMSG_CLOEXEC);
    /* Only EOF (or a socket that is no longer one) means weft is gone; a transient failure
     * (memory pressure) leaves the request queued for the next turn rather than killing every
     * running group. */
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == ENOMEM || errno == ENOBUFS))
        return;
    if (n <= 0)
        s_shutdown(); /* EOF: weft's end is closed, so weft is gone */

    int fds[S_MAX_FDS];
    int nf = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
            if (nf < S_MAX_FDS)
                fds[nf++] = fd;
            else
                close(fd);
        }
    }
    if (nf == 0)
        return; /* nowhere to answer */
    int sock = fds[0];
    int held[S_MAX_FDS - 1] = {-1, -1, -1, -1, -1}; /* the child's fds once clone has run */
    int stage = WF_SPAWN_STAGE_SPAWNER, err = EPROTO;
    char *body = NULL;
    size_t mapped = 0;
    int want = 1 + __builtin_popcount(h.flags & 0xfu) + ((h.flags & S_BODY_MEMFD) != 0);
    if ((size_t)n < sizeof h || h.magic != S_MAGIC || nf != want || (m.msg_flags & MSG_CTRUNC) ||
        (h.flags & ~(0xfu | S_BODY_MEMFD)))
        goto fail; /* h was zeroed first, so a short message reads as a bad magic */
    if (h.body_len > WF_SPAWN_MAX_REQUEST || (m.msg_flags & MSG_TRUNC)) {
        err = E2BIG;
        goto fail;
    }
    if (h.flags & S_BODY_MEMFD) {
        struct stat st;
        int mfd = fds[nf - 1];
        if (n != sizeof h || h.body_len == 0 || fstat(mfd, &st) != 0 ||
            st.st_size < (off_t)h.body_len)
            goto fail;
        void *p = mmap(NULL, h.body_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, mfd, 0);
        if (p == MAP_FAILED) {
            err = errno;
            goto fail;
        }
        body = p;
        mapped = h.body_len;
    } else {
        if ((size_t)n - sizeof h != h.body_len)
            goto fail;
        body = (char *)s_inline;
    }
    if (!s_fixup(&h, body))
        goto fail;
    if (s_natt >= s_max_att) {
        err = EAGAIN;
        goto fail;
    }
    /* A request whose sender is gone (weft died with it queued) starts nothing. */
    struct pollfd q = {sock, 0, 0};
    if (poll(&q, 1, 0) == 1 && (q.revents & (POLLHUP | POLLERR))) {
        err = EPIPE;
        goto fail;
    }

    s_child_t *c = &s_kid;
    c->path = body + h.path_off;
    c->argv = (char *const *)(void *)body;
    c->envp = (char *const *)(void *)(body + (size_t)(h.argc + 1) * sizeof(uintptr_t));
    c->dir = h.dir_off == S_NO_DIR ? NULL : body + h.dir_off;
    for (int i = 0, k = 1; i < 4; i++)
        c->fds[i] = h.flags & (1u << i) ? fds[k++] : -1;
    c->spawner = getpid();
    c->nofile = s_nofile_raised ? &s_nofile : NULL;
    c->stage = WF_SPAWN_STAGE_NONE;
    c->err = 0;
    int pidfd = -1;
    pid_t pid = clone(s_child, s_stack + S_STACK_SIZE,
                      CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, c, &pidfd);
    int clone_err = errno;
    if (mapped)
        munmap(body, mapped);
    mapped = 0;
    /* The child has its copies.  Ours stay open until its EXIT is sent (s_settle): so a
     * pipe the handler reads ends only after the record that says why, and the handler,
     * waiting on its pipes alone, wakes once per attempt (spawner.h). */
    for (int i = 0, k = 1; i < 4; i++)
        if (h.flags & (1u << i))
            held[i] = fds[k++];
    if (h.flags & S_BODY_MEMFD)
        close(fds[nf - 1]);
    nf = 1;
    if (pid < 0) {
        err = clone_err;
        goto fail;
    }
    if (c->stage != WF_SPAWN_STAGE_NONE) {
        /* It has _exited (CLONE_VFORK returned): reap it, a group of one, long gone. */
        stage = c->stage;
        err = c->err;
        s_reap_now(pid);
        close(pidfd);
        goto fail;
    }
    int i = s_natt++;
    s_att_t *a = &s_att[i];
    *a = (s_att_t){.sock = sock, .pidfd = pidfd, .pid = pid};
    memcpy(a->held, held, sizeof a->held);
    s_reply(a, S_MSG_START, (int32_t)pid, 0);
    s_settle(i);
    return;

fail:
    if (mapped)
        munmap(body, mapped);
    /* Before clone the child's fds are still in fds[1..nf) (held is empty then): they too close
     * only after the ERROR, as after an EXIT. */
    for (int k = 1; k < nf; k++)
        held[k - 1] = fds[k];
    s_answer_failed(sock, held, stage, err);
}

/* Child i exited: keep its zombie while its group is killed, then reap and report it. */
static void
s_on_exit(int i)
{
    s_att_t *a = &s_att[i];
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int rc;
    while ((rc = waitid(P_PID, (id_t)a->pid, &si, WEXITED | WNOHANG | WNOWAIT)) != 0 &&
           errno == EINTR)
        ;
    if (rc == 0 && si.si_pid == 0)
        return; /* not yet (a spurious wake-up) */
    kill(-a->pid, SIGKILL);
    s_reap_now(a->pid);
    a->done = true; /* from here the pgid may be anyone's */
    close(a->pidfd);
    a->pidfd = -1;
    s_reply(a, S_MSG_EXIT, rc == 0 ? s_status(&si) : (SIGKILL & 0x7f), 0);
    s_settle(i); /* closes the socket and the child's fds once EXIT is sent */
}

/* Child i's socket is ready (revents), or a record of its waits for memory: send what is
 * pending; read a SIGNAL, or EOF (its handler is gone). */
static void
s_on_sock(int i, short revents)
{
    s_att_t *a = &s_att[i];
    if (a->nout > 0)
        s_flush(a);
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        s_msg_t m;
        ssize_t n = recv(a->sock, &m, sizeof m, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            /* nothing to read after all */
        } else if (n <= 0) {
            if (!a->done)
                kill(-a->pid, SIGKILL); /* the leader is not reaped yet: the pgid is ours */
            close(a->sock);
            a->sock = -1;
            a->nout = 0; /* nobody is left to read them */
            s_set_retry(a, false);
        } else if (n == sizeof m && m.kind == S_MSG_SIGNAL && m.a > 0 && m.a < NSIG && !a->done) {
            kill(-a->pid, m.a);
        }
    }
    s_settle(i);
}

/* Close every inherited fd but `keep`. */
static void
s_close_all_but(int keep)
{
    if ((keep == 0 || close_range(0, (unsigned)keep - 1, 0) == 0) &&
        close_range((unsigned)keep + 1, ~0U, 0) == 0)
        return;
    struct rlimit rl;
    int max = S_MAX_CLOSE_FD;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)max)
        max = (int)rl.rlim_cur;
    for (int fd = 0; fd < max; fd++)
        if (fd != keep)
            close(fd);
}

/* The spawner: the child of fork in s_fork_locked.  Never returns. */
static void __attribute__((noreturn))
s_serve(int ctl)
{
    /* Everything weft had open goes (sockets, the store, other processes' pipes), so the
     * spawner holds nothing that would keep a peer from seeing EOF. */
    int hi = fcntl(ctl, F_DUPFD_CLOEXEC, S_CTL_FD + 1);
    if (hi < 0)
        _exit(127);
    s_close_all_but(hi);
    if (open("/dev/null", O_RDONLY) != 0 || open("/dev/null", O_WRONLY) != 1 || dup2(1, 2) != 2 ||
        dup2(1, 3) != 3 || dup3(hi, S_CTL_FD, O_CLOEXEC) != S_CTL_FD)
        _exit(127);
    close(hi);
    /* Its own group: signals for weft's group (a terminal's ^C, kill -PGID) are weft's to
     * handle; weft's death reaches the spawner as EOF on the control socket. */
    (void)setpgid(0, 0);
    (void)prctl(PR_SET_NAME, "weft-spawner");
    /* Children inherit ignored dispositions and the mask through execve: make them default
     * here once, so the child has nothing to reset.  Weft's handlers must not run here. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            (void)sigaction(s, &dfl, NULL); /* libc-reserved ones fail: they are not ignored */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    void *stack = mmap(NULL, S_STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        _exit(127);
    s_stack = stack;
    s_natt = 0;
    s_nretry = 0;
    s_max_att = WF_SPAWN_MAX_CHILDREN;
    /* Each child holds up to six of our fds: raise our own soft limit towards the hard one so a
     * default soft limit of 1024 does not cap the children at 168.  Children get weft's soft
     * limit back before exec (s_child), so what they see is unchanged. */
    struct rlimit rl;
    s_nofile_raised = false;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < S_NOFILE_WANT) {
        s_nofile = rl;
        struct rlimit up = rl;
        up.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > S_NOFILE_WANT ? S_NOFILE_WANT
                                                                                   : rl.rlim_max;
        if (up.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &up) == 0)
            s_nofile_raised = true;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        rlim_t fit = rl.rlim_cur > 16 ? (rl.rlim_cur - 16) / 6 : 1;
        if (fit < (rlim_t)s_max_att)
            s_max_att = (int)fit;
    }

    for (;;) {
        s_pfd[0] = (struct pollfd){S_CTL_FD, POLLIN, 0};
        /* A record waiting for memory is tried again soon (s_flush). */
        int timeout = s_nretry > 0 ? S_RETRY_MS : -1;
        int n = poll(s_pfd, (nfds_t)(1 + 2 * s_natt), timeout);
        if (n < 0)
            continue; /* EINTR (a stop and continue), or a transient ENOMEM */
        /* Backwards: s_remove moves the last slot, which has been looked at already. */
        for (int i = s_natt - 1; i >= 0; i--) {
            if (s_pfd[2 + 2 * i].revents)
                s_on_exit(i);
            else if (s_pfd[1 + 2 * i].revents || s_att[i].retry)
                s_on_sock(i, s_pfd[1 + 2 * i].revents);
        }
        if (s_pfd[0].revents)
            s_on_request();
    }
}

/* ---- weft's side ---------------------------------------------------------------------------- */

static pthread_rwlock_t s_lock = PTHREAD_RWLOCK_INITIALIZER;
static int s_ctl = -1;
static pid_t s_pid;
static unsigned long s_gen;

/* Fork a spawner; the caller holds s_lock exclusive.  Returns 0 or an errno. */
static int
s_fork_locked(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return errno;
    /* No handler of weft's may run in the child before it resets them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        s_serve(sv[1]);
    }
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return err;
    }
    s_ctl = sv[0];
    s_pid = pid;
    s_gen++;
    return 0;
}

/* The spawner of generation gen is dead or broken: make sure it is gone and reap it, so the
 * next request forks a new one.  A later generation is left alone. */
static void
s_bury(unsigned long gen)
{
    pthread_rwlock_wrlock(&s_lock);
    if (s_ctl >= 0 && s_gen == gen) {
        close(s_ctl);
        s_ctl = -1;
        /* Signalled only while it is our unreaped child, so the pid cannot be someone else's;
         * normally it is dying already, else it lost track of a child and must go. */
        pid_t r;
        while ((r = waitpid(s_pid, NULL, WNOHANG)) < 0 && errno == EINTR)
            ;
        if (r == 0) {
            kill(s_pid, SIGKILL);
            while (waitpid(s_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
        s_pid = 0;
    }
    pthread_rwlock_unlock(&s_lock);
}

/* Send m on the control socket, forking a spawner first if there is none.  Returns 0 or an
 * errno; *gen_p and *pid_p name the spawner it went to (or was meant for). */
static int
s_send(const struct msghdr *m, unsigned long *gen_p, pid_t *pid_p)
{
    for (;;) {
        pthread_rwlock_rdlock(&s_lock);
        if (s_ctl >= 0) {
            *gen_p = s_gen;
            *pid_p = s_pid;
            ssize_t n;
            do {
                n = sendmsg(s_ctl, m, MSG_NOSIGNAL);
            } while (n < 0 && errno == EINTR);
            int err = n < 0 ? errno : 0;
            pthread_rwlock_unlock(&s_lock);
            return err;
        }
        pthread_rwlock_unlock(&s_lock);
        pthread_rwlock_wrlock(&s_lock);
        int rc = s_ctl >= 0 ? 0 : s_fork_locked();
        pthread_rwlock_unlock(&s_lock);
        if (rc != 0)
            return rc;
    }
}

static bool
s_dead_peer(int err)
{
    return err == EPIPE || err == ECONNRESET || err == ECONNREFUSED || err == ENOTCONN;
}

static size_t
s_count(char *const *v)
{
    size_t n = 0;
    while (v[n])
        n++;
    return n;
}

/* Lay req out as the request body: slots (offsets; 0 ends argv and envp), then the strings.
 * Returns the malloc'd body, or NULL with *err_p (E2BIG: over WF_SPAWN_MAX_REQUEST). */
static char *
s_build(const wf_spawn_req_t *req, s_hdr_t *h, int *err_p)
{
    size_t argc = s_count(req->argv), envc = s_count(req->envp);
    size_t nslots = argc + 1 + envc + 1;
    size_t max = WF_SPAWN_MAX_REQUEST;
    if (nslots > max / sizeof(uintptr_t)) {
        *err_p = E2BIG;
        return NULL;
    }
    size_t strs[2] = {strlen(req->path) + 1, req->dir ? strlen(req->dir) + 1 : 0};
    size_t len = nslots * sizeof(uintptr_t) + strs[0] + strs[1];
    for (size_t i = 0; i < argc && len <= max; i++)
        len += strlen(req->argv[i]) + 1;
    for (size_t i = 0; i < envc && len <= max; i++)
        len += strlen(req->envp[i]) + 1;
    if (len > max) {
        *err_p = E2BIG;
        return NULL;
    }
    char *body = malloc(len);
    if (!body)
        abort(); /* OOM policy: abort (docs/decisions/0001-oom-aborts.md) */
    size_t at = nslots * sizeof(uintptr_t);
    memset(h, 0, sizeof *h);
    h->magic = S_MAGIC;
    h->body_len = (uint32_t)len;
    h->nslots = (uint32_t)nslots;
    h->argc = (uint32_t)argc;
    h->path_off = (uint32_t)at;
    memcpy(body + at, req->path, strs[0]);
    at += strs[0];
    h->dir_off = S_NO_DIR;
    if (req->dir) {
        h->dir_off = (uint32_t)at;
        memcpy(body + at, req->dir, strs[1]);
        at += strs[1];
    }
    for (size_t i = 0; i < nslots; i++) {
        const char *s = NULL; /* the NULLs that end argv and envp */
        if (i < argc)
            s = req->argv[i];
        else if (i > argc && i < nslots - 1)
            s = req->envp[i - argc - 1];
        uintptr_t off = 0;
        if (s) {
            size_t n = strlen(s) + 1;
            off = at;
            memcpy(body + at, s, n);
            at += n;
        }
        memcpy(body + i * sizeof off, &off, sizeof off);
    }
    return body;
}

/* The body in a memfd, for requests too big to travel inline.  Returns the fd or -1. */
static int
s_memfd(const char *body, size_t len)
{
    int fd = memfd_create("weft-spawn", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, body + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            close(fd);
            errno = err;
            return -1;
        }
        done += (size_t)n;
    }
    return fd;
}

/* Close sp and say where and why the start failed (stage_p and err_p may be NULL). */
static int
s_start_fail(wf_spawn_t *sp, int *stage_p, int *err_p, int stage, int err)
{
    wf_spawn_close(sp);
    if (stage_p)
        *stage_p = stage;
    if (err_p)
        *err_p = err;
    return -1;
}

int
wf_spawn_submit(wf_spawn_t *sp, const wf_spawn_req_t *req, int *stage_p, int *err_p)
{
    if (!sp)
        return s_start_fail(NULL, stage_p, err_p, WF_SPAWN_STAGE_LOCAL, EINVAL);
    memset(sp, 0, sizeof *sp);
    sp->sock = -1;
    if (!req || !req->path || !req->argv || !req->argv[0] || !req->envp)
        return s_start_fail(sp, stage_p, err_p, WF_SPAWN_STAGE_LOCAL, EINVAL);

    s_hdr_t h;
    int err = 0;
    char *body = s_build(req, &h, &err);
    if (!body)
        return s_start_fail(sp, stage_p, err_p, WF_SPAWN_STAGE_LOCAL, err);
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
        err = errno;
        free(body);
        return s_start_fail(sp, stage_p, err_p, WF_SPAWN_STAGE_LOCAL, err);
    }
    sp->sock = pair[0];

    int fds[S_MAX_FDS];
    int nf = 0;
    fds[nf++] = pair[1];
    for (int i = 0; i < 4; i++)
        if (req->fds[i] >= 0) {
            h.flags |= 1u << i;
            fds[nf++] = req->fds[i];
        }
    int memfd = -1;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * S_MAX_FDS)];
    } cm;
    struct iovec iov[2] = {{&h, sizeof h}, {body, h.body_len}};
    struct msghdr m;
    unsigned long gen = 0;
    pid_t spawner = 0;
    bool use_memfd = h.body_len > WF_SPAWN_INLINE_MAX;
    bool reforked = false;
    for (;;) {
        if (use_memfd && memfd < 0) {
            memfd = s_memfd(body, h.body_len);
            if (memfd < 0) {
                err = errno;
                break;
            }
            h.flags |= S_BODY_MEMFD;
            fds[nf++] = memfd;
        }
        memset(&m, 0, sizeof m);
        memset(&cm, 0, sizeof cm);
        m.msg_iov = iov;
        m.msg_iovlen = use_memfd ? 1 : 2;
        m.msg_control = cm.buf;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nf);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nf);
        err = s_send(&m, &gen, &spawner);
        if (err == EMSGSIZE && !use_memfd) {
            use_memfd = true; /* the socket's buffer is below WF_SPAWN_INLINE_MAX here */
            continue;
        }
        if (err != 0 && s_dead_peer(err) && !reforked) {
            reforked = true;
            s_bury(gen); /* it died since the last request: this one never reached it */
            continue;
        }
        break;
    }
    free(body);
    if (memfd >= 0)
        close(memfd);
    close(pair[1]);
    if (err != 0)
        return s_start_fail(sp, stage_p, err_p, WF_SPAWN_STAGE_LOCAL, err);
    sp->spawner = spawner;
    sp->gen = gen;
    return 0;
}

int
wf_spawn_start(wf_spawn_t *sp, const wf_spawn_req_t *req, int *stage_p, int *err_p)
{
    if (wf_spawn_submit(sp, req, stage_p, err_p) != 0)
        return -1;
    /* The spawner answers once the child has exec'd or failed: a short wait. */
    for (;;) {
        struct pollfd pf = {sp->sock, POLLIN, 0};
        if (poll(&pf, 1, -1) < 0 && errno != EINTR)
            return s_start_fail(sp, stage_p, err_p, WF_SPAWN_STAGE_LOCAL, errno);
        int status = 0;
        wf_spawn_state st = wf_spawn_poll(sp, &status);
        if (st == WF_SPAWN_FAILED || (st == WF_SPAWN_LOST && sp->pid == 0))
            return s_start_fail(sp, stage_p, err_p, sp->stage, sp->err);
        if (sp->pid > 0) {
            /* Started.  An EXIT read meanwhile is kept for the caller's wf_spawn_poll. */
            if (st == WF_SPAWN_EXITED || st == WF_SPAWN_LOST) {
                sp->early = st;
                sp->early_status = status;
            }
            return 0;
        }
    }
}

wf_spawn_state
wf_spawn_poll(wf_spawn_t *sp, int *status_p)
{
    if (!sp || sp->sock < 0)
        return WF_SPAWN_LOST;
    if (sp->early != WF_SPAWN_RUNNING) { /* read by wf_spawn_start */
        if (status_p)
            *status_p = sp->early_status;
        return (wf_spawn_state)sp->early;
    }
    for (;;) {
        s_msg_t r;
        ssize_t n = recv(sp->sock, &r, sizeof r, MSG_DONTWAIT);
        if (n == sizeof r && r.kind == S_MSG_START && r.a > 0 && sp->pid == 0) {
            sp->pid = (pid_t)r.a;
            continue;
        }
        if (n == sizeof r && r.kind == S_MSG_ERROR && sp->pid == 0) {
            sp->stage = r.a;
            sp->err = r.b;
            return WF_SPAWN_FAILED;
        }
        if (n == sizeof r && r.kind == S_MSG_EXIT && sp->pid > 0) {
            if (status_p)
                *status_p = r.a;
            return WF_SPAWN_EXITED;
        }
        if (n > 0)
            continue; /* nothing else is sent (a record out of order is ignored) */
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return WF_SPAWN_RUNNING;
        /* EOF before EXIT: the spawner is gone.  Its exit sends the PDEATHSIGs only after its
         * fds are closed, so the leader may still be alive here and the pgid surely ours.  With
         * no START yet, the child may have started and died by PDEATHSIG: its pid is unknown,
         * and the start is told as failed with the request (not sent again). */
        if (sp->pid > 0) {
            kill(-sp->pid, SIGKILL);
        } else {
            sp->stage = WF_SPAWN_STAGE_SPAWNER;
            sp->err = EPIPE;
        }
        s_bury(sp->gen);
        return WF_SPAWN_LOST;
    }
}

int
wf_spawn_kill(wf_spawn_t *sp, int sig)
{
    if (!sp || sp->sock < 0 || sig <= 0 || sig >= NSIG)
        return EINVAL;
    s_msg_t m = {S_MSG_SIGNAL, sig, 0, 0};
    ssize_t n;
    do {
        n = send(sp->sock, &m, sizeof m, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? errno : 0;
}

void
wf_spawn_close(wf_spawn_t *sp)
{
    if (!sp)
        return;
    if (sp->sock >= 0)
        close(sp->sock);
    sp->sock = -1;
}

int
wf_spawner_prestart(void)
{
    pthread_rwlock_wrlock(&s_lock);
    int rc = s_ctl >= 0 ? 0 : s_fork_locked();
    pthread_rwlock_unlock(&s_lock);
    return rc;
}

pid_t
wf_spawner_pid(void)
{
    pthread_rwlock_rdlock(&s_lock);
    pid_t pid = s_ctl >= 0 ? s_pid : 0;
    pthread_rwlock_unlock(&s_lock);
    return pid;
}
