/* http_internal.h - the state behind gr_http and one request, shared by
 * api/http.c (transport: routes, answers, lifecycle), api/http_predict.c
 * (the predict route) and api/http_upload.c (bodies as they arrive).
 * Private to those three files. */
#ifndef GR_API_HTTP_INTERNAL_H
#define GR_API_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stddef.h>

#include "api/http.h"
#include "api/predict_panel.h"
#include "api/predict_run.h"
#include "api/problem.h"

struct gr_http {
    gr_http_env env;
    struct MHD_Daemon *d;
    struct MHD_Daemon *hd; /* the health listener, or NULL */
    atomic_size_t in_flight;
    atomic_size_t connections; /* open now */
    atomic_ullong refused;     /* over max_connections */
    atomic_int abort_work;     /* shutting down past the deadline */
    atomic_int quiesced;       /* read by the HTTP threads, set by the server's */
    atomic_size_t body_memory; /* bytes held by JSON bodies (env.max_body_memory) */
    atomic_size_t spooled;     /* bytes held by upload spools (env.max_spool_bytes) */
    MHD_socket listen_fd;      /* returned by quiesce; closed only after MHD_stop_daemon */
};

/* JOB_STREAMING: the worker is writing a 200 answer's body as it computes */
enum { JOB_NONE, JOB_RUNNING, JOB_STREAMING, JOB_DONE };

/* Most models one panel request scores. */
#define GR_HTTP_MAX_PANEL 64

typedef struct gr_http_stream gr_http_stream;

typedef struct {
    gr_http *h;
    struct MHD_Connection *conn;
    double t0;
    const char *method;
    char request_id[130];
    char instance[256];
    gr_route route;
    int answered; /* a response was queued */
    int close;    /* the answer says Connection: close (a framing fault) */
    int decided;  /* the answer is known; queue it once the body is consumed */
    /* predict */
    gr_modelset *set;
    const gr_model *model; /* the route's model; a panel's first */
    char **model_names;    /* a panel's ?model= values (owned; at most
                              * GR_HTTP_MAX_PANEL) */
    size_t n_model_names;
    const gr_model **models; /* the models scored, in order: a panel's, or &model */
    size_t n_models;
    gr_api_settings given; /* query parameters; -1 where not given */
    int format;            /* gr_api_format: ?format=, else the Accept header */
    int variant_rows;      /* ?report=variants: the match report lists each variant */
    char *body;
    size_t body_len, body_cap, bytes_in;
    int too_large;
    /* bytes this request holds of its budget: body_memory for JSON, spooled
     * for a VCF; from its first byte (or its Content-Length, reserved) until
     * it ends, as what the body becomes lives that long */
    size_t held;
    size_t spool_len; /* bytes written to the spool */
    int over_budget;  /* the body did not fit the budget: answered 503 */
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
    const char *resp_static; /* instead of resp: a constant body (not freed) */
    size_t resp_len;
    const char *ctype;
    const char *allow;
    int retry_after;
    const char *www_auth; /* WWW-Authenticate value of a 401 */
    size_t samples_done;
    gr_http_stream *stream; /* a streamed answer (a reference), or NULL */
    char error[40];
    size_t bytes_out;
} req;

/* http.c: the answer a request will get (body taken over; NULL is an empty
 * body), a problem document for it, or a JSON document (taken over). */
void gr_http_set_answer(req *r, unsigned status, const char *ctype, char *body, size_t len);
void gr_http_set_problem(req *r, gr_problem_id id, const char *detail, const char *field);
void gr_http_set_json(req *r, unsigned status, json_t *doc);

/* CLOCK_MONOTONIC, in seconds: request durations and time budgets. */
double gr_http_now(void);

/* http_predict.c: the first look at a predict request (its headers and
 * query): 1 when the body is to be read, 0 when the answer is set. */
int gr_http_predict_headers(req *r, const char *name);
/* Hands the request, its body complete, to a worker (or answers 503). */
void gr_http_start_predict(req *r);

/* One predict's answer to write (http_predict.c): its panel (borrowed),
 * the members added to its document (borrowed), where the bytes go; st and
 * err say how it went (GR_OK on entry, or the error already met, which
 * skips it); done(item) sends it, once written, and item is not touched
 * again. */
typedef struct gr_http_batch_item gr_http_batch_item;
struct gr_http_batch_item {
    const gr_api_panel *panel;
    json_t *extra;
    gr_api_write_fn write;
    void *arg;
    gr_status st;
    gr_error err;
    void (*done)(gr_http_batch_item *item);
    void *owner; /* done's */
};

/* Dynamic batching's hook: writes items[0..n), each one model's answer to
 * one sample, as gr_api_panel_write would each, eight at a time with their
 * samples predicted together (gr_api_predict_write_jobs), and calls each
 * item's done once its window of eight is written. */
void gr_http_write_batch(gr_http_batch_item *const *items, size_t n);

/* http_stream.c: an answer sent as the worker writes it (chunked). new
 * returns the worker's reference (NULL when out of memory); the request
 * and the response take their own. write is a gr_api_write_fn: non-zero
 * when the client has gone (or memory ran out). finish says the worker is
 * done, failed when the answer is cut short. totals: bytes sent, samples
 * answered, and whether the whole answer went out. */
gr_http_stream *gr_http_stream_new(struct MHD_Connection *conn);
void gr_http_stream_retain(gr_http_stream *s);
void gr_http_stream_release(gr_http_stream *s);
int gr_http_stream_write(void *arg, const char *bytes, size_t n);
void gr_http_stream_finish(gr_http_stream *s, int failed, size_t samples);
struct MHD_Response *gr_http_stream_response(gr_http_stream *s);
void gr_http_stream_totals(gr_http_stream *s, size_t *sent, size_t *samples, int *complete);

/* http_upload.c: the spool file (and multipart parser) of a VCF upload: 1,
 * or 0 with the answer set. */
int gr_http_open_upload(req *r, int multipart);
/* Reserves the body's Content-Length, when it has one, against its budget:
 * 1, or 0 with the 503 set (r->over_budget). */
int gr_http_reserve_body(req *r);
/* Gives back what r holds of its budget (once the request ends). */
void gr_http_release_body(req *r);
/* Takes n more bytes of the body. */
enum MHD_Result gr_http_take_body(req *r, const char *upload_data, size_t n);

#endif
