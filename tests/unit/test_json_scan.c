/* test_json_scan.c - the in-place JSON walk (api/json_scan.c): values
 * delimited with their nesting, limits, and errors that say where without
 * quoting the text. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/json_scan.h"

static int skip(const char *text, size_t depth, size_t string, size_t *start, size_t *end,
                gr_json_scan *sc)
{
    gr_json_scan_init(sc, text, strlen(text), depth, string);
    return gr_json_skip_value(sc, start, end);
}

Test(json_scan, values_are_delimited_with_what_they_hold)
{
    static const struct {
        const char *text;
        size_t start, end;
    } ok[] = {
        { "  {\"a\":[1,{\"b\":\"]}\"}]} , 2", 2, 22 },
        { "\"x\\\"y\" ", 0, 6 },
        { "\t-12.5e3,", 1, 8 },
        { "[[],[],{}]", 0, 10 },
        { "true]", 0, 4 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        gr_json_scan sc;
        size_t s, e;
        cr_assert(skip(ok[i].text, 0, 0, &s, &e, &sc), "%s: %s", ok[i].text, sc.why);
        cr_assert_eq(s, ok[i].start, "%s", ok[i].text);
        cr_assert_eq(e, ok[i].end, "%s", ok[i].text);
    }
}

Test(json_scan, errors_say_where_and_never_quote)
{
    static const struct {
        const char *text, *why;
    } bad[] = {
        { "{\"secret\":[1,2}", "line 1, column 15: a '}' closes no object" },
        { "[1,\n\"secret", "line 2, column 1: a string does not end" },
        { "   ", "a value was expected, the text ends" },
        { "]", "line 1, column 1: a value was expected" },
        { "[\"secret\"", "an array or object does not end" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        gr_json_scan sc;
        size_t s, e;
        cr_assert_not(skip(bad[i].text, 0, 0, &s, &e, &sc), "%s", bad[i].text);
        cr_assert(strstr(sc.why, bad[i].why), "%s: '%s' lacks '%s'", bad[i].text, sc.why,
                  bad[i].why);
        cr_assert_null(strstr(sc.why, "secret"), "%s", sc.why);
    }
}

Test(json_scan, depth_counts_the_callers_levels_and_strings_their_bytes)
{
    gr_json_scan sc;
    size_t s, e;
    cr_assert(skip("[[1]]", 2, 0, &s, &e, &sc), "%s", sc.why);
    cr_assert_not(skip("[[[1]]]", 2, 0, &s, &e, &sc));
    cr_assert(strstr(sc.why, "nest deeper than 2 levels (byte 2)"), "%s", sc.why);
    gr_json_scan_init(&sc, "[[1]]", 5, 2, 0);
    sc.depth = 1; /* inside an object of the caller's */
    cr_assert_not(gr_json_skip_value(&sc, &s, &e));
    cr_assert(skip("\"12345678\"", 0, 8, &s, &e, &sc), "%s", sc.why);
    cr_assert_not(skip("\"123456789\"", 0, 8, &s, &e, &sc));
    cr_assert(strstr(sc.why, "longer than 8 bytes"), "%s", sc.why);
    /* a column counts characters, as jansson does */
    char where[100];
    gr_json_scan_where("\xc3\xa9\xc3\xa9x", 4, "here", where, sizeof where);
    cr_assert_str_eq(where, "line 1, column 3: here");
}
