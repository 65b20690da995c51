/* fuzz_multipart.c - libFuzzer harness for multipart/form-data VCF uploads
 * through the HTTP layer (api/http.c on libmicrohttpd's post processor, then
 * core/vcf.c): the real gr_http server runs in this process on 127.0.0.1:0
 * with the VCF rules fixture model, one worker thread and the daemon's limits
 * (but VCF lines of 2 KiB and headers of 4 KiB, so that inputs reach them);
 * each input is sent over a new loopback connection as one predict request
 * (Connection: close, so no state carries over from one input to the next).
 * The first input byte chooses the request's framing, the rest is the
 * multipart body.
 *
 * Option byte: bits 0-1 the Content-Type: boundary=GRFUZZ, boundary="GRFUZZ",
 * other parameters and case around it, or no boundary at all; bits 2-4
 * Content-Length, or chunked transfer in chunks of 3, 5, 17, 64, 255, 1024 or
 * 4096 bytes (how the post processor gets the body cut up); bits 5-7 one of
 * eight query strings (explain, absent, filter, sample, genotype, ...).
 *
 * Every request must be answered 200 with a JSON body, or 400 or 422: a 5xx,
 * any other status, a connection closed without an answer or no answer
 * within 20 s is a failure. (Under ASan one chunk costs the server about
 * 0.2 ms, on a busy machine several times that: chunks of one byte would
 * make an 8 KiB body take seconds, so the smallest is 3.) */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "tests/fuzz/common.h"

#define QUEUE 8
#define TIMEOUT_MS 20000

typedef struct {
    void (*fn)(void *);
    void *arg;
} job;

static struct {
    gr_modelset *set;
    gr_http *http;
    unsigned port;
    int sock; /* the current request's connection, -1 when none */
    pthread_t worker;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job jobs[QUEUE];
    size_t head, n;
    int stopping, started;
    int working;              /* the worker is in a job */
    struct timespec job_start; /* when it began the last one */
    char *buf; /* the request being sent */
    size_t cap;
} S = { .sock = -1, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void *work(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&S.mu);
    for (;;) {
        while (!S.n && !S.stopping)
            pthread_cond_wait(&S.cv, &S.mu);
        if (!S.n)
            break;
        job j = S.jobs[S.head];
        S.head = (S.head + 1) % QUEUE;
        S.n--;
        S.working = 1;
        clock_gettime(CLOCK_MONOTONIC, &S.job_start);
        pthread_mutex_unlock(&S.mu);
        j.fn(j.arg);
        pthread_mutex_lock(&S.mu);
        S.working = 0;
    }
    pthread_mutex_unlock(&S.mu);
    return NULL;
}

static gr_modelset *acquire_models(void *ctx)
{
    (void)ctx;
    return gr_modelset_retain(S.set);
}

static int submit(void *ctx, void (*fn)(void *), void (*cancel)(void *), void *arg)
{
    (void)ctx, (void)cancel;
    pthread_mutex_lock(&S.mu);
    int full = S.n == QUEUE;
    if (!full) {
        S.jobs[(S.head + S.n) % QUEUE] = (job){ fn, arg };
        S.n++;
        pthread_cond_signal(&S.cv);
    }
    pthread_mutex_unlock(&S.mu);
    return full ? -1 : 0;
}

static int ready(void *ctx)
{
    (void)ctx;
    return 1;
}

static char *metrics_text(void *ctx, size_t *len)
{
    (void)ctx;
    *len = 0;
    return strdup("");
}

static void done(void *ctx, const gr_http_done *d)
{
    (void)ctx, (void)d;
}

