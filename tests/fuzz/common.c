/* common.c - see common.h. */
#include <errno.h>
#include <fcntl.h>
#include <htslib/hts.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/predict_run.h"
#include "core/internal.h"
#include "tests/fuzz/common.h"

#ifndef GR_FUZZ_ROOT
#define GR_FUZZ_ROOT "."
#endif

#define MAX_CLEANUP 64

static char *cleanup_paths[MAX_CLEANUP]; /* files first, then their directories */
static size_t n_cleanup;

_Noreturn void gr_fuzz_fail(const char *why)
{
    fprintf(stderr, "fuzz harness: %s\n", why);
    abort();
}

void gr_fuzz_quiet(void)
{
    hts_set_log_level(HTS_LOG_OFF);
}

const char *gr_fuzz_path(const char *rel)
{
    static char buf[8][1024];
    static unsigned next;
    char *p = buf[next++ % 8];
    if ((size_t)snprintf(p, sizeof buf[0], "%s/%s", GR_FUZZ_ROOT, rel) >= sizeof buf[0])
        gr_fuzz_fail("repository path too long");
    return p;
}

gr_model *gr_fuzz_model(const char *rel)
{
    gr_model *m = NULL;
    gr_error err;
    if (gr_model_load(gr_fuzz_path(rel), &m, &err)) {
        char why[800];
        gr_error_format(&err, why, sizeof why);
        gr_fuzz_fail(why);
    }
    return m;
}

int gr_fuzz_memfd(const char *name)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        gr_fuzz_fail("memfd_create failed");
    return fd;
}

