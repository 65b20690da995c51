/* http.h - the HTTP face of genorisk on libmicrohttpd: routing, body
 * limits, RFC 9457 problem details, request ids, and handing predictions to
 * the server's worker pool while the connection is suspended.
 * What the server owns (the model set, the pool, metrics, logs) reaches this
 * layer only through gr_http_env, so dependencies point server -> api -> core. */
#ifndef GR_API_HTTP_H
#define GR_API_HTTP_H

#include <stddef.h>

#include "core/modelset.h"

/* The GnuTLS priorities HTTPS is served with: GnuTLS's NORMAL cipher suites,
 * TLS 1.3 and 1.2 only. TLS 1.0 and 1.1 (RFC 8996) and DTLS are refused in
 * the handshake. */
#define GR_HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

typedef enum {
    GR_ROUTE_HEALTHZ,
    GR_ROUTE_READYZ,
    GR_ROUTE_METRICS,
    GR_ROUTE_OPENAPI,
    GR_ROUTE_MODELS,
    GR_ROUTE_MODEL,
    GR_ROUTE_PREDICT,
    GR_ROUTE_PANEL, /* POST /v1/predict?model=A&model=B... */
    GR_ROUTE_OTHER,
    GR_ROUTE_COUNT
} gr_route;

/* 1 for the two predict routes (POST). */
static inline int gr_http_is_predict(gr_route r)
{
    return r == GR_ROUTE_PREDICT || r == GR_ROUTE_PANEL;
}

/* Route templates, the values of the metrics' "route" label. */
extern const char *const gr_route_names[GR_ROUTE_COUNT];

/* What a finished request reports to the server for metrics and the log.
 * Never holds request bodies, genotypes or sample ids. */
typedef struct {
    const char *request_id, *method;
    gr_route route;
    unsigned status;
    double seconds;
    size_t bytes_in, bytes_out;
    const char *model; /* "" when none */
    size_t samples;
    const char *error; /* problem slug for 4xx/5xx (e.g. "invalid-input"), "" otherwise */
} gr_http_done;

typedef struct {
    void *ctx;
    /* Returns the current model set, retained (the caller releases it). */
    gr_modelset *(*acquire_models)(void *ctx);
    /* Queues fn(arg) on a worker; cancel(arg) runs instead if the server
     * drops the task unstarted (shutdown). 0, or -1 when the queue is full. */
    int (*submit)(void *ctx, void (*fn)(void *), void (*cancel)(void *), void *arg);
    /* Optional (NULL: submit): submit for a task that may run together with
     * others queued under the same key, as batch(args, n) (dynamic
     * batching; server/pool.h). */
    int (*submit_batch)(void *ctx, void (*fn)(void *), void (*batch)(void **args, size_t n),
                        void (*cancel)(void *), void *arg, const void *key);
    /* 1 when /readyz should say ready. */
    int (*ready)(void *ctx);
    /* Returns a new Prometheus text body. */
    char *(*metrics_text)(void *ctx, size_t *len);
    /* Called once per finished request. */
    void (*done)(void *ctx, const gr_http_done *d);
    /* Bearer tokens: NULL leaves every route open; else returns 1 when the
     * token (len bytes) may pass. /healthz, /readyz and /openapi.yaml stay
     * open, and /metrics unless auth_metrics. */
    int (*authorize)(void *ctx, const char *token, size_t len);
    int auth_metrics;
    /* HTTPS: PEM certificate (chain) and key text, borrowed until
     * gr_http_stop; NULL for plain HTTP. */
    const char *tls_cert, *tls_key;
    size_t max_connections;        /* more are closed as soon as accepted */
    unsigned connection_timeout_s; /* idle connections are closed */
    size_t max_json_depth, max_json_string;
    size_t max_vcf_line, max_vcf_header;
    size_t max_body_bytes;   /* JSON bodies */
    size_t max_upload_bytes; /* VCF/BCF uploads, spooled to tmp_dir */
    /* All requests together: JSON bodies held in memory, uploads spooled
     * to tmp_dir. 0: no budget. A request that does not fit is 503. */
    size_t max_body_memory, max_spool_bytes;
    size_t max_samples;
    size_t max_dosage_bytes;    /* a VCF upload's dosage matrix (gr_vcf_options), 0: none */
    size_t max_response_bytes;  /* a predict's answer, 0 = no limit */
    unsigned request_timeout_s; /* a predict's work, 0 = no limit */
    int request_threads;        /* threads that score one request's samples (JSON, one model;
                                 * tables): gr_api_panel's threads, 0 and 1: the worker alone */
    const char *tmp_dir;
    const char *openapi; /* the contract served at /openapi.yaml (borrowed) */
    size_t openapi_len;
} gr_http_env;

typedef struct gr_http gr_http;

/* Starts serving on host:port (port 0 picks one) with `threads` polling
 * threads. env is copied. Returns NULL and fills why[] on failure. */
gr_http *gr_http_start(const gr_http_env *env, const char *host, unsigned port, int threads,
                       char *why, size_t why_size);
/* The port actually bound. */
unsigned gr_http_port(const gr_http *h);
/* Opens a second listener on host:port (port 0 picks one) that serves only
 * /healthz, /readyz and /metrics (404 for the rest), with the same
 * authentication rules and TLS, its own small connection limit and its own
 * thread, so the probes answer while the main listener is full; it keeps
 * serving through a drain, until gr_http_stop. 0, or -1 with why[] filled. */
int gr_http_listen_health(gr_http *h, const char *host, unsigned port, char *why, size_t why_size);
/* The health listener's port; 0 without one. */
unsigned gr_http_health_port(const gr_http *h);
/* Connections open now, and those refused since the start (over
 * max_connections). */
void gr_http_connections(gr_http *h, size_t *open, unsigned long long *refused);
/* Bytes of request bodies the requests in flight hold now: in memory (JSON)
 * and spooled to disk (uploads), as counted against the budgets. */
void gr_http_bodies(gr_http *h, size_t *in_memory, size_t *spooled);
/* Stops accepting new connections; requests in flight carry on. */
void gr_http_quiesce(gr_http *h);
/* Makes predicts still running stop at their next sample and answer 503:
 * the last step of a shutdown whose drain deadline has passed. */
void gr_http_abort_work(gr_http *h);
/* Requests begun and not yet finished. */
size_t gr_http_in_flight(gr_http *h);
/* Stops the daemon (closing idle connections) and frees h. NULL is allowed. */
void gr_http_stop(gr_http *h);

#endif
