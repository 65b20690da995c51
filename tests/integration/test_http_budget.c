/* test_http_budget.c - genoriskd's budgets for the bodies of all requests
 * together: JSON bodies held in memory (--max-body-memory-bytes) and uploads
 * spooled to disk (--max-spool-bytes). Unfinished bodies hold their share
 * (their Content-Length at once, a chunked one as it grows); one that does
 * not fit is 503 overloaded with Retry-After and the connection closed; the
 * share comes back when a request ends or its client goes. Measured by the
 * daemon's own accounting, the genorisk_body_memory_bytes and
 * genorisk_spool_bytes gauges. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/daemon.h"

TestSuite(http_budget, .fini = itest_cleanup, .timeout = 60);

#define XGB_PREDICT "/v1/models/cad-xgb-demo/predict"
#define PGS_PREDICT "/v1/models/cad-pgs-demo/predict"
#define BUDGET "300000"
#define HELD_LENGTH 120000 /* two fit in BUDGET, a third does not */

/* A connection that sends a body's headers and its first bytes, then
 * stalls: an unfinished body. */
static int start_body(const daemon_t *d, const char *path, const char *ctype, size_t length,
                      size_t sent)
{
    int fd = raw_connect(d->port);
    cr_assert(fd >= 0, "connect: %s", strerror(errno));
    char head[400];
    snprintf(head, sizeof head,
             "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
             "Content-Length: %zu\r\n\r\n",
             path, ctype, length);
    cr_assert_eq(raw_send_str(fd, head), 0);
    char *part = malloc(sent);
    memset(part, ' ', sent);
    part[0] = ctype[0] == 't' ? '#' : '{';
    cr_assert_eq(raw_send(fd, part, sent), 0);
    free(part);
    return fd;
}

/* The gauge now (NAN when /metrics does not answer). */
static double gauge(const daemon_t *d, const char *name)
{
    http_resp *r = http_get(d, "/metrics");
    double v = r->status == 200 ? metric_value(r->body, name, NULL) : NAN;
    http_free(r);
    return v;
}

/* Polls the gauge until it is at most want; returns the last value. */
static double gauge_down_to(const daemon_t *d, const char *name, double want)
{
    double v = NAN;
    for (int i = 0; i < 250; i++) {
        v = gauge(d, name);
        if (v <= want)
            break;
        sleep_ms(20);
    }
    return v;
}

/* r is the 503 of a body over its budget, saying Connection: close. */
static void check_over_budget(const http_resp *r, const char *path)
{
    json_decref(expect_problem(r, 503, "overloaded", path));
    json_t *j = http_json(r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "title")), "Too many bodies at once");
    json_decref(j);
    cr_assert_str_eq(http_header(r, "Retry-After"), "1");
    const char *conn = http_header(r, "Connection");
    cr_assert(conn && !strcasecmp(conn, "close"), "%s", http_describe(r));
}

/* The 503 of a body over its budget on fd, then the connection closed. */
static void expect_over_budget(int fd, const char *path)
{
    http_resp *r = raw_read_response(fd, false, 5000);
    check_over_budget(r, path);
    cr_assert(raw_closed_by_server(fd, 5000), "the connection stayed open after the 503");
    http_free(r);
}

/* A chunked body of len bytes of spaces after a '{' (or '#'), sent in
 * pieces; the server may answer and close before the end. */
static http_resp *chunked_body(const daemon_t *d, const char *path, const char *ctype, size_t len)
{
    int fd = raw_connect(d->port);
    cr_assert(fd >= 0);
    char head[400];
    snprintf(head, sizeof head,
             "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
             "Transfer-Encoding: chunked\r\n\r\n",
             path, ctype);
    raw_send_str(fd, head);
    char piece[8192];
    memset(piece, ' ', sizeof piece);
    piece[0] = ctype[0] == 't' ? '#' : '{';
    for (size_t off = 0; off < len; off += sizeof piece) {
        char sz[32];
        snprintf(sz, sizeof sz, "%zx\r\n", sizeof piece);
        if (raw_send_str(fd, sz) || raw_send(fd, piece, sizeof piece) || raw_send_str(fd, "\r\n"))
            break;
        piece[0] = ' ';
    }
    raw_send_str(fd, "0\r\n\r\n");
    http_resp *r = raw_read_response(fd, false, 5000);
    if (r->status == 503)
        cr_assert(raw_closed_by_server(fd, 5000), "the connection stayed open after the 503");
    close(fd);
    return r;
}

