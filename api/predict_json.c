/* predict_json.c - see predict_json.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/predict_json.h"
#include "core/match.h"

int gr_api_json_within(const char *s, size_t n, size_t max_depth, size_t max_string, char *why,
                       size_t why_size)
{
    size_t depth = 0, at = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            size_t start = ++i;
            while (i < n && s[i] != '"')
                i += s[i] == '\\' ? 2 : 1;
            if (i - start > max_string) {
                snprintf(why, why_size, "a string at byte %zu is longer than %zu bytes", start,
                         max_string);
                return 0;
            }
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) {
                at = i;
                snprintf(why, why_size, "arrays and objects nest deeper than %zu levels (byte %zu)",
                         max_depth, at);
                return 0;
            }
        } else if ((c == ']' || c == '}') && depth) {
            depth--;
        }
    }
    return 1;
}

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
json_t *gr_api_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *je)
{
    size_t bom = gr_utf8_bom(buf, len); /* editors on Windows start text with one */
    buf += bom;
    len -= bom;
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
    free(r->x);
    free(r->match);
    free(r->keyed);
    memset(r, 0, sizeof *r);
}

static gr_status parse_sample_values(const gr_model *m, json_t *sample, size_t si, double *x,
                                     uint32_t *seen, const char **seen_key, json_t *warnings,
                                     gr_match_counts *mc, gr_error *err)
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
        if (json_array_append_new(warnings, json_string(w)))
            return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    }
    return GR_OK;
}

gr_status gr_api_request_parse(const gr_model *m, json_t *body, const gr_api_limits *limits,
                               gr_api_request *out, gr_error *err)
{
    gr_status st = GR_OK;
    uint32_t *seen = NULL;
    const char **seen_key = NULL;
    memset(out, 0, sizeof *out);
    out->explain = 1;
    out->top_k = GR_API_DEFAULT_TOP_K;
    size_t nf = gr_model_get_info(m)->n_features;
    size_t max = limits && limits->max_samples ? limits->max_samples : GR_API_DEFAULT_MAX_SAMPLES;

    if (!json_is_object(body))
        return gr_error_set(err, GR_EINPUT, NULL, 0, NULL,
                            "the request body must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "samples") && strcmp(key, "explain") && strcmp(key, "top_k"))
            return gr_error_set(err, GR_EINPUT, NULL, 0, key,
                                "unknown key; a request has samples, explain and top_k");
    }
    json_t *ex = json_object_get(body, "explain"), *tk = json_object_get(body, "top_k");
    if (ex) {
        if (!json_is_boolean(ex))
            return gr_error_set(err, GR_EINPUT, NULL, 0, "explain", "must be true or false");
        out->explain = json_is_true(ex);
    }
    if (tk) {
        if (!json_is_integer(tk) || json_integer_value(tk) < 0)
            return gr_error_set(err, GR_EINPUT, NULL, 0, "top_k",
                                "must be a whole number >= 0 (0 returns every feature)");
        out->top_k =
            json_integer_value(tk) > (json_int_t)nf ? (long)nf : (long)json_integer_value(tk);
    }
    json_t *samples = json_object_get(body, "samples");
    if (!json_is_array(samples))
        return gr_error_set(err, GR_EINPUT, NULL, 0, "samples",
                            samples ? "must be an array" : "required key is missing");
    size_t ns = json_array_size(samples);
    if (ns == 0)
        return gr_error_set(err, GR_EINPUT, NULL, 0, "samples", "is empty");
    if (ns > max)
        return gr_error_set(err, GR_ELIMIT, NULL, 0, "samples",
                            "%zu samples; at most %zu per request", ns, max);
    out->n_samples = ns;
    out->n_features = nf;
    out->ids = json_array();
    out->warnings = json_array();
    out->x = malloc(ns * (nf ? nf : 1) * sizeof *out->x);
    out->match = calloc(ns, sizeof *out->match);
    out->keyed = calloc(ns, 1);
    seen = calloc(nf ? nf : 1, sizeof *seen);
    seen_key = calloc(nf ? nf : 1, sizeof *seen_key);
    if (!out->ids || !out->warnings || !out->x || !out->match || !out->keyed || !seen ||
        !seen_key) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < ns; i++) {
        json_t *s = json_array_get(samples, i);
        char field[128];
        snprintf(field, sizeof field, "samples[%zu]", i);
        if (!json_is_object(s)) {
            st = gr_error_set(err, GR_EINPUT, NULL, 0, field, "must be an object");
            goto fail;
        }
        json_object_foreach(s, key, v)
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
            st = gr_error_set(err, GR_EINPUT, NULL, 0, field,
                              "must be a string of at most %d bytes", GR_API_MAX_ID_LEN);
            goto fail;
        }
        if (json_array_append(out->ids, id ? id : json_null())) {
            st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
            goto fail;
        }
        if ((st = parse_sample_values(m, s, i, out->x + i * nf, seen, seen_key, out->warnings,
                                      &out->match[i], err)))
            goto fail;
        out->keyed[i] = json_object_get(s, "genotypes") != NULL;
    }

fail:
    free(seen);
    free(seen_key);
    return st;
}

static const char *space_name(gr_space s)
{
    return s == GR_SPACE_MARGIN ? "margin" : s == GR_SPACE_PROBABILITY ? "probability" : "identity";
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
    if (in->n_trees) {
        json_object_set_new(o, "n_trees", json_integer((json_int_t)in->n_trees));
        json_object_set_new(o, "n_leaves", json_integer((json_int_t)in->n_leaves));
        json_object_set_new(o, "max_depth", json_integer(in->max_depth));
    }
    json_object_set_new(o, "base_margin", json_real(in->base_margin));
    json_object_set_new(o, "min_coverage", json_real(in->min_coverage));
    json_object_set_new(o, "impute", json_string(gr_impute_name(in->impute)));
    if (in->pgs_id[0])
        json_object_set_new(o, "pgs_id", json_string(in->pgs_id));
    json_t *files = json_object();
    json_object_set_new(files, "artifact", json_string(in->artifact));
    if (in->features_file[0])
        json_object_set_new(files, "features", json_string(in->features_file));
    json_object_set_new(o, "files", files);
    return o;
}
