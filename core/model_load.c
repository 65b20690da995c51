/* model_load.c - the top of the model family: gr_model_load reads the
 * manifest, the features, then the artifact through the format table's
 * loader, indexes the genotype keys and checks the ranges; gr_model_free. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "internal.h"
#include "match.h"
#include "reference.h"
#include "risk_decl.h"

static const char *const format_names[GR_FORMAT_COUNT] = {
#define GR_FORMAT_NAME(id, name, loader) [id] = name,
    GR_FORMAT_MAP(GR_FORMAT_NAME)
#undef GR_FORMAT_NAME
};

const char *gr_format_name(gr_format f)
{
    return f < GR_FORMAT_COUNT ? format_names[f] : "";
}

int gr_format_parse(const char *s, gr_format *out)
{
    for (int f = 0; f < GR_FORMAT_COUNT; f++)
        if (!strcmp(s, format_names[f])) {
            *out = (gr_format)f;
            return 1;
        }
    return 0;
}

const char *gr_pgs_meta_name(gr_pgs_meta k)
{
    static const char *const names[GR_PGS_META_KEYS] = { "pgs_name", "trait_reported", "trait_efo",
                                                         "citation", "license" };
    return k < GR_PGS_META_KEYS ? names[k] : "";
}

typedef gr_status (*loader_fn)(gr_model *m, const char *path, gr_error *err);
static const loader_fn loaders[GR_FORMAT_COUNT] = {
#define GR_FORMAT_LOADER(id, name, loader) [id] = loader,
    GR_FORMAT_MAP(GR_FORMAT_LOADER)
#undef GR_FORMAT_LOADER
};

void gr_model_free(gr_model *m)
{
    if (!m)
        return;
    gr_model_index_free(m);
    gr_arena_free(&m->strings);
    free(m->features);
    gr_forest_free(m->forest);
    gr_linear_free(m->linear);
    free(m->name);
    free(m->version);
    free(m->description);
    free(m->genome_build);
    free(m->dir);
    free(m->artifact);
    free(m->features_file);
    free(m->algorithm);
    free(m->pgs_id);
    free(m->weight_type);
    free(m->ref_name);
    for (int k = 0; k < GR_PGS_META_KEYS; k++)
        free(m->pgs_meta[k]);
    gr_reference_free(m->ref);
    gr_risk_decl_free(m->risk);
    free(m);
}

/* Finite weights can still add up past the largest double: then scores and
 * attributions come out inf or NaN, which JSON cannot carry. Every output
 * is a sum of terms bounded by these magnitudes (with room for the
 * differences and dosage factors of linear terms). */
static gr_status check_range(const gr_model *m, const char *path, gr_error *err)
{
    double total = fabs(m->info.base_margin);
    if (m->forest) {
        total += fabs(m->forest->expected);
        for (size_t i = 0; i < m->forest->n_leaves; i++)
            total += fabs(m->forest->leaves[i].value) + fabs(m->forest->leaves[i].value_right);
    } else {
        const gr_linear *l = m->linear;
        total += fabs(l->intercept);
        for (size_t i = 0; i < l->n; i++) {
            const double *c = l->c + 3 * i;
            total += fmax(fabs(c[0]), fmax(fabs(c[1]), fabs(c[2]))) + fabs(l->expected[i]);
        }
    }
    if (!isfinite(8 * total))
        return gr_error_set(err, GR_EMODEL, path, 0, NULL,
                            "weights or leaf values so large that a score would overflow");
    return GR_OK;
}

static gr_status fill_info(gr_model *m)
{
    gr_model_info *in = &m->info;
    in->name = m->name;
    in->version = m->version;
    in->description = m->description;
    in->genome_build = m->genome_build;
    in->dir = m->dir;
    in->artifact = m->artifact;
    in->features_file = m->features_file;
    in->algorithm = m->algorithm ? m->algorithm : gr_format_name(in->format);
    in->pgs_id = m->pgs_id ? m->pgs_id : "";
    in->min_coverage = m->min_coverage;
    in->impute = m->impute;
    in->policy = m->policy;
    in->alleles_are_ref_alt = in->format != GR_FORMAT_PGS_CATALOG;
    in->weight_type = m->weight_type ? m->weight_type : "";
    in->weight_log = m->weight_log;
    memcpy(in->pgs_unscored, m->pgs_unscored, sizeof in->pgs_unscored);
    for (int k = 0; k < GR_PGS_META_KEYS; k++)
        in->pgs_meta[k] = m->pgs_meta[k] ? m->pgs_meta[k] : "";
    in->sha256 = m->sha256;
    in->synthetic = m->synthetic;
    in->reference = m->ref ? gr_reference_get_info(m->ref)->name : "";
    in->reference_score =
        m->ref && m->ref_score >= 0 ? gr_reference_score_id(m->ref, (size_t)m->ref_score) : "";
    in->n_features = m->n_features;
    in->n_features_with_mean = in->n_features_with_locus = in->n_features_with_gene = 0;
    for (size_t i = 0; i < m->n_features; i++) {
        in->n_features_with_mean += !isnan(m->features[i].mean);
        in->n_features_with_locus += m->features[i].locus[0] != '\0';
        in->n_features_with_gene += m->features[i].gene[0] != '\0';
    }
    if (m->forest) {
        in->n_trees = m->forest->n_trees;
        in->n_leaves = m->forest->n_leaf_nodes;
        in->max_depth = m->forest->max_depth;
        in->explain_method = "tree_shap_path_dependent";
    } else {
        in->explain_method = "linear_exact";
    }
    if (m->link == GR_LINK_LOGISTIC)
        in->space = GR_SPACE_MARGIN;
    else if (in->task == GR_TASK_CLASSIFICATION)
        in->space = GR_SPACE_PROBABILITY;
    else
        in->space = GR_SPACE_IDENTITY;
    return GR_OK;
}

