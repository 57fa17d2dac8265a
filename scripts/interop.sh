#!/usr/bin/env bash
# Interop proof: btvep's Rust dendrite against a REAL bittensor 10.5.0 Python axon (2023 Prompting synapse,
# default signature/nonce/body-hash verification on), on 127.0.0.1 only.
#
# 1. creates .venv-interop (gitignored) and pip installs bittensor==10.5.0 (once; ~20 s–3 min),
# 2. builds the ignored Rust test `interop_real_python_axon` (tests/protocol.rs),
# 3. starts scripts/interop_axon.py (wallets rebuilt offline from the spec's throwaway mnemonics,
#    get_external_ip pinned) and waits for its port,
# 4. runs the Rust test: success with the expected completion, a wrong axon hotkey ⇒ 401, 20 concurrent queries all
#    accepted, query() with respond_on_first_success;
# 5. reverse direction: a real Python 10.5.0 dendrite (scripts/interop_dendrite.py) queries an axon built on
#    btvep's axon.rs verification (success, and 401 when it signs for another hotkey);
# 6. `btvep miner` (the real binary, issue 6) backed by a Python OpenAI-compatible stub model server, queried by real
#    10.5.0 dendrites (scripts/interop_miner.py): a registered hotkey gets the stub's completion, an unregistered one
#    gets 403 (allow_non_registered off), and the same signed request sent twice gets 401 the second time.
# Steps 3–4 run inside `unshare -n` (private network namespace, loopback only) when available (root), else on the
# host's loopback.
#
# Env: PYTHON (default python3.11, else python3), BTVEP_INTEROP_PORT (default 18092; the miner uses +1, its stub
# model server +2), CARGO_TARGET_DIR (honoured).
# Exit status 0 and a final "INTEROP PASS" line on success; non-zero and "INTEROP FAIL: …" otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT="${BTVEP_INTEROP_PORT:-18092}"
VENV="$ROOT/.venv-interop"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"

fail() { echo "INTEROP FAIL: $*"; exit 1; }

if ! "$VENV/bin/python" -c 'import bittensor, sys; sys.exit(0 if bittensor.__version__ == "10.5.0" else 1)' 2>/dev/null; then
    echo "== creating $VENV and installing bittensor==10.5.0"
    "$PY" -m venv "$VENV" || fail "cannot create venv with $PY"
    "$VENV/bin/pip" install --quiet "bittensor==10.5.0" || fail "pip install bittensor==10.5.0 failed"
fi

echo "== building the Rust interop test"
TEST_BIN="$(cargo test --test protocol --no-run --message-format=json 2>/dev/null \
    | "$VENV/bin/python" -c 'import json,sys
for line in sys.stdin:
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "protocol":
        print(m["executable"])')"
[ -x "$TEST_BIN" ] || fail "could not build tests/protocol.rs"
echo "== building btvep"
BTVEP_BIN="$(cargo build --bin btvep --message-format=json 2>/dev/null \
    | "$VENV/bin/python" -c 'import json,sys
for line in sys.stdin:
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "btvep":
        print(m["executable"])')"
[ -x "$BTVEP_BIN" ] || fail "could not build the btvep binary"
MINER_PORT=$((PORT + 1))
STUB_PORT=$((PORT + 2))

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cat > "$WORK/run.sh" <<INNER
set -u
ip link set lo up 2>/dev/null || true
wait_port() {  # PORT PID: until 127.0.0.1:PORT accepts, or PID died, at most 60 s
    for _ in \$(seq 1 120); do
        if "$VENV/bin/python" -c 'import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))))' "\$1" 2>/dev/null; then
            return 0
        fi
        kill -0 "\$2" 2>/dev/null || return 1
        sleep 0.5
    done
    return 1
}
"$VENV/bin/python" "$ROOT/scripts/interop_axon.py" "$PORT" "$WORK/wallets" > "$WORK/axon.log" 2>&1 &
AXON_PID=\$!
wait_port "$PORT" \$AXON_PID
BTVEP_INTEROP_AXON="127.0.0.1:$PORT" "$TEST_BIN" --ignored --exact interop_real_python_axon --nocapture
RC=\$?
BTVEP_INTEROP_PYTHON="$VENV/bin/python" "$TEST_BIN" --ignored --exact interop_python_dendrite_to_rust_axon --nocapture || RC=1
kill \$AXON_PID 2>/dev/null
wait \$AXON_PID 2>/dev/null

echo "== btvep miner <- bittensor 10.5.0 dendrites (stub model server on $STUB_PORT, miner on $MINER_PORT)"
"$VENV/bin/python" "$ROOT/scripts/interop_miner.py" stub "$STUB_PORT" > "$WORK/stub.log" 2>&1 &
STUB_PID=\$!
MINER_MNEMONIC="\$("$VENV/bin/python" "$ROOT/scripts/interop_miner.py" setup "$WORK/metagraph.json")"
env -u OPENAI_API_KEY MINER_HOTKEY_MNEMONIC="\$MINER_MNEMONIC" RUST_LOG=btvep=info "$BTVEP_BIN" \
    --config "$WORK/config.json" --data-dir "$WORK/data" miner \
    --axon.ip 127.0.0.1 --axon.port "$MINER_PORT" --openai.base_url "http://127.0.0.1:$STUB_PORT/v1" \
    --metagraph-file "$WORK/metagraph.json" > "$WORK/miner.log" 2>&1 &
MINER_PID=\$!
if wait_port "$STUB_PORT" \$STUB_PID && wait_port "$MINER_PORT" \$MINER_PID; then
    "$VENV/bin/python" "$ROOT/scripts/interop_miner.py" query "$MINER_PORT" "$WORK/wallets-miner" || RC=1
else
    echo "btvep miner or the stub model server did not come up"
    RC=1
fi
kill -TERM \$MINER_PID 2>/dev/null
wait \$MINER_PID 2>/dev/null || { echo "btvep miner did not exit cleanly on SIGTERM"; RC=1; }
kill \$STUB_PID 2>/dev/null
wait \$STUB_PID 2>/dev/null
exit \$RC
INNER

echo "== running the Python axon and the Rust dendrite"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
    echo "   (inside unshare -n: loopback only)"
    RUNNER=(unshare -n bash "$WORK/run.sh")
else
    echo "   (unshare -n unavailable: host loopback)"
    RUNNER=(bash "$WORK/run.sh")
fi
if "${RUNNER[@]}"; then
    echo "INTEROP PASS: btvep dendrite -> bittensor 10.5.0 axon, bittensor 10.5.0 dendrite -> btvep axon (success, 401 on wrong hotkey, concurrency), bittensor 10.5.0 dendrites -> btvep miner (completion, 403 unregistered, 401 replay)"
else
    echo "---- python axon log (tail) ----"
    tail -n 40 "$WORK/axon.log" 2>/dev/null || true
    echo "---- btvep miner log (tail) ----"
    tail -n 40 "$WORK/miner.log" 2>/dev/null || true
    fail "an interop check failed (see above)"
fi
