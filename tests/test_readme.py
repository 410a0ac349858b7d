"""Every shell command and Python snippet of README.md runs as written.

The README is read at collection time, so a new section's commands are tested without
touching this file:

* fenced ```` ```python ```` blocks are Python snippets, run with the project's interpreter;
* fenced ```` ```bash ````/```` ```sh ```` blocks and indented code blocks are shell commands, one per line;
* inline code spans that start with a command (``arena-gym``, ``python``, ``bash``, ``.venv/bin/``,
  ``pip``) are shell commands too.

A Python snippet with no ``import`` continues the README's previous snippet (as a reader
would run it in one session): it runs after that one's code. A bare command name in prose
(``arena-gym replay``) names the command rather than runs it: it is checked with ``--help``
unless :data:`SLOW` lists it to run as written.

Each runs with bash in its own temporary folder holding the checkout's ``envs/``, ``policies/``
and ``scripts/`` and a ``.venv`` link to the running interpreter's environment (whose ``bin`` is
first on ``PATH``, so ``python`` and ``arena-gym`` are the project's), with ``runs/`` and the data
cache empty, offline, and no provider key set. A command that names ``runs/demo`` gets a copy
of a small demo run (``arena-gym demo`` with few timesteps and windows, made once per session).

What does not run in the default suite is listed below with its reason: :data:`SLOW` commands
run under ``-m slow``; :data:`SKIP` ones need what a test machine cannot have. A span with
placeholders (``DIR``, ``RUN_DIR``, ``...``) is a synopsis, not a command, and is skipped
saying so. A failure names the README line of the block and shows its output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
VENV = Path(sys.prefix)

#: Commands or snippets (matched by a substring) that take minutes: run under ``-m slow``.
SLOW = {
    "arena-gym demo": "trains PPO for 150,000 steps and plays 96 episodes (about a minute)",
    "arena-gym train --timesteps 50000": "trains PPO for 50,000 steps",
    "arena-gym arena --env alpha-arena-s1": "plays 96 contest-length episodes",
    "scripts/benchmark_llm_vs_ppo.py": "trains PPO and plays the benchmark",
    "model.learn(": "trains PPO for 200,000 steps (about a minute)",
    "arena-gym sweep --timesteps": "trains eight PPO trials on Ray Tune (minutes on two cores); tests/test_ray.py "
                                   "runs a two-trial sweep",
    "build_algo()": "starts Ray and trains RLlib PPO for two iterations (about a minute); tests/test_ray.py runs "
                    "the same path",
}

#: Commands or snippets (matched by a substring) a test machine cannot run, with the reason.
SKIP = {
    "--add-sweep runs/sweep": "reads the folder the README's previous command (arena-gym sweep --out runs/sweep) "
                              "writes, and each command runs in its own folder; tests/test_ray.py covers --add-sweep",
    "scripts/install.sh": "installs the environment; CI runs scripts/install.sh before the suite, and the demo and "
                          "the test suite it chains are run by their own entries",
    "python -m pytest": "the test suite itself",
    "pip install -e": "installs an extra from a package registry; CI installs the [all] extras",
    "local-smollm2": "needs the local-llm extra (a compiled llama.cpp server and a model file); tested by the "
                     "realmodel tests",
    "arena-gym download --exchange": "downloads from an exchange (network)",
    "arena-gym paper --env": "polls an exchange for live bars (network); tests/test_paper.py runs the command on a "
                             "fake exchange",
    "load_cached_market(": "reads the download cache, filled from the network",
    "arena-gym serve-env --env": "serves until interrupted; tests/test_openenv_server.py serves the env and plays it",
    "scripts/load_test_env_server.py": "needs the train-llm extra (openenv-core), which the [all] extras leave out; "
                                       "tests/test_openenv_server.py covers the server",
    "arena-gym train-llm --steps": "needs the train-llm extra and trains the 135M model for tens of minutes on two "
                                   "cores; tests/test_train_llm.py runs one GRPO step under -m slow",
    "llm-local:runs/train-llm": "plays the model the train-llm command saves (train-llm extra); "
                                "tests/test_llm_checkpoint_policy.py plays a checkpoint in eval",
    'from_profile("gpt-5"': "calls OpenAI: needs OPENAI_API_KEY (without it the policy fails at once naming the "
                            "variable, see tests/test_loud_failures.py)",
}

COMMAND_START = re.compile(r"^(arena-gym|python|bash|\.venv/bin/|pip)\b")
#: A command named in prose, without arguments.
NAME_ONLY = re.compile(r"^arena-gym [a-z0-9-]+$")
#: Placeholders of a synopsis: an all-caps word such as DIR or RUN_DIR, or an ellipsis.
PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]{2,}\b|\.\.\.")
DEMO_RUN = "runs/demo"


@dataclass(frozen=True)
class Block:
    kind: str        # "shell" or "python"
    line: int        # 1-based README line where it starts
    text: str
    setup: str = ""  # for a Python snippet that continues an earlier one: the code it builds on

    @property
    def ident(self) -> str:
        head = " ".join(self.text.split())[:70]
        return f"README:{self.line} {self.kind}: {head}"


def readme_blocks(text: str) -> list[Block]:
    """Every shell command and Python snippet of a README, in order (see the module docstring)."""
    lines = text.splitlines()
    blocks: list[Block] = []
    fenced = re.compile(r"^```(\w*)\s*$")
    i = 0
    prose: list[tuple[int, str]] = []
    while i < len(lines):
        m = fenced.match(lines[i])
        if m:
            lang, start, body = m.group(1).lower(), i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            if lang == "python":
                blocks.append(Block("python", start + 1, "\n".join(body)))
            elif lang in ("bash", "sh", "shell", "console"):
                blocks += [Block("shell", start + 1 + k, cmd.strip()) for k, cmd in enumerate(body) if cmd.strip()]
            i += 1
            continue
        if lines[i].startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                if lines[i].strip():
                    blocks.append(Block("shell", i + 1, lines[i].strip()))
                i += 1
            continue
        prose.append((i + 1, lines[i]))
        i += 1
    blocks += _inline_commands(prose)
    return sorted(blocks, key=lambda b: b.line)


def _inline_commands(prose: list[tuple[int, str]]) -> list[Block]:
    """Inline code spans (which may wrap over lines) that start with a command."""
    text = "\n".join(line for _, line in prose)
    line_of = [n for n, line in prose for _ in range(len(line) + 1)]
    out = []
    for m in re.finditer(r"`([^`]+)`", text):
        span = " ".join(m.group(1).split())
        if COMMAND_START.match(span):
            out.append(Block("shell", line_of[m.start()], span))
    return out


def classify(block: Block) -> tuple[str, str]:
    """("run" | "help" | "slow" | "skip", reason)."""
    for needle, reason in SKIP.items():
        if needle in block.text:
            return "skip", reason
    if block.kind == "shell" and PLACEHOLDER.search(block.text):
        return "skip", "a synopsis with placeholders, not a command"
    for needle, reason in SLOW.items():
        if needle in block.text:
            return "slow", reason
    if block.kind == "shell" and NAME_ONLY.match(block.text):
        return "help", "a command named in prose: checked with --help"
    return "run", ""


def with_continuations(blocks: list[Block]) -> list[Block]:
    """Python snippets without an import get the code of the snippets they continue as setup."""
    out, previous = [], None
    for block in blocks:
        if block.kind == "python":
            if previous is not None and not re.search(r"^\s*(import|from)\s", block.text, re.M):
                block = Block(block.kind, block.line, block.text, setup=f"{previous.setup}\n{previous.text}".strip())
            previous = block
        out.append(block)
    return out


def _params():
    params = []
    seen: set[tuple[str, str]] = set()
    for block in with_continuations(readme_blocks(README.read_text(encoding="utf-8"))):
        if (block.kind, block.text) in seen:  # the same command quoted twice runs once
            continue
        seen.add((block.kind, block.text))
        what, reason = classify(block)
        marks = []
        if what == "slow":
            marks.append(pytest.mark.slow)
        elif what == "skip":
            marks.append(pytest.mark.skip(reason=reason))
        params.append(pytest.param(block, id=block.ident, marks=marks))
    return params


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update({
        "PATH": f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "HOME": str(home),
        "ARENA_GYM_CACHE": str(home / "cache"),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    })
    env.pop("ARENA_GYM_ENVS", None)
    env.pop("ARENA_GYM_POLICIES", None)
    return env


def _workspace(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name in ("envs", "policies", "scripts"):
        (path / name).symlink_to(ROOT / name)
    (path / ".venv").symlink_to(VENV)
    (path / "home").mkdir()
    return path


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=_environment(cwd / "home"), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """A small ``arena-gym demo`` run (runs/demo with a trained PPO), made once per session."""
    ws = _workspace(tmp_path_factory.mktemp("readme-demo"))
    done = _run(["bash", "-c", "arena-gym demo --timesteps 2048 --windows 2 --llm none --no-progress"], ws, 900)
    assert done.returncode == 0, f"the small demo run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return ws / DEMO_RUN


@pytest.mark.parametrize("block", _params())
def test_readme_block_runs_as_written(block: Block, tmp_path, request):
    ws = _workspace(tmp_path / "ws")
    if DEMO_RUN in block.text:
        shutil.copytree(request.getfixturevalue("demo_run"), ws / DEMO_RUN)
    if block.kind == "python":
        args = [str(VENV / "bin" / "python"), "-c", f"{block.setup}\n{block.text}"]
    else:
        command = f"{block.text} --help" if classify(block)[0] == "help" else block.text
        args = ["bash", "-c", f"set -e -o pipefail\n{command}"]
    done = _run(args, ws, 1200)
    assert done.returncode == 0, (f"README line {block.line} ({block.kind}) failed with exit code {done.returncode}:\n"
                                  f"{block.text}\n--- stdout ---\n{done.stdout[-3000:]}\n"
                                  f"--- stderr ---\n{done.stderr[-3000:]}")


def test_extraction_finds_every_kind_of_block():
    text = "\n".join([
        "Run `arena-gym eval --policy\nrandom` or `arena-gym report RUN_DIR`.", "",
        "    arena-gym demo", "    python scripts/x.py", "",
        "```python", "print(1)", "```",
        "```bash", "arena-gym train", "```",
    ])
    blocks = readme_blocks(text)
    assert [(b.kind, b.line, b.text) for b in blocks] == [
        ("shell", 1, "arena-gym eval --policy random"), ("shell", 2, "arena-gym report RUN_DIR"),
        ("shell", 4, "arena-gym demo"), ("shell", 5, "python scripts/x.py"),
        ("python", 8, "print(1)"), ("shell", 11, "arena-gym train")]
    assert classify(blocks[1]) == ("skip", "a synopsis with placeholders, not a command")
    assert classify(blocks[2])[0] == "slow" and classify(blocks[0]) == ("run", "")
    assert classify(blocks[5])[0] == "help"                      # `arena-gym train` named in prose


def test_a_snippet_without_imports_continues_the_previous_one():
    first, second, third = with_continuations([Block("python", 1, "import math\nx = 2"),
                                               Block("python", 5, "y = x + 1"), Block("python", 9, "print(y)")])
    assert first.setup == "" and second.setup == "import math\nx = 2"
    assert third.setup == "import math\nx = 2\ny = x + 1"
