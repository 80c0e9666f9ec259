#!/usr/bin/env bash
# The leaderboard v3 publish (issue #29), chunk by chunk, in the order of docs/leaderboard.md
# ("Compute plan for v3"). Every command is resumable: run this script again and each chunk
# trains only what its folder lacks (a finished chunk returns at once). Each finished folder
# is packed (grokbench pack: one xz file of its records). Run from the repository root:
#
#     nohup nice -n 10 benchmarks/publish_v3.sh > publish_v3.log 2>&1 &
#
# PHASES (default "tune tuned reproduce defaults") picks phases; TASKS overrides the task
# order; each task is tuned, then reported at its tuned configurations, before the next;
# then every paper claim re-run under the stricter rule (its page goes to
# leaderboard/v3/REPRODUCTIONS.md until the v3 page is published), then the defaults runs.
set -euo pipefail
export OMP_NUM_THREADS=1
OUT=leaderboard/v3
# every single method; NeuralGrok at its paper text's amplifier (hidden 32): the code's
# 128 x 128 amplifier costs 150-500x an SGD step on a CPU (docs/leaderboard.md)
METHODS=adam,adamw,egd,grokfast,grokfast_ma,lion,muon,neuralgrok:paper_text,normgrad,perpgrad,sgd,sketched_egd,wnclip
TASKS=${TASKS:-"sparse_parity sparse_sum modular_addition:cpu_add sparse_parity:k5 power_ops:cpu_div"}
PHASES=${PHASES:-"tune tuned reproduce defaults"}
EXECUTOR=${EXECUTOR:-process:2}

slug() { echo "${1//:/_}"; }
say() { echo "== $(date -u +%FT%TZ) $*"; }

tune() {
  local tuning=$OUT/tuning/$(slug "$1")
  say "tune $1"
  grokbench tune --tasks "$1" --methods $METHODS --trials auto --tune-seeds 1000-1004 \
    --out "$tuning" --executor "$EXECUTOR" --quiet
  grokbench pack "$tuning"
}

tuned_run() {  # the report seeds at the tuned configurations, with each accelerator's two controls
  say "tuned run + controls $1"
  grokbench run --tasks "$1" --methods $METHODS --tuned "$OUT/tuning/$(slug "$1")" --seeds auto \
    --out $OUT/tuned --executor "$EXECUTOR" --no-calibrate --quiet
  grokbench pack $OUT/tuned
}

defaults_run() {
  say "defaults run $1"
  grokbench run --tasks "$1" --methods $METHODS --seeds auto \
    --out $OUT/untuned --executor "$EXECUTOR" --no-calibrate --quiet
  grokbench pack $OUT/untuned
}

reproductions() {
  say "reproduce all"
  grokbench reproduce all --out $OUT/reproductions --page $OUT/REPRODUCTIONS.md --executor "$EXECUTOR" --quiet
  for folder in $OUT/reproductions/*/*/; do grokbench pack "$folder"; done
}

# each task tuned and reported before the next; the reproductions, then the defaults runs
for phase in $PHASES; do
  case $phase in
    tune|tuned|defaults|reproduce) ;;
    *) echo "unknown phase $phase (tune, tuned, defaults, reproduce)" >&2; exit 2 ;;
  esac
done
for task in $TASKS; do
  [[ " $PHASES " == *" tune "* ]] && tune "$task"
  [[ " $PHASES " == *" tuned "* ]] && tuned_run "$task"
done
[[ " $PHASES " == *" reproduce "* ]] && reproductions
if [[ " $PHASES " == *" defaults "* ]]; then
  for task in $TASKS; do defaults_run "$task"; done
fi
say "done: $PHASES"
