"""The client-model corpus (tests/corpus.py) under the package's callbacks (issue 10).

Acceptance 1: every healthy family trains 3 epochs with GradientNormLogger,
VanishingGradientDetector, ActivationStats and InitialLossCheck together, over 3
seeds: no detector finding, no NaN in the logs, the history keys present, and the
model saves and loads. Acceptance 2: every unhealthy family is flagged within its
first epoch with the right kind (see `corpus.EXPECTED`; that they really train to
chance or diverge is measured in BENCHMARKS.md by `benchmarks/detector_corpus.py`).
"""

from __future__ import annotations

import math
import warnings

import corpus  # tests/ is on sys.path (pytest's rootdir-less test modules)
import keras
import numpy as np
import pytest

from keras_recipes.callbacks.activations import ActivationStats
from keras_recipes.callbacks.checks import InitialLossCheck
from keras_recipes.callbacks.gradients import (
    GradientNormLogger,
    GradientWarning,
    VanishingGradientDetector,
)

EPOCHS = 3
# families that cannot pass yet for a reason in another branch (removed after merging)
NEEDS: dict[str, str] = {}


def _skip_unsupported(name: str) -> None:
    if name in NEEDS:
        pytest.skip(NEEDS[name])
    if name == "gan" and keras.backend.backend() not in ("tensorflow", "torch"):
        pytest.skip("the corpus GAN's train_step is written for TensorFlow and PyTorch")


def _tap_supported() -> None:
    reason = corpus.gradient_hook_missing()
    if reason:
        pytest.skip(reason)


def _fit(case: corpus.Case, callbacks: list, epochs: int = EPOCHS) -> keras.callbacks.History:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradientWarning)
        return case.model.fit(case.x, case.y, batch_size=case.batch_size, epochs=epochs,
                              callbacks=callbacks, verbose=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", corpus.HEALTHY)
def test_healthy_family_trains_with_every_callback(name, seed, tmp_path):
    _skip_unsupported(name)
    _tap_supported()
    if seed and keras.backend.backend() != "tensorflow":
        # CI time: JAX compiles each new model for seconds; 3 seeds run on TensorFlow
        pytest.skip("seeds 1-2 run on TensorFlow only (CI time); seed 0 on every backend")
    case = corpus.build(name, seed=seed)
    logger, detector = GradientNormLogger(), VanishingGradientDetector()
    stats = ActivationStats(case.probe)
    callbacks = [logger, detector, stats]
    check = None
    if case.check_xy is not None:
        check = InitialLossCheck(*case.check_xy)
        callbacks.append(check)
    history = _fit(case, callbacks).history
    assert detector.events == [], [e["message"] for e in detector.events]
    assert "grad_norm/global" in history and case.metric in history
    assert all(len(values) == EPOCHS for values in history.values())
    assert all(math.isfinite(v) for values in history.values() for v in values), history
    assert len(logger.history["step"]) == EPOCHS * math.ceil(_n(case) / case.batch_size)
    assert stats.history and all(np.isfinite(s).all() for layer in stats.history.values()
                                 for s in layer.values())
    if check is not None:
        # the check ran on the real loss; whether the family's output layer is calibrated
        # (ok) is its own finding, recorded in BENCHMARKS.md
        assert check.expected is not None and math.isfinite(check.measured), check.message
    if seed == 0:
        _round_trip(case, tmp_path / f"{name}.keras")


def _n(case: corpus.Case) -> int:
    x = case.x
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)


def _round_trip(case: corpus.Case, path) -> None:
    case.model.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # custom compile() signatures: compile config skipped
        loaded = keras.saving.load_model(path)
    before = keras.tree.flatten(case.model.predict(case.probe, verbose=0))
    after = keras.tree.flatten(loaded.predict(case.probe, verbose=0))
    for a, b in zip(before, after, strict=True):
        np.testing.assert_allclose(np.asarray(a, "float32"), np.asarray(b, "float32"),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", corpus.UNHEALTHY)
def test_unhealthy_family_flagged_in_first_epoch_with_the_right_kind(name):
    _tap_supported()
    case = corpus.build(name, seed=0)
    detector = VanishingGradientDetector()
    _fit(case, [detector], epochs=1)
    kinds = [e["kind"] for e in detector.events]
    assert corpus.EXPECTED[name] in kinds, (name, [e["message"] for e in detector.events])
    assert all(e["epoch"] == 0 for e in detector.events)
    wrong = {"vanishing": {"exploding", "non_finite"}, "exploding": {"vanishing"},
             "non_finite": {"vanishing"}}[corpus.EXPECTED[name]]
    assert not wrong & set(kinds), kinds
    event = next(e for e in detector.events if e["kind"] == corpus.EXPECTED[name])
    layer_names = {layer.name for layer in case.model.layers}
    named = [n for n in layer_names if f"'{n}'" in event["message"] or f" {n}" in event["message"]]
    assert named, event["message"]  # the finding speaks the model's layer names


def test_initial_loss_check_on_the_gan_is_a_clear_error():
    # the GAN has no compiled loss (its train_step computes its own): nothing to expect
    if keras.backend.backend() not in ("tensorflow", "torch"):
        pytest.skip("the corpus GAN's train_step is written for TensorFlow and PyTorch")
    case = corpus.build("gan", n=64)
    assert case.check_xy is None
    check = InitialLossCheck(case.x, np.zeros(len(case.x)))
    with pytest.raises((TypeError, ValueError), match="loss"):
        _fit(case, [check], epochs=1)


@pytest.mark.parametrize("name", ["custom_step", "transformer", "mixed_precision"])
def test_backend_specific_families_fit_without_the_gradient_hook(name):
    # while the gradient hook is missing on a backend, the families with their own
    # train_step, custom layers or a dtype policy still prove they run on it
    if not corpus.gradient_hook_missing():
        pytest.skip("the callback tests above fit every family on this backend")
    case = corpus.build(name, n=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = case.model.fit(case.x, case.y, batch_size=case.batch_size, epochs=1, verbose=0)
    assert case.metric in history.history
