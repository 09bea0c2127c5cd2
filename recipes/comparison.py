"""What `recipes.compare` measured, judged: the table over seeds and a verdict per pair.

`Comparison` holds every run (test metrics, learning curves, epoch times) and
derives from them the per-recipe spread of every test metric (`table`) and,
for every pair, a Welch t interval of the difference of the mean judged
metric with the verdict that follows (`verdicts`): "B better than A by x +- y"
when the interval excludes 0, "no difference beyond the spread" when it holds
it. `summary()` is the JSON-ready form (`save` writes it as summary.json) and
`markdown_table` renders a summary's table.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .callbacks._validation import check_fraction, check_positive
from .summary_json import from_json, to_json_ready

__all__ = ["Comparison", "lower_is_better", "markdown_table", "read_summary", "welch_interval"]

LOWER_IS_BETTER = ("loss", "error", "mae", "mse", "mape", "msle", "crossentropy", "hinge",
                   "divergence")
"""A metric whose name holds one of these words is better when lower (else when higher)."""

METHOD = ("Welch t interval of the difference of the two means over the seeds, per pair, "
          "not corrected for the number of pairs")


def lower_is_better(metric: str) -> bool:
    """Whether a lower value of `metric` is better (losses, errors), by its name.

    Example:

    ```python
    lower_is_better("val_loss"), lower_is_better("accuracy")  # True, False
    ```

    Args:
        metric: a Keras metric or log name.
    """
    return any(word in metric.lower() for word in LOWER_IS_BETTER)


def welch_interval(a: Sequence[float], b: Sequence[float],
                   confidence: float = 0.95) -> tuple[float, float, float]:
    """Welch's t interval of mean(b) - mean(a): returns (difference, half-width, df).

    With no spread in either sample the half-width is 0 (and df infinite).

    Example:

    ```python
    difference, half_width, df = welch_interval([0.10, 0.11, 0.09], [0.95, 0.97, 0.96])
    ```

    Args:
        a: values of the first sample (at least 2).
        b: values of the second sample (at least 2).
        confidence: the interval's coverage, in (0, 1).
    """
    from scipy import stats

    check_fraction("confidence", confidence)
    check_positive("confidence", confidence)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"`a` and `b` need at least 2 values each (one per seed) for a spread; "
                         f"received {len(a)} and {len(b)}.")
    difference = float(b.mean() - a.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return difference, 0.0, math.inf
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return difference, float(stats.t.ppf(0.5 + confidence / 2, df) * se), float(df)


def _spread(values: Sequence[float]) -> dict[str, Any]:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "values": v.tolist()}


def _reached(curve: Sequence[float], target: float, lower: bool) -> int | None:
    """The first epoch (1-based) whose value reaches `target`, or None."""
    for epoch, value in enumerate(curve, start=1):
        if np.isfinite(value) and (value <= target if lower else value >= target):
            return epoch
    return None


@dataclass
class Comparison:
    """What `compare` measured: every run, the table over seeds and a verdict per pair.

    `str(comparison)` is the Markdown table followed by the verdicts;
    `summary()` the JSON-ready dictionary `save` writes as summary.json.

    Example:

    ```python
    result = compare({"a": a, "b": b}, data, seeds=3)
    result.table["b"]["test"]["accuracy"]["mean"], result.verdicts[0]["verdict"]
    ```

    Args:
        recipes: name -> description, epochs and batch size.
        runs: name -> one dictionary per seed (test metrics, curves, epoch times).
        seeds: the judged seeds.
        metric: the judged test metric (`None`: accuracy if logged, else loss).
        target: the value counted as reached, or `None`.
        target_metric: the log `target` applies to (`None`: `"val_" + metric`).
        confidence: coverage of the intervals.
        tuning: name -> how its hyper-parameters were chosen (tuned recipes).
        data: sizes of the splits and the task.
    """

    recipes: dict[str, dict[str, Any]]
    runs: dict[str, list[dict[str, Any]]]
    seeds: list[int]
    metric: str | None = None
    target: float | None = None
    target_metric: str | None = None
    confidence: float = 0.95
    tuning: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        logged = set.intersection(*(set(r["test"]) for runs in self.runs.values() for r in runs))
        if self.metric is None:
            self.metric = "accuracy" if "accuracy" in logged else "loss"
        if self.metric not in logged:
            raise ValueError(f"`metric` {self.metric!r} is not a test metric of every recipe; "
                             f"accepted: {sorted(logged)}.")
        self.target_metric = self.target_metric or f"val_{self.metric}"

    @property
    def table(self) -> dict[str, dict[str, Any]]:
        """Per recipe: the spread of each test metric, epochs to target, seconds per epoch."""
        lower = lower_is_better(self.target_metric)
        table = {}
        for name, runs in self.runs.items():
            row: dict[str, Any] = {"test": {k: _spread([r["test"][k] for r in runs])
                                            for k in runs[0]["test"]}}
            if self.target is not None:
                epochs = [_reached(r["curves"].get(self.target_metric, []), self.target, lower)
                          for r in runs]
                hit = [e for e in epochs if e is not None]
                row["epochs_to_target"] = {"metric": self.target_metric, "target": self.target,
                                           "reached": len(hit), "runs": len(runs),
                                           "epochs": epochs,
                                           "median": float(np.median(hit)) if hit else None}
            later = [s for r in runs for s in r["epoch_s"][1:]]
            row["epoch_s"] = {"median": float(np.median(later)) if later else None,
                              "first_epoch_median": float(np.median(
                                  [r["epoch_s"][0] for r in runs])),
                              "note": "wall time; the first epoch includes compiling"}
            found = [r["findings"] for r in runs if r["findings"] is not None]
            if found:
                kinds = sorted({k for f in found for k in f})
                row["gradient_findings"] = {k: sum(k in f for f in found) for k in kinds}
            table[name] = row
        return table

    @property
    def verdicts(self) -> list[dict[str, Any]]:
        """One verdict per pair of recipes, from the interval of the difference."""
        lower, found = lower_is_better(self.metric), []
        for a, b in itertools.combinations(self.runs, 2):
            values = [[r["test"][self.metric] for r in self.runs[n]] for n in (a, b)]
            entry: dict[str, Any] = {"a": a, "b": b, "metric": f"test {self.metric}",
                                     "confidence": self.confidence}
            if not np.all(np.isfinite(values[0])) or not np.all(np.isfinite(values[1])):
                entry.update(better=None, verdict=f"{a} vs {b}: not comparable, a run's "
                             f"test {self.metric} is not finite (diverged)")
                found.append(entry)
                continue
            difference, half, df = welch_interval(*values, self.confidence)
            entry.update(difference=difference, half_width=half, low=difference - half,
                         high=difference + half, df=df)
            level = f"{100 * self.confidence:g} % Welch t interval"
            if difference - half <= 0 <= difference + half:
                entry.update(better=None, verdict=(
                    f"{a} vs {b}: no difference beyond the spread ({b} - {a} = "
                    f"{difference:+.4f} +- {half:.4f} test {self.metric}, {level})"))
            else:
                winner, loser = (b, a) if (difference < 0) == lower else (a, b)
                entry.update(better=winner, verdict=(
                    f"{winner} better than {loser} by {abs(difference):.4f} +- {half:.4f} "
                    f"{'lower' if lower else ''}{' ' if lower else ''}test {self.metric} "
                    f"({level})"))
            found.append(entry)
        return found

    def summary(self) -> dict[str, Any]:
        """The whole comparison as a JSON-ready dictionary (what `save` writes)."""
        return {"kind": "comparison", "metric": self.metric,
                "higher_is_better": not lower_is_better(self.metric), "seeds": self.seeds,
                "judged_on": "test split", "method": METHOD, "confidence": self.confidence,
                "tuning": self.tuning or None,
                "tuning_note": ("tuned on the validation split with a seed no judged run "
                                "uses; judged on the test split" if self.tuning else
                                "nothing tuned"),
                "data": self.data, "recipes": self.recipes, "table": self.table,
                "verdicts": self.verdicts,
                "curves": {name: {key: [r["curves"][key] for r in runs]
                                  for key in runs[0]["curves"]}
                           for name, runs in self.runs.items()},
                "runs": {name: [{k: r[k] for k in ("seed", "test", "epoch_s", "findings")}
                                for r in runs] for name, runs in self.runs.items()}}

    def save(self, directory: str | Path, **extra: Any) -> Path:
        """Write `summary()` (and `extra` keys, e.g. the command) to `directory/summary.json`."""
        path = Path(directory) / "summary.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        summary = {**self.summary(), **extra}
        path.write_text(json.dumps(to_json_ready(summary), indent=1) + "\n", encoding="utf-8")
        return path

    def __str__(self) -> str:
        return markdown_table(self.summary()) + "\n\n" + "\n".join(
            v["verdict"] for v in self.verdicts)


def read_summary(path: str | Path) -> dict[str, Any]:
    """Read a comparison's summary.json back (a folder or the file), non-finite numbers as floats.

    `save` writes NaN and infinities as the strings "nan", "inf", "-inf"
    (JSON has neither); they come back as floats.

    Example:

    ```python
    summary = read_summary("benchmarks/results/deep_nets_50")
    summary["table"]["deep_dnn"]["test"]["accuracy"]["min"]
    ```

    Args:
        path: a folder holding summary.json, or the file itself.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "summary.json"
    return from_json(json.loads(path.read_text(encoding="utf-8")))


