/* test_modelset.c - loading a models directory as one reference-counted set. */
#include <criterion/criterion.h>
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
