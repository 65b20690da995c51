/* auth.c - see auth.h. */
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "server/auth.h"

#define DIGEST 32 /* SHA-256 */

struct gr_auth {
    size_t n;
    unsigned char (*digest)[DIGEST];
};

static int digest_of(const char *token, size_t len, unsigned char out[DIGEST])
{
    return gnutls_hash_fast(GNUTLS_DIG_SHA256, token, len, out) == 0;
}

gr_auth *gr_auth_load(const char *path, char *why, size_t why_size)
{
    gr_auth *a = calloc(1, sizeof *a);
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0, lineno = 0, room = 0;
    ssize_t got;
    if (!a) {
        snprintf(why, why_size, "out of memory");
        goto fail;
    }
    if (!(f = fopen(path, "r"))) {
        snprintf(why, why_size, "--auth-tokens %s: %s", path, strerror(errno));
        goto fail;
    }
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        char *s = line + (lineno == 1 ? gr_utf8_bom(line, (size_t)got) : 0), *e = line + got;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (s == e || *s == '#')
            continue;
        size_t len = (size_t)(e - s);
        int ok = len >= GR_AUTH_MIN_TOKEN && len <= GR_AUTH_MAX_TOKEN;
        for (const char *p = s; ok && p < e; p++)
            ok = *p > ' ' && *p < 127;
        if (!ok) {
            snprintf(why, why_size,
                     "--auth-tokens %s line %zu: a token must be %d to %d printable characters "
                     "without spaces",
                     path, lineno, GR_AUTH_MIN_TOKEN, GR_AUTH_MAX_TOKEN);
            goto fail;
        }
        if (a->n == room) {
            room = room ? 2 * room : 8;
            void *more = realloc(a->digest, room * sizeof *a->digest);
            if (!more) {
                snprintf(why, why_size, "out of memory");
                goto fail;
            }
            a->digest = more;
        }
        if (!digest_of(s, len, a->digest[a->n])) {
            snprintf(why, why_size, "--auth-tokens: SHA-256 is not available");
            goto fail;
        }
        a->n++;
    }
    if (ferror(f)) {
        snprintf(why, why_size, "--auth-tokens %s: read error", path);
        goto fail;
    }
    if (!a->n) {
        snprintf(why, why_size, "--auth-tokens %s holds no tokens", path);
        goto fail;
    }
    /* the token text is gone from this process once the line buffer is */
    explicit_bzero(line, cap);
    free(line);
    fclose(f);
    return a;
fail:
    if (line)
        explicit_bzero(line, cap);
    free(line);
    if (f)
        fclose(f);
    gr_auth_free(a);
    return NULL;
}

void gr_auth_free(gr_auth *a)
{
    if (!a)
        return;
    free(a->digest);
    free(a);
}

int gr_auth_check(const gr_auth *a, const char *token, size_t len)
{
    unsigned char d[DIGEST];
    if (!a || len > GR_AUTH_MAX_TOKEN || !digest_of(token, len, d))
        return 0;
    /* every digest is compared in full: no early exit tells which matched */
    unsigned match = 0;
    for (size_t i = 0; i < a->n; i++) {
        unsigned diff = 0;
        for (size_t k = 0; k < DIGEST; k++)
            diff |= (unsigned)(a->digest[i][k] ^ d[k]);
        match |= (unsigned)(diff == 0);
    }
    return (int)match;
}

size_t gr_auth_count(const gr_auth *a)
{
    return a ? a->n : 0;
}
