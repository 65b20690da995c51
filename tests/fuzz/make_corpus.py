#!/usr/bin/python3
"""make_corpus.py - writes the seed corpora of the libFuzzer harnesses
(tests/fuzz/corpus/<harness>/) from the repository's models and fixtures and
a few small VCFs of Debian's htslib-test and python-pyvcf-examples packages.

The output is committed, so a clone needs neither package; rerun this (from
the repository root, with /usr/bin/python3) only to change the seeds. Bytes
are deterministic: gzip members carry no time stamp, BGZF is written here,
BCF comes from the committed fixtures and htslib-test.

Seeds are small on purpose: libFuzzer mutates them, so variety matters more
than size. Regressions (inputs that once crashed) live in
tests/fuzz/regressions/<harness>/ and are never written by this script."""
import gzip
import json
import os
import shutil
import struct
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
HTSLIB_TEST = "/usr/share/htslib-test/test"
PYVCF_TEST = "/usr/share/doc/python3-vcf/test"


def read(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read()


def read_abs(path):
    with open(path, "rb") as f:
        return f.read()


def gz(data):
    return gzip.compress(data, compresslevel=6, mtime=0)


def bgzf_block(data):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw = c.compress(data) + c.flush()
    bsize = 12 + 6 + len(raw) + 8 - 1
    head = struct.pack("<4BIBBHBBHH", 31, 139, 8, 4, 0, 0, 255, 6, 66, 67, 2, bsize)
    return head + raw + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data))


def bgzf(data, block=65280):
    """BGZF as bgzip writes it (blocks of at most block bytes), plus the EOF block."""
    out = b"".join(bgzf_block(data[i:i + block]) for i in range(0, len(data), block))
    return out + bgzf_block(b"")


class Corpus:
    def __init__(self, name):
        self.dir = os.path.join(OUT, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.n = 0

    def add(self, name, data):
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)
        self.n += 1


def trim_xgb(doc, n_trees):
    d = json.loads(json.dumps(doc))
    m = d["learner"]["gradient_booster"]["model"]
    m["trees"] = m["trees"][:n_trees]
    m["tree_info"] = m["tree_info"][:n_trees]
    m["gbtree_model_param"]["num_trees"] = str(n_trees)
    return d


def dumps(doc):
    return json.dumps(doc, separators=(",", ":")) + "\n"


def xgboost_seeds():
    c = Corpus("load_xgboost")
    frac = json.loads(read("tests/fixtures/xgb_fractional/model.json"))
    c.add("fractional-3-trees.json", dumps(trim_xgb(frac, 3)))
    raw = trim_xgb(json.loads(read("tests/fixtures/xgb_logitraw/model.json")), 2)
    raw["learner"]["feature_names"] = []
    c.add("logitraw-2-trees.json", dumps(raw))
    reg = trim_xgb(frac, 2)
    reg["learner"]["objective"]["name"] = "reg:squarederror"
    reg["learner"]["learner_model_param"]["base_score"] = "1.7E0"
    c.add("squarederror-2-trees.json", dumps(reg))
    v3 = trim_xgb(frac, 1)
    v3["learner"]["learner_model_param"]["base_score"] = "[5E-1]"
    v3["version"] = [3, 0, 0]
    c.add("base-score-list-1-tree.json", dumps(v3))
    leaf = trim_xgb(frac, 1)
    t = leaf["learner"]["gradient_booster"]["model"]["trees"][0]
    for k, v in list(t.items()):
        if isinstance(v, list) and v and k != "categories":
            t[k] = v[:1]
    t["left_children"], t["right_children"] = [-1], [-1]
    t["tree_param"]["num_nodes"] = "1"
    c.add("single-leaf.json", dumps(leaf))
    cat = trim_xgb(frac, 1)
    cat["learner"]["gradient_booster"]["model"]["trees"][0]["split_type"][0] = 1
    c.add("categorical-split.json", dumps(cat))
    return c.n