static void close_sock(void)
{
    if (S.sock < 0)
        return;
    struct linger lg = { 1, 0 }; /* reset: no TIME_WAIT left behind */
    setsockopt(S.sock, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(S.sock);
    S.sock = -1;
}

static void teardown(void)
{
    close_sock();
    gr_http_stop(S.http);
    pthread_mutex_lock(&S.mu);
    S.stopping = 1;
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
    pthread_join(S.worker, NULL);
    gr_modelset_release(S.set);
    free(S.buf);
}

static void setup(void)
{
    gr_error err;
    char why[256];
    gr_fuzz_quiet();
    S.started = 1;
    if (gr_modelset_load(gr_fuzz_path("tests/fixtures/vcf"), &S.set, &err))
        gr_fuzz_fail("cannot load the VCF rules model");
    if (pthread_create(&S.worker, NULL, work, NULL))
        gr_fuzz_fail("cannot start the worker");
    const char *tmp = getenv("TMPDIR");
    gr_http_env env = {
        .acquire_models = acquire_models,
        .submit = submit,
        .ready = ready,
        .metrics_text = metrics_text,
        .done = done,
        .max_connections = 16,
        .connection_timeout_s = 60, /* past TIMEOUT_MS: a stuck request shows as one */
        .max_json_depth = 32,
        .max_json_string = 65536,
        .max_vcf_line = 2048,
        .max_vcf_header = 4096,
        .max_body_bytes = 1 << 20,
        .max_upload_bytes = 1 << 20,
        .max_samples = 100,
        .tmp_dir = tmp && *tmp ? tmp : "/tmp",
        .openapi = "",
        .openapi_len = 0,
    };
    S.http = gr_http_start(&env, "127.0.0.1", 0, 1, why, sizeof why);
    if (!S.http)
        gr_fuzz_fail(why);
    S.port = gr_http_port(S.http);
    atexit(teardown);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setup();
    return 0;
}

static long ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void connect_sock(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)S.port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int tries = 0; tries < 100; tries++) {
        S.sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (S.sock < 0 || setsockopt(S.sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one))
            break;
        if (!connect(S.sock, (struct sockaddr *)&a, sizeof a))
            return;
        int again = errno == EINTR; /* a signal (libFuzzer's SIGALRM): start over */
        close(S.sock);
        S.sock = -1;
        if (!again)
            break;
    }
    gr_fuzz_fail("cannot connect to the in-process server");
}

/* Appends n bytes to the request being built. */
static void put(size_t *len, const void *p, size_t n)
{
    if (*len + n > S.cap) {
        size_t cap = S.cap ? S.cap : 65536;
        while (cap < *len + n)
            cap *= 2;
        if (!(S.buf = realloc(S.buf, cap)))
            gr_fuzz_fail("out of memory");
        S.cap = cap;
    }
    memcpy(S.buf + *len, p, n);
    *len += n;
}

static void puts_(size_t *len, const char *s)
{
    put(len, s, strlen(s));
}

