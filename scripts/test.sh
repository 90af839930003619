#!/usr/bin/env bash
# Builds lieq and runs the default test suite (everything not labelled slow).
# LIEQ_TEST_LABELS=slow scripts/test.sh runs the slow checks instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
cd build
if [ -n "${LIEQ_TEST_LABELS:-}" ]; then
  ctest --output-on-failure -j"$(nproc)" -L "$LIEQ_TEST_LABELS"
else
  ctest --output-on-failure -j"$(nproc)" -LE slow
fi
