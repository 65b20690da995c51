#!/usr/bin/python3
"""Export a fitted scikit-learn model (pickle) to a genorisk model bundle.

Writes DIR/manifest.json, DIR/model.json and DIR/features.tsv so that the
genorisk C service can load the model without Python.

Supported estimators (scikit-learn 1.2, single output, binary classifiers):
  genorisk-trees : RandomForestClassifier/Regressor, ExtraTreesClassifier/
                   Regressor, DecisionTreeClassifier/Regressor,
                   GradientBoostingClassifier (binary)/Regressor
  genorisk-linear: LogisticRegression (binary), LinearRegression, Ridge,
                   Lasso, ElasticNet

genorisk-trees JSON:
  {"format":"genorisk-trees","format_version":1,"estimator":NAME,
   "n_features":N,"combine":"mean"|"sum","learning_rate":LR,
   "base_margin":B,"link":"identity"|"logistic","trees":[TREE,...]}
  TREE = {"children_left","children_right","feature","threshold","value",
          "cover","default_left"}, parallel per-node arrays taken from the
  fitted tree_ (leaves: children -1, feature -2, threshold -2).
  value: classifiers -> class-1 fraction of the node; regressors -> node
  mean; gradient boosting -> stage tree value (NOT scaled by learning_rate).
  cover = tree_.weighted_n_node_samples.
  default_left (missing values; sklearn 1.2 has none, so this is the
  documented rule): 1 when cover[left] >= cover[right], else 0; leaves 0.
  Split rule (sklearn semantics): go left iff (double)(float)x <= threshold,
  i.e. the dosage is rounded to float32 first, then compared as double with
  "<=" (XGBoost uses "<" instead).
  Prediction: margin = base_margin + sum_t(v_t)/T         (combine "mean")
              margin = base_margin + sum_t(learning_rate * v_t)  ("sum")
              score  = margin (identity) or 1/(1+exp(-margin)) (logistic)

genorisk-linear JSON:
  {"format":"genorisk-linear","format_version":1,"estimator":NAME,
   "n_features":N,"intercept":B,"weights":[...],"link":"logistic"|"identity"}
  margin = intercept + sum_i(weights[i]*x_i).

Every export is verified before anything is written: the exported model is
evaluated in numpy on random probe genotypes (0/1/2 and fractional dosages)
and compared with the estimator's decision_function/predict/predict_proba.

Usage:
  tools/export_sklearn.py MODEL.pkl --features FEATURES.tsv --name NAME \
      [--version V] [--description D] [--genome-build GRCh38] --out DIR
Errors go to stderr with exit status 1.
"""

import argparse
import json
import os
import pickle
import re
import sys
import warnings

import numpy as np

FORMAT_VERSION = 1
FEATURES_HEADER = ["feature_id", "chrom", "pos", "ref", "alt", "mean", "rsid"]
REQUIRED_COLUMNS = ["feature_id", "chrom", "pos", "ref", "alt"]
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
CHROMS = {str(i) for i in range(1, 23)} | {"X", "Y", "MT"}
BASES = {"A", "C", "G", "T"}
GENOME_BUILDS = ("GRCh37", "GRCh38")

TREE_CLASSIFIERS = ("RandomForestClassifier", "ExtraTreesClassifier",
                    "DecisionTreeClassifier")
TREE_REGRESSORS = ("RandomForestRegressor", "ExtraTreesRegressor",
                   "DecisionTreeRegressor")
GB_MODELS = ("GradientBoostingClassifier", "GradientBoostingRegressor")
LINEAR_MODELS = ("LogisticRegression", "LinearRegression", "Ridge", "Lasso",
                 "ElasticNet")
SUPPORTED = TREE_CLASSIFIERS + TREE_REGRESSORS + GB_MODELS + LINEAR_MODELS

# Relative tolerance of the built-in verification against scikit-learn.
VERIFY_TOL = 1e-9


class ExportError(Exception):
    """A problem that makes the export impossible (reported, exit 1)."""


# ---------------------------------------------------------------- features

