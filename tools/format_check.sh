#!/bin/sh
# format_check.sh - checks that C files are laid out as .clang-format says
# (Debian 12's clang-format 14); lists each file that is not and the first
# lines clang-format would change. `clang-format -i FILE` fixes one.
#
#     tools/format_check.sh FILE...
set -u
command -v clang-format >/dev/null 2>&1 || { echo "format-check: clang-format is not installed (make lint-deps)"; exit 1; }
pass=0
fail=0
for f in "$@"; do
    if clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "format-check: $f is not formatted (clang-format -i $f):"
        clang-format "$f" | diff "$f" - | head -12
    fi
done
echo "format-check: $pass passed, $fail failed"
[ "$fail" = 0 ]
