#!/bin/bash
# The full-size checks of issue 22, run once by hand (minutes on lavapipe; ~1.2 GB in OUT_DIR):
#  - a width-1 pytorch/examples net (random weights, PyTorch 1.13) as .pth zip, .pth legacy and ONNX opset 9
#    is imported and stylises a real photo (kodim23, 768x512) within 1 level of PyTorch: the share printed;
#  - export of models/starry_night.safetensors runs in onnxruntime within 1 level of our stylize on kodim23;
#  - train --vgg with a torchvision-layout vgg16 .pth (random weights, legacy and zip) trains 2 steps.
# Usage: bash scripts/golden/fullsize-formats.sh [OUT_DIR]   (needs /usr/bin/python3 with torch and PIL, npm run build)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/fsw-fullsize}
PHOTO=../shared/assets/photos/kodak24/kodim23.png
CLI="node dist/cli.js"
/usr/bin/python3 scripts/golden/pytorch_fullsize.py "$OUT" "$PHOTO" 2> >(grep -v -i warn >&2)

compare() { # A.png B.png: share of pixels whose channels all differ by at most 1 level
  node --input-type=module -e "
    import { readFileSync } from 'node:fs'; import pngjs from 'pngjs';
    const [a, b] = process.argv.slice(1).map((p) => pngjs.PNG.sync.read(readFileSync(p)));
    let ok = 0, worst = 0; const n = a.width * a.height;
    for (let i = 0; i < n; i++) { let m = 0; for (let c = 0; c < 3; c++) m = Math.max(m, Math.abs(a.data[4*i+c] - b.data[4*i+c])); worst = Math.max(worst, m); if (m <= 1) ok++; }
    console.log(process.argv[2] + ': ' + (100 * ok / n).toFixed(4) + ' % of pixels within 1 level, worst ' + worst + ' levels');
  " "$1" "$2"
}

for f in net.pth net-legacy.pth net-opset9.onnx; do
  $CLI import "$OUT/$f" -o "$OUT/$f.safetensors"
  $CLI stylize --model "$OUT/$f.safetensors" "$PHOTO" -o "$OUT/$f.png" --quiet
  compare "$OUT/pytorch.png" "$OUT/$f.png"
done

$CLI export models/starry_night.safetensors -o "$OUT/starry_night.onnx"
$CLI stylize --model models/starry_night.safetensors "$PHOTO" -o "$OUT/starry_ours.png" --quiet
node --input-type=module -e "
  import * as ort from 'onnxruntime-web'; import { readFileSync, writeFileSync } from 'node:fs'; import pngjs from 'pngjs';
  ort.env.wasm.numThreads = 1;
  const img = pngjs.PNG.sync.read(readFileSync(process.argv[1])); const { width: w, height: h } = img;
  const x = new Float32Array(3 * w * h); for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) x[c * w * h + i] = img.data[4 * i + c];
  const s = await ort.InferenceSession.create(readFileSync(process.argv[2]));
  const y = (await s.run({ input: new ort.Tensor('float32', x, [1, 3, h, w]) })).output.data;
  const out = new pngjs.PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) { for (let c = 0; c < 3; c++) out.data[4 * i + c] = Math.max(0, Math.min(255, Math.round(y[c * w * h + i]))); out.data[4 * i + 3] = 255; }
  writeFileSync(process.argv[3], pngjs.PNG.sync.write(out));
" "$PHOTO" "$OUT/starry_night.onnx" "$OUT/starry_ort.png"
compare "$OUT/starry_ours.png" "$OUT/starry_ort.png"

mkdir -p "$OUT/photos"
cp ../shared/assets/photos/kodak24/kodim0{1,2,3}.png "$OUT/photos/"
for v in vgg16.pth vgg16-zip.pth; do
  $CLI import "$OUT/$v" -o "$OUT/$v.safetensors"
  $CLI train --style ../shared/assets/styles/lengstrom-fast-style-transfer/wave.jpg --data "$OUT/photos" --vgg "$OUT/$v" \
    --out "$OUT/trained-$v.safetensors" --iters 2 --size 64 --batch 1 --style-size 64 --width 0.25 --checkpoint-every 100
done
