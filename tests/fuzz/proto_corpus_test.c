/*
 * proto_corpus_test.c -- replays the fuzz corpus through LLVMFuzzerTestOneInput as a plain
 * ctest, so every build checks the seeds (and any crash reproducer added to the corpus) without
 * needing clang or libFuzzer.
 *
 * Reads every regular file in the directory named by $WEFT_FUZZ_CORPUS; fails if the variable is
 * unset, the directory cannot be read or holds no file.  A broken invariant aborts inside the
 * target.  Files are small (seeds and reproducers), so each is read whole.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads path whole into a heap buffer; returns false if it cannot. */
static bool
s_read_file(const char *path, uint8_t **buf_p, size_t *len_p)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        abort();
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf)
                abort();
        }
    }
    bool ok = !ferror(f);
    fclose(f);
    if (!ok) {
        free(buf);
        return false;
    }
    *buf_p = buf;
    *len_p = len;
    return true;
}

int
main(void)
{
    const char *dir = getenv("WEFT_FUZZ_CORPUS");
    if (!dir || !*dir) {
        fprintf(stderr, "proto_corpus_test: set WEFT_FUZZ_CORPUS to the corpus directory\n");
        return 1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return 1;
    }
    unsigned count = 0, failed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        uint8_t *buf;
        size_t len;
        if (!s_read_file(path, &buf, &len)) {
            fprintf(stderr, "proto_corpus_test: cannot read %s\n", path);
            failed++;
            continue;
        }
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        count++;
    }
    closedir(d);
    printf("proto_corpus_test: %u inputs from %s\n", count, dir);
    if (count == 0) {
        fprintf(stderr, "proto_corpus_test: the corpus is empty\n");
        return 1;
    }
    return failed ? 1 : 0;
}
