#!/usr/bin/python3
"""Reference digests for core/sha256.c, made with Python's hashlib, into
tests/fixtures/sha256/:

  data.bin       131149 pseudo-random bytes (two 64 KiB read chunks and a
                 partial third), from SHA-256 in counter mode over a fixed
                 seed: the same bytes on every run
  SHA256SUMS     its digest, in sha256sum's format (sha256sum -c SHA256SUMS
                 checks it too)
  prefixes.json  {"n": [...], "sha256": [...]}: the digests of data.bin's
                 first n bytes, every n from 0 to 200 and the lengths either
                 side of the padding and chunk boundaries

Run: tools/make_sha256_fixture.py [--out tests/fixtures/sha256]
"""

import argparse
import hashlib
import json
import os

SIZE = 2 * 65536 + 77
BOUNDARIES = [447, 448, 449, 1000, 4095, 4096, 65535, 65536, 65537, 131072, SIZE]


def data():
    out = bytearray()
    counter = 0
    while len(out) < SIZE:
        out += hashlib.sha256(b"genorisk sha256 fixture %d" % counter).digest()
        counter += 1
    return bytes(out[:SIZE])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "sha256"))
    args = ap.parse_args()
    d = data()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "data.bin"), "wb") as f:
        f.write(d)
    with open(os.path.join(args.out, "SHA256SUMS"), "w") as f:
        f.write("%s  data.bin\n" % hashlib.sha256(d).hexdigest())
    ns = list(range(201)) + BOUNDARIES
    doc = {"n": ns, "sha256": [hashlib.sha256(d[:n]).hexdigest() for n in ns]}
    with open(os.path.join(args.out, "prefixes.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("sha256: data.bin of %d bytes, %d prefixes" % (SIZE, len(ns)))


if __name__ == "__main__":
    main()
