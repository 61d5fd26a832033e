"""The side doors a hostile review found: credentials across redirects, in traceback locals, in exception
chains and in pickles; refreshes that deadlock or lose a rotated token; a frozen server; bad ``verify=``.

Redirect and traceback cases run the real transport over ``httpx.MockTransport`` (two origins, every request
recorded); refresh cases use the gated token server of ``test_flows``; the frozen server is the lab's own
``freeze_after`` fault, reached over real HTTP on loopback.
"""

from __future__ import annotations

import asyncio
import pickle
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import ucexplore as ux
from ucexplore.auth.credentials import BasicCredentials, resolve_auth
from ucexplore.errors import ConnectionFailed, InvalidArgument, RedirectRefused, UcError
from ucexplore.redact import Secret, SecretBody
from ucexplore.transport import RetryPolicy, Transport, check_verify, run_sync

TOKEN = "tok-" + "Zq9" * 20
PASSWORD = "pa55-Word-very-secret"
HOME = "https://cucm.example.com:8443"
EVIL = "https://evil.example.net"


# =============================================================================================================
# helpers
# =============================================================================================================


class TwoOrigins:
    """HOME redirects ``/go`` with ``status`` to ``target``; every request (origin, method, headers, body) is
    recorded."""

    def __init__(self, status: int = 307, target: str = EVIL + "/collect") -> None:
        self.status, self.target = status, target
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        self.seen.append((origin, request.method, dict(request.headers), request.read()))
        if request.url.path == "/go":
            return httpx.Response(self.status, headers={"Location": self.target})
        return httpx.Response(200, json={"ok": True, "path": request.url.path})

    def at(self, origin: str) -> list[tuple[str, str, dict[str, str], bytes]]:
        return [s for s in self.seen if s[0] == origin]


def transport(handler: Any, auth: Any = None, **kw: Any) -> Transport:
    kw.setdefault("retry", RetryPolicy(attempts=2, backoff=0.01))
    return Transport(HOME, auth=auth, http_transport=httpx.MockTransport(handler), progress=False, **kw)


UCX_DIR = str(Path(ux.__file__).parent)


