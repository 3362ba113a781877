#!/usr/bin/env bash
# stagefork gc --orphans against the real services: leaks made the two ways
# they happen (a state record lost; `down --force` past a bucket that could
# not be deleted) are found and removed through the providers, while live
# envs, unmarked look-alikes, unrecorded buckets and guard.protected names are
# never touched; a leak whose env is locked is skipped; a recorded endpoint
# that is gone is only a warning. A per-run prefix keeps other tests' objects
# out of reach.
source "$(dirname "$0")/lib.sh"

: "${STAGEFORK_BIN:?}" "${STAGEFORK_BUILD:?}" "${STAGEFORK_TEST_PG:?}" "${STAGEFORK_TEST_S3:?}"
PSQL="$STAGEFORK_TEST_PG_BINDIR/psql"
D=$T_TMP
cd "$D" || exit 1
P=gc$$
P=${P:0:12}
mkdir -p "$D/tpl"
unset STAGEFORK_STATE STAGEFORK_CONFIG STAGEFORK_NOW
export XDG_STATE_HOME=$D/xdg
cfg() {
  cat >"$D/stagefork.yaml" <<YAML
state: $D/state
templates: [$D/tpl]
prefix: $P
postgres: {admin_url: "$STAGEFORK_TEST_PG"}
s3: {endpoint: "$STAGEFORK_TEST_S3", access_key: S3RVER, secret_key: S3RVER}
vars: {svc: "$STAGEFORK_BUILD/tools/svc", s3_via: "${1:-$STAGEFORK_TEST_S3}"}
$2
YAML
}
cfg
cat >"$D/tpl/stack.yaml" <<'YAML'
resources:
  erp:
    type: postgres.database
    with: {server: "${config.postgres.admin_url}"}
  assets:
    type: s3.bucket
    with: {endpoint: "${config.vars.s3_via}", access_key: S3RVER, secret_key: S3RVER}
  api:
    type: process.service
    with:
      command: ["${config.vars.svc}", "--port", "${self.port}"]
      health: {http: "http://127.0.0.1:${self.port}/health", timeout: 10s}
      grace: 2s
YAML
sf() { "$STAGEFORK_BIN" -C "$D/stagefork.yaml" "$@"; }
sql() { "$PSQL" -X -q -At "$STAGEFORK_TEST_PG" -c "$1"; }
s3() { curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 -u S3RVER:S3RVER \
            -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X "$1" "$STAGEFORK_TEST_S3/$2${3:-}"; }
dbs() { sql "select count(*) from pg_database where datname like '${P}\\_$1%'"; }
roles() { sql "select count(*) from pg_roles where rolname like '${P}\\_$1%'"; }
svcpid() { cut -d' ' -f1 "$D/state/files/$1/$P-$1-api.pid"; }
at_exit 'for b in keep leak forced prot; do sf down "$b" --force >/dev/null 2>&1; done'
at_exit 'sql "DROP DATABASE IF EXISTS ${P}_foreign" >/dev/null 2>&1; s3 DELETE "$P-foreign" >/dev/null 2>&1'
at_exit '[[ -n ${proxy:-} ]] && kill $proxy 2>/dev/null'

for b in keep leak; do assert_exit 0 sf up "$b" -t stack; done
keep_pid=$(svcpid keep)
leak_pid=$(svcpid leak)
# look-alikes stagefork never made: a prefixed database without the marker, a prefixed bucket
sql "CREATE DATABASE ${P}_foreign" && ok "an unmarked ${P}_foreign database" || fail "create foreign db"
assert_eq 200 "$(s3 PUT "$P-foreign")" "a bucket $P-foreign the state never recorded"

assert_exit 0 sf gc --orphans --dry-run
cp "$T_OUT" clean.out
grep -q '^gc: nothing to collect; 1 kept$' clean.out && ok "nothing is orphaned while every env is live" || fail "clean gc" "$(cat clean.out)"
grep -q "^kept .*bucket   $P-foreign on .*the state has no record of this bucket" clean.out \
  && ok "an unrecorded prefixed bucket is listed as kept" || fail "foreign bucket" "$(cat clean.out)"
! grep -q "${P}_foreign" clean.out && ok "an unmarked database is not stagefork's" || fail "foreign db listed" "$(cat clean.out)"
assert_exit 0 sf gc
grep -q '^gc: golden templates: no snapshots.store in the config' "$T_OUT" \
  && ok "without a snapshot store golden templates are not judged" || fail "gc templates" "$(cat "$T_OUT")"

