/* model.h - loading model bundles and running exact inference and SHAP on them.
 *
 * A bundle is a directory holding manifest.json (docs/model-format.md). A loaded
 * gr_model is immutable, so any number of threads may use one at once, each
 * with its own gr_workspace. */
#ifndef GR_MODEL_H
#define GR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define GR_VERSION "0.1.0"

/* Most splits on one root-to-leaf path; deeper trees fail to load (GR_ELIMIT). */
#define GR_MAX_TREE_DEPTH 64

typedef struct gr_model gr_model;
typedef struct gr_workspace gr_workspace;

typedef enum { GR_TASK_CLASSIFICATION, GR_TASK_REGRESSION } gr_task;

/* The model formats, one row each: the enum constant, the manifest's
 * "format" name, and the loader (core/load_*.c, declared in internal.h). A
 * new format is a row here and its loader file; the manifest parser, the
 * loader dispatch and the API's model description all read this table. */
#define GR_FORMAT_MAP(X)                                                                           \
    X(GR_FORMAT_XGBOOST_JSON, "xgboost-json", gr_load_xgboost)                                     \
    X(GR_FORMAT_GENORISK_TREES, "genorisk-trees", gr_load_trees)                                   \
    X(GR_FORMAT_GENORISK_LINEAR, "genorisk-linear", gr_load_linear)                                \
    X(GR_FORMAT_PGS_CATALOG, "pgs-catalog", gr_load_pgs)

typedef enum {
#define GR_FORMAT_ENUM(id, name, loader) id,
    GR_FORMAT_MAP(GR_FORMAT_ENUM)
#undef GR_FORMAT_ENUM
        GR_FORMAT_COUNT
} gr_format;

/* The manifest name of a format ("xgboost-json", ...); "" out of range. */
const char *gr_format_name(gr_format f);
/* Parses a manifest format name into *out: 1, or 0 when unknown. */
int gr_format_parse(const char *s, gr_format *out);

/* Where attributions add up: base_value + sum(phi) equals the margin (MARGIN,
 * IDENTITY) or the score (PROBABILITY). */
typedef enum { GR_SPACE_MARGIN, GR_SPACE_PROBABILITY, GR_SPACE_IDENTITY } gr_space;

/* What a missing dosage becomes (docs/model-format.md, Missing genotypes).
 * NONE: trees take the branch they learned (default_left), linear and PGS
 * terms add nothing, as XGBoost and plink2 --score no-mean-imputation do.
 * MEAN: the feature's mean from features.tsv (or 2 x the PGS allele
 * frequency) where it has one; features without a mean stay missing. */
typedef enum { GR_IMPUTE_NONE, GR_IMPUTE_MEAN, GR_IMPUTE_COHORT } gr_impute;
/* COHORT: the mean dosage of the samples scored together (one upload, one
 * JSON request), as plink2 --score imputes by default; the pipeline
 * computes it (gr_workspace_set_fill) and falls back to MEAN's value for a
 * request of one sample or a variant no sample of it has. */

/* "none", "mean" or "cohort". */
const char *gr_impute_name(gr_impute v);
/* Parses "none", "mean" or "cohort" into *out: 1, or 0 when s is none of them. */
int gr_impute_parse(const char *s, gr_impute *out);

/* The matching policy: which matches count, per model (manifest) and per
 * request (docs/vcf-matching.md, "Matching policy"). The named sets:
 *   pgsc    pgsc_calc's defaults: strand-ambiguous SNVs and multi-allelic
 *           records excluded, chrX not scored, unmatched variants left out
 *           of the score, missing calls imputed with the cohort's mean;
 *   plink2  plink2 --score: everything kept, a haploid chrX call counts
 *           double, unmatched variants left out, cohort-mean imputation;
 *   trained genorisk's rule for models trained on genotype matrices: an
 *           exact REF/ALT match is never dropped, and a variant no record
 *           gives is missing (imputed as the model says).
 * pgs-catalog bundles default to pgsc, every other format to trained. */
