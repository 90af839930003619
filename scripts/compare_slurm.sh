#!/usr/bin/env bash
# lieq compare as a Slurm job array: task I of N runs `lieq compare ... --shard I/N`
# into one directory on the cluster's shared file system, and a job that
# depends on the whole array (afterok) runs `lieq compare --merge` there,
# writing OUT/results.json, results.md and report.html as one unsharded run would.
#
# Set the paths below (or pass them in the environment), then, on the login node:
#   scripts/compare_slurm.sh submit          # sbatch the array of SHARDS tasks and the merge job
# which runs, in effect:
#   sbatch --array=0-$((SHARDS - 1)) scripts/compare_slurm.sh
#   sbatch --dependency=afterok:<array job id> scripts/compare_slurm.sh merge
# Other modes (no Slurm needed):
#   scripts/compare_slurm.sh shard I N       # shard I of N here (what each array task runs)
#   scripts/compare_slurm.sh merge           # join the shards in OUT
# Submitting the array by hand: SHARDS=N sbatch --array=0-<N-1> scripts/compare_slurm.sh
# A failed task can be resubmitted alone (sbatch --array=I ...): finished rows are reused.
#
#SBATCH --job-name=lieq-compare
#SBATCH --cpus-per-task=16
#SBATCH --mem=32G
#SBATCH --time=24:00:00
#SBATCH --output=lieq-compare-%A_%a.out
set -euo pipefail

# ---- paths and the sweep: edit these -------------------------------------------
LIEQ=${LIEQ:-$HOME/lieq/build/lieq}                  # the lieq binary
MODEL=${MODEL:-$HOME/models/Llama-3.2-1B}            # Hugging Face model directory
CALIB=${CALIB:-$HOME/data/calib.txt}                 # calibration text
OUT=${OUT:-$HOME/runs/compare-llama-3.2-1b}          # shared by every task (shared file system)
SHARDS=${SHARDS:-4}                                  # N, the number of shards (the array: 0-N-1)
# Everything else compare takes (evaluation data, targets, methods, allocators, ...).
COMPARE_ARGS=${COMPARE_ARGS:-"--data $HOME/data/wikitext2-test.txt --target-bpw 2.5,3,4.25 \
--methods rtn,gptq,awq --allocators uniform,lieq,measured"}
# ---------------------------------------------------------------------------------

script=$(realpath "${BASH_SOURCE[0]}")
threads=${SLURM_CPUS_PER_TASK:-$(nproc)}

run_shard() {  # I N
  mkdir -p "$OUT"
  # shellcheck disable=SC2086  # COMPARE_ARGS is a list of flags
  LIEQ_THREADS=$threads "$LIEQ" compare "$MODEL" --calib "$CALIB" $COMPARE_ARGS \
    --shard "$1/$2" -o "$OUT"
}

run_merge() {
  LIEQ_THREADS=$threads "$LIEQ" compare --merge "$OUT" -o "$OUT"
}

mode=${1:-}
case "$mode" in
  submit)
    command -v sbatch > /dev/null || { echo "compare_slurm.sh: sbatch not found" >&2; exit 1; }
    # Slurm may run the batch script from a spool copy: tasks call the original by path.
    array=$(sbatch --parsable --export=ALL,SHARDS="$SHARDS" --array=0-$((SHARDS - 1)) "$script" array)
    array=${array%%;*}  # "jobid;cluster" on federated clusters
    merge=$(sbatch --parsable --dependency=afterok:"$array" --job-name=lieq-compare-merge \
      --output=lieq-compare-merge-%j.out "$script" merge)
    echo "submitted array job $array ($SHARDS shards) and merge job ${merge%%;*} -> $OUT"
    ;;
  shard)
    [[ $# -eq 3 ]] || { echo "usage: compare_slurm.sh shard I N" >&2; exit 2; }
    run_shard "$2" "$3"
    ;;
  merge)
    run_merge
    ;;
  array | "")
    [[ -n ${SLURM_ARRAY_TASK_ID:-} ]] ||
      { echo "compare_slurm.sh: not a Slurm array task; run 'compare_slurm.sh submit'" >&2; exit 2; }
    [[ ${SLURM_ARRAY_TASK_MAX:-$SLURM_ARRAY_TASK_ID} -lt $SHARDS ]] || {
      echo "compare_slurm.sh: the array reaches task ${SLURM_ARRAY_TASK_MAX:-} but SHARDS=$SHARDS;" \
        "submit with SHARDS=N sbatch --array=0-<N-1>" >&2
      exit 2
    }
    run_shard "$SLURM_ARRAY_TASK_ID" "$SHARDS"
    ;;
  *)
    echo "usage: compare_slurm.sh [submit | shard I N | merge]" >&2
    exit 2
    ;;
esac
