/* reference.h - a reference population (docs/reference-format.md), the
 * context a polygenic score is read in, as pgsc_calc's --run_ancestry
 * computes it: where a sample's genotypes place it among the reference's
 * principal components (FRAPOSA's OADP projection), which population it is
 * most similar to (a random forest over PC1-5), and where its score falls
 * among that population's unrelated samples (percentile, Z) and after the
 * reference's PC adjustments (Z_norm1, Z_norm2).
 *
 * Every number is a function of the sample and the reference alone, never
 * of other samples scored with it. A loaded reference is immutable; each
 * thread projects with its own gr_reference_ws. */
#ifndef GR_REFERENCE_H
#define GR_REFERENCE_H

#include <stddef.h>

#include "error.h"
#include "model.h"

typedef struct gr_reference gr_reference;
typedef struct gr_reference_ws gr_reference_ws;

/* Most populations, PCs and PCs a classifier or adjustment may use. */
#define GR_REF_MAX_POPS 32
#define GR_REF_MAX_PCS 20

typedef struct {
    const char *name, *description, *genome_build, *label_column, *source;
    const char *dir;    /* as given to gr_reference_load */
    const char *sha256; /* 64 hex digits over the bundle's files (docs/reference-format.md) */
    int synthetic;      /* made-up data: every answer says so */
    size_t n_populations;
    const char *const *populations; /* sorted; the classifier's class order */
    size_t n_pcs;                   /* PCs a projection gives */
    size_t n_classifier_pcs;        /* PC1..k the forest reads */
    size_t n_norm_pcs;              /* PC1..k Z_norm1 and Z_norm2 use */
    double low_confidence_below;    /* most similar population's least confident probability */
    size_t n_reference, n_unrelated;
    size_t n_scores;
    size_t n_variants; /* projection variants; 0 when the bundle has no projection */
} gr_reference_info;

/* Loads the bundle in dir. On success *out is new (gr_reference_free); on
 * failure NULL with err naming the file, field and why. */
gr_status gr_reference_load(const char *dir, gr_reference **out, gr_error *err);
void gr_reference_free(gr_reference *r);

/* Borrowed; valid while r lives. */
const gr_reference_info *gr_reference_get_info(const gr_reference *r);

/* The projection's variants as a model that scores nothing, for matching a
 * sample's genotypes to them (JSON keys, VCF records) as any model's
 * features; its feature i is projection variant i. Borrowed; NULL when the
 * bundle has no projection. */
const gr_model *gr_reference_variants(const gr_reference *r);

/* Index of the score with that id, or -1. */
long gr_reference_score(const gr_reference *r, const char *id);
/* Score k's id (borrowed). */
const char *gr_reference_score_id(const gr_reference *r, size_t k);

/* Per-thread scratch for projections: new, or NULL when out of memory. */
gr_reference_ws *gr_reference_ws_new(const gr_reference *r);
void gr_reference_ws_free(gr_reference_ws *ws);

/* Where a sample sits among the reference. */
typedef struct {
    double pcs[GR_REF_MAX_PCS]; /* n_pcs of them */
    size_t n_pcs;
    double prob[GR_REF_MAX_POPS]; /* per population, in info.populations order */
    size_t most_similar;          /* index of the largest probability (the first on a tie) */
    int low_confidence;           /* prob[most_similar] < low_confidence_below */
} gr_ancestry;

/* Projects a sample's ALT dosages at the projection variants (n_variants
 * values, NaN for missing: counted as the reference mean) onto the
 * reference PCs, then classifies it. GR_EUNSUPPORTED when the bundle has no
 * projection. */
gr_status gr_reference_place(const gr_reference *r, gr_reference_ws *ws, const double *dosage,
                             gr_ancestry *out, gr_error *err);

/* Classifies a sample whose PCs are given (n values, at least
 * n_classifier_pcs and n_norm_pcs; from FRAPOSA or plink2, as
 * genorisk adjust reads them). */
gr_status gr_reference_classify(const gr_reference *r, const double *pcs, size_t n,
                                gr_ancestry *out, gr_error *err);

/* A score read against the reference population a sample is most similar
 * to, and adjusted for its PCs (pgsc_calc's columns). */
typedef struct {
    double percentile; /* percentile_MostSimilarPop: scipy's percentileofscore, kind 'rank' */
    double z;          /* Z_MostSimilarPop: (x - mean) / sd, sd with ddof 0 */
    double z_norm1;    /* (x - offset - OLS(PC)) / sd of the training residuals */
    double z_norm2;    /* (x - offset - mu(PC)) / sqrt(exp(var(PC))) */
} gr_adjusted;

/* Adjusts score x of reference score k for a sample placed at a. GR_OK, or
 * GR_EINPUT (err says which score and reference) when x or any adjusted
 * number is not finite: PCs or a score so far outside the reference's that
 * a Z overflows (out then holds them, for no use). */
gr_status gr_reference_adjust(const gr_reference *r, size_t k, const gr_ancestry *a, double x,
                              gr_adjusted *out, gr_error *err);

/* Score k's distribution in population p: its 101 percentiles (0..100)
 * (borrowed), and how many unrelated reference samples it holds. */
const double *gr_reference_percentiles(const gr_reference *r, size_t k, size_t p, size_t *n);

#endif
