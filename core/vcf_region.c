/* vcf_region.c - see vcf_region.h; the rule is docs/vcf-matching.md's
 * "Indexed files".
 *
 * The model's positions become regions (per chromosome, sorted, those under
 * 16 kb apart merged: the index's finest bin). The index turns each region
 * into the byte ranges holding every record that overlaps it, a gVCF block
 * whose END reaches into it included (tabix and bcftools index both record a
 * VCF record's extent to its INFO/END). The regions are read in file order,
 * each as htslib's iterator reads one, up to the first record past it, and
 * a record is never used twice: a region's ranges are read from just after
 * the last record used when they start before it. Every record read goes
 * through the same look at its CHROM/POS/ID/ALT and the same guards as in a
 * streamed read, so a record the streamed read would use, and that overlaps
 * a region, is used the same way and in the same order. What an indexed read
 * does not see are the records outside the regions, which the model's
 * positions cannot match (rule 4's rsID match at another position can:
 * docs/vcf-matching.md). */
#include <htslib/bgzf.h>
#include <htslib/hfile.h>
#include <htslib/hts.h>
#include <htslib/kstring.h>
#include <htslib/tbx.h>
#include <htslib/vcf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vcf_region.h"

#define REGION_GAP ((int64_t)1 << 14) /* bases: the finest bin of a .tbi or default .csi */
#define REGION_PAD 1000 /* bases read on each side: an rsID a little way off is still seen */
#define REGION_COST ((uint64_t)1 << 16) /* a region inflates a block or more: 64 KiB */
#define SMALL_READ ((uint64_t)1 << 20)  /* a read of 1 MiB or less always uses the index */
#define DENSE_SHARE 2                   /* regions over half the file stream it */

static gr_status oom(gr_error *err)
{
    return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
}

static int by_region(const void *a, const void *b)
{
    const gr_region *x = a, *y = b;
    if (x->code != y->code)
        return x->code < y->code ? -1 : 1;
    return x->beg < y->beg ? -1 : x->beg > y->beg;
}

size_t gr_regions_merge(gr_region *r, size_t n, int64_t gap)
{
    if (!n)
        return 0;
    qsort(r, n, sizeof *r, by_region);
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        if (r[i].code == r[k].code && r[i].beg <= r[k].end + gap) {
            if (r[i].end > r[k].end)
                r[k].end = r[i].end;
        } else {
            r[++k] = r[i];
        }
    }
    return k + 1;
}

void gr_vcf_plan_free(gr_vcf_plan *p)
{
    if (!p)
        return;
    free(p->windows);
    free(p->spans);
    free(p->index_path);
    free(p);
}

/* The index htslib would use for path: path.csi, else (text VCF) path.tbi,
 * skipping one older than the file: htslib only warns of that, and a file
 * rewritten after its index was made would be read at stale offsets. Returns
 * new, NULL when there is none (or path is not a regular file, which cannot
 * be sought in); *size gets the file's size. */
static char *index_path(const char *path, int bcf, uint64_t *size, int *no_memory)
{
    static const char *const ext[] = { ".csi", ".tbi" };
    struct stat f, x;
    if (stat(path, &f) || !S_ISREG(f.st_mode))
        return NULL;
    *size = (uint64_t)f.st_size;
    size_t n = strlen(path);
    for (int i = 0; i < (bcf ? 1 : 2); i++) {
        char *p = malloc(n + 5);
        if (!p) {
            *no_memory = 1;
            return NULL;
        }
        memcpy(p, path, n);
        memcpy(p + n, ext[i], 5);
        if (!stat(p, &x) && S_ISREG(x.st_mode) && x.st_mtime >= f.st_mtime)
            return p;
        free(p);
    }
    return NULL;
}

/* A loaded index and the chromosome code of each of its sequences. */
typedef struct {
    tbx_t *tbx;       /* text VCF */
    hts_idx_t *idx;   /* BCF's, or borrowed from tbx */
    int32_t *by_code; /* (code, tid) pairs sorted by code, 2 ints each */
    size_t n;
} loaded;

static void loaded_free(loaded *ix)
{
    if (ix->tbx)
        tbx_destroy(ix->tbx);
    else if (ix->idx)
        hts_idx_destroy(ix->idx);
    free(ix->by_code);
}

