/* predict_place.h - a score's population context in the pipeline: each
 * model whose manifest names a reference population gets, beside its own
 * job, a job over the reference's projection variants on the same input
 * (one more model in the VCF panel read, one more parse of the JSON
 * body). Each sample is then placed among the reference (PCs, most
 * similar population) and its score read against that population
 * (percentile, Z, Z_norm1, Z_norm2) and the model's risk categories; and
 * every answer carries its provenance. The front ends (daemon and CLI)
 * call the same three functions, so they cannot differ. */
#ifndef GR_API_PREDICT_PLACE_H
#define GR_API_PREDICT_PLACE_H

#include <jansson.h>

#include "api/json_out.h"
#include "api/predict_run.h"

struct scratch; /* predict_internal.h */

/* The models an input must be read for: ms[0 .. n), then each distinct
 * projection variant set of their references (borrowed from the models).
 * all has room for 2n; returns how many it holds (n or more). */
size_t gr_api_read_list(const gr_model *const *ms, size_t n, const gr_model **all);

/* Reads the JSON body for variant set all[k] (k >= n) into req, as the
 * models' own reads (gr_api_request_read), and sets *usable to 1. A body
 * the set cannot be read from (dosage arrays in model order, which name no
 * variant) leaves req cleared and *usable 0: its samples are not placed,
 * and why is said. Returns GR_OK, or GR_ENOMEM (req cleared): running out
 * of memory is an error, not a body that names no variant. */
gr_status gr_api_place_read_json(const gr_model *set, const char *text, size_t len,
                                 const gr_api_limits *limits, gr_api_request *req, uint8_t *usable,
                                 gr_error *err);

/* After every job of all (total of them: jobs[k] over all[k]) is made:
 * points each model's job (k < n) at the job of its reference's variant
 * set, or says why there is none (place_why). usable[k] (k >= n; NULL:
 * all usable) is 0 for a set whose read failed. */
void gr_api_bind_places(gr_api_job *jobs, const gr_model *const *all, size_t n, size_t total,
                        const uint8_t *usable);

/* Sample i's population context under job, as members of its result
 * (open in w): "population" (none when the model names no reference) and,
 * when the sample is placed and its score x read against the reference,
 * "risk": the model's risk block read at its percentile and Z (none when
 * the model declares none). sc is the caller's scratch for job. */
void gr_api_population(gr_jw *w, const gr_api_job *job, struct scratch *sc, size_t i, double x);

/* The answer's provenance for job (docs/predict-json.md, "Provenance"):
 * new, NULL when out of memory. */
json_t *gr_api_provenance(const gr_api_job *job);

/* The report's document (docs/report.md) for the one sample of job's
 * answer doc (its JSON document, borrowed): new, NULL when out of memory. */
json_t *gr_api_report_doc(const gr_api_job *job, json_t *doc);

#endif
