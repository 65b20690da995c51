/* http.c - see http.h.
 *
 * A request's life: the first call of the access handler routes it and
 * answers at once whatever does not need the body (every GET, and every
 * error known from the headers: 404, 405, 413 by Content-Length, 415, bad
 * query parameters, not ready). A predict body is then gathered up to
 * max_body_bytes; when complete, the connection is suspended and the work
 * goes to the server's pool; the worker builds the response and resumes the
 * connection, and the next handler call queues it. The completion callback
 * reports the request and frees its state. HTTP threads never parse
 * predict bodies nor run models. */
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
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "api/http.h"
#include "api/predict_json.h"
#include "api/predict_run.h"
#include "api/predict_vcf.h"
#include "api/problem.h"

const char *const gr_route_names[GR_ROUTE_COUNT] = { "/healthz",
                                                     "/readyz",
                                                     "/metrics",
                                                     "/openapi.yaml",
                                                     "/v1/models",
                                                     "/v1/models/{name}",
                                                     "/v1/models/{name}/predict",
                                                     "other" };

struct gr_http {
    gr_http_env env;
    struct MHD_Daemon *d;
    atomic_size_t in_flight;
    atomic_size_t connections; /* open now */
    atomic_ullong refused;     /* over max_connections */
    atomic_int abort_work;     /* shutting down past the deadline */
    atomic_int quiesced;       /* read by the HTTP threads, set by the server's */
    MHD_socket listen_fd;      /* returned by quiesce; closed only after MHD_stop_daemon */
};

enum { JOB_NONE, JOB_RUNNING, JOB_DONE };

typedef struct {
    gr_http *h;
    struct MHD_Connection *conn;
    double t0;
    const char *method;
    char request_id[130];
    char instance[256];
    gr_route route;
    int answered; /* a response was queued */
    int decided;  /* the answer is known; queue it once the body is consumed */
    /* predict */
    gr_modelset *set;
    const gr_model *model;
    gr_api_settings given; /* query parameters; -1 where not given */
    char *body;
    size_t body_len, body_cap, bytes_in;
    int too_large;
    /* VCF upload: spooled to an unlinked temp file */
    int vcf;      /* 1 when the body is a VCF/BCF (raw or multipart) */
    int spool;    /* descriptor, -1 when none */
    size_t limit; /* body ceiling for this request */
    struct MHD_PostProcessor *pp;
    int got_file;  /* multipart: a "file" part arrived */
    int pp_failed; /* multipart: the body did not parse, or had two files */
    int file_parts;
    int parts; /* multipart: parts seen, of any name */
    int write_failed;
    gr_vcf_options vopt;
    char **samples;
    size_t n_samples;
    atomic_int job;
    /* the answer, built by the handler or a worker */
    unsigned status;
    char *resp;
    size_t resp_len;
    const char *ctype;
    const char *allow;
    int retry_after;
    const char *www_auth; /* WWW-Authenticate value of a 401 */
    size_t samples_done;
    char error[40];
    size_t bytes_out;
} req;

static double now(void)
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
static void set_answer(req *r, unsigned status, const char *ctype, char *body, size_t len)
{
    free(r->resp);
    r->status = status;
    r->ctype = ctype;
    r->resp = body;
    r->resp_len = len;
}

static void set_problem(req *r, unsigned status, const char *slug, const char *title,
                        const char *detail, const char *field)
{
    size_t len;
    char *body =
        gr_problem_json(status, slug, title, detail, field, r->instance, r->request_id, &len);
    /* the log gets the kind of problem only: details may quote the URL */
    snprintf(r->error, sizeof r->error, "%s", slug);
    set_answer(r, status, "application/problem+json", body, len);
}

