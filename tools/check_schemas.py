#!/usr/bin/python3
"""Check the JSON schemas against the files and the program they describe.

    tools/check_schemas.py [CLI]        (CLI defaults to build/genorisk)

1. docs/manifest.schema.json and every schema in openapi.yaml are valid JSON
   Schema (draft 2020-12); openapi.yaml's Manifest equals the manifest schema.
2. Every example in those schemas validates against its own schema.
3. Every manifest.json under models/ and tests/fixtures/ validates.
4. Manifests the loader refuses (upper-case name, unknown key, pgs-catalog
   with features, ...) are refused by the schema, and a few unusual ones the
   loader accepts are accepted; where the CLI exists, `genorisk models
   validate` is run on each to confirm the schema and core/manifest.c agree.
5. Real CLI output: for each models/*/example.json, the request validates
   against PredictRequest and `genorisk predict`'s output (with and without
   explanations) against PredictResponse; `genorisk models show` against
   ModelDetail.
6. The live daemon (genoriskd beside the CLI) against openapi.yaml's paths:
   every example under paths validates; on 127.0.0.1:0, every GET/HEAD
   endpoint's answer, predict for every example.json (equal to the CLI's
   output plus request_id), the problem bodies of 400, 404, 405, 413, 415 and
   422, request ids, logs (fields; no sample ids), SIGHUP reload (success and
   failure), 503 overloaded (--workers 1 --queue-depth 1), and the drain after
   SIGTERM (/readyz and predict 503 not-ready on open connections, the request
   in flight finishing, exit 0). VCF uploads (a VCF made from cad-pgs-demo's
   scoring file, chromosomes with and without "chr"): every VCF media type and
   multipart/form-data, plain, gzip, BGZF and (with bcftools) BCF, each answer
   a PredictResponse equal to `genorisk predict --vcf`'s; the query
   parameters; the VCF problems (400, 413 by Content-Length and chunked, 415,
   422 for garbage, no samples, unknown sample, build mismatch, low coverage;
   503 when the spool cannot be created); --tmp-dir left empty; no VCF sample
   id in the log. group_by=locus on a PGS Catalog file with locus_name
   (tests/fixtures/pgs000001), as the CLI answers, and its 400s. Every
   response code documented under paths but 500 must have been seen.

Prints one line per check and closes with "schemas: N passed, M failed";
exits 1 if anything failed. Needs only Debian's python3-yaml and
python3-jsonschema (4.10 in Debian 12: $refs are resolved with RefResolver).
"""

import copy
import glob
import gzip
import http.client
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zlib

try:
    import jsonschema
    import yaml
    from jsonschema import Draft202012Validator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from jsonschema import RefResolver
except ImportError as e:
    sys.stderr.write("check_schemas: %s; install the Debian packages python3-yaml and "
                     "python3-jsonschema\n" % e)
    sys.exit(2)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST_SCHEMA = os.path.join(REPO, "docs", "manifest.schema.json")
OPENAPI = os.path.join(REPO, "openapi.yaml")


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, label):
        self.passed += 1
        print("ok   %s" % label)

    def fail(self, label, why):
        self.failed += 1
        print("FAIL %s: %s" % (label, why))

    def check(self, label, fn):
        """Runs fn(); a falsy return or an exception is a failure."""
        try:
            why = fn()
        except Exception as e:  # report and go on with the other checks
            why = "%s: %s" % (type(e).__name__, e)
        if why:
            self.fail(label, why)
        else:
            self.ok(label)


def first_error(validator, instance):
    """None when instance is valid, else a one-line description of the first error."""
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    e = errors[0]
    where = "/".join(str(p) for p in e.absolute_path) or "(root)"
    return "%s: %s" % (where, e.message)


def make_validator(schema, openapi_doc=None):
    """A draft 2020-12 validator; $refs like #/components/schemas/X resolve in openapi_doc."""
    if openapi_doc is None:
        return Draft202012Validator(schema)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        resolver = RefResolver(base_uri="", referrer=openapi_doc)
        return Draft202012Validator(schema, resolver=resolver)


def rel(path):
    return os.path.relpath(path, REPO)


def run_cli(cli, args, stdin=None):
    p = subprocess.run([cli] + args, cwd=REPO, input=stdin, capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


# ---- manifests the loader refuses or accepts, as changes to a good one ----

def _set(key, value):
    return lambda m: m.__setitem__(key, value)


def _drop(key):
    return lambda m: m.pop(key, None)


def _all(*fns):
    def apply(m):
        for f in fns:
            f(m)
    return apply


# (label, base bundle, change): the schema and the loader must both refuse.
INVALID = [
    ("name with an upper-case letter", "cad-logit-demo", _set("name", "Cad-logit")),
    ("unknown key", "cad-logit-demo", _set("comment", "not a manifest key")),
    ("pgs-catalog with features", "cad-pgs-demo", _set("features", "features.tsv")),
    ("pgs-catalog with task classification", "cad-pgs-demo", _set("task", "classification")),
    ("features missing for genorisk-linear", "cad-logit-demo", _drop("features")),
    ("features empty for genorisk-linear", "cad-logit-demo", _set("features", "")),
    ("name starting with '-'", "cad-logit-demo", _set("name", "-cad")),
    ("name of 65 characters", "cad-logit-demo", _set("name", "a" * 65)),
    ("empty version", "cad-logit-demo", _set("version", "")),
    ("artifact with a '/'", "cad-logit-demo", _set("artifact", "../model.json")),
    ("artifact '..'", "cad-logit-demo", _set("artifact", "..")),
    ("genome_build hg38", "cad-logit-demo", _set("genome_build", "hg38")),
    ("unknown format", "cad-logit-demo", _set("format", "lightgbm")),
    ("unknown task", "cad-logit-demo", _set("task", "survival")),
    ("min_coverage above 1", "cad-logit-demo", _set("min_coverage", 1.5)),
    ("min_coverage not a number", "cad-logit-demo", _set("min_coverage", "0.8")),
    ("impute median", "cad-logit-demo", _set("impute", "median")),
    ("impute null", "cad-xgb-demo", _set("impute", None)),
    ("description null", "cad-logit-demo", _set("description", None)),
    ("name missing", "cad-logit-demo", _drop("name")),
    ("pgs-catalog with features \"\"", "cad-pgs-demo", _set("features", "")),
    ("risk without reference", "cad-logit-demo", _set("risk", {"prevalence": 0.1, "auc": 0.6})),
    ("reference_score without reference", "cad-logit-demo", _set("reference_score", "x")),
    ("synthetic a string", "cad-logit-demo", _set("synthetic", "yes")),
    ("reference not a bundle name", "cad-pgs-demo", _set("reference", "../x")),
    ("risk auc without prevalence", "cad-pgs-demo", _set("risk", {"auc": 0.6})),
    ("risk auc under 0.5", "cad-pgs-demo", _set("risk", {"prevalence": 0.1, "auc": 0.4})),
    ("risk with an unknown key", "cad-pgs-demo", _set("risk", {"prevalance": 0.1})),
    ("risk categories not from 0", "cad-pgs-demo",
     _set("risk", {"categories": [{"name": "a", "from": 10}]})),
]

# (label, base bundle, change): the schema and the loader must both accept.
VALID = [
    ("$schema of any type", "cad-logit-demo", _set("$schema", 5)),
    ("min_coverage 0", "cad-logit-demo", _set("min_coverage", 0)),
    ("min_coverage 1", "cad-logit-demo", _set("min_coverage", 1)),
    ("name ending in '-', 64 characters", "cad-logit-demo", _set("name", "a" * 63 + "-")),
    ("description absent", "cad-logit-demo", _drop("description")),
    ("all optional keys", "cad-pgs-demo",
     _all(_set("$schema", "../../docs/manifest.schema.json"), _set("min_coverage", 0.9),
          _set("impute", "none"))),
    ("impute mean on xgboost-json", "cad-xgb-demo", _set("impute", "mean")),
    ("risk by odds ratio, z", "cad-pgs-demo",
     _set("risk", {"prevalence": 0.1, "odds_ratio_per_sd": 1.5, "z": "z"})),
    ("risk categories alone", "cad-pgs-demo",
     _set("risk", {"categories": [{"name": "lower", "from": 0}, {"name": "top", "from": 90}]})),
    ("synthetic false", "cad-logit-demo", _set("synthetic", False)),
]


def loader_verdict(cli, base, manifest):
    """Runs `genorisk models validate` on a copy of models/BASE with this manifest.
    Returns (accepted, output line)."""
    tmp = tempfile.mkdtemp(prefix="check_schemas.")
    try:
        bundle = os.path.join(tmp, "bundle")
        shutil.copytree(os.path.join(REPO, "models", base), bundle)
        ref = manifest.get("reference") if isinstance(manifest, dict) else None
        if isinstance(ref, str) and os.path.isdir(os.path.join(REPO, "models", ref)):
            shutil.copytree(os.path.join(REPO, "models", ref), os.path.join(tmp, ref))
        with open(os.path.join(bundle, "manifest.json"), "w", encoding="utf-8") as f:
            json.dump(manifest, f)
        rc, out, err = run_cli(cli, ["models", "validate", bundle])
        line = (out + err).strip().replace(tmp + os.sep, "")
        return rc == 0 and line.startswith("ok"), line
    finally:
        shutil.rmtree(tmp, ignore_errors=True)



# ---- 6. the live daemon against openapi.yaml's paths ----

PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.yaml", "/v1/models", "/v1/models/{name}",
         "/v1/models/{name}/predict", "/v1/predict")
