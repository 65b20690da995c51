/* predict_run.h - the one predict pipeline. Every front end (the daemon's
 * JSON and VCF routes, the CLI, the allocation-failure sweep, the fuzzers)
 * turns its input into a gr_api_job and writes the response with
 * gr_api_write_begin, the samples' results (gr_api_predict_range, on as many
 * threads as it likes) and gr_api_write_end, or all three at once with
 * gr_api_predict_write. The rules that decide a sample's answer live here
 * and in core, once: which settings win (request body, query or flag,
 * manifest), imputation, the coverage gate, what a result holds.
 *
 * Results name genotype keys and counts, never genotype values; a sample id
 * appears only as the "sample" label of its own result. */
#ifndef GR_API_PREDICT_RUN_H
#define GR_API_PREDICT_RUN_H

#include <jansson.h>

#include "api/buffer.h"
#include "api/predict_json.h"
#include "core/model.h"
#include "core/vcf.h"

/* What an explanation's attributions are also summed by (group_by): nothing,
 * each feature's locus (features.tsv's locus, a PGS scoring file's
 * locus_name) or its gene (features.tsv's gene). */
typedef enum { GR_API_GROUP_NONE, GR_API_GROUP_LOCUS, GR_API_GROUP_GENE } gr_api_group_by;

/* How a request is answered. In a gr_api_settings given by a caller, -1 in
 * a field means "not given here". */
typedef struct {
    int explain;                       /* attributions or not (default 1) */
    long top_k;                        /* attributions per sample, 0 = all (default 10) */
    int impute;                        /* a gr_impute (default: the policy's, else the model's) */
    int allow_low_coverage;            /* score samples below min_coverage (default 0) */
    int policy;                        /* a gr_policy_name, the whole set (default: the model's) */
    int ambiguous, multiallelic, chrx; /* one rule each: 1 drop (chrx: skip), 0 keep
                                        * (double); they win over policy */
    double min_overlap;                /* NaN: the model's min_coverage */
    int group_by;                      /* a gr_api_group_by (default none) */
} gr_api_settings;

/* Every field -1 (min_overlap NaN): nothing given. */
gr_api_settings gr_api_settings_unset(void);

/* A request's samples and its settings. All pointers are borrowed and must
 * outlive the job; exactly one of json and vcf is set. */
typedef struct gr_api_job gr_api_job;
struct gr_api_job {
    const gr_model *m;
    const gr_api_request *json; /* parsed JSON request, or */
    const gr_vcf_result *vcf;   /* a VCF read for m */
    gr_api_settings set;        /* resolved: no -1 left */
    gr_policy policy;           /* resolved: the model's, then the settings' */
    double min_coverage;        /* the gate: min_overlap given, else the model's */
    size_t vcf_model;           /* which model of vcf this job scores (0 unless the read
                                 * was a panel's: gr_api_job_set_vcf_model) */
    gr_match_counts vcf_counts; /* how that model's variants were found */
    int (*stop)(void *arg);     /* optional: asked between samples; non-zero stops */
    void *stop_arg;
    size_t lo, hi;                    /* gr_api_predict_range's window; 0, 0: every sample */
    size_t max_bytes;                 /* the response's ceiling, 0: none (see gr_api_write_begin) */
    const struct gr_api_scorer *like; /* optional (borrowed): a scorer of this job whose
                                       * imputation values every range reuses instead of
                                       * reading every sample again (impute=cohort) */
    const gr_api_job *place;          /* optional: the job of the model's reference's variant set
                              * over the same source, which places each sample among
                              * the reference (predict_place.h); NULL: not placed */
    const char *place_why;            /* when place is NULL for a model with a reference: why */
    int pretty;                       /* gr_api_predict_range lays results out for an indented
                 * document (gr_api_write_begin's pretty), else a compact one */
};

/* Fills job for m and one source. Settings are taken from `given` (query
 * parameters or CLI flags; NULL for none), then the JSON body's explain and
 * top_k, then the defaults; top_k is capped at the feature count. The
 * policy is the model's, replaced by a given set, then changed by the
 * given rules; impute is the given one, else the given set's, else the
 * model's. */
void gr_api_job_init(gr_api_job *job, const gr_model *m, const gr_api_request *json,
                     const gr_vcf_result *vcf, const gr_api_settings *given);

/* A PGS sample's numbers as plink2 --score writes them: SUM, ALLELE_CT (2
 * per variant observed), DENOM (2 per variant observed or imputed),
 * NAMED_ALLELE_DOSAGE_SUM (effect-allele dosages observed) and AVG =
 * SUM / DENOM (NaN when DENOM is 0). */
