/* metrics.h - the daemon's counters and histograms, rendered in the
 * Prometheus text format. Labels carry route templates, status codes, model
 * names and reload results: nothing a client sent. */
#ifndef GR_METRICS_H
#define GR_METRICS_H

#include <stddef.h>

#include "api/http.h"

typedef struct gr_metrics gr_metrics;

gr_metrics *gr_metrics_new(void);
void gr_metrics_free(gr_metrics *m);

void gr_metrics_request(gr_metrics *m, gr_route route, unsigned code, double seconds);
void gr_metrics_predictions(gr_metrics *m, const char *model, size_t samples);
void gr_metrics_reload(gr_metrics *m, int success);

/* Returns a new exposition text; *len gets its length. */
char *gr_metrics_render(gr_metrics *m, size_t queue_depth, size_t workers_busy,
                        size_t models_loaded, size_t *len);

#endif
