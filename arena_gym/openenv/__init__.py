"""The contest env as an OpenEnv environment (needs the ``train-llm`` extra: ``openenv-core``).

* :mod:`.models`: ``TradeAction`` (the model's raw answer), ``ArenaObservation`` (the contest
  prompt plus equity, return, fallbacks), ``ArenaState``.
* :mod:`.environment`: ``ArenaEnvironment``, ``reset`` / ``step`` / ``state`` in-process.
* :mod:`.server`: OpenEnv's server around it (``arena-gym serve-env``), bounded, on 127.0.0.1.
* :mod:`.client`: ``ArenaEnvClient``, OpenEnv's WebSocket client with these types.
* :mod:`.limits`: the server's default address and bounds.

Import the submodules; this package itself imports nothing, so the command line can read the
defaults without openenv-core installed.
"""
