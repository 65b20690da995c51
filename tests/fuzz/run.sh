#!/usr/bin/env bash
# run.sh - runs libFuzzer harnesses for a while each and sums them up:
#   tests/fuzz/run.sh BIN_DIR SECONDS WORK_DIR JOBS HARNESS...
# Each harness BIN_DIR/fuzz_NAME runs for SECONDS on a fresh copy of
# tests/fuzz/corpus/NAME (the committed corpus never grows here) plus the
# inputs of tests/fuzz/regressions/NAME, with the flags of
# tests/fuzz/fuzz_NAME.options and -print_final_stats=1; JOBS harnesses run at
# once. Logs, grown corpora and crash artifacts go under WORK_DIR. Ends with a
# table of executions per second and coverage, and exits 1 when any harness
# found a crash, leak, timeout or out-of-memory (its artifact is named).
set -uo pipefail
cd "$(dirname "$0")/../.."

if [ $# -lt 5 ]; then
    echo "usage: $0 BIN_DIR SECONDS WORK_DIR JOBS HARNESS..." >&2
    exit 2
fi
bin=$1 seconds=$2 work=$3 jobs=$4
shift 4

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$work/logs" "$work/tmp"

run_one() {
    local h=$1
    local corpus=$work/corpus/$h artifacts=$work/artifacts/$h/ log=$work/logs/$h.log
    rm -rf "$corpus" "$artifacts"
    mkdir -p "$corpus" "$artifacts"
    cp tests/fuzz/corpus/"$h"/* "$corpus"/
    local extra=()
    [ -d tests/fuzz/regressions/"$h" ] && extra+=(tests/fuzz/regressions/"$h")
    local opts=()
    [ -f tests/fuzz/fuzz_"$h".options ] && read -r -a opts < tests/fuzz/fuzz_"$h".options
    # the defaults first: a harness's options may override them
    TMPDIR=$work/tmp "$bin"/fuzz_"$h" -timeout=10 -rss_limit_mb=2048 "${opts[@]}" \
        -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts" \
        "$corpus" "${extra[@]}" > "$log" 2>&1
    echo $? > "$work/logs/$h.rc"
}

start=$(date +%s)
running=0
for h in "$@"; do
    if [ ! -x "$bin/fuzz_$h" ]; then
        echo "run.sh: $bin/fuzz_$h is not built" >&2
        exit 2
    fi
    echo "fuzz: $h for ${seconds}s"
    run_one "$h" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

# one of libFuzzer's final "stat::NAME: VALUE" lines
getstat() { sed -n "s/^stat::$2: *//p" "$1" | tail -1; }

fail=0
printf '\n%-14s %10s %8s %6s %7s %14s %8s  %s\n' harness execs exec/s cov ft corpus rss_mb result
for h in "$@"; do
    log=$work/logs/$h.log
    rc=$(cat "$work/logs/$h.rc" 2>/dev/null || echo 1)
    # the last status line, e.g. "#52113 DONE cov: 812 ft: 2291 corp: 180/41Kb ..."
    last=$(grep -E '^#[0-9]+' "$log" | grep ' cov: ' | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<< "$last")
    result=ok
    if [ "$rc" != 0 ]; then
        fail=1
        art=$(ls "$work/artifacts/$h/" 2>/dev/null | head -1)
        result="FAILED (exit $rc${art:+, $work/artifacts/$h/$art}; log $log)"
    fi
    printf '%-14s %10s %8s %6s %7s %14s %8s  %s\n' "$h" \
        "$(getstat "$log" number_of_executed_units)" "$(getstat "$log" average_exec_per_sec)" \
        "${cov:-?}" "${ft:-?}" "${corp:-?}" "$(getstat "$log" peak_rss_mb)" "$result"
done
echo "fuzz: $# harnesses, ${seconds}s each, $(($(date +%s) - start))s wall time"
if [ "$fail" != 0 ]; then
    echo "fuzz: FAILED - reproduce with $bin/fuzz_NAME ARTIFACT;" \
         "once fixed, add the input to tests/fuzz/regressions/NAME/"
    exit 1
fi
