/* problem.c - see problem.h. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/problem.h"

char *gr_problem_json(unsigned status, const char *slug, const char *title, const char *detail,
                      const char *field, const char *instance, const char *request_id,
                      size_t *len)
{
    char type[96];
    snprintf(type, sizeof type, "urn:genorisk:problem:%s", slug);
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "type", type, "title", title,
                          "status", (int)status, "detail", detail ? detail : "", "instance",
                          instance ? instance : "", "request_id", request_id ? request_id : "");
    if (o && field && field[0])
        json_object_set_new(o, "field", json_string(field));
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    *len = s ? strlen(s) : 0;
    return s;
}

gr_problem_kind gr_problem_for_status(gr_status st)
{
    switch (st) {
    case GR_EINPUT:
    case GR_ELIMIT:
        return (gr_problem_kind){ 422, "invalid-input", "Unprocessable input" };
    case GR_ENOMEM:
        return (gr_problem_kind){ 500, "internal", "Out of memory" };
    default:
        return (gr_problem_kind){ 500, "internal", "Internal error" };
    }
}
