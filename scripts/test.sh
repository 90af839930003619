#!/usr/bin/env bash
# Builds lieq and runs the default test suite (everything not labelled slow).
# LIEQ_TEST_LABELS=slow runs the slow checks instead; LIEQ_BUILD_DIR picks the
# build directory; extra arguments go to cmake (e.g. -DLIEQ_SANITIZE=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh "$@"
cd "${LIEQ_BUILD_DIR:-build}"
if [ -n "${LIEQ_TEST_LABELS:-}" ]; then
  ctest --output-on-failure -j"$(nproc)" -L "$LIEQ_TEST_LABELS"
else
  ctest --output-on-failure -j"$(nproc)" -LE slow
fi
