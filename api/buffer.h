/* buffer.h - a growing byte buffer, the one way api/ gathers bytes: a
 * predict body as it arrives, an answer as the pipeline writes it. */
#ifndef GR_API_BUFFER_H
#define GR_API_BUFFER_H

#include <stddef.h>

typedef struct {
    char *s; /* owned; NUL-terminated after each append (s[len] is 0) */
    size_t len, cap;
} gr_buf;

/* Appends n bytes (doubling the room, from at least `first` bytes).
 * Returns 1, or 0 when out of memory (nothing appended, b unchanged). */
int gr_buf_append(gr_buf *b, const void *bytes, size_t n, size_t first);

/* Appends printf-formatted text. Returns 0, or 1 when out of memory or
 * the text cannot be formatted (b unchanged). */
int gr_buf_printf(gr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The room (cap) b would have after gr_buf_append(b, ..., n, first): what
 * memory the append would hold. 0 when n is too large to append. */
size_t gr_buf_room(const gr_buf *b, size_t n, size_t first);

#endif