void gr_fuzz_memfd_set(int fd, const void *data, size_t size)
{
    const char *p = data;
    off_t at = 0;
    if (ftruncate(fd, 0) < 0)
        gr_fuzz_fail("ftruncate failed");
    while (size) {
        ssize_t w = pwrite(fd, p, size, at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            gr_fuzz_fail("pwrite failed");
        p += w;
        at += w;
        size -= (size_t)w;
    }
}

static void remove_all(void)
{
    while (n_cleanup) {
        char *p = cleanup_paths[--n_cleanup];
        if (unlink(p) < 0)
            rmdir(p);
        free(p);
    }
}

static void remember(const char *path)
{
    if (n_cleanup == MAX_CLEANUP || !(cleanup_paths[n_cleanup] = strdup(path)))
        gr_fuzz_fail("too many temporary files");
    n_cleanup++;
}

const char *gr_fuzz_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[1024];
    snprintf(tmpl, sizeof tmpl, "%s/genorisk-fuzz-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl))
        gr_fuzz_fail("cannot make a temporary directory");
    static int registered;
    if (!registered++)
        atexit(remove_all);
    remember(tmpl);
    return cleanup_paths[n_cleanup - 1];
}

static const char *in_dir(const char *dir, const char *name)
{
    static char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

const char *gr_fuzz_subdir(const char *dir, const char *name)
{
    const char *path = in_dir(dir, name);
    if (mkdir(path, 0700) < 0)
        gr_fuzz_fail("cannot make a temporary directory");
    remember(path);
    return cleanup_paths[n_cleanup - 1];
}

void gr_fuzz_put(const char *dir, const char *name, const void *data, size_t size)
{
    const char *path = in_dir(dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f))
        gr_fuzz_fail("cannot write a temporary file");
    remember(path);
}

void gr_fuzz_put_copy(const char *dir, const char *name, const char *rel)
{
    FILE *f = fopen(gr_fuzz_path(rel), "rb");
    if (!f)
        gr_fuzz_fail("cannot open a repository file");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    do {
        if (len == cap && !(buf = realloc(buf, cap = cap ? 2 * cap : 65536)))
            gr_fuzz_fail("out of memory");
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n);
    fclose(f);
    gr_fuzz_put(dir, name, buf, len);
    free(buf);
}

void gr_fuzz_put_link(const char *dir, const char *name, int fd)
{
    char target[64];
    snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
    const char *path = in_dir(dir, name);
    if (symlink(target, path) < 0)
        gr_fuzz_fail("cannot make a link");
    remember(path);
}

/* The size of the numbers a prediction of m adds up, for a tolerance. */
static double model_scale(const gr_model *m)
{
    double s = fabs(m->info.base_margin);
    if (m->forest) {
        for (size_t i = 0; i < m->forest->n_leaves; i++)
            s += fabs(m->forest->leaves[i].value) + fabs(m->forest->leaves[i].value_right);
        s += fabs(m->forest->expected);
    } else {
        s += fabs(m->linear->intercept);
        for (size_t i = 0; i < 3 * m->linear->n; i++)
            s += fabs(m->linear->c[i]);
        for (size_t i = 0; i < m->linear->n; i++)
            s += fabs(m->linear->expected[i]);
    }
    return s;
}

void gr_fuzz_exercise_model(const gr_model *m)
{
    const gr_model_info *in = gr_model_get_info(m);
    size_t n = in->n_features;
    gr_workspace *ws = gr_workspace_new(m);
    double *x = malloc((n ? n : 1) * sizeof *x), *phi = malloc((n ? n : 1) * sizeof *phi),
           *used = malloc((n ? n : 1) * sizeof *used);
    if (!ws || !x || !phi || !used)
        gr_fuzz_fail("out of memory");
    double scale = model_scale(m);
    for (int v = 0; v < 4; v++) {
        for (size_t j = 0; j < n; j++)
            x[j] = v == 0 ? NAN : v == 1 ? 0 : v == 2 ? 2 : (double)((j * 7 + 3) % 6) * 0.4;
        gr_prediction p;
        gr_error err;
        if (gr_predict(m, ws, x, &p, phi, used, &err))
            gr_fuzz_fail("gr_predict refused valid dosages");
        if (p.n_observed + p.n_imputed + p.n_missing != n)
            gr_fuzz_fail("prediction counts do not add up to the features");
        double out = in->space == GR_SPACE_PROBABILITY ? p.score : p.margin;
        double sum = p.base_value, mag = fabs(p.base_value) + fabs(out) + scale;
        for (size_t j = 0; j < n; j++) {
            sum += phi[j];
            mag += fabs(phi[j]);
        }
        if (!isfinite(out) || !isfinite(p.base_value))
            gr_fuzz_fail("a model that loaded gives a score that is not finite");
        if (isfinite(mag) && isfinite(sum) && fabs(sum - out) > 1e-7 * (mag + 1))
            gr_fuzz_fail("SHAP values do not add up to the explained output");
    }
    for (size_t j = 0; j < n; j++) {
        const gr_feature *f = gr_model_feature(m, j);
        if (gr_model_find_feature(m, f->id) != (long)j)
            gr_fuzz_fail("a feature id does not name its own feature");
        if (f->rsid[0])
            (void)gr_model_find_feature(m, f->rsid);
        if (f->chrom[0] && f->pos > 0) {
            char key[400];
            snprintf(key, sizeof key, "chr%.60s:%lld:%.150s:%.150s", f->chrom, (long long)f->pos,
                     f->ref, f->alt);
            (void)gr_model_find_feature(m, key);
        }
    }
    (void)gr_model_find_feature(m, "chrX:1:a:g");
    /* the response the API answers with for the last dosages, every
     * feature explained, whatever their coverage */
    gr_api_request one = { .n_samples = 1,
                           .n_features = n,
                           .ids = json_array(),
                           .x = x,
                           .explain = 1,
                           .top_k = 0,
                           .warnings = json_array() };
    gr_api_settings given = gr_api_settings_unset();
    given.allow_low_coverage = 1;
    gr_api_job job;
    gr_api_job_init(&job, m, &one, NULL, &given);
    json_t *result = NULL;
    gr_error err;
    if (!one.ids || !one.warnings || json_array_append_new(one.ids, json_null()))
        gr_fuzz_fail("out of memory");
    if (gr_api_predict_all(&job, &result, &err)) {
        char why[700];
        snprintf(why, sizeof why,
                 "the API cannot answer with a prediction of a model that "
                 "loaded: %s",
                 err.text);
        gr_fuzz_fail(why);
    }
    json_decref(one.ids);
    json_decref(one.warnings);
    char *answer = gr_api_json_dumps(result, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!answer)
        gr_fuzz_fail("a prediction result that does not serialise");
    free(answer);
    json_decref(result);
    json_t *desc = gr_api_model_json(m, 1);
    char *text = desc ? json_dumps(desc, JSON_COMPACT) : NULL;
    if (!text)
        gr_fuzz_fail("gr_api_model_json gave no document");
    free(text);
    json_decref(desc);
    gr_workspace_free(ws);
    free(x);
    free(phi);
    free(used);
}

const char *gr_fuzz_bundle(const char *format, const char *task, const char *build,
                           const char *artifact, int artifact_fd, const char *features_rel,
                           int features_fd)
{
    const char *dir = gr_fuzz_tmpdir();
    int features = features_fd >= 0 || features_rel;
    char manifest[600];
    int n =
        snprintf(manifest, sizeof manifest,
                 "{\"name\": \"fuzz\", \"version\": \"1\", \"task\": \"%s\", "
                 "\"format\": \"%s\", \"artifact\": \"%s\",%s \"genome_build\": \"%s\"}\n",
                 task, format, artifact, features ? " \"features\": \"features.tsv\"," : "", build);
    gr_fuzz_put(dir, "manifest.json", manifest, (size_t)n);
    gr_fuzz_put_link(dir, artifact, artifact_fd);
    if (features_fd >= 0)
        gr_fuzz_put_link(dir, "features.tsv", features_fd);
    else if (features_rel)
        gr_fuzz_put_copy(dir, "features.tsv", features_rel);
    return dir;
}

/* m and t (the same bundle loaded on several threads) answer alike, to the
 * bit, for the dosages gr_fuzz_exercise_model tries. */
static void same_model(const gr_model *m, const gr_model *t)
{
    size_t n = gr_model_get_info(m)->n_features;
    if (gr_model_get_info(t)->n_features != n ||
        strcmp(gr_model_get_info(m)->sha256, gr_model_get_info(t)->sha256))
        gr_fuzz_fail("a model loaded on threads differs from the one loaded on one");
    gr_workspace *wm = gr_workspace_new(m), *wt = gr_workspace_new(t);
    double *x = malloc((n ? n : 1) * sizeof *x), *pm = malloc((n ? n : 1) * sizeof *pm),
           *pt = malloc((n ? n : 1) * sizeof *pt);
    if (!wm || !wt || !x || !pm || !pt)
        gr_fuzz_fail("out of memory");
    for (int v = 0; v < 3; v++) {
        for (size_t j = 0; j < n; j++)
            x[j] = v == 0 ? NAN : (double)((j * 7 + 3 + (size_t)v) % 6) * 0.4;
        gr_prediction a, b;
        if (gr_predict(m, wm, x, &a, pm, NULL, NULL) || gr_predict(t, wt, x, &b, pt, NULL, NULL))
            gr_fuzz_fail("gr_predict refused valid dosages");
        if (memcmp(&a.margin, &b.margin, sizeof a.margin) || (n && memcmp(pm, pt, n * sizeof *pm)))
            gr_fuzz_fail("a model loaded on threads predicts unlike the one loaded on one");
    }
    free(x);
    free(pm);
    free(pt);
    gr_workspace_free(wm);
    gr_workspace_free(wt);
}

void gr_fuzz_try_load(const char *dir)
{
    gr_model *m = NULL, *t = NULL;
    gr_error err, terr;
    gr_status st = gr_model_load(dir, &m, &err);
    /* on threads: the same outcome, the same words */
    gr_status tst = gr_model_load_threads(dir, 3, &t, &terr);
    if (st == GR_ENOMEM || tst == GR_ENOMEM) /* a small input: memory never runs out */
        gr_fuzz_fail("out of memory reported for something else");
    if (tst != st || (st && strcmp(err.text, terr.text)))
        gr_fuzz_fail("a load on threads ends unlike the load on one");
    if (st != GR_OK) {
        if (m || t || !err.text[0])
            gr_fuzz_fail("a failed load must leave no model and say why");
        return;
    }
    same_model(m, t);
    gr_model_free(t);
    gr_fuzz_exercise_model(m);
    gr_model_free(m);
}

int gr_fuzz_model_json(const char *format, const char *features_rel, const uint8_t *data,
                       size_t size)
{
    static const char *const tasks[2] = { "classification", "regression" };
    static const char *bundles[2];
    static int artifact = -1;
    if (artifact < 0) {
        gr_fuzz_quiet();
        artifact = gr_fuzz_memfd("model.json");
        for (int i = 0; i < 2; i++)
            bundles[i] = gr_fuzz_bundle(format, tasks[i], "GRCh38", "model.json", artifact,
                                        features_rel, -1);
    }
    gr_fuzz_memfd_set(artifact, data, size);
    for (int i = 0; i < 2; i++)
        gr_fuzz_try_load(bundles[i]);
    return 0;
}
