/*
 * log.h -- logging with stable message IDs ("WEFT-PROTO-SIZE") so an operator can grep for a
 * class of event.  Thread-safe (one fprintf per line).  Level set per process.
 */
#ifndef WF_LOG_H
#define WF_LOG_H

enum { WF_LOG_QUIET = 0, WF_LOG_ERROR = 1, WF_LOG_WARN = 2, WF_LOG_INFO = 3, WF_LOG_DEBUG = 4 };

void wf_log_set_level(int level);
int wf_log_level(void);
void wf_log(int level, const char *id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define wf_log_error(id, ...) wf_log(WF_LOG_ERROR, id, __VA_ARGS__)
#define wf_log_warn(id, ...) wf_log(WF_LOG_WARN, id, __VA_ARGS__)
#define wf_log_info(id, ...) wf_log(WF_LOG_INFO, id, __VA_ARGS__)
#define wf_log_debug(id, ...) wf_log(WF_LOG_DEBUG, id, __VA_ARGS__)

#endif
