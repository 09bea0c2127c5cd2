"""Fold BatchNormalization into the neighbouring Dense/Conv layer for low-latency inference.

At inference a BN layer is an affine map per channel, y = s * x + t with
s = gamma / sqrt(moving_variance + epsilon) and t = beta - s * moving_mean.
Lecture 001's practical guidelines: for a low-latency model, fold it away.

- BN right after a linear Dense/Conv (the "before the activation" layout):
  kernel' = kernel * s (per output channel), bias' = s * bias + t.
- BN after an activation, followed (through inference no-ops such as Dropout)
  by a Dense layer: that Dense layer absorbs it on its input side,
  kernel' = s[:, None] * kernel, bias' = t @ kernel + bias.

Anything else (BN after a non-linear layer and before a convolution, after an
`Add`, on a non-channel axis, ...) is left in place and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from .callbacks import _keras_internals

FOLD_INTO = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
             keras.layers.DepthwiseConv2D)
"""Layers whose output channels can absorb a following BatchNormalization."""

INFERENCE_NO_OPS = (keras.layers.Dropout, keras.layers.AlphaDropout, keras.layers.GaussianDropout,
                    keras.layers.GaussianNoise, keras.layers.Identity)
"""Layers that are the identity at inference; a BN may be folded through them."""


@dataclass(frozen=True)
class FoldReport:
    """What `fold_batch_norm` did, attached to the folded model as `fold_report`.

    `str(report)` is a readable list of the folded and the remaining BN layers.
    The report lives on the Python object only: a folded model saved and loaded
    again has no `fold_report`.

    Example:

    ```python
    folded = fold_batch_norm(model)
    print(folded.fold_report)          # "folded 5 BatchNormalization layer(s), left 0 ..."
    folded.fold_report.left            # [(bn_name, reason), ...]
    ```

    Args:
        folded: `(bn_name, layer_name)` for each BN folded into that layer
            (`outer/inner_bn` for a BN inside a nested model).
        left: `(bn_name, reason)` for each BN left in place.
    """

    folded: list[tuple[str, str]] = field(default_factory=list)
    left: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"folded {len(self.folded)} BatchNormalization layer(s), left {len(self.left)}"]
        lines += [f"  folded {bn} into {into}" for bn, into in self.folded]
        lines += [f"  left {bn}: {reason}" for bn, reason in self.left]
        return "\n".join(lines)


def _foldable(layer: Any) -> bool:
    """A plain float Dense/Conv layer without activation, channels last."""
    if not isinstance(layer, FOLD_INTO) or getattr(layer, "lora_enabled", False):
        return False
    if getattr(layer, "quantization_mode", None) or getattr(layer, "data_format",
                                                             "channels_last") != "channels_last":
        return False
    activation = getattr(layer, "activation", None)
    return activation is None or getattr(activation, "__name__", "") == "linear"


def _input_rank(layer: keras.layers.Layer) -> int:
    return len(_keras_internals.calls(layer)[-1].input_tensors[0].shape)


def _float64(variable: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(variable), dtype="float64")


def _bn_affine(bn: keras.layers.BatchNormalization) -> tuple[np.ndarray, np.ndarray]:
    mean = _float64(bn.moving_mean)
    variance = _float64(bn.moving_variance)
    gamma = _float64(bn.gamma) if bn.scale else np.ones_like(mean)
    beta = _float64(bn.beta) if bn.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(variance + bn.epsilon)
    return scale, beta - scale * mean


def _kernel_bias(layer: keras.layers.Layer) -> tuple[np.ndarray, np.ndarray]:
    kernel = _float64(layer.kernel)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        channels = kernel.shape[-2] * kernel.shape[-1]
    else:
        channels = kernel.shape[-1]
    bias = (_float64(layer.bias) if layer.use_bias
            else np.zeros(channels))
    return kernel, bias


def _graph(model: keras.Model) -> tuple[dict[str, list[str]], dict[str, list[str]], set[str]]:
    """Parents and children of each layer (by name), and the layers producing model outputs."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if isinstance(model, keras.Sequential):
        names = [layer.name for layer in layers]
        parents = {n: ([names[i - 1]] if i else []) for i, n in enumerate(names)}
        children = {n: ([names[i + 1]] if i + 1 < len(names) else []) for i, n in enumerate(names)}
        return parents, children, {names[-1]}
    # A fresh clone: its layers were called exactly once, inside this graph only.
    clone = keras.models.clone_model(model)
    parents, children = {}, {}
    for layer in clone.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        nodes = _keras_internals.calls(layer)
        parents[layer.name] = [node.operation.name for node in nodes[0].parent_nodes]
        children[layer.name] = [node.operation.name
                                for node in _keras_internals.consumers(layer)]
        if len(nodes) != 1:
            children[layer.name].append("<shared>")
    outputs = {_keras_internals.producer(tensor)[0].name for tensor in clone.outputs}
    return parents, children, outputs


