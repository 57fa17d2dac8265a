#!/usr/bin/env bash
# End-to-end browser test of the dashboard: headless Chromium (Debian's `chromium`) drives /dashboard of a running
# `btvep start --devnet 2` on 127.0.0.1 — sign in, create a key and use it for /chat, see it in the logs and the
# overview, edit it, delete it, sign out — and saves screenshots of every page to docs/screenshots/.
#
# Installs chromium with apt-get when /usr/bin/chromium is missing (CI runs as root; once per machine), and
# playwright-core (pinned by tests/browser/package-lock.json) into tests/browser/node_modules (gitignored).
# Exit status 0 and "BROWSER TEST PASS" on success; non-zero and "BROWSER TEST FAIL: ..." otherwise.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
fail() { echo "BROWSER TEST FAIL: $*"; exit 1; }
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM" ]; then
    echo "== installing chromium (apt-get)"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null || fail "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null || fail "apt-get install chromium failed"
fi
command -v node >/dev/null || fail "node is not installed"
command -v npm >/dev/null || fail "npm is not installed"

if [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "== installing playwright-core (npm)"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in tests/browser failed"
fi

# shellcheck source=scripts/devnet_server.sh
source "$ROOT/scripts/devnet_server.sh"

# The server created the admin token on its first start; read it the way the operator is told to.
ADMIN="$("$BTVEP" config get admin_api_key --reveal)" || fail "btvep config get admin_api_key --reveal failed"
[ -n "$ADMIN" ] && [ "$ADMIN" != "null" ] || fail "no admin_api_key after start: $(grep -i admin "$WORK/server.log")"
DEVNET_KEY="$(cat "$BTVEP_DATA_DIR/devnet/api_key" 2>/dev/null || true)"

echo "== dashboard test in headless chromium ($("$CHROMIUM" --version 2>/dev/null | head -1))"
BTVEP_URL="$URL" BTVEP_ADMIN_TOKEN="$ADMIN" BTVEP_DEVNET_KEY="$DEVNET_KEY" SCREENSHOT_DIR="$ROOT/docs/screenshots" \
    CHROMIUM="$CHROMIUM" node tests/browser/dashboard.mjs \
    || { echo "--- server log"; tail -40 "$WORK/server.log"; exit 1; }
