#!/bin/sh
# apt_install.sh - installs from Debian's archive the packages of a list that
# are not installed yet; quick and quiet when all are.
#
#     tools/apt_install.sh WHAT PACKAGE...
#
# WHAT names the make target in messages. Installing needs root; a non-root
# caller is told the apt-get command and the script fails.
set -u
what=$1
shift
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "make $what: installing$missing"
if [ "$(id -u)" != 0 ]; then
    echo "make $what: run as root, or: apt-get install$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || exit 1
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing || exit 1
