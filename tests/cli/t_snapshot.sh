#!/usr/bin/env bash
# stagefork snapshot: a -j 2 snapshot of the distribution database while a
# writer keeps committing orders with their lines restores to one consistent
# point in time; restores pass every constraint and equal `stagefork mask` of
# a pg_dump of the same data; tampered archives (a member byte, a manifest
# value) are refused with exit 1 and load nothing; S3 round trip; exit codes
# (strict violation 3 storing nothing, usage 2); list --json and prune.
# Needs the STAGEFORK_TEST_PG*, STAGEFORK_TEST_S3* variables (make test).
set -uo pipefail
# shellcheck source=tests/cli/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC=${STAGEFORK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${STAGEFORK_BIN:-$SRC/build/stagefork}
TAMPER=${STAGEFORK_BUILD:-$SRC/build}/tools/snaptamper
POLICY=$SRC/tests/fixtures/snapshot/policy.yaml
SCHEMA=$SRC/templates/distribution/schema.sql
SPEC=$SRC/templates/distribution/seed.yaml
SUFFIX="$$_${RANDOM}"

need_env STAGEFORK_TEST_PG STAGEFORK_TEST_PG_BINDIR STAGEFORK_TEST_S3 STAGEFORK_TEST_S3_ACCESS_KEY \
         STAGEFORK_TEST_S3_SECRET_KEY
