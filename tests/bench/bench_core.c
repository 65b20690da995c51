/* bench_core.c - times libgenorisk on a bench bundle: model load, plain
 * prediction and TreeSHAP per sample, one thread, medians of repeated runs.
 * With --check FILE (tools/bench_xgboost.py --dump-contribs) it also reports
 * the largest difference from XGBoost's own contributions.
 * usage: bench_core DIR [--repeats N] [--check FILE]; prints one JSON line. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/model.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double *read_rows(const char *path, size_t nf, size_t *rows)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1024, n = 0;
    double *x = malloc(cap * nf * sizeof *x);
    for (;;) {
        if (n == cap)
            x = realloc(x, (cap *= 2) * nf * sizeof *x);
        size_t j = 0;
        for (; j < nf; j++)
            if (fscanf(f, "%lf", &x[n * nf + j]) != 1)
                break;
        if (j == 0)
            break;
        if (j != nf) {
            free(x);
            fclose(f);
            return NULL;
        }
        n++;
    }
    fclose(f);
    *rows = n;
    return x;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_core DIR [--repeats N] [--check FILE]\n");
        return 2;
    }
    const char *dir = argv[1], *check = NULL;
    int repeats = 5;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--repeats"))
            repeats = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--check"))
            check = argv[i + 1];
    }
    if (repeats < 1 || repeats > 100)
        repeats = 5;

    double load_ms[100];
    gr_model *m = NULL;
    gr_error err;
    for (int r = 0; r < repeats; r++) {
        gr_model_free(m);
        double t0 = now();
        if (gr_model_load(dir, &m, &err)) {
            char buf[1200];
            fprintf(stderr, "bench_core: %s\n", gr_error_format(&err, buf, sizeof buf));
            return 1;
        }
        load_ms[r] = (now() - t0) * 1e3;
    }
    const gr_model_info *in = gr_model_get_info(m);
    size_t nf = in->n_features, rows = 0;
    char path[1024];
    snprintf(path, sizeof path, "%s/rows.tsv", dir);
    double *X = read_rows(path, nf, &rows);
    if (!X || !rows) {
        fprintf(stderr, "bench_core: cannot read %zu-column rows from %s\n", nf, path);
        return 1;
    }
    gr_workspace *ws = gr_workspace_new(m);
    double *phi = malloc(nf * sizeof *phi);
    /* The whole set at once, as pred_contribs takes it: gr_predict_batch. */
    double *phis = malloc(rows * nf * sizeof *phis);
    double **phip = malloc(rows * sizeof *phip);
    const double **xp = malloc(rows * sizeof *xp);
    gr_prediction p, *ps = malloc(rows * sizeof *ps);
    if (!phi || !phis || !phip || !xp || !ps) {
        fprintf(stderr, "bench_core: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < rows; i++) {
        phip[i] = phis + i * nf;
        xp[i] = X + i * nf;
    }
    double sink = 0, pred_us[100], shap_ms[100], single_ms[100];
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        for (size_t i = 0; i < rows; i++) {
            gr_predict(m, ws, X + i * nf, &p, NULL, NULL, NULL);
            sink += p.margin;
        }
        pred_us[r] = (now() - t0) * 1e6 / (double)rows;
    }
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        for (size_t i = 0; i < rows; i++) {
            gr_predict(m, ws, X + i * nf, &p, phi, NULL, NULL);
            sink += phi[0];
        }
        single_ms[r] = (now() - t0) * 1e3 / (double)rows;
        t0 = now();
        gr_predict_batch(m, ws, rows, xp, NULL, ps, phip, NULL, NULL, NULL);
        sink += phis[0];
        shap_ms[r] = (now() - t0) * 1e3 / (double)rows;
    }
    double max_diff = -1;
    if (check) {
        json_t *c = json_load_file(check, 0, NULL);
        json_t *ids = json_object_get(c, "rows"), *contribs = json_object_get(c, "contribs");
        max_diff = 0;
        for (size_t k = 0; k < json_array_size(ids); k++) {
            size_t i = (size_t)json_integer_value(json_array_get(ids, k));
            json_t *want = json_array_get(contribs, k);
            if (i >= rows || json_array_size(want) != nf + 1) {
                fprintf(stderr, "bench_core: %s does not fit this bundle\n", check);
                return 1;
            }
            gr_predict(m, ws, X + i * nf, &p, phi, NULL, NULL);
            for (size_t j = 0; j <= nf; j++) {
                double want_j = json_number_value(json_array_get(want, j));
                double got = j < nf ? phi[j] : p.base_value;
                double batched = j < nf ? phis[i * nf + j] : ps[i].base_value;
                double d = fabs(got - want_j), db = fabs(batched - want_j);
                if (d > max_diff)
                    max_diff = d;
                if (db > max_diff)
                    max_diff = db;
            }
        }
        json_decref(c);
    }
    printf("{\"impl\":\"genorisk %s\",\"rows\":%zu,\"trees\":%zu,\"leaves\":%zu,\"max_depth\":%d,"
           "\"load_ms_median\":%.2f,\"predict_us_per_sample_median\":%.3f,"
           "\"shap_ms_per_sample_median\":%.4f,\"shap_single_ms_per_sample_median\":%.4f,"
           "\"shap_runs_ms_per_sample\":[",
           GR_VERSION, rows, in->n_trees, in->n_leaves, in->max_depth, median(load_ms, repeats),
           median(pred_us, repeats), median(shap_ms, repeats), median(single_ms, repeats));
    for (int r = 0; r < repeats; r++)
        printf("%s%.4f", r ? "," : "", shap_ms[r]);
    printf("],\"max_abs_diff_vs_xgboost\":%.3g,\"sink\":%.3g}\n", max_diff, sink);
    free(phis);
    free(phip);
    free(xp);
    free(ps);
    free(phi);
    free(X);
    gr_workspace_free(ws);
    gr_model_free(m);
    return 0;
}
