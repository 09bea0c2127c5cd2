"""`ActivationStats`: per-layer activation statistics on a fixed probe batch."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from ._base import CallbackBase
from ._validation import check_fraction, check_positive, require_compiled

_SATURATING = {"sigmoid": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
_RELU_LIKE = {"relu", "relu6"}
_GATED = (keras.layers.LSTM, keras.layers.GRU)
_SEQUENCE_MIXERS = (keras.layers.MultiHeadAttention, keras.layers.GroupQueryAttention)


def _activation_name(layer: keras.layers.Layer) -> str | None:
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    name = getattr(activation, "__name__", None) or type(activation).__name__
    return name.lower()


def _kind(layer: keras.layers.Layer) -> tuple[str | None, str | None]:
    """(activation judged, reason when dead/saturated fractions are not defined)."""
    name = type(layer).__name__
    if isinstance(layer, _GATED):
        return None, (f"{name} outputs a gated tanh (o * tanh(c)): its gates' saturation is "
                      "not visible in the output; mean and std only")
    if isinstance(layer, _SEQUENCE_MIXERS):
        return None, (f"{name} outputs a linear projection: no activation to judge; "
                      "mean and std only")
    activation = _activation_name(layer)
    if activation in _SATURATING or activation in _RELU_LIKE:
        return activation, None
    if activation is None:
        return None, f"{name} has no activation: mean and std only"
    return None, f"activation {activation!r} has no dead or saturated region: mean and std only"


class ActivationStats(CallbackBase):
    """Record per-layer activation mean, std, saturated and dead fractions.

    At the end of every `every` epochs the callback runs a fixed probe batch
    through a side model built from the outputs of the model's layers
    (inference mode) and records, per layer: mean and std of the outputs;
    for sigmoid/tanh layers, the fraction of outputs within `saturation` of
    the asymptotes (`saturated`, over every sample, position and unit); for
    ReLU layers, the fraction of units (the last axis: a Dense unit, a conv
    channel, a recurrent unit) that output zero for every probe sample and
    every position (`dead`, lecture 001's dying ReLUs). Values go into
    `.history` (`{layer: {stat: [...]}}`, with `.epochs`) and into the epoch
    logs as `act_<stat>/<layer>`; list this callback before
    `CSVLogger`/`TensorBoard` so they see the keys.

    Layers covered: those with an `activation` attribute (Dense, Conv,
    SeparableConv, Activation, SimpleRNN, ...), BatchNormalization, LSTM/GRU
    and MultiHeadAttention, or the names in `layers`. Where dead and saturated
    fractions are not defined (a gated LSTM/GRU output, an attention output,
    a linear or ELU activation, a custom layer) only mean and std are recorded
    and `.skipped[layer]` says why. A model without a layer graph (subclassed)
    is inspected through its sub-models that accept the probe (e.g. a GAN's
    discriminator, as `discriminator/<layer>`); the others are listed in
    `.skipped` with the reason, and a subclassed model with no such sub-model
    is rejected with a `TypeError`.

    Example:

    ```python
    stats = ActivationStats(x_valid[:256], every=1)
    model.fit(x, y, epochs=5, callbacks=[stats])
    stats.history["dense"]["dead"], stats.skipped
    ```

    Args:
        probe: the fixed input batch (array, or structure matching the model inputs).
        every: record every `every` epochs (integer > 0); also at train begin.
        layers: names of the layers to watch (default: see above).
        saturation: distance to a sigmoid/tanh asymptote counted as saturated,
            as a fraction of the output range, in (0, 0.5).
    """

    _RUN_STATE = ("_sides",)  # the probe model: rebuilt per fit

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
        self.skipped: dict[str, str] = {}
        self._sides: list[tuple[Any, list[str], list[str | None]]] = []

    def _watched(self, model: keras.Model, prefix: str = "") -> list[keras.layers.Layer]:
        layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        if self.layers is not None:
            by_name = {prefix + layer.name: layer for layer in layers}
            wanted = [n for n in self.layers if n.startswith(prefix)] if prefix else self.layers
            missing = [n for n in wanted if n not in by_name]
            if missing:
                raise ValueError(
                    f"`layers` names unknown layers {missing}; accepted: {sorted(by_name)}."
                )
            return [by_name[n] for n in wanted]
        return [
            layer for layer in layers
            if _activation_name(layer) is not None
            or isinstance(layer, (keras.layers.BatchNormalization, *_GATED, *_SEQUENCE_MIXERS))
        ]

    def _side_model(self, model: keras.Model, prefix: str = "") -> tuple[Any, list, list]:
        watched = self._watched(model, prefix)
        inputs = model.inputs
        inputs = inputs[0] if len(inputs) == 1 else inputs
        structure = getattr(model, "input", None)
        if isinstance(structure, dict):  # a model called on a dict of inputs
            inputs = structure
        side = keras.Model(inputs, [layer.output for layer in watched])
        names = [prefix + layer.name for layer in watched]
        kinds = []
        for name, layer in zip(names, watched, strict=True):
            kind, reason = _kind(layer)
            kinds.append(kind)
            if reason is not None:
                self.skipped[name] = reason
        return side, names, kinds

    def _has_graph(self, model: keras.Model) -> bool:
        try:
            return bool(model.inputs)
        except (AttributeError, ValueError):
            return False

    def on_train_begin(self, logs: dict | None = None) -> None:
        require_compiled(self.model, "ActivationStats")
        model = self.model
        self._sides = []
        if self._has_graph(model):
            self._sides.append(self._side_model(model))
        else:
            self._sub_models(model)
        if not self.epochs:
            self._record(-1, None)

    def _sub_models(self, model: keras.Model) -> None:
        """A model without a layer graph: watch the sub-models that accept the probe."""
        for layer in model.layers:
            if not isinstance(layer, keras.Model) or not self._has_graph(layer):
                continue
            try:
                side = self._side_model(layer, prefix=f"{layer.name}/")
                side[0](self.probe, training=False)
            except (ValueError, TypeError) as error:
                self.skipped[layer.name] = f"sub-model does not accept the probe ({error})"
                continue
            self._sides.append(side)
        found = {name for _, names, _ in self._sides for name in names}
        missing = [n for n in self.layers or [] if n not in found]
        if missing:
            raise ValueError(f"`layers` names unknown layers {missing}; accepted: layers of "
                             f"the sub-models {[n for n in found]}.")
        if not self._sides:
            raise TypeError(
                "ActivationStats needs a Sequential or Functional model (it taps the layers' "
                f"symbolic outputs); {type(model).__name__} has none and no sub-model that "
                "accepts the probe. Rebuild it as a Functional model to inspect its activations."
            )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every == 0:
            self._record(epoch, logs)

    def on_train_end(self, logs: dict | None = None) -> None:
        self._sides = []  # rebuilt per fit: layers may have changed

    def compute(self) -> dict[str, dict[str, float]]:
        """Statistics of the probe batch now, `{layer: {stat: value}}`."""
        result: dict[str, dict[str, float]] = {}
        for side, names, kinds in self._sides:
            outputs = side(self.probe, training=False)
            if not isinstance(outputs, (list, tuple)):
                outputs = [outputs]
            for name, kind, output in zip(names, kinds, outputs, strict=True):
                result[name] = self._stats(kind, output)
        return result

    def _stats(self, kind: str | None, output: Any) -> dict[str, float]:
        values = np.asarray(keras.ops.convert_to_numpy(output), dtype=np.float64)
        stats = {"mean": float(values.mean()), "std": float(values.std())}
        if kind in _SATURATING:
            low, high = _SATURATING[kind]
            margin = self.saturation * (high - low)
            near = (values <= low + margin) | (values >= high - margin)
            stats["saturated"] = float(np.mean(near))
        elif kind in _RELU_LIKE:
            # a unit (last axis: Dense unit, conv channel) is dead when it is zero for
            # every sample and every position
            units = values.reshape(-1, values.shape[-1]) if values.ndim > 1 else values[:, None]
            stats["dead"] = float(np.mean(np.all(units <= 0.0, axis=0)))
        return stats

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
