"""Load test of ``arena-gym serve-env`` on the loopback address.

Starts the server in its own process, opens ``--sessions`` WebSocket sessions at once, and in
each plays a whole episode (``reset`` with its own seed, then one answer per decision from a
fixed list of valid, partly valid and invalid answers). Then it plays every episode again
in-process through ``gymnasium.make`` with the same seed and answers and checks that every
observation, reward and equity is equal. Prints the throughput (decisions per second over the
whole run) and the latency of each request (median, 95th percentile, maximum).

    python scripts/load_test_env_server.py --sessions 32 --episode-length 8

Needs the train-llm extra (openenv-core).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ANSWERS = [
    json.dumps({"BTC": {"signal": "buy_to_enter", "quantity": 0.01, "leverage": 5}}),
    "I would rather wait.",
    json.dumps({"ETH": {"signal": "sell_to_enter", "quantity": 0.2, "leverage": 3}}),
    "{'BTC': {'signal': 'hold',}}",
    json.dumps({"BTC": {"signal": "close_position"}, "ETH": {"signal": "close_position"}}),
]


def answers_for(session: int, n: int) -> list[str]:
    return [ANSWERS[(session + i) % len(ANSWERS)] for i in range(n)]


async def play(url: str, session: int, n: int, latencies: list[float]) -> list[tuple]:
    from arena_gym.openenv.client import ArenaEnvClient

    rows = []
    async with ArenaEnvClient(url, message_timeout_s=600) as client:
        t = time.perf_counter()
        result = await client.reset(seed=session)
        latencies.append(time.perf_counter() - t)
        rows.append(row(result.observation))
        for answer in answers_for(session, n):
            t = time.perf_counter()
            result = await client.step(answer)
            latencies.append(time.perf_counter() - t)
            rows.append(row(result.observation))
            if result.done:
                break
    return rows


def row(o) -> tuple:
    return (o.prompt, o.reward, o.equity, o.decision_fallbacks, o.invalid_output, o.done)


def twin(session: int, n: int, overrides: dict) -> list[tuple]:
    import gymnasium as gym

    import arena_gym  # noqa: F401
    from arena_gym.openenv.environment import episode_config

    market, config = episode_config(overrides=overrides)
    env = gym.make("arena_gym/AlphaArena-v0", market=market, config=config, assets=config.assets)
    prompt, info = env.reset(seed=session)
    rows = [(prompt, None, info["equity"], 0, False, False)]
    for answer in answers_for(session, n):
        prompt, reward, terminated, truncated, info = env.step(answer)
        rows.append((prompt, reward, info["equity"], info["decision_fallbacks"], bool(info["invalid_output"]),
                     terminated or truncated))
        if terminated or truncated:
            break
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=32)
    parser.add_argument("--episode-length", type=int, default=8)
    args = parser.parse_args()
    overrides = {"assets": ["BTC", "ETH"], "episode_length": args.episode_length}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-c", "from arena_gym.cli import main; main()", "serve-env", "--port", str(port),
               "--max-sessions", str(args.sessions), "--set", f"assets={json.dumps(overrides['assets'])}",
               "--set", f"episode_length={args.episode_length}"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
        asyncio.run(play(url, 0, 1, []))  # first use compiles the env's step in the server process
        latencies: list[float] = []

        async def run_all():
            return await asyncio.gather(*(play(url, s, args.episode_length, latencies) for s in range(args.sessions)))

        started = time.perf_counter()
        served = asyncio.run(run_all())
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    mismatched = [s for s in range(args.sessions) if served[s] != twin(s, args.episode_length, overrides)]
    steps = sum(len(rows) - 1 for rows in served)
    ms = sorted(1000 * x for x in latencies)
    print(f"{args.sessions} concurrent sessions, {steps} decisions + {args.sessions} resets in {seconds:.2f} s: "
          f"{steps / seconds:.1f} decisions/s; latency per request (ms): median {statistics.median(ms):.1f}, "
          f"p95 {ms[int(0.95 * (len(ms) - 1))]:.1f}, max {ms[-1]:.1f}")
    print(f"episodes equal to their in-process twin: {args.sessions - len(mismatched)} of {args.sessions}"
          + (f" (different: {mismatched})" if mismatched else ""))
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
