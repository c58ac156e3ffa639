/*
 * auth.h -- CURVE security for a weft server: who may reach the board and the client endpoint.
 *
 * A weft server runs shell commands for whoever can reach it, so it is closed by default: it
 * binds loopback (or ipc://, inproc://) unless told otherwise, and a bind anywhere else needs
 * CURVE.  With CURVE the server has a key pair, and peers are admitted by their public keys,
 * kept as zcert public files in two directories: one for workers (ZAP domain "workers", the
 * board) and one for clients (domain "clients", the client endpoint and the event PUB).  A key
 * admitted in one domain is refused in the other: a worker's key cannot submit pipelines and a
 * client's key cannot take jobs.
 *
 * Why not czmq's zauth: zauth keeps ONE certificate store for every ZAP domain (it reads the
 * domain frame and ignores it), and asserts on a malformed ZAP request.  wf_auth is our own
 * RFC 27 ZAP handler, run as a czmq actor: a REP socket bound at inproc://zeromq.zap.01 in
 * czmq's (the process's one) context, answering each request from libzmq's I/O threads.
 *
 * Invariants:
 *   - One wf_auth per process (libzmq allows one ZAP handler per context); a second start, or a
 *     start while czmq's zauth runs, fails with WEFT_EBUSY.
 *   - A request is admitted ("200") only if its mechanism is CURVE, its domain is configured
 *     and its client key is in that domain's key set.  Everything else is refused ("400"), and
 *     a malformed request gets "500"; every refusal is logged with the stable id
 *     WEFT-AUTH-DENIED, the domain, the key's z85 and the peer address (at most once a minute
 *     per domain and key, with a count of the refusals left out, so a peer retrying every
 *     100 ms cannot flood the log).
 *   - Server sockets configured by wf_auth_server_socket also get ZMQ_ZAP_ENFORCE_DOMAIN where
 *     libzmq supports it, so if the handler is gone a CURVE handshake fails instead of being
 *     let through unauthenticated (libzmq's legacy behaviour).  Stop wf_auth only after the
 *     sockets it guards are closed all the same.
 *   - The key sets are owned by the actor thread; a reload builds new sets and swaps them in
 *     only if both directories could be read (a failed reload keeps the old keys).
 *   - inproc:// connections carry no security handshake in libzmq: a CURVE server socket that
 *     is also bound to an inproc:// endpoint admits in-process peers without keys (the embedded
 *     shell slots).  ipc:// and tcp:// peers always go through CURVE and ZAP.
 *
 * Workload: one ZAP round trip per connection handshake (not per message); key sets of up to
 * WF_AUTH_MAX_KEYS keys per directory, looked up in a hash.
 */
#ifndef WF_AUTH_H
#define WF_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <czmq.h>

/* The ZAP domains of a weft server's two endpoints. */
#define WF_AUTH_DOMAIN_WORKERS "workers"
#define WF_AUTH_DOMAIN_CLIENTS "clients"

/* Keys loaded from one directory: far above any real fleet; bounds a reload's time and memory. */
#define WF_AUTH_MAX_KEYS 10000
/* One key file: a zcert file is ~300 bytes; anything much bigger is not a certificate. */
#define WF_AUTH_MAX_KEYFILE (64 * 1024)
/* A ZAP domain: libzmq's own limit on ZMQ_ZAP_DOMAIN. */
#define WF_AUTH_MAX_DOMAIN 255
/* A CURVE key in Z85: 32 bytes -> 40 characters (buffers need one more for the NUL). */
#define WF_AUTH_KEY_Z85_LEN 40

typedef struct wf_auth wf_auth_t;

