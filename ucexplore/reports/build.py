"""A report: sections of facts, charts and tables → one self-contained HTML page and one XLSX workbook.

The HTML page needs nothing else: charts are PNG images embedded as ``data:`` URIs, styles are inline, a
Content-Security-Policy forbids scripts and any outside request, every value is HTML-escaped, and a footer
lists where each table came from (``df.attrs["ucexplore"]``: service, host, path, parameters, when) and when
the report was generated. The workbook has one sheet per table plus an ``About`` sheet with the same
provenance. No credential is ever written: provenance is redacted at the source, the registered secrets
(live tokens, passwords) are masked in every cell, and the text around the data is redacted as well.

Example::

    >>> import pandas as pd
    >>> df = pd.DataFrame({"state": ["READY", "NOT_READY", "READY"]})
    >>> r = Report("Agents", [Section("Now", facts=[("Agents", 3)], tables=[Table("Agents", df)])])
    >>> "<td>NOT_READY</td>" in r.to_html(), r.row_counts
    (True, {'Agents': 3})
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..redact import redact

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["DEFAULT_OUT", "Chart", "Report", "Section", "Table", "provenance_items", "pulls_of", "scrub"]


class _DefaultOut:
    """The default ``out=`` of reports: ``report.html`` in the output folder (``$UCX_OUTPUT_DIR`` or
    ``./output``, see :func:`ucexplore.paths.output_dir`), never the current directory or the repository."""

    name = "report.html"

    def path(self) -> Path:
        from ..paths import output_path

        return output_path(self.name)

    def __repr__(self) -> str:
        return "output_path('report.html')"


#: ``out=`` left out: ``report.html`` (and ``report.xlsx``) in the output folder.
DEFAULT_OUT: Any = _DefaultOut()

#: rows of each table shown in the HTML page by default (the workbook always has every row)
HTML_ROWS = 200

_CSS = """
:root{--ink:#1d2733;--mute:#5b6b7b;--line:#d9e0e7;--accent:#0d6ebd;--bg:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);
margin:0;background:#fff}
header,main,footer{max-width:1180px;margin:0 auto;padding:0 24px}
header{padding-top:28px;border-bottom:3px solid var(--accent)}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:28px 0 8px}h3{font-size:15px;margin:18px 0 6px}
.sub,.meta,.note,.count,figcaption{color:var(--mute)}
.meta{font-size:12px;margin:6px 0 14px}
nav.toc{margin:10px 0 0;padding:0 0 14px}nav.toc a{margin-right:14px;color:var(--accent);text-decoration:none}
.facts{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0;padding:0}
.facts div{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:8px 14px;
min-width:130px}
.facts dt{font-size:12px;color:var(--mute)}.facts dd{margin:0;font-size:20px;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:8px 0;border:1px solid var(--line);border-radius:6px;padding:8px;background:#fff;flex:0 1 540px}
figure img{display:block;max-width:100%;height:auto}
.table-wrap{overflow:auto;max-height:560px;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;
white-space:nowrap}
thead th{position:sticky;top:0;background:var(--bg);z-index:1}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.na{color:#aab4bf}
tbody tr:nth-child(even){background:#fbfcfd}
.notes{margin:6px 0;padding-left:18px;color:var(--mute)}
footer{margin-top:36px;padding-bottom:40px;border-top:1px solid var(--line)}
footer table{font-size:12px}footer td,footer th{white-space:normal}
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_IMAGE_SLOT = "\x00ucx-img-{}\x00"


def scrub(value: Any) -> str:
    """``str(value)`` with every registered secret (live tokens, passwords) masked; other text unchanged.

    Data cells go through this (exact secrets only, so a subject such as "Basic training" stays intact);
    text around the data goes through :func:`ucexplore.redact.redact`.

    Example::

        >>> scrub("Kam, Jun Hao")
        'Kam, Jun Hao'
    """
    text = value if isinstance(value, str) else str(value)
    try:
        from ..redact import MASK, _secret_pattern
    except ImportError:  # pragma: no cover - the registry's private accessor moved: fall back to redact()
        return redact(text)
    pat = _secret_pattern()
    return pat.sub(MASK, text) if pat is not None else text


# -- building blocks ----------------------------------------------------------------------------------------
@dataclass
class Table:
    """A table: ``name`` (also its sheet name), the DataFrame, a caption, and how many rows the HTML page
    shows (``max_rows``, None = all; the workbook always gets every row), optionally fewer ``columns``.

    Example::

        >>> import pandas as pd
        >>> Table("Users", pd.DataFrame({"a": [1]})).rows
        1
    """

    name: str
    frame: pd.DataFrame
    caption: str = ""
    max_rows: int | None = HTML_ROWS
    columns: Sequence[str] | None = None

    @property
    def rows(self) -> int:
        """Number of rows in the table."""
        return len(self.frame)


@dataclass
class Chart:
    """A chart: a title, PNG bytes (see :mod:`ucexplore.reports.charts`) and an optional caption."""

    title: str
    png: bytes
    caption: str = ""


@dataclass
class Section:
    """A part of a report: title, a paragraph, facts (label, value), charts, tables, notes, and extra
    provenance records (``pulls``) for data that is not in a table's ``attrs`` (e.g. per-user calls)."""

    title: str
    text: str = ""
    facts: list[tuple[str, Any]] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pulls: list[dict[str, Any]] = field(default_factory=list)


# -- provenance ---------------------------------------------------------------------------------------------
def _pull_key(p: Mapping[str, Any]) -> str:
    return json.dumps(
        {k: p.get(k) for k in ("service", "host", "path", "params", "fetched_at", "calls")},
        sort_keys=True,
        default=str,
    )


def pulls_of(frames: Iterable[pd.DataFrame], extra: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """The distinct provenance records (``df.attrs["ucexplore"]``) of ``frames`` plus ``extra``, in order.

    Example::

        >>> import pandas as pd
        >>> df = pd.DataFrame({"a": [1]}); df.attrs["ucexplore"] = {"service": "uds", "path": "/x"}
        >>> [p["path"] for p in pulls_of([df, df[df.a > 0]])]
        ['/x']
    """
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for rec in [*(f.attrs.get("ucexplore") for f in frames), *extra]:
        if not isinstance(rec, Mapping) or not rec:
            continue
        key = _pull_key(rec)
        if key not in seen:
            seen.add(key)
            out.append(dict(rec))
    return out


def _fmt_params(params: Any) -> str:
    if not params:
        return ""
    if isinstance(params, Mapping):
        return ", ".join(f"{k}={v}" for k, v in params.items())
    return str(params)


def provenance_items(df: pd.DataFrame) -> list[tuple[str, Any]]:
    """``df.attrs["ucexplore"]`` as (key, value) rows for an ``About`` sheet (redacted); [] when absent.

    Example::

        >>> import pandas as pd
        >>> df = pd.DataFrame(); df.attrs["ucexplore"] = {"service": "uds", "params": {"last": "Ka"}}
        >>> provenance_items(df)
        [('service', 'uds'), ('params', 'last=Ka')]
    """
    rec = df.attrs.get("ucexplore") or {}
    out: list[tuple[str, Any]] = []
    for k, v in rec.items():
        if k == "params":
            v = _fmt_params(v)
        out.append((str(k), v if isinstance(v, (int, float)) and not isinstance(v, bool) else redact(v)))
    return out


# -- cells --------------------------------------------------------------------------------------------------
def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(v, float) and math.isnan(v)


def _cell(v: Any) -> tuple[str, str]:
    """(escaped text, css class) for one value."""
    if _is_missing(v):
        return "", "na"
    if isinstance(v, bool):
        return ("true" if v else "false"), ""
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(UTC)
            text = v.strftime("%Y-%m-%d %H:%M:%S") + " UTC"
        else:
            text = v.strftime("%Y-%m-%d %H:%M:%S")
        return html.escape(text.replace(" 00:00:00", "") if text.endswith("00:00:00") else text), ""
    if isinstance(v, date):
        return v.isoformat(), ""
    if isinstance(v, int) or (hasattr(v, "dtype") and getattr(v.dtype, "kind", "") in "iu"):
        return str(int(v)), "num"
    if isinstance(v, float) or (hasattr(v, "dtype") and getattr(v.dtype, "kind", "") == "f"):
        f = float(v)
        return (f"{f:.2f}".rstrip("0").rstrip(".") if not f.is_integer() else str(int(f))), "num"
    if isinstance(v, (list, tuple, dict)):
        v = json.dumps(v, default=str, ensure_ascii=False)
    return html.escape(scrub(v)), ""


def _table_html(t: Table, sheet: str, anchor: str) -> str:
    df = t.frame
    if t.columns:
        df = df[[c for c in t.columns if c in df.columns]]
    shown = df if t.max_rows is None else df.head(t.max_rows)
    head = "".join(f"<th scope=col>{html.escape(scrub(c))}</th>" for c in shown.columns)
    body: list[str] = []
    for row in shown.itertuples(index=False, name=None):
        cells = []
        for v in row:
            text, cls = _cell(v)
            cells.append(f"<td class={cls}>{text}</td>" if cls else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        span = max(1, len(shown.columns))
        body.append(f"<tr><td class=na colspan={span}>no rows</td></tr>")
    n = len(t.frame)
    count = f"{n:,} row{'s' if n != 1 else ''}"
    note = ""
    if len(shown) < n:
        note = (
            f"<p class=note>Showing the first {len(shown):,} of {n:,} rows; the workbook sheet "
            f"<b>{html.escape(sheet)}</b> has every row.</p>"
        )
    caption = f"<p class=note>{html.escape(redact(t.caption))}</p>" if t.caption else ""
    return (
        f"<h3 id={anchor}>{html.escape(redact(t.name))} <span class=count>· {count}</span></h3>{caption}"
        f'<div class=table-wrap><table class=ucx-report-table data-name="{html.escape(sheet, quote=True)}"'
        f" data-rows={n}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>{note}"
    )


def _fact_value(v: Any) -> str:
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.1f}"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return f"{int(v):,}"
    return redact(v)


# -- the report ---------------------------------------------------------------------------------------------
@dataclass
class Report:
    """A report: a title, sections, and when it was generated. :meth:`write` saves the HTML page and the
    workbook; :attr:`tables` and :attr:`row_counts` list every table by its sheet name.

    Example::

        >>> import pandas as pd, tempfile, pathlib
        >>> r = Report("Demo", [Section("One", tables=[Table("T", pd.DataFrame({"a": [1, 2]}))])])
        >>> r.write(pathlib.Path(tempfile.mkdtemp()) / "demo.html").xlsx_path.suffix
        '.xlsx'
    """

    title: str
    sections: list[Section]
    subtitle: str = ""
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    html_path: Path | None = None
    xlsx_path: Path | None = None

    # -- contents ---------------------------------------------------------------------------------------
    def _named_tables(self) -> list[tuple[str, Table]]:
        from .export import sheet_names

        tables = [t for s in self.sections for t in s.tables]
        return list(zip(sheet_names([t.name for t in tables]), tables))

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Sheet name → DataFrame, for every table in order."""
        return {name: t.frame for name, t in self._named_tables()}

    @property
    def row_counts(self) -> dict[str, int]:
        """Sheet name → number of rows."""
        return {name: t.rows for name, t in self._named_tables()}

    @property
    def pulls(self) -> list[dict[str, Any]]:
        """Where the data came from: the distinct provenance records of every table and section."""
        frames = [t.frame for s in self.sections for t in s.tables]
        extra = [p for s in self.sections for p in s.pulls]
        return pulls_of(frames, extra)

    # -- HTML -------------------------------------------------------------------------------------------
    def to_html(self) -> str:
        """The self-contained HTML page (str)."""
        from .. import __version__

        named = {id(t): name for name, t in self._named_tables()}
        images: list[bytes] = []
        parts: list[str] = []
        toc: list[str] = []
        used_ids: set[str] = set()

        def anchor(text: str) -> str:
            base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "part"
            cand, n = base, 1
            while cand in used_ids:
                n += 1
                cand = f"{base}-{n}"
            used_ids.add(cand)
            return cand

        for s in self.sections:
            sid = anchor(s.title)
            toc.append(f"<a href=#{sid}>{html.escape(redact(s.title))}</a>")
            parts.append(
                f"<section class=ucx-report-section id={sid}><h2>{html.escape(redact(s.title))}</h2>"
            )
            if s.text:
                parts.append(f"<p>{html.escape(redact(s.text))}</p>")
            if s.facts:
                tiles = "".join(
                    f"<div><dt>{html.escape(redact(k))}</dt><dd>{html.escape(_fact_value(v))}</dd></div>"
                    for k, v in s.facts
                )
                parts.append(f"<dl class=facts>{tiles}</dl>")
            if s.notes:
                parts.append(
                    "<ul class=notes>"
                    + "".join(f"<li>{html.escape(redact(n))}</li>" for n in s.notes)
                    + "</ul>"
                )
            if s.charts:
                figs = []
                for c in s.charts:
                    images.append(c.png)
                    cap = f"<figcaption>{html.escape(redact(c.caption))}</figcaption>" if c.caption else ""
                    figs.append(
                        f'<figure class=ucx-report-chart><img alt="{html.escape(redact(c.title), quote=True)}'
                        f'" src="{_IMAGE_SLOT.format(len(images) - 1)}">{cap}</figure>'
                    )
                parts.append("<div class=charts>" + "".join(figs) + "</div>")
            for t in s.tables:
                parts.append(_table_html(t, named[id(t)], anchor("t-" + t.name)))
            parts.append("</section>")

        rows = []
        for p in self.pulls:
            when = p.get("fetched_at") or ""
            if p.get("fetched_until"):
                when = f"{when} – {p['fetched_until']}"
            calls = p.get("calls")
            what = f"{p.get('path', '')}" + (f" × {calls} calls" if calls else "")
            total = p.get("total")
            cells = [
                str(p.get("service", "")).upper(),
                p.get("host", ""),
                what,
                _fmt_params(p.get("params")),
                "" if p.get("rows") is None else str(p.get("rows")),
                "" if total is None else str(total),
                p.get("auth") or "",
                when,
            ]
            rows.append("<tr>" + "".join(f"<td>{html.escape(redact(c))}</td>" for c in cells) + "</tr>")
        prov = (
            (
                "<table class=ucx-report-provenance><thead><tr><th>service</th><th>host</th><th>path</th>"
                "<th>parameters</th><th>rows</th><th>server total</th><th>signed in as</th>"
                "<th>fetched (UTC)</th>"
                "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
            )
            if rows
            else "<p class=note>No provenance recorded (tables built by hand).</p>"
        )
        generated = self.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        sub = f"<p class=sub>{html.escape(redact(self.subtitle))}</p>" if self.subtitle else ""
        page = (
            "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
            f'<meta http-equiv=Content-Security-Policy content="{_CSP}">'
            '<meta name=viewport content="width=device-width,initial-scale=1">'
            f'<meta name=generator content="ucexplore {__version__}">'
            f"<title>{html.escape(redact(self.title))}</title><style>{_CSS}</style></head>"
            f"<body class=ucx-report><header><h1>{html.escape(redact(self.title))}</h1>{sub}"
            f"<p class=meta>Generated {generated} by ucexplore {__version__}</p>"
            f"<nav class=toc>{''.join(toc)}</nav></header><main>{''.join(parts)}</main>"
            f"<footer class=ucx-report-footer><h2>Where the data came from</h2>{prov}"
            f"<p class=meta>Generated {generated} by ucexplore {__version__}. Parameters and sign-in details "
            f"are shown without credentials; no token, password or session ticket is included.</p>"
            "</footer></body></html>\n"
        )
        for i, png in enumerate(images):
            page = page.replace(
                _IMAGE_SLOT.format(i), "data:image/png;base64," + base64.b64encode(png).decode()
            )
        return page

    def _repr_html_(self) -> str:
        files = " · ".join(
            f"<code>{html.escape(str(p))}</code>" for p in (self.html_path, self.xlsx_path) if p
        )
        rows = "".join(f"<li>{html.escape(k)}: {v:,} rows</li>" for k, v in self.row_counts.items())
        return (
            f"<div class=ucx-report-summary><b>{html.escape(redact(self.title))}</b>"
            f"{' · ' + files if files else ''}<ul>{rows}</ul></div>"
        )

    def summary(self) -> str:
        """Paths and row counts as text (what ``ucexplore report`` prints)."""
        lines = []
        if self.html_path:
            lines.append(f"report:   {self.html_path}")
        if self.xlsx_path:
            lines.append(f"workbook: {self.xlsx_path}")
        width = max([len(k) for k in self.row_counts] or [0])
        lines += [f"  {k.ljust(width)}  {v:>7,} rows" for k, v in self.row_counts.items()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Report {self.title!r} tables={self.row_counts} html={self.html_path} xlsx={self.xlsx_path}>"

    # -- files ------------------------------------------------------------------------------------------
    def write_html(self, path: str | Path) -> Path:
        """Save the HTML page; returns its path (also kept in :attr:`html_path`)."""
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_html(), encoding="utf-8")
        self.html_path = path.resolve()
        return self.html_path

    def about(self) -> list[tuple[str, Any]]:
        """The ``About`` sheet: title, generation time, then one block per pull."""
        from .. import __version__

        items: list[tuple[str, Any]] = [
            ("report", redact(self.title)),
            ("generated_at", self.generated_at.astimezone(UTC).isoformat(timespec="seconds")),
            ("generator", f"ucexplore {__version__}"),
        ]
        for i, p in enumerate(self.pulls, start=1):
            for k, v in p.items():
                v = _fmt_params(v) if k == "params" else v
                items.append(
                    (
                        f"pull {i}: {k}",
                        v
                        if isinstance(v, (int, float)) and not isinstance(v, bool)
                        else redact("" if v is None else v),
                    )
                )
        return items

    def write_xlsx(self, path: str | Path) -> Path:
        """Save the workbook (one sheet per table, then ``About``); returns its path."""
        from .export import write_xlsx

        path = Path(path).expanduser()
        write_xlsx(self.tables, path, about=self.about())
        self.xlsx_path = path.resolve()
        return self.xlsx_path

    def write(self, out: str | Path = DEFAULT_OUT, *, xlsx: bool | str | Path = True) -> Report:
        """Save ``out`` (HTML; default ``report.html`` in the output folder, :func:`ucexplore.output_dir`)
        and, unless ``xlsx=False``, the workbook next to it (``report.xlsx``) or at the path given as
        ``xlsx``. Returns self."""
        html_path = self.write_html(out.path() if out is DEFAULT_OUT else out)
        if xlsx:
            target = html_path.with_suffix(".xlsx") if xlsx is True else Path(xlsx)
            self.write_xlsx(target)
        return self
