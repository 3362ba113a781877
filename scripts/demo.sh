#!/usr/bin/env bash
# make demo: stagefork end to end on one machine, in about a minute.
#
#   scripts/demo.sh          run the demo (make demo)
#   scripts/demo.sh stop     tear down what is left, stop the local services and
#                            remove the demo directory (make demo-stop)
#
# Everything lives in ${STAGEFORK_DEMO_DIR:-./.stagefork}: a local PostgreSQL
# 15, an S3 server (s3rver) and a REST API (json-server) started by
# scripts/test-services.sh with their data there, the demo's stagefork.yaml,
# its state, its snapshot store and its masking key. The services keep
# running after the demo so the next run reuses them; `make demo-stop` ends
# them. See docs/demo.md for what each step shows.
#
# Knobs: STAGEFORK_DEMO_DIR, STAGEFORK_DEMO_SCALE (high-volume profile scale,
# default 0.1), STAGEFORK_DEMO_SHORT_TTL (fix/EDI-42's TTL, default 30s),
# BUILD (build dir, default build).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
BUILD=${BUILD:-build}
case $BUILD in /*) BUILD_DIR=$BUILD ;; *) BUILD_DIR=$REPO/$BUILD ;; esac
BIN=$BUILD_DIR/stagefork
API=$BUILD_DIR/distribution-api
DIR=${STAGEFORK_DEMO_DIR:-$REPO/.stagefork}
SCALE=${STAGEFORK_DEMO_SCALE:-0.1}
SHORT_TTL=${STAGEFORK_DEMO_SHORT_TTL:-30s}
SEED=42
BRANCH_A=feature/pricing-rules
BRANCH_B=fix/EDI-42
SNAPSHOT=erp-nightly
PROD_DB=erp_production
MARK=.stagefork-demo     # marks a directory this script made (stop removes only such a one)

unset STAGEFORK_STATE STAGEFORK_CONFIG
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
CFG=$DIR/stagefork.yaml
export STAGEFORK_SERVICES_STATE=$DIR/services
export STAGEFORK_SERVICES_TMPDIR=$DIR
T0=$SECONDS

bold=; dim=; off=
if [[ -t 1 ]]; then bold=$'\e[1m'; dim=$'\e[2m'; off=$'\e[0m'; fi
STEP=0
STEPS=9
step() { STEP=$((STEP + 1)); printf '\n%s[%d/%d] %s%s %s(%ds)%s\n' "$bold" "$STEP" "$STEPS" "$*" "$off" "$dim" "$((SECONDS - T0))" "$off"; }
say()  { printf '    %s\n' "$*"; }
run()  { printf '  %s$ stagefork %s%s\n' "$dim" "$*" "$off"; "$BIN" -C "$CFG" "$@"; }
sf()   { "$BIN" -C "$CFG" "$@"; }
die()  { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

services_env() { scripts/test-services.sh env; }
# branches of the environments in the state that are not deleted, one a line
env_branches() { sf list --json 2>/dev/null | sed -n 's/^    "branch": "\(.*\)",$/\1/p'; }

# api_procs STATUS_JSON...: running distribution-api processes serving those
# envs (found by executable and by the DOCUMENTS_BUCKET in their environment)
api_procs() {
    local n=0 p b
    for p in /proc/[0-9]*; do
        [[ $(readlink "$p/exe" 2>/dev/null) == "$API" ]] || continue
        for b in $(sed -n 's/^ *"DOCUMENTS_BUCKET": "\(.*\)",*$/\1/p' "$@"); do
            tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "DOCUMENTS_BUCKET=$b" && n=$((n + 1))
        done
    done
    echo "$n"
}
psql_q() { PGOPTIONS='-c client_min_messages=warning' "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
count() { grep -c "$@" || true; }   # count PATTERN: matching lines of stdin, 0 without failing
now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- stop ------
if [[ ${1:-} == stop ]]; then
    if [[ ! -e $DIR/$MARK ]]; then
        rmdir "$DIR" 2>/dev/null || true
        echo "demo: nothing to stop"
        exit 0
    fi
    if [[ -f $CFG ]] && scripts/test-services.sh status >/dev/null 2>&1; then
        eval "$(services_env)"
        export AWS_ACCESS_KEY_ID=$STAGEFORK_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$STAGEFORK_TEST_S3_SECRET_KEY
        [[ -f $DIR/mask.key ]] && STAGEFORK_MASK_KEY=$(cat "$DIR/mask.key") && export STAGEFORK_MASK_KEY
        # environments an interrupted demo left behind: their processes outlive the services
        env_branches | while read -r b; do
            echo "demo: tearing down $b"
            sf down "$b" --force || true
        done
    fi
    scripts/test-services.sh stop || true
    rm -rf -- "$DIR"
    echo "demo: services stopped, $DIR removed"
    exit 0
fi
[[ $# -eq 0 ]] || die "usage: scripts/demo.sh [stop]"

[[ -x $BIN && -x $API ]] || make -s -j2 BUILD="$BUILD"
touch "$DIR/$MARK"
trap 'rc=$?; if ((rc != 0)); then
          printf "\ndemo: failed during step %d (exit %d); \`make demo-stop\` removes what it left.\n" "$STEP" "$rc" >&2
      fi' EXIT

cat <<EOF
${bold}stagefork demo${off}: a production ERP database, a masked snapshot of it, and two
branch environments (database + document bucket + API process + gateway
registration) created from templates/distribution/stack.yaml, then torn down.
Everything runs locally under $DIR.
EOF

# ---------------------------------------------------------- 1. services -----
step "Starting local PostgreSQL, S3 and REST servers"
if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$DIR" 2>/dev/null; then
    # PostgreSQL refuses to run as root; its data dir must be reachable by 'postgres'
    export STAGEFORK_SERVICES_TMPDIR=/tmp
    say "(the postgres user cannot reach $DIR; the database files go to /tmp instead)"
fi
reused=1
scripts/test-services.sh status >/dev/null 2>&1 || reused=0
scripts/test-services.sh start
eval "$(services_env)"
PG_BINDIR=$STAGEFORK_TEST_PG_BINDIR
ADMIN=$STAGEFORK_TEST_PG
PG_BASE=${ADMIN%/*}
PROD=$PG_BASE/$PROD_DB
REST=$STAGEFORK_TEST_REST
export STAGEFORK_PG_BINDIR=$PG_BINDIR
export AWS_ACCESS_KEY_ID=$STAGEFORK_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$STAGEFORK_TEST_S3_SECRET_KEY
if [[ $reused == 1 ]]; then say "reusing the servers from an earlier run"; fi
say "PostgreSQL $ADMIN"
say "S3         $STAGEFORK_TEST_S3"
say "REST API   $REST (the partner gateway's registry)"

# the masking key: 32 random bytes made on the first run, kept (0600) so the
# snapshots of earlier runs still verify; it is only ever read from the environment
if [[ ! -s $DIR/mask.key ]]; then
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/mask.key")
fi
STAGEFORK_MASK_KEY=$(cat "$DIR/mask.key")
export STAGEFORK_MASK_KEY

(umask 077; cat >"$CFG" <<EOF
# written by scripts/demo.sh
state: $DIR/state
templates: [$REPO/templates]
snapshots: {store: $DIR/snapshots}
masking: {policy: $REPO/templates/distribution/masking.yaml, key_env: STAGEFORK_MASK_KEY}
limits: {max_envs: 10, default_ttl: 8h, max_ttl: 1d}
guard: {allow_hosts: [127.0.0.1]}
postgres: {admin_url: "$ADMIN"}
s3: {endpoint: "$STAGEFORK_TEST_S3", region: us-east-1}
vars: {registry_api: "$REST"}
EOF
)
say "config     $CFG"

# ------------------------------------------------------- 2. production ------
step "Creating the \"production\" database $PROD_DB (high-volume profile, scale $SCALE)"
want="stagefork demo: high-volume scale=$SCALE seed=$SEED"
have=$(psql_q "$ADMIN" -c "select shobj_description(oid, 'pg_database') from pg_database where datname = '$PROD_DB'")
if [[ $have == "$want" ]]; then
    say "already there from an earlier run (same profile, scale and seed): reusing it"
else
    psql_q "$ADMIN" -c "drop database if exists $PROD_DB with (force)" -c "create database $PROD_DB" >/dev/null
    psql_q "$PROD" -f templates/distribution/schema.sql >/dev/null
    run seed --spec templates/distribution/seed.yaml --profile high-volume --set "scale=$SCALE" \
        --seed "$SEED" --to "$PROD"
    psql_q "$ADMIN" -c "comment on database $PROD_DB is '$want'" >/dev/null
fi
say "$(psql_q "$PROD" -c "select format('%s tenants, %s customers, %s products, %s orders, %s order lines, %s EDI messages',
      (select count(*) from tenants), (select count(*) from customers), (select count(*) from products),
      (select count(*) from orders), (select count(*) from order_lines), (select count(*) from edi_messages))")"
say "It holds realistic personal and commercial data: names, emails, phones, IBANs, prices."

# --------------------------------------------------------- 3. snapshot ------
step "Taking a masked snapshot of production"
say "pg_dump reads the schema; the rows stream through the masker inside stagefork"
say "(templates/distribution/masking.yaml) and only masked rows are stored, signed."
run snapshot create "$SNAPSHOT" --from "$PROD" -j 2
run snapshot list "$SNAPSHOT"
run snapshot verify "$SNAPSHOT"

# -------------------------------------------------------- 4. environments ---
step "Bringing up two branch environments from templates/distribution/stack.yaml"
say "Each gets: a database cloned from the snapshot's golden template, a documents"
say "bucket, the distribution-api process (healthy only once it reached its"
say "database) and a registration record in the REST API."
up() {  # up BRANCH TTL: the env's up --json and status --json are kept in $DIR/envs/
    local t f=$DIR/envs/${1//\//_}
    t=$(now)
    mkdir -p "$DIR/envs"
    run up "$1" -t distribution --ttl "$2" --set "api_bin=$API" --json >"$f.up.json"
    say "$1 is ready in $(since "$t")s: $(count '^      "status": "ready"' <"$f.up.json") of 4 resources ready, expires in $2"
    sf status "$1" --json >"$f.status.json"
}
up "$BRANCH_A" 10m
up "$BRANCH_B" "$SHORT_TTL"
say "The first up restored the snapshot into a golden template database once;"
say "every environment is a file-level clone of it (CREATE DATABASE ... TEMPLATE)."
run outputs "$BRANCH_A"

# ------------------------------------------------------ 5. side by side -----
step "Original rows (production) next to the same rows in $BRANCH_A's database"
ENV_DB=$(sf outputs "$BRANCH_A" --reveal --format env | sed -n 's/^DATABASE_URL=//p')
API_URL=$(sf outputs "$BRANCH_A" --format env | sed -n 's/^API_URL=//p')
side_by_side() {  # side_by_side TITLE ID_QUERY ROW_QUERY(with :ids)
    local ids
    ids=$(psql_q "$PROD" -c "$2" | paste -sd, -)
    printf '\n  %s%s%s\n' "$bold" "$1" "$off"
    paste -d '\n' <(psql_q "$PROD" -c "${3//:ids/$ids}" | sed 's/^/    production  /') \
                  <(psql_q "$ENV_DB" -c "${3//:ids/$ids}" | sed 's/^/    masked      /') \
                  <(psql_q "$PROD" -c "${3//:ids/$ids}" | sed 's/.*//')
}
side_by_side "customers: company, contact, email, phone, IBAN, credit limit" \
    "select id from customers where phone is not null and iban is not null and contact_name is not null order by id limit 3" \
    "select format('%s %s %s %s %s %s', rpad(company_name, 30), rpad(coalesce(contact_name, '-'), 18),
            rpad(email, 31), rpad(coalesce(phone, '-'), 16), rpad(coalesce(iban, '-'), 27), lpad(coalesce(credit_limit::text, '-'), 10))
       from customers where id in (:ids) order by id"
