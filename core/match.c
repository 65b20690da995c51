/* match.c - see match.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "match.h"

static char complement(char b)
{
    switch (b & ~32) { /* VCF bases may be lower case */
    case 'A': return 'T';
    case 'T': return 'A';
    case 'C': return 'G';
    case 'G': return 'C';
    }
    return 0;
}

static int is_base(const char *s)
{
    return s[0] && !s[1] && complement(s[0]);
}

int gr_match_alleles(const gr_feature *f, const char *const *al, int n, uint8_t *flags)
{
    const char *R = f->ref, *A = f->alt;
    uint8_t multi = n > 2 ? GR_MATCH_MULTI : 0;
    *flags = 0;
    if (n < 1 || !al)
        return -1; /* no REF at all (a BCF record may hold none) */
    if (n == 1 || (n == 2 && !strcmp(al[1], "."))) {
        /* a site with no ALT (all-sites VCFs): its calls are reference */
        if (R[0] && !strcasecmp(R, al[0]))
            return n; /* an index no call holds: the counted allele is absent */
        if (!strcasecmp(A, al[0])) {
            *flags = GR_MATCH_SWAPPED;
            return 0;
        }
        return -1;
    }
    int snv = is_base(A) && (is_base(R) || !R[0]);
    int ambiguous = snv && R[0] && complement(R[0]) == A[0];
    uint8_t amb = ambiguous ? GR_MATCH_AMBIGUOUS : 0;
    /* as-is, then swapped: exact allele strings */
    for (int i = 1; i < n; i++)
        if (!strcasecmp(A, al[i]) && (!R[0] || !strcasecmp(R, al[0]))) {
            *flags = multi | amb;
            return i;
        }
    if (!strcasecmp(A, al[0])) {
        for (int i = 1; i < n; i++)
            if (!R[0] || !strcasecmp(R, al[i])) {
                *flags = multi | GR_MATCH_SWAPPED | amb;
                return 0;
            }
    }
    /* strand complement, only for SNVs whose both alleles are known and not
     * A/T or C/G (those look the same on both strands) */
    if (!snv || !R[0] || ambiguous || !is_base(al[0]))
        return -1;
    char cR = complement(R[0]), cA = complement(A[0]);
    char ref0 = (char)(al[0][0] & ~32);
    for (int i = 1; i < n; i++)
        if (is_base(al[i]) && (al[i][0] & ~32) == cA && ref0 == cR) {
            *flags = multi | GR_MATCH_FLIPPED;
            return i;
        }
    for (int i = 1; i < n; i++)
        if (is_base(al[i]) && ref0 == cA && (al[i][0] & ~32) == cR) {
            *flags = multi | GR_MATCH_FLIPPED | GR_MATCH_SWAPPED;
            return 0;
        }
    return -1;
}

/* ---- JSON genotype keys ---- */

/* 1 when s is a non-empty run of A, C, G, T, N in any case. */
static int is_bases(const char *s, size_t n)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ACGTNacgtn", s[i]))
            return 0;
    return 1;
}

/* Splits "chrom:pos:ref:alt" into a normalised chromosome, the position and
 * upper-case alleles (ref may be empty). 0 when key is not of that form. */