METHODS = ("get", "head", "post", "put", "patch", "delete", "options", "trace")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
METRIC_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? '
                         r'(-?[0-9.e+-]+|\+Inf|NaN)$')
METRICS = ("genorisk_requests_total", "genorisk_request_duration_seconds_bucket",
           "genorisk_request_duration_seconds_sum", "genorisk_request_duration_seconds_count",
           "genorisk_queue_depth", "genorisk_workers_busy", "genorisk_predictions_total",
           "genorisk_models_loaded", "genorisk_reloads_total", "genorisk_connections_open",
           "genorisk_connections_refused_total", "process_resident_memory_bytes",
           "process_open_fds", "process_cpu_seconds_total", "process_start_time_seconds")
LOG_FIELDS = ("time", "level", "msg", "request_id", "method", "route", "status", "duration_ms",
              "bytes_in", "bytes_out", "model", "samples")


def deref(doc, node):
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and \
            node["$ref"].startswith("#/") and set(node) <= {"$ref", "description", "summary"}:
        target = doc
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def documented_responses(openapi):
    """{(path, method, code): response object} for every response under paths."""
    out = {}
    for path, item in (openapi.get("paths") or {}).items():
        for method in METHODS:
            op = item.get(method)
            if op:
                for code, resp in (op.get("responses") or {}).items():
                    out[(path, method, str(code))] = deref(openapi, resp)
    return out


def media_examples(media):
    if "example" in media:
        yield "example", media["example"]
    for name, ex in (media.get("examples") or {}).items():
        yield "examples." + name, ex.get("value")


def check_path_examples(c, openapi):
    """Every example of a request or response body under paths validates."""
    for path, item in (openapi.get("paths") or {}).items():
        for method in METHODS:
            op = item.get(method)
            if not op:
                continue
            bodies = [("request", deref(openapi, op.get("requestBody") or {}))]
            bodies += [(code, deref(openapi, r)) for code, r in (op.get("responses") or {}).items()]
            for where, body in bodies:
                for ctype, media in (body.get("content") or {}).items():
                    schema = media.get("schema")
                    for name, value in media_examples(media):
                        label = "openapi.yaml: %s %s %s %s %s" % (method.upper(), path, where,
                                                                   ctype.split(";")[0], name)
                        if schema is None:
                            c.fail(label, "no schema")
                        elif isinstance(value, str):
                            c.check(label, lambda s=schema, v=value: None if s.get("type") ==
                                    "string" else "a string example for a non-string schema")
                        else:
                            c.check(label, lambda s=schema, v=value: first_error(
                                make_validator(s, openapi), v))


# ---- VCF files for the live checks ----

COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}


def pgs_rows(scoring):
    """The variant rows of a PGS Catalog scoring file, as dicts."""
    rows, header = [], None
    with open(scoring, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            cells = line.rstrip("\n").split("\t")
            if header is None:
                header = cells
            else:
                rows.append(dict(zip(header, cells)))
    return rows


def demo_vcf(scoring, samples, rows=None, contig_line="##contig=<ID=1,length=248956422>"):
    """A VCF 4.3 of every variant of the scoring file (or the first `rows`):
    odd chromosomes spelled 1, 3, ..., even ones chr2, chr4, ...; every tenth
    record from the 4th has REF and ALT swapped, every tenth from the 7th is
    written on the other strand; the first sample misses a call in 25.
    contig_line (the chr1 ##contig line) says GRCh38 by chr1's length."""
    variants = pgs_rows(scoring)[:rows]
    name = lambda c: "chr%s" % c if c.isdigit() and int(c) % 2 == 0 else c
    out = ["##fileformat=VCFv4.3", '##FILTER=<ID=PASS,Description="All filters passed">',
           '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']
    for c in sorted({v["chr_name"] for v in variants}, key=lambda c: int(c) if c.isdigit() else 99):
        out.append(contig_line if c == "1" else "##contig=<ID=%s>" % name(c))
    out.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples))
    calls = ("0/0", "0/1", "1/1", "0|1", "1|0")
    for i, v in enumerate(variants):
        ref, alt = v["other_allele"], v["effect_allele"]
        if i % 10 == 3:
            ref, alt = alt, ref
        elif i % 10 == 6 and ref in COMPLEMENT and alt in COMPLEMENT:
            ref, alt = COMPLEMENT[ref], COMPLEMENT[alt]
        gts = [calls[(i * 7 + k * 3) % len(calls)] for k in range(len(samples))]
        if i % 25 == 0:
            gts[0] = "./."
        out.append("\t".join([name(v["chr_name"]), v["chr_position"], ".", ref, alt, ".", "PASS",
                               ".", "GT"] + gts))
    return ("\n".join(out) + "\n").encode()


BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def bgzf(data):
    """data compressed as BGZF (what bgzip writes), EOF block included."""
    out = []
    for i in range(0, len(data), 0xff00):
        chunk = data[i:i + 0xff00]
        z = zlib.compressobj(6, zlib.DEFLATED, -15)
        comp = z.compress(chunk) + z.flush()
        out.append(struct.pack("<BBBBIBBHBBHH", 31, 139, 8, 4, 0, 0, 255, 6, 66, 67, 2,
                               len(comp) + 25) + comp +
                   struct.pack("<II", zlib.crc32(chunk) & 0xffffffff, len(chunk)))
    out.append(BGZF_EOF)
    return b"".join(out)


