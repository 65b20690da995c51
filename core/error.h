/* error.h - the one status enum of libgenorisk and the caller-owned error record.
 *
 * Every fallible function returns a gr_status and, when given a non-NULL
 * gr_error, fills it with a message and the location of the problem (file,
 * line, field), in the manner of jansson's json_error_t. */
#ifndef GR_ERROR_H
#define GR_ERROR_H

#include <stddef.h>

typedef enum {
    GR_OK = 0,
    GR_ENOMEM,       /* an allocation failed */
    GR_EIO,          /* a file could not be opened or read */
    GR_EMODEL,       /* a model bundle is malformed */
    GR_EUNSUPPORTED, /* well-formed, but uses something genorisk does not support */
    GR_EINPUT,       /* sample input is malformed or unusable */
    GR_ELIMIT,       /* a size, count or depth limit was exceeded */
    GR_ECOVERAGE,    /* a sample has too few of the model's variants (min_coverage) */
    GR_EINVAL,       /* the caller broke an API contract */
    GR_ESYNTAX       /* input text is not well-formed (a JSON body): err->text says where */
} gr_status;

typedef struct gr_error {
    gr_status status;
    char text[512];   /* why, in a sentence; never holds genotype values */
    char source[256]; /* file path, or "" when the input was not a file */
    char field[160];  /* JSON path or column name, or "" */
    long line;        /* 1-based line in source, 0 when not applicable */
} gr_error;

/* Returns a static, never-NULL description of a status. */
const char *gr_strerror(gr_status st);

/* Clears err (NULL allowed). */
void gr_error_clear(gr_error *err);

/* Fills err (NULL allowed) and returns st, so callers can `return gr_error_set(...)`.
 * source and field may be NULL. */
gr_status gr_error_set(gr_error *err, gr_status st, const char *source, long line,
                       const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Replaces, in place, every byte of s that is not part of a UTF-8 character
 * with '?': a message that quotes input, or that a byte limit cut inside a
 * character, stays printable as JSON. gr_error_set applies it to what it
 * stores. */
void gr_utf8_scrub(char *s);

/* Length (1 to 4) of the UTF-8 character at s, as jansson accepts one, or 0
 * when the bytes at s are not one: a stray continuation byte, an overlong or
 * cut sequence, a surrogate, or past U+10FFFF. An ASCII byte, NUL included,
 * is 1. */
size_t gr_utf8_char(const char *s);

/* 3 when the n bytes at s start with a UTF-8 byte-order mark (EF BB BF),
 * else 0: every text input skips one (editors on Windows write it). */
size_t gr_utf8_bom(const char *s, size_t n);

/* Writes "source:line: field: text" (parts that are empty left out) into buf.
 * Returns buf. */
char *gr_error_format(const gr_error *err, char *buf, size_t size);

#endif
