#!/usr/bin/env bash
# The main job: build lieq, then evaluate the default model (the first
# ../shared/models/tinylm-*, or random-llama) on the evaluation texts and print
# the perplexities. Later steps add quantization to this job.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${LIEQ_SHARED:-../shared}"
scripts/build.sh
model=$(ls -d "$shared"/models/tinylm-* 2>/dev/null | head -n 1 || true)
[ -n "$model" ] || model="$shared/models/random-llama"
echo "model: $model" >&2
build/lieq inspect "$model"
for data in tinystories/valid-excerpt.txt gutenberg/adventures-of-sherlock-holmes.txt \
            wikitext-2-raw/wiki.test.raw; do
  printf '%-48s ' "$data"
  build/lieq ppl "$model" --data "$shared/data/$data" | tail -n 1
done
