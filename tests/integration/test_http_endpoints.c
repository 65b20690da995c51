/* test_http_endpoints.c - genoriskd: every endpoint's happy path, HEAD,
 * query overrides, metrics, request logs (http-spec.md, docs/predict-json.md). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/integration/daemon.h"

TestSuite(http_endpoints, .fini = itest_cleanup, .timeout = 40);

static const char *const DEMOS[] = { "cad-logit-demo", "cad-pgs-demo", "cad-rf-demo",
                                     "cad-xgb-demo" };

/* A dir with the four demo models plus fixtures xgb_clf and pgs000001. */
static char *six_models(void)
{
    return models_dir_with("models/cad-xgb-demo", "tests/fixtures/xgb_clf", "models/cad-rf-demo",
                           "tests/fixtures/pgs000001", "models/cad-logit-demo",
                           "models/cad-pgs-demo", NULL);
}

static json_t *models_show(const char *bundle)
{
    const char *cli = getenv("GENORISK_CLI") ? getenv("GENORISK_CLI") : "build/genorisk";
    const char *argv[] = { cli, "models", "show", bundle, NULL };
    char *out = NULL, *err = NULL;
    int rc = run_cmd(argv, &out, &err, 10000);
    cr_assert_eq(rc, 0, "genorisk models show %s: %s", bundle, err);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert(j);
    free(out);
    free(err);
    return j;
}

static void expect_request_id_matches(const http_resp *r, json_t *body)
{
    const char *rid = http_header(r, "X-Request-ID");
    cr_assert(rid, "X-Request-ID header missing; %s", http_describe(r));
    json_t *jr = json_object_get(body, "request_id");
    cr_assert(json_is_string(jr), "body lacks request_id; %s", http_describe(r));
    cr_assert_str_eq(json_string_value(jr), rid, "request_id != X-Request-ID header");
}

static void expect_json_ct(const http_resp *r)
{
    const char *ct = http_header(r, "Content-Type");
    cr_assert(ct && strncasecmp(ct, "application/json", 16) == 0,
              "Content-Type should be application/json; %s", http_describe(r));
}

