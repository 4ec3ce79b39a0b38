"""The package's own import graph, read from the source (ast), for tests/test_layers.py and for
the closing figures of a refactor (`python tests/package_imports.py` prints it)."""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "shogi_jax"

# The layers, lowest first: a module may import its own layer and the ones before it, never one
# after it (docs/architecture.md). `shogi_jax` itself is the public surface over the rules.
LAYERS = ("host", "rules", "notation", "api", "play", "usi", "arena", "train", "reports", "cli",
          "entry")
# Modules that are only `python -m shogi_jax.X` entry points (they import the CLI, nothing else).
ENTRY_MODULES = {"shogi_jax.tournament", "shogi_jax.report", "shogi_jax.engines",
                 "shogi_jax.engines.gnushogi", "shogi_jax.train.__main__", "shogi_jax.usi.__main__"}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module of ours
    line: int
    nested: bool  # inside a function or class: runs when called, not at import


def module_names(root: Path = PACKAGE_ROOT) -> dict[str, Path]:
    """{dotted module name: file} of every module in the package."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def layer_of(module: str) -> str:
    if module in ENTRY_MODULES:
        return "entry"
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "env":
        return "api"
    return parts[1]


def _targets(node: ast.AST, module: str, path: Path, modules: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in modules]
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
        base = f"{base}.{node.module}" if node.module else base
    else:
        base = node.module or ""
    found = []
    for alias in node.names:
        if f"{base}.{alias.name}" in modules:
            found.append(f"{base}.{alias.name}")
        elif base in modules:
            found.append(base)
    return found


def package_imports(root: Path = PACKAGE_ROOT) -> list[Import]:
    """Every import of one of our modules by another, top-level or nested."""
    modules = module_names(root)
    imports = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        scopes = [node for node in ast.walk(tree)
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        nested_lines = {child.lineno for node in scopes for child in ast.walk(node)
                        if isinstance(child, (ast.Import, ast.ImportFrom))}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(node, module, path, modules):
                    if target != module:
                        imports.append(Import(module, target, node.lineno,
                                              node.lineno in nested_lines))
    return imports


def upward_imports(imports: list[Import]) -> list[Import]:
    """Imports from a module to a later layer than its own."""
    rank = {layer: k for k, layer in enumerate(LAYERS)}
    return [i for i in imports if rank[layer_of(i.target)] > rank[layer_of(i.source)]]


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {}
    for i in imports:
        graph.setdefault(i.source, set()).add(i.target)
        graph.setdefault(i.target, set())
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def line_counts(root: Path = PACKAGE_ROOT) -> dict[str, int]:
    return {module: len(path.read_text().splitlines())
            for module, path in module_names(root).items()}


if __name__ == "__main__":
    imports = package_imports()
    counts = line_counts()
    by_layer: dict[str, list[int]] = {}
    for module, lines in counts.items():
        by_layer.setdefault(layer_of(module), []).append(lines)
    for layer in LAYERS:
        files = by_layer.get(layer, [])
        print(f"{layer:9} {len(files):3} files {sum(files):6} lines")
    print(f"{'total':9} {len(counts):3} files {sum(counts.values()):6} lines; "
          f"largest {max(counts.values())} ({max(counts, key=counts.get)})")
    print(f"imports of our modules: {len(imports)} ({sum(i.nested for i in imports)} nested)")
    print(f"import cycles: {import_cycles(imports)}")
    for i in upward_imports(imports):
        print(f"upward: {i.source}:{i.line} -> {i.target}{' (nested)' if i.nested else ''}")
    for module, lines in sorted(counts.items(), key=lambda kv: -kv[1]):
        if lines > 400:
            print(f"over 400 lines: {module} {lines}")
