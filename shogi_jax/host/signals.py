"""SIGTERM / SIGINT (preemption, Ctrl-C) as a request to stop at the next safe point.

A long host loop (training, a tournament) looks at `requested` between units of work it can
finish or drop cleanly, writes what it has and exits 0, instead of dying from a
KeyboardInterrupt raised inside a device call (which left tournaments with a traceback, a
segfault and nothing written)."""
from __future__ import annotations

import signal
from typing import Optional


class StopRequest:
    """Catches `signals` (SIGTERM and SIGINT) while active; `requested` names the first signal
    (or whatever reason the loop sets). Active between `install()` and `restore()`, which puts
    the previous handlers back."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, signals: tuple[signal.Signals, ...] = SIGNALS):
        self.requested: Optional[str] = None
        self.signals = signals
        self._previous = {}

    def install(self) -> "StopRequest":
        self._previous = {sig: signal.signal(sig, self._handle) for sig in self.signals}
        return self

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _handle(self, signum, _frame) -> None:
        if self.requested is None:
            self.requested = signal.Signals(signum).name
