#!/usr/bin/env bash
# One-core, two-hop gateway benchmark (issue: CPU and memory per request, measured as validators deploy it).
#
# `btvep start --devnet 1 --devnet-model-url <mock OpenAI server>`: every request goes client → gateway (auth,
# credits, rate limiting enabled but never refusing, request log) → signed synapse request → btvep miner (verify)
# → model server and back. The whole btvep process is pinned to core 0 with taskset; wrk and the model stub
# (examples/stream_model.rs answering plain requests at once) run on core 1. Reports, per concurrency:
# requests/s, p50/p99, btvep CPU ms per request (utime+stime from /proc/PID/stat over the run), then the
# model server's own p50 at 1 connection (to give the added p50), peak RSS (VmHWM) after a 64-connection
# run, and RSS a minute after the load stops. Needs wrk and taskset. Loopback only.
#
#   scripts/bench_onecore.sh [SECONDS] [IDLE_SECONDS]     # defaults: 10 s per run, 60 s idle at the end
#   PERF_OUT=perf.data scripts/bench_onecore.sh            # also records a perf profile of the 16-connection run
#   COMPARE_STRATEGIES="uids:0 best:1" ROUNDS=4 scripts/bench_onecore.sh 5   # strategies alternated, 16 connections
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${1:-10}"
IDLE="${2:-60}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset not found: apt-get install util-linux" >&2; exit 1; }

cargo build --release --locked --quiet --bin btvep --example stream_model
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/release"
WORK="$(mktemp -d)"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
TICKS="$(getconf CLK_TCK)"

FIRST_MS=0 CHUNKS=8 taskset -c 1 "$TARGET/examples/stream_model" > "$WORK/model.out" &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^listening on' "$WORK/model.out" 2>/dev/null && break; sleep 0.05; done
MODEL="$(sed -n 's/^listening on //p' "$WORK/model.out")"

export BTVEP_CONFIG="$WORK/config.json" BTVEP_DATA_DIR="$WORK/data" RUST_LOG=warn
cat > "$BTVEP_CONFIG" <<JSON
{"hotkey_mnemonic": "pact photo material cake neck asset home broken decade jealous piece pistol",
 "rate_limiting_enabled": true, "global_rate_limits": [{"times": 1000000000, "seconds": 1}]}
JSON
KEY="$("$TARGET/btvep" key create -q -c 1000000000)"
taskset -c 0 ${GW_WRAP:-} "$TARGET/btvep" start --host 127.0.0.1 --port 0 --devnet 1 \
    --devnet-model-url "http://$MODEL/v1" --devnet-model stub 2> "$WORK/server.log" &
GW_PID=$!
PIDS+=($GW_PID)
for _ in $(seq 1 200); do grep -q '^listening on' "$WORK/server.log" && break; sleep 0.05; done
GW="$(sed -n 's/^listening on //p' "$WORK/server.log")"
for _ in $(seq 1 100); do curl -sf "$GW/readyz" >/dev/null && break; sleep 0.05; done
curl -sf "$GW/chat" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"messages": [{"role": "user", "content": "hi"}]}' >/dev/null || { cat "$WORK/server.log"; exit 1; }

cat > "$WORK/chat.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"messages": [{"role": "user", "content": "What is 1+1?"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BTVEP_KEY")
LUA
cat > "$WORK/model.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model": "stub", "messages": [{"role": "user", "content": "What is 1+1?"}]}'
wrk.headers["Content-Type"] = "application/json"
LUA

cpu_ticks() { awk '{print $14 + $15}' "/proc/$GW_PID/stat"; }
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$GW_PID/status"; }

run() {  # NAME URL LUA CONNECTIONS
    local out threads=$(( $4 < 2 ? 1 : 2 )) before after
    before="$(cpu_ticks)"
    out="$(BTVEP_KEY="$KEY" taskset -c 1 wrk -t"$threads" -c"$4" -d"${DURATION}s" --latency -s "$3" "$2")"
    after="$(cpu_ticks)"
    local rps p50 p99 errors reqs cpu
    rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    reqs="$(awk '/requests in/ {print $1}' <<<"$out")"
    p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    errors="$(awk '/Non-2xx/ {print $5}' <<<"$out")"
    cpu="$(awk -v d="$((after - before))" -v t="$TICKS" -v n="$reqs" 'BEGIN {printf "%.3f", d * 1000 / t / n}')"
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$4" "$rps" "$p50" "$p99" "$cpu" "${errors:-0}"
}

if [[ -n "${COMPARE_STRATEGIES:-}" ]]; then
    # COMPARE_STRATEGIES="uids:0 best:1" ROUNDS=4: the /chat `strategy` field, alternated, 16 connections
    echo "| strategy | connections | requests/s | p50 | p99 | btvep CPU ms/request | non-2xx |"
    echo "|---|---|---|---|---|---|---|"
    for _ in $(seq 1 "${ROUNDS:-4}"); do
        for st in $COMPARE_STRATEGIES; do
            cat > "$WORK/st.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"strategy": "$st", "messages": [{"role": "user", "content": "What is 1+1?"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BTVEP_KEY")
LUA
            run "$st" "$GW/chat" "$WORK/st.lua" 16
        done
    done
    exit 0
fi
echo "| target | connections | requests/s | p50 | p99 | btvep CPU ms/request | non-2xx |"
echo "|---|---|---|---|---|---|---|"
run "model server directly" "http://$MODEL/v1/chat/completions" "$WORK/model.lua" 1
echo "RSS idle before load: $(rss VmRSS) kB" >&2
run "btvep /chat (two hops, one core)" "$GW/chat" "$WORK/chat.lua" 1   # warm-up
run "btvep /chat (two hops, one core)" "$GW/chat" "$WORK/chat.lua" 1
if [[ -n "${PERF_OUT:-}" ]]; then   # profile the 16-connection run: PERF_OUT=perf.data scripts/bench_onecore.sh
    perf record -F 1999 -g -p "$GW_PID" -o "$PERF_OUT" -- sleep "$DURATION" 2>/dev/null &
    PERF_PID=$!
fi
run "btvep /chat (two hops, one core)" "$GW/chat" "$WORK/chat.lua" 16
[[ -n "${PERF_OUT:-}" ]] && wait "$PERF_PID"
run "btvep /chat (two hops, one core)" "$GW/chat" "$WORK/chat.lua" 64
echo
echo "btvep peak RSS (VmHWM) through the runs: $(rss VmHWM) kB; RSS right after the load: $(rss VmRSS) kB"
sleep "$IDLE"
echo "btvep RSS ${IDLE} s after the load stopped: $(rss VmRSS) kB"
echo "btvep memory 60 s after the load (smaps_rollup): $(grep -E '^(Rss|Anonymous|Private_Dirty):' /proc/$GW_PID/smaps_rollup | tr -s ' ' | tr '\n' ' ')"
echo "log records written: $("$TARGET/btvep" logs --json -l 0 | wc -l)"
