#!/usr/bin/env bash
# `stagefork mask` on hand-written dumps: strict mode, bad input, bad
# policies and keys, usage errors, --check, --no-strict, warnings, config
# defaults. Nothing here needs a database (t_mask_roundtrip.sh does).
source "$(dirname "$0")/lib.sh"
SF=${STAGEFORK_BIN:?}
tmp=$T_TMP
export SF_T_KEY=mask-cli-test-key-0123456789abcdef-0123456789

cat >"$tmp/policy.yaml" <<'EOF'
version: 1
key: {env: SF_T_KEY}
tables:
  public.people:
    name: name
    email: email
    phone: phone
    note: keep
  erp."Odd ""Table""":
    "E-Mail": email
    "Full Name": {fixed: "n/a"}
EOF

head_sql() {
    cat <<'EOF'
--
-- PostgreSQL database dump
--

\restrict k3y
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);

CREATE TABLE public.people (
    id integer NOT NULL,
    name character varying(40),
    email text,
    phone text,
    note text
);

CREATE TABLE erp."Odd ""Table""" (
    "E-Mail" text,
    "Full Name" text,
    "when" date
);

COPY public.people (id, name, email, phone, note) FROM stdin;
1	Ann	ann@x.org	+1 555 0101	hello\tworld
2	\N	bob@y.org	\N	\\N
\.

COPY erp."Odd ""Table""" ("E-Mail", "Full Name", "when") FROM stdin;
x@y.z	Zoë	2024-02-29
\N	\N	\N
\.

EOF
}
head_sql >"$tmp/good.sql"
printf '\\unrestrict k3y\n' >>"$tmp/good.sql"

# --- a good dump
check "mask a small dump" "$SF" mask --policy "$tmp/policy.yaml" "$tmp/good.sql" "$tmp/good.out"
grep -q '^1	[^	]*	[a-z0-9]*@example.com	+[0-9] [0-9]* [0-9]*	hello\\tworld$' "$tmp/good.out" && ok "masked row keeps untouched raw bytes" ||
    fail "masked row keeps untouched raw bytes" "$(grep '^1' "$tmp/good.out")"
grep -q '^2	\\N	[a-z0-9]*@example.com	\\N	\\\\N$' "$tmp/good.out" && ok "NULLs stay NULL, \\\\N text stays text" ||
    fail "NULLs stay NULL" "$(grep '^2' "$tmp/good.out")"
grep -q '^[a-z0-9]*@example.com	n/a	2024-02-29$' "$tmp/good.out" && ok "quoted table and column names" ||
    fail "quoted table and column names" "$(cat "$tmp/good.out")"
grep -q '^\\unrestrict k3y$' "$tmp/good.out" && grep -q '^\\restrict k3y$' "$tmp/good.out" && ok "meta-commands pass through" ||
    fail "meta-commands pass through"
assert_eq "$(grep -v -E '^(1|2|x@|\\N)' "$tmp/good.sql")" "$(grep -v -E '^(1|2|[a-z0-9]*@|\\N)' "$tmp/good.out")" "DDL and comments byte-identical"

# --- strict mode: an unruled sensitive column stops the table before any of it is written
{ head_sql; cat <<'EOF'
CREATE TABLE public.audit (
    id integer,
    contact_email text
);

COPY public.audit (id, contact_email) FROM stdin;
1	secret@leak.example
\.
EOF
} >"$tmp/strict.sql"
assert_exit 3 "$SF" mask --policy "$tmp/policy.yaml" "$tmp/strict.sql" "$tmp/strict.out"
grep -q 'public.audit.contact_email' "$T_ERR" && ok "strict error names schema.table.column" || fail "strict error names schema.table.column" "$(cat "$T_ERR")"
[[ ! -e $tmp/strict.out ]] && ok "no output file is left behind" || fail "no output file is left behind"
ls "$tmp" | grep -q 'strict.out.sf-' && fail "temp file left behind" || ok "no temp file left behind"
"$SF" mask --policy "$tmp/policy.yaml" <"$tmp/strict.sql" >"$tmp/strict.stdout" 2>/dev/null
assert_eq 3 "$?" "strict on stdout exits 3"
! grep -q 'secret@leak' "$tmp/strict.stdout" && ! grep -q 'COPY public.audit' "$tmp/strict.stdout" &&
    ok "stdout holds no row and no COPY head of the refused table" || fail "refused table leaked to stdout"
