"""Timing helpers shared by the benchmarks: epoch timer and interleaved medians.

Every speed claim of the project is a ratio measured in one run against the
plain-Keras equivalent, with the variants interleaved (A, B, A, B, ...) so that
a slow moment of the shared machine hits all of them alike, and the median of
several repetitions reported.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import keras


class EpochTimer(keras.callbacks.Callback):
    """Record the wall time of each epoch in `.times`."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.times.append(time.perf_counter() - self._start)


def interleaved(
    variants: dict[str, Callable[[], float]], repeats: int
) -> dict[str, list[float]]:
    """Run each variant once per round, `repeats` rounds; return the seconds per variant.

    The order rotates from round to round (A B C, B C A, C A B, ...), so that no
    variant always runs first, right after building, or right after another.
    """
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_index in range(repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            seconds[name].append(variants[name]())
        print(
            f"round {round_index + 1}/{repeats}: "
            + ", ".join(f"{name} {values[-1] * 1e3:.1f} ms" for name, values in seconds.items()),
            flush=True,
        )
    return seconds


def paired_ratio(values: list[float], baseline: list[float]) -> float:
    """Median of the same-round ratios `values[i] / baseline[i]`."""
    return statistics.median(a / b for a, b in zip(values, baseline, strict=True))


def report_ratios(seconds: dict[str, list[float]], baseline: str) -> None:
    """Print the median time of every variant and its ratio to `baseline`."""
    reference = statistics.median(seconds[baseline])
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"{name:>28}: median {median * 1e3:9.2f} ms   ratio to {baseline}: "
              f"{median / reference:.3f}")
