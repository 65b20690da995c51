/* oadp.c - FRAPOSA's OADP projection (see oadp.h), exact to fraposa's numpy
 * up to rounding.
 *
 * fraposa forms, for every sample, the n x dim_stu augmented PCs X of the
 * reference rows and runs procrustes_diffdim on them: every iteration costs
 * O(n dim_stu^2). Everything that iteration needs from X is its centred Gram
 * matrix, its column means and Y^T X, with Y = V[:, :dim_ref] * s the
 * reference PCs; and X = V Q S, where Q and S come from the SVD of a small
 * (dim_online + 1)-square matrix. With M = V^T V and the column sums of V,
 * kept by the handle, those are products of dim_online-sized matrices, and a
 * projection costs O(p dim_online + dim_online^3), whatever n.
 *
 * The iteration fills Y's missing columns with Z, which starts at 0 and is
 * then always X A + 1 c^T for the last transform (A = rho R[:, dim_ref:]);
 * Procrustes maps means onto means, so Z stays centred, Zc = Xc A, and
 * fraposa's epsilon, |Z_new - Z|^2 / |Z_new - mean|^2, is
 * tr(D^T G D) / tr(A^T G A) with D = A_new - A and G = Xc^T Xc. Only the
 * first dim_ref columns of the last R, rho and c reach the output, and the
 * signs SVDs give their vectors cancel in R = V_C U_C^T. */
#include "oadp.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svd.h"

struct gr_oadp {
    size_t p, n, k, dr, m; /* k = dim_online, dr = dim_ref, m = dim_stu */
    double *mean, *sd;     /* p */
    double *U;             /* p x k */
    double *s;             /* k */
    double *M;             /* k x k: V^T V */
    double *vsum;          /* k: column sums of V */
};

struct gr_oadp_ws {
    size_t p, k, dr, m, iterations;
    double *block;
    double *w, *a;             /* p, k: standardised sample, U^T w */
    double *K, *Kv, *d2;       /* (k+1)^2 twice, k+1: the online SVD */
    double *P;                 /* k x m: M Q */
    double *G, *YX, *xm, *ym;  /* m x m, dr x m, m, dr: Xc^T Xc, Yc^T Xc, means */
    double *tail;              /* m: the sample's augmented PCs */
    double *A, *An, *T;        /* m x (m - dr) each: Z's transform, new, scratch */
    double *C, *Cv, *Cs, *rot; /* m x m, m x m, m, m x m: one Procrustes */
};

/* ---- checks ---- */

static gr_status check_dims(size_t p, size_t n, size_t dr, size_t k, size_t m, const char *src,
                            gr_error *err)
{
    if (p > GR_OADP_MAX_VARIANTS)
        return gr_error_set(err, GR_ELIMIT, src, 0, "n_variants",
                            "%zu variants is over the limit of %d", p, GR_OADP_MAX_VARIANTS);
    if (n > GR_OADP_MAX_REFERENCE)
        return gr_error_set(err, GR_ELIMIT, src, 0, "n_reference",
                            "%zu reference samples is over the limit of %d", n,
                            GR_OADP_MAX_REFERENCE);
    if (k > GR_OADP_MAX_DIM)
        return gr_error_set(err, GR_ELIMIT, src, 0, "dim_online",
                            "%zu components is over the limit of %d", k, GR_OADP_MAX_DIM);
    if (dr == 0)
        return gr_error_set(err, GR_EMODEL, src, 0, "dim_ref", "must be at least 1");
    if (m < dr)
        return gr_error_set(err, GR_EMODEL, src, 0, "dim_stu", "is %zu, less than dim_ref (%zu)", m,
                            dr);
    if (k < m)
        return gr_error_set(err, GR_EMODEL, src, 0, "dim_online", "is %zu, less than dim_stu (%zu)",
                            k, m);
    if (k > p || k > n)
        return gr_error_set(err, GR_EMODEL, src, 0, "dim_online",
                            "is %zu, more than min(n_variants, n_reference) = %zu", k,
                            p < n ? p : n);
    return GR_OK;
}

