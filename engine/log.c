/* log.c -- see log.h.  Lines go to stderr as "weft: LEVEL ID: message". */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

static atomic_int s_level = WF_LOG_WARN;

void
wf_log_set_level(int level)
{
    atomic_store(&s_level, level);
}

int
wf_log_level(void)
{
    return atomic_load(&s_level);
}

void
wf_log(int level, const char *id, const char *fmt, ...)
{
    static const char *const names[] = {"", "error", "warning", "info", "debug"};
    if (level > atomic_load(&s_level) || level < 1 || level > 4)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "weft: %s %s: %s\n", names[level], id, line);
}

int
wf_log_allow(wf_log_limit_t *lim, int64_t now, const char *id)
{
    int64_t window = now / 1000;
    if (window != lim->window) {
        if (lim->suppressed)
            wf_log(WF_LOG_WARN, id, "%d similar message(s) suppressed in the last second",
                   lim->suppressed);
        lim->window = window;
        lim->count = 0;
        lim->suppressed = 0;
    }
    if (lim->count < WF_LOG_BURST) {
        lim->count++;
        return 1;
    }
    lim->suppressed++;
    return 0;
}
