/* fuzz_load_xgboost.c - libFuzzer harness for the xgboost-json loader
 * (core/load_xgboost.c, core/json_arrays.c, core/forest.c): the input is the
 * model.json of a bundle whose manifest and 20-variant features.tsv are
 * fixed, loaded once as a classifier and once as a regressor (objectives
 * need one or the other); a model that loads is then predicted and explained. */
#include "tests/fuzz/common.h"

#define FORMAT "xgboost-json"
#define FEATURES "tests/fixtures/xgb_fractional/features.tsv"

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
