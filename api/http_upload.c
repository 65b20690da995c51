/* http_upload.c - a predict body as it arrives: JSON gathered in memory up
 * to --max-body-bytes, a VCF written to an unnamed spool file up to
 * --max-upload-bytes (raw, or the "file" part of multipart/form-data); and
 * the budgets of all requests' bodies together (--max-body-memory-bytes,
 * --max-spool-bytes), counted as the bytes arrive. */
#include <fcntl.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/buffer.h"
#include "api/http_internal.h"

/* ---- budgets ---- */

/* Takes n bytes of a budget of `limit` (0: none): 1, or 0 with nothing
 * taken when they do not fit. */
static int budget_take(atomic_size_t *used, size_t n, size_t limit)
{
    size_t cur = atomic_load(used);
    do {
        if (limit && (n > limit || cur > limit - n))
            return 0;
    } while (!atomic_compare_exchange_weak(used, &cur, cur + n));
    return 1;
}

/* r's budget: the memory of JSON bodies or the disk of uploads. */
static atomic_size_t *budget_of(req *r, size_t *limit)
{
    gr_http *h = r->h;
    *limit = r->vcf ? h->env.max_spool_bytes : h->env.max_body_memory;
    return r->vcf ? &h->spooled : &h->body_memory;
}

/* Makes r hold `total` bytes of its budget (more than it holds: the
 * difference is taken). 1, or 0 when it does not fit. */
static int hold(req *r, size_t total)
{
    size_t limit;
    atomic_size_t *used = budget_of(r, &limit);
    if (total <= r->held)
        return 1;
    if (!budget_take(used, total - r->held, limit))
        return 0;
    r->held = total;
    return 1;
}

void gr_http_release_body(req *r)
{
    size_t limit;
    if (r->held)
        atomic_fetch_sub(budget_of(r, &limit), r->held);
    r->held = 0;
}

/* The 503 of a body over its budget, closing the connection. */
static void set_over_budget(req *r)
{
    r->over_budget = 1;
    r->retry_after = 1;
    r->close = 1; /* the rest of its body is not worth reading */
    gr_http_set_problem(r, GR_PROBLEM_BODY_BUDGET,
                        r->vcf ? "uploads being received fill the server's spool budget; retry "
                                 "shortly"
                               : "request bodies being received fill the server's memory budget; "
                                 "retry shortly",
                        NULL);
}

int gr_http_reserve_body(req *r)
{
    const char *cl =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    size_t n = cl ? (size_t)strtoull(cl, NULL, 10) : 0;
    /* JSON: the buffer is sized to the length at once (its NUL included),
     * so what is held is what will be allocated */
    if (!n || hold(r, r->vcf ? n : n + 1))
        return 1;
    set_over_budget(r);
    return 0;
}

/* Bodies over the budget are no longer stored: a spool gives its disk
 * back at once, a JSON body its memory. */
static void drop_body(req *r)
{
    set_over_budget(r);
    if (r->vcf) {
        if (ftruncate(r->spool, 0) < 0)
            r->write_failed = 1; /* its space comes back when the request ends */
    } else {
        free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
    }
    gr_http_release_body(r);
}

/* ---- bodies ---- */

static int spool_write(req *r, const char *data, size_t n)
{
    if (!hold(r, r->spool_len + n)) {
        drop_body(r);
        return 0;
    }
    r->spool_len += n;
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

int gr_http_open_upload(req *r, int multipart)
{
    gr_http *h = r->h;
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
        gr_http_set_problem(r, GR_PROBLEM_CANNOT_STORE,
                            "the server could not create a spool file; retry later", NULL);
        return 0;
    }
    if (multipart) {
        r->pp = MHD_create_post_processor(r->conn, 64 * 1024, on_part, r);
        if (!r->pp) {
            gr_http_set_problem(r, GR_PROBLEM_MALFORMED_MULTIPART,
                                "the multipart/form-data Content-Type lacks a boundary", NULL);
            return 0;
        }
    }
    return 1;
}

enum MHD_Result gr_http_take_body(req *r, const char *upload_data, size_t n)
{
    gr_http *h = r->h;
    if (r->answered || r->decided || r->too_large || r->over_budget)
        /* discarded, but not without end: far past the ceiling, hang up */
        return r->bytes_in / 4 > (r->limit ? r->limit : h->env.max_body_bytes) ? MHD_NO : MHD_YES;
    if (r->vcf) {
        if (r->bytes_in > r->limit) {
            r->too_large = 1;
            return MHD_YES;
        }
        if (r->write_failed)
            return MHD_YES;
        if (r->pp) {
            /* over the spool budget, on_part stops the parser too */
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
    gr_buf b = { r->body, r->body_len, r->body_cap };
    /* the memory the append will hold is counted before it is allocated; a
     * Content-Length reserved it all, and sizes the buffer to it */
    if (!hold(r, gr_buf_room(&b, n, r->held))) {
        drop_body(r);
        return MHD_YES; /* read on, discarded, to answer 503 at its end */
    }
    if (!gr_buf_append(&b, upload_data, n, r->held))
        return MHD_NO;
    r->body = b.s;
    r->body_len = b.len;
    r->body_cap = b.cap;
    return MHD_YES;
}