/* Every value finite, and > 0 when positive is set. */
static gr_status check_values(const double *x, size_t len, int positive, const char *name,
                              const char *src, gr_error *err)
{
    for (size_t i = 0; i < len; i++) {
        if (isfinite(x[i]) && (!positive || x[i] > 0))
            continue;
        char field[64];
        snprintf(field, sizeof field, "%s[%zu]", name, i);
        return gr_error_set(err, GR_EMODEL, src, 0, field,
                            isfinite(x[i]) ? "must be greater than 0" : "not a finite number");
    }
    return GR_OK;
}

/* ref_pcs against V[:, :dr] * s[:dr], column by column (GR_OADP_REF_PCS_TOL). */
static gr_status check_ref_pcs(const gr_oadp_spec *sp, const char *src, gr_error *err)
{
    size_t k = sp->dim_online, dr = sp->dim_ref;
    for (size_t c = 0; c < dr; c++) {
        double big = 0;
        for (size_t r = 0; r < sp->n; r++)
            big = fmax(big, fabs(sp->V[r * k + c] * sp->s[c]));
        for (size_t r = 0; r < sp->n; r++) {
            if (fabs(sp->ref_pcs[r * dr + c] - sp->V[r * k + c] * sp->s[c]) <=
                GR_OADP_REF_PCS_TOL * big)
                continue;
            char field[64];
            snprintf(field, sizeof field, "ref_pcs[%zu]", r * dr + c);
            return gr_error_set(err, GR_EMODEL, src, 0, field,
                                "PC%zu of reference sample %zu is not V[:, %zu] * s[%zu] "
                                "(a PC of another sign or order than U, s, V?)",
                                c + 1, r + 1, c, c);
        }
    }
    return GR_OK;
}

static gr_status check_spec(const gr_oadp_spec *sp, const char *src, gr_error *err)
{
    gr_status st;
    size_t p = sp->p, n = sp->n, k = sp->dim_online;
    if ((st = check_dims(p, n, sp->dim_ref, k, sp->dim_stu, src, err)) ||
        (st = check_values(sp->mean, p, 0, "mean", src, err)) ||
        (st = check_values(sp->sd, p, 1, "sd", src, err)) ||
        (st = check_values(sp->U, p * k, 0, "U", src, err)) ||
        (st = check_values(sp->s, k, 1, "s", src, err)) ||
        (st = check_values(sp->V, n * k, 0, "V", src, err)) ||
        (st = check_values(sp->ref_pcs, n * sp->dim_ref, 0, "ref_pcs", src, err)))
        return st;
    for (size_t i = 1; i < k; i++)
        if (sp->s[i] > sp->s[i - 1]) {
            char field[32];
            snprintf(field, sizeof field, "s[%zu]", i);
            return gr_error_set(err, GR_EMODEL, src, 0, field, "singular values must not increase");
        }
    return check_ref_pcs(sp, src, err);
}

/* ---- the handle ---- */

static double *dup_doubles(const double *x, size_t len)
{
    double *y = malloc(len * sizeof *y);
    if (y)
        memcpy(y, x, len * sizeof *y);
    return y;
}

