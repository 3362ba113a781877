#!/usr/bin/env bash
# Faults: tests/tools/faultproxy in front of the REST (json-server) and S3
# (s3rver) endpoints injects 500s, 429s with Retry-After, connection resets,
# lost responses (the server acted, the client never heard) and a 10 s stall
# during `up` and another during `down`. Every env converges (`up` and `down`
# are re-run until they succeed, at most 3 times each), no REST record or
# bucket is duplicated, and nothing is left behind. 3 envs in `make test`,
# 10 in `make stress`.
source "$(dirname "$0")/common.sh"
REL_SQL_SLEEP=0
n=${STAGEFORK_FAULT_ENVS:-$(rel_count 3 10)}
seed=${STAGEFORK_FAULT_SEED:-$RANDOM}
echo "# $n envs, proxy seed $seed"
# proxy NAME UPSTREAM_URL FAULT...: start one, its URL in $PROXY_URL (killed at exit)
proxy() {
  local name=$1 up=${2#http://} args=() f; shift 2
  for f in "$@"; do args+=(--fault "$f"); done
  "$STAGEFORK_BUILD/tools/faultproxy" --upstream "$up" --seed "$seed" --log "$D/$name.log" --max-seconds 900 \
    "${args[@]}" > "$D/$name.port" 2> "$D/$name.err" &
  at_exit "kill $! 2>/dev/null"
  for _ in $(seq 50); do [[ -s $D/$name.port ]] && break; sleep 0.1; done
  PROXY_URL="http://127.0.0.1:$(head -1 "$D/$name.port")"
}
# every kind of fault on the first requests of each method (so each phase meets all of them),
# a 10 s stall on the first create and the first delete, and random 503s throughout
faults() { # METHOD...
  local m
  for m in "$@"; do echo "$m/2=drop" "$m/3=status:500" "$m/4=status:429:1" "$m/5=reset"; done
  echo 'GET/1=status:500' 'GET/2=reset' 'GET/3=status:429:1' 'p0.08=status:503'
}
# shellcheck disable=SC2046
proxy rest "$STAGEFORK_TEST_REST" 'POST/1=stall:10' 'DELETE/1=stall:10' $(faults POST DELETE)
rest=$PROXY_URL
# shellcheck disable=SC2046
proxy s3 "$STAGEFORK_TEST_S3" 'PUT/1=stall:10' 'DELETE/1=stall:10' $(faults PUT DELETE)
s3=$PROXY_URL
rel_setup "" "$s3" "$rest"

retry() { # TRIES LOG CMD...: run CMD until it succeeds; prints the attempts used
  local tries=$1 log=$2 k; shift 2
  for k in $(seq 1 "$tries"); do "$@" >> "$log" 2>&1 && { echo "$k"; return 0; }; done
  echo "$tries"; return 1
}
ups=0 downs=0
for i in $(seq 1 "$n"); do
  b=fault-$i
  if k=$(retry 3 "$D/up-$i.log" sf up "$b" -t full); then ok "$b: up converged ($k attempt(s))"; else fail "$b: up did not converge" "$(grep error "$D/up-$i.log" | tail -3)"; fi
  ups=$((ups + k))
  assert_eq 1 "$(curl -s "$STAGEFORK_TEST_REST/hooks?name=$b" | grep -c '"id"')" "$b: exactly one REST record"
  assert_eq 200 "$(rel_s3_status "$P-$b-assets")" "$b: its bucket exists"
done
for i in $(seq 1 "$n"); do
  b=fault-$i
  if k=$(retry 3 "$D/down-$i.log" sf down "$b"); then ok "$b: down converged ($k attempt(s))"; else fail "$b: down did not converge" "$(grep error "$D/down-$i.log" | tail -3)"; fi
  downs=$((downs + k))
  assert_eq "" "$(rel_leaks "$b")" "$b: nothing left"
  rel_state_clean "$b" && ok "$b: state clean" || fail "$b: state" "$(sf list --all)"
done
for p in rest s3; do
  kinds=$(awk '{print $4}' "$D/$p.log" | sed 's/:.*//' | sort | uniq -c | tr '\n' ' ' | tr -s ' ')
  echo "# $p proxy: $(wc -l < "$D/$p.log") requests; actions:$kinds"
  [[ $(grep -c 'stall' "$D/$p.log") -ge 2 ]] && ok "$p: a 10 s stall during up and during down" || fail "$p stalls" "$kinds"
  for m in POST PUT DELETE; do
    got=$(awk -v m="$m" '$2 == m { c++; if (c >= 2 && c <= 5) print $4 }' "$D/$p.log" | sort | tr '\n' ' ')
    [[ -z $got ]] && continue
    assert_eq "drop reset status status " "$got" "$p: ${m}s met a lost response, a 500, a 429 and a reset"
  done
done
echo "# $ups up and $downs down attempts for $n envs"
finish