def markdown_table(summary: Mapping[str, Any]) -> str:
    """The per-recipe table of a comparison's summary (`Comparison.summary()`) in Markdown.

    Rows in the order of the recipes; the judged metric first, then the
    other test metrics, epochs to target and seconds per epoch.

    Example:

    ```python
    print(markdown_table(json.loads(Path("summary.json").read_text())))
    ```

    Args:
        summary: a comparison's summary (or a summary.json read back).
    """
    metric, table = summary["metric"], summary["table"]
    others = [k for k in next(iter(table.values()))["test"] if k != metric]
    target = next(iter(table.values())).get("epochs_to_target")
    header = ["recipe", f"test {metric} mean +- sd", "min - max",
              *(f"test {k} mean +- sd" for k in others)]
    if target:
        header.append(f"epochs to {target['metric']} {target['target']:g} (runs reaching it)")
    header.append("s / epoch")
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, row in table.items():
        cells = [name]
        for i, key in enumerate([metric, *others]):
            s = row["test"][key]
            cells.append(f"{_number(s['mean'])} +- {_number(s['sd'])}")
            if i == 0:
                cells.append(f"{_number(s['min'])} - {_number(s['max'])}")
        if target:
            reach = row["epochs_to_target"]
            median = "never" if reach["median"] is None else f"{reach['median']:g}"
            cells.append(f"{median} ({reach['reached']}/{reach['runs']})")
        seconds = row["epoch_s"]["median"]
        cells.append("-" if seconds is None else f"{seconds:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) and math.isfinite(value) else str(value)
