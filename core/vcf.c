/* vcf.c - see vcf.h; the rules are numbered as in docs/vcf-matching.md.
 *
 * Text VCF goes through vcf_body.c: each line's CHROM/POS (and ID when the
 * model has rsIDs) is looked up where the line lies, on the body reader's
 * workers, before htslib parses it, so the records the model does not use
 * cost one probe of a bit filter. Only the requested samples are parsed
 * (bcf_hdr_set_samples). BCF goes through bcf_read. */
#include <htslib/bgzf.h>
#include <htslib/hfile.h>
#include <htslib/hts.h>
#include <htslib/khash.h>
#include <htslib/kseq.h>
#include <htslib/kstring.h>
#include <htslib/vcf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bcf_peek.h"
#include "internal.h"
#include "match.h"
#include "vcf.h"
#include "vcf_body.h"

KHASH_MAP_INIT_INT64(vpos, uint32_t)
KHASH_MAP_INIT_STR(vname, int32_t)

enum { KIND_NONE, KIND_ID, KIND_BLOCK, KIND_RECORD }; /* rule precedence */

typedef struct {
    uint64_t key;
    uint32_t feature;
} keyed;

typedef struct {
    const gr_model *m;
    const gr_vcf_options *opt;
    khash_t(vname) * contigs; /* non-standard chromosome names -> code */
    int32_t next_code;
    keyed *by_pos; /* features sorted by (chrom code, pos) */
    size_t n_pos;
    khash_t(vpos) * pos_first; /* key -> first index in by_pos */
    uint64_t *seen_bits;       /* a one-probe filter in front of pos_first */
    keyed *by_id;              /* features with an rsID; key = index into rsid order */
    size_t n_id;               /* entries in by_id (features with an rsID) */
    khash_t(vname) * id_first; /* rsid -> first index in by_id */
    uint8_t *kind, *flags;
    size_t duplicates, homref_calls, calls;
    /* per-record scratch */
    int32_t *gt;
    int n_gt;
    float *ds;
    int n_ds;
    int32_t *end;
    int n_end;
    int have_ds;       /* header declares FORMAT/DS */
    int32_t *rid_code; /* BCF/header contig id -> chrom code */
    int n_rid;
    int oom; /* an allocation for a record failed: the read fails */
} ctx;

/* Chromosome code: 1..22, X=23, Y=24, MT=25, others from 100 in a table. */
static int32_t chrom_code(ctx *c, const char *name, size_t len, int add)
{
    if (len >= 3 && (name[0] | 32) == 'c' && (name[1] | 32) == 'h' && (name[2] | 32) == 'r') {
        name += 3;
        len -= 3;
    }
    if (len >= 1 && len <= 2 && name[0] >= '0' && name[0] <= '9' &&
        (len == 1 || (name[1] >= '0' && name[1] <= '9'))) {
        int v = len == 1 ? name[0] - '0' : (name[0] - '0') * 10 + (name[1] - '0');
        if (v >= 1 && v <= 22)
            return v;
        if (v == 23 || v == 24)
            return v;
        if (v == 26)
            return 25;
    }
    if (len == 1 && (name[0] == 'X' || name[0] == 'x'))
        return 23;
    if (len == 1 && (name[0] == 'Y' || name[0] == 'y'))
        return 24;
    if ((len == 1 && (name[0] == 'M' || name[0] == 'm')) ||
        (len == 2 && (name[0] | 32) == 'm' && (name[1] | 32) == 't'))
        return 25;
    char buf[256];
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    memcpy(buf, name, len);
    buf[len] = '\0';
    khint_t k = kh_get(vname, c->contigs, buf);
    if (k != kh_end(c->contigs))
        return kh_val(c->contigs, k);
    if (!add)
        return -1;
    char *copy = gr_strdup(buf);
    int ret;
    if (!copy)
        return -1;
    k = kh_put(vname, c->contigs, copy, &ret);
    if (ret < 0) {
        free(copy);
        return -1;
    }
    kh_val(c->contigs, k) = c->next_code;
    return c->next_code++;
}

static uint64_t pos_key(int32_t code, int64_t pos)
{
    return (uint64_t)(uint32_t)code << 40 | (uint64_t)pos;
}

/* Most records of a genome-wide VCF are not in the model, and each probe of
 * a 100,000-entry hash table is a cache miss. A 2^21-bit filter (256 KiB,
 * cache-resident) answers "certainly not" for most of them first. */
#define SEEN_BITS 21
static uint32_t seen_slot(uint64_t key)
{
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - SEEN_BITS));
}

static int maybe_seen(const ctx *c, uint64_t key)
{
    uint32_t s = seen_slot(key);
    return (int)(c->seen_bits[s >> 6] >> (s & 63) & 1);
}

static int by_key(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->feature < y->feature ? -1 : x->feature > y->feature;
}

static gr_status build_index(ctx *c, gr_error *err)
{
    const gr_model *m = c->m;
    size_t n = m->n_features, n_id = 0;
    c->by_pos = malloc((n ? n : 1) * sizeof *c->by_pos);
    c->by_id = malloc((n ? n : 1) * sizeof *c->by_id);
    c->pos_first = kh_init(vpos);
    c->id_first = kh_init(vname);
    if (!c->by_pos || !c->by_id || !c->pos_first || !c->id_first)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const gr_feature *f = &m->features[i];
        if (f->pos > 0 && f->chrom[0]) {
            int32_t code = chrom_code(c, f->chrom, strlen(f->chrom), 1);
            if (code < 0)
                return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
            c->by_pos[c->n_pos++] = (keyed){ pos_key(code, f->pos), (uint32_t)i };
        }
        if (f->rsid[0])
            c->by_id[n_id++] = (keyed){ 0, (uint32_t)i };
    }
    qsort(c->by_pos, c->n_pos, sizeof *c->by_pos, by_key);
    c->seen_bits = calloc((size_t)1 << (SEEN_BITS - 6), sizeof *c->seen_bits);
    if (!c->seen_bits)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    for (size_t i = 0; i < c->n_pos; i++) {
        uint32_t s = seen_slot(c->by_pos[i].key);
        c->seen_bits[s >> 6] |= (uint64_t)1 << (s & 63);
        int ret;
        khint_t k = kh_put(vpos, c->pos_first, c->by_pos[i].key, &ret);
        if (ret < 0)
            return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        if (ret > 0)
            kh_val(c->pos_first, k) = (uint32_t)i;
    }
    /* rsIDs: features grouped by rsid; the key is the group's first slot */
    for (size_t i = 0; i < n_id; i++) {
        const char *rs = m->features[c->by_id[i].feature].rsid;
        int ret;
        khint_t k = kh_put(vname, c->id_first, rs, &ret);
        if (ret < 0)
            return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        if (ret > 0)
            kh_val(c->id_first, k) = (int32_t)i;
        c->by_id[i].key = (uint64_t)kh_val(c->id_first, k);
    }
    qsort(c->by_id, n_id, sizeof *c->by_id, by_key);
    /* first slots moved by the sort: point each rsid at its group's start */
    for (size_t i = 0; i < n_id; i++) {
        const char *rs = m->features[c->by_id[i].feature].rsid;
        khint_t k = kh_get(vname, c->id_first, rs);
        if (i == 0 || c->by_id[i - 1].key != c->by_id[i].key)
            kh_val(c->id_first, k) = (int32_t)i;
    }
    c->n_id = n_id;
    return GR_OK;
}

