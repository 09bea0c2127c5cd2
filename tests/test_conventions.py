"""Conventions a reader relies on: documented public names, one-way imports, short modules."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import keras_recipes as recipes
from keras_recipes import callbacks

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = [(recipes, name) for name in recipes.__all__] + [
    (callbacks, name) for name in callbacks.__all__
]


@pytest.mark.parametrize(
    ("package", "name"), PUBLIC, ids=[f"{p.__name__}.{n}" for p, n in PUBLIC]
)
def test_public_names_have_keras_style_docstrings(package, name):
    obj = getattr(package, name)
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        return  # tables (mappings) are documented where they are defined
    doc = inspect.getdoc(obj) or ""
    summary = doc.split("\n", 1)[0]
    assert summary.endswith(".") and len(summary) < 110, f"{name}: one-line summary"
    assert "Example:" in doc, f"{name}: no Example:"
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return  # exceptions and warning categories take the message only
    signature = inspect.signature(obj)
    takes_arguments = any(p for p in signature.parameters if p not in ("self", "cls"))
    if takes_arguments:
        assert "Args:" in doc, f"{name}: no Args:"
    if inspect.isfunction(obj):
        assert signature.return_annotation is not inspect.Signature.empty, f"{name}: return type"


def _module_name(path: Path) -> str:
    """The installed name of a source file (recipes/ is keras_recipes, callbacks/ .callbacks)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    root = ["keras_recipes"] if parts[0] == "recipes" else ["keras_recipes", "callbacks"]
    return ".".join(root + [p for p in parts[1:] if p != "__init__"])


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in `path`, relative imports resolved."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([module] if module else []))
            found.append((node.lineno, module))
    return found


PACKAGE_SOURCES = [path for path in [*(ROOT / "recipes").rglob("*.py"),
                                     *(ROOT / "callbacks").rglob("*.py")]
                   if "_old_names" not in path.parts]
"""The package's modules (recipes/_old_names/ holds the two alias modules of the old names)."""


def test_the_package_never_imports_its_old_names():
    """A user's own `recipes.py` / `callbacks.py` first on sys.path cannot replace a part of it."""
    for path in PACKAGE_SOURCES:
        for line, module in _imports(path):
            assert module.split(".")[0] not in ("recipes", "callbacks"), f"{path}:{line} {module}"


def test_callbacks_never_import_recipes():
    for path in (ROOT / "callbacks").rglob("*.py"):
        for line, module in _imports(path):
            if module.startswith("keras_recipes"):
                assert module.startswith("keras_recipes.callbacks"), f"{path}:{line} {module}"


def test_nothing_imports_the_cli():
    for path in PACKAGE_SOURCES:
        if "cli" in path.relative_to(ROOT).parts:
            continue
        for line, module in _imports(path):
            assert not module.startswith("keras_recipes.cli"), f"{path}:{line} {module}"


MAX_MODULE_LINES = 450
"""../shared/DESIGN.md: one concept per module, ~400 lines; past it, it is probably two concepts."""

LONG_MODULES = {
    "recipes/plots.py": "one concept by ../shared/DESIGN.md (every matplotlib figure, "
                        "`keras_recipes.plots.*`): independent functions sharing only `_axes`; "
                        "a split needs a package",
}
"""Modules allowed past `MAX_MODULE_LINES`, each with the reason."""


def test_modules_stay_one_concept_long():
    sources = [*(ROOT / "recipes").rglob("*.py"), *(ROOT / "callbacks").rglob("*.py")]
    lines = {path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines())
             for path in sources}
    too_long = {name: n for name, n in sorted(lines.items())
                if n > MAX_MODULE_LINES and name not in LONG_MODULES}
    assert not too_long, (
        f"modules over {MAX_MODULE_LINES} lines: {too_long}; split along a concept line, or "
        "add them to LONG_MODULES with the reason")
    stale = sorted(set(LONG_MODULES) - set(lines))
    assert not stale, f"LONG_MODULES names modules that do not exist: {stale}"
    short = sorted(name for name in LONG_MODULES if lines[name] <= MAX_MODULE_LINES)
    assert not short, f"LONG_MODULES names modules no longer over the limit: {short}"
    assert all(reason.strip() for reason in LONG_MODULES.values())
