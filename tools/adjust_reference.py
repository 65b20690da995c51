#!/usr/bin/python3
"""adjust_reference.py - apply a genorisk reference bundle (pure Python).

The reference implementation of what genorisk computes per target sample
with a bundle written by tools/make_reference.py: the RandomForest
similarity (RF_P_*, MostSimilarPop, low confidence) from classifier.json,
then per score percentile_MostSimilarPop, Z_MostSimilarPop, Z_norm1 and
Z_norm2 from reference.json, as pgsc_calc's ancestry step.

    tools/adjust_reference.py --bundle DIR --pcs target.pcs \\
        --scores aggregated_scores.txt --sampleset hgdp --out result.tsv

Output: one row per sample and score, tab-separated, columns
sampleset FID IID PGS SUM MostSimilarPop percentile_MostSimilarPop
Z_MostSimilarPop Z_norm1 Z_norm2 RF_P_<pop>... MostSimilarPop_LowConfidence
(numbers as Python repr).

--check-upstream DIR compares with pgsc_calc's own outputs
(DIR/hgdp_pgs.txt.gz, hgdp_popsimilarity.txt.gz, hgdp_info.json.gz) and
prints the maxima of the differences.
"""

import argparse
import bisect
import gzip
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_reference as mr  # noqa: E402


def load_bundle(d):
    with open(os.path.join(d, "reference.json"), encoding="utf-8") as f:
        ref = json.load(f)
    with open(os.path.join(d, ref["classifier"]["file"]),
              encoding="utf-8") as f:
        clf = json.load(f)
    if clf["classes"] != ref["populations"]:
        raise mr.RefError("classifier classes differ from populations")
    return ref, clf


def forest_proba(clf, X):
    """Class probabilities of rows X (n x n_pcs) from classifier.json, as
    sklearn's predict_proba: float32 inputs, left iff x <= threshold, tree
    probabilities summed in tree order then divided by the tree count."""
    X32 = np.asarray(X, dtype=np.float32).astype(np.float64)
    n = X32.shape[0]
    forests = clf["forests"]
    T = len(forests[0]["trees"])
    out = np.zeros((n, len(forests)))
    for t in range(T):
        tr = forests[0]["trees"][t]
        left = np.asarray(tr["children_left"])
        right = np.asarray(tr["children_right"])
        feat = np.asarray(tr["feature"])
        thr = np.asarray(tr["threshold"], dtype=np.float64)
        node = np.zeros(n, dtype=np.int64)
        active = left[node] >= 0
        while active.any():
            nd = node[active]
            go_left = X32[active, feat[nd]] <= thr[nd]
            node[active] = np.where(go_left, left[nd], right[nd])
            active = left[node] >= 0
        vals = np.array([np.asarray(f["trees"][t]["value"])[node]
                         for f in forests]).T
        out += vals
    out /= T
    return out


def percentile_rank(sorted_scores, x):
    """scipy.stats.percentileofscore(a, x, kind='rank')."""
    n = len(sorted_scores)
    left = bisect.bisect_left(sorted_scores, x)
    right = bisect.bisect_right(sorted_scores, x)
    plus1 = 1 if left < right else 0
    return (left + right + plus1) * (50.0 / n)


