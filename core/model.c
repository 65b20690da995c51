/* model.c - the bottom of the model family: the genotype-key index the
 * loaders fill, the link, and the accessors of model.h. gr_model_load, at
 * the top, is in model_load.c. */
#include <htslib/khash.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The index's keys carry their hash: a probe compares hashes in the key
 * array and reads a key's string only when they are equal. With a string
 * key each probe read it (a cache miss), and X31's clustered hashes of
 * "rs..." ids made probes long: building a 100,000-variant score's index
 * spent most of its time there. */
typedef struct {
    const char *s; /* borrowed from the feature records and locus_keys */
    uint32_t h;
} hkey;

static uint32_t str_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a multiply to mix the high bits down */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(h >> 32);
}

static hkey hkey_of(const char *s)
{
    return (hkey){ s, str_hash(s) };
}

#define HKEY_HASH(k) ((khint_t)(k).h)
#define HKEY_EQ(a, b) ((a).h == (b).h && !strcmp((a).s, (b).s))
KHASH_INIT(grkey, hkey, long, 1, HKEY_HASH, HKEY_EQ)

/* Adds the alias key -> i (an rsid or a locus). A feature_id always keeps
 * naming its own feature, so every id the API prints can be sent back; an
 * alias shared by two features becomes ambiguous (-2). */
static int add_key(const gr_model *m, khash_t(grkey) * h, const char *key, long i)
{
    int ret;
    khint_t k = kh_put(grkey, h, hkey_of(key), &ret);
    if (ret < 0)
        return 0;
    if (ret != 0)
        kh_val(h, k) = i;
    else if (kh_val(h, k) >= 0 && kh_val(h, k) != i && strcmp(m->features[kh_val(h, k)].id, key))
        kh_val(h, k) = -2;
    return 1;
}

static khash_t(grkey) * index_of(gr_model *m)
{
    if (!m->keys)
        m->keys = kh_init(grkey);
    return m->keys;
}

int gr_model_reserve(gr_model *m, size_t n)
{
    khash_t(grkey) *h = index_of(m);
    if (n > m->cap_features) {
        gr_feature *f = realloc(m->features, n * sizeof *f);
        if (!f)
            return 0;
        m->features = f;
        m->cap_features = n;
    }
    /* khash keeps its load under 0.77 */
    return h && kh_resize(grkey, h, (khint_t)(n + n / 3 + 16)) >= 0;
}

int gr_model_index_id(gr_model *m, size_t i)
{
    khash_t(grkey) *h = index_of(m);
    int ret;
    if (!h)
        return -1;
    khint_t k = kh_put(grkey, h, hkey_of(m->features[i].id), &ret);
    if (ret < 0)
        return -1;
    if (ret == 0)
        return 0;
    kh_val(h, k) = (long)i;
    return 1;
}

long gr_model_index_get(const gr_model *m, const char *key)
{
    const khash_t(grkey) *h = m->keys;
    if (!h)
        return -1;
    khint_t k = kh_get(grkey, h, hkey_of(key));
    return k != kh_end(h) ? kh_val(h, k) : -1;
}

gr_status gr_model_build_index(gr_model *m, const char *source, gr_error *err)
{
    gr_status st = GR_OK;
    khash_t(grkey) *h = index_of(m);
    const char **locus = calloc(m->n_features ? m->n_features : 1, sizeof *locus);
    if (!h || !locus)
        goto oom;
    /* Locus keys "chrom:pos:ref:alt", one buffer for all of them; only those
     * that differ from the feature's id are aliases. */
    size_t total = 0, aliases = 0;
    for (size_t i = 0; i < m->n_features; i++) {
        const gr_feature *f = &m->features[i];
        total += strlen(f->chrom) + strlen(f->ref) + strlen(f->alt) + 24;
    }
    m->locus_keys = malloc(total ? total : 1);
    if (!m->locus_keys)
        goto oom;
    char *p = m->locus_keys;
    for (size_t i = 0; i < m->n_features; i++) {
        const gr_feature *f = &m->features[i];
        aliases += f->rsid[0] && strcmp(f->rsid, f->id);
        if (!f->chrom[0] || f->pos <= 0)
            continue;
        size_t w = gr_locus_key(p, f->chrom, f->pos, f->ref, f->alt);
        if (!strcmp(p, f->id))
            continue; /* the id already is this key (PGS variants without rsID) */
        locus[i] = p;
        aliases++;
        p += w + 1;
    }
    /* sized once for the ids and every alias (khash keeps its load under 0.77) */
    size_t want = m->n_features + aliases;
    if (kh_n_buckets(h) * 0.77 < want + 1 &&
        kh_resize(grkey, h, (khint_t)(want + want / 3 + 16)) < 0)
        goto oom;
    for (size_t i = 0; !m->ids_indexed && i < m->n_features; i++) {
        int got = gr_model_index_id(m, i);
        if (got < 0)
            goto oom;
        if (got == 0) {
            st = gr_error_set(err, GR_EMODEL, source, 0, "feature_id",
                              "feature id '%.80s' appears more than once (features %ld and %zu)",
                              m->features[i].id, gr_model_index_get(m, m->features[i].id), i);
            goto fail;
        }
    }
    for (size_t i = 0; i < m->n_features; i++) {
        const gr_feature *f = &m->features[i];
        /* an rsID that is the feature's own id is in the index already */
        int rsid_alias = f->rsid[0] && f->rsid != f->id && strcmp(f->rsid, f->id);
        if ((rsid_alias && !add_key(m, h, f->rsid, (long)i)) ||
            (locus[i] && !add_key(m, h, locus[i], (long)i)))
            goto oom;
    }
    goto fail;
oom:
    st = gr_error_set(err, GR_ENOMEM, source, 0, NULL, "out of memory");
fail:
    free(locus);
    return st;
}

gr_status gr_model_set_link(gr_model *m, const char *link, int identity_needs_regression,
                            const char *path, gr_error *err)
{
    if (!link || (strcmp(link, "logistic") && strcmp(link, "identity")))
        return gr_error_set(err, GR_EMODEL, path, 0, "link",
                            "must be \"logistic\" or \"identity\"");
    m->link = strcmp(link, "logistic") ? GR_LINK_IDENTITY : GR_LINK_LOGISTIC;
    if (m->link == GR_LINK_LOGISTIC && m->info.task != GR_TASK_CLASSIFICATION)
        return gr_error_set(err, GR_EMODEL, path, 0, "link",
                            "a logistic link needs task \"classification\" in the manifest");
    if (m->link == GR_LINK_IDENTITY && identity_needs_regression &&
        m->info.task != GR_TASK_REGRESSION)
        return gr_error_set(err, GR_EMODEL, path, 0, "link",
                            "an identity link needs task \"regression\" in the manifest");
    return GR_OK;
}

const gr_model_info *gr_model_get_info(const gr_model *m)
{
    return &m->info;
}

const gr_feature *gr_model_feature(const gr_model *m, size_t i)
{
    return i < m->n_features ? &m->features[i] : NULL;
}

void gr_model_index_free(gr_model *m)
{
    /* The index's keys are borrowed from the feature records and locus_keys. */
    if (m->keys)
        kh_destroy(grkey, (khash_t(grkey) *)m->keys);
    m->keys = NULL;
    free(m->locus_keys);
    m->locus_keys = NULL;
}

const struct gr_reference *gr_model_reference(const gr_model *m, long *score)
{
    if (score)
        *score = m->ref ? m->ref_score : -1;
    return m->ref;
}

const struct gr_risk_decl *gr_model_risk(const gr_model *m)
{
    return m->risk;
}