static uint16_t encode(double v)
{
    if (!(v >= -1e-6 && v <= 2 + 1e-6))
        return GR_VCF_MISSING;
    if (v < 0)
        v = 0;
    if (v > 2)
        v = 2;
    return (uint16_t)lround(v * GR_VCF_DOSAGE_SCALE);
}

/* Makes room for n values of size sz in *buf (*cap values now) before an
 * htslib getter fills it: htslib 1.16 grows it with buf = realloc(buf, ...),
 * losing the old block when that fails and, for INFO values, writing
 * through NULL. 0 when out of memory. */
static int room(void **buf, int *cap, int n, size_t sz)
{
    if (n <= *cap)
        return 1;
    void *p = realloc(*buf, (size_t)n * sz);
    if (!p)
        return 0;
    *buf = p;
    *cap = n;
    return 1;
}

/* 1 when rec holds the FORMAT field as numbers. htslib 1.16 calls exit(1)
 * when asked for the values of one stored as anything else (a FORMAT column
 * such as ":GT" leaves GT typed BCF_BT_NULL): such a field counts as absent. */
static int numbers(const bcf_fmt_t *fmt)
{
    return fmt && (fmt->type == BCF_BT_INT8 || fmt->type == BCF_BT_INT16 ||
                   fmt->type == BCF_BT_INT32 || fmt->type == BCF_BT_FLOAT);
}

/* Loads GT and, when used, DS of rec into the scratch arrays. Returns the
 * per-sample GT width (0 when the record has no GT, or when out of memory:
 * then c->oom is set) and sets *ds_width. */
static int load_calls(ctx *c, const bcf_hdr_t *hdr, bcf1_t *rec, int *ds_width)
{
    int ns = bcf_hdr_nsamples(hdr), k;
    bcf_fmt_t *fmt;
    *ds_width = 0;
    if (c->opt->genotype != GR_GENO_GT && (c->have_ds || c->opt->genotype == GR_GENO_DS) &&
        numbers(fmt = bcf_get_fmt(hdr, rec, "DS"))) {
        if (!room((void **)&c->ds, &c->n_ds, fmt->n * ns, sizeof *c->ds))
            goto oom;
        k = bcf_get_format_float(hdr, rec, "DS", &c->ds, &c->n_ds);
        if (k == -4) /* could not allocate */
            goto oom;
        if (k > 0 && ns > 0)
            *ds_width = k / ns;
    }
    fmt = bcf_get_fmt(hdr, rec, "GT");
    if (!numbers(fmt))
        return 0;
    if (!room((void **)&c->gt, &c->n_gt, fmt->n * ns, sizeof *c->gt))
        goto oom;
    k = bcf_get_genotypes(hdr, rec, &c->gt, &c->n_gt);
    if (k == -4)
        goto oom;
    return k > 0 && ns > 0 ? k / ns : 0;
oom:
    c->oom = 1;
    return 0;
}

/* Dosage of allele a for sample s: from DS when present, else GT. */
static uint16_t sample_dosage(ctx *c, int s, int a, int gtw, int dsw, int n_alt, int chr_x)
{
    if (dsw > 0) {
        const float *d = c->ds + (size_t)s * dsw;
        if (a >= 1) {
            if (a - 1 < dsw && !bcf_float_is_missing(d[a - 1]) &&
                !bcf_float_is_vector_end(d[a - 1]))
                return encode(d[a - 1]);
        } else {
            double sum = 0;
            int ok = dsw >= n_alt;
            for (int i = 0; ok && i < n_alt; i++) {
                ok = !bcf_float_is_missing(d[i]) && !bcf_float_is_vector_end(d[i]);
                sum += d[i];
            }
            if (ok)
                return encode(2 - sum);
        }
        if (c->opt->genotype == GR_GENO_DS || !gtw)
            return GR_VCF_MISSING;
    } else if (c->opt->genotype == GR_GENO_DS) {
        return GR_VCF_MISSING;
    }
    if (!gtw)
        return GR_VCF_MISSING;
    const int32_t *g = c->gt + (size_t)s * gtw;
    int ploidy = 0, count = 0, zeros = 0;
    for (int j = 0; j < gtw && g[j] != bcf_int32_vector_end; j++) {
        if (bcf_gt_is_missing(g[j]))
            return GR_VCF_MISSING;
        int al = bcf_gt_allele(g[j]);
        count += al == a;
        zeros += al == 0;
        ploidy++;
    }
    if (!ploidy)
        return GR_VCF_MISSING;
    c->calls++;
    c->homref_calls += zeros == ploidy;
    /* rule 6: a haploid call on chrX counts double, as plink2 counts it */
    return (uint16_t)(gr_call_dosage(count, ploidy, chr_x) * (int)GR_VCF_DOSAGE_SCALE);
}

static int hom_ref(const ctx *c, int s, int gtw)
{
    if (gtw <= 0)
        return 0;
    const int32_t *g = c->gt + (size_t)s * gtw;
    int n = 0;
    for (int j = 0; j < gtw && g[j] != bcf_int32_vector_end; j++, n++)
        if (bcf_gt_is_missing(g[j]) || bcf_gt_allele(g[j]) != 0)
            return 0;
    return n > 0;
}

