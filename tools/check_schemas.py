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

Prints one line per check and closes with "schemas: N passed, M failed";
exits 1 if anything failed. Needs only Debian's python3-yaml and
python3-jsonschema (4.10 in Debian 12: $refs are resolved with RefResolver).
"""

import copy
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

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
    ("description null", "cad-logit-demo", _set("description", None)),
    ("name missing", "cad-logit-demo", _drop("name")),
    ("pgs-catalog with features \"\"", "cad-pgs-demo", _set("features", "")),
]

# (label, base bundle, change): the schema and the loader must both accept.
VALID = [
    ("$schema of any type", "cad-logit-demo", _set("$schema", 5)),
    ("min_coverage 0", "cad-logit-demo", _set("min_coverage", 0)),
    ("min_coverage 1", "cad-logit-demo", _set("min_coverage", 1)),
    ("name ending in '-', 64 characters", "cad-logit-demo", _set("name", "a" * 63 + "-")),
    ("description absent", "cad-logit-demo", _drop("description")),
    ("all optional keys", "cad-pgs-demo",
     _all(_set("$schema", "../../docs/manifest.schema.json"), _set("min_coverage", 0.9))),
]


def loader_verdict(cli, base, manifest):
    """Runs `genorisk models validate` on a copy of models/BASE with this manifest.
    Returns (accepted, output line)."""
    tmp = tempfile.mkdtemp(prefix="check_schemas.")
    try:
        bundle = os.path.join(tmp, "bundle")
        shutil.copytree(os.path.join(REPO, "models", base), bundle)
        with open(os.path.join(bundle, "manifest.json"), "w", encoding="utf-8") as f:
            json.dump(manifest, f)
        rc, out, err = run_cli(cli, ["models", "validate", bundle])
        line = (out + err).strip().replace(tmp + os.sep, "")
        return rc == 0 and line.startswith("ok"), line
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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
        if openapi.get("paths") != {}:
            return "paths is not {}"
        return None
    c.check("openapi.yaml: OpenAPI 3.1, genorisk 0.1.0, no paths yet", openapi_header)
    schemas = openapi.get("components", {}).get("schemas", {})
    for name in ("PredictRequest", "Sample", "PredictResponse", "Result", "Coverage",
                 "Explanation", "Attribution", "ModelSummary", "ModelDetail", "Manifest"):
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

    print("schemas: %d passed, %d failed" % (c.passed, c.failed))
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
