/* http.c - see http.h.
 *
 * A request's life: the first call of the access handler refuses a
 * request whose framing is ambiguous or that lacks Host (400, and the
 * connection closed), routes it and answers at once whatever does not need
 * the body (every GET, and every error known from the headers: 404, 405,
 * 413 by Content-Length, 415, bad query parameters, not ready). A predict
 * body is then gathered up to max_body_bytes; when complete, the
 * connection is suspended and the work goes to the server's pool; the
 * worker builds the response and resumes the connection, and the next
 * handler call queues it. The completion callback reports the request and
 * frees its state. HTTP threads never parse predict bodies nor run
 * models. */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "api/http.h"
#include "api/http_internal.h"
#include "api/predict_json.h"
#include "api/problem.h"

const char *const gr_route_names[GR_ROUTE_COUNT] = { "/healthz",
                                                     "/readyz",
                                                     "/metrics",
                                                     "/openapi.yaml",
                                                     "/v1/models",
                                                     "/v1/models/{name}",
                                                     "/v1/models/{name}/predict",
                                                     "/v1/predict",
                                                     "other" };

double gr_http_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Random bytes for request ids, drawn from getrandom(2) 4 KiB at a time per
 * thread: uuid_generate_random() makes several system calls per id, which
 * showed as the largest cost of a /healthz answer. */
static void random_bytes(unsigned char *out, size_t n)
{
    static _Thread_local unsigned char pool[4096];
    static _Thread_local size_t used = sizeof pool;
    if (used + n > sizeof pool) {
        size_t got = 0;
        while (got < sizeof pool) {
            ssize_t k = getrandom(pool + got, sizeof pool - got, 0);
            if (k <= 0)
                break;
            got += (size_t)k;
        }
        if (got < sizeof pool) { /* no getrandom: let libuuid find entropy */
            uuid_generate_random(out);
            return;
        }
        used = 0;
    }
    memcpy(out, pool + used, n);
    used += n;
}

/* The caller's id when it is 1..128 of [A-Za-z0-9._-], else a new UUID v4. */
static void set_request_id(req *r, const char *given)
{
    size_t n = given ? strlen(given) : 0;
    int ok = n >= 1 && n <= 128;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)given[i]) || given[i] == '.' || given[i] == '_' ||
             given[i] == '-';
    if (ok) {
        memcpy(r->request_id, given, n + 1);
        return;
    }
    uuid_t u;
    random_bytes(u, sizeof u);
    u[6] = (unsigned char)((u[6] & 0x0F) | 0x40); /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    uuid_unparse_lower(u, r->request_id);
}

/* Stores the answer in r (taking ownership of body). */
void gr_http_set_answer(req *r, unsigned status, const char *ctype, char *body, size_t len)
{
    free(r->resp);
    r->resp_static = NULL;
    r->status = status;
    r->ctype = ctype;
    r->resp = body;
    r->resp_len = len;
}

void gr_http_set_problem(req *r, gr_problem_id id, const char *detail, const char *field)
{
    const gr_problem_kind *k = gr_problem_kind_of(id);
    size_t len;
    char *body = gr_problem_json(k->status, k->slug, k->title, detail, field, r->instance,
                                 r->request_id, &len);
    /* the log gets the kind of problem only: details may quote the URL */
    snprintf(r->error, sizeof r->error, "%s", k->slug);
    gr_http_set_answer(r, k->status, "application/problem+json", body, len);
}

/* Adds "request_id" to a JSON document and stores it as the answer. */
void gr_http_set_json(req *r, unsigned status, json_t *doc)
{
    /* a NULL doc (out of memory building it) fails here too, as 500 */
    int bad = json_object_set_new(doc, "request_id", json_string(r->request_id));
    char *s = bad ? NULL : gr_api_json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(doc);
    if (!s) {
        gr_http_set_problem(r, GR_PROBLEM_INTERNAL, "out of memory", NULL);
        return;
    }
    gr_http_set_answer(r, status, "application/json", s, strlen(s));
}

