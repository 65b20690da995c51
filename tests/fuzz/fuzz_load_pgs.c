/* fuzz_load_pgs.c - libFuzzer harness for the PGS Catalog scoring file
 * loader (core/pgs.c, core/lines.c, core/features.c's feature records and
 * core/model.c's key index): the input is the scoring file, plain or gzip,
 * of a pgs-catalog bundle, loaded once on GRCh38 and once on GRCh37 (the
 * file's genome_build must agree); a model that loads is then predicted and
 * explained. */
#include "tests/fuzz/common.h"

static const char *bundles[2];
static int artifact = -1;

static void setup(void)
{
    gr_fuzz_quiet();
    artifact = gr_fuzz_memfd("scores.txt");
    bundles[0] = gr_fuzz_bundle("pgs-catalog", "regression", "GRCh38", "scores.txt", artifact,
                                NULL, -1);
    bundles[1] = gr_fuzz_bundle("pgs-catalog", "regression", "GRCh37", "scores.txt", artifact,
                                NULL, -1);
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
