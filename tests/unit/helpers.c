/* helpers.c - see helpers.h. */
#include "helpers.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"

gr_model *fixture_model(const char *name)
{
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fixtures/%s", name);
    gr_model *m = NULL;
    gr_error err;
    gr_status st = gr_model_load(dir, &m, &err);
    char buf[1200];
    cr_assert_eq(st, GR_OK, "loading %s: %s", dir, gr_error_format(&err, buf, sizeof buf));
    return m;
}

static double *numbers(json_t *arr, size_t n, const char *what)
{
    cr_assert(json_is_array(arr) && json_array_size(arr) == n, "%s: expected %zu values", what, n);
    double *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        v[i] = json_is_null(e) ? NAN : json_number_value(e);
    }
    return v;
}

void fixture_cases_load(const char *name, fixture_cases *fc)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/%s/cases.json", name);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    cr_assert(root, "%s: %s", path, je.text);
    json_t *X = json_object_get(root, "X");
    memset(fc, 0, sizeof *fc);
    fc->rows = json_array_size(X);
    fc->cols = json_array_size(json_array_get(X, 0));
    cr_assert(fc->rows > 0 && fc->cols > 0);
    fc->X = malloc(fc->rows * fc->cols * sizeof *fc->X);
    for (size_t i = 0; i < fc->rows; i++) {
        double *row = numbers(json_array_get(X, i), fc->cols, "X row");
        memcpy(fc->X + i * fc->cols, row, fc->cols * sizeof *row);
        free(row);
    }
    fc->margin = numbers(json_object_get(root, "margin"), fc->rows, "margin");
    fc->score = numbers(json_object_get(root, "score"), fc->rows, "score");
    json_t *c = json_object_get(root, "contribs");
    if (c) {
        fc->contribs = malloc(fc->rows * (fc->cols + 1) * sizeof *fc->contribs);
        for (size_t i = 0; i < fc->rows; i++) {
            double *row = numbers(json_array_get(c, i), fc->cols + 1, "contribs row");
            memcpy(fc->contribs + i * (fc->cols + 1), row, (fc->cols + 1) * sizeof *row);
            free(row);
        }
    }
    json_decref(root);
}

void fixture_cases_free(fixture_cases *fc)
{
    free(fc->X);
    free(fc->margin);
    free(fc->score);
    free(fc->contribs);
    memset(fc, 0, sizeof *fc);
}

char *temp_bundle(const char *first_name, ...)
{
    char tmpl[] = "/tmp/genorisk-test-XXXXXX";
    char *dir = mkdtemp(tmpl);
    cr_assert(dir, "mkdtemp");
    dir = strdup(dir);
    va_list ap;
    va_start(ap, first_name);
    for (const char *name = first_name; name; name = va_arg(ap, const char *)) {
        const char *content = va_arg(ap, const char *);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "w");
        cr_assert(f, "cannot create %s", path);
        fputs(content, f);
        fclose(f);
    }
    va_end(ap);
    return dir;
}

void temp_bundle_free(char *dir)
{
    if (!dir)
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    free(dir);
}

char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

char *replace_once(const char *s, const char *from, const char *to)
{
    const char *p = strstr(s, from);
    cr_assert(p, "replace_once: '%s' not found", from);
    size_t a = (size_t)(p - s), b = strlen(from), c = strlen(to), n = strlen(s);
    char *r = malloc(n - b + c + 1);
    memcpy(r, s, a);
    memcpy(r + a, to, c);
    memcpy(r + a + c, p + b, n - a - b + 1);
    return r;
}

void expect_load_error(const char *dir, gr_status st, const char *needle, const char *field_needle)
{
    gr_model *m = NULL;
    gr_error err;
    gr_status got = gr_model_load(dir, &m, &err);
    char buf[1200];
    gr_error_format(&err, buf, sizeof buf);
    cr_assert_null(m);
    cr_assert_eq(got, st, "expected %s, got %s: %s", gr_strerror(st), gr_strerror(got), buf);
    cr_assert_eq(err.status, st);
    cr_assert(strstr(err.text, needle), "error '%s' lacks '%s'", buf, needle);
    if (field_needle)
        cr_assert(strstr(err.field, field_needle), "error field '%s' lacks '%s'", err.field,
                  field_needle);
}

