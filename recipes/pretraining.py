"""Greedy layer-wise unsupervised pretraining (lecture 001: "pre-treinamento não-supervisionado").

One shallow autoencoder per hidden layer: the first learns to reconstruct the
inputs, each next one the codes of the previous. The trained encoding layers,
stacked, form an encoder that `reuse_pretrained` or a new head turns into a
classifier trained on the few labelled samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from .callbacks._validation import check_non_negative, check_positive
from .defaults import canonical_activation, initializer_for
from .optimizers import make_optimizer


def greedy_layerwise_pretraining(
    x_unlabeled: Any,
    hidden: Sequence[int] = (128, 64),
    *,
    activation: str = "elu",
    epochs: int = 10,
    batch_size: int = 32,
    optimizer: str = "adam",
    learning_rate: float | None = None,
    noise: float = 0.0,
    loss: str = "mse",
    seed: int | None = None,
    verbose: int | str = 0,
    name: str = "pretrained_encoder",
) -> keras.Sequential:
    """Train one autoencoder per hidden layer, each on the codes of the previous one.

    Stage k is `Dense(hidden[k], activation)` followed by a linear
    reconstruction layer, fitted to reproduce its own inputs (the data for
    stage 1, the stage k - 1 codes after). The reconstruction layers are
    thrown away; the encoding layers, stacked, are returned as an uncompiled
    `Sequential` encoder (a `Flatten` comes first for inputs of rank > 1).
    Each stage's reconstruction loss per epoch is stored in
    `encoder.pretraining_losses` (one list per stage, first epoch first).

    Example:

    ```python
    encoder = greedy_layerwise_pretraining(x_all, hidden=(128, 64), epochs=10)
    classifier = reuse_pretrained(encoder, drop=0, head="multiclass:10", freeze=False)
    classifier.fit(x_few, y_few, epochs=30)
    ```

    Args:
        x_unlabeled: unlabeled samples, shape `(n, *input_shape)`.
        hidden: widths of the hidden layers, input side first.
        activation: activation of the encoding layers (initializer follows it).
        epochs: epochs per stage (> 0).
        batch_size: batch size (> 0).
        optimizer: optimizer name for `make_optimizer` (one per stage).
        learning_rate: its learning rate; the optimizer's default if `None`.
        noise: standard deviation of Gaussian input noise while training each
            stage (a denoising autoencoder), >= 0; 0 for none.
        loss: reconstruction loss (`"mse"`, `"mae"`, ...).
        seed: seed of the weight initializers and the noise.
        verbose: passed to `fit`.
        name: name of the returned encoder.
    """
    x = np.asarray(x_unlabeled, dtype="float32")
    if x.ndim < 2 or len(x) < 2:
        raise ValueError(
            "`x_unlabeled` must hold at least 2 samples, shape (n, *input_shape); received an "
            f"array of shape {x.shape}."
        )
    if isinstance(hidden, (int, str)) or not isinstance(hidden, Sequence) or not hidden:
        raise TypeError(f"`hidden` must be a non-empty sequence of widths; received {hidden!r}.")
    for units in hidden:
        check_positive("hidden", units, integer=True)
    check_positive("epochs", epochs, integer=True)
    check_positive("batch_size", batch_size, integer=True)
    check_non_negative("noise", noise)
    activation = canonical_activation(activation)
    input_shape = x.shape[1:]
    codes = x.reshape(len(x), -1)
    encoders: list[keras.layers.Dense] = []
    losses: list[list[float]] = []
    for stage, units in enumerate(hidden, start=1):
        stage_seed = None if seed is None else seed + stage
        init = keras.initializers.get(initializer_for(activation))
        init_config = {**init.get_config(), "seed": stage_seed}
        encoder_layer = keras.layers.Dense(
            int(units), activation=activation,
            kernel_initializer=init.__class__.from_config(init_config),
            name=f"pretrained_{stage}",
        )
        decoder_layer = keras.layers.Dense(
            codes.shape[1],
            kernel_initializer=keras.initializers.GlorotUniform(seed=stage_seed),
            name=f"reconstruction_{stage}",
        )
        layers: list[keras.layers.Layer] = [keras.Input(shape=(codes.shape[1],))]
        if noise:
            layers.append(keras.layers.GaussianNoise(float(noise), seed=stage_seed))
        autoencoder = keras.Sequential(
            [*layers, encoder_layer, decoder_layer], name=f"autoencoder_{stage}"
        )
        autoencoder.compile(optimizer=make_optimizer(optimizer, learning_rate), loss=loss)
        history = autoencoder.fit(
            codes, codes, epochs=int(epochs), batch_size=int(batch_size), shuffle=True,
            verbose=verbose,
        )
        losses.append([float(v) for v in history.history["loss"]])
        encoders.append(encoder_layer)
        codes = keras.ops.convert_to_numpy(
            keras.Sequential([keras.Input(shape=(codes.shape[1],)), encoder_layer]).predict(
                codes, batch_size=1024, verbose=0
            )
        )
    stack: list[keras.layers.Layer] = [keras.Input(shape=input_shape, name="features")]
    if len(input_shape) > 1:
        stack.append(keras.layers.Flatten(name="flatten"))
    encoder = keras.Sequential([*stack, *encoders], name=name)
    # Plain attribute (not tracked by Keras): the per-stage reconstruction losses.
    object.__setattr__(encoder, "pretraining_losses", losses)
    return encoder
