"""Freeze and unfreeze layers of a Keras model, recompiling it so the change takes effect.

Keras compiles the list of trainable variables into the train function: after
any change of `trainable` the model must be compiled again (Keras 3 warns
"A layer's `trainable` state has changed since the model was compiled").
`freeze` and `unfreeze` do that for you with the same loss, metrics and
optimizer settings. A frozen `BatchNormalization` layer runs in inference mode
in Keras 3 (`training and self.trainable` decides), so its moving statistics
stay as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from .callbacks._validation import check_positive

LayerKey = int | str


def _layer_names(model: keras.Model) -> str:
    return ", ".join(f"{i}: {layer.name!r}" for i, layer in enumerate(model.layers))


def _check_model(model: Any, who: str) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(f"{who}: `model` must be a keras.Model; received {type(model).__name__}.")
    if not model.layers:
        raise ValueError(f"{who}: `model` has no layers.")


def layer_index(
    model: keras.Model, key: LayerKey, argument: str, *, allow_end: bool = False
) -> int:
    """Return the position in `model.layers` of a layer given by index or name.

    Example:

    ```python
    layer_index(model, "hidden_2_dense", "until")  # 2
    layer_index(model, -1, "until")                 # len(model.layers) - 1
    ```

    Args:
        model: the model whose `layers` are indexed.
        key: an index (negative counts from the top) or a layer name.
        argument: the argument name used in error messages.
        allow_end: accept `len(model.layers)` (a slice end) as an index.
    """
    n = len(model.layers)
    if isinstance(key, str):
        for i, layer in enumerate(model.layers):
            if layer.name == key:
                return i
        raise ValueError(
            f"`{argument}`: no layer named {key!r} in model {model.name!r}; the layers are "
            f"[{_layer_names(model)}]."
        )
    if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
        raise TypeError(
            f"`{argument}` must be a layer index (int) or a layer name (str); received {key!r}."
        )
    high = n if allow_end else n - 1
    if not -n <= key <= high:
        raise ValueError(
            f"`{argument}`={key} is out of range for model {model.name!r} with {n} layers "
            f"(accepted: {-n}..{high}); the layers are [{_layer_names(model)}]."
        )
    return int(key) % n if key < 0 else int(key)


def _select(
    model: keras.Model, who: str, argument: str, key: LayerKey | None, layers: Any
) -> list[keras.layers.Layer]:
    if layers is not None:
        if key is not None:
            raise ValueError(f"{who}: pass either `{argument}` or `layers`, not both.")
        if isinstance(layers, (str, int)) or not isinstance(layers, Sequence):
            raise TypeError(
                f"{who}: `layers` must be a list of layer indices or names; received {layers!r}."
            )
        chosen = [model.layers[layer_index(model, k, "layers")] for k in layers]
    elif argument == "until":
        end = layer_index(model, -1 if key is None else key, "until", allow_end=True)
        chosen = model.layers[:end]
    else:
        chosen = model.layers[layer_index(model, 0 if key is None else key, "start"):]
    if not chosen:
        raise ValueError(
            f"{who}: `{argument}`={key!r} selects no layer of model {model.name!r}; the layers "
            f"are [{_layer_names(model)}]."
        )
    return chosen


def sublayers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Return `layer` and, for nested models, every layer inside it (depth first).

    Example:

    ```python
    bns = [l for l in sublayers(model) if isinstance(l, keras.layers.BatchNormalization)]
    ```

    Args:
        layer: a layer or a model.
    """
    found = [layer]
    for inner in getattr(layer, "layers", None) or []:
        found += sublayers(inner)
    return found


def recompile(model: keras.Model, *, learning_rate: float | None = None) -> keras.Model:
    """Compile `model` again with its own loss, metrics and optimizer settings.

    The optimizer is a fresh instance built from `optimizer.get_config()`
    (its slots, e.g. Adam's moments, and its iteration count start again), so
    the train function tracks the current trainable variables.

    Example:

    ```python
    for layer in model.layers[:-1]:
        layer.trainable = False
    recompile(model, learning_rate=1e-4)
    ```

    Args:
        model: a compiled model.
        learning_rate: a new (constant) learning rate (> 0), or `None` to keep
            the optimizer's own rate or schedule.
    """
    if not getattr(model, "compiled", False) or model.optimizer is None:
        raise ValueError(
            f"recompile: model {model.name!r} is not compiled; call `model.compile(...)` or "
            "`keras_recipes.compile_recipe(model)` first."
        )
    config = model.get_compile_config()
    if learning_rate is not None:
        check_positive("learning_rate", learning_rate)
        optimizer = keras.optimizers.get(config["optimizer"])
        settings = optimizer.get_config()
        settings["learning_rate"] = float(learning_rate)
        config["optimizer"] = keras.optimizers.serialize(optimizer.__class__.from_config(settings))
    model.compile_from_config(config)
    return model


def _apply(
    model: keras.Model,
    chosen: list[keras.layers.Layer],
    trainable: bool,
    *,
    recompile_model: bool,
    learning_rate: float | None,
    who: str,
    keep_batch_norm_frozen: bool = False,
) -> keras.Model:
    compiled = getattr(model, "compiled", False) and model.optimizer is not None
    if learning_rate is not None and not (compiled and recompile_model):
        raise ValueError(
            f"{who}: `learning_rate` is used when a compiled model is recompiled; model "
            f"{model.name!r} is {'not compiled' if not compiled else 'not recompiled'} "
            "(compile it, or leave `learning_rate=None`)."
        )
    for layer in chosen:
        layer.trainable = trainable
        if trainable and keep_batch_norm_frozen:
            for inner in sublayers(layer):
                if isinstance(inner, keras.layers.BatchNormalization):
                    inner.trainable = False
    if compiled and recompile_model:
        recompile(model, learning_rate=learning_rate)
    return model


