"""A corpus of client models, written after public Keras reference architectures.

Each family is one builder `build(name, seed=0, n=256)` returning a `Case`: the
compiled model and its tiny data (scikit-learn's bundled digits: 8x8 images,
upsampled to 16x16 for the convnets, or token sequences made from the pixel
intensities), so that tests (`tests/test_corpus.py`) and benchmarks
(`benchmarks/detector_corpus.py`, `benchmarks/monitor_overhead.py`) share them.

HEALTHY families train normally; UNHEALTHY ones are the lectures' sick networks
(plus a recurrent and a learning-rate case), each measured to train to chance or
diverge (see BENCHMARKS.md, "Detector corpus"). `EXPECTED[name]` is the finding a
gradient detector must report on an unhealthy family.

Works on the TensorFlow, JAX and PyTorch backends; the two families with their own
`train_step` (`custom_step`, `gan`) implement it per backend.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from corpus_layers import GAN, CustomStep, TokenAndPositionEmbedding, TransformerBlock

HEALTHY = ("mlp", "convnet", "convnet_bn", "lstm", "transformer", "multi_io", "custom_step",
           "gan", "regression", "mixed_precision")
UNHEALTHY = ("sigmoid_10", "sigmoid_20", "tanh_normal_10", "rnn_exploding", "high_lr")
EXPECTED = {"sigmoid_10": "vanishing", "sigmoid_20": "vanishing",
            "tanh_normal_10": "exploding", "rnn_exploding": "exploding",
            "high_lr": "non_finite"}
VOCAB = 17  # tokens: pixel intensities 0..16
BATCH = 32


@dataclasses.dataclass
class Case:
    """One corpus model with its data: `model.fit(x, y, batch_size=batch_size)`."""

    name: str
    model: keras.Model
    x: Any
    y: Any
    batch_size: int = BATCH
    # what InitialLossCheck is given (None: the family has no compiled loss)
    check_xy: tuple[Any, Any] | None = None
    probe: Any = None  # ActivationStats probe batch
    metric: str = "accuracy"  # the history key that says how the model trained

    def __post_init__(self) -> None:
        if self.probe is None:
            self.probe = _head(self.x, 64)
        if self.check_xy is None and self.model.loss is not None:
            self.check_xy = (_head(self.x, 128), _head(self.y, 128))


def _head(data: Any, k: int) -> Any:
    if isinstance(data, dict):
        return {key: value[:k] for key, value in data.items()}
    return None if data is None else data[:k]


# ----------------------------------------------------------------------------- data
_DIGITS: dict[str, np.ndarray] = {}


def digits(n: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n` digits as 8x8x1 float32 images in [0, 1] and integer labels (shuffled by `seed`)."""
    if not _DIGITS:
        from sklearn.datasets import load_digits

        data = load_digits()
        _DIGITS["x"] = (data.images / 16.0).astype("float32")[..., None]
        _DIGITS["y"] = data.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(_DIGITS["y"]))[:n]
    return _DIGITS["x"][order], _DIGITS["y"][order]


def tokens_of(images: np.ndarray) -> np.ndarray:
    """Token sequences (length 64, vocabulary 17) from 8x8 images in [0, 1]."""
    return np.rint(images.reshape(len(images), -1) * 16).astype("int32")


def upsample(images: np.ndarray) -> np.ndarray:
    """8x8 -> 16x16 images (each pixel repeated 2x2), so valid 3x3 convs fit."""
    return np.kron(images[..., 0], np.ones((2, 2), "float32"))[..., None]


def _compile(model: keras.Model, optimizer: Any, loss: Any, **kwargs: Any) -> keras.Model:
    model.compile(optimizer=optimizer, loss=loss, **kwargs)
    return model


# -------------------------------------------------------------------- healthy families
def mlp(seed: int = 0, n: int = 256) -> Case:
    """The lectures' MLP: Flatten, Dense 300 / 100 ELU + He, softmax; Adam."""
    keras.utils.set_random_seed(seed)
    x, y = digits(n, seed)
    model = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal", name="hidden1"),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal", name="hidden2"),
        keras.layers.Dense(10, activation="softmax", name="output"),
    ], name="mlp")
    _compile(model, keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
             metrics=["accuracy"])
    return Case("mlp", model, x, y)


