#!/usr/bin/python3
"""peer_fastapi.py - the HTTP prediction service a team would write instead.

The peer for tools/bench_http.sh: FastAPI + uvicorn serving one XGBoost
bundle (manifest.json, XGBoost model.json, features.tsv) with

  POST /v1/models/{name}/predict
       {"samples": [{"id": ..., "genotypes": {key: dosage | "0/1" | null}}
                    | {"id": ..., "dosages": [...]}],
        "explain": true, "top_k": 10}

the request document genoriskd takes (docs/predict-json.md). Genotype keys
are a feature_id, an rsID or chrom:pos:ref:alt; a feature with no value is
NaN (XGBoost's missing value, following default_left). Each request builds
one float32 matrix, then runs Booster.predict(DMatrix(rows),
pred_contribs=True) for the SHAP values and Booster.predict() for the
score, and returns score, margin and the top_k attributions by |value|
(top_k 0: all, in model order). Also GET /healthz.

Run: /usr/bin/python3 tools/peer_fastapi.py --bundle DIR [--port N]
     [--host 127.0.0.1]
Prints "port N" on stdout once it accepts connections (--port 0 picks a
free port and prints it). Debian packages: python3-fastapi, python3-uvicorn,
python3-xgboost.
"""

import argparse
import asyncio
import csv
import json
import math
import os
import sys
from typing import Dict, List, Optional, Union

import numpy as np
import uvicorn
import xgboost as xgb
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Extra

GT_DOSAGE = {"0/0": 0.0, "0|0": 0.0, "0/1": 1.0, "1/0": 1.0, "0|1": 1.0,
             "1|0": 1.0, "1/1": 2.0, "1|1": 2.0, "0": 0.0, "1": 1.0}


def norm_chrom(c):
    c = c.strip()
    if c[:3].lower() == "chr":
        c = c[3:]
    c = c.upper()
    return {"23": "X", "24": "Y", "M": "MT", "26": "MT"}.get(c, c)


def norm_locus(key):
    chrom, sep, rest = key.partition(":")
    if not sep:
        return None
    return norm_chrom(chrom) + ":" + rest.upper()


class Bundle:
    def __init__(self, directory):
        with open(os.path.join(directory, "manifest.json")) as f:
            self.manifest = json.load(f)
        if self.manifest.get("format") != "xgboost-json":
            raise SystemExit("peer_fastapi: %s: only xgboost-json bundles"
                             % directory)
        self.name = self.manifest["name"]
        self.version = self.manifest.get("version")
        self.booster = xgb.Booster()
        self.booster.load_model(os.path.join(
            directory, self.manifest.get("artifact", "model.json")))
        self.logistic = json.loads(self.booster.save_config())["learner"][
            "objective"]["name"] in ("binary:logistic", "binary:logitraw")
        self.feature_ids = []
        index = {}
        ambiguous = set()
        path = os.path.join(directory,
                            self.manifest.get("features", "features.tsv"))
        with open(path, newline="") as f:
            for i, row in enumerate(csv.DictReader(f, delimiter="\t")):
                fid = row["feature_id"]
                self.feature_ids.append(fid)
                keys = {fid}
                if row.get("rsid"):
                    keys.add(row["rsid"])
                if row.get("chrom") and row.get("pos"):
                    keys.add("%s:%s:%s:%s" % (
                        norm_chrom(row["chrom"]), row["pos"],
                        row.get("ref", "").upper(),
                        row.get("alt", "").upper()))
                for k in keys:
                    if k in index and index[k] != i:
                        ambiguous.add(k)
                    index[k] = i
        self.index = index
        self.ambiguous = ambiguous
        self.n = len(self.feature_ids)


class Sample(BaseModel, extra=Extra.forbid):
    id: Optional[str] = None
    genotypes: Optional[Dict[str, Union[None, float, str]]] = None
    dosages: Optional[List[Optional[float]]] = None


class PredictRequest(BaseModel, extra=Extra.forbid):
    samples: List[Sample]
    explain: bool = True
    top_k: int = 10


def bad(field, text):
    raise HTTPException(422, detail={"field": field, "detail": text})


def dosage_of(value, field):
    if value is None:
        return math.nan
    if isinstance(value, str):
        if value in GT_DOSAGE:
            return GT_DOSAGE[value]
        parts = value.replace("|", "/").split("/")
        if 1 <= len(parts) <= 2 and all(p in ("0", "1", ".") for p in parts):
            return math.nan
        bad(field, "expected a dosage from 0 to 2, a genotype such as "
            "\"0/1\" or \"1|1\" (alleles 0, 1 or .), or null")
    if not 0.0 <= value <= 2.0:
        bad(field, "a dosage must be from 0 to 2")
    return float(value)


