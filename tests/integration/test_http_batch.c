/* test_http_batch.c - dynamic batching (--batch-max, --batch-wait-us): one
 * worker and many clients at once, so one-sample predicts of one model queue
 * and run together; each client must still get its own sample's answer, with
 * its own settings, and a bad body among them its own error. With
 * --batch-max 1 no batch is run. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/daemon.h"

TestSuite(http_batch, .fini = itest_cleanup, .timeout = 60);

#define BATCH_PREDICT "/v1/models/cad-xgb-demo/predict"
#define B_THREADS 8
#define B_EACH 12

/* Request k of the run: its body, and what its answer must hold. */
typedef struct {
    char *body;
    int kind; /* 0: explain, top_k 3; 1: explain false; 2: two samples; 3: bad JSON */
    size_t sample;
} b_case;

typedef struct {
    const daemon_t *d;
    int t;
    b_case *cases;
    long status[B_EACH];
    json_t *doc[B_EACH];
    char err[B_EACH][200];
} b_arg;

static void *b_thread(void *p)
{
    b_arg *a = p;
    void *h = http_handle_new();
    for (int i = 0; i < B_EACH; i++) {
        const b_case *c = &a->cases[a->t * B_EACH + i];
        http_req rq = { .method = "POST",
                        .path = BATCH_PREDICT,
                        .content_type = "application/json",
                        .body = c->body,
                        .curl = h };
        http_resp *r = http_do(a->d->port, &rq);
        a->status[i] = r->status;
        snprintf(a->err[i], sizeof a->err[i], "%.199s", http_describe(r));
        a->doc[i] = json_loadb(r->body, r->body_len, 0, NULL);
        http_free(r);
    }
    http_handle_free(h);
    return NULL;
}

/* The bodies: sample k of `req` alone (kinds 0, 1), with sample k + 1
 * (kind 2), or a body cut short (kind 3). */
static b_case *make_cases(json_t *req, size_t n)
{
    b_case *cases = calloc(n, sizeof *cases);
    json_t *samples = json_object_get(req, "samples");
    for (size_t k = 0; k < n; k++) {
        b_case *c = &cases[k];
        c->kind = k % 7 == 3 ? 3 : k % 5 == 2 ? 2 : (int)(k % 2);
        c->sample = k;
        json_t *one = c->kind == 2
                          ? json_pack("{s:[O,O], s:b, s:i}", "samples", json_array_get(samples, k),
                                      json_array_get(samples, k + 1), "explain", 1, "top_k", 3)
                          : json_pack("{s:[O], s:b, s:i}", "samples", json_array_get(samples, k),
                                      "explain", c->kind != 1, "top_k", 3);
        c->body = json_dumps(one, JSON_COMPACT);
        json_decref(one);
        if (c->kind == 3)
            c->body[strlen(c->body) / 2] = '\0';
    }
    return cases;
}

/* Checks one answer against the CLI's results for the same samples
 * (want: explain true, top_k 3). */
static void check_answer(const b_case *c, long status, json_t *doc, const char *err, json_t *want)
{
    if (c->kind == 3) {
        cr_assert_eq(status, 400, "request %zu (cut short): %s", c->sample, err);
        cr_assert_str_eq(json_string_value(json_object_get(doc, "type")),
                         "urn:genorisk:problem:invalid-json", "request %zu", c->sample);
        return;
    }
    cr_assert_eq(status, 200, "request %zu: %s", c->sample, err);
    json_t *res = json_object_get(doc, "results");
    size_t n = c->kind == 2 ? 2 : 1;
    cr_assert_eq(json_array_size(res), n, "request %zu", c->sample);
    for (size_t i = 0; i < n; i++) {
        json_t *got = json_array_get(res, i), *w = json_array_get(want, c->sample + i);
        char id[32];
        snprintf(id, sizeof id, "B%zu", c->sample + i);
        cr_assert_str_eq(json_string_value(json_object_get(got, "sample")), id,
                         "request %zu got another sample", c->sample);
        cr_assert(json_number_value(json_object_get(got, "score")) ==
                      json_number_value(json_object_get(w, "score")),
                  "request %zu: score %.17g, CLI %.17g", c->sample,
                  json_number_value(json_object_get(got, "score")),
                  json_number_value(json_object_get(w, "score")));
        json_t *ex = json_object_get(got, "explanation");
        if (c->kind == 1) {
            cr_assert_null(ex, "request %zu asked for no explanation", c->sample);
            continue;
        }
        cr_assert(json_equal(json_object_get(ex, "attributions"),
                             json_object_get(json_object_get(w, "explanation"), "attributions")),
                  "request %zu: attributions differ from the CLI's", c->sample);
    }
}

