#!/usr/bin/env bash
# Installs Debian's ffmpeg (ffmpeg and ffprobe) for the `video` command and its tests (test/video.test.ts,
# skipped without it). Idempotent: does nothing when both are already on PATH. Debian's package rather than an
# npm package that bundles a binary: it is security-maintained, has ffprobe and libx264/libvpx/libopus, and
# the CLI finds it on PATH with no configuration (FFMPEG_PATH overrides).
# Usage: sudo scripts/setup-ffmpeg.sh   (root needed for apt)
set -euo pipefail

if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then
  echo "ffmpeg: $(ffmpeg -version | head -n 1) already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "ffmpeg: this script needs Debian/apt; install ffmpeg by other means or set FFMPEG_PATH (the video tests skip without it)" >&2
  exit 1
fi
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
$sudo_cmd apt-get update -qq
# Wait for another apt/dpkg run (the software-GPU or Chromium setup) instead of failing on its lock.
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends ffmpeg >/dev/null
echo "ffmpeg: $(ffmpeg -version | head -n 1) installed"
