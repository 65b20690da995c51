/* vcf_region.h - reading only the parts of an indexed VCF or BCF file that
 * hold a model's variants: regions from the model's positions, the byte
 * ranges the file's index gives for them, and a walk over those ranges that
 * hands each record to the same step a streamed read uses. Internal to
 * core/ (vcf.c). */
#ifndef GR_VCF_REGION_H
#define GR_VCF_REGION_H

#include <htslib/bgzf.h>
#include <htslib/kstring.h>
#include <htslib/vcf.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "vcf_internal.h"

/* A stretch of one chromosome: its code (gr_vcf_chrom_code), 1-based
 * inclusive positions. */
typedef struct {
    int32_t code;
    int64_t beg, end;
} gr_region;

/* A byte range of a BGZF file in virtual offsets (compressed block address
 * << 16 | offset in the inflated block), [beg, end): the records that start
 * in it. */
typedef struct {
    uint64_t beg, end;
} gr_span;

/* Sorts r by (code, beg) and merges, in place, the regions of a chromosome
 * that overlap or are less than gap bases apart; returns how many are left. */
size_t gr_regions_merge(gr_region *r, size_t n, int64_t gap);

/* One region on one sequence of the file, and the ranges the index gives
 * for it. */
typedef struct {
    int32_t code;     /* chromosome code */
    int tid;          /* the index's sequence */
    int64_t beg, end; /* 1-based inclusive */
    size_t first, n;  /* its spans: gr_vcf_plan.spans[first .. first + n), in file order */
    uint64_t order;   /* where its sequence's spans start in the file */
} gr_window;

/* What an indexed read reads: windows in file order. */
typedef struct {
    gr_window *windows; /* owned */
    size_t n_windows;
    gr_span *spans; /* owned */
    size_t n_spans;
    uint64_t file;    /* the file's size in bytes */
    char *index_path; /* the index used (owned) */
} gr_vcf_plan;

/* Plans an indexed read of the model's positioned variants (c->by_pos) in the
 * BGZF file at path, a BCF (bcf = 1; its index path.csi) or a text VCF
 * (path.csi, else path.tbi), whose header is hdr. *out is new
 * (gr_vcf_plan_free), or NULL when the file is to be streamed: no index, an
 * index older than the file, one htslib cannot load or whose ranges lie
 * beyond the file's end, one made with other columns than VCF's, or a score
 * so dense that its regions, at 64 KiB each, come to more than half of
 * the file (and more than 1 MiB). Fails only when out of memory. */
gr_status gr_vcf_index_plan(ctx *c, const char *path, const bcf_hdr_t *hdr, int bcf,
                            gr_vcf_plan **out, gr_error *err);
void gr_vcf_plan_free(gr_vcf_plan *p);

enum { GR_STEP_END, GR_STEP_READ, GR_STEP_PAST };

/* Reads the record at the file's position and, unless it lies past w (on
 * another sequence, or starting after w->end), uses it as a streamed read
 * would: *got = GR_STEP_READ, GR_STEP_PAST, or GR_STEP_END when no data is
 * left. */
typedef gr_status (*gr_vcf_step)(void *arg, const gr_window *w, int *got, gr_error *err);

/* Reads each window of p in turn, as htslib's iterator does: each of its
 * spans from its start (or from just after the last record used, when that
 * is further on, so that no record is used twice) until a record lies past
 * the window or the span ends. opt->stop is asked before each window and
 * every 1,024 records. Errors: the step's, GR_EINPUT when a span cannot be
 * reached, GR_EIO "stopped". */
gr_status gr_vcf_plan_walk(const gr_vcf_plan *p, BGZF *fp, gr_vcf_step step, void *arg,
                           const gr_vcf_options *opt, const char *label, gr_error *err);

/* 1 when the text record s (len bytes) lies past w: its CHROM is another
 * chromosome, or its POS is after w->end. A line whose CHROM or POS cannot
 * be read is not past (the streamed read's checks refuse it). */
int gr_vcf_text_past(ctx *c, const char *s, size_t len, const gr_window *w);

enum { GR_LINE_OOM = -2, GR_LINE_BAD = -1, GR_LINE_END = 0, GR_LINE_OK = 1, GR_LINE_LONG = 2 };

/* Reads the text line at fp's position (a BGZF reader without threads) into
 * s, without its '\n', as bgzf_getline does, but gives up with GR_LINE_LONG
 * once the line passes max + 1 bytes (room for a '\r'), before more of it is
 * held. GR_LINE_OK, GR_LINE_END when no data is left, GR_LINE_BAD on bad or
 * truncated data, GR_LINE_OOM. */
int gr_bgzf_line(BGZF *fp, kstring_t *s, size_t max);

#endif