def convnet(seed: int = 0, n: int = 256) -> Case:
    """The MNIST convnet: Conv 32 / MaxPool / Conv 64 / MaxPool / Flatten / Dropout / softmax."""
    keras.utils.set_random_seed(seed)
    x, y = digits(n, seed)
    model = keras.Sequential([
        keras.Input((16, 16, 1)),
        keras.layers.Conv2D(32, 3, activation="relu", name="conv2d"),
        keras.layers.MaxPooling2D(2, name="pool1"),
        keras.layers.Conv2D(64, 3, activation="relu", name="conv2d_1"),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dropout(0.5, name="dropout"),
        keras.layers.Dense(10, activation="softmax", name="dense"),
    ], name="convnet")
    _compile(model, keras.optimizers.Adam(1e-3), "categorical_crossentropy",
             metrics=["accuracy"])
    return Case("convnet", model, upsample(x), keras.utils.to_categorical(y, 10))


def convnet_bn(seed: int = 0, n: int = 256) -> Case:
    """Conv + BN, a SeparableConv2D and a DepthwiseConv2D block, global average pooling."""
    keras.utils.set_random_seed(seed)
    x, y = digits(n, seed)
    inputs = keras.Input((16, 16, 1), name="image")
    h = keras.layers.Conv2D(32, 3, padding="same", use_bias=False, name="stem")(inputs)
    h = keras.layers.BatchNormalization(name="stem_bn")(h)
    h = keras.layers.Activation("relu", name="stem_relu")(h)
    h = keras.layers.SeparableConv2D(64, 3, padding="same", use_bias=False, name="sep")(h)
    h = keras.layers.BatchNormalization(name="sep_bn")(h)
    h = keras.layers.Activation("relu", name="sep_relu")(h)
    h = keras.layers.MaxPooling2D(2, name="pool")(h)
    h = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="depthwise")(h)
    h = keras.layers.BatchNormalization(name="depthwise_bn")(h)
    h = keras.layers.Activation("relu", name="depthwise_relu")(h)
    h = keras.layers.Conv2D(64, 1, activation="relu", name="pointwise")(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    outputs = keras.layers.Dense(10, activation="softmax", name="classes")(h)
    model = keras.Model(inputs, outputs, name="convnet_bn")
    _compile(model, keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
             metrics=["accuracy"])
    return Case("convnet_bn", model, upsample(x), y)


def lstm(seed: int = 0, n: int = 256) -> Case:
    """Embedding + LSTM binary classifier on logits (`from_logits=True`): is the digit >= 5?"""
    keras.utils.set_random_seed(seed)
    x, y = digits(n, seed)
    model = keras.Sequential([
        keras.Input((64,), dtype="int32"),
        keras.layers.Embedding(VOCAB, 16, name="embedding"),
        keras.layers.LSTM(32, name="lstm"),
        keras.layers.Dense(1, name="logit"),
    ], name="lstm")
    _compile(model, keras.optimizers.Adam(3e-3),
             keras.losses.BinaryCrossentropy(from_logits=True),
             metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")])
    return Case("lstm", model, tokens_of(x), (y >= 5).astype("float32")[:, None])


def transformer(seed: int = 0, n: int = 256) -> Case:
    """Transformer-block text classifier: token + position embedding, one block, pooling."""
    keras.utils.set_random_seed(seed)
    x, y = digits(n, seed)
    inputs = keras.Input((64,), dtype="int32", name="tokens")
    h = TokenAndPositionEmbedding(64, VOCAB, 32, name="embedding")(inputs)
    h = TransformerBlock(32, 2, 32, name="block")(h)
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    h = keras.layers.Dropout(0.1, name="dropout")(h)
    h = keras.layers.Dense(32, activation="relu", name="hidden")(h)
    outputs = keras.layers.Dense(10, activation="softmax", name="classes")(h)
    model = keras.Model(inputs, outputs, name="transformer")
    _compile(model, keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
             metrics=["accuracy"])
    return Case("transformer", model, tokens_of(x), y)


def multi_io(seed: int = 0, n: int = 256) -> Case:
    """Two inputs (tokens, pixels), two outputs (digit, parity), a loss each, `loss_weights`."""
    keras.utils.set_random_seed(seed)
    x, y = digits(n, seed)
    tokens = keras.Input((64,), dtype="int32", name="tokens")
    pixels = keras.Input((64,), name="pixels")
    t = keras.layers.Embedding(VOCAB, 16, name="embedding")(tokens)
    t = keras.layers.LSTM(16, name="lstm")(t)
    p = keras.layers.Dense(32, activation="relu", name="pixel_features")(pixels)
    h = keras.layers.Concatenate(name="concat")([t, p])
    digit = keras.layers.Dense(10, activation="softmax", name="digit")(h)
    parity = keras.layers.Dense(1, activation="sigmoid", name="parity")(h)
    model = keras.Model({"tokens": tokens, "pixels": pixels},
                        {"digit": digit, "parity": parity}, name="multi_io")
    _compile(model, keras.optimizers.Adam(3e-3),
             {"digit": "sparse_categorical_crossentropy", "parity": "binary_crossentropy"},
             loss_weights={"digit": 1.0, "parity": 0.2},
             metrics={"digit": ["accuracy"], "parity": ["accuracy"]})
    inputs = {"tokens": tokens_of(x), "pixels": x.reshape(len(x), -1)}
    targets = {"digit": y, "parity": (y % 2).astype("float32")[:, None]}
    return Case("multi_io", model, inputs, targets, metric="digit_accuracy")


def custom_step(seed: int = 0, n: int = 256) -> Case:
    """A subclassed (Functional-constructed) model with its own `train_step`."""
    keras.utils.set_random_seed(seed)
    x, y = digits(n, seed)
    inputs = keras.Input((64,), name="pixels")
    h = keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal",
                           name="hidden1")(inputs)
    h = keras.layers.Dense(32, activation="relu", kernel_initializer="he_normal",
                           name="hidden2")(h)
    outputs = keras.layers.Dense(10, activation="softmax", name="output")(h)
    model = CustomStep(inputs, outputs, name="custom_step")
    _compile(model, keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
             metrics=["accuracy"])
    return Case("custom_step", model, x.reshape(len(x), -1), y)


def gan(seed: int = 0, n: int = 256) -> Case:
    """GAN on flattened digits: generator and discriminator, two Adam optimizers (TF and torch)."""
    keras.utils.set_random_seed(seed)
    x, _ = digits(n, seed)
    latent = 16
    discriminator = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(64, name="d_hidden"), keras.layers.LeakyReLU(0.2, name="d_act"),
        keras.layers.Dense(1, name="d_logit"),
    ], name="discriminator")
    generator = keras.Sequential([
        keras.Input((latent,)),
        keras.layers.Dense(64, name="g_hidden"), keras.layers.LeakyReLU(0.2, name="g_act"),
        keras.layers.Dense(64, activation="sigmoid", name="g_pixels"),
    ], name="generator")
    model = GAN(discriminator, generator, latent, name="gan")
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    flat = x.reshape(len(x), -1)
    model(flat[:1])  # built, so that it saves its weights without a warning
    return Case("gan", model, flat, None, metric="g_loss")


