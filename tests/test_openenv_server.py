"""The contest env under OpenEnv: served episodes equal gym.make's, sessions are isolated, bad
requests get clear errors and change nothing, and the server's bounds hold."""

from __future__ import annotations

import contextlib
import json
import time

import gymnasium as gym
import pytest

pytest.importorskip("openenv", reason="needs the train-llm extra (openenv-core)")

import arena_gym  # noqa: E402,F401  (registers the environments)
from arena_gym.openenv.client import ArenaEnvClient  # noqa: E402
from arena_gym.openenv.environment import ArenaEnvironment, episode_config  # noqa: E402
from arena_gym.openenv.models import TradeAction  # noqa: E402
from arena_gym.openenv.server import ServerThread, build_app  # noqa: E402

OVERRIDES = {"assets": ["BTC", "ETH"], "episode_length": 5}
BUY_BTC = json.dumps({"BTC": {"signal": "buy_to_enter", "quantity": 0.02, "leverage": 5, "confidence": 0.6,
                              "invalidation_condition": "close below 1", "risk_usd": 20.0}})
SELL_ETH = ("I think ETH falls. ```json\n" + json.dumps({"ETH": {"signal": "sell_to_enter", "quantity": 0.5,
                                                                   "leverage": 3}}) + "\n```")
CLOSE_BTC = json.dumps({"BTC": {"signal": "close_position"}})
ANSWERS = [BUY_BTC, "no idea, sorry", SELL_ETH, "{'BTC': {'signal': 'hold',}}", CLOSE_BTC]


def gym_make_episode(seed: int, answers: list[str]) -> list[tuple]:
    market, config = episode_config(overrides=OVERRIDES)
    # the registered id's keyword arguments name all six coins: pass the assets again
    env = gym.make("arena_gym/AlphaArena-v0", market=market, config=config, assets=config.assets)
    prompt, info = env.reset(seed=seed)
    rows = [(prompt, None, info["equity"], 0, False, False)]
    for answer in answers:
        prompt, reward, terminated, truncated, info = env.step(answer)
        rows.append((prompt, reward, info["equity"], info["decision_fallbacks"], bool(info["invalid_output"]),
                     terminated or truncated))
    return rows


def observed(result) -> tuple:
    o = result.observation if hasattr(result, "observation") else result
    return (o.prompt, o.reward, o.equity, o.decision_fallbacks, o.invalid_output, o.done)


def ws_url(server: ServerThread) -> str:
    return server.url.replace("http://", "ws://") + "/ws"


@pytest.fixture(scope="module")
def server():
    with ServerThread(build_app(overrides=OVERRIDES, max_sessions=3, idle_timeout_s=1.0,
                                max_request_bytes=8192)) as running:
        yield running


def test_in_process_episode_equals_gym_make():
    env = ArenaEnvironment(overrides=OVERRIDES)
    rows = [observed(env.reset(seed=11))] + [observed(env.step(TradeAction(text=a))) for a in ANSWERS]
    assert rows == gym_make_episode(11, ANSWERS)
    assert env.state.done and env.state.step_count == 5
    assert env.state.invalid_answers == 1  # "no idea, sorry" holds as a whole


def test_served_episode_equals_gym_make(server):
    with ArenaEnvClient(server.url, message_timeout_s=300).sync() as client:
        first = client.reset(seed=5)
        assert first.observation.system_prompt and first.observation.total_return == 0.0
        rows = [observed(first)] + [observed(client.step(a)) for a in ANSWERS]
        state = client.state()
    assert rows == gym_make_episode(5, ANSWERS)
    assert state.done and state.step_count == len(ANSWERS) and state.seed == 5


