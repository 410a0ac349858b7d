"""README.md, followed from top to bottom, runs: every shell command and Python snippet, in order,
in one folder, each in a fresh bash with a clean environment, as a user pasting it would.

The README is read at collection time, so a new section's commands are tested without
touching this file:

* fenced ```` ```python ```` blocks are Python snippets, run with ``python`` in the shell;
* fenced ```` ```bash ````/```` ```sh ```` blocks and indented code blocks are shell commands, one per line;
* inline code spans that start with a command (``arena-gym``, ``python``, ``bash``, ``source``,
  ``.venv/bin/``, ``pip``) are shell commands too.

A Python snippet with no ``import`` continues the README's previous snippet (as a reader
would run it in one session): it runs after that one's code. A bare command name in prose
(``arena-gym replay``) names the command rather than runs it: it is checked with ``--help``.
A command quoted twice runs once.

**One folder, in order.** The commands run one after the other in one folder, which holds the
checkout's ``envs/``, ``policies/`` and ``scripts/`` and a ``.venv`` link to the environment of the
running interpreter (what ``bash scripts/install.sh`` makes), so one command's output meets the
next as it does for a user (``runs/demo`` is the demo's own run). **A fresh shell.** Each
command runs in a new ``bash`` whose environment holds only a system ``PATH`` (no ``.venv`` on
it), a fresh ``HOME`` (so the data cache is empty), no provider key and no network, and
``PYTHONPATH`` naming this checkout (so the code under test is the one imported). What a user's
shell keeps from line to line (``source .venv/bin/activate``, ``cd``, ``export``) is replayed
before every later command, so a README that never enters the environment fails at its first
``arena-gym`` with "command not found".

Two runs of the same sequence: the default suite runs it with the slow commands replaced by a
cheap stand-in (:data:`CHEAP`: fewer timesteps and windows), so every command is proved to run
and to meet its predecessors' output; ``-m slow`` runs it exactly as written. :data:`SLOW`
commands without a stand-in run only under ``-m slow``; :data:`SKIP` ones need what a test
machine cannot have. A span with placeholders (``DIR``, ``RUN_DIR``, ``...``) is a synopsis, not
a command, and is skipped saying so. A failure names the README line of the block, shows its
output and names any earlier command of the sequence that failed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
VENV = Path(sys.prefix)

#: Commands or snippets (matched by a substring) that take minutes: as written only under ``-m slow``.
SLOW = {
    "arena-gym demo": "trains PPO for 150,000 steps and plays 96 episodes (about two minutes)",
    "arena-gym train --timesteps 50000": "trains PPO for 50,000 steps",
    "arena-gym arena --env alpha-arena-s1": "plays 96 contest-length episodes",
    "arena-gym arena --windows 3 --seeds 0": "plays 15 episodes and 15,000 random-entry surrogates (about 20 s)",
    "scripts/benchmark_llm_vs_ppo.py": "trains PPO and plays the benchmark",
    "model.learn(": "trains PPO for 200,000 steps (half a minute to minutes on two cores)",
    "arena-gym sweep --timesteps": "trains eight PPO trials on Ray Tune (minutes on two cores); tests/test_ray.py "
                                   "runs a two-trial sweep",
    "--add-sweep runs/sweep": "plays the sweep's best configuration, which only the slow run trains",
    "scripts/bench_env.py --only first-step": "compiles the kernel and the env step from an empty cache (minutes)",
    "scripts/profile_compile.py": "compiles the env step from an empty cache (about 20 s)",
    "scripts/bench_env.py --steps 5000": "times every engine, installs the competitors' environments and "
                                         "compiles from empty caches (minutes)",
    "build_algo()": "starts Ray and trains RLlib PPO for two iterations (about a minute); tests/test_ray.py runs "
                    "the same path",
    "scripts/bench_paper.py": "runs 10,000 paper-trading bars (about a minute)",
    "scripts/bench_training_memory.py": "trains PPO for 1,000,000 steps (about an hour on two shared cores)",
}

#: The default suite's cheap stand-in for a :data:`SLOW` command (matched by a substring): the
#: same command with (old, new) replaced once, so it still runs and writes what later ones read.
CHEAP = {
    "arena-gym demo": ("arena-gym demo", "arena-gym demo --timesteps 2048 --windows 2 --no-progress"),
    "arena-gym train --timesteps 50000": ("--timesteps 50000", "--timesteps 2048 --no-progress"),
    "arena-gym arena --env alpha-arena-s1": ("--llm auto", "--llm auto --windows 1 --seeds 0 --set episode_length=12 "
                                                           "--no-progress"),
    "scripts/benchmark_llm_vs_ppo.py": ("--windows 2", "--windows 1 --timesteps 2048 --episode-length 12"),
    "model.learn(": ("model.learn(200_000", "model.learn(8_192"),
    "scripts/bench_env.py --steps 5000": ("--steps 5000", "--steps 200 --warmup 10 --repeats 1 --only perp-env "
                                                          "--only perp-vector-256"),
}

#: Commands or snippets (matched by a substring) a test machine cannot run, with the reason.
SKIP = {
    "scripts/install.sh": "installs the environment; CI runs scripts/install.sh before the suite, and the .venv "
                          "it makes is the one every command here runs in",
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
    "arena-gym train-llm --steps": "needs the train-llm extra, which the [all] extras leave out, and trains the 135M "
                                   "model for about ten minutes on two cores; tests/test_train_llm.py runs one GRPO "
                                   "step under -m slow",
    "llm-local:runs/train-llm": "plays the model the train-llm command saves (train-llm extra); "
                                "tests/test_llm_checkpoint_policy.py plays a checkpoint in eval",
    'from_profile("gpt-5"': "calls OpenAI: needs OPENAI_API_KEY (without it the policy fails at once naming the "
                            "variable, see tests/test_loud_failures.py)",
}

COMMAND_START = re.compile(r"^(arena-gym|python|bash|source|\.venv/bin/|pip)\b")
#: A command whose effect a user's shell keeps for the lines after it.
SHELL_STATE = re.compile(r"^(source|\.|cd|export)\s")
#: A command named in prose, without arguments.
NAME_ONLY = re.compile(r"^arena-gym [a-z0-9-]+$")
#: Placeholders of a synopsis: an all-caps word such as DIR or RUN_DIR, or an ellipsis.
PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]{2,}\b|\.\.\.")
#: The PATH of a fresh login without the project's environment.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Seconds one command may take before it counts as hung, and the longer allowance of the
#: commands (matched by a substring) that run longer as written.
TIMEOUT_S = 1800
LONG_TIMEOUT_S = {"scripts/bench_training_memory.py": 2 * 3600}   # 3,166 s in the run the README quotes

#: One worker runs the sequence under ``pytest -n ... --dist loadgroup`` (others would replay it from the start).
pytestmark = pytest.mark.xdist_group("readme-in-order")


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


def cheap_form(block: Block) -> str | None:
    """The default suite's stand-in for a slow block's text (see :data:`CHEAP`), or None."""
    for needle, (old, new) in CHEAP.items():
        if needle in block.text:
            assert old in block.text, f"CHEAP[{needle!r}] replaces {old!r}, which README line {block.line} lacks"
            return block.text.replace(old, new, 1)
    return None


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


#: The install step the README's two opening commands start with; CI has run it before the suite
#: (into the environment every command here runs in), so the command after it runs alone.
INSTALL_FIRST = "bash scripts/install.sh && "


def sequence() -> list[tuple[Block, str, str]]:
    """The README's blocks in order, each once: (block, what, reason) with ``what`` from :func:`classify`."""
    out, seen = [], set()
    for block in with_continuations(readme_blocks(README.read_text(encoding="utf-8"))):
        if block.text.startswith(INSTALL_FIRST):
            block = Block(block.kind, block.line, block.text[len(INSTALL_FIRST):], block.setup)
        if (block.kind, block.text) in seen:   # the same command quoted twice runs once
            continue
        seen.add((block.kind, block.text))
        out.append((block, *classify(block)))
    return out


