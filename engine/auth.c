/*
 * auth.c -- see auth.h: our own RFC 27 ZAP handler with one key set per domain, the CURVE
 * socket set-up for servers and their peers, key files, and the loopback test for binds.
 *
 * Invariants: the key sets and the refusal rate-limiter belong to the actor thread alone; the
 * caller's thread talks to it only through the actor pipe (RELOAD, COUNT, $TERM).  Every ZAP
 * request gets exactly one reply (the REP socket's state machine needs it), whatever its shape:
 * nothing in a request or in a key file can make this file assert or abort.
 *
 * Workload: one ZAP request per tcp/ipc handshake on a CURVE socket; a reload reads at most
 * 2 * WF_AUTH_MAX_KEYS small files.  Refusal logging is bounded to one line a minute per
 * (domain, key), so a peer reconnecting every 100 ms costs a hash lookup, not a log line.
 */
#include "auth.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/weft.h>

#include "actor.h"
#include "log.h"

/* The endpoint libzmq sends ZAP requests to (RFC 27). */
#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
/* ZMQ_ZAP_ENFORCE_DOMAIN is a draft option in libzmq 4.3's header; its number is stable. */
#ifdef ZMQ_ZAP_ENFORCE_DOMAIN
#define S_ZAP_ENFORCE_DOMAIN ZMQ_ZAP_ENFORCE_DOMAIN
#else
#define S_ZAP_ENFORCE_DOMAIN 93
#endif
/* RFC 27 caps the request id and each text frame at 255 octets. */
#define S_MAX_ZAP_FIELD 255
/* A user id (the key file's name) as handed to libzmq and printed in logs. */
#define S_MAX_USER_ID 128
/* How often one refused (domain, key) may be logged, and how many we remember. */
#define S_DENY_LOG_INTERVAL_MS 60000
#define S_DENY_LOG_MAX_ENTRIES 4096

enum { S_WORKERS = 0, S_CLIENTS = 1, S_NDOMAINS = 2 };
static const char *const s_domain_names[S_NDOMAINS] = {WF_AUTH_DOMAIN_WORKERS,
                                                       WF_AUTH_DOMAIN_CLIENTS};

/* How many wf_auth handlers are bound right now (0 or 1): wf_auth_server_socket refuses to set
 * up CURVE without one, since libzmq would then let any key through. */
static atomic_int s_running;

struct wf_auth {
    wf_actor_t *actor;
};

/* ---- small helpers ---- */

