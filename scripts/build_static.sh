#!/usr/bin/env bash
# Builds a fully static `btvep` release binary and checks it (ldd must say "not a dynamic executable").
#
# With the musl target installed (`rustup target add x86_64-unknown-linux-musl`), it builds for musl, as
# issue 7 asks. Where that target cannot be installed (this project's machines reach crates.io but not
# rustup's download server), it links glibc statically instead (`-C target-feature=+crt-static`). Both use
# rustls, so no OpenSSL is needed. Caveat of static glibc: DNS lookups go through glibc's NSS, which cannot
# load its plugins from a static binary; /etc/hosts and plain DNS still work, LDAP/mDNS host sources do not.
#
#   scripts/build_static.sh            # prints the binary's path, size and a startup time
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
    TARGET=x86_64-unknown-linux-musl
    cargo build --release --locked --target "$TARGET" --bin btvep
else
    TARGET=x86_64-unknown-linux-gnu
    echo "musl target not installed: linking glibc statically (crt-static, non-PIE)" >&2
    RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" cargo build --release --locked --target "$TARGET" --bin btvep
fi
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$TARGET/release/btvep"
echo "binary: $BIN"
file "$BIN" 2>/dev/null || true
if ldd "$BIN" 2>&1 | grep -q "not a dynamic executable"; then
    echo "ldd: not a dynamic executable"
else
    ldd "$BIN" || true
    echo "STATIC BUILD FAIL: the binary is dynamically linked" >&2
    exit 1
fi
echo "size: $(stat -c %s "$BIN") bytes ($(du -h "$BIN" | cut -f1))"
"$BIN" --version
start=$(date +%s%N); for _ in $(seq 1 20); do "$BIN" --version >/dev/null; done; end=$(date +%s%N)
echo "startup (--version, mean of 20): $(( (end - start) / 20000 )) µs"
