"""The layers of nasrec: every import in ``nasrec/`` and ``server/`` points down ``LAYERS``.

Read with ``ast`` (nothing is imported): module-level and function-level imports, ``import x`` and
``from x import y``, relative imports resolved, and imports under ``if TYPE_CHECKING:`` too (a
type-only upward import is still an upward dependency; none is needed today). A module may import
its own row's package and the packages of lower layers; importing a higher layer, or another package
of its own layer, is a violation. nasrec's packages must also form no import cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("nasrec", "server")

#: Bottom to top: (layer, packages). A package covers its submodules, except the root ``nasrec``,
#: which is only ``nasrec/__init__.py`` (``__version__``; each subpackage has its own row).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("errors", ("nasrec.errors",)),
    (
        "base",
        ("nasrec", "nasrec.home", "nasrec.console", "nasrec.metrics", "nasrec.names", "nasrec.ray_runtime"),
    ),
    ("foundations", ("nasrec.space", "nasrec.data", "nasrec.store")),
    ("models and costs", ("nasrec.nets", "nasrec.cost", "nasrec.spec", "nasrec.diagram")),
    ("training", ("nasrec.train",)),
    ("search and export", ("nasrec.search", "nasrec.export")),
    ("jobs", ("nasrec.jobs",)),
    ("command line", ("nasrec.cli",)),
    ("service", ("server",)),
)
ROOT = "nasrec"

#: Imports that point up by design: (file, imported package) -> why.
ALLOWED = {
    ("nasrec/__init__.py", "nasrec.export"): "the public surface: nasrec.load_exported, loaded on first use",
}

#: Violations in code other people are changing now: (file, imported package) -> why it is there.
#: Remove an entry when its import goes (the stale-entry test says so).
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    file: str  # repo-relative path of the importing file
    line: int
    importer: str  # the importing module
    module: str  # the imported module, absolute
    type_only: bool  # under ``if TYPE_CHECKING:``


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str, root: Path) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Collector(ast.NodeVisitor):
    """Every import of a scanned package in one file, wherever it is (module, function, class, if)."""

    def __init__(self, file: str, module: str, package: str, root: Path) -> None:
        self.file, self.module, self.package, self.root = file, module, package, root
        self.type_only = False
        self.found: list[Import] = []

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        outer, self.type_only = self.type_only, True
        for child in node.body:
            self.visit(child)
        self.type_only = outer
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # relative: resolved against this module's package
            parts = self.package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            target = f"{base}.{node.module}" if node.module else base
        else:
            target = node.module or ""
        for alias in node.names:  # ``from pkg import submodule`` imports the submodule
            sub = f"{target}.{alias.name}"
            self._add(node, sub if _is_module(sub, self.root) else target)

    def _add(self, node: ast.stmt, name: str) -> None:
        if name.split(".")[0] in SCANNED:
            self.found.append(Import(self.file, node.lineno, self.module, name, self.type_only))


def sources(root: Path) -> list[Path]:
    return [path for top in SCANNED for path in sorted((root / top).rglob("*.py"))]


def imports_in(root: Path) -> list[Import]:
    """The imports of nasrec / server modules made by every ``.py`` under ``root``'s scanned packages."""
    found: list[Import] = []
    for path in sources(root):
        module = module_name(path, root)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        collector = _Collector(path.relative_to(root).as_posix(), module, package, root)
        collector.visit(ast.parse(path.read_text(), filename=str(path)))
        found.extend(dict.fromkeys(collector.found))  # ``from x import a, b``: one import of x
    return found


def unmapped_modules(root: Path) -> list[str]:
    """Modules under ``root`` that no row of ``LAYERS`` covers."""
    return [module_name(p, root) for p in sources(root) if package_of(module_name(p, root)) is None]


def package_of(module: str) -> str | None:
    """The row of ``LAYERS`` that ``module`` belongs to (its package), or None."""
    if module == ROOT:
        return ROOT
    names = [n for _, row in LAYERS for n in row if n != ROOT and (module == n or module.startswith(n + "."))]
    return max(names, key=len, default=None)


LAYER_OF = {name: i for i, (_, row) in enumerate(LAYERS) for name in row}


def problem(imp: Import) -> str | None:
    """Why ``imp`` breaks the layering (None if it does not)."""
    importer, imported = package_of(imp.importer), package_of(imp.module)
    where = f"{imp.file}:{imp.line} {imp.module}" + (" (type-checking only)" if imp.type_only else "")
    for module, package in ((imp.importer, importer), (imp.module, imported)):
        if package is None:
            return (
                f"{where}: module {module} is in no layer; add its package to LAYERS in tests/test_layers.py"
            )
    assert importer is not None and imported is not None
    if importer == imported or LAYER_OF[imported] < LAYER_OF[importer]:
        return None
    mine, theirs = LAYERS[LAYER_OF[importer]][0], LAYERS[LAYER_OF[imported]][0]
    if mine == theirs:
        return f"{where}: {importer} may not import {imported}, another package of layer {mine!r}"
    return f"{where}: layer {mine!r} ({importer}) may not import layer {theirs!r} ({imported})"


