/* log.c - see log.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/log.h"

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int gr_log_parse_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && !strcmp(s, level_names[i]))
            return i;
    return -1;
}

static void write_all(const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0)
            return; /* nowhere to report a failing log */
        s += w;
        n -= (size_t)w;
    }
}

int gr_log_enabled(const gr_log *log, gr_log_level level)
{
    return level >= log->min;
}

static void write_line(const gr_log *log, gr_log_level level, const char *msg, json_t *fields);

void gr_log_write(const gr_log *log, gr_log_level level, const char *msg, json_t *fields)
{
    if (level < log->min) {
        json_decref(fields);
        return;
    }
    write_line(log, level, msg, fields);
}

void gr_log_event(const gr_log *log, const char *msg, json_t *fields)
{
    write_line(log, GR_LOG_INFO, msg, fields);
}

static void write_line(const gr_log *log, gr_log_level level, const char *msg, json_t *fields)
{
    struct timespec ts;
    struct tm tm;
    char when[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + k, sizeof when - k, ".%03ldZ", ts.tv_nsec / 1000000);

    char *line = NULL;
    if (log->json) {
        json_t *o =
            json_pack("{s:s, s:s, s:s}", "time", when, "level", level_names[level], "msg", msg);
        if (o && fields)
            json_object_update(o, fields);
        line =
            o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
        json_decref(o);
    } else {
        size_t cap = 256, len = 0;
        line = malloc(cap);
        if (line)
            len = (size_t)snprintf(line, cap, "%s %s %s", when, level_names[level], msg);
        const char *key;
        json_t *v;
        json_object_foreach(fields, key, v)
        {
            /* strings with spaces, quotes or '=' are written as JSON strings,
             * so key=value stays parseable */
            const char *sv = json_string_value(v);
            char *val = sv && !strpbrk(sv, " \"=\\") && *sv
                            ? strdup(sv)
                            : json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
            size_t need = len + strlen(key) + (val ? strlen(val) : 0) + 4;
            if (line && need > cap) {
                char *bigger = realloc(line, cap = need * 2);
                if (!bigger) {
                    free(line);
                    line = NULL;
                } else {
                    line = bigger;
                }
            }
            if (line && val)
                len += (size_t)snprintf(line + len, cap - len, " %s=%s", key, val);
            free(val);
        }
    }
    json_decref(fields);
    if (!line)
        return;
    size_t n = strlen(line);
    char *out = realloc(line, n + 2);
    if (out) {
        out[n] = '\n';
        out[n + 1] = '\0';
        write_all(out, n + 1);
        free(out);
    } else {
        free(line);
    }
}
