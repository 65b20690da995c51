/* auth.h - bearer tokens for genoriskd (--auth-tokens FILE): read from a
 * file, kept in memory only as SHA-256 digests, and checked against every
 * digest in constant time, so neither memory dumps nor response timing give
 * a token away. */
#ifndef GR_AUTH_H
#define GR_AUTH_H

#include <stddef.h>

typedef struct gr_auth gr_auth;

#define GR_AUTH_MIN_TOKEN 16
#define GR_AUTH_MAX_TOKEN 4096
#define GR_AUTH_MAX_FILE (16 << 20) /* bytes */

/* Called for each line of the file that is not a token: its number and why,
 * never its text. */
typedef void (*gr_auth_report)(void *arg, size_t line, const char *why);

/* Reads path: one token per line; blank lines and lines starting with '#'
 * are skipped, spaces and tabs around a token are trimmed. A token must be
 * GR_AUTH_MIN_TOKEN..GR_AUTH_MAX_TOKEN bytes of printable ASCII without
 * spaces (RFC 6750's b64token and more). The file takes effect as written:
 * a line that breaks these rules is skipped, counted (gr_auth_rejected) and
 * passed to report (NULL: not reported), and a file without a valid token
 * gives a gr_auth that refuses every token (gr_auth_count 0). Returns new
 * (gr_auth_free), or NULL with why filled when the file cannot be read
 * (missing, not permitted, past GR_AUTH_MAX_FILE, a read error) or memory
 * runs out. */
gr_auth *gr_auth_load(const char *path, gr_auth_report report, void *arg, char *why,
                      size_t why_size);
void gr_auth_free(gr_auth *a);
/* 1 when token (len bytes, need not be NUL-terminated) is one of a's.
 * Takes the same time whichever token matches, or none. */
int gr_auth_check(const gr_auth *a, const char *token, size_t len);
/* Tokens held; 0 for NULL. */
size_t gr_auth_count(const gr_auth *a);
/* Lines of the file skipped as not tokens; 0 for NULL. */
size_t gr_auth_rejected(const gr_auth *a);

#endif
