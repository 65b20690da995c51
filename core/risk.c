/* risk.c - risk categories and absolute risk from a standardized polygenic
 * score (see risk.h for the models and their sources). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "risk.h"

#define PREVALENCE_MIN 1e-12
#define OR_MAX 1000.0
/* The logistic model's mean risk is a trapezoid sum with step H over
 * [-Z_TAIL, ln(OR) + Z_TAIL]. The integrand is analytic in the strip
 * |Im z| < pi / ln(OR) (expit's poles), so the rule's error is about
 * exp(-2 pi^2 / (ln(OR) H)): below 1e-70 at OR = 1000. The integrand is at
 * most e^(a + b^2/2) phi(z - b), which bounds what the cut tails leave out
 * to phi(16) relative, about 1e-56. */
#define H (1.0 / 64)
#define Z_TAIL 16.0
#define NEWTON_MAX 100

struct gr_risk_model {
    gr_risk_method method;
    double prevalence, effect;
    double threshold, r2; /* liability */
    double intercept;     /* logistic */
};

/* ---- the normal distribution ---- */

double gr_norm_pdf(double x)
{
    return exp(-0.5 * x * x) / sqrt(2 * M_PI);
}

double gr_norm_cdf(double x)
{
    return 0.5 * erfc(-x * M_SQRT1_2);
}

/* Acklam's rational approximation for p in (0, 0.5], relative error under
 * 1.15e-9. */
