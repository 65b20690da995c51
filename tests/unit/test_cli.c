/* test_cli.c - the genorisk command line, run as a real process: output,
 * exit codes (0 ok, 2 usage, 3 bad model, 4 bad input) and error messages. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#define XGB "tests/fixtures/xgb_clf"

static char *in_file(const char *content)
{
    char tmpl[] = "/tmp/genorisk-cli-in-XXXXXX";
    int fd = mkstemp(tmpl);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return strdup(tmpl);
}

static void drop(char *path)
{
    unlink(path);
    free(path);
}

/* A request for xgb_clf: three samples, mixed key forms. */
static const char request[] =
    "{\"samples\":[{\"id\":\"a\",\"dosages\":[0,1,2,0,1,2,0,1,2,0,1,2,0,1,2,0,1,2,0,1,2,0,1,2,0,1,"
    "2,"
    "0,1,2,0,1,2,0,1,2,0,1,2,0]},{\"id\":\"b\",\"genotypes\":{}},{\"id\":\"c\",\"dosages\":["
    "2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2]}],\"top_k\":"
    "3}";

Test(cli, help_and_version)
{
    char *out, *err;
    cr_assert_eq(run_cli(&out, &err, NULL, "--version", NULL), 0);
    cr_assert(strstr(out, "genorisk " GR_VERSION));
    free(out), free(err);
    cr_assert_eq(run_cli(&out, &err, NULL, "--help", NULL), 0);
    cr_assert(strstr(out, "predict"));
    free(out), free(err);
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--help", NULL), 0);
    cr_assert(strstr(out, "--threads"));
    free(out), free(err);
    cr_assert_eq(run_cli(&out, &err, NULL, "models", "--help", NULL), 0);
    free(out), free(err);
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--version", NULL), 0);
    cr_assert(strstr(out, "genorisk " GR_VERSION));
    free(out), free(err);
    cr_assert_eq(run_cli(&out, &err, NULL, "models", "validate", "--version", NULL), 0);
    cr_assert(strstr(out, "genorisk " GR_VERSION));
    free(out), free(err);
}

Test(cli, usage_errors_exit_2)
{
    char *out, *err;
    cr_assert_eq(run_cli(&out, &err, NULL, NULL), 2);
    free(out), free(err);
    cr_assert_eq(run_cli(&out, &err, NULL, "frobnicate", NULL), 2);
    cr_assert(strstr(err, "unknown command"));
    free(out), free(err);
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", XGB, NULL), 2);
    cr_assert(strstr(err, "--input"));
    free(out), free(err);
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", XGB, "--input", "-", "--threads",
                         "0", NULL),
                 2);
    free(out), free(err);
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--bogus", NULL), 2);
    free(out), free(err);
    cr_assert_eq(run_cli(&out, &err, NULL, "models", "validate", NULL), 2);
    free(out), free(err);
}

