/* test_json_out.c - the streaming JSON writer (api/json_out.h): jansson's
 * layout and string escapes byte for byte, doubles as the shortest of
 * %.15g, %.16g and %.17g that reads back, what may never be written, and
 * a predict answer written with it. */
#include <criterion/criterion.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_out.h"
#include "api/predict_json.h"
#include "api/predict_run.h"
#include "helpers.h"

/* v written by the writer alone (compact): new text. */
static char *jw_text(const json_t *v, int pretty, int depth)
{
    gr_buf b = { 0 };
    gr_jw w;
    gr_jw_init(&w, &b, pretty, depth);
    gr_jw_json(&w, v);
    cr_assert_eq(w.bad, GR_JW_OK);
    return b.s ? b.s : strdup("");
}

static char *jansson_text(const json_t *v, int pretty)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | (pretty ? JSON_INDENT(2) : JSON_COMPACT));
    cr_assert_not_null(s);
    return s;
}

/* ---- strings ---- */

Test(json_out, every_ascii_byte_escaped_as_jansson)
{
    for (int c = 0; c < 128; c++) {
        char s[4] = { 'a', (char)c, 'z', 0 };
        json_t *v = json_stringn(s, 3);
        cr_assert_not_null(v);
        char *want = jansson_text(v, 0), *got = jw_text(v, 0, 0);
        cr_assert_str_eq(got, want, "byte 0x%02x", c);
        free(want);
        free(got);
        json_decref(v);
    }
}

Test(json_out, escapes_and_utf8_as_jansson)
{
    const char *cases[] = { "",
                            "plain",
                            "slash / stays",
                            "quote \" backslash \\ tab \t nl \n cr \r bs \b ff \f",
                            "\x01\x1f\x7f",
                            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\xa7\xac",
                            "\xef\xbf\xbf\xf4\x8f\xbf\xbf" };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *v = json_string(cases[i]);
        cr_assert_not_null(v, "case %zu", i);
        char *want = jansson_text(v, 0), *got = jw_text(v, 0, 0);
        cr_assert_str_eq(got, want, "case %zu", i);
        free(want);
        free(got);
        json_decref(v);
    }
    /* a NUL inside, as jansson writes it */
    json_t *v = json_stringn("a\0b", 3);
    char *want = jansson_text(v, 0), *got = jw_text(v, 0, 0);
    cr_assert_str_eq(got, "\"a\\u0000b\"");
    cr_assert_str_eq(got, want);
    free(want);
    free(got);
    json_decref(v);
}

Test(json_out, invalid_utf8_is_refused_as_jansson_refuses_it)
{
    const char *bad[] = { "\x80",         "\xc0\xaf",         "\xc3",     "\xe0\x80\xaf",
                          "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80", "ok\xff" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_null(json_string(bad[i]), "jansson takes case %zu", i);
        gr_buf b = { 0 };
        gr_jw w;
        gr_jw_init(&w, &b, 0, 0);
        gr_jw_array(&w);
        gr_jw_str(&w, bad[i]);
        gr_jw_int(&w, 1); /* dropped: the error is sticky */
        gr_jw_array_end(&w);
        cr_assert_eq(w.bad, GR_JW_UTF8, "case %zu", i);
        free(b.s);
    }
    gr_buf b = { 0 };
    gr_jw w;
    gr_jw_init(&w, &b, 0, 0);
    gr_jw_object(&w);
    gr_jw_key(&w, "k\xff");
    cr_assert_eq(w.bad, GR_JW_UTF8, "a key too");
    free(b.s);
}

/* ---- layout ---- */

static json_t *sample_doc(void)
{
    json_error_t je;
    json_t *doc = json_loads(
        "{\"model\": {\"name\": \"n\", \"version\": \"1\"}, \"empty_o\": {}, \"empty_a\": [],"
        " \"results\": [{\"sample\": \"S1\", \"index\": 0, \"score\": 0.5, \"neg\": -2.0,"
        " \"big\": 1e21, \"tiny\": 0.25, \"ok\": true, \"no\": false, \"none\": null,"
        " \"nested\": [[], [{}], [1, [2, [3]]], {\"a\": {\"b\": {}}}]}, 7, \"x\"],"
        " \"ints\": [0, -1, 9223372036854775807, -9223372036854775808]}",
        0, &je);
    cr_assert_not_null(doc, "%s", je.text);
    return doc;
}

