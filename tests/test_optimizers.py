"""make_optimizer and compile_recipe: lecture defaults, decay=, clipping, inferred losses."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_recipes.defaults import OPTIMIZER_DEFAULTS
from keras_recipes.models import build_dnn
from keras_recipes.optimizers import FAST_STEPS_PER_EXECUTION, compile_recipe, make_optimizer
from keras_recipes.schedules import PowerSchedule

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
    # on torch Keras hands back its fused subclass of the same name (torch_sgd.SGD)
    assert isinstance(optimizer, KERAS_CLASS[name])
    assert type(optimizer).__name__ == KERAS_CLASS[name].__name__
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
        several = keras.backend.backend() != "torch"  # Keras's torch trainer runs one step
        assert model.steps_per_execution == (FAST_STEPS_PER_EXECUTION if fast and several else 1)
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


@pytest.mark.parametrize("name, schedule", [
    ("adam", keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5)),
    ("nadam", keras.optimizers.schedules.CosineDecay(0.01, decay_steps=10)),
    ("momentum", PowerSchedule(0.05, 2, 1.5)),
])
def test_schedule_objects_as_learning_rate_fit_save_load(name, schedule, tmp_path):
    optimizer = make_optimizer(name, learning_rate=schedule)
    assert optimizer._learning_rate is schedule
    model = compile_recipe(build_dnn((6,), 3, hidden=(4,)), optimizer, fast=False)
    x = np.random.default_rng(0).normal(size=(24, 6)).astype("float32")
    model.fit(x, np.arange(24) % 3, batch_size=8, epochs=1, verbose=0)  # 3 steps
    assert int(model.optimizer.iterations) == 3
    path = tmp_path / "scheduled.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.optimizer._learning_rate) is type(schedule)
    assert int(loaded.optimizer.iterations) == 3
    expected = float(keras.ops.convert_to_numpy(schedule(3)))
    for m in (model, loaded):
        rate = float(keras.ops.convert_to_numpy(m.optimizer.learning_rate))
        assert rate == pytest.approx(expected, rel=1e-6)
    assert expected != pytest.approx(float(keras.ops.convert_to_numpy(schedule(0))))


def test_schedule_learning_rate_with_decay_or_schedule_names_both():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, 100, 0.5)
    with pytest.raises(ValueError, match=r"`learning_rate` is already a schedule.*`decay=`"):
        make_optimizer("sgd", learning_rate=schedule, decay=1e-4)
    with pytest.raises(ValueError, match=r"`learning_rate` is already a schedule.*`schedule=`"):
        make_optimizer("sgd", learning_rate=schedule, schedule=PowerSchedule(0.1, 10))


def _two_in_two_out(activation="softmax"):
    tokens = keras.Input((5,), name="tokens")
    extra = keras.Input((3,), name="extra")
    hidden = keras.layers.Dense(8, activation="relu")(
        keras.layers.Concatenate()([tokens, extra]))
    digit = keras.layers.Dense(4, activation=activation, name="digit")(hidden)
    price = keras.layers.Dense(1, name="price")(hidden)
    return keras.Model({"tokens": tokens, "extra": extra}, {"digit": digit, "price": price})


def test_two_input_two_output_model_compiles_with_a_loss_dict_and_trains():
    rng = np.random.default_rng(0)
    x = {"tokens": rng.normal(size=(32, 5)).astype("float32"),
         "extra": rng.normal(size=(32, 3)).astype("float32")}
    y = {"digit": np.arange(32) % 4, "price": rng.normal(size=(32, 1)).astype("float32")}
    model = compile_recipe(_two_in_two_out(), "adam",
                           loss={"digit": "sparse_categorical_crossentropy", "price": "mse"})
    logs = model.fit(x, y, epochs=2, verbose=0).history
    assert {"digit_accuracy", "price_mae"} <= set(logs), sorted(logs)
    assert np.isfinite(logs["loss"]).all()
    auto = compile_recipe(_two_in_two_out(), "adam")  # loss and metrics per output's task
    assert dict(auto.loss) == {"digit": "sparse_categorical_crossentropy", "price": "mse"}
    assert {"digit_accuracy", "price_mae"} <= set(auto.fit(x, y, verbose=0).history)
    logits = compile_recipe(_two_in_two_out(activation=None), "adam", loss={
        "digit": keras.losses.SparseCategoricalCrossentropy(from_logits=True), "price": "mae"})
    assert {"digit_accuracy", "price_mae"} <= set(logits.fit(x, y, verbose=0).history)


def test_metrics_auto_names_the_output_it_cannot_infer():
    with pytest.raises(ValueError, match=r"metrics='auto'.*output 'digit'.*tanh"):
        compile_recipe(_two_in_two_out(activation="tanh"), "adam",
                       loss={"digit": "hinge", "price": "mse"})
    with pytest.raises(ValueError, match=r"loss='auto'.*output 'digit'"):
        compile_recipe(_two_in_two_out(activation="tanh"))
    with pytest.raises(ValueError, match=r"keys \['prices'\]"):
        compile_recipe(_two_in_two_out(), loss={"digit": "mse", "prices": "mse"})
    model = compile_recipe(_two_in_two_out(activation="tanh"), "adam", metrics={"price": "mae"},
                           loss={"digit": "hinge", "price": "mse"})
    assert model.compiled
