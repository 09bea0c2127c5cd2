"""The old import names `recipes` and `callbacks`, kept as aliases of `keras_recipes`.

The installed package is `keras_recipes` (from the repository's `recipes/`
folder) with `keras_recipes.callbacks` (from `callbacks/`). Code written for the
old names keeps working where nothing shadows them: `import recipes` or
`from callbacks.gradients import GradientNormLogger` returns the very modules
of `keras_recipes`, never a second copy (a second copy would register every
serializable class twice and break `isinstance`). A user's own `recipes.py` or
`callbacks.py` earlier on `sys.path` simply wins over the alias; the package
itself never imports the old names, so such a file cannot break it.

Example:

```python
import recipes                      # an alias: the same module object
import keras_recipes
assert recipes is keras_recipes
```
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType
from typing import Any

OLD_NAMES = {"recipes": "keras_recipes", "callbacks": "keras_recipes.callbacks"}
"""Each old top-level name and the package it stands for."""


class _AliasLoader(importlib.abc.Loader):
    """Loads `recipes.X` as the already imported (or now imported) `keras_recipes.X`."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: Any) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """The target module ran when it was imported under its own name."""


class _OldNameFinder(importlib.abc.MetaPathFinder):
    """Finds the submodules of an old name (`recipes.models`, `callbacks.gradients`)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        head, dot, rest = fullname.partition(".")
        if not dot or sys.modules.get(head) is not _package(head):
            return None  # not one of ours, or the user's own `recipes`/`callbacks` module
        return importlib.util.spec_from_loader(fullname, _AliasLoader(f"{OLD_NAMES[head]}.{rest}"))


def _package(old: str) -> ModuleType | None:
    new = OLD_NAMES.get(old)
    return sys.modules.get(new) if new else None


def alias(old: str) -> ModuleType:
    """Makes `old` (`"recipes"` or `"callbacks"`) an alias of its `keras_recipes` package.

    Example:

    ```python
    alias("callbacks")  # sys.modules["callbacks"] is keras_recipes.callbacks
    ```

    Args:
        old: the old top-level name, a key of `OLD_NAMES`.
    """
    if old not in OLD_NAMES:
        raise ValueError(f"`old` must be one of {sorted(OLD_NAMES)}; received {old!r}")
    package = importlib.import_module(OLD_NAMES[old])
    if not any(isinstance(finder, _OldNameFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _OldNameFinder())
    sys.modules[old] = package
    return package
