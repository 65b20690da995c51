/* vcf_body.h - the body of a text VCF (the lines after its header), read in
 * batches that worker threads decompress and filter in parallel, the lines
 * kept handed back in file order. Internal to core/ (vcf.c). */
#ifndef GR_VCF_BODY_H
#define GR_VCF_BODY_H

#include <htslib/hts.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Decides whether a line (no newline, no trailing CR, not empty, not a '#'
 * line) is wanted: 0 no, 1 yes, -1 yes but malformed. *tag is handed to the
 * sink with the line. Runs on worker threads at the same time as other calls
 * and as the sink: it may only read what it shares. *hint belongs to the
 * caller's run of lines (a batch, or the lines stitched on the caller): 0
 * at its start, then what the filter left there. */
typedef int (*gr_body_filter)(void *arg, const char *s, size_t len, int32_t *tag, size_t *hint);

/* Takes each wanted line, in file order, on the calling thread. record is
 * the line's 1-based number counted from the first line after the header.
 * The line is borrowed for the call. A non-OK return stops the read with that
 * status (err filled by the sink). */
typedef gr_status (*gr_body_sink)(void *arg, const char *s, size_t len, size_t record, int wanted,
                                  int32_t tag, gr_error *err);

typedef struct {
    const char *label; /* names the input in errors (borrowed) */
    int threads;       /* worker threads; 0 runs every batch on the caller */
    size_t max_line;   /* longest line accepted, bytes */
    gr_body_filter filter;
    gr_body_sink sink;
    void *arg;              /* given to filter and sink */
    int (*stop)(void *arg); /* optional: asked before each batch; non-zero stops */
    void *stop_arg;
} gr_body_reader;

/* Reads the rest of fp, a text VCF (plain, gzip or BGZF) whose header
 * bcf_hdr_read has just consumed; fp must not have threads of its own.
 * BGZF blocks are inflated by the workers; plain gzip is inflated on the
 * caller and only filtered in parallel. *records is the number of lines read
 * (also on error: the lines handled before it). Errors: GR_EINPUT for a line
 * over max_line or corrupt or truncated compressed data, GR_ENOMEM, or the
 * sink's. */
gr_status gr_vcf_body_read(htsFile *fp, const gr_body_reader *rd, size_t *records, gr_error *err);

#endif
