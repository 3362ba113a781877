#!/usr/bin/env bash
# The archive format layer (issue #4) proven with the real pg_dump/pg_restore:
# every format is read and written back through the block/chunk/zlib/tar
# layers with identity table hooks (build/tools/pgarc_rewrite), then
#   - -j 1 and -j 2 outputs are byte-identical,
#   - a verbatim rewrite of a custom archive reproduces pg_dump's bytes,
#   - pg_restore -l lists the same TOC,
#   - pg_restore (-j 2 for custom/directory) into a fresh database gives the
#     same schema and data as the source (compared as pg_dump -Fp output),
#   - streams (stdin/stdout) work and pg_restore reads the offset-less output,
#   - corrupt or truncated archives fail with the offset/member named and
#     leave no partial output.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

need_env STAGEFORK_TEST_PG STAGEFORK_TEST_PG_BINDIR STAGEFORK_TEST_PG_HOST STAGEFORK_TEST_PG_PORT STAGEFORK_BUILD STAGEFORK_SRC
TOOL=$STAGEFORK_BUILD/tools/pgarc_rewrite
[[ -x $TOOL ]] || { fail "environment" "$TOOL not built"; finish; }
BIN=$STAGEFORK_TEST_PG_BINDIR
export PGHOST=$STAGEFORK_TEST_PG_HOST PGPORT=$STAGEFORK_TEST_PG_PORT PGUSER=${STAGEFORK_TEST_PG_USER:-postgres}
SUF="$$_$RANDOM"
SRC=sf_arcfmt_src_$SUF
W=$T_TMP
DBS=()

