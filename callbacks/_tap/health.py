"""The criterion of `VanishingGradientDetector`: gradients relative to weights, per layer.

A raw gradient norm (or per-element RMS) is not comparable across layer types:
a conv kernel's gradient sums over every spatial position, an embedding table's
only over the rows a batch touches, a recurrent kernel's over every time step.
What is comparable is the gradient relative to the weights it updates,
`r = ||g|| / ||w||` (the relative change an SGD step of rate 1 would make): it is
invariant to the layer's size and to the scale of its initializer, and a healthy
network keeps it within an order of magnitude or so from its first layer to its
last (measured on the corpus of client models in `tests/corpus.py`: the ratio
first/last hidden layer stays within [0.03, 15]; lecture 001's sick networks
give 1e-6 (sigmoid + Glorot, 10 layers), 1e-13 (20 layers) and 2e3 (tanh with
N(0, 1) kernels)).

* Units are the model's own top-level layers (a sub-model's layers for a model
  made of models, e.g. a GAN); a unit's `r` pools its kernels (trainable
  variables with 2 or more dimensions: Dense, Conv, depthwise, recurrent,
  attention kernels). Biases and normalization scales (1-D) count in the global
  norm and the non-finite check only.
* Embedding tables are left out of the ratio: their gradient lives on the rows
  of the batch's tokens, and the rest of the table has none, so `||g|| / ||W||`
  depends on the vocabulary size, not on the health of the network.
* Output layers (those producing the model's outputs, or the last unit of a
  model without a layer graph) are left out: they are often initialized small
  on purpose, and a multi-output model has several of them. In a model made of
  models (a GAN) the ratio is taken within the sub-model with the most hidden
  layers: a generator's and a discriminator's layers are not one chain.
* Weight norms are read from Python at the detector's check points (train
  begin, each epoch end, every `drain_interval` steps), never per step.

Remedies are chosen from what the model already does (activations,
initializers, BatchNormalization, recurrent cells, clipping, learning rate).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np

from .. import _keras_internals
from .._optimizers import inner_optimizer

_SATURATING = ("sigmoid", "tanh", "hard_sigmoid", "softsign")
_GATED = (keras.layers.LSTM, keras.layers.GRU, keras.layers.LSTMCell, keras.layers.GRUCell)


@dataclasses.dataclass
class ModelFacts:
    """What the detector knows about one model and its trainable variables."""

    units: list[tuple[str, list[int]]]  # hidden units in model order: (layer name, kernel indices)
    unit_of: list[str]  # per variable: the name of its layer
    activations: dict[str, str]  # layer name -> hidden activation name
    initializers: dict[str, str]  # layer name -> kernel initializer description
    batch_norm: bool
    simple_rnn: list[str]
    clipping: bool
    learning_rate: float | None
    mixed_precision: bool


def _name_of(function: Any) -> str:
    name = getattr(function, "__name__", None) or type(function).__name__
    return str(name).lower()


def _initializer(layer: keras.layers.Layer) -> str | None:
    init = getattr(layer, "kernel_initializer", None)
    if init is None:
        return None
    config = {k: v for k, v in init.get_config().items() if k == "stddev" or k == "scale"}
    args = ", ".join(f"{k}={v:g}" for k, v in config.items() if isinstance(v, (int, float)))
    return f"{type(init).__name__}({args})"


def _top_units(model: keras.Model) -> list[tuple[str, keras.layers.Layer]]:
    """The model's layers, descending one level into layers that are models themselves."""
    units: list[tuple[str, keras.layers.Layer]] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model) and layer.layers:
            units += [(f"{layer.name}/{inner.name}", inner) for inner in layer.layers]
        else:
            units.append((layer.name, layer))
    return units


def _graph_outputs(model: keras.Model) -> list[Any]:
    """The model's symbolic outputs (empty for a model without a layer graph)."""
    try:
        return keras.tree.flatten(model.outputs) or []
    except (AttributeError, ValueError, TypeError):
        return []


def _output_layers(model: keras.Model) -> set[int]:
    """Ids of the layers producing the model's outputs (of each sub-model without a graph)."""
    outputs = _graph_outputs(model)
    if not outputs:
        subs = [layer for layer in model.layers if isinstance(layer, keras.Model)]
        return set().union(*(_output_layers(sub) for sub in subs)) if subs else set()
    layers = set()
    for tensor in outputs or []:
        history = _keras_internals.producer(tensor)
        if history is not None:
            layers.add(id(history[0]))
    return layers


