#!/usr/bin/env bash
# Why: one command for the emulator proof suite. It builds the operator binary (cargo is a no-op
# when it is up to date), makes the pinned official-SDK virtualenv (tests/sdk/venv.sh), then runs
# the pytest suite in this folder, which starts and stops its own emulators. It exits with
# pytest's code; extra arguments go to pytest (e.g. `-k drop -x`).
#
#   bash tests/emulator_sdk/run.sh [pytest args...]
#   SWAS_EMULATOR_BIN=/path/to/swas-image-operator bash tests/emulator_sdk/run.sh   # no build
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if [[ -z "${SWAS_EMULATOR_BIN:-}" ]]; then
    echo "run.sh: cargo build --locked" >&2
    "${CARGO:-cargo}" build --locked >&2
fi
python="$(bash tests/sdk/venv.sh)"

# No bytecode or pytest cache in the source tree.
export PYTHONDONTWRITEBYTECODE=1
status=0
"$python" -m pytest -c "$here/pytest.ini" --rootdir "$here" "$here" "$@" || status=$?
exit "$status"
