"""The package's imports run one way: no cycle between modules or between packages, and no import
against the layer order below (the README's layout section states it in words).

Every ``import`` and ``from ... import`` of every module of ``arena_gym`` counts, those inside
functions and under ``if TYPE_CHECKING`` included: an import deferred for speed is still an
arrow. A room is a subpackage (``arena_gym/env/``) or a top-level module (``arena_gym/presets.py``).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "arena_gym"

#: Rooms from the ground floor up. A room may import the rooms of lower layers only; rooms of the
#: same layer do not import each other. The ground: small helpers, ``arena_gym`` itself (the
#: package's face, which registers the env ids and the old module paths) and the preset folders'
#: lookup (which finds them from the package's own file).
LAYERS: list[set[str]] = [
    {"deprecated_paths", "ray_cluster", "registration", "row_buffer", "text_format"},
    {"arena_gym"},
    {"preset_files"},
    {"venue"},
    {"exchange", "market"},
    {"data", "protocol"},
    {"env", "replay"},
    {"presets"},
    {"agents", "openenv"},
    {"evaluation"},
    {"training", "llm_training"},
    {"campaigns"},
    {"llm", "rllib", "cli"},
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The ``arena_gym`` modules ``path`` imports (a name imported from a package counts as the
    submodule when there is one, else as the package)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                       for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] != "arena_gym":
                continue
            while target not in modules and "." in target:
                target = target.rpartition(".")[0]
            if target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imported_modules(p, modules) for p in paths}


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


GRAPH = import_graph()


def test_the_walk_sees_imports_inside_functions_and_relative_ones():
    # the walk must see what it is meant to police, or every other test here passes vacuously
    assert "arena_gym.venue" in GRAPH["arena_gym.exchange.engine"]          # ``from ..venue import``
    assert "arena_gym.market.synthetic" in GRAPH["arena_gym.presets"]        # inside a function
    assert len(GRAPH) > 100


def test_no_module_imports_itself_back():
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH) or [])


def test_no_package_imports_itself_back():
    rooms: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        rooms[room(module)] |= {room(t) for t in targets if room(t) != room(module)}
    assert find_cycle(rooms) is None, " -> ".join(find_cycle(rooms) or [])


def test_every_room_has_a_layer():
    layered = set().union(*LAYERS)
    assert {room(m) for m in GRAPH} <= layered, sorted({room(m) for m in GRAPH} - layered)
    assert sum(len(layer) for layer in LAYERS) == len(layered), "a room is named in two layers"


def test_imports_go_down_the_layers_only():
    layer_of = {r: i for i, layer in enumerate(LAYERS) for r in layer}
    against = sorted(f"{module} -> {target}" for module, targets in GRAPH.items() for target in targets
                     if room(module) != room(target) and layer_of[room(target)] >= layer_of[room(module)])
    assert not against, "imports against the layer order:\n" + "\n".join(against)


@pytest.mark.parametrize("old, new", [("arena_gym.exchange.rules", "arena_gym.venue"),
                                      ("arena_gym.exchange.formulas", "arena_gym.venue.formulas"),
                                      ("arena_gym.llm.parse", "arena_gym.protocol.parse"),
                                      ("arena_gym.llm.policy", "arena_gym.agents.llm_policy"),
                                      ("arena_gym.evaluation.season1", "arena_gym.campaigns.season1_campaign"),
                                      ("arena_gym.evaluation.training", "arena_gym.training.ppo_training"),
                                      ("arena_gym.replay.replay", "arena_gym.replay.log_replay")])
def test_an_old_module_path_still_imports_with_a_deprecation_warning(old, new):
    import importlib
    import sys

    import arena_gym  # noqa: F401  (installs the old paths)

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        moved = importlib.import_module(old)
    assert moved is importlib.import_module(new)


def test_a_module_split_in_two_keeps_the_public_names_of_both_at_its_old_path():
    import importlib
    import sys

    from arena_gym.agents.policies import SB3Policy
    from arena_gym.campaigns.policy_specs import policy_from_spec

    sys.modules.pop("arena_gym.evaluation.policies", None)
    with pytest.warns(DeprecationWarning, match="arena_gym.evaluation.policies moved to arena_gym.agents.policies and "
                                                "arena_gym.campaigns.policy_specs"):
        old = importlib.import_module("arena_gym.evaluation.policies")
    assert old.SB3Policy is SB3Policy and old.policy_from_spec is policy_from_spec


def test_file_names_are_unique_across_the_package():
    names: dict[str, list[str]] = defaultdict(list)
    for path in PACKAGE.rglob("*.py"):
        if path.name != "__init__.py":
            names[path.name].append(str(path.relative_to(PACKAGE)))
    assert not {name: paths for name, paths in names.items() if len(paths) > 1}


def test_the_old_llm_face_still_exports_its_names_with_a_deprecation_warning():
    import importlib
    import sys

    import arena_gym.agents
    import arena_gym.protocol

    sys.modules.pop("arena_gym.llm", None)
    with pytest.warns(DeprecationWarning, match="arena_gym.llm is deprecated"):
        llm = importlib.import_module("arena_gym.llm")
    assert llm.parse_decision is arena_gym.protocol.parse_decision
    assert llm.LLMPolicy is arena_gym.agents.LLMPolicy
