"""Campaigns: whole studies built on the rooms below, through their public names.

* :mod:`~arena_gym.campaigns.arena_campaign`: PPO against the baselines (and LLMs) on held-out
  windows, with significance tables (``arena-gym arena`` / ``eval`` / ``train``);
* :mod:`~arena_gym.campaigns.season1_campaign`: the contest's Season 1 re-run from its trade
  log (with :mod:`~arena_gym.campaigns.season1_recorded` and
  :mod:`~arena_gym.campaigns.season1_report`);
* :mod:`~arena_gym.campaigns.paper_trading`: policies on live bars;
* :mod:`~arena_gym.campaigns.distributed`: an evaluation's episodes on a Ray cluster;
* :mod:`~arena_gym.campaigns.policy_specs`: the policy spec strings every campaign accepts.

Arrows: read presets, agents, evaluation, training and the LLM fine-tuning's checkpoint policy;
only the command line (and :mod:`arena_gym.rllib`) reads them.
"""