check "--no-strict lets it through" "$SF" mask --no-strict --policy "$tmp/policy.yaml" "$tmp/strict.sql" "$tmp/strict.out"
grep -q 'secret@leak.example' "$tmp/strict.out" && ok "--no-strict copies the unruled column" || fail "--no-strict copies the unruled column"
assert_exit 3 "$SF" mask --check --policy "$tmp/policy.yaml" "$tmp/strict.sql"
grep -q '^public\.audit\.contact_email  *text  *sensitive, no rule$' "$T_OUT" && ok "--check shows the unruled column" ||
    fail "--check shows the unruled column" "$(cat "$T_OUT")"
grep -q '^public\.people\.email  *text  *email$' "$T_OUT" && ok "--check shows ruled columns" || fail "--check shows ruled columns"
grep -q '^erp\."Odd ""Table"""\."Full Name"  *text  *fixed$' "$T_OUT" && ok "--check quotes odd identifiers" ||
    fail "--check quotes odd identifiers" "$(grep Odd "$T_OUT")"
check "--check --no-strict exits 0" "$SF" mask --check --no-strict --policy "$tmp/policy.yaml" "$tmp/strict.sql"

# INSERT dumps are held to the same rule
{ head_sql | sed '/^COPY/,/^\\\./d'; cat <<'EOF'
CREATE TABLE public.audit (id integer, contact_email text);
INSERT INTO public.people VALUES (1, 'Ann', 'ann@x.org', NULL, 'x');
INSERT INTO public.audit VALUES (1, 'secret@leak.example');
EOF
} >"$tmp/strict-ins.sql"
"$SF" mask --policy "$tmp/policy.yaml" <"$tmp/strict-ins.sql" >"$tmp/strict-ins.out" 2>"$T_ERR"
assert_eq 3 "$?" "strict with INSERTs exits 3"
grep -q 'line 27: .*public.audit.contact_email' "$T_ERR" && ok "INSERT strict error names line and column" ||
    fail "INSERT strict error names line and column" "$(cat "$T_ERR")"
! grep -q 'secret@leak' "$tmp/strict-ins.out" && ok "no INSERT row of the refused table" || fail "INSERT row leaked"