Test(cli, predict_prints_the_response_and_threads_agree)
{
    char *in = in_file(request);
    char *out1, *out2, *err;
    cr_assert_eq(run_cli(&out1, &err, NULL, "predict", "--model", XGB, "--input", in, NULL), 0,
                 "%s", err);
    free(err);
    cr_assert_eq(run_cli(&out2, &err, NULL, "predict", "--model", XGB, "--input", in, "--threads",
                         "3", NULL),
                 0, "%s", err);
    free(err);
    cr_assert_str_eq(out1, out2);
    json_error_t je;
    json_t *r = json_loads(out1, 0, &je);
    cr_assert(r, "%s", je.text);
    json_t *res = json_object_get(r, "results");
    cr_assert_eq(json_array_size(res), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *s = json_array_get(res, i);
        cr_assert_eq(json_integer_value(json_object_get(s, "index")), (json_int_t)i);
        if (i == 1) { /* no genotypes: 0 of 40 observed, an error instead of a score */
            cr_assert_null(json_object_get(s, "score"));
            json_t *e = json_object_get(s, "error");
            cr_assert_str_eq(json_string_value(json_object_get(e, "type")),
                             "urn:genorisk:problem:low-coverage");
            cr_assert_eq(json_integer_value(json_object_get(e, "status")), 422);
            cr_assert(strstr(json_string_value(json_object_get(e, "detail")),
                             "sample #2: 0 of 40 model variants observed"));
            continue;
        }
        double score = json_number_value(json_object_get(s, "score"));
        cr_assert(score > 0 && score < 1);
        cr_assert_eq(
            json_array_size(json_object_get(json_object_get(s, "explanation"), "attributions")), 3);
    }
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(res, 2), "sample")), "c");
    cr_assert(strstr(json_string_value(json_array_get(json_object_get(r, "warnings"), 0)),
                     "1 of 3 samples are below the model's min_coverage"));
    json_decref(r);
    free(out1);
    free(out2);
    /* --allow-low-coverage scores it, marked; --impute mean fills its
     * features with their means (xgboost-json models default to none) */
    cr_assert_eq(run_cli(&out1, &err, NULL, "predict", "--model", XGB, "--input", in,
                         "--allow-low-coverage", "--compact", NULL),
                 0, "%s", err);
    free(err);
    r = json_loads(out1, 0, &je);
    json_t *b = json_array_get(json_object_get(r, "results"), 1);
    cr_assert(json_is_true(json_object_get(b, "low_coverage")));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(b, "coverage"), "missing")),
                 40);
    json_decref(r);
    free(out1);
    cr_assert_eq(run_cli(&out1, &err, NULL, "predict", "--model", XGB, "--input", in,
                         "--allow-low-coverage", "--impute", "mean", NULL),
                 0, "%s", err);
    free(err);
    r = json_loads(out1, 0, &je);
    b = json_array_get(json_object_get(r, "results"), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(b, "coverage"), "imputed")),
                 40);
    json_decref(r);
    free(out1);
    cr_assert_eq(run_cli(&out1, &err, NULL, "predict", "--model", XGB, "--input", in, "--impute",
                         "median", NULL),
                 2);
    cr_assert(strstr(err, "--impute: impute must be none"), "%s", err);
    free(out1);
    free(err);
    drop(in);
}

/* With --threads 2 or more the input is read, walked and read for each
 * model while the models load: whatever the models and the input, the same
 * exit code, output and messages as on one thread, in the same order (a
 * model's error before the input's). */
static void same_on_threads(const char *what, const char *const *args)
{
    const char *argv1[24], *argv3[24];
    size_t n = 0;
    for (; args[n]; n++)
        argv1[n] = argv3[n] = args[n];
    argv1[n] = NULL;
    argv3[n] = "--threads";
    argv3[n + 1] = "3";
    argv3[n + 2] = NULL;
    char *out1, *err1, *out3, *err3;
    int rc1 = run_cli_argv(&out1, &err1, NULL, argv1);
    int rc3 = run_cli_argv(&out3, &err3, NULL, argv3);
    cr_assert_eq(rc1, rc3, "%s: exit %d on one thread, %d on three (%s)", what, rc1, rc3, err3);
    cr_assert_str_eq(out1, out3, "%s", what);
    cr_assert_str_eq(err1, err3, "%s", what);
    free(out1), free(err1), free(out3), free(err3);
}

Test(cli, threads_read_the_input_while_the_models_load)
{
    char *in = in_file(request);
    char *bad_json = in_file("{\"samples\": [\n  {\"genotypes\": {\"f0\": 1,}}\n]}");
    char *bad_sample = in_file("{\"samples\":[{\"dosages\":[1]}]}");
    char *keyed = in_file("{\"samples\":[{\"id\":\"k\",\"genotypes\":{\"f0\":1,\"f3\":2,"
                          "\"f7\":\"0/1\",\"nope\":1}},{\"genotypes\":{\"f1\":null}}]}");
    /* a bundle whose features load but whose model does not */
    char *broken = temp_bundle("manifest.json",
                               "{\"name\":\"broken\",\"version\":\"1\",\"task\":"
                               "\"classification\",\"format\":\"xgboost-json\",\"artifact\":"
                               "\"model.json\",\"features\":\"features.tsv\",\"genome_build\":"
                               "\"GRCh38\"}",
                               "features.tsv", "feature_id\tchrom\tpos\tref\talt\nf0\t1\t1\tA\tG\n",
                               "model.json", "{\"learner\":", NULL);
    const char *ok[] = { "predict", "--model", XGB, "--input", in, NULL };
    const char *keys[] = { "predict", "--model", XGB, "--input", keyed, "--top-k", "0", NULL };
    const char *panel[] = { "predict",
                            "--model",
                            XGB,
                            "--model",
                            "tests/fixtures/sk_rf_clf",
                            "--model",
                            "tests/fixtures/pgs000001",
                            "--input",
                            keyed,
                            NULL };
    const char *syntax[] = { "predict", "--model", XGB, "--input", bad_json, NULL };
    const char *sample[] = { "predict", "--model", XGB, "--input", bad_sample, NULL };
    const char *model_first[] = { "predict", "--model", "/nonexistent", "--input", bad_json, NULL };
    const char *broken_model[] = {
        "predict", "--model", XGB, "--model", broken, "--input", in, NULL
    };
    const char *no_input[] = { "predict", "--model", XGB, "--input", "/nonexistent.json", NULL };
    same_on_threads("a request", ok);
    same_on_threads("genotype keys, unknown ones among them", keys);
    same_on_threads("a panel of three formats", panel);
    same_on_threads("invalid JSON", syntax);
    same_on_threads("a sample in error", sample);
    same_on_threads("a missing model and invalid JSON", model_first);
    same_on_threads("a model whose features load but not its trees", broken_model);
    same_on_threads("no input file", no_input);
    temp_bundle_free(broken);
    drop(in);
    drop(bad_json);
    drop(bad_sample);
    drop(keyed);
}

