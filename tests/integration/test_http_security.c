/* test_http_security.c - genoriskd's defences: bearer tokens (and their
 * rotation), TLS with a certificate the test makes, the limits on what a
 * client controls (connections, idle time, JSON depth and strings, VCF
 * lines and headers, multipart parts), and a whole session of real-looking
 * genotypes and sample ids that must not surface in logs, metrics or error
 * bodies. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/daemon.h"

TestSuite(http_security, .fini = itest_cleanup, .timeout = 90);

#define TOKEN_A "tok-A-1b9e0c7d5a3f42e8"
#define TOKEN_B "tok-B-77c3a1e0f9d24b6a"
#define XGB_PREDICT "/v1/models/cad-xgb-demo/predict"
#define PGS_PREDICT "/v1/models/cad-pgs-demo/predict"

static http_resp *get_with(const daemon_t *d, const char *path, const char *auth)
{
    const char *h[] = { auth, NULL };
    http_req rq = { .path = path, .headers = auth ? h : NULL };
    return http_do(d->port, &rq);
}

static http_resp *post_with(const daemon_t *d, const char *path, const char *ctype,
                            const char *body, size_t len, const char *auth)
{
    const char *h[] = { auth, NULL };
    http_req rq = { .method = "POST",
                    .path = path,
                    .content_type = ctype,
                    .body = body,
                    .body_len = len,
                    .headers = auth ? h : NULL };
    return http_do(d->port, &rq);
}

static const char *example_json(void)
{
    static char *body;
    if (!body)
        body = slurp_file("models/cad-xgb-demo/example.json");
    cr_assert(body);
    return body;
}

/* The first line of the daemon's log holding needle (a new string, without
 * its newline), waiting 5 s at most for it; NULL when there is none. */
static char *log_line_with(const daemon_t *d, const char *needle)
{
    if (!daemon_wait_log(d, needle, 1, 5000))
        return NULL;
    char *log = daemon_log(d);
    char *at = strstr(log, needle), *line = NULL;
    if (at) {
        char *start = at, *end = strchr(at, '\n');
        while (start > log && start[-1] != '\n')
            start--;
        line = strndup(start, end ? (size_t)(end - start) : strlen(start));
    }
    free(log);
    return line;
}

/* ---------------- bearer tokens ---------------- */

Test(http_security, tokens_guard_every_route_but_health)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    char *tokens = temp_file_with("# genoriskd tokens\n\n  " TOKEN_A "  \n" TOKEN_B "\r\n");
    daemon_t *d = daemon_start(dir, "--auth-tokens", tokens, NULL);

    /* open: health, readiness, the contract, metrics (without --auth-metrics) */
    const char *open_paths[] = { "/healthz", "/readyz", "/openapi.yaml", "/metrics" };
    for (size_t i = 0; i < 4; i++) {
        http_resp *r = http_get(d, open_paths[i]);
        expect_status(r, 200);
        http_free(r);
    }
    /* guarded: no token, a wrong one, another scheme */
    const char *guarded[] = { "/v1/models", "/v1/models/cad-xgb-demo", "/no/such/route" };
    for (size_t i = 0; i < 3; i++) {
        http_resp *r = http_get(d, guarded[i]);
        json_decref(expect_problem(r, 401, "unauthorized", guarded[i]));
        cr_assert_str_eq(http_header(r, "WWW-Authenticate"), "Bearer realm=\"genorisk\"");
        http_free(r);
        r = get_with(d, guarded[i], "Authorization: Bearer " TOKEN_A "x");
        json_decref(expect_problem(r, 401, "unauthorized", guarded[i]));
        cr_assert_str_eq(http_header(r, "WWW-Authenticate"),
                         "Bearer realm=\"genorisk\", error=\"invalid_token\"");
        http_free(r);
        r = get_with(d, guarded[i], "Authorization: Basic dG9rLUEtMWI5ZTBjN2Q1YTNmNDJlOA==");
        expect_status(r, 401);
        http_free(r);
    }
    http_resp *r = post_with(d, XGB_PREDICT, "application/json", example_json(), 0, NULL);
    json_decref(expect_problem(r, 401, "unauthorized", XGB_PREDICT));
    http_free(r);
    /* either token, any case of the scheme */
    r = get_with(d, "/v1/models", "Authorization: Bearer " TOKEN_A);
    expect_status(r, 200);
    http_free(r);
    r = post_with(d, XGB_PREDICT, "application/json", example_json(), 0,
                  "Authorization: bearer " TOKEN_B);
    expect_status(r, 200);
    http_free(r);
    r = get_with(d, "/no/such/route", "Authorization: Bearer " TOKEN_B);
    expect_status(r, 404);
    http_free(r);
    /* 401s are counted, tokens appear nowhere */
    http_resp *m = http_get(d, "/metrics");
    cr_assert_geq(metric_value(m->body, "genorisk_requests_total", "code=401", NULL), 10);
    sleep_ms(100);
    char *log = daemon_log(d);
    cr_assert(strstr(log, "\"problem\":\"unauthorized\""), "%s", log);
    const char *secrets[] = { "tok-A", "tok-B", "1b9e0c7d", "77c3a1e0", "dG9rLUEt", "Bearer" };
    for (size_t i = 0; i < 6; i++) {
        cr_assert_null(strstr(log, secrets[i]), "the log holds '%s'", secrets[i]);
        cr_assert_null(strstr(m->body, secrets[i]), "/metrics holds '%s'", secrets[i]);
    }
    free(log);
    http_free(m);
    itest_finish(d, dir);
    free(tokens);
}

