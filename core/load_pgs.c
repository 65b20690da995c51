/* load_pgs.c - reads a PGS Catalog scoring file (format 2.0, plain or gzip) as a
 * linear model whose features are the file's variants. Dosage counts the
 * effect allele; harmonized coordinates (hm_chr/hm_pos) win over the
 * author-reported ones, as the Catalog's own documentation asks. */
#include <htslib/khash.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "internal.h"
#include "lines.h"

/* The variant keys of rsID-named features, with their hashes: a probe
 * reads a key's string only when the hashes agree (see model.c's index). */
typedef struct {
    const char *s; /* in pgs_reader.keys */
    uint32_t h;
} vkey_t;

static vkey_t vkey_of(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, the high bits mixed down */
    for (const char *p = s; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return (vkey_t){ s, (uint32_t)(h >> 32) };
}

#define VKEY_HASH(k) ((khint_t)(k).h)
#define VKEY_EQ(a, b) ((a).h == (b).h && !strcmp((a).s, (b).s))
KHASH_INIT(grset, vkey_t, char, 0, VKEY_HASH, VKEY_EQ)

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
    C_OR,
    C_HR,
    C_HAPLOTYPE,
    C_DIPLOTYPE,
    C_INTERACTION,
    C_LOCUS,
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
                                                  "hm_inferOtherAllele",
                                                  "OR",
                                                  "HR",
                                                  "is_haplotype",
                                                  "is_diplotype",
                                                  "is_interaction",
                                                  "locus_name" };

static const char *const unscored_names[GR_PGS_UNSCORED_KINDS] = { "haplotype", "diplotype",
                                                                   "interaction",
                                                                   "effect_allele_not_acgt" };

const char *gr_pgs_unscored_name(gr_pgs_unscored k)
{
    return k < GR_PGS_UNSCORED_KINDS ? unscored_names[k] : "";
}

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

/* A scoring file being read: the file, the header's facts, the columns,
 * and what the rows have given so far. */
typedef struct {
    gr_model *m;
    const char *path;
    gr_lines r;
    contrib_buf cb;
    kstring_t vkey;
    gr_arena keys; /* the variants set's keys */
    /* the model's key index holds the ids as they are read; variants holds
     * the variant keys of features named by rsID, which are not ids */
    khash_t(grset) * variants;
    char *fields[MAX_PGS_COLUMNS];
    int col[N_PGS_COLS];
    char build[32], hm_build[32], pgs_id[64], fmt_version[16], weight_type[32];
    char meta[GR_PGS_META_KEYS][512]; /* gr_pgs_meta's header facts */
    size_t header_cols;
    int ratio_col; /* the weights are this OR or HR column (no effect_weight), or -1 */
} pgs_reader;

#define CELL(rd, c) ((rd)->col[c] >= 0 ? (rd)->fields[(rd)->col[c]] : (char *)"")

/* "#variants_number=": sizes the sets once instead of growing them row by
 * row; only a hint, so a claim past the largest Catalog scores (~7 million
 * variants) sizes them for 4 Mi and the rest grows as rows come, and no claim
 * sizes them past a quarter of the file's bytes (a row takes 8 at least, and
 * compressed ones far more than 4): a 100-byte file saying 99999999 must not
 * ask for gigabytes. */
static gr_status reserve_variants(pgs_reader *rd, const char *val, gr_error *err)
{
    int64_t nv;
    struct stat sb;
    if (!gr_parse_int64(val, &nv) || nv <= 0)
        return GR_OK;
    if (nv > ((int64_t)1 << 22))
        nv = (int64_t)1 << 22;
    if (!stat(rd->path, &sb) && S_ISREG(sb.st_mode) && nv > sb.st_size / 4)
        nv = sb.st_size / 4 > 0 ? sb.st_size / 4 : 1;
    if (!gr_model_reserve(rd->m, (size_t)nv) ||
        kh_resize(grset, rd->variants, (khint_t)(nv + nv / 3)) < 0)
        return gr_error_set(err, GR_ENOMEM, rd->path, rd->r.line, NULL, "out of memory");
    return GR_OK;
}

