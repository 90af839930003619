#!/usr/bin/env bash
# Configures and builds lieq (Release) in $LIEQ_BUILD_DIR (default build/).
# Extra arguments go to cmake, e.g. -DLIEQ_SANITIZE=ON; LIEQ_WERROR=ON makes
# warnings errors (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${LIEQ_BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLIEQ_WERROR="${LIEQ_WERROR:-OFF}" "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
