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
