"""Shared fixtures: quiet TensorFlow, fixed seeds, the offline digits data."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed() -> None:
    keras.utils.set_random_seed(1234)


@pytest.fixture(scope="session")
def digits():
    from recipes.data import load_digits

    return load_digits()