/* The directory a bundle sits in: "models" for "models/x" or "models/x/",
 * "." for "x". Returns new. */
static char *parent_dir(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    while (n > 0 && dir[n - 1] != '/')
        n--;
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n == 0)
        return gr_strdup(".");
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, dir, n);
        p[n] = 0;
    }
    return p;
}

/* The score of m a reference must hold: reference_score, else its name,
 * else its PGS Catalog id. */
static long find_score(const gr_model *m, const struct gr_reference *r, const char *want)
{
    if (want && *want)
        return gr_reference_score(r, want);
    long k = gr_reference_score(r, m->name);
    return k >= 0 || !m->pgs_id ? k : gr_reference_score(r, m->pgs_id);
}

gr_status gr_model_set_reference(gr_model *m, struct gr_reference *r, gr_error *err)
{
    (void)err;
    gr_reference_free(m->ref);
    m->ref = r;
    m->ref_score = find_score(m, r, NULL);
    fill_info(m);
    return GR_OK;
}

/* The manifest's reference (a bundle beside this one) and risk block. */
static gr_status load_reference(gr_model *m, const char *dir, const char *score_id, json_t *risk,
                                gr_error *err)
{
    gr_status st = GR_OK;
    char *parent = NULL, *rdir = NULL;
    if (*m->ref_name) {
        if (!(parent = parent_dir(dir)) || !(rdir = gr_path_join(parent, m->ref_name))) {
            st = gr_error_set(err, GR_ENOMEM, dir, 0, NULL, "out of memory");
            goto fail;
        }
        if ((st = gr_reference_load(rdir, &m->ref, err)))
            goto fail;
        if ((m->ref_score = find_score(m, m->ref, score_id)) < 0) {
            st = gr_error_set(err, GR_EMODEL, rdir, 0, "scores",
                              "reference %s holds no score %s for model %s", m->ref_name,
                              *score_id ? score_id : m->name, m->name);
            goto fail;
        }
    }
    if (risk) {
        char *mpath = gr_path_join(dir, "manifest.json");
        st = mpath ? gr_risk_decl_from_json(risk, mpath, &m->risk, err)
                   : gr_error_set(err, GR_ENOMEM, dir, 0, NULL, "out of memory");
        free(mpath);
    }

fail:
    free(parent);
    free(rdir);
    return st;
}

/* What gr_model_load and gr_model_load_features share: the whole bundle,
 * or (features_only) its manifest and features file, indexed. */
