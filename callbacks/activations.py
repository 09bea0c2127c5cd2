"""`ActivationStats`: per-layer activation statistics on a fixed probe batch."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from callbacks._base import CallbackBase
from callbacks._validation import check_fraction, check_positive, require_compiled

_SATURATING = {"sigmoid": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
_RELU_LIKE = {"relu", "relu6"}


def _activation_name(layer: keras.layers.Layer) -> str | None:
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    name = getattr(activation, "__name__", None) or type(activation).__name__
    return name.lower()


class ActivationStats(CallbackBase):
    """Record per-layer activation mean, std, saturated and dead fractions.

    At the end of every `every` epochs the callback runs a fixed probe batch
    through a side model built from the outputs of the model's layers
    (inference mode) and records, per layer: mean and std of the outputs;
    for sigmoid/tanh layers, the fraction of outputs within `saturation` of
    the asymptotes (`saturated`); for ReLU layers, the fraction of units that
    output zero for every probe sample (`dead`, lecture 001's dying ReLUs).
    Values go into `.history` (`{layer: {stat: [...]}}`, with `.epochs`) and
    into the epoch logs as `act_<stat>/<layer>`; list this callback before
    `CSVLogger`/`TensorBoard` so they see the keys.

    Layers covered: those with an `activation` attribute (Dense, Conv,
    Activation, ...) plus BatchNormalization, or the names in `layers`.
    Works on Sequential and Functional models; a subclassed model has no
    layer graph to tap, so it is rejected with a `TypeError` (wrap its layers
    in a Functional model to inspect them).

    Example:

    ```python
    stats = ActivationStats(x_valid[:256], every=1)
    model.fit(x, y, epochs=5, callbacks=[stats])
    stats.history["dense"]["dead"]
    ```

    Args:
        probe: the fixed input batch (array, or structure matching the model inputs).
        every: record every `every` epochs (integer > 0); also at train begin.
        layers: names of the layers to watch (default: see above).
        saturation: distance to a sigmoid/tanh asymptote counted as saturated,
            as a fraction of the output range, in (0, 0.5).
    """

    _RUN_STATE = ("_side",)  # the probe model: rebuilt per fit

    def __init__(
        self,
        probe: Any,
        every: int = 1,
        layers: list[str] | tuple[str, ...] | None = None,
        saturation: float = 0.02,
    ) -> None:
        super().__init__()
        if probe is None:
            raise ValueError("`probe` must be an input batch; received None.")
        self.probe = probe
        self.every = int(check_positive("every", every, integer=True))
        self.layers = None if layers is None else [str(n) for n in layers]
        check_fraction("saturation", saturation)
        self.saturation = float(check_positive("saturation", saturation))
        if self.saturation >= 0.5:
            raise ValueError(f"`saturation` must be in (0, 0.5); received {saturation!r}.")
        self.history: dict[str, dict[str, list[float]]] = {}
        self.epochs: list[int] = []
        self._side = None

    def _watched(self) -> list[keras.layers.Layer]:
        model = self.model
        layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        if self.layers is not None:
            by_name = {layer.name: layer for layer in layers}
            missing = [n for n in self.layers if n not in by_name]
            if missing:
                raise ValueError(
                    f"`layers` names unknown layers {missing}; accepted: {sorted(by_name)}."
                )
            return [by_name[n] for n in self.layers]
        return [
            layer for layer in layers
            if _activation_name(layer) is not None
            or isinstance(layer, keras.layers.BatchNormalization)
        ]

    def on_train_begin(self, logs: dict | None = None) -> None:
        require_compiled(self.model, "ActivationStats")
        watched = self._watched()
        self._names = [layer.name for layer in watched]
        self._kinds = [_activation_name(layer) for layer in watched]
        try:
            inputs = self.model.inputs
            inputs = inputs[0] if len(inputs) == 1 else inputs
            self._side = keras.Model(inputs, [layer.output for layer in watched])
        except (AttributeError, ValueError, TypeError) as error:
            raise TypeError(
                "ActivationStats needs a Sequential or Functional model (it taps the layers' "
                f"symbolic outputs); {type(self.model).__name__} has none ({error}). Rebuild "
                "it as a Functional model to inspect its activations."
            ) from error
        if not self.epochs:
            self._record(-1, None)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every == 0:
            self._record(epoch, logs)

    def on_train_end(self, logs: dict | None = None) -> None:
        self._side = None  # rebuilt per fit: layers may have changed

    def compute(self) -> dict[str, dict[str, float]]:
        """Statistics of the probe batch now, `{layer: {stat: value}}`."""
        outputs = self._side(self.probe, training=False)
        if len(self._names) == 1 and not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        result: dict[str, dict[str, float]] = {}
        for name, kind, output in zip(self._names, self._kinds, outputs, strict=False):
            values = np.asarray(keras.ops.convert_to_numpy(output), dtype=np.float64)
            stats = {"mean": float(values.mean()), "std": float(values.std())}
            if kind in _SATURATING:
                low, high = _SATURATING[kind]
                margin = self.saturation * (high - low)
                stats["saturated"] = float(
                    np.mean((values <= low + margin) | (values >= high - margin))
                )
            elif kind in _RELU_LIKE:
                units = values.reshape(values.shape[0], -1)
                stats["dead"] = float(np.mean(np.all(units <= 0.0, axis=0)))
            result[name] = stats
        return result

    def _record(self, epoch: int, logs: dict | None) -> None:
        current = self.compute()
        self.epochs.append(epoch)
        for name, stats in current.items():
            for stat, value in stats.items():
                self.history.setdefault(name, {}).setdefault(stat, []).append(value)
                if logs is not None:
                    logs[f"act_{stat}/{name}"] = value

    def get_config(self) -> dict[str, Any]:
        """The settings, without the probe batch (so not a full recipe to rebuild it)."""
        return {"every": self.every, "layers": self.layers, "saturation": self.saturation}
