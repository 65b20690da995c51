#!/usr/bin/python3
"""holdout_check.py - held-out projection check of a reference bundle
(Python reference of what genorisk's C code must do).

Each held-out sample (IIDs in --holdout, left out of the bundle by
tools/make_reference.py --holdout) is read from the VCF at the bundle's
projection variants, standardised with the bundle's per-variant mean and SD
(missing -> 0), projected ALONE onto the reference PCs by FRAPOSA's OADP
(numpy port of fraposa_pgsc fraposa.py: svd_online with the top dim_online
components, dim_stu augmented PCs, procrustes_diffdim onto ref_pcs), and
classified with the bundle's exported forest (classifier.json). Prints the
assignment table per label: n, n correct, share.

    tools/holdout_check.py --bundle DIR --vcf REF.vcf.gz \\
        --holdout held.txt --labels ref.psam [--label-column SuperPop]

project_sample() and holdout_table() are the functions a test harness
calls; a later tools/test_peers.py can put genorisk's binary in their place.
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import adjust_reference as ar  # noqa: E402
import make_reference as mr  # noqa: E402


def load_projection(bundle):
    with open(os.path.join(bundle, "reference.json"), encoding="utf-8") as f:
        ref = json.load(f)
    if not ref.get("projection"):
        raise mr.RefError("%s: bundle has no projection" % bundle)
    with open(os.path.join(bundle, ref["projection"]["file"]),
              encoding="utf-8") as f:
        pj = json.load(f)
    p, n, k = pj["n_variants"], pj["n_reference"], pj["dim_online"]
    P = {"mean": np.asarray(pj["mean"]), "sd": np.asarray(pj["sd"]),
         "U": np.asarray(pj["U"]).reshape(p, k), "s": np.asarray(pj["s"]),
         "V": np.asarray(pj["V"]).reshape(n, k),
         "ref_pcs": np.asarray(pj["ref_pcs"]).reshape(n, pj["dim_ref"]),
         "dim_ref": pj["dim_ref"], "dim_stu": pj["dim_stu"],
         "dim_online": k}
    header, rows = mr.read_tsv(os.path.join(bundle,
                                            ref["projection"]["variants"]))
    ix = [header.index(c) for c in ("chrom", "pos", "ref", "alt")]
    P["variants"] = [(r[ix[0]], int(r[ix[1]]), r[ix[2]], r[ix[3]])
                     for r in rows]
    return ref, P


def svd_online(U1, d1, V1, b):
    """Rank-one update of the thin SVD U1 diag(d1) V1' by a new column b."""
    n, k = V1.shape
    b = b.reshape(-1, 1)
    proj = U1.T @ b
    bt = b - U1 @ proj
    bt = bt / np.sqrt(np.sum(bt * bt))
    R = np.zeros((k + 1, k + 1))
    R[:k, :k] = np.diag(d1)
    R[:k, k] = proj[:, 0]
    R[k, k] = (bt.T @ b)[0, 0]
    _, d2, Rvt = np.linalg.svd(R, full_matrices=False)
    Vn = np.zeros((k + 1, n + 1))
    Vn[:k, :n] = V1.T
    Vn[k, n] = 1.0
    return d2, (Rvt @ Vn).T


def procrustes(Y, X):
    """Similarity transform (R, rho, c) taking X onto Y."""
    Xm, Ym = X.mean(axis=0), Y.mean(axis=0)
    Xc, Yc = X - Xm, Y - Ym
    u, s, vt = np.linalg.svd(Yc.T @ Xc, full_matrices=False)
    R = vt.T @ u.T
    rho = np.sum(s) / np.sum(Xc * Xc)
    return R, rho, Ym - rho * Xm @ R


def procrustes_diffdim(Y, X, n_iter_max=10000, eps_min=1e-6):
    """Y (n x q) padded with columns Z, iterated until Z settles."""
    n, px = X.shape
    q = Y.shape[1]
    if px == q:
        return procrustes(Y, X)
    Z = np.zeros((n, px - q))
    for _ in range(n_iter_max):
        R, rho, c = procrustes(np.hstack((Y, Z)), X)
        Zn = (X @ R * rho + c)[:, q:]
        eps = np.sum((Zn - Z) ** 2) / np.sum((Zn - Zn.mean(axis=0)) ** 2)
        if eps < eps_min:
            break
        Z = Zn
    return R, rho, c


