#!/usr/bin/env bash
# docker_test.sh [BUILD_DIR] - builds docker/Dockerfile and runs the image on
# this machine, without a Docker engine (`make docker-test`; as root, Debian
# 12). BUILD_DIR (build) holds the CLI whose answers the image's must equal.
#
#   1. base image: debian:bookworm-slim from local storage; else one
#      `podman pull` (a registry may be reachable elsewhere); else a Debian 12
#      rootfs made by `debootstrap --variant=minbase bookworm`, trimmed as the
#      slim image is, and `podman import`ed under that name. The rootfs tarball
#      is cached in build/docker/ so a rerun skips debootstrap.
#   2. `podman build --isolation=chroot --network=host --format docker` with
#      the host's own Debian mirrors (read from /etc/apt/sources.list{,.d})
#      passed as DEBIAN_MIRROR / DEBIAN_SECURITY_MIRROR, for debootstrap too.
#   3. checks the image config (numeric non-root user, HEALTHCHECK on
#      /healthz, port, entrypoint, env) and that docker/compose.yaml and
#      docker/k8s/ name the daemon's version.
#   4. runs it: `podman run` (runc) read-only with every capability dropped and
#      no-new-privileges, published on a free 127.0.0.1 port; or, when podman
#      cannot run containers here (DOCKER_TEST_RUN=buildah forces it), with
#      `buildah run --isolation chroot --network host` on a free loopback port.
#   5. /healthz, /readyz, the HEALTHCHECK command, each demo model's
#      example.json and a VCF upload: every predict answer must equal, number
#      for number, what BUILD_DIR/genorisk (the CLI of this checkout) gives for
#      the same request; SIGTERM must drain and exit 0; then a models
#      directory mounted over /models, and docker/compose.yaml started with
#      podman-compose (a predict, then down).
#
# Env: DOCKER_TEST_BASE=auto|pull|debootstrap (auto), DOCKER_TEST_RUN=auto|
# podman|buildah (auto), GENORISK_IMAGE (localhost/genorisk:test). The image
# is kept (and tagged as compose.yaml names it); containers never are.
# Closes with "docker-test: N passed, M failed"; exit 0 only when M is 0.
set -uo pipefail

