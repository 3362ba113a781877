#!/usr/bin/env bash
# Checks that the local test services really work (PostgreSQL, S3, REST).
# Needs the STAGEFORK_TEST_* variables exported, e.g.:
#   scripts/test-services.sh start && eval "$(scripts/test-services.sh env)"
#   tests/cli/t_services.sh
set -uo pipefail
# shellcheck source=tests/cli/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUFFIX="$$_${RANDOM}"

missing=()
for v in STAGEFORK_TEST_PG STAGEFORK_TEST_PG_HOST STAGEFORK_TEST_PG_PORT \
         STAGEFORK_TEST_PG_SOCKDIR STAGEFORK_TEST_PG_BINDIR STAGEFORK_TEST_S3 \
         STAGEFORK_TEST_S3_ACCESS_KEY STAGEFORK_TEST_S3_SECRET_KEY \
         STAGEFORK_TEST_S3_REGION STAGEFORK_TEST_REST; do
    [[ -n "${!v:-}" ]] || missing+=("$v")
done
if ((${#missing[@]})); then
    # shellcheck disable=SC2016
    fail "environment" "not set: ${missing[*]}" \
        'run: scripts/test-services.sh start && eval "$(scripts/test-services.sh env)"'
    finish
fi
ok "environment"

# ------------------------------------------------------------ PostgreSQL ----
PSQL="$STAGEFORK_TEST_PG_BINDIR/psql"
DB="sf_t_services_$SUFFIX"
psql_q() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

for tool in psql pg_dump pg_restore; do
    if [[ -x "$STAGEFORK_TEST_PG_BINDIR/$tool" ]] &&
       [[ "$("$STAGEFORK_TEST_PG_BINDIR/$tool" --version)" == *" 15."* ]]; then
        ok "pg: $tool 15 in STAGEFORK_TEST_PG_BINDIR"
    else
        fail "pg: $tool 15 in STAGEFORK_TEST_PG_BINDIR" "$STAGEFORK_TEST_PG_BINDIR/$tool missing or not v15"
    fi
done

assert_eq 15 "$(psql_q "$STAGEFORK_TEST_PG" -c 'show server_version_num' 2>&1 | cut -c1-2)" \
    "pg: server is PostgreSQL 15 (TCP, URL)"
assert_eq 1 "$(psql_q -h "$STAGEFORK_TEST_PG_SOCKDIR" -p "$STAGEFORK_TEST_PG_PORT" -U postgres \
    -d postgres -c 'select 1' 2>&1)" "pg: unix socket in STAGEFORK_TEST_PG_SOCKDIR"
assert_eq 300 "$(psql_q "$STAGEFORK_TEST_PG" -c 'show max_connections' 2>&1)" "pg: max_connections=300"

at_exit "psql_q '$STAGEFORK_TEST_PG' -c 'drop database if exists $DB' >/dev/null 2>&1"
if check "pg: create database $DB" psql_q "$STAGEFORK_TEST_PG" -c "create database $DB"; then
    DBURL="${STAGEFORK_TEST_PG%/*}/$DB"
    assert_eq "a|42" "$(psql_q "$DBURL" -c "create table t(k text, v int); insert into t values ('a', 42); select * from t" 2>&1)" \
        "pg: create table/insert/select in $DB"
    check "pg: drop database $DB" psql_q "$STAGEFORK_TEST_PG" -c "drop database $DB"
fi

# -------------------------------------------------------------------- S3 ----
# s3rver wants an x-amz-content-sha256 header on SigV4 requests (curl 7.x does
# not add one by itself); the value is the hex SHA-256 of the body.
BUCKET="sf-t-services-${SUFFIX//_/-}"
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
S3_BODY="$T_TMP/s3body"
# s3 METHOD PATH [BODYFILE]: prints the HTTP status; response body in $S3_BODY
s3() {
    local method=$1 path=$2 file=${3:-} sha=$EMPTY_SHA args=()
    if [[ -n "$file" ]]; then
        sha=$(sha256sum "$file" | cut -d' ' -f1)
        args=(--data-binary "@$file")
    fi
    curl -sS -o "$S3_BODY" -w '%{http_code}' -X "$method" \
        --aws-sigv4 "aws:amz:${STAGEFORK_TEST_S3_REGION}:s3" \
        --user "$STAGEFORK_TEST_S3_ACCESS_KEY:$STAGEFORK_TEST_S3_SECRET_KEY" \
        -H "x-amz-content-sha256: $sha" "${args[@]}" \
        "$STAGEFORK_TEST_S3/$path" 2>&1
}

printf 'stagefork %s\n\x00\x01binary\xff\n' "$SUFFIX" >"$T_TMP/obj"
KEY="dir/obj-$SUFFIX.bin"
at_exit "s3 DELETE '$BUCKET/$KEY' >/dev/null; s3 DELETE '$BUCKET' >/dev/null"

assert_eq 200 "$(s3 PUT "$BUCKET")" "s3: create bucket $BUCKET"
assert_eq 200 "$(s3 PUT "$BUCKET/$KEY" "$T_TMP/obj")" "s3: put object"
assert_eq 200 "$(s3 GET "$BUCKET/$KEY")" "s3: get object"
if cmp -s "$T_TMP/obj" "$S3_BODY"; then ok "s3: object round-trips byte for byte"
else fail "s3: object round-trips byte for byte" "got: $(head -c 200 "$S3_BODY" 2>/dev/null)"; fi
code=$(s3 GET "$BUCKET?list-type=2&prefix=dir/")
if [[ "$code" == 200 ]] && grep -q "<Key>$KEY</Key>" "$S3_BODY"; then ok "s3: list objects v2"
else fail "s3: list objects v2" "status $code: $(head -c 300 "$S3_BODY" 2>/dev/null)"; fi
assert_eq 204 "$(s3 DELETE "$BUCKET/$KEY")" "s3: delete object"
assert_eq 404 "$(s3 GET "$BUCKET/$KEY")" "s3: deleted object is gone"
assert_eq 204 "$(s3 DELETE "$BUCKET")" "s3: delete bucket"
assert_eq 404 "$(s3 GET "$BUCKET")" "s3: deleted bucket is gone"

# ------------------------------------------------------------------ REST ----
REST_BODY="$T_TMP/restbody"
rest() {  # rest METHOD PATH [JSON]: prints the HTTP status; body in $REST_BODY
    local args=()
    [[ -n "${3:-}" ]] && args=(-H 'Content-Type: application/json' --data-binary "$3")
    curl -sS -o "$REST_BODY" -w '%{http_code}' -X "$1" "${args[@]}" "$STAGEFORK_TEST_REST$2" 2>&1
}
json_field() { node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
                        const v=o[process.argv[2]]; process.stdout.write(v===undefined?"":String(v));' \
                   "$REST_BODY" "$1" 2>/dev/null; }

NAME="t_services_$SUFFIX"
assert_eq 201 "$(rest POST /hooks "{\"name\":\"$NAME\",\"url\":\"http://hooks.invalid/$SUFFIX\"}")" "rest: POST /hooks"
ID=$(json_field id)
if [[ -n "$ID" ]]; then
    ok "rest: POST returns an id ($ID)"
    at_exit "rest DELETE '/hooks/$ID' >/dev/null"
    assert_eq 200 "$(rest GET "/hooks/$ID")" "rest: GET /hooks/$ID"
    assert_eq "$NAME" "$(json_field name)" "rest: GET returns what was posted"
    assert_eq 200 "$(rest DELETE "/hooks/$ID")" "rest: DELETE /hooks/$ID"
    # json-server 0.17 hands out max(id)+1, so a parallel run may already have
    # been given the same id again: "gone" means 404 or someone else's record.
    code=$(rest GET "/hooks/$ID")
    if [[ "$code" == 404 ]] || { [[ "$code" == 200 ]] && [[ "$(json_field name)" != "$NAME" ]]; }; then
        ok "rest: GET after DELETE is 404"
    else
        fail "rest: GET after DELETE is 404" "status $code: $(head -c 200 "$REST_BODY" 2>/dev/null)"
    fi
else
    fail "rest: POST returns an id" "body: $(head -c 200 "$REST_BODY" 2>/dev/null)"
fi
assert_eq 200 "$(rest GET /records)" "rest: GET /records collection exists"

finish
