/* adjust.c - see adjust.h. The PCs are read into a table keyed by sample;
 * the scores are then streamed, a row at a time, each sample classified
 * once (on its first row) and each row adjusted and written. */
#include <htslib/khash.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/adjust.h"
#include "core/lines.h"

KHASH_MAP_INIT_STR(grsample, size_t)

#define MAX_COLS 4096

typedef struct {
    khash_t(grsample) * index; /* "FID\tIID" (or IID) -> row */
    char **keys;               /* owned keys, one per row */
    double *pcs;               /* rows x k */
    size_t rows, cap, k;
    int has_fid;
    gr_ancestry *anc; /* per row, once classified */
    uint8_t *done;    /* 1: classified and its similarity row written */
} pc_table;

/* Splits s in place on runs of tabs and spaces; returns the field count. */
static size_t split_ws(char *s, char **f, size_t max)
{
    size_t n = 0;
    char *p = s;
    while (*p && n < max) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        f[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

static long column(char **f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i][0] == '#' ? f[i] + 1 : f[i], name))
            return (long)i;
    return -1;
}

static char *sample_key(const char *fid, const char *iid)
{
    size_t a = fid ? strlen(fid) : 0, b = strlen(iid);
    char *k = malloc(a + b + 2);
    if (!k)
        return NULL;
    if (fid) {
        memcpy(k, fid, a);
        k[a++] = '\t';
    }
    memcpy(k + a, iid, b + 1);
    return k;
}

static void pc_table_free(pc_table *t)
{
    for (size_t i = 0; i < t->rows; i++)
        free(t->keys[i]);
    free(t->keys);
    free(t->pcs);
    free(t->anc);
    free(t->done);
    if (t->index)
        kh_destroy(grsample, t->index);
}

/* The PC columns: PC1, PC2, ... in order from the first; how many. */
static gr_status pc_header(pc_table *t, char **f, size_t n, long *iid, long *fid, long *pc1,
                           const char *path, gr_error *err)
{
    *iid = column(f, n, "IID");
    *fid = column(f, n, "FID");
    *pc1 = column(f, n, "PC1");
    if (*iid < 0 || *pc1 < 0)
        return gr_error_set(err, GR_EINPUT, path, 1, NULL,
                            "the header needs IID and PC1.. columns (FRAPOSA's FID IID PC1.., "
                            "or plink2's #FID IID PC1..)");
    size_t k = 0;
    char name[16];
    while ((size_t)*pc1 + k < n && k < GR_REF_MAX_PCS &&
           (snprintf(name, sizeof name, "PC%zu", k + 1), !strcmp(f[*pc1 + (long)k], name)))
        k++;
    t->k = k;
    t->has_fid = *fid >= 0;
    return GR_OK;
}

static gr_status pc_row(pc_table *t, char **f, size_t n, long iid, long fid, long pc1, gr_lines *r,
                        gr_error *err)
{
    if ((size_t)pc1 + t->k > n || (size_t)iid >= n || (fid >= 0 && (size_t)fid >= n))
        return gr_error_set(err, GR_EINPUT, r->path, r->line, NULL,
                            "fewer columns than the header");
    if (t->rows == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 1024;
        char **keys = realloc(t->keys, cap * sizeof *keys);
        if (keys)
            t->keys = keys;
        double *pcs = keys ? realloc(t->pcs, cap * t->k * sizeof *pcs) : NULL;
        if (!pcs)
            return gr_error_set(err, GR_ENOMEM, r->path, r->line, NULL, "out of memory");
        t->pcs = pcs;
        t->cap = cap;
    }
    for (size_t j = 0; j < t->k; j++) {
        char *end;
        double v = strtod(f[pc1 + (long)j], &end);
        if (*end || end == f[pc1 + (long)j] || !isfinite(v))
            return gr_error_set(err, GR_EINPUT, r->path, r->line, NULL,
                                "PC%zu is not a finite number", j + 1);
        t->pcs[t->rows * t->k + j] = v;
    }
    char *key = sample_key(fid >= 0 ? f[fid] : NULL, f[iid]);
    int ret;
    khint_t it = key ? kh_put(grsample, t->index, key, &ret) : 0;
    if (!key || ret < 0) {
        free(key);
        return gr_error_set(err, GR_ENOMEM, r->path, r->line, NULL, "out of memory");
    }
    if (ret == 0) {
        free(key);
        return gr_error_set(err, GR_EINPUT, r->path, r->line, NULL,
                            "this sample's PCs were given on an earlier line too");
    }
    kh_value(t->index, it) = t->rows;
    t->keys[t->rows++] = key;
    return GR_OK;
}

