/* test_http_lifecycle.c - genoriskd under load and signals: concurrency,
 * queue saturation, slow clients, SIGHUP reloads, SIGTERM drain, privacy of
 * logs and metrics, startup failures. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tests/integration/daemon.h"

TestSuite(http_lifecycle, .fini = itest_cleanup, .timeout = 45);

#define XGB_PREDICT "/v1/models/cad-xgb-demo/predict"

/* ---------------- concurrent clients ---------------- */

#define CC_THREADS 8
#define CC_EACH 25

typedef struct {
    const daemon_t *d;
    int t;
    char **bodies; /* CC_THREADS * CC_EACH single-sample requests */
    long status[CC_EACH];
    double score[CC_EACH], margin[CC_EACH];
    char sample[CC_EACH][32];
    char err[CC_EACH][200];
} cc_arg;

static void *cc_thread(void *p)
{
    cc_arg *a = p;
    void *h = http_handle_new(); /* keep-alive across this thread's requests */
    for (int i = 0; i < CC_EACH; i++) {
        int k = a->t * CC_EACH + i;
        http_req rq = { .method = "POST",
                        .path = XGB_PREDICT,
                        .content_type = "application/json",
                        .body = a->bodies[k],
                        .curl = h };
        http_resp *r = http_do(a->d->port, &rq);
        a->status[i] = r->status;
        snprintf(a->err[i], sizeof a->err[i], "%.199s", http_describe(r));
        json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
        json_t *res = json_array_get(json_object_get(j, "results"), 0);
        a->score[i] = json_is_number(json_object_get(res, "score"))
                          ? json_number_value(json_object_get(res, "score"))
                          : NAN;
        a->margin[i] = json_is_number(json_object_get(res, "margin"))
                           ? json_number_value(json_object_get(res, "margin"))
                           : NAN;
        const char *s = json_string_value(json_object_get(res, "sample"));
        snprintf(a->sample[i], sizeof a->sample[i], "%s", s ? s : "(none)");
        json_decref(j);
        http_free(r);
    }
    http_handle_free(h);
    return NULL;
}

Test(http_lifecycle, concurrent_clients_get_correct_answers)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, "--workers", "2", NULL);
    size_t n = CC_THREADS * CC_EACH;
    char *all = make_dosage_request(n, 200, 42, false, -1, "C");
    char *path = temp_file_with(all);
    char bundle[600];
    snprintf(bundle, sizeof bundle, "%s/cad-xgb-demo", dir);
    json_t *want = cli_predict(bundle, path);
    json_t *req = json_loads(all, 0, NULL);
    cr_assert(req);
    char **bodies = calloc(n, sizeof *bodies);
    for (size_t k = 0; k < n; k++) {
        json_t *one = json_pack("{s:[O], s:b}", "samples",
                                json_array_get(json_object_get(req, "samples"), k), "explain", 1);
        bodies[k] = json_dumps(one, JSON_COMPACT);
        json_decref(one);
    }
    pthread_t th[CC_THREADS];
    cc_arg *args = calloc(CC_THREADS, sizeof *args);
    for (int t = 0; t < CC_THREADS; t++) {
        args[t].d = d;
        args[t].t = t;
        args[t].bodies = bodies;
        cr_assert_eq(pthread_create(&th[t], NULL, cc_thread, &args[t]), 0);
    }
    for (int t = 0; t < CC_THREADS; t++)
        pthread_join(th[t], NULL);
    json_t *wres = json_object_get(want, "results");
    for (int t = 0; t < CC_THREADS; t++)
        for (int i = 0; i < CC_EACH; i++) {
            size_t k = (size_t)(t * CC_EACH + i);
            json_t *w = json_array_get(wres, k);
            char id[32];
            snprintf(id, sizeof id, "C%zu", k);
            cr_assert_eq(args[t].status[i], 200, "thread %d request %d: %s", t, i, args[t].err[i]);
            cr_assert_str_eq(args[t].sample[i], id, "thread %d request %d got another sample", t,
                             i);
            cr_assert(args[t].score[i] == json_number_value(json_object_get(w, "score")) &&
                          args[t].margin[i] == json_number_value(json_object_get(w, "margin")),
                      "thread %d request %d (%s): score %.17g margin %.17g, CLI %.17g %.17g", t, i,
                      id, args[t].score[i], args[t].margin[i],
                      json_number_value(json_object_get(w, "score")),
                      json_number_value(json_object_get(w, "margin")));
        }
    double p =
        metric_wait(d, (double)n, 3000, "genorisk_predictions_total", "model=cad-xgb-demo", NULL);
    cr_assert_eq(p, (double)n, "predictions_total should be %zu, got %g", n, p);
    for (size_t k = 0; k < n; k++)
        free(bodies[k]);
    free(bodies);
    free(args);
    free(all);
    free(path);
    json_decref(req);
    json_decref(want);
    itest_finish(d, dir);
}

