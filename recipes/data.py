"""Data sets for the recipes: offline digits, Fashion-MNIST, and the transfer-learning split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .callbacks._validation import check_fraction, check_positive

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

Pair = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Splits:
    """Train, validation and test sets as `(x, y)` pairs, ready for `fit`.

    Example:

    ```python
    data = load_digits()
    model.fit(*data.train, validation_data=data.valid)
    model.evaluate(*data.test)
    ```

    Args:
        train: `(x, y)` used for fitting.
        valid: `(x, y)` for validation (early stopping, checklists, tuning).
        test: `(x, y)` held out until the end.
        class_names: the label of each class index (empty for regression).
        task: `"multiclass"`, `"binary"` (labels 0/1) or `"regression"`.
    """

    train: Pair
    valid: Pair
    test: Pair
    class_names: tuple[str, ...]
    task: str = "multiclass"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample (no batch dimension)."""
        return tuple(self.train[0].shape[1:])

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for regression)."""
        return len(self.class_names)

    @property
    def n_outputs(self) -> int:
        """Units of the output layer: classes, 1 for binary, targets for regression."""
        if self.task == "multiclass":
            return self.n_classes
        y = self.train[1]
        return 1 if self.task == "binary" or y.ndim == 1 else int(y.shape[-1])


@dataclass(frozen=True)
class TransferSplit:
    """Lecture 001's two tasks: A (most classes) and B (a small binary task).

    Example:

    ```python
    split = split_for_transfer(load_digits(), task_b_classes=(5, 6), n_train_b=30)
    model_a = default_dnn(split.a.input_shape, split.a.n_classes)
    ```

    Args:
        a: task A, every class but the two of task B, labels renumbered 0..C-3.
        b: task B, binary: label 1 for `task_b_classes[1]`, 0 for `[0]`.
    """

    a: Splits
    b: Splits


def load_digits(
    *,
    valid_size: float = 0.15,
    test_size: float = 0.2,
    flatten: bool = True,
    seed: int = 42,
) -> Splits:
    """Load scikit-learn's bundled 8x8 digits (1,797 images, no network), scaled to [0, 1].

    The split is stratified and fixed by `seed`.

    Example:

    ```python
    data = load_digits()
    data.train[0].shape, data.n_classes  # (1167, 64), 10
    ```

    Args:
        valid_size: fraction of all samples for validation, in (0, 1).
        test_size: fraction of all samples for test, in (0, 1).
        flatten: 64 features per sample if True, else 8x8 images.
        seed: seed of the stratified split.
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    check_fraction("valid_size", valid_size)
    check_fraction("test_size", test_size)
    check_positive("valid_size", valid_size)
    check_positive("test_size", test_size)
    if valid_size + test_size >= 1:
        raise ValueError(
            "`valid_size + test_size` must be < 1 to leave training data; received "
            f"{valid_size} + {test_size}."
        )
    digits = sklearn_digits()
    x = (digits.images / 16.0).astype("float32")
    if flatten:
        x = x.reshape(len(x), -1)
    y = digits.target.astype("int64")
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_size, stratify=y, random_state=seed
    )
    x_train, x_valid, y_train, y_valid = train_test_split(
        x_rest, y_rest, test_size=valid_size / (1 - test_size), stratify=y_rest,
        random_state=seed,
    )
    names = tuple(str(i) for i in range(10))
    return Splits((x_train, y_train), (x_valid, y_valid), (x_test, y_test), names)


