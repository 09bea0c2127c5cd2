"""The committed outputs of `recipes.compare` (benchmarks/results/<name>/summary.json), for tests.

BENCHMARKS.md's comparison tables and the notebooks' numbers come from these
files. `committed(name)` reads one; `test_values` gives a recipe's per-seed
test values; `check_number` asserts that a number a notebook or BENCHMARKS.md
states lies within a recipe's min-max over the seeds, widened by `margin`;
`recomputed_verdicts` derives the verdicts again from the per-seed values, so
a test can check that a stored verdict follows from its numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keras_recipes.comparison import Comparison, read_summary

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def available() -> list[str]:
    """The comparison folders committed under benchmarks/results/."""
    return sorted(p.parent.name for p in RESULTS.glob("*/summary.json"))


def committed(name: str) -> dict[str, Any]:
    """The summary of the committed comparison `name` (e.g. "deep_nets_50")."""
    return read_summary(RESULTS / name)


def test_values(summary: dict[str, Any], recipe: str, metric: str | None = None) -> list[float]:
    """One recipe's test values of `metric` (default: the judged one), one per seed."""
    metric = metric or summary["metric"]
    return [run["test"][metric] for run in summary["runs"][recipe]]


test_values.__test__ = False  # a helper, not a pytest test


def check_number(value: float, summary: dict[str, Any], recipe: str, *,
                 metric: str | None = None, margin: float = 0.0) -> None:
    """Assert `value` lies within the recipe's min-max over the seeds, widened by `margin`."""
    values = test_values(summary, recipe, metric)
    low, high = min(values) - margin, max(values) + margin
    assert low <= value <= high, (f"{value} is outside {recipe}'s {metric or summary['metric']} "
                                  f"[{low:.4f}, {high:.4f}] ({values})")


def recomputed_verdicts(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The verdicts `Comparison` derives from the summary's per-seed runs (no curves needed)."""
    runs = {name: [{**run, "curves": {}, "epoch_s": run["epoch_s"] or [0.0]} for run in found]
            for name, found in summary["runs"].items()}
    return Comparison(recipes=summary["recipes"], runs=runs, seeds=summary["seeds"],
                      metric=summary["metric"], confidence=summary["confidence"]).verdicts
