/* fuzz_load_linear.c - libFuzzer harness for the genorisk-linear loader
 * (core/linear.c): the input is the model.json of a bundle whose manifest and
 * 30-variant features.tsv are fixed, loaded once as a classifier and once as
 * a regressor (each link needs one of them); a model that loads is then
 * predicted and explained. */
#include "tests/fuzz/common.h"

static const char *bundles[2];
static int artifact = -1;

static void setup(void)
{
    gr_fuzz_quiet();
    artifact = gr_fuzz_memfd("model.json");
    bundles[0] = gr_fuzz_bundle("genorisk-linear", "classification", "GRCh38", "model.json",
                                artifact, "tests/fixtures/lin_logistic/features.tsv", -1);
    bundles[1] = gr_fuzz_bundle("genorisk-linear", "regression", "GRCh38", "model.json", artifact,
                                "tests/fixtures/lin_logistic/features.tsv", -1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (artifact < 0)
        setup();
    gr_fuzz_memfd_set(artifact, data, size);
    for (int i = 0; i < 2; i++)
        gr_fuzz_try_load(bundles[i]);
    return 0;
}
