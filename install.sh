#!/usr/bin/env bash
# Build and install btvep and its shell completions. Safe to run again (it overwrites what it installed).
#
#   ./install.sh                 # binary into ~/.cargo/bin, completions into your user dirs
#   PREFIX=/usr/local ./install.sh   # binary into /usr/local/bin
#   BTVEP_BINARY=path/to/btvep ./install.sh   # install a prebuilt (e.g. static musl) binary instead of building
set -euo pipefail
cd "$(dirname "$0")"

if [ -n "${BTVEP_BINARY:-}" ]; then
  dest="${PREFIX:-$HOME/.cargo}/bin"
  mkdir -p "$dest"
  install -m 0755 "$BTVEP_BINARY" "$dest/btvep"
else
  command -v cargo >/dev/null || { echo "error: cargo not found; install Rust from rustup.rs first" >&2; exit 1; }
  cargo install --path . --locked --force ${PREFIX:+--root "$PREFIX"}
  dest="${PREFIX:-${CARGO_HOME:-$HOME/.cargo}}/bin"
fi

data="${XDG_DATA_HOME:-$HOME/.local/share}"
conf="${XDG_CONFIG_HOME:-$HOME/.config}"
install -D -m 0644 completions/btvep.bash "$data/bash-completion/completions/btvep"
install -D -m 0644 completions/_btvep "$data/zsh/site-functions/_btvep"
install -D -m 0644 completions/btvep.fish "$conf/fish/completions/btvep.fish"

echo "installed $dest/btvep"
echo "completions: bash ($data/bash-completion/completions/btvep), zsh ($data/zsh/site-functions/_btvep; add that dir to fpath), fish"
case ":$PATH:" in *":$dest:"*) ;; *) echo "note: $dest is not on your PATH" ;; esac
