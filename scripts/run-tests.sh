#!/bin/sh
# Runs the unit and integration criterion binaries of BUILD_DIR and ends with one
# line `tests: N passed, N failed` summing both synthesis lines (crashes count as
# failures). Exits non-zero if anything failed or a binary produced no synthesis.
# Usage (from the repo root, as `make test` does): sh scripts/run-tests.sh BUILD_DIR
set -u

build=${1:-build}
case $build in
/*) ;;
*) build=$(pwd)/$build ;;
esac

IOURINGD_BIN=$build/bin/iouringd
IOURINGD_SECCOMP_RUN=$build/tests/seccomp-run
IOURINGCTL_BIN=$build/bin/iouringctl
IOURINGD_EXAMPLES_DIR=$build/examples
export IOURINGD_BIN IOURINGD_SECCOMP_RUN IOURINGCTL_BIN IOURINGD_EXAMPLES_DIR

tmp=$(mktemp -d "${TMPDIR:-/tmp}/iouringd-run-tests.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

passed=0
failed=0
broken=0
for suite in unit integration; do
    bin=$build/tests/$suite
    log=$tmp/$suite.log
    echo "== $suite: $bin"
    if [ ! -x "$bin" ]; then
        echo "run-tests: $bin is missing" >&2
        broken=1
        continue
    fi
    # Show the output as it comes and keep a copy to find the synthesis line.
    { "$bin" --jobs 2 --color=never 2>&1; echo $? >"$tmp/$suite.rc"; } | tee "$log"
    rc=$(cat "$tmp/$suite.rc" 2>/dev/null || echo 1)
    line=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep 'Synthesis: Tested:' | tail -n 1)
    if [ -z "$line" ]; then
        echo "run-tests: $suite produced no synthesis line (exit $rc)" >&2
        broken=1
        continue
    fi
    tested=$(echo "$line" | sed -n 's/.*Tested: *\([0-9]*\).*/\1/p')
    passing=$(echo "$line" | sed -n 's/.*Passing: *\([0-9]*\).*/\1/p')
    failing=$(echo "$line" | sed -n 's/.*Failing: *\([0-9]*\).*/\1/p')
    crashing=$(echo "$line" | sed -n 's/.*Crashing: *\([0-9]*\).*/\1/p')
    if [ -z "$tested" ] || [ -z "$passing" ] || [ -z "$failing" ] || [ -z "$crashing" ]; then
        echo "run-tests: cannot parse the synthesis line of $suite: $line" >&2
        broken=1
        continue
    fi
    # Criterion counts crashes (and timeouts) inside Failing; Tested - Passing counts
    # every non-passing test exactly once either way.
    bad=$((tested - passing))
    [ "$bad" -lt $((failing > crashing ? failing : crashing)) ] &&
        bad=$((failing > crashing ? failing : crashing))
    passed=$((passed + passing))
    failed=$((failed + bad))
    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
        echo "run-tests: $suite exited $rc with no failing test" >&2
        broken=1
    fi
done

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$broken" -eq 0 ]
