"""Every notebook runs top to bottom (on a copy; the stored outputs stay as they are)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))

import nbformat  # noqa: E402
from execute import execute_notebook, strip_startup_noise  # noqa: E402

PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
pytestmark = pytest.mark.tensorflow_only(
    reason="the notebooks are executed and stored on TensorFlow (notebook 04 sets its threads)")


def test_there_are_notebooks() -> None:
    assert len(PATHS) >= 1


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    notebook = execute_notebook(copy, timeout=300, save=False)
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
