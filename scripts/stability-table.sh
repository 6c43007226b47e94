#!/usr/bin/env bash
# Flicker and style strength of nets side by side: for each MODEL, `flicker` on the evaluation photos of
# styles/config.json (a 128 px clip panned 1 px per frame with noise σ 2, 6 frames), printed as one Markdown
# row per model: the temporal error per photo and its mean, and the mean style loss against STYLE's image.
#   scripts/stability-table.sh STYLE MODEL...    e.g. scripts/stability-table.sh starry_night \
#     models/starry_night.safetensors checkpoints/starry_night-stable.safetensors
# STRIP_DIR=DIR also writes each model's strip of the last photo there. Needs ../shared/assets and dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
style=${1:?usage: scripts/stability-table.sh STYLE MODEL...}
shift
[ $# -gt 0 ] || { echo "usage: scripts/stability-table.sh STYLE MODEL..." >&2; exit 2; }
shared=../shared/assets
image=$(node scripts/gpu/style-args.mjs image "$style") \
  || { echo "stability-table: no style '$style' in styles/config.json" >&2; exit 2; }
photos=$(node scripts/gpu/style-args.mjs get samplesFrom)
[ -n "${STRIP_DIR:-}" ] && mkdir -p "$STRIP_DIR"

header="| model |"
rule="| :--- |"
for p in $photos; do header+=" $(basename "$p" .png) |"; rule+=" ---: |"; done
echo "$header mean temporal error | mean style loss |"
echo "$rule ---: | ---: |"
for model in "$@"; do
  [ -f "$model" ] || { echo "stability-table: no model $model" >&2; exit 1; }
  row="| $model |"
  errors=()
  styles=()
  for p in $photos; do
    strip=()
    [ -n "${STRIP_DIR:-}" ] && strip=(--strip "$STRIP_DIR/$(basename "$model" .safetensors)-$(basename "$p" .png).png")
    out=$(node dist/cli.js flicker --quiet -m "$model" --photo "$shared/$p" --style-image "$shared/$image" --size 128 "${strip[@]}")
    e=$(sed -n 's/^temporal error \([0-9.]*\) levels.*/\1/p' <<<"$out")
    s=$(sed -n 's/^style loss \([0-9.e+-]*\) .*/\1/p' <<<"$out")
    [ -n "$e" ] && [ -n "$s" ] || { echo "stability-table: could not read flicker's output for $model on $p:" >&2; echo "$out" >&2; exit 1; }
    errors+=("$e")
    styles+=("$s")
    row+=" $e |"
  done
  means=$(node -e "const a=process.argv.slice(1).map(Number);const h=a.length/2;const m=(x)=>x.reduce((s,v)=>s+v,0)/x.length;console.log(m(a.slice(0,h)).toFixed(2)+' | '+m(a.slice(h)).toExponential(3))" "${errors[@]}" "${styles[@]}")
  echo "$row $means |"
done
