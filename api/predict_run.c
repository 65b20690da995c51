/* predict_run.c - see predict_run.h: settings, the per-sample stages
 * (dosages, predict, coverage gate, encode) and the response. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/buffer.h"
#include "api/predict_run.h"
#include "api/predict_vcf.h"
#include "api/problem.h"

typedef struct scratch scratch;
static int scratch_init(scratch *sc, const gr_api_job *job, const scratch *like, int values);
static void scratch_free(scratch *sc);
static const double *dosages(const gr_api_job *job, scratch *sc, size_t i);
static int coverage_ok(const gr_api_job *job, size_t observed);

struct gr_api_scorer {
    const gr_api_job *job;
    scratch *sc;
};
static scratch *scratch_new(const gr_api_job *job, const scratch *like);

gr_api_settings gr_api_settings_unset(void)
{
    return (gr_api_settings){ -1, -1, -1, -1, -1, -1, -1, -1, NAN };
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

/* ---- one sample ---- */

struct scratch {
    gr_workspace *ws;
    double *x, *phi, *used; /* n_features each */
    double *fill;           /* what a missing call becomes, NaN: stays missing */
    double *fill_one;       /* fill for one JSON sample under drop_unmatched */
    uint8_t *out;           /* the policy leaves the feature out (JSON input) */
    uint8_t *once;          /* the feature is the first of the model's to use its VCF
                             * record: what plink2 counts in ALLELE_CT and DENOM */
};

static void scratch_free(scratch *sc)
{
    gr_workspace_free(sc->ws);
    free(sc->x);
    free(sc->phi);
    free(sc->used);
    free(sc->fill);
    free(sc->fill_one);
    free(sc->out);
    free(sc->once);
}

typedef struct {
    uint64_t record;
    size_t j;
} use;

static int by_record(const void *a, const void *b)
{
    const use *x = a, *y = b;
    if (x->record != y->record)
        return x->record < y->record ? -1 : 1;
    return x->j < y->j ? -1 : x->j > y->j;
}

uint64_t gr_api_shared_record(const gr_vcf_result *r, size_t f)
{
    return r->status[f] == GR_VAR_MATCHED && r->how[f] != 3 ? r->record[f] : 0;
}

/* sc->once: every feature but those whose VCF record an earlier feature of
 * the model already uses (two rows of one score at one variant). 0 when
 * out of memory. */
static int first_of_record(const gr_api_job *job, scratch *sc, size_t nf)
{
    memset(sc->once, 1, nf ? nf : 1);
    if (!job->vcf)
        return 1;
    size_t from = job->vcf->model_first[job->vcf_model];
    use *u = malloc((nf ? nf : 1) * sizeof *u);
    if (!u)
        return 0;
    for (size_t j = 0; j < nf; j++)
        u[j] = (use){ gr_api_shared_record(job->vcf, from + j), j };
    qsort(u, nf, sizeof *u, by_record);
    for (size_t j = 1; j < nf; j++)
        if (u[j].record && u[j].record == u[j - 1].record)
            sc->once[u[j].j] = 0;
    free(u);
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
static int fill_values(const gr_api_job *job, scratch *sc, int values)
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
static int scratch_init(scratch *sc, const gr_api_job *job, const scratch *like, int values)
{
    size_t nf = gr_model_get_info(job->m)->n_features;
    size_t n = nf ? nf : 1;
    sc->ws = gr_workspace_new(job->m);
    sc->x = malloc(n * sizeof *sc->x);
    sc->phi = malloc(n * sizeof *sc->phi);
    sc->used = malloc(n * sizeof *sc->used);
    sc->fill = malloc(n * sizeof *sc->fill);
    sc->fill_one = malloc(n * sizeof *sc->fill_one);
    sc->out = malloc(n);
    sc->once = malloc(n);
    if (!sc->ws || !sc->x || !sc->phi || !sc->used || !sc->fill || !sc->fill_one || !sc->out ||
        !sc->once || !first_of_record(job, sc, nf))
        return 0;
    gr_workspace_set_impute(sc->ws, (gr_impute)job->set.impute);
    if (like) {
        memcpy(sc->fill, like->fill, n * sizeof *sc->fill);
        memcpy(sc->out, like->out, n);
    } else if (!fill_values(job, sc, values)) {
        return 0;
    }
    gr_workspace_set_fill(sc->ws, sc->fill);
    return 1;
}

/* A new scratch, initialised; NULL when out of memory. */
static scratch *scratch_new(const gr_api_job *job, const scratch *like)
{
    scratch *sc = calloc(1, sizeof *sc);
    if (sc && !scratch_init(sc, job, like, 1)) {
        scratch_free(sc);
        free(sc);
        return NULL;
    }
    return sc;
}

/* Sample i's dosages in model order, NaN for missing (borrowed), with the
 * policy applied: variants it leaves out are missing and never imputed;
 * under drop_unmatched, so are those a JSON sample did not give. */
static const double *dosages(const gr_api_job *job, scratch *sc, size_t i)
{
    const double *x = raw_dosages(job, sc->x, i);
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
        !job->json->keyed[i]) { /* a "dosages" array gives every variant */
        gr_workspace_set_fill(sc->ws, sc->fill);
        return x;
    }
    /* a genotype key the sample did not send is unmatched: left out */
    for (size_t j = 0; j < nf; j++)
        sc->fill_one[j] = NAN;
    for (size_t c = job->json->first_cell[i]; c < job->json->first_cell[i + 1]; c++) {
        uint32_t j = job->json->cells[c].feature;
        sc->fill_one[j] = sc->fill[j];
    }
    gr_workspace_set_fill(sc->ws, sc->fill_one);
    return x;
}