/* Start the ZAP handler and load the public keys of each directory: every regular file whose
 * name does not start with '.' and that is a zcert file with a valid curve/public-key (NAME.pub
 * as `weft keygen` writes it, or any zcert public or secret file).  Files that are not
 * certificates are skipped with a WEFT-AUTH-KEYFILE warning; a file that also holds a secret
 * key is admitted with a warning (only NAME.pub belongs there).  A directory may be NULL: that
 * domain then admits no one.  The peer's ZAP user id (libzmq's "User-Id" message property) is
 * the key file's name without ".pub".
 * Call before any server socket is configured with wf_auth_server_socket.
 * Returns WEFT_OK and sets *auth_p; WEFT_EINVAL (auth_p NULL or *auth_p set), WEFT_ENOTFOUND (a
 * directory does not exist or is not a directory), WEFT_ESYS (a directory cannot be read),
 * WEFT_ELIMIT (more than WF_AUTH_MAX_KEYS keys in one), WEFT_EBUSY (another ZAP handler is
 * bound in this process).  On failure err (if not NULL) holds a one-line explanation. */
int wf_auth_start(wf_auth_t **auth_p, const char *workers_dir, const char *clients_dir, char *err,
                  size_t n);

/* Stop the handler and free everything; accepts NULL and a NULL *auth_p, nulls the pointer. */
void wf_auth_stop(wf_auth_t **auth_p);

/* Read both directories again (keys added or removed take effect for the next handshake;
 * connections already admitted stay).  Errors as wf_auth_start; on error the old keys stay.
 * wf_auth_reload and wf_auth_key_count talk to the actor over its pipe, a ZeroMQ socket: call
 * them from one thread at a time (the server's loop). */
int wf_auth_reload(wf_auth_t *auth, char *err, size_t n);

/* Keys currently admitted in a domain ("workers" or "clients"); -1 for an unknown domain. */
int wf_auth_key_count(wf_auth_t *auth, const char *domain);

/* Make sock a CURVE server in a ZAP domain: server_cert's key pair, curve_server, zap_domain
 * (and zap_enforce_domain).  Call before bind.  server_cert must hold a secret key.
 * Returns WEFT_OK; WEFT_EINVAL (NULL argument, empty or too long domain, a cert without secret
 * key, a libzmq without CURVE, or a socket option refused); WEFT_ESTATE (no wf_auth handler is
 * running: CURVE without ZAP would admit any key).  After an error the socket may be partly
 * configured: close it rather than bind it. */
int wf_auth_server_socket(zsock_t *sock, const zcert_t *server_cert, const char *domain);

/* Make sock a CURVE client of the server whose public key is server_public_z85, with my_cert's
 * key pair (it must hold a secret key).  Call before connect.  Used by workers and clients.
 * Returns WEFT_OK or WEFT_EINVAL (NULL argument, bad z85, cert without secret, no CURVE). */
int wf_auth_client_socket(zsock_t *sock, const char *server_public_z85, const zcert_t *my_cert);

/* True when binding endpoint exposes nothing beyond this host: tcp:// on 127.0.0.0/8,
 * localhost or [::1] (any port), ipc:// and inproc://.  Anything else (the wildcard host "*",
 * 0.0.0.0, an interface name, another transport, a malformed or NULL endpoint) is not local:
 * the server refuses to bind it without CURVE. */
bool wf_bind_is_local(const char *endpoint);

/* Load a certificate file (a key pair to use: the server's, a worker's, a client's).  With
 * need_secret the file must hold a secret key and must not be readable or writable by group or
 * others (like ssh's keys).  Returns WEFT_OK and sets *cert_p (caller destroys it);
 * WEFT_EINVAL (NULL argument, not a certificate, no secret key, permissions too open);
 * WEFT_ENOTFOUND (no such file); WEFT_ETOOBIG (over WF_AUTH_MAX_KEYFILE); err explains. */
int wf_auth_cert_load(zcert_t **cert_p, const char *path, bool need_secret, char *err, size_t n);

/* The server public key a worker or client is given: either the key itself (40 characters of
 * Z85) or the path of a certificate file holding it (server.pub).  Writes the Z85 text and its
 * NUL into out (WF_AUTH_KEY_Z85_LEN + 1 bytes).  Returns WEFT_OK or an error as
 * wf_auth_cert_load. */
int wf_auth_public_key(const char *key_or_file, char *out, char *err, size_t n);

#endif
