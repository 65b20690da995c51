/* features.c - a model's feature table: features.tsv parsing and the
 * per-feature records every loader fills. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lines.h"

/* Upper-cases an allele in place; 1 when it is a non-empty run of A/C/G/T/N. */
static int normalize_allele(char *a)
{
    if (!*a)
        return 0;
    for (char *p = a; *p; p++) {
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
        if (!strchr("ACGTN", *p))
            return 0;
    }
    return 1;
}

/* A copy of a feature's group name (locus or gene) in m's arena: "" for
 * none, the previous feature's copy when it is the same name. NULL when out
 * of memory. */
static const char *group_name(gr_model *m, const char *name, const char *prev)
{
    if (!name || !name[0])
        return "";
    if (prev && !strcmp(prev, name))
        return prev;
    return gr_arena_strdup(&m->strings, name);
}

gr_status gr_model_add_feature(gr_model *m, const char *id, const char *chrom, int64_t pos,
                               const char *ref, const char *alt, const char *rsid, double mean,
                               const char *locus, const char *gene, gr_error *err)
{
    size_t n = m->n_features;
    if (n == m->cap_features) {
        size_t cap = n ? 2 * n : 16;
        gr_feature *f = realloc(m->features, cap * sizeof *f);
        if (!f)
            return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        m->features = f;
        m->cap_features = cap;
    }
    char cbuf[64];
    gr_chrom_normalize(chrom, cbuf, sizeof cbuf);
    const char *parts[5] = { id, cbuf, ref ? ref : "", alt ? alt : "", rsid ? rsid : "" };
    size_t len[5], total = 0;
    for (int i = 0; i < 5; i++)
        total += (len[i] = strlen(parts[i])) + 1;
    char *block = gr_arena_alloc(&m->strings, total), *p = block;
    if (!block)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    const char *dst[5];
    for (int i = 0; i < 5; i++) {
        memcpy(p, parts[i], len[i] + 1);
        dst[i] = p;
        p += len[i] + 1;
    }
    const gr_feature *prev = n ? &m->features[n - 1] : NULL;
    const char *lcopy = group_name(m, locus, prev ? prev->locus : NULL);
    const char *gcopy = group_name(m, gene, prev ? prev->gene : NULL);
    if (!lcopy || !gcopy)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    m->features[n] = (gr_feature){ .id = dst[0],
                                   .chrom = dst[1],
                                   .pos = pos,
                                   .ref = dst[2],
                                   .alt = dst[3],
                                   .rsid = dst[4],
                                   .mean = mean,
                                   .locus = lcopy,
                                   .gene = gcopy };
    m->n_features = n + 1;
    return GR_OK;
}

enum {
    COL_ID,
    COL_CHROM,
    COL_POS,
    COL_REF,
    COL_ALT,
    COL_MEAN,
    COL_RSID,
    COL_LOCUS,
    COL_GENE,
    N_COLS
};
static const char *const col_names[N_COLS] = { "feature_id", "chrom", "pos",   "ref", "alt",
                                               "mean",       "rsid",  "locus", "gene" };

#define MAX_COLUMNS 256

