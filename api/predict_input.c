/* predict_input.c - what a job scores, under its policy: the settings
 * and their precedence, the policy and impute rule resolved, and each
 * sample's dosages with the policy applied (variants left out, what a
 * missing call becomes: the model's mean or the cohort's), in a scratch
 * per thread; the one-sample scorer the table writers use. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/predict_internal.h"
#include "core/match.h"

gr_api_settings gr_api_settings_unset(void)
{
    return (gr_api_settings){ .explain = -1,
                              .top_k = -1,
                              .impute = -1,
                              .allow_low_coverage = -1,
                              .policy = -1,
                              .ambiguous = -1,
                              .multiallelic = -1,
                              .chrx = -1,
                              .min_overlap = NAN,
                              .group_by = -1 };
}

void gr_api_resolve_policy(const gr_model *m, const gr_api_settings *given, gr_policy *policy,
                           gr_impute *impute)
{
    const gr_model_info *in = gr_model_get_info(m);
    gr_api_settings s = given ? *given : gr_api_settings_unset();
    gr_policy p = s.policy >= 0 ? gr_policy_named((gr_policy_name)s.policy) : in->policy;
    if (s.ambiguous >= 0 || s.multiallelic >= 0 || s.chrx >= 0)
        p.name = GR_POLICY_CUSTOM;
    if (s.ambiguous >= 0)
        p.drop_ambiguous = s.ambiguous;
    if (s.multiallelic >= 0)
        p.drop_multiallelic = s.multiallelic;
    if (s.chrx >= 0)
        p.chrx = s.chrx ? GR_CHRX_SKIP : GR_CHRX_DOUBLE;
    *policy = p;
    *impute = s.impute >= 0                    ? (gr_impute)s.impute
              : s.policy >= 0 && p.impute >= 0 ? (gr_impute)p.impute
                                               : in->impute;
}

void gr_api_job_init(gr_api_job *job, const gr_model *m, const gr_api_request *json,
                     const gr_vcf_result *vcf, const gr_api_settings *given)
{
    const gr_model_info *in = gr_model_get_info(m);
    memset(job, 0, sizeof *job);
    job->m = m;
    job->json = json;
    job->vcf = vcf;
    gr_api_settings s = given ? *given : gr_api_settings_unset();
    if (s.explain < 0)
        s.explain = json ? json->explain : 1;
    if (s.top_k < 0)
        s.top_k = json ? json->top_k : GR_API_DEFAULT_TOP_K;
    if ((size_t)s.top_k > in->n_features)
        s.top_k = (long)in->n_features;
    gr_impute impute;
    gr_api_resolve_policy(m, &s, &job->policy, &impute);
    s.impute = (int)impute;
    if (s.allow_low_coverage < 0)
        s.allow_low_coverage = 0;
    if (s.group_by < 0)
        s.group_by = json ? json->group_by : GR_API_GROUP_NONE;
    job->min_coverage = isnan(s.min_overlap) ? in->min_coverage : s.min_overlap;
    job->set = s;
    if (vcf)
        gr_api_job_set_vcf_model(job, 0);
}

void gr_api_job_set_vcf_model(gr_api_job *job, size_t k)
{
    gr_vcf_report rep;
    job->vcf_model = k;
    gr_vcf_model_report(job->vcf, k, &rep);
    job->vcf_counts = (gr_match_counts){ rep.matched, rep.flipped, rep.swapped,
                                         rep.ambiguous_matched, rep.multiallelic_matched };
}

size_t gr_api_job_samples(const gr_api_job *job)
{
    return job->json ? job->json->n_samples : job->vcf ? job->vcf->n_samples : 0;
}

int gr_api_setting_parse(gr_api_settings *s, const char *key, const char *value, char *why,
                         size_t why_size)
{
    if (!strcmp(key, "explain") || !strcmp(key, "allow_low_coverage")) {
        int *dst = key[0] == 'e' ? &s->explain : &s->allow_low_coverage;
        if (value && !strcmp(value, "true"))
            *dst = 1;
        else if (value && !strcmp(value, "false"))
            *dst = 0;
        else {
            snprintf(why, why_size, "%s must be true or false", key);
            return 0;
        }
        return 1;
    }
    if (!strcmp(key, "top_k")) {
        /* digits only; a huge value means "all", like any value over the
         * feature count */
        long v = 0;
        const char *p = value ? value : "";
        for (; *p >= '0' && *p <= '9'; p++)
            v = v > 100000000L ? 1000000000L : v * 10 + (*p - '0');
        if (!value || !*value || *p) {
            snprintf(why, why_size, "top_k must be a whole number >= 0 (0 returns every feature)");
            return 0;
        }
        s->top_k = v;
        return 1;
    }
    if (!strcmp(key, "impute")) {
        gr_impute v;
        if (!value || !gr_impute_parse(value, &v)) {
            snprintf(why, why_size,
                     "impute must be none (missing genotypes take the branch the trees "
                     "learned, or add nothing), mean (the feature's mean dosage) or cohort "
                     "(the mean dosage of the samples scored together)");
            return 0;
        }
        s->impute = (int)v;
        return 1;
    }
    if (!strcmp(key, "group_by")) {
        static const char *const names[] = { "none", "locus", "gene" };
        for (int g = 0; g < 3; g++)
            if (value && !strcmp(value, names[g])) {
                s->group_by = g;
                return 1;
            }
        snprintf(why, why_size,
                 "group_by must be none, locus (sum the attributions of each locus) or gene "
                 "(of each gene)");
        return 0;
    }
    if (!strcmp(key, "min_overlap")) {
        char *end = NULL;
        double v = value && *value ? strtod(value, &end) : NAN;
        if (!end || *end || !(v >= 0 && v <= 1)) {
            snprintf(why, why_size, "min_overlap must be a number from 0 to 1");
            return 0;
        }
        s->min_overlap = v;
        return 1;
    }
    gr_policy p = gr_policy_named(GR_POLICY_TRAINED);
    int set = gr_policy_set(&p, key, value, why, why_size);
    if (set != 1)
        return set;
    if (!strcmp(key, "policy"))
        s->policy = (int)p.name;
    else if (!strcmp(key, "ambiguous"))
        s->ambiguous = p.drop_ambiguous;
    else if (!strcmp(key, "multiallelic"))
        s->multiallelic = p.drop_multiallelic;
    else
        s->chrx = p.chrx == GR_CHRX_SKIP;
    return 1;
}