/* ---------------- saturation ---------------- */

#define SAT_THREADS 10

typedef struct {
    const daemon_t *d;
    const char *body;
    pthread_barrier_t *bar;
    http_resp *r;
} sat_arg;

static void *sat_thread(void *p)
{
    sat_arg *a = p;
    pthread_barrier_wait(a->bar);
    http_req rq = { .method = "POST",
                    .path = XGB_PREDICT,
                    .content_type = "application/json",
                    .body = a->body,
                    .timeout_ms = 30000 };
    a->r = http_do(a->d->port, &rq);
    return NULL;
}

static double metric_now(const daemon_t *d, const char *name)
{
    http_resp *r = http_get(d, "/metrics");
    double v = r->status == 200 ? metric_value(r->body, name, NULL) : NAN;
    http_free(r);
    return v;
}

Test(http_lifecycle, queue_full_gives_503_overloaded_then_recovers)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, "--workers", "1", "--queue-depth", "1", NULL);
    char *big = make_dosage_request(4000, 200, 9, true, 10, NULL);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, SAT_THREADS);
    pthread_t th[SAT_THREADS];
    sat_arg a[SAT_THREADS];
    for (int t = 0; t < SAT_THREADS; t++) {
        a[t] = (sat_arg){ d, big, &bar, NULL };
        cr_assert_eq(pthread_create(&th[t], NULL, sat_thread, &a[t]), 0);
    }
    for (int t = 0; t < SAT_THREADS; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&bar);
    int n200 = 0, n503 = 0;
    for (int t = 0; t < SAT_THREADS; t++) {
        http_resp *r = a[t].r;
        if (r->status == 503) {
            n503++;
            json_t *j = expect_problem(r, 503, "overloaded", XGB_PREDICT);
            const char *ra = http_header(r, "Retry-After");
            cr_assert(ra && strcmp(ra, "1") == 0, "503 overloaded needs Retry-After: 1, got %s",
                      ra ? ra : "(none)");
            json_decref(j);
        } else {
            cr_assert_eq(r->status, 200, "under saturation every answer is 200 or 503; %s",
                         http_describe(r));
            json_t *j = http_json(r);
            cr_assert_eq(json_array_size(json_object_get(j, "results")), 4000);
            json_decref(j);
            n200++;
        }
        http_free(r);
    }
    cr_log_info("saturation: %d x 200, %d x 503", n200, n503);
    cr_assert(n503 >= 1, "%d concurrent big requests with --workers 1 --queue-depth 1 gave no 503",
              SAT_THREADS);
    cr_assert(n200 >= 1, "no request succeeded under saturation");
    /* keeps serving */
    http_resp *h = http_get(d, "/healthz");
    expect_status(h, 200);
    http_free(h);
    char *small = make_dosage_request(2, 200, 1, true, 3, NULL);
    h = http_post_json(d, XGB_PREDICT, small);
    expect_status(h, 200);
    http_free(h);
    free(small);
    double q = NAN, b = NAN;
    for (long end = now_ms() + 3000; now_ms() < end; sleep_ms(30)) {
        q = metric_now(d, "genorisk_queue_depth");
        b = metric_now(d, "genorisk_workers_busy");
        if (q == 0 && b == 0)
            break;
    }
    cr_assert(q == 0 && b == 0, "after the burst: queue_depth %g, workers_busy %g", q, b);
    http_resp *m = http_get(d, "/metrics");
    double c503 = metric_value(m->body, "genorisk_requests_total",
                               "route=/v1/models/{name}/predict", "code=503", NULL);
    cr_assert_eq(c503, (double)n503, "requests_total{code=503} %g, saw %d", c503, n503);
    http_free(m);
    free(big);
    itest_finish(d, dir);
}

/* ---------------- slow clients ---------------- */