/* Adds "request_id" to a JSON document and stores it as the answer. */
static void set_json(req *r, unsigned status, json_t *doc)
{
    /* a NULL doc (out of memory building it) fails here too, as 500 */
    int bad = json_object_set_new(doc, "request_id", json_string(r->request_id));
    char *s = bad ? NULL : gr_api_json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(doc);
    if (!s) {
        set_problem(r, 500, "internal", "Internal error", "out of memory", NULL);
        return;
    }
    set_answer(r, status, "application/json", s, strlen(s));
}

static enum MHD_Result queue_answer(req *r)
{
    struct MHD_Response *resp;
    if (r->resp)
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
    if (r->h->quiesced) /* draining: send keep-alive clients elsewhere */
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
                  { "/v1/models", GR_ROUTE_MODELS }, { "/v1/models/", GR_ROUTE_MODELS } };
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
        set_problem(r, 401, "unauthorized", "Unauthorized", "the bearer token is not valid", NULL);
        return 0;
    }
    r->www_auth = "Bearer realm=\"genorisk\"";
    set_problem(r, 401, "unauthorized", "Unauthorized",
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
            set_problem(r, 404, "model-not-found", "Model not found", detail, NULL);
        } else { /* found */
            set_json(r, 200, gr_api_model_json(m, 1));
        }
    } else {
        json_t *list = json_array();
        for (size_t i = 0; i < gr_modelset_count(set); i++)
            json_array_append_new(list, gr_api_model_json(gr_modelset_at(set, i), 0));
        set_json(r, 200, json_pack("{s:o}", "models", list));
    }
    gr_modelset_release(set);
}

