/* buffer.c - see buffer.h. */
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