Test(http_endpoints, healthz)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    http_resp *r = http_get(d, "/healthz");
    expect_status(r, 200);
    expect_json_ct(r);
    json_t *j = http_json(r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok", "%s", http_describe(r));
    cr_assert(is_uuid_v4(http_header(r, "X-Request-ID")),
              "X-Request-ID should be a UUID v4 when none was sent, got %s",
              http_header(r, "X-Request-ID"));
    cr_assert_null(json_object_get(j, "request_id"),
                   "spec: /healthz body does not carry request_id; %s", http_describe(r));
    json_decref(j);
    http_free(r);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_endpoints, readyz_counts_models)
{
    char *dir = six_models();
    daemon_t *d = daemon_start(dir, NULL);
    http_resp *r = http_get(d, "/readyz");
    expect_status(r, 200);
    expect_json_ct(r);
    json_t *j = http_json(r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "ready");
    json_t *m = json_object_get(j, "models");
    cr_assert(json_is_integer(m) && json_integer_value(m) == 6, "readyz models should be 6; %s",
              http_describe(r));
    expect_request_id_matches(r, j);
    json_decref(j);
    http_free(r);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_endpoints, models_list_sorted_with_fields)
{
    char *dir = six_models();
    /* also a directory without manifest.json and a stray file: ignored */
    models_dir_write(dir, "README.txt", "not a bundle\n");
    char sub[600];
    snprintf(sub, sizeof sub, "%s/notes", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    models_dir_write(dir, "notes/readme.md", "no manifest here\n");

    daemon_t *d = daemon_start(dir, NULL);
    http_resp *r = http_get(d, "/v1/models");
    expect_status(r, 200);
    expect_json_ct(r);
    json_t *j = http_json(r);
    expect_request_id_matches(r, j);
    json_t *models = json_object_get(j, "models");
    cr_assert(json_is_array(models), "%s", http_describe(r));
    const char *want[] = { "cad-logit-demo", "cad-pgs-demo", "cad-rf-demo",
                           "cad-xgb-demo",   "pgs000001",    "xgb_clf" };
    cr_assert_eq(json_array_size(models), 6, "expected 6 models; %s", http_describe(r));
    const char *fields[] = { "name", "version", "task", "format", "genome_build", "n_features" };
    for (size_t i = 0; i < 6; i++) {
        json_t *m = json_array_get(models, i);
        cr_assert_str_eq(json_string_value(json_object_get(m, "name")), want[i],
                         "models[%zu] should be %s (sorted by name); %s", i, want[i],
                         http_describe(r));
        char bundle[700];
        snprintf(bundle, sizeof bundle, "%s/%s", dir, want[i]);
        json_t *show = models_show(bundle);
        for (size_t f = 0; f < 6; f++) {
            json_t *got = json_object_get(m, fields[f]);
            cr_assert(got, "models[%zu] lacks %s", i, fields[f]);
            cr_assert(json_equal(got, json_object_get(show, fields[f])),
                      "models[%zu].%s differs from `genorisk models show`", i, fields[f]);
        }
        cr_assert_eq(json_object_size(m), 6,
                     "ModelSummary should have exactly name, version, task, format, "
                     "genome_build, n_features; models[%zu] has %zu keys",
                     i, json_object_size(m));
        json_decref(show);
    }
    json_decref(j);
    http_free(r);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_endpoints, model_detail_equals_models_show)
{
    char *dir = six_models();
    daemon_t *d = daemon_start(dir, NULL);
    const char *names[] = { "cad-logit-demo", "cad-pgs-demo", "cad-rf-demo",
                            "cad-xgb-demo",   "pgs000001",    "xgb_clf" };
    for (size_t i = 0; i < 6; i++) {
        char path[200], bundle[700];
        snprintf(path, sizeof path, "/v1/models/%s", names[i]);
        snprintf(bundle, sizeof bundle, "%s/%s", dir, names[i]);
        http_resp *r = http_get(d, path);
        expect_status(r, 200);
        expect_json_ct(r);
        json_t *j = http_json(r);
        expect_request_id_matches(r, j);
        json_object_del(j, "request_id");
        json_t *show = models_show(bundle);
        json_object_del(show, "directory");
        char *a = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
        char *b = json_dumps(show, JSON_SORT_KEYS | JSON_COMPACT);
        cr_assert(json_equal(j, show),
                  "GET %s should equal `models show` minus directory\n daemon: %s\n    cli: %s",
                  path, a, b);
        free(a);
        free(b);
        json_decref(show);
        json_decref(j);
        http_free(r);
    }
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

/* Compares the daemon's predict response with the CLI's on the same input. */
static void compare_with_cli(const daemon_t *d, const char *dir, const char *name,
                             const char *input_path, const char *query)
{
    char *body = slurp_file(input_path);
    cr_assert(body);
    char path[300], bundle[700];
    snprintf(path, sizeof path, "/v1/models/%s/predict%s", name, query ? query : "");
    snprintf(bundle, sizeof bundle, "%s/%s", dir, name);
    http_resp *r = http_post_json(d, path, body);
    expect_status(r, 200);
    expect_json_ct(r);
    json_t *got = http_json(r);
    expect_request_id_matches(r, got);
    json_t *want = cli_predict(bundle, input_path);

    json_t *gres = json_object_get(got, "results"), *wres = json_object_get(want, "results");
    cr_assert(json_is_array(gres), "%s", http_describe(r));
    cr_assert_eq(json_array_size(gres), json_array_size(wres), "%s: result count", name);
    for (size_t i = 0; i < json_array_size(wres); i++) {
        json_t *g = json_array_get(gres, i), *w = json_array_get(wres, i);
        double gs = json_number_value(json_object_get(g, "score"));
        double ws = json_number_value(json_object_get(w, "score"));
        double gm = json_number_value(json_object_get(g, "margin"));
        double wm = json_number_value(json_object_get(w, "margin"));
        cr_assert(gs == ws, "%s results[%zu].score: daemon %.17g, CLI %.17g", name, i, gs, ws);
        cr_assert(gm == wm, "%s results[%zu].margin: daemon %.17g, CLI %.17g", name, i, gm, wm);
    }
    json_object_del(got, "request_id");
    char *a = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
    char *b = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
    cr_assert(json_equal(got, want),
              "%s: daemon response (minus request_id) should equal the CLI's\n daemon: %.600s\n "
              "   cli: %.600s",
              name, a, b);
    free(a);
    free(b);
    /* "compact": one line */
    const char *nl = strchr(r->body, '\n');
    cr_assert(!nl || nl[1] == '\0', "%s: predict body should be compact JSON (one line)", name);
    json_decref(got);
    json_decref(want);
    http_free(r);
    free(body);
}

Test(http_endpoints, predict_matches_cli_for_every_demo_model)
{
    char *dir = six_models();
    daemon_t *d = daemon_start(dir, NULL);
    for (size_t i = 0; i < 4; i++) {
        char input[300];
        snprintf(input, sizeof input, "models/%s/example.json", DEMOS[i]);
        compare_with_cli(d, dir, DEMOS[i], input, NULL);
    }
    /* a generated batch on a fixture model, every attribution */
    http_resp *r = http_get(d, "/v1/models/xgb_clf");
    expect_status(r, 200);
    json_t *det = http_json(r);
    size_t nf = (size_t)json_integer_value(json_object_get(det, "n_features"));
    cr_assert(nf > 0);
    json_decref(det);
    http_free(r);
    char *req = make_dosage_request(25, nf, 7, true, 0, "S");
    char *f = temp_file_with(req);
    compare_with_cli(d, dir, "xgb_clf", f, NULL);
    free(req);
    free(f);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_endpoints, predict_accepts_json_with_charset)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    char *body = slurp_file("models/cad-xgb-demo/example.json");
    const char *cts[] = { "application/json; charset=utf-8", "Application/JSON",
                          "application/json;charset=UTF-8" };
    for (size_t i = 0; i < 3; i++) {
        http_resp *r = http_post(d, "/v1/models/cad-xgb-demo/predict", cts[i], body, 0);
        cr_assert_eq(r->status, 200, "Content-Type '%s' should be accepted; %s", cts[i],
                     http_describe(r));
        http_free(r);
    }
    free(body);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_endpoints, openapi_yaml_is_the_repo_file)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    http_resp *r = http_get(d, "/openapi.yaml");
    expect_status(r, 200);
    const char *ct = http_header(r, "Content-Type");
    cr_assert(ct && strncasecmp(ct, "application/yaml", 16) == 0,
              "openapi Content-Type should be application/yaml, got %s", ct ? ct : "(none)");
    cr_assert(strncmp(r->body, "openapi: 3.1", 12) == 0, "body should start with 'openapi: 3.1'");
    char *file = slurp_file("openapi.yaml");
    cr_assert(file);
    cr_assert_eq(r->body_len, strlen(file),
                 "served openapi.yaml is %zu bytes, repo file %zu (rebuild if the file changed)",
                 r->body_len, strlen(file));
    cr_assert(memcmp(r->body, file, r->body_len) == 0,
              "served openapi.yaml differs from the repo file");
    free(file);
    http_free(r);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_endpoints, openapi_yaml_documents_the_endpoints)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    http_resp *r = http_get(d, "/openapi.yaml");
    expect_status(r, 200);
    const char *paths[] = { "/healthz:",
                            "/readyz:",
                            "/v1/models:",
                            "/v1/models/{name}:",
                            "/v1/models/{name}/predict:",
                            "/metrics:",
                            "/openapi.yaml:" };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        cr_assert(strstr(r->body, paths[i]), "served openapi.yaml has no path %.*s (paths: %.60s)",
                  (int)strlen(paths[i]) - 1, paths[i],
                  strstr(r->body, "\npaths:") ? strstr(r->body, "\npaths:") + 1 : "(none)");
    http_free(r);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_endpoints, metrics_exposes_every_spec_metric)
{
    char *dir = models_dir_with("models/cad-xgb-demo", "tests/fixtures/xgb_clf", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    /* a request or two so per-route series exist */
    http_free(http_get(d, "/healthz"));
    char *body = slurp_file("models/cad-xgb-demo/example.json");
    http_resp *p = http_post_json(d, "/v1/models/cad-xgb-demo/predict", body);
    expect_status(p, 200);
    http_free(p);
    free(body);
    metric_wait(d, 1, 3000, "genorisk_requests_total", "route=/v1/models/{name}/predict",
                "code=200", NULL);

    http_resp *r = http_get(d, "/metrics");
    expect_status(r, 200);
    const char *ct = http_header(r, "Content-Type");
    cr_assert(ct && strncasecmp(ct, "text/plain", 10) == 0 && strstr(ct, "version=0.0.4"),
              "metrics Content-Type should be text/plain; version=0.0.4, got %s",
              ct ? ct : "(none)");
    struct {
        const char *name, *type;
    } ms[] = {
        { "genorisk_requests_total", "counter" },
        { "genorisk_request_duration_seconds", "histogram" },
        { "genorisk_queue_depth", "gauge" },
        { "genorisk_workers_busy", "gauge" },
        { "genorisk_predictions_total", "counter" },
        { "genorisk_models_loaded", "gauge" },
        { "genorisk_reloads_total", "counter" },
        { "process_resident_memory_bytes", "gauge" },
        { "process_cpu_seconds_total", "counter" },
        { "process_start_time_seconds", "gauge" },
    };
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        char line[200];
        snprintf(line, sizeof line, "# TYPE %s %s\n", ms[i].name, ms[i].type);
        cr_assert(strstr(r->body, line), "metrics lack '# TYPE %s %s'\n%s", ms[i].name, ms[i].type,
                  r->body);
    }
    const char *samples[] = { "genorisk_request_duration_seconds_bucket",
                              "genorisk_request_duration_seconds_sum",
                              "genorisk_request_duration_seconds_count",
                              "genorisk_queue_depth",
                              "genorisk_workers_busy",
                              "genorisk_models_loaded",
                              "process_resident_memory_bytes",
                              "process_cpu_seconds_total",
                              "process_start_time_seconds" };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        cr_assert(!isnan(metric_value(r->body, samples[i], NULL)), "no sample of %s\n%s",
                  samples[i], r->body);
    cr_assert_eq(metric_value(r->body, "genorisk_models_loaded", NULL), 2.0);
    cr_assert_eq(metric_value(r->body, "genorisk_queue_depth", NULL), 0.0);
    cr_assert(metric_value(r->body, "process_resident_memory_bytes", NULL) > 1e5);
    cr_assert(metric_value(r->body, "process_start_time_seconds", NULL) > 1.6e9);
    /* histogram for the predict route: +Inf bucket == count >= 1 */
    double inf = metric_value(r->body, "genorisk_request_duration_seconds_bucket",
                              "route=/v1/models/{name}/predict", "le=+Inf", NULL);
    double cnt = metric_value(r->body, "genorisk_request_duration_seconds_count",
                              "route=/v1/models/{name}/predict", NULL);
    cr_assert(inf >= 1 && inf == cnt, "predict histogram: +Inf bucket %g, count %g\n%s", inf, cnt,
              r->body);
    cr_assert_eq(metric_value(r->body, "genorisk_predictions_total", "model=cad-xgb-demo", NULL),
                 2.0, "predictions_total{model=cad-xgb-demo} should be 2 (example has 2)\n%s",
                 r->body);
    /* buckets are cumulative: non-decreasing as le grows, for every route */
    const char *routes[] = { "/healthz", "/v1/models/{name}/predict" };
    const char *les[] = { "0.0001", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                          "0.1",    "0.25",   "0.5",   "1",      "2.5",   "5",    "10",    "+Inf" };
    for (size_t k = 0; k < 2; k++) {
        char rl[80];
        snprintf(rl, sizeof rl, "route=%s", routes[k]);
        double prev = 0;
        size_t seen = 0;
        for (size_t i = 0; i < sizeof les / sizeof les[0]; i++) {
            char ll[40];
            snprintf(ll, sizeof ll, "le=%s", les[i]);
            double v =
                metric_value(r->body, "genorisk_request_duration_seconds_bucket", rl, ll, NULL);
            if (isnan(v))
                continue;
            seen++;
            cr_assert_geq(v, prev, "bucket le=%s of %s decreases", les[i], routes[k]);
            prev = v;
        }
        cr_assert_geq(seen, 2, "too few recognised buckets for %s\n%s", routes[k], r->body);
    }
    http_free(r);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_endpoints, metrics_counters_increment)
{
    char *dir = models_dir_with("models/cad-xgb-demo", "tests/fixtures/xgb_clf", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    http_resp *r = http_get(d, "/metrics");
    expect_status(r, 200);
    double h0 =
        metric_value(r->body, "genorisk_requests_total", "route=/healthz", "code=200", NULL);
    if (isnan(h0))
        h0 = 0;
    double p0 = metric_value(r->body, "genorisk_predictions_total", "model=xgb_clf", NULL);
    cr_assert(isnan(p0) || p0 == 0, "predictions_total{model=xgb_clf} should start at 0");
    http_free(r);

    for (int i = 0; i < 3; i++)
        http_free(http_get(d, "/healthz"));
    double h1 =
        metric_wait(d, h0 + 3, 3000, "genorisk_requests_total", "route=/healthz", "code=200", NULL);
    cr_assert_eq(h1, h0 + 3,
                 "requests_total{route=/healthz,code=200}: %g before 3 requests, %g "
                 "after",
                 h0, h1);

    /* 3 + 2 samples on xgb_clf; a 404 under route "other" */
    http_resp *det = http_get(d, "/v1/models/xgb_clf");
    json_t *dj = http_json(det);
    size_t nf = (size_t)json_integer_value(json_object_get(dj, "n_features"));
    json_decref(dj);
    http_free(det);
    char *a = make_dosage_request(3, nf, 1, false, -1, NULL);
    char *b = make_dosage_request(2, nf, 2, false, -1, NULL);
    http_resp *ra = http_post_json(d, "/v1/models/xgb_clf/predict", a);
    http_resp *rb = http_post_json(d, "/v1/models/xgb_clf/predict", b);
    expect_status(ra, 200);
    expect_status(rb, 200);
    http_free(ra);
    http_free(rb);
    free(a);
    free(b);
    /* failed predicts count no samples */
    char *bad = make_dosage_request(4, nf + 1, 3, false, -1, NULL);
    http_resp *rbad = http_post_json(d, "/v1/models/xgb_clf/predict", bad);
    expect_status(rbad, 422);
    http_free(rbad);
    free(bad);
    double p1 = metric_wait(d, 5, 3000, "genorisk_predictions_total", "model=xgb_clf", NULL);
    cr_assert_eq(p1, 5.0, "predictions_total{model=xgb_clf} should count 5 samples, got %g", p1);
    double pr = metric_wait(d, 2, 3000, "genorisk_requests_total",
                            "route=/v1/models/{name}/predict", "code=200", NULL);
    cr_assert_eq(pr, 2.0, "requests_total{route=/v1/models/{name}/predict,code=200} = %g", pr);

    http_resp *nf404 = http_get(d, "/no/such/route-xyzzy");
    expect_status(nf404, 404);
    http_free(nf404);
    double other =
        metric_wait(d, 1, 3000, "genorisk_requests_total", "route=other", "code=404", NULL);
    cr_assert_eq(other, 1.0, "unmatched path should count under route=\"other\", got %g", other);
    r = http_get(d, "/metrics");
    cr_assert_null(strstr(r->body, "xyzzy"), "raw request paths must not become label values");
    cr_assert_null(strstr(r->body, "route=\"/v1/models/xgb_clf"),
                   "route label must be the template, not the model path");
    http_free(r);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_endpoints, head_is_accepted_wherever_get_is)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    const char *paths[] = { "/healthz",      "/readyz", "/v1/models", "/v1/models/cad-xgb-demo",
                            "/openapi.yaml", "/metrics" };
    for (size_t i = 0; i < 6; i++) {
        http_resp *g = http_get(d, paths[i]);
        expect_status(g, 200);
        char req[300];
        snprintf(req, sizeof req,
                 "HEAD %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", paths[i]);
        int fd = raw_connect(d->port);
        cr_assert(fd >= 0);
        cr_assert_eq(raw_send_str(fd, req), 0);
        http_resp *h = raw_read_response(fd, true, 5000);
        cr_assert_eq(h->status, 200, "HEAD %s: %s", paths[i], http_describe(h));
        char *rest = NULL;
        long n = raw_read_rest(fd, 1000, &rest);
        cr_assert(n <= 0, "HEAD %s: %ld body bytes sent after the headers: %.200s", paths[i], n,
                  rest);
        free(rest);
        close(fd);
        const char *gct = http_header(g, "Content-Type"), *hct = http_header(h, "Content-Type");
        cr_assert(gct && hct && strcmp(gct, hct) == 0,
                  "HEAD %s Content-Type %s differs from GET's %s", paths[i], hct ? hct : "(none)",
                  gct ? gct : "(none)");
        cr_assert(http_header(h, "X-Request-ID"), "HEAD %s lacks X-Request-ID", paths[i]);
        http_free(g);
        http_free(h);
    }
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

static json_t *predict_ok(const daemon_t *d, const char *path, const char *body)
{
    http_resp *r = http_post_json(d, path, body);
    expect_status(r, 200);
    json_t *j = http_json(r);
    http_free(r);
    return j;
}

Test(http_endpoints, query_overrides_explain_and_top_k)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    /* body: explain true, top_k 10 */
    char *body = make_dosage_request(3, 200, 5, true, 10, "Q");
    json_t *j = predict_ok(d, "/v1/models/cad-xgb-demo/predict?explain=false", body);
    json_t *res = json_object_get(j, "results");
    cr_assert_eq(json_array_size(res), 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_null(json_object_get(json_array_get(res, i), "explanation"),
                       "explain=false should remove explanation from results[%zu]", i);
    json_decref(j);

    j = predict_ok(d, "/v1/models/cad-xgb-demo/predict?top_k=3", body);
    res = json_object_get(j, "results");
    for (size_t i = 0; i < 3; i++) {
        json_t *att =
            json_object_get(json_object_get(json_array_get(res, i), "explanation"), "attributions");
        cr_assert_eq(json_array_size(att), 3, "top_k=3: results[%zu] has %zu attributions", i,
                     json_array_size(att));
    }
    json_decref(j);

    j = predict_ok(d, "/v1/models/cad-xgb-demo/predict?top_k=0", body);
    json_t *att = json_object_get(
        json_object_get(json_array_get(json_object_get(j, "results"), 0), "explanation"),
        "attributions");
    cr_assert_eq(json_array_size(att), 200, "top_k=0 should give all 200 attributions");
    json_decref(j);

    j = predict_ok(d, "/v1/models/cad-xgb-demo/predict?explain=false&top_k=3", body);
    cr_assert_null(
        json_object_get(json_array_get(json_object_get(j, "results"), 0), "explanation"));
    json_decref(j);
    free(body);

    /* query explain=true overrides body explain=false */
    body = make_dosage_request(1, 200, 6, false, 2, NULL);
    j = predict_ok(d, "/v1/models/cad-xgb-demo/predict?explain=true", body);
    att = json_object_get(
        json_object_get(json_array_get(json_object_get(j, "results"), 0), "explanation"),
        "attributions");
    cr_assert_eq(json_array_size(att), 2, "explain=true should override the body's false");
    json_decref(j);
    free(body);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_endpoints, request_log_line)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    char *body = slurp_file("models/cad-xgb-demo/example.json");
    const char *hdrs[] = { "X-Request-ID: log-check-0001", NULL };
    http_req rq = { .method = "POST",
                    .path = "/v1/models/cad-xgb-demo/predict",
                    .content_type = "application/json",
                    .body = body,
                    .headers = hdrs };
    http_resp *r = http_do(d->port, &rq);
    expect_status(r, 200);
    http_free(r);
    free(body);
    cr_assert(daemon_wait_log(d, "log-check-0001", 1, 3000), "no log line for the request");
    char *log = daemon_log(d);
    json_t *found = NULL;
    size_t lines = 0;
    for (char *save = NULL, *line = strtok_r(log, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        cr_assert(j, "every log line should be JSON (default --log-format json): %s", line);
        lines++;
        const char *t = json_string_value(json_object_get(j, "time"));
        cr_assert(t && t[strlen(t) - 1] == 'Z', "log time should be UTC ...Z: %s", line);
        cr_assert(json_is_string(json_object_get(j, "level")), "log line lacks level: %s", line);
        json_t *rid = json_object_get(j, "request_id");
        if (json_is_string(rid) && strcmp(json_string_value(rid), "log-check-0001") == 0) {
            cr_assert_null(found, "two log lines for one request");
            found = j;
        } else {
            json_decref(j);
        }
    }
    cr_assert(found);
    cr_assert_str_eq(json_string_value(json_object_get(found, "msg")), "request");
    cr_assert_str_eq(json_string_value(json_object_get(found, "level")), "info");
    cr_assert_str_eq(json_string_value(json_object_get(found, "method")), "POST");
    cr_assert_str_eq(json_string_value(json_object_get(found, "route")),
                     "/v1/models/{name}/predict");
    cr_assert_eq(json_integer_value(json_object_get(found, "status")), 200);
    cr_assert(json_is_number(json_object_get(found, "duration_ms")));
    cr_assert(json_integer_value(json_object_get(found, "bytes_in")) > 1000);
    cr_assert(json_integer_value(json_object_get(found, "bytes_out")) > 100);
    cr_assert_str_eq(json_string_value(json_object_get(found, "model")), "cad-xgb-demo");
    cr_assert_eq(json_integer_value(json_object_get(found, "samples")), 2);
    json_decref(found);
    free(log);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_endpoints, symlinked_bundle_is_loaded)
{
    char *dir = models_dir_new();
    models_dir_link(dir, "models/cad-xgb-demo", NULL);
    models_dir_copy(dir, "tests/fixtures/xgb_clf", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    http_resp *r = http_get(d, "/v1/models/cad-xgb-demo");
    cr_assert_eq(r->status, 200,
                 "a bundle that is a symlink to a directory should load like a subdirectory; %s",
                 http_describe(r));
    http_free(r);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_endpoints, env_vars_and_flag_precedence)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    char models_env[700];
    snprintf(models_env, sizeof models_env, "GENORISK_MODELS=%s", dir);
    /* models from the env, max-samples 2 from the env */
    const char *env1[] = { models_env, "GENORISK_MAX_SAMPLES=2", NULL };
    daemon_t *d = daemon_start_env(NULL, NULL, env1);
    char *three = make_dosage_request(3, 200, 3, false, -1, NULL);
    http_resp *r = http_post_json(d, "/v1/models/cad-xgb-demo/predict", three);
    json_decref(expect_problem(r, 422, "invalid-input", "/v1/models/cad-xgb-demo/predict"));
    http_free(r);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    /* the flag wins over the env */
    const char *args[] = { "--max-samples", "5", NULL };
    d = daemon_start_env(dir, args, env1);
    r = http_post_json(d, "/v1/models/cad-xgb-demo/predict", three);
    cr_assert_eq(r->status, 200, "--max-samples 5 should win over GENORISK_MAX_SAMPLES=2; %s",
                 http_describe(r));
    http_free(r);
    free(three);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_endpoints, text_log_format)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, "--log-format", "text", NULL);
    http_free(http_get(d, "/v1/models"));
    cr_assert(daemon_wait_log(d, " request ", 1, 3000), "no text request line");
    char *log = daemon_log(d);
    cr_assert(log[0] != '{', "--log-format text should not write JSON: %.200s", log);
    cr_assert(strstr(log, "port="), "text log should have key=value pairs: %.300s", log);
    cr_assert(strstr(log, "status=200"), "text request line should have status=200: %.500s", log);
    cr_assert(strstr(log, " info "), "text log should be `time level msg key=value`: %.300s", log);
    free(log);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_endpoints, probe_requests_are_logged_at_debug)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, "--log-level", "debug", NULL);
    const char *h1[] = { "X-Request-ID: probe-log-1", NULL };
    http_req rq = { .path = "/healthz", .headers = h1 };
    http_free(http_do(d->port, &rq));
    cr_assert(daemon_wait_log(d, "probe-log-1", 1, 3000),
              "spec: one log line per request; /healthz not logged even at debug");
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

