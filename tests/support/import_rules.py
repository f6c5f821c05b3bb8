"""The project's import graph read from its source with ``ast`` (every import, at the top or deferred in
a function), and the two checks of the layer plan: no circles, and no import a layer may not make."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

Graph = dict[str, set[str]]
"""Each module of the project by its dotted name, with the project modules it imports."""


def module_name(root: Path, path: Path) -> str:
    """Dotted name of the module at ``path`` under the import root ``root`` (a package by its ``__init__``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module named by an import in ``tree``: ``import a.b`` and ``from a import b`` (``a`` and, if it
    is a module, ``a.b``), relative imports resolved against ``module``."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(root: Path, top_packages: Iterable[str]) -> Graph:
    """The import graph of the packages ``top_packages`` under ``root``, their imports of each other only."""
    paths = [path for package in top_packages for path in sorted((root / package).rglob("*.py"))]
    modules = {module_name(root, path): path for path in paths}
    graph: Graph = {}
    for module, path in modules.items():
        names = imported_names(ast.parse(path.read_text(), str(path)), module, path.name == "__init__.py")
        graph[module] = {name for name in names if name in modules and name != module}
    return graph


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Each circle of imports (a strongly connected component of more than one module, or a module that
    imports itself), its modules sorted, by Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1 or module in graph.get(module, ()):
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def layer_of(module: str, layers: Iterable[str]) -> str | None:
    """The layer (a package or module name of the plan) that ``module`` belongs to: the longest prefix."""
    matching = [layer for layer in layers if module == layer or module.startswith(layer + ".")]
    return max(matching, key=len, default=None)


def forbidden_imports(graph: Mapping[str, set[str]], may_import: Mapping[str, set[str]]) -> list[str]:
    """Every import of a module of one layer from another layer it may not import, as ``a -> b (layer x
    may not import layer y)``; a module in no layer of the plan is reported too."""
    problems = []
    for module in sorted(graph):
        layer = layer_of(module, may_import)
        if layer is None:
            problems.append(f"{module} is in no layer of the plan")
            continue
        for target in sorted(graph[module]):
            target_layer = layer_of(target, may_import)
            if target_layer != layer and target_layer not in may_import[layer]:
                problems.append(f"{module} -> {target} ({layer} may not import {target_layer})")
    return problems