Test(http_security, auth_metrics_and_token_rotation_on_sighup)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    char *tokens = temp_file_with(TOKEN_A "\n");
    daemon_t *d = daemon_start(dir, "--auth-tokens", tokens, "--auth-metrics", NULL);
    http_resp *r = http_get(d, "/metrics");
    expect_status(r, 401);
    http_free(r);
    r = get_with(d, "/metrics", "Authorization: Bearer " TOKEN_A);
    expect_status(r, 200);
    http_free(r);
    r = http_get(d, "/healthz");
    expect_status(r, 200);
    http_free(r);

    /* rotate: B in, A out */
    FILE *f = fopen(tokens, "w");
    cr_assert(f);
    fputs(TOKEN_B "\n", f);
    fclose(f);
    daemon_signal(d, SIGHUP);
    cr_assert(daemon_wait_log(d, "tokens reloaded", 1, 5000));
    r = get_with(d, "/v1/models", "Authorization: Bearer " TOKEN_A);
    expect_status(r, 401);
    http_free(r);
    r = get_with(d, "/v1/models", "Authorization: Bearer " TOKEN_B);
    expect_status(r, 200);
    http_free(r);
    itest_finish(d, dir);
    free(tokens);
}

static void write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    fputs(content, f);
    fclose(f);
}

static long status_with(const daemon_t *d, const char *token)
{
    char h[200];
    snprintf(h, sizeof h, "Authorization: Bearer %s", token);
    http_resp *r = get_with(d, "/v1/models", h);
    long status = r->status;
    http_free(r);
    return status;
}

static double metric_now(const daemon_t *d, const char *name)
{
    http_resp *r = http_get(d, "/metrics");
    expect_status(r, 200);
    double v = metric_value(r->body, name, NULL);
    http_free(r);
    return v;
}

#define RELOADED "\"msg\":\"reloaded\""

Test(http_security, revocation_fails_closed_on_sighup)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    char *tokens = temp_file_with(TOKEN_A "\n" TOKEN_B "\n");
    daemon_t *d = daemon_start(dir, "--auth-tokens", tokens, NULL);
    cr_assert_eq(status_with(d, TOKEN_A), 200);
    cr_assert_eq(status_with(d, TOKEN_B), 200);

    /* B revoked, with a line that is not a token: the file as written, less
     * that line (each SIGHUP reloads the tokens, then the models) */
    write_file(tokens, TOKEN_A "\nshort-secret\n");
    daemon_signal(d, SIGHUP);
    cr_assert(daemon_wait_log(d, RELOADED, 1, 5000));
    cr_assert_eq(status_with(d, TOKEN_B), 401, "a revoked token still works");
    cr_assert_eq(status_with(d, TOKEN_A), 200);
    char *line = log_line_with(d, "token line rejected");
    cr_assert(line);
    json_t *o = json_loads(line, 0, NULL);
    cr_assert(o, "%s", line);
    cr_assert_str_eq(json_string_value(json_object_get(o, "file")), tokens);
    cr_assert_eq(json_integer_value(json_object_get(o, "line")), 2, "%s", line);
    cr_assert_str_eq(json_string_value(json_object_get(o, "level")), "warn");
    json_decref(o);
    free(line);
    cr_assert_eq(metric_now(d, "genorisk_auth_tokens"), 1);
    cr_assert_eq(metric_now(d, "genorisk_auth_token_lines_rejected_total"), 1);

    /* emptied: no token works */
    write_file(tokens, "");
    daemon_signal(d, SIGHUP);
    cr_assert(daemon_wait_log(d, RELOADED, 2, 5000));
    cr_assert_eq(status_with(d, TOKEN_A), 401, "a token of an emptied file still works");
    cr_assert(daemon_wait_log(d, "\"msg\":\"no tokens\"", 1, 5000));
    cr_assert_eq(metric_now(d, "genorisk_auth_tokens"), 0);
    http_resp *r = http_get(d, "/healthz"); /* the open routes stay open */
    expect_status(r, 200);
    http_free(r);

    /* back, then gone: a file that cannot be read refuses every token too */
    write_file(tokens, TOKEN_A "\n");
    daemon_signal(d, SIGHUP);
    cr_assert(daemon_wait_log(d, RELOADED, 3, 5000));
    cr_assert_eq(status_with(d, TOKEN_A), 200);
    cr_assert_eq(unlink(tokens), 0);
    daemon_signal(d, SIGHUP);
    cr_assert(daemon_wait_log(d, RELOADED, 4, 5000));
    cr_assert_eq(status_with(d, TOKEN_A), 401, "a token of a deleted file still works");
    cr_assert_eq(metric_now(d, "genorisk_auth_tokens"), 0);
    line = log_line_with(d, "token reload failed");
    cr_assert(strstr(line, "No such file") && strstr(line, "\"level\":\"error\""), "%s", line);
    free(line);
    char *log = daemon_log(d);
    cr_assert_null(strstr(log, "short-secret"), "the rejected token is quoted: %s", log);
    cr_assert_null(strstr(log, TOKEN_A), "a token is logged");
    free(log);
    free(tokens);
    itest_finish(d, dir);
}

