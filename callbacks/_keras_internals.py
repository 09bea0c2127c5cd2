"""The one module that touches private members of Keras objects and patches Keras methods.

Everything else in the package (`callbacks` and `recipes` alike) uses Keras's
public API and comes here for what that API does not offer. Each private
member used below is listed in `PRIVATE_MEMBERS` with the reason no public API
serves; `tests/test_keras_internals.py` checks that every one of them exists in
the installed Keras (on a real model, layer, tensor and optimizer) and that no
other module of the package touches a private Keras member or patches a Keras
method, so a Keras upgrade that renames one fails there, in one place.

Patches are instance attributes (`Patches`), written to the instance's
`__dict__` (no Keras attribute tracking) and undone in reverse order; nothing
here changes a Keras class.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import keras

PRIVATE_MEMBERS: dict[str, str] = {
    "KerasTensor._keras_history":
        "the layer (and the call of it) that produced a symbolic tensor: Keras 3 has no "
        "public accessor (`Model.get_layer` finds a layer by name or index only)",
    "Layer._inbound_nodes":
        "the calls of a layer in a functional graph, with their input tensors and parent "
        "calls: the public `layer.input` gives the first call's inputs only, not the layers "
        "that made them, nor how often the layer is called",
    "Layer._outbound_nodes":
        "the calls that consume a layer's output (its children in the graph): no public "
        "accessor",
    "Layer._flatten_layers":
        "every layer nested in a layer: `Model.layers` lists a model's direct layers only "
        "and a plain `Layer` has no public list of its sublayers",
    "Layer._trainable_variables":
        "the variables a layer trains when unfrozen: freezing sets `variable.trainable = "
        "False`, after which the public `non_trainable_variables` no longer tells them from "
        "statistics such as BatchNormalization's moving mean",
    "Model._compile_config":
        "the `loss_weights` given to `compile`: `get_compile_config()` serializes every "
        "compile argument and raises on a lambda loss",
    "Model._get_metrics_result_or_logs":
        "the epoch logs before the first callback sees them: wrapped so that every callback, "
        "wherever it sits in the list, sees the per-variable gradient norms",
    "Optimizer._learning_rate":
        "the learning-rate schedule object: the public `learning_rate` evaluates it and "
        "`get_config()` serializes it (deserializing fails for an unregistered schedule)",
    "Optimizer._variables":
        "the list behind `optimizer.variables`: state a JAX step must carry (the gradient "
        "tap's ring, a scheduled hyper-parameter) joins it for one fit and leaves again "
        "(`add_variable` has no inverse)",
    "Optimizer._backend_update_step":
        "JAX and torch: the one call that receives the gradients the update applies (after "
        "loss-scale unscaling, gradient accumulation and clipping) with their variables; the "
        "public `apply` receives them before that arithmetic",
    "Optimizer._all_reduce_sum_gradients":
        "TensorFlow: the same gradients after the cross-replica sum (under `tf.distribute` "
        "Keras clips per replica, then sums), with their variables",
}
"""Each private Keras member this module uses (`Owner._member`) and why no public API serves."""

PATCHED_METHODS: dict[str, str] = {
    "Model.train_step": "adds the global gradient norm to the step logs",
    "Model.make_train_function": "drops a gradient hook left by a fit aborted before "
                                 "`on_train_end`",
    "Optimizer.apply": "marks that this optimizer took the step (a LossScaleOptimizer may "
                       "skip its inner optimizer's update)",
    "Optimizer.save_own_variables": "leaves the variables of `attach_variables` out of "
                                    "checkpoints",
    "Optimizer.load_own_variables": "the same when a checkpoint is loaded during a fit",
    "Optimizer.get_config": "reports a scheduled hyper-parameter as the float it stands for",
}
"""Each public Keras method patched (on an instance, for one fit) and what for."""

EPOCH_LOGS = "_get_metrics_result_or_logs"
"""The model method that builds the epoch logs (see `PRIVATE_MEMBERS`)."""


# ------------------------------------------------------------------ patches


class Patches:
    """Instance attributes put over Keras methods for a while, undone in reverse order."""

    _MISSING = object()

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        """Replace `owner.<name>` by `make(the current owner.<name>)` on the instance."""
        self.put(owner, name, make(getattr(owner, name)))

    def put(self, owner: Any, name: str, value: Any) -> None:
        """Set `owner.<name> = value` on the instance, bypassing Keras's attribute tracking."""
        self._saved.append((owner, name, owner.__dict__.get(name, self._MISSING)))
        owner.__dict__[name] = value

    def undo(self) -> None:
        """Restore every attribute put, last first."""
        for owner, name, previous in reversed(self._saved):
            if previous is self._MISSING:
                owner.__dict__.pop(name, None)
            else:
                owner.__dict__[name] = previous
        self._saved.clear()


def set_untracked(owner: Any, name: str, value: Any) -> None:
    """`owner.<name> = value` without Keras's tracking (an optimizer would track a variable)."""
    object.__setattr__(owner, name, value)


# ------------------------------------------------------------ functional graphs


def producer(tensor: Any) -> tuple[Any, int, int] | None:
    """`(layer, call index, output index)` that made a symbolic tensor (None: not a graph's)."""
    history = getattr(tensor, "_keras_history", None)
    return None if history is None else (history[0], history[1], history[2])


