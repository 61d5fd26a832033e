"""ucexplore.transport: the sync facade, retries, Retry-After, 401 refresh, TLS, concurrency, redaction."""

from __future__ import annotations

import asyncio
import logging
import socket
import socketserver
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ucexplore.auth.token import Token
from ucexplore.errors import ApiError, ConnectionFailed, ParseError, RateLimited, ServerBusy, UcError
from ucexplore.redact import register_secret
from ucexplore.transport import (
    Progress,
    RetryPolicy,
    Transport,
    parse_retry_after,
    run_sync,
    worker_loop,
)

FAST = RetryPolicy(attempts=4, backoff=0.001, max_backoff=0.004, max_wait=0.05, max_total=5.0)


# -- helpers -------------------------------------------------------------------------------------------------


class Server:
    """A Starlette app served by uvicorn on 127.0.0.1 (free port) in a background thread."""

    def __init__(self, app: Any, **ssl: Any) -> None:
        # IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so (else Nagle stalls each reply)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        scheme = "https" if ssl else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", loop="asyncio", http="h11", **ssl
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join()
        self.sock.close()


def mock(handler: Any) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


class FakeFlow:
    """A sign-in flow whose token the server rejects once; refresh_after_401_async gives a new one."""

    product = "demo"

    def __init__(self, first: str, second: str) -> None:
        self.token: Token | None = Token(first, expires_in=3600, user="jkam", issuer="demo")
        self.second = second
        self.refreshes = 0

    async def ensure_fresh_async(self) -> Token:
        assert self.token is not None
        return self.token

    async def refresh_after_401_async(self, rejected: Token) -> Token | None:
        self.refreshes += 1
        self.token = Token(self.second, expires_in=3600, user="jkam", issuer="demo")
        return self.token

    def sign_in_hint(self) -> str:
        return "run ux.login(flow) again"


# -- the sync facade -----------------------------------------------------------------------------------------


async def _add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


def test_run_sync_from_plain_code() -> None:
    assert run_sync(_add(2, 3)) == 5


def test_run_sync_inside_a_running_loop() -> None:
    async def main() -> tuple[int, bool]:
        here = asyncio.get_running_loop()
        return run_sync(_add(1, 1)), here is not worker_loop()

    assert asyncio.run(main()) == (2, True)


def test_run_sync_propagates_the_exception_type() -> None:
    async def boom() -> None:
        raise ServerBusy("busy", status=503)

    with pytest.raises(ServerBusy):
        run_sync(boom())


def test_run_sync_on_the_worker_loop_refuses_instead_of_deadlocking() -> None:
    async def nested() -> str:
        inner = _add(1, 2)
        try:
            run_sync(inner)
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    assert "_async twin" in run_sync(nested())


def test_one_client_per_event_loop_and_closed_loops_are_dropped() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, text="ok")

    t = Transport("http://demo.test", http_transport=mock(handler), progress=False)
    run_sync(t.request("GET", "/a"))
    run_sync(t.request("GET", "/b"))
    assert len(t._states) == 1  # the worker loop's client is reused

    async def twice() -> None:
        await t.request("GET", "/c")
        await t.request("GET", "/d")

    asyncio.run(twice())
    assert len(t._states) == 2  # plus one for that asyncio.run loop
    asyncio.run(twice())  # a new loop: the closed loop's client is dropped, a new one made
    assert len(t._states) == 2
    assert seen == ["/a", "/b", "/c", "/d", "/c", "/d"]
    t.close()
    assert t._states == {}


def test_real_http_sync_inside_running_loop_and_async_twin() -> None:
    async def hello(request: Request) -> Response:
        return PlainTextResponse("hello " + request.query_params.get("who", "?"))

    with Server(Starlette(routes=[Route("/hello", hello)])) as srv:
        t = Transport(srv.url, progress=False)

        async def main() -> tuple[str, str]:
            sync_text = run_sync(t.request("GET", "/hello", params={"who": "sync"})).text
            async_text = (await t.request("GET", "/hello", params={"who": "async"})).text
            await t.aclose()
            return sync_text, async_text

        assert asyncio.run(main()) == ("hello sync", "hello async")
        assert run_sync(t.request("GET", "/hello")).text == "hello ?"
        t.close()


