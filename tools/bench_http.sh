#!/bin/bash
# bench_http.sh [BUILD_DIR] [BENCH_BUNDLE_DIR] - HTTP benchmark of genoriskd
# (`make bench-http`), against a bare libmicrohttpd responder and a FastAPI +
# XGBoost peer, all on 127.0.0.1 ephemeral ports in the same run (issue 13's
# targets; every figure is a median, every ratio against the peer measured
# in the same run):
#
#   predict  POST /v1/models/NAME/predict, one sample of the bundle's first
#            rows.tsv row (explain true, top_k 10); wrk -t2 -c16 -d10s after a
#            2 s warm-up, 3 runs: median req/s, p99, non-2xx, socket errors.
#            Targets: >= 3500 req/s, >= 25x the peer's median, p99 < 20 ms,
#            zero non-2xx and no socket errors.
#   healthz  GET /healthz on genoriskd and on build/bench/mhd_hello
#            (tests/bench/mhd_hello.c), wrk -t2 -c64 -d5s, 5 pairs, the first
#            of each pair alternating (genoriskd first, then mhd_hello first,
#            ...): the ratio genoriskd/mhd_hello of each pair. Target: the
#            median of the 5 ratios >= 0.9.
#   peer     tools/peer_fastapi.py on the same bundle, wrk -t2 -c8 -d10s after
#            a 2 s warm-up, 3 runs: median req/s (the predict ratio's base).
#
# genoriskd runs as: --models TMP (holding only a symlink to the bundle)
# --listen 127.0.0.1:0 --workers 2 --log-level warn, plus BENCH_DAEMON_ARGS
# (e.g. "--batch-max 1" to turn dynamic batching off, "--log-level info"); its
# port is read from the "listening" JSON line on its stderr. The last line of
# output is "bench-http: all targets met" or "bench-http: TARGET MISSED
# (which)"; the exit status is 0 either way, 1 when something failed to run.
# About 2.5 minutes.
# Env: BENCH_MHD_THREADS (mhd_hello thread pool, default: number of cores),
#      BENCH_DAEMON_ARGS (more genoriskd flags), BENCH_PREDICT_CONNECTIONS
#      (wrk -c of the predict runs, default 16).
set -u

BENCH_NAME=bench-http
# shellcheck source=tools/bench_common.sh
. "$(dirname "$0")/bench_common.sh"
BUILD=$(abspath "${1:-build}")
BUNDLE=$(abspath "${2:-build/bench/xgb500}")
cd "$root" || fail "cannot cd to $root"

PY=/usr/bin/python3
for tool in wrk curl cc "$PY"; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (apt-get install wrk curl gcc python3)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_http.XXXXXX") || fail "mktemp failed"
pids=()
# shellcheck disable=SC2317  # (run by the EXIT trap)
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        # bounded wait: up to 10 s, then SIGKILL
        for _ in $(seq 100); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$p" 2>/dev/null; then
            echo "bench-http: pid $p did not exit 10 s after SIGTERM; killing it" >&2
            kill -KILL "$p" 2>/dev/null
        fi
        wait "$p" 2>/dev/null
    done
    pids=()
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# bounded CMD...: runs CMD under timeout(1) in the background and waits for
# it, so that a signal to this script is handled at once (bash runs traps
# only between foreground commands) and cleanup stops CMD too.
bounded() {
    local secs=$1 p rc
    shift
    timeout "$secs" "$@" &
    p=$!
    pids+=("$p")
    wait "$p"
    rc=$?
    forget "$p"
    return $rc
}

forget() { # drops PID $1 from the cleanup list
    local q keep=()
    for q in "${pids[@]}"; do
        [ "$q" = "$1" ] || keep+=("$q")
    done
    pids=("${keep[@]}")
}

# stop_server PID NAME: SIGTERM and wait (bounded) so the next phase has the
# CPU to itself; reports how long the exit took.
stop_server() {
    local p=$1 name=$2 t0 t1 rc
    t0=$(date +%s.%N)
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 100); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$p" 2>/dev/null; then
        echo "note: $name (pid $p) still running 10 s after SIGTERM; sending SIGKILL" >&2
        kill -KILL "$p" 2>/dev/null
    fi
    wait "$p" 2>/dev/null
    rc=$?
    t1=$(date +%s.%N)
    forget "$p"
    awk -v a="$t0" -v b="$t1" -v n="$name" -v rc="$rc" \
        'BEGIN { printf "%s stopped (SIGTERM -> exit %d in %.2f s)\n", n, rc, b - a }'
}

