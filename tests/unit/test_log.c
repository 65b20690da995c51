/* test_log.c - structured log lines, JSON and text, and level filtering. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "server/log.h"

/* Runs the writes with stderr sent to a file; returns what was written. */
static char *capture(void (*fn)(void))
{
    char path[] = "/tmp/genorisk-log-XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    dup2(fd, 2);
    fn();
    dup2(saved, 2);
    close(saved);
    close(fd);
    char *s = read_text(path);
    unlink(path);
    return s;
}

static void json_lines(void)
{
    gr_log l = { 1, GR_LOG_INFO };
    gr_log_write(&l, GR_LOG_DEBUG, "hidden", json_pack("{s:i}", "x", 1));
    gr_log_write(&l, GR_LOG_INFO, "request",
                 json_pack("{s:s, s:i}", "route", "/healthz", "status", 200));
    gr_log_write(&l, GR_LOG_ERROR, "reload failed", NULL);
}

static void text_lines(void)
{
    gr_log l = { 0, GR_LOG_DEBUG };
    gr_log_write(
        &l, GR_LOG_WARN, "request",
        json_pack("{s:s, s:f, s:s}", "route", "/v1/models", "duration_ms", 1.5, "error", "a b"));
}

Test(log, json_lines_and_levels)
{
    char *s = capture(json_lines);
    cr_assert_null(strstr(s, "hidden"));
    char *nl = strchr(s, '\n');
    cr_assert_not_null(nl);
    *nl = '\0';
    json_t *o = json_loads(s, 0, NULL);
    cr_assert_not_null(o, "not JSON: %s", s);
    cr_assert_str_eq(json_string_value(json_object_get(o, "level")), "info");
    cr_assert_str_eq(json_string_value(json_object_get(o, "msg")), "request");
    cr_assert_str_eq(json_string_value(json_object_get(o, "route")), "/healthz");
    cr_assert_eq(json_integer_value(json_object_get(o, "status")), 200);
    const char *t = json_string_value(json_object_get(o, "time"));
    cr_assert(t && strlen(t) == 24 && t[23] == 'Z', "time %s", t);
    json_decref(o);
    cr_assert(strstr(nl + 1, "\"level\":\"error\",\"msg\":\"reload failed\""), "%s", nl + 1);
    free(s);
}

Test(log, text_lines)
{
    char *s = capture(text_lines);
    cr_assert(strstr(s, " warn request route=/v1/models duration_ms=1.5 error=\"a b\"\n"), "%s", s);
    free(s);
}

Test(log, level_names)
{
    cr_assert_eq(gr_log_parse_level("debug"), GR_LOG_DEBUG);
    cr_assert_eq(gr_log_parse_level("error"), GR_LOG_ERROR);
    cr_assert_eq(gr_log_parse_level("verbose"), -1);
    cr_assert_eq(gr_log_parse_level(NULL), -1);
}

static void events_ignore_the_threshold(void)
{
    gr_log l = { 1, GR_LOG_ERROR };
    gr_log_write(&l, GR_LOG_INFO, "request", NULL);
    gr_log_event(&l, "listening", json_pack("{s:i}", "port", 8080));
}

Test(log, lifecycle_events_are_always_written)
{
    char *s = capture(events_ignore_the_threshold);
    cr_assert_null(strstr(s, "\"request\""));
    cr_assert(strstr(s, "\"level\":\"info\",\"msg\":\"listening\",\"port\":8080"), "%s", s);
    gr_log l = { 1, GR_LOG_WARN };
    cr_assert(!gr_log_enabled(&l, GR_LOG_INFO));
    cr_assert(gr_log_enabled(&l, GR_LOG_ERROR));
    free(s);
}

static void not_utf8_lines(void)
{
    gr_log l = { 1, GR_LOG_INFO };
    gr_log_write(&l, GR_LOG_INFO, "request",
                 json_pack("{s:s, s:o, s:i}", "request_id", "rid-7", "method",
                           gr_log_string("G\xff\xfeT"), "status", 401));
    gr_log_write(&l, GR_LOG_WARN, "cut \xe2\x82 message", json_pack("{s:i}", "n", 1));
}

Test(log, bytes_that_are_not_utf8_are_replaced_and_the_line_kept)
{
    char *s = capture(not_utf8_lines);
    char *nl = strchr(s, '\n');
    cr_assert_not_null(nl, "no line: %s", s);
    *nl = '\0';
    json_t *o = json_loads(s, 0, NULL);
    cr_assert_not_null(o, "not JSON: %s", s);
    cr_assert_str_eq(json_string_value(json_object_get(o, "request_id")), "rid-7");
    cr_assert_eq(json_integer_value(json_object_get(o, "status")), 401);
    cr_assert_str_eq(json_string_value(json_object_get(o, "method")), "G\uFFFD\uFFFDT");
    json_decref(o);
    o = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, NULL);
    cr_assert_not_null(o, "not JSON: %s", nl + 1);
    cr_assert_str_eq(json_string_value(json_object_get(o, "msg")), "cut \uFFFD\uFFFD message");
    cr_assert_eq(json_integer_value(json_object_get(o, "n")), 1);
    json_decref(o);
    free(s);
    /* valid text is kept as it is; a sequence cut at the end is replaced */
    const char *cases[][2] = {
        { "caf\xc3\xa9 \xf0\x9f\xa7\xac", "caf\xc3\xa9 \xf0\x9f\xa7\xac" },
        { "a\xf0\x9f\xa7", "a\uFFFD\uFFFD\uFFFD" },
        { "\xc0\xaf", "\uFFFD\uFFFD" }, /* an overlong '/' */
        { "", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *j = gr_log_string(cases[i][0]);
        cr_assert_str_eq(json_string_value(j), cases[i][1], "case %zu", i);
        json_decref(j);
    }
    json_t *j = gr_log_string(NULL);
    cr_assert_str_eq(json_string_value(j), "");
    json_decref(j);
}

