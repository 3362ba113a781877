#!/usr/bin/env bash
# stagefork seed: determinism of `--to -`, psql loading that output, direct
# loads into PostgreSQL with --json row counts, usage errors (exit 2),
# spec/catalog errors naming file:line:column with nothing written, the
# guard (exit 6). Needs the STAGEFORK_TEST_PG* variables (make test).
set -uo pipefail
# shellcheck source=tests/cli/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC=${STAGEFORK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${STAGEFORK_BIN:-$SRC/build/stagefork}
SPEC=$SRC/templates/distribution/seed.yaml
SCHEMA=$SRC/templates/distribution/schema.sql
SUFFIX="$$_${RANDOM}"

need_env STAGEFORK_TEST_PG STAGEFORK_TEST_PG_BINDIR
PSQL="$STAGEFORK_TEST_PG_BINDIR/psql"
psql_q() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
BASE=${STAGEFORK_TEST_PG%/*}
DBS=()
new_db() { # new_db NAME: a fresh database with schema.sql loaded; prints its URL
    local db="sf_t_seed_${1}_$SUFFIX"
    psql_q "$STAGEFORK_TEST_PG" -c "drop database if exists $db" -c "create database $db" >/dev/null 2>&1
    psql_q "$BASE/$db" -f "$SCHEMA" >/dev/null
    echo "$BASE/$db"
}
cleanup() {
    local db
    for db in "${DBS[@]}"; do
        psql_q "$STAGEFORK_TEST_PG" -c "drop database if exists $db with (force)" >/dev/null 2>&1
    done
}
at_exit cleanup
for n in pipe direct bad; do DBS+=("sf_t_seed_${n}_$SUFFIX"); done

# ------------------------------------------------------------ --to - ------
A=$T_TMP/a.sql B=$T_TMP/b.sql C=$T_TMP/c.sql
"$BIN" seed --spec "$SPEC" --profile high-volume --set scale=0.005 --to - >"$A" 2>"$T_ERR"
"$BIN" seed --spec "$SPEC" --profile high-volume --set scale=0.005 --seed 1 --to - >"$B" 2>/dev/null
"$BIN" seed --spec "$SPEC" --profile high-volume --set scale=0.005 --seed 2 --to - >"$C" 2>/dev/null
if [[ -s "$A" ]] && cmp -s "$A" "$B"; then ok "same seed gives byte-identical COPY text (default seed is 1)"
else fail "same seed gives byte-identical COPY text (default seed is 1)" "$(head -c 300 "$T_ERR")"; fi
if ! cmp -s "$A" "$C"; then ok "a different seed gives different data"
else fail "a different seed gives different data"; fi
assert_eq 15 "$(grep -c '^COPY public\.[a-z_]* (.*) FROM stdin;$' "$A")" "15 COPY blocks, one per table"
assert_eq 15 "$(grep -c '^\\\.$' "$A")" "every block ends with \\."
if grep -q '^seeded 15 tables, [0-9]* rows' "$T_ERR"; then ok "summary on stderr"
else fail "summary on stderr" "$(cat "$T_ERR")"; fi

# the same text again, from a different working directory and environment
(cd / && env -i PATH="$PATH" "$BIN" seed --spec "$SPEC" --profile high-volume --set scale=0.005 --to - >"$B" 2>/dev/null)
if cmp -s "$A" "$B"; then ok "output does not depend on the working directory or environment"
else fail "output does not depend on the working directory or environment"; fi

# psql loads it into the real schema: every key, FK and CHECK holds
DB_PIPE=$(new_db pipe)
if psql_q -1 "$DB_PIPE" -f "$A" >"$T_OUT" 2>"$T_ERR"; then ok "psql loads the COPY text into schema.sql"
else fail "psql loads the COPY text into schema.sql" "$(tail -3 "$T_ERR")"; fi
want_lines=$(awk '/^COPY public.order_lines /{f=1;next} /^\\\.$/{f=0} f' "$A" | wc -l)
assert_eq "$want_lines" "$(psql_q "$DB_PIPE" -c 'select count(*) from order_lines')" "order_lines row count matches the text"
assert_eq 0 "$(psql_q "$DB_PIPE" -c 'select count(*) from order_lines where line_total <> qty * unit_price')" \
    "line_total = qty * unit_price"

# ------------------------------------------------------------ DSN ---------
DB_DIRECT=$(new_db direct)
if "$BIN" --json seed --spec "$SPEC" --profile standard,regulated --set scale=0.05 --to "$DB_DIRECT" \
    >"$T_OUT" 2>"$T_ERR"; then ok "seed into a database (--json)"
else fail "seed into a database (--json)" "$(cat "$T_ERR")"; fi
counts_ok=1
while IFS=$'\t' read -r table rows; do
    got=$(psql_q "$DB_DIRECT" -c "select count(*) from $table")
    [[ "$got" == "$rows" ]] || { counts_ok=0; fail "json rows of $table" "json $rows, table has $got"; }
done < <(node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
                  for (const t of d.tables) console.log(t.table+"\t"+t.rows);' "$T_OUT")
[[ $counts_ok == 1 ]] && ok "--json row counts equal the tables' contents"
assert_eq 0 "$(psql_q "$DB_DIRECT" -c "select count(*) from customers where country not in ('DE','FR','NL','AT','PL')")" \
    "regulated: EU customers only"
assert_eq 0 "$(psql_q "$DB_DIRECT" -c "select count(*) from orders where order_date < date '2025-06-30' - 90")" \
    "regulated: recent orders only"

# ------------------------------------------------------------ errors ------
assert_exit 2 "$BIN" seed --to -
assert_exit 2 "$BIN" seed --spec "$SPEC"
assert_exit 2 "$BIN" seed --spec "$T_TMP/missing.yaml" --to -
grep -q "cannot open '$T_TMP/missing.yaml'" "$T_ERR" && ok "missing spec named" || fail "missing spec named" "$(cat "$T_ERR")"
assert_exit 2 "$BIN" seed --spec "$SPEC" --profile standard,nosuch --to -
grep -q "unknown profile 'nosuch'" "$T_ERR" && ok "unknown profile named" || fail "unknown profile named" "$(cat "$T_ERR")"
[[ ! -s "$T_OUT" ]] && ok "nothing on stdout after a usage error" || fail "nothing on stdout after a usage error"
assert_exit 2 "$BIN" seed --spec "$SPEC" --set nosuch=1 --to -
assert_exit 2 "$BIN" seed --spec "$SPEC" --set scale=lots --to -
assert_exit 2 "$BIN" seed --spec "$SPEC" --seed -3 --to -
assert_exit 2 "$BIN" --json seed --spec "$SPEC" --to -

# a spec error: exit 2, file:line:column, and not one byte of COPY text
BAD=$T_TMP/bad.yaml
sed 's/      qty: {int: {min: 1, max: 24}}/      qty: {int: {min: 1, max: 24}, skew: zipf}/' "$SPEC" >"$BAD"
line=$(grep -n 'skew: zipf}$' "$BAD" | grep qty | cut -d: -f1)
assert_exit 2 "$BIN" seed --spec "$BAD" --profile standard --to -
grep -q "^error: $BAD:$line:37: option 'skew' only applies to ref" "$T_ERR" && ok "spec error names file:line:column" \
    || fail "spec error names file:line:column" "$(cat "$T_ERR")"
[[ ! -s "$T_OUT" ]] && ok "no COPY text after a spec error" || fail "no COPY text after a spec error"

# a unique domain too small for the requested scale is found before anything is written
assert_exit 2 "$BIN" seed --spec "$SPEC" --profile standard --set tenants=20000 --to -
grep -q "slug' needs 20000 distinct values" "$T_ERR" && ok "unique domain checked against the run's row counts" \
    || fail "unique domain checked against the run's row counts" "$(cat "$T_ERR")"
[[ ! -s "$T_OUT" ]] && ok "no COPY text after a validation error" || fail "no COPY text after a validation error"

# a catalog mismatch against a real database: exit 2 naming the spec position, tables stay empty
DB_BAD=$(new_db bad)
sed 's/      lead_time_days: {int: {min: 2, max: 60}}/      lead_time_days: {decimal: {min: 2, max: 60, scale: 1}}/' "$SPEC" >"$BAD"
line=$(grep -n 'lead_time_days: {decimal' "$BAD" | cut -d: -f1)
assert_exit 2 "$BIN" seed --spec "$BAD" --profile standard --set scale=0.01 --to "$DB_BAD"
grep -q "^error: $BAD:$line:23: column 'lead_time_days' of public.suppliers is smallint" "$T_ERR" \
    && ok "catalog mismatch names file:line:column" || fail "catalog mismatch names file:line:column" "$(cat "$T_ERR")"
assert_eq 0 "$(psql_q "$DB_BAD" -c 'select (select count(*) from tenants) + (select count(*) from warehouses)')" \
    "nothing written to earlier tables"

# a CHECK violation during the load: exit 1, the transaction leaves every table empty
sed 's/      capacity_pallets: {int: {min: 500, max: 40000}}/      capacity_pallets: {int: {min: -5, max: 0}}/' "$SPEC" >"$BAD"
assert_exit 1 "$BIN" seed --spec "$BAD" --profile standard --set scale=0.01 --to "$DB_BAD"
grep -q 'seeding public.warehouses: .*check constraint' "$T_ERR" && ok "database error names the table" \
    || fail "database error names the table" "$(cat "$T_ERR")"
assert_eq 0 "$(psql_q "$DB_BAD" -c 'select count(*) from tenants')" "rolled back: tenants empty"

# the guard refuses protected databases (exit 6)
printf 'guard:\n  protected: ["sf_t_seed_*"]\n' >"$T_TMP/cfg.yaml"
assert_exit 6 "$BIN" -C "$T_TMP/cfg.yaml" seed --spec "$SPEC" --profile standard --to "$DB_BAD"
assert_eq 0 "$(psql_q "$DB_BAD" -c 'select count(*) from tenants')" "guard: nothing written"

check "seed --help" "$BIN" seed --help
grep -q -- '--profile NAMES' "$T_OUT" && ok "help lists --profile" || fail "help lists --profile"

finish
