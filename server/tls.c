/* tls.c - see tls.h. */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/tls.h"

#define MAX_PEM (1 << 20)

/* The whole file as a new string, or NULL with why filled. */
static char *read_pem(const char *flag, const char *path, size_t *len, char *why, size_t n)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (!f) {
        snprintf(why, n, "%s %s: %s", flag, path, strerror(errno));
        return NULL;
    }
    buf = malloc(MAX_PEM + 1);
    size_t got = buf ? fread(buf, 1, MAX_PEM + 1, f) : 0;
    int bad = !buf || ferror(f) || got == 0 || got > MAX_PEM;
    fclose(f);
    if (bad) {
        snprintf(why, n, "%s %s: %s", flag, path,
                 !buf            ? "out of memory"
                 : got > MAX_PEM ? "larger than 1 MiB"
                                 : "empty or unreadable");
        if (buf)
            explicit_bzero(buf, MAX_PEM + 1);
        free(buf);
        return NULL;
    }
    buf[got] = '\0';
    *len = got;
    return buf;
}

int gr_tls_load(const char *cert_path, const char *key_path, char **cert, char **key, char *why,
                size_t why_size)
{
    size_t cl = 0, kl = 0;
    gnutls_certificate_credentials_t cred = NULL;
    *cert = read_pem("--tls-cert", cert_path, &cl, why, why_size);
    *key = *cert ? read_pem("--tls-key", key_path, &kl, why, why_size) : NULL;
    if (!*key)
        goto fail;
    if (gnutls_certificate_allocate_credentials(&cred) < 0) {
        snprintf(why, why_size, "TLS: out of memory");
        goto fail;
    }
    gnutls_datum_t c = { (unsigned char *)*cert, (unsigned)cl };
    gnutls_datum_t k = { (unsigned char *)*key, (unsigned)kl };
    int rc = gnutls_certificate_set_x509_key_mem(cred, &c, &k, GNUTLS_X509_FMT_PEM);
    gnutls_certificate_free_credentials(cred);
    if (rc < 0) {
        snprintf(why, why_size, "--tls-cert %s with --tls-key %s: %s", cert_path, key_path,
                 gnutls_strerror(rc));
        goto fail;
    }
    return 0;
fail:
    free(*cert);
    gr_tls_free_key(*key);
    *cert = *key = NULL;
    return -1;
}

void gr_tls_free_key(char *key)
{
    if (!key)
        return;
    explicit_bzero(key, strlen(key));
    free(key);
}
