#!/usr/bin/python3
"""make_reference.py - write a genorisk reference-population bundle.

A reference bundle (spec: docs of issue 12, "Reference bundle") lets genorisk
put one sample's polygenic score in the context of a reference panel the way
pgsc_calc's ancestry step does (pygscatalog pgscatalog.calc, legacy
_ancestry/tools.py: compare_ancestry, pgs_adjust, fullLL_fit):

  reference.json           populations, PC normalisation, per score: offset,
                           Z_norm1 (OLS), Z_norm2 (mean + log-variance full
                           likelihood, BFGS), per-population distributions
  classifier.json          RandomForestClassifier(random_state=32) on PC1..5,
                           one genorisk-trees forest per class
  projection.json          (from genotypes only) FRAPOSA reference PCA for
  projection_variants.tsv  OADP projection of one new sample

Two input modes.

(a) From stored PCs (pgsc_calc / FRAPOSA outputs), adjust only:

    tools/make_reference.py --ref-pcs ref.pcs --labels ref.psam \\
        --label-column SuperPop --exclude ref.king.cutoff.id \\
        --ref-scores aggregated_scores.txt --name NAME --out DIR

(b) From reference genotypes (a VCF read with `bcftools query`):

    tools/make_reference.py --vcf REF.vcf.gz --labels ref.psam \\
        --exclude ref.king.cutoff.id [--holdout 0.1 --seed 1 \\
        --holdout-out held.txt] [--ref-scores ...] --name NAME --out DIR

Row order, as pgsc_calc: the reference samples are the rows of the PC file
(mode a) or the VCF's sample columns (mode b) that have a label, in that order;
a sample is "related" when its ID is a line of --exclude (pgsc_calc compares
the FID; FID = IID for VCF samples). The forest, the PC normalisation and
every regression are fitted on the unrelated rows in that order, so the
forest equals pgsc_calc's (RandomForest bootstrap draws depend on row order).

Mode (b) choices (all from the reference alone, never from targets):
  * variants: biallelic single-base ACGT SNVs on autosomes; positions with more
    than one record are dropped (plink2 --rm-dup exclude-all); missingness
    <= --max-missing (0.1), MAF >= --maf (0.05), HWE exact-test p >= --hwe
    (1e-4; 0 disables) within each label (--hwe-scope label; pgsc_calc's
    plink2 --hwe over the pooled panel, --hwe-scope all, drops the
    ancestry-informative variants: Wahlund effect), optional greedy r^2
    pruning (--ld-r2, window --ld-window variants); statistics over the
    training samples (labelled, unrelated, not held out);
  * samples in the PCA: the training samples (related and held-out samples
    take no part);
  * PCA: FRAPOSA's: per-variant standardisation by the reference mean and SD
    of the ALT dosage (SD 0 -> 1, missing -> 0 after standardising),
    eigendecomposition of X'X, 10 PCs, U = X V / s for the top dim_online=40.
    Computed in float64 (FRAPOSA reads the genotypes as float32 and saves
    its .dat files rounded to 4 decimals); each component's sign is fixed so
    that its largest-magnitude V entry is positive (deterministic output);
  * --holdout F: round(F * n) samples of each label (labels in sorted order,
    each label's samples permuted by numpy RandomState(seed)) are left out of
    everything (stratified), their IIDs written to --holdout-out.

Numbers are written with json (Python repr: round-trip exact).
"""

import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np

FORMAT = "genorisk-reference"
DIM_REF = 10
DIM_STU = 20
DIM_ONLINE = 40
N_POPCOMP = 5
N_NORM = 4
RF_SEED = 32
LOW_CONFIDENCE = 0.5
AUTOSOMES = [str(i) for i in range(1, 23)]


class RefError(Exception):
    pass


# ---------------------------------------------------------------- reading

def read_tsv(path):
    """Header + rows of a tab-separated file (blank lines skipped)."""
    opener = open
    if path.endswith(".gz"):
        import gzip
        opener = gzip.open
    with opener(path, "rt", encoding="utf-8") as f:
        lines = [ln.rstrip("\r\n") for ln in f]
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        raise RefError("%s: empty file" % path)
    header = lines[0].split("\t")
    rows = [ln.split("\t") for ln in lines[1:]]
    for i, r in enumerate(rows):
        if len(r) != len(header):
            raise RefError("%s: line %d: %d cells, header has %d"
                           % (path, i + 2, len(r), len(header)))
    return header, rows


