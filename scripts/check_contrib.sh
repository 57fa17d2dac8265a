#!/usr/bin/env bash
# Checks the deployment files: the systemd unit with `systemd-analyze verify` (when systemd's tools are
# installed), the Dockerfile with a linter from the npm registry (no Docker engine runs on CI machines).
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v systemd-analyze >/dev/null; then
  bin="$PWD/target/debug/btvep"
  [ -x "$bin" ] || cargo build --locked --quiet
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # verify needs the ExecStart binary to exist: check a copy that points at the one just built
  sed "s#/usr/local/bin/btvep#$bin#" contrib/btvep.service > "$tmp/btvep.service"
  out="$(systemd-analyze verify "$tmp/btvep.service" 2>&1 || true)"
  if [ -n "$out" ]; then
    echo "$out" >&2
    echo "FAIL: systemd-analyze verify contrib/btvep.service" >&2
    exit 1
  fi
  echo "systemd-analyze verify contrib/btvep.service: ok"
else
  echo "systemd-analyze not installed: unit not verified"
fi

if command -v npm >/dev/null; then
  lint_dir="$(mktemp -d)"
  (cd "$lint_dir" && npm install --silent --no-audit --no-fund dockerfile-utils@0.16.3 >/dev/null)
  out="$("$lint_dir/node_modules/.bin/dockerfile-utils" lint Dockerfile 2>&1 || true)"
  rm -rf "$lint_dir"
  if [ -n "$out" ]; then
    echo "$out" >&2
    echo "FAIL: dockerfile-utils lint Dockerfile" >&2
    exit 1
  fi
  echo "dockerfile-utils lint Dockerfile: ok"
fi
# what the image relies on: a non-root user and the static binary as entrypoint
grep -q '^USER 10001' Dockerfile
grep -q '^ENTRYPOINT \["/usr/local/bin/btvep"\]' Dockerfile
echo "PASS: deployment files"
