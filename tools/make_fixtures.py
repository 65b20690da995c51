#!/usr/bin/python3
"""Generate the genorisk C test fixtures under tests/fixtures/.

Every case is a model bundle directory tests/fixtures/<case>/ (manifest.json,
the artifact, features.tsv unless PGS) plus cases.json with reference
predictions computed by the reference library (XGBoost 1.7.4 or
scikit-learn 1.2.1):

  {"X": [[dosage or null, ...], ...],   # rows x n_features, null = missing
   "margin": [...],                      # raw output before the link
   "score": [...],                       # final prediction
   "contribs": [[... n_features+1, bias LAST], ...],   # XGBoost cases only
   "feature_ids": [...]}                 # column ids (same order as X)

Data are synthetic genotypes (ALT dosages 0/1/2 drawn as binomial(2, p) with
p ~ U(0.05, 0.5)); outcomes come from a logistic (or linear) model over a few
causal SNPs plus noise. Everything is seeded: re-running reproduces the same
bytes. The script also self-checks its outputs: the exported sklearn models
and the XGBoost models are re-evaluated with independent numpy
implementations, and the export_sklearn.py command line is exercised.

Run: tools/make_fixtures.py [--out tests/fixtures] [--pgs-source FILE]
"""

import argparse
import gzip
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refblas  # noqa: E402
refblas.pin()  # before numpy: the same digits whichever BLAS the machine selects

import numpy as np  # noqa: E402
import xgboost as xgb
from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor,
                              GradientBoostingClassifier,
                              GradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.linear_model import (ElasticNet, Lasso, LinearRegression,
                                  LogisticRegression, Ridge)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import export_sklearn  # noqa: E402

PYTHON = "/usr/bin/python3"

# GRCh38 chromosome lengths (for realistic-looking positions)
CHROM_LEN = {
    "1": 248956422, "2": 242193529, "3": 198295559, "4": 190214555,
    "5": 181538259, "6": 170805979, "7": 159345973, "8": 145138636,
    "9": 138394717, "10": 133797422, "11": 135086622, "12": 133275309,
    "13": 114364328, "14": 107043718, "15": 101991189, "16": 90338345,
    "17": 83257441, "18": 80373285, "19": 58617616, "20": 64444167,
    "21": 46709983, "22": 50818468, "X": 156040895,
}
CHROMS = list(CHROM_LEN)
# non-palindromic REF/ALT pairs (avoid strand-ambiguous A/T and C/G)
ALLELE_PAIRS = [("A", "G"), ("G", "A"), ("C", "T"), ("T", "C"), ("A", "C"),
                ("C", "A"), ("G", "T"), ("T", "G")]

N_TEST_ROWS = 20


# ------------------------------------------------------------------ helpers

def log(msg):
    print(msg, flush=True)


def make_snps(rng, n, rsid_base):
    """n synthetic SNPs sorted by (chrom, pos); every 7th uses a positional
    feature_id and has no rsid."""
    chroms = rng.choice(CHROMS[:22] + ["X"], size=n,
                        p=_chrom_probs(CHROMS[:22] + ["X"]))
    snps = []
    used = set()
    for i in range(n):
        c = str(chroms[i])
        while True:
            pos = int(rng.randint(1_000_000, CHROM_LEN[c] - 1_000_000))
            if (c, pos) not in used:
                used.add((c, pos))
                break
        ref, alt = ALLELE_PAIRS[rng.randint(len(ALLELE_PAIRS))]
        p = float(rng.uniform(0.05, 0.5))
        snps.append({"chrom": c, "pos": pos, "ref": ref, "alt": alt, "p": p})
    order = CHROMS.index
    snps.sort(key=lambda s: (order(s["chrom"]), s["pos"]))
    for i, s in enumerate(snps):
        if i % 7 == 3:
            s["rsid"] = ""
            s["feature_id"] = "%s:%d:%s:%s" % (s["chrom"], s["pos"],
                                               s["ref"], s["alt"])
        else:
            s["rsid"] = "rs%d" % (rsid_base + i)
            s["feature_id"] = s["rsid"]
    return snps


def _chrom_probs(chroms):
    w = np.array([CHROM_LEN[c] for c in chroms], dtype=np.float64)
    return w / w.sum()


def features_text(snps, with_means=True):
    """features.tsv; without means a missing genotype stays missing (trees
    take default_left, as XGBoost does with NaN) instead of being imputed."""
    lines = ["feature_id\tchrom\tpos\tref\talt\tmean\trsid"]
    for s in snps:
        lines.append("%s\t%s\t%d\t%s\t%s\t%s\t%s" % (
            s["feature_id"], s["chrom"], s["pos"], s["ref"], s["alt"],
            repr(round(2.0 * s["p"], 6)) if with_means else "", s["rsid"]))
    return "\n".join(lines) + "\n"


def genotypes(rng, snps, n_rows):
    p = np.array([s["p"] for s in snps])
    return rng.binomial(2, p, size=(n_rows, len(snps))).astype(np.float64)


def causal_liability(rng, X, n_causal=5):
    """Standardised linear predictor over a few causal SNPs."""
    idx = rng.choice(X.shape[1], size=n_causal, replace=False)
    beta = rng.uniform(0.4, 1.0, size=n_causal) * rng.choice([-1, 1],
                                                             n_causal)
    z = np.nan_to_num(X[:, idx], nan=0.0) @ beta
    return (z - z.mean()) / (z.std() + 1e-12)


def binary_outcome(rng, X, n_causal=5, effect=1.5):
    z = effect * causal_liability(rng, X, n_causal) + rng.normal(
        0, 0.5, X.shape[0]) - 0.5
    return (rng.uniform(size=X.shape[0]) < 1 / (1 + np.exp(-z))).astype(
        np.float64)


def continuous_outcome(rng, X, n_causal=5, offset=0.0):
    return offset + causal_liability(rng, X, n_causal) + rng.normal(
        0, 0.7, X.shape[0])


def add_missing(rng, X, frac):
    X = X.copy()
    X[rng.uniform(size=X.shape) < frac] = np.nan
    return X


def f32_neighbours(t):
    """float32 values just below / at / above the float32 value of t."""
    t32 = np.float32(t)
    return [float(np.nextafter(t32, np.float32(-np.inf))), float(t32),
            float(np.nextafter(t32, np.float32(np.inf)))]


TRICKY_GENERIC = [0.3, 1.49999, 1.5, 0.5000001, 0.5, 0.49999999,
                  0.50000001, 1.4999999999, 1.5000000001, 1.0, 0.75]


