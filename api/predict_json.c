/* predict_json.c - see predict_json.h. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_sample.h"
#include "api/json_scan.h"
#include "api/predict_json.h"
#include "core/reference.h"
#include "core/match.h"

char *gr_api_json_error(const json_error_t *je, char *buf, size_t size)
{
    char reason[JSON_ERROR_TEXT_LENGTH];
    snprintf(reason, sizeof reason, "%s", je->text);
    char *near = strstr(reason, " near ");
    if (near)
        *near = '\0';
    if (je->line > 0)
        snprintf(buf, size, "line %d, column %d: %s", je->line, je->column, reason);
    else
        snprintf(buf, size, "%s", reason);
    return buf;
}

/* Jansson 2.14 goes on when its string buffer cannot grow: its lexer drops
 * a byte of the token and parses on, its dumper drops bytes of an object key
 * and dumps on; some other failed allocations come back as syntax errors.
 * A failed allocation leaves errno at ENOMEM, so these two trust no text
 * made while one failed. */
/* json_loadb, failing when an allocation failed on the way. */
static json_t *loadb_exact(const char *buf, size_t len, size_t flags, json_error_t *je)
{
    errno = 0;
    json_t *doc = json_loadb(buf, len, flags, je);
    if (errno == ENOMEM) {
        json_decref(doc);
        if (je) {
            snprintf(je->text, JSON_ERROR_TEXT_LENGTH - 1, "out of memory");
            je->text[JSON_ERROR_TEXT_LENGTH - 1] = (char)json_error_out_of_memory;
            je->line = je->column = -1;
        }
        return NULL;
    }
    return doc;
}

json_t *gr_api_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *je)
{
    size_t bom = gr_utf8_bom(buf, len); /* editors on Windows start text with one */
    return loadb_exact(buf + bom, len - bom, flags, je);
}

char *gr_api_json_dumps(const json_t *doc, size_t flags)
{
    errno = 0;
    char *s = doc ? json_dumps(doc, flags) : NULL;
    if (s && errno == ENOMEM) {
        free(s);
        return NULL;
    }
    return s;
}

void gr_api_request_clear(gr_api_request *r)
{
    if (!r)
        return;
    json_decref(r->ids);
    json_decref(r->warnings);
    free(r->cells);
    free(r->code);
    free(r->first_cell);
    free(r->wide);
    free(r->first_wide);
    free(r->match);
    free(r->keyed);
    memset(r, 0, sizeof *r);
}

static gr_status parse_sample_values(const gr_model *m, json_t *sample, size_t si, int names_only,
                                     double *x, uint32_t *seen, const char **seen_key,
                                     json_t **warning, gr_match_counts *mc, gr_error *err)
{
    char field[GR_API_MAX_ID_LEN + 64];
    size_t nf = gr_model_get_info(m)->n_features;
    json_t *geno = json_object_get(sample, "genotypes");
    json_t *dense = json_object_get(sample, "dosages");
    if (geno && dense) {
        snprintf(field, sizeof field, "samples[%zu]", si);
        return gr_error_set(err, GR_EINPUT, NULL, 0, field,
                            "give either \"genotypes\" or \"dosages\", not both");
    }
    if (!geno && !dense) {
        snprintf(field, sizeof field, "samples[%zu]", si);
        return gr_error_set(err, GR_EINPUT, NULL, 0, field,
                            "a sample needs \"genotypes\" (an object) or \"dosages\" (an array)");
    }
    for (size_t j = 0; j < nf; j++)
        x[j] = NAN;
    if (dense && names_only)
        return GR_OK;
    if (dense) {
        snprintf(field, sizeof field, "samples[%zu].dosages", si);
        if (!json_is_array(dense))
            return gr_error_set(err, GR_EINPUT, NULL, 0, field, "must be an array");
        if (json_array_size(dense) != nf)
            return gr_error_set(err, GR_EINPUT, NULL, 0, field,
                                "has %zu values, but the model has %zu features",
                                json_array_size(dense), nf);
        for (size_t j = 0; j < nf; j++) {
            json_t *v = json_array_get(dense, j);
            if (json_is_null(v))
                continue;
            double d = json_number_value(v);
            if (!json_is_number(v) || !(d >= 0 && d <= 2)) {
                snprintf(field, sizeof field, "samples[%zu].dosages[%zu]", si, j);
                return gr_error_set(err, GR_EINPUT, NULL, 0, field,
                                    "must be a dosage from 0 to 2, or null");
            }
            x[j] = d;
        }
        return GR_OK;
    }
    if (!json_is_object(geno)) {
        snprintf(field, sizeof field, "samples[%zu].genotypes", si);
        return gr_error_set(err, GR_EINPUT, NULL, 0, field,
                            "must be an object of genotype key to value");
    }
    const char *key;
    json_t *v;
    size_t unknown = 0;
    char names[200] = "";
    const uint32_t mark = (uint32_t)si + 1;
    json_object_foreach(geno, key, v)
    {
        snprintf(field, sizeof field, "samples[%zu].genotypes.%.200s", si, key);
        gr_key gk;
        gr_model_match_key(m, key, &gk);
        long idx = gk.feature;
        if (idx == -2)
            return gr_error_set(err, GR_EINPUT, NULL, 0, field,
                                "this key names several model features; use the feature_id "
                                "or chrom:pos:ref:alt");
        if (idx < 0) {
            if (unknown < 5) {
                size_t n = strlen(names);
                snprintf(names + n, sizeof names - n, "%s%.40s", unknown ? ", " : "", key);
            }
            unknown++;
            continue;
        }
        if (seen[idx] == mark)
            return gr_error_set(err, GR_EINPUT, NULL, 0, field,
                                "names feature '%.60s', already given as '%.60s'",
                                gr_model_feature(m, (size_t)idx)->id, seen_key[idx]);
        seen[idx] = mark;
        seen_key[idx] = key;
        double d;
        char why[400];
        uint8_t flags = gk.spelled ? gk.flags : 0, letters = 0;
        if (json_is_null(v))
            d = NAN;
        else if (json_is_number(v)) {
            d = json_number_value(v);
            if (!(d >= 0 && d <= 2))
                return gr_error_set(err, GR_EINPUT, NULL, 0, field, "a dosage must be from 0 to 2");
            d = gr_key_dosage(&gk, d); /* a spelled key's ALT may be the other allele */
        } else if (!json_is_string(v)) {
            return gr_error_set(err, GR_EINPUT, NULL, 0, field,
                                "expected a dosage from 0 to 2, a call such as \"0/1\", allele "
                                "letters such as \"A/G\", or null");
        } else if (!gr_genotype_string(m, &gk, json_string_value(v), &d, &letters, why,
                                       sizeof why)) {
            return gr_error_set(err, GR_EINPUT, NULL, 0, field, "%s", why);
        }
        x[idx] = d;
        /* how the key (or its letters) matched, counted as a VCF's records */
        flags |= letters;
        mc->matched++;
        mc->flipped += !!(flags & GR_MATCH_FLIPPED);
        mc->swapped += !!(flags & GR_MATCH_SWAPPED);
        mc->ambiguous += gr_feature_ambiguous(gr_model_feature(m, (size_t)idx));
    }
    if (unknown) {
        char w[400];
        snprintf(w, sizeof w, "samples[%zu]: %zu genotype key%s not in the model, ignored: %s%s",
                 si, unknown, unknown == 1 ? " is" : "s are", names, unknown > 5 ? ", ..." : "");
        gr_utf8_scrub(w); /* each key was cut to 40 bytes, maybe inside a character */
        if (!(*warning = json_string(w)))
            return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    }
    return GR_OK;
}

