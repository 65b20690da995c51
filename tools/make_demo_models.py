#!/usr/bin/python3
"""Generate the SYNTHETIC demo model bundles under models/.

All four bundles are trained on / derived from synthetic genotypes and a
made-up "CAD" outcome. They exist to demonstrate the genorisk service and its
bundle formats; they carry no medical meaning whatsoever.

  models/cad-xgb-demo    XGBoost binary:logistic, 200 SNPs, 100 trees, depth 4
  models/cad-rf-demo     RandomForestClassifier, 50 trees, depth 6, 50 SNPs
                         (genorisk-trees via tools/export_sklearn.py)
  models/cad-pgs-demo    synthetic PGS Catalog scoring file, 300 variants
  models/cad-logit-demo  LogisticRegression, 50 SNPs (genorisk-linear)
  models/demo-reference  synthetic reference population (genorisk-reference
                         bundle by tools/make_reference.py): 5 populations
                         POP-A..POP-E x 130 samples over the union of the
                         demo models' variants, with cad-pgs-demo's
                         distributions

Every bundle also gets example.json, an example /predict request body, and
models/demo.vcf.gz holds four synthetic samples over the whole panel (a few
calls missing, some on the reverse of each other's strand order), which every
demo model scores at 90% coverage or more: the README's VCF examples use it.
All SNPs come from one synthetic 300-SNP panel (rs9000001..rs9000300; every
7th SNP has no rsID and uses a chrom:pos:ref:alt feature id), so one
sample's genotypes make sense for every demo model. Deterministic.

Run: tools/make_demo_models.py [--out models]
"""

import argparse
import gzip
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refblas  # noqa: E402
refblas.pin()  # before numpy: the same digits whichever BLAS the machine selects

import numpy as np  # noqa: E402
import xgboost as xgb
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import export_sklearn  # noqa: E402
import make_reference  # noqa: E402

DISCLAIMER = "SYNTHETIC DEMO - not for clinical use."
SEED = 20240601
N_PANEL = 300
N_TRAIN = 5000

CHROM_LEN = {
    "1": 248956422, "2": 242193529, "3": 198295559, "4": 190214555,
    "5": 181538259, "6": 170805979, "7": 159345973, "8": 145138636,
    "9": 138394717, "10": 133797422, "11": 135086622, "12": 133275309,
    "13": 114364328, "14": 107043718, "15": 101991189, "16": 90338345,
    "17": 83257441, "18": 80373285, "19": 58617616, "20": 64444167,
    "21": 46709983, "22": 50818468,
}
CHROMS = list(CHROM_LEN)
ALLELE_PAIRS = [("A", "G"), ("G", "A"), ("C", "T"), ("T", "C"), ("A", "C"),
                ("C", "A"), ("G", "T"), ("T", "G")]


def make_panel(rng):
    w = np.array([CHROM_LEN[c] for c in CHROMS], dtype=np.float64)
    chroms = rng.choice(CHROMS, size=N_PANEL, p=w / w.sum())
    snps, used = [], set()
    for c in chroms:
        c = str(c)
        while True:
            pos = int(rng.randint(1_000_000, CHROM_LEN[c] - 1_000_000))
            if (c, pos) not in used:
                used.add((c, pos))
                break
        ref, alt = ALLELE_PAIRS[rng.randint(len(ALLELE_PAIRS))]
        snps.append({"chrom": c, "pos": pos, "ref": ref, "alt": alt,
                     "p": round(float(rng.uniform(0.05, 0.5)), 4)})
    snps.sort(key=lambda s: (CHROMS.index(s["chrom"]), s["pos"]))
    for i, s in enumerate(snps):
        s["pos_id"] = "%s:%d:%s:%s" % (s["chrom"], s["pos"], s["ref"],
                                       s["alt"])
        if i % 7 == 3:
            s["rsid"] = ""
            s["feature_id"] = s["pos_id"]
        else:
            s["rsid"] = "rs%d" % (9000001 + i)
            s["feature_id"] = s["rsid"]
    return snps


def features_text(snps):
    lines = ["feature_id\tchrom\tpos\tref\talt\tmean\trsid"]
    for s in snps:
        lines.append("%s\t%s\t%d\t%s\t%s\t%s\t%s" % (
            s["feature_id"], s["chrom"], s["pos"], s["ref"], s["alt"],
            repr(round(2.0 * s["p"], 6)), s["rsid"]))
    return "\n".join(lines) + "\n"


def write_json(path, obj, indent=2):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent)
        f.write("\n")