def trim_trees(doc, n_trees):
    d = json.loads(json.dumps(doc))
    d["trees"] = d["trees"][:n_trees]
    return d


def trees_seeds():
    c = Corpus("load_trees")
    c.add("dt-clf.json", read("tests/fixtures/sk_dt_clf/model.json"))
    c.add("dt-reg.json", read("tests/fixtures/sk_dt_reg/model.json"))
    for name, n in (("gb_clf", 2), ("rf_clf", 2), ("et_reg", 1), ("rf_clf_weighted", 1)):
        c.add(name.replace("_", "-") + ".json",
              dumps(trim_trees(json.loads(read("tests/fixtures/sk_%s/model.json" % name)), n)))
    return c.n


def linear_seeds():
    c = Corpus("load_linear")
    for name in ("logistic", "ols", "ridge", "lasso", "enet"):
        c.add(name + ".json", read("tests/fixtures/lin_%s/model.json" % name))
    c.add("logit-demo-50.json", read("models/cad-logit-demo/model.json"))
    return c.n


def pgs_seeds():
    c = Corpus("load_pgs")
    c.add("synth.txt.gz", read("tests/fixtures/pgs_synth/pgs_synth.txt.gz"))
    c.add("pgs000001-hm.txt.gz", read("tests/fixtures/pgs000001/PGS000001_hmPOS_GRCh38.txt.gz"))
    demo = read("models/cad-pgs-demo/cad_pgs_demo.txt").split(b"\n")
    c.add("demo-40.txt", b"\n".join(demo[:40]) + b"\n")
    synth = gzip.decompress(read("tests/fixtures/pgs_synth/pgs_synth.txt.gz")).split(b"\n")
    c.add("synth-crlf.txt", b"\r\n".join(synth[:20]) + b"\r\n")
    head = (b"#format_version=2.0\n#pgs_id=PGS_FUZZ\n#genome_build=GRCh37\n"
            b"#HmPOS_build=GRCh38\n#variants_number=6\n")
    c.add("dosage-weights.txt", head +
          b"chr_name\tchr_position\teffect_allele\tother_allele\tdosage_0_weight\t"
          b"dosage_1_weight\tdosage_2_weight\thm_chr\thm_pos\n"
          b"1\t100\tA\tG\t0\t0.5\t0.75\t1\t1100\n"
          b"2\t200\tc\tt\t-0.1\t0\t0.1\tchr2\t1200\n"
          b"X\t300\tG\tA/C\t0\t1e-3\t2E-3\tX\t1300\n")
    c.add("rsid-only.txt", b"#format_version=2.0\n#genome_build=NR\n"
          b"rsID\teffect_allele\tother_allele\teffect_weight\tis_dominant\tis_recessive\t"
          b"allelefrequency_effect\thm_rsID\thm_inferOtherAllele\n"
          b"rs1\tA\tG\t0.1\tTrue\tFalse\t0.2\t\t\n"
          b"rs1\tA\tC\t0.2\tFalse\tTrue\t0.3\t\t\n"
          b"rs2\tT\t\t-0.3\tfalse\tfalse\t\trs2b\tC\n"
          b"rs3\tG\tA\t0.05\n")
    return c.n


def features_seeds():
    c = Corpus("features")
    c.add("dt.tsv", read("tests/fixtures/sk_dt_clf/features.tsv"))
    c.add("vcf-rules.tsv", read("tests/fixtures/vcf/model/features.tsv"))
    lin = read("tests/fixtures/lin_logistic/features.tsv").split(b"\n")
    c.add("linear-12-crlf.tsv", b"\r\n".join(lin[:12]) + b"\r\n")
    xgb = read("tests/fixtures/xgb_fractional/features.tsv").split(b"\n")
    c.add("xgb-8.tsv.gz", gz(b"\n".join(xgb[:8]) + b"\n"))
    c.add("reordered.tsv", b"rsid\tmean\talt\tref\tpos\tchrom\tfeature_id\textra\n"
          b"rs1\t0.5\tg\ta\t123\tchr1\tf1\tx\n"
          b"\t\tT\tC\t456\t23\tf2\ty\n"
          b"rs3\tNA\tACGT\tN\t789\tMT\tf3\tz\n"
          b"\n"
          b"rs1\t.\tA\tG\t123\t1\t1:123:G:A\tw\n")
    c.add("no-optional.tsv", b"feature_id\tchrom\tpos\tref\talt\n"
          b"a\tX\t1\tA\tC\nb\tchrY\t2\tG\tT\nc\tchrM\t3\tT\tA\n")
    return c.n