void gr_api_request_dosages(const gr_api_request *r, size_t i, double *x)
{
    if (r->x) {
        memcpy(x, r->x + i * r->n_features, r->n_features * sizeof *x);
        return;
    }
    for (size_t j = 0; j < r->n_features; j++)
        x[j] = NAN;
    static const double coded[GR_API_N_CODES] = { NAN, 0, 1, 2, 0.5, 1.5 };
    const double *wide = r->wide + r->first_wide[i];
    for (size_t c = r->first_cell[i]; c < r->first_cell[i + 1]; c++)
        x[r->cells[c].feature] = r->code[c] == GR_API_WIDE ? *wide++ : coded[r->code[c]];
}

/* ---- the body, walked without building it (json_scan.h) ---- */

typedef struct {
    size_t start, end; /* the value's bytes */
    int given;
} span;

struct helper;

typedef struct {
    span samples, explain, top_k, group_by, unknown; /* unknown: the first other key */
    int samples_array;
    int not_object; /* the text is one value, not an object */
    size_t *elems;  /* start and end of each sample, for the first max + 1 */
    size_t n_elems, cap_elems, max_elems;
    int oom;
    int threads;            /* the samples array is walked by this many */
    struct helper *helpers; /* walking it ahead, from guessed sample starts (owned) */
    size_t n_helpers;
} body_spans;

/* A walk of the samples array from a guessed sample start, on a thread of
 * its own: the main walk adopts what it found on reaching that start as a
 * sample's (the guess was right), else cancels it. It stops before a sample
 * it cannot delimit, which the main walk then meets itself. */
typedef struct helper {
    gr_json_scan sc;
    body_spans spans; /* the samples it delimited */
    size_t start;     /* the guessed sample start */
    size_t stop;      /* the next helper's start, or SIZE_MAX */
    size_t end;       /* where it stopped: a sample's start, or past the ']' */
    int closed;       /* it reached the array's ']' */
    int cancel;       /* set (atomically) when the main walk passed start */
    int started;
    pthread_t tid;
} helper;

/* The key whose quoted text is s[start, end), decoded into buf (at most
 * size bytes, cut short otherwise); 0 when its escapes are not JSON. */
static int key_text(const char *s, size_t start, size_t end, char *buf, size_t size)
{
    for (size_t i = start + 1; i + 1 < end; i++)
        if ((unsigned char)s[i] < 0x20) /* JSON has no raw control bytes (found by fuzzing) */
            return 0;
    if (!memchr(s + start, '\\', end - start)) {
        size_t n = end - start - 2 < size - 1 ? end - start - 2 : size - 1;
        memcpy(buf, s + start + 1, n);
        buf[n] = '\0';
        return 1;
    }
    json_error_t je;
    json_t *k = json_loadb(s + start, end - start, JSON_DECODE_ANY, &je);
    if (!k)
        return 0;
    snprintf(buf, size, "%s", json_string_value(k));
    json_decref(k);
    return 1;
}

static int add_elem(body_spans *b, size_t start, size_t end)
{
    if (b->n_elems >= b->max_elems) {
        b->n_elems++; /* counted, not kept: the request is refused */
        return 1;
    }
    if (2 * b->n_elems + 2 > b->cap_elems) {
        size_t cap = b->cap_elems ? 2 * b->cap_elems : 64;
        size_t *e = realloc(b->elems, cap * sizeof *e);
        if (!e) {
            b->oom = 1;
            return 0;
        }
        b->elems = e;
        b->cap_elems = cap;
    }
    b->elems[2 * b->n_elems] = start;
    b->elems[2 * b->n_elems + 1] = end;
    b->n_elems++;
    return 1;
}

