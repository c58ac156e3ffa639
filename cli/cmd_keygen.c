/*
 * cmd_keygen.c -- `weft keygen [--force] NAME`: make a CURVE key pair for a weft server, worker
 * or client.  Writes NAME (the secret key file, with the public key too, mode 0600) and NAME.pub
 * (the public key, for the server's workers/ or clients/ key directory), both with zcert_save_*,
 * so czmq's zcert_load and weft's wf_auth_cert_load read them.
 *
 * Invariants: an existing NAME or NAME.pub is never overwritten without --force; with --force
 * the old files are removed first, so the new secret file is created under a private umask
 * rather than inheriting the old file's mode; the secret file ends at mode 0600 either way.
 * If writing fails half-way, neither file is left behind.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

#include "cli.h"

/* Declared here until cli.h lists it (the integrator adds it to main.c's verb table). */

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: weft keygen [--force] NAME\n"
            "\n"
            "Make a CURVE key pair for a weft server, worker or client.  Writes NAME, the\n"
            "secret key file (mode 0600: keep it private), and NAME.pub, the public key.\n"
            "\n"
            "To admit a worker, copy its NAME.pub into the server's workers/ key directory;\n"
            "to admit a client, into its clients/ key directory.  Give workers and clients\n"
            "the server's own NAME.pub (or the public key printed here).  See docs/security.md.\n"
            "\n"
            "  -f, --force   replace NAME and NAME.pub if they exist\n"
            "  -h, --help    print this help\n"
            "exit status: 0 written, 1 not written (files exist, I/O error), 2 bad arguments\n");
}

static bool
s_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int
weft_cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool force = false;
    int c;
    optind = 0; /* full getopt reset: verbs may run more than once in one process (tests) */
    while ((c = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            force = true;
            break;
        case 'h':
            s_usage(stdout);
            return WF_EXIT_OK;
        default:
            s_usage(stderr);
            return WF_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !*argv[optind]) {
        s_usage(stderr);
        return WF_EXIT_USAGE;
    }
    const char *name = argv[optind];
    size_t len = strlen(name);
    if (name[len - 1] == '/') {
        fprintf(stderr, "weft keygen: NAME '%s' is a directory; give a file name\n", name);
        return WF_EXIT_USAGE;
    }
    if (len >= 4 && strcmp(name + len - 4, ".pub") == 0) {
        fprintf(stderr,
                "weft keygen: NAME is the secret key file; NAME.pub is written beside it "
                "(give '%.*s')\n",
                (int)(len - 4), name);
        return WF_EXIT_USAGE;
    }
    /* czmq builds file names in 256-byte buffers; keep well inside them. */
    if (len > 200) {
        fprintf(stderr, "weft keygen: NAME is too long (%zu characters, at most 200)\n", len);
        return WF_EXIT_USAGE;
    }
    char *pub = zsys_sprintf("%s.pub", name);
    if (!pub)
        abort();
    int rc = WF_EXIT_FAILED;
    zcert_t *cert = NULL;
    bool had_name = s_exists(name), had_pub = s_exists(pub);
    if ((had_name || had_pub) && !force) {
        fprintf(stderr, "weft keygen: %s exists; not replaced (use --force to replace %s and %s)\n",
                had_name ? name : pub, name, pub);
        goto cleanup;
    }
    if ((had_name && unlink(name) != 0) || (had_pub && unlink(pub) != 0)) {
        fprintf(stderr, "weft keygen: cannot replace %s: %s\n", had_name ? name : pub,
                strerror(errno));
        goto cleanup;
    }

    cert = zcert_new();
    if (!cert) {
        fprintf(stderr, "weft keygen: cannot make a key pair (is libzmq built with CURVE?)\n");
        goto cleanup;
    }
    char *copy = strdup(name);
    if (!copy)
        abort();
    zcert_set_meta(cert, "name", "%s", basename(copy));
    free(copy);
    zcert_set_meta(cert, "created-by", "weft keygen");

    if (zcert_save_secret(cert, name) != 0 || chmod(name, 0600) != 0) {
        fprintf(stderr, "weft keygen: cannot write %s: %s\n", name, strerror(errno));
        unlink(name);
        goto cleanup;
    }
    if (zcert_save_public(cert, pub) != 0 || chmod(pub, 0644) != 0) {
        fprintf(stderr, "weft keygen: cannot write %s: %s\n", pub, strerror(errno));
        unlink(pub);
        unlink(name);
        goto cleanup;
    }
    printf("public key: %s\n"
           "wrote %s (secret: keep it private) and %s (public)\n"
           "To admit this key, copy %s into the server's workers/ key directory (a worker)\n"
           "or its clients/ key directory (a client).  If this is the server's key pair, give\n"
           "%s to its workers and clients instead.\n",
           zcert_public_txt(cert), name, pub, pub, pub);
    rc = WF_EXIT_OK;
cleanup:
    zcert_destroy(&cert);
    zstr_free(&pub);
    return rc;
}
