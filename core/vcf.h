/* vcf.h - reading genotypes for a model out of a VCF or BCF file (plain,
 * gzip or BGZF), by the matching rules of docs/vcf-matching.md: chromosome
 * names normalised, alleles matched as-is, swapped or strand-flipped,
 * multi-allelic records by allele index, rsID fallback, FILTER, gVCF
 * reference blocks, absent=missing|ref, and a genome-build check.
 * Streaming: memory is the dosage matrix (2 bytes per sample and feature)
 * plus one record, whatever the file size. */
#ifndef GR_VCF_H
#define GR_VCF_H

#include <stddef.h>
#include <stdint.h>

#include "match.h"
#include "model.h"

typedef enum { GR_ABSENT_MISSING, GR_ABSENT_REF } gr_absent;
typedef enum { GR_GENO_AUTO, GR_GENO_GT, GR_GENO_DS } gr_geno_source;

typedef struct {
    gr_absent absent;
    gr_geno_source genotype;
    int filter_any;             /* 1: also use records failing FILTER */
    const char *const *samples; /* samples to read, NULL for every one (borrowed) */
    size_t n_samples;
    int threads;             /* workers that inflate and scan text VCF (vcf_body.c), 0 to
                                  * do it all on the caller; BCF is read on the caller */
    size_t max_line;         /* longest record accepted, bytes; 0 = 64 MiB */
    size_t max_header;       /* largest header accepted, bytes; 0 = no limit and no
                                  * look at the header before htslib's (then the input
                                  * need not be seekable): its IDX attributes and names
                                  * built to collide in htslib's hash tables go unchecked */
    size_t max_dosage_bytes; /* most bytes of dosages: 2 per sample read and variant of
                              * every model; 0 = no limit. Checked with max_samples */
    size_t max_samples;      /* most samples read (those selected, else the file's);
                                  * 0 = no limit. Checked after the header, before any
                                  * memory is sized by the sample count. */
    int (*stop)(void *arg);  /* optional: asked between batches of about 1 MiB of text
                             * and every 1,024 BCF records; non-zero ends the read
                             * with GR_EIO, "stopped" */
    void *stop_arg;
    int keep_records; /* 1: note each variant's record as CHROM:POS:REF:ALT
                       * (gr_vcf_result.record_text), for a variant log */
    int use_index;    /* 1: when path (not fd) is a BGZF VCF with a .csi or .tbi index, or
                    * a BCF with a .csi, read only the model's regions (vcf_region.c);
                    * the file is streamed when the score is dense, a variant has no
                    * position, or the index is missing, older than the file or
                    * unreadable. 0: always stream (uploads, --no-index) */
} gr_vcf_options;

/* One model of a read and the matching policy it is read under (both
 * borrowed). */
typedef struct {
    const gr_model *m;
    const gr_policy *policy;
} gr_vcf_model;

/* How one model variant fared (gr_vcf_result.status), as pgsc_calc's match
 * log has it: matched, excluded by the policy, or unmatched and why. */
typedef enum {
    GR_VAR_NO_RECORD,      /* no record at its position, nor with its rsID */
    GR_VAR_ALLELES_DIFFER, /* records at its position, none with its alleles */
    GR_VAR_NO_POSITION,    /* no position in the model, no record with its rsID */
    GR_VAR_CHRX_SKIPPED,   /* on chrX, under chrx=skip: not looked for */
    GR_VAR_AMBIGUOUS,      /* excluded: an A/T or C/G SNV under ambiguous=drop */
    GR_VAR_MULTIALLELIC,   /* excluded: found only in records with several ALTs,
                            * under multiallelic=drop */
    GR_VAR_MATCHED         /* by position, rsID or reference block (how: flags) */
} gr_var_status;

/* "no_record", "alleles_differ", "no_position", "chrx_skipped", "ambiguous",
 * "multiallelic", "matched". */
const char *gr_var_status_name(gr_var_status s);

/* How the model's variants were found in the file, the same for every
 * sample (gr_match_counts). Per-sample counts (observed, imputed, missing)
 * follow from the dosages and the impute rule, in the predict pipeline. */
typedef gr_match_counts gr_vcf_match;

/* Dosages are kept in steps of 1/16384 (as plink2 does) in 16 bits. */
#define GR_VCF_DOSAGE_SCALE 16384.0
#define GR_VCF_MISSING 0xFFFFu

typedef struct {
    size_t n_samples, n_features;
    char **sample_ids; /* VCF order */
    uint16_t *dosage;  /* n_samples x n_features, GR_VCF_MISSING when missing */
    gr_vcf_match match;
    char **warnings; /* never hold genotypes or sample ids */
    size_t n_warnings;
    const char *build; /* "GRCh37", "GRCh38" or "" when the header does not say */
    size_t records;    /* records read (with an index: those of the regions read) */
    int indexed;       /* 1 when only the model's regions were read, through the index */
    /* per variant, all models' in a row (model k's from model_first[k]): */
    uint8_t *status;    /* gr_var_status */
    uint8_t *flags;     /* GR_MATCH_* of the match, or of the record that excluded it */
    uint8_t *how;       /* GR_VAR_MATCHED: 1 by position, 2 by rsID, 3 by a reference block */
    uint64_t *record;   /* the record used, numbered from 1 (0: none): equal numbers
                         * are one record, whichever models use it */
    char **record_text; /* CHROM:POS:REF:ALT of the record matched or that
                         * excluded it, NULL when none (keep_records only, else NULL) */
    size_t n_models;
    size_t *model_first; /* n_models + 1 offsets into the variants */
} gr_vcf_result;

/* A model's variants counted by how they fared (gr_vcf_model_report). */
typedef struct {
    size_t variants, matched, flipped, swapped, ambiguous_matched, multiallelic_matched, duplicate;
    size_t status[GR_VAR_MATCHED + 1]; /* by gr_var_status */
} gr_vcf_report;

/* Counts model k's variants of r into out. */
void gr_vcf_model_report(const gr_vcf_result *r, size_t k, gr_vcf_report *out);

/* Reads the VCF/BCF at path (or from the open descriptor fd when fd >= 0;
 * path then only names it in errors; the descriptor is consumed) for model
 * m. On success *out is new (gr_vcf_result_free). Errors are GR_EINPUT with
 * the record's line in err->line where it applies (an unknown sample, no
 * samples, a genome build other than the model's, a malformed record, a
 * line over max_line, a header over max_header), GR_ELIMIT for more samples
 * than max_samples (err->field "sample"), GR_EIO when the data cannot
 * be read or decompressed. */
gr_status gr_vcf_read(const gr_model *m, const char *path, int fd, const gr_vcf_options *opt,
                      gr_vcf_result **out, gr_error *err);
/* The same for n models at once (a panel), in one pass over the file, each
 * under its own policy; the models must share a genome build. r->match
 * then counts every model's variants together. gr_vcf_read reads one model
 * under its manifest's policy. */
gr_status gr_vcf_read_models(const gr_vcf_model *ms, size_t n, const char *path, int fd,
                             const gr_vcf_options *opt, gr_vcf_result **out, gr_error *err);
void gr_vcf_result_free(gr_vcf_result *r);

/* Writes sample s's dosages as doubles (NaN for missing) into x: every
 * variant of the read (gr_vcf_read), or model k's (gr_vcf_model_dosages). */
void gr_vcf_sample_dosages(const gr_vcf_result *r, size_t s, double *x);
void gr_vcf_model_dosages(const gr_vcf_result *r, size_t k, size_t s, double *x);

#endif
