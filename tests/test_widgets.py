"""The sign-in widget and the sessions bar, without a browser or a kernel.

Widgets are built in plain pytest, driven through ``button.click()`` and through ``_handle_msg`` with exactly
the messages a browser sends, and every message the kernel would send to the browser is recorded (a fake comm).
After real sign-ins against the lab (scripted person), no token, refresh token, code, pasted text or password
may appear in any widget's synced state, in the manager state that "save widget state" writes, or in any
message sent to the front end.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import threading
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ipywidgets
import pytest

import ucexplore as ux
from ucexplore.auth.token import Token
from ucexplore.errors import NotSignedIn, SSOError
from ucexplore.widgets import LoginWidget, login, register_flow, registered_flows, sessions
from widget_doubles import browser_clicks, browser_sets
login_module = importlib.import_module("ucexplore.widgets.login")  # (the package attribute is the function)

CLASSES = ("ucx-login", "ucx-login-open", "ucx-login-paste", "ucx-login-submit", "ucx-login-signout",
           "ucx-login-status", "ucx-login-error", "ucx-login-unreachable")
LOGIN_ATTRS = {"ucx-login": "widget", "ucx-login-open": "_open", "ucx-login-paste": "_paste",
               "ucx-login-submit": "_submit", "ucx-login-signout": "_signout", "ucx-login-status": "_status",
               "ucx-login-error": "_errors", "ucx-login-unreachable": "_reach"}
CB = "https://app.example.com/cb"


# -- helpers ------------------------------------------------------------------------------------------------
def cucm_paste(token: str = "MjpkZTkxYjNmYS0wYzU2LTQxMDMtOWQ3YS0xNmNh", state: str | None = None) -> str:
    return f"{CB}#access_token={token}&token_type=Bearer&expires_in=3600" + (f"&state={state}" if state else "")


def all_synced_text(*own: ipywidgets.Widget) -> str:
    """The manager state ("save widget state") plus each given widget's own state, as one JSON string."""
    manager = json.dumps(ipywidgets.Widget.get_manager_state(drop_defaults=False))
    mine = json.dumps([w.get_state() for w in own], default=str)
    return manager + mine


def login_widgets(w: LoginWidget) -> list[ipywidgets.Widget]:
    return list(w._children)


def assert_no_secret(haystacks: dict[str, str], secrets: dict[str, str | None]) -> None:
    for label, secret in secrets.items():
        if not secret:
            continue
        # a token's first 16 characters too (a truncated display); pasted text is checked whole
        probes = {secret, secret[:16]} if len(secret) >= 24 and label != "pasted text" else {secret}
        for where, text in haystacks.items():
            for probe in probes:
                assert probe not in text, f"{label} found in {where}"


class FakeFlow:
    """The flow interface the widget relies on, with events under the test's control."""

    product = "cucm"
    display_name = "CUCM"
    refreshable = True

    def __init__(self, product: str = "cucm") -> None:
        self.product = product
        self.host = f"{product}-{uuid.uuid4().hex[:8]}.test:8443"  # unique: other tests' flows may live on
        self.on_change: list[Any] = []
        self._token: Token | None = None
        self.refresh_count = 0
        self.attempt = 0

    @property
    def authorize_url(self) -> str:
        return f"https://{self.host}/ssosp/oauth/authorize?response_type=token&state=s{self.attempt}"

    @property
    def token(self) -> Token | None:
        return self._token

    @property
    def signed_in(self) -> bool:
        return self._token is not None and not self._token.expired

    def _emit(self, event: str) -> None:
        for cb in list(self.on_change):
            cb(event, self)

    def complete(self, pasted: str) -> Token:
        if not pasted.startswith("good:"):
            raise SSOError("that is not the address of the page you landed on",
                           hint="copy the whole address and paste it again")
        self._token = Token(pasted[5:], expires_in=3600, refresh_token="rt-" + pasted[5:], issuer=self.product,
                            user="ada")
        self.attempt += 1
        self._emit("signed_in")
        return self._token

    def refresh(self) -> Token:
        assert self._token is not None
        self._token = Token("refreshed-" + uuid.uuid4().hex, expires_in=3600, refresh_token="rt-" + uuid.uuid4().hex,
                            issuer=self.product, user="ada")
        self.refresh_count += 1
        self._emit("refreshed")
        return self._token

    def sign_out(self) -> None:
        had = self._token is not None
        self._token = None
        self.attempt += 1
        if had:
            self._emit("signed_out")


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


