"""Transfer learning as lecture 001 teaches it: reuse model A's layers for task B, then fine-tune.

`reuse_pretrained` copies the layers (`clone_model` + `set_weights`), so
training model B never changes model A: `keras.Sequential(model_A.layers[:-1])`
would share A's layer objects and every step on B would silently change A
(ageron/handson-ml2#454). `fine_tune` runs the two phases: the new head alone
on frozen reused layers, then everything with a lower learning rate.
`freeze`, `unfreeze` and `trainable_summary` live in `recipes.freezing`,
`fold_batch_norm` in `recipes.folding`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from . import freezing
from .callbacks import _keras_internals
from .callbacks._structure import output_names, pick_output
from .callbacks._validation import check_choice, check_non_negative, check_positive
from .freezing import layer_index, recompile
from .heads import TASKS, output_layer
from .optimizers import compile_recipe, infer_task

__all__ = ["fine_tune", "reuse_pretrained"]

DEFAULT_LEARNING_RATE = 1e-3
"""Head-phase learning rate of `fine_tune` for a model that is not compiled yet."""

FINE_TUNE_RATE_FACTOR = 0.1
"""`fine_tune` divides the head-phase rate by 10 for the second phase unless told otherwise."""


def _parse_task_head(head: str, features: Any) -> list[keras.layers.Layer]:
    task, _, units = head.partition(":")
    check_choice("head", task, TASKS)
    if units and not units.isdigit() or units == "0":
        raise ValueError(
            f"`head`: the count after ':' must be a positive int; received {head!r}."
        )
    if task in ("multiclass", "multilabel") and not units:
        raise ValueError(
            f"`head='{task}'` needs the number of classes, e.g. head='{task}:5'; "
            f"received {head!r}."
        )
    n_outputs = int(units) if units else 1
    layers: list[keras.layers.Layer] = []
    rank = len(features.shape)
    if rank == 4:
        layers.append(keras.layers.GlobalAveragePooling2D(name="head_pool"))
    elif rank > 2:
        layers.append(keras.layers.Flatten(name="head_flatten"))
    return [*layers, output_layer(n_outputs, task=task, name="head_output")]


def _head_layers(head: Any, features: Any) -> list[keras.layers.Layer]:
    if head is None:
        return []
    if isinstance(head, str):
        return _parse_task_head(head, features)
    layers = [head] if isinstance(head, keras.layers.Layer) else head
    if not isinstance(layers, Sequence) or not all(
        isinstance(layer, keras.layers.Layer) for layer in layers
    ):
        raise TypeError(
            "`head` must be None, a task name ('binary', 'multiclass:N', 'multilabel:N', "
            "'regression'), a "
            f"keras layer or a list of layers; received {head!r}."
        )
    for layer in layers:
        if layer.built:
            raise ValueError(
                f"`head`: layer {layer.name!r} is already built, i.e. it belongs to another "
                "model; reusing it would share its weights with that model. Pass new layers."
            )
    return list(layers)


def _uncloneable(source: keras.Model) -> str:
    """The first layer that `from_config(get_config())` cannot rebuild, described."""
    for layer in source.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            layer.__class__.from_config(layer.get_config())
        except Exception as error:  # noqa: BLE001 - any failure is the answer here
            return f"layer {layer.name!r} ({type(layer).__name__}): {error}"
    return ""


def _copy(source: keras.Model) -> keras.Model:
    try:
        clone = keras.models.clone_model(source)
    except (TypeError, ValueError, NotImplementedError) as error:
        culprit = _uncloneable(source)
        if culprit:
            raise TypeError(
                f"`source` model {source.name!r} cannot be cloned: clone_model rebuilds each "
                f"layer with `from_config(get_config())`, and {culprit}. Give that layer a "
                "`get_config()` returning its `__init__` arguments (and accept `**kwargs` "
                "such as `trainable` and `name` in `__init__`)."
            ) from error
        raise TypeError(
            "`source` must be a Sequential or Functional keras model (subclassed models cannot "
            f"be cloned); received {type(source).__name__}: {error}"
        ) from error
    clone.set_weights(source.get_weights())
    return clone


def _output_tensor(clone: keras.Model, source: keras.Model, output: int | str | None) -> Any:
    """The clone's output tensor to build on; several outputs need `output` (never guessed)."""
    names = output_names(source)
    if output is None:
        raise ValueError(
            f"`source` model {source.name!r} has {len(names)} outputs {names}; pass "
            "`output=` (a name or an index) to say which one to build on."
        )
    return clone.outputs[names.index(pick_output(names, output))]


