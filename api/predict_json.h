/* predict_json.h - the predict request and response JSON, shared by the CLI
 * and the HTTP routes (docs/predict-json.md). Parsing turns a request into a
 * dense dosage matrix in model order; encoding turns one gr_prediction into a
 * result object. Nothing here logs: error texts and warnings name fields and
 * genotype keys, never genotype values or sample ids. */
#ifndef GR_API_PREDICT_JSON_H
#define GR_API_PREDICT_JSON_H

#include <jansson.h>

#include "core/match.h"
#include "core/model.h"

#define GR_API_DEFAULT_TOP_K 10
#define GR_API_DEFAULT_MAX_SAMPLES 10000
#define GR_API_MAX_ID_LEN 256

typedef struct {
    size_t max_samples; /* 0 means GR_API_DEFAULT_MAX_SAMPLES */
} gr_api_limits;

typedef struct {
    size_t n_samples, n_features;
    json_t *ids;            /* array: each sample's id string, or null (owned) */
    double *x;              /* n_samples x n_features dosages, NaN = missing (owned) */
    int explain;            /* default 1 */
    long top_k;             /* default GR_API_DEFAULT_TOP_K; 0 = every feature */
    json_t *warnings;       /* array of strings (owned) */
    gr_match_counts *match; /* per sample: how its genotype keys matched (owned) */
    uint8_t *keyed;         /* per sample: 1 when it gave "genotypes" (owned) */
} gr_api_request;

/* Parses body (borrowed) for model m into out, which the caller clears with
 * gr_api_request_clear whatever the result. Errors: GR_EINPUT with err->field
 * set to the JSON path of the offending value, GR_ELIMIT for too many samples. */
gr_status gr_api_request_parse(const gr_model *m, json_t *body, const gr_api_limits *limits,
                               gr_api_request *out, gr_error *err);
void gr_api_request_clear(gr_api_request *r);

/* Writes jansson's parse error as "line L, column C: reason" into buf, with
 * the "near '...'" excerpt removed: it would echo genotypes or sample ids. */
char *gr_api_json_error(const json_error_t *je, char *buf, size_t size);

/* json_loadb (after a UTF-8 byte-order mark, when buf starts with one) and
 * json_dumps, that fail when an allocation failed on the way:
 * jansson 2.14 then drops bytes and goes on (its lexer from a token, its
 * dumper from an object key) or calls it a syntax error. gr_api_json_loadb
 * returns NULL with json_error_code(je) == json_error_out_of_memory;
 * gr_api_json_dumps returns NULL (also for a NULL doc). */
json_t *gr_api_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *je);
char *gr_api_json_dumps(const json_t *doc, size_t flags);

/* A scan of a JSON text before it is parsed: 1 when its arrays and objects
 * nest at most max_depth deep and no string (key or value, as written, with
 * its escapes) is longer than max_string bytes; else 0 with the reason in
 * why (never quoting the text). Malformed JSON passes: the parser will say
 * what is wrong with it. */
int gr_api_json_within(const char *s, size_t n, size_t max_depth, size_t max_string, char *why,
                       size_t why_size);

/* Returns a new object describing m (name, version, task, format, ...). */
json_t *gr_api_model_json(const gr_model *m, int full);

#endif
