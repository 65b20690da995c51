/* test_oadp.c - FRAPOSA's OADP projection (core/oadp.c) against the numpy
 * port of fraposa in tools/make_oadp_fixture.py (tests/fixtures/oadp/), the
 * one-sided Jacobi SVD (core/svd.c) against numpy.linalg.svd, and every
 * check of a projection's dimensions and values. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/oadp.h"
#include "core/svd.h"

#define DIR "tests/fixtures/oadp/"

static json_t *load(const char *name)
{
    json_error_t je;
    char path[256];
    snprintf(path, sizeof path, DIR "%s", name);
    json_t *root = json_load_file(path, 0, &je);
    cr_assert(root, "%s: %s", path, je.text);
    return root;
}

/* Returns a new copy of a numeric array; null becomes NaN. */
static double *doubles(const json_t *arr, size_t *len)
{
    cr_assert(json_is_array(arr));
    size_t n = json_array_size(arr);
    double *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(arr, i);
        x[i] = json_is_null(v) ? NAN : json_number_value(v);
    }
    if (len)
        *len = n;
    return x;
}

/* The fixture's projection.json as a spec whose arrays the test owns. */
typedef struct {
    gr_oadp_spec spec;
    double *arr[6];
} fixture_spec;

static void spec_load(fixture_spec *f)
{
    json_t *root = load("projection.json");
    static const char *const keys[6] = { "mean", "sd", "U", "s", "V", "ref_pcs" };
    for (size_t i = 0; i < 6; i++)
        f->arr[i] = doubles(json_object_get(root, keys[i]), NULL);
    f->spec = (gr_oadp_spec){
        .p = (size_t)json_integer_value(json_object_get(root, "n_variants")),
        .n = (size_t)json_integer_value(json_object_get(root, "n_reference")),
        .dim_ref = (size_t)json_integer_value(json_object_get(root, "dim_ref")),
        .dim_online = (size_t)json_integer_value(json_object_get(root, "dim_online")),
        .dim_stu = (size_t)json_integer_value(json_object_get(root, "dim_stu")),
        .mean = f->arr[0],
        .sd = f->arr[1],
        .U = f->arr[2],
        .s = f->arr[3],
        .V = f->arr[4],
        .ref_pcs = f->arr[5],
    };
    json_decref(root);
}

static void spec_free(fixture_spec *f)
{
    for (size_t i = 0; i < 6; i++)
        free(f->arr[i]);
}

typedef struct {
    size_t rows, p, dim_ref;
    double *dosage; /* rows x p */
    double *pcs;    /* rows x dim_ref, numpy's */
    long *iterations;
} fixture_cases;

static void cases_load(fixture_cases *c)
{
    json_t *root = load("cases.json");
    json_t *dos = json_object_get(root, "dosages"), *pcs = json_object_get(root, "pcs");
    json_t *its = json_object_get(root, "iterations");
    c->rows = json_array_size(dos);
    c->p = json_array_size(json_array_get(dos, 0));
    c->dim_ref = json_array_size(json_array_get(pcs, 0));
    c->dosage = malloc(c->rows * c->p * sizeof *c->dosage);
    c->pcs = malloc(c->rows * c->dim_ref * sizeof *c->pcs);
    c->iterations = malloc(c->rows * sizeof *c->iterations);
    for (size_t r = 0; r < c->rows; r++) {
        size_t n;
        double *d = doubles(json_array_get(dos, r), &n);
        cr_assert_eq(n, c->p);
        memcpy(c->dosage + r * c->p, d, n * sizeof *d);
        free(d);
        d = doubles(json_array_get(pcs, r), &n);
        cr_assert_eq(n, c->dim_ref);
        memcpy(c->pcs + r * c->dim_ref, d, n * sizeof *d);
        free(d);
        c->iterations[r] = (long)json_integer_value(json_array_get(its, r));
    }
    json_decref(root);
}

static void cases_free(fixture_cases *c)
{
    free(c->dosage);
    free(c->pcs);
    free(c->iterations);
}

static gr_oadp *fixture_oadp(void)
{
    json_t *root = load("projection.json");
    gr_oadp *o = NULL;
    gr_error err;
    gr_status st = gr_oadp_from_json(root, DIR "projection.json", &o, &err);
    cr_assert_eq(st, GR_OK, "%s: %s", err.field, err.text);
    json_decref(root);
    return o;
}

/* Projects every fixture target with o; returns the largest difference
 * from want (rows x dim_ref, column signs flipped where flip[j] < 0). */
