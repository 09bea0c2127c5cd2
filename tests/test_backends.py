"""recipes/_backend.py: the few backend-specific places, and no TensorFlow under JAX."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_recipes import _backend
from keras_recipes.optimizers import compile_recipe

ROOT = Path(__file__).resolve().parent.parent


def test_gradients_equal_the_closed_form_with_regularizer_and_inference_mode():
    """Linear model, MSE, L2 penalty; dropout and BN run in inference mode (deterministic)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    model = keras.Sequential([
        keras.Input((3,)), keras.layers.Dropout(0.5),
        keras.layers.Dense(1, kernel_regularizer=keras.regularizers.L2(0.1)),
    ])
    compile_recipe(model, "sgd", loss="mse", metrics=[])
    kernel, bias = (np.asarray(w, "float64") for w in model.get_weights())
    loss, (g_kernel, g_bias) = _backend.gradients(model, x, y)
    residual = x @ kernel + bias - y
    expected_loss = float((residual**2).mean() + 0.1 * (kernel**2).sum())
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
    np.testing.assert_allclose(g_kernel, 2 * x.T @ residual / len(x) + 0.2 * kernel,
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(g_bias, 2 * residual.mean(axis=0), rtol=1e-4, atol=1e-6)


def test_gradients_of_embedding_and_bn_have_variable_shapes():
    inputs = keras.Input((5,), dtype="int32")
    hidden = keras.layers.Embedding(20, 4)(inputs)
    hidden = keras.layers.BatchNormalization()(keras.layers.Flatten()(hidden))
    outputs = keras.layers.Dense(3, activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    compile_recipe(model)
    x = np.random.default_rng(1).integers(0, 20, (8, 5)).astype("int32")
    y = np.arange(8) % 3
    loss, grads = _backend.gradients(model, x, y)
    assert np.isfinite(loss) and len(grads) == len(model.trainable_variables)
    for variable, grad in zip(model.trainable_variables, grads):
        assert grad.shape == tuple(variable.shape), variable.path
    embedding = next(g for v, g in zip(model.trainable_variables, grads) if "embedding" in v.path)
    assert np.abs(embedding).sum() > 0  # sparse (TF IndexedSlices) made dense


def test_require_backend_names_the_feature_and_the_backend():
    backend = keras.backend.backend()
    _backend.require_backend("this", (backend,))  # supported: no error
    other = "jax" if backend != "jax" else "tensorflow"
    with pytest.raises(RuntimeError, match=rf"^feature X supports the '{other}' backend only; "
                                           rf"the Keras backend is '{backend}'\. do Y$"):
        _backend.require_backend("feature X", (other,), "do Y")


def test_compile_recipe_runs_32_steps_per_execution_without_a_strategy():
    model = compile_recipe(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]),
                           loss="mse", metrics=[])
    assert _backend.replicas_in_sync(model) == 1
    # Keras's torch trainer accepts only 1
    assert model.steps_per_execution == (1 if keras.backend.backend() == "torch" else 32)


def test_explicit_steps_per_execution_on_torch_is_one_early_error():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    if keras.backend.backend() != "torch":
        compile_recipe(model, loss="mse", metrics=[], steps_per_execution=4)
        assert model.steps_per_execution == 4
        return
    with pytest.raises(ValueError, match=r"^`steps_per_execution` > 1 supports the backends "
                                         r"\['tensorflow', 'jax'\]; the Keras backend is "
                                         r"'torch'.*received steps_per_execution=4\.$"):
        compile_recipe(model, loss="mse", metrics=[], steps_per_execution=4)
    compile_recipe(model, loss="mse", metrics=[], steps_per_execution=1)
    assert model.steps_per_execution == 1


NO_TENSORFLOW = textwrap.dedent("""
    import sys
    import numpy as np
    import recipes, callbacks
    assert recipes.compile_recipe  # lazy exports resolve
    data = recipes.load_digits()
    x, y = data.train[0][:256], data.train[1][:256]
    model = recipes.default_dnn(data.input_shape, data.n_classes)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[
        callbacks.InitialLossCheck(x[:64], y[:64]), callbacks.ActivationStats(x[:64])])
    assert recipes.checks.check_gradients(model, x[:32], y[:32]).passed
    recipes.checks.check_initial_loss(model, x, y)
    recipes.find_learning_rate(model, x, y, batch_size=16, num_steps=12, verbose=0)
    import keras_tuner  # 1.4 follows the Keras backend
    hypermodel = recipes.DNNHyperModel(data.input_shape, 10, n_hidden=1, units=8,
                                       activations="elu", optimizers="adam", batch_sizes=32)
    tuner = keras_tuner.RandomSearch(hypermodel, objective=hypermodel.objective, max_trials=2,
                                     directory=sys.argv[1], seed=1)
    tuner.search(x, y, validation_data=data.valid, epochs=1, verbose=0)
    assert [t.status for t in tuner.oracle.trials.values()] == ["COMPLETED"] * 2
    tensorflow = sorted(name for name in sys.modules if name.startswith("tensorflow"))
    print("TENSORFLOW", tensorflow[:5], len(tensorflow))
""")


@pytest.mark.skipif(keras.backend.backend() not in ("jax", "torch"),
                    reason="the JAX (and PyTorch) run checks it")
def test_nothing_imports_tensorflow_under_jax(tmp_path):
    """In a fresh process: build, compile, fit with callbacks, checks, LR finder, keras-tuner.

    Keras itself imports TensorFlow when it is installed in `keras.utils.set_random_seed`
    and in `get_config` serialization (`clone_model`, saving); those are left out here.
    The same holds on PyTorch.
    """
    backend = keras.backend.backend()
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, str(tmp_path)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "TENSORFLOW [] 0" in result.stdout, result.stdout
