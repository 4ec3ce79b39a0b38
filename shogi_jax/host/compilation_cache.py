"""XLA's compiled programs kept on disk between processes (JAX's persistent compilation cache), so
that a resumed training run, a fresh run of the same config and a restarted USI engine read their
programs instead of compiling them again."""
from __future__ import annotations

import os
from typing import Optional

import jax
from jax.experimental.compilation_cache import compilation_cache

# Under the user's cache directory rather than in a run directory: one cache serves every run (a
# fresh run of a config starts as fast as its resume) and the USI engine, and deleting it only
# costs compiling again. JAX finds a program by a hash of its text, devices, compiler options and
# JAX version, so a program is only read back where the very same one is asked for.
DEFAULT_CACHE_DIR = "~/.cache/shogi_jax/xla"


def keep_compiled_programs(directory: Optional[str] = DEFAULT_CACHE_DIR) -> Optional[str]:
    """Points JAX's persistent compilation cache at `directory` (a local path, `~` expanded, or
    a URL JAX can write, such as gs://bucket/xla), or turns it off (None or ""). Returns the
    directory in use, or None.

    The default gives way to $JAX_COMPILATION_CACHE_DIR where that is set: JAX's own variable, by
    which a test session or a cluster points all its processes at one cache. Every program is
    kept, however fast it compiled (JAX's default keeps only those that took a second): reading
    one back costs less than compiling even a small one, and the USI engine and the evaluation's
    players compile many small ones. Call it before compiling; a later call moves the cache for
    the compilations after it."""
    if directory == DEFAULT_CACHE_DIR and os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        directory = os.environ["JAX_COMPILATION_CACHE_DIR"]
    directory = os.path.expanduser(directory) if directory else None
    if directory != jax.config.jax_compilation_cache_dir:
        # JAX opens its cache once, at the first compilation; forget the one it opened.
        compilation_cache.reset_cache()
        jax.config.update("jax_compilation_cache_dir", directory)
    if directory:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory
