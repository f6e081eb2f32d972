"""Dependencies point one way: a module imports only from its own layer or a lower one.

The layers, lowest first, are the pipeline the folder tree shows: core helpers,
the facts store, the scanner that fills it, the cache that keeps it, the rule
API and the rules, the configuration, the reports, the run's pytest items, the
plugin, and the ``jiramigrate`` commands.  Every ``import`` of the package is
read from the source with :mod:`ast`, also those inside functions and under
``TYPE_CHECKING``: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pytest_jiramigrate

PACKAGE = Path(pytest_jiramigrate.__file__).parent

#: lowest first; a module belongs to the first layer whose prefix it has
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("pytest_jiramigrate.core",)),
    ("facts", ("pytest_jiramigrate.facts",)),
    ("scan", ("pytest_jiramigrate.scan",)),
    ("cache", ("pytest_jiramigrate.cache",)),
    (
        "rule API",
        (
            "pytest_jiramigrate.rules.base",
            "pytest_jiramigrate.rules.site",
            "pytest_jiramigrate.rules.outcome",
        ),
    ),
    ("rules", ("pytest_jiramigrate.rules",)),
    ("config", ("pytest_jiramigrate.config",)),
    ("report", ("pytest_jiramigrate.report",)),
    ("run", ("pytest_jiramigrate.run",)),
    ("plugin", ("pytest_jiramigrate.plugin", "pytest_jiramigrate.hookspecs")),
    ("commands", ("pytest_jiramigrate.commands",)),
)

#: the package root only names the public API, loaded on first use (PEP 562)
ROOT = "pytest_jiramigrate"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(within(module, prefix) for prefix in prefixes):
            return rank
    raise LookupError(f"{module} belongs to no layer: add it to LAYERS")


def imported_modules(path: Path, module: str) -> set[str]:
    """The package's modules that ``path`` imports, resolved to absolute names."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from package import module`` imports that module
            found.update(f"{base}.{alias.name}" for alias in node.names)
            found.add(base)
    return {name for name in found if within(name, ROOT) and name != ROOT}


def known(name: str) -> str:
    """``name`` itself when it is a module, else the module that defines it."""
    while not (
        (PACKAGE.parent / (name.replace(".", "/") + ".py")).exists()
        or (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()
    ):
        name = name.rpartition(".")[0]
    return name


SOURCES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
MODULES = sorted(name for name in SOURCES if name != ROOT)


def test_every_module_has_a_layer() -> None:
    assert len(MODULES) > 30
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_nothing_from_a_later_layer(module: str) -> None:
    rank = layer_of(module)
    upward = sorted(
        {
            f"{target} ({LAYERS[layer_of(target)][0]})"
            for target in map(known, imported_modules(SOURCES[module], module))
            if layer_of(target) > rank
        }
    )
    assert upward == [], f"{module} ({LAYERS[rank][0]}) imports from a later layer: {upward}"


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The check itself can fail: a scanner module that imports the configuration."""
    source = tmp_path / "archive.py"
    source.write_text(
        "from pytest_jiramigrate.config import Config\ndef f():\n    from ..run import session\n",
        encoding="utf-8",
    )
    imported = {known(name) for name in imported_modules(source, "pytest_jiramigrate.scan.x")}
    assert imported == {
        "pytest_jiramigrate.config",
        "pytest_jiramigrate.run",
        "pytest_jiramigrate.run.session",
    }
    assert all(layer_of(name) > layer_of("pytest_jiramigrate.scan.x") for name in imported)


def test_no_import_circle_between_modules() -> None:
    """Within a layer too, no module imports one that imports it back (directly or not)."""
    graph = {
        module: {known(name) for name in imported_modules(SOURCES[module], module)} - {module}
        for module in MODULES
    }
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            cycle = (*path[path.index(module) :], module)
            pytest.fail("import circle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, (*path, module))
        done.add(module)

    for module in MODULES:
        visit(module, ())
