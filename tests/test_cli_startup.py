"""`keras-recipes` answers without Keras, starts quietly, needs only what `pip install .` brings.

`--help`, `--version` and argument or file errors are answered before
TensorFlow or JAX loads (checked with `python -X importtime` in a fresh
process). A real run of every sub-command imports only modules of the
plain install's dependencies (the standard library, this package and the
distributions `pip install .` pulls in), keeps TensorFlow's start-up noise
off stderr, and `import keras_recipes` still registers the serializable
schedules once Keras loads.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _cli_helpers import write_csv

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "keras-recipes"
HEAVY = {"keras", "tensorflow", "jax", "jaxlib", "torch"}
TF_NOISE = ("absl::InitializeLog", "cudart_stub", "cpu_feature_guard", "cuInit")
"""Pieces of the lines TensorFlow's C++ start-up writes to stderr."""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI's own quiet start, as a user gets it
    env.pop("PYTHONPATH", None)
    return env


def _imported(importtime: str) -> set[str]:
    """Top-level names of the modules `-X importtime` lists."""
    return {line.rsplit("|", 1)[1].strip().split(".")[0]
            for line in importtime.splitlines() if line.startswith("import time:")}


ANSWERS = {
    "help": ["--help"],
    "version": ["--version"],
    "train-help": ["train", "--help"],
    "zero-epochs": ["train", "--epochs", "0"],
    "zero-trials": ["tune", "--trials", "0"],
    "missing-csv": ["train", "--data", "missing.csv", "--target", "y"],
    "unknown-recipe-key": ["train", "--recipe", "bad.json"],
}


@pytest.mark.parametrize("argv", ANSWERS.values(), ids=ANSWERS)
def test_help_version_and_argument_errors_answer_without_keras(argv, tmp_path):
    (tmp_path / "bad.json").write_text('{"layers": 3}')
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-X", "importtime", str(SCRIPT), *argv], cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - started
    heavy = _imported(done.stderr) & HEAVY
    assert not heavy, f"{argv} imported {sorted(heavy)}"
    assert done.returncode == (0 if "--help" in argv or "--version" in argv else 2), done.stderr
    messages = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    assert done.returncode == 0 or len(messages) == 1, messages
    print(f"keras-recipes {' '.join(argv)}: {seconds:.2f} s")  # measured, never asserted


def _name(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _plain_install_distributions() -> set[str]:
    """Normalized names of the distributions `pip install .` brings (pyproject.toml's
    dependencies and theirs); the JAX run adds the `jax` extra.
    """
    import keras
    import tomllib
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    if keras.backend.backend() == "jax":
        wanted += project["optional-dependencies"]["jax"]
    found: set[str] = set()
    todo = [Requirement(text) for text in wanted]
    while todo:
        requirement = todo.pop()
        if _name(requirement.name) in found:
            continue
        found.add(_name(requirement.name))
        try:
            texts = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [r for r in map(Requirement, texts)
                 if r.marker is None or r.marker.evaluate({"extra": ""})]
    return found


def _not_brought() -> list[str]:
    """Top-level modules of installed distributions that a plain install would not have."""
    allowed = _plain_install_distributions() | {"keras-training-recipes"}
    return sorted(module for module, owners in metadata.packages_distributions().items()
                  if module not in sys.stdlib_module_names
                  and not {_name(owner) for owner in owners} & allowed)


RUNS = textwrap.dedent("""
    import importlib.abc, json, sys

    BLOCKED, TRIED = set(json.loads(sys.argv[2])), set()

    class NotInstalled(importlib.abc.MetaPathFinder):  # what a plain install lacks
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                TRIED.add(name.split(".")[0])
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    sys.meta_path.insert(0, NotInstalled())
    import keras_recipes
    assert "keras" not in sys.modules, "import keras_recipes imported Keras"
    from keras_recipes.cli import main
    common = ["--data", sys.argv[1], "--target", "label"]
    train = ["--epochs", "1", "--quiet", "--cpu-threads", "keep"]
    assert main(["train", *common, "--hidden", "8", *train]) == 0
    assert main(["checklist", *common]) == 0
    assert main(["lr-find", *common, "--batch-size", "8", "--quiet"]) == 0
    assert main(["tune", *common, "--trials", "1", "--epochs", "1", "--quiet"]) == 0
    assert main(["train", "--recipe", "reports/tune_d/best_recipe.json", *common, *train]) == 0
    import keras
    assert keras.saving.get_registered_object("recipes>PowerSchedule") is not None
    print("TRIED", *sorted(TRIED))
""")


@pytest.mark.tensorflow_only  # `pip install .` runs on TensorFlow; the JAX extra adds JAX
def test_every_sub_command_runs_with_only_what_a_plain_install_brings_and_starts_quietly(
        tmp_path):
    """The modules of the installed distributions a plain install lacks are made unimportable."""
    import json

    data = write_csv(tmp_path / "d.csv", n=200)
    done = subprocess.run([sys.executable, "-c", RUNS, data, json.dumps(_not_brought())],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    noise = [line for line in done.stderr.splitlines() if any(n in line for n in TF_NOISE)]
    assert not noise, noise
    tried = next(line for line in done.stdout.splitlines() if line.startswith("TRIED"))
    print(f"optional modules tried and absent on a plain install: {tried.split()[1:]}")