@pytest.fixture(autouse=True)
def probes_stay_on_loopback(monkeypatch):
    """The reachability check of a shown widget may only ever connect to loopback in these tests."""
    real = login_module.probe
    outside: list[str] = []

    def guarded(host: str, port: int, timeout: float = login_module.REACH_TIMEOUT) -> str | None:
        if not _loopback(host):
            outside.append(f"{host}:{port}")
            return "not checked in tests"
        return real(host, port, timeout)

    monkeypatch.setattr(login_module, "probe", guarded)
    yield outside
    assert not outside, f"a reachability check left loopback: {outside}"


@pytest.fixture
def closing():
    """Collects LoginWidgets/SessionsBars and closes them after the test (they live in the manager state)."""
    made: list[Any] = []
    yield made.append
    for thing in made:
        thing.close()


# -- structure ---------------------------------------------------------------------------------------------
def test_public_api_and_exports():
    import ucexplore.widgets as uw

    assert ux.login is login and ux.sessions is sessions
    assert {"login", "sessions"} <= set(uw.__all__)
    for name in uw.__all__:
        assert getattr(uw, name) is not None
    if importlib.util.find_spec("ucexplore.widgets.explorer") is None:
        with pytest.raises(AttributeError, match="Explorer"):
            uw.explore  # noqa: B018
    else:
        assert callable(uw.explore) and "explore" in uw.__all__


def test_composition_classes_link_and_password_box(closing):
    flow = ux.CucmSSO("https://cucm.example.com:8443", redirect_uri=CB)
    w = login(flow, tick=0, check=False)  # displayed below: no reachability check of a host off loopback
    closing(w)
    assert not isinstance(w, ipywidgets.Widget)  # composition: a plain class holding widgets
    for cls, attr in LOGIN_ATTRS.items():
        assert cls in getattr(w, attr)._dom_classes, cls
    assert isinstance(w._paste, ipywidgets.Password)
    assert w._paste._model_name == "PasswordModel" and w._paste._view_name == "PasswordView"
    link = w._open.value
    assert 'target="_blank"' in link and "noopener" in link and "Open sign-in page" in link
    assert f'href="{flow.authorize_url.replace("&", "&amp;")}"' in link
    assert "click <b>Copy</b> on the page you land on" in w._help.value
    assert w.token is None and not w.signed_in and w.error is None
    assert w.status_text == "Not signed in." and w._signout.disabled
    bundle = w._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == w.widget.model_id
    assert bundle["text/plain"] == repr(w) and "CucmSSO" in repr(w)


@pytest.mark.parametrize("product, words", [
    ("cucm", "click <b>Copy</b> on the page you land on"), ("unity", "click <b>Copy</b> on the page you land on"),
    ("finesse", "text the page shows"), ("webex", "one-time code"),
])
def test_instruction_per_product(product, words, closing):
    w = login(FakeFlow(product), tick=0)
    closing(w)
    assert words in w._help.value
    if product != "finesse":  # the lab's callback page has a Copy button and empties its address bar
        assert "Copy</b> on the page you land on" in w._help.value and "whole address" not in w._help.value


# -- sign-in, errors, sign-out -----------------------------------------------------------------------------
def test_click_signs_in_empties_box_and_shows_status(closing):
    flow = ux.CucmSSO("https://cucm.example.com:8443", redirect_uri=CB)
    w = login(flow, tick=0)
    closing(w)
    old_link = w._open.value
    w._paste.value = ""  # nothing pasted yet: the click explains what to do
    w._submit.click()
    assert w.token is None and "Nothing to sign in with" in (w.error or "")
    assert "Nothing to sign in with" in w._errors.value
    tok = w.submit(cucm_paste(state=flow.state))
    assert tok is not None and w.token is tok and w.signed_in and w.error is None and w._errors.value == ""
    assert w._paste.value == ""
    assert w.status_text.startswith("Signed in · issuer cucm at cucm.example.com:8443 · expires in ")
    assert w.status_text.endswith("no refresh token: sign in again when it expires")
    assert "Signed in" in w._status.value and not w._signout.disabled
    assert w._open.value != old_link  # a new attempt (new state) after the sign-in


