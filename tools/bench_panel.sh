#!/bin/bash
# bench_panel.sh BUILD_DIR - panels: ten scores from one read (`make bench-panel`).
#
# Inputs (made once, cached under build/bench):
#   wgs     build/bench/index (tools/bench_index.sh's): a 760 MB BGZF VCF, 5,000,000
#           records, 8 samples, tabix-indexed; ten PGS of 1,000 variants each,
#           drawn from its records (each score its own variants), in
#           build/bench/index/panel (bcftools query reads the file once for them)
#   cohort  build/bench/vcf2 (tools/bench_vcf.sh's): 1,000 samples, 100,000
#           records; ten PGS of 10,000 variants each, in build/bench/vcf2/panel,
#           with the same ten scores as one plink2 scoring file of ten columns
# In the same run, RUNS runs of each (default 3), medians and spreads of wall time:
#   genorisk predict --format sscore --threads 2 --model S1 [--model S2 ... S10]
#            (wgs: streamed with --no-index, and indexed; cohort: streamed)
#   the ten scores as ten separate genorisk runs (what a panel replaces)
#   plink2 --score, one column and ten columns (cohort; the peer)
# Target: wgs, streamed, ten scores <= 1.3 x one score. The cohort case is
# reported: there the work is scoring (10 x 10,000 variants x 1,000 samples),
# not reading, and it is set beside plink2's.
# Also checks that each score of the panel equals its own single run.
# Last line: `bench-panel: all targets met` or `bench-panel: TARGET MISSED`.
set -u
BUILD=${1:?usage: tools/bench_panel.sh BUILD_DIR}
cd "$(dirname "$0")/.." || exit 2
CLI=$BUILD/genorisk
B=${BENCH_DIR:-build/bench}
RUNS=${BENCH_RUNS:-3}
PY=/usr/bin/python3
for t in bcftools plink2 "$CLI"; do
    command -v "$t" >/dev/null || { echo "bench_panel: $t not found (apt-get install bcftools plink2; make all)"; exit 2; }
done
[ -f "$B/index/.done" ] || BENCH_RUNS=1 tools/bench_index.sh "$BUILD" >/dev/null || exit 2
[ -f "$B/vcf2/.done" ] || BENCH_RUNS=1 tools/bench_vcf.sh "$BUILD" >/dev/null || exit 2

# scores NAME VCF N_VARIANTS: ten bundles under DIR/panel (cached)
scores() {
    local d=$1/panel vcf=$2 n=$3
    [ -f "$d/.done" ] && [ "$d/.done" -nt tools/bench_panel.sh ] && return 0
    echo "bench_panel: drawing ten $n-variant scores from $vcf"
    rm -rf "$d" && mkdir -p "$d"
    # the records come on descriptor 3: standard input holds the script
    "$PY" - "$d" "$n" 3< <(bcftools query -f '%CHROM\t%POS\t%REF\t%ALT\n' "$vcf") <<'EOF' || exit 2
import json, os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
recs = [l.split("\t") for l in open(3).read().splitlines()]
recs = [r for r in recs if len(r[2]) == 1 and len(r[3]) == 1]  # biallelic SNVs
union = {}
for k in range(10):
    rng = random.Random(7000 + k)
    b = os.path.join(d, "s%d" % k)
    os.makedirs(b)
    with open(os.path.join(b, "s.txt"), "w") as f:
        f.write("#genome_build=GRCh38\nchr_name\tchr_position\teffect_allele\tother_allele\t"
                "effect_weight\n")
        for c, p, ref, alt in sorted(rng.sample(recs, n), key=lambda r: (r[0], int(r[1]))):
            w = round(rng.gauss(0, 0.01), 6)
            f.write("%s\t%s\t%s\t%s\t%s\n" % (c.replace("chr", ""), p, alt, ref, w))
            union.setdefault("%s:%s:%s:%s" % (c.replace("chr", ""), p, ref, alt),
                             [alt, [0.0] * 10])[1][k] += w
    json.dump({"name": "s%d" % k, "version": "1", "task": "regression",
               "format": "pgs-catalog", "artifact": "s.txt", "genome_build": "GRCh38",
               "policy": "plink2", "impute": "none"}, open(os.path.join(b, "manifest.json"), "w"))
with open(os.path.join(d, "plink2_ten.tsv"), "w") as f:
    f.write("ID\tA1\t" + "\t".join("s%d" % k for k in range(10)) + "\n")
    for vid, (a1, ws) in union.items():
        f.write("%s\t%s\t%s\n" % (vid, a1, "\t".join(repr(w) for w in ws)))
EOF
    touch "$d/.done"
}
scores "$B/index" "$B/index/bench_index.vcf.gz" 1000
scores "$B/vcf2" "$B/vcf2/bench2.vcf.gz" 10000

