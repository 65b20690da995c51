/* fuzz_manifest.c - libFuzzer harness for manifest.json (core/manifest.c)
 * and the bundle loading it steers (core/model.c): the input is the manifest
 * of a bundle directory that holds one small artifact of each format with
 * its features file (model.json + features.tsv linear, trees.json +
 * trees.tsv, xgb.json + xgb.tsv, scores.txt.gz a PGS Catalog file), so a
 * manifest naming them loads the whole way. Beside it, demo-reference is a
 * copy of models/demo-reference, so "reference": "demo-reference" (with
 * "reference_score": "cad-pgs-demo", or a model of that name) and a "risk"
 * block load too (core/model_load.c, core/risk_decl.c). */
#include <stdio.h>

#include "tests/fuzz/common.h"

static const char *bundle;
static int manifest = -1;

static void setup(void)
{
    gr_fuzz_quiet();
    manifest = gr_fuzz_memfd("manifest.json");
    const char *parent = gr_fuzz_tmpdir();
    bundle = gr_fuzz_subdir(parent, "model");
    const char *ref = gr_fuzz_subdir(parent, "demo-reference");
    static const char *const ref_files[] = { "reference.json", "classifier.json", "projection.json",
                                             "projection_variants.tsv" };
    for (size_t i = 0; i < sizeof ref_files / sizeof *ref_files; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "models/demo-reference/%s", ref_files[i]);
        gr_fuzz_put_copy(ref, ref_files[i], rel);
    }
    gr_fuzz_put_link(bundle, "manifest.json", manifest);
    gr_fuzz_put_copy(bundle, "model.json", "tests/fixtures/lin_logistic/model.json");
    gr_fuzz_put_copy(bundle, "features.tsv", "tests/fixtures/lin_logistic/features.tsv");
    gr_fuzz_put_copy(bundle, "trees.json", "tests/fixtures/sk_dt_clf/model.json");
    gr_fuzz_put_copy(bundle, "trees.tsv", "tests/fixtures/sk_dt_clf/features.tsv");
    gr_fuzz_put_copy(bundle, "xgb.json", "tests/fuzz/corpus/load_xgboost/fractional-3-trees.json");
    gr_fuzz_put_copy(bundle, "xgb.tsv", "tests/fixtures/xgb_fractional/features.tsv");
    gr_fuzz_put_copy(bundle, "scores.txt.gz", "tests/fixtures/pgs_synth/pgs_synth.txt.gz");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (manifest < 0)
        setup();
    gr_fuzz_memfd_set(manifest, data, size);
    gr_fuzz_try_load(bundle);
    return 0;
}