def tricky_rows(rng, base, thresholds_per_feature, frac=0.5):
    """Replace entries of base with values at/near split thresholds."""
    X = base.copy()
    n, m = X.shape
    for j in range(m):
        cands = list(TRICKY_GENERIC)
        for t in thresholds_per_feature.get(j, []):
            cands.append(float(t))
            cands.extend(f32_neighbours(t))
            # a double strictly between two float32 values (rounds to f32(t))
            lo = f32_neighbours(t)[0]
            cands.append(float(t) - (float(np.float32(t)) - lo) * 0.25)
        cands = [c for c in cands if 0.0 <= c <= 2.0]
        for i in range(n):
            if rng.uniform() < frac:
                X[i, j] = cands[rng.randint(len(cands))]
    return X


def num(v):
    """JSON-ready number: int for integral dosages, float (repr) otherwise,
    None for NaN."""
    v = float(v)
    if np.isnan(v):
        return None
    return v


def _fmt_x(v):
    if v is None:
        return "null"
    if float(v).is_integer():
        return str(int(v))
    return repr(float(v))


def write_cases(path, feature_ids, X, margin, score, contribs=None):
    """cases.json, one matrix row per line; floats in repr precision."""
    X = np.asarray(X, dtype=np.float64)
    margin = np.asarray(margin, dtype=np.float64).reshape(-1)
    score = np.asarray(score, dtype=np.float64).reshape(-1)
    assert X.shape[0] == margin.shape[0] == score.shape[0]
    assert X.shape[1] == len(feature_ids)
    assert np.all(np.isfinite(margin)) and np.all(np.isfinite(score))
    parts = []
    parts.append('"X": [\n' + ",\n".join(
        "  [" + ", ".join(_fmt_x(num(v)) for v in row) + "]" for row in X)
        + "\n]")
    parts.append('"margin": [' + ", ".join(repr(float(v)) for v in margin)
                 + "]")
    parts.append('"score": [' + ", ".join(repr(float(v)) for v in score)
                 + "]")
    if contribs is not None:
        C = np.asarray(contribs, dtype=np.float64)
        assert C.shape == (X.shape[0], X.shape[1] + 1)
        parts.append('"contribs": [\n' + ",\n".join(
            "  [" + ", ".join(repr(float(v)) for v in row) + "]"
            for row in C) + "\n]")
    parts.append('"feature_ids": [' + ", ".join(json.dumps(f)
                                                for f in feature_ids) + "]")
    text = "{\n" + ",\n".join(parts) + "\n}\n"
    json.loads(text)  # must be valid JSON
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write_manifest(dirpath, name, description, task, fmt, artifact,
                   features=True, version="1.0.0", genome_build="GRCh38"):
    m = {"name": name, "version": version, "description": description,
         "task": task, "format": fmt, "artifact": artifact}
    if features:
        m["features"] = "features.tsv"
    m["genome_build"] = genome_build
    write_json(os.path.join(dirpath, "manifest.json"), m)
    return m


def fresh_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)


# ---------------------------------------------- XGBoost numpy re-evaluation

def xgb_json_trees(model_json):
    return model_json["learner"]["gradient_booster"]["model"]["trees"]


def xgb_numpy_margin(model_json, X, compare="f32"):
    """Re-evaluate an XGBoost 1.7 JSON model: go left iff
    float32(x) < float32(split_condition); NaN follows default_left;
    base margin = logit(base_score) for binary:logistic, else base_score
    as is (XGBoost 1.7 does NOT apply logit for binary:logitraw).
    compare="f64" evaluates with double comparisons instead (to show the
    fixture rows are sensitive to the float32 rule)."""
    learner = model_json["learner"]
    base = float(learner["learner_model_param"]["base_score"])
    obj = learner["objective"]["name"]
    if obj in ("binary:logistic", "reg:logistic"):
        base = np.log(base / (1.0 - base))
    out = np.full(X.shape[0], np.float32(base), dtype=np.float32)
    rows = np.arange(X.shape[0])
    Xc = X.astype(np.float32) if compare == "f32" else X
    for t in xgb_json_trees(model_json):
        left = np.asarray(t["left_children"])
        right = np.asarray(t["right_children"])
        feat = np.asarray(t["split_indices"])
        cond = np.asarray(t["split_conditions"], dtype=np.float32)
        if compare != "f32":
            cond = np.array([float(repr_f32(c)) for c in cond])
        dl = np.asarray(t["default_left"]).astype(bool)
        node = np.zeros(X.shape[0], dtype=np.int64)
        while True:
            active = left[node] != -1
            if not active.any():
                break
            r = rows[active]
            nd = node[active]
            x = Xc[r, feat[nd]]
            go_left = np.where(np.isnan(x), dl[nd], x < cond[nd])
            node[active] = np.where(go_left, left[nd], right[nd])
        out = (out + np.asarray(t["split_conditions"],
                                dtype=np.float32)[node]).astype(np.float32)
    return out.astype(np.float64)


def repr_f32(v):
    """Shortest decimal that round-trips the float32 v (as XGBoost's JSON
    writes it)."""
    return np.format_float_positional(np.float32(v), unique=True)


def max_unique_features_on_path(tree):
    left, right = tree["left_children"], tree["right_children"]
    feat = tree["split_indices"]
    best = 0
    stack = [(0, frozenset())]
    while stack:
        node, seen = stack.pop()
        if left[node] == -1:
            best = max(best, len(seen))
            continue
        s2 = seen | {feat[node]}
        stack.append((left[node], s2))
        stack.append((right[node], s2))
    return best


def xgb_thresholds(model_json):
    th = {}
    for t in xgb_json_trees(model_json):
        for i, l in enumerate(t["left_children"]):
            if l != -1:
                th.setdefault(t["split_indices"][i], set()).add(
                    float(np.float32(t["split_conditions"][i])))
    return {k: sorted(v) for k, v in th.items()}


# ----------------------------------------------------------- XGBoost cases

