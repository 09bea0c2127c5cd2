"""ParamScheduler and the named curves (issue 15, items 1 and acceptance 1; issue 10 item 4)."""

from __future__ import annotations

import copy
import math
import warnings

import keras
import numpy as np
import pytest

from keras_recipes.callbacks import ParamScheduler, PowerScheduling, TrainingOptimizerWarning
from keras_recipes.callbacks.curves import (
    Chain,
    Cosine,
    Exponential,
    Linear,
    OneMinus,
    Piecewise,
    Power,
    one_cycle,
)
from keras_recipes.schedules import PowerSchedule

N, BATCH = 32, 8  # 4 steps per epoch
STEPS = N // BATCH


@keras.saving.register_keras_serializable(package="tests")
def user_rate(step):
    """A user's learning-rate curve: halves every 3 steps."""
    return 0.05 * 0.5 ** (step // 3)


@keras.saving.register_keras_serializable(package="tests")
def user_momentum(step):
    """A user's momentum curve: 0.5, 0.6, ... up to 0.9."""
    return min(0.9, 0.5 + 0.1 * step)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype("float32")
    return x, y


def _linear_model(optimizer):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _fit(model, callbacks, epochs, initial_epoch=0):
    x, y = _data()
    return model.fit(x, y, batch_size=BATCH, epochs=epochs, initial_epoch=initial_epoch,
                     shuffle=False, callbacks=callbacks, verbose=0)


def _reference(w, b, steps, rate, momentum=lambda t: 0.0, weight_decay=lambda t: 0.0):
    """NumPy SGD (Keras's update rule: decay, then v = m v - lr g, w += v) on MSE."""
    x, y = _data()
    w, b = w.astype("float64"), b.astype("float64")
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    for t in range(steps):
        k = t % STEPS
        xb, yb = x[k * BATCH:(k + 1) * BATCH], y[k * BATCH:(k + 1) * BATCH]
        err = xb @ w + b - yb
        gw, gb = 2 * xb.T @ err / BATCH, 2 * err.mean(axis=0)
        lr, m, wd = rate(t), momentum(t), weight_decay(t)
        w, b = w * (1 - wd * lr), b * (1 - wd * lr)
        vw, vb = m * vw - lr * gw, m * vb - lr * gb
        w, b = w + vw, b + vb
    return w, b


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(dict(logs or {}))


def test_user_functions_on_learning_rate_and_momentum_reach_the_compiled_step():
    model = _linear_model(keras.optimizers.SGD(0.01, momentum=0.5))
    w0, b0 = (v.copy() for v in model.get_weights())
    recorder = Recorder()
    scheduler = ParamScheduler({"learning_rate": user_rate, "momentum": user_momentum})
    _fit(model, [scheduler, recorder], 3)
    steps = 3 * STEPS
    assert [r["learning_rate"] for r in recorder.batches] == [user_rate(t) for t in range(steps)]
    assert [r["momentum"] for r in recorder.batches] == pytest.approx(
        [user_momentum(t) for t in range(steps)])
    expected = _reference(w0, b0, steps, user_rate, user_momentum)
    for got, want in zip(model.get_weights(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    constant = _reference(w0, b0, steps, user_rate, lambda t: 0.5)
    assert np.abs(model.get_weights()[0] - constant[0]).max() > 1e-3  # the momentum mattered


def test_weight_decay_schedule_reaches_the_compiled_step(capsys):
    decay = Linear(0.0, 0.5, steps=8)
    model = _linear_model(keras.optimizers.SGD(0.05, weight_decay=0.0))
    w0, b0 = (v.copy() for v in model.get_weights())
    history = _fit(model, [ParamScheduler({"weight_decay": decay}, verbose=1)], 3)
    assert history.history["weight_decay"] == [decay(3), decay(7), decay(11)]
    assert "Epoch 2: ParamScheduler weight_decay 0.25." in capsys.readouterr().out
    # Keras decays kernels and biases alike here (no exclusion list)
    expected = _reference(w0, b0, 3 * STEPS, lambda t: 0.05, weight_decay=decay)
    for got, want in zip(model.get_weights(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def _adam_scheduler():
    return ParamScheduler({"learning_rate": Cosine(0.05, 0.001, steps=12),
                           "beta_1": Linear(0.5, 0.95, steps=12)})


@pytest.fixture(scope="module")
def uninterrupted():
    model = _linear_model(keras.optimizers.Adam(0.01))
    history = _fit(model, [_adam_scheduler()], 4)
    return [w.copy() for w in model.get_weights()], history.history


def _assert_same(weights, expected):
    for a, b in zip(weights, expected, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fresh_instance", [False, True])
def test_resume_by_a_second_fit_is_exact(uninterrupted, fresh_instance):
    model = _linear_model(keras.optimizers.Adam(0.01))
    scheduler = _adam_scheduler()
    first = _fit(model, [scheduler], 2)
    second = _fit(model, [_adam_scheduler() if fresh_instance else scheduler], 4, initial_epoch=2)
    _assert_same(model.get_weights(), uninterrupted[0])
    for key in ("learning_rate", "beta_1"):
        assert first.history[key] + second.history[key] == uninterrupted[1][key]


class Interrupt(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 2 and batch == 1:
            raise RuntimeError("interrupted on purpose")


def test_resume_through_backup_and_restore_is_exact(uninterrupted, tmp_path):
    model = _linear_model(keras.optimizers.Adam(0.01))
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(RuntimeError, match="interrupted on purpose"):
        _fit(model, [backup, _adam_scheduler(), Interrupt()], 4)
    history = _fit(model, [backup, _adam_scheduler()], 4)
    assert len(history.history["loss"]) == 2
    _assert_same(model.get_weights(), uninterrupted[0])
    assert history.history["beta_1"] == uninterrupted[1]["beta_1"][2:]


def test_checkpoints_keep_their_layout_and_the_optimizer_config_reports_floats(tmp_path):
    model = _linear_model(keras.optimizers.Adam(0.01))
    _fit(model, [_adam_scheduler()], 1)
    state = model.optimizer.variables
    assert not any(v.name.startswith("scheduled_") for v in state)  # only during fit
    model.save(tmp_path / "m.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Skipping variable loading for optimizer" would fail
        loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.get_config()["beta_1"] == pytest.approx(Linear(0.5, 0.95, 12)(4))
    assert len(loaded.optimizer.variables) == len(state)
    for a, b in zip(loaded.optimizer.variables, state, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_config_round_trip_and_deepcopy():
    scheduler = ParamScheduler({
        "learning_rate": user_rate,
        "momentum": Chain([(4, Linear(0.95, 0.85, 4)), (0, OneMinus(Exponential(0.15, 0.05, 8)))]),
        "weight_decay": keras.optimizers.schedules.CosineDecay(0.01, 10),
    }, per="step", verbose=0)
    config = scheduler.get_config()
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(scheduler))
    assert type(restored) is ParamScheduler and restored.get_config() == config
    assert restored.schedules["learning_rate"] is user_rate
    assert restored.schedule_at(7) == pytest.approx(scheduler.schedule_at(7))
    _fit(_linear_model(keras.optimizers.SGD(0.01, momentum=0.9, weight_decay=0.0)),
         [scheduler], 1)
    clone = copy.deepcopy(scheduler)
    assert clone._model is None and clone._targets is None
    assert clone.get_config() == config
    with pytest.raises(TypeError, match="register_keras_serializable"):
        ParamScheduler({"learning_rate": lambda t: 0.1}).get_config()


def test_bad_names_fail_with_clear_errors():
    with pytest.raises(ValueError, match="layer attribute"):
        ParamScheduler({"dropout.rate": Linear(0.5, 0.1, 10)})
    with pytest.raises(TypeError, match="non-empty mapping"):
        ParamScheduler({})
    with pytest.raises(TypeError, match=r"schedules\['momentum'\]"):
        ParamScheduler({"momentum": 0.9})
    with pytest.raises(ValueError, match="no float hyper-parameter 'beta_2'"):
        _fit(_linear_model(keras.optimizers.SGD(0.01)), [ParamScheduler({"beta_2": user_rate})], 1)
    with pytest.raises(ValueError, match="weight_decay"):
        _fit(_linear_model(keras.optimizers.SGD(0.01)),
             [ParamScheduler({"weight_decay": user_rate})], 1)
    with pytest.raises(ValueError, match="momentum > 0"):
        _fit(_linear_model(keras.optimizers.SGD(0.01)),
             [ParamScheduler({"momentum": user_momentum})], 1)


class OwnOptimizerModel(keras.Model):
    """A custom train_step that trains with an optimizer of its own (GAN-style)."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.own = keras.optimizers.SGD(0.01)

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        x, y = data
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = keras.ops.mean((self(x) - y) ** 2)
        grads = tape.gradient(loss, self.trainable_variables)
        self.own.apply(grads, self.trainable_variables)
        return {"loss": loss}


@pytest.mark.tensorflow_only
def test_warns_once_when_model_optimizer_does_not_train():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the GAN-style step is written with tf.GradientTape")
    keras.utils.set_random_seed(0)
    model = OwnOptimizerModel()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    with pytest.warns(TrainingOptimizerWarning, match="took no step") as record:
        _fit(model, [PowerScheduling(s=10.0)], 2)
    assert len([w for w in record if w.category is TrainingOptimizerWarning]) == 1
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1)  # left alone


def test_curves():
    assert [Linear(0.0, 1.0, 4)(t) for t in (0, 2, 4, 9)] == [0.0, 0.5, 1.0, 1.0]
    assert Cosine(1.0, 0.0, 10)(5) == pytest.approx(0.5) and Cosine(1.0, 0.0, 10)(20) == 0.0
    assert Exponential(1e-4, 1.0, 4)(2) == pytest.approx(1e-2)
    assert [Piecewise([2, 5], [1.0, 0.5, 0.1])(t) for t in (0, 2, 3, 5, 6)] == [
        1.0, 1.0, 0.5, 0.5, 0.1]
    sched = PowerSchedule(0.05, 3.0, 0.5)
    assert [Power(0.05, 3.0, 0.5)(t) for t in range(5)] == [float(sched(t)) for t in range(5)]
    cycle = one_cycle(0.01, 0.1, 1e-5, total_steps=20, warmup_fraction=0.45)
    values = [cycle(t) for t in range(25)]
    assert int(np.argmax(values)) == 9 and values[18] == pytest.approx(0.01)
    assert values[19:] == [pytest.approx(1e-5)] * 6
    assert OneMinus(Exponential(0.5, 0.01, 2))(1) == pytest.approx(1 - math.sqrt(0.005))
    with pytest.raises(ValueError, match="`steps`"):
        Linear(0.0, 1.0, 0)
    with pytest.raises(ValueError, match="`values`"):
        Piecewise([1], [0.1])


def test_mixed_precision_skipped_steps_are_not_mistaken_for_an_idle_optimizer():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, dtype="mixed_float16"),
                              keras.layers.Dense(1, dtype="float32")])
    # a huge initial loss scale: the first steps overflow and are skipped
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(0.01, momentum=0.9), initial_scale=2.0**40)
    model.compile(optimizer=optimizer, loss="mse")
    recorder = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingOptimizerWarning)
        _fit(model, [ParamScheduler({"momentum": user_momentum}), recorder], 2)
    assert int(model.optimizer.iterations) < 2 * STEPS  # some steps were skipped
    assert "momentum" in recorder.batches[-1]
    assert float(model.optimizer.inner_optimizer.momentum) == pytest.approx(
        user_momentum(int(model.optimizer.iterations)))


class NoOptimizerStep(keras.Sequential):
    """A train_step that never uses `model.optimizer` (as a GAN's does), on either backend."""

    if keras.backend.backend() == "jax":
        def train_step(self, state, data):
            return {"loss": keras.ops.zeros(())}, state
    else:
        def train_step(self, data):
            return {"loss": keras.ops.zeros(())}


def test_warns_once_on_every_backend_when_the_step_ignores_model_optimizer():
    keras.utils.set_random_seed(0)
    model = NoOptimizerStep([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    scheduler = ParamScheduler({"learning_rate": user_rate, "beta_1": user_momentum})
    with pytest.warns(TrainingOptimizerWarning, match="learning_rate, beta_1 would change") as rec:
        history = _fit(model, [scheduler], 2)
    assert len([w for w in rec if w.category is TrainingOptimizerWarning]) == 1
    assert "learning_rate" not in history.history
    # the scheduled beta_1 left the optimizer's variables with the fit
    assert not any(v.name.startswith("scheduled_") for v in model.optimizer.variables)
