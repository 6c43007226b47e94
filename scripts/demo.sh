#!/usr/bin/env bash
# The main job on a fresh machine, in one command: sets up (software GPU where there is no GPU), builds, and
# stylises Kodak photos from ../shared/assets with every style shipped in models/ (and makes a contact sheet,
# OUT_DIR/contact-sheet.jpg: each photo, then its stylisations).
# While models/ holds no style of our own, it imports the nine pretrained ml5.js nets of
# ../shared/assets/stylenets/ml5-lengstrom into .models-ml5/ (git-ignored: another project's weights, MIT,
# training code research use), where `stylize --style NAME` finds them too, stylises the photos with each and
# makes a contact sheet (OUT_DIR/ml5-contact-sheet.jpg). Without those either, it shows the slow original
# method: Gatys optimisation of one photo at 128 px (2–3 minutes on the software GPU, seconds on a real one).
# Usage: scripts/demo.sh [OUT_DIR]   (default: demo-out/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-demo-out}
shared=../shared/assets

if ! command -v vulkaninfo >/dev/null 2>&1 || ! ls /usr/share/vulkan/icd.d/*.json >/dev/null 2>&1; then
  bash scripts/setup-software-gpu.sh
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build >/dev/null
mkdir -p "$out"

photos=()
for p in kodim23 kodim04 kodim15; do
  [ -f "$shared/photos/kodak24/$p.png" ] && photos+=("$shared/photos/kodak24/$p.png")
done
[ ${#photos[@]} -gt 0 ] || { echo "demo: no photos under $shared/photos/kodak24" >&2; exit 1; }

styles=$(ls models/*.safetensors 2>/dev/null | xargs -r -n1 basename | sed 's/\.safetensors$//' || true)
if [ -n "$styles" ]; then
  for s in $styles; do
    node dist/cli.js stylize --style "$s" --out-dir "$out" "${photos[@]}"
  done
  # One row per photo: the photo, then each shipped style.
  sheet=()
  for p in "${photos[@]}"; do
    sheet+=("$p")
    for s in $styles; do sheet+=("$out/$(basename "$p" .png)_$s.png"); done
  done
  node scripts/contact-sheet.mjs "$out/contact-sheet.jpg" 192 $(( $(echo $styles | wc -w) + 1 )) "${sheet[@]}"
elif [ -d "$shared/stylenets/ml5-lengstrom" ]; then
  imported=.models-ml5
  echo "demo: no style of our own in models/ yet; importing the ml5.js nets of $shared/stylenets/ml5-lengstrom into $imported/"
  mkdir -p "$imported"
  for folder in "$shared"/stylenets/ml5-lengstrom/*/; do
    s=$(basename "$folder")
    [ -f "$imported/$s.safetensors" ] || node dist/cli.js import "$folder" -o "$imported/$s.safetensors"
  done
  styles=$(ls "$imported"/*.safetensors | xargs -n1 basename | sed 's/\.safetensors$//')
  for s in $styles; do
    node dist/cli.js stylize --style "$s" --out-dir "$out" "${photos[@]}"
  done
  # 4 styles × the photos (first column: the photo itself).
  sheet=()
  for p in "${photos[@]}"; do
    name=$(basename "$p" .png)
    sheet+=("$p")
    for s in wave udnie la_muse rain_princess; do sheet+=("$out/${name}_$s.png"); done
  done
  node scripts/contact-sheet.mjs "$out/ml5-contact-sheet.jpg" 192 5 "${sheet[@]}"
else
  echo "demo: no trained style is shipped in models/ yet; running Gatys optimisation on one photo instead"
  node dist/cli.js optimize --vgg "$shared/vgg/vgg19_conv1_1-conv3_4.safetensors" \
    --content "${photos[0]}" --style "$shared/styles/jcjohnson-fast-neural-style/starry_night.jpg" \
    --size 128 --iters 40 -o "$out/$(basename "${photos[0]}" .png)_starry_night_gatys.png"
fi
echo "demo: results in $out/"
