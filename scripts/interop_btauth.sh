#!/usr/bin/env bash
# Interop proof for the btauth/1 (bittensor 11) and Epistula v2 transports, on 127.0.0.1 only:
#   Python client (bittensor.http_auth.sign / Epistula per spec §3.6) -> `btvep miner --protocol btauth|epistula`,
#   and `btvep start` (miner_protocol btauth|epistula) -> a Python miner that verifies every request
#   (bittensor.http_auth.verify / the Epistula reference rules) and streams slowly, read with the `openai` package.
#
# Creates .venv-btauth (gitignored) with bittensor==11.3.0 and openai from PyPI, builds btvep, then runs
# scripts/interop_btauth.py. Exit status 0 and "BTAUTH INTEROP PASS" on success; non-zero and
# "BTAUTH INTEROP FAIL: ..." otherwise.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-btauth"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
fail() { echo "BTAUTH INTEROP FAIL: $*"; exit 1; }

if ! "$VENV/bin/python" -c 'import bittensor.http_auth, bittensor_core, openai' 2>/dev/null; then
    echo "== creating $VENV and installing bittensor==11.3.0, openai"
    "$PY" -m venv "$VENV" || fail "cannot create a venv with $PY"
    "$VENV/bin/pip" install --quiet bittensor==11.3.0 openai || fail "pip install failed"
fi

echo "== building btvep"
cargo build --locked --bin btvep --quiet || fail "cargo build failed"
export BTVEP="${CARGO_TARGET_DIR:-$ROOT/target}/debug/btvep"
unset HOTKEY_MNEMONIC RATE_LIMITING_ENABLED GLOBAL_RATE_LIMITS OPENAI_FILTER_ENABLED OPENAI_API_KEY \
    BTVEP_ADMIN_API_KEY BTVEP_MINER_PROTOCOL BTVEP_MINER_PATH BTVEP_MINER_MODEL
export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"

"$VENV/bin/python" "$ROOT/scripts/interop_btauth.py"