static void *walk_ahead(void *arg)
{
    helper *h = arg;
    gr_json_scan *sc = &h->sc;
    size_t start, end;
    sc->at = h->end = h->start;
    sc->depth = 2;
    for (;;) {
        gr_json_peek(sc);
        h->end = sc->at;
        if (sc->at == h->stop || __atomic_load_n(&h->cancel, __ATOMIC_RELAXED) ||
            !gr_json_skip_value(sc, &start, &end))
            return NULL;
        int c = gr_json_peek(sc);
        if ((c != ',' && c != ']') || !add_elem(&h->spans, start, end))
            return NULL;
        sc->at++;
        if (c == ']') {
            h->end = sc->at;
            h->closed = 1;
            return NULL;
        }
    }
}

/* A likely sample start at or after byte from: the '{' of "} , {". */
static size_t guess_start(const char *s, size_t from, size_t n)
{
    for (size_t i = from; i < n; i++) {
        if (s[i] != '}')
            continue;
        size_t j = i + 1;
        while (j < n && (s[j] == ' ' || s[j] == '\n' || s[j] == '\r' || s[j] == '\t'))
            j++;
        if (j >= n || s[j] != ',')
            continue;
        j++;
        while (j < n && (s[j] == ' ' || s[j] == '\n' || s[j] == '\r' || s[j] == '\t'))
            j++;
        if (j < n && s[j] == '{')
            return j;
    }
    return SIZE_MAX;
}

/* Starts b->threads - 1 helpers at guessed sample starts past sc->at. */
static void start_helpers(const gr_json_scan *sc, body_spans *b)
{
    size_t nh = b->threads > 1 ? (size_t)b->threads - 1 : 0, from = sc->at, last = sc->at;
    b->helpers = nh ? calloc(nh, sizeof *b->helpers) : NULL;
    for (size_t t = 0; b->helpers && t < nh; t++) {
        size_t g = guess_start(sc->s, from + (sc->n - from) / (nh + 1) * (t + 1), sc->n);
        if (g == SIZE_MAX || g <= last)
            continue;
        helper *h = &b->helpers[b->n_helpers];
        *h = (helper){
            .sc = *sc, .spans = { .max_elems = b->max_elems }, .start = g, .stop = SIZE_MAX
        };
        if (b->n_helpers)
            h[-1].stop = g;
        b->n_helpers++;
        last = g;
    }
    for (size_t t = 0; t < b->n_helpers; t++)
        b->helpers[t].started =
            !pthread_create(&b->helpers[t].tid, NULL, walk_ahead, &b->helpers[t]);
}

/* Waits for helper h (cancelled first when cancel). */
static void join_helper(helper *h, int cancel)
{
    if (cancel)
        __atomic_store_n(&h->cancel, 1, __ATOMIC_RELAXED);
    if (h->started)
        pthread_join(h->tid, NULL);
    h->started = 0;
}

static void stop_helpers(body_spans *b)
{
    for (size_t t = 0; t < b->n_helpers; t++) {
        join_helper(&b->helpers[t], 1);
        free(b->helpers[t].spans.elems);
    }
    free(b->helpers);
    b->helpers = NULL;
    b->n_helpers = 0;
}

/* The samples helper h delimited, as the main walk's; 0 when out of memory. */
static int adopt(body_spans *b, helper *h)
{
    size_t kept = h->spans.n_elems < h->spans.max_elems ? h->spans.n_elems : h->spans.max_elems;
    for (size_t k = 0; k < kept; k++)
        if (!add_elem(b, h->spans.elems[2 * k], h->spans.elems[2 * k + 1]))
            return 0;
    b->n_elems += h->spans.n_elems - kept; /* counted, not kept: over the limit */
    return 1;
}

static int walk_samples(gr_json_scan *sc, body_spans *b)
{
    size_t start, end, next = 0;
    sc->at++; /* '[' */
    sc->depth = 2;
    if (gr_json_peek(sc) == ']')
        return ++sc->at, 1;
    start_helpers(sc, b);
    for (;;) {
        gr_json_peek(sc);
        while (next < b->n_helpers &&
               (b->helpers[next].start < sc->at || !b->helpers[next].started))
            join_helper(&b->helpers[next++], 1);
        if (next < b->n_helpers && b->helpers[next].start == sc->at) {
            helper *h = &b->helpers[next++];
            join_helper(h, 0);
            if (!adopt(b, h))
                return 0;
            sc->at = h->end;
            if (h->closed)
                return 1;
            continue;
        }
        if (!gr_json_skip_value(sc, &start, &end) || !add_elem(b, start, end))
            return 0;
        int c = gr_json_peek(sc);
        sc->at += c == ',' || c == ']';
        if (c == ']')
            return 1;
        if (c != ',')
            return gr_json_expect(sc, ',', "',' or ']' expected");
    }
}