def fresh_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)


GT_STRINGS = {0: ["0/0", "0|0"], 1: ["0/1", "0|1", "1|0"], 2: ["1/1", "1|1"]}


def example_request(rng, snps, key_mode):
    """Example request body with two samples. key_mode 'model' mixes
    feature_id, rsid and chrom:pos:ref:alt keys; 'pgs' uses
    chrom:pos:other_allele:effect_allele keys."""
    samples = []
    for k in range(2):
        geno = {}
        n = len(snps)
        null_idx = {(7 * k + 5) % n, (11 * k + 17) % n}
        for j, s in enumerate(snps):
            d = int(rng.binomial(2, s["p"]))
            if key_mode == "pgs":
                key = s["pgs_id"]
            elif s["rsid"] and j % 3 == 1:
                key = s["pos_id"]            # positional form of an rs SNP
            elif s["rsid"] and j % 3 == 2:
                key = s["rsid"]              # rsID form
            else:
                key = s["feature_id"]        # the feature_id itself
            if j in null_idx:
                val = None                   # explicitly missing
            elif j % 4 == 0:
                opts = GT_STRINGS[d]
                val = opts[rng.randint(len(opts))]   # VCF-style GT string
            elif j % 13 == 6:
                val = round(float(np.clip(d + rng.normal(0, 0.15), 0, 2)), 3)
            else:
                val = d                      # integer ALT dosage
            geno[key] = val
        samples.append({"id": "DEMO-%03d" % (k + 1), "genotypes": geno})
    return {"samples": samples, "explain": True, "top_k": 5}


def simulate(rng, snps, n):
    p = np.array([s["p"] for s in snps])
    X = rng.binomial(2, p, size=(n, len(snps))).astype(np.float64)
    causal = rng.choice(len(snps), size=25, replace=False)
    beta = rng.normal(0, 0.35, size=25)
    z = X[:, causal] @ beta
    z = (z - z.mean()) / z.std()
    # a little interaction so the tree models have something to find
    z = z + 0.6 * (X[:, causal[0]] > 0) * (X[:, causal[1]] > 0) - 0.3
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-(1.2 * z - 1.0)))) \
        .astype(np.float64)
    return X, y, causal, beta


def manifest(name, description, task, fmt, artifact, features=True):
    m = {"name": name, "version": "0.1.0",
         "description": DISCLAIMER + " " + description, "task": task,
         "format": fmt, "artifact": artifact}
    if features:
        m["features"] = "features.tsv"
    m["genome_build"] = "GRCh38"
    m["synthetic"] = True
    return m


def mark_synthetic(d):
    """Says in the exporter's manifest that the bundle is made-up data."""
    path = os.path.join(d, "manifest.json")
    with open(path, encoding="utf-8") as f:
        m = json.load(f)
    m["synthetic"] = True
    write_json(path, m)


def make_xgb(out, rng, snps, X, y):
    d = os.path.join(out, "cad-xgb-demo")
    fresh_dir(d)
    idx = np.arange(200)
    sub = [snps[i] for i in idx]
    params = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.1,
              "tree_method": "exact", "nthread": 1, "seed": SEED}
    booster = xgb.train(params, xgb.DMatrix(X[:, idx], label=y),
                        num_boost_round=100)
    booster.save_model(os.path.join(d, "model.json"))
    with open(os.path.join(d, "features.tsv"), "w", encoding="utf-8") as f:
        f.write(features_text(sub))
    write_json(os.path.join(d, "manifest.json"), manifest(
        "cad-xgb-demo", "XGBoost (binary:logistic, 100 trees, depth 4) over "
        "200 synthetic SNPs predicting a made-up coronary artery disease "
        "label.", "classification", "xgboost-json", "model.json"))
    mark_synthetic(d)
    write_json(os.path.join(d, "example.json"),
               example_request(rng, sub, "model"))
    return d


def make_rf(out, rng, snps, X, y, idx):
    d = os.path.join(out, "cad-rf-demo")
    fresh_dir(d)
    sub = [snps[i] for i in idx]
    est = RandomForestClassifier(n_estimators=50, max_depth=6,
                                 min_samples_leaf=5, random_state=SEED % 2**31)
    est.fit(X[:, idx], y)
    export_sklearn.export_bundle(
        est, features_text(sub), d, "cad-rf-demo", "0.1.0",
        DISCLAIMER + " RandomForestClassifier (50 trees, depth 6) over 50 "
        "synthetic SNPs predicting a made-up coronary artery disease label.",
        "GRCh38")
    mark_synthetic(d)
    write_json(os.path.join(d, "example.json"),
               example_request(rng, sub, "model"))
    return d


