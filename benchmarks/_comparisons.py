"""What the comparison benchmarks share: writing a `recipes.compare` result to its results folder.

Each comparison gets one folder under `benchmarks/results/`: `summary.json`
(`Comparison.summary()` plus the command that made it and the versions) and
`curves.png` (`recipes.plots.plot_comparison`). Notebooks and BENCHMARKS.md
read these files; `tests/test_compare.py` checks them.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Any


def save_comparison(result: Any, folder: Path, *, title: str,
                    keys: tuple[str, ...] | None = None) -> Path:
    """Write summary.json (with the command and versions) and curves.png into `folder`."""
    import keras
    import matplotlib

    matplotlib.use("Agg")
    from keras_recipes.plots import plot_comparison

    backend = keras.backend.backend()
    engine = __import__({"tensorflow": "tensorflow", "jax": "jax"}.get(backend, "keras"))
    script = Path(sys.argv[0]).resolve().relative_to(Path(__file__).resolve().parent.parent)
    path = result.save(folder, command=f"KERAS_BACKEND={backend} .venv/bin/python "
                                       f"{' '.join([str(script), *sys.argv[1:]])}",
                       versions={"keras": keras.__version__, "backend": backend,
                                 backend: engine.__version__,
                                 "python": platform.python_version()})
    axes = plot_comparison(result, keys=keys, title=title)
    axes[0].figure.savefig(folder / "curves.png", dpi=80)
    print(f"wrote {path} and {folder / 'curves.png'}", flush=True)
    return path
