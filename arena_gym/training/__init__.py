"""Training: PPO on the env (:mod:`~arena_gym.training.ppo_training`), retrained per
walk-forward fold (:mod:`~arena_gym.training.walk_forward`) and swept over hyperparameters and
seeds on Ray Tune (:mod:`~arena_gym.training.ppo_sweep`).

Arrows: reads the env, the agents (a trained model is saved for
:class:`~arena_gym.agents.policies.SB3Policy`) and evaluation (the runner scores validation
episodes on the time splits); the campaigns and the command line read it. Fine-tuning an LLM is
in :mod:`arena_gym.llm_training`.
"""
