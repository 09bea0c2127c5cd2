"""PowerScheduling, OneCycleScheduler, MomentumScheduling (callbacks/scheduling.py, momentum.py)."""

from __future__ import annotations

import copy

import keras
import numpy as np
import pytest

from keras_recipes.callbacks import MomentumScheduling, OneCycleScheduler, PowerScheduling
from keras_recipes.schedules import PowerSchedule

N, BATCH = 32, 8  # 4 steps per epoch


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype("float32")
    return x, y


def _model(optimizer: keras.optimizers.Optimizer, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


class Recorder(keras.callbacks.Callback):
    """Keeps the batch logs (placed after the callback under test)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[dict] = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(dict(logs or {}))


class Interrupt(keras.callbacks.Callback):
    """Raises in the middle of epoch `epoch` (after `batch` batches)."""

    def __init__(self, epoch: int, batch: int = 1) -> None:
        super().__init__()
        self.epoch, self.batch, self._current = epoch, batch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._current == self.epoch and batch == self.batch:
            raise RuntimeError("interrupted on purpose")


def _fit(model, callbacks, epochs, initial_epoch=0):
    x, y = _data()
    return model.fit(
        x, y, batch_size=BATCH, epochs=epochs, initial_epoch=initial_epoch, shuffle=False,
        callbacks=callbacks, verbose=0,
    )


# ---------------------------------------------------------------- PowerScheduling


@pytest.mark.parametrize("c", [0.5, 1.0, 2.0])
def test_power_scheduling_sets_exactly_power_schedule_rates(c):
    eta0, s, epochs = 0.05, 3.0, 3
    recorder = Recorder()
    callback = PowerScheduling(s=s, c=c)
    model = _model(keras.optimizers.SGD(learning_rate=eta0))
    history = _fit(model, [callback, recorder], epochs)
    schedule = PowerSchedule(eta0, s, c)
    expected = [float(schedule(t)) for t in range(epochs * N // BATCH)]
    assert [b["learning_rate"] for b in recorder.batches] == expected
    assert history.history["learning_rate"] == expected[N // BATCH - 1 :: N // BATCH]
    assert callback.initial_learning_rate == pytest.approx(eta0, rel=1e-7)
    # The optimizer really trained with those rates: same weights as the in-graph schedule.
    reference = _model(keras.optimizers.SGD(learning_rate=PowerSchedule(eta0, s, c)))
    _fit(reference, [], epochs)
    for a, b in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def _final_state(model):
    return float(model.optimizer.learning_rate), [w.copy() for w in model.get_weights()]


def _assert_same_state(a, b):
    assert a[0] == b[0]
    for wa, wb in zip(a[1], b[1], strict=True):
        np.testing.assert_array_equal(wa, wb)


@pytest.fixture(scope="module")
def uninterrupted():
    model = _model(keras.optimizers.SGD(learning_rate=0.05, momentum=0.9))
    history = _fit(model, [PowerScheduling(s=5.0)], 4)
    return _final_state(model), history.history["learning_rate"]


def test_power_scheduling_resumes_in_a_second_fit(uninterrupted):
    model = _model(keras.optimizers.SGD(learning_rate=0.05, momentum=0.9))
    callback = PowerScheduling(s=5.0)
    first = _fit(model, [callback], 2)
    second = _fit(model, [callback], 4, initial_epoch=2)
    _assert_same_state(_final_state(model), uninterrupted[0])
    assert first.history["learning_rate"] + second.history["learning_rate"] == uninterrupted[1]
    # A fresh instance (eta0 recovered from the optimizer's rate and iterations) too.
    model = _model(keras.optimizers.SGD(learning_rate=0.05, momentum=0.9))
    _fit(model, [PowerScheduling(s=5.0)], 2)
    _fit(model, [PowerScheduling(s=5.0)], 4, initial_epoch=2)
    _assert_same_state(_final_state(model), uninterrupted[0])


@pytest.mark.parametrize("fresh_instance", [False, True])
@pytest.mark.parametrize("backup_first", [False, True])
def test_power_scheduling_resumes_through_backup_and_restore(
    uninterrupted, tmp_path, fresh_instance, backup_first
):
    model = _model(keras.optimizers.SGD(learning_rate=0.05, momentum=0.9))
    callback = PowerScheduling(s=5.0)

    def callbacks(extra):
        backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
        ordered = [backup, callback] if backup_first else [callback, backup]
        return ordered + extra

    with pytest.raises(RuntimeError, match="interrupted on purpose"):
        _fit(model, callbacks([Interrupt(epoch=2, batch=1)]), 4)
    assert int(model.optimizer.iterations) == 2 * 4 + 2  # ahead of the epoch-2 backup
    if fresh_instance:
        callback = PowerScheduling(s=5.0)
    history = _fit(model, callbacks([]), 4)
    assert len(history.history["loss"]) == 2  # epochs 3 and 4 only
    _assert_same_state(_final_state(model), uninterrupted[0])
    assert history.history["learning_rate"] == uninterrupted[1][2:]


def test_power_scheduling_rejects_a_schedule_optimizer():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.5)
    model = _model(keras.optimizers.SGD(learning_rate=schedule))
    with pytest.raises(ValueError, match="already a schedule"):
        _fit(model, [PowerScheduling(s=10.0)], 1)


@pytest.mark.torch_unsupported(reason="Keras's torch trainer rejects steps_per_execution > 1")
def test_power_scheduling_warns_with_steps_per_execution():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse", steps_per_execution=2)
    with pytest.warns(UserWarning, match="recipes.PowerSchedule"):
        _fit(model, [PowerScheduling(s=10.0)], 1)


# -------------------------------------------------------------- OneCycleScheduler


def test_one_cycle_rate_peaks_at_the_documented_step_and_momentum_moves_inversely():
    recorder = Recorder()
    callback = OneCycleScheduler(max_learning_rate=0.1)
    model = _model(keras.optimizers.SGD(learning_rate=0.01, momentum=0.9))
    _fit(model, [callback, recorder], 5)
    rates = np.array([b["learning_rate"] for b in recorder.batches])
    momenta = np.array([b["momentum"] for b in recorder.batches])
    assert callback._steps == 5 * N // BATCH == 20  # derived from fit's epochs and steps
    assert callback.peak_step == round(0.45 * 20) == 9
    assert int(np.argmax(rates)) == 9 and rates[9] == pytest.approx(0.1)
    assert rates[0] == pytest.approx(0.01) and rates[-1] < rates[0] / 100
    assert int(np.argmin(momenta)) == 9 and momenta[9] == pytest.approx(0.85)
    assert momenta[0] == pytest.approx(0.95) and momenta[-1] == pytest.approx(0.95)
    assert np.corrcoef(rates[:18], momenta[:18])[0, 1] < -0.99
    assert float(model.optimizer.momentum) == pytest.approx(momenta[-1])


def test_one_cycle_spans_the_epochs_fit_runs_with_initial_epoch():
    recorder = Recorder()
    callback = OneCycleScheduler(max_learning_rate=0.1)
    _fit(_model(keras.optimizers.SGD(learning_rate=0.01)), [callback, recorder], 5,
         initial_epoch=3)
    rates = np.array([b["learning_rate"] for b in recorder.batches])
    assert callback._steps == (5 - 3) * N // BATCH == 8
    assert int(np.argmax(rates)) == callback.peak_step == round(0.45 * 8)
    after_peak = rates[callback.peak_step:]
    assert np.all(np.diff(after_peak) < 0) and rates[-1] < 0.5 * rates.max()  # annealing


def test_one_cycle_cycles_adam_beta_1_and_honours_total_steps():
    recorder = Recorder()
    callback = OneCycleScheduler(max_learning_rate=0.01, total_steps=10, warmup_fraction=0.3)
    model = _model(keras.optimizers.Adam(learning_rate=0.001))
    _fit(model, [callback, recorder], 4)  # 16 steps: the last 6 hold the final values
    rates = [b["learning_rate"] for b in recorder.batches]
    beta_1 = [b["beta_1"] for b in recorder.batches]
    assert int(np.argmax(rates)) == 3 and int(np.argmin(beta_1)) == 3
    assert rates[9:] == [pytest.approx(0.001 / 1000)] * 7
    # with no momentum to cycle (plain SGD) only the rate moves
    recorder = Recorder()
    _fit(_model(keras.optimizers.SGD(0.01)), [OneCycleScheduler(0.1), recorder], 1)
    assert "momentum" not in recorder.batches[0]


def test_one_cycle_momentum_reaches_the_update():
    """Momentum held at 0.5 by the cycle trains like SGD built with momentum 0.5 (also on JAX,
    where a compiled step sees only its state)."""
    cycled = _model(keras.optimizers.SGD(learning_rate=0.05, momentum=0.9))
    _fit(cycled, [OneCycleScheduler(0.1, min_momentum=0.5, max_momentum=0.5)], 2)
    built = _model(keras.optimizers.SGD(learning_rate=0.05, momentum=0.5))
    _fit(built, [OneCycleScheduler(0.1, cycle_momentum=False)], 2)
    for a, b in zip(cycled.get_weights(), built.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert len(cycled.optimizer.variables) == len(built.optimizer.variables)
    # a second fit with another momentum: the new value reaches the already compiled step
    _fit(cycled, [OneCycleScheduler(0.1, min_momentum=0.95, max_momentum=0.95)], 1)
    _fit(built, [OneCycleScheduler(0.1, cycle_momentum=False)], 1)
    assert np.abs(cycled.get_weights()[0] - built.get_weights()[0]).max() > 1e-3


# ------------------------------------------------------------- MomentumScheduling


def _sgd_momentum_reference(x, y, w, b, lr, momenta, steps_per_epoch):
    """Plain NumPy SGD with momentum on a linear model and MSE (Keras's update rule)."""
    w, b = w.astype("float64"), b.astype("float64")
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    size = len(x) // steps_per_epoch
    for m in momenta:
        for k in range(steps_per_epoch):
            xb, yb = x[k * size : (k + 1) * size], y[k * size : (k + 1) * size]
            err = xb @ w + b - yb
            gw, gb = 2 * xb.T @ err / len(xb), 2 * err.mean(axis=0)
            vw, vb = m * vw - lr * gw, m * vb - lr * gb
            w, b = w + vw, b + vb
    return w, b


def test_momentum_scheduling_changes_the_update_not_only_the_attribute():
    x, y = _data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(learning_rate=0.05, momentum=0.5), "mse")
    w0, b0 = (v.copy() for v in model.get_weights())
    # Train one epoch first, so the train function has been traced with the float.
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    w1, b1 = (v.copy() for v in model.get_weights())
    schedule = [0.5, 0.9, 0.99, 0.99]
    history = model.fit(
        x, y, batch_size=BATCH, epochs=4, initial_epoch=1, shuffle=False, verbose=0,
        callbacks=[MomentumScheduling(schedule=schedule)],
    )
    assert history.history["momentum"] == schedule[1:]
    assert len(model.optimizer.variables) == 4  # iterations, rate, 2 velocities: as before
    assert float(model.optimizer.momentum) == pytest.approx(0.99)
    scheduled = _sgd_momentum_reference(x, y, w0, b0, 0.05, schedule, N // BATCH)
    constant = _sgd_momentum_reference(x, y, w0, b0, 0.05, [0.5] * 4, N // BATCH)
    w, b = model.get_weights()
    np.testing.assert_allclose(w, scheduled[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b, scheduled[1], rtol=1e-4, atol=1e-5)
    assert np.abs(w - constant[0]).max() > 1e-2  # the momentum made a real difference
    first = _sgd_momentum_reference(x, y, w0, b0, 0.05, [0.5], N // BATCH)
    np.testing.assert_allclose(w1, first[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b1, first[1], rtol=1e-4, atol=1e-5)


def test_momentum_scheduled_through_zero_keeps_the_velocity_and_leaves_a_float():
    # ScheduledHyperparameter answers SGD's `momentum != 0` for the value it was built
    # with: at 0 the velocity is still the one the update uses, and it carries on after.
    x, y = _data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD(learning_rate=0.05, momentum=0.5)
    model.compile(optimizer, "mse")
    w0, b0 = (v.copy() for v in model.get_weights())
    schedule = [0.0, 0.9, 0.0, 0.9]
    model.fit(x, y, batch_size=BATCH, epochs=4, shuffle=False, verbose=0,
              callbacks=[MomentumScheduling(schedule=schedule)])
    w, b = _sgd_momentum_reference(x, y, w0, b0, 0.05, schedule, N // BATCH)
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.get_weights()[1], b, rtol=1e-4, atol=1e-5)
    # nothing of the schedule is left on the optimizer: the last value, as a float
    assert type(optimizer.momentum) is float and optimizer.momentum == pytest.approx(0.9)
    assert "get_config" not in vars(optimizer) and "save_own_variables" not in vars(optimizer)
    assert len(optimizer.variables) == 4


@pytest.mark.torch_unsupported(reason="the torch train step runs eagerly (no trace)")
def test_a_plain_variable_cannot_stand_in_for_a_compared_hyperparameter():
    """Why ScheduledHyperparameter answers comparisons itself: a traced step needs a bool."""
    from keras_recipes.callbacks._scheduling_base import ScheduledHyperparameter

    x, y = _data()
    model = _model(keras.optimizers.SGD(learning_rate=0.05, momentum=0.5))
    _fit(model, [], 1)
    plain = keras.Variable(0.5, trainable=False)
    assert keras.ops.is_tensor(plain != 0)  # SGD's `if self.momentum != 0` gets a tensor
    model.optimizer.__dict__["momentum"] = plain
    model.make_train_function(force=True)
    with pytest.raises(Exception, match=r"(?i)bool"):
        _fit(model, [], 2, initial_epoch=1)
    scheduled = ScheduledHyperparameter(0.0, built_value=0.5, name="momentum")
    assert (scheduled != 0) is True and (scheduled > 0) is True and float(scheduled) == 0.0


def test_eta0_is_the_shortest_decimal_not_the_nearest_float32():
    """Why PowerScheduling looks for a short decimal: inverting the rate is ambiguous."""
    from keras_recipes.callbacks.curves import Power

    eta0 = float(np.float32(0.05))
    neighbour = float(np.nextafter(np.float32(0.05), np.float32(1.0)))
    # both give the same rate at step 6, not at step 7: the rate of step 6 cannot tell them
    assert Power(neighbour, 5.0)(6) == Power(eta0, 5.0)(6)
    assert Power(neighbour, 5.0)(7) != Power(eta0, 5.0)(7)
    callback = PowerScheduling(s=5.0)
    for step in range(40):
        assert callback._infer_eta0(Power(eta0, 5.0)(step), step) == eta0, step


@pytest.mark.torch_unsupported(
    reason="the torch train step runs eagerly: it reads the new float (no step to bake it in)")
def test_naive_momentum_assignment_is_ignored_by_the_compiled_step():
    """Why MomentumScheduling installs a variable: a new float is baked out."""
    x, y = _data()
    runs = []
    for assign in (False, True):
        model = _model(keras.optimizers.SGD(learning_rate=0.05, momentum=0.5))
        model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        if assign:
            model.optimizer.momentum = 0.99
        model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        runs.append(model.get_weights()[0])
    np.testing.assert_array_equal(runs[0], runs[1])


def test_momentum_scheduling_linear_exponential_and_adam_beta_1(tmp_path):
    linear = MomentumScheduling(0.5, 0.99, ramp_epochs=4)
    assert [linear.momentum_at(e) for e in range(6)] == pytest.approx(
        [0.5, 0.6225, 0.745, 0.8675, 0.99, 0.99]
    )
    exponential = MomentumScheduling(0.5, 0.99, ramp_epochs=2, schedule="exponential")
    assert [exponential.momentum_at(e) for e in range(3)] == pytest.approx(
        [0.5, 1 - np.sqrt(0.5 * 0.01), 0.99]
    )
    results = []
    for callbacks in ([], [MomentumScheduling(0.5, 0.99)]):
        model = _model(keras.optimizers.Adam(learning_rate=0.01))
        history = _fit(model, callbacks, 3)
        results.append(model.get_weights()[0])
    assert history.history["beta_1"] == pytest.approx([0.5, 0.745, 0.99])
    assert not np.allclose(results[0], results[1])
    # the model still saves and loads (the optimizer's config reports a float)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.get_config()["beta_1"] == pytest.approx(0.99)


def test_momentum_scheduling_needs_a_momentum():
    with pytest.raises(ValueError, match="momentum > 0"):
        _fit(_model(keras.optimizers.SGD(0.01)), [MomentumScheduling()], 1)
    with pytest.raises(ValueError, match="has none"):
        _fit(_model(keras.optimizers.Adagrad(0.01)), [MomentumScheduling()], 1)


# ------------------------------------------------------------------ bad input, copy


@pytest.mark.parametrize(
    ("factory", "argument"),
    [
        (lambda: PowerScheduling(s=0), "`s`"),
        (lambda: PowerScheduling(s=-5), "`s`"),
        (lambda: PowerScheduling(s=10, c=-1), "`c`"),
        (lambda: PowerScheduling(s=10, initial_learning_rate=0), "`initial_learning_rate`"),
        (lambda: OneCycleScheduler(0.1, initial_learning_rate=0.1), "`max_learning_rate`"),
        (lambda: OneCycleScheduler(0.1, initial_learning_rate=0.2), "`max_learning_rate`"),
        (lambda: OneCycleScheduler(0.1, min_momentum=-0.1), "`min_momentum`"),
        (lambda: OneCycleScheduler(0.1, max_momentum=1.0), "`max_momentum`"),
        (lambda: OneCycleScheduler(0.1, min_momentum=0.9, max_momentum=0.8), "`max_momentum`"),
        (lambda: OneCycleScheduler(0.1, warmup_fraction=0.6), "`warmup_fraction`"),
        (lambda: OneCycleScheduler(0.1, total_steps=0), "`total_steps`"),
        (lambda: MomentumScheduling(initial_momentum=1.0), "`initial_momentum`"),
        (lambda: MomentumScheduling(final_momentum=-0.5), "`final_momentum`"),
        (lambda: MomentumScheduling(schedule="cosine"), "`schedule`"),
        (lambda: MomentumScheduling(schedule=[0.5, 1.2]), "`schedule[1]`"),
        (lambda: MomentumScheduling(attribute="rho"), "`attribute`"),
    ],
)
def test_bad_input_names_the_argument(factory, argument):
    with pytest.raises((ValueError, TypeError)) as info:
        factory()
    assert argument in str(info.value)


@pytest.mark.parametrize(
    "callback",
    [
        PowerScheduling(s=100.0, c=0.5),
        OneCycleScheduler(0.1, total_steps=50),
        MomentumScheduling(schedule=[0.5, 0.9]),
        MomentumScheduling(0.6, 0.95, ramp_epochs=3, schedule="exponential"),
    ],
    ids=lambda c: type(c).__name__,
)
def test_deepcopy_and_config_round_trip(callback):
    clone = copy.deepcopy(callback)
    assert clone is not callback and clone.get_config() == callback.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(callback))
    assert type(restored) is type(callback) and restored.get_config() == callback.get_config()
    _fit(_model(keras.optimizers.SGD(0.01, momentum=0.9)), [callback], 1)
    used = copy.deepcopy(callback)  # after training: the model is not dragged along
    assert used._model is None
    assert used.get_config() == callback.get_config()


def test_plot_learning_rate_from_history_batch_logs_and_values():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_recipes.plots import plot_learning_rate

    ax = plot_learning_rate({"loss": [3, 2, 1], "learning_rate": [0.1, 0.05, 0.01]})
    assert ax.get_xlabel() == "epoch" and list(ax.get_lines()[0].get_ydata()) == [0.1, 0.05, 0.01]
    logs = [{"learning_rate": 0.01 * (k + 1), "momentum": 0.95 - 0.01 * k} for k in range(5)]
    ax = plot_learning_rate(logs, title="1cycle")
    assert ax.get_xlabel() == "step" and ax.get_title() == "1cycle"
    assert ax.momentum_axes.get_ylabel() == "momentum"
    ax = plot_learning_rate([0.1, 0.01, 0.001], log_scale=True)
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="learning_rate"):
        plot_learning_rate({"loss": [1.0]})
    with pytest.raises(TypeError, match="`history_or_logs`"):
        plot_learning_rate(3.0)
    plt.close("all")
