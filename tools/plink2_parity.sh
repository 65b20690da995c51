#!/bin/bash
# plink2 parity for genorisk's VCF input.
#
#   tools/plink2_parity.sh DIR [CLI]
#
# DIR is made by `tools/make_vcf_data.py parity --out DIR`; CLI defaults to
# build/genorisk. For each target (DIR itself, and DIR/pyvcf - Debian's
# python-pyvcf-examples 1000 Genomes extract - when present) it runs
#
#   (a) plink2 --vcf V --set-all-var-ids '@:#:$r:$a'
#         --score plink2_weights.tsv 1 2 3 header no-mean-imputation cols=+scoresums
#       vs genorisk predict --model pgs_bundle_nofreq --vcf V --policy plink2 --impute none
#   (b) the same with --read-freq plink2.afreq (mean imputation)
#       vs genorisk predict --model pgs_bundle --vcf V --policy plink2 --impute mean
#       (missing calls -> 2*allelefrequency_effect, the frequencies plink2 reads)
#
# plink2 prints SCORE1_SUM with 6 significant digits only, so each mode is
# also run with plink2_indicator.tsv: one score column per variant (weight 1
# on that variant), which gives plink2's own per-sample dosage of every
# variant; Σ weight x dosage in double is the full-precision plink2 sum.
# Variants plink2 did not find in the VCF (absent from it; not in
# .sscore.vars) contribute 0 in both tools under policy=plink2; the
# generator's truth imputes them (2*f*w in (b)), so that offset is added
# to plink2's sum for the truth check only.
#
# Checks, per sample: genorisk margin vs the full-precision plink2 sum (1e-6
# relative, 1e-9 absolute near zero); genorisk vs plink2's printed SCORE1_SUM
# (within its 6-digit rounding); plink2 vs the generator's own truth;
# coverage.expected/observed vs the truth; --threads 2 and plain-text input
# give the same margins. Prints `plink2 parity: N passed, M failed` last and
# exits 1 on any failure.
set -u
DIR=${1:?usage: tools/plink2_parity.sh DIR [CLI]}
CLI=${2:-build/genorisk}
PY=/usr/bin/python3
command -v plink2 >/dev/null || { echo "plink2_parity: plink2 not found (apt-get install plink2)"; exit 2; }
[ -x "$CLI" ] || { echo "plink2_parity: $CLI not found or not executable"; exit 2; }
[ -f "$DIR/parity.vcf.gz" ] || { echo "plink2_parity: $DIR/parity.vcf.gz missing (tools/make_vcf_data.py parity --out $DIR)"; exit 2; }

