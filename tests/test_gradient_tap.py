"""The gradient tap on every backend: clipped norms, aborted fits, freezing, optimizers.

Runs on TensorFlow, on JAX (`KERAS_BACKEND=jax`) and on PyTorch; the references
are independent (`tests/_gradient_reference.py`: `jax.grad` / `tf.GradientTape` /
`torch.autograd.grad`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
from _gradient_reference import reference_grads, sparse_ce
from _gradient_reference import toy_data as _data
from _gradient_reference import toy_model as _model

from keras_recipes.callbacks._tap import tap as _gradient_tap
from keras_recipes.callbacks.gradients import GradientNormLogger, VanishingGradientDetector

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["hidden/kernel", "hidden/bias", "out/kernel", "out/bias"]


def _clipped(norms, clip):
    norms = np.asarray(norms)
    if "clipnorm" in clip:
        return np.minimum(norms, clip["clipnorm"])
    if "global_clipnorm" in clip:
        total = np.sqrt(np.sum(norms ** 2))
        return norms * clip["global_clipnorm"] / max(total, clip["global_clipnorm"])
    return norms


@pytest.mark.parametrize("kind", ["sequential", "functional", "subclassed"])
@pytest.mark.parametrize("clip", [{}, {"clipnorm": 0.1}, {"global_clipnorm": 0.2},
                                  {"clipvalue": 0.01}], ids=["none", "clipnorm",
                                                             "global_clipnorm", "clipvalue"])
def test_logged_norms_are_those_the_update_applies(kind, clip):
    # learning rate 0, full batch: every step sees the gradient of the reference
    x, y = _data()
    model = _model(kind)
    spe = 1 if keras.backend.backend() == "torch" else 2  # Keras's torch trainer: 1 only
    model.compile(keras.optimizers.SGD(0.0, **clip), "sparse_categorical_crossentropy",
                  steps_per_execution=spe)
    logger = GradientNormLogger()
    history = model.fit(np.tile(x, (4, 1)), np.tile(y, 4), batch_size=64, epochs=1,
                        shuffle=False, callbacks=[logger], verbose=0)
    grads = reference_grads(model, x, y)
    if "clipvalue" in clip:
        grads = [np.clip(g, -clip["clipvalue"], clip["clipvalue"]) for g in grads]
    expected = _clipped([np.linalg.norm(g) for g in grads], clip)
    assert logger.history["step"] == [0, 1, 2, 3]
    for name, value in zip(NAMES, expected, strict=True):
        np.testing.assert_allclose(logger.history[f"grad_norm/{name}"], value, rtol=1e-5)
        np.testing.assert_allclose(history.history[f"grad_norm/{name}"], value, rtol=1e-5)
    expected_global = np.sqrt(np.sum(np.square(expected)))
    np.testing.assert_allclose(logger.history["grad_norm/global"], expected_global, rtol=1e-5)
    np.testing.assert_allclose(history.history["grad_norm/global"], expected_global, rtol=1e-5)
    if clip:  # the clip bites: the logged norms are not the raw ones
        raw = np.sqrt(sum(np.sum(g ** 2) for g in reference_grads(model, x, y)))
        assert expected_global < 0.99 * raw


def test_loss_scale_factor_is_undone():
    x, y = _data()
    model = _model()
    model.compile(keras.optimizers.SGD(0.0, loss_scale_factor=128.0),
                  "sparse_categorical_crossentropy")
    logger = GradientNormLogger()
    model.fit(x, y, batch_size=64, epochs=1, callbacks=[logger], verbose=0)
    expected = [np.linalg.norm(g) for g in reference_grads(model, x, y)]
    for name, value in zip(NAMES, expected, strict=True):
        np.testing.assert_allclose(logger.history[f"grad_norm/{name}"], value, rtol=1e-5)


def test_aborted_fit_then_plain_fit_runs_the_plain_step():
    class Boom(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise RuntimeError("boom")

    x, y = _data()
    model = _model()
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    variables_before = len(model.optimizer.variables)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # optimizer built
    variables_before = len(model.optimizer.variables)
    with pytest.raises(RuntimeError, match="boom"):
        model.fit(x, y, batch_size=32, epochs=1, verbose=0,
                  callbacks=[GradientNormLogger(), VanishingGradientDetector(), Boom()])
    assert _gradient_tap.tap_for(model) is not None  # no on_train_end: the hook stayed
    keys = set()

    class Keys(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            keys.update(logs)

    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[Keys()])
    assert not any(k.startswith("grad_norm") for k in set(history.history) | keys)
    # the plain train function: nothing of the tap is left on the model or the optimizer
    assert _gradient_tap.tap_for(model) is None
    for name in ("train_step", "make_train_function", "_get_metrics_result_or_logs"):
        assert name not in model.__dict__, name
    assert "apply" not in model.optimizer.__dict__
    assert len(model.optimizer.variables) == variables_before


def test_one_column_per_variable_across_freeze_and_unfreeze():
    x, y = _data()
    model = _model()
    logger = GradientNormLogger()

    def fit(trainable_hidden):
        model.get_layer("hidden").trainable = trainable_hidden
        # a fresh optimizer each time (what recipes.freeze / unfreeze do)
        model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
        return model.fit(x, y, batch_size=64, epochs=2, callbacks=[logger], verbose=0)

    fit(False)  # head only: 2 columns
    second = fit(True)  # everything: 4 columns
    third = fit(False)
    history = logger.history
    assert history["step"] == list(range(6))  # one continuous record
    assert set(history) == {"step", "grad_norm/global"} | {f"grad_norm/{n}" for n in NAMES}
    assert all(len(values) == 6 for values in history.values())
    model.get_layer("hidden").trainable = True
    expected = [np.linalg.norm(g) for g in reference_grads(model, x, y)]
    trained = {"hidden/kernel": [2, 3], "hidden/bias": [2, 3], "out/kernel": range(6),
               "out/bias": range(6)}
    for name, value in zip(NAMES, expected, strict=True):
        values = np.asarray(history[f"grad_norm/{name}"])
        rows = list(trained[name])
        np.testing.assert_allclose(values[rows], value, rtol=1e-5)
        assert np.isnan(np.delete(values, rows)).all()
    head_global = np.sqrt(expected[2] ** 2 + expected[3] ** 2)
    np.testing.assert_allclose(history["grad_norm/global"], [head_global] * 2 + [
        np.sqrt(np.sum(np.square(expected)))] * 2 + [head_global] * 2, rtol=1e-5)
    # epoch logs keep every column of the logger's life (NaN where frozen)
    np.testing.assert_allclose(second.history["grad_norm/hidden/kernel"], expected[0],
                               rtol=1e-5)
    assert np.isnan(third.history["grad_norm/hidden/kernel"]).all()


class _TwoOptimizers(keras.Model):
    """A GAN-like model: two parts, each trained by its own optimizer in train_step."""

    def __init__(self):
        super().__init__(name="gan")
        self.first = keras.layers.Dense(4, activation="tanh", name="first")
        self.second = keras.layers.Dense(3, activation="softmax", name="second")

    def call(self, x):
        return self.second(self.first(x))

    def compile(self, first_optimizer, second_optimizer):
        super().compile()  # model.optimizer: Keras's default, never used here
        self.first_optimizer = first_optimizer
        self.second_optimizer = second_optimizer

    def train_step(self, data):
        x, y = data
        first = self.first.trainable_variables
        second = self.second.trainable_variables
        if keras.backend.backend() == "torch":
            import torch

            loss = sparse_ce(y, self(x))
            first_grads = torch.autograd.grad(loss, [v.value for v in first], retain_graph=True)
            # the second part follows another loss
            second_grads = torch.autograd.grad(2.0 * loss, [v.value for v in second])
        else:
            import tensorflow as tf

            with tf.GradientTape(persistent=True) as tape:
                loss = sparse_ce(y, self(x))
                doubled = 2.0 * loss  # the second part follows another loss
            first_grads, second_grads = tape.gradient(loss, first), tape.gradient(doubled, second)
        self.first_optimizer.apply_gradients(zip(first_grads, first, strict=True))
        self.second_optimizer.apply_gradients(zip(second_grads, second, strict=True))
        return {"loss": loss}


@pytest.mark.skipif(keras.backend.backend() == "jax",
                    reason="JAX: only model.optimizer's state leaves the step "
                    "(test_jax_names_the_optimizers_it_cannot_see)")
def test_two_optimizers_get_their_own_norms():
    x, y = _data()
    keras.utils.set_random_seed(3)
    model = _TwoOptimizers()
    model(x[:1])
    model.compile(keras.optimizers.SGD(0.0), keras.optimizers.Adam(0.0, clipnorm=0.05))
    logger = GradientNormLogger()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        history = model.fit(x, y, batch_size=64, epochs=2, callbacks=[logger], verbose=0)
    first = reference_grads(model, x, y, variables=model.first.trainable_variables)
    second = reference_grads(model, x, y, loss=lambda t, p: 2.0 * sparse_ce(t, p),
                             variables=model.second.trainable_variables)
    first = [np.linalg.norm(g) for g in first]
    second = [min(np.linalg.norm(g), 0.05) for g in second]  # clipnorm of the second
    names = ["first/kernel", "first/bias", "second/kernel", "second/bias"]
    assert logger.history["step"] == [0, 1]
    for name, value in zip(names, first + second, strict=True):
        np.testing.assert_allclose(logger.history[f"grad_norm/{name}"], value, rtol=1e-5)
        np.testing.assert_allclose(history.history[f"grad_norm/{name}"], value, rtol=1e-5)
    for label, values in (("first_optimizer", first), ("second_optimizer", second)):
        np.testing.assert_allclose(history.history[f"grad_norm/{label}/global"],
                                   np.sqrt(np.sum(np.square(values))), rtol=1e-5)
    np.testing.assert_allclose(history.history["grad_norm/global"],
                               np.sqrt(np.sum(np.square(first + second))), rtol=1e-5)
    assert not np.isnan(np.concatenate([np.ravel(v) for v in logger.history.values()])).any()
    model.fit(x, y, batch_size=64, epochs=1, callbacks=[logger], verbose=0)
    assert logger.history["step"] == [0, 1, 2]  # steps of the optimizers that train


def test_an_optimizer_the_step_does_not_use_gives_one_warning_and_no_nan():
    # model.optimizer applies nothing (a train_step of its own that updates nothing)
    class NoApply(keras.Model):
        def train_step(self, *args):
            return {"loss": 0.0} if keras.backend.backend() != "jax" else (
                {"loss": 0.0}, args[0])

    inputs = keras.Input((8,))
    model = NoApply(inputs, keras.layers.Dense(3)(inputs))
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x, _ = _data()
    with pytest.warns(UserWarning, match="applies none through it") as record:
        history = model.fit(x, np.zeros((64, 3), "float32"), epochs=2, verbose=0,
                            callbacks=[GradientNormLogger()])
    assert len([w for w in record if "applies none" in str(w.message)]) == 1
    assert not any(k.startswith("grad_norm") for k in history.history)


NO_TENSORFLOW = textwrap.dedent("""
    import sys
    import numpy as np
    import recipes, callbacks
    import keras
    from keras_recipes.callbacks import GradientNormLogger, VanishingGradientDetector
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32"); y = rng.integers(0, 3, 64)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(5, activation="tanh"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    logger = GradientNormLogger()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0,
              callbacks=[logger, VanishingGradientDetector()])
    assert len(logger.history["step"]) == 4, logger.history
    print("TF", sorted(m for m in sys.modules if m.startswith("tensorflow"))[:5])
