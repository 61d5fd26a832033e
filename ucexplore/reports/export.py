"""Write DataFrames to CSV, XLSX (openpyxl) and self-contained HTML, safely.

* **CSV**: UTF-8 with a BOM (Excel opens accents correctly); a cell that a spreadsheet would run as a
  formula (``=…``, ``@…``, ``+``/``-`` followed by text) gets a leading ``'`` — phone numbers such as
  ``+14085551000`` are left alone.
* **XLSX**: one sheet per table (names made valid and unique), a bold frozen header with filters, text
  never turned into a formula, zone-aware timestamps written as UTC, control characters removed.
* **HTML**: the report page of :mod:`ucexplore.reports.build` with one table (every row, escaped).

Live secrets registered for redaction (tokens, passwords) are masked in every text cell of every format.

Example::

    >>> import pandas as pd, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_csv(pd.DataFrame({"n": ["=1+1", "+14085551000"]}), d / "x.csv").read_text("utf-8-sig").split()
    ['n', "'=1+1", '+14085551000']
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["EXPORT_FORMATS", "export", "safe_stem", "sheet_names", "write_csv", "write_html", "write_xlsx"]

#: format → file suffix
EXPORT_FORMATS = {"csv": ".csv", "xlsx": ".xlsx", "html": ".html"}

_FORMULA_START = ("=", "@", "\t", "\r")
_SIGNED_NUMBER = re.compile(r"^[+-][\d\s().,/-]*$")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_XLSX_MAX_TEXT = 32_767


def safe_stem(name: str, default: str = "export") -> str:
    """A file name stem without path separators or odd characters.

    Example::

        >>> safe_stem("uds users / Ka*")
        'uds-users-Ka'
    """
    stem = re.sub(r"[^\w.-]+", "-", str(name)).strip("-._")
    return stem[:80] or default


def _risky(text: str) -> bool:
    if not text:
        return False
    if text.startswith(_FORMULA_START):
        return True
    return text[0] in "+-" and not _SIGNED_NUMBER.match(text)


def _csv_text(v: Any) -> Any:
    if not isinstance(v, str):
        return v
    from .build import scrub

    v = scrub(v)
    return "'" + v if _risky(v) else v


def _csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or str(s.dtype) in ("string", "str", "category"):
            out[col] = s.map(_csv_text)
    return out


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Every row of ``df`` to ``path`` as CSV (UTF-8 with BOM, no index, formula-safe). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _csv_frame(df).to_csv(path, index=False, encoding="utf-8-sig", date_format="%Y-%m-%dT%H:%M:%S%z")
    return path


def sheet_names(names: list[str]) -> list[str]:
    """Valid, unique Excel sheet names (31 characters, no ``[]:*?/\\``) for ``names``, in order.

    Example::

        >>> sheet_names(["Users without e-mail / mobile", "Users without e-mail / mobile"])
        ['Users without e-mail - mobile', 'Users without e-mail - mobile~2']
    """
    out: list[str] = []
    used: set[str] = set()
    for name in names:
        base = _SHEET_BAD.sub("-", str(name)).strip("'") or "Sheet"
        base = base[:31]
        candidate, n = base, 1
        while candidate.lower() in used:
            n += 1
            suffix = f"~{n}"
            candidate = base[: 31 - len(suffix)] + suffix
        used.add(candidate.lower())
        out.append(candidate)
    return out


def _cell(value: Any) -> Any:
    """A value openpyxl can store (None for missing, UTC-naive datetimes, JSON for lists/dicts)."""
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is not None:
            value = value.tz_convert("UTC").tz_localize(None)
        return value.to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(value, (date, time, bool, int, float)):
        return value
    if isinstance(value, (pd.Timedelta, timedelta)):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        try:
            return _cell(value.item())
        except (ValueError, TypeError):
            pass
    if isinstance(value, (list, tuple, dict)):
        value = json.dumps(value, default=str, ensure_ascii=False)
    from .build import scrub

    text = _CONTROL.sub("", scrub(value))
    return text[:_XLSX_MAX_TEXT]


def _sheet(wb: Any, title: str, df: pd.DataFrame) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title)
    ws.freeze_panes = "A2"
    columns = [str(c) for c in df.columns]
    sample = df.head(200)
    for i, col in enumerate(columns, start=1):
        widest = (
            max([len(col)] + [len(str(v)) for v in sample.iloc[:, i - 1].tolist()])
            if len(sample)
            else len(col)
        )
        ws.column_dimensions[get_column_letter(i)].width = min(60, max(8, widest + 2))
    bold = Font(bold=True)
    header = []
    for col in columns:
        c = WriteOnlyCell(ws, value=_cell(col))
        c.font = bold
        c.data_type = "s"
        header.append(c)
    ws.append(header)
    for row in df.itertuples(index=False, name=None):
        cells: list[Any] = []
        for v in row:
            v = _cell(v)
            if isinstance(v, str):
                c = WriteOnlyCell(ws, value=v)
                c.data_type = "s"  # text stays text: never a formula
                cells.append(c)
            else:
                cells.append(v)
        ws.append(cells)
    if columns:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(df) + 1}"


def write_xlsx(
    tables: Mapping[str, pd.DataFrame] | pd.DataFrame,
    path: str | Path,
    *,
    about: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
) -> Path:
    """A workbook with one sheet per table (``{"Users": df, …}`` or one DataFrame), plus an ``About`` sheet
    (key/value rows) when ``about`` is given. Returns the path.

    Example::

        >>> import pandas as pd, tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> p = write_xlsx({"Users": pd.DataFrame({"a": [1, 2]})}, folder / "u.xlsx")
        >>> import openpyxl; openpyxl.load_workbook(p).sheetnames
        ['Users']
    """
    import pandas as pd
    from openpyxl import Workbook

    if isinstance(tables, pd.DataFrame):
        tables = {"Data": tables}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    names = list(tables)
    if about is not None:
        names.append("About")
    titles = sheet_names(names)
    for title, (_, df) in zip(titles, tables.items()):
        _sheet(wb, title, df)
    if about is not None:
        items = list(about.items()) if isinstance(about, Mapping) else list(about)
        _sheet(
            wb,
            titles[-1],
            pd.DataFrame(items, columns=["item", "value"])
            .astype({"value": "object"})
            .assign(value=lambda d: d["value"].map(lambda v: v if isinstance(v, (int, float)) else str(v))),
        )
    wb.save(path)
    return path


def write_html(df: pd.DataFrame, path: str | Path, *, title: str | None = None) -> Path:
    """A self-contained HTML page with every row of ``df`` (escaped) and its provenance. Returns the path."""
    from .build import Report, Section, Table

    name = title or _title_of(df)
    report = Report(name, [Section(name, tables=[Table(name, df, max_rows=None)])])
    return report.write_html(path)


def _title_of(df: pd.DataFrame) -> str:
    prov = df.attrs.get("ucexplore") or {}
    if prov.get("service") and prov.get("path"):
        return f"{prov['service'].upper()} {prov['path']}"
    return "Data"


def export(
    df: pd.DataFrame, fmt: str, folder: str | Path = ".", stem: str = "export", *, title: str | None = None
) -> Path:
    """Write ``df`` as ``fmt`` (``csv``, ``xlsx`` or ``html``) to ``folder/stem.<suffix>``; returns the path.

    Example::

        >>> import pandas as pd, tempfile
        >>> export(pd.DataFrame({"a": [1]}), "csv", tempfile.mkdtemp(), "one").name
        'one.csv'
    """
    fmt = fmt.lower().lstrip(".")
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    path = Path(folder).expanduser() / (safe_stem(stem) + EXPORT_FORMATS[fmt])
    if fmt == "csv":
        return write_csv(df, path)
    if fmt == "xlsx":
        from .build import provenance_items

        about = provenance_items(df)
        return write_xlsx({title or "Data": df}, path, about=about or None)
    return write_html(df, path, title=title)
