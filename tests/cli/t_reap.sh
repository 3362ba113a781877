#!/usr/bin/env bash
# stagefork reap: dry run, --max, expired vs fresh vs persistent envs, the
# per-env report, exit 5 and the retry, an env in use (its lock held) left
# alone, an interrupted `creating` env resumed and an interrupted `deleting`
# one finished (only after the grace period), --watch stopped by SIGTERM
# finishing the env in hand, the heartbeat in list/status, and two reapers
# at once on the PostgreSQL state tearing every env down exactly once.
source "$(dirname "$0")/lib.sh"
SF=${STAGEFORK_BUILD:?}/stagefork-test
SVC=$STAGEFORK_BUILD/tools/svc
PG=${STAGEFORK_TEST_PG:?STAGEFORK_TEST_PG is not set: run through make test}
PSQL=${STAGEFORK_TEST_PG_BINDIR:?}/psql
tmp=$T_TMP
cd "$tmp" || exit 1
unset STAGEFORK_CONFIG STAGEFORK_NOW
export XDG_STATE_HOME=$tmp/xdg STAGEFORK_STATE=$tmp/state
rec=$tmp/record.log
mkdir -p templates
printf 'limits: {max_ttl: none}\n' > stagefork.yaml
now=$(date +%s)
later() { STAGEFORK_NOW=$((now + $1)) "$SF" "${@:2}"; }
destroys() { grep -c "^call-destroy sf-$1-" "$rec"; }
status_of() { "$SF" list --all --json | python3 -c 'import json,sys; d={e["branch"]: e["status"] for e in json.load(sys.stdin)}; print(d.get(sys.argv[1], "absent"))' "$1"; }

cat > templates/two.yaml <<EOF
resources:
  a: {type: test.resource, with: {record: $rec}}
  b: {type: test.resource, with: {record: $rec, data: "\${a.url}"}}
EOF
for spec in "old 1h" "older 30m" "fresh 5h" "forever none"; do
  set -- $spec
  "$SF" up "$1" -t two --ttl "$2" > /dev/null || fail "up $1"
done

# --- dry run: lists, changes nothing, stores no heartbeat
assert_exit 0 later 7200 reap --dry-run
cp "$T_OUT" dry.out
grep -q '^would reap older (older): expired since' dry.out && grep -q '^would reap old (old)' dry.out \
  && ok "dry run lists both expired envs" || fail "dry run output" "$(cat dry.out)"
[[ $(sed -n 1p dry.out) == "would reap older"* ]] && ok "most overdue first" || fail "order" "$(cat dry.out)"
[[ $(grep -c '^call-destroy' "$rec") == 0 && $(status_of old) == ready ]] && ok "dry run touched nothing" || fail "dry run acted"
[[ ! -e state/meta/reaper.json ]] && ok "dry run stores no heartbeat" || fail "heartbeat after dry run"
"$SF" list > list.out
grep -q '^reaper .*no sweep recorded' list.out && ok "list says no reaper has swept yet" || fail "list without heartbeat" "$(cat list.out)"

# --- --max 1 reaps the most overdue one
assert_exit 0 later 7200 reap --max 1
grep -q '^reaped older (older): expired since .*; removed a (sf-older-a), b (sf-older-b)$' "$T_OUT" \
  && ok "per-env report names what was removed" || fail "reap --max output" "$(cat "$T_OUT")"
grep -q '1 deleted.*1 deferred (of 2 due)' "$T_OUT" && ok "--max defers the rest" || fail "summary" "$(cat "$T_OUT")"
[[ $(status_of older) == deleted && $(status_of old) == ready ]] && ok "--max 1 reaped only one" || fail "--max states"
[[ $(destroys older) == 2 ]] && ok "b then a destroyed" || fail "destroy calls" "$(cat "$rec")"

