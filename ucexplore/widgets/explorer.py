"""The Explorer: pick a resource of a client, fill its filters, fetch, see rows, chart a column, export.

``ux.explore(client)`` works with any service client: the resources are the client's list endpoints
(``Service.endpoints()``), the filters come from each endpoint's signature — text boxes, date pickers for
time ranges (``from``/``to``, ``start_from`` …), dropdowns for enumerations (message folder, reason-code
category, meeting state …; see :data:`ENUMERATIONS`) and yes/no choices.

* **Fetch** runs the endpoint's ``*_async`` twin as a task on the kernel's running event loop, so the kernel
  stays responsive; a progress bar pulses and **Cancel** stops it. In a cell, ``await ex.fetch()`` waits for
  it; outside a kernel (a script, a test) ``ex.fetch()`` simply runs to completion.
* **Rows** are shown with itables (sortable, searchable; offline, no frontend extension) where installed, as
  plain escaped HTML otherwise, behind a **size guard**: at most ``max_rows`` rows and about ``max_bytes``
  of data, with a note saying how many rows are not shown (exports always have every row).
* **Chart**: value counts (categories, booleans, text), a histogram (numbers) or rows per day (timestamps)
  of the chosen column, as a PNG.
* **Export** CSV / XLSX / HTML into the output folder (``$UCX_OUTPUT_DIR`` or ``./output``, see
  :func:`ucexplore.paths.output_path`) or the folder typed in; the file, its folder and the row count are shown.
* Values typed into it **survive a re-run of the cell**: they are remembered per client host and service.
* Errors (``NotSignedIn``, ``ApiError`` …) appear inside the widget as a short card — what failed, what to do —
  never as a traceback; a failed fetch or another resource clears the previous rows, chart and counts.
* No secret is ever put into a widget: the client holds the credentials.

Every control has a ``ucx-explorer-…`` CSS class (``ucx-explorer``, ``-resource``, ``-fetch``, ``-table``,
``-chart``, ``-export``, ``-status``, ``-error`` …) for tests and themes.

Example::

    >>> import ucexplore as ux
    >>> uds = ux.UDS(lab.urls["cucm"], auth=flow)                   # doctest: +SKIP
    >>> ex = ux.explore(uds)               # the last line of a cell shows it   # doctest: +SKIP
    >>> ex.resource = "users"; ex.set_filters(last="Ka")            # doctest: +SKIP
    >>> df = ex.fetch()                    # in a script: runs to completion   # doctest: +SKIP
    >>> ex.export("csv")                                            # doctest: +SKIP
    PosixPath('/home/me/output/uds-users.csv')
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import time
import warnings
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import UcError
from ..paths import output_path
from ..redact import redact
from .explorer_filters import ENUMERATIONS, Filter, build_filters
from .login import _card, _close_all, _running_loop, _split_message, _wrapping

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["ENUMERATIONS", "Explorer", "explore", "forget"]

log = logging.getLogger("ucexplore.widgets")

#: itables controls, always shown (its default hides search and paging for tables that fit one page)
_ITABLES_LAYOUT = {
    "topStart": "pageLength",
    "topEnd": {"search": {"placeholder": "search rows"}},
    "bottomStart": "info",
    "bottomEnd": "paging",
}

#: transports whose tqdm bars are off while Explorers fetch: transport → (fetches running, its own setting)
_QUIET: weakref.WeakKeyDictionary[Any, tuple[int, bool]] = weakref.WeakKeyDictionary()


def _quiet(transport: Any, step: int) -> None:
    """Switch a transport's tqdm bars off while at least one Explorer fetch runs on it, then back."""
    if transport is None or not hasattr(transport, "progress"):
        return
    running, own = _QUIET.get(transport, (0, bool(transport.progress)))
    running += step
    if running > 0:
        _QUIET[transport] = (running, own)
        transport.progress = False
    else:
        _QUIET.pop(transport, None)
        transport.progress = own


#: values typed into Explorers, by (client host, service): they survive a re-run of the cell
_MEMORY: dict[tuple[str, str], dict[str, Any]] = {}


def _key(client: Any) -> tuple[str, str]:
    return (
        str(getattr(client, "host", "") or ""),
        str(getattr(client, "product", "") or type(client).__name__),
    )


def forget(client: Any = None) -> None:
    """Forget the values remembered for ``client`` (every client when None).

    Example::

        >>> forget()
    """
    if client is None:
        _MEMORY.clear()
    else:
        _MEMORY.pop(_key(client), None)


def _first_sentence(text: str | None) -> str:
    if not text:
        return ""
    first = text.strip().split("\n\n", 1)[0]
    return first.split(". Example:", 1)[0].strip()


def _error_box(title: str, message: str, hint: str | list[str] | None = None) -> str:
    return _card(title, message, [hint] if isinstance(hint, str) else list(hint or []))


