#!/usr/bin/env bash
# The main job: build lieq, quantize the default model (the first
# ../shared/models/tinylm-*, or random-llama) to 2.5 bits per weight with
# LieQ's layer-wise allocation (levels 2/4, group 128, GPTQ), then print its
# perplexity next to the original's on the TinyStories excerpt, the Gutenberg
# book and WikiText-2 test. The quantized model lands in out/main/.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${LIEQ_SHARED:-../shared}"
scripts/build.sh
model=$(ls -d "$shared"/models/tinylm-* 2>/dev/null | head -n 1 || true)
[ -n "$model" ] || model="$shared/models/random-llama"
echo "model: $model" >&2
build/lieq inspect "$model"
mkdir -p out
build/lieq quantize "$model" --target-bpw "${LIEQ_TARGET_BPW:-2.5}" --levels 2,4 --allocator lieq \
  --calib "$shared/data/calibration/tiny.utf8" -o out/main \
  --eval-data "$shared/data/tinystories/valid-excerpt.txt" \
  --eval-data "$shared/data/gutenberg/adventures-of-sherlock-holmes.txt" \
  --eval-data "$shared/data/wikitext-2-raw/wiki.test.raw"
