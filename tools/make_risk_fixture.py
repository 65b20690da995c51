#!/usr/bin/python3
"""Reference values for core/risk.c, computed independently with SciPy
(Debian's python3-scipy 1.10), into tests/fixtures/risk/risk.json:

  "liability"   prevalence K, AUC -> R2 on the liability scale, solved with
                scipy.optimize.brentq on Wray et al. (2010) equation 3
                (core/risk.c takes the closed-form inverse instead); the
                threshold T = norm.isf(K); risk(z) = norm.sf((T - sqrt(R2) z)
                / sqrt(1 - R2)).
  "unreachable" K, AUC pairs beyond what any score reaches at K (R2 >= 1),
                with that maximum AUC (equation 3 at R2 = 1).
  "logistic"    K, OR per SD -> the intercept a with E[expit(a + ln(OR) z)]
                = K over z ~ N(0, 1) (scipy.integrate.quad, brentq on a);
                risk(z) = expit(a + ln(OR) z).
  "quantile"    p -> norm.ppf(p), the tails included.
  "cdf"         x -> norm.cdf(x).

Deterministic: re-running writes the same bytes. The script checks its own
solutions (equation 3 at R2 gives the AUC; the mean risk at a is K).

Run: tools/make_risk_fixture.py [--out tests/fixtures/risk]
"""

import argparse
import json
import math
import os

from scipy import integrate, optimize, special, stats

norm = stats.norm

PREVALENCES = [1e-6, 0.001, 0.01, 0.05, 0.1, 0.3, 0.5, 0.8]
AUCS = [0.51, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9, 0.97, 0.99]
ORS = [1.05, 1.2, 1.5, 2.0, 3.0, 5.0, 10.0, 100.0]
ZS = [-6.0, -4.0, -2.0, -1.0, -0.5, 0.0, 0.25, 1.0, 1.6448536269514722, 2.0, 3.0, 5.0]


def liability_terms(K):
    T = norm.isf(K)
    i = norm.pdf(T) / K
    v = -i * K / (1 - K)
    return T, i, v


def auc_of_r2(K, r2):
    """Wray et al. (2010), PLoS Genet 6:e1000864, equation 3."""
    T, i, v = liability_terms(K)
    den = math.sqrt(r2 * (1 - r2 * i * (i - T)) + r2 * (1 - r2 * v * (v - T)))
    return norm.cdf((i - v) * r2 / den)


def liability_case(K, auc):
    if auc_of_r2(K, 1.0) <= auc:
        return None
    r2 = optimize.brentq(lambda r: auc_of_r2(K, r) - auc, 1e-300, 1.0, xtol=1e-300,
                         rtol=8.9e-16, maxiter=500)
    assert abs(auc_of_r2(K, r2) - auc) < 1e-14, (K, auc)
    T = norm.isf(K)
    risk = [norm.sf((T - math.sqrt(r2) * z) / math.sqrt(1 - r2)) for z in ZS]
    return {"prevalence": K, "auc": auc, "r2": r2, "threshold": T, "z": ZS, "risk": risk}


def mean_risk(a, b):
    def f(z):
        return special.expit(a + b * z) * norm.pdf(z)
    # the integrand's bulk lies between 0 and b; 45 SDs either side holds it all
    val, _ = integrate.quad(f, -45.0, b + 45.0, points=[0.0, b], epsabs=0, epsrel=2e-14,
                            limit=500)
    return val


def logistic_case(K, odds):
    b = math.log(odds)
    g = lambda a: math.log(mean_risk(a, b)) - math.log(K)  # noqa: E731
    lo, hi = math.log(K) - b * b / 2 - 5, math.log(K / (1 - K)) + 5
    while g(hi) < 0:
        hi += 5
    a = optimize.brentq(g, lo, hi, xtol=1e-300, rtol=8.9e-16, maxiter=500)
    assert abs(mean_risk(a, b) / K - 1) < 1e-13, (K, odds)
    risk = [float(special.expit(a + b * z)) for z in ZS]
    return {"prevalence": K, "odds_ratio": odds, "intercept": a, "z": ZS, "risk": risk}


def quantile_points():
    ps = [2.2250738585072014e-308, 1e-300, 1e-200, 1e-100, 1e-50, 1e-20, 1e-15, 1e-10,
          1e-8, 1e-6, 1e-4, 0.001, 0.01, 0.02425, 0.0243, 0.05, 0.25, 0.49, 0.499999,
          0.5, 0.500001, 0.51, 0.75, 0.975, 0.999, 1 - 1e-6, 1 - 1e-10, 1 - 1e-15]
    ps += [k / 200 for k in range(1, 200)]
    ps = sorted(set(ps))
    return {"p": ps, "x": [float(norm.ppf(p)) for p in ps]}


def cdf_points():
    xs = [-37.5, -30.0, -20.0, -10.0, -8.0, -5.0, -3.0, -1.0, -1e-3, 0.0, 1e-3, 0.5, 1.0,
          2.0, 3.0, 5.0, 8.0]
    return {"x": xs, "p": [float(norm.cdf(x)) for x in xs]}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "risk"))
    args = ap.parse_args()
    liability, unreachable = [], []
    for K in PREVALENCES:
        for auc in AUCS:
            case = liability_case(K, auc)
            if case:
                liability.append(case)
            else:
                unreachable.append({"prevalence": K, "auc": auc, "max_auc": auc_of_r2(K, 1.0)})
    logistic = [logistic_case(K, o) for K in PREVALENCES for o in ORS]
    doc = {"liability": liability, "unreachable": unreachable, "logistic": logistic,
           "quantile": quantile_points(), "cdf": cdf_points()}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "risk.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("risk: %d liability, %d unreachable, %d logistic cases" %
          (len(liability), len(unreachable), len(logistic)))


if __name__ == "__main__":
    main()
