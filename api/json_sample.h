/* json_sample.h - one predict sample's text read straight into its given
 * dosages: each genotype key is looked up as it arrives, no JSON tree is
 * built. Only the common form is read here: an object of "id" (a string or
 * null) and "genotypes" whose keys each name one model feature, spelled in
 * plain ASCII without escapes, with numbers, null or short ASCII strings as
 * values. Anything else, and every error, is left to the caller's complete
 * reader (jansson, predict_json.c), which then gives the exact answer: the
 * fast path never accepts a sample that reader refuses, and gives the same
 * dosages for one it accepts. */
#ifndef GR_API_JSON_SAMPLE_H
#define GR_API_JSON_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/match.h"
#include "core/model.h"

/* A genotype key resolved once and reused while the samples spell their
 * keys the same, in the same order. */
#define GR_JSON_MEMO_CALLS 4

typedef struct {
    const char *s; /* the key's bytes in the text (borrowed) */
    size_t n;
    gr_key k;
    int ambiguous;
    /* the genotype strings read under it, up to 7 bytes, and what they gave */
    char call[GR_JSON_MEMO_CALLS][8];
    double dosage[GR_JSON_MEMO_CALLS];
    uint8_t letters[GR_JSON_MEMO_CALLS];
    uint8_t n_calls;
} gr_json_key_memo;

typedef struct {
    const gr_model *m; /* borrowed */
    size_t nf;
    uint32_t *seen;         /* per feature: the mark of the last sample giving it (owned) */
    uint32_t mark;          /* this sample's */
    gr_json_key_memo *memo; /* the last sample's keys, by position (owned) */
    size_t n_memo, cap_memo;
    /* the sample read (owned, reused): its given dosages in key order */
    uint32_t *feature;
    double *value;
    size_t n, cap;
    size_t id_start, id_end; /* the id's bytes, without quotes, when has_id */
    int has_id;
    gr_match_counts mc;
} gr_json_sample;

/* A reader for model m (borrowed); 0 when out of memory. Free it with
 * gr_json_sample_free. */
int gr_json_sample_init(gr_json_sample *r, const gr_model *m);
void gr_json_sample_free(gr_json_sample *r);

/* Reads the sample whose value is s[start, end) (a span found by
 * gr_json_skip_value). Returns 1 with the sample in r, or 0: the caller
 * reads it the complete way (an error, a form not read here, or out of
 * memory). */
int gr_json_sample_read(gr_json_sample *r, const char *s, size_t start, size_t end);

#endif
