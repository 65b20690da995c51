/* test_modelset.c - loading a models directory as one reference-counted set. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/modelset.h"
#include "helpers.h"

static char *dir_with(const char *const *bundles, size_t n)
{
    char tmpl[] = "/tmp/genorisk-set-XXXXXX";
    char *d = strdup(mkdtemp(tmpl));
    for (size_t i = 0; i < n; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "cp -r '%s' '%s/b%zu'", bundles[i], d, i);
        cr_assert_eq(system(cmd), 0);
    }
    /* cad-pgs-demo reads its scores against the demo reference beside it */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp -r models/demo-reference '%s/'", d);
    cr_assert_eq(system(cmd), 0);
    return d;
}

Test(modelset, loads_sorted_and_finds)
{
    const char *b[] = { "models/cad-xgb-demo", "tests/fixtures/lin_ols", "models/cad-pgs-demo" };
    char *d = dir_with(b, 3);
    char path[512];
    snprintf(path, sizeof path, "%s/not-a-bundle", d);
    cr_assert_eq(mkdir(path, 0755), 0); /* ignored: no manifest.json */
    gr_modelset *s = NULL;
    gr_error err;
    cr_assert_eq(gr_modelset_load(d, &s, &err), GR_OK, "%s", err.text);
    cr_assert_eq(gr_modelset_count(s), 3);
    cr_assert_str_eq(gr_model_get_info(gr_modelset_at(s, 0))->name, "cad-pgs-demo");
    cr_assert_str_eq(gr_model_get_info(gr_modelset_at(s, 2))->name, "lin_ols");
    cr_assert_not_null(gr_modelset_find(s, "cad-xgb-demo"));
    cr_assert_null(gr_modelset_find(s, "nope"));
    cr_assert_null(gr_modelset_at(s, 3));
    gr_modelset *again = gr_modelset_retain(s);
    gr_modelset_release(s);
    cr_assert_eq(gr_modelset_count(again), 3); /* still alive */
    gr_modelset_release(again);
    gr_modelset_release(NULL);
    temp_bundle_free(d);
}

Test(modelset, duplicate_names_fail)
{
    const char *b[] = { "models/cad-xgb-demo", "models/cad-xgb-demo" };
    char *d = dir_with(b, 2);
    gr_modelset *s = NULL;
    gr_error err;
    cr_assert_eq(gr_modelset_load(d, &s, &err), GR_EMODEL);
    cr_assert_null(s);
    cr_assert(strstr(err.text, "also used by"), "%s", err.text);
    temp_bundle_free(d);
}

Test(modelset, a_bad_bundle_fails_naming_it)
{
    const char *b[] = { "models/cad-xgb-demo", "models/cad-rf-demo" };
    char *d = dir_with(b, 2);
    char path[512];
    snprintf(path, sizeof path, "%s/b1/model.json", d);
    FILE *f = fopen(path, "w");
    fputs("{broken", f);
    fclose(f);
    gr_modelset *s = NULL;
    gr_error err;
    cr_assert_eq(gr_modelset_load(d, &s, &err), GR_EMODEL);
    cr_assert(strstr(err.source, "/b1/model.json"), "%s", err.source);
    temp_bundle_free(d);
}

Test(modelset, empty_or_missing_directory)
{
    char *d = dir_with(NULL, 0);
    gr_modelset *s = NULL;
    gr_error err;
    cr_assert_eq(gr_modelset_load(d, &s, &err), GR_EMODEL);
    cr_assert(strstr(err.text, "no model bundle"));
    temp_bundle_free(d);
    cr_assert_eq(gr_modelset_load("/nonexistent/dir", &s, &err), GR_EIO);
}

static void collect(void *arg, const gr_error *err)
{
    char *seen = arg;
    strncat(seen, err->source, 2000 - strlen(seen) - 2);
    strcat(seen, ";");
}

/* Every broken bundle is reported, not only the first, so all can be
 * fixed in one go; the error names the first and counts the others. */
Test(modelset, every_bad_bundle_is_reported)
{
    const char *b[] = { "models/cad-xgb-demo", "models/cad-rf-demo", "models/cad-logit-demo" };
    char *d = dir_with(b, 3);
    for (int i = 0; i < 3; i += 2) {
        char path[512];
        snprintf(path, sizeof path, "%s/b%d/model.json", d, i);
        FILE *f = fopen(path, "w");
        fputs("{broken", f);
        fclose(f);
    }
    char seen[2000] = "";
    gr_modelset *s = NULL;
    gr_error err;
    cr_assert_eq(gr_modelset_load_each(d, collect, seen, &s, &err), GR_EMODEL);
    cr_assert_null(s);
    cr_assert(strstr(seen, "/b0/model.json;") && strstr(seen, "/b2/model.json;"), "%s", seen);
    cr_assert_null(strstr(seen, "/b1/"), "%s", seen);
    cr_assert(strstr(err.source, "/b0/model.json"), "%s", err.source);
    cr_assert(strstr(err.text, "(and 1 more of the 3 bundles do not load)"), "%s", err.text);
    temp_bundle_free(d);
}

