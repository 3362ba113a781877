#!/usr/bin/env bash
# make demo: the first of the two quick-start commands.
# Until environments land this shows the CLI and says what the demo will do.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
if [[ ${1:-} == stop ]]; then
  rm -rf .stagefork
  echo "demo: nothing running"
  exit 0
fi
"$BUILD/stagefork" --help
cat <<'MSG'

demo: stagefork is built (build/stagefork). Once environments land, this demo
starts a local PostgreSQL and S3 server under ./.stagefork/, seeds a
"production" database, takes a masked snapshot, brings up two branch
environments from it, shows original vs masked rows, and reaps them.
MSG
