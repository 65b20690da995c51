#!/usr/bin/env bash
# failover_test.sh [BUILD_DIR] - the scale-out failure story, on loopback
# (`make failover-test`, about 20 s):
#
#   two genoriskd daemons (--workers 1 each) on 127.0.0.1 ephemeral ports,
#   behind Debian's nginx as the load balancer (docker/nginx/genorisk-lb.conf:
#   both upstreams, proxy_next_upstream error timeout http_502 http_503
#   non_idempotent), nginx run unprivileged (as nobody when started as root)
#   from a temporary prefix on a free port; a client of FAILOVER_CLIENTS
#   threads (8) POSTs the demo models' example.json for FAILOVER_SECONDS (12)
#   with keep-alive, and at FAILOVER_KILL_AT (4 s) sends SIGKILL to the first
#   daemon. Then:
#
#   - every 200 the client got must be complete (Content-Length honoured) and
#     equal, number for number, to what build/genorisk (the CLI) gives for the
#     same request, with the client's own X-Request-ID echoed back;
#   - non-200 answers and transport errors are counted and must be 0 (nginx
#     resends what the dead daemon had in flight or refused to the other one);
#   - both daemons must have served before the kill, only the survivor after,
#     and nginx's log must show the retries (attempts "502, 200").
#
# Env: FAILOVER_SECONDS, FAILOVER_KILL_AT, FAILOVER_CLIENTS, and
# FAILOVER_NGINX_CONF (another nginx template, e.g. one without
# non_idempotent, to see the test fail).
#
# Closes with "failover-test: N passed, M failed"; exit 0 only when M is 0.
set -uo pipefail

invoked_from=$(pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
case ${1:-build} in
/*) BUILD=${1:-build} ;;
*) BUILD=$invoked_from/${1:-build} ;;
esac
cd "$root" || exit 2

PY=/usr/bin/python3
SECONDS_RUN=${FAILOVER_SECONDS:-12}
KILL_AT=${FAILOVER_KILL_AT:-4}
CLIENTS=${FAILOVER_CLIENTS:-8}
# another template to try, e.g. one without retries (docker/README.md)
NGINX_CONF=${FAILOVER_NGINX_CONF:-docker/nginx/genorisk-lb.conf}

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "  ok   $*"; }
bad() { failed=$((failed + 1)); echo "  FAIL $*"; }
finish() {
    echo "failover-test: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0
    exit 1
}
die() {
    echo "failover-test: $*" >&2
    failed=$((failed + 1))
    finish
}

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx not found (make deps installs it)"
for f in "$BUILD/genoriskd" "$BUILD/genorisk" "$PY"; do
    [ -x "$f" ] || die "$f missing (make all)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/failover.XXXXXX") || die "mktemp failed"
chmod 755 "$tmp"
pids=()
nginx_pid=
# shellcheck disable=SC2317  # (run by the EXIT trap)
cleanup() {
    local p
    [ -n "$nginx_pid" ] && kill -QUIT "$nginx_pid" 2>/dev/null
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}" $nginx_pid; do
        for _ in $(seq 50); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- expected answers --------------------------------------------------------
mkdir -p "$tmp/expect"
for d in models/*/; do
    m=$(basename "$d")
    [ -f "$d/example.json" ] || continue
    "$BUILD/genorisk" predict --model "$d" --input "$d/example.json" --compact >"$tmp/expect/$m.json" ||
        die "CLI predict $m failed"
done

# ---- two daemons -------------------------------------------------------------
start_daemon() {  # NAME -> prints the port
    "$BUILD/genoriskd" --models models --listen 127.0.0.1:0 --workers 1 --log-level warn \
        --drain-timeout-s 5 2>"$tmp/$1.log" &
    pids+=($!)
    echo $! >"$tmp/$1.pid"
    disown $!  # no "Killed" job report from bash: the SIGKILL is the test
}
start_daemon a
start_daemon b
port_of() {
    local p
    for _ in $(seq 100); do
        p=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$tmp/$1.log" | head -1)
        [ -n "$p" ] && { echo "$p"; return 0; }
        sleep 0.1
    done
    return 1
}
pa=$(port_of a) || die "daemon a did not start: $(head -3 "$tmp/a.log")"
pb=$(port_of b) || die "daemon b did not start: $(head -3 "$tmp/b.log")"
pid_a=$(cat "$tmp/a.pid")
pid_b=$(cat "$tmp/b.pid")
ok "daemons a (pid $pid_a) on 127.0.0.1:$pa and b (pid $pid_b) on 127.0.0.1:$pb"

# ---- nginx, unprivileged, from a temporary prefix ------------------------------
ng=$tmp/nginx
mkdir -p "$ng/logs" "$ng/temp"
as_user=()
if [ "$(id -u)" = 0 ]; then
    # root may not keep it: nginx runs as nobody, and only writes under $ng
    as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all)
    chown -R nobody:nogroup "$ng"
