"""The command lines: argument parsing, exit codes and messages for a person; the work is done
by the library modules they call (`shogi_jax.train`, `shogi_jax.arena.tournament`, the USI
engine in `shogi_jax.usi`).

`python -m shogi_jax.train|tournament|usi` run them: `shogi_jax/train.py` is the training loop
itself, `shogi_jax/tournament.py` and `shogi_jax/usi.py` are entry shims kept because those names
are documented and written into launchers; the code lives here so it does not share a name with
the library modules `notation/usi.py`, `usi_engine/` and `evaluation/tournament.py`.
"""
