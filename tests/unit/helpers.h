/* helpers.h - shared test utilities: fixture loading, temporary bundles,
 * running the CLI, and brute-force Shapley values for cross-checks. */
#ifndef GR_TEST_HELPERS_H
#define GR_TEST_HELPERS_H

#include <jansson.h>
#include <stddef.h>

#include "core/model.h"

/* tests/fixtures/<name>/cases.json: expected outputs of the trained model. */
typedef struct {
    size_t rows, cols;
    double *X;        /* rows x cols, NaN for null */
    double *margin;   /* rows */
    double *score;    /* rows */
    double *contribs; /* rows x (cols + 1), bias last; NULL when absent */
} fixture_cases;

/* Loads the fixture bundle and its cases; fails the test on error. */
gr_model *fixture_model(const char *name);
void fixture_cases_load(const char *name, fixture_cases *fc);
void fixture_cases_free(fixture_cases *fc);

/* Creates a temporary bundle directory holding the given files (name/content
 * pairs, NULL-terminated). Returns a new path; remove with temp_bundle_free. */
char *temp_bundle(const char *first_name, ...);
void temp_bundle_free(char *dir);
/* Reads a whole fixture file into a new string. */
char *read_text(const char *path);
/* Returns a new string: s with the first occurrence of from replaced by to. */
char *replace_once(const char *s, const char *from, const char *to);

/* Loads dir, expecting failure with status st and text containing needle
 * (and field containing field_needle when non-NULL). */
void expect_load_error(const char *dir, gr_status st, const char *needle, const char *field_needle);

/* Exact Shapley values of the model's explained output by enumerating every
 * coalition, with cover-weighted conditional expectations (path-dependent
 * TreeSHAP's definition). n_features must be <= 16. phi gets n values;
 * returns the base value (the empty coalition). */
double brute_force_tree_shap(const gr_model *m, const double *x, double *phi);

/* Runs the CLI with args (NULL-terminated), stdin from in_path (or /dev/null);
 * captures stdout and stderr into new strings. Returns the exit code. */
int run_cli(char **out, char **err, const char *in_path, const char *first_arg, ...);
/* run_cli with the arguments in args (NULL-terminated, at most 30). */
int run_cli_argv(char **out, char **err, const char *in_path, const char *const *args);

/* CPU seconds this process has used so far: the time ratios of the
 * linear-cost tests, steadier than the wall clock on a shared machine. */
/* o[key], and o[key][i], which must be JSON numbers (else the test fails
 * naming the key). */
double json_num(const json_t *o, const char *key);
double json_num_at(const json_t *o, const char *key, size_t i);

double cpu_seconds(void);

/* Whether work that took t_small CPU seconds on an input and t_big on one
 * 3x its size grows linearly: at most 5.5x (and a timer tick), halfway in
 * ratio between linear (3x) and quadratic (9x), so other jobs on the
 * machine slowing one run cannot fail it and a quadratic cost still does.
 * Callers time each size as the best of GR_TIMING_RUNS runs. */
int grows_linearly(double t_small, double t_big);
#define GR_TIMING_RUNS 3

#endif
