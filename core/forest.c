/* forest.c - tree ensembles in flat arrays: validation while loading,
 * renumbering into sibling-adjacent breadth-first order, plain prediction,
 * and the per-leaf path tables that TreeSHAP (treeshap.c) reads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Ceiling on nodes in one model: keeps every index inside 31 bits. */
#define GR_MAX_FOREST_NODES ((size_t)1 << 30)

gr_forest *gr_forest_new(size_t n_features, gr_combine combine, double tree_scale)
{
    gr_forest *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->n_features = n_features;
    f->combine = combine;
    f->tree_scale = tree_scale;
    return f;
}

void gr_forest_free(gr_forest *f)
{
    if (!f)
        return;
    free(f->roots);
    free(f->nodes);
    free(f->cover);
    free(f->leaves);
    free(f->conds);
    free(f->slot_feat);
    free(f->slot_zero);
    free(f->groups);
    free(f->group_zero);
    free(f->quad_t);
    free(f->quad_w);
    free(f);
}

gr_status gr_forest_add_tree(gr_forest *f, const gr_raw_tree *t, size_t ti, const char *source,
                             gr_error *err)
{
    gr_status st = GR_OK;
    int64_t *newid = NULL, *queue = NULL;
    int *depth = NULL;
    char field[64];
    snprintf(field, sizeof field, "trees[%zu]", ti);

    if (t->n == 0)
        return gr_error_set(err, GR_EMODEL, source, 0, field, "tree has no nodes");
    if (t->n > GR_MAX_FOREST_NODES - f->n_nodes)
        return gr_error_set(err, GR_ELIMIT, source, 0, field, "the model has more than %zu nodes",
                            GR_MAX_FOREST_NODES);

    size_t cap_nodes = f->cap_nodes, cap_cover = f->cap_nodes;
    if (!gr_grow((void **)&f->nodes, &cap_nodes, f->n_nodes + t->n, sizeof *f->nodes) ||
        !gr_grow((void **)&f->cover, &cap_cover, f->n_nodes + t->n, sizeof *f->cover))
        return gr_error_set(err, GR_ENOMEM, source, 0, field, "out of memory");
    f->cap_nodes = cap_nodes < cap_cover ? cap_nodes : cap_cover;
    uint32_t *roots = realloc(f->roots, (f->n_trees + 1) * sizeof *roots);
    if (!roots)
        return gr_error_set(err, GR_ENOMEM, source, 0, field, "out of memory");
    f->roots = roots;

    newid = malloc(t->n * sizeof *newid);
    queue = malloc(t->n * sizeof *queue);
    depth = malloc(t->n * sizeof *depth);
    if (!newid || !queue || !depth) {
        st = gr_error_set(err, GR_ENOMEM, source, 0, field, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < t->n; i++)
        newid[i] = -1;

    /* Breadth-first from node 0, giving each pair of children two adjacent
     * slots; a node met twice means a cycle or a shared child. */
    size_t base = f->n_nodes, next = base + 1, head = 0, tail = 0;
    newid[0] = (int64_t)base;
    depth[0] = 0;
    queue[tail++] = 0;
    int max_depth = 0;
    while (head < tail) {
        int64_t o = queue[head++];
        gr_tnode *nd = &f->nodes[newid[o]];
        double cover = t->cover ? t->cover[o] : 1.0;
        if (!isfinite(cover) || cover < 0) {
            st = gr_error_set(err, GR_EMODEL, source, 0, field,
                              "node %lld has cover %g; covers must be finite and >= 0",
                              (long long)o, cover);
            goto fail;
        }
        f->cover[newid[o]] = cover;
        int64_t l = t->left[o], r = t->right[o];
        if (l == -1 && r == -1) {
            if (!isfinite(t->value[o])) {
                st = gr_error_set(err, GR_EMODEL, source, 0, field,
                                  "leaf %lld has a non-finite value", (long long)o);
                goto fail;
            }
            nd->feat = -1;
            nd->kids = 0;
            nd->thr = t->value[o];
            f->n_leaf_nodes++;
            if (depth[o] > max_depth)
                max_depth = depth[o];
            continue;
        }
        if (l < 0 || r < 0 || (uint64_t)l >= t->n || (uint64_t)r >= t->n || l == r) {
            st = gr_error_set(err, GR_EMODEL, source, 0, field,
                              "node %lld has children %lld and %lld; expected two distinct "
                              "indices below %zu, or -1 and -1 for a leaf",
                              (long long)o, (long long)l, (long long)r, t->n);
            goto fail;
        }
        if (t->feature[o] < 0 || (uint64_t)t->feature[o] >= f->n_features) {
            st = gr_error_set(err, GR_EMODEL, source, 0, field,
                              "node %lld splits on feature %lld, but the model has %zu features",
                              (long long)o, (long long)t->feature[o], f->n_features);
            goto fail;
        }
        if (isnan(t->thr[o])) {
            st = gr_error_set(err, GR_EMODEL, source, 0, field,
                              "node %lld has a NaN split threshold", (long long)o);
            goto fail;
        }
        if (newid[l] != -1 || newid[r] != -1) {
            st = gr_error_set(err, GR_EMODEL, source, 0, field,
                              "node %lld is reached twice: the tree has a cycle or a shared child",
                              (long long)(newid[l] != -1 ? l : r));
            goto fail;
        }
        if (depth[o] + 1 > GR_MAX_TREE_DEPTH) {
            st = gr_error_set(err, GR_ELIMIT, source, 0, field,
                              "tree is deeper than the supported %d levels", GR_MAX_TREE_DEPTH);
            goto fail;
        }
        newid[l] = (int64_t)next;
        newid[r] = (int64_t)next + 1;
        depth[l] = depth[r] = depth[o] + 1;
        nd->feat = (int32_t)t->feature[o];
        nd->thr = t->thr[o];
        nd->kids = (uint32_t)(next << 1) | (t->default_left && t->default_left[o] ? 1u : 0u);
        next += 2;
        queue[tail++] = l;
        queue[tail++] = r;
    }
    f->roots[f->n_trees++] = (uint32_t)base;
    f->n_nodes = next;
    if (max_depth > f->max_depth)
        f->max_depth = max_depth;

fail:
    free(newid);
    free(queue);
    free(depth);
    return st;
}

static inline const gr_tnode *step(const gr_tnode *nodes, const gr_tnode *nd, const double *xf)
{
    double v = xf[nd->feat];
    unsigned left = v != v ? (nd->kids & 1u) : (unsigned)(v < nd->thr);
    return nodes + (nd->kids >> 1) + (1u - left);
}

double gr_forest_predict(const gr_forest *f, const double *xf)
{
    const gr_tnode *nodes = f->nodes;
    const double scale = f->combine == GR_COMBINE_SUM ? f->tree_scale : 1.0;
    double sum = 0;
    size_t t = 0;
    /* Four trees in lockstep: their node loads overlap instead of waiting on
     * each other. The sum keeps tree order, so results do not change. */
    for (; t + 4 <= f->n_trees; t += 4) {
        const gr_tnode *a = nodes + f->roots[t], *b = nodes + f->roots[t + 1],
                       *c = nodes + f->roots[t + 2], *d = nodes + f->roots[t + 3];
        while (a->feat >= 0 || b->feat >= 0 || c->feat >= 0 || d->feat >= 0) {
            if (a->feat >= 0)
                a = step(nodes, a, xf);
            if (b->feat >= 0)
                b = step(nodes, b, xf);
            if (c->feat >= 0)
                c = step(nodes, c, xf);
            if (d->feat >= 0)
                d = step(nodes, d, xf);
        }
        sum += scale * a->thr;
        sum += scale * b->thr;
        sum += scale * c->thr;
        sum += scale * d->thr;
    }
    for (; t < f->n_trees; t++) {
        const gr_tnode *nd = nodes + f->roots[t];
        while (nd->feat >= 0)
            nd = step(nodes, nd, xf);
        sum += scale * nd->thr;
    }
    return f->combine == GR_COMBINE_MEAN && f->n_trees ? sum / (double)f->n_trees : sum;
}

/* ---- SHAP path tables ---- */

typedef struct {
    gr_forest *f;
    size_t cap_leaves, cap_conds, cap_slots, cap_slot_zero;
    double weight;                   /* the current tree's scale */
    int32_t feat[GR_MAX_TREE_DEPTH]; /* distinct features on the current path */
    double zero[GR_MAX_TREE_DEPTH];  /* their products of cover ratios */
    gr_cond cond[GR_MAX_TREE_DEPTH];
    int d, n_cond;
} path_builder;

/* Appends an entry for the current path; split < 0 makes it a single leaf
 * of value v_left, else a pair under node split. */
static int emit(path_builder *b, double v_left, int64_t split, int32_t split_feat, double v_right,
                double z_left, double z_right)
{
    gr_forest *f = b->f;
    if (!gr_grow((void **)&f->leaves, &b->cap_leaves, f->n_leaves + 1, sizeof *f->leaves) ||
        !gr_grow((void **)&f->conds, &b->cap_conds, f->n_conds + (size_t)b->n_cond,
                 sizeof *f->conds) ||
        !gr_grow((void **)&f->slot_feat, &b->cap_slots, f->n_slots + (size_t)b->d,
                 sizeof *f->slot_feat) ||
        !gr_grow((void **)&f->slot_zero, &b->cap_slot_zero, f->n_slots + (size_t)b->d,
                 sizeof *f->slot_zero))
        return 0;
    gr_leaf *lf = &f->leaves[f->n_leaves++];
    lf->value = v_left * b->weight;
    lf->value_right = v_right * b->weight;
    lf->zero_left = z_left;
    lf->zero_right = z_right;
    lf->split = split < 0 ? 0 : (uint32_t)split;
    lf->split_feat = split < 0 ? -1 : split_feat;
    lf->cond_off = (uint32_t)f->n_conds;
    lf->slot_off = (uint32_t)f->n_slots;
    lf->n_cond = (uint8_t)b->n_cond;
    lf->d = (uint8_t)b->d;
    if (b->n_cond) /* a single-leaf tree has no path: the arrays may still be NULL */
        memcpy(f->conds + f->n_conds, b->cond, (size_t)b->n_cond * sizeof *b->cond);
    if (b->d) {
        memcpy(f->slot_feat + f->n_slots, b->feat, (size_t)b->d * sizeof *b->feat);
        memcpy(f->slot_zero + f->n_slots, b->zero, (size_t)b->d * sizeof *b->zero);
    }
    f->n_conds += (size_t)b->n_cond;
    f->n_slots += (size_t)b->d;
    double reach = 1;
    for (int s = 0; s < b->d; s++)
        reach *= b->zero[s];
    f->expected +=
        split < 0 ? lf->value * reach : (lf->value * z_left + lf->value_right * z_right) * reach;
    if (b->d + (split >= 0) > f->max_slots)
        f->max_slots = b->d + (split >= 0);
    return 1;
}

/* Cover ratio of child under n; a zero-cover parent splits its (empty)
 * weight evenly, so the two fractions still sum to one and additivity holds.
 * A child outweighing its parent (rounding, or a broken file) counts as the
 * whole parent: treeshap.c's recurrences are only tame for ratios <= 1, and
 * 1e300 / 1e-300 would make every attribution NaN. */
static double zero_fraction(const gr_forest *f, uint32_t n, uint32_t child)
{
    double z = f->cover[n] > 0 ? f->cover[child] / f->cover[n] : 0.5;
    return z < 1 ? z : 1;
}

/* Depth is bounded by GR_MAX_TREE_DEPTH, checked while loading. */
static int walk(path_builder *b, uint32_t n)
{
    gr_forest *f = b->f;
    const gr_tnode *nd = &f->nodes[n];
    if (nd->feat < 0)
        return emit(b, nd->thr, -1, -1, 0, 0, 0);
    int slot = 0;
    while (slot < b->d && b->feat[slot] != nd->feat)
        slot++;
    int added = slot == b->d;
    uint32_t l = nd->kids >> 1;
    if (added && f->nodes[l].feat < 0 && f->nodes[l + 1].feat < 0)
        return emit(b, f->nodes[l].thr, n, nd->feat, f->nodes[l + 1].thr, zero_fraction(f, n, l),
                    zero_fraction(f, n, l + 1));
    double saved = added ? 1.0 : b->zero[slot];
    if (added) {
        b->feat[b->d++] = nd->feat;
        b->zero[slot] = 1.0;
    }
    for (uint32_t side = 0; side < 2; side++) {
        uint32_t child = l + side;
        b->zero[slot] = saved * zero_fraction(f, n, child);
        b->cond[b->n_cond++] = (gr_cond){ n, (uint8_t)(side == 0), (uint8_t)slot };
        int ok = walk(b, child);
        b->n_cond--;
        if (!ok)
            return 0;
    }
    b->zero[slot] = saved;
    if (added)
        b->d--;
    return 1;
}

gr_status gr_forest_finish(gr_forest *f, const char *source, gr_error *err)
{
    if (f->n_trees == 0)
        return gr_error_set(err, GR_EMODEL, source, 0, "trees", "the model has no trees");
    path_builder *b = calloc(1, sizeof *b);
    if (!b)
        return gr_error_set(err, GR_ENOMEM, source, 0, NULL, "out of memory");
    b->f = f;
    /* At least one entry each, so that treeshap.c's per-leaf offsets always
     * point into a table: a forest of stumps has no conditions or slots, and
     * an offset applied to NULL is undefined behaviour. */
    if (!gr_grow((void **)&f->conds, &b->cap_conds, 1, sizeof *f->conds) ||
        !gr_grow((void **)&f->slot_feat, &b->cap_slots, 1, sizeof *f->slot_feat) ||
        !gr_grow((void **)&f->slot_zero, &b->cap_slot_zero, 1, sizeof *f->slot_zero)) {
        free(b);
        return gr_error_set(err, GR_ENOMEM, source, 0, NULL, "out of memory");
    }
    b->weight = f->combine == GR_COMBINE_MEAN ? 1.0 / (double)f->n_trees : f->tree_scale;
    for (size_t t = 0; t < f->n_trees; t++) {
        if (!walk(b, f->roots[t])) {
            free(b);
            return gr_error_set(err, GR_ENOMEM, source, 0, NULL, "out of memory");
        }
    }
    free(b);
    if (!gr_forest_shap_tables(f))
        return gr_error_set(err, GR_ENOMEM, source, 0, NULL, "out of memory");
    return GR_OK;
}