side_by_side "suppliers: name, contact email, street, city, account" \
    "select id from suppliers where contact_email is not null order by id limit 3" \
    "select format('%s %s %s %s %s', rpad(name, 30), rpad(coalesce(contact_email, '-'), 33),
            rpad(coalesce(street, '-'), 24), rpad(coalesce(city, '-'), 14), coalesce(account_no, '-'))
       from suppliers where id in (:ids) order by id"
side_by_side "prices: sku, list price, cost, and one order line of that sku (qty x unit price = total)" \
    "select p.id from products p where exists (select from order_lines l where l.product_id = p.id) order by p.id limit 3" \
    "select format('%s list %s cost %s   line: %s x %s = %s', p.sku, lpad(p.list_price::text, 8),
            lpad(coalesce(p.cost::text, '-'), 8), l.qty, l.unit_price, l.line_total)
       from products p cross join lateral (select * from order_lines l where l.product_id = p.id order by l.id limit 1) l
      where p.id in (:ids) order by p.id"
say "Emails became tokens (unique, so orders.customer_email still joins customers),"
say "phones and IBANs keep their layout, prices moved by up to 5 % per SKU (a line's"
say "unit price still equals its product's price, totals still add up), names are"
say "dictionary picks, free-text notes are gone. Ids and SKUs are unchanged."
say ""
say "The API in $BRANCH_A answers from the masked copy:"
say "GET $API_URL/health -> $(curl -s -m 5 "$API_URL/health")"
say "GET $API_URL/customers/count -> $(curl -s -m 5 "$API_URL/customers/count")"
say "Registrations in the gateway ($REST/hooks):"
curl -s -m 5 "$REST/hooks" | tr -d '\n ' | sed -e 's/},{/}\n{/g' -e 's/^\[//' -e 's/\]$//' | sed 's/^/      /'
echo

