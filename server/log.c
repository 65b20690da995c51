/* log.c - see log.h. Whatever bytes a string holds, its line is written:
 * JSON lines replace what is not UTF-8, so a client's bytes cannot erase
 * a line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
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

json_t *gr_log_string(const char *s)
{
    if (!s)
        return json_string("");
    const char *p = s;
    size_t c;
    while (*p && (c = gr_utf8_char(p)))
        p += c;
    if (!*p) /* all UTF-8 */
        return json_string(s);
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1); /* each byte at most U+FFFD's three */
    if (!out)
        return NULL;
    size_t k = 0;
    while (*s) {
        c = gr_utf8_char(s);
        if (c) {
            memcpy(out + k, s, c);
            k += c;
            s += c;
        } else {
            memcpy(out + k, "\xEF\xBF\xBD", 3);
            k += 3;
            s++;
        }
    }
    json_t *j = json_stringn(out, k);
    free(out);
    return j;
}

/* "time level msg key=value ...": strings with spaces, quotes or '=' are
 * written as JSON strings, so key=value stays parseable. */
static char *text_line(const char *when, gr_log_level level, const char *msg, json_t *fields)
{
    size_t cap = 256, len = 0;
    char *line = malloc(cap);
    if (line)
        len = (size_t)snprintf(line, cap, "%s %s %s", when, level_names[level], msg);
    const char *key;
    json_t *v;
    json_object_foreach(fields, key, v)
    {
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
    return line;
}

static char *json_line(const char *when, gr_log_level level, const char *msg, json_t *fields)
{
    json_t *o = json_pack("{s:s, s:s, s:o}", "time", when, "level", level_names[level], "msg",
                          gr_log_string(msg));
    if (o && fields)
        json_object_update(o, fields);
    char *line =
        o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(o);
    return line;
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

    char *line =
        log->json ? json_line(when, level, msg, fields) : text_line(when, level, msg, fields);
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
