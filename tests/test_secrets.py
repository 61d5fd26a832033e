"""No token text gets out: reprs, exception strings, DEBUG logs, progress bars, ``df.attrs``, saved widget
state, and what the command line prints.

Every token the lab issues while this module runs is recorded at the lab's issuers (access and refresh
tokens), with the XML API session tickets, the Webex client secret and the passwords used; each check looks
for every one of them, verbatim, in whatever a person, a log or a saved notebook could see.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import traceback
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

import ucexplore as ux
from ucexplore import errors as errors_module
from ucexplore.auth.token import Token
from ucexplore.errors import (
    ApiError,
    ConnectionFailed,
    NotSignedIn,
    ParseError,
    RateLimited,
    ServerBusy,
    SSOError,
    TokenExpired,
    UcError,
)
from ucexplore.lab.person import Person
from ucexplore.lab.tokens import Issuer
from ucexplore.transport import RetryPolicy, Transport, run_sync

FAST = RetryPolicy(attempts=2, backoff=0.0, max_wait=0.0, max_total=1.0)


# ============================================================================================================
# fixtures: every secret the lab hands out while this module runs
# ============================================================================================================


class Vault:
    """Every secret value seen in this module's run."""

    def __init__(self) -> None:
        self.values: set[str] = set()
        self.passwords: set[str] = set()  #: the lab's demo passwords, which `ucexplore lab` prints on purpose

    def add(self, *values: str | None) -> None:
        for v in values:
            if v and len(v) >= 6:
                self.values.add(v)

    def leaks(self, text: str, passwords: bool = True) -> list[str]:
        """The secrets found in ``text`` (shortened, so a failure message does not print them whole)."""
        return [v[:4] + "…" for v in self.values if v in text and (passwords or v not in self.passwords)]

    def assert_clean(self, text: str, where: str, *, passwords: bool = True) -> None:
        found = self.leaks(text, passwords)
        assert not found, f"{len(found)} secret(s) in {where}: {found}"


@pytest.fixture(scope="module")
def vault(lab):
    v = Vault()
    original = Issuer.issue

    def recording_issue(self, *args, **kwargs):
        grant = original(self, *args, **kwargs)
        v.add(grant.access_token, grant.refresh_token)
        return grant

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Issuer, "issue", recording_issue)
        v.add(lab.webex_client_secret, lab.admin[1], lab.demo_user[1])
        v.passwords.update((lab.admin[1], lab.demo_user[1]))
        yield v
    v.add(*lab.ctx.xml_session_tickets)


@pytest.fixture(scope="module")
def flows(lab, vault):
    """All four flows signed in as the demo user through the lab IdP form (the scripted person)."""
    with Person(*lab.demo_user) as person:
        out = {
            "cucm": ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri),
            "unity": ux.UnitySSO(lab.urls["unity"], redirect_uri=lab.redirect_uri),
            "finesse": ux.FinesseSSO(lab.urls["finesse"], agent_id=lab.demo_user[0]),
            "webex": ux.WebexOAuth(
                lab.webex_client_id,
                client_secret=lab.webex_client_secret,
                redirect_uri=lab.redirect_uri,
                scopes=["spark:all"],
                base_url=lab.urls["webex"] + "/v1",
            ),
        }
        for flow in out.values():
            landed = person.sign_in(flow.authorize_url)
            vault.add(landed)  # the pasted text itself (holds the token, or a one-time code)
            flow.complete(landed)
    for flow in out.values():
        vault.add(flow.token.access_token, flow.token.refresh_token)
    return out


