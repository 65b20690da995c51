#!/usr/bin/python3
"""Time XGBoost's own predictions on a bench bundle (the peer baseline).

Loads DIR/model.json into xgboost.Booster (nthread=1) and DIR/rows.tsv,
then times booster.predict(DMatrix(X), pred_contribs=True) (TreeSHAP) and
booster.predict(DMatrix(X)) over all rows, REPEATS times each (after one
untimed warm-up call each). Prints one JSON line:

  {"peer": "xgboost 1.7.4 (python3-xgboost)", "rows": N,
   "shap_ms_per_sample_median": ..., "predict_us_per_sample_median": ...,
   "shap_runs_ms_per_sample": [...], "predict_runs_us_per_sample": [...]}

The DMatrix construction is included in each timed call (as the C service
parses its own input too). --dump-contribs FILE writes the contributions of
the first 20 rows as JSON: {"rows": [0..19], "X": [[...]], "contribs":
[[... n_features+1, bias last ...]], "margin": [...]} for cross-checking.

Run: tools/bench_xgboost.py DIR [--repeats 5] [--dump-contribs FILE]
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import xgboost as xgb


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", metavar="DIR",
                    help="bundle made by tools/make_bench_model.py")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dump-contribs", metavar="FILE")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    model_path = os.path.join(args.dir, "model.json")
    rows_path = os.path.join(args.dir, "rows.tsv")
    for pth in (model_path, rows_path):
        if not os.path.isfile(pth):
            sys.stderr.write("bench_xgboost: error: missing %s\n" % pth)
            return 1
    booster = xgb.Booster()
    booster.load_model(model_path)
    booster.set_param({"nthread": 1})
    X = np.loadtxt(rows_path, delimiter="\t", dtype=np.float32, ndmin=2)
    n = X.shape[0]

    def timed(**kw):
        t = time.perf_counter()
        out = booster.predict(xgb.DMatrix(X, nthread=1), **kw)
        return time.perf_counter() - t, out

    timed(pred_contribs=True)           # warm-up
    timed()
    shap = [timed(pred_contribs=True)[0] * 1e3 / n
            for _ in range(args.repeats)]
    pred = [timed()[0] * 1e6 / n for _ in range(args.repeats)]

    if args.dump_contribs:
        k = min(20, n)
        dm = xgb.DMatrix(X[:k], nthread=1)
        contribs = booster.predict(dm, pred_contribs=True)
        margin = booster.predict(dm, output_margin=True)
        with open(args.dump_contribs, "w") as f:
            json.dump({"rows": list(range(k)),
                       "X": X[:k].astype(np.float64).tolist(),
                       "contribs": contribs.astype(np.float64).tolist(),
                       "margin": margin.astype(np.float64).tolist()}, f)
            f.write("\n")

    print(json.dumps({
        "peer": "xgboost %s (python3-xgboost)" % xgb.__version__,
        "rows": n,
        "shap_ms_per_sample_median": statistics.median(shap),
        "predict_us_per_sample_median": statistics.median(pred),
        "shap_runs_ms_per_sample": shap,
        "predict_runs_us_per_sample": pred}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
