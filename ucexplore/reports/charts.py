"""Quick charts of one column, rendered by matplotlib to PNG bytes (no pyplot, no global state).

The kind follows the column: **value counts** for categories, booleans and short text, a **histogram** for
numbers, **per-day counts** for timestamps. The Explorer widget and the HTML reports share these helpers.

Example::

    >>> import pandas as pd
    >>> s = pd.Series(["READY", "NOT_READY", "READY"], name="state")
    >>> chart_kind(s)
    'counts'
    >>> chart_png(s)[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["CHART_KINDS", "bar_png", "chart_kind", "chart_png", "day_counts", "describe_kind"]

#: what each kind draws
CHART_KINDS = {
    "counts": "value counts",
    "histogram": "histogram",
    "per_day": "rows per day",
}

_BLUE = "#0d6ebd"
_TOP = 20


def chart_kind(series: pd.Series) -> str:
    """``"counts"`` (category, bool, text), ``"histogram"`` (numbers) or ``"per_day"`` (timestamps).

    Example::

        >>> import pandas as pd
        >>> chart_kind(pd.Series([1.5, 2.0])), chart_kind(pd.Series(pd.to_datetime(["2024-01-01"])))
        ('histogram', 'per_day')
    """
    import pandas as pd
    from pandas.api import types as t

    if t.is_bool_dtype(series.dtype) or isinstance(series.dtype, pd.CategoricalDtype):
        return "counts"
    if t.is_datetime64_any_dtype(series.dtype):
        return "per_day"
    if t.is_numeric_dtype(series.dtype):
        return "histogram"
    return "counts"


def describe_kind(series: pd.Series) -> str:
    """A few words on what :func:`chart_png` will draw for ``series`` (for captions and tooltips)."""
    return CHART_KINDS[chart_kind(series)]


def day_counts(series: pd.Series) -> pd.Series:
    """Rows per calendar day (UTC for zone-aware timestamps), days without rows included as 0.

    Example::

        >>> import pandas as pd
        >>> day_counts(pd.Series(pd.to_datetime(["2024-01-01 10:00", "2024-01-03 09:00"]))).tolist()
        [1, 0, 1]
    """
    import pandas as pd

    s = pd.to_datetime(series.dropna())
    if s.empty:
        return pd.Series([], dtype="int64", name="rows")
    days = (
        s.dt.tz_convert("UTC").dt.tz_localize(None).dt.floor("D") if s.dt.tz is not None else s.dt.floor("D")
    )
    counts = days.value_counts().sort_index()
    full = pd.date_range(counts.index.min(), counts.index.max(), freq="D")
    out = counts.reindex(full, fill_value=0)
    out.index = out.index.date
    out.index.name = "day"
    out.name = "rows"
    return out.astype("int64")


def _counts(series: pd.Series, top: int) -> tuple[pd.Series, int]:
    counts = series.astype("object").where(series.notna(), "(missing)").astype(str).value_counts()
    return counts.head(top), len(counts)


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig


def _png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _short(text: Any, n: int = 40) -> str:
    s = str(text)
    return s if len(s) <= n else s[: n - 1] + "…"


def bar_png(
    labels: Sequence[Any],
    values: Sequence[float],
    *,
    title: str = "",
    xlabel: str = "",
    horizontal: bool = True,
    width: float = 6.4,
    height: float | None = None,
) -> bytes:
    """A bar chart of ``values`` by ``labels`` as PNG bytes.

    Example::

        >>> bar_png(["READY", "TALKING"], [3, 5], title="Agents by state")[:4]
        b'\\x89PNG'
    """
    labels = [_short(x) for x in labels]
    values = list(values)
    if height is None:
        height = max(2.2, min(8.0, 0.9 + 0.28 * len(labels))) if horizontal else 3.6
    fig = _figure(width, height)
    ax = fig.add_subplot()
    if not labels:
        ax.text(0.5, 0.5, "no rows", ha="center", va="center", transform=ax.transAxes, color="#667")
        ax.set_axis_off()
    elif horizontal:
        ax.barh(range(len(labels)), values, color=_BLUE)
        ax.set_yticks(range(len(labels)), labels)
        ax.invert_yaxis()
        ax.set_xlabel(xlabel or "rows")
    else:
        ax.bar(range(len(labels)), values, color=_BLUE)
        step = max(1, len(labels) // 15)
        ax.set_xticks(range(0, len(labels), step), labels[::step], rotation=45, ha="right")
        ax.set_ylabel(xlabel or "rows")
    if title:
        ax.set_title(title, fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def chart_png(
    series: pd.Series,
    *,
    title: str | None = None,
    kind: str | None = None,
    top: int = _TOP,
    width: float = 6.4,
    height: float | None = None,
    bins: int = 20,
) -> bytes:
    """A quick chart of one column as PNG bytes: value counts, a histogram, or rows per day.

    ``kind`` overrides the automatic choice (:func:`chart_kind`); ``top`` caps the bars of value counts.

    Example::

        >>> import pandas as pd
        >>> png = chart_png(pd.Series([120, 3000, 45000], name="Duration"), title="Message length (ms)")
        >>> png[:4]
        b'\\x89PNG'
    """
    import pandas as pd

    kind = kind or chart_kind(series)
    if kind not in CHART_KINDS:
        raise ValueError(f"kind must be one of {', '.join(CHART_KINDS)}, got {kind!r}")
    name = str(series.name) if series.name is not None else "value"
    if kind == "counts":
        counts, distinct = _counts(series, top)
        shown = f" (top {len(counts)} of {distinct})" if distinct > len(counts) else ""
        return bar_png(
            list(counts.index),
            list(counts.values),
            title=title or f"{name}: value counts{shown}",
            width=width,
            height=height,
        )
    if kind == "per_day":
        per_day = day_counts(series)
        return bar_png(
            [str(d) for d in per_day.index],
            list(per_day.values),
            horizontal=False,
            title=title or f"{name}: rows per day",
            xlabel="rows",
            width=width,
            height=height,
        )
    values = pd.to_numeric(series, errors="coerce").dropna().astype("float64")
    fig = _figure(width, height or 3.6)
    ax = fig.add_subplot()
    if values.empty:
        ax.text(0.5, 0.5, "no numeric values", ha="center", va="center", transform=ax.transAxes, color="#667")
        ax.set_axis_off()
    else:
        ax.hist(values, bins=min(bins, max(1, values.nunique())), color=_BLUE, edgecolor="white")
        ax.set_xlabel(name)
        ax.set_ylabel("rows")
        ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title or f"{name}: histogram", fontsize=11)
    return _png(fig)
