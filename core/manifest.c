/* manifest.c - reads and validates a bundle's manifest.json
 * (schema: docs/manifest.schema.json). Unknown keys are errors, so a typo
 * never silently falls back to a default. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "match.h"
#include "json_arrays.h"

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 (i > 0 && (c == '.' || c == '_' || c == '-'));
        if (!ok)
            return 0;
    }
    return 1;
}

int gr_valid_file_name(const char *s)
{
    return s[0] && strlen(s) < 256 && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

static const char *const known_keys[] = { "$schema",      "name",      "version",
                                          "description",  "task",      "format",
                                          "artifact",     "features",  "genome_build",
                                          "min_coverage", "impute",    "weight_transform",
                                          "policy",       "ambiguous", "multiallelic",
                                          "chrx",         "reference", "reference_score",
                                          "synthetic",    "risk",      NULL };

/* The matching policy: the format's default set (pgsc for PGS Catalog
 * files, trained for the rest), then "policy", then each rule's key. */
static gr_status read_policy(json_t *root, const char *path, gr_manifest *out, gr_error *err)
{
    static const char *const keys[] = { "policy", "ambiguous", "multiallelic", "chrx" };
    out->policy =
        gr_policy_named(out->format == GR_FORMAT_PGS_CATALOG ? GR_POLICY_PGSC : GR_POLICY_TRAINED);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        json_t *v = json_object_get(root, keys[i]);
        char why[200];
        if (v && (!json_is_string(v) ||
                  gr_policy_set(&out->policy, keys[i], json_string_value(v), why, sizeof why) != 1))
            return gr_error_set(err, GR_EMODEL, path, 0, keys[i], "%s",
                                json_is_string(v) ? why : "must be a string");
    }
    return GR_OK;
}

void gr_manifest_clear(gr_manifest *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->version);
    free(m->description);
    free(m->genome_build);
    free(m->artifact);
    free(m->features);
    free(m->reference);
    free(m->reference_score);
    json_decref(m->risk);
    memset(m, 0, sizeof *m);
}

/* Copies the string member key of obj into *dst; required ones must exist. */
static gr_status get_string(json_t *obj, const char *key, int required, size_t max, char **dst,
                            const char *path, gr_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return gr_error_set(err, GR_EMODEL, path, 0, key, "required key is missing");
        *dst = gr_strdup("");
        return *dst ? GR_OK : gr_error_set(err, GR_ENOMEM, path, 0, key, "out of memory");
    }
    if (!json_is_string(v))
        return gr_error_set(err, GR_EMODEL, path, 0, key, "must be a string");
    if (json_string_length(v) > max)
        return gr_error_set(err, GR_EMODEL, path, 0, key, "longer than %zu characters", max);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return gr_error_set(err, GR_EMODEL, path, 0, key, "contains a NUL character");
    *dst = gr_strdup(json_string_value(v));
    return *dst ? GR_OK : gr_error_set(err, GR_ENOMEM, path, 0, key, "out of memory");
}

/* What a score means beside its number: the reference population it is
 * read against (a bundle beside this one), the score's id there, whether
 * the bundle is made-up data, and the risk block (checked by the model
 * loader, core/risk.c). */
static gr_status read_context(json_t *root, const char *path, gr_manifest *out, gr_error *err)
{
    gr_status st;
    json_t *syn = json_object_get(root, "synthetic"), *risk = json_object_get(root, "risk");
    if ((st = get_string(root, "reference", 0, 64, &out->reference, path, err)) ||
        (st = get_string(root, "reference_score", 0, 128, &out->reference_score, path, err)))
        return st;
    if (*out->reference && !valid_name(out->reference))
        return gr_error_set(err, GR_EMODEL, path, 0, "reference",
                            "must name a reference bundle beside this one: "
                            "[a-z0-9][a-z0-9._-]{0,63}");
    if (*out->reference_score && !*out->reference)
        return gr_error_set(err, GR_EMODEL, path, 0, "reference_score",
                            "needs a \"reference\" to look the score up in");
    if (syn && !json_is_boolean(syn))
        return gr_error_set(err, GR_EMODEL, path, 0, "synthetic", "must be true or false");
    out->synthetic = json_is_true(syn);
    if (risk && !json_is_object(risk))
        return gr_error_set(err, GR_EMODEL, path, 0, "risk", "must be an object");
    if (risk && !*out->reference)
        return gr_error_set(err, GR_EMODEL, path, 0, "risk",
                            "risk categories read percentiles of a reference population: "
                            "add \"reference\"");
    out->risk = json_incref(risk);
    return GR_OK;
}