# -- Retry-After and retries ---------------------------------------------------------------------------------


def test_parse_retry_after_values() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("0") == 0.0
    when = datetime.fromtimestamp(now + 30, tz=UTC)
    assert parse_retry_after(format_datetime(when, usegmt=True), now=now) == pytest.approx(30.0)
    past = datetime.fromtimestamp(now - 300, tz=UTC)
    assert parse_retry_after(format_datetime(past, usegmt=True), now=now) == 0.0
    for bad in (None, "", "soon", "-5", "nan", "inf", "Mon, 99 Foo 2024 99:99:99 GMT", "12 seconds"):
        assert parse_retry_after(bad) is None, bad


def test_retry_policy_backoff_grows_and_is_capped() -> None:
    p = RetryPolicy(backoff=1.0, max_backoff=4.0, max_wait=3.0)
    for _ in range(50):
        assert 0.5 <= p.delay(1) <= 1.0
        assert 1.0 <= p.delay(2) <= 2.0
        assert p.delay(9) <= 3.0
    assert p.delay(1, retry_after=100.0) == 3.0
    assert p.delay(1, retry_after=0.25) == 0.25


def _flaky(statuses: list[tuple[int, dict[str, str]]], body: bytes = b"<ok/>") -> tuple[Any, list[int]]:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if statuses:
            status, headers = statuses.pop(0)
            return httpx.Response(status, headers=headers, text="slow down")
        return httpx.Response(200, content=body)

    return handler, calls


@pytest.mark.parametrize(
    "retry_after, expected",
    [
        ("1", 0.05),  # honoured, capped at max_wait (backoff alone would be ≤ 0.001)
        ("0", 0.0),
        (format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True), 0.0),
        (format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True), 0.05),
    ],
    ids=["seconds", "zero", "http-date-past", "http-date-future"],
)
def test_429_retry_after_is_honoured(retry_after: str, expected: float) -> None:
    handler, calls = _flaky([(429, {"Retry-After": retry_after})])
    t = Transport("http://demo.test", http_transport=mock(handler), retry=FAST, progress=False)
    r = run_sync(t.request("GET", "/x"))
    assert r.status_code == 200 and len(calls) == 2
    assert t.stats["retries"] == 1 and t.stats["rate_limited_waits"] == 1
    assert t.retry_log == [("rate_limited", pytest.approx(expected))]


def test_429_with_garbage_retry_after_falls_back_to_backoff() -> None:
    handler, calls = _flaky([(429, {"Retry-After": "whenever"}), (429, {"Retry-After": "-3"})])
    t = Transport("http://demo.test", http_transport=mock(handler), retry=FAST, progress=False)
    assert run_sync(t.request("GET", "/x")).status_code == 200
    delays = [d for _, d in t.retry_log]
    assert len(delays) == 2 and all(0 < d <= 0.004 for d in delays)


def test_503_is_retried_then_succeeds() -> None:
    handler, calls = _flaky([(503, {}), (503, {"Retry-After": "0"})])
    t = Transport("http://demo.test", http_transport=mock(handler), retry=FAST, progress=False)
    assert run_sync(t.request("GET", "/x")).content == b"<ok/>"
    assert len(calls) == 3 and t.stats["busy_waits"] == 2 and t.stats["requests"] == 3


def test_rate_limited_after_the_retries_are_used_up() -> None:
    handler, calls = _flaky([(429, {"Retry-After": "7"})] * 10)
    t = Transport("http://demo.test", http_transport=mock(handler), retry=FAST, progress=False)
    with pytest.raises(RateLimited) as info:
        run_sync(t.request("GET", "/x"))
    assert len(calls) == FAST.attempts
    assert info.value.status == 429 and info.value.retry_after == 7.0
    assert "max_concurrency" in str(info.value)  # the hint says what to do


