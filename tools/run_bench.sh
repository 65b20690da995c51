#!/bin/sh
# run_bench.sh BENCH_CORE BUNDLE - runs XGBoost's pred_contribs (the peer) and
# libgenorisk on the same bundle in the same run, and prints both with ratios.
set -eu
core=$1
dir=$2
repeats=${BENCH_REPEATS:-5}
peer=$(/usr/bin/python3 tools/bench_xgboost.py "$dir" --repeats "$repeats" --dump-contribs "$dir/contribs.json")
ours=$("$core" "$dir" --repeats "$repeats" --check "$dir/contribs.json")
echo "peer: $peer"
echo "ours: $ours"
/usr/bin/python3 - "$peer" "$ours" <<'PY'
import json, sys
peer, ours = json.loads(sys.argv[1]), json.loads(sys.argv[2])
shap = peer["shap_ms_per_sample_median"] / ours["shap_ms_per_sample_median"]
pred = peer["predict_us_per_sample_median"] / ours["predict_us_per_sample_median"]
print("TreeSHAP per sample, 1 thread: genorisk %.3f ms, xgboost %.3f ms -> %.1fx faster (target >= 15x)"
      % (ours["shap_ms_per_sample_median"], peer["shap_ms_per_sample_median"], shap))
print("prediction per sample: genorisk %.2f us (target < 20 us), xgboost %.2f us -> %.1fx"
      % (ours["predict_us_per_sample_median"], peer["predict_us_per_sample_median"], pred))
print("model load: %.1f ms (target < 200 ms); %d trees, %d leaves, depth %d"
      % (ours["load_ms_median"], ours["trees"], ours["leaves"], ours["max_depth"]))
print("largest |genorisk - xgboost| over 20 rows' SHAP values: %.2g (tolerance 1e-5)"
      % ours["max_abs_diff_vs_xgboost"])
ok = shap >= 15 and ours["predict_us_per_sample_median"] < 20 and ours["load_ms_median"] < 200 \
     and 0 <= ours["max_abs_diff_vs_xgboost"] <= 1e-5
print("bench: %s" % ("all targets met" if ok else "TARGET MISSED"))
PY