gr_status gr_manifest_load(const char *path, gr_manifest *out, gr_error *err)
{
    gr_status st = GR_OK;
    memset(out, 0, sizeof *out);
    json_t *root = gr_json_load(path, JSON_REJECT_DUPLICATES, GR_MANIFEST_MAX, err);
    if (!root)
        return err->status;
    if (!json_is_object(root)) {
        st = gr_error_set(err, GR_EMODEL, path, 0, NULL, "must be a JSON object");
        goto fail;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        int known = 0;
        for (size_t i = 0; known_keys[i]; i++)
            known |= !strcmp(key, known_keys[i]);
        if (!known) {
            st = gr_error_set(err, GR_EMODEL, path, 0, key, "unknown key");
            goto fail;
        }
    }
    char *task = NULL, *format = NULL;
    if ((st = get_string(root, "name", 1, 64, &out->name, path, err)) ||
        (st = get_string(root, "version", 1, 64, &out->version, path, err)) ||
        (st = get_string(root, "description", 0, 4096, &out->description, path, err)) ||
        (st = get_string(root, "genome_build", 1, 16, &out->genome_build, path, err)) ||
        (st = get_string(root, "artifact", 1, 255, &out->artifact, path, err)) ||
        (st = get_string(root, "features", 0, 255, &out->features, path, err)) ||
        (st = get_string(root, "task", 1, 32, &task, path, err)) ||
        (st = get_string(root, "format", 1, 32, &format, path, err))) {
        free(task);
        free(format);
        goto fail;
    }
    int task_ok = 1, format_ok;
    if (!strcmp(task, "classification"))
        out->task = GR_TASK_CLASSIFICATION;
    else if (!strcmp(task, "regression"))
        out->task = GR_TASK_REGRESSION;
    else
        task_ok = 0;
    format_ok = gr_format_parse(format, &out->format);
    free(task);
    free(format);
    if (!task_ok) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "task",
                          "must be \"classification\" or \"regression\"");
        goto fail;
    }
    if (!format_ok) {
        char known[200] = "";
        for (int f = 0; f < GR_FORMAT_COUNT; f++) /* the format table's names */
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                     f == 0                     ? ""
                     : f == GR_FORMAT_COUNT - 1 ? " or "
                                                : ", ",
                     gr_format_name((gr_format)f));
        st = gr_error_set(err, GR_EUNSUPPORTED, path, 0, "format", "unknown format; expected %s",
                          known);
        goto fail;
    }
    if (!valid_name(out->name)) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "name", "must match [a-z0-9][a-z0-9._-]{0,63}");
        goto fail;
    }
    if (!out->version[0]) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "version", "must not be empty");
        goto fail;
    }
    if (strcmp(out->genome_build, "GRCh37") && strcmp(out->genome_build, "GRCh38")) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "genome_build",
                          "must be \"GRCh37\" or \"GRCh38\"");
        goto fail;
    }
    if (!gr_valid_file_name(out->artifact)) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "artifact",
                          "must name a file inside the bundle directory (no '/')");
        goto fail;
    }
    if (out->format == GR_FORMAT_PGS_CATALOG) {
        if (json_object_get(root, "features")) {
            st = gr_error_set(err, GR_EMODEL, path, 0, "features",
                              "pgs-catalog bundles take their features from the scoring "
                              "file; remove this key");
            goto fail;
        }
        if (out->task != GR_TASK_REGRESSION) {
            st = gr_error_set(err, GR_EMODEL, path, 0, "task",
                              "a pgs-catalog score is an additive sum with no link; "
                              "set task to \"regression\"");
            goto fail;
        }
    } else if (!gr_valid_file_name(out->features)) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "features",
                          out->features[0] ? "must name a file inside the bundle directory"
                                           : "required key is missing");
        goto fail;
    }
    out->min_coverage = 0.75;
    json_t *mc = json_object_get(root, "min_coverage");
    if (mc) {
        double v = json_number_value(mc);
        if (!json_is_number(mc) || !(v >= 0 && v <= 1)) {
            st = gr_error_set(err, GR_EMODEL, path, 0, "min_coverage",
                              "must be a number from 0 to 1");
            goto fail;
        }
        out->min_coverage = v;
    }
    if ((st = read_policy(root, path, out, err)))
        goto fail;
    /* XGBoost learned where a missing value goes; imputing a mean there
     * would score differently from XGBoost itself */
    out->impute = out->policy.impute >= 0                 ? (gr_impute)out->policy.impute
                  : out->format == GR_FORMAT_XGBOOST_JSON ? GR_IMPUTE_NONE
                                                          : GR_IMPUTE_MEAN;
    json_t *im = json_object_get(root, "impute");
    if (im && (!json_is_string(im) || !gr_impute_parse(json_string_value(im), &out->impute))) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "impute",
                          "must be \"none\", \"mean\" or \"cohort\"");
        goto fail;
    }
    /* odds or hazard ratios are summed as their logarithms, when asked */
    json_t *wt = json_object_get(root, "weight_transform");
    const char *wts = json_string_value(wt);
    if (wt && (!wts || (strcmp(wts, "none") && strcmp(wts, "log")))) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "weight_transform",
                          "must be \"none\" or \"log\"");
        goto fail;
    }
    if (wts && !strcmp(wts, "log") && out->format != GR_FORMAT_PGS_CATALOG) {
        st = gr_error_set(err, GR_EMODEL, path, 0, "weight_transform",
                          "applies to pgs-catalog scoring files only");
        goto fail;
    }
    out->weight_log = wts && !strcmp(wts, "log");
    if ((st = read_context(root, path, out, err)))
        goto fail;
    /* a score read against a reference must not depend on the samples sent
     * with it: the cohort's means would make it so */
    if (*out->reference && !im && out->impute == GR_IMPUTE_COHORT)
        out->impute = GR_IMPUTE_MEAN;

fail:
    json_decref(root);
    if (st)
        gr_manifest_clear(out);
    return st;
}