void gr_api_scratch_free(scratch *sc)
{
    gr_workspace_free(sc->ws);
    free(sc->lane_x);
    free(sc->lane_phi);
    free(sc->lane_used);
    free(sc->fill);
    free(sc->lane_fill);
    free(sc->out);
    free(sc->once);
    free(sc->group_of);
    free(sc->group_first);
    free(sc->group_n);
    free(sc->group_sum);
    if (sc->place) {
        gr_api_scratch_free(sc->place);
        free(sc->place);
    }
    gr_reference_ws_free(sc->rws);
    memset(sc, 0, sizeof *sc);
}

uint64_t gr_api_shared_record(const gr_vcf_result *r, size_t f)
{
    return r->status[f] == GR_VAR_MATCHED && r->how[f] != 3 ? r->record[f] : 0;
}

/* sc->once: every feature but those whose VCF record an earlier feature of
 * the model already uses (two rows of one score at one variant), in one
 * pass with a bit per record. 0 when out of memory. */
static int first_of_record(const gr_api_job *job, scratch *sc, size_t nf)
{
    memset(sc->once, 1, nf ? nf : 1);
    sc->shared = 0;
    if (!job->vcf)
        return 1;
    size_t from = job->vcf->model_first[job->vcf_model];
    uint64_t max = 0;
    for (size_t j = 0; j < nf; j++) {
        uint64_t rec = gr_api_shared_record(job->vcf, from + j);
        max = rec > max ? rec : max;
    }
    uint8_t *seen = calloc(max / 8 + 1, 1);
    if (!seen)
        return 0;
    for (size_t j = 0; j < nf; j++) {
        uint64_t rec = gr_api_shared_record(job->vcf, from + j);
        if (rec && (seen[rec >> 3] >> (rec & 7) & 1)) {
            sc->once[j] = 0;
            sc->shared = 1;
        }
        seen[rec >> 3] |= (uint8_t)(1u << (rec & 7));
    }
    free(seen);
    return 1;
}

/* 1 when the job's variant j is in the source at all: matched by a record
 * of the VCF (JSON: always; whether the sample gave it is per sample). */
static int in_source(const gr_api_job *job, size_t j)
{
    if (!job->vcf)
        return 1;
    size_t f = job->vcf->model_first[job->vcf_model] + j;
    return job->vcf->status[f] == GR_VAR_MATCHED;
}

/* The raw dosages of sample i, NaN for missing, into x (JSON input: as
 * given, before the policy leaves features out). */
static const double *raw_dosages(const gr_api_job *job, double *x, size_t i)
{
    if (job->json && job->json->x)
        return job->json->x + i * job->json->n_features;
    if (job->json)
        gr_api_request_dosages(job->json, i, x);
    else
        gr_vcf_model_dosages(job->vcf, job->vcf_model, i, x);
    return x;
}

