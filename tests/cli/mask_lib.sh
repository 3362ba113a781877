# Sourced after lib.sh by the t_mask_*.sh scripts that mask dumps of their
# own PostgreSQL databases: the test server (fails the script when it is not
# configured), the fixture policy and table list, and databases made with
# mkdb, dropped at exit.
#   url DB                    postgres:// URL of DB on the test server
#   psql_q DB ARGS...         psql on DB, quiet, stopping at the first error
#   val DB SQL                one query's result, unaligned
#   mkdb DB                   CREATE DATABASE DB (dropped at exit)
SF=${STAGEFORK_BIN:?}
SRC=${STAGEFORK_SRC:?}
PGURL=${STAGEFORK_TEST_PG:?STAGEFORK_TEST_PG is not set (run through make test)}
BIN=${STAGEFORK_TEST_PG_BINDIR:?STAGEFORK_TEST_PG_BINDIR is not set}
POLICY=$SRC/tests/fixtures/masking/policy.yaml
dbs=()

url() { echo "${PGURL%/*}/$1"; }
psql_q() { local db=$1; shift; "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$(url "$db")" "$@"; }
val() { psql_q "$1" -Atc "$2"; }
mkdb() { "$BIN/psql" -X -q -d "$PGURL" -c "CREATE DATABASE $1" && dbs+=("$1"); }
_mask_lib_cleanup() { for d in "${dbs[@]}"; do "$BIN/psql" -X -q -d "$PGURL" -c "DROP DATABASE IF EXISTS $d" 2>/dev/null; done; }
at_exit _mask_lib_cleanup

# the tables of tests/fixtures/masking/schema.sql (and of scripts/bench/mask_data.sql)
tables=(public.customers public.suppliers 'erp."Supplier Contacts"' public.products public.price_lists
        public.orders public.order_lines)