#: what the chart area says until there is a chart
_NO_CHART = "The chart of a column appears here after Fetch."
#: the status line before anything was fetched
_READY = "Pick a resource, fill the filters, then Fetch."


# ============================================================================================================
# table rendering
# ============================================================================================================
def _itables_available() -> bool:
    try:
        import itables  # noqa: F401
    except ImportError:
        return False
    return True


def _cell_text(v: Any) -> Any:
    """One text cell for display: lists/dicts as JSON, missing as an empty string."""
    import pandas as pd

    if isinstance(v, (list, dict, tuple)):
        return json.dumps(v, default=str, ensure_ascii=False)
    try:
        return "" if pd.isna(v) else v
    except (TypeError, ValueError):  # an array-like value
        return str(v)


def _displayable(df: pd.DataFrame) -> pd.DataFrame:
    """A copy for display: lists/dicts as JSON text, missing text as empty cells (not ``NaN``)."""
    import pandas as pd
    from pandas.api import types as t

    out = df.copy()
    for col in out.columns:
        s = out[col]
        if t.is_numeric_dtype(s.dtype) or t.is_datetime64_any_dtype(s.dtype) or t.is_bool_dtype(s.dtype):
            continue
        values = [_cell_text(v) for v in s.tolist()]
        out[col] = pd.Series(values, index=s.index, dtype=object)
    out.attrs = {}
    return out


def _data_bytes(df: pd.DataFrame) -> int:
    """About how many bytes the rows weigh once sent to the browser (JSON)."""
    try:
        return len(df.to_json(orient="values", date_format="iso", default_handler=str))
    except (ValueError, TypeError, OverflowError):  # pragma: no cover - exotic values
        return int(df.memory_usage(deep=True).sum())


def size_guard(df: pd.DataFrame, max_rows: int, max_bytes: int) -> tuple[pd.DataFrame, str]:
    """The first rows of ``df`` that fit ``max_rows`` and about ``max_bytes``, and a note when rows are left
    out.

    Example::

        >>> import pandas as pd
        >>> shown, note = size_guard(pd.DataFrame({"a": range(5000)}), 1000, 1_000_000)
        >>> len(shown), note[:38]
        (1000, 'Showing the first 1,000 of 5,000 rows ')
    """
    shown = df.head(max(0, max_rows))
    weight = _data_bytes(shown) if len(shown) else 0
    while weight > max_bytes and len(shown) > 1:
        shown = shown.head(max(1, int(len(shown) * max_bytes / weight * 0.95)))
        weight = _data_bytes(shown)
    note = ""
    if len(shown) < len(df):
        note = (
            f"Showing the first {len(shown):,} of {len(df):,} rows (at most {max_rows:,} rows and about "
            f"{max_bytes / 1e6:.1f} MB are shown); the exports have every row."
        )
    return shown, note


