"""The README's quickstart is what CI runs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quickstart_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_quickstart_is_two_commands_and_ci_runs_the_test_one():
    install_and_train, install_and_test = quickstart_commands()
    assert "keras-recipes train" in install_and_train
    assert "pytest" in install_and_test
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install_and_test in ci_lines


def test_no_pre_keras_3_spellings_in_code():
    """No `lr=` keyword and no `tf.keras` in the code (docstrings may quote the slides)."""
    offenders = []
    for path in [*ROOT.glob("recipes/*.py"), *ROOT.glob("callbacks/*.py"),
                 *ROOT.glob("benchmarks/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and any(k.arg == "lr" for k in node.keywords):
                offenders.append(f"{path.name}:{node.lineno} lr=")
            if (isinstance(node, ast.Attribute) and node.attr == "keras"
                    and isinstance(node.value, ast.Name) and node.value.id == "tf"):
                offenders.append(f"{path.name}:{node.lineno} tf.keras")
    assert not offenders