/* One member of the outer object: its key and value. */
static int walk_member(gr_json_scan *sc, body_spans *b)
{
    size_t ks, ke, vs, ve;
    char key[64];
    if (gr_json_peek(sc) != '"')
        return gr_json_expect(sc, '"', "a key in quotes expected");
    if (!gr_json_skip_value(sc, &ks, &ke) || !gr_json_expect(sc, ':', "':' expected"))
        return 0;
    if (!key_text(sc->s, ks, ke, key, sizeof key)) {
        sc->at = ks;
        return gr_json_fail_here(sc, "a key that is not a JSON string (an escape or a "
                                     "control byte)");
    }
    span *v = !strcmp(key, "samples")    ? &b->samples
              : !strcmp(key, "explain")  ? &b->explain
              : !strcmp(key, "top_k")    ? &b->top_k
              : !strcmp(key, "group_by") ? &b->group_by
                                         : &b->unknown;
    if (v->given && v != &b->unknown) {
        sc->at = ks;
        return gr_json_fail_here(sc, "duplicate object key");
    }
    sc->depth = 1;
    if (v == &b->samples && gr_json_peek(sc) == '[') {
        b->samples_array = 1;
        vs = sc->at;
        if (!walk_samples(sc, b))
            return 0;
        ve = sc->at;
    } else if (!gr_json_skip_value(sc, &vs, &ve)) {
        return 0;
    }
    if (!v->given)
        *v = v == &b->unknown ? (span){ ks, ke, 1 } : (span){ vs, ve, 1 };
    return 1;
}

/* The outer object, to its end and the end of the text. */
static int walk_body(gr_json_scan *sc, body_spans *b)
{
    size_t start, end;
    if (gr_json_peek(sc) != '{') { /* JSON, but not an object: the caller's to say */
        if (!gr_json_skip_value(sc, &start, &end))
            return 0;
        b->not_object = 1;
        return gr_json_peek(sc) < 0 || gr_json_fail_here(sc, "the text goes on after the value");
    }
    sc->at++;
    if (gr_json_peek(sc) == '}') {
        sc->at++;
    } else {
        for (;;) {
            if (!walk_member(sc, b))
                return 0;
            int c = gr_json_peek(sc);
            sc->at += c == ',' || c == '}';
            if (c == '}')
                break;
            if (c != ',')
                return gr_json_expect(sc, ',', "',' or '}' expected");
        }
    }
    return gr_json_peek(sc) < 0 || gr_json_fail_here(sc, "the text goes on after the object");
}

/* A value of the body, parsed on its own; NULL with *st set (GR_ESYNTAX
 * naming the place in the body, or GR_ENOMEM). */
static json_t *load_span(const char *text, span v, size_t flags, gr_status *st, gr_error *err)
{
    json_error_t je;
    /* exactly the span: a byte-order mark is only skipped before the body */
    json_t *j = loadb_exact(text + v.start, v.end - v.start, flags | JSON_DECODE_ANY, &je);
    if (j)
        return j;
    if (json_error_code(&je) == json_error_out_of_memory) {
        *st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        return NULL;
    }
    char reason[JSON_ERROR_TEXT_LENGTH], where[400];
    je.line = -1; /* the reason alone: the place is the body's */
    gr_api_json_error(&je, reason, sizeof reason);
    size_t at = je.position > 0 ? (size_t)je.position - 1 : 0;
    gr_json_scan_where(text, v.start + (at < v.end - v.start ? at : 0), reason, where,
                       sizeof where);
    *st = gr_error_set(err, GR_ESYNTAX, NULL, 0, NULL, "%s", where);
    return NULL;
}

/* explain, top_k and group_by, when given. */
static gr_status read_settings(const char *text, const body_spans *b, size_t nf,
                               gr_api_request *out, gr_error *err)
{
    gr_status st = GR_OK;
    json_t *ex = b->explain.given ? load_span(text, b->explain, 0, &st, err) : NULL;
    json_t *tk = !st && b->top_k.given ? load_span(text, b->top_k, 0, &st, err) : NULL;
    json_t *gb = !st && b->group_by.given ? load_span(text, b->group_by, 0, &st, err) : NULL;
    if (st)
        goto fail;
    if (gb) { /* the query parameter's words, in gr_api_group_by's order */
        static const char *const names[] = { "none", "locus", "gene" };
        out->group_by = -1;
        for (int g = 0; g < 3 && json_is_string(gb); g++)
            if (!strcmp(json_string_value(gb), names[g]))
                out->group_by = g;
        if (out->group_by < 0) {
            st = gr_error_set(err, GR_EINPUT, NULL, 0, "group_by",
                              "must be \"none\", \"locus\" (sum the attributions of each "
                              "locus) or \"gene\" (of each gene)");
            goto fail;
        }
    }
    if (ex && !json_is_boolean(ex)) {
        st = gr_error_set(err, GR_EINPUT, NULL, 0, "explain", "must be true or false");
        goto fail;
    }
    out->explain = ex ? json_is_true(ex) : out->explain;
    if (tk && (!json_is_integer(tk) || json_integer_value(tk) < 0)) {
        st = gr_error_set(err, GR_EINPUT, NULL, 0, "top_k",
                          "must be a whole number >= 0 (0 returns every feature)");
        goto fail;
    }
    if (tk)
        out->top_k =
            json_integer_value(tk) > (json_int_t)nf ? (long)nf : (long)json_integer_value(tk);
fail:
    json_decref(ex);
    json_decref(tk);
    json_decref(gb);
    return st;
}

/* One thread's run of samples, [from, to), read in order; what they gave
 * is kept here until the runs are joined in sample order. */