static void answer_get(req *r, const char *name)
{
    gr_http *h = r->h;
    switch (r->route) {
    case GR_ROUTE_HEALTHZ: {
        static const char ok[] = "{\"status\":\"ok\"}";
        set_answer(r, 200, "application/json", strdup(ok), sizeof ok - 1);
        break;
    }
    case GR_ROUTE_READYZ: {
        gr_modelset *set = h->env.acquire_models(h->env.ctx);
        size_t n = gr_modelset_count(set);
        gr_modelset_release(set);
        if (h->env.ready(h->env.ctx) && !h->quiesced)
            set_json(r, 200, json_pack("{s:s, s:I}", "status", "ready", "models", (json_int_t)n));
        else {
            r->retry_after = 1;
            set_problem(r, 503, "not-ready", "Not ready",
                        h->quiesced ? "the server is draining" : "the server is starting", NULL);
        }
        break;
    }
    case GR_ROUTE_METRICS: {
        size_t len = 0;
        char *text = h->env.metrics_text(h->env.ctx, &len);
        set_answer(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
        break;
    }
    case GR_ROUTE_OPENAPI: {
        char *copy = malloc(h->env.openapi_len + 1);
        if (copy)
            memcpy(copy, h->env.openapi, h->env.openapi_len);
        set_answer(r, 200, "application/yaml", copy, copy ? h->env.openapi_len : 0);
        break;
    }
    case GR_ROUTE_MODELS: answer_models(r, NULL); break;
    case GR_ROUTE_MODEL: answer_models(r, name); break;
    default: break;
    }
}

/* ---- predict ---- */

/* Past the drain deadline: answers 503 and returns 1, checked between samples. */
static int aborted(req *r)
{
    if (!atomic_load_explicit(&r->h->abort_work, memory_order_relaxed))
        return 0;
    r->retry_after = 1;
    set_problem(r, 503, "not-ready", "Not ready",
                "the server shut down before this request finished; retry", NULL);
    return 1;
}

static int stop_asked(void *arg)
{
    req *r = arg;
    return atomic_load_explicit(&r->h->abort_work, memory_order_relaxed);
}

/* The pipeline's part of both predict routes: every sample, then the
 * response or the problem. */
static void answer_predict(req *r, const gr_api_request *json, const gr_vcf_result *vcf)
{
    gr_error err;
    gr_api_job job;
    json_t *doc = NULL;
    gr_api_job_init(&job, r->model, json, vcf, &r->given);
    job.stop = stop_asked;
    job.stop_arg = r;
    gr_status st = gr_api_predict_all(&job, &doc, &err);
    if (st) {
        gr_problem_kind k = gr_problem_for_status(st);
        set_problem(r, k.status, k.slug, k.title, err.text, err.field);
        return;
    }
    if (aborted(r)) { /* stopped, or done just as the deadline passed */
        json_decref(doc);
        return;
    }
    r->samples_done = gr_api_job_samples(&job);
    set_json(r, 200, doc);
}

static void run_predict(void *arg)
{
    req *r = arg;
    json_error_t je;
    gr_error err;
    gr_api_request areq = { 0 };

    char limit_why[160] = "";
    json_t *body = NULL;
    if (r->body_len && gr_api_json_within(r->body, r->body_len, r->h->env.max_json_depth,
                                          r->h->env.max_json_string, limit_why, sizeof limit_why))
        body = gr_api_json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    free(r->body);
    r->body = NULL;
    if (limit_why[0]) {
        set_problem(r, 400, "invalid-json", "Malformed JSON", limit_why, NULL);
        goto done;
    }
    if (!r->body_len) {
        set_problem(r, 400, "invalid-json", "Malformed JSON",
                    "the request body is empty; send a predict request as JSON", NULL);
        goto done;
    }
    if (!body && json_error_code(&je) == json_error_out_of_memory) {
        set_problem(r, 500, "internal", "Internal error", "out of memory", NULL);
        goto done;
    }
    if (!body) {
        char why[300];
        set_problem(r, 400, "invalid-json", "Malformed JSON",
                    gr_api_json_error(&je, why, sizeof why), NULL);
        goto done;
    }
    gr_api_limits lim = { .max_samples = r->h->env.max_samples };
    gr_status st = gr_api_request_parse(r->model, body, &lim, &areq, &err);
    if (st) {
        gr_problem_kind k = gr_problem_for_status(st);
        set_problem(r, k.status, k.slug, k.title, err.text, err.field);
        goto done;
    }
    json_decref(body); /* the request holds what it needs */
    body = NULL;
    answer_predict(r, &areq, NULL);

done:
    json_decref(body);
    gr_api_request_clear(&areq);
    atomic_store(&r->job, JOB_DONE);
    MHD_resume_connection(r->conn);
}

static int spool_write(req *r, const char *data, size_t n)
{
    while (n) {
        ssize_t w = write(r->spool, data, n);
        if (w < 0) {
            r->write_failed = 1;
            return 0;
        }
        data += w;
        n -= (size_t)w;
    }
    return 1;
}

/* multipart/form-data: the "file" part goes to the spool, others are ignored
 * (at most GR_HTTP_MAX_PARTS parts in all) */
#define GR_HTTP_MAX_PARTS 32
static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding, (void)off;
    req *r = cls;
    if (off == 0 && ++r->parts > GR_HTTP_MAX_PARTS) {
        r->pp_failed = 1;
        return MHD_NO;
    }
    if (!key || strcmp(key, "file")) /* a part with no name= has a NULL key */
        return MHD_YES;
    if (off == 0 && size > 0) { /* the first bytes of a part */
        if (r->file_parts++) {
            r->pp_failed = 1; /* a second "file" part: which one was meant? */
            return MHD_NO;
        }
    }
    r->got_file = 1;
    return size == 0 || spool_write(r, data, size) ? MHD_YES : MHD_NO;
}