export STAGEFORK_PG_BINDIR=$STAGEFORK_TEST_PG_BINDIR
export STAGEFORK_MASK_KEY="cli-snapshot-test-key-0123456789-abcdefghijklmnop"
export STAGEFORK_CONFIG=$T_TMP/none.yaml   # no config of the caller leaks in
: >"$STAGEFORK_CONFIG"
PSQL="$STAGEFORK_TEST_PG_BINDIR/psql"
PGDUMP="$STAGEFORK_TEST_PG_BINDIR/pg_dump"
psql_q() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
BASE=${STAGEFORK_TEST_PG%/*}
STORE=$T_TMP/store
DBS=()
NEW=
new_db() { # new_db NAME: an empty database (dropped at exit); its URL in $NEW
    local db="sf_t_snapcli_${1}_$SUFFIX"
    DBS+=("$db")
    psql_q "$STAGEFORK_TEST_PG" -c "drop database if exists $db" -c "create database $db" >/dev/null 2>&1
    NEW="$BASE/$db"
}
WRITER=
cleanup() {
    local db
    [[ -n "$WRITER" ]] && kill "$WRITER" 2>/dev/null && wait "$WRITER" 2>/dev/null
    for db in "${DBS[@]}"; do
        psql_q "$STAGEFORK_TEST_PG" -c "drop database if exists $db with (force)" >/dev/null 2>&1
    done
}
at_exit cleanup
snap() { "$BIN" snapshot "$@" --store "$STORE" --policy "$POLICY"; }

# ---------------------------------------------------------------- source --
new_db src; SRCDB=$NEW
psql_q "$SRCDB" -f "$SCHEMA" >/dev/null
"$BIN" seed --spec "$SPEC" --profile standard --set scale=0.05 --to "$SRCDB" >/dev/null 2>&1 \
    && ok "source database seeded" || fail "source database seeded"

# ------------------------------------------- consistency under a writer --
# every committed writer order has exactly 3 lines, in the same transaction
psql_q "$SRCDB" >/dev/null 2>&1 <<'SQL' &
DO $$
DECLARE oid bigint; stop timestamptz := clock_timestamp() + interval '60 seconds';
BEGIN
  FOR i IN 1..1000000 LOOP
    EXIT WHEN clock_timestamp() > stop;   -- never outlives a broken test run
    INSERT INTO orders (tenant_id, customer_id, customer_email, order_no, warehouse_id, status, channel,
                        currency, order_date, created_at)
      SELECT c.tenant_id, c.id, c.email, 'W-' || i, (SELECT min(id) FROM warehouses), 'open', 'web', 'EUR',
             current_date, now()
      FROM (SELECT * FROM customers ORDER BY id LIMIT 1) c
      RETURNING id INTO oid;
    INSERT INTO order_lines (order_id, line_no, product_id, sku, qty, unit_price, line_total)
      SELECT oid, n, p.id, p.sku, 2, 1.50, 3.00
      FROM generate_series(1, 3) n, (SELECT id, sku FROM products ORDER BY id LIMIT 1) p;
    COMMIT;
  END LOOP;
END $$;
SQL
WRITER=$!
for _ in $(seq 50); do
    [[ $(psql_q "$SRCDB" -c "select count(*) from orders where order_no like 'W-%'") -gt 50 ]] && break
    sleep 0.1
done
if snap create erp --from "$SRCDB" -j 2 >"$T_OUT" 2>"$T_ERR"; then
    ok "snapshot create -j 2 while a writer commits"
else
    fail "snapshot create -j 2 while a writer commits" "$(cat "$T_ERR")"
fi
sleep 0.3
kill "$WRITER" 2>/dev/null; wait "$WRITER" 2>/dev/null; WRITER=
[[ $(cat "$T_OUT") == erp@*": 15 tables, "*" rows, "* ]] && ok "create prints NAME@ID, tables, rows" \
    || fail "create prints NAME@ID, tables, rows" "$(cat "$T_OUT")"

new_db dst; DST=$NEW
if "$BIN" snapshot restore erp --to "$DST" -j 2 --store "$STORE" --key-env STAGEFORK_MASK_KEY >"$T_OUT" 2>"$T_ERR"; then
    ok "restore -j 2 into a fresh database (post-data: every key and foreign key built)"
else
    fail "restore -j 2 into a fresh database (post-data: every key and foreign key built)" "$(cat "$T_ERR")"
fi
n=$(psql_q "$DST" -c "select count(*) from orders where order_no like 'W-%'")
l=$(psql_q "$DST" -c "select count(*) from order_lines l join orders o on o.id = l.order_id where o.order_no like 'W-%'")
src_n=$(psql_q "$SRCDB" -c "select count(*) from orders where order_no like 'W-%'")
if [[ $n -gt 0 && $l -eq $((3 * n)) ]]; then ok "orders and their lines are never half-present ($n orders, $l lines)"
else fail "orders and their lines are never half-present" "orders=$n lines=$l"; fi
if [[ $src_n -gt $n ]]; then ok "the writer kept committing after the snapshot point ($src_n > $n)"
else fail "the writer kept committing after the snapshot point" "source=$src_n restored=$n"; fi
# one point in time: the restored writer orders are exactly W-1..W-n
assert_eq "$n" "$(psql_q "$DST" -c "select max(substr(order_no, 3)::int) from orders where order_no like 'W-%'")" \
    "the restored writer orders are a prefix W-1..W-$n"
assert_eq 0 "$(psql_q "$DST" -c "select count(*) from pg_constraint where not convalidated")" \
    "every constraint is validated"
assert_eq 0 "$(psql_q "$DST" -c "select count(*) from order_lines where line_total <> qty * unit_price")" \
    "line_total = qty * unit_price after masking"
assert_eq 0 "$(psql_q "$DST" -c "select count(*) from customers where email not like '%@example.com'")" \
    "customer emails are masked"
nextval=$(psql_q "$DST" -c "select nextval('orders_id_seq')")
[[ $nextval -gt $(psql_q "$DST" -c "select max(id) from orders") ]] && ok "sequences continue after the restored ids" \
    || fail "sequences continue after the restored ids" "nextval=$nextval"

# ------------------------------------- the same as `stagefork mask` --
new_db static; STATIC=$NEW
psql_q "$STATIC" -f "$SCHEMA" >/dev/null
"$BIN" seed --spec "$SPEC" --profile regulated --set scale=0.02 --to "$STATIC" >/dev/null 2>&1
snap create erpstatic --from "$STATIC" >/dev/null 2>"$T_ERR" || fail "snapshot of the static copy" "$(cat "$T_ERR")"
new_db viasnap; R1=$NEW
new_db viamask; R2=$NEW
"$BIN" snapshot restore erpstatic --to "$R1" --store "$STORE" --key-env STAGEFORK_MASK_KEY >/dev/null 2>"$T_ERR" \
    || fail "restore erpstatic" "$(cat "$T_ERR")"
"$PGDUMP" "$STATIC" | "$BIN" mask --policy "$POLICY" | psql_q "$R2" >/dev/null 2>"$T_ERR" \
    || fail "pg_dump | mask | psql" "$(cat "$T_ERR")"
dump_data() { "$PGDUMP" --data-only "$1" | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict'; }
if cmp -s <(dump_data "$R1") <(dump_data "$R2"); then
    ok "restored rows equal stagefork mask of a pg_dump of the same data, same key ($(dump_data "$R1" | wc -l) lines)"
else
    fail "restored rows equal stagefork mask of a pg_dump of the same data" \
        "$(diff <(dump_data "$R1") <(dump_data "$R2") | head -5)"
fi

# --------------------------------------------------------- tampering --
ID=$(ls "$STORE/erpstatic" | sed 's/\.tar\.zst$//')
ARC=$STORE/erpstatic/$ID.tar.zst
cp "$ARC" "$T_TMP/good.tar.zst"
"$TAMPER" "$T_TMP/good.tar.zst" "$ARC" data/00003.copy flip 10 2>/dev/null
assert_exit 1 "$BIN" snapshot verify erpstatic --store "$STORE" --key-env STAGEFORK_MASK_KEY
[[ $(cat "$T_ERR") == *"member 'data/00003.copy' does not match its checksum"* ]] \
    && ok "verify names the changed member" || fail "verify names the changed member" "$(cat "$T_ERR")"
new_db tampered; R3=$NEW
assert_exit 1 "$BIN" snapshot restore erpstatic --to "$R3" -j 2 --store "$STORE" --key-env STAGEFORK_MASK_KEY
rows=$(psql_q "$R3" -c "select sum(n) from (select count(*) n from tenants union all select count(*) from customers
        union all select count(*) from orders union all select count(*) from order_lines
        union all select count(*) from products) t")
assert_eq 0 "$rows" "a member that fails its checksum commits no rows"

"$TAMPER" "$T_TMP/good.tar.zst" "$ARC" manifest.json replace '"masked": true' '"masked": false' 2>/dev/null
assert_exit 1 "$BIN" snapshot verify erpstatic --store "$STORE" --key-env STAGEFORK_MASK_KEY
[[ $(cat "$T_ERR") == *"signature does not verify"* ]] && ok "a changed manifest fails its signature" \
    || fail "a changed manifest fails its signature" "$(cat "$T_ERR")"
new_db tampered2; R4=$NEW
assert_exit 1 "$BIN" snapshot restore erpstatic --to "$R4" --store "$STORE" --key-env STAGEFORK_MASK_KEY
assert_eq 0 "$(psql_q "$R4" -c "select count(*) from pg_tables where schemaname = 'public'")" \
    "a tampered manifest is refused before anything is loaded"
cp "$T_TMP/good.tar.zst" "$ARC"
STAGEFORK_MASK_KEY=another-key-0123456789-0123456789-0123456789 \
    assert_exit 1 "$BIN" snapshot verify erpstatic --store "$STORE" --key-env STAGEFORK_MASK_KEY
[[ $(cat "$T_ERR") == *"signed with another key"* ]] && ok "a wrong key is named as such" \
    || fail "a wrong key is named as such" "$(cat "$T_ERR")"
check "the untouched archive verifies" "$BIN" snapshot verify "erpstatic@$ID" --store "$STORE" \
    --key-env STAGEFORK_MASK_KEY

# ------------------------------------------------------------------ S3 --
BUCKET="sf-t-snapcli-${SUFFIX//_/-}"
curl -s -o /dev/null -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
    -u "$STAGEFORK_TEST_S3_ACCESS_KEY:$STAGEFORK_TEST_S3_SECRET_KEY" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    "$STAGEFORK_TEST_S3/$BUCKET"
cat >"$T_TMP/s3.yaml" <<EOF
snapshots: {store: "s3://$BUCKET/nightly"}
masking: {policy: "$POLICY"}
s3:
  endpoint: \${envvar.STAGEFORK_TEST_S3}
  region: us-east-1
  access_key: \${envvar.STAGEFORK_TEST_S3_ACCESS_KEY}
  secret_key: \${envvar.STAGEFORK_TEST_S3_SECRET_KEY}
EOF
export STAGEFORK_S3_PART_SIZE=65536
check "create into s3://bucket/prefix (multipart)" "$BIN" -C "$T_TMP/s3.yaml" snapshot create erp --from "$STATIC" -j 2
check "verify from S3" "$BIN" -C "$T_TMP/s3.yaml" snapshot verify erp
new_db s3; R5=$NEW
check "restore from S3 (ranged reads)" "$BIN" -C "$T_TMP/s3.yaml" snapshot restore erp --to "$R5" -j 2
if cmp -s <(dump_data "$R1") <(dump_data "$R5"); then ok "the S3 round trip restores the same rows"
else fail "the S3 round trip restores the same rows"; fi
"$BIN" -C "$T_TMP/s3.yaml" --json snapshot list >"$T_OUT" 2>"$T_ERR"
python3 - "$T_OUT" <<'PY' && ok "list --json from S3: name, id, size, tables, rows, signature ok" || fail "list --json from S3" "$(cat "$T_OUT" "$T_ERR")"
import json, sys
l = json.load(open(sys.argv[1]))
assert len(l) == 1, l
e = l[0]
assert e["name"] == "erp" and e["tables"] == 15 and e["rows"] > 0 and e["size"] > 0 and e["signature"] == "ok", e
PY
unset STAGEFORK_S3_PART_SIZE

# ------------------------------------------------------- exit codes --
cat >"$T_TMP/lax.yaml" <<'EOF'
version: 1
strict: true
tables: {}
EOF
before=$(ls "$STORE" | wc -l)
assert_exit 3 "$BIN" snapshot create strictfail --from "$STATIC" --policy "$T_TMP/lax.yaml" --key-env STAGEFORK_MASK_KEY \
    --store "$STORE"
[[ $(cat "$T_ERR") == *"public."*"."* ]] && ok "the violation names schema.table.column" \
    || fail "the violation names schema.table.column" "$(cat "$T_ERR")"
assert_eq "$before" "$(ls "$STORE" | wc -l)" "a policy violation stores nothing"
assert_exit 2 "$BIN" snapshot create x --from "$STATIC" --store "$STORE"
[[ $(cat "$T_ERR") == *"masking policy is mandatory"* ]] && ok "no policy: exit 2" || fail "no policy: exit 2" "$(cat "$T_ERR")"
assert_exit 2 "$BIN" snapshot create "bad/name" --from "$STATIC" --policy "$POLICY" --store "$STORE"
assert_exit 2 "$BIN" snapshot frob
assert_exit 2 "$BIN" snapshot restore erp --store "$STORE" --policy "$POLICY"
assert_exit 1 "$BIN" snapshot verify nosuch --store "$STORE" --policy "$POLICY"
assert_exit 2 "$BIN" snapshot list --store "$STORE" --key-file /nonexistent/key

# --------------------------------------------------- list and prune --
sleep 1
snap create erpstatic --from "$STATIC" >/dev/null 2>&1
snap list erpstatic >"$T_OUT" 2>"$T_ERR"
assert_eq 3 "$(wc -l <"$T_OUT")" "list shows a header and two snapshots"
[[ $(sed -n 2p "$T_OUT") == erpstatic*" ok" ]] && ok "list: signature ok" || fail "list: signature ok" "$(cat "$T_OUT")"
check "prune --keep 1" "$BIN" snapshot prune erpstatic --keep 1 --store "$STORE"
[[ $(cat "$T_OUT") == "removed erpstatic@$ID" ]] && ok "prune removes the oldest" || fail "prune removes the oldest" "$(cat "$T_OUT")"
assert_eq 1 "$(ls "$STORE/erpstatic" | wc -l)" "one archive left"

finish
