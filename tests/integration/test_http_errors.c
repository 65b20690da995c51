/* test_http_errors.c - genoriskd: every error status as RFC 9457 problem
 * details, body limits, media types, input validation, X-Request-ID. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tests/integration/daemon.h"

TestSuite(http_errors, .fini = itest_cleanup, .timeout = 40);

#define PREDICT "/v1/models/cad-xgb-demo/predict"

static daemon_t *start_xgb(char **dir, const char *first_flag, ...)
{
    *dir = models_dir_with("models/cad-xgb-demo", NULL);
    const char *args[16];
    size_t n = 0;
    va_list ap;
    va_start(ap, first_flag);
    for (const char *a = first_flag; a && n < 15; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return daemon_start_env(*dir, args, NULL);
}

Test(http_errors, invalid_json_400_does_not_echo_the_body)
{
    char *dir;
    daemon_t *d = start_xgb(&dir, NULL);
    const char *bodies[] = {
        "{\"samples\":[{\"id\":\"SECRET-XYZ\\q\",\"genotypes\":{}}]}",
        "{\"samples\":[{\"id\":\"P1\",\"genotypes\":{\"rs9000001\": 1.5eSECRET}}]}",
        "{\"samples\":[{\"id\":\"SECRET-XYZ\"",
        "{\"samples\":[]}\n trailing SECRET-XYZ",
        "{\"samples\":[{\"id\":\"SECRET-XYZ\",\"id\":\"SECRET-XYZ\"}]}",
        "",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        http_resp *r = http_post(d, PREDICT, "application/json", bodies[i], strlen(bodies[i]));
        json_t *j = expect_problem(r, 400, "invalid-json", PREDICT);
        const char *detail = json_string_value(json_object_get(j, "detail"));
        cr_assert_null(strstr(r->body, "SECRET"),
                       "invalid-json problem must not echo the body (case %zu): %s", i, r->body);
        cr_assert_null(strstr(r->body, "1.5e"), "problem echoes body text: %s", r->body);
        if (i < 3)
            cr_assert(strcasestr(detail, "line") || strcasestr(detail, "column"),
                      "invalid-json detail should give line/column, got \"%s\"", detail);
        json_decref(j);
        http_free(r);
    }
    itest_finish(d, dir);
}

Test(http_errors, unknown_model_404)
{
    char *dir;
    daemon_t *d = start_xgb(&dir, NULL);
    http_resp *r = http_get(d, "/v1/models/no-such-model");
    json_decref(expect_problem(r, 404, "model-not-found", "/v1/models/no-such-model"));
    http_free(r);
    char *body = slurp_file("models/cad-xgb-demo/example.json");
    r = http_post_json(d, "/v1/models/no-such-model/predict", body);
    json_decref(expect_problem(r, 404, "model-not-found", "/v1/models/no-such-model/predict"));
    http_free(r);
    free(body);
    /* a name that is not UTF-8 is quoted as '?': the 404 once had no body */
    r = http_get(d, "/v1/models/%FF%FE");
    json_t *j = expect_problem(r, 404, "model-not-found", "/v1/models/?\?");
    cr_assert(strstr(json_string_value(json_object_get(j, "detail")), "'?\?'"), "%s", r->body);
    json_decref(j);
    http_free(r);
    itest_finish(d, dir);
}

Test(http_errors, unknown_route_404)
{
    char *dir;
    daemon_t *d = start_xgb(&dir, NULL);
    const char *paths[] = {
        "/", "/nope", "/v1", "/v2/models", "/healthz/extra", "/v1/models/cad-xgb-demo/predict/extra"
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        http_resp *r = http_get(d, paths[i]);
        json_decref(expect_problem(r, 404, "not-found", paths[i]));
        http_free(r);
    }
    /* instance is the path, without the query string */
    http_resp *r = http_get(d, "/nope?x=1");
    json_decref(expect_problem(r, 404, "not-found", "/nope"));
    http_free(r);
    itest_finish(d, dir);
}