def _plan(model: keras.Model) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]],
                                       list[tuple[str, str]], list[tuple[str, str]]]:
    parents, children, outputs = _graph(model)
    by_name = {layer.name: layer for layer in model.layers}
    weights: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    folded: list[tuple[str, str]] = []
    left: list[tuple[str, str]] = []

    def current(name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in weights:
            weights[name] = _kernel_bias(by_name[name])
        return weights[name]

    for bn in model.layers:
        if not isinstance(bn, keras.layers.BatchNormalization):
            continue
        rank = _input_rank(bn)
        if bn.axis % rank != rank - 1:
            left.append((bn.name, f"normalizes axis {bn.axis}, not the last (channel) axis"))
            continue
        if getattr(bn, "renorm", False):
            left.append((bn.name, "uses batch renormalization"))
            continue
        scale, shift = _bn_affine(bn)
        previous = parents[bn.name][0] if len(parents[bn.name]) == 1 else None
        prev_layer = by_name.get(previous)
        if (_foldable(prev_layer) and children[previous] == [bn.name] and previous not in outputs):
            kernel, bias = current(previous)
            if isinstance(prev_layer, keras.layers.DepthwiseConv2D):
                kernel = kernel * scale.reshape(kernel.shape[-2:])
            else:
                kernel = kernel * scale
            weights[previous] = (kernel, scale * bias + shift)
            folded.append((bn.name, previous))
            continue
        # BN after a non-linearity: fold into the next Dense, through inference no-ops.
        nxt, path_ok = bn.name, True
        while True:
            if nxt in outputs or len(children[nxt]) != 1:
                path_ok = False
                break
            nxt = children[nxt][0]
            if not isinstance(by_name.get(nxt), INFERENCE_NO_OPS):
                break
        next_layer = by_name.get(nxt)
        if path_ok and isinstance(next_layer, keras.layers.Dense) and not getattr(
                next_layer, "lora_enabled", False) and not getattr(
                next_layer, "quantization_mode", None):
            kernel, bias = current(nxt)
            weights[nxt] = (kernel * scale[:, None], shift @ kernel + bias)
            folded.append((bn.name, nxt))
            continue
        before = f"{previous!r} ({type(prev_layer).__name__})" if prev_layer else "the input"
        left.append((bn.name, f"follows {before}, which is not a linear Dense/Conv layer, and "
                              "is not followed by a Dense layer"))
    return weights, folded, left


def _refold(layer: keras.layers.Layer) -> keras.layers.Layer:
    config = layer.get_config()
    config["use_bias"] = True
    return layer.__class__.from_config(config)


def fold_batch_norm(model: keras.Model) -> keras.Model:
    """Return an inference copy of `model` with its BatchNormalization layers folded away.

    Each BN directly after a linear Dense/Conv layer (BN before the
    activation) is folded into that layer's kernel and bias; a BN after an
    activation is folded into the next Dense layer when only inference no-ops
    (Dropout, ...) lie between. Other BN layers stay. Nested models are
    folded recursively. The copy is uncompiled (`predict` works) and its
    outputs equal the original's in inference mode (`training=False`) up to
    float32 rounding. The original model is not changed.

    What was folded and what was left (with the reason) is the attribute
    `fold_report` of the returned model, a `FoldReport` (`.folded`, `.left`;
    `print` it for a readable list). It is not saved with the model.

    Example:

    ```python
    folded = fold_batch_norm(model)
    folded.predict(x)          # same as model.predict(x), fewer layers
    print(folded.fold_report)  # what was folded into what, what was left and why
    ```

    Args:
        model: a built Sequential or Functional model.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; received {type(model).__name__}.")
    if not model.built or not model.weights:
        raise ValueError(f"`model` {model.name!r} is not built; build it before folding.")
    weights, folded, left = _plan(model)
    folded_bns = {bn for bn, _ in folded}
    nested: dict[str, keras.Model] = {}

    def clone_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.Model):
            nested[layer.name] = fold_batch_norm(layer)
            nested[layer.name].name = layer.name  # the outer graph refers to it by name
            return nested[layer.name]
        if layer.name in weights:
            return _refold(layer)
        return layer.__class__.from_config(layer.get_config())

    if isinstance(model, keras.Sequential):
        layers = [clone_layer(layer) for layer in model.layers if layer.name not in folded_bns]
        inputs = keras.Input(shape=model.input_shape[1:], dtype=model.inputs[0].dtype)
        new = keras.Sequential([inputs, *layers], name=f"{model.name}_folded")
    else:
        def call_layer(layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
            # A folded BN is left out of the graph: its input goes straight on.
            return args[0] if layer.name in folded_bns else layer(*args, **kwargs)

        new = keras.models.clone_model(
            model, clone_function=clone_layer, call_function=call_layer
        )
        new.name = f"{model.name}_folded"
    for layer in new.layers:
        if layer.name in nested or isinstance(layer, keras.layers.InputLayer):
            continue
        if layer.name in weights:
            kernel, bias = weights[layer.name]
            layer.set_weights([kernel.astype(layer.dtype), bias.astype(layer.dtype)])
        else:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    for prefix, inner in nested.items():
        report = inner.fold_report
        folded += [(f"{prefix}/{bn}", f"{prefix}/{into}") for bn, into in report.folded]
        left += [(f"{prefix}/{bn}", reason) for bn, reason in report.left]
    # Plain attribute, outside Keras's tracking (a report is not state to save).
    object.__setattr__(new, "fold_report", FoldReport(folded, left))
    return new