static double max_diff(const gr_oadp *o, const fixture_cases *c, const double *flip)
{
    gr_oadp_ws *ws = gr_oadp_ws_new(o);
    cr_assert(ws);
    double worst = 0, pcs[64];
    for (size_t r = 0; r < c->rows; r++) {
        gr_error err;
        gr_status st = gr_oadp_project(o, ws, c->dosage + r * c->p, pcs, &err);
        cr_assert_eq(st, GR_OK, "target %zu: %s", r, err.text);
        cr_assert_eq((long)gr_oadp_ws_iterations(ws), c->iterations[r],
                     "target %zu: %zu Procrustes iterations, numpy took %ld", r,
                     gr_oadp_ws_iterations(ws), c->iterations[r]);
        for (size_t j = 0; j < c->dim_ref; j++) {
            double want = c->pcs[r * c->dim_ref + j] * (flip ? flip[j] : 1);
            worst = fmax(worst, fabs(pcs[j] - want));
        }
    }
    gr_oadp_ws_free(ws);
    return worst;
}

Test(oadp, every_target_lands_where_fraposa_numpy_puts_it)
{
    gr_oadp *o = fixture_oadp();
    fixture_cases c;
    cases_load(&c);
    cr_assert_eq(gr_oadp_p(o), c.p);
    cr_assert_eq(gr_oadp_dim_ref(o), c.dim_ref);
    cr_assert_eq(gr_oadp_n(o), 200);
    double worst = max_diff(o, &c, NULL);
    cr_assert(worst <= 1e-9, "largest difference from numpy %.3g", worst);
    cases_free(&c);
    gr_oadp_free(o);
}

Test(oadp, a_workspace_carries_nothing_from_one_sample_to_the_next)
{
    gr_oadp *o = fixture_oadp();
    fixture_cases c;
    cases_load(&c);
    gr_oadp_ws *ws = gr_oadp_ws_new(o);
    double first[10], again[10];
    cr_assert_eq(gr_oadp_project(o, ws, c.dosage, first, NULL), GR_OK);
    for (size_t r = 1; r < c.rows; r++)
        cr_assert_eq(gr_oadp_project(o, ws, c.dosage + r * c.p, again, NULL), GR_OK);
    cr_assert_eq(gr_oadp_project(o, ws, c.dosage, again, NULL), GR_OK);
    cr_assert_eq(memcmp(first, again, sizeof first), 0);
    gr_oadp_ws_free(ws);
    cases_free(&c);
    gr_oadp_free(o);
}

/* dim_stu = dim_ref: fraposa's procrustes_diffdim is one plain Procrustes. */
Test(oadp, with_as_many_augmented_pcs_as_reported_one_procrustes_is_enough)
{
    fixture_spec f;
    spec_load(&f);
    f.spec.dim_stu = f.spec.dim_ref;
    gr_oadp *o = NULL;
    cr_assert_eq(gr_oadp_new(&f.spec, &o, NULL), GR_OK);
    fixture_cases c;
    cases_load(&c);
    json_t *root = load("cases.json");
    json_t *want = json_object_get(root, "pcs_dim_stu_10");
    cr_assert_eq(json_array_size(want), c.rows);
    gr_oadp_ws *ws = gr_oadp_ws_new(o);
    double pcs[10], worst = 0;
    for (size_t r = 0; r < c.rows; r++) {
        cr_assert_eq(gr_oadp_project(o, ws, c.dosage + r * c.p, pcs, NULL), GR_OK);
        cr_assert_eq(gr_oadp_ws_iterations(ws), 1);
        for (size_t j = 0; j < c.dim_ref; j++)
            worst =
                fmax(worst,
                     fabs(pcs[j] - json_number_value(json_array_get(json_array_get(want, r), j))));
    }
    cr_assert(worst <= 1e-9, "largest difference from numpy %.3g", worst);
    gr_oadp_ws_free(ws);
    json_decref(root);
    cases_free(&c);
    gr_oadp_free(o);
    spec_free(&f);
}

/* A reference component's sign is the SVD's choice: flipping U and V's
 * column j together leaves the reference as it was, so the projection moves
 * only by the flip of PC j (when j < dim_ref). */
