#!/usr/bin/env bash
# Perplexity throughput and peak memory of lieq on the benchmark model.
#   bench/ppl_bench.sh [MODEL] [DATA] [CTX]
# Prints tokens/s (window tokens processed per second) and peak RSS, from
# `lieq ppl --json`. The context is capped by the model (tinylm: 256).
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${LIEQ_SHARED:-../shared}"
model="${1:-$(ls -d "$shared"/models/tinylm-* | head -n 1)}"
data="${2:-$shared/data/gutenberg/adventures-of-sherlock-holmes.txt}"
ctx="${3:-512}"
[ -x build/lieq ] || scripts/build.sh
echo "model $model, data $data, requested ctx $ctx, threads ${LIEQ_THREADS:-$(nproc)}"
LIEQ_QUIET=1 build/lieq ppl "$model" --data "$data" --ctx "$ctx" --json | tee /tmp/lieq_ppl_bench.json |
  sed -n 's/^ *"\(ppl\|ctx\|windows\|tokens_per_second\|peak_rss_mb\|seconds\)": \(.*\),\?$/\1 \2/p'