# ------------------------------------------------------------ 6. list -------
step "Listing the environments and when they expire"
run list

# ------------------------------------------------------------ 7. down -------
step "Tearing down $BRANCH_A by hand"
run down "$BRANCH_A"
say "Reverse dependency order: registration deleted, API stopped (SIGTERM to its"
say "process group), bucket emptied and deleted, database and role dropped."

# ------------------------------------------------------------ 8. reap -------
step "Letting the reaper take $BRANCH_B when its TTL ($SHORT_TTL) runs out"
expires=$(sed -n 's/^  "expires_at": "\(.*\)",*$/\1/p' "$DIR/envs/${BRANCH_B//\//_}.up.json" | head -n 1)
exp_s=$(date -u -d "$expires" +%s 2>/dev/null || echo 0)
reaped=0
if sf reap --dry-run >/dev/null 2>&1; then
    reaped=1
    left=$((exp_s - $(date -u +%s) + 1))
    if ((left > 0)); then
        if [[ -t 1 ]]; then
            while ((left > 0)); do
                printf '\r    waiting for %s to expire: %3ds left ' "$BRANCH_B" "$left"
                sleep 1
                left=$((exp_s - $(date -u +%s) + 1))
            done
            printf '\r%60s\r' ''
        else
            say "waiting ${left}s for $BRANCH_B to expire"
            sleep "$left"
        fi
    fi
    say "$BRANCH_B expired at $expires"
    run reap
    say "The reaper found the expired environment and tore it down (a cron job or"
    say "\`stagefork reap --watch 1m\` does this for every branch nobody cleaned up)."