# wait_port FILE PID: waits up to 60 s (while PID lives) for a line "port N"
# in FILE and prints N (nothing on failure).
wait_port() {
    local port=""
    for _ in $(seq 600); do
        port=$(sed -n 's/^port \([0-9][0-9]*\)$/\1/p' "$1" 2>/dev/null | head -n 1)
        [ -n "$port" ] && break
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    printf '%s\n' "$port"
}

# --- 1. build the bare MHD responder -----------------------------------------
mkdir -p build/bench
mhd=build/bench/mhd_hello
if [ ! -x "$mhd" ] || [ tests/bench/mhd_hello.c -nt "$mhd" ]; then
    cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -o "$mhd" tests/bench/mhd_hello.c -lmicrohttpd \
        || fail "cannot build $mhd (apt-get install libmicrohttpd-dev)"
fi

# --- 2. the bundle and the request body --------------------------------------
if [ ! -f "$BUNDLE/model.json" ]; then
    echo "making the bench bundle $BUNDLE (about 30 s)"
    "$PY" tools/make_bench_model.py --out "$BUNDLE" >/dev/null || fail "make_bench_model.py failed"
fi
daemon=$BUILD/genoriskd
[ -x "$daemon" ] || fail "$daemon not found; build it first (make build/genoriskd)"

body=$tmp/predict.json
model=$("$PY" - "$BUNDLE" "$body" <<'PY'
import csv, json, sys
bundle, out = sys.argv[1], sys.argv[2]
with open(bundle + "/manifest.json") as f:
    name = json.load(f)["name"]
with open(bundle + "/features.tsv", newline="") as f:
    ids = [r["feature_id"] for r in csv.DictReader(f, delimiter="\t")]
with open(bundle + "/rows.tsv") as f:
    row = f.readline().rstrip("\n").split("\t")
if len(row) != len(ids):
    sys.exit("rows.tsv row 1 has %d values, features.tsv %d features"
             % (len(row), len(ids)))
def dosage(s):
    v = float(s)
    return int(v) if v.is_integer() else v
req = {"samples": [{"id": "bench-row-0",
                    "genotypes": {k: dosage(v) for k, v in zip(ids, row)}}],
       "explain": True, "top_k": 10}
with open(out, "w") as f:
    json.dump(req, f, separators=(",", ":"))
print(name)
PY
) || fail "cannot write the predict body from $BUNDLE"
mkdir -p "$tmp/models"
ln -s "$BUNDLE" "$tmp/models/$(basename "$BUNDLE")"
lua=tools/wrk_post.lua

