/* vcf_internal.h - the VCF reader's state and its stages' shared pieces,
 * private to core/vcf*.c: vcf.c drives a read (open, header, samples,
 * build, body, warnings), vcf_index.c finds the model's variants by
 * position and rsID, vcf_match.c turns a record into dosages (rules 2-8)
 * and reads the genome build (rule 9), vcf_guard.c sizes what htslib would
 * allocate before it does. */
#ifndef GR_VCF_INTERNAL_H
#define GR_VCF_INTERNAL_H

#include <htslib/khash.h>
#include <htslib/vcf.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "vcf.h"

KHASH_MAP_INIT_STR(vname, int32_t)

/* An rsID with its hash (id_hash): the rsID table compares hashes in its
 * key array and reads a key's string only when they agree, where a string
 * key would be read, a cache miss, at every step of a probe. */
typedef struct {
    const char *s; /* borrowed from the model's features, or the caller's */
    uint64_t h;
} idkey;
#define IDKEY_HASH(k) ((khint_t)((k).h >> 32))
#define IDKEY_EQ(a, b) ((a).h == (b).h && !strcmp((a).s, (b).s))
KHASH_INIT(vid, idkey, int32_t, 1, IDKEY_HASH, IDKEY_EQ)

enum { KIND_NONE, KIND_ID, KIND_BLOCK, KIND_RECORD }; /* rule precedence */

typedef struct {
    uint64_t key;
    uint32_t feature;
} keyed;

/* Per-variant policy bits (ctx.rules). */
enum {
    RULE_DROP_AMBIGUOUS = 1, /* an ambiguous SNV under ambiguous=drop */
    RULE_DROP_MULTI = 2,     /* multiallelic=drop */
    RULE_SKIP = 4            /* chrX under chrx=skip: not looked for */
};

typedef struct {
    const gr_vcf_model *models; /* borrowed */
    size_t n_models;
    gr_feature *feat; /* every model's variants in a row (shallow copies) */
    size_t n_feat;
    size_t *first;  /* model k's variants start at first[k]; first[n_models] = n_feat */
    uint8_t *rules; /* RULE_* per variant */
    const gr_vcf_options *opt;
    khash_t(vname) * contigs; /* non-standard chromosome names -> code */
    int32_t next_code;
    keyed *by_pos; /* features sorted by (chrom code, pos) */
    size_t n_pos;
    uint64_t *seen_bits;            /* a one-probe filter in front of a bisection of by_pos */
    size_t hint;                    /* gr_vcf_pos_find's, for the caller's thread */
    keyed *by_id;                   /* features with an rsID; key = index into rsid order */
    size_t n_id;                    /* entries in by_id (features with an rsID) */
    khash_t(vid) * id_first;        /* rsid -> first index in by_id */
    uint64_t *id_bits;              /* the same kind of filter in front of id_first */
    uint8_t *kind, *flags, *status; /* per variant: KIND_*, GR_MATCH_*, gr_var_status */
    uint64_t *record;               /* per variant: the record used (1-based), 0 none */
    char **record_text;             /* per variant, keep_records only */
    uint64_t seq;                   /* records handed to gr_vcf_use_record so far */
    size_t duplicates, homref_calls, calls;
    /* per-record scratch */
    int32_t *gt;
    int n_gt;
    float *ds;
    int n_ds;
    int32_t *end;
    int n_end;
    int have_ds;       /* header declares FORMAT/DS */
    int32_t *rid_code; /* BCF/header contig id -> chrom code */
    int n_rid;
    int oom; /* an allocation for a record failed: the read fails */
} ctx;

static inline uint64_t pos_key(int32_t code, int64_t pos)
{
    return (uint64_t)(uint32_t)code << 40 | (uint64_t)pos;
}

/* Most records of a genome-wide VCF are not in the model, and each probe of
 * a 100,000-entry table is a cache miss. A 2^21-bit filter (256 KiB,
 * cache-resident) answers "certainly not" for most of them first. */
#define SEEN_BITS 21
static inline uint32_t seen_slot(uint64_t key)
{
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - SEEN_BITS));
}

static inline int maybe_seen(const ctx *c, uint64_t key)
{
    uint32_t s = seen_slot(key);
    return (int)(c->seen_bits[s >> 6] >> (s & 63) & 1);
}

/* The ID column of most lines of a called genome is an rsID, and a string
 * probe of id_first is a cache miss per string compared (it was a fifth of
 * a 2,000,000-line read). FNV-1a of the ID's bytes picks its bit in a filter
 * like seen_bits; up to a NUL, as id_first compares C strings (the caller
 * passes the bytes before the first NUL). */