/* 0 when the server closed the connection first. */
static int send_all(size_t len)
{
    for (size_t at = 0; at < len;) {
        ssize_t w = send(S.sock, S.buf + at, len - at, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        at += (size_t)w;
    }
    return 1;
}

/* Decodes the chunked body in p[0 .. n) into out (room for n bytes): 1 and
 * *out_len when the last chunk has arrived, 0 when more is to come. A
 * malformed framing fails the run. */
static int dechunk(const char *p, size_t n, char *out, size_t *out_len)
{
    size_t at = 0, o = 0;
    for (;;) {
        const char *eol = memmem(p + at, n - at, "\r\n", 2);
        if (!eol)
            return 0;
        char *end;
        unsigned long size = strtoul(p + at, &end, 16);
        if (end == p + at)
            gr_fuzz_fail("a chunk without a size");
        at = (size_t)(eol - p) + 2;
        if (size == 0)
            return n - at >= 2 ? (*out_len = o, 1) : 0; /* the empty trailer's CRLF */
        if (n - at < size + 2)
            return 0;
        memcpy(out + o, p + at, size);
        o += size;
        at += size + 2;
    }
}

/* Reads the response: its status and body (new, NUL-terminated), sized by
 * Content-Length or sent chunked (predict answers are streamed). */
static int read_response(char **body, size_t *body_len)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *r = NULL;
    size_t len = 0, cap = 0, head = 0, want = 0;
    int have_head = 0, status = -1, chunked = 0;
    for (;;) {
        if (have_head && !chunked && len >= head + want)
            break;
        if (have_head && chunked) {
            char *out = malloc(len - head + 1);
            size_t out_len = 0;
            if (!out)
                gr_fuzz_fail("out of memory");
            if (dechunk(r + head, len - head, out, &out_len)) {
                out[out_len] = '\0';
                *body = out;
                *body_len = out_len;
                free(r);
                return status;
            }
            free(out);
        }
        if (len + 4097 > cap && !(r = realloc(r, cap = cap ? 2 * cap : 16384)))
            gr_fuzz_fail("out of memory");
        struct pollfd p = { S.sock, POLLIN, 0 };
        long left = TIMEOUT_MS - ms_since(&t0);
        int ready = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (ready < 0 && errno == EINTR)
            continue; /* libFuzzer's SIGALRM, which checks -timeout */
        if (ready <= 0) {
            char why[300];
            pthread_mutex_lock(&S.mu);
            snprintf(why, sizeof why,
                     "no answer from the server within 20 s (%zu bytes of it read, %zu "
                     "requests in flight, %zu jobs queued, the worker %s, its last job "
                     "began %ld ms ago)",
                     len, gr_http_in_flight(S.http), S.n, S.working ? "busy" : "idle",
                     ms_since(&S.job_start));
            pthread_mutex_unlock(&S.mu);
            gr_fuzz_fail(why);
        }
        ssize_t n = recv(S.sock, r + len, cap - len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            gr_fuzz_fail(len ? "the server closed the connection inside a response"
                             : "the server closed the connection without an answer");
        len += (size_t)n;
        r[len] = '\0';
        char *end;
        if (!have_head && (end = strstr(r, "\r\n\r\n"))) {
            have_head = 1;
            head = (size_t)(end - r) + 4;
            if (sscanf(r, "HTTP/1.1 %d ", &status) != 1)
                gr_fuzz_fail("not an HTTP/1.1 status line");
            const char *cl = strcasestr(r, "\r\nContent-Length:");
            const char *te = strcasestr(r, "\r\nTransfer-Encoding: chunked");
            chunked = te && te < end;
            if (!chunked && (!cl || cl > end))
                gr_fuzz_fail("a response without Content-Length or chunked transfer");
            want = chunked ? 0 : strtoul(cl + 17, NULL, 10);
        }
    }
    *body_len = want;
    *body = malloc(want + 1);
    if (!*body)
        gr_fuzz_fail("out of memory");
    memcpy(*body, r + head, want);
    (*body)[want] = '\0';
    free(r);
    return status;
}

/* Waits until the server has finished with the request (freed its state). */
static void wait_idle(void)
{
    struct timespec t0, nap = { 0, 20000 };
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (gr_http_in_flight(S.http)) {
        if (ms_since(&t0) > TIMEOUT_MS)
            gr_fuzz_fail("the server did not finish a request within 20 s");
        nanosleep(&nap, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {
        "multipart/form-data; boundary=GRFUZZ",
        "multipart/form-data; boundary=\"GRFUZZ\"",
        "Multipart/Form-Data; charset=utf-8; boundary=GRFUZZ; x=y",
        "multipart/form-data",
    };
    static const size_t chunks[] = { 0, 3, 5, 17, 64, 255, 1024, 4096 };
    static const char *const queries[] = {
        "", "?explain=false", "?absent=ref&filter=any", "?sample=S1",
        "?allow_low_coverage=true&top_k=3", "?genotype=ds", "?sample=S2&sample=S3&absent=ref",
        "?genotype=gt&allow_low_coverage=true&explain=true",
    };
    if (!S.started)
        setup();
    if (size < 1)
        return 0;
    unsigned o = data[0];
    const uint8_t *body = data + 1;
    size_t n = size - 1, chunk = chunks[o >> 2 & 7], len = 0;
    char line[256];
    snprintf(line, sizeof line,
             "POST /v1/models/vcf-rules/predict%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "X-Request-ID: fuzz\r\nConnection: close\r\nContent-Type: %s\r\n",
             queries[o >> 5 & 7], types[o & 3]);
    puts_(&len, line);
    if (!chunk) {
        snprintf(line, sizeof line, "Content-Length: %zu\r\n\r\n", n);
        puts_(&len, line);
        put(&len, body, n);
    } else {
        puts_(&len, "Transfer-Encoding: chunked\r\n\r\n");
        for (size_t at = 0; at < n; at += chunk) {
            size_t k = n - at < chunk ? n - at : chunk;
            snprintf(line, sizeof line, "%zx\r\n", k);
            puts_(&len, line);
            put(&len, body + at, k);
            puts_(&len, "\r\n");
        }
        puts_(&len, "0\r\n\r\n");
    }
    char *resp = NULL;
    size_t resp_len = 0;
    connect_sock();
    if (!send_all(len))
        gr_fuzz_fail("the server closed the connection before the request was sent");
    int status = read_response(&resp, &resp_len);
    close_sock();
    if (status == 200) {
        json_error_t je;
        json_t *doc = json_loadb(resp, resp_len, 0, &je);
        if (!json_is_object(doc) || !json_is_array(json_object_get(doc, "results")))
            gr_fuzz_fail("a 200 answer without a results document");
        json_decref(doc);
    } else if (status != 400 && status != 422) {
        snprintf(line, sizeof line, "unexpected status %d: %.180s", status, resp);
        gr_fuzz_fail(line);
    }
    free(resp);
    wait_idle();
    return 0;
}
