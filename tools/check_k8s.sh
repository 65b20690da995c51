#!/usr/bin/env bash
# Checks the Kubernetes manifests of docker/k8s/ offline (`make check-k8s`):
# no cluster, no kubectl (which needs an API server even for
# `apply --dry-run=client`, and Debian 12's is 1.20, older than autoscaling/v2).
#
#     tools/check_k8s.sh            (from anywhere; node >= 18.17 and npm, as Debian 12 ships)
#
# tools/k8s/check.mjs type-checks every document against the Kubernetes 1.30
# API types (the pinned kubernetes-types package, generated from the OpenAPI
# schema) with the pinned TypeScript compiler: unknown or misspelt fields,
# wrong types, missing required fields, unknown kinds and apiVersions fail.
# It then checks references between the manifests and the pod security that
# docker/README.md promises, and runs its self-test: each case of
# tools/k8s/selftest.yaml breaks one manifest on purpose (copies under
# build/k8s-check/selftest/) and must be rejected with the expected message.
#
# Installs the pinned tools with `npm ci` the first time (tools/k8s/node_modules/).
# Closes with "check-k8s: N passed, M failed"; exit 0 only when M is 0.
set -u
cd "$(dirname "$0")/.." || exit 2
dir=tools/k8s

fail() {
    echo "check_k8s: $*" >&2
    echo "check-k8s: 0 passed, 1 failed"
    exit 1
}

command -v node >/dev/null 2>&1 || fail "node is not installed (Debian: apt-get install nodejs npm)"
if [ ! -f "$dir/node_modules/typescript/package.json" ] ||
   [ ! -f "$dir/node_modules/kubernetes-types/package.json" ] ||
   [ ! -f "$dir/node_modules/yaml/package.json" ] ||
   [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "check_k8s: installing the pinned checker (npm ci --prefix $dir)"
    npm ci --prefix "$dir" --no-audit --no-fund || fail "npm ci failed"
fi

node "$dir/check.mjs" --selftest "$dir/selftest.yaml" docker/k8s
