"""The user's own data: CSV and NPZ files, the task they imply, the split, standardization.

`load_csv` and `load_npz` return the same `recipes.data.Splits` as
`load_digits`, with the task inferred from the targets (text labels or a few
integer values: classes; other numbers: regression) and stated on
`Splits.task`. Class names are the labels as the file writes them (`0`, not
`0.0`). A missing, NaN or infinite value in any input is a `DataError` that
names the file and where (line and column, or array and row). `standardize`
rescales the inputs as lecture 001 says ("normalize the input features"), and
regression targets too, with the mean and standard deviation of the training
split only, so nothing leaks from validation or test data.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Splits

TASKS = ("auto", "classes", "regression")
MAX_CLASSES = 20
"""At most this many distinct integer targets are read as classes by `task="auto"`."""
MIN_PER_CLASS = 3
"""Samples each class needs for a stratified train / validation / test split."""


class DataError(ValueError):
    """Data that cannot be trained on; `.argument` names the loader argument at fault.

    Example:

    ```python
    try:
        load_csv("data.csv", target="label")
    except DataError as error:
        error.argument  # "target" when the column is missing, else "path" or "task"
    ```

    Args:
        argument: `"path"`, `"target"` or `"task"`.
        message: what is wrong and what is accepted.
    """

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        self.argument = argument


def _encode_targets(y: np.ndarray, task: str, where: str,
                    spelled: dict[float, str] | None = None) -> tuple[np.ndarray, tuple, str]:
    """Return (encoded targets, class names, task) for `task` in TASKS.

    `spelled` maps a numeric label to the text the file wrote for it.
    """
    if task not in TASKS:
        raise DataError("task", f"`task` must be one of {list(TASKS)}; received {task!r}.")
    if len(y) == 0:
        raise DataError("path", f"{where} holds no samples.")
    numeric = y.dtype.kind in "biuf"
    if task == "regression":
        if not numeric:
            raise DataError("task", f"the targets of {where} are not numbers, so they cannot be "
                             "regressed; use task 'classes'.")
        return y.astype("float32"), (), "regression"
    if task == "auto":
        integral = numeric and y.ndim == 1 and np.all(y == np.round(y))
        is_classes = not numeric or (integral and len(np.unique(y)) <= MAX_CLASSES)
        if not is_classes:
            return y.astype("float32"), (), "regression"
    if y.ndim != 1:
        raise DataError("path", f"class targets of {where} must be one label per sample; received "
                         f"shape {y.shape}.")
    values, codes = np.unique(y, return_inverse=True)
    names = tuple((spelled or {}).get(v.item(), str(v.item())) for v in values)
    if len(values) < 2:
        raise DataError("path", f"the targets of {where} hold one class only "
                        f"({', '.join(names)}); a classifier needs at least two.")
    if len(values) == 2:
        return codes.astype("float32"), names, "binary"
    return codes.astype("int64"), names, "multiclass"


def _first_non_finite(array: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first NaN or infinite entry of a numeric array, or `None`."""
    if array.dtype.kind not in "fc":
        return None
    bad = np.argwhere(~np.isfinite(array))
    return tuple(int(i) for i in bad[0]) if len(bad) else None


def split_samples(x: np.ndarray, y: np.ndarray, task: str, *, holdout: float = 0.15,
                  seed: int = 42, where: str = "the data") -> tuple[tuple, tuple]:
    """Split off `holdout` of the samples, stratified by class for classification.

    Example:

    ```python
    (x_train, y_train), (x_valid, y_valid) = split_samples(x, y, "multiclass")
    ```

    Args:
        x: inputs.
        y: encoded targets.
        task: `"multiclass"`, `"binary"` or `"regression"`.
        holdout: fraction held out, in (0, 1).
        seed: seed of the split.
        where: the data's name, for error messages.
    """
    from sklearn.model_selection import train_test_split

    stratify = None
    if task != "regression":
        labels, counts = np.unique(y, return_counts=True)
        few = counts.argmin()
        if counts[few] < MIN_PER_CLASS:
            raise DataError("path",
                f"class {labels[few].item()!r} of {where} has {counts[few]} sample(s); the "
                f"stratified train/validation/test split needs at least {MIN_PER_CLASS} per class."
            )
        stratify = y
    if len(x) < 3:
        raise DataError("path", f"{where} has {len(x)} sample(s); training needs at least 3.")
    try:
        x_a, x_b, y_a, y_b = train_test_split(x, y, test_size=holdout, stratify=stratify,
                                              random_state=seed)
    except ValueError as error:
        raise DataError("path", f"cannot split {where} ({len(x)} samples) into training and "
                        f"held-out sets: {error}") from None
    return (x_a, y_a), (x_b, y_b)