Test(http_security, lines_that_are_not_tokens_are_skipped_at_start_too)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    char *tokens = temp_file_with(TOKEN_A "\nwith a space inside it\n");
    daemon_t *d = daemon_start(dir, "--auth-tokens", tokens, NULL);
    cr_assert_eq(status_with(d, TOKEN_A), 200);
    char *line = log_line_with(d, "token line rejected");
    cr_assert(line && strstr(line, "\"line\":2"), "%s", line ? line : "no line");
    cr_assert_null(strstr(line, "space inside"), "the bad token is quoted: %s", line);
    free(line);
    cr_assert_eq(metric_now(d, "genorisk_auth_token_lines_rejected_total"), 1);
    free(tokens);
    itest_finish(d, dir);
}

Test(http_security, bad_token_files_and_flags_stop_the_start)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    struct {
        const char *content; /* NULL: a path that does not exist */
        const char *extra;
        int code;
        const char *needle;
    } cases[] = {
        { "", NULL, 1, "holds no tokens" },
        { "# only a comment\n", NULL, 1, "holds no tokens" },
        { "short-secret\nwith a space inside it\n", NULL, 1,
          "holds no tokens, only lines that are not tokens" },
        { NULL, NULL, 1, "No such file" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *path =
            cases[i].content ? temp_file_with(cases[i].content) : "/nonexistent/genorisk-tokens";
        const char *args[] = { "--auth-tokens", path, NULL };
        char *log = NULL;
        int rc = daemon_run_to_exit(dir, args, NULL, NULL, &log, 10000);
        cr_assert_eq(rc, cases[i].code, "case %zu: exit %d: %s", i, rc, log);
        cr_assert(strstr(log, cases[i].needle), "case %zu: %s", i, log);
        cr_assert_null(strstr(log, "short-secret"), "the bad token is quoted: %s", log);
        cr_assert_null(strstr(log, "space inside"), "the bad token is quoted: %s", log);
        free(log);
        if (cases[i].content)
            free(path);
    }
    const char *args[] = { "--auth-metrics", NULL };
    char *log = NULL;
    cr_assert_eq(daemon_run_to_exit(dir, args, NULL, NULL, &log, 10000), 2);
    cr_assert(strstr(log, "--auth-metrics needs --auth-tokens"), "%s", log);
    free(log);
    models_dir_free(dir);
}

/* ---------------- the audit trail ---------------- */

/* A request whose method holds bytes that are not UTF-8, with a guessed
 * token: a probe an audit must see. */
#define GUESS "Authorization: Bearer guessed-token-0123456789\r\n"
static const char not_utf8_method[] =
    "G\xff\xfeT /v1/models HTTP/1.1\r\nHost: localhost\r\n" GUESS "Connection: close\r\n\r\n";