def make_logit(out, rng, snps, X, y, idx):
    d = os.path.join(out, "cad-logit-demo")
    fresh_dir(d)
    sub = [snps[i] for i in idx]
    est = LogisticRegression(C=0.1, max_iter=2000)
    est.fit(X[:, idx], y)
    export_sklearn.export_bundle(
        est, features_text(sub), d, "cad-logit-demo", "0.1.0",
        DISCLAIMER + " LogisticRegression over 50 synthetic SNPs predicting "
        "a made-up coronary artery disease label.", "GRCh38")
    mark_synthetic(d)
    write_json(os.path.join(d, "example.json"),
               example_request(rng, sub, "model"))
    return d


def make_pgs(out, rng, snps, causal, beta):
    d = os.path.join(out, "cad-pgs-demo")
    fresh_dir(d)
    artifact = "cad_pgs_demo.txt"
    w = rng.normal(0, 0.03, size=len(snps))
    w[causal] += beta * 0.5
    lines = [
        "###PGS CATALOG SCORING FILE - see https://www.pgscatalog.org/"
        "downloads/#dl_ftp_scoring for additional information",
        "#format_version=2.0",
        "##POLYGENIC SCORE (PGS) INFORMATION",
        "#pgs_id=PGS_DEMO_CAD",
        "#pgs_name=CAD_SYNTHETIC_DEMO",
        "#trait_reported=Coronary artery disease (SYNTHETIC DEMO - not for "
        "clinical use)",
        "#genome_build=GRCh38",
        "#variants_number=%d" % len(snps),
        "#weight_type=beta",
        "##SOURCE INFORMATION",
        "#citation=genorisk synthetic demo (tools/make_demo_models.py); "
        "no publication",
        "#license=CC0-1.0 (synthetic data)",
        "chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight"
        "\tallelefrequency_effect"]
    for s, wt in zip(snps, w):
        # effect allele = ALT here, so GT strings count effect alleles
        s["pgs_id"] = "%s:%d:%s:%s" % (s["chrom"], s["pos"], s["ref"],
                                       s["alt"])
        lines.append("%s\t%d\t%s\t%s\t%s\t%s" % (
            s["chrom"], s["pos"], s["alt"], s["ref"],
            repr(round(float(wt), 6)), repr(s["p"])))
    with open(os.path.join(d, artifact), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    m = manifest(
        "cad-pgs-demo", "Synthetic PGS Catalog format scoring file (300 "
        "variants, additive betas) for a made-up coronary artery disease "
        "score.", "regression", "pgs-catalog", artifact, features=False)
    # read against the synthetic reference population, with risk
    # categories and a made-up prevalence and AUC
    m["reference"] = "demo-reference"
    m["risk"] = {"categories": [{"name": "low", "from": 0},
                                {"name": "average", "from": 20},
                                {"name": "elevated", "from": 80},
                                {"name": "high", "from": 95}],
                 "prevalence": 0.06, "auc": 0.62, "z": "z_norm2"}
    write_json(os.path.join(d, "manifest.json"), m)
    write_json(os.path.join(d, "example.json"),
               example_request(rng, snps, "pgs"))
    return d


def make_demo_vcf(out, snps):
    """models/demo.vcf.gz: DEMO-001..DEMO-004 over the 300-SNP panel, as a
    sequencing pipeline would write them: chr-prefixed names, GRCh38 contig
    lengths, GT calls (phased and not), about 2% of calls missing, every
    fifth record with REF and ALT in the other order from the model's
    features (as VCFs do when the counted allele is the reference), and a
    DS field on chromosome 22. gzip with no timestamp, so it regenerates
    byte for byte. Own random stream: the models do not change with it."""
    rng = np.random.RandomState(SEED + 7)
    ids = ["DEMO-%03d" % (k + 1) for k in range(4)]
    lines = ["##fileformat=VCFv4.2",
             "##source=tools/make_demo_models.py (SYNTHETIC DEMO - not for clinical use)",
             "##reference=GRCh38",
             '##FILTER=<ID=PASS,Description="All filters passed">',
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             '##FORMAT=<ID=DS,Number=A,Type=Float,Description="ALT dosage">']
    lines += ["##contig=<ID=chr%s,length=%d>" % (c, CHROM_LEN[c]) for c in CHROMS]
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER",
                            "INFO", "FORMAT"] + ids))
    for i, snp in enumerate(snps):
        swap = i % 5 == 2
        ref, alt = (snp["alt"], snp["ref"]) if swap else (snp["ref"], snp["alt"])
        ds = snp["chrom"] == "22"
        calls = []
        for k in range(len(ids)):
            d = int(rng.binomial(2, snp["p"]))       # copies of the model's alt
            if rng.uniform() < 0.02:
                calls.append("./." + (":." if ds else ""))
                continue
            n_alt = 2 - d if swap else d             # copies of this record's ALT
            gt = ["0/0", "0/1", "1/1"][n_alt]
            if k % 2 and n_alt == 1:
                gt = "1|0" if rng.uniform() < 0.5 else "0|1"
            calls.append(gt + (":%d" % n_alt if ds else ""))
        lines.append("\t".join(["chr" + snp["chrom"], str(snp["pos"]),
                                snp["rsid"] or ".", ref, alt, ".", "PASS", ".",
                                "GT:DS" if ds else "GT"] + calls))
    path = os.path.join(out, "demo.vcf.gz")
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                           compresslevel=6) as f:
            f.write(("\n".join(lines) + "\n").encode())
    return path


