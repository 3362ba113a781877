#!/usr/bin/env bash
# Environment verbs through the CLI on the directory state backend:
# plan, up (--json shape, --output-env), outputs, list, status, extend, down,
# exit codes 2/4/5/6, kill -9 during up then down, two processes on one env.
# Uses build/stagefork-test (the CLI + the test.resource provider).
source "$(dirname "$0")/lib.sh"
SF=${STAGEFORK_BUILD:?}/stagefork-test
REAL=${STAGEFORK_BIN:?}
tmp=$T_TMP
cd "$tmp" || exit 1
export STAGEFORK_STATE=$tmp/state XDG_STATE_HOME=$tmp/xdg
unset STAGEFORK_CONFIG STAGEFORK_NOW
rec=$tmp/record.log
mkdir -p templates

cat > templates/stack.yaml <<EOF
name: stack
ttl: 4h
params:
  greeting: {default: hello}
resources:
  db:
    type: test.resource
    with: {record: $rec, data: {g: "\${param.greeting}", pw: "\${secret.pw}"}}
  api:
    type: test.resource
    with: {record: $rec, data: {db: "\${db.url}", port: "\${self.port}", auth: "Bearer \${envvar.SF_CLI_TOKEN}"}}
  web:
    type: test.resource
    with: {record: $rec, data: "\${api.url}", outputs: {multi: "a\\nb"}}
outputs:
  DB_URL: \${db.url}
  DB_TOKEN: \${db.token}
  API_URL: "\${api.url}/v1"
  MULTI: \${web.multi}
EOF
export SF_CLI_TOKEN=cli-token-value

# --- plan touches nothing
out=$("$SF" plan feature/CLI -t stack); rc=$?
assert_eq 0 "$rc" "plan exits 0"
[[ $out == *"1. db (test.resource) -> sf-feature-cli-"*"2. api"*"after: db"*"3. web"* ]] \
  && ok "plan prints the graph in creation order" || fail "plan output" "$out"
[[ $out == *'${secret.pw}'* && $out == *'Bearer ${envvar.SF_CLI_TOKEN}'* && $out != *cli-token-value* ]] \
  && ok "plan shows references, never secrets or envvar values" || fail "plan redaction" "$out"
[[ ! -e $tmp/state && ! -e $rec ]] && ok "plan writes no state and calls no provider" || fail "plan touched something" "$(ls -la "$tmp")"
"$SF" --json plan feature/CLI -t stack > plan.json
check "plan --json is one JSON document" python3 -c 'import json,sys; d=json.load(open("plan.json")); assert d["order"]==["db","api","web"], d["order"]'

# --- plan / up errors are exit 2 with file:line:column
cat > templates/bad.yaml <<'EOF'
resources:
  a:
    type: test.resource
    with: {record: /dev/null, data: "${nope.url}"}
EOF
assert_exit 2 "$SF" plan x -t bad
grep -q "templates/bad.yaml:4:38: unknown reference '\${nope.url}'" "$T_ERR" && ok "plan error names file:line:column" || fail "plan error position" "$(cat "$T_ERR")"
cat > templates/cycle.yaml <<'EOF'
resources:
  a: {type: test.resource, with: {record: /dev/null, data: "${b.url}"}}
  b: {type: test.resource, with: {record: /dev/null}, depends_on: [a]}
EOF
assert_exit 2 "$SF" plan x -t cycle
grep -q "dependency cycle: a -> b -> a" "$T_ERR" && ok "a cycle is named" || fail "cycle message" "$(cat "$T_ERR")"
assert_exit 2 "$SF" up x -t nosuch
assert_exit 2 "$SF" up x -t stack --set colour=red
assert_exit 2 "$SF" up x -t stack --set novalue
assert_exit 2 "$SF" plan x
assert_exit 2 "$REAL" plan x -t stack
grep -q "unknown resource type 'test.resource'" "$T_ERR" && ok "the shipped binary has no test provider" || fail "real binary" "$(cat "$T_ERR")"
[[ ! -e $tmp/state/envs ]] || [[ -z $(ls "$tmp/state/envs") ]] && ok "failed validation wrote no record" || fail "records after errors" "$(ls "$tmp/state/envs")"

