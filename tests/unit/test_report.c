/* test_report.c - the clinician's HTML report and the SVG waterfall
 * (api/report.h): sections shown and absences said, escaping of untrusted
 * strings, nothing referenced outside the page, the synthetic banner, the
 * waterfall's bars and their ceiling, non-finite numbers, write failures. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/report.h"
#include "helpers.h"

typedef struct {
    char *buf;
    size_t len;
    size_t calls, fail_at; /* fail_at: the call that fails, 1-based; 0 never */
} sink;

static int sink_write(void *arg, const char *bytes, size_t n)
{
    sink *s = arg;
    if (++s->calls == s->fail_at)
        return -1;
    cr_assert(!s->fail_at || s->calls < s->fail_at, "written to after a failed write");
    s->buf = realloc(s->buf, s->len + n + 1);
    cr_assert_not_null(s->buf);
    memcpy(s->buf + s->len, bytes, n);
    s->len += n;
    s->buf[s->len] = 0;
    return 0;
}

/* The page (svg = 0) or the waterfall (svg = 1) of doc, as a new string. */
static char *render(const json_t *doc, int svg)
{
    sink s = { 0 };
    gr_error err;
    gr_status st = svg ? gr_api_report_svg(doc, sink_write, &s, &err)
                       : gr_api_report_html(doc, sink_write, &s, &err);
    cr_assert_eq(st, GR_OK, "%s", err.text);
    cr_assert_not_null(s.buf);
    cr_assert_eq(strlen(s.buf), s.len, "the output holds a NUL byte");
    return s.buf;
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    cr_assert_not_null(doc, "%s", jerr.text);
    return doc;
}