# --- leak 1: the state record is lost
rm "$D/state/envs/leak.json"
assert_exit 0 sf gc --orphans --dry-run
cp "$T_OUT" dry.out
grep -q "^would remove database ${P}_leak_erp on postgres://postgres@.* (env id [0-9a-f]\{32\}, unknown to this state)" dry.out \
  && ok "dry run: the database is found by its ownership marker" || fail "dry run database" "$(cat dry.out)"
grep -q "^would remove process  $P-leak-api on local (env leak)" dry.out && grep -q "^would remove files    leak on local" dry.out \
  && ok "dry run: the service process and its files are found" || fail "dry run process" "$(cat dry.out)"
grep -q "^kept .*bucket   $P-leak-assets .*no record" dry.out && ok "the lost env's bucket cannot be proven ours: kept" \
  || fail "dry run bucket" "$(cat dry.out)"
[[ $(dbs leak) == 1 ]] && kill -0 "$leak_pid" && ok "dry run removed nothing" || fail "dry run acted"
sf gc --orphans --json > dry.json
check "gc --json: one document, no credentials in it" python3 - dry.json <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert not d["dry_run"] and d["counts"]["removed"] >= 3, d["counts"]
assert any(t["kind"] == "postgres" and t["from"] == "config" for t in d["targets"]), d["targets"]
assert "S3RVER" not in open(sys.argv[1]).read()
EOF
[[ $(dbs leak) == 0 && $(roles leak) == 0 ]] && ok "the lost env's database and role are dropped" || fail "db after gc"
! kill -0 "$leak_pid" 2>/dev/null && ok "its service process is stopped" || fail "leak process alive"
[[ ! -e $D/state/files/leak ]] && ok "its files directory is removed" || fail "files dir left"

# --- leak 2: down --force past a bucket that could not be deleted (its endpoint refused, then vanished)
proxy_out=$D/proxy.port
"$STAGEFORK_BUILD/tools/faultproxy" --upstream "${STAGEFORK_TEST_S3#http://}" --fault 'DELETE/p1=status:403' \
  --max-seconds 120 > "$proxy_out" &
proxy=$!
for _ in $(seq 50); do [[ -s $proxy_out ]] && break; sleep 0.1; done
cfg "http://127.0.0.1:$(head -1 "$proxy_out")"
assert_exit 0 sf up forced -t stack
assert_exit 5 sf down forced
assert_exit 0 sf down forced --force
grep -q "may remain: assets ($P-forced-assets)" "$T_ERR" && ok "--force leaves the bucket behind, named" || fail "forced" "$(cat "$T_ERR")"
kill "$proxy"; wait "$proxy" 2>/dev/null; proxy=
cfg
assert_eq 200 "$(s3 GET "$P-forced-assets" '?location=')" "the bucket is still there"
assert_exit 0 sf gc --orphans
cp "$T_OUT" forced.out
grep -q "^removed      bucket   $P-forced-assets on $STAGEFORK_TEST_S3 (env forced)" forced.out \
  && ok "a bucket the state recorded is removed" || fail "forced bucket" "$(cat forced.out)"
grep -q "warning: cannot list s3 http://127.0.0.1:" "$T_ERR" && ok "the vanished endpoint is a warning" || fail "warning" "$(cat "$T_ERR")"
assert_eq 404 "$(s3 GET "$P-forced-assets" '?location=')" "bucket gone"

# --- a leak whose env is in use is skipped, then removed
assert_eq 204 "$(s3 DELETE "$P-leak-assets")" "the kept bucket removed by hand"
assert_exit 0 sf up leak -t stack
leak_pid=$(svcpid leak)
rm "$D/state/envs/leak.json"
flock -o "$D/state/locks/leak.lock" sleep 30 &
holder=$!
sleep 0.3
assert_exit 0 sf gc --orphans
grep -q "^skipped      process  $P-leak-api on local (env leak): its environment is in use" "$T_OUT" \
  && ok "a locked env's process is skipped" || fail "locked skip" "$(cat "$T_OUT")"
kill -0 "$leak_pid" && ok "and keeps running" || fail "locked process stopped"
[[ -e $D/state/files/leak ]] && ok "its files stay" || fail "locked files removed"
kill "$holder"; wait "$holder" 2>/dev/null
assert_exit 0 sf gc --orphans
! kill -0 "$leak_pid" 2>/dev/null && ok "removed once the lock is free" || fail "process after unlock"

