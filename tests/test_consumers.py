"""The RL ecosystem's standard consumers, driven through the real libraries by environment id.

Stable-Baselines3 (``make_vec_env`` with ``DummyVecEnv`` and ``SubprocVecEnv``, ``VecNormalize``,
``EvalCallback``), Gymnasium's ``make_vec`` in its three modes with the keyword arguments it
forwards, Gymnasium's single-env and vector wrappers, and pickling through ``cloudpickle``
(what subprocess vector envs ship to their workers).
"""

from __future__ import annotations

import os

import cloudpickle
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import arena_gym  # noqa: F401  (registers the environments)
from arena_gym.env import INFO_KEYS, PerpVectorEnv
from arena_gym.env.sb3 import SB3VecEnv

#: also run against the lowest dependency versions pyproject.toml allows (scripts/check_floors.sh)
pytestmark = pytest.mark.floors

PERP = "arena_gym/Perp-v0"
SMALL = dict(episode_length=6, assets=("BTC", "ETH"))


def run_sb3_vec_env(venv, steps: int = 8) -> list[list[dict]]:
    venv.seed(0)
    obs = venv.reset()
    assert obs.shape == (venv.num_envs, *venv.observation_space.shape)
    seen = []
    for _ in range(steps):
        obs, reward, done, infos = venv.step(np.stack([venv.action_space.sample() for _ in range(venv.num_envs)]))
        assert np.isfinite(obs).all() and np.isfinite(reward).all()
        seen.append(infos)
    return seen


def test_sb3_make_vec_env_by_id_with_dummy_vec_env():
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = make_vec_env(PERP, n_envs=4, env_kwargs=SMALL, vec_env_cls=DummyVecEnv)
    assert venv.render_mode == "rgb_array"           # SB3 asks for pictures; the env provides them
    steps = run_sb3_vec_env(venv)
    assert all("equity" in info and "fees_paid" in info for infos in steps for info in infos)
    assert any("terminal_observation" in info for infos in steps for info in infos)   # 6-step episodes ended
    frame = venv.env_method("render", indices=0)[0]
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    venv.close()


def test_a_single_env_keeps_the_ledger_of_its_current_episode_only():
    env = gym.make(PERP, **SMALL, leverage_cap=2.0, deadband=0.0)
    ledger = env.unwrapped.core.exchange.ledger
    sizes, capacity = [], []
    for episode in range(40):
        env.reset(seed=episode)
        assert len(ledger) == 0 and len(env.unwrapped.ledger_frame()) == 0
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(np.where(np.arange(2) % 2 == episode % 2, 1.0, -1.0))
            done = terminated or truncated
        frame = env.unwrapped.ledger_frame()
        assert len(frame) > 0 and set(frame["episode"]) == {episode + 1}    # this episode's rows, all of them
        assert (frame["kind"] == "order").sum() >= 2 and len(env.unwrapped.trades()) >= 2
        sizes.append(len(frame))
        capacity.append(ledger.float_block.shape[1])
    assert max(capacity[10:]) == capacity[10]      # memory stops growing once one episode fits
    # "full" keeps every episode, as asked
    full = gym.make(PERP, **SMALL, ledger="full")
    for episode in range(3):
        full.reset(seed=episode)
        for _ in range(6):
            full.step(np.ones(2))
    assert set(full.unwrapped.ledger_frame()["episode"]) == {1, 2, 3}


def test_the_episode_ledger_drops_only_the_rows_of_accounts_that_restart():
    from arena_gym.exchange import Exchange, Orders
    from arena_gym.market.synthetic import synthetic_market

    ex = Exchange(synthetic_market(n_bars=64, seed=0, symbols=("BTC",)), 3, ledger="episode")
    ex.reset(10)
    orders = Orders.hold(3, 1)
    orders.size[:] = 0.01
    ex.step(orders)
    before = ex.ledger.frame()
    assert sorted(before["account"]) == [0, 1, 2]
    ex.reset(12, rows=np.array([1]))
    after = ex.ledger.frame()
    assert sorted(after["account"]) == [0, 2]
    assert after.reset_index(drop=True).equals(before[before["account"] != 1].reset_index(drop=True))