static void s_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
s_err(char *err, size_t n, const char *fmt, ...)
{
    if (!err || n == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

static char *
s_strdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static void
s_free_item(void **item_p)
{
    free(*item_p);
    *item_p = NULL;
}

/* Copy bytes from a peer or a file name into buf for a log line: printable ASCII only. */
static const char *
s_printable(char *buf, size_t cap, const void *data, size_t size)
{
    const unsigned char *p = data;
    size_t o = 0;
    for (size_t i = 0; i < size && o + 1 < cap; i++)
        buf[o++] = (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"') ? (char)p[i] : '?';
    buf[o] = '\0';
    return buf;
}

static bool
s_all_zero(const byte *key)
{
    byte acc = 0;
    for (int i = 0; i < 32; i++)
        acc |= key[i];
    return acc == 0;
}

/* Decode 40 characters of Z85 into 32 bytes; false if malformed or the (never valid) zero key. */
static bool
s_z85_key(const char *text, byte key[32])
{
    if (!text || strnlen(text, WF_AUTH_KEY_Z85_LEN + 1) != WF_AUTH_KEY_Z85_LEN)
        return false;
    if (!zmq_z85_decode(key, text))
        return false;
    return !s_all_zero(key);
}

/* ---- key files ---- */

typedef struct s_keyfile {
    byte pub[32];
    char pub_txt[WF_AUTH_KEY_Z85_LEN + 1];
    byte sec[32];
    bool has_secret;
    mode_t mode;
    zconfig_t *root; /* the parsed file; the caller destroys it */
} s_keyfile_t;

/* Read and parse one zcert file, bounded: a FIFO, a device or a huge file in a key directory
 * must not hang or swamp the reader (hence O_NONBLOCK, fstat, and the size cap). */
static int
s_keyfile_read(const char *path, s_keyfile_t *kf, char *err, size_t n)
{
    memset(kf, 0, sizeof *kf);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        s_err(err, n, "%s: %s", path, strerror(e));
        return e == ENOENT || e == ENOTDIR ? WEFT_ENOTFOUND : WEFT_ESYS;
    }
    int rc = WEFT_OK;
    char *buf = NULL;
    zchunk_t *chunk = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        s_err(err, n, "%s: %s", path, strerror(errno));
        rc = WEFT_ESYS;
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        s_err(err, n, "%s: not a regular file", path);
        rc = WEFT_EINVAL;
        goto cleanup;
    }
    if (st.st_size > WF_AUTH_MAX_KEYFILE) {
        s_err(err, n, "%s: %lld bytes, more than a certificate's %d", path, (long long)st.st_size,
              WF_AUTH_MAX_KEYFILE);
        rc = WEFT_ETOOBIG;
        goto cleanup;
    }
    kf->mode = st.st_mode;
    buf = malloc(WF_AUTH_MAX_KEYFILE + 1);
    if (!buf)
        abort();
    size_t len = 0;
    while (len <= WF_AUTH_MAX_KEYFILE) {
        ssize_t got = read(fd, buf + len, WF_AUTH_MAX_KEYFILE + 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            s_err(err, n, "%s: %s", path, strerror(errno));
            rc = WEFT_ESYS;
            goto cleanup;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    if (len > WF_AUTH_MAX_KEYFILE) {
        s_err(err, n, "%s: grew past %d bytes while read", path, WF_AUTH_MAX_KEYFILE);
        rc = WEFT_ETOOBIG;
        goto cleanup;
    }
    chunk = zchunk_new(buf, len);
    kf->root = chunk ? zconfig_chunk_load(chunk) : NULL;
    const char *pub = kf->root ? zconfig_get(kf->root, "/curve/public-key", NULL) : NULL;
    if (!pub || !s_z85_key(pub, kf->pub)) {
        s_err(err, n, "%s: not a CURVE certificate (no valid curve/public-key)", path);
        rc = WEFT_EINVAL;
        goto cleanup;
    }
    memcpy(kf->pub_txt, pub, WF_AUTH_KEY_Z85_LEN + 1);
    const char *sec = zconfig_get(kf->root, "/curve/secret-key", NULL);
    kf->has_secret = sec && s_z85_key(sec, kf->sec);
    if (!kf->has_secret)
        memset(kf->sec, 0, sizeof kf->sec);
cleanup:
    if (rc != WEFT_OK)
        zconfig_destroy(&kf->root);
    zchunk_destroy(&chunk);
    free(buf);
    close(fd);
    return rc;
}

/* The user id of a key file: its name without ".pub", printable, bounded. */
static char *
s_user_id(const char *file_name)
{
    size_t len = strlen(file_name);
    if (len > 4 && strcmp(file_name + len - 4, ".pub") == 0)
        len -= 4;
    char buf[S_MAX_USER_ID + 1];
    s_printable(buf, sizeof buf, file_name, len);
    return s_strdup(buf);
}

/* Load one directory's public keys into a new hash (z85 -> user id).  A NULL dir gives an
 * empty set.  Files that are not certificates are skipped with a warning. */
static int
s_load_dir(const char *dir, const char *domain, zhashx_t **keys_p, char *err, size_t n)
{
    zhashx_t *keys = zhashx_new();
    if (!keys)
        abort();
    zhashx_set_destructor(keys, s_free_item);
    if (!dir) {
        *keys_p = keys;
        return WEFT_OK;
    }
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        s_err(err, n, "cannot read the %s key directory %s: %s", domain, dir, strerror(e));
        zhashx_destroy(&keys);
        return e == ENOENT || e == ENOTDIR ? WEFT_ENOTFOUND : WEFT_ESYS;
    }
    int rc = WEFT_OK;
    struct dirent *ent;
    errno = 0;
    while ((ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.')
            continue;
        char *path = zsys_sprintf("%s/%s", dir, ent->d_name);
        if (!path)
            abort();
        struct stat st;
        /* Directories and sockets are not key files; not worth a warning. */
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            zstr_free(&path);
            errno = 0;
            continue;
        }
        s_keyfile_t kf;
        char why[512];
        if (s_keyfile_read(path, &kf, why, sizeof why) != WEFT_OK) {
            wf_log_warn("WEFT-AUTH-KEYFILE", "skipped in the %s keys: %s", domain, why);
            zstr_free(&path);
            errno = 0;
            continue;
        }
        if (kf.has_secret)
            wf_log_warn("WEFT-AUTH-KEYFILE",
                        "%s holds a secret key; only the public NAME.pub belongs in the %s keys "
                        "(admitted all the same)",
                        path, domain);
        zconfig_destroy(&kf.root);
        zstr_free(&path);
        if (zhashx_lookup(keys, kf.pub_txt)) {
            errno = 0;
            continue; /* the same key twice: the first file names it */
        }
        if (zhashx_size(keys) >= WF_AUTH_MAX_KEYS) {
            s_err(err, n, "the %s key directory %s holds more than %d keys", domain, dir,
                  WF_AUTH_MAX_KEYS);
            rc = WEFT_ELIMIT;
            break;
        }
        zhashx_insert(keys, kf.pub_txt, s_user_id(ent->d_name));
        errno = 0;
    }
    if (rc == WEFT_OK && errno != 0) {
        s_err(err, n, "cannot read the %s key directory %s: %s", domain, dir, strerror(errno));
        rc = WEFT_ESYS;
    }
    closedir(d);
    if (rc != WEFT_OK)
        zhashx_destroy(&keys);
    *keys_p = keys;
    return rc;
}

/* ---- the actor ---- */

typedef struct s_start {
    const char *dirs[S_NDOMAINS]; /* borrowed for the actor's lifetime (copied at start) */
    int rc;                       /* the actor's verdict on starting */
    char err[512];
} s_start_t;

typedef struct s_denial {
    int64_t last_ms;     /* when this (domain, key) was last logged */
    uint64_t suppressed; /* refusals since, not logged */
} s_denial_t;

typedef struct s_self {
    zsock_t *pipe;
    zsock_t *handler;
    char *dirs[S_NDOMAINS];
    zhashx_t *keys[S_NDOMAINS];
    zhashx_t *denials; /* "domain key" -> s_denial_t */
    bool terminated;
} s_self_t;

static int
s_reload(s_self_t *self, char *err, size_t n)
{
    zhashx_t *fresh[S_NDOMAINS] = {NULL};
    int rc = WEFT_OK;
    for (int i = 0; i < S_NDOMAINS && rc == WEFT_OK; i++)
        rc = s_load_dir(self->dirs[i], s_domain_names[i], &fresh[i], err, n);
    if (rc != WEFT_OK) {
        for (int i = 0; i < S_NDOMAINS; i++)
            zhashx_destroy(&fresh[i]);
        return rc;
    }
    for (int i = 0; i < S_NDOMAINS; i++) {
        zhashx_destroy(&self->keys[i]);
        self->keys[i] = fresh[i];
    }
    wf_log_info("WEFT-AUTH-KEYS", "admitting %zu worker key(s) and %zu client key(s)",
                zhashx_size(self->keys[S_WORKERS]), zhashx_size(self->keys[S_CLIENTS]));
    return WEFT_OK;
}

/* Log a refusal, at most once a minute per (domain, key or address). */
static void
s_log_denied(s_self_t *self, const char *domain, const char *mechanism, const char *key,
             const char *peer, const char *reason)
{
    char *id = zsys_sprintf("%s %s", domain, strcmp(key, "-") == 0 ? peer : key);
    if (!id)
        abort();
    int64_t now = zclock_mono();
    s_denial_t *d = zhashx_lookup(self->denials, id);
    if (d && now - d->last_ms < S_DENY_LOG_INTERVAL_MS) {
        d->suppressed++;
        zstr_free(&id);
        return;
    }
    uint64_t suppressed = d ? d->suppressed : 0;
    if (!d) {
        if (zhashx_size(self->denials) >= S_DENY_LOG_MAX_ENTRIES)
            zhashx_purge(self->denials);
        d = calloc(1, sizeof *d);
        if (!d)
            abort();
        zhashx_insert(self->denials, id, d);
    }
    d->last_ms = now;
    d->suppressed = 0;
    zstr_free(&id);
    if (suppressed)
        wf_log_warn("WEFT-AUTH-DENIED",
                    "refused domain=%s mechanism=%s key=%s peer=%s reason=\"%s\" "
                    "(and %" PRIu64 " more refusals of it in the last minute)",
                    domain, mechanism, key, peer, reason, suppressed);
    else
        wf_log_warn("WEFT-AUTH-DENIED",
                    "refused domain=%s mechanism=%s key=%s peer=%s reason=\"%s\"", domain,
                    mechanism, key, peer, reason);
}

/* Answer one ZAP request.  Frames (RFC 27): version, request id, domain, address, routing id,
 * mechanism, credentials...  The reply echoes the request id byte for byte. */
static void
s_handle_zap(s_self_t *self)
{
    zmsg_t *req = zmsg_recv(self->handler);
    if (!req)
        return; /* interrupted; nothing was taken off the socket */
    const char *status = "500", *text = "malformed ZAP request";
    const char *user = "";
    zframe_t *fr[7] = {NULL};
    size_t nframes = zmsg_size(req);
    for (size_t i = 0; i < 7 && i < nframes; i++)
        fr[i] = i == 0 ? zmsg_first(req) : zmsg_next(req);

    char domain[S_MAX_ZAP_FIELD + 1] = "?", peer[S_MAX_ZAP_FIELD + 1] = "?";
    char mech[S_MAX_ZAP_FIELD + 1] = "?", key[WF_AUTH_KEY_Z85_LEN + 1] = "-";
    bool wellformed =
        nframes >= 6 && zframe_size(fr[0]) == 3 && memcmp(zframe_data(fr[0]), "1.0", 3) == 0 &&
        zframe_size(fr[1]) <= S_MAX_ZAP_FIELD && zframe_size(fr[2]) <= S_MAX_ZAP_FIELD;
    if (wellformed) {
        s_printable(domain, sizeof domain, zframe_data(fr[2]), zframe_size(fr[2]));
        s_printable(peer, sizeof peer, zframe_data(fr[3]), zframe_size(fr[3]));
        s_printable(mech, sizeof mech, zframe_data(fr[5]), zframe_size(fr[5]));
        bool curve = zframe_streq(fr[5], "CURVE");
        if (curve && (nframes < 7 || zframe_size(fr[6]) != 32))
            wellformed = false;
        else if (curve)
            zmq_z85_encode(key, zframe_data(fr[6]), 32);
    }
    if (!wellformed) {
        wf_log_error("WEFT-AUTH-ZAP", "malformed ZAP request (%zu frames) answered 500", nframes);
    } else {
        int dom = -1;
        for (int i = 0; i < S_NDOMAINS; i++)
            if (zframe_streq(fr[2], s_domain_names[i]))
                dom = i;
        status = "400";
        if (dom < 0) {
            text = "domain not configured";
        } else if (!zframe_streq(fr[5], "CURVE")) {
            text = "CURVE required";
        } else {
            const char *who = zhashx_lookup(self->keys[dom], key);
            if (who) {
                status = "200";
                text = "OK";
                user = who;
                wf_log_debug("WEFT-AUTH-ALLOWED", "admitted domain=%s key=%s name=%s peer=%s",
                             domain, key, who, peer);
            } else {
                text = "unknown key";
            }
        }
        if (strcmp(status, "200") != 0)
            s_log_denied(self, domain, mech, key, peer, text);
    }

    zmsg_t *rep = zmsg_new();
    if (!rep)
        abort();
    zmsg_addstr(rep, "1.0");
    if (nframes >= 2 && zframe_size(fr[1]) <= S_MAX_ZAP_FIELD)
        zmsg_addmem(rep, zframe_data(fr[1]), zframe_size(fr[1]));
    else
        zmsg_addmem(rep, "", 0);
    zmsg_addstr(rep, status);
    zmsg_addstr(rep, text);
    zmsg_addstr(rep, user);
    zmsg_addmem(rep, "", 0); /* metadata: none */
    if (zmsg_send(&rep, self->handler) != 0) {
        wf_log_error("WEFT-AUTH-ZAP", "cannot send a ZAP reply: %s", zmq_strerror(zmq_errno()));
        zmsg_destroy(&rep);
    }
    zmsg_destroy(&req);
}

static void
s_handle_pipe(s_self_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    if (!msg)
        return;
    char *cmd = zmsg_popstr(msg);
    if (!cmd) {
        zmsg_destroy(&msg);
        return;
    }
    if (streq(cmd, "$TERM")) {
        self->terminated = true;
    } else if (streq(cmd, "RELOAD")) {
        char err[512] = "";
        int rc = s_reload(self, err, sizeof err);
        zsock_send(self->pipe, "is", rc, err);
    } else if (streq(cmd, "COUNT")) {
        char *domain = zmsg_popstr(msg);
        int count = -1;
        for (int i = 0; domain && i < S_NDOMAINS; i++)
            if (streq(domain, s_domain_names[i]))
                count = (int)zhashx_size(self->keys[i]);
        zstr_free(&domain);
        zsock_send(self->pipe, "i", count);
    }
    zstr_free(&cmd);
    zmsg_destroy(&msg);
}

static void
s_self_destroy(s_self_t **self_p)
{
    s_self_t *self = *self_p;
    if (!self)
        return;
    if (self->handler) {
        /* Unbind explicitly: a closed socket's inproc name is released asynchronously, and the
         * next wf_auth_start (tests, a restarted server) must be able to bind it at once. */
        zsock_unbind(self->handler, "%s", S_ZAP_ENDPOINT);
        zsock_destroy(&self->handler);
    }
    for (int i = 0; i < S_NDOMAINS; i++) {
        zhashx_destroy(&self->keys[i]);
        free(self->dirs[i]);
    }
    zhashx_destroy(&self->denials);
    free(self);
    *self_p = NULL;
}

static void
s_actor(zsock_t *pipe, void *args)
{
    s_start_t *start = args;
    s_self_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->pipe = pipe;
    self->denials = zhashx_new();
    if (!self->denials)
        abort();
    zhashx_set_destructor(self->denials, s_free_item);
    for (int i = 0; i < S_NDOMAINS; i++)
        self->dirs[i] = start->dirs[i] ? s_strdup(start->dirs[i]) : NULL;

    int rc = WEFT_OK;
    self->handler = zsock_new(ZMQ_REP);
    if (!self->handler) {
        snprintf(start->err, sizeof start->err, "cannot create the ZAP handler socket: %s",
                 zmq_strerror(zmq_errno()));
        rc = WEFT_ESYS;
    } else if (zsock_bind(self->handler, "%s", S_ZAP_ENDPOINT) != 0) {
        snprintf(start->err, sizeof start->err,
                 "cannot bind the ZAP handler at %s: %s (another authenticator, such as czmq's "
                 "zauth, runs in this process)",
                 S_ZAP_ENDPOINT, zmq_strerror(zmq_errno()));
        zsock_destroy(&self->handler);
        rc = WEFT_EBUSY;
    } else {
        rc = s_reload(self, start->err, sizeof start->err);
    }
    start->rc = rc;
    if (rc != WEFT_OK) {
        s_self_destroy(&self);
        zsock_signal(pipe, 0);
        /* Stay until wf_auth_start's wf_actor_destroy says $TERM, as every actor does. */
        while (true) {
            char *cmd = zstr_recv(pipe);
            bool term = !cmd || streq(cmd, "$TERM");
            zstr_free(&cmd);
            if (term)
                break;
        }
        return;
    }
    atomic_fetch_add(&s_running, 1);
    zsock_signal(pipe, 0);

    zmq_pollitem_t items[2] = {
        {zsock_resolve(self->pipe), 0, ZMQ_POLLIN, 0},
        {zsock_resolve(self->handler), 0, ZMQ_POLLIN, 0},
    };
    while (!self->terminated) {
        /* Our own poll, not zpoller: zpoller treats EINTR as the end, and a SIGCHLD landing on
         * this thread would then silently take authentication away. */
        if (zmq_poll(items, 2, -1) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            break; /* ETERM: the context is going away */
        }
        if (items[0].revents & ZMQ_POLLIN)
            s_handle_pipe(self);
        if (!self->terminated && (items[1].revents & ZMQ_POLLIN))
            s_handle_zap(self);
    }
    atomic_fetch_sub(&s_running, 1);
    s_self_destroy(&self);
}

/* ---- the interface ---- */

int
wf_auth_start(wf_auth_t **auth_p, const char *workers_dir, const char *clients_dir, char *err,
              size_t n)
{
    if (!auth_p || *auth_p) {
        s_err(err, n, "wf_auth_start: auth_p must point to a NULL handle");
        return WEFT_EINVAL;
    }
    s_start_t start = {.dirs = {workers_dir, clients_dir}, .rc = WEFT_ESYS};
    wf_actor_t *actor = wf_actor_new(s_actor, &start);
    if (!actor) {
        s_err(err, n, "cannot start the authentication actor");
        return WEFT_ESYS;
    }
    if (start.rc != WEFT_OK) {
        s_err(err, n, "%s", start.err);
        wf_actor_destroy(&actor);
        return start.rc;
    }
    wf_auth_t *auth = calloc(1, sizeof *auth);
    if (!auth)
        abort();
    auth->actor = actor;
    *auth_p = auth;
    return WEFT_OK;
}

void
wf_auth_stop(wf_auth_t **auth_p)
{
    if (!auth_p || !*auth_p)
        return;
    wf_actor_destroy(&(*auth_p)->actor);
    free(*auth_p);
    *auth_p = NULL;
}

int
wf_auth_reload(wf_auth_t *auth, char *err, size_t n)
{
    if (!auth) {
        s_err(err, n, "wf_auth_reload: no handle");
        return WEFT_EINVAL;
    }
    if (zstr_send(wf_actor_sock(auth->actor), "RELOAD") != 0) {
        s_err(err, n, "the authentication actor is gone");
        return WEFT_ECLOSED;
    }
    int rc = WEFT_ECLOSED;
    char *text = NULL;
    if (zsock_recv(wf_actor_sock(auth->actor), "is", &rc, &text) != 0) {
        s_err(err, n, "the authentication actor is gone");
        return WEFT_ECLOSED;
    }
    if (rc != WEFT_OK)
        s_err(err, n, "%s", text ? text : "");
    zstr_free(&text);
    return rc;
}

int
wf_auth_key_count(wf_auth_t *auth, const char *domain)
{
    if (!auth || !domain || zstr_sendx(wf_actor_sock(auth->actor), "COUNT", domain, NULL) != 0)
        return -1;
    int count = -1;
    if (zsock_recv(wf_actor_sock(auth->actor), "i", &count) != 0)
        return -1;
    return count;
}

static int
s_setopt(zsock_t *sock, int opt, const void *val, size_t len)
{
    return zmq_setsockopt(zsock_resolve(sock), opt, val, len) == 0 ? WEFT_OK : WEFT_EINVAL;
}

int
wf_auth_server_socket(zsock_t *sock, const zcert_t *server_cert, const char *domain)
{
    if (!sock || !server_cert || !domain || !*domain ||
        strnlen(domain, WF_AUTH_MAX_DOMAIN + 1) > WF_AUTH_MAX_DOMAIN)
        return WEFT_EINVAL;
    if (!zsys_has_curve())
        return WEFT_EINVAL;
    /* zcert's accessors take a non-const pointer but only read. */
    zcert_t *cert = (zcert_t *)server_cert;
    if (s_all_zero(zcert_secret_key(cert)) || s_all_zero(zcert_public_key(cert)))
        return WEFT_EINVAL;
    if (atomic_load(&s_running) <= 0)
        return WEFT_ESTATE;
    int one = 1;
    int rc = s_setopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain));
    if (rc == WEFT_OK)
        rc = s_setopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one);
    if (rc == WEFT_OK)
        rc = s_setopt(sock, ZMQ_CURVE_PUBLICKEY, zcert_public_key(cert), 32);
    if (rc == WEFT_OK)
        rc = s_setopt(sock, ZMQ_CURVE_SECRETKEY, zcert_secret_key(cert), 32);
    if (rc != WEFT_OK)
        return rc;
    /* Best effort: a libzmq built without draft options lacks it, and then wf_auth must simply
     * outlive the socket (auth.h says so). */
    if (s_setopt(sock, S_ZAP_ENFORCE_DOMAIN, &one, sizeof one) != WEFT_OK)
        wf_log_debug("WEFT-AUTH-ENFORCE", "this libzmq has no ZMQ_ZAP_ENFORCE_DOMAIN");
    return WEFT_OK;
}

