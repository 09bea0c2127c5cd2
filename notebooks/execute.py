"""Execute notebooks in place so that they are stored with their outputs.

Example:

```bash
python notebooks/execute.py notebooks/02_initialization_and_gradients.ipynb
python notebooks/execute.py            # every notebook in this folder
```

The test suite (`tests/test_notebooks.py`) runs the same function on a copy,
so a notebook that fails here fails CI too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


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
    if save:
        nbformat.write(notebook, path)
    return notebook


if __name__ == "__main__":
    targets = [Path(p) for p in sys.argv[1:]] or sorted(HERE.glob("*.ipynb"))
    for target in targets:
        print(f"executing {target} ...", flush=True)
        execute_notebook(target.resolve())
        print(f"  saved with outputs: {target}")