/* The coverage gate of the job (min_overlap given, else min_coverage). */
static int coverage_ok(const gr_api_job *job, size_t observed)
{
    size_t n = gr_model_get_info(job->m)->n_features;
    return n == 0 || (double)observed / (double)n >= job->min_coverage;
}

/* Sample i's label: a new reference to its id, or to null. NULL when out
 * of memory. */
static json_t *sample_label(const gr_api_job *job, size_t i)
{
    if (job->json) {
        json_t *id = json_array_get(job->json->ids, i);
        return json_incref(id ? id : json_null());
    }
    return json_string(job->vcf->sample_ids[i]);
}

typedef struct {
    size_t i;
    double mag;
} ranked;

static int by_magnitude(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->mag != y->mag)
        return x->mag < y->mag ? 1 : -1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Appends feature j's attribution to attrs; non-zero when out of memory. */
static int add_attribution(json_t *attrs, const gr_model *m, size_t j, double phi, double orig,
                           double used)
{
    json_t *a = json_object();
    int bad = json_object_set_new(a, "feature", json_string(gr_model_feature(m, j)->id));
    bad |= json_object_set_new(a, "value", json_real(phi));
    bad |= json_object_set_new(a, "dosage", isnan(used) ? json_null() : json_real(used));
    if (isnan(orig) && !isnan(used))
        bad |= json_object_set_new(a, "imputed", json_true());
    if (bad) {
        json_decref(a);
        return 1;
    }
    return json_array_append_new(attrs, a);
}

/* The k largest |phi| in order, ties by feature order, into order[0..k). */
static void top_features(const double *phi, size_t nf, size_t k, ranked *order)
{
    if (k > 32) {
        for (size_t j = 0; j < nf; j++)
            order[j] = (ranked){ j, fabs(phi[j]) };
        qsort(order, nf, sizeof *order, by_magnitude);
        return;
    }
    /* keep the k largest in an insertion-sorted prefix: O(n k) beats sorting
     * all n when k is small, the common case */
    size_t have = 0;
    for (size_t j = 0; j < nf && k; j++) {
        ranked c = { j, fabs(phi[j]) };
        if (have == k && by_magnitude(&c, &order[have - 1]) >= 0)
            continue;
        size_t at = have < k ? have++ : have - 1;
        while (at > 0 && by_magnitude(&c, &order[at - 1]) < 0) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = c;
    }
}

static const char *space_name(gr_space s)
{
    return s == GR_SPACE_MARGIN ? "margin" : s == GR_SPACE_PROBABILITY ? "probability" : "identity";
}