def test_server_busy_after_the_retries_are_used_up() -> None:
    handler, calls = _flaky([(503, {})] * 10)
    t = Transport("http://demo.test", http_transport=mock(handler), retry=FAST, progress=False)
    with pytest.raises(ServerBusy) as info:
        run_sync(t.request("GET", "/x"))
    assert info.value.status == 503 and len(calls) == FAST.attempts


def test_total_retry_time_is_capped() -> None:
    handler, calls = _flaky([(429, {"Retry-After": "1"})] * 10)
    policy = RetryPolicy(attempts=10, backoff=0.001, max_wait=0.05, max_total=0.12)
    t = Transport("http://demo.test", http_transport=mock(handler), retry=policy, progress=False)
    with pytest.raises(RateLimited):
        run_sync(t.request("GET", "/x"))
    assert len(calls) == 3  # 0.05 + 0.05 fit in 0.12, a third wait would not
    assert t.stats["waited_s"] == pytest.approx(0.10)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadError("Connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadTimeout("timed out"),
    ],
)
def test_dropped_connections_are_retried_for_get(exc: Exception) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) == 1:
            raise exc
        return httpx.Response(200, text="fine")

    t = Transport("http://demo.test", http_transport=mock(handler), retry=FAST, progress=False)
    assert run_sync(t.request("GET", "/x")).text == "fine"
    assert len(calls) == 2 and t.stats["reset_retries"] == 1


def test_dropped_connection_is_not_retried_for_post() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ReadError("Connection reset by peer")

    t = Transport("http://demo.test", http_transport=mock(handler), retry=FAST, progress=False)
    with pytest.raises(ConnectionFailed) as info:
        run_sync(t.request("POST", "/x", content=b"data"))
    assert calls == ["POST"] and "dropped" in str(info.value)
    # …unless the caller says the POST is safe to repeat (e.g. a read-only XML API query)
    with pytest.raises(ConnectionFailed):
        run_sync(t.request("POST", "/x", content=b"data", idempotent=True))
    assert len(calls) == 1 + FAST.attempts


def test_real_connection_reset_is_retried() -> None:
    """A raw server that resets the first connection (RST) and answers the second."""

    state = {"n": 0}

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            state["n"] += 1
            self.request.recv(65536)
            if state["n"] == 1:
                self.request.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                self.request.close()
                return
            body = b"<users totalCount='0'/>"
            self.request.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nConnection: close\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )

    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        t = Transport(f"http://127.0.0.1:{srv.server_address[1]}", retry=FAST, progress=False)
        r = run_sync(t.request("GET", "/cucm-uds/users"))
        assert r.content == b"<users totalCount='0'/>"
        assert state["n"] == 2 and t.stats["retries"] == 1
        t.close()
    finally:
        srv.shutdown()
        srv.server_close()


def test_connection_refused_fails_fast_with_a_hint() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    t = Transport(f"http://127.0.0.1:{port}", retry=FAST, progress=False)
    with pytest.raises(ConnectionFailed) as info:
        run_sync(t.request("GET", "/x"))
    assert "refused" in str(info.value) and "running" in str(info.value)
    assert info.value.host == "127.0.0.1" and t.stats["retries"] == 0


# -- 401 and credentials -------------------------------------------------------------------------------------


def test_401_refreshes_once_through_the_flow_and_retries() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("Authorization", "")
        seen.append(auth)
        if auth == "Bearer second-token-xyz":
            return httpx.Response(200, text="ok")
        return httpx.Response(401, text="")

    flow = FakeFlow("first-token-abc", "second-token-xyz")
    t = Transport("http://demo.test", auth=flow, http_transport=mock(handler), retry=FAST, progress=False)
    assert run_sync(t.request("GET", "/x")).text == "ok"
    assert seen == ["Bearer first-token-abc", "Bearer second-token-xyz"]
    assert flow.refreshes == 1 and t.stats["refreshes"] == 1


