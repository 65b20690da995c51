/* json_arrays.c - see json_arrays.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_arrays.h"

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

static gr_status get_array(json_t *obj, const char *key, size_t n, json_t **arr, const char *path,
                           const char *prefix, gr_error *err)
{
    char field[96];
    snprintf(field, sizeof field, "%s.%s", prefix, key);
    *arr = json_object_get(obj, key);
    if (!json_is_array(*arr))
        return gr_error_set(err, GR_EMODEL, path, 0, field, "missing or not an array");
    if (json_array_size(*arr) != n)
        return gr_error_set(err, GR_EMODEL, path, 0, field, "has %zu entries, expected %zu",
                            json_array_size(*arr), n);
    return GR_OK;
}

gr_status gr_json_ints(json_t *obj, const char *key, size_t n, int bools, int64_t *out,
                       const char *path, const char *prefix, gr_error *err)
{
    json_t *arr;
    gr_status st = get_array(obj, key, n, &arr, path, prefix, err);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (json_is_integer(v))
            out[i] = (int64_t)json_integer_value(v);
        else if (bools && json_is_boolean(v))
            out[i] = json_is_true(v);
        else {
            char field[96];
            snprintf(field, sizeof field, "%s.%s[%zu]", prefix, key, i);
            return gr_error_set(err, GR_EMODEL, path, 0, field, "not an integer");
        }
    }
    return GR_OK;
}

gr_status gr_json_doubles(json_t *obj, const char *key, size_t n, double *out, const char *path,
                          const char *prefix, gr_error *err)
{
    json_t *arr;
    gr_status st = get_array(obj, key, n, &arr, path, prefix, err);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_number(v) || !isfinite(json_number_value(v))) {
            char field[96];
            snprintf(field, sizeof field, "%s.%s[%zu]", prefix, key, i);
            return gr_error_set(err, GR_EMODEL, path, 0, field, "not a finite number");
        }
        out[i] = json_number_value(v);
    }
    return GR_OK;
}

gr_status gr_tree_arrays_read(json_t *tree, size_t n, const gr_tree_keys *k, gr_tree_arrays *a,
                              const char *path, const char *prefix, gr_error *err)
{
    gr_status st;
    json_t *first;
    /* n may be a count the file claims (XGBoost's num_nodes): check it
     * against an array before allocating for it, so that a few bytes
     * claiming a billion nodes ask for nothing */
    if ((st = get_array(tree, k->left, n, &first, path, prefix, err)) ||
        (st = gr_tree_arrays_reserve(a, n, path, err)) ||
        (st = gr_json_ints(tree, k->left, n, 0, a->left, path, prefix, err)) ||
        (st = gr_json_ints(tree, k->right, n, 0, a->right, path, prefix, err)) ||
        (st = gr_json_ints(tree, k->feature, n, 0, a->feature, path, prefix, err)) ||
        (st = gr_json_doubles(tree, k->thr, n, a->thr, path, prefix, err)) ||
        (k->value && (st = gr_json_doubles(tree, k->value, n, a->value, path, prefix, err))) ||
        (st = gr_json_doubles(tree, k->cover, n, a->cover, path, prefix, err)) ||
        (st = gr_json_ints(tree, k->default_left, n, 1, a->scratch, path, prefix, err)))
        return st;
    for (size_t i = 0; i < n; i++) {
        a->default_left[i] = a->scratch[i] != 0;
        if (!k->value)
            a->value[i] = a->thr[i];
    }
    return GR_OK;
}
