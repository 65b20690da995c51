/* test_predict_run.c - the pipeline's batching (api/predict_run.c): several
 * requests' samples predicted together (gr_api_predict_jobs, the daemon's
 * dynamic batching) answer exactly what each request answers alone, with
 * its own settings, for forests and linear models alike. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/predict_json.h"
#include "api/predict_run.h"
#include "helpers.h"

/* One single-sample request: genotypes drawn from seed, settings from
 * top_k / explain / impute (-1: not given). */
typedef struct {
    gr_api_request req;
    gr_api_job job;
} one;

static void request(one *o, const gr_model *m, unsigned seed, long top_k, int explain, int impute)
{
    const gr_model_info *in = gr_model_get_info(m);
    size_t cap = 64 + in->n_features * 48, n = 0;
    char *body = malloc(cap);
    n += (size_t)snprintf(body + n, cap - n, "{\"samples\":[{\"id\":\"S%u\",\"genotypes\":{", seed);
    for (size_t j = 0; j < in->n_features; j++) {
        unsigned r = (seed * 2654435761u + (unsigned)j * 40503u) >> 7;
        if (r % 7 == 0)
            continue; /* missing: imputed or not, by the settings */
        n += (size_t)snprintf(body + n, cap - n, "%s\"%s\":%u", n && body[n - 1] != '{' ? "," : "",
                              gr_model_feature(m, j)->id, r % 3);
    }
    n += (size_t)snprintf(body + n, cap - n, "}}]}");
    gr_api_limits lim = { .max_samples = 1 };
    gr_error err;
    cr_assert_eq(gr_api_request_read(m, body, n, &lim, &o->req, &err), GR_OK, "%s", err.text);
    gr_api_settings given = gr_api_settings_unset();
    given.top_k = top_k;
    given.explain = explain;
    given.impute = impute;
    given.allow_low_coverage = 1;
    gr_api_job_init(&o->job, m, &o->req, NULL, &given);
    free(body);
}

/* The job's one result, predicted alone, as text (new). */
static char *alone(const gr_api_job *job)
{
    gr_buf res[1] = { { 0 } };
    gr_error err;
    cr_assert_eq(gr_api_predict_range(job, 0, 1, res, &err), GR_OK, "%s", err.text);
    cr_assert(res[0].len > 0);
    return res[0].s;
}

static void batch_equals_alone(const char *bundle)
{
    gr_model *m = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load(bundle, &m, &err), GR_OK, "%s", err.text);
    enum { N = 8 };
    one o[N];
    const long tops[N] = { 10, 0, 3, -1, 10, 1, 5, 10 };
    const int explains[N] = { 1, 1, 1, -1, 0, 1, 1, 1 };
    const int imputes[N] = { -1, GR_IMPUTE_NONE, GR_IMPUTE_MEAN, -1, -1, GR_IMPUTE_NONE, -1, -1 };
    const gr_api_job *jobs[N];
    for (int k = 0; k < N; k++) {
        request(&o[k], m, (unsigned)k + 1, tops[k], explains[k], imputes[k]);
        jobs[k] = &o[k].job;
    }
    for (size_t n = 1; n <= N; n++) {
        gr_buf res[N] = { { 0 } };
        gr_status st[N];
        gr_error errs[N];
        cr_assert_eq(gr_api_predict_jobs(jobs, n, res, st, errs), n);
        for (size_t k = 0; k < n; k++) {
            cr_assert_eq(st[k], GR_OK);
            char *want = alone(jobs[k]);
            cr_assert_str_eq(res[k].s, want, "%s: %zu jobs, job %zu", bundle, n, k);
            free(want);
            free(res[k].s);
        }
    }
    for (int k = 0; k < N; k++)
        gr_api_request_clear(&o[k].req);
    gr_model_free(m);
}

Test(predict_run, batched_requests_answer_as_each_alone_xgboost)
{
    batch_equals_alone("models/cad-xgb-demo");
}

Test(predict_run, batched_requests_answer_as_each_alone_forest)
{
    batch_equals_alone("models/cad-rf-demo");
}

Test(predict_run, batched_requests_answer_as_each_alone_linear)
{
    batch_equals_alone("models/cad-logit-demo");
}

/* A job of another model in the batch is refused on its own; the others
 * are answered. */
Test(predict_run, a_job_of_another_model_is_refused_alone)
{
    gr_model *a = NULL, *b = NULL;
    cr_assert_eq(gr_model_load("models/cad-xgb-demo", &a, NULL), GR_OK);
    cr_assert_eq(gr_model_load("models/cad-rf-demo", &b, NULL), GR_OK);
    one o[3];
    request(&o[0], a, 1, 10, 1, -1);
    request(&o[1], b, 2, 10, 1, -1);
    request(&o[2], a, 3, 10, 1, -1);
    const gr_api_job *jobs[3] = { &o[0].job, &o[1].job, &o[2].job };
    gr_buf res[3] = { { 0 } };
    gr_status st[3];
    gr_error errs[3];
    cr_assert_eq(gr_api_predict_jobs(jobs, 3, res, st, errs), 2);
    cr_assert_eq(st[1], GR_EINVAL);
    cr_assert_eq(res[1].len, 0);
    cr_assert(strstr(errs[1].text, "one model"), "%s", errs[1].text);
    for (int k = 0; k < 3; k += 2) {
        char *want = alone(jobs[k]);
        cr_assert_str_eq(res[k].s, want);
        free(want);
        free(res[k].s);
    }
    for (int k = 0; k < 3; k++)
        gr_api_request_clear(&o[k].req);
    gr_model_free(a);
    gr_model_free(b);
}