static gr_status build(const gr_oadp_spec *sp, const char *src, gr_oadp **out, gr_error *err)
{
    gr_status st;
    if (out)
        *out = NULL;
    if (!sp || !out || !sp->mean || !sp->sd || !sp->U || !sp->s || !sp->V || !sp->ref_pcs)
        return gr_error_set(err, GR_EINVAL, src, 0, NULL,
                            "gr_oadp_new needs a spec with every array, and out");
    if ((st = check_spec(sp, src, err)))
        return st;
    size_t k = sp->dim_online, n = sp->n;
    gr_oadp *o = calloc(1, sizeof *o);
    if (!o)
        return gr_error_set(err, GR_ENOMEM, src, 0, NULL, "out of memory");
    *o = (gr_oadp){ sp->p, n, k, sp->dim_ref, sp->dim_stu, NULL, NULL, NULL, NULL, NULL, NULL };
    o->mean = dup_doubles(sp->mean, sp->p);
    o->sd = dup_doubles(sp->sd, sp->p);
    o->U = dup_doubles(sp->U, sp->p * k);
    o->s = dup_doubles(sp->s, k);
    o->M = calloc(k * k, sizeof *o->M);
    o->vsum = calloc(k, sizeof *o->vsum);
    if (!o->mean || !o->sd || !o->U || !o->s || !o->M || !o->vsum) {
        st = gr_error_set(err, GR_ENOMEM, src, 0, NULL, "out of memory");
        goto fail;
    }
    for (size_t r = 0; r < n; r++) {
        const double *vr = sp->V + r * k;
        for (size_t i = 0; i < k; i++) {
            o->vsum[i] += vr[i];
            for (size_t j = 0; j < k; j++)
                o->M[i * k + j] += vr[i] * vr[j];
        }
    }
    *out = o;
    return GR_OK;
fail:
    gr_oadp_free(o);
    return st;
}

gr_status gr_oadp_new(const gr_oadp_spec *spec, gr_oadp **out, gr_error *err)
{
    return build(spec, NULL, out, err);
}

void gr_oadp_free(gr_oadp *o)
{
    if (!o)
        return;
    free(o->mean);
    free(o->sd);
    free(o->U);
    free(o->s);
    free(o->M);
    free(o->vsum);
    free(o);
}

size_t gr_oadp_p(const gr_oadp *o)
{
    return o->p;
}

size_t gr_oadp_n(const gr_oadp *o)
{
    return o->n;
}

size_t gr_oadp_dim_ref(const gr_oadp *o)
{
    return o->dr;
}

/* ---- projection.json ---- */

static gr_status json_dim(const json_t *root, const char *key, size_t *out, const char *src,
                          gr_error *err)
{
    const json_t *v = json_object_get(root, key);
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return gr_error_set(err, GR_EMODEL, src, 0, key,
                            v ? "must be a positive integer" : "missing");
    json_int_t x = json_integer_value(v);
    /* a count past every ceiling stays past them as a size_t: check_dims says so */
    *out =
        (uint64_t)x > (uint64_t)GR_OADP_MAX_VARIANTS ? (size_t)GR_OADP_MAX_VARIANTS + 1 : (size_t)x;
    return GR_OK;
}

/* *out = a new copy of root[key], an array of exactly len finite numbers
 * (its length checked before anything is allocated). */
static gr_status json_doubles(const json_t *root, const char *key, size_t len, double **out,
                              const char *src, gr_error *err)
{
    const json_t *arr = json_object_get(root, key);
    if (!json_is_array(arr))
        return gr_error_set(err, GR_EMODEL, src, 0, key, "missing or not an array");
    if (json_array_size(arr) != len)
        return gr_error_set(err, GR_EMODEL, src, 0, key, "has %zu entries, expected %zu",
                            json_array_size(arr), len);
    double *x = malloc((len ? len : 1) * sizeof *x);
    if (!x)
        return gr_error_set(err, GR_ENOMEM, src, 0, key, "out of memory");
    for (size_t i = 0; i < len; i++) {
        const json_t *v = json_array_get(arr, i);
        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            char field[64];
            snprintf(field, sizeof field, "%s[%zu]", key, i);
            free(x);
            return gr_error_set(err, GR_EMODEL, src, 0, field, "not a finite number");
        }
        x[i] = json_number_value(v);
    }
    *out = x;
    return GR_OK;
}

