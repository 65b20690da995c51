/* lines.c - see lines.h. */
#include <errno.h>
#include <fcntl.h>
#include <htslib/hfile.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lines.h"

#define CHUNK 65536 /* text read ahead at a time */

const char *gr_size_text(uint64_t n, char *buf)
{
    if (n && n % ((uint64_t)1 << 30) == 0)
        snprintf(buf, 32, "%" PRIu64 " GiB", n >> 30);
    else if (n && n % ((uint64_t)1 << 20) == 0)
        snprintf(buf, 32, "%" PRIu64 " MiB", n >> 20);
    else
        snprintf(buf, 32, "%" PRIu64 " bytes", n);
    return buf;
}

gr_status gr_model_file_open(const char *path, uint64_t max_bytes, int *fd, gr_error *err)
{
    struct stat sb;
    char limit[32];
    gr_status st = GR_OK;
    /* O_NONBLOCK: opening a FIFO would otherwise wait for a writer */
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0)
        return gr_error_set(err, errno == ENOMEM ? GR_ENOMEM : GR_EIO, path, 0, NULL,
                            "cannot open: %s", strerror(errno));
    if (fstat(*fd, &sb)) {
        st = gr_error_set(err, GR_EIO, path, 0, NULL, "cannot open: %s", strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = gr_error_set(err, GR_EIO, path, 0, NULL,
                          "not a regular file (a device, FIFO, socket or directory); model "
                          "files must be plain files");
        goto fail;
    }
    if ((uint64_t)sb.st_size > max_bytes) {
        st = gr_error_set(err, GR_ELIMIT, path, 0, NULL,
                          "%" PRIu64 " bytes, over the %s a model file of this kind may have",
                          (uint64_t)sb.st_size, gr_size_text(max_bytes, limit));
        goto fail;
    }
    if (fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) & ~O_NONBLOCK))
        st = gr_error_set(err, GR_EIO, path, 0, NULL, "cannot read: %s", strerror(errno));

fail:
    if (st) {
        close(*fd);
        *fd = -1;
    }
    return st;
}

gr_status gr_lines_open(gr_lines *r, const char *path, gr_error *err)
{
    hFILE *h = NULL;
    int fd = -1;
    memset(r, 0, sizeof *r);
    r->path = path;
    gr_status st = gr_model_file_open(path, GR_MODEL_MAX_FILE, &fd, err);
    if (st)
        return st;
    errno = 0;
    if (!(h = hdopen(fd, "r"))) {
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        goto fail;
    }
    errno = 0;
    r->fp = bgzf_hopen(h, "r"); /* peeks at the start: gzip, BGZF or plain */
    if (!r->fp) {
        st = errno == ENOMEM ? gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory")
                             : gr_error_set(err, GR_EIO, path, 0, NULL, "cannot read: %s",
                                            errno ? strerror(errno) : "not a readable file");
        goto fail;
    }
    if (!(r->buf = malloc(CHUNK)))
        st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");

fail:
    if (st) {
        if (r->fp)
            bgzf_close(r->fp); /* and h, and fd */
        else if (h)
            hclose_abruptly(h); /* and fd */
        else
            close(fd);
        memset(r, 0, sizeof *r);
    }
    return st;
}

/* Refills r->buf; 1 with text in it, 0 at the end, -1 with err set. */
static int refill(gr_lines *r, gr_error *err)
{
    char limit[32];
    if (r->eof)
        return 0;
    errno = 0;
    ssize_t n = bgzf_read(r->fp, r->buf, CHUNK);
    if (n < 0) {
        if (errno == ENOMEM) /* htslib's status does not tell */
            gr_error_set(err, GR_ENOMEM, r->path, r->line + 1, NULL, "out of memory");
        else
            gr_error_set(err, GR_EMODEL, r->path, r->line + 1, NULL,
                         "read error (truncated or corrupt compressed data?)");
        return -1;
    }
    if (n == 0) {
        r->eof = 1;
        return 0;
    }
    r->total += (uint64_t)n;
    if (r->total > GR_MODEL_MAX_FILE) {
        gr_error_set(err, GR_ELIMIT, r->path, r->line + 1, NULL,
                     "more than %s of text (decompressed); a model file may hold at most that",
                     gr_size_text(GR_MODEL_MAX_FILE, limit));
        return -1;
    }
    r->pos = 0;
    r->len = (size_t)n;
    return 1;
}

/* Appends the text up to the next newline (or the end) to r->own. 1 when a
 * line ends there, 0 when the file ended with nothing read, -1 with err. */
static int gather(gr_lines *r, gr_error *err)
{
    char limit[32];
    int any = 0;
    r->own.l = 0;
    for (;;) {
        if (r->pos == r->len) {
            int got = refill(r, err);
            if (got < 0)
                return -1;
            if (!got)
                return any;
        }
        const char *at = r->buf + r->pos, *nl = memchr(at, '\n', r->len - r->pos);
        size_t take = nl ? (size_t)(nl - at) : r->len - r->pos;
        if (r->own.l + take > GR_MODEL_MAX_LINE) { /* before a byte more is kept */
            gr_error_set(err, GR_ELIMIT, r->path, r->line + 1, NULL,
                         "line longer than %s, the longest a model file may have",
                         gr_size_text(GR_MODEL_MAX_LINE, limit));
            return -1;
        }
        if (ks_resize(&r->own, r->own.l + take + 1) < 0) {
            gr_error_set(err, GR_ENOMEM, r->path, r->line + 1, NULL, "out of memory");
            return -1;
        }
        memcpy(r->own.s + r->own.l, at, take);
        r->own.l += take;
        r->own.s[r->own.l] = '\0';
        r->pos += take + (nl != NULL);
        any = 1;
        if (nl)
            return 1;
    }
}

/* The next line into r->s: where it lies whole in the text read ahead, in
 * place there (its newline becomes the NUL), else gathered into r->own. */
static int next_line(gr_lines *r, gr_error *err)
{
    char *at = r->buf + r->pos;
    char *nl = r->pos < r->len ? memchr(at, '\n', r->len - r->pos) : NULL;
    if (nl) { /* within the buffer, so within GR_MODEL_MAX_LINE */
        *nl = '\0';
        r->s.s = at;
        r->s.l = (size_t)(nl - at);
        r->pos += r->s.l + 1;
        return 1;
    }
    int got = gather(r, err);
    r->s.s = r->own.s;
    r->s.l = r->own.l;
    return got;
}

int gr_lines_next(gr_lines *r, gr_error *err)
{
    int got = next_line(r, err);
    if (got <= 0)
        return got;
    r->line++;
    size_t bom = r->line == 1 ? gr_utf8_bom(r->s.s, r->s.l) : 0;
    if (bom) {
        memmove(r->s.s, r->s.s + bom, r->s.l - bom + 1);
        r->s.l -= bom;
    }
    if (r->s.l && r->s.s[r->s.l - 1] == '\r')
        r->s.s[--r->s.l] = '\0';
    if (memchr(r->s.s, 0, r->s.l)) {
        gr_error_set(err, GR_EMODEL, r->path, r->line, NULL, "line holds a NUL byte");
        return -1;
    }
    return 1;
}

void gr_lines_close(gr_lines *r)
{
    if (r->fp)
        bgzf_close(r->fp);
    free(r->buf);
    free(r->own.s);
    memset(r, 0, sizeof *r);
}
