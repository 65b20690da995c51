/* risk_decl.c - see risk_decl.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "risk_decl.h"

#define MAX_CATEGORIES 16

struct gr_risk_decl {
    gr_risk_category_def cats[MAX_CATEGORIES];
    char *names[MAX_CATEGORIES];
    gr_risk_spec spec;
    gr_risk_model *absolute;
    gr_risk_z z;
};

const char *gr_risk_z_name(gr_risk_z z)
{
    return z == GR_RISK_Z ? "z" : z == GR_RISK_Z_NORM1 ? "z_norm1" : "z_norm2";
}

static gr_status read_categories(gr_risk_decl *d, json_t *a, const char *path, gr_error *err)
{
    size_t n = json_array_size(a);
    if (!json_is_array(a) || n < 1 || n > MAX_CATEGORIES)
        return gr_error_set(err, GR_EMODEL, path, 0, "risk.categories",
                            "must be an array of 1 to %d {\"name\", \"from\"} objects",
                            MAX_CATEGORIES);
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(a, i), *from = json_object_get(c, "from");
        const char *name = json_string_value(json_object_get(c, "name"));
        char field[64];
        snprintf(field, sizeof field, "risk.categories[%zu]", i);
        if (!json_is_object(c) || json_object_size(c) != 2 || !name || strlen(name) > 64 ||
            !gr_utf8_valid(name) || !json_is_number(from))
            return gr_error_set(err, GR_EMODEL, path, 0, field,
                                "must be {\"name\": a label of at most 64 bytes, \"from\": a "
                                "percentile}");
        if (!(d->names[i] = gr_strdup(name)))
            return gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
        d->cats[i] = (gr_risk_category_def){ d->names[i], json_number_value(from) };
    }
    d->spec = (gr_risk_spec){ d->cats, n };
    gr_error why;
    if (gr_risk_spec_check(&d->spec, &why)) {
        char field[192];
        snprintf(field, sizeof field, "risk.%s", why.field);
        return gr_error_set(err, GR_EMODEL, path, 0, field, "%s", why.text);
    }
    return GR_OK;
}

static gr_status read_absolute(gr_risk_decl *d, json_t *risk, const char *path, gr_error *err)
{
    json_t *k = json_object_get(risk, "prevalence"), *auc = json_object_get(risk, "auc"),
           *odds = json_object_get(risk, "odds_ratio_per_sd");
    if (!k && !auc && !odds)
        return GR_OK;
    if (!json_is_number(k) || !auc == !odds || (auc && !json_is_number(auc)) ||
        (odds && !json_is_number(odds)))
        return gr_error_set(err, GR_EMODEL, path, 0, "risk",
                            "absolute risk needs \"prevalence\" and one of \"auc\" or "
                            "\"odds_ratio_per_sd\", all numbers");
    gr_error why;
    if (gr_risk_model_new(auc ? GR_RISK_LIABILITY_AUC : GR_RISK_LOGISTIC_OR, json_number_value(k),
                          json_number_value(auc ? auc : odds), &d->absolute, &why)) {
        char field[192];
        snprintf(field, sizeof field, "risk.%s",
                 !strcmp(why.field, "odds_ratio") ? "odds_ratio_per_sd" : why.field);
        return gr_error_set(err, why.status == GR_ENOMEM ? GR_ENOMEM : GR_EMODEL, path, 0, field,
                            "%s", why.text);
    }
    return GR_OK;
}

static gr_status read_decl(gr_risk_decl *d, json_t *risk, const char *path, gr_error *err)
{
    static const char *const keys[] = { "categories", "prevalence", "auc", "odds_ratio_per_sd",
                                        "z" };
    const char *key;
    json_t *v;
    gr_status st;
    json_object_foreach(risk, key, v)
    {
        size_t i = 0;
        while (i < sizeof keys / sizeof *keys && strcmp(key, keys[i]))
            i++;
        if (i == sizeof keys / sizeof *keys) {
            char field[192];
            snprintf(field, sizeof field, "risk.%.80s", key);
            return gr_error_set(err, GR_EMODEL, path, 0, field, "unknown key");
        }
    }
    json_t *cats = json_object_get(risk, "categories");
    if (cats)
        st = read_categories(d, cats, path, err);
    else
        d->spec = *gr_risk_spec_default(), st = GR_OK;
    if (st || (st = read_absolute(d, risk, path, err)))
        return st;
    const char *z = json_string_value(json_object_get(risk, "z"));
    d->z = GR_RISK_Z_NORM2;
    if (json_object_get(risk, "z")) {
        if (z && !strcmp(z, "z"))
            d->z = GR_RISK_Z;
        else if (z && !strcmp(z, "z_norm1"))
            d->z = GR_RISK_Z_NORM1;
        else if (!z || strcmp(z, "z_norm2"))
            return gr_error_set(err, GR_EMODEL, path, 0, "risk.z",
                                "must be \"z\", \"z_norm1\" or \"z_norm2\"");
    }
    return GR_OK;
}

gr_status gr_risk_decl_from_json(json_t *risk, const char *path, gr_risk_decl **out, gr_error *err)
{
    gr_status st;
    gr_risk_decl *d = calloc(1, sizeof *d);
    *out = NULL;
    if (!d)
        return gr_error_set(err, GR_ENOMEM, path, 0, NULL, "out of memory");
    if ((st = read_decl(d, risk, path, err)))
        goto fail;
    *out = d;
    d = NULL;

fail:
    gr_risk_decl_free(d);
    return st;
}

void gr_risk_decl_free(gr_risk_decl *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < MAX_CATEGORIES; i++)
        free(d->names[i]);
    gr_risk_model_free(d->absolute);
    free(d);
}

const gr_risk_spec *gr_risk_decl_categories(const gr_risk_decl *d)
{
    return &d->spec;
}

const gr_risk_model *gr_risk_decl_absolute(const gr_risk_decl *d)
{
    return d->absolute;
}

gr_risk_z gr_risk_decl_z(const gr_risk_decl *d)
{
    return d->z;
}
