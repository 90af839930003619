#!/usr/bin/env bash
# The equal-size table against llama.cpp's own i-quant and K-quant files.
#   bench/iquant_table.sh [MODEL]
# For each llama.cpp type T: llama-quantize --imatrix (imatrix from
# llama-imatrix on the calibration text) writes ref-T.gguf; lieq then writes
# files with --target-size equal to that file's size (GPTQ; LieQ and
# measured allocators, one type per layer and one per tensor group, levels
# IQ1_M ... Q6_K), from one `lieq diagnose` (the measured allocator's
# measurements are reused too). Every file
# is measured by llama-perplexity (perplexity on each eval text, KL
# divergence against the F32 file on the first), and the quantize times are
# recorded. Prints a Markdown table; files and logs stay in $WORK.
# Environment: LIEQ_BIN (build/lieq), LLAMA_BIN_DIR (llama.cpp build/bin),
# CALIB (calibration text), TEXTS (eval texts, space-separated), CTX (256),
# CHUNKS (llama-perplexity chunks, 0 = all), TYPES, ALLOCATORS (lieq measured),
# GRANULARITIES (layer group), SAMPLES x SEQLEN (lieq's calibration, 32 x 256),
# WORK (default /tmp/iquant_table), THREADS (nproc), PLAN_ARGS (more
# `lieq plan` flags, e.g. "--output-type measured"), TAG (appended to the lieq
# files' names, to keep rows of other PLAN_ARGS apart), REUSE_REF=1 (keep
# llama.cpp's files and lieq's RTN rows already in WORK: only the lieq GPTQ
# rows are made and measured).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/iquant_env.sh
lieq="$(realpath "${LIEQ_BIN:-build/lieq}")"
model="${1:-$shared/models/tinylm-llama-12m}"
calib="${CALIB:-$shared/data/calibration/tiny.utf8}"
texts="${TEXTS:-$shared/data/gutenberg/adventures-of-sherlock-holmes.txt $shared/data/tinystories/valid-excerpt.txt}"
types="${TYPES:-IQ1_M IQ2_XXS IQ2_XS IQ2_S IQ3_XXS IQ3_S Q2_K Q3_K_M Q4_K_M}"
allocators="${ALLOCATORS:-lieq measured}"
granularities="${GRANULARITIES:-layer group}"
samples="${SAMPLES:-32}"
seqlen="${SEQLEN:-256}"
levels="${LEVELS:-IQ1_M,IQ2_XXS,IQ2_XS,IQ2_S,IQ3_XXS,IQ3_S,Q3_K,Q4_K,Q5_K,Q6_K}"
read -r -a plan_args <<<"${PLAN_ARGS:-}"
tag="${TAG:-}"
reuse_ref="${REUSE_REF:-0}"
mkdir -p "$work"
[ -x "$llama/llama-quantize" ] || { echo "iquant_table: $llama/llama-quantize not found (LLAMA_BIN_DIR)" >&2; exit 1; }

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
ppl_of() { sed -n 's/.*Final estimate: PPL = *\([0-9.]*\) +\/- *\([0-9.]*\).*/\1 \2/p' "$1" | head -n 1; }
kld_of() { stat_of "$1" 'Mean *KLD'; }

f32="$work/f32.gguf"
[ -f "$f32" ] || LIEQ_QUIET=1 "$lieq" quantize "$model" --method rtn --bits 8 --gguf-types 8=F32 \
  --embed-type F32 --output-type F32 -o "$f32" >"$work/f32.log" 2>&1
imat="$work/imatrix.gguf"
[ -f "$imat" ] || "$llama/llama-imatrix" -m "$f32" -f "$calib" -c "$ctx" -t "$threads" -o "$imat" \
  >"$work/imatrix.log" 2>&1
first_text="${texts%% *}"
# (written under a temporary name: a killed run leaves no truncated base behind)
[ -f "$work/f32.kld" ] || { "$llama/llama-perplexity" -m "$f32" -f "$first_text" -c "$ctx" -t "$threads" \
  "${chunk_arg[@]}" --kl-divergence-base "$work/f32.kld.tmp" >"$work/f32-kldbase.log" 2>&1 &&
  mv "$work/f32.kld.tmp" "$work/f32.kld"; }