TMP=$(mktemp -d /tmp/bench_panel.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
ERR=0
timed() { # timed LABEL CMD... : RUNS runs, "LABEL wall_us peak_kb" lines
    local label=$1; shift
    local i t0 t1
    for ((i = 1; i <= RUNS; i++)); do
        t0=$(date +%s%N)
        if ! /usr/bin/time -o "$TMP/t" -f '%M' "$@" >/dev/null 2>"$TMP/err"; then
            echo "bench_panel: $label failed: $*"; tail -3 "$TMP/err"; ERR=1; return 1
        fi
        t1=$(date +%s%N)
        echo "$label $(( (t1 - t0) / 1000 )) $(tail -1 "$TMP/t")" >>"$TMP/times"
    done
}
# the ten scores as ten runs: bash -c SEPARATE CLI DIR VCF ARGS...
# shellcheck disable=SC2016
SEPARATE='cli=$0 d=$1 vcf=$2; shift 2
for k in 0 1 2 3 4 5 6 7 8 9; do
    "$cli" predict --model "$d/s$k" --vcf "$vcf" --format sscore --threads 2 "$@" --output /dev/null || exit 1
done'
ten() { local d=$1; for k in 0 1 2 3 4 5 6 7 8 9; do printf -- '--model\n%s\n' "$d/s$k"; done; }

W=$B/index/bench_index.vcf.gz P=$B/index/panel
mapfile -t TENW < <(ten "$P")
cat "$W" >/dev/null
GRW=(predict --vcf "$W" --format sscore --threads 2)
timed wgs.one.streamed "$CLI" "${GRW[@]}" --model "$P/s0" --no-index --output /dev/null
timed wgs.ten.streamed "$CLI" "${GRW[@]}" "${TENW[@]}" --no-index --output /dev/null
timed wgs.one.indexed "$CLI" "${GRW[@]}" --model "$P/s0" --output /dev/null
timed wgs.ten.indexed "$CLI" "${GRW[@]}" "${TENW[@]}" --output /dev/null
RUNS=1 timed wgs.ten.separate bash -c "$SEPARATE" "$CLI" "$P" "$W" --no-index
"$CLI" "${GRW[@]}" "${TENW[@]}" --no-index --output "$TMP/wgs_panel.sscore" || ERR=1
"$CLI" "${GRW[@]}" --model "$P/s3" --no-index --output "$TMP/wgs_s3.sscore" || ERR=1

C=$B/vcf2/bench2.vcf.gz Q=$B/vcf2/panel
mapfile -t TENC < <(ten "$Q")
GRC=(predict --vcf "$C" --format sscore --threads 2)
# shellcheck disable=SC2016
P2=(plink2 --vcf "$C" --set-all-var-ids '@:#:$r:$a' --new-id-max-allele-len 100 --threads 2
    --memory 4000 --score "$Q/plink2_ten.tsv" 1 2 header no-mean-imputation cols=+scoresums)
timed cohort.one "$CLI" "${GRC[@]}" --model "$Q/s0" --output /dev/null
timed cohort.ten "$CLI" "${GRC[@]}" "${TENC[@]}" --output /dev/null
RUNS=1 timed cohort.ten.separate bash -c "$SEPARATE" "$CLI" "$Q" "$C"
timed plink2.one "${P2[@]}" --score-col-nums 3 --out "$TMP/p1"
timed plink2.ten "${P2[@]}" --score-col-nums 3-12 --out "$TMP/p10"
"$CLI" "${GRC[@]}" "${TENC[@]}" --output "$TMP/cohort_panel.sscore" || ERR=1
"$CLI" "${GRC[@]}" --model "$Q/s3" --output "$TMP/cohort_s3.sscore" || ERR=1

"$PY" - "$TMP" "$ERR" <<'EOF'
import os, statistics, sys
tmp, err = sys.argv[1], int(sys.argv[2])
runs, rss = {}, {}
for line in open(os.path.join(tmp, "times")) if os.path.exists(os.path.join(tmp, "times")) else []:
    label, us, kb = line.split()
    runs.setdefault(label, []).append(int(us) / 1e6)
    rss.setdefault(label, []).append(int(kb) / 1024)
med = {k: statistics.median(v) for k, v in runs.items()}
for k, v in runs.items():
    s = sorted(v)
    print("  %-20s median %7.3f s  spread %.3f-%.3f s  peak RSS %5.0f MB" % (
        k, med[k], s[0], s[-1], statistics.median(rss[k])))
ok = not err
def ratio(what, a, b, limit=None):
    global ok
    v = med[a] / med[b] if a in med and b in med and med[b] > 0 else float("nan")
    if limit is None:
        print("%-48s %6.2f" % (what, v))
        return
    hit = v <= limit
    ok &= hit
    print("%-48s %6.2f (target <= %g) %s" % (what, v, limit, "ok" if hit else "MISSED"))
ratio("wgs: ten scores / one, streamed", "wgs.ten.streamed", "wgs.one.streamed", 1.3)
ratio("wgs: ten scores / one, indexed", "wgs.ten.indexed", "wgs.one.indexed")
ratio("wgs: ten separate runs / the panel, streamed", "wgs.ten.separate", "wgs.ten.streamed")
ratio("cohort: ten scores / one", "cohort.ten", "cohort.one")
ratio("cohort: ten separate runs / the panel", "cohort.ten.separate", "cohort.ten")
ratio("cohort: plink2 ten columns / one", "plink2.ten", "plink2.one")
ratio("cohort: genorisk ten / plink2 ten", "cohort.ten", "plink2.ten")

def table(path):
    rows = [l.split("\t") for l in open(path).read().splitlines()]
    return rows[0], {r[0]: r for r in rows[1:]}
same = True
for case in ("wgs", "cohort"):
    (hp, panel), (hs, single) = table(os.path.join(tmp, case + "_panel.sscore")), \
        table(os.path.join(tmp, case + "_s3.sscore"))
    a, b = hp.index("s3_SUM"), hs.index("s3_SUM")
    diff = [s for s in single if panel[s][a] != single[s][b]]
    same &= not diff and len(panel) == len(single)
    print("%s: the panel's s3_SUM = s3 alone for %d/%d samples" % (case, len(single) - len(diff),
                                                                 len(single)))
ok &= same
print("bench-panel: %s" % ("all targets met" if ok else "TARGET MISSED"))
sys.exit(1 if err or not same else 0)
EOF