/* {"method", "space", "base_value", "attributions"}; NULL when out of memory. */
static json_t *explanation(const gr_api_job *job, const gr_prediction *p, const double *x,
                           const scratch *sc)
{
    const gr_model_info *info = gr_model_get_info(job->m);
    size_t nf = info->n_features;
    size_t k = job->set.top_k == 0 ? nf : (size_t)job->set.top_k;
    ranked *order = malloc((nf ? nf : 1) * sizeof *order);
    json_t *ex = json_object(), *attrs = json_array();
    int bad = !order || json_object_set_new(ex, "method", json_string(info->explain_method));
    bad |= json_object_set_new(ex, "space", json_string(space_name(info->space)));
    bad |= json_object_set_new(ex, "base_value", json_real(p->base_value));
    if (!bad && k == nf) {
        for (size_t j = 0; j < nf && !bad; j++)
            bad |= add_attribution(attrs, job->m, j, sc->phi[j], x[j], sc->used[j]);
    } else if (!bad) {
        top_features(sc->phi, nf, k, order);
        for (size_t r = 0; r < k && !bad; r++) {
            size_t j = order[r].i;
            bad |= add_attribution(attrs, job->m, j, sc->phi[j], x[j], sc->used[j]);
        }
    }
    free(order);
    bad |= json_object_set_new(ex, "attributions", attrs);
    if (bad) {
        json_decref(ex);
        return NULL;
    }
    return ex;
}

/* {"expected", "observed", "imputed", "missing"} plus how the model's
 * variants were matched: by the file's records for a VCF, by sample i's
 * genotype keys for JSON (not for a dense "dosages" array, which names no
 * variant). NULL when out of memory. */
static json_t *coverage(const gr_api_job *job, size_t i, const gr_prediction *p)
{
    json_t *c = json_pack("{s:I, s:I, s:I, s:I}", "expected", (json_int_t)p->n_expected, "observed",
                          (json_int_t)p->n_observed, "imputed", (json_int_t)p->n_imputed, "missing",
                          (json_int_t)p->n_missing);
    const gr_match_counts *mt = job->vcf ? &job->vcf_counts
                                : job->json && job->json->keyed && job->json->keyed[i]
                                    ? &job->json->match[i]
                                    : NULL;
    if (!c || !mt)
        return c;
    json_t *more =
        json_pack("{s:I, s:I, s:I, s:I, s:I}", "matched", (json_int_t)mt->matched, "flipped",
                  (json_int_t)mt->flipped, "swapped", (json_int_t)mt->swapped, "ambiguous",
                  (json_int_t)mt->ambiguous, "multiallelic", (json_int_t)mt->multiallelic);
    if (!more || json_object_update(c, more)) {
        json_decref(c);
        c = NULL;
    }
    json_decref(more);
    return c;
}

/* Why sample i may not be scored, for its error or the request's 422. */
static void coverage_detail(const gr_api_job *job, size_t i, const gr_prediction *p, char *buf,
                            size_t size)
{
    double share = p->n_expected ? (double)p->n_observed / (double)p->n_expected : 1.0;
    int n = snprintf(buf, size,
                     "sample #%zu: %zu of %zu model variants observed (%.1f%%), below the "
                     "model's min_coverage of %.0f%% (imputed %zu, missing %zu",
                     i + 1, p->n_observed, p->n_expected, 100 * share, 100 * job->min_coverage,
                     p->n_imputed, p->n_missing);
    if (n < 0 || (size_t)n >= size)
        return;
    if (job->vcf) {
        const gr_vcf_match *mt = &job->vcf_counts;
        snprintf(buf + n, size - (size_t)n,
                 "; matched %zu, flipped %zu, swapped %zu, ambiguous %zu, multiallelic %zu); "
                 "check the genome build and chromosome names, try absent=ref for "
                 "variants-only VCFs, or send allow_low_coverage=true",
                 mt->matched, mt->flipped, mt->swapped, mt->ambiguous, mt->multiallelic);
    } else {
        snprintf(buf + n, size - (size_t)n,
                 "); check that the genotype keys name the model's variants (feature_id, "
                 "rsid or chrom:pos:ref:alt), or send allow_low_coverage=true");
    }
}