static enum MHD_Result queue_answer(req *r)
{
    struct MHD_Response *resp;
    if (r->stream)
        resp = gr_http_stream_response(r->stream);
    else if (r->resp_static)
        resp = MHD_create_response_from_buffer(r->resp_len, (void *)r->resp_static,
                                               MHD_RESPMEM_PERSISTENT);
    else if (r->resp)
        resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
    else
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    r->bytes_out = r->resp_len;
    r->resp = NULL; /* the response owns it now */
    MHD_add_response_header(resp, "X-Request-ID", r->request_id);
    if (r->ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
    if (r->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->retry_after)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (r->www_auth)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, r->www_auth);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    /* draining: send keep-alive clients elsewhere; a framing fault: what
     * follows on the connection cannot be told from a body */
    if (r->h->quiesced || r->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    r->answered = 1;
    return ret;
}

static gr_route route_of(const char *url, char *name, size_t name_size)
{
    static const struct {
        const char *path;
        gr_route route;
    } fixed[] = { { "/healthz", GR_ROUTE_HEALTHZ },  { "/readyz", GR_ROUTE_READYZ },
                  { "/metrics", GR_ROUTE_METRICS },  { "/openapi.yaml", GR_ROUTE_OPENAPI },
                  { "/v1/models", GR_ROUTE_MODELS }, { "/v1/models/", GR_ROUTE_MODELS },
                  { "/v1/predict", GR_ROUTE_PANEL } };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (!strcmp(url, fixed[i].path))
            return fixed[i].route;
    const char *p = "/v1/models/";
    if (strncmp(url, p, strlen(p)))
        return GR_ROUTE_OTHER;
    const char *n = url + strlen(p), *slash = strchr(n, '/');
    size_t len = slash ? (size_t)(slash - n) : strlen(n);
    if (len == 0 || len >= name_size)
        return GR_ROUTE_OTHER;
    memcpy(name, n, len);
    name[len] = '\0';
    if (!slash)
        return GR_ROUTE_MODEL;
    return !strcmp(slash, "/predict") ? GR_ROUTE_PREDICT : GR_ROUTE_OTHER;
}

/* ---- framing (RFC 9112 sections 3.2, 6.1, 6.3) ---- */

typedef struct {
    int te, cl, host;            /* how many of each header */
    const char *te_value;        /* the last Transfer-Encoding */
    unsigned long long cl_value; /* the first Content-Length */
    int cl_bad, cl_differ;
} framing;

/* Each header line, repeated ones included (libmicrohttpd lists them
 * separately; its own lookup returns only the first). */
static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    framing *f = cls;
    if (!key || !value)
        return MHD_YES;
    if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        f->te++;
        f->te_value = value;
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        size_t n = strspn(value, "0123456789");
        unsigned long long v = strtoull(value, NULL, 10);
        if (n == 0 || value[n] || n > 19)
            f->cl_bad = 1;
        else if (f->cl && v != f->cl_value)
            f->cl_differ = 1;
        if (!f->cl++)
            f->cl_value = v;
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_HOST)) {
        f->host++;
    }
    return MHD_YES;
}

/* Why the request's framing or Host is unacceptable, or NULL. A message
 * whose body length two parties could read two ways is how a second
 * request is smuggled inside a first one's body: libmicrohttpd 0.9.75 takes
 * Transfer-Encoding over Content-Length, the first of two Content-Lengths,
 * and any Transfer-Encoding as "read until the end". */
static const char *framing_fault(struct MHD_Connection *conn, const char *version)
{
    framing f = { 0 };
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
    int http10 = version && !strcmp(version, MHD_HTTP_VERSION_1_0);
    if (f.te && f.cl)
        return "a request may not have both Transfer-Encoding and Content-Length";
    if (f.te > 1)
        return "Transfer-Encoding may appear only once";
    if (f.te && strcasecmp(f.te_value, "chunked"))
        return "the only Transfer-Encoding accepted is chunked";
    if (f.te && http10)
        return "an HTTP/1.0 request may not have a Transfer-Encoding";
    if (f.cl_bad)
        return "Content-Length must be decimal digits only";
    if (f.cl_differ)
        return "the request's Content-Length headers disagree";
    if (f.host > 1)
        return "a request may have only one Host header";
    if (!f.host && !http10)
        return "an HTTP/1.1 request needs a Host header";
    return NULL;
}

