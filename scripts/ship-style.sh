#!/usr/bin/env bash
# Ships a style that train produced: the model into models/ (float16 when its output on the evaluation photos
# stays within 1 level of the float32 model's, else float32), its loss log and curve beside it, and a sheet
# in docs/images/STYLE-sheet.jpg (the style image, then the 4 evaluation photos of styles/config.json over
# their stylisations, at full size).
#   scripts/ship-style.sh STYLE [MODEL]    MODEL: default checkpoints/STYLE.safetensors (what train wrote)
# Needs ../shared/assets (photos, style image) and a built dist/ (npm run build).
set -euo pipefail
cd "$(dirname "$0")/.."
style=${1:?usage: scripts/ship-style.sh STYLE [MODEL]}
model=${2:-checkpoints/$style.safetensors}
shared=../shared/assets
run_dir=$(dirname "$model")
base=${model%.safetensors}
[ -f "$model" ] || { echo "ship-style: no model $model (has the run reached its steps?)" >&2; exit 1; }
for f in "$base.log.jsonl" "$base.loss.svg"; do [ -f "$f" ] || { echo "ship-style: $f is missing" >&2; exit 1; }; done
image=$(node scripts/gpu/style-args.mjs image "$style") \
  || { echo "ship-style: no style '$style' in styles/config.json" >&2; exit 2; }
photos=$(node scripts/gpu/style-args.mjs get samplesFrom)

work=.data/ship-$style
# The float16 copy keeps the style's file name: stylize names its outputs after it.
rm -rf "$work" && mkdir -p "$work/f32" "$work/f16" "$work/model-f16"
node dist/cli.js convert "$model" --dtype f16 -o "$work/model-f16/$style.safetensors"
inputs=()
for p in $photos; do inputs+=("$shared/$p"); done
node dist/cli.js stylize --quiet -m "$model" --format png --out-dir "$work/f32" "${inputs[@]}"
node dist/cli.js stylize --quiet -m "$work/model-f16/$style.safetensors" --format png --out-dir "$work/f16" "${inputs[@]}"
chosen=$work/model-f16/$style.safetensors
for f in "$work"/f32/*.png; do
  node scripts/image-diff.mjs "$f" "$work/f16/$(basename "$f")" 1 || chosen=$model
done
[ "$chosen" = "$model" ] && echo "ship-style: float16 moves some output by more than 1 level: shipping float32"

mkdir -p models docs/images
cp "$chosen" "models/$style.safetensors"
cp "$base.log.jsonl" "models/$style.log.jsonl"
cp "$base.loss.svg" "models/$style.loss.svg"
sheet=("$shared/$image")
for p in $photos; do sheet+=("$shared/$p"); done
sheet+=(-)
for p in $photos; do sheet+=("$work/f32/$(basename "$p" .png)_$style.png"); done
node scripts/contact-sheet.mjs "docs/images/$style-sheet.jpg" 256 5 "${sheet[@]}"
echo "ship-style: models/$style.safetensors ($(du -h "models/$style.safetensors" | cut -f1)), its log and curve; docs/images/$style-sheet.jpg"
echo "ship-style: $run_dir/$style.* can go once this is committed (checkpoints/README.md)"