static void fill_feature(ctx *c, gr_vcf_result *r, uint32_t f, int allele, int gtw, int dsw,
                         int n_alt, int chr_x)
{
    for (size_t s = 0; s < r->n_samples; s++)
        r->dosage[s * r->n_features + f] = sample_dosage(c, (int)s, allele, gtw, dsw, n_alt, chr_x);
}

static int filter_pass(const bcf_hdr_t *hdr, bcf1_t *rec)
{
    if (rec->d.n_flt == 0)
        return 1;
    return rec->d.n_flt == 1 && bcf_has_filter(hdr, rec, "PASS") == 1;
}

static int is_block(bcf1_t *rec)
{
    return rec->n_allele == 2 &&
           (!strcmp(rec->d.allele[1], "<NON_REF>") || !strcmp(rec->d.allele[1], "<*>"));
}

/* Handles one record already known to concern the model; sets c->oom when
 * an allocation fails. */
static void use_record(ctx *c, const bcf_hdr_t *hdr, bcf1_t *rec, int32_t code, gr_vcf_result *r)
{
    errno = 0; /* bcf_unpack goes on when its kputs fail: errno tells */
    if (bcf_unpack(rec, BCF_UN_ALL) < 0 || errno == ENOMEM) {
        c->oom = 1;
        return;
    }
    if (!c->opt->filter_any && !filter_pass(hdr, rec))
        return; /* rule 7 */
    int64_t pos = (int64_t)rec->pos + 1;
    int gtw = -1, dsw = 0, n_alt = rec->n_allele - 1, chr_x = code == 23;

    if (is_block(rec)) { /* rule 8: gVCF reference block */
        int64_t end = pos;
        bcf_info_t *ei = bcf_get_info(hdr, rec, "END");
        if (ei && !room((void **)&c->end, &c->n_end, ei->len, sizeof *c->end)) {
            c->oom = 1;
            return;
        }
        if (bcf_get_info_int32(hdr, rec, "END", &c->end, &c->n_end) > 0)
            end = c->end[0];
        if (end < pos) /* END=. or negative: pos_key would make it the genome's end */
            end = pos;
        keyed lo = { pos_key(code, pos), 0 };
        size_t a = 0, b = c->n_pos;
        while (a < b) { /* first key >= block start */
            size_t mid = a + (b - a) / 2;
            if (by_key(&c->by_pos[mid], &lo) < 0)
                a = mid + 1;
            else
                b = mid;
        }
        for (size_t i = a; i < c->n_pos && c->by_pos[i].key <= pos_key(code, end); i++) {
            uint32_t f = c->by_pos[i].feature;
            if (c->kind[f] >= KIND_BLOCK)
                continue;
            if (gtw < 0)
                gtw = load_calls(c, hdr, rec, &dsw);
            c->kind[f] = KIND_BLOCK;
            c->flags[f] = 0;
            /* a homozygous-reference call is dosage 0 of the model's counted
             * allele; anything else in a reference block says nothing, and
             * genotype=ds wants DS, which blocks do not carry */
            int use_gt = c->opt->genotype != GR_GENO_DS;
            for (size_t s = 0; s < r->n_samples; s++) {
                int ref = use_gt && hom_ref(c, (int)s, gtw);
                r->dosage[s * r->n_features + f] = ref ? 0 : GR_VCF_MISSING;
                c->homref_calls += ref; /* a gVCF holds its reference calls here */
            }
        }
        return;
    }

    khint_t k = kh_get(vpos, c->pos_first, pos_key(code, pos));
    if (k != kh_end(c->pos_first)) {
        for (size_t i = kh_val(c->pos_first, k);
             i < c->n_pos && c->by_pos[i].key == pos_key(code, pos); i++) {
            uint32_t f = c->by_pos[i].feature;
            uint8_t fl = 0;
            int a = gr_match_alleles(&c->m->features[f], (const char *const *)rec->d.allele,
                                     rec->n_allele, &fl);
            if (a < 0)
                continue;
            if (c->kind[f] == KIND_RECORD) { /* rule 5: the first record wins */
                c->duplicates++;
                continue;
            }
            if (gtw < 0)
                gtw = load_calls(c, hdr, rec, &dsw);
            c->kind[f] = KIND_RECORD;
            c->flags[f] = fl;
            fill_feature(c, r, f, a, gtw, dsw, n_alt, chr_x);
        }
    }
    /* rule 4: by rsID, for variants no record has matched by position */
    const char *id = rec->d.id;
    if (!id || !strcmp(id, ".") || !kh_size(c->id_first))
        return;
    khint_t ki = kh_get(vname, c->id_first, id);
    if (ki == kh_end(c->id_first))
        return;
    for (size_t i = (size_t)kh_val(c->id_first, ki);
         i < c->n_id && c->by_id[i].key == c->by_id[kh_val(c->id_first, ki)].key &&
         !strcmp(c->m->features[c->by_id[i].feature].rsid, id);
         i++) {
        uint32_t f = c->by_id[i].feature;
        if (c->kind[f] != KIND_NONE)
            continue;
        uint8_t fl = 0;
        int a = gr_match_alleles(&c->m->features[f], (const char *const *)rec->d.allele,
                                 rec->n_allele, &fl);
        if (a < 0)
            continue;
        if (gtw < 0)
            gtw = load_calls(c, hdr, rec, &dsw);
        c->kind[f] = KIND_ID;
        c->flags[f] = fl;
        fill_feature(c, r, f, a, gtw, dsw, n_alt, chr_x);
    }
}

/* Rule 9: the lengths of chromosomes 1-22, X and Y, which differ between
 * the builds (GRCh37 as hg19, GRCh38 as hg38 and the 1000 Genomes files). */
