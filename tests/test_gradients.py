"""GradientNormLogger and VanishingGradientDetector (callbacks/gradients.py, callbacks/_tap/)."""

from __future__ import annotations

import copy
import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from _gradient_reference import reference_norms, toy_model
from _gradient_reference import toy_data as _data

from keras_recipes.callbacks._tap import tap as _gradient_tap
from keras_recipes.callbacks.gradients import (
    GradientNormLogger,
    GradientProblemError,
    GradientWarning,
    VanishingGradientDetector,
)

ROOT = Path(__file__).resolve().parent.parent


class OwnStep(keras.Model):
    """A model that overrides train_step (still calls optimizer.apply_gradients)."""

    def train_step(self, data):
        x, y = data
        if keras.backend.backend() == "torch":
            import torch

            loss = self.compute_loss(x=x, y=y, y_pred=self(x, training=True))
            grads = torch.autograd.grad(loss, [v.value for v in self.trainable_variables])
        else:
            import tensorflow as tf

            with tf.GradientTape() as tape:
                loss = self.compute_loss(x=x, y=y, y_pred=self(x, training=True))
            grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=False))
        return {"loss": loss}


def _model(kind="sequential", seed=1):
    if kind == "own_step":
        return toy_model("functional", seed, functional_class=OwnStep)
    return toy_model(kind, seed)


# The independent reference: tf.GradientTape on TensorFlow, jax.grad on JAX,
# torch.autograd.grad on PyTorch.
_tape_norms = reference_norms


def _steps(spe: int) -> int:
    """`spe` steps per execution, or 1 on PyTorch (Keras's torch trainer accepts no other)."""
    return 1 if keras.backend.backend() == "torch" else spe


@pytest.mark.parametrize("kind,spe", [
    ("sequential", 1), ("functional", 8), ("subclassed", 8),
    pytest.param("own_step", 1, marks=pytest.mark.skipif(
        keras.backend.backend() == "jax",
        reason="its train_step is written for the stateful trainers (TF, torch)"))])
def test_norms_equal_independent_tape(kind, spe):
    x, y = _data()
    model = _model(kind)
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy",
                  steps_per_execution=_steps(spe))
    logger = GradientNormLogger()
    # 16 identical full batches per epoch (lr 0: every step sees the same gradient)
    history = model.fit(np.tile(x, (16, 1)), np.tile(y, 16), batch_size=64, epochs=2,
                        shuffle=False, callbacks=[logger], verbose=0)
    expected, expected_global = _tape_norms(model, x, y)
    names = _gradient_tap.variable_names(model, model.trainable_variables)
    assert names[0] == "hidden/kernel" and names[-1] == "out/bias"
    for name, value in zip(names, expected, strict=False):
        key = f"grad_norm/{name}"
        np.testing.assert_allclose(history.history[key], value, rtol=1e-5)
        np.testing.assert_allclose(logger.history[key], value, rtol=1e-5)
    np.testing.assert_allclose(history.history["grad_norm/global"], expected_global, rtol=1e-5)
    # every step is recorded in-graph, also inside a steps_per_execution block
    assert logger.history["step"] == list(range(32))
    assert logger.clipping == "after clipping"
    # the hook is gone after fit: no instance attributes left behind
    assert "train_step" not in model.__dict__ and "make_train_function" not in model.__dict__
    assert "apply" not in model.optimizer.__dict__
    assert _gradient_tap.tap_for(model) is None


def test_every_per_layer_and_clipping_are_after_clipping():
    x, y = _data()
    model = _model()
    model.compile(keras.optimizers.SGD(0.0, global_clipnorm=1e-3),
                  "sparse_categorical_crossentropy")
    logger = GradientNormLogger(every=2, per_layer=False)
    history = model.fit(x, y, batch_size=16, epochs=2, callbacks=[logger], verbose=0)
    assert logger.history["step"] == [0, 2, 4, 6]
    assert set(logger.history) == {"step", "grad_norm/global"}
    assert not any(k.startswith("grad_norm/hidden") for k in history.history)
    np.testing.assert_allclose(logger.history["grad_norm/global"], 1e-3, rtol=1e-4)


