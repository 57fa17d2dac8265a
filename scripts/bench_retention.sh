#!/usr/bin/env bash
# Retention benchmark: does pruning a large, old request log disturb a server under load?
#
# Seeds RECORDS log records 60 days old (examples/seed_logs.rs), starts `btvep start --devnet 1`, and runs
# wrk at 16 connections twice: once idle, once while `btvep logs prune --older-than 30d` removes every seeded
# record through the running server. Prints requests/s and p50/p99 of both runs and how long the prune took.
# Needs wrk (Debian: apt-get install wrk). Loopback only.
#
#   scripts/bench_retention.sh [RECORDS] [SECONDS]     # defaults: 1000000 records, 10 s per run
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RECORDS="${1:-1000000}"
DURATION="${2:-10}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }

cargo build --release --locked --quiet --bin btvep --example seed_logs
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/release"
WORK="$(mktemp -d)"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
export BTVEP_CONFIG="$WORK/config.json" BTVEP_DATA_DIR="$WORK/data" RUST_LOG=warn
echo '{"subtensor_network": "ws://127.0.0.1:9", "log_retention_days": 0}' > "$BTVEP_CONFIG"
"$TARGET/examples/seed_logs" "$BTVEP_DATA_DIR" "$RECORDS" 60

"$TARGET/btvep" start --devnet 1 --port 0 2> "$WORK/server.log" &
PIDS+=($!)
for _ in $(seq 1 200); do grep -q '^listening on' "$WORK/server.log" && break; sleep 0.05; done
GW="$(sed -n 's/^listening on //p' "$WORK/server.log")"
KEY="$(sed -n "s/.*Bearer \([^']*\)'.*/\1/p" "$WORK/server.log" | head -1)"
for _ in $(seq 1 100); do curl -sf "$GW/readyz" >/dev/null && break; sleep 0.05; done

cat > "$WORK/chat.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"messages": [{"role": "user", "content": "What is 1+1?"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BTVEP_KEY")
LUA
run() {  # NAME
    local out
    out="$(BTVEP_KEY="$KEY" wrk -t2 -c16 -d"${DURATION}s" --latency -s "$WORK/chat.lua" "$GW/chat")"
    printf '| %s | %s | %s | %s |\n' "$1" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
        "$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")"
}
echo "| run (16 connections, ${DURATION} s) | requests/s | p50 | p99 |"
echo "|---|---|---|---|"
run "no pruning"
( start=$(date +%s.%N)
  "$TARGET/btvep" logs prune --older-than 30d > "$WORK/prune.out" 2>&1
  echo "prune took $(echo "$(date +%s.%N) - $start" | bc) s: $(cat "$WORK/prune.out")" > "$WORK/prune.time" ) &
PRUNE=$!
run "while pruning $RECORDS records"
wait "$PRUNE"
echo
cat "$WORK/prune.time"