def xgb_case(outdir, name, seed, n_snps, n_trees, params, n_train=2000,
             train_missing=0.0, test_missing=0.0, task="classification",
             reg_offset=0.0, test_builder=None, description="",
             with_means=True):
    rng = np.random.RandomState(seed)
    snps = make_snps(rng, n_snps, 9000001 + 1000 * (seed % 100))
    X = genotypes(rng, snps, n_train)
    if params["objective"].startswith("binary:"):
        y = binary_outcome(rng, X)
    else:
        y = continuous_outcome(rng, X, offset=reg_offset)
    if train_missing:
        X = add_missing(rng, X, train_missing)
    full = {"tree_method": "exact", "nthread": 1, "seed": seed,
            "eta": 0.3}
    full.update(params)
    booster = xgb.train(full, xgb.DMatrix(X, label=y, missing=np.nan),
                        num_boost_round=n_trees)
    d = os.path.join(outdir, name)
    fresh_dir(d)
    model_path = os.path.join(d, "model.json")
    booster.save_model(model_path)
    with open(model_path, encoding="utf-8") as f:
        model_json = json.load(f)

    Xt = genotypes(rng, snps, N_TEST_ROWS)
    if test_builder is not None:
        Xt = test_builder(rng, Xt, model_json)
    if test_missing:
        Xt = add_missing(rng, Xt, test_missing)
        Xt[0, :] = np.nan              # a row with nothing observed
    dt = xgb.DMatrix(Xt, missing=np.nan)
    margin = booster.predict(dt, output_margin=True)
    score = booster.predict(dt)
    contribs = booster.predict(dt, pred_contribs=True)
    assert contribs.shape == (N_TEST_ROWS, n_snps + 1)
    assert np.max(np.abs(contribs.sum(axis=1) - margin)) < 1e-4

    # independent numpy re-evaluation of the saved JSON
    m_np = xgb_numpy_margin(model_json, Xt)
    err = float(np.max(np.abs(m_np - margin)))
    assert err < 1e-5, (name, err)
    m_f64 = xgb_numpy_margin(model_json, Xt, compare="f64")
    n_diff = int(np.sum(np.abs(m_f64 - margin) > 1e-6))

    with open(os.path.join(d, "features.tsv"), "w", encoding="utf-8") as f:
        f.write(features_text(snps, with_means))
    write_manifest(d, name, description or
                   "test fixture %s (synthetic)" % name, task,
                   "xgboost-json", "model.json")
    write_cases(os.path.join(d, "cases.json"),
                [s["feature_id"] for s in snps], Xt, margin, score, contribs)
    upath = max(max_unique_features_on_path(t)
                for t in xgb_json_trees(model_json))
    nodes = sum(len(t["left_children"]) for t in xgb_json_trees(model_json))
    log("  %-18s %2d trees %5d nodes, max unique features/path %2d, numpy "
        "check %.2g, rows sensitive to f32 rule: %d"
        % (name, n_trees, nodes, upath, err, n_diff))
    return {"max_unique_features_per_path": upath,
            "rows_sensitive_to_f32": n_diff}


def fractional_builder(rng, Xt, model_json):
    th = xgb_thresholds(model_json)
    Xf = tricky_rows(rng, Xt, th, frac=0.6)
    # a few rows with uniformly fractional (imputed-like) dosages
    Xf[-3:, :] = np.round(rng.uniform(0, 2, size=(3, Xf.shape[1])), 4)
    # the values named in the spec, on the features used by the first splits
    spec_vals = [0.3, 1.49999, 1.5, 0.5000001]
    for k, v in enumerate(spec_vals):
        Xf[k, :] = v
    return Xf


def xgb_cases(outdir):
    log("XGBoost cases:")
    info = {}
    xgb_case(outdir, "xgb_clf", 11, 40, 30,
             {"objective": "binary:logistic", "max_depth": 4})
    xgb_case(outdir, "xgb_clf_missing", 12, 40, 40,
             {"objective": "binary:logistic", "max_depth": 5,
              "base_score": 0.3},
             train_missing=0.10, test_missing=0.10)
    xgb_case(outdir, "xgb_reg", 13, 30, 25,
             {"objective": "reg:squarederror", "max_depth": 4,
              "base_score": 1.7},
             task="regression", reg_offset=1.7)
    xgb_case(outdir, "xgb_logitraw", 14, 20, 20,
             {"objective": "binary:logitraw", "max_depth": 3})
    info["xgb_deep"] = xgb_case(
        outdir, "xgb_deep", 15, 30, 5,
        {"objective": "binary:logistic", "max_depth": 12,
         "min_child_weight": 0}, n_train=500)
    assert info["xgb_deep"]["max_unique_features_per_path"] > 8, info
    info["xgb_fractional"] = xgb_case(
        outdir, "xgb_fractional", 16, 20, 20,
        {"objective": "binary:logistic", "max_depth": 4},
        test_builder=fractional_builder)
    assert info["xgb_fractional"]["rows_sensitive_to_f32"] > 0
    return info


# ----------------------------------------------------------- sklearn cases

def genorisk_trees_numpy(model, X, rule="f32le"):
    """Independent re-implementation of genorisk-trees prediction (reads the
    JSON dict written to disk). Split rule: left iff (double)(float)x <=
    threshold; NaN -> default_left."""
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    acc = np.zeros(n, dtype=np.float64)
    for t in model["trees"]:
        leaf_vals = np.empty(n, dtype=np.float64)
        for i in range(n):
            node = 0
            while t["children_left"][node] != -1:
                x = X[i, t["feature"][node]]
                if np.isnan(x):
                    left = t["default_left"][node] == 1
                elif rule == "f32le":
                    left = float(np.float32(x)) <= t["threshold"][node]
                elif rule == "f64le":
                    left = x <= t["threshold"][node]
                else:  # "f32lt"
                    left = float(np.float32(x)) < t["threshold"][node]
                node = (t["children_left"][node] if left
                        else t["children_right"][node])
            leaf_vals[i] = t["value"][node]
        if model["combine"] == "sum":
            acc = acc + model["learning_rate"] * leaf_vals
        else:
            acc = acc + leaf_vals
    if model["combine"] == "mean":
        acc = acc / len(model["trees"])
    margin = model["base_margin"] + acc
    if model["link"] == "logistic":
        score = 1.0 / (1.0 + np.exp(-margin))
    else:
        score = margin.copy()
    return margin, score


def genorisk_linear_numpy(model, X):
    w = np.asarray(model["weights"], dtype=np.float64)
    margin = np.asarray(X, dtype=np.float64) @ w + model["intercept"]
    if model["link"] == "logistic":
        return margin, 1.0 / (1.0 + np.exp(-margin))
    return margin, margin.copy()


def threshold_candidates(t):
    """Dosages that probe a sklearn split at double threshold t."""
    below, t32, above = f32_neighbours(t)
    c = [float(t), below, t32, above]
    if t32 == t:
        # a double above t that rounds to t in float32: left under sklearn
        c.append(t + (above - t32) * 0.25)
    return [v for v in c if 0.0 <= v <= 2.0]


