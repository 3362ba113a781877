#!/usr/bin/env bash
# The CLI skeleton: help, version, usage errors, exit codes, global options
# before and after the verb, config errors with positions.
source "$(dirname "$0")/lib.sh"
SF=${STAGEFORK_BIN:?}
tmp=$T_TMP

out=$("$SF" --help 2>/dev/null); rc=$?
assert_eq 0 "$rc" "--help exits 0"
[[ $out == usage:* && $out == *"snapshot"* && $out == *"exit codes"* ]] && ok "--help prints usage to stdout" || fail "--help prints usage to stdout" "$out"

out=$("$SF" --version); rc=$?
assert_eq 0 "$rc" "--version exits 0"
[[ $out =~ ^stagefork\ [0-9]+\.[0-9]+\.[0-9]+ && $out == *libcurl* && $out == *libpq* && $out == *OpenSSL* && $out == *libarchive* ]] \
  && ok "--version names stagefork and its libraries" || fail "--version names stagefork and its libraries" "$out"

for v in up down list status outputs extend reap gc plan mask snapshot seed refresh; do
  out=$("$SF" help "$v" 2>&1); rc=$?
  [[ $rc == 0 && $out == "usage: stagefork $v"* ]] && ok "help $v" || fail "help $v" "rc=$rc $out"
  out2=$("$SF" "$v" --help 2>/dev/null)
  [[ "$out" == "$out2" ]] && ok "$v --help equals help $v" || fail "$v --help equals help $v" ""
done

err=$("$SF" frobnicate 2>&1 >/dev/null); rc=$?
assert_eq 2 "$rc" "unknown verb exits 2"
[[ $err == *"error: unknown verb 'frobnicate'"*usage:* ]] && ok "unknown verb prints usage to stderr" || fail "unknown verb message" "$err"
[[ -z $("$SF" frobnicate 2>/dev/null) ]] && ok "unknown verb prints nothing on stdout" || fail "unknown verb stdout" ""

err=$("$SF" up --frob x 2>&1); rc=$?
assert_eq 2 "$rc" "bad flag exits 2"
[[ $err == *"unknown option '--frob' for up"*"usage: stagefork up"* ]] && ok "bad flag names the option and shows the verb's usage" || fail "bad flag message" "$err"

assert_exit 2 "$SF" list --config
assert_exit 2 "$SF" help nope
assert_exit 2 "$SF"
assert_exit 2 "$SF" list --json=yes
assert_exit 2 "$SF" list --lock-timeout 5x

# global options before or after the verb (verbs that exist parse them the same way)
a=$("$SF" --json help up); b=$("$SF" help up --json)
[[ "$a" == "$b" ]] && ok "global option before or after the verb" || fail "global option position" ""
assert_exit 0 "$SF" -qv --help

# config errors name file:line:column and exit 2
printf 'state: /x\nlimitz: {}\n' > "$tmp/bad.yaml"
err=$("$SF" -C "$tmp/bad.yaml" list 2>&1); rc=$?
assert_eq 2 "$rc" "invalid config exits 2"
[[ $err == *"$tmp/bad.yaml:2:1: unknown key 'limitz'"* ]] && ok "config error names file:line:column" || fail "config error position" "$err"
err=$(STAGEFORK_CONFIG="$tmp/bad.yaml" "$SF" list 2>&1); rc=$?
assert_eq 2 "$rc" "STAGEFORK_CONFIG is read"
err=$("$SF" -C "$tmp/missing.yaml" list 2>&1); rc=$?
assert_eq 2 "$rc" "missing explicit config exits 2"
[[ $err == "error: cannot open '$tmp/missing.yaml': No such file or directory"* ]] && ok "missing config message" || fail "missing config message" "$err"

finish
