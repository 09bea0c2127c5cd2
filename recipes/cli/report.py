"""The report of one run: `summary.json` (machine-readable) and `report.html` (one page).

`write_report(directory, summary, figures)` writes both. The page leads with
the verdict (the headline: test metric against the trivial baseline, then
every finding and failing checklist item with its remedies), then the
metrics and the figures, then the details (recipe, resolved optimizer, data,
checklist, trials, timings, versions), and ends with what every key means
(`glossary.KEY_HELP`). Figures are embedded as base64 PNGs, so the single file can be
mailed or opened offline in any browser.
"""

from __future__ import annotations

import base64
import html
import io
import json
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..summary_json import to_json_ready
from .glossary import explain

SECTIONS = (
    ("metrics", "Metrics (loss and metrics per split; regression in the targets' units)"),
    ("best_trial", "Best trial"),
    ("lr_finder", "Learning-rate sweep"),
    ("figures", "Figures"),
    ("trials", "Trials"),
    ("search_space", "Search space"),
    ("search", "Search"),
    ("recipe", "Recipe"),
    ("optimizer", "Optimizer (resolved settings)"),
    ("data", "Data"),
    ("checklist", "Checklist"),
    ("speed", "Speed settings"),
    ("timings", "Timings (seconds)"),
    ("files", "Files"),
    ("versions", "Versions"),
)
"""The page's sections after the verdict, in order (those the summary has)."""

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; display: block; overflow-x: auto; }
td, th { padding: .2rem .6rem; border: 1px solid #ddd; text-align: left; vertical-align: top; }
.pass { color: #176317; } .fail { color: #a31515; }
img { max-width: 100%; } li { margin-bottom: .4rem; } dt { font-weight: 600; }
#verdict { border: 2px solid #888; padding: .4rem 1rem; background: #f7f7f7; }
#verdict.good { border-color: #176317; } #verdict.bad { border-color: #a31515; }
.headline { font-size: 1.1rem; }
"""


def versions() -> dict[str, str]:
    """Versions of this package, Keras, its backend and Python.

    Example:

    ```python
    versions()["keras"]  # "3.15.1"
    ```
    """
    import keras

    from .. import __version__

    found = {"keras-training-recipes": __version__, "keras": keras.__version__,
             "backend": keras.backend.backend(), "python": platform.python_version()}
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(found["backend"])
    if module is not None:
        found[module] = __import__(module).__version__
    return found


def figure_data_uri(figure: Any) -> str:
    """Encode a matplotlib figure as a `data:image/png;base64,...` URI.

    Example:

    ```python
    uri = figure_data_uri(plot_learning_curves(history)[0].figure)
    ```

    Args:
        figure: a matplotlib `Figure`.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return html.escape(", ".join(_cell(v) if isinstance(v, float) else str(to_json_ready(v))
                                     for v in value))
    if isinstance(value, Mapping):
        return ", ".join(f"{html.escape(str(k))} {_cell(v)}" for k, v in value.items())
    return html.escape("none" if value is None else str(value))


def _table(mapping: Mapping[str, Any], *, keep_none: bool = False) -> str:
    rows = [f"<tr><th>{html.escape(str(key))}</th><td>{_cell(value)}</td></tr>"
            for key, value in mapping.items() if keep_none or value is not None]
    return "<table>" + "".join(rows) + "</table>"


def _rows(rows: list[Mapping[str, Any]]) -> str:
    """A table with one row per mapping (the trials, the checklist)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            css = ""
            if column == "passed":
                value, css = ("PASS", " class='pass'") if value else ("FAIL", " class='fail'")
            cells.append(f"<td{css}>{_cell(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>" + "".join(body) + "</table>"


def _verdict(summary: Mapping[str, Any]) -> str:
    verdict = summary.get("verdict")
    if not verdict:
        return ""
    beats = verdict.get("beats_baseline")
    css = {True: " class='good'", False: " class='bad'"}.get(
        beats if not verdict.get("problems") else False, "")
    parts = [f"<p class='headline'><strong>{html.escape(str(verdict['headline']))}</strong></p>"]
    problems = verdict.get("problems") or []
    if problems:
        items = []
        for problem in problems:
            remedies = "".join(f"<li>{html.escape(str(r))}</li>" for r in problem["remedies"])
            items.append(f"<li class='fail'><strong>{html.escape(str(problem['kind']))}</strong>"
                         f": {html.escape(str(problem['message']))}"
                         + (f"<br>Remedies:<ul>{remedies}</ul>" if remedies else "") + "</li>")
        parts.append("<ul>" + "".join(items) + "</ul>")
    elif "findings" in summary:
        parts.append("<p class='pass'>No findings: no vanishing, exploding or non-finite "
                     "gradients, every checklist item passes.</p>")
    note = summary.get("gradient_norms_note")
    if note:
        parts.append(f"<p>{html.escape(str(note))}</p>")
    return f"<section id='verdict'{css}><h2>Verdict</h2>{''.join(parts)}</section>"


def _metrics(summary: Mapping[str, Any]) -> str:
    metrics = summary["metrics"]
    names = list(dict.fromkeys(k for split in metrics.values() for k in split))
    rows = [[html.escape(split), *(_cell(values.get(n)) for n in names)]
            for split, values in metrics.items()]
    base = summary.get("baseline")
    if base:
        rows.append([f"baseline: {html.escape(str(base['what']))}",
                     *(_cell(base["value"]) if n == base["metric"] else "" for n in names)])
    head = "".join(f"<th>{html.escape(n)}</th>" for n in ["split", *names])
    return (f"<table><tr>{head}</tr>"
            + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
            + "</table>")


def _figures(figures: Mapping[str, Any]) -> str:
    parts = []
    for name, figure in figures.items():
        slug = html.escape(name.lower().replace(" ", "-"))
        parts.append(f"<figure id='{slug}'><img alt='{html.escape(name)}' "
                     f"src='{figure_data_uri(figure)}'><figcaption>{html.escape(name)}"
                     "</figcaption></figure>")
    return "".join(parts)


def _section(key: str, summary: Mapping[str, Any], figures: Mapping[str, Any]) -> str:
    if key == "figures":
        return _figures(figures)
    value = summary[key]
    if key == "metrics":
        return _metrics(summary)
    if key in ("checklist", "trials"):
        return _rows(value)
    if key == "recipe":
        return _table(value, keep_none=True)
    if isinstance(value, Mapping):
        return _table(value)
    return f"<p>{_cell(value)}</p>"


def shown_keys(summary: Mapping[str, Any]) -> list[str]:
    """Every key of a summary, at the depths the page shows, once, in order of appearance.

    Example:

    ```python
    shown_keys({"data": {"n_train": 3}})  # ["data", "n_train"]
    ```

    Args:
        summary: a run's summary.
    """
    found: list[str] = []
    for key, value in summary.items():
        found.append(key)
        if isinstance(value, Mapping) and key not in ("versions", "search_space"):
            found += [k for split in value.values() if isinstance(split, Mapping)
                      for k in split] if key == "metrics" else list(value)
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            found += [k for row in value for k in row]
    return list(dict.fromkeys(found))


def _glossary(summary: Mapping[str, Any]) -> str:
    entries = [f"<dt>{html.escape(key)}</dt><dd>{html.escape(explain(key))}</dd>"
               for key in shown_keys(summary) if explain(key)]
    return f"<section id='glossary'><h2>What the keys mean</h2><dl>{''.join(entries)}</dl>" \
           "</section>"


def render_html(summary: Mapping[str, Any], figures: Mapping[str, Any]) -> str:
    """Render a summary and its figures as one self-contained HTML page, verdict first.

    Example:

    ```python
    page = render_html({"title": "run", "metrics": {"test": {"accuracy": 0.98}}}, {})
    ```

    Args:
        summary: the run's summary (see `write_report`).
        figures: title -> matplotlib figure, embedded as base64 PNG in order.
    """
    title = str(summary.get("title", "keras-recipes report"))
    body = [f"<h1>{html.escape(title)}</h1>", _verdict(summary)]
    for key, heading in SECTIONS:
        present = bool(figures) if key == "figures" else summary.get(key) is not None
        if present:
            body.append(f"<section id='{key}'><h2>{heading}</h2>"
                        f"{_section(key, summary, figures)}</section>")
    body.append(_glossary(summary))
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def write_report(directory: str | Path, summary: Mapping[str, Any],
                 figures: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Write `summary.json` and `report.html` into `directory`; return their paths.

    The figures are closed once embedded.

    Example:

    ```python
    paths = write_report("reports/run", {"title": "run", "recipe": recipe}, {
        "learning curves": plot_learning_curves(history)[0].figure})
    ```

    Args:
        directory: the report folder (created if needed).
        summary: keys among `SECTIONS` (plus `title`, `verdict`, anything else
            JSON-serializable, which goes only into summary.json).
        figures: title -> matplotlib figure.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    figures = dict(figures or {})
    plain = to_json_ready(dict(summary))
    paths = {"summary": directory / "summary.json", "html": directory / "report.html"}
    paths["summary"].write_text(json.dumps(plain, indent=2) + "\n", encoding="utf-8")
    paths["html"].write_text(render_html(plain, figures), encoding="utf-8")
    if figures:
        import matplotlib.pyplot as plt

        for figure in figures.values():
            plt.close(figure)
    return paths