def build_rows(bundle, samples):
    rows = np.full((len(samples), bundle.n), np.nan, dtype=np.float32)
    warnings = []
    for s, sample in enumerate(samples):
        where = "samples[%d]" % s
        if (sample.genotypes is None) == (sample.dosages is None):
            bad(where, 'give either "genotypes" or "dosages"')
        if sample.dosages is not None:
            if len(sample.dosages) != bundle.n:
                bad(where + ".dosages", "has %d values, but the model has %d "
                    "features" % (len(sample.dosages), bundle.n))
            for j, v in enumerate(sample.dosages):
                rows[s, j] = dosage_of(v, "%s.dosages[%d]" % (where, j))
            continue
        unknown = []
        seen = {}
        for key, value in sample.genotypes.items():
            i = bundle.index.get(key)
            if i is None:
                locus = norm_locus(key)
                i = bundle.index.get(locus) if locus else None
                key_used = locus
            else:
                key_used = key
            if i is None:
                unknown.append(key)
                continue
            if key_used in bundle.ambiguous:
                bad("%s.genotypes.%s" % (where, key),
                    "this key names several model features")
            if i in seen:
                bad("%s.genotypes.%s" % (where, key), "feature '%s' is also "
                    "given as '%s'" % (bundle.feature_ids[i], seen[i]))
            seen[i] = key
            rows[s, i] = dosage_of(value, "%s.genotypes.%s" % (where, key))
        if unknown:
            warnings.append("%s: %d genotype key%s not in the model, ignored"
                            % (where, len(unknown),
                               " is" if len(unknown) == 1 else "s are"))
    return rows, warnings


def make_app(bundle):
    app = FastAPI(title="peer genorisk (FastAPI + XGBoost)")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.post("/v1/models/{name}/predict")
    def predict(name: str, req: PredictRequest):
        if name != bundle.name:
            raise HTTPException(404, detail="model not found: " + name)
        if not req.samples:
            bad("samples", "is empty")
        if req.top_k < 0:
            bad("top_k", "must be a whole number >= 0")
        rows, warnings = build_rows(bundle, req.samples)
        dm = xgb.DMatrix(rows, missing=np.nan)
        margins = bundle.booster.predict(dm, output_margin=True)
        scores = bundle.booster.predict(dm)
        if bundle.logistic:  # binary:logitraw predict() gives the margin
            scores = 1.0 / (1.0 + np.exp(-margins.astype(np.float64)))
        contribs = (bundle.booster.predict(dm, pred_contribs=True)
                    if req.explain else None)
        k = min(req.top_k, bundle.n)
        results = []
        for s, sample in enumerate(req.samples):
            r = {"sample": sample.id, "index": s, "score": float(scores[s]),
                 "margin": float(margins[s])}
            if contribs is not None:
                phi = contribs[s, :bundle.n]
                if k == 0:
                    order = range(bundle.n)
                else:
                    # largest |value| first, ties in model order
                    order = np.argsort(-np.abs(phi), kind="stable")[:k]
                r["explanation"] = {
                    "method": "tree_shap_path_dependent",
                    "space": "margin" if bundle.logistic else "identity",
                    "base_value": float(contribs[s, bundle.n]),
                    "attributions": [
                        {"feature": bundle.feature_ids[j],
                         "value": float(phi[j]),
                         "dosage": (None if math.isnan(rows[s, j])
                                    else float(rows[s, j]))}
                        for j in order]}
            results.append(r)
        return {"model": {"name": bundle.name, "version": bundle.version},
                "results": results, "warnings": warnings}

    return app


class Server(uvicorn.Server):
    """Prints "port N" once the listening socket is up."""

    async def startup(self, sockets=None):
        await super().startup(sockets=sockets)
        if self.should_exit or not self.servers:
            return
        port = self.servers[0].sockets[0].getsockname()[1]
        print("port %d" % port, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", required=True, metavar="DIR")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--access-log", action="store_true")
    args = ap.parse_args()
    bundle = Bundle(args.bundle)
    config = uvicorn.Config(make_app(bundle), host=args.host, port=args.port,
                            log_level="warning",
                            access_log=args.access_log)
    server = Server(config)
    asyncio.run(server.serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
