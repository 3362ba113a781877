#!/usr/bin/env bash
# `stagefork mask -j N` on plain dumps: the rows of a COPY block are masked
# by N threads. Every N gives the bytes of -j 1 and its --report (but
# "seconds"), on pg_dump's COPY and INSERT dumps of the fixture schema and on
# a generated dump of many chunks (multibyte and escaped values, lines longer
# than a chunk, a CRLF table, an identity table, a one-chunk table), from a
# file and from a pipe; bad input mid-table fails with -j 1's exit code,
# message and line number and leaves no output file; the workers really run.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mask_lib.sh"
tmp=$T_TMP
pfx=sf_mpar_$$
export STAGEFORK_MASK_KEY=parallel-test-key-0123456789abcdef-0123456789
jobs=(2 3 8)

# same_output NAME POLICY DUMP: -j 1 and every -j in $jobs give the same output and report
same_output() {
    local name=$1 pol=$2 dump=$3 j bad=()
    check "$name: -j 1" "$SF" mask --policy "$pol" -j 1 --report "$tmp/r1.json" "$dump" "$tmp/o1.sql" || return
    ! cmp -s "$dump" "$tmp/o1.sql" && ok "$name: the output is masked" || fail "$name: the output is masked"
    for j in "${jobs[@]}"; do
        "$SF" mask --policy "$pol" -j "$j" --report "$tmp/r$j.json" "$dump" "$tmp/o$j.sql" 2>"$T_ERR" ||
            { bad+=("-j $j failed: $(cat "$T_ERR")"); continue; }
        cmp -s "$tmp/o1.sql" "$tmp/o$j.sql" || bad+=("-j $j: $(cmp "$tmp/o1.sql" "$tmp/o$j.sql" 2>&1)")
        diff <(grep -v '"seconds"' "$tmp/r1.json") <(grep -v '"seconds"' "$tmp/r$j.json") >"$tmp/rdiff" ||
            bad+=("-j $j report: $(head -5 "$tmp/rdiff")")
    done
    [[ ${#bad[@]} -eq 0 ]] && ok "$name: -j ${jobs[*]} give -j 1's bytes and report" ||
        fail "$name: -j ${jobs[*]} give -j 1's bytes and report" "${bad[@]}"
}

# same_error NAME POLICY DUMP PATTERN: -j 1 and -j 4 fail alike, naming PATTERN, leaving no output
same_error() {
    local name=$1 pol=$2 dump=$3 pat=$4 j
    for j in 1 4; do
        rm -f "$tmp/e.out"
        "$SF" mask --policy "$pol" -j "$j" "$dump" "$tmp/e.out" >/dev/null 2>"$tmp/e$j.err"
        echo $? >"$tmp/e$j.rc"
        [[ ! -e $tmp/e.out ]] && ! ls "$tmp" | grep -q '^e\.out\.sf-' && ok "$name: -j $j leaves no output file" ||
            fail "$name: -j $j leaves no output file"
    done
    assert_eq 1 "$(cat "$tmp/e1.rc")" "$name: -j 1 exits 1"
    grep -q -- "$pat" "$tmp/e1.err" && ok "$name: -j 1 names the line" || fail "$name: -j 1 names the line" "want: $pat" "got:  $(cat "$tmp/e1.err")"
    assert_eq "$(cat "$tmp/e1.rc") $(cat "$tmp/e1.err")" "$(cat "$tmp/e4.rc") $(cat "$tmp/e4.err")" "$name: -j 4 fails as -j 1"
    cat "$dump" | "$SF" mask --policy "$pol" -j 2 >/dev/null 2>"$tmp/ep.err"
    echo $? >"$tmp/ep.rc"
    assert_eq "$(cat "$tmp/e1.rc") $(cat "$tmp/e1.err")" "$(cat "$tmp/ep.rc") $(cat "$tmp/ep.err")" \
        "$name: -j 2 from a pipe fails as -j 1"
}

# --- pg_dump's dumps of the fixture schema: COPY (several chunks for the big tables) and INSERT forms
mkdb "${pfx}_src" || { fail "create source database"; finish; }
check "load the distribution schema" psql_q "${pfx}_src" -v scale=6 -f "$SRC/tests/fixtures/masking/schema.sql" || finish
"$BIN/pg_dump" -d "$(url "${pfx}_src")" -f "$tmp/copy.sql"
"$BIN/pg_dump" --inserts -d "$(url "${pfx}_src")" -f "$tmp/inserts.sql"
"$BIN/pg_dump" --rows-per-insert=7 -d "$(url "${pfx}_src")" -f "$tmp/multirow.sql"
[[ $(awk '/^COPY public.order_lines /{d=1; next} /^\\\.$/{d=0} d' "$tmp/copy.sql" | wc -c) -gt 1000000 ]] &&
    ok "(order_lines is several chunks)" || fail "(order_lines is several chunks)"
for s in copy inserts multirow; do
    same_output "fixture $s dump" "$POLICY" "$tmp/$s.sql"
done

# --- a generated dump
cat >"$tmp/policy.yaml" <<'EOF'
version: 1
key: {env: STAGEFORK_MASK_KEY}
tables:
  public.people: {name: name, email: email, phone: phone, note: keep}
  public.people_crlf: {name: name, email: email, phone: phone, note: keep}
  public.people_small: {name: name, email: email, phone: phone, note: keep}
EOF
# gen ROWS: people (ROWS rows, a few lines far longer than a chunk), people_crlf (CRLF line ends),
# log (no rules: copied verbatim), people_small (one chunk). Values in COPY text: escapes, NULLs, UTF-8.
gen() {
    awk -v rows="$1" '
    function row(i, crlf,   name, email, phone, note) {
        name = names[i % nn + 1]
        email = i % 13 == 0 ? "\\N" : i % 7 == 0 ? "jürgen." i "@bücher.de" : "user" i "@ex" (i % 97) ".org"
        phone = i % 11 == 0 ? "\\N" : sprintf("+1 (555) %04d", i % 10000)
        note = i % 5 == 0 ? "line1\\nline2\\t" i : i % 5 == 1 ? "\\\\N" : i % 5 == 2 ? "" : "naïve café " i
        if (i % 9973 == 0) note = long
        if (i == 20011) email = longmail
        printf "%d\t%s\t%s\t%s\t%s%s\n", i, name, email, phone, note, crlf
    }
    BEGIN {
        nn = split("Ann|Zoë Ångström|日本 太郎|O'"'"'Brien|Back\\\\slash|Tab\\there|\\\\N|Ünïcødé ☃|\\N", names, "|")
        long = "é"; while (length(long) < 150000) long = long long
        longmail = "a"; while (length(longmail) < 300000) longmail = longmail longmail; longmail = longmail "@x.org"
        print "SET standard_conforming_strings = on;"
        for (t = 0; t < 3; t++)
            printf "CREATE TABLE public.%s (\n    id integer,\n    name character varying(40),\n    email text,\n    phone text,\n    note text\n);\n\n",
                t == 0 ? "people" : t == 1 ? "people_crlf" : "people_small"
        print "CREATE TABLE public.log (\n    id integer,\n    msg text\n);\n"
        print "COPY public.people (id, name, email, phone, note) FROM stdin;"
        for (i = 1; i <= rows; i++) row(i, "")
        print "\\.\n"
        print "COPY public.people_crlf (id, name, email, phone, note) FROM stdin;"
        for (i = 1; i <= rows / 8; i++) row(i, "\r")
        print "\\.\r\n"
        print "COPY public.log (id, msg) FROM stdin;"
        for (i = 1; i <= rows / 2; i++) printf "%d\tmessage %d\\tdone\n", i, i
        print "\\.\n"
        print "COPY public.people_small (id, name, email, phone, note) FROM stdin;"
        for (i = 1; i <= 9; i++) row(i, "")
        print "\\.\n"
    }'
}
gen 50000 >"$tmp/gen.sql"
[[ $(stat -c %s "$tmp/gen.sql") -gt 5000000 ]] && ok "(the generated dump is several MB)" || fail "(the generated dump is several MB)"
same_output "generated dump" "$tmp/policy.yaml" "$tmp/gen.sql"
grep -q $'^\\\\.\r$' "$tmp/o1.sql" && grep -q $'^3\t[^\t]*\t[^\t]*@example.com\t[^\t]*\tnaïve café 3\r$' "$tmp/o1.sql" &&
    ok "the CRLF table keeps its line ends" || fail "the CRLF table keeps its line ends"

# from a pipe (read, not mapped) with -j 2
cat "$tmp/gen.sql" | "$SF" mask --policy "$tmp/policy.yaml" -j 2 >"$tmp/pipe.sql" 2>"$T_ERR"
assert_eq 0 "$?" "-j 2 from a pipe exits 0"
cmp -s "$tmp/o1.sql" "$tmp/pipe.sql" && ok "-j 2 from a pipe gives -j 1's bytes" || fail "-j 2 from a pipe gives -j 1's bytes" "$(cat "$T_ERR")"

# the workers run: mid-table, with more input still to come, the masker has its 3 worker threads
mkfifo "$tmp/fifo"
"$SF" mask --policy "$tmp/policy.yaml" -j 3 - "$tmp/fifo.sql" <"$tmp/fifo" 2>"$T_ERR" &
pid=$!
exec 3>"$tmp/fifo"
head -c 3000000 "$tmp/gen.sql" >&3
threads=0
for _ in $(seq 100); do
    threads=$(ls "/proc/$pid/task" 2>/dev/null | wc -l)
    [[ $threads -ge 4 ]] && break
    sleep 0.1
done
tail -c +3000001 "$tmp/gen.sql" >&3
exec 3>&-
wait "$pid"
assert_eq 0 "$?" "-j 3 fed slowly exits 0"
assert_eq 4 "$threads" "-j 3: the reading thread and 3 workers, mid-table"
cmp -s "$tmp/o1.sql" "$tmp/fifo.sql" && ok "-j 3 fed slowly gives -j 1's bytes" || fail "-j 3 fed slowly gives -j 1's bytes"

# --- bad input in the middle of a large table
line_of() { grep -n -m1 "^$1	" "$tmp/gen.sql" | cut -d: -f1; }
l25=$(line_of 25000)
l12=$(line_of 12000)
l30=$(line_of 30000)
awk -v l="$l25" 'NR == l { print "25000\tX"; next } { print }' "$tmp/gen.sql" >"$tmp/bad1.sql"
same_error "wrong field count at line $l25" "$tmp/policy.yaml" "$tmp/bad1.sql" \
    "line $l25: table public.people: row has 2 fields, expected 5"
awk -v l="$l30" 'NR == l { print "30000\tX\tx\\xZZ@y.org\t1\tn"; next } { print }' "$tmp/gen.sql" >"$tmp/bad2.sql"
same_error "bad escape at line $l30" "$tmp/policy.yaml" "$tmp/bad2.sql" \
    "line $l30: table public.people, column email: invalid \\\\x escape"
awk -v a="$l12" -v b="$l30" 'NR == a { print "12000\t1\t2\t3\t4\t5\t6"; next } NR == b { print "30000\tX"; next } { print }' \
    "$tmp/gen.sql" >"$tmp/bad3.sql"
same_error "two bad rows: the earlier one" "$tmp/policy.yaml" "$tmp/bad3.sql" \
    "line $l12: table public.people: row has 7 fields, expected 5"
head -n "$l25" "$tmp/gen.sql" >"$tmp/trunc.sql"
same_error "the dump ends mid-table" "$tmp/policy.yaml" "$tmp/trunc.sql" \
    "line $((l25 + 1)): table public.people: the dump ends inside its COPY data"
lcr=$(grep -n -m1 $'^4000\t.*\r$' "$tmp/gen.sql" | cut -d: -f1)
awk -v l="$lcr" 'NR == l { print "4000\tX\r"; next } { print }' "$tmp/gen.sql" >"$tmp/bad4.sql"
same_error "wrong field count in the CRLF table" "$tmp/policy.yaml" "$tmp/bad4.sql" \
    "line $lcr: table public.people_crlf: row has 2 fields, expected 5"

finish