Test(http_lifecycle, slow_clients_do_not_block_others)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, "--workers", "1", NULL);
    int fds[6];
    for (int i = 0; i < 6; i++) {
        fds[i] = raw_connect(d->port);
        cr_assert(fds[i] >= 0);
        if (i % 2 == 0)
            raw_send_str(fds[i], "POST " XGB_PREDICT " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
                                 "{\"samp");
        else
            raw_send_str(fds[i], "GET /heal");
    }
    sleep_ms(100);
    http_req rq = { .path = "/healthz", .timeout_ms = 3000 };
    http_resp *r = http_do(d->port, &rq);
    cr_assert_eq(r->status, 200, "healthz behind 6 stalled clients: %s", http_describe(r));
    cr_assert(r->seconds < 2.0, "healthz took %.2f s behind stalled clients", r->seconds);
    http_free(r);
    char *body = slurp_file("models/cad-xgb-demo/example.json");
    http_req pq = { .method = "POST",
                    .path = XGB_PREDICT,
                    .content_type = "application/json",
                    .body = body,
                    .timeout_ms = 3000 };
    r = http_do(d->port, &pq);
    cr_assert_eq(r->status, 200, "predict behind stalled clients: %s", http_describe(r));
    http_free(r);
    free(body);
    for (int i = 0; i < 6; i++)
        close(fds[i]);
    itest_finish(d, dir);
}

/* ---------------- SIGHUP ---------------- */

static json_t *model_names(const daemon_t *d)
{
    http_resp *r = http_get(d, "/v1/models");
    expect_status(r, 200);
    json_t *j = http_json(r);
    json_t *names = json_array();
    json_t *m;
    size_t i;
    json_array_foreach(json_object_get(j, "models"), i, m)
        json_array_append(names, json_object_get(m, "name"));
    json_decref(j);
    http_free(r);
    return names;
}

static size_t n_features(const daemon_t *d, const char *name)
{
    char path[200];
    snprintf(path, sizeof path, "/v1/models/%s", name);
    http_resp *r = http_get(d, path);
    expect_status(r, 200);
    json_t *j = http_json(r);
    size_t n = (size_t)json_integer_value(json_object_get(j, "n_features"));
    json_decref(j);
    http_free(r);
    cr_assert(n > 0);
    return n;
}

static char *names_str(const daemon_t *d)
{
    json_t *n = model_names(d);
    char *s = json_dumps(n, JSON_COMPACT);
    json_decref(n);
    return s;
}

static double reloads(const daemon_t *d, const char *result)
{
    http_resp *r = http_get(d, "/metrics");
    char lab[40];
    snprintf(lab, sizeof lab, "result=%s", result);
    double v = metric_value(r->body, "genorisk_reloads_total", lab, NULL);
    http_free(r);
    return isnan(v) ? 0 : v;
}

Test(http_lifecycle, sighup_reload_adds_and_removes_models)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    char *s = names_str(d);
    cr_assert_str_eq(s, "[\"cad-xgb-demo\"]");
    free(s);
    cr_assert_eq(reloads(d, "success"), 0);

    models_dir_copy(dir, "tests/fixtures/xgb_clf", NULL);
    daemon_signal(d, SIGHUP);
    cr_assert(daemon_wait_log(d, "\"msg\":\"reloaded\"", 1, 5000),
              "no \"reloaded\" log line after SIGHUP");
    s = names_str(d);
    cr_assert_str_eq(s, "[\"cad-xgb-demo\",\"xgb_clf\"]", "after adding xgb_clf + SIGHUP: %s", s);
    free(s);
    cr_assert_eq(reloads(d, "success"), 1);
    cr_assert_eq(reloads(d, "failure"), 0);
    http_resp *r = http_get(d, "/readyz");
    json_t *j = http_json(r);
    cr_assert_eq(json_integer_value(json_object_get(j, "models")), 2);
    json_decref(j);
    http_free(r);
    r = http_get(d, "/metrics");
    cr_assert_eq(metric_value(r->body, "genorisk_models_loaded", NULL), 2.0);
    http_free(r);
    char *req = make_dosage_request(2, n_features(d, "xgb_clf"), 3, true, 2, NULL);
    r = http_post_json(d, "/v1/models/xgb_clf/predict", req);
    expect_status(r, 200);
    http_free(r);
    free(req);

    /* remove the first: it disappears */
    models_dir_remove(dir, "cad-xgb-demo");
    daemon_signal(d, SIGHUP);
    cr_assert(daemon_wait_log(d, "\"msg\":\"reloaded\"", 2, 5000), "second reload not logged");
    s = names_str(d);
    cr_assert_str_eq(s, "[\"xgb_clf\"]", "after removing cad-xgb-demo + SIGHUP: %s", s);
    free(s);
    char *body = slurp_file("models/cad-xgb-demo/example.json");
    r = http_post_json(d, XGB_PREDICT, body);
    json_decref(expect_problem(r, 404, "model-not-found", XGB_PREDICT));
    http_free(r);
    free(body);
    cr_assert_eq(reloads(d, "success"), 2);
    itest_finish(d, dir);
}

