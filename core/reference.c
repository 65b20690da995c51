/* reference.c - see reference.h. Loading is in stages (the top document,
 * the classifier, the projection, each score); the arithmetic follows
 * pgsc_calc's pgs_adjust (pygscatalog @ 2d2d6c4) term by term, so its
 * numbers come out to the last bits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "internal.h"
#include "json_arrays.h"
#include "oadp.h"
#include "reference.h"

#define REF_MAX_JSON ((uint64_t)1 << 28) /* reference.json: every score's distributions */
#define REF_MAX_SCORES 4096

typedef struct {
    size_t n; /* unrelated reference samples of the population */
    double mean, sd;
    double pct[101];
    double *sorted; /* n scores, ascending */
} dist;

typedef struct {
    char *id;
    double offset;
    double n1_int, n1_coef[GR_REF_MAX_PCS], n1_sd;
    double mu_int, mu_coef[GR_REF_MAX_PCS], var_int, var_coef[GR_REF_MAX_PCS];
    dist *dists; /* one per population */
} score;

struct gr_reference {
    gr_reference_info info;
    char *name, *description, *genome_build, *label_column, *source, *dir;
    char sha256[65];
    char **pops;
    double norm_mean[GR_REF_MAX_PCS], norm_sd[GR_REF_MAX_PCS];
    gr_forest **forests; /* one per population: its probability */
    gr_oadp *oadp;
    gr_model *variants;
    score *scores;
};

struct gr_reference_ws {
    gr_oadp_ws *ows;
    double pcs[GR_REF_MAX_PCS];
};

/* ---- small JSON readers, errors naming path and field ---- */

static gr_status get_string(json_t *obj, const char *key, int required, size_t max, char **dst,
                            const char *path, gr_error *err)
{
    json_t *v = json_object_get(obj, key);
    if ((!v || json_is_null(v)) && !required)
        return (*dst = gr_strdup("")) ? GR_OK
                                      : gr_error_set(err, GR_ENOMEM, path, 0, key, "out of memory");
    if (!json_is_string(v) || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v))
        return gr_error_set(err, GR_EMODEL, path, 0, key,
                            v ? "must be a string of at most %zu bytes without NUL"
                              : "missing (a string of at most %zu bytes)",
                            max);
    *dst = gr_strdup(json_string_value(v));
    return *dst ? GR_OK : gr_error_set(err, GR_ENOMEM, path, 0, key, "out of memory");
}

static gr_status get_count(json_t *obj, const char *key, size_t lo, size_t hi, size_t *out,
                           const char *path, const char *field, gr_error *err)
{
    json_t *v = json_object_get(obj, key);
    json_int_t i = json_integer_value(v);
    if (!json_is_integer(v) || i < (json_int_t)lo || i > (json_int_t)hi)
        return gr_error_set(err, GR_EMODEL, path, 0, field,
                            "must be a whole number from %zu to %zu", lo, hi);
    *out = (size_t)i;
    return GR_OK;
}

static gr_status get_number(json_t *obj, const char *key, double *out, const char *path,
                            const char *field, gr_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v) || !isfinite(*out = json_number_value(v)))
        return gr_error_set(err, GR_EMODEL, path, 0, field, "must be a finite number");
    return GR_OK;
}

/* ---- the top document ---- */

static gr_status read_populations(gr_reference *r, json_t *root, const char *path, gr_error *err)
{
    json_t *a = json_object_get(root, "populations");
    size_t n = json_array_size(a);
    if (!json_is_array(a) || n < 2 || n > GR_REF_MAX_POPS)
        return gr_error_set(err, GR_EMODEL, path, 0, "populations",
                            "must be an array of 2 to %d labels", GR_REF_MAX_POPS);
    if (!(r->pops = calloc(n, sizeof *r->pops)))
        return gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
    r->info.n_populations = n;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        char field[48];
        snprintf(field, sizeof field, "populations[%zu]", i);
        if (!s || !*s || strlen(s) > 64 || !gr_utf8_valid(s) ||
            (i && strcmp(r->pops[i - 1], s) >= 0))
            return gr_error_set(err, GR_EMODEL, path, 0, field,
                                "labels must be non-empty strings of at most 64 bytes, sorted, "
                                "each once");
        if (!(r->pops[i] = gr_strdup(s)))
            return gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
    }
    r->info.populations = (const char *const *)r->pops;
    return GR_OK;
}

