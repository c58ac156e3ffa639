/*
 * layering_test.c -- the dependency rule of docs/architecture.md, checked on the #include lines:
 * proto knows nothing of the engine or workers; the store knows no sockets and no board; the
 * board, dispatcher and runtime know no LMDB and no sockets; workers know proto and the public
 * API only; base (the joinable actor) knows sockets and nothing of weft.  Cheap and explicit: a new include that breaks a layer fails the suite.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

typedef struct rule {
    const char *file;       /* relative to the source dir */
    const char *forbidden[12];
} rule_t;

#define ENGINE_INTERNALS "runtime.h", "board.h", "dispatcher.h", "server.h", "store.h", "schema.h", "graph.h"

static const rule_t s_rules[] = {
    {"base/actor.h", {"lmdb.h", "msgpack.h", "weft.h", "proto.h", ENGINE_INTERNALS}},
    {"base/actor.c", {"lmdb.h", "msgpack.h", "weft.h", "proto.h", ENGINE_INTERNALS}},
    {"proto/proto.h", {"czmq.h", "zmq.h", "lmdb.h", ENGINE_INTERNALS}},
    {"proto/proto.c", {"czmq.h", "zmq.h", "lmdb.h", ENGINE_INTERNALS}},
    {"proto/msgpack_safe.c", {"czmq.h", "zmq.h", "lmdb.h", ENGINE_INTERNALS}},
    {"engine/store.h", {"czmq.h", "zmq.h", "board.h", "server.h", "runtime.h", "dispatcher.h"}},
    {"engine/store.c", {"czmq.h", "zmq.h", "board.h", "server.h", "runtime.h", "dispatcher.h"}},
    {"engine/schema.h", {"czmq.h", "zmq.h", "lmdb.h", "board.h", "server.h", "runtime.h"}},
    {"engine/graph.c", {"czmq.h", "zmq.h", "lmdb.h", "store.h", "board.h", "server.h"}},
    {"engine/deadline.c", {"czmq.h", "zmq.h", "lmdb.h", "store.h", "board.h", "server.h"}},
    {"engine/runtime.h", {"czmq.h", "zmq.h", "lmdb.h", "store.h", "server.h"}},
    {"engine/runtime.c", {"czmq.h", "zmq.h", "lmdb.h", "store.h", "server.h"}},
    {"engine/dispatcher.c", {"czmq.h", "zmq.h", "lmdb.h", "store.h", "server.h"}},
    {"engine/board.h", {"zmq.h", "lmdb.h", "store.h", "server.h"}},
    {"engine/board.c", {"zmq.h", "lmdb.h", "store.h", "server.h"}},
    {"proto/client.h", {"czmq.h", "zmq.h", "lmdb.h", ENGINE_INTERNALS}},
    {"proto/client.c", {"czmq.h", "zmq.h", "lmdb.h", ENGINE_INTERNALS}},
    {"engine/auth.c", {"lmdb.h", "store.h", "board.h", "runtime.h", "dispatcher.h"}},
    {"engine/info.c", {"czmq.h", "zmq.h", "board.h", "server.h", "runtime.h"}},
    {"workers/consumer.c", {"lmdb.h", "auth.h", ENGINE_INTERNALS}},
    {"workers/consumer.h", {"lmdb.h", ENGINE_INTERNALS}},
    {"workers/shell.c", {"lmdb.h", "czmq.h", "auth.h", ENGINE_INTERNALS}},
    {"workers/shell.h", {"lmdb.h", "czmq.h", ENGINE_INTERNALS}},
    /* The spawn server runs in a forked child: system headers only, nothing that locks. */
    {"workers/spawner.c", {"lmdb.h", "czmq.h", "zmq.h", "msgpack.h", "proto.h", ENGINE_INTERNALS}},
    {"workers/spawner.h", {"lmdb.h", "czmq.h", "zmq.h", "msgpack.h", "proto.h", ENGINE_INTERNALS}},
    {"proto/mp_reader.h", {"czmq.h", "zmq.h", "lmdb.h", "msgpack.h", ENGINE_INTERNALS}},
    {"engine/subs.c", {"czmq.h", "zmq.h", "lmdb.h", "store.h", "board.h", "runtime.h"}},
};

static void
test_layering_includes_follow_the_layers(void **state)
{
    (void)state;
    int violations = 0;
    for (size_t i = 0; i < sizeof s_rules / sizeof s_rules[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", WEFT_SOURCE_DIR, s_rules[i].file);
        FILE *fp = fopen(path, "r");
        if (!fp) {
            fprintf(stderr, "layering: cannot read %s\n", path);
            violations++;
            continue;
        }
        char line[1024];
        int lineno = 0;
        while (fgets(line, sizeof line, fp)) {
            lineno++;
            const char *p = line;
            while (*p == ' ' || *p == '\t')
                p++;
            if (strncmp(p, "#include", 8) != 0)
                continue;
            for (int k = 0; k < 12 && s_rules[i].forbidden[k]; k++) {
                char quoted[64], angled[64];
                snprintf(quoted, sizeof quoted, "\"%s\"", s_rules[i].forbidden[k]);
                snprintf(angled, sizeof angled, "<%s>", s_rules[i].forbidden[k]);
                if (strstr(p, quoted) || strstr(p, angled)) {
                    fprintf(stderr, "layering: %s:%d includes %s, which its layer must not know\n",
                            s_rules[i].file, lineno, s_rules[i].forbidden[k]);
                    violations++;
                }
            }
        }
        fclose(fp);
    }
    assert_int_equal(violations, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layering_includes_follow_the_layers),
    };
    return cmocka_run_group_tests_name("layering", tests, NULL, NULL);
}
