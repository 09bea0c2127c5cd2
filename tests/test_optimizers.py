"""make_optimizer and compile_recipe: lecture defaults, decay=, clipping, inferred losses."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from recipes.defaults import OPTIMIZER_DEFAULTS
from recipes.models import build_dnn
from recipes.optimizers import FAST_STEPS_PER_EXECUTION, compile_recipe, make_optimizer
from recipes.schedules import PowerSchedule

KERAS_CLASS = {
    "sgd": keras.optimizers.SGD, "momentum": keras.optimizers.SGD,
    "nesterov": keras.optimizers.SGD, "adagrad": keras.optimizers.Adagrad,
    "rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam,
    "nadam": keras.optimizers.Nadam, "adamax": keras.optimizers.Adamax,
    "adamw": keras.optimizers.AdamW,
}


@pytest.mark.parametrize("name", sorted(KERAS_CLASS))
def test_names_build_the_keras_class_with_lecture_defaults(name):
    optimizer = make_optimizer(name)
    assert type(optimizer) is KERAS_CLASS[name]
    config = optimizer.get_config()
    for key, value in OPTIMIZER_DEFAULTS[name].items():
        if key != "class":
            assert config[key] == pytest.approx(value), key


def test_momentum_and_nesterov():
    assert make_optimizer("nesterov").get_config()["nesterov"] is True
    assert make_optimizer("sgd", momentum=0.95).get_config()["momentum"] == pytest.approx(0.95)
    with pytest.raises(ValueError, match="momentum"):
        make_optimizer("adam", momentum=0.9)
    with pytest.raises(ValueError, match="momentum"):
        make_optimizer("sgd", momentum=1.0)


def test_decay_keeps_its_slide_meaning():
    optimizer = make_optimizer("sgd", learning_rate=0.01, decay=1e-4)
    schedule = optimizer._learning_rate
    assert isinstance(schedule, PowerSchedule)
    assert (schedule.s, schedule.c) == (10_000.0, 1.0)
    assert float(schedule(10_000)) == pytest.approx(0.005)
    assert float(schedule(0)) == pytest.approx(0.01)


def test_schedule_argument():
    schedule = PowerSchedule(0.1, s=100, c=2.0)
    assert make_optimizer("adam", schedule=schedule)._learning_rate is schedule
    with pytest.raises(ValueError, match="decay"):
        make_optimizer("sgd", decay=1e-4, schedule=schedule)
    with pytest.raises(ValueError, match="learning_rate"):
        make_optimizer("sgd", learning_rate=0.1, schedule=schedule)
    with pytest.raises(TypeError, match="schedule"):
        make_optimizer("sgd", schedule="power")


def clipped_update(gradient, **clip):
    optimizer = make_optimizer("sgd", learning_rate=1.0, **clip)
    variable = keras.Variable(np.zeros(2, "float32"))
    optimizer.apply([keras.ops.convert_to_tensor(np.array(gradient, "float32"))], [variable])
    return -keras.ops.convert_to_numpy(variable)


def test_clipping_reproduces_lecture_001():
    np.testing.assert_allclose(clipped_update([0.9, 1000.0], clipvalue=1.0), [0.9, 1.0])
    # The slide feeds [0.9, 1000] but prints the result for [0.9, 100]:
    np.testing.assert_allclose(
        clipped_update([0.9, 100.0], clipnorm=1.0), [0.00899964, 0.9999595], rtol=1e-5
    )
    np.testing.assert_allclose(
        clipped_update([0.9, 1000.0], clipnorm=1.0), [0.00089999964, 0.9999996], rtol=1e-5
    )
    np.testing.assert_allclose(
        clipped_update([3.0, 4.0], global_clipnorm=1.0), [0.6, 0.8], rtol=1e-6
    )


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: make_optimizer("adamm"), "name"),
        (lambda: make_optimizer("sgd", learning_rate=0), "learning_rate"),
        (lambda: make_optimizer("sgd", lr=0.01), "learning_rate"),
        (lambda: make_optimizer("sgd", clipnorm=-1), "clipnorm"),
        (lambda: make_optimizer("sgd", clipnorm=1, clipvalue=1), "clipvalue"),
        (lambda: make_optimizer("sgd", decay=0), "decay"),
        (lambda: make_optimizer("sgd", bogus=1), "bogus"),
        (lambda: make_optimizer("adam", beta_1=1.5), "beta_1"),
        (lambda: make_optimizer("rmsprop", rho=-0.1), "rho"),
        (lambda: make_optimizer("adam", epsilon=-1e-7), "epsilon"),
    ],
)
def test_bad_input(call, argument):
    with pytest.raises((ValueError, TypeError), match=argument):
        call()


@pytest.mark.parametrize(
    ("task", "n_outputs", "loss", "metric"),
    [
        ("multiclass", 4, "sparse_categorical_crossentropy", "accuracy"),
        ("binary", 1, "binary_crossentropy", "accuracy"),
        ("regression", 2, "mse", "mae"),
    ],
)
def test_compile_recipe_infers_loss_and_metrics(task, n_outputs, loss, metric):
    model = compile_recipe(build_dnn((6,), n_outputs, hidden=(4,), task=task))
    assert model.loss == loss
    x = np.random.default_rng(0).normal(size=(16, 6)).astype("float32")
    y = np.zeros((16, n_outputs if task == "regression" else 1), "float32")
    logs = model.fit(x, y, epochs=1, verbose=0).history
    assert set(logs) == {"loss", metric}


def test_numpy_learning_rate_and_string_metric():
    optimizer = make_optimizer("sgd", learning_rate=np.float32(0.1))
    assert optimizer.get_config()["learning_rate"] == pytest.approx(0.1)
    model = compile_recipe(build_dnn((6,), 3, hidden=(4,)), metrics="accuracy")
    x = np.zeros((8, 6), "float32")
    assert set(model.fit(x, np.zeros(8), verbose=0).history) == {"loss", "accuracy"}


def test_compile_recipe_accepts_explicit_loss_and_optimizer_settings():
    model = build_dnn((6,), 1, hidden=(4,), task="regression")
    compile_recipe(model, "nesterov", loss="mae", learning_rate=0.05, clipnorm=1.0)
    assert model.loss == "mae"
    config = model.optimizer.get_config()
    assert config["nesterov"] and config["clipnorm"] == 1.0
    assert config["learning_rate"] == pytest.approx(0.05)


def test_compile_recipe_bad_input():
    model = build_dnn((6,), 3, hidden=(4,))
    with pytest.raises(TypeError, match="model"):
        compile_recipe("not a model")
    with pytest.raises(TypeError, match="optimizer"):
        compile_recipe(model, 3)
    with pytest.raises(ValueError, match="learning_rate"):
        compile_recipe(model, keras.optimizers.SGD(), learning_rate=0.1)
    with pytest.raises(ValueError, match="steps_per_execution"):
        compile_recipe(model, steps_per_execution=0)
    tanh_head = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="tanh")])
    with pytest.raises(ValueError, match="loss="):
        compile_recipe(tanh_head)


def test_fast_path_changes_no_maths(digits):
    """steps_per_execution > 1 gives the same weights as the default, step by step."""
    x, y = digits.train
    weights = []
    for fast in (False, True):
        keras.utils.set_random_seed(7)
        model = compile_recipe(build_dnn(digits.input_shape, 10, hidden=(32,)), "sgd", fast=fast)
        assert model.steps_per_execution == (FAST_STEPS_PER_EXECUTION if fast else 1)
        model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
        weights.append([keras.ops.convert_to_numpy(w) for w in model.weights])
    for slow, fast in zip(*weights):
        np.testing.assert_allclose(slow, fast, rtol=1e-6, atol=1e-7)


def test_power_schedule_model_round_trips_through_keras_file(digits, tmp_path):
    """Acceptance 6: save, then load in a fresh process without custom_objects."""
    model = compile_recipe(
        build_dnn(digits.input_shape, 10, hidden=(16,)), "sgd", learning_rate=0.05, decay=1e-3
    )
    model.fit(*digits.train, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "x.npy", digits.test[0])
    np.save(tmp_path / "expected.npy", model.predict(digits.test[0], verbose=0))
    script = textwrap.dedent(
        f"""
        import numpy as np, keras, recipes
        model = keras.models.load_model({str(path)!r})
        lr = model.optimizer._learning_rate
        assert type(lr).__name__ == "PowerSchedule" and lr.s == 1000.0, lr
        got = model.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0)
        np.testing.assert_array_equal(got, np.load({str(tmp_path / 'expected.npy')!r}))
        print("ok", int(model.optimizer.iterations))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-2:] == ["ok", str(int(model.optimizer.iterations))]
