#!/usr/bin/env bash
# The pipeline's stages timed with two lieq binaries in one run, alternating,
# on the same model and inputs: a "before" build (e.g. an older commit built
# in /tmp) and an "after" one (default build/lieq).
#   bench/before_after.sh BEFORE_LIEQ [AFTER_LIEQ] [MODEL]
# Environment: LIEQ_SHARED (default ../shared), REPEATS (default 2: the best
# of N runs is kept), PPL_WINDOWS (default 64), EVAL_LIMIT (default 300),
# DIAG_SAMPLES (default 32), QUANT_SAMPLES (default 64).
# Stages: ppl (gutenberg, ctx 256: tokens/s), eval (PIQA + ARC-Easy: items/s),
# diagnose (seconds), GPTQ quantize at 4 bits (seconds); each with its peak
# RSS (GNU time). Prints one table: before, after, after/before (for times,
# before/after, so > 1 is always "after is better").
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${LIEQ_SHARED:-../shared}"
before="${1:?usage: $0 BEFORE_LIEQ [AFTER_LIEQ] [MODEL]}"
after="${2:-build/lieq}"
model="${3:-$(ls -d "$shared"/models/tinylm-* | head -n 1)}"
repeats="${REPEATS:-2}"
text="$shared/data/gutenberg/adventures-of-sherlock-holmes.txt"
calib="$shared/data/calibration/wiki.utf8"
for b in "$before" "$after"; do [ -x "$b" ] || { echo "before_after: $b not found" >&2; exit 1; }; done
[ -x /usr/bin/time ] || { echo "before_after: needs GNU time (/usr/bin/time)" >&2; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/before_after.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# run NAME BIN ARGS...: runs BIN ARGS, stdout to $work/NAME.out; prints "seconds peak_mb".
run() {
  local name="$1"; shift
  LIEQ_QUIET=1 /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" ||
    { echo "before_after: failed: $*" >&2; tail -n 5 "$work/$name.err" >&2; exit 1; }
  awk '{ printf "%s %.1f\n", $1, $2 / 1024 }' "$work/$name.time"
}

# stage KIND BIN: prints "value peak_mb" (value: tokens/s, items/s or seconds).
stage() {
  local kind="$1" bin="$2" tag="$3"
  case "$kind" in
    ppl)
      read -r _ peak < <(run "ppl$tag" "$bin" ppl "$model" --data "$text" --ctx 256 \
        --max-windows "${PPL_WINDOWS:-64}" --json)
      echo "$(jq -r .tokens_per_second "$work/ppl$tag.out") $peak $(jq -r .ppl "$work/ppl$tag.out")" ;;
    eval)
      read -r _ peak < <(run "eval$tag" "$bin" eval "$model" --task "$shared/data/tasks/piqa.jsonl" \
        --task "$shared/data/tasks/arc_easy.jsonl" --limit "${EVAL_LIMIT:-300}" --json)
      local n secs
      n=$(jq '[.tasks[].n] | add' "$work/eval$tag.out")
      secs=$(jq '[.tasks[].seconds] | add' "$work/eval$tag.out")
      echo "$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.2f", n / s }') $peak $(jq -r .average_acc "$work/eval$tag.out")" ;;
    diagnose)
      read -r secs peak < <(run "diag$tag" "$bin" diagnose "$model" --calib "$calib" \
        --samples "${DIAG_SAMPLES:-32}" --seqlen 256 -o "$work/diag$tag.json")
      echo "$secs $peak -" ;;
    quantize)
      rm -rf "$work/q$tag"
      read -r secs peak < <(run "quant$tag" "$bin" quantize "$model" --method gptq --bits 4 \
        --calib "$calib" --samples "${QUANT_SAMPLES:-64}" --seqlen 256 -o "$work/q$tag")
      echo "$secs $peak -" ;;
  esac
}

# best KIND VALUES...: the best of repeated measurements (max rate, min seconds).
best() {
  local kind="$1"; shift
  if [ "$kind" = ppl ] || [ "$kind" = eval ]; then printf '%s\n' "$@" | sort -g | tail -n 1
  else printf '%s\n' "$@" | sort -g | head -n 1; fi
}

echo "model $model; before $before; after $after; best of $repeats, alternating"
printf '%-10s %-12s %12s %12s %9s %14s %14s %10s\n' stage unit before after ratio \
  "before RSS MB" "after RSS MB" check
for kind in ppl eval diagnose quantize; do
  vb=() va=() pb=0 pa=0 cb="" ca=""
  for ((i = 0; i < repeats; i++)); do
    read -r v p c < <(stage "$kind" "$before" b); vb+=("$v"); pb="$p"; cb="$c"
    read -r v p c < <(stage "$kind" "$after" a); va+=("$v"); pa="$p"; ca="$c"
  done
  b=$(best "$kind" "${vb[@]}") a=$(best "$kind" "${va[@]}")
  case "$kind" in
    ppl) unit="tokens/s"; ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }') ;;
    eval) unit="items/s"; ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }') ;;
    *) unit="seconds"; ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }') ;;
  esac
  check="$cb/$ca"
  [ "$cb" = "-" ] && check="-"
  printf '%-10s %-12s %12.2f %12.2f %8sx %14s %14s %s\n' "$kind" "$unit" "$b" "$a" "$ratio" \
    "$pb" "$pa" "$check"
done
echo "check: ppl values (before/after) for ppl, average accuracy for eval: they must agree"