Test(http_budget, json_bodies_share_one_memory_budget)
{
    char *dir = models_dir_with("models/cad-xgb-demo", NULL);
    daemon_t *d = daemon_start(dir, "--max-body-memory-bytes", BUDGET, NULL);
    cr_assert_eq(gauge(d, "genorisk_body_memory_bytes"), 0);

    /* two unfinished bodies hold their Content-Length (and the NUL the
     * buffer adds) from their first byte */
    int a = start_body(d, XGB_PREDICT, "application/json", HELD_LENGTH, 1000);
    int b = start_body(d, XGB_PREDICT, "application/json", HELD_LENGTH, 50000);
    double held = metric_wait(d, 2.0 * HELD_LENGTH, 5000, "genorisk_body_memory_bytes", NULL);
    cr_assert_geq(held, 2.0 * HELD_LENGTH);
    cr_assert_leq(held, 2.0 * (HELD_LENGTH + 1));

    /* a third does not fit: refused at once, unread, and closed */
    int c = start_body(d, XGB_PREDICT, "application/json", HELD_LENGTH, 10);
    expect_over_budget(c, XGB_PREDICT);
    close(c);
    /* nor does a chunked one that grows past what is left: refused once it
     * has ended, its memory given back at once */
    http_resp *r = chunked_body(d, XGB_PREDICT, "application/json", 100000);
    check_over_budget(r, XGB_PREDICT);
    http_free(r);
    cr_assert_eq(gauge(d, "genorisk_body_memory_bytes"), held, "the refused ones hold nothing");
    /* a small body still fits beside the two */
    const char *example = slurp_file("models/cad-xgb-demo/example.json");
    r = http_post_json(d, XGB_PREDICT, example);
    expect_status(r, 200);
    http_free(r);

    /* the clients go: their share comes back, and a large body fits again */
    close(a);
    close(b);
    cr_assert_eq(gauge_down_to(d, "genorisk_body_memory_bytes", 0), 0);
    r = chunked_body(d, XGB_PREDICT, "application/json", 100000);
    json_decref(expect_problem(r, 400, "invalid-json", XGB_PREDICT)); /* admitted, parsed */
    http_free(r);
    r = http_post_json(d, XGB_PREDICT, example);
    expect_status(r, 200);
    http_free(r);
    cr_assert_eq(gauge_down_to(d, "genorisk_body_memory_bytes", 0), 0,
                 "finished requests hold nothing");
    free((char *)example);
    itest_finish(d, dir);
}

Test(http_budget, uploads_share_one_spool_budget)
{
    char *dir = models_dir_with("models/cad-pgs-demo", NULL);
    daemon_t *d = daemon_start(dir, "--max-spool-bytes", BUDGET, NULL);
    int a = start_body(d, PGS_PREDICT, "text/vcf", HELD_LENGTH, 1000);
    int b = start_body(d, PGS_PREDICT, "text/vcf", HELD_LENGTH, 50000);
    double held = metric_wait(d, 2.0 * HELD_LENGTH, 5000, "genorisk_spool_bytes", NULL);
    cr_assert_eq(held, 2.0 * HELD_LENGTH);
    cr_assert_eq(gauge(d, "genorisk_body_memory_bytes"), 0, "uploads hold no memory budget");

    int c = start_body(d, PGS_PREDICT, "text/vcf", HELD_LENGTH, 10);
    expect_over_budget(c, PGS_PREDICT);
    close(c);
    http_resp *r = chunked_body(d, PGS_PREDICT, "text/vcf", 100000);
    check_over_budget(r, PGS_PREDICT);
    http_free(r);
    cr_assert_eq(gauge(d, "genorisk_spool_bytes"), held);

    close(a);
    close(b);
    cr_assert_eq(gauge_down_to(d, "genorisk_spool_bytes", 0), 0);
    FILE *f = fopen("models/demo.vcf.gz", "rb");
    cr_assert(f);
    char vcf[65536];
    size_t vcf_len = fread(vcf, 1, sizeof vcf, f);
    fclose(f);
    r = http_post(d, PGS_PREDICT "?explain=false", "application/gzip", vcf, vcf_len);
    expect_status(r, 200);
    http_free(r);
    /* one upload larger than the whole budget could never fit: 413 */
    int e = start_body(d, PGS_PREDICT, "text/vcf", 400000, 10);
    http_resp *big = raw_read_response(e, false, 5000);
    json_decref(expect_problem(big, 413, "body-too-large", PGS_PREDICT));
    http_free(big);
    close(e);
    cr_assert_eq(gauge_down_to(d, "genorisk_spool_bytes", 0), 0);
    itest_finish(d, dir);
}

Test(http_budget, budget_flags_are_checked)
{
    const char *args[] = { "--max-body-memory-bytes", "100", NULL };
    char *log = NULL;
    int rc = daemon_run_to_exit("models", args, NULL, NULL, &log, 10000);
    cr_assert_eq(rc, 2, "%s", log);
    cr_assert(strstr(log, "--max-body-memory-bytes must be a number from 4096"), "%s", log);
    free(log);
    const char *env[] = { "GENORISK_MAX_SPOOL_BYTES=lots", NULL };
    rc = daemon_run_to_exit("models", NULL, env, NULL, &log, 10000);
    cr_assert_eq(rc, 2, "%s", log);
    cr_assert(strstr(log, "GENORISK_MAX_SPOOL_BYTES"), "%s", log);
    free(log);
}
