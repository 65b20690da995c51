/* log.h - one structured line per event on stderr, JSON or text. Callers
 * never pass genotypes or sample ids; the logger has no way to know. */
#ifndef GR_LOG_H
#define GR_LOG_H

#include <jansson.h>

typedef enum { GR_LOG_DEBUG, GR_LOG_INFO, GR_LOG_WARN, GR_LOG_ERROR } gr_log_level;

typedef struct {
    int json;         /* 1: JSON lines; 0: "time level msg key=value ..." */
    gr_log_level min; /* lower levels are dropped */
} gr_log;

/* Parses "debug", "info", "warn" or "error"; returns -1 otherwise. */
int gr_log_parse_level(const char *s);

/* 1 when a line at this level would be written (skip building its fields). */
int gr_log_enabled(const gr_log *log, gr_log_level level);

/* A log field for a string that may hold any bytes (what a client sent: the
 * HTTP method): jansson refuses a string that is not UTF-8, and one such
 * string fails a whole json_pack, fields and all. Each byte that is not part
 * of a UTF-8 character becomes U+FFFD. Returns new (NULL only when out of
 * memory; json_pack's "o?" then writes null); s NULL gives "". */
json_t *gr_log_string(const char *s);

/* Writes one line with time, level and msg, then fields' members in order.
 * JSON lines are ASCII: jansson writes control characters and everything
 * past U+007F as \uNNNN. Text lines: a value that is one printable word goes bare, any
 * other in double quotes with '"' and '\\' escaped; in msg, keys and values
 * alike, control characters (C0, DEL, C1) and bytes that are not UTF-8 are
 * written as \xNN (C1 as \u00NN), \n \r \t as such, so no byte of a
 * client's reaches a terminal as a command.
 * Takes ownership of fields (an object, or NULL). Thread-safe: the line goes
 * out in one write(2). */
void gr_log_write(const gr_log *log, gr_log_level level, const char *msg, json_t *fields);

/* One field of gr_log_fields: a string (s non-NULL), else a whole number
 * (i), or a real (f, when real). */
typedef struct {
    const char *key; /* one printable ASCII word */
    const char *s;
    long long i;
    double f;
    int real;
} gr_log_field;

/* gr_log_write of an object holding fields f[0..n) in order: the same
 * line, byte for byte, made without jansson when every string is printable
 * ASCII (the request line, once per request). */
void gr_log_fields(const gr_log *log, gr_log_level level, const char *msg, const gr_log_field *f,
                   size_t n);

/* The daemon's lifecycle (listening, reloaded, draining, stopped): written at
 * level info whatever the threshold, since orchestrators and scripts wait
 * for them. */
void gr_log_event(const gr_log *log, const char *msg, json_t *fields);

#endif
