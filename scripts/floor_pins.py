"""Print the lowest versions pyproject.toml allows, one ``name==version`` per line.

Reads the core dependencies and the ``rl`` extra (the runtime dependencies the floor smoke
suite exercises), keeps the requirements whose environment marker applies to this Python, and
pins each one that declares a ``>=`` floor to that floor. ``--except NAME`` leaves a package
out (installed separately, e.g. a local torch build). Used by ``scripts/check_floors.sh``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from pip._vendor.packaging.requirements import Requirement


def floor_pins(pyproject: Path, extras: list[str], skip: set[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    pins = []
    for line in lines:
        req = Requirement(line)
        if req.name.lower() in skip or (req.marker is not None and not req.marker.evaluate()):
            continue
        floors = [spec.version for spec in req.specifier if spec.operator == ">="]
        if not floors:
            sys.exit(f"{req.name} declares no '>=' floor in {pyproject}; give it one")
        pins.append(f"{req.name}=={floors[0]}")
    return pins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyproject", type=Path, default=Path(__file__).resolve().parents[1] / "pyproject.toml")
    parser.add_argument("--extra", action="append", default=["rl"], help="extras to include (default: rl)")
    parser.add_argument("--except", dest="skip", action="append", default=[], help="leave this package out")
    args = parser.parse_args()
    print("\n".join(floor_pins(args.pyproject, args.extra, {s.lower() for s in args.skip})))


if __name__ == "__main__":
    main()
