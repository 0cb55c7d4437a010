#!/usr/bin/env bash
# The headless Chromium the dashboard tests drive (tests/Serverless.Dashboard.Tests, through Playwright): Debian's
# `chromium`, never a browser Playwright downloads.
#
#   scripts/chromium.sh      make sure it is installed (as root, the Debian `chromium` package is installed when it is
#                            missing) and that it starts headless; the LAST line of stdout is the executable's path
#
# CHROMIUM_PATH names another executable to check instead. Exits non-zero, saying why, when there is none or it
# does not start: the tests never skip for want of a browser.
set -euo pipefail

log() { echo "chromium.sh: $*" >&2; }
die() { log "$*"; exit 1; }

find_bin() {
  if [[ -n "${CHROMIUM_PATH:-}" ]]; then
    [[ -x "$CHROMIUM_PATH" ]] || die "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable"
    echo "$CHROMIUM_PATH"
    return
  fi
  command -v chromium || command -v chromium-browser
}

if ! bin=$(find_bin); then
  [[ $EUID -eq 0 ]] || die "chromium is not installed and installing it needs root (apt-get install -y chromium)"
  log "installing the chromium package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y chromium >&2
  bin=$(find_bin) || die "chromium not found after installing the chromium package"
fi

# Started as the tests start it (headless, no sandbox: Playwright's default, and what root needs).
version=$("$bin" --version 2>/dev/null) || die "$bin --version failed"
dom=$(timeout 120 "$bin" --headless --no-sandbox --disable-gpu --dump-dom 'data:text/html,<p>ok</p>' 2>/dev/null) ||
  die "$bin does not start headless (exit $?)"
[[ "$dom" == *"<p>ok</p>"* ]] || die "$bin started but rendered nothing"
log "$version starts headless"
echo "$bin"
