#!/usr/bin/env bash
# Benchmarks on a GPU machine, ours side by side with the peers (tfjs-webgpu, PyTorch), in ONE device `run`
# call (scripts/gpu/README.md), after `source .carry/on-device.sh`. Also runs here (lavapipe: use --quick).
#
#   scripts/gpu/bench-on-device.sh [--minutes M] [--quick] [-- BENCH_ARGS...] [-- BENCH_ARGS...]
#
# --minutes M  wall-clock budget for the whole script (default 4). Each benchmark run gets what is left
#              (minus 15 s for packing), then SIGINT, then SIGKILL 15 s later; the runs after it are skipped.
# --quick      the default runs with bench's --quick (small sizes: a dry run on a software adapter).
# -- ARGS      one `node dist/bench.js ARGS` run (repeat for several, in order). Default runs:
#                1. --e2e --peers tfjs,torch   (stylize 256/512/1024 + a training step; ours vs tfjs vs torch)
#                2. --sgemm                     (the conv2d layers of the transform net and the VGG at 256², and
#                                               the plain-GEMM reference at the same shapes)
#              A run naming a flag that dist/bench.js does not contain (bench/main.ts ignores unknown flags,
#              so it would silently run something else) is skipped and recorded as unsupported.
# Environment: OUT (default /tmp/out); BENCH_PYTHON (default: the python3 on PATH, which holds PyTorch on the
#   GPU machines; bench/e2e.ts tries it after /usr/bin/python3).
#
# $OUT gets 2 files (so that train-styles.sh can follow in the same call: $OUT keeps 8 files in all):
#   bench.md       the adapter, nvidia-smi, each run's command/exit/time, and the markdown bench appended to
#                  bench/RESULTS.md during this call (paste it into the repo's bench/RESULTS.md)
#   bench.tar.gz   bench/results/*.json written during this call, each run's full log, `info --json`.
set -uo pipefail
START=$(date +%s)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

MINUTES=4
QUICK=0
RUNS=()
cur=""
incur=0
while [ $# -gt 0 ]; do
  if [ "$incur" = 1 ] && [ "$1" != -- ]; then cur="${cur:+$cur }$1"; shift; continue; fi
  case "$1" in
    --minutes) MINUTES=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --) [ "$incur" = 1 ] && RUNS+=("$cur"); cur=""; incur=1; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "bench-on-device: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$incur" = 1 ] && RUNS+=("$cur")
if [ ${#RUNS[@]} -eq 0 ]; then
  if [ "$QUICK" = 1 ]; then RUNS=("--e2e --peers tfjs,torch --quick" "--quick --sgemm"); else RUNS=("--e2e --peers tfjs,torch" "--sgemm"); fi
fi
OUT=${OUT:-/tmp/out}
WORK=$(mktemp -d /tmp/bench-on-device.XXXXXX)
mkdir -p "$OUT" bench/results
export BENCH_PYTHON=${BENCH_PYTHON:-$(command -v python3 || true)}
DEADLINE=$(awk -v s="$START" -v m="$MINUTES" 'BEGIN { printf "%d", s + m * 60 }')
left() { echo $(( DEADLINE - $(date +%s) )); }
MD="$OUT/bench.md"
say() { echo "[bench $(date -u +%H:%M:%S), $(left)s left] $*"; }

[ -f dist/bench.js ] || { say "no dist/bench.js: build first (npm run build) and carry dist"; exit 1; }
touch "$WORK/.start"
results_lines=$( [ -f bench/RESULTS.md ] && wc -l < bench/RESULTS.md || echo 0 )

{
  echo "# Benchmarks on $(hostname) — $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo '```'
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1
  node --version
  node dist/cli.js info 2>&1 | head -n 12
  [ -n "$BENCH_PYTHON" ] && "$BENCH_PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>&1 | tail -n 1
  echo '```'
  echo
  echo "| run | exit | seconds |"
  echo "| :--- | ---: | ---: |"
} > "$MD"
node dist/cli.js info --json > "$WORK/info.json" 2>&1 || true
cat "$MD"

i=0
for args in "${RUNS[@]}"; do
  i=$((i + 1))
  budget=$(( $(left) - 15 ))
  if [ "$budget" -lt 20 ]; then say "run $i (bench $args): skipped, ${budget}s left"; echo "| \`node dist/bench.js $args\` | skipped | |" >> "$MD"; continue; fi
  unknown=""
  for a in $args; do case "$a" in --*) grep -qF -- "\"$a\"" dist/bench.js || unknown="$unknown $a" ;; esac; done
  if [ -n "$unknown" ]; then say "run $i (bench $args): skipped, this build's bench does not know$unknown"; echo "| \`node dist/bench.js $args\` | unsupported:$unknown | |" >> "$MD"; continue; fi
  say "run $i: node dist/bench.js $args (at most ${budget}s)"
  t0=$(date +%s)
  # shellcheck disable=SC2086
  timeout --preserve-status -s INT -k 15 "$budget" node dist/bench.js $args 2>&1 | tee "$WORK/run$i.log"
  rc=${PIPESTATUS[0]}
  secs=$(( $(date +%s) - t0 ))
  say "run $i exited $rc after ${secs}s"
  echo "| \`node dist/bench.js $args\` | $rc | $secs |" >> "$MD"
done

if [ -f bench/RESULTS.md ]; then
  { echo; echo "## Appended to bench/RESULTS.md during this call"; echo; tail -n +$((results_lines + 1)) bench/RESULTS.md; } >> "$MD"
fi
new_json=$(find bench/results -name '*.json' -newer "$WORK/.start" 2>/dev/null)
for f in $new_json; do cp "$f" "$WORK/"; done
tar -czf "$OUT/bench.tar.gz" -C "$WORK" $(cd "$WORK" && ls -A | grep -v '^\.start$')
rm -rf "$WORK"
say "done: $OUT/bench.md, $OUT/bench.tar.gz"
cat "$MD"
