"""Kept for the command `python -m shogi_jax.engines.gnushogi` (tournament configs name it); the
adapter is `shogi_jax.usi.gnushogi`."""
