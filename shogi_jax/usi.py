"""`python -m shogi_jax.usi`: the documented entry point, kept as a shim because launchers written
by `--write-launcher` run this module by name; the CLI is `shogi_jax.cli.usi`."""
import sys

from shogi_jax.cli.usi import main

if __name__ == "__main__":
    sys.exit(main())
