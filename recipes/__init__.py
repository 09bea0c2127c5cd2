"""keras-training-recipes: the lectures' training craft as Keras 3 building blocks.

Factories build networks with the right defaults (`build_dnn`, `default_dnn`,
`self_normalizing_dnn`), `make_optimizer` / `compile_recipe` set up training,
`PowerSchedule` schedules the learning rate in-graph, `transfer` helpers reuse
trained networks, `DNNHyperModel` hands the search space to keras-tuner and
`checks` runs the training checklists.

Example:

```python
import recipes
data = recipes.load_digits()
model = recipes.default_dnn(data.input_shape, data.n_classes)
model.fit(*data.train, validation_data=data.valid, epochs=10)
```
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # lecture tables as data
    "initializer_for": "recipes.defaults",
    "ACTIVATION_INITIALIZERS": "recipes.defaults",
    "DEFAULT_DNN": "recipes.defaults",
    "OPTIMIZER_DEFAULTS": "recipes.defaults",
    # models
    "dense_block": "recipes.models",
    "build_dnn": "recipes.models",
    "default_dnn": "recipes.models",
    "self_normalizing_dnn": "recipes.models",
    "output_layer": "recipes.heads",
    # optimizers and schedules
    "make_optimizer": "recipes.optimizers",
    "compile_recipe": "recipes.optimizers",
    "PowerSchedule": "recipes.schedules",
    "make_schedule": "recipes.schedules",
    "find_learning_rate": "recipes.lr_finder",
    # data
    "load_digits": "recipes.data",
    "load_fashion_mnist": "recipes.data",
    "split_for_transfer": "recipes.data",
    # transfer learning and pretraining
    "reuse_pretrained": "recipes.transfer",
    "freeze": "recipes.freezing",
    "unfreeze": "recipes.freezing",
    "fine_tune": "recipes.transfer",
    "fold_batch_norm": "recipes.folding",
    "trainable_summary": "recipes.freezing",
    "greedy_layerwise_pretraining": "recipes.pretraining",
    # tuning
    "DNNHyperModel": "recipes.tuning",
    # checklists
    "run_checklist": "recipes.checks",
    # process-wide CPU threads (the other half of the fast path)
    "set_cpu_threads": "recipes.threads",
}

_SUBMODULES = (
    "check_results", "checks", "cli", "data", "defaults", "folding", "freezing", "gradient_check",
    "heads", "lr_finder", "models", "optimizers", "plots",
    "pretraining", "schedules", "threads", "transfer", "tuning",
)

__all__ = sorted(_EXPORTS)

# Modules that register Keras-serializable objects are imported eagerly, so that
# `import recipes` is all `keras.models.load_model` needs (no `custom_objects`).
importlib.import_module("recipes.schedules")


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` on first use (keeps imports light)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"recipes.{name}")
    if name not in _EXPORTS:
        raise AttributeError(f"module 'recipes' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
