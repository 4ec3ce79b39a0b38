"""Our USI engine: `protocol` (the text, stdlib only) over a `Mover`; `mover` (the JAX side: the
position the GUI set, moves from `play.players`); `gnushogi` (GNU Shogi behind the same protocol).
`python -m shogi_jax.usi` is the command line (`cli/usi.py`)."""
