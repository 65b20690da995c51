/* lines.c - see lines.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lines.h"

gr_status gr_lines_open(gr_lines *r, const char *path, gr_error *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    errno = 0;
    r->fp = bgzf_open(path, "r");
    if (!r->fp && errno == ENOMEM)
        return gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
    if (!r->fp)
        return gr_error_set(err, GR_EIO, path, 0, NULL, "cannot open: %s",
                            errno ? strerror(errno) : "not a readable file");
    return GR_OK;
}

int gr_lines_next(gr_lines *r, gr_error *err)
{
    errno = 0;
    int n = bgzf_getline(r->fp, '\n', &r->s);
    if (n == -1)
        return 0;
    if (n < -1 && errno == ENOMEM) { /* htslib's status does not tell */
        gr_error_set(err, GR_ENOMEM, r->path, r->line + 1, NULL, "out of memory");
        return -1;
    }
    if (n < -1) {
        gr_error_set(err, GR_EMODEL, r->path, r->line + 1, NULL,
                     "read error (truncated or corrupt compressed data?)");
        return -1;
    }
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
    free(r->s.s);
    memset(r, 0, sizeof *r);
}