def read_pcs(path):
    """FRAPOSA .pcs: FID IID PC1..PCk -> ([(FID, IID)], float64 n x k)."""
    header, rows = read_tsv(path)
    if header[:2] != ["FID", "IID"]:
        raise RefError("%s: expected FID and IID as first columns" % path)
    k = len(header) - 2
    for j in range(k):
        if header[2 + j] != "PC%d" % (j + 1):
            raise RefError("%s: column %d is %r, expected PC%d"
                           % (path, j + 3, header[2 + j], j + 1))
    ids = [(r[0], r[1]) for r in rows]
    pcs = np.array([[float(v) for v in r[2:]] for r in rows], dtype=np.float64)
    return ids, pcs.reshape(len(rows), k)


def read_labels(path, column):
    """plink2 .psam (first column #IID or #FID then IID) -> {IID: label}."""
    header, rows = read_tsv(path)
    h = list(header)
    if h[0] == "#IID":
        h[0] = "IID"
    elif h[0] == "#FID":
        h[0] = "FID"
    if "IID" not in h or column not in h:
        raise RefError("%s: needs IID and %s columns" % (path, column))
    ii, jj = h.index("IID"), h.index(column)
    out = {}
    for r in rows:
        if r[jj] not in ("", "NA", "."):
            out[r[ii]] = r[jj]
    return out


def read_exclude(path):
    """plink2 king.cutoff.out.id: one ID per line (header '#...' ignored)."""
    if not path:
        return set()
    with open(path, encoding="utf-8") as f:
        return {ln.strip().split("\t")[0] for ln in f
                if ln.strip() and not ln.startswith("#")}


def read_scores(path, sampleset):
    """pgsc_calc long format (sampleset FID IID PGS SUM ...) ->
    {PGS: {(FID, IID): SUM}} for the rows of `sampleset`, PGS ids sorted."""
    header, rows = read_tsv(path)
    need = ["sampleset", "FID", "IID", "PGS", "SUM"]
    miss = [c for c in need if c not in header]
    if miss:
        raise RefError("%s: missing columns %s" % (path, ", ".join(miss)))
    ix = [header.index(c) for c in need]
    out = {}
    for r in rows:
        ss, fid, iid, pgs, val = (r[i] for i in ix)
        if ss != sampleset:
            continue
        out.setdefault(pgs, {})[(fid, iid)] = float(val)
    if not out:
        raise RefError("%s: no rows with sampleset %r" % (path, sampleset))
    return {k: out[k] for k in sorted(out)}


# ---------------------------------------------------------------- fitting

def col_mean(x):
    """pandas Series.mean(): pairwise sum of a contiguous column / n."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    return x.sum() / x.shape[0]


def col_std0(x):
    """pandas Series.std(ddof=0)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    avg = x.sum() / x.shape[0]
    return math.sqrt(((avg - x) ** 2).sum() / x.shape[0])


def fit_forest(X5, labels, n_trees=None):
    """pgsc_calc compare_ancestry: RandomForestClassifier(random_state=32) on
    the training rows' PC1..5, labels as str. n_trees: sklearn's default
    (100, as pgsc_calc) unless given (small test bundles)."""
    from sklearn.ensemble import RandomForestClassifier
    kw = {"n_estimators": n_trees} if n_trees else {}
    clf = RandomForestClassifier(random_state=RF_SEED, **kw)
    clf.fit(np.ascontiguousarray(X5, dtype=np.float64),
            np.array([str(v) for v in labels], dtype=object))
    return clf