gr_status gr_oadp_from_json(const json_t *root, const char *source, gr_oadp **out, gr_error *err)
{
    gr_status st = GR_OK;
    gr_oadp_spec sp = { 0 };
    double *arrays[6] = { NULL };
    if (!out)
        return gr_error_set(err, GR_EINVAL, source, 0, NULL, "gr_oadp_from_json needs out");
    *out = NULL;
    if (!json_is_object(root))
        return gr_error_set(err, GR_EMODEL, source, 0, NULL, "the projection is not an object");
    const char *method = json_string_value(json_object_get(root, "method"));
    if (!method)
        return gr_error_set(err, GR_EMODEL, source, 0, "method", "missing or not a string");
    if (strcmp(method, "oadp"))
        return gr_error_set(err, GR_EUNSUPPORTED, source, 0, "method",
                            "only \"oadp\" (FRAPOSA) projections are supported");
    if ((st = json_dim(root, "n_variants", &sp.p, source, err)) ||
        (st = json_dim(root, "n_reference", &sp.n, source, err)) ||
        (st = json_dim(root, "dim_ref", &sp.dim_ref, source, err)) ||
        (st = json_dim(root, "dim_online", &sp.dim_online, source, err)) ||
        (st = json_dim(root, "dim_stu", &sp.dim_stu, source, err)) ||
        (st = check_dims(sp.p, sp.n, sp.dim_ref, sp.dim_online, sp.dim_stu, source, err)))
        return st;
    size_t k = sp.dim_online;
    static const char *const keys[6] = { "mean", "sd", "U", "s", "V", "ref_pcs" };
    size_t lens[6] = { sp.p, sp.p, sp.p * k, k, sp.n * k, sp.n * sp.dim_ref };
    for (size_t i = 0; i < 6; i++)
        if ((st = json_doubles(root, keys[i], lens[i], &arrays[i], source, err)))
            goto fail;
    sp.mean = arrays[0];
    sp.sd = arrays[1];
    sp.U = arrays[2];
    sp.s = arrays[3];
    sp.V = arrays[4];
    sp.ref_pcs = arrays[5];
    st = build(&sp, source, out, err);
fail:
    for (size_t i = 0; i < 6; i++)
        free(arrays[i]);
    return st;
}

/* ---- workspace ---- */

gr_oadp_ws *gr_oadp_ws_new(const gr_oadp *o)
{
    if (!o)
        return NULL;
    size_t p = o->p, k = o->k, dr = o->dr, m = o->m, e = m - dr, k1 = k + 1;
    size_t sizes[] = { p,  k, k1 * k1, k1 * k1, k1,    k * m, m * m, dr * m, m,
                       dr, m, m * e,   m * e,   m * e, m * m, m * m, m,      m * m };
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        total += sizes[i];
    gr_oadp_ws *ws = calloc(1, sizeof *ws);
    double *b = ws ? calloc(total, sizeof *b) : NULL;
    if (!b) {
        free(ws);
        return NULL;
    }
    *ws = (gr_oadp_ws){ .p = p, .k = k, .dr = dr, .m = m, .block = b };
    double **slots[] = { &ws->w,  &ws->a,  &ws->K,  &ws->Kv, &ws->d2,   &ws->P,
                         &ws->G,  &ws->YX, &ws->xm, &ws->ym, &ws->tail, &ws->A,
                         &ws->An, &ws->T,  &ws->C,  &ws->Cv, &ws->Cs,   &ws->rot };
    for (size_t i = 0; i < sizeof slots / sizeof *slots; i++) {
        *slots[i] = b;
        b += sizes[i];
    }
    return ws;
}

void gr_oadp_ws_free(gr_oadp_ws *ws)
{
    if (!ws)
        return;
    free(ws->block);
    free(ws);
}

size_t gr_oadp_ws_iterations(const gr_oadp_ws *ws)
{
    return ws ? ws->iterations : 0;
}

/* ---- projection, in stages ---- */

/* w = (dosage - mean) / sd, missing 0; a = U^T w; then the (k+1)-square
 * matrix whose SVD is that of the reference augmented with w (fraposa's
 * svd_online): [diag(s) a; 0 t], t = w's residual off U, normalised, dotted
 * with w. */
