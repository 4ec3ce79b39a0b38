"""`python -m shogi_jax.report PATH`: the documented entry point, kept as a shim; the CLI is
`shogi_jax.cli.report` (the pages are made by `shogi_jax.reports`)."""
import sys

from shogi_jax.cli.report import main

if __name__ == "__main__":
    sys.exit(main())
