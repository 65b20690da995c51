/* json_sample.c - see json_sample.h. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_sample.h"
#include "api/predict_json.h"

#define MAX_KEY 600  /* longer keys go the complete way (match.c reads up to 600) */
#define MAX_TOKEN 64 /* numbers and genotype strings */

int gr_json_sample_init(gr_json_sample *r, const gr_model *m)
{
    memset(r, 0, sizeof *r);
    r->m = m;
    r->nf = gr_model_get_info(m)->n_features;
    r->seen = calloc(r->nf ? r->nf : 1, sizeof *r->seen);
    return r->seen != NULL;
}

void gr_json_sample_free(gr_json_sample *r)
{
    free(r->seen);
    free(r->memo);
    free(r->feature);
    free(r->value);
    memset(r, 0, sizeof *r);
}

typedef struct {
    const char *s;
    size_t at, end;
} cursor;

static int peek(cursor *c)
{
    while (c->at < c->end && (c->s[c->at] == ' ' || c->s[c->at] == '\n' || c->s[c->at] == '\r' ||
                              c->s[c->at] == '\t'))
        c->at++;
    return c->at < c->end ? (unsigned char)c->s[c->at] : -1;
}

/* The literal null at the cursor (after peek): 1 and the cursor after
 * it, else 0. */
static int null_literal(cursor *c)
{
    if (c->end - c->at < 4 || memcmp(c->s + c->at, "null", 4))
        return 0;
    c->at += 4;
    return 1;
}

/* The bytes of a plain string: printable ASCII but '"' and '\\'. */
#define P16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
/* clang-format off */
static const unsigned char plain[256] = {
    [0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* not '"' */
    [0x30] = P16,
    [0x40] = P16,
    [0x50] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* not '\\' */
    [0x60] = P16,
    [0x70] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* not DEL */
};
/* clang-format on */
#undef P16

/* A string of printable ASCII without escapes, at its '"': [*from, *to)
 * its bytes, the cursor after it; 0 for anything else. */
static int plain_string(cursor *c, size_t *from, size_t *to)
{
    size_t i = ++c->at;
    while (i < c->end && plain[(unsigned char)c->s[i]])
        i++;
    if (i >= c->end || c->s[i] != '"')
        return 0;
    *from = c->at;
    *to = i;
    c->at = i + 1;
    return 1;
}

static int is_digit(int b)
{
    return b >= '0' && b <= '9';
}

/* A JSON number as jansson reads it (an integer by strtoll, a real by
 * strtod); 0 when it is not one or jansson refuses it (overflow). */
static int number(cursor *c, double *d)
{
    const char *s = c->s;
    size_t i = c->at, from = c->at;
    int real = 0;
    if (i < c->end && s[i] == '-')
        i++;
    if (i >= c->end || !is_digit(s[i]))
        return 0;
    if (s[i] == '0')
        i++;
    else
        while (i < c->end && is_digit(s[i]))
            i++;
    if (i < c->end && s[i] == '.') {
        real = 1;
        if (++i >= c->end || !is_digit(s[i]))
            return 0;
        while (i < c->end && is_digit(s[i]))
            i++;
    }
    if (i < c->end && (s[i] == 'e' || s[i] == 'E')) {
        real = 1;
        i++;
        if (i < c->end && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= c->end || !is_digit(s[i]))
            return 0;
        while (i < c->end && is_digit(s[i]))
            i++;
    }
    c->at = i;
    if (!real) {
        int neg = s[from] == '-';
        if (i - from - (size_t)neg > 18)
            return 0; /* maybe past long long: jansson's to judge */
        long long v = 0;
        for (size_t k = from + (size_t)neg; k < i; k++)
            v = v * 10 + (s[k] - '0');
        *d = (double)(neg ? -v : v);
        return 1;
    }
    char buf[MAX_TOKEN];
    if (i - from >= sizeof buf)
        return 0;
    memcpy(buf, s + from, i - from);
    buf[i - from] = '\0';
    errno = 0;
    *d = strtod(buf, NULL);
    return !((*d == HUGE_VAL || *d == -HUGE_VAL) && errno == ERANGE);
}

/* The memo of the key at position pos, resolved when it is new there. */
static gr_json_key_memo *resolve(gr_json_sample *r, size_t pos, const char *key, size_t n)
{
    if (pos < r->n_memo && r->memo[pos].n == n && !memcmp(r->memo[pos].s, key, n))
        return &r->memo[pos];
    if (pos >= r->cap_memo) {
        size_t cap = r->cap_memo ? 2 * r->cap_memo : 256;
        gr_json_key_memo *mm = realloc(r->memo, cap * sizeof *mm);
        if (!mm)
            return NULL;
        r->memo = mm;
        r->cap_memo = cap;
    }
    char buf[MAX_KEY + 1];
    memcpy(buf, key, n);
    buf[n] = '\0';
    gr_json_key_memo *e = &r->memo[pos];
    e->s = key;
    e->n = n;
    e->n_calls = 0;
    gr_model_match_key(r->m, buf, &e->k);
    e->ambiguous =
        e->k.feature >= 0 && gr_feature_ambiguous(gr_model_feature(r->m, (size_t)e->k.feature));
    if (pos >= r->n_memo)
        r->n_memo = pos + 1;
    return e;
}

static int push(gr_json_sample *r, uint32_t f, double d)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        uint32_t *ff = realloc(r->feature, cap * sizeof *ff);
        if (ff)
            r->feature = ff;
        double *vv = ff ? realloc(r->value, cap * sizeof *vv) : NULL;
        if (!vv)
            return 0;
        r->value = vv;
        r->cap = cap;
    }
    r->feature[r->n] = f;
    r->value[r->n++] = d;
    return 1;
}

