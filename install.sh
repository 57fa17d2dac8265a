#!/usr/bin/env bash
# Build and install btvep and its shell completions. Safe to run again (it overwrites what it installed).
#
#   ./install.sh                 # binary into ~/.cargo/bin, completions into your user dirs
#   PREFIX=/usr/local ./install.sh   # binary into /usr/local/bin
#   BTVEP_BINARY=path/to/btvep ./install.sh   # install a prebuilt (e.g. static musl) binary instead of building
#   sudo ./install.sh --service  # also: a `btvep` system user, /etc/btvep, and the systemd unit (as root)
set -euo pipefail
cd "$(dirname "$0")"

service=0
case "${1:-}" in
  --service) service=1; PREFIX="${PREFIX:-/usr/local}" ;;
  "") ;;
  *) echo "usage: $0 [--service]" >&2; exit 2 ;;
esac
if [ "$service" = 1 ] && [ "$(id -u)" != 0 ]; then
  echo "error: --service installs a system user and a unit: run it as root (sudo $0 --service)" >&2
  exit 1
fi

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

if [ "$service" = 1 ]; then
  if [ "$dest/btvep" != /usr/local/bin/btvep ]; then
    install -m 0755 "$dest/btvep" /usr/local/bin/btvep
  fi
  if ! id btvep >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/btvep --no-create-home --shell /usr/sbin/nologin btvep
  fi
  install -d -m 0700 -o btvep -g btvep /etc/btvep
  install -m 0644 contrib/btvep.service /etc/systemd/system/btvep.service
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
  fi
  echo "installed /etc/systemd/system/btvep.service (user btvep, state in /var/lib/btvep, config in /etc/btvep)"
  echo "next: put the hotkey mnemonic in /etc/btvep/hotkey_mnemonic (mode 0600, owner root), then"
  echo "      sudo systemctl enable --now btvep    (see docs/operations.md)"
fi