/* The mean dosage of variant j over the job's samples, NaN when fewer than
 * two samples or none observed (impute=cohort, as plink2 takes allele
 * frequencies from the samples it scores). 0 when out of memory. */
static int cohort_means(const gr_api_job *job, scratch *sc, double *mean)
{
    size_t n = gr_api_job_samples(job), nf = gr_model_get_info(job->m)->n_features;
    size_t *count = calloc(nf ? nf : 1, sizeof *count);
    if (!count)
        return 0;
    for (size_t j = 0; j < nf; j++)
        mean[j] = 0;
    for (size_t i = 0; n > 1 && i < n; i++) {
        const double *x = raw_dosages(job, sc->x, i);
        for (size_t j = 0; j < nf; j++)
            if (!isnan(x[j])) {
                mean[j] += x[j];
                count[j]++;
            }
    }
    for (size_t j = 0; j < nf; j++)
        mean[j] = count[j] && n > 1 ? mean[j] / (double)count[j] : NAN;
    free(count);
    return 1;
}

/* What each missing dosage of the job becomes (sc->fill): the policy's
 * left-out variants and, under drop_unmatched, variants the source does not
 * hold stay missing; the rest take the impute rule's value. Without values
 * the cohort's means are not computed (a pass over every sample): only
 * which features are left out is wanted. 0 when out of memory. */
int gr_api_scratch_fill(const gr_api_job *job, scratch *sc, int values)
{
    const gr_model *m = job->m;
    size_t nf = gr_model_get_info(m)->n_features;
    gr_impute how = (gr_impute)job->set.impute;
    if (how == GR_IMPUTE_COHORT && values) {
        if (!cohort_means(job, sc, sc->fill))
            return 0;
    } else if (how == GR_IMPUTE_COHORT) {
        for (size_t j = 0; j < nf; j++)
            sc->fill[j] = NAN; /* the model's means stand in */
    }
    for (size_t j = 0; j < nf; j++) {
        const gr_feature *f = gr_model_feature(m, j);
        double mean = f->mean;
        if (how == GR_IMPUTE_COHORT && !isnan(sc->fill[j]))
            mean = sc->fill[j];
        /* left out: what the policy excludes whatever the input, and a VCF's
         * matches in multi-allelic records under multiallelic=drop */
        sc->out[j] =
            (uint8_t)(gr_policy_excludes(&job->policy, f) ||
                      (job->vcf && job->vcf->status[job->vcf->model_first[job->vcf_model] + j] ==
                                       GR_VAR_MULTIALLELIC));
        if (how == GR_IMPUTE_NONE || sc->out[j] ||
            (job->policy.drop_unmatched && !in_source(job, j)))
            mean = NAN;
        sc->fill[j] = mean;
    }
    return 1;
}

/* Sizes sc for job; its fill values are like's (NULL: computed; values 0:
 * see fill_values). 0 when out of memory. */
/* The scratch of job->place and the reference's projection scratch. */
static int place_init(scratch *sc, const gr_api_job *job)
{
    const gr_reference *ref = gr_model_reference(job->m, NULL);
    sc->place = calloc(1, sizeof *sc->place);
    if (!sc->place || !gr_api_scratch_init(sc->place, job->place, NULL, 1))
        return 0;
    return ref && (sc->rws = gr_reference_ws_new(ref)) != NULL;
}

int gr_api_scratch_init(scratch *sc, const gr_api_job *job, const scratch *like, int values)
{
    size_t nf = gr_model_get_info(job->m)->n_features;
    size_t n = nf ? nf : 1;
    size_t lanes = gr_model_batch_width(job->m);
    sc->ws = gr_workspace_new(job->m);
    sc->lanes = lanes;
    sc->lane_x = malloc(lanes * n * sizeof *sc->lane_x);
    sc->lane_phi = malloc(lanes * n * sizeof *sc->lane_phi);
    sc->lane_used = malloc(lanes * n * sizeof *sc->lane_used);
    sc->fill = malloc(n * sizeof *sc->fill);
    sc->lane_fill = malloc(lanes * n * sizeof *sc->lane_fill);
    sc->out = malloc(n);
    sc->once = malloc(n);
    if (!sc->ws || !sc->lane_x || !sc->lane_phi || !sc->lane_used || !sc->fill || !sc->lane_fill ||
        !sc->out || !sc->once)
        return 0;
    gr_api_scratch_lane(sc, job, 0);
    gr_workspace_set_impute(sc->ws, (gr_impute)job->set.impute);
    /* like's values are copied; without values (the coverage check) the
     * record-sharing mask is not wanted either (a sort of every variant) */
    if (like) {
        memcpy(sc->fill, like->fill, n * sizeof *sc->fill);
        memcpy(sc->out, like->out, n);
        memcpy(sc->once, like->once, n);
        sc->shared = like->shared;
    } else if (!gr_api_scratch_fill(job, sc, values) ||
               (values ? !first_of_record(job, sc, nf) : !memset(sc->once, 1, n))) {
        return 0;
    }
    gr_workspace_set_fill(sc->ws, sc->fill);
    return !job->place || place_init(sc, job);
}