def regression(seed: int = 0, n: int = 256) -> Case:
    """Regression MLP (MSE loss, MAE metric): the mean intensity of the left half of the image."""
    keras.utils.set_random_seed(seed)
    x, _ = digits(n, seed)
    flat = x.reshape(len(x), -1)
    target = (x[:, :, :4, 0].mean(axis=(1, 2)) * 4.0).astype("float32")[:, None]
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal", name="hidden1"),
        keras.layers.Dense(32, activation="relu", kernel_initializer="he_normal", name="hidden2"),
        keras.layers.Dense(1, name="value"),
    ], name="regression")
    _compile(model, keras.optimizers.Adam(1e-3), "mse", metrics=["mae"])
    return Case("regression", model, flat, target, metric="mae")


def mixed_precision(seed: int = 0, n: int = 256) -> Case:
    """The lectures' MLP under `mixed_float16` (compile wraps Adam in a LossScaleOptimizer)."""
    keras.utils.set_random_seed(seed)
    x, y = digits(n, seed)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = keras.Sequential([
            keras.Input((64,)),
            keras.layers.Dense(128, activation="elu", kernel_initializer="he_normal",
                               name="hidden1"),
            keras.layers.Dense(64, activation="elu", kernel_initializer="he_normal",
                               name="hidden2"),
            keras.layers.Dense(10, activation="softmax", dtype="float32", name="output"),
        ], name="mixed_precision")
        _compile(model, keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                 metrics=["accuracy"])
    finally:
        keras.config.set_dtype_policy(previous)
    return Case("mixed_precision", model, x.reshape(len(x), -1), y)


