/* buffer.c - see buffer.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/buffer.h"

size_t gr_buf_room(const gr_buf *b, size_t n, size_t first)
{
    if (n > (size_t)-1 / 2 - b->len - 1)
        return 0;
    if (b->len + n + 1 <= b->cap)
        return b->cap;
    size_t cap = b->cap ? b->cap : first ? first : 4096;
    while (cap < b->len + n + 1)
        cap *= 2;
    return cap;
}

int gr_buf_append(gr_buf *b, const void *bytes, size_t n, size_t first)
{
    size_t cap = gr_buf_room(b, n, first);
    if (!cap)
        return 0;
    if (cap > b->cap) {
        char *more = realloc(b->s, cap);
        if (!more)
            return 0;
        b->s = more;
        b->cap = cap;
    }
    memcpy(b->s + b->len, bytes, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 1;
}

int gr_buf_printf(gr_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return 1;
    if ((size_t)n < sizeof small)
        return !gr_buf_append(b, small, (size_t)n, 4096);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return 1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int bad = !gr_buf_append(b, big, (size_t)n, 4096);
    free(big);
    return bad;
}
