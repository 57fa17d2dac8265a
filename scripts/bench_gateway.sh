#!/usr/bin/env bash
# Gateway benchmark: btvep in front of a fast local miner vs the same miner queried directly, with wrk.
#
# btvep runs with auth, credits, rate limiting (a huge limit, so it is checked but never refuses) and the
# request log all on. The miner (examples/bench_miner.rs) answers instantly with a canned success, so the
# figures show what the gateway adds. Reports requests/s, p50/p99 latency at concurrency 1 and 16, and
# btvep's peak RSS. Needs `wrk` (Debian: apt-get install wrk). Loopback only.
#
#   scripts/bench_gateway.sh [SECONDS]     # default 10 s per run
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${1:-10}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }

cargo build --release --locked --quiet --bin btvep --example bench_miner
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/release"
WORK="$(mktemp -d)"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

"$TARGET/examples/bench_miner" > "$WORK/miner.out" &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q listening "$WORK/miner.out" 2>/dev/null && break; sleep 0.05; done
read -r _ _ MINER _ HOTKEY < "$WORK/miner.out"

export BTVEP_CONFIG="$WORK/config.json" BTVEP_DATA_DIR="$WORK/data" RUST_LOG=warn
cat > "$WORK/metagraph.json" <<JSON
{"netuid": 1, "neurons": [{"uid": 0, "hotkey": "$HOTKEY", "ip": "${MINER%:*}", "port": ${MINER##*:}}]}
JSON
cat > "$BTVEP_CONFIG" <<JSON
{"hotkey_mnemonic": "pact photo material cake neck asset home broken decade jealous piece pistol",
 "metagraph_file": "$WORK/metagraph.json", "rate_limiting_enabled": true,
 "global_rate_limits": [{"times": 1000000000, "seconds": 1}]}
JSON
KEY="$("$TARGET/btvep" key create -q -c 1000000000)"
"$TARGET/btvep" start --host 127.0.0.1 --port 0 2> "$WORK/server.log" &
GW_PID=$!
PIDS+=($GW_PID)
for _ in $(seq 1 100); do grep -q '^listening on' "$WORK/server.log" && break; sleep 0.05; done
GW="$(sed -n 's/^listening on //p' "$WORK/server.log")"
for _ in $(seq 1 100); do curl -sf "$GW/readyz" >/dev/null && break; sleep 0.05; done

cat > "$WORK/chat.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"messages": [{"role": "user", "content": "What is 1+1?"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BTVEP_KEY")
LUA
cat > "$WORK/miner.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"roles": ["user"], "messages": ["What is 1+1?"], "completion": ""}'
wrk.headers["Content-Type"] = "application/json"
LUA

# sanity: one request through the gateway must succeed
curl -sf "$GW/chat" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"messages": [{"role": "user", "content": "hi"}]}' >/dev/null || { cat "$WORK/server.log"; exit 1; }

run() {  # NAME URL LUA CONNECTIONS
    local out threads=$(( $4 < 2 ? 1 : 2 ))
    out="$(BTVEP_KEY="$KEY" wrk -t"$threads" -c"$4" -d"${DURATION}s" --latency -s "$3" "$2")"
    local rps p50 p99 errors
    rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    errors="$(awk '/Non-2xx/ {print $5}' <<<"$out")"
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$4" "$rps" "$p50" "$p99" "${errors:-0}"
}

echo "| target | concurrency | requests/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
for c in 1 16; do
    run "miner directly" "http://$MINER/Prompting" "$WORK/miner.lua" "$c"
    run "btvep /chat → miner" "$GW/chat" "$WORK/chat.lua" "$c"
done
echo
echo "btvep peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$GW_PID/status)"
echo "log records written: $("$TARGET/btvep" logs --json -l 0 | wc -l)"
