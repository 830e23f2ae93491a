#!/usr/bin/env bash
# install-deps.sh - installs the Debian 12 packages Bannin builds and tests with.
# Idempotent: does nothing (and needs no network) when everything is already there.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang
  libyaml-dev libpcre2-dev libzstd-dev zlib1g-dev
  libcmocka-dev
  libbpf-dev bpftool libsystemd-dev libssl-dev libuv1-dev libelf-dev
  libpcap-dev libsqlite3-dev sqlite3 libsodium-dev libcurl4-openssl-dev libjansson-dev
  libmicrohttpd-dev libyara-dev libnftables-dev
  libndpi-bin openssl iproute2 nftables time
  zstd gzip python3 python3-yaml curl
  sudo
)

# Multi-literal matcher: Intel Hyperscan on x86-64. Debian 12's Vectorscan 5.4.9 misses
# literal matches at the end of buffers longer than 64 bytes (tests/unit/engine/
# test_hs_sanity.c reproduces it); other architectures only have Vectorscan.
if [ "$(dpkg --print-architecture)" = amd64 ]; then
  PACKAGES+=(libhyperscan-dev)
else
  PACKAGES+=(libvectorscan-dev)
fi

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
# Hyperscan and Vectorscan conflict; a machine set up with the latter switches here.
if [[ " ${missing[*]} " == *" libhyperscan-dev "* ]] &&
   dpkg-query -W -f='${Status}' libvectorscan5 2>/dev/null | grep -q 'install ok installed'; then
  $SUDO apt-get remove -y -qq libvectorscan-dev libvectorscan5
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
