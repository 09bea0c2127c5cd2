"""Execute notebooks in place so that they are stored with their outputs.

Example:

```bash
python notebooks/execute.py notebooks/02_initialization_and_gradients.ipynb
python notebooks/execute.py            # every notebook in this folder
python notebooks/execute.py --strip    # only drop TensorFlow's start-up lines from stored outputs
```

TensorFlow's C++ start-up messages (oneDNN, CUDA, CPU-feature notices) are
printed before its logging can be configured, so `TF_CPP_MIN_LOG_LEVEL` does
not hide them; `strip_startup_noise` removes them from the stored outputs.

The test suite (`tests/test_notebooks.py`) runs the same function on a copy,
so a notebook that fails here fails CI too.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent

# Only the sources TensorFlow logs from while it starts (a runtime warning from
# any other C++ file is kept).
STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)"
    r"|[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ "
    r"(port|cudart_stub|cuda_platform|cpu_feature_guard)\.cc:\d+\]"
    r"|To enable the following instructions: )"
)


def strip_startup_noise(notebook: nbformat.NotebookNode) -> int:
    """Drop TensorFlow's C++ start-up lines from stderr outputs; return how many."""
    removed = 0
    for cell in notebook.cells:
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = output["text"].splitlines(keepends=True)
                kept = [line for line in lines if not STARTUP_NOISE.match(line)]
                removed += len(lines) - len(kept)
                if not "".join(kept).strip():
                    continue
                output["text"] = "".join(kept)
            outputs.append(output)
        if "outputs" in cell:
            cell["outputs"] = outputs
    return removed


def execute_notebook(path: Path, *, timeout: int = 600, save: bool = True) -> nbformat.NotebookNode:
    """Run every cell of the notebook at `path` (cwd: the notebooks folder).

    Args:
        path: the `.ipynb` file.
        timeout: seconds allowed per cell.
        save: write the executed notebook (with outputs) back to `path`.
    """
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    strip_startup_noise(notebook)
    if save:
        nbformat.write(notebook, path)
    return notebook


if __name__ == "__main__":
    strip_only = "--strip" in sys.argv[1:]
    targets = [Path(p) for p in sys.argv[1:] if p != "--strip"] or sorted(HERE.glob("*.ipynb"))
    for target in targets:
        if strip_only:
            stored = nbformat.read(target, as_version=4)
            print(f"{target}: {strip_startup_noise(stored)} start-up lines removed")
            nbformat.write(stored, target)
            continue
        print(f"executing {target} ...", flush=True)
        execute_notebook(target.resolve())
        print(f"  saved with outputs: {target}")
