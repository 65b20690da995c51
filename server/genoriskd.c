/* genoriskd.c - the HTTP daemon: loads the model set, runs the worker pool
 * and libmicrohttpd, and turns signals into drain (SIGTERM/SIGINT) and
 * reload (SIGHUP). Signal handlers only set flags; the main thread acts. */
#include <htslib/hts.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "core/modelset.h"
#include "server/config.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/pool.h"

extern const char gr_openapi_yaml[];
extern const unsigned long gr_openapi_yaml_len;

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    reload_requested = 1;
}

typedef struct {
    gr_config cfg;
    gr_log log;
    gr_metrics *metrics;
    gr_pool *pool;
    pthread_mutex_t mu; /* guards set */
    gr_modelset *set;
    volatile int ready;
} daemon_state;

static gr_modelset *acquire_models(void *ctx)
{
    daemon_state *s = ctx;
    pthread_mutex_lock(&s->mu);
    gr_modelset *set = gr_modelset_retain(s->set);
    pthread_mutex_unlock(&s->mu);
    return set;
}

static int submit(void *ctx, void (*fn)(void *), void (*cancel)(void *), void *arg)
{
    daemon_state *s = ctx;
    return gr_pool_submit(s->pool, fn, cancel, arg);
}

static int is_ready(void *ctx)
{
    return ((daemon_state *)ctx)->ready;
}

static char *metrics_text(void *ctx, size_t *len)
{
    daemon_state *s = ctx;
    gr_modelset *set = acquire_models(s);
    char *t = gr_metrics_render(s->metrics, gr_pool_queued(s->pool), gr_pool_busy(s->pool),
                                gr_modelset_count(set), len);
    gr_modelset_release(set);
    return t;
}

static void request_done(void *ctx, const gr_http_done *d)
{
    daemon_state *s = ctx;
    gr_metrics_request(s->metrics, d->route, d->status, d->seconds);
    if (d->route == GR_ROUTE_PREDICT && d->status == 200)
        gr_metrics_predictions(s->metrics, d->model, d->samples);
    gr_log_level level = d->status >= 500 ? GR_LOG_WARN : GR_LOG_INFO;
    if (!gr_log_enabled(&s->log, level))
        return;
    json_t *f = json_pack("{s:s, s:s, s:s, s:i, s:f, s:I, s:I}", "request_id", d->request_id,
                          "method", d->method, "route", gr_route_names[d->route], "status",
                          (int)d->status, "duration_ms", d->seconds * 1e3, "bytes_in",
                          (json_int_t)d->bytes_in, "bytes_out", (json_int_t)d->bytes_out);
    if (f && d->model[0]) {
        json_object_set_new(f, "model", json_string(d->model));
        json_object_set_new(f, "samples", json_integer((json_int_t)d->samples));
    }
    if (f && d->error[0])
        json_object_set_new(f, "problem", json_string(d->error));
    gr_log_write(&s->log, level, "request", f);
}

