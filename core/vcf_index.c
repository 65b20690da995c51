/* vcf_index.c - the model's variants indexed for a VCF read: chromosome
 * codes, a sorted position table with a one-probe bit filter in front of
 * it, the rsID table, and the fast look at a raw text line that decides
 * whether htslib needs to parse it at all. */
#include <htslib/khash.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vcf_internal.h"

/* Chromosome code: 1..22, X=23, Y=24, MT=25, others from 100 in a table. */
int32_t gr_vcf_chrom_code(ctx *c, const char *name, size_t len, int add)
{
    if (len >= 3 && (name[0] | 32) == 'c' && (name[1] | 32) == 'h' && (name[2] | 32) == 'r') {
        name += 3;
        len -= 3;
    }
    if (len >= 1 && len <= 2 && name[0] >= '0' && name[0] <= '9' &&
        (len == 1 || (name[1] >= '0' && name[1] <= '9'))) {
        int v = len == 1 ? name[0] - '0' : (name[0] - '0') * 10 + (name[1] - '0');
        if (v >= 1 && v <= 22)
            return v;
        if (v == 23 || v == 24)
            return v;
        if (v == 26)
            return 25;
    }
    if (len == 1 && (name[0] == 'X' || name[0] == 'x'))
        return 23;
    if (len == 1 && (name[0] == 'Y' || name[0] == 'y'))
        return 24;
    if ((len == 1 && (name[0] == 'M' || name[0] == 'm')) ||
        (len == 2 && (name[0] | 32) == 'm' && (name[1] | 32) == 't'))
        return 25;
    char buf[256];
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    memcpy(buf, name, len);
    buf[len] = '\0';
    khint_t k = kh_get(vname, c->contigs, buf);
    if (k != kh_end(c->contigs))
        return kh_val(c->contigs, k);
    if (!add)
        return -1;
    char *copy = gr_strdup(buf);
    int ret;
    if (!copy)
        return -1;
    k = kh_put(vname, c->contigs, copy, &ret);
    if (ret < 0) {
        free(copy);
        return -1;
    }
    kh_val(c->contigs, k) = c->next_code;
    return c->next_code++;
}

gr_status gr_vcf_build_index(ctx *c, gr_error *err)
{
    size_t n = c->n_feat, n_id = 0;
    c->by_pos = malloc((n ? n : 1) * sizeof *c->by_pos);
    c->by_id = malloc((n ? n : 1) * sizeof *c->by_id);
    c->id_first = kh_init(vid);
    if (!c->by_pos || !c->by_id || !c->id_first)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const gr_feature *f = &c->feat[i];
        if (c->rules[i] & RULE_SKIP)
            continue; /* chrx=skip: never looked for */
        if (f->pos > 0 && f->chrom[0]) {
            int32_t code = gr_vcf_chrom_code(c, f->chrom, strlen(f->chrom), 1);
            if (code < 0)
                return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
            c->by_pos[c->n_pos++] = (keyed){ pos_key(code, f->pos), (uint32_t)i };
        }
        if (f->rsid[0])
            c->by_id[n_id++] = (keyed){ 0, (uint32_t)i };
    }
    int sorted = 1; /* a scoring file usually is, by position */
    for (size_t i = 1; sorted && i < c->n_pos; i++)
        sorted = by_key(&c->by_pos[i - 1], &c->by_pos[i]) < 0;
    if (!sorted)
        qsort(c->by_pos, c->n_pos, sizeof *c->by_pos, by_key);
    c->seen_bits = calloc((size_t)1 << (SEEN_BITS - 6), sizeof *c->seen_bits);
    c->id_bits = calloc((size_t)1 << (SEEN_BITS - 6), sizeof *c->id_bits);
    if (!c->seen_bits || !c->id_bits)
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    for (size_t i = 0; i < c->n_pos; i++) {
        uint32_t s = seen_slot(c->by_pos[i].key);
        c->seen_bits[s >> 6] |= (uint64_t)1 << (s & 63);
    }
    /* rsIDs: features grouped by rsid; the key is the group's first slot.
     * Sized once, so that no put moves an entry: group_at keeps each
     * group's bucket for after the sort. */
    khint_t *group_at = malloc((n_id ? n_id : 1) * sizeof *group_at);
    if (!group_at || kh_resize(vid, c->id_first, (khint_t)(n_id + n_id / 3 + 16)) < 0) {
        free(group_at);
        return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
    }
    khint_t buckets = kh_n_buckets(c->id_first);
    for (size_t i = 0; i < n_id; i++) {
        const char *rs = c->feat[c->by_id[i].feature].rsid;
        idkey key = { rs, id_hash(rs, strlen(rs)) };
        uint32_t s = id_slot(key.h);
        c->id_bits[s >> 6] |= (uint64_t)1 << (s & 63);
        int ret;
        khint_t k = kh_put(vid, c->id_first, key, &ret);
        if (ret < 0) {
            free(group_at);
            return gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        }
        if (ret > 0)
            kh_val(c->id_first, k) = (int32_t)i;
        group_at[i] = k;
        c->by_id[i].key = (uint64_t)kh_val(c->id_first, k);
    }
    sorted = 1; /* unless an rsID comes back after others */
    for (size_t i = 1; sorted && i < n_id; i++)
        sorted = by_key(&c->by_id[i - 1], &c->by_id[i]) < 0;
    if (!sorted)
        qsort(c->by_id, n_id, sizeof *c->by_id, by_key);
    /* first slots moved by the sort: point each rsid at its group's start */
    int moved = kh_n_buckets(c->id_first) != buckets; /* cannot happen: sized above */
    for (size_t i = 0; i < n_id; i++) {
        if (i > 0 && c->by_id[i - 1].key == c->by_id[i].key)
            continue;
        khint_t k =
            moved ? id_find(c, c->feat[c->by_id[i].feature].rsid) : group_at[c->by_id[i].key];
        kh_val(c->id_first, k) = (int32_t)i;
    }
    free(group_at);
    c->n_id = n_id;
    return GR_OK;
}