static const struct {
    const char *chrom;
    const char *grch37, *grch38;
} build_lengths[] = {
    { "1", "249250621", "248956422" },  { "2", "243199373", "242193529" },
    { "3", "198022430", "198295559" },  { "4", "191154276", "190214555" },
    { "5", "180915260", "181538259" },  { "6", "171115067", "170805979" },
    { "7", "159138663", "159345973" },  { "8", "146364022", "145138636" },
    { "9", "141213431", "138394717" },  { "10", "135534747", "133797422" },
    { "11", "135006516", "135086622" }, { "12", "133851895", "133275309" },
    { "13", "115169878", "114364328" }, { "14", "107349540", "107043718" },
    { "15", "102531392", "101991189" }, { "16", "90354753", "90338345" },
    { "17", "81195210", "83257441" },   { "18", "78077248", "80373285" },
    { "19", "59128983", "58617616" },   { "20", "63025520", "64444167" },
    { "21", "48129895", "46709983" },   { "22", "51304566", "50818468" },
    { "X", "155270560", "156040895" },  { "Y", "59373566", "57227415" },
};

/* The build a ##contig's length identifies, or NULL. */
static const char *build_of_length(const char *id, const char *len)
{
    char chrom[32];
    gr_chrom_normalize(id, chrom, sizeof chrom);
    for (size_t i = 0; i < sizeof build_lengths / sizeof *build_lengths; i++)
        if (!strcmp(chrom, build_lengths[i].chrom))
            return !strcmp(len, build_lengths[i].grch37)   ? "GRCh37"
                   : !strcmp(len, build_lengths[i].grch38) ? "GRCh38"
                                                           : NULL;
    return NULL;
}

/* Rule 9: the build the header reveals, or "". */
static const char *header_build(const bcf_hdr_t *hdr, char *why, size_t why_size)
{
    for (int i = 0; i < hdr->nhrec; i++) {
        const bcf_hrec_t *h = hdr->hrec[i];
        if (!strcmp(h->key, "reference") && h->value) {
            const char *v = h->value;
            if (strstr(v, "GRCh37") || strstr(v, "hg19") || strstr(v, "b37") || strstr(v, "hs37") ||
                strstr(v, "g1k_v37")) {
                snprintf(why, why_size, "##reference=%.80s", v);
                return "GRCh37";
            }
            if (strstr(v, "GRCh38") || strstr(v, "hg38") || strstr(v, "hs38")) {
                snprintf(why, why_size, "##reference=%.80s", v);
                return "GRCh38";
            }
        }
        if (strcmp(h->key, "contig"))
            continue;
        const char *id = NULL, *len = NULL, *asm_ = NULL;
        for (int j = 0; j < h->nkeys; j++) {
            if (!strcmp(h->keys[j], "ID"))
                id = h->vals[j];
            else if (!strcmp(h->keys[j], "length"))
                len = h->vals[j];
            else if (!strcmp(h->keys[j], "assembly"))
                asm_ = h->vals[j];
        }
        if (asm_ && (strstr(asm_, "37") || strstr(asm_, "hg19"))) {
            snprintf(why, why_size, "##contig assembly=%.40s", asm_);
            return "GRCh37";
        }
        if (asm_ && (strstr(asm_, "38") || strstr(asm_, "hg38"))) {
            snprintf(why, why_size, "##contig assembly=%.40s", asm_);
            return "GRCh38";
        }
        const char *by_length = id && len ? build_of_length(id, len) : NULL;
        if (by_length) {
            snprintf(why, why_size, "##contig %.40s length %.20s", id, len);
            return by_length;
        }
    }
    return "";
}

void gr_vcf_result_free(gr_vcf_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_samples && r->sample_ids; i++)
        free(r->sample_ids[i]);
    free(r->sample_ids);
    free(r->dosage);
    for (size_t i = 0; i < r->n_warnings; i++)
        free(r->warnings[i]);
    free(r->warnings);
    free(r);
}

void gr_vcf_sample_dosages(const gr_vcf_result *r, size_t s, double *x)
{
    const uint16_t *d = r->dosage + s * r->n_features;
    for (size_t j = 0; j < r->n_features; j++)
        x[j] = d[j] == GR_VCF_MISSING ? NAN : (double)d[j] / GR_VCF_DOSAGE_SCALE;
}

static int add_warning(gr_vcf_result *r, const char *text)
{
    char **w = realloc(r->warnings, (r->n_warnings + 1) * sizeof *w);
    if (!w)
        return 0;
    r->warnings = w;
    return (r->warnings[r->n_warnings] = gr_strdup(text)) ? (r->n_warnings++, 1) : 0;
}

/* Fast CHROM/POS/ID/ALT look at a raw text line: 1 when the line may concern
 * the model, 0 when not, -1 when its POS is not a number. This runs for every
 * line of the file, so the short fields are walked byte by byte rather than
 * with a library call each. */
static int line_wanted(ctx *c, const char *s, size_t len, int32_t *code_out)
{
    const char *p = s, *e = s + len;
    while (p < e && *p != '\t')
        p++;
    if (p == e)
        return 1; /* let the parser report it */
    int32_t code = chrom_code(c, s, (size_t)(p - s), 0);
    *code_out = code;
    const char *digits = ++p;
    int64_t pos = 0;
    while (p < e && *p >= '0' && *p <= '9' && pos < ((int64_t)1 << 40))
        pos = pos * 10 + (*p++ - '0');
    if (p == digits || p >= e || *p != '\t')
        return -1;
    if (code >= 0 && maybe_seen(c, pos_key(code, pos)) &&
        kh_get(vpos, c->pos_first, pos_key(code, pos)) != kh_end(c->pos_first))
        return 1;
    const char *id = ++p;
    while (p < e && *p != '\t')
        p++;
    if (p == e)
        return 1;
    size_t n = (size_t)(p - id);
    if (kh_size(c->id_first) && !(n == 1 && *id == '.') && n < 256) {
        char buf[256];
        memcpy(buf, id, n);
        buf[n] = '\0';
        if (kh_get(vname, c->id_first, buf) != kh_end(c->id_first))
            return 1;
    }
    /* a symbolic ALT may be a gVCF block covering model positions */
    if (code < 0)
        return 0;
    p++;
    while (p < e && *p != '\t') /* REF */
        p++;
    return p + 1 < e && p[1] == '<';
}

/* IDX=n attributes in header text: htslib sizes (and clears) its
 * dictionaries for n + 1 entries, 4 GB for a 30-byte line saying
 * IDX=268435455. Matched as htslib reads them, or more loosely: the key in
 * any case (bcf_hrec_find_key uses strcasecmp), spaces before '=', and the
 * value as strtol reads it (spaces and '+' first; a quote is let through
 * too). Found by fuzzing, one spelling at a time. */
