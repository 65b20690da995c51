/* predict_vcf.c - see predict_vcf.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/predict_vcf.h"

gr_status gr_api_vcf_result(const gr_model *m, gr_workspace *ws, const gr_vcf_result *v, size_t s,
                            const gr_api_output *out, int allow_low_coverage, double *x,
                            double *phi, double *used, json_t **result, gr_error *err)
{
    const gr_model_info *in = gr_model_get_info(m);
    const gr_vcf_coverage *c = &v->coverage[s];
    double share = c->expected ? (double)c->observed / (double)c->expected : 1.0;
    int low = share < in->min_coverage;
    *result = NULL;
    if (low && !allow_low_coverage)
        return gr_error_set(err, GR_EINPUT, NULL, 0, "coverage",
                            "sample #%zu: %zu of %zu model variants observed (%.1f%%), below the "
                            "model's min_coverage of %.0f%% (matched %zu, flipped %zu, swapped %zu, "
                            "ambiguous %zu, multiallelic %zu, missing %zu, imputed %zu); check the "
                            "genome build and chromosome names, try absent=ref for variants-only "
                            "VCFs, or send allow_low_coverage=true",
                            s + 1, c->observed, c->expected, 100 * share, 100 * in->min_coverage,
                            c->matched, c->flipped, c->swapped, c->ambiguous, c->multiallelic,
                            c->missing, c->imputed);
    gr_vcf_sample_dosages(v, s, x);
    json_t *id = json_string(v->sample_ids[s]);
    if (!id) /* NULL would label the result "sample": null */
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    gr_status st = gr_api_result(m, ws, x, id, s, out, phi, used, result, err);
    json_decref(id);
    if (st)
        return st;
    json_t *cov = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                            "expected", (json_int_t)c->expected, "observed", (json_int_t)c->observed,
                            "matched", (json_int_t)c->matched, "flipped", (json_int_t)c->flipped,
                            "swapped", (json_int_t)c->swapped, "ambiguous",
                            (json_int_t)c->ambiguous, "multiallelic",
                            (json_int_t)c->multiallelic, "missing", (json_int_t)c->missing,
                            "imputed", (json_int_t)c->imputed);
    if (!cov || json_object_set_new(*result, "coverage", cov) ||
        (low && json_object_set_new(*result, "low_coverage", json_true()))) {
        json_decref(*result);
        *result = NULL;
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    }
    return GR_OK;
}

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