typedef enum {
    GR_POLICY_PGSC,
    GR_POLICY_PLINK2,
    GR_POLICY_TRAINED,
    GR_POLICY_CUSTOM
} gr_policy_name;
typedef enum { GR_CHRX_DOUBLE, GR_CHRX_SKIP } gr_chrx;

typedef struct {
    gr_policy_name name;   /* the set it started from; CUSTOM once a rule is changed */
    int drop_ambiguous;    /* exclude A/T and C/G SNVs, whatever the record */
    int drop_multiallelic; /* exclude matches in records with several ALTs */
    gr_chrx chrx;          /* chrX: haploid calls count double, or not scored */
    int drop_unmatched;    /* a variant no record (or key) gives is left out of
                            * the score, never imputed */
    int impute;            /* the set's gr_impute, or -1: the model's manifest */
} gr_policy;

/* Why a scoring file's row is not scored, as pgsc_calc leaves such rows
 * out: a haplotype, diplotype or interaction term, or an effect allele
 * that is no sequence of A, C, G, T (APOE or HLA alleles by name). */
typedef enum {
    GR_PGS_HAPLOTYPE,
    GR_PGS_DIPLOTYPE,
    GR_PGS_INTERACTION,
    GR_PGS_NOT_ACGT,
    GR_PGS_UNSCORED_KINDS
} gr_pgs_unscored;

/* "haplotype", "diplotype", "interaction", "effect_allele_not_acgt". */
const char *gr_pgs_unscored_name(gr_pgs_unscored k);

/* The scoring file's header facts an answer's provenance cites. */
typedef enum {
    GR_PGS_NAME,
    GR_PGS_TRAIT,
    GR_PGS_TRAIT_EFO,
    GR_PGS_CITATION,
    GR_PGS_LICENSE,
    GR_PGS_META_KEYS
} gr_pgs_meta;
/* The header key of each: "pgs_name", "trait_reported", "trait_efo",
 * "citation", "license". */
const char *gr_pgs_meta_name(gr_pgs_meta k);

/* Everything a caller may want to show about a model. Strings are borrowed
 * from the model and live as long as it does; optional ones are "" when absent. */
typedef struct {
    const char *name, *version, *description, *genome_build;
    const char *dir;            /* the bundle directory as given to gr_model_load */
    const char *artifact;       /* file name inside the bundle */
    const char *features_file;  /* "" for pgs-catalog bundles */
    const char *algorithm;      /* e.g. "xgboost 1.7.4 gbtree binary:logistic" */
    const char *explain_method; /* "tree_shap_path_dependent" or "linear_exact" */
    const char *pgs_id;         /* pgs-catalog metadata, "" otherwise */
    gr_task task;
    gr_format format;
    gr_space space;
    size_t n_features;
    size_t n_trees;  /* 0 for linear models */
    size_t n_leaves; /* 0 for linear models */
    int max_depth;   /* longest root-to-leaf path in edges */
    size_t n_features_with_mean;
    size_t n_features_with_locus; /* features whose locus (gene) is not "": what */
    size_t n_features_with_gene;  /* group_by=locus (gene) needs at least one of */
    double base_margin;           /* bias before any tree or weight */
    double min_coverage;          /* manifest: least share of observed variants */
    gr_impute impute;             /* manifest: the default for missing dosages */
    gr_policy policy;             /* manifest: the default matching policy (match.h) */
    int alleles_are_ref_alt;      /* each feature's ref and alt are the genome's REF and ALT
                                (features.tsv); 0 for a PGS, whose other allele may be
                                either */
    /* pgs-catalog only: the file's #weight_type ("" when absent), whether
     * the manifest's weight_transform takes their logarithm, and the rows
     * not scored, by reason (gr_pgs_unscored) */
    const char *weight_type;
    int weight_log;
    size_t pgs_unscored[GR_PGS_UNSCORED_KINDS];
    const char *pgs_meta[GR_PGS_META_KEYS]; /* "" when the header lacks one */
    /* provenance and context (docs/model-format.md, "Population context") */
    const char *sha256;          /* 64 hex digits over the bundle's files */
    int synthetic;               /* the manifest says the bundle is made-up data */
    const char *reference;       /* the reference bundle's name, "" for none */
    const char *reference_score; /* the score's id in it, "" for none */
} gr_model_info;