Test(http_security, a_method_that_is_not_utf8_still_logs_status_and_request_id)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    char *tokens = temp_file_with(TOKEN_A "\n");
    daemon_t *d = daemon_start(dir, "--auth-tokens", tokens, NULL);
    http_resp *r = raw_request(d->port, not_utf8_method, sizeof not_utf8_method - 1, false, 5000);
    cr_assert_eq(r->status, 401, "%s", http_describe(r));
    const char *id = http_header(r, "X-Request-ID");
    cr_assert(id && is_uuid_v4(id), "%s", id ? id : "no X-Request-ID");
    char *line = log_line_with(d, id);
    char *log = daemon_log(d);
    cr_assert(line, "no log line holds the request id %s:\n%s", id, log);
    json_t *o = json_loads(line, 0, NULL);
    cr_assert(o, "not JSON: %s", line);
    cr_assert_str_eq(json_string_value(json_object_get(o, "msg")), "request");
    cr_assert_eq(json_integer_value(json_object_get(o, "status")), 401, "%s", line);
    cr_assert_str_eq(json_string_value(json_object_get(o, "problem")), "unauthorized");
    /* each byte that is not UTF-8 is one U+FFFD */
    cr_assert_str_eq(json_string_value(json_object_get(o, "method")), "G\uFFFD\uFFFDT", "%s", line);
    cr_assert_null(strstr(log, "guessed-token"), "the guessed token is logged");
    json_decref(o);
    free(log);
    free(line);
    http_free(r);
    free(tokens);
    itest_finish(d, dir);
}

Test(http_security, text_logs_escape_the_control_bytes_of_a_method)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, "--log-format", "text", NULL);
    static const char red[] = "G\x1b[31mT /v1/models HTTP/1.1\r\nHost: localhost\r\n"
                              "Connection: close\r\n\r\n";
    http_resp *r = raw_request(d->port, red, sizeof red - 1, false, 5000);
    cr_assert_neq(r->status, 0, "%s", http_describe(r));
    const char *id = http_header(r, "X-Request-ID");
    cr_assert(id);
    char *line = log_line_with(d, id);
    cr_assert(line, "no log line holds the request id %s", id);
    cr_assert(strstr(line, " method=\"G\\x1b[31mT\" "), "%s", line);
    char *log = daemon_log(d);
    cr_assert_null(strchr(log, '\x1b'), "an escape byte reached the log: %s", log);
    free(log);
    free(line);
    http_free(r);
    itest_finish(d, dir);
}

/* ---------------- TLS ---------------- */

/* A self-signed certificate for localhost/127.0.0.1 and its key in dir. */
static void make_cert(const char *dir, const char *name)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout '%s/%s.key' -out '%s/%s.pem' -days 2 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1",
             dir, name, dir, name);
    cr_assert_eq(system(cmd), 0, "openssl could not make a test certificate (make deps)");
}

Test(http_security, tls_with_a_self_signed_certificate)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    char *certs = models_dir_new();
    make_cert(certs, "a");
    make_cert(certs, "b");
    char cert[600], key[600], other_key[600];
    snprintf(cert, sizeof cert, "%s/a.pem", certs);
    snprintf(key, sizeof key, "%s/a.key", certs);
    snprintf(other_key, sizeof other_key, "%s/b.key", certs);

    daemon_t *d = daemon_start(dir, "--tls-cert", cert, "--tls-key", key, NULL);
    http_req rq = { .path = "/healthz", .cainfo = cert };
    http_resp *r = http_do(d->port, &rq);
    expect_status(r, 200);
    http_free(r);
    http_req pq = { .method = "POST",
                    .path = XGB_PREDICT,
                    .content_type = "application/json",
                    .body = example_json(),
                    .cainfo = cert };
    r = http_do(d->port, &pq);
    expect_status(r, 200);
    json_t *j = http_json(r);
    cr_assert(json_is_array(json_object_get(j, "results")));
    json_decref(j);
    http_free(r);
    /* a client that does not trust the certificate is refused by curl; plain
     * HTTP to the TLS port gets no HTTP answer */
    http_req untrusted = { .path = "/healthz", .cainfo = "/dev/null" };
    r = http_do(d->port, &untrusted);
    cr_assert_eq(r->status, 0, "%s", http_describe(r));
    http_free(r);
    r = http_get(d, "/healthz");
    cr_assert_eq(r->status, 0, "plain HTTP answered: %s", http_describe(r));
    http_free(r);
    r = http_do(d->port, &rq);
    expect_status(r, 200); /* and it keeps serving */
    http_free(r);
    char *log = daemon_log(d);
    cr_assert(strstr(log, "\"tls\":true"), "%s", log);
    free(log);
    itest_finish(d, dir);

    /* a key that is not the certificate's, a missing file, one flag alone */
    const char *bad1[] = { "--tls-cert", cert, "--tls-key", other_key, NULL };
    const char *bad2[] = { "--tls-cert", cert, "--tls-key", "/nonexistent/key.pem", NULL };
    const char *bad3[] = { "--tls-cert", cert, NULL };
    char *models = models_dir_with("models/cad-xgb-demo", NULL);
    char *out = NULL;
    cr_assert_eq(daemon_run_to_exit(models, bad1, NULL, NULL, &out, 10000), 1, "%s", out);
    cr_assert(strstr(out, "--tls-cert") && strstr(out, "--tls-key"), "%s", out);
    free(out);
    cr_assert_eq(daemon_run_to_exit(models, bad2, NULL, NULL, &out, 10000), 1, "%s", out);
    cr_assert(strstr(out, "No such file"), "%s", out);
    free(out);
    cr_assert_eq(daemon_run_to_exit(models, bad3, NULL, NULL, &out, 10000), 2, "%s", out);
    cr_assert(strstr(out, "go together"), "%s", out);
    free(out);
    models_dir_free(models);
    models_dir_free(certs);
}