/* ---- bearer tokens ---- */

static int route_is_open(const gr_http *h, gr_route route)
{
    return route == GR_ROUTE_HEALTHZ || route == GR_ROUTE_READYZ || route == GR_ROUTE_OPENAPI ||
           (route == GR_ROUTE_METRICS && !h->env.auth_metrics);
}

/* 1 when the request may go on; else the 401 is set (RFC 6750: a request
 * with no token gets the bare challenge, a wrong one error="invalid_token").
 * The token is never copied, logged or echoed. */
static int authorized(req *r)
{
    gr_http *h = r->h;
    if (!h->env.authorize || route_is_open(h, r->route))
        return 1;
    const char *v =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (v && !strncasecmp(v, "Bearer ", 7)) {
        const char *t = v + 7;
        while (*t == ' ')
            t++;
        size_t n = strlen(t);
        while (n && t[n - 1] == ' ')
            n--;
        if (n && h->env.authorize(h->env.ctx, t, n))
            return 1;
        r->www_auth = "Bearer realm=\"genorisk\", error=\"invalid_token\"";
        gr_http_set_problem(r, GR_PROBLEM_UNAUTHORIZED, "the bearer token is not valid", NULL);
        return 0;
    }
    r->www_auth = "Bearer realm=\"genorisk\"";
    gr_http_set_problem(r, GR_PROBLEM_UNAUTHORIZED,
                        "this route needs an Authorization: Bearer token", NULL);
    return 0;
}

/* ---- GET routes ---- */

static void answer_models(req *r, const char *name)
{
    gr_modelset *set = r->h->env.acquire_models(r->h->env.ctx);
    if (name) {
        const gr_model *m = gr_modelset_find(set, name);
        if (!m) {
            char detail[160];
            snprintf(detail, sizeof detail, "no model named '%.64s' is loaded", name);
            gr_http_set_problem(r, GR_PROBLEM_MODEL_NOT_FOUND, detail, NULL);
        } else { /* found */
            gr_http_set_json(r, 200, gr_api_model_json(m, 1));
        }
    } else {
        json_t *list = json_array();
        for (size_t i = 0; i < gr_modelset_count(set); i++)
            json_array_append_new(list, gr_api_model_json(gr_modelset_at(set, i), 0));
        gr_http_set_json(r, 200, json_pack("{s:o}", "models", list));
    }
    gr_modelset_release(set);
}

