/* fuzz_adjust.c - libFuzzer harness for `genorisk adjust` (api/adjust.c):
 * the input is two files, the PCs (FRAPOSA's or plink2's layout) and the
 * scores (pgsc_calc's long format), separated by the first line that is
 * exactly "%%" (no separator: the scores file is empty). Both may be gzip,
 * as gr_lines reads them. They are adjusted against models/demo-reference
 * twice: every sampleset but "reference" with the similarity columns, then
 * sampleset "test" alone; the output goes to a sink that counts lines. A
 * run that fails must say why, one that succeeds must have written a row
 * per adjusted score. */
#include <string.h>

#include "api/adjust.h"
#include "tests/fuzz/common.h"

static gr_reference *ref;
static int pcs_fd = -1, scores_fd;
static const char *pcs_path, *scores_path;

static void setup(void)
{
    gr_fuzz_quiet();
    gr_error err;
    if (gr_reference_load(gr_fuzz_path("models/demo-reference"), &ref, &err))
        gr_fuzz_fail("models/demo-reference does not load");
    pcs_fd = gr_fuzz_memfd("target.pcs");
    scores_fd = gr_fuzz_memfd("scores.txt");
    const char *dir = gr_fuzz_tmpdir();
    gr_fuzz_put_link(dir, "target.pcs", pcs_fd);
    gr_fuzz_put_link(dir, "scores.txt", scores_fd);
    static char p[1200], s[1200];
    snprintf(p, sizeof p, "%s/target.pcs", dir);
    snprintf(s, sizeof s, "%s/scores.txt", dir);
    pcs_path = p;
    scores_path = s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setup();
    return 0;
}

/* Counts the lines written. */
static int sink(void *arg, const char *bytes, size_t n)
{
    size_t *lines = arg;
    for (size_t i = 0; i < n; i++)
        *lines += bytes[i] == '\n';
    return 0;
}

static void run(const char *sampleset, int similarity)
{
    size_t lines = 0, sim_lines = 0, rows = 0;
    gr_api_adjust_args a = { .ref = ref,
                             .pcs_path = pcs_path,
                             .scores_path = scores_path,
                             .sampleset = sampleset,
                             .write = sink,
                             .arg = &lines,
                             .sim_write = similarity ? sink : NULL,
                             .sim_arg = &sim_lines };
    gr_error err;
    gr_status st = gr_api_adjust(&a, &rows, &err);
    if (st == GR_ENOMEM)
        gr_fuzz_fail("out of memory reported for something else");
    if (st && !err.text[0])
        gr_fuzz_fail("gr_api_adjust failed without saying why");
    if (!st && (rows == 0 || lines != rows + 1))
        gr_fuzz_fail("gr_api_adjust succeeded without a header and a row per score");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (pcs_fd < 0)
        setup();
    const uint8_t *cut = NULL;
    for (size_t i = 0; i + 2 <= size; i++)
        if ((i == 0 || data[i - 1] == '\n') && data[i] == '%' && data[i + 1] == '%' &&
            (i + 2 == size || data[i + 2] == '\n')) {
            cut = data + i;
            break;
        }
    size_t n_pcs = cut ? (size_t)(cut - data) : size;
    const uint8_t *rest = cut ? cut + (cut + 2 < data + size ? 3 : 2) : data + size;
    gr_fuzz_memfd_set(pcs_fd, data, n_pcs);
    gr_fuzz_memfd_set(scores_fd, rest, (size_t)(data + size - rest));
    run(NULL, 1);
    run("test", 0);
    return 0;
}