# --- bad input: exit 1 naming the line; no partial output file
bad() { # name expected-stderr-pattern; dump on stdin
    local name=$1 pat=$2
    cat >"$tmp/bad.sql"
    assert_exit 1 "$SF" mask --policy "$tmp/policy.yaml" "$tmp/bad.sql" "$tmp/bad.out" || return
    grep -q -- "$pat" "$T_ERR" && ok "$name: message" || fail "$name: message" "want: $pat" "got:  $(cat "$T_ERR")"
    [[ ! -e $tmp/bad.out ]] && ok "$name: no output file" || fail "$name: no output file"
}
head_sql | head -n 25 | bad "truncated COPY block" "line 26: table public.people: the dump ends inside its COPY data"
{ head_sql | head -n 25; printf '3\tCy\tc@z.org\t1\n'; } | bad "wrong field count (too few)" \
    "line 26: table public.people: row has 4 fields, expected 5"
{ head_sql | head -n 25; printf '3\tCy\tc@z.org\t1\t2\t3\n\\.\n'; } | bad "wrong field count (too many)" \
    "line 26: table public.people: row has 6 fields, expected 5 (extra data"
{ head_sql | head -n 25; printf '3\tCy\tc\\xZZ@z.org\t1\tn\n\\.\n'; } | bad "invalid \\x escape" \
    'line 26: table public.people, column email: invalid \\x escape'
{ head_sql | head -n 25; printf '3\tCy\tc@z.org\t1\tn\\\n\\.\n'; } | bad "broken escape at end of line" \
    'line 26: table public.people, column note: broken escape'
{ head_sql | head -n 25; printf '3\tC\\000y\tc@z.org\t1\tn\n\\.\n'; } | bad "escape producing NUL" \
    'line 26: table public.people, column name: escape produces a NUL byte'
{ head_sql; printf "SELECT 'unterminated;\n\n"; } | bad "unterminated string" "line 33: unterminated quoted string"
{ head_sql; printf "CREATE VIEW v AS SELECT 1\n"; } | bad "unterminated statement" "line 33: statement without a terminating ';'"
{ head_sql; printf "/* open comment\n"; } | bad "unterminated comment" "line 33: unterminated /\\* comment"
{ head_sql | sed '/^COPY/,/^\\\./d'; printf "INSERT INTO public.people VALUES (1, 'a', 'b', 'c', 'd'), (2, 'x');\n"; } |
    bad "INSERT tuple of the wrong width" "line 25: table public.people: VALUES tuple has 2 values, expected 5"
{ head_sql | sed '/^COPY/,/^\\\./d'; printf "INSERT INTO public.people VALUES (1, 'a', lower('B@C'), 'c', 'd');\n"; } |
    bad "INSERT expression in a masked column" \
    "line 25: table public.people, column email: the value is an SQL expression"
{ head_sql | sed '/^COPY/,/^\\\./d'; printf "INSERT INTO public.people VALUES (1, 'a', 'b', 'c', 'd'\n"; } |
    bad "unterminated INSERT" "line 25: statement without a terminating ';'"
# an existing OUT is not clobbered by a failed run
echo keep >"$tmp/exists.out"
head_sql | head -n 25 >"$tmp/trunc.sql"
assert_exit 1 "$SF" mask --policy "$tmp/policy.yaml" "$tmp/trunc.sql" "$tmp/exists.out"
assert_eq keep "$(cat "$tmp/exists.out")" "a failed run leaves an existing OUT as it was"

# --- bad policies: exit 2 with file:line:column
printf 'version: 1\ntables:\n  public.people:\n    email: emial\n' >"$tmp/typo.yaml"
assert_exit 2 "$SF" mask --policy "$tmp/typo.yaml" "$tmp/good.sql" "$tmp/x.out"
grep -q "typo.yaml:4:12" "$T_ERR" && ok "bad rule names file:line:column" || fail "bad rule names file:line:column" "$(cat "$T_ERR")"
printf 'version: 1\ntables:\n  public.people:\n    nosuchcol: email\n' >"$tmp/nocol.yaml"
assert_exit 2 "$SF" mask --policy "$tmp/nocol.yaml" --key-env SF_T_KEY "$tmp/good.sql" "$tmp/x.out"
grep -q "nocol.yaml:4:" "$T_ERR" && ok "rule for a missing column names file:line:column" ||
    fail "rule for a missing column names file:line:column" "$(cat "$T_ERR")"
assert_exit 2 "$SF" mask --policy "$tmp/missing.yaml" "$tmp/good.sql"
assert_exit 2 "$SF" mask "$tmp/good.sql"
grep -q "no masking policy" "$T_ERR" && ok "no policy: says so" || fail "no policy: says so" "$(cat "$T_ERR")"