Test(http_lifecycle, sighup_with_corrupt_model_keeps_old_set)
{
    char *dir = models_dir_with("models/cad-xgb-demo", "tests/fixtures/xgb_clf", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    char *req = make_dosage_request(3, n_features(d, "xgb_clf"), 11, true, 3, "R");
    http_resp *r = http_post_json(d, "/v1/models/xgb_clf/predict", req);
    expect_status(r, 200);
    json_t *before = http_json(r);
    json_object_del(before, "request_id");
    http_free(r);

    models_dir_write(dir, "xgb_clf/manifest.json", "{ this is not a manifest \x01\x02");
    daemon_signal(d, SIGHUP);
    cr_assert(daemon_wait_log(d, "reload failed", 1, 5000), "no \"reload failed\" log line");
    char *log = daemon_log(d);
    const char *line = strstr(log, "reload failed");
    while (line > log && line[-1] != '\n')
        line--;
    const char *eol = strchr(line, '\n');
    json_t *lj = json_loadb(line, eol ? (size_t)(eol - line) : strlen(line), 0, NULL);
    cr_assert(lj, "reload failed line is not JSON: %.300s", line);
    cr_assert_str_eq(json_string_value(json_object_get(lj, "level")), "error");
    cr_assert_str_eq(json_string_value(json_object_get(lj, "msg")), "reload failed");
    const char *e = json_string_value(json_object_get(lj, "error"));
    cr_assert(e && strstr(e, "xgb_clf"), "reload failed error should name the bundle: %s",
              e ? e : "(none)");
    json_decref(lj);
    free(log);

    cr_assert_eq(reloads(d, "failure"), 1);
    cr_assert_eq(reloads(d, "success"), 0);
    char *s = names_str(d);
    cr_assert_str_eq(s, "[\"cad-xgb-demo\",\"xgb_clf\"]", "old set should still serve: %s", s);
    free(s);
    r = http_post_json(d, "/v1/models/xgb_clf/predict", req);
    expect_status(r, 200);
    json_t *after = http_json(r);
    json_object_del(after, "request_id");
    cr_assert(json_equal(before, after), "old xgb_clf should still answer the same");
    json_decref(after);
    http_free(r);
    r = http_get(d, "/readyz");
    expect_status(r, 200);
    http_free(r);

    /* repaired: next reload succeeds */
    models_dir_remove(dir, "xgb_clf");
    models_dir_copy(dir, "tests/fixtures/xgb_clf", NULL);
    daemon_signal(d, SIGHUP);
    cr_assert(daemon_wait_log(d, "\"msg\":\"reloaded\"", 1, 5000), "no reloaded after repair");
    cr_assert_eq(reloads(d, "success"), 1);
    cr_assert_eq(reloads(d, "failure"), 1);
    json_decref(before);
    free(req);
    itest_finish(d, dir);
}

Test(http_lifecycle, in_flight_request_finishes_on_its_models_across_reload)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, "--workers", "1", NULL);
    char *big = make_dosage_request(8000, 200, 17, false, -1, "F");
    sat_arg a = { d, big, NULL, NULL };
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 1);
    a.bar = &bar;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, sat_thread, &a), 0);
    double busy = 0;
    for (long end = now_ms() + 5000; now_ms() < end && busy < 1; sleep_ms(5))
        busy = metric_now(d, "genorisk_workers_busy");
    cr_assert_geq(busy, 1, "the big request never started");
    models_dir_remove(dir, "cad-xgb-demo");
    models_dir_copy(dir, "tests/fixtures/xgb_clf", NULL);
    daemon_signal(d, SIGHUP);
    cr_assert(daemon_wait_log(d, "\"msg\":\"reloaded\"", 1, 5000), "no reload");
    char *s = names_str(d);
    cr_assert_str_eq(s, "[\"xgb_clf\"]");
    free(s);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&bar);
    cr_assert_eq(a.r->status, 200, "request running across the reload: %s", http_describe(a.r));
    json_t *j = http_json(a.r);
    cr_assert_eq(json_array_size(json_object_get(j, "results")), 8000);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "model"), "name")),
                     "cad-xgb-demo");
    json_decref(j);
    http_free(a.r);
    free(big);
    itest_finish(d, dir);
}

