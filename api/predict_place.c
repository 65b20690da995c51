/* predict_place.c - see predict_place.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/predict_internal.h"
#include "api/predict_place.h"
#include "core/risk_decl.h"

/* Least share of the projection variants a sample must have observed to be
 * placed: fewer leave its PCs to the reference means it is filled with. */
#define GR_API_MIN_PLACED 0.5

size_t gr_api_read_list(const gr_model *const *ms, size_t n, const gr_model **all)
{
    size_t total = n;
    for (size_t i = 0; i < n; i++)
        all[i] = ms[i];
    for (size_t i = 0; i < n; i++) {
        const gr_reference *ref = gr_model_reference(ms[i], NULL);
        const gr_model *set = ref ? gr_reference_variants(ref) : NULL;
        size_t j = n;
        while (j < total && all[j] != set)
            j++;
        if (set && j == total)
            all[total++] = set;
    }
    return total;
}

gr_status gr_api_place_read_json(const gr_model *set, const char *text, size_t len,
                                 const gr_api_limits *limits, gr_api_request *req, uint8_t *usable,
                                 gr_error *err)
{
    /* a sample's dosage array (model order) is no call here, so that it
     * neither is placed by dosages read in the wrong order nor, when its
     * length is not the set's, keeps the other samples from being placed */
    gr_api_limits lim = limits ? *limits : (gr_api_limits){ 0 };
    lim.names_only = 1;
    gr_status st = gr_api_request_read(set, text, len, &lim, req, err);
    *usable = st == GR_OK;
    if (st == GR_OK)
        return GR_OK;
    gr_api_request_clear(req);
    memset(req, 0, sizeof *req);
    return st == GR_ENOMEM ? st : GR_OK;
}

void gr_api_bind_places(gr_api_job *jobs, const gr_model *const *all, size_t n, size_t total,
                        const uint8_t *usable)
{
    for (size_t k = 0; k < n; k++) {
        const gr_reference *ref = gr_model_reference(jobs[k].m, NULL);
        const gr_model *set = ref ? gr_reference_variants(ref) : NULL;
        jobs[k].place = NULL;
        jobs[k].place_why = NULL;
        if (!ref)
            continue;
        if (!set) {
            jobs[k].place_why = "the reference has no projection (it was built from PCs): "
                                "give PCs to genorisk adjust instead";
            continue;
        }
        for (size_t j = n; j < total; j++)
            if (all[j] == set) {
                if (usable && !usable[j])
                    jobs[k].place_why = "the request gave dosage arrays in model order, which "
                                        "name no variant of the reference's projection; send "
                                        "genotype keys to be placed";
                else
                    jobs[k].place = &jobs[j];
            }
    }
}

/* {"AFR": 0.01, ...} in the reference's order. */
static void probabilities(gr_jw *w, const gr_reference *ref, const gr_ancestry *a)
{
    const gr_reference_info *in = gr_reference_get_info(ref);
    gr_jw_object(w);
    for (size_t c = 0; c < in->n_populations; c++) {
        gr_jw_key(w, in->populations[c]);
        gr_jw_real(w, a->prob[c]);
    }
    gr_jw_object_end(w);
}

static void pcs_array(gr_jw *w, const gr_ancestry *a)
{
    gr_jw_array(w);
    for (size_t i = 0; i < a->n_pcs; i++)
        gr_jw_real(w, a->pcs[i]);
    gr_jw_array_end(w);
}

/* Member key: v. */
static void real_member(gr_jw *w, const char *key, double v)
{
    gr_jw_key(w, key);
    gr_jw_real(w, v);
}

static void str_member(gr_jw *w, const char *key, const char *s)
{
    gr_jw_key(w, key);
    gr_jw_str(w, s);
}

static void categories_json(gr_jw *w, const gr_risk_spec *spec)
{
    gr_jw_array(w);
    for (size_t i = 0; i < spec->n; i++) {
        double to = i + 1 < spec->n ? spec->cats[i + 1].lower : 100;
        gr_jw_object(w);
        str_member(w, "name", spec->cats[i].name);
        real_member(w, "from", spec->cats[i].lower);
        real_member(w, "to", to);
        gr_jw_object_end(w);
    }
    gr_jw_array_end(w);
}

/* The absolute risk at the declared standardized score, its method, inputs
 * and assumptions. */