def violations(found: list[Import]) -> dict[tuple[str, str], list[str]]:
    """(file, imported package) -> the problems, for every import that breaks the layering."""
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for imp in found:
        message = problem(imp)
        if message is not None:
            out[(imp.file, package_of(imp.module) or imp.module)].append(message)
    return out


def package_cycles(found: list[Import]) -> list[list[str]]:
    """Import cycles between nasrec's packages (strongly connected components of 2 or more)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in found:
        a, b = package_of(imp.importer), package_of(imp.module)
        if a and b and a != b and a.split(".")[0] == b.split(".")[0] == ROOT:
            graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


@pytest.fixture(scope="module")
def tree_imports() -> list[Import]:
    found = imports_in(REPO)
    assert len({imp.file for imp in found}) > 100, "the scan found too few files: is REPO right?"
    return found


def test_every_import_points_down_the_layers(tree_imports: list[Import]) -> None:
    tolerated = ALLOWED.keys() | KNOWN_VIOLATIONS.keys()
    new = [
        m
        for key, messages in sorted(violations(tree_imports).items())
        if key not in tolerated
        for m in messages
    ]
    assert not new, "imports against the layers (see LAYERS in tests/test_layers.py):\n" + "\n".join(new)


def test_known_violations_are_still_there(tree_imports: list[Import]) -> None:
    found = violations(tree_imports)
    stale = [
        f"{file} -> {package}"
        for file, package in {**ALLOWED, **KNOWN_VIOLATIONS}
        if (file, package) not in found
    ]
    assert not stale, "no longer imported (remove from ALLOWED / KNOWN_VIOLATIONS):\n" + "\n".join(stale)


def test_nasrec_packages_import_no_cycle(tree_imports: list[Import]) -> None:
    tolerated = ALLOWED.keys() | KNOWN_VIOLATIONS.keys()
    kept = [imp for imp in tree_imports if (imp.file, package_of(imp.module)) not in tolerated]
    cycles = package_cycles(kept)
    assert not cycles, "import cycles between nasrec packages:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_every_module_has_a_layer() -> None:
    missing = unmapped_modules(REPO)
    assert not missing, (
        "modules in no layer (add their package to LAYERS in tests/test_layers.py): " + ", ".join(missing)
    )


def test_nothing_in_nasrec_imports_server(tree_imports: list[Import]) -> None:
    up = [
        f"{i.file}:{i.line} {i.module}"
        for i in tree_imports
        if i.file.startswith("nasrec/") and i.module.split(".")[0] == "server"
    ]
    assert not up, "nasrec/ imports server/:\n" + "\n".join(up)


# ---- the checker itself, on a small tree with one import of every kind -------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checker_finds_every_kind_of_import(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "nasrec/__init__.py": "",
            "nasrec/errors.py": "import typing\nif typing.TYPE_CHECKING:\n    from nasrec.space import A\n",
            "nasrec/space/__init__.py": "def f():\n    from nasrec.jobs import run\n",
            "nasrec/space/arch.py": "from . import util\nfrom .util import g\n",
            "nasrec/space/util.py": "import numpy\n",
            "nasrec/data/__init__.py": "import nasrec.space.arch\n",
            "nasrec/jobs/__init__.py": "from ..space import arch\nfrom nasrec import errors\n",
            "nasrec/tools.py": "import os\n",
            "server/__init__.py": "from nasrec.jobs import run\n",
        },
    )
    found = imports_in(tmp_path)
    assert {(i.file, i.module, i.type_only) for i in found} == {
        ("nasrec/errors.py", "nasrec.space", True),
        ("nasrec/space/__init__.py", "nasrec.jobs", False),
        ("nasrec/space/arch.py", "nasrec.space.util", False),
        ("nasrec/data/__init__.py", "nasrec.space.arch", False),
        ("nasrec/jobs/__init__.py", "nasrec.space.arch", False),
        ("nasrec/jobs/__init__.py", "nasrec.errors", False),
        ("server/__init__.py", "nasrec.jobs", False),
    }
    assert sorted(m for ms in violations(found).values() for m in ms) == [
        "nasrec/data/__init__.py:1 nasrec.space.arch: nasrec.data may not import nasrec.space, "
        "another package of layer 'foundations'",
        "nasrec/errors.py:3 nasrec.space (type-checking only): layer 'errors' (nasrec.errors) "
        "may not import layer 'foundations' (nasrec.space)",
        "nasrec/space/__init__.py:2 nasrec.jobs: layer 'foundations' (nasrec.space) may not import "
        "layer 'jobs' (nasrec.jobs)",
    ]
    assert package_cycles(found) == [["nasrec.errors", "nasrec.jobs", "nasrec.space"]]
    assert unmapped_modules(tmp_path) == ["nasrec.tools"]
    unmapped = problem(Import("nasrec/tools.py", 1, "nasrec.tools", "nasrec.errors", False))
    assert unmapped is not None and "module nasrec.tools is in no layer" in unmapped