Test(cli, no_sample_with_enough_coverage_is_exit_4)
{
    char *in = in_file("{\"samples\":[{\"genotypes\":{}},{\"genotypes\":{\"rs9000001\":1}}]}");
    char *out, *err;
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", XGB, "--input", in, NULL), 4);
    cr_assert(strstr(err, "none of the 2 samples has enough of the model's variants"), "%s", err);
    cr_assert(strstr(err, "sample #1: 0 of 40"), "%s", err);
    free(out);
    free(err);
    drop(in);
    in = in_file("{\"samples\":[{\"genotypes\":{}}]}");
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", XGB, "--input", in, NULL), 4);
    cr_assert(strstr(err, "coverage: sample #1: 0 of 40 model variants observed (0.0%)"), "%s",
              err);
    free(out);
    free(err);
    drop(in);
}

Test(cli, stdin_and_output_file)
{
    char *in = in_file(request);
    char outpath[] = "/tmp/genorisk-cli-result-XXXXXX";
    int fd = mkstemp(outpath);
    close(fd);
    char *out, *err;
    cr_assert_eq(
        run_cli(&out, &err, in, "predict", "-m", XGB, "-i", "-", "-o", outpath, "--compact", NULL),
        0, "%s", err);
    cr_assert_str_eq(out, "");
    char *written = read_text(outpath);
    cr_assert(strchr(written, '\n') == written + strlen(written) - 1, "compact is one line");
    json_t *r = json_loads(written, 0, NULL);
    cr_assert(r);
    json_decref(r);
    free(written);
    free(out), free(err);
    unlink(outpath);
    drop(in);
}

Test(cli, bad_model_exits_3_naming_the_file)
{
    char *in = in_file(request);
    char *out, *err;
    cr_assert_eq(
        run_cli(&out, &err, NULL, "predict", "--model", "/nonexistent", "--input", in, NULL), 3);
    cr_assert(strstr(err, "/nonexistent/manifest.json"), "%s", err);
    free(out), free(err);
    char *dir = temp_bundle("manifest.json", "{\"name\":\"x\"}", NULL);
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", dir, "--input", in, NULL), 3);
    cr_assert(strstr(err, "manifest.json") && strstr(err, "version"), "%s", err);
    free(out), free(err);
    temp_bundle_free(dir);
    drop(in);
}

Test(cli, bad_input_exits_4_naming_line_and_field)
{
    char *in = in_file("{\"samples\": [\n  {\"genotypes\": {\"f0\": 1,}}\n]}");
    char *out, *err;
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", XGB, "--input", in, NULL), 4);
    cr_assert(strstr(err, in) && strstr(err, "invalid JSON at line 2"), "%s", err);
    cr_assert_str_eq(out, "");
    free(out), free(err);
    drop(in);
    in = in_file("{\"samples\":[{\"dosages\":[1]}]}");
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", XGB, "--input", in, NULL), 4);
    cr_assert(strstr(err, "samples[0].dosages") && strstr(err, "40 features"), "%s", err);
    free(out), free(err);
    drop(in);
    cr_assert_eq(
        run_cli(&out, &err, NULL, "predict", "--model", XGB, "--input", "/nonexistent.json", NULL),
        4);
    cr_assert(strstr(err, "cannot read input"), "%s", err);
    free(out), free(err);
    /* a byte-order mark, as Windows editors write, is skipped */
    in = in_file("\xEF\xBB\xBF{\"samples\":[{\"dosages\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
                 "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}");
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", XGB, "--input", in, NULL), 0, "%s",
                 err);
    free(out), free(err);
    drop(in);
}

