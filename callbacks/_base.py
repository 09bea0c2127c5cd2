"""The one base of every callback in this package: the copy and serialization rules.

The rules held here:

- **Per-run state** (the model, a gradient tap, a probe model, a lock, a
  snapshot of the weights) lives in the attributes named by `_RUN_STATE`.
  `detach()` drops it; a deep copy starts detached. keras-tuner deep-copies
  the callbacks of every trial, so a copy must carry the settings and the
  findings (histories, events, results) but never the previous trial's
  model.
- **Keras serialization**: `get_config()` returns the constructor arguments
  read back from the attributes of the same name (minus `_NOT_IN_CONFIG`, e.g.
  a data batch), and `from_config(config)` is `cls(**config)`. A subclass
  whose attributes differ from its arguments overrides `get_config`.
"""

from __future__ import annotations

import inspect
from typing import Any

import keras


class CallbackBase(keras.callbacks.Callback):
    """Base of the package's callbacks: detach, deep copy and config rules (private)."""

    # attributes that hold per-run state; `detach()` and deep copies set them to None
    _RUN_STATE: tuple[str, ...] = ()
    # constructor arguments that `get_config()` leaves out (data batches)
    _NOT_IN_CONFIG: tuple[str, ...] = ()

    def detach(self) -> None:
        """Drop the per-run state (the model and what was built for it)."""
        self.set_model(None)
        for key in self._RUN_STATE:
            self.__dict__[key] = None

    def __getstate__(self) -> dict[str, Any]:
        # What a copy (or a pickle) carries: no model, no per-run state.
        model = self.model
        skipped = set(self._RUN_STATE)
        return {key: None if key in skipped or (model is not None and value is model) else value
                for key, value in self.__dict__.items()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.detach()

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, read from the attributes of the same name."""
        names = [
            name
            for name, parameter in inspect.signature(type(self).__init__).parameters.items()
            if name != "self"
            and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
            and name not in self._NOT_IN_CONFIG
        ]
        return {name: getattr(self, name) for name in names}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        """Rebuild the callback from `get_config()` (Keras serialization)."""
        return cls(**config)
