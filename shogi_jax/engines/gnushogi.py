"""`python -m shogi_jax.engines.gnushogi`: the documented command, kept as a shim; the adapter is
`shogi_jax.usi.gnushogi`."""
import sys

from shogi_jax.usi.gnushogi import main

if __name__ == "__main__":
    sys.exit(main())
