"""`python -m shogi_jax.tournament`: the documented entry point, kept as a shim; the CLI is
`shogi_jax.cli.tournament` (the library is `shogi_jax.arena.tournament`)."""
import sys

from shogi_jax.cli.tournament import main

if __name__ == "__main__":
    sys.exit(main())