def test_401_after_the_refresh_is_an_error_not_a_loop() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(401)

    flow = FakeFlow("first-token-abc", "second-token-xyz")
    t = Transport("http://demo.test", auth=flow, http_transport=mock(handler), retry=FAST, progress=False)
    with pytest.raises(ApiError) as info:
        run_sync(t.request("GET", "/x"))
    assert info.value.status == 401 and len(calls) == 2 and flow.refreshes == 1


def test_basic_401_is_not_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(401)

    t = Transport(
        "http://demo.test",
        auth=("jdoe", "wrong-password-1"),
        http_transport=mock(handler),
        retry=FAST,
        progress=False,
    )
    with pytest.raises(ApiError):
        run_sync(t.request("GET", "/x"))
    assert len(calls) == 1


def test_credentials_are_not_sent_to_another_origin() -> None:
    seen: dict[str, str | None] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = request.headers.get("Authorization")
        return httpx.Response(200)

    t = Transport(
        "https://api.demo.test", auth="bearer-text-123456", http_transport=mock(handler), progress=False
    )
    run_sync(t.request("GET", "/me"))
    run_sync(t.request("GET", "https://evil.test/steal"))
    assert seen == {"api.demo.test": "Bearer bearer-text-123456", "evil.test": None}


def test_custom_error_decoder_and_expect() -> None:
    class Mine(ApiError):
        pass

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(202 if request.method == "PUT" else 404, text="nope")

    t = Transport("http://demo.test", http_transport=mock(handler), progress=False)
    assert run_sync(t.request("PUT", "/state", expect=(200, 202))).status_code == 202
    with pytest.raises(Mine):
        run_sync(t.request("GET", "/x", error_decoder=lambda r: Mine("mine", status=r.status_code)))
    with pytest.raises(ApiError) as info:
        run_sync(t.request("GET", "/x"))
    assert info.value.status == 404 and "/x" in str(info.value)


def test_oversized_body_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<a>" + b"x" * 5000 + b"</a>")

    t = Transport("http://demo.test", http_transport=mock(handler), progress=False, max_body=1000)
    with pytest.raises(ParseError) as info:
        run_sync(t.request("GET", "/big"))
    assert "too large" in str(info.value)


# -- TLS -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    d = tmp_path_factory.mktemp("tls")
    ca_path, cert_path, key_path = d / "ca.pem", d / "cert.pem", d / "key.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    hits: list[str] = []

    async def version(request: Request) -> Response:
        hits.append(request.url.path)
        return Response(
            b"<versionInformation><version>14.0</version></versionInformation>", media_type="application/xml"
        )

    app = Starlette(routes=[Route("/cucm-uds/version", version)])
    with Server(app, ssl_certfile=str(cert_path), ssl_keyfile=str(key_path)) as srv:
        yield srv, str(ca_path), hits


def test_tls_with_the_ca_path_verifies(tls_server: Any) -> None:
    srv, ca_path, hits = tls_server
    t = Transport(srv.url, verify=ca_path, progress=False)
    r = run_sync(t.request("GET", "/cucm-uds/version"))
    assert b"14.0" in r.content
    t.close()


def test_tls_default_verification_fails_with_the_fix_and_no_fallback(tls_server: Any) -> None:
    srv, ca_path, hits = tls_server
    before = len(hits)
    t = Transport(srv.url, progress=False, retry=FAST)  # verify=True: the test CA is not trusted
    with pytest.raises(ConnectionFailed) as info:
        run_sync(t.request("GET", "/cucm-uds/version"))
    text = str(info.value)
    assert f"127.0.0.1:{srv.port}" in text and "did not verify" in text
    assert "verify='/path/to/ca.pem'" in text and "ucexplore check" in text
    assert info.value.host == "127.0.0.1"
    assert len(hits) == before  # no request reached the server: no silent unverified retry
    assert t.stats["retries"] == 0