@pytest.fixture(scope="module")
def clients(lab, flows):
    base = dict(progress=False)
    out = {
        "uds": ux.UDS(lab.urls["cucm"], auth=flows["cucm"], **base),
        "uds_admin": ux.UDS(lab.urls["cucm"], auth=lab.admin, **base),
        "unity": ux.Unity(lab.urls["unity"], auth=flows["unity"], **base),
        "unity_admin": ux.Unity(lab.urls["unity"], auth=lab.admin, **base),
        "finesse": ux.Finesse(lab.urls["finesse"], auth=flows["finesse"], **base),
        "webex": ux.Webex(auth=flows["webex"], base_url=lab.urls["webex"] + "/v1", **base),
        "webex_xml": ux.WebexXML(
            lab.urls["webex_xml"],
            site_name=lab.org.site_name,
            webex_id=lab.org.demo.email,
            auth=flows["webex"],
            **base,
        ),
        "webex_xml_pw": ux.WebexXML(
            lab.urls["webex_xml"], site_name=lab.org.site_name, auth=lab.admin, **base
        ),
        "webdialer": ux.WebDialer(lab.urls["cucm"], auth=flows["cucm"], **base),
    }
    yield out
    for c in out.values():
        c.close()


def pull_everything(lab, clients) -> list[Any]:
    """One call of each kind, returning what a notebook would display."""
    demo = lab.org.demo
    agent = lab.org.demo_agent
    return [
        clients["uds"].users(limit=100),
        clients["uds"].user(demo.username),
        clients["uds"].devices(demo.username),
        clients["uds_admin"].speed_dials(demo.username),
        clients["unity"].messages("inbox"),
        clients["unity_admin"].users(limit=50),
        clients["finesse"].team(agent.team_id),
        clients["finesse"].user(agent.login_id),
        clients["webex"].people(limit=150),
        clients["webex"].me(),
        clients["webex_xml"].meetings(),
        clients["webex_xml_pw"].meetings(host_webex_id=demo.username),
    ]


# ============================================================================================================
# reprs
# ============================================================================================================


def _shown(obj: Any) -> str:
    """Everything a notebook or a console could show for ``obj``."""
    parts = [repr(obj), str(obj)]
    for name in ("_repr_html_", "_repr_markdown_", "_repr_pretty_"):
        fn = getattr(obj, name, None)
        if callable(fn) and name != "_repr_pretty_":
            parts.append(str(fn()))
    bundle = getattr(obj, "_repr_mimebundle_", None)
    if callable(bundle):
        try:
            parts.append(json.dumps(bundle(), default=str))
        except Exception:  # noqa: BLE001 - a widget without a kernel may refuse; repr was still checked
            pass
    return "\n".join(parts)


def test_reprs_of_tokens_flows_clients_transports_and_the_lab(lab, vault, flows, clients) -> None:
    objects: list[Any] = [lab, *flows.values(), *(f.token for f in flows.values()), *clients.values()]
    objects += [c.transport for c in clients.values()] + [c.credentials for c in clients.values()]
    objects += [
        Token(
            "a-token-typed-by-hand-0123456789",
            refresh_token="a-refresh-typed-by-hand-98765",
            expires_in=60,
            issuer="cucm",
            user="jkam",
        )
    ]
    vault.add("a-token-typed-by-hand-0123456789", "a-refresh-typed-by-hand-98765")
    for obj in objects:
        vault.assert_clean(_shown(obj), f"the repr of {type(obj).__name__}")
    for flow in flows.values():
        vault.assert_clean(json.dumps(flow.describe(), default=str), f"{type(flow).__name__}.describe()")
        vault.assert_clean(repr(flow.token.describe()), "Token.describe()")


def test_reprs_of_widgets(lab, vault, flows, clients, tmp_path) -> None:
    w = ux.login(flows["cucm"])
    bar = ux.sessions()
    ex = ux.explore(clients["uds"], folder=tmp_path, remember=False)
    try:
        ex.fetch()
        for obj in (w, bar, ex):
            vault.assert_clean(_shown(obj), f"the repr of {type(obj).__name__}")
        vault.assert_clean(
            w.status_text + bar.rows.__repr__() + (ex.error or "") + ex.table_html, "widget text"
        )
    finally:
        w.close()
        bar.close()
        ex.close()


# ============================================================================================================
# exception strings
# ============================================================================================================


