/* metrics.c - see metrics.h. Request counters and histograms are atomics, so
 * the HTTP threads never queue on a lock for them; the rarer updates (model
 * sample counts, reloads) share one mutex. */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "server/metrics.h"

static const double buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                  0.1,    0.25,  0.5,    1,     2.5,  5,     10 };
#define N_BUCKETS (sizeof buckets / sizeof *buckets)
#define MAX_CODES 24

typedef struct {
    atomic_uint code; /* 0: slot free */
    atomic_ullong n;
} code_count;

typedef struct {
    char *name;
    unsigned long long samples;
} model_count;

struct gr_metrics {
    pthread_mutex_t mu;
    code_count codes[GR_ROUTE_COUNT][MAX_CODES];
    atomic_ullong hist[GR_ROUTE_COUNT][N_BUCKETS + 1];
    atomic_ullong sum_ns[GR_ROUTE_COUNT];
    atomic_ullong count[GR_ROUTE_COUNT];
    model_count *models;
    size_t n_models;
    unsigned long long reloads[2]; /* failure, success */
    unsigned long long token_lines_rejected;
    double start_time;
};

gr_metrics *gr_metrics_new(void)
{
    gr_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m->start_time = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    return m;
}

void gr_metrics_free(gr_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_models; i++)
        free(m->models[i].name);
    free(m->models);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void gr_metrics_request(gr_metrics *m, gr_route route, unsigned code, double seconds)
{
    if ((unsigned)route >= GR_ROUTE_COUNT)
        route = GR_ROUTE_OTHER;
    code_count *c = m->codes[route];
    for (size_t i = 0; i < MAX_CODES; i++) {
        unsigned seen = atomic_load(&c[i].code);
        if (seen == 0) { /* claim the free slot, unless another thread just did */
            unsigned expect = 0;
            if (atomic_compare_exchange_strong(&c[i].code, &expect, code))
                seen = code;
            else
                seen = expect;
        }
        if (seen == code) {
            atomic_fetch_add(&c[i].n, 1);
            break;
        }
    }
    size_t b = 0;
    while (b < N_BUCKETS && seconds > buckets[b])
        b++;
    atomic_fetch_add(&m->hist[route][b], 1);
    atomic_fetch_add(&m->sum_ns[route], (unsigned long long)(seconds * 1e9));
    atomic_fetch_add(&m->count[route], 1);
}

void gr_metrics_predictions(gr_metrics *m, const char *model, size_t samples)
{
    pthread_mutex_lock(&m->mu);
    size_t i = 0;
    while (i < m->n_models && strcmp(m->models[i].name, model))
        i++;
    if (i == m->n_models) {
        model_count *mc = realloc(m->models, (m->n_models + 1) * sizeof *mc);
        char *name = strdup(model);
        if (!mc || !name) {
            free(name);
            if (mc)
                m->models = mc;
            pthread_mutex_unlock(&m->mu);
            return;
        }
        m->models = mc;
        m->models[m->n_models++] = (model_count){ name, 0 };
    }
    m->models[i].samples += samples;
    pthread_mutex_unlock(&m->mu);
}

void gr_metrics_reload(gr_metrics *m, int success)
{
    pthread_mutex_lock(&m->mu);
    m->reloads[success ? 1 : 0]++;
    pthread_mutex_unlock(&m->mu);
}

void gr_metrics_token_lines_rejected(gr_metrics *m, size_t lines)
{
    pthread_mutex_lock(&m->mu);
    m->token_lines_rejected += lines;
    pthread_mutex_unlock(&m->mu);
}

typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

static size_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

/* Label values here are fixed templates and model names ([a-z0-9._-]), so no
 * escaping is needed. */
/* Entries in /proc/self/fd, less the one counting them. */
static size_t open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    size_t n = 0;
    if (!d)
        return 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own */
}

