#!/usr/bin/env bash
# Brings a device call's returned files (the read-only files_at folder) into the checkout:
#   scripts/gpu/import-results.sh FILES_AT [--checkpoints DIR]
# - NAME.ckpt.safetensors → checkpoints/NAME.ckpt.safetensors, and NAME.log.jsonl from NAME.tar.gz beside
#   it (the loss log continues across sessions): the next session's train-styles.sh resumes from them.
# - everything else (NAME.tar.gz unpacked: loss curve, sample, evaluation pictures, train log, the model when
#   the style finished; train-styles.json/.log; bench.md, bench.tar.gz unpacked) → test-artifacts/gpu/STAMP/
#   (git-ignored) for a look. Prints what to do next for each style.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
FROM=${1:?usage: import-results.sh FILES_AT [--checkpoints DIR]}
CKPT_DIR=checkpoints
[ "${2:-}" = --checkpoints ] && CKPT_DIR=$3
STAMP=$(date -u +%Y%m%d-%H%M%S)
DEST=test-artifacts/gpu/$STAMP
mkdir -p "$DEST" "$CKPT_DIR"
# files_at may hold the files directly or under one folder level (OUT/a/file)
mapfile -t files < <(find "$FROM" -maxdepth 2 -type f | sort)
for f in "${files[@]}"; do
  base=$(basename "$f")
  case "$base" in
    *.ckpt.safetensors)
      name=${base%.ckpt.safetensors}
      cp "$f" "$CKPT_DIR/$base" && chmod u+w "$CKPT_DIR/$base"
      echo "import: $CKPT_DIR/$base ($(du -h "$f" | cut -f1))" ;;
    *.tar.gz)
      mkdir -p "$DEST/${base%.tar.gz}"
      tar -xzf "$f" -C "$DEST/${base%.tar.gz}"
      chmod -R u+w "$DEST/${base%.tar.gz}"
      echo "import: $base unpacked into $DEST/${base%.tar.gz}/" ;;
    *)
      cp "$f" "$DEST/" && chmod u+w "$DEST/$base"
      echo "import: $base → $DEST/" ;;
  esac
done
for ckpt in "$CKPT_DIR"/*.ckpt.safetensors; do
  [ -e "$ckpt" ] || continue
  name=$(basename "$ckpt" .ckpt.safetensors)
  d="$DEST/$name"
  [ -d "$d" ] || continue
  [ -f "$d/$name.log.jsonl" ] && cp "$d/$name.log.jsonl" "$CKPT_DIR/$name.log.jsonl"
  step=$(tail -n 1 "$d/$name.log.jsonl" 2>/dev/null | sed -E 's/.*"step":([0-9]+).*/\1/' || echo '?')
  echo
  echo "$name: step $step. Look at $d/$name.loss.svg, $d/$name.sample.png and $d/$name-eval/*.jpg."
  if [ -f "$d/$name.safetensors" ]; then
    echo "  finished: if the curve is flat and the pictures look like the painting, ship it:"
    echo "    cp $d/$name.safetensors models/$name.safetensors   # and a sample picture, see scripts/gpu/README.md"
    echo "    git rm --cached -q $CKPT_DIR/$name.ckpt.safetensors $CKPT_DIR/$name.log.jsonl 2>/dev/null; rm $CKPT_DIR/$name.*"
  else
    echo "  not finished: commit $CKPT_DIR/$name.ckpt.safetensors and $CKPT_DIR/$name.log.jsonl; the next session resumes it."
  fi
done
