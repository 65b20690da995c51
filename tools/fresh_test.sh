#!/bin/sh
# fresh_test.sh - `make test` as a bare Debian 12 machine runs it:
#
#   1. debootstrap --variant=minbase bookworm into ROOT (the host's Debian
#      mirror), then only `make` added with apt-get;
#   2. the project's files (tracked, and untracked ones git does not ignore)
#      copied to ROOT/src;
#   3. `make deps` there: the one step that uses the network, and only
#      Debian's archive;
#   4. `make test` there inside a network namespace with nothing but
#      loopback, so no registry (npm, PyPI, ...) can be reached.
#
#     tools/fresh_test.sh [ROOT]     as root; ROOT defaults to build/fresh
#
# ROOT is made anew each run. Closes with "fresh-test: 1 passed, 0 failed",
# or "fresh-test: 0 passed, 1 failed" naming the step that failed.
set -u
cd "$(dirname "$0")/.." || exit 2
root=${1:-build/fresh}
step=setup

finish() {
    for m in dev proc sys; do
        mountpoint -q "$root/$m" 2>/dev/null && umount -R -l "$root/$m"
    done
    if [ "$step" = done ]; then
        echo "fresh-test: 1 passed, 0 failed"
    else
        echo "fresh-test: failed at $step"
        echo "fresh-test: 0 passed, 1 failed"
        exit 1
    fi
}
trap finish EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" = 0 ] || { echo "fresh-test: needs root (debootstrap, chroot, mounts)"; exit 1; }
command -v debootstrap >/dev/null || { echo "fresh-test: debootstrap is missing"; exit 1; }

# the host's mirror, so a lab with its own Debian mirror tests against it
mirror=$(awk '$1 == "URIs:" { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

in_root() { # runs a shell command in ROOT with a clean environment
    chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin sh -c "$1"
}

step="debootstrap --variant=minbase bookworm ($mirror)"
rm -rf "$root"
mkdir -p "$root"
t0=$(date +%s)
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
    { tail -20 "$root.debootstrap.log"; exit 1; }
echo "fresh-test: bootstrapped $root in $(($(date +%s) - t0)) s"
# the host's apt sources (updates and security too), when it has them
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
    : >"$root/etc/apt/sources.list"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"

step="apt-get install make"
in_root 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make >/dev/null' || exit 1

step="copying the sources"
mkdir -p "$root/src"
git ls-files --cached --others --exclude-standard -z |
    tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$root/src" -xf - || exit 1

step="make deps"
t0=$(date +%s)
in_root 'cd /src && make deps' || exit 1
echo "fresh-test: make deps took $(($(date +%s) - t0)) s"

step="make test (loopback only)"
t0=$(date +%s)
unshare --net sh -c "ip link set lo up && chroot '$root' /usr/bin/env -i HOME=/root \
    LANG=C.UTF-8 TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    sh -c 'cd /src && make test'" || exit 1
echo "fresh-test: make test took $(($(date +%s) - t0)) s"
step=done