char *gr_metrics_render(gr_metrics *m, const gr_metrics_gauges *g, size_t *len)
{
    sbuf b = { malloc(8192), 0, 8192, 0 };
    if (!b.s)
        return NULL;
    pthread_mutex_lock(&m->mu);
    put(&b, "# HELP genorisk_requests_total HTTP requests answered, by route and status code.\n"
            "# TYPE genorisk_requests_total counter\n");
    for (int r = 0; r < GR_ROUTE_COUNT; r++)
        for (size_t i = 0; i < MAX_CODES && atomic_load(&m->codes[r][i].code); i++)
            put(&b, "genorisk_requests_total{route=\"%s\",code=\"%u\"} %llu\n", gr_route_names[r],
                atomic_load(&m->codes[r][i].code), atomic_load(&m->codes[r][i].n));
    put(&b, "# HELP genorisk_request_duration_seconds Time from request start to completion.\n"
            "# TYPE genorisk_request_duration_seconds histogram\n");
    for (int r = 0; r < GR_ROUTE_COUNT; r++) {
        unsigned long long count = atomic_load(&m->count[r]);
        if (!count)
            continue;
        /* buckets read one by one may run a request ahead of count; report
         * count as the +Inf bucket's cumulative value, as Prometheus expects */
        unsigned long long cum = 0;
        for (size_t i = 0; i <= N_BUCKETS; i++) {
            cum += atomic_load(&m->hist[r][i]);
            if (i == N_BUCKETS)
                count = cum;
            if (i < N_BUCKETS)
                put(&b, "genorisk_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                    gr_route_names[r], buckets[i], cum);
            else
                put(&b, "genorisk_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                    gr_route_names[r], cum);
        }
        put(&b, "genorisk_request_duration_seconds_sum{route=\"%s\"} %.9g\n", gr_route_names[r],
            (double)atomic_load(&m->sum_ns[r]) * 1e-9);
        put(&b, "genorisk_request_duration_seconds_count{route=\"%s\"} %llu\n", gr_route_names[r],
            count);
    }
    put(&b,
        "# HELP genorisk_queue_depth Predict requests waiting for a worker.\n"
        "# TYPE genorisk_queue_depth gauge\ngenorisk_queue_depth %zu\n",
        g->queue_depth);
    put(&b,
        "# HELP genorisk_workers_busy Workers running a request.\n"
        "# TYPE genorisk_workers_busy gauge\ngenorisk_workers_busy %zu\n",
        g->workers_busy);
    put(&b,
        "# HELP genorisk_batches_total Runs of two or more one-sample predicts of one model "
        "together (--batch-max).\n"
        "# TYPE genorisk_batches_total counter\ngenorisk_batches_total %llu\n"
        "# HELP genorisk_batched_requests_total Predict requests run in those batches.\n"
        "# TYPE genorisk_batched_requests_total counter\ngenorisk_batched_requests_total %llu\n",
        g->batches, g->batched_tasks);
    put(&b,
        "# HELP genorisk_connections_open HTTP connections open.\n"
        "# TYPE genorisk_connections_open gauge\ngenorisk_connections_open %zu\n",
        g->connections_open);
    put(&b,
        "# HELP genorisk_connections_refused_total Connections closed on arrival: "
        "--max-connections were open.\n"
        "# TYPE genorisk_connections_refused_total counter\n"
        "genorisk_connections_refused_total %llu\n",
        g->connections_refused);
    put(&b,
        "# HELP genorisk_body_memory_bytes Bytes of JSON request bodies held in memory now "
        "(--max-body-memory-bytes).\n"
        "# TYPE genorisk_body_memory_bytes gauge\ngenorisk_body_memory_bytes %zu\n",
        g->body_memory_bytes);
    put(&b,
        "# HELP genorisk_spool_bytes Bytes of uploads spooled to disk now (--max-spool-bytes).\n"
        "# TYPE genorisk_spool_bytes gauge\ngenorisk_spool_bytes %zu\n",
        g->spool_bytes);
    put(&b, "# HELP genorisk_predictions_total Samples predicted, by model.\n"
            "# TYPE genorisk_predictions_total counter\n");
    for (size_t i = 0; i < m->n_models; i++)
        put(&b, "genorisk_predictions_total{model=\"%s\"} %llu\n", m->models[i].name,
            m->models[i].samples);
    put(&b,
        "# HELP genorisk_models_loaded Models being served.\n"
        "# TYPE genorisk_models_loaded gauge\ngenorisk_models_loaded %zu\n",
        g->models_loaded);
    put(&b,
        "# HELP genorisk_reloads_total Model reloads (SIGHUP), by result.\n"
        "# TYPE genorisk_reloads_total counter\n"
        "genorisk_reloads_total{result=\"success\"} %llu\n"
        "genorisk_reloads_total{result=\"failure\"} %llu\n",
        m->reloads[1], m->reloads[0]);
    if (g->auth)
        put(&b,
            "# HELP genorisk_auth_tokens Tokens of --auth-tokens in force; 0 refuses every "
            "protected request.\n"
            "# TYPE genorisk_auth_tokens gauge\ngenorisk_auth_tokens %zu\n"
            "# HELP genorisk_auth_token_lines_rejected_total Lines of --auth-tokens skipped as "
            "not tokens, at start and on reloads.\n"
            "# TYPE genorisk_auth_token_lines_rejected_total counter\n"
            "genorisk_auth_token_lines_rejected_total %llu\n",
            g->auth_tokens, m->token_lines_rejected);
    double start = m->start_time;
    pthread_mutex_unlock(&m->mu);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    put(&b,
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %zu\n",
        resident_bytes());
    put(&b,
        "# HELP process_open_fds Number of open file descriptors.\n"
        "# TYPE process_open_fds gauge\nprocess_open_fds %zu\n",
        open_fds());
    put(&b,
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.6f\n",
        cpu);
    put(&b,
        "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
        "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n",
        start);
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    *len = b.len;
    return b.s;
}