#define RL_THREADS 4

typedef struct {
    const daemon_t *d;
    const char *body;
    volatile int *stop;
    int n, bad;
    double want_score;
    char first_err[300];
} rl_arg;

static void *rl_thread(void *p)
{
    rl_arg *a = p;
    void *h = http_handle_new();
    while (!*a->stop && a->n < 100000) {
        http_req rq = { .method = "POST",
                        .path = XGB_PREDICT,
                        .content_type = "application/json",
                        .body = a->body,
                        .curl = h,
                        .timeout_ms = 10000 };
        http_resp *r = http_do(a->d->port, &rq);
        a->n++;
        json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
        json_t *sc = json_object_get(json_array_get(json_object_get(j, "results"), 0), "score");
        if (r->status != 200 || !json_is_number(sc) || json_number_value(sc) != a->want_score) {
            if (!a->bad++)
                snprintf(a->first_err, sizeof a->first_err, "%.299s", http_describe(r));
        }
        json_decref(j);
        http_free(r);
    }
    http_handle_free(h);
    return NULL;
}

Test(http_lifecycle, reloads_under_load_never_break_requests)
{
    char *dir = models_dir_with("models/cad-xgb-demo", "tests/fixtures/xgb_clf", NULL);
    daemon_t *d = daemon_start(dir, "--workers", "2", NULL);
    char *body = make_dosage_request(20, 200, 4, true, 5, NULL);
    http_resp *r = http_post_json(d, XGB_PREDICT, body);
    expect_status(r, 200);
    json_t *j = http_json(r);
    double want = json_number_value(
        json_object_get(json_array_get(json_object_get(j, "results"), 0), "score"));
    json_decref(j);
    http_free(r);
    volatile int stop = 0;
    pthread_t th[RL_THREADS];
    rl_arg a[RL_THREADS];
    for (int t = 0; t < RL_THREADS; t++) {
        a[t] = (rl_arg){ .d = d, .body = body, .stop = &stop, .want_score = want };
        cr_assert_eq(pthread_create(&th[t], NULL, rl_thread, &a[t]), 0);
    }
    for (int i = 1; i <= 10; i++) {
        daemon_signal(d, SIGHUP);
        bool ok = daemon_wait_log(d, "\"msg\":\"reloaded\"", i, 5000);
        if (!ok) {
            stop = 1;
            for (int t = 0; t < RL_THREADS; t++)
                pthread_join(th[t], NULL);
            cr_assert_fail("reload %d not logged", i);
        }
        sleep_ms(40);
    }
    stop = 1;
    int total = 0;
    for (int t = 0; t < RL_THREADS; t++) {
        pthread_join(th[t], NULL);
        total += a[t].n;
        cr_assert_eq(a[t].bad, 0, "thread %d: %d of %d requests failed during reloads; first: %s",
                     t, a[t].bad, a[t].n, a[t].first_err);
    }
    cr_log_info("reload under load: %d requests", total);
    cr_assert_geq(total, 20, "too few requests overlapped the reloads");
    cr_assert(daemon_alive(d), "daemon died");
    cr_assert_eq(reloads(d, "success"), 10);
    free(body);
    itest_finish(d, dir);
}

/* ---------------- SIGTERM drain ---------------- */

#define DRAIN_N 4

typedef struct {
    const daemon_t *d;
    const char *body;
    http_resp *r;
} drain_arg;

static void *drain_thread(void *p)
{
    drain_arg *a = p;
    http_req rq = { .method = "POST",
                    .path = XGB_PREDICT,
                    .content_type = "application/json",
                    .body = a->body,
                    .timeout_ms = 30000 };
    a->r = http_do(a->d->port, &rq);
    return NULL;
}

