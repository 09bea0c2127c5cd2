"""Project conventions that a reader relies on: documented public names, one-way imports."""

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
    for path in (ROOT / "callbacks").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            assert not any(m == "recipes" or m.startswith("recipes.") for m in modules), path.name


def test_nothing_imports_the_cli():
    for path in [*(ROOT / "recipes").glob("*.py"), *(ROOT / "callbacks").glob("*.py")]:
        if path.name == "cli.py":
            continue
        assert "recipes.cli" not in path.read_text(), path.name