# --- guard.protected is never touched
assert_exit 0 sf up prot -t stack
rm "$D/state/envs/prot.json"
cfg "" "guard: {protected: [\"${P}_prot_*\", \"$P-prot-*\"]}"
assert_exit 0 sf gc --orphans
grep -q "^kept .*database ${P}_prot_erp .*guard.protected" "$T_OUT" && ok "a protected orphan database is kept" \
  || fail "protected db" "$(cat "$T_OUT")"
[[ $(dbs prot) == 1 ]] && ok "and still exists" || fail "protected dropped"
cfg
assert_exit 0 sf gc --orphans
[[ $(dbs prot) == 0 ]] && ok "without the guard it is collected" || fail "prot after unguard"

# --- golden templates nothing needs (the golden-template comments as snapshots write them)
mkdir -p "$D/snaps"
cfg "" "snapshots: {store: $D/snaps}"
ka=$(printf 'a%.0s' $(seq 64)); kb=$(printf 'b%.0s' $(seq 64)); kc=$(printf 'c%.0s' $(seq 64))
for k in a b; do sql "CREATE DATABASE ${P}_tpl_$(printf "$k%.0s" $(seq 12))"; done
sql "COMMENT ON DATABASE ${P}_tpl_aaaaaaaaaaaa IS 'stagefork:golden key=$ka snapshot=erp@20260101T000000Z ready'"
sql "COMMENT ON DATABASE ${P}_tpl_bbbbbbbbbbbb IS 'stagefork:golden key=$kb snapshot=erp@20260101T000000Z ready'"
sql "CREATE DATABASE ${P}_clone"
sql "COMMENT ON DATABASE ${P}_clone IS 'stagefork:0123456789abcdef0123456789abcdef/erp ready template=${P}_tpl_bbbbbbbbbbbb'"
sql "CREATE DATABASE zz${P}_tpl_cccccccccccc"
sql "COMMENT ON DATABASE zz${P}_tpl_cccccccccccc IS 'stagefork:golden key=$kc snapshot=erp@20260101T000000Z ready'"
at_exit 'for d in ${P}_tpl_aaaaaaaaaaaa ${P}_tpl_bbbbbbbbbbbb ${P}_clone zz${P}_tpl_cccccccccccc; do sql "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1; done'
assert_exit 0 sf gc --dry-run
grep -q "^would remove template ${P}_tpl_aaaaaaaaaaaa on .*no database was cloned from it" "$T_OUT" \
  && ok "dry run: an unneeded golden template is listed with the reason" || fail "template dry run" "$(cat "$T_OUT")"
! grep -q "${P}_tpl_bbbbbbbbbbbb" "$T_OUT" && ok "a template a database was cloned from is needed" || fail "needed template listed"
! grep -q "zz${P}_tpl" "$T_OUT" && ok "another prefix's template is not ours to judge" || fail "foreign template listed"
assert_exit 0 sf gc
grep -q "^removed      template ${P}_tpl_aaaaaaaaaaaa" "$T_OUT" && ok "the unneeded template is dropped" || fail "template gc" "$(cat "$T_OUT")"
[[ $(sql "select string_agg(datname, ',' order by datname) from pg_database where datname like '%${P}\\_tpl%'") == "${P}_tpl_bbbbbbbbbbbb,zz${P}_tpl_cccccccccccc" ]] \
  && ok "the needed and the foreign templates survive" || fail "templates left" "$(sql "select datname from pg_database where datname like '%${P}%'")"
cfg

# --- live envs were never touched
[[ $(dbs keep) == 1 && $(roles keep) == 1 ]] && ok "the live env's database survived every gc" || fail "keep db"
assert_eq 200 "$(s3 GET "$P-keep-assets" '?location=')" "the live env's bucket survived"
kill -0 "$keep_pid" && ok "the live env's service survived" || fail "keep service"
[[ $(sql "select count(*) from pg_database where datname = '${P}_foreign'") == 1 ]] && ok "the unmarked database survived" || fail "foreign db"
assert_exit 0 sf down keep
s3 DELETE "$P-leak-assets" > /dev/null; s3 DELETE "$P-prot-assets" > /dev/null; s3 DELETE "$P-foreign" > /dev/null
finish