def targeted_rows(rng, base, model):
    """For each row, walk a tree from the root and set each newly met
    feature to a value at/near that node's threshold."""
    X = base.copy()
    trees = model["trees"]
    for i in range(X.shape[0]):
        assigned = set()
        for k in range(3):                 # three trees per row
            t = trees[(3 * i + k) % len(trees)]
            node = 0
            while t["children_left"][node] != -1:
                f = t["feature"][node]
                thr = t["threshold"][node]
                if f not in assigned:
                    c = threshold_candidates(thr)
                    X[i, f] = c[rng.randint(len(c))]
                    assigned.add(f)
                left = float(np.float32(X[i, f])) <= thr
                node = (t["children_left"][node] if left
                        else t["children_right"][node])
    return X


def sk_case(outdir, name, est, seed, n_snps, n_train=600,
            sample_weight=False, fractional_rows=6):
    rng = np.random.RandomState(seed)
    snps = make_snps(rng, n_snps, 9000001 + 1000 * (seed % 100))
    X = genotypes(rng, snps, n_train)
    is_clf = getattr(est, "_estimator_type", "") == "classifier"
    y = binary_outcome(rng, X) if is_clf else continuous_outcome(rng, X)
    fit_kw = {}
    if sample_weight:
        fit_kw["sample_weight"] = np.round(rng.uniform(0.2, 3.0, n_train), 3)
    est.fit(X, y, **fit_kw)

    d = os.path.join(outdir, name)
    fresh_dir(d)
    manifest, model = export_sklearn.export_bundle(
        est, features_text(snps), d, name, "1.0.0",
        "test fixture %s (synthetic)" % name, "GRCh38")
    with open(os.path.join(d, "model.json"), encoding="utf-8") as f:
        model_disk = json.load(f)

    Xt = genotypes(rng, snps, N_TEST_ROWS)
    if fractional_rows and model_disk["format"] == "genorisk-trees":
        # last rows: dosages at/near the split thresholds met along a tree
        # path (incl. exactly the threshold and doubles that round to it in
        # float32) -> pins the "(double)(float)x <= threshold" rule
        Xt[-fractional_rows:] = targeted_rows(
            rng, Xt[-fractional_rows:], model_disk)
    elif fractional_rows:
        Xt[-fractional_rows:] = tricky_rows(rng, Xt[-fractional_rows:], {},
                                            frac=0.7)
    m_ref, s_ref = export_sklearn.sklearn_margin_score(est, Xt)
    if model_disk["format"] == "genorisk-trees":
        m_np, s_np = genorisk_trees_numpy(model_disk, Xt)
    else:
        m_np, s_np = genorisk_linear_numpy(model_disk, Xt)
    err = max(float(np.max(np.abs(m_np - m_ref))),
              float(np.max(np.abs(s_np - s_ref))))
    assert err < 1e-12, (name, err)
    # also check a larger random sample
    Xr = genotypes(rng, snps, 300)
    m_ref2, s_ref2 = export_sklearn.sklearn_margin_score(est, Xr)
    fn = (genorisk_trees_numpy if model_disk["format"] == "genorisk-trees"
          else genorisk_linear_numpy)
    m2, s2 = fn(model_disk, Xr)
    err2 = max(float(np.max(np.abs(m2 - m_ref2))),
               float(np.max(np.abs(s2 - s_ref2))))
    assert err2 < 1e-12, (name, err2)
    write_cases(os.path.join(d, "cases.json"),
                [s["feature_id"] for s in snps], Xt, m_ref, s_ref)
    extra = ""
    if model_disk["format"] == "genorisk-trees":
        nodes = sum(len(t["feature"]) for t in model_disk["trees"])
        sens = []
        for rule in ("f64le", "f32lt"):
            m_alt, _ = genorisk_trees_numpy(model_disk, Xt, rule)
            sens.append(int(np.sum(np.abs(m_alt - m_ref) > 1e-12)))
        extra = (", %d trees %d nodes; rows changed by double '<=': %d, "
                 "by float '<': %d" % (len(model_disk["trees"]), nodes,
                                       sens[0], sens[1]))
    log("  %-18s %-28s max |diff| vs sklearn %.2g%s"
        % (name, type(est).__name__, max(err, err2), extra))
    return est, snps


def sklearn_cases(outdir):
    log("scikit-learn cases (genorisk-trees):")
    ests = {}
    ests["sk_rf_clf"] = sk_case(outdir, "sk_rf_clf", RandomForestClassifier(
        n_estimators=15, max_depth=5, random_state=21), 21, 10)
    ests["sk_rf_reg"] = sk_case(outdir, "sk_rf_reg", RandomForestRegressor(
        n_estimators=15, max_depth=5, random_state=22), 22, 10)
    ests["sk_et_clf"] = sk_case(outdir, "sk_et_clf", ExtraTreesClassifier(
        n_estimators=15, max_depth=5, random_state=23), 23, 10)
    ests["sk_et_reg"] = sk_case(outdir, "sk_et_reg", ExtraTreesRegressor(
        n_estimators=15, max_depth=5, random_state=24), 24, 10)
    ests["sk_gb_clf"] = sk_case(outdir, "sk_gb_clf",
                                GradientBoostingClassifier(
                                    n_estimators=20, max_depth=3,
                                    learning_rate=0.1, random_state=25),
                                25, 10)
    ests["sk_gb_reg"] = sk_case(outdir, "sk_gb_reg",
                                GradientBoostingRegressor(
                                    n_estimators=20, max_depth=3,
                                    learning_rate=0.1, random_state=26),
                                26, 10)
    ests["sk_dt_clf"] = sk_case(outdir, "sk_dt_clf", DecisionTreeClassifier(
        max_depth=6, random_state=27), 27, 10)
    ests["sk_dt_reg"] = sk_case(outdir, "sk_dt_reg", DecisionTreeRegressor(
        max_depth=6, random_state=28), 28, 10)
    ests["sk_rf_clf_weighted"] = sk_case(
        outdir, "sk_rf_clf_weighted", RandomForestClassifier(
            n_estimators=15, max_depth=5, random_state=29), 29, 10,
        sample_weight=True)
    log("scikit-learn cases (genorisk-linear):")
    ests["lin_logistic"] = sk_case(outdir, "lin_logistic", LogisticRegression(
        C=1.0, max_iter=2000), 31, 30)
    ests["lin_ols"] = sk_case(outdir, "lin_ols", LinearRegression(), 32, 30)
    ests["lin_ridge"] = sk_case(outdir, "lin_ridge", Ridge(alpha=1.0),
                                33, 30)
    ests["lin_lasso"] = sk_case(outdir, "lin_lasso", Lasso(alpha=0.01),
                                34, 30)
    ests["lin_enet"] = sk_case(outdir, "lin_enet", ElasticNet(
        alpha=0.01, l1_ratio=0.5), 35, 30)
    return ests


# ------------------------------------------------- export_sklearn CLI check

