#!/bin/sh
# Lints openapi.yaml with the Redocly CLI pinned in tools/openapi/package-lock.json
# (recommended ruleset; exceptions and their reasons in tools/openapi/redocly.yaml).
#
#     tools/lint_openapi.sh            (from anywhere; needs node >= 18.17 and npm, as Debian 12 ships)
#
# Installs the linter with `npm ci` the first time (tools/openapi/node_modules/).
# Closes with "openapi lint: 1 passed, 0 failed" and exit 0, or
# "openapi lint: 0 passed, 1 failed" and exit 1.
set -u
cd "$(dirname "$0")/.." || exit 2
dir=tools/openapi
bin=$dir/node_modules/.bin/redocly

fail() {
    echo "lint_openapi: $*" >&2
    echo "openapi lint: 0 passed, 1 failed"
    exit 1
}

command -v node >/dev/null 2>&1 || fail "node is not installed (Debian: apt-get install nodejs npm)"
if [ ! -x "$bin" ]; then
    echo "lint_openapi: installing the pinned Redocly CLI (npm ci --prefix $dir)"
    npm ci --prefix "$dir" --no-audit --no-fund || fail "npm ci failed"
fi

# No telemetry, no update check: the linter talks to nobody.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1 \
    "$bin" lint openapi.yaml --config "$dir/redocly.yaml" --max-problems 200
rc=$?
if [ "$rc" -ne 0 ]; then
    echo "openapi lint: 0 passed, 1 failed"
    exit 1
fi
echo "openapi lint: 1 passed, 0 failed"