/* A copy of bundle src in a new directory whose file name is replaced by
 * what make does to its path (a link to /dev/zero, a FIFO, a sparse file). */
static char *bundle_with(const char *src, const char *name, void (*make)(const char *path))
{
    char *d = dir_with(&src, 1);
    char path[600];
    snprintf(path, sizeof path, "%s/b0/%s", d, name);
    cr_assert_eq(unlink(path), 0, "%s", path);
    make(path);
    return d;
}

static void link_dev_zero(const char *path)
{
    cr_assert_eq(symlink("/dev/zero", path), 0);
}

static void make_fifo(const char *path)
{
    cr_assert_eq(mkfifo(path, 0600), 0);
}

/* gr_model_load of d's bundle is refused with status st, err naming the
 * file and saying needle; so is the set, unless name is the manifest (a set
 * passes over a directory whose manifest.json is not a regular file). */
static void expect_refused(const char *d, const char *name, gr_status st, const char *needle)
{
    char bundle[600];
    snprintf(bundle, sizeof bundle, "%s/b0", d);
    gr_model *m = NULL;
    gr_error err;
    char buf[1200];
    cr_assert_eq(gr_model_load(bundle, &m, &err), st, "%s: %s", name,
                 gr_error_format(&err, buf, sizeof buf));
    cr_assert_null(m);
    cr_assert(strstr(err.text, needle), "%s: '%s' lacks '%s'", name, err.text, needle);
    size_t n = strlen(err.source), k = strlen(name);
    cr_assert(n >= k && !strcmp(err.source + n - k, name), "the error names %s, not %s", err.source,
              name);
    if (!strcmp(name, "manifest.json"))
        return;
    gr_modelset *s = NULL;
    cr_assert_eq(gr_modelset_load(d, &s, &err), st, "%s: %s", name, err.text);
    cr_assert_null(s);
    cr_assert(strstr(err.text, needle), "%s: '%s' lacks '%s'", name, err.text, needle);
}

/* Every model file a bundle holds, of each kind of reader. */
static const struct {
    const char *src, *name;
} model_files[] = {
    { "models/cad-pgs-demo", "cad_pgs_demo.txt" }, /* line-based artifact */
    { "models/cad-xgb-demo", "model.json" },       /* JSON artifact */
    { "models/cad-xgb-demo", "features.tsv" },     /* line-based */
    { "tests/fixtures/lin_ols", "manifest.json" }, /* the manifest itself */
};
#define N_MODEL_FILES (sizeof model_files / sizeof *model_files)

/* Before: a PGS artifact linked to /dev/zero grew the heap to 3.9 GB in
 * 10 s (issue 10, item 13), and a FIFO would block a reload for good. The
 * timeout stands for "quickly": the refusal reads nothing. */
Test(modelset, devices_and_fifos_are_refused_before_a_byte_is_read, .timeout = 30)
{
    void (*makers[])(const char *) = { link_dev_zero, make_fifo };
    for (size_t i = 0; i < N_MODEL_FILES; i++)
        for (size_t k = 0; k < 2; k++) {
            char *d = bundle_with(model_files[i].src, model_files[i].name, makers[k]);
            expect_refused(d, model_files[i].name, GR_EIO, "not a regular file");
            temp_bundle_free(d);
        }
}

static void sparse_past_2_gib(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, (off_t)((2LL << 30) + 1)), 0); /* a hole: no disk used */
    close(fd);
}

static void sparse_past_1_gib(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, (off_t)((1LL << 30) + 1)), 0);
    close(fd);
}

static void manifest_past_1_mib(const char *path)
{
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("{\"name\":\"lin_ols\",\"version\":\"1\",\"task\":\"regression\",\"format\":"
          "\"genorisk-linear\",\"artifact\":\"model.json\",\"features\":\"features.tsv\","
          "\"genome_build\":\"GRCh38\"}",
          f);
    for (int i = 0; i < (1 << 20); i++) /* valid JSON, every byte of it */
        fputc(' ', f);
    fclose(f);
}

/* A file larger than its kind may be is refused by its size, unread. */
Test(modelset, files_past_their_ceiling_are_refused_by_size, .timeout = 30)
{
    void (*makers[])(const char *) = { sparse_past_2_gib, sparse_past_1_gib, sparse_past_2_gib,
                                       manifest_past_1_mib };
    const char *limits[] = { "over the 2 GiB", "over the 1 GiB", "over the 2 GiB",
                             "over the 1 MiB" };
    for (size_t i = 0; i < N_MODEL_FILES; i++) {
        char *d = bundle_with(model_files[i].src, model_files[i].name, makers[i]);
        expect_refused(d, model_files[i].name, GR_ELIMIT, limits[i]);
        temp_bundle_free(d);
    }
}
