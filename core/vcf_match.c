/* vcf_match.c - one VCF record to dosages, by the rules of
 * docs/vcf-matching.md: alleles (gr_match_alleles), duplicates, rsID
 * fallback, FILTER, gVCF reference blocks, DS or GT and ploidy; and the
 * genome build a header reveals (rule 9). */
#include <htslib/vcf.h>
#include <math.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "match.h"
#include "vcf_internal.h"

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

int gr_vcf_is_block(bcf1_t *rec)
{
    return rec->n_allele == 2 &&
           (!strcmp(rec->d.allele[1], "<NON_REF>") || !strcmp(rec->d.allele[1], "<*>"));
}

/* Notes rec as variant f's record: its number and, for a variant log, its
 * text. */
static void note_record(ctx *c, uint32_t f, const bcf_hdr_t *hdr, bcf1_t *rec)
{
    c->record[f] = c->seq;
    if (!c->record_text)
        return;
    kstring_t ks = { 0, 0, NULL };
    const char *chrom = bcf_hdr_id2name(hdr, rec->rid);
    int bad = ksprintf(&ks, "%s:%" PRId64, chrom ? chrom : ".", (int64_t)rec->pos + 1) < 0;
    for (int i = 0; i < rec->n_allele && !bad; i++)
        bad = kputc(i < 2 ? ':' : ',', &ks) < 0 || kputs(rec->d.allele[i], &ks) < 0;
    if (bad) {
        free(ks.s);
        c->oom = 1;
        return;
    }
    free(c->record_text[f]);
    c->record_text[f] = ks.s;
}

/* Why variant f is not matched by a record at its position whose alleles
 * (a < 0) are not its own, or that the policy excludes: the strongest
 * reason seen so far is kept (a match replaces any). */
static void note_miss(ctx *c, uint32_t f, gr_var_status why, uint8_t fl, const bcf_hdr_t *hdr,
                      bcf1_t *rec)
{
    if (c->kind[f] != KIND_NONE || c->status[f] >= why)
        return;
    c->status[f] = (uint8_t)why;
    c->flags[f] = fl;
    note_record(c, f, hdr, rec);
}

/* Matches rec against variant f by position (kind KIND_RECORD) or rsID
 * (KIND_ID) under the policy: returns the counted allele's index and sets
 * *fl, or -1 when it does not match or is excluded (noted as a miss). */
static int match_variant(ctx *c, uint32_t f, const bcf_hdr_t *hdr, bcf1_t *rec, uint8_t *fl)
{
    if (c->rules[f] & RULE_DROP_AMBIGUOUS) { /* pgsc_calc: whatever the record holds */
        note_miss(c, f, GR_VAR_AMBIGUOUS, 0, hdr, rec);
        return -1;
    }
    int a = gr_match_alleles(&c->feat[f], (const char *const *)rec->d.allele, rec->n_allele, fl);
    if (a < 0) {
        note_miss(c, f, GR_VAR_ALLELES_DIFFER, 0, hdr, rec);
        return -1;
    }
    if ((*fl & GR_MATCH_MULTI) && (c->rules[f] & RULE_DROP_MULTI)) {
        note_miss(c, f, GR_VAR_MULTIALLELIC, *fl, hdr, rec);
        return -1;
    }
    return a;
}

/* Handles one record already known to concern the model; sets c->oom when
 * an allocation fails. */