# --- up --json: exactly the documented shape
"$SF" up feature/CLI -t stack --json --output-env "$tmp/gh.env" > up.json; rc=$?
assert_eq 0 "$rc" "up exits 0"
check "up --json has exactly the SPEC keys, RFC 3339 times, redacted secrets" python3 - <<'EOF'
import json, re
d = json.load(open("up.json"))
assert list(d) == ["branch","slug","template","status","created_at","expires_at","outputs","resources"], list(d)
t = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
assert t.match(d["created_at"]) and t.match(d["expires_at"]), d
assert d["status"] == "ready" and d["template"] == "stack" and d["branch"] == "feature/CLI"
assert d["outputs"]["DB_TOKEN"] == "***", d["outputs"]
assert d["outputs"]["API_URL"].endswith("-api/v1")
assert [r["name"] for r in d["resources"]] == ["db","api","web"]
for r in d["resources"]:
    assert sorted(r) == ["id","name","status","type"], r
    assert r["status"] == "ready" and r["id"].startswith("sf-feature-cli-")
EOF
[[ $(stat -c %a "$tmp/gh.env") == 600 ]] && ok "--output-env file is mode 0600" || fail "--output-env mode" "$(stat -c %a "$tmp/gh.env")"
grep -q '^DB_URL=test://sf-feature-cli-' gh.env && grep -Eq '^DB_TOKEN=[0-9a-f]{32}$' gh.env && grep -q '^MULTI<<SF_EOF_' gh.env \
  && ok "--output-env has KEY=VALUE lines, secrets revealed, heredoc for multi-line" || fail "--output-env content" "$(cat gh.env)"
check "--output-env parses like GitHub's \$GITHUB_ENV" python3 - <<'EOF'
lines = open("gh.env").read().split("\n")
env, i = {}, 0
while i < len(lines):
    l = lines[i]
    if "<<" in l and ("=" not in l or l.index("<<") < l.index("=")):
        k, d = l.split("<<", 1); v = []; i += 1
        while lines[i] != d: v.append(lines[i]); i += 1
        env[k] = "\n".join(v)
    elif l:
        k, v = l.split("=", 1); env[k] = v
    i += 1
assert env["MULTI"] == "a\nb", env
assert env["API_URL"].endswith("/v1")
EOF
[[ $(grep -c '^created ' "$rec") == 3 ]] && ok "up created 3 resources" || fail "created count" "$(cat "$rec")"
grep -q '"auth":"Bearer cli-token-value"' "$rec" && ok "providers see envvar values at use" || fail "envvar at use" "$(cat "$rec")"
! grep -rq cli-token-value "$tmp/state" && ok "envvar values are never in the state" || fail "envvar persisted" ""
[[ $(stat -c %a "$tmp/state/envs/"*.json) == 600 && $(stat -c %a "$tmp/state") == 700 ]] && ok "state modes 0700/0600" || fail "state modes" ""

# --- reconcile, outputs, list, status, extend
: > "$rec"
"$SF" up feature/CLI -q > /dev/null; rc=$?
assert_eq 0 "$rc" "re-running up exits 0"
[[ $(grep -c '^created ' "$rec") == 0 ]] && ok "re-running up creates nothing" || fail "reconcile created" "$(cat "$rec")"
out=$("$SF" outputs feature/CLI)
[[ $out == *"DB_TOKEN=***"* && $out == *"API_URL=test://"* ]] && ok "outputs redacts secrets" || fail "outputs" "$out"
out=$("$SF" outputs feature/CLI --reveal --format json)
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert len(d["DB_TOKEN"])==32' "$out" && ok "outputs --reveal --format json" || fail "outputs reveal" "$out"
assert_exit 2 "$SF" outputs feature/CLI --format yaml
out=$("$SF" list)
[[ $out == *BRANCH*SLUG*TEMPLATE*STATUS*CREATED*EXPIRES*RESOURCES* && $out == *"feature/CLI"*"ready"*"3/3"* ]] && ok "list table" || fail "list" "$out"
"$SF" list --json > list.json
check "list --json is an array of env views" python3 -c 'import json; d=json.load(open("list.json")); assert len(d)==1 and d[0]["slug"].startswith("feature-cli-")'
out=$("$SF" status feature/CLI)
[[ $out == *"RESOURCE"*"db"*"RECENT EVENTS"*"up"* ]] && ok "status shows resources and events" || fail "status" "$out"
"$SF" status feature/CLI --json > status.json
check "status --json carries events" python3 -c 'import json; d=json.load(open("status.json")); assert d["events"] and d["events"][-1]["result"]=="ready"'
assert_exit 1 "$SF" status no/such/branch
assert_exit 2 "$SF" extend feature/CLI
out=$(STAGEFORK_NOW=2000000000 "$SF" extend feature/CLI --ttl 2h)
[[ $out == *"2033-05-18T05:33:20Z"* ]] && ok "extend moves the expiry to now+ttl" || fail "extend" "$out"
[[ $(STAGEFORK_NOW=2000000000 "$SF" list --expired --json) == "[]" ]] && ok "not expired yet" || fail "list --expired (before)" ""
[[ $(STAGEFORK_NOW=2000010000 "$SF" list --expired --json) == *feature/CLI* ]] && ok "list --expired" || fail "list --expired (after)" ""