def _walk_back(tensor: Any, drop: int, source_name: str) -> Any:
    """The tensor `drop` layers below `tensor` along its (single-input) path."""
    for _ in range(drop):
        layer, node_index, _ = _keras_internals.producer(tensor)
        inputs = _keras_internals.calls(layer)[node_index].input_tensors
        if len(inputs) != 1:
            raise ValueError(
                f"`drop`={drop}: layer {layer.name!r} has {len(inputs)} inputs, so there is "
                "no single tensor below it to build on; use a smaller `drop`."
            )
        tensor = inputs[0]
        if isinstance(_keras_internals.producer(tensor)[0], keras.layers.InputLayer):
            raise ValueError(f"`drop`={drop} reaches the input of {source_name!r}: nothing left "
                             "to reuse.")
    return tensor


def reuse_pretrained(
    source: keras.Model,
    *,
    drop: int = 1,
    head: Any = None,
    freeze: bool = True,
    output: int | str | None = None,
    compile: bool | str = "auto",
    optimizer: str | keras.optimizers.Optimizer = "adam",
    learning_rate: float | None = None,
    name: str | None = None,
) -> keras.Model:
    """Build model B from copies of model A's layers, minus its top `drop` layers, plus `head`.

    The copy is lecture 001's `clone_model` + `set_weights`: new layer objects
    with A's weights, so training B leaves every weight of A bit-identical.
    Works on Sequential and Functional models (e.g. a `keras.applications`
    model). On a model with several outputs, `output` names the one to build
    on (a name or an index; required, never guessed): `drop` then counts
    layers down that output's path, and the other outputs are left out.
    With `freeze=True` the reused layers are frozen and the head alone
    trains. A task-name head is a calibrated `output_layer` (preceded by
    global average pooling for image feature maps, or `Flatten` for other
    rank > 2 outputs).

    The model comes back compiled (`compile_recipe`: loss and metrics from the
    output activation) when a head is given and its activation implies the
    loss; a model without a head (a feature extractor) comes back
    uncompiled.

    Example:

    ```python
    model_b = reuse_pretrained(model_a, head="binary")   # frozen, compiled
    model_b.fit(x_b, y_b, epochs=4, validation_data=(x_bv, y_bv))
    unfreeze(model_b, learning_rate=1e-4)
    model_b.fit(x_b, y_b, epochs=16, validation_data=(x_bv, y_bv))
    ```

    Args:
        source: model A (built Sequential or Functional); never modified.
        drop: how many top layers to leave out (0 <= drop < number of
            non-input layers).
        head: `None`, a task name (`"binary"`, `"multiclass:N"`,
            `"multilabel:N"`, `"regression"` or `"regression:N"`), a new layer
            or a list of new layers.
        freeze: freeze the reused layers (not the head).
        output: the output to build on, by name or index (required for a
            source with several outputs, ignored otherwise).
        compile: `"auto"` (compile when the head implies the loss), `True`
            (always; fails if the loss cannot be inferred) or `False`.
        optimizer: optimizer name or object for `compile_recipe`.
        learning_rate: learning rate for `compile_recipe` (names only).
        name: name of the new model (default `"<source>_reused"`).
    """
    if not isinstance(source, keras.Model):
        raise TypeError(f"`source` must be a keras.Model; received {type(source).__name__}.")
    if not source.built or not source.weights:
        raise ValueError(
            f"`source` model {source.name!r} is not built (no weights yet): give it an "
            "`keras.Input` or call it on data before reusing it."
        )
    check_choice("compile", compile, ("auto", True, False))
    check_non_negative("drop", drop, integer=True)
    clone = _copy(source)
    name = name or f"{source.name}_reused"
    if len(getattr(source, "outputs", None) or []) > 1:
        features = _walk_back(_output_tensor(clone, source, output), drop, source.name)
        model, head_layers = _on_top(clone, features, head, name)
        return _finish(model, head_layers, freeze, compile, optimizer, learning_rate)
    trunk = [layer for layer in clone.layers if not isinstance(layer, keras.layers.InputLayer)]
    if drop >= len(trunk):
        names = [layer.name for layer in trunk]
        raise ValueError(
            f"`drop`={drop} must be smaller than the {len(trunk)} layers of {source.name!r} "
            f"(it would leave nothing to reuse); the layers are {names}."
        )
    kept = trunk[: len(trunk) - drop]
    if isinstance(source, keras.Sequential):
        features = kept[-1].output
        head_layers = _head_layers(head, features)
        inputs = keras.Input(shape=source.input_shape[1:], dtype=source.inputs[0].dtype)
        model: keras.Model = keras.Sequential([inputs, *kept, *head_layers], name=name)
    else:
        model, head_layers = _on_top(clone, kept[-1].output, head, name)
    return _finish(model, head_layers, freeze, compile, optimizer, learning_rate)


