/*
 * cmd_serve.c -- `weft serve`: the engine as a long-lived server.  Three endpoints:
 *   board   (workers connect: `weft worker --connect`)           default tcp://127.0.0.1:7400
 *   client  (submissions and control: `weft submit --server`)   default tcp://127.0.0.1:7401
 *   events  (PUB: live events for `weft watch` and scripts)      default tcp://127.0.0.1:7402
 * --bind tcp://HOST:PORT moves all three to HOST and PORT, PORT+1, PORT+2.  SIGTERM or SIGINT
 * stops it cleanly: running jobs stay leased to their workers, which re-report them when the
 * server comes back (docs/deployment.md).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "proto.h"
#include "shell.h"
#include "spawner.h"

static void
s_help(void)
{
    printf("usage: weft serve --state DIR [OPTIONS]\n"
           "\n"
           "Run the engine as a server: workers connect to the board endpoint, clients submit\n"
           "and steer pipelines on the client endpoint, and events are published for watchers.\n"
           "\n"
           "      --state DIR        the state directory (required)\n"
           "      --bind tcp://HOST:PORT\n"
           "                         board on PORT, client on PORT+1, events on PORT+2\n"
           "                         (default tcp://127.0.0.1:7400)\n"
           "      --board EP         the board endpoint alone\n"
           "      --client EP        the client endpoint alone\n"
           "      --events EP        the events endpoint alone\n"
           "      --local-slots N    also run N shell slots in this process (default 0)\n"
           "      --heartbeat MS     heartbeat interval with workers (default 1000)\n"
           "      --durability LEVEL full (default: fsync, survives a power loss) or process\n"
           "                         (no fsync: survives the server crashing, not the OS)\n"
           "      --keys DIR         CURVE: DIR/server is this server's secret cert (weft keygen),\n"
           "                         DIR/workers/ and DIR/clients/ hold the admitted public keys;\n"
           "                         SIGHUP re-reads them.  Needed to bind beyond loopback.\n"
           "  -v, --verbose          log joins, losses and dropped messages\n"
           "  -h, --help             this text\n"
           "\n"
           "Without --keys only loopback endpoints are bound (docs/security.md).\n");
}

/* Split tcp://HOST:PORT into "tcp://HOST:" and PORT. */
static bool
s_split_bind(const char *bind, char *prefix, size_t cap, long *port)
{
    const char *colon = strrchr(bind, ':');
    if (strncmp(bind, "tcp://", 6) != 0 || !colon || colon < bind + 6)
        return false;
    char *end = NULL;
    errno = 0;
    *port = strtol(colon + 1, &end, 10);
    if (errno || !end || *end || *port < 1 || *port > 65533)
        return false;
    size_t n = (size_t)(colon - bind) + 1;
    if (n >= cap)
        return false;
    memcpy(prefix, bind, n);
    prefix[n] = 0;
    return true;
}