/* PGS000001's locus_name per rsID, from the scoring file itself: the
 * locus of feature id (its rsID), or NULL. text is the file, cut in place. */
static const char *pgs1_locus(char **rows, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i += 2)
        if (!strcmp(rows[i], id))
            return rows[i + 1];
    return NULL;
}

static size_t pgs1_loci(char *text, char **rows, size_t cap)
{
    size_t n = 0;
    int rs = -1, loc = -1;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char *cells[32];
        int nc = 0;
        for (char *p = line; nc < 32;) {
            cells[nc++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        if (rs < 0) {
            for (int c = 0; c < nc; c++) {
                rs = !strcmp(cells[c], "rsID") ? c : rs;
                loc = !strcmp(cells[c], "locus_name") ? c : loc;
            }
            cr_assert(rs >= 0 && loc >= 0);
            continue;
        }
        cr_assert_lt(n + 2, cap);
        rows[n++] = cells[rs];
        rows[n++] = cells[loc];
    }
    return n;
}

/* ?group_by=locus on the PGS Catalog's PGS000001 (locus_name): each
 * result's groups are the sums of their members' attributions (1e-12),
 * largest |value| first, and add up with base_value to the margin; a VCF
 * upload gets them too; a value that is no choice, or a model naming no
 * locus (gene), is 400 invalid-parameter naming group_by. */
Test(http_endpoints, group_by_locus_sums_attributions_per_locus)
{
    char *dir = models_dir_with("tests/fixtures/pgs000001", "models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    char *text = slurp_file("tests/fixtures/pgs000001/PGS000001_hmPOS_GRCh38.txt");
    char *rows[200];
    size_t nrows = pgs1_loci(text, rows, 200);
    cr_assert_eq(nrows, 2 * 77);
    const char *body = "{\"samples\":[{\"id\":\"G1\",\"genotypes\":{\"rs78540526\":2,"
                       "\"rs75915166\":1,\"rs554219\":1,\"rs7726159\":2,\"rs10069690\":1,"
                       "\"rs2736108\":2,\"rs2588809\":1,\"rs999737\":2,\"rs10759243\":1}}],"
                       "\"top_k\":0}";
    json_t *j =
        predict_ok(d, "/v1/models/pgs000001/predict?group_by=locus&allow_low_coverage=true", body);
    json_t *r0 = json_array_get(json_object_get(j, "results"), 0);
    json_t *ex = json_object_get(r0, "explanation");
    json_t *attrs = json_object_get(ex, "attributions"), *groups = json_object_get(ex, "groups");
    cr_assert_eq(json_array_size(attrs), 77);
    cr_assert_gt(json_array_size(groups), 40);
    cr_assert_lt(json_array_size(groups), 77, "variants of one locus are summed");
    double total = json_number_value(json_object_get(ex, "base_value")), prev = INFINITY;
    size_t members = 0;
    for (size_t g = 0; g < json_array_size(groups); g++) {
        json_t *grp = json_array_get(groups, g);
        const char *name = json_string_value(json_object_get(grp, "group"));
        double want = 0, value = json_number_value(json_object_get(grp, "value"));
        size_t count = 0;
        for (size_t a = 0; a < json_array_size(attrs); a++) {
            json_t *at = json_array_get(attrs, a);
            const char *locus =
                pgs1_locus(rows, nrows, json_string_value(json_object_get(at, "feature")));
            cr_assert_not_null(locus);
            if (!strcmp(locus, name)) {
                want += json_number_value(json_object_get(at, "value"));
                count++;
            }
        }
        cr_assert(fabs(value - want) <= 1e-12, "group %s: %.17g vs its members' %.17g", name, value,
                  want);
        cr_assert_eq(json_integer_value(json_object_get(grp, "features")), (json_int_t)count);
        cr_assert_leq(fabs(value), prev, "group %s out of order", name);
        prev = fabs(value);
        total += value;
        members += count;
    }
    cr_assert_eq(members, 77);
    cr_assert(fabs(total - json_number_value(json_object_get(r0, "margin"))) <= 1e-12);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(groups, 0), "group")),
                     "CCND1");
    json_decref(j);

    /* the model says what it answers */
    http_resp *r = http_get(d, "/v1/models/pgs000001");
    expect_status(r, 200);
    j = http_json(r);
    json_t *want = json_pack("[s]", "locus");
    cr_assert(json_equal(json_object_get(j, "group_by"), want));
    json_decref(want);
    json_decref(j);
    http_free(r);

    /* a VCF upload: the same rule, top_k applied to the groups */
    const char vcf[] = "##fileformat=VCFv4.2\n"
                       "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"
                       "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tV1\n"
                       "5\t1279675\trs10069690\tC\tT\t.\tPASS\t.\tGT\t0/1\n"
                       "5\t1282204\trs7726159\tC\tA\t.\tPASS\t.\tGT\t1/1\n"
                       "11\t69516650\trs78540526\tC\tT\t.\tPASS\t.\tGT\t1/1\n"
                       "11\t69564393\trs75915166\tC\tA\t.\tPASS\t.\tGT\t0/1\n";
    r = http_post(d, "/v1/models/pgs000001/predict?group_by=locus&top_k=1&allow_low_coverage=true",
                  "text/vcf", vcf, strlen(vcf));
    expect_status(r, 200);
    j = http_json(r);
    groups = json_object_get(
        json_object_get(json_array_get(json_object_get(j, "results"), 0), "explanation"), "groups");
    cr_assert_eq(json_array_size(groups), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(groups, 0), "group")),
                     "CCND1");
    cr_assert_float_eq(json_number_value(json_object_get(json_array_get(groups, 0), "value")),
                       2 * 0.16220388 + 0.023618866, 1e-12);
    json_decref(j);
    http_free(r);

    /* 400s naming the parameter and what to do */
    static const struct {
        const char *path, *needle;
    } bad[] = {
        { "/v1/models/pgs000001/predict?group_by=pathway", "none, locus" },
        { "/v1/models/pgs000001/predict?group_by=", "gene" },
        { "/v1/models/pgs000001/predict?group_by=gene", "model pgs000001 names no gene" },
        { "/v1/models/cad-xgb-demo/predict?group_by=locus", "model cad-xgb-demo names no locus" },
        { "/v1/predict?model=pgs000001&model=cad-xgb-demo&group_by=locus",
          "cad-xgb-demo names no locus" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = http_post_json(d, bad[i].path, body);
        char instance[128];
        snprintf(instance, sizeof instance, "%.*s", (int)strcspn(bad[i].path, "?"), bad[i].path);
        j = expect_problem(r, 400, "invalid-parameter", instance);
        cr_assert_str_eq(json_string_value(json_object_get(j, "field")), "group_by", "%s",
                         bad[i].path);
        const char *detail = json_string_value(json_object_get(j, "detail"));
        cr_assert(strstr(detail, bad[i].needle), "%s: %s", bad[i].path, detail);
        json_decref(j);
        http_free(r);
    }
    free(text);
    cr_assert_eq(daemon_stop(d, 10000), 0);
    daemon_free(d);
    models_dir_free(dir);
}