static gr_status read_normalization(gr_reference *r, json_t *root, const char *path, gr_error *err)
{
    json_t *o = json_object_get(root, "normalization");
    gr_status st;
    if (!json_is_object(o))
        return gr_error_set(err, GR_EMODEL, path, 0, "normalization", "missing or not an object");
    if ((st = get_count(o, "n_pcs", 1, GR_REF_MAX_PCS, &r->info.n_norm_pcs, path,
                        "normalization.n_pcs", err)) ||
        (st = gr_json_doubles(o, "mean", r->info.n_norm_pcs, r->norm_mean, path, "normalization",
                              err)) ||
        (st = gr_json_doubles(o, "sd", r->info.n_norm_pcs, r->norm_sd, path, "normalization", err)))
        return st;
    for (size_t i = 0; i < r->info.n_norm_pcs; i++)
        if (!(r->norm_sd[i] > 0))
            return gr_error_set(err, GR_EMODEL, path, 0, "normalization.sd",
                                "every SD must be above 0");
    return GR_OK;
}

static gr_status read_top(gr_reference *r, json_t *root, const char *path, gr_error *err)
{
    gr_status st;
    json_t *syn = json_object_get(root, "synthetic");
    if ((st = gr_json_check_format(root, "genorisk-reference", path, err)) ||
        (st = get_string(root, "name", 1, 64, &r->name, path, err)) ||
        (st = get_string(root, "description", 0, 4096, &r->description, path, err)) ||
        (st = get_string(root, "genome_build", 0, 16, &r->genome_build, path, err)) ||
        (st = get_string(root, "label_column", 0, 64, &r->label_column, path, err)) ||
        (st = get_string(root, "source", 0, 65536, &r->source, path, err)))
        return st;
    if (!*r->name || !gr_utf8_valid(r->name) || !gr_utf8_valid(r->description) ||
        !gr_utf8_valid(r->source) || !gr_utf8_valid(r->label_column))
        return gr_error_set(err, GR_EMODEL, path, 0, "name",
                            "names and texts must be UTF-8, the name non-empty");
    if (*r->genome_build && strcmp(r->genome_build, "GRCh37") && strcmp(r->genome_build, "GRCh38"))
        return gr_error_set(err, GR_EMODEL, path, 0, "genome_build",
                            "must be \"GRCh37\" or \"GRCh38\" when given");
    if (syn && !json_is_boolean(syn))
        return gr_error_set(err, GR_EMODEL, path, 0, "synthetic", "must be true or false");
    r->info.synthetic = json_is_true(syn);
    if ((st = get_count(root, "pcs", 1, GR_REF_MAX_PCS, &r->info.n_pcs, path, "pcs", err)))
        return st;
    json_t *nr = json_object_get(root, "n_reference"), *nu = json_object_get(root, "n_unrelated");
    r->info.n_reference =
        json_is_integer(nr) && json_integer_value(nr) > 0 ? (size_t)json_integer_value(nr) : 0;
    r->info.n_unrelated =
        json_is_integer(nu) && json_integer_value(nu) > 0 ? (size_t)json_integer_value(nu) : 0;
    if ((st = read_populations(r, root, path, err)) ||
        (st = read_normalization(r, root, path, err)))
        return st;
    if (r->info.n_norm_pcs > r->info.n_pcs)
        return gr_error_set(err, GR_EMODEL, path, 0, "normalization.n_pcs",
                            "cannot exceed the %zu PCs", r->info.n_pcs);
    return GR_OK;
}

