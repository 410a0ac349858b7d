#!/usr/bin/env bash
# Check that the dependency floors pyproject.toml declares are true: build .venv-floors with the
# lowest allowed version of every runtime dependency (core, `rl` and `report` extras), install
# arena-gym without resolving its dependencies again, and run the smoke tests marked `floors`
# (`--build-only`: build the venv and stop). Safe to rerun: reuses the venv while the pins hold.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-floors
python3 -m venv "$venv"
# torch: the local CPU build below; rich and tensorboard (SB3's progress bar and logger) are not
# exercised by the smoke tests
pins=$(python3 scripts/floor_pins.py --extra report --except torch --except rich --except tensorboard)
if [ "$(cat "$venv/pins.txt" 2>/dev/null)" != "$pins" ]; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "torch==2.13.0"
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install --quiet $pins "pytest>=8" "hypothesis>=6.100"
    "$venv/bin/python" -m pip install --quiet --no-deps -e .
    echo "$pins" > "$venv/pins.txt"
fi
echo "floor versions:" $pins
if [ "${1:-}" = "--build-only" ]; then
    exit 0
fi
"$venv/bin/python" -m pytest -q -p no:cacheprovider -m "floors and not slow" \
    tests/test_env.py tests/test_consumers.py tests/test_market_registry.py tests/test_env_introspection.py