diag="$work/diagnostics.json"
[ -f "$diag" ] || LIEQ_QUIET=1 LIEQ_THREADS="$threads" "$lieq" diagnose "$model" --calib "$calib" -o "$diag" \
  >"$work/diagnose.log" 2>&1

measure() {  # file label seconds
  local f="$1" row="| $2 | $(stat -L -c %s "$1") | $3"
  for t in $texts; do
    "$llama/llama-perplexity" -m "$f" -f "$t" -c "$ctx" -t "$threads" "${chunk_arg[@]}" \
      >"$f.$(basename "$t").log" 2>&1 || true
    read -r p e < <(ppl_of "$f.$(basename "$t").log") || { p="failed:"; e="see $f.$(basename "$t").log"; }
    row="$row | $p ± $e"
  done
  "$llama/llama-perplexity" -m "$f" -t "$threads" "${chunk_arg[@]}" --kl-divergence-base "$work/f32.kld" \
    --kl-divergence >"$f.kld.log" 2>&1 || true
  read -r k ke < <(kld_of "$f.kld.log") || { k="failed:"; ke="see $f.kld.log"; }
  echo "$row | $k ± $ke |"
}

header="| file | bytes | quantize s"
for t in $texts; do header="$header | ppl $(basename "$t")"; done
echo "$header | KLD vs F32 |"
echo "|---|---|---$(for t in $texts; do printf '|---'; done)|---|"
[ "$reuse_ref" = 1 ] || measure "$f32" "F32" 0
for T in $types; do
  ref="$work/ref-$T.gguf"
  if [ "$reuse_ref" != 1 ] || [ ! -f "$ref" ]; then
    t0=$(now)
    "$llama/llama-quantize" --imatrix "$imat" "$f32" "$ref" "$T" "$threads" >"$ref.log" 2>&1
    measure "$ref" "llama.cpp $T" "$(since "$t0")"
    # lieq's RTN (llama.cpp's quantizer) weighted by the same imatrix file into
    # exactly ref's tensor types: byte equality with llama-quantize's file
    # (scripts/gguf_diff.py, in $work/bytes.txt) and the quantize time on the same file.
    out="$work/lieq-$T-rtn-imatrix.gguf"
    t0=$(now)
    if LIEQ_QUIET=1 LIEQ_THREADS="$threads" "$lieq" quantize "$model" --method rtn --imatrix "$imat" \
      --bits 4 --types-from "$ref" -o "$out" >"$out.log" 2>&1; then
      secs="$(since "$t0")"
      echo "$T: $(python3 scripts/gguf_diff.py "$ref" "$out" | tail -n 1)" >"$work/bytes-$T.txt"
      measure "$out" "lieq rtn, llama.cpp's imatrix and $T's types" "$secs"
    else
      echo "| lieq rtn, $T types | failed: $(tail -n 1 "$out.log") |"
    fi
  fi
  size=$(stat -c %s "$ref")
  for a in $allocators; do
    for g in $granularities; do
      out="$work/lieq-$T-$a-$g$tag.gguf"
      t0=$(now)
      { LIEQ_QUIET=1 LIEQ_THREADS="$threads" "$lieq" plan -d "$diag" --gguf --target-size "$size" \
          --allocator "$a" --granularity "$g" --levels "$levels" --samples "$samples" \
          --seqlen "$seqlen" "${plan_args[@]}" -o "$out.plan.json" &&
        LIEQ_QUIET=1 LIEQ_THREADS="$threads" "$lieq" quantize "$model" --method gptq --calib "$calib" \
          --samples "$samples" --seqlen "$seqlen" --plan "$out.plan.json" -o "$out"; } >"$out.log" 2>&1 ||
        { echo "| lieq $a $g at $T size | failed: $(tail -n 1 "$out.log") |"; continue; }
      measure "$out" "lieq gptq $a per $g$tag @ $T size" "$(since "$t0")"
    done
  done
done
echo
echo "Tensor bytes of lieq's RTN with llama.cpp's imatrix against llama-quantize's file:"
for T in $types; do cat "$work/bytes-$T.txt" 2>/dev/null || true; done
