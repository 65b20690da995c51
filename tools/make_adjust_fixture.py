#!/usr/bin/python3
"""make_adjust_fixture.py - writes the small inputs of
tests/unit/test_adjust.c (genorisk adjust against models/demo-reference)
into tests/fixtures/adjust.

Three target samples with made-up PCs (the first is docs/population.md's
example), in each layout genorisk adjust reads: FRAPOSA's .pcs (FID IID
PC1..), plink2's .eigenvec (#FID IID PC1.. and #IID PC1..) and IID without
FID; their scores in pgsc_calc's long format (plain and gzip, the gzip with
no time stamp so the bytes are the same on every run), with reference rows
that are skipped; and one broken file per error the test checks. The sample
ids are "SECRET-..." so the test can check no error message carries one.
The expected numbers are not here: the test computes them with
gr_reference_classify and gr_reference_adjust (checked against the formulas
of docs/population.md by tests/unit/test_reference.c).

Run: tools/make_adjust_fixture.py [--out tests/fixtures/adjust] (with
/usr/bin/python3); the output is committed, and tools/check_generated.sh
checks it is what this writes."""
import argparse
import gzip
import os

HERE = None  # the output directory (--out)
PCS = [
    [-1.85, 0.20, 1.35, -1.37, 0.93, -0.12, 0.56, 0.11, -2.00, 1.28],
    [3.1, -2.2, 0.4, 0.9, -0.3, 0.0, 0.1, -0.2, 0.3, -0.4],
    [0.0, 4.5, -1.0, 2.0, 1.5, -0.5, 0.25, 0.0, 0.0, 0.0],
]
SUMS = [0.2, -0.35, 1.1]


def fid(i):
    return "FAM%d" % (i + 1)


def iid(i):
    return "SECRET-%d" % (i + 1)


def put(name, text):
    data = text.encode() if isinstance(text, str) else text
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def pc_lines(header, ids, n_pcs=10, sep="\t"):
    rows = [sep.join(header + ["PC%d" % (j + 1) for j in range(n_pcs)])]
    for i, p in enumerate(PCS):
        rows.append(sep.join(ids(i) + ["%.17g" % v for v in p[:n_pcs]]))
    return "\n".join(rows) + "\n"


def score_lines(with_fid=True, rows=None):
    head = "sampleset\tFID\tIID\tPGS\tSUM\tDENOM\tAVG" if with_fid else "sampleset\tIID\tPGS\tSUM"
    out = [head]
    for st, i, pgs, x in rows or [("target", i, "cad-pgs-demo", s) for i, s in enumerate(SUMS)]:
        if with_fid:
            out.append("%s\t%s\t%s\t%s\t%s\t600\t%s" % (st, fid(i), iid(i), pgs, x, x))
        else:
            out.append("%s\t%s\t%s\t%s" % (st, iid(i), pgs, x))
    return "\n".join(out) + "\n"


def main():
    global HERE
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "adjust"))
    HERE = ap.parse_args().out
    os.makedirs(HERE, exist_ok=True)
    put("target.pcs", pc_lines(["FID", "IID"], lambda i: [fid(i), iid(i)]))
    put("target.eigenvec", pc_lines(["#FID", "IID"], lambda i: [fid(i), iid(i)], sep=" "))
    put("target_iid.eigenvec", pc_lines(["#IID"], lambda i: [iid(i)]))
    put("target_nofid.pcs", pc_lines(["IID"], lambda i: [iid(i)]))
    rows = [("reference", 0, "cad-pgs-demo", 9.5)] + \
           [("target", i, "cad-pgs-demo", s) for i, s in enumerate(SUMS)] + \
           [("reference", 2, "cad-pgs-demo", -9.5)]
    put("scores.txt", score_lines(rows=rows))
    put("scores.txt.gz", gzip.compress(score_lines(rows=rows).encode(), mtime=0))
    put("scores_iid.txt", score_lines(with_fid=False))
    # errors
    put("pcs_no_pc1.pcs", pc_lines(["FID", "IID"], lambda i: [fid(i), iid(i)]).replace("PC1\t", "PCA1\t", 1))
    put("pcs_four.pcs", pc_lines(["FID", "IID"], lambda i: [fid(i), iid(i)], n_pcs=4))
    dup = pc_lines(["FID", "IID"], lambda i: [fid(i), iid(i)])
    put("pcs_duplicate.pcs", dup + dup.split("\n")[2] + "\n")
    put("scores_bad_sum.txt", score_lines(rows=[("target", 0, "cad-pgs-demo", 0.1),
                                                ("target", 1, "cad-pgs-demo", "0.2x")]))
    put("scores_no_pcs.txt", score_lines(rows=[("target", 0, "cad-pgs-demo", 0.1),
                                               ("target", 1, "cad-pgs-demo", 0.2),
                                               ("target", 7, "cad-pgs-demo", 0.3)]))
    put("scores_unknown_pgs.txt", score_lines(rows=[("target", 0, "PGS999999", 0.1)]))
    put("scores_reference_only.txt", score_lines(rows=[("reference", 0, "cad-pgs-demo", 0.1)]))
    put("pcs_far.pcs", "FID\tIID\t" + "\t".join("PC%d" % (j + 1) for j in range(10)) + "\n" +
        "%s\t%s\t" % (fid(0), iid(0)) + "\t".join(["1e300"] * 10) + "\n")


if __name__ == "__main__":
    main()