psql_q() { "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
NDB=0
# newdb: create a fresh database, its name in $DB (no subshell, so cleanup sees it)
newdb() { NDB=$((NDB + 1)); DB=sf_arcfmt_r${NDB}_$SUF; DBS+=("$DB"); psql_q -d postgres -c "create database $DB" >/dev/null; }
cleanup() { local d; for d in "${DBS[@]}"; do psql_q -d postgres -c "drop database if exists $d" >/dev/null 2>&1; done; }
at_exit cleanup
# pg_dump -Fp of a database, minus the per-run \restrict key lines: the schema
# as is, then the data rows sorted (heap order after a restore depends on -j).
plain_of() {
  "$BIN/pg_dump" -Fp --schema-only "$1" | grep -v '^\\\(un\)\?restrict '
  "$BIN/pg_dump" -Fp --data-only "$1" | grep -v '^\\\(un\)\?restrict ' | LC_ALL=C sort
}
listing() { "$BIN/pg_restore" -l "$1" | grep -v '^;     Archive created at'; }

psql_q -d postgres -c "create database $SRC" >/dev/null && DBS+=("$SRC") || { fail "create source db"; finish; }
check "load the format fixture" psql_q -d "$SRC" -f "$STAGEFORK_SRC/tests/fixtures/archive/formats.sql" || finish
plain_of "$SRC" > "$W/src.sql"

check "pg_dump -Fc" "$BIN/pg_dump" -Fc -f "$W/c_def" "$SRC"
check "pg_dump -Fc -Z0" "$BIN/pg_dump" -Fc -Z0 -f "$W/c_z0" "$SRC"
check "pg_dump -Fc -Z9" "$BIN/pg_dump" -Fc -Z9 -f "$W/c_z9" "$SRC"
check "pg_dump -Fd" "$BIN/pg_dump" -Fd -f "$W/d_def" "$SRC"
check "pg_dump -Fd -Z0" "$BIN/pg_dump" -Fd -Z0 -f "$W/d_z0" "$SRC"
check "pg_dump -Fd -j 2" "$BIN/pg_dump" -Fd -j 2 -f "$W/d_par" "$SRC"
check "pg_dump -Ft" "$BIN/pg_dump" -Ft -f "$W/t" "$SRC"

same_tree() { diff -r "$1" "$2" >/dev/null 2>&1 || cmp -s "$1" "$2"; }

# restore_equal NAME ARCHIVE [pg_restore args...]: restore into a fresh db, compare with the source
restore_equal() {
  local name=$1 arc=$2; shift 2
  local db
  newdb || { fail "$name" "createdb failed"; return 1; }
  db=$DB
  if ! "$BIN/pg_restore" --exit-on-error -d "$db" "$@" "$arc" 2>"$W/restore.err"; then
    fail "$name" "pg_restore failed: $(tail -3 "$W/restore.err")"; return 1
  fi
  if plain_of "$db" | diff -q "$W/src.sql" - >/dev/null; then ok "$name"; else
    fail "$name" "restored database differs from the source: $(plain_of "$db" | diff "$W/src.sql" - | head -5)"; fi
}

for a in c_def c_z0 c_z9 d_def d_z0 d_par t; do
  case $a in c_*) fmt=custom ;; d_*) fmt=directory ;; t) fmt=tar ;; esac
  check "$a: rewrite -j 1" "$TOOL" "$fmt" "$W/$a" "$W/$a.o1" 1 || continue
  check "$a: rewrite -j 2 (format auto)" "$TOOL" auto "$W/$a" "$W/$a.o2" 2 || continue
  if same_tree "$W/$a.o1" "$W/$a.o2"; then ok "$a: -j 1 and -j 2 outputs are byte-identical"; else
    fail "$a: -j 1 and -j 2 outputs are byte-identical"; fi
  check "$a: verbatim rewrite (--raw) -j 2" "$TOOL" --raw "$fmt" "$W/$a" "$W/$a.raw" 2
  assert_eq "pgarc_rewrite: 5 tables, 32009 rows" "$(cat "$T_ERR")" "$a: verbatim tables' rows are counted"
  "$TOOL" --raw "$fmt" - - < "$W/$a" 2>"$W/raw_stream.err" >/dev/null
  [[ $fmt == directory ]] || assert_eq "pgarc_rewrite: 5 tables, 32009 rows" "$(cat "$W/raw_stream.err")" \
    "$a: verbatim tables' rows are counted on a stream"
  if [[ $fmt != tar ]]; then
    if same_tree "$W/$a" "$W/$a.raw"; then ok "$a: verbatim rewrite reproduces pg_dump's bytes"; else
      fail "$a: verbatim rewrite reproduces pg_dump's bytes"; fi
  else
    mkdir -p "$W/tx_in" "$W/tx_raw" "$W/tx_o1"
    tar -xf "$W/$a" -C "$W/tx_in" && tar -xf "$W/$a.raw" -C "$W/tx_raw" && tar -xf "$W/$a.o1" -C "$W/tx_o1"
    if diff -r "$W/tx_in" "$W/tx_raw" >/dev/null && diff -r "$W/tx_in" "$W/tx_o1" >/dev/null; then
      ok "$a: every tar member keeps its bytes"; else fail "$a: every tar member keeps its bytes"; fi
    assert_eq "$(tar -tvf "$W/$a" | awk '{print $1, $2, $6}')" "$(tar -tvf "$W/$a.o1" | awk '{print $1, $2, $6}')" \
      "$a: member order, modes and owners kept"
  fi
  assert_eq "$(listing "$W/$a")" "$(listing "$W/$a.o1")" "$a: pg_restore -l lists the same TOC"
  if [[ $fmt == tar ]]; then
    restore_equal "$a: pg_restore of the rewrite equals the source" "$W/$a.o1"
  else
    restore_equal "$a: pg_restore -j 2 of the rewrite equals the source" "$W/$a.o1" -j 2
  fi
done

