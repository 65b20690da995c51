/* json_arrays.h - loading model JSON files and copying their numeric arrays
 * into C arrays with precise errors; shared by the JSON-based loaders. */
#ifndef GR_JSON_ARRAYS_H
#define GR_JSON_ARRAYS_H

#include <jansson.h>
#include <stdint.h>

#include "error.h"
#include "lines.h" /* the ceilings */

/* Returns a new JSON document parsed from path, a regular file of at most
 * max_bytes (GR_MODEL_MAX_JSON, GR_MANIFEST_MAX: core/lines.h), or NULL with
 * err set: GR_EIO when the file cannot be read or is not a regular file,
 * GR_ELIMIT when it is larger than max_bytes (checked before a byte is read,
 * and again as it is read), GR_EMODEL with the line when it is not JSON,
 * GR_ENOMEM when an allocation failed while it was read. */
json_t *gr_json_load(const char *path, size_t flags, uint64_t max_bytes, gr_error *err);

/* Numeric arrays of a document kept out of its json_t tree (made by
 * gr_json_load_lean): one number of such an array. */
typedef struct {
    union {
        int64_t i; /* GR_JNUM_INT, GR_JNUM_BOOL (0 or 1) */
        double d;  /* GR_JNUM_REAL */
    } v;
    uint8_t kind;
} gr_json_num;
enum { GR_JNUM_INT, GR_JNUM_REAL, GR_JNUM_BOOL };
typedef struct gr_json_side gr_json_side;
#define GR_JSON_MAX_THREADS 16

/* gr_json_load, but the arrays of numbers (and true/false) that are the
 * value of a member named in keys (NULL-terminated) are parsed straight into
 * *side (returns new; NULL when none were) rather than into a json_t per
 * number: in the tree each is a string that gr_json_side_array resolves.
 * Such arrays under a member named in skip (NULL-terminated, or NULL) are
 * checked as Jansson would read them and left out: in the tree each is a
 * string that gr_json_side_array does not resolve. The numbers are read as
 * Jansson reads them (strtoll, strtod on the same text); a document Jansson
 * refuses, or one holding the marker's text, is read by gr_json_load, so
 * every error is as it gives it. With threads > 1 (at most
 * GR_JSON_MAX_THREADS are used) the arrays are read on that many threads;
 * the outcome is the same, to the bit. */
json_t *gr_json_load_lean(const char *path, size_t flags, uint64_t max_bytes,
                          const char *const *keys, const char *const *skip, int threads,
                          gr_json_side **side, gr_error *err);
void gr_json_side_free(gr_json_side *side);
/* The numbers v (a member's value) stands for, *n of them (borrowed from
 * side), or NULL when v is not a marker of side (side may be NULL). */
const gr_json_num *gr_json_side_array(const gr_json_side *side, const json_t *v, size_t *n);

/* Checks an artifact's "format" is want and its "format_version", when
 * present, is 1 (what this genorisk reads). */
gr_status gr_json_check_format(json_t *root, const char *want, const char *path, gr_error *err);

/* The arrays of one tree, sized by gr_tree_arrays_reserve. */
typedef struct {
    size_t cap;
    int64_t *left, *right, *feature;
    double *thr, *value, *cover;
    uint8_t *default_left;
    int64_t *scratch;
} gr_tree_arrays;

/* The member names a format gives each per-node array. value may be NULL
 * when leaf values live in the threshold array (XGBoost). */
typedef struct {
    const char *left, *right, *feature, *thr, *value, *cover, *default_left;
} gr_tree_keys;

/* Reads the n-node tree object into a (reserving room), with errors naming
 * prefix.key[i]. Without keys->value, value[] is a copy of thr[]. */
gr_status gr_tree_arrays_read(json_t *tree, size_t n, const gr_tree_keys *keys, gr_tree_arrays *a,
                              const char *path, const char *prefix, gr_error *err);
/* The same, the arrays also looked for in side (borrowed; NULL: none). */
gr_status gr_tree_arrays_read_side(const gr_json_side *side, json_t *tree, size_t n,
                                   const gr_tree_keys *keys, gr_tree_arrays *a, const char *path,
                                   const char *prefix, gr_error *err);

gr_status gr_tree_arrays_reserve(gr_tree_arrays *a, size_t n, const char *path, gr_error *err);
void gr_tree_arrays_free(gr_tree_arrays *a);

/* Reads obj[key] as an array of exactly n integers (booleans allowed when
 * bools is set) into out. field_prefix names the tree in errors. */
gr_status gr_json_ints(json_t *obj, const char *key, size_t n, int bools, int64_t *out,
                       const char *path, const char *field_prefix, gr_error *err);
/* Reads obj[key] as an array of exactly n finite numbers into out. */
gr_status gr_json_doubles(json_t *obj, const char *key, size_t n, double *out, const char *path,
                          const char *field_prefix, gr_error *err);

#endif
