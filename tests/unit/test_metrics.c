/* test_metrics.c - the Prometheus exposition of the daemon's metrics. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "server/metrics.h"

Test(metrics, counters_histograms_and_gauges)
{
    gr_metrics *m = gr_metrics_new();
    gr_metrics_request(m, GR_ROUTE_PREDICT, 200, 0.003);
    gr_metrics_request(m, GR_ROUTE_PREDICT, 200, 0.2);
    gr_metrics_request(m, GR_ROUTE_PREDICT, 422, 0.0001);
    gr_metrics_request(m, GR_ROUTE_OTHER, 404, 0.0001);
    gr_metrics_predictions(m, "cad", 5);
    gr_metrics_predictions(m, "cad", 2);
    gr_metrics_reload(m, 0);
    size_t len;
    gr_metrics_gauges g = { .queue_depth = 3,
                            .workers_busy = 1,
                            .models_loaded = 4,
                            .connections_open = 5,
                            .connections_refused = 6,
                            .body_memory_bytes = 7,
                            .spool_bytes = 8 };
    char *t = gr_metrics_render(m, &g, &len);
    cr_assert_eq(strlen(t), len);
    const char *want[] = {
        "genorisk_requests_total{route=\"/v1/models/{name}/predict\",code=\"200\"} 2\n",
        "genorisk_requests_total{route=\"/v1/models/{name}/predict\",code=\"422\"} 1\n",
        "genorisk_requests_total{route=\"other\",code=\"404\"} 1\n",
        "genorisk_request_duration_seconds_bucket{route=\"/v1/models/{name}/"
        "predict\",le=\"0.0005\"} 1\n",
        "genorisk_request_duration_seconds_bucket{route=\"/v1/models/{name}/"
        "predict\",le=\"0.005\"} 2\n",
        "genorisk_request_duration_seconds_bucket{route=\"/v1/models/{name}/predict\",le=\"+Inf\"} "
        "3\n",
        "genorisk_request_duration_seconds_count{route=\"/v1/models/{name}/predict\"} 3\n",
        "genorisk_queue_depth 3\n",
        "genorisk_workers_busy 1\n",
        "genorisk_models_loaded 4\n",
        "genorisk_connections_open 5\n",
        "genorisk_connections_refused_total 6\n",
        "# TYPE genorisk_body_memory_bytes gauge\ngenorisk_body_memory_bytes 7\n",
        "# TYPE genorisk_spool_bytes gauge\ngenorisk_spool_bytes 8\n",
        "# TYPE process_open_fds gauge\n",
        "genorisk_predictions_total{model=\"cad\"} 7\n",
        "genorisk_reloads_total{result=\"success\"} 0\n",
        "genorisk_reloads_total{result=\"failure\"} 1\n",
        "# TYPE process_resident_memory_bytes gauge\n",
        "process_cpu_seconds_total ",
        "process_start_time_seconds ",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_assert(strstr(t, want[i]), "missing: %s", want[i]);
    cr_assert_null(strstr(t, "route=\"/healthz\""), "routes without requests are left out");
    free(t);
    gr_metrics_free(m);
}

Test(metrics, token_series_only_with_auth_tokens)
{
    gr_metrics *m = gr_metrics_new();
    gr_metrics_token_lines_rejected(m, 2);
    gr_metrics_token_lines_rejected(m, 1);
    size_t len;
    gr_metrics_gauges g = { .auth = 0 };
    char *t = gr_metrics_render(m, &g, &len);
    cr_assert_null(strstr(t, "genorisk_auth"), "%s", t);
    free(t);
    g = (gr_metrics_gauges){ .auth = 1, .auth_tokens = 0 };
    t = gr_metrics_render(m, &g, &len);
    cr_assert(strstr(t, "\ngenorisk_auth_tokens 0\n"), "%s", t);
    cr_assert(strstr(t, "# TYPE genorisk_auth_token_lines_rejected_total counter\n"
                        "genorisk_auth_token_lines_rejected_total 3\n"),
              "%s", t);
    free(t);
    gr_metrics_free(m);
}