/* A "#key=value" line of the header. */
static gr_status read_meta(pgs_reader *rd, char *line, gr_error *err)
{
    if (line[1] == '#')
        return GR_OK; /* section banner */
    char *eq = strchr(line, '=');
    if (!eq)
        return GR_OK;
    *eq = '\0';
    char *key = line + 1, *val = eq + 1;
    rstrip(val);
    if (!strcmp(key, "genome_build"))
        snprintf(rd->build, sizeof rd->build, "%s", val);
    else if (!strcmp(key, "HmPOS_build"))
        snprintf(rd->hm_build, sizeof rd->hm_build, "%s", val);
    else if (!strcmp(key, "pgs_id"))
        snprintf(rd->pgs_id, sizeof rd->pgs_id, "%s", val);
    else if (!strcmp(key, "format_version"))
        snprintf(rd->fmt_version, sizeof rd->fmt_version, "%s", val);
    else if (!strcmp(key, "weight_type"))
        snprintf(rd->weight_type, sizeof rd->weight_type, "%s", val);
    else if (!strcmp(key, "variants_number"))
        return reserve_variants(rd, val, err);
    for (int k = 0; k < GR_PGS_META_KEYS; k++)
        if (!strcmp(key, gr_pgs_meta_name((gr_pgs_meta)k))) {
            snprintf(rd->meta[k], sizeof rd->meta[k], "%s", val);
            gr_utf8_trim(rd->meta[k]);
        }
    return GR_OK;
}

/* The name of the OR or HR column that holds the weights. */
static const char *ratio_column(const pgs_reader *rd)
{
    return pgs_cols[rd->col[C_OR] >= 0 ? C_OR : C_HR];
}

/* "OR", "HR" and their long names, in any case: ratios, not betas. */
static int is_ratio(const char *weight_type)
{
    static const char *const ratios[] = { "OR", "HR", "odds ratio", "hazard ratio" };
    for (size_t i = 0; i < sizeof ratios / sizeof *ratios; i++)
        if (!strcasecmp(weight_type, ratios[i]))
            return 1;
    return 0;
}

/* Odds or hazard ratios summed raw mean nothing (a sum of 79 odds ratios
 * is not a risk): such weights are refused unless the manifest's
 * weight_transform asks for their logarithms, and logarithms are taken of
 * nothing else. */
static gr_status check_weight_kind(pgs_reader *rd, gr_error *err)
{
    const char *wt = rd->weight_type;
    int ratio = is_ratio(wt) || rd->ratio_col >= 0;
    int declared = wt[0] && strcasecmp(wt, "NR");
    const char *col = rd->ratio_col >= 0 ? ratio_column(rd) : NULL;
    const char *what = col ? col : wt;
    char source[80];
    if (col)
        snprintf(source, sizeof source, "the file has no effect_weight, only an %s column", col);
    else
        snprintf(source, sizeof source, "#weight_type=%.20s", wt);
    if (ratio && !rd->m->weight_log)
        return gr_error_set(
            err, GR_EMODEL, rd->path, 0, "weight_type",
            "the weights are %s (%s): summed raw they are no score; set "
            "\"weight_transform\": \"log\" in manifest.json to sum their "
            "logarithms, as pgsc_calc does",
            toupper((unsigned char)what[0]) == 'H' ? "hazard ratios" : "odds ratios", source);
    if (rd->m->weight_log && !ratio && declared)
        return gr_error_set(err, GR_EMODEL, rd->path, 0, "weight_type",
                            "weight_transform \"log\" takes logarithms of ratios, but the file's "
                            "#weight_type is %.20s",
                            wt);
    if (rd->m->weight_log && rd->col[C_W] < 0 && rd->ratio_col < 0)
        return gr_error_set(err, GR_EMODEL, rd->path, 0, "weight_transform",
                            "\"log\" applies to an effect_weight, OR or HR column, not to "
                            "dosage_N_weight columns");
    return GR_OK;
}

/* The column header: finds the columns, prefers harmonized coordinates,
 * and checks the build against the manifest's. */
