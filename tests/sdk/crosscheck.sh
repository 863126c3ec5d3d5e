#!/usr/bin/env bash
# Why: the live end-to-end cross-check of our SWAS signer against the official Python SDK.
# It records fresh requests from the pinned SDK (sign_vectors.py, in the venv of venv.sh),
# fails if they differ from the checked-in tests/sdk/vectors.json (the copy `cargo test` uses
# offline), then runs tests/sdk_crosscheck.rs against the fresh recording.
#
#   bash tests/sdk/crosscheck.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/../.." && pwd))"
cd "$root"

python="$(bash tests/sdk/venv.sh)"
fresh="$root/target/sdk/vectors.json"
mkdir -p "$(dirname "$fresh")"
"$python" tests/sdk/sign_vectors.py "$fresh"

if ! diff -u tests/sdk/vectors.json "$fresh"; then
    echo >&2
    echo "crosscheck: the SDK now sends other requests than tests/sdk/vectors.json records." >&2
    echo "crosscheck: if that is expected (new cases, new pins), refresh the checked-in copy:" >&2
    echo "    cp target/sdk/vectors.json tests/sdk/vectors.json" >&2
    exit 1
fi
echo "crosscheck: fresh SDK recording matches tests/sdk/vectors.json" >&2

SDK_VECTORS="$fresh" cargo test --locked --test sdk_crosscheck
