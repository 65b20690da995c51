#!/usr/bin/python3
"""Generate tests/fixtures/oadp/: a FRAPOSA OADP projection and numpy's
answers for core/oadp.c to be checked against.

FRAPOSA (Zhang, Dey & Lee 2020; the PGScatalog/fraposa_pgsc fork that
pgsc_calc runs) projects a study sample onto a reference PCA by "online
augmentation, decomposition and Procrustes". This script ports, with numpy
only, the two halves of it:

* the reference PCA (fraposa's pca() on a reference without saved results):
  genotypes as float32, standardised per variant by the reference mean and
  SD (ddof 0, an SD of 0 replaced by 1), eigendecomposition of X^T X, s the
  square roots of the eigenvalues in descending order, V their vectors,
  reference PCs V[:, :dim_ref] * s[:dim_ref], U = X (V / s);
* oadp() for one sample at a time: standardise the sample by the reference
  mean/SD (missing -> 0), the online SVD of the reference augmented with
  the sample (svd_online), keep dim_stu augmented PCs, and map them onto the
  reference PCs by procrustes_diffdim (iterating until epsilon < 1e-6, at
  most 10000 times); the sample's row, transformed, gives dim_ref PCs.

The reference holds 200 synthetic samples of 3 populations whose allele
frequencies are drawn by the Balding-Nichols model (Fst 0.1) from ancestral
frequencies U(0.05, 0.95), over 300 variants; dims are pgsc_calc's
(dim_ref 10, dim_online 40, dim_stu 20).

Files (everything seeded; re-running writes the same bytes):
  projection.json  the reference bundle's projection.json (issue 12's
                   spec), in full double precision
  cases.json       {"dosages": [[p ALT dosages, null = missing], ...],
                    "pcs": [[dim_ref numpy PCs], ...],
                    "iterations": [procrustes_diffdim iterations, ...],
                    "pcs_dim_stu_10": [[the PCs with dim_stu = dim_ref,
                                        fraposa's plain Procrustes], ...],
                    "labels": [what each target is]}
  svd.json         {"matrices": [{"rows", "cols", "a": row-major,
                    "s": numpy.linalg.svd singular values}]}
  README.md        this text

Run: tools/make_oadp_fixture.py [--out tests/fixtures/oadp]
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refblas  # noqa: E402
refblas.pin()  # before numpy: the same digits whichever BLAS the machine selects

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

P, POPS, DIM_REF, DIM_ONLINE, DIM_STU = 300, (70, 70, 60), 10, 40, 20
FST = 0.1
N_ITER_MAX, EPSILON_MIN = 10000, 1e-6


# ---- the reference PCA, as fraposa's pca() makes it -----------------------

def reference_pca(geno):
    """geno: p x n ALT dosages. Returns float64 copies of what fraposa keeps:
    mean, sd, U (p x dim_online), s (dim_online), V (n x dim_online), pcs."""
    x = geno.astype(np.float32)
    p = x.shape[0]
    mean = np.zeros(p)
    sd = np.zeros(p)
    for i in range(p):  # per variant, in float32 as fraposa reads the .bed
        mean[i] = np.mean(x[i, :])
        sd[i] = np.std(x[i, :])
    sd[sd == 0] = 1
    x -= mean.reshape((-1, 1))
    x /= sd.reshape((-1, 1))
    eigval, eigvec = np.linalg.eigh(x.T @ x)
    s = np.sqrt(np.abs(eigval))[::-1]
    v = eigvec[:, ::-1][:, :DIM_ONLINE]
    pcs = v[:, :DIM_REF] * s[:DIM_REF]
    u = x @ (v / s[:DIM_ONLINE])
    f = lambda a: np.asarray(a, dtype=np.float64)  # noqa: E731
    return mean, sd, f(u), f(s[:DIM_ONLINE]), f(v), f(pcs)


# ---- oadp for one sample ---------------------------------------------------

def online_svd(u1, d1, v1, b):
    """Singular values and right vectors of [reference | b], from the
    reference's thin SVD (u1, d1, v1) with k = len(d1) components."""
    n, k = v1.shape
    b = b.reshape((-1, 1))
    resid = b - u1 @ (u1.T @ b)
    resid = resid / np.sqrt(np.sum(resid ** 2))
    core = np.zeros((k + 1, k + 1))
    core[:k, :k] = np.diag(d1)
    core[:k, k:] = u1.T @ b
    core[k:, k:] = resid.T @ b
    _, d2, core_vt = np.linalg.svd(core, full_matrices=False)
    embed = np.zeros((k + 1, n + 1))
    embed[:k, :n] = v1.T
    embed[k, n] = 1
    return d2, (core_vt @ embed).T[:, :k]


def procrustes(y, x):
    """Rotation r, scale rho and shift c taking x closest to y."""
    x_mean, y_mean = x.mean(0), y.mean(0)
    xc, yc = x - x_mean, y - y_mean
    left, sv, right_t = np.linalg.svd(yc.T @ xc, full_matrices=False)
    r = right_t.T @ left.T
    rho = np.sum(sv) / np.sum(xc ** 2)
    return r, rho, y_mean - rho * x_mean @ r


