/* error.c - status descriptions and error-record helpers. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *gr_strerror(gr_status st)
{
    switch (st) {
    case GR_OK: return "success";
    case GR_ENOMEM: return "out of memory";
    case GR_EIO: return "input/output error";
    case GR_EMODEL: return "malformed model";
    case GR_EUNSUPPORTED: return "unsupported model feature";
    case GR_EINPUT: return "invalid input";
    case GR_ELIMIT: return "limit exceeded";
    case GR_ECOVERAGE: return "too few of the model's variants";
    case GR_EINVAL: return "invalid argument";
    case GR_ESYNTAX: return "malformed text";
    }
    return "unknown status";
}

void gr_error_clear(gr_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

gr_status gr_error_set(gr_error *err, gr_status st, const char *source, long line,
                       const char *field, const char *fmt, ...)
{
    if (!err)
        return st;
    err->status = st;
    snprintf(err->source, sizeof err->source, "%s", source ? source : "");
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    err->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
    /* messages quote input (keys, ids, file names) and are cut to size: a
     * problem detail must still be JSON (found by fuzzing) */
    gr_utf8_scrub(err->source);
    gr_utf8_scrub(err->field);
    gr_utf8_scrub(err->text);
    return st;
}

char *gr_error_format(const gr_error *err, char *buf, size_t size)
{
    if (!size)
        return buf;
    buf[0] = '\0';
    if (!err)
        return buf;
    size_t n = 0;
#define GR_APPEND(...)                                                                             \
    do {                                                                                           \
        if (n < size) {                                                                            \
            int w_ = snprintf(buf + n, size - n, __VA_ARGS__);                                     \
            if (w_ > 0)                                                                            \
                n += (size_t)w_;                                                                   \
        }                                                                                          \
    } while (0)
    if (err->source[0])
        GR_APPEND("%s:", err->source);
    if (err->line > 0)
        GR_APPEND("%ld:", err->line);
    if (err->source[0] || err->line > 0)
        GR_APPEND(" ");
    if (err->field[0])
        GR_APPEND("%s: ", err->field);
    GR_APPEND("%s", err->text[0] ? err->text : gr_strerror(err->status));
#undef GR_APPEND
    return buf;
}

size_t gr_utf8_bom(const char *s, size_t n)
{
    return n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3) ? 3 : 0;
}