def manifest_seeds():
    c = Corpus("manifest")
    base = {"name": "fuzz-model", "version": "1.0.0", "genome_build": "GRCh38"}
    def m(**kw):
        d = dict(base)
        d.update(kw)
        return json.dumps(d, indent=2) + "\n"
    c.add("linear.json", m(task="classification", format="genorisk-linear",
                           artifact="model.json", features="features.tsv",
                           description="a linear model", min_coverage=0.5))
    c.add("trees.json", m(task="classification", format="genorisk-trees",
                          artifact="trees.json", features="trees.tsv"))
    c.add("xgboost.json", m(task="classification", format="xgboost-json",
                            artifact="xgb.json", features="xgb.tsv", min_coverage=1))
    c.add("pgs.json", m(task="regression", format="pgs-catalog", artifact="scores.txt.gz"))
    c.add("schema.json", m(**{"$schema": "../docs/manifest.schema.json", "task": "regression",
                              "format": "genorisk-linear", "artifact": "model.json",
                              "features": "features.tsv", "genome_build": "GRCh37"}))
    c.add("demo-logit.json", read("models/cad-logit-demo/manifest.json"))
    # fuzz_manifest.c's bundle has models/demo-reference beside it, as
    # demo-reference
    c.add("pgs-reference-risk.json",
          m(name="cad-pgs-demo", task="regression", format="pgs-catalog",
            artifact="scores.txt.gz", synthetic=True, reference="demo-reference",
            risk={"categories": [{"name": "low", "from": 0}, {"name": "average", "from": 20},
                                 {"name": "high", "from": 95}],
                  "prevalence": 0.06, "auc": 0.62, "z": "z_norm2"}))
    c.add("linear-reference-score.json",
          m(task="classification", format="genorisk-linear", artifact="model.json",
            features="features.tsv", reference="demo-reference",
            reference_score="cad-pgs-demo", impute="mean",
            risk={"categories": [{"name": "low", "from": 0}, {"name": "high", "from": 90}],
                  "prevalence": 0.1, "odds_ratio_per_sd": 1.5, "z": "z"}))
    c.add("pgs-missing-reference.json",
          m(task="regression", format="pgs-catalog", artifact="scores.txt.gz",
            synthetic=False, reference="no-such-reference"))
    return c.n


def round_floats(o, digits=4):
    """o with every float rounded to digits significant digits (rounding
    keeps an ascending list ascending)."""
    if isinstance(o, float):
        return float("%.*g" % (digits, o))
    if isinstance(o, list):
        return [round_floats(v, digits) for v in o]
    if isinstance(o, dict):
        return {k: round_floats(v, digits) for k, v in o.items()}
    return o


def small_reference():
    """models/demo-reference's reference.json, small: 5 scores a
    population, 4 significant digits, a short description."""
    d = json.loads(read("models/demo-reference/reference.json"))
    d["description"] = "SYNTHETIC DEMO, trimmed for fuzzing"
    d["source"] = "tests/fuzz/make_corpus.py"
    for sc in d["scores"].values():
        for dist in sc["distributions"].values():
            dist["scores"] = dist["scores"][::26][:5]
            dist["n"] = len(dist["scores"])
    return round_floats(d)


