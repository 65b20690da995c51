/* predict_vcf.c - see predict_vcf.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/predict_vcf.h"

json_t *gr_api_vcf_warnings(const gr_vcf_result *v)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < v->n_warnings; i++)
        if (json_array_append_new(a, json_string(v->warnings[i]))) {
            json_decref(a); /* a shorter list would hide a warning */
            return NULL;
        }
    return a;
}

int gr_api_parse_absent(const char *s, gr_absent *out)
{
    if (!strcmp(s, "missing"))
        *out = GR_ABSENT_MISSING;
    else if (!strcmp(s, "ref"))
        *out = GR_ABSENT_REF;
    else
        return 0;
    return 1;
}

int gr_api_parse_genotype(const char *s, gr_geno_source *out)
{
    if (!strcmp(s, "auto"))
        *out = GR_GENO_AUTO;
    else if (!strcmp(s, "gt"))
        *out = GR_GENO_GT;
    else if (!strcmp(s, "ds"))
        *out = GR_GENO_DS;
    else
        return 0;
    return 1;
}

int gr_api_parse_filter(const char *s, int *filter_any)
{
    if (!strcmp(s, "pass"))
        *filter_any = 0;
    else if (!strcmp(s, "any"))
        *filter_any = 1;
    else
        return 0;
    return 1;
}
