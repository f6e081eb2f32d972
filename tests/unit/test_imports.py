"""Layers import downward: every module imports alone, and the scanner travels light.

Each import runs in a fresh interpreter, because in this process the package
is already loaded whole and an import circle would go unseen: a module that
works only when another was imported first fails here.  The scanner and its
worker processes must not load pytest, the configuration reader (yaml) or
the e-mail checks: a parse worker pays for every module it imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_jiramigrate

PACKAGE = Path(pytest_jiramigrate.__file__).parent

#: the libraries the configuration, the rules and the plugin need
HEAVY = ("pytest", "_pytest", "yaml", "email_validator")

#: modules below the rules: the scanner, what it writes and the limits it obeys
LIGHT_PREFIXES = (
    "pytest_jiramigrate.scan",
    "pytest_jiramigrate.facts",
    "pytest_jiramigrate.core.limits",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(module_name(path) for path in PACKAGE.rglob("*.py"))


def heavy_modules_loaded_by(module: str) -> list[str]:
    """Import ``module`` alone in a fresh interpreter; which of HEAVY it loaded."""
    script = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"importing {module} alone fails:\n{result.stderr}"
    return json.loads(result.stdout)


def test_the_module_list_is_the_package() -> None:
    assert len(MODULES) > 30
    assert {"pytest_jiramigrate", "pytest_jiramigrate.scan.archive"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone(module: str) -> None:
    loaded = heavy_modules_loaded_by(module)
    if module.startswith(LIGHT_PREFIXES):
        assert loaded == [], f"{module} loads {loaded}"


def test_the_package_root_loads_its_public_names_on_demand() -> None:
    """``from pytest_jiramigrate import rule`` still works, though the root imports nothing."""
    script = (
        "import sys, pytest_jiramigrate\n"
        "assert 'pytest' not in sys.modules\n"
        "from pytest_jiramigrate import JiraReadinessWarning, Rule, rule\n"
        "import pytest\n"
        "assert issubclass(JiraReadinessWarning, pytest.PytestWarning)\n"
        "assert callable(rule) and isinstance(Rule, type)\n"
        "try:\n"
        "    pytest_jiramigrate.no_such_name\n"
        "except AttributeError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ("module 'pytest_jiramigrate' has no attribute 'no_such_name'")


def test_every_package_folder_ships_and_the_synthesizer_does_not() -> None:
    """The wheel holds what pyproject.toml's ``include`` finds: a folder of modules
    without ``__init__.py`` would be left out, and ``synth/`` (test tooling) stays out."""
    setuptools = pytest.importorskip("setuptools")
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    shipped = set(setuptools.find_packages(where=PACKAGE.parent, include=include))
    folders = {module_name(path.parent / "__init__.py") for path in PACKAGE.rglob("*.py")}
    assert folders <= shipped, folders - shipped
    assert {"pytest_jiramigrate.core", "pytest_jiramigrate.run"} <= shipped
    assert (PACKAGE.parent / "synth" / "__init__.py").exists()
    assert not any(name.startswith("synth") for name in shipped)


def test_the_rule_api_loads_without_the_rules() -> None:
    """``rules.base`` is below the rule groups: importing it runs none of them."""
    script = (
        "import json, sys\n"
        "import pytest_jiramigrate.rules.base\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('pytest_jiramigrate.'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "pytest_jiramigrate.rules",
        "pytest_jiramigrate.rules.base",
    ]
