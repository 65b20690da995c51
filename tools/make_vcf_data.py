#!/usr/bin/python3
"""Synthetic VCF test data for genorisk's VCF input: plink2 parity sets,
benchmark inputs and the small committed unit-test fixtures.

Everything is deterministic (fixed numpy seeds; bgzip and bcftools write the
same bytes for the same input). Subcommands:

  parity   --out DIR   1000-sample VCF (chr1..chr22 + chrX, ~3000 SNV records,
                       some multi-allelic, ~3% missing calls, males with
                       haploid chrX calls), an 800-variant PGS Catalog scoring
                       file drawn from it (effect allele = ALT or REF, a few
                       strand-flipped rows, some variants absent from the
                       VCF), genorisk bundles with and without
                       allelefrequency_effect, and the plink2 inputs (weights,
                       .afreq, one-column-per-variant indicator weights).
                       Also DIR/pyvcf/: the same kind of set built on Debian's
                       python-pyvcf-examples 1000 Genomes extract, if present.
  bench1   --out DIR   single-sample BGZF VCF (GT only, 2,000,000 records) and
                       a 100,000-variant PGS (bundle + plink2 weights).
  bench2   --out DIR   1000-sample BGZF VCF (100,000 records) and a
                       10,000-variant PGS (bundle + plink2 weights).
  bench3   --out DIR   single-sample BGZF VCF as a WGS call set comes (2,000,000
                       records, rsIDs, QUAL ., PASS, INFO AF;DP, GT:DP:GQ) and a
                       100,000-variant PGS with rsIDs drawn from it (bundle).
  bench-index --out DIR  BGZF VCF of 5,000,000 SNV records (8 GT:DS:GQ:DP
                       samples, long gnomAD-like INFO and a CSQ-like
                       annotation: about 600 MB), its tabix index, a
                       100-variant PGS drawn across it and its regions for
                       bcftools view -R.
  fixtures --out DIR   tests/fixtures/vcf: a genorisk-linear bundle whose
                       variants exercise each matching rule, small VCF/BCF
                       files and expected.json with the dosages by rule.

Run with Debian's /usr/bin/python3 (numpy); needs bgzip (tabix) and, for
fixtures, bcftools. See tools/plink2_parity.sh and tools/bench_vcf.sh.
"""

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

# GRCh38 primary assembly lengths
GRCH38 = [("1", 248956422), ("2", 242193529), ("3", 198295559), ("4", 190214555),
          ("5", 181538259), ("6", 170805979), ("7", 159345973), ("8", 145138636),
          ("9", 138394717), ("10", 133797422), ("11", 135086622), ("12", 133275309),
          ("13", 114364328), ("14", 107043718), ("15", 101991189), ("16", 90338345),
          ("17", 83257441), ("18", 80373285), ("19", 58617616), ("20", 64444167),
          ("21", 46709983), ("22", 50818468), ("X", 156040895), ("Y", 57227415)]
CHROM_LEN = dict(GRCH38)
# chrX outside the GRCh38 pseudo-autosomal regions (PAR1 ends 2,781,479;
# PAR2 starts 155,701,383), so every chrX position here is truly haploid in males
X_NONPAR = (2_800_000, 155_700_000)

BASES = np.array(list("ACGT"))
COMP = {"A": "T", "C": "G", "G": "C", "T": "A"}
PYVCF_1KG = "/usr/share/doc/python3-vcf/test/1kg.vcf.gz"

PGS_HEADER = """###PGS CATALOG SCORING FILE - see https://www.pgscatalog.org/downloads/#dl_ftp_scoring for additional information
#format_version=2.0
##POLYGENIC SCORE (PGS) INFORMATION
#pgs_id={pgs_id}
#pgs_name={name}
#trait_reported=synthetic test trait
#trait_mapped=
#trait_efo=
#genome_build={build}
#variants_number={n}
#weight_type=beta
##SOURCE INFORMATION
#pgp_id=PGP000000
#citation=SYNTHETIC - genorisk test data, not for any use
"""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def ambiguous(a, b):
    return COMP.get(a) == b


# ------------------------------------------------------------------ writers

class BgzipWriter:
    """Pipes text into `bgzip -@2 -c` (real BGZF; Python's gzip is not)."""

    def __init__(self, path, threads=2):
        self.out = open(path, "wb")
        self.proc = subprocess.Popen(["bgzip", "-@", str(threads), "-c"],
                                     stdin=subprocess.PIPE, stdout=self.out)

    def write(self, data):
        self.proc.stdin.write(data if isinstance(data, bytes) else data.encode())

    def close(self):
        self.proc.stdin.close()
        rc = self.proc.wait()
        self.out.close()
        if rc:
            sys.exit("make_vcf_data: bgzip failed")


def vcf_header(samples, contigs, chr_prefix=True, extra=(), fmt_gt=True, fmt_ds=False,
               info_af=False, source="genorisk tools/make_vcf_data.py"):
    h = ["##fileformat=VCFv4.2",
         "##FILTER=<ID=PASS,Description=\"All filters passed\">",
         "##source=" + source,
         "##reference=GRCh38"]
    for c, ln in contigs:
        h.append("##contig=<ID=%s%s,length=%d>" % ("chr" if chr_prefix else "", c, ln))
    if info_af:
        h.append('##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency used to draw the genotypes">')
    h.extend(extra)
    if fmt_gt:
        h.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    if fmt_ds:
        h.append('##FORMAT=<ID=DS,Number=A,Type=Float,Description="Estimated ALT dose">')
    cols = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"
    if samples:
        cols += "\tFORMAT\t" + "\t".join(samples)
    h.append(cols)
    return "\n".join(h) + "\n"


def write_pgs(path, rows, build, name, with_freq=True, pgs_id="PGS000000", with_rsid=False):
    """rows: dicts chr_name chr_position effect_allele other_allele
    effect_weight(str) allelefrequency_effect(str) [rsID]."""
    cols = (["rsID"] if with_rsid else []) + ["chr_name", "chr_position", "effect_allele", "other_allele", "effect_weight"]
    if with_freq:
        cols.append("allelefrequency_effect")
    with open(path, "w") as f:
        f.write(PGS_HEADER.format(pgs_id=pgs_id, name=name, build=build, n=len(rows)))
        f.write("\t".join(cols) + "\n")
        for r in rows:
            f.write("\t".join(str(r[c]) for c in cols) + "\n")


def write_bundle(d, name, artifact_src, build, min_coverage=None):
    os.makedirs(d, exist_ok=True)
    art = os.path.basename(artifact_src)
    shutil.copyfile(artifact_src, os.path.join(d, art))
    man = {"name": name, "version": "1", "task": "regression", "format": "pgs-catalog",
           "artifact": art, "genome_build": build}
    if min_coverage is not None:
        man["min_coverage"] = min_coverage
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(man, f, indent=2)
        f.write("\n")