invoked_from=$(pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
case ${1:-build} in
/*) BUILD=${1:-build} ;;
*) BUILD=$invoked_from/${1:-build} ;;
esac
cd "$root" || exit 2

PY=/usr/bin/python3
IMAGE=${GENORISK_IMAGE:-localhost/genorisk:test}
BASE=docker.io/library/debian:bookworm-slim
CACHE=$root/build/docker
BASE_MODE=${DOCKER_TEST_BASE:-auto}
RUN_MODE=${DOCKER_TEST_RUN:-auto}
CLI=$BUILD/genorisk

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "  ok   $*"; }
bad() { failed=$((failed + 1)); echo "  FAIL $*"; }
finish() {
    echo "docker-test: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0
    exit 1
}
die() {
    echo "docker-test: $*" >&2
    failed=$((failed + 1))
    finish
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[ "$(id -u)" = 0 ] || die "run as root (rootful podman, debootstrap)"
for t in podman buildah debootstrap curl tar "$PY"; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found (make deps installs it)"
done
for f in "$CLI" "$BUILD/genoriskd"; do
    [ -x "$f" ] || die "$f not built (make all)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/docker_test.XXXXXX") || die "mktemp failed"
containers=()
buildah_pid=
compose_project=
# shellcheck disable=SC2317  # (run by the EXIT trap)
cleanup() {
    local c
    if [ -n "$buildah_pid" ]; then
        kill -KILL "$buildah_pid" 2>/dev/null
        wait "$buildah_pid" 2>/dev/null
    fi
    for c in "${containers[@]}"; do
        podman rm -f "$c" >/dev/null 2>&1
        buildah rm "$c" >/dev/null 2>&1
    done
    if [ -n "$compose_project" ]; then
        podman ps -a -q --filter "label=io.podman.compose.project=$compose_project" |
            xargs -r podman rm -f >/dev/null 2>&1
        podman network rm -f "${compose_project}_default" >/dev/null 2>&1
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free TCP port on 127.0.0.1 (the kernel's choice; closed again at once).
free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- the host's Debian mirrors ------------------------------------------------
# The first enabled "deb" source for suite bookworm, and the one for
# bookworm-security, from one-line (*.list) and deb822 (*.sources) files.
host_mirrors() {
    "$PY" - /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources <<'EOF'
import os, re, sys
main = sec = None
def take(types, uris, suites):
    global main, sec
    if "deb" not in types:
        return
    for u in uris:
        if "bookworm" in suites and main is None:
            main = u
        if "bookworm-security" in suites and sec is None:
            sec = u
for path in sys.argv[1:]:
    if not os.path.isfile(path):
        continue
    text = open(path, encoding="utf-8", errors="replace").read()
    if path.endswith(".list"):
        for line in text.splitlines():
            # deb [ options ] URI SUITE COMPONENT...
            m = re.match(r"\s*(deb)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
            if m:
                take([m.group(1)], [m.group(2)], [m.group(3)])
    else:
        for stanza in text.split("\n\n"):
            f = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[0].isspace():
                    continue
                k, v = line.split(":", 1)
                f[k.strip().lower()] = v.split()
            if f.get("enabled", ["yes"])[0].lower() == "no":
                continue
            take(f.get("types", []), f.get("uris", []), f.get("suites", []))
print(main or "")
print(sec or "")
EOF
}
{ read -r MIRROR; read -r SEC_MIRROR; } < <(host_mirrors)
if [ -z "$MIRROR" ]; then
    MIRROR=http://deb.debian.org/debian
    echo "docker-test: no bookworm source in /etc/apt; using $MIRROR"
fi
MIRROR=${MIRROR%/}
SEC_MIRROR=${SEC_MIRROR%/}
echo "docker-test: Debian mirror $MIRROR${SEC_MIRROR:+, security $SEC_MIRROR}"

# ---- 1. the base image -------------------------------------------------------
t0=$(now)
import_rootfs() {
    local tarball=$CACHE/debian-bookworm-minbase.tar rootfs
    if [ ! -s "$tarball" ]; then
        mkdir -p "$CACHE" || return 1
        rootfs=$tmp/rootfs
        echo "docker-test: debootstrap --variant=minbase bookworm from $MIRROR (about 30 s)"
        if ! debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$tmp/debootstrap.log" 2>&1; then
            tail -20 "$tmp/debootstrap.log" >&2
            return 1
        fi
        # As the official slim image: no docs, man pages or locales (dpkg
        # excludes them from later installs too), no apt caches or lists.
        mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
        cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
        find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
        find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
        rm -rf "$rootfs"/usr/share/{groff,info,linda,lintian/overrides,locale,man}/* \
            "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
            "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/var/cache/debconf/*-old
        # apt sources as the slim image has them (deb822), on the host's mirrors
        rm -f "$rootfs/etc/apt/sources.list"
        {
            printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\n' "$MIRROR"
            printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
            if [ -n "$SEC_MIRROR" ]; then
                printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\n' "$SEC_MIRROR"
                printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
            fi
        } >"$rootfs/etc/apt/sources.list.d/debian.sources"
        tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.part" . || return 1
        mv "$tarball.part" "$tarball"
        rm -rf "$rootfs"
    else
        echo "docker-test: using the cached rootfs $tarball"
    fi
    podman import -q \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        --change 'LABEL org.genorisk.base=debootstrap-minbase-bookworm' \
        "$tarball" "$BASE" >/dev/null
}
if podman image exists "$BASE"; then
    echo "docker-test: base image $BASE already in local storage"
else
    got=
    if [ "$BASE_MODE" != debootstrap ]; then
        echo "docker-test: podman pull $BASE"
        if timeout 300 podman pull -q "$BASE" >/dev/null 2>"$tmp/pull.log"; then
            got=pull
        else
            echo "docker-test: no registry reachable ($(tail -1 "$tmp/pull.log" | cut -c1-160))"
            [ "$BASE_MODE" = pull ] && die "DOCKER_TEST_BASE=pull and the pull failed"
        fi
    fi
    if [ -z "$got" ]; then
        import_rootfs || die "could not make the base image from debootstrap"
        echo "docker-test: imported the debootstrap rootfs as $BASE"
    fi
fi
if podman image exists "$BASE"; then ok "base image $BASE ($(since "$t0") s)"; else die "no base image"; fi

# ---- 2. build ---------------------------------------------------------------
t0=$(now)
echo "docker-test: podman build --isolation=chroot --network=host -f docker/Dockerfile -t $IMAGE ."
if podman build --isolation=chroot --network=host --format docker --pull=never \
    --build-arg DEBIAN_MIRROR="$MIRROR" --build-arg DEBIAN_SECURITY_MIRROR="$SEC_MIRROR" \
    -f docker/Dockerfile -t "$IMAGE" . >"$tmp/build.log" 2>&1; then
    ok "image built ($(since "$t0") s, $(podman image inspect "$IMAGE" --format '{{.Size}}' |
        awk '{ printf "%.0f MB", $1 / 1e6 }'))"
else
    tail -40 "$tmp/build.log"
    die "podman build failed (log above)"
fi

# ---- 3. the image's configuration ---------------------------------------------
podman image inspect "$IMAGE" --format '{{json .Config}}' >"$tmp/config.json" ||
    die "cannot inspect $IMAGE"
podman image inspect "$IMAGE" --format '{{json .HealthCheck}}' >"$tmp/health.json" 2>/dev/null ||
    echo null >"$tmp/health.json"
if msg=$("$PY" - "$tmp/config.json" "$tmp/health.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
h = json.load(open(sys.argv[2])) or c.get("Healthcheck") or {}
errs = []
user = c.get("User", "")
if user.split(":")[0] in ("", "0", "root"):
    errs.append("runs as root (User %r)" % user)
if not user.split(":")[0].isdigit():
    errs.append("User %r is not numeric (Kubernetes runAsNonRoot needs a uid)" % user)
env = dict(e.split("=", 1) for e in c.get("Env", []))
if env.get("GENORISK_MODELS") != "/models":
    errs.append("GENORISK_MODELS is %r, not /models" % env.get("GENORISK_MODELS"))
if env.get("GENORISK_LISTEN") != "0.0.0.0:8080":
    errs.append("GENORISK_LISTEN is %r, not 0.0.0.0:8080" % env.get("GENORISK_LISTEN"))
if "8080/tcp" not in (c.get("ExposedPorts") or {}):
    errs.append("8080/tcp not exposed")
if c.get("Entrypoint") != ["/usr/local/bin/genoriskd"]:
    errs.append("entrypoint %r" % c.get("Entrypoint"))
test = h.get("Test") or []
if not (test and "/healthz" in " ".join(test)):
    errs.append("no HEALTHCHECK on /healthz (%r)" % test)
print("; ".join(errs) if errs else "user %s, healthcheck %s" % (user, " ".join(test[1:])))
sys.exit(1 if errs else 0)
EOF
); then ok "image config: $msg"; else bad "image config: $msg"; fi

# The version the image, compose.yaml and docker/k8s/ name is the daemon's.
ver=$("$BUILD/genoriskd" --version | awk '{print $2}')
tags=$("$PY" - "$ver" <<'EOF'
import re, sys, yaml
ver, bad = sys.argv[1], []
c = yaml.safe_load(open("docker/compose.yaml"))["services"]["genoriskd"]["image"]
if c != "genorisk:" + ver:
    bad.append("docker/compose.yaml image %s" % c)
for i in re.findall(r"image:\s*(\S+)", open("docker/k8s/deployment.yaml").read()):
    if i != "genorisk:" + ver:
        bad.append("docker/k8s/deployment.yaml image %s" % i)
k = yaml.safe_load(open("docker/k8s/kustomization.yaml"))
for im in k.get("images", []):
    if im.get("name") == "genorisk" and im.get("newTag", ver) != ver:
        bad.append("docker/k8s/kustomization.yaml newTag %s" % im.get("newTag"))
print("; ".join(bad))
EOF
)
if [ -z "$tags" ] && [ -n "$ver" ]; then
    ok "compose.yaml and docker/k8s/ name genorisk:$ver, the daemon's version"
else
    bad "image tags are not genorisk:$ver: $tags"
fi

# ---- expected answers: the CLI of this checkout -----------------------------
mkdir -p "$tmp/expect" "$tmp/got"
models=()
for d in models/*/; do
    m=$(basename "$d")
    [ -f "$d/example.json" ] || continue
    models+=("$m")
    "$CLI" predict --model "$d" --input "$d/example.json" --compact \
        >"$tmp/expect/$m.json" 2>"$tmp/expect/$m.err" || die "CLI predict $m failed: $(cat "$tmp/expect/$m.err")"
done
[ "${#models[@]}" -ge 1 ] || die "no demo models with example.json"
# A VCF of every variant of the PGS demo, three samples, gzip: the upload is
# spooled to --tmp-dir, which must work on the read-only root filesystem.
"$PY" - models/cad-pgs-demo/cad_pgs_demo.txt "$tmp/demo.vcf.gz" <<'EOF' || die "cannot write the VCF"
import gzip, sys
rows = []
for line in open(sys.argv[1]):
    if line.startswith("#") or line.startswith("chr_name"):
        continue
    c, pos, eff, oth = line.split("\t")[:4]
    rows.append((23 if c == "X" else int(c), int(pos), c, oth, eff))
rows.sort()
gts = ["0/0", "0/1", "1/1", "1|0", "./."]
with gzip.open(sys.argv[2], "wt") as f:
    f.write("##fileformat=VCFv4.2\n##reference=GRCh38\n")
    f.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
    f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3\n")
    for i, (_, pos, c, ref, alt) in enumerate(rows):
        g = [gts[(i * 7 + j * 3) % 5] for j in range(3)]
        f.write("chr%s\t%d\t.\t%s\t%s\t50\tPASS\t.\tGT\t%s\n" % (c, pos, ref, alt, "\t".join(g)))
EOF
"$CLI" predict --model models/cad-pgs-demo --vcf "$tmp/demo.vcf.gz" --compact \
    >"$tmp/expect/vcf.json" 2>"$tmp/expect/vcf.err" || die "CLI VCF predict failed: $(cat "$tmp/expect/vcf.err")"

# same(EXPECTED GOT): equal JSON once the daemon's request_id is set aside.
same() {
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
want = json.load(open(sys.argv[1]))
try:
    got = json.load(open(sys.argv[2]))
except ValueError as e:
    print("not JSON: %s" % e); sys.exit(1)
rid = got.pop("request_id", None) if isinstance(got, dict) else None
if not rid:
    print("no request_id in the answer"); sys.exit(1)
if got != want:
    w, g = json.dumps(want, sort_keys=True), json.dumps(got, sort_keys=True)
    i = next((k for k in range(min(len(w), len(g))) if w[k] != g[k]), min(len(w), len(g)))
    print("differs from the CLI at char %d: cli ...%s... http ...%s..." % (i, w[max(0, i - 60):i + 60], g[max(0, i - 60):i + 60]))
    sys.exit(1)
n = len(got.get("results", []))
print("%d result(s), scores %s" % (n, ", ".join("%.6g" % r["score"] for r in got["results"][:3])))
EOF
}

# ---- 4. run -------------------------------------------------------------------
base_url=
name=genorisk-docker-test-$$
# A limit podman may set without CAP_SYS_RESOURCE: at most the host's own.
hard_nofile=$(ulimit -Hn)
[ "$hard_nofile" = unlimited ] && hard_nofile=65536
[ "$hard_nofile" -gt 65536 ] && hard_nofile=65536
hard_nproc=$(ulimit -Hu)
[ "$hard_nproc" = unlimited ] && hard_nproc=32768
[ "$hard_nproc" -gt 32768 ] && hard_nproc=32768

wait_healthz() {  # URL, seconds
    for _ in $(seq $(($2 * 10))); do
        curl -fsS --max-time 1 -o /dev/null "$1/healthz" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# podman (and podman-compose) run containers with this configuration: runc,
# not crun, since Debian 12's crun 1.8 refuses hosts with cgroup v1 and v2
# mounted side by side ("cgroups in hybrid mode not supported"); and rlimits
# no higher than the host's, which root may not raise without
# CAP_SYS_RESOURCE (podman's default asks for 1048576 open files).
cat >"$tmp/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$hard_nofile:$hard_nofile", "nproc=$hard_nproc:$hard_nproc"]
[engine]
runtime = "runc"
EOF

# podman run: the image as a runtime would start it, read-only, no
# capabilities, no privilege escalation (as docker/k8s/ and compose.yaml do).
run_podman() {
    local port
    port=$(free_port)
    containers+=("$name")
    CONTAINERS_CONF=$tmp/containers.conf podman run -d --name "$name" \
        --read-only --cap-drop ALL --security-opt no-new-privileges \
        -p "127.0.0.1:$port:8080" "$IMAGE" >"$tmp/run.out" 2>"$tmp/run.err" || return 1
    base_url=http://127.0.0.1:$port
    if ! wait_healthz "$base_url" 20; then
        podman logs "$name" 2>&1 | tail -5
        return 1
    fi
}

# buildah run: chroot isolation and the host's network; the daemon is told to
# listen on a free loopback port instead of 0.0.0.0:8080.
run_buildah() {
    local port ctr
    port=$(free_port)
    ctr=$(buildah from --pull=never --ulimit "nofile=$hard_nofile:$hard_nofile" \
        --name "$name-b" "$IMAGE" 2>"$tmp/from.err") || { cat "$tmp/from.err"; return 1; }
    containers+=("$ctr")
    buildah run --isolation chroot --network host -e "GENORISK_LISTEN=127.0.0.1:$port" \
        "$ctr" -- /usr/local/bin/genoriskd >"$tmp/buildah.log" 2>&1 &
    buildah_pid=$!
    base_url=http://127.0.0.1:$port
    if ! wait_healthz "$base_url" 20; then
        tail -5 "$tmp/buildah.log"
        return 1
    fi
}

t0=$(now)
runner=
case $RUN_MODE in
podman) run_podman && runner=podman ;;
buildah) run_buildah && runner=buildah ;;
auto)
    # buildah run only when podman cannot run any container here, so that a
    # daemon that fails under podman is a failure, not a reason to switch
    if CONTAINERS_CONF=$tmp/containers.conf podman run --rm --network none \
        --entrypoint /bin/true "$IMAGE" >/dev/null 2>"$tmp/probe.err"; then
        run_podman && runner=podman
    else
        echo "docker-test: podman cannot run containers here ($(grep -m1 -i error "$tmp/probe.err" | cut -c1-200)); using buildah run"
        run_buildah && runner=buildah
    fi
    ;;