def chain_of(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if any(e is o for o in out):
            continue
        out.append(e)
        todo += [c for c in (e.__cause__, e.__context__) if c is not None]
    return out


def ucx_frame_locals(exc: BaseException) -> list[tuple[str, str, Any]]:
    """(function, name, value) of every local of every ucexplore frame in the tracebacks of the chain."""
    out = []
    for e in chain_of(exc):
        tb = e.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename.startswith(UCX_DIR):
                out += [(code.co_name, k, v) for k, v in tb.tb_frame.f_locals.items()]
            tb = tb.tb_next
    return out


def leaked(exc: BaseException, *secrets: str) -> list[str]:
    """Where ``secrets`` can be read from ``exc``: what ``%xmode Verbose``/``capture_locals`` prints of the
    ucexplore frames, the messages of the chain, or an httpx object the chain or those frames reach."""
    found: list[str] = []
    for e in chain_of(exc):
        if isinstance(e, httpx.HTTPError):
            found.append(f"chained httpx error {type(e).__name__}")
        found += [f"message of {type(e).__name__}" for s in secrets if s in str(e)]
    values = [(f"{fn}:{name}", v) for fn, name, v in ucx_frame_locals(exc)]
    values += [(f"{type(e).__name__}.{k}", v) for e in chain_of(exc) for k, v in vars(e).items()]
    for where, value in values:
        found += [f"{where} = {safe_repr(value)[:40]}" for s in secrets if s in safe_repr(value)]
        for msg in (getattr(value, "request", None), getattr(value, "response", None), value):
            if isinstance(msg, (httpx.Request, httpx.Response)):
                try:
                    req = msg if isinstance(msg, httpx.Request) else msg.request
                except RuntimeError:
                    continue
                blob = str(dict(req.headers)) + getattr(req, "_content", b"").decode("utf-8", "replace")
                found += [f"{where}: {type(msg).__name__} carries it" for s in secrets if s in blob]
    return found


def safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001
        return ""


# =============================================================================================================
# redirects
# =============================================================================================================


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize(
    "what, kwargs",
    [
        ("soap password in the body", {"content": SecretBody("<password>", Secret(PASSWORD), "</password>")}),
        ("refresh token in a form", {"data": {"token": TOKEN, "refresh-token": PASSWORD}}),
        ("code exchange", {"data": {"code": PASSWORD, "code_verifier": TOKEN, "client_secret": "x" * 20}}),
        ("json body", {"json": {"password": PASSWORD}}),
    ],
)
def test_a_body_with_credentials_never_follows_a_redirect_to_another_origin(status, what, kwargs):
    srv = TwoOrigins(status)
    t = transport(srv)
    with pytest.raises(RedirectRefused) as info:
        run_sync(t.request("POST", "/go", auth=False, **kwargs))
    assert srv.at(EVIL) == [], f"{what} was re-sent to the other origin"
    msg = str(info.value)
    assert "https://cucm.example.com:8443" in msg and "https://evil.example.net:443" in msg
    assert PASSWORD not in msg and TOKEN not in msg and not leaked(info.value, PASSWORD, TOKEN)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_an_authorization_header_never_follows_a_redirect_to_another_origin(status):
    srv = TwoOrigins(status)
    with pytest.raises(RedirectRefused):
        run_sync(transport(srv, auth=TOKEN).request("GET", "/go"))
    assert srv.at(EVIL) == []


def test_a_secret_query_parameter_never_follows_a_redirect_to_another_origin():
    srv = TwoOrigins(302)
    with pytest.raises(RedirectRefused):
        run_sync(transport(srv).request("GET", "/go", params={"refresh_token": PASSWORD}, auth=False))
    assert srv.at(EVIL) == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_same_origin_redirects_still_work_and_keep_the_credentials(status):
    srv = TwoOrigins(status, target=HOME + "/landed")
    r = run_sync(transport(srv, auth=TOKEN).request("POST", "/go", content=b"<x/>"))
    assert r.json()["path"] == "/landed"
    assert len(srv.seen) == 2 and srv.seen[1][0] == HOME
    _, method, headers, body = srv.seen[1]
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert method == ("POST" if status in (307, 308) else "GET")
    assert body == (b"<x/>" if status in (307, 308) else b"")


def test_a_plain_get_may_follow_a_redirect_to_another_origin():
    srv = TwoOrigins(302)
    r = run_sync(transport(srv).request("GET", "/go", auth=False))
    assert r.json()["path"] == "/collect" and len(srv.at(EVIL)) == 1


def test_a_redirect_loop_ends_with_a_clear_error():
    srv = TwoOrigins(302, target=HOME + "/go")
    with pytest.raises(ConnectionFailed, match="too many redirects"):
        run_sync(transport(srv).request("GET", "/go", auth=False))


def test_the_services_soap_and_xml_bodies_hold_the_credential_as_a_secret():
    wd = ux.WebDialer(HOME, auth=("jkam", PASSWORD), http_transport=httpx.MockTransport(TwoOrigins()))
    cred = run_sync(wd.credentials.body_credential())
    assert isinstance(cred["password"], Secret) and PASSWORD not in repr(cred)
    from ucexplore.services.webdialer import _credential_xml, _envelope

    body = _envelope("makeCallSoap", _credential_xml(cred))
    assert PASSWORD not in repr(body) and PASSWORD.encode() in body.reveal()


# =============================================================================================================
# tracebacks and exception chains
# =============================================================================================================


def _failing(kind: str):
    def handler(request: httpx.Request) -> httpx.Response:
        if kind == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if kind == "reset":
            raise httpx.RemoteProtocolError("peer closed", request=request)
        if kind == "connect":
            raise httpx.ConnectError("boom", request=request)
        status = {"401": 401, "404": 404, "503": 503, "429": 429, "500": 500}[kind]
        return httpx.Response(status, text="<html>nope</html>", headers={"Retry-After": "0"})

    return handler


@pytest.mark.parametrize("kind", ["timeout", "reset", "connect", "401", "404", "503", "429", "500"])
@pytest.mark.parametrize("auth", [TOKEN, ("jkam", PASSWORD)], ids=["bearer", "basic"])
def test_no_exception_holds_the_credential_in_locals_or_its_chain(kind, auth):
    t = transport(_failing(kind), auth=auth, retry=RetryPolicy(attempts=2, backoff=0.001, max_wait=0.01))
    with pytest.raises(UcError) as info:
        run_sync(t.request("GET", "/cucm-uds/users"))
    secrets = [TOKEN] if isinstance(auth, str) else [PASSWORD, BasicCredentials("jkam", PASSWORD)._header_value()]
    assert leaked(info.value, *secrets) == []
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_a_service_error_holds_no_credential_either(lab, sign_in):
    flow = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
    tok = sign_in(flow)
    uds = ux.UDS(lab.urls["cucm"], auth=flow, progress=False)
    with pytest.raises(UcError) as info:
        uds.user("no-such-user-anywhere")
    assert leaked(info.value, tok.access_token) == []


# =============================================================================================================
# pickles
# =============================================================================================================


def test_nothing_that_holds_a_secret_pickles(lab, sign_in):
    from ucexplore.notebook import NotebookEnv

    flow = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
    sign_in(flow)
    holders = {
        "token": flow.token,
        "basic credentials": resolve_auth(("jkam", PASSWORD)),
        "secret": Secret(PASSWORD),
        "secret body": SecretBody("<p>", Secret(PASSWORD), "</p>"),
        "notebook env": NotebookEnv(cucm_url=HOME, _demo_password=PASSWORD, _admin=("admin", PASSWORD)),
        "service client": ux.UDS(lab.urls["cucm"], auth=("jkam", PASSWORD)),
        "transport": Transport(HOME, auth=TOKEN),
    }
    for name, obj in holders.items():
        with pytest.raises(TypeError) as info:
            pickle.dumps(obj)
        assert PASSWORD not in str(info.value) and TOKEN not in str(info.value), name


# =============================================================================================================
# refresh: never on the caller's loop
# =============================================================================================================


@pytest.fixture(scope="module")
def token_server():
    from test_flows import TokenServer

    srv = TokenServer().start()
    yield srv
    srv.stop()


@pytest.fixture()
def tsrv(token_server):
    token_server.reset()
    yield token_server
    token_server.gate.set()


def _finesse_due(srv):
    from test_flows import due_token

    flow = ux.FinesseSSO(srv.url, agent_id="1001001")
    old = flow.use_token(due_token("fa-" + "k" * 40, srv.finesse_refresh_token(), issuer="finesse"))
    return flow, old


def test_run_all_mixing_an_async_task_and_a_sync_call_does_not_deadlock(tsrv):
    flow, old = _finesse_due(tsrv)
    outcome: list[Any] = []

    async def cells() -> None:
        task = asyncio.ensure_future(flow.ensure_fresh_async())  # cell 1: an async call is left running
        for _ in range(1000):
            if flow._inflight is not None or task.done():
                break
            await asyncio.sleep(0)
        outcome.append(flow.ensure_fresh())  # cell 2: a sync call blocks the kernel's loop
        outcome.append(await task)

    thread = threading.Thread(target=lambda: asyncio.run(cells()), daemon=True)
    thread.start()
    thread.join(30)  # a liveness bound: the old code never returned
    assert not thread.is_alive(), "the kernel's loop deadlocked"
    assert outcome[0] is outcome[1] is flow.token and flow.token is not old
    assert tsrv.hits("finesse_refresh") == 1


def test_a_rotated_refresh_token_is_kept_when_the_callers_loop_ends(tsrv):
    flow, old = _finesse_due(tsrv)
    tsrv.gate.clear()  # the server holds the refresh request

    async def impatient() -> None:
        await asyncio.wait_for(flow.refresh_async(), 0.3)

    with pytest.raises(TimeoutError):
        asyncio.run(impatient())  # the caller's loop is gone; the request is still out
    tsrv.gate.set()  # now the server rotates the refresh token and answers
    for _ in range(600):
        if flow.token is not old:
            break
        time.sleep(0.05)
    assert flow.token is not old, "the rotated refresh token was lost with the caller's loop"
    assert flow.refresh() is flow.token and tsrv.hits("finesse_refresh") == 2  # and it works


# =============================================================================================================
# a frozen server
# =============================================================================================================


@pytest.fixture(scope="module")
def frozen_lab():
    from ucexplore.lab import start

    with start(users=2000, seed=5, products=("cucm",)) as running:
        yield running


def test_a_server_that_stops_answering_fails_fast_and_keeps_the_rows(frozen_lab):
    lab = frozen_lab
    uds = ux.UDS(lab.urls["cucm"], auth=lab.admin, timeout=0.5, max_concurrency=4, progress=False)
    lab.set_faults("cucm", freeze_after=6)
    try:
        with pytest.raises(ConnectionFailed) as info:
            uds.users()
    finally:
        lab.set_faults(None)
    err = info.value
    assert "stopped answering" in str(err) and "err.partial" in str(err)
    assert err.partial is not None and 0 < len(err.partial) < 2000  # the rows that came are kept
    pages = -(-2000 // 64)
    # the old code retried every page 5 times (about 5 × 32 requests); now: the answered ones, one wave of
    # max_concurrency that met the silence, and nothing more
    assert uds.transport.stats["requests"] <= 6 + 2 * 4 < pages
    # and once the server answers again, so does the client (after the short cool-down)
    time.sleep(uds.transport.silent_cooldown)
    assert len(uds.users(limit=100)) == 100


# =============================================================================================================
# arguments
# =============================================================================================================


@pytest.mark.parametrize("bad", [None, 0, 1, "", "  ", 3.5, object()])
def test_a_bad_verify_is_refused_at_once_with_what_it_takes(bad):
    with pytest.raises(InvalidArgument, match="verify= takes True, a CA bundle path"):
        check_verify(bad)
    with pytest.raises(InvalidArgument):
        ux.UDS(HOME, auth=TOKEN, verify=bad)
    with pytest.raises(InvalidArgument):
        ux.CucmSSO(HOME, redirect_uri="https://app.example.com/cb", verify=bad)


def test_credentials_over_plain_http_need_an_explicit_opt_in(monkeypatch, caplog):
    monkeypatch.delenv("UCX_ALLOW_INSECURE_HTTP", raising=False)
    with pytest.raises(InvalidArgument, match="plain http://"):
        ux.UDS("http://cucm.example.com:8080", auth=TOKEN)
    with pytest.raises(InvalidArgument):
        ux.WebexXML("http://acme.example.com", site_name="acme", auth=("jkam", PASSWORD))
    with pytest.raises(InvalidArgument):
        flow = ux.FinesseSSO("http://finesse.example.com", agent_id="a")
        flow._get_transport()
    ux.UDS("http://127.0.0.1:9", auth=TOKEN)  # loopback (the lab) is fine
    ux.UDS("http://cucm.example.com:8080")  # no credentials: fine
    with caplog.at_level("WARNING", logger="ucexplore.transport"):
        ux.UDS("http://cucm.example.com:8080", auth=TOKEN, allow_insecure_http=True)
    assert "plain http://" in caplog.text and TOKEN not in caplog.text
    monkeypatch.setenv("UCX_ALLOW_INSECURE_HTTP", "1")
    ux.UDS("http://cucm.example.com:8080", auth=TOKEN)


# =============================================================================================================
# the command line
# =============================================================================================================


def _cli(*args: str, env: dict[str, str] | None = None):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "ucexplore", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_check_on_a_plain_http_port_says_so_without_a_traceback(frozen_lab):
    port = frozen_lab.urls["cucm"].rsplit(":", 1)[1]
    out = _cli("check", "--url", f"https://127.0.0.1:{port}", "--timeout", "3")
    text = out.stdout + out.stderr
    assert out.returncode == 1 and "Traceback" not in text
    assert "TLS handshake failed" in text and "plain HTTP" in text


def test_a_client_secret_on_the_command_line_is_refused_in_one_line():
    out = _cli("login", "webex", "--client-id", "C1", "--client-secret", "s3cr3t-on-the-cmdline")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert "UCX_WEBEX_CLIENT_SECRET" in last and "s3cr3t-on-the-cmdline" not in out.stderr + out.stdout


def test_the_client_secret_comes_from_the_environment_or_a_prompt(monkeypatch):
    import argparse

    from ucexplore.auth.cli import client_secret

    monkeypatch.setenv("UCX_WEBEX_CLIENT_SECRET", "from-the-env")
    assert client_secret(argparse.Namespace(ask_client_secret=False)) == "from-the-env"
    asked = client_secret(argparse.Namespace(ask_client_secret=True), ask=lambda prompt: " typed ")
    assert asked == "typed"
    monkeypatch.delenv("UCX_WEBEX_CLIENT_SECRET")
    assert client_secret(argparse.Namespace(ask_client_secret=False)) is None
