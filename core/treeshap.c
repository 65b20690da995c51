/* treeshap.c - exact path-dependent TreeSHAP, per leaf in closed form.
 *
 * For a leaf with value v whose root path holds d distinct features F, each
 * with zero fraction z_k (product of cover ratios along the path) and one
 * fraction o_k in {0,1} (does the row follow the path at every split on k),
 * let A = {k : o_k = 1} and P = prod_{k not in A} z_k. Lundberg's recursion
 * then reduces to
 *     phi_j += v (1 - z_j) P K(A \ {j})   for j in A,
 *     phi_j -= v P K(A)                    for j not in A,
 * with K(B) = sum_{S subset of B} W(|S|, d) prod_{k in B\S} z_k, and
 * W(s, d) = s!(d-s-1)!/d!. K(B) only needs the elementary symmetric
 * polynomials of {z_k : k in B}; dropping one z_j is a division by (1 + z_j t)
 * whose recurrence contracts (z_j <= 1), so it is numerically tame.
 * Cost per row: one comparison per internal node, then O(d^2) per leaf with
 * no allocation, against O(d^2) per path node for the classic recursion. */
#include <math.h>
#include <stdint.h>

#include "internal.h"

void gr_forest_shap(const gr_forest *f, const double *xf, uint8_t *dir, double *phi)
{
    const gr_tnode *nodes = f->nodes;
    for (size_t n = 0; n < f->n_nodes; n++) {
        const gr_tnode *nd = &nodes[n];
        if (nd->feat >= 0) {
            double v = xf[nd->feat];
            dir[n] = v != v ? (uint8_t)(nd->kids & 1u) : (uint8_t)(v < nd->thr);
        }
    }

    const size_t stride = GR_MAX_TREE_DEPTH + 1;
    double e[GR_MAX_TREE_DEPTH + 1], q[GR_MAX_TREE_DEPTH + 1];
    double za[GR_MAX_TREE_DEPTH];
    int32_t fa[GR_MAX_TREE_DEPTH];

    for (size_t li = 0; li < f->n_leaves; li++) {
        const gr_leaf *lf = &f->leaves[li];
        const int d = lf->d;
        const int pair = lf->split_feat >= 0;
        if (d == 0 && !pair)
            continue; /* a single-leaf tree only moves the base value */
        uint64_t agree = d == 64 ? ~(uint64_t)0 : (((uint64_t)1 << d) - 1);
        const gr_cond *c = f->conds + lf->cond_off;
        for (int i = 0; i < lf->n_cond; i++)
            if (dir[c[i].node] != c[i].want_left)
                agree &= ~((uint64_t)1 << c[i].slot);

        const int32_t *sf = f->slot_feat + lf->slot_off;
        const double *sz = f->slot_zero + lf->slot_off;
        /* Which slots agree is close to a coin toss per leaf, so this and
         * the loops below avoid branching on it. */
        double p = 1;
        int a = 0;
        for (int s = 0; s < d; s++) {
            int bit = (int)(agree >> s & 1);
            za[a] = sz[s];
            fa[a] = sf[s];
            a += bit;
            p *= bit ? 1.0 : sz[s];
        }
        e[0] = 1;
        for (int i = 0; i < a; i++) {
            e[i + 1] = 0;
            for (int k = i + 1; k > 0; k--)
                e[k] += za[i] * e[k - 1];
        }
        /* A pair's split feature is one more distinct feature on its path. */
        const double *w = f->shap_w + (size_t)(d + pair) * stride;
        double ka = 0; /* K(A) */
        for (int s = 0; s <= a; s++)
            ka += w[s] * e[a - s];

        if (!pair) {
            double vp = lf->value * p;
            if (vp == 0)
                continue;
            if (a < d) {
                double neg = vp * ka;
                for (int s = 0; s < d; s++)
                    phi[sf[s]] -= (agree >> s & 1) ? 0.0 : neg;
            }
            /* K(A \ {j}) for every j at once: the division recurrences of the
             * different j are independent, so running them side by side (j
             * innermost) overlaps them instead of waiting on each one in turn. */
            double kj[GR_MAX_TREE_DEPTH];
            for (int j = 0; j < a; j++) {
                q[j] = 1;
                kj[j] = w[a - 1];
            }
            for (int i = 1; i < a; i++) {
                const double ei = e[i], wi = w[a - 1 - i];
                for (int j = 0; j < a; j++) {
                    q[j] = ei - za[j] * q[j];
                    kj[j] += wi * q[j];
                }
            }
            for (int j = 0; j < a; j++)
                phi[fa[j]] += vp * (1 - za[j]) * kj[j];
            continue;
        }

        /* Two sibling leaves: the row reaches the hot one (h), not the cold
         * one (c). With e the polynomial of the agreeing prefix, the hot
         * leaf's polynomial is e (1 + z_h t), whose K values follow from e's
         * through K1(q) = sum_s W(s+1) q_{m-s}: K(q (1 + z t)) = K1(q) + z K(q).
         * So both leaves cost one pass over the prefix. */
        int hot_left = dir[lf->split];
        double vh = hot_left ? lf->value : lf->value_right;
        double vc = hot_left ? lf->value_right : lf->value;
        double zh = hot_left ? lf->zero_left : lf->zero_right;
        double zc = hot_left ? lf->zero_right : lf->zero_left;
        double cold = vc * zc;
        phi[lf->split_feat] += p * ka * (vh * (1 - zh) - cold);
        if (a < d) {
            double k1a = 0; /* a < d, so W(s+1) stays within s+1 <= d */
            for (int s = 0; s <= a; s++)
                k1a += w[s + 1] * e[a - s];
            double neg = p * (vh * (k1a + zh * ka) + cold * ka);
            for (int s = 0; s < d; s++)
                phi[sf[s]] -= (agree >> s & 1) ? 0.0 : neg;
        }
        double kj[GR_MAX_TREE_DEPTH], k1j[GR_MAX_TREE_DEPTH];
        for (int j = 0; j < a; j++) {
            q[j] = 1;
            kj[j] = w[a - 1];
            k1j[j] = w[a];
        }
        for (int i = 1; i < a; i++) {
            const double ei = e[i], wi = w[a - 1 - i], w1 = w[a - i];
            for (int j = 0; j < a; j++) {
                q[j] = ei - za[j] * q[j];
                kj[j] += wi * q[j];
                k1j[j] += w1 * q[j];
            }
        }
        for (int j = 0; j < a; j++)
            phi[fa[j]] += p * (1 - za[j]) * (vh * (k1j[j] + zh * kj[j]) + cold * kj[j]);
    }
}