static gr_status map_columns(pgs_reader *rd, char *line, gr_error *err)
{
    const char *path = rd->path;
    long at = rd->r.line;
    int *col = rd->col;
    rstrip(line);
    rd->header_cols = gr_split_tabs(line, rd->fields, MAX_PGS_COLUMNS);
    for (int c = 0; c < N_PGS_COLS; c++) {
        col[c] = -1;
        for (size_t i = 0; i < rd->header_cols; i++)
            if (!strcmp(rd->fields[i], pgs_cols[c]))
                col[c] = (int)i;
    }
    if (col[C_EA] < 0)
        return gr_error_set(err, GR_EMODEL, path, at, "effect_allele",
                            "the column header lacks effect_allele");
    int per_dosage = col[C_W0] >= 0 && col[C_W1] >= 0 && col[C_W2] >= 0;
    rd->ratio_col = col[C_W] < 0 && !per_dosage ? (col[C_OR] >= 0 ? col[C_OR] : col[C_HR]) : -1;
    if (col[C_W] < 0 && !per_dosage && rd->ratio_col < 0)
        return gr_error_set(err, GR_EMODEL, path, at, "effect_weight",
                            "the column header needs effect_weight, or all of "
                            "dosage_0_weight, dosage_1_weight, dosage_2_weight");
    gr_status st = check_weight_kind(rd, err);
    if (st)
        return st;
    if (col[C_HM_CHR] >= 0 && col[C_HM_POS] >= 0) {
        col[C_CHR] = col[C_HM_CHR];
        col[C_POS] = col[C_HM_POS];
    }
    if ((col[C_CHR] < 0 || col[C_POS] < 0) && col[C_RSID] < 0 && col[C_HM_RSID] < 0)
        return gr_error_set(err, GR_EMODEL, path, at, "chr_name",
                            "the column header needs chr_name and chr_position, or rsID");
    /* The harmonized build describes hm_chr/hm_pos, used only when present. */
    int hm = rd->hm_build[0] && col[C_HM_CHR] >= 0 && col[C_HM_POS] >= 0;
    const char *fb = canonical_build(hm ? rd->hm_build : rd->build);
    if (fb && strcmp(fb, rd->m->genome_build))
        return gr_error_set(err, GR_EMODEL, path, 0, hm ? "HmPOS_build" : "genome_build",
                            "the scoring file is on %s but the manifest says %s",
                            hm ? rd->hm_build : rd->build, rd->m->genome_build);
    return GR_OK;
}

/* A row's weights as the piecewise-linear contribution c0, c1, c2 at
 * dosages 0, 1, 2: additive, dominant, recessive, or per-dosage weights. */
static gr_status row_weights(pgs_reader *rd, double c[3], gr_error *err)
{
    const char *path = rd->path;
    long at = rd->r.line;
    double w;
    int dom = parse_bool(CELL(rd, C_DOM)), rec = parse_bool(CELL(rd, C_REC));
    c[0] = 0;
    if (dom < 0 || rec < 0)
        return gr_error_set(err, GR_EMODEL, path, at, dom < 0 ? "is_dominant" : "is_recessive",
                            "expected True or False");
    if (dom && rec)
        return gr_error_set(err, GR_EMODEL, path, at, "is_dominant",
                            "a variant cannot be both dominant and recessive");
    int wc = rd->ratio_col >= 0 ? rd->ratio_col : rd->col[C_W];
    const char *wname = rd->ratio_col >= 0 ? ratio_column(rd) : "effect_weight";
    if (wc >= 0 && rd->fields[wc][0]) {
        if (!gr_parse_double(rd->fields[wc], &w))
            return gr_error_set(err, GR_EMODEL, path, at, wname, "'%.40s' is not a finite number",
                                rd->fields[wc]);
        if (rd->m->weight_log && !(w > 0))
            return gr_error_set(err, GR_EMODEL, path, at, wname,
                                "'%.40s' is no ratio: its logarithm is not a number",
                                rd->fields[wc]);
        w = rd->m->weight_log ? log(w) : w;
        c[1] = rec ? 0 : w;
        c[2] = dom ? w : rec ? w : 2 * w;
        return GR_OK;
    }
    if (rd->col[C_W0] >= 0 && rd->col[C_W1] >= 0 && rd->col[C_W2] >= 0) {
        if (!gr_parse_double(CELL(rd, C_W0), &c[0]) || !gr_parse_double(CELL(rd, C_W1), &c[1]) ||
            !gr_parse_double(CELL(rd, C_W2), &c[2]))
            return gr_error_set(err, GR_EMODEL, path, at, "dosage_0_weight",
                                "dosage weights must be finite numbers");
        return GR_OK;
    }
    return gr_error_set(err, GR_EMODEL, path, at, wname, "empty");
}

/* Rows pgsc_calc leaves out: counted by reason, not scored. 1 when the row
 * is one, 0 when it is to be scored, -1 with err set. */