/* ---- the classifier: one genorisk-trees forest per population ---- */

static gr_status read_forests(gr_reference *r, json_t *doc, const char *cpath, gr_error *err)
{
    json_t *classes = json_object_get(doc, "classes"), *forests = json_object_get(doc, "forests");
    size_t n = r->info.n_populations;
    gr_status st;
    if (!json_is_array(classes) || json_array_size(classes) != n)
        return gr_error_set(err, GR_EMODEL, cpath, 0, "classes",
                            "must list the reference's %zu populations", n);
    for (size_t i = 0; i < n; i++) {
        const char *c = json_string_value(json_array_get(classes, i));
        if (!c || strcmp(c, r->pops[i]))
            return gr_error_set(err, GR_EMODEL, cpath, 0, "classes",
                                "must equal the reference's populations, in the same order");
    }
    if (!json_is_array(forests) || json_array_size(forests) != n)
        return gr_error_set(err, GR_EMODEL, cpath, 0, "forests", "must hold one forest per class");
    if (!(r->forests = calloc(n, sizeof *r->forests)))
        return gr_error_set(err, GR_ENOMEM, cpath, 0, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char where[48];
        gr_trees_doc t;
        snprintf(where, sizeof where, "forests[%zu]", i);
        if ((st = gr_trees_parse(json_array_get(forests, i), r->info.n_classifier_pcs, cpath, where,
                                 &t, err)))
            return st;
        r->forests[i] = t.forest;
        if (t.combine != GR_COMBINE_MEAN || !t.link || strcmp(t.link, "identity") ||
            t.base_margin != 0)
            return gr_error_set(err, GR_EMODEL, cpath, 0, where,
                                "a class's forest averages its trees' probabilities: combine "
                                "\"mean\", link \"identity\", no base_margin");
    }
    return GR_OK;
}

static gr_status read_classifier(gr_reference *r, json_t *root, const char *dir, const char *path,
                                 gr_error *err)
{
    json_t *c = json_object_get(root, "classifier"), *doc = NULL;
    const char *file = json_string_value(json_object_get(c, "file"));
    const char *method = json_string_value(json_object_get(c, "method"));
    char *cpath = NULL;
    gr_status st;
    if (!json_is_object(c) || !method || strcmp(method, "random_forest") || !file ||
        !gr_valid_file_name(file))
        return gr_error_set(err, GR_EMODEL, path, 0, "classifier",
                            "needs method \"random_forest\" and a file inside the bundle");
    if ((st = get_count(c, "n_pcs", 1, r->info.n_pcs, &r->info.n_classifier_pcs, path,
                        "classifier.n_pcs", err)) ||
        (st = get_number(c, "low_confidence_below", &r->info.low_confidence_below, path,
                         "classifier.low_confidence_below", err)))
        return st;
    if (!(cpath = gr_path_join(dir, file)))
        return gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
    if (!(doc = gr_json_load(cpath, JSON_REJECT_DUPLICATES, GR_MODEL_MAX_JSON, err))) {
        st = err->status;
        goto fail;
    }
    if (!(st = gr_json_check_format(doc, "genorisk-classifier", cpath, err)))
        st = read_forests(r, doc, cpath, err);

fail:
    json_decref(doc);
    free(cpath);
    return st;
}

/* ---- the projection (optional) ---- */

