#!/bin/bash
# tsan_test.sh - the ThreadSanitizer run (`make tsan-test`, part of CI).
#
# genoriskd and the CLI are built with -fsanitize=thread into build/tsan;
# every integration suite then runs against that daemon (the worker pool,
# suspend/resume, reloads while serving, drains, 10,000 connections), and
# the CLI scores a generated 1000-sample BGZF VCF with 3 body-reader workers
# (core/vcf_body.c) and must print what the plain build prints with none.
# Each report goes to build/tsan/reports/; any report, failed suite or
# different output fails the run. (Criterion's own arenas cannot start under
# TSan, so the unit suites are not run here; the paths they cover that have
# threads are the ones above.)
set -u
cd "$(dirname "$0")/.." || exit 2
TSAN=build/tsan
REPORTS=$TSAN/reports
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
export TSAN_OPTIONS="log_path=$PWD/$REPORTS/tsan exitcode=66 second_deadlock_stack=1"
fail=0
for t in build/itests/test_http_*; do
    echo "tsan: $(basename "$t") against $TSAN/genoriskd"
    GENORISKD=$TSAN/genoriskd GENORISK_CLI=build/genorisk "$t" --jobs 2 || fail=1
done
tmp=$(mktemp -d /tmp/tsan_test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if /usr/bin/python3 tools/make_vcf_data.py parity --out "$tmp" >/dev/null; then
    for th in 3 2; do
        "$TSAN/genorisk" predict --model "$tmp/pgs_bundle" --vcf "$tmp/parity.vcf.gz" \
            --threads "$th" --compact --output "$tmp/tsan.json" || fail=1
        build/genorisk predict --model "$tmp/pgs_bundle" --vcf "$tmp/parity.vcf.gz" \
            --threads 1 --compact --output "$tmp/plain.json" || fail=1
        if cmp -s "$tmp/tsan.json" "$tmp/plain.json"; then
            echo "tsan: CLI --threads $th on a 1000-sample BGZF VCF: same answer as --threads 1"
        else
            echo "tsan: CLI --threads $th answers differently from --threads 1"; fail=1
        fi
    done
else
    echo "tsan: could not generate the VCF"; fail=1
fi
# a JSON body on threads: the model's arrays read in parallel, the input read
# and walked, and its samples read against the features, while the model
# loads; then the samples scored in chunks (600 samples: three of them)
if /usr/bin/python3 - "$tmp/body.json" <<'PY'; then
import json, random, sys
random.seed(7)
ids = [l.split("\t")[0] for l in open("tests/fixtures/xgb_clf/features.tsv")][1:]
samples = [{"id": "s%d" % i, "genotypes": {f: random.choice([0, 1, 2, None, "0/1"])
                                          for f in ids if random.random() < 0.9}}
           for i in range(600)]
json.dump({"samples": samples, "top_k": 5}, open(sys.argv[1], "w"))
PY
    for th in 3 2; do
        "$TSAN/genorisk" predict --model tests/fixtures/xgb_clf --input "$tmp/body.json" \
            --threads "$th" --compact --output "$tmp/tsan.json" || fail=1
        build/genorisk predict --model tests/fixtures/xgb_clf --input "$tmp/body.json" \
            --threads 1 --compact --output "$tmp/plain.json" || fail=1
        if cmp -s "$tmp/tsan.json" "$tmp/plain.json"; then
            echo "tsan: CLI --threads $th on a 600-sample JSON body: same answer as --threads 1"
        else
            echo "tsan: CLI --threads $th answers the JSON body differently from --threads 1"; fail=1
        fi
    done
else
    echo "tsan: could not generate the JSON body"; fail=1
fi
n=$(find "$REPORTS" -type f | wc -l)
if [ "$n" != 0 ]; then
    echo "tsan: $n ThreadSanitizer report(s):"
    grep -h 'SUMMARY' "$REPORTS"/* | sort | uniq -c
    fail=1
fi
if [ $fail != 0 ]; then echo "tsan-test: FAILED"; exit 1; fi
echo "tsan-test: no ThreadSanitizer reports, every suite passed"
