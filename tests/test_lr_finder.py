"""LRFinder and recipes.find_learning_rate (issue 4)."""

from __future__ import annotations

import copy

import keras
import numpy as np
import pytest

import keras_recipes as recipes
from keras_recipes import find_learning_rate
from keras_recipes.callbacks import LRFinder, LRFinderResult


def _state(model: keras.Model) -> list[np.ndarray]:
    variables = list(model.variables) + list(model.optimizer.variables)
    return [np.array(keras.ops.convert_to_numpy(v), copy=True) for v in variables]


def _small_model(optimizer: keras.optimizers.Optimizer, **compile_kwargs) -> keras.Model:
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(8, activation="elu"),
        keras.layers.BatchNormalization(),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=optimizer, loss="mse", **compile_kwargs)
    return model


def _regression(n: int = 256):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x.sum(axis=1, keepdims=True) + 0.1 * rng.normal(size=(n, 1))).astype("float32")


def test_sweep_restores_weights_and_optimizer_bit_identically(capsys):
    x, y = _regression()
    spe = 1 if keras.backend.backend() == "torch" else 4  # Keras's torch trainer takes only 1
    model = _small_model(keras.optimizers.Adam(1e-3), steps_per_execution=spe)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # the optimizer has state
    before = _state(model)
    result = find_learning_rate(model, x, y, batch_size=16, max_learning_rate=1.0, verbose=1)
    after = _state(model)
    assert len(before) == len(after)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    assert model.steps_per_execution == spe
    assert "/16" in capsys.readouterr().out  # Keras's own progress bar showed the sweep
    assert isinstance(result, LRFinderResult)
    assert len(result.learning_rates) == len(result.losses) == len(result.smoothed_losses) <= 16
    assert result.learning_rates[0] == pytest.approx(1e-7)
    assert np.all(np.diff(np.log(result.learning_rates)) > 0)  # exponential sweep
    ratios = result.learning_rates[1:] / result.learning_rates[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)
    assert result.suggested_learning_rate == pytest.approx(result.min_loss_learning_rate / 10)
    # training afterwards is exactly what it would have been without the sweep
    twin = _small_model(keras.optimizers.Adam(1e-3), steps_per_execution=spe)
    twin.fit(x, y, batch_size=32, epochs=1, verbose=0)
    for m in (model, twin):
        # On torch an unseeded Dropout draws from torch's global generator, which is not
        # model state (the sweep advanced it): same global seed for both. On TF and JAX the
        # Dropout's own SeedGenerator state is a model variable the sweep restored.
        keras.utils.set_random_seed(2)
        m.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_sweep_stops_early_when_the_loss_explodes():
    x, y = _regression(512)
    model = _small_model(keras.optimizers.SGD(1e-3))
    finder = LRFinder(min_learning_rate=1e-4, max_learning_rate=1e4)
    model.fit(x, y, batch_size=8, epochs=1, callbacks=[finder], verbose=0)
    result = finder.result
    assert result.stopped_early
    assert len(result.losses) < 512 // 8
    smoothed = result.smoothed_losses
    assert not np.isfinite(smoothed[-1]) or smoothed[-1] > 4 * np.min(smoothed)
    assert result.min_loss_learning_rate < result.learning_rates[-1]
    # never more than one epoch, even if asked for more
    finder = LRFinder(num_steps=10_000)
    with pytest.warns(UserWarning, match="more than one epoch"):
        model.fit(x, y, batch_size=64, epochs=3, callbacks=[finder], verbose=0)
    assert len(finder.result.losses) <= 512 // 64


def test_suggestion_is_within_10x_of_the_best_fixed_rate_on_digits():
    data = recipes.load_digits()
    keras.utils.set_random_seed(0)
    model = recipes.default_dnn(data.input_shape, data.n_classes)
    result = find_learning_rate(model, *data.train, batch_size=16, verbose=0)
    # Grid of fixed rates, 2 epochs each, from the same initial state (re-used model:
    # the traced train function is shared, which keeps this cheap).
    start = _state(model)
    variables = list(model.variables) + list(model.optimizer.variables)
    grid = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0]
    scores = {}
    for rate in grid:
        for variable, value in zip(variables, start, strict=True):
            variable.assign(value)
        model.optimizer.learning_rate = rate
        model.fit(*data.train, batch_size=32, epochs=2, verbose=0)
        loss = model.evaluate(*data.valid, verbose=0)[0]
        scores[rate] = loss if np.isfinite(loss) else np.inf
    best = min(scores, key=scores.get)
    table = ", ".join(f"{r:g}: {s:.3f}" for r, s in scores.items())
    ratio = result.suggested_learning_rate / best
    assert 0.1 <= ratio <= 10, (
        f"suggested {result.suggested_learning_rate:.3g} vs best fixed rate {best:g} "
        f"(validation loss after 2 epochs: {table}; steepest {result.steepest_learning_rate:.3g}, "
        f"min-loss {result.min_loss_learning_rate:.3g})"
    )


def test_rejects_a_schedule_and_bad_input():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.5)
    model = _small_model(keras.optimizers.SGD(schedule))
    x, y = _regression(64)
    with pytest.raises(ValueError, match="already a schedule"):
        find_learning_rate(model, x, y, verbose=0)
    with pytest.raises(ValueError, match="`max_learning_rate`"):
        LRFinder(min_learning_rate=1e-2, max_learning_rate=1e-2)
    with pytest.raises(ValueError, match="`max_learning_rate`"):
        find_learning_rate(model, x, y, min_learning_rate=1.0, max_learning_rate=0.1)
    with pytest.raises(ValueError, match="`smoothing`"):
        LRFinder(smoothing=1.0)
    with pytest.raises(ValueError, match="`divergence_factor`"):
        LRFinder(divergence_factor=1.0)
    with pytest.raises(ValueError, match="`method`"):
        LRFinder(method="valley")
    with pytest.raises(TypeError, match="`epochs`"):
        find_learning_rate(model, x, y, epochs=3)
    with pytest.raises(RuntimeError, match="compiled"):
        find_learning_rate(keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]), x, y)


def test_deepcopy_and_config():
    finder = LRFinder(min_learning_rate=1e-6, max_learning_rate=3.0, num_steps=8)
    clone = copy.deepcopy(finder)
    assert clone.get_config() == finder.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(finder))
    assert isinstance(restored, LRFinder) and restored.get_config() == finder.get_config()
    x, y = _regression(64)
    model = _small_model(keras.optimizers.SGD(0.01))
    model.fit(x, y, batch_size=4, epochs=1, callbacks=[finder], verbose=0)
    used = copy.deepcopy(finder)
    assert used._model is None and used.result is not None


def test_plot_lr_finder():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_recipes.plots import plot_lr_finder

    rates = np.logspace(-5, 0, 30)
    losses = 2.0 - np.tanh(np.linspace(0, 3, 30)) + np.linspace(0, 1, 30) ** 8 * 20
    result = LRFinderResult(rates, losses, losses, 1e-2, 1e-1, 3e-2, True)
    ax = plot_lr_finder(result, title="sweep")
    assert ax.get_xscale() == "log" and ax.get_title() == "sweep"
    assert ax.get_ylim()[1] < 20  # the explosion does not squash the plot
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:2] == ["batch loss", "smoothed loss"]
    assert any(label.startswith("suggested 0.01") for label in labels)
    with pytest.raises(TypeError, match="`result`"):
        plot_lr_finder(LRFinder())  # has not run
    plt.close("all")
