"""The USI engine: `protocol` (the text, no JAX) over a `Mover`; `mover` (the JAX side: the
position the GUI set, moves from `evaluation.players`). The CLI is `shogi_jax.cli.usi`."""