/* The result of a sample that may not be scored: its label, coverage and
 * a problem object. NULL when out of memory. */
static json_t *error_result(const gr_api_job *job, size_t i, const gr_prediction *p,
                            const char *detail)
{
    const gr_problem_kind *k = gr_problem_kind_of(GR_PROBLEM_LOW_COVERAGE);
    json_t *r = json_object();
    int bad = json_object_set_new(r, "sample", sample_label(job, i));
    bad |= json_object_set_new(r, "index", json_integer((json_int_t)i));
    bad |= json_object_set_new(r, "coverage", coverage(job, i, p));
    bad |= json_object_set_new(
        r, "error",
        gr_problem_object(k->status, k->slug, k->title, detail, "coverage", NULL, NULL));
    if (bad) {
        json_decref(r);
        return NULL;
    }
    return r;
}

void gr_api_pgs_numbers(const gr_prediction *p, const double *x, const double *used,
                        const uint8_t *once, size_t nf, gr_api_pgs *out)
{
    out->sum = p->margin;
    out->allele_ct = out->denom = 0;
    out->named_dosage_sum = 0;
    for (size_t j = 0; j < nf; j++) {
        if (once && !once[j])
            continue;
        out->allele_ct += isnan(x[j]) ? 0 : 2;
        out->denom += isnan(used[j]) ? 0 : 2;
        out->named_dosage_sum += isnan(x[j]) ? 0 : x[j];
    }
    out->avg = out->denom ? out->sum / (double)out->denom : NAN;
}

/* {"sum", "avg", "denom", "allele_ct", "named_allele_dosage_sum"} of a PGS
 * model's sample; NULL when out of memory. */
static json_t *pgs_object(const gr_api_job *job, const gr_prediction *p, const double *x,
                          const scratch *sc)
{
    gr_api_pgs g;
    gr_api_pgs_numbers(p, x, sc->used, sc->once, gr_model_get_info(job->m)->n_features, &g);
    return json_pack("{s:f, s:o, s:I, s:I, s:f}", "sum", g.sum, "avg",
                     isnan(g.avg) ? json_null() : json_real(g.avg), "denom", (json_int_t)g.denom,
                     "allele_ct", (json_int_t)g.allele_ct, "named_allele_dosage_sum",
                     g.named_dosage_sum);
}

/* A scored sample's result; NULL when out of memory. */
static json_t *scored_result(const gr_api_job *job, size_t i, const gr_prediction *p,
                             const double *x, const scratch *sc, int low)
{
    json_t *r = json_object();
    int bad = json_object_set_new(r, "sample", sample_label(job, i));
    bad |= json_object_set_new(r, "index", json_integer((json_int_t)i));
    bad |= json_object_set_new(r, "score", json_real(p->score));
    bad |= json_object_set_new(r, "margin", json_real(p->margin));
    bad |= json_object_set_new(r, "coverage", coverage(job, i, p));
    if (gr_model_get_info(job->m)->format == GR_FORMAT_PGS_CATALOG)
        bad |= json_object_set_new(r, "pgs", pgs_object(job, p, x, sc));
    if (low)
        bad |= json_object_set_new(r, "low_coverage", json_true());
    if (job->set.explain && !bad)
        bad |= json_object_set_new(r, "explanation", explanation(job, p, x, sc));
    if (bad) {
        json_decref(r);
        return NULL;
    }
    return r;
}

static gr_status predict_one(const gr_api_job *job, scratch *sc, size_t i, json_t **result,
                             gr_error *err)
{
    const double *x = dosages(job, sc, i);
    gr_prediction p;
    gr_status st =
        gr_predict(job->m, sc->ws, x, &p, job->set.explain ? sc->phi : NULL, sc->used, err);
    if (st) {
        if (err) { /* name the sample before the feature the core named */
            char feature[sizeof err->field];
            memcpy(feature, err->field, sizeof feature);
            snprintf(err->field, sizeof err->field, "samples[%zu].%.80s", i, feature);
        }
        return st;
    }
    int low = !coverage_ok(job, p.n_observed);
    if (low && !job->set.allow_low_coverage) {
        char detail[600];
        coverage_detail(job, i, &p, detail, sizeof detail);
        *result = error_result(job, i, &p, detail);
    } else {
        *result = scored_result(job, i, &p, x, sc, low);
    }
    return *result ? GR_OK : gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
}