def freeze(
    model: keras.Model,
    until: LayerKey | None = None,
    *,
    layers: Sequence[LayerKey] | None = None,
    learning_rate: float | None = None,
    recompile: bool = True,
) -> keras.Model:
    """Freeze the layers below `until` (or the listed `layers`) and recompile.

    `until` works like a slice end over `model.layers`: `until=-1` (the
    default) freezes every layer but the top one, `until=3` the bottom three,
    `until="output"` every layer below the one named `"output"`. Other
    layers keep their state. A compiled model is compiled again with the same
    loss, metrics and optimizer settings (fresh optimizer state) so it is
    ready to `fit`. Frozen BatchNormalization layers run in inference mode
    and keep their moving statistics.

    Example:

    ```python
    model_b = reuse_pretrained(model_a, head="binary", freeze=False)
    freeze(model_b)            # lecture 001: every reused layer, not the head
    model_b.fit(x_b, y_b, epochs=4)
    ```

    Args:
        model: the model, changed in place and returned.
        until: index (negative allowed), count, or name of the first layer
            left as it is. Defaults to -1 when `layers` is not given.
        layers: explicit indices or names of the layers to freeze.
        learning_rate: new learning rate for the recompiled optimizer.
        recompile: compile a compiled model again (default); `False` only
            sets the flags.
    """
    _check_model(model, "freeze")
    chosen = _select(model, "freeze", "until", until, layers)
    return _apply(
        model, chosen, False, recompile_model=recompile, learning_rate=learning_rate, who="freeze"
    )


def unfreeze(
    model: keras.Model,
    start: LayerKey | None = None,
    *,
    layers: Sequence[LayerKey] | None = None,
    learning_rate: float | None = None,
    keep_batch_norm_frozen: bool = False,
    recompile: bool = True,
) -> keras.Model:
    """Make the layers from `start` to the top (or the listed `layers`) trainable and recompile.

    `unfreeze(model)` unfreezes everything; `start=-3` the top three layers;
    `start="hidden_2"` that layer and every layer above it. Fine-tuning
    usually wants a lower `learning_rate` (lecture 001: "recompile with a
    lower learning rate"). The recompiled optimizer starts afresh: its
    iteration count, moments and any learning-rate schedule restart at step 0.

    Example:

    ```python
    unfreeze(model_b, learning_rate=1e-4)
    model_b.fit(x_b, y_b, epochs=16)
    ```

    Args:
        model: the model, changed in place and returned.
        start: index (negative allowed) or name of the lowest layer to
            unfreeze. Defaults to 0 when `layers` is not given.
        layers: explicit indices or names of the layers to unfreeze.
        learning_rate: new learning rate for the recompiled optimizer.
        keep_batch_norm_frozen: leave BatchNormalization layers (also inside
            nested models) frozen, i.e. in inference mode, as the Keras
            transfer-learning guide advises for fine-tuning on little data.
        recompile: compile a compiled model again (default).
    """
    _check_model(model, "unfreeze")
    chosen = _select(model, "unfreeze", "start", start, layers)
    return _apply(
        model, chosen, True, recompile_model=recompile, learning_rate=learning_rate,
        who="unfreeze", keep_batch_norm_frozen=keep_batch_norm_frozen,
    )


def _count(weights: list[Any]) -> int:
    return int(sum(np.prod(w.shape) for w in weights))


def trainable_summary(model: keras.Model, *, print_fn: Any = print) -> list[dict[str, Any]]:
    """Show, layer by layer, what is frozen and how many parameters train.

    State is `"trainable"`, `"frozen"` or `"partly frozen"` (a nested model
    with some frozen layers). BatchNormalization's moving statistics are
    never trainable parameters; a frozen BN also keeps them fixed.

    Example:

    ```python
    rows = trainable_summary(model_b)
    [r["name"] for r in rows if r["state"] == "frozen"]
    ```

    Args:
        model: any Keras model.
        print_fn: called with the table's text; `None` prints nothing.
    """
    _check_model(model, "trainable_summary")
    rows = []
    for index, layer in enumerate(model.layers):
        inner = sublayers(layer)[1:]
        if not layer.trainable:
            state = "frozen"
        elif any(not sub.trainable and sub.weights for sub in inner):
            state = "partly frozen"
        else:
            state = "trainable"
        rows.append({
            "index": index,
            "name": layer.name,
            "type": layer.__class__.__name__,
            "state": state,
            "trainable_params": _count(layer.trainable_weights),
            "non_trainable_params": _count(layer.non_trainable_weights),
        })
    if print_fn is not None:
        width = max(len(r["name"]) for r in rows) + 2
        lines = [f"{'#':>3}  {'layer':<{width}}{'type':<22}{'state':<15}{'trainable':>10}"
                 f"{'frozen':>10}"]
        for r in rows:
            lines.append(
                f"{r['index']:>3}  {r['name']:<{width}}{r['type']:<22}{r['state']:<15}"
                f"{r['trainable_params']:>10}{r['non_trainable_params']:>10}"
            )
        trainable = sum(r["trainable_params"] for r in rows)
        frozen = sum(r["non_trainable_params"] for r in rows)
        lines.append(f"total: {trainable} trainable, {frozen} non-trainable parameters")
        print_fn("\n".join(lines))
    return rows
