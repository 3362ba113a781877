#!/usr/bin/env bash
# make demo, end to end: scripts/demo.sh at a tiny scale in a scratch
# directory (its own PostgreSQL, s3rver and json-server, so it never touches
# a developer's ./.stagefork or the test services), then its effects: the
# snapshot exists and verifies, both environments came up with all four
# resources, the environment's rows were masked, and afterwards nothing is
# left (no env databases, roles, buckets, registrations or processes);
# `demo.sh stop` tears down an env left behind, stops the services and
# removes the directory. Also: the shipped stack.yaml plans cleanly, and with
# --set profile=integration-heavy,tiny it brings up the snapshot's rows plus
# that tenant profile's.
set -uo pipefail
# shellcheck source=tests/cli/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC=${STAGEFORK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${STAGEFORK_BUILD:-$SRC/build}
BIN=${STAGEFORK_BIN:-$BUILD/stagefork}
API=$BUILD/distribution-api

# PostgreSQL runs as 'postgres' when we are root: it must reach the demo dir
chmod 0711 "$T_TMP"
DEMO=$T_TMP/demo
export STAGEFORK_DEMO_DIR=$DEMO
demo() { BUILD=$BUILD STAGEFORK_DEMO_SCALE=0.005 STAGEFORK_DEMO_SHORT_TTL=8s "$SRC/scripts/demo.sh" "$@"; }
at_exit 'demo stop >/dev/null 2>&1'

# --- plan: the shipped template renders and validates, touching nothing
cat >"$T_TMP/plan.yaml" <<EOF
state: $T_TMP/plan-state
templates: [$SRC/templates]
postgres: {admin_url: "postgres://postgres@127.0.0.1:1/postgres"}
s3: {endpoint: "http://127.0.0.1:2", region: us-east-1}
vars: {registry_api: "http://127.0.0.1:3"}
EOF
assert_exit 0 "$BIN" -C "$T_TMP/plan.yaml" plan feature/pricing-rules -t distribution
cp "$T_OUT" "$T_TMP/plan.out"
check "plan: four resources in dependency order" \
    grep -Eq '^4\. registration \(http\.resource\)' "$T_TMP/plan.out"
check "plan: the database comes from the snapshot" grep -q '"snapshot": "erp-nightly"' "$T_TMP/plan.out"
check "plan: touched nothing" test ! -e "$T_TMP/plan-state/envs"

# --- the demo
start=$SECONDS
demo >"$T_TMP/demo.out" 2>"$T_TMP/demo.err"
rc=$?
assert_eq 0 "$rc" "demo exits 0 (in $((SECONDS - start))s)" || { tail -n 30 "$T_TMP/demo.out" "$T_TMP/demo.err" | sed 's/^/#   /'; finish; }
check "all nine steps ran" grep -q '^\[9/9\] Checking that nothing is left behind' "$T_TMP/demo.out"
check "the demo says what happened" grep -q '^Done in [0-9]*s\. What happened' "$T_TMP/demo.out"

