#!/usr/bin/env bash
# make bench: masking throughput (SPEC §8). Builds the distribution database
# of scripts/bench/mask_data.sql (the fixture schema with the columns and data
# profile of a real distribution business: ~40% of the text columns masked,
# realistic value lengths, Zipf-skewed SKUs and customers, see its header) in
# the test PostgreSQL at a scale that gives a plain dump of >= 300 MB, then on
# that one dump measures:
#   pg_dump       producing the plain dump (the baseline)
#   mask          `stagefork mask` with the fixture policy (tests/fixtures/masking/policy.yaml, strict)
#   pass-through  `stagefork mask` with an empty policy and strict off (a plain copy)
#   fixed         the same columns masked by `fixed`/`null` only: the dump side's own cost
#   mask -j N     the fixture policy with a table's rows on N threads, N = 2 (and nproc when more),
#                 output checked identical to the one-thread output
# and prints MB/s and the ratios (targets: mask >= 2 x pg_dump, >= 0.5 x pass-through),
# plus the data profile it measured (masked share of text columns and values,
# duplication of the denormalised masked columns).
# Every figure is the faster of two runs (the machine is shared).
# Knobs: STAGEFORK_BENCH_SCALE (default 240 ~ 320 MB), STAGEFORK_BENCH_DIR (scratch, default /tmp).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SF=${STAGEFORK_BIN:-$PWD/$BUILD/stagefork}
SCALE=${STAGEFORK_BENCH_SCALE:-240}
source scripts/bench/lib.sh
bench_services
bench_scratch mask

echo "mask bench: building the distribution database at scale $SCALE ..." >&2
bench_db scripts/bench/mask_data.sql

# the data profile: text columns, and how often the denormalised masked values repeat
q() { "$BIN/psql" -X -q -At -F ' ' -v ON_ERROR_STOP=1 -d "$url" -c "$1"; }
q "SELECT table_schema || '.' || table_name || '.' || column_name FROM information_schema.columns
   WHERE table_schema IN ('public', 'erp')
     AND (data_type IN ('text', 'character varying', 'character') OR udt_name IN ('_text', '_varchar', '_bpchar'))" \
    >"$work/textcols"
dup_lines=$(q "WITH s AS (SELECT sku, count(*) AS n, row_number() OVER (ORDER BY count(*) DESC) AS r FROM order_lines GROUP BY sku),
                   p AS (SELECT count(*) AS skus FROM products)
               SELECT sum(n), count(*), round(100.0 * sum(n) FILTER (WHERE r <= (SELECT skus FROM p) / 5) / sum(n)),
                      round(100.0 * max(n) / sum(n), 1), (SELECT count(DISTINCT (sku, unit_price)) FROM order_lines) FROM s")
dup_orders=$(q "WITH s AS (SELECT customer_email, count(*) AS n, row_number() OVER (ORDER BY count(*) DESC) AS r
                           FROM orders GROUP BY customer_email),
                    c AS (SELECT count(*) AS n FROM customers)
                SELECT sum(n), count(*), round(100.0 * sum(n) FILTER (WHERE r <= (SELECT n FROM c) / 5) / sum(n)) FROM s")

# pg_dump producing the dump, also the faster of two runs
dump_s=$(best "$work/dump.sql" "$BIN/pg_dump" -d "$url" -f "$work/dump.sql")
bytes=$(stat -c %s "$work/dump.sql")
"$BIN/psql" -X -q -d "$STAGEFORK_TEST_PG" -c "DROP DATABASE $db"

export STAGEFORK_MASK_KEY=bench-key-0123456789abcdef-0123456789abcdef
printf 'version: 1\nstrict: false\ntables: {}\n' >"$work/empty.yaml"
# the same columns masked with `fixed`/`null` only: the dump side's own cost (decode, re-encode, I/O)
cat >"$work/fixed.yaml" <<'EOF'
version: 1
strict: false
tables:
  public.customers: {customer_code: {fixed: C}, company_name: {fixed: Co}, contact_name: {fixed: N}, email: {fixed: x@example.com},
                     phone: {fixed: "0"}, tax_id: {fixed: T}, iban: {fixed: I}, credit_limit: {fixed: "1.00"}, notes: null,
                     birth_date: {fixed: "2000-01-01"}}
  public.suppliers: {name: {fixed: S}, contact_email: {fixed: x@example.com}, street: {fixed: St}, city: {fixed: Ci},
                     postal_code: {fixed: P}, account_no: {fixed: "0"}}
  erp."Supplier Contacts": {"Full Name": {fixed: N}, "E-Mail": {fixed: x@example.com}, "Phone": {fixed: "0"}}
  public.products: {sku: {fixed: S}, list_price: {fixed: "1.00"}, cost: {fixed: "1.00"}}
  public.price_lists: {sku: {fixed: S}, unit_price: {fixed: "1.00"}}
  public.orders: {customer_email: {fixed: x@example.com}}
  public.order_lines: {sku: {fixed: S}, unit_price: {fixed: "1.00"}, line_total: {fixed: "1.00"}}
EOF

# each measured twice, the faster run counts (the machine is shared)
mask_s=$(best "$work/out.sql" "$SF" mask --policy tests/fixtures/masking/policy.yaml --report "$work/report.json" "$work/dump.sql" "$work/out.sql")
mv "$work/out.sql" "$work/masked.sql"
fixed_s=$(best "$work/out.sql" "$SF" mask --policy "$work/fixed.yaml" --key-env STAGEFORK_MASK_KEY "$work/dump.sql" "$work/out.sql")
pass_s=$(best "$work/out.sql" "$SF" mask --policy "$work/empty.yaml" --key-env STAGEFORK_MASK_KEY "$work/dump.sql" "$work/out.sql")
cmp -s "$work/dump.sql" "$work/out.sql" || { echo "mask bench: pass-through output differs from its input" >&2; exit 1; }

dump_mb=$(mbps "$bytes" "$dump_s")
mask_mb=$(mbps "$bytes" "$mask_s")
pass_mb=$(mbps "$bytes" "$pass_s")
echo "mask dump: $(awk -v n="$bytes" 'BEGIN { printf "%.0f", n / 1048576 }') MB plain (scale $SCALE)"
node -e '
const fs = require("fs");
const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const text = new Set(fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean));
let cols = 0, mcols = 0, vals = 0, mvals = 0;
const rows = [];
for (const t of r.tables) {
  rows.push(`${t.name} ${t.rows}`);
  for (const c of t.columns) {
    if (!text.has(`${t.schema}.${t.name}.${c.name}`)) continue;
    const masked = c.rule && c.rule !== "keep";
    const nonnull = c.rule === "null" ? c.masked : t.rows - c.nulls;
    cols++; vals += nonnull;
    if (masked) { mcols++; mvals += nonnull; }
  }
}
console.log(`mask data: rows ${rows.join(", ")}`);
console.log(`mask data: ${mcols} of ${cols} text columns masked (${Math.round(100 * mcols / cols)}%), ` +
            `${Math.round(100 * mvals / vals)}% of the non-NULL text values`);' "$work/report.json" "$work/textcols"