static gr_status load(const char *dir, int threads, int features_only, gr_model **out,
                      gr_error *user_err)
{
    gr_error local, *err = user_err ? user_err : &local;
    gr_status st = GR_OK;
    gr_manifest man;
    gr_model *m = NULL;
    char *mpath = NULL, *apath = NULL, *fpath = NULL, *score_id = NULL;
    json_t *risk = NULL;
    gr_error_clear(err);
    memset(&man, 0, sizeof man);
    *out = NULL;

    if (!dir || !*dir)
        return gr_error_set(err, GR_EINVAL, NULL, 0, NULL, "no model directory given");
    mpath = gr_path_join(dir, "manifest.json");
    if (!mpath) {
        st = gr_error_set(err, GR_ENOMEM, dir, 0, NULL, "out of memory");
        goto fail;
    }
    if ((st = gr_manifest_load(mpath, &man, err)))
        goto fail;
    m = calloc(1, sizeof *m);
    if (!m) {
        st = gr_error_set(err, GR_ENOMEM, dir, 0, NULL, "out of memory");
        goto fail;
    }
    m->load_threads = threads > 1 ? threads : 1;
    m->name = man.name;
    m->version = man.version;
    m->description = man.description;
    m->genome_build = man.genome_build;
    m->artifact = man.artifact;
    m->features_file = man.features;
    m->min_coverage = man.min_coverage;
    m->impute = man.impute;
    m->policy = man.policy;
    m->weight_log = man.weight_log;
    m->info.task = man.task;
    m->info.format = man.format;
    m->ref_name = man.reference;
    m->ref_score = -1;
    m->synthetic = man.synthetic;
    score_id = man.reference_score;
    risk = man.risk;
    memset(&man, 0, sizeof man); /* ownership moved into m */
    m->dir = gr_strdup(dir);
    apath = gr_path_join(dir, m->artifact);
    if (!m->dir || !apath) {
        st = gr_error_set(err, GR_ENOMEM, dir, 0, NULL, "out of memory");
        goto fail;
    }
    if (m->info.format != GR_FORMAT_PGS_CATALOG) {
        fpath = gr_path_join(dir, m->features_file);
        if (!fpath) {
            st = gr_error_set(err, GR_ENOMEM, dir, 0, NULL, "out of memory");
            goto fail;
        }
        if ((st = gr_features_load(m, fpath, err)))
            goto fail;
    }
    if (features_only && !fpath) {
        st = gr_error_set(err, GR_EUNSUPPORTED, dir, 0, "format",
                          "a %s bundle's variants are its artifact: it has no features file "
                          "to load alone",
                          gr_format_name(m->info.format));
        goto fail;
    }
    if (features_only) {
        if ((st = gr_model_build_index(m, fpath, err)))
            goto fail;
        fill_info(m);
        *out = m;
        m = NULL;
        goto fail;
    }
    if ((st = loaders[m->info.format](m, apath, err)))
        goto fail;
    if ((st = gr_model_build_index(m, fpath ? fpath : apath, err)) ||
        (st = check_range(m, apath, err)))
        goto fail;
    const char *files[] = { "manifest.json", m->features_file ? m->features_file : "",
                            m->artifact };
    if ((st = gr_bundle_digest(dir, files, 3, m->sha256, err)) ||
        (st = load_reference(m, dir, score_id, risk, err)))
        goto fail;
    fill_info(m);
    *out = m;
    m = NULL;

fail:
    free(score_id);
    json_decref(risk);
    gr_manifest_clear(&man);
    gr_model_free(m);
    free(mpath);
    free(apath);
    free(fpath);
    return st;
}

gr_status gr_model_load(const char *dir, gr_model **out, gr_error *err)
{
    return load(dir, 1, 0, out, err);
}

gr_status gr_model_load_threads(const char *dir, int threads, gr_model **out, gr_error *err)
{
    return load(dir, threads, 0, out, err);
}

gr_status gr_model_load_features(const char *dir, gr_model **out, gr_error *err)
{
    return load(dir, 1, 1, out, err);
}

static int same_text(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

int gr_model_same_features(const gr_model *a, const gr_model *b)
{
    if (a->n_features != b->n_features || a->info.format != b->info.format ||
        a->impute != b->impute || a->policy.name != b->policy.name ||
        a->policy.drop_ambiguous != b->policy.drop_ambiguous ||
        a->policy.drop_multiallelic != b->policy.drop_multiallelic ||
        a->policy.chrx != b->policy.chrx || a->policy.drop_unmatched != b->policy.drop_unmatched ||
        a->policy.impute != b->policy.impute || a->ids_indexed != b->ids_indexed)
        return 0;
    for (size_t i = 0; i < a->n_features; i++) {
        const gr_feature *f = &a->features[i], *g = &b->features[i];
        if (f->pos != g->pos || memcmp(&f->mean, &g->mean, sizeof f->mean) ||
            !same_text(f->id, g->id) || !same_text(f->chrom, g->chrom) ||
            !same_text(f->ref, g->ref) || !same_text(f->alt, g->alt) ||
            !same_text(f->rsid, g->rsid) || !same_text(f->locus, g->locus) ||
            !same_text(f->gene, g->gene))
            return 0;
    }
    return 1;
}

gr_status gr_model_load_variants(const char *tsv, const char *name, const char *genome_build,
                                 gr_model **out, gr_error *err)
{
    gr_status st = GR_OK;
    gr_model *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m || !(m->name = gr_strdup(name)) || !(m->version = gr_strdup("")) ||
        !(m->description = gr_strdup("")) || !(m->genome_build = gr_strdup(genome_build)) ||
        !(m->dir = gr_strdup("")) || !(m->artifact = gr_strdup("")) ||
        !(m->features_file = gr_strdup(tsv)) || !(m->algorithm = gr_strdup("variant set"))) {
        st = gr_error_set(err, GR_ENOMEM, tsv, 0, NULL, "out of memory");
        goto fail;
    }
    m->info.task = GR_TASK_REGRESSION;
    m->info.format = GR_FORMAT_GENORISK_LINEAR;
    m->impute = GR_IMPUTE_NONE;
    m->policy = gr_policy_named(GR_POLICY_TRAINED);
    m->ref_score = -1;
    if ((st = gr_features_load(m, tsv, err)))
        goto fail;
    if (!(m->linear = gr_linear_new(m->n_features))) {
        st = gr_error_set(err, GR_ENOMEM, tsv, 0, NULL, "out of memory");
        goto fail;
    }
    gr_linear_finish(m->linear, m->features);
    if ((st = gr_model_build_index(m, tsv, err)))
        goto fail;
    fill_info(m);
    *out = m;
    m = NULL;

fail:
    gr_model_free(m);
    return st;
}
