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


def ci_command() -> str:
    """The one command line `.ci/run` runs (its last non-comment line)."""
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    return lines[-1]


def test_quickstart_is_two_commands_and_ci_runs_the_test_one():
    install_and_train, install_and_test = quickstart_commands()
    assert "keras-recipes train" in install_and_train
    assert "pip install . " in install_and_train  # a plain install: TensorFlow, the default
    assert install_and_test == ci_command()


def test_the_test_command_runs_the_suite_on_tensorflow_then_on_jax():
    steps = ci_command().split(" && ")
    assert '"[dev,jax]"' in steps[1] or '".[dev,jax]"' in steps[1], steps
    runs = [step for step in steps if "pytest" in step]
    assert len(runs) == 2, steps
    assert "KERAS_BACKEND" not in runs[0]  # the default backend: TensorFlow
    assert runs[1] == "KERAS_BACKEND=jax " + runs[0]


def test_the_jax_extra_is_documented_and_pinned():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("tensorflow") for d in project["dependencies"])
    jax = project["optional-dependencies"]["jax"]
    assert {d.split(">")[0] for d in jax} == {"jax", "jaxlib"}
    assert all("<" in d for d in jax)  # a range we run, not an open one
    readme = (ROOT / "README.md").read_text()
    assert '".[jax]"' in readme and "KERAS_BACKEND=jax" in readme and "keras.json" in readme


def test_the_torch_extra_is_documented_with_its_test_command():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch = project["optional-dependencies"]["torch"]
    assert [d.split(">")[0] for d in torch] == ["torch"] and all("<" in d for d in torch)
    backends = (ROOT / "README.md").read_text().split("## Backends", 1)[1].split("\n## ", 1)[0]
    assert '".[dev,torch]"' in backends
    assert "KERAS_BACKEND=torch python -m pytest" in backends


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
