/* predict_panel.h - several models scored from one read of the input (a
 * panel), the match report of each, and the answer in the format asked
 * for: the JSON document, plink2's .sscore, or pgsc_calc's long TSV; and
 * the per-variant match log. Each model is a gr_api_job over the same
 * source (one VCF read by gr_vcf_read_models, or one JSON body). */
#ifndef GR_API_PREDICT_PANEL_H
#define GR_API_PREDICT_PANEL_H

#include <jansson.h>

#include "api/predict_run.h"

/* The answer's formats: the JSON document, plink2's .sscore, pgsc_calc's
 * long TSV, one sample's HTML report, its attributions as an SVG
 * waterfall (api/report.h). */
typedef enum {
    GR_API_FORMAT_JSON,
    GR_API_FORMAT_SSCORE,
    GR_API_FORMAT_TSV,
    GR_API_FORMAT_HTML,
    GR_API_FORMAT_SVG,
    GR_API_FORMATS
} gr_api_format;

/* "json", "sscore", "tsv", "html" or "svg" into *out: 1, or 0 when s is
 * none of them. */
int gr_api_format_parse(const char *s, gr_api_format *out);
/* The format an Accept header prefers (highest q; JSON on a tie or when it
 * names none of them): text/tab-separated-values asks for sscore. */
gr_api_format gr_api_format_accepted(const char *accept);
/* The Content-Type of an answer in format f. */
const char *gr_api_format_media_type(gr_api_format f);

typedef struct {
    const gr_api_job *jobs; /* n jobs, one per model, same source (borrowed) */
    size_t n;
    gr_api_format format;
    const char *sampleset; /* tsv's first column; NULL: "cohort" */
    int pretty;            /* JSON: indented */
    int variant_rows;      /* JSON: each model's match report lists its variants */
    int listed;            /* JSON: {"models": [...]} even for one model */
    int threads;           /* threads that score the samples (0, 1: the caller
                            * alone; JSON: gr_api_predict_write_threads) */
} gr_api_panel;

/* The match report of a VCF job, pgsc_calc's summary per score: counts by
 * status, match rate, min_overlap and whether it passes, the policy; with
 * rows, one object per variant (gr_api_variant_log's columns). NULL for a
 * JSON job, or when out of memory. Returns new. */
json_t *gr_api_match_report(const gr_api_job *job, int rows);

/* Writes the panel's answer: html or svg, the report of the one sample of
 * the one model (GR_EINPUT otherwise); JSON, one model's document as
 * gr_api_predict_write writes it (with its "match" report and the members
 * of extra) or, for several (or when listed), {"models": [those documents],
 * extra...};
 * sscore or tsv, a header line then a line per sample (sscore) or per
 * sample and model (tsv), tab-separated, "NA" for a score a sample did not
 * get (under the coverage gate). Every job is checked before a byte is
 * written (gr_api_job_check). */
gr_status gr_api_panel_write(const gr_api_panel *p, json_t *extra, gr_api_write_fn write, void *arg,
                             gr_error *err);

/* The per-variant match log as TSV (docs/vcf-matching.md, "Match report"):
 * model, feature, chrom, pos, effect_allele, other_allele, status, match,
 * ambiguous, multiallelic, record, reason; VCF jobs only. */
gr_status gr_api_variant_log_write(const gr_api_panel *p, gr_api_write_fn write, void *arg,
                                   gr_error *err);

#endif