CHECK_ENV_WITHOUT_MATPLOTLIB = """
import sys
import warnings
sys.modules["matplotlib"] = None          # as on a base install: importing it fails
import gymnasium as gym
from gymnasium.utils.env_checker import check_env
import arena_gym
env = gym.make("arena_gym/Perp-v0")
warnings.simplefilter("ignore")           # check_env's advice to pass env.unwrapped
check_env(env)                            # its defaults: the render check of every advertised mode
check_env(env.unwrapped)
frame = gym.make("arena_gym/Perp-v0", render_mode="rgb_array")
frame.reset(seed=0)
print("ok", frame.render().shape)
"""


def test_check_env_with_its_defaults_passes_without_matplotlib():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", CHECK_ENV_WITHOUT_MATPLOTLIB], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["ok", "(600,", "800,", "3)"]


def test_sb3_make_vec_env_can_turn_the_ledger_off():
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = make_vec_env(PERP, n_envs=2, env_kwargs={**SMALL, "ledger": "off"}, vec_env_cls=DummyVecEnv)
    run_sb3_vec_env(venv)
    ledger = venv.envs[0].unwrapped.core.exchange.ledger
    assert ledger.level == "off" and len(ledger) == 0 and ledger.float_block.size == 0
    venv.close()


SUBPROC_SCRIPT = """
import numpy as np
import arena_gym  # registers the ids, here and in each worker (which imports this script first)
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import SubprocVecEnv

if __name__ == "__main__":
    venv = make_vec_env("arena_gym/Perp-v0", n_envs=2, vec_env_cls=SubprocVecEnv,
                        env_kwargs=dict(episode_length=6, assets=("BTC", "ETH")))
    venv.seed(0)
    venv.reset()
    ends = 0
    for _ in range(8):
        obs, reward, done, infos = venv.step(np.stack([venv.action_space.sample() for _ in range(2)]))
        assert np.isfinite(obs).all() and all(np.isfinite(info["equity"]) for info in infos)
        ends += int(done.sum())
    names = venv.get_attr("observation_names")[0]
    venv.close()
    print("ok", ends, names[0])
"""


