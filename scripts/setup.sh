#!/usr/bin/env bash
# Installs the Debian packages lieq builds with. Non-interactive and idempotent:
# it only calls apt-get when a package is missing.
set -euo pipefail
packages=(build-essential cmake pkg-config libopenblas-dev liblapacke-dev nlohmann-json3-dev
  libcli11-dev libpcre2-dev libgtest-dev libbenchmark-dev
  jq time  # jq, time: the bench scripts
  python3)  # python3: scripts/gen_unicode_tables.py (tests/tokenizer/unicode_tables_test.cpp)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
