#!/usr/bin/python3
"""Build a large synthetic XGBoost bundle and input rows for benchmarking.

Trains XGBoost binary:logistic on synthetic genotypes (ALT dosages 0/1/2,
binomial(2, p), p ~ U(0.05, 0.5); outcome from a logistic model with many
causal SNPs and pairwise interactions) with max_depth=DEPTH and a tiny
min_child_weight so the trees are (nearly) all full depth, then writes

  DIR/manifest.json   name "bench-xgb", format xgboost-json
  DIR/model.json      Booster.save_model output
  DIR/features.tsv    one row per SNP (rs9100001 upward)
  DIR/rows.tsv        ROWS x SNPS dosages, tab-separated, no header

Deterministic (fixed seeds; hist training on 2 threads is deterministic).
Run: tools/make_bench_model.py --out DIR [--trees 500] [--depth 6]
                               [--snps 1000] [--rows 1000]
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import xgboost as xgb

CHROM_LEN = [248956422, 242193529, 198295559, 190214555, 181538259,
             170805979, 159345973, 145138636, 138394717, 133797422,
             135086622, 133275309, 114364328, 107043718, 101991189,
             90338345, 83257441, 80373285, 58617616, 64444167, 46709983,
             50818468]
ALLELE_PAIRS = [("A", "G"), ("G", "A"), ("C", "T"), ("T", "C"), ("A", "C"),
                ("C", "A"), ("G", "T"), ("T", "G")]


def tree_depth_stats(model_json, depth):
    """(trees, trees with all 2^depth leaves, trees reaching depth, mean
    leaves per tree)."""
    trees = model_json["learner"]["gradient_booster"]["model"]["trees"]
    full = reach = leaves = 0
    for t in trees:
        left, right = t["left_children"], t["right_children"]
        d = [0] * len(left)
        for i, c in enumerate(left):
            if c != -1:
                d[c] = d[right[i]] = d[i] + 1
        n_leaves = sum(1 for c in left if c == -1)
        leaves += n_leaves
        full += n_leaves == 2 ** depth
        reach += max(d) == depth
    return len(trees), full, reach, leaves / max(1, len(trees))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, metavar="DIR")
    ap.add_argument("--trees", type=int, default=500)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--snps", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=1000,
                    help="rows written to rows.tsv for benchmarking")
    ap.add_argument("--train-rows", type=int, default=20000,
                    help="training rows (default 20000: fewer rows give "
                    "more pure nodes that stop growing early)")
    ap.add_argument("--nthread", type=int, default=2,
                    help="training threads (default 2)")
    ap.add_argument("--tree-method", default="hist",
                    choices=("hist", "exact"))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--eta", type=float, default=0.1)
    ap.add_argument("--reg-lambda", type=float, default=1.0)
    ap.add_argument("--min-child-weight", type=float, default=1e-3)
    args = ap.parse_args()
    if min(args.trees, args.depth, args.snps, args.rows,
           args.train_rows) < 1:
        ap.error("--trees/--depth/--snps/--rows/--train-rows must be >= 1")

    t0 = time.time()
    rng = np.random.RandomState(args.seed)
    m = args.snps
    p = rng.uniform(0.05, 0.5, size=m)
    n = args.train_rows + args.rows
    X = rng.binomial(2, p, size=(n, m)).astype(np.float32)
    n_causal = min(m, 50)
    causal = rng.choice(m, size=n_causal, replace=False)
    beta = rng.normal(0, 0.4, size=n_causal)
    z = X[:, causal].astype(np.float64) @ beta
    for k in range(0, n_causal - 1, 2):          # pairwise interactions
        z += 0.3 * (X[:, causal[k]] - 2 * p[causal[k]]) * \
            (X[:, causal[k + 1]] - 2 * p[causal[k + 1]])
    z = (z - z.mean()) / z.std()
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-1.5 * z))).astype(np.float32)
    Xtr, ytr = X[:args.train_rows], y[:args.train_rows]
    Xbench = X[args.train_rows:]

    params = {"objective": "binary:logistic", "max_depth": args.depth,
              "min_child_weight": args.min_child_weight, "eta": args.eta,
              "gamma": 0.0,
              "lambda": args.reg_lambda, "tree_method": args.tree_method,
              "nthread": args.nthread, "seed": args.seed}
    booster = xgb.train(params, xgb.DMatrix(Xtr, label=ytr),
                        num_boost_round=args.trees)

    os.makedirs(args.out, exist_ok=True)
    booster.save_model(os.path.join(args.out, "model.json"))
    with open(os.path.join(args.out, "features.tsv"), "w") as f:
        f.write("feature_id\tchrom\tpos\tref\talt\tmean\trsid\n")
        for j in range(m):
            chrom = j % 22
            pos = 1_000_000 + (j // 22 + 1) * (
                (CHROM_LEN[chrom] - 2_000_000) // (m // 22 + 2))
            ref, alt = ALLELE_PAIRS[j % len(ALLELE_PAIRS)]
            rsid = "rs%d" % (9100001 + j)
            f.write("%s\t%d\t%d\t%s\t%s\t%s\t%s\n" % (
                rsid, chrom + 1, pos, ref, alt, repr(round(2 * p[j], 6)),
                rsid))
    manifest = {"name": "bench-xgb", "version": "1.0.0",
                "description": "SYNTHETIC benchmark model (%d trees, depth "
                               "%d, %d SNPs) - not for clinical use."
                               % (args.trees, args.depth, m),
                "task": "classification", "format": "xgboost-json",
                "artifact": "model.json", "features": "features.tsv",
                "genome_build": "GRCh38"}
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "rows.tsv"), "w") as f:
        for row in Xbench.astype(np.int64):
            f.write("\t".join(map(str, row)) + "\n")

    with open(os.path.join(args.out, "model.json")) as f:
        n_trees, full, reach, mean_leaves = tree_depth_stats(json.load(f),
                                                             args.depth)
    sys.stderr.write(
        "make_bench_model: %s: %d trees, %d reach depth %d, %d complete "
        "binary trees; mean %.1f leaves of max %d; %d SNPs, %d bench rows, "
        "%.1f s\n"
        % (args.out, n_trees, reach, args.depth, full, mean_leaves,
           2 ** args.depth, m, Xbench.shape[0], time.time() - t0))


if __name__ == "__main__":
    main()
