/* svd.c - one-sided (Hestenes) Jacobi SVD: plane rotations applied to pairs
 * of columns until every pair is orthogonal to working precision; the column
 * norms are then the singular values, the accumulated rotations the right
 * vectors. It is short, needs no workspace beyond its outputs and computes
 * small singular values to high relative accuracy, which suits the 20 to 41
 * column matrices of OADP, factored once or a few times per sample. */
#include "svd.h"

#include <float.h>
#include <math.h>
#include <string.h>

static double dot(const double *x, const double *y, size_t n)
{
    double acc = 0;
    for (size_t i = 0; i < n; i++)
        acc += x[i] * y[i];
    return acc;
}

/* (x, y) <- (c x - s y, s x + c y) */
static void rotate(double *x, double *y, size_t n, double c, double s)
{
    for (size_t i = 0; i < n; i++) {
        double xi = x[i], yi = y[i];
        x[i] = c * xi - s * yi;
        y[i] = s * xi + c * yi;
    }
}

/* One sweep over every pair of columns; returns how many it rotated. A pair
 * counts as orthogonal when |x.y| <= rows eps |x| |y| (a dot product's
 * rounding; LAPACK's dgesvj uses sqrt(rows) eps), relative to the pair, so
 * small columns are made as orthogonal as large ones. A column of norm at
 * most tiny is left alone: it is rounding left over from a rank-deficient
 * matrix, and rotating it against a large column only makes new rounding of
 * its own size, so the sweeps would never end. */
static size_t sweep(size_t rows, size_t cols, double *a, double *v, double tiny)
{
    size_t rotated = 0;
    for (size_t i = 0; i + 1 < cols; i++) {
        for (size_t j = i + 1; j < cols; j++) {
            double *x = a + i * rows, *y = a + j * rows;
            double al = dot(x, x, rows), be = dot(y, y, rows), ga = dot(x, y, rows);
            if (al <= tiny * tiny || be <= tiny * tiny ||
                fabs(ga) <= (double)rows * DBL_EPSILON * sqrt(al) * sqrt(be))
                continue;
            double zeta = (be - al) / (2 * ga);
            double t = copysign(1.0, zeta) / (fabs(zeta) + sqrt(1 + zeta * zeta));
            double c = 1 / sqrt(1 + t * t);
            rotate(x, y, rows, c, c * t);
            rotate(v + i * cols, v + j * cols, cols, c, c * t);
            rotated++;
        }
    }
    return rotated;
}

static void swap_cols(double *m, size_t len, size_t i, size_t j)
{
    for (size_t r = 0; r < len; r++) {
        double t = m[i * len + r];
        m[i * len + r] = m[j * len + r];
        m[j * len + r] = t;
    }
}

/* Column j of u (its singular value negligible) becomes a unit vector
 * orthogonal to the columns before it, from the standard basis vector that
 * keeps most after two Gram-Schmidt passes. The columns after j are
 * negligible too, since s is sorted, and are completed after it. */
static void complete(size_t rows, double *u, size_t j)
{
    double *x = u + j * rows, best = -1;
    size_t pick = 0;
    for (size_t e = 0; e < rows; e++) {
        double keep = 1; /* |e - sum (u_k . e) u_k|^2 = 1 - sum u_k[e]^2 */
        for (size_t k = 0; k < j; k++)
            keep -= u[k * rows + e] * u[k * rows + e];
        if (keep > best) {
            best = keep;
            pick = e;
        }
    }
    memset(x, 0, rows * sizeof *x);
    x[pick] = 1;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < j; k++) {
            double d = dot(u + k * rows, x, rows);
            for (size_t r = 0; r < rows; r++)
                x[r] -= d * u[k * rows + r];
        }
    }
    double nrm = sqrt(dot(x, x, rows));
    for (size_t r = 0; r < rows; r++)
        x[r] /= nrm;
}

gr_status gr_svd_jacobi(size_t rows, size_t cols, double *a, double *s, double *v, gr_error *err)
{
    if (!a || !s || !v || cols == 0 || rows < cols)
        return gr_error_set(err, GR_EINVAL, NULL, 0, NULL,
                            "gr_svd_jacobi needs rows >= cols >= 1 and three arrays");
    for (size_t i = 0; i < rows * cols; i++)
        if (!isfinite(a[i]))
            return gr_error_set(err, GR_EINPUT, NULL, 0, NULL,
                                "the matrix to factor has a value that is not finite");
    double fro = 0;
    for (size_t i = 0; i < rows * cols; i++)
        fro += a[i] * a[i];
    double tiny = (double)rows * DBL_EPSILON * sqrt(fro);
    memset(v, 0, cols * cols * sizeof *v);
    for (size_t j = 0; j < cols; j++)
        v[j * cols + j] = 1;
    size_t n_sweeps = 0;
    while (sweep(rows, cols, a, v, tiny) > 0)
        if (++n_sweeps == GR_SVD_MAX_SWEEPS)
            return gr_error_set(err, GR_EINPUT, NULL, 0, NULL,
                                "the SVD did not converge in %d sweeps", GR_SVD_MAX_SWEEPS);
    for (size_t j = 0; j < cols; j++)
        s[j] = sqrt(dot(a + j * rows, a + j * rows, rows));
    for (size_t j = 0; j < cols; j++) { /* selection sort, descending */
        size_t big = j;
        for (size_t k = j + 1; k < cols; k++)
            if (s[k] > s[big])
                big = k;
        if (big != j) {
            double t = s[j];
            s[j] = s[big];
            s[big] = t;
            swap_cols(a, rows, j, big);
            swap_cols(v, cols, j, big);
        }
    }
    for (size_t j = 0; j < cols; j++) {
        if (s[j] > tiny) {
            for (size_t r = 0; r < rows; r++)
                a[j * rows + r] /= s[j];
        } else {
            complete(rows, a, j);
        }
    }
    return GR_OK;
}
