"""A wheel carries the env presets, policy presets, prompt templates and exchange rule presets, and
finds them without the checkout."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FILES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "arena_gym", "envs", "policies")

PROBE = """
import json
from arena_gym.env import PerpTradingEnv
from arena_gym.venue import available_rules
from arena_gym.agents.profiles import load_profile
from arena_gym.preset_files import envs_dir, policies_dir
from arena_gym.presets import load_env_preset
market, config = load_env_preset("alpha-arena-s1")
env = PerpTradingEnv(market, config, observation_mode="text", action_mode="decision")
prompt, _ = env.reset(seed=0)
print(json.dumps({
    "envs": str(envs_dir()), "policies": str(policies_dir()),
    "assets": list(market.symbols), "capital": config.initial_capital,
    "rules": available_rules(), "model": load_profile("gpt-5").model,
    "prompt_chars": len(prompt), "system_chars": len(env.system_prompt),
}))
"""


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"   # a clean copy: building in the checkout could reuse a stale build/ folder
    source.mkdir()
    for name in SOURCE_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                            "--quiet", "-w", str(out)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(out.glob("arena_gym-*.whl"))
    site = out / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return site


def test_wheel_ships_every_preset_file(unpacked_wheel):
    for folder in ("envs", "policies"):
        shipped = {p.relative_to(unpacked_wheel / "arena_gym" / "_bundled" / folder)
                   for p in (unpacked_wheel / "arena_gym" / "_bundled" / folder).rglob("*") if p.is_file()}
        expected = {p.relative_to(ROOT / folder) for p in (ROOT / folder).rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts}
        assert shipped == expected and expected


def test_installed_wheel_reads_its_bundled_presets_outside_the_checkout(unpacked_wheel, tmp_path):
    env = {"PYTHONPATH": str(unpacked_wheel), "PATH": "/usr/bin:/bin", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    bundled = unpacked_wheel / "arena_gym" / "_bundled"
    assert found["envs"] == str(bundled / "envs") and found["policies"] == str(bundled / "policies")
    assert found["assets"] == ["BTC", "ETH", "SOL", "BNB", "XRP", "DOGE"] and found["capital"] == 10_000.0
    assert found["rules"] == ["alpha-arena-s1", "binance-usdm", "hyperliquid"]
    assert found["model"] and found["prompt_chars"] > 1_000 and found["system_chars"] > 1_000