Test(cli, parse_errors_do_not_echo_the_input)
{
    char *in =
        in_file("{\"samples\":[{\"id\":\"JOHN-DOE-1970\\q\",\"genotypes\":{\"rs1\":1.5e}}]}");
    char *out, *err;
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", XGB, "--input", in, NULL), 4);
    cr_assert(strstr(err, "invalid JSON"), "%s", err);
    cr_assert_null(strstr(err, "JOHN"), "%s", err);
    free(out), free(err);
    drop(in);
    in = in_file("{\"samples\":[{\"genotypes\":{\"rs1\":1.5e}}]}");
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", XGB, "--input", in, NULL), 4);
    cr_assert_null(strstr(err, "1.5e"), "%s", err);
    free(out), free(err);
    drop(in);
}

Test(cli, too_many_samples_is_bad_input)
{
    size_t n = 10001, cap = n * 20 + 64, len = 0;
    char *body = malloc(cap);
    len += (size_t)snprintf(body, cap, "{\"samples\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(body + len, cap - len, "%s{\"genotypes\":{}}", i ? "," : "");
    snprintf(body + len, cap - len, "]}");
    char *in = in_file(body);
    char *out, *err;
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", XGB, "--input", in, NULL), 4);
    cr_assert(strstr(err, "at most 10000"), "%s", err);
    free(out), free(err);
    drop(in);
    free(body);
}

Test(cli, models_validate_reports_every_bundle)
{
    char *dir = temp_bundle("manifest.json", "{}", NULL);
    char *out, *err;
    cr_assert_eq(
        run_cli(&out, &err, NULL, "models", "validate", XGB, dir, "tests/fixtures/pgs000001", NULL),
        3);
    cr_assert(strstr(out, "ok   " XGB ": xgb_clf 1.0.0"), "%s", out);
    cr_assert(strstr(out, "FAIL ") && strstr(out, "required key is missing"), "%s", out);
    cr_assert(strstr(out, "ok   tests/fixtures/pgs000001"), "%s", out);
    free(out), free(err);
    temp_bundle_free(dir);
    cr_assert_eq(run_cli(&out, &err, NULL, "models", "validate", XGB, NULL), 0);
    free(out), free(err);
}

/* A reference population bundle (reference.json, no manifest) is
 * validated as one: the image checks every directory of models/ so. */
Test(cli, models_validate_knows_reference_bundles)
{
    char *dir = temp_bundle("reference.json", "{\"format\": \"genorisk-reference\"}", NULL);
    char *out, *err;
    cr_assert_eq(run_cli(&out, &err, NULL, "models", "validate", "models/demo-reference",
                         "tests/fixtures/ref_tiny", NULL),
                 0);
    cr_assert(strstr(out, "ok   models/demo-reference: reference population demo-reference, 5 "
                          "populations, 300 projection variants, 1 score"),
              "%s", out);
    cr_assert(strstr(out, "ok   tests/fixtures/ref_tiny: reference population ref_tiny"), "%s",
              out);
    free(out), free(err);
    cr_assert_eq(run_cli(&out, &err, NULL, "models", "validate", dir, NULL), 3);
    cr_assert(strstr(out, "FAIL ") && strstr(out, "reference.json: name"), "%s", out);
    free(out), free(err);
    temp_bundle_free(dir);
}

Test(cli, models_show_prints_metadata)
{
    char *out, *err;
    cr_assert_eq(run_cli(&out, &err, NULL, "models", "show", XGB, NULL), 0);
    json_t *o = json_loads(out, 0, NULL);
    cr_assert(o);
    cr_assert_str_eq(json_string_value(json_object_get(o, "name")), "xgb_clf");
    cr_assert_eq(json_integer_value(json_object_get(o, "n_trees")), 30);
    cr_assert_str_eq(json_string_value(json_object_get(o, "format")), "xgboost-json");
    json_decref(o);
    free(out), free(err);
}

Test(cli, demo_models_predict_their_examples)
{
    const char *demos[] = { "models/cad-xgb-demo", "models/cad-rf-demo", "models/cad-pgs-demo",
                            "models/cad-logit-demo" };
    for (size_t i = 0; i < sizeof demos / sizeof *demos; i++) {
        char example[256];
        snprintf(example, sizeof example, "%s/example.json", demos[i]);
        char *out, *err;
        cr_assert_eq(
            run_cli(&out, &err, NULL, "predict", "--model", demos[i], "--input", example, NULL), 0,
            "%s: %s", demos[i], err);
        json_t *r = json_loads(out, 0, NULL);
        cr_assert(r && json_array_size(json_object_get(r, "results")) >= 1, "%s", demos[i]);
        json_decref(r);
        free(out), free(err);
    }
}

/* A VCF file's header is measured before htslib reads it, offline too: an
 * IDX attribute claiming 268 million entries (4 GB of htslib dictionary) is
 * bad input, exit 4, however large a header the CLI otherwise accepts. */
Test(cli, vcf_header_idx_claims_are_bad_input)
{
    char *in = in_file("##fileformat=VCFv4.2\n##contig=<ID=1,IDX=268435455>\n"
                       "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
                       "1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n");
    char *out, *err;
    cr_assert_eq(
        run_cli(&out, &err, NULL, "predict", "--model", "models/cad-pgs-demo", "--vcf", in, NULL),
        4, "%s", err);
    cr_assert(strstr(err, "IDX=268435455 attribute"), "%s", err);
    free(out), free(err);
    drop(in);
}

/* The next ```text block of doc after *at; returns a new string and moves
 * *at past it. */
static char *next_block(const char **at)
{
    const char *b = strstr(*at, "```text\n");
    cr_assert(b, "docs/vcf-matching.md lost a ```text block of its worked example");
    b += 8;
    const char *e = strstr(b, "```");
    cr_assert(e);
    *at = e + 3;
    return strndup(b, (size_t)(e - b));
}

static double score_of(const char *json, const char *sample)
{
    json_t *r = json_loads(json, 0, NULL);
    cr_assert(r, "%s", json);
    double v = NAN;
    json_t *res = json_object_get(r, "results");
    for (size_t i = 0; i < json_array_size(res); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(res, i), "sample")), sample))
            v = json_number_value(json_object_get(json_array_get(res, i), "score"));
    json_decref(r);
    return v;
}

