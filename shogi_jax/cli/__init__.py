"""The command lines behind `python -m shogi_jax.usi` and `python -m shogi_jax.tournament`.

Those two names are one-line entry shims at the package top, kept because they are documented and
written into launchers; the code lives here so it does not sit beside (and share a name with) the
library modules `notation/usi.py`, `usi_engine/` and `evaluation/tournament.py`.
"""
