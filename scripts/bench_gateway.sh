#!/usr/bin/env bash
# Gateway benchmark: btvep in front of a fast local miner vs the same miner queried directly, with wrk.
#
# btvep runs with auth, credits, rate limiting (a huge limit, so it is checked but never refuses) and the
# request log all on. The miner (examples/bench_miner.rs) answers instantly with a canned success, so the
# figures show what the gateway adds. Reports requests/s, p50/p99 latency at concurrency 1 and 16, and
# btvep's peak RSS. Needs `wrk` (Debian: apt-get install wrk). Loopback only.
#
# Then the miner protocols: btvep in front of a real `btvep miner --builtin` speaking the synapse and btauth (both
# verify signatures), requests/s and p50 per protocol; and time to first token of a streaming model
# (examples/stream_model.rs: 200 ms prefill, 20 chunks 50 ms apart) behind `btvep miner --protocol btauth`, measured
# directly at the miner and through btvep (examples/ttft.rs).
#
#   scripts/bench_gateway.sh [SECONDS]     # default 10 s per run
#   BENCH_STRATEGY=best:1 scripts/bench_gateway.sh   # the gateway rows with another query strategy (default uids:0)
#   scripts/bench_gateway.sh --one-core [SECONDS] [IDLE_SECONDS]
#       the deployment mode: `btvep start --devnet 1` in front of a model stub, the whole btvep process pinned to
#       one core, CPU ms per request and peak RSS beside requests/s (scripts/bench_onecore.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ "${1:-}" == "--one-core" ]]; then
    shift
    exec "$ROOT/scripts/bench_onecore.sh" "$@"
fi
DURATION="${1:-10}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }

cargo build --release --locked --quiet --bin btvep --example bench_miner --example stream_model --example ttft
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
 "default_query_strategy": "${BENCH_STRATEGY:-uids:0}",
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

# ------------------------------------------------------------------ miner protocols
VALIDATOR_SS58="5DSaCVFqgnnk3sghDdeJhMsEwksg9FKLA34cgdk5BkGUFjY4"   # the hotkey_mnemonic above
MINER_MNEMONIC="depend slender expect flag illness lecture rose tray unveil bracket uniform tornado"
MINER_SS58="5ELTaxoucN2THxQwJzpXaKBx9daaciprmB6VRb4MQqE7iCcS"

wait_listening() {  # LOGFILE -> prints the address
    for _ in $(seq 1 200); do
        grep -q '^listening on' "$1" 2>/dev/null && break
        sleep 0.05
    done
    sed -n 's/^listening on //p' "$1" | head -1
}

start_miner() {  # NAME PROTOCOL [miner args...] -> MINER_ADDR
    local name="$1" protocol="$2"
    shift 2
    cat > "$WORK/$name-mg.json" <<JSON
{"netuid": 1, "neurons": [{"uid": 0, "hotkey": "$MINER_SS58", "ip": "127.0.0.1", "port": 1},
 {"uid": 1, "hotkey": "$VALIDATOR_SS58", "ip": "0.0.0.0", "port": 0, "stake": 10.0, "validator_permit": true}]}
JSON
    MINER_HOTKEY_MNEMONIC="$MINER_MNEMONIC" "$TARGET/btvep" --config "$WORK/$name-m.json" --data-dir "$WORK/$name-m" \
        miner --protocol "$protocol" --axon.ip 127.0.0.1 --axon.port 0 --metagraph-file "$WORK/$name-mg.json" \
        --miner.max_concurrency 64 "$@" 2> "$WORK/$name-miner.log" &
    PIDS+=($!)
    MINER_ADDR="$(wait_listening "$WORK/$name-miner.log")"
}

start_gw() {  # NAME PROTOCOL MINER_ADDR -> GW_URL, GW_KEY
    local name="$1" protocol="$2" addr="$3"
    cat > "$WORK/$name-gmg.json" <<JSON
{"netuid": 1, "neurons": [{"uid": 0, "hotkey": "$MINER_SS58", "ip": "${addr%:*}", "port": ${addr##*:}}]}
JSON
    cat > "$WORK/$name-g.json" <<JSON
{"hotkey_mnemonic": "pact photo material cake neck asset home broken decade jealous piece pistol",
 "metagraph_file": "$WORK/$name-gmg.json", "miner_protocol": "$protocol", "default_query_strategy": "uids:0",
 "rate_limiting_enabled": true, "global_rate_limits": [{"times": 1000000000, "seconds": 1}]}
JSON
    GW_KEY="$(BTVEP_CONFIG="$WORK/$name-g.json" BTVEP_DATA_DIR="$WORK/$name-g" "$TARGET/btvep" key create -q -c 1000000000)"
    BTVEP_CONFIG="$WORK/$name-g.json" BTVEP_DATA_DIR="$WORK/$name-g" "$TARGET/btvep" start --host 127.0.0.1 --port 0 \
        2> "$WORK/$name-gw.log" &
    PIDS+=($!)
    GW_URL="$(wait_listening "$WORK/$name-gw.log")"
    for _ in $(seq 1 100); do curl -sf "$GW_URL/readyz" >/dev/null && break; sleep 0.05; done
    curl -sf "$GW_URL/chat" -H "Authorization: Bearer $GW_KEY" -H 'Content-Type: application/json' \
        -d '{"messages": [{"role": "user", "content": "hi"}]}' >/dev/null \
        || { cat "$WORK/$name-gw.log" "$WORK/$name-miner.log"; exit 1; }
}

echo
echo "Miner protocols (btvep /chat → btvep miner --builtin, which verifies every signature):"
echo
echo "| protocol | concurrency | requests/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
for protocol in synapse btauth; do
    start_miner "$protocol" "$protocol" --builtin
    start_gw "$protocol" "$protocol" "$MINER_ADDR"
    KEY="$GW_KEY"
    for c in 1 16; do
        run "$protocol" "$GW_URL/chat" "$WORK/chat.lua" "$c"
    done
done

echo
echo "Time to first token, streaming model (200 ms prefill, 20 chunks 50 ms apart) behind btvep miner --protocol btauth:"
FIRST_MS=200 DELAY_MS=50 CHUNKS=20 "$TARGET/examples/stream_model" > "$WORK/model.out" &
PIDS+=($!)
MODEL="$(wait_listening "$WORK/model.out")"
start_miner stream btauth --openai.base_url "http://$MODEL/v1" --openai.model_name stub
start_gw stream btauth "$MINER_ADDR"
echo
echo "| path | result |"
echo "|---|---|"
echo "| miner directly (btauth-signed) | $(BENCH_MNEMONIC="pact photo material cake neck asset home broken decade jealous piece pistol" \
    "$TARGET/examples/ttft" "http://$MINER_ADDR/v1/chat/completions" 20 --btauth-receiver "$MINER_SS58") |"
echo "| btvep /v1/chat/completions → miner | $("$TARGET/examples/ttft" "$GW_URL/v1/chat/completions" 20 --bearer "$GW_KEY") |"