def _everything_about(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    if isinstance(exc, UcError):
        parts += [exc.message, exc._repr_html_(), str(exc.hint)]
    for attr in ("server_message", "url", "excerpt", "details", "host", "partial"):
        if hasattr(exc, attr):
            parts.append(repr(getattr(exc, attr)))
    return "\n".join(parts)


def _all_error_classes() -> list[type[UcError]]:
    found = [getattr(errors_module, n) for n in errors_module.__all__]
    return [c for c in found if isinstance(c, type) and issubclass(c, UcError)]


@pytest.mark.parametrize("cls", _all_error_classes(), ids=lambda c: c.__name__)
def test_every_exception_class_keeps_secrets_out_of_its_text(cls: type[UcError], vault) -> None:
    token = Token("tok-" + "Zx9" * 12, refresh_token="ref-" + "Qw7" * 12, expires_in=60)  # registered
    vault.add(token.access_token, token.refresh_token)
    unregistered = {
        "url": "https://cucm:8443/cb#access_token=UNREG1abcdefghijklmnop&expires_in=3600",
        "header": "Authorization: Bearer UNREG2abcdefghijklmnopqrstu",
        "ticket": "<serv:sessionTicket>UNREG3abcdefghijklmnop</serv:sessionTicket>",
        "json": '{"refresh_token": "UNREG4abcdefghijklmnop", "token": "UNREG5abcdefghijklmnop"}',
        "form": "user=jkam&password=UNREG6abcdefghijk",
    }
    vault.add(*(f"UNREG{i}abcdefghijklmnop"[:17] for i in range(1, 7)))
    text = f"failed with {token.access_token} / {token.refresh_token}; " + "; ".join(unregistered.values())
    kw: dict[str, Any] = {"hint": f"retry with {token.access_token} ({unregistered['url']})"}
    if issubclass(cls, ApiError):
        kw.update(
            status=401,
            server_message=text,
            url=unregistered["url"],
            details=[text],
            tracking_id="ROUTER_0123",
        )
    elif cls is ParseError:
        kw.update(excerpt=text.encode(), url=unregistered["url"], content_type="text/html")
    elif cls is ConnectionFailed:
        kw.update(host="cucm")
    exc = cls(text, **kw)
    try:
        raise exc
    except UcError as caught:
        vault.assert_clean(_everything_about(caught), f"{cls.__name__}")


class _EchoServer:
    """A server that answers every request with ``status`` and a body echoing the request's secrets."""

    def __init__(self, status: int, kind: str) -> None:
        self.status, self.kind = status, kind

    def __call__(self, request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("authorization", "")
        echoed = f"{auth} {request.url}"
        if self.kind == "json":
            body = json.dumps(
                {
                    "message": f"invalid credentials {echoed}",
                    "errors": [{"description": echoed}],
                    "trackingId": "ROUTER_1",
                }
            ).encode()
            ctype = "application/json"
        elif self.kind == "xml":
            body = (
                f"<ApiErrors><ApiError><ErrorType>Unauthorized</ErrorType><ErrorMessage>{echoed}"
                f"</ErrorMessage><ErrorData>{auth}</ErrorData></ApiError></ApiErrors>"
            ).encode()
            ctype = "application/xml"
        elif self.kind == "html":
            body = f"<html><head><title>Denied {echoed}</title></head><body>{echoed}</body></html>".encode()
            ctype = "text/html"
        else:  # a 200 body that is neither XML nor JSON, starting with the secret
            body = f"{auth} {echoed} and then some".encode()
            ctype = "text/plain"
        return httpx.Response(self.status, content=body, headers={"content-type": ctype, "retry-after": "0"})


@pytest.mark.parametrize(
    "status,kind,expected",
    [
        (401, "json", ApiError),
        (400, "xml", ApiError),
        (500, "html", ApiError),
        (429, "json", RateLimited),
        (503, "xml", ServerBusy),
        (200, "text", ParseError),
        (200, "html", ParseError),
    ],
)
def test_errors_from_servers_that_echo_the_credentials(status: int, kind: str, expected: type, vault) -> None:
    token = Token("echo-" + "Kp4" * 12, expires_in=600, issuer="webex")
    vault.add(token.access_token)

    class Demo(ux.services.Service):
        product = "demo"
        things = ux.services.Fetch("/things", item="thing", params=None)

    for auth in (token, ("jkam", "echo-pa55-word-77")):
        vault.add("echo-pa55-word-77")
        client = Demo(
            "https://demo.test",
            auth=auth,
            http_transport=httpx.MockTransport(_EchoServer(status, kind)),
            progress=False,
            retry=FAST,
        )
        with pytest.raises(UcError) as info:
            client.things(token=token.access_token, access_token="q-" + token.access_token)
        assert isinstance(info.value, expected)
        vault.assert_clean(_everything_about(info.value), f"{expected.__name__} from a {status} {kind} body")


def test_errors_raised_by_flows_and_connections(vault, flows, lab) -> None:
    secret = flows["cucm"].token.access_token
    raised: list[BaseException] = []
    # a paste from another attempt (state mismatch) that carries a real token
    other = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
    for paste in (
        f"{lab.redirect_uri}#access_token={secret}&token_type=Bearer&expires_in=3600&state=not-yours",
        f"garbage {secret} garbage",
        f'{{"error": "x", "token": "{secret}"}}',
    ):
        try:
            other.complete(paste)
        except UcError as exc:
            raised.append(exc)
    # a token that has expired
    expired = Token("expired-" + "Lm3" * 12, expires_in=-5, issuer="cucm")
    vault.add(expired.access_token)
    try:
        ux.UDS(lab.urls["cucm"], auth=expired, progress=False).devices(lab.org.demo.username)
    except UcError as exc:
        raised.append(exc)
    # a flow nobody signed in with
    try:
        ux.UDS(
            lab.urls["cucm"], auth=ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri), progress=False
        ).devices("x")
    except UcError as exc:
        raised.append(exc)
    # a refused connection to a URL that carries a token
    try:
        run_sync(
            Transport("http://127.0.0.1:9", auth=secret, retry=FAST).request(
                "GET", f"/x?access_token={secret}&token={secret}"
            )
        )
    except UcError as exc:
        raised.append(exc)
    # a Finesse refresh with a refresh token the server no longer knows
    stale = Token(
        "stale-" + "Rt5" * 12, refresh_token="stale-refresh-" + "Yy8" * 12, expires_in=5, issuer="finesse"
    )
    vault.add(stale.access_token, stale.refresh_token)
    try:
        flows["finesse"].refresh(stale)
    except UcError as exc:
        raised.append(exc)
    assert {type(e) for e in raised} >= {SSOError, TokenExpired, NotSignedIn, ConnectionFailed}
    for exc in raised:
        vault.assert_clean(_everything_about(exc), type(exc).__name__)


# ============================================================================================================
# logs, progress bars, df.attrs
# ============================================================================================================


def test_debug_logs_across_a_full_sign_in_refresh_and_pull(lab, vault, caplog) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ucexplore, httpx, httpcore, the lab
    with Person(*lab.demo_user) as person:
        fin = ux.FinesseSSO(lab.urls["finesse"], agent_id=lab.demo_user[0])
        fin.complete(person.sign_in(fin.authorize_url))
        wx = ux.WebexOAuth(
            lab.webex_client_id,
            client_secret=lab.webex_client_secret,
            redirect_uri=lab.redirect_uri,
            scopes=["spark:all"],
            base_url=lab.urls["webex"] + "/v1",
        )
        wx.complete(person.sign_in(wx.authorize_url))
        cucm = ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
        cucm.complete(person.sign_in(cucm.authorize_url))
    for flow in (fin, wx, cucm):
        vault.add(flow.token.access_token, flow.token.refresh_token)
    old = (fin.token.refresh_token, wx.token.refresh_token)
    fin.refresh()
    wx.refresh()
    vault.add(
        *old, fin.token.access_token, fin.token.refresh_token, wx.token.access_token, wx.token.refresh_token
    )
    with (
        ux.Finesse(lab.urls["finesse"], auth=fin, progress=False) as f,
        ux.Webex(auth=wx, base_url=lab.urls["webex"] + "/v1", progress=False) as w,
        ux.UDS(lab.urls["cucm"], auth=cucm, progress=False) as u,
        ux.WebexXML(lab.urls["webex_xml"], site_name=lab.org.site_name, auth=lab.admin, progress=False) as x,
    ):
        f.team(lab.org.demo_agent.team_id)
        w.people(limit=120)
        u.users(limit=200)
        u.devices(lab.org.demo.username)
        x.meetings(limit=20)
        with pytest.raises(UcError):
            u.devices(lab.org.users[5].username)  # someone else's: 401
    vault.add(*lab.ctx.xml_session_tickets)
    assert len(caplog.records) > 20
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "") + repr(record.args)
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        vault.assert_clean(text, f"a {record.levelname} log record of {record.name}")


