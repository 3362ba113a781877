#!/usr/bin/env bash
# Install exactly the Debian packages stagefork needs that are missing.
# Idempotent and silent when nothing is missing. Uses sudo when not root.
set -euo pipefail

pkgs=(
  build-essential pkg-config clang
  libcurl4-openssl-dev libpq-dev libyaml-dev libssl-dev libjansson-dev
  libarchive-dev libxml2-dev zlib1g-dev libzstd-dev libcriterion-dev
  postgresql-15 postgresql-client-15
  curl ca-certificates zstd procps
)
# the fuzz build wants clang's sanitizer runtime (packaged separately on Debian 12)
pkgs+=(libclang-rt-14-dev)

missing=()
for p in "${pkgs[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$st" == "install ok installed" ]] || missing+=("$p")
done
# node and npm run the S3 and REST test servers; any install that provides both will do.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >/dev/null
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
