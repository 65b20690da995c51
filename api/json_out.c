/* json_out.c - see json_out.h. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_out.h"

void gr_jw_init(gr_jw *w, gr_buf *b, int pretty, int depth)
{
    w->b = b;
    w->pretty = pretty;
    w->depth = w->base = depth < 0 ? 0 : depth < GR_JW_MAX_DEPTH ? depth : GR_JW_MAX_DEPTH - 1;
    w->after_key = 0;
    w->bad = GR_JW_OK;
    w->some[w->depth] = 0;
}

void gr_jw_init_in(gr_jw *w, gr_buf *b, int pretty, int depth, int some)
{
    gr_jw_init(w, b, pretty, depth);
    w->base = w->depth ? w->depth - 1 : 0;
    w->some[w->depth] = !!some;
}

static inline void put(gr_jw *w, const char *s, size_t n)
{
    gr_buf *b = w->b;
    if (b->len + n < b->cap && !w->bad) { /* room: gr_buf_append's work, inline */
        memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = '\0';
    } else if (!w->bad && !gr_buf_append(b, s, n, 0)) {
        w->bad = GR_JW_NOMEM;
    }
}

/* A line break and the indentation of depth d (at most GR_JW_MAX_DEPTH). */
static void newline(gr_jw *w, int d)
{
    static const char lines[] = "\n                                                                "
                                "                                                                ";
    put(w, lines, 1 + 2 * (size_t)d);
}

/* What comes before a value or key: nothing after a key or at the top,
 * else the separator from the member before and the line break. */
static void before(gr_jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth == w->base)
        return;
    if (w->some[w->depth])
        put(w, ",", 1);
    w->some[w->depth] = 1;
    if (w->pretty)
        newline(w, w->depth);
}

static void open_(gr_jw *w, char c)
{
    before(w);
    put(w, &c, 1);
    if (w->depth + 1 >= GR_JW_MAX_DEPTH) {
        if (!w->bad)
            w->bad = GR_JW_DEPTH;
        return;
    }
    w->some[++w->depth] = 0;
}

static void close_(gr_jw *w, char c)
{
    if (w->depth <= w->base) {
        if (!w->bad)
            w->bad = GR_JW_DEPTH;
        return;
    }
    if (w->some[w->depth--] && w->pretty)
        newline(w, w->depth);
    put(w, &c, 1);
}

void gr_jw_object(gr_jw *w)
{
    open_(w, '{');
}

void gr_jw_object_end(gr_jw *w)
{
    close_(w, '}');
}

void gr_jw_array(gr_jw *w)
{
    open_(w, '[');
}

void gr_jw_array_end(gr_jw *w)
{
    close_(w, ']');
}

/* Length of the UTF-8 sequence at s (n bytes left) that jansson accepts
 * (no overlong form, surrogate or code point past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0], len, cp;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (unsigned i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* s as a JSON string, escaped as jansson escapes it. */
static void string(gr_jw *w, const char *str, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str;
    size_t run = 0; /* bytes from s + run on are not written yet */
    put(w, "\"", 1);
    for (size_t i = 0; i < n && !w->bad;) {
        unsigned c = s[i];
        if (c >= 0x80) {
            size_t len = utf8_len(s + i, n - i);
            if (!len) {
                w->bad = GR_JW_UTF8;
                return;
            }
            i += len;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        put(w, (const char *)s + run, i - run);
        char esc[6] = { '\\', 0 };
        size_t len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        put(w, esc, len);
        run = ++i;
    }
    put(w, (const char *)s + run, n - run);
    put(w, "\"", 1);
}

void gr_jw_key(gr_jw *w, const char *key)
{
    before(w);
    string(w, key, strlen(key));
    put(w, w->pretty ? ": " : ":", w->pretty ? 2 : 1);
    w->after_key = 1;
}

void gr_jw_strn(gr_jw *w, const char *s, size_t n)
{
    before(w);
    string(w, s, n);
}

void gr_jw_str(gr_jw *w, const char *s)
{
    if (!s)
        gr_jw_null(w);
    else
        gr_jw_strn(w, s, strlen(s));
}

void gr_jw_int(gr_jw *w, long long v)
{
    char buf[24], *p = buf + sizeof buf;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    before(w);
    put(w, p, (size_t)(buf + sizeof buf - p));
}

/* ---- doubles: the shortest of %.15g, %.16g, %.17g that reads back ---- */

/* v's 17 significant digits into d (d[0] nonzero unless v is 0) and the
 * decimal exponent of the first; returns the sign. */
static int digits17(double v, char d[17], int *exp)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.16e", v); /* [-]d.dddddddddddddddde[+-]XX */
    const char *p = buf;
    int neg = *p == '-';
    p += neg;
    d[0] = *p;
    memcpy(d + 1, p + 2, 16);
    *exp = atoi(p + 19); /* after the "e" */
    return neg;
}

