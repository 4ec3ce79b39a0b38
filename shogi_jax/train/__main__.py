"""`python -m shogi_jax.train`: the documented entry point; the CLI is `shogi_jax.cli.train`."""
import sys

from shogi_jax.cli.train import main

sys.exit(main())