static void answer_get(req *r, const char *name)
{
    gr_http *h = r->h;
    switch (r->route) {
    case GR_ROUTE_HEALTHZ: { /* the cheapest answer there is: probes come often */
        static const char ok[] = "{\"status\":\"ok\"}";
        gr_http_set_answer(r, 200, "application/json", NULL, sizeof ok - 1);
        r->resp_static = ok;
        break;
    }
    case GR_ROUTE_READYZ: {
        gr_modelset *set = h->env.acquire_models(h->env.ctx);
        size_t n = gr_modelset_count(set);
        gr_modelset_release(set);
        if (h->env.ready(h->env.ctx) && !h->quiesced)
            gr_http_set_json(r, 200,
                             json_pack("{s:s, s:I}", "status", "ready", "models", (json_int_t)n));
        else {
            r->retry_after = 1;
            gr_http_set_problem(r, GR_PROBLEM_NOT_READY,
                                h->quiesced ? "the server is draining" : "the server is starting",
                                NULL);
        }
        break;
    }
    case GR_ROUTE_METRICS: {
        size_t len = 0;
        char *text = h->env.metrics_text(h->env.ctx, &len);
        gr_http_set_answer(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
        break;
    }
    case GR_ROUTE_OPENAPI: {
        char *copy = malloc(h->env.openapi_len + 1);
        if (copy)
            memcpy(copy, h->env.openapi, h->env.openapi_len);
        gr_http_set_answer(r, 200, "application/yaml", copy, copy ? h->env.openapi_len : 0);
        break;
    }
    case GR_ROUTE_MODELS: answer_models(r, NULL); break;
    case GR_ROUTE_MODEL: answer_models(r, name); break;
    default: break;
    }
}

/* The routes the health listener serves. */
static int health_route(gr_route route)
{
    return route == GR_ROUTE_HEALTHZ || route == GR_ROUTE_READYZ || route == GR_ROUTE_METRICS;
}

/* Both listeners' access handler; health: the request came to the health
 * listener. */
static enum MHD_Result serve(gr_http *h, int health, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload_data,
                             size_t *upload_data_size, void **con_cls)
{
    req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        atomic_fetch_add(&h->in_flight, 1);
        r->h = h;
        r->conn = conn;
        r->spool = -1;
        r->t0 = gr_http_now();
        r->method = method;
        set_request_id(r, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-ID"));
        size_t url_len = strnlen(url, 250); /* as "%.250s" would */
        memcpy(r->instance, url, url_len);
        r->instance[url_len] = '\0';
        char name[256] = "";
        r->route = route_of(url, name, sizeof name);
        int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
        int post = !strcmp(method, "POST");
        /* Answers are queued on a later call, once MHD has read the request:
         * a response queued on the first call would cost the keep-alive.
         * Only a framing fault, a stranger and an oversized Content-Length
         * are answered at once, unread. */
        r->decided = 1;
        const char *fault = framing_fault(conn, version);
        if (fault) {
            /* at once, unread, and the connection closed: its next bytes
             * would be a body to one reader and a request to another */
            r->close = 1;
            gr_http_set_problem(r, GR_PROBLEM_INVALID_REQUEST, fault, NULL);
            return queue_answer(r);
        } else if (health && !health_route(r->route)) {
            r->route = GR_ROUTE_OTHER;
            gr_http_set_problem(r, GR_PROBLEM_NOT_FOUND,
                                "this listener serves only /healthz, /readyz and /metrics", NULL);
        } else if (!authorized(r)) {
            /* at once, unread: no body is worth reading for a stranger */
            return queue_answer(r);
        } else if (r->route == GR_ROUTE_OTHER) {
            gr_http_set_problem(r, GR_PROBLEM_NOT_FOUND, "no such route", NULL);
        } else if (gr_http_is_predict(r->route) ? !post : !get) {
            r->allow = gr_http_is_predict(r->route) ? "POST" : "GET, HEAD";
            char detail[96];
            snprintf(detail, sizeof detail, "%.16s is not allowed here; use %s", method, r->allow);
            gr_http_set_problem(r, GR_PROBLEM_METHOD_NOT_ALLOWED, detail, NULL);
        } else if (!gr_http_is_predict(r->route)) {
            answer_get(r, name);
        } else if (!gr_http_predict_headers(r, name)) {
            if (r->status == 413)
                return queue_answer(r);
        } else if (!gr_http_reserve_body(r)) {
            return queue_answer(r); /* 503 at once, unread, and closed */
        } else {
            r->decided = 0; /* the body decides */
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        r->bytes_in += n;
        *upload_data_size = 0;
        return gr_http_take_body(r, upload_data, n);
    }

    if (r->answered)
        return MHD_YES;
    if (r->decided)
        return queue_answer(r);
    int job = atomic_load(&r->job);
    if (job == JOB_DONE || job == JOB_STREAMING)
        return queue_answer(r);
    if (job == JOB_RUNNING)
        return MHD_YES;
    if (r->too_large) {
        char detail[160];
        snprintf(detail, sizeof detail, "the body may be at most %zu bytes",
                 r->limit ? r->limit : h->env.max_body_bytes);
        gr_http_set_problem(r, GR_PROBLEM_BODY_TOO_LARGE, detail, NULL);
        return queue_answer(r);
    }
    if (r->over_budget) /* its 503 was set when the budget ran out */
        return queue_answer(r);
    gr_http_start_predict(r);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    return serve(cls, 0, conn, url, method, version, upload_data, upload_data_size, con_cls);
}

static enum MHD_Result on_health_request(void *cls, struct MHD_Connection *conn, const char *url,
                                         const char *method, const char *version,
                                         const char *upload_data, size_t *upload_data_size,
                                         void **con_cls)
{
    return serve(cls, 1, conn, url, method, version, upload_data, upload_data_size, con_cls);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    gr_http *h = cls;
    req *r = *con_cls;
    if (!r)
        return;
    gr_http_done d = {
        .request_id = r->request_id,
        .method = r->method,
        .route = r->route,
        .status = r->status,
        .seconds = gr_http_now() - r->t0,
        .bytes_in = r->bytes_in,
        .bytes_out = r->bytes_out,
        .model = r->model ? gr_model_get_info(r->model)->name : "",
        .samples = r->samples_done,
        .error = r->status >= 400 ? r->error : "",
    };
    if (!r->answered) {
        /* libmicrohttpd answered on its own (a 500 when a chunk's size line
         * outgrows its buffer), or nobody did: the client went away first */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
        d.status = ci ? ci->http_status : 499;
        d.error = "";
    }
    if (r->stream) { /* the body went out as it was computed */
        int complete;
        gr_http_stream_totals(r->stream, &d.bytes_out, &d.samples, &complete);
        if (!complete || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
            d.status = 499; /* the client left, or the answer was cut short */
    }
    h->env.done(h->env.ctx, &d);
    gr_http_release_body(r);
    gr_http_stream_release(r->stream);
    gr_modelset_release(r->set);
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    if (r->spool >= 0) /* the client left before the work ran, or it never did */
        close(r->spool);
    for (size_t i = 0; i < r->n_samples; i++)
        free(r->samples[i]);
    free(r->samples);
    for (size_t i = 0; i < r->n_model_names; i++)
        free(r->model_names[i]);
    free(r->model_names);
    free(r->models);
    free(r->body);
    free(r->resp);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&h->in_flight, 1);
}

/* Connections over max_connections are closed as soon as accepted, before
 * a byte is read: the cheapest refusal, and one a load balancer sees at
 * once. Two HTTP threads may both admit one in the same instant, so the
 * count can pass the limit by one per thread. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
    (void)addr, (void)len;
    gr_http *h = cls;
    if (h->env.max_connections && atomic_load(&h->connections) >= h->env.max_connections) {
        atomic_fetch_add(&h->refused, 1);
        return MHD_NO;
    }
    return MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)conn, (void)socket_context;
    gr_http *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&h->connections, 1);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        atomic_fetch_sub(&h->connections, 1);
}

/* The health listener's own connection limit: probes and scrapes only. */
#define HEALTH_CONNECTIONS 16

/* Starts libmicrohttpd on host:port for h: the main listener, or (health)
 * the one that serves only the probes and /metrics, with its own small
 * connection limit and one thread. NULL, with why[] filled, on failure. */
static struct MHD_Daemon *start_listener(gr_http *h, const char *host, unsigned port, int threads,
                                         int health, char *why, size_t why_size)
{
    const gr_http_env *env = &h->env;
    struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai = NULL;
    struct MHD_Daemon *d = NULL;
    char ports[16];
    snprintf(ports, sizeof ports, "%u", port);
    int rc = getaddrinfo(host, ports, &hints, &ai);
    if (rc) {
        snprintf(why, why_size, "cannot listen on %s: %s", host, gai_strerror(rc));
        goto fail;
    }
    /* poll(), not epoll: libmicrohttpd 0.9.75's epoll loop misses a client's
     * FIN that arrives with the last bytes of an unfinished body, and holds
     * the connection (and a VCF's spool file) in CLOSE-WAIT until the idle
     * timeout (tests/integration/test_http_faults.c, docs/soak.md). poll()
     * costs grow with open connections, which --max-connections bounds. */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    int tls = env->tls_cert && env->tls_key;
    if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(why, why_size, "this libmicrohttpd was built without TLS support");
        goto fail;
    }
    if (tls)
        flags |= MHD_USE_TLS;
    /* libmicrohttpd's own limit is split among its threads, so on the main
     * listener it is set well above ours (on_accept), which counts all of
     * them; the health listener has one thread, and only its own limit */
    size_t mhd_limit =
        health ? HEALTH_CONNECTIONS : 2 * (env->max_connections ? env->max_connections : 1024) + 64;
    unsigned timeout = env->connection_timeout_s ? env->connection_timeout_s : 30;
    intptr_t pool = health || threads < 1 ? 1 : threads;
    struct MHD_OptionItem opts[9 + 1]; /* nine options at most, and the end */
    size_t n = 0;
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr };
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, pool, NULL };
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h };
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, timeout, NULL };
    opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)mhd_limit, NULL };
    if (!health) /* the main listener counts its connections (--max-connections) */
        opts[n++] =
            (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h };
    if (tls) {
        opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)env->tls_cert };
        opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)env->tls_key };
        opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
                                             (void *)GR_HTTP_TLS_PRIORITIES };
    }
    opts[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
    d = MHD_start_daemon(flags, (uint16_t)port, health ? NULL : on_accept, h,
                         health ? on_health_request : on_request, h, MHD_OPTION_ARRAY, opts,
                         MHD_OPTION_END);
    if (!d)
        snprintf(why, why_size,
                 tls ? "cannot listen on %s:%u with TLS (address in use, not permitted, or "
                       "a certificate and key libmicrohttpd refuses)"
                     : "cannot listen on %s:%u (address in use, or not permitted)",
                 host, port);

fail:
    if (ai)
        freeaddrinfo(ai);
    return d;
}