/* docs/vcf-matching.md's worked example, run as the page says: the scores
 * the page states must be the CLI's. */
Test(cli, the_vcf_worked_example_scores_as_documented)
{
    char *doc = read_text("docs/vcf-matching.md");
    const char *at = strstr(doc, "## Worked example");
    cr_assert(at);
    char *score = next_block(&at), *vcf = next_block(&at);
    double m, f, m_ref, f_ref, m_gt;
    const char *line = strstr(at, "Scores: M ");
    cr_assert(line && sscanf(line, "Scores: M %lf, F %lf (with `absent=ref`: %lf and %lf)", &m, &f,
                             &m_ref, &f_ref) == 4,
              "the page's Scores line changed shape");
    const char *gt = strstr(at, "With `--genotype gt`");
    cr_assert(gt && (gt = strstr(gt, "M\nscores ")) && sscanf(gt, "M\nscores %lf", &m_gt) == 1);
    char *dir =
        temp_bundle("manifest.json",
                    "{\"name\":\"we\",\"version\":\"1\",\"task\":\"regression\",\"format\":"
                    "\"pgs-catalog\",\"artifact\":\"score.txt\",\"genome_build\":\"GRCh38\","
                    "\"min_coverage\":0.5}",
                    "score.txt", score, "example.vcf", vcf, NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/example.vcf", dir);
    struct {
        const char *flag, *value;
        double m, f;
    } runs[] = { { "--top-k", "0", m, f },
                 { "--absent", "ref", m_ref, f_ref },
                 { "--genotype", "gt", m_gt, NAN } };
    for (size_t i = 0; i < 3; i++) {
        char *out, *err;
        cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", dir, "--vcf", path, "--policy",
                             "trained", runs[i].flag, runs[i].value, NULL),
                     0, "%s", err);
        cr_assert_float_eq(score_of(out, "M"), runs[i].m, 1e-12, "%s %s: M", runs[i].flag,
                           runs[i].value);
        if (!isnan(runs[i].f))
            cr_assert_float_eq(score_of(out, "F"), runs[i].f, 1e-12, "%s %s: F", runs[i].flag,
                               runs[i].value);
        free(out);
        free(err);
    }
    temp_bundle_free(dir);
    free(score);
    free(vcf);
    free(doc);
}