def forest_json(clf, features):
    """classifier.json: one genorisk-trees forest per class (leaf value = that
    class's share of the tree's training weight at the leaf)."""
    classes = [str(c) for c in clf.classes_]
    forests = []
    for k in range(len(classes)):
        trees = []
        for est in clf.estimators_:
            t = est.tree_
            left = t.children_left.astype(np.int64)
            right = t.children_right.astype(np.int64)
            cover = t.weighted_n_node_samples.astype(np.float64)
            val = t.value[:, 0, :]
            prob = val[:, k] / val.sum(axis=1)
            dl = np.zeros(len(left), dtype=np.int64)
            internal = left >= 0
            dl[internal] = (cover[left[internal]] >=
                            cover[right[internal]]).astype(np.int64)
            trees.append({
                "children_left": [int(v) for v in left],
                "children_right": [int(v) for v in right],
                "feature": [int(v) for v in t.feature],
                "threshold": [float(v) for v in t.threshold],
                "value": [float(v) for v in prob],
                "cover": [float(v) for v in cover],
                "default_left": [int(v) for v in dl],
            })
        forests.append({"format": "genorisk-trees", "format_version": 1,
                        "estimator": "RandomForestClassifier",
                        "n_features": len(features), "combine": "mean",
                        "link": "identity", "trees": trees})
    return {"format": "genorisk-classifier", "format_version": 1,
            "classes": classes, "features": list(features),
            "forests": forests}


def _f_var(X, beta):
    return np.exp(beta[0] + np.inner(beta[1:], X))


def _f_mu(X, beta):
    return beta[0] + np.inner(beta[1:], X)


def _nll(theta, X, y):
    """Negative log-likelihood of y ~ N(mu(X), var(X)), as pgsc_calc's
    nLL_mu_and_var (adapted there from Broad palantir-workflows, BSD-3);
    Python's sequential sum as upstream."""
    h = 1 + X.shape[1]
    var = _f_var(X, theta[h:])
    return sum(np.log(np.sqrt(var)) + (1 / 2) * (y - _f_mu(X, theta[:h])) ** 2
               / var)


def _grad(theta, X, y):
    h = 1 + X.shape[1]
    bm, bv = theta[:h], theta[h:]
    var = _f_var(X, bv)
    r = y - _f_mu(X, bm)
    mu_c = -r / _f_var(X, bv)
    sig_c = 1 / (2 * _f_var(X, bv)) - (1 / 2) * r ** 2 / (_f_var(X, bv) ** 2)
    cols = [np.ascontiguousarray(X[:, j]) for j in range(X.shape[1])]
    return np.concatenate([[sum(mu_c * 1)], [sum(mu_c * c) for c in cols],
                           [sum(sig_c * (1 * var))],
                           [sum(sig_c * (c * var)) for c in cols]])


def fit_score(pcs_train, norm_mean, norm_sd, score_train):
    """pgsc_calc pgs_adjust for one score on the training rows: pgs_offset,
    Z_norm1 OLS, Z_norm2 full likelihood (GammaRegressor start, BFGS)."""
    from scipy import optimize
    from sklearn.linear_model import GammaRegressor, LinearRegression
    Xn = np.empty((pcs_train.shape[0], N_NORM))
    for j in range(N_NORM):
        Xn[:, j] = (pcs_train[:, j] - norm_mean[j]) / norm_sd[j]
    y = np.ascontiguousarray(score_train, dtype=np.float64)
    offset = col_mean(y)
    yc = y - offset
    ols = LinearRegression().fit(Xn, yc)
    resid = yc - ols.predict(Xn)
    rmean = col_mean(resid)
    rsd = col_std0(resid)
    gam = GammaRegressor(max_iter=1000).fit(Xn, (resid - rmean) ** 2)
    x0 = np.concatenate([[ols.intercept_], ols.coef_, [gam.intercept_],
                         gam.coef_])
    res = optimize.minimize(fun=_nll, x0=x0, method="BFGS", jac=_grad,
                            args=(Xn, yc), options={"maxiter": 1000})
    if not res.success:
        print("warning: Z_norm2 full likelihood: %s" % res.message,
              file=sys.stderr)
    x = res.x
    h = 1 + N_NORM
    return {
        "pgs_offset": float(offset),
        "z_norm1": {"intercept": float(ols.intercept_),
                    "coef": [float(v) for v in ols.coef_],
                    "resid_sd": float(rsd)},
        "z_norm2": {"mu_intercept": float(x[0]),
                    "mu_coef": [float(v) for v in x[1:h]],
                    "var_intercept": float(x[h]),
                    "var_coef": [float(v) for v in x[h + 1:]]},
        "_fit": {"success": bool(res.success), "nit": int(res.nit),
                 "fun": float(res.fun)},
    }