CFG=$DEMO/stagefork.yaml
export STAGEFORK_MASK_KEY
STAGEFORK_MASK_KEY=$(cat "$DEMO/mask.key")
sf() { "$BIN" -C "$CFG" "$@"; }
# the demo's services (started by it, still running)
eval "$(STAGEFORK_SERVICES_STATE=$DEMO/services "$SRC/scripts/test-services.sh" env)"
PSQL="$STAGEFORK_TEST_PG_BINDIR/psql"
psql_q() { PGOPTIONS='-c client_min_messages=warning' "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
PG=$STAGEFORK_TEST_PG
check "services and their data live in the demo directory" \
    bash -c "ls -d '$DEMO'/stagefork-services.*/pgdata '$DEMO'/stagefork-services.*/s3"

# snapshot exists and verifies
assert_exit 0 sf snapshot list erp-nightly
cp "$T_OUT" "$T_TMP/list.out"
check "snapshot listed with a good signature" grep -Eq '^erp-nightly .* ok$' "$T_TMP/list.out"
assert_exit 0 sf snapshot verify erp-nightly
assert_eq 1 "$(grep -c '^erp-nightly ' "$T_TMP/list.out")" "pruned to one snapshot"

# both environments came up with all four resources
for b in feature_pricing-rules fix_EDI-42; do
    f=$DEMO/envs/$b.up.json
    assert_eq 4 "$(grep -c '^      "status": "ready"' "$f" 2>/dev/null)" "$b: four resources ready"
    for r in erp documents api registration; do
        grep -q "\"name\": \"$r\"" "$f" || fail "$b: resource $r" "not in $f"
    done
    check "$b: env ready" grep -q '^  "status": "ready"' "$f"
done
check "the API answered from the masked database" grep -Eq '/customers/count -> \{"customers":[0-9]+\}' "$T_TMP/demo.out"
check "both registrations were in the gateway" test "$(grep -c '"branch":"' "$T_TMP/demo.out")" -ge 2

# rows were masked: the side-by-side lines differ pairwise, and the snapshot restored
# into a scratch database holds no production email, phone or IBAN
shown=$(grep -c '^    production  ' "$T_TMP/demo.out")
assert_eq 9 "$shown" "nine rows shown side by side"
same=$(grep -E '^    (production|masked)  ' "$T_TMP/demo.out" | sed 's/^    [a-z]* *//' | paste - - | awk -F'\t' '$1 == $2' | wc -l)
assert_eq 0 "$same" "every masked row differs from its original"
psql_q "$PG" -c "create database t_demo_restored" >/dev/null
assert_exit 0 sf snapshot restore erp-nightly --to "${PG%/*}/t_demo_restored"
cmp_col() {  # cmp_col TABLE COLUMN: rows (by id) whose value is unchanged
    local q="copy (select id, $2 from $1 where $2 is not null order by id) to stdout"
    psql_q "${PG%/*}/erp_production" -c "$q" >"$T_TMP/o"
    psql_q "${PG%/*}/t_demo_restored" -c "$q" >"$T_TMP/m"
    [[ -s $T_TMP/o ]] || { echo empty; return; }
    join -t $'\t' "$T_TMP/o" "$T_TMP/m" | awk -F'\t' '$2 == $3' | wc -l
}
for col in customers.email customers.phone customers.iban suppliers.contact_email customer_contacts.email; do
    assert_eq 0 "$(cmp_col "${col%.*}" "${col#*.}")" "snapshot: no $col kept"
done
assert_eq "$(psql_q "${PG%/*}/erp_production" -c 'select count(*) from order_lines')" \
    "$(psql_q "${PG%/*}/t_demo_restored" -c 'select count(*) from order_lines')" "snapshot: every order line there"

# nothing left: envs, databases, roles, buckets, registrations, processes
assert_eq '[]' "$(sf list --json | tr -d ' \n')" "no environment listed"
assert_eq 0 "$(psql_q "$PG" -c "select count(*) from pg_database where datname like 'sf\_%' and datname not like 'sf\_tpl\_%'")" "no env database"
assert_eq 0 "$(psql_q "$PG" -c "select count(*) from pg_roles where rolname like 'sf\_%'")" "no env role"
assert_eq 1 "$(psql_q "$PG" -c "select count(*) from pg_database where datname like 'sf\_tpl\_%'")" "one golden template (the newest snapshot's)"
buckets=$(curl -s -m 5 --aws-sigv4 aws:amz:us-east-1:s3 -u S3RVER:S3RVER -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
              "$STAGEFORK_TEST_S3/" | sed 's/<Bucket>/\n/g' | grep -c '<Name>sf-')
assert_eq 0 "$buckets" "no bucket"
assert_eq '[]' "$(curl -s -m 5 "$STAGEFORK_TEST_REST/hooks" | tr -d ' \n')" "no registration"
procs=0
for p in /proc/[0-9]*; do
    [[ $(readlink "$p/exe" 2>/dev/null) == "$API" ]] || continue
    tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -Eq '^DOCUMENTS_BUCKET=sf-(feature-pricing-rules|fix-edi-42)-' && procs=$((procs + 1))
done
assert_eq 0 "$procs" "no distribution-api process of the demo's envs"
for slug in feature-pricing-rules fix-edi-42; do
    for r in erp documents api registration; do
        grep "\"env\":\"$slug-" "$DEMO/state/events.jsonl" | grep "\"resource\":\"$r\"" | grep -q '"result":"ready"' ||
            fail "$slug: $r ready in the audit log"
        grep "\"env\":\"$slug-" "$DEMO/state/events.jsonl" | grep "\"resource\":\"$r\"" | grep -q '"result":"deleted"' ||
            fail "$slug: $r deleted in the audit log"
    done
done
ok "the audit log has every resource of both envs created and deleted"
if grep -q 'no reaper yet' "$T_TMP/demo.out"; then
    check "without a reaper the demo says so" grep -q "tears fix/EDI-42 down with \`stagefork down\`" "$T_TMP/demo.out"
else
    check "the reaper took fix/EDI-42" bash -c "grep '\"env\":\"fix-edi-42-' '$DEMO/state/events.jsonl' | grep -q '\"verb\":\"reap\"'"
fi

# a tenant profile on top of the snapshot: the shipped stack with --set profile=...
# gets the snapshot's (masked) rows untouched plus the profile's rows, new ids after them
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
PROFILE=integration-heavy,tiny
assert_exit 0 sf up edi/profile -t distribution --ttl 1h --set "api_bin=$API" --set "profile=$PROFILE"
assert_exit 0 sf outputs edi/profile --reveal
ENV_DB=$(sed -n 's/^DATABASE_URL=//p' "$T_OUT")
check "profile env: has a database URL" test -n "$ENV_DB"
"$BIN" seed --spec "$SRC/templates/distribution/seed.yaml" --profile "$PROFILE" --to - 2>/dev/null |
    awk '/^COPY /{t=$2; n=0; next} /^\\\.$/{print t, n; next} t{n++}' >"$T_TMP/profile.counts"
assert_eq 15 "$(wc -l <"$T_TMP/profile.counts")" "profile: 15 tables generated"
RESTORED=${PG%/*}/t_demo_restored
bad=
while read -r table rows; do
    snap=$(psql_q "$RESTORED" -c "select count(*) from $table")
    env=$(psql_q "$ENV_DB" -c "select count(*) from $table")
    [[ $env == $((snap + rows)) && $rows -gt 0 && $snap -gt 0 ]] || bad+=" $table($env != $snap + $rows)"
done <"$T_TMP/profile.counts"
assert_eq "" "$bad" "profile env: every table holds the snapshot's rows plus the profile's"
for table in tenants customers orders order_lines edi_partners edi_messages; do
    max=$(psql_q "$RESTORED" -c "select max(id) from $table")
    q="select md5(string_agg(x::text, E'\n' order by x.id)) from $table x where x.id <= $max"
    assert_eq "$(psql_q "$RESTORED" -c "$q")" "$(psql_q "$ENV_DB" -c "$q")" "profile env: the snapshot's $table rows are untouched"
    rows=$(awk -v t="public.$table" '$1 == t {print $2}' "$T_TMP/profile.counts")
    assert_eq "$rows" "$(psql_q "$ENV_DB" -c "select count(*) from $table where id > $max")" "profile env: new $table ids come after the snapshot's"
done
assert_eq 90 "$(psql_q "$ENV_DB" -c "select count(*) from edi_partners p join tenants t on t.id = p.tenant_id
    where t.id > (select max(id) from tenants) - 3")" "profile env: the new tenants have integration-heavy's 30 EDI partners each"
assert_eq 2 "$(psql_q "$PG" -c "select count(*) from pg_database where datname like 'sf\_tpl\_%'")" \
    "a second golden template: the snapshot + the profile"
assert_exit 0 sf down edi/profile
psql_q "$PG" -c "drop database t_demo_restored with (force)" >/dev/null

# stop: an environment left behind (an interrupted demo) is torn down first, so
# its API process does not outlive the services; services gone, directory removed
assert_exit 0 sf up left/behind -t distribution --ttl 1h --set "api_bin=$API"
left=
for p in /proc/[0-9]*; do
    [[ $(readlink "$p/exe" 2>/dev/null) == "$API" ]] &&
        tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -q '^DOCUMENTS_BUCKET=sf-left-behind-' && left=${p#/proc/}
done
check "the left-behind env's API runs" test -n "$left"
pids=$(. "$DEMO/services/state"; echo "$PG_PID $S3_PID $REST_PID $left")
assert_exit 0 demo stop
alive=0
for p in $pids; do   # alive = there and not a zombie (an orphan's exit status nobody collected)
    st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) && [[ ${st:0:1} != Z ]] && alive=$((alive + 1))
done
assert_eq 0 "$alive" "stop: the demo's servers and the left-behind API are gone"
check "stop: the demo directory is removed" test ! -e "$DEMO"
assert_exit 0 demo stop
finish
