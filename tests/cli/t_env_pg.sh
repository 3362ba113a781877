#!/usr/bin/env bash
# Environment verbs on the PostgreSQL state backend (a fresh database per run):
# kill -9 during up then down, two processes on one env (wait / exit 4), and
# 16 parallel `up`s of distinct branches that must not serialize.
source "$(dirname "$0")/lib.sh"
SF=${STAGEFORK_BUILD:?}/stagefork-test
PG=${STAGEFORK_TEST_PG:?STAGEFORK_TEST_PG is not set: run through make test}
PSQL=${STAGEFORK_TEST_PG_BINDIR:?}/psql
tmp=$T_TMP
cd "$tmp" || exit 1
unset STAGEFORK_CONFIG STAGEFORK_NOW
export XDG_STATE_HOME=$tmp/xdg
rec=$tmp/record.log
db=sf_cli_pg_$$_$RANDOM
"$PSQL" -qX "$PG" -c "CREATE DATABASE $db" || { fail "create test database"; finish; }
at_exit "\"$PSQL\" -qX \"$PG\" -c 'DROP DATABASE IF EXISTS $db WITH (FORCE)' >/dev/null 2>&1"
export STAGEFORK_STATE=${PG%/*}/$db
mkdir -p templates

# --- kill -9 during up, then down: nothing left, state clean
cat > templates/hang.yaml <<EOF
resources:
  a: {type: test.resource, with: {record: $rec}}
  b: {type: test.resource, with: {record: $rec, hang: create, data: "\${a.url}"}}
  c: {type: test.resource, with: {record: $rec, data: "\${b.url}"}}
EOF
"$SF" up crash -t hang > /dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^hang-create sf-crash-b' "$rec" 2>/dev/null && break; sleep 0.1; done
kill -9 "$pid"; wait "$pid" 2>/dev/null
grep -q '^hang-create sf-crash-b' "$rec" && ok "up killed while b was being created" || fail "hang not reached" "$(cat "$rec")"
[[ $("$PSQL" -qXtA "$STAGEFORK_STATE" -c "select status from stagefork.envs where slug='crash'") == creating ]] \
  && ok "the killed up left the env in 'creating'" || fail "state after kill"
check "down after kill -9 (PostgreSQL state)" "$SF" --lock-timeout 20s down crash
grep -q '^destroyed sf-crash-a$' "$rec" && grep -q '^destroyed sf-crash-b$' "$rec" && ok "every created thing destroyed" \
  || fail "leftovers after down" "$(cat "$rec")"
! grep -q 'sf-crash-c' "$rec" && ok "c was never started" || fail "c touched" "$(cat "$rec")"
[[ -z $(ls "$tmp" | grep '^sf-crash') ]] && ok "no artifact left" || fail "artifacts" "$(ls "$tmp")"
[[ $("$PSQL" -qXtA "$STAGEFORK_STATE" -c "select status from stagefork.envs where slug='crash'") == deleted ]] \
  && ok "state record is deleted" || fail "state after down"
n=$("$PSQL" -qXtA "$STAGEFORK_STATE" -c "select count(*) from stagefork.events where env='crash'")
[[ $n -ge 8 ]] && ok "every state change left an audit event ($n)" || fail "events" "$n"

# --- two processes on one env
cat > templates/slow.yaml <<EOF
resources: {a: {type: test.resource, with: {record: $rec, sleep: 2}}}
EOF
"$SF" up lockme -t slow > /dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^call-create sf-lockme-a' "$rec" && break; sleep 0.1; done
assert_exit 4 "$SF" up lockme --lock-timeout 1s
grep -q "locked by another stagefork process (PostgreSQL session pid" "$T_ERR" && ok "exit 4 names the holding session" \
  || fail "lock message" "$(cat "$T_ERR")"
t0=$(date +%s%N)
check "a second up waits, then proceeds" "$SF" up lockme --lock-timeout 30s
waited=$(( ($(date +%s%N) - t0) / 1000000 ))
(( waited >= 300 )) && ok "the second up waited for the first (${waited} ms)" || fail "the second up did not wait" "${waited} ms"
wait "$pid"; assert_eq 0 "$?" "first up finished"
[[ $(grep -c '^created sf-lockme-a' "$rec") == 1 ]] && ok "created once" || fail "created twice" "$(cat "$rec")"
check "down lockme" "$SF" down lockme

# --- 16 parallel ups of distinct branches: all succeed, no serialization
cat > templates/sleepy.yaml <<EOF
resources: {a: {type: test.resource, with: {record: $rec, sleep: 1}}}
EOF
t0=$(date +%s.%N)
"$SF" up solo -t sleepy > /dev/null || fail "solo up"
t1=$(date +%s.%N)
one=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
pids=()
t0=$(date +%s.%N)
for i in $(seq 1 16); do
  "$SF" up "ci/job-$i" -t sleepy > "par-$i.out" 2>&1 &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
t1=$(date +%s.%N)
all=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
assert_eq 0 "$failed" "16 parallel ups all succeed"
[[ $("$PSQL" -qXtA "$STAGEFORK_STATE" -c "select count(*) from stagefork.envs where status='ready' and branch like 'ci/job-%'") == 16 ]] \
  && ok "16 ready records" || fail "ready records"
echo "# one up: ${one}s; 16 parallel ups: ${all}s (serialized would be >= $(awk -v o="$one" 'BEGIN{printf "%.1f", 16 * o}')s)"
if awk -v a="$all" -v o="$one" 'BEGIN{exit !(a < 6 * o)}'; then ok "parallel ups on different branches do not serialize"
else fail "parallel ups serialized" "one=$one all=$all"; fi
for i in $(seq 1 16); do "$SF" down "ci/job-$i" > /dev/null 2>&1 & done
wait
[[ $("$PSQL" -qXtA "$STAGEFORK_STATE" -c "select count(*) from stagefork.envs where status<>'deleted' and branch like 'ci/job-%'") == 0 ]] \
  && ok "16 parallel downs" || fail "parallel downs"

finish