def test_shared_hook_second_fit_and_deepcopy():
    x, y = _data()
    model = _model()
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    logger, detector = GradientNormLogger(), VanishingGradientDetector()
    fresh_copy = copy.deepcopy(logger)
    seen = []

    class Probe(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            tap = _gradient_tap.tap_for(self.model)
            seen.append((id(tap), len(tap.clients)))

    model.fit(x, y, batch_size=32, epochs=1, callbacks=[logger, detector, Probe()], verbose=0)
    assert len(set(seen)) == 1 and seen[0][1] == 2
    model.fit(x, y, batch_size=32, epochs=1, callbacks=[logger, detector], verbose=0)
    assert logger.history["step"] == [0, 1, 2, 3]
    used_logger, used_detector = copy.deepcopy(logger), copy.deepcopy(detector)
    assert used_logger.model is None and used_logger.history == logger.history
    assert used_detector.get_config() == detector.get_config()
    model.fit(x, y, batch_size=32, epochs=1,
              callbacks=[used_logger, used_detector, fresh_copy], verbose=0)
    assert used_logger.history["step"][-2:] == [4, 5] and fresh_copy.history["step"] == [4, 5]
    # a later fit without the callbacks runs the plain step
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert set(history.history) == {"loss"}


class _BatchKeys(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.keys = set()

    def on_train_batch_end(self, batch, logs=None):
        self.keys |= set(logs)


@pytest.mark.parametrize("step_logs", ["global", "all"])
def test_step_logs_and_epoch_logs(step_logs):
    x, y = _data()
    model = _model()
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    probe = _BatchKeys()
    history = model.fit(x, y, batch_size=64, epochs=1, verbose=0,
                        callbacks=[probe, GradientNormLogger(step_logs=step_logs)])
    per_layer = [f"grad_norm/{n}" for n in ("hidden/kernel", "hidden/bias", "out/kernel",
                                            "out/bias")]
    assert "grad_norm/global" in probe.keys
    assert set(per_layer) <= probe.keys if step_logs == "all" else not set(per_layer) & probe.keys
    # the epoch logs carry every per-variable norm either way, equal to the tape's
    expected, _ = _tape_norms(model, x, y)
    for key, value in zip(per_layer, expected, strict=True):
        np.testing.assert_allclose(history.history[key], value, rtol=1e-5)
    with pytest.raises(ValueError, match="step_logs"):
        GradientNormLogger(step_logs="some")


class _BatchGlobalNorms(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.values = []

    def on_train_batch_end(self, batch, logs=None):
        self.values.append(float(logs["grad_norm/global"]))


@pytest.mark.parametrize("optimizer,every,eager", [
    ("sgd", 1, False), ("sgd", 2, False), ("sgd", 1, True), ("loss_scale", 1, False),
    ("loss_scale", 2, False), ("accumulate", 1, False)])
def test_step_logs_carry_the_norm_of_each_step(optimizer, every, eager):
    # The logs of a step take the norms computed in that step; between computed
    # steps and inside an optimizer branch (loss scaling, gradient accumulation)
    # they come from the ring. Four different batches, learning rate 0.
    x, y = _data(n=256)
    model = _model()
    inner = keras.optimizers.SGD(0.0, gradient_accumulation_steps=2 if
                                 optimizer == "accumulate" else None)
    if optimizer == "loss_scale":
        inner = keras.optimizers.LossScaleOptimizer(inner)
    model.compile(inner, "sparse_categorical_crossentropy", run_eagerly=eager)
    probe = _BatchGlobalNorms()
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0,
              callbacks=[GradientNormLogger(every=every), probe])
    per_batch = [_tape_norms(model, x[i:i + 64], y[i:i + 64])[1] for i in range(0, 256, 64)]
    if optimizer == "accumulate":
        # the optimizer applies (and records) the mean of two batches' gradients every 2nd step
        assert np.isnan(probe.values[0]) and probe.values[1] == probe.values[2]
        assert not np.isclose(probe.values[1], probe.values[3])
    else:
        expected = [per_batch[(i // every) * every] for i in range(4)]
        np.testing.assert_allclose(probe.values, expected, rtol=1e-5)


def test_history_csv_and_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x, y = _data()
    model = _model()
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    csv_path = tmp_path / "log.csv"
    logdir = tmp_path / "tb"
    # CSVLogger and TensorBoard placed before the logger still see the per-variable keys
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[
        keras.callbacks.CSVLogger(str(csv_path)), keras.callbacks.TensorBoard(str(logdir)),
        GradientNormLogger()])
    assert len(model.history.history["grad_norm/global"]) == 2
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 2 and float(rows[1]["grad_norm/hidden/kernel"]) > 0
    accumulator = EventAccumulator(str(logdir / "train"))
    accumulator.Reload()
    tags = set(accumulator.Tags()["scalars"]) | set(accumulator.Tags()["tensors"])
    assert any("grad_norm/global" in t for t in tags), tags
    assert any("grad_norm/out/kernel" in t for t in tags), tags


MIRRORED = textwrap.dedent("""
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import json, numpy as np, keras
    from keras_recipes.callbacks.gradients import GradientNormLogger, VanishingGradientDetector
    def run(strategy):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 8)).astype("float32"); y = rng.integers(0, 3, 64)
        with strategy.scope():
            keras.utils.set_random_seed(1)
            m = keras.Sequential([keras.Input((8,)),
                keras.layers.Dense(5, activation="tanh", name="hidden"),
                keras.layers.Dense(3, activation="softmax", name="out")])
            # steps_per_execution > 1 fails under MirroredStrategy in Keras 3.15
            # itself (InvalidArgumentError, with or without these callbacks).
            m.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        lg = GradientNormLogger()
        h = m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0,
                  callbacks=[lg, VanishingGradientDetector()])
        return {"logger": lg.history, "fit": h.history}
    single = run(tf.distribute.get_strategy())
    mirrored = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    print("RESULT" + json.dumps({"single": single, "mirrored": mirrored}))
""")


@pytest.mark.tensorflow_only(reason="tf.distribute.MirroredStrategy")
def test_mirrored_strategy_matches_single_device():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT")]
    assert lines, done.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT"):])
    single, mirrored = result["single"], result["mirrored"]
    assert single["logger"]["step"] == mirrored["logger"]["step"] == list(range(8))
    for part in ("logger", "fit"):
        keys = [k for k in single[part] if k.startswith("grad_norm/")]
        assert "grad_norm/global" in keys and "grad_norm/hidden/kernel" in keys
        for key in keys:
            np.testing.assert_allclose(mirrored[part][key], single[part][key], rtol=1e-5)


def test_bad_arguments_and_uncompiled_model():
    for kwargs, word in [({"every": 0}, "every"), ({"every": -3}, "every")]:
        with pytest.raises(ValueError, match=word):
            GradientNormLogger(**kwargs)
    with pytest.raises(ValueError, match="'warn', 'stop', 'raise'.*'panic'"):
        VanishingGradientDetector(action="panic")
    for name in ("vanishing_ratio", "exploding_ratio", "max_norm", "min_rms", "patience",
                 "every"):
        with pytest.raises(ValueError, match=f"`{name}`.*-1"):
            VanishingGradientDetector(**{name: -1})
    x, y = _data()
    model = _model()
    detector = VanishingGradientDetector()
    detector.set_model(model)
    with pytest.raises(RuntimeError, match="compile"):
        detector.on_train_begin()


def _nan_regression(spe=1):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 4)).astype("float32")
    y = rng.normal(size=(160, 1)).astype("float32")
    y[3 * 16 + 5] = np.nan  # the loss of step 3 (batch 16, no shuffling) is NaN
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(4), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse", steps_per_execution=spe)
    return model, x, y


@pytest.mark.parametrize("spe", [1, pytest.param(8, marks=pytest.mark.torch_unsupported(
    reason="Keras's torch trainer rejects steps_per_execution > 1"))])
def test_nan_in_loss_reported_with_step_and_stop(spe):
    model, x, y = _nan_regression(spe)
    detector = VanishingGradientDetector(action="stop")
    with pytest.warns(GradientWarning, match="non-finite.*step 3"):
        model.fit(x, y, batch_size=16, epochs=3, shuffle=False, callbacks=[detector], verbose=0)
    (event,) = detector.events
    assert event["kind"] == "non_finite" and event["step"] == 3
    # batch-end hooks run asynchronously: fit stops within the same epoch (on JAX the
    # norms live in the training state and are read at the epoch's end)
    last = 10 if keras.backend.backend() == "jax" else 9
    assert len(model.history.epoch) == 1 and model.optimizer.iterations.numpy() <= last


def test_nan_raise_leaves_no_hook_behind():
    model, x, y = _nan_regression()
    logger, detector = GradientNormLogger(), VanishingGradientDetector(action="raise")
    with pytest.raises(GradientProblemError, match="step 3"):
        model.fit(x, y, batch_size=16, shuffle=False, callbacks=[logger, detector], verbose=0)
    assert _gradient_tap.tap_for(model) is None and "train_step" not in model.__dict__


def test_nan_with_warn_and_every_reports_the_exact_step():
    # "warn" reads the recorded rows only now and then, but every computed step is checked
    model, x, y = _nan_regression()
    logger, detector = GradientNormLogger(), VanishingGradientDetector(every=2)
    with pytest.warns(GradientWarning, match="non-finite.*step 3"):
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, callbacks=[logger, detector],
                  verbose=0)
    assert [(e["kind"], e["step"]) for e in detector.events] == [("non_finite", 3)]
    assert logger.history["step"] == list(range(10))


@pytest.mark.parametrize(
    "callback",
    [GradientNormLogger(every=3, per_layer=False, prefix="g", step_logs="global"),
     VanishingGradientDetector(vanishing_ratio=1e-3, patience=2, action="stop")],
    ids=["GradientNormLogger", "VanishingGradientDetector"],
)
def test_gradient_callbacks_round_trip_through_keras_serialization(callback):
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(callback))
    assert type(restored) is type(callback)
    assert restored.get_config() == callback.get_config()


