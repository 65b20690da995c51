/* test_population.c - a prediction's population context through the
 * pipeline the CLI and the daemon share (api/predict_place.c): issue 12's
 * "a sample's answer never depends on which other samples share its
 * request" (the same sample alone and in a batch of 100 gets the same
 * score, population and risk, to the bit), a request of dosage arrays is
 * answered placed: false with a reason, and every answer carries its
 * provenance with the model's SHA-256. models/cad-pgs-demo, whose manifest
 * names models/demo-reference. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/predict_json.h"
#include "api/predict_place.h"
#include "api/predict_run.h"
#include "core/reference.h"
#include "helpers.h"

#define MODEL "models/cad-pgs-demo"
#define BATCH 100
#define AT 37 /* where the first example sample sits in the batch */

static gr_model *m;

static void setup(void)
{
    gr_error err;
    cr_assert_eq(gr_model_load(MODEL, &m, &err), GR_OK, "%s", err.text);
}

static void teardown(void)
{
    gr_model_free(m);
}

TestSuite(population, .init = setup, .fini = teardown);

/* Predicts body as `genorisk predict --input` does: the model's read and
 * one read per reference variant set, their jobs bound, then the answer.
 * Returns the document (new). */
static json_t *predict_with(const gr_model *mm, const char *body)
{
    const gr_model *ms[1] = { mm }, *all[2];
    size_t total = gr_api_read_list(ms, 1, all);
    gr_api_request reqs[2];
    gr_api_job jobs[2];
    uint8_t usable[2] = { 1, 1 };
    gr_api_settings given = gr_api_settings_unset();
    given.allow_low_coverage = 1; /* the placement tests send a third of the variants */
    gr_error err;
    memset(reqs, 0, sizeof reqs);
    cr_assert_eq(total, 2, "the demo model's reference adds its variant set");
    cr_assert_eq(gr_api_request_read(mm, body, strlen(body), NULL, &reqs[0], &err), GR_OK, "%s",
                 err.text);
    cr_assert_eq(
        gr_api_place_read_json(all[1], body, strlen(body), NULL, &reqs[1], &usable[1], &err), GR_OK,
        "%s", err.text);
    for (size_t k = 0; k < total; k++)
        gr_api_job_init(&jobs[k], all[k], &reqs[k], NULL, k < 1 ? &given : NULL);
    gr_api_bind_places(jobs, all, 1, total, usable);
    json_t *doc = NULL;
    cr_assert_eq(gr_api_predict_all(&jobs[0], &doc, &err), GR_OK, "%s", err.text);
    for (size_t k = 0; k < total; k++)
        gr_api_request_clear(&reqs[k]);
    return doc;
}

static json_t *predict(const char *body)
{
    return predict_with(m, body);
}

/* models/cad-pgs-demo/example.json's first sample (new). */
static json_t *first_example(void)
{
    json_error_t je;
    json_t *ex = json_load_file(MODEL "/example.json", 0, &je);
    cr_assert(ex, "%s", je.text);
    json_t *s = json_incref(json_array_get(json_object_get(ex, "samples"), 0));
    json_decref(ex);
    cr_assert(json_is_object(json_object_get(s, "genotypes")));
    return s;
}

/* Another sample over the same keys: dosages 0, 1, 2 and a few missing,
 * different for each i. */
static json_t *other_sample(const json_t *first, size_t i)
{
    json_t *g = json_object(), *v;
    const char *key;
    size_t j = 0;
    json_object_foreach((json_t *)json_object_get(first, "genotypes"), key, v)
    {
        unsigned h = (unsigned)(i * 2654435761u) ^ (unsigned)(j * 40503u + 17u);
        h ^= h >> 13;
        h *= 0x5bd1e995u;
        h ^= h >> 15;
        json_object_set_new(g, key, h % 29 == 0 ? json_null() : json_integer((json_int_t)(h % 3)));
        j++;
    }
    char id[32];
    snprintf(id, sizeof id, "OTHER-%03zu", i);
    return json_pack("{s:s, s:o}", "id", id, "genotypes", g);
}

static char *request(json_t *samples)
{
    json_t *doc = json_pack("{s:o, s:b}", "samples", samples, "explain", 0);
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return s;
}

