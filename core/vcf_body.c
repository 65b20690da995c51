/* vcf_body.c - see vcf_body.h.
 *
 * A genome-wide VCF has millions of lines and a model wants a few thousand
 * of them, so inflating the file and looking at each line's CHROM/POS is
 * nearly the whole cost of scoring it. BGZF blocks are independent deflate
 * streams: the file is cut into batches of whole blocks, and each batch is
 * inflated (libdeflate, as htslib itself does) and scanned by a worker of an
 * hts_tpool. The caller only reads compressed bytes, takes the batches back
 * in order, stitches the one line that straddles two batches (the tail of
 * one and the head of the next) and hands the wanted lines to the sink.
 * Plain gzip is one deflate stream and cannot be split: it is inflated on
 * the caller and only the scanning is shared out. */
#include <htslib/bgzf.h>
#include <htslib/hfile.h>
#include <htslib/kstring.h>
#include <htslib/thread_pool.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vcf_body.h"

#define BATCH_BLOCKS 16              /* BGZF blocks per batch: about 1 MiB of text */
#define BATCH_TEXT ((size_t)1 << 20) /* text bytes per batch otherwise */
#define BGZF_MAX_BLOCK 65536

enum { MODE_TEXT, MODE_GZIP, MODE_BGZF };
enum { KEEP_WANTED = 1, KEEP_MALFORMED = -1, KEEP_TOO_LONG = 2 };

typedef struct {
    uint32_t off, len; /* within the batch's text */
    uint32_t line;     /* 1-based among the batch's whole lines */
    int32_t tag;
    int8_t what; /* KEEP_* */
} kept;

typedef struct {
    const gr_body_reader *rd;
    struct libdeflate_decompressor *inflater; /* made on first use, kept with the batch */
    uint8_t *raw;                             /* whole BGZF blocks as read */
    size_t raw_len, raw_cap, isize;           /* isize: their text bytes, from the footers */
    char *text;
    size_t text_len, text_cap;
    /* what the worker found */
    int bad, oom, has_newline;
    size_t head_len; /* through the first '\n' */
    size_t tail_off; /* just after the last '\n' */
    size_t n_lines;  /* whole lines between head and tail */
    kept *keep;
    size_t n_keep, cap_keep;
} batch;

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The BGZF block at p (at most n bytes): its total size and where its
 * deflate data starts, or 0 when it is not a whole BGZF block. */
static size_t block_size(const uint8_t *p, size_t n, size_t *data_off)
{
    if (n < 12 || p[0] != 31 || p[1] != 139 || p[2] != 8 || !(p[3] & 4))
        return 0;
    size_t xlen = (size_t)p[10] | (size_t)p[11] << 8;
    if (n < 12 + xlen)
        return 0;
    for (size_t i = 12; i + 4 <= 12 + xlen;) {
        size_t slen = (size_t)p[i + 2] | (size_t)p[i + 3] << 8;
        if (p[i] == 66 && p[i + 1] == 67 && slen == 2 && i + 6 <= 12 + xlen) {
            size_t total = ((size_t)p[i + 4] | (size_t)p[i + 5] << 8) + 1;
            if (total < 12 + xlen + 8)
                return 0;
            *data_off = 12 + xlen;
            return total;
        }
        i += 4 + slen;
    }
    return 0;
}

/* Reads one whole block from hf onto b->raw: 1, 0 at end of file, -1 when
 * the bytes are not a BGZF block or end inside one. */