Test(http_errors, method_not_allowed_405_with_allow)
{
    char *dir;
    daemon_t *d = start_xgb(&dir, NULL);
    struct {
        const char *method, *path, *allow;
    } cases[] = {
        { "GET", PREDICT, "POST" },
        { "PUT", PREDICT, "POST" },
        { "POST", "/healthz", "GET, HEAD" },
        { "POST", "/readyz", "GET, HEAD" },
        { "DELETE", "/v1/models", "GET, HEAD" },
        { "POST", "/v1/models/cad-xgb-demo", "GET, HEAD" },
        { "POST", "/metrics", "GET, HEAD" },
        { "PUT", "/openapi.yaml", "GET, HEAD" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_req rq = { .method = cases[i].method, .path = cases[i].path };
        if (strcmp(cases[i].method, "GET") != 0) {
            rq.body = "{}";
            rq.content_type = "application/json";
        }
        http_resp *r = http_do(d->port, &rq);
        json_t *j = expect_problem(r, 405, "method-not-allowed", cases[i].path);
        const char *allow = http_header(r, "Allow");
        cr_assert(allow && strcmp(allow, cases[i].allow) == 0,
                  "%s %s: Allow should be \"%s\", got \"%s\"", cases[i].method, cases[i].path,
                  cases[i].allow, allow ? allow : "(none)");
        json_decref(j);
        http_free(r);
    }
    itest_finish(d, dir);
}

/* A valid request padded with spaces to exactly len bytes. */
static char *padded_request(size_t len)
{
    const char *base = "{\"samples\":[{\"id\":\"P\",\"genotypes\":{\"rs9000001\":1}}],"
                       "\"explain\":false}";
    size_t bl = strlen(base);
    cr_assert(len >= bl);
    char *s = malloc(len + 1);
    memcpy(s, base, bl - 1);
    memset(s + bl - 1, ' ', len - bl);
    s[len - 1] = '}';
    s[len] = '\0';
    return s;
}

Test(http_errors, body_too_large_413_by_content_length)
{
    char *dir;
    daemon_t *d = start_xgb(&dir, "--max-body-bytes", "1000", NULL);
    char *ok = padded_request(1000);
    http_resp *r = http_post_json(d, PREDICT "?allow_low_coverage=true", ok);
    cr_assert_eq(r->status, 200, "a 1000-byte body is within --max-body-bytes 1000; %s",
                 http_describe(r));
    http_free(r);
    char *over = padded_request(1001);
    r = http_post_json(d, PREDICT, over);
    json_decref(expect_problem(r, 413, "body-too-large", PREDICT));
    http_free(r);
    char *big = padded_request(5000);
    r = http_post_json(d, PREDICT, big);
    json_decref(expect_problem(r, 413, "body-too-large", PREDICT));
    http_free(r);

    /* answered before reading: only the headers are sent */
    int fd = raw_connect(d->port);
    cr_assert(fd >= 0);
    cr_assert_eq(raw_send_str(fd, "POST " PREDICT " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  "Content-Type: application/json\r\n"
                                  "Content-Length: 100000000\r\n\r\n"),
                 0);
    http_resp *h = raw_read_response(fd, false, 3000);
    cr_assert_eq(h->status, 413,
                 "Content-Length over the limit should be answered with 413 before the body is "
                 "sent; %s",
                 http_describe(h));
    json_decref(expect_problem(h, 413, "body-too-large", PREDICT));
    http_free(h);
    close(fd);
    free(ok);
    free(over);
    free(big);
    itest_finish(d, dir);
}

/* Sends a chunked POST of body in pieces of step bytes, stopping early when the
 * server has answered; returns the response. */
static http_resp *chunked_post(int port, const char *path, const char *body, size_t step)
{
    int fd = raw_connect(port);
    cr_assert(fd >= 0);
    char hdr[400];
    snprintf(hdr, sizeof hdr,
             "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
             path);
    raw_send_str(fd, hdr);
    size_t len = strlen(body);
    for (size_t off = 0; off < len; off += step) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 20) > 0)
            break; /* answered early */
        size_t n = len - off < step ? len - off : step;
        char sz[32];
        snprintf(sz, sizeof sz, "%zx\r\n", n);
        if (raw_send_str(fd, sz) || raw_send(fd, body + off, n) || raw_send_str(fd, "\r\n"))
            break;
    }
    raw_send_str(fd, "0\r\n\r\n");
    http_resp *r = raw_read_response(fd, false, 5000);
    close(fd);
    return r;
}

