/* test_adjust.c - `genorisk adjust` (api/adjust.c) on the small files of
 * tests/fixtures/adjust (made by tools/make_adjust_fixture.py): every PCs layout
 * (FRAPOSA's FID IID, plink2's #FID IID and #IID, IID alone), gzip scores,
 * the rows it skips, and each error naming its file and line but never a
 * sample id. The numbers written are checked against gr_reference_classify
 * and gr_reference_adjust on the same PCs (tests/unit/test_reference.c
 * checks those against docs/population.md). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/adjust.h"
#include "helpers.h"

#define FIX "tests/fixtures/adjust/"

/* The fixture samples' PCs and SUMs (make_fixtures.py). */
static const double PCS[3][10] = {
    { -1.85, 0.20, 1.35, -1.37, 0.93, -0.12, 0.56, 0.11, -2.00, 1.28 },
    { 3.1, -2.2, 0.4, 0.9, -0.3, 0.0, 0.1, -0.2, 0.3, -0.4 },
    { 0.0, 4.5, -1.0, 2.0, 1.5, -0.5, 0.25, 0.0, 0.0, 0.0 },
};
static const double SUMS[3] = { 0.2, -0.35, 1.1 };

static gr_reference *ref;

static void setup(void)
{
    gr_error err;
    cr_assert_eq(gr_reference_load("models/demo-reference", &ref, &err), GR_OK, "%s", err.text);
}

static void teardown(void)
{
    gr_reference_free(ref);
}

typedef struct {
    char *s;
    size_t n;
} sink;

static int collect(void *arg, const char *bytes, size_t n)
{
    sink *k = arg;
    char *more = realloc(k->s, k->n + n + 1);
    if (!more)
        return 1;
    memcpy(more + k->n, bytes, n);
    k->n += n;
    more[k->n] = '\0';
    k->s = more;
    return 0;
}

static int refuse(void *arg, const char *bytes, size_t n)
{
    (void)arg, (void)bytes, (void)n;
    return 1;
}

/* Runs adjust; out and sim (when non-NULL) get what was written. */
static gr_status run(const char *pcs, const char *scores, const char *set, sink *out, sink *sim,
                     size_t *rows, gr_error *err)
{
    gr_api_adjust_args a = { .ref = ref,
                             .pcs_path = pcs,
                             .scores_path = scores,
                             .sampleset = set,
                             .write = collect,
                             .arg = out,
                             .sim_write = sim ? collect : NULL,
                             .sim_arg = sim };
    return gr_api_adjust(&a, rows, err);
}

/* The row of output line i (1-based, after the header), split on tabs into
 * f (10 fields). */
static void row_fields(const char *text, size_t i, char f[10][64])
{
    const char *p = text;
    for (size_t l = 0; l < i; l++) {
        p = strchr(p, '\n');
        cr_assert_not_null(p, "the output has no line %zu", i);
        p++;
    }
    for (size_t k = 0; k < 10; k++) {
        size_t len = strcspn(p, "\t\n");
        cr_assert_lt(len, 64);
        memcpy(f[k], p, len);
        f[k][len] = '\0';
        p += len;
        cr_assert(k == 9 ? *p == '\n' : *p == '\t', "line %zu field %zu", i, k);
        p++;
    }
}

static const char HEADER[] = "sampleset\tFID\tIID\tPGS\tSUM\tMostSimilarPop\tpercentile_"
                             "MostSimilarPop\tZ_MostSimilarPop\tZ_norm1\tZ_norm2\n";

