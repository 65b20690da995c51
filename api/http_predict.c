/* http_predict.c - the predict route over HTTP: what its headers and query
 * decide, and the worker jobs that parse a JSON body or read a spooled VCF
 * and answer through the pipeline (api/predict_run.c). */
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/buffer.h"
#include "api/http_internal.h"
#include "api/predict_json.h"
#include "api/predict_panel.h"
#include "api/predict_place.h"
#include "api/predict_run.h"
#include "api/predict_vcf.h"
#include "api/problem.h"

/* Past the drain deadline: answers 503 and returns 1, checked between samples. */
static int aborted(req *r)
{
    if (!atomic_load_explicit(&r->h->abort_work, memory_order_relaxed))
        return 0;
    r->retry_after = 1;
    gr_http_set_problem(r, GR_PROBLEM_NOT_READY,
                        "the server shut down before this request finished; retry", NULL);
    return 1;
}

/* A worker's view of its request's time: the drain deadline (abort_work)
 * and the request's own budget, --request-timeout-s from when the worker
 * took it. On the worker's stack: a stream may outlive the request. */
typedef struct {
    gr_http *h;
    double deadline; /* CLOCK_MONOTONIC seconds; 0: no budget */
    int late;        /* the budget ran out */
} work_clock;

static work_clock clock_start(gr_http *h)
{
    unsigned budget = h->env.request_timeout_s;
    return (work_clock){ h, budget ? gr_http_now() + budget : 0, 0 };
}

/* The pipeline's and the VCF reader's stop: asked between samples and
 * between batches of records. */
static int clock_stop(void *arg)
{
    work_clock *c = arg;
    if (atomic_load_explicit(&c->h->abort_work, memory_order_relaxed))
        return 1;
    if (c->deadline && gr_http_now() > c->deadline)
        c->late = 1;
    return c->late;
}

/* The budget ran out: answers 503 timeout and returns 1. */
static int timed_out(req *r, const work_clock *c)
{
    if (!c->late)
        return 0;
    char detail[120];
    snprintf(detail, sizeof detail,
             "the request ran past its %u-second time budget (--request-timeout-s)",
             r->h->env.request_timeout_s);
    gr_http_set_problem(r, GR_PROBLEM_TIMEOUT, detail, NULL);
    return 1;
}

/* Answers up to this size are sent whole, with a Content-Length, as soon
 * as they are done; a larger one is streamed from the moment it grows past
 * it, so most requests (a few samples) cost one resume, and none holds more
 * than about this plus the stream's window. */
#define SMALL_ANSWER ((size_t)256 << 10)

/* Where the pipeline writes a 200's body: a buffer while it is small, the
 * connection once it is not. */
typedef struct {
    req *r;            /* until the answer streams; then NULL (libmicrohttpd's) */
    gr_buf small;      /* the answer so far, while it is small */
    gr_http_stream *s; /* once streaming */
    gr_modelset *set;  /* the worker's reference to the models, once streaming */
} answer_sink;

/* Hands the answer so far to a stream and lets libmicrohttpd send it: from
 * here the request is libmicrohttpd's, which may free it when the client
 * goes, so the worker keeps what it needs (the models) and forgets r. */
static int start_streaming(answer_sink *k)
{
    req *r = k->r;
    k->s = gr_http_stream_new(r->conn);
    if (!k->s || gr_http_stream_write(k->s, k->small.s, k->small.len)) {
        gr_http_stream_release(k->s);
        k->s = NULL;
        return 0;
    }
    free(k->small.s);
    k->small = (gr_buf){ 0 };
    k->set = gr_modelset_retain(r->set);
    gr_http_stream_retain(k->s); /* the request's reference */
    r->stream = k->s;
    r->status = 200;
    r->ctype = gr_api_format_media_type((gr_api_format)r->format);
    atomic_store(&r->job, JOB_STREAMING);
    MHD_resume_connection(r->conn);
    k->r = NULL;
    return 1;
}

static int sink_write(void *arg, const char *bytes, size_t n)
{
    answer_sink *k = arg;
    if (k->s)
        return gr_http_stream_write(k->s, bytes, n);
    if (!gr_buf_append(&k->small, bytes, n, 0))
        return 1;
    return k->small.len > SMALL_ANSWER && !start_streaming(k);
}