def test_bad_paste_shows_error_in_widget_and_nothing_escapes(sent, closing):
    flow = ux.CucmSSO("https://cucm.example.com:8443", redirect_uri=CB)
    w = login(flow, tick=0)
    closing(w)
    bad = "https://app.example.com/cb#error=access_denied&error_description=User+cancelled"
    browser_sets(w._paste, value=bad)  # a paste arrives from the browser: read, emptied, tried
    assert w._paste.value == "" and w.token is None
    assert w.error and w.error.startswith("SSOError") and "ucx-error" in w._errors.value
    browser_clicks(w._submit)  # the click that follows keeps the error (the paste was already tried)
    assert w.error and "SSOError" in w._errors.value
    for junk in ("<html><body>Sign in</body></html>", "   ", "x" * 5, flow.authorize_url):
        assert w.submit(junk) is None
        assert w.error and w.token is None
    assert w.submit(cucm_paste(state=flow.state)) is not None and w.error is None
    assert all(bad not in json.dumps(data, default=str) for _kind, data in sent)


def test_browser_messages_paste_then_click(sent, closing):
    flow = ux.CucmSSO("https://cucm.example.com:8443", redirect_uri=CB)
    w = login(flow, tick=0)
    closing(w)
    secret = "MjpkZTkxYjNmYS0wYzU2LTQxMDMtOWQ3YS0xNmNhZTdhOGY0MmI"
    pasted = cucm_paste(secret, state=flow.state)
    start = len(sent)
    browser_sets(w._paste, value=pasted)
    assert w.token is not None and w.token.access_token == secret and w._paste.value == ""
    browser_clicks(w._submit)  # no-op: already signed in with that paste
    assert w.token.access_token == secret and w.error is None
    # the kernel told the browser to empty the box before anything else, and never echoed the paste back
    after = [d for kind, d in sent[start:] if kind == "send"]
    assert after[0] == {"method": "update", "state": {"value": ""}, "buffer_paths": []}
    assert not any(d.get("method") == "echo_update" for d in after)
    assert_no_secret({"messages": json.dumps(sent, default=str), "state": all_synced_text(*login_widgets(w)),
                      "repr": repr(w) + w.status_text},
                     {"token": secret, "pasted": pasted})
    browser_clicks(w._signout)
    assert w.token is None and w.status_text == "Not signed in." and w._signout.disabled
    assert flow.token is None


def test_sign_out_clears_token_and_status(closing):
    flow = FakeFlow()
    w = login(flow, tick=0)
    closing(w)
    w.submit("good:" + "a" * 30)
    assert "ada" in w.status_text and "refreshes at" in w.status_text
    w._signout.click()
    assert w.token is None and flow.token is None
    assert w.status_text == "Not signed in." and "ada" not in w._status.value and w._signout.disabled
    # signing out elsewhere (the sessions bar, code) updates the widget through on_change
    w.submit("good:" + "b" * 30)
    flow.sign_out()
    assert w.status_text == "Not signed in."


def test_expired_token_says_sign_in_again(closing):
    flow = FakeFlow()
    w = login(flow, tick=0)
    closing(w)
    flow._token = Token("an-old-token-0123456789", expires_in=3600, issued_at=0, user="ada", issuer="cucm")
    flow._emit("refreshed")
    assert w.status_text.startswith("Session as ada expired, sign in again · issuer cucm")
    assert "expired at" in w.status_text and "#c0392b" in w._status.value


