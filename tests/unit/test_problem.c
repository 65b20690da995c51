/* test_problem.c - RFC 9457 bodies and the status-to-HTTP mapping. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/problem.h"
#include "helpers.h"

Test(problem, body_fields)
{
    size_t len;
    char *s =
        gr_problem_json(422, "invalid-input", "Unprocessable input", "a dosage must be from 0 to 2",
                        "samples[0].genotypes.rs1", "/v1/models/m/predict", "rid-1", &len);
    json_t *o = json_loads(s, 0, NULL);
    cr_assert_not_null(o);
    cr_assert_str_eq(json_string_value(json_object_get(o, "type")),
                     "urn:genorisk:problem:invalid-input");
    cr_assert_str_eq(json_string_value(json_object_get(o, "title")), "Unprocessable input");
    cr_assert_eq(json_integer_value(json_object_get(o, "status")), 422);
    cr_assert_str_eq(json_string_value(json_object_get(o, "instance")), "/v1/models/m/predict");
    cr_assert_str_eq(json_string_value(json_object_get(o, "request_id")), "rid-1");
    cr_assert_str_eq(json_string_value(json_object_get(o, "field")), "samples[0].genotypes.rs1");
    json_decref(o);
    free(s);
    s = gr_problem_json(404, "not-found", "Not found", "no such route", NULL, "/x", "r", &len);
    o = json_loads(s, 0, NULL);
    cr_assert_null(json_object_get(o, "field"));
    json_decref(o);
    free(s);
}

Test(problem, status_mapping)
{
    cr_assert_eq(gr_problem_kind_of(gr_problem_for_status(GR_EINPUT))->status, 422);
    cr_assert_eq(gr_problem_kind_of(gr_problem_for_status(GR_ELIMIT))->status, 422);
    cr_assert_str_eq(gr_problem_kind_of(gr_problem_for_status(GR_ECOVERAGE))->slug, "low-coverage");
    cr_assert_eq(gr_problem_kind_of(gr_problem_for_status(GR_ENOMEM))->status, 500);
    cr_assert_eq(gr_problem_kind_of(gr_problem_for_status(GR_EINVAL))->status, 500);
}

/* Details, fields and instances quote requests: bytes that are not UTF-8
 * become '?' and the body stays JSON. */
Test(problem, text_that_is_not_utf8)
{
    size_t len;
    char *s = gr_problem_json(404, "model-not-found", "Model not found",
                              "no model named '\xff\xfe' is loaded", "samples[0].genotypes.rs\xc6",
                              "/v1/models/\xff\xfe", "r", &len);
    cr_assert_not_null(s);
    json_t *o = json_loads(s, 0, NULL);
    cr_assert_not_null(o, "%s", s);
    cr_assert_str_eq(json_string_value(json_object_get(o, "detail")),
                     "no model named '?\?' is loaded");
    cr_assert_str_eq(json_string_value(json_object_get(o, "field")), "samples[0].genotypes.rs?");
    cr_assert_str_eq(json_string_value(json_object_get(o, "instance")), "/v1/models/?\?");
    json_decref(o);
    free(s);
}

/* The catalog and openapi.yaml's Problem type enum name the same slugs,
 * and docs/http-api.md's table has a row for every (status, slug, title). */
Test(problem, catalog_matches_the_contract_and_the_docs)
{
    char *yaml = read_text("openapi.yaml"), *doc = read_text("docs/http-api.md");
    const char *schema = strstr(yaml, "\n    Problem:\n");
    cr_assert(schema, "openapi.yaml has no Problem schema");
    const char *list = strstr(schema, "enum:");
    const char *end = strstr(list, "title:");
    cr_assert(list && end);
    size_t listed = 0;
    for (const char *p = list; (p = strstr(p, "urn:genorisk:problem:")) && p < end; p++) {
        char slug[64] = "";
        sscanf(p + 21, "%63[a-z-]", slug);
        int known = 0;
        for (int i = 0; i < GR_PROBLEM_COUNT; i++)
            known |= !strcmp(gr_problem_kind_of((gr_problem_id)i)->slug, slug);
        cr_assert(known, "openapi.yaml lists %s, which the catalog does not have", slug);
        listed++;
    }
    for (int i = 0; i < GR_PROBLEM_COUNT; i++) {
        const gr_problem_kind *k = gr_problem_kind_of((gr_problem_id)i);
        char type[96], row[200];
        snprintf(type, sizeof type, "- urn:genorisk:problem:%s\n", k->slug);
        const char *at = strstr(list, type);
        cr_assert(at && at < end, "openapi.yaml's Problem type enum lacks %s", k->slug);
        snprintf(row, sizeof row, "| %u | `%s` | ", k->status, k->slug);
        int found = 0; /* one slug may have rows for several titles */
        for (const char *r = strstr(doc, row); r && !found; r = strstr(r + 1, row)) {
            const char *eol = strchr(r, '\n'), *t = strstr(r, k->title);
            found = t && eol && t < eol;
        }
        cr_assert(found, "docs/http-api.md has no row for %u %s '%s'", k->status, k->slug,
                  k->title);
    }
    cr_assert_gt(listed, 10);
    free(yaml);
    free(doc);
}