/* What an input is read for: the request's models, then the variant sets
 * of their references (predict_place.h). */
typedef struct {
    const gr_model **all;
    size_t total;
    uint8_t *usable; /* JSON: the body named variants of set k */
} reads;

static int reads_init(reads *rd, const req *r)
{
    rd->all = calloc(2 * r->n_models, sizeof *rd->all);
    rd->usable = calloc(2 * r->n_models, 1);
    rd->total = rd->all && rd->usable ? gr_api_read_list(r->models, r->n_models, rd->all) : 0;
    return rd->total != 0;
}

static void reads_clear(reads *rd)
{
    free(rd->all);
    free(rd->usable);
}

/* A predict's answer while a worker writes it: answer_open builds its
 * jobs, gr_api_panel_write (alone, or with others in gr_http_write_batch)
 * writes it through the sink, answer_close sends or sets it. */
typedef struct {
    gr_api_job *jobs;
    size_t samples;
    answer_sink k;
    gr_api_panel panel;
    gr_http_batch_item item; /* what is written, and how it went */
} answer;

/* The pipeline's part of both predict routes, up to the writing. */
static void answer_open(answer *a, req *r, const gr_api_request *json, const gr_vcf_result *vcf,
                        const reads *rd, work_clock *clock)
{
    size_t n = r->n_models;
    a->k = (answer_sink){ .r = r };
    a->jobs = calloc(rd->total, sizeof *a->jobs);
    for (size_t m = 0; a->jobs && m < rd->total; m++) {
        gr_api_job *job = &a->jobs[m];
        gr_api_job_init(job, rd->all[m], json ? &json[m] : NULL, vcf, m < n ? &r->given : NULL);
        if (vcf)
            gr_api_job_set_vcf_model(job, m);
        job->stop = clock_stop;
        job->stop_arg = clock;
        job->max_bytes = r->h->env.max_response_bytes;
        a->samples = gr_api_job_samples(job);
    }
    if (a->jobs)
        gr_api_bind_places(a->jobs, rd->all, n, rd->total, json ? rd->usable : NULL);
    a->panel = (gr_api_panel){ a->jobs,
                               n,
                               (gr_api_format)r->format,
                               NULL,
                               0,
                               r->variant_rows,
                               r->route == GR_ROUTE_PANEL,
                               r->h->env.request_threads };
    a->item = (gr_http_batch_item){ .panel = &a->panel, .write = sink_write, .arg = &a->k };
    a->item.extra = json_pack("{s:s}", "request_id", r->request_id);
    if (!a->item.extra || !a->jobs)
        a->item.st = gr_error_set(&a->item.err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
}

/* 1 when an item's answer may be written with others': one model's JSON
 * document (not the panel route's list) for one sample, not placed among
 * a reference, nothing against it so far. The one rule of what batches. */
static int batchable(const gr_http_batch_item *it)
{
    const gr_api_panel *p = it->panel;
    return !it->st && p->n == 1 && p->format == GR_API_FORMAT_JSON && !p->listed &&
           p->jobs[0].json && !p->jobs[0].place && gr_api_job_samples(&p->jobs[0]) == 1;
}

static void write_one(gr_http_batch_item *it)
{
    if (!it->st)
        it->st = gr_api_panel_write(it->panel, it->extra, it->write, it->arg, &it->err);
}

/* Up to GR_BATCH_MAX items: those whose answer is one model's JSON for one
 * sample (the first's model and layout) go through one batched pass
 * (gr_api_predict_write_jobs), the others are written alone; then each
 * item's done. */
static void write_window(gr_http_batch_item *const *items, size_t n)
{
    const gr_api_job *jobs[GR_BATCH_MAX];
    json_t *extra[GR_BATCH_MAX];
    gr_api_write_fn write[GR_BATCH_MAX];
    void *arg[GR_BATCH_MAX];
    gr_status st[GR_BATCH_MAX];
    gr_error errs[GR_BATCH_MAX];
    gr_http_batch_item *in[GR_BATCH_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        gr_http_batch_item *it = items[i];
        const gr_api_panel *p = it->panel;
        if (!batchable(it) ||
            (k && (p->jobs[0].m != jobs[0]->m || p->pretty != in[0]->panel->pretty))) {
            write_one(it);
            continue;
        }
        jobs[k] = &p->jobs[0];
        extra[k] = it->extra;
        write[k] = it->write;
        arg[k] = it->arg;
        in[k++] = it;
    }
    if (k)
        gr_api_predict_write_jobs(jobs, k, in[0]->panel->pretty, extra, write, arg, st, errs);
    for (size_t j = 0; j < k; j++) {
        in[j]->st = st[j];
        if (st[j])
            in[j]->err = errs[j];
    }
    for (size_t i = 0; i < n; i++)
        items[i]->done(items[i]);
}

/* The hook of dynamic batching: GR_BATCH_MAX items at a time. */
void gr_http_write_batch(gr_http_batch_item *const *items, size_t n)
{
    for (size_t i = 0; i < n; i += GR_BATCH_MAX)
        write_window(items + i, n - i < GR_BATCH_MAX ? n - i : GR_BATCH_MAX);
}

/* A small 200 or a problem is set on r, and 0 returned; a large 200 was
 * streamed as the worker computed it (http_stream.c), and 1 is returned:
 * the request then belongs to libmicrohttpd and the worker must not touch
 * it again. */
static int answer_close(answer *a, req *r, work_clock *clock)
{
    gr_status st = a->item.st;
    gr_error *err = &a->item.err;
    json_decref(a->item.extra);
    free(a->jobs);
    if (a->k.s) { /* streamed: r is not ours any more */
        gr_http_stream_finish(a->k.s, st != GR_OK, st ? 0 : a->samples);
        gr_http_stream_release(a->k.s);
        gr_modelset_release(a->k.set);
        return 1;
    }
    if (aborted(r) || timed_out(r, clock)) { /* stopped, or done just as the deadline passed */
        free(a->k.small.s);
        return 0;
    }
    if (st == GR_EIO) /* the buffer's memory, not the client */
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    if (st) {
        free(a->k.small.s);
        gr_http_set_problem(r, gr_problem_for_status(st), err->text, err->field);
        return 0;
    }
    r->samples_done = a->samples;
    gr_http_set_answer(r, 200, gr_api_format_media_type((gr_api_format)r->format), a->k.small.s,
                       a->k.small.len);
    return 0;
}

/* The whole answer, alone: 1 when it was streamed (answer_close). */
static int answer_predict(req *r, const gr_api_request *json, const gr_vcf_result *vcf,
                          const reads *rd, work_clock *clock)
{
    answer a = { 0 };
    answer_open(&a, r, json, vcf, rd, clock);
    write_one(&a.item);
    return answer_close(&a, r, clock);
}

/* The worker is done with r: its answer is queued on the next call. */
static void finish(req *r, int streamed)
{
    if (streamed)
        return; /* r may be gone */
    atomic_store(&r->job, JOB_DONE);
    MHD_resume_connection(r->conn);
}

/* A JSON predict in a worker's hands: its body read for each model. */
typedef struct {
    req *r; /* NULL once answered */
    reads rd;
    gr_api_request *areq;
    work_clock clock;
    answer a;
} json_work;

/* Reads r's body (and frees it): 1, or 0 with the problem set. */
static int json_read(json_work *w, req *r)
{
    gr_error err;
    size_t n = r->n_models;
    w->clock = clock_start(r->h);
    int have = reads_init(&w->rd, r);
    size_t total = w->rd.total;
    w->areq = have ? calloc(total, sizeof *w->areq) : NULL;
    gr_api_limits lim = { .max_samples = r->h->env.max_samples,
                          .max_depth = r->h->env.max_json_depth,
                          .max_string = r->h->env.max_json_string };
    gr_status st = !w->areq ? gr_error_set(&err, GR_ENOMEM, NULL, 0, NULL, "out of memory")
                   : r->body_len
                       ? GR_OK
                       : gr_error_set(&err, GR_ESYNTAX, NULL, 0, NULL,
                                      "the request body is empty; send a predict request as JSON");
    /* genotype keys name variants of each model: the body is read for each */
    for (size_t m = 0; !st && m < n; m++)
        st = gr_api_request_read(r->models[m], r->body, r->body_len, &lim, &w->areq[m], &err);
    for (size_t m = n; !st && m < total; m++)
        st = gr_api_place_read_json(w->rd.all[m], r->body, r->body_len, &lim, &w->areq[m],
                                    &w->rd.usable[m], &err);
    free(r->body);
    r->body = NULL;
    if (st)
        gr_http_set_problem(r, gr_problem_for_status(st), err.text, err.field);
    return !st;
}

/* Frees what json_read made; r is not touched (it may be gone). */
static void json_clear(json_work *w)
{
    for (size_t m = 0; w->areq && m < w->rd.total; m++)
        gr_api_request_clear(&w->areq[m]);
    free(w->areq);
    reads_clear(&w->rd);
}

static void run_predict(void *arg)
{
    req *r = arg;
    json_work w = { 0 };
    int streamed = json_read(&w, r) && answer_predict(r, w.areq, NULL, &w.rd, &w.clock);
    json_clear(&w);
    finish(r, streamed);
}

/* A batched answer is written: it goes (gr_http_batch_item.done). */
static void batch_done(gr_http_batch_item *it)
{
    json_work *w = it->owner;
    int streamed = answer_close(&w->a, w->r, &w->clock);
    json_clear(w);
    finish(w->r, streamed);
    w->r = NULL;
}

/* Dynamic batching (server/pool.h): n JSON predicts of one model, each body
 * read, and those of one sample written together (gr_http_write_batch);
 * the rest are answered one by one, as run_predict would. */
static void run_predict_batch(void **args, size_t n)
{
    json_work *w = calloc(n, sizeof *w);
    gr_http_batch_item **items = calloc(n, sizeof *items);
    if (!w || !items) { /* out of memory: one by one */
        free(w);
        free(items);
        for (size_t i = 0; i < n; i++)
            run_predict(args[i]);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        req *r = w[i].r = args[i];
        if (!json_read(&w[i], r)) {
            json_clear(&w[i]);
            finish(r, 0);
            continue;
        }
        answer_open(&w[i].a, r, w[i].areq, NULL, &w[i].rd, &w[i].clock);
        w[i].a.item.done = batch_done;
        w[i].a.item.owner = &w[i];
        if (batchable(&w[i].a.item)) {
            items[k++] = &w[i].a.item;
            continue;
        }
        write_one(&w[i].a.item);
        batch_done(&w[i].a.item);
    }
    gr_http_write_batch(items, k);
    free(items);
    free(w);
}

static void run_predict_vcf(void *arg)
{
    req *r = arg;
    gr_error err;
    gr_vcf_result *v = NULL;
    reads rd = { 0 };
    int streamed = 0;
    work_clock clock = clock_start(r->h);
    if (r->pp && (r->pp_failed || !r->got_file) && !r->write_failed) {
        gr_http_set_problem(r, GR_PROBLEM_NO_FILE_PART,
                            r->pp_failed
                                ? "a multipart upload takes exactly one well-formed part named "
                                  "\"file\" holding the VCF, in at most 32 parts"
                                : "a multipart upload needs a part named \"file\" holding the VCF",
                            NULL);
        goto done;
    }
    if (r->write_failed) {
        r->retry_after = 1;
        gr_http_set_problem(r, GR_PROBLEM_CANNOT_STORE,
                            "the server could not spool the upload to disk; retry later", NULL);
        goto done;
    }
    lseek(r->spool, 0, SEEK_SET);
    r->vopt.samples = (const char *const *)r->samples;
    r->vopt.n_samples = r->n_samples;
    r->vopt.max_line = r->h->env.max_vcf_line;
    r->vopt.max_header = r->h->env.max_vcf_header;
    r->vopt.max_samples = r->h->env.max_samples;
    r->vopt.max_dosage_bytes = r->h->env.max_dosage_bytes;
    r->vopt.stop = clock_stop;
    r->vopt.stop_arg = &clock;
    r->vopt.keep_records = r->variant_rows;
    int have = reads_init(&rd, r);
    gr_policy *policy = have ? calloc(rd.total, sizeof *policy) : NULL;
    gr_vcf_model *ms = have ? calloc(rd.total, sizeof *ms) : NULL;
    for (size_t m = 0; policy && ms && m < rd.total; m++) {
        gr_impute unused;
        gr_api_resolve_policy(rd.all[m], m < r->n_models ? &r->given : NULL, &policy[m], &unused);
        ms[m] = (gr_vcf_model){ rd.all[m], &policy[m] };
    }
    gr_status st;
    if (policy && ms) {
        st = gr_vcf_read_models(ms, rd.total, "upload", r->spool, &r->vopt, &v, &err);
        r->spool = -1; /* the reader took the descriptor, on every path */
    } else {
        st = gr_error_set(&err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    }
    free(policy);
    free(ms);
    if (st && (aborted(r) || timed_out(r, &clock)))
        goto done;
    if (st) {
        gr_http_set_problem(r, gr_problem_for_status(st), err.text, err.field);
        goto done;
    }
    streamed = answer_predict(r, NULL, v, &rd, &clock);

done:
    gr_vcf_result_free(v);
    reads_clear(&rd);
    if (streamed)
        return; /* r may be gone */
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
    gr_http_set_problem(r, GR_PROBLEM_NOT_READY,
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
 * allow_low_coverage, group_by, ...) for any predict, or a VCF option (sample, absent,
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
    if (!strcmp(key, "model") && r->route != GR_ROUTE_PANEL) {
        snprintf(a->why, sizeof a->why,
                 "model names the models of a panel, on POST /v1/predict; this route scores "
                 "the model its path names");
        a->bad = 2;
        return MHD_NO;
    }
    if (!strcmp(key, "model")) {
        snprintf(a->why, sizeof a->why, "model names a loaded model; at most %d per panel",
                 GR_HTTP_MAX_PANEL);
        char **more = value && *value && r->n_model_names < GR_HTTP_MAX_PANEL
                          ? realloc(r->model_names, (r->n_model_names + 1) * sizeof *more)
                          : NULL;
        char *copy = more ? strdup(value) : NULL;
        if (more)
            r->model_names = more;
        if (!copy) {
            a->bad = 2;
            return MHD_NO;
        }
        r->model_names[r->n_model_names++] = copy;
        return MHD_YES;
    }
    if (!strcmp(key, "format")) {
        gr_api_format f;
        snprintf(a->why, sizeof a->why, "format must be json, sscore or tsv");
        a->bad = gr_api_format_parse(value, &f) ? 0 : 2;
        r->format = (int)f;
        return a->bad ? MHD_NO : MHD_YES;
    }
    if (!strcmp(key, "report")) {
        snprintf(a->why, sizeof a->why, "report must be variants (the match of each variant)");
        a->bad = value && !strcmp(value, "variants") ? 0 : 2;
        r->variant_rows = !a->bad;
        return a->bad ? MHD_NO : MHD_YES;
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
    /* Accept chooses the format (text/tab-separated-values the .sscore
     * table, text/html the report); ?format= wins */
    const char *accept = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept");
    r->format = gr_api_format_accepted(accept);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
    if (!a.bad)
        return 1;
    if (a.bad == 1)
        snprintf(a.why, sizeof a.why, "%s applies to VCF uploads, not to JSON requests", a.what);
    else if (a.bad == 3)
        snprintf(a.why, sizeof a.why, "too many sample parameters");
    gr_http_set_problem(r, GR_PROBLEM_INVALID_PARAMETER, a.why, a.what);
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
/* r->models from names (r->set's): 1, or 0 with a 404 naming the first
 * name no model has (or a 500 when out of memory). */
static int find_models(req *r, const char *const *names, size_t n)
{
    if (!(r->models = calloc(n, sizeof *r->models))) {
        gr_http_set_problem(r, GR_PROBLEM_OUT_OF_MEMORY, "out of memory", NULL);
        return 0;
    }
    for (size_t m = 0; m < n; m++) {
        if (!(r->models[m] = gr_modelset_find(r->set, names[m]))) {
            char detail[160];
            snprintf(detail, sizeof detail, "no model named '%.64s' is loaded", names[m]);
            gr_http_set_problem(r, GR_PROBLEM_MODEL_NOT_FOUND, detail, NULL);
            return 0;
        }
    }
    r->n_models = n;
    r->model = r->models[0];
    return 1;
}

/* A panel's models: at least one ?model=, each loaded, each once, all on
 * one genome build (the input is on one). 1, or 0 with the problem set. */
static int panel_models(req *r)
{
    const char *why = NULL;
    if (!r->n_model_names)
        why = "name the models to score with ?model=NAME, once per model";
    for (size_t i = 0; !why && i < r->n_model_names; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(r->model_names[i], r->model_names[j]))
                why = "each model may be named once";
    if (why) {
        gr_http_set_problem(r, GR_PROBLEM_INVALID_PARAMETER, why, "model");
        return 0;
    }
    if (!find_models(r, (const char *const *)r->model_names, r->n_model_names))
        return 0;
    for (size_t m = 1; m < r->n_models; m++) {
        const gr_model_info *a = gr_model_get_info(r->models[0]),
                            *b = gr_model_get_info(r->models[m]);
        if (strcmp(a->genome_build, b->genome_build)) {
            char detail[240];
            snprintf(detail, sizeof detail,
                     "models %s (%s) and %s (%s) are on different genome builds; a panel scores "
                     "one input, on one build",
                     a->name, a->genome_build, b->name, b->genome_build);
            gr_http_set_problem(r, GR_PROBLEM_INVALID_PARAMETER, detail, "model");
            return 0;
        }
    }
    return 1;
}

int gr_http_predict_headers(req *r, const char *name)
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
            gr_http_set_problem(r, GR_PROBLEM_BODY_TOO_LARGE, detail, NULL);
            return 0;
        }
    }
    if (!h->env.ready(h->env.ctx) || h->quiesced) {
        r->retry_after = 1;
        gr_http_set_problem(r, GR_PROBLEM_NOT_READY,
                            h->quiesced ? "the server is draining" : "the server is starting",
                            NULL);
        return 0;
    }
    r->set = h->env.acquire_models(h->env.ctx);
    if (r->route == GR_ROUTE_PREDICT && !find_models(r, (const char *const *)&name, 1))
        return 0;
    const char *ct =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    int multipart = ct && !strncasecmp(ct, "multipart/form-data", 19);
    r->vcf = multipart || is_vcf_type(ct);
    if (!r->vcf && !is_json_type(ct)) {
        gr_http_set_problem(r, GR_PROBLEM_UNSUPPORTED_MEDIA_TYPE,
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
            gr_http_set_problem(r, GR_PROBLEM_BODY_TOO_LARGE, detail, NULL);
            return 0;
        }
    }
    if (!parse_query(r))
        return 0;
    if (r->route == GR_ROUTE_PANEL && !panel_models(r))
        return 0;
    for (size_t m = 0; m < r->n_models; m++) {
        char why[320];
        if (!gr_api_group_by_ok(r->models[m], &r->given, why, sizeof why)) {
            gr_http_set_problem(r, GR_PROBLEM_INVALID_PARAMETER, why, "group_by");
            return 0;
        }
    }
    if (!r->vcf)
        return 1;
    return gr_http_open_upload(r, multipart);
}

/* Bodies up to this size go to the pool as batchable: one sample of a few
 * thousand genotypes is well under it. */
#define BATCH_BODY_BYTES ((size_t)64 << 10)

/* The whole body is here: suspend first, so the worker's resume always
 * follows it. */
void gr_http_start_predict(req *r)
{
    gr_http *h = r->h;
    struct MHD_Connection *conn = r->conn;
    atomic_store(&r->job, JOB_RUNNING);
    MHD_suspend_connection(conn);
    /* a small JSON body on one model's route is likely one sample: it may
     * be run with others like it (dynamic batching) */
    int batch = h->env.submit_batch && !r->vcf && r->route == GR_ROUTE_PREDICT &&
                r->body_len <= BATCH_BODY_BYTES;
    int full = batch ? h->env.submit_batch(h->env.ctx, run_predict, run_predict_batch,
                                           cancel_predict, r, r->model)
                     : h->env.submit(h->env.ctx, r->vcf ? run_predict_vcf : run_predict,
                                     cancel_predict, r);
    if (full) {
        r->retry_after = 1;
        gr_http_set_problem(r, GR_PROBLEM_OVERLOADED, "the work queue is full; retry shortly",
                            NULL);
        atomic_store(&r->job, JOB_DONE);
        MHD_resume_connection(conn);
    }
}
