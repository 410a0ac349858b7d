#!/usr/bin/env bash
# Create .venv in the repository and install arena-gym with every extra needed to run the demo
# and the tests. The CPU build of torch is installed first so that stable-baselines3 does not
# pull a large GPU build. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[all]"
