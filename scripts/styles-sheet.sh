#!/usr/bin/env bash
# A sheet of every shipped style of ours, for the README: a header row of the four evaluation photos of
# styles/config.json, then one row per style in models/ (its painting, then the photos stylised at 512 px),
# written to docs/images/styles-sheet.jpg; and a Markdown table of each style's droplet measure and
# style-loss ratio (style loss of the net's output / of the photo itself) from `eval --net-only` at 256 px,
# per photo and their mean, printed on stdout for the README.
#   scripts/styles-sheet.sh [STYLE...]     default: every style of styles/config.json that models/ holds
# Needs ../shared/assets (photos, style images) and a built dist/ (npm run build).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared/assets
out=${OUT:-docs/images/styles-sheet.jpg}
styles=("$@")
if [ ${#styles[@]} -eq 0 ]; then
  mapfile -t styles < <(node -e "for (const s of Object.keys(require('./styles/config.json').styles)) console.log(s)")
  present=()
  for s in "${styles[@]}"; do [ -f "models/$s.safetensors" ] && present+=("$s"); done
  styles=("${present[@]}")
fi
[ ${#styles[@]} -gt 0 ] || { echo "styles-sheet: no shipped style in models/" >&2; exit 1; }
photos=$(node scripts/gpu/style-args.mjs get samplesFrom)

work=.data/styles-sheet
rm -rf "$work" && mkdir -p "$work/photos"
for p in $photos; do ln -s "$(realpath "$shared/$p")" "$work/photos/"; done

sheet=(-)
for p in $photos; do sheet+=("$shared/$p"); done
header="| style |"
rule="| :--- |"
for p in $photos; do header+=" $(basename "$p" .png) droplets |"; rule+=" ---: |"; done
table=("$header mean droplets | style/photo |" "$rule ---: | ---: |")
for style in "${styles[@]}"; do
  model=models/$style.safetensors
  [ -f "$model" ] || { echo "styles-sheet: no $model" >&2; exit 1; }
  image=$(node scripts/gpu/style-args.mjs image "$style") \
    || { echo "styles-sheet: no style '$style' in styles/config.json" >&2; exit 2; }
  mkdir -p "$work/$style/stylized" "$work/$style/eval"
  node dist/cli.js stylize --quiet -m "$model" --max-size 512 --format jpeg --out-dir "$work/$style/stylized" "$work"/photos/*
  node dist/cli.js eval --model "$model" --style "$shared/$image" --data "$work/photos" --size 256 --net-only \
    --out-dir "$work/$style/eval" >"$work/$style/eval.log" 2>&1 || { cat "$work/$style/eval.log" >&2; exit 1; }
  sheet+=("$shared/$image")
  for p in $photos; do sheet+=("$work/$style/stylized/$(basename "$p" .png)_$style.jpg"); done
  # eval.csv: image,method,...,droplet_share,style_ratio (one net row per photo, in the folder's order).
  row=$(node -e "
    const rows = require('fs').readFileSync(process.argv[1], 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const d = rows.map((r) => Number(r[9]) * 100), s = rows.map((r) => Number(r[10]));
    const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
    console.log(d.map((x) => x.toFixed(2) + ' %').join(' | ') + ' | ' + mean(d).toFixed(2) + ' % | ' + mean(s).toFixed(3));
  " "$work/$style/eval/eval.csv")
  table+=("| $style | $row |")
done
node scripts/contact-sheet.mjs "$out" 192 5 "${sheet[@]}"
printf '%s\n' "${table[@]}"