static gr_status read_projection(gr_reference *r, json_t *root, const char *dir, const char *path,
                                 gr_error *err)
{
    json_t *p = json_object_get(root, "projection"), *doc = NULL;
    if (!p || json_is_null(p))
        return GR_OK;
    const char *file = json_string_value(json_object_get(p, "file"));
    const char *vars = json_string_value(json_object_get(p, "variants"));
    const char *method = json_string_value(json_object_get(p, "method"));
    char *ppath = NULL, *vpath = NULL;
    gr_status st = GR_OK;
    if (!json_is_object(p) || !method || strcmp(method, "oadp") || !file ||
        !gr_valid_file_name(file) || !vars || !gr_valid_file_name(vars))
        return gr_error_set(err, GR_EMODEL, path, 0, "projection",
                            "null, or method \"oadp\" with a file and a variants file inside "
                            "the bundle");
    if (!(ppath = gr_path_join(dir, file)) || !(vpath = gr_path_join(dir, vars))) {
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    if (!(doc = gr_json_load(ppath, JSON_REJECT_DUPLICATES, GR_MODEL_MAX_JSON, err))) {
        st = err->status;
        goto fail;
    }
    if ((st = gr_oadp_from_json(doc, ppath, &r->oadp, err)) ||
        (st = gr_model_load_variants(vpath, r->name, r->genome_build, &r->variants, err)))
        goto fail;
    r->info.n_variants = gr_model_get_info(r->variants)->n_features;
    if (r->info.n_variants != gr_oadp_p(r->oadp) || gr_oadp_dim_ref(r->oadp) != r->info.n_pcs) {
        st = gr_error_set(err, GR_EMODEL, ppath, 0, NULL,
                          "the projection must have one variant per row of %s (%zu) and give "
                          "the reference's %zu PCs",
                          vars, r->info.n_variants, r->info.n_pcs);
        goto fail;
    }

fail:
    json_decref(doc);
    free(ppath);
    free(vpath);
    return st;
}

/* ---- scores ---- */

static int ascending(const double *a, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (!(a[i - 1] <= a[i]))
            return 0;
    return 1;
}

static gr_status read_dist(json_t *o, dist *d, const char *path, const char *field, gr_error *err)
{
    gr_status st;
    if (!json_is_object(o))
        return gr_error_set(err, GR_EMODEL, path, 0, field, "missing or not an object");
    if ((st = get_count(o, "n", 1, (size_t)1 << 24, &d->n, path, field, err)) ||
        (st = get_number(o, "mean", &d->mean, path, field, err)) ||
        (st = get_number(o, "sd", &d->sd, path, field, err)) ||
        (st = gr_json_doubles(o, "percentiles", 101, d->pct, path, field, err)))
        return st;
    if (!(d->sorted = malloc(d->n * sizeof *d->sorted)))
        return gr_error_set(err, GR_ENOMEM, path, 0, field, "out of memory");
    if ((st = gr_json_doubles(o, "scores", d->n, d->sorted, path, field, err)))
        return st;
    if (!(d->sd > 0) || !ascending(d->sorted, d->n) || !ascending(d->pct, 101))
        return gr_error_set(err, GR_EMODEL, path, 0, field,
                            "sd must be above 0 and scores and percentiles ascending");
    return GR_OK;
}

static gr_status read_norms(const gr_reference *r, json_t *o, score *s, const char *path,
                            const char *field, gr_error *err)
{
    json_t *n1 = json_object_get(o, "z_norm1"), *n2 = json_object_get(o, "z_norm2");
    size_t k = r->info.n_norm_pcs;
    gr_status st;
    if (!json_is_object(n1) || !json_is_object(n2))
        return gr_error_set(err, GR_EMODEL, path, 0, field, "needs z_norm1 and z_norm2 objects");
    if ((st = get_number(o, "pgs_offset", &s->offset, path, field, err)) ||
        (st = get_number(n1, "intercept", &s->n1_int, path, field, err)) ||
        (st = get_number(n1, "resid_sd", &s->n1_sd, path, field, err)) ||
        (st = gr_json_doubles(n1, "coef", k, s->n1_coef, path, field, err)) ||
        (st = get_number(n2, "mu_intercept", &s->mu_int, path, field, err)) ||
        (st = get_number(n2, "var_intercept", &s->var_int, path, field, err)) ||
        (st = gr_json_doubles(n2, "mu_coef", k, s->mu_coef, path, field, err)) ||
        (st = gr_json_doubles(n2, "var_coef", k, s->var_coef, path, field, err)))
        return st;
    if (!(s->n1_sd > 0))
        return gr_error_set(err, GR_EMODEL, path, 0, field, "z_norm1.resid_sd must be above 0");
    return GR_OK;
}

static int adjust_score(const gr_reference *r, const score *s, const gr_ancestry *a, double x,
                        gr_adjusted *out);

static gr_status read_score(const gr_reference *r, const char *id, json_t *o, score *s,
                            const char *path, gr_error *err)
{
    char field[160];
    gr_status st;
    snprintf(field, sizeof field, "scores.%.100s", id);
    if (!json_is_object(o))
        return gr_error_set(err, GR_EMODEL, path, 0, field, "not an object");
    if (!*id || strlen(id) > 128 || !gr_utf8_valid(id))
        return gr_error_set(err, GR_EMODEL, path, 0, "scores",
                            "a score id must be 1 to 128 bytes of UTF-8");
    if (!(s->id = gr_strdup(id)) || !(s->dists = calloc(r->info.n_populations, sizeof *s->dists)))
        return gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
    if ((st = read_norms(r, o, s, path, field, err)))
        return st;
    json_t *ds = json_object_get(o, "distributions");
    for (size_t p = 0; p < r->info.n_populations; p++) {
        char f2[240];
        snprintf(f2, sizeof f2, "%s.distributions.%s", field, r->pops[p]);
        if ((st = read_dist(json_object_get(ds, r->pops[p]), &s->dists[p], path, f2, err)))
            return st;
    }
    /* a sample at the centre of the reference's PCs, scored at each
     * population's lowest and highest percentile, adjusts to finite numbers
     * (an SD of 1e-310 or a var_intercept of -1000 passes every check above
     * and makes every answer's Z infinite) */
    gr_ancestry centre = { .n_pcs = r->info.n_norm_pcs };
    memcpy(centre.pcs, r->norm_mean, sizeof centre.pcs);
    for (size_t p = 0; p < r->info.n_populations; p++) {
        gr_adjusted adj;
        centre.most_similar = p;
        if (!adjust_score(r, s, &centre, s->dists[p].pct[0], &adj) ||
            !adjust_score(r, s, &centre, s->dists[p].pct[100], &adj))
            return gr_error_set(err, GR_EMODEL, path, 0, field,
                                "reads a score of %s to a Z that is not finite: an SD too close "
                                "to 0 or a z_norm2 var_intercept too far from it",
                                r->pops[p]);
    }
    return GR_OK;
}

static gr_status read_scores(gr_reference *r, json_t *root, const char *path, gr_error *err)
{
    json_t *o = json_object_get(root, "scores"), *v;
    const char *id;
    gr_status st;
    if (!json_is_object(o) || json_object_size(o) > REF_MAX_SCORES)
        return gr_error_set(err, GR_EMODEL, path, 0, "scores",
                            "must be an object of at most %d scores", REF_MAX_SCORES);
    if (json_object_size(o) && !(r->scores = calloc(json_object_size(o), sizeof *r->scores)))
        return gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
    json_object_foreach(o, id, v)
    {
        if ((st = read_score(r, id, v, &r->scores[r->info.n_scores++], path, err)))
            return st;
    }
    return GR_OK;
}

/* ---- loading ---- */

static const char *const bundle_files[] = { "reference.json", "classifier.json", "projection.json",
                                            "projection_variants.tsv" };

static gr_status load_stages(gr_reference *r, const char *dir, gr_error *err)
{
    gr_status st;
    char *path = gr_path_join(dir, "reference.json");
    json_t *root = NULL;
    if (!path)
        return gr_error_set(err, GR_ENOMEM, dir, 0, NULL, "out of memory");
    if (!(root = gr_json_load(path, JSON_REJECT_DUPLICATES, REF_MAX_JSON, err))) {
        st = err->status;
        goto fail;
    }
    if ((st = read_top(r, root, path, err)) || (st = read_classifier(r, root, dir, path, err)) ||
        (st = read_projection(r, root, dir, path, err)) || (st = read_scores(r, root, path, err)))
        goto fail;
    if (r->info.n_classifier_pcs > r->info.n_pcs) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "classifier.n_pcs", "cannot exceed the %zu PCs",
                          r->info.n_pcs);
        goto fail;
    }
    st = gr_bundle_digest(dir, bundle_files, sizeof bundle_files / sizeof *bundle_files, r->sha256,
                          err);

