"""Typed search-space values for keras-tuner: `Fixed`, `Range`, `Choice`.

`DNNHyperModel`'s arguments speak a small language: a number or one value
is fixed, a `(low, high)` tuple is a range, a list (or, for names, a
sequence) is a set of choices. `numeric_space` and `categorical_space` read
that language once, validating as they go, into one of three small frozen
types that know how to declare themselves on a `keras_tuner.HyperParameters`
and which values they can take.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras_tuner

from .callbacks._validation import check_choice, check_number


@dataclass(frozen=True)
class Fixed:
    """One value, not searched.

    Example:

    ```python
    Fixed(3).declare(hp, "n_hidden")  # hp.Fixed("n_hidden", 3)
    ```

    Args:
        value: the value.
    """

    value: Any

    def values(self) -> list[Any]:
        """Every value the space can take."""
        return [self.value]

    def declare(self, hp: keras_tuner.HyperParameters, name: str, *, log: bool = False,
                default: Any = None) -> Any:
        """Register the space under `name` in `hp` and return the current value."""
        return hp.Fixed(name, self.value)


@dataclass(frozen=True)
class Range:
    """A range `low..high` (integers if both are ints), searched linearly or on a log scale.

    Example:

    ```python
    Range(32, 512).declare(hp, "units", log=True)
    ```

    Args:
        low: lower bound (included).
        high: upper bound (included), > `low`.
    """

    low: int | float
    high: int | float

    def values(self) -> list[Any]:
        """Every value of an integer range (a float range has no finite list)."""
        if not isinstance(self.low, int):
            raise TypeError(f"a float range {self} has no finite list of values.")
        return list(range(self.low, self.high + 1))

    def declare(self, hp: keras_tuner.HyperParameters, name: str, *, log: bool = False,
                default: Any = None) -> Any:
        """Register the space under `name` in `hp` (default kept if inside) and return its value."""
        if default is not None and not self.low <= default <= self.high:
            default = None
        sampling = "log" if log else "linear"
        if isinstance(self.low, int):
            return hp.Int(name, self.low, self.high, sampling=sampling, default=default)
        return hp.Float(name, self.low, self.high, sampling=sampling, default=default)


@dataclass(frozen=True)
class Choice:
    """Discrete choices.

    Example:

    ```python
    Choice((0.001, 0.003, 0.01)).declare(hp, "learning_rate")
    ```

    Args:
        options: the values, distinct.
    """

    options: tuple[Any, ...]

    def values(self) -> list[Any]:
        """Every value the space can take."""
        return list(self.options)

    def declare(self, hp: keras_tuner.HyperParameters, name: str, *, log: bool = False,
                default: Any = None) -> Any:
        """Register the space under `name` in `hp` (default kept if listed) and return its value."""
        return hp.Choice(name, list(self.options),
                         default=default if default in self.options else None)


Space = Fixed | Range | Choice


def choices(values: Sequence[Any]) -> Space:
    """`Fixed` for one value, `Choice` for several.

    Example:

    ```python
    choices(["adam"])  # Fixed("adam")
    ```

    Args:
        values: the values, distinct.
    """
    values = list(values)
    return Fixed(values[0]) if len(values) == 1 else Choice(tuple(values))


def numeric_space(
    name: str,
    value: Any,
    *,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> Space:
    """Read a number (fixed), a `(low, high)` tuple (range) or a list (choices).

    Example:

    ```python
    numeric_space("learning_rate", (1e-4, 1e-1), minimum=0, min_inclusive=False)
    ```

    Args:
        name: the argument's name, for error messages.
        value: the number, tuple or list.
        integer: values must be integers (and are returned as `int`).
        minimum: lowest accepted value.
        maximum: highest accepted value.
        min_inclusive: whether `minimum` itself is accepted.
        max_inclusive: whether `maximum` itself is accepted.
    """
    bounds = {"minimum": minimum, "maximum": maximum, "min_inclusive": min_inclusive,
              "max_inclusive": max_inclusive, "integer": integer}
    cast = int if integer else float
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(
                f"`{name}` must be a number (fixed), a (low, high) tuple (range) or a list of "
                f"values (choices); received the {len(value)}-tuple {value!r}."
            )
        low, high = (cast(check_number(name, v, **bounds)) for v in value)
        if not low < high:
            raise ValueError(
                f"`{name}` range must have low < high; received {value!r} (an empty or "
                "inverted range). Pass a single number to fix it."
            )
        return Range(low, high)
    if isinstance(value, list):
        if not value:
            raise ValueError(f"`{name}` must list at least one value; received [].")
        values = [check_number(name, v, **bounds) for v in value]
        if len(set(values)) != len(values):
            raise ValueError(f"`{name}` lists a value twice; received {value!r}.")
        return Choice(tuple(sorted(cast(v) for v in values)))
    return Fixed(cast(check_number(name, value, **bounds)))


def categorical_space(name: str, value: Any, accepted: Sequence[Any]) -> Space:
    """Read one value (fixed) or a sequence of accepted values (choices).

    Example:

    ```python
    categorical_space("optimizers", ("adam", "sgd"), ["adam", "sgd", "nadam"])
    ```

    Args:
        name: the argument's name, for error messages.
        value: one value or a sequence of values.
        accepted: the values accepted.
    """
    if isinstance(value, (str, int, float)) or value is None:
        return Fixed(check_choice(name, value, accepted))
    if not isinstance(value, Sequence):
        raise TypeError(
            f"`{name}` must be one value or a sequence of values; received {value!r}."
        )
    if len(value) == 0:
        raise ValueError(
            f"`{name}` must hold at least one value; received {value!r}. "
            f"Accepted: {list(accepted)}."
        )
    for item in value:
        check_choice(name, item, accepted)
    if len(set(value)) != len(value):
        raise ValueError(f"`{name}` lists a value twice; received {value!r}.")
    return Choice(tuple(value))
