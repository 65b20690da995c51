/* predict_vcf.h - the VCF side of the API, shared by the CLI and the HTTP
 * route: a VCF read's warnings as JSON, and the VCF option words. */
#ifndef GR_API_PREDICT_VCF_H
#define GR_API_PREDICT_VCF_H

#include <jansson.h>

#include "api/predict_json.h"
#include "core/vcf.h"

/* Returns a new JSON array of v's warnings, NULL when out of memory. */
json_t *gr_api_vcf_warnings(const gr_vcf_result *v);

/* Parses the option words shared by the CLI flags and the query parameters;
 * 1 when value is valid. */
int gr_api_parse_absent(const char *value, gr_absent *out);
int gr_api_parse_genotype(const char *value, gr_geno_source *out);
int gr_api_parse_filter(const char *value, int *filter_any);

#endif