TMP=$(mktemp -d /tmp/plink2_parity.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
LOWCOV=""
"$CLI" predict --help 2>&1 | grep -q -- --allow-low-coverage && LOWCOV="--allow-low-coverage"

p2() { # p2 OUT ARGS... ; plink2 quietly, its log kept
    local out=$1; shift
    plink2 --threads 2 --memory 2000 "$@" --out "$out" >"$out.stdout" 2>&1
    local rc=$?
    [ $rc -eq 0 ] || { echo "plink2_parity: plink2 failed (rc $rc): plink2 $* --out $out"; tail -5 "$out.log" 2>/dev/null; }
    return $rc
}
gr() { # gr OUT ARGS...
    local out=$1; shift
    "$CLI" predict "$@" --compact --output "$out" 2>"$out.stderr"
    local rc=$?
    [ $rc -eq 0 ] || { echo "plink2_parity: genorisk failed (rc $rc): $CLI predict $*"; head -5 "$out.stderr"; }
    return $rc
}

run_target() { # run_target NAME DATADIR VCF [PLAIN_VCF] [genorisk extra args...]
    local name=$1 d=$2 vcf=$3 plain=$4; shift 4
    local t="$TMP/$name"; mkdir -p "$t"
    local m; m=$(head -1 "$d/plink2_indicator.tsv" | awk -F'\t' '{print NF}')
    # shellcheck disable=SC2016  # plink2's own template, not shell
    local ids=(--vcf "$vcf" --set-all-var-ids '@:#:$r:$a')
    p2 "$t/a"  "${ids[@]}" --score "$d/plink2_weights.tsv" 1 2 3 header no-mean-imputation cols=+scoresums list-variants
    p2 "$t/ai" "${ids[@]}" --score "$d/plink2_indicator.tsv" 1 2 header no-mean-imputation cols=+scoresums --score-col-nums 3-"$m"
    p2 "$t/b"  "${ids[@]}" --read-freq "$d/plink2.afreq" --score "$d/plink2_weights.tsv" 1 2 3 header cols=+scoresums list-variants
    p2 "$t/bi" "${ids[@]}" --read-freq "$d/plink2.afreq" --score "$d/plink2_indicator.tsv" 1 2 header cols=+scoresums --score-col-nums 3-"$m"
    # policy=plink2: plink2's matching; --impute as plink2 was told
    # (no-mean-imputation, or the --read-freq frequencies the bundle holds)
    local pa=(--policy plink2 --impute none) pb=(--policy plink2 --impute mean)
    gr "$t/ga.json"  --model "$d/pgs_bundle_nofreq" --vcf "$vcf" "${pa[@]}" "$@"
    gr "$t/gb.json"  --model "$d/pgs_bundle" --vcf "$vcf" "${pb[@]}" "$@"
    gr "$t/gb2.json" --model "$d/pgs_bundle" --vcf "$vcf" --threads 2 "${pb[@]}" "$@"
    [ -n "$plain" ] && gr "$t/gbp.json" --model "$d/pgs_bundle" --vcf "$plain" "${pb[@]}" "$@"
    grep -h -E '^Warning|^Error' "$t"/a.log "$t"/b.log 2>/dev/null | sort | uniq -c | sed "s/^/  [$name plink2] /"
    "$PY" - "$name" "$d" "$t" <<'EOF'
import json, math, os, sys
name, d, t = sys.argv[1:4]
passed = failed = 0
fails = []

def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        if len(fails) < 12:
            fails.append(what)

def close(g, e):
    return abs(g - e) <= max(1e-6 * max(abs(g), abs(e)), 1e-9)

def close_printed(g, p):  # p printed by plink2 with 6 significant digits
    if p == 0:
        return abs(g) < 5e-7
    half = 0.5 * 10 ** (math.floor(math.log10(abs(p))) - 5)
    return abs(g - p) <= half * 1.001 + 1e-12

def sscore(path):
    if not os.path.exists(path):
        return None
    rows = [l.rstrip("\n").split("\t") for l in open(path)]
    hdr = rows[0]
    return hdr, {r[0]: r for r in rows[1:]}

def genorisk(path):
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    doc = json.load(open(path))
    return {r["sample"]: r for r in doc["results"]}

truth = {}
for l in list(open(os.path.join(d, "parity_truth.tsv")))[1:]:
    s, male, a, b, obs = l.rstrip("\n").split("\t")
    truth[s] = dict(male=male == "1", a=float(a), b=float(b), observed=int(obs))
wrows = [l.rstrip("\n").split("\t") for l in list(open(os.path.join(d, "plink2_weights.tsv")))[1:]]
W = {r[0]: (float(r[2]), float(r[3])) for r in wrows}
ind_ids = [l.split("\t", 1)[0] for l in list(open(os.path.join(d, "plink2_indicator.tsv")))[1:]]
info = json.load(open(os.path.join(d, "parity_info.json")))
n_expected = len(wrows)
samples = list(truth)

print("%s: %d samples, %d PGS variants" % (name, len(samples), n_expected))
for mode in ("a", "b"):
    label = {"a": "no-mean-imputation vs pgs_bundle_nofreq",
             "b": "--read-freq (mean imputation) vs pgs_bundle"}[mode]
    lit, ind = sscore(os.path.join(t, mode + ".sscore")), sscore(os.path.join(t, mode + "i.sscore"))
    vars_path = os.path.join(t, mode + ".sscore.vars")
    g = genorisk(os.path.join(t, "g%s.json" % mode))
    if lit is None or ind is None or g is None:
        check(False, "%s (%s): plink2 or genorisk output missing" % (mode, label))
        print("  (%s) %s: no output" % (mode, label))
        continue
    used = set(l.strip() for l in open(vars_path)) if os.path.exists(vars_path) else set(ind_ids)
    check(used == set(ind_ids), "%s: plink2 used %d variants, indicator file has %d" % (mode, len(used), len(ind_ids)))
    offset = 0.0 if mode == "a" else sum(2 * f * w for vid, (w, f) in W.items() if vid not in used)
    hdr, rows = ind
    col = {h: i for i, h in enumerate(hdr)}
    lcol = lit[0].index("SCORE1_SUM")
    worst = worst_p = 0.0
    n_ok = n_ok_p = n_ok_t = 0
    chrx = [j for j, v in enumerate(ind_ids) if v.startswith("X:")]
    male_x_vals = set()
    for s in samples:
        r = rows.get(s)
        if r is None:
            check(False, "%s: sample %s not in plink2 output" % (mode, s))
            continue
        dos = [float(r[col["SCORE%d_SUM" % (j + 1)]]) for j in range(len(ind_ids))]
        exact = sum(W[v][0] * x for v, x in zip(ind_ids, dos))
        if truth[s]["male"] and mode == "a":
            male_x_vals.update(dos[j] for j in chrx)
        p_lit = float(lit[1][s][lcol]) if s in lit[1] else float("nan")
        tr = truth[s][mode]
        ok_t = close(exact + offset, tr)  # the generator imputes absent variants
        n_ok_t += ok_t
        check(ok_t, "%s %s: plink2 %.17g vs generator truth %.17g" % (mode, s, exact + offset, tr))
        gs = g.get(s)
        if gs is None:
            check(False, "%s: sample %s not in genorisk output" % (mode, s))
            continue
        m = gs["margin"]
        ok = close(m, exact)
        n_ok += ok
        worst = max(worst, abs(m - exact))
        check(ok, "%s %s: genorisk margin %.17g vs plink2 %.17g" % (mode, s, m, exact))
        okp = close_printed(m, p_lit)
        n_ok_p += okp
        check(okp, "%s %s: genorisk %.10g vs plink2 SCORE1_SUM %s (+%.6g)" % (mode, s, m, p_lit, offset))
        cov = gs.get("coverage", {})
        check(cov.get("expected") == n_expected and cov.get("observed") == truth[s]["observed"],
              "%s %s: coverage %s, expected %d observed %d" % (mode, s, json.dumps(cov), n_expected,
                                                               truth[s]["observed"]))
    print("  (%s) %s: genorisk = plink2 (full precision) for %d/%d samples, max abs diff %.2g; "
          "= printed SCORE1_SUM for %d/%d; plink2 = generator truth for %d/%d; absent-variant offset %.6g"
          % (mode, label, n_ok, len(samples), worst, n_ok_p, len(samples), n_ok_t, len(samples), offset))
    if mode == "a" and chrx and info.get("males"):
        print("  plink2 chrX (no sex info, default --xchr-model 2): male haploid calls on %d chrX variants "
              "scored as dosages %s" % (len(chrx), sorted(male_x_vals)))
gb, gb2, gbp = (genorisk(os.path.join(t, f)) for f in ("gb.json", "gb2.json", "gbp.json"))
if gb is not None:
    cov = gb[samples[0]]["coverage"]
    print("  genorisk coverage (first sample): %s" % json.dumps(cov))
    print("  generator: %s" % json.dumps({k: info[k] for k in info if k in (
        "pgs_variants", "absent", "effect_alt", "effect_ref", "flipped", "multiallelic", "chrX_variants")}))
    if gb2 is not None:
        same = all(gb[s]["margin"] == gb2[s]["margin"] for s in samples)
        check(same, "--threads 2 changed margins")
        print("  --threads 2: margins %s" % ("identical" if same else "DIFFER"))
    if os.path.exists(os.path.join(t, "gbp.json.stderr")):
        same = gbp is not None and all(gb[s]["margin"] == gbp[s]["margin"] for s in samples)
        check(same, "plain-text VCF gave other margins than BGZF")
        print("  plain-text VCF vs BGZF: margins %s" % ("identical" if same else "DIFFER"))
for f in fails:
    print("  FAIL " + f)
with open(os.path.join(t, "counts"), "w") as fh:
    fh.write("%d %d\n" % (passed, failed))
EOF
}

run_target synthetic "$DIR" "$DIR/parity.vcf.gz" "$DIR/parity.vcf"
if [ -f "$DIR/pyvcf/plink2_weights.tsv" ]; then
    run_target pyvcf "$DIR/pyvcf" "$DIR/pyvcf/input.vcf.gz" "" $LOWCOV
else
    echo "pyvcf: skipped ($DIR/pyvcf missing: apt-get install python-pyvcf-examples and regenerate)"
fi

P=0; F=0
for c in "$TMP"/*/counts; do
    [ -f "$c" ] || { F=$((F + 1)); continue; }
    read -r p f <"$c"; P=$((P + p)); F=$((F + f))
done
[ -f "$TMP/synthetic/counts" ] || F=$((F + 1))
echo "plink2 parity: $P passed, $F failed"
[ "$F" -eq 0 ]