*) die "DOCKER_TEST_RUN must be auto, podman or buildah" ;;
esac
[ -n "$runner" ] || die "the container did not answer /healthz within 20 s"
ok "container up with $runner run, /healthz answers on $base_url ($(since "$t0") s)"

# ---- 5. the checks ----------------------------------------------------------
code=$(curl -sS -o "$tmp/got/healthz" -w '%{http_code}' --max-time 5 "$base_url/healthz")
if [ "$code" = 200 ] && grep -q '"status":"ok"' "$tmp/got/healthz"; then
    ok "GET /healthz 200 $(cat "$tmp/got/healthz")"
else
    bad "GET /healthz: $code $(head -c 200 "$tmp/got/healthz")"
fi
code=$(curl -sS -o "$tmp/got/readyz" -w '%{http_code}' --max-time 5 "$base_url/readyz")
if [ "$code" = 200 ] && grep -q "\"models\":${#models[@]}[,}]" "$tmp/got/readyz"; then
    ok "GET /readyz 200 with ${#models[@]} models"
else
    bad "GET /readyz: $code $(head -c 200 "$tmp/got/readyz")"
fi

if [ "$runner" = podman ]; then
    # The image's own HEALTHCHECK command, run once inside the container
    # (there is no systemd here to schedule it periodically).
    if podman healthcheck run "$name" >/dev/null 2>"$tmp/hc.err"; then
        ok "HEALTHCHECK: $(podman inspect "$name" --format '{{.State.Health.Status}}' 2>/dev/null)"
    else
        bad "HEALTHCHECK failed: $(head -c 300 "$tmp/hc.err")"
    fi
    uid=$(podman exec "$name" id -u 2>/dev/null)
    if [ "$uid" = 10001 ]; then ok "the daemon's user is uid $uid"; else bad "container user is uid '$uid', not 10001"; fi
    if podman exec "$name" touch /models/x 2>/dev/null || podman exec "$name" touch /x 2>/dev/null; then
        bad "the root filesystem or /models is writable"
    else
        ok "root filesystem and /models are read-only"
    fi
