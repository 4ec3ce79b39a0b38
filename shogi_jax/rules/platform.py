"""One program per backend: the CPU form and the accelerator form of a batched computation.

The same jitted function must compile to the right program on every backend. On the 2-core CPU,
games run in cache-sized chunks (a loop over games) and conditionals serve as fusion boundaries;
on a GPU or TPU such a loop runs its chunks one after another, hundreds of small kernels each,
and a conditional on device data waits on the host. So a computation that has two forms states
both, and `by_platform` picks one for the platform the function is compiled for
(`jax.lax.platform_dependent`: a `jax.export` for "cuda" or "tpu" on this CPU gets the
accelerator form, a jit on the CPU the CPU form).

For benchmarking, either form can be forced on any backend:
- `SHOGI_JAX_PROGRAM=cpu|accelerator|auto` in the environment (default auto), read when a
  function is traced, or
- `with forced_program("cpu"): ...` around calls (it clears JAX's caches of traced functions on
  entering and leaving, so that no function traced in one form is reused in the other).
"""
from __future__ import annotations

import contextlib
import contextvars
import os
from typing import Callable, Iterator, Optional

import jax

PROGRAM_FORMS = ("auto", "cpu", "accelerator")
PROGRAM_FORM_VARIABLE = "SHOGI_JAX_PROGRAM"

_FORCED: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("forced_program",
                                                                        default=None)


def _checked(form: str, source: str) -> str:
    if form not in PROGRAM_FORMS:
        raise ValueError(f"{source} = {form!r}: expected one of {', '.join(PROGRAM_FORMS)}")
    return form


def program_form() -> str:
    """"auto", "cpu" or "accelerator": `forced_program`'s setting, else $SHOGI_JAX_PROGRAM."""
    forced = _FORCED.get()
    if forced is not None:
        return forced
    return _checked(os.environ.get(PROGRAM_FORM_VARIABLE, "auto") or "auto",
                    f"${PROGRAM_FORM_VARIABLE}")


@contextlib.contextmanager
def forced_program(form: str) -> Iterator[None]:
    """Within the block, functions are traced in `form` ("auto": the platform's choice)."""
    token = _FORCED.set(_checked(form, "forced_program"))
    jax.clear_caches()  # jit would otherwise reuse programs traced in the other form
    try:
        yield
    finally:
        _FORCED.reset(token)
        jax.clear_caches()


def by_platform(*args, cpu: Callable, accelerator: Callable):
    """cpu(*args) where the function is compiled for the CPU, accelerator(*args) elsewhere
    (GPU, TPU), unless a form is forced. Both must return the same shapes and dtypes.

    With one target platform (every jit and single-platform export), only the chosen form is
    lowered; JAX wraps it in a conditional on a constant platform index, which is folded away
    before anything runs.
    """
    form = program_form()
    if form == "cpu":
        return cpu(*args)
    if form == "accelerator":
        return accelerator(*args)
    return jax.lax.platform_dependent(*args, cpu=cpu, default=accelerator)