gr_status gr_api_predict_range(const gr_api_job *job, size_t first, size_t step, json_t **results,
                               gr_error *err)
{
    scratch sc = { 0 };
    gr_status st = GR_OK;
    size_t n = gr_api_job_samples(job);
    if (job->lo + first < n && !scratch_init(&sc, job, job->like ? job->like->sc : NULL, 1)) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    size_t end = job->hi && job->hi < n ? job->hi : n;
    for (size_t i = job->lo + first; i < end; i += step ? step : 1) {
        if (job->stop && job->stop(job->stop_arg))
            break;
        if ((st = predict_one(job, &sc, i, &results[i], err)))
            break;
    }

fail:
    scratch_free(&sc);
    return st;
}

/* ---- the response, written as it is computed ---- */

/* The first of the job's samples that may not be scored, and how many may
 * not: only dosages are counted, nothing is predicted. */
static size_t count_unscored(const gr_api_job *job, scratch *sc, size_t *first)
{
    size_t n = gr_api_job_samples(job), nf = gr_model_get_info(job->m)->n_features, bad = 0;
    for (size_t i = 0; i < n && !job->set.allow_low_coverage; i++) {
        const double *x = dosages(job, sc, i);
        size_t observed = 0;
        for (size_t j = 0; j < nf; j++)
            observed += !isnan(x[j]);
        if (!coverage_ok(job, observed) && !bad++)
            *first = i;
    }
    return bad;
}

static json_t *source_warnings(const gr_api_job *job)
{
    if (job->json) /* a copy: the request's own list stays as parsed */
        return json_copy(job->json->warnings);
    return gr_api_vcf_warnings(job->vcf);
}

static gr_status put(gr_api_writer *w, const char *bytes, size_t n, gr_error *err)
{
    size_t max = w->job->max_bytes;
    if (max && w->bytes + n > max)
        return gr_error_set(err, GR_ELIMIT, NULL, 0, NULL,
                            "the answer grew past the %zu-byte limit on answers "
                            "(--max-response-bytes); ask for fewer attributions (top_k) or "
                            "fewer samples per request",
                            max);
    w->bytes += n;
    if (w->write(w->arg, bytes, n))
        return gr_error_set(err, GR_EIO, NULL, 0, NULL, "the response could not be written");
    return GR_OK;
}

/* Writes member "key": value of the top-level object (value borrowed). */
static gr_status put_member(gr_api_writer *w, const char *key, const json_t *value, int first,
                            gr_error *err)
{
    size_t flags =
        JSON_REAL_PRECISION(17) | JSON_ENCODE_ANY | (w->pretty ? JSON_INDENT(2) : JSON_COMPACT);
    char *text = gr_api_json_dumps(value, flags);
    if (!text)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    char head[80];
    int n = snprintf(head, sizeof head, "%s%s\"%s\":%s", first ? "" : ",", w->pretty ? "\n  " : "",
                     key, w->pretty ? " " : "");
    gr_status st = put(w, head, (size_t)n, err);
    /* indented one level deeper than jansson writes a top-level value */
    for (const char *p = text; !st && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
        st = put(w, p, len, err);
        if (!st && nl && w->pretty)
            st = put(w, "  ", 2, err);
        p += len;
    }
    free(text);
    return st;
}

/* The least the answer can take, against job->max_bytes: each result at
 * least 100 bytes ({"sample":..,"index":..,"score":..,"coverage":{9
 * counts}} compact), each attribution at least 32
 * ({"feature":"","value":0,"dosage":0}). Nothing is scanned: it is asked
 * of every request. */
