/* report.c - see report.h: the clinician's HTML page and the SVG
 * waterfall. Output goes through a fixed buffer to the caller's write
 * function; the first failed write stops all output. Every string of the
 * document passes through put_text (escaped, cut at a ceiling), every
 * number through put_num (%.4g, "n/a" when absent or not finite), every
 * SVG coordinate through put_xy (finite, clamped). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/report.h"

#define MAX_TEXT 2048     /* bytes of one string shown */
#define MAX_LABEL 36      /* bytes of a feature name drawn in the waterfall */
#define MAX_LIST 50       /* warnings, assumptions, PCs, probabilities shown */
#define MAX_ROWS 120      /* rows of a flattened table */
#define MAX_DEPTH 3       /* nesting of a flattened table */
#define MAX_CATEGORIES 16 /* risk categories drawn */
#define N_PERCENTILES 101 /* a distribution's percentiles 0..100 */
#define DENSITY_BINS 80

#define COLOR_UP "#c62828"
#define COLOR_DOWN "#1565c0"
#define COLOR_REST "#9e9e9e"
#define COLOR_INK "#212121"

/* ---- output ---- */

typedef struct {
    gr_api_write_fn write;
    void *arg;
    int failed;
    size_t len;
    char buf[8192];
} out_t;

static void flush(out_t *o)
{
    if (!o->failed && o->len && o->write(o->arg, o->buf, o->len))
        o->failed = 1;
    o->len = 0;
}

static void put_n(out_t *o, const char *s, size_t n)
{
    while (n && !o->failed) {
        size_t room = sizeof o->buf - o->len, k = n < room ? n : room;
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
        if (o->len == sizeof o->buf)
            flush(o);
    }
}

static void put(out_t *o, const char *s)
{
    put_n(o, s, strlen(s));
}

