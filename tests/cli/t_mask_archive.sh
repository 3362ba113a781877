#!/usr/bin/env bash
# `stagefork mask` on pg_dump archives (issue #4) against real PostgreSQL:
# the distribution database (tests/fixtures/masking/schema.sql) dumped as
# plain, tar, custom (default compression and -Z0) and directory, each masked
# with the fixture policy and one key, then
#   - -j 1 and -j 2 give byte-identical output for every format,
#   - every masked archive restores (pg_restore -j 2 for custom/directory)
#     with all constraints, row counts equal,
#   - one masker, five formats, one answer: pg_dump --data-only of every
#     restored database equals that of the masked plain dump,
#   - pg_restore -l / -L work on masked custom output, streams work,
#   - strict-mode violations exit 3 and corrupt archives exit 1, naming the
#     column / offset / member, with no partial output left behind,
#   - the report counts rows of every table, masked or copied verbatim.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mask_lib.sh"
W=$T_TMP
pfx=sf_mar_$$
export STAGEFORK_MASK_KEY=archive-test-key-0123456789abcdef-0123456789
# pg_dump --data-only, rows sorted: heap order after a restore depends on how it ran (-j)
data_of() { "$BIN/pg_dump" --data-only -d "$(url "$1")" | grep -v '^\\\(un\)\?restrict ' | LC_ALL=C sort; }
no_leftovers() { # dir base: no temp file or dir named after base remains
  ! compgen -G "$1/.$2.sf-*" >/dev/null && ! compgen -G "$1/$2.sf-*" >/dev/null
}

mkdb "${pfx}_src" || { fail "create source database"; finish; }
check "load the distribution schema" psql_q "${pfx}_src" -v scale=1 -f "$SRC/tests/fixtures/masking/schema.sql" || finish
D=$(url "${pfx}_src")
"$BIN/pg_dump" -Fp -d "$D" -f "$W/plain.sql"
"$BIN/pg_dump" -Ft -d "$D" -f "$W/tar.tar"
"$BIN/pg_dump" -Fc -d "$D" -f "$W/custom.dump"
"$BIN/pg_dump" -Fc -Z0 -d "$D" -f "$W/custom0.dump"
"$BIN/pg_dump" -Fd -j 2 -d "$D" -f "$W/dir.d"

check "mask the plain dump" "$SF" mask --policy "$POLICY" "$W/plain.sql" "$W/plain.m.sql" || finish
mkdb "${pfx}_plain" && psql_q "${pfx}_plain" -f "$W/plain.m.sql" >/dev/null 2>"$W/plain.err" \
  || { fail "the masked plain dump loads" "$(tail -3 "$W/plain.err")"; finish; }
data_of "${pfx}_plain" > "$W/plain.data"

formats=(tar custom custom0 dir)
declare -A IN=([tar]=tar.tar [custom]=custom.dump [custom0]=custom0.dump [dir]=dir.d)
for f in "${formats[@]}"; do
  in=$W/${IN[$f]}
  check "$f: mask -j 1" "$SF" mask --policy "$POLICY" -j 1 --report "$W/$f.report.json" "$in" "$W/$f.m1" || continue
  check "$f: mask -j 2" "$SF" mask --policy "$POLICY" -j 2 "$in" "$W/$f.m2" || continue
  if diff -r "$W/$f.m1" "$W/$f.m2" >/dev/null 2>&1; then ok "$f: -j 1 and -j 2 outputs are byte-identical"; else
    fail "$f: -j 1 and -j 2 outputs are byte-identical"; fi
  if ! diff -r "$in" "$W/$f.m1" >/dev/null 2>&1; then ok "$f: output differs from the input"; else
    fail "$f: output differs from the input"; fi
  mkdb "${pfx}_$f" || continue
  if [[ $f == tar ]]; then jopt=(); else jopt=(-j 2); fi
  if "$BIN/pg_restore" --exit-on-error "${jopt[@]}" -d "$(url "${pfx}_$f")" "$W/$f.m1" 2>"$W/$f.restore.err"; then
    ok "$f: masked archive restores with every constraint (pg_restore ${jopt[*]})"
  else
    fail "$f: masked archive restores" "$(tail -3 "$W/$f.restore.err")"; continue
  fi
  for t in "${tables[@]}"; do
    want=$(val "${pfx}_src" "SELECT count(*) FROM $t")
    assert_eq "$want" "$(val "${pfx}_$f" "SELECT count(*) FROM $t")" "$f: $t keeps its $want rows"
  done
  if data_of "${pfx}_$f" | cmp -s - "$W/plain.data"; then ok "$f: same masked data as the plain dump"; else
    fail "$f: same masked data as the plain dump" "$(data_of "${pfx}_$f" | diff - "$W/plain.data" | head -4)"; fi
