/* modelset.c - see modelset.h. */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "modelset.h"

struct gr_modelset {
    atomic_size_t refs;
    size_t n;
    gr_model **models; /* sorted by name */
};

static int by_name(const void *a, const void *b)
{
    const gr_model *x = *(gr_model *const *)a, *y = *(gr_model *const *)b;
    return strcmp(x->info.name, y->info.name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

gr_status gr_modelset_load(const char *dir, gr_modelset **out, gr_error *err)
{
    return gr_modelset_load_each(dir, NULL, NULL, out, err);
}

gr_status gr_modelset_load_each(const char *dir, gr_modelset_report report, void *arg,
                                gr_modelset **out, gr_error *err)
{
    gr_status st = GR_OK;
    gr_modelset *s = NULL;
    char **names = NULL;
    size_t n_names = 0, cap = 0;
    DIR *d = NULL;
    *out = NULL;

    errno = 0;
    d = opendir(dir);
    if (!d && errno == ENOMEM)
        return gr_error_set(err, GR_ENOMEM, dir, 0, NULL, "out of memory");
    if (!d)
        return gr_error_set(err, GR_EIO, dir, 0, NULL, "cannot open the models directory");
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *sub = gr_path_join(dir, e->d_name),
             *man = sub ? gr_path_join(sub, "manifest.json") : NULL;
        struct stat sb;
        int is_bundle = man && stat(man, &sb) == 0 && S_ISREG(sb.st_mode);
        if (!sub || !man) { /* not a reason to pass the bundle over */
            free(sub);
            st = gr_error_set(err, GR_ENOMEM, dir, 0, NULL, "out of memory");
            goto fail;
        }
        free(man);
        if (!is_bundle) {
            free(sub);
            continue;
        }
        if (n_names == cap) {
            char **nn = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof *nn);
            if (!nn) {
                free(sub);
                st = gr_error_set(err, GR_ENOMEM, dir, 0, NULL, "out of memory");
                goto fail;
            }
            names = nn;
        }
        names[n_names++] = sub;
    }
    if (n_names == 0) {
        st = gr_error_set(err, GR_EMODEL, dir, 0, NULL,
                          "no model bundle (a subdirectory holding manifest.json) found");
        goto fail;
    }
    /* load in a stable order so the first error reported does not depend on readdir */
    qsort(names, n_names, sizeof *names, cmp_str);
    s = calloc(1, sizeof *s);
    if (!s || !(s->models = calloc(n_names, sizeof *s->models))) {
        st = gr_error_set(err, GR_ENOMEM, dir, 0, NULL, "out of memory");
        goto fail;
    }
    atomic_init(&s->refs, 1);
    gr_error first, one;
    size_t broken = 0;
    for (size_t i = 0; i < n_names; i++) {
        gr_status got = gr_model_load(names[i], &s->models[s->n], &one);
        if (got == GR_ENOMEM) {
            st = gr_error_set(err, GR_ENOMEM, names[i], 0, NULL, "out of memory");
            goto fail;
        }
        if (got) {
            if (!broken++)
                first = one;
            if (report)
                report(arg, &one);
            continue;
        }
        s->n++;
    }
    qsort(s->models, s->n, sizeof *s->models, by_name);
    for (size_t i = 1; i < s->n; i++)
        if (!strcmp(s->models[i]->info.name, s->models[i - 1]->info.name)) {
            gr_error_set(&one, GR_EMODEL, s->models[i]->info.dir, 0, "name",
                         "model name '%s' is also used by %s", s->models[i]->info.name,
                         s->models[i - 1]->info.dir);
            if (!broken++)
                first = one;
            if (report)
                report(arg, &one);
        }
    if (broken) {
        st = first.status;
        if (err) {
            *err = first;
            if (broken > 1) { /* say there are more, after the first's reason */
                size_t n = strlen(err->text);
                snprintf(err->text + n, sizeof err->text - n,
                         " (and %zu more of the %zu bundles do not load)", broken - 1, n_names);
            }
        }
        goto fail;
    }
    *out = s;
    s = NULL;

fail:
    if (d)
        closedir(d);
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    if (s) {
        for (size_t i = 0; i < s->n; i++)
            gr_model_free(s->models[i]);
        free(s->models);
        free(s);
    }
    return st;
}

gr_modelset *gr_modelset_retain(gr_modelset *s)
{
    if (s)
        atomic_fetch_add(&s->refs, 1);
    return s;
}

void gr_modelset_release(gr_modelset *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < s->n; i++)
        gr_model_free(s->models[i]);
    free(s->models);
    free(s);
}

size_t gr_modelset_count(const gr_modelset *s)
{
    return s ? s->n : 0;
}

const gr_model *gr_modelset_at(const gr_modelset *s, size_t i)
{
    return s && i < s->n ? s->models[i] : NULL;
}

const gr_model *gr_modelset_find(const gr_modelset *s, const char *name)
{
    size_t lo = 0, hi = gr_modelset_count(s);
    while (lo < hi) { /* binary search over the sorted names */
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, s->models[mid]->info.name);
        if (!c)
            return s->models[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}