typedef struct {
    int at;     /* 0-2: "IDX" matched so far; 3: before '='; 4: before digits; 5: in them */
    size_t n;   /* the number being read */
    size_t max; /* the largest seen */
} idx_scan;

static void idx_step(idx_scan *s, unsigned char ch)
{
    unsigned char up = ch >= 'a' && ch <= 'z' ? (unsigned char)(ch - 32) : ch;
    int digit = ch >= '0' && ch <= '9';
    if (s->at == 5 && digit) {
        s->n = s->n < ((size_t)1 << 40) ? s->n * 10 + (size_t)(ch - '0') : s->n;
        return;
    }
    if (s->at == 5)
        s->max = s->n > s->max ? s->n : s->max;
    if (s->at == 4 && digit)
        s->at = 5, s->n = (size_t)(ch - '0');
    else if (s->at == 4 && (ch == ' ' || ch == '\t' || ch == '+' || ch == '"'))
        ;
    else if (s->at == 3 && (ch == '=' || ch == ' '))
        s->at = ch == '=' ? 4 : 3;
    else if (s->at < 3 && up == (unsigned char)"IDX"[s->at])
        s->at++;
    else
        s->at = up == 'I';
}

/* The header's size, before htslib reads it whole into memory: a text
 * header is counted up to the end of its #CHROM line, a BCF's is its l_text
 * field. The input is read from the start on a descriptor of its own and
 * then rewound. Data that does not decompress passes: htslib will say what
 * is wrong with it. */
static gr_status check_header_size(const char *path, int fd, size_t max, const char *label,
                                   gr_error *err)
{
    int own = fd >= 0 ? dup(fd) : open(path, O_RDONLY | O_CLOEXEC);
    if (own < 0)
        return gr_error_set(err, GR_EIO, label, 0, NULL, "cannot open the VCF");
    if (fd >= 0 && lseek(fd, 0, SEEK_SET) < 0) {
        close(own);
        return gr_error_set(err, GR_EINVAL, label, 0, NULL,
                            "a header size limit needs a seekable input");
    }
    errno = 0;
    BGZF *z = bgzf_dopen(own, "r");
    if (!z) { /* the limit is not skipped: no header is read unmeasured */
        int oom = errno == ENOMEM;
        close(own);
        return oom ? gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory")
                   : gr_error_set(err, GR_EIO, label, 0, NULL, "cannot read the VCF");
    }
    enum { LINE_START, AFTER_HASH, IN_LINE, IN_CHROM_LINE, DONE } state = LINE_START;
    unsigned char buf[65536];
    size_t total = 0, l_text = SIZE_MAX;
    idx_scan idx = { 0, 0, 0 };
    ssize_t n = bgzf_read(z, buf, 9);
    gr_status st = GR_OK;
    if (n == 9 && !memcmp(buf, "BCF\2", 4)) {
        l_text = (size_t)buf[5] | (size_t)buf[6] << 8 | (size_t)buf[7] << 16 | (size_t)buf[8] << 24;
        if (l_text > max)
            st = gr_error_set(err, GR_EINPUT, label, 0, "header",
                              "the BCF header is %zu bytes, over the %zu-byte limit", l_text, max);
        n = st ? 0 : bgzf_read(z, buf, l_text < sizeof buf ? l_text : sizeof buf); /* its text */
    }
    /* htslib reads a text header up to its #CHROM line, but parses all of a
     * BCF's l_text, skipping lines it cannot parse: there the IDX scan goes
     * on to the end (found by fuzzing) */
    int bcf_text = l_text != SIZE_MAX;
    while (n > 0 && (state != DONE || bcf_text) && !st) {
        for (ssize_t i = 0; i < n && (state != DONE || bcf_text) && total < l_text; i++) {
            unsigned char ch = buf[i];
            idx_step(&idx, ch);
            /* as vcf_hdr_read: empty lines are skipped (a lone CR too, as
             * kgetline strips it), a line not starting with '#' is no header
             * (htslib parses nothing then), a "#" line other than "##" ends
             * it (found by fuzzing: an empty line once ended our count, and
             * htslib went on to an IDX=248956422 after it) */
            if (state == LINE_START)
                state = ch == '\n' || ch == '\r' ? LINE_START : ch == '#' ? AFTER_HASH : DONE;
            else if (state == AFTER_HASH)
                state = ch == '\n' ? DONE : ch == '#' ? IN_LINE : IN_CHROM_LINE;
            else if (ch == '\n')
                state = state == IN_CHROM_LINE ? DONE : LINE_START;
            if (++total > max) {
                st = gr_error_set(err, GR_EINPUT, label, 0, "header",
                                  "the VCF header is over the %zu-byte limit", max);
                break;
            }
        }
        n = (state != DONE || bcf_text) && !st && total < l_text
                ? bgzf_read(z, buf, l_text - total < sizeof buf ? l_text - total : sizeof buf)
                : 0;
    }
    bgzf_close(z);
    idx_step(&idx, '\n');
    /* a dictionary entry takes 16 bytes of header text at the very least */
    if (!st && idx.max > total / 16)
        st = gr_error_set(err, GR_EINPUT, label, 0, "header",
                          "the header has an IDX=%zu attribute, more entries than its %zu bytes "
                          "can hold",
                          idx.max, total);
    if (!st && fd >= 0 && lseek(fd, 0, SEEK_SET) < 0)
        st = gr_error_set(err, GR_EIO, label, 0, NULL, "cannot rewind the VCF");
    return st;
}

typedef struct {
    ctx *c;
    bcf_hdr_t *hdr;
    bcf1_t *rec;
    gr_vcf_result *r;
    kstring_t *line;
    const char *label;
    uint64_t max_format; /* bytes a record's FORMAT values may take parsed */
} sink_state;

/* What htslib's vcf_parse allocates for the FORMAT values of line s: every
 * field takes, for each of n samples, room for the widest value any sample
 * has, up to 4 bytes per character (an integer or float per digit, two
 * int32s for "0/1"). One long value among many empty ones so costs n times
 * its length: 10,000 samples and one 100 kB string, 1 GB from a 100 kB line
 * (htslib's own ceiling is 2 GB). The widest value of each field is only
 * measured when the cheap bound, 4 bytes per character of the line for each
 * sample, does not already settle it. */