static void absolute_json(gr_jw *w, const gr_risk_decl *d, const gr_adjusted *adj)
{
    const gr_risk_model *rm = gr_risk_decl_absolute(d);
    gr_risk_z which = gr_risk_decl_z(d);
    double z = which == GR_RISK_Z ? adj->z : which == GR_RISK_Z_NORM1 ? adj->z_norm1 : adj->z_norm2;
    int liability = gr_risk_model_method(rm) == GR_RISK_LIABILITY_AUC;
    size_t n;
    const char *const *why = gr_risk_assumptions(rm, &n);
    gr_jw_object(w);
    real_member(w, "risk", gr_risk_absolute(rm, z));
    real_member(w, "prevalence", gr_risk_model_prevalence(rm));
    str_member(w, "method", liability ? "liability_threshold" : "logistic");
    gr_jw_key(w, "effect");
    gr_jw_object(w);
    real_member(w, liability ? "auc" : "odds_ratio_per_sd", gr_risk_model_effect(rm));
    gr_jw_object_end(w);
    str_member(w, "z_used", gr_risk_z_name(which));
    real_member(w, "z", z);
    gr_jw_key(w, "assumptions");
    gr_jw_array(w);
    for (size_t i = 0; i < n; i++)
        gr_jw_str(w, why[i]);
    gr_jw_array_end(w);
    if (liability)
        real_member(w, "r2_liability", gr_risk_model_r2(rm));
    gr_jw_object_end(w);
}

/* Member "risk": the model's risk block read at the adjusted score; none
 * when the model declares none. */
static void risk_json(gr_jw *w, const gr_model *m, const gr_adjusted *adj)
{
    const gr_risk_decl *d = gr_model_risk(m);
    if (!d)
        return;
    const gr_risk_spec *spec = gr_risk_decl_categories(d);
    gr_jw_key(w, "risk");
    gr_jw_object(w);
    real_member(w, "percentile", adj->percentile);
    str_member(w, "category", gr_risk_category(spec, adj->percentile)); /* NULL: null */
    gr_jw_key(w, "categories");
    categories_json(w, spec);
    if (gr_risk_decl_absolute(d)) {
        gr_jw_key(w, "absolute");
        absolute_json(w, d, adj);
    }
    gr_jw_object_end(w);
}

/* Marks the population object not placed, for why. */
static void not_placed(gr_jw *w, const char *why)
{
    gr_jw_key(w, "placed");
    gr_jw_bool(w, 0);
    str_member(w, "reason", why);
}

/* Places sample i and reads its score x: members of the population
 * object. Returns 1 when *adj holds the score read against the reference
 * (the risk block is then read at it), else 0. */
static int place(gr_jw *w, const gr_api_job *job, scratch *sc, size_t i, double x, gr_adjusted *adj)
{
    long k;
    const gr_reference *ref = gr_model_reference(job->m, &k);
    const gr_reference_info *in = gr_reference_get_info(ref);
    const gr_api_request *pr = job->place->json;
    if (pr && pr->keyed && !pr->keyed[i]) {
        not_placed(w, "the sample gave a dosage array in model order, which names no "
                      "variant of the reference's projection; send genotypes keyed by "
                      "variant to place it");
        return 0;
    }
    const double *d = gr_api_dosages(job->place, sc->place, i);
    size_t observed = 0;
    for (size_t j = 0; j < in->n_variants; j++)
        observed += !isnan(d[j]);
    gr_jw_key(w, "projection");
    gr_jw_object(w);
    gr_jw_key(w, "variants");
    gr_jw_int(w, (long long)in->n_variants);
    gr_jw_key(w, "observed");
    gr_jw_int(w, (long long)observed);
    gr_jw_object_end(w);
    if ((double)observed < GR_API_MIN_PLACED * (double)in->n_variants) {
        char why[200];
        snprintf(why, sizeof why,
                 "%zu of the reference's %zu projection variants observed; at least half are "
                 "needed to place a sample",
                 observed, in->n_variants);
        not_placed(w, why);
        return 0;
    }
    gr_ancestry a;
    gr_error err;
    if (gr_reference_place(ref, sc->rws, d, &a, &err)) {
        not_placed(w, err.text);
        return 0;
    }
    gr_jw_key(w, "placed");
    gr_jw_bool(w, 1);
    gr_jw_key(w, "pcs");
    pcs_array(w, &a);
    str_member(w, "most_similar", in->populations[a.most_similar]);
    gr_jw_key(w, "probabilities");
    probabilities(w, ref, &a);
    gr_jw_key(w, "low_confidence");
    gr_jw_bool(w, a.low_confidence);
    if (k < 0) { /* placed by a --reference that holds no distribution of this score */
        str_member(w, "unscored",
                   "the reference holds no distribution of this model's score: "
                   "no percentile or Z");
        return 0;
    }
    if (gr_reference_adjust(ref, (size_t)k, &a, x, adj, &err)) {
        /* placed, but its Z would overflow: said, not answered with a 500 */
        str_member(w, "unscored", err.text);
        return 0;
    }
    real_member(w, "percentile", adj->percentile);
    real_member(w, "z", adj->z);
    real_member(w, "z_norm1", adj->z_norm1);
    real_member(w, "z_norm2", adj->z_norm2);
    return 1;
}