fi

for m in "${models[@]}"; do
    code=$(curl -sS -o "$tmp/got/$m.json" -w '%{http_code}' --max-time 30 \
        -H 'Content-Type: application/json' --data-binary "@models/$m/example.json" \
        "$base_url/v1/models/$m/predict")
    if [ "$code" != 200 ]; then
        bad "POST /v1/models/$m/predict: $code $(head -c 300 "$tmp/got/$m.json")"
    elif msg=$(same "$tmp/expect/$m.json" "$tmp/got/$m.json"); then
        ok "predict $m = CLI: $msg"
    else
        bad "predict $m: $msg"
    fi
done
code=$(curl -sS -o "$tmp/got/vcf.json" -w '%{http_code}' --max-time 30 \
    -H 'Content-Type: application/gzip' --data-binary "@$tmp/demo.vcf.gz" \
    "$base_url/v1/models/cad-pgs-demo/predict")
if [ "$code" != 200 ]; then
    bad "VCF upload: $code $(head -c 300 "$tmp/got/vcf.json")"
elif msg=$(same "$tmp/expect/vcf.json" "$tmp/got/vcf.json"); then
    ok "VCF upload (spooled to /tmp) = CLI: $msg"
else
    bad "VCF upload: $msg"
fi
code=$(curl -sS -o "$tmp/got/404.json" -w '%{http_code}' --max-time 5 \
    -H 'Content-Type: application/json' --data '{"samples":[]}' "$base_url/v1/models/no-such-model/predict")
