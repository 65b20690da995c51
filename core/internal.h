/* internal.h - the structures behind gr_model, shared by the loaders, the
 * inference code and SHAP. Not installed; nothing outside core/ includes it. */
#ifndef GR_INTERNAL_H
#define GR_INTERNAL_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"

/* ---- forests (forest.c, treeshap.c) ---- */

/* One node in traversal form. Siblings are adjacent: the left child is
 * kids >> 1, the right child the one after it; bit 0 of kids is default_left.
 * A leaf has feat < 0 and keeps its value in thr. Thresholds are stored so
 * that "go left" is always (double)(float)x < thr. */
typedef struct {
    double thr;
    int32_t feat;
    uint32_t kids;
} gr_tnode;

/* One leaf's root path, for SHAP: d distinct features (slots), their
 * cover-weighted zero fractions, and the n_cond branch conditions that decide
 * whether a row agrees with the path.
 * A pair entry stands for two sibling leaves under node `split`, whose
 * feature is new to the path: slots and conds then describe the path down to
 * `split`, and the two leaves are handled in one pass (treeshap.c). */
typedef struct {
    double value;                 /* leaf value scaled by the tree's weight; pair: left leaf's */
    double value_right;           /* pair: right leaf's value */
    double zero_left, zero_right; /* pair: cover ratios at split */
    uint32_t cond_off;            /* first entry in gr_forest.conds */
    uint32_t slot_off;            /* first entry in gr_forest.slot_feat / slot_zero */
    uint32_t split;               /* pair: the parent node */
    int32_t split_feat;           /* pair: its feature; -1 for a single leaf */
    uint8_t n_cond;
    uint8_t d;
} gr_leaf;

typedef struct {
    uint32_t node;     /* internal node on the path */
    uint8_t want_left; /* 1 when the path goes left there */
    uint8_t slot;      /* the path's distinct-feature slot of that node's feature */
} gr_cond;

/* Up to GR_SHAP_LANES consecutive entries of one shape (d, pair or not),
 * which treeshap.c explains side by side for one row; their slot fractions
 * are also stored lane by lane: group_zero[(soa + s) * GR_SHAP_LANES + b]
 * is slot s of entry first + b (0 past n). */
typedef struct {
    uint32_t first, soa;
    uint8_t n, d, pair;
} gr_leaf_group;

typedef enum { GR_COMBINE_SUM, GR_COMBINE_MEAN } gr_combine;

typedef struct gr_forest {
    size_t n_features;
    gr_combine combine;
    double tree_scale; /* each tree's value is multiplied by it (SUM only) */
    size_t n_trees, n_nodes, cap_nodes;
    uint32_t *roots; /* per tree */
    gr_tnode *nodes;
    double *cover; /* per node; used while building SHAP paths */
    int max_depth;

    size_t n_leaf_nodes;               /* leaves in the trees */
    size_t n_leaves, n_conds, n_slots; /* SHAP path entries (a sibling pair is one) */
    gr_leaf *leaves;
    gr_cond *conds;
    int32_t *slot_feat;
    double *slot_zero;
    double expected; /* sum over trees of the scaled cover-weighted leaf mean */
    int max_slots;   /* largest distinct-feature count of an entry (d, plus one for a pair) */
    size_t n_groups; /* entries in groups of one shape (sorted by it) */
    gr_leaf_group *groups;
    double *group_zero;
    double *quad_t; /* Gauss-Legendre rules on [0, 1]: the n-point rule's nodes start at */
    double *quad_w; /* index n(n-1)/2, its weights likewise (treeshap.c) */
} gr_forest;

/* A tree as loaders find it: node i has children left[i]/right[i] (-1 at a
 * leaf), split feature, threshold already in "x < thr" form, leaf value,
 * cover and default direction. Root is node 0. */
typedef struct {
    size_t n;
    const int64_t *left, *right, *feature;
    const double *thr, *value, *cover;
    const uint8_t *default_left;
} gr_raw_tree;

gr_forest *gr_forest_new(size_t n_features, gr_combine combine, double tree_scale);
void gr_forest_free(gr_forest *f);
/* Validates t (indices, cycles, depth, finite numbers) and appends it. */
gr_status gr_forest_add_tree(gr_forest *f, const gr_raw_tree *t, size_t tree_index,
                             const char *source, gr_error *err);
/* Builds the SHAP tables once every tree is in. */
gr_status gr_forest_finish(gr_forest *f, const char *source, gr_error *err);
/* Raw ensemble output before base margin and link: sum or mean of tree values.
 * xf holds (double)(float) dosages, NaN for missing. */
double gr_forest_predict(const gr_forest *f, const double *xf);
/* Rows explained together by gr_forest_shap_batch. */
#define GR_SHAP_LANES GR_BATCH_MAX

/* The instruction sets treeshap.c's kernel is compiled for. */
typedef enum { GR_SIMD_AUTO, GR_SIMD_BASE, GR_SIMD_AVX2, GR_SIMD_AVX512 } gr_simd;