def check_cli(outdir, ests):
    """Run tools/export_sklearn.py as a program: it must reproduce the
    fixture bundles byte-for-byte and refuse bad inputs with exit 1."""
    log("export_sklearn.py command-line checks:")
    script = os.path.join(HERE, "export_sklearn.py")
    with tempfile.TemporaryDirectory() as tmp:
        def run(est, feats, name="x", expect_ok=True, extra=()):
            pkl = os.path.join(tmp, "m.pkl")
            with open(pkl, "wb") as f:
                pickle.dump(est, f)
            fpath = os.path.join(tmp, "f.tsv")
            with open(fpath, "w", encoding="utf-8") as f:
                f.write(feats)
            out = os.path.join(tmp, "out")
            if os.path.isdir(out):
                shutil.rmtree(out)
            p = subprocess.run([PYTHON, script, pkl, "--features", fpath,
                                "--name", name, "--out", out] + list(extra),
                               capture_output=True, text=True)
            if expect_ok:
                assert p.returncode == 0, p.stderr
            else:
                assert p.returncode == 1 and p.stderr.strip(), (
                    p.returncode, p.stderr)
                assert not os.path.exists(os.path.join(out, "manifest.json"))
            return p, out

        for case in ("sk_gb_clf", "lin_logistic"):
            est, snps = ests[case]
            fdir = os.path.join(outdir, case)
            man = json.load(open(os.path.join(fdir, "manifest.json")))
            _, out = run(est, features_text(snps), man["name"],
                         extra=["--version", man["version"], "--description",
                                man["description"], "--genome-build",
                                man["genome_build"]])
            for fn in ("manifest.json", "model.json", "features.tsv"):
                a = open(os.path.join(out, fn), "rb").read()
                b = open(os.path.join(fdir, fn), "rb").read()
                assert a == b, (case, fn)
            log("  CLI reproduces %s byte-for-byte" % case)

        rng = np.random.RandomState(99)
        snps = make_snps(rng, 6, 9000001)
        X = genotypes(rng, snps, 300)
        y3 = rng.randint(0, 3, 300)
        yb = binary_outcome(rng, X)
        ft = features_text(snps)
        bad = [
            ("multi-class", RandomForestClassifier(
                n_estimators=3, random_state=0).fit(X, y3), ft),
            ("multi-class logistic", LogisticRegression().fit(X, y3), ft),
            ("row count", RandomForestClassifier(
                n_estimators=3, random_state=0).fit(X, yb),
             "\n".join(ft.split("\n")[:-2]) + "\n"),
            ("GB non-default init", GradientBoostingRegressor(
                n_estimators=3, init=LinearRegression()).fit(
                    X, yb + X[:, 0]), ft),
            ("GB exponential loss", GradientBoostingClassifier(
                n_estimators=3, loss="exponential").fit(X, yb), ft),
            ("unsupported estimator", __import__(
                "sklearn.svm", fromlist=["SVC"]).SVC().fit(X, yb), ft),
            ("bad header", RandomForestClassifier(
                n_estimators=3, random_state=0).fit(X, yb),
             ft.replace("feature_id", "id", 1)),
            ("bad allele", RandomForestClassifier(
                n_estimators=3, random_state=0).fit(X, yb),
             ft.replace("\tA\t", "\tN\t", 1)),
        ]
        for what, est, feats in bad:
            p, _ = run(est, feats, expect_ok=False)
            log("  refuses %-22s: %s" % (what, p.stderr.strip()[:110]))
        p, _ = run(RandomForestClassifier(n_estimators=3, random_state=0).fit(
            X, yb), ft, name="Bad Name", expect_ok=False)
        log("  refuses %-22s: %s" % ("bad name", p.stderr.strip()[:110]))
        # minimal header (no mean/rsid) is accepted and normalised
        minimal = "\n".join("\t".join(line.split("\t")[:5])
                            for line in ft.rstrip("\n").split("\n")) + "\n"
        _, out = run(RandomForestClassifier(n_estimators=3, random_state=0)
                     .fit(X, yb), minimal, name="minimal")
        hdr = open(os.path.join(out, "features.tsv")).readline().rstrip("\n")
        assert hdr == "\t".join(export_sklearn.FEATURES_HEADER), hdr
        log("  accepts a features file without mean/rsid (normalised)")


# -------------------------------------------------------------- PGS cases

def pgs000001_case(outdir, source):
    log("PGS cases:")
    d = os.path.join(outdir, "pgs000001")
    fname = "PGS000001_hmPOS_GRCh38.txt"
    with open(source, "rb") as f:   # read before fresh_dir: it may live in d
        raw = f.read()
    fresh_dir(d)
    with open(os.path.join(d, fname), "wb") as f:
        f.write(raw)
    with open(os.path.join(d, fname + ".gz"), "wb") as f:
        f.write(gzip.compress(raw, compresslevel=9, mtime=0))
    text = raw.decode("utf-8")
    header = None
    rows = []
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        cells = line.rstrip("\r").split("\t")
        if header is None:
            header = cells
            continue
        rows.append(dict(zip(header, cells)))
    assert len(rows) == 77, len(rows)
    w = np.array([float(r["effect_weight"]) for r in rows])
    ids = [r["rsID"] for r in rows]
    write_manifest(d, "pgs000001", "PGS000001 (PRS77_BC, breast cancer; "
                   "Mavaddat 2015), PGS Catalog harmonized GRCh38 scoring "
                   "file - test fixture", "regression", "pgs-catalog", fname,
                   features=False, version="1.0")
    rng = np.random.RandomState(41)
    n = 10
    X = rng.binomial(2, 0.3, size=(n, len(rows))).astype(np.float64)
    X[rng.uniform(size=X.shape) < 0.1] = np.nan
    X[0, :] = rng.binomial(2, 0.3, size=len(rows))     # complete row
    X[1, :] = 0.0                                      # all reference
    X[2, :] = np.nan                                   # nothing observed
    X[3, :] = np.round(rng.uniform(0, 2, len(rows)), 3)  # imputed dosages
    # a variant listed twice in the file is one genotype: same dosage
    first = {}
    for j, rid in enumerate(ids):
        if rid in first:
            X[:, j] = X[:, first[rid]]
        else:
            first[rid] = j
    dups = sorted({rid for rid in ids if ids.count(rid) > 1})
    margin = np.nansum(X * w, axis=1)
    write_cases(os.path.join(d, "cases.json"), ids, X, margin, margin)
    assert not dups, dups
    log("  pgs000001: %d variants, %d rows" % (len(rows), n))


