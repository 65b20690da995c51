/* problem.c - see problem.h. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/problem.h"
#include "core/error.h"

json_t *gr_problem_object(unsigned status, const char *slug, const char *title, const char *detail,
                          const char *field, const char *instance, const char *request_id)
{
    char type[96], d[2048], f[256], in[512];
    snprintf(type, sizeof type, "urn:genorisk:problem:%s", slug);
    /* detail, field and instance may quote the URL or the body: a byte that
     * is not UTF-8 becomes '?' rather than leave the problem without a body
     * (a request for /v1/models/%FF got an empty 404) */
    snprintf(d, sizeof d, "%s", detail ? detail : "");
    snprintf(f, sizeof f, "%s", field ? field : "");
    snprintf(in, sizeof in, "%s", instance ? instance : "");
    gr_utf8_scrub(d);
    gr_utf8_scrub(f);
    gr_utf8_scrub(in);
    json_t *o = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", title, "status",
                          (int)status, "detail", d);
    if (o && ((instance && json_object_set_new(o, "instance", json_string(in))) ||
              (request_id && json_object_set_new(o, "request_id", json_string(request_id))) ||
              (f[0] && json_object_set_new(o, "field", json_string(f))))) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

char *gr_problem_json(unsigned status, const char *slug, const char *title, const char *detail,
                      const char *field, const char *instance, const char *request_id, size_t *len)
{
    json_t *o = gr_problem_object(status, slug, title, detail, field, instance ? instance : "",
                                  request_id ? request_id : "");
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    *len = s ? strlen(s) : 0;
    return s;
}

static const gr_problem_kind catalog[GR_PROBLEM_COUNT] = {
#define GR_PROBLEM_ROW(id, status, slug, title) [GR_PROBLEM_##id] = { status, slug, title },
    GR_PROBLEM_MAP(GR_PROBLEM_ROW)
#undef GR_PROBLEM_ROW
};

const gr_problem_kind *gr_problem_kind_of(gr_problem_id id)
{
    return &catalog[id < GR_PROBLEM_COUNT ? id : GR_PROBLEM_INTERNAL];
}

gr_problem_id gr_problem_for_status(gr_status st)
{
    switch (st) {
    case GR_EINPUT:
    case GR_ELIMIT: return GR_PROBLEM_INVALID_INPUT;
    case GR_ECOVERAGE: return GR_PROBLEM_LOW_COVERAGE;
    case GR_ESYNTAX: return GR_PROBLEM_INVALID_JSON;
    case GR_ENOMEM: return GR_PROBLEM_OUT_OF_MEMORY;
    default: return GR_PROBLEM_INTERNAL;
    }
}
