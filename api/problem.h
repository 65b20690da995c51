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

/* How a predict-time library status answers over HTTP. */
typedef struct {
    unsigned status;
    const char *slug, *title;
} gr_problem_kind;

gr_problem_kind gr_problem_for_status(gr_status st);

#endif
