/* predict_internal.h - what the pipeline's files share, private to api/
 * (predict_input.c makes a sample's dosages under the job's policy,
 * predict_run.c predicts and writes them). */
#ifndef GR_API_PREDICT_INTERNAL_H
#define GR_API_PREDICT_INTERNAL_H

#include "api/predict_run.h"
#include "core/reference.h"

/* One thread's working memory for a job's samples. */
typedef struct scratch scratch;
struct scratch {
    gr_workspace *ws;
    double *x, *phi, *used; /* n_features each: the current lane's */
    double *fill;           /* what a missing call becomes, NaN: stays missing */
    double *fill_one;       /* fill for one JSON sample under drop_unmatched: the lane's */
    size_t lanes;           /* samples predicted together (gr_model_batch_width) */
    double *lane_x, *lane_phi, *lane_used, *lane_fill; /* lanes x n_features each, where
                                                        * x, phi, used, fill_one point */
    uint8_t *out;   /* the policy leaves the feature out (JSON input) */
    int shared;     /* some record is used by two of the model's features */
    uint8_t *once;  /* the feature is the first of the model's to use its VCF
                             * record: what plink2 counts in ALLELE_CT and DENOM */
    scratch *place; /* the place job's (job->place), or NULL */
    /* group_by, made at the first explanation: feature j's group
     * group_of[j] < n_groups; each group's first feature (its name),
     * member count and, per sample, sum */
    size_t *group_of, *group_first, *group_n, n_groups;
    double *group_sum;
    gr_reference_ws *rws; /* projection scratch of the model's reference, or NULL */
};

/* A one-sample scorer (predict_run.h): a job and its scratch. */
struct gr_api_scorer {
    const gr_api_job *job;
    scratch *sc;
};

/* Sizes sc for job; its fill values are like's (NULL: computed; values 0:
 * the cohort's means are not, see gr_api_scratch_fill). 0 when out of
 * memory; free with gr_api_scratch_free either way. */
int gr_api_scratch_init(scratch *sc, const gr_api_job *job, const scratch *like, int values);
void gr_api_scratch_free(scratch *sc);
/* What each missing dosage of the job becomes (sc->fill) and what the
 * policy leaves out (sc->out); values 0 skips the cohort's means (a pass
 * over every sample). 0 when out of memory. */
int gr_api_scratch_fill(const gr_api_job *job, scratch *sc, int values);
/* Sample i's dosages in model order, NaN for missing (borrowed), with the
 * policy applied; sets the workspace's fill for that sample. */
const double *gr_api_dosages(const gr_api_job *job, scratch *sc, size_t i);
/* The same without touching the workspace: *fill receives what a missing
 * dosage of sample i becomes (borrowed from sc). */
const double *gr_api_dosages_fill(const gr_api_job *job, scratch *sc, size_t i,
                                  const double **fill);
/* Points sc's x, phi, used and fill_one at lane k's memory. */
void gr_api_scratch_lane(scratch *sc, const gr_api_job *job, size_t k);
/* gr_api_predict_range with sc (initialised for job or a job of the same
 * model and set, by gr_api_scratch_init) as its working memory: a thread
 * that predicts several ranges keeps one. */
gr_status gr_api_predict_range_in(const gr_api_job *job, scratch *sc, size_t first, size_t step,
                                  gr_buf *results, gr_error *err);
/* The job's coverage gate (min_overlap given, else min_coverage). */
int gr_api_coverage_ok(const gr_api_job *job, size_t observed);

#endif
