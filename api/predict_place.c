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
static json_t *probabilities(const gr_reference *ref, const gr_ancestry *a)
{
    const gr_reference_info *in = gr_reference_get_info(ref);
    json_t *o = json_object();
    for (size_t c = 0; o && c < in->n_populations; c++)
        if (json_object_set_new(o, in->populations[c], json_real(a->prob[c]))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

static json_t *pcs_array(const gr_ancestry *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < a->n_pcs; i++)
        if (json_array_append_new(arr, json_real(a->pcs[i]))) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

static json_t *categories_json(const gr_risk_spec *spec)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < spec->n; i++) {
        double to = i + 1 < spec->n ? spec->cats[i + 1].lower : 100;
        if (json_array_append_new(a, json_pack("{s:s, s:f, s:f}", "name", spec->cats[i].name,
                                               "from", spec->cats[i].lower, "to", to))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* The absolute risk at the declared standardized score, its method, inputs
 * and assumptions. */
static json_t *absolute_json(const gr_risk_decl *d, const gr_adjusted *adj)
{
    const gr_risk_model *rm = gr_risk_decl_absolute(d);
    gr_risk_z which = gr_risk_decl_z(d);
    double z = which == GR_RISK_Z ? adj->z : which == GR_RISK_Z_NORM1 ? adj->z_norm1 : adj->z_norm2;
    int liability = gr_risk_model_method(rm) == GR_RISK_LIABILITY_AUC;
    size_t n;
    const char *const *why = gr_risk_assumptions(rm, &n);
    json_t *as = json_array();
    for (size_t i = 0; as && i < n; i++)
        if (json_array_append_new(as, json_string(why[i]))) {
            json_decref(as);
            as = NULL;
        }
    json_t *o = json_pack("{s:f, s:f, s:s, s:{s:f}, s:s, s:f, s:o}", "risk",
                          gr_risk_absolute(rm, z), "prevalence", gr_risk_model_prevalence(rm),
                          "method", liability ? "liability_threshold" : "logistic", "effect",
                          liability ? "auc" : "odds_ratio_per_sd", gr_risk_model_effect(rm),
                          "z_used", gr_risk_z_name(which), "z", z, "assumptions", as);
    if (o && liability && json_object_set_new(o, "r2_liability", json_real(gr_risk_model_r2(rm)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The model's risk block read at the adjusted score: new, JSON null when the
 * model declares none. */
static json_t *risk_json(const gr_model *m, const gr_adjusted *adj)
{
    const gr_risk_decl *d = gr_model_risk(m);
    if (!d)
        return json_null();
    const gr_risk_spec *spec = gr_risk_decl_categories(d);
    const char *cat = gr_risk_category(spec, adj->percentile);
    json_t *o =
        json_pack("{s:f, s:o, s:o}", "percentile", adj->percentile, "category",
                  cat ? json_string(cat) : json_null(), "categories", categories_json(spec));
    if (o && gr_risk_decl_absolute(d) &&
        json_object_set_new(o, "absolute", absolute_json(d, adj))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Marks o not placed, for why. */
static int not_placed(json_t *o, const char *why)
{
    return json_object_set_new(o, "placed", json_false()) ||
           json_object_set_new(o, "reason", json_string(why));
}

/* Places sample i and reads its score x: members of o; *risk gets the
 * model's risk block (new) when the sample is placed. */
static int place(const gr_api_job *job, scratch *sc, size_t i, double x, json_t *o, json_t **risk)
{
    long k;
    const gr_reference *ref = gr_model_reference(job->m, &k);
    const gr_reference_info *in = gr_reference_get_info(ref);
    const gr_api_request *pr = job->place->json;
    if (pr && pr->keyed && !pr->keyed[i])
        return not_placed(o, "the sample gave a dosage array in model order, which names no "
                             "variant of the reference's projection; send genotypes keyed by "
                             "variant to place it");
    const double *d = gr_api_dosages(job->place, sc->place, i);
    size_t observed = 0;
    for (size_t j = 0; j < in->n_variants; j++)
        observed += !isnan(d[j]);
    int bad = json_object_set_new(o, "projection",
                                  json_pack("{s:I, s:I}", "variants", (json_int_t)in->n_variants,
                                            "observed", (json_int_t)observed));
    if ((double)observed < GR_API_MIN_PLACED * (double)in->n_variants) {
        char why[200];
        snprintf(why, sizeof why,
                 "%zu of the reference's %zu projection variants observed; at least half are "
                 "needed to place a sample",
                 observed, in->n_variants);
        return bad | not_placed(o, why);
    }
    gr_ancestry a;
    gr_adjusted adj;
    gr_error err;
    if (gr_reference_place(ref, sc->rws, d, &a, &err))
        return bad | not_placed(o, err.text);
    bad |= json_object_set_new(o, "placed", json_true());
    bad |= json_object_set_new(o, "pcs", pcs_array(&a));
    bad |= json_object_set_new(o, "most_similar", json_string(in->populations[a.most_similar]));
    bad |= json_object_set_new(o, "probabilities", probabilities(ref, &a));
    bad |= json_object_set_new(o, "low_confidence", json_boolean(a.low_confidence));
    if (k < 0) { /* placed by a --reference that holds no distribution of this score */
        *risk = json_null();
        return bad | json_object_set_new(o, "unscored",
                                         json_string("the reference holds no distribution of "
                                                     "this model's score: no percentile or Z"));
    }
    if (gr_reference_adjust(ref, (size_t)k, &a, x, &adj, &err)) {
        /* placed, but its Z would overflow: said, not answered with a 500 */
        *risk = json_null();
        return bad | json_object_set_new(o, "unscored", json_string(err.text));
    }
    bad |= json_object_set_new(o, "percentile", json_real(adj.percentile));
    bad |= json_object_set_new(o, "z", json_real(adj.z));
    bad |= json_object_set_new(o, "z_norm1", json_real(adj.z_norm1));
    bad |= json_object_set_new(o, "z_norm2", json_real(adj.z_norm2));
    *risk = risk_json(job->m, &adj);
    return bad || !*risk;
}

json_t *gr_api_population(const gr_api_job *job, scratch *sc, size_t i, double x, json_t **risk)
{
    long k;
    const gr_reference *ref = gr_model_reference(job->m, &k);
    *risk = NULL;
    if (!ref)
        return json_null();
    const gr_reference_info *in = gr_reference_get_info(ref);
    json_t *o =
        json_pack("{s:s, s:b, s:o}", "reference", in->name, "synthetic", in->synthetic, "score",
                  k >= 0 ? json_string(gr_reference_score_id(ref, (size_t)k)) : json_null());
    int bad = !o;
    if (!bad && !job->place)
        bad = not_placed(o, job->place_why ? job->place_why : "not placed");
    else if (!bad)
        bad = place(job, sc, i, x, o, risk);
    if (bad) {
        json_decref(o);
        json_decref(*risk);
        *risk = NULL;
        return NULL;
    }
    return o;
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
