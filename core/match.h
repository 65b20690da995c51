/* match.h - the allele rules of docs/vcf-matching.md (rules 2, 3 and 6) in
 * one place, for VCF records and JSON genotypes alike: which allele of a
 * record or a genotype key is a feature's counted allele (as written,
 * swapped, or on the other strand), and how many copies of it a called
 * genotype holds. */
#ifndef GR_MATCH_H
#define GR_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* How alleles matched a feature's. */
enum {
    GR_MATCH_FLIPPED = 1,   /* on the other strand */
    GR_MATCH_SWAPPED = 2,   /* the counted allele is the record's (or key's) REF */
    GR_MATCH_AMBIGUOUS = 4, /* an A/T or C/G SNV: read on the model's strand */
    GR_MATCH_MULTI = 8,     /* a record with several ALTs */
    GR_MATCH_DUPLICATE = 16 /* more than one record matched; the first was used */
};

/* The index in al[0 .. n) (al[0] the REF, the rest ALTs; borrowed) of
 * feature f's counted allele: 0 when swapped; n when the record has no ALT
 * and its REF is f's other allele (its calls then hold no counted allele);
 * -1 when the alleles are not f's. *flags gets GR_MATCH_* bits. Strand
 * flips are tried only for SNVs whose both alleles are known and are not
 * A/T or C/G. Case is ignored. */
int gr_match_alleles(const gr_feature *f, const char *const *al, int n, uint8_t *flags);

/* How a sample's (or a file's) variants were found: matched, and of those
 * how many on the other strand, with the counted allele as REF, strand-
 * ambiguous (A/T, C/G) or in a multi-allelic record. */
typedef struct {
    size_t matched, flipped, swapped, ambiguous, multiallelic;
} gr_match_counts;

/* The matching policy (gr_policy, model.h). */
/* The named set (name < GR_POLICY_CUSTOM). */
gr_policy gr_policy_named(gr_policy_name name);
/* "pgsc", "plink2", "trained", "custom". */
const char *gr_policy_name_str(gr_policy_name name);
/* Sets one rule of p from a word, as a manifest key, query parameter or CLI
 * flag gives it: key "policy" (pgsc|plink2|trained: the whole set),
 * "ambiguous" (drop|keep), "multiallelic" (drop|keep), "chrx"
 * (skip|double). Returns 1 when set, 0 when value is not one of key's
 * words (the choices in why), -1 when key is none of these. */
int gr_policy_set(gr_policy *p, const char *key, const char *value, char *why, size_t why_size);

/* 1 when the policy leaves feature f out whatever the input holds: an
 * ambiguous SNV under drop_ambiguous (gr_policy_drops_ambiguous), a chrX
 * variant under chrx=skip (gr_policy_skips, not even looked for). */
int gr_policy_excludes(const gr_policy *p, const gr_feature *f);
int gr_policy_drops_ambiguous(const gr_policy *p, const gr_feature *f);
int gr_policy_skips(const gr_policy *p, const gr_feature *f);

/* 1 for an SNV whose two alleles are each other's complement (A/T, C/G):
 * the same on both strands, so never flipped, and read on the model's. */
int gr_feature_ambiguous(const gr_feature *f);

/* A JSON genotype key resolved for a model (docs/predict-json.md). */
typedef struct {
    long feature;  /* its index; -1 when no feature, -2 when several */
    int spelled;   /* 1: a chrom:pos:ref:alt key matched by its alleles, whose
                    * REF and ALT then orient "0/1" strings and numbers */
    int counted;   /* spelled: 1 when the counted allele is the key's ALT, 0 its REF */
    uint8_t flags; /* spelled: GR_MATCH_* */
} gr_key;

/* Resolves key for m: a feature_id, an rsID, or chrom:pos:ref:alt matched
 * like a VCF record (either allele order, the other strand). */
void gr_model_match_key(const gr_model *m, const char *key, gr_key *out);

/* A JSON number d under key k as a dosage of the counted allele: d, or
 * 2 - d when the key spells the counted allele as its REF. */
double gr_key_dosage(const gr_key *k, double d);

/* The dosage of the counted allele in a genotype string given under key k
 * (k->feature >= 0): a call of allele indices ("0/1", "1|1") under a key
 * that spells REF and ALT, or of a model whose features' ref and alt are the
 * genome's (gr_model_info.alleles_are_ref_alt); allele letters ("A/G",
 * "G|G", "AG", "G"), matched with the VCF rules; or a missing call (".",
 * "./.", "--"), NaN. A haploid call on chrX counts double. *flags gets
 * GR_MATCH_FLIPPED when letters matched on the other strand. Returns 1, or
 * 0 with the reason in why (never quoting the string). */
int gr_genotype_string(const gr_model *m, const gr_key *k, const char *s, double *dosage,
                       uint8_t *flags, char *why, size_t why_size);

#endif