fi
start_nginx() {
    local port
    port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    sed -e "s|@PREFIX@|$ng|g" -e "s|@LISTEN@|127.0.0.1:$port|g" \
        -e "s|@UPSTREAM_A@|127.0.0.1:$pa|g" -e "s|@UPSTREAM_B@|127.0.0.1:$pb|g" \
        "$NGINX_CONF" >"$ng/nginx.conf"
    "${as_user[@]}" "$NGINX" -t -q -p "$ng" -c "$ng/nginx.conf" -e "$ng/logs/error.log" 2>"$tmp/nginx-t.err" ||
        { cat "$tmp/nginx-t.err" >&2; return 1; }
    "${as_user[@]}" "$NGINX" -p "$ng" -c "$ng/nginx.conf" -e "$ng/logs/error.log" 2>>"$tmp/nginx.err" &
    nginx_pid=$!
    lb_port=$port
    for _ in $(seq 50); do
        curl -fsS --max-time 1 -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && return 0
        kill -0 "$nginx_pid" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}
lb_port=
started=
for _ in 1 2 3; do  # the free port may be taken between the check and nginx's bind
    if start_nginx; then started=1; break; fi
    [ -n "$nginx_pid" ] && { kill -QUIT "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null; nginx_pid=; }
done
[ -n "$started" ] || die "nginx did not start: $(tail -3 "$tmp/nginx.err" "$ng/logs/error.log" 2>/dev/null)"
nginx_user=$(ps -o user= -p "$nginx_pid" | tr -d ' ')
ok "nginx (pid $nginx_pid, user $nginx_user) on 127.0.0.1:$lb_port, prefix $ng"
if [ "$(id -u)" = 0 ] && [ "$nginx_user" = root ]; then
    bad "nginx runs as root"
fi

# ---- the load run, with a SIGKILL -------------------------------------------------
cat >"$tmp/client.py" <<'EOF'
import collections, http.client, json, os, signal, sys, threading, time
host, port, seconds, kill_at, clients, pid, expect_dir = sys.argv[1], int(sys.argv[2]), \
    float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
cases = []
for name in sorted(os.listdir(expect_dir)):
    model = name[:-5]
    body = open(os.path.join("models", model, "example.json"), "rb").read()
    cases.append((model, body, json.load(open(os.path.join(expect_dir, name)))))
lock = threading.Lock()
c = collections.Counter()
first_bad = []
t0 = time.monotonic()
end = t0 + seconds
killed_at = [None]

def killer():
    time.sleep(kill_at)
    os.kill(pid, signal.SIGKILL)
    killed_at[0] = time.time()

def note(key, detail=None):
    with lock:
        c[key] += 1
        if detail and len(first_bad) < 5:
            first_bad.append(detail)

def worker(w):
    conn, n = None, 0
    while time.monotonic() < end and n < 100000:
        model, body, want = cases[(w + n) % len(cases)]
        n += 1
        rid = "fo-%d-%d" % (w, n)
        note("sent")
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=30)
            conn.request("POST", "/v1/models/%s/predict" % model, body,
                         {"Content-Type": "application/json", "X-Request-ID": rid})
            r = conn.getresponse()
            data = r.read()  # IncompleteRead when shorter than Content-Length
            status = r.status
            if (r.getheader("Connection") or "").lower() == "close":
                conn.close(); conn = None
        except Exception as e:
            note("transport_error", "%s: %s: %s" % (rid, type(e).__name__, e))
            if conn is not None:
                conn.close()
            conn = None
            continue
        if status != 200:
            note("status_%d" % status, "%s: HTTP %d %s" % (rid, status, data[:200]))
            continue
        note("200")
        try:
            got = json.loads(data)
        except ValueError as e:
            note("bad_200", "%s: body is not JSON (%s)" % (rid, e)); continue
        if got.pop("request_id", None) != rid:
            note("bad_200", "%s: request_id not echoed" % rid); continue
        if got != want:
            note("bad_200", "%s: %s answer differs from the CLI" % (rid, model)); continue
        note("good_200")
        with lock:
            c["after_kill_good" if killed_at[0] else "before_kill_good"] += 1

k = threading.Thread(target=killer, daemon=True)
k.start()
ts = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
for t in ts: t.start()
for t in ts: t.join()
out = dict(c)
out["elapsed_s"] = round(time.monotonic() - t0, 2)
out["killed_at_epoch"] = killed_at[0]
out["first_problems"] = first_bad
print(json.dumps(out))
EOF
echo "failover-test: $CLIENTS clients for ${SECONDS_RUN}s through nginx; SIGKILL to daemon a at ${KILL_AT}s"
"$PY" "$tmp/client.py" 127.0.0.1 "$lb_port" "$SECONDS_RUN" "$KILL_AT" "$CLIENTS" "$pid_a" "$tmp/expect" \
    >"$tmp/client.json" 2>"$tmp/client.err" || die "the client failed: $(tail -5 "$tmp/client.err")"
sleep 0.2
if kill -0 "$pid_a" 2>/dev/null; then
    bad "daemon a is still running after SIGKILL"
else
    ok "daemon a was killed (SIGKILL) during the run"
fi
if kill -0 "$pid_b" 2>/dev/null; then ok "daemon b still running"; else bad "daemon b died"; fi