def test_flow_events_update_status_and_repr_has_no_secret(closing):
    flow = FakeFlow()
    w = login(flow, tick=0)
    closing(w)
    w.submit("good:first-token-0123456789abcdef")
    before = w.renders
    new = flow.refresh()
    assert w.renders > before and w.token is new
    assert new.access_token not in repr(w) and "first-token" not in repr(w)
    assert "ada" in repr(w)


def test_unexpected_exception_in_flow_is_contained(closing):
    class Broken(FakeFlow):
        def complete(self, pasted: str) -> Token:
            raise RuntimeError(f"boom access_token={pasted}")

    w = login(Broken(), tick=0)
    closing(w)
    assert w.submit("good:the-pasted-secret-123456") is None
    assert w.error and "boom" in w.error and "the-pasted-secret" not in w.error
    assert "the-pasted-secret" not in w._errors.value


def test_close_detaches_and_closes_everything(closing):
    flow = FakeFlow()
    w = login(flow, tick=0)
    ids = [m.model_id for c in login_widgets(w) for m in (c, c.layout, getattr(c, "style", None)) if m is not None]
    assert any(isinstance(cb, login_module._WeakCallback) for cb in flow.on_change)
    w.close()
    w.close()  # idempotent
    assert w._repr_mimebundle_() == {"text/plain": repr(w)}  # displaying a closed widget shows its repr
    assert not any(isinstance(cb, login_module._WeakCallback) for cb in flow.on_change)
    state = ipywidgets.Widget.get_manager_state()["state"]
    assert not set(ids) & set(state)  # layouts and styles too: nothing of it is left to be saved
    flow.complete("good:" + "c" * 20)  # no error from a closed widget


# -- kernel loop: ticking and thread hand-off --------------------------------------------------------------
def test_status_ticks_on_the_running_loop_and_stops_on_close(monkeypatch):
    async def main() -> None:
        flow = FakeFlow()
        w = login(flow, tick=0.01)
        w.submit("good:" + "d" * 30)
        task = w._kernel.task
        assert task is not None and not task.done()
        first = w.status_text
        import ucexplore.auth.token as token_module

        real = token_module.time.time
        monkeypatch.setattr(token_module.time, "time", lambda: real() + 1800)  # half an hour later
        for _ in range(500):
            await asyncio.sleep(0.01)
            if w.status_text != first:
                break
        assert w.status_text != first and "expires in 29 min" in w.status_text
        monkeypatch.undo()
        w.close()
        for _ in range(100):
            if task.done():
                break
            await asyncio.sleep(0.01)
        assert task.cancelled()
        assert w._kernel.task is None

    asyncio.run(main())


def test_no_loop_means_no_ticker(closing):
    w = login(FakeFlow())
    closing(w)
    assert w._kernel.task is None  # a script or test without an event loop: nothing scheduled


def test_on_change_from_a_worker_thread_is_handed_to_the_loop():
    async def main() -> None:
        flow = FakeFlow()
        w = login(flow, tick=0)
        touched: list[int] = []
        w._status.observe(lambda change: touched.append(threading.get_ident()), names="value")
        worker = threading.Thread(target=flow.complete, args=("good:" + "e" * 30,))
        worker.start()
        worker.join()
        assert touched == []  # the worker thread did not touch the widget
        for _ in range(100):
            await asyncio.sleep(0.01)
            if touched:
                break
        assert touched == [threading.get_ident()] and "ada" in w.status_text
        w.close()

    asyncio.run(main())


