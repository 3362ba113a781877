#!/usr/bin/env bash
# The masking benchmark's data (scripts/bench/mask_data.sql) at scale 1
# against real PostgreSQL: it loads, the fixture policy masks its dump in
# strict mode (every sensitive column of the bench schema has a rule), the
# masked dump loads into a fresh database with every constraint (unique
# codes and e-mails, foreign keys on masked SKUs and e-mails, line_total =
# qty * unit_price), and repeated values stay repeated: an order line's SKU
# and price move with its product, an order's e-mail with its customer.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mask_lib.sh"
tmp=$T_TMP
src=sf_mbd_src_$$
dst=sf_mbd_dst_$$
export STAGEFORK_MASK_KEY=bench-data-test-key-0123456789abcdef-0123456789

{ mkdb "$src" && mkdb "$dst"; } || { fail "create databases"; finish; }
check "the bench data loads at scale 1" psql_q "$src" -v scale=1 -f "$SRC/scripts/bench/mask_data.sql" || finish
"$BIN/pg_dump" -d "$(url "$src")" -f "$tmp/dump.sql"
check "the fixture policy masks it in strict mode" "$SF" mask --policy "$POLICY" "$tmp/dump.sql" "$tmp/masked.sql" || finish
check "the masked dump loads with every constraint" psql_q "$dst" -f "$tmp/masked.sql"

for t in customers orders order_lines products price_lists; do
    assert_eq "$(val "$src" "SELECT count(*) FROM public.$t")" "$(val "$dst" "SELECT count(*) FROM public.$t")" \
        "$t keeps its rows"
done
same=$(LC_ALL=C comm -12 <(val "$src" "SELECT email FROM public.customers" | LC_ALL=C sort) \
                         <(val "$dst" "SELECT email FROM public.customers" | LC_ALL=C sort) | wc -l)
assert_eq 0 "$same" "no customer e-mail survives"
assert_eq "$(val "$src" "SELECT count(DISTINCT sku) FROM public.order_lines")" \
    "$(val "$dst" "SELECT count(DISTINCT sku) FROM public.order_lines")" "order lines keep their number of distinct SKUs"
assert_eq "$(val "$src" "SELECT count(DISTINCT customer_email) FROM public.orders")" \
    "$(val "$dst" "SELECT count(DISTINCT customer_email) FROM public.orders")" "orders keep their number of distinct customers"
# noise by sku: a line at its product's list price is still at it (same value, same SKU, same factor)
q="SELECT count(*) FROM public.order_lines l JOIN public.products p USING (sku) WHERE l.unit_price = p.list_price"
assert_eq "$(val "$src" "$q")" "$(val "$dst" "$q")" "lines at their product's list price stay at it"
assert_eq 0 "$(val "$dst" "SELECT count(*) FROM public.order_lines WHERE line_total <> qty * unit_price")" \
    "line_total = qty * unit_price"
finish