static void hostile_lines(void)
{
    gr_log text = { 0, GR_LOG_INFO }, json = { 1, GR_LOG_INFO };
    for (int i = 0; i < 2; i++)
        gr_log_write(i ? &json : &text, GR_LOG_INFO, "request",
                     json_pack("{s:o, s:s, s:s, s:s, s:s, s:s}", "method",
                               gr_log_string("G\x1b[31mT"), "del", "G\x7f", "c1",
                               "a\xc2\x9b"
                               "2J",
                               "quote", "say \"hi\\\"", "word", "caf\xc3\xa9", "nl", "a\nb"));
}

Test(log, control_bytes_never_reach_the_terminal)
{
    char *s = capture(hostile_lines);
    char *nl = strchr(s, '\n');
    cr_assert_not_null(nl, "no line: %s", s);
    *nl = '\0';
    cr_assert(strstr(s, " info request method=\"G\\x1b[31mT\" del=\"G\\x7f\" c1=\"a\\u009b2J\" "
                        "quote=\"say \\\"hi\\\\\\\"\" word=caf\xc3\xa9 nl=\"a\\nb\""),
              "%s", s);
    /* JSON lines are ASCII, their control characters escaped by jansson */
    char *j = nl + 1;
    cr_assert(strstr(j, "\"method\":\"G\\u001B[31mT\""), "%s", j);
    cr_assert(strstr(j, "\"c1\":\"a\\u009B2J\""), "%s", j);
    cr_assert(strstr(j, "\"word\":\"caf\\u00E9\""), "%s", j);
    /* no raw control byte in either line: the text one escapes DEL too */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        cr_assert(*p >= ' ' && *p != 0x7f && !(p[0] == 0xc2 && p[1] < 0xa0), "text byte 0x%02x",
                  *p);
    for (const unsigned char *p = (const unsigned char *)j; *p && *p != '\n'; p++)
        cr_assert(*p >= ' ' && *p <= 0x7f, "JSON byte 0x%02x", *p);
    free(s);
}

/* The same fields through gr_log_fields and through gr_log_write, in one
 * format: printable words (the fast path), then bytes it leaves to jansson
 * (a quote, a space, not UTF-8, nothing at all). */
static const char *const odd_methods[] = { "GET", "BR\"EW", "a b", "G\xff\xfeT", "", "M\xc3\xa9" };
static int fields_json;

static void fields_both_ways(void)
{
    gr_log l = { fields_json, GR_LOG_INFO };
    for (size_t i = 0; i < sizeof odd_methods / sizeof *odd_methods; i++) {
        gr_log_field f[] = {
            { .key = "request_id", .s = "rid-7" },
            { .key = "method", .s = odd_methods[i] },
            { .key = "route", .s = "/v1/models/{name}/predict" },
            { .key = "status", .i = 200 },
            { .key = "duration_ms", .f = i == 0 ? 3.0 : 1.2345678e-5 * (double)i, .real = 1 },
            { .key = "bytes_in", .i = 14074 },
        };
        gr_log_fields(&l, GR_LOG_INFO, "request", f, sizeof f / sizeof *f);
        gr_log_write(&l, GR_LOG_INFO, "request",
                     json_pack("{s:s, s:o, s:s, s:i, s:f, s:I}", "request_id", "rid-7", "method",
                               gr_log_string(odd_methods[i]), "route", "/v1/models/{name}/predict",
                               "status", 200, "duration_ms", f[4].f, "bytes_in",
                               (json_int_t)14074));
    }
    gr_log_fields(&l, GR_LOG_DEBUG, "hidden", NULL, 0);
}

/* Each pair of lines must match but for the time (24 characters). */
static void assert_pairs_match(char *s, size_t pairs)
{
    size_t n = 0;
    for (char *line = s; *line; n++) {
        char *a = line, *a_end = strchr(a, '\n');
        cr_assert_not_null(a_end);
        char *b = a_end + 1, *b_end = strchr(b, '\n');
        cr_assert_not_null(b_end, "an unpaired line: %s", a);
        size_t skip = fields_json ? strlen("{\"time\":\"") + 24 : 24;
        *a_end = *b_end = '\0';
        cr_assert(strlen(a) > skip && !strcmp(a + skip, b + skip), "fast:    %s\njansson: %s", a,
                  b);
        line = b_end + 1;
    }
    cr_assert_eq(n, pairs);
    cr_assert_null(strstr(s, "hidden"));
}

Test(log, fields_lines_match_jansson_lines_byte_for_byte)
{
    for (fields_json = 0; fields_json < 2; fields_json++) {
        char *s = capture(fields_both_ways);
        assert_pairs_match(s, sizeof odd_methods / sizeof *odd_methods);
        free(s);
    }
}
