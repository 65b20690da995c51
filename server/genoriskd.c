/* genoriskd.c - the HTTP daemon: loads the model set, runs the worker pool
 * and libmicrohttpd, and turns signals into drain (SIGTERM/SIGINT) and
 * reload (SIGHUP). Signal handlers only set flags; the main thread acts. */
#include <htslib/hts.h>
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "core/modelset.h"
#include "server/auth.h"
#include "server/config.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/pool.h"
#include "server/process.h"
#include "server/tls.h"
#include <sys/resource.h>

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
    pthread_mutex_t mu; /* guards set, auth and http */
    gr_modelset *set;
    /* NULL without --auth-tokens, and after a reload that could not read
     * the file: then every token is refused (env.authorize stays set) */
    gr_auth *auth;
    gr_http *http;
    atomic_int ready; /* read by the HTTP threads */
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

static int submit_batch(void *ctx, void (*fn)(void *), void (*batch)(void **, size_t),
                        void (*cancel)(void *), void *arg, const void *key)
{
    daemon_state *s = ctx;
    return gr_pool_submit_batch(s->pool, fn, batch, cancel, arg, key);
}

static int is_ready(void *ctx)
{
    return ((daemon_state *)ctx)->ready;
}

static int authorize(void *ctx, const char *token, size_t len)
{
    daemon_state *s = ctx;
    pthread_mutex_lock(&s->mu);
    int ok = gr_auth_check(s->auth, token, len);
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static char *metrics_text(void *ctx, size_t *len)
{
    daemon_state *s = ctx;
    gr_metrics_gauges g = { .queue_depth = gr_pool_queued(s->pool),
                            .workers_busy = gr_pool_busy(s->pool) };
    gr_pool_batches(s->pool, &g.batches, &g.batched_tasks);
    pthread_mutex_lock(&s->mu);
    g.models_loaded = gr_modelset_count(s->set);
    g.auth = s->cfg.auth_tokens != NULL;
    g.auth_tokens = gr_auth_count(s->auth);
    if (s->http) {
        gr_http_connections(s->http, &g.connections_open, &g.connections_refused);
        gr_http_bodies(s->http, &g.body_memory_bytes, &g.spool_bytes);
    }
    pthread_mutex_unlock(&s->mu);
    return gr_metrics_render(s->metrics, &g, len);
}

static void request_done(void *ctx, const gr_http_done *d)
{
    daemon_state *s = ctx;
    gr_metrics_request(s->metrics, d->route, d->status, d->seconds);
    if (gr_http_is_predict(d->route) && d->status == 200)
        gr_metrics_predictions(s->metrics, d->model, d->samples);
    gr_log_level level = d->status >= 500 ? GR_LOG_WARN : GR_LOG_INFO;
    if (!gr_log_enabled(&s->log, level))
        return;
    /* the method is the client's bytes, whatever they are (gr_log_fields
     * writes what is not printable ASCII as gr_log_string would) */
    gr_log_field f[10] = {
        { .key = "request_id", .s = d->request_id },
        { .key = "method", .s = d->method ? d->method : "" },
        { .key = "route", .s = gr_route_names[d->route] },
        { .key = "status", .i = d->status },
        { .key = "duration_ms", .f = d->seconds * 1e3, .real = 1 },
        { .key = "bytes_in", .i = (long long)d->bytes_in },
        { .key = "bytes_out", .i = (long long)d->bytes_out },
    };
    size_t n = 7;
    if (d->model[0]) {
        f[n++] = (gr_log_field){ .key = "model", .s = d->model };
        f[n++] = (gr_log_field){ .key = "samples", .i = (long long)d->samples };
    }
    if (d->error[0])
        f[n++] = (gr_log_field){ .key = "problem", .s = d->error };
    gr_log_fields(&s->log, level, "request", f, n);
}

/* Each line of --auth-tokens that is not a token: its number, never its
 * text. */
static void report_token_line(void *arg, size_t line, const char *why)
{
    daemon_state *s = arg;
    gr_log_write(&s->log, GR_LOG_WARN, "token line rejected",
                 json_pack("{s:o?, s:I, s:s}", "file", gr_log_string(s->cfg.auth_tokens), "line",
                           (json_int_t)line, "error", why));
}

/* Reads --auth-tokens: new, or NULL with why filled (unreadable). The
 * rejected lines are logged and counted. */
static gr_auth *read_tokens(daemon_state *s, char *why, size_t n)
{
    gr_auth *a = gr_auth_load(s->cfg.auth_tokens, report_token_line, s, why, n);
    gr_metrics_token_lines_rejected(s->metrics, gr_auth_rejected(a));
    return a;
}

/* SIGHUP also rereads --auth-tokens, so tokens rotate without a restart.
 * Revocation fails closed: the file takes effect as written, less its bad
 * lines; one with no token left, or that no longer reads, refuses every
 * protected request until a reload finds tokens again. */
static void reload_tokens(daemon_state *s)
{
    char why[512];
    gr_auth *fresh = read_tokens(s, why, sizeof why);
    pthread_mutex_lock(&s->mu);
    gr_auth *old = s->auth;
    s->auth = fresh;
    pthread_mutex_unlock(&s->mu);
    gr_auth_free(old);
    if (!fresh)
        gr_log_write(&s->log, GR_LOG_ERROR, "token reload failed",
                     json_pack("{s:o?, s:s}", "error", gr_log_string(why), "in_force",
                               "no token: every protected request is refused"));
    else if (!gr_auth_count(fresh))
        gr_log_write(&s->log, GR_LOG_ERROR, "no tokens",
                     json_pack("{s:o?, s:I, s:s}", "file", gr_log_string(s->cfg.auth_tokens),
                               "rejected_lines", (json_int_t)gr_auth_rejected(fresh), "in_force",
                               "no token: every protected request is refused"));
    else
        gr_log_event(&s->log, "tokens reloaded",
                     json_pack("{s:I, s:I}", "tokens", (json_int_t)gr_auth_count(fresh),
                               "rejected_lines", (json_int_t)gr_auth_rejected(fresh)));
}

/* At start, --auth-tokens must read and hold a token: a daemon that would
 * refuse every request is a mistake to report, not to serve (bad lines are
 * skipped as on a reload, so a restart serves what a reload did). 0, or -1
 * with why filled. */
static int start_tokens(daemon_state *s, char *why, size_t n)
{
    if (!s->cfg.auth_tokens)
        return 0;
    if (!(s->auth = read_tokens(s, why, n)))
        return -1;
    if (!gr_auth_count(s->auth)) {
        snprintf(why, n, "--auth-tokens %s holds no tokens%s", s->cfg.auth_tokens,
                 gr_auth_rejected(s->auth) ? ", only lines that are not tokens" : "");
        return -1;
    }
    return 0;
}

/* Descriptors for every connection allowed, plus upload spools, models
 * being read and the daemon's own: the soft limit is raised as far as the
 * hard one allows. 0, or -1 with why filled. */
static int raise_fd_limit(size_t connections, char *why, size_t n)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)connections + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return 0;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < want) {
        snprintf(why, n,
                 "--max-connections %zu needs %llu file descriptors; the limit is %llu "
                 "(ulimit -n)",
                 connections, (unsigned long long)want, (unsigned long long)rl.rlim_cur);
        return -1;
    }
    return 0;
}