int
wf_auth_client_socket(zsock_t *sock, const char *server_public_z85, const zcert_t *my_cert)
{
    byte server_key[32];
    if (!sock || !my_cert || !s_z85_key(server_public_z85, server_key) || !zsys_has_curve())
        return WEFT_EINVAL;
    zcert_t *cert = (zcert_t *)my_cert;
    if (s_all_zero(zcert_secret_key(cert)) || s_all_zero(zcert_public_key(cert)))
        return WEFT_EINVAL;
    int rc = s_setopt(sock, ZMQ_CURVE_SERVERKEY, server_key, 32);
    if (rc == WEFT_OK)
        rc = s_setopt(sock, ZMQ_CURVE_PUBLICKEY, zcert_public_key(cert), 32);
    if (rc == WEFT_OK)
        rc = s_setopt(sock, ZMQ_CURVE_SECRETKEY, zcert_secret_key(cert), 32);
    return rc;
}

/* A bind port as libzmq takes it: digits, '*' (ephemeral), or a "*[lo-hi]" range. */
static bool
s_port_ok(const char *p)
{
    if (!*p)
        return false;
    for (; *p; p++)
        if (!strchr("0123456789*![]-", *p))
            return false;
    return true;
}

bool
wf_bind_is_local(const char *endpoint)
{
    if (!endpoint)
        return false;
    if (strncmp(endpoint, "inproc://", 9) == 0)
        return endpoint[9] != '\0';
    if (strncmp(endpoint, "ipc://", 6) == 0)
        return endpoint[6] != '\0';
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    if (strchr(host, ';'))
        return false; /* "source;destination": not a plain bind */
    char name[256];
    const char *port;
    if (*host == '[') {
        const char *close = strchr(host, ']');
        if (!close || close[1] != ':' || (size_t)(close - host - 1) >= sizeof name)
            return false;
        memcpy(name, host + 1, (size_t)(close - host - 1));
        name[close - host - 1] = '\0';
        port = close + 2;
        struct in6_addr a6;
        return s_port_ok(port) && inet_pton(AF_INET6, name, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    /* libzmq splits host and port at the last colon. */
    const char *colon = strrchr(host, ':');
    if (!colon || (size_t)(colon - host) >= sizeof name)
        return false;
    memcpy(name, host, (size_t)(colon - host));
    name[colon - host] = '\0';
    port = colon + 1;
    if (!s_port_ok(port))
        return false;
    if (strcasecmp(name, "localhost") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, name, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    struct in6_addr a6;
    return inet_pton(AF_INET6, name, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int
wf_auth_cert_load(zcert_t **cert_p, const char *path, bool need_secret, char *err, size_t n)
{
    if (!cert_p || !path) {
        s_err(err, n, "wf_auth_cert_load: NULL argument");
        return WEFT_EINVAL;
    }
    *cert_p = NULL;
    s_keyfile_t kf;
    int rc = s_keyfile_read(path, &kf, err, n);
    if (rc != WEFT_OK)
        return rc;
    if (need_secret && !kf.has_secret) {
        s_err(err, n, "%s holds no secret key (give the key file itself, not NAME.pub)", path);
        rc = WEFT_EINVAL;
    } else if (need_secret && (kf.mode & (S_IRWXG | S_IRWXO))) {
        s_err(err, n,
              "%s holds a secret key but others may read or change it (mode %03o); "
              "chmod 600 it",
              path, (unsigned)(kf.mode & 0777));
        rc = WEFT_EINVAL;
    }
    if (rc == WEFT_OK) {
        zcert_t *cert = zcert_new_from(kf.pub, kf.sec);
        if (!cert)
            abort();
        zconfig_t *meta = zconfig_locate(kf.root, "/metadata");
        for (zconfig_t *item = meta ? zconfig_child(meta) : NULL; item; item = zconfig_next(item))
            if (zconfig_name(item) && zconfig_value(item))
                zcert_set_meta(cert, zconfig_name(item), "%s", zconfig_value(item));
        *cert_p = cert;
    }
    memset(kf.sec, 0, sizeof kf.sec);
    zconfig_destroy(&kf.root);
    return rc;
}

int
wf_auth_public_key(const char *key_or_file, char *out, char *err, size_t n)
{
    if (!key_or_file || !out) {
        s_err(err, n, "wf_auth_public_key: NULL argument");
        return WEFT_EINVAL;
    }
    byte key[32];
    if (s_z85_key(key_or_file, key)) {
        memcpy(out, key_or_file, WF_AUTH_KEY_Z85_LEN + 1);
        return WEFT_OK;
    }
    s_keyfile_t kf;
    int rc = s_keyfile_read(key_or_file, &kf, err, n);
    if (rc != WEFT_OK)
        return rc;
    memcpy(out, kf.pub_txt, WF_AUTH_KEY_Z85_LEN + 1);
    memset(kf.sec, 0, sizeof kf.sec);
    zconfig_destroy(&kf.root);
    return WEFT_OK;
}