static void run_predict_vcf(void *arg)
{
    req *r = arg;
    gr_error err;
    gr_vcf_result *v = NULL;
    if (r->pp && (r->pp_failed || !r->got_file) && !r->write_failed) {
        set_problem(r, 400, "invalid-parameter", "No file part",
                    r->pp_failed ? "a multipart upload takes exactly one well-formed part named "
                                   "\"file\" holding the VCF, in at most 32 parts"
                                 : "a multipart upload needs a part named \"file\" holding the VCF",
                    NULL);
        goto done;
    }
    if (r->write_failed) {
        r->retry_after = 1;
        set_problem(r, 503, "overloaded", "Cannot store the upload",
                    "the server could not spool the upload to disk; retry later", NULL);
        goto done;
    }
    lseek(r->spool, 0, SEEK_SET);
    r->vopt.samples = (const char *const *)r->samples;
    r->vopt.n_samples = r->n_samples;
    r->vopt.max_line = r->h->env.max_vcf_line;
    r->vopt.max_header = r->h->env.max_vcf_header;
    r->vopt.max_samples = r->h->env.max_samples;
    gr_status st = gr_vcf_read(r->model, "upload", r->spool, &r->vopt, &v, &err);
    r->spool = -1; /* gr_vcf_read took the descriptor */
    if (st) {
        gr_problem_kind k = gr_problem_for_status(st);
        set_problem(r, k.status, k.slug, k.title, err.text, err.field);
        goto done;
    }
    answer_predict(r, NULL, v);

done:
    gr_vcf_result_free(v);
    atomic_store(&r->job, JOB_DONE);
    MHD_resume_connection(r->conn);
}

/* The server dropped the job unstarted: it is shutting down. */
static void cancel_predict(void *arg)
{
    req *r = arg;
    free(r->body);
    r->body = NULL;
    r->retry_after = 1;
    set_problem(r, 503, "not-ready", "Not ready",
                "the server shut down before this request could run; retry", NULL);
    atomic_store(&r->job, JOB_DONE);
    MHD_resume_connection(r->conn);
}

static int is_json_type(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    static const char want[] = "application/json";
    if (strncasecmp(ct, want, sizeof want - 1))
        return 0;
    ct += sizeof want - 1;
    while (*ct == ' ')
        ct++;
    return *ct == '\0' || *ct == ';';
}

typedef struct {
    req *r;
    int bad;          /* 1: VCF-only key on JSON, 2: bad value, 3: too many samples */
    const char *what; /* the key */
    char why[240];
} query_args;

/* One query parameter: a setting (explain, top_k, impute,
 * allow_low_coverage) for any predict, or a VCF option (sample, absent,
 * genotype, filter). A key given bare ("?explain") has a NULL value. */
static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    query_args *a = cls;
    req *r = a->r;
    a->what = key;
    int set = gr_api_setting_parse(&r->given, key, value, a->why, sizeof a->why);
    if (set >= 0) {
        a->bad = set ? 0 : 2;
        return set ? MHD_YES : MHD_NO;
    }
    int vcf_only = !strcmp(key, "sample") || !strcmp(key, "absent") || !strcmp(key, "genotype") ||
                   !strcmp(key, "filter");
    if (!vcf_only)
        return MHD_YES;
    if (!r->vcf) {
        a->bad = 1;
        return MHD_NO;
    }
    snprintf(a->why, sizeof a->why,
             "%s must be one of: absent=missing|ref, genotype=auto|gt|ds, filter=pass|any, "
             "sample=<id>",
             key);
    if (!value) {
        a->bad = 2;
        return MHD_NO;
    }
    if (!strcmp(key, "sample")) {
        char **more =
            r->n_samples < 100000 ? realloc(r->samples, (r->n_samples + 1) * sizeof *more) : NULL;
        char *copy = more ? strdup(value) : NULL;
        if (more)
            r->samples = more;
        if (!copy) {
            a->bad = 3;
            return MHD_NO;
        }
        r->samples[r->n_samples++] = copy;
    } else if ((!strcmp(key, "absent") && !gr_api_parse_absent(value, &r->vopt.absent)) ||
               (!strcmp(key, "genotype") && !gr_api_parse_genotype(value, &r->vopt.genotype)) ||
               (!strcmp(key, "filter") && !gr_api_parse_filter(value, &r->vopt.filter_any))) {
        a->bad = 2;
        return MHD_NO;
    }
    return MHD_YES;
}

