#!/usr/bin/env bash
# Concurrency on the PostgreSQL state backend: 16 parallel `up`s of distinct
# branches and, at the same time, 8 parallel `up`s of one branch, all with
# the four provider types. Every `up` succeeds, there is exactly one env per
# branch and exactly one database, role, bucket, REST record and service
# process per env; then 17 parallel `down`s leave nothing behind.
source "$(dirname "$0")/common.sh"
REL_SQL_SLEEP=0
rel_pg_state
rel_setup "$REL_STATE"
distinct=${STAGEFORK_CONC_DISTINCT:-16}
same=${STAGEFORK_CONC_SAME:-8}
pids=() logs=()
t0=$(now_ms)
for i in $(seq 1 "$distinct"); do sf up "conc-$i" -t full > "$D/up-d$i.log" 2>&1 & pids+=($!); logs+=("$D/up-d$i.log"); done
for i in $(seq 1 "$same"); do sf up conc-shared -t full > "$D/up-s$i.log" 2>&1 & pids+=($!); logs+=("$D/up-s$i.log"); done
failed=0 why=()
for k in "${!pids[@]}"; do
  wait "${pids[k]}" || { failed=$((failed + 1)); why+=("${logs[k]##*/}: $(grep -m1 '^error' "${logs[k]}")"); }
done
echo "# $((distinct + same)) parallel ups: $(( $(now_ms) - t0 )) ms"
assert_eq 0 "$failed" "all $((distinct + same)) ups succeed" || printf '#   %s\n' "${why[@]}"

state_counts=$("$PSQL" -X -q -At "$REL_STATE" -c "select count(*), count(distinct branch) from stagefork.envs where status = 'ready'")
assert_eq "$((distinct + 1))|$((distinct + 1))" "$state_counts" "exactly one ready env per branch"
shared_ups=$("$PSQL" -X -q -At "$REL_STATE" -c "select count(*) from stagefork.events where env = 'conc-shared' and verb = 'up' and resource is null and result = 'creating'")
assert_eq "$same" "$shared_ups" "the $same ups of one branch ran one after another on one env"
n_new=$("$PSQL" -X -q -At "$REL_STATE" -c "select count(*) from stagefork.events where env = 'conc-shared' and detail = 'new environment'")
assert_eq 1 "$n_new" "only the first of them created it"

dups=""
for b in $(seq 1 "$distinct" | sed 's/^/conc-/') conc-shared; do
  ident=${b//-/_}
  dbn=$(rel_sql "select count(*) from pg_database where datname = '${P}_${ident}_erp'")
  rln=$(rel_sql "select count(*) from pg_roles where rolname = '${P}_${ident}_erp'")
  bk=$(rel_s3_status "$P-$b-assets")
  hooks=$(curl -s "$STAGEFORK_TEST_REST/hooks?name=$b" | grep -c '"id"')
  procs=$(rel_procs "$b" | wc -l)
  [[ "$dbn $rln $bk $hooks $procs" == "1 1 200 1 1" ]] || dups+="$b: db=$dbn role=$rln bucket=$bk rest=$hooks procs=$procs; "
done
assert_eq "" "$dups" "exactly one database, role, bucket, REST record and process per env"

pids=()
for b in $(seq 1 "$distinct" | sed 's/^/conc-/') conc-shared; do sf down "$b" > "$D/down-$b.log" 2>&1 & pids+=($!); done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
assert_eq 0 "$failed" "$((distinct + 1)) parallel downs succeed"
leaks=""
for b in $(seq 1 "$distinct" | sed 's/^/conc-/') conc-shared; do
  l=$(rel_leaks "$b"); [[ -n $l ]] && leaks+="$b: $l; "
done
assert_eq "" "$leaks" "nothing left after the downs"
assert_eq 0 "$("$PSQL" -X -q -At "$REL_STATE" -c "select count(*) from stagefork.envs where status <> 'deleted'")" "state clean"
finish