typedef struct {
    const gr_model *m;
    const char *text;
    const size_t *elems; /* each sample's span (borrowed) */
    size_t from, to;
    int names_only;
    gr_api_request *out;      /* match, keyed, and as counts first_cell, first_wide: disjoint */
    json_t **ids, **warnings; /* per sample, new (shared, disjoint) */
    gr_json_sample fast;
    double *x; /* the complete way's scratch */
    uint32_t *seen;
    const char **seen_key;
    gr_api_cell *cells; /* the run's, in sample order (owned) */
    uint8_t *code;      /* (owned) */
    size_t n_cells, cap_cells;
    double *wide; /* (owned) */
    size_t n_wide, cap_wide;
    size_t failed; /* the sample in error, when st */
    gr_status st;
    gr_error err;
} run;

/* The code of dosage d (predict_json.h). */
static uint8_t code_of(double d)
{
    if (isnan(d))
        return 0;
    if (signbit(d)) /* -0 */
        return GR_API_WIDE;
    return d == 0 ? 1 : d == 1 ? 2 : d == 2 ? 3 : d == 0.5 ? 4 : d == 1.5 ? 5 : GR_API_WIDE;
}

/* Keeps dosage d of feature j, compactly. */
static int keep_cell(run *r, uint32_t j, double d)
{
    uint8_t code = code_of(d);
    if (r->n_cells == r->cap_cells) {
        size_t c = r->cap_cells ? 2 * r->cap_cells : 1024;
        gr_api_cell *cells = realloc(r->cells, c * sizeof *cells);
        if (cells)
            r->cells = cells;
        uint8_t *codes = cells ? realloc(r->code, c) : NULL;
        if (!codes)
            return 0;
        r->code = codes;
        r->cap_cells = c;
    }
    if (code == GR_API_WIDE && r->n_wide == r->cap_wide) {
        size_t c = r->cap_wide ? 2 * r->cap_wide : 64;
        double *w = realloc(r->wide, c * sizeof *w);
        if (!w)
            return 0;
        r->wide = w;
        r->cap_wide = c;
    }
    if (code == GR_API_WIDE)
        r->wide[r->n_wide++] = d;
    r->code[r->n_cells] = code;
    r->cells[r->n_cells++] = (gr_api_cell){ j };
    return 1;
}

/* Keeps the dosages sample i gave (row x; NaN for a missing call under a
 * key it sent, seen[j] == i + 1). */
static int keep_row(run *r, size_t i)
{
    size_t nf = r->out->n_features;
    for (size_t j = 0; j < nf; j++) {
        if (isnan(r->x[j]) && r->seen[j] != (uint32_t)i + 1)
            continue;
        if (!keep_cell(r, (uint32_t)j, r->x[j]))
            return 0;
    }
    return 1;
}

/* Sample i, parsed from its own bytes: its id, dosages and match counts. */
static gr_status read_sample(const gr_model *m, const char *text, span v, size_t i, int names_only,
                             double *x, uint32_t *seen, const char **seen_key, json_t **id_out,
                             json_t **warning, gr_match_counts *mc, uint8_t *keyed, gr_error *err)
{
    gr_status st = GR_OK;
    char field[128];
    const char *key;
    json_t *val, *s = load_span(text, v, JSON_REJECT_DUPLICATES, &st, err);
    if (!s)
        return st;
    snprintf(field, sizeof field, "samples[%zu]", i);
    if (!json_is_object(s)) {
        st = gr_error_set(err, GR_EINPUT, NULL, 0, field, "must be an object");
        goto fail;
    }
    json_object_foreach(s, key, val)
    {
        if (strcmp(key, "id") && strcmp(key, "genotypes") && strcmp(key, "dosages")) {
            snprintf(field, sizeof field, "samples[%zu].%.40s", i, key);
            st = gr_error_set(err, GR_EINPUT, NULL, 0, field,
                              "unknown key; a sample has id, and genotypes or dosages");
            goto fail;
        }
    }
    json_t *id = json_object_get(s, "id");
    if (id && !json_is_null(id) &&
        (!json_is_string(id) || json_string_length(id) > GR_API_MAX_ID_LEN)) {
        snprintf(field, sizeof field, "samples[%zu].id", i);
        st = gr_error_set(err, GR_EINPUT, NULL, 0, field, "must be a string of at most %d bytes",
                          GR_API_MAX_ID_LEN);
        goto fail;
    }
    *id_out = json_incref(id ? id : json_null());
    if ((st = parse_sample_values(m, s, i, names_only, x, seen, seen_key, warning, mc, err)))
        goto fail;
    *keyed = json_object_get(s, "genotypes") != NULL;
fail:
    json_decref(s);
    return st;
}

/* Sample i read straight into its dosages (json_sample.h): 1, or 0 when
 * it is to be read the complete way. */
static gr_status read_fast(run *r, size_t i, gr_error *err)
{
    gr_json_sample *f = &r->fast;
    if (!gr_json_sample_read(f, r->text, r->elems[2 * i], r->elems[2 * i + 1]))
        return GR_EINPUT;
    for (size_t k = 0; k < f->n; k++)
        if (!keep_cell(r, f->feature[k], f->value[k]))
            return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    r->ids[i] =
        f->has_id ? json_stringn(r->text + f->id_start, f->id_end - f->id_start) : json_null();
    if (!r->ids[i])
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    r->out->match[i] = f->mc;
    r->out->keyed[i] = 1;
    return GR_OK;
}