REF_POPS = ["POP-A", "POP-B", "POP-C", "POP-D", "POP-E"]
REF_PER_POP = 130
REF_FST = 0.1


def demo_variants(out):
    """Union of the demo bundles' variants as (chrom, pos, ref, alt), alt =
    the counted (effect) allele, read back from the written bundles, in
    panel order."""
    seen = {}
    for name in ("cad-xgb-demo", "cad-rf-demo", "cad-logit-demo"):
        with open(os.path.join(out, name, "features.tsv"),
                  encoding="utf-8") as f:
            rows = [ln.rstrip("\n").split("\t") for ln in f][1:]
        for r in rows:
            seen[(r[1], int(r[2]), r[3], r[4])] = None
    weights = {}
    with open(os.path.join(out, "cad-pgs-demo", "cad_pgs_demo.txt"),
              encoding="utf-8") as f:
        lines = [ln.rstrip("\n") for ln in f if not ln.startswith("#")]
    h = lines[0].split("\t")
    for ln in lines[1:]:
        r = dict(zip(h, ln.split("\t")))
        key = (r["chr_name"], int(r["chr_position"]), r["other_allele"],
               r["effect_allele"])
        seen[key] = None
        weights[key] = float(r["effect_weight"])
    keys = sorted(seen, key=lambda k: (CHROMS.index(k[0]), k[1]))
    return keys, weights


def make_reference_population(out, snps):
    """models/demo-reference: a synthetic reference panel. Five populations
    drift from the panel's allele frequencies (Balding-Nichols, F = 0.1);
    130 samples each are drawn from their population's frequencies; the
    bundle is then fitted exactly as tools/make_reference.py mode (b) fits a
    real panel (FRAPOSA PCA + OADP projection data, RandomForest on PC1..5,
    pgsc_calc normalisations) with cad-pgs-demo's score. No sample is
    related or held out, every variant is kept (MAF/missingness/HWE filters
    off) so the projection variants are exactly the demo models' union.
    Own random stream: the models do not change with it."""
    d = os.path.join(out, "demo-reference")
    fresh_dir(d)
    rng = np.random.RandomState(SEED + 11)
    keys, weights = demo_variants(out)
    p0 = {(s["chrom"], s["pos"], s["ref"], s["alt"]): s["p"] for s in snps}
    anc = np.array([p0[k] for k in keys])
    a, b = anc * (1 - REF_FST) / REF_FST, (1 - anc) * (1 - REF_FST) / REF_FST
    D, labels, iids = [], [], []
    for k, pop in enumerate(REF_POPS):
        pk = np.clip(rng.beta(a, b), 0.02, 0.98)
        D.append(rng.binomial(2, pk, size=(REF_PER_POP, len(keys))))
        labels += [pop] * REF_PER_POP
        iids += ["%s-%03d" % (pop, i + 1) for i in range(REF_PER_POP)]
    D = np.vstack(D).T.astype(np.float64)          # variants x samples
    w = np.array([weights.get(k, 0.0) for k in keys])
    score = [float(v) for v in w @ D]
    variants = [k + (".",) for k in keys]
    ref, clf, proj, vtext, _ = make_reference.build_from_genotypes(
        variants, iids, D, labels, [False] * len(iids),
        {"cad-pgs-demo": score}, {"cad-pgs-demo": len(weights)},
        var_opts={"maf": 0.0, "max_missing": 1.0, "hwe": 0.0},
        log=lambda msg: None)
    assert proj["n_variants"] == len(keys), proj["n_variants"]
    doc = make_reference.assemble(
        ref, "demo-reference",
        DISCLAIMER + " A made-up reference panel: five synthetic populations "
        "(POP-A..POP-E, 130 samples each, allele frequencies drifted from the "
        "demo panel's with F = 0.1) genotyped at the %d variants of the demo "
        "models, with the distributions of cad-pgs-demo. The populations "
        "stand for no real group; its percentiles and Z scores mean "
        "nothing." % len(keys), True, "GRCh38", "population",
        "tools/make_demo_models.py (synthetic; fitted by "
        "tools/make_reference.py build_from_genotypes)",
        {"method": "oadp", "file": "projection.json",
         "variants": "projection_variants.tsv"})
    make_reference.write_bundle(d, doc, clf, proj, vtext)
    return d


