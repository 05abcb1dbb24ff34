#!/usr/bin/env bash
# The Debian packages the tests need, installed when missing: `npm test`'s pretest step and .ci/run
# both run this, so the README's test command passes on a fresh Debian machine by itself.
#  - the WebGPU tests run onnxruntime's WebGPU provider (Dawn over Vulkan) on Mesa's software Vulkan
#    driver, lavapipe: libvulkan1 and mesa-vulkan-drivers >= 25. Bookworm's own Mesa 22 lacks
#    features Dawn asks for, so on bookworm it comes from bookworm-backports;
#  - the browser end-to-end tests (tests/e2e/browser-*.spec.ts) drive Debian's Chromium (Playwright
#    never downloads a browser);
#  - the queue tests (tests/engine/queue-*.test.ts) start Debian's redis-server on a free port.
# Idempotent, and a no-op (no apt-get update) when everything is installed. Installing needs root
# or password-less sudo; otherwise it stops with the exact commands to run (never a password prompt
# in the middle of a test run). RESLENS_SKIP_TEST_DEPS=1 skips the check (machines set up otherwise).
set -euo pipefail

[ "${RESLENS_SKIP_TEST_DEPS:-}" = 1 ] && exit 0

MESA_MIN_VERSION=25
APT_PACKAGES=(chromium fonts-dejavu-core redis-server)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
lavapipe_ready() {
  local mesa
  installed libvulkan1 || return 1
  installed mesa-vulkan-drivers || return 1
  mesa=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)
  dpkg --compare-versions "$mesa" ge "$MESA_MIN_VERSION"
}

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  # Not Debian: say what the tests expect, and let them run (they name what is missing).
  command -v "${RESLENS_CHROMIUM:-chromium}" >/dev/null || [ -x /usr/bin/chromium ] ||
    echo "warning: no Chromium found: install it, or set RESLENS_CHROMIUM to its path, or the browser tests fail" >&2
  command -v redis-server >/dev/null || echo "warning: no redis-server on PATH: the queue tests fail without it" >&2
  echo "warning: no apt-get: install libvulkan1 and Mesa >= $MESA_MIN_VERSION lavapipe (mesa-vulkan-drivers) yourself, or the WebGPU tests fail under CI=true" >&2
  exit 0
fi

missing=()
for package in "${APT_PACKAGES[@]}"; do installed "$package" || missing+=("$package"); done
need_lavapipe=0
lavapipe_ready || need_lavapipe=1
if [ "${#missing[@]}" -eq 0 ] && [ "$need_lavapipe" -eq 0 ]; then exit 0; fi

# shellcheck disable=SC1091
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
backports=0
if [ "$need_lavapipe" -eq 1 ] && [ "$codename" = bookworm ] && ! grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  backports=1
fi
target=()
[ "$codename" = bookworm ] && target=(-t bookworm-backports)

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo)
  else
    {
      echo "error: the tests need Debian packages that are not installed:${missing[*]:+ ${missing[*]}}$([ "$need_lavapipe" -eq 1 ] && echo " mesa-vulkan-drivers>=$MESA_MIN_VERSION libvulkan1")"
      echo "Install them once (as root), then run npm test again:"
      if [ "$backports" -eq 1 ]; then
        echo "  printf '%s\\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' 'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' | sudo tee /etc/apt/sources.list.d/bookworm-backports.sources"
      fi
      echo "  sudo apt-get update"
      [ "${#missing[@]}" -gt 0 ] && echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}"
      [ "$need_lavapipe" -eq 1 ] && echo "  sudo apt-get install -y --no-install-recommends ${target[*]:+${target[*]} }mesa-vulkan-drivers libvulkan1"
      echo "(or run .ci/run as root or with password-less sudo; RESLENS_SKIP_TEST_DEPS=1 skips this check)"
    } >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
if [ "$backports" -eq 1 ]; then
  echo "== adding the bookworm-backports apt source"
  printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' 'Components: main' \
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' | "${sudo[@]}" tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
fi
echo "== installing test packages:${missing[*]:+ ${missing[*]}}$([ "$need_lavapipe" -eq 1 ] && echo " mesa-vulkan-drivers libvulkan1")"
"${sudo[@]}" apt-get update -qq
[ "${#missing[@]}" -gt 0 ] && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
if [ "$need_lavapipe" -eq 1 ]; then
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${target[@]}" mesa-vulkan-drivers libvulkan1
  lavapipe_ready || { echo "error: mesa-vulkan-drivers >= $MESA_MIN_VERSION and libvulkan1 are needed for the WebGPU tests" >&2; exit 1; }
fi
exit 0