static int unscored(pgs_reader *rd, const char *ea, gr_error *err)
{
    static const int flags[] = { C_HAPLOTYPE, C_DIPLOTYPE, C_INTERACTION };
    for (int k = 0; k < 3; k++) {
        int v = parse_bool(CELL(rd, flags[k]));
        if (v < 0) {
            gr_error_set(err, GR_EMODEL, rd->path, rd->r.line, pgs_cols[flags[k]],
                         "expected True or False");
            return -1;
        }
        if (v) {
            rd->m->pgs_unscored[k]++;
            return 1;
        }
    }
    if (ea[strspn(ea, "ACGT")]) { /* an allele by name: APOE e4, an HLA type */
        rd->m->pgs_unscored[GR_PGS_NOT_ACGT]++;
        return 1;
    }
    return 0;
}

/* Adds the row's variant as a feature named by its rsID, or by its locus
 * key when the rsID is taken or absent; the same variant twice is an error,
 * the same rsID with other alleles (a multi-allelic site) is not. Its
 * locus is the row's locus_name ("" when the file has none). */
static gr_status add_variant(pgs_reader *rd, const char *chr, int64_t pos, const char *oa,
                             const char *ea, const char *rsid, double mean, const double c[3],
                             gr_error *err)
{
    gr_model *m = rd->m;
    const char *path = rd->path;
    long at = rd->r.line;
    char cnorm[64];
    gr_chrom_normalize(chr, cnorm, sizeof cnorm);
    rd->vkey.l = 0;
    if (ks_resize(&rd->vkey, strlen(cnorm) + strlen(rsid) + strlen(oa) + strlen(ea) + 32) < 0)
        return gr_error_set(err, GR_ENOMEM, path, at, NULL, "out of memory");
    char *vkey = rd->vkey.s;
    if (pos)
        rd->vkey.l = gr_locus_key(vkey, cnorm, pos, oa, ea);
    else
        rd->vkey.l = (size_t)sprintf(vkey, "%s:%s:%s", rsid, oa, ea);
    if (!pos && !rsid[0])
        return gr_error_set(err, GR_EMODEL, path, at, NULL,
                            "the variant has neither a position nor an rsID");
    /* seen before: an earlier feature's id, or an rsID-named one's key */
    vkey_t vk = vkey_of(vkey);
    if (gr_model_index_get(m, vkey) != -1 ||
        kh_get(grset, rd->variants, vk) != kh_end(rd->variants))
        return gr_error_set(err, GR_EMODEL, path, at, NULL,
                            "variant %.200s is listed twice with the same alleles", vkey);
    int by_rsid = rsid[0] && gr_model_index_get(m, rsid) == -1;
    const char *locus = CELL(rd, C_LOCUS);
    if (!gr_utf8_valid(locus)) /* the API prints it in JSON */
        return gr_error_set(err, GR_EMODEL, path, at, pgs_cols[C_LOCUS], "not UTF-8 text");
    if (!gr_utf8_valid(rsid) || !gr_utf8_valid(vkey)) /* ids the API prints in JSON */
        return gr_error_set(err, GR_EMODEL, path, at, NULL,
                            "the rsID, chromosome or alleles are not UTF-8 text");
    gr_status st = gr_model_add_feature(m, by_rsid ? rsid : vkey, chr, pos, oa, ea, rsid, mean,
                                        locus, NULL, err);
    if (st)
        return st;
    int ret = 1;
    if (by_rsid) {
        vk.s = gr_arena_strdup(&rd->keys, vkey);
        if (vk.s)
            kh_put(grset, rd->variants, vk, &ret);
        else
            ret = -1;
    }
    /* the id cannot be taken (both candidates were looked up above) */
    if (ret < 0 || gr_model_index_id(m, m->n_features - 1) < 0 ||
        !push_contrib(&rd->cb, m->n_features - 1, c[0], c[1], c[2]))
        return gr_error_set(err, GR_ENOMEM, path, at, NULL, "out of memory");
    return GR_OK;
}