@pytest.mark.parametrize("name", ["GradientNormLogger", "VanishingGradientDetector"])
def test_configs_written_before_the_module_split_still_load(name):
    """Keras finds a custom class by its registered name (`recipes>...`), unchanged by the split."""
    cls = {"GradientNormLogger": GradientNormLogger,
           "VanishingGradientDetector": VanishingGradientDetector}[name]
    assert keras.saving.get_registered_name(cls) == f"recipes>{name}"
    config = {"module": "callbacks.gradients", "class_name": name,
              "config": cls().get_config(), "registered_name": f"recipes>{name}"}
    assert type(keras.saving.deserialize_keras_object(config)) is cls


def test_two_loggers_with_different_prefixes_are_refused():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    x, y = np.zeros((8, 3), "float32"), np.zeros((8, 2), "float32")
    with pytest.raises(ValueError, match="prefix"):
        model.fit(x, y, verbose=0,
                  callbacks=[GradientNormLogger(prefix="a"), GradientNormLogger(prefix="b")])
    model.fit(x, y, verbose=0)  # the refused fit left no hook behind
    assert "train_step" not in model.__dict__


def test_a_fit_aborted_elsewhere_leaves_no_stale_hook_for_the_next_fit():
    class Boom(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    x, y = np.zeros((64, 3), "float32"), np.zeros((64, 2), "float32")
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, verbose=0, callbacks=[GradientNormLogger(), Boom()])
    assert "train_step" in model.__dict__  # Keras ran no on_train_end: the hook is still on
    logger = GradientNormLogger(prefix="other")  # the stale logger's prefix is forgotten
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[logger])
    assert "other/global" in history.history and "grad_norm/global" not in history.history
    assert len(logger.history["step"]) == 2 * 2  # 64 samples, batch 32: only this fit's steps
    assert "train_step" not in model.__dict__
