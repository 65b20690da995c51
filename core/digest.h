/* digest.h - the SHA-256 a bundle is known by in every answer's
 * provenance: one digest over its files in a fixed order, so an auditor
 * can tell exactly which model and reference produced a result. */
#ifndef GR_DIGEST_H
#define GR_DIGEST_H

#include <stddef.h>

#include "error.h"

/* Writes into hex (65 bytes: 64 lower-case hex digits and NUL) the SHA-256
 * of, for each of the n files of dir that exist, in the order given: the
 * file's name, a NUL byte, then the 32-byte SHA-256 of its contents
 * (docs/model-format.md, "Provenance", shows it in Python). A file
 * listed twice counts once, an empty name not at all; one that cannot be read is GR_EIO naming it. */
gr_status gr_bundle_digest(const char *dir, const char *const *files, size_t n, char *hex,
                           gr_error *err);

#endif
