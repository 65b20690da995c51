#!/usr/bin/python3
"""peer_e2e.py - the Python script a user would write instead of the CLI.

The peer of tools/bench_e2e.sh (issue 13): what `genorisk predict --model
DIR --input BODY --output OUT` does, done with json and XGBoost, end to end:

  load_model    xgb.Booster().load_model(DIR/<artifact>), features.tsv read
                into the model's feature order (feature_id and rsid as keys)
  json_load     json.load(BODY): {"samples": [{"id", "genotypes": {key:
                dosage}}], "top_k": K} (docs/predict-json.md; numeric
                dosages only; an unknown key is ignored, an absent feature
                is NaN, XGBoost's missing value)
  matrix        a float32 samples x features matrix in the model's order
  dmatrix       xgb.DMatrix(matrix)
  predict       Booster.predict(dm): the probability; output_margin=True:
                the margin
  contribs      Booster.predict(dm, pred_contribs=True): TreeSHAP values
  top_k         per sample the top K |value| attributions (ties in model
                order), as genorisk ranks them
  json_dump     json.dump of {"model", "results": [{"sample", "index",
                "score", "margin", "explanation": {"base_value",
                "attributions": [{"feature", "value", "dosage"}]}}]} to OUT

Prints one JSON line on stdout: the wall time of each stage in seconds,
"total" (first stage to last, as seen from inside) and "process" (from the
interpreter's start, imports included; /usr/bin/time sees a little more),
with the xgboost version, samples and nthread.

Run: /usr/bin/python3 tools/peer_e2e.py --model DIR --input BODY
         --output OUT [--nthread 1]
"""

import time

T_START = time.perf_counter()

import argparse  # noqa: E402  (imports are timed: they are part of the run)
import csv  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402


def load_model(directory, nthread):
    with open(os.path.join(directory, "manifest.json")) as f:
        manifest = json.load(f)
    booster = xgb.Booster()
    booster.load_model(os.path.join(directory,
                                    manifest.get("artifact", "model.json")))
    booster.set_param({"nthread": nthread})
    ids, index = [], {}
    with open(os.path.join(directory,
                           manifest.get("features", "features.tsv")),
              newline="") as f:
        for i, row in enumerate(csv.DictReader(f, delimiter="\t")):
            ids.append(row["feature_id"])
            index[row["feature_id"]] = i
            if row.get("rsid"):
                index.setdefault(row["rsid"], i)
    return manifest, booster, ids, index


def build_matrix(samples, n_features, index):
    rows = np.full((len(samples), n_features), np.nan, dtype=np.float32)
    for s, sample in enumerate(samples):
        row = rows[s]
        for key, value in sample["genotypes"].items():
            j = index.get(key)
            if j is not None and value is not None:
                row[j] = value
    return rows


def top_k(contribs, rows, scores, margins, samples, ids, k):
    n = len(ids)
    results = []
    for s, sample in enumerate(samples):
        phi = contribs[s, :n]
        order = (range(n) if k == 0 else
                 np.argsort(-np.abs(phi), kind="stable")[:k])
        results.append({
            "sample": sample.get("id"), "index": s,
            "score": float(scores[s]), "margin": float(margins[s]),
            "explanation": {
                "method": "tree_shap_path_dependent", "space": "margin",
                "base_value": float(contribs[s, n]),
                "attributions": [
                    {"feature": ids[j], "value": float(phi[j]),
                     "dosage": (None if math.isnan(rows[s, j])
                                else float(rows[s, j]))}
                    for j in order]}})
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, metavar="DIR")
    ap.add_argument("--input", required=True, metavar="BODY")
    ap.add_argument("--output", required=True, metavar="OUT")
    ap.add_argument("--nthread", type=int, default=1,
                    help="XGBoost threads (default 1)")
    args = ap.parse_args()
    if args.nthread < 1:
        ap.error("--nthread must be >= 1")
    stages = {}
    t = t0 = time.perf_counter()

    def lap(name):
        nonlocal t
        now = time.perf_counter()
        stages[name] = round(now - t, 6)
        t = now

    manifest, booster, ids, index = load_model(args.model, args.nthread)
    lap("load_model")
    with open(args.input) as f:
        body = json.load(f)
    lap("json_load")
    samples = body["samples"]
    k = min(body.get("top_k", 10), len(ids))
    rows = build_matrix(samples, len(ids), index)
    lap("matrix")
    dm = xgb.DMatrix(rows, missing=np.nan, nthread=args.nthread)
    lap("dmatrix")
    scores = booster.predict(dm)
    margins = booster.predict(dm, output_margin=True)
    lap("predict")
    contribs = booster.predict(dm, pred_contribs=True)
    lap("contribs")
    results = top_k(contribs, rows, scores, margins, samples, ids, k)
    lap("top_k")
    with open(args.output, "w") as f:
        json.dump({"model": {"name": manifest.get("name"),
                             "version": manifest.get("version")},
                   "results": results, "warnings": []}, f)
    lap("json_dump")
    stages["total"] = round(t - t0, 6)
    stages["process"] = round(t - T_START, 6)
    print(json.dumps({"peer": "python3 json + xgboost %s" % xgb.__version__,
                      "samples": len(samples), "nthread": args.nthread,
                      "stages_s": stages}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