# ============================================================================================================
# the widget
# ============================================================================================================
class Explorer:
    """Explore a service client's list endpoints. Build it with :func:`explore`.

    Attributes: ``client``; ``widget`` (the root box); ``frame`` (the last fetched DataFrame, every row);
    ``shown_rows`` (rows in the table); ``table_html``; ``chart_png``; ``exported`` (format → path);
    ``error`` (the error text shown, or None); ``status_text``.

    Example::

        >>> ex = Explorer(ux.UDS(url, auth=flow))          # doctest: +SKIP
        >>> ex.resources[:2]                                # doctest: +SKIP
        ['servers', 'users']
    """

    def __init__(
        self,
        client: Any,
        *,
        resource: str | None = None,
        folder: str | Path | None = None,
        limit: int = 1000,
        max_rows: int = 1000,
        max_bytes: int = 1_000_000,
        table: str = "auto",
        choices: Mapping[str, Any] | None = None,
        remember: bool = True,
    ) -> None:
        endpoints = getattr(type(client), "endpoints", None)
        if endpoints is None:
            raise TypeError(
                f"explore() takes a ucexplore service client (ux.UDS, ux.Unity …), got "
                f"{type(client).__name__}"
            )
        self.client = client
        self._endpoints = {n: f for n, f in endpoints().items() if not f.one}
        if not self._endpoints:
            raise ValueError(f"{type(client).__name__} has no list endpoints to explore")
        if table not in ("auto", "itables", "html"):
            raise ValueError("table= takes 'auto', 'itables' or 'html'")
        self.max_rows = int(max_rows)
        self.max_bytes = int(max_bytes)
        self._use_itables = table == "itables" or (table == "auto" and _itables_available())
        self._choices = dict(choices or {})
        self._product = str(getattr(client, "product", "") or type(client).__name__.lower())
        self._remember = remember
        self._memory: dict[str, Any] = _MEMORY.setdefault(_key(client), {}) if remember else {}
        self._closed = False
        self._restoring = False
        self._task: asyncio.Task[Any] | None = None
        self._busy = False
        self.frame: pd.DataFrame | None = None
        self.shown_rows = 0
        self.table_html = ""
        self.chart_png: bytes | None = None
        self.exported: dict[str, Path] = {}
        self.error: str | None = None
        self._itables_ready = False
        self._filters: dict[str, list[Filter]] = {}
        self._build(folder, limit)
        self._restore(resource)

    # -- construction ------------------------------------------------------------------------------------
    def _build(self, folder: str | Path | None, limit: int) -> None:
        W = widgets
        label = getattr(self.client, "label", type(self.client).__name__)
        host = getattr(self.client, "host", "")
        self._title = W.HTML(
            f"<b>Explorer</b> · {html.escape(str(label))} "
            f"<span style='color:#667'>at {html.escape(str(host))}</span>"
        )
        self._title.add_class("ucx-explorer-title")
        options = [(f"{n}  ({f.path})", n) for n, f in self._endpoints.items()]
        self._resource = W.Dropdown(
            options=options,
            description="resource",
            style={"description_width": "initial"},
            layout=W.Layout(width="auto", min_width="24em"),
        )
        self._resource.add_class("ucx-explorer-resource")
        self._help = W.HTML(layout=W.Layout(flex="1 1 auto", min_width="0"))
        self._help.add_class("ucx-explorer-help")
        self._filters_box = W.Box(layout=W.Layout(flex_flow="row wrap"))
        self._filters_box.add_class("ucx-explorer-filters")
        self._limit = W.BoundedIntText(
            value=max(0, int(limit)),
            min=0,
            max=10_000_000,
            description="limit",
            tooltip="most rows to fetch (0 = every row)",
            style={"description_width": "initial"},
            layout=W.Layout(width="12em"),
        )
        self._limit.add_class("ucx-explorer-limit")
        self._fetch_button = W.Button(
            description="Fetch",
            button_style="primary",
            icon="download",
            tooltip="Fetch the rows (runs in the background)",
        )
        self._fetch_button.add_class("ucx-explorer-fetch")
        self._cancel_button = W.Button(
            description="Cancel", icon="stop", disabled=True, tooltip="Stop the running fetch"
        )
        self._cancel_button.add_class("ucx-explorer-cancel")
        self._progress = W.IntProgress(
            value=0, min=0, max=100, layout=W.Layout(width="10em", visibility="hidden")
        )
        self._progress.add_class("ucx-explorer-progress")
        self._status = W.HTML(
            _wrapping(f"<span style='color:#667'>{_READY}</span>"),
            layout=W.Layout(flex="1 1 auto", min_width="0"),
        )
        self._status.add_class("ucx-explorer-status")
        self._error = W.HTML()
        self._error.add_class("ucx-explorer-error")
        self._itables_init = W.Output(layout=W.Layout(height="0px", overflow="hidden"))
        self._itables_init.add_class("ucx-explorer-itables-init")
        self._table = W.Output(layout=W.Layout(max_height="520px", overflow="auto"))
        self._table.add_class("ucx-explorer-table")
        self._note = W.HTML()
        self._note.add_class("ucx-explorer-note")
        self._chart_column = W.Dropdown(
            options=[],
            disabled=True,
            description="chart",
            style={"description_width": "initial"},
            layout=W.Layout(width="auto", min_width="18em"),
        )
        self._chart_column.add_class("ucx-explorer-chart-column")
        self._chart_caption = W.HTML(
            _wrapping(f"<span style='color:#667'>{_NO_CHART}</span>"),
            layout=W.Layout(flex="1 1 auto", min_width="0"),
        )
        self._chart_caption.add_class("ucx-explorer-chart-caption")
        # hidden until there is a PNG: an empty Image is a broken-image icon in the browser
        self._chart = W.Image(format="png", layout=W.Layout(max_width="680px", display="none"))
        self._chart.add_class("ucx-explorer-chart")
        self._folder = W.Text(
            value="" if folder is None else str(folder),
            placeholder="default: the output folder",
            tooltip="where exports are written; empty: the output folder ($UCX_OUTPUT_DIR or ./output)",
            description="folder",
            style={"description_width": "initial"},
            layout=W.Layout(width="auto", min_width="22em"),
        )
        self._folder.add_class("ucx-explorer-folder")
        self._filename = W.Text(
            value="",
            description="file",
            style={"description_width": "initial"},
            layout=W.Layout(width="auto", min_width="16em"),
        )
        self._filename.add_class("ucx-explorer-filename")
        self._export_buttons: dict[str, Any] = {}
        for fmt, icon in (("csv", "file-text"), ("xlsx", "file-excel-o"), ("html", "file-code-o")):
            b = W.Button(
                description=fmt.upper(),
                icon=icon,
                tooltip=f"Write every row as {fmt.upper()}",
                layout=W.Layout(width="7em"),
            )
            b.add_class(f"ucx-explorer-export-{fmt}")
            b.on_click(lambda _b, fmt=fmt: self.export(fmt))
            self._export_buttons[fmt] = b
        self._export_result = W.HTML()
        self._export_result.add_class("ucx-explorer-export-result")

        row_resource = W.HBox([self._resource, self._help], layout=W.Layout(align_items="center"))
        row_resource.add_class("ucx-explorer-resource-row")
        row_fetch = W.HBox(
            [self._limit, self._fetch_button, self._cancel_button, self._progress, self._status],
            layout=W.Layout(align_items="center", flex_flow="row wrap"),
        )
        row_fetch.add_class("ucx-explorer-fetch-row")
        chart_row = W.HBox([self._chart_column, self._chart_caption], layout=W.Layout(align_items="center"))
        chart_row.add_class("ucx-explorer-chart-row")
        chart_box = W.VBox([chart_row, self._chart])
        chart_box.add_class("ucx-explorer-chart-box")
        export_row = W.HBox(
            [self._folder, self._filename, *self._export_buttons.values()],
            layout=W.Layout(align_items="center", flex_flow="row wrap"),
        )
        export_row.add_class("ucx-explorer-export")
        self.widget = W.VBox(
            [
                self._title,
                row_resource,
                self._filters_box,
                row_fetch,
                self._error,
                self._itables_init,
                self._table,
                self._note,
                chart_box,
                export_row,
                self._export_result,
            ]
        )
        self.widget.add_class("ucx-explorer")
        self._boxes = [row_resource, row_fetch, chart_box, chart_row, export_row, self.widget]

        self._resource.observe(self._on_resource, names="value")
        self._limit.observe(lambda _c: self._save(), names="value")
        self._folder.observe(lambda _c: self._save(), names="value")
        self._filename.observe(lambda _c: self._save(), names="value")
        self._chart_column.observe(self._on_chart_column, names="value")
        self._fetch_button.on_click(lambda _b: self.fetch())
        self._cancel_button.on_click(lambda _b: self.cancel())

    def _restore(self, resource: str | None) -> None:
        mem = self._memory
        self._restoring = True
        try:
            if "limit" in mem:
                self._limit.value = mem["limit"]
            if "folder" in mem:
                self._folder.value = mem["folder"]
            if "filename" in mem:
                self._filename.value = mem["filename"]
            wanted = resource or mem.get("resource")
            if wanted is not None and wanted not in self._endpoints:
                if resource is not None:
                    raise ValueError(
                        f"{resource!r} is not a list resource of {type(self.client).__name__}; "
                        f"pick one of {', '.join(self._endpoints)}"
                    )
                wanted = None
            self._resource.value = wanted or next(iter(self._endpoints))
            self._show_resource(self._resource.value)
        finally:
            self._restoring = False
        self._save()

    # -- public API ---------------------------------------------------------------------------------------
    @property
    def resources(self) -> list[str]:
        """The list endpoints that can be explored."""
        return list(self._endpoints)

    @property
    def resource(self) -> str:
        """The chosen resource (endpoint name); settable."""
        return str(self._resource.value)

    @resource.setter
    def resource(self, name: str) -> None:
        if name not in self._endpoints:
            raise ValueError(
                f"{name!r} is not a list resource of {type(self.client).__name__}; pick one of "
                f"{', '.join(self._endpoints)}"
            )
        self._resource.value = name

    @property
    def filters(self) -> dict[str, Any]:
        """The current resource's filter values by keyword (None when empty)."""
        return {f.name: f.value() for f in self._filters_for(self.resource)}

    def set_filters(self, **values: Any) -> None:
        """Fill filters of the current resource by keyword (what typing into the boxes does).

        Example::

            >>> ex.set_filters(last="Ka")          # doctest: +SKIP
        """
        by_name = {f.name: f for f in self._filters_for(self.resource)}
        for k, v in values.items():
            f = (
                by_name.get(k)
                or by_name.get(k + "_")
                or next((x for x in by_name.values() if x.wire == k), None)
            )
            if f is None:
                raise TypeError(f"{self.resource} has no filter {k!r}; it has {', '.join(by_name) or 'none'}")
            f.set(v)

    @property
    def limit(self) -> int | None:
        """Most rows to fetch (None = every row); settable."""
        return int(self._limit.value) or None

    @limit.setter
    def limit(self, value: int | None) -> None:
        self._limit.value = int(value or 0)

    @property
    def folder(self) -> Path:
        """Where exports are written: the folder typed in, else the output folder (``$UCX_OUTPUT_DIR`` or
        ``./output``, made when first used); settable (None or ``""``: the output folder)."""
        typed = (self._folder.value or "").strip()
        return Path(typed).expanduser() if typed else output_path("export").parent

    @folder.setter
    def folder(self, value: str | Path | None) -> None:
        self._folder.value = "" if value is None else str(value)

    @property
    def chart_column(self) -> str | None:
        """The charted column; settable once rows are fetched."""
        return self._chart_column.value

    @chart_column.setter
    def chart_column(self, column: str) -> None:
        if column not in (self._chart_column.options or ()):
            raise ValueError(
                f"no column {column!r} to chart; fetch first, or pick one of "
                f"{', '.join(map(str, self._chart_column.options or ()))}"
            )
        self._chart_column.value = column

    @property
    def running(self) -> bool:
        """True while a fetch runs."""
        return self._busy

    @property
    def status_text(self) -> str:
        """The status line as plain text."""
        return re.sub(r"<[^>]+>", "", html.unescape(self._status.value)).strip()

    @property
    def widgets(self) -> list[Any]:
        """Every ipywidget of the Explorer (for tests and state checks)."""
        out = [
            self._title,
            self._resource,
            self._help,
            self._filters_box,
            self._limit,
            self._fetch_button,
            self._cancel_button,
            self._progress,
            self._status,
            self._error,
            self._itables_init,
            self._table,
            self._note,
            self._chart_column,
            self._chart_caption,
            self._chart,
            self._folder,
            self._filename,
            *self._export_buttons.values(),
            self._export_result,
            *self._boxes,
        ]
        out += [f.widget for fs in self._filters.values() for f in fs]
        return out

    def fetch(self) -> Any:
        """Fetch the chosen resource with the filters (what the Fetch button does).

        Inside a running event loop (a notebook kernel) this starts a task and returns it (``await`` it to
        wait); otherwise it runs to completion and returns the DataFrame (None when it failed: see
        :attr:`error`).
        """
        if self._closed:
            raise RuntimeError("this Explorer is closed")
        if self._task is not None and not self._task.done():
            return self._task
        loop = _running_loop()
        if loop is not None:
            self._task = loop.create_task(self.fetch_async(), name="ucexplore-explorer-fetch")
            return self._task
        from ..transport import run_sync

        return run_sync(self.fetch_async())

    async def fetch_async(self) -> pd.DataFrame | None:
        """Fetch now and update the table and chart; returns the DataFrame, or None (error shown)."""
        if self._busy:
            return None
        name = self.resource
        try:
            kwargs = self._arguments(name)
        except ValueError as exc:
            self._clear_results()
            self._show_error("Check the filters", str(exc))
            self._status.value = _wrapping("<span style='color:#c0392b'>Not fetched.</span>")
            return None
        method = getattr(self.client, f"{name}_async")
        self._set_busy(True, f"Fetching {html.escape(name)}…")
        started = time.monotonic()
        pulse = asyncio.ensure_future(self._pulse())
        transport = getattr(self.client, "transport", None)
        _quiet(transport, +1)  # the Explorer shows its own progress bar, not tqdm's
        try:
            df = await method(**kwargs)
        except asyncio.CancelledError:
            self._set_busy(False, "<span style='color:#8a6d00'>Cancelled.</span>")
            return None
        except Exception as exc:  # noqa: BLE001 - every failure is shown in the widget
            self._clear_results()  # the previous rows belong to another request: do not leave them up
            self._show_exception(exc, doing=f"Fetching {name}")
            self._set_busy(False, "<span style='color:#c0392b'>Failed.</span>")
            return None
        finally:
            pulse.cancel()
            _quiet(transport, -1)
        elapsed = time.monotonic() - started
        self.frame = df
        self._clear_error()
        try:
            self._render_table(df)
            self._update_chart_columns(df)
        except Exception as exc:  # noqa: BLE001
            self._show_exception(exc)
        prov = df.attrs.get("ucexplore") or {}
        total = prov.get("total")
        more = f" of {total:,}" if isinstance(total, int) and total > len(df) else ""
        where = html.escape(f"{prov.get('service', self._product).upper()} {prov.get('path', '')}".strip())
        self._set_busy(
            False,
            f"<b>{len(df):,}</b> rows{more} · {where} · {elapsed:.1f} s · fetched "
            f"{datetime.now(UTC):%H:%M:%S} UTC",
        )
        return df

    def _clear_results(self) -> None:
        """Forget the rows on show: table, size note, chart, counts and the last export line."""
        self.frame = None
        self.shown_rows = 0
        self.table_html = ""
        self._table.outputs = ()
        self._note.value = ""
        self._export_result.value = ""
        self._restoring = True
        try:
            self._chart_column.options = []
            self._chart_column.value = None
        finally:
            self._restoring = False
        self._chart_column.disabled = True
        self._hide_chart(f"<span style='color:#667'>{_NO_CHART}</span>")
        if not self._busy:
            self._status.value = _wrapping(f"<span style='color:#667'>{_READY}</span>")

    def _hide_chart(self, caption: str) -> None:
        self.chart_png = None
        self._chart.layout.display = "none"
        self._chart.value = b""
        self._chart_caption.value = _wrapping(caption)

    def cancel(self) -> None:
        """Stop a running fetch (what the Cancel button does)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def export(self, fmt: str = "csv") -> Path | None:
        """Write every fetched row as ``csv``, ``xlsx`` or ``html`` into :attr:`folder`; returns the path
        (None when there is nothing to export or it failed: see :attr:`error`)."""
        from ..reports.export import EXPORT_FORMATS, export

        fmt = fmt.lower()
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}")
        if self.frame is None:
            self._show_error("Nothing to export", "fetch some rows first (the Fetch button)")
            return None
        stem = self._filename.value.strip() or self._default_stem()
        typed = (self._folder.value or "").strip()
        try:
            folder = Path(typed).expanduser() if typed else output_path(stem).parent  # the output folder
            path = export(
                self.frame, fmt, folder, stem, title=f"{self._product.upper()} {self.resource}"
            )
        except Exception as exc:  # noqa: BLE001 - e.g. a folder that cannot be written
            self._show_exception(exc, doing=f"Writing {fmt.upper()}")
            return None
        path = path.resolve()
        self.exported[fmt] = path
        self._clear_error()
        where = "the output folder " if not typed else ""
        self._export_result.value = _wrapping(
            f"<span style='color:#1e7d32'>✔</span> Wrote <b class='ucx-explorer-export-file'>"
            f"{html.escape(path.name)}</b> ({len(self.frame):,} rows) in {where}"
            f"<code class='ucx-explorer-export-folder'>{html.escape(str(path.parent))}</code>"
        )
        return path

    def close(self) -> None:
        """Cancel a running fetch and close every widget (remembered values stay)."""
        if self._closed:
            return
        self._closed = True
        self.cancel()
        _close_all(self.widgets)

    def __repr__(self) -> str:
        return (
            f"<Explorer {type(self.client).__name__} {getattr(self.client, 'host', '')} "
            f"resource={self.resource!r} rows={0 if self.frame is None else len(self.frame)}>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        if self._closed:
            return {"text/plain": repr(self)}
        data = self.widget._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = repr(self)
        return data

    # -- resource and filters ---------------------------------------------------------------------------
    def _filters_for(self, name: str) -> list[Filter]:
        fs = self._filters.get(name)
        if fs is None:
            fs = build_filters(self._product, name, self._endpoints[name], self._choices)
            saved = (self._memory.get("filters") or {}).get(name) or {}
            for f in fs:
                if f.name in saved:
                    try:
                        f.set(saved[f.name])
                    except (ValueError, TypeError):
                        pass
                f.widget.observe(lambda _c: self._save(), names="value")
            self._filters[name] = fs
        return fs

    def _show_resource(self, name: str) -> None:
        fetch = self._endpoints[name]
        self._filters_box.children = tuple(f.widget for f in self._filters_for(name))
        self._help.value = _wrapping(
            f"<span style='color:#445'>{html.escape(_first_sentence(fetch.__doc__))}</span>"
        )
        self._filename.placeholder = self._default_stem()

    def _on_resource(self, change: dict[str, Any]) -> None:
        if self._closed:
            return
        self._show_resource(change["new"])
        if not self._restoring:
            if self._task is not None and not self._task.done():
                self._task.cancel()  # rows of the resource left behind would land in this one's table
            self._clear_results()
            self._clear_error()
        self._save()

    def _default_stem(self) -> str:
        return f"{self._product}-{self.resource}".replace("_", "-")

    def _arguments(self, name: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        missing = []
        for f in self._filters_for(name):
            v = f.value()
            if v is None:
                if f.required:
                    missing.append(f.name)
                continue
            kwargs[f.name] = v
        if missing:
            raise ValueError(
                f"{name} needs {', '.join(missing)}: fill in the box" + ("es" if len(missing) > 1 else "")
            )
        kwargs["limit"] = self.limit
        return kwargs

    def _save(self) -> None:
        if self._restoring or not self._remember or self._closed:
            return
        mem = self._memory
        mem["resource"] = self.resource
        mem["limit"] = int(self._limit.value)
        mem["folder"] = self._folder.value
        mem["filename"] = self._filename.value
        saved = mem.setdefault("filters", {})
        for name, fs in self._filters.items():
            saved[name] = {f.name: f.get() for f in fs}

    # -- busy state ---------------------------------------------------------------------------------------
    def _set_busy(self, busy: bool, status: str) -> None:
        self._busy = busy
        self._fetch_button.disabled = busy
        self._cancel_button.disabled = not busy
        self._progress.layout.visibility = "visible" if busy else "hidden"
        self._progress.value = 0
        self._progress.bar_style = "info" if busy else ""
        self._status.value = _wrapping(status)

    async def _pulse(self) -> None:
        """Move the progress bar while the fetch runs (the page count is not known in advance)."""
        step = 0
        started = time.monotonic()
        while True:
            await asyncio.sleep(0.2)
            step = (step + 8) % 108
            self._progress.value = min(100, step)
            self._progress.description = f"{time.monotonic() - started:.0f} s"

    # -- errors -------------------------------------------------------------------------------------------
    def _show_exception(self, exc: BaseException, *, doing: str | None = None) -> None:
        self.error = redact(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, UcError):
            # one card: what failed (str(exc) is redacted) and what to do, at most two "→" lines
            head, hints = _split_message(exc)
            title = f"{doing} failed" if doing else "Failed"
            self._error.value = _error_box(f"{title} · {type(exc).__name__}", head, hints[:2])
        elif isinstance(exc, (TypeError, ValueError)):
            self._error.value = _error_box("Check the filters", redact(str(exc)))
        else:
            log.warning("the Explorer hit an unexpected %s", type(exc).__name__)
            self._error.value = _error_box(
                f"Unexpected {type(exc).__name__}",
                redact(str(exc)),
                "if it persists, report it with the steps that led here",
            )

    def _show_error(self, title: str, message: str) -> None:
        self.error = redact(f"{title}: {message}")
        self._error.value = _error_box(title, redact(message))

    def _clear_error(self) -> None:
        self.error = None
        self._error.value = ""

    # -- table --------------------------------------------------------------------------------------------
    def _render_table(self, df: pd.DataFrame) -> None:
        shown, note = size_guard(df, self.max_rows, self.max_bytes)
        shown = _displayable(shown)
        self.shown_rows = len(shown)
        if self._use_itables:
            try:
                markup = self._itables_html(shown)
            except Exception as exc:  # noqa: BLE001 - fall back to plain HTML rather than show nothing
                log.info("itables could not render the table (%s); using plain HTML", type(exc).__name__)
                markup = self._plain_html(shown)
        else:
            markup = self._plain_html(shown)
        self.table_html = markup
        self._table.outputs = ()
        self._table.append_display_data(_HTMLData(markup))
        self._note.value = _wrapping(f"<span style='color:#8a6d00'>{html.escape(note)}</span>") if note else ""

    def _itables_html(self, shown: pd.DataFrame) -> str:
        from itables import options as itables_options
        from itables import to_html_datatable
        from itables.javascript import generate_init_offline_itables_html

        if not self._itables_ready:
            init = generate_init_offline_itables_html(itables_options.dt_bundle)
            self._itables_init.outputs = ()
            self._itables_init.append_display_data(_HTMLData(init))
            self._itables_ready = True
        with warnings.catch_warnings():  # itables measures zone-aware columns with a deprecated pandas call
            warnings.filterwarnings("ignore", message=r"Series\.values returning an ndarray")
            return to_html_datatable(
                shown,
                connected=False,
                maxBytes=0,
                maxColumns=0,
                showIndex=False,
                classes="display compact nowrap",
                allow_html=False,
                pageLength=25,
                lengthMenu=[10, 25, 100, 500],
                scrollX=True,
                layout=_ITABLES_LAYOUT,
                columnDefs=[{"className": "dt-left", "targets": "_all"}],
            )

    @staticmethod
    def _plain_html(shown: pd.DataFrame) -> str:
        table = shown.to_html(index=False, escape=True, border=0, na_rep="", classes="ucx-explorer-rows")
        return (
            "<style>.ucx-explorer-rows{border-collapse:collapse;font-size:12px}"
            ".ucx-explorer-rows th,.ucx-explorer-rows td{padding:2px 8px;border-bottom:1px solid #ddd;"
            "text-align:left;white-space:nowrap}</style>" + table
        )

    # -- chart --------------------------------------------------------------------------------------------
    def _update_chart_columns(self, df: pd.DataFrame) -> None:
        from ..reports.charts import chart_kind

        columns = [str(c) for c in df.columns]
        remembered = (self._memory.get("chart_columns") or {}).get(self.resource)
        current = self._chart_column.value
        pick = next((c for c in (current, remembered) if c in columns), None)
        if pick is None and columns:
            pick = _default_chart_column(df, columns, chart_kind)
        self._restoring = True
        try:
            self._chart_column.options = columns
            self._chart_column.value = pick
        finally:
            self._restoring = False
        self._chart_column.disabled = not columns
        if pick is None:
            self._hide_chart("<span style='color:#667'>No columns to chart.</span>")
        self._render_chart()

    def _on_chart_column(self, change: dict[str, Any]) -> None:
        if self._restoring or self._closed:
            return
        if self._remember and change["new"] is not None:
            # only a column the person picked is remembered (per resource), never the automatic choice
            self._memory.setdefault("chart_columns", {})[self.resource] = change["new"]
        self._save()
        self._render_chart()

    def _render_chart(self) -> None:
        from ..reports.charts import chart_png, describe_kind

        col = self._chart_column.value
        if self.frame is None or col is None or col not in self.frame.columns:
            return
        series = self.frame[col]
        try:
            png = chart_png(series)
        except Exception as exc:  # noqa: BLE001 - a column that cannot be charted
            self._hide_chart(
                f"<span style='color:#c0392b'>cannot chart {html.escape(col)}: "
                f"{html.escape(redact(str(exc)))}; pick another column</span>"
            )
            return
        self.chart_png = png
        self._chart.value = png
        self._chart.layout.display = None  # shown (the default) now that there is an image
        self._chart_caption.value = _wrapping(
            f"<span style='color:#667'>{html.escape(describe_kind(series))}</span>"
        )


#: column names that identify a row rather than describe it (never the default chart): ``id``, ``userName``,
#: ``objectId``, ``MsgId``, ``uri``/``URI``/``@uri``, ``webLink``, ``email(s)`` … also after a ``parent.`` prefix
_ID_NAME = re.compile(
    r"(?i)^(?:.*[._])?(?:id|uuid|guid|key|@?uri|url|href|links?|weblink|sipaddress|username|loginid|loginname|"
    r"emails?|directoryuri|usn|uidvalidity|etag|name|displayname|phonenumbers?)$"
    r"|(?:Id|ID|Uri|URI|Url|URL|Guid|GUID|Uuid|UUID)$"
)


def _id_like(name: str) -> bool:
    return bool(_ID_NAME.search(name))


def _default_chart_column(df: pd.DataFrame, columns: list[str], chart_kind: Any) -> str:
    """A column worth charting, never a row's identifier (``id``, ``userName``, ``objectId`` …):

    1. a category-like column with few distinct values that repeat (2–30, at most half the rows), fewest first;
    2. else timestamps (rows per day), else numbers (a histogram);
    3. else the text column whose values repeat most (fewest distinct values, at least two);
    4. else the first column that is not an identifier and not unique to each row, else the first column.
    """
    n = len(df)
    kinds = {c: chart_kind(df[c]) for c in columns}
    candidates = [c for c in columns if not _id_like(c)]

    def distinct(c: str) -> int:
        try:
            return int(df[c].dropna().astype(str).nunique())
        except (TypeError, ValueError):  # pragma: no cover - exotic values
            return n

    counts = {c: distinct(c) for c in candidates if kinds[c] == "counts"}
    few = [(d, i, c) for i, c in enumerate(candidates) if (d := counts.get(c, -1)) >= 2
           and d <= 30 and d <= max(2, n // 2)]
    if few:
        return min(few)[2]
    for kind in ("per_day", "histogram"):
        found = [c for c in candidates if kinds[c] == kind and df[c].notna().any()]
        if found:
            return found[0]
    repeated = [(d, i, c) for i, c in enumerate(candidates) if (d := counts.get(c, -1)) >= 2 and d < n]
    if repeated:
        return min(repeated)[2]
    not_unique = [c for c in candidates if counts.get(c, 0) < n or n <= 1]
    return (not_unique or candidates or columns)[0]


class _HTMLData:
    """An object whose display data is ``text/html`` (what ``Output.append_display_data`` needs)."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.markup, "text/plain": "<table>"}