Test(http_errors, body_too_large_413_chunked)
{
    char *dir;
    daemon_t *d = start_xgb(&dir, "--max-body-bytes", "1000", NULL);
    /* a chunked body within the limit works */
    char *ok = padded_request(900);
    http_resp *r = chunked_post(d->port, PREDICT "?allow_low_coverage=true", ok, 100);
    cr_assert_eq(r->status, 200, "chunked upload (no Content-Length) within the limit; %s",
                 http_describe(r));
    json_t *j = http_json(r);
    cr_assert_eq(json_array_size(json_object_get(j, "results")), 1);
    json_decref(j);
    http_free(r);
    char *big = padded_request(4000);
    r = chunked_post(d->port, PREDICT, big, 300);
    json_decref(expect_problem(r, 413, "body-too-large", PREDICT));
    http_free(r);
    /* still serving */
    r = http_get(d, "/healthz");
    expect_status(r, 200);
    http_free(r);
    free(ok);
    free(big);
    itest_finish(d, dir);
}

Test(http_errors, unsupported_media_type_415)
{
    char *dir;
    daemon_t *d = start_xgb(&dir, NULL);
    char *body = slurp_file("models/cad-xgb-demo/example.json");
    /* multipart/form-data is a VCF upload since VCF input arrived */
    const char *cts[] = { "text/plain", NULL, "application/x-www-form-urlencoded",
                          "application/jsonx", "image/png" };
    for (size_t i = 0; i < sizeof cts / sizeof cts[0]; i++) {
        http_resp *r = http_post(d, PREDICT, cts[i], body, strlen(body));
        json_t *j = expect_problem(r, 415, "unsupported-media-type", PREDICT);
        json_decref(j);
        http_free(r);
    }
    free(body);
    itest_finish(d, dir);
}

static void expect_invalid_input(const daemon_t *d, const char *body, const char *field)
{
    http_resp *r = http_post_json(d, PREDICT, body);
    json_t *j = expect_problem(r, 422, "invalid-input", PREDICT);
    if (field) {
        json_t *f = json_object_get(j, "field");
        cr_assert(json_is_string(f) && strcmp(json_string_value(f), field) == 0,
                  "422 field should be \"%s\"; %s", field, http_describe(r));
    }
    cr_assert_null(strstr(r->body, "SECRET"), "422 problem echoes an id or value: %s", r->body);
    json_decref(j);
    http_free(r);
}

Test(http_errors, invalid_input_422_names_the_field)
{
    char *dir;
    daemon_t *d = start_xgb(&dir, "--max-samples", "2", NULL);
    expect_invalid_input(d, "{\"samples\":[]}", "samples");
    expect_invalid_input(d, "{\"explain\":true}", "samples");
    char *three = make_dosage_request(3, 200, 1, false, -1, "SECRET-");
    expect_invalid_input(d, three, "samples");
    free(three);
    char *two = make_dosage_request(2, 200, 1, false, -1, NULL);
    http_resp *r = http_post_json(d, PREDICT, two);
    cr_assert_eq(r->status, 200, "2 samples with --max-samples 2; %s", http_describe(r));
    http_free(r);
    free(two);
    expect_invalid_input(d, "{\"samples\":[{\"id\":\"SECRET-1\",\"genotypes\":{\"rs9000001\":3}}]}",
                         "samples[0].genotypes.rs9000001");
    expect_invalid_input(d,
                         "{\"samples\":[{\"genotypes\":{\"rs9000001\":1}},"
                         "{\"genotypes\":{\"rs9000002\":\"A/G\"}}]}",
                         "samples[1].genotypes.rs9000002");
    char *short_dense = make_dosage_request(1, 199, 1, false, -1, NULL);
    expect_invalid_input(d, short_dense, "samples[0].dosages");
    free(short_dense);
    char *dense = make_dosage_request(1, 200, 1, false, -1, NULL);
    char *p = strstr(dense, "\"dosages\":[") + 11;
    p[2 * 5] = '3'; /* dosages[5] = 3 */
    expect_invalid_input(d, dense, "samples[0].dosages[5]");
    free(dense);
    expect_invalid_input(d, "{\"samples\":[{\"genotypes\":{}}],\"bogus\":1}", "bogus");
    expect_invalid_input(d, "[1,2,3]", NULL);
    itest_finish(d, dir);
}

