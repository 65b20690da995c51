#!/usr/bin/python3
"""test_peers.py - genorisk against real data and the reference tools' own
outputs (issue 11, item 2): `make test-peers`.

    tools/test_peers.py --cli build/genorisk --peers ../shared/peers [--data-only] [--keep]

The peer data is other projects' (its README.md says where each file comes
from): it is read where it lies and never copied into the repository. The
bundles, VCFs and scoring files this script writes go to a mktemp directory
(bundles point at the peer files through symbolic links), removed at the end
unless --keep.

Five groups of checks, each expected value taken from a peer's own file, or,
where the peer asserts it only in prose, from the section of the peers'
README.md named beside it:

1. pgs000586: PGS000586 (hmPOS, GRCh38) x 1000 Genomes (3202 samples), the
   default policy (pgsc): per-sample SUM/DENOM against pgsc_calc v2's
   v2_scores.txt.gz, the match report against pgsc_calc v3's summary.csv,
   the variant log row by row.
2. cineca: PGS001229 (chr22) and duplicatetest together, --format sscore,
   against plink2's own .sscore files written by pgsc_calc (_0 and _1); the
   match reports against pgsc_calc's test report.
3. match_fixtures: pgscatalog-match's fixtures, turned into VCFs and one
   bundle per accession: two scores with opposite effect alleles at one
   variant, the ambiguous variant, multi-allelic records kept and dropped,
   additive/dominant/recessive rows.
4. ancestry: pgsc_calc's ancestry adjustment (README section 3): a reference
   bundle from the stored 1000G PCs, labels, relatedness and PGS001229 scores
   (tools/make_reference.py) against the fitted numbers of hgdp_info.json,
   then `genorisk adjust` on the 929 HGDP targets against hgdp_pgs and
   hgdp_popsimilarity (percentile, Z, Z_norm1 within 1e-9, Z_norm2 within
   1e-6, RF_P_* and MostSimilarPop equal); adjust's input errors.
5. holdout (issue 12 item 4): a reference built from the real genotypes of
   pgs000586_1000g less a stratified 10% (make_reference.py --vcf --holdout
   0.1 --seed 1), the held-out samples placed by `genorisk predict
   --reference`: most_similar right for >= 95% of AFR, EAS, EUR and SAS (the
   table is printed), a sample alone answered as in the batch, the PCs equal
   to tools/holdout_check.py's numpy within 1e-9.

Before using genorisk, each group checks the peer data itself (the "data:"
lines): an independent reading in Python of the policy (match by position
then alleles with strand flips, strand-ambiguous SNVs and multi-allelic
records excluded, chrX skipped, missing calls imputed with the cohort mean)
must reproduce the peers' numbers, and plink2 must reproduce the .sscore it
wrote. Those lines prove the expected values are read right; they pass
without genorisk's predict. --data-only runs only them, the reference
bundle's numbers against hgdp_info.json (tools/make_reference.py's, no C)
and the bundles' `genorisk models validate`.

One line per check, PASS or FAIL with its numbers; the last line is
"test-peers: N passed, M failed". Exit 1 when a check failed, or when the
peers folder is missing (that is a failure, never a skip).
"""
import argparse
import collections
import gzip
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