static uint64_t format_bytes(const char *s, size_t len, uint64_t n, uint64_t max)
{
    if ((uint64_t)len * 4 * n <= max)
        return (uint64_t)len * 4 * n;
    enum { FIELDS = 256 };
    uint32_t widest[FIELDS] = { 0 };
    const char *p = s, *e = s + len;
    for (int tabs = 0; p < e && tabs < 9; p++) /* to the first sample column */
        tabs += *p == '\t';
    size_t field = 0, width = 0, fields = 0;
    for (; p <= e; p++) {
        if (p == e || *p == '\t' || *p == ':') {
            size_t f = field < FIELDS ? field : FIELDS - 1;
            widest[f] = width > widest[f] ? (uint32_t)width : widest[f];
            fields = f + 1 > fields ? f + 1 : fields;
            field = p < e && *p == ':' ? field + 1 : 0;
            width = 0;
        } else {
            width++;
        }
    }
    uint64_t sum = 0;
    for (size_t f = 0; f < fields; f++)
        sum += (uint64_t)widest[f] + 1; /* +1: a value's terminator or padding */
    return sum * 4 * n;
}

/* Worker threads: only reads c (line_wanted with add = 0 never writes). */
static int body_filter(void *arg, const char *s, size_t len, int32_t *tag)
{
    const sink_state *ss = arg;
    return line_wanted(ss->c, s, len, tag);
}

/* The name field of s that would be written into a header line, or NULL.
 * htslib declares a CHROM, FILTER, INFO key or FORMAT key the header lacks
 * by parsing "##contig=<ID=name>" and the like, so a name holding ',', '<',
 * '>' or '"' adds attributes of its own: ",IDX=248956422" made htslib size
 * its contig dictionary at 4 GB (found by fuzzing). VCF allows none of these
 * characters in such names. A line without tabs is no record at all. */
static const char *header_injection(const char *s, size_t len)
{
    static const char *const field[] = { "CHROM", NULL,     NULL,   NULL,    NULL,
                                         NULL,    "FILTER", "INFO", "FORMAT" };
    const char *e = s + len;
    if (!memchr(s, '\t', len))
        return "";
    int in_value = 0; /* INFO: after '=' until ';' */
    for (size_t f = 0; s < e && f < sizeof field / sizeof *field; s++) {
        char ch = *s;
        if (ch == '\t') {
            f++, in_value = 0;
            continue;
        }
        if (!field[f])
            continue;
        if (f == 7 && (ch == '=' || ch == ';'))
            in_value = ch == '=';
        else if (!in_value && (ch == ',' || ch == '<' || ch == '>' || ch == '"'))
            return field[f];
    }
    return NULL;
}

static gr_status body_sink(void *arg, const char *s, size_t len, size_t record, int wanted,
                           int32_t code, gr_error *err)
{
    sink_state *ss = arg;
    ss->line->l = 0;
    errno = 0;
    /* No NUL byte: htslib 1.16 takes one for the end of a FORMAT value and
     * then pads the samples it thinks are missing, writing past its buffer
     * when only some samples are selected (found by fuzzing). */
    if (memchr(s, '\0', len))
        wanted = -1;
    const char *bad = wanted < 0 ? NULL : header_injection(s, len);
    if (bad && !*bad)
        return gr_error_set(err, GR_EINPUT, ss->label, 0, NULL,
                            "record %zu is not a valid VCF record: it has no tabs", record);
    if (bad)
        return gr_error_set(err, GR_EINPUT, ss->label, 0, NULL,
                            "record %zu is not a valid VCF record: its %s holds ',', '<', '>' "
                            "or '\"', which VCF does not allow in names",
                            record, bad);
    uint64_t n_samples = (uint64_t)bcf_hdr_nsamples(ss->hdr); /* those selected */
    uint64_t need = wanted < 0 ? 0 : format_bytes(s, len, n_samples, ss->max_format);
    if (need > ss->max_format)
        return gr_error_set(err, GR_EINPUT, ss->label, 0, NULL,
                            "record %zu would take %" PRIu64 " MiB once parsed for %" PRIu64
                            " samples (its widest values times the samples), over the %" PRIu64
                            "-MiB limit (4 times the line limit)",
                            record, need >> 20, n_samples, ss->max_format >> 20);
    /* htslib parses a line cut short after POS or ID without complaint, as a
     * record with no alleles: that is not a record either */
    if (wanted < 0 || kputsn(s, len, ss->line) < 0 || vcf_parse(ss->line, ss->hdr, ss->rec) < 0 ||
        ss->rec->n_allele < 1) {
        if (errno == ENOMEM) /* vcf_parse says no more than that it failed */
            return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        return gr_error_set(err, GR_EINPUT, ss->label, 0, NULL,
                            "record %zu is not a valid VCF record", record);
    }
    /* htslib 1.16's encoders ignore some failed allocations and leave a
     * corrupt record that vcf_parse calls a success */
    if (errno == ENOMEM)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    if (code < 0) {
        const char *name = bcf_hdr_id2name(ss->hdr, ss->rec->rid);
        code = chrom_code(ss->c, name, strlen(name), 0);
    }
    use_record(ss->c, ss->hdr, ss->rec, code, ss->r);
    if (ss->c->oom)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    return GR_OK;
}

