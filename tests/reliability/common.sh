# Shared by tests/reliability/t_*.sh: the CLI test helpers (tests/cli/lib.sh),
# small/full counts, a config + state + the four-provider template under a
# per-run prefix, and leak checks that look at the real services.
#   rel_count SMALL FULL     SMALL normally, FULL under `make stress` (STAGEFORK_STRESS=1)
#   rel_setup [STATE_URL]    $D/stagefork.yaml with prefix $P, templates full (all four types)
#                            and dbbucket (database + bucket); state: a directory, or STATE_URL
#   rel_pg_state             a fresh PostgreSQL state database for this script (dropped at exit)
#   sf ARGS...               the CLI with that config
#   rel_leaks SLUG           prints one line per thing of env SLUG that still exists
#                            (database, role, bucket, REST record, process, files dir); nothing if clean
#   rel_state_clean SLUG     0 if SLUG has no record or a deleted one
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
: "${STAGEFORK_BIN:?}" "${STAGEFORK_BUILD:?}" "${STAGEFORK_TEST_PG:?}" "${STAGEFORK_TEST_S3:?}" "${STAGEFORK_TEST_REST:?}"
PSQL="$STAGEFORK_TEST_PG_BINDIR/psql"
D=$T_TMP
P=r$$
P=${P:0:12}
unset STAGEFORK_STATE STAGEFORK_CONFIG STAGEFORK_NOW
export XDG_STATE_HOME=$D/xdg

rel_count() { if [[ ${STAGEFORK_STRESS:-0} == 1 ]]; then echo "$2"; else echo "$1"; fi; }
rel_sql() { "$PSQL" -X -q -At "$STAGEFORK_TEST_PG" -c "$1"; }

rel_pg_state() {
  local db=${P}_state
  rel_sql "CREATE DATABASE $db" || { fail "create the state database"; finish; }
  at_exit "rel_sql 'DROP DATABASE IF EXISTS $db WITH (FORCE)' >/dev/null 2>&1"
  REL_STATE=${STAGEFORK_TEST_PG%/*}/$db
}

# rel_setup [STATE_URL] [S3_ENDPOINT] [REST_URL]
rel_setup() {
  mkdir -p "$D/tpl"
  cat >"$D/stagefork.yaml" <<YAML
state: ${1:-$D/state}
templates: [$D/tpl]
prefix: $P
limits: {max_ttl: none}
postgres: {admin_url: "$STAGEFORK_TEST_PG"}
s3: {endpoint: "$STAGEFORK_TEST_S3", access_key: S3RVER, secret_key: S3RVER}
vars: {svc: "$STAGEFORK_BUILD/tools/svc", slow_sql: "$D/tpl/slow.sql", s3: "${2:-$STAGEFORK_TEST_S3}", rest: "${3:-$STAGEFORK_TEST_REST}"}
YAML
  cat >"$D/tpl/full.yaml" <<'YAML'
resources:
  erp:
    type: postgres.database
    with: {server: "${config.postgres.admin_url}", sql: ["${config.vars.slow_sql}"]}
  assets:
    type: s3.bucket
    with: {endpoint: "${config.vars.s3}", access_key: S3RVER, secret_key: S3RVER}
  hook:
    type: http.resource
    with:
      create: {method: POST, url: "${config.vars.rest}/hooks", body: {name: "${env.slug}", target: "${api.url}"}}
      read: {url: "${config.vars.rest}/hooks?name=${env.slug}"}
      id: /id
      delete: {method: DELETE, url: "${config.vars.rest}/hooks/${self.id}"}
  api:
    type: process.service
    with:
      command: ["${config.vars.svc}", "--port", "${self.port}", "--echo-env", "SF_TRIAL"]
      env: {SF_TRIAL: "${env.slug}", DATABASE_URL: "${erp.url}", ASSETS_BUCKET: "${assets.name}"}
      health: {http: "http://127.0.0.1:${self.port}/health", timeout: 10s}
      grace: 2s
YAML
  # the SQL file makes an `up` last about 2.5 s, so kills land in every phase
  printf 'CREATE TABLE orders (id int PRIMARY KEY);\nSELECT pg_sleep(%s);\n' "${REL_SQL_SLEEP:-2}" >"$D/tpl/slow.sql"
  cat >"$D/tpl/dbbucket.yaml" <<'YAML'
resources:
  db:
    type: postgres.database
    with: {server: "${config.postgres.admin_url}"}
  files:
    type: s3.bucket
    with: {endpoint: "${config.vars.s3}", access_key: S3RVER, secret_key: S3RVER}
YAML
}

sf() { "$STAGEFORK_BIN" -C "$D/stagefork.yaml" "$@"; }

rel_s3_status() {
  curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 -u S3RVER:S3RVER \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$STAGEFORK_TEST_S3/$1?location="
}

# pids whose environment carries SF_TRIAL=<slug> and a database of this run's
# prefix (other checkouts may run the same suite on this machine at the same time)
rel_procs() {
  local f
  for f in $(grep -lsz -- "^SF_TRIAL=$1\$" /proc/[0-9]*/environ); do
    grep -qsz -- "^DATABASE_URL=.*/${P}_" "$f" || continue
    f=${f#/proc/}; echo "${f%/environ}"
  done
}

rel_leaks() {
  local slug=$1 ident=${1//-/_} n b
  n=$(rel_sql "select string_agg(datname, ',') from pg_database where datname like '${P}\\_${ident}\\_%'")
  [[ -n $n ]] && echo "database $n"
  n=$(rel_sql "select string_agg(rolname, ',') from pg_roles where rolname like '${P}\\_${ident}\\_%'")
  [[ -n $n ]] && echo "role $n"
  for b in assets files; do
    [[ $(rel_s3_status "$P-$slug-$b") == 404 ]] || echo "bucket $P-$slug-$b ($(rel_s3_status "$P-$slug-$b"))"
  done
  n=$(curl -s "$STAGEFORK_TEST_REST/hooks?name=$slug" | grep -c '"id"')
  [[ $n != 0 ]] && echo "rest $n record(s) named $slug"
  n=$(rel_procs "$slug" | tr '\n' ' ')
  [[ -n $n ]] && echo "process $n"
  [[ -e $D/state/files/$slug || -e $D/xdg/stagefork/files/$slug ]] && echo "files $slug"
  return 0
}

rel_state_clean() {
  local st
  st=$(sf list --all --json | python3 -c 'import json,sys; d={e["slug"]: e["status"] for e in json.load(sys.stdin)}; print(d.get(sys.argv[1], "absent"))' "$1")
  [[ $st == deleted || $st == absent ]]
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