int
weft_cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},    {"bind", required_argument, NULL, 'b'},
        {"board", required_argument, NULL, 'B'},    {"client", required_argument, NULL, 'C'},
        {"events", required_argument, NULL, 'E'},   {"local-slots", required_argument, NULL, 'l'},
        {"heartbeat", required_argument, NULL, 'H'}, {"verbose", no_argument, NULL, 'v'},
        {"keys", required_argument, NULL, 'k'},    {"durability", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *state = NULL, *bind = "tcp://127.0.0.1:7400";
    const char *board = NULL, *client = NULL, *events = NULL, *keys = NULL;
    long local_slots = 0, heartbeat = 1000;
    int verbose = 0, durability = WEFT_DURABLE_FULL, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 's': state = optarg; break;
        case 'b': bind = optarg; break;
        case 'B': board = optarg; break;
        case 'C': client = optarg; break;
        case 'E': events = optarg; break;
        case 'l':
            local_slots = strtol(optarg, &end, 10);
            if (!end || *end || local_slots < 0 || local_slots > 4096) {
                fprintf(stderr, "weft serve: --local-slots wants 0..4096\n");
                return WF_EXIT_USAGE;
            }
            break;
        case 'H':
            heartbeat = strtol(optarg, &end, 10);
            if (!end || *end || heartbeat < 10 || heartbeat > 3600000) {
                fprintf(stderr, "weft serve: --heartbeat wants 10..3600000 ms\n");
                return WF_EXIT_USAGE;
            }
            break;
        case 'v': verbose = 1; break;
        case 'k': keys = optarg; break;
        case 'D':
            if (!wf_cli_durability_ok("serve", optarg, &durability))
                return WF_EXIT_USAGE;
            break;
        case 'h': s_help(); return WF_EXIT_OK;
        default: return WF_EXIT_USAGE;
        }
    }
    if (!state || optind != argc) {
        fprintf(stderr, "usage: weft serve --state DIR [OPTIONS]  (weft serve --help)\n");
        return WF_EXIT_USAGE;
    }
    char prefix[256], ep_board[300], ep_client[300], ep_events[300];
    long port = 0;
    if (!s_split_bind(bind, prefix, sizeof prefix, &port)) {
        fprintf(stderr, "weft serve: --bind wants tcp://HOST:PORT, got '%s'\n", bind);
        return WF_EXIT_USAGE;
    }
    snprintf(ep_board, sizeof ep_board, "%s", board ? board : "");
    snprintf(ep_client, sizeof ep_client, "%s", client ? client : "");
    snprintf(ep_events, sizeof ep_events, "%s", events ? events : "");
    if (!board)
        snprintf(ep_board, sizeof ep_board, "%s%ld", prefix, port);
    if (!client)
        snprintf(ep_client, sizeof ep_client, "%s%ld", prefix, port + 1);
    if (!events)
        snprintf(ep_events, sizeof ep_events, "%s%ld", prefix, port + 2);
    /* Signals are taken synchronously by this thread; every thread weft starts inherits the
     * blocked mask, so SIGTERM reaches sigwait and nothing else. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    weft_options_t *o = NULL;
    weft_options_new(&o);
    weft_options_set_str(o, WEFT_OPT_BOARD_BIND, ep_board);
    weft_options_set_str(o, WEFT_OPT_CLIENT_BIND, ep_client);
    weft_options_set_str(o, WEFT_OPT_EVENTS_BIND, ep_events);
    weft_options_set_int(o, WEFT_OPT_HEARTBEAT_MS, heartbeat);
    weft_options_set_int(o, WEFT_OPT_LOG_LEVEL, verbose ? 3 : 2);
    weft_options_set_int(o, WEFT_OPT_DURABILITY, durability);
    if (keys)
        weft_options_set_str(o, WEFT_OPT_CURVE_KEYS, keys);
    if (local_slots > 0)
        wf_spawner_prestart(); /* before the engine grows this process (spawner.h) */
    weft_engine_t *eng = NULL;
    char err[512] = "";
    int rc = weft_engine_open(&eng, state, o, err, sizeof err);
    weft_options_destroy(&o);
    if (rc != WEFT_OK) {
        fprintf(stderr, "weft serve: %s\n", err[0] ? err : weft_strerror(rc));
        return rc == WEFT_EINVAL || rc == WEFT_ENOTFOUND ? WF_EXIT_USAGE : WF_EXIT_FAILED;
    }
    char *logs = wf_cli_logs_dir(state);
    static wf_shell_opts_t shell;
    shell.log_dir = logs;
    if (local_slots > 0) {
        rc = wf_cli_start_shell_slots(eng, (unsigned)local_slots, &shell);
        if (rc != WEFT_OK)
            fprintf(stderr, "weft serve: cannot start local slots: %s\n", weft_strerror(rc));
    }
    printf("weft serve: state %s\n  board  %s\n  client %s\n  events %s\n", state, ep_board,
           ep_client, ep_events);
    if (local_slots > 0)
        printf("  %ld local shell slot%s\n", local_slots, local_slots == 1 ? "" : "s");
    fflush(stdout);
    if (keys)
        printf("  CURVE keys in %s (workers/, clients/); SIGHUP re-reads them\n", keys);
    fflush(stdout);
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
        rc = weft_engine_reload_keys(eng);
        printf("weft serve: SIGHUP: %s\n",
               rc == WEFT_OK ? "keys reloaded" : rc == WEFT_ESTATE ? "no CURVE keys to reload"
                                                                  : weft_strerror(rc));
        fflush(stdout);
    }
    printf("weft serve: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(stdout);
    weft_engine_close(&eng); /* stops the local slots first: their jobs go back to the board */
    free(logs);
    return WF_EXIT_OK;
}