def script_of(block: Block, text: str, what: str) -> str:
    """The bash script that runs ``text`` (the block's own text or its stand-in) as a user would."""
    if block.kind == "python":
        code = f"{block.setup}\n{text}".strip()
        return f"python - <<'README_SNIPPET'\n{code}\nREADME_SNIPPET"
    return f"{text} --help" if what == "help" else text


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    earlier_failures: list[int] = field(default_factory=list)


class ReadmeRun:
    """The README's commands run in order in one folder (see the module docstring).

    ``cheap``: slow commands run as their :data:`CHEAP` stand-in, and those without one are left
    out; otherwise every command runs as written. :meth:`outcome` runs the sequence up to the
    block asked for (once), so each block's test sees what a user sees at that point.
    """

    def __init__(self, folder: Path, cheap: bool) -> None:
        self.folder = _workspace(folder)
        self.steps: list[tuple[Block, str]] = []
        for block, what, _ in sequence():
            if what == "skip":
                continue
            if what == "slow":
                text = cheap_form(block) if cheap else block.text
                if text is None:
                    continue
                what = "run"
            else:
                text = block.text
            self.steps.append((block, script_of(block, text, what)))
        self.outcomes: dict[int, Outcome] = {}
        self.state: list[str] = []   # the shell-state commands run so far, replayed before each command

    def includes(self, block: Block) -> bool:
        return any(b == block for b, _ in self.steps)

    def outcome(self, block: Block) -> Outcome:
        failures: list[int] = []
        for step, script in self.steps:
            if step.line not in self.outcomes:
                prelude = "".join(f"{cmd}\n" for cmd in self.state)
                done = run_script(f"{prelude}set -e -o pipefail\n{script}", self.folder, timeout_of(script))
                self.outcomes[step.line] = Outcome(done.returncode, done.stdout, done.stderr, list(failures))
                if step.kind == "shell" and SHELL_STATE.match(step.text) and done.returncode == 0:
                    self.state.append(step.text)
            if self.outcomes[step.line].returncode != 0 and step != block:
                failures.append(step.line)
            if step == block:
                return self.outcomes[step.line]
        raise AssertionError(f"README line {block.line} is not in this run")


