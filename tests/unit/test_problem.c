/* test_problem.c - RFC 9457 bodies and the status-to-HTTP mapping. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>

#include "api/problem.h"

Test(problem, body_fields)
{
    size_t len;
    char *s = gr_problem_json(422, "invalid-input", "Unprocessable input", "a dosage must be from 0 to 2",
                              "samples[0].genotypes.rs1", "/v1/models/m/predict", "rid-1", &len);
    json_t *o = json_loads(s, 0, NULL);
    cr_assert_not_null(o);
    cr_assert_str_eq(json_string_value(json_object_get(o, "type")), "urn:genorisk:problem:invalid-input");
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
    cr_assert_eq(gr_problem_for_status(GR_EINPUT).status, 422);
    cr_assert_eq(gr_problem_for_status(GR_ELIMIT).status, 422);
    cr_assert_eq(gr_problem_for_status(GR_ENOMEM).status, 500);
    cr_assert_eq(gr_problem_for_status(GR_EINVAL).status, 500);
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
    cr_assert_str_eq(json_string_value(json_object_get(o, "detail")), "no model named '?\?' is loaded");
    cr_assert_str_eq(json_string_value(json_object_get(o, "field")), "samples[0].genotypes.rs?");
    cr_assert_str_eq(json_string_value(json_object_get(o, "instance")), "/v1/models/?\?");
    json_decref(o);
    free(s);
}
