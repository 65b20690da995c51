#!/bin/sh
# check_generated.sh - regenerates the test fixtures and demo models into a
# temporary directory and checks they equal the committed ones, so what the
# tests compare against is exactly what the committed scripts produce.
# One row per generator: its command, the directory it writes, and the
# committed directory it must equal.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
n=0
run() { # NAME COMMAND... : runs COMMAND --out $tmp/NAME
  name=$1
  shift
  "$@" --out "$tmp/$name" >>"$tmp/log" 2>&1 || { cat "$tmp/log"; fail=1; }
}
check() { # NAME COMMITTED [diff options]: $tmp/NAME must equal COMMITTED
  name=$1 committed=$2
  shift 2
  n=$((n + 1))
  diff -r "$@" "$tmp/$name" "$committed" >"$tmp/diff" 2>&1 ||
    { echo "$committed differs from what its generator writes ($name):"; head -20 "$tmp/diff"; fail=1; }
}
run fixtures /usr/bin/python3 tools/make_fixtures.py
run models /usr/bin/python3 tools/make_demo_models.py
run vcf /usr/bin/python3 tools/make_vcf_data.py fixtures
run risk /usr/bin/python3 tools/make_risk_fixture.py
run sha256 /usr/bin/python3 tools/make_sha256_fixture.py
run oadp /usr/bin/python3 tools/make_oadp_fixture.py
run adjust /usr/bin/python3 tools/make_adjust_fixture.py
if [ $fail = 0 ]; then
  check fixtures tests/fixtures -x vcf -x risk -x sha256 -x oadp -x adjust
  check models models
  check vcf tests/fixtures/vcf
  check risk tests/fixtures/risk
  check sha256 tests/fixtures/sha256
  check oadp tests/fixtures/oadp
  check adjust tests/fixtures/adjust
fi
if [ $fail = 0 ]; then echo "generated: $n passed, 0 failed"; else echo "generated: FAILED"; fi
exit $fail