static int read_block(hFILE *hf, batch *b)
{
    if (b->raw_cap - b->raw_len < BGZF_MAX_BLOCK) {
        size_t cap = b->raw_cap ? b->raw_cap * 2 : (size_t)BATCH_BLOCKS * BGZF_MAX_BLOCK;
        uint8_t *raw = realloc(b->raw, cap);
        if (!raw) {
            b->oom = 1;
            return -1;
        }
        b->raw = raw;
        b->raw_cap = cap;
    }
    uint8_t *p = b->raw + b->raw_len;
    ssize_t n = hread(hf, p, 12);
    if (n == 0)
        return 0;
    if (n != 12 || p[0] != 31 || p[1] != 139)
        return -1;
    size_t xlen = (size_t)p[10] | (size_t)p[11] << 8;
    /* A whole block (header, extra field, data, 8-byte footer) is at most
     * BGZF_MAX_BLOCK bytes, the room made above: a larger extra field would
     * be read past it before block_size could refuse it. */
    if (12 + xlen + 8 > BGZF_MAX_BLOCK || hread(hf, p + 12, xlen) != (ssize_t)xlen)
        return -1;
    size_t data_off, total = block_size(p, 12 + xlen, &data_off);
    if (!total || hread(hf, p + 12 + xlen, total - 12 - xlen) != (ssize_t)(total - 12 - xlen))
        return -1;
    uint32_t isize = le32(p + total - 4);
    if (isize > BGZF_MAX_BLOCK)
        return -1;
    b->raw_len += total;
    b->isize += isize;
    return 1;
}

static int ensure_text(batch *b, size_t need)
{
    if (b->text_cap >= need)
        return 1;
    char *t = realloc(b->text, need);
    if (!t)
        return 0;
    b->text = t;
    b->text_cap = need;
    return 1;
}

/* Worker side: b->raw into b->text, checking each block's CRC and size. */
static int inflate_batch(batch *b)
{
    if (!b->inflater && !(b->inflater = libdeflate_alloc_decompressor())) {
        b->oom = 1;
        return 0;
    }
    if (!ensure_text(b, b->isize ? b->isize : 1)) {
        b->oom = 1;
        return 0;
    }
    size_t at = 0, out = 0;
    while (at < b->raw_len) {
        size_t data_off, total = block_size(b->raw + at, b->raw_len - at, &data_off);
        const uint8_t *blk = b->raw + at;
        uint32_t isize = le32(blk + total - 4), actual_crc;
        size_t got = 0;
        if (libdeflate_deflate_decompress(b->inflater, blk + data_off, total - data_off - 8,
                                          b->text + out, isize, &got) != LIBDEFLATE_SUCCESS ||
            got != isize)
            return 0;
        actual_crc = libdeflate_crc32(0, b->text + out, isize);
        if (actual_crc != le32(blk + total - 8))
            return 0;
        out += isize;
        at += total;
    }
    b->text_len = out;
    return 1;
}

static int push_keep(batch *b, size_t off, size_t len, size_t line, int what, int32_t tag)
{
    if (!gr_grow((void **)&b->keep, &b->cap_keep, b->n_keep + 1, sizeof *b->keep))
        return 0;
    b->keep[b->n_keep++] =
        (kept){ (uint32_t)off, (uint32_t)len, (uint32_t)line, tag, (int8_t)what };
    return 1;
}

/* Worker side: the whole lines of b->text through the filter. */
static void scan_batch(batch *b)
{
    const gr_body_reader *rd = b->rd;
    const char *t = b->text, *end = t + b->text_len;
    const char *nl = memchr(t, '\n', b->text_len);
    b->n_keep = 0;
    b->n_lines = 0;
    b->has_newline = nl != NULL;
    if (!nl) {
        b->head_len = b->tail_off = b->text_len;
        return;
    }
    b->head_len = (size_t)(nl - t) + 1;
    const char *s = nl + 1;
    size_t hint = 0;
    while (s < end && (nl = memchr(s, '\n', (size_t)(end - s)))) {
        size_t len = (size_t)(nl - s);
        b->n_lines++;
        if (len && s[len - 1] == '\r')
            len--;
        int what = 0;
        int32_t tag = 0;
        if (len > rd->max_line)
            what = KEEP_TOO_LONG;
        else if (len && s[0] != '#')
            what = rd->filter(rd->arg, s, len, &tag, &hint);
        if (what && !push_keep(b, (size_t)(s - t), len, b->n_lines, what, tag)) {
            b->oom = 1;
            return;
        }
        s = nl + 1;
    }
    b->tail_off = (size_t)(s - t);
}

static void *run_batch(void *arg)
{
    batch *b = arg;
    if (b->raw_len && !inflate_batch(b)) {
        b->bad = !b->oom;
        return b;
    }
    scan_batch(b);
    return b;
}

