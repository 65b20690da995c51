/* treeshap.c - exact path-dependent TreeSHAP by Gauss-Legendre quadrature,
 * vectorised: eight rows at a time, or eight leaves at a time for one row.
 *
 * For a leaf with value v whose root path holds D distinct features, each
 * with zero fraction z_k (product of cover ratios along the path) and one
 * fraction o_k in {0,1} (does the row follow the path at every split on k),
 * Lundberg's recursion sums Shapley weights W(s, D) = s!(D-s-1)!/D!, and
 * W(s, D) = integral over [0,1] of t^s (1-t)^(D-1-s) dt. Put into the sum,
 *     phi_j += v (o_j - z_j) integral of prod_{k != j} f_k(t) dt,
 *     f_k(t) = o_k t + (1 - t) z_k,
 * a polynomial of degree D-1, which a Gauss-Legendre rule of ceil(D/2)
 * points integrates exactly (Quadrature TreeSHAP; XGBoost 3.3 uses the same
 * identity). Each product leaving out one factor comes from prefix and
 * suffix products, so an entry costs O(D) per point, with no division and
 * no branch on the row's data.
 *
 * Two sibling leaves under a split on a feature h new to the path are one
 * entry (gr_leaf pair): h's factor times the value becomes
 * G(t) = v_l f_l(t) + v_r f_r(t), linear in t, and h's own attribution is
 * (v_l (o_l - z_l) + v_r (o_r - z_r)) times the integral of the other
 * factors; both leaves cost one pass.
 *
 * Each arithmetic step is one vector operation over GR_SHAP_LANES lanes
 * (GCC vector extensions): the rows of a batch (by_rows), or for a single
 * row the entries of a group of one shape (by_entries). A lane does the
 * same operations in the same order either way, and each entry adds to phi
 * in the stored order, so a row's attributions have the same bits however
 * it was batched. The kernel is compiled for AVX-512, AVX2 and the baseline
 * instruction set, chosen at run time; without fused multiply-adds
 * (-ffp-contract=off) all three give the same bits too. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef double vd __attribute__((vector_size(GR_SHAP_LANES * sizeof(double))));
typedef int64_t vi __attribute__((vector_size(GR_SHAP_LANES * sizeof(int64_t))));

/* Macros, not functions: a vector argument or result of a function outside
 * the kernels would tie the baseline ABI to the vector width.
 * x - 0 is x for every x, -0 included. */
#define SPLAT(x) ((x) - (vd){ 0 })
/* Each lane's bit moved to the exponent field of 1.0 (0x3FF0...), or left
 * 0, and the bits read as doubles: no integer-to-double conversion, which
 * AVX-512F lacks. */
#define LANES_OF(mask)                                                                             \
    ((vd)(((((vi){ 0 } + (int64_t)(mask)) >> (vi){ 0, 1, 2, 3, 4, 5, 6, 7 }) & 1) *                \
          (int64_t)0x3FF0000000000000))
#define ALWAYS static inline __attribute__((always_inline))

/* One path shape (d slots, a pair or not) in every lane: lane b has slot
 * fractions z[s][b] and one fractions o[s][b]; bit b of ml is the one
 * fraction of a pair's left leaf. The entries' ends: lf[0] in every lane
 * (rows), or lf[b] in lane b < nl. Writes each slot's attribution to
 * add[s] and a pair's split feature's to add[d]. (No vector is passed by
 * value: that would tie the functions' ABI to the instruction set.) */
ALWAYS void paths_any(const gr_forest *f, int d, int pair, const vd *o, const vd *z,
                      const gr_leaf *lf, int rows, int nl, unsigned ml, vd *add)
{
    const vd ol = LANES_OF(ml);
    vd vl = SPLAT(0), vr = SPLAT(0), zl = SPLAT(0), zr = SPLAT(0);
    if (rows) {
        vl = SPLAT(lf->value);
        vr = SPLAT(lf->value_right);
        zl = SPLAT(lf->zero_left);
        zr = SPLAT(lf->zero_right);
    } else {
        for (int b = 0; b < nl; b++) {
            vl[b] = lf[b].value;
            vr[b] = lf[b].value_right;
            zl[b] = lf[b].zero_left;
            zr[b] = lf[b].zero_right;
        }
    }
    vd acc[GR_MAX_TREE_DEPTH], suf[GR_MAX_TREE_DEPTH + 1], fk[GR_MAX_TREE_DEPTH];
    for (int s = 0; s < d; s++)
        acc[s] = SPLAT(0);
    const vd or_ = SPLAT(1) - ol;
    vd acc_h = SPLAT(0);
    const int q_n = (d + pair + 1) / 2;
    const double *qt = f->quad_t + (size_t)q_n * (q_n - 1) / 2;
    const double *qw = f->quad_w + (size_t)q_n * (q_n - 1) / 2;
    for (int q = 0; q < q_n; q++) {
        const double t = qt[q], u = 1 - t, w = qw[q];
        for (int s = 0; s < d; s++)
            fk[s] = u * z[s] + o[s] * t;
        suf[d] = SPLAT(1);
        for (int s = d - 1; s >= 0; s--)
            suf[s] = suf[s + 1] * fk[s];
        vd pre;
        if (pair) {
            vd fl = u * zl + ol * t, fr = u * zr + or_ * t;
            pre = w * (vl * fl + vr * fr);
            acc_h += w * suf[0];
        } else {
            pre = w * vl;
        }
        for (int s = 0; s < d; s++) {
            acc[s] += pre * suf[s + 1];
            pre *= fk[s];
        }
    }
    for (int s = 0; s < d; s++)
        add[s] = (o[s] - z[s]) * acc[s];
    if (pair)
        add[d] = (vl * (ol - zl) + vr * (or_ - zr)) * acc_h;
}