/* Checks the 3 rows of the fixture samples, in order, against the library. */
static void expect_rows(const char *text, const char *set, int with_fid)
{
    cr_assert_eq(strncmp(text, HEADER, sizeof HEADER - 1), 0, "header: %.120s", text);
    for (size_t i = 0; i < 3; i++) {
        char f[10][64], want[64];
        gr_ancestry a;
        gr_adjusted adj;
        gr_error err;
        row_fields(text, i + 1, f);
        cr_assert_str_eq(f[0], set);
        snprintf(want, sizeof want, "FAM%zu", i + 1);
        cr_assert_str_eq(f[1], with_fid ? want : "");
        snprintf(want, sizeof want, "SECRET-%zu", i + 1);
        cr_assert_str_eq(f[2], want);
        cr_assert_str_eq(f[3], "cad-pgs-demo");
        cr_assert_eq(strtod(f[4], NULL), SUMS[i]);
        cr_assert_eq(gr_reference_classify(ref, PCS[i], 10, &a, &err), GR_OK);
        cr_assert_eq(gr_reference_adjust(ref, 0, &a, SUMS[i], &adj, &err), GR_OK);
        cr_assert_str_eq(f[5], gr_reference_get_info(ref)->populations[a.most_similar]);
        /* written with %.17g: the same doubles come back */
        cr_assert_eq(strtod(f[6], NULL), adj.percentile, "sample %zu percentile", i);
        cr_assert_eq(strtod(f[7], NULL), adj.z, "sample %zu z", i);
        cr_assert_eq(strtod(f[8], NULL), adj.z_norm1, "sample %zu z_norm1", i);
        cr_assert_eq(strtod(f[9], NULL), adj.z_norm2, "sample %zu z_norm2", i);
    }
    const char *end = text;
    for (size_t l = 0; l < 4; l++)
        end = strchr(end, '\n') + 1;
    cr_assert_eq(*end, '\0', "more rows than the 3 samples: %s", end);
}

static void expect_ok(const char *pcs, const char *scores, int with_fid)
{
    sink out = { 0 };
    size_t rows = 0;
    gr_error err;
    cr_assert_eq(run(pcs, scores, NULL, &out, NULL, &rows, &err), GR_OK, "%s:%ld: %s", err.source,
                 err.line, err.text);
    cr_assert_eq(rows, 3);
    expect_rows(out.s, "target", with_fid);
    free(out.s);
}

TestSuite(adjust, .init = setup, .fini = teardown);

Test(adjust, fraposa_pcs_with_fid)
{
    expect_ok(FIX "target.pcs", FIX "scores.txt", 1);
}

Test(adjust, plink2_hash_fid_header)
{
    expect_ok(FIX "target.eigenvec", FIX "scores.txt", 1);
}

Test(adjust, plink2_hash_iid_only_matches_scores_with_fid_by_iid)
{
    expect_ok(FIX "target_iid.eigenvec", FIX "scores.txt", 1);
}

Test(adjust, pcs_and_scores_without_fid)
{
    expect_ok(FIX "target_nofid.pcs", FIX "scores_iid.txt", 0);
}

Test(adjust, gzip_scores_read_as_plain)
{
    expect_ok(FIX "target.pcs", FIX "scores.txt.gz", 1);
}

Test(adjust, a_sampleset_selects_its_rows)
{
    sink out = { 0 };
    size_t rows = 0;
    gr_error err;
    cr_assert_eq(run(FIX "target.pcs", FIX "scores.txt", "reference", &out, NULL, &rows, &err),
                 GR_OK, "%s", err.text);
    cr_assert_eq(rows, 2);
    char f[10][64];
    row_fields(out.s, 1, f);
    cr_assert_str_eq(f[0], "reference");
    cr_assert_str_eq(f[2], "SECRET-1");
    cr_assert_str_eq(f[4], "9.5");
    row_fields(out.s, 2, f);
    cr_assert_str_eq(f[2], "SECRET-3");
    free(out.s);
}

Test(adjust, similarity_rows_once_per_sample)
{
    sink out = { 0 }, sim = { 0 };
    size_t rows = 0;
    gr_error err;
    cr_assert_eq(run(FIX "target.pcs", FIX "scores.txt", NULL, &out, &sim, &rows, &err), GR_OK,
                 "%s", err.text);
    cr_assert_eq(strncmp(sim.s,
                         "sampleset\tFID\tIID\tPC1\tPC2\tPC3\tPC4\tPC5\tPC6\tPC7\tPC8\tPC9\tPC10\t"
                         "RF_P_POP-A\tRF_P_POP-B\tRF_P_POP-C\tRF_P_POP-D\tRF_P_POP-E\t"
                         "MostSimilarPop\tMostSimilarPop_LowConfidence\n",
                         strlen("sampleset\tFID\tIID\tPC1")),
                 0, "%s", sim.s);
    size_t lines = 0;
    for (const char *p = sim.s; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 4, "%s", sim.s);
    cr_assert(strstr(sim.s, "target\tFAM1\tSECRET-1\t-1.85"), "%s", sim.s);
    free(out.s);
    free(sim.s);
}