def test_progress_bars(lab, vault, flows, capsys) -> None:
    import tqdm.auto  # noqa: F401  (the bars need tqdm)

    with (
        ux.UDS(lab.urls["cucm"], auth=flows["cucm"], progress=True) as uds,
        ux.Webex(auth=flows["webex"], base_url=lab.urls["webex"] + "/v1", progress=True) as wx,
        ux.Unity(lab.urls["unity"], auth=lab.admin, progress=True) as cuc,
    ):
        uds.users()  # 300 users: 5 pages of 64
        wx.people(max=30)  # 10 pages, one after another
        cuc.users()
    err = capsys.readouterr().err
    assert "/cucm-uds/users" in err, "no progress bar was drawn"
    vault.assert_clean(err, "the progress bars")


def test_df_attrs_hold_no_secret(lab, vault, clients) -> None:
    results = pull_everything(lab, clients)
    for obj in results:
        vault.assert_clean(json.dumps(obj.attrs, default=str), "df.attrs")
        assert "ucexplore" in obj.attrs
    vault.add(*lab.ctx.xml_session_tickets)
    for obj in results:
        vault.assert_clean(json.dumps(obj.attrs, default=str), "df.attrs")


# ============================================================================================================
# saved widget state
# ============================================================================================================


def test_saved_widget_state_after_signing_in_through_the_widget(lab, vault, tmp_path) -> None:
    import ipywidgets

    flows = [
        ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri),
        ux.FinesseSSO(lab.urls["finesse"], agent_id=lab.demo_user[0]),
    ]
    widgets = []
    with Person(*lab.demo_user) as person:
        for i, flow in enumerate(flows):
            w = ux.login(flow)
            widgets.append(w)
            pasted = person.sign_in(flow.authorize_url)
            vault.add(pasted)
            if i == 0:
                w._paste.value = pasted  # what typing into the box does
            else:
                w.submit(pasted)
            assert w.signed_in, w.error
            vault.add(flow.token.access_token, flow.token.refresh_token)
            w.submit(pasted + " and a bad paste")  # an error shown in the widget
    bar = ux.sessions()
    ex = ux.explore(ux.UDS(lab.urls["cucm"], auth=flows[0], progress=False), folder=tmp_path, remember=False)
    ex.fetch()
    try:
        state = ipywidgets.Widget.get_manager_state(drop_defaults=False)
        vault.assert_clean(json.dumps(state, default=str), "the saved widget state")
        for w in widgets:
            vault.assert_clean(json.dumps(w.widget.get_state(), default=str), "a LoginWidget's state")
    finally:
        for w in widgets:
            w.close()
        bar.close()
        ex.close()


