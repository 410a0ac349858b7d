"""The venue's rule schema lives beside its TOML presets and depends on nothing in the market
layer (the market layer imports the contract specs from the venue, not the other way round)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import json, sys
from arena_gym.venue import RULES_DIR, available_rules, load_rules
for name in available_rules():
    load_rules(name)
print(json.dumps({"market": sorted(m for m in sys.modules if m.startswith("arena_gym.market")),
                  "dir": str(RULES_DIR), "rules": available_rules()}))
"""


def test_rules_load_every_shipped_preset_without_importing_the_market_layer():
    run = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["market"] == []
    assert Path(found["dir"]) == ROOT / "arena_gym" / "venue"
    assert found["rules"] == ["alpha-arena-s1", "binance-usdm", "hyperliquid"]