def pgs_synth_case(outdir):
    d = os.path.join(outdir, "pgs_synth")
    fresh_dir(d)
    rng = np.random.RandomState(42)
    n = 25
    chroms = [CHROMS[i % 22] for i in range(n - 1)] + ["X"]
    recs = []
    for i, c in enumerate(chroms):
        pos = int(rng.randint(1_000_000, CHROM_LEN[c] - 1_000_000))
        other, effect = ALLELE_PAIRS[rng.randint(len(ALLELE_PAIRS))]
        wt = round(float(rng.normal(0, 0.15)), 6)
        p = round(float(rng.uniform(0.05, 0.6)), 4)
        dom = i in (2, 9, 17)
        rec = i in (5, 13, 21)
        recs.append((c, pos, effect, other, wt, dom, rec, p))
    recs.sort(key=lambda r: (CHROMS.index(r[0]), r[1]))
    lines = ["###PGS CATALOG SCORING FILE - see https://www.pgscatalog.org/"
             "downloads/#dl_ftp_scoring for additional information",
             "#format_version=2.0",
             "##POLYGENIC SCORE (PGS) INFORMATION",
             "#pgs_id=PGS_SYNTH",
             "#pgs_name=SYNTH25",
             "#trait_reported=Synthetic test trait",
             "#genome_build=GRCh38",
             "#variants_number=%d" % n,
             "#weight_type=beta",
             "chr_name\tchr_position\teffect_allele\tother_allele\t"
             "effect_weight\tis_dominant\tis_recessive\t"
             "allelefrequency_effect"]
    for c, pos, ea, oa, wt, dom, rec, p in recs:
        lines.append("%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s" % (
            c, pos, ea, oa, repr(wt), "True" if dom else "False",
            "True" if rec else "False", repr(p)))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(d, "pgs_synth.txt.gz"), "wb") as f:
        f.write(gzip.compress(text.encode("utf-8"), compresslevel=9,
                              mtime=0))
    write_manifest(d, "pgs_synth", "synthetic PGS Catalog format 2.0 "
                   "scoring file with dominant/recessive variants - test "
                   "fixture", "regression", "pgs-catalog", "pgs_synth.txt.gz",
                   features=False, version="1.0")
    # expected values computed from the text as written (parsed back)
    parsed = [line.split("\t") for line in lines[10:]]
    assert len(parsed) == n and lines[9].startswith("chr_name")
    w = np.array([float(r[4]) for r in parsed])
    dom = np.array([r[5] == "True" for r in parsed])
    rec = np.array([r[6] == "True" for r in parsed])
    p = np.array([float(r[7]) for r in parsed])
    ids = ["%s:%s:%s:%s" % (r[0], r[1], r[3], r[2]) for r in parsed]
    X = rng.binomial(2, p, size=(12, n)).astype(np.float64)
    X[rng.uniform(size=X.shape) < 0.12] = np.nan
    X[0, :] = 2.0
    X[1, :] = 0.0
    X[2, :] = np.nan
    X[3, :] = np.round(rng.uniform(0, 2, n), 3)        # fractional dosages
    X[4, :] = np.array([0.5, 1.5, 1.0, 0.25, 1.75] * 5)
    g = np.where(dom, np.minimum(X, 1.0),
                 np.where(rec, np.maximum(X - 1.0, 0.0), X))
    eg = np.where(dom, 1.0 - (1.0 - p) ** 2, np.where(rec, p ** 2, 2.0 * p))
    contrib = np.where(np.isnan(X), w * eg, w * g)
    margin = contrib.sum(axis=1)
    write_cases(os.path.join(d, "cases.json"), ids, X, margin, margin)
    log("  pgs_synth: %d variants (%d dominant, %d recessive), %d rows"
        % (n, dom.sum(), rec.sum(), X.shape[0]))


# ------------------------------------------------ a tiny reference population

TINY_POPS = ["POP-A", "POP-B", "POP-C"]
TINY_PER_POP = 10
TINY_VARIANTS = 30
TINY_DIM_ONLINE = 20  # the least OADP allows: dim_stu (20)
TINY_TREES = 4
TINY_SAMPLES = ["TINY-001", "TINY-002", "TINY-003"]