def calls(layer: Any) -> list[Any]:
    """The calls of `layer` in functional graphs (Keras `Node`s), in call order."""
    return list(layer._inbound_nodes)


def consumers(layer: Any) -> list[Any]:
    """The calls (Keras `Node`s) that take an output of `layer` as input."""
    return list(layer._outbound_nodes)


# ------------------------------------------------------------------- layers


def sublayers(layer: Any) -> list[Any]:
    """`layer` and every layer nested in it, depth first."""
    return list(layer._flatten_layers(include_self=True))


def trainable_when_unfrozen(model: Any) -> list[Any]:
    """The model's variables that its layers train when unfrozen, in `model.weights` order."""
    created = {id(v) for layer in sublayers(model) for v in layer._trainable_variables}
    return [v for v in model.weights if v.trainable or id(v) in created]


def compile_loss_weights(model: Any) -> Any:
    """The `loss_weights` the model was compiled with (None if none)."""
    config = getattr(getattr(model, "_compile_config", None), "config", None) or {}
    return config.get("loss_weights")


# ---------------------------------------------------------------- optimizers


def on_applied_gradients(patches: Patches, optimizer: Any,
                         callback: Callable[[list[Any], list[Any]], None]) -> None:
    """Call `callback(grads, variables)` with the gradients each update of `optimizer` applies.

    They are the gradients after loss-scale unscaling, gradient accumulation
    (their mean, on the update steps) and clipping, and on TensorFlow after
    the cross-replica sum; the variables are Keras variables, or on
    TensorFlow the `tf.Variable`s behind them. Runs inside the traced step:
    on TensorFlow and torch on the update steps only; on JAX, under gradient
    accumulation, on every step (Keras then keeps the optimizer's variables
    of the update steps only).

    Args:
        patches: where the hook is recorded (undone with `patches.undo()`).
        optimizer: the optimizer that updates (an inner optimizer, not a
            LossScaleOptimizer).
        callback: called with the lists of gradients and variables.
    """
    if keras.backend.backend() == "tensorflow":
        def make(original: Callable) -> Callable:
            def _all_reduce_sum_gradients(grads_and_vars: Any) -> Any:
                reduced = original(grads_and_vars)
                callback([g for g, _ in reduced], [v for _, v in reduced])
                return reduced

            return _all_reduce_sum_gradients

        patches.wrap(optimizer, "_all_reduce_sum_gradients", make)
        return

    def make(original: Callable) -> Callable:  # noqa: F811 (one per backend)
        def _backend_update_step(grads: Any, trainable_variables: Any, learning_rate: Any) -> Any:
            callback(list(grads), list(trainable_variables))
            return original(grads, trainable_variables, learning_rate)

        return _backend_update_step

    patches.wrap(optimizer, "_backend_update_step", make)


def learning_rate_setting(optimizer: Any) -> Any:
    """What the optimizer was given as its rate: a variable, a schedule or a callable."""
    return optimizer._learning_rate


# inner optimizer -> (its attached variables, the patches that hide them from checkpoints)
_ATTACHED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def attach_variables(chain: list[Any], variables: list[Any]) -> None:
    """Put `variables` into `chain[-1].variables`, left out of every checkpoint of `chain`.

    A compiled JAX step is a pure function of the model's, the optimizer's and
    the metrics' variables; any other variable is a constant frozen at
    tracing. Attached variables ride in `optimizer.variables`, so the step
    carries them as state, while `save_own_variables` / `load_own_variables`
    of every optimizer in `chain` (a LossScaleOptimizer saves its inner
    optimizer's variables too) see the optimizer's own variables only, so a
    `.keras` file or a `BackupAndRestore` checkpoint keeps its layout.
    Undo with `detach_variables`.

    Args:
        chain: `[optimizer, its inner optimizer, ...]` (see `optimizer_chain`).
        variables: the variables to attach.
    """
    owner = chain[-1]
    attached, patches = _ATTACHED.setdefault(owner, ([], Patches()))
    new = [v for v in variables if all(v is not a for a in attached)]
    if not attached and new:
        for optimizer in chain:
            for name in ("save_own_variables", "load_own_variables"):
                patches.wrap(optimizer, name, lambda method: _without(owner, attached, method))
    attached.extend(new)
    for variable in new:
        owner._variables.append(variable)


def detach_variables(optimizer: Any, variables: list[Any]) -> None:
    """Take `variables` (attached with `attach_variables`) out of `optimizer` again."""
    attached, patches = _ATTACHED.get(optimizer, ([], None))
    ours = {id(v) for v in variables}
    # by index, last first: on TensorFlow the list is a tracking ListWrapper, whose
    # slice assignment compares the variables with `==`
    for index in reversed([i for i, v in enumerate(optimizer._variables) if id(v) in ours]):
        del optimizer._variables[index]
    attached[:] = [v for v in attached if id(v) not in ours]
    if patches is not None and not attached:
        patches.undo()
        _ATTACHED.pop(optimizer, None)


def _without(owner: Any, attached: list[Any], method: Callable[[Any], Any]) -> Callable:
    def run(store: Any) -> Any:
        kept = owner._variables  # put back as the very object (a ListWrapper on TensorFlow)
        ours = {id(v) for v in attached}
        object.__setattr__(owner, "_variables", [v for v in kept if id(v) not in ours])
        try:
            return method(store)
        finally:
            object.__setattr__(owner, "_variables", kept)

    return run
