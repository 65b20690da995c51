/* lines.h - line-at-a-time reading of plain or gzip/BGZF text files through
 * htslib's BGZF layer, with line numbers for error messages. */
#ifndef GR_LINES_H
#define GR_LINES_H

#include <htslib/bgzf.h>
#include <htslib/kstring.h>

#include "error.h"

typedef struct {
    BGZF *fp;
    kstring_t s;      /* the current line, without its newline or trailing \r */
    long line;        /* 1-based number of the current line */
    const char *path; /* borrowed */
} gr_lines;

/* Opens path; on failure sets err (GR_EIO, or GR_ENOMEM) and leaves r closed. */
gr_status gr_lines_open(gr_lines *r, const char *path, gr_error *err);
/* 1: a line is in r->s; 0: end of file; -1: read error or out of memory (err set). */
int gr_lines_next(gr_lines *r, gr_error *err);
void gr_lines_close(gr_lines *r);

#endif