typedef struct {
    double sum, avg, named_dosage_sum;
    size_t allele_ct, denom;
} gr_api_pgs;

/* The numbers of prediction p over dosages x as given and used as
 * evaluated (nf values each, NaN missing), counting only the features once
 * marks (all when NULL): a VCF record two rows of one score use counts once. */
void gr_api_pgs_numbers(const gr_prediction *p, const double *x, const double *used,
                        const uint8_t *once, size_t nf, gr_api_pgs *out);

/* The record variant f of r shares with other variants, for counting a
 * record once in ALLELE_CT and DENOM: its record's number when matched by a
 * record (position or rsID), else 0 (a variant counted on its own: a
 * reference block covers many, unmatched variants have none). */
uint64_t gr_api_shared_record(const gr_vcf_result *r, size_t f);

/* Makes job score model k of its VCF read (a panel's), after
 * gr_api_job_init. */
void gr_api_job_set_vcf_model(gr_api_job *job, size_t k);

/* One sample at a time, for writers other than the JSON one: new, or NULL
 * when out of memory; one per thread. like (NULL allowed; borrowed) is a
 * scorer of the same job whose imputation values are taken rather than
 * computed again (impute=cohort reads every sample for them). */
typedef struct gr_api_scorer gr_api_scorer;
gr_api_scorer *gr_api_scorer_new(const gr_api_job *job, const gr_api_scorer *like);
void gr_api_scorer_free(gr_api_scorer *s);
/* Predicts sample i into p (no attributions); *x gets its dosages as
 * given, *used as evaluated (imputed, or NaN), both borrowed until the
 * next call; *scored 0 when the sample is under the coverage gate and may
 * not be scored. */
gr_status gr_api_scorer_run(gr_api_scorer *s, size_t i, gr_prediction *p, const double **x,
                            const double **used, int *scored, gr_error *err);

/* The PGS numbers of the sample gr_api_scorer_run just predicted (p, x
 * from it), each VCF record counted once per model. */
void gr_api_scorer_pgs(const gr_api_scorer *s, const gr_prediction *p, const double *x,
                       gr_api_pgs *out);

/* Samples in the job's source. */
size_t gr_api_job_samples(const gr_api_job *job);

/* Predicts samples lo + first, lo + first + step, ... below hi (the job's
 * window; hi 0 means every sample) into results[i]: the result's JSON
 * text, appended (results has gr_api_job_samples slots, empty on entry;
 * their memory is the caller's), laid out for a document as job->pretty
 * says. A slot left empty is a sample not done.
 * Threads may each run a range over one job with their own first.
 * A sample below the model's min_coverage (and allow_low_coverage not set)
 * gets a result holding an "error" problem object and no score; whether the
 * request may be answered at all (its one sample, or every sample, below
 * it) is gr_api_write_begin's decision, made first. When stop says so, the
 * samples not yet done stay empty and
 * GR_OK is returned. Other errors name the sample in err->field. */
gr_status gr_api_predict_range(const gr_api_job *job, size_t first, size_t step, gr_buf *results,
                               gr_error *err);

/* Several requests' samples predicted together (the daemon's dynamic
 * batching): the first sample of each of jobs[0..n) (borrowed; one model,
 * 1 <= n <= GR_BATCH_MAX), as gr_api_predict_range would predict it alone,
 * the same bits, with each job's own settings and policy. Job k's result
 * is appended to results[k] (the caller's buffers, laid out as
 * job->pretty says), with st[k] GR_OK; else st[k] and errs[k] (when errs
 * is non-NULL) say why. Returns the number of jobs that got a result. */
size_t gr_api_predict_jobs(const gr_api_job *const *jobs, size_t n, gr_buf *results, gr_status *st,
                           gr_error *errs);

/* The response is written as it is computed, through a write function:
 * 0 to go on, non-zero when the bytes could not be taken (the writer then
 * stops with GR_EIO). The document is {"model", "results", "warnings"}
 * plus the members of extra, compact or (pretty) indented. */
typedef int (*gr_api_write_fn)(void *arg, const char *bytes, size_t n);

typedef struct {
    const gr_api_job *job;
    gr_api_write_fn write;
    void *arg;
    int pretty;
    size_t written;  /* results written so far */
    size_t unscored; /* samples under min_coverage that get an error */
    size_t bytes;    /* written so far */
} gr_api_writer;

/* gr_api_write_begin's decision alone (below), with no byte written;
 * *unscored (NULL allowed) gets the samples that will get an error. */
