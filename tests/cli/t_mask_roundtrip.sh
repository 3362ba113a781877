#!/usr/bin/env bash
# `stagefork mask` against real PostgreSQL: build the distribution database
# (tests/fixtures/masking/schema.sql), pg_dump it as COPY, --inserts,
# --column-inserts and --rows-per-insert=7, mask each with the fixture
# policy, load each into a fresh database with every constraint, and check
# what masking promises: same row counts, masked columns changed, untouched
# columns identical, joins on masked keys intact, derived columns exact, one
# answer whatever the dump style, determinism per key.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mask_lib.sh"
tmp=$T_TMP
pfx=sf_mrt_$$
export STAGEFORK_MASK_KEY=roundtrip-test-key-0123456789abcdef-0123456789

# --- the source database and its dumps
mkdb "${pfx}_src" || { fail "create source database"; finish; }
check "load the distribution schema" psql_q "${pfx}_src" -v scale=1 -f "$SRC/tests/fixtures/masking/schema.sql" || finish
"$BIN/pg_dump" -d "$(url "${pfx}_src")" -f "$tmp/copy.sql"
"$BIN/pg_dump" --inserts -d "$(url "${pfx}_src")" -f "$tmp/inserts.sql"
"$BIN/pg_dump" --column-inserts -d "$(url "${pfx}_src")" -f "$tmp/colinserts.sql"
"$BIN/pg_dump" --rows-per-insert=7 -d "$(url "${pfx}_src")" -f "$tmp/multirow.sql"

# --- mask every style and load it
styles=(copy inserts colinserts multirow)
for s in "${styles[@]}"; do
    check "mask the $s dump" "$SF" mask --policy "$POLICY" --report "$tmp/$s.report.json" "$tmp/$s.sql" "$tmp/$s.masked.sql" || continue
    mkdb "${pfx}_$s"
    check "the masked $s dump loads with every constraint" psql_q "${pfx}_$s" -f "$tmp/$s.masked.sql"
done

# meta-commands and non-data statements pass through byte for byte
no_copy_data() { awk '/^\\\.$/ {d=0} !d {print} /^COPY .* FROM stdin;$/ {d=1}' "$1"; }
no_inserts() { awk '/^INSERT INTO / {d=1} !d {print} d && /\);$/ {d=0}' "$1"; }
diff <(no_copy_data "$tmp/copy.sql") <(no_copy_data "$tmp/copy.masked.sql") >"$tmp/d1" &&
    ok "everything but COPY data is byte-identical" || fail "everything but COPY data is byte-identical" "$(head -5 "$tmp/d1")"
[[ $(no_copy_data "$tmp/copy.sql" | wc -l) -gt 300 ]] && ok "(the comparison saw the DDL)" || fail "(the comparison saw the DDL)"
diff <(no_inserts "$tmp/inserts.sql") <(no_inserts "$tmp/inserts.masked.sql") >"$tmp/d2" &&
    ok "everything but INSERTs is byte-identical" || fail "everything but INSERTs is byte-identical" "$(head -5 "$tmp/d2")"
if grep -q '^\\restrict ' "$tmp/copy.sql"; then
    grep -q '^\\restrict ' "$tmp/copy.masked.sql" && ok "\\restrict kept" || fail "\\restrict kept"
fi

# --- row counts
for t in "${tables[@]}"; do
    want=$(val "${pfx}_src" "SELECT count(*) FROM $t")
    for s in "${styles[@]}"; do
        assert_eq "$want" "$(val "${pfx}_$s" "SELECT count(*) FROM $t")" "$s: $t keeps its $want rows"
    done
done

# --- masked columns differ from the originals (row by row, joined on the unmasked key)
xdb_rows() { # db query -> rows as text, sorted
    val "$1" "$2" | LC_ALL=C sort
}
differ() { # table key column [max_equal]
    local t=$1 k=$2 c=$3 max=${4:-0} n same
    xdb_rows "${pfx}_src" "SELECT $k, $c FROM $t WHERE $c IS NOT NULL" >"$tmp/a"
    xdb_rows "${pfx}_copy" "SELECT $k, $c FROM $t WHERE $c IS NOT NULL" >"$tmp/b"
    n=$(wc -l <"$tmp/a")
    same=$(LC_ALL=C comm -12 "$tmp/a" "$tmp/b" | wc -l)
    if [[ $n -gt 0 && $same -le $max ]]; then ok "$t.$c masked ($same of $n values unchanged)"; else fail "$t.$c masked" "$same of $n values unchanged"; fi
}
differ public.customers id email
differ public.customers id customer_code
differ public.customers id phone
differ public.customers id tax_id
differ public.customers id iban
differ public.customers id contact_name 40
differ public.customers id company_name 40
differ public.customers id credit_limit 40
differ public.customers id birth_date 40
differ public.suppliers id contact_email
differ public.suppliers id account_no
differ public.suppliers id street 10
differ public.suppliers id city 60
differ 'erp."Supplier Contacts"' id '"E-Mail"'
differ 'erp."Supplier Contacts"' id '"Full Name"'
differ 'erp."Supplier Contacts"' id '"Phone"'
differ public.orders id customer_email
differ public.order_lines id sku
differ public.order_lines id unit_price 120
assert_eq 0 "$(val "${pfx}_copy" "SELECT count(*) FROM public.customers WHERE notes IS NOT NULL")" "notes: null rule leaves no value"
assert_eq 0 "$(val "${pfx}_copy" "SELECT count(*) FROM public.customers WHERE email NOT LIKE '%@example.com'")" "emails use the default domain"

