"""Old module paths of arena-gym that still import, for one release, with a DeprecationWarning.

The package was laid out again by role (see the README's layout section). Importing a module by
its old path returns the module at its new path (the same object, so its names, classes and any
state are shared) after a :class:`DeprecationWarning` naming the new path. A module whose names
went to two new modules imports as a module holding the public names of both. :data:`MOVED`
maps each old path to its new one(s); ``import arena_gym`` installs the lookup.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType

#: Old module path -> new module path (or paths). Removed in the release after 0.1.
MOVED: dict[str, str | tuple[str, ...]] = {
    "arena_gym.exchange.rules": "arena_gym.venue",
    "arena_gym.exchange.formulas": "arena_gym.venue.formulas",
    "arena_gym.llm.decision": "arena_gym.protocol.decision",
    "arena_gym.llm.schema": "arena_gym.protocol.schema",
    "arena_gym.llm.parse": "arena_gym.protocol.parse",
    "arena_gym.llm.decode": "arena_gym.protocol.decode",
    "arena_gym.llm.prompt": "arena_gym.protocol.prompt",
    "arena_gym.llm.policy": "arena_gym.agents.llm_policy",
    "arena_gym.llm.cache": "arena_gym.agents.response_cache",
    "arena_gym.llm.budget": "arena_gym.agents.budget",
    "arena_gym.llm.profiles": "arena_gym.agents.profiles",
    "arena_gym.llm.local_server": "arena_gym.agents.local_server",
    "arena_gym.llm.response": "arena_gym.agents.response",
    "arena_gym.evaluation.policies": ("arena_gym.agents.policies", "arena_gym.campaigns.policy_specs"),
    "arena_gym.evaluation.baselines": "arena_gym.agents.baselines",
    "arena_gym.evaluation.recorded": "arena_gym.agents.recorded",
    "arena_gym.evaluation.training": "arena_gym.training.ppo_training",
    "arena_gym.evaluation.walk_forward": "arena_gym.training.walk_forward",
    "arena_gym.evaluation.sweep": "arena_gym.training.ppo_sweep",
    "arena_gym.evaluation.arena": ("arena_gym.campaigns.arena_campaign", "arena_gym.agents.policies"),
    "arena_gym.evaluation.season1": "arena_gym.campaigns.season1_campaign",
    "arena_gym.evaluation.season1_recorded": "arena_gym.campaigns.season1_recorded",
    "arena_gym.evaluation.season1_report": "arena_gym.campaigns.season1_report",
    "arena_gym.evaluation.paper": "arena_gym.campaigns.paper_trading",
    "arena_gym.evaluation.distributed": ("arena_gym.campaigns.distributed", "arena_gym.ray_cluster"),
    "arena_gym.evaluation.report": "arena_gym.evaluation.evaluation_report",
    "arena_gym.replay.replay": "arena_gym.replay.log_replay",
    "arena_gym.replay.report": "arena_gym.replay.replay_report",
}


class _MovedModuleLoader(importlib.abc.Loader):
    """Loads an old path as the module at its new path."""

    def __init__(self, new: str | tuple[str, ...]) -> None:
        self.new = (new,) if isinstance(new, str) else new

    def create_module(self, spec) -> ModuleType:
        # stacklevel 2: the importing line (warnings skips the import machinery's frames)
        warnings.warn(f"{spec.name} moved to {' and '.join(self.new)}; the old path goes away in the next release",
                      DeprecationWarning, stacklevel=2)
        modules = [importlib.import_module(name) for name in self.new]
        if len(modules) == 1:
            return modules[0]
        merged = ModuleType(spec.name, f"Deprecated: the public names of {' and '.join(self.new)}.")
        for module in modules:
            merged.__dict__.update({k: v for k, v in vars(module).items() if not k.startswith("_")})
        return merged

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module at the new path is already imported."""


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the old paths of :data:`MOVED` (and only those)."""

    def find_spec(self, fullname: str, path=None, target=None):
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _MovedModuleLoader(new))


def install() -> None:
    """Put the finder in front of Python's import machinery (once per process)."""
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())
