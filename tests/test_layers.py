"""The package's layers, read from its imports: data flows one way, and nothing loops.

From the bottom: ``utils`` < ``io``, ``alliance``, ``simulation`` < ``preprocessing`` <
``synchrony`` < ``surrogates`` < ``stats`` < ``viz`` < ``report`` < ``pipeline`` <
``cli``. A module imports only from its own layer or below, at the top of the file
or inside a function alike; the one exception is a result object's plot method,
which may import ``viz`` inside the method (MNE's idiom). No two modules import each
other, directly or around a loop.

A subpackage may offer a name that lives in a higher layer only as a lazy alias
(its ``_LAZY`` table, resolved on first use), and only for the public names the
design fixed in that subpackage.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "mne_dyad"
LAYERS = (
    ("utils", "_version"),
    ("io", "alliance", "simulation"),
    ("preprocessing",),
    ("synchrony",),
    ("surrogates",),
    ("stats",),
    ("viz",),
    ("report",),
    ("pipeline",),
    ("cli",),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
#: Imports that run against the layers (none; a new upward import fails the test).
KNOWN_DEBTS = set()
#: Lazy aliases of higher-layer names: {(subpackage, name): home}. The design fixed
#: ``mne_dyad.surrogates.test_above_chance``; its group model is a PyMC model, so the
#: function lives in ``stats``.
LAZY_ALIASES = {("surrogates", "test_above_chance"): "mne_dyad.stats"}
#: Modules that import each other (none; a new loop fails the test).
KNOWN_CYCLES = set()


def _module(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports():
    """Yield (importer, imported module, line, enclosing function or None)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        me = _module(path)
        package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text())
        functions = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for child in ast.walk(node):
                    functions.setdefault(id(child), node.name)
        for node in ast.walk(tree):
            where = functions.get(id(node))
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("mne_dyad"):
                    continue
                if node.module:
                    yield me, target, node.lineno, where
                else:  # from . import report
                    for alias in node.names:
                        yield me, f"{target}.{alias.name}", node.lineno, where
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("mne_dyad"):
                        yield me, alias.name, node.lineno, where


def _layer(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_subpackage_has_a_layer():
    names = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.parent.name for p in PACKAGE.glob("*/__init__.py")
    }
    names -= {"__init__"}
    assert names - set(RANK) == set()


def test_imports_follow_the_layers():
    upward = set()
    for me, target, line, where in _imports():
        mine, theirs = _layer(me), _layer(target)
        if mine is None or theirs is None or mine == theirs:
            continue
        if RANK[theirs] <= RANK[mine]:
            continue
        if theirs == "viz" and where is not None and where.lstrip("_").startswith("plot"):
            continue  # a result's plot method imports viz when called
        upward.add((me, target.rsplit(".", 1)[0] if target.count(".") > 2 else target, line))
    found = {(me, target) for me, target, _ in upward}
    assert found - KNOWN_DEBTS == set(), sorted(upward)
    assert KNOWN_DEBTS - found == set(), "a debt is paid: remove it from KNOWN_DEBTS"


def test_no_modules_import_each_other():
    graph = {}
    modules = {_module(p) for p in PACKAGE.rglob("*.py")}
    for me, target, _, _ in _imports():
        while target not in modules and "." in target:
            target = target.rsplit(".", 1)[0]  # from .x import name -> module x
        if target != me and not target.endswith(me) and not me.startswith(target + "."):
            graph.setdefault(me, set()).add(target)
    cycles = set()

    def visit(node, path):
        for nxt in graph.get(node, ()):
            if nxt in path:
                cycles.add(frozenset(path[path.index(nxt) :]))
            elif len(path) < 8:
                visit(nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, [start])
    # a package's __init__ importing its own modules is not a loop between modules
    cycles = {c for c in cycles if not any(m in modules and _is_package(m) for m in c)}
    assert cycles - KNOWN_CYCLES == set(), sorted(map(sorted, cycles))
    assert KNOWN_CYCLES - cycles == set(), "a loop is gone: remove it from KNOWN_CYCLES"


def _is_package(module):
    return (PACKAGE.parent / module.replace(".", "/") / "__init__.py").is_file()


def test_lazy_aliases_are_the_known_ones_and_resolve():
    import importlib

    found = {}
    for init in PACKAGE.glob("*/__init__.py"):
        module = importlib.import_module(f"mne_dyad.{init.parent.name}")
        for name, home in getattr(module, "_LAZY", {}).items():
            found[(init.parent.name, name)] = home
            # the alias is the very object of its home, and is listed as public
            assert getattr(module, name) is getattr(importlib.import_module(home), name)
            assert name in module.__all__
            assert RANK[_layer(home)] > RANK[init.parent.name]
    assert found == LAZY_ALIASES
