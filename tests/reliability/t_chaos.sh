#!/usr/bin/env bash
# Chaos: `up` of a template with all four provider types (PostgreSQL
# database, S3 bucket, a REST record in json-server, a real service process)
# is killed with SIGKILL after a random delay of 0-3 s, then `down` runs: no
# database, role, bucket, REST record, process or files of that env may
# remain, and the state must be clean. 3 trials in `make test`, 50 in
# `make stress` (STAGEFORK_CHAOS_TRIALS overrides).
source "$(dirname "$0")/common.sh"
rel_setup
trials=${STAGEFORK_CHAOS_TRIALS:-$(rel_count 3 50)}
seed=${STAGEFORK_CHAOS_SEED:-$RANDOM}
RANDOM=$seed
echo "# $trials trials, seed $seed (STAGEFORK_CHAOS_SEED=$seed reproduces the delays)"
killed=0 finished=0 bad=0
for i in $(seq 1 "$trials"); do
  b=chaos-$i
  delay=$((RANDOM % 3001))
  sf up "$b" -t full > "$D/up-$i.log" 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid"; killed=$((killed + 1))
    wait "$pid" 2>/dev/null
  else
    finished=$((finished + 1))
    wait "$pid" || { fail "trial $i: up finished before the kill but failed" "$(tail -3 "$D/up-$i.log")"; bad=$((bad + 1)); }
  fi
  if ! sf --lock-timeout 30s down "$b" > "$D/down-$i.log" 2>&1; then
    fail "trial $i (kill after ${delay} ms): down failed" "$(tail -3 "$D/down-$i.log")"
    bad=$((bad + 1))
    continue
  fi
  leaks=$(rel_leaks "$b")
  if [[ -n $leaks ]]; then
    fail "trial $i (kill after ${delay} ms): leaks" "$leaks"
    bad=$((bad + 1))
  elif ! rel_state_clean "$b"; then
    fail "trial $i (kill after ${delay} ms): state not clean" "$(sf list --all)"
    bad=$((bad + 1))
  else
    ok "trial $i: killed after ${delay} ms, down left nothing"
  fi
done
echo "# $killed up(s) killed mid-flight, $finished had already finished"
assert_eq 0 "$bad" "chaos: $trials trials, no leak"
finish
