"""Reports: one self-contained HTML page and one XLSX workbook from chosen pulls.

``ux.report(...)`` takes a built-in report's name with the client(s) it needs, or your own DataFrames, and
writes ``report.html`` (tables, matplotlib charts embedded as PNG, provenance of every pull and the generation
time in the footer, no credential anywhere) and ``report.xlsx`` next to it (one sheet per table, plus
``About``), by default in the output folder (``$UCX_OUTPUT_DIR`` or ``./output``:
:func:`ucexplore.output_dir`). The built-in reports (:mod:`ucexplore.reports.builtin`):

==================  ================================  =================================================
name                clients                           what it shows
==================  ================================  =================================================
``directory``       ``uds=`` (``uds_admin=``)         users without e-mail, mobile number or devices
``voicemail``       ``unity=``                        messages per day, unread backlog, longest messages
``contact-centre``  ``finesse=`` (``finesse_admin=``) agents by state and reason code, team sizes
==================  ================================  =================================================

From a shell: ``ucexplore report --lab directory --out report.html`` (see :mod:`ucexplore.reports.cli`).

Example::

    >>> import ucexplore as ux
    >>> r = ux.report("directory", uds=ux.UDS(url, auth=flow), out="report.html")     # doctest: +SKIP
    >>> r.row_counts                                                                   # doctest: +SKIP
    {'No email': 22, 'No mobile': 87, 'No devices': 9, 'Devices': 540, 'Users': 300}
    >>> ux.report({"Agents": fin.users()}, charts={"Agents": "state"}, out="agents.html")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .build import DEFAULT_OUT, Chart, Report, Section, Table
from .builtin import BUILTIN, DEFAULT_DEVICE_SAMPLE, builtin_name, contact_centre, directory, voicemail

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "BUILTIN",
    "Chart",
    "Report",
    "Section",
    "Table",
    "contact_centre",
    "directory",
    "report",
    "report_async",
    "voicemail",
]

_TITLES = {
    "directory": "Directory hygiene",
    "voicemail": "Voicemail usage",
    "contact-centre": "Contact-centre snapshot",
}


def _custom_section(tables: Mapping[str, Any], charts: Mapping[str, str | Sequence[str]] | None) -> Section:
    import pandas as pd

    from .charts import chart_png, describe_kind

    section = Section("Data")
    for name, df in tables.items():
        if not isinstance(df, pd.DataFrame):
            df = pd.DataFrame(df)
        section.tables.append(Table(str(name), df))
        wanted = (charts or {}).get(name) or ()
        for col in [wanted] if isinstance(wanted, str) else list(wanted):
            if col not in df.columns:
                raise ValueError(
                    f"charts={{{name!r}: {col!r}}}: {name} has no column {col!r}; it has "
                    f"{', '.join(map(str, df.columns[:20]))}"
                )
            section.charts.append(
                Chart(f"{name}: {col}", chart_png(df[col], title=f"{name}: {col}"), describe_kind(df[col]))
            )
    return section


async def report_async(
    what: str | Sequence[str] | Mapping[str, Any] | pd.DataFrame | Section | Sequence[Section] = "directory",
    /,
    *,
    out: str | Path | None = DEFAULT_OUT,
    xlsx: bool | str | Path = True,
    title: str | None = None,
    uds: Any = None,
    unity: Any = None,
    finesse: Any = None,
    uds_admin: Any = None,
    finesse_admin: Any = None,
    devices: int | str | None = DEFAULT_DEVICE_SAMPLE,
    agent_id: str | None = None,
    folder: str = "inbox",
    charts: Mapping[str, str | Sequence[str]] | None = None,
) -> Report:
    """The async form of :func:`report` (await it in async code or a notebook cell)."""
    import pandas as pd

    sections: list[Section] = []
    names: list[str] = []
    if isinstance(what, str) or (
        isinstance(what, Sequence) and what and all(isinstance(w, str) for w in what)
    ):
        names = [builtin_name(w) for w in ([what] if isinstance(what, str) else what)]
        clients = {"uds": uds, "unity": unity, "finesse": finesse}
        for name in names:
            _, keyword, _ = BUILTIN[name]
            client = clients[keyword]
            if client is None:
                cls = {"uds": "UDS", "unity": "Unity", "finesse": "Finesse"}[keyword]
                raise TypeError(
                    f"the {name} report needs {keyword}=ux.{cls}(base_url, auth=<signed-in flow>)"
                )
            if name == "directory":
                sections.append(await directory(client, admin=uds_admin, devices=devices))
            elif name == "voicemail":
                sections.append(await voicemail(client, folder=folder))
            else:
                sections.append(await contact_centre(client, agent_id=agent_id, admin=finesse_admin))
    elif isinstance(what, Section):
        sections = [what]
    elif isinstance(what, pd.DataFrame):
        sections = [_custom_section({"Data": what}, charts)]
    elif isinstance(what, Mapping):
        sections = [_custom_section(what, charts)]
    elif isinstance(what, Sequence) and what and all(isinstance(w, Section) for w in what):
        sections = list(what)
    else:
        raise TypeError(
            "report() takes a built-in report name "
            f"({', '.join(BUILTIN)}), a list of them, {{name: DataFrame}}, a DataFrame, or Sections"
        )
    if title is None:
        title = (_TITLES[names[0]] if len(names) == 1 else "UC report") if names else "ucexplore report"
    hosts = []
    for client in (uds, unity, finesse):
        if client is not None:
            hosts.append(f"{getattr(client, 'label', type(client).__name__)} at {client.host}")
    result = Report(title, sections, subtitle=" · ".join(hosts))
    if out is not None:
        result.write(out, xlsx=xlsx)  # DEFAULT_OUT: report.html in the output folder
    return result


def report(
    what: str | Sequence[str] | Mapping[str, Any] | pd.DataFrame | Section | Sequence[Section] = "directory",
    /,
    *,
    out: str | Path | None = DEFAULT_OUT,
    xlsx: bool | str | Path = True,
    title: str | None = None,
    uds: Any = None,
    unity: Any = None,
    finesse: Any = None,
    uds_admin: Any = None,
    finesse_admin: Any = None,
    devices: int | str | None = DEFAULT_DEVICE_SAMPLE,
    agent_id: str | None = None,
    folder: str = "inbox",
    charts: Mapping[str, str | Sequence[str]] | None = None,
) -> Report:
    """Build a report and write ``out`` (HTML) plus the workbook next to it; returns the :class:`Report`.

    ``what`` is a built-in report (``"directory"``, ``"voicemail"``, ``"contact-centre"``, or a list of them
    for one combined report) with its client(s): ``uds=``, ``unity=``, ``finesse=`` (signed-in clients),
    optionally ``uds_admin=`` / ``finesse_admin=`` (administrator clients: everyone's devices / every agent),
    ``devices=`` (users whose devices are checked: a number, or ``"all"``), ``agent_id=``, ``folder=``.
    Or your own pulls: ``{"Sheet name": DataFrame, …}`` (or one DataFrame) with ``charts={"Sheet name":
    "column"}``. ``out`` defaults to ``report.html`` in the output folder (``$UCX_OUTPUT_DIR`` or ``./output``,
    :func:`ucexplore.output_dir`); a path you give is used as given. ``out=None`` writes nothing
    (``report.to_html()`` still works); ``xlsx=False`` skips the workbook, or ``xlsx="path.xlsx"`` puts it
    elsewhere.

    Example::

        >>> import ucexplore as ux
        >>> r = ux.report("voicemail", unity=ux.Unity(url, auth=unity_flow), out="vm.html")   # doctest: +SKIP
        >>> print(r.summary())                                                   # doctest: +SKIP
        report:   /home/me/vm.html
        workbook: /home/me/vm.xlsx
          Messages per day        90 rows
          ...
    """
    from ..transport import run_sync

    return run_sync(
        report_async(
            what,
            out=out,
            xlsx=xlsx,
            title=title,
            uds=uds,
            unity=unity,
            finesse=finesse,
            uds_admin=uds_admin,
            finesse_admin=finesse_admin,
            devices=devices,
            agent_id=agent_id,
            folder=folder,
            charts=charts,
        )
    )