static int by_code(const void *a, const void *b)
{
    const int32_t *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Pairs each sequence of the index the model has a chromosome code for with
 * that code: the file may spell chr1 where the model says 1. */
static int map_codes(ctx *c, loaded *ix, const bcf_hdr_t *hdr)
{
    int n = 0;
    const char **names = NULL; /* text VCF: the index's own names, by tid */
    if (ix->tbx && !(names = tbx_seqnames(ix->tbx, &n)))
        return 0;
    if (!ix->tbx)
        n = hts_idx_nseq(ix->idx);
    ix->by_code = malloc((size_t)(n > 0 ? n : 1) * 2 * sizeof *ix->by_code);
    for (int tid = 0; ix->by_code && tid < n; tid++) {
        const char *name = names                      ? names[tid]
                           : tid < hdr->n[BCF_DT_CTG] ? bcf_hdr_id2name(hdr, tid)
                                                      : NULL;
        int32_t code = name ? gr_vcf_chrom_code(c, name, strlen(name), 0) : -1;
        if (code >= 0) {
            ix->by_code[2 * ix->n] = code;
            ix->by_code[2 * ix->n + 1] = tid;
            ix->n++;
        }
    }
    free((void *)names);
    if (!ix->by_code)
        return 0;
    qsort(ix->by_code, ix->n, 2 * sizeof *ix->by_code, by_code);
    return 1;
}

/* Loads the index at fnidx: 1 when it can serve, 0 when not, -1 when out of
 * memory. */
static int load_index(ctx *c, const char *path, const char *fnidx, const bcf_hdr_t *hdr, int bcf,
                      loaded *ix)
{
    if (bcf) {
        uint32_t l_meta = 0;
        ix->idx = hts_idx_load3(path, fnidx, HTS_FMT_CSI, HTS_IDX_SILENT_FAIL);
        /* a text VCF's .csi carries tabix columns and names its own sequences */
        if (!ix->idx || hts_idx_fmt(ix->idx) != HTS_FMT_CSI ||
            (hts_idx_get_meta(ix->idx, &l_meta) && l_meta))
            return 0;
    } else {
        ix->tbx = tbx_index_load3(path, fnidx, HTS_IDX_SILENT_FAIL);
        if (!ix->tbx || (ix->tbx->conf.preset & 0xffff) != TBX_VCF)
            return 0;
        ix->idx = ix->tbx->idx;
    }
    return map_codes(c, ix, hdr) ? 1 : -1;
}

/* First pair of ix->by_code with code, or ix->n. */
static size_t first_of(const loaded *ix, int32_t code)
{
    size_t a = 0, b = ix->n;
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (ix->by_code[2 * mid] < code)
            a = mid + 1;
        else
            b = mid;
    }
    return a;
}

/* The spans of region g on sequence tid appended to p, and a window for
 * them when there are any; 0 when out of memory. */
static int add_window(gr_vcf_plan *p, size_t *cap_w, size_t *cap_s, const loaded *ix, int bcf,
                      int tid, const gr_region *g)
{
    errno = 0;
    hts_itr_t *it =
        hts_itr_query(ix->idx, tid, g->beg - 1, g->end, bcf ? bcf_readrec : tbx_readrec);
    if (!it) /* no records on tid, or no memory */
        return errno != ENOMEM;
    int ok = 1;
    if (it->n_off > 0 && p->n_windows == *cap_w) {
        *cap_w = *cap_w ? 2 * *cap_w : 64;
        gr_window *w = realloc(p->windows, *cap_w * sizeof *w);
        ok = w != NULL;
        p->windows = ok ? w : p->windows;
    }
    if (ok && it->n_off > 0 && p->n_spans + (size_t)it->n_off > *cap_s) {
        *cap_s = 2 * (p->n_spans + (size_t)it->n_off);
        gr_span *v = realloc(p->spans, *cap_s * sizeof *v);
        ok = v != NULL;
        p->spans = ok ? v : p->spans;
    }
    if (ok && it->n_off > 0) {
        p->windows[p->n_windows++] =
            (gr_window){ g->code, tid, g->beg, g->end, p->n_spans, (size_t)it->n_off, 0 };
        for (int j = 0; j < it->n_off; j++)
            p->spans[p->n_spans++] = (gr_span){ it->off[j].u, it->off[j].v };
    }
    hts_itr_destroy(it);
    return ok;
}

