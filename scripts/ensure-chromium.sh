#!/usr/bin/env bash
# Makes a Chromium available for Playwright, preferring the system's:
#   1. a Chromium already installed (Debian's /usr/bin/chromium, chromium-browser, google-chrome);
#   2. Debian's `chromium` package, when apt-get is there and we are root;
#   3. Playwright's own download (`playwright install chromium`), for users with internet.
# panelmap finds the browser the same way at run time (panelmap/browser.py).
set -euo pipefail
VENV=${1:-.venv}

for name in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$name" >/dev/null 2>&1; then
    exit 0
  fi
done

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "setup: installing Debian's chromium package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  exit 0
fi

echo "setup: no system Chromium; downloading Playwright's"
"$VENV/bin/python" -m playwright install chromium
