/* json_scan.h - a JSON text walked in place, without building it: the
 * predict body's outer object and its samples array are found this way,
 * each sample is then parsed on its own (predict_json.c), so that a body
 * costs its own size plus one sample's tree, whatever it holds. The scanner
 * never allocates and never quotes the text in its errors. */
#ifndef GR_API_JSON_SCAN_H
#define GR_API_JSON_SCAN_H

#include <stddef.h>

typedef struct {
    const char *s;                /* the text (borrowed) */
    size_t n, at;                 /* its length; the next byte to read */
    size_t max_depth, max_string; /* 0: no limit */
    size_t depth;                 /* of the containers the caller walks into */
    char why[200];                /* the error, once a call returned 0 */
} gr_json_scan;

/* A scanner over s[0..n) (borrowed). */
void gr_json_scan_init(gr_json_scan *sc, const char *s, size_t n, size_t max_depth,
                       size_t max_string);

/* Skips whitespace; returns the next byte, or -1 at the end. */
int gr_json_peek(gr_json_scan *sc);

/* Expects byte c (after whitespace) and steps over it: 1, or 0 with why
 * naming what was expected (as `what`). */
int gr_json_expect(gr_json_scan *sc, char c, const char *what);

/* Fails at the current byte: 0, with why "line L, column C: " + what. */
int gr_json_fail_here(gr_json_scan *sc, const char *what);

/* Steps over one value (after whitespace): a string, number, literal, or an
 * object or array with everything in it, checking that strings end and are
 * at most max_string bytes as written, and that brackets match and nest at
 * most max_depth deep (counting the caller's depth). Scalars and the
 * grammar inside containers are only delimited here: the parser of the span
 * checks them. Returns 1 with [*start, *end) the value's bytes, or 0. */
int gr_json_skip_value(gr_json_scan *sc, size_t *start, size_t *end);

/* "line L, column C: " + why, for an error at byte at of the text. */
void gr_json_scan_where(const char *s, size_t at, const char *why, char *buf, size_t size);

#endif