/* Runs B_THREADS clients against a daemon started with `args`; returns the
 * batches it reports having run. */
static double run_clients(const char *const *args)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start_env(dir, args, NULL);
    size_t n = B_THREADS * B_EACH;
    char *all = make_dosage_request(n + 1, 200, 7, true, 3, "B");
    char *path = temp_file_with(all);
    char bundle[600];
    snprintf(bundle, sizeof bundle, "%s/cad-xgb-demo", dir);
    json_t *want = cli_predict(bundle, path);
    json_t *req = json_loads(all, 0, NULL);
    cr_assert(req);
    b_case *cases = make_cases(req, n);
    pthread_t th[B_THREADS];
    b_arg *a = calloc(B_THREADS, sizeof *a);
    for (int t = 0; t < B_THREADS; t++) {
        a[t] = (b_arg){ .d = d, .t = t, .cases = cases };
        cr_assert_eq(pthread_create(&th[t], NULL, b_thread, &a[t]), 0);
    }
    for (int t = 0; t < B_THREADS; t++)
        pthread_join(th[t], NULL);
    json_t *wres = json_object_get(want, "results");
    for (int t = 0; t < B_THREADS; t++)
        for (int i = 0; i < B_EACH; i++) {
            check_answer(&cases[t * B_EACH + i], a[t].status[i], a[t].doc[i], a[t].err[i], wres);
            json_decref(a[t].doc[i]);
        }
    http_resp *m = http_get(d, "/metrics");
    cr_assert_eq(m->status, 200);
    double batches = metric_value(m->body, "genorisk_batches_total", NULL);
    double batched = metric_value(m->body, "genorisk_batched_requests_total", NULL);
    cr_assert(batched >= 2 * batches, "%g requests in %g batches", batched, batches);
    http_free(m);
    for (size_t k = 0; k < n; k++)
        free(cases[k].body);
    free(cases);
    free(a);
    free(all);
    free(path);
    json_decref(req);
    json_decref(want);
    itest_finish(d, dir);
    return batches;
}

Test(http_batch, batched_clients_each_get_their_own_answer)
{
    const char *const args[] = { "--workers", "1", "--batch-max", "8", NULL };
    double batches = run_clients(args);
    cr_assert(batches >= 1, "one worker, %d clients: no batch was run", B_THREADS);
}

Test(http_batch, a_bounded_wait_keeps_the_answers_right)
{
    const char *const args[] = { "--workers",       "2",    "--batch-max", "4",
                                 "--batch-wait-us", "2000", NULL };
    run_clients(args);
}

Test(http_batch, batch_max_1_runs_each_alone)
{
    const char *const args[] = { "--workers", "1", "--batch-max", "1", NULL };
    double batches = run_clients(args);
    cr_assert_eq(batches, 0, "--batch-max 1 ran %g batches", batches);
}

/* A 600-sample request (three lots of 256) answered on one thread and on
 * three: the same document, every number equal. */
Test(http_batch, request_threads_answer_a_cohort_alike)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    char *body = make_dosage_request(600, 200, 11, true, 5, "C");
    json_t *doc[2];
    const char *threads[2] = { "1", "3" };
    for (int k = 0; k < 2; k++) {
        const char *const args[] = { "--workers", "1", "--request-threads", threads[k], NULL };
        daemon_t *d = daemon_start_env(dir, args, NULL);
        http_resp *r = http_post_json(d, "/v1/models/cad-xgb-demo/predict", body);
        cr_assert_eq(r->status, 200, "%s", r->body);
        doc[k] = http_json(r);
        cr_assert(doc[k]);
        json_object_del(doc[k], "request_id");
        http_free(r);
        cr_assert_eq(daemon_stop(d, 10000), 0);
        daemon_free(d);
    }
    cr_assert_eq(json_array_size(json_object_get(doc[0], "results")), 600);
    cr_assert(json_equal(doc[0], doc[1]), "--request-threads 3 answered otherwise than 1");
    json_decref(doc[0]);
    json_decref(doc[1]);
    free(body);
    models_dir_free(dir);
}