# fuzz_reference.c: reference.json beside models/demo-reference's other files
def reference_seeds():
    c = Corpus("reference")
    c.add("demo.json", read("models/demo-reference/reference.json"))
    small = small_reference()
    c.add("small.json", dumps(small))
    d = json.loads(json.dumps(small))
    d["projection"] = None
    d["synthetic"] = False
    d["genome_build"] = "GRCh37"
    c.add("no-projection.json", dumps(d))
    d = json.loads(json.dumps(small))
    sc = d["scores"]["cad-pgs-demo"]
    d["scores"]["PGS000001"] = json.loads(json.dumps(sc))
    d["scores"]["PGS000001"]["pgs_offset"] = -1.5
    d["scores"]["PGS000001"]["z_norm2"]["var_intercept"] = 3
    d["normalization"] = {"n_pcs": 2, "mean": [0, 0], "sd": [3, 2]}
    for s in d["scores"].values():
        for k in ("coef",):
            s["z_norm1"][k] = s["z_norm1"][k][:2]
        for k in ("mu_coef", "var_coef"):
            s["z_norm2"][k] = s["z_norm2"][k][:2]
    c.add("two-scores-2-norm-pcs.json", dumps(d))
    d = json.loads(json.dumps(small))
    d["scores"] = {}
    d["pcs"] = 12
    c.add("pcs-mismatch.json", dumps(d))
    d = json.loads(json.dumps(small))
    d["format"] = "genorisk-classifier"
    c.add("wrong-format.json", dumps(d))
    return c.n


# fuzz_adjust.c: PCs, a line "%%", scores; against models/demo-reference
def adjust_seeds():
    c = Corpus("adjust")
    pcs = [[-1.85, 0.20, 1.35, -1.37, 0.93, -0.12, 0.56, 0.11, -2.00, 1.28],
           [3.1, -2.2, 0.4, 0.9, -0.3, 0.0, 0.1, -0.2, 0.3, -0.4],
           [0.0] * 10]
    def pc_file(head, with_fid=True):
        rows = [head + "".join("\tPC%d" % (j + 1) for j in range(10))]
        for i, p in enumerate(pcs):
            ids = ("F%d\tS%d" % (i, i)) if with_fid else "S%d" % i
            rows.append(ids + "".join("\t%g" % v for v in p))
        return "\n".join(rows) + "\n"
    def scores(with_fid=True, sets=("test",)):
        rows = ["sampleset\tFID\tIID\tPGS\tSUM\tDENOM" if with_fid
                else "sampleset\tIID\tPGS\tSUM"]
        for st in sets:
            for i in range(len(pcs)):
                x = 0.3 * i - 0.2
                rows.append(("%s\tF%d\tS%d\tcad-pgs-demo\t%g\t600" % (st, i, i, x)) if with_fid
                            else "%s\tS%d\tcad-pgs-demo\t%g" % (st, i, x))
        return "\n".join(rows) + "\n"
    c.add("fraposa.txt", pc_file("FID\tIID") + "%%\n" + scores())
    c.add("plink2.txt", pc_file("#FID\tIID") + "%%\n" + scores(sets=("reference", "test", "other")))
    c.add("iid-only.txt", pc_file("#IID", with_fid=False) + "%%\n" + scores(with_fid=False))
    c.add("gzip-scores.bin", pc_file("FID IID").encode() + b"%%\n" + gz(scores().encode()))
    c.add("errors.txt", "FID IID PC1 PC2 PC3 PC4 PC5\nF0 S0 1 2 3 4 5\nF0 S0 1 2 3 4 5\n%%\n"
                        "sampleset FID IID PGS SUM\ntest F0 S0 PGS9 x\n")
    c.add("no-separator.txt", pc_file("FID\tIID"))
    return c.n