Test(http_lifecycle, sigterm_drains_in_flight_requests)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, "--workers", "2", NULL);
    /* an established keep-alive connection, to look at /readyz while draining */
    void *keep = http_handle_new();
    http_req hq = { .path = "/healthz", .curl = keep };
    http_resp *r = http_do(d->port, &hq);
    expect_status(r, 200);
    http_free(r);

    char *big = make_dosage_request(4000, 200, 21, true, 5, "D");
    pthread_t th[DRAIN_N];
    drain_arg a[DRAIN_N];
    for (int t = 0; t < DRAIN_N; t++) {
        a[t] = (drain_arg){ d, big, NULL };
        cr_assert_eq(pthread_create(&th[t], NULL, drain_thread, &a[t]), 0);
    }
    /* wait until all are queued or running */
    double inflight = 0;
    for (long end = now_ms() + 5000; now_ms() < end; sleep_ms(10)) {
        inflight = metric_now(d, "genorisk_workers_busy") + metric_now(d, "genorisk_queue_depth");
        if (inflight >= DRAIN_N)
            break;
    }
    cr_assert_geq(inflight, DRAIN_N, "could not see %d requests in flight (busy+queue = %g)",
                  DRAIN_N, inflight);
    daemon_signal(d, SIGTERM);
    sleep_ms(50);

    /* /readyz over the existing connection: 503 not-ready, or the connection is gone */
    hq.path = "/readyz";
    hq.timeout_ms = 3000;
    r = http_do(d->port, &hq);
    bool drain_seen = false;
    if (r->status != 0) {
        cr_assert_eq(r->status, 503, "/readyz during the drain should be 503; %s",
                     http_describe(r));
        json_decref(expect_problem(r, 503, "not-ready", "/readyz"));
        const char *ra = http_header(r, "Retry-After");
        cr_assert(ra && strcmp(ra, "1") == 0, "not-ready needs Retry-After: 1");
        drain_seen = true;
    }
    http_free(r);
    http_handle_free(keep);

    /* new connections are not accepted */
    bool alive = daemon_alive(d);
    int fd = raw_connect(d->port);
    if (fd >= 0) {
        raw_send_str(fd, "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        http_resp *nr = raw_read_response(fd, false, 1500);
        close(fd);
        cr_assert(false,
                  "a new connection during the drain (daemon alive: %d) was accepted; the listen "
                  "socket should be closed (connect refused). Response: %s",
                  alive, nr->status ? http_describe(nr) : "none within 1.5 s");
        http_free(nr);
    } else {
        cr_assert_eq(errno, ECONNREFUSED, "connect during drain: %s", strerror(errno));
    }

    for (int t = 0; t < DRAIN_N; t++)
        pthread_join(th[t], NULL);
    int code = daemon_wait_exit(d, 15000);
    for (int t = 0; t < DRAIN_N; t++) {
        cr_assert_eq(a[t].r->status, 200, "in-flight request %d during SIGTERM: %s", t,
                     http_describe(a[t].r));
        json_t *j = http_json(a[t].r);
        json_t *res = json_object_get(j, "results");
        cr_assert_eq(json_array_size(res), 4000, "request %d: incomplete results", t);
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(res, 3999), "sample")),
                         "D3999");
        json_decref(j);
        http_free(a[t].r);
    }
    cr_assert_eq(code, 0, "daemon should exit 0 after draining (got %d)", code);
    cr_log_info("drain: readyz 503 observed: %d", drain_seen);
    fd = raw_connect(d->port);
    cr_assert(fd < 0 && errno == ECONNREFUSED, "connect after exit should be refused");
    char *log = daemon_log(d);
    cr_assert(strstr(log, "draining"), "log should mention draining: %.400s", log);
    free(log);
    free(big);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_lifecycle, drain_timeout_bounds_shutdown)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, "--workers", "1", "--drain-timeout-s", "1", NULL);
    char *big = make_dosage_request(10000, 200, 5, true, 10, NULL);
    pthread_t th[3];
    drain_arg a[3];
    for (int t = 0; t < 3; t++) {
        a[t] = (drain_arg){ d, big, NULL };
        cr_assert_eq(pthread_create(&th[t], NULL, drain_thread, &a[t]), 0);
    }
    double busy = 0;
    for (long end = now_ms() + 5000; now_ms() < end && busy < 1; sleep_ms(10))
        busy = metric_now(d, "genorisk_workers_busy");
    cr_assert_geq(busy, 1, "no request started");
    long t0 = now_ms();
    daemon_signal(d, SIGTERM);
    int code = daemon_wait_exit(d, 10000);
    long took = now_ms() - t0;
    for (int t = 0; t < 3; t++) {
        pthread_join(th[t], NULL);
        /* whatever they got, it is not a hang */
        cr_assert(a[t].r->seconds < 15, "client %d hung", t);
        http_free(a[t].r);
    }
    cr_assert_eq(code, 0, "exit code after the drain timeout should be 0, got %d", code);
    /* the deadline, plus what cannot be interrupted: parsing one 10,000-sample
     * body (slow under ASan) and the sample in progress */
    cr_assert(took < 6000, "--drain-timeout-s 1 but the daemon took %ld ms to exit", took);
    free(big);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_lifecycle, sigint_also_exits_0)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    daemon_signal(d, SIGINT);
    cr_assert_eq(daemon_wait_exit(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

/* ---------------- privacy ---------------- */

Test(http_lifecycle, logs_and_metrics_hold_no_ids_or_genotypes)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, "--log-level", "debug", NULL);
    const char *ok =
        "{\"samples\":[{\"id\":\"PATIENT-SECRET-42\",\"genotypes\":{\"1:52068481:T:G\":1.2345678,"
        "\"rs9000003\":\"0/1\",\"rs9000005\":\"1|1\",\"rsSECRETKEY999\":2}},"
        "{\"id\":\"PATIENT-SECRET-43\",\"genotypes\":{\"rs9000004\":0.8765432}}],\"top_k\":3}";
    http_resp *r = http_post_json(d, XGB_PREDICT "?allow_low_coverage=true", ok);
    expect_status(r, 200);
    cr_assert(strstr(r->body, "PATIENT-SECRET-42"), "the response itself carries the id");
    http_free(r);
    /* error paths too */
    const char *bad[] = {
        "{\"samples\":[{\"id\":\"PATIENT-SECRET-44\",\"genotypes\":{\"rs9000007\":3.1415926}}]}",
        "{\"samples\":[{\"id\":\"PATIENT-SECRET-45\\q\",\"genotypes\":{}}]}",
        "{\"samples\":[{\"id\":\"PATIENT-SECRET-46\",\"genotypes\":{\"rs9000008\":\"0/7\"}}]}",
        "{\"samples\":[{\"id\":\"PATIENT-SECRET-47\",\"dosages\":[1.7654321]}]}",
    };
    for (size_t i = 0; i < 4; i++) {
        r = http_post_json(d, XGB_PREDICT, bad[i]);
        cr_assert(r->status == 400 || r->status == 422, "%s", http_describe(r));
        cr_assert_null(strstr(r->body, "PATIENT-SECRET"), "error body echoes the id: %s", r->body);
        http_free(r);
    }
    r = http_post(d, XGB_PREDICT, "text/plain", ok, strlen(ok));
    http_free(r);
    r = http_post_json(d, "/v1/models/PATIENT-SECRET-48/predict", ok);
    http_free(r);
    http_resp *m = http_get(d, "/metrics");
    expect_status(m, 200);
    cr_assert(daemon_wait_log(d, "\"status\":415", 1, 3000));
    sleep_ms(100);
    char *log = daemon_log(d);
    char *out = daemon_stdout(d);
    int nreq = 0;
    for (const char *q = log; (q = strstr(q, "\"msg\":\"request\"")); q++)
        nreq++;
    cr_assert_geq(nreq, 7, "expected >= 7 request log lines, got %d:\n%s", nreq, log);
    const char *needles[] = { "PATIENT-SECRET",
                              "1.2345678",
                              "0.8765432",
                              "3.1415926",
                              "1.7654321",
                              "52068481",
                              "rsSECRETKEY999",
                              "rs9000003",
                              "rs9000005",
                              "rs9000004",
                              "0/1",
                              "1|1",
                              "0/7" };
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
        const char *l = strstr(log, needles[i]);
        cr_assert_null(l, "the log contains '%s': ...%.200s", needles[i],
                       l ? (l - log > 100 ? l - 100 : log) : "");
        cr_assert_null(strstr(m->body, needles[i]), "/metrics contains '%s'", needles[i]);
        cr_assert_null(strstr(out, needles[i]), "stdout contains '%s'", needles[i]);
    }
    http_free(m);
    free(log);
    free(out);
    itest_finish(d, dir);
}

