/* json_scan.c - see json_scan.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/json_scan.h"

void gr_json_scan_init(gr_json_scan *sc, const char *s, size_t n, size_t max_depth,
                       size_t max_string)
{
    memset(sc, 0, sizeof *sc);
    sc->s = s;
    sc->n = n;
    sc->max_depth = max_depth;
    sc->max_string = max_string;
}

static int fail(gr_json_scan *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(gr_json_scan *sc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sc->why, sizeof sc->why, fmt, ap);
    va_end(ap);
    return 0;
}

int gr_json_peek(gr_json_scan *sc)
{
    while (sc->at < sc->n && (sc->s[sc->at] == ' ' || sc->s[sc->at] == '\t' ||
                              sc->s[sc->at] == '\n' || sc->s[sc->at] == '\r'))
        sc->at++;
    return sc->at < sc->n ? (unsigned char)sc->s[sc->at] : -1;
}

static int at_error(gr_json_scan *sc, const char *what)
{
    char where[160];
    gr_json_scan_where(sc->s, sc->at, what, where, sizeof where);
    return fail(sc, "%s", where);
}

int gr_json_fail_here(gr_json_scan *sc, const char *what)
{
    return at_error(sc, what);
}

int gr_json_expect(gr_json_scan *sc, char c, const char *what)
{
    if (gr_json_peek(sc) != (unsigned char)c)
        return at_error(sc, what);
    sc->at++;
    return 1;
}

/* At a '"': steps past the closing quote (a backslash steps over the byte
 * after it). */
static int skip_string(gr_json_scan *sc)
{
    const char *s = sc->s;
    size_t start = ++sc->at, at = start, n = sc->n;
    for (;;) {
        while (at < n && s[at] != '"' && s[at] != '\\')
            at++;
        if (at >= n || s[at] == '"')
            break;
        at += 2;
    }
    if (at >= n) {
        sc->at = start - 1;
        return at_error(sc, "a string does not end");
    }
    sc->at = at;
    if (sc->max_string && sc->at - start > sc->max_string)
        return fail(sc, "a string at byte %zu is longer than %zu bytes", start, sc->max_string);
    sc->at++;
    return 1;
}

/* The bytes that end a number or literal, as the scanner delimits them. */
static const unsigned char delimiter[256] = {
    [','] = 1,  [']'] = 1,  ['}'] = 1, [':'] = 1, [' '] = 1, ['\t'] = 1,
    ['\n'] = 1, ['\r'] = 1, ['"'] = 1, ['['] = 1, ['{'] = 1,
};

/* The bytes the scanner stops at inside an array or object: the rest
 * (whitespace, ',', ':', scalars) is only stepped over there. */
static const unsigned char special[256] = {
    ['"'] = 1, ['['] = 1, ['{'] = 1, [']'] = 1, ['}'] = 1,
};

static int is_delimiter(char c)
{
    return delimiter[(unsigned char)c];
}

/* Containers as a stack of bits, 1 for an object: max_depth is at most
 * 10,000 (the daemon's ceiling), so 2,048 bytes hold any. */
#define MAX_STACK 16384

int gr_json_skip_value(gr_json_scan *sc, size_t *start, size_t *end)
{
    unsigned char stack[MAX_STACK / 8];
    size_t depth = 0;
    int c = gr_json_peek(sc);
    if (c < 0)
        return at_error(sc, "a value was expected, the text ends");
    *start = sc->at;
    do {
        while (depth) { /* inside, only strings and brackets matter here */
            size_t at = sc->at;
            while (at < sc->n && !special[(unsigned char)sc->s[at]])
                at++;
            sc->at = at;
            if (at >= sc->n || sc->s[at] != '"')
                break;
            if (!skip_string(sc))
                return 0;
        }
        c = gr_json_peek(sc);
        if (c < 0) {
            sc->at = *start;
            return at_error(sc, depth ? "an array or object does not end" : "a value expected");
        }
        if (c == '"') {
            if (!skip_string(sc))
                return 0;
        } else if (c == '{' || c == '[') {
            if ((sc->max_depth && sc->depth + depth + 1 > sc->max_depth) || depth + 1 >= MAX_STACK)
                return fail(sc, "arrays and objects nest deeper than %zu levels (byte %zu)",
                            sc->max_depth ? sc->max_depth : (size_t)MAX_STACK, sc->at);
            if (c == '{')
                stack[depth / 8] |= (unsigned char)(1u << depth % 8);
            else
                stack[depth / 8] &= (unsigned char)~(1u << depth % 8);
            depth++;
            sc->at++;
        } else if (c == '}' || c == ']') {
            int object = depth && stack[(depth - 1) / 8] >> (depth - 1) % 8 & 1;
            if (!depth)
                return at_error(sc, "a value was expected");
            if (object != (c == '}'))
                return at_error(sc, c == '}' ? "a '}' closes no object" : "a ']' closes no array");
            depth--;
            sc->at++;
        } else if (c == ',' || c == ':') {
            if (!depth)
                return at_error(sc, "a value was expected");
            sc->at++;
        } else {
            size_t from = sc->at;
            while (sc->at < sc->n && !is_delimiter(sc->s[sc->at]))
                sc->at++;
            if (sc->at == from)
                return at_error(sc, "unexpected character");
        }
    } while (depth);
    *end = sc->at;
    return 1;
}

void gr_json_scan_where(const char *s, size_t at, const char *why, char *buf, size_t size)
{
    size_t line = 1, column = 0;
    for (size_t i = 0; i < at; i++) {
        if (s[i] == '\n')
            line++, column = 0;
        else if (((unsigned char)s[i] & 0xC0) != 0x80) /* characters, as jansson counts */
            column++;
    }
    snprintf(buf, size, "line %zu, column %zu: %s", line, column + 1, why);
}