/* One variant row. */
static gr_status read_row(pgs_reader *rd, char *line, gr_error *err)
{
    const char *path = rd->path;
    long at = rd->r.line;
    size_t nf = gr_split_tabs(line, rd->fields, MAX_PGS_COLUMNS);
    /* Missing trailing empty cells are tolerated; extra cells are not. */
    if (nf > rd->header_cols)
        return gr_error_set(err, GR_EMODEL, path, at, NULL, "%zu columns, but the header has %zu",
                            nf, rd->header_cols);
    for (size_t i = nf; i < rd->header_cols; i++)
        rd->fields[i] = "";
    char *ea = CELL(rd, C_EA), *oa = CELL(rd, C_OA), *chr = CELL(rd, C_CHR);
    upcase(ea);
    upcase(oa);
    if (!ea[0])
        return gr_error_set(err, GR_EMODEL, path, at, "effect_allele", "empty");
    int skip = unscored(rd, ea, err);
    if (skip)
        return skip < 0 ? err->status : GR_OK;
    if (strchr(oa, '/'))
        oa = (char *)""; /* several candidates: unknown */
    char *infer = CELL(rd, C_HM_INFER);
    if (!oa[0] && infer[0] && !strchr(infer, '/')) {
        upcase(infer);
        oa = infer;
    }
    int64_t pos = 0;
    if (CELL(rd, C_POS)[0] && (!gr_parse_int64(CELL(rd, C_POS), &pos) || pos < 1))
        return gr_error_set(err, GR_EMODEL, path, at, pgs_cols[C_POS],
                            "'%.40s' is not a positive integer", CELL(rd, C_POS));
    if (!pos)
        chr = (char *)"";
    double c[3], mean = NAN, af;
    gr_status st = row_weights(rd, c, err);
    if (st)
        return st;
    if (CELL(rd, C_AF)[0]) {
        if (!gr_parse_double(CELL(rd, C_AF), &af) || af < 0 || af > 1)
            return gr_error_set(err, GR_EMODEL, path, at, "allelefrequency_effect",
                                "'%.40s' is not a frequency from 0 to 1", CELL(rd, C_AF));
        mean = 2 * af;
    }
    const char *rsid = CELL(rd, C_HM_RSID)[0] ? CELL(rd, C_HM_RSID) : CELL(rd, C_RSID);
    return add_variant(rd, chr, pos, oa, ea, rsid, mean, c, err);
}

/* After the last row: the linear model and its description. */
static gr_status finish(pgs_reader *rd, gr_error *err)
{
    gr_model *m = rd->m;
    const char *path = rd->path;
    if (m->n_features == 0)
        return gr_error_set(err, GR_EMODEL, path, 0, NULL, "the scoring file lists no variants");
    if (!gr_utf8_valid(rd->pgs_id) || !gr_utf8_valid(rd->fmt_version)) /* printed in JSON */
        return gr_error_set(err, GR_EMODEL, path, 0,
                            gr_utf8_valid(rd->pgs_id) ? "format_version" : "pgs_id",
                            "not UTF-8 text");
    m->ids_indexed = 1;
    m->linear = gr_linear_new(m->n_features);
    m->pgs_id = gr_strdup(rd->pgs_id);
    m->weight_type = gr_strdup(gr_utf8_valid(rd->weight_type) ? rd->weight_type : "");
    for (int k = 0; k < GR_PGS_META_KEYS; k++)
        if (!(m->pgs_meta[k] = gr_strdup(gr_utf8_valid(rd->meta[k]) ? rd->meta[k] : "")))
            return gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
    m->algorithm = malloc(200);
    if (!m->linear || !m->pgs_id || !m->weight_type || !m->algorithm)
        return gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
    memcpy(m->linear->c, rd->cb.c, 3 * m->n_features * sizeof *rd->cb.c);
    gr_linear_finish(m->linear, m->features);
    m->link = GR_LINK_IDENTITY;
    snprintf(m->algorithm, 200, "PGS Catalog scoring file%s%s (format %s, %zu variants)",
             rd->pgs_id[0] ? " " : "", rd->pgs_id, rd->fmt_version[0] ? rd->fmt_version : "unknown",
             m->n_features);
    return GR_OK;
}

/* err must not be NULL (gr_model_load always passes one). */
gr_status gr_load_pgs(gr_model *m, const char *path, gr_error *err)
{
    pgs_reader rd = { .m = m, .path = path, .variants = kh_init(grset) };
    gr_status st = GR_OK;
    int have_header = 0, got;
    if (!rd.variants) {
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    if ((st = gr_lines_open(&rd.r, path, err)))
        goto fail;
    while ((got = gr_lines_next(&rd.r, err)) == 1) {
        char *line = rd.r.s.s;
        if (!have_header && line[0] == '#')
            st = read_meta(&rd, line, err);
        else if (rd.r.s.l && !have_header)
            have_header = !(st = map_columns(&rd, line, err));
        else if (rd.r.s.l)
            st = read_row(&rd, line, err);
        if (st)
            goto fail;
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
    st = finish(&rd, err);

fail:
    gr_lines_close(&rd.r);
    free(rd.vkey.s);
    kh_destroy(grset, rd.variants);
    gr_arena_free(&rd.keys);
    free(rd.cb.c);
    return st;
}