/* A window per region and sequence of its chromosome; 0 when out of memory. */
static int query(gr_vcf_plan *p, const loaded *ix, int bcf, const gr_region *g, size_t n)
{
    size_t cap_w = 0, cap_s = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = first_of(ix, g[i].code); k < ix->n && ix->by_code[2 * k] == g[i].code; k++)
            if (!add_window(p, &cap_w, &cap_s, ix, bcf, ix->by_code[2 * k + 1], &g[i]))
                return 0;
    return 1;
}

/* Orders windows by order, then sequence, then position. */
static int by_order(const void *a, const void *b)
{
    const gr_window *x = a, *y = b;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    return x->beg < y->beg ? -1 : x->beg > y->beg;
}

/* Sorts the windows into file order: sequences in the order their data comes
 * (a sorted file holds each sequence's records together), then by position.
 * 0 when a span lies beyond the file's end (an index made for another
 * file). */
static int order_windows(gr_vcf_plan *p)
{
    for (size_t i = 0; i < p->n_spans; i++)
        if ((p->spans[i].beg >> 16) >= p->file)
            return 0;
    for (size_t i = 0; i < p->n_windows; i++)
        p->windows[i].order = 0;
    qsort(p->windows, p->n_windows, sizeof *p->windows, by_order); /* by sequence */
    for (size_t i = 0, j; i < p->n_windows; i = j) {
        uint64_t first = UINT64_MAX; /* the index sorts each region's spans */
        for (j = i; j < p->n_windows && p->windows[j].tid == p->windows[i].tid; j++)
            if (p->spans[p->windows[j].first].beg < first)
                first = p->spans[p->windows[j].first].beg;
        for (size_t k = i; k < j; k++)
            p->windows[k].order = first;
    }
    qsort(p->windows, p->n_windows, sizeof *p->windows, by_order);
    return 1;
}

/* The model's positioned variants as merged regions; NULL when out of
 * memory. Returns new. */
static gr_region *model_regions(const ctx *c, size_t *n)
{
    gr_region *r = malloc((c->n_pos ? c->n_pos : 1) * sizeof *r);
    if (!r)
        return NULL;
    for (size_t i = 0; i < c->n_pos; i++) {
        uint64_t key = c->by_pos[i].key;
        int64_t pos = (int64_t)(key & (((uint64_t)1 << 40) - 1));
        r[i] = (gr_region){ (int32_t)(key >> 40), pos > REGION_PAD ? pos - REGION_PAD : 1,
                            pos + REGION_PAD };
    }
    *n = gr_regions_merge(r, c->n_pos, REGION_GAP);
    return r;
}

/* A dense score is read faster whole: each region costs a seek and at least
 * one inflated block. */
static int dense(size_t n_regions, uint64_t file)
{
    uint64_t limit = file / DENSE_SHARE > SMALL_READ ? file / DENSE_SHARE : SMALL_READ;
    return (uint64_t)n_regions > limit / REGION_COST;
}

gr_status gr_vcf_index_plan(ctx *c, const char *path, const bcf_hdr_t *hdr, int bcf,
                            gr_vcf_plan **out, gr_error *err)
{
    gr_status st = GR_OK;
    int no_memory = 0, usable = 0; /* usable: 1 yes, 0 stream, -1 no memory */
    loaded ix = { 0 };
    size_t n = 0;
    gr_vcf_plan *p = calloc(1, sizeof *p);
    gr_region *g = NULL;
    *out = NULL;
    if (p)
        p->index_path = index_path(path, bcf, &p->file, &no_memory);
    /* the regions (a sort of every variant) only when there is an index */
    if (p && p->index_path && !(g = model_regions(c, &n)))
        no_memory = 1;
    if (g && !dense(n, p->file))
        usable = load_index(c, path, p->index_path, hdr, bcf, &ix);
    if (usable > 0)
        usable = query(p, &ix, bcf, g, n) ? 1 : -1;
    if (!p || no_memory || usable < 0) {
        st = oom(err);
        goto fail;
    }
    if (usable > 0 && order_windows(p)) {
        *out = p;
        p = NULL;
    }

fail:
    free(g);
    loaded_free(&ix);
    gr_vcf_plan_free(p);
    return st;
}

