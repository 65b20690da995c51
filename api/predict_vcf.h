/* predict_vcf.h - predict results for the samples of a VCF read by
 * core/vcf.c: the min_coverage check and the VCF coverage counts in the
 * response, shared by the CLI and the HTTP route. */
#ifndef GR_API_PREDICT_VCF_H
#define GR_API_PREDICT_VCF_H

#include <jansson.h>

#include "api/predict_json.h"
#include "core/vcf.h"

/* Result object for sample s of v. When the sample's observed share is below
 * the model's min_coverage: GR_EINPUT naming the counts, unless
 * allow_low_coverage, which marks the result "low_coverage": true.
 * x, phi and used are scratch of n_features doubles. */
gr_status gr_api_vcf_result(const gr_model *m, gr_workspace *ws, const gr_vcf_result *v, size_t s,
                            const gr_api_output *out, int allow_low_coverage, double *x,
                            double *phi, double *used, json_t **result, gr_error *err);

/* Returns a new JSON array of v's warnings, NULL when out of memory. */
json_t *gr_api_vcf_warnings(const gr_vcf_result *v);

/* Parses the option words shared by the CLI flags and the query parameters;
 * 1 when value is valid. */
int gr_api_parse_absent(const char *value, gr_absent *out);
int gr_api_parse_genotype(const char *value, gr_geno_source *out);
int gr_api_parse_filter(const char *value, int *filter_any);

#endif