Test(http_security, tls_speaks_only_versions_1_2_and_1_3)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    char *certs = models_dir_new();
    make_cert(certs, "a");
    char cert[600], key[600];
    snprintf(cert, sizeof cert, "%s/a.pem", certs);
    snprintf(key, sizeof key, "%s/a.key", certs);
    daemon_t *d = daemon_start(dir, "--tls-cert", cert, "--tls-key", key, NULL);
    struct {
        const char *name;
        long version;
        int ok;
    } cases[] = {
        { "TLS 1.0", CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_0, 0 },
        { "TLS 1.1", CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1, 0 },
        { "TLS 1.2", CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2, 1 },
        { "TLS 1.3", CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3, 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        http_req rq = { .path = "/healthz", .cainfo = cert, .tls_version = cases[i].version };
        http_resp *r = http_do(d->port, &rq);
        if (cases[i].ok)
            cr_assert_eq(r->status, 200, "%s: %s", cases[i].name, http_describe(r));
        else
            cr_assert(r->status == 0 && r->curl_code == CURLE_SSL_CONNECT_ERROR,
                      "%s was negotiated: %s", cases[i].name, http_describe(r));
        http_free(r);
    }
    itest_finish(d, dir);
    models_dir_free(certs);
}

/* ---------------- core dumps ---------------- */

/* The soft and hard "Max core file size" of pid (-1: unlimited), from
 * /proc/PID/limits; 0 when the line is found. */
static int core_limits(pid_t pid, long long *soft, long long *hard)
{
    char path[64], line[256], s[32], h[32];
    snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
    FILE *f = fopen(path, "r");
    int found = -1;
    while (f && found && fgets(line, sizeof line, f))
        if (sscanf(line, "Max core file size %31s %31s", s, h) == 2) {
            *soft = strcmp(s, "unlimited") ? atoll(s) : -1;
            *hard = strcmp(h, "unlimited") ? atoll(h) : -1;
            found = 0;
        }
    if (f)
        fclose(f);
    return found;
}

/* (PR_SET_DUMPABLE cannot be read from outside the process: test_process
 * checks it, with the limit, in-process.) */
Test(http_security, the_daemon_never_dumps_core)
{
    /* whatever this shell allows, the daemon allows nothing */
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_CORE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_CORE, &rl), 0);
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, NULL);
    long long soft = -2, hard = -2;
    cr_assert_eq(core_limits(d->pid, &soft, &hard), 0, "no core line in /proc/%d/limits",
                 (int)d->pid);
    cr_assert(soft == 0 && hard == 0, "Max core file size %lld %lld (-1: unlimited)", soft, hard);
    itest_finish(d, dir);
}

/* ---------------- connections ---------------- */

#define IDLE_CONNECTIONS 10000
#define MAX_CONNECTIONS 200