/* d (17 digits) rounded half up to prec digits into r; the exponent moves
 * up one when the rounding carries out of the first digit. Returns 0 when
 * the 17 digits cannot say how v rounds (the rest is a bare 5, or 50):
 * snprintf is asked then. */
static int round_digits(const char d[17], int prec, char *r, int *exp)
{
    memcpy(r, d, (size_t)prec);
    char next = d[prec];
    int tail_zero = 1;
    for (int i = prec + 1; i < 17; i++)
        tail_zero &= d[i] == '0';
    if (next == '5' && tail_zero)
        return 0;
    if (next < '5')
        return 1;
    int i = prec - 1;
    while (i >= 0 && r[i] == '9')
        r[i--] = '0';
    if (i >= 0) {
        r[i]++;
    } else {
        memmove(r + 1, r, (size_t)prec - 1);
        r[0] = '1';
        (*exp)++;
    }
    return 1;
}

/* %.{prec}g of digits r (prec of them, first exponent exp) into out:
 * trailing zeros dropped, plain when -4 <= exp < prec, else with an
 * exponent. Returns the length. */
static size_t spell_g(char *out, int neg, const char *r, int prec, int exp)
{
    int k = prec;
    while (k > 1 && r[k - 1] == '0')
        k--;
    char *o = out;
    if (neg)
        *o++ = '-';
    if (exp < -4 || exp >= prec) {
        *o++ = r[0];
        if (k > 1) {
            *o++ = '.';
            memcpy(o, r + 1, (size_t)k - 1);
            o += k - 1;
        }
        *o++ = 'e'; /* as jansson leaves it: no '+', no leading zero */
        if (exp < 0)
            *o++ = '-';
        int a = exp < 0 ? -exp : exp;
        if (a >= 100)
            *o++ = (char)('0' + a / 100);
        if (a >= 10)
            *o++ = (char)('0' + a / 10 % 10);
        *o++ = (char)('0' + a % 10);
    } else if (exp < 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = -1; i > exp; i--)
            *o++ = '0';
        memcpy(o, r, (size_t)k);
        o += k;
    } else {
        for (int i = 0; i <= exp || i < k; i++) {
            if (i == exp + 1)
                *o++ = '.';
            *o++ = i < k ? r[i] : '0';
        }
    }
    *o = '\0';
    return (size_t)(o - out);
}

/* jansson's touches: a '.' when there is neither '.' nor exponent, and no
 * '+' or leading zeros in the exponent. */
static size_t as_jansson(char *s, size_t n)
{
    char *e = strchr(s, 'e');
    if (!e) {
        if (!strchr(s, '.')) {
            memcpy(s + n, ".0", 3);
            n += 2;
        }
        return n;
    }
    char *from = e + 1, *to = e + 1;
    if (*from == '-')
        to = ++from;
    else if (*from == '+')
        from++;
    while (*from == '0' && from[1])
        from++;
    memmove(to, from, strlen(from) + 1);
    return strlen(s);
}