def positions_for(rng, n, lo, hi):
    """n sorted distinct positions in [lo, hi] (gaps drawn uniformly)."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    mean_gap = (hi - lo) / (n + 1)
    gaps = rng.integers(1, max(2, int(2 * mean_gap)), size=n)
    pos = lo + np.cumsum(gaps)
    if pos[-1] > hi:  # rescale, keeping them distinct
        pos = lo + np.floor((pos - lo) * ((hi - lo) / (pos[-1] - lo + 1))).astype(np.int64)
        pos = np.maximum.accumulate(pos + np.arange(n)) - np.arange(n)
        pos = np.unique(pos)
        while len(pos) < n:
            pos = np.unique(np.concatenate([pos, rng.integers(lo, hi, size=n - len(pos))]))
    return pos.astype(np.int64)


def layout(rng, n_records, chroms, x_share=None):
    """Allocate records to chromosomes by length; returns (chrom idx array,
    pos array) sorted by (chromosome order, position)."""
    lens = np.array([CHROM_LEN[c] for c in chroms], dtype=np.float64)
    share = lens / lens.sum()
    if x_share is not None and "X" in chroms:
        xi = chroms.index("X")
        share = share * (1 - x_share) / (1 - share[xi])
        share[xi] = x_share
    counts = np.floor(share * n_records).astype(int)
    counts[0] += n_records - counts.sum()
    ci, ps = [], []
    for i, c in enumerate(chroms):
        lo, hi = (X_NONPAR if c == "X" else (10_000, CHROM_LEN[c] - 10_000))
        p = positions_for(rng, counts[i], lo, hi)
        ci.append(np.full(len(p), i, dtype=np.int32))
        ps.append(p)
    return np.concatenate(ci), np.concatenate(ps)


def draw_alleles(rng, n, multi_frac=0.0):
    """REF, ALT1 and (for a multi_frac share) ALT2 indices into BASES; -1 = none."""
    ref = rng.integers(0, 4, size=n)
    alt1 = (ref + rng.integers(1, 4, size=n)) % 4
    alt2 = np.full(n, -1)
    multi = rng.random(n) < multi_frac
    # the base that is neither ref nor alt1: pick one of the two remaining
    rem = np.array([[b for b in range(4) if b not in (r, a)] for r, a in zip(ref[multi], alt1[multi])],
                   dtype=np.int64).reshape(-1, 2)
    if len(rem):
        alt2[multi] = rem[np.arange(len(rem)), rng.integers(0, 2, size=len(rem))]
    return ref, alt1, alt2


def fmt_w(x):
    return "%.6g" % x


# ------------------------------------------------------------------ parity

def cmd_parity(args):
    rng = np.random.default_rng(20240611)
    out = args.out
    os.makedirs(out, exist_ok=True)
    ns, nrec = args.samples, args.records
    chroms = [c for c, _ in GRCH38 if c != "Y"]
    samples = ["S%04d" % (i + 1) for i in range(ns)]
    male = rng.random(ns) < 0.5
    cidx, pos = layout(rng, nrec, chroms, x_share=0.05)
    nrec = len(pos)
    ref, alt1, alt2 = draw_alleles(rng, nrec, multi_frac=0.03)
    is_multi = alt2 >= 0
    p1 = rng.uniform(0.03, 0.5, size=nrec)
    p2 = np.where(is_multi, rng.uniform(0.02, 0.2, size=nrec), 0.0)
    # haplotype alleles: 0 with prob 1-p1-p2, 1 with p1, 2 with p2
    u = rng.random((nrec, ns, 2))
    hap = np.where(u < (1 - p1 - p2)[:, None, None], 0,
                   np.where(u < (1 - p2)[:, None, None], 1, 2)).astype(np.int8)
    miss = rng.random((nrec, ns)) < 0.03
    is_x = np.array([chroms[i] == "X" for i in cidx])
    phased = rng.random(nrec) < 0.2
    rsid = np.where(rng.random(nrec) < 0.7,
                    np.char.add("rs", (10_000_000 + np.arange(nrec)).astype("U12")), ".")

    # ---- VCF text
    lines = []
    dip = {}
    for sep in "/|":
        dip[sep] = np.array(["%d%s%d" % (a, sep, b) for a in range(3) for b in range(3)], dtype=object)
    hap_s = np.array(["0", "1", "2"], dtype=object)
    for r in range(nrec):
        sep = "|" if phased[r] else "/"
        g = dip[sep][hap[r, :, 0] * 3 + hap[r, :, 1]].copy()
        g[miss[r]] = "./." if sep == "/" else ".|."
        if is_x[r]:
            gm = hap_s[hap[r, male, 0]].copy()
            gm[miss[r, male]] = "."
            g[male] = gm
        alt = BASES[alt1[r]] + ("," + BASES[alt2[r]] if is_multi[r] else "")
        af = "%.4f" % p1[r] + (",%.4f" % p2[r] if is_multi[r] else "")
        lines.append("chr%s\t%d\t%s\t%s\t%s\t.\tPASS\tAF=%s\tGT\t%s\n" % (
            chroms[cidx[r]], pos[r], rsid[r], BASES[ref[r]], alt, af, "\t".join(g)))
    header = vcf_header(samples, [(c, CHROM_LEN[c]) for c in chroms], info_af=True)
    text = header + "".join(lines)
    with open(os.path.join(out, "parity.vcf"), "w") as f:
        f.write(text)
    w = BgzipWriter(os.path.join(out, "parity.vcf.gz"))
    w.write(text)
    w.close()

    # ---- PGS rows: ~760 VCF records (all multi-allelic-eligible share, plus chrX), 40 absent
    n_pgs, n_absent = args.variants, max(1, args.variants // 20)
    n_in = n_pgs - n_absent
    multi_idx = np.flatnonzero(is_multi)
    x_idx = np.flatnonzero(is_x & ~is_multi)
    force = np.unique(np.concatenate([rng.choice(multi_idx, size=min(20, len(multi_idx)), replace=False),
                                      rng.choice(x_idx, size=min(40, len(x_idx)), replace=False)]))
    rest = np.setdiff1d(np.arange(nrec), force)
    chosen = np.sort(np.concatenate([force, rng.choice(rest, size=n_in - len(force), replace=False)]))

    pgs = []
    n_flip = n_ref = n_alt = n_multi = 0
    for r in chosen:
        R = BASES[ref[r]]
        alleles = [R, BASES[alt1[r]]] + ([BASES[alt2[r]]] if is_multi[r] else [])
        freqs = [1 - p1[r] - p2[r], p1[r], p2[r]]
        if is_multi[r]:
            k = 1 + int(rng.integers(0, 2))  # effect = ALT1 or ALT2, other = REF
            o = 0
            n_multi += 1
        elif rng.random() < 0.55:
            k, o = 1, 0
        else:
            k, o = 0, 1
        flip = (not is_multi[r]) and (not ambiguous(alleles[0], alleles[1])) and rng.random() < 0.07
        eff, oth = alleles[k], alleles[o]
        if flip:
            eff, oth = COMP[eff], COMP[oth]
            n_flip += 1
        n_ref += k == 0
        n_alt += k > 0
        f = float(np.clip(round(freqs[k], 4), 0.0001, 0.9999))
        wt = fmt_w(rng.normal(0, 0.08))
        c = chroms[cidx[r]]
        pgs.append(dict(chr_name=c, chr_position=int(pos[r]), effect_allele=eff, other_allele=oth,
                        effect_weight=wt, allelefrequency_effect="%.4f" % f, _rec=int(r), _k=k, _f=f))
    # absent variants: positions no record has
    used = set(zip(cidx.tolist(), pos.tolist()))
    for _ in range(n_absent):
        while True:
            ci = int(rng.integers(0, 22))
            p = int(rng.integers(10_000, CHROM_LEN[chroms[ci]] - 10_000))
            if (ci, p) not in used:
                used.add((ci, p))
                break
        a = rng.choice(4, size=2, replace=False)
        f = round(float(rng.uniform(0.05, 0.6)), 4)
        pgs.append(dict(chr_name=chroms[ci], chr_position=p, effect_allele=BASES[a[0]],
                        other_allele=BASES[a[1]], effect_weight=fmt_w(rng.normal(0, 0.08)),
                        allelefrequency_effect="%.4f" % f, _rec=-1, _k=-1, _f=f))
    order = {c: i for i, c in enumerate(chroms)}
    pgs.sort(key=lambda d: (order[d["chr_name"]], d["chr_position"]))

    pgs_path = os.path.join(out, "parity_pgs.txt")
    write_pgs(pgs_path, pgs, "GRCh38", "parity-pgs")
    nofreq_path = os.path.join(out, "parity_pgs_nofreq.txt")
    write_pgs(nofreq_path, pgs, "GRCh38", "parity-pgs-nofreq", with_freq=False)
    write_bundle(os.path.join(out, "pgs_bundle"), "parity-pgs", pgs_path, "GRCh38", 0.5)
    write_bundle(os.path.join(out, "pgs_bundle_nofreq"), "parity-pgs-nofreq", nofreq_path, "GRCh38", 0.5)

    # ---- plink2 inputs
    def p2id(r):
        return "%s:%d:%s:%s" % (chroms[cidx[r]], pos[r], BASES[ref[r]], BASES[alt1[r]])

    pgs_of_rec = {d["_rec"]: d for d in pgs if d["_rec"] >= 0}
    with open(os.path.join(out, "plink2_weights.tsv"), "w") as f:
        f.write("ID\tA1\tWEIGHT\tEFFECT_FREQ\n")
        for d in pgs:
            r = d["_rec"]
            if r >= 0:
                alleles = [BASES[ref[r]], BASES[alt1[r]]] + ([BASES[alt2[r]]] if is_multi[r] else [])
                vid, a1 = p2id(r), alleles[d["_k"]]
            else:  # not in the VCF: plink2 skips it (missing variant ID)
                vid = "%s:%d:%s:%s" % (d["chr_name"], d["chr_position"], d["other_allele"], d["effect_allele"])
                a1 = d["effect_allele"]
            f.write("%s\t%s\t%s\t%s\n" % (vid, a1, d["effect_weight"], d["allelefrequency_effect"]))
    present = [d for d in pgs if d["_rec"] >= 0]
    with open(os.path.join(out, "plink2_indicator.tsv"), "w") as f:
        f.write("ID\tA1\t" + "\t".join("V%d" % (j + 1) for j in range(len(present))) + "\n")
        zeros = ["0"] * len(present)
        for j, d in enumerate(present):
            r = d["_rec"]
            alleles = [BASES[ref[r]], BASES[alt1[r]]] + ([BASES[alt2[r]]] if is_multi[r] else [])
            row = list(zeros)
            row[j] = "1"
            f.write("%s\t%s\t%s\n" % (p2id(r), alleles[d["_k"]], "\t".join(row)))
    with open(os.path.join(out, "plink2.afreq"), "w") as f:
        f.write("#CHROM\tID\tREF\tALT\tALT_FREQS\tOBS_CT\n")
        for r in range(nrec):
            alts = [BASES[alt1[r]]] + ([BASES[alt2[r]]] if is_multi[r] else [])
            fr = [round(p1[r], 4)] + ([round(p2[r], 4)] if is_multi[r] else [])
            d = pgs_of_rec.get(r)
            if d is not None:  # ALT_FREQS consistent with allelefrequency_effect
                fe = d["_f"]
                if d["_k"] == 0:
                    fr = [round(1 - fe, 4)]
                elif d["_k"] == 1:
                    fr = [fe] + ([min(fr[1], round((1 - fe) / 2, 4))] if is_multi[r] else [])
                else:
                    fr = [min(fr[0], round((1 - fe) / 2, 4)), fe]
            f.write("%s\t%s\t%s\t%s\t%s\t%d\n" % (chroms[cidx[r]], p2id(r), BASES[ref[r]], ",".join(alts),
                                                 ",".join("%.4f" % x for x in fr), 2 * ns))

    # ---- truth (independent of plink2 and genorisk)
    w = np.array([float(d["effect_weight"]) for d in pgs])
    fq = np.array([d["_f"] for d in pgs])
    s_nomean = np.zeros(ns)
    s_mean = np.zeros(ns)
    observed = np.zeros(ns, dtype=int)
    for i, d in enumerate(pgs):
        r = d["_rec"]
        if r < 0:
            s_mean += 2 * fq[i] * w[i]
            continue
        cnt = (hap[r, :, 0] == d["_k"]).astype(float) + (hap[r, :, 1] == d["_k"])
        if is_x[r]:
            cnt[male] = 2.0 * (hap[r, male, 0] == d["_k"])
        m = miss[r]
        s_nomean += np.where(m, 0.0, cnt * w[i])
        s_mean += np.where(m, 2 * fq[i] * w[i], cnt * w[i])
        observed += ~m
    with open(os.path.join(out, "parity_truth.tsv"), "w") as f:
        f.write("sample\tmale\tsum_nomean\tsum_mean\tobserved\n")
        for s in range(ns):
            f.write("%s\t%d\t%r\t%r\t%d\n" % (samples[s], male[s], s_nomean[s], s_mean[s], observed[s]))
    info = dict(samples=ns, males=int(male.sum()), records=nrec, multiallelic_records=int(is_multi.sum()),
                chrX_records=int(is_x.sum()), missing_calls=int(miss.sum()),
                pgs_variants=len(pgs), absent=n_absent, effect_alt=int(n_alt), effect_ref=int(n_ref),
                flipped=n_flip, multiallelic=n_multi,
                chrX_variants=sum(1 for d in pgs if d["chr_name"] == "X"))
    with open(os.path.join(out, "parity_info.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    log("parity: %s" % json.dumps(info))

    if os.path.exists(args.pyvcf):
        make_pyvcf(args.pyvcf, os.path.join(out, "pyvcf"))
    else:
        log("parity: %s not found (apt-get install python-pyvcf-examples); no pyvcf set" % args.pyvcf)


def make_pyvcf(src, out):
    """A small PGS on Debian's python-pyvcf-examples 1kg.vcf.gz (1000 Genomes
    20100804 release extract: chromosome 2, bare contig names, GRCh37, 629
    samples, 381 biallelic SNVs, phased GTs and many './.')."""
    rng = np.random.default_rng(1000)
    os.makedirs(out, exist_ok=True)
    recs, samples = [], None
    with gzip.open(src, "rt") as f:
        for line in f:
            if line.startswith("##"):
                continue
            t = line.rstrip("\n").split("\t")
            if line.startswith("#"):
                samples = t[9:]
                continue
            info = dict(kv.split("=", 1) for kv in t[7].split(";") if "=" in kv)
            gts = [g.split(":", 1)[0] for g in t[9:]]
            recs.append((t[0], int(t[1]), t[3], t[4], float(info["AF"]), gts))
    snv = [i for i, r in enumerate(recs) if len(r[2]) == 1 and len(r[3]) == 1 and r[3] in "ACGT"]
    chosen = sorted(rng.choice(snv, size=min(150, len(snv)), replace=False).tolist())
    pgs = []
    for i in chosen:
        c, p, R, A, af, _ = recs[i]
        k = 1 if rng.random() < 0.5 else 0
        eff, oth = (A, R) if k else (R, A)
        fe = af if k else 1 - af
        flip = not ambiguous(R, A) and rng.random() < 0.08
        if flip:
            eff, oth = COMP[eff], COMP[oth]
        pgs.append(dict(chr_name=c, chr_position=p, effect_allele=eff, other_allele=oth,
                        effect_weight=fmt_w(rng.normal(0, 0.1)), allelefrequency_effect="%.3f" % fe,
                        _rec=i, _k=k, _f=float("%.3f" % fe)))
    for _ in range(5):  # absent from the file
        p = int(rng.integers(41_000, 90_000))
        a = rng.choice(4, size=2, replace=False)
        f = round(float(rng.uniform(0.05, 0.6)), 3)
        pgs.append(dict(chr_name="2", chr_position=p, effect_allele=BASES[a[0]], other_allele=BASES[a[1]],
                        effect_weight=fmt_w(rng.normal(0, 0.1)), allelefrequency_effect="%.3f" % f,
                        _rec=-1, _k=-1, _f=f))
    pgs.sort(key=lambda d: d["chr_position"])
    pgs_path = os.path.join(out, "pyvcf_pgs.txt")
    write_pgs(pgs_path, pgs, "GRCh37", "pyvcf-1kg-pgs")
    nofreq = os.path.join(out, "pyvcf_pgs_nofreq.txt")
    write_pgs(nofreq, pgs, "GRCh37", "pyvcf-1kg-pgs-nofreq", with_freq=False)
    # many calls are './.' in this extract: no coverage floor
    write_bundle(os.path.join(out, "pgs_bundle"), "pyvcf-1kg-pgs", pgs_path, "GRCh37", 0.0)
    write_bundle(os.path.join(out, "pgs_bundle_nofreq"), "pyvcf-1kg-pgs-nofreq", nofreq, "GRCh37", 0.0)
    link = os.path.join(out, "input.vcf.gz")  # the VCF itself stays where Debian put it
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(src, link)
    vid = lambda i: "%s:%d:%s:%s" % (recs[i][0], recs[i][1], recs[i][2], recs[i][3])
    pgs_of = {d["_rec"]: d for d in pgs if d["_rec"] >= 0}
    with open(os.path.join(out, "plink2_weights.tsv"), "w") as f:
        f.write("ID\tA1\tWEIGHT\tEFFECT_FREQ\n")
        for d in pgs:
            i = d["_rec"]
            if i >= 0:
                a1 = recs[i][3] if d["_k"] == 1 else recs[i][2]  # the VCF's allele, also when flipped
                f.write("%s\t%s\t%s\t%s\n" % (vid(i), a1, d["effect_weight"], d["allelefrequency_effect"]))
            else:
                f.write("2:%d:%s:%s\t%s\t%s\t%s\n" % (d["chr_position"], d["other_allele"], d["effect_allele"],
                                                   d["effect_allele"], d["effect_weight"],
                                                   d["allelefrequency_effect"]))
    present = [d for d in pgs if d["_rec"] >= 0]
    with open(os.path.join(out, "plink2_indicator.tsv"), "w") as f:
        f.write("ID\tA1\t" + "\t".join("V%d" % (j + 1) for j in range(len(present))) + "\n")
        for j, d in enumerate(present):
            i = d["_rec"]
            row = ["0"] * len(present)
            row[j] = "1"
            f.write("%s\t%s\t%s\n" % (vid(i), recs[i][3] if d["_k"] == 1 else recs[i][2], "\t".join(row)))
    with open(os.path.join(out, "plink2.afreq"), "w") as f:
        f.write("#CHROM\tID\tREF\tALT\tALT_FREQS\tOBS_CT\n")
        for i, (c, p, R, A, af, _) in enumerate(recs):
            d = pgs_of.get(i)
            alt_f = af if d is None else (d["_f"] if d["_k"] == 1 else round(1 - d["_f"], 3))
            f.write("%s\t%s\t%s\t%s\t%.3f\t%d\n" % (c, vid(i), R, A, alt_f, 2 * len(samples)))
    # truth
    ns = len(samples)
    s_nomean, s_mean, observed = np.zeros(ns), np.zeros(ns), np.zeros(ns, dtype=int)
    for d in pgs:
        wv = float(d["effect_weight"])
        if d["_rec"] < 0:
            s_mean += 2 * d["_f"] * wv
            continue
        gts = recs[d["_rec"]][5]
        for s, g in enumerate(gts):
            al = g.replace("|", "/").split("/")
            if "." in al:
                s_mean[s] += 2 * d["_f"] * wv
                continue
            cnt = sum(int(a) == d["_k"] for a in al) * (2 if len(al) == 1 else 1)
            s_nomean[s] += cnt * wv
            s_mean[s] += cnt * wv
            observed[s] += 1
    with open(os.path.join(out, "parity_truth.tsv"), "w") as f:
        f.write("sample\tmale\tsum_nomean\tsum_mean\tobserved\n")
        for s in range(ns):
            f.write("%s\t0\t%r\t%r\t%d\n" % (samples[s], s_nomean[s], s_mean[s], observed[s]))
    info = dict(source=src, build="GRCh37", samples=ns, records=len(recs), pgs_variants=len(pgs),
                absent=5, flipped=sum(1 for d in pgs if d["_rec"] >= 0 and
                                      d["effect_allele"] not in (recs[d["_rec"]][2], recs[d["_rec"]][3])))
    with open(os.path.join(out, "parity_info.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    log("pyvcf: %s" % json.dumps(info))


# ------------------------------------------------------------------ benchmarks

def _prefix_bytes(chrom_names, cidx, pos, ref, alt_str, qual, filt, info, fmt, ids=None):
    """Vectorised 'CHROM\\tPOS\\tID\\tREF\\tALT\\tQUAL\\tFILTER\\tINFO\\tFORMAT\\t' (ID '.'
    unless ids is given)."""
    cn = np.array([("chr" + c + "\t").encode() for c in chrom_names])[cidx]
    s = np.char.add(cn, pos.astype("S10"))
    if ids is None:
        s = np.char.add(s, b"\t.\t")
    else:
        s = np.char.add(np.char.add(np.char.add(s, b"\t"), ids), b"\t")
    s = np.char.add(s, BASES.astype("S1")[ref])
    s = np.char.add(s, b"\t")
    s = np.char.add(s, alt_str)
    s = np.char.add(s, b"\t")
    s = np.char.add(s, qual)
    s = np.char.add(s, b"\t")
    s = np.char.add(s, filt)
    s = np.char.add(s, b"\t")
    s = np.char.add(s, info)
    s = np.char.add(s, b"\t" + fmt + b"\t")
    return s


def _alt_strings(ref, alt1, alt2):
    b = BASES.astype("S1")
    a = b[alt1]
    m = alt2 >= 0
    if m.any():
        a = a.astype("S3")
        a[m] = np.char.add(np.char.add(a[m], b","), b[alt2[m]])
    return a


def bench_pgs(rng, out, tag, chroms, cidx, pos, ref, alt1, eligible, n_var, n_absent, freq=None, rsid=None,
              min_coverage=None):
    """PGS drawn from eligible records (+ n_absent absent ones), bundle and plink2 weights;
    with an rsID column (the records' IDs) when rsid is given."""
    pick = np.sort(rng.choice(eligible, size=n_var - n_absent, replace=False))
    eff_is_alt = rng.random(len(pick)) < 0.6
    wts = rng.normal(0, 0.02, size=n_var)
    b = BASES
    chr_name = np.array(chroms)[cidx[pick]]
    eff = np.where(eff_is_alt, b[alt1[pick]], b[ref[pick]])
    oth = np.where(eff_is_alt, b[ref[pick]], b[alt1[pick]])
    p2id = np.char.add(np.char.add(np.char.add(np.char.add(np.char.add(np.char.add(
        chr_name, ":"), pos[pick].astype("U10")), ":"), b[ref[pick]]), ":"), b[alt1[pick]])
    rows = []
    for j in range(len(pick)):
        d = dict(chr_name=chr_name[j], chr_position=int(pos[pick[j]]), effect_allele=eff[j],
                 other_allele=oth[j], effect_weight=fmt_w(wts[j]), _id=p2id[j], _a1=eff[j])
        if rsid is not None:
            d["rsID"] = rsid[pick[j]].decode()
        if freq is not None:
            fa = freq[pick[j]]
            d["allelefrequency_effect"] = repr(float(fa if eff_is_alt[j] else 1.0 - fa))
        rows.append(d)
    used = set(zip(cidx[pick].tolist(), pos[pick].tolist()))
    allpos = set(zip(cidx.tolist(), pos.tolist()))
    for j in range(n_absent):
        while True:
            ci = int(rng.integers(0, len(chroms)))
            p = int(rng.integers(3_000_000, CHROM_LEN[chroms[ci]] - 3_000_000))
            if (ci, p) not in allpos and (ci, p) not in used:
                used.add((ci, p))
                break
        a = rng.choice(4, size=2, replace=False)
        d = dict(chr_name=chroms[ci], chr_position=p, effect_allele=b[a[0]], other_allele=b[a[1]],
                 effect_weight=fmt_w(wts[len(pick) + j]),
                 _id="%s:%d:%s:%s" % (chroms[ci], p, b[a[1]], b[a[0]]), _a1=b[a[0]])
        if rsid is not None:
            d["rsID"] = "rs%d" % (900_000_000 + j)
        if freq is not None:
            d["allelefrequency_effect"] = "0.25"
        rows.append(d)
    order = {c: i for i, c in enumerate(chroms)}
    rows.sort(key=lambda d: (order[d["chr_name"]], d["chr_position"]))
    pgs_path = os.path.join(out, "%s_pgs.txt" % tag)
    write_pgs(pgs_path, rows, "GRCh38", "%s-pgs" % tag, with_freq=freq is not None, with_rsid=rsid is not None)
    write_bundle(os.path.join(out, "pgs_bundle"), "%s-pgs" % tag, pgs_path, "GRCh38", min_coverage)
    with open(os.path.join(out, "plink2_weights.tsv"), "w") as f:
        f.write("ID\tA1\tWEIGHT\n")
        f.write("".join("%s\t%s\t%s\n" % (d["_id"], d["_a1"], d["effect_weight"]) for d in rows))


def cmd_bench1(args):
    t0 = time.time()
    rng = np.random.default_rng(111)
    out = args.out
    os.makedirs(out, exist_ok=True)
    chroms = [c for c, _ in GRCH38 if c != "Y"]
    cidx, pos = layout(rng, args.records, chroms)
    n = len(pos)
    ref, alt1, alt2 = draw_alleles(rng, n, multi_frac=0.01)
    multi = alt2 >= 0
    u = rng.random(n)
    gt = np.where(u < 0.55, b"0/1", np.where(u < 0.95, b"1/1", np.where(u < 0.98, b"0/0", b"./.")))
    gt[multi] = b"1/2"
    qual = rng.integers(30, 100, size=n).astype("S3")
    filt = np.where(rng.random(n) < 0.03, b"LowQual", b"PASS")
    info = np.char.add(b"DP=", rng.integers(10, 60, size=n).astype("S3"))
    alt_s = _alt_strings(ref, alt1, alt2)
    w = BgzipWriter(os.path.join(out, "bench1.vcf.gz"))
    extra = ['##FILTER=<ID=LowQual,Description="Low quality">',
             '##INFO=<ID=DP,Number=1,Type=Integer,Description="Read depth">']
    w.write(vcf_header(["BENCH1"], [(c, CHROM_LEN[c]) for c in chroms], extra=extra))
    step = 250_000
    for a in range(0, n, step):
        sl = slice(a, min(n, a + step))
        pre = _prefix_bytes(chroms, cidx[sl], pos[sl], ref[sl], alt_s[sl], qual[sl], filt[sl], info[sl], b"GT")
        lines = np.char.add(np.char.add(pre, gt[sl]), b"\n")
        w.write(b"".join(lines.tolist()))
    w.close()
    eligible = np.flatnonzero(~multi & (filt == b"PASS") & (gt != b"./."))
    bench_pgs(rng, out, "bench1", chroms, cidx, pos, ref, alt1, eligible, args.variants,
              max(0, args.variants // 50))
    log("bench1: %d records, %d PGS variants, %.1f s" % (n, args.variants, time.time() - t0))


def cmd_bench2(args):
    t0 = time.time()
    rng = np.random.default_rng(222)
    out = args.out
    os.makedirs(out, exist_ok=True)
    chroms = [c for c, _ in GRCH38 if c not in ("X", "Y")]
    ns = args.samples
    cidx, pos = layout(rng, args.records, chroms)
    n = len(pos)
    ref, alt1, alt2 = draw_alleles(rng, n)
    p = rng.uniform(0.01, 0.5, size=n)
    qual = rng.integers(30, 100, size=n).astype("S3")
    filt = np.full(n, b"PASS", dtype="S4")
    info = np.char.add(b"AF=", np.char.mod("%.3f", p).astype("S5"))
    alt_s = _alt_strings(ref, alt1, alt2)
    table = np.frombuffer(b"0/0\t0/1\t1/1\t./.\t", dtype=np.uint8).reshape(4, 4)
    samples = ["B%04d" % (i + 1) for i in range(ns)]
    w = BgzipWriter(os.path.join(out, "bench2.vcf.gz"))
    w.write(vcf_header(samples, [(c, CHROM_LEN[c]) for c in chroms], info_af=True))
    alt_count = np.zeros(n)
    obs = np.zeros(n)
    step = 5_000
    for a in range(0, n, step):
        sl = slice(a, min(n, a + step))
        m = sl.stop - sl.start
        g = (rng.random((m, ns)) < p[sl, None]).astype(np.int8) + (rng.random((m, ns)) < p[sl, None])
        g[rng.random((m, ns)) < 0.01] = 3
        called = g < 3
        alt_count[sl] = np.where(called, g, 0).sum(axis=1)
        obs[sl] = 2 * called.sum(axis=1)
        body = table[g].reshape(m, ns * 4)
        body[:, -1] = ord("\n")
        body = body.tobytes()
        pre = _prefix_bytes(chroms, cidx[sl], pos[sl], ref[sl], alt_s[sl], qual[sl], filt[sl], info[sl],
                            b"GT").tolist()
        L = ns * 4
        w.write(b"".join(pre[i] + body[i * L:(i + 1) * L] for i in range(m)))
    w.close()
    # empirical ALT frequency, as plink2 computes it for mean imputation
    freq = alt_count / obs
    bench_pgs(rng, out, "bench2", chroms, cidx, pos, ref, alt1, np.arange(n), args.variants, 0, freq=freq)
    log("bench2: %d records x %d samples, %d PGS variants, %.1f s" % (n, ns, args.variants, time.time() - t0))


def cmd_bench3(args):
    """A typical single-sample WGS call set, as a lab hands it out: every
    record has an rsID (most of them) or '.', QUAL '.', FILTER PASS, INFO
    AF;DP, and FORMAT GT:DP:GQ (GATK's single-sample output without the
    bulky AD/PL; an imputation server's GT:DS:GP would be longer still, so
    the inflating share of the work only grows). The PGS has an rsID column,
    as PGS Catalog files usually do, so the line filter also looks up IDs."""
    t0 = time.time()
    rng = np.random.default_rng(333)
    out = args.out
    os.makedirs(out, exist_ok=True)
    chroms = [c for c, _ in GRCH38 if c != "Y"]
    cidx, pos = layout(rng, args.records, chroms)
    n = len(pos)
    ref, alt1, alt2 = draw_alleles(rng, n, multi_frac=0.01)
    multi = alt2 >= 0
    u = rng.random(n)
    gt = np.where(u < 0.6, b"0/1", np.where(u < 0.98, b"1/1", b"./."))
    gt[multi] = b"1/2"
    rs = 1000 + np.arange(n, dtype=np.int64) * 60 + rng.integers(0, 60, size=n)
    rsid = np.char.add(b"rs", rng.permutation(rs).astype("S11"))
    rsid[rng.random(n) < 0.05] = b"."
    dp = rng.integers(8, 80, size=n).astype("S2")
    gq = rng.integers(20, 100, size=n).astype("S2")
    info = np.char.add(np.char.add(np.char.add(b"AF=", np.char.mod("%.4f", rng.uniform(0.0002, 1, size=n))
                                               .astype("S6")), b";DP="), dp)
    sample = np.char.add(np.char.add(np.char.add(np.char.add(gt, b":"), dp), b":"), gq)
    qual = np.full(n, b".", dtype="S1")
    filt = np.full(n, b"PASS", dtype="S4")
    alt_s = _alt_strings(ref, alt1, alt2)
    w = BgzipWriter(os.path.join(out, "bench3.vcf.gz"))
    extra = ['##INFO=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
             '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
             '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">']
    w.write(vcf_header(["WGS1"], [(c, CHROM_LEN[c]) for c in chroms], extra=extra, info_af=True))
    step = 250_000
    for a in range(0, n, step):
        sl = slice(a, min(n, a + step))
        pre = _prefix_bytes(chroms, cidx[sl], pos[sl], ref[sl], alt_s[sl], qual[sl], filt[sl], info[sl],
                            b"GT:DP:GQ", ids=rsid[sl])
        lines = np.char.add(np.char.add(pre, sample[sl]), b"\n")
        w.write(b"".join(lines.tolist()))
    w.close()
    eligible = np.flatnonzero(~multi & (gt != b"./.") & (rsid != b"."))
    # min_coverage 0.5: the default policy drops the A/T and C/G third of the
    # score (ambiguous=drop), which the default 0.75 would refuse
    bench_pgs(rng, out, "bench3", chroms, cidx, pos, ref, alt1, eligible, args.variants, 0, rsid=rsid,
              min_coverage=0.5)
    log("bench3: %d records, %d PGS variants, %.1f s" % (n, args.variants, time.time() - t0))


# ------------------------------------------------------------------ indexed reads

# One record's columns after REF and ALT, all of fixed width so that a whole
# batch of records is one byte matrix filled column by column (the only way
# Python writes gigabytes of text in seconds). ('d', k): k random digits;
# ('c', options): one of equally wide options; bytes: written as they are.
_IDX_INFO = [
    b"\t", ("d", 2), b"\t", ("c", [b"PASS"] * 19 + [b"LowQ"]), b"\tAC=", ("c", [b"%02d" % i for i in range(10, 32)]),
    b";AN=32;AF=0.", ("d", 4), b";DP=", ("d", 4), b";MQ=5", ("d", 1), b".", ("d", 2),
    b";QD=", ("d", 2), b".", ("d", 2), b";FS=", ("d", 1), b".", ("d", 3), b";SOR=0.", ("d", 3),
    b";MQRankSum=0.", ("d", 3), b";ReadPosRankSum=0.", ("d", 3), b";BaseQRankSum=0.", ("d", 3),
    b";ExcessHet=", ("d", 1), b".", ("d", 4), b";VQSLOD=", ("d", 2), b".", ("d", 2),
    b";AF_afr=0.", ("d", 4), b";AF_amr=0.", ("d", 4), b";AF_asj=0.", ("d", 4), b";AF_eas=0.", ("d", 4),
    b";AF_fin=0.", ("d", 4), b";AF_nfe=0.", ("d", 4), b";AF_sas=0.", ("d", 4),
    b";CSQ=", ("c", [b"missense_variant", b"upstream_variant"]),
    b"|", ("c", [b"MODERATE", b"MODIFIER"]), b"|GENE", ("d", 5), b"|ENSG0000", ("d", 7),
    b"|ENST0000", ("d", 7), b"|protein_coding|", ("d", 1), b"/", ("d", 2),
    b"\tGT:DS:GQ:DP",
]
_IDX_SAMPLE = [b"\t", ("c", [b"0|0", b"0|1", b"1|0", b"1|1"]), b":", ("c", [b"0", b"1"]), b".", ("d", 3), b":",
               ("d", 2), b":", ("d", 2)]
_IDX_HEADER = [
    '##FILTER=<ID=LowQ,Description="Low quality">',
    '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">',
    '##INFO=<ID=AN,Number=1,Type=Integer,Description="Allele number">',
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">',
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">',
] + ['##INFO=<ID=%s,Number=1,Type=Float,Description="%s">' % (k, k) for k in (
    "MQ", "QD", "FS", "SOR", "MQRankSum", "ReadPosRankSum", "BaseQRankSum", "ExcessHet", "VQSLOD",
    "AF_afr", "AF_amr", "AF_asj", "AF_eas", "AF_fin", "AF_nfe", "AF_sas")] + [
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence|Impact|Gene|Gene ID|Transcript|Biotype|Exon">',
    '##FORMAT=<ID=DS,Number=A,Type=Float,Description="ALT dosage">',
    '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">',
]


def _fixed_rows(rng, n, pieces):
    """n rows of the fixed-width template pieces, as an (n, width) uint8 matrix."""
    width = sum(len(p) if isinstance(p, bytes) else (p[1] if p[0] == "d" else len(p[1][0]))
                for p in pieces)
    m = np.empty((n, width), dtype=np.uint8)
    at = 0
    for p in pieces:
        if isinstance(p, bytes):
            m[:, at:at + len(p)] = np.frombuffer(p, dtype=np.uint8)
            at += len(p)
        elif p[0] == "d":
            m[:, at:at + p[1]] = rng.integers(48, 58, size=(n, p[1]), dtype=np.uint8)
            at += p[1]
        else:
            opts = np.frombuffer(b"".join(p[1]), dtype=np.uint8).reshape(len(p[1]), -1)
            m[:, at:at + opts.shape[1]] = opts[rng.integers(0, len(p[1]), size=n)]
            at += opts.shape[1]
    return m


def _digits(v, w):
    """(len(v), w) uint8 ASCII digits of v, each exactly w digits long."""
    p = 10 ** np.arange(w - 1, -1, -1, dtype=np.int64)
    return (v[:, None] // p % 10 + 48).astype(np.uint8)


def cmd_bench_index(args):
    """A BGZF VCF of many SNV records with long INFO (gnomAD-like keys and a
    CSQ-like annotation) and a few GT:DS:GQ:DP samples, indexed with tabix,
    and a PGS of a few variants drawn across it (tools/bench_index.sh)."""
    t0 = time.time()
    rng = np.random.default_rng(333)
    out = args.out
    os.makedirs(out, exist_ok=True)
    chroms = [c for c, _ in GRCH38 if c != "Y"]
    cidx, pos = layout(rng, args.records, chroms)
    n = len(pos)
    ref, alt1, _ = draw_alleles(rng, n)
    samples = ["S%02d" % (i + 1) for i in range(args.samples)]
    path = os.path.join(out, "bench_index.vcf.gz")
    w = BgzipWriter(path)
    w.write(vcf_header(samples, [(c, CHROM_LEN[c]) for c in chroms], extra=_IDX_HEADER))
    bases = np.frombuffer(b"ACGT", dtype=np.uint8)
    tail = _IDX_INFO + _IDX_SAMPLE * args.samples + [b"\n"]
    ndig = np.floor(np.log10(pos)).astype(np.int64) + 1
    step = 100_000
    # runs of records on one chromosome whose POS has as many digits
    cut = np.flatnonzero((np.diff(cidx) != 0) | (np.diff(ndig) != 0)) + 1
    for a0, b0 in zip(np.concatenate([[0], cut]), np.concatenate([cut, [n]])):
        for a in range(a0, b0, step):
            b = min(b0, a + step)
            m = b - a
            chrom = ("chr%s\t" % chroms[cidx[a]]).encode()
            head = np.empty((m, len(chrom) + ndig[a] + 16), dtype=np.uint8)
            head[:, :len(chrom)] = np.frombuffer(chrom, dtype=np.uint8)
            at = len(chrom)
            head[:, at:at + ndig[a]] = _digits(pos[a:b], ndig[a])
            at += ndig[a]
            head[:, at:at + 3] = np.frombuffer(b"\trs", dtype=np.uint8)
            head[:, at + 3:at + 12] = _digits(np.arange(a, b, dtype=np.int64) * 7 + 10_000_000, 9)
            at += 12
            head[:, at] = ord("\t")
            head[:, at + 1] = bases[ref[a:b]]
            head[:, at + 2] = ord("\t")
            head[:, at + 3] = bases[alt1[a:b]]
            w.write(np.hstack([head, _fixed_rows(rng, m, tail)]).tobytes())
    w.close()
    log("bench-index: %d records written, %.1f s" % (n, time.time() - t0))
    subprocess.run(["tabix", "-f", "-p", "vcf", path], check=True)
    eligible = np.arange(n)
    bench_pgs(rng, out, "bench_index", chroms, cidx, pos, ref, alt1, eligible, args.variants, 0)
    with open(os.path.join(out, "bench_index_pgs.txt")) as f, \
            open(os.path.join(out, "regions.txt"), "w") as r:
        for line in f:
            if line.startswith("#") or line.startswith("chr_name"):
                continue
            c, p = line.split("\t")[:2]
            r.write("chr%s\t%s\n" % (c, p))
    log("bench-index: %d records, %d PGS variants, %.0f MB, %.1f s" % (
        n, args.variants, os.path.getsize(path) / 1e6, time.time() - t0))


# ------------------------------------------------------------------ fixtures

# Model variants (GRCh38 coordinates, bare chromosome names, `alt` counted).
# weight of feature i is 4**i: integer dosages 0..2 are then recoverable from
# the margin (base-4 digits) when no dosage is fractional.
FIX_FEATURES = [
    # feature_id      chrom pos      ref alt rsid        what it exercises
    ("f_plain",       "1", 1000100, "A", "G", "",          "as-is match; an earlier record at the same POS with other alleles (A>C) must not match"),
    ("f_swap",        "1", 1000200, "C", "T", "",          "REF/ALT swapped: VCF REF=T ALT=C, counts REF copies"),
    ("f_flip",        "1", 1000300, "A", "G", "",          "strand complement: VCF REF=T ALT=C"),
    ("f_flipswap",    "1", 1000400, "A", "C", "",          "strand complement of swapped: VCF REF=G ALT=T, counts REF copies"),
    ("f_ambig",       "1", 1000500, "A", "T", "",          "ambiguous A/T vs VCF REF=T ALT=A: swapped by allele identity, never strand-flipped"),
    ("f_ambig_plain", "1", 1000600, "C", "G", "",          "ambiguous C/G matching as-is"),
    ("f_multi",       "2", 2000100, "A", "T", "",          "multi-allelic record REF=A ALT=G,T: model ALT is the 2nd ALT"),
    ("f_rsid",        "2", 2000200, "C", "A", "rs5550001", "no record at the model position; matched by rsID at 2000250"),
    ("f_dup",         "3", 3000100, "G", "A", "",          "two records for the same variant: the first wins"),
    ("f_lowqual",     "3", 3000200, "T", "C", "",          "only record has FILTER=LowQual: used only with filter any"),
    ("f_missing",     "4", 4000100, "G", "T", "",          "missing and half-missing calls ./. and 0/."),
    ("f_gvcf_block",  "4", 4000500, "C", "T", "",          "gVCF reference block <NON_REF> with END covering the position"),
    ("f_gvcf_var",    "4", 4002000, "A", "G", "",          "gVCF variant record ALT=G,<NON_REF>"),
    ("f_absent",      "5", 5000100, "G", "T", "",          "in no file: missing, or 0 with absent=ref"),
    ("f_ds",          "6", 6000100, "A", "C", "",          "DS-only sample field"),
    ("f_ds_gt",       "6", 6000200, "T", "G", "",          "GT:DS record: auto/ds use DS (0.9 quantised to 1/16384), gt uses GT"),
    ("f_ds_swap",     "6", 6000300, "C", "A", "",          "DS on a swapped record: dosage 2 - DS"),
    ("f_x",           "X", 5000000, "C", "T", "",          "chrX non-PAR: male haploid '1' counts 2"),
    ("f_x_swap",      "X", 6000000, "A", "G", "",          "chrX swapped (VCF REF=G ALT=A): male haploid '0' counts 2 REF copies"),
]

FIX_CONTIGS = [(c, CHROM_LEN[c]) for c in ["1", "2", "3", "4", "5", "6", "X"]]
FIX_EXTRA = ['##FILTER=<ID=LowQual,Description="Low quality">',
             '##INFO=<ID=END,Number=1,Type=Integer,Description="End position of the reference block">',
             '##ALT=<ID=NON_REF,Description="Any allele other than REF">']

# records: (chrom, pos, id, ref, alt, filter, info, format, [sample fields])
FIX_A_SAMPLES = ["S1", "S2", "S3"]  # S2 is male
FIX_A = [
    ("1", 1000050, ".", "G", "A", "PASS", ".", "GT", ["0/1", "0/0", "1/1"]),      # not in the model
    ("1", 1000100, ".", "A", "C", "PASS", ".", "GT", ["1/1", "0/0", "0/1"]),      # same POS, other allele
    ("1", 1000100, ".", "A", "G", "PASS", ".", "GT", ["0/1", "1/1", "0/0"]),
    ("1", 1000200, ".", "T", "C", "PASS", ".", "GT", ["0/1", "1/1", "0/0"]),
    ("1", 1000300, ".", "T", "C", "PASS", ".", "GT", ["1/1", "0/1", "0/0"]),
    ("1", 1000400, ".", "G", "T", "PASS", ".", "GT", ["0/0", "0/1", "1/1"]),
    ("1", 1000500, ".", "T", "A", "PASS", ".", "GT", ["0/0", "0|1", "1|1"]),
    ("1", 1000600, ".", "C", "G", ".",    ".", "GT", ["1/1", "0/0", "0/1"]),      # FILTER '.' passes
    ("2", 2000100, ".", "A", "G,T", "PASS", ".", "GT", ["0/2", "1/2", "2/2"]),
    ("2", 2000250, "rs5550001", "C", "A", "PASS", ".", "GT", ["0/1", "0/0", "1/1"]),
    ("3", 3000100, ".", "G", "A", "PASS", ".", "GT", ["1/1", "0/1", "0/0"]),
    ("3", 3000100, ".", "G", "A", "PASS", ".", "GT", ["0/0", "0/0", "1/1"]),      # duplicate: ignored
    ("3", 3000200, ".", "T", "C", "LowQual", ".", "GT", ["0/1", "1/1", "0/1"]),
    ("4", 4000100, ".", "G", "T", "PASS", ".", "GT", ["./.", "0/.", "1/1"]),
    ("X", 5000000, ".", "C", "T", "PASS", ".", "GT", ["0/1", "1", "1/1"]),
    ("X", 6000000, ".", "G", "A", "PASS", ".", "GT", ["0/1", "0", "./."]),
    ("X", 7000000, ".", "A", "C", "PASS", ".", "GT", ["0/0", ".", "0/1"]),        # not in the model
]
FIX_G_SAMPLES = ["G1", "G2"]
FIX_G = [
    ("1", 1000001, ".", "T", "<NON_REF>", ".", "END=1000150", "GT", ["0/0", "0/0"]),  # covers f_plain
    ("1", 1000151, ".", "C", "<NON_REF>", ".", "END=1000199", "GT", ["0/0", "0/0"]),  # ends before f_swap
    ("4", 4000001, ".", "A", "<NON_REF>", ".", "END=4001000", "GT", ["0/0", "./."]),  # covers f_missing, f_gvcf_block
    ("4", 4002000, ".", "A", "G,<NON_REF>", ".", ".", "GT", ["0/1", "1/1"]),
    ("4", 4002001, ".", "C", "<NON_REF>", ".", "END=4003000", "GT", ["0/0", "0/0"]),
]
FIX_D_SAMPLES = ["D1", "D2"]
FIX_D = [
    ("1", 1000100, ".", "A", "G", "PASS", ".", "GT:DS", ["0/1:.", "1/1:1.5"]),  # DS '.' -> GT in auto mode
    ("6", 6000100, ".", "A", "C", "PASS", ".", "DS", ["0.5", "1.25"]),
    ("6", 6000200, ".", "T", "G", "PASS", ".", "GT:DS", ["0/1:0.9", "1/1:1.8"]),
    ("6", 6000300, ".", "A", "C", "PASS", ".", "DS", ["0.25", "2"]),
]

FIX_OPTIONS = [
    ("default", dict(absent="missing", genotype="auto", filter="pass")),
    ("absent_ref", dict(absent="ref", genotype="auto", filter="pass")),
    ("filter_any", dict(absent="missing", genotype="auto", filter="any")),
    ("genotype_gt", dict(absent="missing", genotype="gt", filter="pass")),
    ("genotype_ds", dict(absent="missing", genotype="ds", filter="pass")),
]


def _fix_norm(c):
    c = c[3:] if c.lower().startswith("chr") else c
    return {"23": "X", "x": "X", "24": "Y", "y": "Y"}.get(c, c)


def _fix_match(ref, alt, alleles):
    """Allele index the model's counted allele has in the record, and how it
    matched, or (None, None). Rules: as-is, swapped, then (only for SNVs that
    are not A/T or C/G) strand complement, complement of swapped."""
    for i in range(1, len(alleles)):
        if alleles[i] == alt and alleles[0] == ref:
            return i, "as-is" if len(alleles) == 2 else "multiallelic"
    if alleles[0] == alt and ref in alleles[1:]:
        return 0, "swapped"
    if ambiguous(ref, alt) or len(ref) != 1 or len(alt) != 1:
        return None, None
    cr, ca = COMP[ref], COMP[alt]
    for i in range(1, len(alleles)):
        if alleles[i] == ca and alleles[0] == cr:
            return i, "flipped"
    if alleles[0] == ca and cr in alleles[1:]:
        return 0, "flipped+swapped"
    return None, None


def _fix_q(x):
    return round(x * 16384) / 16384


def _fix_dosage(field, fmt, k, n_alt, opts, chrx):
    """Dosage of allele index k from one sample field, or None (missing)."""
    vals = dict(zip(fmt.split(":"), field.split(":")))
    gt, ds = vals.get("GT"), vals.get("DS")
    if opts["genotype"] != "gt" and ds is not None and ds != ".":
        d = [float(x) for x in ds.split(",")]
        return _fix_q(d[k - 1] if k >= 1 else 2 - sum(d))
    if opts["genotype"] == "ds" or gt is None:
        return None
    al = gt.replace("|", "/").split("/")
    if "." in al:
        return None
    cnt = sum(int(a) == k for a in al)
    if len(al) == 1 and chrx:
        cnt *= 2
    return float(min(cnt, 2))


def fixture_expect(records, samples, opts):
    """Reference dosages (per sample, per feature; None = missing) and the
    way each feature was matched, by the rules in the module docstring of
    this section (mirrors docs/vcf-matching.md)."""
    nf = len(FIX_FEATURES)
    dos = [[None] * nf for _ in samples]
    how = ["absent"] * nf
    kind = [0] * nf  # 0 none, 1 rsid, 2 block, 3 record (a higher kind replaces a lower one)
    for chrom, pos, rid, ref, alt, filt, info, fmt, fields in records:
        if opts["filter"] == "pass" and filt not in ("PASS", "."):
            continue  # as if the record were not there
        c = _fix_norm(chrom)
        alleles = [ref] + alt.split(",")
        infod = dict(kv.split("=", 1) for kv in info.split(";") if "=" in kv)
        if len(alleles) == 2 and alleles[1] in ("<NON_REF>", "<*>"):
            end = int(infod.get("END", pos))
            for i, (fid, fc, fp, fr, fa, frs, _) in enumerate(FIX_FEATURES):
                if fc == c and pos <= fp <= end and kind[i] < 2:
                    kind[i], how[i] = 2, "reference block"
                    for s in range(len(samples)):
                        d0 = _fix_dosage(fields[s], fmt, 0, 1, opts, c == "X")
                        dos[s][i] = 0.0 if d0 not in (None, 0.0) else None
            continue
        alleles = [a for a in alleles if a not in ("<NON_REF>", "<*>")]
        for i, (fid, fc, fp, fr, fa, frs, _) in enumerate(FIX_FEATURES):
            by_pos = fc == c and fp == pos
            by_id = (not by_pos) and frs and rid == frs
            if not (by_pos or by_id) or (by_pos and kind[i] == 3) or (by_id and kind[i] != 0):
                continue
            k, m = _fix_match(fr, fa, alleles)
            if k is None:
                continue
            kind[i], how[i] = (3, m) if by_pos else (1, m + " by rsID")
            for s in range(len(samples)):
                dos[s][i] = _fix_dosage(fields[s], fmt, k, len(alleles) - 1, opts, c == "X")
    if opts["absent"] == "ref":
        for i in range(nf):
            if kind[i] == 0:
                for s in range(len(samples)):
                    dos[s][i] = 0.0
    return dos, how


def _fix_vcf_text(records, samples, chr_prefix, fmt_ds):
    h = vcf_header(samples, FIX_CONTIGS, chr_prefix=chr_prefix, extra=FIX_EXTRA, fmt_ds=fmt_ds,
                   source="genorisk tools/make_vcf_data.py fixtures")
    body = []
    for chrom, pos, rid, ref, alt, filt, info, fmt, fields in records:
        body.append("\t".join([("chr" if chr_prefix else "") + chrom, str(pos), rid, ref, alt, "50", filt,
                               info, fmt] + fields) + "\n")
    return h + "".join(body)


def cmd_fixtures(args):
    out = args.out
    mdir = os.path.join(out, "model")
    os.makedirs(mdir, exist_ok=True)
    nf = len(FIX_FEATURES)
    weights = [float(4 ** i) for i in range(nf)]
    with open(os.path.join(mdir, "manifest.json"), "w") as f:
        json.dump({"name": "vcf-rules", "version": "1", "task": "regression", "format": "genorisk-linear",
                   "artifact": "model.json", "features": "features.tsv", "genome_build": "GRCh38"}, f, indent=2)
        f.write("\n")
    with open(os.path.join(mdir, "model.json"), "w") as f:
        json.dump({"format": "genorisk-linear", "format_version": 1, "n_features": nf, "intercept": 0,
                   "weights": [int(w) for w in weights], "link": "identity"}, f, indent=2)
        f.write("\n")
    with open(os.path.join(mdir, "features.tsv"), "w") as f:
        f.write("feature_id\tchrom\tpos\tref\talt\tmean\trsid\n")
        for fid, c, p, r, a, rs, _ in FIX_FEATURES:
            f.write("%s\t%s\t%d\t%s\t%s\t\t%s\n" % (fid, c, p, r, a, rs))

    files = [
        ("a.vcf", FIX_A, FIX_A_SAMPLES, "chr-prefixed contigs, plain text"),
        ("b.vcf.gz", FIX_A, FIX_A_SAMPLES, "a.vcf with bare contig names (1, X), BGZF"),
        ("c.bcf", FIX_A, FIX_A_SAMPLES, "a.vcf as BCF (bcftools view -Ob)"),
        ("gvcf.vcf", FIX_G, FIX_G_SAMPLES, "gVCF: reference blocks and a G,<NON_REF> record"),
        ("ds.vcf.gz", FIX_D, FIX_D_SAMPLES, "DS-only and GT:DS records, BGZF"),
    ]
    with open(os.path.join(out, "a.vcf"), "w") as f:
        f.write(_fix_vcf_text(FIX_A, FIX_A_SAMPLES, True, False))
    w = BgzipWriter(os.path.join(out, "b.vcf.gz"), threads=1)
    w.write(_fix_vcf_text(FIX_A, FIX_A_SAMPLES, False, False))
    w.close()
    subprocess.run(["bcftools", "view", "--no-version", "-Ob", "-o", os.path.join(out, "c.bcf"),
                    os.path.join(out, "a.vcf")], check=True)
    with open(os.path.join(out, "gvcf.vcf"), "w") as f:
        f.write(_fix_vcf_text(FIX_G, FIX_G_SAMPLES, True, False))
    w = BgzipWriter(os.path.join(out, "ds.vcf.gz"), threads=1)
    w.write(_fix_vcf_text(FIX_D, FIX_D_SAMPLES, True, True))
    w.close()

    cases = []
    for name, recs, samples, what in files:
        for oname, opts in FIX_OPTIONS:
            dos, how = fixture_expect(recs, samples, opts)
            margins = [sum(w * (d or 0.0) for w, d in zip(weights, row)) for row in dos]
            cases.append({"file": name, "options_name": oname, "options": opts, "samples": samples,
                          "dosages": dos, "margins": margins, "match": how})
    # hand-checked anchors: a rule change must show up here, not only in the numbers
    ix = {f[0]: i for i, f in enumerate(FIX_FEATURES)}
    dflt = {c["file"]: c for c in cases if c["options_name"] == "default"}
    col = lambda c, fid: [row[ix[fid]] for row in c["dosages"]]
    a = dflt["a.vcf"]
    assert col(a, "f_plain") == [1, 2, 0], col(a, "f_plain")
    assert col(a, "f_swap") == [1, 0, 2]
    assert col(a, "f_flip") == [2, 1, 0]
    assert col(a, "f_flipswap") == [2, 1, 0]
    assert col(a, "f_ambig") == [2, 1, 0]  # a strand flip would give [0, 1, 2]
    assert col(a, "f_ambig_plain") == [2, 0, 1]
    assert col(a, "f_multi") == [1, 1, 2]
    assert col(a, "f_rsid") == [1, 0, 2]
    assert col(a, "f_dup") == [2, 1, 0]
    assert col(a, "f_lowqual") == [None, None, None]
    assert col(a, "f_missing") == [None, None, 2]
    assert col(a, "f_x") == [1, 2, 2]
    assert col(a, "f_x_swap") == [1, 2, None]
    assert col(a, "f_absent") == [None] * 3
    anyc = [c for c in cases if c["file"] == "a.vcf" and c["options_name"] == "filter_any"][0]
    assert col(anyc, "f_lowqual") == [1, 2, 1]
    ref = [c for c in cases if c["file"] == "a.vcf" and c["options_name"] == "absent_ref"][0]
    assert col(ref, "f_absent") == [0, 0, 0] and col(ref, "f_lowqual") == [0, 0, 0]
    assert col(ref, "f_missing") == [None, None, 2]
    g = dflt["gvcf.vcf"]
    assert col(g, "f_plain") == [0, 0] and col(g, "f_swap") == [None, None]
    assert col(g, "f_gvcf_block") == [0, None] and col(g, "f_missing") == [0, None]
    assert col(g, "f_gvcf_var") == [1, 2]
    d = dflt["ds.vcf.gz"]
    assert col(d, "f_ds") == [0.5, 1.25]
    assert col(d, "f_ds_gt") == [14746 / 16384, 29491 / 16384]
    assert col(d, "f_ds_swap") == [1.75, 0.0]
    assert col(d, "f_plain") == [1, 1.5]
    dg = [c for c in cases if c["file"] == "ds.vcf.gz" and c["options_name"] == "genotype_gt"][0]
    assert col(dg, "f_ds") == [None, None] and col(dg, "f_ds_gt") == [1, 2] and col(dg, "f_plain") == [1, 2]
    dd = [c for c in cases if c["file"] == "ds.vcf.gz" and c["options_name"] == "genotype_ds"][0]
    assert col(dd, "f_plain") == [None, 1.5]

    doc = {
        "generated_by": "tools/make_vcf_data.py fixtures --out tests/fixtures/vcf",
        "model": "model",
        "feature_ids": [f[0] for f in FIX_FEATURES],
        "feature_notes": {f[0]: f[6] for f in FIX_FEATURES},
        "weights": weights,
        "files": {n: w for n, _, _, w in files},
        "rules": [
            "CHROM normalised: chr prefix dropped (any case); 23/x -> X",
            "a record matches a model variant at the same CHROM/POS when the model's alt and ref are "
            "REF/ALT alleles as-is (alt = an ALT: count that ALT's index; multi-allelic by index) or "
            "swapped (alt = REF: count REF copies); else, for SNVs that are not A/T or C/G, with both "
            "alleles strand-complemented",
            "a model variant with an rsID that no record matched by position is matched by a record "
            "whose ID equals the rsID (alleles as above)",
            "the first matching record wins (a later one only adds a warning); a gVCF reference block "
            "(ALT <NON_REF> or <*> alone, INFO END) gives dosage 0 to every model position in [POS, END] "
            "that no record matched (alleles are not compared), missing for a sample whose block call is "
            "missing or has no REF allele (and with genotype=ds, as a block has no DS); a record at the "
            "position replaces a block or an rsID match, a block replaces an rsID match",
            "FILTER must be PASS or '.' unless filter=any; a failing record is skipped as if absent "
            "(so absent=ref makes it 0)",
            "dosage = copies of the counted allele in GT; any '.' allele makes the call missing; a "
            "haploid call on chrX counts double (as plink2)",
            "genotype=auto uses DS when the record has a non-missing DS for the sample (swapped: "
            "2 - sum(DS)), else GT; gt uses only GT; ds only DS; DS is rounded to steps of 1/16384",
            "absent=ref: model variants no record mentions are 0; missing calls stay missing",
        ],
        "cases": cases,
        "note": "margins = sum(weights[i] * dosage[i]) with missing as 0 (the features have no mean, "
                "so a missing dosage contributes 0); a prediction over a file that lacks most "
                "features needs --allow-low-coverage",
    }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(FIX_README)
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(out) for fn in fns)
    log("fixtures: %d files, %d cases, %d bytes in %s" % (len(files), len(cases), total, out))


FIX_README = """# VCF input fixtures

**Generated - do not edit by hand.** Regenerate with

    /usr/bin/python3 tools/make_vcf_data.py fixtures --out tests/fixtures/vcf

(needs `bgzip` from Debian's tabix and `bcftools`; deterministic bytes).

* `model/` - genorisk-linear bundle `vcf-rules` (GRCh38, identity link,
  intercept 0) with 19 variants; weight of feature *i* is 4^i, so integer
  dosages can be read back from the margin as base-4 digits. No `mean`, so a
  missing dosage contributes 0.
* `a.vcf` (chr-prefixed), `b.vcf.gz` (same records, bare `1`/`X`, BGZF),
  `c.bcf` (a.vcf as BCF): samples S1, S2 (male: haploid chrX), S3.
* `gvcf.vcf`: gVCF reference blocks, samples G1, G2.
* `ds.vcf.gz`: DS-only and GT:DS records, samples D1, D2.
* `expected.json`: for each file and option set (`default`, `absent_ref`,
  `filter_any`, `genotype_gt`, `genotype_ds`), the per-sample dosage vector
  in model order (`null` = missing), the margin, and how each variant matched;
  `rules` states the matching rules the numbers follow and `feature_notes`
  what each variant exercises.
"""


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("parity")
    p.add_argument("--out", required=True)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--records", type=int, default=3000)
    p.add_argument("--variants", type=int, default=800)
    p.add_argument("--pyvcf", default=PYVCF_1KG)
    p = sub.add_parser("bench1")
    p.add_argument("--out", required=True)
    p.add_argument("--records", type=int, default=2_000_000)
    p.add_argument("--variants", type=int, default=100_000)
    p = sub.add_parser("bench2")
    p.add_argument("--out", required=True)
    p.add_argument("--records", type=int, default=100_000)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--variants", type=int, default=10_000)
    p = sub.add_parser("bench3")
    p.add_argument("--out", required=True)
    p.add_argument("--records", type=int, default=2_000_000)
    p.add_argument("--variants", type=int, default=100_000)
    p = sub.add_parser("bench-index")
    p.add_argument("--out", required=True)
    p.add_argument("--records", type=int, default=5_000_000)
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--variants", type=int, default=100)
    p = sub.add_parser("fixtures")
    p.add_argument("--out", required=True)
    args = ap.parse_args()
    if shutil.which("bgzip") is None:
        sys.exit("make_vcf_data: bgzip not found (apt-get install tabix)")
    {"parity": cmd_parity, "bench1": cmd_bench1, "bench2": cmd_bench2, "bench3": cmd_bench3, "bench-index": cmd_bench_index,
     "fixtures": cmd_fixtures}[args.cmd](args)


if __name__ == "__main__":
    main()