/* models/demo.vcf.gz, which the README's VCF examples use, covers every
 * demo model: each sample at 90% of its variants or more. */
Test(cli, the_demo_vcf_covers_every_demo_model)
{
    const char *models[] = { "models/cad-xgb-demo", "models/cad-rf-demo", "models/cad-logit-demo",
                             "models/cad-pgs-demo" };
    for (size_t i = 0; i < 4; i++) {
        char *out, *err;
        cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", models[i], "--vcf",
                             "models/demo.vcf.gz", "--explain", "false", NULL),
                     0, "%s: %s", models[i], err);
        json_t *r = json_loads(out, 0, NULL);
        json_t *res = json_object_get(r, "results");
        cr_assert_eq(json_array_size(res), 4, "%s", models[i]);
        for (size_t s = 0; s < 4; s++) {
            json_t *cov = json_object_get(json_array_get(res, s), "coverage");
            double seen = (double)json_integer_value(json_object_get(cov, "observed")),
                   all = (double)json_integer_value(json_object_get(cov, "expected"));
            cr_assert_geq(seen / all, 0.9, "%s sample %zu: %g of %g", models[i], s, seen, all);
        }
        json_decref(r);
        free(out);
        free(err);
    }
}

/* The soft and hard "Max core file size" of pid (-1: unlimited); 0 when
 * /proc/PID/limits has the line. */
static int core_limits(pid_t pid, long long *soft, long long *hard)
{
    char path[64], line[256], a[32], b[32];
    snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
    FILE *f = fopen(path, "r");
    int found = -1;
    while (f && found && fgets(line, sizeof line, f))
        if (sscanf(line, "Max core file size %31s %31s", a, b) == 2) {
            *soft = strcmp(a, "unlimited") ? atoll(a) : -1;
            *hard = strcmp(b, "unlimited") ? atoll(b) : -1;
            found = 0;
        }
    if (f)
        fclose(f);
    return found;
}

