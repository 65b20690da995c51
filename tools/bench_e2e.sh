#!/bin/bash
# bench_e2e.sh [BUILD_DIR] [BENCH_BUNDLE_DIR] [BODIES_DIR] - the CLI end to
# end on the 1,000-sample predict body against the Python peer, in the same
# run (`make bench`; issue 13):
#
#   genorisk -t1  BUILD/genorisk predict --model BUNDLE --input body_1000.json
#                 --threads 1 --compact --output FILE
#   genorisk -t2  the same with --threads 2
#   peer          /usr/bin/python3 tools/peer_e2e.py --model BUNDLE --input
#                 body_1000.json --output FILE (json.load, matrix, DMatrix,
#                 predict, pred_contribs, top 10, json.dump; nthread 1)
#   peer -n2      the same with --nthread 2 (reported, no target)
#
# interleaved (one of each per round), BENCH_E2E_RUNS rounds (default 5),
# each under /usr/bin/time -f "%e %M" (wall seconds, peak RSS). Prints the
# medians, the spread (min..max), peer/genorisk for one thread each and for
# two, the 2-thread/1-thread speedup and peak memory / body size, then checks
# the targets:
#
#   CLI -t1 >= 10x the peer (nthread 1), medians of the same run
#   peak RSS of the CLI (larger of the -t1 and -t2 medians) <= 3x the body
#   2 threads >= 1.8x one (median -t1 wall / median -t2 wall)
#
# Every answer is checked against the peer's before any figure counts: the
# CLI's output must parse, hold the body's samples in order, and its scores
# and margins equal the peer's to 1e-6 and its top 10 attributions to 1e-5
# (so a fast wrong answer cannot pass). The last line is "bench-e2e: all
# targets met" or "bench-e2e: TARGET MISSED (which)"; the exit status is 0
# either way, 1 when something failed to run or an answer was wrong.
# The bodies come from tools/make_bench_bodies.py (written when missing).
set -u

BENCH_NAME=bench-e2e
# shellcheck source=tools/bench_common.sh
. "$(dirname "$0")/bench_common.sh"
BUILD=$(abspath "${1:-build}")
BUNDLE=$(abspath "${2:-build/bench/xgb500}")
BODIES=$(abspath "${3:-build/bench/bodies}")
cd "$root" || fail "cannot cd to $root"
PY=/usr/bin/python3
TIME=/usr/bin/time
RUNS=${BENCH_E2E_RUNS:-5}
case $RUNS in '' | *[!0-9]* | 0) fail "BENCH_E2E_RUNS must be a whole number >= 1" ;; esac
[ -x "$TIME" ] || fail "$TIME not found (apt-get install time)"
cli=$BUILD/genorisk
[ -x "$cli" ] || fail "$cli not found; build it first (make all)"
if [ ! -f "$BUNDLE/model.json" ]; then
    echo "making the bench bundle $BUNDLE (about a minute)"
    "$PY" tools/make_bench_model.py --out "$BUNDLE" >/dev/null || fail "make_bench_model.py failed"
fi
body=$BODIES/body_1000.json
if [ ! -f "$BODIES/bodies.json" ] || [ ! -f "$body" ]; then
    "$PY" tools/make_bench_bodies.py --bundle "$BUNDLE" --out "$BODIES" --check "$cli" ||
        fail "make_bench_bodies.py failed"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_e2e.XXXXXX") || fail "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

# run LABEL CMD...: runs CMD under /usr/bin/time (its peak RSS), appends
# "LABEL wall_s peak_kb" to $tmp/results; its stdout goes to $tmp/LABEL.out.
# The wall time is bash's microsecond clock around it: time's %e counts in
# hundredths, a twentieth of a 0.2 s run.
run() {
    local label=$1 t0 t1
    shift
    t0=$EPOCHREALTIME
    if ! "$TIME" -f "%M" -o "$tmp/time" "$@" >"$tmp/$label.out" 2>"$tmp/$label.err"; then
        cat "$tmp/$label.err" >&2
        fail "$label failed: $*"
    fi
    t1=$EPOCHREALTIME
    printf '%s %s %s\n' "$label" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')" \
        "$(tail -n 1 "$tmp/time")" >>"$tmp/results"
}