def describe(model: keras.Model, variables: list[Any]) -> ModelFacts:
    """Collect the facts about `model` that the criterion and the remedies need."""
    index = {id(v): i for i, v in enumerate(variables)}
    unit_of = [""] * len(variables)
    outputs = _output_layers(model)
    kernels: dict[str, list[int]] = {}
    order: list[str] = []
    output_units: set[str] = set()
    activations: dict[str, str] = {}
    initializers: dict[str, str] = {}
    batch_norm, simple_rnn = False, []
    for name, layer in _top_units(model):
        embedding_vars = set()
        subs = _keras_internals.sublayers(layer)
        gated = any(isinstance(sub, _GATED) for sub in subs)  # tanh by design: not a remedy
        for sub in subs:
            if isinstance(sub, keras.layers.Embedding):
                embedding_vars |= {id(v) for v in sub.trainable_variables}
            if isinstance(sub, (keras.layers.BatchNormalization, keras.layers.LayerNormalization,
                                keras.layers.GroupNormalization)):
                batch_norm = batch_norm or isinstance(sub, keras.layers.BatchNormalization)
            if isinstance(sub, keras.layers.SimpleRNN):
                simple_rnn.append(name)
            activation = getattr(sub, "activation", None)
            if activation is not None and id(sub) not in outputs and not gated:
                activations.setdefault(name, _name_of(activation))
            init = _initializer(sub)
            if init is not None:
                initializers.setdefault(name, init)
        if id(layer) in outputs:
            output_units.add(name)
        for variable in layer.trainable_variables:
            i = index.get(id(variable))
            if i is None:
                continue
            unit_of[i] = name
            if len(variable.shape) >= 2 and id(variable) not in embedding_vars:
                if name not in kernels:
                    order.append(name)
                kernels.setdefault(name, []).append(i)
    if not outputs and order:
        output_units.add(order[-1])  # no layer graph: the last unit is taken as the output
    hidden = [name for name in order if name not in output_units]
    chain = hidden
    if not _graph_outputs(model):
        # a model made of models (a GAN): compare within the sub-model with most hidden
        # layers (a model with a graph, e.g. a backbone plus a head, is one chain)
        chains: dict[str, list[str]] = {}
        for name in hidden:
            chains.setdefault(name.split("/")[0] if "/" in name else "", []).append(name)
        chain = max(chains.values(), key=len) if chains else []
    units = [(name, kernels[name]) for name in chain]
    optimizer = getattr(model, "optimizer", None)
    inner = inner_optimizer(optimizer)
    clipping = any(getattr(inner, attr, None) is not None
                   for attr in ("clipnorm", "clipvalue", "global_clipnorm"))
    try:
        learning_rate = float(keras.ops.convert_to_numpy(inner.learning_rate))
    except (AttributeError, TypeError, ValueError):
        learning_rate = None
    return ModelFacts(units, unit_of, activations, initializers, batch_norm, simple_rnn,
                      clipping, learning_rate, inner is not optimizer)


def weight_norms(variables: list[Any], facts: ModelFacts) -> np.ndarray:
    """Per hidden unit: the L2 norm of its kernels (one read per kernel).

    The sum of squares is one float32 BLAS dot product per kernel, with no
    float64 copy: about 50 times faster than `np.square(w64).sum()` on a
    784x300 kernel, at a relative error of about 1e-6 (the criterion's
    thresholds are powers of ten apart); float64 where float32 overflows or
    underflows.
    """
    norms = []
    for _, indices in facts.units:
        total = 0.0
        for i in indices:
            flat = np.ravel(keras.ops.convert_to_numpy(variables[i])).astype(np.float32,
                                                                             copy=False)
            value = float(np.dot(flat, flat))
            if not np.isfinite(value) or (value == 0.0 and flat.any()):  # float32 range
                value = float(np.square(flat, dtype=np.float64).sum())
            total += value
        norms.append(np.sqrt(total))
    return np.asarray(norms, dtype=np.float64)


def relative(squared: np.ndarray, facts: ModelFacts, norms: np.ndarray) -> np.ndarray:
    """Rows of per-unit `||g|| / ||w||` from rows of squared gradient norms (NaN: no weights)."""
    if not facts.units:
        return np.zeros((len(squared), 0))
    grads = np.column_stack([np.sqrt(squared[:, idx].sum(axis=1)) for _, idx in facts.units])
    with np.errstate(divide="ignore", invalid="ignore"):
        usable = (norms > 0) & np.isfinite(norms)  # diverged weights say nothing
        return np.where(usable, grads / np.where(usable, norms, 1.0), np.nan)


def remedies(kind: str, facts: ModelFacts, where: list[str]) -> list[str]:
    """The lectures' remedies that fit this model and finding (most specific first)."""
    found: list[str] = []
    saturating = sorted({a for n, a in facts.activations.items() if a in _SATURATING})
    large_init = [n for n, d in facts.initializers.items()
                  if d.startswith("RandomNormal") or d.startswith("RandomUniform")]
    if kind == "vanishing":
        if saturating:
            layers = [n for n, a in facts.activations.items() if a in _SATURATING]
            found.append(
                f"a non-saturating activation (ELU, leaky ReLU, ReLU) with He initialization "
                f"(or SELU with LeCun initialization) instead of {'/'.join(saturating)} in "
                f"{_few(layers)}")
        if facts.simple_rnn:
            found.append(f"an LSTM or GRU cell instead of SimpleRNN ({_few(facts.simple_rnn)})")
        if not facts.batch_norm:
            found.append("BatchNormalization between the hidden layers")
        if not saturating and not facts.simple_rnn:
            found.append("residual (skip) connections or fewer layers between "
                         f"{where[0]} and {where[-1]}")
    else:
        if large_init and kind == "exploding":
            found.append(
                f"the initialization that matches the activation (Glorot for tanh/sigmoid, He "
                f"for ReLU-family, LeCun for SELU) instead of {facts.initializers[large_init[0]]} "
                f"in {_few(large_init)}")
        if facts.simple_rnn:
            found.append(f"an LSTM or GRU cell (or a recurrent initializer of gain 1) instead of "
                         f"the SimpleRNN in {_few(facts.simple_rnn)}")
        rate = f" (now {facts.learning_rate:.3g})" if facts.learning_rate is not None else ""
        found.append(f"a lower learning rate{rate}")
        if not facts.clipping:
            found.append("gradient clipping (clipnorm / clipvalue / global_clipnorm on the "
                         "optimizer)")
        if kind == "non_finite":
            found.append("inputs and labels without NaN/Inf (check the data)")
            if facts.mixed_precision:
                found.append("float32 for the layers that overflow in float16")
        elif not facts.batch_norm:
            found.append("BatchNormalization between the hidden layers")
    return found