Test(http_errors, invalid_query_parameter_400)
{
    char *dir;
    daemon_t *d = start_xgb(&dir, NULL);
    char *body = slurp_file("models/cad-xgb-demo/example.json");
    const char *qs[] = { "?explain=maybe", "?top_k=-1", "?top_k=abc",
                         "?top_k=1.5",     "?explain=", "?top_k=" };
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        char path[200];
        snprintf(path, sizeof path, "%s%s", PREDICT, qs[i]);
        http_resp *r = http_post_json(d, path, body);
        json_decref(expect_problem(r, 400, "invalid-parameter", PREDICT));
        http_free(r);
    }
    free(body);
    itest_finish(d, dir);
}

/* Spec: "explain=true|false and top_k=<int >= 0>"; anything else is invalid. */
Test(http_errors, query_parameters_are_strict)
{
    char *dir;
    daemon_t *d = start_xgb(&dir, NULL);
    char *body = slurp_file("models/cad-xgb-demo/example.json");
    const char *qs[] = { "?explain=1",  "?explain=0",  "?explain=TRUE",
                         "?top_k=%2B3", "?top_k=%203", "?top_k=3x" };
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        char path[200];
        snprintf(path, sizeof path, "%s%s", PREDICT, qs[i]);
        http_resp *r = http_post_json(d, path, body);
        cr_expect_eq(r->status, 400, "%s should be 400 invalid-parameter; %s", qs[i],
                     http_describe(r));
        http_free(r);
    }
    free(body);
    itest_finish(d, dir);
}

