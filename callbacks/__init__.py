"""Callbacks that watch and steer training while `fit()` runs.

They work on any compiled Keras 3 model, including models this package did not
build; this package never imports `recipes`.

Example:

```python
from callbacks import GradientNormLogger, VanishingGradientDetector
model.fit(x, y, callbacks=[GradientNormLogger(), VanishingGradientDetector()])
```
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "GradientNormLogger": "callbacks.gradients",
    "VanishingGradientDetector": "callbacks.gradient_detector",
    "GradientProblemError": "callbacks.gradient_detector",
    "GradientWarning": "callbacks.gradient_detector",
    "ActivationStats": "callbacks.activations",
    "InitialLossCheck": "callbacks.checks",
    "InitialLossWarning": "callbacks.checks",
    "ParamScheduler": "callbacks.param_scheduler",
    "TrainingOptimizerWarning": "callbacks.param_scheduler",
    "PowerScheduling": "callbacks.scheduling",
    "OneCycleScheduler": "callbacks.scheduling",
    "MomentumScheduling": "callbacks.momentum",
    "LRFinder": "callbacks.lr_finder",
    "LRFinderResult": "callbacks.lr_finder",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` on first use (keeps imports light)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'callbacks' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