typedef struct {
    htsFile *fp;
    const gr_body_reader *rd;
    int mode;
    int first_done;  /* BGZF: the block the header ended in has been taken */
    int read_failed; /* the batch before the next one ended at bad data */
    kstring_t carry; /* a line begun in an earlier batch */
    size_t hint;     /* the filter's, for the lines stitched here */
    size_t records;
} reader;

static gr_status too_long(const reader *r, size_t record, gr_error *err)
{
    return gr_error_set(err, GR_EINPUT, r->rd->label, 0, NULL,
                        "record %zu is over the %zu-byte line limit", record, r->rd->max_line);
}

static gr_status corrupt(const reader *r, gr_error *err)
{
    return gr_error_set(err, GR_EINPUT, r->rd->label, 0, NULL,
                        "read error after record %zu: truncated or corrupt compressed data",
                        r->records);
}

/* Caller side: one line assembled from batch pieces (or the last one). */
static gr_status one_line(reader *r, char *s, size_t len, gr_error *err)
{
    const gr_body_reader *rd = r->rd;
    size_t record = ++r->records;
    if (len && s[len - 1] == '\r')
        len--;
    if (len > rd->max_line)
        return too_long(r, record, err);
    if (!len || s[0] == '#')
        return GR_OK;
    int32_t tag = 0;
    int what = rd->filter(rd->arg, s, len, &tag, &r->hint);
    return what ? rd->sink(rd->arg, s, len, record, what, tag, err) : GR_OK;
}

/* Fills b with the next input; 0 when there is none left, -1 on error
 * (b->oom tells out-of-memory from bad data). */
static int fill(reader *r, batch *b)
{
    b->raw_len = b->isize = b->text_len = 0;
    b->bad = b->oom = 0;
    if (r->read_failed)
        return -1;
    if (r->mode == MODE_BGZF) {
        BGZF *bz = r->fp->fp.bgzf;
        if (!r->first_done) { /* the rest of the block the header ended in */
            r->first_done = 1;
            size_t rest = bz->block_length > bz->block_offset
                              ? (size_t)(bz->block_length - bz->block_offset)
                              : 0;
            if (rest) {
                if (!ensure_text(b, rest)) {
                    b->oom = 1;
                    return -1;
                }
                memcpy(b->text, (char *)bz->uncompressed_block + bz->block_offset, rest);
                b->text_len = rest;
                bz->block_offset = bz->block_length;
                return 1;
            }
        }
        int got = 0, n = 1;
        while (got < BATCH_BLOCKS && (n = read_block(bz->fp, b)) == 1)
            got++;
        if (n < 0) { /* hand over the blocks before the damage first */
            r->read_failed = 1;
            if (!got || b->oom)
                return -1;
        }
        return b->raw_len > 0;
    }
    if (!ensure_text(b, BATCH_TEXT)) {
        b->oom = 1;
        return -1;
    }
    while (b->text_len < BATCH_TEXT) {
        ssize_t n = r->mode == MODE_GZIP
                        ? bgzf_read(r->fp->fp.bgzf, b->text + b->text_len, BATCH_TEXT - b->text_len)
                        : hread(r->fp->fp.hfile, b->text + b->text_len, BATCH_TEXT - b->text_len);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        b->text_len += (size_t)n;
    }
    return b->text_len > 0;
}

/* Caller side: a batch back from its worker, in file order. */
static gr_status take(reader *r, batch *b, gr_error *err)
{
    const gr_body_reader *rd = r->rd;
    gr_status st;
    if (b->oom)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    if (b->bad)
        return corrupt(r, err);
    size_t head = b->has_newline ? b->head_len - 1 : b->text_len;
    if (kputsn(b->text, head, &r->carry) < 0)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    if (!b->has_newline)
        return r->carry.l > rd->max_line + 1 ? too_long(r, r->records + 1, err) : GR_OK;
    st = one_line(r, r->carry.s, r->carry.l, err);
    r->carry.l = 0;
    if (st)
        return st;
    for (size_t i = 0; i < b->n_keep; i++) {
        const kept *k = &b->keep[i];
        size_t record = r->records + k->line;
        if (k->what == KEEP_TOO_LONG)
            return too_long(r, record, err);
        if ((st = rd->sink(rd->arg, b->text + k->off, k->len, record, k->what, k->tag, err)))
            return st;
    }
    r->records += b->n_lines;
    if (kputsn(b->text + b->tail_off, b->text_len - b->tail_off, &r->carry) < 0)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    return GR_OK;
}

