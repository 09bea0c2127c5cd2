"""greedy_layerwise_pretraining: each stage learns, the encoder is ready for a head."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_recipes.pretraining import greedy_layerwise_pretraining
from keras_recipes.transfer import reuse_pretrained


def test_each_stage_reconstruction_loss_falls(digits):
    x = digits.train[0][:400]
    encoder = greedy_layerwise_pretraining(x, hidden=(32, 16), epochs=4, seed=3)
    losses = encoder.pretraining_losses
    assert len(losses) == 2 and all(len(stage) == 4 for stage in losses)
    for stage in losses:
        assert stage[-1] < 0.8 * stage[0]
    assert [layer.name for layer in encoder.layers] == ["pretrained_1", "pretrained_2"]
    assert encoder.output_shape == (None, 16) and not encoder.compiled
    # the pretrained encoder takes a new head without being changed by its training
    classifier = reuse_pretrained(encoder, drop=0, head="multiclass:10", freeze=False)
    assert classifier.compiled and classifier.output_shape == (None, 10)
    before = [np.array(w) for w in encoder.get_weights()]
    classifier.fit(x[:50], digits.train[1][:50], epochs=1, verbose=0)
    after = encoder.get_weights()
    assert all(np.array_equal(a, np.array(b)) for a, b in zip(before, after, strict=True))


def test_images_are_flattened_and_noise_is_accepted():
    x = np.random.default_rng(0).random((64, 4, 4)).astype("float32")
    encoder = greedy_layerwise_pretraining(x, hidden=(5,), epochs=1, noise=0.1, seed=0)
    assert encoder.layers[0].name == "flatten" and encoder.output_shape == (None, 5)
    assert isinstance(encoder.layers[-1], keras.layers.Dense)


def test_bad_arguments():
    x = np.zeros((10, 3), dtype="float32")
    with pytest.raises(TypeError, match="hidden"):
        greedy_layerwise_pretraining(x, hidden=8)
    with pytest.raises(ValueError, match="hidden"):
        greedy_layerwise_pretraining(x, hidden=(8, 0))
    with pytest.raises(ValueError, match="x_unlabeled"):
        greedy_layerwise_pretraining(np.zeros(5), hidden=(2,))
    with pytest.raises(ValueError, match="noise"):
        greedy_layerwise_pretraining(x, hidden=(2,), noise=-1)
