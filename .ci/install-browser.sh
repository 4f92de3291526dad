#!/usr/bin/env bash
# Installs Debian's chromium for tests/test_report.py, which opens the HTML
# report in headless Chromium. Does nothing when /usr/bin/chromium exists.
# Without root (or sudo) or apt-get it only warns: that test then skips and
# says why.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no apt-get here; install chromium by hand or the report test skips" >&2
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "install-browser: not root and no sudo; install chromium by hand or the report test skips" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium
test -x /usr/bin/chromium
