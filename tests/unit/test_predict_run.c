/* test_predict_run.c - the pipeline's batching and threads (api/
 * predict_run.c, predict_threads.c): several requests' samples predicted
 * together (gr_api_predict_jobs, the daemon's dynamic batching) answer
 * exactly what each request answers alone, with its own settings, for
 * forests and linear models alike; a job's samples on several threads
 * make the document one thread makes, byte for byte. */
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

/* A body of `samples` samples whose genotypes are drawn from seed (about
 * one in seven missing); returns new text, its length in *len. */
static char *body_of(const gr_model *m, unsigned seed, size_t samples, size_t *len)
{
    const gr_model_info *in = gr_model_get_info(m);
    size_t cap = 64 + samples * (40 + in->n_features * 48), n = 0;
    char *body = malloc(cap);
    n += (size_t)snprintf(body + n, cap - n, "{\"samples\":[");
    for (size_t i = 0; i < samples; i++) {
        n += (size_t)snprintf(body + n, cap - n, "%s{\"id\":\"S%u\",\"genotypes\":{", i ? "," : "",
                              seed + (unsigned)i);
        int first = 1;
        for (size_t j = 0; j < in->n_features; j++) {
            unsigned r = ((seed + (unsigned)i) * 2654435761u + (unsigned)j * 40503u) >> 7;
            if (r % 7 == 0)
                continue; /* missing: imputed or not, by the settings */
            n += (size_t)snprintf(body + n, cap - n, "%s\"%s\":%u", first ? "" : ",",
                                  gr_model_feature(m, j)->id, r % 3);
            first = 0;
        }
        n += (size_t)snprintf(body + n, cap - n, "}}");
    }
    n += (size_t)snprintf(body + n, cap - n, "]}");
    *len = n;
    return body;
}

static void request(one *o, const gr_model *m, unsigned seed, long top_k, int explain, int impute)
{
    size_t n;
    char *body = body_of(m, seed, 1, &n);
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

static int to_buf(void *arg, const char *bytes, size_t n)
{
    gr_buf *b = arg;
    char *s = realloc(b->s, b->len + n + 1);
    if (!s)
        return 1;
    memcpy(s + b->len, bytes, n);
    b->s = s;
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

/* 600 samples (three chunks of 256, the last short) on 1 to 4 threads,
 * compact and indented: one document, byte for byte. */
Test(predict_run, threads_write_the_document_one_thread_writes)
{
    gr_model *m = NULL;
    cr_assert_eq(gr_model_load("models/cad-xgb-demo", &m, NULL), GR_OK);
    size_t n;
    char *body = body_of(m, 7, 600, &n);
    gr_api_request req;
    gr_api_limits lim = { .max_samples = 1000 };
    gr_error err;
    cr_assert_eq(gr_api_request_read(m, body, n, &lim, &req, &err), GR_OK, "%s", err.text);
    for (int pretty = 0; pretty < 2; pretty++) {
        gr_buf want = { 0 };
        gr_api_job job;
        gr_api_job_init(&job, m, &req, NULL, NULL);
        cr_assert_eq(gr_api_predict_write(&job, pretty, NULL, to_buf, &want, &err), GR_OK, "%s",
                     err.text);
        for (int t = 1; t <= 4; t++) {
            gr_buf got = { 0 };
            cr_assert_eq(gr_api_predict_write_threads(&job, pretty, t, NULL, to_buf, &got, &err),
                         GR_OK, "%s", err.text);
            cr_assert_eq(got.len, want.len, "%d threads, pretty %d", t, pretty);
            cr_assert(!memcmp(got.s, want.s, want.len), "%d threads, pretty %d", t, pretty);
            free(got.s);
        }
        free(want.s);
    }
    gr_api_request_clear(&req);
    free(body);
    gr_model_free(m);
}

static int stop_now(void *arg)
{
    (void)arg;
    return 1;
}

/* A stop asked for while threads work ends the answer with an error, not a
 * document with samples missing. */
Test(predict_run, a_stop_ends_a_threaded_answer_with_an_error)
{
    gr_model *m = NULL;
    cr_assert_eq(gr_model_load("models/cad-xgb-demo", &m, NULL), GR_OK);
    size_t n;
    char *body = body_of(m, 3, 300, &n);
    gr_api_request req;
    gr_api_limits lim = { .max_samples = 1000 };
    gr_error err;
    cr_assert_eq(gr_api_request_read(m, body, n, &lim, &req, &err), GR_OK, "%s", err.text);
    gr_api_job job;
    gr_api_job_init(&job, m, &req, NULL, NULL);
    job.stop = stop_now;
    gr_buf got = { 0 };
    cr_assert_eq(gr_api_predict_write_threads(&job, 0, 2, NULL, to_buf, &got, &err), GR_EIO);
    cr_assert(strstr(err.text, "stopped"), "%s", err.text);
    free(got.s);
    job.stop = NULL;
    got = (gr_buf){ 0 };
    cr_assert_eq(gr_api_predict_write_threads(&job, 0, 3, NULL, to_buf, &got, &err), GR_OK);
    free(got.s);
    gr_api_request_clear(&req);
    free(body);
    gr_model_free(m);
}