static int parse_locus(const char *key, char *chrom, size_t chrom_size, int64_t *pos, char *ref,
                       char *alt, size_t allele_size)
{
    const char *c1 = strchr(key, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL,
               *c3 = c2 ? strchr(c2 + 1, ':') : NULL;
    if (!c3 || strchr(c3 + 1, ':') || (size_t)(c1 - key) >= 32 || c2 - c1 < 2)
        return 0;
    size_t nr = (size_t)(c3 - c2 - 1), na = strlen(c3 + 1);
    if (nr >= allele_size || na >= allele_size || (nr && !is_bases(c2 + 1, nr)) ||
        !is_bases(c3 + 1, na))
        return 0;
    int64_t p = 0;
    for (const char *q = c1 + 1; q < c2; q++) {
        if (*q < '0' || *q > '9' || p > INT64_MAX / 10 - 10)
            return 0;
        p = p * 10 + (*q - '0');
    }
    if (p <= 0)
        return 0;
    char raw[32];
    memcpy(raw, key, (size_t)(c1 - key));
    raw[c1 - key] = '\0';
    gr_chrom_normalize(raw, chrom, chrom_size);
    for (size_t i = 0; i < nr; i++)
        ref[i] = (char)(c2[1 + i] & ~32);
    ref[nr] = '\0';
    for (size_t i = 0; i < na; i++)
        alt[i] = (char)(c3[1 + i] & ~32);
    alt[na] = '\0';
    *pos = p;
    return 1;
}

/* The feature the index holds under chrom:pos:a:b when its alleles match
 * the key's al (REF, ALT): sets *k and returns 1 (also for an ambiguous
 * entry, -2); 0 when the entry is missing or names another variant. */
static int try_locus(const gr_model *m, const char *chrom, int64_t pos, const char *a,
                     const char *b, const char *const *al, gr_key *k)
{
    char buf[600];
    gr_locus_key(buf, chrom, pos, a, b);
    long i = gr_model_index_get(m, buf);
    if (i == -2) {
        k->feature = -2;
        return 1;
    }
    if (i < 0)
        return 0;
    uint8_t flags;
    int at = gr_match_alleles(&m->features[i], al, 2, &flags);
    if (at != 0 && at != 1)
        return 0;
    *k = (gr_key){ i, 1, at, flags };
    return 1;
}

void gr_model_match_key(const gr_model *m, const char *key, gr_key *out)
{
    char chrom[32], ref[256], alt[256];
    int64_t pos;
    *out = (gr_key){ gr_model_index_get(m, key), 0, 1, 0 };
    if (strlen(key) > 600 || !parse_locus(key, chrom, sizeof chrom, &pos, ref, alt, sizeof ref))
        return; /* an id or rsID, or nothing */
    /* a locus whose REF is spelled is matched as a record would be: as
     * written, swapped, on the other strand; one whose REF is unknown (as
     * a PGS may leave it) by its ALT */
    const char *al[2] = { ref, alt };
    char cref[256] = "", calt[256] = "";
    if (is_base(ref) && is_base(alt)) {
        cref[0] = complement(ref[0]);
        calt[0] = complement(alt[0]);
    }
    gr_key k;
    if (ref[0] &&
        (try_locus(m, chrom, pos, ref, alt, al, &k) || try_locus(m, chrom, pos, alt, ref, al, &k) ||
         (cref[0] && (try_locus(m, chrom, pos, cref, calt, al, &k) ||
                      try_locus(m, chrom, pos, calt, cref, al, &k))) ||
         try_locus(m, chrom, pos, "", alt, al, &k) || try_locus(m, chrom, pos, "", ref, al, &k))) {
        /* a key that is a feature's own id names that feature, even when
         * it reads as the locus of another (found by fuzzing: id
         * "1:123:G:A" on a feature whose alleles are G/ACGTA) */
        if (out->feature < 0 || k.feature == out->feature ||
            strcmp(gr_model_feature(m, (size_t)out->feature)->id, key))
            *out = k;
        return;
    }
    if (out->feature == -1) { /* the key in any case, as features are stored */
        char canon[620];
        gr_locus_key(canon, chrom, pos, ref, alt);
        out->feature = gr_model_index_get(m, canon);
    }
}

long gr_model_find_feature(const gr_model *m, const char *key)
{
    gr_key k;
    gr_model_match_key(m, key, &k);
    return k.feature;
}

double gr_key_dosage(const gr_key *k, double d)
{
    return k->spelled && !k->counted ? 2 - d : d;
}

/* ---- genotype strings ---- */

#define MAX_CALL 2

/* Splits s into at most MAX_CALL alleles at '/' or '|' (or, with no
 * separator, "AG" into two single bases) into parts (pointers into buf).
 * Returns the count, 0 when s is not a call of one or two alleles. */
static int split_call(const char *s, char *buf, size_t size, char **parts)
{
    size_t n = strlen(s);
    if (!n || n >= size)
        return 0;
    memcpy(buf, s, n + 1);
    if (!strpbrk(buf, "/|")) {
        if (n == 2 && is_bases(buf, 2) && size >= 4) { /* "AG", as genotyping arrays write them */
            buf[2] = buf[1];
            buf[3] = '\0';
            buf[1] = '\0';
            parts[0] = buf;
            parts[1] = buf + 2;
            return 2;
        }
        parts[0] = buf;
        return 1;
    }
    char *sep = strpbrk(buf, "/|");
    *sep = '\0';
    parts[0] = buf;
    parts[1] = sep + 1;
    return strpbrk(parts[1], "/|") || !parts[0][0] || !parts[1][0] ? 0 : 2;
}

/* 1 when every part is a run of digits or ".". */
static int is_index_call(char **parts, int n)
{
    for (int i = 0; i < n; i++) {
        const char *p = parts[i];
        if (!strcmp(p, "."))
            continue;
        for (; *p; p++)
            if (*p < '0' || *p > '9')
                return 0;
    }
    return 1;
}

/* Copies of the counted allele among allele letters, matched as written or
 * else all on the other strand; -1 when a letter is not the feature's. */
static int count_letters(const gr_feature *f, char **parts, int n, uint8_t *flags)
{
    int count = 0;
    for (int strand = 0; strand < 2; strand++) {
        int ok = 1;
        count = 0;
        for (int i = 0; i < n && ok; i++) {
            char one[2] = { 0, 0 };
            const char *al = parts[i];
            if (strand) { /* only single bases of SNVs that are not A/T or C/G */
                if (!is_base(al) || !is_base(f->alt) || !is_base(f->ref) ||
                    complement(f->ref[0]) == f->alt[0])
                    return -1;
                one[0] = complement(al[0]);
                al = one;
            }
            if (!strcasecmp(al, f->alt))
                count++;
            else if (f->ref[0] && strcasecmp(al, f->ref))
                ok = 0; /* with no known other allele, any other letters are it */
        }
        if (ok) {
            *flags = strand ? GR_MATCH_FLIPPED : 0;
            return count;
        }
    }
    return -1;
}

int gr_feature_ambiguous(const gr_feature *f)
{
    return is_base(f->alt) && is_base(f->ref) && complement(f->ref[0]) == (f->alt[0] & ~32);
}

int gr_genotype_string(const gr_model *m, const gr_key *k, const char *s, double *dosage,
                       uint8_t *flags, char *why, size_t why_size)
{
    const gr_feature *f = &m->features[k->feature];
    int chr_x = !strcmp(f->chrom, "X");
    char buf[64], *parts[MAX_CALL];
    *flags = 0;
    int n = split_call(s, buf, sizeof buf, parts);
    if (n && (!strcmp(s, "--") || !strcmp(parts[0], ".") || (n == 2 && !strcmp(parts[1], ".")))) {
        *dosage = NAN; /* one missing allele makes the call missing, as in a VCF */
        return 1;
    }
    if (n && is_index_call(parts, n)) {
        if (n == 1) {
            snprintf(why, why_size,
                     "a number in a string is ambiguous (a dosage, or a haploid call?): send a "
                     "dosage as a JSON number, a call as \"0/1\", or allele letters");
            return 0;
        }
        int counted = k->spelled ? k->counted : 1;
        if (!k->spelled && !m->info.alleles_are_ref_alt) {
            snprintf(why, why_size,
                     "a call like \"0/1\" counts the VCF's REF and ALT, which this model's "
                     "variant does not name (a PGS effect allele may be either): use the key "
                     "chrom:pos:REF:ALT as in the VCF, allele letters such as \"A/G\", or the "
                     "effect allele's dosage as a number");
            return 0;
        }
        int count = 0;
        for (int i = 0; i < n; i++) {
            if (strcmp(parts[i], "0") && strcmp(parts[i], "1")) {
                snprintf(why, why_size,
                         "a call of allele indices may only hold 0 (REF), 1 (ALT) or . (missing)");
                return 0;
            }
            count += parts[i][0] - '0' == counted;
        }
        *dosage = gr_call_dosage(count, n, chr_x);
        return 1;
    }
    for (int i = 0; i < n; i++)
        if (!is_bases(parts[i], strlen(parts[i])))
            n = 0;
    int count = n ? count_letters(f, parts, n, flags) : -1;
    if (count < 0) {
        snprintf(why, why_size,
                 n ? "the alleles are not this variant's (%.40s/%.40s, on either strand)"
                   : "expected a dosage from 0 to 2, a call such as \"0/1\", allele letters such "
                     "as \"A/G\" or \"AG\", or null",
                 f->ref[0] ? f->ref : "?", f->alt);
        return 0;
    }
    *dosage = gr_call_dosage(count, n, chr_x);
    return 1;
}

/* ---- the matching policy ---- */

gr_policy gr_policy_named(gr_policy_name name)
{
    switch (name) {
    case GR_POLICY_PGSC: return (gr_policy){ name, 1, 1, GR_CHRX_SKIP, 1, GR_IMPUTE_COHORT };
    case GR_POLICY_PLINK2: return (gr_policy){ name, 0, 0, GR_CHRX_DOUBLE, 1, GR_IMPUTE_COHORT };
    default: return (gr_policy){ GR_POLICY_TRAINED, 0, 0, GR_CHRX_DOUBLE, 0, -1 };
    }
}

const char *gr_policy_name_str(gr_policy_name name)
{
    static const char *const names[] = { "pgsc", "plink2", "trained", "custom" };
    return name <= GR_POLICY_CUSTOM ? names[name] : "";
}

/* Parses one of two words into *flag (first word: 1). */
static int word2(const char *v, const char *one, const char *zero, int *flag)
{
    if (v && !strcmp(v, one))
        *flag = 1;
    else if (v && !strcmp(v, zero))
        *flag = 0;
    else
        return 0;
    return 1;
}

int gr_policy_set(gr_policy *p, const char *key, const char *value, char *why, size_t why_size)
{
    int flag = 0;
    if (!strcmp(key, "policy")) {
        for (int n = GR_POLICY_PGSC; n < GR_POLICY_CUSTOM; n++)
            if (value && !strcmp(value, gr_policy_name_str((gr_policy_name)n))) {
                *p = gr_policy_named((gr_policy_name)n);
                return 1;
            }
        snprintf(why, why_size,
                 "policy must be pgsc (pgsc_calc's rules), plink2 (plink2 --score's) or "
                 "trained (as a model trained on genotype matrices)");
        return 0;
    }
    int *dst = !strcmp(key, "ambiguous")      ? &p->drop_ambiguous
               : !strcmp(key, "multiallelic") ? &p->drop_multiallelic
                                              : NULL;
    if (dst) {
        if (!word2(value, "drop", "keep", &flag)) {
            snprintf(why, why_size, "%s must be drop or keep", key);
            return 0;
        }
    } else if (!strcmp(key, "chrx")) {
        if (!word2(value, "skip", "double", &flag)) {
            snprintf(why, why_size,
                     "chrx must be skip (chrX variants are not scored) or double (a haploid "
                     "call counts two copies, as plink2 counts males)");
            return 0;
        }
        p->chrx = flag ? GR_CHRX_SKIP : GR_CHRX_DOUBLE;
    } else {
        return -1;
    }
    if (dst)
        *dst = flag;
    p->name = GR_POLICY_CUSTOM;
    return 1;
}

int gr_policy_drops_ambiguous(const gr_policy *p, const gr_feature *f)
{
    return p->drop_ambiguous && gr_feature_ambiguous(f);
}

int gr_policy_skips(const gr_policy *p, const gr_feature *f)
{
    return p->chrx == GR_CHRX_SKIP && f->chrom[0] == 'X' && !f->chrom[1]; /* normalised */
}

int gr_policy_excludes(const gr_policy *p, const gr_feature *f)
{
    return gr_policy_drops_ambiguous(p, f) || gr_policy_skips(p, f);
}
