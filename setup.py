"""Build hook: ship the preset folders inside the wheel.

``envs/`` and ``policies/`` live at the repository root, where users edit them in a checkout.
A wheel copies them into ``arena_gym/_bundled/``, where :mod:`arena_gym.preset_files` finds
them when arena-gym is installed without its checkout. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PRESET_FOLDERS = ("envs", "policies")


class BuildWithPresets(build_py):
    """``build_py`` that also copies the preset folders into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:   # an editable install reads the checkout's folders directly
            return
        for name in PRESET_FOLDERS:
            target = Path(self.build_lib) / "arena_gym" / "_bundled" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithPresets})
