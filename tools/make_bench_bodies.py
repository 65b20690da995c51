#!/usr/bin/python3
"""Write predict bodies of N samples from a bench bundle, as JSON and as VCF.

From a bundle made by tools/make_bench_model.py (features.tsv, rows.tsv),
for each N in --samples writes

  OUT/body_N.json    {"samples":[{"id":"S0001","genotypes":{"rs9100001":1,
                     ...}},...],"top_k":10} written compactly (no spaces),
                     every feature of the model keyed by its feature_id
  OUT/body_N.vcf.gz  the same samples as a BGZF VCF 4.2 (bgzip): GRCh38
                     ##contig lines with lengths, one record per feature at
                     features.tsv's chrom/pos/ref/alt, sorted, GT only
                     (dosage 0/1/2 -> 0/0, 0/1, 1/1)

Sample i (from 0) is rows.tsv row i mod ROWS, id "S%04d" % (i + 1).
OUT/bodies.json lists what was written (sizes in bytes); it is written last,
so its presence means the set is complete.

--check GENORISK: afterwards runs `GENORISK predict --model BUNDLE --vcf
body_C.vcf.gz` and `--input body_C.json` (C = the smallest N >= 100, else
the largest) and fails unless every VCF sample has full coverage and the
scores and margins of the two answers agree to 1e-9.

Run: tools/make_bench_bodies.py --bundle DIR --out DIR
         [--samples 1,10,100,1000,10000] [--top-k 10] [--check build/genorisk]
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time

# GRCh38 lengths of chromosomes 1-22 (the VCF's ##contig lines; genorisk
# reads the genome build from them).
GRCH38_LEN = [248956422, 242193529, 198295559, 190214555, 181538259,
              170805979, 159345973, 145138636, 138394717, 133797422,
              135086622, 133275309, 114364328, 107043718, 101991189,
              90338345, 83257441, 80373285, 58617616, 64444167, 46709983,
              50818468]
GT = {0: "0/0", 1: "0/1", 2: "1/1"}


def read_bundle(bundle):
    """(features as dicts in model order, rows as lists of int dosages)."""
    with open(os.path.join(bundle, "features.tsv"), newline="") as f:
        feats = list(csv.DictReader(f, delimiter="\t"))
    rows = []
    with open(os.path.join(bundle, "rows.tsv")) as f:
        for n, line in enumerate(f, 1):
            vals = line.rstrip("\n").split("\t")
            if len(vals) != len(feats):
                sys.exit("make_bench_bodies: rows.tsv line %d has %d values, "
                         "features.tsv %d features" % (n, len(vals),
                                                       len(feats)))
            row = [int(float(v)) for v in vals]
            if any(v not in GT for v in row):
                sys.exit("make_bench_bodies: rows.tsv line %d: dosages must "
                         "be 0, 1 or 2" % n)
            rows.append(row)
    if not rows:
        sys.exit("make_bench_bodies: rows.tsv is empty")
    return feats, rows


def sample_id(i):
    return "S%04d" % (i + 1)


def write_json(path, feats, rows, n, top_k):
    keys = ['"%s":' % f["feature_id"] for f in feats]
    with open(path, "w") as f:
        f.write('{"samples":[')
        for i in range(n):
            row = rows[i % len(rows)]
            f.write('%s{"id":"%s","genotypes":{%s}}' % (
                "," if i else "", sample_id(i),
                ",".join(k + str(v) for k, v in zip(keys, row))))
        f.write('],"top_k":%d}' % top_k)


def write_vcf(path, feats, rows, n):
    order = sorted(range(len(feats)), key=lambda j: (
        int(feats[j]["chrom"]), int(feats[j]["pos"])))
    with open(path, "wb") as out:
        bg = subprocess.Popen(["bgzip", "-c", "-@", "2"],
                              stdin=subprocess.PIPE, stdout=out)
        w = bg.stdin
        w.write(b"##fileformat=VCFv4.2\n")
        for c, length in enumerate(GRCH38_LEN, 1):
            w.write(b"##contig=<ID=%d,length=%d,assembly=GRCh38>\n"
                    % (c, length))
        w.write(b'##FORMAT=<ID=GT,Number=1,Type=String,'
                b'Description="Genotype">\n')
        w.write(("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
                 + "\t".join(sample_id(i) for i in range(n))
                 + "\n").encode())
        nrows = len(rows)
        for j in order:
            ft = feats[j]
            vals = [rows[i % nrows][j] for i in range(n)]
            w.write(("%s\t%s\t%s\t%s\t%s\t.\tPASS\t.\tGT\t%s\n" % (
                ft["chrom"], ft["pos"], ft["rsid"] or ".", ft["ref"],
                ft["alt"], "\t".join(GT[v] for v in vals))).encode())
        w.close()
        if bg.wait() != 0:
            sys.exit("make_bench_bodies: bgzip failed on %s" % path)


def predict(genorisk, bundle, flag, path):
    out = subprocess.run([genorisk, "predict", "--model", bundle, flag, path,
                          "--compact", "--explain", "false"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         check=False)
    if out.returncode != 0:
        sys.exit("make_bench_bodies: %s predict %s %s: exit %d: %s" % (
            genorisk, flag, path, out.returncode,
            out.stderr.decode(errors="replace").strip()))
    return json.loads(out.stdout)["results"]


def check(genorisk, bundle, out_dir, n):
    js = predict(genorisk, bundle, "--input",
                 os.path.join(out_dir, "body_%d.json" % n))
    vcf = predict(genorisk, bundle, "--vcf",
                  os.path.join(out_dir, "body_%d.vcf.gz" % n))
    if len(js) != n or len(vcf) != n:
        sys.exit("make_bench_bodies: check: %d JSON and %d VCF results for "
                 "%d samples" % (len(js), len(vcf), n))
    worst = 0.0
    for a, b in zip(js, vcf):
        cov = b.get("coverage", {})
        if a["sample"] != b["sample"] or "error" in b or \
                cov.get("observed") != cov.get("expected") or \
                cov.get("imputed", 0) or cov.get("missing", 0):
            sys.exit("make_bench_bodies: check: VCF sample %s: %s" % (
                b.get("sample"), json.dumps(b)[:300]))
        worst = max(worst, abs(a["score"] - b["score"]),
                    abs(a["margin"] - b["margin"]))
    if worst > 1e-9:
        sys.exit("make_bench_bodies: check: JSON and VCF scores differ by "
                 "up to %.3g" % worst)
    sys.stderr.write("make_bench_bodies: check: %d samples, VCF coverage "
                     "%d/%d each, JSON vs VCF scores within %.2g\n"
                     % (n, vcf[0]["coverage"]["observed"],
                        vcf[0]["coverage"]["expected"], worst))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", required=True, metavar="DIR")
    ap.add_argument("--out", required=True, metavar="DIR")
    ap.add_argument("--samples", default="1,10,100,1000,10000",
                    help="comma-separated sample counts")
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--check", metavar="GENORISK")
    args = ap.parse_args()
    try:
        sizes = sorted({int(s) for s in args.samples.split(",")})
    except ValueError:
        ap.error("--samples: comma-separated whole numbers")
    if not sizes or sizes[0] < 1:
        ap.error("--samples: each at least 1")
    t0 = time.time()
    feats, rows = read_bundle(args.bundle)
    os.makedirs(args.out, exist_ok=True)
    stamp = os.path.join(args.out, "bodies.json")
    if os.path.exists(stamp):
        os.remove(stamp)
    listing = {"bundle": os.path.abspath(args.bundle),
               "features": len(feats), "top_k": args.top_k, "bodies": []}
    for n in sizes:
        jpath = os.path.join(args.out, "body_%d.json" % n)
        vpath = os.path.join(args.out, "body_%d.vcf.gz" % n)
        write_json(jpath, feats, rows, n, args.top_k)
        write_vcf(vpath, feats, rows, n)
        listing["bodies"].append({"samples": n,
                                  "json": os.path.basename(jpath),
                                  "json_bytes": os.path.getsize(jpath),
                                  "vcf": os.path.basename(vpath),
                                  "vcf_bytes": os.path.getsize(vpath)})
        sys.stderr.write("make_bench_bodies: %d samples: %s %.1f MB, %s "
                         "%.1f MB\n" % (n, jpath, os.path.getsize(jpath) / 1e6,
                                        vpath, os.path.getsize(vpath) / 1e6))
    if args.check:
        big = [n for n in sizes if n >= 100]
        check(args.check, args.bundle, args.out, big[0] if big else sizes[-1])
    with open(stamp, "w") as f:
        json.dump(listing, f, indent=1)
        f.write("\n")
    sys.stderr.write("make_bench_bodies: %s written in %.1f s\n"
                     % (stamp, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