def test_bad_requests_get_errors_and_leave_every_session_intact(server):
    from websockets.sync.client import connect

    with connect(ws_url(server)) as good, connect(ws_url(server)) as bad:
        def ask(ws, message):
            ws.send(message if isinstance(message, str) else json.dumps(message))
            return json.loads(ws.recv(timeout=300))

        assert ask(bad, {"type": "step", "data": {"text": BUY_BTC}})["data"]["message"].startswith("no episode yet")
        good_rows = [observed_dict(ask(good, {"type": "reset", "data": {"seed": 9}}))]
        ask(bad, {"type": "reset", "data": {"seed": 9}})
        for answer in ANSWERS:
            errors = [ask(bad, "{not json"), ask(bad, {"type": "step", "data": {"txt": answer}}),
                      ask(bad, {"type": "teleport"}), ask(bad, {"type": "reset", "data": {"seed": 1, "speed": 2}}),
                      ask(bad, {"type": "step", "data": {"text": 5}})]
            assert [e["data"]["code"] for e in errors] == ["INVALID_JSON", "VALIDATION_ERROR", "UNKNOWN_TYPE",
                                                           "EXECUTION_ERROR", "VALIDATION_ERROR"]
            good_rows.append(observed_dict(ask(good, {"type": "step", "data": {"text": answer}})))
        bad_rows = [observed_dict(ask(bad, {"type": "step", "data": {"text": a}})) for a in ANSWERS]
        after = ask(bad, {"type": "step", "data": {"text": BUY_BTC}})
        assert after["type"] == "error" and "episode is over after 5 decisions" in after["data"]["message"]
        assert ask(bad, {"type": "state"})["data"]["step_count"] == 5
    twin = gym_make_episode(9, ANSWERS)
    assert good_rows == twin
    assert bad_rows == twin[1:]  # the errors changed nothing in the bad session either


def observed_dict(message: dict) -> tuple:
    assert message["type"] == "observation", message
    data, o = message["data"], message["data"]["observation"]
    return (o["prompt"], data["reward"], o["equity"], o["decision_fallbacks"], o["invalid_output"], data["done"])


def wait_until_no_sessions(server: ServerThread) -> None:
    """The server ends a closed connection's session shortly after it closes."""
    deadline = time.monotonic() + 30
    while server.app.state.env_server.active_sessions:
        assert time.monotonic() < deadline, "a closed connection kept its session"
        time.sleep(0.05)


def test_bounds_sessions_request_size_and_idle_timeout(server):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    import urllib.error
    import urllib.request

    with urllib.request.urlopen(server.url + "/health", timeout=30) as reply:
        assert reply.status == 200
    request = urllib.request.Request(server.url + "/schema", data=b"x" * 9000, method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)
    assert err.value.code == 413
    request = urllib.request.Request(server.url + "/step", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError):  # stateless HTTP stepping is not served
        urllib.request.urlopen(request, timeout=30)

    with connect(ws_url(server)) as big:
        big.send(json.dumps({"type": "step", "data": {"text": "x" * 9000}}))
        with pytest.raises(ConnectionClosed) as closed:
            big.recv(timeout=30)
        assert closed.value.rcvd.code == 1009  # message too big
    wait_until_no_sessions(server)

    with contextlib.ExitStack() as stack:
        sessions = [stack.enter_context(connect(ws_url(server))) for _ in range(3)]
        for ws in sessions:
            ws.send(json.dumps({"type": "state"}))
            assert json.loads(ws.recv(timeout=60))["type"] == "state"
        with connect(ws_url(server)) as extra:
            refused = json.loads(extra.recv(timeout=60))
        assert refused["data"]["code"] == "CAPACITY_REACHED"
        time.sleep(7.0)  # idle timeout 1 s; OpenEnv's reaper looks every 5 s
        sessions[0].send(json.dumps({"type": "reset", "data": {"seed": 1}}))
        ended = json.loads(sessions[0].recv(timeout=60))
        assert ended["type"] == "error" and "session has ended" in ended["data"]["message"]
        with connect(ws_url(server)) as fresh:  # the ended sessions freed their places
            fresh.send(json.dumps({"type": "reset", "data": {"seed": 1}}))
            assert json.loads(fresh.recv(timeout=300))["type"] == "observation"


@pytest.mark.parametrize("argv", [["--set", "no_such_field=1"], ["--env", "no-such-preset"], ["--max-sessions", "0"]])
def test_serve_env_rejects_bad_options_in_one_line(argv, capsys):
    from arena_gym.cli import main

    assert main(["serve-env", "--port", "1", *argv]) == 2  # fails before it binds a port
    said = capsys.readouterr()
    err = said.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("arena-gym serve-env: error:")
    assert not said.out  # nothing said it was serving
