#!/usr/bin/env bash
# Installs a software Vulkan driver (Mesa lavapipe) so that Dawn, and so this project, runs on a machine
# without a GPU. Debian bookworm's own Mesa (22.x) is too old for Dawn's adapter checks; bookworm-backports
# carries a Mesa that works. Idempotent: does nothing when a new enough lavapipe is already installed.
# Usage: sudo scripts/setup-software-gpu.sh   (root needed for apt)
set -euo pipefail

MIN_MESA_MAJOR=24

mesa_major() {
  dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed -E 's/^([0-9]+:)?([0-9]+).*/\2/'
}

have=$(mesa_major || true)
if [ -n "$have" ] && [ "$have" -ge "$MIN_MESA_MAJOR" ] && dpkg -s libvulkan1 >/dev/null 2>&1; then
  echo "software GPU: mesa-vulkan-drivers $have.x already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "software GPU: this script needs Debian/apt; install Mesa >= $MIN_MESA_MAJOR with lavapipe by other means" >&2
  exit 1
fi

. /etc/os-release
codename=${VERSION_CODENAME:-bookworm}
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"

if [ "$codename" = "bookworm" ]; then
  # Use the same mirror as the machine's existing bookworm entry.
  mirror=$( { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}';
              grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}'; } \
            | grep -v security | head -n1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  list=/etc/apt/sources.list.d/bookworm-backports.list
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb $mirror bookworm-backports main" | $sudo_cmd tee "$list" >/dev/null
  fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
else
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
fi

have=$(mesa_major || true)
if [ -z "$have" ] || [ "$have" -lt "$MIN_MESA_MAJOR" ]; then
  echo "software GPU: mesa-vulkan-drivers ${have:-none} installed, need >= $MIN_MESA_MAJOR" >&2
  exit 1
fi
echo "software GPU: mesa-vulkan-drivers $have.x (lavapipe) installed"