def load_fashion_mnist(*, n_valid: int = 5000, flatten: bool = False) -> Splits:
    """Download (once) Fashion-MNIST through `keras.datasets`, scaled to [0, 1].

    As in the lectures, the first `n_valid` training images form the
    validation set. Needs the network on first use (Keras caches the files in
    `~/.keras/datasets`); a failed download raises a `RuntimeError` that says
    so and points to the offline `load_digits()`.

    Example:

    ```python
    data = load_fashion_mnist()
    data.train[0].shape  # (55000, 28, 28)
    ```

    Args:
        n_valid: training images held out for validation (0 < n_valid < 60000).
        flatten: 784 features per sample if True, else 28x28 images.
    """
    import keras

    check_positive("n_valid", n_valid, integer=True)
    if n_valid >= 60000:
        raise ValueError(f"`n_valid` must be < 60000; received {n_valid}.")
    try:
        (x_full, y_full), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    except Exception as error:  # noqa: BLE001 - any failure of the download is reported
        raise RuntimeError(
            f"Could not download Fashion-MNIST through keras.datasets ({error!r}). "
            "Without network access use the bundled offline data: keras_recipes.load_digits()."
        ) from error
    x_full = (np.asarray(x_full) / 255.0).astype("float32")
    x_test = (np.asarray(x_test) / 255.0).astype("float32")
    if flatten:
        x_full = x_full.reshape(len(x_full), -1)
        x_test = x_test.reshape(len(x_test), -1)
    y_full = np.asarray(y_full).astype("int64")
    y_test = np.asarray(y_test).astype("int64")
    return Splits(
        (x_full[n_valid:], y_full[n_valid:]),
        (x_full[:n_valid], y_full[:n_valid]),
        (x_test, y_test),
        FASHION_MNIST_CLASSES,
    )


def split_for_transfer(
    data: Splits,
    *,
    task_b_classes: Sequence[int] = (5, 6),
    n_train_b: int = 200,
    seed: int = 42,
) -> TransferSplit:
    """Make lecture 001's task A / task B split for transfer learning.

    Task A keeps every class except the two of task B (Hands-On ML: all
    Fashion-MNIST classes but sandals and shirts). Task B is binary on those
    two classes (label 1 for `task_b_classes[1]`) with only `n_train_b`
    training samples; its validation and test sets keep every sample of the
    two classes.

    Example:

    ```python
    split = split_for_transfer(load_digits(), n_train_b=30)
    split.a.n_classes, split.b.train[0].shape  # 8, (30, 64)
    ```

    Args:
        data: the full data set (`load_digits()` or `load_fashion_mnist()`).
        task_b_classes: the two class indices of task B.
        n_train_b: training samples of task B (> 0, at most what exists).
        seed: seed of the choice of task B's training samples.
    """
    if not isinstance(data, Splits):
        raise TypeError(f"`data` must be a recipes.data.Splits; received {type(data).__name__}.")
    classes = tuple(int(c) for c in task_b_classes)
    if len(classes) != 2 or classes[0] == classes[1] or not all(
        0 <= c < data.n_classes for c in classes
    ):
        raise ValueError(
            "`task_b_classes` must be two different class indices in "
            f"[0, {data.n_classes - 1}]; received {task_b_classes!r}."
        )
    check_positive("n_train_b", n_train_b, integer=True)
    kept = [c for c in range(data.n_classes) if c not in classes]
    remap = np.full(data.n_classes, -1, dtype="int64")
    remap[kept] = np.arange(len(kept))

    def task_a(pair: Pair) -> Pair:
        x, y = pair
        mask = np.isin(y, kept)
        return x[mask], remap[y[mask]]

    def task_b(pair: Pair) -> Pair:
        x, y = pair
        mask = np.isin(y, classes)
        return x[mask], (y[mask] == classes[1]).astype("float32")

    x_b, y_b = task_b(data.train)
    if n_train_b > len(x_b):
        raise ValueError(
            f"`n_train_b` must be at most {len(x_b)} (training samples of classes {classes}); "
            f"received {n_train_b}."
        )
    chosen = np.random.default_rng(seed).permutation(len(x_b))[:n_train_b]
    names_a = tuple(data.class_names[c] for c in kept)
    names_b = (data.class_names[classes[0]], data.class_names[classes[1]])
    return TransferSplit(
        a=Splits(task_a(data.train), task_a(data.valid), task_a(data.test), names_a),
        b=Splits((x_b[chosen], y_b[chosen]), task_b(data.valid), task_b(data.test), names_b,
                 task="binary"),
    )