def _few(names: list[str]) -> str:
    names = list(dict.fromkeys(names))
    return ", ".join(names) if len(names) <= 4 else f"{', '.join(names[:3])}, ... ({len(names)})"


@dataclasses.dataclass
class Measures:
    """Per row: finite, global norm, per-unit relative gradients, their ratio, lowest RMS."""

    finite: np.ndarray
    global_norm: np.ndarray
    relative: np.ndarray
    ratio: np.ndarray
    lowest_rms: np.ndarray


def measure(squared: np.ndarray, facts: ModelFacts, norms: np.ndarray,
            sizes: list[int]) -> Measures:
    """What the criterion looks at, for rows of squared gradient norms (vectorized)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        finite = np.isfinite(squared).all(axis=1)
        global_norm = np.sqrt(squared.sum(axis=1))
        rel = relative(squared, facts, norms)
        nan = np.full(len(squared), np.nan)
        ratio = rel[:, 0] / rel[:, -1] if len(facts.units) >= 2 else nan
        lowest_rms = nan
        if facts.units:
            first = facts.units[0][1]
            lowest_rms = np.sqrt(squared[:, first].sum(axis=1) / sum(sizes[i] for i in first))
    return Measures(finite, global_norm, rel, ratio, lowest_rms)


def summarize(summary: dict[str, Any], ratio: np.ndarray, global_norm: np.ndarray) -> None:
    """Keep the extremes of what was measured on the finite checked steps."""
    summary["checks"] += len(global_norm)
    for key, values, pick in (("ratio_min", ratio, np.fmin), ("ratio_max", ratio, np.fmax),
                              ("global_norm_max", global_norm, np.fmax)):
        values = values[~np.isnan(values)]
        if len(values):
            summary[key] = float(pick(summary[key], pick.reduce(values)))


def finding_info(squared: np.ndarray, relative: np.ndarray, facts: ModelFacts,
                 names: list[str]) -> dict[str, Any]:
    """Details of one row for a finding, in the model's layer names."""
    info: dict[str, Any] = {"global_norm": float(np.sqrt(squared.sum()))}
    info["relative"] = {name: float(r) for (name, _), r in zip(facts.units, relative,
                                                               strict=False)}
    if facts.units:
        info["lower"], info["lower_relative"] = facts.units[0][0], float(relative[0])
    if len(facts.units) >= 2:
        info["upper"], info["upper_relative"] = facts.units[-1][0], float(relative[-1])
        with np.errstate(divide="ignore", invalid="ignore"):
            info["ratio"] = float(relative[0] / relative[-1])
    if not np.isfinite(squared).all():
        bad = [facts.unit_of[i] or names[i] for i, s in enumerate(squared) if not np.isfinite(s)]
        info["non_finite_layers"] = list(dict.fromkeys(bad))
        info["non_finite_variables"] = [
            n for n, s in zip(names, squared, strict=False) if not np.isfinite(s)]
    return info


def describe_finding(kind: str, where: str, info: dict[str, Any], max_norm: float,
                     min_rms: float) -> str:
    """The first sentence of a finding's message."""
    if kind == "non_finite":
        return (f"non-finite gradients (NaN/Inf) {where} in layer(s) "
                f"{', '.join(info['non_finite_layers']) or 'the global norm'}")
    if "ratio" in info and not (kind == "exploding" and info["global_norm"] > max_norm):
        return (f"{kind} gradients {where}: relative gradient ||g||/||w|| of layer "
                f"{info['lower']!r} is {info['ratio']:.2g} x that of layer {info['upper']!r} "
                f"({info['lower_relative']:.3g} vs {info['upper_relative']:.3g}; "
                f"global norm {info['global_norm']:.3g})")
    if kind == "exploding":
        return (f"exploding gradients {where}: global gradient norm "
                f"{info['global_norm']:.3g} > max_norm {max_norm:g}")
    return (f"vanishing gradients {where}: the gradient of layer {info.get('lower')!r} is "
            f"zero (RMS below min_rms {min_rms:g})")