def adjust(ref, clf, pcs, scores):
    """pcs: n x >=5; scores: {PGS: [x per row] or None}. Returns
    (proba n x K, pop index per row, {PGS: dict of columns})."""
    k = ref["classifier"]["n_pcs"]
    proba = forest_proba(clf, pcs[:, :k])
    best = np.argmax(proba, axis=1)
    norm = ref["normalization"]
    m = norm["n_pcs"]
    Xn = np.empty((pcs.shape[0], m))
    for j in range(m):
        Xn[:, j] = (pcs[:, j] - norm["mean"][j]) / norm["sd"][j]
    res = {}
    pops = ref["populations"]
    for pgs, xs in scores.items():
        sc = ref["scores"].get(pgs)
        if sc is None:
            continue
        x = np.asarray(xs, dtype=np.float64)
        pct = np.empty(len(x))
        zp = np.empty(len(x))
        for i in range(len(x)):
            dist = sc["distributions"][pops[best[i]]]
            pct[i] = percentile_rank(dist["scores"], x[i])
            zp[i] = (x[i] - dist["mean"]) / dist["sd"]
        xc = x - sc["pgs_offset"]
        z1 = sc["z_norm1"]
        pred1 = Xn @ np.asarray(z1["coef"]) + z1["intercept"]
        zn1 = (xc - pred1) / z1["resid_sd"]
        z2 = sc["z_norm2"]
        mu = z2["mu_intercept"] + np.inner(np.asarray(z2["mu_coef"]), Xn)
        var = np.exp(z2["var_intercept"] +
                     np.inner(np.asarray(z2["var_coef"]), Xn))
        zn2 = (xc - mu) / np.sqrt(var)
        res[pgs] = {"SUM": x, "percentile_MostSimilarPop": pct,
                    "Z_MostSimilarPop": zp, "Z_norm1": zn1, "Z_norm2": zn2}
    return proba, best, res


def run(bundle, pcs_path, scores_path, sampleset):
    ref, clf = load_bundle(bundle)
    ids, pcs = mr.read_pcs(pcs_path)
    sc = mr.read_scores(scores_path, sampleset) if scores_path else {}
    scores = {}
    for pgs, mp in sc.items():
        if all(i in mp for i in ids):
            scores[pgs] = [mp[i] for i in ids]
    proba, best, res = adjust(ref, clf, pcs, scores)
    return ref, ids, proba, best, res


def write(path, ref, sampleset, ids, proba, best, res):
    pops = ref["populations"]
    thr = ref["classifier"]["low_confidence_below"]
    cols = ["sampleset", "FID", "IID", "PGS", "SUM", "MostSimilarPop",
            "percentile_MostSimilarPop", "Z_MostSimilarPop", "Z_norm1",
            "Z_norm2"] + ["RF_P_" + p for p in pops] + \
        ["MostSimilarPop_LowConfidence"]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(cols) + "\n")
        for pgs, r in res.items():
            for i, (fid, iid) in enumerate(ids):
                row = [sampleset, fid, iid, pgs, repr(float(r["SUM"][i])),
                       pops[best[i]]]
                row += [repr(float(r[c][i])) for c in cols[6:10]]
                row += [repr(float(v)) for v in proba[i]]
                row.append(str(bool(proba[i, best[i]] < thr)))
                f.write("\t".join(row) + "\n")


