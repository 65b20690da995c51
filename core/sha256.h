/* sha256.h - SHA-256 (FIPS 180-4), genorisk's own: a streaming digest of
 * bytes in memory or of a whole file, and its hex text.
 *
 * Use: gr_sha256_init, gr_sha256_update any number of times (any lengths,
 * the digest is that of the bytes concatenated), gr_sha256_final. A context
 * is a plain value the caller owns; none of these allocate except
 * gr_sha256_file, which frees what it takes. */
#ifndef GR_SHA256_H
#define GR_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define GR_SHA256_SIZE 32 /* bytes of a digest */

typedef struct {
    uint32_t h[8];     /* the hash state */
    uint64_t bytes;    /* message length so far */
    uint8_t block[64]; /* a partial block */
    size_t fill;       /* bytes in block */
    int portable;      /* 1: the C rounds; gr_sha256_init sets 0 when the CPU has
                        * SHA instructions (x86 SHA-NI), which are then used.
                        * Setting 1 after init forces the C rounds (the unit
                        * suite checks both give the same digest) */
} gr_sha256_ctx;

/* Starts ctx on an empty message. */
void gr_sha256_init(gr_sha256_ctx *ctx);
/* Appends n bytes at data (borrowed; NULL allowed when n is 0). */
void gr_sha256_update(gr_sha256_ctx *ctx, const void *data, size_t n);
/* Writes the digest of everything appended into out; ctx is then spent
 * (gr_sha256_init starts it again). */
void gr_sha256_final(gr_sha256_ctx *ctx, uint8_t out[GR_SHA256_SIZE]);
/* Writes d as 64 lowercase hex digits and a NUL into out. */
void gr_sha256_hex(const uint8_t d[GR_SHA256_SIZE], char out[65]);

/* Appends the whole of the regular file at path to ctx (initialized by the
 * caller, which then calls gr_sha256_final), read 64 KiB at a time. A
 * device, FIFO, socket or directory is refused before a byte is read: its
 * reading might never end. GR_OK, else GR_EIO (cannot open, not a regular
 * file, a read error) or GR_ENOMEM, err naming path; after an error ctx
 * holds part of the file and is to be discarded. */
gr_status gr_sha256_file(const char *path, gr_sha256_ctx *ctx, gr_error *err);

#endif
