"""The Explorer widget without a browser: built on real clients against the lab, driven through its controls
with the messages a browser sends, fetches as a task on a running loop (as in a kernel) or to completion (as
in a script), charts, exports, remembers what was typed, shows errors inside itself, and never puts a token
into a widget's state.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from datetime import UTC, date, datetime
from typing import Any

import httpx
import ipywidgets
import openpyxl
import pandas as pd
import pytest

import ucexplore as ux
from ucexplore.services import Fetch, NoPaging, Service
from ucexplore.widgets import Explorer, explore
from ucexplore.widgets.explorer import ENUMERATIONS, forget, size_guard
from widget_doubles import browser_clicks, browser_sets

REQUIRED_CLASSES = {
    "ucx-explorer",
    "ucx-explorer-resource",
    "ucx-explorer-fetch",
    "ucx-explorer-table",
    "ucx-explorer-chart",
    "ucx-explorer-export",
    "ucx-explorer-status",
    "ucx-explorer-error",
}
PNG = b"\x89PNG\r\n\x1a\n"


# -- helpers ------------------------------------------------------------------------------------------------
def option_value(dropdown: ipywidgets.Dropdown, value: Any) -> int:
    """The option index the browser sends for ``value`` (a Dropdown syncs ``index``)."""
    return [v for _, v in dropdown.options].index(value)


def dom_classes(ex: Explorer) -> set[str]:
    return {c for w in ex.widgets for c in getattr(w, "_dom_classes", ())}


def filter_widget(ex: Explorer, name: str) -> Any:
    return next(f.widget for f in ex._filters_for(ex.resource) if f.name == name)


@pytest.fixture(autouse=True)
def _fresh_memory():
    forget()
    yield
    forget()


# -- clients ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cucm_flow(lab, sign_in):
    flow = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
    sign_in(flow)
    return flow


@pytest.fixture(scope="module")
def uds(lab, cucm_flow):
    return ux.UDS(lab.urls["cucm"], auth=cucm_flow, progress=False)


@pytest.fixture(scope="module")
def unity(lab, sign_in):
    flow = ux.UnitySSO(lab.urls["unity"], redirect_uri=lab.redirect_uri)
    sign_in(flow)
    return ux.Unity(lab.urls["unity"], auth=flow, progress=False)


# -- structure ----------------------------------------------------------------------------------------------
def test_resources_are_the_list_endpoints_and_every_control_has_a_class(uds):
    ex = explore(uds)
    try:
        assert ex.resources == [n for n, f in type(uds).endpoints().items() if not f.one]
        assert "users" in ex.resources and "version" not in ex.resources
        assert REQUIRED_CLASSES <= dom_classes(ex)
        assert "ucx-explorer" in ex.widget._dom_classes
        assert all(
            any(c.startswith("ucx-explorer") for c in w._dom_classes)
            for w in ex.widgets
            if isinstance(w, ipywidgets.DOMWidget)
        )
        bundle = ex._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle and "Explorer" in bundle["text/plain"]
    finally:
        ex.close()


def test_filters_come_from_the_signature_with_dropdowns_and_date_pickers():
    class Demo(Service):
        product = "demo"
        things = Fetch(
            "/things/{site}",
            item="thing",
            paging=NoPaging(),
            params={"from_": "from", "to": "to", "color": "color", "q": "q", "active": "active"},
            defaults={"active": True},
        )
        things.choices = {"color": ("red", "green")}  # noqa: RUF012 - a service may declare enumerations
        thing = Fetch("/thing/{id}", one=True)

    ex = explore(Demo("http://127.0.0.1:9", auth=("u", "p")))
    try:
        assert ex.resources == ["things"]
        kinds = {f.name: (f.kind, type(f.widget).__name__) for f in ex._filters_for("things")}
        assert kinds == {
            "site": ("text", "Text"),
            "from_": ("date", "DatePicker"),
            "to": ("date", "DatePicker"),
            "color": ("choice", "Dropdown"),
            "q": ("text", "Text"),
            "active": ("choice", "Dropdown"),
        }
        ex.set_filters(site="hq", from_=date(2026, 11, 1), to="2026-11-02", color="green")
        values = ex.filters
        assert values["from_"] == datetime(2026, 11, 1, tzinfo=UTC)
        assert values["to"] == datetime(2026, 11, 2, 23, 59, 59, tzinfo=UTC)  # the whole last day
        assert values["color"] == "green" and values["active"] is True and values["q"] is None
        with pytest.raises(ValueError, match="red, green"):
            ex.set_filters(color="blue")
        with pytest.raises(TypeError, match="no filter"):
            ex.set_filters(nope=1)
    finally:
        ex.close()


def test_known_enumerations_are_dropdowns(unity):
    ex = explore(unity, resource="messages")
    try:
        folder = filter_widget(ex, "folder")
        assert isinstance(folder, ipywidgets.Dropdown)
        assert [v for _, v in folder.options] == list(ENUMERATIONS["unity.messages.folder"])
        assert folder.value == "inbox"  # the endpoint's default
        read = filter_widget(ex, "read")
        assert [v for _, v in read.options] == [None, True, False]  # (any), yes, no
    finally:
        ex.close()


def test_every_service_client_can_be_explored_offline():
    clients = [
        ux.UDS("https://cucm.example.com:8443", auth=("u", "p")),
        ux.Unity("https://cuc.example.com", auth=("u", "p")),
        ux.Finesse("https://fin.example.com:8445", auth=("u", "p")),
        ux.Webex(auth="a-bearer-token-text"),
        ux.WebexXML("https://site.webex.com", site_name="site", webex_id="u", auth="pw"),
    ]
    kinds: dict[tuple[str, str, str], str] = {}
    for client in clients:
        ex = explore(client, remember=False)
        try:
            for name in ex.resources:
                ex.resource = name
                for f in ex._filters_for(name):
                    kinds[(type(client).__name__, name, f.name)] = f.kind
        finally:
            ex.close()
    assert kinds[("Webex", "meetings", "from_")] == kinds[("Webex", "meetings", "to")] == "date"
    assert kinds[("Webex", "meetings", "state")] == "choice"
    assert kinds[("WebexXML", "meetings", "start_from")] == "date"
    assert kinds[("Finesse", "reason_codes", "category")] == "choice"
    assert kinds[("UDS", "devices", "user_id")] == "text"
    with pytest.raises(ValueError, match="no list endpoints"):
        explore(ux.WebDialer("https://cucm.example.com:8443", auth=("u", "p")))


def test_explore_refuses_what_is_not_a_client():
    with pytest.raises(TypeError, match="service client"):
        explore(object())


# -- fetch, table, chart -------------------------------------------------------------------------------------
def test_fetch_users_as_a_person_would(uds, sent):
    expected = uds.users(last="K")
    assert 0 < len(expected) < 300
    ex = explore(uds)
    try:
        browser_sets(ex._resource, index=ex.resources.index("users"))
        assert ex.resource == "users"
        browser_sets(filter_widget(ex, "last"), value="K")
        browser_clicks(ex._fetch_button)  # no running loop here: it runs to completion
        assert ex.error is None
        assert list(ex.frame["userName"]) == list(expected["userName"])
        assert ex.shown_rows == len(expected)
        assert f"{len(expected)} rows" in ex.status_text and "/cucm-uds/users" in ex.status_text
        assert expected["userName"].iloc[0] in ex.table_html
        assert "new ITable(" in ex.table_html  # itables (sortable, searchable) is installed here
        assert "ITable" in ex._itables_init.outputs[0]["data"]["text/html"]  # its offline bundle, once
        outputs = ex._table.outputs
        assert len(outputs) == 1 and outputs[0]["data"]["text/html"] == ex.table_html
        assert not ex.running and ex._progress.layout.visibility != "visible"
        # a chart of the best column was drawn; another column on request
        assert ex.chart_column in ex.frame.columns
        assert ex.chart_png.startswith(PNG) and ex._chart.value == ex.chart_png
        first = ex.chart_png
        browser_sets(ex._chart_column, index=list(ex._chart_column.options).index("firstName"))
        assert ex.chart_column == "firstName" and ex.chart_png.startswith(PNG) and ex.chart_png != first
        assert "value counts" in ex._chart_caption.value
        # the browser was told about the rows
        assert any(kind == "send" and "outputs" in (data or {}).get("state", {}) for kind, data in sent)
    finally:
        ex.close()


def test_plain_html_table_is_escaped_and_itables_escapes_too():
    body = (
        "<users totalCount='1'><user><userName>x&lt;script&gt;alert(1)&lt;/script&gt;</userName>"
        "<lastName>A &amp; B</lastName></user></users>"
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body, headers={"content-type": "application/xml"})

    client = ux.UDS("http://uds.test:8443", http_transport=httpx.MockTransport(handler), progress=False)
    for table in ("html", "itables"):
        ex = explore(client, resource="users", table=table)
        try:
            df = ex.fetch()
            assert df is not None and df.loc[0, "userName"] == "x<script>alert(1)</script>"
            assert "<script>alert(1)" not in ex.table_html
            assert "&lt;script&gt;alert(1)" in ex.table_html
        finally:
            ex.close()


def test_chart_kinds_follow_the_column(unity, lab):
    ex = explore(unity, resource="messages")
    try:
        df = ex.fetch()
        inbox = lab.org.mailbox(lab.org.demo)["inbox"]
        assert len(df) == len(inbox)
        for column, caption in (
            ("ArrivalTime", "rows per day"),
            ("Duration", "histogram"),
            ("Read", "value counts"),
        ):
            ex.chart_column = column
            assert caption in ex._chart_caption.value, column
            assert ex.chart_png.startswith(PNG)
    finally:
        ex.close()


def test_filters_reach_the_server(unity, lab):
    ex = explore(unity, resource="messages")
    try:
        read = filter_widget(ex, "read")
        browser_sets(read, index=option_value(read, False))
        df = ex.fetch()
        unread = [m for m in lab.org.mailbox(lab.org.demo)["inbox"] if not m["Read"]]
        assert len(df) == len(unread) and not df["Read"].any()
    finally:
        ex.close()


def test_size_guard_bounds_the_table_but_not_the_exports(uds, tmp_path):
    ex = explore(uds, resource="users", max_rows=50, folder=tmp_path)
    try:
        df = ex.fetch()
        assert len(df) == 300 and ex.shown_rows == 50
        assert "first 50 of 300 rows" in ex._note.value
        path = ex.export("csv")
        with path.open(encoding="utf-8-sig", newline="") as fh:
            assert len(list(csv.DictReader(fh))) == 300
    finally:
        ex.close()
    ex = explore(uds, resource="users", max_bytes=5_000)
    try:
        ex.fetch()
        assert 0 < ex.shown_rows < 300 and "of 300 rows" in ex._note.value
    finally:
        ex.close()
    shown, note = size_guard(pd.DataFrame({"a": range(10)}), 1000, 1_000_000)
    assert len(shown) == 10 and note == ""


def test_limit_caps_the_rows(uds):
    ex = explore(uds, resource="users")
    try:
        browser_sets(ex._limit, value=70)
        assert len(ex.fetch()) == 70
        ex.limit = 0  # every row
        assert len(ex.fetch()) == 300
    finally:
        ex.close()


# -- export -------------------------------------------------------------------------------------------------
def test_export_csv_xlsx_html_with_every_row(uds, tmp_path, cucm_flow):
    folder = tmp_path / "out"
    ex = explore(uds, resource="users")
    try:
        browser_sets(ex._folder, value=str(folder))
        assert ex.export("csv") is None and "fetch some rows first" in ex._error.value
        browser_sets(filter_widget(ex, "last"), value="K")
        df = ex.fetch()
        n = len(df)
        for fmt in ("csv", "xlsx", "html"):
            browser_clicks(ex._export_buttons[fmt])
            path = ex.exported[fmt]
            assert path == folder.resolve() / f"uds-users.{fmt}" and path.exists()
            assert path.name in ex._export_result.value and f"({n} rows)" in ex._export_result.value
        with ex.exported["csv"].open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert [r["userName"] for r in rows] == list(df["userName"])
        wb = openpyxl.load_workbook(ex.exported["xlsx"])
        assert wb.sheetnames == ["UDS users", "About"]
        assert wb["UDS users"].max_row == n + 1
        assert [c.value for c in wb["UDS users"][1]][:3] == list(df.columns[:3])
        about = {r[0]: r[1] for r in wb["About"].iter_rows(min_row=2, values_only=True)}
        assert about["path"] == "/cucm-uds/users" and about["params"] == "last=K"
        page = ex.exported["html"].read_text(encoding="utf-8")
        assert f"data-rows={n}>" in page and df["userName"].iloc[-1] in page
        # another file name
        browser_sets(ex._filename, value="k-users")
        assert ex.export("csv").name == "k-users.csv"
        from ucexplore.audit import audit

        assert audit([folder], known=[cucm_flow.token.access_token]) == []
    finally:
        ex.close()


def test_export_error_is_shown(uds, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    ex = explore(uds, resource="servers", folder=blocker / "sub")
    try:
        assert ex.fetch() is not None
        assert ex.export("csv") is None
        assert ex.error and "ucx-error" in ex._error.value
    finally:
        ex.close()


# -- remembering ---------------------------------------------------------------------------------------------
def test_values_survive_a_re_run_of_the_cell(lab, cucm_flow, tmp_path):
    first = explore(ux.UDS(lab.urls["cucm"], auth=cucm_flow, progress=False))
    browser_sets(first._resource, index=first.resources.index("users"))
    browser_sets(filter_widget(first, "last"), value="Ka")
    browser_sets(filter_widget(first, "email"), value="k")
    browser_sets(first._limit, value=40)
    browser_sets(first._folder, value=str(tmp_path))
    browser_sets(first._filename, value="mine")
    first.fetch()
    first.chart_column = "lastName"
    first.close()  # the cell is re-run: the old output goes away

    again = explore(ux.UDS(lab.urls["cucm"], auth=cucm_flow, progress=False))  # a new client, same server
    try:
        assert again.resource == "users"
        assert again.filters["last"] == "Ka" and again.filters["email"] == "k"
        assert again.limit == 40 and again.folder == tmp_path and again._filename.value == "mine"
        again.fetch()
        assert again.chart_column == "lastName"
        # a different resource keeps its own values
        again.resource = "devices"
        again.set_filters(user_id=lab.demo_user[0])
        again.resource = "users"
        assert again.filters["last"] == "Ka"
    finally:
        again.close()

    fresh = explore(ux.UDS(lab.urls["cucm"], auth=cucm_flow), remember=False)
    try:
        assert fresh.resource == fresh.resources[0] and fresh.limit == 1000
    finally:
        fresh.close()
    forget()
    cleared = explore(ux.UDS(lab.urls["cucm"], auth=cucm_flow))
    try:
        assert cleared.resource == cleared.resources[0]
    finally:
        cleared.close()


# -- errors -------------------------------------------------------------------------------------------------
def test_not_signed_in_is_shown_in_the_widget_with_the_fix(lab):
    flow = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)  # never signed in
    ex = explore(ux.UDS(lab.urls["cucm"], auth=flow), resource="devices")
    try:
        ex.set_filters(user_id=lab.demo_user[0])
        assert ex.fetch() is None
        assert ex.error.startswith("NotSignedIn")
        assert "NotSignedIn" in ex._error.value and "ux.login(flow)" in ex._error.value
        assert "Failed" in ex.status_text and not ex.running and not ex._fetch_button.disabled
    finally:
        ex.close()


def test_api_error_and_missing_filter_are_shown(uds, lab):
    other = next(u.username for u in lab.org.users[1:])
    ex = explore(uds, resource="devices")
    try:
        assert ex.fetch() is None  # user_id is required
        assert "devices needs user_id" in ex.error and "Check the filters" in ex._error.value
        ex.set_filters(user_id=other)  # an end user may read only their own devices
        assert ex.fetch() is None
        assert ex.error.startswith("ApiError") and "own" in ex._error.value
        ex.set_filters(user_id=lab.demo_user[0])
        assert len(ex.fetch()) == len(lab.org.devices(lab.org.demo))
        assert ex.error is None and ex._error.value == ""
    finally:
        ex.close()


# -- the kernel's event loop ---------------------------------------------------------------------------------
def test_fetch_is_a_task_on_the_running_loop(lab, cucm_flow):
    uds = ux.UDS(lab.urls["cucm"], auth=cucm_flow)  # with tqdm bars on, as in a notebook
    ex = explore(uds, resource="users")

    async def main() -> None:
        task = ex.fetch()
        assert isinstance(task, asyncio.Task)
        assert ex.fetch() is task  # a second click while it runs joins the same task
        await asyncio.sleep(0)
        assert ex.running and ex._fetch_button.disabled and not ex._cancel_button.disabled
        assert ex._progress.layout.visibility == "visible"
        assert uds.transport.progress is False  # the Explorer's own bar instead of tqdm's
        df = await task
        assert len(df) == 300 and not ex.running and ex._cancel_button.disabled
        assert uds.transport.progress is True
        browser_clicks(ex._fetch_button)  # the button does the same
        assert isinstance(ex._task, asyncio.Task) and ex._task is not task
        assert len(await ex._task) == 300

    try:
        asyncio.run(main())
    finally:
        ex.close()


@pytest.fixture(scope="module")
def slow_lab():
    from ucexplore.lab import start

    with start(users=30, seed=3, products=("idp", "cucm"), latency_ms=400) as running:
        yield running


def test_cancel_stops_a_running_fetch(slow_lab):
    ex = explore(ux.UDS(slow_lab.urls["cucm"], progress=False), resource="users")

    async def main() -> None:
        task = ex.fetch()
        for _ in range(20):
            await asyncio.sleep(0.05)
            if ex.running:
                break
        browser_clicks(ex._cancel_button)
        assert await task is None
        assert "Cancelled" in ex.status_text and not ex.running and ex.frame is None

    try:
        asyncio.run(main())
    finally:
        ex.close()


# -- secrets ------------------------------------------------------------------------------------------------
def test_no_token_in_any_widget_state_or_message(lab, sign_in, sent, tmp_path):
    flow = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
    tok = sign_in(flow)
    ex = explore(ux.UDS(lab.urls["cucm"], auth=flow, progress=False), resource="devices", folder=tmp_path)
    try:
        ex.set_filters(user_id=lab.demo_user[0])
        ex.fetch()
        ex.resource = "users"
        ex.fetch()
        ex.export("html")
        probes = [tok.access_token, tok.access_token[:16], lab.demo_user[1]]
        for w in ex.widgets:
            state = json.dumps(w.get_state(), default=str)
            for probe in probes:
                assert probe not in state, f"a secret in the state of {type(w).__name__}"
        everything = json.dumps(
            ipywidgets.Widget.get_manager_state(drop_defaults=False), default=str
        ) + json.dumps(sent, default=str)
        for probe in probes:
            assert probe not in everything
        assert tok.access_token not in repr(ex)
    finally:
        ex.close()


# -- "First contact": no broken image, a chartable default, wrapping hints, no stale rows, one-card errors ---
ID_COLUMNS = {"id", "userName", "objectId", "ObjectId", "MsgId", "loginId", "uri", "URI", "@uri", "email"}


def test_no_broken_image_before_the_first_chart(uds):
    ex = explore(uds, resource="users", remember=False)
    try:
        # an Image without a PNG is a broken-image icon in the browser: it stays hidden, a short text instead
        assert ex._chart.layout.display == "none" and ex.chart_png is None
        assert "appears here after Fetch" in ex._chart_caption.value
        assert ex._chart_column.disabled and list(ex._chart_column.options) == []
        ex.set_filters(last="K")
        ex.fetch()
        assert ex.chart_png.startswith(PNG) and ex._chart.value == ex.chart_png
        assert ex._chart.layout.display != "none" and not ex._chart_column.disabled
    finally:
        ex.close()


def test_default_chart_column_is_chartable_never_an_id(uds, unity, lab):
    ex = explore(uds, resource="users", limit=0, remember=False)
    try:
        df = ex.fetch()
        assert len(df) == 300 and df["id"].is_unique and df["userName"].is_unique
        assert ex.chart_column not in ID_COLUMNS
        column = df[ex.chart_column]
        assert column.nunique() < len(df)  # its values repeat: a chart says something
        ex.resource = "devices"
        ex.set_filters(user_id=lab.demo_user[0])
        ex.fetch()
        assert ex.chart_column not in ID_COLUMNS and ex.chart_column != "name"
    finally:
        ex.close()
    ex = explore(unity, resource="messages", remember=False)
    try:
        ex.fetch()
        assert ex.chart_column not in ID_COLUMNS
    finally:
        ex.close()


def test_default_chart_column_rules():
    from ucexplore.reports.charts import chart_kind
    from ucexplore.widgets.explorer import _default_chart_column

    def pick(df: pd.DataFrame) -> str:
        return _default_chart_column(df, [str(c) for c in df.columns], chart_kind)

    ids = {
        "id": [f"{i:08x}-aaaa" for i in range(40)],
        "userName": [f"user{i}" for i in range(40)],
        "objectId": list(range(1000, 1040)),
    }
    assert pick(pd.DataFrame({**ids, "department": ["sales", "ops", "hr", "it"] * 10})) == "department"
    assert pick(pd.DataFrame({**ids, "size": [i * 1.5 for i in range(40)]})) == "size"
    when = pd.date_range("2026-01-01", periods=40, freq="h", tz="UTC")
    assert pick(pd.DataFrame({**ids, "created": when, "size": range(40)})) == "created"
    # many distinct names, but they repeat: still better than an id
    assert pick(pd.DataFrame({**ids, "lastName": [f"n{i % 35}" for i in range(40)]})) == "lastName"


def test_long_hints_wrap(uds):
    ex = explore(uds, resource="users", remember=False)
    try:
        ex.fetch()
        for part in (ex._help, ex._status, ex._chart_caption):
            assert "white-space:normal" in part.value and "overflow-wrap:anywhere" in part.value, part
        assert ex._help.layout.min_width == "0" and ex._help.layout.flex == "1 1 auto"
    finally:
        ex.close()


def _nothing_shown(ex: Explorer) -> None:
    assert ex.frame is None and ex.shown_rows == 0 and ex.table_html == ""
    assert ex._table.outputs == () and ex._note.value == ""
    assert ex.chart_png is None and ex._chart.layout.display == "none"
    assert list(ex._chart_column.options) == [] and ex.chart_column is None
    assert "rows" not in ex.status_text


def test_switching_resource_clears_the_previous_rows_chart_and_counts(uds):
    ex = explore(uds, resource="users", max_rows=50, remember=False)
    try:
        ex.fetch()
        assert ex.shown_rows == 50 and ex.chart_png and "300 rows" in ex.status_text and ex._note.value
        browser_sets(ex._resource, index=ex.resources.index("servers"))
        _nothing_shown(ex)
        assert "appears here after Fetch" in ex._chart_caption.value
        assert ex.status_text == "Pick a resource, fill the filters, then Fetch."
        assert ex.error is None
    finally:
        ex.close()


def test_a_failed_fetch_clears_the_previous_rows_and_shows_one_card(lab, sign_in):
    flow = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
    sign_in(flow)
    ex = explore(ux.UDS(lab.urls["cucm"], auth=flow, progress=False), resource="users", remember=False)
    try:
        assert len(ex.fetch()) > 0 and ex.chart_png
        flow.sign_out()  # the same fetch fails now
        browser_clicks(ex._fetch_button)
        _nothing_shown(ex)
        assert ex.status_text == "Failed."
        card = ex._error.value
        assert "Fetching users failed · NotSignedIn</b>: CUCM is not signed in yet" in card
        assert "→ run the sign-in cell" in card and "ux.login(flow)" in card and card.count("→") <= 2
        assert "Traceback" not in card
        assert "white-space:normal" in card
        # a required filter left empty is a failed fetch too
        sign_in(flow)
        ex.resource = "devices"
        ex.fetch()
        assert ex.error and "devices needs user_id" in ex.error
        _nothing_shown(ex)
    finally:
        ex.close()
        flow.sign_out()


def test_unreachable_server_fetch_is_one_card(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    ex = explore(ux.UDS(f"https://127.0.0.1:{port}", progress=False), resource="users", remember=False)
    try:
        browser_clicks(ex._fetch_button)
        assert ex.error.startswith("ConnectionFailed")
        card = ex._error.value
        assert f"Fetching users failed · ConnectionFailed</b>: 127.0.0.1:{port} refused the connection" in card
        assert card.count("→") == 1 and "Traceback" not in card
        _nothing_shown(ex)
    finally:
        ex.close()


def test_export_goes_to_the_output_folder_and_says_where(uds, tmp_path, monkeypatch):
    out = tmp_path / "output-here"
    monkeypatch.setenv("UCX_OUTPUT_DIR", str(out))
    monkeypatch.chdir(tmp_path)  # not the notebook's folder: nothing lands in the current directory
    ex = explore(uds, resource="servers", remember=False)
    try:
        assert ex._folder.value == "" and "output folder" in ex._folder.placeholder
        df = ex.fetch()
        path = ex.export("csv")
        assert path == out.resolve() / "uds-servers.csv" and path.exists()
        assert not (tmp_path / "uds-servers.csv").exists()
        result = ex._export_result.value
        assert "uds-servers.csv" in result and f"({len(df)} rows)" in result
        assert "in the output folder" in result and str(out.resolve()) in result
        assert ex.folder == out
        # a folder typed in wins
        browser_sets(ex._folder, value=str(tmp_path / "mine"))
        assert ex.export("html") == (tmp_path / "mine").resolve() / "uds-servers.html"
        assert "output folder" not in ex._export_result.value
    finally:
        ex.close()


@pytest.mark.parametrize("mistake", ["fetch before sign-in", "export before fetch", "missing filter",
                                     "wrong credentials"])
def test_ordinary_explorer_mistakes_give_one_short_message(mistake, lab, caplog):
    flow = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)  # never signed in
    client = ux.UDS(lab.urls["cucm"], auth=flow, progress=False)
    if mistake == "wrong credentials":
        client = ux.UDS(lab.urls["cucm"], auth=(lab.demo_user[0], "not-the-password"), progress=False)
    ex = explore(client, resource="users", remember=False)
    try:
        if mistake == "wrong credentials":
            ex.resource = "devices"  # users may be searched anonymously; a user's devices need a sign-in
            ex.set_filters(user_id=lab.demo_user[0])
        with caplog.at_level("WARNING"):
            if mistake == "export before fetch":
                browser_clicks(ex._export_buttons["csv"])
            elif mistake == "missing filter":
                browser_sets(ex._resource, index=ex.resources.index("devices"))
                browser_clicks(ex._fetch_button)
            else:
                browser_clicks(ex._fetch_button)
        assert ex.error and "ucx-error" in ex._error.value, mistake
        assert not [r for r in caplog.records if "Exception in callback" in r.getMessage()]
        text = re.sub(r"<[^>]+>", "\n", ex._error.value)
        lines = [line for line in text.splitlines() if line.strip()]
        assert 1 <= len(lines) <= 4 and "Traceback" not in ex._error.value, lines
        assert ex.frame is None and not ex.running
    finally:
        ex.close()
