#!/usr/bin/env bash
# Issue-3 acceptance checks on the real photos, CPU. Usage:
#   bash benchmarks/training_acceptance.sh [PHOTOS_HR] [VGG16_FILE] [WORKDIR]
# 1. a 300-iteration EDSR-baseline x2 run that must beat bicubic on validation,
#    killed with SIGKILL at a random moment and resumed (at most one checkpoint interval lost);
# 2. a 100-iteration SRGAN stage with the VGG16 file, exported and used by `sr-desktop upscale`;
# 3. bad datasets, each stopping with one message before training.
set -uo pipefail
cd "$(dirname "$0")/.."
PHOTOS=${1:-../shared/datasets/photos-hr}
VGG16=${2:-../shared/weights/vgg16-imagenet-features.ckpt}
WORK=${3:-$(mktemp -d)}
PY=.venv/bin/python
TRAIN=($PY -m training)
COMMON=(--arch edsr --scale 2 --n-resblocks 16 --n-feats 64 --batch 16 --patch 48 --lr 2e-4 --schedule constant
        --warmup 50 --ema 0.999 --val-every 100 --ckpt-every 25 --log-every 25 --quiet)
echo "work folder: $WORK"

echo "== 1. 300 iterations, SIGKILL at a random moment, resume"
"${TRAIN[@]}" "$PHOTOS" "${COMMON[@]}" --iters 300 --run-dir "$WORK/pre" --export "$WORK/pre.safetensors" &
pid=$!
sleep $(( 60 + RANDOM % 60 ))
last_logged=$($PY -c "import json,sys; ev=[json.loads(l) for l in open('$WORK/pre/events.jsonl')]; print(max(e['iteration'] for e in ev))")
kill -9 $pid; wait $pid 2>/dev/null
ckpt=$($PY -c "from training.checkpoint import load_checkpoint; print(load_checkpoint('$WORK/pre/checkpoint.pt')['iteration'])")
echo "killed (SIGKILL) at about iteration $last_logged; last checkpoint at $ckpt (interval 25)"
"${TRAIN[@]}" --resume "$WORK/pre" --quiet || exit 1
$PY - "$WORK/pre/events.jsonl" <<'PYEOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
starts = [e for e in ev if e["type"] == "start"]
print("resumed from iteration", starts[-1]["iteration"])
losses = [e["losses"]["l1"] for e in ev if e["type"] == "train"]
print(f"L1 loss: first 3 logs {[round(x, 4) for x in losses[:3]]}, last 3 {[round(x, 4) for x in losses[-3:]]}")
val = [e for e in ev if e["type"] == "val"][-1]
print(f"validation (6 photos, 384 px crops): {val['psnr']:.2f} dB vs bicubic {val['bicubic_psnr']:.2f} dB "
      f"at iteration {val['iteration']} -> {'beats' if val['psnr'] > val['bicubic_psnr'] else 'DOES NOT beat'} bicubic")
PYEOF

echo "== 2. 100-iteration SRGAN stage with the VGG16 file, then sr-desktop upscale"
"${TRAIN[@]}" "$PHOTOS" "${COMMON[@]}" --stage gan --init-from "$WORK/pre.safetensors" --vgg16-file "$VGG16" \
    --iters 100 --run-dir "$WORK/gan" --export "$WORK/gan.safetensors" || exit 1
$PY -c "
from sr_desktop.core.modelfile import load_model
c = load_model('$WORK/gan.safetensors').card
print('card:', c.get('perceptual_features'), '|', c.get('losses'))"
mkdir -p "$WORK/in"; cp "$PHOTOS/$(sed -n 1p "$PHOTOS/val.txt")"* "$WORK/in/" 2>/dev/null || cp "$(ls "$PHOTOS"/*.jpg | head -1)" "$WORK/in/"
.venv/bin/sr-desktop upscale "$WORK/in" -o "$WORK/out" --model "$WORK/gan.safetensors" && ls -la "$WORK/out"

echo "== 3. bad datasets"
mk() { $PY -c "
import numpy as np, sys
from PIL import Image
Image.fromarray(np.random.default_rng(0).integers(0, 255, (int(sys.argv[2]), int(sys.argv[3]), 3), dtype=np.uint8)).save(sys.argv[1])" "$@"; }
B=$WORK/bad; mkdir -p "$B"/empty "$B"/lronly/HR "$B"/lronly/LR "$B"/ratio/HR "$B"/ratio/LR "$B"/corrupt "$B"/two
for i in 1 2 3 4; do mk "$B/lronly/HR/a$i.png" 96 96; mk "$B/lronly/LR/a$i.png" 48 48; done; mk "$B/lronly/LR/orphan.png" 48 48
for i in 1 2 3 4; do mk "$B/ratio/HR/a$i.png" 98 98; mk "$B/ratio/LR/a$i.png" 28 28; done
for i in 1 2 3 4; do mk "$B/corrupt/p$i.png" 128 128; done; head -c 300 "$B/corrupt/p1.png" > "$B/corrupt/broken.png"
mk "$B/two/a.png" 128 128; mk "$B/two/b.png" 128 128
for d in empty lronly ratio corrupt two; do
    echo "-- $d:"; "${TRAIN[@]}" "$B/$d" --scale 2 --iters 5 --run-dir "$WORK/run-$d" --quiet; echo "   exit code $?"
done