void gr_api_population(gr_jw *w, const gr_api_job *job, scratch *sc, size_t i, double x)
{
    long k;
    const gr_reference *ref = gr_model_reference(job->m, &k);
    if (!ref)
        return;
    const gr_reference_info *in = gr_reference_get_info(ref);
    gr_adjusted adj;
    gr_jw_key(w, "population");
    gr_jw_object(w);
    str_member(w, "reference", in->name);
    gr_jw_key(w, "synthetic");
    gr_jw_bool(w, in->synthetic);
    str_member(w, "score", k >= 0 ? gr_reference_score_id(ref, (size_t)k) : NULL);
    int read = 0;
    if (!job->place)
        not_placed(w, job->place_why ? job->place_why : "not placed");
    else
        read = place(w, job, sc, i, x, &adj);
    gr_jw_object_end(w);
    if (read)
        risk_json(w, job->m, &adj);
}

/* The scoring file's facts (pgs-catalog models), else JSON null. */
static json_t *scoring_file(const gr_model_info *in)
{
    if (in->format != GR_FORMAT_PGS_CATALOG)
        return json_null();
    json_t *o = json_pack("{s:s, s:s, s:b}", "pgs_id", in->pgs_id, "weight_type", in->weight_type,
                          "weight_log", in->weight_log);
    for (int k = 0; o && k < GR_PGS_META_KEYS; k++)
        if (json_object_set_new(o, gr_pgs_meta_name((gr_pgs_meta)k),
                                json_string(in->pgs_meta[k]))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

static json_t *reference_json(const gr_model *m)
{
    const gr_reference *ref = gr_model_reference(m, NULL);
    if (!ref)
        return json_null();
    const gr_reference_info *in = gr_reference_get_info(ref);
    return json_pack("{s:s, s:s, s:b, s:s, s:s}", "name", in->name, "sha256", in->sha256,
                     "synthetic", in->synthetic, "genome_build", in->genome_build, "source",
                     in->source);
}

json_t *gr_api_provenance(const gr_api_job *job)
{
    const gr_model_info *in = gr_model_get_info(job->m);
    json_t *policy = gr_api_policy_json(&job->policy);
    json_t *o = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:b}, s:s, s:o, s:o, s:o, s:s}",
                          "genorisk_version", GR_VERSION, "model", "name", in->name, "version",
                          in->version, "format", gr_format_name(in->format), "sha256", in->sha256,
                          "synthetic", in->synthetic, "genome_build", in->genome_build,
                          "scoring_file", scoring_file(in), "reference", reference_json(job->m),
                          "policy", policy, "impute", gr_impute_name((gr_impute)job->set.impute));
    return o;
}

/* The 101 percentiles of the reference population result r was read
 * against, or JSON null. */
static json_t *distribution(const gr_api_job *job, const json_t *r)
{
    long k;
    const gr_reference *ref = gr_model_reference(job->m, &k);
    const char *pop =
        json_string_value(json_object_get(json_object_get(r, "population"), "most_similar"));
    if (!ref || !pop || k < 0)
        return json_null();
    const gr_reference_info *in = gr_reference_get_info(ref);
    for (size_t p = 0; p < in->n_populations; p++)
        if (!strcmp(in->populations[p], pop)) {
            const double *pct = gr_reference_percentiles(ref, (size_t)k, p, NULL);
            json_t *a = json_array();
            for (size_t i = 0; a && i < 101; i++)
                if (json_array_append_new(a, json_real(pct[i]))) {
                    json_decref(a);
                    return NULL;
                }
            return json_pack("{s:s, s:o}", "population", pop, "percentiles", a);
        }
    return json_null();
}

/* Now in UTC, ISO 8601. */
static json_t *now_text(void)
{
    char buf[32];
    time_t t = time(NULL);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return json_null();
    return json_string(buf);
}

json_t *gr_api_report_doc(const gr_api_job *job, json_t *doc)
{
    const gr_model_info *in = gr_model_get_info(job->m);
    const gr_reference *ref = gr_model_reference(job->m, NULL);
    json_t *r = json_array_get(json_object_get(doc, "results"), 0);
    json_t *match = json_object_get(doc, "match");
    json_t *model = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", in->name, "version",
                              in->version, "description", in->description, "format",
                              gr_format_name(in->format), "genome_build", in->genome_build, "task",
                              in->task == GR_TASK_CLASSIFICATION ? "classification" : "regression");
    int synthetic = in->synthetic || (ref && gr_reference_get_info(ref)->synthetic);
    return json_pack("{s:o, s:b, s:o, s:O, s:o, s:O, s:O, s:O}", "model", model, "synthetic",
                     synthetic, "generated", now_text(), "result", r ? r : json_null(),
                     "distribution", distribution(job, r), "match", match ? match : json_null(),
                     "provenance", json_object_get(doc, "provenance"), "warnings",
                     json_object_get(doc, "warnings"));
}
