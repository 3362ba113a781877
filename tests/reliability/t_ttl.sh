#!/usr/bin/env bash
# TTL reaping: N envs with a 1 s TTL, each a PostgreSQL database (+ role) and
# an S3 bucket, on the PostgreSQL state backend, created by parallel `up`s;
# then a single `reap` removes them all. 10 envs in `make test`, 100 in
# `make stress`, where the reap must take at most 20 s
# (STAGEFORK_TTL_ENVS, STAGEFORK_REAP_JOBS override; scripts/bench/reap.sh
# reports the same figure as envs/s).
source "$(dirname "$0")/common.sh"
n=${STAGEFORK_TTL_ENVS:-$(rel_count 10 100)}
jobs=${STAGEFORK_REAP_JOBS:-8}
rel_pg_state
rel_setup "$REL_STATE"
t0=$(now_ms)
seq 1 "$n" | xargs -P 8 -I{} "$STAGEFORK_BIN" -C "$D/stagefork.yaml" up ttl-{} -t dbbucket --ttl 1s -q > "$D/ups.log" 2>&1
made=$("$PSQL" -X -q -At "$REL_STATE" -c "select count(*) from stagefork.envs where status = 'ready'")
echo "# created $made envs in $(( $(now_ms) - t0 )) ms (8 parallel ups)"
assert_eq "$n" "$made" "$n envs with a 1 s TTL are ready" || tail -5 "$D/ups.log"
sleep 1.2
assert_eq "$n" "$(rel_sql "select count(*) from pg_database where datname like '${P}\\_ttl\\_%'")" "$n databases exist"
t0=$(now_ms)
sf reap -j "$jobs" --json > "$D/reap.json" 2> "$D/reap.err"
rc=$?
ms=$(( $(now_ms) - t0 ))
assert_eq 0 "$rc" "reap exits 0" || tail -5 "$D/reap.err"
check "the report lists every env as deleted with its database and bucket" python3 - "$D/reap.json" "$n" <<'PY'
import json, sys
d, n = json.load(open(sys.argv[1])), int(sys.argv[2])
assert d["counts"]["deleted"] == n and d["counts"]["candidates"] == n, d["counts"]
for e in d["envs"]:
    assert e["result"] == "deleted" and sorted(r["type"] for r in e["removed"]) == ["postgres.database", "s3.bucket"], e
PY
assert_eq 0 "$(rel_sql "select count(*) from pg_database where datname like '${P}\\_ttl\\_%'")" "no database left"
assert_eq 0 "$(rel_sql "select count(*) from pg_roles where rolname like '${P}\\_ttl\\_%'")" "no role left"
left=0
for i in $(seq 1 "$n"); do [[ $(rel_s3_status "$P-ttl-$i-files") == 404 ]] || left=$((left + 1)); done
assert_eq 0 "$left" "no bucket left"
assert_eq 0 "$("$PSQL" -X -q -At "$REL_STATE" -c "select count(*) from stagefork.envs where status <> 'deleted'")" "state clean"
rate=$(awk -v n="$n" -v ms="$ms" 'BEGIN { printf "%.1f", n * 1000 / ms }')
echo "# reap of $n expired envs (database + bucket each, -j $jobs): ${ms} ms = $rate envs/s"
if [[ $n -ge 100 ]]; then
  (( ms <= 20000 )) && ok "100 envs reaped within 20 s (${ms} ms)" || fail "reap too slow" "${ms} ms for $n envs"
fi
finish