/* paths_any for the shapes of trees up to depth 8 with d and pair known
 * when compiling, so that its loops unroll and its vectors stay in
 * registers; the same operations in the same order. */
ALWAYS void paths(const gr_forest *f, int d, int pair, const vd *o, const vd *z, const gr_leaf *lf,
                  int rows, int nl, unsigned ml, vd *add)
{
#define GR_SHAPE(dd, pp)                                                                           \
    case (dd)*2 + (pp): paths_any(f, dd, pp, o, z, lf, rows, nl, ml, add); return;
    switch (d * 2 + pair) {
        GR_SHAPE(0, 1)
        GR_SHAPE(1, 0)
        GR_SHAPE(1, 1)
        GR_SHAPE(2, 0)
        GR_SHAPE(2, 1)
        GR_SHAPE(3, 0)
        GR_SHAPE(3, 1)
        GR_SHAPE(4, 0)
        GR_SHAPE(4, 1)
        GR_SHAPE(5, 0)
        GR_SHAPE(5, 1)
        GR_SHAPE(6, 0)
        GR_SHAPE(6, 1)
        GR_SHAPE(7, 0)
        GR_SHAPE(7, 1)
        GR_SHAPE(8, 0)
    default: paths_any(f, d, pair, o, z, lf, rows, nl, ml, add);
    }
#undef GR_SHAPE
}

/* Bit b of mask[n]: row b goes left at internal node n. */
ALWAYS void route(const gr_forest *f, int nb, const double *const *xf, uint8_t *mask)
{
    const gr_tnode *nodes = f->nodes;
    for (size_t n = 0; n < f->n_nodes; n++) {
        const gr_tnode *nd = &nodes[n];
        if (nd->feat < 0)
            continue;
        unsigned m = 0;
        for (int b = 0; b < nb; b++) {
            double v = xf[b][nd->feat];
            unsigned left = v != v ? (nd->kids & 1u) : (unsigned)(v < nd->thr);
            m |= left << b;
        }
        mask[n] = (uint8_t)m;
    }
}

/* Rows in the lanes: nb rows, one entry at a time. */
ALWAYS void by_rows(const gr_forest *f, int nb, const uint8_t *mask, double *const *phi)
{
    vd o[GR_MAX_TREE_DEPTH], z[GR_MAX_TREE_DEPTH], add[GR_MAX_TREE_DEPTH + 1];
    for (size_t li = 0; li < f->n_leaves; li++) {
        const gr_leaf *lf = &f->leaves[li];
        const int d = lf->d, pair = lf->split_feat >= 0;
        if (d == 0 && !pair)
            continue; /* a single-leaf tree only moves the base value */
        const int32_t *sf = f->slot_feat + lf->slot_off;
        const double *sz = f->slot_zero + lf->slot_off;
        const gr_cond *c = f->conds + lf->cond_off;
        unsigned om[GR_MAX_TREE_DEPTH];
        for (int s = 0; s < d; s++)
            om[s] = 0xFFu;
        for (int i = 0; i < lf->n_cond; i++) {
            unsigned m = mask[c[i].node];
            om[c[i].slot] &= c[i].want_left ? m : ~m;
        }
        for (int s = 0; s < d; s++) {
            o[s] = LANES_OF(om[s]);
            z[s] = SPLAT(sz[s]);
        }
        paths(f, d, pair, o, z, lf, 1, 0, pair ? mask[lf->split] : 0u, add);
        for (int s = 0; s < d; s++)
            for (int b = 0; b < nb; b++)
                phi[b][sf[s]] += add[s][b];
        if (pair)
            for (int b = 0; b < nb; b++)
                phi[b][lf->split_feat] += add[d][b];
    }
}

