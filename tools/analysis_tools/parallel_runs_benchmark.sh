#!/usr/bin/env bash
# One training run on all cores vs two copies at once, one thread each (docs/claim.md,
# "Budget"): whether small CPU runs should go in parallel processes (claim_seeds.py
# --jobs, downstream.workers). Run it with nothing else running.
#
#   bash tools/analysis_tools/parallel_runs_benchmark.sh [RUN_CONFIG] [REPEATS]
#
# RUN_CONFIG: a Runner config (default: Up-G's 1x det fine-tuning of the claim's design
# run, work_dirs/claim/seed0/downstream/det/up-g/finetune_10pct/run_config.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
CFG=${1:-work_dirs/claim/seed0/downstream/det/up-g/finetune_10pct/run_config.py}
REPEATS=${2:-2}
PY=${PY:-.venv/bin/python}
CORES=$(nproc)
[ -f "$CFG" ] || { echo "parallel_runs_benchmark: $CFG does not exist (run make claim-design, or pass a run_config.py)"; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "$(uptime)"
run() {  # threads work_dir
  OMP_NUM_THREADS=$1 MKL_NUM_THREADS=$1 $PY tools/train.py "$CFG" --work-dir "$2" > "$2.log" 2>&1 \
    || { echo "parallel_runs_benchmark: the run failed, see $2.log"; exit 1; }
}
for rep in $(seq "$REPEATS"); do
  s=$(date +%s%N); run "$CORES" "$OUT/a$rep"; e=$(date +%s%N)
  echo "one run, $CORES threads, alone: $(( (e - s) / 1000000 )) ms"
  s=$(date +%s%N); run 1 "$OUT/b$rep" & run 1 "$OUT/c$rep" & wait; e=$(date +%s%N)
  echo "two runs at once, 1 thread each, both done: $(( (e - s) / 1000000 )) ms"
done