Test(oadp, the_signs_of_the_reference_vectors_only_flip_those_pcs)
{
    fixture_spec f;
    spec_load(&f);
    fixture_cases c;
    cases_load(&c);
    gr_oadp_spec *sp = &f.spec;
    size_t k = sp->dim_online, dr = sp->dim_ref;
    double flip[10];
    for (size_t j = 0; j < dr; j++)
        flip[j] = j % 3 == 1 ? -1 : 1;
    for (size_t j = 0; j < k; j++) {
        if (j < dr ? flip[j] > 0 : j % 2 == 0)
            continue;
        for (size_t i = 0; i < sp->p; i++)
            f.arr[2][i * k + j] = -f.arr[2][i * k + j];
        for (size_t i = 0; i < sp->n; i++)
            f.arr[4][i * k + j] = -f.arr[4][i * k + j];
        if (j < dr)
            for (size_t i = 0; i < sp->n; i++)
                f.arr[5][i * dr + j] = -f.arr[5][i * dr + j];
    }
    gr_oadp *o = NULL;
    cr_assert_eq(gr_oadp_new(sp, &o, NULL), GR_OK);
    double worst = max_diff(o, &c, flip);
    cr_assert(worst <= 1e-9, "largest difference from numpy %.3g", worst);
    gr_oadp_free(o);
    cases_free(&c);
    spec_free(&f);
}

/* ---- the SVD ---- */

Test(svd, singular_values_are_numpys_and_the_factors_rebuild_the_matrix)
{
    json_t *root = load("svd.json");
    json_t *mats = json_object_get(root, "matrices");
    cr_assert(json_array_size(mats) >= 3);
    for (size_t t = 0; t < json_array_size(mats); t++) {
        json_t *mt = json_array_get(mats, t);
        size_t rows = (size_t)json_integer_value(json_object_get(mt, "rows"));
        size_t cols = (size_t)json_integer_value(json_object_get(mt, "cols"));
        double *a = doubles(json_object_get(mt, "a"), NULL); /* row-major */
        double *want = doubles(json_object_get(mt, "s"), NULL);
        double *u = malloc(rows * cols * sizeof *u), *s = malloc(cols * sizeof *s);
        double *v = malloc(cols * cols * sizeof *v);
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                u[j * rows + i] = a[i * cols + j];
        cr_assert_eq(gr_svd_jacobi(rows, cols, u, s, v, NULL), GR_OK);
        for (size_t j = 0; j < cols; j++)
            cr_assert(fabs(s[j] - want[j]) <= 1e-12 * want[0], "matrix %zu s[%zu] %.17g vs %.17g",
                      t, j, s[j], want[j]);
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++) {
                double x = 0;
                for (size_t l = 0; l < cols; l++)
                    x += u[l * rows + i] * s[l] * v[l * cols + j];
                cr_assert(fabs(x - a[i * cols + j]) <= 1e-12 * want[0], "matrix %zu (%zu,%zu)", t,
                          i, j);
            }
        for (size_t x = 0; x < cols; x++) /* u and v orthonormal, completed u too */
            for (size_t y = 0; y < cols; y++) {
                double uu = 0, vv = 0;
                for (size_t i = 0; i < rows; i++)
                    uu += u[x * rows + i] * u[y * rows + i];
                for (size_t i = 0; i < cols; i++)
                    vv += v[x * cols + i] * v[y * cols + i];
                cr_assert(fabs(uu - (x == y)) <= 1e-12 && fabs(vv - (x == y)) <= 1e-12,
                          "matrix %zu columns %zu, %zu", t, x, y);
            }
        free(a);
        free(want);
        free(u);
        free(s);
        free(v);
    }
    json_decref(root);
}

Test(svd, a_zero_matrix_gets_zero_values_and_orthonormal_vectors)
{
    double a[6] = { 0 }, s[2], v[4];
    cr_assert_eq(gr_svd_jacobi(3, 2, a, s, v, NULL), GR_OK);
    cr_assert(s[0] == 0 && s[1] == 0);
    cr_assert(fabs(a[0] * a[3] + a[1] * a[4] + a[2] * a[5]) <= 1e-15);
    cr_assert(fabs(a[0] * a[0] + a[1] * a[1] + a[2] * a[2] - 1) <= 1e-15);
    cr_assert(fabs(a[3] * a[3] + a[4] * a[4] + a[5] * a[5] - 1) <= 1e-15);
}

Test(svd, refuses_a_wide_matrix_and_values_that_are_not_finite)
{
    double a[6] = { 1, 2, 3, 4, 5, 6 }, s[3], v[9];
    gr_error err;
    cr_assert_eq(gr_svd_jacobi(2, 3, a, s, v, &err), GR_EINVAL);
    a[4] = NAN;
    cr_assert_eq(gr_svd_jacobi(3, 2, a, s, v, &err), GR_EINPUT);
    cr_assert(strstr(err.text, "not finite"));
}

/* ---- validation ---- */

