"""The import graph of the platform's own modules, read with ``ast`` (nothing is imported):
no import cycles, the domain (tickets/) depends on nothing above it, and geo/ (places,
boundaries, maps) knows nothing of tickets or of anything above them.

Every import counts, at module level and inside functions (a function-level import
only hides a cycle until the function runs), and so does a module loaded by name
(``importlib.import_module`` of a project module named in the source).
"""
from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.helpers import ROOT

PACKAGES = ("app", "settings", "dashboard", "layouts", "callbacks", "geo", "feeds", "tickets")
ABOVE_THE_DOMAIN = ("dashboard", "layouts", "callbacks", "feeds")
ABOVE_GEO = ("tickets", *ABOVE_THE_DOMAIN)

Edge = tuple[str, str]  # (importer, imported)

# Cycles that exist today, by name, as the imports that close them: none. One that is
# ever let in has to be named here with the way out; an entry that no longer closes a
# cycle fails the test too.
KNOWN_CYCLES: dict[str, frozenset[Edge]] = {}

# Imports from tickets/ of modules above the domain, today: none (the bus's handler
# table is in tickets/bootstrap.py, the 12345 results leave through the caller's
# delivery); kept so that one that comes back has to be named here.
KNOWN_DOMAIN_IMPORTS_FROM_ABOVE: dict[str, frozenset[Edge]] = {}


# ----------------------------------------------------------------- the graph
def project_modules(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Dotted module name → file, for every module of the packages (a package is its __init__)."""
    found: dict[str, Path] = {}
    for name in packages:
        single = root / f"{name}.py"
        if single.is_file():
            found[name] = single
            continue
        for path in sorted((root / name).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str, modules: Mapping[str, Path]) -> str | None:
    """The project module ``name`` refers to: itself, or the package that defines the name."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def imports_of(module: str, path: Path, modules: Mapping[str, Path]) -> set[str]:
    """Project modules ``module`` imports, wherever in the file the import stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str | None] = set()
    loads_by_name = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(_resolve(alias.name, modules) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            # `from pkg import name`: the submodule pkg.name if there is one, else pkg itself
            found.update(_resolve(f"{base}.{alias.name}", modules) or _resolve(base, modules)
                         for alias in node.names)
        elif isinstance(node, ast.Attribute | ast.Name) and "import_module" in (getattr(node, "attr", None),
                                                                                 getattr(node, "id", None)):
            loads_by_name = True
    if loads_by_name:  # a module loaded by name is named in the source, e.g. HANDLER_MODULES
        found.update(node.value for node in ast.walk(tree)
                     if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in modules)
    return {m for m in found if m is not None and m != module}


def import_graph(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, set[str]]:
    modules = project_modules(root, packages)
    return {m: imports_of(m, path, modules) for m, path in modules.items()}


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One import cycle as [a, b, …, a], or None (depth-first, in name order, so it is stable)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def reaches(graph: Mapping[str, Iterable[str]], start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def _all(named: Mapping[str, frozenset[Edge]]) -> set[Edge]:
    return {edge for edges in named.values() for edge in edges}


# ----------------------------------------------------------------- the rules
def test_no_import_cycles_but_the_known_ones() -> None:
    graph = import_graph()
    known = _all(KNOWN_CYCLES)
    gone = sorted((a, b) for a, b in known if b not in graph.get(a, ()) or not reaches(graph, b, a))
    assert not gone, f"no longer (part of) a cycle, take them out of KNOWN_CYCLES: {gone}"
    rest = {m: {d for d in deps if (m, d) not in known} for m, deps in graph.items()}
    cycle = find_cycle(rest)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_no_cycle_crosses_packages_not_even_a_known_one() -> None:
    """The screens (layouts, callbacks), the platform (dashboard) and every other package
    import one another one way: no cycle leaves a package and comes back into it."""
    graph = import_graph()
    crossing = sorted((a, b) for a, deps in graph.items() for b in deps
                      if a.split(".")[0] != b.split(".")[0] and reaches(graph, b, a))
    assert not crossing, f"imports on a cycle between packages: {crossing}"


def test_the_domain_depends_on_nothing_above_it() -> None:
    graph = import_graph()
    known = _all(KNOWN_DOMAIN_IMPORTS_FROM_ABOVE)
    upward = {(m, d) for m, deps in graph.items() if m.split(".")[0] == "tickets"
              for d in deps if d.split(".")[0] in ABOVE_THE_DOMAIN}
    assert not sorted(known - upward), "gone, take them out of KNOWN_DOMAIN_IMPORTS_FROM_ABOVE"
    assert not sorted(upward - known), "tickets/ must not import dashboard, layouts, callbacks or feeds"


def test_geo_knows_nothing_of_tickets() -> None:
    graph = import_graph()
    upward = sorted((m, d) for m, deps in graph.items() if m.split(".")[0] == "geo"
                    for d in deps if d.split(".")[0] in ABOVE_GEO)
    assert not upward, "geo/ takes plain data (coordinates, polygons, points); the query belongs to the caller"


def test_the_reader_sees_every_kind_of_import_and_the_finder_names_the_cycle(tmp_path: Path) -> None:
    """The rules above can fail: planted cycles through each kind of import are found."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from pkg import a\n")
    (pkg / "a.py").write_text("import pkg.b\n")
    (pkg / "b.py").write_text("def later():\n    from pkg.c import thing\n")  # function level
    (pkg / "c.py").write_text("from . import d\nthing = 1\n")  # relative
    (pkg / "d.py").write_text("import importlib\nHANDLERS = ('pkg.a',)\n"
                              "def load():\n    for name in HANDLERS:\n        importlib.import_module(name)\n")
    graph = import_graph(tmp_path, ["pkg"])
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.c"}, "pkg.c": {"pkg.d"},
                     "pkg.d": {"pkg.a"}}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.a"]
    assert find_cycle({**graph, "pkg.d": set()}) is None
