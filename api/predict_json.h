/* predict_json.h - the predict request and response JSON, shared by the CLI
 * and the HTTP routes (docs/predict-json.md). Reading turns a request into
 * each sample's given dosages in model order; encoding turns one gr_prediction into a
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
    size_t max_depth;   /* arrays and objects nested, 0 = no limit */
    size_t max_string;  /* bytes of a string as written, 0 = no limit */
    int names_only;     /* a sample's "dosages" array is read as no call at all: it is in
                         * another model's order, so it names no variant of this one (a
                         * reference's projection variants, predict_place.h) */
} gr_api_limits;

/* The feature of one given dosage of a sample; its value is the cell's
 * code (5 bytes a cell in all, read with gr_api_request_dosages). */
typedef struct {
    uint32_t feature;
} gr_api_cell;

/* A cell's code names its dosage: 0 NaN, 1 for 0, 2 for 1, 3 for 2, 4 for
 * 0.5, 5 for 1.5; any other dosage (-0 too) is GR_API_WIDE. */
#define GR_API_N_CODES 6
#define GR_API_WIDE 255

typedef struct {
    size_t n_samples, n_features;
    json_t *ids;            /* array: each sample's id string, or null (owned) */
    const double *x;        /* n_samples x n_features dosages, NaN = missing, when the
                                caller has them so (borrowed); else NULL and: */
    gr_api_cell *cells;     /* the dosages given, sample by sample, NaN for a missing
                                call under a key the sample sent (owned) */
    uint8_t *code;          /* each cell's dosage as a code, or GR_API_WIDE: the
                               sample's next wide value (owned) */
    size_t *first_cell;     /* sample i's are cells[first_cell[i] .. first_cell[i + 1]) */
    double *wide;           /* the dosages no code names, in cell order (owned) */
    size_t *first_wide;     /* sample i's are wide[first_wide[i] ..) (owned) */
    int explain;            /* default 1 */
    long top_k;             /* default GR_API_DEFAULT_TOP_K; 0 = every feature */
    int group_by;           /* a gr_api_group_by (predict_run.h), default 0: none */
    json_t *warnings;       /* array of strings (owned) */
    gr_match_counts *match; /* per sample: how its genotype keys matched (owned) */
    uint8_t *keyed;         /* per sample: 1 when it gave "genotypes" (owned) */
} gr_api_request;

/* Reads a predict request, the JSON text[0..len) (borrowed; a UTF-8
 * byte-order mark first is skipped), for model m into out, which the caller
 * clears with gr_api_request_clear whatever the result. The text is walked
 * in place first (json_scan.h) and each sample then read on its own,
 * straight into its dosages (json_sample.h; a sample in a rarer form, or
 * in error, parsed by jansson), so that memory is the text, at most one
 * sample's tree a thread and the dosages given (5 bytes each), whatever
 * the text holds; the sample count is checked before any is read. Errors:
 * GR_ESYNTAX when the text is not JSON ("line L, column C: why", never
 * quoting it), GR_ELIMIT for a limit (too many samples: err->field
 * "samples"; nesting or a string too long), GR_EINPUT with err->field the
 * JSON path of an unusable value. */
gr_status gr_api_request_read(const gr_model *m, const char *text, size_t len,
                              const gr_api_limits *limits, gr_api_request *out, gr_error *err);
/* The same on up to `threads` threads (1 or less: the caller's only): the
 * samples array is walked from guessed sample starts at once, then each
 * thread reads a run of the samples; the answer and any error are
 * gr_api_request_read's (an error of the text's first, else the first
 * sample's in error). */
gr_status gr_api_request_read_threads(const gr_model *m, const char *text, size_t len,
                                      const gr_api_limits *limits, int threads, gr_api_request *out,
                                      gr_error *err);
/* gr_api_request_read_threads in two steps, so that a body can be walked
 * before its model is loaded (the CLI does both at once) and once for
 * several models: gr_api_body_walk delimits the members and samples of
 * text (borrowed: it must outlive *out) and checks what needs no model (the
 * text is JSON, an object, with samples, within the limits) into *out (new:
 * gr_api_body_free; NULL on error); gr_api_request_read_body reads it for
 * m into out as gr_api_request_read_threads does. Together they answer and
 * fail exactly as it does. */
typedef struct gr_api_body gr_api_body;
gr_status gr_api_body_walk(const char *text, size_t len, const gr_api_limits *limits, int threads,
                           gr_api_body **out, gr_error *err);
gr_status gr_api_request_read_body(const gr_model *m, const gr_api_body *b, int threads,
                                   gr_api_request *out, gr_error *err);
void gr_api_body_free(gr_api_body *b);

/* Sample i's dosages in model order into x (n_features values, NaN =
 * missing). */
void gr_api_request_dosages(const gr_api_request *r, size_t i, double *x);
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

/* Returns a new object describing m (name, version, task, format, ...). */
json_t *gr_api_model_json(const gr_model *m, int full);

/* {"name", "ambiguous", "multiallelic", "chrx", "unmatched"}: a matching
 * policy in the words its settings take; returns new, NULL when out of
 * memory. */
json_t *gr_api_policy_json(const gr_policy *p);

#endif
