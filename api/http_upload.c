/* http_upload.c - a predict body as it arrives: JSON gathered in memory up
 * to --max-body-bytes, a VCF written to an unnamed spool file up to
 * --max-upload-bytes (raw, or the "file" part of multipart/form-data). */
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/buffer.h"
#include "api/http_internal.h"

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
    if (r->answered || r->decided || r->too_large)
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
    if (!gr_buf_append(&b, upload_data, n, 0))
        return MHD_NO;
    r->body = b.s;
    r->body_len = b.len;
    r->body_cap = b.cap;
    return MHD_YES;
}