/* Whether digits r (prec of them, first exponent exp) read back as v,
 * decided without strtod where it can be: v lies within half a unit of
 * its 17 digits d (first exponent exp0), and the decimals that read back
 * as v are those within half an ulp of it. Returns 1 or 0, or -1 when
 * too close to tell (strtod decides), for subnormals and powers of two
 * (whose lower neighbour is nearer). */
static int reads_back(double v, const char d[17], int exp0, const char *r, int prec, int exp)
{
    int x;
    double f = frexp(fabs(v), &x);
    if (fabs(v) < DBL_MIN || f == 0.5)
        return -1;
    uint64_t d17 = 0, c = 0;
    for (int i = 0; i < 17; i++)
        d17 = d17 * 10 + (uint64_t)(d[i] - '0');
    for (int i = 0; i < 17 + (exp - exp0); i++)
        c = c * 10 + (uint64_t)(i < prec ? r[i] - '0' : 0);
    /* in units of d's last digit: half an ulp, and how far r is from d */
    double half_ulp = (double)d17 / (f * 0x1p54), far = (double)(c > d17 ? c - d17 : d17 - c);
    if (far + 0.5 < half_ulp - 1e-6)
        return 1;
    if (far - 0.5 > half_ulp + 1e-6)
        return 0;
    return -1;
}

/* ---- the exact path: 128-bit integers, no printf, no strtod ---- */

__extension__ typedef unsigned __int128 u128;

static const uint64_t pow5[28] = { 1ull,
                                   5ull,
                                   25ull,
                                   125ull,
                                   625ull,
                                   3125ull,
                                   15625ull,
                                   78125ull,
                                   390625ull,
                                   1953125ull,
                                   9765625ull,
                                   48828125ull,
                                   244140625ull,
                                   1220703125ull,
                                   6103515625ull,
                                   30517578125ull,
                                   152587890625ull,
                                   762939453125ull,
                                   3814697265625ull,
                                   19073486328125ull,
                                   95367431640625ull,
                                   476837158203125ull,
                                   2384185791015625ull,
                                   11920928955078125ull,
                                   59604644775390625ull,
                                   298023223876953125ull,
                                   1490116119384765625ull,
                                   7450580596923828125ull };

static const uint64_t pow10[18] = { 1ull,
                                    10ull,
                                    100ull,
                                    1000ull,
                                    10000ull,
                                    100000ull,
                                    1000000ull,
                                    10000000ull,
                                    100000000ull,
                                    1000000000ull,
                                    10000000000ull,
                                    100000000000ull,
                                    1000000000000ull,
                                    10000000000000ull,
                                    100000000000000ull,
                                    1000000000000000ull,
                                    10000000000000000ull,
                                    100000000000000000ull };

/* |v| = m 2^e (m < 2^53) rounded to p significant digits as printf rounds
 * (to nearest, ties to even) into *c, first digit's exponent *exp (an
 * estimate on entry, exact on return); returns 1 when *c reads back as v,
 * 0 when it does not, -1 when the numbers do not fit (printf and strtod
 * decide). With q = p - 1 - exp and s = -(q + e):
 * |v| 10^q = m 5^q / 2^s, and half an ulp of v scaled so is 5^q / 2^(s+1). */
static int exact(uint64_t m, int e, int p, uint64_t *c, int *exp)
{
    for (int tries = 0; tries < 3; tries++) {
        int q = p - 1 - *exp, s = -(q + e);
        if (q < 0 || q > 27 || s < 1 || s > 60)
            return -1;
        u128 x = (u128)m * pow5[q], t = x >> s, rem = x - (t << s), half = (u128)1 << (s - 1);
        if (t >= pow10[p] || t < pow10[p - 1]) { /* the estimate was one off */
            *exp += t >= pow10[p] ? 1 : -1;
            continue;
        }
        t += rem > half || (rem == half && (t & 1));
        u128 scaled = t << (s + 1), two_x = x << 1;
        int even = !(m & 1), lower_half = m == 1ull << 52; /* a power of two's lower gap */
        u128 d = scaled >= two_x ? scaled - two_x : two_x - scaled;
        if (scaled < two_x && lower_half)
            d <<= 1;
        int back = d < pow5[q] || (d == pow5[q] && even);
        if (t == pow10[p]) { /* rounded up to the next power of ten */
            t = pow10[p - 1];
            (*exp)++;
        }
        *c = (uint64_t)t;
        return back;
    }
    return -1;
}

