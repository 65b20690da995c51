/* json_arrays.c - see json_arrays.h. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "json_arrays.h"

/* Asks for huge pages behind the large buffer p of n bytes (about to be
 * written): a model's text and tables are tens of megabytes, and a page
 * fault per 4 KiB of them was a quarter of the time of loading one. */
static void *huge(void *p, size_t n)
{
    if (p && n >= ((size_t)2 << 20)) {
        uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
        uintptr_t b = ((uintptr_t)p + n) & ~(uintptr_t)4095;
        if (b > a)
            (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
    }
    return p;
}

/* What json_load_callback reads through: the file, at most max bytes of it. */
typedef struct {
    FILE *f;
    uint64_t left;
    int over; /* a byte past the limit was there */
} capped_read;

static size_t read_capped(void *buffer, size_t n, void *arg)
{
    capped_read *c = arg;
    char probe;
    if (!c->left) { /* the limit reached: is there more? */
        c->over = fread(&probe, 1, 1, c->f) == 1;
        return c->over ? (size_t)-1 : 0;
    }
    if (n > c->left)
        n = (size_t)c->left;
    size_t got = fread(buffer, 1, n, c->f);
    c->left -= got;
    return got || !ferror(c->f) ? got : (size_t)-1;
}

json_t *gr_json_load(const char *path, size_t flags, uint64_t max_bytes, gr_error *err)
{
    json_error_t je;
    char limit[32];
    int fd;
    if (gr_model_file_open(path, max_bytes, &fd, err))
        return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        return NULL;
    }
    char head[3];
    size_t got = fread(head, 1, sizeof head, f);
    if (!gr_utf8_bom(head, got)) /* a byte-order mark is skipped, anything else read */
        rewind(f);
    /* the size was checked, but a file may grow while it is read */
    capped_read c = { f, max_bytes, 0 };
    errno = 0;
    json_t *root = json_load_callback(read_capped, &c, flags, &je);
    int read_failed = ferror(f);
    fclose(f);
    /* Jansson's lexer drops a byte when its buffer cannot grow and parses on
     * (2.14), and reports other failed allocations as syntax errors: a
     * document read while an allocation failed is not to be trusted. */
    if (errno == ENOMEM || (!root && json_error_code(&je) == json_error_out_of_memory)) {
        json_decref(root);
        gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        return NULL;
    }
    if (root)
        return root;
    if (c.over)
        gr_error_set(err, GR_ELIMIT, path, 0, NULL,
                     "grew past the %s a file of this kind may have while it was read",
                     gr_size_text(max_bytes, limit));
    else if (read_failed)
        gr_error_set(err, GR_EIO, path, 0, NULL, "read error");
    else
        gr_error_set(err, GR_EMODEL, path, je.line, NULL, "invalid JSON: %s", je.text);
    return NULL;
}

/* ---- gr_json_load_lean ------------------------------------------------
 * An XGBoost model is a few megabytes of number arrays; Jansson makes a
 * json_t of each number (half a million mallocs for 500 trees). Here the
 * file's text is read whole, the arrays of numbers under the given member
 * names are parsed into one table, each replaced in a copy of the text by a
 * short string naming its place in the table, and Jansson parses what is
 * left: the objects, strings and small arrays. */

#define MARK_TEXT "\\u0001gr" /* a marker as the copy spells it; Jansson decodes "\x01gr" */
#define MAX_MARKED_DEPTH 1024 /* deeper arrays are left to Jansson and its depth limit */

struct gr_json_side {
    gr_json_num *num;
    size_t n_num, cap_num;
    size_t *start; /* array k is num[start[k]] .. num[start[k + 1] - 1] */
    size_t n_arr, cap_arr;
};

void gr_json_side_free(gr_json_side *side)
{
    if (!side)
        return;
    free(side->num);
    free(side->start);
    free(side);
}