def multipart(parts, boundary="genorisk-check-8d1f0c"):
    """(body, Content-Type) of a multipart/form-data body; parts: (name, filename, bytes)."""
    body = []
    for name, filename, data in parts:
        disp = 'form-data; name="%s"' % name + ('; filename="%s"' % filename if filename else "")
        body.append(b"--" + boundary.encode() + b"\r\nContent-Disposition: " + disp.encode() +
                    b"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    body.append(b"--" + boundary.encode() + b"--\r\n")
    return b"".join(body), "multipart/form-data; boundary=" + boundary


class Daemon:
    """genoriskd on 127.0.0.1:0; stderr is collected by a thread (the log)."""

    def __init__(self, exe, args, models):
        self.lines = []
        self.port = None
        self.proc = subprocess.Popen([exe, "--models", models, "--listen", "127.0.0.1:0"] + args,
                                     cwd=REPO, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._listening = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._listening.wait(15) or self.port is None:
            self.kill()
            raise RuntimeError("no \"listening\" log line: %s" % " | ".join(self.lines[-3:]))

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if self.port is None and '"msg":"listening"' in line:
                try:
                    self.port = int(json.loads(line)["port"])
                except (ValueError, KeyError):
                    pass
                self._listening.set()
        self._listening.set()

    def log(self):
        """The JSON log lines so far, parsed."""
        out = []
        for line in list(self.lines):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def wait_log(self, msg, count=1, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if sum(1 for e in self.log() if e.get("msg") == msg) >= count:
                return True
            time.sleep(0.02)
        return False

    def conn(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def stop(self, timeout=40):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return "still running %ds after SIGTERM" % timeout
        self._reader.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)


def send(conn, method, path, body=None, headers=None):
    """One request on conn (kept open); returns a Reply."""
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return Reply(r.status, r.getheaders(), r.read())


class Live:
    def __init__(self, c, cli, daemon, openapi):
        self.c = c
        self.cli = cli
        self.exe = daemon
        self.openapi = openapi
        self.documented = documented_responses(openapi)
        self.seen = set()
        self.examples = sorted(glob.glob(os.path.join(REPO, "models", "*", "example.json")))
        self.secrets = set()  # sample ids sent: the log must never hold them
        self.tmp = None

    # -- helpers --

    def call(self, d, method, path, template, body=None, headers=None):
        with_ct = dict(headers or {})
        if body is not None and not any(k.lower() == "content-type" for k in with_ct):
            with_ct["Content-Type"] = "application/json"
        conn = d.conn()
        try:
            r = send(conn, method, path, body, with_ct)
        finally:
            conn.close()
        self.note(template, method, r)
        return r

    def note(self, template, method, r):
        """Records the answer; check_coverage compares them with openapi.yaml."""
        key = (template, method.lower(), str(r.status))
        if r.status == 405 and key not in self.documented:
            # a 405 for another method is documented on the path's GET or POST
            for m in ("get", "post"):
                if (template, m, "405") in self.documented:
                    key = (template, m, "405")
        self.seen.add(key)

    def expect(self, r, template, method, status, ctype=None, slug=None, field=None,
               request_id=None, documented_on=None):
        """None when r (the answer to `method`) is as documented under paths[template]
        [documented_on or method], else why not."""
        if r.status != status:
            return "status %d, expected %d: %s" % (r.status, status, r.body[:300])
        doc_method = documented_on or method
        resp = self.documented.get((template, doc_method, str(status)))
        if resp is None:
            return "%s %s %d is not documented in openapi.yaml" % (doc_method.upper(), template,
                                                                   status)
        rid = r.headers.get("x-request-id", "")
        if request_id is not None and rid != request_id:
            return "X-Request-ID %r, expected %r" % (rid, request_id)
        if request_id is None and not UUID4.match(rid):
            return "X-Request-ID %r is not a lower-case UUID v4" % rid
        if r.headers.get("cache-control") != "no-store":
            return "Cache-Control %r" % r.headers.get("cache-control")
        for name in (resp.get("headers") or {}):
            if name.lower() not in r.headers:
                return "documented header %s is missing" % name
        if "allow" in r.headers or status == 405:
            want = "POST" if template.endswith("/predict") else "GET, HEAD"
            if r.headers.get("allow") != want:
                return "Allow %r, expected %r" % (r.headers.get("allow"), want)
        if status == 503 and r.headers.get("retry-after") != "1":
            return "Retry-After %r" % r.headers.get("retry-after")
        content = resp.get("content") or {}
        got_ct = r.headers.get("content-type", "")
        if content:
            if got_ct not in content:
                return "Content-Type %r is not among the documented %s" % (got_ct, list(content))
            if ctype and got_ct.split(";")[0] != ctype:
                return "Content-Type %r, expected %s" % (got_ct, ctype)
        if method == "head":
            return "HEAD answered a body" if r.body else None
        if not content:
            return None
        schema = content[got_ct]["schema"]
        if got_ct.split(";")[0] in ("application/json", "application/problem+json"):
            doc = r.json()
            err = first_error(make_validator(schema, self.openapi), doc)
            if err:
                return err
            if "request_id" in doc and doc["request_id"] != rid:
                return "request_id %r differs from X-Request-ID %r" % (doc["request_id"], rid)
            if got_ct == "application/problem+json":
                want = "urn:genorisk:problem:" + (slug or "")
                if slug and doc["type"] != want:
                    return "type %r, expected %r" % (doc["type"], want)
                if doc["status"] != status:
                    return "status %r in the body" % doc["status"]
                if doc.get("field") != field:
                    return "field %r, expected %r" % (doc.get("field"), field)
        elif schema.get("type") == "string":
            r.body.decode("utf-8")
        return None

    def check(self, label, fn):
        self.c.check("live: " + label, fn)

    # -- the runs --

    def run(self):
        self.tmp = tempfile.mkdtemp(prefix="check_schemas.")
        daemons = []
        try:
            self.run_main(daemons)
            self.run_limits(daemons)
            self.run_auth(daemons)
            self.run_group_by(daemons)
            self.run_vcf(daemons)
            self.run_overload_and_drain(daemons)
        except Exception as e:  # a daemon that would not start: the rest cannot run
            self.c.fail("live", "%s: %s" % (type(e).__name__, e))
        finally:
            for d in daemons:
                d.kill()
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.check_coverage()

    def model_names(self):
        names = []
        for path in sorted(glob.glob(os.path.join(REPO, "models", "*", "manifest.json"))):
            with open(path, encoding="utf-8") as f:
                names.append(json.load(f)["name"])
        return sorted(names)

    def run_main(self, daemons):
        d = Daemon(self.exe, [], "models")
        daemons.append(d)
        names = self.model_names()
        T = self.expect

        def get_all(path, template, schema_check=None, ctype="application/json"):
            def fn():
                r = self.call(d, "GET", path, template)
                why = T(r, template, "get", 200, ctype)
                if why or not schema_check:
                    return why
                return schema_check(r)
            self.check("GET %s" % path, fn)
            self.check("HEAD %s" % path, lambda: T(self.call(d, "HEAD", path, template),
                                                    template, "head", 200))

        get_all("/healthz", "/healthz",
                lambda r: None if r.json() == {"status": "ok"} else "body %r" % r.body)
        get_all("/readyz", "/readyz",
                lambda r: None if r.json()["models"] == len(names) else "models %r, expected %d"
                % (r.json()["models"], len(names)))

        def same_contract(r):
            with open(OPENAPI, "rb") as f:
                if r.body != f.read():
                    return "the daemon serves another openapi.yaml: rebuild it with make"
            return None
        get_all("/openapi.yaml", "/openapi.yaml", same_contract, "application/yaml")

        def listed(r):
            got = [m["name"] for m in r.json()["models"]]
            return None if got == names else "models %s, expected %s" % (got, names)
        get_all("/v1/models", "/v1/models", listed)
        self.check("GET /v1/models/ answers as /v1/models",
                   lambda: T(self.call(d, "GET", "/v1/models/", "/v1/models"), "/v1/models",
                             "get", 200))
        for name in names:
            def detail(r, name=name):
                rc, out, err = run_cli(self.cli, ["models", "show", os.path.join("models", name)])
                if rc:
                    return "models show: exit %d" % rc
                cli_doc = json.loads(out)
                cli_doc.pop("directory", None)
                got = r.json()
                got.pop("request_id")
                return None if got == cli_doc else "differs from `genorisk models show`"
            get_all("/v1/models/" + name, "/v1/models/{name}", detail)

        # request ids
        def own_id():
            rid = "clinic-42.run_7-" + "x" * 112  # 128 characters
            r = self.call(d, "GET", "/readyz", "/readyz", headers={"X-Request-ID": rid})
            return T(r, "/readyz", "get", 200, request_id=rid)
        self.check("X-Request-ID of 128 allowed characters is echoed", own_id)
        for label, rid in (("with a space", "bad id"), ("of 129 characters", "a" * 129),
                           ("with a '/'", "a/b")):
            self.check("X-Request-ID %s is replaced by a UUID v4" % label,
                       lambda rid=rid: T(self.call(d, "GET", "/readyz", "/readyz",
                                                   headers={"X-Request-ID": rid}),
                                         "/readyz", "get", 200))

        # predict: every example, as the CLI answers it
        P = "/v1/models/{name}/predict"
        for ex in self.examples:
            bundle = os.path.dirname(ex)
            with open(ex, encoding="utf-8") as f:
                request = json.load(f)
            with open(os.path.join(bundle, "manifest.json"), encoding="utf-8") as f:
                name = json.load(f)["name"]
            for s in request["samples"]:
                if s.get("id"):
                    self.secrets.add(s["id"])
            for query, body in (("", request), ("?explain=false", request),
                                ("?top_k=0", dict(request, explain=True)),
                                ("?explain=true&top_k=2", dict(request, explain=False))):
                def fn(name=name, query=query, body=body, bundle=bundle):
                    text = json.dumps(body)
                    r = self.call(d, "POST", "/v1/models/%s/predict%s" % (name, query), P, text,
                                  {"Content-Type": "application/json; charset=utf-8"})
                    why = T(r, P, "post", 200, "application/json")
                    if why:
                        return why
                    cli_body = dict(body)
                    if "explain" in query:
                        cli_body["explain"] = "explain=false" not in query
                    if "top_k=" in query:
                        cli_body["top_k"] = int(query.split("top_k=")[1])
                    rc, out, err = run_cli(self.cli, ["predict", "--model", rel(bundle),
                                                      "--input", "-", "--compact"],
                                           json.dumps(cli_body))
                    if rc:
                        return "genorisk predict: exit %d: %s" % (rc, err.strip())
                    got = r.json()
                    got.pop("request_id")
                    return None if got == json.loads(out) else "differs from `genorisk predict`"
                self.check("POST predict %s%s: 200 PredictResponse, as the CLI"
                           % (rel(ex), query), fn)

        # the report: one sample of every example, as HTML and as the SVG
        # waterfall (Accept, or format=); several samples are refused
        for ex in self.examples:
            bundle = os.path.dirname(ex)
            with open(ex, encoding="utf-8") as f:
                request = json.load(f)
            with open(os.path.join(bundle, "manifest.json"), encoding="utf-8") as f:
                name = json.load(f)["name"]
            one = json.dumps(dict(request, samples=request["samples"][:1]))
            for how, headers, ctype, start in (
                    ("Accept: text/html", {"Accept": "text/html"}, "text/html", b"<!DOCTYPE html>"),
                    ("?format=svg", {}, "image/svg+xml", b"<svg")):
                def fn(name=name, how=how, headers=headers, ctype=ctype, start=start):
                    query = "?format=svg" if how.startswith("?") else ""
                    r = self.call(d, "POST", "/v1/models/%s/predict%s" % (name, query), P, one,
                                  dict(headers, **{"Content-Type": "application/json"}))
                    why = T(r, P, "post", 200, ctype)
                    if why:
                        return why
                    if not r.body.lstrip().startswith(start):
                        return "the body starts %r" % r.body[:40]
                    return None
                self.check("POST predict %s, one sample, %s: 200 %s" % (rel(ex), how, ctype), fn)
            if len(request["samples"]) > 1:
                problem_body = json.dumps(request)

                def several(name=name, body=problem_body):
                    r = self.call(d, "POST", "/v1/models/%s/predict?format=html" % name, P, body,
                                  {"Content-Type": "application/json"})
                    return T(r, P, "post", 422, "application/problem+json", "invalid-input",
                             field="samples")
                self.check("POST predict %s?format=html, several samples: 422" % rel(ex),
                           several)

        # problems
        xgb = "/v1/models/%s/predict" % (names[-1] if names else "x")
        logit = "/v1/models/%s/predict" % (names[0] if names else "x")
        self.secrets.add("SECRET-ID-17")

        def problem(label, method, path, template, status, slug, body=None, headers=None,
                    field=None, extra=None):
            def fn():
                r = self.call(d, method, path, template, body, headers)
                why = T(r, template, method.lower(), status, None if method == "HEAD" else
                        "application/problem+json", slug, field)
                if why or method == "HEAD":
                    return why
                doc = r.json()
                if doc["instance"] != path.split("?")[0]:
                    return "instance %r, expected %r" % (doc["instance"], path.split("?")[0])
                return extra(doc) if extra else None
            self.check("%s %s: %d %s" % (method, label, status, slug), fn)

        problem("predict, body cut short", "POST", logit, P, 400, "invalid-json",
                '{"samples":[{"id":"SECRET-ID-17"',
                extra=lambda doc: "the detail echoes the body" if "SECRET" in doc["detail"]
                else None)
        problem("predict, duplicate key", "POST", logit, P, 400, "invalid-json",
                '{"samples":[],"samples":[]}')
        problem("predict?top_k=-1", "POST", logit + "?top_k=-1", P, 400, "invalid-parameter",
                "{}", field="top_k")
        problem("predict?top_k=ten", "POST", logit + "?top_k=ten", P, 400, "invalid-parameter",
                "{}", field="top_k")
        problem("predict?explain=yes", "POST", logit + "?explain=yes", P, 400,
                "invalid-parameter", "{}", field="explain")
        problem("/v1/models/nope", "GET", "/v1/models/nope", "/v1/models/{name}", 404,
                "model-not-found")
        problem("/v1/models/nope", "HEAD", "/v1/models/nope", "/v1/models/{name}", 404,
                "model-not-found")
        problem("/v1/models/nope/predict", "POST", "/v1/models/nope/predict", P, 404,
                "model-not-found", "{}")
        for method, path in (("GET", "/nope"), ("POST", "/v2/models"),
                             ("GET", "/v1/models/%s/" % (names[0] if names else "x"))):
            def route(method=method, path=path):
                r = self.call(d, method, path, "other", "{}" if method == "POST" else None)
                if r.status != 404 or r.headers.get("content-type") != "application/problem+json":
                    return "status %d %s" % (r.status, r.headers.get("content-type"))
                doc = r.json()
                err = first_error(make_validator({"$ref": "#/components/schemas/Problem"},
                                                 self.openapi), doc)
                if err:
                    return err
                if doc["type"] != "urn:genorisk:problem:not-found" or doc["instance"] != path:
                    return "type %r, instance %r" % (doc["type"], doc["instance"])
                return None
            self.check("%s %s: 404 not-found (unknown route) is a Problem" % (method, path),
                       route)
        for path, template in (("/healthz", "/healthz"), ("/readyz", "/readyz"),
                               ("/metrics", "/metrics"), ("/openapi.yaml", "/openapi.yaml"),
                               ("/v1/models", "/v1/models"),
                               ("/v1/models/nope", "/v1/models/{name}")):
            for method in ("DELETE", "POST"):
                def wrong(method=method, path=path, template=template):
                    r = self.call(d, method, path, template, "{}" if method == "POST" else None)
                    return T(r, template, method.lower(), 405, "application/problem+json",
                             "method-not-allowed", documented_on="get")
                self.check("%s %s: 405 method-not-allowed, Allow: GET, HEAD" % (method, path),
                           wrong)
        for method in ("GET", "HEAD", "PUT"):
            def wrong_predict(method=method):
                r = self.call(d, method, xgb, P)
                return T(r, P, method.lower(), 405, None if method == "HEAD" else
                         "application/problem+json", "method-not-allowed",
                         documented_on="post")
            self.check("%s predict: 405 method-not-allowed, Allow: POST" % method, wrong_predict)

        def too_large():
            conn = d.conn()
            try:
                conn.putrequest("POST", logit)
                conn.putheader("Content-Type", "application/json")
                conn.putheader("Content-Length", str(64 << 20))
                conn.endheaders()
                resp = conn.getresponse()
                r = Reply(resp.status, resp.getheaders(), resp.read())
            finally:
                conn.close()
            self.note(P, "POST", r)
            return T(r, P, "post", 413, "application/problem+json", "body-too-large")
        self.check("POST predict, Content-Length 64 MiB: 413 body-too-large before the body",
                   too_large)
        problem("predict, text/plain", "POST", logit, P, 415, "unsupported-media-type", "{}",
                {"Content-Type": "text/plain"})

        # a panel: every example's model at once, as the CLI scores each
        PP = "/v1/predict"
        if self.examples:
            with open(self.examples[0], encoding="utf-8") as f:
                panel_body = f.read()
            models = "&".join("model=" + n for n in names)

            def panel():
                r = self.call(d, "POST", PP + "?" + models + "&explain=false&allow_low_coverage=true",
                              PP, panel_body,
                              {"Content-Type": "application/json"})
                why = T(r, PP, "post", 200, "application/json")
                if why:
                    return why
                got = r.json()
                if [m["model"]["name"] for m in got["models"]] != names:
                    return "models %r, expected %r" % ([m["model"]["name"] for m in
                                                        got["models"]], names)
                for m, name in zip(got["models"], names):
                    rc, out, err = run_cli(self.cli, ["predict", "--model", os.path.join(
                        "models", name), "--input", "-", "--compact", "--explain", "false",
                        "--allow-low-coverage"], panel_body)
                    if rc:
                        return "genorisk predict %s: exit %d: %s" % (name, rc, err.strip())
                    if m != json.loads(out):
                        return "%s: the panel's document differs from the CLI's" % name
                return None
            self.check("POST /v1/predict, every demo model: 200 {models}, each as the CLI",
                       panel)
        problem("/v1/predict without a model", "POST", PP, PP, 400, "invalid-parameter", "{}",
                {"Content-Type": "application/json"}, field="model")
        problem("/v1/predict, a model named twice", "POST", PP + "?model=a&model=a", PP, 400,
                "invalid-parameter", "{}", {"Content-Type": "application/json"}, field="model")
        problem("/v1/predict?model=nope", "POST", PP + "?model=nope", PP, 404, "model-not-found",
                "{}", {"Content-Type": "application/json"})
        problem("/v1/predict, text/plain", "POST", PP + "?model=%s" % (names[0] if names else "x"),
                PP, 415, "unsupported-media-type", "{}", {"Content-Type": "text/plain"})
        problem("/v1/predict, samples not an array", "POST",
                PP + "?model=%s" % (names[0] if names else "x"), PP, 422, "invalid-input",
                '{"samples": 5}', {"Content-Type": "application/json"}, field="samples")
        for method in ("GET", "PUT"):
            def wrong_panel(method=method):
                r = self.call(d, method, PP, PP)
                return T(r, PP, method.lower(), 405, "application/problem+json",
                         "method-not-allowed", documented_on="post")
            self.check("%s /v1/predict: 405 method-not-allowed, Allow: POST" % method, wrong_panel)
        problem("predict, application/jsonx", "POST", logit, P, 415, "unsupported-media-type",
                "{}", {"Content-Type": "application/jsonx"})
        for label, body, field in (
                ("no samples", {"samples": []}, "samples"),
                ("unknown key", {"samples": [{"genotypes": {}}], "foo": 1}, "foo"),
                ("dosages of the wrong length", {"samples": [{"dosages": [1]}]},
                 "samples[0].dosages"),
                ("body an array", [], None),
                ("top_k 10.0", {"samples": [{"genotypes": {}}], "top_k": 10.0}, "top_k")):
            problem("predict, " + label, "POST", logit, P, 422, "invalid-input",
                    json.dumps(body), field=field)

        def bad_genotype():
            r = self.call(d, "GET", "/v1/models", "/v1/models")
            models = {m["name"]: m for m in r.json()["models"]}
            name = names[0]
            row = [0] * models[name]["n_features"]
            row[1] = 3
            body = json.dumps({"samples": [{"id": "SECRET-ID-17", "dosages": row}]})
            r = self.call(d, "POST", "/v1/models/%s/predict" % name, P, body)
            return T(r, P, "post", 422, "application/problem+json", "invalid-input",
                     "samples[0].dosages[1]")
        self.check("POST predict, dosage 3: 422 invalid-input", bad_genotype)

        def one_sample_without_coverage():
            r = self.call(d, "GET", "/v1/models", "/v1/models")
            models = {m["name"]: m for m in r.json()["models"]}
            name = names[0]
            row = [0] * models[name]["n_features"]
            body = json.dumps({"samples": [{"dosages": row}, {"genotypes": {}}]})
            r = self.call(d, "POST", "/v1/models/%s/predict" % name, P, body)
            why = T(r, P, "post", 200, "application/json")
            if why:
                return why
            res = r.json()["results"]
            err = res[1].get("error", {})
            if "score" not in res[0] or "score" in res[1] or \
                    err.get("type") != "urn:genorisk:problem:low-coverage":
                return "results %s" % res
            return None
        self.check("POST predict, one of two samples without genotypes: 200, its own error",
                   one_sample_without_coverage)

        # metrics, once there is something to count
        def metrics():
            r = self.call(d, "GET", "/metrics", "/metrics")
            why = T(r, "/metrics", "get", 200, "text/plain")
            if why:
                return why
            if r.headers["content-type"] != "text/plain; version=0.0.4; charset=utf-8":
                return "Content-Type %r" % r.headers["content-type"]
            text = r.body.decode("utf-8")
            for line in text.splitlines():
                if line and not line.startswith("#") and not METRIC_LINE.match(line):
                    return "not an exposition line: %r" % line
            names_seen = {re.split(r"[{ ]", l)[0] for l in text.splitlines()
                          if l and not l.startswith("#")}
            missing = [m for m in METRICS if m not in names_seen]
            if missing:
                return "missing %s" % missing
            for want in ('genorisk_requests_total{route="/v1/models/{name}/predict",code="200"}',
                         'genorisk_requests_total{route="other",code="404"}',
                         'genorisk_models_loaded %d' % len(names),
                         'genorisk_predictions_total{model="%s"}' % names[-1]):
                if want not in text:
                    return "no %s" % want
            return None
        self.check("GET /metrics: Prometheus text with every documented series", metrics)
        self.check("HEAD /metrics", lambda: T(self.call(d, "HEAD", "/metrics", "/metrics"),
                                              "/metrics", "head", 200))

        # SIGHUP: a reload of the same directory succeeds
        def reload_ok():
            d.proc.send_signal(signal.SIGHUP)
            if not d.wait_log("reloaded"):
                return "no \"reloaded\" log line"
            r = self.call(d, "GET", "/metrics", "/metrics")
            if b'genorisk_reloads_total{result="success"} 1' not in r.body:
                return "genorisk_reloads_total{result=\"success\"} is not 1"
            return None
        self.check("SIGHUP: \"reloaded\" logged, reloads_total{result=\"success\"} 1", reload_ok)

        # the log: one line per request, the documented fields, no sample ids
        def log_lines():
            entries = [e for e in d.log() if e.get("msg") == "request"]
            predicts = [e for e in entries if e.get("route") == P and e.get("status") == 200]
            if not predicts:
                return "no request line for a 200 predict"
            missing = [k for k in LOG_FIELDS if k not in predicts[0]]
            if missing:
                return "a predict line lacks %s: %s" % (missing, predicts[0])
            text = "\n".join(d.lines)
            leaked = sorted(s for s in self.secrets if s in text)
            return "the log holds sample ids %s" % leaked if leaked else None
        self.check("log: predict lines carry %s; no sample id anywhere" % ", ".join(LOG_FIELDS),
                   log_lines)

        self.check("SIGTERM: exit 0", lambda: None if d.stop() == 0 else
                   "exit %r" % d.proc.returncode)
        self.check("SIGTERM: \"draining\" and \"stopped\" logged",
                   lambda: None if d.wait_log("draining", timeout=1) and
                   d.wait_log("stopped", timeout=1) else "missing")

    def run_group_by(self, daemons):
        """group_by=locus on a model whose variants name their locus (the PGS
        Catalog's PGS000001, locus_name), as the CLI answers; the groups add
        up to the attributions; 400 for a model naming no gene, and for a
        value that is not a choice."""
        models = os.path.join(self.tmp, "group_by_models")
        os.makedirs(models)
        shutil.copytree(os.path.join(REPO, "tests", "fixtures", "pgs000001"),
                        os.path.join(models, "pgs000001"))
        d = Daemon(self.exe, [], models)
        daemons.append(d)
        T = self.expect
        P = "/v1/models/{name}/predict"
        path = "/v1/models/pgs000001/predict"
        body = {"samples": [{"genotypes": {"rs78540526": 2, "rs75915166": 1, "rs7726159": 2,
                                           "rs10069690": 1, "rs2588809": 0}}],
                "top_k": 0}

        def groups_ok(query, body=body, cli_flags=()):
            r = self.call(d, "POST", path + query, P, json.dumps(body))
            why = T(r, P, "post", 200, "application/json")
            if why:
                return why
            ex = r.json()["results"][0]["explanation"]
            total = sum(a["value"] for a in ex["attributions"])
            if abs(sum(g["value"] for g in ex["groups"]) - total) > 1e-12:
                return "the groups do not add up to the attributions"
            if sum(g["features"] for g in ex["groups"]) != len(ex["attributions"]):
                return "the groups do not hold every feature"
            if not any(g["group"] == "CCND1" and g["features"] == 3 for g in ex["groups"]):
                return "no group CCND1 of 3 features"
            rc, out, err = run_cli(self.cli, ["predict", "--model", "tests/fixtures/pgs000001",
                                              "--input", "-", "--compact",
                                              "--allow-low-coverage"] + list(cli_flags),
                                   json.dumps(body))
            if rc:
                return "genorisk predict: exit %d: %s" % (rc, err.strip())
            got = r.json()
            got.pop("request_id")
            return None if got == json.loads(out) else "differs from `genorisk predict`"

        self.check("POST predict?group_by=locus&allow_low_coverage=true: 200 with groups, "
                   "as the CLI", lambda: groups_ok("?group_by=locus&allow_low_coverage=true",
                                                   cli_flags=("--group-by", "locus")))
        self.check("POST predict, body group_by locus: 200 with groups, as the CLI",
                   lambda: groups_ok("?allow_low_coverage=true",
                                     dict(body, group_by="locus")))
        self.check("GET /v1/models/pgs000001: group_by [locus]",
                   lambda: T(self.call(d, "GET", "/v1/models/pgs000001", "/v1/models/{name}"),
                             "/v1/models/{name}", "get", 200, "application/json") or
                   (None if self.call(d, "GET", "/v1/models/pgs000001", "/v1/models/{name}")
                    .json().get("group_by") == ["locus"] else "group_by is not [locus]"))
        for query in ("?group_by=gene", "?group_by=pathway"):
            self.check("POST predict%s: 400 invalid-parameter" % query,
                       lambda query=query: T(self.call(d, "POST", path + query, P,
                                                       json.dumps(body)),
                                             P, "post", 400, "application/problem+json",
                                             "invalid-parameter", "group_by"))
        self.check("POST predict, body group_by gene: 422 invalid-input",
                   lambda: T(self.call(d, "POST", path, P, json.dumps(dict(body, group_by="gene"))),
                             P, "post", 422, "application/problem+json", "invalid-input",
                             "group_by"))

    def run_auth(self, daemons):
        """--auth-tokens with --auth-metrics: 401 where openapi.yaml says, 200 with a token."""
        token = "check-schemas-token-5f1e2d"
        tokens = os.path.join(self.tmp, "tokens")
        with open(tokens, "w") as f:
            f.write(token + "\n")
        d = Daemon(self.exe, ["--auth-tokens", tokens, "--auth-metrics"],
                   os.path.join(REPO, "models"))
        daemons.append(d)
        T = self.expect
        name = "cad-logit-demo"
        with open(os.path.join(REPO, "models", name, "example.json")) as f:
            example = f.read()
        guarded = (("GET", "/v1/models", "/v1/models", None),
                   ("HEAD", "/v1/models", "/v1/models", None),
                   ("GET", "/v1/models/" + name, "/v1/models/{name}", None),
                   ("HEAD", "/v1/models/" + name, "/v1/models/{name}", None),
                   ("GET", "/metrics", "/metrics", None),
                   ("HEAD", "/metrics", "/metrics", None),
                   ("POST", "/v1/models/%s/predict" % name, "/v1/models/{name}/predict", example),
                   ("POST", "/v1/predict?model=" + name, "/v1/predict", example))
        for method, path, template, body in guarded:
            for label, headers, challenge in (
                    ("no token", {}, 'Bearer realm="genorisk"'),
                    ("a wrong token", {"Authorization": "Bearer " + token + "x"},
                     'Bearer realm="genorisk", error="invalid_token"')):
                def denied(method=method, path=path, template=template, body=body,
                           headers=headers, challenge=challenge):
                    r = self.call(d, method, path, template, body, headers)
                    why = T(r, template, method.lower(), 401,
                            None if method == "HEAD" else "application/problem+json",
                            "unauthorized")
                    if why:
                        return why
                    if r.headers.get("www-authenticate") != challenge:
                        return "WWW-Authenticate %r" % r.headers.get("www-authenticate")
                    return None
                self.check("--auth-tokens: %s %s, %s: 401 unauthorized" % (method, path, label),
                           denied)

            def allowed(method=method, path=path, template=template, body=body):
                r = self.call(d, method, path, template, body,
                              {"Authorization": "Bearer " + token})
                return T(r, template, method.lower(), 200)
            self.check("--auth-tokens: %s %s with the token: 200" % (method, path), allowed)
        for path in ("/healthz", "/readyz", "/openapi.yaml"):
            def open_route(path=path):
                r = self.call(d, "GET", path, path)
                return T(r, path, "get", 200)
            self.check("--auth-tokens: GET %s needs no token" % path, open_route)

        def no_token_in_log():
            for e in d.log():
                if token in json.dumps(e):
                    return "the log holds the token"
            return None
        self.check("--auth-tokens: the token is not in the log", no_token_in_log)

    def run_limits(self, daemons):
        models = os.path.join(self.tmp, "models")
        shutil.copytree(os.path.join(REPO, "models"), models)
        d = Daemon(self.exe, ["--max-body-bytes", "100", "--max-samples", "1"], models)
        daemons.append(d)
        names = self.model_names()
        P = "/v1/models/{name}/predict"
        path = "/v1/models/%s/predict" % names[0]
        T = self.expect
        body = json.dumps({"samples": [{"genotypes": {}}], "top_k": 1, "explain": False})
        body += " " * (101 - len(body))

        self.check("--max-body-bytes 100, 101-byte body: 413 body-too-large",
                   lambda: T(self.call(d, "POST", path, P, body), P, "post", 413,
                             "application/problem+json", "body-too-large"))

        def chunked():
            conn = d.conn()
            try:
                conn.request("POST", path, body=iter([body[:50].encode(), body[50:].encode()]),
                             headers={"Content-Type": "application/json"}, encode_chunked=True)
                resp = conn.getresponse()
                r = Reply(resp.status, resp.getheaders(), resp.read())
            finally:
                conn.close()
            self.note(P, "POST", r)
            return T(r, P, "post", 413, "application/problem+json", "body-too-large")
        self.check("--max-body-bytes 100, chunked 101-byte body: 413 body-too-large", chunked)
        self.check("--max-body-bytes 100, 100-byte body, nothing observed: 422 low-coverage",
                   lambda: T(self.call(d, "POST", path, P, body[:100]), P, "post", 422,
                             "application/problem+json", "low-coverage", "coverage"))
        self.check("--max-body-bytes 100, 100-byte body, allow_low_coverage=true: 200",
                   lambda: T(self.call(d, "POST", path + "?allow_low_coverage=true", P,
                                       body[:100]), P, "post", 200))
        two = json.dumps({"samples": [{"genotypes": {}}, {"genotypes": {}}]})
        self.check("--max-samples 1, 2 samples: 422 invalid-input",
                   lambda: T(self.call(d, "POST", path, P, two), P, "post", 422,
                             "application/problem+json", "invalid-input", "samples"))

        # SIGHUP with a broken bundle: the old set is kept
        def reload_fails():
            with open(os.path.join(models, names[-1], "manifest.json"), "w") as f:
                f.write("{broken")
            d.proc.send_signal(signal.SIGHUP)
            if not d.wait_log("reload failed"):
                return "no \"reload failed\" log line"
            if not [e for e in d.log() if e.get("msg") == "reload failed" and
                    e.get("level") == "error" and e.get("error")]:
                return "the \"reload failed\" line has no level error and error"
            r = self.call(d, "GET", "/v1/models", "/v1/models")
            if [m["name"] for m in r.json()["models"]] != names:
                return "the models changed"
            r = self.call(d, "GET", "/metrics", "/metrics")
            if b'genorisk_reloads_total{result="failure"} 1' not in r.body:
                return "genorisk_reloads_total{result=\"failure\"} is not 1"
            return None
        self.check("SIGHUP with a broken manifest: old models kept, failure logged and counted",
                   reload_fails)
        self.check("SIGTERM (limits daemon): exit 0",
                   lambda: None if d.stop() == 0 else "exit %r" % d.proc.returncode)

    def run_vcf(self, daemons):
        """VCF/BCF uploads to cad-pgs-demo, against the CLI and the contract."""
        P = "/v1/models/{name}/predict"
        T = self.expect
        bundle = os.path.join("models", "cad-pgs-demo")
        scoring = os.path.join(REPO, bundle, "cad_pgs_demo.txt")
        path = "/v1/models/cad-pgs-demo/predict"
        spool = os.path.join(self.tmp, "spool")
        os.mkdir(spool)
        samples = ("VCF-SECRET-P1", "VCF-SECRET-P2")
        self.secrets.update(samples)
        plain = demo_vcf(scoring, samples)
        files = {"vcf": plain, "gz": gzip.compress(plain), "bgzf": bgzf(plain)}
        for kind, data in list(files.items()):
            with open(os.path.join(self.tmp, "demo." + kind), "wb") as f:
                f.write(data)
        if shutil.which("bcftools"):
            out = os.path.join(self.tmp, "demo.bcf")
            p = subprocess.run(["bcftools", "view", "-Ob", "-o", out,
                                os.path.join(self.tmp, "demo.vcf")], capture_output=True)
            if p.returncode == 0:
                with open(out, "rb") as f:
                    files["bcf"] = f.read()
        if "bcf" not in files:
            print("skip live: no bcftools, so no BCF upload checks")
        limit = 4 * len(plain)
        d = Daemon(self.exe, ["--tmp-dir", spool, "--max-upload-bytes", str(limit)], "models")
        daemons.append(d)

        def cli_args(query):
            args = []
            for item in (query.split("&") if query else []):
                k, _, v = item.partition("=")
                if k == "allow_low_coverage":
                    args += ["--allow-low-coverage"] if v == "true" else []
                else:
                    args += ["--" + {"top_k": "top-k"}.get(k, k), v]
            return args

        def as_cli(r, kind, query):
            """None when r is a 200 PredictResponse equal to the CLI's answer for the file."""
            why = T(r, P, "post", 200, "application/json")
            if why:
                return why
            rc, out, err = run_cli(self.cli, ["predict", "--model", bundle, "--vcf",
                                              os.path.join(self.tmp, "demo." + kind),
                                              "--compact"] + cli_args(query))
            if rc:
                return "genorisk predict --vcf: exit %d: %s" % (rc, err.strip())
            got = r.json()
            got.pop("request_id")
            want = json.loads(out)
            if got != want:
                return "differs from `genorisk predict --vcf`"
            return None

        uploads = [("text/vcf", "vcf"), ("text/x-vcf", "vcf"), ("application/vcf", "vcf"),
                   ("application/gzip", "gz"), ("application/x-gzip", "gz"),
                   ("application/gzip", "bgzf"), ("application/x-bgzip", "bgzf"),
                   ("application/octet-stream", "bgzf"), ("application/octet-stream", "gz"),
                   ("application/octet-stream", "vcf"), ("application/octet-stream", "bcf"),
                   ("application/x-bcf", "bcf"), ("TEXT/VCF; charset=utf-8", "vcf")]
        for ctype, kind in uploads:
            if kind not in files:
                continue
            self.check("VCF upload, %s (%s): 200 PredictResponse, as `genorisk predict --vcf`"
                       % (ctype, kind),
                       lambda ctype=ctype, kind=kind: as_cli(
                           self.call(d, "POST", path, P, files[kind], {"Content-Type": ctype}),
                           kind, ""))
        for kind in [k for k in ("bgzf", "vcf", "bcf") if k in files]:
            body, ctype = multipart([("note", None, b"ignored"),
                                     ("file", "demo." + kind, files[kind])])
            self.check("VCF upload, multipart/form-data part file (%s): 200, as the CLI" % kind,
                       lambda body=body, ctype=ctype, kind=kind: as_cli(
                           self.call(d, "POST", path, P, body, {"Content-Type": ctype}), kind, ""))
        for query in ("sample=VCF-SECRET-P2&explain=false", "absent=ref&top_k=0",
                      "genotype=gt&filter=any&top_k=3", "genotype=ds&allow_low_coverage=true",
                      "explain=false&sample=VCF-SECRET-P2&sample=VCF-SECRET-P1"):
            self.check("VCF upload ?%s: 200, as the CLI" % query,
                       lambda query=query: as_cli(
                           self.call(d, "POST", path + "?" + query, P, files["bgzf"],
                                     {"Content-Type": "application/x-bgzip"}), "bgzf", query))

        def sample_order():
            r = self.call(d, "POST", path + "?explain=false&sample=VCF-SECRET-P2&sample="
                          "VCF-SECRET-P1", P, files["vcf"], {"Content-Type": "text/vcf"})
            why = T(r, P, "post", 200, "application/json")
            got = [x["sample"] for x in r.json()["results"]] if not why else None
            return why or (None if got == list(samples) else "samples %s" % got)
        self.check("VCF upload, ?sample twice: both scored, in the file's order", sample_order)

        # half of the variants: under min_coverage (0.75)
        half = demo_vcf(scoring, samples, rows=150)
        with open(os.path.join(self.tmp, "demo.half"), "wb") as f:
            f.write(half)

        def low_coverage():
            q = "allow_low_coverage=true&explain=false"
            r = self.call(d, "POST", path + "?" + q, P, half, {"Content-Type": "text/vcf"})
            why = as_cli(r, "half", q)
            if why:
                return why
            flags = [x.get("low_coverage") for x in r.json()["results"]]
            return None if flags == [True, True] else "low_coverage %s" % flags
        self.check("VCF upload under min_coverage, allow_low_coverage=true: 200, low_coverage "
                   "true, as the CLI", low_coverage)

        def request_example():
            body = self.openapi["paths"][P]["post"]["requestBody"]["content"]["text/vcf"]
            r = self.call(d, "POST", path + "?allow_low_coverage=true", P,
                          body["example"].encode(), {"Content-Type": "text/vcf"})
            return T(r, P, "post", 200, "application/json")
        self.check("VCF upload of the text/vcf request example: 200 PredictResponse",
                   request_example)

        def problem(label, status, slug, body, ctype, query="", field=None, detail=None):
            def fn():
                r = self.call(d, "POST", path + query, P, body, {"Content-Type": ctype})
                why = T(r, P, "post", status, "application/problem+json", slug, field)
                if why:
                    return why
                doc = r.json()
                if doc["instance"] != path:
                    return "instance %r" % doc["instance"]
                if detail and detail not in doc["detail"]:
                    return "detail %r lacks %r" % (doc["detail"], detail)
                leaked = [s for s in samples if s in doc["detail"]]
                return "the detail quotes %s" % leaked if leaked else None
            self.check("VCF %s: %d %s" % (label, status, slug), fn)

        sites_only = b"\n".join(b"\t".join(line.split(b"\t")[:8])
                                for line in plain.split(b"\n"))
        b37 = plain.replace(b"##contig=<ID=1,length=248956422>",
                            b"##contig=<ID=1,length=249250621>")
        no_chrom = b"\n".join(l for l in plain.split(b"\n") if not l.startswith(b"#CHROM"))
        problem("garbage", 422, "invalid-input", b"PK\x03\x04 not a VCF at all",
                "application/octet-stream", detail="VCF or BCF")
        problem("text", 422, "invalid-input", b"hello, world\n" * 40, "text/vcf",
                detail="VCF or BCF")
        problem("empty body", 422, "invalid-input", b"", "text/vcf")
        problem("without a #CHROM line", 422, "invalid-input", no_chrom, "text/vcf",
                field="header")
        problem("gzip cut short (within the header: a small file)", 422, "invalid-input",
                files["gz"][:len(files["gz"]) // 2], "application/gzip", field="header")
        problem("with no samples", 422, "invalid-input", sites_only, "text/vcf", field="header",
                detail="no samples")
        filler = b"".join(b"chr22\t%d\t.\tA\tG\t.\tPASS\t.\tGT\t0/0\t0/1\n" % (1000 + i)
                          for i in range(8000))
        long_bgzf = bgzf(plain + filler)
        problem("BGZF cut inside a later block", 422, "invalid-input",
                long_bgzf[:len(long_bgzf) * 3 // 5], "application/x-bgzip",
                detail="truncated or corrupt")
        problem("with a POS that is not a number", 422, "invalid-input",
                plain + b"1\t2O103972\t.\tG\tT\t.\tPASS\t.\tGT\t0/0\t0/1\n", "text/vcf",
                detail="not a valid VCF record")
        problem("?sample=unknown", 422, "invalid-input", files["vcf"], "text/vcf",
                "?sample=VCF-SECRET-NOPE", field="sample")
        problem("?sample twice", 422, "invalid-input", files["vcf"], "text/vcf",
                "?sample=VCF-SECRET-P1&sample=VCF-SECRET-P1", field="sample")
        problem("on GRCh37 (chr1 length) to a GRCh38 model", 422, "invalid-input", b37,
                "text/vcf", field="header", detail="GRCh37")
        problem("under min_coverage", 422, "low-coverage", half, "text/vcf", field="coverage",
                detail="min_coverage")
        problem("?absent=hom-ref", 400, "invalid-parameter", files["vcf"], "text/vcf",
                "?absent=hom-ref", field="absent")
        problem("?genotype=GT", 400, "invalid-parameter", files["vcf"], "text/vcf",
                "?genotype=GT", field="genotype")
        problem("?filter", 400, "invalid-parameter", files["vcf"], "text/vcf", "?filter",
                field="filter")
        problem("?allow_low_coverage=1", 400, "invalid-parameter", files["vcf"], "text/vcf",
                "?allow_low_coverage=1", field="allow_low_coverage")
        with open(os.path.join(REPO, bundle, "example.json"), "rb") as f:
            example = f.read()
        problem("?impute=median", 400, "invalid-parameter", files["vcf"], "text/vcf",
                "?impute=median", field="impute")
        for q in ("sample=P001", "absent=ref", "genotype=gt", "filter=any"):
            problem("parameter ?%s on a JSON request" % q, 400, "invalid-parameter", example,
                    "application/json", "?" + q, field=q.split("=")[0],
                    detail="applies to VCF uploads")
        body, ctype = multipart([("upload", "demo.vcf", files["vcf"])])
        problem("multipart without a file part", 400, "invalid-parameter", body, ctype,
                detail='"file"')
        problem("multipart without a boundary", 400, "invalid-parameter", files["vcf"],
                "multipart/form-data", detail="boundary")
        problem("as text/plain", 415, "unsupported-media-type", files["vcf"], "text/plain")
        over = plain * 5
        problem("upload over --max-upload-bytes by Content-Length", 413, "body-too-large", over,
                "text/vcf", detail="at most %d bytes" % limit)

        def chunked():
            conn = d.conn()
            try:
                pieces = [over[i:i + 8192] for i in range(0, len(over), 8192)]
                conn.request("POST", path, body=iter(pieces),
                             headers={"Content-Type": "application/gzip"}, encode_chunked=True)
                resp = conn.getresponse()
                r = Reply(resp.status, resp.getheaders(), resp.read())
            finally:
                conn.close()
            self.note(P, "POST", r)
            why = T(r, P, "post", 413, "application/problem+json", "body-too-large")
            if why:
                return why
            return None if "at most %d bytes" % limit in r.json()["detail"] else \
                "detail %r" % r.json()["detail"]
        self.check("VCF upload over --max-upload-bytes, chunked: 413 body-too-large", chunked)

        def spool_empty():
            left = os.listdir(spool)
            return "left in --tmp-dir: %s" % left if left else None
        self.check("VCF uploads leave --tmp-dir empty", spool_empty)

        def log_clean():
            text = "\n".join(d.lines)
            leaked = sorted(s for s in samples if s in text)
            if leaked:
                return "the log holds VCF sample ids %s" % leaked
            bad = [l for l in d.lines if not l.startswith("{")]
            return "non-JSON log lines: %s" % bad[:2] if bad else None
        self.check("log: JSON lines only, no VCF sample id", log_clean)
        self.check("SIGTERM (VCF daemon): exit 0",
                   lambda: None if d.stop() == 0 else "exit %r" % d.proc.returncode)

        # a spool directory that vanishes once the daemon runs: 503 overloaded,
        # Retry-After (a missing one stops the start, checked by the C tests)
        gone = os.path.join(self.tmp, "spool-removed-later")
        os.mkdir(gone)
        d2 = Daemon(self.exe, ["--tmp-dir", gone], "models")
        os.rmdir(gone)
        daemons.append(d2)
        self.check("VCF upload, --tmp-dir missing: 503 overloaded, Retry-After: 1",
                   lambda: T(self.call(d2, "POST", path, P, files["vcf"],
                                       {"Content-Type": "text/vcf"}),
                             P, "post", 503, "application/problem+json", "overloaded"))
        self.check("SIGTERM (no-spool daemon): exit 0",
                   lambda: None if d2.stop() == 0 else "exit %r" % d2.proc.returncode)

    def run_overload_and_drain(self, daemons):
        d = Daemon(self.exe, ["--workers", "1", "--queue-depth", "1", "--drain-timeout-s", "20"],
                   "models")
        daemons.append(d)
        P = "/v1/models/{name}/predict"
        T = self.expect
        r = self.call(d, "GET", "/v1/models", "/v1/models")
        biggest = max(r.json()["models"], key=lambda m: m["n_features"])
        path = "/v1/models/%s/predict?explain=false" % biggest["name"]
        row = [i % 3 for i in range(biggest["n_features"])]
        big = json.dumps({"samples": [{"dosages": row}] * 10000})

        # 503 overloaded: one predict runs, one waits, the others find the queue full
        def overload():
            for attempt in range(3):
                replies = []
                lock = threading.Lock()

                def one():
                    conn = d.conn()
                    try:
                        rr = send(conn, "POST", path, big, {"Content-Type": "application/json"})
                    except Exception as e:  # reported through the missing reply
                        rr = Reply(0, [], str(e).encode())
                    finally:
                        conn.close()
                    with lock:
                        replies.append(rr)
                threads = [threading.Thread(target=one) for _ in range(4 + 2 * attempt)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(120)
                for rr in replies:
                    self.note(P, "POST", rr)
                codes = sorted(rr.status for rr in replies)
                if any(s not in (200, 503) for s in codes):
                    return "statuses %s" % codes
                busy = [rr for rr in replies if rr.status == 503]
                if busy and 200 in codes:
                    return T(busy[0], P, "post", 503, "application/problem+json", "overloaded")
            return "SKIP"
        why = None
        try:
            why = overload()
        except Exception as e:
            why = "%s: %s" % (type(e).__name__, e)
        if why == "SKIP":
            print("skip live: 503 overloaded was not observed in 3 tries (a fast machine?)")
        elif why:
            self.c.fail("live: --workers 1 --queue-depth 1, concurrent predicts: 503 overloaded",
                        why)
        else:
            self.c.ok("live: --workers 1 --queue-depth 1, concurrent predicts: 503 overloaded")

        # drain: a request in flight (its body half sent) holds the daemon after SIGTERM
        def drain():
            small = json.dumps({"samples": [{"dosages": row}], "explain": False}).encode()
            open_conns = []
            for _ in range(3):
                conn = d.conn()
                rr = send(conn, "GET", "/healthz")
                if rr.status != 200:
                    return "healthz %d" % rr.status
                open_conns.append(conn)
            slow = d.conn()
            slow.putrequest("POST", path)
            slow.putheader("Content-Type", "application/json")
            slow.putheader("Content-Length", str(len(small)))
            slow.endheaders()
            slow.send(small[:10])
            time.sleep(0.3)
            d.proc.send_signal(signal.SIGTERM)
            if not d.wait_log("draining"):
                return "no \"draining\" log line"
            why = T(self.note_reply(d, open_conns[0], "GET", "/readyz", "/readyz"),
                    "/readyz", "get", 503, "application/problem+json", "not-ready")
            why = why or T(self.note_reply(d, open_conns[1], "HEAD", "/readyz", "/readyz"),
                           "/readyz", "head", 503)
            why = why or T(self.note_reply(d, open_conns[2], "POST", path, P, b"{}",
                                           {"Content-Type": "application/json"}),
                           P, "post", 503, "application/problem+json", "not-ready")
            if why:
                return why
            if d.proc.poll() is not None:
                return "exited with a request in flight"
            slow.send(small[10:])
            resp = slow.getresponse()
            rr = Reply(resp.status, resp.getheaders(), resp.read())
            slow.close()
            for conn in open_conns:
                conn.close()
            self.note(P, "POST", rr)
            why = T(rr, P, "post", 200, "application/json")
            if why:
                return "the request in flight: " + why
            rc = d.stop()
            return None if rc == 0 else "exit %r" % rc
        self.check("SIGTERM with a request in flight: /readyz and predict 503 not-ready on open "
                   "connections, the request finishes 200, exit 0", drain)

    def note_reply(self, d, conn, method, path, template, body=None, headers=None):
        r = send(conn, method, path, body, headers)
        self.note(template, method, r)
        return r

    def check_coverage(self):
        skipped = {k for k in self.documented if k[2] == "500"}
        missing = sorted(set(self.documented) - self.seen - skipped)
        extra = sorted(k for k in self.seen - set(self.documented) if k[0] != "other")
        self.c.check("live: every documented response but 500 was seen (%d of %d)"
                     % (len(set(self.documented) & self.seen), len(self.documented)),
                     lambda: "never seen: %s" % ["%s %s %s" % (m.upper(), p, s)
                                                 for p, m, s in missing] if missing else None)
        self.c.check("live: every response seen is documented",
                     lambda: "undocumented: %s" % ["%s %s %s" % (m.upper(), p, s)
                                                   for p, m, s in extra] if extra else None)


def main(argv):
    cli = argv[1] if len(argv) > 1 else "build/genorisk"
    if not os.path.isabs(cli) and not os.path.exists(cli):
        cli = os.path.join(REPO, cli)
    cli = os.path.abspath(cli)
    have_cli = os.path.isfile(cli) and os.access(cli, os.X_OK)
    c = Checks()

    # 1. the schemas themselves
    with open(MANIFEST_SCHEMA, encoding="utf-8") as f:
        manifest_schema = json.load(f)
    with open(OPENAPI, encoding="utf-8") as f:
        openapi = yaml.safe_load(f)
    c.check("docs/manifest.schema.json is a draft 2020-12 schema",
            lambda: Draft202012Validator.check_schema(manifest_schema))

    def openapi_header():
        if not str(openapi.get("openapi", "")).startswith("3.1."):
            return "openapi is %r, expected 3.1.x" % openapi.get("openapi")
        info = openapi.get("info", {})
        if info.get("title") != "genorisk" or info.get("version") != "0.1.0":
            return "info.title/version are %r/%r" % (info.get("title"), info.get("version"))
        if sorted(openapi.get("paths") or {}) != sorted(PATHS):
            return "paths are %s, expected %s" % (sorted(openapi.get("paths") or {}),
                                                  sorted(PATHS))
        return None
    c.check("openapi.yaml: OpenAPI 3.1, genorisk 0.1.0, the daemon's paths", openapi_header)
    schemas = openapi.get("components", {}).get("schemas", {})
    for name in ("PredictRequest", "Sample", "PredictResponse", "Result", "Coverage",
                 "Explanation", "Attribution", "ModelSummary", "ModelDetail", "RequestId",
                 "HealthStatus", "ReadyStatus", "ModelList", "Problem", "Manifest",
                 "Population", "Risk", "Provenance"):
        c.check("openapi.yaml: %s is a draft 2020-12 schema" % name,
                lambda name=name: Draft202012Validator.check_schema(schemas[name]))

    def same_manifest():
        expected = {k: v for k, v in manifest_schema.items() if k != "$schema"}
        if schemas.get("Manifest") != expected:
            return "components.schemas.Manifest differs from docs/manifest.schema.json"
        return None
    c.check("openapi.yaml: Manifest equals docs/manifest.schema.json", same_manifest)

    # 2. examples
    manifest_v = make_validator(manifest_schema)
    for i, ex in enumerate(manifest_schema.get("examples", [])):
        c.check("docs/manifest.schema.json: example %d" % i,
                lambda ex=ex: first_error(manifest_v, ex))
    validators = {}
    for name, schema in schemas.items():
        validators[name] = make_validator(schema, openapi)
        for i, ex in enumerate(schema.get("examples", [])):
            c.check("openapi.yaml: %s example %d" % (name, i),
                    lambda v=validators[name], ex=ex: first_error(v, ex))

    # 3. every manifest in the repository
    paths = sorted(glob.glob(os.path.join(REPO, "models", "**", "manifest.json"), recursive=True) +
                   glob.glob(os.path.join(REPO, "tests", "fixtures", "**", "manifest.json"),
                             recursive=True))
    if not paths:
        c.fail("manifests", "no manifest.json under models/ or tests/fixtures/")

    def valid_file(path):
        with open(path, encoding="utf-8") as f:
            return first_error(manifest_v, json.load(f))
    for p in paths:
        c.check(rel(p), lambda p=p: valid_file(p))

    # 4. refused and accepted manifests: schema, and the loader when there is a CLI
    def base_manifest(base):
        with open(os.path.join(REPO, "models", base, "manifest.json"), encoding="utf-8") as f:
            return json.load(f)

    def expect(base, change, want_valid):
        m = copy.deepcopy(base_manifest(base))
        change(m)
        err = first_error(manifest_v, m)
        if want_valid and err:
            return "the schema refuses it: " + err
        if not want_valid and not err:
            return "the schema accepts it"
        if have_cli:
            accepted, line = loader_verdict(cli, base, m)
            if want_valid and not accepted:
                return "the loader refuses it: " + line
            if not want_valid and (accepted or "manifest.json" not in line):
                return "the loader does not refuse its manifest: " + line
        return None
    for label, base, change in INVALID:
        c.check("refused: " + label, lambda b=base, ch=change: expect(b, ch, False))
    for label, base, change in VALID:
        c.check("accepted: " + label, lambda b=base, ch=change: expect(b, ch, True))

    # 5. real CLI output
    examples = sorted(glob.glob(os.path.join(REPO, "models", "*", "example.json")))
    if not examples:
        c.fail("examples", "no models/*/example.json")
    if not have_cli:
        c.fail("CLI", "%s is missing or not executable; build it with make, or pass its path"
               % cli)
        examples = []

    def check_output(rc, out, err, schema):
        if rc != 0:
            return "exit %d: %s" % (rc, err.strip())
        return first_error(validators[schema], json.loads(out))

    for ex in examples:
        bundle = rel(os.path.dirname(ex))
        with open(ex, encoding="utf-8") as f:
            request = json.load(f)
        c.check("%s validates as PredictRequest" % rel(ex),
                lambda r=request: first_error(validators["PredictRequest"], r))
        c.check("predict %s: PredictResponse" % rel(ex),
                lambda b=bundle, e=rel(ex): check_output(
                    *run_cli(cli, ["predict", "--model", b, "--input", e]), "PredictResponse"))
        quiet = dict(request, explain=False)
        c.check("predict %s, explain false: PredictResponse" % rel(ex),
                lambda b=bundle, q=json.dumps(quiet): check_output(
                    *run_cli(cli, ["predict", "--model", b, "--input", "-", "--compact"], q),
                    "PredictResponse"))
        c.check("models show %s: ModelDetail" % bundle,
                lambda b=bundle: check_output(*run_cli(cli, ["models", "show", b]),
                                              "ModelDetail"))

    # 6. the daemon
    check_path_examples(c, openapi)
    daemon = os.path.join(os.path.dirname(cli), "genoriskd")
    if not (os.path.isfile(daemon) and os.access(daemon, os.X_OK)):
        c.fail("daemon", "%s is missing or not executable; build it with make" % daemon)
    elif have_cli:
        Live(c, cli, daemon, openapi).run()

    print("schemas: %d passed, %d failed" % (c.passed, c.failed))
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
