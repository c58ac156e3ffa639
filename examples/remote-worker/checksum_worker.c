/*
 * checksum_worker.c -- a C program that serves its own job type to a weft server.
 *
 * `weft worker` serves shell jobs; a program that embeds libweft can serve any type it has a
 * handler for, next to them.  This one serves "checksum": the job's payload is the msgpack map a
 * workflow file gives in `with:` ({text: "..."} here), and the result is the FNV-1a digest of
 * the text, in hex.  Run it against a server:
 *
 *     weft serve --state /tmp/srv &
 *     checksum_worker tcp://127.0.0.1:7400 &
 *     weft submit examples/remote-worker/checksums.yml --wait
 *
 * It uses the public API only (include/weft/weft.h) and msgpack-c to read the payload.
 */
#include <signal.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <weft/weft.h>

/* Find the string under `key` in a msgpack map; NULL if absent. */
static const char *
s_map_str(const msgpack_object *map, const char *key, size_t *len)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0 &&
            kv->val.type == MSGPACK_OBJECT_STR) {
            *len = kv->val.via.str.size;
            return kv->val.via.str.ptr;
        }
    }
    return NULL;
}

static int
checksum(weft_job_t *job, void *arg)
{
    (void)arg;
    size_t plen = 0;
    const void *payload = weft_job_payload(job, &plen);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int rc = 2;
    if (payload && msgpack_unpack_next(&up, payload, plen, &off) == MSGPACK_UNPACK_SUCCESS) {
        size_t len = 0;
        const char *text = s_map_str(&up.data, "text", &len);
        if (text) {
            uint64_t h = 14695981039346656037ull;
            for (size_t i = 0; i < len; i++) {
                h ^= (unsigned char)text[i];
                h *= 1099511628211ull;
                if (i % 4096 == 0 && weft_job_cancelled(job))
                    break;
            }
            char hex[17];
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
            weft_job_set_result(job, hex, 16);
            printf("checksum_worker: %s = %s\n", weft_job_id(job), hex);
            fflush(stdout);
            rc = 0;
        }
    }
    if (rc != 0)
        weft_job_set_error(job, "payload is not a map with a 'text' string (give it in with:)");
    msgpack_unpacked_destroy(&up);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: checksum_worker ENDPOINT [SLOTS]\n");
        return 2;
    }
    unsigned slots = argc > 2 ? (unsigned)atoi(argv[2]) : 2;
    /* Take SIGINT/SIGTERM here, synchronously; the worker's threads inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    weft_worker_t *w = NULL;
    int rc = weft_worker_new(&w, argv[1], "checksum-worker");
    if (rc == WEFT_OK)
        rc = weft_worker_register(w, "checksum", checksum, NULL);
    if (rc == WEFT_OK)
        rc = weft_worker_start(w, slots ? slots : 1);
    if (rc != WEFT_OK) {
        fprintf(stderr, "checksum_worker: %s\n", weft_strerror(rc));
        weft_worker_destroy(&w);
        return 1;
    }
    printf("checksum_worker: serving type checksum to %s with %u slots\n", argv[1], slots);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    weft_worker_destroy(&w); /* running jobs are stopped and handed back */
    return 0;
}
