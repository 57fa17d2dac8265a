# Sourced by the CI scripts that need a running btvep: builds it and starts `btvep start --devnet 2` on a free
# loopback port with a temp config and data dir (nothing leaves the machine).
#
# Needs: ROOT, and a `fail MESSAGE` function. Sets: BTVEP (binary), WORK (temp dir, removed on exit),
# BTVEP_CONFIG / BTVEP_DATA_DIR (exported, so CLI calls reach the server), SERVER (pid), URL (http://IP:PORT),
# once /readyz answers.

echo "== building btvep"
cargo build --locked --bin btvep --quiet || fail "cargo build failed"
BTVEP="${CARGO_TARGET_DIR:-$ROOT/target}/debug/btvep"

WORK="$(mktemp -d)"
export BTVEP_CONFIG="$WORK/config.json" BTVEP_DATA_DIR="$WORK/data" RUST_LOG="warn,btvep=info"
unset HOTKEY_MNEMONIC RATE_LIMITING_ENABLED GLOBAL_RATE_LIMITS OPENAI_FILTER_ENABLED OPENAI_API_KEY BTVEP_ADMIN_API_KEY
echo '{"subtensor_network": "ws://127.0.0.1:9"}' > "$BTVEP_CONFIG"
"$BTVEP" start --devnet 2 --host 127.0.0.1 --port 0 2> "$WORK/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT

URL=""
for _ in $(seq 1 200); do
    URL="$(sed -n 's/^listening on //p' "$WORK/server.log" | head -1)"
    [ -n "$URL" ] && break
    kill -0 $SERVER 2>/dev/null || { cat "$WORK/server.log"; fail "btvep start exited"; }
    sleep 0.1
done
[ -n "$URL" ] || fail "btvep did not start: $(cat "$WORK/server.log")"
for _ in $(seq 1 100); do
    curl -fsS "$URL/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
echo "== btvep listening on $URL"