void gr_vcf_use_record(ctx *c, const bcf_hdr_t *hdr, bcf1_t *rec, int32_t code, gr_vcf_result *r)
{
    c->seq++;
    errno = 0; /* bcf_unpack goes on when its kputs fail: errno tells */
    if (bcf_unpack(rec, BCF_UN_ALL) < 0 || errno == ENOMEM) {
        c->oom = 1;
        return;
    }
    if (!c->opt->filter_any && !filter_pass(hdr, rec))
        return; /* rule 7 */
    int64_t pos = (int64_t)rec->pos + 1;
    int gtw = -1, dsw = 0, n_alt = rec->n_allele - 1, chr_x = code == 23;

    if (gr_vcf_is_block(rec)) { /* rule 8: gVCF reference block */
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
            if (c->rules[f] & RULE_DROP_AMBIGUOUS) {
                note_miss(c, f, GR_VAR_AMBIGUOUS, 0, hdr, rec);
                continue;
            }
            if (gtw < 0)
                gtw = load_calls(c, hdr, rec, &dsw);
            c->kind[f] = KIND_BLOCK;
            c->status[f] = GR_VAR_MATCHED;
            c->flags[f] = 0;
            note_record(c, f, hdr, rec);
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

    size_t first;
    if (gr_vcf_pos_find(c, pos_key(code, pos), &c->hint, &first)) {
        for (size_t i = first; i < c->n_pos && c->by_pos[i].key == pos_key(code, pos); i++) {
            uint32_t f = c->by_pos[i].feature;
            uint8_t fl = 0;
            int a = match_variant(c, f, hdr, rec, &fl);
            if (a < 0)
                continue;
            if (c->kind[f] == KIND_RECORD) { /* rule 5: the first record wins */
                c->duplicates += !(c->flags[f] & GR_MATCH_DUPLICATE);
                c->flags[f] |= GR_MATCH_DUPLICATE;
                continue;
            }
            if (gtw < 0)
                gtw = load_calls(c, hdr, rec, &dsw);
            c->kind[f] = KIND_RECORD;
            c->status[f] = GR_VAR_MATCHED;
            c->flags[f] = fl;
            note_record(c, f, hdr, rec);
            fill_feature(c, r, f, a, gtw, dsw, n_alt, chr_x);
        }
    }
    /* rule 4: by rsID, for variants no record has matched by position */
    const char *id = rec->d.id;
    if (!id || !strcmp(id, ".") || !kh_size(c->id_first))
        return;
    khint_t ki = id_find(c, id);
    if (ki == kh_end(c->id_first))
        return;
    for (size_t i = (size_t)kh_val(c->id_first, ki);
         i < c->n_id && c->by_id[i].key == c->by_id[kh_val(c->id_first, ki)].key &&
         !strcmp(c->feat[c->by_id[i].feature].rsid, id);
         i++) {
        uint32_t f = c->by_id[i].feature;
        if (c->kind[f] != KIND_NONE)
            continue;
        uint8_t fl = 0;
        int a = match_variant(c, f, hdr, rec, &fl);
        if (a < 0)
            continue;
        if (gtw < 0)
            gtw = load_calls(c, hdr, rec, &dsw);
        c->kind[f] = KIND_ID;
        c->status[f] = GR_VAR_MATCHED;
        c->flags[f] = fl;
        note_record(c, f, hdr, rec);
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

/* The build a ##contig's length identifies, or NULL; *chrom_out the
 * table's name of its chromosome. */
static const char *build_of_length(const char *id, const char *len, const char **chrom_out)
{
    char chrom[32];
    gr_chrom_normalize(id, chrom, sizeof chrom);
    for (size_t i = 0; i < sizeof build_lengths / sizeof *build_lengths; i++)
        if (!strcmp(chrom, build_lengths[i].chrom)) {
            *chrom_out = build_lengths[i].chrom;
            return !strcmp(len, build_lengths[i].grch37)   ? "GRCh37"
                   : !strcmp(len, build_lengths[i].grch38) ? "GRCh38"
                                                           : NULL;
        }
    return NULL;
}

/* Rule 9: what a ##reference line or a ##contig's assembly names, matched
 * in order. Errors quote the mark found, never the header's own bytes. */
static const struct {
    const char *mark, *build;
} reference_marks[] = { { "GRCh37", "GRCh37" }, { "hg19", "GRCh37" },    { "b37", "GRCh37" },
                        { "hs37", "GRCh37" },   { "g1k_v37", "GRCh37" }, { "GRCh38", "GRCh38" },
                        { "hg38", "GRCh38" },   { "hs38", "GRCh38" } },
  assembly_marks[] = {
      { "37", "GRCh37" }, { "hg19", "GRCh37" }, { "38", "GRCh38" }, { "hg38", "GRCh38" }
  };

static const char *mark_in(const char *v, int assembly, const char **mark)
{
    size_t n = assembly ? sizeof assembly_marks / sizeof *assembly_marks
                        : sizeof reference_marks / sizeof *reference_marks;
    for (size_t i = 0; i < n; i++) {
        const char *m = assembly ? assembly_marks[i].mark : reference_marks[i].mark;
        if (strstr(v, m)) {
            *mark = m;
            return assembly ? assembly_marks[i].build : reference_marks[i].build;
        }
    }
    return NULL;
}

/* Rule 9: the build the header reveals, or "". */
const char *gr_vcf_header_build(const bcf_hdr_t *hdr, char *why, size_t why_size)
{
    const char *mark, *build;
    for (int i = 0; i < hdr->nhrec; i++) {
        const bcf_hrec_t *h = hdr->hrec[i];
        if (!strcmp(h->key, "reference") && h->value && (build = mark_in(h->value, 0, &mark))) {
            snprintf(why, why_size, "its ##reference line names %s", mark);
            return build;
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
        if (asm_ && (build = mark_in(asm_, 1, &mark))) {
            snprintf(why, why_size, "a ##contig's assembly names %s", mark);
            return build;
        }
        const char *chrom = NULL;
        if (id && len && (build = build_of_length(id, len, &chrom))) {
            snprintf(why, why_size, "its ##contig of chromosome %s is %s bases long", chrom, len);
            return build;
        }
    }
    return "";
}