gr_http *gr_http_start(const gr_http_env *env, const char *host, unsigned port, int threads,
                       char *why, size_t why_size)
{
    gr_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    h->env = *env;
    /* a body larger than its whole budget could never be taken: that is
     * 413, not a 503 to retry (a JSON body's buffer adds its NUL byte) */
    if (env->max_body_memory && h->env.max_body_bytes >= env->max_body_memory)
        h->env.max_body_bytes = env->max_body_memory - 1;
    if (env->max_spool_bytes && h->env.max_upload_bytes > env->max_spool_bytes)
        h->env.max_upload_bytes = env->max_spool_bytes;
    h->listen_fd = MHD_INVALID_SOCKET;
    atomic_init(&h->in_flight, 0);
    atomic_init(&h->connections, 0);
    atomic_init(&h->refused, 0);
    atomic_init(&h->body_memory, 0);
    atomic_init(&h->spooled, 0);
    h->d = start_listener(h, host, port, threads, 0, why, why_size);
    if (!h->d) {
        free(h);
        return NULL;
    }
    return h;
}

int gr_http_listen_health(gr_http *h, const char *host, unsigned port, char *why, size_t why_size)
{
    h->hd = start_listener(h, host, port, 1, 1, why, why_size);
    return h->hd ? 0 : -1;
}