def predict_json_seeds():
    c = Corpus("predict_json")
    for name in ("cad-logit-demo", "cad-pgs-demo", "cad-rf-demo", "cad-xgb-demo"):
        doc = json.loads(read("models/%s/example.json" % name))
        s = doc["samples"][0]
        g = dict(list(s["genotypes"].items())[:24]) if "genotypes" in s else None
        one = {"samples": [{"id": s.get("id"), "genotypes": g}], "explain": True, "top_k": 3}
        c.add(name + ".json", json.dumps(one) + "\n")
    feats = [l.split(b"\t")[0].decode() for l in read("models/cad-logit-demo/features.tsv").split(b"\n")[1:] if l]
    dense = [None if i % 9 == 4 else (i % 5) * 0.5 for i in range(len(feats))]
    c.add("dosages-50.json", json.dumps({"samples": [{"id": "A", "dosages": dense},
                                                     {"dosages": dense[::-1]}],
                                         "top_k": 0}) + "\n")
    c.add("keys.json", json.dumps({"samples": [{"id": None, "genotypes": {
        feats[0]: "0|1", feats[1]: "./.", feats[2]: "1", "chr1:59972294:g:a": "1/1",
        "23:100:A:G": 2, "rs0": 0.5, feats[3]: None}}], "explain": False}) + "\n")
    c.add("errors.json", '{"samples":[{"id":"x","genotypes":{"rs9000012":3}},'
                         '{"genotypes":{},"dosages":[]}],"top_k":-1,"extra":1}\n')
    c.add("many.json", json.dumps({"samples": [{"genotypes": {}} for _ in range(9)]}) + "\n")
    # the fast reader (api/json_sample.c): keys repeated in order across
    # samples, values of every kind, forms it leaves to jansson's
    values = ["0", "1", "2", "null", '"0/1"', '"1|1"', "1e0", "-0", "0.25", "1.5E-1"]
    rows = []
    for i in range(6):
        g = ",".join('"%s":%s' % (f, values[(i + j) % len(values)]) for j, f in enumerate(feats[:8]))
        rows.append('{"id":"S%d","genotypes":{%s}}' % (i, g))
    rows.append('{"genotypes":{"%s":1,"rs\\u0030":2},"\\u0069d":"esc"}' % feats[0])
    c.add("fast.json", '{"samples":[' + ",\n".join(rows) + '],"top_k":2}\n')
    return c.n


# Option bytes of fuzz_vcf.c: bit 0 absent=ref, bits 1-2 genotype, bit 3
# filter=any, bit 4 threads, bit 5 samples S1,S3, bit 6 PGS demo model,
# bit 7 120-byte lines and no allow_low_coverage.
def vcf_seeds():
    c = Corpus("vcf")
    a = read("tests/fixtures/vcf/a.vcf")
    fixtures = [
        ("a.vcf", a, [0x00, 0x09, 0x22, 0x80]),
        ("a.vcf.gz", gz(a), [0x00, 0x12]),
        ("a-bgzf-small-blocks.vcf.gz", bgzf(a, 256), [0x10, 0x01]),
        ("b.vcf.gz", read("tests/fixtures/vcf/b.vcf.gz"), [0x00, 0x16]),
        ("c.bcf", read("tests/fixtures/vcf/c.bcf"), [0x00, 0x38]),
        ("ds.vcf.gz", read("tests/fixtures/vcf/ds.vcf.gz"), [0x00, 0x04, 0x02]),
        ("gvcf.vcf", read("tests/fixtures/vcf/gvcf.vcf"), [0x00, 0x05]),
        ("a-crlf.vcf", a.replace(b"\n", b"\r\n"), [0x08]),
    ]
    for name, data, opts in fixtures:
        for o in opts:
            c.add("%02x-%s" % (o, name), bytes([o]) + data)
    outside = [
        (HTSLIB_TEST, ["formatcols.vcf", "formatmissing.vcf", "noroundtrip.vcf",
                       "vcf_meta_meta.vcf", "test-vcf-hdr-in.vcf", "tabix/vcf_file.vcf",
                       "tabix/vcf_file.bcf", "tabix/large_chr.vcf", "bcf-sr/merge.noidx.a.vcf",
                       "bcf-sr/merge.noidx.c.vcf"]),
        (PYVCF_TEST, ["example-4.0.vcf", "example-4.1.vcf", "example-4.1-ploidy.vcf",
                      "walk_refcall.vcf", "uncalled_genotypes.vcf", "mixed-filtering.vcf",
                      "contig_idonly.vcf", "null_genotype_mono.vcf.gz", "tb.vcf.gz"]),
    ]
    for base, names in outside:
        for i, name in enumerate(names):
            path = os.path.join(base, name)
            if not os.path.exists(path):
                sys.stderr.write("make_corpus.py: %s is missing; seed left out\n" % path)
                continue
            tag = "htslib" if base == HTSLIB_TEST else "pyvcf"
            o = (0x41, 0x49, 0x43, 0x09, 0x51)[i % 5]
            c.add("%02x-%s-%s" % (o, tag, name.replace("/", "-")), bytes([o]) + read_abs(path))
    return c.n


