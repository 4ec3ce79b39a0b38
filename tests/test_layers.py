"""The package's layers (docs/architecture.md): imports run down the layers only, with no circle,
and every module file holds one concept (at most 400 lines)."""
from __future__ import annotations

import textwrap

from package_imports import (
    LAYERS,
    import_cycles,
    layer_of,
    line_counts,
    module_names,
    package_imports,
    upward_imports,
)

MAX_MODULE_LINES = 400


def test_every_module_belongs_to_a_layer():
    assert {layer_of(module) for module in module_names()} <= set(LAYERS)


def test_no_import_runs_up_the_layers():
    upward = [f"{i.source}:{i.line} -> {i.target}" for i in upward_imports(package_imports())]
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def test_no_import_circle():
    assert import_cycles(package_imports()) == []


def test_every_module_holds_one_concept():
    """No package module over MAX_MODULE_LINES: a file that needs a table of contents is several."""
    long = {module: lines for module, lines in line_counts().items() if lines > MAX_MODULE_LINES}
    assert not long, long


def test_no_import_hidden_in_a_function():
    """A nested import is how a circle gets dodged; entry points and optional extras aside."""
    nested = [f"{i.source}:{i.line} -> {i.target}" for i in package_imports() if i.nested]
    assert not nested, "\n".join(nested)


def test_the_checks_find_what_they_look_for(tmp_path):
    """The graph reader on a made-up package: an upward import, a circle and a nested import."""
    package = tmp_path / "shogi_jax"
    for path, text in {
        "__init__.py": "",
        "rules/__init__.py": "",
        "rules/a.py": "from shogi_jax.train import loop\n",
        "train/__init__.py": "",
        "train/loop.py": "def f():\n    from shogi_jax.rules import a\n",
    }.items():
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text(textwrap.dedent(text))
    imports = package_imports(package)
    assert [(i.source, i.target) for i in upward_imports(imports)] == [
        ("shogi_jax.rules.a", "shogi_jax.train.loop")]
    assert import_cycles(imports) == [["shogi_jax.rules.a", "shogi_jax.train.loop"]]
    assert [i.source for i in imports if i.nested] == ["shogi_jax.train.loop"]