static void reload(daemon_state *s)
{
    gr_modelset *fresh = NULL;
    gr_error err;
    char buf[1200];
    if (gr_modelset_load(s->cfg.models, &fresh, &err)) {
        gr_metrics_reload(s->metrics, 0);
        gr_log_write(&s->log, GR_LOG_ERROR, "reload failed",
                     json_pack("{s:s, s:s}", "error", gr_error_format(&err, buf, sizeof buf),
                               "kept", "the models already loaded"));
        return;
    }
    pthread_mutex_lock(&s->mu);
    gr_modelset *old = s->set;
    s->set = fresh;
    pthread_mutex_unlock(&s->mu);
    gr_modelset_release(old); /* freed when the last request using it ends */
    gr_metrics_reload(s->metrics, 1);
    gr_log_event(&s->log, "reloaded",
                 json_pack("{s:I}", "models", (json_int_t)gr_modelset_count(fresh)));
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    daemon_state s = { 0 };
    char why[512];
    hts_set_log_level(HTS_LOG_OFF);
    int rc = gr_config_parse(argc, argv, &s.cfg, why, sizeof why);
    if (rc > 0)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "genoriskd: %s\n\n%s", why, gr_config_usage);
        return 2;
    }
    s.log = (gr_log){ s.cfg.log_json, (gr_log_level)s.cfg.log_level };
    pthread_mutex_init(&s.mu, NULL);

    struct sigaction sa = { 0 };
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* Threads started from here on inherit a mask without the stop and
     * reload signals, so they reach the main thread and cut its sleep short:
     * a drain begins at once, not at the next poll. */
    sigset_t ours;
    sigemptyset(&ours);
    sigaddset(&ours, SIGTERM);
    sigaddset(&ours, SIGINT);
    sigaddset(&ours, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &ours, NULL);

    gr_error err;
    char buf[1200];
    if (access(s.cfg.tmp_dir, W_OK | X_OK) || strlen(s.cfg.tmp_dir) > 400) {
        fprintf(stderr, "genoriskd: --tmp-dir %s is not a writable directory (uploads are "
                        "spooled there)\n", s.cfg.tmp_dir);
        return 1;
    }
    if (gr_modelset_load(s.cfg.models, &s.set, &err)) {
        gr_log_write(&s.log, GR_LOG_ERROR, "cannot load models",
                     json_pack("{s:s}", "error", gr_error_format(&err, buf, sizeof buf)));
        fprintf(stderr, "genoriskd: cannot load models: %s\n", buf);
        return 1;
    }
    s.metrics = gr_metrics_new();
    s.pool = gr_pool_new(s.cfg.workers, s.cfg.queue_depth);
    if (!s.metrics || !s.pool) {
        fprintf(stderr, "genoriskd: cannot start %d worker threads\n", s.cfg.workers);
        rc = 1;
        goto out;
    }
    gr_http_env env = {
        .ctx = &s,
        .acquire_models = acquire_models,
        .submit = submit,
        .ready = is_ready,
        .metrics_text = metrics_text,
        .done = request_done,
        .max_body_bytes = s.cfg.max_body_bytes,
        .max_upload_bytes = s.cfg.max_upload_bytes,
        .tmp_dir = s.cfg.tmp_dir,
        .max_samples = s.cfg.max_samples,
        .openapi = gr_openapi_yaml,
        .openapi_len = gr_openapi_yaml_len,
    };
    int http_threads = s.cfg.workers < 2 ? 1 : 2;
    gr_http *http = gr_http_start(&env, s.cfg.host, s.cfg.port, http_threads, why, sizeof why);
    if (!http) {
        gr_log_write(&s.log, GR_LOG_ERROR, "cannot listen", json_pack("{s:s}", "error", why));
        fprintf(stderr, "genoriskd: %s\n", why);
        rc = 1;
        goto out;
    }
    pthread_sigmask(SIG_UNBLOCK, &ours, NULL); /* pending ones are delivered now */
    s.ready = 1;
    gr_log_event(&s.log, "listening",
                 json_pack("{s:s, s:i, s:I, s:i, s:s}", "address", s.cfg.host, "port",
                           (int)gr_http_port(http), "models",
                           (json_int_t)gr_modelset_count(s.set), "workers", s.cfg.workers,
                           "version", GR_VERSION));

    while (!stop_requested) {
        if (reload_requested) {
            reload_requested = 0;
            reload(&s);
        }
        sleep_ms(50);
    }

    s.ready = 0;
    gr_http_quiesce(http);
    gr_log_event(&s.log, "draining",
                 json_pack("{s:I, s:i}", "in_flight", (json_int_t)gr_http_in_flight(http),
                           "timeout_s", s.cfg.drain_timeout_s));
    for (long waited = 0; gr_http_in_flight(http) > 0 && waited < s.cfg.drain_timeout_s * 1000L;
         waited += 20)
        sleep_ms(20);
    size_t left = gr_http_in_flight(http);
    /* Past the deadline: queued predicts are answered 503, running ones stop
     * at their next sample with 503, and only then may libmicrohttpd stop:
     * it must not hold suspended connections. */
    if (left)
        gr_http_abort_work(http);
    size_t cancelled = gr_pool_cancel_queued(s.pool);
    gr_pool_free(s.pool);
    for (int waited = 0; gr_http_in_flight(http) > 0 && waited < 2000; waited += 20)
        sleep_ms(20);
    gr_http_stop(http);
    s.pool = NULL;
    gr_log_event(&s.log, "stopped",
                 json_pack("{s:I, s:I}", "past_deadline", (json_int_t)left, "cancelled",
                           (json_int_t)cancelled));
    rc = 0;

out:
    gr_pool_free(s.pool);
    gr_modelset_release(s.set);
    gr_metrics_free(s.metrics);
    pthread_mutex_destroy(&s.mu);
    return rc;
}
