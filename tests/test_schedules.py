"""recipes.schedules: PowerSchedule and make_schedule."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_recipes.schedules import SCHEDULE_NAMES, PowerSchedule, make_schedule

STEPS = np.arange(0, 100_001)


def test_power_schedule_with_c_1_equals_inverse_time_decay():
    ours = keras.ops.convert_to_numpy(PowerSchedule(0.01, s=10_000)(STEPS))
    keras_decay = keras.optimizers.schedules.InverseTimeDecay(0.01, 10_000, 1.0)
    theirs = keras.ops.convert_to_numpy(keras_decay(STEPS))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert float(PowerSchedule(0.01, s=10_000)(10_000)) == pytest.approx(0.005)


@pytest.mark.parametrize("c", [0.5, 2.0])
def test_power_schedule_follows_the_formula(c):
    eta0, s = 0.03, 2_000.0
    got = keras.ops.convert_to_numpy(PowerSchedule(eta0, s, c)(STEPS))
    np.testing.assert_allclose(got, eta0 / (1 + STEPS / s) ** c, rtol=2e-6)
    assert float(PowerSchedule(eta0, s, c)(s)) == pytest.approx(eta0 / 2**c)


def test_power_schedule_with_c_0_is_constant():
    got = keras.ops.convert_to_numpy(PowerSchedule(0.1, 10.0, 0.0)(STEPS[:1000]))
    np.testing.assert_allclose(got, 0.1, rtol=1e-7)


def test_power_schedule_round_trips_through_a_keras_file(tmp_path):
    schedule = PowerSchedule(0.02, s=500, c=0.5, name="power")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="mse")
    x = np.ones((8, 3), "float32")
    model.fit(x, np.zeros((8, 1), "float32"), batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    restored = loaded.optimizer._learning_rate
    assert isinstance(restored, PowerSchedule)
    assert restored.get_config() == schedule.get_config()
    assert int(loaded.optimizer.iterations) == 2
    assert float(loaded.optimizer.learning_rate) == pytest.approx(float(schedule(2)))
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(again, PowerSchedule) and again.get_config() == schedule.get_config()


def test_make_schedule_builds_each_name():
    assert set(SCHEDULE_NAMES) == {"power", "exponential", "piecewise_constant", "cosine"}
    power = make_schedule("power", 0.01, s=100, c=2.0)
    assert isinstance(power, PowerSchedule) and (power.s, power.c) == (100.0, 2.0)
    exponential = make_schedule("exponential", 0.01, s=100)
    assert isinstance(exponential, keras.optimizers.schedules.ExponentialDecay)
    assert float(exponential(200)) == pytest.approx(0.01 * 0.1**2)
    piecewise = make_schedule("piecewise_constant", 0.01, boundaries=[10, 20],
                              values=[0.01, 0.005, 0.001])
    assert [float(piecewise(t)) for t in (0, 15, 25)] == pytest.approx([0.01, 0.005, 0.001])
    cosine = make_schedule("cosine", 0.01, decay_steps=100)
    assert isinstance(cosine, keras.optimizers.schedules.CosineDecay)
    assert float(cosine(100)) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: make_schedule("linear", 0.01, s=10), "`name`"),
        (lambda: make_schedule("power", 0.0, s=10), "`initial_learning_rate`"),
        (lambda: make_schedule("power", 0.01), "required"),
        (lambda: make_schedule("power", 0.01, s=10, decay=3), "decay"),
        (lambda: make_schedule("power", 0.01, s=0), "`s`"),
        (lambda: make_schedule("power", 0.01, s=10, c=-1), "`c`"),
        (lambda: make_schedule("exponential", 0.01, s=-1), "`s`"),
        (lambda: make_schedule("piecewise_constant", 0.01, boundaries=[5], values=[0.01]),
         "`values`"),
        (lambda: make_schedule("piecewise_constant", 0.01, boundaries=[5], values=[0.1, 0.01]),
         "`values[0]`"),
        (lambda: make_schedule("cosine", 0.01, decay_steps=2.5), "`decay_steps`"),
        (lambda: make_schedule("cosine", 0.01, decay_steps=10, alpha=-1), "`alpha`"),
        (lambda: make_schedule("piecewise_constant", 0.01, boundaries=[10, 5],
                               values=[0.01, 0.005, 0.001]), "`boundaries`"),
        (lambda: PowerSchedule(0.01, s=-1), "`s`"),
    ],
)
def test_make_schedule_errors_name_the_argument(call, argument):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert argument in str(info.value)