/* Reads window w's spans until a record lies past it; *mark is where the
 * record after the last one used starts. */
static gr_status walk_window(const gr_vcf_plan *p, const gr_window *w, BGZF *fp, gr_vcf_step step,
                             void *arg, const gr_vcf_options *opt, const char *label,
                             uint64_t *mark, size_t *n, gr_error *err)
{
    int got = GR_STEP_READ;
    for (size_t k = w->first; k < w->first + w->n && got == GR_STEP_READ; k++) {
        const gr_span *s = &p->spans[k];
        uint64_t from = s->beg > *mark ? s->beg : *mark;
        if (from >= s->end)
            continue;
        if ((uint64_t)bgzf_tell(fp) != from && bgzf_seek(fp, (int64_t)from, SEEK_SET) < 0)
            return gr_error_set(err, GR_EINPUT, label, 0, NULL,
                                "read error: the index %s names a place the file does not have "
                                "(truncated data, or an index made for another file)",
                                p->index_path);
        while (got == GR_STEP_READ && (uint64_t)bgzf_tell(fp) < s->end) {
            if (opt->stop && !(++*n & 1023) && opt->stop(opt->stop_arg))
                return gr_error_set(err, GR_EIO, label, 0, NULL, "stopped");
            gr_status st = step(arg, w, &got, err);
            if (st)
                return st;
            if (got == GR_STEP_READ)
                *mark = (uint64_t)bgzf_tell(fp);
        }
    }
    return GR_OK;
}

gr_status gr_vcf_plan_walk(const gr_vcf_plan *p, BGZF *fp, gr_vcf_step step, void *arg,
                           const gr_vcf_options *opt, const char *label, gr_error *err)
{
    uint64_t mark = 0;
    size_t n = 0;
    for (size_t i = 0; i < p->n_windows; i++) {
        if (opt->stop && opt->stop(opt->stop_arg))
            return gr_error_set(err, GR_EIO, label, 0, NULL, "stopped");
        gr_status st = walk_window(p, &p->windows[i], fp, step, arg, opt, label, &mark, &n, err);
        if (st)
            return st;
    }
    return GR_OK;
}

int gr_vcf_text_past(ctx *c, const char *s, size_t len, const gr_window *w)
{
    const char *tab = memchr(s, '\t', len);
    if (!tab)
        return 0;
    int32_t code = gr_vcf_chrom_code(c, s, (size_t)(tab - s), 0);
    const char *p = tab + 1, *e = s + len;
    int64_t pos = 0;
    while (p < e && *p >= '0' && *p <= '9' && pos < ((int64_t)1 << 40))
        pos = pos * 10 + (*p++ - '0');
    if (p == tab + 1 || p >= e || *p != '\t')
        return 0;
    return code != w->code || pos > w->end;
}

int gr_bgzf_line(BGZF *fp, kstring_t *s, size_t max)
{
    s->l = 0;
    for (int found = 0; !found;) {
        if (fp->block_offset >= fp->block_length) {
            if (bgzf_read_block(fp) != 0)
                return GR_LINE_BAD;
            if (fp->block_length == 0)
                return s->l ? GR_LINE_OK : GR_LINE_END;
            if (fp->block_offset >= fp->block_length) /* sought past the block's end */
                return GR_LINE_BAD;
        }
        const char *buf = (const char *)fp->uncompressed_block + fp->block_offset;
        size_t avail = (size_t)(fp->block_length - fp->block_offset);
        const char *nl = memchr(buf, '\n', avail);
        size_t take = nl ? (size_t)(nl - buf) : avail;
        if (s->l + take > max + 1)
            return GR_LINE_LONG;
        if (kputsn(buf, take, s) < 0)
            return GR_LINE_OOM;
        found = nl != NULL;
        fp->block_offset += (int)(take + (size_t)found);
        fp->uncompressed_address += (int64_t)(take + (size_t)found);
        if (fp->block_offset >= fp->block_length) {
            /* as bgzf_getline leaves it, so that bgzf_tell gives the next
             * block's address, as the index records it */
            fp->block_address = htell(fp->fp);
            fp->block_offset = fp->block_length = 0;
        }
    }
    return GR_LINE_OK;
}
