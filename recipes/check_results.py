"""What the checklists return: `CheckResult` per item, `ChecklistReport` for a whole run.

Returned by the items of `recipes.checks` (which also exports both names) and
by `recipes.gradient_check.check_gradients`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CheckResult", "ChecklistReport"]



@dataclass(frozen=True)
class CheckResult:
    """The outcome of one checklist item.

    Example:

    ```python
    result = check_optimizer(model)
    if not result.passed:
        print(result.advice)
    ```

    Args:
        name: the checklist item.
        passed: whether the setup follows the lecture.
        measured: what was found.
        expected: what the lecture expects.
        advice: what to change when it did not pass.
        note: why it passed when the reason is not obvious (printed).
    """

    name: str
    passed: bool
    measured: str
    expected: str
    advice: str = ""
    note: str = ""


class ChecklistReport(list):
    """A list of `CheckResult`s that prints as a table.

    Example:

    ```python
    report = run_checklist(model, data.train, data.valid)
    print(report)          # or just `report` in a notebook
    assert report.passed
    ```
    """

    @property
    def passed(self) -> bool:
        """True when every item passed."""
        return all(result.passed for result in self)

    def __str__(self) -> str:
        lines = []
        for result in self:
            mark = "PASS" if result.passed else "FAIL"
            lines.append(f"[{mark}] {result.name}: {result.measured} (expected {result.expected})")
            if not result.passed and result.advice:
                lines.append(f"       -> {result.advice}")
            if result.passed and result.note:
                lines.append(f"       note: {result.note}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{'✅' if r.passed else '❌'}</td><td>{r.name}</td><td>{r.measured}</td>"
            f"<td>{r.expected}</td><td>{r.note if r.passed else r.advice}</td></tr>"
            for r in self
        )
        return (
            "<table><tr><th></th><th>check</th><th>measured</th><th>expected</th>"
            f"<th>advice</th></tr>{rows}</table>"
        )
