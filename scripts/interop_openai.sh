#!/usr/bin/env bash
# Interop proof: the official `openai` Python SDK (and btvep's documented Python `requests` examples) against a
# running btvep with local miners (`btvep start --devnet 2`, built-in responder), on 127.0.0.1 only; and its
# /metrics against prometheus_client's text-format parser.
#
# Creates .venv-openai (gitignored) with `openai` and `requests` from PyPI, builds btvep, starts it on a free port
# with a temp config and data dir, creates an unlimited and a rate-limited key with the CLI (through the running
# server's admin socket), then runs scripts/openai_sdk_check.py.
# Exit status 0 and "OPENAI SDK PASS" on success; non-zero and "OPENAI SDK FAIL: ..." otherwise.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-openai"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
fail() { echo "OPENAI SDK FAIL: $*"; exit 1; }

if ! "$VENV/bin/python" -c 'import openai, requests, prometheus_client' 2>/dev/null; then
    echo "== creating $VENV and installing openai, requests, prometheus_client"
    "$PY" -m venv "$VENV" || fail "cannot create a venv with $PY"
    "$VENV/bin/pip" install --quiet openai requests prometheus_client || fail "pip install failed"
fi

# shellcheck source=scripts/devnet_server.sh
source "$ROOT/scripts/devnet_server.sh"

KEY="$(cat "$BTVEP_DATA_DIR/devnet/api_key")"
LIMITED="$("$BTVEP" key create -q -n limited)"
LIMITED_ID="$("$BTVEP" key show "$LIMITED" --json | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
"$BTVEP" ratelimit add 1 60 -k "$LIMITED_ID" 2>/dev/null
"$BTVEP" ratelimit enable 2>/dev/null

BTVEP_URL="$URL" BTVEP_KEY="$KEY" BTVEP_LIMITED_KEY="$LIMITED" "$VENV/bin/python" "$ROOT/scripts/openai_sdk_check.py" \
    || { echo "--- server log"; tail -40 "$WORK/server.log"; exit 1; }
