"""Every notebook runs top to bottom (on a copy; the stored outputs stay as they are).

With `RECIPES_NOTEBOOK_NUMERICS=perturbed` the kernels run on other floating-point
numerics (`execute.perturbed_environment`: oneDNN the other way from this CPU's
default, one intra-op thread), as a stand-in for another CPU; `.ci/run` runs the
notebooks a second time that way, so that a claim resting on one CPU's rounding fails.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))

import nbformat  # noqa: E402
from execute import (  # noqa: E402
    execute_notebook,
    onednn_default_on,
    onednn_on,
    perturbed_environment,
    strip_startup_noise,
)

PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
pytestmark = pytest.mark.tensorflow_only(
    reason="the notebooks are executed and stored on TensorFlow (notebook 04 sets its threads)")


NUMERICS = os.environ.get("RECIPES_NOTEBOOK_NUMERICS", "default")


@functools.cache
def _kernel_environment() -> dict[str, str] | None:
    if NUMERICS not in ("default", "perturbed"):
        raise ValueError(f"RECIPES_NOTEBOOK_NUMERICS={NUMERICS!r}; accepted: 'default' (or unset), "
                         "'perturbed'")
    return perturbed_environment() if NUMERICS == "perturbed" else None


def test_there_are_notebooks() -> None:
    assert len(PATHS) >= 1


def test_perturbed_environment_flips_onednn_and_uses_one_thread() -> None:
    env = perturbed_environment()
    assert onednn_on(env) is not onednn_default_on()
    assert env["TF_NUM_INTRAOP_THREADS"] == "1"


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    notebook = execute_notebook(copy, timeout=300, save=False, env=_kernel_environment())
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors


def test_start_up_noise_is_stripped_and_other_stderr_kept() -> None:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("import tensorflow")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text=(
            "WARNING: All log messages before absl::InitializeLog() is called are written\n"
            "I0000 00:00:1795325075.341109   11073 port.cc:153] oneDNN custom operations\n")),
        nbformat.v4.new_output("stream", name="stderr", text=(
            "E0000 00:00:1795325077.512067   11073 cuda_platform.cc:52] failed call to cuInit\n"
            "W0000 00:00:1795325078.1   11073 bfc_allocator.cc:1] a runtime warning is kept\n"
            "UserWarning: a warning the reader should see\n")),
        nbformat.v4.new_output("stream", name="stdout", text="I0000 stays: stdout\n"),
    ]
    notebook.cells.append(cell)
    assert strip_startup_noise(notebook) == 3
    assert [o["text"] for o in cell.outputs] == [
        "W0000 00:00:1795325078.1   11073 bfc_allocator.cc:1] a runtime warning is kept\n"
        "UserWarning: a warning the reader should see\n",
        "I0000 stays: stdout\n",
    ]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_stored_outputs_carry_no_start_up_noise(path: Path) -> None:
    assert strip_startup_noise(nbformat.read(path, as_version=4)) == 0


def _output_texts(output: dict) -> list[str]:
    if output.get("output_type") == "stream":
        return [output.get("text", "")]
    if output.get("output_type") == "error":
        return [output.get("ename", ""), output.get("evalue", ""), *output.get("traceback", [])]
    data = output.get("data", {})
    return [data[key] for key in ("text/plain", "text/html", "text/markdown") if key in data]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_stored_outputs_are_clean(path: Path) -> None:
    """No error outputs, no ANSI escape codes (progress bars), and every code cell was executed."""
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    outputs = [output for cell in code for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    texts = ["".join(t) if isinstance(t, list) else t for o in outputs for t in _output_texts(o)]
    assert not [t for t in texts if "\x1b[" in t], "ANSI escape codes in stored outputs"
    assert not [t for t in texts if "Traceback (most recent call last)" in t]
    assert all(cell.get("execution_count") for cell in code if cell.source.strip())
