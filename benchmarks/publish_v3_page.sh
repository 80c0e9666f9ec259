#!/usr/bin/env bash
# The leaderboard v3 page (issue #29), once benchmarks/publish_v3.sh has finished every
# chunk: the wall-time step costs measured on one quiet machine (grokbench calibrate), then
# the reproductions page and the leaderboard page regenerated from the committed records.
# Run from the repository root, on a quiet machine (nothing else running):
#
#     benchmarks/publish_v3_page.sh
#
# Calibration is skipped for a folder that already has its calibration.json (CALIBRATE=1
# measures again).
set -euo pipefail
export OMP_NUM_THREADS=1
OUT=leaderboard/v3
for folder in $OUT/tuned $OUT/untuned; do
  if [[ ! -f $folder/calibration.json || ${CALIBRATE:-0} == 1 ]]; then grokbench calibrate "$folder"; fi
done
grokbench reproduce all --page-only --out $OUT/reproductions --page leaderboard/REPRODUCTIONS.md
grokbench leaderboard $OUT/tuned --defaults $OUT/untuned -o leaderboard  # with $OUT/tuned/NOTES.md
du -sh leaderboard
