"""Execute notebooks in place so that they are stored with their outputs.

Example:

```bash
python notebooks/execute.py notebooks/02_vanishing_gradients_and_initialization.ipynb
python notebooks/execute.py            # every notebook in this folder
python notebooks/execute.py --strip    # only drop TensorFlow's start-up lines from stored outputs
python notebooks/execute.py --perturbed --no-save   # run them all on other numerics, keep the files
```

TensorFlow's C++ start-up messages (oneDNN, CUDA, CPU-feature notices) are
printed before its logging can be configured, so `TF_CPP_MIN_LOG_LEVEL` does
not hide them; `strip_startup_noise` removes them from the stored outputs.

`--perturbed` runs the kernels on other floating-point numerics, as a stand-in
for another CPU: oneDNN switched the other way from this machine's default
(`TF_ENABLE_ONEDNN_OPTS`; TensorFlow turns it on by default only on x86 CPUs
with AVX-512 VNNI/BF16 or AMX) and one intra-op thread
(`TF_NUM_INTRAOP_THREADS=1`, which TensorFlow reads when its thread pools start;
a notebook that calls `kr.set_cpu_threads` itself keeps its own setting). A
claim that holds only on one CPU's rounding fails there. The test suite
(`tests/test_notebooks.py`) runs the same functions on a copy, and
`RECIPES_NOTEBOOK_NUMERICS=perturbed` makes it use the perturbed environment
(`.ci/run` runs the notebook tests a second time that way).
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
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

_ONEDNN_STATE = (
    "import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'; "
    "from tensorflow.python.util import _pywrap_util_port as p; print(int(p.IsMklEnabled()))"
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


def onednn_on(env: dict[str, str]) -> bool:
    """Whether TensorFlow runs with oneDNN in a fresh process with environment `env`."""
    answer = subprocess.run([sys.executable, "-c", _ONEDNN_STATE], env=env, check=True,
                            capture_output=True, text=True)
    return answer.stdout.strip().splitlines()[-1] == "1"


@functools.cache
def onednn_default_on() -> bool:
    """Whether TensorFlow turns oneDNN on by default on this CPU."""
    return onednn_on({key: value for key, value in os.environ.items()
                      if key != "TF_ENABLE_ONEDNN_OPTS"})


def perturbed_environment() -> dict[str, str]:
    """The process environment with other numerics: oneDNN flipped, one intra-op thread."""
    return {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0" if onednn_default_on() else "1",
            "TF_NUM_INTRAOP_THREADS": "1"}


def execute_notebook(path: Path, *, timeout: int = 600, save: bool = True,
                     env: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """Run every cell of the notebook at `path` (cwd: the notebooks folder).

    Args:
        path: the `.ipynb` file.
        timeout: seconds allowed per cell.
        save: write the executed notebook (with outputs) back to `path`.
        env: the kernel's environment (`None`: this process's), e.g.
            `perturbed_environment()`.
    """
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=dict(os.environ if env is None else env))
    strip_startup_noise(notebook)
    if save:
        nbformat.write(notebook, path)
    return notebook


if __name__ == "__main__":
    flags = {"--strip", "--perturbed", "--no-save"}
    strip_only, perturbed = "--strip" in sys.argv[1:], "--perturbed" in sys.argv[1:]
    save = "--no-save" not in sys.argv[1:]
    targets = [Path(p) for p in sys.argv[1:] if p not in flags] or sorted(HERE.glob("*.ipynb"))
    environment = perturbed_environment() if perturbed else None
    if perturbed:
        print("perturbed numerics: TF_ENABLE_ONEDNN_OPTS="
              f"{environment['TF_ENABLE_ONEDNN_OPTS']}, TF_NUM_INTRAOP_THREADS=1")
    for target in targets:
        if strip_only:
            stored = nbformat.read(target, as_version=4)
            print(f"{target}: {strip_startup_noise(stored)} start-up lines removed")
            nbformat.write(stored, target)
            continue
        print(f"executing {target} ...", flush=True)
        execute_notebook(target.resolve(), save=save, env=environment)
        print(f"  {'saved with outputs' if save else 'ran (not saved)'}: {target}")