static json_t *example(void)
{
    char *text = read_text("docs/report-example.json");
    json_t *doc = parse(text);
    free(text);
    return doc;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* No tag of the page names anything outside it: no src, href, url(),
 * script or link (text between tags is escaped, so '<' starts only ours). */
#define SVG_NS "xmlns=\"http://www.w3.org/2000/svg\""

static void expect_self_contained(const char *html)
{
    static const char *const bad[] = { "src=",    "href=",   "url(",    "<script", "<link", "<img",
                                       "<iframe", "<object", "@import", "http:",   "https:" };
    for (const char *p = html; (p = strchr(p, '<'));) {
        const char *end = strchr(p, '>');
        cr_assert_not_null(end);
        size_t n = (size_t)(end - p);
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            char *tag = strndup(p, n), *ns;
            for (char *c = tag; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            if ((ns = strstr(tag, SVG_NS))) /* a name, not a reference */
                memset(ns, ' ', strlen(SVG_NS));
            cr_assert_null(strstr(tag, bad[i]), "a tag holds %s: %s", bad[i], tag);
            free(tag);
        }
        p = end;
    }
}

/* No "nan" or "inf" printed as a number anywhere (a word holding them is
 * fine: "information"). */
static void expect_no_nonfinite(const char *s)
{
    for (const char *p = s; *p; p++) {
        if (p > s && isalpha((unsigned char)p[-1]))
            continue;
        int nan = !strncasecmp(p, "nan", 3), inf = !strncasecmp(p, "inf", 3);
        if ((nan || inf) && !isalpha((unsigned char)p[3]))
            cr_assert_fail("a non-finite number is printed: ...%.40s", p > s + 20 ? p - 20 : s);
    }
}

Test(report, full_document_shows_every_section)
{
    json_t *doc = example();
    char *html = render(doc, 0);
    static const char *const want[] = {
        "<!DOCTYPE html>",
        "<meta charset=\"utf-8\">",
        "SYNTHETIC DATA - NOT FOR CLINICAL USE",
        "DEMO-001",
        "cad-pgs-demo",
        "this patient: 94th percentile (EUR-like reference)",
        "Risk category: <b>elevated</b>",
        "80 to 95 &larr; this patient",
        "Estimated absolute risk: <b>8.9%</b>",
        "The population prevalence of coronary artery disease is 5% (synthetic figure).",
        "The score&#39;s AUC of 0.62 in the EUR-like reference holds for this sample.",
        "Most similar reference population: <b>EUR</b>",
        "13:70767054:G:A",
        "300 of the score's 300 variants matched (100%)",
        "PGS000000",
        "The reference distribution is synthetic",
        "not a diagnosis",
        "class=\"density\"",
        "class=\"waterfall\"",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_assert_not_null(strstr(html, want[i]), "the page lacks %s", want[i]);
    cr_assert_null(strstr(html, "is not in this report"), "something was reported absent");
    cr_assert_eq(count(html, "class=\"bar "), 10);
    size_t n = strlen(html);
    cr_assert(n > 7 && !strcmp(html + n - 8, "</html>\n"));
    expect_self_contained(html);
    cr_assert_null(strstr(html, "http://"));
    cr_assert_null(strstr(html, "https://"));
    expect_no_nonfinite(html);
    free(html);
    json_decref(doc);
}

Test(report, minimal_document_says_what_is_absent)
{
    json_t *doc = parse("{\"result\": {\"score\": 1.25}}");
    char *html = render(doc, 0);
    cr_assert_not_null(strstr(html, "<div class=\"v\">1.25</div>"));
    static const char *const absent[] = {
        "The reference distribution is not in this report.",
        "A risk category is not in this report.",
        "A genetic-similarity analysis is not in this report.",
        "An explanation is not in this report.",
        "A variant-matching summary is not in this report.",
        "Provenance is not in this report.",
    };
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
        cr_assert_not_null(strstr(html, absent[i]), "the page does not say: %s", absent[i]);
    cr_assert_null(strstr(html, "SYNTHETIC DATA"));
    expect_self_contained(html);
    expect_no_nonfinite(html);
    free(html);
    json_decref(doc);

    doc = json_object(); /* not even a result */
    html = render(doc, 0);
    cr_assert_not_null(strstr(html, "A result is not in this report."));
    free(html);
    char *svg = render(doc, 1);
    cr_assert_not_null(strstr(svg, "No attributions are in this report."));
    free(svg);
    json_decref(doc);
}

Test(report, hostile_sample_ids_and_feature_names_are_escaped)
{
    json_t *doc = example();
    json_t *result = json_object_get(doc, "result");
    json_object_set_new(result, "sample", json_string("<script>alert(1)</script>"));
    json_t *atts = json_object_get(json_object_get(result, "explanation"), "attributions");
    json_object_set_new(json_array_get(atts, 0), "feature",
                        json_string("\"><img src=x onerror=alert(1)>"));
    json_object_set_new(json_array_get(atts, 1), "feature", json_string("a'b&c\x01<"));
    json_object_set_new(json_object_get(doc, "distribution"), "population",
                        json_string("</text><script>"));
    for (int svg = 0; svg < 2; svg++) {
        char *out = render(doc, svg);
        cr_assert_null(strstr(out, "<script"), "%s", out);
        cr_assert_null(strstr(out, "<img"));
        cr_assert_not_null(strstr(out, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
        cr_assert_not_null(strstr(out, "a&#39;b&amp;c?&lt;"));
        if (!svg) {
            cr_assert_not_null(strstr(out, "&lt;script&gt;alert(1)&lt;/script&gt;"));
            cr_assert_not_null(strstr(out, "&lt;/text&gt;&lt;script&gt;-like reference"));
        }
        expect_self_contained(out);
        free(out);
    }
    json_decref(doc);
}

Test(report, banner_iff_synthetic)
{
    json_t *doc = example();
    char *html = render(doc, 0);
    cr_assert_eq(count(html, "SYNTHETIC DATA - NOT FOR CLINICAL USE"), 1);
    free(html);
    json_object_set_new(doc, "synthetic", json_false());
    html = render(doc, 0);
    cr_assert_null(strstr(html, "SYNTHETIC DATA"));
    free(html);
    json_t *pop = json_object_get(json_object_get(doc, "result"), "population");
    json_object_set_new(pop, "synthetic", json_true());
    html = render(doc, 0);
    cr_assert_eq(count(html, "SYNTHETIC DATA - NOT FOR CLINICAL USE"), 1);
    free(html);
    json_decref(doc);
}

Test(report, standalone_svg_has_one_bar_per_attribution)
{
    json_t *doc = example();
    char *svg = render(doc, 1);
    cr_assert_eq(strncmp(svg, "<svg", 4), 0);
    cr_assert_not_null(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\""));
    size_t n = strlen(svg);
    cr_assert(!strcmp(svg + n - 7, "</svg>\n"));
    cr_assert_eq(count(svg, "<svg"), 1);
    cr_assert_eq(count(svg, "class=\"bar pos\""), 6);
    cr_assert_eq(count(svg, "class=\"bar neg\""), 4);
    cr_assert_eq(count(svg, "class=\"rest\""), 1, "the top 10 do not add up to the score");
    cr_assert_null(strstr(svg, "not drawn"));
    free(svg);
    json_decref(doc);
}

Test(report, waterfall_bars_are_capped)
{
    json_t *doc = example();
    json_t *ex = json_object_get(json_object_get(doc, "result"), "explanation");
    json_t *atts = json_array();
    for (int i = 0; i < GR_REPORT_MAX_BARS + 10; i++)
        json_array_append_new(
            atts, json_pack("{s:s, s:f}", "feature", "rs1", "value", i % 2 ? 0.01 : -0.005));
    json_object_set_new(ex, "attributions", atts);
    for (int svg = 0; svg < 2; svg++) {
        char *out = render(doc, svg);
        cr_assert_eq(count(out, "class=\"bar "), GR_REPORT_MAX_BARS);
        cr_assert_not_null(strstr(out, "10 more attributions not drawn"));
        free(out);
    }
    json_decref(doc);
}

Test(report, non_finite_and_missing_numbers_show_as_na)
{
    json_t *doc = parse("{\"result\": {\"sample\": \"s\", \"score\": null, \"margin\": \"NaN\","
                        " \"explanation\": {\"space\": \"identity\", \"base_value\": 0,"
                        "   \"attributions\": [{\"feature\": \"a\", \"value\": 1e308},"
                        "                      {\"feature\": \"b\", \"value\": 1e308}]},"
                        " \"population\": {\"percentile\": null, \"z\": \"inf\"},"
                        " \"risk\": {\"absolute\": {\"risk\": null}}},"
                        " \"distribution\": {\"percentiles\": []},"
                        " \"match\": {\"match_rate\": null}}");
    char *html = render(doc, 0);
    cr_assert_not_null(strstr(html, "<div class=\"v\">n/a</div>"));
    cr_assert_not_null(strstr(html, "does not have 101 percentiles"));
    cr_assert_not_null(strstr(html, "too large to draw"));
    expect_no_nonfinite(html);
    free(html);
    /* a spread too wide for double: not drawn, nothing non-finite */
    json_t *p = json_array();
    for (int i = 0; i <= 100; i++)
        json_array_append_new(p, json_real(i < 50 ? -1e308 : 1e308));
    json_object_set_new(json_object_get(doc, "distribution"), "percentiles", p);
    json_object_set_new(json_object_get(doc, "result"), "score", json_real(1e308));
    html = render(doc, 0);
    cr_assert_not_null(strstr(html, "no spread that can be drawn"));
    expect_no_nonfinite(html);
    free(html);
    char *svg = render(doc, 1);
    expect_no_nonfinite(svg);
    free(svg);
    json_decref(doc);
}

Test(report, a_failed_write_stops_and_returns_eio)
{
    json_t *doc = example();
    for (size_t at = 1; at <= 3; at++) {
        sink s = { .fail_at = at };
        gr_error err;
        cr_assert_eq(gr_api_report_html(doc, sink_write, &s, &err), GR_EIO);
        cr_assert_eq(err.status, GR_EIO);
        cr_assert_eq(s.calls, at, "written to after the failure");
        free(s.buf);
        sink t = { .fail_at = 1 };
        cr_assert_eq(gr_api_report_svg(doc, sink_write, &t, &err), GR_EIO);
        free(t.buf);
    }
    sink s = { 0 };
    gr_error err;
    json_t *arr = json_array();
    cr_assert_eq(gr_api_report_html(arr, sink_write, &s, &err), GR_EINVAL);
    cr_assert_eq(gr_api_report_svg(NULL, sink_write, &s, &err), GR_EINVAL);
    cr_assert_eq(s.calls, 0);
    json_decref(arr);
    json_decref(doc);
}