/* The best kernel this CPU runs; and a kernel's name. */
gr_simd gr_simd_best(void);
const char *gr_simd_name(gr_simd s);

/* Path-dependent TreeSHAP for nb rows (1..GR_SHAP_LANES) at once: adds each
 * feature's attribution for row b to phi[b]. xf[b] as gr_forest_predict's;
 * mask is n_nodes bytes of scratch. simd picks the kernel (AUTO: the best;
 * all give the same bits). Returns 1, or 0 when nb is out of range or the
 * CPU lacks the kernel asked for (nothing is added then). */
int gr_forest_shap_batch(const gr_forest *f, gr_simd simd, size_t nb, const double *const *xf,
                         uint8_t *mask, double *const *phi);

/* Once every entry is in (gr_forest_finish): sorts the entries by shape,
 * groups them for one-row explanations and fills the quadrature rules.
 * 1, or 0 when out of memory (f keeps its entries, unsorted or sorted). */
int gr_forest_shap_tables(gr_forest *f);

/* A genorisk-trees document parsed (load_trees.c): the forest (new, owned
 * by the caller), how it combines, its link and estimator names (borrowed
 * from the JSON, NULL when absent). */
typedef struct {
    gr_forest *forest;
    gr_combine combine;
    double scale, base_margin;
    const char *link, *estimator;
} gr_trees_doc;

/* Parses the genorisk-trees object root over n_features inputs; errors
 * name path and the field under where ("" at the top of the file). On
 * failure out->forest is NULL. */
gr_status gr_trees_parse(json_t *root, size_t n_features, const char *path, const char *where,
                         gr_trees_doc *out, gr_error *err);

/* ---- linear models (linear.c) ---- */

/* Contribution of feature i at dosage d is piecewise linear through
 * (0, c[3i]), (1, c[3i+1]), (2, c[3i+2]): additive (0, w, 2w), dominant
 * (0, w, w), recessive (0, 0, w), or PGS per-dosage weights. */
typedef struct gr_linear {
    size_t n;
    double intercept;
    double *c;            /* 3 per feature */
    double *expected;     /* per feature: E[contribution] under Hardy-Weinberg at
                         the feature's mean, or c[3i] when the mean is unknown */
    double *missing_term; /* what a missing dosage adds: expected[i] when the
                             mean is known (imputation), else 0 */
} gr_linear;

gr_linear *gr_linear_new(size_t n);
void gr_linear_free(gr_linear *l);
/* Fills expected[] from the features' means. */
void gr_linear_finish(gr_linear *l, const gr_feature *features);
/* x: dosages with NaN for missing (imputation happens here, not before).
 * A missing term adds, with fill (n values, borrowed), its expectation under
 * Hardy-Weinberg frequencies at mean dosage fill[i] (nothing when that is
 * NaN); without fill, impute=mean adds its expectation at the feature's own
 * mean and impute=none nothing. */
double gr_linear_predict(const gr_linear *l, const double *x, gr_impute impute, const double *fill,
                         double *phi, double *base);

/* ---- small-string storage ---- */

/* Strings allocated from large chunks and freed together: a model's
 * feature strings, a loader's temporary keys. Zero-initialise to start. */
typedef struct {
    char **chunks;
    size_t n_chunks, used, cap;
} gr_arena;

/* Returns room for n bytes, or NULL when out of memory. */
char *gr_arena_alloc(gr_arena *a, size_t n);
/* Copies s (NUL included). */
char *gr_arena_strdup(gr_arena *a, const char *s);
void gr_arena_free(gr_arena *a);

/* ---- the model ---- */

typedef enum { GR_LINK_IDENTITY, GR_LINK_LOGISTIC } gr_link;

struct gr_model {
    gr_model_info info;
    char *name, *version, *description, *genome_build, *dir, *artifact, *features_file, *algorithm,
        *pgs_id;
    double min_coverage;
    gr_impute impute;
    gr_policy policy;
    int weight_log;    /* pgs-catalog: score log(weight) (manifest weight_transform) */
    char *weight_type; /* pgs-catalog: the file's #weight_type, or NULL */
    size_t pgs_unscored[GR_PGS_UNSCORED_KINDS];
    char *pgs_meta[GR_PGS_META_KEYS]; /* pgs-catalog header facts, or NULL */
    gr_link link;
    size_t n_features, cap_features;
    gr_feature *features;
    gr_arena strings;  /* owned storage behind features[] */
    void *keys;        /* khash: key -> index, -2 when ambiguous */
    int ids_indexed;   /* the loader put every feature id in keys */
    char *locus_keys;  /* storage of the "chrom:pos:ref:alt" keys */
    gr_forest *forest; /* exactly one of forest and linear is set */
    gr_linear *linear;
    char sha256[65];           /* gr_bundle_digest over manifest, features, artifact */
    int synthetic;             /* manifest "synthetic" */
    struct gr_reference *ref;  /* the manifest's reference bundle (owned), or NULL */
    long ref_score;            /* this model's score in ref, or -1 */
    char *ref_name;            /* manifest "reference" ("" for none) */
    struct gr_risk_decl *risk; /* manifest "risk" (owned), or NULL */
    int load_threads;          /* threads the loader may use (gr_model_load_threads) */
};

