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
/* Lines of --auth-tokens skipped as not tokens, at start or on a reload. */
void gr_metrics_token_lines_rejected(gr_metrics *m, size_t lines);

/* What the daemon reads off its parts when scraped. */
typedef struct {
    size_t queue_depth, workers_busy, models_loaded, connections_open;
    size_t body_memory_bytes, spool_bytes; /* request bodies held now */
    unsigned long long connections_refused;
    int auth;           /* --auth-tokens given: the token series are shown */
    size_t auth_tokens; /* tokens in force (0: every protected request is refused) */
    /* dynamic batching: runs of two or more tasks, and the tasks in them */
    unsigned long long batches, batched_tasks;
} gr_metrics_gauges;

/* Returns a new exposition text; *len gets its length. */
char *gr_metrics_render(gr_metrics *m, const gr_metrics_gauges *g, size_t *len);

#endif
