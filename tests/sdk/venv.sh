#!/usr/bin/env bash
# Why: the SDK cross-check (and later the pytest suite) needs the official Alibaba Cloud Python
# SDK at the exact versions of requirements.txt. This creates that virtualenv once, reinstalls
# only when requirements.txt changes (a stamp holds its sha256), and prints the venv's python
# path as the only line on stdout; all progress goes to stderr.
#
#   python="$(bash tests/sdk/venv.sh)"      # venv at $SDK_VENV, else <repo>/target/sdk-venv
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/../.." && pwd))"
venv="${SDK_VENV:-$root/target/sdk-venv}"
requirements="$here/requirements.txt"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
stamp="$venv/.requirements.sha256"

# One installer at a time (parallel test runners may call this together).
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9

if [[ ! -x "$venv/bin/python" ]]; then
    echo "venv.sh: creating $venv" >&2
    python3 -m venv "$venv" >&2
fi
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
    echo "venv.sh: installing $requirements" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$requirements" >&2
    echo "$want" >"$stamp"
else
    echo "venv.sh: $venv is up to date" >&2
fi

echo "$venv/bin/python"