/* Sample i, whichever way it reads. */
static gr_status read_one(run *r, size_t i, gr_error *err)
{
    size_t c0 = r->n_cells, w0 = r->n_wide;
    gr_status st = read_fast(r, i, err);
    if (st == GR_EINPUT) {
        r->n_cells = c0; /* nothing was kept, but to be sure */
        r->n_wide = w0;
        span v = { r->elems[2 * i], r->elems[2 * i + 1], 1 };
        st = read_sample(r->m, r->text, v, i, r->names_only, r->x, r->seen, r->seen_key, &r->ids[i],
                         &r->warnings[i], &r->out->match[i], &r->out->keyed[i], err);
        if (!st && !keep_row(r, i))
            st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    }
    r->out->first_cell[i + 1] = r->n_cells - c0;
    r->out->first_wide[i + 1] = r->n_wide - w0;
    return st;
}

static void *read_run(void *arg)
{
    run *r = arg;
    for (size_t i = r->from; i < r->to && !r->st; i++)
        if ((r->st = read_one(r, i, &r->err)))
            r->failed = i;
    return NULL;
}

static int run_init(run *r, const gr_model *m, size_t nf)
{
    if (!gr_json_sample_init(&r->fast, m))
        return 0;
    r->x = malloc((nf ? nf : 1) * sizeof *r->x);
    r->seen = calloc(nf ? nf : 1, sizeof *r->seen);
    r->seen_key = calloc(nf ? nf : 1, sizeof *r->seen_key);
    return r->x && r->seen && r->seen_key;
}

static void run_free(run *r)
{
    gr_json_sample_free(&r->fast);
    free(r->x);
    free(r->seen);
    free(r->seen_key);
    free(r->cells);
    free(r->code);
    free(r->wide);
}

/* The outer object's members, once the text is known to be well-formed. */
static gr_status check_members(const body_spans *b, size_t max, const char *unknown, gr_error *err)
{
    if (b->unknown.given)
        return gr_error_set(err, GR_EINPUT, NULL, 0, unknown,
                            "unknown key; a request has samples, explain, top_k and group_by");
    if (!b->samples.given || !b->samples_array)
        return gr_error_set(err, GR_EINPUT, NULL, 0, "samples",
                            b->samples.given ? "must be an array" : "required key is missing");
    if (b->n_elems == 0)
        return gr_error_set(err, GR_EINPUT, NULL, 0, "samples", "is empty");
    if (b->n_elems > max)
        return gr_error_set(err, GR_ELIMIT, NULL, 0, "samples",
                            "%zu samples; at most %zu per request", b->n_elems, max);
    return GR_OK;
}

static gr_status alloc_request(gr_api_request *out, size_t ns, size_t nf, json_t ***ids,
                               json_t ***warnings, gr_error *err)
{
    out->n_samples = ns;
    out->n_features = nf;
    out->ids = json_array();
    out->warnings = json_array();
    out->first_cell = calloc(ns + 1, sizeof *out->first_cell);
    out->first_wide = calloc(ns + 1, sizeof *out->first_wide);
    out->match = calloc(ns, sizeof *out->match);
    out->keyed = calloc(ns, 1);
    *ids = calloc(ns, sizeof **ids);
    *warnings = calloc(ns, sizeof **warnings);
    if (!out->ids || !out->warnings || !out->first_cell || !out->first_wide || !out->match ||
        !out->keyed || !*ids || !*warnings)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    return GR_OK;
}

/* Splits the samples into nt runs of about as many bytes each. */
static void split_runs(run *runs, size_t nt, const size_t *elems, size_t ns)
{
    size_t total = elems[2 * ns - 1] - elems[0], i = 0;
    for (size_t t = 0; t < nt; t++) {
        runs[t].from = i;
        size_t goal = t + 1 == nt ? total + 1 : total / nt * (t + 1);
        while (i < ns && elems[2 * i] - elems[0] < goal)
            i++;
        runs[t].to = i;
    }
}

/* Reads the runs, on threads past the first; the status of the earliest
 * sample in error, copied into err. */
static gr_status read_runs(run *runs, size_t nt, gr_error *err)
{
    pthread_t *tid = calloc(nt, sizeof *tid);
    uint8_t *started = calloc(nt, 1);
    for (size_t t = 1; tid && started && t < nt; t++)
        started[t] = !pthread_create(&tid[t], NULL, read_run, &runs[t]);
    for (size_t t = 0; t < nt; t++)
        if (!started || !started[t])
            read_run(&runs[t]);
    for (size_t t = 1; started && t < nt; t++)
        if (started[t])
            pthread_join(tid[t], NULL);
    free(tid);
    free(started);
    for (size_t t = 0; t < nt; t++) /* runs are in sample order */
        if (runs[t].st) {
            if (err)
                *err = runs[t].err;
            return runs[t].st;
        }
    return GR_OK;
}