def explore(
    client: Any,
    *,
    resource: str | None = None,
    folder: str | Path | None = None,
    limit: int = 1000,
    max_rows: int = 1000,
    max_bytes: int = 1_000_000,
    table: str = "auto",
    choices: Mapping[str, Any] | None = None,
    remember: bool = True,
) -> Explorer:
    """The Explorer for a service client: pick a resource, fill its filters, fetch, chart, export.

    ``folder`` is where exports go (default: the output folder, ``$UCX_OUTPUT_DIR`` or ``./output``);
    ``limit`` is the default most rows to fetch (0 = all); ``max_rows``/``max_bytes`` bound what the table
    shows; ``table`` is ``"auto"`` (itables when installed), ``"itables"`` or ``"html"``; ``choices`` adds
    dropdowns (``{"param": values}`` or ``{"endpoint.param": values}``); ``remember=False`` does not keep the
    values for the next run of the cell.

    Example::

        >>> import ucexplore as ux
        >>> ex = ux.explore(ux.UDS(lab.urls["cucm"], auth=flow))     # doctest: +SKIP
        >>> ex                                                       # doctest: +SKIP
    """
    return Explorer(
        client,
        resource=resource,
        folder=folder,
        limit=limit,
        max_rows=max_rows,
        max_bytes=max_bytes,
        table=table,
        choices=choices,
        remember=remember,
    )
