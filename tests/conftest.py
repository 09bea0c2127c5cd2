"""Shared fixtures: quiet TensorFlow, fixed seeds, the offline digits data, backend markers.

The suite runs once per Keras backend (`.ci/run`: TensorFlow, then
`KERAS_BACKEND=jax`). A test marked `@pytest.mark.tensorflow_only` (tf.distribute,
`set_cpu_threads`, the notebooks) is skipped on the other backends, with a reason
that names the backend in use; `@pytest.mark.tensorflow_only(reason="...")` adds why.
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
    for item in items:
        marker = item.get_closest_marker("tensorflow_only")
        if marker is None:
            continue
        why = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
        item.add_marker(pytest.mark.skip(
            reason=f"TensorFlow-only{': ' + why if why else ''}; "
                   f"the Keras backend is {BACKEND!r}"))


@pytest.fixture(autouse=True)
def _seed() -> None:
    keras.utils.set_random_seed(1234)


@pytest.fixture(scope="session")
def digits():
    from recipes.data import load_digits

    return load_digits()
