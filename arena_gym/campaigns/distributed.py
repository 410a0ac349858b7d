"""Play an evaluation's episodes on a Ray cluster (the ``ray`` extra; ``arena-gym eval --ray``).

:class:`RayExecutor` is an executor for :func:`~arena_gym.evaluation.runner.evaluate`: the
runner still plans the episodes, writes each one's files and log line as it finishes, and
resumes from the log, so a distributed run leaves exactly the folder a local run leaves (the
same tables, byte for byte) and a killed driver resumes without replaying finished episodes.

* The market goes into Ray's object store once (``ray.put``); each worker process reads it once
  and keeps it for the next tasks.
* A policy travels as its spec (``random``, ``ppo:model.zip``, ``llm:gpt-5``, see
  :data:`~arena_gym.campaigns.policy_specs.SPEC_FORMS`) and is rebuilt in the worker, once per
  worker process. A ``ppo:`` model file travels with it (read on this machine, written to a
  temporary folder on the worker), so the cluster's nodes need no shared disk. A policy given
  without a spec is shipped as the object itself (it must pickle).
* Numeric policies: one Ray task (one CPU) per episode. Policies with a coroutine ``aact``
  (LLMs): one Ray actor per provider (the part of the model string before ``/``) plays every
  episode of that provider's policies, at most ``concurrency`` at once, so a provider's rate
  limit is met the way a local run meets it.

Workers need arena-gym installed (a local cluster started by ``--ray`` shares this
environment; on an existing cluster install it on every node).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena_gym.env.config import EnvConfig
from arena_gym.evaluation.runner import Deliver, EpisodeKey, atimed_episode, is_async_policy, timed_episode
from arena_gym.market.data import MarketData
from arena_gym.ray_cluster import connect

#: Worker-side cache of one evaluation: its market and the policies built from their sources,
#: by object id; emptied when a task of another evaluation (another market) arrives.
_WORKER_CACHE: dict[str, Any] = {}


@dataclass(frozen=True)
class PolicySource:
    """How a worker rebuilds one policy: its ``name`` and either its ``spec`` (with the bytes of
    any file the spec names, by file name) or the pickled policy object."""

    name: str
    spec: str | None = None
    files: Mapping[str, bytes] = field(default_factory=dict)
    obj: Any = None

    @classmethod
    def of(cls, policy: Any, spec: str | None) -> PolicySource:
        if spec is None:
            return cls(policy.name, obj=policy)
        spec = spec.split("=", 1)[1] if "=" in spec else spec
        kind, _, rest = spec.partition(":")
        files = {}
        if kind == "ppo" and rest:  # the model and its config JSON travel with the spec
            model = Path(rest)
            for path in (model, model.with_suffix(".json")):
                if path.is_file():
                    files[path.name] = path.read_bytes()
        return cls(policy.name, spec=spec, files=files)

    def build(self, llm_kwargs: Mapping[str, Any]) -> Any:
        """The policy, in a worker."""
        if self.spec is None:
            return self.obj
        from .policy_specs import policy_from_spec

        spec = self.spec
        if self.files:
            folder = Path(tempfile.mkdtemp(prefix="arena-gym-policy-"))
            for name, data in self.files.items():
                (folder / name).write_bytes(data)
            spec = f"ppo:{folder / Path(spec.partition(':')[2]).name}"
        policy = policy_from_spec(spec, **dict(llm_kwargs))
        policy.name = self.name
        return policy


def provider_of(spec: str | None, policy: Any) -> str:
    """The provider of an LLM policy (``openai`` for ``llm:gpt-5``), else its name."""
    if spec is not None:
        spec = spec.split("=", 1)[1] if "=" in spec else spec
        kind, _, rest = spec.partition(":")
        if kind == "llm" and rest:
            from arena_gym.agents.profiles import load_profile

            model = rest if "/" in rest and not rest.endswith(".toml") else load_profile(rest).model
            return model.split("/", 1)[0] if "/" in model else model
    return policy.name


def _cached(ref: Any) -> Any:
    """The value of an object-store reference, fetched once per worker process."""
    key = ref.hex()
    if key not in _WORKER_CACHE:
        import ray

        _WORKER_CACHE[key] = ray.get(ref)
    return _WORKER_CACHE[key]


def _policy(source_ref: Any, llm_kwargs: Mapping[str, Any]) -> Any:
    key = f"policy:{source_ref.hex()}"
    if key not in _WORKER_CACHE:
        _WORKER_CACHE[key] = _cached(source_ref).build(llm_kwargs)
    return _WORKER_CACHE[key]


def play_task(refs: list, config: EnvConfig, key: EpisodeKey, llm_kwargs: Mapping[str, Any]) -> tuple:
    """A Ray task body: one episode; ``refs`` is ``[market_ref, source_ref]`` (in a list, so
    that Ray passes the references and the worker fetches each once)."""
    market_ref, source_ref = refs
    if market_ref.hex() not in _WORKER_CACHE:
        _WORKER_CACHE.clear()
    try:
        policy = _policy(source_ref, llm_kwargs)
    except Exception as err:  # e.g. a model file that does not load on this node
        return 0.0, None, f"{type(err).__name__}: {err}"
    return timed_episode(policy, _cached(market_ref), config, key)


class AsyncEpisodes:
    """A Ray actor body: plays the episodes of one provider's async policies."""

    def __init__(self, market: MarketData, config: EnvConfig, llm_kwargs: Mapping[str, Any],
                 *sources: PolicySource) -> None:
        self.market = market
        self.config = config
        self.policies = {source.name: source.build(llm_kwargs) for source in sources}

    async def play(self, key: EpisodeKey) -> tuple:
        return await atimed_episode(self.policies[key.policy], self.market, self.config, key)

    def close(self) -> None:
        for policy in self.policies.values():
            close = getattr(policy, "close", None)
            if close is not None:
                close()


