#!/usr/bin/env bash
# Prepares .carry/ (git-ignored) for a GPU session's device `run` (scripts/gpu/README.md): runs
# ../shared/gpu/prepare-carry.sh (node, the Dawn addon, the Vulkan loader, the VGG file), then adds what our
# scripts need and it does not pack, and checks the size of what will travel (64 MiB in all).
#
#   scripts/gpu/prepare.sh [--bench-only] [--vgg-f16] [--no-strip]
#
# Environment: PHOTOS_LIMIT (default 240 of bsds500 train+test's 400), PHOTOS_QUALITY (JPEG, default 85).
# --bench-only  no training data (VGG, styles, photos, samples: ~18 MB less), for a benchmark-only session.
# --vgg-f16     carry the VGG as float16 (4.7 MB instead of 9.3 MB); train-styles.sh picks it up. Use it when
#               the size check fails; the loss network's weights are then rounded (relative 2^-12).
# --no-strip    keep prepare-carry's node (with debug info; the stripped one is 2 MB smaller, xz takes ~1 min).
#
# Adds to .carry/: extra-modules.tar.gz (sharp and its libvips for image files, jpeg-js and pngjs for the bench:
# prepare-carry packs only webgpu's modules) with lines appended to .carry/on-device.sh that unpack it; data/styles/ (the config's
# style images, sha256-checked), data/photos256/ (scripts/gpu/pack-photos.mjs), data/samples/ (evaluation
# photos as JPEG), data/vgg/. Prints the travel size: tracked + untracked-not-ignored files + .carry + dist.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
ASSETS=../shared/assets
BENCH_ONLY=0
VGG_F16=0
STRIP=1
for a in "$@"; do
  case "$a" in
    --bench-only) BENCH_ONLY=1 ;;
    --vgg-f16) VGG_F16=1 ;;
    --no-strip) STRIP=0 ;;
    *) echo "prepare: unknown option $a" >&2; exit 2 ;;
  esac
done
PHOTOS_LIMIT=${PHOTOS_LIMIT:-240}
PHOTOS_QUALITY=${PHOTOS_QUALITY:-85}
LIMIT_BYTES=$((64 * 1024 * 1024))

for f in dist/cli.js dist/bench.js dist/index.js; do
  [ -f "$f" ] || { echo "prepare: no $f: run npm ci && npm run build first" >&2; exit 1; }
done

# prepare-carry.sh appends /.carry/ to .git/info/exclude; make sure the folder exists (a fresh clone has it,
# some checkouts do not).
mkdir -p "$(git rev-parse --git-path info)"
../shared/gpu/prepare-carry.sh

if [ "$STRIP" = 1 ] && command -v strip >/dev/null; then
  tmp=$(mktemp -d)
  cp "$(readlink -f "$(command -v node)")" "$tmp/node" && strip "$tmp/node" && "$tmp/node" --version >/dev/null
  xz -T2 -6 -c "$tmp/node" > .carry/node.xz
  rm -rf "$tmp"
  echo "prepare: node stripped: $(du -h .carry/node.xz | cut -f1) xz"
fi

# sharp with its libvips build (image files; dist/cli.js and dist/bench.js keep it external) and the two small
# modules it requires; jpeg-js and pngjs for dist/bench.js's before/after image cases. ~8.6 MB gzipped.
extra_modules=(sharp @img detect-libc semver jpeg-js pngjs)
for m in "${extra_modules[@]}"; do
  [ -e "node_modules/$m" ] || { echo "prepare: node_modules/$m is missing: run npm ci first" >&2; exit 1; }
done
tar -C node_modules -czf .carry/extra-modules.tar.gz --exclude='*/test' --exclude='*.md' "${extra_modules[@]}"
chmod u+w .carry/on-device.sh
cat >> .carry/on-device.sh <<'EOF'
# --- added by scripts/gpu/prepare.sh: runtime modules dist/ imports that prepare-carry.sh does not pack
[ -f node_modules/sharp/package.json ] && [ -f node_modules/pngjs/package.json ] || tar -C node_modules -xzf "$c/extra-modules.tar.gz"
EOF

if [ "$BENCH_ONLY" = 0 ]; then
  mkdir -p .carry/data/vgg
  vgg=$(node scripts/gpu/style-args.mjs get vgg)
  if [ "$VGG_F16" = 1 ]; then
    node --input-type=module -e "
      import { readFileSync, writeFileSync } from 'node:fs';
      import { readSafetensors, writeSafetensors } from './dist/index.js';
      const f = readSafetensors(new Uint8Array(readFileSync(process.argv[1])));
      writeFileSync(process.argv[2], writeSafetensors(f.tensors, f.metadata, { dtype: 'F16' }));
    " "$ASSETS/$vgg" ".carry/data/${vgg%.safetensors}.f16.safetensors"
  else
    cp "$ASSETS/$vgg" ".carry/data/$vgg"
  fi
  # The style images, checked against the config's sha256 (from PROVENANCE.tsv).
  for name in $(node scripts/gpu/style-args.mjs order); do
    read -r img sha < <(node -e 'const c=require("./styles/config.json"); const s=c.styles[process.argv[1]]; console.log(s.image, s.sha256)' "$name")
    got=$(sha256sum "$ASSETS/$img" | cut -d' ' -f1)
    [ "$got" = "$sha" ] || { echo "prepare: $ASSETS/$img has sha256 $got, the config says $sha" >&2; exit 1; }
    mkdir -p ".carry/data/$(dirname "$img")"
    cp "$ASSETS/$img" ".carry/data/$img"
  done
  mapfile -t from < <(node scripts/gpu/style-args.mjs get photosFrom)
  node scripts/gpu/pack-photos.mjs --out ".carry/data/$(node scripts/gpu/style-args.mjs get photos)" \
    --short 256 --quality "$PHOTOS_QUALITY" --limit "$PHOTOS_LIMIT" "${from[@]/#/$ASSETS/}"
  mapfile -t samples < <(node scripts/gpu/style-args.mjs get samplesFrom)
  node scripts/gpu/pack-photos.mjs --out .carry/data/samples --short 512 --quality 95 "${samples[@]/#/$ASSETS/}"
fi

# What travels: tracked files, untracked files git does not ignore, and the carried paths (.carry, dist).
sum() { xargs -0 -r stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
tracked=$(git ls-files -z | sum)
untracked=$(git ls-files -z --others --exclude-standard | sum)
carry=$(du -sb .carry | cut -f1)
dist=$(du -sb dist | cut -f1)
ckpts=$(git ls-files -z --cached --others --exclude-standard -- checkpoints models | sum)
total=$((tracked + untracked + carry + dist))
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
echo "prepare: travel size: tracked $(mb "$tracked") + untracked $(mb "$untracked") (of which checkpoints/ and models/ $(mb "$ckpts")) + .carry $(mb "$carry") + dist $(mb "$dist") = $(mb "$total") of $(mb "$LIMIT_BYTES")"
du -sh .carry/* .carry/data/* 2>/dev/null | sed 's/^/  /'
if [ "$total" -gt "$LIMIT_BYTES" ]; then
  echo "prepare: OVER the 64 MiB limit by $(mb $((total - LIMIT_BYTES))): lower PHOTOS_LIMIT, use --vgg-f16, or move finished checkpoints out of the tree" >&2
  exit 1
fi
echo "prepare: $(mb $((LIMIT_BYTES - total))) to spare; carry: [\".carry\", \"dist\"]"
