/* model.c - gr_model_load: manifest, features, the format's loader, and the
 * genotype-key index; plus the accessors of model.h. */
#include <htslib/khash.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

KHASH_MAP_INIT_STR(grkey, long)

static const char *format_name(gr_format f)
{
    switch (f) {
    case GR_FORMAT_XGBOOST_JSON: return "xgboost-json";
    case GR_FORMAT_GENORISK_TREES: return "genorisk-trees";
    case GR_FORMAT_GENORISK_LINEAR: return "genorisk-linear";
    case GR_FORMAT_PGS_CATALOG: return "pgs-catalog";
    }
    return "?";
}

void gr_model_free(gr_model *m)
{
    if (!m)
        return;
    /* The index's keys are borrowed from the feature records and locus_keys. */
    if (m->keys)
        kh_destroy(grkey, (khash_t(grkey) *)m->keys);
    free(m->locus_keys);
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
    free(m);
}

/* Adds the alias key -> i (an rsid or a locus). A feature_id always keeps
 * naming its own feature, so every id the API prints can be sent back; an
 * alias shared by two features becomes ambiguous (-2). */
static int add_key(const gr_model *m, khash_t(grkey) * h, const char *key, long i)
{
    int ret;
    khint_t k = kh_put(grkey, h, key, &ret);
    if (ret < 0)
        return 0;
    if (ret != 0)
        kh_val(h, k) = i;
    else if (kh_val(h, k) >= 0 && kh_val(h, k) != i && strcmp(m->features[kh_val(h, k)].id, key))
        kh_val(h, k) = -2;
    return 1;
}

static khash_t(grkey) * index_of(gr_model *m)
{
    if (!m->keys)
        m->keys = kh_init(grkey);
    return m->keys;
}

int gr_model_reserve(gr_model *m, size_t n)
{
    khash_t(grkey) *h = index_of(m);
    if (n > m->cap_features) {
        gr_feature *f = realloc(m->features, n * sizeof *f);
        if (!f)
            return 0;
        m->features = f;
        m->cap_features = n;
    }
    /* khash keeps its load under 0.77 */
    return h && kh_resize(grkey, h, (khint_t)(n + n / 3 + 16)) >= 0;
}

int gr_model_index_id(gr_model *m, size_t i)
{
    khash_t(grkey) *h = index_of(m);
    int ret;
    if (!h)
        return -1;
    khint_t k = kh_put(grkey, h, m->features[i].id, &ret);
    if (ret < 0)
        return -1;
    if (ret == 0)
        return 0;
    kh_val(h, k) = (long)i;
    return 1;
}

long gr_model_index_get(const gr_model *m, const char *key)
{
    const khash_t(grkey) *h = m->keys;
    if (!h)
        return -1;
    khint_t k = kh_get(grkey, h, key);
    return k != kh_end(h) ? kh_val(h, k) : -1;
}

static gr_status build_index(gr_model *m, const char *source, gr_error *err)
{
    gr_status st = GR_OK;
    khash_t(grkey) *h = index_of(m);
    const char **locus = calloc(m->n_features ? m->n_features : 1, sizeof *locus);
    if (!h || !locus)
        goto oom;
    /* Locus keys "chrom:pos:ref:alt", one buffer for all of them; only those
     * that differ from the feature's id are aliases. */
    size_t total = 0, aliases = 0;
    for (size_t i = 0; i < m->n_features; i++) {
        const gr_feature *f = &m->features[i];
        total += strlen(f->chrom) + strlen(f->ref) + strlen(f->alt) + 24;
    }
    m->locus_keys = malloc(total ? total : 1);
    if (!m->locus_keys)
        goto oom;
    char *p = m->locus_keys;
    for (size_t i = 0; i < m->n_features; i++) {
        const gr_feature *f = &m->features[i];
        aliases += f->rsid[0] && strcmp(f->rsid, f->id);
        if (!f->chrom[0] || f->pos <= 0)
            continue;
        size_t w = gr_locus_key(p, f->chrom, f->pos, f->ref, f->alt);
        if (!strcmp(p, f->id))
            continue; /* the id already is this key (PGS variants without rsID) */
        locus[i] = p;
        aliases++;
        p += w + 1;
    }
    /* sized once for the ids and every alias (khash keeps its load under 0.77) */
    size_t want = m->n_features + aliases;
    if (kh_n_buckets(h) * 0.77 < want + 1 &&
        kh_resize(grkey, h, (khint_t)(want + want / 3 + 16)) < 0)
        goto oom;
    for (size_t i = 0; !m->ids_indexed && i < m->n_features; i++) {
        int got = gr_model_index_id(m, i);
        if (got < 0)
            goto oom;
        if (got == 0) {
            st = gr_error_set(err, GR_EMODEL, source, 0, "feature_id",
                              "feature id '%.80s' appears more than once (features %ld and %zu)",
                              m->features[i].id, gr_model_index_get(m, m->features[i].id), i);
            goto fail;
        }
    }
    for (size_t i = 0; i < m->n_features; i++) {
        const gr_feature *f = &m->features[i];
        if ((f->rsid[0] && !add_key(m, h, f->rsid, (long)i)) ||
            (locus[i] && !add_key(m, h, locus[i], (long)i)))
            goto oom;
    }
    goto fail;
oom:
    st = gr_error_set(err, GR_ENOMEM, source, 0, NULL, "out of memory");
fail:
    free(locus);
    return st;
}

