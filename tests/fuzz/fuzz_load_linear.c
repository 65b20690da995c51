/* fuzz_load_linear.c - libFuzzer harness for the genorisk-linear loader
 * (core/linear.c): the input is the model.json of a bundle whose manifest and
 * 30-variant features.tsv are fixed, loaded once as a classifier and once as
 * a regressor (each link needs one of them); a model that loads is then
 * predicted and explained. */
#include "tests/fuzz/common.h"

#define FORMAT "genorisk-linear"
#define FEATURES "tests/fixtures/lin_logistic/features.tsv"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    gr_fuzz_model_json(FORMAT, FEATURES, (const uint8_t *)"", 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return gr_fuzz_model_json(FORMAT, FEATURES, data, size);
}
