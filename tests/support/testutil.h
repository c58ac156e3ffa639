/*
 * testutil.h -- helpers shared by the tests: fresh temporary directories, unique endpoints,
 * and waiting on a condition with a generous deadline (tests never sleep for timing).
 * Include after cmocka's prerequisites (stdarg.h, stddef.h, setjmp.h, stdint.h).
 */
#ifndef WF_TESTUTIL_H
#define WF_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A new empty directory under $TMPDIR (or /tmp); returns a heap path (free it).  The directory
 * and everything in it is removed by wf_test_rmtree. */
char *wf_test_tmpdir(const char *tag);
void wf_test_rmtree(const char *path);
/* A unique endpoint, e.g. "inproc://weft-test-<pid>-<n>" or "ipc:///tmp/weft-<pid>-<n>.sock". */
char *wf_test_endpoint(const char *transport);
/* Poll cond(arg) every few ms until true or timeout_ms passes; returns its last value. */
bool wf_test_wait(bool (*cond)(void *arg), void *arg, int timeout_ms);
/* The generous deadline for "this must happen": 60 s (tests wait on events, not time). */
#define WF_TEST_DEADLINE_MS 60000
/* Monotonic milliseconds. */
int64_t wf_test_now_ms(void);

#ifdef MDB_VERSION_MAJOR /* <lmdb.h> included before this header */
/* The store's database `db` in `dir`, opened with LMDB itself to plant or read raw bytes (no
 * store may hold the directory), in a new transaction (txn_flags 0 or MDB_RDONLY; dbi_flags 0
 * or MDB_CREATE).  0, or LMDB's error with nothing left open.  The caller ends the transaction
 * and closes *env. */
static inline int
wf_test_lmdb_begin(const char *dir, const char *db, unsigned txn_flags, unsigned dbi_flags,
                   MDB_env **env, MDB_txn **txn, MDB_dbi *dbi)
{
    int rc = mdb_env_create(env);
    if (rc)
        return rc;
    if ((rc = mdb_env_set_maxdbs(*env, 16)) || (rc = mdb_env_open(*env, dir, 0, 0600)) ||
        (rc = mdb_txn_begin(*env, NULL, txn_flags, txn))) {
        mdb_env_close(*env);
        return rc;
    }
    if ((rc = mdb_dbi_open(*txn, db, dbi_flags, dbi))) {
        mdb_txn_abort(*txn);
        mdb_env_close(*env);
    }
    return rc;
}
#endif

#endif
