/* util.c - small string and number helpers shared by the loaders. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

char *gr_strdup(const char *s)
{
    size_t n = strlen(s ? s : "") + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s ? s : "", n);
    return d;
}

int gr_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 1;
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > SIZE_MAX / 2 / elem)
            return 0;
        c *= 2;
    }
    void *q = realloc(*p, c * elem);
    if (!q)
        return 0;
    *p = q;
    *cap = c;
    return 1;
}

char *gr_path_join(const char *dir, const char *file)
{
    size_t a = strlen(dir), b = strlen(file);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    size_t n = a;
    if (a && dir[a - 1] != '/')
        p[n++] = '/';
    memcpy(p + n, file, b + 1);
    return p;
}

/* Plain decimals with at most 15 significant digits and a power of ten of
 * at most 22 convert exactly: both the digits and the power are exact
 * doubles, and one IEEE multiply or divide rounds correctly (Clinger's fast
 * path). That covers nearly every weight and frequency in scoring files;
 * everything else goes to strtod. 1 when *out was set. */
static int parse_simple_decimal(const char *s, double *out)
{
    static const double pow10[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
    const char *p = s;
    int neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    uint64_t mant = 0;
    int sig = 0, digits = 0, frac = 0;
    for (int dot = 0;; p++) {
        if (*p == '.' && !dot) {
            dot = 1;
            continue;
        }
        if (*p < '0' || *p > '9')
            break;
        digits++;
        frac += dot;
        if (mant || *p != '0')
            sig++;
        if (sig > 15)
            return 0;
        mant = mant * 10 + (uint64_t)(*p - '0');
    }
    if (!digits)
        return 0;
    int e = 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        int eneg = *p == '-';
        if (*p == '-' || *p == '+')
            p++;
        if (*p < '0' || *p > '9')
            return 0;
        for (int n = 0; *p >= '0' && *p <= '9'; p++, n++) {
            if (n >= 4)
                return 0;
            e = e * 10 + (*p - '0');
        }
        e = eneg ? -e : e;
    }
    if (*p)
        return 0;
    e -= frac;
    if (e < -22 || e > 22)
        return 0;
    double v = (double)mant;
    v = e < 0 ? v / pow10[-e] : v * pow10[e];
    *out = neg ? -v : v;
    return 1;
}

int gr_parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return 0;
    if (parse_simple_decimal(s, out))
        return 1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

int gr_parse_int64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno == ERANGE)
        return 0;
    *out = v;
    return 1;
}

size_t gr_split_tabs(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        fields[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

char *gr_chrom_normalize(const char *in, char *out, size_t size)
{
    if (!size)
        return out;
    const char *s = in ? in : "";
    if ((s[0] == 'c' || s[0] == 'C') && (s[1] == 'h' || s[1] == 'H') &&
        (s[2] == 'r' || s[2] == 'R'))
        s += 3;
    const char *name = s;
    if (!strcmp(s, "23") || !strcmp(s, "x"))
        name = "X";
    else if (!strcmp(s, "24") || !strcmp(s, "y"))
        name = "Y";
    else if (!strcmp(s, "M") || !strcmp(s, "m") || !strcmp(s, "MT") || !strcmp(s, "mt") ||
             !strcmp(s, "26"))
        name = "MT";
    size_t n = strlen(name);
    if (n >= size)
        n = size - 1;
    memcpy(out, name, n);
    out[n] = '\0';
    return out;
}

size_t gr_locus_key(char *out, const char *chrom, int64_t pos, const char *a, const char *b)
{
    char digits[24];
    int nd = 0;
    uint64_t v = pos < 0 ? 0 : (uint64_t)pos;
    do
        digits[nd++] = (char)('0' + v % 10);
    while ((v /= 10));
    char *p = out;
    for (const char *s = chrom; *s;)
        *p++ = *s++;
    *p++ = ':';
    while (nd)
        *p++ = digits[--nd];
    *p++ = ':';
    for (const char *s = a; *s;)
        *p++ = *s++;
    *p++ = ':';
    for (const char *s = b; *s;)
        *p++ = *s++;
    *p = '\0';
    return (size_t)(p - out);
}

size_t gr_utf8_char(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    size_t n = c < 0x80                 ? 1
               : c >= 0xC2 && c <= 0xDF ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    if (n <= 1)
        return n;
    uint32_t v = c & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3Fu);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || (v >= 0xD800 && v <= 0xDFFF) ||
        v > 0x10FFFF)
        return 0;
    return n;
}

int gr_utf8_valid(const char *s)
{
    while (*s) {
        size_t n = gr_utf8_char(s);
        if (!n)
            return 0;
        s += n;
    }
    return 1;
}

void gr_utf8_scrub(char *s)
{
    while (*s) {
        size_t n = gr_utf8_char(s);
        if (!n)
            *s = '?', n = 1;
        s += n;
    }
}

void gr_utf8_trim(char *s)
{
    while (*s) {
        size_t n = gr_utf8_char(s);
        if (!n) { /* the cut, or bytes that were never UTF-8: drop the rest */
            *s = '\0';
            return;
        }
        s += n;
    }
}

char *gr_arena_alloc(gr_arena *a, size_t n)
{
    if (!a->n_chunks || a->used + n > a->cap) {
        size_t cap = n > 65536 ? n : 65536;
        char **more = realloc(a->chunks, (a->n_chunks + 1) * sizeof *more);
        if (!more)
            return NULL;
        a->chunks = more;
        if (!(a->chunks[a->n_chunks] = malloc(cap)))
            return NULL;
        a->n_chunks++;
        a->used = 0;
        a->cap = cap;
    }
    char *p = a->chunks[a->n_chunks - 1] + a->used;
    a->used += n;
    return p;
}

char *gr_arena_strdup(gr_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = gr_arena_alloc(a, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

void gr_arena_free(gr_arena *a)
{
    for (size_t i = 0; i < a->n_chunks; i++)
        free(a->chunks[i]);
    free(a->chunks);
    memset(a, 0, sizeof *a);
}
