/* fuzz_vcf.c - libFuzzer harness for VCF/BCF preprocessing (core/vcf.c,
 * core/vcf_body.c, api/predict_run.c): the first input byte chooses the
 * options, the rest is the file, plain, gzip or BGZF text VCF or BCF, read
 * from an in-memory file descriptor as the daemon reads a spooled upload,
 * then scored sample by sample (the first 16) into a response.
 *
 * Option byte: bit 0 absent=ref; bits 1-2 genotype auto, gt, ds, auto;
 * bit 3 filter=any; bit 4 two worker threads; bit 5 select samples S1 and
 * S3; bit 6 the cad-pgs-demo model instead of the VCF rules fixture model;
 * bit 7 a 120-byte line limit, a 1500-byte header limit (else the daemon's
 * 16 MiB, so the header is always checked first, as uploads are) and no
 * allow_low_coverage.
 *
 * Threads are not used on BCF input: for BCF they are htslib's own BGZF
 * threads, and htslib 1.16 leaks 32 bytes when such a reader meets a corrupt
 * block (a result left in its thread pool's queue), which LeakSanitizer would
 * report on every such input. Nothing of genorisk's runs differently. */
#include <htslib/hfile.h>
#include <htslib/hts.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/predict_panel.h"
#include "api/predict_run.h"
#include "tests/fuzz/common.h"

#define MAX_SCORED 16

static gr_model *models[2];
static int file = -1;

static void setup(void)
{
    gr_fuzz_quiet();
    models[0] = gr_fuzz_model("tests/fixtures/vcf/model");
    models[1] = gr_fuzz_model("models/cad-pgs-demo");
    file = gr_fuzz_memfd("upload");
}

static void teardown(void)
{
    for (int i = 0; i < 2; i++)
        gr_model_free(models[i]);
    close(file);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setup();
    atexit(teardown);
    return 0;
}

/* 1 when htslib sees BCF in the in-memory file, as gr_vcf_read will. */
static int is_bcf(void)
{
    int fd = lseek(file, 0, SEEK_SET) == 0 ? dup(file) : -1;
    hFILE *h = fd >= 0 ? hdopen(fd, "r") : NULL;
    htsFile *f = h ? hts_hopen(h, "sniff", "r") : NULL;
    int yes = f && hts_get_format(f)->format == bcf;
    if (f)
        hts_close(f);
    else if (h)
        hclose_abruptly(h);
    else if (fd >= 0)
        close(fd);
    return yes;
}

static int discard(void *arg, const char *bytes, size_t n)
{
    (void)arg, (void)bytes, (void)n;
    return 0;
}

/* Every variant's outcome is a status, each model's counts add up, a
 * matched variant names its record. */
static void check_outcomes(const gr_vcf_result *v)
{
    for (size_t k = 0; k < v->n_models; k++) {
        gr_vcf_report r;
        gr_vcf_model_report(v, k, &r);
        size_t sum = 0;
        for (int s = 0; s <= GR_VAR_MATCHED; s++)
            sum += r.status[s];
        if (sum != r.variants || r.matched != r.status[GR_VAR_MATCHED] ||
            r.variants != v->model_first[k + 1] - v->model_first[k])
            gr_fuzz_fail("a model's variant outcomes do not add up");
    }
    for (size_t f = 0; f < v->n_features; f++)
        if (v->status[f] > GR_VAR_MATCHED ||
            (v->status[f] == GR_VAR_MATCHED && v->how[f] != 3 && !v->record[f]) ||
            (v->record_text && v->record[f] && !v->record_text[f]))
            gr_fuzz_fail("a variant's outcome names no record");
}

/* Every dosage is missing or within 0..2; the match counts fit the model. */
static void check(const gr_vcf_result *v)
{
    for (size_t i = 0; i < v->n_samples * v->n_features; i++)
        if (v->dosage[i] != GR_VCF_MISSING && v->dosage[i] > 2 * GR_VCF_DOSAGE_SCALE)
            gr_fuzz_fail("a dosage over 2");
    const gr_vcf_match *c = &v->match;
    if (c->matched > v->n_features || c->flipped > c->matched || c->swapped > c->matched ||
        c->ambiguous > c->matched || c->multiallelic > c->matched)
        gr_fuzz_fail("match counts do not add up");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (file < 0)
        setup();
    if (size < 1)
        return 0;
    unsigned o = data[0];
    static const char *const pick[] = { "S1", "S3" };
    static const gr_geno_source geno[] = { GR_GENO_AUTO, GR_GENO_GT, GR_GENO_DS, GR_GENO_AUTO };
    gr_vcf_options opt = {
        .absent = o & 1 ? GR_ABSENT_REF : GR_ABSENT_MISSING,
        .genotype = geno[o >> 1 & 3],
        .filter_any = !!(o & 8),
        .threads = o & 16 ? 2 : 0,
        .samples = o & 32 ? pick : NULL,
        .n_samples = o & 32 ? 2 : 0,
        .max_line = o & 128 ? 120 : 0,
        .max_header = o & 128 ? 1500 : (size_t)16 << 20, /* the daemon's default */
    };
    int mi = !!(o & 64), allow_low = !(o & 128);
    const gr_model *m = models[mi];
    gr_fuzz_memfd_set(file, data + 1, size - 1);
    if (opt.threads && is_bcf())
        opt.threads = 0;
    int fd = lseek(file, 0, SEEK_SET) == 0 ? dup(file) : -1;
    if (fd < 0)
        gr_fuzz_fail("cannot reopen the in-memory file");
    gr_vcf_result *v = NULL;
    gr_error err;
    /* the model under its own policy, with the other one under plink2's as
     * a panel (records noted for the variant log on odd sizes) */
    gr_policy pol[2] = { gr_model_get_info(m)->policy, gr_policy_named(GR_POLICY_PLINK2) };
    gr_vcf_model ms[2] = { { m, &pol[0] }, { models[!mi], &pol[1] } };
    opt.keep_records = size & 1;
    gr_status st = gr_vcf_read_models(ms, 2, "upload", fd, &opt, &v, &err);
    if (st == GR_ENOMEM)
        gr_fuzz_fail("out of memory reported for something else");
    if (st) {
        if (v || !err.text[0])
            gr_fuzz_fail("a failed read must leave no result and say why");
        return 0;
    }
    check(v);
    check_outcomes(v);
    /* the first MAX_SCORED samples (the dosage matrix is sample-major, so a
     * prefix of it is their whole VCF read) through the daemon's pipeline */
    gr_vcf_result first = *v;
    first.n_samples = v->n_samples < MAX_SCORED ? v->n_samples : MAX_SCORED;
    gr_api_settings given = gr_api_settings_unset();
    given.top_k = 5;
    given.allow_low_coverage = allow_low;
    gr_api_job job;
    gr_api_job_init(&job, m, NULL, &first, &given);
    json_t *doc = NULL;
    st = gr_api_predict_all(&job, &doc, &err);
    if (st == GR_ENOMEM)
        gr_fuzz_fail("out of memory reported for something else");
    if (st && (doc || !err.text[0]))
        gr_fuzz_fail("a failed prediction must leave no response and say why");
    char *text = st ? NULL : json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!st && !text)
        gr_fuzz_fail("a response that does not serialise");
    free(text);
    json_decref(doc);
    gr_api_panel panel = { &job, 1, GR_API_FORMAT_JSON, NULL, 0, 0, 0, 1 };
    if (gr_api_variant_log_write(&panel, discard, NULL, &err))
        gr_fuzz_fail("the variant log could not be written");
    gr_vcf_result_free(v);
    return 0;
}