/* Each bundle that does not load, in the log (and, at start, on stderr):
 * the first error alone would hide the others until each is fixed. */
static void log_broken_bundle(void *arg, const gr_error *err)
{
    daemon_state *s = arg;
    char buf[1200];
    gr_log_write(&s->log, GR_LOG_ERROR, "bundle does not load",
                 json_pack("{s:s}", "error", gr_error_format(err, buf, sizeof buf)));
}

static void print_broken_bundle(void *arg, const gr_error *err)
{
    char buf[1200];
    log_broken_bundle(arg, err);
    fprintf(stderr, "genoriskd: %s\n", gr_error_format(err, buf, sizeof buf));
}

static void reload(daemon_state *s)
{
    gr_modelset *fresh = NULL;
    gr_error err;
    char buf[1200];
    if (s->cfg.auth_tokens)
        reload_tokens(s);
    if (gr_modelset_load_each(s->cfg.models, log_broken_bundle, s, &fresh, &err)) {
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

/* How long past the drain deadline a worker may take to notice it. */
#define STUCK_GRACE_MS 2000

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
    /* before a token, a key or a model is read, and long before genotypes */
    if (gr_process_no_core_dumps(why, sizeof why)) {
        gr_log_write(&s.log, GR_LOG_ERROR, "cannot start",
                     json_pack("{s:o?}", "error", gr_log_string(why)));
        fprintf(stderr, "genoriskd: %s\n", why);
        return 1;
    }
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
        fprintf(stderr,
                "genoriskd: --tmp-dir %s is not a writable directory (uploads are "
                "spooled there)\n",
                s.cfg.tmp_dir);
        return 1;
    }
    char *tls_cert = NULL, *tls_key = NULL;
    if (!(s.metrics = gr_metrics_new())) {
        fprintf(stderr, "genoriskd: out of memory\n");
        return 1;
    }
    if (raise_fd_limit(s.cfg.max_connections, why, sizeof why) ||
        start_tokens(&s, why, sizeof why) ||
        (s.cfg.tls_cert &&
         gr_tls_load(s.cfg.tls_cert, s.cfg.tls_key, &tls_cert, &tls_key, why, sizeof why))) {
        gr_log_write(&s.log, GR_LOG_ERROR, "cannot start",
                     json_pack("{s:o?}", "error", gr_log_string(why)));
        fprintf(stderr, "genoriskd: %s\n", why);
        gr_auth_free(s.auth);
        gr_metrics_free(s.metrics);
        return 1;
    }
    if (gr_modelset_load_each(s.cfg.models, print_broken_bundle, &s, &s.set, &err)) {
        gr_log_write(&s.log, GR_LOG_ERROR, "cannot load models",
                     json_pack("{s:s}", "error", gr_error_format(&err, buf, sizeof buf)));
        fprintf(stderr, "genoriskd: cannot load models: %s\n", buf);
        rc = 1;
        goto out;
    }
    s.pool = gr_pool_new_batching(s.cfg.workers, s.cfg.queue_depth, s.cfg.batch_max,
                                  (long)s.cfg.batch_wait_us);
    if (!s.pool) {
        fprintf(stderr, "genoriskd: cannot start %d worker threads\n", s.cfg.workers);
        rc = 1;
        goto out;
    }
    gr_http_env env = {
        .ctx = &s,
        .acquire_models = acquire_models,
        .submit = submit,
        .submit_batch = submit_batch,
        .ready = is_ready,
        .metrics_text = metrics_text,
        .done = request_done,
        .max_body_bytes = s.cfg.max_body_bytes,
        .max_upload_bytes = s.cfg.max_upload_bytes,
        .max_body_memory = s.cfg.max_body_memory,
        .max_spool_bytes = s.cfg.max_spool_bytes,
        .tmp_dir = s.cfg.tmp_dir,
        .max_samples = s.cfg.max_samples,
        .authorize = s.cfg.auth_tokens ? authorize : NULL,
        .auth_metrics = s.cfg.auth_metrics,
        .tls_cert = tls_cert,
        .tls_key = tls_key,
        .max_connections = s.cfg.max_connections,
        .connection_timeout_s = (unsigned)s.cfg.connection_timeout_s,
        .max_json_depth = s.cfg.max_json_depth,
        .max_json_string = s.cfg.max_json_string,
        .max_vcf_line = s.cfg.max_vcf_line,
        .max_vcf_header = s.cfg.max_vcf_header,
        .max_dosage_bytes = s.cfg.max_dosage_bytes,
        .max_response_bytes = s.cfg.max_response_bytes,
        .request_timeout_s = (unsigned)s.cfg.request_timeout_s,
        .request_threads = s.cfg.request_threads ? (int)s.cfg.request_threads : s.cfg.workers,
        .openapi = gr_openapi_yaml,
        .openapi_len = gr_openapi_yaml_len,
    };
    int http_threads = s.cfg.workers < 2 ? 1 : 2;
    gr_http *http = gr_http_start(&env, s.cfg.host, s.cfg.port, http_threads, why, sizeof why);
    if (http && s.cfg.health &&
        gr_http_listen_health(http, s.cfg.health_host, s.cfg.health_port, why, sizeof why)) {
        gr_http_stop(http);
        http = NULL;
    }
    if (!http) {
        gr_log_write(&s.log, GR_LOG_ERROR, "cannot listen",
                     json_pack("{s:o?}", "error", gr_log_string(why)));
        fprintf(stderr, "genoriskd: %s\n", why);
        rc = 1;
        goto out;
    }
    pthread_mutex_lock(&s.mu);
    s.http = http;
    pthread_mutex_unlock(&s.mu);
    pthread_sigmask(SIG_UNBLOCK, &ours, NULL); /* pending ones are delivered now */
    s.ready = 1;
    json_t *listening = json_pack(
        "{s:s, s:i, s:I, s:i, s:I, s:I, s:i, s:s, s:b, s:b}", "address", s.cfg.host, "port",
        (int)gr_http_port(http), "models", (json_int_t)gr_modelset_count(s.set), "workers",
        s.cfg.workers, "batch_max", (json_int_t)s.cfg.batch_max, "batch_wait_us",
        (json_int_t)s.cfg.batch_wait_us, "request_threads", env.request_threads, "version",
        GR_VERSION, "tls", tls_cert != NULL, "auth", s.auth != NULL);
    if (listening && s.cfg.health) {
        json_object_set_new(listening, "health_address", json_string(s.cfg.health_host));
        json_object_set_new(listening, "health_port", json_integer(gr_http_health_port(http)));
    }
    gr_log_event(&s.log, "listening", listening);

    unsigned long long refused_logged = 0, ticks = 0;
    long since_refusal_log = 0;
    while (!stop_requested) {
        if (reload_requested) {
            reload_requested = 0;
            reload(&s);
        }
        sleep_ms(50);
        /* Every 10 s, freed heap pages go back to the system: after a burst
         * (a 10,000-sample request, a flood of uploads) glibc keeps them in
         * its per-thread arenas, and RSS would creep up with fragmentation
         * although nothing leaks (docs/soak.md). */
        if (++ticks % 200 == 0)
            malloc_trim(0);
        /* refusals are logged in sums, at most every 10 s: a flood of them
         * must not become a flood of log lines */
        since_refusal_log += 50;
        size_t open_now;
        unsigned long long refused;
        gr_http_connections(http, &open_now, &refused);
        if (refused > refused_logged && since_refusal_log >= 10000) {
            gr_log_write(&s.log, GR_LOG_WARN, "connections refused",
                         json_pack("{s:I, s:I, s:I}", "refused",
                                   (json_int_t)(refused - refused_logged), "open",
                                   (json_int_t)open_now, "max_connections",
                                   (json_int_t)s.cfg.max_connections));
            refused_logged = refused;
            since_refusal_log = 0;
        }
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
    /* Work stops at its next sample or batch of records; one library call
     * that never returns must not hold the exit past the deadline: after a
     * grace of STUCK_GRACE_MS the process exits with the worker in it. */
    for (int waited = 0; gr_pool_busy(s.pool) > 0 && waited < STUCK_GRACE_MS; waited += 20)
        sleep_ms(20);
    size_t stuck = gr_pool_busy(s.pool);
    if (stuck) {
        gr_log_write(&s.log, GR_LOG_ERROR, "stopped",
                     json_pack("{s:I, s:I, s:I}", "past_deadline", (json_int_t)left, "cancelled",
                               (json_int_t)cancelled, "stuck_workers", (json_int_t)stuck));
        _exit(1);
    }
    gr_pool_free(s.pool);
    for (int waited = 0; gr_http_in_flight(http) > 0 && waited < 2000; waited += 20)
        sleep_ms(20);
    pthread_mutex_lock(&s.mu);
    s.http = NULL;
    pthread_mutex_unlock(&s.mu);
    gr_http_stop(http);
    s.pool = NULL;
    gr_log_event(&s.log, "stopped",
                 json_pack("{s:I, s:I}", "past_deadline", (json_int_t)left, "cancelled",
                           (json_int_t)cancelled));
    rc = 0;

out:
    gr_pool_free(s.pool);
    gr_modelset_release(s.set);
    gr_auth_free(s.auth);
    free(tls_cert);
    gr_tls_free_key(tls_key);
    gr_metrics_free(s.metrics);
    pthread_mutex_destroy(&s.mu);
    return rc;
}