const gr_json_num *gr_json_side_array(const gr_json_side *side, const json_t *v, size_t *n)
{
    const char *s = json_string_value(v);
    if (!side || !s || s[0] != 1 || s[1] != 'g' || s[2] != 'r' || s[3] < '0' || s[3] > '9')
        return NULL;
    size_t k = 0;
    for (s += 3; *s >= '0' && *s <= '9' && k <= side->n_arr; s++)
        k = k * 10 + (size_t)(*s - '0');
    if (*s || k >= side->n_arr)
        return NULL;
    *n = side->start[k + 1] - side->start[k];
    return side->num + side->start[k];
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *t, size_t i, size_t n)
{
    while (i < n && is_ws(t[i]))
        i++;
    return i;
}

static int push_num(gr_json_side *sd, gr_json_num v)
{
    if (!gr_grow((void **)&sd->num, &sd->cap_num, sd->n_num + 1, sizeof *sd->num))
        return 0;
    sd->num[sd->n_num++] = v;
    return 1;
}

/* Exact powers of ten: every one up to 1e22 is a double. */
static const double pow10_exact[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

/* The digits of a number as scan_number met them: the first 19
 * significant ones in m (nd counts them all), the decimal exponent that
 * applies to m. */
typedef struct {
    uint64_t m;
    int nd;
    long e;
} digits;

static size_t take_digits(const char *t, size_t p, size_t n, digits *g, int fraction)
{
    for (; p < n && t[p] >= '0' && t[p] <= '9'; p++) {
        if (g->nd || t[p] != '0') { /* leading zeros are not significant */
            if (g->nd < 19)
                g->m = g->m * 10 + (uint64_t)(t[p] - '0');
            else if (!fraction)
                g->e++; /* a digit past 19 still scales the integer part */
            g->nd++;
        }
        if (fraction && g->nd <= 19)
            g->e--;
    }
    return p;
}

/* The number from its digits when one correctly rounded operation gives
 * it, as strtod would (Clinger's fast path: m below 2^53 and 10^|e| exact,
 * so m * 10^e or m / 10^-e is a single rounding of the exact value): 1,
 * else 0 and strtod decides. */
static int fast_real(const digits *g, int neg, double *out)
{
    if (g->nd > 15 || g->e < -22 || g->e > 22)
        return 0;
    double d = (double)g->m;
    d = g->e >= 0 ? d * pow10_exact[g->e] : d / pow10_exact[-g->e];
    *out = neg ? -d : d;
    return 1;
}

/* One value of a number array at t[i] (t is NUL-terminated at n) as
 * Jansson's lexer reads it; the index after it, or 0 when it is not such a
 * value or Jansson would refuse it (an integer or a real out of range).
 * Plain numbers are converted from their digits, exactly as strtoll and
 * strtod would; the others by those functions. out NULL: only checked (a
 * real that the fast path would take is in range, and costs no division). */
static size_t scan_number(const char *t, size_t i, size_t n, gr_json_num *out)
{
    gr_json_num unused;
    size_t p = i;
    int check_only = !out;
    if (check_only)
        out = &unused;
    if (n - i >= 4 && !memcmp(t + i, "true", 4)) {
        *out = (gr_json_num){ .v.i = 1, .kind = GR_JNUM_BOOL };
        return i + 4;
    }
    if (n - i >= 5 && !memcmp(t + i, "false", 5)) {
        *out = (gr_json_num){ .v.i = 0, .kind = GR_JNUM_BOOL };
        return i + 5;
    }
    int neg = p < n && t[p] == '-';
    digits g = { 0, 0, 0 };
    p += (size_t)neg;
    if (p < n && t[p] == '0')
        p++;
    else if (p < n && t[p] >= '1' && t[p] <= '9')
        p = take_digits(t, p, n, &g, 0);
    else
        return 0;
    int real = 0, int_digits = g.nd;
    if (p < n && t[p] == '.') {
        real = 1;
        if (++p >= n || t[p] < '0' || t[p] > '9')
            return 0;
        p = take_digits(t, p, n, &g, 1);
    }
    if (p < n && (t[p] == 'e' || t[p] == 'E')) {
        real = 1;
        int eneg = 0;
        long ev = 0;
        if (++p < n && (t[p] == '+' || t[p] == '-'))
            eneg = t[p++] == '-';
        if (p >= n || t[p] < '0' || t[p] > '9')
            return 0;
        for (; p < n && t[p] >= '0' && t[p] <= '9'; p++)
            ev = ev < 100000 ? ev * 10 + (t[p] - '0') : ev;
        g.e += eneg ? -ev : ev;
    }
    if (!real && int_digits <= 18) { /* below 10^18: no overflow, as strtoll */
        int64_t v = (int64_t)g.m;
        *out = (gr_json_num){ .v.i = neg ? -v : v, .kind = GR_JNUM_INT };
        return p;
    }
    double fast;
    if (real && check_only && g.nd <= 15 && g.e >= -22 && g.e <= 22)
        return p; /* fast_real's case: a finite double */
    if (real && fast_real(&g, neg, &fast)) {
        *out = (gr_json_num){ .v.d = fast, .kind = GR_JNUM_REAL };
        return p;
    }
    char *end;
    errno = 0;
    if (!real) {
        long long v = strtoll(t + i, &end, 10);
        if (errno == ERANGE || end != t + p)
            return 0;
        *out = (gr_json_num){ .v.i = v, .kind = GR_JNUM_INT };
    } else {
        double d = strtod(t + i, &end);
        if (((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE) || end != t + p)
            return 0;
        *out = (gr_json_num){ .v.d = d, .kind = GR_JNUM_REAL };
    }
    return p;
}

/* The array at t[i] ('[') into sd when it holds only numbers (and
 * booleans), or only checked as Jansson would read them when !keep: the
 * index after its ']', else 0 with sd as it was; -1 out of memory. */
static long long scan_array(gr_json_side *sd, const char *t, size_t i, size_t n, int keep)
{
    size_t mark = sd->n_num, p = skip_ws(t, i + 1, n);
    if (p < n && t[p] == ']')
        return (long long)p + 1;
    for (;;) {
        gr_json_num v;
        size_t q = scan_number(t, p, n, keep ? &v : NULL);
        if (!q)
            break;
        if (keep && !push_num(sd, v))
            return -1;
        p = skip_ws(t, q, n);
        if (p < n && t[p] == ']')
            return (long long)p + 1;
        if (p >= n || t[p] != ',')
            break;
        p = skip_ws(t, p + 1, n);
    }
    sd->n_num = mark;
    return 0;
}

/* 1 when the key t[a..b) is one of keys (the bytes as written: a key spelt
 * with escapes is left to Jansson); keys may be NULL. */
static int wanted_key(const char *const *keys, const char *t, size_t a, size_t b)
{
    for (; keys && *keys; keys++)
        if (strlen(*keys) == b - a && !memcmp(*keys, t + a, b - a))
            return 1;
    return 0;
}

/* The arrays a located shrink marked, to be read after it (read_located):
 * each from its '[' at v to just past its ']' at end. */
typedef struct {
    size_t v, end;
    size_t count; /* its numbers, once read */
    int keep;
} located;

typedef struct {
    located *a;
    size_t n, cap;
} located_list;

/* Where the array at t[v] would end were it a number array: just past the
 * first ']' (numbers hold none), or 0. */
static long long first_close(const char *t, size_t v, size_t n)
{
    const char *c = memchr(t + v, ']', n - v);
    return c ? (long long)(c - t) + 1 : 0;
}

static int push_located(located_list *ll, size_t v, size_t end, int keep)
{
    if (!gr_grow((void **)&ll->a, &ll->cap, ll->n + 1, sizeof *ll->a))
        return 0;
    ll->a[ll->n++] = (located){ v, end, 0, keep };
    return 1;
}

/* The member value at t[v] ('[') replaced by a marker in out when it is a
 * number array no shorter than its marker (a kept one, or the skipped
 * marker when !keep): the index after it, or 0 to copy on; -1 out of
 * memory. With ll, the array is not read but listed there, as if it were
 * one of numbers up to its first ']' (read_located checks it is). */
static long long mark_array(gr_json_side *sd, located_list *ll, const char *t, size_t v, size_t n,
                            int keep, char *out, size_t *o)
{
    size_t first = sd->n_num;
    long long end = ll ? first_close(t, v, n) : scan_array(sd, t, v, n, keep);
    if (end <= 0)
        return end;
    char m[40];
    int len = keep ? snprintf(m, sizeof m, "\"" MARK_TEXT "%zu\"", sd->n_arr)
                   : snprintf(m, sizeof m, "\"" MARK_TEXT "x\"");
    if ((size_t)len > (size_t)end - v) { /* the copy may only shrink */
        sd->n_num = first;
        return 0;
    }
    if (ll && !push_located(ll, v, (size_t)end, keep))
        return -1;
    if (!keep) {
        memcpy(out + *o, m, (size_t)len);
        *o += (size_t)len;
        return end;
    }
    if (sd->n_arr + 2 > sd->cap_arr) {
        size_t cap = sd->cap_arr * 2;
        size_t *start = realloc(sd->start, cap * sizeof *start);
        if (!start)
            return -1;
        sd->start = start;
        sd->cap_arr = cap;
    }
    sd->start[sd->n_arr++] = first;
    sd->start[sd->n_arr] = sd->n_num;
    memcpy(out + *o, m, (size_t)len);
    *o += (size_t)len;
    return end;
}

/* Copies t (n bytes, NUL after them) into out (n + 1 bytes), with the
 * arrays under keys marked (sd) and those under skip left out; *o the bytes
 * written; 0 out of memory. With ll, the arrays are listed there to be
 * read later (mark_array). */
static int shrink(gr_json_side *sd, located_list *ll, const char *const *keys,
                  const char *const *skip, const char *t, size_t n, char *out, size_t *o)
{
    size_t i = 0, depth = 0;
    *o = 0;
    while (i < n) {
        char c = t[i];
        if (c != '"') {
            depth += c == '[' || c == '{';
            depth -= depth && (c == ']' || c == '}');
            out[(*o)++] = c;
            i++;
            continue;
        }
        size_t q0 = i, j = i + 1;
        while (j < n && t[j] != '"')
            j += t[j] == '\\' ? 2 : 1;
        if (j >= n) { /* an unterminated string: Jansson will say so */
            memcpy(out + *o, t + i, n - i);
            *o += n - i;
            break;
        }
        memcpy(out + *o, t + i, j + 1 - i);
        *o += j + 1 - i;
        size_t colon = skip_ws(t, j + 1, n), v;
        i = j + 1;
        int keep = 0;
        if (colon >= n || t[colon] != ':' || depth >= MAX_MARKED_DEPTH ||
            (!(keep = wanted_key(keys, t, q0 + 1, j)) && !wanted_key(skip, t, q0 + 1, j)))
            continue;
        v = skip_ws(t, colon + 1, n);
        if (v >= n || t[v] != '[')
            continue;
        size_t o0 = *o;
        memcpy(out + *o, t + i, v - i); /* the colon and the spaces around it */
        *o += v - i;
        long long end = mark_array(sd, ll, t, v, n, keep, out, o);
        if (end < 0)
            return 0;
        if (end == 0) {
            *o = o0;
            continue;
        }
        i = (size_t)end;
    }
    out[*o] = '\0';
    return 1;
}

/* A side table for a text of len bytes: room for a number per 4 bytes of
 * it, more than any model writes (a number and its comma take 2 bytes at
 * the least, an XGBoost model's average 6), so that the table is not grown
 * (each growth a copy, and twice the memory while it is made). Only the
 * pages written count towards memory; a text of many 1-digit numbers grows
 * it as before. */
static gr_json_side *side_new(size_t len)
{
    gr_json_side *sd = calloc(1, sizeof *sd);
    if (!sd)
        return NULL;
    sd->cap_num = len / 4 > 4096 ? len / 4 : 4096;
    sd->cap_arr = 64;
    sd->num = huge(malloc(sd->cap_num * sizeof *sd->num), sd->cap_num * sizeof *sd->num);
    sd->start = malloc(sd->cap_arr * sizeof *sd->start);
    if (!sd->num || !sd->start) {
        gr_json_side_free(sd);
        return NULL;
    }
    return sd;
}

/* One thread's share of the located arrays: [from, to), read into its own
 * table; bad when one is not a number array ending where it was cut. */
typedef struct {
    const char *t;
    size_t n;
    located *a;
    size_t from, to;
    gr_json_side *sd;
    int bad, oom;
} share;

static void *read_share(void *arg)
{
    share *sh = arg;
    for (size_t k = sh->from; k < sh->to && !sh->bad && !sh->oom; k++) {
        located *l = &sh->a[k];
        size_t before = sh->sd->n_num;
        long long end = scan_array(sh->sd, sh->t, l->v, sh->n, l->keep);
        sh->oom = end < 0;
        sh->bad = end >= 0 && (size_t)end != l->end;
        l->count = sh->sd->n_num - before;
    }
    return NULL;
}

/* Cuts ll into nt shares of about as many bytes each, in order; the first
 * reads into sd, the others into tables of their own (a share's oom set
 * when its table could not be made). */
static void split_shares(share *sh, size_t nt, gr_json_side *sd, located_list *ll, const char *t,
                         size_t n)
{
    size_t bytes = 0, k = 0, sum = 0;
    for (size_t j = 0; j < ll->n; j++)
        bytes += ll->a[j].end - ll->a[j].v;
    for (size_t s = 0; s < nt; s++) {
        size_t from = k, before = sum, goal = s + 1 == nt ? bytes : bytes / nt * (s + 1);
        while (k < ll->n && (sum < goal || s + 1 == nt))
            sum += ll->a[k].end - ll->a[k].v, k++;
        sh[s] = (share){ t, n, ll->a, from, k, s ? side_new(sum - before) : sd, 0, 0 };
        sh[s].oom = !sh[s].sd;
    }
}

/* Reads every share, the first on the caller, the others on threads of
 * their own (on the caller too when none can start). */
static void run_shares(share *sh, size_t nt)
{
    pthread_t tid[GR_JSON_MAX_THREADS];
    int started[GR_JSON_MAX_THREADS] = { 0 };
    for (size_t s = 1; s < nt; s++)
        started[s] = !sh[s].oom && !pthread_create(&tid[s], NULL, read_share, &sh[s]);
    for (size_t s = 0; s < nt; s++)
        if (!started[s] && !sh[s].oom)
            read_share(&sh[s]);
    for (size_t s = 1; s < nt; s++)
        if (started[s])
            pthread_join(tid[s], NULL);
}

/* The shares' numbers appended to sd's (the first share's) in order, and
 * each kept array's first number in marker order; frees the other shares'
 * tables. 1, 0 when a share was not what the listing took it for, -1 out
 * of memory. */
static int merge_shares(share *sh, size_t nt, gr_json_side *sd, const located_list *ll)
{
    int rc = 1;
    size_t total = 0;
    for (size_t s = 0; s < nt; s++) {
        rc = sh[s].oom ? -1 : rc == 1 && sh[s].bad ? 0 : rc;
        total += sh[s].sd ? sh[s].sd->n_num : 0;
    }
    if (rc == 1 && !gr_grow((void **)&sd->num, &sd->cap_num, total, sizeof *sd->num))
        rc = -1;
    for (size_t s = 1; s < nt; s++) {
        if (rc == 1 && sh[s].sd->n_num) {
            memcpy(sd->num + sd->n_num, sh[s].sd->num, sh[s].sd->n_num * sizeof *sd->num);
            sd->n_num += sh[s].sd->n_num;
        }
        gr_json_side_free(sh[s].sd);
    }
    size_t at = 0, arr = 0;
    for (size_t j = 0; rc == 1 && j < ll->n; j++) {
        if (!ll->a[j].keep)
            continue;
        sd->start[arr++] = at;
        at += ll->a[j].count;
    }
    if (rc == 1)
        sd->start[arr] = at;
    return rc;
}

/* Reads the arrays a located shrink listed (ll) on `threads` threads into
 * sd, whose markers they are: 1, 0 when one is not what it was taken for
 * (then the document is read again the serial way), -1 out of memory. */
static int read_located(gr_json_side *sd, located_list *ll, const char *t, size_t n, int threads)
{
    share sh[GR_JSON_MAX_THREADS];
    size_t nt = threads < GR_JSON_MAX_THREADS ? (size_t)threads : GR_JSON_MAX_THREADS;
    split_shares(sh, nt, sd, ll, t, n);
    run_shares(sh, nt);
    return merge_shares(sh, nt, sd, ll);
}

/* The whole of path, at most max_bytes after a byte-order mark (as
 * gr_json_load reads it), into *buf (returns new, NUL after *len bytes). */
static gr_status read_whole(const char *path, uint64_t max_bytes, char **buf, size_t *len,
                            size_t *bom, gr_error *err)
{
    char limit[32];
    int fd;
    struct stat sb;
    gr_status st = gr_model_file_open(path, max_bytes, &fd, err);
    if (st)
        return st;
    /* the size was checked, but a file may grow while it is read: room for
     * what it claims, more as it comes, up to one byte past the limit */
    uint64_t most = max_bytes + 3 + 1;
    /* +2: the NUL, and room to see the end without a regrowth (a copy) */
    size_t cap = !fstat(fd, &sb) && sb.st_size > 0 ? (size_t)sb.st_size + 2 : 65536, n = 0;
    char *b = NULL;
    for (;;) {
        if (n + 1 >= cap || !b) {
            cap = b ? cap * 2 : cap;
            char *nb = huge(realloc(b, cap + 1), cap + 1);
            if (!nb) {
                st = gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
                goto fail;
            }
            b = nb;
        }
        size_t want = cap - n;
        if (want > most - n)
            want = (size_t)(most - n);
        ssize_t got = want ? read(fd, b + n, want) : 0;
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            st = gr_error_set(err, GR_EIO, path, 0, NULL, "read error");
            goto fail;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    *bom = gr_utf8_bom(b, n < 3 ? n : 3) ? 3 : 0;
    if (n - *bom > max_bytes) {
        st = gr_error_set(err, GR_ELIMIT, path, 0, NULL,
                          "grew past the %s a file of this kind may have while it was read",
                          gr_size_text(max_bytes, limit));
        goto fail;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    b = NULL;
fail:
    free(b);
    close(fd);
    return st;
}

/* shrink, its number arrays read on `threads` threads when more than one:
 * first listed (the text outside them is walked on the caller), then read
 * in parallel; a document whose arrays are not what the listing took them
 * for is shrunk again on the caller, so the outcome is the serial one. 1,
 * 0 out of memory. */
static int shrink_threads(gr_json_side **sd, const char *const *keys, const char *const *skip,
                          const char *t, size_t n, int threads, char *out, size_t *o)
{
    located_list ll = { 0 };
    int rc = 0;
    if (threads > 1) {
        if (!shrink(*sd, &ll, keys, skip, t, n, out, o))
            goto fail;
        int got = read_located(*sd, &ll, t, n, threads);
        if (got != 0) {
            rc = got > 0;
            goto fail;
        }
        gr_json_side_free(*sd); /* not number arrays after all: the serial way */
        if (!(*sd = side_new(n)))
            goto fail;
    }
    rc = shrink(*sd, NULL, keys, skip, t, n, out, o);
fail:
    free(ll.a);
    return rc;
}

json_t *gr_json_load_lean(const char *path, size_t flags, uint64_t max_bytes,
                          const char *const *keys, const char *const *skip, int threads,
                          gr_json_side **side, gr_error *err)
{
    char *text = NULL, *out = NULL;
    size_t len = 0, bom = 0, o = 0;
    gr_json_side *sd = NULL;
    json_t *root = NULL;
    json_error_t je;
    *side = NULL;
    if (read_whole(path, max_bytes, &text, &len, &bom, err))
        return NULL;
    /* a document that spells a marker itself is read as it is */
    if (!memmem(text, len, MARK_TEXT, strlen(MARK_TEXT))) {
        if (!(sd = side_new(len)) || !(out = huge(malloc(len - bom + 1), len - bom + 1)) ||
            !shrink_threads(&sd, keys, skip, text + bom, len - bom, threads, out, &o)) {
            gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
            goto fail;
        }
        free(text); /* not needed past here: a refused document is read again */
        text = NULL;
        errno = 0;
        root = json_loadb(out, o, flags, &je);
        if (errno == ENOMEM || (!root && json_error_code(&je) == json_error_out_of_memory)) {
            json_decref(root);
            root = NULL;
            gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
            goto fail;
        }
    }
    if (!root) { /* Jansson refuses it (or it spells a marker): its own words, as before */
        gr_json_side_free(sd);
        sd = NULL;
        root = gr_json_load(path, flags, max_bytes, err);
    } else if (!sd->n_arr) {
        gr_json_side_free(sd);
        sd = NULL;
    }
    *side = sd;
    sd = NULL;
fail:
    gr_json_side_free(sd);
    free(out);
    free(text);
    return root;
}

gr_status gr_json_check_format(json_t *root, const char *want, const char *path, gr_error *err)
{
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!json_is_object(root) || !fmt || strcmp(fmt, want))
        return gr_error_set(err, GR_EMODEL, path, 0, "format", "expected \"format\": \"%s\"", want);
    json_t *fv = json_object_get(root, "format_version");
    if (fv && (!json_is_integer(fv) || json_integer_value(fv) != 1))
        return gr_error_set(err, GR_EUNSUPPORTED, path, 0, "format_version",
                            "only format_version 1 is supported; is genorisk older than the "
                            "exporter?");
    return GR_OK;
}

gr_status gr_tree_arrays_reserve(gr_tree_arrays *a, size_t n, const char *path, gr_error *err)
{
    if (n <= a->cap)
        return GR_OK;
    gr_tree_arrays b = { .cap = n };
    b.left = malloc(n * sizeof *b.left);
    b.right = malloc(n * sizeof *b.right);
    b.feature = malloc(n * sizeof *b.feature);
    b.thr = malloc(n * sizeof *b.thr);
    b.value = malloc(n * sizeof *b.value);
    b.cover = malloc(n * sizeof *b.cover);
    b.default_left = malloc(n);
    b.scratch = malloc(n * sizeof *b.scratch);
    if (!b.left || !b.right || !b.feature || !b.thr || !b.value || !b.cover || !b.default_left ||
        !b.scratch) {
        gr_tree_arrays_free(&b);
        return gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
    }
    gr_tree_arrays_free(a);
    *a = b;
    return GR_OK;
}

void gr_tree_arrays_free(gr_tree_arrays *a)
{
    free(a->left);
    free(a->right);
    free(a->feature);
    free(a->thr);
    free(a->value);
    free(a->cover);
    free(a->default_left);
    free(a->scratch);
    *a = (gr_tree_arrays){ 0 };
}

/* obj[key] as an array of n entries: *arr (a json_t array) or, for a
 * marker of side, *nums. */
static gr_status get_array(const gr_json_side *side, json_t *obj, const char *key, size_t n,
                           json_t **arr, const gr_json_num **nums, const char *path,
                           const char *prefix, gr_error *err)
{
    char field[96];
    size_t have = 0;
    snprintf(field, sizeof field, "%s.%s", prefix, key);
    *arr = json_object_get(obj, key);
    *nums = gr_json_side_array(side, *arr, &have);
    if (!*nums && !json_is_array(*arr))
        return gr_error_set(err, GR_EMODEL, path, 0, field, "missing or not an array");
    if (!*nums)
        have = json_array_size(*arr);
    if (have != n)
        return gr_error_set(err, GR_EMODEL, path, 0, field, "has %zu entries, expected %zu", have,
                            n);
    return GR_OK;
}

static gr_status not_a(const char *what, const char *key, size_t i, const char *path,
                       const char *prefix, gr_error *err)
{
    char field[96];
    snprintf(field, sizeof field, "%s.%s[%zu]", prefix, key, i);
    return gr_error_set(err, GR_EMODEL, path, 0, field, "%s", what);
}

static gr_status ints_side(const gr_json_side *side, json_t *obj, const char *key, size_t n,
                           int bools, int64_t *out, const char *path, const char *prefix,
                           gr_error *err)
{
    json_t *arr;
    const gr_json_num *nums;
    gr_status st = get_array(side, obj, key, n, &arr, &nums, path, prefix, err);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++) {
        if (nums) { /* as below: an integer, or a boolean when bools is set */
            if (nums[i].kind == GR_JNUM_INT || (bools && nums[i].kind == GR_JNUM_BOOL))
                out[i] = nums[i].v.i;
            else
                return not_a("not an integer", key, i, path, prefix, err);
            continue;
        }
        json_t *v = json_array_get(arr, i);
        if (json_is_integer(v))
            out[i] = (int64_t)json_integer_value(v);
        else if (bools && json_is_boolean(v))
            out[i] = json_is_true(v);
        else
            return not_a("not an integer", key, i, path, prefix, err);
    }
    return GR_OK;
}

gr_status gr_json_ints(json_t *obj, const char *key, size_t n, int bools, int64_t *out,
                       const char *path, const char *prefix, gr_error *err)
{
    return ints_side(NULL, obj, key, n, bools, out, path, prefix, err);
}

static gr_status doubles_side(const gr_json_side *side, json_t *obj, const char *key, size_t n,
                              double *out, const char *path, const char *prefix, gr_error *err)
{
    json_t *arr;
    const gr_json_num *nums;
    gr_status st = get_array(side, obj, key, n, &arr, &nums, path, prefix, err);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++) {
        if (nums) { /* json_number_value: an integer is converted, a boolean is no number */
            if (nums[i].kind == GR_JNUM_BOOL)
                return not_a("not a finite number", key, i, path, prefix, err);
            out[i] = nums[i].kind == GR_JNUM_INT ? (double)nums[i].v.i : nums[i].v.d;
            if (!isfinite(out[i]))
                return not_a("not a finite number", key, i, path, prefix, err);
            continue;
        }
        json_t *v = json_array_get(arr, i);
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return not_a("not a finite number", key, i, path, prefix, err);
        out[i] = json_number_value(v);
    }
    return GR_OK;
}

gr_status gr_json_doubles(json_t *obj, const char *key, size_t n, double *out, const char *path,
                          const char *prefix, gr_error *err)
{
    return doubles_side(NULL, obj, key, n, out, path, prefix, err);
}

gr_status gr_tree_arrays_read_side(const gr_json_side *side, json_t *tree, size_t n,
                                   const gr_tree_keys *k, gr_tree_arrays *a, const char *path,
                                   const char *prefix, gr_error *err)
{
    gr_status st;
    json_t *first;
    const gr_json_num *nums;
    /* n may be a count the file claims (XGBoost's num_nodes): check it
     * against an array before allocating for it, so that a few bytes
     * claiming a billion nodes ask for nothing */
    if ((st = get_array(side, tree, k->left, n, &first, &nums, path, prefix, err)) ||
        (st = gr_tree_arrays_reserve(a, n, path, err)) ||
        (st = ints_side(side, tree, k->left, n, 0, a->left, path, prefix, err)) ||
        (st = ints_side(side, tree, k->right, n, 0, a->right, path, prefix, err)) ||
        (st = ints_side(side, tree, k->feature, n, 0, a->feature, path, prefix, err)) ||
        (st = doubles_side(side, tree, k->thr, n, a->thr, path, prefix, err)) ||
        (k->value && (st = doubles_side(side, tree, k->value, n, a->value, path, prefix, err))) ||
        (st = doubles_side(side, tree, k->cover, n, a->cover, path, prefix, err)) ||
        (st = ints_side(side, tree, k->default_left, n, 1, a->scratch, path, prefix, err)))
        return st;
    for (size_t i = 0; i < n; i++) {
        a->default_left[i] = a->scratch[i] != 0;
        if (!k->value)
            a->value[i] = a->thr[i];
    }
    return GR_OK;
}

gr_status gr_tree_arrays_read(json_t *tree, size_t n, const gr_tree_keys *k, gr_tree_arrays *a,
                              const char *path, const char *prefix, gr_error *err)
{
    return gr_tree_arrays_read_side(NULL, tree, n, k, a, path, prefix, err);
}