# Tables cut into many small pieces (a piece boundary every ~1 KB): the pieces
# are masked separately and re-assembled into one zlib/gzip stream per table.
for a in c_def c_z0 d_def d_z0 t; do
  case $a in c_*) fmt=custom ;; d_*) fmt=directory ;; t) fmt=tar ;; esac
  STAGEFORK_ARCHIVE_PIECE_BYTES=1000 "$TOOL" "$fmt" "$W/$a" "$W/$a.p1" 1 2>/dev/null &&
    STAGEFORK_ARCHIVE_PIECE_BYTES=1000 "$TOOL" "$fmt" "$W/$a" "$W/$a.p2" 2 2>/dev/null \
    || { fail "$a: small pieces rewrite"; continue; }
  same_tree "$W/$a.p1" "$W/$a.p2" && ok "$a: small pieces, -j 1 and -j 2 byte-identical" \
    || fail "$a: small pieces, -j 1 and -j 2 byte-identical"
  if [[ $fmt == tar ]]; then
    mkdir -p "$W/tx_p1" && tar -xf "$W/$a.p1" -C "$W/tx_p1" && diff -r "$W/tx_in" "$W/tx_p1" >/dev/null \
      && ok "$a: small pieces keep every member's bytes" || fail "$a: small pieces keep every member's bytes"
  else
    restore_equal "$a: small pieces restore (pg_restore -j 2) to the source" "$W/$a.p1" -j 2
  fi
done
# a pipe in, -j 2: pieces are masked in parallel while verbatim blocks stream through
STAGEFORK_ARCHIVE_PIECE_BYTES=1000 "$TOOL" custom - - 2 < <(cat "$W/c_def") 2>/dev/null | cat > "$W/c_def.pp"
STAGEFORK_ARCHIVE_PIECE_BYTES=1000 "$TOOL" custom - "$W/c_def.pf" 2 < <(cat "$W/c_def") 2>/dev/null
cmp -s "$W/c_def.pf" "$W/c_def.p1" && ok "custom: pipe in with -j 2 and small pieces equals the file rewrite" \
  || fail "custom: pipe in with -j 2 and small pieces equals the file rewrite"
STAGEFORK_ARCHIVE_PIECE_BYTES=1000 "$TOOL" tar - - 2 < <(cat "$W/t") 2>/dev/null | cmp -s - "$W/t.p1" \
  && ok "tar: pipe in and out with -j 2 and small pieces equals the file rewrite" \
  || fail "tar: pipe in and out with -j 2 and small pieces equals the file rewrite"
