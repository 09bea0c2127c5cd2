"""Argument checks shared by `callbacks` and `recipes`.

Every check raises early with a message that names the argument, the value
received and what is accepted. `recipes` imports these helpers from here
because `callbacks` must never import `recipes`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def check_choice(name: str, value: Any, accepted: Iterable[Any]) -> Any:
    """Return `value` if it is one of `accepted`, else raise `ValueError`."""
    accepted = list(accepted)
    if value not in accepted:
        shown = ", ".join(repr(a) for a in accepted)
        raise ValueError(f"`{name}` must be one of {shown}; received {value!r}.")
    return value


def number_problem(
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
    integer: bool = False,
) -> tuple[type[Exception], str] | None:
    """What is wrong with `value` as a number in the given bounds, or `None` if nothing.

    The one number rule of the package: `check_number` raises what it
    returns, and the command line's argument parser prints it.

    Example:

    ```python
    number_problem(0, minimum=0, min_inclusive=False)  # (ValueError, "must be in (0, inf)")
    ```

    Args:
        value: the value to check.
        minimum: the lowest accepted value (`None`: no bound).
        maximum: the highest accepted value (`None`: no bound).
        min_inclusive: whether `minimum` itself is accepted.
        max_inclusive: whether `maximum` itself is accepted.
        integer: accept whole numbers only.
    """
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(
        value, "__float__"
    ):
        return TypeError, f"must be {kind}"
    number = float(value)
    if not math.isfinite(number):
        return ValueError, "must be finite"
    if integer and not number.is_integer():
        return TypeError, f"must be {kind}"
    low_ok = minimum is None or (number >= minimum if min_inclusive else number > minimum)
    high_ok = maximum is None or (number <= maximum if max_inclusive else number < maximum)
    if low_ok and high_ok:
        return None
    lo = "-inf" if minimum is None else f"{minimum!r}"
    hi = "inf" if maximum is None else f"{maximum!r}"
    left = "[" if (minimum is not None and min_inclusive) else "("
    right = "]" if (maximum is not None and max_inclusive) else ")"
    return ValueError, f"must be {'an integer ' if integer else ''}in {left}{lo}, {hi}{right}"


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
    integer: bool = False,
) -> Any:
    """Return `value` if it is a finite number inside the given bounds.

    Raises `TypeError` for non-numbers (and non-integers when `integer`),
    `ValueError` for values out of bounds or non-finite (`number_problem`).
    """
    problem = number_problem(value, minimum=minimum, maximum=maximum,
                             min_inclusive=min_inclusive, max_inclusive=max_inclusive,
                             integer=integer)
    if problem is not None:
        error, text = problem
        shown = f"{value!r}" + (f" ({type(value).__name__})" if error is TypeError else "")
        raise error(f"`{name}` {text}; received {shown}.")
    return value


def check_positive(name: str, value: Any, *, integer: bool = False) -> Any:
    """Return `value` if it is a finite number strictly greater than zero."""
    return check_number(name, value, minimum=0, min_inclusive=False, integer=integer)


def check_non_negative(name: str, value: Any, *, integer: bool = False) -> Any:
    """Return `value` if it is a finite number greater than or equal to zero."""
    return check_number(name, value, minimum=0, integer=integer)


def check_fraction(name: str, value: Any, *, include_one: bool = False) -> Any:
    """Return `value` if it lies in [0, 1) (or [0, 1] with `include_one`)."""
    return check_number(name, value, minimum=0, maximum=1, max_inclusive=include_one)


def check_greater(name: str, value: float, other_name: str, other: float) -> float:
    """Return `value` if it is greater than `other`, the value of argument `other_name`."""
    if not value > other:
        raise ValueError(f"`{name}` must be greater than `{other_name}`; received "
                         f"{name}={value!r} <= {other_name}={other!r}.")
    return value


def require_compiled(model: Any, who: str) -> None:
    """Raise a clear `RuntimeError` if `model` has not been compiled."""
    if model is None or not getattr(model, "compiled", False) or model.optimizer is None:
        raise RuntimeError(
            f"{who} needs a compiled model with an optimizer: call "
            "`model.compile(optimizer=..., loss=...)` (or `keras_recipes.compile_recipe(model)`) "
            "before `fit`."
        )
