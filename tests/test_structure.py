"""The shape of the house, read from the source (AST only: no module is imported).

Two rules (DESIGN "One pipeline"):

(a) No module cycle and no package cycle. ``theory`` and ``sim`` import neither each other nor
    ``bounds`` / ``figures``; ``bounds`` does not import ``figures`` (it finds figures through
    the ``dssl_bounds.figures`` entry points). Imports inside functions count.
(b) Outside a package, a module imports only names the package's ``__init__`` lists in its
    ``__all__`` (the package itself or one of its sub-packages on the import's path), and no
    module imports a private name (``_x``) from another module.

Each rule is also run on a planted violation, so that a checker which finds nothing fails.
"""

from __future__ import annotations

import ast
import dataclasses
import pathlib
from typing import Iterator

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("theory", "sim", "bounds", "figures")
#: The folders of scripts that use the packages from outside (rule (b) only).
USERS = ("notebooks", "benchmarks", "examples")
#: Which top-level packages each package may import (DESIGN: data flows one way).
ALLOWED = {"theory": set(), "sim": set(), "bounds": {"theory", "sim"}, "figures": {"theory", "sim", "bounds"}}


@dataclasses.dataclass(frozen=True)
class Import:
    """One import site: the importing module, the imported module and (``from`` imports) the name."""

    module: str
    line: int
    target: str
    name: str | None


def module_name(root: pathlib.Path, path: pathlib.Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: pathlib.Path, folders: tuple[str, ...]) -> dict[str, pathlib.Path]:
    """Every ``.py`` file under ``root/folder`` by dotted module name."""
    return {module_name(root, p): p for folder in folders for p in sorted((root / folder).rglob("*.py"))}


def imports(name: str, path: pathlib.Path) -> Iterator[Import]:
    """Every import statement of the module (function-level ones included), relative ones resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, node.lineno, alias.name, None)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                yield Import(name, node.lineno, base, alias.name)


def top(name: str) -> str:
    return name.split(".")[0]


def module_graph(mods: dict[str, pathlib.Path]) -> dict[str, set[str]]:
    """Module -> the toolkit modules it imports (``from a import b`` points at ``a.b`` when that is a module)."""
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        for imp in imports(m, path):
            full = f"{imp.target}.{imp.name}" if imp.name else imp.target
            target = full if full in mods else imp.target
            if target in mods and target != m:
                graph[m].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def layering_problems(root: pathlib.Path) -> list[str]:
    """Rule (a): module cycles, package cycles and imports against `ALLOWED`."""
    mods = modules(root, PACKAGES)
    graph = module_graph(mods)
    problems = [f"module cycle: {' <-> '.join(c)}" for c in cycles(graph)]
    packages: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for m, targets in graph.items():
        for t in targets:
            if top(t) != top(m):
                packages[top(m)].add(top(t))
                if top(t) not in ALLOWED[top(m)]:
                    problems.append(f"{m} imports {t}: {top(m)} may import only {sorted(ALLOWED[top(m)])}")
    problems += [f"package cycle: {' <-> '.join(c)}" for c in cycles(packages)]
    return problems


def listed(path: pathlib.Path) -> set[str] | None:
    """The names a package ``__init__`` lists in its ``__all__`` (None when it has none), which
    must be a literal: a list written by hand, not computed."""
    names = None
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                try:
                    value = set(ast.literal_eval(node.value))
                except ValueError:
                    raise ValueError(f"{path}:{node.lineno}: __all__ must be a literal list of names") from None
                names = value if names is None or not isinstance(node, ast.AugAssign) else names | value
    return names


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def surface_problems(root: pathlib.Path, users: tuple[str, ...] = USERS) -> list[str]:
    """Rule (b): unlisted names imported from outside their package, private names imported."""
    mods = modules(root, PACKAGES)
    inits = {m: listed(p) for m, p in mods.items() if p.name == "__init__.py"}
    everyone = {**mods, **modules(root, tuple(u for u in users if (root / u).is_dir()))}
    problems = []
    for m, path in everyone.items():
        for imp in imports(m, path):
            if top(imp.target) not in PACKAGES:
                continue
            where = f"{path.relative_to(root)}:{imp.line}"
            parts = imp.target.split(".")
            if imp.name and private(imp.name) and f"{imp.target}.{imp.name}" not in mods:
                problems.append(f"{where}: private name {imp.name} imported from {imp.target}")
            if top(imp.target) == top(m):
                continue
            if any(private(p) for p in parts):
                problems.append(f"{where}: private module {imp.target} imported from outside {top(imp.target)}")
                continue
            # The name and the packages on its path: the import is public when the name (or, for
            # ``import a.b.c``, the last module) is listed by the __init__ of a package on the path.
            name, path_parts = (imp.name, parts) if imp.name else (parts[-1], parts[:-1])
            if not path_parts:  # ``import sim``
                continue
            packages = [".".join(path_parts[: i + 1]) for i in range(len(path_parts))]
            if not any(name in (inits.get(p) or ()) for p in packages):
                problems.append(f"{where}: {name} imported from {imp.target}, not listed in the __all__ of "
                                f"{' or '.join(p for p in packages if p in inits)}")
    return problems


def test_no_cycles_and_packages_layered():
    assert layering_problems(ROOT) == []


def test_only_listed_public_names_cross_packages():
    assert surface_problems(ROOT) == []


def plant(root: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    for package in PACKAGES:
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text(files.pop(f"{package}/__init__.py", "__all__ = []\n"))
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_a_planted_module_cycle_is_found(tmp_path):
    root = plant(tmp_path, {"bounds/a.py": "def f():\n    from bounds import b\n",
                            "bounds/b.py": "from bounds.a import f\n"})
    assert layering_problems(root) == ["module cycle: bounds.a <-> bounds.b"]


def test_a_planted_package_import_against_the_layering_is_found(tmp_path):
    root = plant(tmp_path, {"bounds/ledger.py": "def draw():\n    from figures import make\n",
                            "figures/fig.py": "import bounds\n"})
    problems = layering_problems(root)
    assert any("bounds.ledger imports figures" in p for p in problems)
    assert "package cycle: bounds <-> figures" in problems


def test_relative_imports_are_resolved(tmp_path):
    root = plant(tmp_path, {"sim/a.py": "from . import b\n", "sim/b.py": "from .a import x\n"})
    assert layering_problems(root) == ["module cycle: sim.a <-> sim.b"]


def test_a_planted_unlisted_or_private_import_is_found(tmp_path):
    root = plant(tmp_path, {
        "sim/__init__.py": "__all__ = ['listed']\nfrom sim.data.model import listed\n",
        "sim/data/__init__.py": "",
        "sim/data/model.py": "listed = unlisted = _hidden = 1\n",
        "bounds/x.py": "from sim import listed\nfrom sim.data.model import listed as ok, unlisted\n",
        "bounds/y.py": "from bounds.x import _helper\n",
        "notebooks/n.py": "from sim.data import model\n",
    })
    problems = surface_problems(root)
    assert len(problems) == 3, problems
    assert "bounds/x.py:2: unlisted imported from sim.data.model" in problems[0]
    assert "bounds/y.py:1: private name _helper" in problems[1]
    assert "notebooks/n.py:1: model imported from sim.data" in problems[2]


if __name__ == "__main__":  # pragma: no cover
    print("\n".join(layering_problems(ROOT) + surface_problems(ROOT)))
    pytest.main([__file__, "-q"])