def tiny_ref_cases(outdir):
    """ref_tiny (a genorisk-reference bundle, tools/make_reference.py
    build_from_genotypes with few trees and dim_online 20) and pgs_tiny_ref
    (a PGS Catalog bundle over its 30 variants whose manifest names it, with
    a risk block), small enough for tests/unit/alloc_fail_test.c to fail
    every allocation of a load or a placed prediction in turn. pgs_tiny_ref
    also holds tiny.vcf (three samples at the 30 variants), example.json
    (two of them as a JSON request) and adjust.pcs / adjust_scores.txt
    (genorisk adjust inputs)."""
    import make_reference
    rng = np.random.RandomState(20261207)
    used, snps = set(), []
    for _ in range(TINY_VARIANTS):
        c = str(rng.choice(CHROMS[:22], p=_chrom_probs(CHROMS[:22])))
        while True:
            pos = int(rng.randint(1_000_000, CHROM_LEN[c] - 1_000_000))
            if (c, pos) not in used:
                used.add((c, pos))
                break
        ref, alt = ALLELE_PAIRS[rng.randint(len(ALLELE_PAIRS))]
        snps.append({"chrom": c, "pos": pos, "ref": ref, "alt": alt,
                     "p": round(float(rng.uniform(0.1, 0.5)), 4),
                     "w": round(float(rng.normal(0, 0.2)), 6)})
    snps.sort(key=lambda s: (CHROMS.index(s["chrom"]), s["pos"]))
    # three populations drifted from the panel's frequencies (F = 0.1)
    anc = np.array([s["p"] for s in snps])
    a, b = anc * 9.0, (1 - anc) * 9.0
    D, labels, iids = [], [], []
    for pop in TINY_POPS:
        pk = np.clip(rng.beta(a, b), 0.05, 0.95)
        D.append(rng.binomial(2, pk, size=(TINY_PER_POP, len(snps))))
        labels += [pop] * TINY_PER_POP
        iids += ["%s-%02d" % (pop, i + 1) for i in range(TINY_PER_POP)]
    D = np.vstack(D).T.astype(np.float64)          # variants x samples
    w = np.array([s["w"] for s in snps])
    score = [float(v) for v in w @ D]
    variants = [(s["chrom"], s["pos"], s["ref"], s["alt"], ".") for s in snps]
    ref, clf, proj, vtext, (sids, spcs) = make_reference.build_from_genotypes(
        variants, iids, D, labels, [False] * len(iids),
        {"pgs_tiny_ref": score}, {"pgs_tiny_ref": len(snps)},
        var_opts={"maf": 0.0, "max_missing": 1.0, "hwe": 0.0},
        log=lambda msg: None, n_trees=TINY_TREES, dim_online=TINY_DIM_ONLINE)
    assert proj["n_variants"] == len(snps) and proj["dim_online"] == 20
    d = os.path.join(outdir, "ref_tiny")
    fresh_dir(d)
    doc = make_reference.assemble(
        ref, "ref_tiny", "SYNTHETIC test fixture: three made-up populations "
        "x 10 samples at 30 made-up variants, for the allocation failure "
        "test.", True, "GRCh38", "population",
        "tools/make_fixtures.py (synthetic; fitted by tools/make_reference.py "
        "build_from_genotypes)",
        {"method": "oadp", "file": "projection.json",
         "variants": "projection_variants.tsv"})
    make_reference.write_bundle(d, doc, clf, proj, vtext)

    d = os.path.join(outdir, "pgs_tiny_ref")
    fresh_dir(d)
    lines = ["###PGS CATALOG SCORING FILE - see https://www.pgscatalog.org/"
             "downloads/#dl_ftp_scoring for additional information",
             "#format_version=2.0",
             "##POLYGENIC SCORE (PGS) INFORMATION",
             "#pgs_id=PGS_TINY_REF",
             "#pgs_name=TINY30",
             "#trait_reported=Synthetic test trait",
             "#genome_build=GRCh38",
             "#variants_number=%d" % len(snps),
             "#weight_type=beta",
             "chr_name\tchr_position\teffect_allele\tother_allele\t"
             "effect_weight\tallelefrequency_effect"]
    for s in snps:  # effect allele = ALT, as the reference counts it
        lines.append("%s\t%d\t%s\t%s\t%s\t%s" % (
            s["chrom"], s["pos"], s["alt"], s["ref"], repr(s["w"]),
            repr(s["p"])))
    with open(os.path.join(d, "pgs_tiny_ref.txt"), "w",
              encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    m = write_manifest(d, "pgs_tiny_ref", "synthetic PGS Catalog scoring file "
                       "over ref_tiny's 30 variants, read against ref_tiny - "
                       "test fixture", "regression", "pgs-catalog",
                       "pgs_tiny_ref.txt", features=False)
    m["synthetic"] = True
    m["reference"] = "ref_tiny"
    m["risk"] = {"categories": [{"name": "low", "from": 0},
                                {"name": "average", "from": 20},
                                {"name": "high", "from": 80}],
                 "prevalence": 0.06, "auc": 0.62, "z": "z_norm2"}
    write_json(os.path.join(d, "manifest.json"), m)
    # three samples drawn from POP-A, POP-B and POP-C's first frequencies
    G = np.array([rng.binomial(2, np.clip(anc, 0.05, 0.95))
                  for _ in TINY_SAMPLES])      # samples x variants
    vcf = ["##fileformat=VCFv4.2",
           "##source=tools/make_fixtures.py (synthetic test fixture)",
           "##reference=GRCh38",
           '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']
    vcf += ["##contig=<ID=chr%s,length=%d>" % (c, CHROM_LEN[c])
            for c in CHROMS[:22] if any(s["chrom"] == c for s in snps)]
    vcf.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL",
                          "FILTER", "INFO", "FORMAT"] + TINY_SAMPLES))
    for j, s in enumerate(snps):
        swap = j % 5 == 2   # REF/ALT in the other order, as VCFs may have them
        ref, alt = (s["alt"], s["ref"]) if swap else (s["ref"], s["alt"])
        calls = []
        for k in range(len(TINY_SAMPLES)):
            n_alt = 2 - G[k, j] if swap else G[k, j]
            calls.append("./." if (j * 3 + k) % 17 == 5 else
                         ["0/0", "0/1", "1/1"][n_alt])
        vcf.append("\t".join(["chr" + s["chrom"], str(s["pos"]), ".", ref, alt,
                              ".", "PASS", ".", "GT"] + calls))
    with open(os.path.join(d, "tiny.vcf"), "w", encoding="utf-8") as f:
        f.write("\n".join(vcf) + "\n")
    samples = []
    for k in range(2):
        geno = {}
        for j, s in enumerate(snps):
            key = "%s:%d:%s:%s" % (s["chrom"], s["pos"], s["ref"], s["alt"])
            geno[key] = None if (j + k) % 11 == 4 else int(G[k, j])
        samples.append({"id": TINY_SAMPLES[k], "genotypes": geno})
    write_json(os.path.join(d, "example.json"),
               {"samples": samples, "explain": True, "top_k": 3})
    # genorisk adjust: two samples' PCs near two reference samples', their
    # scores (and a reference row, skipped)
    pcl = ["FID\tIID\t" + "\t".join("PC%d" % (j + 1)
                                      for j in range(spcs.shape[1]))]
    scl = ["sampleset\tFID\tIID\tPGS\tSUM"]
    for k, r in enumerate((0, 2 * TINY_PER_POP - 1)):
        pcs = spcs[r] + rng.normal(0, 0.05, size=spcs.shape[1])
        pcl.append("FAM%d\t%s\t%s" % (k + 1, TINY_SAMPLES[k], "\t".join(
            repr(round(float(v), 6)) for v in pcs)))
        scl.append("target\tFAM%d\t%s\tpgs_tiny_ref\t%s" % (
            k + 1, TINY_SAMPLES[k], repr(round(score[r] + 0.1, 6))))
    scl.append("reference\t%s\t%s\tpgs_tiny_ref\t0.5" % (sids[0][0],
                                                          sids[0][1]))
    with open(os.path.join(d, "adjust.pcs"), "w", encoding="utf-8") as f:
        f.write("\n".join(pcl) + "\n")
    with open(os.path.join(d, "adjust_scores.txt"), "w",
              encoding="utf-8") as f:
        f.write("\n".join(scl) + "\n")
    log("  ref_tiny, pgs_tiny_ref: %d variants, %d reference samples"
        % (len(snps), len(iids)))


