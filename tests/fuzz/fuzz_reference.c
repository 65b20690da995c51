/* fuzz_reference.c - libFuzzer harness for a reference bundle's
 * reference.json (core/reference.c): the input is the reference.json of a
 * bundle directory whose classifier.json, projection.json and
 * projection_variants.tsv are copies of models/demo-reference's, so an input
 * naming them loads the whole way (the forests, FRAPOSA's projection, the
 * variants). A reference that loads places one fixed sample (its dosages at
 * the projection variants) and classifies one fixed PC vector, then reads
 * a few scores of each of its score distributions against them: every
 * probability, PC, percentile and Z must come out finite or be refused
 * with a reason, and a failed load must say why. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/reference.h"
#include "tests/fuzz/common.h"

static const char *bundle;
static int reference = -1;

static void setup(void)
{
    static const char *const copies[] = { "classifier.json", "projection.json",
                                          "projection_variants.tsv" };
    gr_fuzz_quiet();
    reference = gr_fuzz_memfd("reference.json");
    bundle = gr_fuzz_tmpdir();
    gr_fuzz_put_link(bundle, "reference.json", reference);
    for (size_t i = 0; i < sizeof copies / sizeof *copies; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "models/demo-reference/%s", copies[i]);
        gr_fuzz_put_copy(bundle, copies[i], rel);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setup();
    return 0;
}

static void check_ancestry(const gr_reference_info *in, const gr_ancestry *a)
{
    double sum = 0;
    if (a->most_similar >= in->n_populations)
        gr_fuzz_fail("most_similar is not a population");
    for (size_t i = 0; i < a->n_pcs; i++)
        if (!isfinite(a->pcs[i]))
            gr_fuzz_fail("a PC that is not finite");
    for (size_t c = 0; c < in->n_populations; c++) {
        if (!(a->prob[c] >= 0 && a->prob[c] <= 1 + 1e-9))
            gr_fuzz_fail("a population probability outside 0..1");
        if (a->prob[c] > a->prob[a->most_similar])
            gr_fuzz_fail("most_similar is not the most probable population");
        sum += a->prob[c];
    }
    (void)sum; /* one forest per class: they need not add up to exactly 1 */
}

static void adjust_all(const gr_reference *r, const gr_ancestry *a)
{
    const gr_reference_info *in = gr_reference_get_info(r);
    for (size_t k = 0; k < in->n_scores; k++) {
        size_t n = 0;
        const double *pct = gr_reference_percentiles(r, k, a->most_similar, &n);
        if (gr_reference_score(r, gr_reference_score_id(r, k)) != (long)k)
            gr_fuzz_fail("a score id does not name its own score");
        const double xs[] = { 0, pct[0], pct[50], pct[100], pct[100] + 1 };
        for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
            gr_adjusted adj;
            gr_error err;
            gr_status st = gr_reference_adjust(r, k, a, xs[i], &adj, &err);
            if (st && (st != GR_EINPUT || !err.text[0]))
                gr_fuzz_fail("an adjustment that fails must be GR_EINPUT and say why");
            if (st)
                continue;
            if (!(adj.percentile >= 0 && adj.percentile <= 100))
                gr_fuzz_fail("a percentile outside 0..100");
            if (!isfinite(adj.z) || !isfinite(adj.z_norm1) || !isfinite(adj.z_norm2))
                gr_fuzz_fail("an adjusted score that is not finite");
        }
    }
}

static void exercise(const gr_reference *r)
{
    const gr_reference_info *in = gr_reference_get_info(r);
    static const double pcs[GR_REF_MAX_PCS] = { -1.85, 0.20, 1.35, -1.37, 0.93, -0.12, 0.56,
                                                0.11,  -2.0, 1.28, 0.5,   -0.5, 0.25,  -0.25,
                                                0.1,   -0.1, 0.05, -0.05, 0.01, -0.01 };
    gr_ancestry a;
    gr_error err;
    if (gr_reference_classify(r, pcs, in->n_pcs, &a, &err))
        gr_fuzz_fail("a reference that loaded refuses its own number of PCs");
    check_ancestry(in, &a);
    adjust_all(r, &a);
    if (gr_reference_classify(r, pcs, GR_REF_MAX_PCS + 1, &a, &err) != GR_EINPUT)
        gr_fuzz_fail("too many PCs are not refused");
    if (!in->n_variants) {
        if (gr_reference_variants(r))
            gr_fuzz_fail("variants without a projection");
        return;
    }
    double dosage[1024];
    if (in->n_variants > sizeof dosage / sizeof *dosage)
        gr_fuzz_fail("more projection variants than the demo reference has");
    for (size_t j = 0; j < in->n_variants; j++)
        dosage[j] = j % 7 == 3 ? NAN : (double)((j * 5 + 1) % 3);
    gr_reference_ws *ws = gr_reference_ws_new(r);
    if (!ws)
        gr_fuzz_fail("out of memory");
    gr_status st = gr_reference_place(r, ws, dosage, &a, &err);
    gr_reference_ws_free(ws);
    if (st == GR_ENOMEM || (st && !err.text[0]))
        gr_fuzz_fail("placing failed without saying why");
    if (!st) {
        if (a.n_pcs != in->n_pcs)
            gr_fuzz_fail("placing gave another number of PCs");
        check_ancestry(in, &a);
        adjust_all(r, &a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (reference < 0)
        setup();
    gr_fuzz_memfd_set(reference, data, size);
    gr_reference *r = NULL;
    gr_error err;
    gr_status st = gr_reference_load(bundle, &r, &err);
    if (st == GR_ENOMEM)
        gr_fuzz_fail("out of memory reported for something else");
    if (st) {
        if (r || !err.text[0])
            gr_fuzz_fail("a failed load must leave no reference and say why");
        return 0;
    }
    const gr_reference_info *in = gr_reference_get_info(r);
    if (!in->sha256 || strlen(in->sha256) != 64)
        gr_fuzz_fail("a loaded reference without its SHA-256");
    exercise(r);
    gr_reference_free(r);
    return 0;
}