# --- untouched columns are identical
same() { # table "columns" order-by
    local a b
    a=$(val "${pfx}_src" "SELECT md5(string_agg(x::text, '|' ORDER BY o)) FROM (SELECT ROW($2) AS x, $3 AS o FROM $1) s")
    b=$(val "${pfx}_copy" "SELECT md5(string_agg(x::text, '|' ORDER BY o)) FROM (SELECT ROW($2) AS x, $3 AS o FROM $1) s")
    assert_eq "$a" "$b" "$1 ($2) unchanged"
}
same public.customers 'id, country, created_at' id
same public.suppliers 'id, country' id
same 'erp."Supplier Contacts"' 'id, supplier_id, "Role"' id
same public.products 'name, category, weight_kg, active, tags' name
same public.price_lists 'id, label, valid_from' id
same public.orders 'id, order_date, status, memo' id
same public.order_lines 'id, order_id, qty' id

# --- joins on masked keys, derived columns
for s in "${styles[@]}"; do
    assert_eq "$(val "${pfx}_src" "SELECT count(*) FROM public.orders")" \
        "$(val "${pfx}_$s" "SELECT count(*) FROM public.orders o JOIN public.customers c ON c.email = o.customer_email")" \
        "$s: every order still joins its customer on the masked email"
    assert_eq "$(val "${pfx}_src" "SELECT count(*) FROM public.order_lines")" \
        "$(val "${pfx}_$s" "SELECT count(*) FROM public.order_lines l JOIN public.products p ON p.sku = l.sku")" \
        "$s: every order line still joins its product on the masked sku"
    assert_eq 0 "$(val "${pfx}_$s" "SELECT count(*) FROM public.order_lines WHERE line_total <> qty * unit_price")" \
        "$s: line_total = qty * unit_price exactly"
done

# --- one masker, one answer: every dump style yields the same table contents
for t in "${tables[@]}"; do
    q="SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM $t x"
    ref=$(val "${pfx}_copy" "$q")
    for s in inserts colinserts multirow; do
        assert_eq "$ref" "$(val "${pfx}_$s" "$q")" "$t: $s dump masks to the same contents as the COPY dump"
    done
done

# --- determinism per key
check "mask the COPY dump again" "$SF" mask --policy "$POLICY" "$tmp/copy.sql" "$tmp/copy.again.sql"
cmp -s "$tmp/copy.masked.sql" "$tmp/copy.again.sql" && ok "same key twice: identical bytes" || fail "same key twice: identical bytes"
STAGEFORK_MASK_KEY=another-key-entirely-0123456789abcdef-987654 check "mask with another key" \
    "$SF" mask --policy "$POLICY" "$tmp/copy.sql" "$tmp/copy.otherkey.sql"
if ! cmp -s "$tmp/copy.masked.sql" "$tmp/copy.otherkey.sql" &&
    [[ -z $(LC_ALL=C comm -12 <(grep -o '[a-z0-9]*@example.com' "$tmp/copy.masked.sql" | sort -u) \
                                <(grep -o '[a-z0-9]*@example.com' "$tmp/copy.otherkey.sql" | sort -u)) ]]; then
    ok "a different key gives different masked values"
else
    fail "a different key gives different masked values"
fi
"$SF" mask --policy "$POLICY" <"$tmp/copy.sql" >"$tmp/copy.stdio.sql"
cmp -s "$tmp/copy.masked.sql" "$tmp/copy.stdio.sql" && ok "stdin/stdout gives the same bytes as files" || fail "stdin/stdout gives the same bytes as files"

# --- the report
if [[ -f $tmp/copy.report.json ]]; then
    assert_eq 600 "$(stat -c %a "$tmp/copy.report.json")" "report file is 0600"
    node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const t = r.tables.find(t => t.schema === "public" && t.name === "customers");
const email = t.columns.find(c => c.name === "email");
const notes = t.columns.find(c => c.name === "notes");
const ok = r.policy_sha256.length === 64 && r.key_fingerprint.length === 16 && r.bytes_in > 0 && r.bytes_out > 0 &&
  typeof r.seconds === "number" && t.rows === 2000 && email.rule === "email" && email.masked === 2000 &&
  notes.rule === "null" && notes.nulls === 2000 && notes.masked > 1500 &&
  r.tables.find(t => t.name === "Supplier Contacts").columns.some(c => c.name === "Full Name" && c.masked === 400);
process.exit(ok ? 0 : 1);' "$tmp/copy.report.json" && ok "report counts rows and masked values per column" ||
        fail "report counts rows and masked values per column" "$(head -c 600 "$tmp/copy.report.json")"
    ! grep -q "$STAGEFORK_MASK_KEY" "$tmp/copy.report.json" && ok "report does not contain the key" || fail "report contains the key"
fi

# --- --check on the real dump: every column covered, exit 0
check "--check passes on the fixture dump" "$SF" mask --check --policy "$POLICY" "$tmp/copy.sql"
grep -q '^erp\."Supplier Contacts"\."E-Mail" *text *email$' "$T_OUT" && ok "--check lists quoted columns with type and rule" ||
    fail "--check lists quoted columns with type and rule" "$(grep -i mail "$T_OUT" | head -3)"
grep -q '^public\.orders\.status *text *not sensitive$' "$T_OUT" && ok "--check says not sensitive" || fail "--check says not sensitive"
"$SF" --json mask --check --policy "$POLICY" "$tmp/copy.sql" >"$tmp/check.json"
node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
process.exit(r.ok && r.unruled_sensitive===0 && r.columns.length>=50 && r.columns.some(c=>c.column==="public.customers.email"&&c.rule==="email"&&c.type==="public.email_address")?0:1)' \
    "$tmp/check.json" && ok "--check --json" || fail "--check --json" "$(head -c 300 "$tmp/check.json")"

finish
