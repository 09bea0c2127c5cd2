"""Conventions a reader relies on: documented public names, one-way imports, short modules."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import callbacks
import recipes

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


def test_callbacks_never_import_recipes():
    for path in (ROOT / "callbacks").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            assert not any(m == "recipes" or m.startswith("recipes.") for m in modules), path.name


def test_nothing_imports_the_cli():
    for path in [*(ROOT / "recipes").glob("*.py"), *(ROOT / "callbacks").rglob("*.py")]:
        assert "recipes.cli" not in path.read_text(), path.name


MAX_MODULE_LINES = 450
"""DESIGN.md: one concept per module, ~400 lines; past it, it is probably two concepts."""

LONG_MODULES = {
    "recipes/plots.py": "one concept by DESIGN.md (every matplotlib figure, `recipes.plots.*`): "
                        "independent functions sharing only `_axes`; a split needs a package",
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
