"""keras-training-recipes: the lectures' training craft as Keras 3 building blocks.

Factories build networks with the right defaults (`build_dnn`, `default_dnn`,
`self_normalizing_dnn`), `make_optimizer` / `compile_recipe` set up training,
`PowerSchedule` schedules the learning rate in-graph, `transfer` helpers reuse
trained networks, `DNNHyperModel` hands the search space to keras-tuner and
`checks` runs the training checklists.

Example:

```python
import keras_recipes as kr
data = kr.load_digits()
model = kr.default_dnn(data.input_shape, data.n_classes)
model.fit(*data.train, validation_data=data.valid, epochs=10)
```

The import root is `keras_recipes` (the callbacks are `keras_recipes.callbacks`):
a name no project folder shadows. `import recipes` and `import callbacks` still
work as aliases where nothing shadows them (`keras_recipes.callbacks._old_names`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # lecture tables as data
    "initializer_for": ".defaults",
    "ACTIVATION_INITIALIZERS": ".defaults",
    "DEFAULT_DNN": ".defaults",
    "OPTIMIZER_DEFAULTS": ".defaults",
    # models
    "dense_block": ".models",
    "build_dnn": ".models",
    "default_dnn": ".models",
    "self_normalizing_dnn": ".models",
    "deep_dnn": ".deep_nets",
    "DEEP_DNN": ".deep_nets",
    "warmup_cosine": ".deep_nets",
    "output_layer": ".heads",
    # optimizers and schedules
    "make_optimizer": ".optimizers",
    "compile_recipe": ".optimizers",
    "PowerSchedule": ".schedules",
    "make_schedule": ".schedules",
    "find_learning_rate": ".lr_finder",
    # data
    "load_digits": ".data",
    "load_fashion_mnist": ".data",
    "split_for_transfer": ".data",
    # transfer learning and pretraining
    "reuse_pretrained": ".transfer",
    "freeze": ".freezing",
    "unfreeze": ".freezing",
    "fine_tune": ".transfer",
    "fold_batch_norm": ".folding",
    "trainable_summary": ".freezing",
    "greedy_layerwise_pretraining": ".pretraining",
    # tuning
    "DNNHyperModel": ".tuning",
    # checklists
    "run_checklist": ".checks",
    # comparing recipes over seeds
    "compare": ".compare",
    "Recipe": ".compare",
    "Comparison": ".comparison",
    "read_summary": ".comparison",
    # process-wide CPU threads (the other half of the fast path)
    "set_cpu_threads": ".threads",
}

_SUBMODULES = (
    "callbacks", "check_results", "checks", "cli", "data", "defaults", "folding", "freezing",
    "gradient_check", "heads", "lr_finder", "models", "optimizers", "plots", "pretraining",
    "schedules", "search_space", "threads", "transfer", "tuning",
    "comparison", "deep_nets",  # `compare` is bound to the function below, not to its module
)

__all__ = sorted(_EXPORTS)

if __name__ != "keras_recipes":
    # These sources imported by the old name (from a folder that holds them, e.g. the
    # repository's root): become the alias, so that no second copy of the package loads.
    from keras_recipes.callbacks._old_names import alias

    alias(__name__)

SERIALIZABLE_MODULES = ("keras_recipes.schedules",)
"""The modules that register Keras-serializable objects (package "recipes") when imported."""


class _RegisterWhenKerasLoads(importlib.abc.MetaPathFinder):
    """Imports `SERIALIZABLE_MODULES` right after `keras` itself has been imported.

    `import keras_recipes` must be all that `keras.saving.load_model` needs for
    a saved `PowerSchedule` (no `custom_objects`), yet it must not import Keras:
    the `keras-recipes` command answers `--help`, `--version` and argument
    errors without starting TensorFlow. Keras keeps its registry of
    serializable classes inside Keras, so registering means importing Keras.
    Nothing can call `load_model` before `keras` is imported, so the
    registration waits for that import: this finder wraps the loader of the
    `keras` module, runs it, then imports the registering modules, and leaves
    `sys.meta_path` (standard Python import machinery, no Keras internals).
    """

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("keras")
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module

            def exec_module(module: Any) -> None:
                run(module)
                for name in SERIALIZABLE_MODULES:
                    importlib.import_module(name)

            spec.loader.exec_module = exec_module
        return spec


if "keras" in sys.modules:
    for _module in SERIALIZABLE_MODULES:
        importlib.import_module(_module)
elif not any(type(f).__name__ == "_RegisterWhenKerasLoads" for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWhenKerasLoads())

if __name__ == "keras_recipes":
    # `compare` names a module and the function it defines: import the module now (it imports
    # neither Keras nor NumPy) and bind the name to the function, so that a later
    # `import keras_recipes.compare` does not leave the module under that name.
    compare = importlib.import_module(".compare", __name__).compare


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` on first use (keeps imports light)."""
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