Test(cli, never_dumps_core)
{
    struct rlimit rl; /* whatever this process allows, the CLI allows nothing */
    cr_assert_eq(getrlimit(RLIMIT_CORE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_CORE, &rl), 0);
    const char *cli = getenv("GENORISK_CLI") ? getenv("GENORISK_CLI") : "build/genorisk";
    int in[2];
    cr_assert_eq(pipe(in), 0);
    pid_t pid = fork();
    if (pid == 0) { /* it waits for its input on the pipe, which stays open */
        int null = open("/dev/null", O_WRONLY);
        dup2(in[0], 0);
        dup2(null, 1);
        dup2(null, 2);
        close(in[1]);
        execl(cli, cli, "predict", "--model", XGB, "--input", "-", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    long long soft = -2, hard = -2;
    /* until it has gone through main's first lines (5 s at most) */
    for (int i = 0; i < 500 && !(soft == 0 && hard == 0); i++) {
        core_limits(pid, &soft, &hard);
        nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
    }
    close(in[1]);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(soft == 0 && hard == 0, "Max core file size %lld %lld (-1: unlimited)", soft, hard);
}

/* A panel of two PGS read from one VCF, in the three formats, with the
 * variant log; two scores with opposite effect alleles at one variant are
 * each scored on their own allele, and the table counts that record once. */
static const char panel_vcf[] = "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
                                "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
                                "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
                                "1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1\t1/1\n"
                                "1\t200\t.\tC\tT\t.\t.\t.\tGT\t0/0\t0/1\n";
#define PANEL_MANIFEST(n)                                                                          \
    "{\"name\":\"" n "\",\"version\":\"1\",\"task\":\"regression\",\"format\":\"pgs-catalog\","    \
    "\"artifact\":\"s.txt\",\"genome_build\":\"GRCh38\"}"

Test(cli, a_panel_in_every_format_with_its_variant_log)
{
    char *a = temp_bundle("manifest.json", PANEL_MANIFEST("a"), "s.txt",
                          "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
                          "1\t100\tG\tA\t1\n1\t200\tT\tC\t10\n",
                          "p.vcf", panel_vcf, NULL);
    char *b = temp_bundle("manifest.json", PANEL_MANIFEST("b"), "s.txt",
                          "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
                          "1\t100\tA\tG\t100\n",
                          NULL);
    char vcf[600], log[600], *out, *err;
    snprintf(vcf, sizeof vcf, "%s/p.vcf", a);
    snprintf(log, sizeof log, "%s/log.tsv", a);
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", a, "--model", b, "--vcf", vcf,
                         "--format", "sscore", "--variant-log", log, NULL),
                 0, "%s", err);
    /* S1: a = 1 (G) + 0 = 1, b = 100 x 1 (A); S2: a = 2 + 10, b = 0; two records */
    cr_assert_str_eq(out, "#FID\tIID\tALLELE_CT\tDENOM\tNAMED_ALLELE_DOSAGE_SUM\ta_AVG\tb_AVG\t"
                          "a_SUM\tb_SUM\n"
                          "S1\tS1\t4\t4\t1\t0.25\t25\t1\t100\n"
                          "S2\tS2\t4\t4\t3\t3\t0\t12\t0\n");
    free(out);
    free(err);
    char *text = read_text(log);
    cr_assert(strstr(text, "model\tfeature\tchrom\tpos\teffect_allele\tother_allele\tstatus\t"
                           "match\tambiguous\tmultiallelic\trecord\treason\n"),
              "%s", text);
    cr_assert(strstr(text, "\t1\t100\tA\tG\tmatched\taltref\tfalse\tfalse\t1:100:A:G\t\n"), "%s",
              text);
    free(text);
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", a, "--model", b, "--vcf", vcf,
                         "--format", "tsv", "--sampleset", "demo", NULL),
                 0, "%s", err);
    cr_assert_str_eq(out, "sampleset\tFID\tIID\tPGS\tSUM\tDENOM\tAVG\n"
                          "demo\tS1\tS1\ta\t1\t4\t0.25\n"
                          "demo\tS1\tS1\tb\t100\t2\t50\n"
                          "demo\tS2\tS2\ta\t12\t4\t3\n"
                          "demo\tS2\tS2\tb\t0\t2\t0\n");
    free(out);
    free(err);
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", a, "--model", b, "--vcf", vcf,
                         "--compact", "--explain", "false", NULL),
                 0, "%s", err);
    json_t *doc = json_loads(out, 0, NULL);
    cr_assert(doc, "%s", out);
    json_t *models = json_object_get(doc, "models");
    cr_assert_eq(json_array_size(models), 2);
    json_t *match = json_object_get(json_array_get(models, 1), "match");
    cr_assert_eq(json_integer_value(json_object_get(match, "matched")), 1);
    cr_assert(json_is_true(json_object_get(match, "passes")));
    json_decref(doc);
    free(out);
    free(err);
    temp_bundle_free(a);
    temp_bundle_free(b);
}

Test(cli, panel_and_format_usage_errors)
{
    char *out, *err;
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", XGB, "--input", "x.json",
                         "--format", "csv", NULL),
                 2);
    cr_assert(strstr(err, "--format: 'csv' is not one of json, sscore, tsv"), "%s", err);
    free(out);
    free(err);
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", XGB, "--input", "x.json",
                         "--policy", "pgs", NULL),
                 2);
    cr_assert(strstr(err, "--policy: policy must be pgsc"), "%s", err);
    free(out);
    free(err);
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", XGB, "--input", "x.json",
                         "--variant-log", "l.tsv", NULL),
                 2);
    cr_assert(strstr(err, "--variant-log and --no-index go with --vcf"), "%s", err);
    free(out);
    free(err);
    char *in = in_file(request);
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", XGB, "--input", in, "--format",
                         "sscore", NULL),
                 4);
    cr_assert(strstr(err, "the sscore and tsv formats are for PGS models"), "%s", err);
    free(out);
    free(err);
    drop(in);
}

