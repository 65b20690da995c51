/* svd.h - a small dense singular value decomposition (one-sided Jacobi) for
 * the few-dozen-column matrices of the OADP projection (core/oadp.c); no
 * LAPACK. Matrices are stored column by column: entry (i, j) of a rows x cols
 * matrix is a[j * rows + i]. */
#ifndef GR_SVD_H
#define GR_SVD_H

#include <stddef.h>

#include "error.h"

/* Sweeps of rotations before gr_svd_jacobi gives up: Jacobi converges
 * quadratically, a 40 x 40 matrix takes under 10. */
#define GR_SVD_MAX_SWEEPS 100

/* Factors the rows x cols matrix a (rows >= cols >= 1, column by column, as
 * above) as a = u diag(s) v^T, in place:
 *   a (in)   the matrix; (out) u, rows x cols with orthonormal columns (the
 *            columns of negligible singular values, at most rows * eps *
 *            |a|_F, are completed to an orthonormal set: only their span,
 *            the complement of the others, is defined);
 *   s (out)  cols singular values, in descending order;
 *   v (out)  cols x cols, column j the right singular vector of s[j].
 * The signs of the vectors (and their choice within a repeated singular
 * value) are Jacobi's, not LAPACK's. All three are caller-owned. Returns
 * GR_OK; GR_EINVAL when rows < cols or a pointer is NULL; GR_EINPUT when a
 * value is not finite or the rotations have not converged within
 * GR_SVD_MAX_SWEEPS sweeps. */
gr_status gr_svd_jacobi(size_t rows, size_t cols, double *a, double *s, double *v, gr_error *err);

#endif
