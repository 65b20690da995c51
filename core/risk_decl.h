/* risk_decl.h - a model's declared risk reading (manifest "risk",
 * docs/model-format.md "Population context"): the categories its
 * percentiles fall in and, when the manifest gives a prevalence and a
 * published effect size, the absolute risk (core/risk.h) at one of the
 * sample's standardized scores. */
#ifndef GR_RISK_DECL_H
#define GR_RISK_DECL_H

#include <jansson.h>

#include "error.h"
#include "risk.h"

typedef struct gr_risk_decl gr_risk_decl;

/* Which standardized score absolute risk is read at. */
typedef enum { GR_RISK_Z, GR_RISK_Z_NORM1, GR_RISK_Z_NORM2 } gr_risk_z;

/* "z", "z_norm1", "z_norm2". */
const char *gr_risk_z_name(gr_risk_z z);

/* Reads the manifest's "risk" object (borrowed) into *out (returns new):
 * "categories" (optional, default gr_risk_spec_default: an array of
 * {"name", "from"} objects, from in percentiles), "prevalence" with one of
 * "auc" or "odds_ratio_per_sd" (optional, together), "z" (optional,
 * default "z_norm2"). Unknown keys are errors. Errors name path and the
 * field (risk.categories[2].from, ...). */
gr_status gr_risk_decl_from_json(json_t *risk, const char *path, gr_risk_decl **out, gr_error *err);
void gr_risk_decl_free(gr_risk_decl *d);

/* Borrowed, valid while d lives. */
const gr_risk_spec *gr_risk_decl_categories(const gr_risk_decl *d);
/* The absolute-risk model, or NULL when the manifest gives none. */
const gr_risk_model *gr_risk_decl_absolute(const gr_risk_decl *d);
gr_risk_z gr_risk_decl_z(const gr_risk_decl *d);

#endif