static void expect_new(const gr_oadp_spec *sp, gr_status st, const char *field, const char *needle)
{
    gr_oadp *o = (gr_oadp *)1;
    gr_error err;
    cr_assert_eq(gr_oadp_new(sp, &o, &err), st, "want %s, got %s: %s", gr_strerror(st),
                 gr_strerror(err.status), err.text);
    cr_assert_null(o);
    cr_assert_eq(err.status, st);
    if (field)
        cr_assert_str_eq(err.field, field);
    if (needle)
        cr_assert(strstr(err.text, needle), "text: %s", err.text);
}

Test(oadp, new_refuses_bad_dimensions)
{
    fixture_spec f;
    spec_load(&f);
    gr_oadp_spec sp = f.spec;
    sp.dim_ref = 0;
    expect_new(&sp, GR_EMODEL, "dim_ref", "at least 1");
    sp = f.spec;
    sp.dim_stu = 9;
    expect_new(&sp, GR_EMODEL, "dim_stu", "less than dim_ref (10)");
    sp = f.spec;
    sp.dim_online = 19;
    expect_new(&sp, GR_EMODEL, "dim_online", "less than dim_stu (20)");
    sp = f.spec;
    sp.n = 39; /* the arrays are longer than it needs: fine */
    expect_new(&sp, GR_EMODEL, "dim_online", "min(n_variants, n_reference) = 39");
    sp = f.spec;
    sp.p = 39;
    expect_new(&sp, GR_EMODEL, "dim_online", "= 39");
    sp = f.spec;
    sp.p = (size_t)GR_OADP_MAX_VARIANTS + 1;
    expect_new(&sp, GR_ELIMIT, "n_variants", "over the limit");
    sp = f.spec;
    sp.n = (size_t)GR_OADP_MAX_REFERENCE + 1;
    expect_new(&sp, GR_ELIMIT, "n_reference", "over the limit");
    sp = f.spec;
    sp.dim_online = GR_OADP_MAX_DIM + 1;
    expect_new(&sp, GR_ELIMIT, "dim_online", "over the limit");
    expect_new(NULL, GR_EINVAL, NULL, "needs");
    sp = f.spec;
    sp.V = NULL;
    expect_new(&sp, GR_EINVAL, NULL, "needs");
    cr_assert_eq(gr_oadp_new(&f.spec, NULL, NULL), GR_EINVAL);
    spec_free(&f);
}

/* Sets arr[which][at] to x, expects the failure, and puts it back. */
static void poke(fixture_spec *f, size_t which, size_t at, double x, const char *field,
                 const char *needle)
{
    double keep = f->arr[which][at];
    f->arr[which][at] = x;
    expect_new(&f->spec, GR_EMODEL, field, needle);
    f->arr[which][at] = keep;
}

Test(oadp, new_refuses_bad_values)
{
    fixture_spec f;
    spec_load(&f);
    poke(&f, 0, 5, NAN, "mean[5]", "not a finite number");
    poke(&f, 1, 7, 0, "sd[7]", "greater than 0");
    poke(&f, 1, 8, -1, "sd[8]", "greater than 0");
    poke(&f, 2, 123, INFINITY, "U[123]", "not a finite number");
    poke(&f, 3, 39, 0, "s[39]", "greater than 0");
    poke(&f, 3, 3, f.arr[3][2] * 2, "s[3]", "must not increase");
    poke(&f, 4, 77, NAN, "V[77]", "not a finite number");
    poke(&f, 5, 11, -INFINITY, "ref_pcs[11]", "not a finite number");
    /* ref_pcs must be V[:, :dim_ref] * s: a PC of the other sign is caught */
    size_t dr = f.spec.dim_ref;
    for (size_t r = 0; r < f.spec.n; r++)
        f.arr[5][r * dr + 2] = -f.arr[5][r * dr + 2];
    expect_new(&f.spec, GR_EMODEL, NULL, "PC3 of reference sample");
    spec_free(&f);
}

static json_t *projection_with(const char *key, json_t *value)
{
    json_t *root = load("projection.json");
    if (value)
        json_object_set_new(root, key, value);
    else
        json_object_del(root, key);
    return root;
}

static void expect_json(json_t *root, gr_status st, const char *field, const char *needle)
{
    gr_oadp *o = (gr_oadp *)1;
    gr_error err;
    cr_assert_eq(gr_oadp_from_json(root, "ref/projection.json", &o, &err), st,
                 "want %s, got %s: %s: %s", gr_strerror(st), gr_strerror(err.status), err.field,
                 err.text);
    cr_assert_null(o);
    if (field)
        cr_assert_str_eq(err.field, field);
    if (needle)
        cr_assert(strstr(err.text, needle), "text: %s", err.text);
    cr_assert_str_eq(err.source, "ref/projection.json");
    json_decref(root);
}

