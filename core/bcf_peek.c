/* bcf_peek.c - see bcf_peek.h. Works on the BGZF reader's block buffer,
 * whose fields htslib declares public; what it assumes of htslib 1.16 beyond
 * them is stated where it is used and tested in tests/unit/test_bcf_peek.c
 * (BGZF with small and full blocks, plain gzip, uncompressed BCF). */
#include <stdio.h>
#include <string.h>

#include "bcf_peek.h"

enum { LENGTHS = 8 };

static uint64_t lengths(const unsigned char *b)
{
    uint64_t shared =
        (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    uint64_t indiv =
        (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
    return shared + indiv;
}

int gr_bcf_peek_size(BGZF *fp, uint64_t *bytes)
{
    for (;;) {
        int avail = fp->block_length - fp->block_offset;
        if (avail >= LENGTHS) { /* the common case: inside the current block */
            *bytes = lengths((unsigned char *)fp->uncompressed_block + fp->block_offset);
            return 1;
        }
        if (avail <= 0) {
            /* The block is used up, or none is loaded yet (block_length 0, as
             * bgzf_seek leaves it, with the offset to go to in the next
             * one): loading the next consumes nothing. */
            if (fp->block_length > 0)
                fp->block_offset = fp->block_length = 0;
            if (bgzf_read_block(fp) < 0)
                return -1;
            if (fp->block_length == 0)
                return 0;
            if (fp->block_offset >= fp->block_length)
                return -1; /* bgzf_read would call this misuse too */
            continue;
        }
        if (fp->is_gzip) {
            /* A gzip stream inflates into the block after block_offset and
             * counts what was there already (bgzf.c, inflate_gzip_block): keep
             * the few bytes left at the front and let it fill in behind them. */
            unsigned char *block = fp->uncompressed_block;
            memmove(block, block + fp->block_offset, (size_t)avail);
            fp->block_offset = avail;
            fp->block_length = avail;
            int failed = bgzf_read_block(fp) < 0;
            fp->block_offset = 0;
            if (failed)
                return -1;
            if (fp->block_length <= avail) /* nothing more: the end of the stream */
                return 0;
            continue;
        }
        /* BGZF or uncompressed data: a block is read into the buffer's start,
         * so the lengths are read across the boundary and the reader is then
         * rewound to them, which reloads this block on the next read (rare:
         * only where 8 bytes straddle a block boundary). */
        unsigned char b[LENGTHS];
        int64_t at = bgzf_tell(fp);
        ssize_t n = bgzf_read(fp, b, sizeof b);
        if (n < 0 || bgzf_seek(fp, at, SEEK_SET) < 0)
            return -1;
        if (n < LENGTHS)
            return 0;
        *bytes = lengths(b);
        return 1;
    }
}
