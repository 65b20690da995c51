/* problem.h - RFC 9457 problem details, and the one place where library
 * statuses become HTTP status codes. */
#ifndef GR_API_PROBLEM_H
#define GR_API_PROBLEM_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"

/* Returns a new compact application/problem+json body:
 * {"type":"urn:genorisk:problem:<slug>","title","status","detail","instance","request_id"}
 * plus "field" when field is non-empty. *len gets its length. */
char *gr_problem_json(unsigned status, const char *slug, const char *title, const char *detail,
                      const char *field, const char *instance, const char *request_id, size_t *len);

/* The same problem as a new JSON object (NULL when out of memory); instance
 * and request_id are left out when NULL, as in the per-sample "error" of a
 * predict result. */
json_t *gr_problem_object(unsigned status, const char *slug, const char *title, const char *detail,
                          const char *field, const char *instance, const char *request_id);

/* Every problem the API answers with: one row each (id, HTTP status, type
 * slug, title). openapi.yaml's Problem type enum lists the same slugs
 * (tests/unit/test_problem.c checks both ways). */
#define GR_PROBLEM_MAP(X)                                                                          \
    X(INVALID_REQUEST, 400, "invalid-request", "Malformed HTTP request")                           \
    X(INVALID_JSON, 400, "invalid-json", "Malformed JSON")                                         \
    X(INVALID_PARAMETER, 400, "invalid-parameter", "Invalid query parameter")                      \
    X(MALFORMED_MULTIPART, 400, "invalid-parameter", "Malformed multipart body")                   \
    X(NO_FILE_PART, 400, "invalid-parameter", "No file part")                                      \
    X(UNAUTHORIZED, 401, "unauthorized", "Unauthorized")                                           \
    X(MODEL_NOT_FOUND, 404, "model-not-found", "Model not found")                                  \
    X(NOT_FOUND, 404, "not-found", "Not found")                                                    \
    X(METHOD_NOT_ALLOWED, 405, "method-not-allowed", "Method not allowed")                         \
    X(BODY_TOO_LARGE, 413, "body-too-large", "Request body too large")                             \
    X(UNSUPPORTED_MEDIA_TYPE, 415, "unsupported-media-type", "Unsupported media type")             \
    X(INVALID_INPUT, 422, "invalid-input", "Unprocessable input")                                  \
    X(LOW_COVERAGE, 422, "low-coverage", "Too few of the model's variants")                        \
    X(INTERNAL, 500, "internal", "Internal error")                                                 \
    X(OUT_OF_MEMORY, 500, "internal", "Out of memory")                                             \
    X(OVERLOADED, 503, "overloaded", "Overloaded")                                                 \
    X(CANNOT_STORE, 503, "overloaded", "Cannot store the upload")                                  \
    X(BODY_BUDGET, 503, "overloaded", "Too many bodies at once")                                   \
    X(NOT_READY, 503, "not-ready", "Not ready")                                                    \
    X(TIMEOUT, 503, "timeout", "Over the request's time budget")

typedef enum {
#define GR_PROBLEM_ENUM(id, status, slug, title) GR_PROBLEM_##id,
    GR_PROBLEM_MAP(GR_PROBLEM_ENUM)
#undef GR_PROBLEM_ENUM
        GR_PROBLEM_COUNT
} gr_problem_id;

typedef struct {
    unsigned status;
    const char *slug, *title;
} gr_problem_kind;

/* Borrowed row of the catalog; id < GR_PROBLEM_COUNT. */
const gr_problem_kind *gr_problem_kind_of(gr_problem_id id);

/* How a predict-time library status answers over HTTP. */
gr_problem_id gr_problem_for_status(gr_status st);

#endif