SEP = "\t"
COMP = {"A": "T", "C": "G", "G": "C", "T": "A"}


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------
class Tally:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, ok, detail=""):
        """One line per check; returns ok."""
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print("%s %s%s" % ("PASS" if ok else "FAIL", name, ": " + detail if detail else ""),
              flush=True)
        return ok

    def close(self):
        print("test-peers: %d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 1 if self.failed or not self.passed else 0


# ---------------------------------------------------------------------------
# Reading the peer files
# ---------------------------------------------------------------------------
def read_text(path):
    """The lines of a plain, gzip or zstd file."""
    if path.endswith(".zst"):
        out = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
        return out.decode().splitlines()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def norm_chrom(c):
    """vcf-matching.md rule 1, enough for these files."""
    if c[:3].lower() == "chr":
        c = c[3:]
    c = c.lstrip("0") or "0"
    return {"23": "X", "x": "X", "24": "Y", "y": "Y", "M": "MT", "m": "MT", "mt": "MT",
            "26": "MT"}.get(c, c)


def read_pgs(path):
    """(meta, rows) of a PGS Catalog scoring file; hm_chr/hm_pos win when
    present, as in core/load_pgs.c. Each row: chrom, pos, ea, oa, w, type."""
    meta, rows, cols = {}, [], None
    for line in read_text(path):
        if line.startswith("#"):
            if "=" in line and not line.startswith("##"):
                k, v = line[1:].split("=", 1)
                meta[k] = v
            continue
        f = line.split(SEP)
        if cols is None:
            cols = {c: i for i, c in enumerate(f)}
            continue
        get = lambda c: f[cols[c]] if c in cols and cols[c] < len(f) else ""
        hm = "hm_chr" in cols and "hm_pos" in cols
        chrom, pos = (get("hm_chr"), get("hm_pos")) if hm else (get("chr_name"), get("chr_position"))
        kind = "additive"
        if get("is_dominant") == "True":
            kind = "dominant"
        elif get("is_recessive") == "True":
            kind = "recessive"
        rows.append({"chrom": norm_chrom(chrom), "pos": int(pos), "ea": get("effect_allele"),
                     "oa": get("other_allele"), "w": float(get("effect_weight")),
                     "type": kind, "rsid": get("rsID")})
    return meta, rows


class Vcf:
    """A whole (small) VCF: samples, records, records by (chrom, pos)."""

    def __init__(self, path):
        self.samples, self.recs = [], []
        self.at = collections.defaultdict(list)
        for line in read_text(path):
            if line.startswith("##"):
                continue
            f = line.split(SEP)
            if line.startswith("#"):
                self.samples = f[9:]
                continue
            rec = {"chrom": norm_chrom(f[0]), "chrom_raw": f[0], "pos": int(f[1]), "id": f[2],
                   "ref": f[3], "alts": f[4].split(","), "gt": [g.split(":")[0] for g in f[9:]]}
            rec["key"] = "%s:%s:%s:%s" % (f[0], f[1], f[3], f[4])
            self.at[(rec["chrom"], rec["pos"])].append(len(self.recs))
            self.recs.append(rec)


def gt_dosage(gt, index, chrom):
    """Copies of allele `index` in a GT call; None when any allele is
    missing. Haploid X counts double (rule 6)."""
    alleles = gt.replace("|", "/").split("/")
    if any(a in (".", "") for a in alleles):
        return None
    n = sum(1 for a in alleles if int(a) == index)
    return 2 * n if len(alleles) == 1 and chrom == "X" else min(n, 2)


def is_ambiguous(ea, oa):
    return len(ea) == 1 and len(oa) == 1 and COMP.get(ea) == oa


def match_record(row, rec):
    """(kind, allele index counted) when the record matches the row's
    alleles (vcf-matching.md rule 2, in its order), else None."""
    ea, oa, ref, alts = row["ea"], row["oa"], rec["ref"], rec["alts"]
    if ea in alts and (oa == ref or not oa):
        return "as-is", alts.index(ea) + 1
    if ea == ref and (oa in alts or (not oa and alts != ["."])):
        return "swapped", 0
    snv = len(ea) == 1 and len(oa) == 1 and ea in COMP and oa in COMP
    if snv and not is_ambiguous(ea, oa):
        if COMP[ea] in alts and ref == COMP[oa]:
            return "flipped", alts.index(COMP[ea]) + 1
        if ref == COMP[ea] and COMP[oa] in alts:
            return "flipped+swapped", 0
    return None


def pgsc_match(rows, vcf, ambiguous="drop", multiallelic="drop", chrx="skip"):
    """The policy of the SPEC, read independently of genorisk: per row a dict
    status (matched|excluded|unmatched), reason, rec (index or None), idx
    (allele index counted), kind, dup (other matching records).

    chrX first (pgsc_calc v3 alpha reads autosomes only, so its chrX rows
    have no candidate); then no record at the position; then ambiguity,
    labelled from the scoring file's alleles whatever the candidate record
    holds (pgsc_calc v3 does so: one C/G row of PGS000586 whose record has
    other alleles is counted excluded, not unmatched); then the first record
    in file order whose alleles match (rule 5); multi-allelic records
    excluded when dropped."""
    out = []
    for r in rows:
        res = {"status": "unmatched", "reason": "", "rec": None, "idx": None, "kind": "", "dup": 0}
        cands = vcf.at.get((r["chrom"], r["pos"]), [])
        hits = [(i, m) for i in cands for m in [match_record(r, vcf.recs[i])] if m]
        if r["chrom"] == "X" and chrx == "skip":
            res["reason"] = "chrx_skipped"
        elif not cands:
            res["reason"] = "no_record"
        elif is_ambiguous(r["ea"], r["oa"]) and ambiguous == "drop":
            res.update(status="excluded", reason="ambiguous", rec=hits[0][0] if hits else cands[0])
        elif not hits:
            res.update(reason="alleles_differ", rec=cands[0])
        else:
            i, (kind, idx) = hits[0]
            res.update(rec=i, idx=idx, kind=kind, dup=len(hits) - 1)
            if len(vcf.recs[i]["alts"]) > 1 and multiallelic == "drop":
                res.update(status="excluded", reason="multiallelic")
            else:
                res["status"] = "matched"
        out.append(res)
    return out


def tally_match(res):
    c = collections.Counter()
    for m in res:
        c[m["status"]] += 1
        if m["status"] != "matched":
            c[m["reason"]] += 1
    return c


def contribution(row, d):
    """A row's contribution at dosage d: additive, dominant or recessive,
    piecewise linear between 0, 1 and 2 as core/load_pgs.c scores them."""
    w = row["w"]
    c = {"additive": (0, w, 2 * w), "dominant": (0, w, w), "recessive": (0, 0, w)}[row["type"]]
    lo = min(int(d), 1)
    return c[lo] + (c[lo + 1] - c[lo]) * (d - lo)


def score_cohort(models, vcf):
    """plink2 --score semantics over several scores (one scoring file holding
    them all): per sample ALLELE_CT, DENOM, NAMED_ALLELE_DOSAGE_SUM over the
    distinct records used (named allele: the first model's), and each model's
    SUM, a missing call counting the cohort mean dosage of the model's own
    effect allele. models: [(rows, match results)]."""
    n = len(vcf.samples)
    named = {}  # record -> allele index named (the first model's)
    for rows, res in models:
        for r, m in zip(rows, res):
            if m["status"] == "matched":
                named.setdefault(m["rec"], m["idx"])
    allele_ct, named_sum = [0] * n, [0.0] * n
    for rec, idx in named.items():
        chrom = vcf.recs[rec]["chrom"]
        for s, gt in enumerate(vcf.recs[rec]["gt"]):
            d = gt_dosage(gt, idx, chrom)
            if d is not None:
                allele_ct[s] += 2
                named_sum[s] += d
    sums = []
    for rows, res in models:
        tot = [0.0] * n
        for r, m in zip(rows, res):
            if m["status"] != "matched":
                continue
            rec = vcf.recs[m["rec"]]
            ds = [gt_dosage(gt, m["idx"], rec["chrom"]) for gt in rec["gt"]]
            seen = [d for d in ds if d is not None]
            mean = sum(seen) / len(seen) if seen else 0.0
            for s, d in enumerate(ds):
                tot[s] += contribution(r, mean if d is None else d)
        sums.append(tot)
    return {"allele_ct": allele_ct, "denom": 2 * len(named), "named": named_sum, "sums": sums}


def read_sscore(path):
    """(header, {IID: {column: text}}, [IIDs in order]) of a plink2 .sscore."""
    lines = read_text(path)
    head = lines[0].split(SEP)
    rows, order = {}, []
    for line in lines[1:]:
        f = line.split(SEP)
        rows[f[1]] = dict(zip(head, f))
        order.append(f[1])
    return head, rows, order


def printed_tol(text, digits=6):
    """Half a unit in the last place of a number plink2 printed with
    `digits` significant digits (it drops trailing zeros, so the text alone
    does not show them), plus float noise."""
    v = abs(float(text))
    if v == 0:
        return 1e-12
    return 0.5 * 10 ** (math.floor(math.log10(v)) - digits + 1) + 1e-12 * v + 1e-15


def decimals(text):
    return len(text.split(".", 1)[1]) if "." in text else 0


# ---------------------------------------------------------------------------
# Running genorisk
# ---------------------------------------------------------------------------
class Cli:
    def __init__(self, path, tally):
        self.path, self.t = path, tally

    def run(self, name, args):
        """stdout of `genorisk ARGS`, or None after a FAIL line."""
        try:
            r = subprocess.run([self.path] + args, capture_output=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.t.check(name, False, "%s %s: %s" % (self.path, " ".join(args), e))
            return None
        if r.returncode != 0:
            err = r.stderr.decode(errors="replace").strip().splitlines()
            self.t.check(name, False, "exit %d: genorisk %s: %s" % (
                r.returncode, " ".join(args), err[0][:300] if err else "(no message)"))
            return None
        return r.stdout.decode()

    def validate(self, name, bundle):
        out = self.run("%s: models validate" % name, ["models", "validate", bundle])
        if out is not None:
            self.t.check("%s: models validate" % name, True, "the bundle loads")


def write_bundle(dirpath, name, artifact, build, min_coverage=None):
    """A pgs-catalog bundle whose artifact is a symbolic link to the file."""
    os.makedirs(dirpath)
    base = os.path.basename(artifact)
    os.symlink(os.path.abspath(artifact), os.path.join(dirpath, base))
    man = {"name": name, "version": "peer", "task": "regression", "format": "pgs-catalog",
           "artifact": base, "genome_build": build,
           "description": "built by tools/test_peers.py from the peers' data"}
    if min_coverage is not None:
        man["min_coverage"] = min_coverage
    with open(os.path.join(dirpath, "manifest.json"), "w") as f:
        json.dump(man, f, indent=2)
    return dirpath


def parse_json_models(t, name, text):
    """{model name: document} of a predict JSON answer, one model or several."""
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except ValueError as e:
        t.check(name + ": JSON", False, str(e))
        return None
    docs = doc["models"] if "models" in doc else [doc]
    try:
        return {d["model"]["name"]: d for d in docs}
    except (KeyError, TypeError) as e:
        t.check(name + ": JSON", False, "no model.name in a document (%s)" % e)
        return None


def parse_tsv(t, name, text, header):
    """[dict per row] of a TSV whose header must be `header`."""
    if text is None:
        return None
    lines = text.splitlines()
    head = lines[0].split(SEP) if lines else []
    if head != header:
        t.check(name + ": header", False, "got %r, SPEC %r" % (head, header))
        return None
    return [dict(zip(head, line.split(SEP))) for line in lines[1:] if line]


VLOG_HEADER = ["model", "feature", "chrom", "pos", "effect_allele", "other_allele", "status",
               "match", "ambiguous", "multiallelic", "record", "reason"]
TSV_HEADER = ["sampleset", "FID", "IID", "PGS", "SUM", "DENOM", "AVG"]
MATCH_KINDS = {"refalt", "altref", "refalt_flip", "altref_flip", "rsid", "block"}


def read_vlog(t, name, path):
    if not os.path.exists(path):
        t.check(name + ": variant log", False, "%s was not written" % path)
        return None
    with open(path, encoding="utf-8") as f:
        return parse_tsv(t, name + ": variant log", f.read(), VLOG_HEADER)


def check_report(t, name, rep, want):
    """The match object against a dict of expected values (dotted keys)."""
    if not isinstance(rep, dict):
        return t.check(name, False, "no \"match\" object in the answer")
    bad, shown = [], []
    for key, exp in want.items():
        v = rep
        for k in key.split("."):
            v = v.get(k) if isinstance(v, dict) else None
        if key == "match_rate" and isinstance(v, (int, float)):
            ok = round(v, 2) == exp
        else:
            ok = v == exp
        shown.append("%s %s" % (key, v))
        if not ok:
            bad.append("%s %r, expected %r" % (key, v, exp))
    return t.check(name, not bad, "; ".join(bad) if bad else ", ".join(shown))


def check_report_sums(t, name, rep, res):
    """Invariants the SPEC's report implies: every scored row is counted
    once, and unmatched rows once by reason. flipped, swapped and duplicate
    are shown beside this script's reading (vcf-matching.md's coverage
    definitions), not checked: the SPEC does not define them further."""
    mine = "this script: flipped %d, swapped %d, duplicate %d" % (
        sum("flipped" in m["kind"] for m in res if m["status"] == "matched"),
        sum("swapped" in m["kind"] for m in res if m["status"] == "matched"),
        sum(m["dup"] > 0 for m in res if m["status"] == "matched"))
    try:
        ex = sum(rep["excluded"].values())
        why = sum(rep["unmatched_reasons"].values())
        ok = (rep["matched"] + ex + rep["unmatched"] == rep["variants"] and why == rep["unmatched"]
              and abs(rep["match_rate"] - rep["matched"] / rep["variants"]) < 1e-12)
        t.check(name, ok, "variants %d = matched %d + excluded %d + unmatched %d; reasons sum %d; "
                "match_rate %r; flipped %s, swapped %s, duplicate %s (%s)" % (
                    rep["variants"], rep["matched"], ex, rep["unmatched"], why, rep["match_rate"],
                    rep.get("flipped"), rep.get("swapped"), rep.get("duplicate"), mine))
    except (KeyError, TypeError, AttributeError, ZeroDivisionError) as e:
        t.check(name, False, "malformed match report: %r" % e)


# ---------------------------------------------------------------------------
# 1. PGS000586 x 1000 Genomes (README section 1)
# ---------------------------------------------------------------------------
def group_pgs000586(t, cli, peers, tmp, data_only):
    d = os.path.join(peers, "pgs000586_1000g")
    score = os.path.join(d, "PGS000586_hmPOS_GRCh38.txt.gz")
    vcf_path = os.path.join(d, "PGS000586_GRCh38.vcf.gz")
    meta, rows = read_pgs(score)
    vcf = Vcf(vcf_path)
    # README section 1: 1023 variants, 43 on chrX; 3202 samples x 1033 records.
    nx = sum(1 for r in rows if r["chrom"] == "X")
    t.check("pgs000586 data: files read", len(rows) == 1023 and nx == 43 and len(vcf.samples) == 3202
            and len(vcf.recs) == 1033, "%d rows (%d chrX), %d samples x %d records (README section "
            "1: 1023, 43, 3202 x 1033)" % (len(rows), nx, len(vcf.samples), len(vcf.recs)))

    # v3 summary.csv (pgsc_calc v3's own match summary): matched; excluded
    # ambiguous; unmatched with no candidate (is_ambiguous empty: no record
    # or chrX) and unmatched with a candidate of other alleles.
    want = collections.Counter()
    rate = None
    lines = read_text(os.path.join(d, "v3_example_summary.csv"))
    head = lines[0].split(",")
    for line in lines[1:]:
        s = dict(zip(head, line.split(",")))
        key = s["match_summary"]
        if key == "excluded" and s["is_ambiguous"] == "true":
            key = "excluded_ambiguous"
        elif key == "unmatched":
            key = "unmatched_nocand" if s["is_ambiguous"] == "" else "unmatched_cand"
        want[key] += int(s["count"])
        rate = float(s["match_rate"])
    res = pgsc_match(rows, vcf)
    got = tally_match(res)
    mine = {"matched": got["matched"], "excluded_ambiguous": got["ambiguous"],
            "unmatched_nocand": got["no_record"] + got["chrx_skipped"],
            "unmatched_cand": got["alleles_differ"]}
    cg = [(r, m) for r, m in zip(rows, res) if m["reason"] == "ambiguous"
          and not match_record(r, vcf.recs[m["rec"]])]
    t.check("pgs000586 data: the policy reproduces v3 summary.csv",
            mine == dict(want) and round(got["matched"] / len(rows), 2) == rate and len(cg) == 1,
            "matched %d, excluded ambiguous %d (%d of them at a record of other alleles), unmatched "
            "%d (%d no_record + %d chrx_skipped + %d alleles_differ); summary.csv: %s, match_rate %s"
            % (got["matched"], got["ambiguous"], len(cg), got["unmatched"], got["no_record"],
               got["chrx_skipped"], got["alleles_differ"], dict(want), rate))

    # v2_scores.txt.gz: pgsc_calc v2 (plink2) SUM, DENOM, AVG per sample.
    v2 = {}
    lines = read_text(os.path.join(d, "v2_scores.txt.gz"))
    head = lines[0].split(",")
    for line in lines[1:]:
        s = dict(zip(head, line.split(",")))
        v2[s["FID"]] = s
    sc = score_cohort([(rows, res)], vcf)
    py = dict(zip(vcf.samples, sc["sums"][0]))
    dec = max(decimals(s["SUM"]) for s in v2.values())
    worst = max(abs(py[k] - float(s["SUM"])) for k, s in v2.items() if k in py)
    denoms = {s["DENOM"] for s in v2.values()}
    exact = worst < 1e-9
    t.check("pgs000586 data: the policy's sums reproduce v2_scores SUM",
            set(v2) == set(vcf.samples) and denoms == {str(2 * got["matched"])}
            and sc["denom"] == 2 * got["matched"] and exact,
            "%d samples, largest |difference| %.2g; v2 SUM is printed with at most %d decimals, "
            "and the weights have 4, so it is %s; v2 DENOM %s" % (
                len(v2), worst, dec, "exact, not rounded" if exact else "rounded", sorted(denoms)))
    # Exact sums are compared within 1e-9 relative; rounded ones within half
    # the last printed decimal.
    sum_tol = (lambda v: 1e-9 * abs(v) + 1e-12) if exact else (lambda v: 0.5 * 10 ** -dec + 1e-12)
    tol_text = ("by more than 1e-9 relative (v2 SUM, %d decimals, is exact)" % dec if exact else
                "by more than v2's printed precision (%d decimals, rounded)" % dec)

    bundle = write_bundle(os.path.join(tmp, "pgs000586"), "pgs000586", score, "GRCh38")
    cli.validate("pgs000586", bundle)
    if data_only:
        return

    # --- genorisk: tsv sums ---
    out = cli.run("pgs000586: predict --format tsv",
                  ["predict", "--model", bundle, "--vcf", vcf_path, "--format", "tsv"])
    tsv = parse_tsv(t, "pgs000586: tsv", out, TSV_HEADER)
    if tsv is not None:
        by = {r["IID"]: r for r in tsv}
        missing = sorted(set(v2) - set(by))
        t.check("pgs000586: tsv samples", len(tsv) == 3202 and not missing
                and [r["IID"] for r in tsv] == vcf.samples
                and all(r["FID"] == r["IID"] and r["PGS"].lower() == "pgs000586"
                        and r["sampleset"] == "cohort" for r in tsv),
                "%d rows, %d v2 samples missing, in VCF order, FID = IID, PGS pgs000586, "
                "sampleset cohort" % (len(tsv), len(missing)))
        bad = [k for k in v2 if k in by and
               abs(float(by[k]["SUM"]) - float(v2[k]["SUM"])) > sum_tol(float(v2[k]["SUM"]))]
        worst = max((abs(float(by[k]["SUM"]) - float(v2[k]["SUM"])) for k in v2 if k in by),
                    default=float("nan"))
        t.check("pgs000586: SUM = v2_scores SUM", not bad and not missing,
                "%d of %d samples differ %s; largest |difference| %.3g%s" % (
                    len(bad), len(v2), tol_text, worst,
                    "; first: %s %s vs %s" % (bad[0], by[bad[0]]["SUM"], v2[bad[0]]["SUM"])
                    if bad else ""))
        dn = collections.Counter(r["DENOM"] for r in tsv)
        t.check("pgs000586: DENOM 1618 for every sample", set(dn) == {"1618"},
                "DENOM values %s (v2_scores: %s)" % (dict(dn), sorted(denoms)))
        badavg = [r["IID"] for r in tsv if r["IID"] in v2 and abs(
            float(r["AVG"]) - float(v2[r["IID"]]["AVG"])) > 1e-9 * abs(float(v2[r["IID"]]["AVG"]))
            + 1e-15]
        t.check("pgs000586: AVG = v2_scores AVG", not badavg,
                "%d of %d differ by more than 1e-9 relative" % (len(badavg), len(tsv)))
    # the VCF has pgsc_calc's .csi beside it: the read above went through the
    # index (only the score's regions); streaming the whole file must agree
    streamed = cli.run("pgs000586: predict --format tsv --no-index",
                       ["predict", "--model", bundle, "--vcf", vcf_path, "--format", "tsv",
                        "--no-index"])
    if out is not None and streamed is not None:
        t.check("pgs000586: indexed read (.csi) = streamed read", out == streamed,
                "%d bytes, byte for byte" % len(out))

    # --- genorisk: match report and variant log ---
    vlog = os.path.join(tmp, "pgs000586.variants.tsv")
    out = cli.run("pgs000586: predict --format json --variant-log",
                  ["predict", "--model", bundle, "--vcf", vcf_path, "--format", "json",
                   "--explain", "false", "--variant-log", vlog])
    docs = parse_json_models(t, "pgs000586", out)
    rep = docs.get("pgs000586", {}).get("match") if docs else None
    if docs is not None:
        # Expected: v3_example_summary.csv (809 / 136 / 76 + 2, 0.79).
        check_report(t, "pgs000586: match report = v3 summary.csv", rep, {
            "variants": len(rows), "matched": want["matched"],
            "excluded.ambiguous": want["excluded_ambiguous"], "excluded.multiallelic": 0,
            "unmatched": want["unmatched_nocand"] + want["unmatched_cand"],
            "unmatched_reasons.alleles_differ": want["unmatched_cand"],
            "unmatched_reasons.no_position": 0, "match_rate": rate, "passes": True,
            "min_overlap": 0.75, "policy.name": "pgsc", "policy.ambiguous": "drop",
            "policy.multiallelic": "drop", "policy.chrx": "skip", "policy.impute": "cohort"})
        if isinstance(rep, dict):
            why = rep.get("unmatched_reasons") or {}
            nc = (why.get("no_record") or 0) + (why.get("chrx_skipped") or 0)
            t.check("pgs000586: no_record + chrx_skipped = summary.csv's 76",
                    nc == want["unmatched_nocand"], "no_record %s + chrx_skipped %s = %d "
                    "(this script's reading: %d + %d)" % (
                        why.get("no_record"), why.get("chrx_skipped"), nc, got["no_record"],
                        got["chrx_skipped"]))
            check_report_sums(t, "pgs000586: match report adds up", rep, res)
    log = read_vlog(t, "pgs000586", vlog) if out is not None else None
    if log is not None:
        check_vlog_counts(t, "pgs000586", log, rep, len(rows))
        check_vlog_rows(t, "pgs000586", log, rows, res, vcf)


def check_vlog_counts(t, name, log, rep, nrows):
    st = collections.Counter(r["status"] for r in log)
    why = collections.Counter(r["reason"] for r in log if r["status"] == "unmatched")
    exw = collections.Counter(r["reason"] for r in log if r["status"] == "excluded")
    ok = len(log) == nrows
    detail = "%d rows (%d variants); status %s" % (len(log), nrows, dict(st))
    if isinstance(rep, dict):
        try:
            ok = ok and st["matched"] == rep["matched"] and st["unmatched"] == rep["unmatched"] \
                and st["excluded"] == sum(rep["excluded"].values()) \
                and all(exw[k] == v for k, v in rep["excluded"].items()) \
                and all(why[k] == v for k, v in rep["unmatched_reasons"].items())
        except (KeyError, TypeError, AttributeError):
            ok = False
        detail += "; report matched %s, excluded %s, unmatched %s" % (
            rep.get("matched"), rep.get("excluded"), rep.get("unmatched_reasons"))
    else:
        ok = False
        detail += "; no match report to compare with"
    t.check("%s: variant log agrees with the report" % name, ok, detail)


def vlog_key(r):
    return (norm_chrom(r["chrom"]), int(r["pos"]), r["effect_allele"], r["other_allele"])


def rec_key(text):
    """A variant log's CHROM:POS:REF:ALT, chromosome normalised."""
    if not text:
        return ""
    c, rest = text.split(":", 1)
    return norm_chrom(c) + ":" + rest


def check_vlog_rows(t, name, log, rows, res, vcf, model=None):
    """Row by row: status, reason, flags and record as this script reads the
    policy. Rows are keyed by locus and alleles, each key once per model."""
    mine = collections.defaultdict(list)
    for r, m in zip(rows, res):
        mine[(r["chrom"], r["pos"], r["ea"], r["oa"])].append((r, m))
    bad = []
    for lr in log:
        if model and lr["model"] != model:
            continue
        k = vlog_key(lr)
        if not mine.get(k):
            bad.append("%s:%s %s>%s not in the scoring file" % (k[0], k[1], k[3], k[2]))
            continue
        r, m = mine[k].pop(0)
        # The record: the one matched; for a row not matched, any record at
        # its position (the SPEC's "candidate record"), '' when none.
        exp_rec = rec_key(vcf.recs[m["rec"]]["key"]) if m["rec"] is not None else ""
        have_rec = rec_key(lr["record"])
        if m["status"] != "matched" and have_rec in (
                rec_key(vcf.recs[i]["key"]) for i in vcf.at.get((r["chrom"], r["pos"]), [])):
            exp_rec = have_rec
        # ambiguous: the scoring row's alleles (A/T, C/G), whatever the
        # status; multiallelic: the record's, checked where it decides
        # (matched, or excluded as multi-allelic).
        multi = "true" if m["rec"] is not None and len(vcf.recs[m["rec"]]["alts"]) > 1 else "false"
        if m["status"] != "matched" and m["reason"] != "multiallelic":
            multi = lr["multiallelic"]
        want = (m["status"], "" if m["status"] == "matched" else m["reason"],
                "true" if is_ambiguous(r["ea"], r["oa"]) else "false", multi, exp_rec)
        have = (lr["status"], lr["reason"], lr["ambiguous"], lr["multiallelic"], have_rec)
        if m["status"] == "matched" and lr["match"] not in MATCH_KINDS:
            have = have + ("match %r" % lr["match"],)
        if have != want:
            bad.append("%s:%s %s>%s: log %s, expected %s" % (k[0], k[1], k[3], k[2], have, want))
    left = sum(len(v) for v in mine.values())
    t.check("%s: variant log row by row" % name, not bad and not left,
            "%d rows; %d differ from this script's reading, %d scoring rows absent from the log%s"
            % (len(log), len(bad), left, "; first: " + bad[0] if bad else ""))


# ---------------------------------------------------------------------------
# 2. CINECA chr22: PGS001229 + duplicatetest vs plink2's .sscore (section 2)
# ---------------------------------------------------------------------------
def group_cineca(t, cli, peers, tmp, data_only):
    d = os.path.join(peers, "cineca_pgs001229_chr22")
    vcf_path = os.path.join(d, "cineca_synthetic_subset.vcf.gz")
    p = lambda f: os.path.join(d, f)
    vcf = Vcf(vcf_path)
    h0, s0, order0 = read_sscore(p("cineca_22_additive_0.sscore.zst"))
    h1, s1, _ = read_sscore(p("cineca_22_additive_1.sscore.zst"))
    t.check("cineca data: files read", len(vcf.samples) == 2504 and len(vcf.recs) == 829
            and len(s0) == 2504 and len(s1) == 2504,
            "VCF %d samples x %d records, _0.sscore %d samples, _1.sscore %d (README section 2: "
            "2504 x 829)" % (len(vcf.samples), len(vcf.recs), len(s0), len(s1)))

    # Self-check: plink2 reproduces _0.sscore from _0.scorefile (the command
    # is README section 2's "Facts checked").
    out = os.path.join(tmp, "plink2_cineca_0")
    r = subprocess.run(["plink2", "--threads", "2", "--memory", "2000", "--vcf", vcf_path,
                        "--double-id", "--set-all-var-ids", "@:#:$r:$a", "--score",
                        p("cineca_22_additive_0.scorefile.gz"), "header-read",
                        "cols=+scoresums,+denom", "--score-col-nums", "3-4", "--out", out],
                       capture_output=True)
    if r.returncode != 0 or not os.path.exists(out + ".sscore"):
        t.check("cineca data: plink2 reproduces _0.sscore", False,
                "plink2 failed (exit %d): %s" % (r.returncode, r.stdout.decode()[-300:]))
    else:
        hp, sp, _ = read_sscore(out + ".sscore")
        # --double-id gives IID HG00096_HG00096; pgsc_calc's IID is HG00096.
        sp = {k.split("_", 1)[1]: v for k, v in sp.items()}
        diff = [k for k in s0 if k not in sp or any(
            float(sp[k][c]) != float(s0[k][c]) for c in h0[2:])]
        t.check("cineca data: plink2 reproduces _0.sscore", hp == h0 and not diff and
                len(sp) == len(s0), "plink2 %s: %d samples, %d differ in any column "
                "(README: max difference 0)" % (
                    r.stdout.decode().split("\n")[0].split(" (")[0] or "plink2", len(sp),
                    len(diff)))

    # Self-check: the policy read here gives pgsc_calc's report (README
    # section 2, from its test_report.html: PGS001229 835 variants, 782
    # matched, 47 excluded ambiguous, 6 unmatched; duplicatetest 8 of 8)
    # and the very variants plink2 scored (.sscore.vars).
    _, rows = read_pgs(p("PGS001229_22.txt"))
    _, drows = read_pgs(p("PGS001229_22_duplicate.txt"))
    res, dres = pgsc_match(rows, vcf), pgsc_match(drows, vcf)
    g, dg = tally_match(res), tally_match(dres)
    vars0 = set(read_text(p("cineca_22_additive_0.sscore.vars")))
    used = {"%s:%d:%s:%s" % (vcf.recs[m["rec"]]["chrom"], vcf.recs[m["rec"]]["pos"],
                             vcf.recs[m["rec"]]["ref"], vcf.recs[m["rec"]]["alts"][0])
            for m in res + dres if m["status"] == "matched"}
    t.check("cineca data: the policy reproduces pgsc_calc's report and _0.sscore.vars",
            (len(rows), g["matched"], g["ambiguous"], g["unmatched"]) == (835, 782, 47, 6)
            and (len(drows), dg["matched"]) == (8, 8) and used == vars0,
            "PGS001229 %d variants, %d matched, %d excluded ambiguous, %d unmatched; duplicatetest "
            "%d of %d; records used %s _0.sscore.vars (%d)" % (
                len(rows), g["matched"], g["ambiguous"], g["unmatched"], dg["matched"],
                len(drows), "=" if used == vars0 else "!=", len(vars0)))
    sc = score_cohort([(rows, res), (drows, dres)], vcf)
    ids = [s.split("_", 1)[1] for s in vcf.samples]
    bad_int = bad_sum = 0
    for i, k in enumerate(ids):
        e = s0.get(k)
        if e is None or (int(e["ALLELE_CT"]), int(e["DENOM"]), float(e["NAMED_ALLELE_DOSAGE_SUM"])) \
                != (sc["allele_ct"][i], sc["denom"], sc["named"][i]):
            bad_int += 1
            continue
        dup = float(e["duplicatetest_SUM"]) + float(s1[k]["duplicatetest_SUM"])
        if abs(sc["sums"][0][i] - float(e["PGS001229_SUM"])) > printed_tol(e["PGS001229_SUM"]) or \
                abs(sc["sums"][1][i] - dup) > printed_tol(e["duplicatetest_SUM"]) + printed_tol(
                    s1[k]["duplicatetest_SUM"]):
            bad_sum += 1
    nimp = sum(1 for k in s0 if s0[k]["ALLELE_CT"] != s0[k]["DENOM"])
    t.check("cineca data: cohort-mean imputation reproduces the .sscore numbers",
            not bad_int and not bad_sum and ids == order0,
            "%d samples (%d with missing calls, imputed): %d differ in ALLELE_CT/DENOM/"
            "NAMED_ALLELE_DOSAGE_SUM, %d in PGS001229 SUM or duplicatetest _0+_1 SUM beyond "
            "plink2's 6 digits" % (len(ids), nimp, bad_int, bad_sum))

    b1 = write_bundle(os.path.join(tmp, "pgs001229"), "pgs001229", p("PGS001229_22.txt"), "GRCh37")
    b2 = write_bundle(os.path.join(tmp, "duplicatetest"), "duplicatetest",
                      p("PGS001229_22_duplicate.txt"), "GRCh37")
    cli.validate("pgs001229", b1)
    cli.validate("duplicatetest", b2)
    if data_only:
        return

    out = cli.run("cineca: predict --format sscore",
                  ["predict", "--model", b1, "--model", b2, "--vcf", vcf_path, "--format", "sscore"])
    if out is not None:
        check_cineca_sscore(t, out, h0, s0, s1, order0)
    out = cli.run("cineca: predict --format json",
                  ["predict", "--model", b1, "--model", b2, "--vcf", vcf_path, "--format", "json",
                   "--explain", "false"])
    docs = parse_json_models(t, "cineca", out)
    if docs is not None:
        t.check("cineca: json holds both models in --model order",
                list(docs) == ["pgs001229", "duplicatetest"], "models %s" % list(docs))
        rep = docs.get("pgs001229", {}).get("match")
        check_report(t, "cineca: pgs001229 match report = pgsc_calc's", rep, {
            "variants": 835, "matched": 782, "excluded.ambiguous": 47, "unmatched": 6,
            "passes": True, "policy.name": "pgsc"})
        if isinstance(rep, dict):
            check_report_sums(t, "cineca: pgs001229 match report adds up", rep, res)
        check_report(t, "cineca: duplicatetest match report = pgsc_calc's",
                     docs.get("duplicatetest", {}).get("match"),
                     {"variants": 8, "matched": 8, "unmatched": 0, "excluded.ambiguous": 0,
                      "excluded.multiallelic": 0, "passes": True})


def check_cineca_sscore(t, out, h0, s0, s1, order0):
    lines = out.splitlines()
    head = lines[0].split(SEP) if lines else []
    # SPEC: the header of plink2's one-file-for-all-scores .sscore, score
    # names being the manifests' (lower case), so compared ignoring case.
    t.check("cineca: sscore header = plink2's", [c.lower() for c in head] == [c.lower() for c in h0],
            "%s vs plink2 %s" % (head, h0))
    if [c.lower() for c in head] != [c.lower() for c in h0]:
        return
    rows = [dict(zip(h0, line.split(SEP))) for line in lines[1:] if line]
    # The VCF's HG00096_HG00096 is plink2's IID HG00096 (pgsc_calc splits
    # FID_IID at '_'); FID = IID = the VCF sample id in genorisk's.
    got = {r["IID"].split("_", 1)[-1]: r for r in rows}
    order = [r["IID"].split("_", 1)[-1] for r in rows]
    t.check("cineca: sscore samples", len(rows) == 2504 and order == order0
            and all(r["#FID"] == r["IID"] for r in rows),
            "%d rows, %s plink2's order, FID = IID" % (len(rows), "in" if order == order0 else "NOT in"))
    exact = [k for k in s0 if k not in got or any(
        float(got[k][c]) != float(s0[k][c]) for c in ("ALLELE_CT", "DENOM", "NAMED_ALLELE_DOSAGE_SUM"))]
    t.check("cineca: ALLELE_CT, DENOM, NAMED_ALLELE_DOSAGE_SUM = _0.sscore exactly", not exact,
            "%d of %d samples differ%s" % (len(exact), len(s0), "; first %s: %s vs %s" % (
                exact[0], {c: got.get(exact[0], {}).get(c) for c in h0[2:5]},
                {c: s0[exact[0]][c] for c in h0[2:5]}) if exact else ""))
    bad, worst = [], 0.0
    for k, e in s0.items():
        if k not in got:
            continue
        for c in ("PGS001229_SUM", "PGS001229_AVG"):
            dv = abs(float(got[k][c]) - float(e[c]))
            worst = max(worst, dv / max(abs(float(e[c])), 1e-300))
            if dv > printed_tol(e[c]):
                bad.append("%s %s %s vs %s" % (k, c, got[k][c], e[c]))
    t.check("cineca: PGS001229 SUM and AVG = _0.sscore within plink2's 6 digits", not bad,
            "%d values off; largest relative difference %.2g%s" % (
                len(bad), worst, "; first: " + bad[0] if bad else ""))
    bad = []
    for k, e in s0.items():
        if k not in got:
            continue
        a, b = e["duplicatetest_SUM"], s1[k]["duplicatetest_SUM"]
        total, tol = float(a) + float(b), printed_tol(a) + printed_tol(b)
        g_sum, g_avg, den = (float(got[k]["duplicatetest_SUM"]), float(got[k]["duplicatetest_AVG"]),
                             float(got[k]["DENOM"]))
        if abs(g_sum - total) > tol or abs(g_avg - total / den) > tol / den + 1e-15 or \
                abs(g_avg - g_sum / den) > 1e-12 * abs(g_sum / den) + 1e-18:
            bad.append("%s SUM %s AVG %s vs _0+_1 %.6g / %g" % (k, g_sum, g_avg, total, den))
    t.check("cineca: duplicatetest SUM = _0 + _1 SUM, AVG = that / DENOM", not bad,
            "%d of %d samples off (tolerance: both files' printed precision)%s" % (
                len(bad), len(s0), "; first: " + bad[0] if bad else ""))


# ---------------------------------------------------------------------------
# 3. pgscatalog-match fixtures (README section 4)
# ---------------------------------------------------------------------------
GTS = ["0/0", "0/1", "1/1"]


def pvar_to_vcf(pvar, path):
    """A minimal VCF of a .pvar's records: two samples, fixed genotypes that
    differ between them at every record; multi-allelic records get calls of
    ALT 2 so that every allele index is exercised."""
    recs = [l.split(SEP) for l in read_text(pvar) if l and not l.startswith("#")]
    contigs = []
    for f in recs:
        if f[0] not in contigs:
            contigs.append(f[0])
    with open(path, "w") as out:
        out.write("##fileformat=VCFv4.2\n")
        for c in contigs:
            out.write("##contig=<ID=%s>\n" % c)
        out.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n")
        for i, f in enumerate(recs):
            gts = ("1/2", "0/2") if "," in f[4] else (GTS[i % 3], GTS[(i + 2) % 3])
            out.write(SEP.join(f[:5] + [".", ".", ".", "GT"] + list(gts)) + "\n")
    return path


def split_scorefile(src, outdir, build="GRCh38"):
    """pgscatalog-match's combined scoring file, one PGS Catalog format file
    per accession (effect_type becomes is_dominant/is_recessive). Returns
    {accession: path}, in file order."""
    lines = read_text(src)
    head = lines[0].split(SEP)
    by = collections.OrderedDict()
    for line in lines[1:]:
        r = dict(zip(head, line.split(SEP)))
        by.setdefault(r["accession"], []).append(r)
    paths = collections.OrderedDict()
    for acc, rs in by.items():
        path = os.path.join(outdir, "%s.txt" % acc)
        with open(path, "w") as f:
            f.write("#format_version=2.0\n#pgs_id=%s\n#genome_build=%s\n" % (acc, build))
            f.write(SEP.join(["chr_name", "chr_position", "effect_allele", "other_allele",
                              "effect_weight", "is_dominant", "is_recessive"]) + "\n")
            for r in rs:
                f.write(SEP.join([r["chr_name"], r["chr_position"], r["effect_allele"],
                                  r["other_allele"], r["effect_weight"],
                                  str(r["effect_type"] == "dominant"),
                                  str(r["effect_type"] == "recessive")]) + "\n")
        paths[acc] = path
    return paths


def group_match_fixtures(t, cli, peers, tmp, data_only):
    d = os.path.join(peers, "match_fixtures")
    work = os.path.join(tmp, "match_fixtures")
    os.makedirs(work)
    good = Vcf(pvar_to_vcf(os.path.join(d, "good_match.pvar"), os.path.join(work, "good_match.vcf")))
    multi = Vcf(pvar_to_vcf(os.path.join(d, "multiallelic.pvar"),
                            os.path.join(work, "multiallelic.vcf")))
    panel = split_scorefile(os.path.join(d, "duplicated_scorefile.txt"), work)
    gm = split_scorefile(os.path.join(d, "good_match_scorefile.txt"), work)
    rows = {a: read_pgs(p)[1] for a, p in list(panel.items()) + list(gm.items())}
    nmulti = sum(1 for r in multi.recs if len(r["alts"]) > 1)
    types = collections.Counter(r["type"] for rs in rows.values() for r in rs)
    t.check("match_fixtures data: files split", list(panel) == ["test", "test2", "test3"]
            and [len(rows[a]) for a in panel] == [1, 2, 2] and len(good.recs) == 77
            and nmulti == 3 and types["dominant"] == 1 and types["recessive"] == 1,
            "panel %s, good_match %s, %d records (%d multi-allelic in multiallelic.pvar), "
            "effect types %s" % ({a: len(rows[a]) for a in panel}, {a: len(rows[a]) for a in gm},
                                 len(good.recs), nmulti, dict(types)))
    # README section 4: test and test2 carry opposite effect alleles at
    # 11:69331418; 18:24337424:C:G (test3) is ambiguous.
    t1, t2 = rows["test"][0], rows["test2"][0]
    t.check("match_fixtures data: test/test2 opposite at 11:69331418, 18:24337424 C/G in test3",
            (t1["chrom"], t1["pos"], t2["pos"]) == ("11", 69331418, 69331418)
            and (t1["ea"], t1["oa"]) == (t2["oa"], t2["ea"])
            and any(r["pos"] == 24337424 and is_ambiguous(r["ea"], r["oa"]) for r in rows["test3"]),
            "test %s>%s, test2 %s>%s" % (t1["oa"], t1["ea"], t2["oa"], t2["ea"]))

    bundles = {}
    for acc, path in list(panel.items()) + list(gm.items()):
        # min_coverage 0: the per-sample coverage rule is not what these
        # fixtures test (test3 has one of its two variants by design).
        bundles[acc] = write_bundle(os.path.join(work, "bundle_" + acc.lower()), acc.lower(), path,
                                    "GRCh38", min_coverage=0)
        cli.validate("match_fixtures %s" % acc.lower(), bundles[acc])
    if data_only:
        return

    # --- the panel: duplicated_scorefile.txt vs good_match.pvar, --min-overlap 0.5
    margs = sum((["--model", bundles[a]] for a in panel), [])
    vcf_path = os.path.join(work, "good_match.vcf")
    vlog = os.path.join(work, "panel.variants.tsv")
    out = cli.run("match_fixtures panel: predict --format json --variant-log",
                  ["predict"] + margs + ["--vcf", vcf_path, "--format", "json", "--explain", "false",
                                         "--min-overlap", "0.5", "--variant-log", vlog])
    docs = parse_json_models(t, "match_fixtures panel", out)
    log = read_vlog(t, "match_fixtures panel", vlog) if out is not None else None
    res = {a: pgsc_match(rows[a], good) for a in panel}
    if docs is not None:
        for a in panel:
            rep = docs.get(a.lower(), {}).get("match")
            g = tally_match(res[a])
            check_report(t, "match_fixtures panel: %s match report" % a, rep, {
                "variants": len(rows[a]), "matched": g["matched"],
                "excluded.ambiguous": g["ambiguous"], "unmatched": g["unmatched"],
                "min_overlap": 0.5, "passes": True})
    if log is not None:
        amb = [r for r in log if r["ambiguous"] == "true"]
        cg = [r for r in log if (norm_chrom(r["chrom"]), r["pos"]) == ("18", "24337424")]
        t.check("match_fixtures panel: 18:24337424:C:G excluded as ambiguous",
                len(cg) == 1 and cg[0]["status"] == "excluded" and cg[0]["reason"] == "ambiguous",
                "log rows there: %s" % [(r["model"], r["status"], r["reason"]) for r in cg])
        t.check("match_fixtures panel: exactly one row ambiguous=true", len(amb) == 1,
                "%d: %s" % (len(amb), [(r["model"], r["chrom"], r["pos"]) for r in amb]))
        for a in panel:
            check_vlog_rows(t, "match_fixtures panel %s" % a,
                            [r for r in log if r["model"] == a.lower()], rows[a], res[a], good)
    out = cli.run("match_fixtures panel: predict --format tsv",
                  ["predict"] + margs + ["--vcf", vcf_path, "--format", "tsv",
                                         "--min-overlap", "0.5"])
    tsv = parse_tsv(t, "match_fixtures panel: tsv", out, TSV_HEADER)
    if tsv is not None:
        # Expected sums from the genotypes written above: test counts C at
        # 11:69331418 (REF T, ALT C), test2 counts T there, 2 minus that.
        check_fixture_sums(t, "match_fixtures panel", tsv, [(a, rows[a], res[a]) for a in panel],
                           good)

    # --- good_match_scorefile.txt vs multiallelic.pvar, kept and dropped
    margs = sum((["--model", bundles[a]] for a in gm), [])
    vcf_path = os.path.join(work, "multiallelic.vcf")
    keep_res = {a: pgsc_match(rows[a], multi, multiallelic="keep") for a in gm}
    for mode in ("keep", "drop"):
        vlog = os.path.join(work, "multi_%s.variants.tsv" % mode)
        extra = ["--multiallelic", "keep"] if mode == "keep" else []  # drop is the default
        name = "match_fixtures multiallelic %s" % mode
        out = cli.run(name + ": predict --format json --variant-log",
                      ["predict"] + margs + ["--vcf", vcf_path, "--format", "json", "--explain",
                                             "false", "--variant-log", vlog] + extra)
        docs = parse_json_models(t, name, out)
        log = read_vlog(t, name, vlog) if out is not None else None
        res = {a: pgsc_match(rows[a], multi, multiallelic=mode) for a in gm}
        if docs is not None:
            for a in gm:
                rep = docs.get(a.lower(), {}).get("match")
                g = tally_match(res[a])
                check_report(t, "%s: %s match report" % (name, a), rep, {
                    "variants": len(rows[a]), "matched": g["matched"],
                    "excluded.ambiguous": g["ambiguous"],
                    "excluded.multiallelic": g["multiallelic"], "unmatched": g["unmatched"],
                    "policy.multiallelic": mode})
        if log is None:
            continue
        mrows = [r for r in log if r["multiallelic"] == "true"]
        if mode == "keep":
            t.check(name + ": a matched row with multiallelic=true",
                    any(r["status"] == "matched" for r in mrows),
                    "%d multi-allelic rows, %d matched" % (
                        len(mrows), sum(r["status"] == "matched" for r in mrows)))
            # additive, dominant and recessive rows: matched in the log
            kinds = {}
            for a in gm:
                by = {(r["chrom"], str(r["pos"]), r["ea"], r["oa"]): r["type"] for r in rows[a]}
                for lr in log:
                    if lr["model"] == a.lower() and lr["status"] == "matched":
                        k = (norm_chrom(lr["chrom"]), lr["pos"], lr["effect_allele"],
                             lr["other_allele"])
                        kinds[by.get(k)] = kinds.get(by.get(k), 0) + 1
            t.check(name + ": additive, dominant and recessive rows matched",
                    all(kinds.get(k) for k in ("additive", "dominant", "recessive")),
                    "matched rows by effect type %s" % kinds)
        else:
            # The rows that matched a multi-allelic record when kept, less
            # the strand-ambiguous ones (11:69331642 G/C: excluded as such).
            at = {(a.lower(), r["chrom"], r["pos"], r["ea"], r["oa"])
                  for a in gm for r, m in zip(rows[a], keep_res[a]) if m["status"] == "matched"
                  and len(multi.recs[m["rec"]]["alts"]) > 1}
            sel = [r for r in log if (r["model"], norm_chrom(r["chrom"]), int(r["pos"]),
                                      r["effect_allele"], r["other_allele"]) in at]
            t.check(name + ": multi-allelic rows excluded with reason multiallelic",
                    len(sel) == len(at) > 0 and all(
                        r["status"] == "excluded" and r["reason"] == "multiallelic" for r in sel),
                    "%d rows matched when kept: %s" % (len(at), [
                        (r["model"], r["chrom"], r["pos"], r["status"], r["reason"]) for r in sel]))
        for a in gm:
            check_vlog_rows(t, "%s %s" % (name, a), [r for r in log if r["model"] == a.lower()],
                            rows[a], res[a], multi)
        if mode == "keep":
            out = cli.run(name + ": predict --format tsv",
                          ["predict"] + margs + ["--vcf", vcf_path, "--format", "tsv"] + extra)
            tsv = parse_tsv(t, name + ": tsv", out, TSV_HEADER)
            if tsv is not None:
                check_fixture_sums(t, name, tsv, [(a, rows[a], res[a]) for a in gm], multi)


def check_fixture_sums(t, name, tsv, models, vcf):
    for acc, rows, res in models:
        exp = score_cohort([(rows, res)], vcf)
        have = {r["IID"]: r for r in tsv if r["PGS"].lower() == acc.lower()}
        bad = []
        for i, s in enumerate(vcf.samples):
            e = exp["sums"][0][i]
            g = float(have[s]["SUM"]) if s in have else float("nan")
            if not abs(g - e) <= 1e-9 * abs(e) + 1e-12 or have[s]["DENOM"] != str(exp["denom"]):
                bad.append("%s SUM %s DENOM %s, expected %.17g, %d" % (
                    s, have.get(s, {}).get("SUM"), have.get(s, {}).get("DENOM"), e, exp["denom"]))
        t.check("%s: %s sums" % (name, acc), not bad, "; ".join(bad) if bad else "%s" % ", ".join(
            "%s %.10g" % (s, exp["sums"][0][i]) for i, s in enumerate(vcf.samples)))


# ---------------------------------------------------------------------------
# 4. pgsc_calc's ancestry adjustment: 1000G reference, HGDP targets (README
#    section 3), through tools/make_reference.py and `genorisk adjust`
# ---------------------------------------------------------------------------
TOOLS = os.path.dirname(os.path.abspath(__file__))
ADJ_HEADER = ["sampleset", "FID", "IID", "PGS", "SUM", "MostSimilarPop",
              "percentile_MostSimilarPop", "Z_MostSimilarPop", "Z_norm1", "Z_norm2"]


def run_tool(t, name, args):
    """A tools/ script under this Python; True when it exited 0."""
    r = subprocess.run([sys.executable, os.path.join(TOOLS, args[0])] + args[1:],
                       capture_output=True, timeout=600)
    if r.returncode != 0:
        err = (r.stderr or r.stdout).decode(errors="replace").strip().splitlines()
        t.check(name, False, "exit %d: %s: %s" % (r.returncode, " ".join(args[:1]),
                                                  err[-1][:300] if err else "(no message)"))
        return False
    return True


def read_table(path):
    """[dict per row] of a tab-separated file (plain or gzip) with a header."""
    lines = [l for l in read_text(path) if l]
    head = lines[0].split(SEP)
    return [dict(zip(head, l.split(SEP))) for l in lines[1:]]


def max_diff(pairs):
    """Largest |a - b| over (a, b) text or float pairs; inf when one is not a
    number or either is NaN."""
    worst = 0.0
    for a, b in pairs:
        try:
            d = abs(float(a) - float(b))
        except (TypeError, ValueError):
            return float("inf")
        worst = max(worst, d if d == d else float("inf"))
    return worst


def group_ancestry(t, cli, peers, tmp, data_only):
    d = os.path.join(peers, "ancestry_hgdp_vs_1000g")
    up = os.path.join(d, "upstream_outputs")
    work = os.path.join(tmp, "ancestry")
    os.makedirs(work)
    ref = os.path.join(work, "reference")
    scores = os.path.join(d, "aggregated_scores.txt")
    pgs_up = [r for r in read_table(os.path.join(up, "hgdp_pgs.txt.gz")) if r["sampleset"] == "hgdp"]
    sim_up = [r for r in read_table(os.path.join(up, "hgdp_popsimilarity.txt.gz"))
              if r["sampleset"] == "hgdp"]
    with gzip.open(os.path.join(up, "hgdp_info.json.gz"), "rt", encoding="utf-8") as f:
        info = json.load(f)
    t.check("ancestry data: upstream outputs read", len(pgs_up) == 929 and len(sim_up) == 929,
            "hgdp rows: hgdp_pgs %d, hgdp_popsimilarity %d (README section 3: 929 targets)" % (
                len(pgs_up), len(sim_up)))
    if not run_tool(t, "ancestry data: tools/make_reference.py --ref-pcs", [
            "make_reference.py", "--ref-pcs", os.path.join(d, "ref.pcs"),
            "--labels", os.path.join(d, "ref.psam"), "--label-column", "SuperPop",
            "--exclude", os.path.join(d, "ref.king.cutoff.id"), "--ref-scores", scores,
            "--name", "1000g", "--out", ref]):
        return
    with open(os.path.join(ref, "reference.json"), encoding="utf-8") as f:
        doc = json.load(f)

    # --- the bundle's fitted numbers against pgsc_calc's hgdp_info.json
    pgs = "PGS001229_hmPOS_GRCh38"
    mine, theirs = doc["scores"][pgs], info["pgs"]["dist_empirical"][pgs]
    pops = sorted(theirs)
    bad = [p for p in pops if p not in mine["distributions"]
           or mine["distributions"][p]["percentiles"] != theirs[p]["percentiles"]
           or mine["distributions"][p]["mean"] != theirs[p]["mean"]
           or mine["distributions"][p]["sd"] != theirs[p]["std"]]
    t.check("ancestry bundle: percentiles, mean, sd per population = hgdp_info.json",
            not bad and doc["populations"] == pops,
            "populations %s; %d of %d differ%s (101 percentiles each, exactly)" % (
                doc["populations"], len(bad), len(pops), ": " + ", ".join(bad) if bad else ""))
    adj = info["pgs"]["adjust_pcs"]
    norm = adj["norm_pcs"]
    pcn = ["PC%d" % (j + 1) for j in range(4)]
    t.check("ancestry bundle: PC normalisation and offset = hgdp_info.json",
            doc["normalization"]["mean"] == [norm[c]["mean"] for c in pcn]
            and doc["normalization"]["sd"] == [norm[c]["pc_std"] for c in pcn]
            and mine["pgs_offset"] == adj["PGS"][pgs]["pgs_offset"],
            "PC1-4 mean and SD, pgs_offset %r, exactly" % mine["pgs_offset"])
    z1, z2 = adj["PGS"][pgs]["Z_norm1"], adj["PGS"][pgs]["Z_norm2"]
    m1 = max_diff([(mine["z_norm1"]["intercept"], z1["_intercept"])] +
                  list(zip(mine["z_norm1"]["coef"], [z1["_coef"][c] for c in pcn])))
    m2 = max_diff([(mine["z_norm2"]["mu_intercept"], z2["mu_intercept"]),
                   (mine["z_norm2"]["var_intercept"], z2["var_intercept"])] +
                  list(zip(mine["z_norm2"]["mu_coef"], [z2["mu_coef"][c] for c in pcn])) +
                  list(zip(mine["z_norm2"]["var_coef"], [z2["var_coef"][c] for c in pcn])))
    t.check("ancestry bundle: Z_norm1 and Z_norm2 coefficients within 1e-9 of hgdp_info.json",
            m1 <= 1e-9 and m2 <= 1e-9, "largest |difference|: Z_norm1 intercept and coef %.2g, "
            "Z_norm2 mu and var intercept and coef %.2g" % (m1, m2))
    if data_only:
        return

    # --- genorisk adjust against hgdp_pgs and hgdp_popsimilarity
    sim_path = os.path.join(work, "similarity.tsv")
    out = cli.run("ancestry: genorisk adjust", [
        "adjust", "--reference", ref, "--pcs", os.path.join(d, "target.pcs"), "--scores", scores,
        "--sampleset", "hgdp", "--similarity", sim_path])
    rows = parse_tsv(t, "ancestry: adjust", out, ADJ_HEADER)
    if rows is not None:
        got = {(r["FID"], r["IID"]): r for r in rows}
        want = {(r["FID"], r["IID"]): r for r in pgs_up}
        miss = sorted(set(want) - set(got))
        t.check("ancestry: adjust rows = hgdp_pgs's 929", len(rows) == 929 and not miss
                and set(got) == set(want) and all(
                    got[k]["sampleset"] == "hgdp" and got[k]["PGS"] == w["PGS"]
                    and float(got[k]["SUM"]) == float(w["SUM"]) for k, w in want.items()
                    if k in got),
                "%d rows, %d of hgdp_pgs missing, sampleset, PGS and SUM as upstream" % (
                    len(rows), len(miss)))
        common = [k for k in want if k in got]
        mx = {c: max_diff((got[k][c], want[k][c]) for k in common)
              for c in ("percentile_MostSimilarPop", "Z_MostSimilarPop", "Z_norm1", "Z_norm2")}
        t.check("ancestry: percentile_MostSimilarPop, Z_MostSimilarPop, Z_norm1 within 1e-9",
                all(mx[c] <= 1e-9 for c in list(mx)[:3]) and common,
                "largest |difference| over %d samples: percentile %.2g, Z %.2g, Z_norm1 %.2g" % (
                    len(common), mx["percentile_MostSimilarPop"], mx["Z_MostSimilarPop"],
                    mx["Z_norm1"]))
        t.check("ancestry: Z_norm2 within 1e-6", mx["Z_norm2"] <= 1e-6 and common,
                "largest |difference| over %d samples: %.2g (the BFGS optimum)" % (
                    len(common), mx["Z_norm2"]))
    sim = read_table(sim_path) if out is not None and os.path.exists(sim_path) else None
    if sim is not None:
        got = {(r["FID"], r["IID"]): r for r in sim}
        want = {(r["FID"], r["IID"]): r for r in sim_up}
        rf = ["RF_P_%s" % p for p in pops]
        pcc = ["PC%d" % (j + 1) for j in range(10)]
        common = [k for k in want if k in got]
        mrf = max_diff((got[k][c], want[k][c]) for k in common for c in rf)
        mpc = max_diff((got[k][c], want[k][c]) for k in common for c in pcc)
        pop = sum(got[k]["MostSimilarPop"] == want[k]["MostSimilarPop"] for k in common)
        low = sum(got[k]["MostSimilarPop_LowConfidence"] == want[k]["MostSimilarPop_LowConfidence"]
                  for k in common)
        adj = {(r["FID"], r["IID"]): r for r in rows or []}
        same = sum(k in adj and adj[k]["MostSimilarPop"] == got[k]["MostSimilarPop"]
                   for k in common)
        t.check("ancestry: RF_P_* within 1e-12, MostSimilarPop and _LowConfidence equal",
                len(sim) == 929 and len(common) == 929 and mrf <= 1e-12 and mpc <= 1e-12
                and pop == low == 929 and same == 929,
                "%d rows; largest |RF_P difference| %.2g, PC1-10 %.2g; MostSimilarPop equal for "
                "%d, LowConfidence for %d of 929; adjust's MostSimilarPop the same for %d" % (
                    len(sim), mrf, mpc, pop, low, same))
    elif out is not None:
        t.check("ancestry: adjust --similarity", False, "%s was not written" % sim_path)

    # --- errors: precise, exit 4, a line number, no sample id
    hg = [l for l in read_text(scores) if l.startswith("hgdp\t")][:3]
    head = read_text(scores)[0]
    bad_pgs = os.path.join(work, "bad_pgs.txt")
    with open(bad_pgs, "w") as f:
        f.write("\n".join([head, hg[0], hg[1].replace(pgs, "PGS999999"), hg[2]]) + "\n")
    r = subprocess.run([cli.path, "adjust", "--reference", ref, "--pcs",
                        os.path.join(d, "target.pcs"), "--scores", bad_pgs, "--sampleset", "hgdp"],
                       capture_output=True, timeout=60)
    err = r.stderr.decode(errors="replace").strip()
    iid = hg[1].split(SEP)[2]
    t.check("ancestry: adjust, a score the reference lacks: exit 4, file and line named",
            r.returncode == 4 and ("%s:3:" % bad_pgs) in err and "PGS999999" in err
            and iid not in err, "exit %d: %s" % (r.returncode, err[:300]))
    ok_scores = os.path.join(work, "three.txt")
    with open(ok_scores, "w") as f:
        f.write("\n".join([head] + hg) + "\n")
    lines = read_text(os.path.join(d, "target.pcs"))
    pcs_missing = os.path.join(work, "missing.pcs")
    with open(pcs_missing, "w") as f:
        f.write("\n".join(l for l in lines if l.split(SEP)[1] != iid) + "\n")
    r = subprocess.run([cli.path, "adjust", "--reference", ref, "--pcs", pcs_missing,
                        "--scores", ok_scores, "--sampleset", "hgdp"],
                       capture_output=True, timeout=60)
    err = r.stderr.decode(errors="replace").strip()
    t.check("ancestry: adjust, a sample without PCs: exit 4, file and line named",
            r.returncode == 4 and ("%s:3:" % ok_scores) in err and iid not in err,
            "exit %d: %s" % (r.returncode, err[:300]))


# ---------------------------------------------------------------------------
# 5. Held-out projection (issue 12 item 4): a reference built from 90% of the
#    real 1000 Genomes genotypes of pgs000586_1000g places the other 10%
# ---------------------------------------------------------------------------
HOLDOUT_NEED = ("AFR", "EAS", "EUR", "SAS")
HOLDOUT_SINGLE = 5  # samples also projected one per run


def group_holdout(t, cli, peers, tmp, data_only):
    d = os.path.join(peers, "pgs000586_1000g")
    a = os.path.join(peers, "ancestry_hgdp_vs_1000g")
    vcf_path = os.path.join(d, "PGS000586_GRCh38.vcf.gz")
    work = os.path.join(tmp, "holdout")
    os.makedirs(work)
    ref, held_path = os.path.join(work, "reference"), os.path.join(work, "held.txt")
    if not run_tool(t, "holdout data: tools/make_reference.py --vcf --holdout 0.1", [
            "make_reference.py", "--vcf", vcf_path, "--labels", os.path.join(a, "ref.psam"),
            "--label-column", "SuperPop", "--exclude", os.path.join(a, "ref.king.cutoff.id"),
            "--holdout", "0.1", "--seed", "1", "--holdout-out", held_path,
            "--genome-build", "GRCh38", "--name", "1000g-holdout", "--out", ref]):
        return
    labels = {}
    for l in read_text(os.path.join(a, "ref.psam"))[1:]:
        f = l.split(SEP)
        labels[f[0]] = f[4]
    held = [l.strip() for l in read_text(held_path) if l.strip()]
    with open(os.path.join(ref, "reference.json"), encoding="utf-8") as f:
        doc = json.load(f)
    t.check("holdout data: reference built, 10% per population held out",
            len(held) == len(set(held)) > 0 and all(s in labels for s in held)
            and doc["n_reference"] + len(held) == 3202,
            "%d held out (%s), %d in the reference, %s" % (
                len(held), ", ".join("%s %d" % kv for kv in sorted(
                    collections.Counter(labels[s] for s in held).items())),
                doc["n_reference"], open(os.path.join(ref, "projection_variants.tsv")).read()
                .count("\n") - 1) + " projection variants")
    model = write_bundle(os.path.join(work, "pgs000586"), "pgs000586",
                         os.path.join(d, "PGS000586_hmPOS_GRCh38.txt.gz"), "GRCh38")
    cli.validate("holdout pgs000586", model)
    if data_only:
        return

    base = ["predict", "--model", model, "--reference", ref, "--vcf", vcf_path,
            "--format", "json", "--explain", "false", "--compact"]
    out = cli.run("holdout: predict --reference, the held-out samples",
                  base + sum((["--sample", s] for s in held), []))
    docs = parse_json_models(t, "holdout", out)
    if docs is None:
        return
    res = {r.get("sample"): r for r in docs.get("pgs000586", {}).get("results", [])}
    pops = [res.get(s, {}).get("population") or {} for s in held]
    placed = sum(1 for p in pops if p.get("placed") is True and p.get("most_similar")
                 and "percentile" not in p and len(p.get("pcs") or []) == 10)
    t.check("holdout: every held-out sample placed, no percentile (no reference score)",
            len(res) == len(held) and placed == len(held),
            "%d results for %d samples; %d placed with 10 PCs and most_similar, without percentile"
            " (%s)" % (len(res), len(held), placed, pops[0].get("unscored") if pops else ""))
    table = collections.OrderedDict((p, [0, 0]) for p in sorted(set(labels[s] for s in held)))
    for s, p in zip(held, pops):
        table[labels[s]][0] += 1
        table[labels[s]][1] += p.get("most_similar") == labels[s]
    low = [p for p in HOLDOUT_NEED if table.get(p, [0, 0])[0] == 0
           or table[p][1] / table[p][0] < 0.95]
    n, c = sum(v[0] for v in table.values()), sum(v[1] for v in table.values())
    t.check("holdout: most_similar right for >= 95%% of %s" % ", ".join(HOLDOUT_NEED), not low,
            "; ".join("%s %d/%d %.3f" % (p, v[1], v[0], v[1] / v[0]) for p, v in table.items()) +
            "; all %d/%d %.3f%s" % (c, n, c / n, " (below: %s)" % ", ".join(low) if low else ""))
    print("  %-6s %5s %8s %7s" % ("population", "n", "correct", "share"))
    for p, v in list(table.items()) + [("total", [n, c])]:
        print("  %-10s %5d %8d %7.3f" % (p, v[0], v[1], v[1] / v[0]))

    # --- one sample per run: the same answer as in the batch
    first = collections.OrderedDict()
    for s in held:
        first.setdefault(labels[s], s)
    single = list(first.values())[:HOLDOUT_SINGLE]
    diff = []
    for s in single:
        o = parse_json_models(t, "holdout " + s, cli.run("holdout: predict --sample " + s,
                                                           base + ["--sample", s]))
        r = (o or {}).get("pgs000586", {}).get("results", [{}])[0]
        strip = lambda x: {k: v for k, v in x.items() if k != "index"}
        if strip(r) != strip(res.get(s, {})):
            diff.append(s)
    t.check("holdout: a sample alone = the same sample in the batch", not diff,
            "%d samples (%s) projected one per run: %s" % (
                len(single), ", ".join("%s %s" % (labels[s], s) for s in single),
                "differ: " + ", ".join(diff) if diff else "every member equal, exactly"))

    # --- tools/holdout_check.py (numpy's OADP and forest) beside the C answers
    sys.path.insert(0, TOOLS)
    import holdout_check  # numpy; imported here so that only this check needs it
    ptable, prows = holdout_check.holdout_table(ref, vcf_path, held, labels)
    mx, agree = 0.0, 0
    for s, _lab, got, pcs in prows:
        mx = max(mx, max_diff(zip(res[s]["population"]["pcs"], pcs)))
        agree += got == res[s]["population"]["most_similar"]
    t.check("holdout: C projection = tools/holdout_check.py's numpy (PCs within 1e-9)",
            mx <= 1e-9 and agree == len(held) and {k: list(v) for k, v in ptable.items()} ==
            {k: v for k, v in table.items()},
            "largest |PC difference| %.2g over %d samples; most_similar equal for %d" % (
                mx, len(held), agree))


# ---------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", default="build/genorisk")
    ap.add_argument("--peers", default="../shared/peers")
    ap.add_argument("--data-only", action="store_true",
                    help="only the self-checks of the peer data and models validate")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    t = Tally()
    need = ["pgs000586_1000g", "cineca_pgs001229_chr22", "match_fixtures",
            "ancestry_hgdp_vs_1000g"]
    missing = [n for n in need if not os.path.isdir(os.path.join(a.peers, n))]
    if missing:
        t.check("peers folder", False, "%s lacks %s: make test-peers needs the peer data "
                "(../shared/peers, or PEERS=DIR)" % (a.peers, ", ".join(missing)))
        sys.exit(t.close() or 1)
    tools = [x for x in ("plink2", "zstd") if not shutil.which(x)]
    if not os.access(a.cli, os.X_OK) or tools:
        t.check("tools", False, "need %s (apt-get install plink2 zstd; make builds the CLI)" %
                ", ".join(([a.cli] if not os.access(a.cli, os.X_OK) else []) + tools))
        sys.exit(t.close() or 1)
    cli = Cli(os.path.abspath(a.cli), t)
    peers = os.path.abspath(a.peers)
    tmp = tempfile.mkdtemp(prefix="test_peers.")
    try:
        for group in (group_pgs000586, group_cineca, group_match_fixtures, group_ancestry,
                      group_holdout):
            try:
                group(t, cli, peers, tmp, a.data_only)
            except Exception as e:  # a harness bug or an unreadable peer file: a failure
                t.check(group.__name__, False, "stopped: %s: %s" % (type(e).__name__, e))
                traceback.print_exc()
    finally:
        if a.keep:
            print("test-peers: temporary files kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(t.close())


if __name__ == "__main__":
    main()