/* E[tree output | the features in mask take x's values], covers as weights. */
static double cond_exp(const gr_forest *f, uint32_t n, const double *xf, unsigned mask)
{
    const gr_tnode *nd = &f->nodes[n];
    if (nd->feat < 0)
        return nd->thr;
    uint32_t l = nd->kids >> 1, r = l + 1;
    if (mask >> nd->feat & 1) {
        double v = xf[nd->feat];
        int left = isnan(v) ? (int)(nd->kids & 1) : v < nd->thr;
        return cond_exp(f, left ? l : r, xf, mask);
    }
    double c = f->cover[n];
    double wl = c > 0 ? f->cover[l] / c : 0.5, wr = c > 0 ? f->cover[r] / c : 0.5;
    return wl * cond_exp(f, l, xf, mask) + wr * cond_exp(f, r, xf, mask);
}

static double value_of(const gr_model *m, const double *xf, unsigned mask)
{
    const gr_forest *f = m->forest;
    double s = 0;
    for (size_t t = 0; t < f->n_trees; t++) {
        double v = cond_exp(f, f->roots[t], xf, mask);
        s += f->combine == GR_COMBINE_SUM ? f->tree_scale * v : v / (double)f->n_trees;
    }
    return m->info.base_margin + s;
}

double brute_force_tree_shap(const gr_model *m, const double *x, double *phi)
{
    size_t n = m->n_features;
    cr_assert(m->forest && n <= 16, "brute force needs a forest of at most 16 features");
    double xf[16], fact[17];
    for (size_t i = 0; i < n; i++) {
        double v = isnan(x[i]) ? m->features[i].mean : x[i];
        xf[i] = isnan(v) ? v : (double)(float)v;
    }
    fact[0] = 1;
    for (int i = 1; i <= 16; i++)
        fact[i] = fact[i - 1] * i;
    unsigned full = (1u << n) - 1;
    double *v = malloc(((size_t)full + 1) * sizeof *v);
    for (unsigned s = 0; s <= full; s++)
        v[s] = value_of(m, xf, s);
    for (size_t i = 0; i < n; i++) {
        phi[i] = 0;
        for (unsigned s = 0; s <= full; s++) {
            if (s >> i & 1)
                continue;
            int k = __builtin_popcount(s);
            phi[i] += fact[k] * fact[n - k - 1] / fact[n] * (v[s | 1u << i] - v[s]);
        }
    }
    double base = v[0];
    free(v);
    return base;
}

static char *slurp_fd(int fd)
{
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    ssize_t r;
    while ((r = read(fd, s + n, cap - n - 1)) > 0) {
        n += (size_t)r;
        if (cap - n < 2)
            s = realloc(s, cap *= 2);
    }
    s[n] = '\0';
    return s;
}

int run_cli(char **out, char **err, const char *in_path, const char *first_arg, ...)
{
    const char *args[32];
    int argc = 0;
    va_list ap;
    va_start(ap, first_arg);
    for (const char *a = first_arg; a && argc < 31; a = va_arg(ap, const char *))
        args[argc++] = a;
    va_end(ap);
    args[argc] = NULL;
    return run_cli_argv(out, err, in_path, args);
}

int run_cli_argv(char **out, char **err, const char *in_path, const char *const *args)
{
    const char *cli = getenv("GENORISK_CLI") ? getenv("GENORISK_CLI") : "build/genorisk";
    const char *argv[32] = { cli };
    int argc = 1;
    for (; args[argc - 1] && argc < 31; argc++)
        argv[argc] = args[argc - 1];
    argv[argc] = NULL;
    char outp[] = "/tmp/genorisk-cli-out-XXXXXX", errp[] = "/tmp/genorisk-cli-err-XXXXXX";
    int ofd = mkstemp(outp), efd = mkstemp(errp);
    cr_assert(ofd >= 0 && efd >= 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        FILE *in = freopen(in_path ? in_path : "/dev/null", "r", stdin);
        if (!in)
            _exit(127);
        dup2(ofd, 1);
        dup2(efd, 2);
        execv(cli, (char *const *)argv);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    lseek(ofd, 0, SEEK_SET);
    lseek(efd, 0, SEEK_SET);
    *out = slurp_fd(ofd);
    *err = slurp_fd(efd);
    close(ofd);
    close(efd);
    unlink(outp);
    unlink(errp);
    cr_assert(WIFEXITED(status), "%s did not exit normally", cli);
    cr_assert_neq(WEXITSTATUS(status), 127, "could not run %s", cli);
    return WEXITSTATUS(status);
}

double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int grows_linearly(double t_small, double t_big)
{
    return t_big <= 5.5 * t_small + 0.02;
}

double json_num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    cr_assert(json_is_number(v), "%s is not a number", key);
    return json_number_value(v);
}

double json_num_at(const json_t *o, const char *key, size_t i)
{
    const json_t *v = json_array_get(json_object_get(o, key), i);
    cr_assert(json_is_number(v), "%s[%zu] is not a number", key, i);
    return json_number_value(v);
}