def run_script(script: str, folder: Path, timeout_s: float) -> Outcome:
    """Run ``script`` in a fresh bash in ``folder``; past ``timeout_s`` its whole process group is
    killed and the outcome says so (exit code 124), so that one hung command fails alone."""
    with subprocess.Popen(["bash", "--noprofile", "--norc", "-c", script], cwd=folder,
                          env=_environment(folder / "home"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            return Outcome(124, stdout, f"{stderr}\n[killed after {timeout_s:g} s without finishing]")
    return Outcome(process.returncode, stdout, stderr)


def timeout_of(script: str) -> float:
    """Seconds the command of ``script`` may run (see :data:`LONG_TIMEOUT_S`)."""
    return max([TIMEOUT_S, *(s for needle, s in LONG_TIMEOUT_S.items() if needle in script)])


def _environment(home: Path) -> dict[str, str]:
    """A fresh shell's environment (see the module docstring)."""
    env = {
        "HOME": str(home),
        "PATH": SYSTEM_PATH,
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",   # litellm's price table from the package, not the network
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }
    for key in ("TMPDIR", "NUMBA_CACHE_DIR"):   # where this machine keeps temporary files and compiled code
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _workspace(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name in ("envs", "policies", "scripts"):
        (path / name).symlink_to(ROOT / name)
    (path / ".venv").symlink_to(VENV)
    (path / "home").mkdir()
    return path


@pytest.fixture(scope="session")
def readme_cheap(tmp_path_factory) -> ReadmeRun:
    return ReadmeRun(tmp_path_factory.mktemp("readme-cheap"), cheap=True)


@pytest.fixture(scope="session")
def readme_as_written(tmp_path_factory) -> ReadmeRun:
    return ReadmeRun(tmp_path_factory.mktemp("readme-as-written"), cheap=False)


def _params(slow: bool):
    params = []
    for block, what, reason in sequence():
        marks = [pytest.mark.slow] if slow else []
        if what == "skip":
            marks.append(pytest.mark.skip(reason=reason))
        params.append(pytest.param(block, id=block.ident, marks=marks))
    return params


def _check(run: ReadmeRun, block: Block) -> None:
    if not (VENV / "bin" / "activate").is_file():
        pytest.skip(f"the interpreter's environment {VENV} is not a virtual environment (no bin/activate), "
                    "so the README's `source .venv/bin/activate` cannot be followed")
    if not run.includes(block):
        pytest.skip(f"runs under -m slow only: {classify(block)[1]}")
    done = run.outcome(block)
    after = (f" (after README line(s) {', '.join(map(str, done.earlier_failures))} failed)"
             if done.earlier_failures else "")
    assert done.returncode == 0, (f"README line {block.line} ({block.kind}) failed with exit code {done.returncode}"
                                  f"{after}:\n{block.text}\n--- stdout ---\n{done.stdout[-3000:]}\n"
                                  f"--- stderr ---\n{done.stderr[-3000:]}")


@pytest.mark.parametrize("block", _params(slow=False))
def test_readme_in_order_with_cheap_stand_ins(block: Block, readme_cheap: ReadmeRun):
    _check(readme_cheap, block)


@pytest.mark.parametrize("block", _params(slow=True))
def test_readme_in_order_as_written(block: Block, readme_as_written: ReadmeRun):
    _check(readme_as_written, block)


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
    assert cheap_form(blocks[2]) == "arena-gym demo --timesteps 2048 --windows 2 --no-progress"


def test_a_snippet_without_imports_continues_the_previous_one():
    first, second, third = with_continuations([Block("python", 1, "import math\nx = 2"),
                                               Block("python", 5, "y = x + 1"), Block("python", 9, "print(y)")])
    assert first.setup == "" and second.setup == "import math\nx = 2"
    assert third.setup == "import math\nx = 2\ny = x + 1"


def test_a_fresh_shell_has_no_project_command_until_the_environment_is_entered(tmp_path):
    folder = _workspace(tmp_path / "ws")

    def run(script: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "--noprofile", "--norc", "-c", script], cwd=folder,
                              env=_environment(folder / "home"), capture_output=True, text=True, timeout=120)

    if not (VENV / "bin" / "activate").is_file():
        pytest.skip(f"{VENV} is not a virtual environment (no bin/activate)")
    assert run("arena-gym --help").returncode == 127            # bash: arena-gym: command not found
    assert run("source .venv/bin/activate\narena-gym --help").returncode == 0


def test_a_hung_command_is_killed_with_its_children_and_fails_alone(tmp_path):
    started = time.perf_counter()
    done = run_script("sleep 60 & sleep 60", tmp_path, timeout_s=1.0)
    assert done.returncode == 124 and "killed after 1 s" in done.stderr
    assert time.perf_counter() - started < 30
    assert timeout_of("python scripts/bench_training_memory.py") == 7200 and timeout_of("arena-gym demo") == TIMEOUT_S