/* Genotype string buf (n bytes) under the key of e, read by
 * gr_genotype_string, which depends on nothing else: short ones are
 * remembered under the key. */
static int genotype_string(gr_json_sample *r, gr_json_key_memo *e, const char *buf, size_t n,
                           double *d, uint8_t *letters)
{
    char why[8];
    int small = n < sizeof e->call[0];
    for (int i = 0; small && i < e->n_calls; i++)
        if (!strcmp(e->call[i], buf)) {
            *d = e->dosage[i];
            *letters = e->letters[i];
            return 1;
        }
    if (!gr_genotype_string(r->m, &e->k, buf, d, letters, why, sizeof why))
        return 0;
    if (small && e->n_calls < GR_JSON_MEMO_CALLS) {
        memcpy(e->call[e->n_calls], buf, n + 1);
        e->dosage[e->n_calls] = *d;
        e->letters[e->n_calls++] = *letters;
    }
    return 1;
}

/* A genotype value under the key of e, into *d with *letters as
 * gr_genotype_string sets them. */
static int genotype_value(gr_json_sample *r, cursor *c, gr_json_key_memo *e, double *d,
                          uint8_t *letters)
{
    const gr_key *k = &e->k;
    int b = peek(c);
    *letters = 0;
    if (b == 'n') {
        *d = NAN;
        return null_literal(c);
    }
    if (b == '"') {
        size_t from, to;
        char buf[MAX_TOKEN];
        if (!plain_string(c, &from, &to) || to - from >= sizeof buf)
            return 0;
        memcpy(buf, c->s + from, to - from);
        buf[to - from] = '\0';
        return genotype_string(r, e, buf, to - from, d, letters);
    }
    if (b != '-' && !is_digit(b))
        return 0;
    if (!number(c, d) || !(*d >= 0 && *d <= 2))
        return 0;
    *d = gr_key_dosage(k, *d);
    return 1;
}

/* One member of "genotypes", the pos-th. */
static int genotype(gr_json_sample *r, cursor *c, size_t pos)
{
    size_t from, to;
    if (peek(c) != '"' || !plain_string(c, &from, &to) || to - from > MAX_KEY || peek(c) != ':')
        return 0;
    c->at++;
    gr_json_key_memo *e = resolve(r, pos, c->s + from, to - from);
    if (!e || e->k.feature < 0 || r->seen[e->k.feature] == r->mark)
        return 0; /* unknown keys are warned of, and checked for duplicates, the complete way */
    r->seen[e->k.feature] = r->mark;
    double d;
    uint8_t letters;
    if (!genotype_value(r, c, e, &d, &letters) || !push(r, (uint32_t)e->k.feature, d))
        return 0;
    uint8_t flags = (uint8_t)((e->k.spelled ? e->k.flags : 0) | letters);
    r->mc.matched++;
    r->mc.flipped += !!(flags & GR_MATCH_FLIPPED);
    r->mc.swapped += !!(flags & GR_MATCH_SWAPPED);
    r->mc.ambiguous += (size_t)e->ambiguous;
    return 1;
}

static int genotypes(gr_json_sample *r, cursor *c)
{
    if (peek(c) != '{')
        return 0;
    c->at++;
    if (peek(c) == '}')
        return ++c->at, 1;
    for (size_t pos = 0;; pos++) {
        if (!genotype(r, c, pos))
            return 0;
        int b = peek(c);
        c->at++;
        if (b == '}')
            return 1;
        if (b != ',')
            return 0;
    }
}

static int id_value(gr_json_sample *r, cursor *c)
{
    int b = peek(c);
    if (b == 'n')
        return null_literal(c);
    if (b != '"' || !plain_string(c, &r->id_start, &r->id_end) ||
        r->id_end - r->id_start > GR_API_MAX_ID_LEN)
        return 0;
    r->has_id = 1;
    return 1;
}

int gr_json_sample_read(gr_json_sample *r, const char *s, size_t start, size_t end)
{
    cursor c = { s, start, end };
    int have_id = 0, have_geno = 0;
    r->n = 0;
    r->has_id = 0;
    r->mc = (gr_match_counts){ 0 };
    if (++r->mark == 0) { /* wrapped: marks of old samples could collide */
        memset(r->seen, 0, (r->nf ? r->nf : 1) * sizeof *r->seen);
        r->mark = 1;
    }
    if (peek(&c) != '{')
        return 0;
    c.at++;
    if (peek(&c) == '}')
        return 0; /* no genotypes: the complete way says so */
    for (;;) {
        size_t from, to;
        if (peek(&c) != '"' || !plain_string(&c, &from, &to) || peek(&c) != ':')
            return 0;
        c.at++;
        if (to - from == 2 && !memcmp(s + from, "id", 2) && !have_id) {
            have_id = 1;
            if (!id_value(r, &c))
                return 0;
        } else if (to - from == 9 && !memcmp(s + from, "genotypes", 9) && !have_geno) {
            have_geno = 1;
            if (!genotypes(r, &c))
                return 0;
        } else {
            return 0;
        }
        int b = peek(&c);
        c.at++;
        if (b == '}')
            break;
        if (b != ',')
            return 0;
    }
    return have_geno && peek(&c) < 0;
}
