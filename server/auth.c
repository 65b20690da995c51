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
/* room for a longest token and the spaces around it; a longer line is
 * rejected without being kept */
#define LINE_MAX_BYTES (GR_AUTH_MAX_TOKEN + 256)

struct gr_auth {
    size_t n, rejected;
    unsigned char (*digest)[DIGEST];
};

static int digest_of(const char *token, size_t len, unsigned char out[DIGEST])
{
    return gnutls_hash_fast(GNUTLS_DIG_SHA256, token, len, out) == 0;
}

/* Reads one line of f into buf (cap bytes, NUL-terminated, the newline
 * dropped); *len its length, *total the bytes read so far. Returns 0 at the
 * end of the file, 1 for a line, 2 for a line too long for buf (its first
 * cap - 1 bytes kept, the rest read and dropped), -1 once *total passes
 * max_total (the rest unread). */
static int read_line(FILE *f, char *buf, size_t cap, size_t *len, size_t *total, size_t max_total)
{
    size_t n = 0;
    int c = EOF, over = 0;
    while (*total <= max_total && (c = getc(f)) != EOF) {
        ++*total;
        if (c == '\n')
            break;
        if (n + 1 < cap)
            buf[n++] = (char)c;
        else
            over = 1;
    }
    buf[n] = '\0';
    *len = n;
    if (*total > max_total)
        return -1;
    if (c == EOF && n == 0 && !over)
        return 0;
    return over ? 2 : 1;
}

static int add_digest(gr_auth *a, size_t *room, const char *token, size_t len, char *why,
                      size_t why_size)
{
    if (a->n == *room) {
        size_t more = *room ? 2 * *room : 8;
        void *d = realloc(a->digest, more * sizeof *a->digest);
        if (!d) {
            snprintf(why, why_size, "out of memory");
            return -1;
        }
        a->digest = d;
        *room = more;
    }
    if (!digest_of(token, len, a->digest[a->n])) {
        snprintf(why, why_size, "--auth-tokens: SHA-256 is not available");
        return -1;
    }
    a->n++;
    return 0;
}

gr_auth *gr_auth_load(const char *path, gr_auth_report report, void *arg, char *why,
                      size_t why_size)
{
    gr_auth *a = calloc(1, sizeof *a);
    FILE *f = NULL;
    char line[LINE_MAX_BYTES];
    char rule[96];
    size_t len = 0, lineno = 0, room = 0, total = 0;
    int got;
    snprintf(rule, sizeof rule, "a token must be %d to %d printable characters without spaces",
             GR_AUTH_MIN_TOKEN, GR_AUTH_MAX_TOKEN);
    if (!a) {
        snprintf(why, why_size, "out of memory");
        goto fail;
    }
    if (!(f = fopen(path, "r"))) {
        snprintf(why, why_size, "--auth-tokens %s: %s", path, strerror(errno));
        goto fail;
    }
    while ((got = read_line(f, line, sizeof line, &len, &total, GR_AUTH_MAX_FILE)) > 0) {
        lineno++;
        char *s = line + (lineno == 1 ? gr_utf8_bom(line, len) : 0), *e = line + len;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (s == e || *s == '#')
            continue;
        size_t n = (size_t)(e - s);
        int ok = got == 1 && n >= GR_AUTH_MIN_TOKEN && n <= GR_AUTH_MAX_TOKEN;
        for (const char *p = s; ok && p < e; p++)
            ok = *p > ' ' && *p < 127;
        if (!ok) { /* skipped: the file takes effect without it */
            a->rejected++;
            if (report)
                report(arg, lineno, got == 2 ? "longer than a token may be" : rule);
            continue;
        }
        if (add_digest(a, &room, s, n, why, why_size))
            goto fail;
    }
    if (got < 0) {
        snprintf(why, why_size, "--auth-tokens %s: larger than %d MiB", path,
                 GR_AUTH_MAX_FILE >> 20);
        goto fail;
    }
    if (ferror(f)) {
        snprintf(why, why_size, "--auth-tokens %s: read error", path);
        goto fail;
    }
    /* the token text is gone from this process once the line buffer is */
    explicit_bzero(line, sizeof line);
    fclose(f);
    return a;
fail:
    explicit_bzero(line, sizeof line);
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

size_t gr_auth_rejected(const gr_auth *a)
{
    return a ? a->rejected : 0;
}
