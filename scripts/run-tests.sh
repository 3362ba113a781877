#!/usr/bin/env bash
# Run every test against real services: Criterion unit/integration suites,
# CLI scripts driving the binary, fuzz-corpus replays. Called by `make test`.
# Starts the test services (PostgreSQL, s3rver, json-server) itself and stops
# them on exit unless STAGEFORK_KEEP_SERVICES=1.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export STAGEFORK_SERVICES_STATE=${STAGEFORK_SERVICES_STATE:-$PWD/$BUILD/test-services}
export STAGEFORK_BIN=$PWD/$BUILD/stagefork
export STAGEFORK_BUILD=$PWD/$BUILD
export STAGEFORK_SRC=$PWD
export SAN=${SAN:-0}

passed=0
failed=0
failures=()

started_here=0
if ! scripts/test-services.sh status >/dev/null 2>&1; then
  scripts/test-services.sh start || { echo "error: test services failed to start" >&2; exit 1; }
  started_here=1
fi
cleanup() {
  if [[ $started_here == 1 && ${STAGEFORK_KEEP_SERVICES:-0} != 1 ]]; then
    scripts/test-services.sh stop || true
  fi
}
trap cleanup EXIT
eval "$(scripts/test-services.sh env)"

record() { # name rc
  if [[ $2 == 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi
}

# 1. Criterion suites (unit + integration against the services)
echo "== unit and integration suites ($BUILD/test-unit)"
"$BUILD/test-unit" --jobs "${STAGEFORK_TEST_JOBS:-2}" ${STAGEFORK_TEST_FILTER:+--filter "$STAGEFORK_TEST_FILTER"}
record test-unit $?

# 2. CLI scripts: each prints ok/not ok lines and exits non-zero on failure
for t in tests/cli/t_*.sh tests/reliability/t_*.sh; do
  [[ -e $t ]] || continue
  [[ -n ${STAGEFORK_CLI_FILTER:-} && $t != *${STAGEFORK_CLI_FILTER}* ]] && continue
  echo "== $t"
  start=$(date +%s)
  bash "$t"
  rc=$?
  echo "   ($(( $(date +%s) - start ))s)"
  record "$t" $rc
done

# 3. Fuzz corpora replayed through the fuzz targets (built without libFuzzer)
for r in "$BUILD"/fuzz-replay/fuzz_*; do
  [[ -x $r ]] || continue
  name=$(basename "$r")
  corpus=tests/fuzz/corpus/${name#fuzz_}
  echo "== fuzz corpus replay: $name"
  "$r" "$corpus"
  record "$name" $?
done

echo
if [[ $failed -gt 0 ]]; then
  printf 'failed: %s\n' "${failures[@]}"
fi
echo "tests: $passed passed, $failed failed"
[[ $failed == 0 ]]