class RayExecutor:
    """Plays episodes as Ray tasks and delivers them as they finish (see the module docstring).

    Args:
        specs: policy name -> the spec it was built from; policies missing here are pickled.
        address: an existing cluster (``ray start --head`` prints it); ``None``: the cluster this
            process already joined, else a new local one.
        num_cpus: CPUs of a new local cluster (default: every core).
        concurrency: episodes in flight at once per LLM provider.
        llm_kwargs: keyword arguments for ``LLMPolicy`` when an ``llm:`` spec is rebuilt.
    """

    def __init__(self, specs: Mapping[str, str] | None = None, *, address: str | None = None,
                 num_cpus: int | None = None, concurrency: int = 8,
                 llm_kwargs: Mapping[str, Any] | None = None) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.specs = dict(specs or {})
        self.address = address
        self.num_cpus = num_cpus
        self.concurrency = concurrency
        self.llm_kwargs = dict(llm_kwargs or {})

    def run(self, policies: Sequence[Any], todo: dict[str, list[EpisodeKey]], market: MarketData,
            config: EnvConfig, deliver: Deliver) -> None:
        if not any(todo[p.name] for p in policies):
            return
        ray = connect(self.address, self.num_cpus)
        market_ref = ray.put(market)
        sources = {p.name: ray.put(PolicySource.of(p, self.specs.get(p.name))) for p in policies}
        pending: dict[Any, EpisodeKey] = {}
        task = ray.remote(num_cpus=1, max_retries=0)(play_task)
        groups: dict[str, list[Any]] = {}
        for p in policies:
            if is_async_policy(p):
                groups.setdefault(provider_of(self.specs.get(p.name), p), []).append(p)
            else:
                for key in todo[p.name]:
                    pending[task.remote([market_ref, sources[p.name]], config, key, self.llm_kwargs)] = key
        actor_class = ray.remote(num_cpus=0, max_restarts=0)(AsyncEpisodes)
        actors = []
        for members in groups.values():
            keys = [key for p in members for key in todo[p.name]]
            if not keys:
                continue
            actor = actor_class.options(max_concurrency=self.concurrency).remote(
                market_ref, config, self.llm_kwargs, *(sources[p.name] for p in members))
            actors.append(actor)
            for key in keys:
                pending[actor.play.remote(key)] = key
        try:
            self._collect(ray, pending, deliver)
            ray.get([actor.close.remote() for actor in actors])  # flush LLM caches and ledgers
        finally:
            for ref in pending:  # interrupted: drop what is still queued
                ray.cancel(ref)
            for actor in actors:
                ray.kill(actor)

    @staticmethod
    def _collect(ray: Any, pending: dict[Any, EpisodeKey], deliver: Deliver) -> None:
        while pending:
            ray.wait(list(pending), num_returns=1)  # block until one is done, then take all done
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
            for ref in ready:
                key = pending.pop(ref)
                try:
                    seconds, outcome, error = ray.get(ref)
                except Exception as err:  # the worker died or Ray failed: recorded, the others go on
                    seconds, outcome, error = 0.0, None, f"{type(err).__name__}: {str(err).splitlines()[0]}"
                deliver(key, seconds, outcome, error)
