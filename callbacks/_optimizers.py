"""The rule that unwraps an optimizer: a `LossScaleOptimizer` holds the one that does the work."""

from __future__ import annotations

from typing import Any


def optimizer_chain(optimizer: Any) -> list[Any]:
    """`[optimizer, its inner optimizer, ...]`: a `LossScaleOptimizer` wraps an inner one.

    The last one owns the hyper-parameters (learning rate, momentum, clipping)
    and the update step; the outer ones scale the loss and skip non-finite
    steps.
    """
    chain = [optimizer]
    while hasattr(chain[-1], "inner_optimizer"):
        chain.append(chain[-1].inner_optimizer)
    return chain


def inner_optimizer(optimizer: Any) -> Any:
    """The optimizer that does the work (`optimizer` itself unless it wraps another)."""
    return optimizer_chain(optimizer)[-1]