fail:
    json_decref(root);
    free(path);
    return st;
}

static void fill_info(gr_reference *r)
{
    gr_reference_info *in = &r->info;
    in->name = r->name;
    in->description = r->description;
    in->genome_build = r->genome_build;
    in->label_column = r->label_column;
    in->source = r->source;
    in->dir = r->dir;
    in->sha256 = r->sha256;
}

gr_status gr_reference_load(const char *dir, gr_reference **out, gr_error *user_err)
{
    gr_error local, *err = user_err ? user_err : &local;
    gr_status st;
    gr_error_clear(err);
    *out = NULL;
    if (!dir || !*dir)
        return gr_error_set(err, GR_EINVAL, NULL, 0, NULL, "no reference directory given");
    gr_reference *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = gr_strdup(dir))) {
        st = gr_error_set(err, GR_ENOMEM, dir, 0, NULL, "out of memory");
        goto fail;
    }
    if ((st = load_stages(r, dir, err)))
        goto fail;
    fill_info(r);
    *out = r;
    r = NULL;

fail:
    gr_reference_free(r);
    return st;
}

void gr_reference_free(gr_reference *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->scores && i < r->info.n_scores; i++) {
        for (size_t p = 0; r->scores[i].dists && p < r->info.n_populations; p++)
            free(r->scores[i].dists[p].sorted);
        free(r->scores[i].dists);
        free(r->scores[i].id);
    }
    free(r->scores);
    for (size_t i = 0; i < r->info.n_populations; i++) {
        if (r->forests)
            gr_forest_free(r->forests[i]);
        if (r->pops)
            free(r->pops[i]);
    }
    free(r->forests);
    free(r->pops);
    gr_oadp_free(r->oadp);
    gr_model_free(r->variants);
    free(r->name);
    free(r->description);
    free(r->genome_build);
    free(r->label_column);
    free(r->source);
    free(r->dir);
    free(r);
}