def _read_gz_tsv(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = [ln.rstrip("\n").split("\t") for ln in f if ln.strip()]
    return lines[0], lines[1:]


def check_upstream(updir, ref, sampleset, ids, proba, best, res):
    """Compare with pgsc_calc's outputs; returns a dict of maxima/counts."""
    pops = ref["populations"]
    h, rows = _read_gz_tsv(os.path.join(updir, sampleset +
                                        "_popsimilarity.txt.gz"))
    up = {(r[1], r[2]): r for r in rows if r[0] == sampleset}
    rf_eq = msp_eq = lc_eq = 0
    rf_max = 0.0
    for i, key in enumerate(ids):
        r = up[key]
        ups = [float(r[h.index("RF_P_" + p)]) for p in pops]
        if all(float(a) == b for a, b in zip(proba[i], ups)):
            rf_eq += 1
        rf_max = max(rf_max, max(abs(a - b) for a, b in zip(proba[i], ups)))
        if r[h.index("MostSimilarPop")] == pops[best[i]]:
            msp_eq += 1
        if r[h.index("MostSimilarPop_LowConfidence")] == str(
                bool(proba[i, best[i]] < ref["classifier"]
                     ["low_confidence_below"])):
            lc_eq += 1
    out = {"n": len(ids), "RF_P_equal": rf_eq, "RF_P_max_absdiff": rf_max,
           "MostSimilarPop_equal": msp_eq, "LowConfidence_equal": lc_eq}
    h, rows = _read_gz_tsv(os.path.join(updir, sampleset + "_pgs.txt.gz"))
    cols = ["percentile_MostSimilarPop", "Z_MostSimilarPop", "Z_norm1",
            "Z_norm2", "SUM"]
    for pgs, r in res.items():
        up = {(x[1], x[2]): x for x in rows
              if x[0] == sampleset and x[3] == pgs}
        for c in cols:
            j = h.index(c)
            d = max(abs(float(up[key][j]) - r[c][i])
                    for i, key in enumerate(ids))
            out["%s max_absdiff" % c] = d
    with gzip.open(os.path.join(updir, sampleset + "_info.json.gz"),
                   "rt") as f:
        info = json.load(f)
    adj = info["pgs"]["adjust_pcs"]
    npc = ref["normalization"]["n_pcs"]
    pcn = ["PC%d" % (j + 1) for j in range(npc)]
    out["norm mean max_absdiff"] = max(
        abs(adj["norm_pcs"][p]["mean"] - ref["normalization"]["mean"][j])
        for j, p in enumerate(pcn))
    out["norm sd max_absdiff"] = max(
        abs(adj["norm_pcs"][p]["pc_std"] - ref["normalization"]["sd"][j])
        for j, p in enumerate(pcn))
    for pgs in res:
        a = adj["PGS"][pgs]
        s = ref["scores"][pgs]
        out["pgs_offset absdiff"] = abs(a["pgs_offset"] - s["pgs_offset"])
        z1 = a["Z_norm1"]
        out["z_norm1 intercept/coef max_absdiff"] = max(
            [abs(z1["_intercept"] - s["z_norm1"]["intercept"])] +
            [abs(z1["_coef"][p] - s["z_norm1"]["coef"][j])
             for j, p in enumerate(pcn)])
        z2 = a["Z_norm2"]
        out["z_norm2 params max_absdiff"] = max(
            [abs(z2["mu_intercept"] - s["z_norm2"]["mu_intercept"]),
             abs(z2["var_intercept"] - s["z_norm2"]["var_intercept"])] +
            [abs(z2["mu_coef"][p] - s["z_norm2"]["mu_coef"][j])
             for j, p in enumerate(pcn)] +
            [abs(z2["var_coef"][p] - s["z_norm2"]["var_coef"][j])
             for j, p in enumerate(pcn)])
        de = info["pgs"]["dist_empirical"][pgs]
        out["distribution mean/sd/percentiles max_absdiff"] = max(
            max(abs(de[p]["mean"] - s["distributions"][p]["mean"]),
                abs(de[p]["std"] - s["distributions"][p]["sd"]),
                max(abs(u - v) for u, v in zip(
                    de[p]["percentiles"],
                    s["distributions"][p]["percentiles"])))
            for p in pops)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--pcs", required=True, help="target PCs (.pcs)")
    ap.add_argument("--scores", help="pgsc_calc aggregated_scores.txt")
    ap.add_argument("--sampleset", default="target")
    ap.add_argument("--out")
    ap.add_argument("--check-upstream", metavar="DIR")
    a = ap.parse_args(argv)
    ref, ids, proba, best, res = run(a.bundle, a.pcs, a.scores, a.sampleset)
    if a.out:
        write(a.out, ref, a.sampleset, ids, proba, best, res)
    if a.check_upstream:
        r = check_upstream(a.check_upstream, ref, a.sampleset, ids, proba,
                           best, res)
        for k, v in r.items():
            print("%-48s %s" % (k, v))
        ok = (r["RF_P_equal"] == r["n"] and r["MostSimilarPop_equal"] == r["n"]
              and all(r["%s max_absdiff" % c] <= 1e-9 for c in
                      ("percentile_MostSimilarPop", "Z_MostSimilarPop",
                       "Z_norm1"))
              and r["Z_norm2 max_absdiff"] <= 1e-6)
        print("parity: %s" % ("PASS" if ok else "FAIL"))
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