Test(json_out, compact_and_indented_layouts_are_janssons)
{
    json_t *doc = sample_doc();
    for (int pretty = 0; pretty <= 1; pretty++) {
        char *want = jansson_text(doc, pretty), *got = jw_text(doc, pretty, 0);
        cr_assert_str_eq(got, want, "pretty %d", pretty);
        free(want);
        free(got);
    }
    json_decref(doc);
}

/* The value written value by value is the document written at once. */
Test(json_out, streamed_calls_make_the_same_text)
{
    for (int pretty = 0; pretty <= 1; pretty++) {
        gr_buf b = { 0 };
        gr_jw w;
        gr_jw_init(&w, &b, pretty, 0);
        gr_jw_object(&w);
        gr_jw_key(&w, "a");
        gr_jw_array(&w);
        gr_jw_int(&w, 1);
        gr_jw_real(&w, 0.5);
        gr_jw_str(&w, NULL);
        gr_jw_object(&w);
        gr_jw_object_end(&w);
        gr_jw_array_end(&w);
        gr_jw_key(&w, "b");
        gr_jw_bool(&w, 0);
        gr_jw_key(&w, "c");
        gr_jw_array(&w);
        gr_jw_array_end(&w);
        gr_jw_object_end(&w);
        cr_assert_eq(w.bad, GR_JW_OK);
        json_t *doc = json_loads("{\"a\": [1, 0.5, null, {}], \"b\": false, \"c\": []}", 0, NULL);
        char *want = jansson_text(doc, pretty);
        cr_assert_str_eq(b.s, want, "pretty %d", pretty);
        free(want);
        free(b.s);
        json_decref(doc);
    }
}

/* Depth d: the text jansson writes, every line after the first indented
 * 2 d more (what a nested value looked like in the documents). */
Test(json_out, a_value_nested_deeper_is_indented_deeper)
{
    json_t *doc = sample_doc();
    char *top = jansson_text(doc, 1), *got = jw_text(doc, 1, 2);
    gr_buf want = { 0 };
    for (const char *p = top; *p; p++) {
        cr_assert(gr_buf_append(&want, p, 1, 0));
        if (*p == '\n')
            cr_assert(gr_buf_append(&want, "    ", 4, 0));
    }
    cr_assert_str_eq(got, want.s);
    free(got);
    free(want.s);
    free(top);
    json_decref(doc);
}

/* Members added to an object written elsewhere, as the document's head
 * and tail are. */
Test(json_out, members_of_an_open_object)
{
    gr_buf b = { 0 };
    gr_jw w;
    gr_jw_init_in(&w, &b, 1, 1, 1);
    gr_jw_key(&w, "warnings");
    gr_jw_array(&w);
    gr_jw_str(&w, "w");
    gr_jw_array_end(&w);
    cr_assert_eq(w.bad, GR_JW_OK);
    cr_assert_str_eq(b.s, ",\n  \"warnings\": [\n    \"w\"\n  ]");
    b.len = 0;
    gr_jw_init_in(&w, &b, 0, 1, 0);
    gr_jw_key(&w, "model");
    gr_jw_null(&w);
    cr_assert_str_eq(b.s, "\"model\":null");
    free(b.s);
}

Test(json_out, bad_nesting_and_missing_values_are_errors)
{
    gr_buf b = { 0 };
    gr_jw w;
    gr_jw_init(&w, &b, 0, 0);
    gr_jw_object_end(&w);
    cr_assert_eq(w.bad, GR_JW_DEPTH, "closed, never opened");
    gr_jw_init(&w, &b, 0, 0);
    for (int i = 0; i < GR_JW_MAX_DEPTH; i++)
        gr_jw_array(&w);
    cr_assert_eq(w.bad, GR_JW_DEPTH, "too deep");
    gr_jw_init(&w, &b, 0, 0);
    gr_jw_json(&w, NULL);
    cr_assert_eq(w.bad, GR_JW_NOMEM, "a value jansson failed to make");
    free(b.s);
}

/* ---- numbers ---- */

Test(json_out, integers_as_jansson)
{
    long long v[] = { 0, 1, -1, 10, 1234567890123LL, LLONG_MAX, LLONG_MIN };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        json_t *j = json_integer(v[i]);
        char *want = jansson_text(j, 0), *got = jw_text(j, 0, 0);
        cr_assert_str_eq(got, want);
        free(want);
        free(got);
        json_decref(j);
    }
}