static double acklam_lower(double p)
{
    static const double a[] = { -3.969683028665376e+01, 2.209460984245205e+02,
                                -2.759285104469687e+02, 1.383577518672690e+02,
                                -3.066479806614716e+01, 2.506628277459239e+00 };
    static const double b[] = { -5.447609879822406e+01, 1.615858368580409e+02,
                                -1.556989798598866e+02, 6.680131188771972e+01,
                                -1.328068155288572e+01 };
    static const double c[] = { -7.784894002430293e-03, -3.223964580411365e-01,
                                -2.400758277161838e+00, -2.549732539343734e+00,
                                4.374664141464968e+00,  2.938163982698783e+00 };
    static const double d[] = { 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00 };
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/* One Halley step on Phi(x) = p. Near the median Phi(x) - p is taken as
 * erf(x / sqrt 2) / 2 - (p - 1/2), where p - 1/2 is exact: a quantile close
 * to 0 keeps its relative accuracy. */
static double halley(double x, double p)
{
    double e = p >= 0.25 ? 0.5 * erf(x * M_SQRT1_2) - (p - 0.5) : gr_norm_cdf(x) - p;
    double u = e * sqrt(2 * M_PI) * exp(0.5 * x * x);
    return x - u / (1 + 0.5 * x * u);
}

double gr_norm_quantile(double p)
{
    if (!(p >= 0 && p <= 1))
        return NAN;
    if (p == 0)
        return -INFINITY;
    if (p == 1)
        return INFINITY;
    if (p > 0.5)
        return -gr_norm_quantile(1 - p); /* 1 - p is exact here */
    double x = acklam_lower(p);
    /* below DBL_MIN exp(x^2 / 2) overflows: the approximation stands */
    if (p >= DBL_MIN)
        x = halley(halley(x, p), p);
    return x;
}

/* ---- categories ---- */

static const gr_risk_category_def default_cats[] = {
    { "low", 0 }, { "average", 20 }, { "elevated", 80 }, { "high", 95 }
};
static const gr_risk_spec default_spec = { default_cats,
                                           sizeof default_cats / sizeof default_cats[0] };

const gr_risk_spec *gr_risk_spec_default(void)
{
    return &default_spec;
}

static gr_status category_error(gr_error *err, size_t i, const char *part, const char *why)
{
    char field[64];
    snprintf(field, sizeof field, "categories[%zu].%s", i, part);
    return gr_error_set(err, GR_EINVAL, NULL, 0, field, "%s", why);
}

static gr_status check_category(const gr_risk_category_def *c, size_t i, double prev, gr_error *err)
{
    if (!c->name || !c->name[0])
        return category_error(err, i, "name", "a category needs a non-empty name");
    if (!isfinite(c->lower) || c->lower < 0 || c->lower >= 100)
        return category_error(err, i, "lower",
                              "a lower bound must be a percentile within [0, 100)");
    if (i == 0 && c->lower != 0)
        return category_error(err, i, "lower",
                              "the first category must start at percentile 0, so that "
                              "every percentile has a category");
    if (i > 0 && c->lower <= prev)
        return category_error(err, i, "lower",
                              "lower bounds must be strictly increasing: this one is not "
                              "above the previous category's");
    return GR_OK;
}

gr_status gr_risk_spec_check(const gr_risk_spec *spec, gr_error *err)
{
    if (!spec || !spec->cats || spec->n == 0)
        return gr_error_set(err, GR_EINVAL, NULL, 0, "categories",
                            "at least one risk category is needed");
    for (size_t i = 0; i < spec->n; i++) {
        gr_status st = check_category(&spec->cats[i], i, i ? spec->cats[i - 1].lower : 0, err);
        if (st)
            return st;
    }
    return GR_OK;
}

const char *gr_risk_category(const gr_risk_spec *spec, double percentile)
{
    if (!(percentile >= 0 && percentile <= 100))
        return NULL;
    for (size_t i = spec->n; i-- > 0;)
        if (percentile >= spec->cats[i].lower)
            return spec->cats[i].name;
    return NULL;
}

/* ---- liability threshold from the AUC ---- */

/* R2 from the AUC by Wray et al. (2010) equation 4, the exact inverse of
 * their equation 3 (risk.h); GR_EINVAL when it is 1 or more, that is when
 * the AUC is beyond what any score reaches at this prevalence. */
static gr_status liability_r2(gr_risk_model *m, gr_error *err)
{
    double K = m->prevalence, T = m->threshold;
    double i = gr_norm_pdf(T) / K, v = -gr_norm_pdf(T) / (1 - K);
    double A = i * (i - T) + v * (v - T), Q = gr_norm_quantile(m->effect);
    m->r2 = 2 * Q * Q / ((i - v) * (i - v) + Q * Q * A);
    if (m->r2 < 1)
        return GR_OK;
    return gr_error_set(err, GR_EINVAL, NULL, 0, "auc",
                        "an AUC of %.6g is beyond what a score can reach at a prevalence of %.6g "
                        "(at most %.6g, when it explains all the liability)",
                        m->effect, K, gr_norm_cdf((i - v) / sqrt(2 - A)));
}

static double liability_risk(const gr_risk_model *m, double z)
{
    double x = (m->threshold - sqrt(m->r2) * z) / sqrt(1 - m->r2);
    return gr_norm_cdf(-x);
}

/* ---- logistic from the OR per SD ---- */

static double expit(double x)
{
    if (x >= 0)
        return 1 / (1 + exp(-x));
    double e = exp(x);
    return e / (1 + e);
}

/* The mean risk M(a) = E[expit(a + b z)], z ~ N(0, 1), and its derivative
 * in a, E[expit (1 - expit)], by the trapezoid rule (see H). */
static double mean_risk(double a, double b, double *deriv)
{
    double sum = 0, dsum = 0;
    long n = lround((b + 2 * Z_TAIL) / H);
    for (long k = 0; k <= n; k++) {
        double z = -Z_TAIL + k * H, w = (k == 0 || k == n) ? 0.5 : 1;
        double r = expit(a + b * z), f = w * exp(-0.5 * z * z);
        sum += f * r;
        dsum += f * r * (1 - r);
    }
    double scale = H / sqrt(2 * M_PI);
    *deriv = dsum * scale;
    return sum * scale;
}

/* The intercept a with M(a) = K, for K <= 1/2, by Newton's method on
 * g(a) = log M(a) - log K. g is increasing and concave (M is log-concave:
 * Prekopa, the integrand being log-concave in (a, z)), so from the first
 * step on the iterates rise to the root without overshooting. */
static gr_status logistic_intercept(double K, double b, double *a_out, gr_error *err)
{
    double a = log(K / (1 - K));
    for (int it = 0; it < NEWTON_MAX; it++) {
        double dM, M = mean_risk(a, b, &dM);
        double step = (log(M) - log(K)) * M / dM;
        a -= step;
        if (fabs(step) <= 1e-14 * fmax(1, fabs(a))) {
            *a_out = a;
            return GR_OK;
        }
    }
    return gr_error_set(err, GR_EINVAL, NULL, 0, "odds_ratio",
                        "the logistic intercept did not converge for a prevalence of %.6g and an "
                        "odds ratio of %.6g",
                        K, exp(b));
}

/* By z's symmetry the intercept for K is minus that for 1 - K: solving for
 * the smaller keeps M's relative accuracy. */
static gr_status logistic_solve(gr_risk_model *m, gr_error *err)
{
    double K = m->prevalence, b = log(m->effect), a = 0;
    gr_status st = logistic_intercept(K <= 0.5 ? K : 1 - K, b, &a, err);
    m->intercept = K <= 0.5 ? a : -a;
    return st;
}

/* ---- the model ---- */

static gr_status check_inputs(gr_risk_method method, double K, double effect, gr_error *err)
{
    if (method != GR_RISK_LIABILITY_AUC && method != GR_RISK_LOGISTIC_OR)
        return gr_error_set(err, GR_EINVAL, NULL, 0, "method", "unknown risk method %d",
                            (int)method);
    if (!(K >= PREVALENCE_MIN && K <= 1 - PREVALENCE_MIN))
        return gr_error_set(err, GR_EINVAL, NULL, 0, "prevalence",
                            "a prevalence must be a proportion within [1e-12, 1 - 1e-12], "
                            "not %.6g",
                            K);
    if (method == GR_RISK_LIABILITY_AUC && !(effect > 0.5 && effect < 1))
        return gr_error_set(err, GR_EINVAL, NULL, 0, "auc",
                            "an AUC must be above 0.5 and below 1, not %.6g (under 0.5 the score "
                            "runs against risk: negate it and give 1 - AUC)",
                            effect);
    if (method == GR_RISK_LOGISTIC_OR && !(effect > 1 && effect <= OR_MAX))
        return gr_error_set(err, GR_EINVAL, NULL, 0, "odds_ratio",
                            "an odds ratio per SD must be above 1 and at most 1000, not %.6g "
                            "(under 1 the score runs against risk: negate it and give 1 / OR)",
                            effect);
    return GR_OK;
}

gr_status gr_risk_model_new(gr_risk_method method, double prevalence, double effect,
                            gr_risk_model **out, gr_error *err)
{
    gr_risk_model *m = NULL;
    *out = NULL;
    gr_status st = check_inputs(method, prevalence, effect, err);
    if (st)
        goto fail;
    if (!(m = calloc(1, sizeof *m))) {
        st = gr_error_set(err, GR_ENOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    *m = (gr_risk_model){ method, prevalence, effect, NAN, NAN, NAN };
    if (method == GR_RISK_LIABILITY_AUC) {
        m->threshold = -gr_norm_quantile(prevalence);
        st = liability_r2(m, err);
    } else {
        st = logistic_solve(m, err);
    }

fail:
    if (st)
        free(m);
    else
        *out = m;
    return st;
}

void gr_risk_model_free(gr_risk_model *m)
{
    free(m);
}

double gr_risk_absolute(const gr_risk_model *m, double z)
{
    if (isnan(z))
        return NAN;
    if (m->method == GR_RISK_LIABILITY_AUC)
        return liability_risk(m, z);
    return expit(m->intercept + log(m->effect) * z);
}

gr_risk_method gr_risk_model_method(const gr_risk_model *m)
{
    return m->method;
}

double gr_risk_model_prevalence(const gr_risk_model *m)
{
    return m->prevalence;
}

double gr_risk_model_effect(const gr_risk_model *m)
{
    return m->effect;
}

double gr_risk_model_r2(const gr_risk_model *m)
{
    return m->r2;
}

double gr_risk_model_threshold(const gr_risk_model *m)
{
    return m->threshold;
}

double gr_risk_model_intercept(const gr_risk_model *m)
{
    return m->intercept;
}

/* ---- assumptions ---- */

#define NORMAL_SCORE                                                                               \
    "The score is normally distributed in the reference population, and z is the sample's "        \
    "score standardized against that population (mean 0, standard deviation 1)."
#define ONLY_THE_SCORE                                                                             \
    "Nothing but the score is taken into account: not family history, age, sex or any other "      \
    "risk factor."
#define SAME_KIND                                                                                  \
    "The absolute risk is the same kind of risk as the prevalence given: a lifetime risk if "      \
    "that is a lifetime risk, a risk over a period if that is a period risk."

static const char *const liability_assumptions[] = {
    NORMAL_SCORE,
    "The AUC was measured in a population like the reference population (ancestry, age, "
    "how cases were defined).",
    "Liability to the disease is normally distributed, and the disease is present above a "
    "threshold set so that the proportion above it is the prevalence.",
    "The score adds to liability linearly, and the rest of liability is normal and independent "
    "of the score.",
    "The prevalence given is that of the reference population.",
    ONLY_THE_SCORE,
    SAME_KIND,
};

static const char *const logistic_assumptions[] = {
    NORMAL_SCORE,
    "The odds ratio per standard deviation was measured in a population like the reference "
    "population (ancestry, age, how cases were defined).",
    "The log-odds of disease rise linearly with the score: the same odds ratio holds for every "
    "standard deviation, at every level of the score.",
    "The prevalence given is the average risk of the reference population, which sets the "
    "intercept.",
    ONLY_THE_SCORE,
    SAME_KIND,
};

const char *const *gr_risk_assumptions(const gr_risk_model *m, size_t *n)
{
    if (m->method == GR_RISK_LIABILITY_AUC) {
        *n = sizeof liability_assumptions / sizeof liability_assumptions[0];
        return liability_assumptions;
    }
    *n = sizeof logistic_assumptions / sizeof logistic_assumptions[0];
    return logistic_assumptions;
}
