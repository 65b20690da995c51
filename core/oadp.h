/* oadp.h - projection of one sample onto a reference PCA by FRAPOSA's
 * online augmentation, decomposition and Procrustes (OADP; Zhang, Dey & Lee
 * 2020), as pgsc_calc runs it (fraposa_pgsc's oadp()): the sample,
 * standardised by the reference, is added to the reference's SVD, the
 * augmented PCs are mapped onto the reference PCs by Procrustes and the
 * sample's row gives its PCs. The reference comes from a bundle's
 * projection.json (the reference bundle spec, issue 12). */
#ifndef GR_OADP_H
#define GR_OADP_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"

/* Ceilings on what a projection may claim, checked before anything is sized.
 * A dimension costs its cube per sample (the SVDs). */
#define GR_OADP_MAX_VARIANTS 50000000
#define GR_OADP_MAX_REFERENCE 10000000
#define GR_OADP_MAX_DIM 256

/* procrustes_diffdim's stopping rule, fraposa's defaults. */
#define GR_OADP_EPSILON 1e-6
#define GR_OADP_MAX_ITER 10000

/* ref_pcs must equal V[:, :dim_ref] * s[:dim_ref] (what fraposa's oadp()
 * maps onto) within this fraction of each PC's largest magnitude: loose
 * enough for a bundle written with fraposa's 4 decimals, tight enough to
 * catch a PC whose sign or order differs between the two. */
#define GR_OADP_REF_PCS_TOL 0.02

/* A reference PCA as fraposa keeps it. Matrices are row-major; every array
 * is borrowed for the call of gr_oadp_new only (the handle copies what it
 * needs). */
typedef struct {
    size_t p;              /* variants */
    size_t n;              /* reference samples */
    size_t dim_ref;        /* PCs reported (pgsc_calc: 10) */
    size_t dim_online;     /* reference components kept for the online SVD (40) */
    size_t dim_stu;        /* augmented PCs mapped by Procrustes (20) */
    const double *mean;    /* p: reference mean ALT dosage per variant */
    const double *sd;      /* p: reference SD (ddof 0) per variant, > 0 */
    const double *U;       /* p x dim_online: left singular vectors */
    const double *s;       /* dim_online: singular values, > 0, non-increasing */
    const double *V;       /* n x dim_online: right singular vectors */
    const double *ref_pcs; /* n x dim_ref: the reference PCs, V[:, :dim_ref] * s */
} gr_oadp_spec;

typedef struct gr_oadp gr_oadp;       /* immutable once made; share across threads */
typedef struct gr_oadp_ws gr_oadp_ws; /* per-thread scratch of gr_oadp_project */

/* Checks spec and makes *out (returns new: free with gr_oadp_free).
 * Errors, with err->field naming the member:
 *   GR_EINVAL  spec, out or an array is NULL;
 *   GR_ELIMIT  p, n or dim_online over the GR_OADP_MAX_* ceilings;
 *   GR_EMODEL  dim_ref is 0, or not dim_ref <= dim_stu <= dim_online <=
 *              min(p, n); a value not finite; an sd or s not > 0; s not
 *              non-increasing; ref_pcs not V[:, :dim_ref] * s[:dim_ref]
 *              (GR_OADP_REF_PCS_TOL);
 *   GR_ENOMEM. */
gr_status gr_oadp_new(const gr_oadp_spec *spec, gr_oadp **out, gr_error *err);

/* Reads a projection.json object (borrowed root; source, which may be NULL,
 * names the file in errors) into *out (returns new). Every member is
 * required: "method" "oadp"; the integers "n_variants", "n_reference",
 * "dim_ref", "dim_online", "dim_stu"; the arrays "mean", "sd", "U", "s",
 * "V", "ref_pcs" of the lengths the integers give. Errors are
 * gr_oadp_new's, plus GR_EMODEL naming the member (and the index) that is
 * missing, of the wrong type or length, or not a finite number. */
gr_status gr_oadp_from_json(const json_t *root, const char *source, gr_oadp **out, gr_error *err);

/* Frees o; NULL is a no-op. */
void gr_oadp_free(gr_oadp *o);

size_t gr_oadp_p(const gr_oadp *o);       /* variants a sample gives */
size_t gr_oadp_n(const gr_oadp *o);       /* reference samples */
size_t gr_oadp_dim_ref(const gr_oadp *o); /* PCs gr_oadp_project writes */

/* Returns new scratch for projecting with o (and any handle of the same
 * dimensions), or NULL when out of memory. One per thread. */
gr_oadp_ws *gr_oadp_ws_new(const gr_oadp *o);
/* Frees ws; NULL is a no-op. */
void gr_oadp_ws_free(gr_oadp_ws *ws);

/* Projects one sample: dosage holds p ALT dosages in projection order (NaN
 * marks a missing call; borrowed), pcs gets dim_ref PCs (caller-owned).
 * Standardises (dosage - mean) / sd with missing calls 0, then runs OADP as
 * fraposa does: the online SVD of the reference's dim_online components
 * augmented with the sample, dim_stu augmented PCs, procrustes_diffdim onto
 * V[:, :dim_ref] * s[:dim_ref] until epsilon < GR_OADP_EPSILON (at most
 * GR_OADP_MAX_ITER iterations; fraposa, too, keeps the last one then). No
 * allocation. Errors: GR_EINVAL (NULL argument, or ws made for other
 * dimensions); GR_EINPUT when a dosage is infinite or the standardised
 * sample lies in the span of the reference components (every call missing,
 * for one), where fraposa divides by zero. pcs is unchanged on error. */
gr_status gr_oadp_project(const gr_oadp *o, gr_oadp_ws *ws, const double *dosage, double *pcs,
                          gr_error *err);

/* Procrustes iterations the last successful gr_oadp_project with ws took
 * (0 before one). */
size_t gr_oadp_ws_iterations(const gr_oadp_ws *ws);

#endif