def _on_top(clone: keras.Model, features: Any, head: Any, name: str
            ) -> tuple[keras.Model, list[keras.layers.Layer]]:
    """A Functional model from the clone's inputs through `features` and the head layers."""
    head_layers = _head_layers(head, features)
    x = features
    for layer in head_layers:
        x = layer(x)
    return keras.Model(clone.inputs, x, name=name), head_layers


def _finish(model: keras.Model, head_layers: list[keras.layers.Layer], freeze: bool,
            compile: bool | str, optimizer: Any, learning_rate: float | None) -> keras.Model:
    """Freeze the reused layers (all but the head) and compile as asked."""
    if freeze:
        head = {id(layer) for layer in head_layers}
        for layer in model.layers:
            if id(layer) not in head and not isinstance(layer, keras.layers.InputLayer):
                layer.trainable = False
    if compile is True or (compile == "auto" and head_layers):
        try:
            infer_task(model)
        except ValueError as error:
            if compile is True:
                raise ValueError(
                    f"reuse_pretrained(compile=True): {error} Use compile=False and compile "
                    "the model yourself."
                ) from error
        else:
            compile_recipe(model, optimizer, learning_rate=learning_rate)
    return model


def _fit(model: keras.Model, train: Any, valid: Any, **kwargs: Any) -> keras.callbacks.History:
    if isinstance(train, tuple):
        if len(train) != 2:
            raise ValueError(f"`train` must be an (x, y) pair; received a tuple of {len(train)}.")
        return model.fit(train[0], train[1], validation_data=valid, **kwargs)
    return model.fit(train, validation_data=valid, **kwargs)


def _compile(model: keras.Model, optimizer: Any, loss: Any, metrics: Any,
             **kwargs: Any) -> None:
    """`compile_recipe` for `fine_tune`; `metrics=None` means "auto", or none if unknown."""
    try:
        compile_recipe(model, optimizer, loss=loss,
                       metrics="auto" if metrics is None else metrics, **kwargs)
    except ValueError as error:
        if "loss='auto'" in str(error):
            raise ValueError(f"fine_tune: {error} (`fine_tune(..., loss=...)`)") from error
        if metrics is not None or "metrics='auto'" not in str(error):
            raise
        compile_recipe(model, optimizer, loss=loss, metrics=None, **kwargs)