README = """\
# models/ - SYNTHETIC DEMO MODELS

> **SYNTHETIC DEMO - NOT FOR CLINICAL USE.**
> **These models were trained on randomly generated genotypes and a made-up
> outcome. Their "risk" numbers mean NOTHING. Never use them to assess,
> diagnose or advise anyone.**

They exist only to demonstrate genorisk and its bundle formats:

| bundle | format | what |
| --- | --- | --- |
| `cad-xgb-demo` | xgboost-json | XGBoost binary:logistic, 200 SNPs, 100 trees, depth 4 |
| `cad-rf-demo` | genorisk-trees | RandomForestClassifier, 50 trees, depth 6, 50 SNPs |
| `cad-pgs-demo` | pgs-catalog | synthetic PGS Catalog scoring file, 300 variants |
| `cad-logit-demo` | genorisk-linear | LogisticRegression, 50 SNPs |
| `demo-reference` | genorisk-reference | synthetic reference panel: populations POP-A..POP-E (130 samples each, made-up allele frequencies) at the union of the demo models' variants, with the `cad-pgs-demo` score's distributions |

`demo.vcf.gz` holds four synthetic samples (DEMO-001..DEMO-004) genotyped at
all 300 SNPs, for the VCF examples of the README:

    build/genorisk predict --model models/cad-pgs-demo --vcf models/demo.vcf.gz

Each bundle holds `manifest.json`, the model artifact, `features.tsv`
(not for PGS bundles) and `example.json`, an example request body that mixes
integer dosages, VCF-style GT strings ("0/1", "1|1", ...), a few fractional
dosages, explicit nulls, and keys given as feature_id, rsID or
chrom:pos:ref:alt (PGS: chrom:pos:other_allele:effect_allele).

All SNPs (rs9000001..rs9000300, positions on GRCh38) are fictional.

Regenerate (deterministic) with Debian's python3 + python3-xgboost +
python3-sklearn:

    tools/make_demo_models.py
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "models"),
                    help="output directory (default: models/)")
    args = ap.parse_args()
    rng = np.random.RandomState(SEED)
    snps = make_panel(rng)
    X, y, causal, beta = simulate(rng, snps, N_TRAIN)
    os.makedirs(args.out, exist_ok=True)
    # the 50-SNP models use the causal SNPs plus others, in panel order
    pool = [i for i in range(N_PANEL) if i not in set(causal)]
    idx50 = np.sort(np.concatenate([causal, rng.choice(pool, 25,
                                                       replace=False)]))
    made = [make_xgb(args.out, rng, snps, X, y),
            make_rf(args.out, rng, snps, X, y, idx50),
            make_logit(args.out, rng, snps, X, y, idx50),
            make_pgs(args.out, rng, snps, causal, beta)]
    make_demo_vcf(args.out, snps)
    made.append(make_reference_population(args.out, snps))
    with open(os.path.join(args.out, "README.md"), "w",
              encoding="utf-8") as f:
        f.write(README)
    for d in made:
        sizes = {fn: os.path.getsize(os.path.join(d, fn))
                 for fn in sorted(os.listdir(d))}
        assert all(v < 1_000_000 for v in sizes.values()), sizes
        assert sum(sizes.values()) < 2_000_000, sizes
        print("%s: %s" % (os.path.relpath(d, REPO), ", ".join(
            "%s %.1f kB" % (k, v / 1e3) for k, v in sizes.items())))


if __name__ == "__main__":
    main()