gr_status gr_api_job_check(const gr_api_job *job, size_t *unscored, gr_error *err);

/* Decides, before a byte is written, whether the job can be answered at
 * all: when its one sample, or every sample, is under min_coverage (and
 * allow_low_coverage is not set) it fails with GR_ECOVERAGE naming the first
 * such sample's counts; when the answer cannot fit job->max_bytes (its
 * least size: 100 bytes a result and 32 an attribution), with
 * GR_ELIMIT. Otherwise writes the head of the document. An answer that
 * grows past max_bytes all the same is cut there (GR_ELIMIT from the call
 * that would pass it). */
gr_status gr_api_write_begin(gr_api_writer *w, const gr_api_job *job, int pretty,
                             gr_api_write_fn write, void *arg, gr_error *err);
/* Writes results[lo .. hi), in order, and frees them (emptying the
 * slots). Each was made by gr_api_predict_range for a job as pretty as
 * the writer (the text is written as it is); an empty one is GR_EINVAL. */
gr_status gr_api_write_results(gr_api_writer *w, gr_buf *results, size_t lo, size_t hi,
                               gr_error *err);
/* Predicts every sample on the calling thread and writes each result as it
 * is computed: memory holds one result at a time. A stop asked for between
 * samples is GR_EIO. */
gr_status gr_api_write_samples(gr_api_writer *w, gr_error *err);
/* Writes the warnings and the members of extra (borrowed; NULL for none),
 * and closes the document. */
gr_status gr_api_write_end(gr_api_writer *w, json_t *extra, gr_error *err);

/* gr_api_write_begin, gr_api_write_samples and gr_api_write_end. */
gr_status gr_api_predict_write(const gr_api_job *job, int pretty, json_t *extra,
                               gr_api_write_fn write, void *arg, gr_error *err);

/* gr_api_predict_write with the samples shared out among `threads`
 * threads (predict_threads.c; 1 or less: the caller's alone), 256 at a
 * time, each lot written when done. The same document, byte for byte. A
 * sample that fails, or a stop, ends the answer as gr_api_write_samples'
 * would. */
gr_status gr_api_predict_write_threads(const gr_api_job *job, int pretty, int threads,
                                       json_t *extra, gr_api_write_fn write, void *arg,
                                       gr_error *err);

/* One document per job, as gr_api_predict_write(jobs[k], pretty,
 * extra[k], write[k], arg[k]) writes it, for n one-sample jobs of one
 * model whose samples are predicted together (gr_api_predict_jobs; n <=
 * GR_BATCH_MAX). st[k] and errs[k] say how job k's went. */
void gr_api_predict_write_jobs(const gr_api_job *const *jobs, size_t n, int pretty,
                               json_t *const *extra, const gr_api_write_fn *write, void *const *arg,
                               gr_status *st, gr_error *errs);

/* gr_api_predict_write into memory, compact, parsed back into a document,
 * for the tests, the fault sweep and the fuzzers. On success *doc is new,
 * or NULL when stop asked to stop. */
gr_status gr_api_predict_all(const gr_api_job *job, json_t **doc, gr_error *err);

/* The policy and impute a job of m runs under, from the settings given
 * (NULL for none), as gr_api_job_init resolves them. */
void gr_api_resolve_policy(const gr_model *m, const gr_api_settings *given, gr_policy *policy,
                           gr_impute *impute);

/* Whether m can answer the group_by of settings s (NULL: none given): 1
 * when none is asked, or when at least one of m's features names its locus
 * (gene); else 0 with why saying what the model lacks. Every front end asks
 * before it scores: a model that names no locus (gene) is refused (HTTP
 * 400 invalid-parameter, CLI exit 2), never answered with each variant as
 * its own "group". */
int gr_api_group_by_ok(const gr_model *m, const gr_api_settings *s, char *why, size_t why_size);

/* Parses a query parameter or CLI flag value into a gr_api_settings field:
 * "true"/"false" for explain and allow_low_coverage, a whole number >= 0
 * for top_k (huge values mean all), "none"/"mean"/"cohort" for impute,
 * policy, ambiguous, multiallelic and chrx (gr_policy_set's words), a
 * number from 0 to 1 for min_overlap, "none"/"locus"/"gene" for group_by. Returns 1 when key is one of these
 * and value is valid, 0 when invalid (a message listing the choices in
 * why), -1 when key is not a setting. */
int gr_api_setting_parse(gr_api_settings *s, const char *key, const char *value, char *why,
                         size_t why_size);

#endif