/* The runs' cells and wide values joined into out, in sample order. */
static int join_runs(run *runs, size_t nt, gr_api_request *out)
{
    size_t nc = 0, nw = 0;
    for (size_t t = 0; t < nt; t++)
        nc += runs[t].n_cells, nw += runs[t].n_wide;
    out->cells = realloc(runs[0].cells, (nc ? nc : 1) * sizeof *out->cells);
    if (out->cells)
        runs[0].cells = NULL;
    out->code = realloc(runs[0].code, nc ? nc : 1);
    if (out->code)
        runs[0].code = NULL;
    out->wide = realloc(runs[0].wide, (nw ? nw : 1) * sizeof *out->wide);
    if (out->wide)
        runs[0].wide = NULL;
    if (!out->cells || !out->code || !out->wide)
        return 0;
    nc = runs[0].n_cells, nw = runs[0].n_wide;
    for (size_t t = 1; t < nt; t++) {
        if (runs[t].n_cells) {
            memcpy(out->cells + nc, runs[t].cells, runs[t].n_cells * sizeof *out->cells);
            memcpy(out->code + nc, runs[t].code, runs[t].n_cells);
        }
        if (runs[t].n_wide)
            memcpy(out->wide + nw, runs[t].wide, runs[t].n_wide * sizeof *out->wide);
        nc += runs[t].n_cells, nw += runs[t].n_wide;
        free(runs[t].cells);
        free(runs[t].code);
        free(runs[t].wide);
        runs[t].cells = NULL;
        runs[t].code = NULL;
        runs[t].wide = NULL;
    }
    for (size_t i = 0; i < out->n_samples; i++) { /* counts into offsets */
        out->first_cell[i + 1] += out->first_cell[i];
        out->first_wide[i + 1] += out->first_wide[i];
    }
    return 1;
}

/* Every sample, on up to `threads` threads, into out. */
static gr_status read_samples(const gr_model *m, const char *text, const body_spans *b,
                              int names_only, int threads, gr_api_request *out, gr_error *err)
{
    gr_status st = GR_OK;
    size_t ns = b->n_elems, nf = out->n_features;
    size_t nt = threads > 1 ? (size_t)threads : 1;
    nt = nt < ns ? nt : ns;
    json_t **ids = NULL, **warnings = NULL;
    run *runs = calloc(nt, sizeof *runs);
    if ((st = alloc_request(out, ns, nf, &ids, &warnings, err)))
        goto fail;
    for (size_t t = 0; runs && t < nt; t++) {
        runs[t] = (run){ .m = m,
                         .text = text,
                         .elems = b->elems,
                         .names_only = names_only,
                         .out = out,
                         .ids = ids,
                         .warnings = warnings };
        if (!run_init(&runs[t], m, nf)) {
            st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
            goto fail;
        }
    }
    if (!runs) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    split_runs(runs, nt, b->elems, ns);
    if ((st = read_runs(runs, nt, err)))
        goto fail;
    if (!join_runs(runs, nt, out)) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < ns; i++) {
        int bad = json_array_append_new(out->ids, ids[i]);
        ids[i] = NULL;
        if (!bad && warnings[i])
            bad = json_array_append_new(out->warnings, warnings[i]);
        warnings[i] = NULL;
        if (bad) {
            st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
            goto fail;
        }
    }
fail:
    for (size_t t = 0; runs && t < nt; t++)
        run_free(&runs[t]);
    for (size_t i = 0; i < ns && ids; i++)
        json_decref(ids[i]);
    for (size_t i = 0; i < ns && warnings; i++)
        json_decref(warnings[i]);
    free(runs);
    free(ids);
    free(warnings);
    return st;
}

struct gr_api_body {
    const char *text; /* past a byte-order mark (borrowed) */
    size_t len;
    int names_only;
    body_spans spans;
};

void gr_api_body_free(gr_api_body *b)
{
    if (!b)
        return;
    free(b->spans.elems);
    free(b);
}

gr_status gr_api_body_walk(const char *text, size_t len, const gr_api_limits *limits, int threads,
                           gr_api_body **out, gr_error *err)
{
    gr_status st = GR_OK;
    size_t max = limits && limits->max_samples ? limits->max_samples : GR_API_DEFAULT_MAX_SAMPLES;
    gr_json_scan sc;
    char unknown[GR_API_MAX_ID_LEN + 1];
    gr_api_body *b = calloc(1, sizeof *b);
    *out = NULL;
    if (!b)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    b->spans = (body_spans){ .max_elems = max + 1, .threads = threads };
    b->names_only = limits && limits->names_only;
    size_t bom = gr_utf8_bom(text, len); /* editors on Windows start text with one */
    b->text = text + bom;
    b->len = len - bom;
    gr_json_scan_init(&sc, b->text, b->len, limits ? limits->max_depth : 0,
                      limits ? limits->max_string : 0);
    int walked = walk_body(&sc, &b->spans);
    stop_helpers(&b->spans);
    if (!walked) {
        st = b->spans.oom ? gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory")
             : !b->len    ? gr_error_set(err, GR_ESYNTAX, NULL, 0, NULL, "the text is empty")
                          : gr_error_set(err, GR_ESYNTAX, NULL, 0, NULL, "%s", sc.why);
        goto fail;
    }
    if (b->spans.not_object) {
        st = gr_error_set(err, GR_EINPUT, NULL, 0, NULL, "the request body must be a JSON object");
        goto fail;
    }
    if (b->spans.unknown.given &&
        !key_text(b->text, b->spans.unknown.start, b->spans.unknown.end, unknown, sizeof unknown))
        unknown[0] = '\0';
    if ((st = check_members(&b->spans, max, unknown, err)))
        goto fail;
    *out = b;
    b = NULL;
fail:
    gr_api_body_free(b);
    return st;
}

/* out empty, with the defaults a body may change, for m; returns m's
 * feature count. */
static size_t request_init(gr_api_request *out, const gr_model *m)
{
    memset(out, 0, sizeof *out);
    out->explain = 1;
    out->top_k = GR_API_DEFAULT_TOP_K;
    out->n_features = gr_model_get_info(m)->n_features;
    return out->n_features;
}

gr_status gr_api_request_read_body(const gr_model *m, const gr_api_body *b, int threads,
                                   gr_api_request *out, gr_error *err)
{
    gr_status st;
    size_t nf = request_init(out, m);
    if ((st = read_settings(b->text, &b->spans, nf, out, err)))
        return st;
    return read_samples(m, b->text, &b->spans, b->names_only, threads, out, err);
}

