#!/usr/bin/env bash
# End to end: all four real providers through `stagefork up/down` against the
# test services (PostgreSQL, s3rver, json-server) and a real child service.
source "$(dirname "$0")/lib.sh"

: "${STAGEFORK_BIN:?}" "${STAGEFORK_BUILD:?}" "${STAGEFORK_TEST_PG:?}" "${STAGEFORK_TEST_S3:?}" "${STAGEFORK_TEST_REST:?}"
PSQL="$STAGEFORK_TEST_PG_BINDIR/psql"
D=$T_TMP
mkdir -p "$D/tpl"
cat >"$D/stagefork.yaml" <<YAML
state: $D/state
templates: [$D/tpl]
postgres: {admin_url: "$STAGEFORK_TEST_PG"}
s3: {endpoint: "$STAGEFORK_TEST_S3"}
vars: {hooks_api: "$STAGEFORK_TEST_REST", svc: "$STAGEFORK_BUILD/tools/svc"}
YAML
cat >"$D/tpl/stack.yaml" <<'YAML'
name: stack
resources:
  erp:
    type: postgres.database
    with:
      server: ${config.postgres.admin_url}
      extensions: [citext]
      sql: [schema.sql]
  assets:
    type: s3.bucket
    with: {endpoint: "${config.s3.endpoint}", access_key: S3RVER, secret_key: S3RVER}
  api:
    type: process.service
    with:
      command: ["${config.vars.svc}", "--port", "${self.port}", "--echo-env", "ASSETS_BUCKET"]
      env: {DATABASE_URL: "${erp.url}", ASSETS_BUCKET: "${assets.name}"}
      health: {http: "http://127.0.0.1:${self.port}/health", timeout: 10s}
      grace: 2s
  partner_hook:
    type: http.resource
    with:
      create: {method: POST, url: "${config.vars.hooks_api}/hooks", body: {name: "${env.slug}", target: "${api.url}"}}
      read: {url: "${config.vars.hooks_api}/hooks?name=${env.slug}"}
      id: /id
      delete: {method: DELETE, url: "${config.vars.hooks_api}/hooks/${self.id}"}
outputs:
  DATABASE_URL: ${erp.url}
  API_URL: ${api.url}
  BUCKET: ${assets.name}
  HOOK_ID: ${partner_hook.id}
YAML
printf 'CREATE TABLE orders (id int PRIMARY KEY);\n' >"$D/tpl/schema.sql"
sf() { (cd "$D/tpl" && "$STAGEFORK_BIN" -C "$D/stagefork.yaml" "$@"); }
branch=feature/providers-e2e-$$
s3_status() { curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 -u S3RVER:S3RVER \
                   -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$STAGEFORK_TEST_S3/$1?location="; }
hooks_named() { curl -s "$STAGEFORK_TEST_REST/hooks?name=$1" | grep -c '"id"'; }
out() { sf outputs "$branch" --reveal --format env | sed -n "s/^$1=//p"; }
at_exit 'sf down "$branch" --force >/dev/null 2>&1'

assert_exit 0 sf up "$branch" -t stack --json
cp "$T_OUT" "$D/up.json"
check "up --json reports ready" grep -q '"status": "ready"' "$D/up.json"
slug=$(sed -n 's/.*"slug": "\(.*\)".*/\1/p' "$D/up.json")
db_url=$(out DATABASE_URL); api=$(out API_URL); bucket=$(out BUCKET); hook=$(out HOOK_ID)
check "database reachable with the output url, sql file applied" "$PSQL" -X -q -At "$db_url" -c 'select count(*) from orders'
assert_eq 200 "$(s3_status "$bucket")" "bucket exists"
assert_eq 1 "$(hooks_named "$slug")" "one hook record"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$api/health")" "service healthy"
check "service got the bucket name in its environment" grep -rq "env ASSETS_BUCKET=$bucket" "$D/state"

assert_exit 0 sf up "$branch" -t stack
assert_eq 1 "$(hooks_named "$slug")" "rerun: still one hook record"
assert_eq "$api" "$(out API_URL)" "rerun: the running service is kept"
assert_eq "$hook" "$(out HOOK_ID)" "rerun: same hook id"

assert_exit 0 sf down "$branch"
assert_eq 404 "$(s3_status "$bucket")" "bucket removed"
assert_eq 0 "$(hooks_named "$slug")" "hook removed"
check "database removed" bash -c "! '$PSQL' -X -q -At '$db_url' -c 'select 1' 2>/dev/null"
check "service stopped" bash -c "! curl -s -m 2 '$api/health' >/dev/null"
assert_exit 0 sf down "$branch"

# guardrail: a protected database name refuses with exit 6, before touching anything
cat >>"$D/stagefork.yaml" <<'YAML'
guard: {protected: ["sf_*_erp"]}
YAML
assert_exit 6 sf up "$branch-guard" -t stack
cp "$T_ERR" "$D/guard.err"
check "guard message names the pattern" grep -q "guard.protected" "$D/guard.err"
sf down "$branch-guard" --force >/dev/null 2>&1
finish
