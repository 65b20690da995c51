/* predict_run.c - see predict_run.h: a sample predicted and encoded
 * (its result, coverage, PGS numbers, explanation), the job's samples over
 * a range, and the response written as it is computed. The dosages and
 * their policy come from predict_input.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/buffer.h"
#include "api/predict_internal.h"
#include "api/predict_place.h"
#include "api/predict_vcf.h"
#include "api/problem.h"

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

/* ---- group_by: attributions summed per locus or gene ---- */

/* Feature j's group name under by: its locus or gene, "" for none. */
static const char *group_label(const gr_model *m, size_t j, int by)
{
    const gr_feature *f = gr_model_feature(m, j);
    return by == GR_API_GROUP_LOCUS ? f->locus : by == GR_API_GROUP_GENE ? f->gene : "";
}

int gr_api_group_by_ok(const gr_model *m, const gr_api_settings *s, char *why, size_t why_size)
{
    int by = s ? s->group_by : -1;
    if (by != GR_API_GROUP_LOCUS && by != GR_API_GROUP_GENE)
        return 1;
    const gr_model_info *in = gr_model_get_info(m);
    if ((by == GR_API_GROUP_LOCUS ? in->n_features_with_locus : in->n_features_with_gene) > 0)
        return 1;
    snprintf(why, why_size,
             "group_by=%s: model %.64s names no %s for any of its variants (%s); ask without "
             "group_by for the attribution of each variant",
             by == GR_API_GROUP_LOCUS ? "locus" : "gene", in->name,
             by == GR_API_GROUP_LOCUS ? "locus" : "gene",
             by == GR_API_GROUP_LOCUS
                 ? "a locus column in features.tsv, or locus_name in a PGS Catalog scoring file"
                 : "a gene column in features.tsv");
    return 0;
}

typedef struct {
    const char *name;
    size_t j;
} named;

static int by_name(const void *a, const void *b)
{
    const named *x = a, *y = b;
    int c = x->name == y->name ? 0 : strcmp(x->name, y->name);
    return c ? c : x->j < y->j ? -1 : x->j > y->j;
}

/* Features that share a locus (gene) form one group; a feature with none is
 * a group of its own, named by its feature id. Groups are numbered in the
 * order of their first feature. Done once per scratch: a sort by name. */
static int groups_init(scratch *sc, const gr_api_job *job)
{
    int by = job->set.group_by;
    if (by != GR_API_GROUP_LOCUS && by != GR_API_GROUP_GENE)
        return 1;
    size_t nf = gr_model_get_info(job->m)->n_features, n = nf ? nf : 1, ng = 0;
    named *ord = malloc(n * sizeof *ord);
    sc->group_of = malloc(n * sizeof *sc->group_of);
    sc->group_first = malloc(n * sizeof *sc->group_first);
    sc->group_n = calloc(n, sizeof *sc->group_n);
    sc->group_sum = malloc(n * sizeof *sc->group_sum);
    if (!ord || !sc->group_of || !sc->group_first || !sc->group_n || !sc->group_sum) {
        free(ord);
        free(sc->group_of); /* NULL: made again at the next explanation */
        free(sc->group_first);
        free(sc->group_n);
        free(sc->group_sum);
        sc->group_of = sc->group_first = sc->group_n = NULL;
        sc->group_sum = NULL;
        return 0;
    }
    for (size_t j = 0; j < nf; j++)
        ord[j] = (named){ group_label(job->m, j, by), j };
    qsort(ord, nf, sizeof *ord, by_name);
    /* a named group's features: each takes the group's first (lowest) index */
    for (size_t r = 0; r < nf; r++) {
        size_t j = ord[r].j;
        int same = r > 0 && ord[r].name[0] && !strcmp(ord[r].name, ord[r - 1].name);
        sc->group_of[j] = same ? sc->group_of[ord[r - 1].j] : j;
    }
    free(ord);
    /* renumber in feature order */
    for (size_t j = 0; j < nf; j++) {
        size_t lead = sc->group_of[j];
        if (lead == j) {
            sc->group_first[ng] = j;
            sc->group_of[j] = ng++;
        } else {
            sc->group_of[j] = sc->group_of[lead]; /* lead < j: renumbered already */
        }
        sc->group_n[sc->group_of[j]]++;
    }
    sc->n_groups = ng;
    return 1;
}

/* Appends group g's {"group", "value", "features"}; non-zero when out of
 * memory. */
