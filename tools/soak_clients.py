#!/usr/bin/python3
"""soak_clients.py - the helpers of tools/soak.sh (`make soak`); loopback only.

    soak_clients.py bodies DIR
        writes the request mix into DIR: the demo models' example.json, a VCF
        of cad-pgs-demo's 300 variants for 16 samples (plain, gzip, BGZF and
        multipart/form-data), and DIR/requests.tsv, one request a line
        (name, weight, path, Content-Type, body file, model, samples), which
        tools/soak_mixed.lua (wrk) and `drain` below both send.
    soak_clients.py sample PID OUT [--port PORT]
        once a second: wall time, VmRSS (bytes) and open descriptors of PID
        (/proc/PID/status, /proc/PID/fd), and the number of its sockets on
        PORT in CLOSE-WAIT (/proc/net/tcp: the client has gone, the daemon
        still holds the connection) with the age of the oldest, appended to
        OUT, until PID exits.
    soak_clients.py vanish PORT SECONDS DIR
        clients that vanish mid-upload, for SECONDS: each of 8 threads opens 4
        connections at once, sends on each the headers of a predict with a
        large Content-Length (JSON, text/vcf, gzip, multipart, or a body left
        at the headers) and a third to two thirds of that body; a third of
        those with a body close at once (the FIN right behind the data), the
        others after 10 to 80 ms, half with a FIN and half with a RST
        (SO_LINGER 0). Prints a JSON summary.
    soak_clients.py drain PORT DIR PID --load-s S [--out FILE]
        the SIGTERM check: 8 keep-alive clients send the mix of requests.tsv
        with a strict HTTP reader; after S seconds, and once 2 requests of
        4000 samples have been begun (Expect: 100-continue answered), SIGTERM
        goes to PID; the clients go on until their connections are closed and
        new ones are refused; the 2 long ones must be answered 200 in full.
        Every response received must be complete: a 200 whose body is JSON
        with one result per sample of the request, or a 503 problem
        (overloaded or not-ready, Retry-After: 1); a connection closed before
        any byte of a response is counted "unanswered" (allowed: the client
        was never told anything). Prints a JSON summary; exit 1 on a bad one.
    soak_clients.py report --state DIR
        reads what tools/soak.sh left in DIR, prints the summary table and
        the checks, ends with `soak: all checks passed` or `soak: FAILED ...`;
        exit 1 on failure.
"""

import argparse
import gzip
import json
import os
import random
import re
import signal
import socket
import statistics
import struct
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_schemas import demo_vcf  # noqa: E402  (one writer of demo VCFs)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VCF_SAMPLES = 16
BOUNDARY = "genorisk-soak-5c2e81"
HEAVY_SAMPLES = 4000


# --------------------------------------------------------------------------
# bodies

def pgs_vcf(samples):
    """Every variant of cad-pgs-demo, as the live schema check writes them
    (check_schemas.demo_vcf: both chromosome spellings, swapped and
    other-strand records, a missing call)."""
    return demo_vcf(os.path.join(REPO, "models/cad-pgs-demo/cad_pgs_demo.txt"), samples)


