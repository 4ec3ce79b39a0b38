"""`python -m shogi_jax.usi`: the documented entry point, also what launchers written by
`--write-launcher` run; the CLI is `shogi_jax.cli.usi`."""
import sys

from shogi_jax.cli.usi import main

sys.exit(main())