unsigned gr_http_health_port(const gr_http *h)
{
    const union MHD_DaemonInfo *i =
        h->hd ? MHD_get_daemon_info(h->hd, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    return i ? i->port : 0;
}

unsigned gr_http_port(const gr_http *h)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : 0;
}

void gr_http_connections(gr_http *h, size_t *open, unsigned long long *refused)
{
    *open = atomic_load(&h->connections);
    *refused = atomic_load(&h->refused);
}

void gr_http_bodies(gr_http *h, size_t *in_memory, size_t *spooled)
{
    *in_memory = atomic_load(&h->body_memory);
    *spooled = atomic_load(&h->spooled);
}

void gr_http_quiesce(gr_http *h)
{
    if (h->quiesced)
        return;
    h->quiesced = 1;
    /* Closing it now would race libmicrohttpd's own epoll bookkeeping (it
     * panics removing a closed descriptor), so it is closed after the stop;
     * shutdown() already makes the kernel refuse new connections. */
    h->listen_fd = MHD_quiesce_daemon(h->d);
    if (h->listen_fd != MHD_INVALID_SOCKET)
        shutdown(h->listen_fd, SHUT_RDWR);
}

void gr_http_abort_work(gr_http *h)
{
    atomic_store(&h->abort_work, 1);
}

size_t gr_http_in_flight(gr_http *h)
{
    return atomic_load(&h->in_flight);
}

void gr_http_stop(gr_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    if (h->quiesced && h->listen_fd != MHD_INVALID_SOCKET)
        close(h->listen_fd);
    if (h->hd) /* last: the probes are answered until the end */
        MHD_stop_daemon(h->hd);
    free(h);
}
