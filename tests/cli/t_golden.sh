#!/usr/bin/env bash
# Golden templates and refresh through the CLI: 4 parallel `up`s of
# different branches from the same snapshot build exactly one template (with
# seed_spec/profiles and a sql file relative to the template directory) and
# all clone it; `refresh` of a persistent env while a client is connected
# disconnects the client, swaps in the newest snapshot's data under the same
# URL and reports its downtime (--json too); refresh refuses an env with a TTL.
# Needs the STAGEFORK_TEST_PG* variables (make test).
set -uo pipefail
# shellcheck source=tests/cli/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC=${STAGEFORK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${STAGEFORK_BIN:-$SRC/build/stagefork}
SUFFIX="$$_${RANDOM}"

need_env STAGEFORK_TEST_PG STAGEFORK_TEST_PG_BINDIR
export STAGEFORK_PG_BINDIR=$STAGEFORK_TEST_PG_BINDIR
export STAGEFORK_MASK_KEY="cli-golden-test-key-0123456789-abcdefghijklmnopq"
PSQL="$STAGEFORK_TEST_PG_BINDIR/psql"
psql_q() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
BASE=${STAGEFORK_TEST_PG%/*}
SNAP="erp_$SUFFIX"
SRCDB="sf_t_golden_src_$SUFFIX"
BRANCHES=(gold-a-$SUFFIX gold-b-$SUFFIX gold-c-$SUFFIX gold-d-$SUFFIX stage-$SUFFIX short-$SUFFIX)
CLIENT=

mkdir -p "$T_TMP/tpl/erpstack"
cat >"$T_TMP/stagefork.yaml" <<EOF
state: $T_TMP/state
templates: [$T_TMP/tpl]
snapshots: {store: $T_TMP/store}
masking: {policy: $SRC/tests/fixtures/snapshot/policy.yaml}
postgres: {admin_url: "$STAGEFORK_TEST_PG"}
limits: {max_ttl: none}
EOF
export STAGEFORK_CONFIG=$T_TMP/stagefork.yaml
cat >"$T_TMP/tpl/erpstack/stack.yaml" <<EOF
name: erpstack
ttl: 1h
resources:
  erp:
    type: postgres.database
    with:
      server: \${config.postgres.admin_url}
      from: {snapshot: $SNAP}
      seed_spec: seed.yaml
      profiles: [large]
      sql: [sql/marker.sql]
outputs:
  DATABASE_URL: \${erp.url}
EOF
cp "$SRC/tests/fixtures/snapshot/seed_tenants.yaml" "$T_TMP/tpl/erpstack/seed.yaml"
mkdir -p "$T_TMP/tpl/erpstack/sql"
echo "CREATE TABLE golden_marker (built_at timestamptz NOT NULL DEFAULT now()); INSERT INTO golden_marker DEFAULT VALUES;" \
    >"$T_TMP/tpl/erpstack/sql/marker.sql"

cleanup() {
    local b
    [[ -n "$CLIENT" ]] && kill "$CLIENT" 2>/dev/null && wait "$CLIENT" 2>/dev/null
    for b in "${BRANCHES[@]}"; do "$BIN" down "$b" --force >/dev/null 2>&1; done
    psql_q "$STAGEFORK_TEST_PG" -c "drop database if exists $SRCDB with (force)" >/dev/null 2>&1
    for t in $(psql_q "$STAGEFORK_TEST_PG" -c "select datname from pg_database where shobj_description(oid, 'pg_database') like '%snapshot=${SNAP}@%'"); do
        psql_q "$STAGEFORK_TEST_PG" -c "drop database if exists $t with (force)" >/dev/null 2>&1
    done
}
at_exit cleanup

psql_q "$STAGEFORK_TEST_PG" -c "drop database if exists $SRCDB" -c "create database $SRCDB" >/dev/null 2>&1
psql_q "$BASE/$SRCDB" -f "$SRC/templates/distribution/schema.sql" >/dev/null
"$BIN" seed --spec "$SRC/templates/distribution/seed.yaml" --profile standard --set scale=0.02 --to "$BASE/$SRCDB" \
    >/dev/null 2>&1
check "snapshot of the source" "$BIN" snapshot create "$SNAP" --from "$BASE/$SRCDB"

# ----------------------------------------------- 4 parallel ups, one build --
pids=()
for i in 0 1 2 3; do
    "$BIN" -v up "${BRANCHES[$i]}" -t erpstack >"$T_TMP/up$i.out" 2>"$T_TMP/up$i.err" &
    pids+=($!)
done
okcount=0
for i in 0 1 2 3; do wait "${pids[$i]}" && okcount=$((okcount + 1)); done
assert_eq 4 "$okcount" "4 parallel ups of different branches succeed"
builds=$(cat "$T_TMP"/up?.err | grep -c "building from snapshot $SNAP@")
assert_eq 1 "$builds" "exactly one golden template build"
tpls=$(psql_q "$STAGEFORK_TEST_PG" -c "select count(*) from pg_database where shobj_description(oid, 'pg_database') like 'stagefork:golden %snapshot=${SNAP}@% ready'")
assert_eq 1 "$tpls" "one template database on the server"
for i in 0 1 2 3; do
    url=$("$BIN" outputs "${BRANCHES[$i]}" --reveal --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["DATABASE_URL"])')
    got=$(psql_q "$url" -c "select (select count(*) from tenants where id >= 900001) || ' ' || (select count(*) from golden_marker) || ' ' || (select count(*) > 0 from orders) || ' ' || current_user")
    db=$(psql_q "$url" -c "select current_database()")
    assert_eq "5 1 true $db" "$got" "env $i: snapshot rows, 5 seeded tenants (profile large), the sql file ran once, owned by its role"
done

# --------------------------------------------------------------- refresh --
STAGE=${BRANCHES[4]}
check "a persistent env" "$BIN" up "$STAGE" -t erpstack --ttl none
URL=$("$BIN" outputs "$STAGE" --reveal --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["DATABASE_URL"])')
before_orders=$(psql_q "$URL" -c "select count(*) from orders")
# the source moves on, and tonight's snapshot has it
psql_q "$BASE/$SRCDB" -c "insert into tenants (slug, name, region, plan, data_retention_days, created_at)
                          values ('fresh-tenant', 'Fresh GmbH', 'eu', 'starter', 30, now())" >/dev/null
sleep 1
check "tonight's snapshot" "$BIN" snapshot create "$SNAP" --from "$BASE/$SRCDB"
# a client holding a session on the live database
"$PSQL" -X -At "$URL" -c "select 'connected'" -c "select pg_sleep(30)" >"$T_TMP/client.out" 2>&1 &
CLIENT=$!
for _ in $(seq 50); do
    [[ $(psql_q "$STAGEFORK_TEST_PG" -c "select count(*) from pg_stat_activity where query like '%pg_sleep(30)%' and pid <> pg_backend_pid()") -gt 0 ]] && break
    sleep 0.1
done
"$BIN" --json refresh "$STAGE" >"$T_OUT" 2>"$T_ERR"; rc=$?
assert_eq 0 "$rc" "refresh exits 0"
python3 - "$T_OUT" "$SNAP" <<'PY' && ok "refresh --json: resources with snapshot, template, downtime_ms" || fail "refresh --json" "$(cat "$T_OUT" "$T_ERR")"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["resources"][0]
assert r["name"] == "erp" and r["snapshot"].startswith(sys.argv[2] + "@") and r["template"].startswith("sf_tpl_"), r
assert r["template_built"] is True, r
assert 0 <= d["downtime_ms"] < 5000 and d["downtime_ms"] == r["downtime_ms"], d
PY
for _ in $(seq 50); do kill -0 "$CLIENT" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$CLIENT" 2>/dev/null; then fail "the connected client is disconnected" "still running"; kill "$CLIENT"
else ok "the connected client is disconnected"; fi
wait "$CLIENT" 2>/dev/null; CLIENT=
grep -q "terminating connection" "$T_TMP/client.out" && ok "the client was told why" \
    || fail "the client was told why" "$(cat "$T_TMP/client.out")"
URL2=$("$BIN" outputs "$STAGE" --reveal --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["DATABASE_URL"])')
assert_eq "$URL" "$URL2" "the URL is unchanged"
assert_eq 1 "$(psql_q "$URL" -c "select count(*) from tenants where slug = 'fresh-tenant'")" \
    "reconnecting with the same URL finds the refreshed data"
assert_eq "$before_orders" "$(psql_q "$URL" -c "select count(*) from orders")" "orders came along"
assert_eq 5 "$(psql_q "$URL" -c "select count(*) from tenants where id >= 900001")" "seeded in the new template too"
assert_eq 0 "$(psql_q "$STAGEFORK_TEST_PG" -c "select count(*) from pg_database where datname like 'sf\_rf\_%' or datname like 'sf\_old\_%'")" \
    "no database is left over from the swap"
"$BIN" refresh "$STAGE" >"$T_OUT" 2>"$T_ERR"
[[ $(cat "$T_OUT") == "erp: "*" refreshed from $SNAP@"*"(template sf_tpl_"*", reused)"*"downtime "*" ms" ]] \
    && ok "a second refresh reuses the template and prints its downtime" || fail "second refresh" "$(cat "$T_OUT" "$T_ERR")"
check "the env still works after two refreshes" "$BIN" status "$STAGE"

SHORT=${BRANCHES[5]}
check "an env with a TTL" "$BIN" up "$SHORT" -t erpstack --ttl 1h
assert_exit 2 "$BIN" refresh "$SHORT"
[[ $(cat "$T_ERR") == *"persistent"* ]] && ok "refresh explains it is for persistent envs" \
    || fail "refresh explains it is for persistent envs" "$(cat "$T_ERR")"
assert_exit 1 "$BIN" refresh "no-such-branch-$SUFFIX"

finish