@pytest.mark.slow
def test_sb3_make_vec_env_by_id_with_subproc_vec_env(tmp_path):
    """As users run it: a script that imports arena_gym (SB3's workers import the script first)."""
    import subprocess
    import sys

    script = tmp_path / "train.py"
    script.write_text(SUBPROC_SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["ok", "2", "BTC.log_return[t-15]"]


def test_sb3_vec_normalize_and_eval_callback_train_ppo(tmp_path):
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import EvalCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    train = VecNormalize(make_vec_env(PERP, n_envs=2, env_kwargs=SMALL, seed=0))
    evaluate = VecNormalize(make_vec_env(PERP, n_envs=1, env_kwargs=SMALL, seed=1), training=False, norm_reward=False)
    callback = EvalCallback(evaluate, n_eval_episodes=2, eval_freq=16, best_model_save_path=str(tmp_path),
                            log_path=str(tmp_path), verbose=0)
    model = PPO("MlpPolicy", train, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu")
    model.learn(64, callback=callback)
    assert callback.evaluations_timesteps == [32, 64]
    assert np.isfinite(callback.evaluations_results).all()
    assert np.array(callback.evaluations_length).tolist() == [[6, 6], [6, 6]]
    assert (tmp_path / "best_model.zip").exists()
    assert train.obs_rms.count > 64


def test_sb3_vec_env_gives_every_account_the_info_dummy_vec_env_gives():
    from stable_baselines3.common.env_util import make_vec_env

    ours = SB3VecEnv(3, **SMALL)
    dummy = make_vec_env(PERP, n_envs=3, env_kwargs=SMALL)
    ours_infos = run_sb3_vec_env(ours)
    dummy_infos = run_sb3_vec_env(dummy)
    core = set(INFO_KEYS)
    for infos in ours_infos:
        for info in infos:
            assert core <= set(info)
            assert set(info) - core <= {"terminal_observation", "TimeLimit.truncated"}
    assert all(core <= set(info) for infos in dummy_infos for info in infos)
    ours.reset()
    _, _, _, infos = ours.step(np.zeros((3, 2), np.float32))
    equity = ours.venv.core.exchange.state.equity
    assert [info["equity"] for info in infos] == pytest.approx(equity.tolist())


@pytest.mark.parametrize("mode", ["sync", "async", "vector_entry_point"])
def test_gymnasium_make_vec_forwards_its_keyword_arguments(mode):
    render_mode = "rgb_array"
    envs = gym.make_vec(PERP, num_envs=2, vectorization_mode=mode, max_episode_steps=6, render_mode=render_mode,
                        assets=("BTC", "ETH"))
    try:
        assert envs.metadata["autoreset_mode"] in tuple(AutoresetMode)
        obs, info = envs.reset(seed=0)
        assert obs.shape == (2, envs.single_observation_space.shape[0])
        ends = 0
        for t in range(7):
            obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
            assert np.isfinite(obs).all() and np.isfinite(info["equity"]).all()
            if t == 5:
                assert truncated.all() or terminated.any()     # six decisions per episode
                ends += 1
        assert ends == 1
        frames = envs.render()
        assert len(frames) == 2 and all(f.dtype == np.uint8 and f.shape[2] == 3 for f in frames)
    finally:
        envs.close()


def test_vector_env_exposes_its_autoreset_mode():
    assert PerpVectorEnv(2, **SMALL).autoreset_mode is AutoresetMode.NEXT_STEP
    same = PerpVectorEnv(2, autoreset_mode=AutoresetMode.SAME_STEP, **SMALL)
    assert same.autoreset_mode is AutoresetMode.SAME_STEP == same.metadata["autoreset_mode"]
    with pytest.raises(ValueError, match="render_mode must be one of"):
        PerpVectorEnv(2, render_mode="human", **SMALL)


def test_gymnasium_vector_wrappers():
    from gymnasium.wrappers.vector import NormalizeObservation, RecordEpisodeStatistics

    envs = RecordEpisodeStatistics(NormalizeObservation(gym.make_vec(PERP, num_envs=3, **SMALL)))
    envs.reset(seed=0)
    finished = 0
    for _ in range(14):
        _, _, terminated, truncated, info = envs.step(envs.action_space.sample())
        if "episode" in info:
            finished += int(info["_episode"].sum())
    assert finished >= 3
    assert envs.env.obs_rms.count > 14


def test_gymnasium_single_env_wrappers():
    from gymnasium.wrappers import NormalizeObservation, NormalizeReward, RecordEpisodeStatistics, RenderCollection

    env = RenderCollection(RecordEpisodeStatistics(NormalizeReward(NormalizeObservation(
        gym.make(PERP, render_mode="rgb_array", episode_length=3, assets=("BTC", "ETH"))))))
    env.reset(seed=0)
    done, info = False, {}
    while not done:
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        done = terminated or truncated
    assert info["episode"]["l"] == 3
    frames = env.render()
    assert len(frames) == 4 and all(f.shape == frames[0].shape and f.dtype == np.uint8 for f in frames)
    # the documented accessors, through the wrappers gym.make adds
    assert len(env.unwrapped.records) == 3
    assert isinstance(env.unwrapped.positions(), list)
    assert env.unwrapped.trades() is not None


@pytest.mark.parametrize("env_id", [PERP, "arena_gym/AlphaArena-v0"])
def test_envs_cloudpickle_small(env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    blob = cloudpickle.dumps(env)
    assert len(blob) < 200_000, f"{env_id}: {len(blob):,} bytes"
    assert cloudpickle.loads(blob).unwrapped.market is env.unwrapped.market


@pytest.mark.slow
def test_sb3_ppo_trains_over_subproc_workers_with_the_module_prefixed_id():
    """``"arena_gym:arena_gym/Perp-v0"`` makes Gymnasium import arena_gym in each worker, so no
    script-level import is needed (here the workers import pytest's entry point, not a script)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    venv = make_vec_env("arena_gym:" + PERP, n_envs=2, env_kwargs=dict(episode_length=32), vec_env_cls=SubprocVecEnv,
                        seed=0)
    try:
        model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
        model.learn(512)
        assert model.num_timesteps == 512
        assert len(venv.get_attr("observation_names")[1]) == venv.observation_space.shape[0]
    finally:
        venv.close()