restore_equal "custom: pipe in, pipe out, -j 2, small pieces restores to the source" "$W/c_def.pp"
if [[ -d $W/d_def.p1 ]]; then
  gzip -t "$W"/d_def.p1/*.dat.gz && ok "d_def: pieced gzip files pass gzip -t" || fail "d_def: pieced gzip files pass gzip -t"
fi

# A custom rewrite of the -Z0 archive re-chunks the data (64 KB chunks instead of one per row).
[[ $(stat -c %s "$W/c_z0.o1") -lt $(stat -c %s "$W/c_z0") ]] && ok "c_z0: data re-chunked" || fail "c_z0: data re-chunked"

# ---- streams -------------------------------------------------------------
cat "$W/c_def" | "$TOOL" custom - - 2>"$W/pipe.err" | cat > "$W/c_pipe"
assert_eq "0 0" "${PIPESTATUS[*]:1:2}" "custom: stdin to stdout pipe"
if "$TOOL" --list "$W/c_pipe" | awk -F'\t' '$2=="TABLE DATA" && $5!=1 {bad=1} END {exit bad}'; then
  ok "custom: offsets on a pipe are 'not set'"; else fail "custom: offsets on a pipe are 'not set'"; fi
if "$TOOL" --list "$W/c_def.o1" | awk -F'\t' '$2=="TABLE DATA" && $5!=2 {bad=1} END {exit bad}'; then
  ok "custom: offsets in a file are set"; else fail "custom: offsets in a file are set"; fi
restore_equal "custom: pg_restore of offset-less output (sequential)" "$W/c_pipe"
restore_equal "custom: pg_restore -j 2 of offset-less output" "$W/c_pipe" -j 2
cat "$W/c_def" | "$TOOL" custom - "$W/c_stdin" 2 2>/dev/null && cmp -s "$W/c_stdin" "$W/c_def.o1" \
  && ok "custom: stdin input gives the same file as a seekable input" || fail "custom: stdin input gives the same file"
cat "$W/t" | "$TOOL" tar - - 2 2>/dev/null | cat > "$W/t_pipe" && cmp -s "$W/t_pipe" "$W/t.o1" \
  && ok "tar: stdin to stdout equals the file rewrite" || fail "tar: stdin to stdout equals the file rewrite"
cat "$W/c_def" | "$TOOL" custom - "$W/c_stdout_file" >/dev/null 2>&1; "$TOOL" custom "$W/c_def" - > "$W/c_redirect" 2>/dev/null
cmp -s "$W/c_redirect" "$W/c_def.o1" && ok "custom: stdout redirected to a file gets real offsets" \
  || fail "custom: stdout redirected to a file gets real offsets"

# ---- bad input -----------------------------------------------------------
# bad NAME PATTERN FORMAT IN: the rewrite fails (exit 1), stderr matches PATTERN, no output is left
bad() {
  local name=$1 pat=$2 fmt=$3 in=$4 out=$W/bad_out
  rm -rf "$out" "$W"/.bad_out.sf-*
  assert_exit 1 "$TOOL" "$fmt" "$in" "$out" 2 || return
  if grep -Eq -- "$pat" "$T_ERR"; then ok "$name: message"; else fail "$name: message" "$(cat "$T_ERR")" "wanted: $pat"; fi
  if [[ ! -e $out ]] && ! compgen -G "$W/.bad_out.sf-*" >/dev/null; then ok "$name: no partial output"; else
    fail "$name: no partial output" "$(ls -a "$W")"; fi
}

size=$(stat -c %s "$W/c_def")
head -c 40 "$W/c_def" > "$W/trunc_head"
bad "custom truncated in the header" "offset [0-9]+: unexpected end of file" custom "$W/trunc_head"
head -c 900 "$W/c_def" > "$W/trunc_toc"
bad "custom truncated in the TOC" "custom archive '.*trunc_toc': offset [0-9]+: unexpected end of file \(reading .* of TOC entry [0-9]+ of [0-9]+\)" custom "$W/trunc_toc"
head -c $((size - 3000)) "$W/c_def" > "$W/trunc_data"
bad "custom truncated in a data block" "offset [0-9]+: unexpected end of file" custom "$W/trunc_data"
# Cut exactly at the start of the last table's data block: the TOC still promises data.
last=$("$TOOL" --list "$W/c_def" | awk -F'\t' '$2=="TABLE DATA" && $6>m {m=$6} END {print m}')
head -c "$last" "$W/c_def" > "$W/trunc_block"
bad "custom cut at a block boundary" "ends before the data block of TOC entry" custom "$W/trunc_block"
printf 'PGDMQ' > "$W/magic"; tail -c +6 "$W/c_def" >> "$W/magic"
bad "custom wrong magic" "offset 0: not a pg_dump archive \(no PGDMP magic\)" custom "$W/magic"
{ printf 'PGDMP\001\017\000'; tail -c +9 "$W/c_def"; } > "$W/v115"
bad "custom unsupported version" "offset 5: unsupported archive version 1\.15\.0" custom "$W/v115"
{ printf 'PGDMP\001\013\000'; tail -c +9 "$W/c_def"; } > "$W/v111"
bad "custom too old version" "unsupported archive version 1\.11\.0" custom "$W/v111"
# Flip the sign byte of the ENCODING tag's length (a TOC string).
off=$(grep -obUa 'ENCODING' "$W/c_def" | head -1 | cut -d: -f1)
cp "$W/c_def" "$W/flip_sign"; printf '\007' | dd of="$W/flip_sign" bs=1 seek=$((off - 5)) conv=notrunc status=none
bad "custom flipped byte in the TOC (sign)" "offset $((off - 5)): bad sign byte 7 \(reading the tag of TOC entry 1 of" custom "$W/flip_sign"
cp "$W/c_def" "$W/flip_len"; printf '\177' | dd of="$W/flip_len" bs=1 seek=$((off - 2)) conv=notrunc status=none
bad "custom flipped byte in the TOC (length)" "offset [0-9]+: unexpected end of file \(reading the tag of TOC entry 1" custom "$W/flip_len"
# Corrupt the compressed data of the people table.
read -r pid ppos < <("$TOOL" --list "$W/c_def" | awk -F'\t' '$2=="TABLE DATA" && $4=="people" {print $1, $6}')
cp "$W/c_def" "$W/flip_zlib"; printf '\377\377\377\377\377\377\377\377' | dd of="$W/flip_zlib" bs=1 seek=$((ppos + 40)) conv=notrunc status=none
bad "custom corrupt zlib data" "custom archive '.*': block for TOC entry $pid \(TABLE DATA public people\) at offset $ppos: zlib: " custom "$W/flip_zlib"
bad "custom read as tar" "tar archive" tar "$W/c_def"
bad "plain file named as custom" "not a pg_dump archive" custom "$STAGEFORK_SRC/tests/fixtures/archive/formats.sql"

cp -r "$W/d_def" "$W/d_trunc"; head -c 700 "$W/d_def/toc.dat" > "$W/d_trunc/toc.dat"
bad "directory truncated toc.dat" "'.*d_trunc/toc.dat': offset [0-9]+: unexpected end of file" directory "$W/d_trunc"
read -r did dfile < <("$TOOL" --list "$W/d_def/toc.dat" | awk -F'\t' '$2=="TABLE DATA" && $4=="people" {print $1, $7}')
cp -r "$W/d_def" "$W/d_gz"; sz=$(stat -c %s "$W/d_gz/$dfile.gz"); head -c $((sz / 2)) "$W/d_def/$dfile.gz" > "$W/d_gz/$dfile.gz"
bad "directory truncated data file" "'.*d_gz/$dfile.gz': TOC entry $did \(TABLE DATA public people\): zlib: .*truncated" directory "$W/d_gz"
cp -r "$W/d_def" "$W/d_miss"; rm "$W/d_miss/$dfile.gz"
bad "directory missing data file" "TOC entry $did \(TABLE DATA public people\): data file '$dfile' is missing" directory "$W/d_miss"
mkdir -p "$W/d_none"
bad "directory without toc.dat" "d_none/toc.dat'.*not a pg_dump -Fd archive" directory "$W/d_none"

tsize=$(stat -c %s "$W/t")
head -c $((tsize / 2)) "$W/t" > "$W/t_trunc"
bad "tar truncated" "tar archive '.*t_trunc': .*(runcated|missing)" tar "$W/t_trunc"
tar -cf "$W/t_other" -C "$STAGEFORK_SRC/tests/fixtures/archive" formats.sql
bad "tar without toc.dat" "first member is 'formats.sql', not toc.dat" tar "$W/t_other"

# A table whose rows the hooks refuse: the error names the table, nothing is left behind.
for a in c_def d_def t; do
  case $a in c_*) fmt=custom ;; d_*) fmt=directory ;; t) fmt=tar ;; esac
  rm -rf "$W/bad_out"
  assert_exit 1 "$TOOL" --fail-table people "$fmt" "$W/$a" "$W/bad_out" 2
  grep -q "TABLE DATA public people" "$T_ERR" && grep -q "line 1: test hook refuses this table" "$T_ERR" \
    && ok "$a: a failing table is named with its line" || fail "$a: a failing table is named" "$(cat "$T_ERR")"
  [[ ! -e $W/bad_out ]] && ! compgen -G "$W/.bad_out.sf-*" >/dev/null && ok "$a: failing table leaves no output" \
    || fail "$a: failing table leaves no output" "$(ls -a "$W")"
done

# Directory output into an existing non-empty directory is refused.
mkdir -p "$W/nonempty" && touch "$W/nonempty/x"
assert_exit 1 "$TOOL" directory "$W/d_def" "$W/nonempty" 1
grep -q "is not empty" "$T_ERR" && ok "directory: non-empty output refused" || fail "directory: non-empty output refused" "$(cat "$T_ERR")"
mkdir -p "$W/emptydir"
check "directory: empty output directory accepted" "$TOOL" directory "$W/d_def" "$W/emptydir" 2

finish