# --- exit codes 2 (slug collision), 6 (guardrails)
printf 'limits: {max_envs: 1, max_ttl: 1d}\n' > limits.yaml
assert_exit 6 "$SF" -C limits.yaml up other -t stack
grep -q "limits.max_envs" "$T_ERR" && ok "max_envs message" || fail "max_envs message" "$(cat "$T_ERR")"
assert_exit 6 "$SF" -C limits.yaml up feature/CLI --ttl 2d
assert_exit 6 "$SF" -C limits.yaml up feature/CLI --ttl none
assert_exit 6 "$SF" -C limits.yaml extend feature/CLI --ttl 3d
cat > templates/one.yaml <<EOF
resources: {a: {type: test.resource, with: {record: $rec}}}
EOF
check "up main" "$SF" up main -t one
assert_exit 2 "$SF" up MAIN -t one
grep -q "both map to the environment slug 'main'" "$T_ERR" && ok "slug collision message" || fail "collision message" "$(cat "$T_ERR")"

# --- exit 5: teardown incomplete, state kept; --force drops it
cat > templates/sticky.yaml <<EOF
resources:
  a: {type: test.resource, with: {record: $rec}}
  b: {type: test.resource, with: {record: $rec, fail: destroy}}
EOF
check "up sticky" "$SF" up sticky -t sticky
assert_exit 5 "$SF" down sticky
[[ $("$SF" list --json) == *'"status": "deleting"'* ]] && ok "incomplete teardown keeps the record" || fail "record after exit 5" "$("$SF" list)"
assert_exit 0 "$SF" down sticky --force
grep -q "may remain: b (sf-sticky-b)" "$T_ERR" && ok "--force names what is left" || fail "--force warning" "$(cat "$T_ERR")"

# --- kill -9 in the middle of up, then down: nothing is left
cat > templates/hang.yaml <<EOF
resources:
  a: {type: test.resource, with: {record: $rec}}
  b: {type: test.resource, with: {record: $rec, hang: create, data: "\${a.url}"}}
  c: {type: test.resource, with: {record: $rec}}
EOF
: > "$rec"
"$SF" up crash -t hang > /dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^hang-create sf-crash-b' "$rec" && break; sleep 0.1; done
kill -9 "$pid"; wait "$pid" 2>/dev/null
grep -q '^hang-create' "$rec" && ok "up was killed while creating b" || fail "hang never reached" "$(cat "$rec")"
check "down after kill -9" "$SF" down crash
for r in a b c; do
  grep -q "^destroyed sf-crash-$r\$" "$rec" && ok "crash: $r destroyed" || fail "crash: $r not destroyed" "$(cat "$rec")"
done
[[ -z $(ls "$tmp" | grep '^sf-crash') ]] && ok "crash: no artifact left" || fail "crash leftovers" "$(ls "$tmp")"
[[ $("$SF" list --all --json) == *'"slug": "crash"'*'"status": "deleted"'* ]] && ok "crash: state is clean" || fail "crash state" "$("$SF" list --all)"

# --- two processes on one env: the second waits, or gives up with exit 4
cat > templates/slow.yaml <<EOF
resources: {a: {type: test.resource, with: {record: $rec, sleep: 2}}}
EOF
"$SF" up lockme -t slow > /dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q '^call-create sf-lockme-a' "$rec" && break; sleep 0.1; done
assert_exit 4 "$SF" up lockme --lock-timeout 1s
grep -q "locked by another stagefork process (pid $pid)" "$T_ERR" && ok "exit 4 names the holder" || fail "lock message" "$(cat "$T_ERR")"
t0=$(date +%s%N)
check "second up waits for the lock, then proceeds" "$SF" up lockme --lock-timeout 30s
waited=$(( ($(date +%s%N) - t0) / 1000000 ))
(( waited >= 300 )) && ok "the second up waited for the first (${waited} ms)" || fail "the second up did not wait" "${waited} ms"
wait "$pid"; rc=$?
assert_eq 0 "$rc" "first up finished"
[[ $(grep -c '^created sf-lockme-a' "$rec") == 1 ]] && ok "the waiting up found it ready (no second create)" || fail "lock create count" "$(cat "$rec")"

finish
