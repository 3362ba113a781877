#!/usr/bin/env bash
# Masking rules micro-benchmark (values/s per rule, one row at a time and in batches, CPU time, against copying
# the same values in the same run). Built by `make bench` as build/tools/bench_rules.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
"$BUILD/tools/bench_rules" "${STAGEFORK_BENCH_RULES_N:-200000}"