# ============================================================================================================
# the command line
# ============================================================================================================


def test_lab_describe_and_the_lab_command(lab, vault, flows, tmp_path) -> None:
    vault.assert_clean(lab.describe(), "Lab.describe()", passwords=False)  # it lists the demo accounts
    assert lab.webex_client_secret not in lab.describe()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from _common import LabProcess

    with LabProcess(users=40, seed=3) as served:
        # sign in against it, so that it has issued tokens before it prints anything more
        with Person(_first_user(served), "lab-pass-1") as person:
            flow = ux.CucmSSO(served.urls["cucm"], redirect_uri=served.urls["idp"] + "/callback")
            landed = person.sign_in(flow.authorize_url)
            flow.complete(landed)
        issued = [flow.token.access_token, landed]
        proc = served.proc
        assert proc is not None
    out = served.text + "\n" + (proc.stdout.read() if proc.stdout else "")
    assert "ucexplore lab is running" in out and "lab stopped" in out
    for secret in issued:
        assert secret not in out
    from ucexplore.audit import scan_text

    assert not [f for f in scan_text(out) if f.kind != "password field"], (
        "the lab printed something token-like"
    )


def _first_user(served: Any) -> str:
    for line in served.text.splitlines():
        if line.strip().startswith("demo user"):
            return line.split()[2]
    raise AssertionError(served.text)


