/* fuzz_predict_json.c - libFuzzer harness for the predict request body
 * (api/predict_json.c, api/json_scan.c): the input is a request body, read
 * as the HTTP route does it (nesting depth 32, strings of 64 KiB, the daemon's
 * defaults) and, when it is JSON, turned into predictions and a response by
 * each of the four demo models under models/ (linear, PGS, random forest,
 * XGBoost), at most 8 samples a request. Differentially: the reader on
 * three threads reads as on one, and the fast reader (api/json_sample.c)
 * reads as the complete one, jansson's (the body with each "id" spelled
 * "\u0069d", which the fast one leaves to the complete one). */
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

/* Two reads of the same request agree, to the bit of each dosage. */
static void same(gr_status sa, const gr_error *ea, gr_api_request *a, gr_status sb,
                 const gr_error *eb, gr_api_request *b, const char *what)
{
    if (sa != sb || strcmp(ea->text, eb->text) || strcmp(ea->field, eb->field))
        gr_fuzz_fail(what);
    if (sa)
        return;
    size_t nf = a->n_features;
    double *xa = malloc((nf + 1) * sizeof *xa), *xb = malloc((nf + 1) * sizeof *xb);
    if (!xa || !xb || a->n_samples != b->n_samples || !json_equal(a->ids, b->ids) ||
        !json_equal(a->warnings, b->warnings))
        gr_fuzz_fail(what);
    for (size_t i = 0; i < a->n_samples; i++) {
        gr_api_request_dosages(a, i, xa);
        gr_api_request_dosages(b, i, xb);
        if (memcmp(xa, xb, nf * sizeof *xa) ||
            memcmp(&a->match[i], &b->match[i], sizeof *a->match) || a->keyed[i] != b->keyed[i])
            gr_fuzz_fail(what);
    }
    free(xa);
    free(xb);
}

/* data with each "id" spelled "\u0069d" (the same JSON string wherever it
 * is one), new; NULL when it has none. */
static char *id_escaped(const uint8_t *data, size_t size, size_t *len)
{
    size_t n = 0;
    for (size_t i = 0; i + 4 <= size; i++)
        n += !memcmp(data + i, "\"id\"", 4);
    char *out = n ? malloc(size + 5 * n) : NULL;
    if (!out)
        return NULL;
    *len = 0;
    for (size_t i = 0; i < size;) {
        if (i + 4 <= size && !memcmp(data + i, "\"id\"", 4)) {
            memcpy(out + *len, "\"\\u0069d\"", 9);
            *len += 9;
            i += 4;
        } else {
            out[(*len)++] = (char)data[i++];
        }
    }
    return out;
}

static void differ(int i, const uint8_t *data, size_t size)
{
    gr_api_limits lim = { .max_samples = 8, .max_depth = 32, .max_string = 65536 };
    gr_api_request one, three;
    gr_error e1, e3;
    gr_error_clear(&e1);
    gr_error_clear(&e3);
    gr_status s1 = gr_api_request_read(models[i], (const char *)data, size, &lim, &one, &e1);
    gr_status s3 =
        gr_api_request_read_threads(models[i], (const char *)data, size, &lim, 3, &three, &e3);
    same(s1, &e1, &one, s3, &e3, &three, "three threads read otherwise than one");
    gr_api_request_clear(&three);
    size_t len;
    char *esc = id_escaped(data, size, &len);
    if (esc && (s1 == GR_OK || s1 == GR_EINPUT)) { /* syntax errors would be elsewhere */
        gr_status se = gr_api_request_read(models[i], esc, len, &lim, &three, &e3);
        same(s1, &e1, &one, se, &e3, &three, "the fast reader and jansson's disagree");
        gr_api_request_clear(&three);
    }
    free(esc);
    gr_api_request_clear(&one);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!models[0])
        setup();
    for (int i = 0; i < N_MODELS; i++)
        predict(i, data, size);
    agree(data, size);
    differ(0, data, size);
    differ(1, data, size);
    return 0;
}