static void expect_real(double v, const char *want)
{
    char buf[40];
    size_t n = gr_jw_format_real(buf, v);
    cr_assert_str_eq(buf, want, "%.17g", v);
    cr_assert_eq(n, strlen(want));
}

Test(json_out, each_class_of_double)
{
    expect_real(0.1, "0.1");                       /* jansson: 0.10000000000000001 */
    expect_real(0.1 + 0.2, "0.30000000000000004"); /* 17 digits needed */
    expect_real(1.0 / 3, "0.3333333333333333");    /* 16 */
    expect_real(2.0, "2.0");                       /* a whole double stays a real */
    expect_real(-2.0, "-2.0");
    expect_real(100.0, "100.0");
    expect_real(0.0, "0.0");
    expect_real(-0.0, "-0.0");
    expect_real(123456789012345.0, "123456789012345.0"); /* 15 digits, plain */
    expect_real(1e15, "1e15");                           /* %.15g turns to an exponent */
    expect_real(1e16, "1e16");
    expect_real(1e21, "1e21");
    expect_real(1.5e300, "1.5e300");
    expect_real(1e-4, "0.0001"); /* %g's plain lower end */
    expect_real(1e-5, "1e-5");   /* no leading zero in the exponent */
    expect_real(1e-7, "1e-7");
    expect_real(-2.5e-8, "-2.5e-8");
    expect_real(DBL_MAX, "1.7976931348623157e308");
    expect_real(DBL_MIN, "2.2250738585072014e-308");
    expect_real(5e-324, "4.94065645841247e-324");      /* the least subnormal */
    expect_real(DBL_MIN / 3, "7.41691286169067e-309"); /* a subnormal */
    expect_real(0.76868487179970002, "0.7686848717997");
}

Test(json_out, non_finite_doubles_are_never_written)
{
    double bad[] = { NAN, -NAN, INFINITY, -INFINITY };
    for (size_t i = 0; i < 4; i++) {
        char buf[40] = "x";
        cr_assert_eq(gr_jw_format_real(buf, bad[i]), 0);
        cr_assert_str_eq(buf, "");
        gr_buf b = { 0 };
        gr_jw w;
        gr_jw_init(&w, &b, 0, 0);
        gr_jw_array(&w);
        gr_jw_real(&w, bad[i]);
        cr_assert_eq(w.bad, GR_JW_NONFINITE);
        cr_assert_str_eq(b.s, "[", "nothing of it written");
        free(b.s);
    }
}

/* The reference: the first of %.15g, %.16g, %.17g that strtod reads back,
 * with jansson's touches ('.0', no '+' or leading zeros in the exponent). */
static void reference(double v, char *out)
{
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    char *o = out;
    for (const char *p = buf; *p; p++) {
        *o++ = *p;
        if (*p == 'e') {
            if (p[1] == '-')
                *o++ = *++p;
            else if (p[1] == '+')
                p++;
            while (p[1] == '0' && p[2])
                p++;
        }
    }
    *o = '\0';
    if (!strchr(out, '.') && !strchr(out, 'e'))
        strcat(out, ".0");
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) /* xorshift64* */
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

Test(json_out, a_million_random_doubles_read_back_exactly, .timeout = 120)
{
    char got[40], want[40], jansson[40];
    for (long i = 0; i < 1000000; i++) {
        uint64_t bits = next();
        double v;
        if (i % 2) { /* every bit pattern: subnormals and huge ones too */
            memcpy(&v, &bits, sizeof v);
            if (!isfinite(v))
                continue;
        } else { /* numbers as answers hold them */
            v = ((double)(bits >> 11) / 9007199254740992.0 - 0.5) * pow(10, (int)(bits % 13) - 6);
        }
        size_t n = gr_jw_format_real(got, v);
        double back = strtod(got, NULL);
        cr_assert(n > 0 && memcmp(&back, &v, sizeof v) == 0, "%.17g wrote %s", v, got);
        cr_assert(strchr(got, '.') || strchr(got, 'e'), "%s reads as a real", got);
        reference(v, want);
        cr_assert_str_eq(got, want, "%.17g", v);
        snprintf(jansson, sizeof jansson, "%.17g", v);
        /* never more digits than jansson's 17; the text may be a little
         * longer only where %.15g or %.16g takes an exponent that %.17g
         * does not (1e15 <= |v| < 1e17: "2.375732724160788e16") */
        cr_assert_leq(strcspn(got, "e"), strcspn(jansson, "e") + 2, "%s", got);
        cr_assert_leq(n, 24, "%s", got);
    }
}

