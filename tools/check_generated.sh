#!/bin/sh
# check_generated.sh - regenerates the test fixtures and demo models into a
# temporary directory and checks they equal the committed ones, so what the
# tests compare against is exactly what the committed scripts produce.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
/usr/bin/python3 tools/make_fixtures.py --out "$tmp/fixtures" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail=1; }
/usr/bin/python3 tools/make_demo_models.py --out "$tmp/models" >>"$tmp/log" 2>&1 || { cat "$tmp/log"; fail=1; }
/usr/bin/python3 tools/make_vcf_data.py fixtures --out "$tmp/vcf" >>"$tmp/log" 2>&1 || { cat "$tmp/log"; fail=1; }
/usr/bin/python3 tools/make_oadp_fixture.py --out "$tmp/oadp" >>"$tmp/log" 2>&1 || { cat "$tmp/log"; fail=1; }
if [ $fail = 0 ]; then
  diff -r -x vcf -x oadp "$tmp/fixtures" tests/fixtures >"$tmp/diff" 2>&1 || { echo "tests/fixtures differs from tools/make_fixtures.py output:"; head -20 "$tmp/diff"; fail=1; }
  diff -r "$tmp/models" models >"$tmp/diff" 2>&1 || { echo "models/ differs from tools/make_demo_models.py output:"; head -20 "$tmp/diff"; fail=1; }
  diff -r "$tmp/vcf" tests/fixtures/vcf >"$tmp/diff" 2>&1 || { echo "tests/fixtures/vcf differs from tools/make_vcf_data.py output:"; head -20 "$tmp/diff"; fail=1; }
  diff -r "$tmp/oadp" tests/fixtures/oadp >"$tmp/diff" 2>&1 || { echo "tests/fixtures/oadp differs from tools/make_oadp_fixture.py output:"; head -20 "$tmp/diff"; fail=1; }
fi
if [ $fail = 0 ]; then echo "generated: 4 passed, 0 failed"; else echo "generated: FAILED"; fi
exit $fail