static gr_status augment(const gr_oadp *o, gr_oadp_ws *ws, const double *dosage, gr_error *err)
{
    size_t p = o->p, k = o->k, k1 = k + 1;
    double *w = ws->w, *a = ws->a;
    memset(a, 0, k * sizeof *a);
    for (size_t i = 0; i < p; i++) {
        if (isinf(dosage[i]))
            return gr_error_set(err, GR_EINPUT, NULL, 0, NULL,
                                "the dosage of projection variant %zu is not finite", i + 1);
        w[i] = isnan(dosage[i]) ? 0 : (dosage[i] - o->mean[i]) / o->sd[i];
        const double *ui = o->U + i * k;
        for (size_t j = 0; j < k; j++)
            a[j] += ui[j] * w[i];
    }
    double rr = 0, rw = 0;
    for (size_t i = 0; i < p; i++) {
        const double *ui = o->U + i * k;
        double proj = 0;
        for (size_t j = 0; j < k; j++)
            proj += ui[j] * a[j];
        double r = w[i] - proj;
        rr += r * r;
        rw += r * w[i];
    }
    if (!(rr > 0) || !isfinite(rr))
        return gr_error_set(err, GR_EINPUT, NULL, 0, NULL,
                            "the sample has nothing outside the reference's components "
                            "(are all its projection variants missing?)");
    double *K = ws->K; /* column by column */
    memset(K, 0, k1 * k1 * sizeof *K);
    for (size_t j = 0; j < k; j++) {
        K[j * k1 + j] = o->s[j];
        K[k * k1 + j] = a[j];
    }
    K[k * k1 + k] = rw / sqrt(rr);
    return gr_svd_jacobi(k1, k1, K, ws->d2, ws->Kv, err);
}

/* From the augmented SVD, with X = V Q S the reference rows' augmented PCs
 * (Q the top m right vectors without their last row, S their singular
 * values) and Y = V[:, :dr] * s: G = Xc^T Xc, YX = Yc^T Xc, the column
 * means xm, ym and the sample's own row, tail. */
static void moments(const gr_oadp *o, gr_oadp_ws *ws)
{
    size_t k = o->k, k1 = k + 1, m = o->m, dr = o->dr;
    double n = (double)o->n;
    const double *Kv = ws->Kv, *S = ws->d2; /* Q[i][j] = Kv[j * k1 + i] */
    for (size_t j = 0; j < m; j++) {
        ws->tail[j] = Kv[j * k1 + k] * S[j];
        double sum = 0;
        for (size_t i = 0; i < k; i++)
            sum += o->vsum[i] * Kv[j * k1 + i];
        ws->xm[j] = sum * S[j] / n;
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < m; j++) {
            double sum = 0;
            for (size_t l = 0; l < k; l++)
                sum += o->M[i * k + l] * Kv[j * k1 + l];
            ws->P[i * m + j] = sum;
        }
    for (size_t a = 0; a < m; a++)
        for (size_t b = 0; b < m; b++) {
            double sum = 0;
            for (size_t i = 0; i < k; i++)
                sum += Kv[a * k1 + i] * ws->P[i * m + b];
            ws->G[a * m + b] = sum * S[a] * S[b] - n * ws->xm[a] * ws->xm[b];
        }
    for (size_t i = 0; i < dr; i++) {
        ws->ym[i] = o->s[i] * o->vsum[i] / n;
        for (size_t j = 0; j < m; j++)
            ws->YX[i * m + j] = o->s[i] * ws->P[i * m + j] * S[j] - n * ws->ym[i] * ws->xm[j];
    }
}

/* tr(D^T G D) for an m x e matrix D; T is scratch. */
static double gram_norm(const double *G, const double *D, double *T, size_t m, size_t e)
{
    double acc = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t q = 0; q < e; q++) {
            double sum = 0;
            for (size_t l = 0; l < m; l++)
                sum += G[i * m + l] * D[l * e + q];
            T[i * e + q] = sum;
        }
    for (size_t i = 0; i < m * e; i++)
        acc += D[i] * T[i];
    return acc;
}