Test(http_security, ten_thousand_idle_connections_meet_a_clean_refusal)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < IDLE_CONNECTIONS + 200) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > IDLE_CONNECTIONS + 200
                          ? IDLE_CONNECTIONS + 200
                          : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    cr_assert_geq(rl.rlim_cur, IDLE_CONNECTIONS + 100,
                  "the test needs %d descriptors; the hard limit is %llu", IDLE_CONNECTIONS + 100,
                  (unsigned long long)rl.rlim_max);
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    char limit[16];
    snprintf(limit, sizeof limit, "%d", MAX_CONNECTIONS);
    daemon_t *d =
        daemon_start(dir, "--max-connections", limit, "--connection-timeout-s", "20", NULL);
    static int fds[IDLE_CONNECTIONS];
    int opened = 0;
    for (int i = 0; i < IDLE_CONNECTIONS; i++) {
        fds[i] = raw_connect(d->port);
        cr_assert_geq(fds[i], 0, "connect %d: %s", i, strerror(errno));
        opened++;
    }
    sleep_ms(1500); /* let both HTTP threads accept what is queued */
    int refused = 0, held = 0;
    for (int i = 0; i < opened; i++) {
        if (raw_closed_by_server(fds[i], 0))
            refused++;
        else
            held++;
    }
    cr_assert_leq(held, MAX_CONNECTIONS + 2, "%d connections held open (limit %d)", held,
                  MAX_CONNECTIONS);
    cr_assert_geq(held, MAX_CONNECTIONS / 2, "only %d held", held);
    cr_assert_geq(refused, IDLE_CONNECTIONS - MAX_CONNECTIONS - 2);
    cr_assert(daemon_alive(d));
    /* room again once the idle ones go: service resumes at once */
    for (int i = 0; i < opened; i++)
        close(fds[i]);
    sleep_ms(500);
    http_resp *r = http_post_json(d, XGB_PREDICT, example_json());
    expect_status(r, 200);
    http_free(r);
    r = http_get(d, "/metrics");
    expect_status(r, 200);
    cr_assert_geq(metric_value(r->body, "genorisk_connections_refused_total", NULL),
                  (double)refused);
    cr_assert_leq(metric_value(r->body, "genorisk_connections_open", NULL), 3);
    http_free(r);
    cr_assert(daemon_wait_log(d, "connections refused", 1, 12000),
              "refusals are logged (in sums, every 10 s at most)");
    itest_finish(d, dir);
}

Test(http_security, idle_and_slowloris_connections_time_out)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, "--connection-timeout-s", "1", NULL);
    int idle = raw_connect(d->port);
    int partial = raw_connect(d->port);
    int slow_body = raw_connect(d->port);
    cr_assert(idle >= 0 && partial >= 0 && slow_body >= 0);
    raw_send_str(partial, "POST " XGB_PREDICT " HTTP/1.1\r\nHost: x\r\nContent-Ty");
    raw_send_str(slow_body, "POST " XGB_PREDICT " HTTP/1.1\r\nHost: x\r\n"
                            "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"sa");
    long t0 = now_ms();
    cr_assert(raw_closed_by_server(idle, 5000), "an idle connection stayed open");
    cr_assert(raw_closed_by_server(partial, 5000), "a half-sent header stayed open");
    cr_assert(raw_closed_by_server(slow_body, 5000), "a stalled body stayed open");
    long took = now_ms() - t0;
    cr_assert_leq(took, 4000, "closing took %ld ms", took);
    close(idle);
    close(partial);
    close(slow_body);
    http_resp *r = http_post_json(d, XGB_PREDICT, example_json());
    expect_status(r, 200);
    http_free(r);
    itest_finish(d, dir);
}

/* ---------------- request limits ---------------- */

Test(http_security, json_depth_and_string_limits)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, "--max-json-depth", "8", "--max-json-string-bytes", "64", NULL);
    char deep[200] = "{\"samples\":";
    for (int i = 0; i < 9; i++)
        strcat(deep, "[");
    for (int i = 0; i < 9; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    http_resp *r = http_post_json(d, XGB_PREDICT, deep);
    json_t *p = expect_problem(r, 400, "invalid-json", XGB_PREDICT);
    cr_assert(strstr(json_string_value(json_object_get(p, "detail")), "deeper than 8"), "%s",
              r->body);
    json_decref(p);
    http_free(r);
    char longs[300];
    snprintf(longs, sizeof longs, "{\"samples\":[{\"id\":\"%070d\",\"dosages\":[]}]}", 7);
    r = http_post_json(d, XGB_PREDICT, longs);
    p = expect_problem(r, 400, "invalid-json", XGB_PREDICT);
    cr_assert(strstr(json_string_value(json_object_get(p, "detail")), "longer than 64 bytes"), "%s",
              r->body);
    cr_assert_null(strstr(r->body, "0000000007"), "the string is echoed: %s", r->body);
    json_decref(p);
    http_free(r);
    /* inside the limits, and escapes in strings do not confuse the scan */
    r = http_post_json(d, XGB_PREDICT, example_json());
    expect_status(r, 200);
    http_free(r);
    r = http_post_json(d, XGB_PREDICT,
                       "{\"samples\":[{\"id\":\"a\\\"[[[[[[[[[[\\\\\",\"dosages\""
                       ":[]}]}");
    cr_assert_neq(r->status, 400, "brackets inside a string counted as nesting: %s",
                  http_describe(r));
    http_free(r);
    itest_finish(d, dir);
}

