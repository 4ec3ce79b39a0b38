"""Self-play training: the config schema, the one jitted iteration (rollout, targets, PPO or
gumbel_az updates, opponent pool, shaping), the host loop, checkpoints, the run directory and the
evaluation during training. `python -m shogi_jax.train` is the command line (`cli/train.py`)."""