# -- sessions bar -------------------------------------------------------------------------------------------
def test_sessions_bar_rows_refresh_and_sign_out(closing):
    a, b = FakeFlow("cucm"), FakeFlow("webex")
    register_flow(a)
    bar = sessions(b, tick=0)
    closing(bar)
    assert a in registered_flows() and b in registered_flows()
    assert "ucx-sessions" in bar.widget._dom_classes

    def mine() -> dict[str, dict[str, Any]]:
        return {r["product"]: r for r in bar.rows if r["host"] in (a.host, b.host)}

    assert mine() == {}
    a.complete("good:" + "f" * 30)
    assert set(mine()) == {"cucm"}
    row = mine()["cucm"]
    assert row["user"] == "ada" and row["state"] == "signed_in" and row["expires"].startswith("expires in")
    assert "not refreshed yet" in row["last_refresh"] and row["refreshes_at"]
    assert "sign in again" not in row["expires"]  # a refreshable token: the refresh information instead
    b.complete("good:" + "g" * 30)
    b.refresh()
    assert set(mine()) == {"cucm", "webex"} and "(1×)" in mine()["webex"]["last_refresh"]
    row_boxes = [c for c in bar.widget.children if "ucx-session-row" in c._dom_classes]
    assert len(row_boxes) == len(bar.rows)
    webex_row = next(c for c in row_boxes if "ucx-session-webex" in c._dom_classes and b.host in c.children[0].value)
    button = webex_row.children[1]
    assert "ucx-session-signout" in button._dom_classes
    browser_clicks(button)
    assert b.token is None and set(mine()) == {"cucm"}
    assert webex_row.comm is None  # the row was closed, so it leaves the saved state
    a.sign_out()
    assert mine() == {}


def test_sessions_bar_sees_flows_registered_later_and_login_widget_registers(closing):
    bar = sessions(tick=0)
    closing(bar)
    flow = FakeFlow("finesse")
    w = login(flow, tick=0)
    closing(w)
    assert flow in registered_flows()
    w.submit("good:" + "h" * 30)
    assert any(r["host"] == flow.host for r in bar.rows)
    assert "finesse:ada" in repr(bar)
    w._signout.click()
    assert all(r["host"] != flow.host for r in bar.rows)


def test_registry_is_weak():
    import gc
    import weakref

    flow = FakeFlow()
    register_flow(flow)
    register_flow(flow)  # once only
    assert sum(f is flow for f in registered_flows()) == 1
    ref = weakref.ref(flow)
    del flow
    gc.collect()
    assert ref() is None  # the registry kept nothing alive
    assert all(isinstance(f, object) for f in registered_flows())  # the dead entry is pruned without error


# -- Run All before sign-in -------------------------------------------------------------------------------
def test_data_calls_before_sign_in_raise_a_renderable_not_signed_in(closing):
    flow = ux.CucmSSO("https://cucm.example.com:8443", redirect_uri=CB)
    closing(login(flow, tick=0))
    with pytest.raises(NotSignedIn) as info:
        flow.ensure_fresh()
    assert "ux.login(flow)" in str(info.value)
    rendered = info.value._repr_html_()
    assert "NotSignedIn" in rendered and "ux.login(flow)" in rendered


# -- real sign-ins against the lab: no secret anywhere the browser or the notebook file can see ----------
@pytest.fixture(scope="module")
def widget_lab():
    """The lab products that exist in this checkout (all of them once every lab app has landed)."""
    from ucexplore.lab import start
    from ucexplore.lab.config import PRODUCTS

    products = tuple(p for p in PRODUCTS
                     if p == "idp" or importlib.util.find_spec(f"ucexplore.lab.{p}") is not None)
    with start(users=40, seed=5, products=products) as lab:
        yield lab


def _make_flow(lab: Any, product: str) -> Any:
    if product not in lab.urls:
        pytest.skip(f"the lab's {product} app is not in this checkout yet")
    if product == "cucm":
        return ux.CucmSSO(lab.urls["cucm"], redirect_uri=lab.redirect_uri)
    if product == "unity":
        return ux.UnitySSO(lab.urls["unity"], redirect_uri=lab.redirect_uri)
    if product == "finesse":
        return ux.FinesseSSO(lab.urls["finesse"], agent_id=lab.demo_user[0])
    return ux.WebexOAuth(lab.webex_client_id, client_secret=lab.webex_client_secret,
                         redirect_uri=lab.redirect_uri, base_url=lab.urls["webex"] + "/v1")


def _secrets_of(product: str, flow: Any, landed: str, password: str) -> dict[str, str | None]:
    tok = flow.token
    found: dict[str, str | None] = {"access token": tok.access_token, "refresh token": tok.refresh_token,
                                    "pasted text": landed, "password": password}
    if product == "webex":
        found["code"] = parse_qs(urlsplit(landed).query)["code"][0]
        found["pkce verifier"] = getattr(flow, "_code_verifier", None)
        found["client secret"] = getattr(flow, "_client_secret", None)
    return found