/* A VCF for the PGS demo with the given sample names and one call each for
 * every scored variant (alleles as the scoring file gives them). */
static char *pgs_vcf(const char *const *samples, size_t pad_header)
{
    char *scoring = slurp_file("models/cad-pgs-demo/cad_pgs_demo.txt");
    cr_assert(scoring);
    size_t cap = 1 << 20, len = 0;
    char *v = malloc(cap + pad_header);
    len += (size_t)sprintf(v + len, "##fileformat=VCFv4.2\n##reference=GRCh38\n"
                                    "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n");
    for (size_t i = 0; i < pad_header; i += 64)
        len += (size_t)sprintf(v + len, "##padding=%053zu\n", i);
    len += (size_t)sprintf(v + len, "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT");
    for (size_t s = 0; samples[s]; s++)
        len += (size_t)sprintf(v + len, "\t%s", samples[s]);
    v[len++] = '\n';
    char *save = NULL;
    int k = 0;
    for (char *line = strtok_r(scoring, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char chr[16], ea[64], oa[64];
        long pos;
        if (line[0] == '#' || sscanf(line, "%15s %ld %63s %63s", chr, &pos, ea, oa) != 4 ||
            !strcmp(chr, "chr_name"))
            continue;
        len += (size_t)sprintf(v + len, "chr%s\t%ld\t.\t%s\t%s\t.\tPASS\t.\tGT", chr, pos, oa, ea);
        for (size_t s = 0; samples[s]; s++, k++)
            len += (size_t)sprintf(v + len, "\t%s",
                                   k % 3 == 0   ? "0/1"
                                   : k % 3 == 1 ? "1|1"
                                                : "0/0");
        v[len++] = '\n';
    }
    v[len] = '\0';
    free(scoring);
    return v;
}

Test(http_security, vcf_line_header_and_multipart_limits)
{
    char *dir = models_dir_with("models/cad-pgs-demo", NULL);
    daemon_t *d =
        daemon_start(dir, "--max-vcf-header-bytes", "4096", "--max-vcf-line-bytes", "2048", NULL);
    const char *two[] = { "S1", "S2", NULL };
    char *ok = pgs_vcf(two, 0);
    http_resp *r = post_with(d, PGS_PREDICT, "text/vcf", ok, strlen(ok), NULL);
    expect_status(r, 200);
    http_free(r);
    char *big_header = pgs_vcf(two, 8192);
    r = post_with(d, PGS_PREDICT, "text/vcf", big_header, strlen(big_header), NULL);
    json_t *p = expect_problem(r, 422, "invalid-input", PGS_PREDICT);
    cr_assert(strstr(json_string_value(json_object_get(p, "detail")),
                     "header is over the 4096-byte limit"),
              "%s", r->body);
    json_decref(p);
    http_free(r);
    /* one record of 3000 bytes: a long ID field */
    size_t n = strlen(ok);
    char *long_line = malloc(n + 4000);
    char *first = strstr(ok, "\nchr") + 1, *id = strchr(strchr(first, '\t') + 1, '\t') + 1;
    size_t head = (size_t)(id - ok);
    memcpy(long_line, ok, head);
    memset(long_line + head, 'r', 3000);
    strcpy(long_line + head + 3000, id + 1); /* replaces the "." */
    r = post_with(d, PGS_PREDICT, "text/vcf", long_line, strlen(long_line), NULL);
    p = expect_problem(r, 422, "invalid-input", PGS_PREDICT);
    cr_assert(strstr(json_string_value(json_object_get(p, "detail")), "2048-byte line limit"), "%s",
              r->body);
    json_decref(p);
    http_free(r);
    /* a multipart body of 40 parts */
    size_t cap = 1 << 20, len = 0;
    char *mp = malloc(cap + n);
    for (int i = 0; i < 40; i++)
        len += (size_t)sprintf(mp + len,
                               "--XyZ\r\nContent-Disposition: form-data; name=\"f%d\""
                               "\r\n\r\nv\r\n",
                               i);
    len += (size_t)sprintf(mp + len, "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                                     "filename=\"a.vcf\"\r\n\r\n");
    memcpy(mp + len, ok, n);
    len += n;
    len += (size_t)sprintf(mp + len, "\r\n--XyZ--\r\n");
    r = post_with(d, PGS_PREDICT, "multipart/form-data; boundary=XyZ", mp, len, NULL);
    p = expect_problem(r, 400, "invalid-parameter", PGS_PREDICT);
    cr_assert(strstr(json_string_value(json_object_get(p, "detail")), "at most 32 parts"), "%s",
              r->body);
    json_decref(p);
    http_free(r);
    free(mp);
    free(long_line);
    free(big_header);
    free(ok);
    itest_finish(d, dir);
}

/* ---------------- health data ---------------- */

Test(http_security, a_whole_session_leaves_no_ids_or_genotypes_behind)
{
    char *dir = models_dir_with("models/cad-xgb-demo", "models/cad-pgs-demo", NULL);
    char *tokens = temp_file_with(TOKEN_A "\n");
    daemon_t *d = daemon_start(dir, "--log-level", "debug", "--auth-tokens", tokens, NULL);
    const char *auth = "Authorization: Bearer " TOKEN_A;
    const char *people[] = { "PATIENT-SECRET-V1", "PATIENT-SECRET-V2", NULL };
    char *vcf = pgs_vcf(people, 0);
    const char *json_ok =
        "{\"samples\":[{\"id\":\"PATIENT-SECRET-J1\",\"genotypes\":{\"1:52068481:T:G\":1.2345678,"
        "\"rs9000003\":\"0/1\",\"rsSECRETKEY999\":2}}],\"top_k\":3}";
    struct {
        const char *path, *ctype, *body;
        int want; /* 0: anything but 5xx */
    } session[] = {
        { XGB_PREDICT "?allow_low_coverage=true", "application/json", json_ok, 200 },
        { PGS_PREDICT, "text/vcf", vcf, 200 },
        { PGS_PREDICT "?sample=PATIENT-SECRET-V2", "text/vcf", vcf, 200 },
        { PGS_PREDICT "?sample=PATIENT-SECRET-NOPE", "text/vcf", vcf, 422 },
        { XGB_PREDICT, "application/json",
          "{\"samples\":[{\"id\":\"PATIENT-SECRET-J2\",\"genotypes\":{\"rs9000008\":\"0/7\"}}]}",
          0 },
        { XGB_PREDICT, "application/json", "{\"samples\":[{\"id\":\"PATIENT-SECRET-J3\"", 400 },
        { XGB_PREDICT, "application/json",
          "{\"samples\":[{\"id\":\"PATIENT-SECRET-J4\",\"dosages\":[1.7654321]}]}", 0 },
        { PGS_PREDICT, "text/vcf",
          "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER"
          "\tINFO\tFORMAT\tPATIENT-SECRET-V3\nchr1\tNaN\t.\tA\tG\t.\t.\t"
          ".\tGT\t0/1\n",
          422 },
        /* the path is not health data (instance and detail name it), the body is */
        { "/v1/models/no-such-model/predict", "application/json", json_ok, 404 },
    };
    for (size_t i = 0; i < sizeof session / sizeof *session; i++) {
        for (int with_token = 0; with_token < 2; with_token++) {
            http_resp *r = post_with(d, session[i].path, session[i].ctype, session[i].body,
                                     strlen(session[i].body), with_token ? auth : NULL);
            if (!with_token)
                expect_status(r, 401);
            else if (session[i].want)
                cr_assert_eq(r->status, session[i].want, "step %zu: %s", i, http_describe(r));
            else
                cr_assert(r->status >= 400 && r->status < 500, "step %zu: %s", i, http_describe(r));
            if (r->status >= 400)
                cr_assert_null(strstr(r->body, "PATIENT-SECRET"), "step %zu echoes an id: %s", i,
                               r->body);
            if (r->status == 200)
                cr_assert(strstr(r->body, "PATIENT-SECRET"), "the answer carries its ids");
            http_free(r);
        }
    }
    daemon_signal(d, SIGHUP);
    cr_assert(daemon_wait_log(d, "reloaded", 1, 5000));
    http_resp *m = http_get(d, "/metrics");
    expect_status(m, 200);
    sleep_ms(100);
    char *log = daemon_log(d);
    char *out = daemon_stdout(d);
    const char *needles[] = {
        "PATIENT-SECRET", "1.2345678", "1.7654321", "52068481", "rsSECRETKEY999",
        "rs9000003",      "0/1",       "1|1",       "0/7",      "NaN",
        TOKEN_A
    };
    for (size_t i = 0; i < sizeof needles / sizeof *needles; i++) {
        const char *l = strstr(log, needles[i]);
        cr_assert_null(l, "the log holds '%s': ...%.200s", needles[i],
                       l ? (l - log > 100 ? l - 100 : log) : "");
        cr_assert_null(strstr(m->body, needles[i]), "/metrics holds '%s'", needles[i]);
        cr_assert_null(strstr(out, needles[i]), "stdout holds '%s'", needles[i]);
    }
    free(log);
    free(out);
    http_free(m);
    free(vcf);
    itest_finish(d, dir);
    free(tokens);
}