const gr_reference_info *gr_reference_get_info(const gr_reference *r)
{
    return &r->info;
}

const gr_model *gr_reference_variants(const gr_reference *r)
{
    return r->variants;
}

long gr_reference_score(const gr_reference *r, const char *id)
{
    for (size_t i = 0; i < r->info.n_scores; i++)
        if (!strcmp(r->scores[i].id, id))
            return (long)i;
    return -1;
}

const char *gr_reference_score_id(const gr_reference *r, size_t k)
{
    return r->scores[k].id;
}

const double *gr_reference_percentiles(const gr_reference *r, size_t k, size_t p, size_t *n)
{
    const dist *d = &r->scores[k].dists[p];
    if (n)
        *n = d->n;
    return d->pct;
}

/* ---- placing and adjusting a sample ---- */

gr_reference_ws *gr_reference_ws_new(const gr_reference *r)
{
    gr_reference_ws *ws = calloc(1, sizeof *ws);
    if (ws && r->oadp && !(ws->ows = gr_oadp_ws_new(r->oadp))) {
        free(ws);
        return NULL;
    }
    return ws;
}

void gr_reference_ws_free(gr_reference_ws *ws)
{
    if (!ws)
        return;
    gr_oadp_ws_free(ws->ows);
    free(ws);
}