/* One Procrustes of X onto W = [Y, X A]: ws->rot = R (m x m) and *rho. */
static gr_status procrustes(gr_oadp_ws *ws, double trXX, double *rho, gr_error *err)
{
    size_t m = ws->m, dr = ws->dr, e = m - dr;
    double *C = ws->C; /* Wc^T Xc, column by column */
    for (size_t j = 0; j < m; j++) {
        for (size_t i = 0; i < dr; i++)
            C[j * m + i] = ws->YX[i * m + j];
        for (size_t q = 0; q < e; q++) {
            double sum = 0;
            for (size_t l = 0; l < m; l++)
                sum += ws->A[l * e + q] * ws->G[l * m + j];
            C[j * m + dr + q] = sum;
        }
    }
    gr_status st = gr_svd_jacobi(m, m, C, ws->Cs, ws->Cv, err);
    if (st)
        return st;
    double trS = 0;
    for (size_t j = 0; j < m; j++)
        trS += ws->Cs[j];
    *rho = trS / trXX;
    for (size_t r = 0; r < m; r++) /* R = V_C U_C^T */
        for (size_t c = 0; c < m; c++) {
            double sum = 0;
            for (size_t j = 0; j < m; j++)
                sum += ws->Cv[j * m + r] * C[j * m + c];
            ws->rot[r * m + c] = sum;
        }
    return GR_OK;
}

gr_status gr_oadp_project(const gr_oadp *o, gr_oadp_ws *ws, const double *dosage, double *pcs,
                          gr_error *err)
{
    gr_status st;
    if (!o || !ws || !dosage || !pcs)
        return gr_error_set(err, GR_EINVAL, NULL, 0, NULL,
                            "gr_oadp_project needs a projection, a workspace, dosages and pcs");
    if (ws->p != o->p || ws->k != o->k || ws->dr != o->dr || ws->m != o->m)
        return gr_error_set(err, GR_EINVAL, NULL, 0, NULL,
                            "the workspace was made for a projection of other dimensions");
    if ((st = augment(o, ws, dosage, err)))
        return st;
    moments(o, ws);
    size_t m = o->m, dr = o->dr, e = m - dr, it;
    double trXX = 0, rho = 0;
    for (size_t j = 0; j < m; j++)
        trXX += ws->G[j * m + j];
    memset(ws->A, 0, m * e * sizeof *ws->A);
    for (it = 1; it <= GR_OADP_MAX_ITER; it++) {
        if ((st = procrustes(ws, trXX, &rho, err)))
            return st;
        if (e == 0)
            break;
        for (size_t l = 0; l < m; l++)
            for (size_t q = 0; q < e; q++) {
                double x = rho * ws->rot[l * m + dr + q];
                ws->T[l * e + q] = x - ws->A[l * e + q]; /* D, for now */
                ws->An[l * e + q] = x;
            }
        memcpy(ws->C, ws->T, m * e * sizeof *ws->C); /* C is free until the next SVD */
        double moved = gram_norm(ws->G, ws->C, ws->T, m, e);
        double spread = gram_norm(ws->G, ws->An, ws->T, m, e);
        if (moved / spread < GR_OADP_EPSILON)
            break;
        double *swap = ws->A;
        ws->A = ws->An;
        ws->An = swap;
    }
    ws->iterations = it > GR_OADP_MAX_ITER ? GR_OADP_MAX_ITER : it;
    for (size_t i = 0; i < dr; i++) {
        double sum = 0;
        for (size_t j = 0; j < m; j++)
            sum += (ws->tail[j] - ws->xm[j]) * ws->rot[j * m + i];
        pcs[i] = ws->ym[i] + rho * sum;
    }
    return GR_OK;
}