gr_status gr_model_set_link(gr_model *m, const char *link, int identity_needs_regression,
                            const char *path, gr_error *err)
{
    if (!link || (strcmp(link, "logistic") && strcmp(link, "identity")))
        return gr_error_set(err, GR_EMODEL, path, 0, "link",
                            "must be \"logistic\" or \"identity\"");
    m->link = strcmp(link, "logistic") ? GR_LINK_IDENTITY : GR_LINK_LOGISTIC;
    if (m->link == GR_LINK_LOGISTIC && m->info.task != GR_TASK_CLASSIFICATION)
        return gr_error_set(err, GR_EMODEL, path, 0, "link",
                            "a logistic link needs task \"classification\" in the manifest");
    if (m->link == GR_LINK_IDENTITY && identity_needs_regression &&
        m->info.task != GR_TASK_REGRESSION)
        return gr_error_set(err, GR_EMODEL, path, 0, "link",
                            "an identity link needs task \"regression\" in the manifest");
    return GR_OK;
}

const gr_model_info *gr_model_get_info(const gr_model *m)
{
    return &m->info;
}

const gr_feature *gr_model_feature(const gr_model *m, size_t i)
{
    return i < m->n_features ? &m->features[i] : NULL;
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
    in->algorithm = m->algorithm ? m->algorithm : format_name(in->format);
    in->pgs_id = m->pgs_id ? m->pgs_id : "";
    in->min_coverage = m->min_coverage;
    in->impute = m->impute;
    in->alleles_are_ref_alt = in->format != GR_FORMAT_PGS_CATALOG;
    in->n_features = m->n_features;
    in->n_features_with_mean = 0;
    for (size_t i = 0; i < m->n_features; i++)
        in->n_features_with_mean += !isnan(m->features[i].mean);
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

gr_status gr_model_load(const char *dir, gr_model **out, gr_error *user_err)
{
    gr_error local, *err = user_err ? user_err : &local;
    gr_status st = GR_OK;
    gr_manifest man;
    gr_model *m = NULL;
    char *mpath = NULL, *apath = NULL, *fpath = NULL;
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
    m->name = man.name;
    m->version = man.version;
    m->description = man.description;
    m->genome_build = man.genome_build;
    m->artifact = man.artifact;
    m->features_file = man.features;
    m->min_coverage = man.min_coverage;
    m->impute = man.impute;
    m->info.task = man.task;
    m->info.format = man.format;
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
    switch (m->info.format) {
    case GR_FORMAT_XGBOOST_JSON: st = gr_load_xgboost(m, apath, err); break;
    case GR_FORMAT_GENORISK_TREES: st = gr_load_trees(m, apath, err); break;
    case GR_FORMAT_GENORISK_LINEAR: st = gr_load_linear(m, apath, err); break;
    case GR_FORMAT_PGS_CATALOG: st = gr_load_pgs(m, apath, err); break;
    }
    if (st)
        goto fail;
    if ((st = build_index(m, fpath ? fpath : apath, err)) || (st = check_range(m, apath, err)))
        goto fail;
    fill_info(m);
    *out = m;
    m = NULL;

fail:
    gr_manifest_clear(&man);
    gr_model_free(m);
    free(mpath);
    free(apath);
    free(fpath);
    return st;
}
