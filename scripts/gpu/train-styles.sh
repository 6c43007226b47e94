#!/usr/bin/env bash
# Trains the styles of styles/config.json within a wall-clock budget, resuming from checkpoints, and puts
# checkpoints, samples and loss logs into $OUT. Meant for ONE device `run` call (scripts/gpu/README.md), after
# `source .carry/on-device.sh`; runs anywhere the project runs (a dry run on lavapipe: see the README).
#
#   scripts/gpu/train-styles.sh [--minutes M] [--checkpoints DIR] [--data-root DIR] [--max-styles N]
#                               [--set KEY=VALUE ...] [--force] [STYLE ...]
#
# STYLE...        styles to train, in this order (default: the config's "order"). Styles are trained one
#                 after the other: the first one runs until it reaches its iterations or the deadline.
# --minutes M     wall-clock budget for the whole script, from its start (default 8.5: a device command may
#                 run 10 min, and on-device.sh takes a few seconds). At the deadline (minus a reserve for
#                 the last checkpoint and the copies) `train` gets SIGINT: it finishes its step, writes a
#                 checkpoint and exits 130; SIGKILL follows 45 s later if it has not.
# --checkpoints D where earlier sessions' checkpoints are (default checkpoints/, tracked): D/NAME.ckpt.safetensors
#                 and D/NAME.log.jsonl are copied into the work folder and the run resumes from them.
# --data-root D   the assets root (default .carry/data, as scripts/gpu/prepare.sh packs it).
# --max-styles N  styles started at most (default: what $OUT's 8-file limit leaves: 2 files per style).
# --set K=V       overrides a config setting for this run (size, batch, iters, checkpointEvery, ...): dry
#                 runs. A resumed run refuses changed training settings (train's own check).
# --force         train a style even if models/NAME.safetensors exists.
# --no-samples    no --sample picture at checkpoints and no evaluation photos (dry runs on a software
#                 adapter, where stylising a 512-px photo takes minutes).
# Environment: OUT (default /tmp/out), WORK (default /tmp/fst-train: kept between calls on a warm machine,
#   so a second call resumes from the first call's checkpoint), VGG (overrides the config's VGG file).
#
# $OUT, per style NAME: NAME.ckpt.safetensors (the checkpoint: copy it to checkpoints/ for the next session)
# and NAME.tar.gz (NAME.log.jsonl, NAME.loss.svg, NAME.sample.png, NAME.train.log, eval/*.jpg: the
# evaluation photos stylised by the checkpoint, and NAME.safetensors when the style reached its iterations);
# plus train-styles.json (per style: status, steps, it/s, last losses) and train-styles.log.
set -uo pipefail
START=$(date +%s)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

MINUTES=8.5
CKPT_DIR=checkpoints
DATA_ROOT=.carry/data
MAX_STYLES=""
FORCE=0
SAMPLES=1
SETS=()
STYLES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES=$2; shift 2 ;;
    --checkpoints) CKPT_DIR=$2; shift 2 ;;
    --data-root) DATA_ROOT=$2; shift 2 ;;
    --max-styles) MAX_STYLES=$2; shift 2 ;;
    --set) SETS+=("$2"); shift 2 ;;
    --force) FORCE=1; shift ;;
    --no-samples) SAMPLES=0; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    -*) echo "train-styles: unknown option $1" >&2; exit 2 ;;
    *) STYLES+=("$1"); shift ;;
  esac
done
OUT=${OUT:-/tmp/out}
WORK=${WORK:-/tmp/fst-train}
mkdir -p "$OUT" "$WORK"
LOG="$OUT/train-styles.log"