# check_answers BODY PEER_OUT CLI_OUT...: each CLI answer must parse, hold
# the body's samples in order, and agree with the peer's: score to 1e-6,
# margin to 1e-5 (XGBoost sums 500 trees in float32: its margins are off by
# a few 1e-6), the top attributions' values, rank by rank, and the value of
# each feature both top lists hold to 1e-5. Prints one line.
check_answers() {
    "$PY" - "$@" <<'PY'
import json, sys
body, peer_path, clis = sys.argv[1], sys.argv[2], sys.argv[3:]
ids = [s.get("id") for s in json.load(open(body))["samples"]]
peer = json.load(open(peer_path))["results"]
assert [r["sample"] for r in peer] == ids, "peer: samples differ from the body"
worst_s = worst_m = worst_a = 0.0
for path in clis:
    try:
        got = json.load(open(path))["results"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit("%s: not a predict answer (%s)" % (path, e))
    if [r.get("sample") for r in got] != ids:
        sys.exit("%s: %d results, samples not the body's in order" % (path, len(got)))
    for g, p in zip(got, peer):
        if "error" in g:
            sys.exit("%s: sample %s: error %s" % (path, g["sample"], g["error"]))
        worst_s = max(worst_s, abs(g["score"] - p["score"]))
        worst_m = max(worst_m, abs(g["margin"] - p["margin"]))
        ga = g["explanation"]["attributions"]
        pa = p["explanation"]["attributions"]
        if len(ga) != len(pa):
            sys.exit("%s: sample %s: %d attributions, peer %d" % (path, g["sample"], len(ga), len(pa)))
        pv = {a["feature"]: a["value"] for a in pa}
        for a, b in zip(ga, pa):
            worst_a = max(worst_a, abs(a["value"] - b["value"]))
            if a["feature"] in pv:
                worst_a = max(worst_a, abs(a["value"] - pv[a["feature"]]))
if worst_s > 1e-6 or worst_m > 1e-5 or worst_a > 1e-5:
    sys.exit("CLI vs peer: scores differ by up to %.3g (tolerance 1e-6), margins by "
             "%.3g (1e-5), top attributions by %.3g (1e-5)" % (worst_s, worst_m, worst_a))
print("%d answers x %d samples agree with the peer: |score diff| <= %.2g, |margin diff| "
      "<= %.2g, |top-%d attribution diff| <= %.2g" % (
          len(clis), len(ids), worst_s, worst_m,
          len(peer[0]["explanation"]["attributions"]), worst_a))
PY
}

: >"$tmp/results"
bytes=$(stat -c %s "$body")
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores; other load skews every figure)"
echo "body: $body ($bytes bytes); $RUNS rounds, interleaved"
for i in $(seq "$RUNS"); do
    run g1 "$cli" predict --model "$BUNDLE" --input "$body" --threads 1 --compact --output "$tmp/g1.json"
    run g2 "$cli" predict --model "$BUNDLE" --input "$body" --threads 2 --compact --output "$tmp/g2.json"
    # the machine's own ceiling for two threads of this work: two one-thread
    # runs at once (shared cache and memory), timed until both end
    run gg bash -c '"$0" predict --model "$1" --input "$2" --threads 1 --compact --output "$3.a" &
        "$0" predict --model "$1" --input "$2" --threads 1 --compact --output "$3.b"; s=$?
        wait $! && [ $s = 0 ]' "$cli" "$BUNDLE" "$body" "$tmp/gg"
    run p1 "$PY" tools/peer_e2e.py --model "$BUNDLE" --input "$body" --output "$tmp/p1.json" --nthread 1
    cp "$tmp/p1.out" "$tmp/p1.stages.$i"
    run p2 "$PY" tools/peer_e2e.py --model "$BUNDLE" --input "$body" --output "$tmp/p2.json" --nthread 2
    # every round's answers are checked, so a wrong one in any round fails
    check_answers "$body" "$tmp/p1.json" "$tmp/g1.json" "$tmp/g2.json" >"$tmp/check" 2>&1 || { cat "$tmp/check" >&2; fail "round $i: wrong answer"; }
    awk -v i="$i" '{ v[$1] = sprintf("%.3f s %d MB", $2, int($3 / 1024 + 0.5)) }
        END { printf "round %d: genorisk -t1 %s, -t2 %s, two -t1 at once %s; peer %s, peer -n2 %s\n", i, v["g1"], v["g2"], substr(v["gg"], 1, 7), v["p1"], v["p2"] }' \
        <(tail -n 5 "$tmp/results")