Test(http_errors, default_limits)
{
    char *dir;
    daemon_t *d = start_xgb(&dir, NULL);
    /* default --max-samples 10000 */
    size_t n = 10001, cap = n * 20 + 100, len = 0;
    char *body = malloc(cap);
    len += (size_t)sprintf(body, "{\"explain\":false,\"samples\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(body + len, "%s{\"genotypes\":{}}", i ? "," : "");
    sprintf(body + len, "]}");
    expect_invalid_input(d, body, "samples");
    /* drop the last sample: 10000 */
    const char *tail = ",{\"genotypes\":{}}]}";
    size_t bl = strlen(body);
    cr_assert(strcmp(body + bl - strlen(tail), tail) == 0);
    strcpy(body + bl - strlen(tail), "]}");
    http_resp *r = http_post_json(d, PREDICT "?allow_low_coverage=true", body);
    cr_assert_eq(r->status, 200, "10000 samples is the default limit; %s", http_describe(r));
    http_free(r);
    free(body);
    /* default --max-body-bytes 16 MiB, answered from the headers */
    static const char over[] = "POST " PREDICT " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: 16777217\r\n\r\n";
    r = raw_request(d->port, over, sizeof over - 1, false, 3000);
    json_decref(expect_problem(r, 413, "body-too-large", PREDICT));
    http_free(r);
    itest_finish(d, dir);
}

static http_resp *get_with_id(const daemon_t *d, const char *path, const char *hdr)
{
    const char *hdrs[] = { hdr, NULL };
    http_req rq = { .method = "GET", .path = path, .headers = hdrs };
    return http_do(d->port, &rq);
}

Test(http_errors, request_id_echo_and_replacement)
{
    char *dir;
    daemon_t *d = start_xgb(&dir, NULL);
    char max_ok[200], too_long[200];
    memset(max_ok, 'a', 128);
    max_ok[0] = 'Z';
    max_ok[127] = '9';
    max_ok[128] = '\0';
    memset(too_long, 'b', 129);
    too_long[129] = '\0';

    const char *sane[] = { "abc-123_X.y", "1", max_ok };
    for (size_t i = 0; i < 3; i++) {
        char hdr[300];
        snprintf(hdr, sizeof hdr, "X-Request-ID: %s", sane[i]);
        const char *paths[] = { "/readyz", "/v1/models/nope" };
        for (size_t k = 0; k < 2; k++) {
            http_resp *r = get_with_id(d, paths[k], hdr);
            const char *got = http_header(r, "X-Request-ID");
            cr_assert(got && strcmp(got, sane[i]) == 0,
                      "X-Request-ID '%s' should be echoed, got '%s'", sane[i], got ? got : "");
            json_t *j = http_json(r);
            cr_assert_str_eq(json_string_value(json_object_get(j, "request_id")), sane[i]);
            json_decref(j);
            http_free(r);
        }
    }
    const char *insane[] = { too_long,   "has space",   "semi;colon", "slash/x",
                             "quote\"x", "caf\xc3\xa9", "{\"x\":1}" };
    for (size_t i = 0; i < sizeof insane / sizeof insane[0]; i++) {
        char hdr[300];
        snprintf(hdr, sizeof hdr, "X-Request-ID: %s", insane[i]);
        http_resp *r = get_with_id(d, "/readyz", hdr);
        expect_status(r, 200);
        const char *got = http_header(r, "X-Request-ID");
        cr_assert(is_uuid_v4(got),
                  "insane X-Request-ID '%s' should be replaced by a UUID v4, got "
                  "'%s'",
                  insane[i], got ? got : "(none)");
        json_t *j = http_json(r);
        cr_assert_str_eq(json_string_value(json_object_get(j, "request_id")), got);
        json_decref(j);
        http_free(r);
    }
    /* empty header value (curl sends "X-Request-ID:" for "X-Request-ID;") */
    http_resp *r = get_with_id(d, "/readyz", "X-Request-ID;");
    cr_assert(is_uuid_v4(http_header(r, "X-Request-ID")),
              "empty X-Request-ID should be replaced, got '%s'", http_header(r, "X-Request-ID"));
    http_free(r);
    /* none sent: fresh and distinct */
    http_resp *a = http_get(d, "/readyz"), *b = http_get(d, "/readyz");
    const char *ia = http_header(a, "X-Request-ID"), *ib = http_header(b, "X-Request-ID");
    cr_assert(is_uuid_v4(ia) && is_uuid_v4(ib), "generated ids should be UUID v4: %s %s", ia, ib);
    cr_assert_str_neq(ia, ib, "two requests got the same generated X-Request-ID");
    http_free(a);
    http_free(b);
    /* problem responses on POST carry it too */
    const char *hdrs[] = { "X-Request-ID: err-id-77", NULL };
    http_req rq = { .method = "POST",
                    .path = PREDICT,
                    .content_type = "text/plain",
                    .body = "hello",
                    .headers = hdrs };
    r = http_do(d->port, &rq);
    json_t *j = expect_problem(r, 415, "unsupported-media-type", PREDICT);
    cr_assert_str_eq(json_string_value(json_object_get(j, "request_id")), "err-id-77");
    json_decref(j);
    http_free(r);
    itest_finish(d, dir);
}

Test(http_errors, request_id_on_early_413)
{
    char *dir;
    daemon_t *d = start_xgb(&dir, "--max-body-bytes", "1000", NULL);
    static const char req[] = "POST " PREDICT " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Content-Type: application/json\r\nX-Request-ID: big-body-1\r\n"
                              "Content-Length: 50000000\r\n\r\n";
    http_resp *r = raw_request(d->port, req, sizeof req - 1, false, 3000);
    json_t *j = expect_problem(r, 413, "body-too-large", PREDICT);
    cr_assert_str_eq(http_header(r, "X-Request-ID"), "big-body-1");
    json_decref(j);
    http_free(r);
    itest_finish(d, dir);
}
