#!/usr/bin/python3
"""bench_curve.py - the cost curve: time and peak memory per sample.

For 1, 10, 100, 1,000 and 10,000 samples per request (the bodies of
tools/make_bench_bodies.py), JSON and VCF, CLI and HTTP (issue 13, item 5):

  CLI   BUILD/genorisk predict --model BUNDLE (--input body_N.json | --vcf
        body_N.vcf.gz) --threads T --compact --output FILE; wall time and
        peak RSS of the process (wait4's ru_maxrss), RUNS runs, medians
  HTTP  a fresh BUILD/genoriskd --models DIR (holding only a symlink to
        BUNDLE) --listen 127.0.0.1:0 --workers 2 --log-level warn, plus
        --max-body-bytes and --max-body-memory-bytes raised to fit the
        largest JSON body (10,000 samples are 140 MB, over the 16 MiB
        default), per size and input; its port read from the "listening"
        line on stderr. RUNS POSTs of the body (JSON: Content-Type
        application/json; VCF: the bgzipped file as the whole body,
        Content-Type application/gzip), each timed by curl -w
        %{time_total} (upload, predict, download); peak memory is the
        daemon's VmHWM (/proc/PID/status) after them, which includes the
        idle daemon with the model loaded (printed too)

Every answer is checked: HTTP 200, one result per sample in the body's
order, no errors, every VCF sample at full coverage, and scores and margins
equal to the CLI's JSON answer for the same body to 1e-9. RUNS is --runs
(default 3).

Prints a table: samples, input, front end, runs, total s (median), ms per
sample, peak MB, MB per sample (MB = 10^6 bytes); --markdown prints it as a
Markdown table too (the README's), --json FILE writes the rows.
Exit 0 when every run worked and every answer was right, else 1.

Run: tools/bench_curve.py [--build build] [--bundle build/bench/xgb500]
         [--bodies build/bench/bodies] [--sizes 1,10,100,1000,10000]
         [--runs 3] [--threads 1] [--workers 2] [--markdown]
         [--json FILE]
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT_MAX_BODY_BYTES = 16777216
DEFAULT_MAX_BODY_MEMORY_BYTES = 268435456


class Failure(Exception):
    pass


def run_cli(cmd):
    """(wall s, peak RSS bytes) of CMD."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    err = proc.stderr.read()
    proc.stderr.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise Failure("%s: exit %d: %s" % (" ".join(cmd), proc.returncode,
                                           err.decode(errors="replace")[:400]))
    return wall, usage.ru_maxrss * 1024


def check_answer(path, n, ref, vcf):
    """The results of answer PATH (scores and margins; n of them) after
    checking them against REF (a list of (sample, score, margin), or
    None)."""
    try:
        with open(path) as f:
            results = json.load(f)["results"]
    except (OSError, ValueError, KeyError) as e:
        raise Failure("%s: not a predict answer (%s)" % (path, e))
    if len(results) != n:
        raise Failure("%s: %d results for %d samples" % (path, len(results),
                                                        n))
    got = []
    for i, r in enumerate(results):
        if "error" in r:
            raise Failure("%s: sample %s: %s" % (path, r.get("sample"),
                                                 r["error"]))
        if vcf:
            c = r.get("coverage", {})
            if not (c.get("observed") == c.get("expected") and
                    not c.get("imputed") and not c.get("missing")):
                raise Failure("%s: sample %s: coverage %s" % (
                    path, r.get("sample"), json.dumps(c)))
        if not r.get("explanation", {}).get("attributions"):
            raise Failure("%s: sample %s: no attributions" % (
                path, r.get("sample")))
        got.append((r["sample"], r["score"], r["margin"]))
    if ref is not None:
        for (s, sc, m), (rs, rsc, rm) in zip(got, ref):
            if s != rs or abs(sc - rsc) > 1e-9 or abs(m - rm) > 1e-9:
                raise Failure("%s: sample %s: score %r margin %r, the CLI's "
                              "JSON answer has %s %r %r" % (path, s, sc, m,
                                                            rs, rsc, rm))
    return got