@pytest.mark.parametrize("product", ["cucm", "unity", "finesse", "webex"])
def test_lab_sign_in_leaves_no_secret_in_synced_state(product, widget_lab, sent, closing):
    from ucexplore.lab.person import Person

    flow = _make_flow(widget_lab, product)
    user, password = widget_lab.demo_user
    w = login(flow, tick=0)
    closing(w)
    bar = sessions(tick=0)
    closing(bar)
    with Person(user, password) as person:
        landed = person.sign_in(flow.authorize_url)
    browser_sets(w._paste, value=landed)  # exactly what the browser sends on paste
    browser_clicks(w._submit)
    assert w.error is None, w.error
    tok = w.token
    assert tok is not None and w.signed_in and w._paste.value == ""
    issuer = widget_lab.ctx.issuers[product]
    grant = issuer.validate(tok.access_token)
    assert grant is not None and grant.subject == user
    if tok.user:
        assert w.status_text.startswith(f"Signed in as {tok.user} · ")
    assert w.status_text.startswith("Signed in") and f"issuer {product} at" in w.status_text
    assert any(r["product"] == product and r["state"] == "signed_in" for r in bar.rows)
    if product in ("finesse", "webex"):
        assert tok.refreshable and "refreshes at" in w.status_text

    own = login_widgets(w) + [bar.widget, *bar.widget.children]
    haystacks = {
        "manager state + widget states": all_synced_text(*own),
        "messages to the browser": json.dumps(sent, default=str),
        "repr/status": repr(w) + w.status_text + repr(bar) + json.dumps(bar.rows),
        "display bundle": json.dumps(w._repr_mimebundle_()) + json.dumps(bar._repr_mimebundle_()),
        "widget values": "".join(str(getattr(c, "value", "")) for c in own),
    }
    assert_no_secret(haystacks, _secrets_of(product, flow, landed, password))

    # signing out from the bar clears both
    row = next(c for c in bar.widget.children if f"ucx-session-{product}" in c._dom_classes)
    browser_clicks(row.children[1])
    assert w.token is None and w.status_text == "Not signed in." and flow.token is None


# -- "First contact": every ordinary mistake gets one short message that says what to do next --------------
def _refused_port() -> int:
    """A loopback port nobody listens on: bound, then closed again."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def _lab_landed(lab: Any, flow: Any) -> str:
    """The address (or page text) a person's browser lands on after signing in through the lab IdP."""
    from ucexplore.lab.person import Person

    with Person(*lab.demo_user) as person:
        return person.sign_in(flow.authorize_url)