Test(oadp, from_json_names_the_member_at_fault)
{
    expect_json(json_array(), GR_EMODEL, NULL, "not an object");
    expect_json(projection_with("method", NULL), GR_EMODEL, "method", "missing");
    expect_json(projection_with("method", json_string("adp")), GR_EUNSUPPORTED, "method",
                "only \"oadp\"");
    expect_json(projection_with("n_variants", NULL), GR_EMODEL, "n_variants", "missing");
    expect_json(projection_with("n_reference", json_real(200.0)), GR_EMODEL, "n_reference",
                "positive integer");
    expect_json(projection_with("dim_ref", json_integer(0)), GR_EMODEL, "dim_ref",
                "positive integer");
    expect_json(projection_with("dim_stu", json_integer(41)), GR_EMODEL, "dim_online",
                "less than dim_stu");
    expect_json(projection_with("dim_online", json_integer(1000000)), GR_ELIMIT, "dim_online",
                "over the limit");
    expect_json(projection_with("n_variants", json_integer(1LL << 40)), GR_ELIMIT, "n_variants",
                "over the limit");
    expect_json(projection_with("n_variants", json_integer(299)), GR_EMODEL, "mean",
                "has 300 entries, expected 299");
    expect_json(projection_with("sd", json_string("1")), GR_EMODEL, "sd",
                "missing or not an array");
    expect_json(projection_with("V", NULL), GR_EMODEL, "V", "missing");
    json_t *root = load("projection.json");
    json_array_set_new(json_object_get(root, "U"), 12, json_string("0.1"));
    expect_json(root, GR_EMODEL, "U[12]", "not a finite number");
    root = load("projection.json");
    json_array_set_new(json_object_get(root, "ref_pcs"), 0, json_null());
    expect_json(root, GR_EMODEL, "ref_pcs[0]", "not a finite number");
    root = load("projection.json");
    json_array_append_new(json_object_get(root, "s"), json_real(0.5));
    expect_json(root, GR_EMODEL, "s", "has 41 entries, expected 40");
    root = load("projection.json");
    json_array_set_new(json_object_get(root, "sd"), 4, json_real(0));
    expect_json(root, GR_EMODEL, "sd[4]", "greater than 0");
    cr_assert_eq(gr_oadp_from_json(NULL, NULL, NULL, NULL), GR_EINVAL);
}

Test(oadp, project_refuses_what_fraposa_cannot_project)
{
    gr_oadp *o = fixture_oadp();
    size_t p = gr_oadp_p(o);
    gr_oadp_ws *ws = gr_oadp_ws_new(o);
    double *d = malloc(p * sizeof *d), pcs[10] = { 0 }, none[10] = { 0 };
    gr_error err;
    for (size_t i = 0; i < p; i++)
        d[i] = NAN;
    cr_assert_eq(gr_oadp_project(o, ws, d, pcs, &err), GR_EINPUT);
    cr_assert(strstr(err.text, "all its projection variants missing"), "%s", err.text);
    for (size_t i = 0; i < p; i++)
        d[i] = (double)(i % 3);
    d[17] = INFINITY;
    cr_assert_eq(gr_oadp_project(o, ws, d, pcs, &err), GR_EINPUT);
    cr_assert(strstr(err.text, "variant 18 is not finite"), "%s", err.text);
    cr_assert_eq(memcmp(pcs, none, sizeof pcs), 0);
    cr_assert_eq(gr_oadp_project(o, NULL, d, pcs, &err), GR_EINVAL);
    cr_assert_eq(gr_oadp_project(o, ws, d, NULL, &err), GR_EINVAL);
    cr_assert_eq(gr_oadp_ws_iterations(ws), 0);

    fixture_spec f; /* a workspace of other dimensions */
    spec_load(&f);
    f.spec.dim_stu = 15;
    gr_oadp *other = NULL;
    cr_assert_eq(gr_oadp_new(&f.spec, &other, NULL), GR_OK);
    cr_assert_eq(gr_oadp_project(other, ws, d, pcs, &err), GR_EINVAL);
    cr_assert(strstr(err.text, "other dimensions"));
    gr_oadp_free(other);
    spec_free(&f);
    free(d);
    gr_oadp_ws_free(ws);
    gr_oadp_free(o);
}

Test(oadp, free_accepts_null)
{
    gr_oadp_free(NULL);
    gr_oadp_ws_free(NULL);
    cr_assert_null(gr_oadp_ws_new(NULL));
}
