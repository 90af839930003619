#!/usr/bin/env bash
# Paired measurements of GGUF files against the F32 file on one more text:
#   bench/iquant_paired.sh TEXT FILE.gguf...
# llama-perplexity --kl-divergence-base on $WORK/f32.gguf (as bench/iquant_table.sh
# made it) for TEXT, then --kl-divergence for each file: its paired excess
# perplexity over F32 (Mean PPL(Q)-PPL(base), with its standard error) and the
# mean KL divergence. Prints a Markdown table; logs stay next to the files.
# Environment: LLAMA_BIN_DIR, WORK (/tmp/iquant_table), CTX (256), CHUNKS (0 = all), THREADS.
set -euo pipefail
text="$1"
shift
source "$(dirname "$0")/iquant_env.sh"
name="$(basename "$text")"
base="$work/f32.$name.kld"
[ -f "$base" ] || { "$llama/llama-perplexity" -m "$work/f32.gguf" -f "$text" -c "$ctx" -t "$threads" \
  "${chunk_arg[@]}" --kl-divergence-base "$base.tmp" >"$base.log" 2>&1 && mv "$base.tmp" "$base"; }
pm() { read -r v e <<<"$(stat_of "$1" "$2")" && echo "$v ± $e"; }
echo "| file | bytes | excess ppl on $name (paired) | KLD on $name |"
echo "|---|---|---|---|"
for f in "$@"; do
  log="$f.$name.kld.log"
  "$llama/llama-perplexity" -m "$f" -t "$threads" "${chunk_arg[@]}" --kl-divergence-base "$base" \
    --kl-divergence >"$log" 2>&1 || true
  echo "| $(basename "$f") | $(stat -L -c %s "$f") | $(pm "$log" 'Mean PPL(Q)-PPL(base)') | $(pm "$log" 'Mean *KLD') |"
done
