"""The reference form of shogi_jax's search: mctx's own backup, its vmapped loop, in place of the
batched one (`shogi_jax.play._mctx_backward`), for the tests that compare the two."""
from __future__ import annotations

import contextlib
from unittest import mock

from mctx._src import search as mctx_search

from shogi_jax.play import _mctx_backward


@contextlib.contextmanager
def mctx_own_backup():
    """`search` traced inside this block backs up as mctx writes it."""
    with mock.patch.object(_mctx_backward, "batched_backward", mctx_search.backward):
        yield