def _one_short_message(w: LoginWidget) -> None:
    assert w.error, "no message shown"
    lines = [line for line in w.error.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 3, lines  # what happened, and at most two "what to do" lines
    assert "Traceback" not in w.error and "Traceback" not in w._errors.value
    assert "ucx-error" in w._errors.value
    assert not w.status_text.startswith("Signed in") and "Signed in" not in w._status.value


def test_fragment_less_paste_says_to_use_the_copy_button(widget_lab, closing):
    flow = _make_flow(widget_lab, "cucm")
    w = login(flow, tick=0)
    closing(w)
    landed = _lab_landed(widget_lab, flow)
    # what the address bar shows once the lab's callback page has read the token and removed the fragment
    address_bar = landed.split("#", 1)[0]
    assert address_bar == widget_lab.redirect_uri
    browser_sets(w._paste, value=address_bar)
    _one_short_message(w)
    assert "carries no sign-in result" in w.error
    assert "click Copy on that page, then paste here" in w.error and "browsers hide" not in w.error
    assert "click Copy on that page" in w._errors.value
    # the Copy button's text signs in
    browser_sets(w._paste, value=landed)
    assert w.signed_in and w.error is None and w.status_text.startswith("Signed in")


def test_cut_off_paste_is_refused_and_never_says_signed_in(widget_lab, closing):
    flow = _make_flow(widget_lab, "cucm")
    w = login(flow, tick=0)
    closing(w)
    landed = _lab_landed(widget_lab, flow)
    start = landed.index("access_token=") + len("access_token=")
    token_end = landed.index("&", start)
    # cut right after the token (the parser's "cut off" case), and at every few characters after the '#'
    cuts = [token_end, *range(landed.index("#") + 1, len(landed) - 1, 7)]
    for cut in cuts:
        browser_sets(w._paste, value=landed[:cut])
        assert w.token is None and not w.signed_in, cut
        _one_short_message(w)
        assert w.status_text == "Not signed in."
    browser_sets(w._paste, value=landed[:token_end])
    assert "the address was cut off; copy it again with the Copy button" in w.error
    assert "cut off" in w._errors.value and "Copy button" in w._errors.value
    browser_sets(w._paste, value=landed)
    assert w.signed_in and w.error is None


def test_paste_into_the_wrong_products_widget_names_the_right_one(widget_lab, closing):
    cucm, unity = _make_flow(widget_lab, "cucm"), _make_flow(widget_lab, "unity")
    w_cucm, w_unity = login(cucm, tick=0), login(unity, tick=0)
    closing(w_cucm)
    closing(w_unity)
    unity_landed = _lab_landed(widget_lab, unity)
    browser_sets(w_cucm._paste, value=unity_landed)  # the Unity address, pasted into the CUCM widget
    _one_short_message(w_cucm)
    assert f"that is the Unity Connection sign-in result ({unity.host}), not one for CUCM" in w_cucm.error
    assert "paste it into the Unity Connection sign-in widget" in w_cucm.error
    assert cucm.token is None and unity.token is None  # nothing was signed in, nothing consumed
    browser_sets(w_unity._paste, value=unity_landed)
    assert w_unity.signed_in and w_unity.error is None
    unity.sign_out()


@pytest.mark.parametrize("mistake", ["empty", "spaces", "sign-in link", "finesse json", "webex address",
                                     "words"])
def test_ordinary_mistakes_give_one_short_message(mistake, widget_lab, closing, caplog):
    flow = _make_flow(widget_lab, "cucm")
    w = login(flow, tick=0)
    closing(w)
    pasted = {
        "empty": "",
        "spaces": "   \n ",
        "sign-in link": flow.authorize_url,
        "finesse json": '{"token":"eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiYWRhIn0.c2lnbmF0dXJlLXRleHQ",'
                        '"expires_in":3600}',
        "webex address": f"{widget_lab.redirect_uri}?code=NmE1ZjAzYTItYzBmNy00ZGYz&state=abcdefgh",
        "words": "I could not find the address",
    }[mistake]
    with caplog.at_level("WARNING"):
        if pasted:
            browser_sets(w._paste, value=pasted)  # nothing raises out of the browser's message
        browser_clicks(w._submit)
    _one_short_message(w)
    assert not [r for r in caplog.records if "Exception in callback" in r.getMessage()]
    if mistake in ("empty", "spaces"):
        assert w.error == ("Nothing to sign in with: open the sign-in page, sign in, then click Copy on the page "
                           "you land on and paste here.")


def test_unreachable_sign_in_host_is_said_in_the_widget(closing, monkeypatch):
    import time

    port = _refused_port()
    flow = ux.CucmSSO(f"https://127.0.0.1:{port}", redirect_uri=CB)
    w = login(flow, tick=0)
    closing(w)
    assert w.unreachable is None and w._reach.value == ""  # nothing is checked before the widget is shown
    started = time.monotonic()
    bundle = w._repr_mimebundle_()  # the cell shows the widget: the check runs in the background
    assert time.monotonic() - started < 0.5 and "application/vnd.jupyter.widget-view+json" in bundle
    assert w._reach_done.wait(10)
    expected = f"Cannot reach 127.0.0.1:{port} (connection refused): check the URL, the VPN, or start the lab"
    assert w.unreachable == expected
    assert f"Cannot reach 127.0.0.1:{port}</b> (connection refused)" in w._reach.value
    assert "start the lab" in w._reach.value and "ucx-warning" in w._reach.value
    # the sign-in link stays usable
    assert f'href="{flow.authorize_url.replace("&", "&amp;")}"' in w._open.value
    # a slow host never holds up the cell either
    slow = threading.Event()
    monkeypatch.setattr(login_module, "probe", lambda host, port, timeout=2.0: slow.wait(5) and None)
    started = time.monotonic()
    w._repr_mimebundle_()
    assert time.monotonic() - started < 0.5
    slow.set()


def test_reachability_check_sends_nothing_and_clears_once_the_server_is_up(closing):
    import socket

    port = _refused_port()
    flow = ux.CucmSSO(f"https://127.0.0.1:{port}", redirect_uri=CB)
    w = login(flow, tick=0)
    closing(w)
    assert "connection refused" in (w.check_reachability(wait=True) or "")
    # the server comes up on that port: the next tick checks again, and nothing at all is sent to it
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(1)
        w._reach_done.clear()
        w._on_tick()
        assert w._reach_done.wait(10) and w.unreachable is None and w._reach.value == ""
        conn, _ = server.accept()
        with conn:
            conn.settimeout(5)
            assert conn.recv(1024) == b""  # opened and closed: no request, no credential


def test_reachability_against_the_lab_shows_nothing(widget_lab, closing):
    for product in ("cucm", "finesse", "webex"):
        flow = _make_flow(widget_lab, product)
        w = login(flow, tick=0)
        closing(w)
        w._repr_mimebundle_()
        assert w._reach_done.wait(10), product
        assert w.unreachable is None and w._reach.value == "", product


def test_reachability_result_is_shown_on_the_kernel_loop_thread():
    async def main() -> None:
        flow = ux.CucmSSO(f"https://127.0.0.1:{_refused_port()}", redirect_uri=CB)
        w = login(flow, tick=0)
        touched: list[int] = []
        w._reach.observe(lambda change: touched.append(threading.get_ident()), names="value")
        w._repr_mimebundle_()
        for _ in range(500):
            await asyncio.sleep(0.01)
            if touched:
                break
        assert touched == [threading.get_ident()] and "connection refused" in (w.unreachable or "")
        w.close()

    asyncio.run(main())


def test_sessions_bar_says_when_a_token_that_cannot_refresh_expires(widget_lab, closing):
    cucm = _make_flow(widget_lab, "cucm")
    finesse = _make_flow(widget_lab, "finesse")
    w_cucm, w_finesse = login(cucm, tick=0), login(finesse, tick=0)
    closing(w_cucm)
    closing(w_finesse)
    bar = sessions(tick=0)
    closing(bar)
    for w, flow in ((w_cucm, cucm), (w_finesse, finesse)):
        assert w.submit(_lab_landed(widget_lab, flow)) is not None, w.error
    rows = {r["product"]: r for r in bar.rows if r["host"] in (cucm.host, finesse.host)}
    row = rows["cucm"]  # an implicit-grant token: it never refreshes
    assert "not refreshed yet" not in row["last_refresh"] and row["last_refresh"].startswith("signed in ")
    assert row["expires"].startswith("expires in ") and row["expires"].endswith("— sign in again then")
    assert row["refreshes_at"] is None
    info = next(c for c in bar.widget.children if "ucx-session-cucm" in c._dom_classes).children[0].value
    assert "sign in again then" in info and "not refreshed yet" not in info
    row = rows["finesse"]  # refreshable: the refresh information stays
    assert "not refreshed yet" in row["last_refresh"] and row["refreshes_at"]
    assert "sign in again" not in row["expires"]
    cucm.sign_out()
    finesse.sign_out()


def test_long_lines_wrap(closing):
    w = login(FakeFlow(), tick=0)
    closing(w)
    w.submit("not good")
    for part in (w._help, w._status, w._errors):
        assert "white-space:normal" in part.value and "overflow-wrap:anywhere" in part.value, part
    assert w._help.layout.min_width == "0"