def test_tls_missing_ca_file_is_reported() -> None:
    with pytest.raises(ConnectionFailed) as info:
        Transport("https://cucm.example.com:8443", verify="/nonexistent/ca.pem")
    assert "/nonexistent/ca.pem" in str(info.value)


def test_bad_base_url() -> None:
    with pytest.raises(ValueError):
        Transport("cucm.example.com:8443")


# -- concurrency ---------------------------------------------------------------------------------------------


def test_per_host_concurrency_is_bounded() -> None:
    state = {"now": 0, "max": 0}

    async def handler(request: httpx.Request) -> httpx.Response:
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
        await asyncio.sleep(0.01)
        state["now"] -= 1
        return httpx.Response(200)

    t = Transport("http://demo.test", http_transport=mock(handler), max_concurrency=3, progress=False)

    async def many() -> None:
        await asyncio.gather(*(t.request("GET", f"/p/{i}") for i in range(20)))

    run_sync(many())
    assert state["max"] == 3
    assert t.stats["requests"] == 20


# -- redaction -----------------------------------------------------------------------------------------------


def test_no_secret_in_exceptions_logs_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    secret = "tok-9f8e7d6c5b4a-SECRET"
    refresh = "rt-0a1b2c3d4e5f-SECRET"
    register_secret(secret)

    def handler(request: httpx.Request) -> httpx.Response:
        # a server that echoes what it got, as real error pages sometimes do
        echo = f"bad request {request.url} auth={request.headers.get('Authorization')}"
        if request.url.path == "/boom":
            return httpx.Response(500, text=echo)
        if request.url.path == "/busy":
            return httpx.Response(429, text=echo, headers={"Retry-After": "0"})
        return httpx.Response(200, text="ok")

    tok = Token(secret, expires_in=3600, refresh_token=refresh, user="jkam")
    t = Transport("http://demo.test", auth=tok, http_transport=mock(handler), retry=FAST, progress=False)
    caplog.set_level(logging.DEBUG, logger="ucexplore")
    run_sync(t.request("GET", "/ok", params={"refresh-token": refresh, "cc_username": "jkam"}))
    errors: list[BaseException] = []
    for path in ("/boom", "/busy"):
        with pytest.raises(UcError) as info:
            run_sync(
                t.request(
                    "GET",
                    path,
                    params={"refresh-token": refresh},
                    error_decoder=lambda r: ApiError(r.text, status=r.status_code, url=str(r.url)),
                )
            )
        errors.append(info.value)
    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [repr(t)]
    texts += [r.getMessage() for r in caplog.records]
    assert any("/ok" in m for m in texts), "DEBUG lines were logged"
    assert any("refresh-token=*****" in m for m in texts)
    assert "*****" in str(errors[0])  # the echoed secrets were there, masked
    assert isinstance(errors[1], RateLimited)
    for text in texts:
        assert secret not in text and refresh not in text, text


def test_progress_bar_text_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    secret = "progress-secret-0123456789"
    register_secret(secret)
    bar = Progress(True, total=5, desc=f"pull /x?token={secret}")
    bar.update(5)
    bar.close()
    err = capsys.readouterr().err
    assert "pull /x?token=*****" in err  # the bar was drawn, with its text redacted
    assert secret not in err
    off = Progress(False, total=5, desc="nothing")
    assert off._bar is None


def test_redirects_are_followed_unless_asked_not_to() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/start":
            return httpx.Response(302, headers={"Location": "/landing#access_token=frag-secret-123456"})
        return httpx.Response(200, text="landed")

    t = Transport("http://demo.test", http_transport=mock(handler), progress=False)
    assert run_sync(t.request("GET", "/start")).text == "landed"
    r = run_sync(t.request("GET", "/start", follow_redirects=False, expect=(302,)))
    assert r.status_code == 302 and r.headers["Location"].startswith("/landing")
    with pytest.raises(ApiError) as info:
        run_sync(t.request("GET", "/start", follow_redirects=False))
    assert info.value.status == 302
