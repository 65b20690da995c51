/* load_pgs.c - reads a PGS Catalog scoring file (format 2.0, plain or gzip) as a
 * linear model whose features are the file's variants. Dosage counts the
 * effect allele; harmonized coordinates (hm_chr/hm_pos) win over the
 * author-reported ones, as the Catalog's own documentation asks. */
#include <htslib/khash.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "lines.h"

KHASH_SET_INIT_STR(grset)

enum {
    C_CHR,
    C_POS,
    C_RSID,
    C_EA,
    C_OA,
    C_W,
    C_W0,
    C_W1,
    C_W2,
    C_DOM,
    C_REC,
    C_AF,
    C_HM_CHR,
    C_HM_POS,
    C_HM_RSID,
    C_HM_INFER,
    N_PGS_COLS
};
static const char *const pgs_cols[N_PGS_COLS] = { "chr_name",
                                                  "chr_position",
                                                  "rsID",
                                                  "effect_allele",
                                                  "other_allele",
                                                  "effect_weight",
                                                  "dosage_0_weight",
                                                  "dosage_1_weight",
                                                  "dosage_2_weight",
                                                  "is_dominant",
                                                  "is_recessive",
                                                  "allelefrequency_effect",
                                                  "hm_chr",
                                                  "hm_pos",
                                                  "hm_rsID",
                                                  "hm_inferOtherAllele" };

#define MAX_PGS_COLUMNS 128

static void rstrip(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\t' || s[n - 1] == ' '))
        s[--n] = '\0';
}

/* -1 when not a boolean the Catalog uses. */
static int parse_bool(const char *s)
{
    if (!*s || !strcmp(s, "False") || !strcmp(s, "false") || !strcmp(s, "FALSE") || !strcmp(s, "0"))
        return 0;
    if (!strcmp(s, "True") || !strcmp(s, "true") || !strcmp(s, "TRUE") || !strcmp(s, "1"))
        return 1;
    return -1;
}

static const char *canonical_build(const char *b)
{
    if (!strcmp(b, "GRCh37") || !strcmp(b, "hg19"))
        return "GRCh37";
    if (!strcmp(b, "GRCh38") || !strcmp(b, "hg38"))
        return "GRCh38";
    if (!strcmp(b, "NR") || !*b)
        return NULL; /* not reported: nothing to check */
    return b;
}

static void upcase(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z')
            *s = (char)(*s - 'a' + 'A');
}

typedef struct {
    double *c;
    size_t cap;
} contrib_buf;

static int push_contrib(contrib_buf *b, size_t i, double c0, double c1, double c2)
{
    if (3 * (i + 1) > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 3 * 256;
        double *c = realloc(b->c, cap * sizeof *c);
        if (!c)
            return 0;
        b->c = c;
        b->cap = cap;
    }
    b->c[3 * i] = c0;
    b->c[3 * i + 1] = c1;
    b->c[3 * i + 2] = c2;
    return 1;
}

