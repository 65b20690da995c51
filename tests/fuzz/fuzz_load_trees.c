/* fuzz_load_trees.c - libFuzzer harness for the genorisk-trees loader
 * (core/load_trees.c, core/json_arrays.c, core/forest.c): the input is the
 * model.json of a bundle whose manifest and 10-variant features.tsv are
 * fixed, loaded once as a classifier and once as a regressor (a logistic
 * link needs a classifier); a model that loads is then predicted and explained. */
#include "tests/fuzz/common.h"

#define FORMAT "genorisk-trees"
#define FEATURES "tests/fixtures/sk_dt_clf/features.tsv"

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
