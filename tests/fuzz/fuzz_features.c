/* fuzz_features.c - libFuzzer harness for features.tsv (core/features.c,
 * core/lines.c) and the key index built over it (core/model.c): the input is
 * the features.tsv of two bundles, a genorisk-linear and a genorisk-trees
 * one, whose artifacts the harness writes to match the number of feature
 * rows the input seems to have, so that inputs get past the count check into
 * the key index and predictions. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/common.h"

static const char *bundles[2];
static int features = -1, linear = -1, trees = -1;

static void setup(void)
{
    gr_fuzz_quiet();
    features = gr_fuzz_memfd("features.tsv");
    linear = gr_fuzz_memfd("linear.json");
    trees = gr_fuzz_memfd("trees.json");
    bundles[0] = gr_fuzz_bundle("genorisk-linear", "regression", "GRCh38", "model.json", linear,
                                NULL, features);
    bundles[1] = gr_fuzz_bundle("genorisk-trees", "classification", "GRCh37", "model.json",
                                trees, NULL, features);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setup();
    return 0;
}

/* Non-empty lines after the first non-empty one: the feature rows of a
 * plain-text features.tsv. */
static size_t count_rows(const uint8_t *data, size_t size)
{
    size_t rows = 0, at = 0;
    int header = 0;
    while (at < size) {
        const uint8_t *nl = memchr(data + at, '\n', size - at);
        size_t len = nl ? (size_t)(nl - (data + at)) : size - at;
        size_t next = at + len + 1;
        if (len && data[at + len - 1] == '\r')
            len--;
        if (len) {
            rows += (size_t)header;
            header = 1;
        }
        at = next;
    }
    return rows;
}

typedef struct {
    char *s;
    size_t len, cap;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            gr_fuzz_fail("vsnprintf failed");
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = 2 * (t->len + (size_t)n + 1);
        if (!(t->s = realloc(t->s, t->cap)))
            gr_fuzz_fail("out of memory");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (features < 0)
        setup();
    size_t n = count_rows(data, size);
    text t = { malloc(256), 0, 256 };
    if (!t.s)
        gr_fuzz_fail("out of memory");
    /* linear: weight i is ((i % 7) - 3) / 4 */
    add(&t, "{\"format\": \"genorisk-linear\", \"intercept\": 0.25, \"link\": \"identity\", "
            "\"n_features\": %zu, \"weights\": [", n);
    for (size_t i = 0; i < n; i++)
        add(&t, "%s%g", i ? ", " : "", ((double)(i % 7) - 3) / 4);
    add(&t, "]}\n");
    gr_fuzz_memfd_set(linear, t.s, t.len);
    /* trees: one split on the last feature, one on the first */
    size_t last = n ? n - 1 : 0;
    t.len = 0;
    add(&t, "{\"format\": \"genorisk-trees\", \"n_features\": %zu, \"combine\": \"mean\", "
            "\"link\": \"identity\", \"trees\": [", n);
    for (int k = 0; k < 2; k++)
        add(&t, "%s{\"children_left\": [1, -1, -1], \"children_right\": [2, -1, -1], "
                "\"feature\": [%zu, -2, -2], \"threshold\": [%s, -2, -2], "
                "\"value\": [0.5, 0.2, 0.8], \"cover\": [10, 6, 4], "
                "\"default_left\": [%s, false, false]}",
            k ? ", " : "", k ? (size_t)0 : last, k ? "0.5" : "1.5", k ? "true" : "false");
    add(&t, "]}\n");
    gr_fuzz_memfd_set(trees, t.s, t.len);
    free(t.s);
    gr_fuzz_memfd_set(features, data, size);
    for (int i = 0; i < 2; i++)
        gr_fuzz_try_load(bundles[i]);
    return 0;
}