/* ---------------- startup ---------------- */

Test(http_lifecycle, startup_fails_on_corrupt_bundle)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    models_dir_copy(dir, "tests/fixtures/xgb_clf", "corrupt-bundle-q7");
    models_dir_write(dir, "corrupt-bundle-q7/manifest.json", "garbage{{{");
    char *log = NULL;
    int code = daemon_run_to_exit(dir, NULL, NULL, NULL, &log, 10000);
    cr_assert_eq(code, 1, "a corrupt bundle should make startup exit 1, got %d; stderr:\n%s", code,
                 log);
    cr_assert(strstr(log, "corrupt-bundle-q7"), "stderr should name the bundle:\n%s", log);
    cr_assert_null(strstr(log, "\"listening\""), "should not have listened:\n%s", log);
    free(log);

    /* a bad model artifact (manifest fine) too */
    models_dir_remove(dir, "corrupt-bundle-q7");
    models_dir_copy(dir, "tests/fixtures/xgb_clf", "bad-artifact-q8");
    models_dir_write(dir, "bad-artifact-q8/model.json", "{\"learner\": 12}");
    code = daemon_run_to_exit(dir, NULL, NULL, NULL, &log, 10000);
    cr_assert_eq(code, 1, "a bad artifact should make startup exit 1, got %d:\n%s", code, log);
    cr_assert(strstr(log, "bad-artifact-q8"), "stderr should name the bundle:\n%s", log);
    free(log);
    models_dir_free(dir);
}