""")


def test_no_tensorflow_import_under_jax():
    # in the PyTorch run the same holds under torch (its environment may have no JAX)
    backend = "torch" if keras.backend.backend() == "torch" else "jax"
    pytest.importorskip(backend)
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", NO_TENSORFLOW], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "TF []" in done.stdout, done.stdout


def test_no_warning_from_the_tap_on_a_plain_model():
    x, y = _data()
    model = _model()
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[GradientNormLogger()])


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX: state only via the step")
def test_jax_names_the_optimizers_it_cannot_see():
    x, y = _data()
    model = _model()
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    model.critic_optimizer = keras.optimizers.Adam()
    logger = GradientNormLogger()
    with pytest.warns(UserWarning, match=r"critic_optimizer \(Adam\) cannot be seen"):
        history = model.fit(x, y, batch_size=64, epochs=1, callbacks=[logger], verbose=0)
    assert np.isfinite(history.history["grad_norm/global"]).all()


def test_fine_tune_with_the_logger_gives_one_continuous_history():
    from keras_recipes import fine_tune

    x, y = _data()
    model = _model()
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    logger = GradientNormLogger()
    history = fine_tune(model, (x, y), head_epochs=2, epochs=2, learning_rate=1e-9,
                        fine_tune_learning_rate=1e-9, batch_size=32, callbacks=[logger])
    record = logger.history
    assert record["step"] == list(range(8))  # 2 + 2 epochs of 2 steps, one record
    assert all(len(values) == 8 for values in record.values())
    hidden = np.asarray(record["grad_norm/hidden/kernel"])
    assert np.isnan(hidden[:4]).all() and np.isfinite(hidden[4:]).all()
    # the combined History has every column for every epoch (NaN while frozen)
    assert len(history.history["grad_norm/hidden/kernel"]) == 4
    assert np.isnan(history.history["grad_norm/hidden/kernel"][:2]).all()
    assert np.isfinite(history.history["grad_norm/out/kernel"]).all()


def test_an_epoch_longer_than_the_ring_loses_no_step():
    # JAX reads the ring at epoch end only: it holds a whole epoch
    x, y = _data(n=320)
    model = _model()
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    logger = GradientNormLogger(per_layer=False)
    model.fit(x, y, batch_size=1, epochs=1, callbacks=[logger], verbose=0)
    assert logger.history["step"] == list(range(320))
    assert np.isfinite(logger.history["grad_norm/global"]).all()


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("shape", [(), (7,), (5, 3), (3, 3, 2, 4), (2, 5, 6)])
def test_square_sum_is_the_sum_of_squares_for_every_rank(shape, dtype):
    from keras_recipes.callbacks._tap.norms import square_sum

    values = np.random.default_rng(0).normal(size=shape).astype(dtype)
    expected = float(np.sum(np.square(values.astype(np.float64))))
    result = keras.ops.convert_to_numpy(square_sum(keras.ops.convert_to_tensor(values)))
    assert result.shape == ()
    assert abs(float(result) - expected) <= 1e-6 * expected


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="a JAX train_step (stateless)")
def test_jax_step_applying_inside_a_cond_logs_the_norms():
    import jax

    class SkipNonFinite(keras.Sequential):
        def train_step(self, state, data):  # skip the update on non-finite gradients
            trainable, non_trainable, optimizer_vars, metrics_vars = state
            x, y = data

            def loss_fn(trainable, non_trainable):
                y_pred, non_trainable = self.stateless_call(trainable, non_trainable, x,
                                                            training=True)
                return self.compute_loss(x=x, y=y, y_pred=y_pred), non_trainable

            (loss, non_trainable), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                trainable, non_trainable)
            finite = jax.numpy.all(jax.numpy.stack(
                [jax.numpy.all(jax.numpy.isfinite(g)) for g in grads]))
            trainable, optimizer_vars = jax.lax.cond(
                finite, lambda: self.optimizer.stateless_apply(optimizer_vars, grads, trainable),
                lambda: (trainable, optimizer_vars))
            return {"loss": loss}, (trainable, non_trainable, optimizer_vars, metrics_vars)

    model = SkipNonFinite([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data()[0][:32, :4], np.random.default_rng(0).random((32, 1), dtype=np.float32)
    logger = GradientNormLogger()
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[logger])
    assert np.isfinite(history.history["grad_norm/global"]).all()
    assert len(logger.history["step"]) == 8


def test_loss_scale_optimizer_skipping_steps_repeats_the_norms_without_a_warning():
    # a huge initial scale: the first steps overflow, are skipped, and halve the scale
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.01),
                                                    initial_scale=2.0 ** 127)
    model = _model("sequential")
    model.compile(optimizer=optimizer, loss=lambda y, p: 1e4 * sparse_ce(y, p))
    x, y = _data()
    logger = GradientNormLogger()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[logger])
    applied = int(keras.ops.convert_to_numpy(optimizer.inner_optimizer.iterations))
    steps = 3 * -(-len(x) // 8)
    assert 0 < applied < steps  # some steps were skipped, later ones applied
    assert len(logger.history["step"]) == applied
    assert np.isfinite(history.history["grad_norm/global"][-1])


def test_norms_follow_keras_through_accumulation_clipping_and_loss_scaling_at_once():
    # The tap reads the gradients where Keras applies them: the mean of the two
    # accumulated batches, unscaled, then clipped per variable.
    x, y = _data(n=128)
    model = _model()
    model.compile(keras.optimizers.SGD(0.0, gradient_accumulation_steps=2, clipnorm=0.1,
                                       loss_scale_factor=64.0),
                  "sparse_categorical_crossentropy")
    logger = GradientNormLogger()
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, callbacks=[logger], verbose=0)
    first, second = (reference_grads(model, x[i:i + 64], y[i:i + 64]) for i in (0, 64))
    mean = [(a + b) / 2 for a, b in zip(first, second, strict=True)]
    assert logger.history["step"] == [0]  # one update from two batches
    for name, grad in zip(NAMES, mean, strict=True):
        expected = min(np.linalg.norm(grad), 0.1)
        np.testing.assert_allclose(logger.history[f"grad_norm/{name}"], [expected], rtol=1e-5)
    assert np.linalg.norm(mean[0]) > 0.15 and np.linalg.norm(mean[-1]) < 0.07  # clipped: some