/* Where the exact path's rounding is hardest: powers of two (a nearer
 * lower neighbour), dyadic numbers whose decimals end in a 5 (ties at 15
 * and 16 digits), whole numbers, short decimals, the bounds of its range. */
Test(json_out, hard_doubles_match_printf)
{
    char got[40], want[40];
    for (int n = -1074; n <= 1023; n++)
        for (int k = 1; k < 64; k += 2) {
            double v = ldexp(k, n);
            if (!isfinite(v))
                continue;
            gr_jw_format_real(got, v);
            reference(v, want);
            cr_assert_str_eq(got, want, "%d * 2^%d", k, n);
            gr_jw_format_real(got, -v);
            reference(-v, want);
            cr_assert_str_eq(got, want, "-%d * 2^%d", k, n);
        }
    for (long i = 0; i < 200000; i++) {
        double v[] = { (double)i, i / 1000.0,       i * 1e-7,
                       i * 0.1,   1e15 - (double)i, nextafter(1.0, 2.0) * (double)i };
        for (size_t j = 0; j < sizeof v / sizeof *v; j++) {
            gr_jw_format_real(got, v[j]);
            reference(v[j], want);
            cr_assert_str_eq(got, want, "%.17g", v[j]);
        }
    }
}

/* ---- an answer written with it ---- */

static int to_buf(void *arg, const char *bytes, size_t n)
{
    return !gr_buf_append(arg, bytes, n, 0);
}

Test(json_out, a_predict_answer_spells_numbers_shortest)
{
    char *dir = temp_bundle(
        "manifest.json",
        "{\"name\":\"lin1\",\"version\":\"1.0\",\"task\":\"regression\",\"format\":\"genorisk-"
        "linear\",\"artifact\":\"model.json\",\"features\":\"features.tsv\",\"genome_build\":"
        "\"GRCh38\"}",
        "features.tsv", "feature_id\tchrom\tpos\tref\talt\tmean\trsid\na\t1\t100\tA\tG\t0\trs1\n",
        "model.json",
        "{\"format\":\"genorisk-linear\",\"intercept\":0.1,\"weights\":[0.2],\"link\":"
        "\"identity\"}",
        NULL);
    gr_model *m;
    gr_error err;
    cr_assert_eq(gr_model_load(dir, &m, &err), GR_OK, "%s", err.text);
    const char *body = "{\"samples\":[{\"id\":\"S\\/1\",\"genotypes\":{\"a\":1}}]}";
    gr_api_request req;
    cr_assert_eq(gr_api_request_read(m, body, strlen(body), NULL, &req, &err), GR_OK, "%s",
                 err.text);
    gr_api_job job;
    gr_api_job_init(&job, m, &req, NULL, NULL);
    for (int pretty = 0; pretty <= 1; pretty++) {
        gr_buf b = { 0 };
        cr_assert_eq(gr_api_predict_write(&job, pretty, NULL, to_buf, &b, &err), GR_OK, "%s",
                     err.text);
        const char *score =
            pretty ? "\"score\": 0.30000000000000004" : "\"score\":0.30000000000000004";
        const char *base = pretty ? "\"base_value\": 0.1," : "\"base_value\":0.1,";
        const char *dosage = pretty ? "\"dosage\": 1.0" : "\"dosage\":1.0";
        cr_assert_not_null(strstr(b.s, score), "%s", b.s);
        cr_assert_not_null(strstr(b.s, base), "%s", b.s);
        cr_assert_not_null(strstr(b.s, dosage), "%s", b.s);
        cr_assert_not_null(strstr(b.s, "\"S/1\""), "%s", b.s);
        json_t *doc = json_loads(b.s, 0, NULL);
        cr_assert_not_null(doc, "the answer is JSON: %s", b.s);
        json_decref(doc);
        free(b.s);
    }
    gr_api_request_clear(&req);
    gr_model_free(m);
    temp_bundle_free(dir);
}
