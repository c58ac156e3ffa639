/*
 * auth_test.c -- CURVE security with real sockets over tcp://127.0.0.1 (ephemeral ports): a
 * client key in clients/ is admitted and its messages round-trip; an unknown key, a worker key
 * on the client endpoint, a NULL-security peer and a domain no one configured are refused, and
 * the refusal is logged with WEFT-AUTH-DENIED; the worker key is admitted on the workers
 * endpoint; a reload admits a new key and drops a removed one; malformed ZAP requests get "500"
 * and the handler goes on; CURVE sockets refuse handshakes once the handler is gone; inproc
 * peers skip the handshake; wf_bind_is_local's table; and `weft keygen` run in-process, its
 * files loaded back and used end to end.
 *
 * Refusals are observed through a positive signal: the server socket's monitor reports
 * ZMQ_EVENT_HANDSHAKE_FAILED_AUTH (or another handshake failure); admissions through
 * HANDSHAKE_SUCCEEDED and a message round trip.  Every wait has the generous test deadline.
 * Each test gets its own temp dir with workers/ and clients/ key directories and its own
 * wf_auth (one per process, so the tests run one after another in this binary).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>
#include <weft/weft.h>

#include "auth.h"
#include "testutil.h"

int weft_cmd_keygen(int argc, char **argv);

#define S_HANDSHAKE_EVENTS                                                                         \
    (ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |                             \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
#define S_FAILED_EVENTS (S_HANDSHAKE_EVENTS & ~ZMQ_EVENT_HANDSHAKE_SUCCEEDED)

typedef struct fx {
    char *dir;
    char workers[1024];
    char clients[1024];
    zcert_t *server;   /* the server's key pair */
    zcert_t *client;   /* in clients/client.pub */
    zcert_t *worker;   /* in workers/worker.pub */
    zcert_t *stranger; /* in neither */
    wf_auth_t *auth;
} fx_t;

static void
s_save_public(zcert_t *cert, const char *dir, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(zcert_save_public(cert, path), 0);
}

