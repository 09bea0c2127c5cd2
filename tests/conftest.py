"""Shared fixtures: quiet TensorFlow, fixed seeds, the offline digits data, backend markers.

The suite runs once per Keras backend (`.ci/run`: TensorFlow, then
`KERAS_BACKEND=jax`). A test marked `@pytest.mark.tensorflow_only` (tf.distribute,
`set_cpu_threads`, the notebooks) is skipped on the other backends, with a reason
that names the backend in use; `@pytest.mark.tensorflow_only(reason="...")` adds why.
A slow test of backend-neutral code (keras-tuner's gRPC oracle, search-space rules) is
marked `@pytest.mark.backend_neutral(reason="...")`: it runs once, in the TensorFlow run,
to keep the JAX run lean.
PyTorch (`KERAS_BACKEND=torch`, not in CI; docs/backends.md says how to run it): a test
marked `@pytest.mark.torch_unsupported(reason="...")` is skipped there, with its reason and
the backend's name. It marks a test of a situation Keras's torch backend cannot produce
(`steps_per_execution > 1`, which its trainer rejects; a train step compiled once, where
torch runs eagerly), never a package feature that fails on torch: such a feature raises an
error naming the backend, and a test asserts that error.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import keras  # noqa: E402
import pytest  # noqa: E402

BACKEND = keras.backend.backend()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if BACKEND == "tensorflow":
        return
    skips = [("tensorflow_only", "TensorFlow-only"),
             ("backend_neutral", "backend-neutral, run in the TensorFlow run")]
    if BACKEND == "torch":
        skips.append(("torch_unsupported", "not possible on PyTorch"))
    for item in items:
        for name, label in skips:
            marker = item.get_closest_marker(name)
            if marker is None:
                continue
            why = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(
                reason=f"{label}{': ' + why if why else ''}; the Keras backend is {BACKEND!r}"))


@pytest.fixture(autouse=True)
def _seed() -> None:
    keras.utils.set_random_seed(1234)


@pytest.fixture(scope="session")
def digits():
    from keras_recipes.data import load_digits

    return load_digits()