gr_status gr_vcf_read(const gr_model *m, const char *path, int fd, const gr_vcf_options *opt,
                      gr_vcf_result **out, gr_error *user_err)
{
    gr_error local, *err = user_err ? user_err : &local;
    gr_status st = GR_OK;
    ctx c = { .m = m, .opt = opt, .next_code = 100 };
    gr_vcf_result *r = NULL;
    hFILE *hf = NULL;
    htsFile *fp = NULL;
    bcf_hdr_t *hdr = NULL;
    bcf1_t *rec = NULL;
    kstring_t line = { 0, 0, NULL };
    const char *label = path ? path : "VCF";
    size_t max_line = opt->max_line ? opt->max_line : (size_t)64 << 20;
    *out = NULL;

    c.contigs = kh_init(vname);
    if (!c.contigs) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    if ((st = build_index(&c, err)))
        goto fail;
    if (opt->max_header && (st = check_header_size(path, fd, opt->max_header, label, err)))
        goto fail;
    /* htslib tells a failed allocation from bad data only by errno */
    errno = 0;
    hf = fd >= 0 ? hdopen(fd, "r") : hopen(path, "r");
    if (!hf && errno == ENOMEM)
        goto oom;
    if (!hf) {
        st = gr_error_set(err, GR_EIO, label, 0, NULL, "cannot open the VCF");
        goto fail;
    }
    char bom[3]; /* a byte-order mark before a text VCF's header is skipped */
    if (hpeek(hf, bom, sizeof bom) == (ssize_t)sizeof bom && gr_utf8_bom(bom, sizeof bom) &&
        hread(hf, bom, sizeof bom) != (ssize_t)sizeof bom) {
        hclose_abruptly(hf);
        st = gr_error_set(err, GR_EIO, label, 0, NULL, "cannot read the VCF");
        goto fail;
    }
    fp = hts_hopen(hf, label, "r");
    if (!fp) {
        hclose_abruptly(hf);
        if (errno == ENOMEM)
            goto oom;
        st = gr_error_set(err, GR_EINPUT, label, 0, NULL,
                          "not a readable VCF or BCF file (plain, gzip or BGZF)");
        goto fail;
    }
    const htsFormat *fmt = hts_get_format(fp);
    /* hts_hopen does not check its copy of the name, which vcf_hdr_read
     * hands to strlen (htslib 1.16); format detection that could not
     * allocate sees empty data */
    if (!fp->fn || errno == ENOMEM)
        goto oom;
    if (fmt->category != variant_data || (fmt->format != vcf && fmt->format != bcf)) {
        char *what = hts_format_description(fmt); /* returns new */
        st = gr_error_set(err, GR_EINPUT, label, 0, NULL,
                          "not a VCF or BCF file (htslib sees: %.80s)",
                          what ? what : "unknown data");
        free(what);
        goto fail;
    }
    /* Text VCF brings its own workers (vcf_body.c). BCF is read on the caller:
     * htslib 1.16's BGZF threads (hts_set_threads) do not survive a failed
     * allocation: bgzf_thread_pool ignores a failed pthread_create (the first
     * read then waits forever), leaks its queue when pool_create fails, and
     * its workers report out of memory as corrupt data. */
    errno = 0;
    hdr = bcf_hdr_read(fp);
    if (!hdr && errno == ENOMEM)
        goto oom;
    if (!hdr) {
        st = gr_error_set(err, GR_EINPUT, label, 0, "header",
                          "the VCF header is missing or malformed");
        goto fail;
    }
    if (bcf_hdr_nsamples(hdr) == 0) {
        st = gr_error_set(err, GR_EINPUT, label, 0, "header",
                          "the VCF has no samples (no genotype columns)");
        goto fail;
    }
    if (opt->samples && opt->n_samples) {
        kstring_t list = { 0, 0, NULL };
        for (size_t i = 0; i < opt->n_samples; i++) {
            const char *s = opt->samples[i];
            int dup = 0;
            for (size_t j = 0; j < i; j++)
                dup |= !strcmp(opt->samples[j], s);
            if (dup || !*s || strchr(s, ',') || bcf_hdr_id2int(hdr, BCF_DT_SAMPLE, s) < 0) {
                free(list.s);
                st = gr_error_set(err, GR_EINPUT, label, 0, "sample",
                                  dup ? "requested sample #%zu is requested twice"
                                      : "requested sample #%zu is not in the VCF",
                                  i + 1);
                goto fail;
            }
            if ((i && kputc(',', &list) < 0) || kputs(s, &list) < 0) {
                free(list.s);
                st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
                goto fail;
            }
        }
        errno = 0;
        int bad = bcf_hdr_set_samples(hdr, list.s, 0);
        free(list.s);
        if (bad < 0 && errno == ENOMEM)
            goto oom;
        if (bad != 0) {
            st = gr_error_set(err, GR_EINPUT, label, 0, "sample",
                              "the requested samples could not be selected");
            goto fail;
        }
    }
    char why[160] = "";
    const char *build = header_build(hdr, why, sizeof why);
    if (build[0] && strcmp(build, m->info.genome_build)) {
        st = gr_error_set(err, GR_EINPUT, label, 0, "header",
                          "the VCF is on %s (%s) but model %s is on %s", build, why, m->info.name,
                          m->info.genome_build);
        goto fail;
    }
    int ds_id = bcf_hdr_id2int(hdr, BCF_DT_ID, "DS");
    c.have_ds = ds_id >= 0 && bcf_hdr_idinfo_exists(hdr, BCF_HL_FMT, ds_id);
    c.n_rid = hdr->n[BCF_DT_CTG];
    c.rid_code = malloc((size_t)(c.n_rid > 0 ? c.n_rid : 1) * sizeof *c.rid_code);
    size_t nf = m->n_features, ns = (size_t)bcf_hdr_nsamples(hdr);
    if (opt->max_samples && ns > opt->max_samples) { /* before ns x nf dosages */
        st = gr_error_set(err, GR_ELIMIT, label, 0, "sample",
                          "the VCF holds %zu samples; at most %zu per request (choose some with "
                          "?sample=ID)",
                          ns, opt->max_samples);
        goto fail;
    }
    r = calloc(1, sizeof *r);
    c.kind = calloc(nf ? nf : 1, 1);
    c.flags = calloc(nf ? nf : 1, 1);
    rec = bcf_init();
    if (!c.rid_code || !r || !c.kind || !c.flags || !rec) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    for (int i = 0; i < c.n_rid; i++) {
        /* ##contig IDX=n attributes leave unnamed slots below n */
        const char *name = bcf_hdr_id2name(hdr, i);
        c.rid_code[i] = name ? chrom_code(&c, name, strlen(name), 0) : -1;
    }
    r->n_samples = ns;
    r->n_features = nf;
    r->build = build;
    r->sample_ids = calloc(ns, sizeof *r->sample_ids);
    r->dosage = malloc(ns * (nf ? nf : 1) * sizeof *r->dosage);
    if (!r->sample_ids || !r->dosage) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL,
                          "out of memory for %zu samples x %zu variants", ns, nf);
        goto fail;
    }
    for (size_t s = 0; s < ns; s++) {
        if (!gr_utf8_valid(hdr->samples[s])) { /* results name them in JSON */
            st = gr_error_set(err, GR_EINPUT, label, 0, "header",
                              "the name of sample #%zu is not UTF-8 text", s + 1);
            goto fail;
        }
        if (!(r->sample_ids[s] = gr_strdup(hdr->samples[s]))) {
            st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
            goto fail;
        }
    }
    memset(r->dosage, 0xFF, ns * nf * sizeof *r->dosage);

    if (fmt->format == vcf) {
        sink_state ss = { &c, hdr, rec, r, &line, label, (uint64_t)max_line * 4 };
        gr_body_reader rd = { label, opt->threads, max_line, body_filter, body_sink, &ss };
        st = gr_vcf_body_read(fp, &rd, &r->records, err);
        if (st)
            goto fail;
    } else {
        int ret = 0, peek;
        uint64_t size = 0;
        for (;;) {
            /* a record is sized before bcf_read allocates what it claims */
            errno = 0;
            peek = gr_bcf_peek_size(fp->fp.bgzf, &size);
            if (peek < 0 || (peek && size > max_line))
                break;
            errno = 0;
            if ((ret = bcf_read(fp, hdr, rec)) != 0)
                break;
            if (errno == ENOMEM) /* a record htslib could not build whole */
                goto oom;
            r->records++;
            int32_t code = rec->rid >= 0 && rec->rid < c.n_rid ? c.rid_code[rec->rid] : -1;
            int64_t pos = (int64_t)rec->pos + 1;
            int wanted = code >= 0 && maybe_seen(&c, pos_key(code, pos)) &&
                         kh_get(vpos, c.pos_first, pos_key(code, pos)) != kh_end(c.pos_first);
            if (!wanted) { /* by ID, or a gVCF block */
                if (bcf_unpack(rec, BCF_UN_STR) < 0 || errno == ENOMEM)
                    goto oom;
                wanted = (kh_size(c.id_first) && rec->d.id &&
                          kh_get(vname, c.id_first, rec->d.id) != kh_end(c.id_first)) ||
                         (code >= 0 && is_block(rec));
            }
            if (wanted)
                use_record(&c, hdr, rec, code, r);
            if (c.oom)
                goto oom;
        }
        if (peek > 0 && size > max_line) {
            st = gr_error_set(err, GR_EINPUT, label, 0, NULL,
                              "record %zu is over the %zu-byte line limit (%" PRIu64 " bytes)",
                              r->records + 1, max_line, size);
            goto fail;
        }
        if (errno == ENOMEM && (peek < 0 || ret < 0)) /* neither status tells */
            goto oom;
        if (peek < 0 || ret < -1) {
            st = gr_error_set(err, GR_EINPUT, label, 0, NULL,
                              "read error after record %zu: truncated or corrupt BCF data",
                              r->records);
            goto fail;
        }
    }

    /* rule 8: variants no record mentions */
    size_t matched = 0, flipped = 0, swapped = 0, ambiguous = 0, multi = 0, by_id = 0;
    for (size_t f = 0; f < nf; f++) {
        if (c.kind[f] == KIND_NONE) {
            if (opt->absent == GR_ABSENT_REF)
                for (size_t s = 0; s < ns; s++)
                    r->dosage[s * nf + f] = 0;
            continue;
        }
        matched++;
        by_id += c.kind[f] == KIND_ID;
        flipped += !!(c.flags[f] & GR_MATCH_FLIPPED);
        swapped += !!(c.flags[f] & GR_MATCH_SWAPPED);
        ambiguous += !!(c.flags[f] & GR_MATCH_AMBIGUOUS);
        multi += !!(c.flags[f] & GR_MATCH_MULTI);
    }
    r->match = (gr_vcf_match){ matched, flipped, swapped, ambiguous, multi };
    char w[300];
    if (c.duplicates) {
        snprintf(w, sizeof w,
                 "%zu model variant%s matched by more than one record; the first record was used",
                 c.duplicates, c.duplicates == 1 ? " was" : "s were");
        if (!add_warning(r, w))
            goto oom;
    }
    size_t no_pos = 0, no_pos_found = 0;
    for (size_t f = 0; f < nf; f++)
        if (!m->features[f].chrom[0] || m->features[f].pos <= 0) {
            no_pos++;
            no_pos_found += c.kind[f] != KIND_NONE;
        }
    by_id -= no_pos_found; /* those have no position to be found elsewhere than */
    if (by_id) {
        snprintf(w, sizeof w, "%zu model variant%s matched by rsID at another position", by_id,
                 by_id == 1 ? "" : "s");
        if (!add_warning(r, w))
            goto oom;
    }
    if (no_pos) { /* a PGS row whose harmonization failed has an empty hm_chr */
        snprintf(w, sizeof w,
                 "%zu model variant%s no position (an empty hm_chr or chr_name in the scoring "
                 "file) and can be found only by rsID: %zu found",
                 no_pos, no_pos == 1 ? " has" : "s have", no_pos_found);
        if (!add_warning(r, w))
            goto oom;
    }
    if (opt->absent == GR_ABSENT_MISSING && c.calls && !c.homref_calls) {
        snprintf(w, sizeof w,
                 "the VCF holds no homozygous-reference calls; if it lists variant sites only, "
                 "absent=ref treats the variants it does not list as homozygous reference");
        if (!add_warning(r, w))
            goto oom;
    }
    *out = r;
    r = NULL;
    goto fail;
oom:
    st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
fail:
    if (!hf && fd >= 0)
        close(fd); /* the descriptor is consumed on every path */
    gr_vcf_result_free(r);
    free(line.s);
    if (rec)
        bcf_destroy(rec);
    if (hdr)
        bcf_hdr_destroy(hdr);
    if (fp)
        hts_close(fp);
    if (c.contigs) {
        for (khint_t k = kh_begin(c.contigs); k != kh_end(c.contigs); k++)
            if (kh_exist(c.contigs, k))
                free((char *)kh_key(c.contigs, k));
        kh_destroy(vname, c.contigs);
    }
    kh_destroy(vpos, c.pos_first);
    kh_destroy(vname, c.id_first);
    free(c.by_pos);
    free(c.seen_bits);
    free(c.by_id);
    free(c.kind);
    free(c.flags);
    free(c.gt);
    free(c.ds);
    free(c.end);
    free(c.rid_code);
    return st;
}