/* Only for this file's own formats: what they print is bounded by tmp. */
static void putf(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(out_t *o, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        put_n(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* The n bytes at s, HTML-escaped (& < > " '), control bytes and bytes that
 * are not UTF-8 as '?', cut after cap bytes with an ellipsis. */
static void put_text_n(out_t *o, const char *s, size_t n, size_t cap)
{
    for (size_t i = 0; i < n && !o->failed;) {
        if (i >= cap) {
            put(o, "\xe2\x80\xa6");
            return;
        }
        unsigned char c = (unsigned char)s[i];
        const char *rep = c == '&'    ? "&amp;"
                          : c == '<'  ? "&lt;"
                          : c == '>'  ? "&gt;"
                          : c == '"'  ? "&quot;"
                          : c == '\'' ? "&#39;"
                                      : NULL;
        size_t k = rep ? 1 : gr_utf8_char(s + i);
        if (rep)
            put(o, rep);
        else if (!k || i + k > n || (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            k = 1, put(o, "?");
        else
            put_n(o, s + i, k);
        i += k;
    }
}

static void put_text(out_t *o, const char *s, size_t cap)
{
    put_text_n(o, s, strlen(s), cap);
}

static void put_num(out_t *o, double v)
{
    if (isfinite(v))
        putf(o, "%.4g", v == 0 ? 0.0 : v);
    else
        put(o, "n/a");
}

/* A coordinate: never NaN or infinite in the SVG. */
static void put_xy(out_t *o, const char *name, double v)
{
    if (!isfinite(v))
        v = 0;
    v = v < -1e5 ? -1e5 : v > 1e5 ? 1e5 : v;
    putf(o, " %s=\"%.1f\"", name, v);
}

/* ---- reading the document ---- */

static const json_t *obj(const json_t *parent, const char *key)
{
    const json_t *v = json_object_get(parent, key);
    return json_is_object(v) ? v : NULL;
}

static const char *str(const json_t *parent, const char *key)
{
    return json_string_value(json_object_get(parent, key));
}

static double num(const json_t *parent, const char *key)
{
    const json_t *v = json_object_get(parent, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Any JSON value as text: strings escaped, numbers as put_num, lists of
 * scalars joined (the first MAX_LIST), objects and nested lists counted. */
static void put_value(out_t *o, const json_t *v, int in_list)
{
    switch (json_typeof(v)) {
    case JSON_STRING: put_text_n(o, json_string_value(v), json_string_length(v), MAX_TEXT); break;
    case JSON_INTEGER:
    case JSON_REAL: put_num(o, json_number_value(v)); break;
    case JSON_TRUE: put(o, "yes"); break;
    case JSON_FALSE: put(o, "no"); break;
    case JSON_NULL: put(o, "n/a"); break;
    case JSON_OBJECT: putf(o, "(%zu fields)", json_object_size(v)); break;
    case JSON_ARRAY:
        if (in_list) {
            putf(o, "(%zu items)", json_array_size(v));
            break;
        }
        for (size_t i = 0; i < json_array_size(v) && i < MAX_LIST; i++) {
            put(o, i ? ", " : "");
            put_value(o, json_array_get(v, i), 1);
        }
        if (json_array_size(v) > MAX_LIST)
            putf(o, ", \xe2\x80\xa6 (%zu more)", json_array_size(v) - MAX_LIST);
        if (!json_array_size(v))
            put(o, "(none)");
        break;
    }
}

/* The parts of a report document the page reads. */
typedef struct {
    const json_t *doc, *model, *result, *expl, *pop, *risk, *absolute, *dist, *match, *prov;
    const char *sample, *population; /* population: the reference's label, or NULL */
    int synthetic;
} view_t;

static void view_init(view_t *v, const json_t *doc)
{
    memset(v, 0, sizeof *v);
    v->doc = doc;
    v->model = obj(doc, "model");
    v->result = obj(doc, "result");
    v->expl = obj(v->result, "explanation");
    v->pop = obj(v->result, "population");
    v->risk = obj(v->result, "risk");
    v->absolute = obj(v->risk, "absolute");
    v->dist = obj(doc, "distribution");
    v->match = obj(doc, "match");
    v->prov = obj(doc, "provenance");
    v->sample = str(v->result, "sample");
    v->population = str(v->dist, "population");
    if (!v->population)
        v->population = str(v->pop, "most_similar");
    v->synthetic = json_is_true(json_object_get(doc, "synthetic")) ||
                   json_is_true(json_object_get(v->pop, "synthetic"));
}

static const char *ordinal(long n)
{
    long t = n % 100;
    if (t >= 11 && t <= 13)
        return "th";
    return n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
}

/* "95th" for 95.4: the whole percentiles below the score. */
static void put_percentile(out_t *o, double pct)
{
    long n = (long)floor(pct < 0 ? 0 : pct > 100 ? 100 : pct);
    putf(o, "%ld%s", n, ordinal(n));
}

static void put_population_like(out_t *o, const view_t *v)
{
    if (v->population) {
        put_text(o, v->population, 64);
        put(o, "-like reference");
    } else {
        put(o, "reference");
    }
}

static void absent(out_t *o, const char *what)
{
    putf(o, "<p class=\"absent\">%s is not in this report.</p>\n", what);
}

/* ---- shared drawing ---- */

/* A tick step of 1, 2 or 5 times a power of ten giving about target ticks. */
static double nice_step(double span, int target)
{
    double raw = span / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

typedef struct {
    double lo, hi, x0, x1; /* domain and pixel range */
} scale_t;

static double sx(const scale_t *s, double v)
{
    return s->x0 + (v - s->lo) / (s->hi - s->lo) * (s->x1 - s->x0);
}

/* Ticks and labels of s along y. */
static void draw_axis(out_t *o, const scale_t *s, double y, const char *title)
{
    putf(o, "<line stroke=\"%s\"", COLOR_INK);
    put_xy(o, "x1", s->x0);
    put_xy(o, "x2", s->x1);
    put_xy(o, "y1", y);
    put_xy(o, "y2", y);
    put(o, "/>\n");
    double step = nice_step(s->hi - s->lo, 6);
    int k = 0;
    for (double t = ceil(s->lo / step) * step; t <= s->hi + step * 1e-9 && k < 20; t += step, k++) {
        double tv = fabs(t) < step * 1e-9 ? 0 : t, x = sx(s, tv);
        putf(o, "<line stroke=\"%s\"", COLOR_INK);
        put_xy(o, "x1", x);
        put_xy(o, "x2", x);
        put_xy(o, "y1", y);
        put_xy(o, "y2", y + 5);
        put(o, "/><text text-anchor=\"middle\"");
        put_xy(o, "x", x);
        put_xy(o, "y", y + 18);
        put(o, ">");
        put_num(o, tv);
        put(o, "</text>\n");
    }
    put(o, "<text text-anchor=\"middle\"");
    put_xy(o, "x", (s->x0 + s->x1) / 2);
    put_xy(o, "y", y + 34);
    putf(o, " fill=\"#555\">%s</text>\n", title);
}

/* ---- the waterfall ---- */

#define WF_WIDTH 900
#define WF_LABEL_X 262 /* labels end here */
#define WF_PLOT_X0 272
#define WF_PLOT_X1 790
#define WF_TOP 44
#define WF_ROW 24
#define WF_BAR 16

/* The value the attributions add up to: the margin in margin space, the
 * score otherwise. */
static double waterfall_end(const view_t *v, const char **name)
{
    const char *space = str(v->expl, "space");
    int margin = space && !strcmp(space, "margin");
    *name = margin ? "margin" : "score";
    return num(v->result, margin ? "margin" : "score");
}

static void wf_label(out_t *o, double y, const char *cls, const char *text, size_t n, int bold)
{
    putf(o, "<text class=\"%s\" text-anchor=\"end\"%s", cls, bold ? " font-weight=\"bold\"" : "");
    put_xy(o, "x", WF_LABEL_X);
    put_xy(o, "y", y + WF_BAR - 4);
    put(o, ">");
    put_text_n(o, text, n, MAX_LABEL);
    if (n > MAX_LABEL) {
        put(o, "<title>");
        put_text_n(o, text, n, MAX_TEXT);
        put(o, "</title>");
    }
    put(o, "</text>\n");
}

static void wf_value(out_t *o, double y, double value, int sign)
{
    put(o, "<text text-anchor=\"end\"");
    put_xy(o, "x", WF_WIDTH - 8);
    put_xy(o, "y", y + WF_BAR - 4);
    put(o, ">");
    if (sign && isfinite(value) && value >= 0)
        put(o, "+");
    put_num(o, value);
    put(o, "</text>\n");
}

/* One bar of a row at y from running total a to b; cls "bar pos", "bar neg"
 * or "rest". */
static void wf_bar(out_t *o, const scale_t *s, double y, double a, double b, const char *cls,
                   const char *fill)
{
    double x0 = sx(s, a < b ? a : b), x1 = sx(s, a < b ? b : a);
    if (x1 - x0 < 1.5)
        x1 = x0 + 1.5;
    putf(o, "<rect class=\"%s\" fill=\"%s\"", cls, fill);
    put_xy(o, "x", x0);
    put_xy(o, "y", y);
    put_xy(o, "width", x1 - x0);
    put_xy(o, "height", WF_BAR);
    put(o, "/>\n");
}

/* A thin mark for the base value and the end, and the connector from the
 * previous row. */
static void wf_mark(out_t *o, const scale_t *s, double y, double v)
{
    putf(o, "<rect fill=\"%s\"", COLOR_INK);
    put_xy(o, "x", sx(s, v) - 1.5);
    put_xy(o, "y", y - 2);
    put_xy(o, "width", 3);
    put_xy(o, "height", WF_BAR + 4);
    put(o, "/>\n");
}

static void wf_connector(out_t *o, const scale_t *s, double y, double v)
{
    put(o, "<line stroke=\"#777\" stroke-dasharray=\"2,2\"");
    put_xy(o, "x1", sx(s, v));
    put_xy(o, "x2", sx(s, v));
    put_xy(o, "y1", y - (WF_ROW - WF_BAR));
    put_xy(o, "y2", y);
    put(o, "/>\n");
}

static void wf_legend(out_t *o)
{
    static const struct {
        const char *fill, *text;
    } items[] = { { COLOR_UP, "raises the score" },
                  { COLOR_DOWN, "lowers the score" },
                  { COLOR_REST, "all other features" } };
    for (int i = 0; i < 3; i++) {
        double x = WF_PLOT_X0 + i * 170;
        putf(o, "<rect fill=\"%s\"", items[i].fill);
        put_xy(o, "x", x);
        put_xy(o, "y", 10);
        put_xy(o, "width", 14);
        put_xy(o, "height", 14);
        put(o, "/><text");
        put_xy(o, "x", x + 20);
        put_xy(o, "y", 22);
        putf(o, ">%s</text>\n", items[i].text);
    }
}

/* The domain of the running totals, padded, never empty. */
static scale_t wf_scale(double base, const json_t *atts, size_t shown, double end)
{
    double lo = base, hi = base, run = base;
    for (size_t i = 0; i < shown; i++) {
        double a = num(json_array_get(atts, i), "value");
        run += isfinite(a) ? a : 0;
        lo = fmin(lo, run);
        hi = fmax(hi, run);
    }
    if (isfinite(end)) {
        lo = fmin(lo, end);
        hi = fmax(hi, end);
    }
    double pad = (hi - lo) * 0.06;
    if (!(pad > 0) || !isfinite(pad))
        pad = fabs(hi) > 0 && isfinite(hi) ? fabs(hi) * 0.1 : 1;
    return (scale_t){ lo - pad, hi + pad, WF_PLOT_X0, WF_PLOT_X1 };
}

/* The attribution rows from base; returns the running total at the end. */
static double wf_rows(out_t *o, const scale_t *s, const json_t *atts, size_t shown, double base,
                      double *y)
{
    double run = base;
    for (size_t i = 0; i < shown; i++) {
        const json_t *a = json_array_get(atts, i);
        const json_t *f = json_object_get(a, "feature");
        double v = num(a, "value"), next = isfinite(v) ? run + v : run;
        char name[32];
        if (!json_is_string(f))
            snprintf(name, sizeof name, "feature %zu", i + 1);
        wf_connector(o, s, *y, run);
        wf_bar(o, s, *y, run, next, v >= 0 ? "bar pos" : "bar neg", v >= 0 ? COLOR_UP : COLOR_DOWN);
        if (json_is_string(f))
            wf_label(o, *y, "feature", json_string_value(f), json_string_length(f), 0);
        else
            wf_label(o, *y, "feature", name, strlen(name), 0);
        wf_value(o, *y, v, 1);
        run = next;
        *y += WF_ROW;
    }
    return run;
}

/* The waterfall as <svg> content; xmlns only for the standalone document. */
static void draw_waterfall(out_t *o, const view_t *v, int standalone)
{
    const json_t *atts = json_object_get(v->expl, "attributions");
    size_t n = json_is_array(atts) ? json_array_size(atts) : 0;
    size_t shown = n < GR_REPORT_MAX_BARS ? n : GR_REPORT_MAX_BARS;
    const char *end_name;
    double base = num(v->expl, "base_value"), end = waterfall_end(v, &end_name);
    int drawable = isfinite(base) && n;
    scale_t s = wf_scale(base, atts, shown, end);
    if (drawable && !isfinite(s.hi - s.lo))
        drawable = 0;
    double run = base, y = WF_TOP;
    int rest = drawable && isfinite(end);
    double height = drawable ? WF_TOP + (shown + 2 + rest) * WF_ROW + 50 : 50;
    if (drawable && shown < n)
        height += 20;
    put(o, "<svg");
    if (standalone)
        put(o, " xmlns=\"http://www.w3.org/2000/svg\"");
    putf(o,
         " class=\"waterfall\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" role=\"img\""
         " font-family=\"sans-serif\" font-size=\"12\" fill=\"%s\">\n",
         WF_WIDTH, height, WF_WIDTH, height, COLOR_INK);
    put(o, "<title>Contributions to the score</title>\n");
    if (!drawable) {
        putf(o, "<text x=\"10\" y=\"30\">%s</text>\n</svg>\n",
             !n               ? "No attributions are in this report."
             : isfinite(base) ? "The contributions are too large to draw."
                              : "The base value is missing: the contributions cannot be drawn.");
        return;
    }
    wf_legend(o);
    wf_mark(o, &s, y, base);
    wf_label(o, y, "total", "base value (average)", 20, 1);
    wf_value(o, y, base, 0);
    y += WF_ROW;
    run = wf_rows(o, &s, atts, shown, base, &y);
    if (rest) {
        char label[64];
        snprintf(label, sizeof label, "all other features%s",
                 shown < n ? " (incl. not drawn)" : "");
        wf_connector(o, &s, y, run);
        wf_bar(o, &s, y, run, end, "rest", COLOR_REST);
        wf_label(o, y, "other", label, strlen(label), 0);
        wf_value(o, y, end - run, 1);
        run = end;
        y += WF_ROW;
    }
    char label[64];
    snprintf(label, sizeof label, "this sample (%s)", end_name);
    wf_connector(o, &s, y, run);
    wf_mark(o, &s, y, run);
    wf_label(o, y, "total", label, strlen(label), 1);
    wf_value(o, y, isfinite(end) ? end : run, 0);
    y += WF_ROW;
    if (shown < n) {
        put(o, "<text class=\"omitted\"");
        put_xy(o, "x", WF_PLOT_X0);
        put_xy(o, "y", y + 4);
        putf(o, ">%zu more attributions not drawn (the first %d are)</text>\n", n - shown,
             GR_REPORT_MAX_BARS);
        y += 20;
    }
    const char *space = str(v->expl, "space");
    char title[96];
    snprintf(title, sizeof title, "model output (%s space)",
             space && !strcmp(space, "margin") ? "margin, log-odds" : "score");
    draw_axis(o, &s, y + 6, title);
    put(o, "</svg>\n");
}

/* ---- the reference distribution ---- */

#define DS_WIDTH 900
#define DS_HEIGHT 270
#define DS_X0 60
#define DS_X1 860
#define DS_TOP 64
#define DS_BASE 210

/* The piecewise-linear CDF through (p[i], i/100), p ascending. */
static double cdf(const double *p, double x)
{
    if (x <= p[0])
        return 0;
    if (x >= p[N_PERCENTILES - 1])
        return 1;
    size_t i = 0;
    while (i + 1 < N_PERCENTILES - 1 && p[i + 1] <= x)
        i++;
    double w = p[i + 1] - p[i];
    return (i + (w > 0 ? (x - p[i]) / w : 0)) / 100.0;
}

/* 101 finite ascending numbers with some spread into p; 0 and a reason
 * otherwise. */
static int read_percentiles(const json_t *arr, double *p, const char **why)
{
    if (!json_is_array(arr) || json_array_size(arr) != N_PERCENTILES) {
        *why = "the reference distribution does not have 101 percentiles";
        return 0;
    }
    for (size_t i = 0; i < N_PERCENTILES; i++) {
        const json_t *e = json_array_get(arr, i);
        p[i] = json_is_number(e) ? json_number_value(e) : NAN;
        if (!isfinite(p[i]) || (i && p[i] < p[i - 1])) {
            *why = "the reference distribution's percentiles are not ascending numbers";
            return 0;
        }
    }
    if (!(p[100] > p[0]) || !isfinite(p[100] - p[0])) {
        *why = "the reference distribution has no spread that can be drawn";
        return 0;
    }
    return 1;
}

/* Density of each bin from the CDF, smoothed by a 1-2-3-2-1 kernel. */
static void density(const double *p, double *d)
{
    double raw[DENSITY_BINS], w = (p[100] - p[0]) / DENSITY_BINS;
    for (int b = 0; b < DENSITY_BINS; b++)
        raw[b] = (cdf(p, p[0] + (b + 1) * w) - cdf(p, p[0] + b * w)) / w;
    static const double k[5] = { 1, 2, 3, 2, 1 };
    for (int b = 0; b < DENSITY_BINS; b++) {
        double sum = 0, wsum = 0;
        for (int j = -2; j <= 2; j++)
            if (b + j >= 0 && b + j < DENSITY_BINS)
                sum += k[j + 2] * raw[b + j], wsum += k[j + 2];
        d[b] = sum / wsum;
    }
}

/* The area under the curve from its start up to x (all of it when x is past
 * the end). */
static void ds_area(out_t *o, const scale_t *s, const double *p, const double *d, double ymax,
                    double upto, const char *fill)
{
    double w = (p[100] - p[0]) / DENSITY_BINS;
    put(o, "<path fill=\"");
    put(o, fill);
    putf(o, "\" d=\"M%.1f %d", sx(s, p[0]), DS_BASE);
    double last_x = p[0], last_y = 0;
    for (int b = 0; b < DENSITY_BINS; b++) {
        double xc = p[0] + (b + 0.5) * w, yc = d[b] / ymax;
        if (xc > upto) {
            double t = (upto - last_x) / (xc - last_x);
            last_y += t * (yc - last_y), last_x = upto;
            break;
        }
        putf(o, " L%.1f %.1f", sx(s, xc), DS_BASE - yc * (DS_BASE - DS_TOP));
        last_x = xc, last_y = yc;
    }
    if (upto >= p[100])
        last_x = p[100], last_y = 0;
    putf(o, " L%.1f %.1f L%.1f %d Z\"/>\n", sx(s, last_x), DS_BASE - last_y * (DS_BASE - DS_TOP),
         sx(s, last_x), DS_BASE);
}

/* The patient's line and its label, on the side with room. */
static void ds_marker(out_t *o, const view_t *v, const scale_t *s, double x, int off)
{
    double px = sx(s, x), pct = num(v->pop, "percentile");
    int left = px > (DS_X0 + DS_X1) / 2;
    putf(o, "<line class=\"patient\" stroke=\"%s\" stroke-width=\"2.5\"", COLOR_UP);
    put_xy(o, "x1", px);
    put_xy(o, "x2", px);
    put_xy(o, "y1", DS_TOP - 36);
    put_xy(o, "y2", DS_BASE);
    putf(o, "/>\n<text class=\"patient-label\" font-weight=\"bold\" fill=\"%s\" text-anchor=\"%s\"",
         COLOR_UP, left ? "end" : "start");
    put_xy(o, "x", px + (left ? -6 : 6));
    put_xy(o, "y", DS_TOP - 26);
    put(o, ">this patient");
    if (isfinite(pct)) {
        put(o, ": ");
        put_percentile(o, pct);
        put(o, " percentile");
    }
    put(o, " (");
    put_population_like(o, v);
    put(o, ")");
    if (off)
        put(o, ", off the chart");
    put(o, "</text>\n");
}

static void draw_density(out_t *o, const view_t *v, const double *p)
{
    double d[DENSITY_BINS], ymax = 0, x = num(v->result, "score"), span = p[100] - p[0];
    density(p, d);
    for (int b = 0; b < DENSITY_BINS; b++)
        ymax = fmax(ymax, d[b]);
    scale_t s = { p[0] - span * 0.04, p[100] + span * 0.04, DS_X0, DS_X1 };
    int off = 0;
    if (isfinite(x)) {
        s.lo = fmin(s.lo, fmax(x, p[0] - span * 0.5) - span * 0.04);
        s.hi = fmax(s.hi, fmin(x, p[100] + span * 0.5) + span * 0.04);
        off = x < s.lo || x > s.hi;
    }
    putf(o,
         "<svg class=\"density\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\""
         " font-family=\"sans-serif\" font-size=\"12\" fill=\"%s\">\n",
         DS_WIDTH, DS_HEIGHT, DS_WIDTH, DS_HEIGHT, COLOR_INK);
    put(o, "<title>Scores of the reference population</title>\n");
    ds_area(o, &s, p, d, ymax, p[100], "#cfd8dc");
    if (isfinite(x) && x > p[0]) /* the share of the reference below the patient */
        ds_area(o, &s, p, d, ymax, x, "#90a4ae");
    double med = sx(&s, p[50]);
    put(o, "<line stroke=\"#546e7a\" stroke-dasharray=\"4,3\"");
    put_xy(o, "x1", med);
    put_xy(o, "x2", med);
    put_xy(o, "y1", DS_TOP + 10);
    put_xy(o, "y2", DS_BASE);
    put(o, "/><text fill=\"#546e7a\" text-anchor=\"middle\"");
    put_xy(o, "x", med);
    put_xy(o, "y", DS_TOP + 4);
    put(o, ">median</text>\n");
    if (isfinite(x))
        ds_marker(o, v, &s, off ? (x < s.lo ? s.lo : s.hi) : x, off);
    draw_axis(o, &s, DS_BASE, "polygenic score (the model's units)");
    put(o, "</svg>\n");
}

/* ---- page sections ---- */

static const char STYLE[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#212121;"
    "margin:0 auto;max-width:960px;padding:0 16px 32px;line-height:1.45}\n"
    ".banner{background:#b71c1c;color:#fff;font-weight:700;font-size:1.5em;text-align:center;"
    "padding:12px;margin:0 -16px 12px;letter-spacing:.03em}\n"
    "h1{font-size:1.6em;margin:.4em 0 .1em}h2{font-size:1.2em;border-bottom:2px solid #cfd8dc;"
    "padding-bottom:3px;margin-top:1.6em}\n"
    ".sub{color:#455a64;margin:0}.absent{color:#757575;font-style:italic}\n"
    ".cards{display:flex;gap:12px;flex-wrap:wrap;margin-top:14px}\n"
    ".card{flex:1 1 180px;border:1px solid #cfd8dc;border-radius:6px;padding:8px 12px}\n"
    ".card .k{font-size:.85em;color:#546e7a}.card .v{font-size:1.5em;font-weight:700}\n"
    "table{border-collapse:collapse;font-size:.92em}td,th{border-bottom:1px solid #eceff1;"
    "padding:3px 12px 3px 0;text-align:left;vertical-align:top}th{color:#455a64;font-weight:600}\n"
    "td{overflow-wrap:anywhere}.mono{font-family:ui-monospace,Menlo,Consolas,monospace}\n"
    ".bars{list-style:none;padding:0;max-width:520px}.bars li{display:flex;align-items:center;"
    "gap:8px;margin:2px 0}.bars .name{width:90px}.bars .track{flex:1;background:#eceff1;"
    "height:14px}.bars .fill{background:#546e7a;height:14px}.bars "
    ".pc{width:60px;text-align:right}\n"
    ".note{background:#fff8e1;border-left:4px solid #ffb300;padding:6px 10px}\n"
    ".current{font-weight:700}svg{max-width:100%;height:auto}\n"
    ".warn li{color:#8d3b00}.caveats li{margin:4px 0}footer{color:#757575;font-size:.85em;"
    "margin-top:2em}\n";

static void html_head(out_t *o, const view_t *v)
{
    put(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
           "<title>genorisk report");
    if (v->sample) {
        put(o, ": ");
        put_text(o, v->sample, 128);
    }
    put(o, "</title>\n<style>\n");
    put(o, STYLE);
    put(o, "</style>\n</head>\n<body>\n");
}

static void banner(out_t *o, const view_t *v)
{
    if (v->synthetic)
        put(o, "<div class=\"banner\" role=\"alert\">SYNTHETIC DATA - NOT FOR CLINICAL "
               "USE</div>\n");
}

static void header(out_t *o, const view_t *v)
{
    put(o, "<h1>Polygenic risk report</h1>\n<p class=\"sub\">Sample <b class=\"mono\">");
    if (v->sample)
        put_text(o, v->sample, 256);
    else
        put(o, "(no sample label)");
    put(o, "</b> &middot; model <b>");
    const char *name = str(v->model, "name"), *ver = str(v->model, "version");
    put_text(o, name ? name : "(not named)", 256);
    if (ver) {
        put(o, "</b> version <b>");
        put_text(o, ver, 64);
    }
    put(o, "</b>");
    const char *gen = str(v->doc, "generated");
    if (gen) {
        put(o, " &middot; generated ");
        put_text(o, gen, 64);
    }
    put(o, "</p>\n");
    const char *desc = str(v->model, "description");
    if (desc) {
        put(o, "<p class=\"sub\">");
        put_text(o, desc, MAX_TEXT);
        put(o, "</p>\n");
    }
}

static void card_begin(out_t *o, const char *key)
{
    putf(o, "<div class=\"card\"><div class=\"k\">%s</div><div class=\"v\">", key);
}

static void summary_cards(out_t *o, const view_t *v)
{
    put(o, "<div class=\"cards\">\n");
    card_begin(o, "Score");
    put_num(o, num(v->result, "score"));
    put(o, "</div></div>\n");
    double pct = num(v->pop, "percentile");
    card_begin(o, "Percentile");
    if (isfinite(pct)) {
        put_percentile(o, pct);
        put(o, "</div><div class=\"k\">");
        put_population_like(o, v);
    } else {
        put(o, "n/a");
    }
    put(o, "</div></div>\n");
    const char *cat = str(v->risk, "category");
    card_begin(o, "Risk category");
    if (cat)
        put_text(o, cat, 64);
    else
        put(o, "n/a");
    put(o, "</div></div>\n");
    double r = num(v->absolute, "risk");
    card_begin(o, "Estimated absolute risk");
    if (isfinite(r)) {
        put_num(o, r * 100);
        put(o, "%");
    } else {
        put(o, "n/a");
    }
    put(o, "</div></div>\n</div>\n");
}

static void score_section(out_t *o, const view_t *v)
{
    put(o, "<h2>Score</h2>\n");
    if (!v->result) {
        absent(o, "A result");
        return;
    }
    put(o, "<table>\n<tr><th>score</th><td>");
    put_num(o, num(v->result, "score"));
    put(o, "</td></tr>\n");
    double margin = num(v->result, "margin");
    if (isfinite(margin)) {
        put(o, "<tr><th>margin</th><td>");
        put_num(o, margin);
        put(o, "</td></tr>\n");
    }
    const json_t *cov = obj(v->result, "coverage"), *pgs = obj(v->result, "pgs");
    if (cov) {
        put(o, "<tr><th>variants</th><td>");
        put_num(o, num(cov, "observed"));
        put(o, " of ");
        put_num(o, num(cov, "expected"));
        put(o, " observed, ");
        put_num(o, num(cov, "imputed"));
        put(o, " imputed, ");
        put_num(o, num(cov, "missing"));
        put(o, " missing</td></tr>\n");
    }
    if (pgs) {
        put(o, "<tr><th>PGS (plink2)</th><td>SUM ");
        put_num(o, num(pgs, "sum"));
        put(o, ", AVG ");
        put_num(o, num(pgs, "avg"));
        put(o, ", ALLELE_CT ");
        put_num(o, num(pgs, "allele_ct"));
        put(o, "</td></tr>\n");
    }
    put(o, "</table>\n");
}

static void distribution_section(out_t *o, const view_t *v)
{
    put(o, "<h2>Where this score falls in the reference population</h2>\n");
    double p[N_PERCENTILES];
    const char *why = "the reference distribution";
    double pct = num(v->pop, "percentile");
    if (isfinite(pct)) {
        put(o, "<p>This score is at the <b>");
        put_percentile(o, pct);
        put(o, " percentile</b> (");
        put_num(o, pct);
        put(o, ") of the ");
        put_population_like(o, v);
        put(o, ": higher than about ");
        put_num(o, pct);
        put(o, "% of that population's scores.</p>\n");
    } else {
        absent(o, "The percentile");
    }
    if (!v->dist) {
        absent(o, "The reference distribution");
        return;
    }
    if (!read_percentiles(json_object_get(v->dist, "percentiles"), p, &why)) {
        putf(o, "<p class=\"absent\">Not drawn: %s.</p>\n", why);
        return;
    }
    draw_density(o, v, p);
}

static void risk_categories(out_t *o, const view_t *v, const json_t *cats)
{
    const char *current = str(v->risk, "category");
    put(o, "<table>\n<tr><th>category</th><th>percentiles</th></tr>\n");
    for (size_t i = 0; i < json_array_size(cats) && i < MAX_CATEGORIES; i++) {
        const json_t *c = json_array_get(cats, i);
        const char *name = str(c, "name");
        int is = name && current && !strcmp(name, current);
        putf(o, "<tr%s><td>", is ? " class=\"current\"" : "");
        put_text(o, name ? name : "(unnamed)", 64);
        put(o, "</td><td>");
        put_num(o, num(c, "from"));
        put(o, " to ");
        put_num(o, num(c, "to"));
        putf(o, "%s</td></tr>\n", is ? " &larr; this patient" : "");
    }
    put(o, "</table>\n");
    if (json_array_size(cats) > MAX_CATEGORIES)
        putf(o, "<p>%zu more categories not shown.</p>\n", json_array_size(cats) - MAX_CATEGORIES);
}

static void absolute_risk(out_t *o, const view_t *v)
{
    const json_t *a = v->absolute;
    if (!a) {
        absent(o, "An absolute risk");
        return;
    }
    put(o, "<p>Estimated absolute risk: <b>");
    put_num(o, num(a, "risk") * 100);
    put(o, "%</b>, where the population's prevalence is ");
    put_num(o, num(a, "prevalence") * 100);
    put(o, "%.</p>\n<table>\n");
    static const char *const keys[] = { "method", "effect", "z_used" };
    for (int i = 0; i < 3; i++) {
        const json_t *e = json_object_get(a, keys[i]);
        if (!e)
            continue;
        putf(o, "<tr><th>%s</th><td>", keys[i]);
        if (json_is_object(e)) {
            const char *k;
            const json_t *x;
            int first = 1;
            json_object_foreach((json_t *)e, k, x)
            {
                put(o, first ? "" : ", ");
                put_text(o, k, 64);
                put(o, " ");
                put_value(o, x, 1);
                first = 0;
            }
        } else {
            put_value(o, e, 0);
        }
        put(o, "</td></tr>\n");
    }
    put(o, "</table>\n");
    const json_t *as = json_object_get(a, "assumptions");
    put(o, "<p>Assumptions:</p>\n<ul>\n");
    for (size_t i = 0; i < json_array_size(as) && i < MAX_LIST; i++) {
        put(o, "<li>");
        put_value(o, json_array_get(as, i), 1);
        put(o, "</li>\n");
    }
    if (!json_array_size(as))
        put(o, "<li class=\"absent\">none are stated in this report</li>\n");
    put(o, "</ul>\n");
    if (json_array_size(as) > MAX_LIST)
        putf(o, "<p>%zu more assumptions not shown.</p>\n", json_array_size(as) - MAX_LIST);
}

static void risk_section(out_t *o, const view_t *v)
{
    put(o, "<h2>Risk category and absolute risk</h2>\n");
    if (!v->risk) {
        absent(o, "A risk category");
        absent(o, "An absolute risk");
        return;
    }
    const char *cat = str(v->risk, "category");
    if (cat) {
        put(o, "<p>Risk category: <b>");
        put_text(o, cat, 64);
        put(o, "</b>.</p>\n");
    } else {
        absent(o, "A risk category");
    }
    const json_t *cats = json_object_get(v->risk, "categories");
    if (json_array_size(cats))
        risk_categories(o, v, cats);
    absolute_risk(o, v);
}

static void probability_bars(out_t *o, const json_t *probs)
{
    const char *k;
    const json_t *x;
    size_t i = 0;
    put(o, "<ul class=\"bars\">\n");
    json_object_foreach((json_t *)probs, k, x)
    {
        if (i++ >= MAX_LIST)
            break;
        double p = json_is_number(x) ? json_number_value(x) : NAN;
        double w = isfinite(p) ? fmax(0, fmin(1, p)) * 100 : 0;
        put(o, "<li><span class=\"name\">");
        put_text(o, k, 32);
        putf(o,
             "</span><span class=\"track\"><span class=\"fill\" "
             "style=\"display:block;width:%.1f%%\">"
             "</span></span><span class=\"pc\">",
             w);
        put_num(o, p * 100);
        put(o, "%</span></li>\n");
    }
    put(o, "</ul>\n");
    if (json_object_size(probs) > MAX_LIST)
        putf(o, "<p>%zu more populations not shown.</p>\n", json_object_size(probs) - MAX_LIST);
}

static void z_table(out_t *o, const json_t *pop)
{
    static const struct {
        const char *key, *what;
    } rows[] = {
        { "z", "Z against the most similar population (mean and SD of its scores)" },
        { "z_norm1", "Z_norm1: adjusted for genetic similarity (mean regressed on PC1-4)" },
        { "z_norm2", "Z_norm2: mean and variance regressed on PC1-4" },
    };
    put(o, "<table>\n");
    for (int i = 0; i < 3; i++) {
        if (!json_object_get(pop, rows[i].key))
            continue;
        putf(o, "<tr><th>%s</th><td>", rows[i].what);
        put_num(o, num(pop, rows[i].key));
        put(o, "</td></tr>\n");
    }
    const json_t *pcs = json_object_get(pop, "pcs");
    if (json_is_array(pcs)) {
        put(o, "<tr><th>principal components</th><td>");
        put_value(o, pcs, 0);
        put(o, "</td></tr>\n");
    }
    const char *ref = str(pop, "reference");
    if (ref) {
        put(o, "<tr><th>reference</th><td>");
        put_text(o, ref, 128);
        put(o, "</td></tr>\n");
    }
    put(o, "</table>\n");
}

static void similarity_section(out_t *o, const view_t *v)
{
    put(o, "<h2>Genetic similarity</h2>\n");
    const json_t *pop = v->pop;
    if (!pop) {
        absent(o, "A genetic-similarity analysis");
        return;
    }
    const char *ms = str(pop, "most_similar");
    if (ms) {
        put(o, "<p>Most similar reference population: <b>");
        put_text(o, ms, 64);
        put(o, "</b> (this sample is compared with the ");
        put_text(o, ms, 64);
        put(o, "-like reference). Genetic similarity is not ancestry, ethnicity or race.</p>\n");
    } else {
        absent(o, "The most similar population");
    }
    if (json_is_true(json_object_get(pop, "low_confidence")))
        put(o, "<p class=\"note\"><b>Low confidence:</b> no population's probability reached the "
               "classifier's threshold, so the choice of reference population, and the percentile "
               "against it, are uncertain.</p>\n");
    const json_t *probs = obj(pop, "probabilities");
    if (probs && json_object_size(probs))
        probability_bars(o, probs);
    else
        absent(o, "The population probabilities");
    z_table(o, pop);
}

static void attribution_section(out_t *o, const view_t *v)
{
    put(o, "<h2>What contributed to this score</h2>\n");
    if (!v->expl) {
        absent(o, "An explanation");
        return;
    }
    const char *method = str(v->expl, "method");
    put(o, "<p>Each bar is one feature's contribution");
    if (method) {
        put(o, " (");
        put_text(o, method, 64);
        put(o, ")");
    }
    put(o, ", added from the model's base value, in the order of the report, to this sample's "
           "value. These explain the model's output, not biological cause.</p>\n");
    const char *space = str(v->expl, "space");
    if (space && !strcmp(space, "margin")) {
        put(o, "<p>The bars are in the model's margin (log-odds); this sample's score, ");
        put_num(o, num(v->result, "score"));
        put(o, ", is the probability its margin of ");
        put_num(o, num(v->result, "margin"));
        put(o, " gives.</p>\n");
    }
    draw_waterfall(o, v, 0);
}

/* Rows "a.b.c | value" of a nested object, depth and row count bounded. */
static void flat_rows(out_t *o, const json_t *v, const char *path, int depth, size_t *rows)
{
    const char *k;
    const json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        char sub[256];
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", k);
        if (json_is_object(x) && depth + 1 < MAX_DEPTH && json_object_size(x)) {
            flat_rows(o, x, sub, depth + 1, rows);
            continue;
        }
        if ((*rows)++ == MAX_ROWS)
            put(o, "<tr><td colspan=\"2\">further rows not shown</td></tr>\n");
        if (*rows > MAX_ROWS)
            return;
        put(o, "<tr><th>");
        put_text(o, sub, 160);
        put(o, "</th><td>");
        put_value(o, x, 0);
        put(o, "</td></tr>\n");
    }
}

static void flat_table(out_t *o, const json_t *v)
{
    size_t rows = 0;
    put(o, "<table>\n");
    flat_rows(o, v, "", 0, &rows);
    put(o, "</table>\n");
}

static void match_section(out_t *o, const view_t *v)
{
    put(o, "<h2>Variant matching</h2>\n");
    if (!v->match) {
        absent(o, "A variant-matching summary");
        return;
    }
    double rate = num(v->match, "match_rate"), min = num(v->match, "min_overlap");
    const json_t *passes = json_object_get(v->match, "passes");
    put(o, "<p>");
    put_num(o, num(v->match, "matched"));
    put(o, " of the score's ");
    put_num(o, num(v->match, "variants"));
    put(o, " variants matched (");
    put_num(o, rate * 100);
    put(o, "%); the minimum overlap is ");
    put_num(o, min * 100);
    putf(o, "%%%s</p>\n",
         json_is_boolean(passes) ? (json_is_true(passes) ? ": passes." : ": <b>fails</b>.") : ".");
    if (isfinite(rate) && rate < 0.95)
        put(o, "<p class=\"note\">Fewer than 95% of the score's variants matched: the score is "
               "less reliable.</p>\n");
    flat_table(o, v->match);
}

static void provenance_section(out_t *o, const view_t *v)
{
    put(o, "<h2>Model and provenance</h2>\n");
    if (v->model)
        flat_table(o, v->model);
    if (v->prov)
        flat_table(o, v->prov);
    else
        absent(o, "Provenance");
}

static void warnings_section(out_t *o, const view_t *v)
{
    const json_t *w = json_object_get(v->doc, "warnings");
    put(o, "<h2>Warnings</h2>\n");
    if (!json_array_size(w)) {
        put(o, "<p>None.</p>\n");
        return;
    }
    put(o, "<ul class=\"warn\">\n");
    for (size_t i = 0; i < json_array_size(w) && i < MAX_LIST; i++) {
        put(o, "<li>");
        put_value(o, json_array_get(w, i), 1);
        put(o, "</li>\n");
    }
    put(o, "</ul>\n");
    if (json_array_size(w) > MAX_LIST)
        putf(o, "<p>%zu more warnings not shown.</p>\n", json_array_size(w) - MAX_LIST);
}

static void caveats_section(out_t *o, const view_t *v)
{
    put(o, "<h2>How to read this report</h2>\n<ul class=\"caveats\">\n"
           "<li>A polygenic score is a <b>relative</b> measure of inherited predisposition, "
           "compared with a reference population. It is <b>not a diagnosis</b>: most people with "
           "a high score never develop the disease, and many with a low score do.</li>\n"
           "<li>The percentile compares this score with the ");
    put_population_like(o, v);
    put(o, ", the reference population most genetically similar to this sample (NASEM 2023 "
           "wording). Scores predict less well in people less similar to the populations a score "
           "was developed in.</li>\n"
           "<li>An absolute risk holds only under the assumptions listed with it; age, sex, "
           "family history, lipids, blood pressure and smoking are not part of this score.</li>\n"
           "<li>Attributions explain this model's arithmetic for this sample, not biological "
           "cause.</li>\n"
           "<li>A match rate below 95%, or a lowered minimum overlap, makes the score less "
           "reliable.</li>\n</ul>\n");
}

static void footer(out_t *o, const view_t *v)
{
    const char *ver = str(obj(v->doc, "provenance"), "genorisk_version");
    put(o, "<footer>Made by genorisk");
    if (ver) {
        put(o, " ");
        put_text(o, ver, 32);
    }
    put(o, ". This page is self-contained: it loads nothing from elsewhere.</footer>\n"
           "</body>\n</html>\n");
}

/* ---- entry points ---- */

static gr_status finish(out_t *o, gr_error *err)
{
    flush(o);
    return o->failed ? gr_error_set(err, GR_EIO, NULL, 0, NULL, "the report could not be written")
                     : GR_OK;
}

gr_status gr_api_report_html(const json_t *report, gr_api_write_fn write, void *arg, gr_error *err)
{
    if (!json_is_object(report) || !write)
        return gr_error_set(err, GR_EINVAL, NULL, 0, NULL, "a report document must be an object");
    out_t o = { .write = write, .arg = arg };
    view_t v;
    view_init(&v, report);
    html_head(&o, &v);
    banner(&o, &v);
    header(&o, &v);
    summary_cards(&o, &v);
    score_section(&o, &v);
    distribution_section(&o, &v);
    risk_section(&o, &v);
    similarity_section(&o, &v);
    attribution_section(&o, &v);
    match_section(&o, &v);
    provenance_section(&o, &v);
    warnings_section(&o, &v);
    caveats_section(&o, &v);
    footer(&o, &v);
    return finish(&o, err);
}

gr_status gr_api_report_svg(const json_t *report, gr_api_write_fn write, void *arg, gr_error *err)
{
    if (!json_is_object(report) || !write)
        return gr_error_set(err, GR_EINVAL, NULL, 0, NULL, "a report document must be an object");
    out_t o = { .write = write, .arg = arg };
    view_t v;
    view_init(&v, report);
    draw_waterfall(&o, &v, 1);
    return finish(&o, err);
}
