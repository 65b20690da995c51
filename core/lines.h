/* lines.h - reading model files: line at a time for plain or gzip/BGZF text
 * (through htslib's BGZF layer), with line numbers for error messages, and
 * the ceilings every model file is read under. */
#ifndef GR_LINES_H
#define GR_LINES_H

#include <htslib/bgzf.h>
#include <htslib/kstring.h>
#include <stdint.h>

#include "error.h"

/* Ceilings on model files, checked before anything is sized by them: a
 * bundle is operator input, and a reload must end, and end small, whatever
 * a file turns out to be (a symlink to /dev/zero, a FIFO, a 50 GB mistake). */
#define GR_MODEL_MAX_FILE ((uint64_t)2 << 30) /* a line-based file, on disk and as text */
#define GR_MODEL_MAX_LINE (1 << 20)           /* a line of one (features.tsv, PGS scores) */
#define GR_MODEL_MAX_JSON ((uint64_t)1 << 30) /* a JSON artifact (XGBoost, trees, linear) */
#define GR_MANIFEST_MAX (1 << 20)             /* manifest.json */

/* Opens path for reading when it is a regular file of at most max_bytes:
 * a device, FIFO, socket or directory is refused before a byte is read (an
 * open that would wait for a FIFO's writer does not). Returns GR_OK with
 * *fd set (the caller closes it), else GR_EIO (cannot open, not a regular
 * file), GR_ELIMIT (too large) or GR_ENOMEM, with err naming path and the
 * limit. */
gr_status gr_model_file_open(const char *path, uint64_t max_bytes, int *fd, gr_error *err);

/* "2 GiB", "1 MiB" or "N bytes": a limit as error messages give it; buf must
 * hold 32 bytes. Returns buf. */
const char *gr_size_text(uint64_t n, char *buf);

typedef struct {
    BGZF *fp;
    kstring_t s;      /* the current line, without its newline or trailing \r: a view
                       * into buf or own, valid until the next call (s.m is not
                       * its capacity; the caller may change its bytes, not
                       * resize it) */
    kstring_t own;    /* a line that straddles two reads of buf */
    long line;        /* 1-based number of the current line */
    const char *path; /* borrowed */
    char *buf;        /* text read ahead of s */
    size_t pos, len;
    uint64_t total; /* text bytes read so far */
    int eof;
} gr_lines;

/* Opens path (gr_model_file_open, GR_MODEL_MAX_FILE); on failure sets err
 * (GR_EIO, GR_ELIMIT or GR_ENOMEM) and leaves r closed. */
gr_status gr_lines_open(gr_lines *r, const char *path, gr_error *err);
/* 1: a line is in r->s; 0: end of file; -1: read error, a line longer than
 * GR_MODEL_MAX_LINE, more than GR_MODEL_MAX_FILE of text (a compressed file
 * may hold that much more than its size), or out of memory (err set). */
int gr_lines_next(gr_lines *r, gr_error *err);
void gr_lines_close(gr_lines *r);

#endif