# ------------------------------------------------------------------ unhealthy families
def _deep_mlp(name: str, seed: int, n: int, depth: int, activation: str, initializer: Any,
              optimizer: Any) -> Case:
    keras.utils.set_random_seed(seed)
    x, y = digits(n, seed)
    layers: list[Any] = [keras.Input((64,))]
    for i in range(depth):
        layers.append(keras.layers.Dense(100, activation=activation,
                                         kernel_initializer=initializer, name=f"hidden{i + 1}"))
    layers.append(keras.layers.Dense(10, activation="softmax", name="output"))
    model = keras.Sequential(layers, name=name)
    _compile(model, optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
    return Case(name, model, x.reshape(len(x), -1), y)


def sigmoid_10(seed: int = 0, n: int = 256) -> Case:
    """Lecture 001's sick net: 10 hidden sigmoid layers of 100, Glorot uniform, SGD 0.01."""
    return _deep_mlp("sigmoid_10", seed, n, 10, "sigmoid", "glorot_uniform",
                     keras.optimizers.SGD(0.01))


def sigmoid_20(seed: int = 0, n: int = 256) -> Case:
    """20 hidden sigmoid layers of 100, Glorot uniform, SGD 0.01."""
    return _deep_mlp("sigmoid_20", seed, n, 20, "sigmoid", "glorot_uniform",
                     keras.optimizers.SGD(0.01))


def tanh_normal_10(seed: int = 0, n: int = 256) -> Case:
    """10 hidden tanh layers of 100 with RandomNormal(stddev=1) kernels (far too large), SGD."""
    return _deep_mlp("tanh_normal_10", seed, n, 10, "tanh",
                     keras.initializers.RandomNormal(stddev=1.0, seed=seed),
                     keras.optimizers.SGD(0.01))


def rnn_exploding(seed: int = 0, n: int = 256) -> Case:
    """Linear SimpleRNN over 64 steps, recurrent matrix of gain 1.2 (1.2^64 ~ 1e5), MSE head.

    It regresses the digit (0-9) so that the exploded output gives huge gradients
    (a softmax head would saturate and give exactly zero gradients on some backends).
    """
    keras.utils.set_random_seed(seed)
    x, y = digits(n, seed)
    model = keras.Sequential([
        keras.Input((64, 1)),
        keras.layers.SimpleRNN(32, activation=None, name="rnn",
                               recurrent_initializer=keras.initializers.Orthogonal(1.2, seed)),
        keras.layers.Dense(1, name="value"),
    ], name="rnn_exploding")
    _compile(model, keras.optimizers.SGD(0.01), "mse", metrics=["mae"])
    return Case("rnn_exploding", model, x.reshape(len(x), 64, 1), y.astype("float32")[:, None],
                metric="mae")


def high_lr(seed: int = 0, n: int = 256) -> Case:
    """The regression MLP with SGD at learning rate 1: the MSE diverges to Inf/NaN.

    (A softmax classifier is a poor case: at a huge rate its softmax saturates and
    the gradients become exactly zero on some backends instead of non-finite.)
    """
    case = regression(seed, n)
    case.model.compile(keras.optimizers.SGD(1.0), "mse", metrics=["mae"])
    case.name = "high_lr"
    return case


BUILDERS: dict[str, Callable[..., Case]] = {
    name: globals()[name] for name in HEALTHY + UNHEALTHY
}


def build(name: str, seed: int = 0, n: int = 256) -> Case:
    """Build the corpus family `name` (one of `HEALTHY + UNHEALTHY`) with `n` samples."""
    if name not in BUILDERS:
        raise ValueError(f"unknown corpus family {name!r}; known: {sorted(BUILDERS)}.")
    return BUILDERS[name](seed=seed, n=n)


def gradient_hook_missing() -> str | None:
    """Why the gradient callbacks cannot run on this backend yet (None when they can)."""
    if keras.backend.backend() == "tensorflow":
        return None
    from keras_recipes.callbacks._tap import tap as _gradient_tap

    if keras.backend.backend() not in getattr(_gradient_tap, "BACKENDS", ("tensorflow",)):
        return f"needs tap: the gradient hook on {keras.backend.backend()}"
    return None
