/* log.c - see log.h. Whatever bytes a string holds, its line is written:
 * JSON lines replace what is not UTF-8, text lines escape it and every
 * control character, so a client's bytes can neither erase a line nor
 * drive the terminal that shows it. */
#include <math.h>
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

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" for now; the part up to the second is kept
 * per thread, as requests come many to a second. */
static void timestamp(char when[40])
{
    static _Thread_local time_t last = -1;
    static _Thread_local char prefix[32];
    static _Thread_local size_t prefix_len;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != last) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        prefix_len = strftime(prefix, sizeof prefix, "%Y-%m-%dT%H:%M:%S", &tm);
        last = ts.tv_sec;
    }
    memcpy(when, prefix, prefix_len);
    long ms = ts.tv_nsec / 1000000;
    char *p = when + prefix_len;
    *p++ = '.';
    *p++ = (char)('0' + ms / 100);
    *p++ = (char)('0' + ms / 10 % 10);
    *p++ = (char)('0' + ms % 10);
    *p++ = 'Z';
    *p = '\0';
}

static void write_line(const gr_log *log, gr_log_level level, const char *msg, json_t *fields)
{
    char when[40];
    timestamp(when);
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

/* ---- the fast path of gr_log_fields ---- */

/* Printable ASCII with nothing a JSON string or a bare text word escapes
 * (jansson and text_line write such a string as it is). */
static int plain(const char *s)
{
    for (; *s; s++)
        if (*s <= ' ' || *s > '~' || *s == '"' || *s == '\\' || *s == '=')
            return 0;
    return 1;
}

/* A line being made in a fixed buffer; over when it did not fit. */
typedef struct {
    char s[1024];
    size_t len;
    int over;
} line_buf;

static void lput(line_buf *b, const char *p, size_t n)
{
    if (b->over || n > sizeof b->s - b->len) {
        b->over = 1;
        return;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
}

static void lputs(line_buf *b, const char *s)
{
    lput(b, s, strlen(s));
}

/* A number as jansson writes it (JSON_REAL_PRECISION(6) for reals: "%.6g",
 * then ".0" when it would read back as an integer, and no '+' or leading
 * zero in the exponent). */
static void put_number(line_buf *b, const gr_log_field *f)
{
    char num[48];
    if (!f->real) {
        snprintf(num, sizeof num, "%lld", f->i);
        lputs(b, num);
        return;
    }
    int n = snprintf(num, sizeof num - 2, "%.6g", f->f);
    if (n < 0 || (size_t)n >= sizeof num - 2 || isnan(f->f) || isinf(f->f)) {
        b->over = 1; /* jansson refuses these: the slow path decides */
        return;
    }
    if (!strchr(num, '.') && !strchr(num, 'e'))
        memcpy(num + n, ".0", 3);
    char *e = strchr(num, 'e');
    if (e) {
        char *start = e + 1, *end = e + 2;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start)
            memmove(start, end, strlen(end) + 1);
    }
    lputs(b, num);
}

void gr_log_fields(const gr_log *log, gr_log_level level, const char *msg, const gr_log_field *f,
                   size_t n)
{
    if (level < log->min)
        return;
    int fast = plain(msg);
    for (size_t i = 0; fast && i < n; i++)
        fast = plain(f[i].key) && (!f[i].s || plain(f[i].s));
    line_buf b = { .len = 0 };
    char when[40];
    timestamp(when);
    if (fast && log->json) {
        lputs(&b, "{\"time\":\"");
        lputs(&b, when);
        lputs(&b, "\",\"level\":\"");
        lputs(&b, level_names[level]);
        lputs(&b, "\",\"msg\":\"");
        lputs(&b, msg);
        lputs(&b, "\"");
        for (size_t i = 0; i < n; i++) {
            lputs(&b, ",\"");
            lputs(&b, f[i].key);
            lputs(&b, "\":");
            if (f[i].s) {
                lputs(&b, "\"");
                lputs(&b, f[i].s);
                lputs(&b, "\"");
            } else {
                put_number(&b, &f[i]);
            }
        }
        lputs(&b, "}\n");
    } else if (fast) {
        lputs(&b, when);
        lputs(&b, " ");
        lputs(&b, level_names[level]);
        lputs(&b, " ");
        lputs(&b, msg);
        for (size_t i = 0; i < n; i++) {
            lputs(&b, " ");
            lputs(&b, f[i].key);
            lputs(&b, "=");
            if (f[i].s)
                lputs(&b, *f[i].s ? f[i].s : "\"\"");
            else
                put_number(&b, &f[i]);
        }
        lputs(&b, "\n");
    }
    if (fast && !b.over) {
        write_all(b.s, b.len);
        return;
    }
    json_t *o = json_object(); /* the general path, for any other bytes */
    for (size_t i = 0; o && i < n; i++)
        json_object_set_new(o, f[i].key,
                            f[i].s      ? gr_log_string(f[i].s)
                            : f[i].real ? json_real(f[i].f)
                                        : json_integer((json_int_t)f[i].i));
    write_line(log, level, msg, o);
}