/* err must not be NULL: gr_model_load always passes one. */
gr_status gr_features_load(gr_model *m, const char *path, gr_error *err)
{
    gr_status st = GR_OK;
    gr_lines r;
    char *fields[MAX_COLUMNS];
    int col[N_COLS];
    if ((st = gr_lines_open(&r, path, err)))
        return st;
    int got;
    while ((got = gr_lines_next(&r, err)) == 1 && r.s.l == 0)
        ; /* leading blank lines */
    if (got <= 0) {
        st = got < 0 ? err->status
                     : gr_error_set(err, GR_EMODEL, path, 0, NULL, "empty file: no header line");
        goto fail;
    }
    size_t nf = gr_split_tabs(r.s.s, fields, MAX_COLUMNS);
    for (int c = 0; c < N_COLS; c++) {
        col[c] = -1;
        for (size_t i = 0; i < nf; i++)
            if (!strcmp(fields[i], col_names[c]))
                col[c] = (int)i;
        if (col[c] < 0 && c < COL_MEAN) {
            st = gr_error_set(err, GR_EMODEL, path, r.line, col_names[c],
                              "header lacks the required column; expected "
                              "feature_id, chrom, pos, ref, alt, and optionally mean, rsid, "
                              "locus, gene");
            goto fail;
        }
    }
    size_t header_cols = nf;
    while ((got = gr_lines_next(&r, err)) == 1) {
        if (r.s.l == 0)
            continue;
        nf = gr_split_tabs(r.s.s, fields, MAX_COLUMNS);
        if (nf != header_cols) {
            st = gr_error_set(err, GR_EMODEL, path, r.line, NULL,
                              "%zu columns, but the header has %zu", nf, header_cols);
            goto fail;
        }
        char *id = fields[col[COL_ID]], *ref = fields[col[COL_REF]], *alt = fields[col[COL_ALT]];
        int64_t pos;
        double mean = NAN;
        if (!id[0]) {
            st = gr_error_set(err, GR_EMODEL, path, r.line, "feature_id", "empty");
            goto fail;
        }
        if (!fields[col[COL_CHROM]][0]) {
            st = gr_error_set(err, GR_EMODEL, path, r.line, "chrom", "empty");
            goto fail;
        }
        if (!gr_parse_int64(fields[col[COL_POS]], &pos) || pos < 1) {
            st = gr_error_set(err, GR_EMODEL, path, r.line, "pos",
                              "'%.40s' is not a positive integer", fields[col[COL_POS]]);
            goto fail;
        }
        if (!normalize_allele(ref) || !normalize_allele(alt)) {
            st = gr_error_set(err, GR_EMODEL, path, r.line, normalize_allele(ref) ? "alt" : "ref",
                              "alleles must be non-empty strings of A, C, G, T, N");
            goto fail;
        }
        if (col[COL_MEAN] >= 0 && fields[col[COL_MEAN]][0]) {
            const char *s = fields[col[COL_MEAN]];
            if (!strcmp(s, "NA") || !strcmp(s, "."))
                mean = NAN;
            else if (!gr_parse_double(s, &mean) || mean < 0 || mean > 2) {
                st = gr_error_set(err, GR_EMODEL, path, r.line, "mean",
                                  "'%.40s' is not a dosage from 0 to 2", s);
                goto fail;
            }
        }
        const char *rsid = col[COL_RSID] >= 0 ? fields[col[COL_RSID]] : "";
        const char *locus = col[COL_LOCUS] >= 0 ? fields[col[COL_LOCUS]] : "";
        const char *gene = col[COL_GENE] >= 0 ? fields[col[COL_GENE]] : "";
        /* the API prints them in JSON */
        const char *bad_text = !gr_utf8_valid(id)      ? "feature_id"
                               : !gr_utf8_valid(rsid)  ? "rsid"
                               : !gr_utf8_valid(locus) ? "locus"
                               : !gr_utf8_valid(gene)  ? "gene"
                                                       : NULL;
        if (bad_text) {
            st = gr_error_set(err, GR_EMODEL, path, r.line, bad_text, "not UTF-8 text");
            goto fail;
        }
        if (!strcmp(locus, "NA") || !strcmp(locus, "."))
            locus = "";
        if (!strcmp(gene, "NA") || !strcmp(gene, "."))
            gene = "";
        if ((st = gr_model_add_feature(m, id, fields[col[COL_CHROM]], pos, ref, alt, rsid, mean,
                                       locus, gene, err)))
            goto fail;
    }
    if (got < 0) {
        st = err->status;
        goto fail;
    }
    if (m->n_features == 0)
        st = gr_error_set(err, GR_EMODEL, path, 0, NULL, "no feature rows after the header");

fail:
    gr_lines_close(&r);
    return st;
}