main() {

DEADLINE=$(awk -v s="$START" -v m="$MINUTES" 'BEGIN { printf "%d", s + m * 60 }')
RESERVE=${RESERVE:-40}            # seconds kept after train's SIGINT: last step, checkpoint, sample, eval, copies
MIN_TRAIN=${MIN_TRAIN:-60}        # a style is started only with at least this many seconds of training ahead
EVAL_SECONDS=${EVAL_SECONDS:-25}  # the evaluation photos are stylised only with this much time left
left() { echo $(( DEADLINE - $(date +%s) )); }
say() { echo "[train-styles $(date -u +%H:%M:%S), $(left)s left] $*"; }

[ -f dist/cli.js ] || { say "no dist/cli.js: build first (npm run build) and carry dist"; exit 1; }
[ -d "$DATA_ROOT" ] || { say "no data root $DATA_ROOT (scripts/gpu/prepare.sh packs .carry/data)"; exit 1; }
if [ ${#STYLES[@]} -eq 0 ]; then mapfile -t STYLES < <(node scripts/gpu/style-args.mjs order); fi
if [ -z "$MAX_STYLES" ]; then
  used=$(find "$OUT" -type f ! -name 'train-styles.*' | wc -l)
  MAX_STYLES=$(( (8 - used - 2) / 2 ))
fi
EVAL=()
if [ "$SAMPLES" = 1 ]; then mapfile -t EVAL < <(node scripts/gpu/style-args.mjs get evaluation 2>/dev/null || true); else export NO_SAMPLE=1; fi
if [ -z "${VGG:-}" ]; then
  # prepare.sh --vgg-f16 packs NAME.f16.safetensors instead of the config's file
  vgg="$DATA_ROOT/$(node scripts/gpu/style-args.mjs get vgg)"
  [ ! -f "$vgg" ] && [ -f "${vgg%.safetensors}.f16.safetensors" ] && export VGG="${vgg%.safetensors}.f16.safetensors"
fi

say "styles: ${STYLES[*]}; budget ${MINUTES} min; at most $MAX_STYLES styles; work $WORK; out $OUT"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
node dist/cli.js info --json > "$WORK/info.json" 2>&1 || say "info failed: $(tail -n 3 "$WORK/info.json")"
grep -q '"isFallbackAdapter": *true' "$WORK/info.json" 2>/dev/null && say "WARNING: software adapter (lavapipe? no GPU driver found?): training will be very slow"

SUMMARY="$WORK/summary.jsonl"
: > "$SUMMARY"
started=0
for NAME in "${STYLES[@]}"; do
  if [ "$started" -ge "$MAX_STYLES" ]; then say "$NAME: not started (at most $MAX_STYLES styles per call: \$OUT keeps 8 files)"; continue; fi
  if [ "$FORCE" != 1 ] && [ -f "models/$NAME.safetensors" ]; then say "$NAME: models/$NAME.safetensors exists, skipped (--force to train it)"; continue; fi
  budget=$(( $(left) - RESERVE ))
  if [ "$budget" -lt "$MIN_TRAIN" ]; then say "$NAME: not started, ${budget}s of training left"; continue; fi
  mapfile -t ARGS < <(node scripts/gpu/style-args.mjs args "$NAME" "$DATA_ROOT" "${SETS[@]}") || { say "$NAME: bad config"; continue; }
  [ ${#ARGS[@]} -gt 0 ] || { say "$NAME: bad config"; continue; }
  model="$WORK/$NAME.safetensors"
  ckpt="$WORK/$NAME.ckpt.safetensors"
  resume=()
  if [ -f "$ckpt" ]; then
    say "$NAME: resuming from $ckpt (an earlier call on this machine)"
    resume=(--resume)
  elif [ -f "$CKPT_DIR/$NAME.ckpt.safetensors" ]; then
    cp "$CKPT_DIR/$NAME.ckpt.safetensors" "$ckpt"
    [ -f "$CKPT_DIR/$NAME.log.jsonl" ] && cp "$CKPT_DIR/$NAME.log.jsonl" "$WORK/$NAME.log.jsonl"
    say "$NAME: resuming from $CKPT_DIR/$NAME.ckpt.safetensors"
    resume=(--resume)
  else
    say "$NAME: fresh run"
  fi
  rm -f "$model"
  started=$((started + 1))
  t0=$(date +%s)
  say "$NAME: train for at most ${budget}s: node dist/cli.js train ${ARGS[*]} --out $model ${resume[*]}"
  timeout --preserve-status -s INT -k 45 "$budget" \
    node dist/cli.js train "${ARGS[@]}" --out "$model" "${resume[@]}" 2>&1 | tee "$WORK/$NAME.train.log"
  rc=${PIPESTATUS[0]}
  secs=$(( $(date +%s) - t0 ))
  case "$rc" in
    0) status=finished ;;
    130) status=deadline ;;
    137) status=killed ;;
    *) status="failed($rc)" ;;
  esac
  say "$NAME: train exited $rc ($status) after ${secs}s"

  rm -rf "$WORK/$NAME-eval" && mkdir -p "$WORK/$NAME-eval"
  if [ -f "$ckpt" ] && [ ${#EVAL[@]} -gt 0 ] && [ "$(left)" -ge "$EVAL_SECONDS" ]; then
    inputs=()
    for e in "${EVAL[@]}"; do [ -f "$DATA_ROOT/$e" ] && inputs+=("$DATA_ROOT/$e"); done
    [ ${#inputs[@]} -gt 0 ] && timeout -k 5 $(( $(left) - 10 )) node dist/cli.js stylize --model "$ckpt" --out-dir "$WORK/$NAME-eval" \
      --format jpeg --max-size 512 --quiet "${inputs[@]}" || say "$NAME: evaluation stylize failed or ran out of time"
  fi
  node -e '
    const [name, status, rc, secs, log] = process.argv.slice(1);
    const fs = require("fs");
    const recs = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return null; } }).filter(Boolean) : [];
    const last = recs[recs.length - 1] ?? null;
    const timed = recs.filter((r) => typeof r.seconds === "number");
    let rate = null;
    if (timed.length > 20) { const a = timed[10], b = timed[timed.length - 1]; rate = +((b.step - a.step) / (b.seconds - a.seconds)).toFixed(3); }
    console.log(JSON.stringify({ style: name, status, exit: +rc, seconds: +secs, step: last?.step ?? null, itPerSec: rate, last }));
  ' "$NAME" "$status" "$rc" "$secs" "$WORK/$NAME.log.jsonl" >> "$SUMMARY"
  tail -n 1 "$SUMMARY"

  [ -f "$ckpt" ] && cp "$ckpt" "$OUT/$NAME.ckpt.safetensors"
  files=()
  for f in "$NAME.log.jsonl" "$NAME.loss.svg" "$NAME.sample.png" "$NAME.train.log" "$NAME-eval"; do [ -e "$WORK/$f" ] && files+=("$f"); done
  [ "$status" = finished ] && [ -f "$model" ] && files+=("$NAME.safetensors")
  tar -czf "$OUT/$NAME.tar.gz" -C "$WORK" "${files[@]}"
  [ "$status" = finished ] || [ "$status" = deadline ] || say "$NAME: $status — see $NAME.train.log in $NAME.tar.gz"
done

node -e '
  const fs = require("fs");
  const [summary, info, out] = process.argv.slice(1);
  const styles = fs.readFileSync(summary, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  let adapter = null;
  try { adapter = JSON.parse(fs.readFileSync(info, "utf8")); } catch {}
  fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), adapter, styles }, null, 2) + "\n");
' "$SUMMARY" "$WORK/info.json" "$OUT/train-styles.json"
say "done: $(ls "$OUT" | tr '\n' ' ')"
ls -la "$OUT"
}

# Everything into $OUT/train-styles.log too (a pipe, not exec > >(tee): the log is complete when we exit).
main 2>&1 | tee -a "$LOG"
exit "${PIPESTATUS[0]}"
