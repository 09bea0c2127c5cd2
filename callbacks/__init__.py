"""Callbacks that watch and steer training while `fit()` runs.

They work on any compiled Keras 3 model, including models this package did not
build; this package never imports the rest of `keras_recipes`.

Example:

```python
from keras_recipes.callbacks import GradientNormLogger, VanishingGradientDetector
model.fit(x, y, callbacks=[GradientNormLogger(), VanishingGradientDetector()])
```
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "GradientNormLogger": ".gradients",
    "VanishingGradientDetector": ".gradient_detector",
    "GradientProblemError": ".gradient_detector",
    "GradientWarning": ".gradient_detector",
    "gradient_norm_key": ".gradients",
    "ActivationStats": ".activations",
    "InitialLossCheck": ".checks",
    "InitialLossWarning": ".checks",
    "ParamScheduler": ".param_scheduler",
    "TrainingOptimizerWarning": ".param_scheduler",
    "PowerScheduling": ".scheduling",
    "OneCycleScheduler": ".scheduling",
    "MomentumScheduling": ".momentum",
    "LRFinder": ".lr_finder",
    "LRFinderResult": ".lr_finder",
}

__all__ = sorted(_EXPORTS)

if __name__ != "keras_recipes.callbacks":
    # These sources imported by the old name (from a folder that holds them): become the alias.
    from keras_recipes.callbacks._old_names import alias

    alias(__name__)


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` on first use (keeps imports light)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