def fine_tune(
    model: keras.Model,
    train: Any,
    valid: Any = None,
    *,
    head_epochs: int = 4,
    epochs: int = 16,
    learning_rate: float | None = None,
    fine_tune_learning_rate: float | None = None,
    until: int | str = -1,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    loss: Any = None,
    metrics: Any = None,
    keep_batch_norm_frozen: bool = True,
    batch_size: int | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int | str = 0,
) -> keras.callbacks.History:
    """Train the head on frozen reused layers, then everything with a lower learning rate.

    Phase 1 (lecture 001): freeze every layer below `until`, train
    `head_epochs` epochs. Phase 2: unfreeze, recompile with
    `fine_tune_learning_rate` (default: the phase-1 rate / 10) and train
    `epochs` more epochs (the recompiled optimizer starts afresh: a
    learning-rate schedule restarts at step 0 in phase 2). Both phases go
    into one `History` whose epochs keep counting (0 .. head_epochs +
    epochs - 1); `history.phases` maps each phase to its epoch range.

    Example:

    ```python
    model_b = reuse_pretrained(model_a, head="binary")
    history = fine_tune(model_b, split.b.train, split.b.valid, head_epochs=4, epochs=16)
    history.history["val_accuracy"][-1]
    ```

    Args:
        model: model B (e.g. from `reuse_pretrained`); compiled or not.
        train: `(x, y)` or a dataset accepted by `fit`.
        valid: validation `(x, y)` or dataset, or `None`.
        head_epochs: epochs of phase 1 (>= 0).
        epochs: epochs of phase 2 (>= 0).
        learning_rate: phase-1 rate; `None` keeps a compiled model's rate
            (1e-3 for a model compiled here).
        fine_tune_learning_rate: phase-2 rate; `None`: phase-1 rate / 10.
        until: layers below this index or name are frozen in phase 1.
        optimizer: used only when `model` is not compiled (`compile_recipe`).
        loss: the loss to train with; `None` keeps a compiled model's loss,
            or infers it from the head's task (`compile_recipe`). Needed for
            a head that implies no loss (logits, a feature extractor).
        metrics: the metrics; `None` keeps a compiled model's metrics, or
            picks them from the loss or the head's task (none when neither
            tells).
        keep_batch_norm_frozen: BN layers stay in inference mode in phase 2
            (Keras transfer-learning guide).
        batch_size: passed to `fit`.
        callbacks: passed to both `fit` calls.
        verbose: passed to `fit`.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; received {type(model).__name__}.")
    check_non_negative("head_epochs", head_epochs, integer=True)
    check_non_negative("epochs", epochs, integer=True)
    if head_epochs + epochs == 0:
        raise ValueError("`head_epochs` and `epochs` are both 0: nothing to train.")
    for argument, value in (("learning_rate", learning_rate),
                            ("fine_tune_learning_rate", fine_tune_learning_rate)):
        if value is not None:
            check_positive(argument, value)
    top = layer_index(model, until, "until", allow_end=True)
    compiled = getattr(model, "compiled", False) and model.optimizer is not None
    if top:
        freezing.freeze(model, until=top, recompile=False)
    if top < len(model.layers):
        freezing.unfreeze(model, start=top, recompile=False)
    if compiled:
        recompile(model, learning_rate=learning_rate)
        if loss is not None or metrics is not None:
            _compile(model, model.optimizer, loss if loss is not None else model.loss, metrics,
                     steps_per_execution=model.steps_per_execution)
    else:
        rate_kwargs = {"learning_rate": learning_rate or DEFAULT_LEARNING_RATE} if isinstance(
            optimizer, str) else {}
        _compile(model, optimizer, "auto" if loss is None else loss, metrics, **rate_kwargs)
    rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    fit_kwargs = {"batch_size": batch_size, "callbacks": callbacks, "verbose": verbose}
    combined = keras.callbacks.History()
    combined.epoch = []
    histories = []
    if head_epochs:
        histories.append(_fit(model, train, valid, epochs=head_epochs, **fit_kwargs))
    if epochs:
        fine_rate = fine_tune_learning_rate or rate * FINE_TUNE_RATE_FACTOR
        freezing.unfreeze(model, learning_rate=fine_rate,
                          keep_batch_norm_frozen=keep_batch_norm_frozen)
        histories.append(_fit(model, train, valid, initial_epoch=head_epochs,
                              epochs=head_epochs + epochs, **fit_kwargs))
    for history in histories:
        for key, values in history.history.items():
            combined.history.setdefault(key, []).extend(values)
        combined.epoch.extend(history.epoch)
    combined.set_model(model)
    combined.params = histories[-1].params
    combined.phases = {
        "head": range(0, head_epochs),
        "fine_tune": range(head_epochs, head_epochs + epochs),
    }
    return combined
