"""The LR finder never suggests nonsense silently (issue 10, item 6 and acceptance 6)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_recipes import find_learning_rate
from keras_recipes.callbacks import LRFinder


def _model(learning_rate=0.01):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    return model


def _repeated(n=320, batch=16):
    """Every batch the same, so the loss falls smoothly while the rate is sane."""
    rng = np.random.default_rng(0)
    xb = rng.normal(size=(batch, 4)).astype("float32")
    yb = (xb.sum(axis=1, keepdims=True) + 1.0).astype("float32")
    return np.tile(xb, (n // batch, 1)), np.tile(yb, (n // batch, 1))


def _weights(model):
    return [w.copy() for w in model.get_weights()]


def test_nan_in_x_is_an_error_that_says_where():
    x, y = _repeated()
    x[17, 2] = np.nan
    model = _model()
    with pytest.raises(ValueError, match=r"`x` holds 1 non-finite value\(s\).*index \(17, 2\)"):
        find_learning_rate(model, x, y, verbose=0)
    y[3, 0] = np.inf
    with pytest.raises(ValueError, match=r"`y` holds 1 non-finite"):
        find_learning_rate(model, np.nan_to_num(x), y, verbose=0)


def test_non_finite_loss_at_the_first_step_is_an_error_and_restores_the_model():
    x, y = _repeated()
    x[0, 0] = np.nan  # first batch (no shuffling): the callback alone sees only the loss
    model = _model()
    before = _weights(model)
    with pytest.raises(ValueError, match="first step is nan.*not the cause.*np.isfinite"):
        model.fit(x, y, batch_size=16, shuffle=False, epochs=1, verbose=0, callbacks=[LRFinder()])
    for a, b in zip(before, _weights(model), strict=True):
        np.testing.assert_array_equal(a, b)


def test_non_finite_loss_while_the_loss_falls_is_a_warning_that_says_where():
    x, y = _repeated()
    x[12 * 16, 0] = np.nan  # batch 12 of 20
    finder = LRFinder(min_learning_rate=1e-3, max_learning_rate=1e-1)
    with pytest.warns(UserWarning, match="at step 12 .*still falling.*np.isfinite"):
        _model().fit(x, y, batch_size=16, shuffle=False, epochs=1, verbose=0, callbacks=[finder])
    assert finder.result.stopped_early and "still falling" in finder.result.extra["warnings"][0]


def test_suggestion_at_the_low_edge_warns_and_proposes_a_wider_range():
    x, y = _repeated()
    with pytest.warns(UserWarning, match=r"low edge of the sweep \[1, 1000\].*"
                                         r"min_learning_rate=0.01"):
        result = find_learning_rate(_model(), x, y, batch_size=16, min_learning_rate=1.0,
                                    max_learning_rate=1000.0, verbose=0, shuffle=False)
    assert result.suggested_learning_rate < 1.0


def test_suggestion_at_the_high_edge_warns_and_proposes_a_wider_range():
    x, y = _repeated()
    with pytest.warns(UserWarning, match=r"high edge of the sweep \[0.0001, 0.01\].*"
                                         r"still falling.*max_learning_rate=1\b"):
        result = find_learning_rate(_model(), x, y, batch_size=16, min_learning_rate=1e-4,
                                    max_learning_rate=1e-2, verbose=0, shuffle=False)
    assert not result.stopped_early


def test_too_few_steps_is_an_error_naming_batch_size_and_the_sample_count():
    x, y = _repeated(256)
    with pytest.raises(ValueError, match=r"1 step\(s\) \(256 samples, batch_size=100000\).*"
                                         r"batch_size <= 25"):
        find_learning_rate(_model(), x, y, batch_size=100000, verbose=0)
    with pytest.raises(ValueError, match="num_steps=5"):
        find_learning_rate(_model(), x, y, num_steps=5, verbose=0)
    # the callback alone cannot see batch_size: it warns with the steps of the epoch
    with pytest.warns(UserWarning, match="sweep of 4 steps is too short"):
        _model().fit(x, y, batch_size=64, epochs=1, verbose=0, callbacks=[LRFinder()])


def test_find_learning_rate_takes_the_sweep_settings_and_defaults_from_lrfinder():
    import inspect

    own = set(inspect.signature(find_learning_rate).parameters)
    assert not own & {"min_learning_rate", "max_learning_rate", "smoothing", "method"}
    x, y = _repeated()
    with pytest.raises(ValueError, match="`smoothing`"):
        find_learning_rate(_model(), x, y, smoothing=1.0, verbose=0)
    with pytest.raises(TypeError, match="`restore`"):
        find_learning_rate(_model(), x, y, restore=False, verbose=0)
    result = find_learning_rate(_model(), x, y, batch_size=16, verbose=0, shuffle=False)
    assert result.learning_rates[0] == pytest.approx(LRFinder().min_learning_rate)