# --- keys
printf 'version: 1\ntables: {}\n' >"$tmp/nokey.yaml"
assert_exit 2 "$SF" mask --policy "$tmp/nokey.yaml" "$tmp/good.sql" "$tmp/x.out"
grep -q "no masking key" "$T_ERR" && ok "missing key: says so" || fail "missing key: says so" "$(cat "$T_ERR")"
SF_T_KEY= assert_exit 2 "$SF" mask --policy "$tmp/policy.yaml" "$tmp/good.sql" "$tmp/x.out"
env -u SF_T_KEY "$SF" mask --policy "$tmp/policy.yaml" "$tmp/good.sql" "$tmp/x.out" 2>"$T_ERR"
assert_eq 2 "$?" "unset key variable exits 2"
SHORT=tooshort assert_exit 2 "$SF" mask --policy "$tmp/policy.yaml" --key-env SHORT "$tmp/good.sql" "$tmp/x.out"
printf '%s\n' "$SF_T_KEY" >"$tmp/key"
check "--key-file" "$SF" mask --policy "$tmp/policy.yaml" --key-file "$tmp/key" "$tmp/good.sql" "$tmp/k1.out"
cmp -s "$tmp/k1.out" "$tmp/good.out" && ok "--key-file with the same key gives the same bytes" || fail "--key-file same bytes"
OTHER=another-key-0123456789abcdef-0123456789abcdef check "--key-env overrides the policy's key" \
    "$SF" mask --policy "$tmp/policy.yaml" --key-env OTHER "$tmp/good.sql" "$tmp/k2.out"
! cmp -s "$tmp/k2.out" "$tmp/good.out" && ok "another key, other bytes" || fail "another key, other bytes"
assert_exit 2 "$SF" mask --policy "$tmp/policy.yaml" --key-env A --key-file B "$tmp/good.sql"
! grep -rq "$SF_T_KEY" "$tmp"/*.out && ok "the key is written nowhere" || fail "the key is written nowhere"

# --- usage
assert_exit 2 "$SF" mask --policy "$tmp/policy.yaml" --format zip "$tmp/good.sql"
assert_exit 2 "$SF" mask --policy "$tmp/policy.yaml" -j 0 "$tmp/good.sql"
assert_exit 2 "$SF" mask --policy "$tmp/policy.yaml" a b c
assert_exit 2 "$SF" --json mask --policy "$tmp/policy.yaml" "$tmp/good.sql"
check "-j 4 is accepted for plain" "$SF" mask --policy "$tmp/policy.yaml" -j 4 --format plain "$tmp/good.sql" "$tmp/j.out"
cmp -s "$tmp/j.out" "$tmp/good.out" && ok "-j does not change plain output" || fail "-j does not change plain output"
"$SF" --json mask --policy "$tmp/policy.yaml" "$tmp/good.sql" "$tmp/js.out" >"$tmp/js.json"
node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); process.exit(r.rows===4&&r.tables.length===2?0:1)' \
    "$tmp/js.json" && ok "--json prints the report" || fail "--json prints the report" "$(cat "$tmp/js.json")"
assert_exit 1 "$SF" mask --policy "$tmp/policy.yaml" "$tmp/nope.sql" "$tmp/x.out"
grep -q "cannot open '.*nope.sql'" "$T_ERR" && ok "missing input named" || fail "missing input named" "$(cat "$T_ERR")"

# --- warnings and config defaults
printf 'version: 1\nstrict: false\nkey: {env: SF_T_KEY}\ntables:\n  public.people: {email: email, name: name, phone: phone}\n  public.ghost: {email: email}\n' >"$tmp/ghost.yaml"
check "a policy table missing from the dump is not an error" "$SF" mask --policy "$tmp/ghost.yaml" "$tmp/good.sql" "$tmp/g.out"
grep -q "warning: policy table public.ghost is not in the dump" "$T_ERR" && ok "...but a warning" || fail "...but a warning" "$(cat "$T_ERR")"
printf 'version: 1\nstrict: false\ntables: {}\n' >"$tmp/empty.yaml"
printf 'masking: {policy: %s, key_env: CFG_KEY}\n' "$tmp/empty.yaml" >"$tmp/stagefork.yaml"
CFG_KEY=$SF_T_KEY check "policy and key from the config" "$SF" -C "$tmp/stagefork.yaml" mask "$tmp/good.sql" "$tmp/c.out"
assert_eq "$(cat "$tmp/good.sql")" "$(cat "$tmp/c.out")" "an empty policy passes the dump through unchanged"

finish