# --- wrk runs -----------------------------------------------------------------
# run_wrk LABEL wrk-args... : runs wrk --latency (bounded), appends one line
# "LABEL rps p99_ms non2xx sockerr requests" to $tmp/results.
run_wrk() {
    local label=$1 out
    shift
    out=$tmp/wrk.$label.$RANDOM.txt
    bounded 60 wrk --latency "$@" >"$out" 2>&1 || { cat "$out" >&2; fail "wrk failed ($label)"; }
    awk -v label="$label" '
        function ms(v) {
            if (v ~ /us$/) return v * 0.001
            if (v ~ /ms$/) return v * 1
            if (v ~ /m$/)  return v * 60000
            if (v ~ /s$/)  return v * 1000
            return v
        }
        /^ +99%/                       { p99 = ms($2) }
        /Requests\/sec:/               { rps = $2 }
        /Non-2xx or 3xx responses:/    { non2xx = $NF }
        /Socket errors:/ {
            for (i = 3; i <= NF; i++) { v = $i; gsub(/,/, "", v); if (v ~ /^[0-9]+$/) se += v }
        }
        / requests in /                { n = $1 }
        END {
            if (rps == "") exit 1
            printf "%s %s %.3f %d %d %d\n", label, rps, p99, non2xx, se, n
        }' "$out" >>"$tmp/results" || { cat "$out" >&2; fail "cannot parse wrk output ($label)"; }
    tail -n 1 "$tmp/results" | awk '{ printf "  %-14s %10.1f req/s  p99 %8.2f ms  non-2xx %d  socket errors %d  (%d requests)\n", $1, $2, $3, $4, $5, $6 }'
}
median() { # median of column $2 over lines labelled $1
    awk -v l="$1" -v c="${2:-2}" '$1 == l { print $c }' "$tmp/results" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
              if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
spread() { # "min..max" of column 2 over lines labelled $1, with $2 decimals
    awk -v l="$1" -v d="${2:-0}" '$1 == l { v = $2 + 0; if (n++ == 0 || v < lo) lo = v; if (n == 1 || v > hi) hi = v }
        END { f = "%." d "f"; if (n) printf f ".." f, lo, hi; else printf "-" }' "$tmp/results"
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null; }
total() {
    awk -v l="$1" -v c="$2" '$1 == l { s += $c } END { print s + 0 }' "$tmp/results"
}
: >"$tmp/results"
load_start=$(loadavg)
echo "load average at start: $load_start ($(nproc) cores; other load on the machine skews every figure)"

# --- 3. genoriskd + mhd_hello -------------------------------------------------
extra_args=${BENCH_DAEMON_ARGS:-}
conns=${BENCH_PREDICT_CONNECTIONS:-16}
echo "genoriskd: $daemon --models $tmp/models --listen 127.0.0.1:0 --workers 2 --log-level warn $extra_args"
# shellcheck disable=SC2086  # (extra_args is a list of flags)
"$daemon" --models "$tmp/models" --listen 127.0.0.1:0 --workers 2 --log-level warn $extra_args \
    >"$tmp/genoriskd.out" 2>"$tmp/genoriskd.err" &
gpid=$!
pids+=("$gpid")
# The port comes from the "listening" line. Should the daemon not write it
# (e.g. suppressed below --log-level info), the listening socket of its pid
# (ss -ltnp) is used instead and the summary says so.
listen_note=""
gport=""
for i in $(seq 600); do
    gport=$(grep '"msg":"listening"' "$tmp/genoriskd.err" 2>/dev/null |
        sed -n 's/.*"port":\([0-9][0-9]*\).*/\1/p' | head -n 1)
    [ -n "$gport" ] && break
    kill -0 "$gpid" 2>/dev/null || break
    if [ "$i" -ge 20 ] && command -v ss >/dev/null 2>&1; then
        sport=$(ss -Hltnp 2>/dev/null | grep "pid=$gpid," |
            awk '{ n = split($4, a, ":"); print a[n] }' | head -n 1)
        if [ -n "$sport" ]; then
            gport=$sport
            listen_note="genoriskd wrote no \"listening\" line on stderr with --log-level warn; port $sport taken from ss -ltnp"
            echo "WARNING: $listen_note"
            break
        fi
    fi
    sleep 0.1
done
if [ -z "$gport" ]; then
    cat "$tmp/genoriskd.err" >&2
    fail "genoriskd printed no \"listening\" line with a port on stderr (see above)"
fi
g=http://127.0.0.1:$gport
ready=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$g/readyz")
echo "genoriskd listening on port $gport (GET /readyz -> $ready), model $model"

threads=${BENCH_MHD_THREADS:-$(nproc)}
"$mhd" --port 0 --threads "$threads" >"$tmp/mhd.out" 2>"$tmp/mhd.err" &
mpid=$!
pids+=("$mpid")
mport=$(wait_port "$tmp/mhd.out" "$mpid")
[ -n "$mport" ] || { cat "$tmp/mhd.err" >&2; fail "mhd_hello did not start"; }
m=http://127.0.0.1:$mport
echo "mhd_hello listening on port $mport ($threads threads)"

purl=$g/v1/models/$model/predict
check=$(curl -s -o "$tmp/g_predict.json" -w '%{http_code}' --max-time 10 -X POST \
    -H 'Content-Type: application/json' --data-binary "@$body" "$purl")
echo "one predict request -> HTTP $check ($(wc -c <"$tmp/g_predict.json") bytes)"
[ "$check" = 200 ] || { echo "  body: $(head -c 400 "$tmp/g_predict.json")"; }

echo "predict: wrk -t2 -c$conns -d10s (2 s warm-up), 3 runs"
bounded 30 wrk -t2 -c"$conns" -d2s -s "$lua" "$purl" -- "$body" >/dev/null 2>&1 || fail "wrk warm-up failed"
for _ in 1 2 3; do
    run_wrk predict -t2 -c"$conns" -d10s -s "$lua" "$purl" -- "$body"
done

echo "healthz: wrk -t2 -c64 -d5s, 5 pairs (genoriskd, mhd_hello; the first alternating)"
bounded 30 wrk -t2 -c64 -d1s "$g/healthz" >/dev/null 2>&1 || fail "wrk warm-up failed"
bounded 30 wrk -t2 -c64 -d1s "$m/healthz" >/dev/null 2>&1 || fail "wrk warm-up failed"
for i in 1 2 3 4 5; do
    if [ $((i % 2)) = 1 ]; then
        run_wrk healthz -t2 -c64 -d5s "$g/healthz"
        run_wrk mhd_hello -t2 -c64 -d5s "$m/healthz"
    else
        run_wrk mhd_hello -t2 -c64 -d5s "$m/healthz"
        run_wrk healthz -t2 -c64 -d5s "$g/healthz"
    fi
    # the pair's ratio, as a line of its own ("hratio RATIO")
    pair=$(grep -E '^(healthz|mhd_hello) ' "$tmp/results" | tail -n 2)
    printf '%s\n' "$pair" | awk '$1 == "healthz" { h = $2 } $1 == "mhd_hello" { m = $2 }
         END { printf "hratio %.4f 0 0 0 0\n", (m > 0 ? h / m : 0) }' >>"$tmp/results"
    tail -n 1 "$tmp/results" | awk '{ printf "  pair %d ratio genoriskd/mhd_hello %.3f\n", '"$i"', $2 }'
done

metrics_ok=$(curl -s -o "$tmp/metrics.txt" -w '%{http_code}' --max-time 5 "$g/metrics")
stop_server "$mpid" mhd_hello
stop_server "$gpid" genoriskd
if [ -s "$tmp/genoriskd.err" ]; then
    n=$(grep -c . "$tmp/genoriskd.err")
    echo "genoriskd stderr: $n lines; non-info lines (first 5):"
    grep -v '"msg":"listening"' "$tmp/genoriskd.err" | head -n 5 | sed 's/^/  /'
fi

# --- 6. the FastAPI peer ------------------------------------------------------
echo "peer: $PY tools/peer_fastapi.py --bundle $BUNDLE --port 0"
"$PY" tools/peer_fastapi.py --bundle "$BUNDLE" --port 0 >"$tmp/peer.out" 2>"$tmp/peer.err" &
ppid=$!
pids+=("$ppid")
pport=$(wait_port "$tmp/peer.out" "$ppid")
[ -n "$pport" ] || { cat "$tmp/peer.err" >&2; fail "peer_fastapi.py did not start"; }
pp=http://127.0.0.1:$pport/v1/models/$model/predict
pcheck=$(curl -s -o "$tmp/p_predict.json" -w '%{http_code}' --max-time 10 -X POST \
    -H 'Content-Type: application/json' --data-binary "@$body" "$pp")
[ "$pcheck" = 200 ] || { cat "$tmp/p_predict.json" "$tmp/peer.err" >&2; fail "peer predict -> HTTP $pcheck"; }
echo "peer listening on port $pport; wrk -t2 -c8 -d10s (2 s warm-up), 3 runs"
bounded 30 wrk -t2 -c8 -d2s -s "$lua" "$pp" -- "$body" >/dev/null 2>&1 || fail "wrk warm-up failed"
for _ in 1 2 3; do
    run_wrk peer -t2 -c8 -d10s -s "$lua" "$pp" -- "$body"
done
stop_server "$ppid" peer

# --- 7. summary ---------------------------------------------------------------
agree=$("$PY" - "$tmp/g_predict.json" "$tmp/p_predict.json" <<'PY'
import json, sys
try:
    g = json.load(open(sys.argv[1]))["results"][0]
    p = json.load(open(sys.argv[2]))["results"][0]
except Exception as e:
    print("cannot compare (%s)" % e.__class__.__name__)
    sys.exit(0)
ga = [a["feature"] for a in g.get("explanation", {}).get("attributions", [])]
pa = [a["feature"] for a in p.get("explanation", {}).get("attributions", [])]
print("|score diff| %.2g, |margin diff| %.2g, top-10 features %s"
      % (abs(g["score"] - p["score"]), abs(g["margin"] - p["margin"]),
         "identical" if ga == pa else "DIFFER"))
PY
)
p_rps=$(median predict)
p_p99=$(median predict 3)
p_non2xx=$(total predict 4)
p_se=$(total predict 5)
h_rps=$(median healthz)
h_p99=$(median healthz 3)
h_non2xx=$(total healthz 4)
h_se=$(total healthz 5)
h_ratio=$(median hratio)
m_rps=$(median mhd_hello)
m_p99=$(median mhd_hello 3)
m_se=$(total mhd_hello 5)
f_rps=$(median peer)
f_p99=$(median peer 3)
f_non2xx=$(total peer 4)
f_se=$(total peer 5)

echo
echo "== bench-http summary ($(nproc) cores; bundle $BUNDLE, model $model) =="
echo "load average: $load_start at start, $(loadavg) at end"
[ -n "$extra_args" ] && echo "genoriskd flags added: $extra_args"
awk -v ps_="$(spread predict)" -v hs_="$(spread healthz)" -v ms_="$(spread mhd_hello)" \
    -v fs_="$(spread peer)" -v rs_="$(spread hratio 3)" \
    -v p="$p_rps" -v pp="$p_p99" -v pn="$p_non2xx" -v ps="$p_se" \
    -v h="$h_rps" -v hp="$h_p99" -v hn="$h_non2xx" -v hs="$h_se" -v hr="$h_ratio" \
    -v m="$m_rps" -v mp="$m_p99" -v ms="$m_se" -v c="$conns" \
    -v f="$f_rps" -v fp="$f_p99" -v fn="$f_non2xx" -v fs="$f_se" 'BEGIN {
    printf "predict  genoriskd  median %9.1f req/s  p99 %7.2f ms  non-2xx %d  socket errors %d  (wrk -c%d; runs %s; target >= 3500 req/s, p99 < 20 ms, 0 non-2xx)\n", p, pp, pn, ps, c, ps_
    printf "predict  FastAPI peer median %7.1f req/s  p99 %7.2f ms  non-2xx %d  socket errors %d  (runs %s)\n", f, fp, fn, fs, fs_
    printf "predict  genoriskd/peer %.1fx (target >= 25x)\n", (f > 0 ? p / f : 0)
    printf "healthz  genoriskd  median %9.1f req/s  p99 %7.2f ms  non-2xx %d  socket errors %d  (runs %s)\n", h, hp, hn, hs, hs_
    printf "healthz  mhd_hello  median %9.1f req/s  p99 %7.2f ms  socket errors %d  (runs %s)\n", m, mp, ms, ms_
    printf "healthz  ratio genoriskd/mhd_hello: median of 5 pairs %.3f (pairs %s; target >= 0.90)\n", hr, rs_
}'
[ -n "$listen_note" ] && echo "problem  $listen_note"
echo "predict  single request: genoriskd HTTP $check, peer HTTP $pcheck; genoriskd vs peer: $agree"
[ "$metrics_ok" = 200 ] && grep -E '^genorisk_requests_total' "$tmp/metrics.txt" | sed 's/^/metrics  /'