static int
s_setup(void **state)
{
    zsys_handler_set(NULL);
    zsys_init();
    fx_t *f = calloc(1, sizeof *f);
    f->dir = wf_test_tmpdir("auth");
    snprintf(f->workers, sizeof f->workers, "%s/workers", f->dir);
    snprintf(f->clients, sizeof f->clients, "%s/clients", f->dir);
    if (mkdir(f->workers, 0755) != 0 || mkdir(f->clients, 0755) != 0)
        return -1;
    f->server = zcert_new();
    f->client = zcert_new();
    f->worker = zcert_new();
    f->stranger = zcert_new();
    s_save_public(f->client, f->clients, "client.pub");
    s_save_public(f->worker, f->workers, "worker.pub");
    char err[512] = "";
    if (wf_auth_start(&f->auth, f->workers, f->clients, err, sizeof err) != WEFT_OK) {
        fprintf(stderr, "wf_auth_start: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *f = *state;
    wf_auth_stop(&f->auth);
    assert_null(f->auth);
    wf_auth_stop(&f->auth); /* a NULL handle is fine */
    zcert_destroy(&f->server);
    zcert_destroy(&f->client);
    zcert_destroy(&f->worker);
    zcert_destroy(&f->stranger);
    wf_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- sockets and monitors ---- */

/* A CURVE ROUTER in `domain`, bound to an ephemeral loopback port; *ep_p gets its endpoint. */
static zsock_t *
s_server(fx_t *f, const char *domain, char **ep_p)
{
    zsock_t *s = zsock_new(ZMQ_ROUTER);
    assert_non_null(s);
    assert_int_equal(wf_auth_server_socket(s, f->server, domain), WEFT_OK);
    zsock_set_rcvtimeo(s, WF_TEST_DEADLINE_MS);
    assert_true(zsock_bind(s, "tcp://127.0.0.1:*") > 0);
    *ep_p = zsock_last_endpoint(s);
    assert_non_null(*ep_p);
    return s;
}

/* A CURVE DEALER with `cert`'s key pair, connected to the server at ep. */
static zsock_t *
s_client(fx_t *f, zcert_t *cert, const char *ep)
{
    zsock_t *s = zsock_new(ZMQ_DEALER);
    assert_non_null(s);
    assert_int_equal(wf_auth_client_socket(s, zcert_public_txt(f->server), cert), WEFT_OK);
    zsock_set_rcvtimeo(s, WF_TEST_DEADLINE_MS);
    assert_int_equal(zsock_connect(s, "%s", ep), 0);
    return s;
}

/* Watch sock's handshakes; returns the PAIR the events arrive on. */
static zsock_t *
s_monitor(zsock_t *sock)
{
    static int counter;
    char ep[128];
    snprintf(ep, sizeof ep, "inproc://auth-test-monitor-%d-%d", (int)getpid(), ++counter);
    assert_int_equal(zmq_socket_monitor(zsock_resolve(sock), ep, S_HANDSHAKE_EVENTS), 0);
    zsock_t *pair = zsock_new(ZMQ_PAIR);
    assert_non_null(pair);
    zsock_set_rcvtimeo(pair, WF_TEST_DEADLINE_MS);
    assert_int_equal(zsock_connect(pair, "%s", ep), 0);
    return pair;
}

static void
s_monitor_stop(zsock_t *sock, zsock_t **pair_p)
{
    zmq_socket_monitor(zsock_resolve(sock), NULL, 0);
    zsock_destroy(pair_p);
}

/* The next event in `mask` (others are skipped); 0 if none came before the deadline. */
static int
s_monitor_wait(zsock_t *pair, int mask, uint32_t *value_p)
{
    int64_t end = wf_test_now_ms() + WF_TEST_DEADLINE_MS;
    while (wf_test_now_ms() < end) {
        zmsg_t *m = zmsg_recv(pair);
        if (!m)
            return 0;
        zframe_t *head = zmsg_first(m);
        int event = 0;
        uint32_t value = 0;
        if (head && zframe_size(head) == 6) {
            uint16_t ev16;
            memcpy(&ev16, zframe_data(head), 2);
            memcpy(&value, zframe_data(head) + 2, 4);
            event = ev16;
        }
        zmsg_destroy(&m);
        if (event & mask) {
            if (value_p)
                *value_p = value;
            return event;
        }
    }
    return 0;
}

/* The next event in `mask` on either monitor; 0 if none came before the deadline. */
static int
s_monitor_wait_either(zsock_t *a, zsock_t *b, int mask)
{
    zpoller_t *poller = zpoller_new(a, b, NULL);
    assert_non_null(poller);
    int event = 0;
    int64_t end = wf_test_now_ms() + WF_TEST_DEADLINE_MS;
    while (!event && wf_test_now_ms() < end) {
        zsock_t *which = zpoller_wait(poller, (int)(end - wf_test_now_ms()));
        if (!which)
            break;
        zmsg_t *m = zmsg_recv(which);
        zframe_t *head = m ? zmsg_first(m) : NULL;
        if (head && zframe_size(head) == 6) {
            uint16_t ev16;
            memcpy(&ev16, zframe_data(head), 2);
            if (ev16 & mask)
                event = ev16;
        }
        zmsg_destroy(&m);
    }
    zpoller_destroy(&poller);
    return event;
}

/* cli sends, srv receives it (checking the peer's ZAP user id), replies, and cli gets it. */
static void
s_round_trip(zsock_t *srv, zsock_t *cli, const char *user_id)
{
    assert_int_equal(zstr_send(cli, "hello"), 0);
    zmsg_t *m = zmsg_recv(srv);
    assert_non_null(m);
    assert_int_equal(zmsg_size(m), 2);
    zframe_t *body = zmsg_last(m);
    assert_true(zframe_streq(body, "hello"));
    const char *uid = zframe_meta(body, "User-Id");
    assert_non_null(uid);
    assert_string_equal(uid, user_id);
    zframe_reset(body, "world", 5);
    assert_int_equal(zmsg_send(&m, srv), 0);
    char *reply = zstr_recv(cli);
    assert_non_null(reply);
    assert_string_equal(reply, "world");
    zstr_free(&reply);
}

/* Queue a message if the socket still has a connection to queue it on.  A refused handshake
 * ends the connection for good (libzmq does not reconnect after a protocol or auth error), and
 * a DEALER without one would block a plain send forever; a message that cannot even be queued
 * certainly does not get through. */
static void
s_try_send(zsock_t *cli)
{
    (void)zmq_send(zsock_resolve(cli), "let me in", 9, ZMQ_DONTWAIT);
}

/* The key's connection is refused: the server reports a failed handshake, and nothing the
 * client sent reaches the server.  Returns the event (its value, the ZAP status, in *value_p). */
static int
s_expect_refused(zsock_t *srv, zsock_t *mon, zsock_t *cli, uint32_t *value_p)
{
    s_try_send(cli);
    int ev = s_monitor_wait(mon, S_HANDSHAKE_EVENTS, value_p);
    assert_int_not_equal(ev, 0);
    assert_int_not_equal(ev, ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_int_equal(zsock_events(srv) & ZMQ_POLLIN, 0);
    return ev;
}

/* ---- stderr capture, to see the WEFT-AUTH-DENIED line ---- */

static int
s_capture_begin(const char *path)
{
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    return saved;
}

static void
s_capture_end(int saved)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
}

static char *
s_slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char *buf = calloc(1, 65536);
    size_t len = fread(buf, 1, 65535, fp);
    buf[len] = '\0';
    fclose(fp);
    return buf;
}

/* ---- tests ---- */

static void
test_auth_known_client_key_is_admitted(void **state)
{
    fx_t *f = *state;
    char *ep = NULL;
    zsock_t *srv = s_server(f, WF_AUTH_DOMAIN_CLIENTS, &ep);
    zsock_t *mon = s_monitor(srv);
    zsock_t *cli = s_client(f, f->client, ep);
    s_round_trip(srv, cli, "client");
    assert_int_equal(s_monitor_wait(mon, S_HANDSHAKE_EVENTS, NULL), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_int_equal(wf_auth_key_count(f->auth, WF_AUTH_DOMAIN_CLIENTS), 1);
    assert_int_equal(wf_auth_key_count(f->auth, WF_AUTH_DOMAIN_WORKERS), 1);
    assert_int_equal(wf_auth_key_count(f->auth, "elsewhere"), -1);
    zsock_destroy(&cli);
    s_monitor_stop(srv, &mon);
    zsock_destroy(&srv);
    zstr_free(&ep);
}

static void
test_auth_unknown_key_is_refused_and_logged(void **state)
{
    fx_t *f = *state;
    char *ep = NULL;
    char log[1200];
    snprintf(log, sizeof log, "%s/stderr.log", f->dir);
    zsock_t *srv = s_server(f, WF_AUTH_DOMAIN_CLIENTS, &ep);
    zsock_t *mon = s_monitor(srv);
    int saved = s_capture_begin(log);
    zsock_t *cli = s_client(f, f->stranger, ep);
    uint32_t status = 0;
    int ev = s_expect_refused(srv, mon, cli, &status);
    /* The same key again within the minute: refused, counted, not logged a second time. */
    zsock_t *cli2 = s_client(f, f->stranger, ep);
    int again = s_expect_refused(srv, mon, cli2, NULL);
    s_capture_end(saved);
    assert_int_equal(ev, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_int_equal(status, 400);
    assert_int_equal(again, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);

    /* The line was written before the ZAP reply went out, so it is there now. */
    char *text = s_slurp(log);
    assert_non_null(strstr(text, "WEFT-AUTH-DENIED"));
    assert_non_null(strstr(text, "domain=clients"));
    assert_non_null(strstr(text, zcert_public_txt(f->stranger)));
    assert_non_null(strstr(text, "unknown key"));
    const char *first = strstr(text, "WEFT-AUTH-DENIED");
    assert_null(strstr(first + 1, "WEFT-AUTH-DENIED"));
    free(text);

    zsock_destroy(&cli2);
    zsock_destroy(&cli);
    s_monitor_stop(srv, &mon);
    zsock_destroy(&srv);
    zstr_free(&ep);
}

static void
test_auth_worker_key_is_refused_on_clients_and_admitted_on_workers(void **state)
{
    fx_t *f = *state;
    char *cep = NULL, *wep = NULL;
    zsock_t *csrv = s_server(f, WF_AUTH_DOMAIN_CLIENTS, &cep);
    zsock_t *wsrv = s_server(f, WF_AUTH_DOMAIN_WORKERS, &wep);
    zsock_t *cmon = s_monitor(csrv);

    zsock_t *on_clients = s_client(f, f->worker, cep);
    uint32_t status = 0;
    assert_int_equal(s_expect_refused(csrv, cmon, on_clients, &status),
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_int_equal(status, 400);

    zsock_t *on_workers = s_client(f, f->worker, wep);
    s_round_trip(wsrv, on_workers, "worker");

    /* And the other way round: a client key cannot take jobs. */
    zsock_t *wmon = s_monitor(wsrv);
    zsock_t *client_on_workers = s_client(f, f->client, wep);
    assert_int_equal(s_expect_refused(wsrv, wmon, client_on_workers, &status),
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);

    zsock_destroy(&client_on_workers);
    zsock_destroy(&on_workers);
    zsock_destroy(&on_clients);
    s_monitor_stop(wsrv, &wmon);
    s_monitor_stop(csrv, &cmon);
    zsock_destroy(&wsrv);
    zsock_destroy(&csrv);
    zstr_free(&wep);
    zstr_free(&cep);
}

static void
test_auth_reload_admits_added_keys_and_drops_removed_ones(void **state)
{
    fx_t *f = *state;
    char *ep = NULL;
    zsock_t *srv = s_server(f, WF_AUTH_DOMAIN_CLIENTS, &ep);
    zsock_t *mon = s_monitor(srv);
    zsock_t *cli = s_client(f, f->stranger, ep);
    assert_int_equal(s_expect_refused(srv, mon, cli, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    zsock_destroy(&cli);

    s_save_public(f->stranger, f->clients, "newcomer.pub");
    char path[1200];
    snprintf(path, sizeof path, "%s/client.pub", f->clients);
    assert_int_equal(unlink(path), 0);
    char err[512] = "";
    assert_int_equal(wf_auth_reload(f->auth, err, sizeof err), WEFT_OK);
    assert_int_equal(wf_auth_key_count(f->auth, WF_AUTH_DOMAIN_CLIENTS), 1);

    /* Fresh server sockets, so no event of the first connection can be mistaken for these. */
    s_monitor_stop(srv, &mon);
    zsock_destroy(&srv);
    zstr_free(&ep);
    srv = s_server(f, WF_AUTH_DOMAIN_CLIENTS, &ep);
    cli = s_client(f, f->stranger, ep);
    s_round_trip(srv, cli, "newcomer");
    char *ep2 = NULL;
    zsock_t *srv2 = s_server(f, WF_AUTH_DOMAIN_CLIENTS, &ep2);
    zsock_t *mon2 = s_monitor(srv2);
    zsock_t *old = s_client(f, f->client, ep2);
    assert_int_equal(s_expect_refused(srv2, mon2, old, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);

    /* A reload that cannot read a directory fails and keeps the keys it had. */
    char moved[1200];
    snprintf(moved, sizeof moved, "%s/clients-moved", f->dir);
    assert_int_equal(rename(f->clients, moved), 0);
    assert_int_equal(wf_auth_reload(f->auth, err, sizeof err), WEFT_ENOTFOUND);
    assert_non_null(strstr(err, "clients"));
    assert_int_equal(wf_auth_key_count(f->auth, WF_AUTH_DOMAIN_CLIENTS), 1);

    zsock_destroy(&old);
    zsock_destroy(&cli);
    s_monitor_stop(srv2, &mon2);
    zsock_destroy(&srv2);
    zsock_destroy(&srv);
    zstr_free(&ep2);
    zstr_free(&ep);
}

static void
test_auth_null_mechanism_and_unconfigured_domain_are_refused(void **state)
{
    fx_t *f = *state;
    /* A socket in the clients domain without CURVE (a misconfiguration): ZAP sees NULL. */
    zsock_t *plain_srv = zsock_new(ZMQ_ROUTER);
    zsock_set_zap_domain(plain_srv, WF_AUTH_DOMAIN_CLIENTS);
    assert_true(zsock_bind(plain_srv, "tcp://127.0.0.1:*") > 0);
    char *pep = zsock_last_endpoint(plain_srv);
    zsock_t *pmon = s_monitor(plain_srv);
    zsock_t *plain_cli = zsock_new(ZMQ_DEALER);
    assert_int_equal(zsock_connect(plain_cli, "%s", pep), 0);
    uint32_t status = 0;
    assert_int_equal(s_expect_refused(plain_srv, pmon, plain_cli, &status),
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_int_equal(status, 400);

    /* A NULL-security peer of a CURVE server fails the handshake before ZAP.  Whichever side
     * reads the other's greeting first reports the mechanism mismatch; the other may see only
     * a disconnect, so watch both. */
    char *cep = NULL;
    zsock_t *csrv = s_server(f, WF_AUTH_DOMAIN_CLIENTS, &cep);
    zsock_t *cmon = s_monitor(csrv);
    zsock_t *naked = zsock_new(ZMQ_DEALER);
    zsock_t *nmon = s_monitor(naked);
    assert_int_equal(zsock_connect(naked, "%s", cep), 0);
    s_try_send(naked);
    assert_int_not_equal(s_monitor_wait_either(cmon, nmon, S_FAILED_EVENTS), 0);
    assert_int_equal(zsock_events(csrv) & ZMQ_POLLIN, 0);
    s_monitor_stop(naked, &nmon);

    /* A CURVE server in a domain wf_auth does not know refuses even a known key. */
    char *oep = NULL;
    zsock_t *osrv = s_server(f, "elsewhere", &oep);
    zsock_t *omon = s_monitor(osrv);
    zsock_t *ocli = s_client(f, f->client, oep);
    assert_int_equal(s_expect_refused(osrv, omon, ocli, &status), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_int_equal(status, 400);

    zsock_destroy(&ocli);
    s_monitor_stop(osrv, &omon);
    zsock_destroy(&osrv);
    zsock_destroy(&naked);
    s_monitor_stop(csrv, &cmon);
    zsock_destroy(&csrv);
    zsock_destroy(&plain_cli);
    s_monitor_stop(plain_srv, &pmon);
    zsock_destroy(&plain_srv);
    zstr_free(&oep);
    zstr_free(&cep);
    zstr_free(&pep);
}

/* Send one ZAP request straight to the handler; returns the reply (version, id, status, text,
 * user id, metadata). */
static zmsg_t *
s_zap(zsock_t *req, zmsg_t *request)
{
    assert_int_equal(zmsg_send(&request, req), 0);
    zmsg_t *reply = zmsg_recv(req);
    assert_non_null(reply);
    assert_int_equal(zmsg_size(reply), 6);
    return reply;
}

static void
s_expect_status(zmsg_t **reply_p, const char *id, const char *status, const char *user)
{
    zmsg_t *reply = *reply_p;
    assert_true(zframe_streq(zmsg_first(reply), "1.0"));
    assert_true(zframe_streq(zmsg_next(reply), id));
    assert_true(zframe_streq(zmsg_next(reply), status));
    zmsg_next(reply);
    assert_true(zframe_streq(zmsg_next(reply), user));
    zmsg_destroy(reply_p);
}

static void
test_auth_zap_handler_answers_malformed_requests_and_survives(void **state)
{
    fx_t *f = *state;
    zsock_t *req = zsock_new(ZMQ_REQ);
    zsock_set_rcvtimeo(req, WF_TEST_DEADLINE_MS);
    assert_int_equal(zsock_connect(req, "inproc://zeromq.zap.01"), 0);

    zmsg_t *m = zmsg_new();
    zmsg_addstr(m, "1.0");
    zmsg_addstr(m, "7");
    zmsg_t *reply = s_zap(req, m);
    s_expect_status(&reply, "7", "500", "");

    m = zmsg_new();
    zmsg_addstr(m, "2.0");
    zmsg_addstr(m, "8");
    zmsg_addstr(m, "clients");
    zmsg_addstr(m, "127.0.0.1");
    zmsg_addstr(m, "");
    zmsg_addstr(m, "CURVE");
    zmsg_addmem(m, zcert_public_key(f->client), 32);
    reply = s_zap(req, m);
    s_expect_status(&reply, "8", "500", "");

    m = zmsg_new();
    zmsg_addstr(m, "1.0");
    zmsg_addstr(m, "9");
    zmsg_addstr(m, "clients");
    zmsg_addstr(m, "127.0.0.1");
    zmsg_addstr(m, "");
    zmsg_addstr(m, "CURVE");
    zmsg_addmem(m, zcert_public_key(f->client), 5); /* a truncated key */
    reply = s_zap(req, m);
    s_expect_status(&reply, "9", "500", "");

    m = zmsg_new();
    zmsg_addstr(m, "1.0");
    zmsg_addstr(m, "10");
    zmsg_addstr(m, "clients");
    zmsg_addstr(m, "127.0.0.1");
    zmsg_addstr(m, "");
    zmsg_addstr(m, "CURVE"); /* and no key frame at all */
    reply = s_zap(req, m);
    s_expect_status(&reply, "10", "500", "");

    /* Still serving: a well-formed request is answered by the rules. */
    m = zmsg_new();
    zmsg_addstr(m, "1.0");
    zmsg_addstr(m, "11");
    zmsg_addstr(m, "clients");
    zmsg_addstr(m, "127.0.0.1");
    zmsg_addstr(m, "");
    zmsg_addstr(m, "CURVE");
    zmsg_addmem(m, zcert_public_key(f->client), 32);
    reply = s_zap(req, m);
    s_expect_status(&reply, "11", "200", "client");

    m = zmsg_new();
    zmsg_addstr(m, "1.0");
    zmsg_addstr(m, "12");
    zmsg_addstr(m, "workers");
    zmsg_addstr(m, "127.0.0.1");
    zmsg_addstr(m, "");
    zmsg_addstr(m, "CURVE");
    zmsg_addmem(m, zcert_public_key(f->client), 32);
    reply = s_zap(req, m);
    s_expect_status(&reply, "12", "400", "");
    zsock_destroy(&req);
}

static void
test_auth_curve_sockets_refuse_everyone_once_the_handler_is_gone(void **state)
{
    fx_t *f = *state;
    char *ep = NULL;
    zsock_t *srv = s_server(f, WF_AUTH_DOMAIN_CLIENTS, &ep);
    int enforce = 0;
    size_t len = sizeof enforce;
    if (zmq_getsockopt(zsock_resolve(srv), 93 /* ZMQ_ZAP_ENFORCE_DOMAIN */, &enforce, &len) != 0) {
        zsock_destroy(&srv);
        zstr_free(&ep);
        skip(); /* a libzmq without draft options: auth.h tells servers to keep wf_auth alive */
    }
    assert_int_equal(enforce, 1);
    zsock_t *mon = s_monitor(srv);
    wf_auth_stop(&f->auth);
    zsock_t *other = zsock_new(ZMQ_ROUTER);
    assert_int_equal(wf_auth_server_socket(other, f->server, WF_AUTH_DOMAIN_CLIENTS), WEFT_ESTATE);
    zsock_destroy(&other);

    zsock_t *cli = s_client(f, f->client, ep);
    assert_int_not_equal(s_expect_refused(srv, mon, cli, NULL), 0);

    zsock_destroy(&cli);
    s_monitor_stop(srv, &mon);
    zsock_destroy(&srv);
    zstr_free(&ep);
}

static void
test_auth_inproc_peers_skip_the_handshake(void **state)
{
    fx_t *f = *state;
    char *ep = NULL;
    zsock_t *srv = s_server(f, WF_AUTH_DOMAIN_WORKERS, &ep);
    char *inproc = wf_test_endpoint("inproc");
    assert_int_equal(zsock_bind(srv, "%s", inproc), 0);
    zsock_t *cli = zsock_new(ZMQ_DEALER); /* no keys at all */
    zsock_set_rcvtimeo(cli, WF_TEST_DEADLINE_MS);
    assert_int_equal(zsock_connect(cli, "%s", inproc), 0);
    assert_int_equal(zstr_send(cli, "embedded"), 0);
    zmsg_t *m = zmsg_recv(srv);
    assert_non_null(m);
    assert_true(zframe_streq(zmsg_last(m), "embedded"));
    zmsg_destroy(&m);
    zsock_destroy(&cli);
    zsock_destroy(&srv);
    free(inproc);
    zstr_free(&ep);
}

static void
test_auth_start_rejects_missing_dirs_and_a_second_handler(void **state)
{
    fx_t *f = *state;
    char err[512] = "";
    wf_auth_t *other = NULL;
    assert_int_equal(wf_auth_start(&other, f->workers, f->clients, err, sizeof err), WEFT_EBUSY);
    assert_null(other);
    assert_non_null(strstr(err, "zeromq.zap.01"));
    assert_int_equal(wf_auth_start(NULL, NULL, NULL, err, sizeof err), WEFT_EINVAL);

    wf_auth_stop(&f->auth);
    char missing[1200];
    snprintf(missing, sizeof missing, "%s/nope", f->dir);
    assert_int_equal(wf_auth_start(&f->auth, f->workers, missing, err, sizeof err), WEFT_ENOTFOUND);
    assert_null(f->auth);
    assert_non_null(strstr(err, "nope"));

    /* No directory: that domain admits no one. */
    assert_int_equal(wf_auth_start(&f->auth, NULL, f->clients, err, sizeof err), WEFT_OK);
    assert_int_equal(wf_auth_key_count(f->auth, WF_AUTH_DOMAIN_WORKERS), 0);
    assert_int_equal(wf_auth_key_count(f->auth, WF_AUTH_DOMAIN_CLIENTS), 1);
}

static void
s_write(const char *path, const char *text, size_t len)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    fclose(fp);
}
#define S_WRITE_LIT(path, lit) s_write((path), (lit), sizeof(lit) - 1)

static void
test_auth_key_dirs_skip_what_is_not_a_public_key(void **state)
{
    fx_t *f = *state;
    char path[1200];
    snprintf(path, sizeof path, "%s/README", f->workers);
    S_WRITE_LIT(path, "copy worker keys here\n");
    snprintf(path, sizeof path, "%s/garbage.pub", f->workers);
    S_WRITE_LIT(path, "\x00\xff\x01"
                      "curve\n    public-key = \"short\"\n");
    snprintf(path, sizeof path, "%s/zero.pub", f->workers);
    S_WRITE_LIT(path, "curve\n    public-key = \"0000000000000000000000000000000000000000\"\n");
    snprintf(path, sizeof path, "%s/.hidden.pub", f->workers);
    zcert_t *hidden = zcert_new();
    assert_int_equal(zcert_save_public(hidden, path), 0);
    zcert_destroy(&hidden);
    snprintf(path, sizeof path, "%s/subdir", f->workers);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/big.pub", f->workers);
    char *big = malloc(WF_AUTH_MAX_KEYFILE + 10);
    memset(big, '#', WF_AUTH_MAX_KEYFILE + 10);
    s_write(path, big, WF_AUTH_MAX_KEYFILE + 10);
    free(big);
    /* A secret key file is admitted (its public key is the key), with a warning. */
    zcert_t *second = zcert_new();
    snprintf(path, sizeof path, "%s/second", f->workers);
    assert_int_equal(zcert_save_secret(second, path), 0);
    zcert_destroy(&second);

    char err[512] = "";
    assert_int_equal(wf_auth_reload(f->auth, err, sizeof err), WEFT_OK);
    assert_int_equal(wf_auth_key_count(f->auth, WF_AUTH_DOMAIN_WORKERS), 2);
}

static void
test_auth_socket_setup_rejects_bad_arguments(void **state)
{
    fx_t *f = *state;
    zsock_t *s = zsock_new(ZMQ_DEALER);
    char long_domain[WF_AUTH_MAX_DOMAIN + 2];
    memset(long_domain, 'd', sizeof long_domain - 1);
    long_domain[sizeof long_domain - 1] = '\0';
    zcert_t *public_only =
        zcert_new_from(zcert_public_key(f->client), (const byte *)"\0\0\0\0\0\0\0\0"
                                                                  "\0\0\0\0\0\0\0\0"
                                                                  "\0\0\0\0\0\0\0\0"
                                                                  "\0\0\0\0\0\0\0\0");
    assert_int_equal(wf_auth_server_socket(NULL, f->server, "clients"), WEFT_EINVAL);
    assert_int_equal(wf_auth_server_socket(s, NULL, "clients"), WEFT_EINVAL);
    assert_int_equal(wf_auth_server_socket(s, f->server, ""), WEFT_EINVAL);
    assert_int_equal(wf_auth_server_socket(s, f->server, long_domain), WEFT_EINVAL);
    assert_int_equal(wf_auth_server_socket(s, public_only, "clients"), WEFT_EINVAL);

    const char *server_key = zcert_public_txt(f->server);
    assert_int_equal(wf_auth_client_socket(s, NULL, f->client), WEFT_EINVAL);
    assert_int_equal(wf_auth_client_socket(s, "too short", f->client), WEFT_EINVAL);
    assert_int_equal(
        wf_auth_client_socket(s, "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~", f->client),
        WEFT_EINVAL);
    assert_int_equal(
        wf_auth_client_socket(s, "0000000000000000000000000000000000000000", f->client),
        WEFT_EINVAL);
    assert_int_equal(wf_auth_client_socket(s, server_key, public_only), WEFT_EINVAL);
    assert_int_equal(wf_auth_client_socket(s, server_key, NULL), WEFT_EINVAL);
    assert_int_equal(wf_auth_client_socket(s, server_key, f->client), WEFT_OK);

    char out[WF_AUTH_KEY_Z85_LEN + 1];
    char err[512];
    assert_int_equal(wf_auth_public_key(server_key, out, err, sizeof err), WEFT_OK);
    assert_string_equal(out, server_key);
    char missing[1200];
    snprintf(missing, sizeof missing, "%s/no-such.pub", f->dir);
    assert_int_equal(wf_auth_public_key(missing, out, err, sizeof err), WEFT_ENOTFOUND);
    zcert_destroy(&public_only);
    zsock_destroy(&s);
}

static void
test_auth_bind_is_local_table(void **state)
{
    (void)state;
    static const struct {
        const char *ep;
        bool local;
    } table[] = {
        {"tcp://127.0.0.1:5555", true},
        {"tcp://127.0.0.1:*", true},
        {"tcp://127.1.2.3:80", true},
        {"tcp://localhost:5555", true},
        {"tcp://LOCALHOST:5555", true},
        {"tcp://[::1]:5555", true},
        {"tcp://[::1]:*", true},
        {"ipc:///tmp/weft.sock", true},
        {"ipc://@abstract", true},
        {"inproc://weft-board", true},
        {"tcp://*:5555", false},
        {"tcp://0.0.0.0:5555", false},
        {"tcp://[::]:5555", false},
        {"tcp://192.168.1.10:5555", false},
        {"tcp://10.0.0.1:5555", false},
        {"tcp://eth0:5555", false},
        {"tcp://lo:5555", false},
        {"tcp://example.com:5555", false},
        {"tcp://127.0.0.1.example.com:5555", false},
        {"tcp://localhost.example.com:5555", false},
        {"tcp://127.0.0.1", false},
        {"tcp://127.0.0.1:", false},
        {"tcp://127.0.0.1:80:90", false},
        {"tcp://127.0.0.1:5555;10.0.0.1:5555", false},
        {"tcp://10.0.0.1:1;127.0.0.1:5555", false},
        {"tcp://[::1]5555", false},
        {"tcp://[::1:5555", false},
        {"tcp://[::ffff:10.0.0.1]:5555", false},
        {"tcp://0177.0.0.1:5555", false},
        {"ws://127.0.0.1:5555", false},
        {"pgm://127.0.0.1;239.192.1.1:5555", false},
        {"udp://127.0.0.1:5555", false},
        {"ipc://", false},
        {"inproc://", false},
        {"", false},
        {NULL, false},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (wf_bind_is_local(table[i].ep) != table[i].local)
            fail_msg("wf_bind_is_local(\"%s\") should be %s", table[i].ep ? table[i].ep : "(null)",
                     table[i].local ? "true" : "false");
    }
}

static void
test_auth_keygen_writes_a_usable_key_pair(void **state)
{
    fx_t *f = *state;
    char keys[1200], name[1300], pub[1400];
    snprintf(keys, sizeof keys, "%s/keys", f->dir);
    assert_int_equal(mkdir(keys, 0700), 0);
    snprintf(name, sizeof name, "%s/alice", keys);
    snprintf(pub, sizeof pub, "%s.pub", name);

    char *argv1[] = {"keygen", name, NULL};
    assert_int_equal(weft_cmd_keygen(2, argv1), 0);
    struct stat st;
    assert_int_equal(stat(name, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    zcert_t *secret = zcert_load(name);
    zcert_t *public = zcert_load(pub);
    assert_non_null(secret);
    assert_non_null(public);
    assert_string_equal(zcert_public_txt(secret), zcert_public_txt(public));
    assert_string_not_equal(zcert_secret_txt(secret), "0000000000000000000000000000000000000000");
    assert_string_equal(zcert_secret_txt(public), "0000000000000000000000000000000000000000");
    assert_string_equal(zcert_meta(secret, "name"), "alice");
    char first[WF_AUTH_KEY_Z85_LEN + 1];
    snprintf(first, sizeof first, "%s", zcert_public_txt(public));
    zcert_destroy(&secret);
    zcert_destroy(&public);

    /* Not replaced without --force; replaced with it. */
    assert_int_equal(weft_cmd_keygen(2, argv1), 1);
    char out[WF_AUTH_KEY_Z85_LEN + 1], err[512] = "";
    assert_int_equal(wf_auth_public_key(pub, out, err, sizeof err), WEFT_OK);
    assert_string_equal(out, first);
    char *argv2[] = {"keygen", "--force", name, NULL};
    assert_int_equal(weft_cmd_keygen(3, argv2), 0);
    assert_int_equal(wf_auth_public_key(pub, out, err, sizeof err), WEFT_OK);
    assert_string_not_equal(out, first);

    /* Usage errors and --help. */
    char *argv3[] = {"keygen", NULL};
    assert_int_equal(weft_cmd_keygen(1, argv3), 2);
    char *argv4[] = {"keygen", pub, NULL};
    assert_int_equal(weft_cmd_keygen(2, argv4), 2);
    char *argv5[] = {"keygen", "--help", NULL};
    assert_int_equal(weft_cmd_keygen(2, argv5), 0);

    /* The secret file loads as a key pair; the public one does not; loose modes are refused. */
    zcert_t *mine = NULL;
    assert_int_equal(wf_auth_cert_load(&mine, name, true, err, sizeof err), WEFT_OK);
    assert_string_equal(zcert_public_txt(mine), out);
    zcert_t *nope = NULL;
    assert_int_equal(wf_auth_cert_load(&nope, pub, true, err, sizeof err), WEFT_EINVAL);
    assert_null(nope);
    assert_int_equal(chmod(name, 0644), 0);
    assert_int_equal(wf_auth_cert_load(&nope, name, true, err, sizeof err), WEFT_EINVAL);
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(chmod(name, 0600), 0);

    /* End to end: alice.pub into clients/, reload, and alice's key pair gets in. */
    char admitted[1200];
    snprintf(admitted, sizeof admitted, "%s/alice.pub", f->clients);
    assert_int_equal(rename(pub, admitted), 0);
    assert_int_equal(wf_auth_reload(f->auth, err, sizeof err), WEFT_OK);
    char *ep = NULL;
    zsock_t *srv = s_server(f, WF_AUTH_DOMAIN_CLIENTS, &ep);
    zsock_t *cli = s_client(f, mine, ep);
    s_round_trip(srv, cli, "alice");
    zsock_destroy(&cli);
    zsock_destroy(&srv);
    zstr_free(&ep);
    zcert_destroy(&mine);
}

int
main(void)
{
    if (!zsys_has_curve()) {
        fprintf(stderr, "auth_test: this libzmq has no CURVE support\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_auth_known_client_key_is_admitted, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_auth_unknown_key_is_refused_and_logged, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(
            test_auth_worker_key_is_refused_on_clients_and_admitted_on_workers, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(test_auth_reload_admits_added_keys_and_drops_removed_ones,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_auth_null_mechanism_and_unconfigured_domain_are_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_auth_zap_handler_answers_malformed_requests_and_survives, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_auth_curve_sockets_refuse_everyone_once_the_handler_is_gone, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_auth_inproc_peers_skip_the_handshake, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_auth_start_rejects_missing_dirs_and_a_second_handler,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_auth_key_dirs_skip_what_is_not_a_public_key, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_auth_socket_setup_rejects_bad_arguments, s_setup,
                                        s_teardown),
        cmocka_unit_test(test_auth_bind_is_local_table),
        cmocka_unit_test_setup_teardown(test_auth_keygen_writes_a_usable_key_pair, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