/* The query's settings and VCF options: 1 when valid, else a 400 is set. */
static int parse_query(req *r)
{
    query_args a = { .r = r };
    r->given = gr_api_settings_unset();
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
    if (!a.bad)
        return 1;
    if (a.bad == 1)
        snprintf(a.why, sizeof a.why, "%s applies to VCF uploads, not to JSON requests", a.what);
    else if (a.bad == 3)
        snprintf(a.why, sizeof a.why, "too many sample parameters");
    set_problem(r, 400, "invalid-parameter", "Invalid query parameter", a.why, a.what);
    return 0;
}

static int is_vcf_type(const char *ct)
{
    static const char *const types[] = { "text/vcf",
                                         "text/x-vcf",
                                         "application/vcf",
                                         "application/gzip",
                                         "application/x-gzip",
                                         "application/x-bgzip",
                                         "application/octet-stream",
                                         "application/x-bcf",
                                         NULL };
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    for (size_t i = 0; types[i]; i++) {
        size_t n = strlen(types[i]);
        if (!strncasecmp(ct, types[i], n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
            return 1;
    }
    return 0;
}

/* First look at a predict request: everything decidable from the headers. */
static int predict_headers(req *r, const char *name)
{
    gr_http *h = r->h;
    const char *cl =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        size_t most = h->env.max_upload_bytes > h->env.max_body_bytes ? h->env.max_upload_bytes
                                                                      : h->env.max_body_bytes;
        if (*end || n > most) {
            char detail[160];
            snprintf(detail, sizeof detail, "the body may be at most %zu bytes", most);
            set_problem(r, 413, "body-too-large", "Request body too large", detail, NULL);
            return 0;
        }
    }
    if (!h->env.ready(h->env.ctx) || h->quiesced) {
        r->retry_after = 1;
        set_problem(r, 503, "not-ready", "Not ready",
                    h->quiesced ? "the server is draining" : "the server is starting", NULL);
        return 0;
    }
    r->set = h->env.acquire_models(h->env.ctx);
    r->model = gr_modelset_find(r->set, name);
    if (!r->model) {
        char detail[160];
        snprintf(detail, sizeof detail, "no model named '%.64s' is loaded", name);
        set_problem(r, 404, "model-not-found", "Model not found", detail, NULL);
        return 0;
    }
    const char *ct =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    int multipart = ct && !strncasecmp(ct, "multipart/form-data", 19);
    r->vcf = multipart || is_vcf_type(ct);
    if (!r->vcf && !is_json_type(ct)) {
        set_problem(r, 415, "unsupported-media-type", "Unsupported media type",
                    "send a predict request as application/json, or a VCF/BCF as text/vcf, "
                    "application/gzip, application/x-bgzip, application/octet-stream or "
                    "multipart/form-data (part \"file\")",
                    NULL);
        return 0;
    }
    r->limit = r->vcf ? h->env.max_upload_bytes : h->env.max_body_bytes;
    if (cl) {
        unsigned long long n = strtoull(cl, NULL, 10);
        if (n > r->limit) {
            char detail[160];
            snprintf(detail, sizeof detail, "the body may be at most %zu bytes", r->limit);
            set_problem(r, 413, "body-too-large", "Request body too large", detail, NULL);
            return 0;
        }
    }
    if (!parse_query(r))
        return 0;
    if (!r->vcf)
        return 1;
    /* O_TMPFILE: the spool never has a name, so nothing can see or leave it
     * behind; mkstemp + unlink where the file system lacks it */
    r->spool = open(h->env.tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    char path[512];
    if (r->spool < 0) {
        snprintf(path, sizeof path, "%s/genorisk-upload-XXXXXX", h->env.tmp_dir);
        r->spool = mkstemp(path);
        if (r->spool >= 0)
            unlink(path); /* gone from the directory at once; freed when closed */
    }
    if (r->spool < 0) {
        r->retry_after = 1;
        set_problem(r, 503, "overloaded", "Cannot store the upload",
                    "the server could not create a spool file; retry later", NULL);
        return 0;
    }
    if (multipart) {
        r->pp = MHD_create_post_processor(r->conn, 64 * 1024, on_part, r);
        if (!r->pp) {
            set_problem(r, 400, "invalid-parameter", "Malformed multipart body",
                        "the multipart/form-data Content-Type lacks a boundary", NULL);
            return 0;
        }
    }
    return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    gr_http *h = cls;
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
        r->t0 = now();
        r->method = method;
        set_request_id(r, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-ID"));
        snprintf(r->instance, sizeof r->instance, "%.250s", url);
        char name[256] = "";
        r->route = route_of(url, name, sizeof name);
        int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
        int post = !strcmp(method, "POST");
        /* Answers are queued on a later call, once MHD has read the request:
         * a response queued on the first call would cost the keep-alive.
         * Only an oversized Content-Length is answered at once, unread. */
        r->decided = 1;
        if (!authorized(r)) {
            /* at once, unread: no body is worth reading for a stranger */
            return queue_answer(r);
        } else if (r->route == GR_ROUTE_OTHER) {
            set_problem(r, 404, "not-found", "Not found", "no such route", NULL);
        } else if (r->route == GR_ROUTE_PREDICT ? !post : !get) {
            r->allow = r->route == GR_ROUTE_PREDICT ? "POST" : "GET, HEAD";
            char detail[96];
            snprintf(detail, sizeof detail, "%.16s is not allowed here; use %s", method, r->allow);
            set_problem(r, 405, "method-not-allowed", "Method not allowed", detail, NULL);
        } else if (r->route != GR_ROUTE_PREDICT) {
            answer_get(r, name);
        } else if (!predict_headers(r, name)) {
            if (r->status == 413)
                return queue_answer(r);
        } else {
            r->decided = 0; /* the body decides */
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        r->bytes_in += n;
        *upload_data_size = 0;
        if (r->answered || r->decided || r->too_large)
            /* discarded, but not without end: far past the ceiling, hang up */
            return r->bytes_in / 4 > (r->limit ? r->limit : h->env.max_body_bytes) ? MHD_NO
                                                                                   : MHD_YES;
        if (r->vcf) {
            if (r->bytes_in > r->limit) {
                r->too_large = 1;
                return MHD_YES;
            }
            if (r->write_failed)
                return MHD_YES;
            if (r->pp) {
                if (!r->pp_failed && MHD_post_process(r->pp, upload_data, n) != MHD_YES)
                    r->pp_failed = 1; /* answered 400 once the body is in */
                return MHD_YES;
            }
            spool_write(r, upload_data, n);
            return MHD_YES;
        }
        if (r->body_len + n > h->env.max_body_bytes) {
            /* chunked, so no Content-Length said so first: stop storing, read
             * on to answer 413 at the end (libmicrohttpd cannot answer in the
             * middle of an upload) */
            r->too_large = 1;
            free(r->body);
            r->body = NULL;
            return MHD_YES;
        }
        if (r->body_len + n + 1 > r->body_cap) {
            size_t cap = r->body_cap ? r->body_cap : 4096;
            while (cap < r->body_len + n + 1)
                cap *= 2;
            char *b = realloc(r->body, cap);
            if (!b)
                return MHD_NO;
            r->body = b;
            r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, upload_data, n);
        r->body_len += n;
        return MHD_YES;
    }

    if (r->answered)
        return MHD_YES;
    if (r->decided)
        return queue_answer(r);
    int job = atomic_load(&r->job);
    if (job == JOB_DONE)
        return queue_answer(r);
    if (job == JOB_RUNNING)
        return MHD_YES;
    if (r->too_large) {
        char detail[160];
        snprintf(detail, sizeof detail, "the body may be at most %zu bytes",
                 r->limit ? r->limit : h->env.max_body_bytes);
        set_problem(r, 413, "body-too-large", "Request body too large", detail, NULL);
        return queue_answer(r);
    }
    /* The whole body is here: suspend first, so the worker's resume always
     * follows it. */
    atomic_store(&r->job, JOB_RUNNING);
    MHD_suspend_connection(conn);
    if (h->env.submit(h->env.ctx, r->vcf ? run_predict_vcf : run_predict, cancel_predict, r)) {
        r->retry_after = 1;
        set_problem(r, 503, "overloaded", "Overloaded", "the work queue is full; retry shortly",
                    NULL);
        atomic_store(&r->job, JOB_DONE);
        MHD_resume_connection(conn);
    }
    return MHD_YES;
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
        .status = r->answered ? r->status : 499, /* client went away first */
        .seconds = now() - r->t0,
        .bytes_in = r->bytes_in,
        .bytes_out = r->bytes_out,
        .model = r->model ? gr_model_get_info(r->model)->name : "",
        .samples = r->samples_done,
        .error = r->status >= 400 ? r->error : "",
    };
    h->env.done(h->env.ctx, &d);
    gr_modelset_release(r->set);
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    if (r->spool >= 0) /* the client left before the work ran, or it never did */
        close(r->spool);
    for (size_t i = 0; i < r->n_samples; i++)
        free(r->samples[i]);
    free(r->samples);
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

gr_http *gr_http_start(const gr_http_env *env, const char *host, unsigned port, int threads,
                       char *why, size_t why_size)
{
    struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai = NULL;
    char ports[16];
    snprintf(ports, sizeof ports, "%u", port);
    int rc = getaddrinfo(host, ports, &hints, &ai);
    if (rc) {
        snprintf(why, why_size, "cannot listen on %s: %s", host, gai_strerror(rc));
        return NULL;
    }
    gr_http *h = calloc(1, sizeof *h);
    if (!h) {
        freeaddrinfo(ai);
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    h->env = *env;
    h->listen_fd = MHD_INVALID_SOCKET;
    atomic_init(&h->in_flight, 0);
    atomic_init(&h->connections, 0);
    atomic_init(&h->refused, 0);
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
        freeaddrinfo(ai);
        free(h);
        snprintf(why, why_size, "this libmicrohttpd was built without TLS support");
        return NULL;
    }
    if (tls)
        flags |= MHD_USE_TLS;
    /* libmicrohttpd's own limit is split among its threads, so it is set
     * well above ours (on_accept), which counts all of them */
    size_t mhd_limit = 2 * (env->max_connections ? env->max_connections : 1024) + 64;
    struct MHD_OptionItem opts[] = {
        { MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr },
        { MHD_OPTION_THREAD_POOL_SIZE, threads > 0 ? threads : 1, NULL },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h },
        { MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h },
        { MHD_OPTION_CONNECTION_TIMEOUT, env->connection_timeout_s ? env->connection_timeout_s : 30,
          NULL },
        { MHD_OPTION_CONNECTION_LIMIT, (intptr_t)mhd_limit, NULL },
        /* plain HTTP ends the list here */
        { tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)env->tls_cert },
        { MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)env->tls_key },
        { MHD_OPTION_END, 0, NULL },
    };
    h->d = MHD_start_daemon(flags, (uint16_t)port, on_accept, h, on_request, h, MHD_OPTION_ARRAY,
                            opts, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        snprintf(why, why_size,
                 tls ? "cannot listen on %s:%u with TLS (address in use, not permitted, or "
                       "a certificate and key libmicrohttpd refuses)"
                     : "cannot listen on %s:%u (address in use, or not permitted)",
                 host, port);
        free(h);
        return NULL;
    }
    return h;
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
    free(h);
}