static int add_group(json_t *groups, const gr_api_job *job, const scratch *sc, size_t g)
{
    size_t j = sc->group_first[g];
    const char *name = group_label(job->m, j, job->set.group_by);
    json_t *o =
        json_pack("{s:s, s:f, s:I}", "group", name[0] ? name : gr_model_feature(job->m, j)->id,
                  "value", sc->group_sum[g], "features", (json_int_t)sc->group_n[g]);
    return !o || json_array_append_new(groups, o);
}

/* The groups of the sample just explained (sc->phi), largest |value|
 * first (ties in the order of their first feature), the job's top_k of
 * them (0: all); NULL when out of memory. */
static json_t *groups_array(const gr_api_job *job, scratch *sc)
{
    if (!sc->group_of && !groups_init(sc, job))
        return NULL;
    size_t nf = gr_model_get_info(job->m)->n_features, ng = sc->n_groups;
    size_t k = job->set.top_k == 0 || (size_t)job->set.top_k > ng ? ng : (size_t)job->set.top_k;
    double *sum = sc->group_sum;
    for (size_t g = 0; g < ng; g++)
        sum[g] = 0;
    for (size_t j = 0; j < nf; j++)
        sum[sc->group_of[j]] += sc->phi[j];
    ranked *order = malloc((ng ? ng : 1) * sizeof *order);
    json_t *groups = json_array();
    int bad = !order || !groups;
    if (!bad)
        top_features(sum, ng, k, order);
    for (size_t r = 0; r < k && !bad; r++)
        bad |= add_group(groups, job, sc, order[r].i);
    free(order);
    if (bad) {
        json_decref(groups);
        return NULL;
    }
    return groups;
}

static const char *space_name(gr_space s)
{
    return s == GR_SPACE_MARGIN ? "margin" : s == GR_SPACE_PROBABILITY ? "probability" : "identity";
}

/* {"method", "space", "base_value", "attributions"} and, with group_by,
 * "groups"; NULL when out of memory. */
static json_t *explanation(const gr_api_job *job, const gr_prediction *p, const double *x,
                           scratch *sc)
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
    if (!bad && (job->set.group_by == GR_API_GROUP_LOCUS || job->set.group_by == GR_API_GROUP_GENE))
        bad |= json_object_set_new(ex, "groups", groups_array(job, sc));
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
    if (!once) { /* every variant counts: gr_predict's own counts */
        out->allele_ct = 2 * p->n_observed;
        out->denom = 2 * (p->n_observed + p->n_imputed);
        out->named_dosage_sum = p->observed_sum;
        out->avg = out->denom ? out->sum / (double)out->denom : NAN;
        return;
    }
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
    gr_api_pgs_numbers(p, x, sc->used, sc->shared ? sc->once : NULL,
                       gr_model_get_info(job->m)->n_features, &g);
    return json_pack("{s:f, s:o, s:I, s:I, s:f}", "sum", g.sum, "avg",
                     isnan(g.avg) ? json_null() : json_real(g.avg), "denom", (json_int_t)g.denom,
                     "allele_ct", (json_int_t)g.allele_ct, "named_allele_dosage_sum",
                     g.named_dosage_sum);
}

/* A scored sample's result; NULL when out of memory. */
static json_t *scored_result(const gr_api_job *job, size_t i, const gr_prediction *p,
                             const double *x, scratch *sc, int low)
{
    json_t *risk = NULL, *pop = gr_api_population(job, sc, i, p->score, &risk);
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
    if (!pop || !json_is_null(pop))
        bad |= json_object_set_new(r, "population", pop);
    else
        json_decref(pop);
    if (risk && !json_is_null(risk))
        bad |= json_object_set_new(r, "risk", risk);
    else
        json_decref(risk);
    if (job->set.explain && !bad)
        bad |= json_object_set_new(r, "explanation", explanation(job, p, x, sc));
    if (bad) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* Sample i's result, once predicted into p from x (its lane's). */
static gr_status answer(const gr_api_job *job, scratch *sc, size_t i, const gr_prediction *p,
                        const double *x, json_t **result, gr_error *err)
{
    int low = !gr_api_coverage_ok(job, p->n_observed);
    if (low && !job->set.allow_low_coverage) {
        char detail[600];
        coverage_detail(job, i, p, detail, sizeof detail);
        *result = error_result(job, i, p, detail);
    } else {
        *result = scored_result(job, i, p, x, sc, low);
    }
    return *result ? GR_OK : gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
}