def distributions(scores_train, labels_train, populations):
    out = {}
    for pop in populations:
        d = np.ascontiguousarray(
            [s for s, lab in zip(scores_train, labels_train) if lab == pop],
            dtype=np.float64)
        if d.shape[0] == 0:
            raise RefError("population %s has no unrelated reference "
                           "samples" % pop)
        out[pop] = {"n": int(d.shape[0]), "mean": float(col_mean(d)),
                    "sd": float(col_std0(d)),
                    "percentiles": [float(v) for v in
                                    np.percentile(d, range(0, 101, 1))],
                    "scores": [float(v) for v in np.sort(d, kind="stable")]}
    return out


def build(ids, pcs, labels, related, scores, score_nvar=None, n_trees=None):
    """Fit everything of a bundle from reference rows.

    ids: [(FID, IID)] in row order; pcs: n x >=5 float64; labels: [str];
    related: [bool]; scores: {PGS: [SUM per row]} (rows without a score: the
    whole score is refused); n_trees: fit_forest's. Returns (reference dict
    without the descriptive keys, classifier dict)."""
    train = [i for i in range(len(ids)) if not related[i]]
    if len(train) < 10:
        raise RefError("only %d unrelated reference samples" % len(train))
    populations = sorted(set(labels[i] for i in train))
    ptrain = pcs[train]
    clf = fit_forest(ptrain[:, :N_POPCOMP], [labels[i] for i in train],
                     n_trees)
    assert [str(c) for c in clf.classes_] == populations
    features = ["PC%d" % (j + 1) for j in range(N_POPCOMP)]
    nmean = [float(col_mean(ptrain[:, j])) for j in range(N_NORM)]
    nsd = [float(col_std0(ptrain[:, j])) for j in range(N_NORM)]
    ref = {
        "populations": populations,
        "n_reference": len(ids), "n_unrelated": len(train),
        "pcs": int(pcs.shape[1]),
        "classifier": {"method": "random_forest", "n_pcs": N_POPCOMP,
                       "file": "classifier.json",
                       "low_confidence_below": LOW_CONFIDENCE},
        "normalization": {"n_pcs": N_NORM, "mean": nmean, "sd": nsd},
        "scores": {},
    }
    for pgs, vals in scores.items():
        v = np.asarray(vals, dtype=np.float64)
        if np.var(v) == 0:
            print("warning: %s has zero variance in the reference; skipped"
                  % pgs, file=sys.stderr)
            continue
        fit = fit_score(ptrain, nmean, nsd, v[train])
        fit.pop("_fit")
        entry = {"n_variants": int((score_nvar or {}).get(pgs, 0))}
        entry.update(fit)
        entry["distributions"] = distributions(
            v[train], [labels[i] for i in train], populations)
        ref["scores"][pgs] = entry
    return ref, forest_json(clf, features)


# ---------------------------------------------------------------- genotypes

def norm_chrom(c):
    c = c[3:] if c.lower().startswith("chr") else c
    return c


