"""The command lines: argument parsing, exit codes and messages for a person. The work itself is
done by the library modules they call (`shogi_jax.train`, `shogi_jax.evaluation.tournament`,
the USI engine). `python -m shogi_jax.train|tournament|usi` runs them."""