if [ "$code" = 404 ]; then ok "unknown model: 404"; else bad "unknown model: $code"; fi

# docker/compose.yaml, as its one-line start (--no-build: the image is the one
# just built, tagged as compose names it), on a free port (GENORISK_PORT).
compose_test() {
    local cimage project port code msg=
    if ! command -v podman-compose >/dev/null 2>&1; then
        bad "podman-compose not found: docker/compose.yaml not run (make deps installs it)"
        return
    fi
    cimage=$("$PY" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["services"]["genoriskd"]["image"])' \
        docker/compose.yaml) || { bad "docker/compose.yaml: no services.genoriskd.image"; return; }
    podman tag "$IMAGE" "localhost/$cimage" || { bad "cannot tag localhost/$cimage"; return; }
    project=genorisk-docker-test-$$
    compose_project=$project
    port=$(free_port)
    if ! GENORISK_PORT=$port CONTAINERS_CONF=$tmp/containers.conf timeout 120 \
        podman-compose -p "$project" -f docker/compose.yaml up -d --no-build >"$tmp/compose.log" 2>&1; then
        bad "podman-compose up failed: $(grep -iv 'systemd' "$tmp/compose.log" | tail -3)"
        return
    fi
    if ! wait_healthz "http://127.0.0.1:$port" 20; then
        bad "compose: no /healthz on 127.0.0.1:$port"
        return
    fi
    code=$(curl -sS -o "$tmp/got/compose.json" -w '%{http_code}' --max-time 30 \
        -H 'Content-Type: application/json' --data-binary "@models/cad-xgb-demo/example.json" \
        "http://127.0.0.1:$port/v1/models/cad-xgb-demo/predict")
    if [ "$code" = 200 ] && msg=$(same "$tmp/expect/cad-xgb-demo.json" "$tmp/got/compose.json"); then
        ok "podman-compose -f docker/compose.yaml up: predict = CLI ($msg)"
    else
        bad "compose predict: $code $msg"
    fi
    if GENORISK_PORT=$port CONTAINERS_CONF=$tmp/containers.conf timeout 120 \
        podman-compose -p "$project" -f docker/compose.yaml down >>"$tmp/compose.log" 2>&1; then
        ok "podman-compose down"
    else
        bad "podman-compose down failed: $(tail -3 "$tmp/compose.log")"
    fi
}

