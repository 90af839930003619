#!/usr/bin/env bash
# Quantize time of lieq's RTN against llama-quantize on the same file, per
# type: llama-quantize --imatrix from the F32 GGUF, and lieq quantize
# --method rtn --imatrix (the same imatrix) --types-from that file from the
# Hugging Face checkpoint, REPS times each, alternating; prints the medians
# and their ratio (lieq / llama.cpp; below 1: lieq faster) and whether the
# tensor bytes are identical. Needs a bench/iquant_table.sh work directory
# (f32.gguf, imatrix.gguf).
#   bench/iquant_time.sh [MODEL]
# Environment: LIEQ_BIN, LLAMA_BIN_DIR, WORK (/tmp/iquant_table), TYPES, REPS (5), THREADS (nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/iquant_env.sh
lieq="$(realpath "${LIEQ_BIN:-build/lieq}")"
model="${1:-$shared/models/tinylm-llama-12m}"
types="${TYPES:-IQ1_S IQ1_M IQ2_XXS IQ2_XS IQ2_S IQ3_XXS IQ3_S}"
reps="${REPS:-5}"
for f in f32.gguf imatrix.gguf; do
  [ -f "$work/$f" ] || { echo "iquant_time: $work/$f not found (run bench/iquant_table.sh first)" >&2; exit 1; }
done
now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "| type | llama-quantize s (median of $reps) | lieq rtn s | ratio lieq/llama.cpp | tensor bytes |"
echo "|---|---|---|---|---|"
for T in $types; do
  ref="$work/time-ref-$T.gguf" out="$work/time-lieq-$T.gguf"
  : >"$work/time-$T.llama"; : >"$work/time-$T.lieq"
  for ((i = 0; i < reps; i++)); do
    t0=$(now)
    "$llama/llama-quantize" --imatrix "$work/imatrix.gguf" "$work/f32.gguf" "$ref" "$T" "$threads" >"$ref.log" 2>&1
    awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }' >>"$work/time-$T.llama"
    t0=$(now)
    LIEQ_QUIET=1 LIEQ_THREADS="$threads" "$lieq" quantize "$model" --method rtn --imatrix "$work/imatrix.gguf" \
      --bits 4 --types-from "$ref" -o "$out" >"$out.log" 2>&1
    awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }' >>"$work/time-$T.lieq"
  done
  a=$(median <"$work/time-$T.llama") b=$(median <"$work/time-$T.lieq")
  same=$(python3 scripts/gguf_diff.py "$ref" "$out" | tail -n 1)
  awk -v t="$T" -v a="$a" -v b="$b" -v s="$same" 'BEGIN { printf "| %s | %.2f | %.2f | %.2f | %s |\n", t, a, b, b / a, s }'
done