def test_report_command_prints_and_writes_no_secret(vault, tmp_path, capsys) -> None:
    from ucexplore.cli import main

    out = tmp_path / "report.html"
    with pytest.MonkeyPatch.context() as mp:
        original = Issuer.issue

        def recording_issue(self, *args, **kwargs):
            grant = original(self, *args, **kwargs)
            vault.add(grant.access_token, grant.refresh_token)
            return grant

        mp.setattr(Issuer, "issue", recording_issue)
        assert main(["report", "--lab", "directory", "voicemail", "--users", "60", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    vault.assert_clean(printed.out + printed.err, "the output of `ucexplore report`")
    vault.assert_clean(out.read_text(encoding="utf-8"), "the HTML report")
    for xlsx in tmp_path.glob("*.xlsx"):
        with zipfile.ZipFile(xlsx) as z:
            for name in z.namelist():
                vault.assert_clean(z.read(name).decode("utf-8", "replace"), f"{xlsx.name}:{name}")
    from ucexplore.audit import audit

    assert not audit([str(tmp_path)]), "ucexplore audit finds a credential in the report"


def test_audit_command_masks_what_it_finds(vault, flows, tmp_path, capsys) -> None:
    from ucexplore.cli import main

    token = flows["webex"].token
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "source": "tok",
                "metadata": {},
                "execution_count": 1,
                "outputs": [
                    {
                        "output_type": "stream",
                        "name": "stdout",
                        "text": f"https://app.example.com/cb#access_token={token.access_token}&expires_in=3600\n",
                    },
                    {
                        "output_type": "execute_result",
                        "execution_count": 1,
                        "metadata": {},
                        "data": {"text/plain": f"{{'refresh_token': '{token.refresh_token}'}}"},
                    },
                ],
            }
        ],
        "metadata": {
            "widgets": {
                "application/vnd.jupyter.widget-state+json": {
                    "state": {"m": {"state": {"value": f"Bearer {token.access_token}"}}}
                }
            }
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "leaky.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    (tmp_path / "notes.log").write_text(
        f"GET /x Authorization: Bearer {token.access_token}\n", encoding="utf-8"
    )
    assert main(["audit", str(tmp_path)]) == 1  # found
    printed = capsys.readouterr()
    assert "finding" in printed.out
    vault.assert_clean(printed.out + printed.err, "the output of `ucexplore audit`")


def test_nothing_left_in_a_string_buffer_log_handler(lab, vault, clients) -> None:
    """A person's own logging setup (a handler with a formatter, at DEBUG) sees no secret either."""
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        pull_everything(lab, clients)
        with pytest.raises(UcError):
            clients["uds"].devices(lab.org.users[7].username)
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
    vault.add(*lab.ctx.xml_session_tickets)
    assert buf.getvalue()
    vault.assert_clean(buf.getvalue(), "a DEBUG log file")