static gr_status check_size(const gr_api_job *job, gr_error *err)
{
    size_t n = gr_api_job_samples(job), nf = gr_model_get_info(job->m)->n_features;
    if (!job->max_bytes || !n)
        return GR_OK;
    size_t k = !job->set.explain ? 0 : job->set.top_k == 0 ? nf : (size_t)job->set.top_k;
    double least = (double)n * (100.0 + 32.0 * (double)k);
    if (least <= (double)job->max_bytes)
        return GR_OK;
    return gr_error_set(err, GR_ELIMIT, NULL, 0, NULL,
                        "the answer would take at least %.0f bytes (%zu samples x %zu "
                        "attributions), over the %zu-byte limit on answers "
                        "(--max-response-bytes); ask for fewer attributions (top_k) or fewer "
                        "samples per request",
                        least, n, k, job->max_bytes);
}

gr_status gr_api_job_check(const gr_api_job *job, size_t *unscored, gr_error *err)
{
    scratch sc = { 0 };
    gr_status st = GR_OK;
    size_t n = gr_api_job_samples(job), first = 0, bad = 0;
    if (!scratch_init(&sc, job, NULL, 0)) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    bad = count_unscored(job, &sc, &first);
    if (unscored)
        *unscored = bad;
    if (n && bad == n) { /* decided before a byte is written */
        gr_prediction p;
        char detail[600];
        if (!fill_values(job, &sc, 1)) { /* the counts of the detail are the answer's */
            st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
            goto fail;
        }
        if ((st = gr_predict(job->m, sc.ws, dosages(job, &sc, first), &p, NULL, NULL, err)))
            goto fail;
        coverage_detail(job, first, &p, detail, sizeof detail);
        st = n == 1 ? gr_error_set(err, GR_ECOVERAGE, NULL, 0, "coverage", "%s", detail)
                    : gr_error_set(err, GR_ECOVERAGE, NULL, 0, "coverage",
                                   "none of the %zu samples has enough of the model's variants "
                                   "to be scored; %s",
                                   n, detail);
        goto fail;
    }
    st = check_size(job, err);

fail:
    scratch_free(&sc);
    return st;
}

gr_status gr_api_write_begin(gr_api_writer *w, const gr_api_job *job, int pretty,
                             gr_api_write_fn write, void *arg, gr_error *err)
{
    *w = (gr_api_writer){ .job = job, .write = write, .arg = arg, .pretty = pretty };
    gr_status st = gr_api_job_check(job, &w->unscored, err);
    if (st)
        return st;
    const gr_model_info *in = gr_model_get_info(job->m);
    json_t *model = json_pack("{s:s, s:s}", "name", in->name, "version", in->version);
    st =
        !model ? gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory") : put(w, "{", 1, err);
    if (!st)
        st = put_member(w, "model", model, 1, err);
    json_decref(model);
    if (!st) {
        const char *head = w->pretty ? ",\n  \"results\": [" : ",\"results\":[";
        st = put(w, head, strlen(head), err);
    }
    return st;
}

gr_status gr_api_write_results(gr_api_writer *w, json_t **results, size_t lo, size_t hi,
                               gr_error *err)
{
    gr_status st = GR_OK;
    size_t flags = JSON_REAL_PRECISION(17) | (w->pretty ? JSON_INDENT(2) : JSON_COMPACT);
    for (size_t i = lo; i < hi; i++) {
        char *text = st ? NULL : gr_api_json_dumps(results[i], flags);
        json_decref(results[i]);
        results[i] = NULL;
        if (st)
            continue;
        if (!text) {
            st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
            continue;
        }
        st = put(w, w->written ? "," : "", w->written ? 1 : 0, err);
        for (const char *p = text; !st && *p;) { /* each line indented two levels */
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
            if (w->pretty)
                st = put(w, p == text ? "\n    " : "    ", p == text ? 5 : 4, err);
            if (!st)
                st = put(w, p, len, err);
            p += len;
        }
        w->written++;
        free(text);
    }
    return st;
}

gr_status gr_api_write_end(gr_api_writer *w, json_t *extra, gr_error *err)
{
    json_t *warnings = source_warnings(w->job);
    gr_status st = GR_OK;
    if (!warnings) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    if (w->unscored) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "%zu of %zu samples are below the model's min_coverage and have an error "
                 "instead of a score",
                 w->unscored, gr_api_job_samples(w->job));
        if (json_array_append_new(warnings, json_string(msg))) {
            st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
            goto fail;
        }
    }
    if ((st = put(w, w->pretty ? "\n  ]" : "]", w->pretty ? 4 : 1, err)) ||
        (st = put_member(w, "warnings", warnings, 0, err)))
        goto fail;
    const char *key;
    json_t *value;
    json_object_foreach(extra, key, value)
    {
        if ((st = put_member(w, key, value, 0, err)))
            goto fail;
    }
    st = put(w, w->pretty ? "\n}" : "}", w->pretty ? 2 : 1, err);

