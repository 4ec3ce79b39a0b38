"""Counting what a compiled or exported program holds: loops, conditionals, collectives.

`jax.export` gives the StableHLO an accelerator would compile, here on the CPU. A
`jax.lax.platform_dependent` choice appears there as a conditional on a constant platform index,
which XLA folds before anything runs; MLIR's canonicalizer folds it the same way, so conditionals
are counted after it (a conditional on device data survives it: see tests/test_platform.py).
"""
from __future__ import annotations

import collections
import re

import jax
from jax._src.interpreters import mlir as jax_mlir  # the MLIR context JAX's dialects live in
from jax._src.lib.mlir import ir, passmanager

COLLECTIVES = ("all-gather", "all-reduce", "all-to-all", "collective-permute", "reduce-scatter")


def exported_text(function, *args, platform: str) -> str:
    """The StableHLO text of jit(function)(*args) exported for `platform` ("cuda", "tpu", "cpu")."""
    return jax.export.export(jax.jit(function), platforms=(platform,))(*args).mlir_module()


def canonicalized(stablehlo: str) -> str:
    """The module after MLIR's canonicalizer (constant-index conditionals folded)."""
    with jax_mlir.make_ir_context():
        module = ir.Module.parse(stablehlo)
        passmanager.PassManager.parse("builtin.module(canonicalize)").run(module.operation)
        return str(module)


def loops_and_conditionals(stablehlo: str) -> dict[str, int]:
    """{"while": n, "case": n, "if": n} in a StableHLO module, conditionals counted after
    canonicalization."""
    folded = canonicalized(stablehlo)
    return {"while": stablehlo.count("stablehlo.while"),
            "case": folded.count("stablehlo.case"), "if": folded.count("stablehlo.if")}


def collectives(compiled_hlo: str) -> collections.Counter:
    """Collective ops in XLA's compiled HLO text (`.lower(...).compile().as_text()`), by kind;
    async pairs (-start/-done) count once."""
    kinds = re.findall(r"\b(" + "|".join(COLLECTIVES) + r")(?:-start)?\(", compiled_hlo)
    return collections.Counter(kinds)


SELECT = re.compile(r"stablehlo\.select (%[\w#]+), (%[\w#]+), (%[\w#]+) : .*, tensor<([\dx]+)x")


def selects_of_shape(stablehlo: str, leading: tuple[int, ...]) -> int:
    """How many selects between two different values give an array whose leading dimensions are
    `leading` (a select of a value with itself is that value: XLA folds it before anything runs).
    A vmapped `while_loop` with a per-element condition masks its whole carry that way on every
    step."""
    dims = "x".join(str(n) for n in leading)
    return sum(1 for match in SELECT.finditer(stablehlo)
               if match.group(2) != match.group(3)
               and (match.group(4) + "x").startswith(dims + "x"))