static inline uint64_t id_hash(const char *id, size_t n)
{
    /* n bytes without a NUL, eight at a time: an rsID takes two steps */
    uint64_t h = 0xcbf29ce484222325ull ^ n, w;
    for (; n >= 8; id += 8, n -= 8) {
        memcpy(&w, id, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    if (n) {
        w = 0;
        for (size_t i = 0; i < n; i++)
            w |= (uint64_t)(unsigned char)id[i] << (8 * i);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h * 0x9E3779B97F4A7C15ull;
}

static inline uint32_t id_slot(uint64_t h)
{
    return (uint32_t)(h >> (64 - SEEN_BITS));
}

static inline int maybe_id(const ctx *c, uint64_t h)
{
    uint32_t s = id_slot(h);
    return (int)(c->id_bits[s >> 6] >> (s & 63) & 1);
}

/* id_first's entry for the C string id, or kh_end. */
static inline khint_t id_find(const ctx *c, const char *id)
{
    return kh_get(vid, c->id_first, ((idkey){ id, id_hash(id, strlen(id)) }));
}

/* Orders keyed entries by key, then feature (qsort, and the block search). */
static inline int by_key(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->feature < y->feature ? -1 : x->feature > y->feature;
}

/* vcf_index.c */

/* Chromosome code of name (len bytes): 1..22, X=23, Y=24, MT=25, others
 * from 100, added to c->contigs when add is set; -1 when unknown (or out of
 * memory, which sets c->oom). */
int32_t gr_vcf_chrom_code(ctx *c, const char *name, size_t len, int add);
/* Sorts the model's variants by (chromosome, position) and by rsID, and
 * fills the filters and the rsID table. */
gr_status gr_vcf_build_index(ctx *c, gr_error *err);
/* 1 when a raw text line may concern the model, 0 when not, -1 when its
 * POS is not a number; *code_out gets its chromosome code. Only reads c.
 * *hint is the caller's place in c->by_pos, carried from one line to the
 * next of a run of lines (0 to begin; any value gives the same answers). */
int gr_vcf_line_wanted(ctx *c, const char *s, size_t len, int32_t *code_out, size_t *hint);
/* 1 when key (pos_key) is a model position, *at then its first entry in
 * c->by_pos; 0 when not. *hint is the caller's place in by_pos along a run
 * of keys (see gr_vcf_line_wanted). Only reads c. */
int gr_vcf_pos_find(const ctx *c, uint64_t key, size_t *hint, size_t *at);

/* vcf_match.c */

/* 1 for a gVCF reference block (a single <NON_REF> or <*> ALT). */
int gr_vcf_is_block(bcf1_t *rec);
/* Matches one record that concerns the model and fills the dosages of the
 * variants it matches (rules 2-8); sets c->oom when an allocation fails. */
void gr_vcf_use_record(ctx *c, const bcf_hdr_t *hdr, bcf1_t *rec, int32_t code, gr_vcf_result *r);
/* Rule 9: "GRCh37", "GRCh38", or "" when the header does not say; why gets
 * the line that told. */
const char *gr_vcf_header_build(const bcf_hdr_t *hdr, char *why, size_t why_size);

/* vcf_guard.c */

/* Measures the header of the file at path (or fd, rewound after) before
 * htslib reads it: over max bytes, or with an IDX attribute that size
 * cannot hold, is GR_EINPUT. */
gr_status gr_vcf_check_header_size(const char *path, int fd, size_t max, const char *label,
                                   gr_error *err);
/* Bytes htslib would allocate for the FORMAT values of a text record for n
 * samples (s, len: the line), at most about max. */
uint64_t gr_vcf_format_bytes(const char *s, size_t len, uint64_t n, uint64_t max);
/* The name field of a record that would be written into a header line
 * with attributes of its own ("" for a line without tabs), or NULL. */
const char *gr_vcf_header_injection(const char *s, size_t len);

/* Names a record uses (CHROM, FILTER, INFO keys, FORMAT keys) that the
 * header does not declare. htslib adds each such name to the header as it
 * parses the record, rebuilding its dictionaries every time, so that n of
 * them cost n times the header: 120,000 took 17.5 s. The reader allows at
 * most GR_VCF_MAX_UNDECLARED of them per upload, of at most
 * GR_VCF_MAX_UNDECLARED_BYTES together. */
#define GR_VCF_MAX_UNDECLARED 256
#define GR_VCF_MAX_UNDECLARED_BYTES 16384
#define GR_VCF_MAX_UNDECLARED_NAME 1023
typedef struct {
    size_t count, bytes;
    int first_kind;    /* BCF_HL_* of the first one */
    const char *first; /* borrowed from the line */
    size_t first_len;
} gr_vcf_undeclared;

/* Counts into u the names line s (len bytes) uses that hdr lacks (a name
 * used twice in the line counts twice). */
void gr_vcf_count_undeclared(const bcf_hdr_t *hdr, const char *s, size_t len, gr_vcf_undeclared *u);

/* "contig", "FILTER", "INFO key" or "FORMAT key" for a BCF_HL_* kind. */
const char *gr_vcf_kind_name(int kind);

#endif
