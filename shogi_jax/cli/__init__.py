"""The command lines: argument parsing, exit codes and messages for a person; the work is done
by the layers below (`shogi_jax.train`, `shogi_jax.arena`, the USI engine in `shogi_jax.usi`,
`shogi_jax.reports`).

`python -m shogi_jax.train|usi|tournament|report` run them: `train/__main__.py` and
`usi/__main__.py`, and the shims `shogi_jax/tournament.py` and `shogi_jax/report.py`, kept because
those names are documented and written into launchers.
"""
