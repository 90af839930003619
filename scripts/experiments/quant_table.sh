#!/usr/bin/env bash
# Step 3 table: perplexity of FP, RTN and GPTQ at 2, 3 and 4 bits (group 128)
# on the in-domain texts and WikiText-2, with bpw and quantization wall time.
#   scripts/experiments/quant_table.sh [OUT_DIR]
# Writes OUT_DIR/quant_table.md (default out/quant_table).
set -euo pipefail
cd "$(dirname "$0")/../.."
shared="${LIEQ_SHARED:-../shared}"
out="${1:-out/quant_table}"
model="$(ls -d "$shared"/models/tinylm-* | head -n 1)"
calib="$shared/data/calibration/tiny.utf8"
texts=(tinystories/valid-excerpt.txt gutenberg/adventures-of-sherlock-holmes.txt wikitext-2-raw/wiki.test.raw)
mkdir -p "$out"
lieq="${LIEQ_BIN:-build/lieq}"
[ -x "$lieq" ] || scripts/build.sh
export LIEQ_QUIET=1
ppl() { "$lieq" ppl "$1" --data "$shared/data/$2" --json | sed -n 's/^ *"ppl": \([0-9.e+-]*\).*/\1/p'; }
field() { sed -n "s/^ *\"$2\": \([0-9.e+-]*\).*/\1/p" "$1" | head -n 1; }
{
  printf '| model | bits | linear bpw | file bpw | quantize s |'
  for t in "${texts[@]}"; do printf ' %s |' "$(basename "$t")"; done
  printf '\n|---|---|---|---|---|---|---|---|\n'
  printf '| FP (BF16) | 16 | 16 | 16 | - |'
  for t in "${texts[@]}"; do printf ' %.3f |' "$(ppl "$model" "$t")"; done
  printf '\n'
  for bits in 4 3 2; do
    for method in rtn gptq; do
      q="$out/$method-int$bits"
      rm -rf "$q"
      "$lieq" quantize "$model" --method "$method" --bits "$bits" --group-size 128 \
        --calib "$calib" --samples 128 --seqlen 2048 -o "$q" --json > "$q.report.json"
      printf '| %s | %d | %.4f | %.4f | %.1f |' "$method" "$bits" "$(field "$q.report.json" linear_bpw)" \
        "$(field "$q.report.json" file_bpw)" "$(field "$q.report.json" total_seconds)"
      for t in "${texts[@]}"; do printf ' %.3f |' "$(ppl "$q" "$t")"; done
      printf '\n'
    done
  done
} | tee "$out/quant_table.md"