def read_vcf(path, samples_wanted=None):
    """bcftools query -> (variants [(chrom, pos, ref, alt, id)], sample IIDs,
    int8 p x n dosages with -1 missing). Only records whose ALT is one allele;
    GT allele indexes > 1 count as missing."""
    out = subprocess.run(["bcftools", "query", "-l", path], check=True,
                         capture_output=True, text=True).stdout
    samples = [s for s in out.split("\n") if s]
    proc = subprocess.Popen(
        ["bcftools", "query", "-f", "%CHROM\t%POS\t%REF\t%ALT\t%ID[\t%GT]\n",
         path], stdout=subprocess.PIPE, text=True)
    variants, rows = [], []
    code = {}
    for line in proc.stdout:
        f = line.rstrip("\n").split("\t")
        variants.append((norm_chrom(f[0]), int(f[1]), f[2], f[3], f[4]))
        r = np.empty(len(samples), dtype=np.int8)
        for j, gt in enumerate(f[5:]):
            d = code.get(gt)
            if d is None:
                a = gt.replace("|", "/").split("/")
                if any(x not in ("0", "1") for x in a) or len(a) > 2:
                    d = -1
                else:
                    d = sum(x == "1" for x in a) * (2 // len(a))
                code[gt] = d
            r[j] = d
        rows.append(r)
    if proc.wait() != 0:
        raise RefError("bcftools query failed on %s" % path)
    G = np.vstack(rows) if rows else np.zeros((0, len(samples)), np.int8)
    return variants, samples, G


def hwe_exact_p(n_het, n_hom1, n_hom2):
    """Wigginton, Cutler & Abecasis (2005) exact HWE test, two-sided."""
    n_rare_hom = min(n_hom1, n_hom2)
    n_common_hom = max(n_hom1, n_hom2)
    n = n_het + n_rare_hom + n_common_hom
    if n == 0:
        return 1.0
    rare = 2 * n_rare_hom + n_het
    probs = np.zeros(rare + 1)
    mid = rare * (2 * n - rare) // (2 * n)
    if (mid % 2) != (rare % 2):
        mid += 1
    probs[mid] = 1.0
    curr_het, curr_homr = mid, (rare - mid) // 2
    curr_homc = n - curr_het - curr_homr
    while curr_het >= 2:
        probs[curr_het - 2] = (probs[curr_het] * curr_het * (curr_het - 1.0)
                               / (4.0 * (curr_homr + 1.0) * (curr_homc + 1.0)))
        curr_het -= 2
        curr_homr += 1
        curr_homc += 1
    curr_het, curr_homr = mid, (rare - mid) // 2
    curr_homc = n - curr_het - curr_homr
    while curr_het <= rare - 2:
        probs[curr_het + 2] = (probs[curr_het] * 4.0 * curr_homr * curr_homc
                               / ((curr_het + 2.0) * (curr_het + 1.0)))
        curr_het += 2
        curr_homr -= 1
        curr_homc -= 1
    probs /= probs.sum()
    p = probs[probs <= probs[n_het] * (1 + 1e-7)].sum()
    return float(min(1.0, p))


def _hwe_fails(g_all, groups, threshold):
    for grp in groups:
        g = g_all[grp]
        if hwe_exact_p(int((g == 1).sum()), int((g == 0).sum()),
                       int((g == 2).sum())) < threshold:
            return True
    return False


def choose_variants(variants, G, cols, maf=0.05, max_missing=0.1, hwe=1e-4,
                    ld_r2=0.0, ld_window=50, hwe_groups=None):
    """Indexes of the PCA variants, from the reference columns `cols` only.
    hwe_groups: lists of columns (one per label) tested for HWE separately
    (a variant fails if any group has p < hwe); None: `cols` as one group.
    Returns (kept indexes, {reason: count})."""
    counts = {}
    pos_n = {}
    for v in variants:
        pos_n[(v[0], v[1])] = pos_n.get((v[0], v[1]), 0) + 1
    keep = []
    for i, (c, pos, ref, alt, _id) in enumerate(variants):
        why = None
        if c not in AUTOSOMES:
            why = "not autosomal"
        elif "," in alt or alt in (".", "*"):
            why = "not biallelic"
        elif len(ref) != 1 or len(alt) != 1 or ref not in "ACGT" \
                or alt not in "ACGT":
            why = "not an ACGT SNV"
        elif pos_n[(c, pos)] > 1:
            why = "duplicate position"
        else:
            g = G[i, cols]
            obs = g[g >= 0]
            if g.shape[0] - obs.shape[0] > max_missing * g.shape[0]:
                why = "missingness"
            else:
                af = obs.mean() / 2.0 if obs.shape[0] else 0.0
                if min(af, 1.0 - af) < maf or obs.shape[0] == 0:
                    why = "maf"
                elif hwe > 0 and _hwe_fails(G[i], hwe_groups or [cols], hwe):
                    why = "hwe"
        if why:
            counts[why] = counts.get(why, 0) + 1
        else:
            keep.append(i)
    if ld_r2 > 0 and keep:
        kept = []
        for i in keep:
            x = G[i, cols].astype(np.float64)
            x[x < 0] = np.nan
            ok = True
            for j in kept[-ld_window:]:
                if variants[j][0] != variants[i][0]:
                    continue
                y = G[j, cols].astype(np.float64)
                y[y < 0] = np.nan
                m = ~np.isnan(x) & ~np.isnan(y)
                if m.sum() > 2:
                    r = np.corrcoef(x[m], y[m])[0, 1]
                    if r * r > ld_r2:
                        ok = False
                        break
            if ok:
                kept.append(i)
            else:
                counts["ld"] = counts.get("ld", 0) + 1
        keep = kept
    return keep, counts


def reference_pca(D, dim_online=DIM_ONLINE):
    """FRAPOSA reference PCA of D (p x n ALT dosages, NaN missing), in float64.
    Returns mean, sd, U (p x 40), s (40), V (n x 40), pcs (n x 10) (40:
    dim_online)."""
    p, n = D.shape
    miss = np.isnan(D)
    mean = np.zeros(p)
    sd = np.zeros(p)
    for i in range(p):
        r = D[i][~miss[i]]
        mean[i] = np.mean(r)
        sd[i] = np.std(r)
    sd[sd == 0] = 1.0
    X = (D - mean[:, None]) / sd[:, None]
    X[miss] = 0.0
    XTX = X.T @ X
    ssq, V = np.linalg.eigh(XTX)
    s = np.sqrt(np.abs(ssq))[::-1]
    V = V[:, ::-1]
    k = min(dim_online, n, p)
    V = np.array(V[:, :k])
    s = np.array(s[:k])
    for j in range(k):
        if V[np.argmax(np.abs(V[:, j])), j] < 0:
            V[:, j] = -V[:, j]
    U = X @ (V / s)
    pcs = V[:, :DIM_REF] * s[:DIM_REF]
    return mean, sd, U, s, V, pcs


def projection_json(mean, sd, U, s, V, pcs):
    return {"method": "oadp", "n_variants": int(U.shape[0]),
            "n_reference": int(V.shape[0]), "dim_ref": int(pcs.shape[1]),
            "dim_online": int(U.shape[1]), "dim_stu": DIM_STU,
            "mean": [float(v) for v in mean], "sd": [float(v) for v in sd],
            "U": [float(v) for v in U.ravel()],
            "s": [float(v) for v in s],
            "V": [float(v) for v in V.ravel()],
            "ref_pcs": [float(v) for v in pcs.ravel()]}


def variants_tsv(variants, mean):
    lines = ["feature_id\tchrom\tpos\tref\talt\tmean"]
    for (c, pos, ref, alt, _id), m in zip(variants, mean):
        lines.append("%s:%d:%s:%s\t%s\t%d\t%s\t%s\t%s"
                     % (c, pos, ref, alt, c, pos, ref, alt, repr(float(m))))
    return "\n".join(lines) + "\n"


def holdout_split(iids, labels, fraction, seed):
    """Stratified: per label (sorted), round(fraction * n_label) of that
    label's samples, chosen by a permutation from RandomState(seed)."""
    rng = np.random.RandomState(seed)
    held = set()
    for lab in sorted(set(labels)):
        idx = [i for i, l in enumerate(labels) if l == lab]
        k = int(round(fraction * len(idx)))
        perm = rng.permutation(len(idx))
        held.update(idx[j] for j in perm[:k])
    return sorted(held)


def build_from_genotypes(variants, iids, D, labels, related, scores,
                         score_nvar=None, var_opts=None, log=print,
                         n_trees=None, dim_online=DIM_ONLINE):
    """Mode (b) core. variants [(chrom,pos,ref,alt,id)], D p x n float64
    dosages (NaN missing) over the reference samples iids (row order), labels,
    related flags, scores {PGS: [per sample]}. n_trees (forest size, default
    100) and dim_online (at least DIM_STU) are for small test bundles; real
    and demo bundles keep the defaults. Returns (ref, clf, proj,
    variants_text, pcs_table)."""
    train = [i for i in range(len(iids)) if not related[i]]
    var_opts = dict(var_opts or {})
    if var_opts.pop("hwe_scope", "label") == "label":
        var_opts["hwe_groups"] = [[i for i in train if labels[i] == lab]
                                  for lab in sorted(set(labels))]
    Gi = np.where(np.isnan(D), -1, D).astype(np.int8)
    keep, counts = choose_variants(variants, Gi, train, **var_opts)
    log("variants: %d of %d kept; dropped: %s" % (
        len(keep), len(variants),
        ", ".join("%s %d" % kv for kv in sorted(counts.items())) or "none"))
    if len(keep) < dim_online + 1:
        raise RefError("only %d PCA variants" % len(keep))
    Dt = D[np.ix_(keep, train)]
    mean, sd, U, s, V, pcs_t = reference_pca(Dt, dim_online)
    pcs = np.full((len(iids), DIM_REF), np.nan)
    pcs[train] = pcs_t
    # related rows: not in the PCA, not used for any fit; give them no PCs
    sub_ids = [(iids[i], iids[i]) for i in train]
    ref, clf = build(sub_ids, pcs_t, [labels[i] for i in train],
                     [False] * len(train),
                     {k: [v[i] for i in train] for k, v in scores.items()},
                     score_nvar, n_trees)
    ref["n_reference"] = len(iids)
    proj = projection_json(mean, sd, U, s, V, pcs_t)
    vt = variants_tsv([variants[i] for i in keep], mean)
    return ref, clf, proj, vt, (sub_ids, pcs_t)


# ---------------------------------------------------------------- writing

def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")


def write_pcs(path, ids, pcs):
    with open(path, "w", encoding="utf-8") as f:
        f.write("FID\tIID\t" + "\t".join("PC%d" % (j + 1)
                                         for j in range(pcs.shape[1])) + "\n")
        for (fid, iid), r in zip(ids, pcs):
            f.write("%s\t%s\t%s\n" % (fid, iid, "\t".join(repr(float(v))
                                                          for v in r)))


def assemble(ref_core, name, description, synthetic, genome_build,
             label_column, source, projection):
    doc = {"format": FORMAT, "format_version": 1, "name": name,
           "description": description, "synthetic": bool(synthetic),
           "genome_build": genome_build, "label_column": label_column}
    doc["populations"] = ref_core["populations"]
    doc["n_reference"] = ref_core["n_reference"]
    doc["n_unrelated"] = ref_core["n_unrelated"]
    doc["source"] = source
    doc["pcs"] = ref_core["pcs"]
    doc["projection"] = projection
    for k in ("classifier", "normalization", "scores"):
        doc[k] = ref_core[k]
    return doc


def write_bundle(out, doc, clf, proj=None, vtext=None):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "reference.json"), "w",
              encoding="utf-8") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
        f.write("\n")
    write_json(os.path.join(out, "classifier.json"), clf)
    if proj is not None:
        write_json(os.path.join(out, "projection.json"), proj)
        with open(os.path.join(out, "projection_variants.tsv"), "w",
                  encoding="utf-8") as f:
            f.write(vtext)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--ref-pcs",
                     help="FRAPOSA .pcs of the reference (mode a)")
    src.add_argument("--vcf", help="reference genotypes (mode b)")
    ap.add_argument("--labels", required=True, help="plink2 .psam")
    ap.add_argument("--label-column", default="SuperPop")
    ap.add_argument("--exclude",
                    help="related sample IDs (king.cutoff.out.id)")
    ap.add_argument("--ref-scores", help="pgsc_calc aggregated_scores.txt")
    ap.add_argument("--ref-sampleset", default="reference")
    ap.add_argument("--name", required=True)
    ap.add_argument("--description", default="")
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--genome-build", choices=["GRCh37", "GRCh38"])
    ap.add_argument("--holdout", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--holdout-out")
    ap.add_argument("--maf", type=float, default=0.05)
    ap.add_argument("--max-missing", type=float, default=0.1)
    ap.add_argument("--hwe", type=float, default=1e-4)
    ap.add_argument("--hwe-scope", choices=["label", "all"], default="label",
                    help="HWE tested within each label (default; a test over "
                    "the pooled panel drops the ancestry-informative "
                    "variants, Wahlund effect) or over all training samples")
    ap.add_argument("--ld-r2", type=float, default=0.0)
    ap.add_argument("--ld-window", type=int, default=50)
    ap.add_argument("--pcs-out", help="also write the reference PCs (.pcs)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    import re
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", a.name):
        ap.error("--name must match [a-z0-9][a-z0-9._-]{0,63}")
    source = "tools/make_reference.py " + " ".join(
        (argv if argv is not None else sys.argv[1:]))
    labmap = read_labels(a.labels, a.label_column)
    excl = read_exclude(a.exclude)
    try:
        if a.ref_pcs:
            if a.holdout:
                ap.error("--holdout needs --vcf")
            ids0, pcs0 = read_pcs(a.ref_pcs)
            rows = [i for i, (f, iid) in enumerate(ids0) if iid in labmap]
            ids = [ids0[i] for i in rows]
            pcs = pcs0[rows]
            labels = [labmap[iid] for f, iid in ids]
            related = [f in excl for f, iid in ids]
            scores = {}
            if a.ref_scores:
                sc = read_scores(a.ref_scores, a.ref_sampleset)
                for pgs, m in sc.items():
                    miss = [i for i in ids if i not in m]
                    if miss:
                        raise RefError("%s: no %s score for %s %s" % (
                            a.ref_scores, pgs, miss[0][0], miss[0][1]))
                    scores[pgs] = [m[i] for i in ids]
            core, clf = build(ids, pcs, labels, related, scores)
            doc = assemble(core, a.name, a.description, a.synthetic,
                           a.genome_build, a.label_column, source, None)
            write_bundle(a.out, doc, clf)
            if a.pcs_out:
                write_pcs(a.pcs_out, ids, pcs)
        else:
            variants, samples, G = read_vcf(a.vcf)
            cols = [j for j, s in enumerate(samples) if s in labmap]
            iids = [samples[j] for j in cols]
            labels = [labmap[s] for s in iids]
            held = []
            if a.holdout:
                held = holdout_split(iids, labels, a.holdout, a.seed)
                if a.holdout_out:
                    with open(a.holdout_out, "w", encoding="utf-8") as f:
                        f.write("".join(iids[i] + "\n" for i in held))
            hs = set(held)
            keepc = [k for k in range(len(iids)) if k not in hs]
            iids = [iids[k] for k in keepc]
            labels = [labels[k] for k in keepc]
            cols = [cols[k] for k in keepc]
            D = G[:, cols].astype(np.float64)
            D[D < 0] = np.nan
            related = [s in excl for s in iids]
            scores = {}
            if a.ref_scores:
                sc = read_scores(a.ref_scores, a.ref_sampleset)
                for pgs, m in sc.items():
                    scores[pgs] = [m[(s, s)] for s in iids]
            print("samples: %d labelled, %d held out, %d related, %d train"
                  % (len(cols) + len(held), len(held), sum(related),
                     len(iids) - sum(related)))
            core, clf, proj, vt, (sids, spcs) = build_from_genotypes(
                [v for v in variants], iids, D, labels, related, scores,
                var_opts={"maf": a.maf, "max_missing": a.max_missing,
                          "hwe": a.hwe, "hwe_scope": a.hwe_scope,
                          "ld_r2": a.ld_r2,
                          "ld_window": a.ld_window})
            doc = assemble(core, a.name, a.description, a.synthetic,
                           a.genome_build, a.label_column, source,
                           {"method": "oadp", "file": "projection.json",
                            "variants": "projection_variants.tsv"})
            write_bundle(a.out, doc, clf, proj, vt)
            if a.pcs_out:
                write_pcs(a.pcs_out, sids, spcs)
    except (RefError, OSError, subprocess.CalledProcessError) as e:
        print("make_reference.py: %s" % e, file=sys.stderr)
        return 1
    print("wrote %s" % a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