def project_sample(P, dosages):
    """OADP PCs (dim_ref) of one sample: dosages = ALT dosages in
    projection-variant order, NaN for missing."""
    b = (np.asarray(dosages, dtype=np.float64) - P["mean"]) / P["sd"]
    b[np.isnan(b)] = 0.0
    k = P["dim_online"]
    s_aug, V_aug = svd_online(P["U"][:, :k], P["s"][:k], P["V"][:, :k], b)
    ds = P["dim_stu"]
    pcs_aug = V_aug[:, :ds] * s_aug[:ds]
    R, rho, c = procrustes_diffdim(P["ref_pcs"], pcs_aug[:-1])
    return (pcs_aug[-1:] @ R * rho + c).ravel()[:P["dim_ref"]]


def genotypes_at(vcf, variants, samples):
    """Dosage matrix (len(samples) x len(variants)) of ALT of `variants`
    (REF/ALT swapped records are counted the other way)."""
    vs, names, G = mr.read_vcf(vcf)
    col = {s: j for j, s in enumerate(names)}
    idx = {}
    for i, (c, pos, ref, alt, _id) in enumerate(vs):
        idx.setdefault((c, pos, ref, alt), (i, False))
        idx.setdefault((c, pos, alt, ref), (i, True))
    out = np.full((len(samples), len(variants)), np.nan)
    for j, v in enumerate(variants):
        hit = idx.get(v)
        if hit is None:
            continue
        g = G[hit[0], [col[s] for s in samples]].astype(np.float64)
        g[g < 0] = np.nan
        out[:, j] = 2.0 - g if hit[1] else g
    return out


def holdout_table(bundle, vcf, holdout_ids, labels):
    """Project each held-out sample alone and classify it. Returns
    ({label: (n, n_correct)}, per-sample rows (iid, label, assigned, pcs))."""
    ref, P = load_projection(bundle)
    _, clf = ar.load_bundle(bundle)
    D = genotypes_at(vcf, P["variants"], holdout_ids)
    pcs = np.array([project_sample(P, D[i]) for i in range(len(holdout_ids))])
    proba = ar.forest_proba(clf, pcs[:, :ref["classifier"]["n_pcs"]])
    best = np.argmax(proba, axis=1)
    table, rows = {}, []
    for i, s in enumerate(holdout_ids):
        lab = labels[s]
        got = ref["populations"][best[i]]
        n, ok = table.get(lab, (0, 0))
        table[lab] = (n + 1, ok + (got == lab))
        rows.append((s, lab, got, pcs[i]))
    return {k: table[k] for k in sorted(table)}, rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--vcf", required=True)
    ap.add_argument("--holdout", required=True, help="held-out IIDs")
    ap.add_argument("--labels", required=True)
    ap.add_argument("--label-column", default="SuperPop")
    ap.add_argument("--min-share", type=float, default=0.95)
    ap.add_argument("--require", default="AFR,EAS,EUR,SAS",
                    help="labels that must reach --min-share")
    a = ap.parse_args(argv)
    labels = mr.read_labels(a.labels, a.label_column)
    with open(a.holdout, encoding="utf-8") as f:
        ids = [ln.strip() for ln in f if ln.strip()]
    table, _ = holdout_table(a.bundle, a.vcf, ids, labels)
    print("%-6s %5s %9s %7s" % ("label", "n", "n_correct", "share"))
    ok = True
    for lab, (n, c) in table.items():
        print("%-6s %5d %9d %7.3f" % (lab, n, c, c / n))
        if lab in a.require.split(",") and c / n < a.min_share:
            ok = False
    n = sum(v[0] for v in table.values())
    c = sum(v[1] for v in table.values())
    print("%-6s %5d %9d %7.3f" % ("all", n, c, c / n))
    print("holdout: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
