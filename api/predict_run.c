/* predict_run.c - see predict_run.h: a sample predicted and encoded
 * (its result, coverage, PGS numbers, explanation), the job's samples over
 * a range, and the response written as it is computed. The dosages and
 * their policy come from predict_input.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/buffer.h"
#include "api/json_out.h"
#include "api/predict_internal.h"
#include "api/predict_place.h"
#include "api/predict_vcf.h"
#include "api/problem.h"

/* Sample i's label: its id, or null. */
static void sample_label(gr_jw *w, const gr_api_job *job, size_t i)
{
    const json_t *id = job->json ? json_array_get(job->json->ids, i) : NULL;
    if (job->json)
        gr_jw_json(w, id ? id : json_null());
    else
        gr_jw_str(w, job->vcf->sample_ids[i]);
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

/* Feature j's attribution, an element of the attributions array. */
static void add_attribution(gr_jw *w, const gr_model *m, size_t j, double phi, double orig,
                            double used)
{
    gr_jw_object(w);
    gr_jw_key(w, "feature");
    gr_jw_str(w, gr_model_feature(m, j)->id);
    gr_jw_key(w, "value");
    gr_jw_real(w, phi);
    gr_jw_key(w, "dosage");
    if (isnan(used))
        gr_jw_null(w);
    else
        gr_jw_real(w, used);
    if (isnan(orig) && !isnan(used)) {
        gr_jw_key(w, "imputed");
        gr_jw_bool(w, 1);
    }
    gr_jw_object_end(w);
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

/* Group g's {"group", "value", "features"}, an element of the groups
 * array. */
static void add_group(gr_jw *w, const gr_api_job *job, const scratch *sc, size_t g)
{
    size_t j = sc->group_first[g];
    const char *name = group_label(job->m, j, job->set.group_by);
    gr_jw_object(w);
    gr_jw_key(w, "group");
    gr_jw_str(w, name[0] ? name : gr_model_feature(job->m, j)->id);
    gr_jw_key(w, "value");
    gr_jw_real(w, sc->group_sum[g]);
    gr_jw_key(w, "features");
    gr_jw_int(w, (long long)sc->group_n[g]);
    gr_jw_object_end(w);
}

/* Room for the order of the top k of n, without an allocation for the
 * usual small k (top_features then fills only order[0 .. k)); NULL when
 * out of memory. Free with order_free. */
#define SMALL_K 32
static ranked *order_new(size_t n, size_t k, ranked *small)
{
    return k <= SMALL_K ? small : malloc((n ? n : 1) * sizeof(ranked));
}

static void order_free(ranked *order, const ranked *small)
{
    if (order != small)
        free(order);
}

/* The groups of the sample just explained (sc->phi), largest |value|
 * first (ties in the order of their first feature), the job's top_k of
 * them (0: all), as an array. */
static void groups_array(gr_jw *w, const gr_api_job *job, scratch *sc)
{
    if (!sc->group_of && !groups_init(sc, job)) {
        w->bad = w->bad ? w->bad : GR_JW_NOMEM;
        return;
    }
    size_t nf = gr_model_get_info(job->m)->n_features, ng = sc->n_groups;
    size_t k = job->set.top_k == 0 || (size_t)job->set.top_k > ng ? ng : (size_t)job->set.top_k;
    double *sum = sc->group_sum;
    for (size_t g = 0; g < ng; g++)
        sum[g] = 0;
    for (size_t j = 0; j < nf; j++)
        sum[sc->group_of[j]] += sc->phi[j];
    ranked small[SMALL_K], *order = order_new(ng, k, small);
    if (!order) {
        w->bad = w->bad ? w->bad : GR_JW_NOMEM;
        return;
    }
    top_features(sum, ng, k, order);
    gr_jw_array(w);
    for (size_t r = 0; r < k; r++)
        add_group(w, job, sc, order[r].i);
    gr_jw_array_end(w);
    order_free(order, small);
}

static const char *space_name(gr_space s)
{
    return s == GR_SPACE_MARGIN ? "margin" : s == GR_SPACE_PROBABILITY ? "probability" : "identity";
}

/* {"method", "space", "base_value", "attributions"} and, with group_by,
 * "groups". */
static void explanation(gr_jw *w, const gr_api_job *job, const gr_prediction *p, const double *x,
                        scratch *sc)
{
    const gr_model_info *info = gr_model_get_info(job->m);
    size_t nf = info->n_features;
    size_t k = job->set.top_k == 0 ? nf : (size_t)job->set.top_k;
    ranked small[SMALL_K], *order = k == nf ? small : order_new(nf, k, small);
    if (!order) {
        w->bad = w->bad ? w->bad : GR_JW_NOMEM;
        return;
    }
    gr_jw_object(w);
    gr_jw_key(w, "method");
    gr_jw_str(w, info->explain_method);
    gr_jw_key(w, "space");
    gr_jw_str(w, space_name(info->space));
    gr_jw_key(w, "base_value");
    gr_jw_real(w, p->base_value);
    gr_jw_key(w, "attributions");
    gr_jw_array(w);
    if (k == nf) {
        for (size_t j = 0; j < nf && !w->bad; j++)
            add_attribution(w, job->m, j, sc->phi[j], x[j], sc->used[j]);
    } else {
        top_features(sc->phi, nf, k, order);
        for (size_t r = 0; r < k && !w->bad; r++) {
            size_t j = order[r].i;
            add_attribution(w, job->m, j, sc->phi[j], x[j], sc->used[j]);
        }
    }
    order_free(order, small);
    gr_jw_array_end(w);
    if (job->set.group_by == GR_API_GROUP_LOCUS || job->set.group_by == GR_API_GROUP_GENE) {
        gr_jw_key(w, "groups");
        groups_array(w, job, sc);
    }
    gr_jw_object_end(w);
}

/* Member key: count. */
static void count(gr_jw *w, const char *key, size_t n)
{
    gr_jw_key(w, key);
    gr_jw_int(w, (long long)n);
}

/* {"expected", "observed", "imputed", "missing"} plus how the model's
 * variants were matched: by the file's records for a VCF, by sample i's
 * genotype keys for JSON (not for a dense "dosages" array, which names no
 * variant). */
static void coverage(gr_jw *w, const gr_api_job *job, size_t i, const gr_prediction *p)
{
    const gr_match_counts *mt = job->vcf ? &job->vcf_counts
                                : job->json && job->json->keyed && job->json->keyed[i]
                                    ? &job->json->match[i]
                                    : NULL;
    gr_jw_object(w);
    count(w, "expected", p->n_expected);
    count(w, "observed", p->n_observed);
    count(w, "imputed", p->n_imputed);
    count(w, "missing", p->n_missing);
    if (mt) {
        count(w, "matched", mt->matched);
        count(w, "flipped", mt->flipped);
        count(w, "swapped", mt->swapped);
        count(w, "ambiguous", mt->ambiguous);
        count(w, "multiallelic", mt->multiallelic);
    }
    gr_jw_object_end(w);
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
 * a problem object. */
static void error_result(gr_jw *w, const gr_api_job *job, size_t i, const gr_prediction *p,
                         const char *detail)
{
    const gr_problem_kind *k = gr_problem_kind_of(GR_PROBLEM_LOW_COVERAGE);
    json_t *problem =
        gr_problem_object(k->status, k->slug, k->title, detail, "coverage", NULL, NULL);
    gr_jw_object(w);
    gr_jw_key(w, "sample");
    sample_label(w, job, i);
    count(w, "index", i);
    gr_jw_key(w, "coverage");
    coverage(w, job, i, p);
    gr_jw_key(w, "error");
    gr_jw_json(w, problem); /* NULL: out of memory */
    gr_jw_object_end(w);
    json_decref(problem);
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
 * model's sample. */
static void pgs_object(gr_jw *w, const gr_api_job *job, const gr_prediction *p, const double *x,
                       const scratch *sc)
{
    gr_api_pgs g;
    gr_api_pgs_numbers(p, x, sc->used, sc->shared ? sc->once : NULL,
                       gr_model_get_info(job->m)->n_features, &g);
    gr_jw_object(w);
    gr_jw_key(w, "sum");
    gr_jw_real(w, g.sum);
    gr_jw_key(w, "avg");
    if (isnan(g.avg))
        gr_jw_null(w);
    else
        gr_jw_real(w, g.avg);
    count(w, "denom", g.denom);
    count(w, "allele_ct", g.allele_ct);
    gr_jw_key(w, "named_allele_dosage_sum");
    gr_jw_real(w, g.named_dosage_sum);
    gr_jw_object_end(w);
}

/* A scored sample's result. */
static void scored_result(gr_jw *w, const gr_api_job *job, size_t i, const gr_prediction *p,
                          const double *x, scratch *sc, int low)
{
    gr_jw_object(w);
    gr_jw_key(w, "sample");
    sample_label(w, job, i);
    count(w, "index", i);
    gr_jw_key(w, "score");
    gr_jw_real(w, p->score);
    gr_jw_key(w, "margin");
    gr_jw_real(w, p->margin);
    gr_jw_key(w, "coverage");
    coverage(w, job, i, p);
    if (gr_model_get_info(job->m)->format == GR_FORMAT_PGS_CATALOG) {
        gr_jw_key(w, "pgs");
        pgs_object(w, job, p, x, sc);
    }
    if (low) {
        gr_jw_key(w, "low_coverage");
        gr_jw_bool(w, 1);
    }
    gr_api_population(w, job, sc, i, p->score); /* "population" and "risk" */
    if (job->set.explain && !w->bad) {
        gr_jw_key(w, "explanation");
        explanation(w, job, p, x, sc);
    }
    gr_jw_object_end(w);
}

/* The error of a part of the answer the writer could not write (w->bad):
 * sample i's result, or the document's own members when i is NO_SAMPLE. */
#define NO_SAMPLE ((size_t)-1)
static gr_status encode_error(const gr_jw *w, size_t i, gr_error *err)
{
    char what[48] = "the answer";
    if (i != NO_SAMPLE)
        snprintf(what, sizeof what, "sample #%zu", i + 1);
    if (w->bad == GR_JW_NONFINITE)
        return gr_error_set(err, GR_EINVAL, NULL, 0, NULL,
                            "%s: the model gave a number that is not finite (NaN or infinity), "
                            "which JSON cannot hold",
                            what);
    if (w->bad == GR_JW_UTF8)
        return gr_error_set(err, GR_EINPUT, NULL, 0, NULL,
                            "%s: a name in it (a sample id, or a name in the model) is not UTF-8",
                            what);
    return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
}

/* Predicts sample i and appends its result to out, laid out as the
 * results of a document that is pretty or not; on failure out is as it
 * was. */
/* Sample i's result, once predicted into p from x (its lane's), appended
 * to out as laid out for a document as pretty as `pretty`. */
static gr_status answer(const gr_api_job *job, scratch *sc, size_t i, const gr_prediction *p,
                        const double *x, gr_buf *out, int pretty, gr_error *err)
{
    int low = !gr_api_coverage_ok(job, p->n_observed);
    size_t len = out->len;
    gr_jw w;
    gr_jw_init(&w, out, pretty, 2); /* in the document's "results" */
    if (low && !job->set.allow_low_coverage) {
        char detail[600];
        coverage_detail(job, i, p, detail, sizeof detail);
        error_result(&w, job, i, p, detail);
    } else {
        scored_result(&w, job, i, p, x, sc, low);
    }
    if (!w.bad)
        return GR_OK;
    out->len = len;
    if (out->s)
        out->s[len] = '\0';
    return encode_error(&w, i, err);
}

/* Names sample i before the feature the core named in err->field (err
 * may be NULL). */
static void name_sample(gr_error *err, size_t i)
{
    if (!err)
        return;
    char feature[sizeof err->field];
    memcpy(feature, err->field, sizeof feature);
    snprintf(err->field, sizeof err->field, "samples[%zu].%.80s", i, feature);
}

/* Samples idx[0..nb) (nb <= sc->lanes) predicted together, one lane each,
 * then answered in order, sample idx[k]'s into out[k]. On a bad sample,
 * the ones before it are answered and the error names it. */
static gr_status predict_lanes(const gr_api_job *job, scratch *sc, const size_t *idx, size_t nb,
                               gr_buf *const *out, int pretty, gr_error *err)
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
    if (st)
        name_sample(err, idx[good]);
    gr_status ans = GR_OK;
    for (size_t k = 0; k < good && !ans; k++) {
        gr_api_scratch_lane(sc, job, k);
        ans = answer(job, sc, idx[k], &p[k], x[k], out[k], pretty, err);
    }
    gr_api_scratch_lane(sc, job, 0);
    return ans ? ans : st;
}

gr_status gr_api_predict_range_in(const gr_api_job *job, scratch *sc, size_t first, size_t step,
                                  gr_buf *results, gr_error *err)
{
    gr_status st = GR_OK;
    size_t n = gr_api_job_samples(job);
    size_t end = job->hi && job->hi < n ? job->hi : n, idx[GR_BATCH_MAX], nb = 0;
    gr_buf *out[GR_BATCH_MAX];
    for (size_t i = job->lo + first; i < end; i += step ? step : 1) {
        out[nb] = &results[i];
        idx[nb++] = i;
        if (nb < sc->lanes && i + (step ? step : 1) < end)
            continue;
        if (job->stop && job->stop(job->stop_arg))
            break;
        if ((st = predict_lanes(job, sc, idx, nb, out, job->pretty, err)))
            break;
        nb = 0;
    }
    return st;
}

gr_status gr_api_predict_range(const gr_api_job *job, size_t first, size_t step, gr_buf *results,
                               gr_error *err)
{
    scratch sc = { 0 };
    gr_status st = GR_OK;
    if (job->lo + first < gr_api_job_samples(job)) {
        st = gr_api_scratch_init(&sc, job, job->like ? job->like->sc : NULL, 1)
                 ? gr_api_predict_range_in(job, &sc, first, step, results, err)
                 : gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    }
    gr_api_scratch_free(&sc);
    return st;
}

/* Lanes from..nb of gr_api_predict_jobs predicted together (a linear
 * model: one, with its own workspace); returns how many lanes it consumed,
 * a failing one included. */
static size_t jobs_pass(const gr_api_job *const *lane, scratch *sc, const size_t *at, size_t from,
                        size_t nb, const double **x, const double **fill, double **phi,
                        double **used, gr_prediction *p, gr_buf *results, gr_status *st,
                        gr_error *errs)
{
    size_t take = gr_model_batch_width(lane[from]->m) > 1 ? nb - from : 1, good = 0;
    gr_error e;
    gr_status bad = gr_predict_batch(lane[from]->m, sc[at[from]].ws, take, x + from, fill + from,
                                     p + from, phi ? phi + from : NULL, used + from, &good, &e);
    for (size_t j = from; j < from + good; j++) {
        size_t k = at[j];
        st[k] = answer(lane[j], &sc[k], lane[j]->lo, &p[j], x[j], &results[k], lane[j]->pretty,
                       errs ? &errs[k] : NULL);
    }
    if (!bad)
        return good;
    size_t k = at[from + good];
    st[k] = bad;
    if (errs) {
        errs[k] = e;
        name_sample(&errs[k], lane[from + good]->lo);
    }
    return good + 1;
}

size_t gr_api_predict_jobs(const gr_api_job *const *jobs, size_t n, gr_buf *results, gr_status *st,
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
        done += st[k] == GR_OK;
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

/* Writes member "key": value of the top-level object (value borrowed;
 * NULL: out of memory). */
static gr_status put_member(gr_api_writer *w, const char *key, const json_t *value, int first,
                            gr_error *err)
{
    gr_buf b = { 0 };
    gr_jw jw;
    gr_jw_init_in(&jw, &b, w->pretty, 1, !first);
    gr_jw_key(&jw, key);
    gr_jw_json(&jw, value);
    gr_status st = jw.bad ? encode_error(&jw, NO_SAMPLE, err) : put(w, b.s, b.len, err);
    free(b.s);
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

/* Writes one result's text (laid out for this document) after the ones
 * before it. */
static gr_status put_result(gr_api_writer *w, const gr_buf *text, gr_error *err)
{
    static const char sep[] = ",\n    ";
    size_t skip = w->written ? 0 : 1, n = (w->pretty ? 6 : 1) - skip;
    gr_status st = n ? put(w, sep + skip, n, err) : GR_OK;
    if (!st)
        st = put(w, text->s, text->len, err);
    w->written++;
    return st;
}

gr_status gr_api_write_results(gr_api_writer *w, gr_buf *results, size_t lo, size_t hi,
                               gr_error *err)
{
    gr_status st = GR_OK;
    for (size_t i = lo; i < hi; i++) {
        if (!st && !results[i].len)
            st = gr_error_set(err, GR_EINVAL, NULL, 0, NULL, "result #%zu was not made", i + 1);
        if (!st)
            st = put_result(w, &results[i], err);
        free(results[i].s);
        results[i] = (gr_buf){ 0 };
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
    gr_buf lane[GR_BATCH_MAX] = { { 0 } }; /* each batch's results, their room kept */
    gr_buf *out[GR_BATCH_MAX];
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
        for (size_t k = 0; k < nb; k++) {
            idx[k] = i + k;
            lane[k].len = 0;
            out[k] = &lane[k];
        }
        if ((st = predict_lanes(job, &sc, idx, nb, out, w->pretty, err)))
            goto fail;
        for (size_t k = 0; k < nb; k++)
            if ((st = put_result(w, &lane[k], err)))
                goto fail;
    }

fail:
    for (size_t k = 0; k < GR_BATCH_MAX; k++)
        free(lane[k].s);
    gr_api_scratch_free(&sc);
    return st;
}

void gr_api_predict_write_jobs(const gr_api_job *const *jobs, size_t n, int pretty,
                               json_t *const *extra, const gr_api_write_fn *write, void *const *arg,
                               gr_status *st, gr_error *errs)
{
    gr_api_writer w[GR_BATCH_MAX];
    const gr_api_job *go[GR_BATCH_MAX] = { 0 };
    size_t at[GR_BATCH_MAX], k_n = 0;
    gr_buf res[GR_BATCH_MAX] = { { 0 } };
    gr_status got[GR_BATCH_MAX];
    gr_error e[GR_BATCH_MAX];
    n = n < GR_BATCH_MAX ? n : GR_BATCH_MAX;
    for (size_t k = 0; k < n; k++) { /* the heads, and the refusals made before any sample */
        st[k] = gr_api_write_begin(&w[k], jobs[k], pretty, write[k], arg[k], &errs[k]);
        if (!st[k]) {
            go[k_n] = jobs[k];
            at[k_n++] = k;
        }
    }
    if (k_n)
        gr_api_predict_jobs(go, k_n, res, got, e);
    for (size_t j = 0; j < k_n; j++) {
        size_t k = at[j];
        if ((st[k] = got[j]))
            errs[k] = e[j];
        else if (!(st[k] = gr_api_write_results(&w[k], &res[j], 0, 1, &errs[k])))
            st[k] = gr_api_write_end(&w[k], extra[k], &errs[k]);
        free(res[j].s);
    }
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