# --- the rest, as JSON
assert_exit 0 later 7200 reap --json
cp "$T_OUT" reap.json
check "reap --json: one document with counts and removed resources" python3 - reap.json <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["dry_run"] is False and d["counts"]["deleted"] == 1 and d["counts"]["candidates"] == 1, d
e = d["envs"][0]
assert e["branch"] == "old" and e["action"] == "delete" and e["reason"] == "expired" and e["result"] == "deleted", e
assert sorted(r["id"] for r in e["removed"]) == ["sf-old-a", "sf-old-b"], e
EOF
[[ $(status_of fresh) == ready && $(status_of forever) == ready && $(destroys fresh) == 0 && $(destroys forever) == 0 ]] \
  && ok "unexpired and persistent envs untouched" || fail "reaped too much" "$(cat "$rec")"
"$SF" status old > st.out 2>&1
grep -q 'reap .*reaping: delete expired since' st.out && ok "the audit log names the reaper" || fail "reap event" "$(cat st.out)"
assert_exit 0 later 7200 reap
grep -q '^reap: nothing to do$' "$T_OUT" && ok "nothing left to reap" || fail "second sweep" "$(cat "$T_OUT")"

# --- heartbeat shown by list and status
"$SF" list > list.out
grep -Eq '^reaper +last sweep [0-9T:Z-]+ \(.* ago\) by .* pid [0-9]+ \(one-shot\)' list.out && ok "list shows the heartbeat" \
  || fail "list heartbeat" "$(cat list.out)"
"$SF" status fresh --json > st.json
check "status --json carries the heartbeat" python3 - <<'EOF'
import json
r = json.load(open("st.json"))["reaper"]
assert r["last_sweep"] and r["host"] and r["pid"] > 0 and r["interval"] is None and r["stale"] is None, r
assert r["counts"]["candidates"] == 0, r
EOF

# --- exit 5: a destroy that fails; the next sweep retries and finishes
cat > templates/sticky.yaml <<EOF
resources:
  a: {type: test.resource, with: {record: $rec}}
  b: {type: test.resource, with: {record: $rec, fail: destroy, fail_first: 3}}
EOF
"$SF" up sticky -t sticky --ttl 1h > /dev/null || fail "up sticky"
assert_exit 5 later 7200 reap
grep -q '^incomplete sticky (sticky): expired since .*; removed a (sf-sticky-a); left b (sf-sticky-b): .*injected destroy failure' "$T_OUT" \
  && ok "incomplete teardown reported with what is left" || fail "incomplete output" "$(cat "$T_OUT")"
grep -q 'could not be fully removed' "$T_ERR" && ok "exit 5 says why" || fail "exit 5 message" "$(cat "$T_ERR")"
[[ $(status_of sticky) == deleting ]] && ok "the state keeps it" || fail "sticky state"
assert_exit 0 later 7200 reap
[[ $(status_of sticky) == deleted ]] && ok "the next sweep finishes it" || fail "retry" "$(cat "$T_OUT")"

# --- an env whose lock is held is skipped, without waiting
"$SF" up busy -t two --ttl 1h > /dev/null || fail "up busy"
flock -o state/locks/busy.lock sleep 30 &
holder=$!
sleep 0.3
t0=$(date +%s%N)
assert_exit 0 later 7200 reap
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -q '^skipped busy (busy): in use by another process' "$T_OUT" && ok "a locked env is skipped" || fail "skip" "$(cat "$T_OUT")"
(( ms < 5000 )) && ok "the reaper did not wait for the lock (${ms} ms)" || fail "reaper waited" "$ms ms"
[[ $(status_of busy) == ready && $(destroys busy) == 0 ]] && ok "the locked env is untouched" || fail "busy touched"
kill "$holder"; wait "$holder" 2>/dev/null
assert_exit 0 later 7200 reap
[[ $(status_of busy) == deleted ]] && ok "reaped once the lock is free" || fail "busy after unlock"