static gr_status read_pcs(pc_table *t, const char *path, size_t need, gr_error *err)
{
    gr_lines r;
    char *f[MAX_COLS];
    long iid = -1, fid = -1, pc1 = -1;
    gr_status st = gr_lines_open(&r, path, err);
    if (st)
        return st;
    if (!(t->index = kh_init(grsample))) {
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    int more;
    while ((more = gr_lines_next(&r, err)) == 1) {
        size_t n = split_ws(r.s.s, f, MAX_COLS);
        if (n == 0)
            continue;
        if (pc1 < 0) {
            if ((st = pc_header(t, f, n, &iid, &fid, &pc1, path, err)))
                goto fail;
            if (t->k < need) {
                st = gr_error_set(err, GR_EINPUT, path, r.line, NULL,
                                  "%zu PC columns; the reference needs PC1 to PC%zu", t->k, need);
                goto fail;
            }
        } else if ((st = pc_row(t, f, n, iid, fid, pc1, &r, err))) {
            goto fail;
        }
    }
    if (more < 0)
        st = err->status;
    else if (pc1 < 0)
        st = gr_error_set(err, GR_EINPUT, path, 0, NULL, "no header line");
    else if (!(t->anc = calloc(t->rows ? t->rows : 1, sizeof *t->anc)) ||
             !(t->done = calloc(t->rows ? t->rows : 1, 1)))
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");

fail:
    gr_lines_close(&r);
    return st;
}

/* ---- writing ---- */

static gr_status emit(gr_api_write_fn write, void *arg, const char *s, size_t n, gr_error *err)
{
    return write(arg, s, n) ? gr_error_set(err, GR_EIO, NULL, 0, NULL,
                                           "the output could not be "
                                           "written")
                            : GR_OK;
}

/* Appends fmt's text to buf (size bytes, *len used); 0 when it does not fit. */
static int add(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int add(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size - *len)
        return 0;
    *len += (size_t)n;
    return 1;
}

static gr_status sim_header(const gr_api_adjust_args *a, size_t k, gr_error *err)
{
    const gr_reference_info *in = gr_reference_get_info(a->ref);
    char buf[4096];
    size_t len = 0;
    int ok = add(buf, sizeof buf, &len, "sampleset\tFID\tIID");
    for (size_t j = 0; j < k; j++)
        ok &= add(buf, sizeof buf, &len, "\tPC%zu", j + 1);
    for (size_t p = 0; p < in->n_populations; p++)
        ok &= add(buf, sizeof buf, &len, "\tRF_P_%s", in->populations[p]);
    ok &= add(buf, sizeof buf, &len, "\tMostSimilarPop\tMostSimilarPop_LowConfidence\n");
    return ok ? emit(a->sim_write, a->sim_arg, buf, len, err)
              : gr_error_set(err, GR_ELIMIT, NULL, 0, NULL, "too many populations");
}

static gr_status sim_row(const gr_api_adjust_args *a, const pc_table *t, size_t row,
                         const char *set, const char *fid, const char *iid, gr_error *err)
{
    const gr_reference_info *in = gr_reference_get_info(a->ref);
    const gr_ancestry *g = &t->anc[row];
    kstring_t s = { 0 };
    int bad = ksprintf(&s, "%s\t%s\t%s", set, fid, iid) < 0;
    for (size_t j = 0; j < t->k; j++)
        bad |= ksprintf(&s, "\t%.17g", t->pcs[row * t->k + j]) < 0;
    for (size_t p = 0; p < in->n_populations; p++)
        bad |= ksprintf(&s, "\t%.17g", g->prob[p]) < 0;
    bad |= ksprintf(&s, "\t%s\t%s\n", in->populations[g->most_similar],
                    g->low_confidence ? "True" : "False") < 0;
    gr_status st = bad ? gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory")
                       : emit(a->sim_write, a->sim_arg, s.s, s.l, err);
    free(s.s);
    return st;
}

/* ---- the scores ---- */

typedef struct {
    long set, fid, iid, pgs, sum;
} score_cols;

static gr_status score_header(score_cols *c, char **f, size_t n, const char *path, gr_error *err)
{
    c->set = column(f, n, "sampleset");
    c->fid = column(f, n, "FID");
    c->iid = column(f, n, "IID");
    c->pgs = column(f, n, "PGS");
    c->sum = column(f, n, "SUM");
    if (c->set < 0 || c->iid < 0 || c->pgs < 0 || c->sum < 0)
        return gr_error_set(err, GR_EINPUT, path, 1, NULL,
                            "the header needs sampleset, IID, PGS and SUM columns "
                            "(pgsc_calc's aggregated scores: sampleset FID IID PGS SUM ...)");
    return GR_OK;
}

static int selected(const gr_api_adjust_args *a, const char *set)
{
    return a->sampleset ? !strcmp(set, a->sampleset) : strcmp(set, "reference") != 0;
}

/* The PC row of the score row's sample, classified (and its similarity row
 * written) the first time it is seen. */
static gr_status sample_row(const gr_api_adjust_args *a, pc_table *t, const score_cols *c, char **f,
                            const gr_lines *r, size_t *row, gr_error *err)
{
    const char *fid = c->fid >= 0 ? f[c->fid] : "";
    char *key = sample_key(t->has_fid && c->fid >= 0 ? fid : NULL, f[c->iid]);
    if (!key)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    khint_t it = kh_get(grsample, t->index, key);
    free(key);
    if (it == kh_end(t->index))
        return gr_error_set(err, GR_EINPUT, r->path, r->line, NULL,
                            "this row's sample has no PCs in %s", a->pcs_path);
    *row = kh_value(t->index, it);
    if (t->done[*row])
        return GR_OK;
    gr_status st = gr_reference_classify(a->ref, t->pcs + *row * t->k, t->k, &t->anc[*row], err);
    if (!st && a->sim_write)
        st = sim_row(a, t, *row, f[c->set], fid, f[c->iid], err);
    t->done[*row] = 1;
    return st;
}

static gr_status score_row(const gr_api_adjust_args *a, pc_table *t, const score_cols *c, char **f,
                           size_t n, const gr_lines *r, size_t *rows, gr_error *err)
{
    long need = c->set > c->iid ? c->set : c->iid;
    need = need > c->pgs ? need : c->pgs;
    need = need > c->sum ? need : c->sum;
    need = need > c->fid ? need : c->fid;
    if ((size_t)need >= n)
        return gr_error_set(err, GR_EINPUT, r->path, r->line, NULL,
                            "fewer columns than the header");
    if (!selected(a, f[c->set]))
        return GR_OK;
    char *end;
    double x = strtod(f[c->sum], &end);
    if (*end || end == f[c->sum] || !isfinite(x))
        return gr_error_set(err, GR_EINPUT, r->path, r->line, "SUM", "not a finite number");
    long k = gr_reference_score(a->ref, f[c->pgs]);
    if (k < 0)
        return gr_error_set(err, GR_EINPUT, r->path, r->line, "PGS",
                            "reference %s holds no distribution for score %.128s",
                            gr_reference_get_info(a->ref)->name, f[c->pgs]);
    size_t row = 0;
    gr_status st = sample_row(a, t, c, f, r, &row, err);
    if (st)
        return st;
    gr_adjusted adj;
    const gr_ancestry *g = &t->anc[row];
    gr_error why; /* names the score and the reference, no sample */
    if (gr_reference_adjust(a->ref, (size_t)k, g, x, &adj, &why))
        return gr_error_set(err, GR_EINPUT, r->path, r->line, NULL, "%s", why.text);
    kstring_t s = { 0 };
    int bad = ksprintf(&s, "%s\t%s\t%s\t%s\t%s\t%s\t%.17g\t%.17g\t%.17g\t%.17g\n", f[c->set],
                       c->fid >= 0 ? f[c->fid] : "", f[c->iid], f[c->pgs], f[c->sum],
                       gr_reference_get_info(a->ref)->populations[g->most_similar], adj.percentile,
                       adj.z, adj.z_norm1, adj.z_norm2) < 0;
    st = bad ? gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory")
             : emit(a->write, a->arg, s.s, s.l, err);
    free(s.s);
    *rows += !st;
    return st;
}

static gr_status read_scores(const gr_api_adjust_args *a, pc_table *t, size_t *rows, gr_error *err)
{
    static const char head[] = "sampleset\tFID\tIID\tPGS\tSUM\tMostSimilarPop\t"
                               "percentile_MostSimilarPop\tZ_MostSimilarPop\tZ_norm1\tZ_norm2\n";
    gr_lines r;
    char *f[MAX_COLS];
    score_cols c = { -1, -1, -1, -1, -1 };
    gr_status st = gr_lines_open(&r, a->scores_path, err);
    if (st)
        return st;
    if ((st = emit(a->write, a->arg, head, sizeof head - 1, err)) ||
        (a->sim_write && (st = sim_header(a, t->k, err))))
        goto fail;
    int more;
    while ((more = gr_lines_next(&r, err)) == 1) {
        size_t n = split_ws(r.s.s, f, MAX_COLS);
        if (n == 0)
            continue;
        if (c.sum < 0)
            st = score_header(&c, f, n, a->scores_path, err);
        else
            st = score_row(a, t, &c, f, n, &r, rows, err);
        if (st)
            goto fail;
    }
    if (more < 0)
        st = err->status;
    else if (c.sum < 0)
        st = gr_error_set(err, GR_EINPUT, a->scores_path, 0, NULL, "no header line");
    else if (!*rows)
        st = gr_error_set(err, GR_EINPUT, a->scores_path, 0, "sampleset",
                          a->sampleset ? "no row of sampleset %.64s"
                                       : "no row outside the \"reference\" sampleset%.0s",
                          a->sampleset ? a->sampleset : "");

fail:
    gr_lines_close(&r);
    return st;
}

gr_status gr_api_adjust(const gr_api_adjust_args *a, size_t *rows, gr_error *err)
{
    const gr_reference_info *in = gr_reference_get_info(a->ref);
    pc_table t = { 0 };
    size_t need = in->n_classifier_pcs > in->n_norm_pcs ? in->n_classifier_pcs : in->n_norm_pcs;
    *rows = 0;
    gr_status st = read_pcs(&t, a->pcs_path, need, err);
    if (!st)
        st = read_scores(a, &t, rows, err);
    pc_table_free(&t);
    return st;
}
