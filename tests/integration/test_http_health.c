/* test_http_health.c - genoriskd's health listener (--health-listen): the
 * probes and /metrics on a port of their own, with connections of their
 * own, so a main listener filled by idle or trickling clients does not fail
 * the liveness probe; every other route there is 404; the authentication
 * rules are those of the main listener; it keeps answering through a drain. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/daemon.h"

TestSuite(http_health, .fini = itest_cleanup, .timeout = 60);

#define XGB_PREDICT "/v1/models/cad-xgb-demo/predict"
#define TOKEN "tok-H-5e1f0a9c3b7d4e2a"

static http_resp *health_get(const daemon_t *d, const char *path, const char *header)
{
    const char *h[] = { header, NULL };
    http_req rq = { .path = path, .headers = header ? h : NULL };
    return http_do(d->health_port, &rq);
}

Test(http_health, probes_answer_while_the_main_listener_is_full)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d =
        daemon_start(dir, "--max-connections", "4", "--health-listen", "127.0.0.1:0", NULL);
    cr_assert_gt(d->health_port, 0, "the listening line should give health_port");
    cr_assert_neq(d->health_port, d->port);

    /* idle clients take every connection of the main listener */
    int idle[4];
    for (int i = 0; i < 4; i++) {
        idle[i] = raw_connect(d->port);
        cr_assert_geq(idle[i], 0, "connect: %s", strerror(errno));
        raw_send_str(idle[i], "GET /healthz HTTP/1.1\r\nHo"); /* a trickle, never finished */
    }
    double open = NAN;
    for (int i = 0; i < 250 && !(open >= 4); i++, sleep_ms(20)) {
        http_resp *m = health_get(d, "/metrics", NULL);
        expect_status(m, 200);
        open = metric_value(m->body, "genorisk_connections_open", NULL);
        http_free(m);
    }
    cr_assert_eq(open, 4, "the idle clients hold the main listener's 4 connections");
    int more = raw_connect(d->port);
    cr_assert(more < 0 || raw_closed_by_server(more, 5000), "the main listener took a 5th");
    if (more >= 0)
        close(more);

    /* the probes still answer, on the health listener */
    http_resp *r = health_get(d, "/healthz", NULL);
    expect_status(r, 200);
    cr_assert_str_eq(r->body, "{\"status\":\"ok\"}");
    http_free(r);
    r = health_get(d, "/readyz", NULL);
    expect_status(r, 200);
    http_free(r);
    r = health_get(d, "/metrics", NULL);
    expect_status(r, 200);
    cr_assert_geq(metric_value(r->body, "genorisk_connections_refused_total", NULL), 1);
    http_free(r);
    http_req head = { .method = "HEAD", .path = "/healthz" };
    r = http_do(d->health_port, &head);
    expect_status(r, 200);
    http_free(r);

    /* and nothing else */
    const char *elsewhere[] = { "/v1/models", "/v1/models/cad-xgb-demo", "/openapi.yaml", "/nope" };
    for (size_t i = 0; i < sizeof elsewhere / sizeof *elsewhere; i++) {
        r = health_get(d, elsewhere[i], NULL);
        json_decref(expect_problem(r, 404, "not-found", elsewhere[i]));
        http_free(r);
    }
    const char *example = slurp_file("models/cad-xgb-demo/example.json");
    http_req post = {
        .method = "POST", .path = XGB_PREDICT, .content_type = "application/json", .body = example
    };
    r = http_do(d->health_port, &post);
    json_decref(expect_problem(r, 404, "not-found", XGB_PREDICT));
    http_free(r);

    /* the main listener serves again once its clients go */
    for (int i = 0; i < 4; i++)
        close(idle[i]);
    r = NULL;
    for (int i = 0; i < 100; i++, sleep_ms(20)) {
        http_free(r);
        r = http_post_json(d, XGB_PREDICT, example);
        if (r->status == 200)
            break;
    }
    expect_status(r, 200);
    http_free(r);
    free((char *)example);
    itest_finish(d, dir);
}

Test(http_health, the_health_listener_keeps_the_token_rules)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    char *tokens = temp_file_with(TOKEN "\n");
    daemon_t *d = daemon_start(dir, "--auth-tokens", tokens, "--auth-metrics", "--health-listen",
                               "127.0.0.1:0", NULL);
    http_resp *r = health_get(d, "/healthz", NULL);
    expect_status(r, 200);
    http_free(r);
    r = health_get(d, "/readyz", NULL);
    expect_status(r, 200);
    http_free(r);
    r = health_get(d, "/metrics", NULL);
    json_decref(expect_problem(r, 401, "unauthorized", "/metrics"));
    http_free(r);
    r = health_get(d, "/metrics", "Authorization: Bearer " TOKEN);
    expect_status(r, 200);
    http_free(r);
    /* a route it does not serve is 404 with or without a token */
    r = health_get(d, "/v1/models", NULL);
    json_decref(expect_problem(r, 404, "not-found", "/v1/models"));
    http_free(r);
    itest_finish(d, dir);
    free(tokens);
}

Test(http_health, readiness_turns_503_on_the_health_listener_during_a_drain)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d =
        daemon_start(dir, "--health-listen", "127.0.0.1:0", "--drain-timeout-s", "20", NULL);
    /* a request in flight holds the drain open */
    int slow = raw_connect(d->port);
    cr_assert(slow >= 0);
    raw_send_str(slow, "POST " XGB_PREDICT " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{");
    cr_assert(daemon_wait_log(d, "\"msg\":\"listening\"", 1, 1000));
    sleep_ms(200);
    daemon_signal(d, SIGTERM);
    cr_assert(daemon_wait_log(d, "\"msg\":\"draining\"", 1, 5000));
    http_resp *r = health_get(d, "/readyz", NULL);
    json_decref(expect_problem(r, 503, "not-ready", "/readyz"));
    http_free(r);
    r = health_get(d, "/healthz", NULL);
    expect_status(r, 200);
    http_free(r);
    close(slow); /* the drain ends */
    cr_assert_eq(daemon_wait_exit(d, 15000), 0);
    daemon_free(d);
    models_dir_free(dir);
}

Test(http_health, health_listen_flag_is_checked)
{
    const char *bad[] = { "--health-listen", "8081", NULL };
    char *log = NULL;
    int rc = daemon_run_to_exit("models", bad, NULL, NULL, &log, 10000);
    cr_assert_eq(rc, 2, "%s", log);
    cr_assert(strstr(log, "--health-listen must be ADDR:PORT"), "%s", log);
    free(log);
    /* a port that cannot be bound stops the start */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 1), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    char taken[32];
    snprintf(taken, sizeof taken, "127.0.0.1:%u", ntohs(a.sin_port));
    const char *clash[] = { "--health-listen", taken, NULL };
    rc = daemon_run_to_exit("models", clash, NULL, NULL, &log, 10000);
    cr_assert_eq(rc, 1, "%s", log);
    cr_assert(strstr(log, "cannot listen"), "%s", log);
    free(log);
    close(fd);
}