def bgzf(data):
    out = []
    for i in range(0, len(data), 0xff00):
        chunk = data[i:i + 0xff00]
        z = zlib.compressobj(6, zlib.DEFLATED, -15)
        comp = z.compress(chunk) + z.flush()
        out.append(struct.pack("<BBBBIBBHBBHH", 31, 139, 8, 4, 0, 0, 255, 6, 66, 67, 2,
                               len(comp) + 25) + comp +
                   struct.pack("<II", zlib.crc32(chunk) & 0xffffffff, len(chunk)))
    out.append(bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000"))
    return b"".join(out)


def multipart(data):
    return (b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n"
            b"soak\r\n--" + BOUNDARY.encode() +
            b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"soak.vcf.gz\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n--" +
            BOUNDARY.encode() + b"--\r\n")


# name, weight, path, content type, file, model, samples
def request_table():
    pgs = "/v1/models/cad-pgs-demo/predict"
    return [
        ("xgb-json", 3, "/v1/models/cad-xgb-demo/predict", "application/json",
         "cad-xgb-demo.json", "cad-xgb-demo", 2),
        ("xgb-json-noexplain", 1, "/v1/models/cad-xgb-demo/predict?explain=false",
         "application/json", "cad-xgb-demo.json", "cad-xgb-demo", 2),
        ("logit-json", 2, "/v1/models/cad-logit-demo/predict", "application/json",
         "cad-logit-demo.json", "cad-logit-demo", 2),
        ("rf-json", 2, "/v1/models/cad-rf-demo/predict?top_k=3", "application/json",
         "cad-rf-demo.json", "cad-rf-demo", 2),
        ("pgs-json", 2, pgs, "application/json", "cad-pgs-demo.json", "cad-pgs-demo", 2),
        ("pgs-vcf", 2, pgs, "text/vcf", "pgs.vcf", "cad-pgs-demo", VCF_SAMPLES),
        ("pgs-vcf-gzip", 2, pgs + "?top_k=2", "application/gzip", "pgs.vcf.gz", "cad-pgs-demo",
         VCF_SAMPLES),
        ("pgs-vcf-bgzf", 1, pgs + "?explain=false", "application/x-bgzip", "pgs.vcf.bgz",
         "cad-pgs-demo", VCF_SAMPLES),
        ("pgs-vcf-multipart", 1, pgs + "?sample=S03&top_k=1",
         "multipart/form-data; boundary=" + BOUNDARY, "pgs.multipart", "cad-pgs-demo", 1),
    ]


def cmd_bodies(a):
    os.makedirs(a.dir, exist_ok=True)
    for m in ("cad-xgb-demo", "cad-logit-demo", "cad-rf-demo", "cad-pgs-demo"):
        with open(os.path.join(REPO, "models", m, "example.json"), "rb") as f:
            body = json.dumps(json.load(f), separators=(",", ":")).encode()
        with open(os.path.join(a.dir, m + ".json"), "wb") as f:
            f.write(body)
    vcf = pgs_vcf(["S%02d" % i for i in range(VCF_SAMPLES)])
    files = {"pgs.vcf": vcf, "pgs.vcf.gz": gzip.compress(vcf, 6), "pgs.vcf.bgz": bgzf(vcf),
             "pgs.multipart": multipart(gzip.compress(vcf, 6))}
    for name, data in files.items():
        with open(os.path.join(a.dir, name), "wb") as f:
            f.write(data)
    # the SIGTERM check's long request: 4000 samples through 100 trees with
    # SHAP, a few hundred ms of work, in flight when the signal comes
    rnd = random.Random(5)
    heavy = {"samples": [{"id": "H%d" % i, "dosages": [rnd.randint(0, 2) for _ in range(200)]}
                         for i in range(HEAVY_SAMPLES)], "explain": True, "top_k": 5}
    with open(os.path.join(a.dir, "heavy.json"), "w") as f:
        json.dump(heavy, f, separators=(",", ":"))
    with open(os.path.join(a.dir, "requests.tsv"), "w") as f:
        for row in request_table():
            f.write("\t".join(str(x) for x in row) + "\n")
    return 0


def load_table(d):
    reqs = []
    with open(os.path.join(d, "requests.tsv")) as f:
        for line in f:
            name, weight, path, ctype, file, model, samples = line.rstrip("\n").split("\t")
            with open(os.path.join(d, file), "rb") as b:
                body = b.read()
            reqs.append({"name": name, "weight": int(weight), "path": path, "ctype": ctype,
                         "body": body, "model": model, "samples": int(samples)})
    return reqs


# --------------------------------------------------------------------------
# sample

def proc_sample(pid):
    """(rss bytes, open fds), or None once the process is gone (or a zombie)."""
    try:
        rss = None
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
        if rss is None:
            return None
        return rss, len(os.listdir("/proc/%d/fd" % pid))
    except (FileNotFoundError, ProcessLookupError):
        return None


def close_wait_inodes(port):
    """Inodes of the TCP sockets on local port PORT in CLOSE-WAIT: the client
    has closed its side, the daemon still holds the connection."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    c = line.split()
                    if c[3] == "08" and int(c[1].rsplit(":", 1)[1], 16) == port:
                        out.add(c[9])
        except OSError:
            pass
    return out


def cmd_sample(a):
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    t0 = time.monotonic()
    k = 0
    seen = {}  # CLOSE-WAIT socket inode -> when first seen
    with open(a.out, "a") as f:
        while True:
            s = proc_sample(a.pid)
            if s is None:
                return 0
            now = time.monotonic()
            cw = close_wait_inodes(a.port) if a.port else set()
            seen = {i: seen.get(i, now) for i in cw}
            oldest = max((now - t for t in seen.values()), default=0.0)
            f.write("%.3f %d %d %d %.1f\n" % (time.time(), s[0], s[1], len(cw), oldest))
            f.flush()
            k += 1
            time.sleep(max(0.0, t0 + k * a.interval - time.monotonic()))


# --------------------------------------------------------------------------
# vanish

def cmd_vanish(a):
    reqs = {r["name"]: r for r in load_table(a.dir)}
    kinds = [
        # kind, path, content type, declared length, a body to repeat
        ("json", "/v1/models/cad-xgb-demo/predict", "application/json", 128 * 1024,
         reqs["xgb-json"]["body"][:-1] + b" " * 64),
        ("vcf", "/v1/models/cad-pgs-demo/predict", "text/vcf", 256 * 1024, reqs["pgs-vcf"]["body"]),
        ("gzip", "/v1/models/cad-pgs-demo/predict", "application/gzip", 256 * 1024,
         reqs["pgs-vcf-gzip"]["body"]),
        ("multipart", "/v1/models/cad-pgs-demo/predict", reqs["pgs-vcf-multipart"]["ctype"],
         256 * 1024, reqs["pgs-vcf-multipart"]["body"][:-40]),
        ("headers-only", "/v1/models/cad-pgs-demo/predict", "text/vcf", 256 * 1024, b""),
    ]
    if a.kinds:
        kinds = [k for k in kinds if k[0] in a.kinds.split(",")]
    deadline = time.monotonic() + a.seconds
    lock = threading.Lock()
    stats = {"clients": 0, "connect_errors": 0, "send_errors": 0, "rst": 0, "fin": 0,
             "fin_at_once": 0,
             "answered_before_close": 0, "bytes_sent": 0}
    by_kind = {k[0]: 0 for k in kinds}
    first_error = []

    def one_round(rnd):
        socks = []
        for _ in range(4):
            kind, path, ctype, declared, unit = kinds[rnd.randrange(len(kinds))]
            try:
                s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
            except OSError as e:
                with lock:
                    stats["connect_errors"] += 1
                    if not first_error:
                        first_error.append("connect: %s" % e)
                continue
            head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                    "Content-Length: %d\r\n\r\n" % (path, ctype, declared)).encode()
            half = rnd.randint(declared // 3, declared * 2 // 3) if unit else 0
            body = (unit * (half // len(unit) + 1))[:half] if unit else b""
            try:
                s.sendall(head + body)
                sent = len(head) + len(body)
            except OSError as e:
                with lock:
                    stats["send_errors"] += 1
                    if not first_error:
                        first_error.append("send: %s" % e)
                sent = 0
            with lock:
                stats["clients"] += 1
                stats["bytes_sent"] += sent
                by_kind[kind] += 1
            if unit and rnd.random() < 1 / 3.0:
                # gone at once: the rest of the body and the FIN come together
                s.close()
                with lock:
                    stats["fin_at_once"] += 1
            else:
                socks.append(s)
        time.sleep(rnd.uniform(0.01, 0.08))
        for s in socks:
            # nothing may have been answered: the request is not complete
            s.setblocking(False)
            try:
                if s.recv(1):
                    with lock:
                        stats["answered_before_close"] += 1
            except OSError:
                pass
            rst = rnd.random() < 0.5
            if rst:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            with lock:
                stats["rst" if rst else "fin"] += 1

    def worker(seed):
        rnd = random.Random(seed)
        while time.monotonic() < deadline:
            one_round(rnd)
            time.sleep(0.1)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats["by_kind"] = by_kind
    stats["first_error"] = first_error[0] if first_error else ""
    print(json.dumps(stats))
    return 0


# --------------------------------------------------------------------------
# drain

class Closed(Exception):
    def __init__(self, got):
        super().__init__("closed after %d bytes" % got)
        self.got = got


def read_response(sock, timeout):
    """(status, headers dict lower-cased, body) of one complete response;
    raises Closed(bytes received) when the connection ends first."""
    buf = b""
    deadline = time.monotonic() + timeout

    def more():
        nonlocal buf
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete response in %.0f s (%d bytes)" % (timeout, len(buf)))
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        except socket.timeout:
            raise TimeoutError("no complete response in %.0f s (%d bytes)" % (timeout, len(buf)))
        if not chunk:
            raise Closed(len(buf))
        buf += chunk

    while b"\r\n\r\n" not in buf:
        more()
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        hl = len(head) + 4
        while len(buf) - hl < n:
            more()
        return status, headers, buf[hl:hl + n]
    if "chunked" in headers.get("transfer-encoding", ""):
        body, pos = b"", len(head) + 4
        while True:
            while b"\r\n" not in buf[pos:]:
                more()
            eol = buf.index(b"\r\n", pos)
            size = int(buf[pos:eol].split(b";")[0], 16)
            while len(buf) < eol + 2 + size + 2:
                more()
            if size == 0:
                return status, headers, body
            body += buf[eol + 2:eol + 2 + size]
            pos = eol + 2 + size + 2
    while True:  # until EOF
        try:
            more()
        except Closed:
            return status, headers, buf[len(head) + 4:]


def check_response(req, status, headers, body):
    """None when the response is a complete, valid answer to req, else why not."""
    if status == 200:
        try:
            j = json.loads(body)
        except ValueError as e:
            return "200 with a body that is not JSON (%s): %r" % (e, body[:200])
        if not isinstance(j, dict) or j.get("model", {}).get("name") != req["model"]:
            return "200 for another model: %r" % body[:200]
        res = j.get("results")
        if not isinstance(res, list) or len(res) != req["samples"]:
            return "200 with %s results, %d expected" % (
                len(res) if isinstance(res, list) else "no", req["samples"])
        if not all(isinstance(r, dict) and isinstance(r.get("score"), (int, float)) for r in res):
            return "200 with a result that has no score"
        return None
    if status == 503:
        try:
            j = json.loads(body)
        except ValueError as e:
            return "503 with a body that is not JSON (%s): %r" % (e, body[:200])
        if j.get("status") != 503 or j.get("type") not in (
                "urn:genorisk:problem:overloaded", "urn:genorisk:problem:not-ready"):
            return "503 that is not an overloaded/not-ready problem: %r" % body[:200]
        if headers.get("retry-after") != "1":
            return "503 without Retry-After: 1"
        return None
    return "unexpected status %d: %r" % (status, body[:200])


def cmd_drain(a):
    reqs = load_table(a.dir)
    mix = [r for r in reqs for _ in range(r["weight"])]
    lock = threading.Lock()
    sigterm_at = [None]
    out = {"ok200": 0, "ok503_overloaded": 0, "ok503_not_ready": 0, "unanswered": 0,
           "truncated": 0, "invalid": 0, "timeouts": 0, "refused_before_sigterm": 0,
           "refused_after_sigterm": 0, "closed_before_sigterm": 0, "in_flight_at_sigterm": 0,
           "in_flight_at_sigterm_200": 0, "in_flight_at_sigterm_answered": 0,
           "answered_after_sigterm": 0, "heavy_200": 0,
           "heavy_failed": 0, "errors": []}
    pending = {}  # thread -> True while a request is sent and unanswered

    def record(key, why=None):
        with lock:
            out[key] += 1
            if why and len(out["errors"]) < 10:
                out["errors"].append(why)

    def client(tid):
        rnd = random.Random(1000 + tid)
        sock = None
        while True:
            if sock is None:
                try:
                    sock = socket.create_connection(("127.0.0.1", a.port), timeout=5)
                except ConnectionRefusedError:
                    if sigterm_at[0] is not None:
                        record("refused_after_sigterm")
                        return
                    record("refused_before_sigterm", "connection refused before SIGTERM")
                    time.sleep(0.05)
                    continue
                except OSError as e:
                    record("refused_after_sigterm" if sigterm_at[0] else "refused_before_sigterm",
                           None if sigterm_at[0] else "connect: %s" % e)
                    if sigterm_at[0] is not None:
                        return
                    time.sleep(0.05)
                    continue
            req = mix[rnd.randrange(len(mix))]
            msg = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                   "Content-Length: %d\r\n\r\n" % (req["path"], req["ctype"], len(req["body"]))
                   ).encode() + req["body"]
            with lock:
                pending[tid] = {"was_in_flight": False}
            try:
                sock.sendall(msg)
            except OSError:
                pass  # the server may have closed it; what was read decides
            try:
                status, headers, body = read_response(sock, 60)
            except Closed as c:
                with lock:
                    pending.pop(tid, None)
                if c.got:
                    record("truncated", "%s: connection closed after %d bytes of the response"
                           % (req["name"], c.got))
                elif sigterm_at[0] is None:
                    record("closed_before_sigterm", "%s: connection closed unanswered before "
                           "SIGTERM" % req["name"])
                else:
                    record("unanswered")
                sock.close()
                sock = None
                continue
            except TimeoutError as e:
                with lock:
                    pending.pop(tid, None)
                record("timeouts", "%s: %s" % (req["name"], e))
                sock.close()
                sock = None
                continue
            with lock:
                p = pending.pop(tid)
                if sigterm_at[0] is not None:
                    out["answered_after_sigterm"] += 1
                if p["was_in_flight"] and status == 200:
                    out["in_flight_at_sigterm_200"] += 1
                if p["was_in_flight"]:
                    out["in_flight_at_sigterm_answered"] += 1
            why = check_response(req, status, headers, body)
            if why:
                record("invalid", "%s: %s" % (req["name"], why))
            elif status == 200:
                record("ok200")
            elif b"not-ready" in body:
                record("ok503_not_ready")
            else:
                record("ok503_overloaded")
            if headers.get("connection", "").lower() == "close":
                sock.close()
                sock = None

    with open(os.path.join(a.dir, "heavy.json"), "rb") as f:
        heavy = {"name": "heavy-json", "path": "/v1/models/cad-xgb-demo/predict",
                 "ctype": "application/json", "body": f.read(), "model": "cad-xgb-demo",
                 "samples": HEAVY_SAMPLES}
    t_start = time.monotonic()

    heavy_started = threading.Semaphore(0)

    def heavy_client(tid):
        # Expect: 100-continue: once the daemon has said 100 Continue it has
        # begun the request. Half the body goes before SIGTERM and the rest
        # after it, so the request is in flight at SIGTERM on any machine
        # (when the whole body went first, a fast run answered it before the
        # signal) and the drain must still take the rest and answer 200.
        time.sleep(max(0.0, t_start + a.load_s - 0.3 - time.monotonic()))
        started = False
        try:
            sock = socket.create_connection(("127.0.0.1", a.port), timeout=10)
            sock.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                          "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (
                              heavy["path"], heavy["ctype"], len(heavy["body"]))).encode())
            interim = b""
            while b"\r\n\r\n" not in interim:
                chunk = sock.recv(1)
                if not chunk:
                    raise Closed(len(interim))
                interim += chunk
            if not interim.startswith(b"HTTP/1.1 100"):
                raise OSError("no 100 Continue: %r" % interim[:100])
            half = len(heavy["body"]) // 2
            sock.sendall(heavy["body"][:half])
            started = True
            heavy_started.release()
            deadline = time.monotonic() + 20
            while sigterm_at[0] is None and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(0.05)
            sock.sendall(heavy["body"][half:])
            status, headers, body = read_response(sock, 60)
            sock.close()
        except (OSError, Closed, TimeoutError) as e:
            if not started:
                heavy_started.release()
            record("heavy_failed", "heavy request %d: %s" % (tid, e))
            return
        why = check_response(heavy, status, headers, body)
        if why or status != 200:
            record("heavy_failed", "heavy request %d: %s" % (tid, why or "status %d" % status))
        elif sigterm_at[0] is None:
            record("heavy_failed", "heavy request %d: answered before SIGTERM" % tid)
        else:
            record("heavy_200")

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(8)]
    threads += [threading.Thread(target=heavy_client, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    time.sleep(max(0.0, t_start + a.load_s - time.monotonic()))
    for _ in range(2):
        heavy_started.acquire(timeout=10)
    time.sleep(0.03)
    with lock:
        sigterm_at[0] = time.monotonic()
        for p in pending.values():
            p["was_in_flight"] = True
        out["in_flight_at_sigterm"] = len(pending)
    out["sigterm_wall"] = time.time()
    os.kill(a.pid, signal.SIGTERM)
    end = time.monotonic() + a.max_s
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    out["clients_still_running"] = sum(t.is_alive() for t in threads)
    out["seconds_after_sigterm"] = round(time.monotonic() - sigterm_at[0], 3)
    bad = (out["truncated"] or out["invalid"] or out["timeouts"] or out["heavy_200"] != 2 or
           out["refused_before_sigterm"] or out["closed_before_sigterm"] or
           out["clients_still_running"] or not out["ok200"])
    out["ok"] = not bad
    text = json.dumps(out)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 1 if bad else 0


# --------------------------------------------------------------------------
# report

def read_kv(path):
    kv = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, _, v = line.strip().partition("=")
                    kv[k] = v
    return kv


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def metric(text, name, **labels):
    """Sum of the samples of NAME whose labels include LABELS; None if none."""
    total = None
    for m in re.finditer(r"^%s(?:\{(.*)\})? (\S+)$" % re.escape(name), text or "", re.M):
        lab = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if all(lab.get(k) == str(v) for k, v in labels.items()):
            total = (total or 0) + float(m.group(2))
    return total


def codes(text):
    """{(route, code): n} of genorisk_requests_total."""
    out = {}
    for m in re.finditer(r'^genorisk_requests_total\{route="([^"]*)",code="(\d+)"\} (\S+)$',
                         text or "", re.M):
        out[(m.group(1), int(m.group(2)))] = int(float(m.group(3)))
    return out


def mib(b):
    return "%.1f MiB" % (b / 1048576.0)


def cmd_report(a):
    st = a.state
    kv = read_kv(os.path.join(st, "phases"))
    t_load = float(kv["load_start"])
    T = float(kv["soak_seconds"])
    warm = float(kv["warmup"])
    win = float(kv["window"])
    samples = []
    with open(os.path.join(st, "samples")) as f:
        for line in f:
            t, rss, fds, cw, cw_age = line.split()
            samples.append((float(t) - t_load, int(rss), int(fds), int(cw), float(cw_age)))
    first = [s for s in samples if warm <= s[0] < warm + win]
    last = [s for s in samples if T - win <= s[0] < T]
    wrk = read_json(os.path.join(st, "wrk.json")) or {}
    wrk_d = read_json(os.path.join(st, "wrk_drain.json")) or {}
    van = read_json(os.path.join(st, "vanish.json")) or {}
    drn = read_json(os.path.join(st, "drain.json")) or {}
    with open(os.path.join(st, "metrics_end")) as f:
        mtext = f.read()
    fails = []

    def check(ok, what):
        if not ok:
            fails.append(what)
        return "ok" if ok else "FAILED"

    rows = []
    row = lambda k, v, c="": rows.append((k, v, c))

    # ---- load ----
    dur = wrk.get("duration_s") or 0
    nreq = wrk.get("requests", 0)
    st_counts = {int(k): v for k, v in (wrk.get("status") or {}).items()}
    others = {k: v for k, v in st_counts.items() if k not in (200, 503)}
    five = {k: v for k, v in others.items() if k >= 500}
    row("load", "wrk -t%s -c%s for %d s: %s request kinds, JSON to 4 models, VCF to cad-pgs-demo "
        "(text/vcf, gzip, BGZF, multipart)" % (kv.get("wrk_threads"), kv.get("wrk_conns"), T,
                                               kv.get("kinds")), "")
    row("requests", "%d" % nreq, check(nreq > 0 and bool(wrk), "wrk made no requests"))
    row("req/s", "%.0f" % (nreq / dur if dur else 0), "")
    row("status 200", "%d" % st_counts.get(200, 0), check(st_counts.get(200, 0) > 0, "no 200"))
    row("status 503 (backpressure)", "%d" % st_counts.get(503, 0), "")
    row("other status", ", ".join("%d x %d" % (v, k) for k, v in sorted(others.items())) or "none",
        check(not others, "wrk got status %s" % sorted(others) + (
            " (5xx other than 503)" if five else "")))
    e = wrk.get("errors") or {}
    row("socket errors (wrk)", "connect %s, read %s, write %s, timeout %s" % (
        e.get("connect"), e.get("read"), e.get("write"), e.get("timeout")),
        check(not any(e.get(k) for k in ("connect", "read", "write", "timeout")),
              "wrk socket errors during the soak"))
    row("latency p50 / p99", "%.2f ms / %.2f ms" % (wrk.get("p50_us", 0) / 1e3,
                                                    wrk.get("p99_us", 0) / 1e3), "")
    row("200 bodies valid JSON", "%d of %d (every one, in wrk's response())" % (
        wrk.get("json_ok", 0), st_counts.get(200, 0)),
        check(wrk.get("json_bad", 1) == 0 and wrk.get("json_ok") == st_counts.get(200, 0),
              "%s invalid 200 bodies, first: %s" % (wrk.get("json_bad"), wrk.get("json_bad_first"))))
    row("503 bodies problem+JSON", "%d of %d, Retry-After: 1" % (
        wrk.get("problem_ok", 0), st_counts.get(503, 0)),
        check(wrk.get("problem_bad", 1) == 0, "%s bad 503 answers, first: %s" % (
            wrk.get("problem_bad"), wrk.get("problem_bad_first"))))
    mc = codes(mtext)
    m5 = {k: v for k, v in mc.items() if k[1] >= 500 and k[1] != 503}
    row("daemon 5xx but 503 (/metrics)", "%d" % sum(m5.values()),
        check(not m5, "the daemon counted %s" % m5))

    # ---- memory, descriptors ----
    if first and last:
        r0 = statistics.median(s[1] for s in first)
        r1 = statistics.median(s[1] for s in last)
        growth = (r1 - r0) * 100.0 / r0
        f0 = statistics.median(s[2] for s in first)
        f1 = statistics.median(s[2] for s in last)
    else:
        r0 = r1 = growth = f0 = f1 = 0
        fails.append("too few RSS samples (%d, %d)" % (len(first), len(last)))
    pre = [s_[1] for s_ in samples if 0.1 * warm <= s_[0] < float(kv.get("w_sighup_from", 0))]
    row("RSS idle after start", mib(int(kv.get("rss_idle_start", 0))), "")
    if pre:
        row("RSS under load before any fault (median t=%d-%s s)" % (
            0.1 * warm, kv.get("w_sighup_from")), mib(statistics.median(pre)), "")
    row("RSS start (median t=%d-%d s)" % (warm, warm + win), mib(r0), "")
    row("RSS end (median t=%d-%d s)" % (T - win, T), mib(r1), "")
    row("RSS peak (whole run)", mib(max(s[1] for s in samples) if samples else 0), "")
    row("RSS growth", "%+.2f %%" % growth, check(growth < 5.0, "RSS grew %.2f %% (limit 5 %%)"
                                                 % growth))
    row("fds idle before / after load", "%s / %s" % (kv.get("fd_idle_start"),
                                                      kv.get("fd_idle_end")),
        check(kv.get("fd_idle_start") == kv.get("fd_idle_end"),
              "descriptors at rest grew from %s to %s" % (kv.get("fd_idle_start"),
                                                          kv.get("fd_idle_end"))))
    fmax0 = max((s[2] for s in first), default=0)
    fmax1 = max((s[2] for s in last), default=0)
    row("fds under load: median (max), first vs last window", "%g (%d) vs %g (%d)" % (
        f0, fmax0, f1, fmax1), check(f1 <= f0 + 5, "descriptors under load grew: median %g -> %g"
                                     % (f0, f1)))
    cw_max = max((s_[3] for s_ in samples if s_[0] < T + 1), default=0)
    cw_age = max((s_[4] for s_ in samples if s_[0] < T + 1), default=0.0)
    worst = max((s_ for s_ in samples if s_[0] < T + 1), key=lambda s_: s_[3], default=None)
    row("CLOSE-WAIT sockets (client gone, daemon holding)",
        "at most %d at once%s, the oldest held %.0f s" % (
            cw_max, " (t=%.0f s, %d fds)" % (worst[0], worst[2]) if worst and cw_max else "",
            cw_age),
        check(cw_age <= 3.0, "connections whose client had closed were held up to %.0f s "
              "(at most %d at once): the daemon does not notice a client that closes right after "
              "part of a body until --connection-timeout-s" % (cw_age, cw_max)))
    # ---- faults ----
    sent = int(kv.get("sighup_sent", 0))
    ok = int(metric(mtext, "genorisk_reloads_total", result="success") or 0)
    bad = int(metric(mtext, "genorisk_reloads_total", result="failure") or 0)
    row("SIGHUP 1/s (t=%s-%s, %s-%s s)" % (kv.get("w_sighup_from"), kv.get("w_sighup_to"),
                                         kv.get("sighup_from"), kv.get("sighup_to")),
        "%d sent, %d reloads, %d failed" % (sent, ok, bad),
        check(sent > 0 and ok == sent and bad == 0,
              "%d SIGHUP sent, %d reloads succeeded, %d failed" % (sent, ok, bad)))
    c499 = sum(v for k, v in mc.items() if k[1] == 499)
    vw = read_json(os.path.join(st, "vanish_warmup.json")) or {}
    for label, v, a_, b_ in (("warm-up", vw, "w_vanish_from", "w_vanish_to"),
                             ("", van, "vanish_from", "vanish_to")):
        row("vanishing uploads (t=%s-%s s)" % (kv.get(a_), kv.get(b_)),
            "%s clients (%s); %s FIN at once, %s FIN and %s RST after 10-80 ms" % (
                v.get("clients"), ", ".join("%s %s" % x for x in
                                             sorted((v.get("by_kind") or {}).items())),
                v.get("fin_at_once"), v.get("fin"), v.get("rst")),
            check(bool(v) and v.get("clients", 0) > 0 and not v.get("connect_errors") and
                  not v.get("answered_before_close"),
                  "vanishing clients %s: %s" % (label, v or "no summary")))
    row("  499 (client gone) counted", "%d (the vanished clients, and wrk's last requests)" % c499,
        "")
    # ---- SIGTERM ----
    rc = kv.get("daemon_rc")
    row("SIGTERM under load: checker", "%s x 200, %s x 503 overloaded, %s x 503 not-ready, "
        "%s unanswered, %s truncated, %s invalid" % (
            drn.get("ok200"), drn.get("ok503_overloaded"), drn.get("ok503_not_ready"),
            drn.get("unanswered"), drn.get("truncated"), drn.get("invalid")),
        check(bool(drn) and drn.get("ok") is True,
              "SIGTERM checker: %s" % (drn or "no summary")))
    # The two heavy requests are known to be in flight (100 Continue said,
    # half the body sent before SIGTERM, half after): they must be 200. A
    # checker request sent as SIGTERM comes may reach the daemon after it
    # began draining, and 503 not-ready is then its right answer; so those
    # must each get a whole, valid answer, 200 or 503, and nothing less.
    row("  in flight at SIGTERM", "2 requests of %d samples, half their body sent after the "
        "signal (answered 200: %s); %s checker requests (answered: %s, 200: %s)" % (
            HEAVY_SAMPLES, drn.get("heavy_200"), drn.get("in_flight_at_sigterm"),
            drn.get("in_flight_at_sigterm_answered"), drn.get("in_flight_at_sigterm_200")),
        check(drn.get("heavy_200") == 2 and
              drn.get("in_flight_at_sigterm_answered") == drn.get("in_flight_at_sigterm"),
              "requests in flight at SIGTERM were not all answered"))
    ds = {int(k): v for k, v in (wrk_d.get("status") or {}).items()}
    d_others = {k: v for k, v in ds.items() if k not in (200, 503)}
    de = wrk_d.get("errors") or {}
    row("SIGTERM under load: wrk -c%s" % kv.get("drain_conns", "?"),
        "%s x 200, %s x 503, other %s; %s of %s 200 bodies valid JSON; socket errors (the "
        "connections closed by the drain, then refused) connect %s read %s write %s" % (
            ds.get(200, 0), ds.get(503, 0), d_others or "none", wrk_d.get("json_ok"),
            ds.get(200, 0), de.get("connect"), de.get("read"), de.get("write")),
        check(bool(wrk_d) and not d_others and wrk_d.get("json_bad", 1) == 0 and
              wrk_d.get("problem_bad", 1) == 0 and ds.get(200, 0) > 0,
              "wrk during SIGTERM: status %s, %s invalid 200 bodies (%s)" % (
                  ds, wrk_d.get("json_bad"), wrk_d.get("json_bad_first"))))
    row("daemon exit code", "%s after %s s" % (rc, kv.get("drain_seconds")),
        check(rc == "0", "the daemon exited %s after SIGTERM" % rc))

    w = max(len(r[0]) for r in rows)
    print("")
    print("soak summary (genoriskd %s on 127.0.0.1, %s)" % (kv.get("daemon_args"), kv.get("build")))
    for k, v, c in rows:
        print("  %-*s  %-s%s" % (w, k, v, ("   [" + c + "]") if c else ""))
    print("")
    if fails:
        print("soak: FAILED " + "; ".join(fails))
        return 1
    print("soak: all checks passed")
    return 0


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("bodies")
    s.add_argument("dir")
    s = sub.add_parser("sample")
    s.add_argument("pid", type=int)
    s.add_argument("out")
    s.add_argument("--interval", type=float, default=1.0)
    s.add_argument("--port", type=int, default=0,
                   help="also count the daemon's CLOSE-WAIT sockets on this port")
    s = sub.add_parser("vanish")
    s.add_argument("port", type=int)
    s.add_argument("seconds", type=float)
    s.add_argument("dir")
    s.add_argument("--kinds", help="comma-separated subset of json,vcf,gzip,multipart,headers-only")
    s = sub.add_parser("drain")
    s.add_argument("port", type=int)
    s.add_argument("dir")
    s.add_argument("pid", type=int)
    s.add_argument("--load-s", type=float, default=3.0)
    s.add_argument("--max-s", type=float, default=60.0)
    s.add_argument("--out")
    s = sub.add_parser("report")
    s.add_argument("--state", required=True)
    a = p.parse_args(argv)
    return {"bodies": cmd_bodies, "sample": cmd_sample, "vanish": cmd_vanish,
            "drain": cmd_drain, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
