#!/usr/bin/env bash
# Perplexity throughput of lieq against llama.cpp's llama-perplexity on the
# same model, text, context, chunk count and thread count, measured in one run.
#   bench/llama_compare.sh [MODEL] [N_CHUNKS]
# Environment: LIEQ_BIN (default build/lieq), LLAMA_BIN_DIR (default
# /tmp/llama.cpp/build/bin), DATA (default the Gutenberg book), CTX (256),
# THREADS (nproc), TYPES ("F32 BF16"), WORK (a temp dir, removed at exit).
# Builds nothing. The model is exported to GGUF by `lieq quantize --gguf-types`
# (F32 and BF16 copies); both programs read the same GGUF file with
# llama-perplexity's protocol (`lieq ppl --protocol llamacpp`), so their
# perplexities should agree to the printed digits. Tokens/s count every window
# token processed (chunks x ctx) over the evaluation time of each program
# (lieq: its `seconds`; llama.cpp: its prompt-eval time); load time excluded.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${LIEQ_SHARED:-../shared}"
lieq="${LIEQ_BIN:-build/lieq}"
llama_dir="${LLAMA_BIN_DIR:-/tmp/llama.cpp/build/bin}"
model="${1:-$(ls -d "$shared"/models/tinylm-* | head -n 1)}"
chunks="${2:-16}"
data="${DATA:-$shared/data/gutenberg/adventures-of-sherlock-holmes.txt}"
ctx="${CTX:-256}"
threads="${THREADS:-$(nproc)}"
types="${TYPES:-F32 BF16}"

[ -x "$lieq" ] || { echo "llama_compare: $lieq not found (set LIEQ_BIN or build first)" >&2; exit 1; }
if [ ! -x "$llama_dir/llama-perplexity" ]; then
  echo "llama_compare: skipped: $llama_dir/llama-perplexity not found (set LLAMA_BIN_DIR)"
  exit 0
fi

work="${WORK:-$(mktemp -d /tmp/llama_compare.XXXXXX)}"
mkdir -p "$work"
[ -n "${WORK:-}" ] || trap 'rm -rf "$work"' EXIT
echo "model $model, data $(basename "$data"), ctx $ctx, chunks $chunks, threads $threads"
echo "lieq $lieq (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset: lieq picks SkylakeX on AVX-512}), llama.cpp $llama_dir"

# tokens/s of llama-perplexity from its log: "prompt eval time = X ms / N tokens"
llama_tps() {
  sed -n 's/.*prompt eval time = *\([0-9.]*\) ms \/ *\([0-9]*\) tokens.*/\1 \2/p' "$1" |
    awk 'NR==1 { printf "%.1f", $2 / ($1 / 1000) }'
}
llama_ppl() { sed -n 's/.*Final estimate: PPL = *\([0-9.]*\).*/\1/p' "$1" | head -n 1; }
json_field() { sed -n "s/^ *\"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$1" | head -n 1; }

printf '%-6s %12s %12s %8s %12s %12s\n' type lieq_tok/s llama_tok/s ratio lieq_ppl llama_ppl
for t in $types; do
  gguf="$work/model-$t.gguf"
  if [ ! -f "$gguf" ]; then
    LIEQ_QUIET=1 "$lieq" quantize "$model" --method rtn --bits 8 --gguf-types "8=$t" \
      --output-type "$t" -o "$gguf" >"$work/export-$t.log" 2>&1 ||
      { echo "export to $t failed:"; tail -n 5 "$work/export-$t.log"; exit 1; }
  fi
  LIEQ_QUIET=1 LIEQ_THREADS="$threads" "$lieq" ppl "$gguf" -f "$data" --protocol llamacpp \
    --ctx "$ctx" --max-windows "$chunks" --json >"$work/lieq-$t.json"
  "$llama_dir/llama-perplexity" -m "$gguf" -f "$data" -c "$ctx" -t "$threads" \
    --chunks "$chunks" >"$work/llama-$t.log" 2>&1 ||
    { echo "llama-perplexity failed on $t:"; tail -n 5 "$work/llama-$t.log"; continue; }
  lt=$(json_field "$work/lieq-$t.json" tokens_per_second)
  lp=$(json_field "$work/lieq-$t.json" ppl)
  rt=$(llama_tps "$work/llama-$t.log")
  rp=$(llama_ppl "$work/llama-$t.log")
  ratio=$(awk -v a="$lt" -v b="$rt" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
  printf '%-6s %12.1f %12s %8s %12.4f %12s\n' "$t" "$lt" "${rt:-?}" "$ratio" "$lp" "${rp:-?}"
done
echo "ratio = lieq tokens/s / llama.cpp tokens/s (> 1: lieq faster)"