gr_status gr_api_request_read(const gr_model *m, const char *text, size_t len,
                              const gr_api_limits *limits, gr_api_request *out, gr_error *err)
{
    return gr_api_request_read_threads(m, text, len, limits, 1, out, err);
}

gr_status gr_api_request_read_threads(const gr_model *m, const char *text, size_t len,
                                      const gr_api_limits *limits, int threads, gr_api_request *out,
                                      gr_error *err)
{
    gr_api_body *b = NULL;
    request_init(out, m); /* what a caller clears, should the walk fail */
    gr_status st = gr_api_body_walk(text, len, limits, threads, &b, err);
    if (!st)
        st = gr_api_request_read_body(m, b, threads, out, err);
    gr_api_body_free(b);
    return st;
}

static const char *space_name(gr_space s)
{
    return s == GR_SPACE_MARGIN ? "margin" : s == GR_SPACE_PROBABILITY ? "probability" : "identity";
}

json_t *gr_api_policy_json(const gr_policy *p)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", gr_policy_name_str(p->name), "ambiguous",
                     p->drop_ambiguous ? "drop" : "keep", "multiallelic",
                     p->drop_multiallelic ? "drop" : "keep", "chrx",
                     p->chrx == GR_CHRX_SKIP ? "skip" : "double", "unmatched",
                     p->drop_unmatched ? "left out" : "missing");
}

/* The reference population m's scores are read against, or JSON null. */
static json_t *reference_json(const gr_model *m)
{
    long k;
    const gr_reference *r = gr_model_reference(m, &k);
    if (!r)
        return json_null();
    const gr_reference_info *in = gr_reference_get_info(r);
    json_t *pops = json_array();
    for (size_t p = 0; pops && p < in->n_populations; p++)
        json_array_append_new(pops, json_string(in->populations[p]));
    return json_pack("{s:s, s:s, s:b, s:o, s:o, s:I, s:I}", "name", in->name, "sha256", in->sha256,
                     "synthetic", in->synthetic, "score",
                     k >= 0 ? json_string(gr_reference_score_id(r, (size_t)k)) : json_null(),
                     "populations", pops, "projection_variants", (json_int_t)in->n_variants,
                     "unrelated_samples", (json_int_t)in->n_unrelated);
}

json_t *gr_api_model_json(const gr_model *m, int full)
{
    const gr_model_info *in = gr_model_get_info(m);
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(in->name));
    json_object_set_new(o, "version", json_string(in->version));
    json_object_set_new(
        o, "task",
        json_string(in->task == GR_TASK_CLASSIFICATION ? "classification" : "regression"));
    json_object_set_new(o, "format", json_string(gr_format_name(in->format)));
    json_object_set_new(o, "genome_build", json_string(in->genome_build));
    json_object_set_new(o, "n_features", json_integer((json_int_t)in->n_features));
    if (!full)
        return o;
    json_object_set_new(o, "description", json_string(in->description));
    json_object_set_new(o, "algorithm", json_string(in->algorithm));
    json_object_set_new(
        o, "explanation",
        json_pack("{s:s, s:s}", "method", in->explain_method, "space", space_name(in->space)));
    json_object_set_new(o, "n_features_with_mean",
                        json_integer((json_int_t)in->n_features_with_mean));
    json_t *groupings = json_array(); /* the group_by values it answers, none aside */
    if (in->n_features_with_locus)
        json_array_append_new(groupings, json_string("locus"));
    if (in->n_features_with_gene)
        json_array_append_new(groupings, json_string("gene"));
    json_object_set_new(o, "group_by", groupings);
    if (in->n_trees) {
        json_object_set_new(o, "n_trees", json_integer((json_int_t)in->n_trees));
        json_object_set_new(o, "n_leaves", json_integer((json_int_t)in->n_leaves));
        json_object_set_new(o, "max_depth", json_integer(in->max_depth));
    }
    json_object_set_new(o, "base_margin", json_real(in->base_margin));
    json_object_set_new(o, "min_coverage", json_real(in->min_coverage));
    json_object_set_new(o, "impute", json_string(gr_impute_name(in->impute)));
    json_object_set_new(o, "policy", gr_api_policy_json(&in->policy));
    if (in->pgs_id[0])
        json_object_set_new(o, "pgs_id", json_string(in->pgs_id));
    if (in->format == GR_FORMAT_PGS_CATALOG) {
        json_object_set_new(o, "weight_type", json_string(in->weight_type));
        json_object_set_new(o, "weight_transform", json_string(in->weight_log ? "log" : "none"));
        json_t *skipped = json_object();
        for (int k = 0; k < GR_PGS_UNSCORED_KINDS; k++)
            json_object_set_new(skipped, gr_pgs_unscored_name((gr_pgs_unscored)k),
                                json_integer((json_int_t)in->pgs_unscored[k]));
        json_object_set_new(o, "rows_not_scored", skipped);
    }
    json_object_set_new(o, "sha256", json_string(in->sha256));
    json_object_set_new(o, "synthetic", json_boolean(in->synthetic));
    json_object_set_new(o, "reference", reference_json(m));
    json_t *files = json_object();
    json_object_set_new(files, "artifact", json_string(in->artifact));
    if (in->features_file[0])
        json_object_set_new(files, "features", json_string(in->features_file));
    json_object_set_new(o, "files", files);
    return o;
}
