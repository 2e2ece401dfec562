#!/bin/bash
# Runs the accuracy study cell by cell, in the study file's order (cheapest pairs first), so that each
# model/dataset pair gets every method and seed before the next pair starts; resumable like the study itself
# (rerun the same command; finished runs are skipped). After each cell, its best model (on validation) goes
# through the RTL-simulated accelerator (benchmarks/hardware_best.py; MLPs 10,000 test images, CNNs 1,000).
# The tuning runs of all cells go first.
#   bash benchmarks/run_accuracy_study.sh [STUDY.yaml] [JOBS]
# Environment: FPGABNN_WAIT_PID=N waits for process N (an earlier study) to end first.
#   FPGABNN_CELLS="lfc/mnist cnv28/fashion-mnist" runs just those cells, in that order, each with its own
#   tuning runs first (to get one pair's answer early).
set -uf  # -f: the cell patterns are not file globs
study=${1:-benchmarks/accuracy_study.yaml}
jobs=${2:-2}
if [ -n "${FPGABNN_WAIT_PID:-}" ]; then
  while kill -0 "$FPGABNN_WAIT_PID" 2>/dev/null; do sleep 60; done
fi
if [ -n "${FPGABNN_CELLS:-}" ]; then
  cells=$(for c in $FPGABNN_CELLS; do echo "$c/*"; done)
else
cells=$(python -c "
import sys
from fpgabnn.train.study import load_study
for c in load_study(sys.argv[1]).cells:
    print(f'{c.model}/{c.dataset}/*')
" "$study" | awk '!seen[$0]++') || exit 2
# The tuning runs of every cell first (short; their choices on validation can then be looked at early).
echo "$(date -u +%FT%TZ) tuning runs"
nice -n 19 python -m fpgabnn experiment "$study" --jobs "$jobs" --only '*tune*' --no-progress
fi
for pattern in $cells; do
  echo "$(date -u +%FT%TZ) cell $pattern"
  nice -n 19 python -m fpgabnn experiment "$study" --jobs "$jobs" --only "$pattern" --no-progress
  nice -n 19 python "$(dirname "$0")/hardware_best.py" "$study" --only "${pattern%/\*}"
done
echo "$(date -u +%FT%TZ) study done"