stop_podman() {  # NAME: SIGTERM (podman stop), then the exit code and the log
    podman stop -t 20 "$1" >/dev/null 2>&1
    local rc
    rc=$(podman inspect "$1" --format '{{.State.ExitCode}}' 2>/dev/null)
    if [ "$rc" = 0 ] && podman logs "$1" 2>&1 | grep -q '"msg":"stopped"'; then
        ok "SIGTERM: drained and exited 0"
    else
        bad "SIGTERM: exit code '$rc'; last log lines: $(podman logs "$1" 2>&1 | tail -2)"
    fi
}

if [ "$runner" = podman ]; then
    stop_podman "$name"
    # Bundles mounted over /models replace the demo set.
    mkdir -p "$tmp/mymodels"
    cp -R models/cad-logit-demo "$tmp/mymodels/"
    chmod -R a+rX "$tmp/mymodels"
    port=$(free_port)
    containers+=("$name-m")
    if CONTAINERS_CONF=$tmp/containers.conf podman run -d --name "$name-m" --read-only --cap-drop ALL \
        --security-opt no-new-privileges \
        -v "$tmp/mymodels:/models:ro" -p "127.0.0.1:$port:8080" "$IMAGE" >/dev/null 2>"$tmp/run2.err" &&
        wait_healthz "http://127.0.0.1:$port" 20; then
        list=$(curl -sS --max-time 5 "http://127.0.0.1:$port/v1/models")
        names=$(printf '%s' "$list" | "$PY" -c 'import json,sys; print(",".join(m["name"] for m in json.load(sys.stdin)["models"]))' 2>/dev/null)
        if [ "$names" = cad-logit-demo ]; then ok "a directory mounted at /models is served instead ($names)"; else bad "mounted /models: served '$names'"; fi
        stop_podman "$name-m"
    else
        bad "container with /models mounted did not start: $(head -c 300 "$tmp/run2.err")"
    fi
    compose_test
else
    # buildah run has no stop: SIGTERM to the daemon itself (the chroot's
    # process, a descendant of our buildah run), then its exit status.
    d=$buildah_pid
    for _ in 1 2 3 4; do
        d=$(cat /proc/"$d"/task/*/children 2>/dev/null | awk '{print $1; exit}')
        [ -z "$d" ] && break
        [ "$(cat /proc/"$d"/comm 2>/dev/null)" = genoriskd ] && break
    done
    if [ -n "$d" ] && [ "$(cat /proc/"$d"/comm 2>/dev/null)" = genoriskd ]; then
        kill -TERM "$d"
        wait "$buildah_pid"
        rc=$?
        buildah_pid=
        if [ "$rc" = 0 ] && grep -q '"msg":"stopped"' "$tmp/buildah.log"; then
            ok "SIGTERM: drained and exited 0"
        else
            bad "SIGTERM: buildah run exited $rc; $(tail -2 "$tmp/buildah.log")"
        fi
    else
        bad "cannot find the daemon's process under buildah run"
    fi
fi

finish