/* Which slots of entry lf a lone row (bit 0 of mask) agrees with, as bits. */
ALWAYS uint64_t agree_bits(const gr_forest *f, const gr_leaf *lf, const uint8_t *mask)
{
    uint64_t agree = ~(uint64_t)0;
    const gr_cond *c = f->conds + lf->cond_off;
    for (int i = 0; i < lf->n_cond; i++)
        if ((mask[c[i].node] & 1u) != c[i].want_left)
            agree &= ~((uint64_t)1 << c[i].slot);
    return agree;
}

/* Entries in the lanes: one row, a group of up to eight entries of one
 * shape at a time (gr_forest_shap_tables sorts entries by shape). Each
 * entry adds to phi in the order by_rows would. */
ALWAYS void by_entries(const gr_forest *f, const uint8_t *mask, double *phi)
{
    vd o[GR_MAX_TREE_DEPTH], z[GR_MAX_TREE_DEPTH], add[GR_MAX_TREE_DEPTH + 1];
    for (size_t g = 0; g < f->n_groups; g++) {
        const gr_leaf_group *gp = &f->groups[g];
        const int d = gp->d, pair = gp->pair, nl = gp->n;
        if (d == 0 && !pair)
            continue;
        const gr_leaf *lfs = f->leaves + gp->first;
        unsigned om[GR_MAX_TREE_DEPTH] = { 0 }, ml = 0;
        for (int b = 0; b < nl; b++) {
            const gr_leaf *lf = &lfs[b];
            uint64_t agree = agree_bits(f, lf, mask);
            for (int s = 0; s < d; s++)
                om[s] |= (unsigned)(agree >> s & 1u) << b;
            if (pair)
                ml |= (unsigned)(mask[lf->split] & 1u) << b;
        }
        const double *zs = f->group_zero + (size_t)gp->soa * GR_SHAP_LANES;
        for (int s = 0; s < d; s++) {
            o[s] = LANES_OF(om[s]);
            memcpy(&z[s], zs + (size_t)s * GR_SHAP_LANES, sizeof z[s]);
        }
        paths(f, d, pair, o, z, lfs, 0, nl, ml, add);
        for (int b = 0; b < nl; b++) {
            const int32_t *sf = f->slot_feat + lfs[b].slot_off;
            for (int s = 0; s < d; s++)
                phi[sf[s]] += add[s][b];
            if (pair)
                phi[lfs[b].split_feat] += add[d][b];
        }
    }
}

ALWAYS void kernel(const gr_forest *f, int nb, const double *const *xf, uint8_t *mask,
                   double *const *phi)
{
    route(f, nb, xf, mask);
    if (nb == 1)
        by_entries(f, mask, phi[0]);
    else
        by_rows(f, nb, mask, phi);
}