# --- an interrupted `creating` env is resumed after the grace period, keeping its expiry
cat > templates/slow.yaml <<EOF
resources:
  a: {type: test.resource, with: {record: $rec}}
  b: {type: test.resource, with: {record: $rec, sleep: 2, data: "\${a.url}"}}
EOF
: > "$rec"
"$SF" up halfway -t slow --ttl 3h > /dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^call-create sf-halfway-b' "$rec" && break; sleep 0.05; done
kill -9 "$pid"; wait "$pid" 2>/dev/null
[[ $(status_of halfway) == creating ]] && ok "kill -9 left the env creating" || fail "halfway state" "$(status_of halfway)"
exp=$("$SF" status halfway --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["expires_at"])')
assert_exit 0 later 60 reap --grace 10m
grep -q 'nothing to do' "$T_OUT" && ok "within the grace period it is left alone" || fail "grace" "$(cat "$T_OUT")"
assert_exit 0 later 700 reap --grace 10m
grep -q '^resumed halfway (halfway): interrupted since .*; ready$' "$T_OUT" && ok "resumed after the grace period" \
  || fail "resume output" "$(cat "$T_OUT")"
[[ $(status_of halfway) == ready ]] && ok "the resumed env is ready" || fail "resumed state"
[[ $("$SF" status halfway --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["expires_at"])') == "$exp" ]] \
  && ok "resuming keeps the expiry" || fail "expiry changed"
[[ $(grep -c '^created sf-halfway-b' "$rec") == 1 ]] && ok "b created once" || fail "b creates" "$(cat "$rec")"

# --- an interrupted `deleting` env (teardown left incomplete by a process that is gone) is finished
sed 's/fail_first: 3/fail_first: 6/' templates/sticky.yaml > templates/sticky6.yaml
"$SF" up leftover -t sticky6 --ttl 3h > /dev/null || fail "up leftover"
assert_exit 5 "$SF" down leftover
[[ $(status_of leftover) == deleting ]] && ok "down left it deleting" || fail "leftover state"
assert_exit 5 later 700 reap --grace 10m
grep -q '^incomplete leftover (leftover): interrupted since' "$T_OUT" && ok "an interrupted teardown is resumed" \
  || fail "leftover resume" "$(cat "$T_OUT")"
assert_exit 0 later 700 reap --grace 10m
grep -q 'nothing to do' "$T_OUT" && ok "a record the reaper just touched waits for the grace period again" \
  || fail "grace after an incomplete sweep" "$(cat "$T_OUT")"
assert_exit 0 later 1400 reap --grace 10m
[[ $(status_of leftover) == deleted ]] && ok "and finished on the next sweep" || fail "leftover final" "$(cat "$T_OUT")"

# --- --watch: SIGTERM stops it after the env in hand is finished
cat > templates/svc.yaml <<EOF
resources:
  api:
    type: process.service
    with:
      command: ["$SVC", "--port", "\${self.port}", "--ignore-term"]
      health: {tcp: "\${self.port}", timeout: 10s}
      grace: 3s
EOF
"$SF" up stubborn -t svc --ttl 1h > /dev/null || fail "up stubborn"
pidfile=$(ls state/files/stubborn/*.pid)
svcpid=$(cut -d' ' -f1 "$pidfile")
kill -0 "$svcpid" && ok "the service runs (pid $svcpid)" || fail "service pid" "$pidfile"
STAGEFORK_NOW=$((now + 7200)) "$SF" reap --watch 1s > watch.out 2>&1 &
reaper=$!
for _ in $(seq 100); do grep -q 'reap.*reaping' <("$SF" status stubborn 2>/dev/null) && break; sleep 0.05; done
kill -TERM "$reaper"
t0=$(date +%s%N)
wait "$reaper"; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq 0 "$rc" "--watch exits 0 after SIGTERM"
(( ms >= 1000 )) && ok "it first finished the env in hand (${ms} ms)" || fail "did not wait for the env in hand" "$ms ms"
grep -q '^reaped stubborn (stubborn)' watch.out && ok "the env in hand was reaped" || fail "watch output" "$(cat watch.out)"
! kill -0 "$svcpid" 2>/dev/null && ok "its service process is gone" || fail "service survived"
"$SF" status fresh --json > st.json
check "a --watch heartbeat records its interval" python3 -c 'import json; r=json.load(open("st.json"))["reaper"]; assert r["interval"] == 1 and r["stale"] is False, r'
STAGEFORK_NOW=$((now + 7200)) "$SF" reap --watch 1m > idle.out 2>&1 &
reaper=$!
sleep 1
t0=$(date +%s%N)
kill -INT "$reaper"; wait "$reaper"; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq 0 "$rc" "an idle --watch exits 0 on SIGINT"
(( ms < 2000 )) && ok "without waiting for the interval (${ms} ms)" || fail "slow stop" "$ms ms"
STAGEFORK_NOW=$((now + 8000)) "$SF" list > stale.out
grep -q '^reaper .*STALE: last sweep' stale.out && ok "a late --watch reaper shows as STALE" || fail "stale" "$(cat stale.out)"

# --- bad arguments
assert_exit 2 "$SF" reap --max 0
assert_exit 2 "$SF" reap --watch 5
assert_exit 2 "$SF" reap extra

# --- two reapers at once on the PostgreSQL state: every env torn down exactly once, nobody waits
db=sf_reap_pg_$$_$RANDOM
"$PSQL" -qX "$PG" -c "CREATE DATABASE $db" || { fail "create test database"; finish; }
at_exit "\"$PSQL\" -qX \"$PG\" -c 'DROP DATABASE IF EXISTS $db WITH (FORCE)' >/dev/null 2>&1"
export STAGEFORK_STATE=${PG%/*}/$db
: > "$rec"
n=16
seq 1 $n | xargs -P 8 -I{} "$SF" up "pg/env-{}" -t two --ttl 1h > /dev/null 2>&1
[[ $("$PSQL" -qXtA "$STAGEFORK_STATE" -c "select count(*) from stagefork.envs where status = 'ready'") == "$n" ]] \
  && ok "$n envs on the PostgreSQL state" || fail "pg ups"
t0=$(date +%s%N)
later 7200 reap -j 4 --json > r1.json 2> r1.err &
p1=$!
later 7200 reap -j 4 --json > r2.json 2> r2.err &
p2=$!
wait "$p1"; rc1=$?
wait "$p2"; rc2=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq "0 0" "$rc1 $rc2" "both reapers exit 0"
check "together they deleted each env once" python3 - "$n" <<'EOF'
import json, sys
n = int(sys.argv[1])
a, b = json.load(open("r1.json")), json.load(open("r2.json"))
da = {e["slug"] for e in a["envs"] if e["result"] == "deleted"}
db = {e["slug"] for e in b["envs"] if e["result"] == "deleted"}
assert not (da & db), ("both deleted", da & db)
assert len(da | db) == n, (len(da), len(db))
for d in (a, b):
    for e in d["envs"]:
        assert e["result"] in ("deleted", "skipped"), e
EOF
dup=$(grep '^call-destroy' "$rec" | sort | uniq -d | head -3)
[[ -z $dup && $(grep -c '^call-destroy' "$rec") == $((2 * n)) ]] && ok "every resource destroyed exactly once" \
  || fail "double teardown" "$dup" "$(grep -c '^call-destroy' "$rec") destroy calls"
[[ $("$PSQL" -qXtA "$STAGEFORK_STATE" -c "select count(*) from stagefork.envs where status <> 'deleted'") == 0 ]] \
  && ok "the PostgreSQL state is clean" || fail "pg state"
echo "   two reapers, $n envs: ${ms} ms"
"$SF" status pg/env-1 --json > st.json
check "the heartbeat is in the PostgreSQL state" python3 -c 'import json; r=json.load(open("st.json"))["reaper"]; assert r["last_sweep"], r'
finish