missed=$(awk -v p="$p_rps" -v pp="$p_p99" -v pn="$p_non2xx" -v ps="$p_se" -v hn="$h_non2xx" \
    -v hs="$h_se" -v hr="$h_ratio" -v ms="$m_se" -v f="$f_rps" -v fs="$f_se" -v c="$check" 'BEGIN {
    if (c != 200) print "a single predict request did not return 200"
    if (!(p >= 3500)) print "predict below 3500 req/s"
    if (!(f > 0 && p / f >= 25)) print "predict below 25x the FastAPI peer"
    if (!(pp < 20)) print "predict p99 not under 20 ms"
    if (pn > 0) print "predict had non-2xx responses"
    if (hn > 0) print "healthz had non-2xx responses"
    if (ps + hs > 0) print "socket errors against genoriskd"
    if (ms + fs > 0) print "socket errors against a baseline (mhd_hello or peer)"
    if (!(hr >= 0.90)) print "healthz below 0.9x bare MHD (median of 5 pairs)"
}')
if [ -n "$missed" ]; then
    printf '%s\n' "$missed" | sed 's/^/missed: /'
    echo "bench-http: TARGET MISSED ($(printf '%s\n' "$missed" | paste -sd';' - | sed 's/;/; /g'))"
else
    echo "bench-http: all targets met"
fi
exit 0