gr_status gr_reference_classify(const gr_reference *r, const double *pcs, size_t n,
                                gr_ancestry *out, gr_error *err)
{
    double xf[GR_REF_MAX_PCS];
    size_t need = r->info.n_classifier_pcs > r->info.n_norm_pcs ? r->info.n_classifier_pcs
                                                                : r->info.n_norm_pcs;
    if (n < need || n > GR_REF_MAX_PCS)
        return gr_error_set(err, GR_EINPUT, NULL, 0, "pcs",
                            "%zu PCs given; the reference needs %zu to %d", n, need,
                            GR_REF_MAX_PCS);
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(pcs[i]))
            return gr_error_set(err, GR_EINPUT, NULL, 0, "pcs", "PC%zu is not a finite number",
                                i + 1);
        out->pcs[i] = pcs[i];
        /* scikit-learn's trees read their input as float32 */
        xf[i] = (double)(float)pcs[i];
    }
    out->n_pcs = n;
    for (size_t c = 0; c < r->info.n_populations; c++) {
        out->prob[c] = gr_forest_predict(r->forests[c], xf);
        if (out->prob[c] > out->prob[out->most_similar])
            out->most_similar = c;
    }
    out->low_confidence = out->prob[out->most_similar] < r->info.low_confidence_below;
    return GR_OK;
}

gr_status gr_reference_place(const gr_reference *r, gr_reference_ws *ws, const double *dosage,
                             gr_ancestry *out, gr_error *err)
{
    gr_status st;
    if (!r->oadp)
        return gr_error_set(err, GR_EUNSUPPORTED, r->dir, 0, "projection",
                            "reference %s has no projection: it adjusts given PCs only", r->name);
    if ((st = gr_oadp_project(r->oadp, ws->ows, dosage, ws->pcs, err)))
        return st;
    return gr_reference_classify(r, ws->pcs, r->info.n_pcs, out, err);
}

/* scipy.stats.percentileofscore(a, x, kind='rank') over sorted a. */
static double percentile_of(const double *a, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* first a[i] >= x */
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t left = lo;
    hi = n;
    while (lo < hi) { /* first a[i] > x */
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t right = lo;
    return (double)(left + right + (right > left)) * (50.0 / (double)n);
}

/* Fills out; 1 when every number is finite. */
static int adjust_score(const gr_reference *r, const score *s, const gr_ancestry *a, double x,
                        gr_adjusted *out)
{
    const dist *d = &s->dists[a->most_similar];
    double xc = x - s->offset, y1 = s->n1_int, mu = s->mu_int, lv = s->var_int;
    out->percentile = percentile_of(d->sorted, d->n, x);
    out->z = (x - d->mean) / d->sd;
    for (size_t i = 0; i < r->info.n_norm_pcs; i++) {
        double pc = (a->pcs[i] - r->norm_mean[i]) / r->norm_sd[i];
        y1 += s->n1_coef[i] * pc;
        mu += s->mu_coef[i] * pc;
        lv += s->var_coef[i] * pc;
    }
    out->z_norm1 = (xc - y1) / s->n1_sd;
    out->z_norm2 = (xc - mu) / sqrt(exp(lv));
    return isfinite(out->z) && isfinite(out->z_norm1) && isfinite(out->z_norm2);
}

gr_status gr_reference_adjust(const gr_reference *r, size_t k, const gr_ancestry *a, double x,
                              gr_adjusted *out, gr_error *err)
{
    const score *s = &r->scores[k];
    if (!isfinite(x) || !adjust_score(r, s, a, x, out))
        return gr_error_set(err, GR_EINPUT, NULL, 0, NULL,
                            "score %.128s read against reference %.64s gives a Z that is not "
                            "finite (PCs or a score far outside the reference's)",
                            s->id, r->name);
    return GR_OK;
}
