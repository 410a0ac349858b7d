#!/usr/bin/env bash
# Create .venv in the repository and install arena-gym with every extra needed to run the demo
# and the tests. The CPU build of torch is installed first so that stable-baselines3 does not
# pull a large GPU build. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "install.sh: creating .venv"
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
echo "install.sh: installing torch (CPU build)"
.venv/bin/python -m pip install --quiet "torch==2.13.0"
echo "install.sh: installing arena-gym with all its extras"
.venv/bin/python -m pip install --quiet -e ".[all]"
echo "install.sh: done; enter the environment with: source .venv/bin/activate"