typedef struct {
    const char *id;    /* feature_id, unique in the model */
    const char *chrom; /* normalised: no "chr" prefix, X, Y, MT; "" if unknown */
    int64_t pos;       /* 1-based; 0 if unknown */
    const char *ref;   /* "" if unknown */
    const char *alt;   /* the counted allele: dosage = copies of alt */
    const char *rsid;  /* "" if none */
    double mean;       /* population mean dosage in 0..2, NaN if unknown */
    const char *locus; /* features.tsv's locus, a PGS scoring file's locus_name; "" if none */
    const char *gene;  /* features.tsv's gene; "" if none */
} gr_feature;

/* Loads the bundle in dir. On success *out is new (free with gr_model_free).
 * On failure *out is NULL and err names the file, line or field, and why. */
gr_status gr_model_load(const char *dir, gr_model **out, gr_error *err);
/* gr_model_load on up to `threads` threads where the load splits (an
 * XGBoost model's number arrays are read in parallel); the same model, to
 * the bit, and the same errors. gr_model_load is threads = 1. */
gr_status gr_model_load_threads(const char *dir, int threads, gr_model **out, gr_error *err);
/* The part of the bundle in dir that reading input needs, without its
 * artifact: the manifest and the features file, indexed as gr_model_load
 * indexes them. *out (new) matches keys, names features and reads genotypes
 * as the whole model does, but cannot predict (gr_predict refuses it): for
 * a caller that reads its input while the whole model loads, and then
 * checks gr_model_same_features. A bundle without a features file (a PGS
 * scoring file's variants are its artifact) is refused, GR_EUNSUPPORTED;
 * other errors are gr_model_load's for the same files. */
gr_status gr_model_load_features(const char *dir, gr_model **out, gr_error *err);
/* 1 when a and b read input alike: the same features, in order, and the
 * same matching rules. */
int gr_model_same_features(const gr_model *a, const gr_model *b);

/* Frees a model; NULL is allowed. No workspace of it may be in use. */
void gr_model_free(gr_model *m);

/* Borrowed; valid while m lives. */
const gr_model_info *gr_model_get_info(const gr_model *m);

struct gr_reference;
struct gr_risk_decl;
/* The reference population m's scores are read against (core/reference.h),
 * and m's score's index in it; NULL and -1 when the manifest names none.
 * Borrowed. */
const struct gr_reference *gr_model_reference(const gr_model *m, long *score);
/* The manifest's risk categories and absolute-risk method (core/risk_decl.h),
 * or NULL. Borrowed. */
const struct gr_risk_decl *gr_model_risk(const gr_model *m);
/* Gives m the reference r in place of its manifest's (takes ownership of
 * r; the CLI's --reference). Before m is shared with other threads only.
 * Unlike a manifest's reference, r may hold no score for m (its name, else
 * its PGS id): samples are then placed, and their scores not read against
 * it (gr_model_reference's score is -1). GR_OK. */
gr_status gr_model_set_reference(gr_model *m, struct gr_reference *r, gr_error *err);

/* Borrowed feature i (i < n_features). */
const gr_feature *gr_model_feature(const gr_model *m, size_t i);

/* Index of the feature a genotype key names: its feature_id, its rsid, or
 * "chrom:pos:ref:alt" (chromosome spelled any common way; alleles in either
 * order or on the other strand, as a VCF record's: gr_model_match_key in
 * match.h tells which). Returns the index, -1 when the model has no such
 * key, -2 when the key names several features. */
long gr_model_find_feature(const gr_model *m, const char *key);

/* Normalises a chromosome name into out: strips chr/CHR/Chr, maps 23->X,
 * 24->Y, M/chrM->MT. Returns out. */