/* A new scratch, initialised; NULL when out of memory. */
static scratch *scratch_new(const gr_api_job *job, const scratch *like)
{
    scratch *sc = calloc(1, sizeof *sc);
    if (sc && !gr_api_scratch_init(sc, job, like, 1)) {
        gr_api_scratch_free(sc);
        free(sc);
        return NULL;
    }
    return sc;
}

void gr_api_scratch_lane(scratch *sc, const gr_api_job *job, size_t k)
{
    size_t nf = gr_model_get_info(job->m)->n_features, n = nf ? nf : 1;
    sc->x = sc->lane_x + k * n;
    sc->phi = sc->lane_phi + k * n;
    sc->used = sc->lane_used + k * n;
    sc->fill_one = sc->lane_fill + k * n;
}

const double *gr_api_dosages(const gr_api_job *job, scratch *sc, size_t i)
{
    const double *fill;
    const double *x = gr_api_dosages_fill(job, sc, i, &fill);
    gr_workspace_set_fill(sc->ws, fill);
    return x;
}

/* Sample i's dosages in model order, NaN for missing (borrowed), with the
 * policy applied: variants it leaves out are missing and never imputed;
 * under drop_unmatched, so are those a JSON sample did not give. */
const double *gr_api_dosages_fill(const gr_api_job *job, scratch *sc, size_t i, const double **fill)
{
    const double *x = raw_dosages(job, sc->x, i);
    *fill = sc->fill;
    if (!job->json)
        return x; /* the reader applied the policy */
    size_t nf = job->json->n_features;
    if (x != sc->x) {
        memcpy(sc->x, x, nf * sizeof *x);
        x = sc->x;
    }
    for (size_t j = 0; j < nf; j++)
        if (sc->out[j])
            sc->x[j] = NAN;
    if (!job->policy.drop_unmatched || job->json->x || !job->json->keyed ||
        !job->json->keyed[i]) /* a "dosages" array gives every variant */
        return x;
    /* a genotype key the sample did not send is unmatched: left out */
    for (size_t j = 0; j < nf; j++)
        sc->fill_one[j] = NAN;
    for (size_t c = job->json->first_cell[i]; c < job->json->first_cell[i + 1]; c++) {
        uint32_t j = job->json->cells[c].feature;
        sc->fill_one[j] = sc->fill[j];
    }
    *fill = sc->fill_one;
    return x;
}

/* The coverage gate of the job (min_overlap given, else min_coverage). */
int gr_api_coverage_ok(const gr_api_job *job, size_t observed)
{
    size_t n = gr_model_get_info(job->m)->n_features;
    return n == 0 || (double)observed / (double)n >= job->min_coverage;
}

/* ---- one sample at a time ---- */

gr_api_scorer *gr_api_scorer_new(const gr_api_job *job, const gr_api_scorer *like)
{
    gr_api_scorer *s = calloc(1, sizeof *s);
    if (s && (s->job = job, !(s->sc = scratch_new(job, like ? like->sc : NULL)))) {
        gr_api_scorer_free(s);
        return NULL;
    }
    return s;
}

void gr_api_scorer_free(gr_api_scorer *s)
{
    if (!s)
        return;
    if (s->sc) {
        gr_api_scratch_free(s->sc);
        free(s->sc);
    }
    free(s);
}

void gr_api_scorer_pgs(const gr_api_scorer *s, const gr_prediction *p, const double *x,
                       gr_api_pgs *out)
{
    gr_api_pgs_numbers(p, x, s->sc->used, s->sc->shared ? s->sc->once : NULL,
                       gr_model_get_info(s->job->m)->n_features, out);
}

gr_status gr_api_scorer_run(gr_api_scorer *s, size_t i, gr_prediction *p, const double **x,
                            const double **used, int *scored, gr_error *err)
{
    *x = gr_api_dosages(s->job, s->sc, i);
    *used = s->sc->used;
    gr_status st = gr_predict(s->job->m, s->sc->ws, *x, p, NULL, s->sc->used, err);
    *scored = !st && (s->job->set.allow_low_coverage || gr_api_coverage_ok(s->job, p->n_observed));
    return st;
}
