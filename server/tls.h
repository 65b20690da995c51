/* tls.h - genoriskd's --tls-cert/--tls-key: read and checked with GnuTLS
 * at start, so a wrong file or a key that does not match its certificate is
 * named then, not hidden behind libmicrohttpd's refusal to start. */
#ifndef GR_TLS_H
#define GR_TLS_H

#include <stddef.h>

/* Reads both PEM files (at most 1 MiB each) and checks that the key matches
 * the certificate. On success *cert and *key are new NUL-terminated strings
 * (free the key with gr_tls_free_key, which wipes it); returns 0. Else -1
 * with why filled. */
int gr_tls_load(const char *cert_path, const char *key_path, char **cert, char **key, char *why,
                size_t why_size);
void gr_tls_free_key(char *key);

#endif
