# Tiny TAP-ish helpers for CLI test scripts. Source it:
#   . "$(dirname "$0")/lib.sh"
#   ok NAME                     record a pass:    "ok - NAME"
#   fail NAME [MSG...]          record a failure: "not ok - NAME" (+ "#   MSG" on stdout)
#   check NAME CMD [ARGS...]    pass if CMD exits 0 (its output goes to $T_OUT / $T_ERR)
#   assert_eq EXPECTED ACTUAL [NAME]
#   assert_exit CODE CMD [ARGS...]  run CMD, pass if it exits with CODE; its stdout and
#                               stderr are left in the files $T_OUT and $T_ERR
#   skip NAME [REASON]          "ok - NAME # SKIP REASON"
#   finish                      print "N passed, M failed"; exit 1 if M > 0
#   at_exit CMD                 run CMD (eval'd) at exit, e.g. to clean up; use this
#                               instead of `trap ... EXIT`, which would replace ours
#   need_env VAR...             the script's services: fail "environment" and finish at the
#                               first VAR that is unset or empty (integration tests never skip)
# Counters: T_PASSED, T_FAILED. Scratch dir: $T_TMP (removed at exit).
# Assertions return 1 on failure so they can be chained (`check ... || return`).
# Under `set -e` a failing assertion ends the script early; the summary is still
# printed and the exit status is non-zero.

[[ -n "${_SF_TEST_LIB:-}" ]] && return 0
_SF_TEST_LIB=1

T_PASSED=0
T_FAILED=0
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sf-cli-test.XXXXXX")
T_OUT="$T_TMP/stdout"
T_ERR="$T_TMP/stderr"
_T_FINISHED=
_T_AT_EXIT=()

at_exit() { _T_AT_EXIT+=("$*"); }

need_env() {
    local v
    for v in "$@"; do
        [[ -n ${!v:-} ]] || { fail "environment" "$v is not set (run through make test)"; finish; }
    done
}

_t_on_exit() {
    local rc=$? i
    set +e
    for ((i = ${#_T_AT_EXIT[@]} - 1; i >= 0; i--)); do eval "${_T_AT_EXIT[i]}"; done
    rm -rf -- "$T_TMP"
    if [[ -z "$_T_FINISHED" ]]; then
        printf '%d passed, %d failed (aborted before finish, status %d)\n' \
            "$T_PASSED" "$T_FAILED" "$rc"
        [[ "$rc" -ne 0 ]] || rc=1
    fi
    exit "$rc"
}
trap _t_on_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

ok() {
    T_PASSED=$((T_PASSED + 1))
    printf 'ok - %s\n' "$1"
}

fail() {
    local name=$1; shift
    T_FAILED=$((T_FAILED + 1))
    printf 'not ok - %s\n' "$name"
    local line
    for line in "$@"; do printf '#   %s\n' "$line"; done
}

skip() {
    T_PASSED=$((T_PASSED + 1))
    printf 'ok - %s # SKIP %s\n' "$1" "${2:-}"
}

# _t_tail FILE: last lines of a captured stream, for failure diagnostics
_t_tail() { [[ -s "$1" ]] && tail -n 5 "$1" | sed 's/^/  | /'; }

check() {
    local name=$1; shift
    if "$@" >"$T_OUT" 2>"$T_ERR"; then
        ok "$name"
    else
        local rc=$? diag=()
        mapfile -t diag < <(_t_tail "$T_ERR"; _t_tail "$T_OUT")
        fail "$name" "command failed (exit $rc): $*" "${diag[@]}"
        return 1
    fi
}

assert_eq() {
    local expected=$1 actual=$2 name=${3:-"expected '$1'"}
    if [[ "$expected" == "$actual" ]]; then
        ok "$name"
    else
        fail "$name" "expected: '$expected'" "actual:   '$actual'"
        return 1
    fi
}

assert_exit() {
    local want=$1; shift
    local name="exit $want: $*" rc=0
    "$@" >"$T_OUT" 2>"$T_ERR" || rc=$?
    if [[ "$rc" -eq "$want" ]]; then
        ok "$name"
    else
        local diag=()
        mapfile -t diag < <(_t_tail "$T_ERR"; _t_tail "$T_OUT")
        fail "$name" "exit status $rc, expected $want" "${diag[@]}"
        return 1
    fi
}

finish() {
    _T_FINISHED=1
    printf '%d passed, %d failed\n' "$T_PASSED" "$T_FAILED"
    [[ "$T_FAILED" -eq 0 ]] || exit 1
    exit 0
}
