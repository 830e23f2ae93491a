#!/usr/bin/env bash
# install-deps.sh - installs the Debian 12 packages Bannin builds and tests with.
# Idempotent: does nothing (and needs no network) when everything is already there.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang
  libyaml-dev libpcre2-dev libvectorscan-dev libzstd-dev zlib1g-dev
  libcmocka-dev
  zstd gzip python3
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