done

# small pieces (a boundary every ~2 KB): many table handles per table, same answer
for f in custom dir; do
  rm -rf "$W/$f.sp1" "$W/$f.sp2"
  STAGEFORK_ARCHIVE_PIECE_BYTES=2000 "$SF" mask --policy "$POLICY" -j 1 --report "$W/$f.sp.json" "$W/${IN[$f]}" "$W/$f.sp1" &&
    STAGEFORK_ARCHIVE_PIECE_BYTES=2000 "$SF" mask --policy "$POLICY" -j 2 "$W/${IN[$f]}" "$W/$f.sp2" \
    || { fail "$f: mask with small pieces"; continue; }
  diff -r "$W/$f.sp1" "$W/$f.sp2" >/dev/null && ok "$f: small pieces, -j 1 and -j 2 byte-identical" \
    || fail "$f: small pieces, -j 1 and -j 2 byte-identical"
  mkdb "${pfx}_sp$f" && "$BIN/pg_restore" --exit-on-error -j 2 -d "$(url "${pfx}_sp$f")" "$W/$f.sp1" 2>"$W/sp.err" \
    && data_of "${pfx}_sp$f" | cmp -s - "$W/plain.data" && ok "$f: small pieces restore to the same masked data" \
    || fail "$f: small pieces restore to the same masked data" "$(tail -3 "$W/sp.err")"
  node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
const t=r.tables.find(x=>x.name==="customers"); process.exit(t.rows===2000 && t.columns.find(c=>c.name==="email").masked===2000?0:1)' \
    "$W/$f.sp.json" && ok "$f: small pieces, report counts fold over the pieces" || fail "$f: small pieces, report counts"
done

# the masked values really are masked (spot check on the restored custom database)
same=$(comm -12 <(val "${pfx}_src" "SELECT email FROM public.customers" | sort) \
                <(val "${pfx}_custom" "SELECT email FROM public.customers" | sort) | wc -l)
assert_eq 0 "$same" "custom: no customer email survives masking"
assert_eq 0 "$(val "${pfx}_custom" "SELECT count(*) FROM public.order_lines WHERE line_total <> qty * unit_price")" \
  "custom: derived line_total exact after masking"

# the report: rows for every table, masked or copied verbatim; bytes of the archive
for f in "${formats[@]}"; do
  [[ -f $W/$f.report.json ]] || continue
  node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const t = n => r.tables.find(x => x.name === n);
const ok = r.format === process.argv[2] && r.bytes_in > 0 && r.bytes_out > 0 && t("customers").rows === 2000 &&
  t("customers").columns.find(c => c.name === "email").masked === 2000 && t("orders").rows > 0 &&
  t("Supplier Contacts").rows === 400 && r.rows >= 2000;
process.exit(ok ? 0 : 1);' "$W/$f.report.json" "$([[ $f == custom0 ]] && echo custom || ([[ $f == dir ]] && echo directory) || echo "$f")" \
    && ok "$f: report counts rows and bytes" || fail "$f: report counts rows and bytes" "$(head -c 400 "$W/$f.report.json")"
done

# pg_restore -l / -L on masked custom output: restore only the customers' data
"$BIN/pg_restore" -l "$W/custom.m1" > "$W/list" && ok "pg_restore -l on masked custom output" || fail "pg_restore -l on masked custom output"
grep -v 'TABLE DATA' "$W/list" > "$W/list.sel"; grep 'TABLE DATA public customers' "$W/list" >> "$W/list.sel"
mkdb "${pfx}_sel" && "$BIN/pg_restore" --exit-on-error -L "$W/list.sel" -d "$(url "${pfx}_sel")" "$W/custom.m1" 2>"$W/sel.err" \
  && assert_eq "2000 0" "$(val "${pfx}_sel" "SELECT (SELECT count(*) FROM public.customers) || ' ' || (SELECT count(*) FROM public.orders)")" \
     "pg_restore -L restores just the listed data" || fail "pg_restore -L on masked custom output" "$(tail -3 "$W/sel.err")"

