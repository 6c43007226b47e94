#!/usr/bin/env bash
# Installs Debian's Chromium for the end-to-end browser test (test/browser.test.ts drives /usr/bin/chromium
# through playwright-core; Playwright's own browser download is never used). Idempotent: does nothing when
# chromium is already installed. On machines without a GPU Chromium's WebGPU runs on SwiftShader.
# Usage: sudo scripts/setup-chromium.sh   (root needed for apt)
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  echo "chromium: $(chromium --version 2>/dev/null || echo /usr/bin/chromium) already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "chromium: this script needs Debian/apt; install Chromium by other means (the browser test skips without it)" >&2
  exit 1
fi
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
$sudo_cmd apt-get update -qq
# Wait for another apt/dpkg run (e.g. the software-GPU setup) instead of failing on its lock.
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null
echo "chromium: $(chromium --version) installed"