def part(name, data, filename=None, ctype=None, nl=b"\r\n"):
    disp = b'Content-Disposition: form-data; name="%s"' % name.encode()
    if filename:
        disp += b'; filename="%s"' % filename.encode()
    head = disp + nl + (b"Content-Type: " + ctype.encode() + nl if ctype else b"")
    return b"--GRFUZZ" + nl + head + nl + data + nl


def multipart(*parts, nl=b"\r\n", preamble=b"", epilogue=b""):
    return preamble + b"".join(parts) + b"--GRFUZZ--" + nl + epilogue


# Option bytes of fuzz_multipart.c: bits 0-1 Content-Type variant, bits 2-4
# Content-Length or chunk size, bits 5-7 query string.
def multipart_seeds():
    c = Corpus("multipart")
    a = read("tests/fixtures/vcf/a.vcf")
    g = read("tests/fixtures/vcf/gvcf.vcf")
    bodies = [
        ("file.mp", multipart(part("file", a, "a.vcf", "text/vcf")), [0x00, 0x24, 0x89]),
        ("file-gz.mp", multipart(part("file", read("tests/fixtures/vcf/b.vcf.gz"), "b.vcf.gz",
                                      "application/gzip")), [0x01, 0x0c]),
        ("file-bcf.mp", multipart(part("file", read("tests/fixtures/vcf/c.bcf"))), [0x10]),
        ("fields-around.mp", multipart(part("note", b"x"), part("file", g, "g.vcf"),
                                       part("other", b"y" * 40)), [0x02, 0x44]),
        ("lf-only.mp", multipart(part("file", a, nl=b"\n"), nl=b"\n"), [0x00]),
        ("pre-epilogue.mp", multipart(part("file", g), preamble=b"ignored\r\n",
                                      epilogue=b"trailing"), [0x60]),
        ("no-file.mp", multipart(part("upload", a, "a.vcf")), [0x00]),
        ("two-files.mp", multipart(part("file", g), part("file", g)), [0x00]),
        ("empty-file.mp", multipart(part("file", b"", "empty.vcf")), [0x00]),
        ("no-boundary.mp", multipart(part("file", g)), [0x03]),
        ("ds-file.mp", multipart(part("file", read("tests/fixtures/vcf/ds.vcf.gz"))), [0xa0]),
        ("url-encoded-name.mp", multipart(part("fi%6ce", g)), [0x00]),
    ]
    for name, body, opts in bodies:
        for o in opts:
            c.add("%02x-%s" % (o, name), bytes([o]) + body)
    return c.n


def main():
    """Writes every corpus, or those named on the command line."""
    only = set(sys.argv[1:])
    makers = {
        "load_xgboost": xgboost_seeds,
        "load_trees": trees_seeds,
        "load_linear": linear_seeds,
        "load_pgs": pgs_seeds,
        "features": features_seeds,
        "manifest": manifest_seeds,
        "predict_json": predict_json_seeds,
        "vcf": vcf_seeds,
        "multipart": multipart_seeds,
        "reference": reference_seeds,
        "adjust": adjust_seeds,
    }
    for k, make in makers.items():
        if not only or k in only:
            print("%-13s %3d seeds" % (k, make()))


if __name__ == "__main__":
    main()
