"""Summaries as JSON: NumPy scalars as Python numbers, NaN and infinities as strings and back.

JSON has no NaN or infinity, and NumPy scalars are not JSON-serializable.
`to_json_ready` makes a nested summary writable (non-finite floats become the
strings "nan", "inf", "-inf"); `from_json` turns those strings back into
floats. Every summary.json the package writes (run reports, comparisons)
goes through this pair.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["from_json", "to_json_ready"]

_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def to_json_ready(value: Any) -> Any:
    """Return a JSON-serializable copy of `value`.

    Mappings get string keys, tuples become lists, NumPy scalars become
    Python numbers, and NaN / infinities become "nan" / "inf" / "-inf".

    Example:

    ```python
    to_json_ready({"loss": np.float32(0.5), "best": float("nan")})  # {"loss": 0.5, "best": "nan"}
    ```

    Args:
        value: a number, string, sequence or mapping, nested in any way.
    """
    if isinstance(value, Mapping):
        return {str(k): to_json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_ready(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def from_json(value: Any) -> Any:
    """Undo `to_json_ready`'s non-finite strings: "nan", "inf", "-inf" back to floats.

    Example:

    ```python
    from_json(json.loads('{"best": "nan"}'))  # {"best": nan}
    ```

    Args:
        value: what `json.loads` returned.
    """
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return _NON_FINITE.get(value, value) if isinstance(value, str) else value
