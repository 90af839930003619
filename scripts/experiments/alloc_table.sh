#!/usr/bin/env bash
# Step 4 table: every allocator at target bpw 2.25, 2.5 and 3.0 with levels
# 2/4 and 2/3/4 (group 128, GPTQ) on the benchmark model: perplexity on the
# three texts, KL divergence to the original on the Gutenberg book, zero-shot
# average, and the time of each stage.
#   scripts/experiments/alloc_table.sh [OUT_DIR]
# Environment: PPL_WINDOWS (windows per text, default 100), KLD_WINDOWS (100),
# TASK_LIMIT (items per task, default 300); 0 = everything. ALLOCATORS and
# TARGETS pick a subset; REFS=0 skips the FP and uniform reference rows;
# an existing OUT_DIR/diag.json is reused. "lieq" scores |TEG| (lieq's
# default), "lieq-signed" the signed TEG of METHOD.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
shared="${LIEQ_SHARED:-../shared}"
out="${1:-out/alloc_table}"
ppl_windows="${PPL_WINDOWS:-100}"
kld_windows="${KLD_WINDOWS:-100}"
task_limit="${TASK_LIMIT:-300}"
model="$(ls -d "$shared"/models/tinylm-* | head -n 1)"
calib="$shared/data/calibration/tiny.utf8"
texts=(tinystories/valid-excerpt.txt gutenberg/adventures-of-sherlock-holmes.txt wikitext-2-raw/wiki.test.raw)
tasks=(piqa.jsonl arc_easy.jsonl winogrande.jsonl hellaswag_val_full.txt)
mkdir -p "$out"
lieq="${LIEQ_BIN:-build/lieq}"
[ -x "$lieq" ] || scripts/build.sh
export LIEQ_QUIET=1
num() { sed -n "s/^ *\"$1\": \([0-9.e+-]*\).*/\1/p" | head -n 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

task_args=()
for t in "${tasks[@]}"; do task_args+=(--task "$shared/data/tasks/$t"); done

evaluate() {  # evaluate MODEL -> "| ppl1 | ppl2 | ppl3 | kld | zero-shot |"
  local m="$1" row=""
  for t in "${texts[@]}"; do
    row+=$(printf ' %.3f |' "$("$lieq" ppl "$m" --data "$shared/data/$t" --max-windows "$ppl_windows" --json | num ppl)")
  done
  row+=$(printf ' %.4f |' "$("$lieq" kld "$model" "$m" --data "$shared/data/${texts[1]}" --max-windows "$kld_windows" --json | num mean_kld)")
  row+=$(printf ' %.4f |' "$("$lieq" eval "$m" "${task_args[@]}" --limit "$task_limit" --json | num average_acc)")
  echo "$row"
}

allocators="${ALLOCATORS:-uniform positional lieq-signed lieq lim zd measured}"
targets="${TARGETS:-2.25 2.5 3.0}"
t_diag="(reused)"
if [ ! -f "$out/diag.json" ]; then
  t0=$(now)
  "$lieq" diagnose "$model" --calib "$calib" -o "$out/diag.json" > "$out/diag.txt"
  t_diag=$(secs "$t0" "$(now)")
fi
{
  echo "diagnose: ${t_diag}s ($(wc -l < "$out/diag.txt") lines in diag.txt)"
  printf '| target | levels | allocator | bits per layer | linear bpw | plan s | quantize s | eval s | tinystories | gutenberg | wikitext-2 | KLD gutenberg | zero-shot avg |\n'
  printf '|---|---|---|---|---|---|---|---|---|---|---|---|---|\n'
  [ "${REFS:-1}" = 0 ] || printf '| FP | - | - | 16 | 16 | - | - | - |%s\n' "$(evaluate "$model")"
  for ref in $([ "${REFS:-1}" = 0 ] || echo 2 3); do
    q="$out/uniform-int$ref"
    t0=$(now); "$lieq" quantize "$model" --method gptq --bits "$ref" --calib "$calib" -o "$q" --json > "$q.json"
    tq=$(secs "$t0" "$(now)"); t0=$(now); row=$(evaluate "$q"); te=$(secs "$t0" "$(now)")
    printf '| ref | %d | uniform GPTQ | all %d | %.4f | - | %.1f | %.1f |%s\n' "$ref" "$ref" "$(num linear_bpw < "$q.json")" "$tq" "$te" "$row"
  done
  declare -A seen=()
  for target in $targets; do
    for levels in 2,4 2,3,4; do
      for alloc in $allocators; do
        p="$out/plan-$target-${levels//,/}-$alloc.json"
        extra=()
        case "$alloc" in
          lieq) extra=(--score-teg abs) ;;
          lieq-signed) extra=(--score-teg signed) ;;
        esac
        t0=$(now)
        "$lieq" plan -d "$out/diag.json" --target-bpw "$target" --levels "$levels" --allocator "${alloc%-signed}" \
          "${extra[@]}" --measurements "$out/measurements.json" -o "$p" > /dev/null
        tp=$(secs "$t0" "$(now)")
        bits=$(sed -n 's/^ *"bits": \([0-9]*\).*/\1/p' "$p" | tr '\n' ' ' | sed 's/ $//')
        key="$bits"
        if [ -n "${seen[$key]:-}" ]; then
          printf '| %s | %s | %s | %s | %.4f | %.1f | (same as %s) | | | | | | |\n' "$target" "$levels" "$alloc" "$bits" "$(num linear_bpw < "$p")" "$tp" "${seen[$key]}"
          continue
        fi
        seen[$key]="$target/$levels/$alloc"
        q="$out/q-$target-${levels//,/}-$alloc"
        t0=$(now); "$lieq" quantize "$model" --plan "$p" --calib "$calib" -o "$q" --json > "$q.json"
        tq=$(secs "$t0" "$(now)"); t0=$(now); row=$(evaluate "$q"); te=$(secs "$t0" "$(now)")
        printf '| %s | %s | %s | %s | %.4f | %.1f | %.1f | %.1f |%s\n' "$target" "$levels" "$alloc" "$bits" "$(num linear_bpw < "$p")" "$tp" "$tq" "$te" "$row"
      done
    done
  done
} | tee "$out/alloc_table.md"
