#!/usr/bin/env bash
# `make demo-down`: stop everything `make demo` started.
set -uo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$repo/target/demo"
for name in operator emulator; do
  if [ -f "$work/$name.pid" ]; then
    kill "$(cat "$work/$name.pid")" 2>/dev/null
    rm -f "$work/$name.pid"
  fi
done
bash "$repo/tests/controlplane/cluster.sh" down "$work/cluster"
echo "demo stopped"
