#!/usr/bin/env bash
# GV-A backbones on one CUDA GPU: fp32 vs bf16 autocast, eager vs torch.compile.
#
# Runs tools/analysis_tools/benchmark_backbone.py in parts, each a process of its own
# under a time limit, and keeps every part's table (PART.log) and JSON (PART.json) in
# OUT_DIR, so a part that runs out of time does not lose the others. Default parts
# (about 7 minutes on one H200, most of it compiling):
#
#   eager_fp32, eager_bf16         MN-B4, MN-B15, Up-G CentralModel (two MN-B4 streams)
#                                  and ResNet-50: forward and training step, eager
#                                  (TINY=1: tiny MetaNets and ResNet-18)
#   compiled_mnb4_fp32, _bf16      MN-B4: eager vs torch.compile, forward and training
#
# Extra part (PARTS="... compiled_fwd_fp32 compiled_fwd_bf16"): MN-B15 and Up-G
# compiled forward.
#
# Usage:
#   bash tools/analysis_tools/gpu_benchmark.sh [OUT_DIR]
# Environment (defaults): DEVICE=cuda BATCH=64 SIZE=224 ROUNDS=5 ITERS=10 LIMIT=150
#   PARTS="eager_fp32 eager_bf16 compiled_mnb4_fp32 compiled_mnb4_bf16" PYTHON=python
#   TINY=1 swaps every backbone for a tiny one (a smoke test of this script on CPU).
set -u
OUT_DIR=${1:-work_dirs/gpu_benchmark}
DEVICE=${DEVICE:-cuda}
BATCH=${BATCH:-64}
SIZE=${SIZE:-224}
ROUNDS=${ROUNDS:-5}
ITERS=${ITERS:-10}
LIMIT=${LIMIT:-150}
PYTHON=${PYTHON:-python}
PARTS=${PARTS:-eager_fp32 eager_bf16 compiled_mnb4_fp32 compiled_mnb4_bf16}
mkdir -p "$OUT_DIR"

if [ "${TINY:-0}" = 1 ]; then
    B4=tiny; B15="dict(repeats=[1, 1, 1, 1, 1, 1], expansion=[1, 4, 6, 3, 2, 5], channels=[16, 24, 32, 48, 48, 64], mtb_type=15, head_dim=16, stem_dim=16)"
    R50=18
else
    B4=mn-b4; B15=mn-b15; R50=50
fi
MNB4="mn-b4=dict(type='intern_mm.MetaNet', arch='$B4', out_indices=(3,))"
MNB15="mn-b15=dict(type='intern_mm.MetaNet', arch=${B15/#mn-b15/\'mn-b15\'}, out_indices=(3,))"
UPG="up-g=dict(type='intern_mm.CentralModel', main=dict(type='MetaNet', arch='$B4'), aux=dict(type='MetaNet', arch='$B4'), out_indices=(3,))"
RES="resnet$R50=dict(type='mmpretrain.ResNet', depth=$R50, out_indices=(3,))"

status=0
run_part() {
    local part=$1
    shift
    echo "=== $part ($(date -u +%H:%M:%S), limit ${LIMIT}s)"
    timeout "$LIMIT" "$PYTHON" tools/analysis_tools/benchmark_backbone.py --device "$DEVICE" \
        --batch-size "$BATCH" --input-size "$SIZE" --rounds "$ROUNDS" --iters "$ITERS" \
        --out "$OUT_DIR/$part.json" "$@" > "$OUT_DIR/$part.log" 2>&1
    local rc=$?
    grep -E '^(\||input|before|after)' "$OUT_DIR/$part.log"
    if [ $rc -ne 0 ]; then
        echo "$part: exit status $rc (124: over ${LIMIT}s); last lines of $OUT_DIR/$part.log:"
        tail -n 5 "$OUT_DIR/$part.log"
        status=1
    fi
}

BF16=(--amp --amp-dtype bfloat16)
for part in $PARTS; do
    case $part in
        eager_fp32) run_part "$part" --backbone "$MNB4" --backbone "$MNB15" --backbone "$UPG" \
            --backbone "$RES" --variants eager ;;
        eager_bf16) run_part "$part" "${BF16[@]}" --backbone "$MNB4" --backbone "$MNB15" \
            --backbone "$UPG" --backbone "$RES" --variants eager ;;
        compiled_mnb4_fp32) run_part "$part" --backbone "$MNB4" --variants eager compiled ;;
        compiled_mnb4_bf16) run_part "$part" "${BF16[@]}" --backbone "$MNB4" \
            --variants eager compiled ;;
        compiled_fwd_fp32) run_part "$part" --no-train --backbone "$MNB15" --backbone "$UPG" \
            --variants eager compiled ;;
        compiled_fwd_bf16) run_part "$part" --no-train "${BF16[@]}" --backbone "$MNB15" \
            --backbone "$UPG" --variants eager compiled ;;
        *) echo "unknown part $part"; status=1 ;;
    esac
done
exit $status
