"""One program per backend: the CPU form and the accelerator form of a batched computation.

The same jitted function must compile to the right program on every backend. On the 2-core CPU,
games run in cache-sized chunks (a loop over games) and conditionals serve as fusion boundaries;
on a GPU or TPU such a loop runs its chunks one after another, hundreds of small kernels each,
and a conditional on device data waits on the host. So a computation that has two forms states
both, and `by_platform` picks one for the platform the function is compiled for
(`jax.lax.platform_dependent`: a `jax.export` for "cuda" or "tpu" on this CPU gets the
accelerator form, a jit on the CPU the CPU form).

For benchmarking, either form can be forced on any backend:
- `SHOGI_JAX_PROGRAM=cpu|accelerator|auto` in the environment (default auto), or
- `with forced_program("cpu"): ...` around calls.
The setting is a JAX configuration flag (`shogi_jax_program`, so also
`jax.config.update("shogi_jax_program", "cpu")`) that is part of jit's cache key: a function
traced in one form is never reused in the other.
"""
from __future__ import annotations

import os
from typing import Callable, ContextManager

import jax

# JAX's own flags: read from the environment, and part of the trace cache key (no public API
# defines one; jax is pinned below 0.11).
from jax._src import config as jax_config

PROGRAM_FORMS = ("auto", "cpu", "accelerator")
PROGRAM_FORM_VARIABLE = "SHOGI_JAX_PROGRAM"


def _checked(form: str, source: str) -> str:
    if form not in PROGRAM_FORMS:
        raise ValueError(f"{source} = {form!r}: expected one of {', '.join(PROGRAM_FORMS)}")
    return form


_checked(os.environ.get(PROGRAM_FORM_VARIABLE, "auto"), f"${PROGRAM_FORM_VARIABLE}")
_PROGRAM_FORM = jax_config.enum_state(
    name=PROGRAM_FORM_VARIABLE.lower(), enum_values=PROGRAM_FORMS, default="auto",
    help="shogi_jax: the program form of the rules and evaluation: auto (by the platform), "
         "cpu or accelerator (forced)", include_in_trace_context=True)


def program_form() -> str:
    """"auto", "cpu" or "accelerator": the forced form, if any, of functions traced now."""
    return _PROGRAM_FORM.value


def forced_program(form: str) -> ContextManager[None]:
    """Within the block, functions are traced in `form` ("auto": the platform's choice)."""
    return _PROGRAM_FORM(_checked(form, "forced_program"))


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
