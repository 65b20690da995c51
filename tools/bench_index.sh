#!/bin/bash
# bench_index.sh BUILD_DIR - indexed VCF reads benchmark (`make bench-index`).
#
# Input (made once by tools/make_vcf_data.py bench-index, cached in
# build/bench/index; regenerated when the generator is newer than the cache,
# about 90 s): a BGZF VCF of 5,000,000 SNV records (8 samples GT:DS:GQ:DP,
# long gnomAD-like INFO and a CSQ-like annotation, about 760 MB) with its
# tabix index, a 100-variant PGS drawn across it, and the same positions as a
# regions file for bcftools. The .csi run uses a symbolic link to the same
# file, indexed with bcftools index --csi (made once too).
# In the same run, after reading the file once into the page cache, RUNS runs
# (default 5) of each, medians and spreads of the wall time:
#   streamed  genorisk predict --no-index --model PGS --vcf F --compact --explain false
#   indexed   the same without --no-index (the .tbi), and on the .csi link
#   bcftools  bcftools view -R regions.txt F -Ou > /dev/null
# Targets: indexed <= 0.05 x streamed; indexed <= bcftools view -R.
# Also checks that the indexed and streamed answers are the same bytes.
# Last line: `bench-index: all targets met` or `bench-index: TARGET MISSED`.
# Exit 1 when a command fails or the answers differ; a missed target alone
# exits 0, as the other benchmarks do.
set -u
BUILD=${1:?usage: tools/bench_index.sh BUILD_DIR}
cd "$(dirname "$0")/.." || exit 2
CLI=$BUILD/genorisk
D=${BENCH_DIR:-build/bench}/index
RUNS=${BENCH_RUNS:-5}
PY=/usr/bin/python3
for t in bgzip tabix bcftools "$CLI"; do
    command -v "$t" >/dev/null || { echo "bench_index: $t not found (apt-get install tabix bcftools; make all)"; exit 2; }
done

if [ ! -f "$D/.done" ] || [ tools/make_vcf_data.py -nt "$D/.done" ]; then
    echo "bench_index: generating the input in $D (about 90 s, 760 MB)"
    if ! { rm -rf "$D" && mkdir -p "$D" && "$PY" tools/make_vcf_data.py bench-index --out "$D" && touch "$D/.done"; }; then
        echo "bench_index: generating the input failed"; exit 2
    fi
fi
F=$D/bench_index.vcf.gz
C=$D/bench_index_csi.vcf.gz
if [ ! -f "$C.csi" ] || [ "$C.csi" -ot "$F" ]; then
    ln -sf bench_index.vcf.gz "$C" && bcftools index -f --csi "$C" || { echo "bench_index: bcftools index failed"; exit 2; }
fi

TMP=$(mktemp -d /tmp/bench_index.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
ERR=0
cat "$F" >/dev/null # the first run should not pay for the disk

# timed LABEL CMD... : RUNS runs, appends "LABEL wall_us" lines to $TMP/times
timed() {
    local label=$1; shift
    local i t0 t1
    for ((i = 1; i <= RUNS; i++)); do
        t0=$(date +%s%N)
        if ! "$@" >/dev/null 2>"$TMP/err"; then
            echo "bench_index: $label failed: $*"; tail -5 "$TMP/err"; ERR=1; return 1
        fi
        t1=$(date +%s%N)
        echo "$label $(( (t1 - t0) / 1000 ))" >>"$TMP/times"
    done
}

GR=(predict --compact --explain false --policy plink2 --model "$D/pgs_bundle")
records=$(bcftools index -n "$F" 2>/dev/null || echo "?")
echo "bench-index: $RUNS runs each; $(( $(stat -L -c %s "$F") / 1000000 )) MB BGZF VCF, $records records, 100-variant score"
timed indexed "$CLI" "${GR[@]}" --vcf "$F" --output /dev/null
timed indexed.csi "$CLI" "${GR[@]}" --vcf "$C" --output /dev/null
# shellcheck disable=SC2016
timed bcftools.R bash -c 'exec bcftools view -R "$0" "$1" -Ou > /dev/null' "$D/regions.txt" "$F"
timed streamed "$CLI" "${GR[@]}" --vcf "$F" --no-index --output /dev/null

"$CLI" "${GR[@]}" --vcf "$F" --output "$TMP/indexed.json" || ERR=1
"$CLI" "${GR[@]}" --vcf "$C" --output "$TMP/indexed_csi.json" || ERR=1
"$CLI" "${GR[@]}" --vcf "$F" --no-index --output "$TMP/streamed.json" || ERR=1
SAME=1
cmp -s "$TMP/indexed.json" "$TMP/streamed.json" && cmp -s "$TMP/indexed_csi.json" "$TMP/streamed.json" || SAME=0

"$PY" - "$TMP" "$ERR" "$SAME" <<'EOF'
import json, os, statistics, sys
tmp, err, same = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = {}
path = os.path.join(tmp, "times")
for line in open(path) if os.path.exists(path) else []:
    label, us = line.split()
    runs.setdefault(label, []).append(int(us) / 1e6)
med = {k: statistics.median(v) for k, v in runs.items()}
for k in ("streamed", "indexed", "indexed.csi", "bcftools.R"):
    if k in runs:
        v = sorted(runs[k])
        print("  %-12s median %8.4f s   spread %.4f-%.4f s   (runs: %s)" % (
            k, med[k], v[0], v[-1], ", ".join("%.4f" % w for w in runs[k])))
ok = not err
def target(what, a, b, limit):
    global ok
    val = med[a] / med[b] if a in med and b in med and med[b] > 0 else float("nan")
    hit = val <= limit
    ok &= hit
    print("%-40s %7.4f (target <= %g) %s" % (what, val, limit, "ok" if hit else "MISSED"))
target("indexed/streamed wall", "indexed", "streamed", 0.05)
target("indexed/bcftools view -R wall", "indexed", "bcftools.R", 1.0)
if same:
    res = json.load(open(os.path.join(tmp, "indexed.json")))["results"]
    print("answers: indexed (.tbi and .csi) = streamed, byte for byte (%d samples, first score %.10g)"
          % (len(res), res[0]["score"] if res else float("nan")))
else:
    print("answers: indexed and streamed DIFFER")
ok &= bool(same)
print("bench-index: %s" % ("all targets met" if ok else "TARGET MISSED"))
sys.exit(1 if (err or not same) else 0)
EOF