done
echo "answers: $(cat "$tmp/check")"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

"$PY" - "$tmp/results" "$bytes" "$tmp" "$RUNS" <<'PY'
import json, statistics, sys
results, body_bytes, tmp, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
wall, peak = {}, {}
for line in open(results):
    label, w, kb = line.split()
    wall.setdefault(label, []).append(float(w))
    peak.setdefault(label, []).append(int(kb) * 1024)
med = {k: statistics.median(v) for k, v in wall.items()}
mpk = {k: statistics.median(v) for k, v in peak.items()}
names = {"g1": "genorisk --threads 1", "g2": "genorisk --threads 2",
         "p1": "peer (nthread 1)", "p2": "peer (nthread 2)"}
print("\n== bench-e2e summary: 1,000 samples, %.1f MB body, medians of %d runs ==" % (body_bytes / 1e6, runs))
for k in ("g1", "g2", "p1", "p2"):
    print("%-22s %7.3f s  (%.3f..%.3f)   peak %6.1f MB (%.1f..%.1f)   %.2f x body"
          % (names[k], med[k], min(wall[k]), max(wall[k]), mpk[k] / 1e6,
             min(peak[k]) / 1e6, max(peak[k]) / 1e6, mpk[k] / body_bytes))
stages = {}
for i in range(1, runs + 1):
    for s, v in json.load(open("%s/p1.stages.%d" % (tmp, i)))["stages_s"].items():
        stages.setdefault(s, []).append(v)
print("peer stages (nthread 1, medians, s): " + ", ".join(
    "%s %.3f" % (s, statistics.median(v)) for s, v in stages.items()))
ratio1 = med["p1"] / med["g1"]
ratio2 = med["p2"] / med["g2"]
speedup = med["g1"] / med["g2"]
mem = max(mpk["g1"], mpk["g2"]) / body_bytes
print("peer/genorisk, 1 thread each: %.2fx (target >= 10x)" % ratio1)
print("peer/genorisk, 2 threads each: %.2fx (no target)" % ratio2)
pairs = sorted(a / b for a, b in zip(wall["g1"], wall["g2"]))
print("genorisk 2 threads / 1 thread: %.2fx (target >= 1.8x); round by round %s"
      % (speedup, ", ".join("%.2f" % x for x in pairs)))
print("two -t1 runs at once: %.3f s (%.3f..%.3f), so this machine runs two threads of this "
      "work at %.2fx one (its ceiling for the 2-thread target)"
      % (med["gg"], min(wall["gg"]), max(wall["gg"]), 2 * med["g1"] / med["gg"]))
print("genorisk peak memory / body size: %.2fx (target <= 3x)" % mem)
missed = []
if not ratio1 >= 10:
    missed.append("CLI %.1fx the peer, not 10x" % ratio1)
if not mem <= 3:
    missed.append("peak memory %.1fx the body, over 3x" % mem)
if not speedup >= 1.8:
    missed.append("2 threads %.2fx one, below 1.8x" % speedup)
print("bench-e2e: all targets met" if not missed
      else "bench-e2e: TARGET MISSED (%s)" % "; ".join(missed))
PY
