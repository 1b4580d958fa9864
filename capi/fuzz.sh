#!/usr/bin/env bash
# Bounded fuzzing of the C ABI, for CI and by hand.
#
#   capi/fuzz.sh [DURATION] [TARGET...]
#
# DURATION is a go test -fuzztime value (default 30s; "5000x" for a fixed
# number of executions). TARGETs default to every Fuzz* target in capi. Go
# fuzzes one target per invocation, so each runs in turn; the script stops at
# the first failure, which go test reports and saves under
# capi/testdata/fuzz/<Target>/ (commit it as a regression seed once fixed).
# FUZZ_PARALLEL sets -parallel (default 2: the workers per target).
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${1:-30s}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(FuzzParams FuzzImportArrow FuzzFitSmall)
fi
parallel="${FUZZ_PARALLEL:-2}"

for target in "${targets[@]}"; do
    cmd=(go test ./capi -run '^$' -fuzz "^${target}\$" -fuzztime "$duration" -parallel "$parallel")
    echo "+ ${cmd[*]}"
    "${cmd[@]}"
done