/* ---- errors: file and line, never a sample id ---- */

static void expect_error(const char *pcs, const char *scores, const char *set, gr_status st,
                         const char *source, long line, const char *needle)
{
    sink out = { 0 };
    size_t rows = 0;
    gr_error err;
    char buf[1500];
    gr_status got = run(pcs, scores, set, &out, NULL, &rows, &err);
    gr_error_format(&err, buf, sizeof buf);
    cr_assert_eq(got, st, "expected %s, got %s: %s", gr_strerror(st), gr_strerror(got), buf);
    cr_assert_str_eq(err.source, source, "%s", buf);
    cr_assert_eq(err.line, line, "%s", buf);
    cr_assert(strstr(buf, needle), "error '%s' lacks '%s'", buf, needle);
    cr_assert_null(strstr(buf, "SECRET"), "error '%s' names a sample", buf);
    cr_assert_null(strstr(buf, "FAM"), "error '%s' names a family", buf);
    free(out.s);
}

Test(adjust, pcs_without_pc1)
{
    expect_error(FIX "pcs_no_pc1.pcs", FIX "scores.txt", NULL, GR_EINPUT, FIX "pcs_no_pc1.pcs", 1,
                 "IID and PC1");
}

Test(adjust, pcs_fewer_than_the_classifier_reads)
{
    expect_error(FIX "pcs_four.pcs", FIX "scores.txt", NULL, GR_EINPUT, FIX "pcs_four.pcs", 1,
                 "4 PC columns; the reference needs PC1 to PC5");
}

Test(adjust, a_sample_twice_in_the_pcs)
{
    expect_error(FIX "pcs_duplicate.pcs", FIX "scores.txt", NULL, GR_EINPUT,
                 FIX "pcs_duplicate.pcs", 5, "given on an earlier line");
}

Test(adjust, a_sum_that_is_not_a_number)
{
    expect_error(FIX "target.pcs", FIX "scores_bad_sum.txt", NULL, GR_EINPUT,
                 FIX "scores_bad_sum.txt", 3, "not a finite number");
}

Test(adjust, a_score_row_whose_sample_has_no_pcs)
{
    expect_error(FIX "target.pcs", FIX "scores_no_pcs.txt", NULL, GR_EINPUT,
                 FIX "scores_no_pcs.txt", 4, "this row's sample has no PCs in " FIX "target.pcs");
}

Test(adjust, a_pgs_the_reference_does_not_hold)
{
    expect_error(FIX "target.pcs", FIX "scores_unknown_pgs.txt", NULL, GR_EINPUT,
                 FIX "scores_unknown_pgs.txt", 2,
                 "reference demo-reference holds no distribution for score PGS999999");
}

Test(adjust, no_row_selected)
{
    expect_error(FIX "target.pcs", FIX "scores_reference_only.txt", NULL, GR_EINPUT,
                 FIX "scores_reference_only.txt", 0, "no row outside the \"reference\" sampleset");
    expect_error(FIX "target.pcs", FIX "scores.txt", "cohort-b", GR_EINPUT, FIX "scores.txt", 0,
                 "no row of sampleset cohort-b");
}

Test(adjust, pcs_so_far_out_that_a_z_overflows)
{
    expect_error(FIX "pcs_far.pcs", FIX "scores.txt", NULL, GR_EINPUT, FIX "scores.txt", 3,
                 "gives a Z that is not finite");
}

Test(adjust, a_missing_file_and_a_failed_write)
{
    sink out = { 0 };
    size_t rows = 0;
    gr_error err;
    cr_assert_eq(run(FIX "no-such.pcs", FIX "scores.txt", NULL, &out, NULL, &rows, &err), GR_EIO);
    cr_assert(strstr(err.source, "no-such.pcs"), "%s", err.source);
    gr_api_adjust_args a = {
        .ref = ref, .pcs_path = FIX "target.pcs", .scores_path = FIX "scores.txt", .write = refuse
    };
    cr_assert_eq(gr_api_adjust(&a, &rows, &err), GR_EIO);
    cr_assert_eq(rows, 0);
    free(out.s);
}