static void kernel_base(const gr_forest *f, int nb, const double *const *xf, uint8_t *mask,
                        double *const *phi)
{
    kernel(f, nb, xf, mask, phi);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static void
kernel_avx2(const gr_forest *f, int nb, const double *const *xf, uint8_t *mask, double *const *phi)
{
    kernel(f, nb, xf, mask, phi);
}

__attribute__((target("avx512f"))) static void kernel_avx512(const gr_forest *f, int nb,
                                                             const double *const *xf, uint8_t *mask,
                                                             double *const *phi)
{
    kernel(f, nb, xf, mask, phi);
}
#endif

gr_simd gr_simd_best(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return GR_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2"))
        return GR_SIMD_AVX2;
#endif
    return GR_SIMD_BASE;
}

const char *gr_simd_name(gr_simd s)
{
    return s == GR_SIMD_AVX512 ? "avx512" : s == GR_SIMD_AVX2 ? "avx2" : "baseline";
}

int gr_forest_shap_batch(const gr_forest *f, gr_simd simd, size_t nb, const double *const *xf,
                         uint8_t *mask, double *const *phi)
{
    if (nb == 0 || nb > GR_SHAP_LANES)
        return 0;
    gr_simd best = gr_simd_best();
    if (simd == GR_SIMD_AUTO)
        simd = best;
    if (simd > best)
        return 0;
#if defined(__x86_64__) && defined(__GNUC__)
    if (simd == GR_SIMD_AVX512) {
        kernel_avx512(f, (int)nb, xf, mask, phi);
        return 1;
    }
    if (simd == GR_SIMD_AVX2) {
        kernel_avx2(f, (int)nb, xf, mask, phi);
        return 1;
    }
#endif
    kernel_base(f, (int)nb, xf, mask, phi);
    return 1;
}

/* ---- tables, built once per forest ---- */

/* Gauss-Legendre nodes and weights on [0, 1] for n points: Newton's method
 * on the Legendre polynomial P_n from Chebyshev-like starting points. */
static void gauss_legendre(int n, double *t, double *w)
{
    const double pi = 3.14159265358979323846;
    for (int i = 0; i < n; i++) {
        double x = cos(pi * (i + 0.75) / (n + 0.5)), dp = 1;
        for (int it = 0; it < 100; it++) {
            double p0 = 1, p1 = x;
            for (int k = 2; k <= n; k++) {
                double p2 = ((2.0 * k - 1) * x * p1 - (k - 1.0) * p0) / k;
                p0 = p1;
                p1 = p2;
            }
            dp = n * (x * p1 - p0) / (x * x - 1);
            double step = p1 / dp;
            x -= step;
            if (fabs(step) <= 1e-16)
                break;
        }
        t[i] = (1 - x) / 2; /* ascending on [0, 1] */
        w[i] = 1.0 / ((1 - x * x) * dp * dp);
    }
}

/* Sorts the entries stably by shape (single leaves before pairs, then d):
 * a counting sort, so that runs of one shape fill by_entries' lanes. */
static int sort_entries(gr_forest *f)
{
    const size_t keys = 2 * (GR_MAX_TREE_DEPTH + 1);
    size_t *start = calloc(keys + 1, sizeof *start);
    gr_leaf *out = malloc((f->n_leaves ? f->n_leaves : 1) * sizeof *out);
    if (!start || !out) {
        free(start);
        free(out);
        return 0;
    }
    for (size_t i = 0; i < f->n_leaves; i++) {
        const gr_leaf *lf = &f->leaves[i];
        start[(size_t)(lf->split_feat >= 0) * (GR_MAX_TREE_DEPTH + 1) + lf->d + 1]++;
    }
    for (size_t k = 1; k <= keys; k++)
        start[k] += start[k - 1];
    for (size_t i = 0; i < f->n_leaves; i++) {
        const gr_leaf *lf = &f->leaves[i];
        out[start[(size_t)(lf->split_feat >= 0) * (GR_MAX_TREE_DEPTH + 1) + lf->d]++] = *lf;
    }
    free(start);
    free(f->leaves);
    f->leaves = out;
    return 1;
}

static int same_shape(const gr_leaf *a, const gr_leaf *b)
{
    return a->d == b->d && (a->split_feat >= 0) == (b->split_feat >= 0);
}

/* Cuts the sorted entries into groups and stores their slot fractions lane
 * by lane. */
static int group_entries(gr_forest *f)
{
    size_t n_groups = 0, rows = 0;
    for (size_t i = 0; i < f->n_leaves;) {
        size_t j = i + 1;
        while (j < f->n_leaves && j - i < GR_SHAP_LANES && same_shape(&f->leaves[i], &f->leaves[j]))
            j++;
        n_groups++;
        rows += f->leaves[i].d;
        i = j;
    }
    f->groups = malloc((n_groups ? n_groups : 1) * sizeof *f->groups);
    f->group_zero = calloc((rows ? rows : 1) * GR_SHAP_LANES, sizeof *f->group_zero);
    if (!f->groups || !f->group_zero)
        return 0;
    size_t g = 0, row = 0;
    for (size_t i = 0; i < f->n_leaves; g++) {
        const gr_leaf *first = &f->leaves[i];
        gr_leaf_group *gp = &f->groups[g];
        *gp = (gr_leaf_group){ (uint32_t)i, (uint32_t)row, 0, first->d, first->split_feat >= 0 };
        while (i < f->n_leaves && gp->n < GR_SHAP_LANES && same_shape(first, &f->leaves[i])) {
            const double *sz = f->slot_zero + f->leaves[i].slot_off;
            for (int s = 0; s < gp->d; s++)
                f->group_zero[(row + (size_t)s) * GR_SHAP_LANES + gp->n] = sz[s];
            gp->n++;
            i++;
        }
        row += gp->d;
    }
    f->n_groups = n_groups;
    return 1;
}

/* The quadrature rules: an entry has at most GR_MAX_TREE_DEPTH + 1 distinct
 * features (a pair's split adds one), so at most 33 points. */
static int quadrature(gr_forest *f)
{
    const int q_max = (f->max_slots + 1) / 2 > 0 ? (f->max_slots + 1) / 2 : 1;
    size_t cells = (size_t)q_max * (q_max + 1) / 2;
    f->quad_t = calloc(cells, sizeof *f->quad_t);
    f->quad_w = calloc(cells, sizeof *f->quad_w);
    if (!f->quad_t || !f->quad_w)
        return 0;
    for (int n = 1; n <= q_max; n++)
        gauss_legendre(n, f->quad_t + (size_t)n * (n - 1) / 2, f->quad_w + (size_t)n * (n - 1) / 2);
    return 1;
}

int gr_forest_shap_tables(gr_forest *f)
{
    return sort_entries(f) && group_entries(f) && quadrature(f);
}