def _three_way(x: np.ndarray, y: np.ndarray, task: str, seed: int, where: str,
               test: tuple | None) -> tuple:
    holdout = 0.15
    if test is None:
        (x, y), test = split_samples(x, y, task, holdout=0.15, seed=seed, where=where)
        holdout = 0.15 / 0.85
    train, valid = split_samples(x, y, task, holdout=holdout, seed=seed, where=where)
    return train, valid, test


def load_csv(path: str | Path, target: str, *, task: str = "auto", seed: int = 42) -> Splits:
    """Read a CSV file with a header row: numeric feature columns and a `target` column.

    The rows are split 70 / 15 / 15 into training, validation and test sets
    (stratified by class for classification). A blank, NaN or infinite cell
    is a `DataError` naming its line and column.

    Example:

    ```python
    data = load_csv("iris.csv", target="species")
    data.task, data.class_names  # "multiclass", ("setosa", "versicolor", "virginica")
    ```

    Args:
        path: the CSV file.
        target: name of the column to predict.
        task: `"auto"` (text or at most 20 integer values: classes; else
            regression), `"classes"` or `"regression"`.
        seed: seed of the split.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or not rows[0]:
        raise DataError("path", f"{path} is empty; a CSV needs a header row and data rows.")
    header = [name.strip() for name in rows[0]]
    lines = [(number, row) for number, row in enumerate(rows[1:], start=2) if row]
    if target not in header:
        raise DataError("target", f"column {target!r} is not in {path}; its columns are {header}.")
    if len(header) < 2:
        raise DataError("target", f"{path} has no feature column besides {target!r}.")
    if not lines:
        raise DataError("path", f"{path} has a header row but no data rows.")
    for number, row in lines:
        if len(row) != len(header):
            raise DataError("path", f"line {number} of {path} has {len(row)} fields; the "
                            f"header has {len(header)}.")
        for name, cell in zip(header, row):
            problem = "is blank" if not cell.strip() else (
                f"is {cell.strip()!r}" if _is_number(cell) and not np.isfinite(float(cell))
                else None)
            if problem:
                raise DataError("path", f"line {number} of {path}, column {name!r} {problem}; "
                                "fill or drop the missing and infinite values.")
    features = []
    for column, name in enumerate(header):
        if name == target:
            continue
        bad = next(((n, r[column]) for n, r in lines if not _is_number(r[column])), None)
        if bad is not None:
            raise DataError("path", f"feature column {name!r} of {path} is not numeric (line "
                            f"{bad[0]}: {bad[1]!r}); encode it as numbers or drop the column.")
        features.append(np.asarray([float(r[column]) for _, r in lines], dtype="float32"))
    x = np.stack(features, axis=1)
    raw = [r[header.index(target)].strip() for _, r in lines]
    spelled: dict[float, str] = {}
    if all(_is_number(v) for v in raw):
        y = np.asarray([float(v) for v in raw])
        for value, text in zip(y.tolist(), raw):
            spelled.setdefault(value, text)
    else:
        y = np.asarray(raw)
    where = f"column {target!r} of {path}"
    y, names, task = _encode_targets(y, task, where, spelled)
    train, valid, test = _three_way(x, y, task, seed, where, None)
    return Splits(train, valid, test, names, task=task)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_npz(path: str | Path, *, task: str = "auto", seed: int = 42) -> Splits:
    """Read a NumPy `.npz` file with arrays `x`, `y` and optionally `x_test`, `y_test`.

    Without a test set the samples are split 70 / 15 / 15; with one, 15 % of
    `x` is held out for validation.

    Example:

    ```python
    np.savez("data.npz", x=x, y=y)
    data = load_npz("data.npz")
    ```

    Args:
        path: the `.npz` file.
        task: `"auto"`, `"classes"` or `"regression"` (see `load_csv`).
        seed: seed of the split.
    """
    path = Path(path)
    import zipfile

    try:
        arrays = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError("path", f"{path} is not a NumPy .npz archive of arrays (np.savez): "
                        f"{error}") from None
    if not hasattr(arrays, "files"):
        raise DataError("path", f"{path} holds one array; an .npz archive (np.savez) is needed.")
    with arrays:
        found = dict(arrays)
    missing = [name for name in ("x", "y") if name not in found]
    if missing:
        raise DataError("path", f"{path} lacks the array(s) {missing}; it holds {sorted(found)} "
                         "(needed: x and y; optional: x_test and y_test).")
    if ("x_test" in found) != ("y_test" in found):
        raise DataError("path", f"{path} must hold both x_test and y_test or neither; it holds "
                         f"{sorted(found)}.")
    x, y = found["x"], found["y"]
    for name in ("x", "x_test"):
        if name in found and found[name].dtype.kind not in "biuf":
            raise DataError("path", f"array {name} of {path} is not numeric (dtype "
                            f"{found[name].dtype}).")
    for name in (name for name in ("x", "y", "x_test", "y_test") if name in found):
        bad = _first_non_finite(found[name])
        if bad is not None:
            raise DataError("path", f"array {name} of {path} holds {found[name][bad]} at index "
                            f"{bad[0] if len(bad) == 1 else bad} (sample {bad[0]}); fill or drop "
                            "the missing and infinite values.")
    if len(x) != len(y):
        raise DataError("path", f"x and y of {path} differ in length: {len(x)} and {len(y)}.")
    where = f"array y of {path}"
    n = len(y)
    targets = np.concatenate([y, found["y_test"]]) if "y_test" in found else y
    targets, names, task = _encode_targets(targets, task, where)
    y = targets[:n]
    test = None
    if "x_test" in found:
        test = (found["x_test"].astype("float32"), targets[n:])
    train, valid, test = _three_way(x.astype("float32"), y, task, seed, where, test)
    return Splits(train, valid, test, names, task=task)


def standardize(data: Splits, *, targets: bool = True) -> tuple[Splits, dict[str, Any]]:
    """Standardize every split's inputs (and regression targets) with the training split's.

    Features with zero spread in the training split (such as always-blank
    pixels) are only centred. Returns the splits and what was done: the
    count of constant features and, for scaled regression targets, their
    training mean and std per target (to report metrics in the original
    units), else `None`.

    Example:

    ```python
    data, scaling = standardize(load_digits())
    ```

    Args:
        data: the splits to rescale.
        targets: also standardize regression targets.
    """
    x = data.train[0].astype("float64")
    mean, std = x.mean(axis=0), x.std(axis=0)
    scale = np.where(std > 0, std, 1.0)
    y_mean = y_scale = None
    if targets and data.task == "regression":
        y = data.train[1].astype("float64")
        y_mean, y_std = y.mean(axis=0), y.std(axis=0)
        y_scale = np.where(y_std > 0, y_std, 1.0)

    def rescale(pair: tuple) -> tuple:
        x_part = ((pair[0] - mean) / scale).astype("float32")
        if y_mean is None:
            return x_part, pair[1]
        return x_part, ((pair[1] - y_mean) / y_scale).astype("float32")

    scaling = {"constant_features": int((std == 0).sum()),
               "target_mean": None if y_mean is None else np.atleast_1d(y_mean).tolist(),
               "target_std": None if y_scale is None else np.atleast_1d(y_scale).tolist()}
    return Splits(rescale(data.train), rescale(data.valid), rescale(data.test), data.class_names,
                  task=data.task), scaling