static char *dump(const json_t *o)
{
    return json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

static void expect_same(const json_t *alone, const json_t *in_batch, const char *member, size_t i)
{
    char *a = dump(json_object_get(alone, member)), *b = dump(json_object_get(in_batch, member));
    cr_assert(a && b, "sample %zu: no %s", i, member);
    cr_assert_str_eq(a, b, "sample %zu's %s alone and in the batch differ", i, member);
    free(a);
    free(b);
}

Test(population, a_samples_answer_does_not_depend_on_the_others_in_its_request)
{
    json_t *first = first_example(), *batch = json_array();
    for (size_t i = 0; i < BATCH; i++)
        json_array_append_new(batch, i == AT ? json_incref(first) : other_sample(first, i));
    char *body = request(json_incref(batch));
    json_t *all = predict(body);
    free(body);
    json_t *results = json_object_get(all, "results");
    cr_assert_eq(json_array_size(results), BATCH);
    /* the example sample, and a few of the others, each alone */
    const size_t check[] = { AT, 0, 1, 50, 99 };
    size_t placed = 0;
    for (size_t c = 0; c < sizeof check / sizeof *check; c++) {
        size_t i = check[c];
        body = request(json_pack("[O]", json_array_get(batch, i)));
        json_t *one = predict(body);
        free(body);
        json_t *alone = json_array_get(json_object_get(one, "results"), 0);
        json_t *in_batch = json_array_get(results, i);
        cr_assert_str_eq(json_string_value(json_object_get(in_batch, "sample")),
                         json_string_value(json_object_get(alone, "sample")));
        cr_assert(json_is_real(json_object_get(alone, "score")));
        cr_assert_eq(json_real_value(json_object_get(alone, "score")),
                     json_real_value(json_object_get(in_batch, "score")), "sample %zu's score", i);
        expect_same(alone, in_batch, "score", i);
        expect_same(alone, in_batch, "population", i);
        expect_same(alone, in_batch, "risk", i);
        expect_same(alone, in_batch, "coverage", i);
        placed += json_is_true(json_object_get(json_object_get(alone, "population"), "placed"));
        json_decref(one);
    }
    /* the comparison means something: they were placed and given a risk */
    cr_assert_eq(placed, sizeof check / sizeof *check);
    json_t *r = json_array_get(results, AT);
    cr_assert_str_eq(json_string_value(json_object_get(r, "sample")), "DEMO-001");
    cr_assert(json_is_number(json_object_get(json_object_get(r, "population"), "z_norm2")));
    cr_assert(json_is_string(json_object_get(json_object_get(r, "risk"), "category")));
    json_decref(all);
    json_decref(batch);
    json_decref(first);
}

Test(population, dosage_arrays_are_scored_but_not_placed)
{
    size_t n = gr_model_get_info(m)->n_features;
    json_t *d = json_array();
    for (size_t j = 0; j < n; j++)
        json_array_append_new(d, json_integer((json_int_t)(j % 3)));
    char *body = request(json_pack("[{s:s, s:o}]", "id", "D1", "dosages", d));
    json_t *doc = predict(body);
    free(body);
    json_t *r = json_array_get(json_object_get(doc, "results"), 0);
    json_t *pop = json_object_get(r, "population");
    cr_assert(json_is_number(json_object_get(r, "score")));
    cr_assert(json_is_object(pop));
    cr_assert(json_is_false(json_object_get(pop, "placed")));
    const char *why = json_string_value(json_object_get(pop, "reason"));
    cr_assert(why && *why, "placed false without a reason");
    cr_assert_null(json_object_get(pop, "percentile"));
    cr_assert_null(json_object_get(pop, "z_norm2"));
    cr_assert_str_eq(json_string_value(json_object_get(pop, "reference")), "demo-reference");
    json_t *risk = json_object_get(r, "risk");
    cr_assert(!risk || json_is_null(risk), "a risk for a sample not placed");
    json_decref(doc);
}

Test(population, too_few_projection_variants_is_not_placed_with_the_count)
{
    json_t *first = first_example(), *g = json_object_get(first, "genotypes"), *v;
    const char *key;
    void *tmp;
    size_t j = 0;
    json_object_foreach_safe(g, tmp, key, v)
    {
        if (j++ % 3)
            json_object_del(g, key);
    }
    char *body = request(json_pack("[O]", first));
    json_t *doc = predict(body);
    free(body);
    json_t *pop = json_object_get(json_array_get(json_object_get(doc, "results"), 0), "population");
    cr_assert(json_is_false(json_object_get(pop, "placed")));
    const char *why = json_string_value(json_object_get(pop, "reason"));
    cr_assert(why && strstr(why, "100 of the reference's 300 projection variants observed"), "%s",
              why);
    json_decref(doc);
    json_decref(first);
}

Test(population, the_answer_carries_provenance_with_the_model_sha256)
{
    json_t *first = first_example();
    char *body = request(json_pack("[O]", first));
    json_t *doc = predict(body);
    free(body);
    json_t *prov = json_object_get(doc, "provenance");
    cr_assert(json_is_object(prov), "no provenance");
    json_t *model = json_object_get(prov, "model");
    const char *sha = json_string_value(json_object_get(model, "sha256"));
    cr_assert_not_null(sha);
    cr_assert_str_eq(sha, gr_model_get_info(m)->sha256);
    cr_assert_eq(strlen(sha), 64);
    cr_assert_eq(strspn(sha, "0123456789abcdef"), 64);
    cr_assert_str_eq(json_string_value(json_object_get(model, "name")), "cad-pgs-demo");
    json_t *ref = json_object_get(prov, "reference");
    long k;
    const struct gr_reference *r = gr_model_reference(m, &k);
    cr_assert_str_eq(json_string_value(json_object_get(ref, "name")), "demo-reference");
    cr_assert_str_eq(json_string_value(json_object_get(ref, "sha256")),
                     gr_reference_get_info(r)->sha256);
    cr_assert_str_eq(json_string_value(json_object_get(prov, "genome_build")), "GRCh38");
    json_decref(doc);
    json_decref(first);
}

Test(population, a_dosage_array_beside_it_does_not_unplace_a_keyed_sample)
{
    /* models/cad-logit-demo (50 features) read against demo-reference
     * (300 projection variants): a 50-value dosage array cannot be read in
     * the projection's order; the keyed sample beside it must be placed as
     * it is alone */
    char *parent = temp_bundle(NULL), path[600], target[PATH_MAX];
    snprintf(path, sizeof path, "%s/logit", parent);
    cr_assert_eq(mkdir(path, 0700), 0);
    static const char *const files[] = { "manifest.json", "model.json", "features.tsv" };
    for (size_t i = 0; i < 3; i++) {
        char src[256], dst[700];
        snprintf(src, sizeof src, "models/cad-logit-demo/%s", files[i]);
        snprintf(dst, sizeof dst, "%s/%s", path, files[i]);
        char *text = read_text(src), *edited = text;
        if (i == 0)
            edited = replace_once(text, "\"synthetic\": true",
                                  "\"synthetic\": true, \"reference\": \"demo-reference\", "
                                  "\"reference_score\": \"cad-pgs-demo\"");
        cr_assert_not_null(edited);
        FILE *f = fopen(dst, "w");
        cr_assert(f && fputs(edited, f) >= 0 && fclose(f) == 0);
        if (edited != text)
            free(edited);
        free(text);
    }
    cr_assert(realpath("models/demo-reference", target));
    snprintf(path, sizeof path, "%s/demo-reference", parent);
    cr_assert_eq(symlink(target, path), 0);
    snprintf(path, sizeof path, "%s/logit", parent);
    gr_model *lm = NULL;
    gr_error err;
    cr_assert_eq(gr_model_load(path, &lm, &err), GR_OK, "%s", err.text);

    json_t *first = first_example(), *d = json_array();
    for (size_t j = 0; j < gr_model_get_info(lm)->n_features; j++)
        json_array_append_new(d, json_integer((json_int_t)(j % 3)));
    char *body = request(json_pack("[O]", first));
    json_t *alone = predict_with(lm, body);
    free(body);
    body = request(json_pack("[{s:s, s:o}, O]", "id", "D1", "dosages", d, first));
    json_t *both = predict_with(lm, body);
    free(body);
    json_t *a = json_array_get(json_object_get(alone, "results"), 0);
    json_t *b = json_array_get(json_object_get(both, "results"), 1);
    cr_assert(json_is_true(json_object_get(json_object_get(a, "population"), "placed")));
    expect_same(a, b, "population", 1);
    expect_same(a, b, "score", 1);
    json_t *dpop =
        json_object_get(json_array_get(json_object_get(both, "results"), 0), "population");
    cr_assert(json_is_false(json_object_get(dpop, "placed")));
    cr_assert(strstr(json_string_value(json_object_get(dpop, "reason")), "dosage array"));
    json_decref(alone);
    json_decref(both);
    json_decref(first);
    gr_model_free(lm);
    temp_bundle_free(parent);
}