def parse_features(text, source="features file"):
    """Validate a features.tsv text; return the list of row dicts.

    The header must contain feature_id, chrom, pos, ref, alt; mean and rsid
    are optional. Raises ExportError naming the problem.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise ExportError("%s is empty (expected a header line)" % source)
    header = [h.strip() for h in lines[0].rstrip("\r").split("\t")]
    for col in REQUIRED_COLUMNS:
        if col not in header:
            raise ExportError("%s: header lacks required column '%s' "
                              "(expected: %s)" % (source, col,
                                                  "\\t".join(FEATURES_HEADER)))
    if len(set(header)) != len(header):
        raise ExportError("%s: duplicate column names in header" % source)
    unknown = [h for h in header if h not in FEATURES_HEADER]
    if unknown:
        raise ExportError("%s: unknown column(s) in header: %s"
                          % (source, ", ".join(unknown)))
    idx = {h: i for i, h in enumerate(header)}
    rows = []
    seen = set()
    for lineno, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if line.strip() == "":
            raise ExportError("%s line %d: empty line" % (source, lineno))
        cells = line.split("\t")
        if len(cells) != len(header):
            raise ExportError("%s line %d: %d columns, header has %d"
                              % (source, lineno, len(cells), len(header)))
        get = lambda c: cells[idx[c]].strip() if c in idx else ""
        fid = get("feature_id")
        where = "%s line %d" % (source, lineno)
        if not fid or any(ch.isspace() for ch in fid):
            raise ExportError("%s: invalid feature_id %r" % (where, fid))
        if fid in seen:
            raise ExportError("%s: duplicate feature_id %r" % (where, fid))
        seen.add(fid)
        chrom = get("chrom")
        if chrom not in CHROMS:
            raise ExportError("%s: invalid chrom %r (use 1..22, X, Y, MT "
                              "without a 'chr' prefix)" % (where, chrom))
        pos = get("pos")
        if not re.fullmatch(r"[0-9]+", pos) or int(pos) < 1:
            raise ExportError("%s: invalid pos %r (1-based integer)"
                              % (where, pos))
        ref, alt = get("ref"), get("alt")
        if ref not in BASES or alt not in BASES:
            raise ExportError("%s: ref/alt must be single bases A/C/G/T, "
                              "got %r/%r" % (where, ref, alt))
        if ref == alt:
            raise ExportError("%s: ref equals alt (%r)" % (where, ref))
        mean = get("mean")
        if mean != "":
            try:
                m = float(mean)
            except ValueError:
                raise ExportError("%s: mean %r is not a number"
                                  % (where, mean))
            if not (0.0 <= m <= 2.0):
                raise ExportError("%s: mean %r outside 0..2" % (where, mean))
        rsid = get("rsid")
        if rsid != "" and not re.fullmatch(r"rs[0-9]+", rsid):
            raise ExportError("%s: invalid rsid %r" % (where, rsid))
        rows.append({"feature_id": fid, "chrom": chrom, "pos": int(pos),
                     "ref": ref, "alt": alt, "mean": mean, "rsid": rsid})
    return header, rows


def canonical_features_text(text, source="features file"):
    """Return the features text to store in a bundle.

    A file that already has the canonical 7-column header (and LF line
    ends) is copied byte-for-byte; otherwise it is rewritten with the
    canonical header (absent mean/rsid columns become empty cells) and LF
    line ends.
    """
    header, rows = parse_features(text, source)
    if header == FEATURES_HEADER and "\r" not in text:
        return text if text.endswith("\n") else text + "\n", rows
    out = ["\t".join(FEATURES_HEADER)]
    for r in rows:
        out.append("\t".join([r["feature_id"], r["chrom"], str(r["pos"]),
                              r["ref"], r["alt"], r["mean"], r["rsid"]]))
    return "\n".join(out) + "\n", rows


# ------------------------------------------------------------------ models

def _estimator_name(est):
    return type(est).__name__


def _check_fitted_common(est):
    name = _estimator_name(est)
    if name not in SUPPORTED:
        raise ExportError("unsupported estimator %s (supported: %s)"
                          % (type(est).__module__ + "." + name,
                             ", ".join(SUPPORTED)))
    if not hasattr(est, "n_features_in_"):
        raise ExportError("%s is not fitted (no n_features_in_)" % name)
    if getattr(est, "n_outputs_", 1) != 1:
        raise ExportError("%s has %d outputs; only single-output models are "
                          "supported" % (name, est.n_outputs_))
    if hasattr(est, "classes_") and len(est.classes_) != 2:
        raise ExportError("%s has %d classes; only binary classifiers are "
                          "supported (multi-class is not)"
                          % (name, len(est.classes_)))
    return name


def _tree_arrays(tree, kind):
    """Per-node arrays of one sklearn Tree. kind: 'proba' | 'value'."""
    t = tree.tree_
    left = t.children_left.astype(np.int64)
    right = t.children_right.astype(np.int64)
    cover = t.weighted_n_node_samples.astype(np.float64)
    if kind == "proba":
        if t.value.shape[1] != 1 or t.value.shape[2] != 2:
            raise ExportError("tree value has shape %r; expected a binary "
                              "single-output classifier" % (t.value.shape,))
        tot = t.value[:, 0, :].sum(axis=1)
        value = t.value[:, 0, 1] / tot
    else:
        if t.value.shape[1] != 1 or t.value.shape[2] != 1:
            raise ExportError("tree value has shape %r; expected a single-"
                              "output regression tree" % (t.value.shape,))
        value = t.value[:, 0, 0]
    default_left = np.zeros(len(left), dtype=np.int64)
    internal = left != -1
    default_left[internal] = (cover[left[internal]] >=
                              cover[right[internal]]).astype(np.int64)
    return {
        "children_left": [int(v) for v in left],
        "children_right": [int(v) for v in right],
        "feature": [int(v) for v in t.feature],
        "threshold": [float(v) for v in t.threshold],
        "value": [float(v) for v in value],
        "cover": [float(v) for v in cover],
        "default_left": [int(v) for v in default_left],
    }


def _probe_matrix(n_features, n_rows=64, seed=12345):
    """Deterministic probe genotypes: integer and fractional dosages."""
    rng = np.random.RandomState(seed)
    Xi = rng.randint(0, 3, size=(n_rows, n_features)).astype(np.float64)
    Xf = rng.uniform(0.0, 2.0, size=(n_rows // 2, n_features))
    Xe = np.tile(np.array([0.5, 1.5, 0.5000001, 1.4999999, 1.0, 0.0, 2.0]),
                 (n_features // 7 + 1) * 8)[: 8 * n_features]
    Xe = Xe.reshape(8, n_features)
    return np.vstack([Xi, Xf, Xe])


def trees_model_dict(est):
    """Build the genorisk-trees dict for a fitted tree-based estimator."""
    name = _check_fitted_common(est)
    n = int(est.n_features_in_)
    if name in TREE_CLASSIFIERS or name in TREE_REGRESSORS:
        kind = "proba" if name in TREE_CLASSIFIERS else "value"
        trees = est.estimators_ if hasattr(est, "estimators_") else [est]
        model = {"format": "genorisk-trees", "format_version": FORMAT_VERSION,
                 "estimator": name, "n_features": n, "combine": "mean",
                 "learning_rate": 1.0, "base_margin": 0.0, "link": "identity",
                 "trees": [_tree_arrays(t, kind) for t in trees]}
        return model
    if name in GB_MODELS:
        if name == "GradientBoostingClassifier":
            loss = getattr(est, "loss", "log_loss")
            if loss not in ("log_loss", "deviance"):
                raise ExportError("GradientBoostingClassifier with loss=%r is "
                                  "not supported (its probability is not "
                                  "logistic(decision_function)); use "
                                  "loss='log_loss'" % (loss,))
        if est.estimators_.ndim != 2 or est.estimators_.shape[1] != 1:
            raise ExportError("%s has %d trees per stage; only binary/"
                              "regression gradient boosting is supported"
                              % (name, est.estimators_.shape[1]))
        probe = _probe_matrix(n)
        raw_init = np.asarray(est._raw_predict_init(probe), dtype=np.float64)
        if raw_init.shape[1] != 1 or not np.all(raw_init[:, 0] ==
                                                raw_init[0, 0]):
            raise ExportError("%s: init estimator's raw prediction depends on "
                              "the input (non-default init=%r); cannot be "
                              "expressed as a constant base_margin"
                              % (name, est.init))
        model = {"format": "genorisk-trees", "format_version": FORMAT_VERSION,
                 "estimator": name, "n_features": n, "combine": "sum",
                 "learning_rate": float(est.learning_rate),
                 "base_margin": float(raw_init[0, 0]),
                 "link": ("logistic" if name == "GradientBoostingClassifier"
                          else "identity"),
                 "trees": [_tree_arrays(t, "value")
                           for t in est.estimators_[:, 0]]}
        return model
    raise ExportError("%s is not a tree model" % name)


def linear_model_dict(est):
    """Build the genorisk-linear dict for a fitted linear estimator."""
    name = _check_fitted_common(est)
    if name not in LINEAR_MODELS:
        raise ExportError("%s is not a linear model" % name)
    coef = np.asarray(est.coef_, dtype=np.float64)
    if coef.ndim == 2:
        if coef.shape[0] != 1:
            raise ExportError("%s has %d coefficient rows; only single-output"
                              " / binary models are supported"
                              % (name, coef.shape[0]))
        coef = coef[0]
    intercept = np.asarray(est.intercept_, dtype=np.float64).reshape(-1)
    if intercept.size == 0:
        b = 0.0
    elif intercept.size == 1:
        b = float(intercept[0])
    else:
        raise ExportError("%s has %d intercepts; only single-output models "
                          "are supported" % (name, intercept.size))
    if coef.shape[0] != est.n_features_in_:
        raise ExportError("%s: coef_ length %d != n_features_in_ %d"
                          % (name, coef.shape[0], est.n_features_in_))
    return {"format": "genorisk-linear", "format_version": FORMAT_VERSION,
            "estimator": name, "n_features": int(est.n_features_in_),
            "intercept": b, "weights": [float(v) for v in coef],
            "link": "logistic" if name == "LogisticRegression" else "identity"}


def model_dict(est):
    """Dispatch: genorisk-trees or genorisk-linear dict for est."""
    name = _check_fitted_common(est)
    if name in LINEAR_MODELS:
        return linear_model_dict(est)
    return trees_model_dict(est)


# ------------------------------------------------------ reference predictor

def predict_margin(model, X):
    """Evaluate an exported genorisk model dict in numpy (NaN = missing)."""
    X = np.asarray(X, dtype=np.float64)
    if model["format"] == "genorisk-linear":
        w = np.asarray(model["weights"], dtype=np.float64)
        return X @ w + model["intercept"]
    total = np.zeros(X.shape[0], dtype=np.float64)
    rows = np.arange(X.shape[0])
    x32 = X.astype(np.float32).astype(np.float64)
    for t in model["trees"]:
        left = np.asarray(t["children_left"])
        right = np.asarray(t["children_right"])
        feat = np.asarray(t["feature"])
        thr = np.asarray(t["threshold"], dtype=np.float64)
        dl = np.asarray(t["default_left"]).astype(bool)
        val = np.asarray(t["value"], dtype=np.float64)
        node = np.zeros(X.shape[0], dtype=np.int64)
        while True:
            active = left[node] != -1
            if not active.any():
                break
            r = rows[active]
            nd = node[active]
            x = x32[r, feat[nd]]
            go_left = np.where(np.isnan(x), dl[nd], x <= thr[nd])
            node[active] = np.where(go_left, left[nd], right[nd])
        if model["combine"] == "sum":
            total += model["learning_rate"] * val[node]
        else:
            total += val[node]
    if model["combine"] == "mean":
        total = total / len(model["trees"])
    return model["base_margin"] + total


def apply_link(model, margin):
    if model["link"] == "logistic":
        return 1.0 / (1.0 + np.exp(-margin))
    return margin


def sklearn_margin_score(est, X):
    """(margin, score) as scikit-learn computes them (see module doc)."""
    name = _estimator_name(est)
    if name in TREE_CLASSIFIERS:
        p = est.predict_proba(X)[:, 1]
        return p, p
    if name in ("GradientBoostingClassifier", "LogisticRegression"):
        return est.decision_function(X), est.predict_proba(X)[:, 1]
    p = est.predict(X)
    return p, p


def verify(est, model, X=None):
    """Check the exported model reproduces scikit-learn; raise otherwise."""
    if X is None:
        X = _probe_matrix(model["n_features"])
    with warnings.catch_warnings():
        # e.g. "X does not have valid feature names" for DataFrame-fit models
        warnings.simplefilter("ignore")
        m_ref, s_ref = sklearn_margin_score(est, X)
    m = predict_margin(model, X)
    s = apply_link(model, m)
    for what, a, b in (("margin", m, m_ref), ("score", s, s_ref)):
        b = np.asarray(b, dtype=np.float64).reshape(-1)
        err = np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))
        if not err <= VERIFY_TOL:
            raise ExportError("%s: exported model does not reproduce "
                              "scikit-learn's %s (max rel. error %.3g); the "
                              "estimator's configuration is not supported"
                              % (_estimator_name(est), what, err))


# ----------------------------------------------------------------- bundles

def task_of(est):
    est_type = getattr(est, "_estimator_type", None)
    if est_type == "classifier":
        return "classification"
    if est_type == "regressor":
        return "regression"
    raise ExportError("cannot tell whether %s is a classifier or regressor"
                      % _estimator_name(est))


def _dump_json(obj, path, indent=None):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent, allow_nan=False)
        f.write("\n")


def export_bundle(est, features_text, out_dir, name, version="1.0.0",
                  description="", genome_build="GRCh38",
                  features_source="features file"):
    """Validate and write a bundle; return (manifest, model dict)."""
    if not NAME_RE.match(name or ""):
        raise ExportError("invalid bundle name %r (must match "
                          "[a-z0-9][a-z0-9._-]{0,63})" % (name,))
    if genome_build not in GENOME_BUILDS:
        raise ExportError("invalid genome build %r (use %s)"
                          % (genome_build, " or ".join(GENOME_BUILDS)))
    _check_fitted_common(est)
    text, rows = canonical_features_text(features_text, features_source)
    n = int(est.n_features_in_)
    if len(rows) != n:
        raise ExportError("%s has %d feature rows but the model has "
                          "n_features_in_=%d" % (features_source, len(rows), n))
    names_in = getattr(est, "feature_names_in_", None)
    if names_in is not None and list(names_in) != [r["feature_id"]
                                                   for r in rows]:
        sys.stderr.write("warning: the model's feature_names_in_ differ from "
                         "the feature_id column of %s; make sure the rows are "
                         "in model column order\n" % features_source)
    model = model_dict(est)
    verify(est, model)
    task = task_of(est)
    manifest = {"name": name, "version": version, "description": description,
                "task": task, "format": model["format"],
                "artifact": "model.json", "features": "features.tsv",
                "genome_build": genome_build}
    os.makedirs(out_dir, exist_ok=True)
    _dump_json(model, os.path.join(out_dir, "model.json"))
    with open(os.path.join(out_dir, "features.tsv"), "w",
              encoding="utf-8", newline="") as f:
        f.write(text)
    _dump_json(manifest, os.path.join(out_dir, "manifest.json"), indent=2)
    return manifest, model


def load_pickle(path):
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception as first:  # joblib dumps (e.g. compressed) fall back
        try:
            import joblib
            return joblib.load(path)
        except Exception:
            raise ExportError("cannot load model pickle %s: %s"
                              % (path, first))


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Export a fitted scikit-learn model to a genorisk bundle "
                    "(genorisk-trees or genorisk-linear).")
    ap.add_argument("model", metavar="MODEL.pkl",
                    help="pickled fitted estimator (pickle or joblib)")
    ap.add_argument("--features", required=True, metavar="FEATURES.tsv",
                    help="features file, one row per model column in order")
    ap.add_argument("--name", required=True,
                    help="bundle name, [a-z0-9][a-z0-9._-]{0,63}")
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--description", default="")
    ap.add_argument("--genome-build", default="GRCh38",
                    help="GRCh37 or GRCh38 (default GRCh38)")
    ap.add_argument("--out", required=True, metavar="DIR",
                    help="output bundle directory (created if needed)")
    args = ap.parse_args(argv)
    try:
        try:
            with open(args.features, "r", encoding="utf-8", newline="") as f:
                features_text = f.read()
        except OSError as e:
            raise ExportError("cannot read features file %s: %s"
                              % (args.features, e.strerror))
        except UnicodeDecodeError:
            raise ExportError("features file %s is not UTF-8 text"
                              % args.features)
        est = load_pickle(args.model)
        manifest, model = export_bundle(
            est, features_text, args.out, args.name, args.version,
            args.description, args.genome_build, args.features)
    except ExportError as e:
        sys.stderr.write("export_sklearn: error: %s\n" % e)
        return 1
    n_items = len(model.get("trees", model.get("weights", [])))
    sys.stderr.write("export_sklearn: wrote %s (%s %s, %d features, %d %s)\n"
                     % (args.out, manifest["format"], model["estimator"],
                        model["n_features"], n_items,
                        "trees" if "trees" in model else "weights"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