# streams: a pipe in, a pipe out (TOC offsets "not set"), pg_restore reads it
cat "$W/custom.dump" | "$SF" mask --policy "$POLICY" --format custom -j 2 - - | cat > "$W/custom.pipe"
assert_eq "0 0" "${PIPESTATUS[*]:1:2}" "custom: mask from a pipe to a pipe"
mkdb "${pfx}_pipe" && "$BIN/pg_restore" --exit-on-error -d "$(url "${pfx}_pipe")" "$W/custom.pipe" 2>"$W/pipe.err" \
  && data_of "${pfx}_pipe" | cmp -s - "$W/plain.data" && ok "custom: piped output restores to the same data" \
  || fail "custom: piped output restores to the same data" "$(tail -3 "$W/pipe.err")"
"$SF" mask --policy "$POLICY" < "$W/custom.dump" > "$W/custom.stdio" && cmp -s "$W/custom.stdio" "$W/custom.m1" \
  && ok "custom: --format auto on redirected stdin/stdout gives the file output" || fail "custom: auto on stdin/stdout"
cat "$W/tar.tar" | "$SF" mask --policy "$POLICY" --format tar - - | cmp -s - "$W/tar.m1" \
  && ok "tar: pipe in, pipe out gives the file output" || fail "tar: pipe in, pipe out gives the file output"
assert_exit 2 "$SF" mask --policy "$POLICY" --format directory "$W/dir.d" -
grep -q "cannot be written to standard output" "$T_ERR" && ok "directory to stdout refused" || fail "directory to stdout refused" "$(cat "$T_ERR")"
# an existing FIFO (or device such as /dev/null) as OUT is written in place, never replaced by a
# renamed temp file: the reader gets the same bytes as a pipe on standard output and the node stays a FIFO
for f in tar custom; do
  mkfifo "$W/$f.fifo"
  timeout 30 cat "$W/$f.fifo" > "$W/$f.fifo.bytes" &  # bounded: a run that never opens the FIFO leaves cat waiting
  reader=$!
  "$SF" mask --policy "$POLICY" "$W/${IN[$f]}" "$W/$f.fifo"; rc=$?
  wait "$reader"
  "$SF" mask --policy "$POLICY" "$W/${IN[$f]}" - | cat > "$W/$f.stdout"  # a pipe: not seekable either
  [[ $rc == 0 && -p $W/$f.fifo ]] && cmp -s "$W/$f.fifo.bytes" "$W/$f.stdout" && no_leftovers "$W" "$f.fifo" \
    && ok "$f: a FIFO as output is written in place and stays a FIFO" \
    || fail "$f: a FIFO as output is written in place and stays a FIFO" "rc=$rc $(ls -la "$W/$f.fifo")"
done

# ---- strict mode: a policy without a rule for a sensitive column
grep -v 'contact_name: name' "$POLICY" > "$W/loose.yaml"
for f in tar custom dir; do
  out=$W/strict_$f
  assert_exit 3 "$SF" mask --policy "$W/loose.yaml" -j 2 "$W/${IN[$f]}" "$out"
  grep -q 'public.customers.contact_name' "$T_ERR" && ok "$f: strict violation names the column" \
    || fail "$f: strict violation names the column" "$(cat "$T_ERR")"
  [[ ! -e $out ]] && no_leftovers "$W" "strict_$f" && ok "$f: strict violation leaves no output" || fail "$f: strict violation leaves no output" "$(ls -a "$W")"
done
check "--no-strict masks anyway" "$SF" mask --policy "$W/loose.yaml" --no-strict "$W/custom.dump" "$W/loose.m"

# ---- --check reads archives: the same coverage listing as for the plain dump
"$SF" mask --check --policy "$POLICY" "$W/plain.sql" > "$W/check.plain" 2>/dev/null
for f in "${formats[@]}"; do
  "$SF" mask --check --policy "$POLICY" "$W/${IN[$f]}" > "$W/check.$f" 2>"$W/check.err"
  rc=$?
  [[ $rc == 0 ]] && cmp -s "$W/check.plain" "$W/check.$f" && [[ -s $W/check.plain ]] \
    && ok "$f: --check lists the same columns and rules as for the plain dump" \
    || fail "$f: --check lists the same columns and rules as for the plain dump" "rc=$rc $(diff "$W/check.plain" "$W/check.$f" | head -3) $(cat "$W/check.err")"
done
assert_exit 3 "$SF" mask --check --policy "$W/loose.yaml" "$W/custom.dump"
grep -q 'public.customers.contact_name' "$T_ERR" && ok "--check on an archive: strict violation named" || fail "--check on an archive: strict violation named" "$(cat "$T_ERR")"
"$SF" mask --check --policy "$POLICY" < "$W/tar.tar" | cmp -s - "$W/check.plain" && ok "--check of a tar archive on stdin" || fail "--check of a tar archive on stdin"