fail:
    json_decref(warnings);
    return st;
}

gr_status gr_api_write_samples(gr_api_writer *w, gr_error *err)
{
    const gr_api_job *job = w->job;
    scratch sc = { 0 };
    json_t *one = NULL;
    gr_status st = GR_OK;
    if (!scratch_init(&sc, job, NULL, 1)) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < gr_api_job_samples(job); i++) {
        if (job->stop && job->stop(job->stop_arg)) {
            st = gr_error_set(err, GR_EIO, NULL, 0, NULL, "stopped");
            goto fail;
        }
        if ((st = predict_one(job, &sc, i, &one, err)) ||
            (st = gr_api_write_results(w, &one, 0, 1, err)))
            goto fail;
    }

fail:
    json_decref(one);
    scratch_free(&sc);
    return st;
}

gr_status gr_api_predict_write(const gr_api_job *job, int pretty, json_t *extra,
                               gr_api_write_fn write, void *arg, gr_error *err)
{
    gr_api_writer w;
    gr_status st = gr_api_write_begin(&w, job, pretty, write, arg, err);
    if (!st)
        st = gr_api_write_samples(&w, err);
    if (!st)
        st = gr_api_write_end(&w, extra, err);
    return st;
}

/* A growing buffer as the writer's destination. */
static int to_buffer(void *arg, const char *bytes, size_t n)
{
    return !gr_buf_append(arg, bytes, n, 0);
}

/* gr_api_predict_write into memory: *text new and NUL-terminated; GR_EIO
 * when stop asked to stop. */
static gr_status predict_text(const gr_api_job *job, json_t *extra, char **text, size_t *len,
                              gr_error *err)
{
    gr_buf b = { 0 };
    *text = NULL;
    gr_status st = gr_api_predict_write(job, 0, extra, to_buffer, &b, err);
    if (st == GR_EIO && !(job->stop && job->stop(job->stop_arg)))
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory"); /* the buffer's */
    if (st) {
        free(b.s);
        return st;
    }
    *text = b.s;
    *len = b.len;
    return GR_OK;
}

gr_status gr_api_predict_all(const gr_api_job *job, json_t **doc, gr_error *err)
{
    char *text = NULL;
    size_t len = 0;
    *doc = NULL;
    gr_status st = predict_text(job, NULL, &text, &len, err);
    if (st == GR_EIO)
        return GR_OK; /* stopped: no document */
    if (st)
        return st;
    json_error_t je;
    *doc = gr_api_json_loadb(text, len, 0, &je);
    free(text);
    return *doc ? GR_OK : gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
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
        scratch_free(s->sc);
        free(s->sc);
    }
    free(s);
}

void gr_api_scorer_pgs(const gr_api_scorer *s, const gr_prediction *p, const double *x,
                       gr_api_pgs *out)
{
    gr_api_pgs_numbers(p, x, s->sc->used, s->sc->once, gr_model_get_info(s->job->m)->n_features,
                       out);
}

gr_status gr_api_scorer_run(gr_api_scorer *s, size_t i, gr_prediction *p, const double **x,
                            const double **used, int *scored, gr_error *err)
{
    *x = dosages(s->job, s->sc, i);
    *used = s->sc->used;
    gr_status st = gr_predict(s->job->m, s->sc->ws, *x, p, NULL, s->sc->used, err);
    *scored = !st && (s->job->set.allow_low_coverage || coverage_ok(s->job, p->n_observed));
    return st;
}