# ---- verdict -------------------------------------------------------------------
# nginx writes its access log lines as requests end; stop it gracefully first
kill -QUIT "$nginx_pid" 2>/dev/null
wait "$nginx_pid" 2>/dev/null
nginx_pid=
"$PY" - "$tmp/client.json" "$ng/logs/access.log" "$ng/logs/error.log" "127.0.0.1:$pa" "127.0.0.1:$pb" <<'EOF' >"$tmp/verdict"
import json, re, sys
r = json.load(open(sys.argv[1]))
a, b = sys.argv[4], sys.argv[5]
kill = r["killed_at_epoch"]
# $msec $status $request_time "$upstream_addr" "$upstream_status" ...
line_re = re.compile(r'^(\S+) (\S+) \S+ "([^"]*)" "([^"]*)"')
lines = [line_re.match(l).groups() for l in open(sys.argv[2]) if l.strip()]
before = {a: 0, b: 0}; after = {a: 0, b: 0}
retries = 0; first502 = 0; lb_non200 = 0
for f in lines:
    t, status = float(f[0]), f[1]
    ups = f[2].split(", ")
    sts = f[3].split(", ")
    if status != "200":
        lb_non200 += 1
    if len(ups) > 1:
        retries += 1
        if sts[0] in ("502", "503", "504"):
            first502 += 1
    served = ups[-1]
    if served in before:
        # the log time is the request's end; an answer the dead daemon had
        # already sent may be logged a moment after the kill: 0.1 s grace
        (before if kill is None or t < kill + 0.1 else after)[served] += 1
err = open(sys.argv[3]).read()
refused = err.count("Connection refused")
reset = err.count("reset by peer") + err.count("prematurely closed")
non200 = sum(v for k, v in r.items() if k.startswith("status_"))
print("sent=%d ok200=%d good200=%d bad200=%d non200=%d transport_errors=%d" % (
    r.get("sent", 0), r.get("200", 0), r.get("good_200", 0), r.get("bad_200", 0), non200, r.get("transport_error", 0)))
print("statuses=%s" % {k: v for k, v in r.items() if k.startswith("status_")})
print("before_kill_good=%d after_kill_good=%d elapsed_s=%s" % (r.get("before_kill_good", 0), r.get("after_kill_good", 0), r["elapsed_s"]))
print("nginx_lines=%d nginx_non200=%d retried=%d retried_after_502=%d" % (len(lines), lb_non200, retries, first502))
print("served_before_kill a=%d b=%d; after a=%d b=%d" % (before[a], before[b], after[a], after[b]))
print("error_log refused=%d reset_or_closed=%d" % (refused, reset))
for p in r["first_problems"]:
    print("problem %s" % p)
EOF
sed 's/^/  | /' "$tmp/verdict"
val() { sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p" "$tmp/verdict" | head -1; }
sent=$(val sent); ok200=$(val ok200); good=$(val good200); bad200=$(val bad200)
non200=$(val non200); terr=$(val transport_errors); retried=$(val retried)
ba=$(sed -n 's/^served_before_kill a=\([0-9]*\) b=\([0-9]*\); after a=\([0-9]*\) b=\([0-9]*\)$/\1/p' "$tmp/verdict")
bb=$(sed -n 's/^served_before_kill a=\([0-9]*\) b=\([0-9]*\); after a=\([0-9]*\) b=\([0-9]*\)$/\2/p' "$tmp/verdict")
aa=$(sed -n 's/^served_before_kill a=\([0-9]*\) b=\([0-9]*\); after a=\([0-9]*\) b=\([0-9]*\)$/\3/p' "$tmp/verdict")
ab=$(sed -n 's/^served_before_kill a=\([0-9]*\) b=\([0-9]*\); after a=\([0-9]*\) b=\([0-9]*\)$/\4/p' "$tmp/verdict")

if [ "${sent:-0}" -eq 0 ] || [ "${ok200:-0}" -eq 0 ]; then bad "the client got no answer at all"; fi
if [ "${bad200:-1}" = 0 ] && [ "$good" = "$ok200" ]; then
    ok "all $ok200 answers 200 were complete and equal to the CLI's (request ids echoed)"
else
    bad "$bad200 of $ok200 answers 200 were incomplete or wrong"
fi
if [ "${non200:-1}" = 0 ] && [ "${terr:-1}" = 0 ]; then
    ok "no non-200 answer and no transport error in $sent requests"
else
    bad "$non200 non-200 answers and $terr transport errors in $sent requests"
fi
if [ "${ba:-0}" -gt 0 ] && [ "${bb:-0}" -gt 0 ]; then
    ok "both daemons served before the kill (a $ba, b $bb)"
else
    bad "load was not balanced before the kill (a ${ba:-?}, b ${bb:-?})"
fi
if [ "${aa:-1}" = 0 ] && [ "${ab:-0}" -gt 0 ]; then
    ok "after the kill only b served ($ab)"
else
    bad "after the kill: a ${aa:-?}, b ${ab:-?}"
fi
if [ "${retried:-0}" -gt 0 ]; then
    ok "nginx retried $retried request(s) on the surviving daemon"
else
    bad "nginx's log shows no retried request: the kill tested nothing"
fi
finish