/* A variant set as a model that scores nothing (every weight 0): the
 * projection variants of a reference, matched to a sample's genotypes as
 * any model's features are. tsv is in features.tsv layout. On success *out
 * is new. */
gr_status gr_model_load_variants(const char *tsv, const char *name, const char *genome_build,
                                 gr_model **out, gr_error *err);

/* manifest.c: parsed manifest.json. */
typedef struct {
    char *name, *version, *description, *genome_build, *artifact, *features;
    gr_task task;
    gr_format format;
    double min_coverage;
    gr_policy policy;      /* "policy" and its rules, else the format's set */
    gr_impute impute;      /* "impute", else the policy's, else none for xgboost-json and
                         mean otherwise */
    int weight_log;        /* "weight_transform": "log" (pgs-catalog only) */
    char *reference;       /* a reference bundle beside this one, "" for none */
    char *reference_score; /* the score's id in it, "" for the model's name */
    int synthetic;         /* "synthetic": made-up data */
    json_t *risk;          /* "risk", or NULL (a new reference) */
} gr_manifest;

/* A bundle is self-contained: its files are plain names inside it (no
 * '/', not "." or "..", under 256 bytes). */
int gr_valid_file_name(const char *s);

gr_status gr_manifest_load(const char *path, gr_manifest *out, gr_error *err);
void gr_manifest_clear(gr_manifest *m);

/* features.c: reads features.tsv into m->features. */
gr_status gr_features_load(gr_model *m, const char *path, gr_error *err);
/* Adds one feature (copies the strings); used by features.tsv and PGS loaders.
 * locus and gene may be NULL or "" (none); a locus or gene equal to the
 * previous feature's shares its copy, as a scoring file lists a locus's
 * variants together. */
gr_status gr_model_add_feature(gr_model *m, const char *id, const char *chrom, int64_t pos,
                               const char *ref, const char *alt, const char *rsid, double mean,
                               const char *locus, const char *gene, gr_error *err);

/* The key index (model.c). gr_model_load indexes every feature id, then the
 * rsIDs and loci as aliases. A loader that needs to know as it reads whether
 * an id is taken (pgs.c) indexes the ids itself and sets ids_indexed.
 * gr_model_reserve: room for n features in features[] and the index (a
 * hint: 0 when out of memory, and nothing is lost). gr_model_index_id adds
 * feature i's id: 1, or 0 when another feature has it, -1 out of memory.
 * gr_model_index_get: the feature whose id or alias is exactly key, -1 when
 * none (-2 for an ambiguous alias). */
int gr_model_reserve(gr_model *m, size_t n);
/* Indexes every feature id (unless the loader did) and the rsIDs and loci
 * as aliases; a feature id given twice is GR_EMODEL naming source. */
gr_status gr_model_build_index(gr_model *m, const char *source, gr_error *err);
/* Frees the index (gr_model_free calls it). */
void gr_model_index_free(gr_model *m);
int gr_model_index_id(gr_model *m, size_t i);
long gr_model_index_get(const gr_model *m, const char *key);

/* Sets m->link from a model file's "link" value, checking that it suits the
 * manifest's task: logistic needs classification, identity is anything but a
 * classifier with a logistic output. */
gr_status gr_model_set_link(gr_model *m, const char *link, int identity_needs_regression,
                            const char *path, gr_error *err);

/* Loaders: each fills m->forest or m->linear plus algorithm and base margin. */
gr_status gr_load_xgboost(gr_model *m, const char *path, gr_error *err);
gr_status gr_load_trees(gr_model *m, const char *path, gr_error *err);
gr_status gr_load_linear(gr_model *m, const char *path, gr_error *err);
gr_status gr_load_pgs(gr_model *m, const char *path, gr_error *err);

/* util.c */
char *gr_strdup(const char *s);
/* Grows *p, an array of elem-byte items with room for *cap, to room for at
 * least need, doubling (from 64): 1, or 0 when out of memory (*p and *cap
 * as they were). */
int gr_grow(void **p, size_t *cap, size_t need, size_t elem);
char *gr_path_join(const char *dir, const char *file);
/* Strict number parsing: the whole string, finite. */
int gr_parse_double(const char *s, double *out);
int gr_parse_int64(const char *s, int64_t *out);
/* Splits line in place on tabs; returns the field count (at most max). */
size_t gr_split_tabs(char *line, char **fields, size_t max);
/* Writes "chrom:pos:a:b" into out (room for the four strings + 24 bytes);
 * returns its length. Cheaper than snprintf on the load path. */
size_t gr_locus_key(char *out, const char *chrom, int64_t pos, const char *a, const char *b);
/* 1 when s is UTF-8 that JSON can carry (jansson's rules: no overlong forms,
 * surrogates or code points past U+10FFFF): ids and names the API prints. */
int gr_utf8_valid(const char *s);
/* Cuts s before a last UTF-8 sequence left unfinished (by a length limit). */
void gr_utf8_trim(char *s);

#endif