else
    say "This build has no reaper yet (\`stagefork reap\` arrives with issue #9),"
    say "so the demo tears $BRANCH_B down with \`stagefork down\` instead."
    run down "$BRANCH_B"
fi

# ----------------------------------------------------------- 9. nothing -----
step "Checking that nothing is left behind"
envs=$(env_branches | wc -l)
dbs=$(psql_q "$ADMIN" -c "select count(*) from pg_database where datname like 'sf\_%' and datname not like 'sf\_tpl\_%'")
roles=$(psql_q "$ADMIN" -c "select count(*) from pg_roles where rolname like 'sf\_%'")
buckets=$(curl -s -m 5 --aws-sigv4 aws:amz:us-east-1:s3 -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
              -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$STAGEFORK_TEST_S3/" | sed 's/<Bucket>/\n/g' | count '<Name>sf-')
hooks=$(curl -s -m 5 "$REST/hooks" | count '"id"')
procs=$(api_procs "$DIR"/envs/*.status.json)
say "environments: $envs   env databases: $dbs   roles: $roles   buckets: $buckets   registrations: $hooks   API processes: $procs"
[[ "$envs$dbs$roles$buckets$hooks$procs" == 000000 ]] || die "something was left behind"
say "Housekeeping: keep only the newest snapshot, then let gc look for leaks and"
say "drop golden templates of older snapshots that nothing needs any more."
run snapshot prune "$SNAPSHOT" --keep 1
run gc --orphans

cat <<EOF

${bold}Done in $((SECONDS - T0))s.${off} What happened: a production database was dumped and masked
in one stream into a signed snapshot; two branches got complete environments
from one template (their databases cloned from that snapshot in seconds); the
rows above show what the masking did; one environment was torn down by hand
and the other $( ((reaped)) && echo "by the reaper when its TTL ran out" || echo "by hand as well (no reaper in this build)").
The audit log of every step is $DIR/state/events.jsonl.

The local servers keep running for the next \`make demo\`; \`make demo-stop\`
stops them and removes $DIR.
EOF