/* err must not be NULL (gr_model_load always passes one). */
gr_status gr_load_pgs(gr_model *m, const char *path, gr_error *err)
{
    gr_status st = GR_OK;
    gr_lines r = { 0 };
    contrib_buf cb = { 0 };
    kstring_t vkey = { 0, 0, NULL };
    gr_arena keys = { 0 }; /* the variants set's keys */
    /* the model's key index holds the ids as they are read; variants holds
     * the variant keys of features named by rsID, which are not ids */
    khash_t(grset) *variants = kh_init(grset);
    char *fields[MAX_PGS_COLUMNS];
    int col[N_PGS_COLS];
    char build[32] = "", hm_build[32] = "", pgs_id[64] = "", fmt_version[16] = "";
    size_t header_cols = 0;
    int have_header = 0, got;
    if (!variants) {
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    if ((st = gr_lines_open(&r, path, err)))
        goto fail;
    while ((got = gr_lines_next(&r, err)) == 1) {
        char *line = r.s.s;
        if (!have_header) {
            if (line[0] == '#') {
                if (line[1] == '#')
                    continue; /* section banner */
                char *eq = strchr(line, '=');
                if (!eq)
                    continue;
                *eq = '\0';
                char *key = line + 1, *val = eq + 1;
                rstrip(val);
                if (!strcmp(key, "genome_build"))
                    snprintf(build, sizeof build, "%s", val);
                else if (!strcmp(key, "HmPOS_build"))
                    snprintf(hm_build, sizeof hm_build, "%s", val);
                else if (!strcmp(key, "pgs_id"))
                    snprintf(pgs_id, sizeof pgs_id, "%s", val);
                else if (!strcmp(key, "format_version"))
                    snprintf(fmt_version, sizeof fmt_version, "%s", val);
                else if (!strcmp(key, "variants_number")) {
                    /* size the sets once instead of growing them row by row;
                     * only a hint, so a claim past the largest Catalog scores
                     * (~7 million variants) sizes them for 4 Mi and the rest
                     * grows as rows come, and no claim sizes them past a
                     * quarter of the file's bytes (a row takes 8 at least,
                     * and compressed ones far more than 4): a 100-byte file
                     * saying 99999999 must not ask for gigabytes */
                    int64_t nv;
                    struct stat sb;
                    if (gr_parse_int64(val, &nv) && nv > 0) {
                        if (nv > ((int64_t)1 << 22))
                            nv = (int64_t)1 << 22;
                        if (!stat(path, &sb) && S_ISREG(sb.st_mode) && nv > sb.st_size / 4)
                            nv = sb.st_size / 4 > 0 ? sb.st_size / 4 : 1;
                        if (!gr_model_reserve(m, (size_t)nv) ||
                            kh_resize(grset, variants, (khint_t)(nv + nv / 3)) < 0) {
                            st = gr_error_set(err, GR_ENOMEM, path, r.line, NULL, "out of memory");
                            goto fail;
                        }
                    }
                }
                continue;
            }
            if (!r.s.l)
                continue;
            rstrip(line);
            header_cols = gr_split_tabs(line, fields, MAX_PGS_COLUMNS);
            for (int c = 0; c < N_PGS_COLS; c++) {
                col[c] = -1;
                for (size_t i = 0; i < header_cols; i++)
                    if (!strcmp(fields[i], pgs_cols[c]))
                        col[c] = (int)i;
            }
            if (col[C_EA] < 0) {
                st = gr_error_set(err, GR_EMODEL, path, r.line, "effect_allele",
                                  "the column header lacks effect_allele");
                goto fail;
            }
            if (col[C_W] < 0 && (col[C_W0] < 0 || col[C_W1] < 0 || col[C_W2] < 0)) {
                st = gr_error_set(err, GR_EMODEL, path, r.line, "effect_weight",
                                  "the column header needs effect_weight, or all of "
                                  "dosage_0_weight, dosage_1_weight, dosage_2_weight");
                goto fail;
            }
            if (col[C_HM_CHR] >= 0 && col[C_HM_POS] >= 0) {
                col[C_CHR] = col[C_HM_CHR];
                col[C_POS] = col[C_HM_POS];
            }
            if ((col[C_CHR] < 0 || col[C_POS] < 0) && col[C_RSID] < 0 && col[C_HM_RSID] < 0) {
                st = gr_error_set(err, GR_EMODEL, path, r.line, "chr_name",
                                  "the column header needs chr_name and chr_position, or rsID");
                goto fail;
            }
            /* The harmonized build describes hm_chr/hm_pos, used only when present. */
            int hm = hm_build[0] && col[C_HM_CHR] >= 0 && col[C_HM_POS] >= 0;
            const char *fb = canonical_build(hm ? hm_build : build);
            if (fb && strcmp(fb, m->genome_build)) {
                st = gr_error_set(err, GR_EMODEL, path, 0, hm ? "HmPOS_build" : "genome_build",
                                  "the scoring file is on %s but the manifest says %s",
                                  hm ? hm_build : build, m->genome_build);
                goto fail;
            }
            have_header = 1;
            continue;
        }
        if (!r.s.l)
            continue;
        size_t nf = gr_split_tabs(line, fields, MAX_PGS_COLUMNS);
        /* Missing trailing empty cells are tolerated; extra cells are not. */
        if (nf > header_cols) {
            st = gr_error_set(err, GR_EMODEL, path, r.line, NULL,
                              "%zu columns, but the header has %zu", nf, header_cols);
            goto fail;
        }
        for (size_t i = nf; i < header_cols; i++)
            fields[i] = "";
#define CELL(c) (col[c] >= 0 ? fields[col[c]] : (char *)"")
        char *ea = CELL(C_EA), *oa = CELL(C_OA), *chr = CELL(C_CHR);
        upcase(ea);
        upcase(oa);
        if (!ea[0]) {
            st = gr_error_set(err, GR_EMODEL, path, r.line, "effect_allele", "empty");
            goto fail;
        }
        if (strchr(oa, '/'))
            oa = (char *)""; /* several candidates: unknown */
        char *infer = CELL(C_HM_INFER);
        if (!oa[0] && infer[0] && !strchr(infer, '/')) {
            upcase(infer);
            oa = infer;
        }
        int64_t pos = 0;
        if (CELL(C_POS)[0] && (!gr_parse_int64(CELL(C_POS), &pos) || pos < 1)) {
            st = gr_error_set(err, GR_EMODEL, path, r.line, pgs_cols[C_POS],
                              "'%.40s' is not a positive integer", CELL(C_POS));
            goto fail;
        }
        if (!pos)
            chr = (char *)"";
        double c0 = 0, c1, c2, w;
        int dom = parse_bool(CELL(C_DOM)), rec = parse_bool(CELL(C_REC));
        if (dom < 0 || rec < 0) {
            st = gr_error_set(err, GR_EMODEL, path, r.line,
                              dom < 0 ? "is_dominant" : "is_recessive", "expected True or False");
            goto fail;
        }
        if (dom && rec) {
            st = gr_error_set(err, GR_EMODEL, path, r.line, "is_dominant",
                              "a variant cannot be both dominant and recessive");
            goto fail;
        }
        if (col[C_W] >= 0 && CELL(C_W)[0]) {
            if (!gr_parse_double(CELL(C_W), &w)) {
                st = gr_error_set(err, GR_EMODEL, path, r.line, "effect_weight",
                                  "'%.40s' is not a finite number", CELL(C_W));
                goto fail;
            }
            c1 = rec ? 0 : w;
            c2 = dom ? w : rec ? w : 2 * w;
        } else if (col[C_W0] >= 0 && col[C_W1] >= 0 && col[C_W2] >= 0) {
            if (!gr_parse_double(CELL(C_W0), &c0) || !gr_parse_double(CELL(C_W1), &c1) ||
                !gr_parse_double(CELL(C_W2), &c2)) {
                st = gr_error_set(err, GR_EMODEL, path, r.line, "dosage_0_weight",
                                  "dosage weights must be finite numbers");
                goto fail;
            }
        } else {
            st = gr_error_set(err, GR_EMODEL, path, r.line, "effect_weight", "empty");
            goto fail;
        }
        double mean = NAN, af;
        if (CELL(C_AF)[0]) {
            if (!gr_parse_double(CELL(C_AF), &af) || af < 0 || af > 1) {
                st = gr_error_set(err, GR_EMODEL, path, r.line, "allelefrequency_effect",
                                  "'%.40s' is not a frequency from 0 to 1", CELL(C_AF));
                goto fail;
            }
            mean = 2 * af;
        }
        const char *rsid = CELL(C_HM_RSID)[0] ? CELL(C_HM_RSID) : CELL(C_RSID);
        /* The variant: its locus with alleles, or, with no position, its rsID
         * with alleles. The same variant twice is an error; the same rsID with
         * other alleles (a multi-allelic site) is not, and takes the variant
         * key as its feature id, the first keeping the rsID. */
        char cnorm[64];
        gr_chrom_normalize(chr, cnorm, sizeof cnorm);
        vkey.l = 0;
        if (ks_resize(&vkey, strlen(cnorm) + strlen(rsid) + strlen(oa) + strlen(ea) + 32) < 0) {
            st = gr_error_set(err, GR_ENOMEM, path, r.line, NULL, "out of memory");
            goto fail;
        }
        if (pos)
            vkey.l = gr_locus_key(vkey.s, cnorm, pos, oa, ea);
        else
            vkey.l = (size_t)sprintf(vkey.s, "%s:%s:%s", rsid, oa, ea);
        if (!pos && !rsid[0]) {
            st = gr_error_set(err, GR_EMODEL, path, r.line, NULL,
                              "the variant has neither a position nor an rsID");
            goto fail;
        }
        /* seen before: an earlier feature's id, or an rsID-named one's key */
        if (gr_model_index_get(m, vkey.s) != -1 ||
            kh_get(grset, variants, vkey.s) != kh_end(variants)) {
            st = gr_error_set(err, GR_EMODEL, path, r.line, NULL,
                              "variant %.200s is listed twice with the same alleles", vkey.s);
            goto fail;
        }
        int by_rsid = rsid[0] && gr_model_index_get(m, rsid) == -1;
        if (!gr_utf8_valid(rsid) || !gr_utf8_valid(vkey.s)) { /* ids the API prints in JSON */
            st = gr_error_set(err, GR_EMODEL, path, r.line, NULL,
                              "the rsID, chromosome or alleles are not UTF-8 text");
            goto fail;
        }
        if ((st = gr_model_add_feature(m, by_rsid ? rsid : vkey.s, chr, pos, oa, ea, rsid, mean,
                                       err)))
            goto fail;
        int ret = 1;
        if (by_rsid) {
            char *vcopy = gr_arena_strdup(&keys, vkey.s);
            if (vcopy)
                kh_put(grset, variants, vcopy, &ret);
            else
                ret = -1;
        }
        /* the id cannot be taken (both candidates were looked up above) */
        if (ret < 0 || gr_model_index_id(m, m->n_features - 1) < 0 ||
            !push_contrib(&cb, m->n_features - 1, c0, c1, c2)) {
            st = gr_error_set(err, GR_ENOMEM, path, r.line, NULL, "out of memory");
            goto fail;
        }
#undef CELL
    }
    if (got < 0) {
        st = err->status;
        goto fail;
    }
    if (!have_header) {
        st = gr_error_set(err, GR_EMODEL, path, 0, NULL,
                          "no column header: is this a PGS Catalog scoring file?");
        goto fail;
    }
    if (m->n_features == 0) {
        st = gr_error_set(err, GR_EMODEL, path, 0, NULL, "the scoring file lists no variants");
        goto fail;
    }
    if (!gr_utf8_valid(pgs_id) || !gr_utf8_valid(fmt_version)) { /* printed in JSON */
        st = gr_error_set(err, GR_EMODEL, path, 0,
                          gr_utf8_valid(pgs_id) ? "format_version" : "pgs_id", "not UTF-8 text");
        goto fail;
    }
    m->ids_indexed = 1;
    m->linear = gr_linear_new(m->n_features);
    m->pgs_id = gr_strdup(pgs_id);
    m->algorithm = malloc(200);
    if (!m->linear || !m->pgs_id || !m->algorithm) {
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    memcpy(m->linear->c, cb.c, 3 * m->n_features * sizeof *cb.c);
    gr_linear_finish(m->linear, m->features);
    m->link = GR_LINK_IDENTITY;
    snprintf(m->algorithm, 200, "PGS Catalog scoring file%s%s (format %s, %zu variants)",
             pgs_id[0] ? " " : "", pgs_id, fmt_version[0] ? fmt_version : "unknown", m->n_features);

fail:
    gr_lines_close(&r);
    free(vkey.s);
    kh_destroy(grset, variants);
    gr_arena_free(&keys);
    free(cb.c);
    return st;
}