/* Samples idx[0..nb) (nb <= sc->lanes) predicted together, one lane each,
 * then answered in order into results[0..nb). On a bad sample, the ones
 * before it are answered and the error names it. */
static gr_status predict_lanes(const gr_api_job *job, scratch *sc, const size_t *idx, size_t nb,
                               json_t **results, gr_error *err)
{
    const double *x[GR_BATCH_MAX], *fill[GR_BATCH_MAX];
    double *phi[GR_BATCH_MAX], *used[GR_BATCH_MAX];
    gr_prediction p[GR_BATCH_MAX];
    for (size_t k = 0; k < nb; k++) {
        gr_api_scratch_lane(sc, job, k);
        x[k] = gr_api_dosages_fill(job, sc, idx[k], &fill[k]);
        phi[k] = sc->phi;
        used[k] = sc->used;
    }
    size_t good = 0;
    gr_status st = gr_predict_batch(job->m, sc->ws, nb, x, fill, p, job->set.explain ? phi : NULL,
                                    used, &good, err);
    if (st && err) { /* name the sample before the feature the core named */
        char feature[sizeof err->field];
        memcpy(feature, err->field, sizeof feature);
        snprintf(err->field, sizeof err->field, "samples[%zu].%.80s", idx[good], feature);
    }
    gr_status ans = GR_OK;
    for (size_t k = 0; k < good && !ans; k++) {
        gr_api_scratch_lane(sc, job, k);
        ans = answer(job, sc, idx[k], &p[k], x[k], &results[k], err);
    }
    gr_api_scratch_lane(sc, job, 0);
    return ans ? ans : st;
}

gr_status gr_api_predict_range(const gr_api_job *job, size_t first, size_t step, json_t **results,
                               gr_error *err)
{
    scratch sc = { 0 };
    gr_status st = GR_OK;
    size_t n = gr_api_job_samples(job);
    if (job->lo + first < n &&
        !gr_api_scratch_init(&sc, job, job->like ? job->like->sc : NULL, 1)) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    size_t end = job->hi && job->hi < n ? job->hi : n, idx[GR_BATCH_MAX], nb = 0;
    for (size_t i = job->lo + first; i < end; i += step ? step : 1) {
        idx[nb++] = i;
        if (nb < sc.lanes && i + (step ? step : 1) < end)
            continue;
        if (job->stop && job->stop(job->stop_arg))
            break;
        json_t *lane[GR_BATCH_MAX] = { 0 };
        st = predict_lanes(job, &sc, idx, nb, lane, err);
        for (size_t k = 0; k < nb; k++)
            if (lane[k])
                results[idx[k]] = lane[k];
        if (st)
            break;
        nb = 0;
    }

fail:
    gr_api_scratch_free(&sc);
    return st;
}

/* Lanes from..nb of gr_api_predict_jobs predicted together (a linear
 * model: one, with its own workspace); returns how many lanes it consumed,
 * a failing one included. */
static size_t jobs_pass(const gr_api_job *const *lane, scratch *sc, const size_t *at, size_t from,
                        size_t nb, const double **x, const double **fill, double **phi,
                        double **used, gr_prediction *p, json_t **results, gr_status *st,
                        gr_error *errs)
{
    size_t take = gr_model_batch_width(lane[from]->m) > 1 ? nb - from : 1, good = 0;
    gr_error e;
    gr_status bad = gr_predict_batch(lane[from]->m, sc[at[from]].ws, take, x + from, fill + from,
                                     p + from, phi ? phi + from : NULL, used + from, &good, &e);
    for (size_t j = from; j < from + good; j++) {
        size_t k = at[j];
        st[k] =
            answer(lane[j], &sc[k], lane[j]->lo, &p[j], x[j], &results[k], errs ? &errs[k] : NULL);
    }
    if (!bad)
        return good;
    size_t k = at[from + good];
    st[k] = bad;
    if (errs) {
        errs[k] = e;
        snprintf(errs[k].field, sizeof errs[k].field, "samples[%zu].%.80s", lane[from + good]->lo,
                 e.field);
    }
    return good + 1;
}