Test(http_lifecycle, startup_fails_on_duplicate_model_names)
{
    char *dir = models_dir_new();
    models_dir_copy(dir, "models/cad-xgb-demo", "first");
    models_dir_copy(dir, "models/cad-xgb-demo", "second");
    char *log = NULL;
    int code = daemon_run_to_exit(dir, NULL, NULL, NULL, &log, 10000);
    cr_assert_eq(code, 1, "duplicate model names should exit 1, got %d:\n%s", code, log);
    cr_assert(strstr(log, "cad-xgb-demo"), "stderr should name the duplicate:\n%s", log);
    free(log);
    models_dir_free(dir);
}

Test(http_lifecycle, usage_errors_exit_2)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    const char *a1[] = { "--no-such-flag", NULL };
    const char *a2[] = { "--workers", "abc", NULL };
    const char *a3[] = { "--log-format", "xml", NULL };
    const char *a4[] = { "--queue-depth", "-3", NULL };
    const char *const *cases[] = { a1, a2, a3, a4 };
    for (size_t i = 0; i < 4; i++) {
        char *log = NULL;
        int code = daemon_run_to_exit(dir, cases[i], NULL, NULL, &log, 10000);
        cr_assert_eq(code, 2, "`%s %s` should be a usage error (exit 2), got %d:\n%s", cases[i][0],
                     cases[i][1] ? cases[i][1] : "", code, log);
        free(log);
    }
    /* no models dir at all */
    char *log = NULL;
    int code = daemon_run_to_exit(NULL, NULL, NULL, NULL, &log, 10000);
    cr_assert_neq(code, 0, "no --models and no GENORISK_MODELS should fail:\n%s", log);
    free(log);
    /* a missing models dir */
    code = daemon_run_to_exit("/tmp/genorisk-itest-does-not-exist", NULL, NULL, NULL, &log, 10000);
    cr_assert_eq(code, 1, "a missing models dir should exit 1, got %d:\n%s", code, log);
    free(log);
    const char *h[] = { "--help", NULL };
    char *out = NULL;
    code = daemon_run_to_exit(NULL, h, NULL, &out, &log, 10000);
    cr_assert_eq(code, 0, "--help should exit 0");
    cr_assert(strstr(out, "--models") || strstr(log, "--models"), "--help should show usage");
    free(out);
    free(log);
    const char *v[] = { "--version", NULL };
    code = daemon_run_to_exit(NULL, v, NULL, &out, &log, 10000);
    cr_assert_eq(code, 0, "--version should exit 0");
    cr_assert(strlen(out) + strlen(log) > 0, "--version printed nothing");
    free(out);
    free(log);
    models_dir_free(dir);
}

Test(http_lifecycle, port_in_use_exits_1)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", d->port);
    const char *args[] = { "--listen", listen, NULL };
    char *log = NULL;
    int code = daemon_run_to_exit(dir, args, NULL, NULL, &log, 10000);
    cr_assert_eq(code, 1, "port in use should exit 1, got %d:\n%s", code, log);
    free(log);
    http_resp *r = http_get(d, "/healthz");
    expect_status(r, 200);
    http_free(r);
    itest_finish(d, dir);
}
