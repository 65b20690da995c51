/* bcf_peek.h - the size of the next BCF record, read before htslib reads it.
 * htslib's bcf_read sizes its buffers from a record's two length fields
 * before it reads a byte of the record, so 8 bytes claiming 4 GB each make
 * it allocate 6 GB; these lengths are checked first. Internal to core/
 * (vcf.c). */
#ifndef GR_BCF_PEEK_H
#define GR_BCF_PEEK_H

#include <htslib/bgzf.h>
#include <stdint.h>

/* Looks at the 8 bytes that start the next record of fp, a BCF reader
 * without threads positioned between records, and leaves fp as it was (the
 * same bytes come next). *bytes = the record's shared plus individual
 * lengths. Returns 1 when it did, 0 when fewer than 8 bytes remain (the end
 * of the file, or a truncation bcf_read will report), -1 on a read error
 * (also when a record that straddles two BGZF blocks cannot be rewound). */
int gr_bcf_peek_size(BGZF *fp, uint64_t *bytes);

#endif
