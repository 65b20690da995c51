/* fuzz_predict_json.c - libFuzzer harness for the predict request body
 * (api/predict_json.c, api/json_scan.c): the input is a request body, read
 * as the HTTP route does it (nesting depth 32, strings of 64 KiB, the daemon's
 * defaults) and, when it is JSON, turned into predictions and a response by
 * each of the four demo models under models/ (linear, PGS, random forest,
 * XGBoost), at most 8 samples a request. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/predict_run.h"
#include "tests/fuzz/common.h"

#define N_MODELS 4

static gr_model *models[N_MODELS];

static void setup(void)
{
    static const char *const dirs[N_MODELS] = { "models/cad-logit-demo", "models/cad-pgs-demo",
                                                "models/cad-rf-demo", "models/cad-xgb-demo" };
    gr_fuzz_quiet();
    for (int i = 0; i < N_MODELS; i++)
        models[i] = gr_fuzz_model(dirs[i]);
}

static void teardown(void)
{
    for (int i = 0; i < N_MODELS; i++)
        gr_model_free(models[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setup();
    atexit(teardown);
    return 0;
}

/* What the HTTP route does with a body for model i: every sample, and
 * every other one scored whatever its coverage. */
static void predict(int i, const uint8_t *data, size_t size)
{
    const gr_model *m = models[i];
    gr_api_limits lim = { .max_samples = 8, .max_depth = 32, .max_string = 65536 };
    gr_api_request req;
    gr_error err;
    gr_error_clear(&err);
    gr_status st = gr_api_request_read(m, (const char *)data, size, &lim, &req, &err);
    if (!st) {
        gr_api_settings given = gr_api_settings_unset();
        given.allow_low_coverage = (int)(size & 1);
        gr_api_job job;
        gr_api_job_init(&job, m, &req, NULL, &given);
        json_t *doc = NULL;
        st = gr_api_predict_all(&job, &doc, &err);
        if (!st) {
            char *text = gr_api_json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
            if (!text)
                gr_fuzz_fail("a response that does not serialise");
            free(text);
        } else if (doc) {
            gr_fuzz_fail("a failed prediction left a response");
        }
        json_decref(doc);
    }
    if (st == GR_ENOMEM) /* small inputs: memory never runs out */
        gr_fuzz_fail("out of memory reported for something else");
    if (st && !err.text[0])
        gr_fuzz_fail("an error without a reason");
    gr_api_request_clear(&req);
}

/* The reader and jansson agree on what is JSON: a text read whole is JSON
 * to jansson, and JSON to jansson is never a syntax error to the reader
 * (without the limits, which jansson does not have). */
static void agree(const uint8_t *data, size_t size)
{
    gr_api_request req;
    gr_error err;
    gr_api_limits lim = { .max_samples = 8, .max_depth = 32, .max_string = 65536 };
    gr_status st = gr_api_request_read(models[0], (const char *)data, size, &lim, &req, &err);
    gr_api_request_clear(&req);
    gr_status bare = gr_api_request_read(models[0], (const char *)data, size, NULL, &req, &err);
    gr_api_request_clear(&req);
    json_error_t je;
    json_t *doc = gr_api_json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (st == GR_OK && !doc)
        gr_fuzz_fail("a text jansson refuses was read as JSON");
    if (doc && bare == GR_ESYNTAX)
        gr_fuzz_fail("JSON that jansson reads was called malformed");
    json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!models[0])
        setup();
    for (int i = 0; i < N_MODELS; i++)
        predict(i, data, size);
    agree(data, size);
    return 0;
}
