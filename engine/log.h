/*
 * log.h -- logging with stable message IDs ("WEFT-PROTO-SIZE") so an operator can grep for a
 * class of event.  Thread-safe (one fprintf per line).  Level set per process.
 */
#ifndef WF_LOG_H
#define WF_LOG_H

#include <stdint.h>

enum { WF_LOG_QUIET = 0, WF_LOG_ERROR = 1, WF_LOG_WARN = 2, WF_LOG_INFO = 3, WF_LOG_DEBUG = 4 };

void wf_log_set_level(int level);
int wf_log_level(void);
void wf_log(int level, const char *id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A rate limit for lines a peer can trigger at will (dropped frames): at most
 * WF_LOG_BURST lines per second per limiter; when a new second starts, one line says how many
 * were suppressed.  One static limiter per call site. */
#define WF_LOG_BURST 10
typedef struct wf_log_limit {
    int64_t window; /* the second (ms / 1000) being counted */
    int count;
    int suppressed;
} wf_log_limit_t;
/* True if a line may be logged now (now: monotonic ms). */
int wf_log_allow(wf_log_limit_t *lim, int64_t now, const char *id);
#define wf_log_warn_limited(lim, now, id, ...)                                                     \
    do {                                                                                           \
        if (wf_log_allow((lim), (now), (id)))                                                      \
            wf_log_warn(id, __VA_ARGS__);                                                          \
    } while (0)

#define wf_log_error(id, ...) wf_log(WF_LOG_ERROR, id, __VA_ARGS__)
#define wf_log_warn(id, ...) wf_log(WF_LOG_WARN, id, __VA_ARGS__)
#define wf_log_info(id, ...) wf_log(WF_LOG_INFO, id, __VA_ARGS__)
#define wf_log_debug(id, ...) wf_log(WF_LOG_DEBUG, id, __VA_ARGS__)

#endif