char *gr_chrom_normalize(const char *in, char *out, size_t size);

/* Returns new scratch memory for one thread's predictions on m, NULL when out
 * of memory. A workspace must not be shared between threads at once. It
 * imputes as the model's manifest says until gr_workspace_set_impute. */
gr_workspace *gr_workspace_new(const gr_model *m);
void gr_workspace_free(gr_workspace *ws);
/* How gr_predict with ws treats missing dosages from now on. */
void gr_workspace_set_impute(gr_workspace *ws, gr_impute how);
/* What each missing dosage becomes from now on, whatever the impute rule:
 * fill[i] for feature i, NaN to leave it missing (borrowed, n_features
 * values, must outlive its use; NULL restores the rule's own values). */
void gr_workspace_set_fill(gr_workspace *ws, const double *fill);

/* The coverage rule, for every input: 1 when a sample with `observed` of
 * the model's variants given a dosage may be scored (observed / n_features
 * >= min_coverage; a model without features always may). */
int gr_coverage_ok(const gr_model *m, size_t observed);

/* Copies of the counted allele in a called genotype: count of its ploidy
 * alleles are the counted one. A haploid call on chrX counts double, as
 * plink2 counts it (docs/vcf-matching.md, rule 6); the result is at most 2.
 * JSON genotype strings and VCF records both go through here. */
int gr_call_dosage(int count, int ploidy, int chr_x);

typedef struct {
    double margin;       /* raw value before the link */
    double score;        /* probability (classification) or prediction (regression) */
    double base_value;   /* expected value of the explained output; set when phi given */
    size_t n_expected;   /* features in the model */
    size_t n_observed;   /* features given a dosage */
    size_t n_imputed;    /* missing, filled with the feature's mean (impute=mean) */
    double observed_sum; /* the observed dosages added up (plink2's
                            NAMED_ALLELE_DOSAGE_SUM) */
    size_t n_missing;    /* missing and not imputed: trees take the default
                           branch, linear terms add nothing */
} gr_prediction;

/* Predicts one sample. x holds n_features ALT dosages in model order, NaN for
 * missing (borrowed, not modified); each non-NaN value must lie in [0, 2].
 * When phi is non-NULL it receives n_features attributions in the model's
 * space (gr_model_info.space) and out->base_value is set, so that
 * base_value + sum(phi) reproduces the explained output.
 * used, when non-NULL, receives the dosage each feature was evaluated at
 * (the mean when imputed, NaN when missing). */
gr_status gr_predict(const gr_model *m, gr_workspace *ws, const double *x, gr_prediction *out,
                     double *phi, double *used, gr_error *err);

/* Predicts n samples as gr_predict would predict each, explaining up to
 * gr_model_batch_width(m) of them in one pass over the trees (faster than
 * one at a time; the same bits). x[i], out[i], phi[i] and used[i] are
 * gr_predict's x, out, phi and used for sample i; phi and used are NULL or
 * arrays of n pointers (used's may be NULL). fill, when non-NULL, holds
 * per sample what gr_workspace_set_fill would set (each may be NULL: the
 * workspace's own). On failure, the failing sample's status, with *bad
 * (when non-NULL) its index: samples before it are complete. On success
 * *bad = n. */
gr_status gr_predict_batch(const gr_model *m, gr_workspace *ws, size_t n, const double *const *x,
                           const double *const *fill, gr_prediction *out, double *const *phi,
                           double *const *used, size_t *bad, gr_error *err);

/* How many samples gr_predict_batch explains per pass for m: GR_BATCH_MAX
 * for a forest of at most GR_BATCH_MAX_FEATURES features, else 1 (a
 * linear model gains nothing by more; a wider forest would hold eight
 * copies of its feature vector per buffer and thread). */
#define GR_BATCH_MAX 8
#define GR_BATCH_MAX_FEATURES 65536
size_t gr_model_batch_width(const gr_model *m);

#endif
