#!/usr/bin/env bash
# Trains (or resumes) a shipped style on this machine's software GPU, in the background-friendly way:
# niced, checkpoints every 25 steps into checkpoints/ (tracked, so the next session resumes the same run).
#   scripts/train-on-cpu.sh STYLE [ITERS]     e.g. scripts/train-on-cpu.sh starry_night 1200
#   INIT=models/starry_night.safetensors scripts/train-on-cpu.sh the_scream 400   (a new run starts from a
#   trained net of ours instead of random weights, with a 100-step learning-rate warm-up, WARMUP=N to change
#   it; ignored when resuming)
#   OUT=checkpoints/NAME.safetensors overrides the run's file name (an experiment beside the real run);
#   CROP_SCALE=shorter-side trains on whole photos shrunk to the crop (the runs before random scale).
#   LR=5e-4 sets Adam's step, SW=0.05 the style weight (defaults: the style's in styles/config.json).
#   STABILITY=W adds train's stability term with weight W (a fine-tune against flicker, with INIT and OUT:
#   INIT=models/starry_night.safetensors OUT=checkpoints/starry_night-stable.safetensors STABILITY=30 \
#   scripts/train-on-cpu.sh starry_night 200; scripts/stability-table.sh compares the nets).
# The recipe is ../shared/assets/README.md's measured one (128 px crops, batch 4, Adam 5e-4 = half its 1e-3, which grows droplets: docs/DROPLETS.md, style 256 px,
# cw 1, sw from styles/config.json, tvw 1, random rescale + crop + flip; float16 checkpoints) on bsds500 train+test (400 photos; val held out), linked into
# .data/ (git-ignored) so that the data list is the same on every machine. Once ITERS is reached the model
# is written to checkpoints/STYLE.safetensors; scripts/ship-style.sh moves it into models/.
set -euo pipefail
cd "$(dirname "$0")/.."
style=${1:?usage: scripts/train-on-cpu.sh STYLE [ITERS]}
iters=${2:-1200}
shared=../shared/assets
data=.data/bsds500-train-test
if [ ! -d "$data" ]; then
  mkdir -p "$data"
  for f in "$shared"/photos/bsds500/train/*.jpg "$shared"/photos/bsds500/test/*.jpg; do
    ln -s "$(realpath "$f")" "$data/$(basename "$(dirname "$f")")-$(basename "$f")"
  done
fi
image=$(node scripts/gpu/style-args.mjs image "$style") \
  || { echo "train-on-cpu: no style '$style' in styles/config.json" >&2; exit 2; }
sw=${SW:-$(node scripts/gpu/style-args.mjs setting "$style" styleWeight)}
lr=${LR:-$(node scripts/gpu/style-args.mjs setting "$style" lr)}
out=${OUT:-checkpoints/$style.safetensors}
start=(--save-dtype f16)
if [ -f "${out%.safetensors}.ckpt.safetensors" ]; then
  start+=(--resume)
else
  start+=(--crop-scale "${CROP_SCALE:-random}")
  [ -n "${INIT:-}" ] && start+=(--init "$INIT" --warmup "${WARMUP:-100}")
  [ -n "${STABILITY:-}" ] && start+=(--stability-weight "$STABILITY")
fi
# The code that trains is a copy of dist/, so that rebuilding the working tree does not change a running job.
rm -rf .data/dist && cp -r dist .data/dist
exec nice -n 19 node .data/dist/cli.js train --style "$shared/$image" --data "$data" --out "$out" \
  --size 128 --batch 4 --lr "$lr" --style-size 256 --style-weight "$sw" --content-weight 1 --tv-weight 1 \
  --iters "$iters" --checkpoint-every 25 --sample "$shared/photos/kodak24/kodim23.png" "${start[@]}"