gr_status gr_vcf_body_read(htsFile *fp, const gr_body_reader *rd, size_t *records, gr_error *err)
{
    gr_status st = GR_OK;
    reader r = { .fp = fp, .rd = rd };
    hts_tpool *pool = NULL;
    hts_tpool_process *queue = NULL;
    batch *batches = NULL, **free_list = NULL;
    size_t n_batches = rd->threads > 0 ? 2 * (size_t)rd->threads + 2 : 1, n_free = 0;
    size_t pending = 0;
    int eof = 0;

    switch (fp->format.compression) {
    case no_compression: r.mode = MODE_TEXT; break;
    case gzip: r.mode = MODE_GZIP; break;
    case bgzf: r.mode = MODE_BGZF; break;
    default:
        st = gr_error_set(err, GR_EINPUT, rd->label, 0, NULL,
                          "unsupported compression (plain, gzip or BGZF only)");
        goto fail;
    }
    batches = calloc(n_batches, sizeof *batches);
    free_list = calloc(n_batches, sizeof *free_list);
    if (!batches || !free_list)
        goto oom;
    for (size_t i = 0; i < n_batches; i++) {
        batches[i].rd = rd;
        free_list[n_free++] = &batches[n_batches - 1 - i];
    }
    if (rd->threads > 0) {
        pool = hts_tpool_init(rd->threads);
        queue = pool ? hts_tpool_process_init(pool, (int)n_batches, 0) : NULL;
        if (!queue)
            goto oom;
    }
    for (;;) {
        while (!eof && n_free) {
            if (rd->stop && rd->stop(rd->stop_arg)) {
                st = gr_error_set(err, GR_EIO, rd->label, 0, NULL, "stopped");
                goto fail;
            }
            batch *b = free_list[--n_free];
            int got = fill(&r, b);
            if (got < 0) {
                free_list[n_free++] = b;
                st = b->oom ? gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory")
                            : corrupt(&r, err);
                goto fail;
            }
            if (!got) {
                free_list[n_free++] = b;
                eof = 1;
                break;
            }
            if (!queue) {
                run_batch(b);
                st = take(&r, b, err);
                free_list[n_free++] = b;
                if (st)
                    goto fail;
                continue;
            }
            if (hts_tpool_dispatch(pool, queue, run_batch, b) < 0) {
                free_list[n_free++] = b;
                goto oom;
            }
            pending++;
        }
        if (!pending)
            break;
        hts_tpool_result *res = hts_tpool_next_result_wait(queue);
        if (!res)
            goto oom;
        batch *b = hts_tpool_result_data(res);
        hts_tpool_delete_result(res, 0);
        pending--;
        st = take(&r, b, err);
        free_list[n_free++] = b;
        if (st)
            goto fail;
    }
    if (r.carry.l) { /* the last line has no newline */
        st = one_line(&r, r.carry.s, r.carry.l, err);
        goto fail;
    }
    goto fail;
oom:
    st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
fail:
    while (pending) { /* let the workers finish with the batches before they are freed */
        hts_tpool_result *res = hts_tpool_next_result_wait(queue);
        if (!res)
            break;
        hts_tpool_delete_result(res, 0);
        pending--;
    }
    if (queue)
        hts_tpool_process_destroy(queue);
    if (pool)
        hts_tpool_destroy(pool);
    for (size_t i = 0; batches && i < n_batches; i++) {
        libdeflate_free_decompressor(batches[i].inflater);
        free(batches[i].raw);
        free(batches[i].text);
        free(batches[i].keep);
    }
    free(batches);
    free(free_list);
    free(r.carry.s);
    *records = r.records;
    return st;
}
