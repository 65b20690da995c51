/* json_out.h - a streaming JSON writer into a growing buffer: what the
 * predict answers are written with, value by value, with no tree of JSON
 * objects and no allocation but the buffer's growth.
 *
 * The text is jansson's, byte for byte, as json_dumps writes it with
 * JSON_COMPACT or JSON_INDENT(2) (the same separators, line breaks,
 * indentation and string escapes: '"', '\\' and control characters, '/'
 * as it is), except numbers with a fraction: a double is written as the
 * shortest decimal that reads back (strtod) as the same double, where
 * jansson wrote 17 significant digits (0.1, not 0.10000000000000001). As
 * jansson, a double always holds a '.' or an exponent ("2.0", "1e21",
 * "-0.0"), so a JSON reader sees a real wherever it saw one, and an
 * exponent has no '+' and no leading zeros ("1e-7").
 *
 * Errors are sticky: the first one is kept in w->bad, and what is written
 * after it is dropped. A double that is not finite (NaN, infinity) and a
 * string that is not UTF-8 are never written: they are errors, as they
 * are to jansson (json_real, json_string). */
#ifndef GR_API_JSON_OUT_H
#define GR_API_JSON_OUT_H

#include <jansson.h>
#include <stddef.h>

#include "api/buffer.h"

/* Deepest nesting the writer follows (a container deeper is an error). */
#define GR_JW_MAX_DEPTH 64

typedef enum {
    GR_JW_OK,
    GR_JW_NOMEM,     /* the buffer could not grow */
    GR_JW_NONFINITE, /* a NaN or infinite double */
    GR_JW_UTF8,      /* a string or key that is not UTF-8 */
    GR_JW_DEPTH      /* nested deeper than GR_JW_MAX_DEPTH, or closed unopened */
} gr_jw_error;

typedef struct {
    gr_buf *b;     /* where the text goes (borrowed) */
    int pretty;    /* JSON_INDENT(2), else JSON_COMPACT */
    int depth;     /* containers open, plus the base depth */
    int base;      /* depth of the first value */
    int after_key; /* a key was written: its value comes next */
    gr_jw_error bad;
    unsigned char some[GR_JW_MAX_DEPTH]; /* the container at that depth has members */
} gr_jw;

/* Starts writing one value into b (appended to what b holds), laid out as
 * if nested `depth` containers deep in an indented document (its inner
 * lines indented 2 * (depth + 1) spaces; 0 for a document of its own). */
void gr_jw_init(gr_jw *w, gr_buf *b, int pretty, int depth);
/* Starts writing members (keys and values) or elements into a container
 * written elsewhere, open `depth` deep (1: the document's own object);
 * some non-zero when it has members already (a ',' comes first). The
 * container is not closed here. */
void gr_jw_init_in(gr_jw *w, gr_buf *b, int pretty, int depth, int some);

/* Containers. A member of an object is its key, then its value. */
void gr_jw_object(gr_jw *w);
void gr_jw_object_end(gr_jw *w);
void gr_jw_array(gr_jw *w);
void gr_jw_array_end(gr_jw *w);
void gr_jw_key(gr_jw *w, const char *key);

/* Values. s NUL-terminated; NULL s is JSON null. */
void gr_jw_str(gr_jw *w, const char *s);
void gr_jw_strn(gr_jw *w, const char *s, size_t n);
void gr_jw_int(gr_jw *w, long long v);
void gr_jw_real(gr_jw *w, double v);
void gr_jw_bool(gr_jw *w, int v);
void gr_jw_null(gr_jw *w);
/* Any jansson value (borrowed), as json_dumps writes it but for the
 * spelling of reals; NULL is an out-of-memory error (a value a jansson
 * call failed to make). */
void gr_jw_json(gr_jw *w, const json_t *v);

/* The text of double v as gr_jw_real writes it into buf (at least 32
 * bytes): its length, or 0 when v is not finite (buf then "").*/
size_t gr_jw_format_real(char *buf, double v);

#endif
