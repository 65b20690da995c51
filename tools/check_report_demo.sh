#!/bin/sh
# check_report_demo.sh - the demo's reports as a reader sees them: genorisk
# report for one sample of the demo VCF (cad-pgs-demo, read against the
# synthetic reference population) and for one JSON sample of cad-xgb-demo
# (no population), each rendered by Debian's headless Chromium and checked
# by tools/check_report.py against the numbers of the same sample's JSON
# answer; the SVG waterfalls are parsed as XML.
#
#     tools/check_report_demo.sh BUILD      (REPORT_PNG=path keeps the screenshot)
set -u
build=$1
cli=$build/genorisk
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pgs="--model models/cad-pgs-demo --vcf models/demo.vcf.gz --sample DEMO-001"
# shellcheck disable=SC2086
$cli predict $pgs --compact >"$tmp/pgs.json" &&
  $cli report $pgs --output "$tmp/pgs.html" &&
  $cli report $pgs --format svg --output "$tmp/pgs.svg" || fail=1
/usr/bin/python3 - "$tmp" <<'PY' || fail=1
import json, sys
d = json.load(open(sys.argv[1] + "/pgs.json"))
r = d["results"][0]
p = r["population"]
pct = int(p["percentile"]) if p["percentile"] % 1 == 0 else p["percentile"]
with open(sys.argv[1] + "/pgs.expect", "w") as f:
    for text in ("Polygenic risk report", "DEMO-001", "cad-pgs-demo",
                 "SYNTHETIC DATA - NOT FOR CLINICAL USE", p["most_similar"] + "-like reference",
                 r["risk"]["category"], "%.3g%%" % (100 * r["risk"]["absolute"]["risk"]),
                 d["provenance"]["model"]["sha256"][:16]):
        f.write(text + "\n")
PY
set --
while IFS= read -r line; do set -- "$@" --expect "$line"; done <"$tmp/pgs.expect"
/usr/bin/python3 tools/check_report.py "$tmp/pgs.html" --svg "$tmp/pgs.svg" --banner \
  --png "${REPORT_PNG:-$tmp/pgs.png}" "$@" || fail=1
# a model without a reference: the page says what it lacks
/usr/bin/python3 -c "
import json; r = json.load(open('models/cad-xgb-demo/example.json'))
r['samples'] = r['samples'][:1]; json.dump(r, open('$tmp/one.json', 'w'))" &&
  $cli report --model models/cad-xgb-demo --input "$tmp/one.json" --output "$tmp/xgb.html" &&
  $cli report --model models/cad-xgb-demo --input "$tmp/one.json" --format svg \
    --output "$tmp/xgb.svg" || fail=1
/usr/bin/python3 tools/check_report.py "$tmp/xgb.html" --svg "$tmp/xgb.svg" --banner \
  --expect "cad-xgb-demo" --expect "What contributed to this score" || fail=1
if [ $fail = 0 ]; then echo "report: passed"; else echo "report: FAILED"; fi
exit $fail
