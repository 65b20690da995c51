/* http_stream.c - a predict answer sent as the worker computes it, with
 * chunked transfer: the worker appends to a bounded buffer (waiting while
 * it is full), libmicrohttpd's thread sends from it, suspending the
 * connection while it is empty (the pattern microhttpd.h prescribes for a
 * content reader with nothing to give yet). So a request's memory is the
 * buffer, whatever the number of samples and attributions.
 *
 * Three references keep the stream: the worker's, the response's and the
 * request's; whoever drops the last frees it. The connection is used only
 * while the response lives and it is suspended: a suspended connection is
 * never closed under the worker. */
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/buffer.h"
#include "api/http_internal.h"

/* The worker waits while this much is unsent; libmicrohttpd asks for
 * blocks of STREAM_BLOCK. */
#define STREAM_HIGH ((size_t)1 << 20)
#define STREAM_BLOCK ((size_t)64 << 10)

struct gr_http_stream {
    pthread_mutex_t mu;
    pthread_cond_t drained; /* bytes were sent, or nobody reads any more */
    char *buf;              /* unsent bytes: buf[head .. len) */
    size_t head, len, cap;
    int done;      /* the worker is finished */
    int failed;    /* ... without the whole answer: cut the transfer */
    int closed;    /* libmicrohttpd dropped the response: nobody reads */
    int suspended; /* the reader suspended the connection to wait */
    struct MHD_Connection *conn;
    size_t sent, samples;
    int refs;
};

gr_http_stream *gr_http_stream_new(struct MHD_Connection *conn)
{
    gr_http_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (pthread_mutex_init(&s->mu, NULL)) {
        free(s);
        return NULL;
    }
    if (pthread_cond_init(&s->drained, NULL)) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    s->conn = conn;
    s->refs = 1;
    return s;
}

void gr_http_stream_retain(gr_http_stream *s)
{
    pthread_mutex_lock(&s->mu);
    s->refs++;
    pthread_mutex_unlock(&s->mu);
}

void gr_http_stream_release(gr_http_stream *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    int last = --s->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (!last)
        return;
    pthread_cond_destroy(&s->drained);
    pthread_mutex_destroy(&s->mu);
    free(s->buf);
    free(s);
}

/* Called with mu held: a reader waiting for bytes gets going again. */
static void wake_reader(gr_http_stream *s)
{
    if (s->suspended && !s->closed) {
        s->suspended = 0;
        MHD_resume_connection(s->conn);
    }
}

int gr_http_stream_write(void *arg, const char *bytes, size_t n)
{
    gr_http_stream *s = arg;
    int ok = 0;
    pthread_mutex_lock(&s->mu);
    while (!s->closed && s->len - s->head > STREAM_HIGH)
        pthread_cond_wait(&s->drained, &s->mu);
    if (s->closed)
        goto out;                           /* the client left: stop computing */
    if (s->head && s->head >= s->len / 2) { /* reuse the sent part */
        memmove(s->buf, s->buf + s->head, s->len - s->head);
        s->len -= s->head;
        s->head = 0;
    }
    gr_buf b = { s->buf, s->len, s->cap };
    if (!gr_buf_append(&b, bytes, n, STREAM_BLOCK))
        goto out;
    s->buf = b.s;
    s->len = b.len;
    s->cap = b.cap;
    if (s->len - s->head >= STREAM_BLOCK) /* a block's worth: not a wake-up per result */
        wake_reader(s);
    ok = 1;
out:
    pthread_mutex_unlock(&s->mu);
    return !ok;
}

void gr_http_stream_finish(gr_http_stream *s, int failed, size_t samples)
{
    pthread_mutex_lock(&s->mu);
    s->done = 1;
    s->failed = failed;
    s->samples = samples;
    wake_reader(s);
    pthread_mutex_unlock(&s->mu);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    gr_http_stream *s = cls;
    ssize_t got;
    pthread_mutex_lock(&s->mu);
    size_t avail = s->len - s->head;
    if (avail) {
        size_t n = avail < max ? avail : max;
        memcpy(out, s->buf + s->head, n);
        s->head += n;
        s->sent += n;
        pthread_cond_signal(&s->drained);
        got = (ssize_t)n;
    } else if (s->done) {
        got = s->failed ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    } else { /* nothing yet: park the connection until the worker writes */
        s->suspended = 1;
        MHD_suspend_connection(s->conn);
        got = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return got;
}

static void stream_closed(void *cls)
{
    gr_http_stream *s = cls;
    pthread_mutex_lock(&s->mu);
    s->closed = 1;
    s->suspended = 0;
    pthread_cond_signal(&s->drained);
    pthread_mutex_unlock(&s->mu);
    gr_http_stream_release(s);
}

struct MHD_Response *gr_http_stream_response(gr_http_stream *s)
{
    gr_http_stream_retain(s); /* the response's reference */
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                                  stream_read, s, stream_closed);
    if (!resp)
        gr_http_stream_release(s);
    return resp;
}

void gr_http_stream_totals(gr_http_stream *s, size_t *sent, size_t *samples, int *complete)
{
    pthread_mutex_lock(&s->mu);
    *sent = s->sent;
    *samples = s->samples;
    *complete = s->done && !s->failed && s->head == s->len;
    pthread_mutex_unlock(&s->mu);
}
