#!/usr/bin/env bash
# The shipped distribution stack (templates/distribution/): for every seed
# profile, seed schema.sql at a tiny scale, pg_dump it, prove masking.yaml
# covers it in strict mode (`mask --check` exit 0), mask it, load the masked
# dump into a fresh database with every constraint, and check that each
# masked column really changed. Also: a policy without one of its rules is
# refused naming the column, and the distribution-api service answers
# /health only once it reached its database. Needs the STAGEFORK_TEST_PG*
# variables (make test).
set -uo pipefail
# shellcheck source=tests/cli/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC=${STAGEFORK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${STAGEFORK_BIN:-$SRC/build/stagefork}
BUILD=${STAGEFORK_BUILD:-$SRC/build}
DIST=$SRC/templates/distribution
SUFFIX="$$_${RANDOM}"

need_env STAGEFORK_TEST_PG STAGEFORK_TEST_PG_BINDIR
PG_BIN=$STAGEFORK_TEST_PG_BINDIR
psql_q() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
BASE=${STAGEFORK_TEST_PG%/*}
# a fixed key: dictionary picks on a 3-row table can land on the original value for some keys;
# with this one the outcome is the same on every run
export STAGEFORK_MASK_KEY="distribution-test-key-fixed-0123456789abcdef0123"
DBS=()
new_db() { # new_db NAME: a fresh empty database; prints its URL
    local db="t_dist_${1}_$SUFFIX"
    DBS+=("$db")
    psql_q "$STAGEFORK_TEST_PG" -c "drop database if exists $db" -c "create database $db" >/dev/null 2>&1
    echo "$BASE/$db"
}
cleanup() {
    local db
    for db in "${DBS[@]}"; do
        psql_q "$STAGEFORK_TEST_PG" -c "drop database if exists $db with (force)" >/dev/null 2>&1
    done
}
at_exit cleanup

# same_share ORIG MASKED TABLE COLUMN: "equal/total" over non-NULL originals, rows matched by id
same_share() {
    local q="copy (select id, $4 from public.$3 order by id) to stdout"
    psql_q "$1" -c "$q" >"$T_TMP/o" && psql_q "$2" -c "$q" >"$T_TMP/m" || { echo "query failed"; return; }
    paste "$T_TMP/o" "$T_TMP/m" | awk -F'\t' '$2 != "\\N" { n++; if ($2 == $4) s++ } END { printf "%d/%d", s, n }'
}

# masked_columns CHECKFILE: "table column rule" for each column with a masking rule (not keep)
masked_columns() {
    awk 'NR > 1 && $NF != "keep" && $NF != "sensitive" {
             split($1, p, "."); print p[2], p[3], $NF }' "$1"
}

for profile in standard high-volume integration-heavy regulated; do
    p=${profile//-/_}
    orig=$(new_db "${p}_o")
    masked=$(new_db "${p}_m")
    psql_q "$orig" -f "$DIST/schema.sql" >/dev/null
    check "$profile: seeded" "$BIN" seed --spec "$DIST/seed.yaml" --profile "$profile" \
        --set scale=0.001 --seed 11 --to "$orig" || continue
    "$PG_BIN/pg_dump" "$orig" >"$T_TMP/$p.sql"
    assert_exit 0 "$BIN" mask --check --policy "$DIST/masking.yaml" "$T_TMP/$p.sql"
    cp "$T_OUT" "$T_TMP/$p.check"
    check "$profile: --check lists every table" \
        test "$(awk 'NR > 1 { split($1, p, "."); print p[2] }' "$T_TMP/$p.check" | sort -u | wc -l)" = 15
    assert_exit 0 "$BIN" mask --policy "$DIST/masking.yaml" "$T_TMP/$p.sql" "$T_TMP/$p.masked.sql" || continue
    check "$profile: masked dump loads with every constraint" \
        psql_q "$masked" -f "$T_TMP/$p.masked.sql"
    cons="select count(*) from pg_constraint where connamespace = 'public'::regnamespace"
    assert_eq "$(psql_q "$orig" -c "$cons")" "$(psql_q "$masked" -c "$cons")" "$profile: same constraints"
    cnt="select (select count(*) from customers), (select count(*) from order_lines), (select count(*) from edi_messages)"
    assert_eq "$(psql_q "$orig" -c "$cnt")" "$(psql_q "$masked" -c "$cnt")" "$profile: same row counts"
    # every masked column changed: FPE/token/email rules on every value, the
    # dictionary, noise and date rules on nearly every one (a dictionary pick
    # or a rounded 5 % noise can land on the original value)
    bad=()
    while read -r table column rule; do
        share=$(same_share "$orig" "$masked" "$table" "$column")
        s=${share%/*} n=${share#*/}
        case $rule in
            email|token|alnum|digits) [[ $n -gt 0 && $s -eq 0 ]] || bad+=("$table.$column ($rule) unchanged: $share") ;;
            null) [[ $(psql_q "$masked" -c "select count($column) from $table") == 0 ]] ||
                      bad+=("$table.$column (null) not all NULL") ;;
            expr) ;;   # line_total: the CHECK (line_total = qty * unit_price) held on load
            *) [[ $n -gt 0 && $((s * 4)) -lt $n ]] || bad+=("$table.$column ($rule) unchanged: $share") ;;
        esac
    done < <(masked_columns "$T_TMP/$p.check")
    if [[ ${#bad[@]} -eq 0 ]]; then ok "$profile: every masked column changed"; else fail "$profile: every masked column changed" "${bad[@]}"; fi
    # joins survive: each order's masked customer_email is its customer's masked email
    assert_eq 0 "$(psql_q "$masked" -c "select count(*) from orders o join customers c on c.id = o.customer_id where o.customer_email <> c.email")" \
        "$profile: orders.customer_email still joins customers.email"
    assert_eq 0 "$(psql_q "$masked" -c "select count(*) from order_lines l join products p on p.id = l.product_id where l.unit_price <> p.list_price")" \
        "$profile: a line's unit price still equals its product's masked list price"
done
[[ -s $T_TMP/standard.check ]] && check "the policy rules the columns the sensitive list adds" \
    grep -Eq '^public\.customers\.notes .* null$' "$T_TMP/standard.check"

# strict mode bites: the same policy without the notes rule is refused, naming the column
grep -v 'notes: null' "$DIST/masking.yaml" >"$T_TMP/gap.yaml"
assert_exit 3 "$BIN" mask --check --policy "$T_TMP/gap.yaml" "$T_TMP/standard.sql"
cat "$T_OUT" "$T_ERR" >"$T_TMP/gap.out"
check "the gap is named" grep -q 'public.customers.notes' "$T_TMP/gap.out"

# distribution-api: healthy only with its database, counts customers, no secret in its output
API=$BUILD/distribution-api
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
       echo $((20000 + RANDOM % 20000)))
api_get() { curl -s -m 5 -o "$T_TMP/body" -w '%{http_code}' "http://127.0.0.1:$port$1"; }
wait_up() { local i; for ((i = 0; i < 50; i++)); do [[ $(api_get /nope) == 404 ]] && return 0; sleep 0.1; done; return 1; }
db_url=$BASE/t_dist_standard_o_$SUFFIX
db_url=${db_url/postgres:\/\/postgres@/postgres://postgres:not-a-secret-pw@}
DATABASE_URL=$db_url DOCUMENTS_BUCKET=sf-docs "$API" --port "$port" >"$T_TMP/api.log" 2>&1 &
api_pid=$!
at_exit "kill $api_pid 2>/dev/null"
check "distribution-api starts" wait_up
assert_eq 200 "$(api_get /health)" "/health is 200 with a reachable database"
check "/health names the database and the bucket" grep -q "\"database\":\"t_dist_standard_o_$SUFFIX\",\"documents\":\"sf-docs\"" "$T_TMP/body"
assert_eq 200 "$(api_get /customers/count)" "/customers/count is 200"
assert_eq "{\"customers\":$(psql_q "$BASE/t_dist_standard_o_$SUFFIX" -c 'select count(*) from customers')}" \
    "$(cat "$T_TMP/body")" "/customers/count counts the customers"
assert_eq 405 "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/health")" "POST is 405"
kill -TERM "$api_pid"
wait "$api_pid"
assert_eq 0 "$?" "SIGTERM ends it with status 0"
check "its output never shows the database password" bash -c "! grep -q not-a-secret-pw '$T_TMP/api.log'"

DATABASE_URL="$BASE/t_dist_does_not_exist_$SUFFIX" "$API" --port "$port" >"$T_TMP/api2.log" 2>&1 &
api_pid=$!
at_exit "kill $api_pid 2>/dev/null"
check "distribution-api starts without its database" wait_up
assert_eq 503 "$(api_get /health)" "/health is 503 while the database is unreachable"
check "the 503 says why" grep -q 'does not exist' "$T_TMP/body"
kill -TERM "$api_pid"; wait "$api_pid"
assert_exit 2 env -u DATABASE_URL "$API" --port "$port"
cp "$T_ERR" "$T_TMP/api3.err"
check "no DATABASE_URL: says so" grep -q 'DATABASE_URL is not set' "$T_TMP/api3.err"
assert_exit 2 env DATABASE_URL=x "$API" --port 70000
finish
