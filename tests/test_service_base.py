"""ucexplore.services.base: declarative endpoints, the three paging styles, retries while paging,
sync/async twins, provenance, hooks."""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
import threading
import time
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs

import httpx
import pandas as pd
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.routing import Route

from ucexplore.auth.token import Token
from ucexplore.errors import ApiError, RateLimited, TokenExpired
from ucexplore.services import Cursor, Fetch, Offset, PageNumber, Service, sync_twin
from ucexplore.transport import RetryPolicy

FAST = RetryPolicy(attempts=5, backoff=0.001, max_backoff=0.004, max_wait=0.02, max_total=5.0)


# ============================================================================================================
# fake servers
# ============================================================================================================


def user_xml(i: int) -> str:
    return (
        f'<user uri="https://cucm/cucm-uds/user/u{i:05d}"><id>id-{i:05d}</id><userName>u{i:05d}</userName>'
        f"<firstName>F{i}</firstName><lastName>L{i}</lastName><inactive>{'true' if i % 7 == 0 else 'false'}"
        f"</inactive></user>"
    )


class UdsServer:
    """UDS /users paging: 0-based start, max clamped to ``cap``, the four count attributes; knobs for faults."""

    def __init__(self, total: int, cap: int = 64) -> None:
        self.total = total
        self.cap = cap
        self.calls: list[tuple[int, int]] = []
        self.short_once: set[int] = set()  # start offsets whose first answer is half a page
        self.faults: dict[int, list[Any]] = {}  # start → list of faults to apply on successive requests
        self.inflight = 0
        self.max_inflight = 0
        self.latency = 0.0
        self.events: list[tuple[str, int]] = []

    def page(self, start: int, asked: int) -> tuple[int, dict[str, str], bytes]:
        self.calls.append((start, asked))
        faults = self.faults.get(start)
        fault = None
        if faults:
            fault = faults.pop(0)
            if fault == 429:
                return 429, {"Retry-After": "0"}, b""
            if fault == 503:
                return 503, {}, b""
            if fault == "html":
                return (
                    200,
                    {"content-type": "text/html"},
                    (b'<html><form action="/idp/login"><input type="password"></form></html>'),
                )
        n = min(asked, self.cap)
        if start in self.short_once:
            self.short_once.discard(start)
            n = max(1, n // 2)
        rows = list(range(start, min(start + n, self.total)))
        body = (
            f'<users uri="https://cucm/cucm-uds/users" version="14.0" start="{start}" requestedCount="{asked}" '
            f'returnedCount="{len(rows)}" totalCount="{self.total}">'
            + "".join(user_xml(i) for i in rows)
            + "</users>"
        ).encode()
        if fault == "truncate":
            body = body[: len(body) // 2]
        return 200, {"content-type": "application/xml"}, body

    def handler(self) -> Any:
        async def handle(request: httpx.Request) -> httpx.Response:
            q = parse_qs(request.url.query.decode())
            path = request.url.path
            if path == "/cucm-uds/users":
                start, asked = int(q.get("start", ["0"])[0]), int(q.get("max", ["64"])[0])
                if faults := self.faults.get(start):
                    if faults[0] == "reset":
                        faults.pop(0)
                        self.calls.append((start, asked))
                        raise httpx.ReadError("Connection reset by peer")
                self.inflight += 1
                self.max_inflight = max(self.max_inflight, self.inflight)
                self.events.append(("start", start))
                try:
                    if self.latency:
                        await asyncio.sleep(self.latency)
                    status, headers, body = self.page(start, asked)
                finally:
                    self.inflight -= 1
                    self.events.append(("end", start))
                return httpx.Response(status, headers=headers, content=body)
            if path.startswith("/cucm-uds/user/"):
                uid = path.rsplit("/", 1)[-1]
                if uid != "u00001":
                    return httpx.Response(404)
                return httpx.Response(200, content=f"<user>{user_xml(1)[40:-7]}</user>".encode())
            if path == "/cucm-uds/version":
                return httpx.Response(
                    200,
                    content=b'<versionInformation version="10.0.0"><version>14.0.1'
                    b"</version></versionInformation>",
                )
            return httpx.Response(404)

        return handle


class DemoUDS(Service):
    """A UDS-like client used by these tests."""

    product = "uds"
    accept = "application/xml"
    version = Fetch("/cucm-uds/version", one=True)
    users = Fetch(
        "/cucm-uds/users",
        item="user",
        paging=Offset(
            start="start", size="max", first=0, page=64, total="totalCount", returned="returnedCount"
        ),
        params=("last", "first", "name", "number"),
        columns=("id", "userName", "firstName", "lastName", "email"),
        dtypes={"inactive": "bool"},
        id="id",
    )
    user = Fetch("/cucm-uds/user/{user_id}", one=True)


def uds(server: UdsServer, **kw: Any) -> DemoUDS:
    kw.setdefault("retry", FAST)
    kw.setdefault("progress", False)
    return DemoUDS(
        "https://cucm.test:8443",
        auth=kw.pop("auth", "uds-bearer-token-1"),
        http_transport=httpx.MockTransport(server.handler()),
        **kw,
    )


def ids(df: pd.DataFrame) -> list[int]:
    return [int(x.split("-")[1]) for x in df["id"]]


# ============================================================================================================
# the declarative surface
# ============================================================================================================


def test_sync_pull_every_page_in_order_with_dtypes_and_provenance() -> None:
    srv = UdsServer(total=300)
    client = uds(srv)
    df = client.users(last="L")
    assert ids(df) == list(range(300))
    assert list(df.columns[:5]) == ["id", "userName", "firstName", "lastName", "email"]  # email: usual column
    assert df["inactive"].dtype == bool and df["inactive"].sum() == len(range(0, 300, 7))
    attrs = df.attrs["ucexplore"]
    assert (
        attrs["service"] == "uds" and attrs["host"] == "cucm.test:8443" and attrs["path"] == "/cucm-uds/users"
    )
    assert attrs["params"] == {"last": "L"} and attrs["total"] == 300 and attrs["rows"] == 300
    assert attrs["pages"] == 5 and attrs["auth"].startswith("Bearer token")
    assert "uds-bearer-token-1" not in repr(attrs)
    assert sorted(srv.calls) == [
        (0, 64),
        (64, 64),
        (128, 64),
        (192, 64),
        (256, 44),
    ]  # the last asks what is left


def test_sync_method_inside_a_running_loop_and_the_async_twin() -> None:
    srv = UdsServer(total=150)
    client = uds(srv)

    async def main() -> tuple[list[int], list[int]]:
        sync_df = client.users()  # a synchronous call from inside a running loop (as in a notebook)
        async_df = await client.users_async(limit=70)
        await client.aclose()
        return ids(sync_df), ids(async_df)

    a, b = asyncio.run(main())
    assert a == list(range(150)) and b == list(range(70))


def test_pages_after_the_first_are_fetched_concurrently_and_bounded() -> None:
    srv = UdsServer(total=64 * 20)
    srv.latency = 0.01
    client = uds(srv, max_concurrency=4)
    df = client.users()
    assert ids(df) == list(range(64 * 20))
    assert srv.max_inflight == 4  # concurrent, and never more than max_concurrency
    first_end = srv.events.index(("end", 0))
    assert all(e[0] == "end" or e[1] == 0 for e in srv.events[:first_end])  # the first page came alone


def test_short_pages_get_their_gap_fetched() -> None:
    srv = UdsServer(total=64 * 5 + 10)
    srv.short_once = {64, 192, 320}
    df = uds(srv).users()
    assert ids(df) == list(range(330))
    assert (64 + 32, 32) in srv.calls and (192 + 32, 32) in srv.calls  # the gaps, exactly
    assert len(df) == df["id"].nunique()


def test_server_clamped_page_size_advances_by_what_was_returned() -> None:
    srv = UdsServer(total=260, cap=50)
    df = uds(srv).users()
    assert ids(df) == list(range(260))
    assert sorted(s for s, _ in srv.calls) == [0, 50, 100, 150, 200, 250]
    assert all(asked == min(50, 260 - s) for s, asked in srv.calls if s)  # ask for what the server gives


def test_limit_caps_total_rows_and_fetches_only_needed_pages() -> None:
    srv = UdsServer(total=20000)
    client = uds(srv)
    df = client.users(limit=100)
    assert ids(df) == list(range(100)) and srv.calls == [(0, 64), (64, 36)]
    srv.calls.clear()
    assert ids(client.users(limit=10)) == list(range(10)) and srv.calls == [(0, 10)]
    srv.calls.clear()
    empty = client.users(limit=0)
    assert srv.calls == [] and empty.shape == (0, 5) and "email" in empty.columns
    with pytest.raises(TypeError):
        client.users(limit=-1)


def test_empty_result_keeps_the_usual_columns() -> None:
    df = uds(UdsServer(total=0)).users(last="Zz")
    assert df.empty and list(df.columns) == ["id", "userName", "firstName", "lastName", "email"]
    assert df.attrs["ucexplore"]["total"] == 0 and df.attrs["ucexplore"]["rows"] == 0


def test_one_object_is_a_series_and_raw_returns_records() -> None:
    srv = UdsServer(total=3)
    client = uds(srv)
    s = client.user("u00001")
    assert isinstance(s, pd.Series) and s["userName"] == "u00001"
    assert s.attrs["ucexplore"]["path"] == "/cucm-uds/user/u00001"
    assert client.user(user_id="u00001", raw=True)["id"] == "id-00001"
    assert client.version()["version"] == "14.0.1"
    raw = client.users(raw=True)
    assert isinstance(raw, list) and raw[0]["userName"] == "u00000"


def test_bad_arguments_are_type_errors_that_list_what_is_accepted() -> None:
    client = uds(UdsServer(total=3))
    with pytest.raises(TypeError, match="last"):
        client.users(lastname="x")
    with pytest.raises(TypeError, match="user_id"):
        client.user()
    with pytest.raises(TypeError):
        client.user("a", "b")


def test_path_values_are_quoted() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(404)

    client = DemoUDS("https://cucm.test", http_transport=httpx.MockTransport(handler), progress=False)
    with pytest.raises(ApiError):
        client.user("../../admin")
    assert seen == ["/cucm-uds/user/..%2F..%2Fadmin"]


def test_404_on_one_object_names_service_and_path() -> None:
    client = uds(UdsServer(total=3))
    with pytest.raises(ApiError) as info:
        client.user("nobody")
    assert info.value.status == 404 and "DemoUDS GET /cucm-uds/user/nobody" in str(info.value)


def test_signature_doc_and_endpoints() -> None:
    sig = inspect.signature(DemoUDS("https://cucm.test").users)
    assert list(sig.parameters) == ["last", "first", "name", "number", "limit", "raw"]
    assert list(inspect.signature(DemoUDS("https://cucm.test").user).parameters) == ["user_id", "raw"]
    assert set(DemoUDS.endpoints()) == {"version", "users", "user"}
    assert "/cucm-uds/users" in (DemoUDS.users.__doc__ or "") and "users_async" in (
        DemoUDS.users.__doc__ or ""
    )
    assert inspect.iscoroutinefunction(DemoUDS("https://cucm.test").users_async)


def test_repr_shows_host_and_who_never_the_secret() -> None:
    secret = "repr-secret-token-31337"
    client = DemoUDS("https://cucm.test:8443", auth=Token(secret, user="jkam", issuer="cucm"))
    text = repr(client)
    assert "cucm.test:8443" in text and "jkam" in text and secret not in text
    basic = DemoUDS("https://cucm.test:8443", auth=("jdoe", "basic-pass-9999"))
    assert "jdoe" in repr(basic) and "basic-pass-9999" not in repr(basic)


def test_context_manager_closes() -> None:
    srv = UdsServer(total=3)
    with uds(srv) as client:
        client.users()
        assert client.transport._states
    assert client.transport._states == {}


# ============================================================================================================
# faults while paging
# ============================================================================================================


def test_retries_while_paging_lose_and_duplicate_nothing() -> None:
    srv = UdsServer(total=64 * 8)
    srv.faults = {64: [429, 429], 128: [503], 192: ["reset"], 256: ["truncate"], 320: [429, "truncate"]}
    client = uds(srv)
    df = client.users()
    assert ids(df) == list(range(64 * 8))
    st = client.transport.stats
    assert st["rate_limited_waits"] == 3 and st["busy_waits"] == 1
    assert st["reset_retries"] == 1 and st["parse_retries"] == 2 and st["retries"] == 7


def test_rate_limited_after_exhaustion_while_paging_cancels_the_rest() -> None:
    srv = UdsServer(total=64 * 30)
    srv.faults = {128: [429] * 50}
    srv.latency = 0.005
    client = uds(srv, max_concurrency=2)
    with pytest.raises(RateLimited) as info:
        client.users()
    assert info.value.status == 429
    calls_at_failure = len(srv.calls)
    time.sleep(0.05)
    assert len(srv.calls) == calls_at_failure  # nothing kept running in the background
    assert calls_at_failure < 30 + FAST.attempts


def test_login_page_mid_pull_means_sign_in_again() -> None:
    srv = UdsServer(total=64 * 3)
    srv.faults = {64: ["html"]}
    with pytest.raises(TokenExpired) as info:
        uds(srv).users()
    assert "sign in again" in str(info.value)


class RefreshingFlow:
    product = "cucm"

    def __init__(self) -> None:
        self.token: Token | None = Token("flow-token-old-0001", expires_in=3600, user="jkam")
        self.refreshes = 0

    async def ensure_fresh_async(self) -> Token:
        assert self.token is not None
        return self.token

    async def refresh_after_401_async(self, rejected: Token) -> Token | None:
        if rejected is self.token:
            self.refreshes += 1
            self.token = Token("flow-token-new-0002", expires_in=3600, user="jkam")
        return self.token

    def sign_in_hint(self) -> str:
        return "run ux.login(flow)"


def test_401_mid_pull_refreshes_through_the_flow() -> None:
    srv = UdsServer(total=64 * 4)
    inner = srv.handler()

    async def handler(request: httpx.Request) -> httpx.Response:
        start = parse_qs(request.url.query.decode()).get("start", ["0"])[0]
        if start != "0" and request.headers.get("Authorization") != "Bearer flow-token-new-0002":
            return httpx.Response(401)
        return await inner(request)

    flow = RefreshingFlow()
    client = DemoUDS(
        "https://cucm.test",
        auth=flow,
        http_transport=httpx.MockTransport(handler),
        retry=FAST,
        progress=False,
    )
    df = client.users()
    assert ids(df) == list(range(256)) and flow.refreshes == 1
    assert "RefreshingFlow (jkam)" in df.attrs["ucexplore"]["auth"]


def test_progress_bar_for_long_pulls_only(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    srv = UdsServer(total=64 * 6)
    uds(srv, progress=True).users()
    err = capsys.readouterr().err
    assert "DemoUDS /cucm-uds/users" in err and "uds-bearer-token-1" not in err
    uds(UdsServer(total=64 * 2), progress=True).users()
    assert capsys.readouterr().err == ""  # two pages: no bar
    uds(UdsServer(total=64 * 6), progress=False).users()
    assert capsys.readouterr().err == ""


# ============================================================================================================
# page numbers (CUPI), cursors (Webex), body paging (Webex XML API)
# ============================================================================================================


class CupiServer:
    def __init__(self, total: int, cap: int = 1000) -> None:
        self.total = total
        self.cap = cap
        self.calls: list[tuple[int, int]] = []
        self.short_once: set[int] = set()

    def handler(self) -> Any:
        def handle(request: httpx.Request) -> httpx.Response:
            q = parse_qs(request.url.query.decode())
            number, asked = int(q["pageNumber"][0]), int(q["rowsPerPage"][0])
            self.calls.append((number, asked))
            size = min(asked, self.cap)
            start = (number - 1) * size
            rows = list(range(start, min(start + size, self.total)))
            if number in self.short_once and len(rows) > 1:
                self.short_once.discard(number)
                rows = rows[: len(rows) // 2]
            users = [
                {
                    "ObjectId": f"obj-{i:04d}",
                    "Alias": f"user{i}",
                    "ListInDirectory": "true",
                    "DtmfAccessId": str(2000 + i),
                }
                for i in rows
            ]
            body: dict[str, Any] = {"@total": str(self.total)}
            if len(users) == 1:
                body["User"] = users[0]  # CUPI's lone object
            elif users:
                body["User"] = users
            return httpx.Response(200, json=body)

        return handle


class DemoUnity(Service):
    product = "unity"
    accept = "application/json"
    users = Fetch(
        "/vmrest/users",
        item="User",
        paging=PageNumber(page=10),
        params=("query",),
        columns=("ObjectId", "Alias", "DtmfAccessId"),
        dtypes={"DtmfAccessId": "int"},
        id="ObjectId",
    )


def cupi(server: CupiServer) -> DemoUnity:
    return DemoUnity(
        "https://cuc.test",
        auth=("admin", "cupi-pass-123"),
        http_transport=httpx.MockTransport(server.handler()),
        retry=FAST,
        progress=False,
    )


def cupi_ids(df: pd.DataFrame) -> list[int]:
    return [int(x.split("-")[1]) for x in df["ObjectId"]]


def test_page_number_paging_with_a_lone_object_last_page() -> None:
    srv = CupiServer(total=41)
    df = cupi(srv).users(query="(alias startswith u)")
    assert cupi_ids(df) == list(range(41)) and str(df["DtmfAccessId"].dtype) == "Int64"
    assert df["ListInDirectory"].dtype == bool
    assert sorted(srv.calls) == [(1, 10), (2, 10), (3, 10), (4, 10), (5, 10)]


def test_page_number_paging_clamped_and_short_and_limited() -> None:
    srv = CupiServer(total=45, cap=6)
    assert cupi_ids(cupi(srv).users()) == list(range(45))
    assert sorted(srv.calls) == [(1, 10)] + [(n, 6) for n in range(2, 9)]
    srv = CupiServer(total=40)
    srv.short_once = {2}
    assert cupi_ids(cupi(srv).users()) == list(range(40))  # the gap of page 2 was fetched
    srv = CupiServer(total=400)
    assert cupi_ids(cupi(srv).users(limit=25)) == list(range(25))
    assert sorted(srv.calls) == [(1, 10), (2, 10), (3, 10)]


class WebexServer:
    """/v1/people with Link paging; its next links drop ``displayName`` and say ``max=null``."""

    def __init__(self, total: int, max_page: int = 100) -> None:
        self.total = total
        self.max_page = max_page
        self.calls: list[dict[str, list[str]]] = []
        self.shift_after = -1  # repeat one item across a page boundary (data shifting while paging)

    def handler(self) -> Any:
        def handle(request: httpx.Request) -> httpx.Response:
            q = parse_qs(request.url.query.decode(), keep_blank_values=True)
            self.calls.append(q)
            if request.headers.get("Authorization") != "Bearer webex-token-abc123":
                return httpx.Response(401, json={"message": "no", "trackingId": "T1"})
            size = int(q["max"][0])
            if size > self.max_page:
                return httpx.Response(400, json={"message": "max too large", "trackingId": "T2"})
            name = q.get("displayName", [""])[0]
            pool = [i for i in range(self.total) if f"Person {i}".startswith(name)]
            after = int(q.get("after", ["0"])[0])
            if after == self.shift_after:
                after -= 1
            rows = pool[after : after + size]
            headers = {"trackingid": "ROUTER_X"}
            if after + size < len(pool):
                headers["Link"] = f'<http://api.test/v1/people?max=null&after={after + size}>; rel="next"'
            return httpx.Response(
                200,
                json={
                    "items": [
                        {"id": f"p{i}", "displayName": f"Person {i}", "created": "2024-06-03T08:15:02.411Z"}
                        for i in rows
                    ]
                },
                headers=headers,
            )

        return handle


class DemoWebex(Service):
    product = "webex"
    accept = "application/json"
    default_base_url = "http://api.test/v1"
    people = Fetch(
        "/people",
        item="items",
        paging=Cursor(size="max", page=100),
        params=("displayName", "email"),
        columns=("id", "displayName", "created"),
        dtypes={"created": "datetime"},
        id="id",
    )


def webex(server: WebexServer) -> DemoWebex:
    return DemoWebex(
        auth="webex-token-abc123",
        http_transport=httpx.MockTransport(server.handler()),
        retry=FAST,
        progress=False,
    )


def test_cursor_paging_re_appends_dropped_params_and_fixes_max() -> None:
    srv = WebexServer(total=1000)
    df = webex(srv).people(displayName="Person 1")
    expected = [i for i in range(1000) if f"Person {i}".startswith("Person 1")]
    assert [int(x[1:]) for x in df["id"]] == expected  # 111 people: 2 pages
    assert len(srv.calls) == 2
    assert all(c["displayName"] == ["Person 1"] and c["max"] == ["100"] for c in srv.calls)
    assert str(df["created"].dtype) == "datetime64[ns, UTC]"


def test_cursor_paging_limit_and_dedupe() -> None:
    srv = WebexServer(total=450)
    client = webex(srv)
    df = client.people(limit=150)
    assert len(df) == 150 and len(srv.calls) == 2
    srv = WebexServer(total=450)
    srv.shift_after = 100
    df = webex(srv).people()
    assert [int(x[1:]) for x in df["id"]] == list(range(450))  # the repeated person appears once


async def lst_summary_meeting(service: Service, params: dict[str, Any], paging: dict[str, Any]) -> str:
    cred = await service.credentials.body_credential()
    return (
        f'<serv:message xmlns:serv="http://www.webex.com/schemas/2002/06/service"><header><securityContext>'
        f"<webExID>{cred['user']}</webExID><password>{cred['password'].reveal()}</password></securityContext></header>"
        f"<body><bodyContent><listControl><startFrom>{paging['startFrom']}</startFrom>"
        f"<maximumNum>{paging['maximumNum']}</maximumNum></listControl>"
        f"<hostWebExID>{params.get('hostWebExID', '')}</hostWebExID></bodyContent></body></serv:message>"
    )


class XmlApiServer:
    def __init__(self, total: int) -> None:
        self.total = total
        self.calls: list[tuple[int, int]] = []
        self.throttle_once: set[int] = set()
        self.passwords: set[str] = set()

    def handler(self) -> Any:
        def handle(request: httpx.Request) -> httpx.Response:
            doc = ET.fromstring(request.content)
            start = int(doc.findtext(".//startFrom") or 1)
            size = int(doc.findtext(".//maximumNum") or 10)
            self.passwords.add(doc.findtext(".//password") or "")
            self.calls.append((start, size))
            ns = (
                'xmlns:serv="http://www.webex.com/schemas/2002/06/service" '
                'xmlns:meet="http://www.webex.com/schemas/2002/06/service/meeting"'
            )
            if start in self.throttle_once:
                self.throttle_once.discard(start)
                return httpx.Response(
                    200,
                    content=(
                        f"<serv:message {ns}><serv:header><serv:response><serv:result>FAILURE</serv:result>"
                        f"<serv:reason>API Rate Limit Reach</serv:reason><serv:exceptionID>000045</serv:exceptionID>"
                        f"</serv:response></serv:header><serv:body><serv:bodyContent/></serv:body></serv:message>"
                    ).encode(),
                )
            rows = list(range(start - 1, min(start - 1 + size, self.total)))
            meetings = "".join(
                f"<meet:meeting><meet:meetingKey>{1000 + i}</meet:meetingKey><meet:confName>M{i}</meet:confName>"
                f"<meet:startDate>06/10/2024 09:30:00</meet:startDate><meet:duration>45</meet:duration>"
                f"</meet:meeting>"
                for i in rows
            )
            return httpx.Response(
                200,
                content=(
                    f"<serv:message {ns}><serv:header><serv:response><serv:result>SUCCESS</serv:result>"
                    f"</serv:response></serv:header><serv:body><serv:bodyContent>{meetings}<meet:matchingRecords>"
                    f"<serv:total>{self.total}</serv:total><serv:returned>{len(rows)}</serv:returned>"
                    f"<serv:startFrom>{start}</serv:startFrom></meet:matchingRecords></serv:bodyContent></serv:body>"
                    f"</serv:message>"
                ).encode(),
            )

        return handle


class DemoXML(Service):
    product = "webex_xml"
    accept = "application/xml"
    timezone = "Asia/Singapore"
    meetings = Fetch(
        "/WBXService/XMLService",
        method="POST",
        body=lst_summary_meeting,
        item="meeting",
        paging=Offset(start="startFrom", size="maximumNum", first=1, page=20, total="matchingRecords.total"),
        params=("hostWebExID",),
        idempotent=True,
        columns=("meetingKey", "confName", "startDate"),
        dtypes={"startDate": "mdy", "duration": "int"},
        id="meetingKey",
    )


def test_xml_api_body_paging_from_one_with_in_band_throttling() -> None:
    srv = XmlApiServer(total=95)
    srv.throttle_once = {41}
    client = DemoXML(
        "https://acme.webex.test",
        auth=("jkam@acme.com", "xml-pass-5555"),
        http_transport=httpx.MockTransport(srv.handler()),
        retry=FAST,
        progress=False,
    )
    df = client.meetings(hostWebExID="jkam@acme.com")
    assert [int(k) - 1000 for k in df["meetingKey"]] == list(range(95))
    assert sorted(set(srv.calls)) == [(1, 20), (21, 20), (41, 20), (61, 20), (81, 15)]
    assert client.transport.stats["rate_limited_waits"] == 1
    assert df["startDate"].iloc[0] == pd.Timestamp("2024-06-10T01:30:00Z")  # site zone applied
    assert str(df["duration"].dtype) == "Int64"
    assert srv.passwords == {"xml-pass-5555"}
    assert "xml-pass-5555" not in repr(df.attrs)


def test_xml_api_failure_is_an_api_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            content=(
                b'<serv:message xmlns:serv="http://www.webex.com/schemas/2002/06/service"><serv:header><serv:response>'
                b"<serv:result>FAILURE</serv:result><serv:reason>Incorrect user or password</serv:reason>"
                b"<serv:exceptionID>030002</serv:exceptionID></serv:response></serv:header></serv:message>"
            ),
        )

    client = DemoXML(
        "https://acme.webex.test",
        auth=("jkam@acme.com", "wrong-pass-77"),
        http_transport=httpx.MockTransport(handler),
        retry=FAST,
        progress=False,
    )
    with pytest.raises(ApiError) as info:
        client.meetings()
    assert info.value.code == "030002" and "wrong-pass-77" not in str(info.value)


# ============================================================================================================
# hooks and imperative calls
# ============================================================================================================


class DemoFinesse(Service):
    product = "finesse"
    accept = "application/xml"
    error_hints = {404: "check the agent id (Finesse wants the loginId, not the loginName)"}
    user = Fetch(
        "/finesse/api/User/{agent_id}",
        one=True,
        force_list=("roles.role",),
        dtypes={"wrapUpTimer": "int", "stateChangeTime": "datetime", "state": "category"},
    )
    reason_codes = Fetch(
        "/finesse/api/ReasonCodes",
        item="ReasonCode",
        params=("category",),
        defaults={"category": "NOT_READY"},
        columns=("id", "label", "category"),
    )

    async def set_state_async(self, agent_id: str, state: str, reason_code_id: str | None = None) -> None:
        """Change the agent's state. Example: fin.set_state("1001001", "READY")"""
        body = f"<User><state>{state}</state>"
        if reason_code_id is not None:
            body += f"<reasonCodeId>{reason_code_id}</reasonCodeId>"
        await self._request(
            "PUT",
            f"/finesse/api/User/{agent_id}",
            content=(body + "</User>").encode(),
            headers={"Content-Type": "application/xml"},
            expect=(200, 202),
        )

    set_state = sync_twin(set_state_async)


def finesse_handler(log: list[tuple[str, str, bytes]]) -> Any:
    def handle(request: httpx.Request) -> httpx.Response:
        log.append((request.method, str(request.url), request.content))
        if request.url.path == "/finesse/api/ReasonCodes":
            cat = request.url.params.get("category")
            return httpx.Response(
                200,
                content=(
                    f'<ReasonCodes category="{cat}"><ReasonCode><id>12</id>'
                    f"<label>Lunch</label><category>{cat}</category></ReasonCode>"
                    f"</ReasonCodes>"
                ).encode(),
            )
        if request.url.path != "/finesse/api/User/1001001":
            return httpx.Response(
                404,
                content=b"<ApiErrors><ApiError><ErrorType>User Not Found</ErrorType>"
                b"<ErrorMessage>USER_NOT_FOUND</ErrorMessage></ApiError></ApiErrors>",
            )
        if request.method == "PUT":
            if b"BOGUS" in request.content:
                return httpx.Response(
                    400,
                    content=b"<ApiErrors><ApiError><ErrorType>Invalid Input</ErrorType>"
                    b"<ErrorMessage>INVALID_STATE</ErrorMessage></ApiError>"
                    b"</ApiErrors>",
                )
            return httpx.Response(202)
        return httpx.Response(
            200,
            content=b"<User><loginId>1001001</loginId><state>NOT_READY</state>"
            b"<stateChangeTime>2024-06-03T08:15:02.411Z</stateChangeTime>"
            b"<roles><role>Agent</role></roles><wrapUpTimer>30</wrapUpTimer></User>",
        )

    return handle


def test_imperative_sync_twin_and_finesse_errors() -> None:
    log: list[tuple[str, str, bytes]] = []
    fin = DemoFinesse(
        "https://fin.test:8445",
        auth=("1001001", "agent-pass-42"),
        http_transport=httpx.MockTransport(finesse_handler(log)),
        retry=FAST,
        progress=False,
    )
    assert fin.set_state("1001001", "NOT_READY", reason_code_id="12") is None
    assert log[-1][0] == "PUT" and b"<reasonCodeId>12</reasonCodeId>" in log[-1][2]
    assert DemoFinesse.set_state.__name__ == "set_state" and "Example" in (
        DemoFinesse.set_state.__doc__ or ""
    )
    with pytest.raises(ApiError) as info:
        fin.set_state("1001001", "BOGUS")
    assert info.value.error_type == "Invalid Input" and info.value.code == "INVALID_STATE"
    asyncio.run(fin.set_state_async("1001001", "READY"))
    assert b"READY" in log[-1][2]


def test_service_error_hints_and_series_dtypes() -> None:
    fin = DemoFinesse(
        "https://fin.test:8445",
        auth=("1001001", "agent-pass-42"),
        http_transport=httpx.MockTransport(finesse_handler([])),
        retry=FAST,
        progress=False,
    )
    s = fin.user("1001001")
    assert s["roles.role"] == ["Agent"] and s["wrapUpTimer"] == 30
    assert s["stateChangeTime"] == pd.Timestamp("2024-06-03T08:15:02.411Z")
    with pytest.raises(ApiError) as info:
        fin.user("jkam")
    assert "loginId, not the loginName" in str(info.value) and info.value.error_type == "User Not Found"


def test_defaults_fill_query_parameters() -> None:
    log: list[tuple[str, str, bytes]] = []
    fin = DemoFinesse(
        "https://fin.test:8445", http_transport=httpx.MockTransport(finesse_handler(log)), progress=False
    )
    df = fin.reason_codes()
    assert "category=NOT_READY" in log[-1][1] and df["label"].tolist() == ["Lunch"]
    fin.reason_codes(category="LOGOUT")
    assert "category=LOGOUT" in log[-1][1]


def test_custom_error_decoder_hook() -> None:
    class Oops(ApiError):
        pass

    class Picky(DemoUDS):
        def error_decoder(self, response: Any) -> Oops:
            return Oops(f"picky {response.status_code}", status=response.status_code)

    client = Picky(
        "https://cucm.test", http_transport=httpx.MockTransport(UdsServer(3).handler()), progress=False
    )
    with pytest.raises(Oops):
        client.user("nobody")


# ============================================================================================================
# over real HTTP (uvicorn on loopback)
# ============================================================================================================


class Served:
    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, log_level="warning", access_log=False, lifespan="off", loop="asyncio", http="h11"
            )
        )
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        while not self.server.started:
            assert self.thread.is_alive()
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join()
        self.sock.close()


def test_uds_pull_over_real_http_with_latency() -> None:
    srv = UdsServer(total=64 * 12 + 5)
    srv.short_once = {128}
    srv.faults = {256: [429], 512: ["truncate"]}
    lock = asyncio.Lock()

    async def users(request: StarletteRequest) -> Response:
        start = int(request.query_params.get("start", "0"))
        asked = int(request.query_params.get("max", "64"))
        async with lock:
            srv.inflight += 1
            srv.max_inflight = max(srv.max_inflight, srv.inflight)
        await asyncio.sleep(0.01)
        status, headers, body = srv.page(start, asked)
        async with lock:
            srv.inflight -= 1
        return Response(body, status_code=status, headers=headers)

    with Served(Starlette(routes=[Route("/cucm-uds/users", users)])) as s:
        client = DemoUDS(
            s.url, auth=("jkam", "real-http-pass-1"), retry=FAST, progress=False, max_concurrency=4
        )

        async def main() -> tuple[pd.DataFrame, pd.DataFrame]:
            a = client.users()
            b = await client.users_async()
            await client.aclose()
            return a, b

        a, b = asyncio.run(main())
        client.close()
    assert ids(a) == list(range(773)) and ids(b) == list(range(773))
    assert 1 < srv.max_inflight <= 4


def test_no_secret_in_logs_errors_or_attrs_during_a_pull(caplog: pytest.LogCaptureFixture) -> None:
    secret = "pull-secret-token-8c7b6a5948"
    srv = UdsServer(total=64 * 3)
    srv.faults = {64: [429]}
    inner = srv.handler()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cucm-uds/user/boom":  # an error page that echoes the credentials
            return httpx.Response(
                500, text=f"<html><title>bad {request.headers['Authorization']}</title></html>"
            )
        return await inner(request)

    client = DemoUDS(
        "https://cucm.test",
        auth=Token(secret, user="jkam"),
        http_transport=httpx.MockTransport(handler),
        retry=FAST,
        progress=False,
    )
    caplog.set_level(logging.DEBUG, logger="ucexplore")
    df = client.users(last="K")
    with pytest.raises(ApiError) as info:
        client.user("boom")
    texts = [r.getMessage() for r in caplog.records] + [str(info.value), repr(df.attrs), repr(client)]
    assert any("/cucm-uds/users" in t for t in texts) and "bad Bearer *****" in str(info.value)
    assert all(secret not in t for t in texts)
