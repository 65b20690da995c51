/* risk.h - from a polygenic score to what a report says about it: the risk
 * category of a percentile, and the absolute risk of disease implied by a
 * standardized score, the disease's prevalence and the score's published
 * effect size.
 *
 * Two methods of absolute risk, both taking z, the sample's score
 * standardized against the reference population (mean 0, SD 1):
 *
 * GR_RISK_LIABILITY_AUC (GenoPred-style liability threshold model). Disease
 * liability L is N(0, 1) with the disease present when L > T, T =
 * Phi^-1(1 - K) for prevalence K. The score explains R2 of the variance of L.
 * R2 comes from the published AUC by Wray et al. (2010), "The genetic
 * interpretation of area under the ROC curve in genomic profiling", PLoS
 * Genet 6:e1000864, equation 3 (also Lee et al. (2012), "A better
 * coefficient of determination for genetic profile analysis", Genet
 * Epidemiol 36:214-224):
 *
 *     AUC = Phi( (i - v) R2 / sqrt( R2 (1 - R2 i (i - T)) + R2 (1 - R2 v (v - T)) ) )
 *
 * with i = phi(T) / K (mean liability of cases) and v = -i K / (1 - K) (of
 * controls). AUC rises strictly with R2 on (0, 1], so R2 is unique; it is
 * taken from the equation's exact inverse (Wray et al. equation 4), with
 * Q = Phi^-1(AUC):
 *
 *     R2 = 2 Q^2 / ( (i - v)^2 + Q^2 (i (i - T) + v (v - T)) )
 *
 * Then L = sqrt(R2) z + e, e ~ N(0, 1 - R2), and
 *
 *     risk(z) = P(L > T | z) = 1 - Phi( (T - sqrt(R2) z) / sqrt(1 - R2) ).
 *
 * GR_RISK_LOGISTIC_OR. The log-odds of disease rise by ln(OR) per SD of the
 * score: risk(z) = expit(a + ln(OR) z), with the intercept a chosen so that
 * the mean risk over z ~ N(0, 1) equals K (to 1e-12 relative).
 *
 * Effect sizes: the AUC must be in (0.5, 1) and the OR per SD above 1 (at
 * most 1000). A score whose published AUC is under 0.5 or OR under 1 runs
 * against risk, almost always a flipped sign; it is refused rather than
 * silently used, and the caller negates z (and gives 1 - AUC or 1 / OR) when
 * the orientation is really meant. The prevalence must be in [1e-12,
 * 1 - 1e-12]: no disease is rarer, and beyond it the threshold and the
 * quadrature lose digits.
 *
 * Everything here is reentrant; a gr_risk_model is immutable once made. */
#ifndef GR_RISK_H
#define GR_RISK_H

#include <stddef.h>

#include "error.h"

/* The standard normal distribution (erfc of <math.h>). gr_norm_cdf(x) keeps
 * its relative accuracy in the lower tail, within about x^2 * 1e-16 (5e-14
 * at x = -37.5); take 1 - Phi(x) as gr_norm_cdf(-x). */
double gr_norm_pdf(double x);
double gr_norm_cdf(double x);
/* Phi^-1(p): Acklam's approximation refined by two Halley steps, within a
 * few ulps for p in (0, 1), down to the smallest normal double. NaN for p
 * outside [0, 1] or NaN; -inf at 0, +inf at 1. */
double gr_norm_quantile(double p);

/* ---- categories ---- */

/* A category covers percentiles from lower up to the next category's lower
 * (exclusive); the last one up to 100 inclusive. */
typedef struct {
    const char *name; /* borrowed */
    double lower;     /* percentile, 0 <= lower < 100 */
} gr_risk_category_def;

/* Categories in increasing order of lower, the first at 0. */
typedef struct {
    const gr_risk_category_def *cats; /* borrowed, n entries */
    size_t n;
} gr_risk_spec;

/* The default: low [0, 20), average [20, 80), elevated [80, 95), high
 * [95, 100]. Borrowed, static, valid for the life of the program. */
const gr_risk_spec *gr_risk_spec_default(void);

/* GR_OK when spec (non-NULL) holds at least one category, every name is
 * non-NULL and non-empty, every lower is finite and within [0, 100), the
 * first is 0 and each is above the one before. Otherwise GR_EINVAL, with
 * err->field naming the first offending entry ("categories[2].lower") and
 * err->text the rule it breaks. */
gr_status gr_risk_spec_check(const gr_risk_spec *spec, gr_error *err);

/* The name (borrowed from spec) of the category holding percentile, which
 * must be within [0, 100]: a percentile equal to a category's lower bound
 * belongs to that category ("95th and above" is high). NULL for a
 * percentile outside [0, 100] or NaN. spec must pass gr_risk_spec_check. */
const char *gr_risk_category(const gr_risk_spec *spec, double percentile);

/* ---- absolute risk ---- */

typedef enum {
    GR_RISK_LIABILITY_AUC, /* effect = AUC, in (0.5, 1) */
    GR_RISK_LOGISTIC_OR    /* effect = odds ratio per SD of the score, in (1, 1000] */
} gr_risk_method;

typedef struct gr_risk_model gr_risk_model;

/* Makes a model of method from prevalence K and the effect size, solving R2
 * (liability) or the intercept (logistic) once. Returns GR_OK with *out a
 * new model (free with gr_risk_model_free); otherwise *out is NULL and err
 * is set: GR_EINVAL for an unknown method, or a prevalence or effect out of
 * range (err->field "prevalence", "auc" or "odds_ratio"), including an AUC
 * above the largest a score can reach at that prevalence (R2 would be 1 or
 * more); GR_ENOMEM. */
gr_status gr_risk_model_new(gr_risk_method method, double prevalence, double effect,
                            gr_risk_model **out, gr_error *err);
/* NULL is a no-op. */
void gr_risk_model_free(gr_risk_model *m);

/* The absolute risk, in [0, 1], of a sample whose standardized score is z.
 * NaN for a NaN z; an infinite z gives 0 or 1. */
double gr_risk_absolute(const gr_risk_model *m, double z);

gr_risk_method gr_risk_model_method(const gr_risk_model *m);
double gr_risk_model_prevalence(const gr_risk_model *m);
/* The effect size as given (AUC or OR per SD). */
double gr_risk_model_effect(const gr_risk_model *m);
/* Liability variance explained by the score; NaN for a logistic model. */
double gr_risk_model_r2(const gr_risk_model *m);
/* The liability threshold T = Phi^-1(1 - K); NaN for a logistic model. */
double gr_risk_model_threshold(const gr_risk_model *m);
/* The intercept a of the logistic model; NaN for a liability model. */
double gr_risk_model_intercept(const gr_risk_model *m);

/* The assumptions the method makes, in plain English, one sentence each,
 * for a report to show beside the number. Returns a borrowed, static array
 * of *n strings (n non-NULL). */
const char *const *gr_risk_assumptions(const gr_risk_model *m, size_t *n);

#endif