read -r l_rows l_skus l_top l_best l_skuprice <<<"$dup_lines"
read -r o_rows o_cust o_top <<<"$dup_orders"
echo "mask data: order_lines: $l_rows lines over $l_skus SKUs, top 20% of the catalogue in $l_top% of the lines," \
     "best seller $l_best%, $l_skuprice distinct (sku, unit_price)"
echo "mask data: orders: $o_rows orders from $o_cust customer e-mails, top 20% of the customers place $o_top% of them"
echo "pg_dump: $dump_mb MB/s (${dump_s}s)"
echo "pass-through: $pass_mb MB/s (${pass_s}s)"
echo "mask: $mask_mb MB/s (${mask_s}s; ratio $(ratio "$mask_mb" "$dump_mb") vs baseline pg_dump $dump_mb MB/s)"
fixed_mb=$(mbps "$bytes" "$fixed_s")
echo "mask, fixed values only (dump-side cost): $fixed_mb MB/s (${fixed_s}s; ratio $(ratio "$fixed_mb" "$dump_mb") vs baseline pg_dump $dump_mb MB/s)"
echo "mask / pg_dump: $(ratio "$mask_mb" "$dump_mb") (target >= 2)"
echo "mask / pass-through: $(ratio "$mask_mb" "$pass_mb") (target >= 0.5)"

# -j N: the rows of each table masked on N threads (the lines above are one core, the issue's target)
par_jobs=(2)
[[ $(nproc) -gt 2 ]] && par_jobs+=("$(nproc)")
for j in "${par_jobs[@]}"; do
    par_s=$(best "$work/out.sql" "$SF" mask -j "$j" --policy tests/fixtures/masking/policy.yaml "$work/dump.sql" "$work/out.sql")
    cmp -s "$work/masked.sql" "$work/out.sql" || { echo "mask bench: -j $j output differs from -j 1's" >&2; exit 1; }
    par_mb=$(mbps "$bytes" "$par_s")
    echo "mask -j $j: $par_mb MB/s (${par_s}s; ratio $(ratio "$par_mb" "$dump_mb") vs baseline pg_dump $dump_mb MB/s;" \
         "$(ratio "$par_mb" "$mask_mb") x mask on one thread)"
    echo "mask -j $j / pg_dump: $(ratio "$par_mb" "$dump_mb")"
    echo "mask -j $j / pass-through: $(ratio "$par_mb" "$pass_mb")"
done