/* The exact path's text of v, or 0 when it cannot say (printf's path). */
static size_t format_exact(char *buf, double v)
{
    int x;
    double f = frexp(fabs(v), &x);
    if (v == 0 || fabs(v) < DBL_MIN)
        return 0;
    uint64_t m = (uint64_t)ldexp(f, 53), c;
    int e = x - 53, guess = (int)floor(log10(fabs(v)));
    for (int p = 15; p <= 17; p++) {
        int exp = guess;
        int back = exact(m, e, p, &c, &exp);
        if (back < 0)
            return 0;
        if (!back)
            continue;
        char r[17];
        for (int i = p - 1; i >= 0; i--, c /= 10)
            r[i] = (char)('0' + c % 10);
        return spell_g(buf, v < 0, r, p, exp);
    }
    return 0;
}

size_t gr_jw_format_real(char *buf, double v)
{
    if (!isfinite(v)) {
        buf[0] = '\0';
        return 0;
    }
    size_t n = format_exact(buf, v);
    if (n)
        return as_jansson(buf, n);
    char d[17], r[17];
    int exp0, neg = digits17(v, d, &exp0);
    for (int prec = 15; prec <= 17; prec++) {
        int exp = exp0;
        if (prec < 17 && !round_digits(d, prec, r, &exp)) {
            n = (size_t)snprintf(buf, 32, "%.*g", prec, v); /* the 17 digits tie */
            if (strtod(buf, NULL) == v)
                break;
            continue;
        }
        int back = prec == 17 || v == 0 ? 1 : reads_back(v, d, exp0, r, prec, exp);
        if (!back)
            continue;
        n = spell_g(buf, neg, prec < 17 ? r : d, prec, exp);
        if (back == 1 || strtod(buf, NULL) == v)
            break;
    }
    return as_jansson(buf, n);
}

void gr_jw_real(gr_jw *w, double v)
{
    char buf[40];
    size_t n = gr_jw_format_real(buf, v);
    if (!n) {
        if (!w->bad)
            w->bad = GR_JW_NONFINITE;
        return;
    }
    before(w);
    put(w, buf, n);
}

void gr_jw_bool(gr_jw *w, int v)
{
    before(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void gr_jw_null(gr_jw *w)
{
    before(w);
    put(w, "null", 4);
}

void gr_jw_json(gr_jw *w, const json_t *v)
{
    const char *key;
    json_t *m;
    size_t i;
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT:
        gr_jw_object(w);
        json_object_foreach((json_t *)v, key, m)
        {
            gr_jw_key(w, key);
            gr_jw_json(w, m);
        }
        gr_jw_object_end(w);
        break;
    case JSON_ARRAY:
        gr_jw_array(w);
        json_array_foreach(v, i, m) gr_jw_json(w, m);
        gr_jw_array_end(w);
        break;
    case JSON_STRING: gr_jw_strn(w, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: gr_jw_int(w, (long long)json_integer_value(v)); break;
    case JSON_REAL: gr_jw_real(w, json_real_value(v)); break;
    case JSON_TRUE: gr_jw_bool(w, 1); break;
    case JSON_FALSE: gr_jw_bool(w, 0); break;
    default:
        if (v)
            gr_jw_null(w);
        else if (!w->bad)
            w->bad = GR_JW_NOMEM;
    }
}