def procrustes_diffdim(y, x):
    """Procrustes of x (more columns) onto y, the missing columns of y
    filled by the iteration fraposa uses. Returns r, rho, c, iterations."""
    extra = x.shape[1] - y.shape[1]
    if extra == 0:
        return procrustes(y, x) + (1,)
    z = np.zeros((x.shape[0], extra))
    for it in range(1, N_ITER_MAX + 1):
        r, rho, c = procrustes(np.hstack((y, z)), x)
        z_new = (x @ r * rho + c)[:, y.shape[1]:]
        eps = np.sum((z_new - z) ** 2) / np.sum((z_new - z_new.mean(0)) ** 2)
        if eps < EPSILON_MIN:
            break
        z = z_new
    return r, rho, c, it


def oadp(u, s, v, b, dim_stu=DIM_STU):
    ref_pcs = v[:, :DIM_REF] * s[:DIM_REF]
    d2, v2 = online_svd(u[:, :DIM_ONLINE], s[:DIM_ONLINE], v[:, :DIM_ONLINE], b)
    aug = v2[:, :dim_stu] * d2[:dim_stu]
    r, rho, c, it = procrustes_diffdim(ref_pcs, aug[:-1, :])
    return (aug[-1:, :] @ r * rho + c).flatten()[:DIM_REF], it


def standardise(dosage, mean, sd):
    w = (dosage - mean) / sd
    w[np.isnan(dosage)] = 0
    return w


# ---- data ------------------------------------------------------------------

def population_freqs(rng):
    anc = rng.uniform(0.05, 0.95, P)
    a, b = anc * (1 - FST) / FST, (1 - anc) * (1 - FST) / FST
    return np.array([rng.beta(a, b) for _ in POPS])


def draw(rng, freq, n):
    return rng.binomial(2, freq, size=(n, P)).T.astype(np.float64)


def targets(rng, freqs):
    rows, labels = [], []
    for k in range(len(POPS)):
        rows.append(draw(rng, freqs[k], 1)[:, 0])
        labels.append("population %d" % k)
    rows.append(draw(rng, 0.5 * (freqs[0] + freqs[1]), 1)[:, 0])
    labels.append("admixed 0/1")
    miss = draw(rng, freqs[2], 1)[:, 0]
    miss[rng.choice(P, P // 10, replace=False)] = np.nan
    rows.append(miss)
    labels.append("population 2, 10% missing")
    frac = np.round(np.clip(draw(rng, freqs[1], 1)[:, 0] + rng.normal(0, 0.2, P), 0, 2), 3)
    rows.append(frac)
    labels.append("population 1, imputed dosages")
    return rows, labels


def svd_cases(rng):
    out = []
    a = rng.normal(size=(9, 9))
    b = rng.normal(size=(6, 3)) @ rng.normal(size=(3, 6))  # rank 3
    c = np.diag([5.0, 3.0, 3.0, 1e-3]) + np.triu(rng.normal(size=(4, 4)) * 1e-2, 1)
    for m in (a, b, c):
        out.append({"rows": m.shape[0], "cols": m.shape[1], "a": m.flatten().tolist(),
                    "s": np.linalg.svd(m, compute_uv=False).tolist()})
    return out


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures", "oadp"))
    args = ap.parse_args()
    rng = np.random.default_rng(20261207)
    freqs = population_freqs(rng)
    geno = np.hstack([draw(rng, freqs[k], n) for k, n in enumerate(POPS)])
    mean, sd, u, s, v, pcs = reference_pca(geno)
    rows, labels = targets(rng, freqs)
    got, iters, plain = [], [], []
    for d in rows:
        pc, it = oadp(u, s, v, standardise(d, mean, sd))
        got.append(pc.tolist())
        iters.append(it)
        plain.append(oadp(u, s, v, standardise(d, mean, sd), DIM_REF)[0].tolist())
    os.makedirs(args.out, exist_ok=True)
    write_json(os.path.join(args.out, "projection.json"), {
        "method": "oadp", "n_variants": P, "n_reference": int(sum(POPS)),
        "dim_ref": DIM_REF, "dim_online": DIM_ONLINE, "dim_stu": DIM_STU,
        "mean": mean.tolist(), "sd": sd.tolist(), "U": u.flatten().tolist(),
        "s": s.tolist(), "V": v.flatten().tolist(), "ref_pcs": pcs.flatten().tolist()})
    write_json(os.path.join(args.out, "cases.json"), {
        "dosages": [[None if np.isnan(x) else float(x) for x in d] for d in rows],
        "pcs": got, "iterations": iters, "pcs_dim_stu_10": plain, "labels": labels})
    write_json(os.path.join(args.out, "svd.json"), {"matrices": svd_cases(rng)})
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("# oadp fixture\n\n**Generated by tools/make_oadp_fixture.py - do not edit "
                "by hand.**\n\n```\n%s```\n" % __doc__)
    print("oadp: %d targets, procrustes iterations %s" % (len(rows), iters))


if __name__ == "__main__":
    main()