class Daemon:
    """genoriskd on 127.0.0.1:0 serving BUNDLE through a symlink."""

    def __init__(self, exe, bundle, workers, extra, tmp):
        self.models = os.path.join(tmp, "models")
        os.makedirs(self.models, exist_ok=True)
        link = os.path.join(self.models, os.path.basename(bundle))
        if not os.path.islink(link):
            os.symlink(bundle, link)
        self.cmd = [exe, "--models", self.models, "--listen", "127.0.0.1:0",
                    "--workers", str(workers), "--log-level", "warn"] + extra
        self.err_path = os.path.join(tmp, "genoriskd.err")
        self.proc = None
        self.port = None

    def start(self):
        self.err = open(self.err_path, "w+")
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL,
                                     stderr=self.err)
        deadline = time.time() + 60
        while time.time() < deadline:
            with open(self.err_path) as f:
                for line in f:
                    if '"msg":"listening"' in line:
                        m = re.search(r'"port":(\d+)', line)
                        if m:
                            self.port = int(m.group(1))
                            return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        with open(self.err_path) as f:
            text = f.read()[-800:]
        self.stop()
        raise Failure("genoriskd wrote no \"listening\" line with a port: "
                      + text)

    def vmhwm(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise Failure("no VmHWM in /proc/%d/status" % self.proc.pid)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.err.close()
        self.proc = None


def post(url, path, content_type, out_path):
    """Wall seconds of one POST of file PATH (curl's time_total)."""
    cp = subprocess.run(
        ["curl", "-s", "-o", out_path, "-w", "%{http_code} %{time_total}",
         "--max-time", "600", "-X", "POST", "-H",
         "Content-Type: " + content_type, "--data-binary", "@" + path, url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    fields = cp.stdout.decode().split()
    if cp.returncode != 0 or len(fields) != 2 or fields[0] != "200":
        with open(out_path, "rb") as f:
            body = f.read(400).decode(errors="replace")
        raise Failure("POST %s (%s): curl exit %d, HTTP %s: %s" % (
            url, path, cp.returncode, fields[0] if fields else "-", body))
    return float(fields[1])


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def median(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--bundle", default="build/bench/xgb500")
    ap.add_argument("--bodies", default="build/bench/bodies")
    ap.add_argument("--sizes", default="1,10,100,1000,10000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="the CLI's --threads (default 1)")
    ap.add_argument("--workers", type=int, default=2,
                    help="the daemon's --workers (default 2)")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    if min(args.runs, args.threads, args.workers) < 1:
        ap.error("--runs, --threads, --workers: at least 1")
    sizes = [int(s) for s in args.sizes.split(",")]
    bundle = os.path.abspath(args.bundle)
    cli = os.path.join(args.build, "genorisk")
    daemon_exe = os.path.join(args.build, "genoriskd")
    for exe in (cli, daemon_exe):
        if not os.access(exe, os.X_OK):
            sys.exit("bench_curve: %s not found; build it first (make all)"
                     % exe)
    if shutil.which("curl") is None:
        sys.exit("bench_curve: curl not found (apt-get install curl)")
    with open(os.path.join(bundle, "manifest.json")) as f:
        model = json.load(f)["name"]
    bodies = {}
    for n in sizes:
        j = os.path.join(args.bodies, "body_%d.json" % n)
        v = os.path.join(args.bodies, "body_%d.vcf.gz" % n)
        for p in (j, v):
            if not os.path.isfile(p):
                sys.exit("bench_curve: %s missing (tools/make_bench_bodies.py"
                         " --bundle %s --out %s)" % (p, args.bundle,
                                                      args.bodies))
        bodies[n] = (j, v)
    biggest = max(os.path.getsize(bodies[n][0]) for n in sizes)
    extra = []
    if biggest > DEFAULT_MAX_BODY_BYTES:
        extra += ["--max-body-bytes", str(biggest + (1 << 20))]
    if 2 * biggest > DEFAULT_MAX_BODY_MEMORY_BYTES:
        extra += ["--max-body-memory-bytes", str(2 * biggest)]

    tmp = tempfile.mkdtemp(prefix="bench_curve.")
    rows = []
    daemon = Daemon(daemon_exe, bundle, args.workers, extra, tmp)
    print("load average at start: %s (%d cores; other load skews every "
          "figure)" % (loadavg(), os.cpu_count()))
    print("CLI: %s predict --model %s (--input|--vcf) BODY --threads %d "
          "--compact --output FILE" % (cli, args.bundle, args.threads))
    print("HTTP: %s (a fresh daemon per size and input)"
          % " ".join(daemon.cmd))
    idle = []
    try:
        for n in sizes:
            runs = args.runs
            ref = None
            for inp, path, flag, ctype in (
                    ("json", bodies[n][0], "--input", "application/json"),
                    ("vcf", bodies[n][1], "--vcf", "application/gzip")):
                out = os.path.join(tmp, "answer.json")
                walls, peaks = [], []
                for _ in range(runs):
                    w, p = run_cli([cli, "predict", "--model", bundle, flag,
                                    path, "--threads", str(args.threads),
                                    "--compact", "--output", out])
                    got = check_answer(out, n, ref, inp == "vcf")
                    ref = ref or got
                    walls.append(w)
                    peaks.append(p)
                rows.append({"samples": n, "input": inp, "front_end": "cli",
                             "runs": runs, "total_s": median(walls),
                             "min_s": min(walls), "max_s": max(walls),
                             "peak_bytes": median(peaks)})
                report(rows[-1])
            for inp, path, ctype in (
                    ("json", bodies[n][0], "application/json"),
                    ("vcf", bodies[n][1], "application/gzip")):
                daemon.start()
                idle.append(daemon.vmhwm())
                url = "http://127.0.0.1:%d/v1/models/%s/predict" % (
                    daemon.port, model)
                out = os.path.join(tmp, "answer.json")
                walls = []
                for _ in range(runs):
                    walls.append(post(url, path, ctype, out))
                    check_answer(out, n, ref, inp == "vcf")
                peak = daemon.vmhwm()
                daemon.stop()
                rows.append({"samples": n, "input": inp, "front_end": "http",
                             "runs": runs, "total_s": median(walls),
                             "min_s": min(walls), "max_s": max(walls),
                             "peak_bytes": peak})
                report(rows[-1])
    except Failure as e:
        print("bench-curve: FAILED: %s" % e)
        return 1
    finally:
        daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("load average at end: %s" % loadavg())
    print("\n== cost curve (medians; HTTP peak = the daemon's VmHWM, of "
          "which %.1f MB idle with the model loaded) ==" % (
              median(idle) / 1e6))
    print(table(rows, markdown=False))
    if args.markdown:
        print()
        print(table(rows, markdown=True))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "idle_daemon_bytes": median(idle),
                       "cli_threads": args.threads,
                       "daemon_workers": args.workers,
                       "daemon_extra_flags": extra}, f, indent=1)
            f.write("\n")
    print("bench-curve: every answer checked (%d rows)" % len(rows))
    return 0


def report(r):
    print("  %6d %-4s %-4s %d run%s: %8.3f s (%.3f..%.3f), peak %7.1f MB"
          % (r["samples"], r["input"], r["front_end"], r["runs"],
             "" if r["runs"] == 1 else "s", r["total_s"], r["min_s"],
             r["max_s"], r["peak_bytes"] / 1e6), flush=True)


def table(rows, markdown):
    head = ["samples", "input", "front end", "runs", "total s", "ms/sample",
            "peak MB", "MB/sample"]
    lines = []
    for r in rows:
        n = r["samples"]
        lines.append(["{:,}".format(n), r["input"].upper(),
                      r["front_end"].upper(), str(r["runs"]),
                      "%.3f" % r["total_s"],
                      "%.3f" % (r["total_s"] * 1e3 / n),
                      "%.1f" % (r["peak_bytes"] / 1e6),
                      "%.4f" % (r["peak_bytes"] / 1e6 / n)])
    if markdown:
        out = ["| " + " | ".join(head) + " |",
               "|" + "|".join("---:" if i in (0, 3, 4, 5, 6, 7) else "---"
                              for i in range(len(head))) + "|"]
        out += ["| " + " | ".join(x) + " |" for x in lines]
        return "\n".join(out)
    widths = [max(len(h), *(len(x[i]) for x in lines))
              for i, h in enumerate(head)]
    fmt = "  ".join("%%%ds" % w for w in widths)
    return "\n".join([fmt % tuple(head)] + [fmt % tuple(x) for x in lines])


if __name__ == "__main__":
    sys.exit(main())