/* The first entry of by_pos[lo, hi) not before key. */
static size_t lower_bound(const keyed *a, size_t lo, size_t hi, uint64_t key)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A sorted file's lines move *hint by a step at most, reading by_pos in
 * order, where a probe of a hash table is a cache miss per line. A jump
 * forward finds its place by bisection; a line behind the walk (an unsorted
 * file) bisects the whole table, behind the bit filter, and leaves *hint
 * alone. */
int gr_vcf_pos_find(const ctx *c, uint64_t key, size_t *hint, size_t *at)
{
    const keyed *a = c->by_pos;
    size_t n = c->n_pos, i = *hint;
    if (i > n || (i > 0 && a[i - 1].key >= key)) {
        if (!maybe_seen(c, key))
            return 0;
        i = lower_bound(a, 0, n, key);
    } else {
        size_t stop = n - i > 8 ? i + 8 : n;
        while (i < stop && a[i].key < key)
            i++;
        if (i == stop && i < n && a[i].key < key)
            i = lower_bound(a, i, n, key);
        *hint = i;
    }
    *at = i;
    return i < n && a[i].key == key;
}

/* Fast CHROM/POS/ID/ALT look at a raw text line: 1 when the line may concern
 * the model, 0 when not, -1 when its POS is not a number. This runs for every
 * line of the file, so the short fields are walked byte by byte rather than
 * with a library call each. */
int gr_vcf_line_wanted(ctx *c, const char *s, size_t len, int32_t *code_out, size_t *hint)
{
    const char *p = s, *e = s + len;
    while (p < e && *p != '\t')
        p++;
    if (p == e)
        return 1; /* let the parser report it */
    int32_t code = gr_vcf_chrom_code(c, s, (size_t)(p - s), 0);
    *code_out = code;
    const char *digits = ++p;
    int64_t pos = 0;
    while (p < e && *p >= '0' && *p <= '9' && pos < ((int64_t)1 << 40))
        pos = pos * 10 + (*p++ - '0');
    if (p == digits || p >= e || *p != '\t')
        return -1;
    size_t at;
    if (code >= 0 && gr_vcf_pos_find(c, pos_key(code, pos), hint, &at))
        return 1;
    const char *id = ++p;
    int nul = 0;
    for (; p < e && *p != '\t'; p++)
        nul |= !*p;
    if (p == e)
        return 1;
    size_t n = (size_t)(p - id);
    if (kh_size(c->id_first) && !(n == 1 && *id == '.') && n < 256) {
        uint64_t h = id_hash(id, nul ? strnlen(id, n) : n); /* as the C string buf */
        if (maybe_id(c, h)) {
            char buf[256];
            memcpy(buf, id, n);
            buf[n] = '\0';
            if (kh_get(vid, c->id_first, ((idkey){ buf, h })) != kh_end(c->id_first))
                return 1;
        }
    }
    /* a symbolic ALT may be a gVCF block covering model positions */
    if (code < 0)
        return 0;
    p++;
    while (p < e && *p != '\t') /* REF */
        p++;
    return p + 1 < e && p[1] == '<';
}
