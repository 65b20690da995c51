# bench_common.sh - what the bench scripts share, sourced after they set
# BENCH_NAME: fail (prints "BENCH_NAME: why" to stderr, exits 1), root (the
# repository) and abspath (a path given on the command line, made absolute
# against the directory the script was started in, before it cd's to root).
# shellcheck shell=bash
fail() {
    echo "$BENCH_NAME: $*" >&2
    exit 1
}

invoked_from=$(pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
abspath() {
    case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$invoked_from/$1" ;;
    esac
}