/* A failed run removes its half-written answer, but only a regular file:
 * --output /dev/null (here a link to it) survives (the CLI, run as root
 * by a benchmark whose score fell under min_coverage, deleted /dev/null). */
Test(cli, a_failed_run_removes_only_a_regular_output_file)
{
    char dir[] = "/tmp/genorisk-out-XXXXXX", link[300], file[300];
    cr_assert(mkdtemp(dir));
    snprintf(link, sizeof link, "%s/to-null", dir);
    snprintf(file, sizeof file, "%s/answer.tsv", dir);
    cr_assert_eq(symlink("/dev/null", link), 0);
    char *in = in_file(request), *out, *err;
    struct stat st;
    for (int i = 0; i < 2; i++) {
        const char *target = i ? file : link;
        /* sscore of an XGBoost model fails after the output is opened */
        cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", XGB, "--input", in, "--format",
                             "sscore", "--output", target, NULL),
                     4);
        free(out);
        free(err);
    }
    cr_assert_eq(lstat(link, &st), 0, "the link to /dev/null was removed");
    cr_assert_eq(stat("/dev/null", &st), 0);
    cr_assert(S_ISCHR(st.st_mode), "/dev/null is no longer a device");
    cr_assert_neq(lstat(file, &st), 0, "a regular file half written is removed");
    unlink(link);
    rmdir(dir);
    drop(in);
}

/* --group-by: the query parameter's rule (one function in api/): groups
 * from PGS000001's locus_name; a value that is no choice, or a model naming
 * no gene, is a usage error (exit 2) that says why; the body's group_by
 * for a model naming none is bad input (exit 4). */
Test(cli, group_by_sums_attributions_per_locus)
{
    char *in = in_file("{\"samples\":[{\"id\":\"s\",\"genotypes\":{\"rs78540526\":2,"
                       "\"rs75915166\":1,\"rs7726159\":2,\"rs10069690\":1}}],\"top_k\":2}");
    char *out, *err;
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", "tests/fixtures/pgs000001",
                         "--input", in, "--allow-low-coverage", "--group-by", "locus", NULL),
                 0, "%s", err);
    json_error_t je;
    json_t *r = json_loads(out, 0, &je);
    cr_assert(r, "%s", je.text);
    json_t *ex = json_object_get(json_array_get(json_object_get(r, "results"), 0), "explanation");
    json_t *groups = json_object_get(ex, "groups");
    cr_assert_eq(json_array_size(groups), 2, "top_k applies to groups");
    json_t *g0 = json_array_get(groups, 0);
    cr_assert_str_eq(json_string_value(json_object_get(g0, "group")), "CCND1");
    cr_assert_eq(json_integer_value(json_object_get(g0, "features")), 3);
    /* CCND1: rs78540526 (2 copies) and rs75915166 (1) of the scoring file's weights */
    cr_assert_float_eq(json_number_value(json_object_get(g0, "value")),
                       2 * 0.16220388 + 0.023618866, 1e-12);
    json_decref(r);
    free(out), free(err);

    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", "tests/fixtures/pgs000001",
                         "--input", in, "--group-by", "pathway", NULL),
                 2);
    cr_assert(strstr(err, "--group-by: group_by must be none, locus") && strstr(err, "gene"), "%s",
              err);
    free(out), free(err);
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", "tests/fixtures/pgs000001",
                         "--input", in, "--group-by", "gene", NULL),
                 2);
    cr_assert(strstr(err, "model pgs000001 names no gene"), "%s", err);
    cr_assert_eq(out[0], '\0', "nothing is scored");
    free(out), free(err);
    drop(in);

    in = in_file("{\"samples\":[{\"genotypes\":{\"rs78540526\":2}}],\"group_by\":\"gene\"}");
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", "tests/fixtures/pgs000001",
                         "--input", in, "--allow-low-coverage", NULL),
                 4);
    cr_assert(strstr(err, "group_by: group_by=gene: model pgs000001 names no gene"), "%s", err);
    free(out), free(err);
    /* the flag wins over the body */
    cr_assert_eq(run_cli(&out, &err, NULL, "predict", "--model", "tests/fixtures/pgs000001",
                         "--input", in, "--allow-low-coverage", "--group-by", "locus", NULL),
                 0, "%s", err);
    cr_assert(strstr(out, "\"group\": \"CCND1\""), "%s", out);
    free(out), free(err);
    drop(in);
}
