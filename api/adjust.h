/* adjust.h - `genorisk adjust`: polygenic scores computed elsewhere (in
 * pgsc_calc's long format) read against a reference population, for
 * samples whose PCs were computed elsewhere (FRAPOSA's .pcs or plink2's
 * .eigenvec), written in pgsc_calc's columns (docs/population.md). The
 * numbers are gr_reference_classify's and gr_reference_adjust's, the ones
 * a prediction's "population" carries. Sample ids come from the files and
 * go to the output only; errors name lines, never ids. */
#ifndef GR_API_ADJUST_H
#define GR_API_ADJUST_H

#include "api/predict_run.h"
#include "core/reference.h"

typedef struct {
    const gr_reference *ref;
    const char *pcs_path;    /* FID IID PC1.. (or #FID, #IID, IID without FID) */
    const char *scores_path; /* sampleset FID IID PGS SUM ... (FID optional) */
    const char *sampleset;   /* the rows to adjust; NULL: every sampleset but "reference" */
    gr_api_write_fn write;   /* the adjusted scores, tab-separated */
    void *arg;
    gr_api_write_fn sim_write; /* optional: pgsc_calc's popsimilarity columns, a row per
                                * sample (PCs, RF_P_*, MostSimilarPop, its low confidence) */
    void *sim_arg;
} gr_api_adjust_args;

/* Reads both files (plain or gzip, gr_lines' ceilings) and writes a header
 * and a row per score row adjusted: sampleset FID IID PGS SUM
 * MostSimilarPop percentile_MostSimilarPop Z_MostSimilarPop Z_norm1
 * Z_norm2. *rows gets the rows written. Errors: GR_EIO (a file, or a write
 * function failed), GR_EINPUT naming the file and line (a missing column, a
 * number that is not one, a sample twice in the PCs, a score row whose
 * sample has no PCs or whose PGS the reference does not hold, no row
 * selected), GR_ELIMIT, GR_ENOMEM. */
gr_status gr_api_adjust(const gr_api_adjust_args *a, size_t *rows, gr_error *err);

#endif