size_t gr_api_predict_jobs(const gr_api_job *const *jobs, size_t n, json_t **results, gr_status *st,
                           gr_error *errs)
{
    scratch sc[GR_BATCH_MAX] = { { 0 } };
    const double *x[GR_BATCH_MAX], *fill[GR_BATCH_MAX];
    double *phi[GR_BATCH_MAX], *used[GR_BATCH_MAX];
    gr_prediction p[GR_BATCH_MAX];
    const gr_api_job *lane[GR_BATCH_MAX];
    size_t at[GR_BATCH_MAX], nb = 0, done = 0;
    int explain = 0;
    n = n < GR_BATCH_MAX ? n : GR_BATCH_MAX;
    for (size_t k = 0; k < n; k++) {
        gr_error *err = errs ? &errs[k] : NULL;
        results[k] = NULL;
        st[k] = GR_OK;
        if (jobs[k]->m != jobs[0]->m) {
            st[k] = gr_error_set(err, GR_EINVAL, NULL, 0, NULL, "jobs batched need one model");
            continue;
        }
        if (!gr_api_scratch_init(&sc[k], jobs[k], NULL, 1)) {
            st[k] = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
            continue;
        }
        lane[nb] = jobs[k];
        at[nb] = k;
        x[nb] = gr_api_dosages_fill(jobs[k], &sc[k], jobs[k]->lo, &fill[nb]);
        phi[nb] = sc[k].phi;
        used[nb] = sc[k].used;
        explain |= jobs[k]->set.explain;
        nb++;
    }
    /* One sample's failure must not take the others: after a bad one the
     * rest are predicted again from past it. */
    for (size_t from = 0; from < nb;)
        from += jobs_pass(lane, sc, at, from, nb, x, fill, explain ? phi : NULL, used, p, results,
                          st, errs);
    for (size_t k = 0; k < n; k++) {
        done += results[k] != NULL;
        gr_api_scratch_free(&sc[k]);
    }
    return done;
}

/* ---- the response, written as it is computed ---- */

/* The first of the job's samples that may not be scored, and how many may
 * not: only dosages are counted, nothing is predicted. */
static size_t count_unscored(const gr_api_job *job, scratch *sc, size_t *first)
{
    size_t n = gr_api_job_samples(job), nf = gr_model_get_info(job->m)->n_features, bad = 0;
    for (size_t i = 0; i < n && !job->set.allow_low_coverage; i++) {
        const double *x = gr_api_dosages(job, sc, i);
        size_t observed = 0;
        for (size_t j = 0; j < nf; j++)
            observed += !isnan(x[j]);
        if (!gr_api_coverage_ok(job, observed) && !bad++)
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
    if (!gr_api_scratch_init(&sc, job, NULL, 0)) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    char why[320];
    if (!gr_api_group_by_ok(job->m, &job->set, why, sizeof why)) { /* the body's group_by */
        st = gr_error_set(err, GR_EINPUT, NULL, 0, "group_by", "%s", why);
        goto fail;
    }
    bad = count_unscored(job, &sc, &first);
    if (unscored)
        *unscored = bad;
    if (n && bad == n) { /* decided before a byte is written */
        gr_prediction p;
        char detail[600];
        if (!gr_api_scratch_fill(job, &sc, 1)) { /* the counts of the detail are the answer's */
            st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
            goto fail;
        }
        if ((st = gr_predict(job->m, sc.ws, gr_api_dosages(job, &sc, first), &p, NULL, NULL, err)))
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
    gr_api_scratch_free(&sc);
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
    json_t *prov = gr_api_provenance(w->job);
    st = prov ? put_member(w, "provenance", prov, 0, err)
              : gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    json_decref(prov);
    if (st)
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
    json_t *lane[GR_BATCH_MAX] = { 0 };
    size_t idx[GR_BATCH_MAX], n = gr_api_job_samples(job);
    gr_status st = GR_OK;
    if (!gr_api_scratch_init(&sc, job, NULL, 1)) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i += sc.lanes) {
        if (job->stop && job->stop(job->stop_arg)) {
            st = gr_error_set(err, GR_EIO, NULL, 0, NULL, "stopped");
            goto fail;
        }
        size_t nb = n - i < sc.lanes ? n - i : sc.lanes;
        for (size_t k = 0; k < nb; k++)
            idx[k] = i + k;
        if ((st = predict_lanes(job, &sc, idx, nb, lane, err)) ||
            (st = gr_api_write_results(w, lane, 0, nb, err)))
            goto fail;
    }

fail:
    for (size_t k = 0; k < GR_BATCH_MAX; k++)
        json_decref(lane[k]);
    gr_api_scratch_free(&sc);
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