# ---- corrupt archives through the CLI: exit 1, where it broke, nothing left
bad() { # name pattern in [--format f]
  local name=$1 pat=$2 in=$3; shift 3
  rm -rf "$W/bad"
  assert_exit 1 "$SF" mask --policy "$POLICY" -j 2 "$@" "$in" "$W/bad" || return
  grep -Eq -- "$pat" "$T_ERR" && ok "$name: message" || fail "$name: message" "$(cat "$T_ERR")" "wanted: $pat"
  [[ ! -e $W/bad ]] && no_leftovers "$W" bad && ok "$name: no partial output" || fail "$name: no partial output" "$(ls -a "$W")"
}
size=$(stat -c %s "$W/custom.dump")
head -c $((size / 2)) "$W/custom.dump" > "$W/c_trunc"
bad "custom truncated" "^error: custom archive '.*c_trunc': (offset [0-9]+|block for TOC entry [0-9]+ .* at offset [0-9]+): .*(unexpected end of file|truncated)" "$W/c_trunc"
head -c 1500 "$W/custom.dump" > "$W/c_trunc_toc"
bad "custom truncated in the TOC" "offset [0-9]+: unexpected end of file \(reading .* of TOC entry" "$W/c_trunc_toc"
{ printf 'XGDMP'; tail -c +6 "$W/custom.dump"; } > "$W/c_magic"
bad "custom wrong magic" "offset 0: not a pg_dump archive" "$W/c_magic" --format custom
{ printf 'PGDMP\001\020\000'; tail -c +9 "$W/custom.dump"; } > "$W/c_v116"
bad "custom unsupported version" "offset 5: unsupported archive version 1\.16\.0" "$W/c_v116"
off=$(grep -obUa 'STDSTRINGS' "$W/custom.dump" | head -1 | cut -d: -f1)
cp "$W/custom.dump" "$W/c_flip"; printf '\011' | dd of="$W/c_flip" bs=1 seek=$((off - 5)) conv=notrunc status=none
bad "custom flipped TOC byte" "offset $((off - 5)): bad sign byte 9" "$W/c_flip"
# corrupt compressed data in the customers block
pos=$("$STAGEFORK_BUILD/tools/pgarc_rewrite" --list "$W/custom.dump" | awk -F'\t' '$2=="TABLE DATA" && $4=="customers" {print $6}')
cp "$W/custom.dump" "$W/c_zlib"; printf '\377\377\377\377\377\377' | dd of="$W/c_zlib" bs=1 seek=$((pos + 60)) conv=notrunc status=none
bad "custom corrupt table data" "block for TOC entry [0-9]+ \(TABLE DATA public customers\) at offset $pos: zlib: " "$W/c_zlib"
cp -r "$W/dir.d" "$W/d_corrupt"
dfile=$("$STAGEFORK_BUILD/tools/pgarc_rewrite" --list "$W/dir.d/toc.dat" | awk -F'\t' '$2=="TABLE DATA" && $4=="orders" {print $7}')
printf 'garbage' | dd of="$W/d_corrupt/$dfile.gz" bs=1 seek=20 conv=notrunc status=none
bad "directory corrupt data file" "'.*d_corrupt/$dfile.gz': TOC entry [0-9]+ \(TABLE DATA public orders\): zlib: " "$W/d_corrupt"
tsize=$(stat -c %s "$W/tar.tar")
head -c $((tsize / 3)) "$W/tar.tar" > "$W/t_trunc"
bad "tar truncated" "tar archive '.*t_trunc': .*(runcated|missing)" "$W/t_trunc"

# an archive whose table data are INSERT statements is refused, naming the entry
"$BIN/pg_dump" -Fc --inserts -t public.suppliers -d "$D" -f "$W/c_inserts"
bad "custom with --inserts data" "TOC entry [0-9]+ \(TABLE DATA public suppliers\): the table data was dumped as INSERT statements" "$W/c_inserts" --no-strict

# bad COPY data inside a well-formed archive: a row with too few fields
"$BIN/pg_dump" -Fc -Z0 -d "$D" -f "$W/c_rows"
python3 - "$W/c_rows" <<'PY' || fail "make a broken-row archive"
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
i = b.find(b'\tNL\t')  # a customers row: drop the tab before the country
b[i:i+1] = b' '
open(p, 'wb').write(bytes(b))
PY
bad "custom broken COPY row" "block for TOC entry [0-9]+ \(TABLE DATA public customers\) at offset [0-9]+: line [0-9]+: table public.customers: row has 12 fields, expected 13" "$W/c_rows"

finish