README = """\
# genorisk test fixtures

**Generated files - do not edit by hand.** Regenerate with

    tools/make_fixtures.py            # writes tests/fixtures/ (deterministic)

(Debian's `/usr/bin/python3` with python3-xgboost 1.7.4, python3-sklearn
1.2.1 and numpy; re-running reproduces the same bytes.)

All genotypes, outcomes and models are **synthetic** (ALT dosages drawn as
binomial(2, p), p ~ U(0.05, 0.5); outcomes from a logistic/linear model over a
few causal SNPs plus noise), except `pgs000001/`, which is a byte-for-byte copy
of the PGS Catalog scoring file PGS000001 (harmonized, GRCh38).

## Layout

Each directory is a model bundle (`manifest.json`, the artifact, and
`features.tsv` except for PGS bundles) plus `cases.json`:

    {"X": [[dosage or null, ...], ...],   rows x n_features, null = missing
     "margin": [...],                      raw output before the link
     "score": [...],                       final prediction
     "contribs": [[...], ...],             XGBoost only: n_features+1, bias LAST
     "feature_ids": [...]}                 column ids, same order as X

* XGBoost (`xgb_*`, format xgboost-json): margin = `predict(output_margin=True)`,
  score = `predict()`, contribs = `predict(pred_contribs=True)` (float32 values
  widened to double). Split rule: left iff `(float)x < (float)split_condition`;
  missing -> `default_left`; base margin = logit(base_score) for
  binary:logistic, but base_score as is for binary:logitraw (XGBoost 1.7 does
  not transform it: default 0.5 is a raw margin of 0.5) and reg:squarederror.
  * `xgb_clf`: binary:logistic, 40 SNPs, 30 trees, depth 4.
  * `xgb_clf_missing`: binary:logistic, 40 SNPs, 40 trees, depth 5,
    base_score 0.3, ~10% missing in training and test rows (row 0 all missing);
    features.tsv has means, as docs/model-format.md recommends, and genorisk
    must still score missing calls as XGBoost does (impute defaults to none).
  * `xgb_reg`: reg:squarederror, 30 SNPs, 25 trees, depth 4, base_score 1.7.
  * `xgb_logitraw`: binary:logitraw, 20 SNPs, 20 trees, depth 3 (score = margin).
  * `xgb_deep`: binary:logistic, 30 SNPs, 5 trees, depth 12, min_child_weight 0;
    paths with more than 8 distinct features.
  * `xgb_fractional`: binary:logistic, 20 SNPs, 20 trees, depth 4; test rows with
    fractional dosages at/near split thresholds (0.3, 1.49999, 1.5, 0.5000001,
    float32 neighbours of thresholds, doubles that round to a threshold in
    float32) - some rows change if compared in double instead of float32.
* scikit-learn (`sk_*` genorisk-trees, `lin_*` genorisk-linear), exported with
  `tools/export_sklearn.py`: margin = predict_proba[:,1] for forest/tree
  classifiers, decision_function for GradientBoostingClassifier and
  LogisticRegression, predict for regressors; score = predict_proba[:,1] for
  classifiers, predict for regressors. 10 SNPs for trees (small enough to
  brute-force Shapley values), 30 for linear. No missing values (sklearn 1.2
  cannot predict with NaN). The last 6 rows hold fractional dosages at/near
  the split thresholds met along tree paths (exactly the threshold, its
  float32 neighbours, doubles that round to it in float32): genorisk-trees
  splits go left iff `(double)(float)x <= threshold` (sklearn semantics);
  comparing in double, or with `<`, changes some of these rows.
  `sk_rf_clf_weighted` was fit with sample weights (covers are weighted).
* PGS Catalog (`pgs-catalog`, task regression):
  * `pgs000001`: the scoring file (plain and `.gz`); X columns are its 77 data
    rows in file order, dosage = count of the effect allele; margin = score =
    sum(effect_weight * dosage), nulls skipped (no allele frequencies). Row 2
    is all null (margin 0), row 3 has fractional (imputed) dosages.
  * `pgs_synth`: synthetic format 2.0 file (gzipped) with is_dominant /
    is_recessive / allelefrequency_effect. margin = score = sum w*g(d) with
    g(d) = d, min(d,1) (dominant), max(d-1,0) (recessive); a null contributes
    w*E[g] = w*2p, w*(1-(1-p)^2), w*p^2 respectively. Feature ids are
    `chrom:pos:other_allele:effect_allele`.
* Reference population (no cases.json; for `tests/unit/alloc_fail_test.c`):
  `ref_tiny` is a `genorisk-reference` bundle fitted by
  `tools/make_reference.py` (`build_from_genotypes`, 4 trees, dim_online 20)
  on three made-up populations x 10 samples at 30 made-up variants;
  `pgs_tiny_ref` a PGS Catalog bundle over those variants whose manifest
  names `ref_tiny` and declares a risk block, with `tiny.vcf` (three samples
  at its variants), `example.json` (two of them as a request) and
  `adjust.pcs` / `adjust_scores.txt` (`genorisk adjust` inputs).

Three directories come from their own scripts, not this one:
`risk/risk.json` (`tools/make_risk_fixture.py`: SciPy's normal distribution,
R2 from the AUC, logistic intercepts and absolute risks, for
`tests/unit/test_risk.c`), `sha256/` (`tools/make_sha256_fixture.py`: a
pseudo-random file and hashlib's digests of it, for
`tests/unit/test_sha256.c`) and `adjust/` (`tools/make_adjust_fixture.py`:
PCs and pgsc_calc score tables of three made-up samples in every layout
`genorisk adjust` reads, and one broken file per error, for
`tests/unit/test_adjust.c`).

Floats are written with Python's repr (round-trips to the same double).
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"),
                    help="output directory (default: tests/fixtures)")
    ap.add_argument("--pgs-source",
                    default=os.path.join(REPO, "tests", "fixtures", "pgs000001",
                                         "PGS000001_hmPOS_GRCh38.txt"),
                    help="PGS000001 harmonized scoring file to copy (default: "
                         "the committed copy, from the PGS Catalog)")
    ap.add_argument("--skip-cli-check", action="store_true",
                    help="do not exercise export_sklearn.py as a program")
    args = ap.parse_args()
    warnings.simplefilter("ignore", FutureWarning)
    os.makedirs(args.out, exist_ok=True)
    info = xgb_cases(args.out)
    ests = sklearn_cases(args.out)
    pgs000001_case(args.out, args.pgs_source)
    pgs_synth_case(args.out)
    tiny_ref_cases(args.out)
    with open(os.path.join(args.out, "README.md"), "w",
              encoding="utf-8") as f:
        f.write(README)
    if not args.skip_cli_check:
        check_cli(args.out, ests)
    total = 0
    biggest = (0, "")
    for root, _, files in os.walk(args.out):
        for fn in files:
            sz = os.path.getsize(os.path.join(root, fn))
            total += sz
            biggest = max(biggest, (sz, os.path.join(root, fn)))
    assert biggest[0] < 1_000_000, biggest
    log("done: %s, %.1f kB total, largest file %s (%.1f kB); xgb_deep max "
        "unique features per path = %d"
        % (args.out, total / 1e3, os.path.relpath(biggest[1], args.out),
           biggest[0] / 1e3, info["xgb_deep"]["max_unique_features_per_path"]))


if __name__ == "__main__":
    main()
