/* log.c - see log.h. Whatever bytes a string holds, its line is written:
 * JSON lines replace what is not UTF-8, text lines escape it and every
 * control character, so a client's bytes can neither erase a line nor
 * drive the terminal that shows it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/buffer.h"
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

/* A text line as it grows; failed set when an allocation failed. */
typedef struct {
    gr_buf g;
    int failed;
} text_buf;

static void put(text_buf *b, const char *p, size_t n)
{
    if (!b->failed && !gr_buf_append(&b->g, p, n, 128))
        b->failed = 1;
}

static void put_str(text_buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* A value can go bare when it is one printable word: no space, quote, '='
 * or backslash, no control character, nothing that is not UTF-8. */
static int bare_word(const char *s)
{
    if (!*s)
        return 0;
    while (*s) {
        unsigned char c = (unsigned char)*s;
        size_t n = gr_utf8_char(s);
        if (!n || c <= ' ' || c == 0x7f || c == '"' || c == '=' || c == '\\' ||
            (c == 0xC2 && (unsigned char)s[1] < 0xA0)) /* C1 controls, U+0080..U+009F */
            return 0;
        s += n;
    }
    return 1;
}

/* s with control characters (C0, DEL, C1) and bytes that are not UTF-8
 * written as \xNN (\u00NN for C1), and \n \r \t as such; quoted, '"' and
 * '\\' are escaped too. A terminal showing the line obeys none of it. */
static void put_escaped(text_buf *b, const char *s, int quoted)
{
    char esc[8];
    while (*s) {
        unsigned char c = (unsigned char)*s;
        size_t n = gr_utf8_char(s);
        const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
        if (named) {
            put_str(b, named);
        } else if (!n || c < ' ' || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            put_str(b, esc);
            n = 1;
        } else if (c == 0xC2 && (unsigned char)s[1] < 0xA0) {
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned char)s[1]);
            put_str(b, esc);
        } else if (quoted && (c == '"' || c == '\\')) {
            put(b, "\\", 1);
            put(b, s, 1);
        } else {
            put(b, s, n);
        }
        s += n ? n : 1;
    }
}

/* "time level msg key=value ...": strings bare when they are one printable
 * word, else quoted and escaped; numbers and the rest as JSON. */
static char *text_line(const char *when, gr_log_level level, const char *msg, json_t *fields)
{
    text_buf b = { 0 };
    put_str(&b, when);
    put(&b, " ", 1);
    put_str(&b, level_names[level]);
    put(&b, " ", 1);
    put_escaped(&b, msg, 0);
    const char *key;
    json_t *v;
    json_object_foreach(fields, key, v)
    {
        put(&b, " ", 1);
        put_escaped(&b, key, 0);
        put(&b, "=", 1);
        const char *sv = json_string_value(v);
        if (sv && bare_word(sv)) {
            put_str(&b, sv);
        } else if (sv) {
            put(&b, "\"", 1);
            put_escaped(&b, sv, 1);
            put(&b, "\"", 1);
        } else {
            char *j = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(6));
            if (!j)
                b.failed = 1;
            else
                put_escaped(&b, j, 0);
            free(j);
        }
    }
    if (b.failed) {
        free(b.g.s);
        return NULL;
    }
    return b.g.s; /* NUL-terminated by gr_buf_append */
}

static char *json_line(const char *when, gr_log_level level, const char *msg, json_t *fields)
{
    json_t *o = json_pack("{s:s, s:s, s:o}", "time", when, "level", level_names[level], "msg",
                          gr_log_string(msg));
    if (o && fields)
        json_object_update(o, fields);
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII |
                                       JSON_REAL_PRECISION(6))
                   : NULL;
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
