"""The sign-in flows: URLs, complete(), refresh through the transport, single-flight refresh, hooks, repr.

HTTP parts run against a small Starlette token server on uvicorn (127.0.0.1, free port, daemon thread) that
counts requests server-side. End-to-end tests against the lab come separately.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

import ucexplore.auth.flows.base as flow_base
from ucexplore.auth import SignInFlow, resolve_auth
from ucexplore.auth.flows import (DEVNET_CLIENT_ID, CucmSSO, FinesseSSO, UnitySSO, WebexOAuth, flow_for,
                                  pkce_challenge)
from ucexplore.auth.token import Token
from ucexplore.errors import NotSignedIn, SSOError, TokenExpired, UcError
from ucexplore.transport import worker_loop

# =============================================================================================================
# the test token server
# =============================================================================================================


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


@dataclass
class _State:
    finesse_refresh: dict[str, str] = field(default_factory=dict)  # refresh token -> user
    webex_refresh: set[str] = field(default_factory=set)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    forms: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)  # (path, form, headers)
    hits: dict[str, int] = field(default_factory=dict)
    finesse_mode: str = "rotate"  # rotate | keep | html | error
    webex_mode: str = "rotate"  # rotate | keep
    expires_in: int = 300
    issued: list[str] = field(default_factory=list)


class TokenServer:
    """Start with ``TokenServer().start()``; ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self) -> None:
        self.state = _State()
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.gate.set()
        self.received = threading.Event()
        self.app = Starlette(routes=[
            Route("/desktop/sso/token", self.finesse_token, methods=["GET", "POST"]),
            Route("/v1/access_token", self.webex_token, methods=["POST"]),
        ])
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.url = ""

    # -- life cycle ---------------------------------------------------------------------------------------
    def start(self) -> "TokenServer":
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="auth-token-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60  # liveness bound only, never an assertion on speed
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test token server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self.gate.set()
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(30)

    def reset(self) -> None:
        with self.lock:
            self.state = _State()
        self.gate.set()
        self.received.clear()

    # -- helpers for tests ------------------------------------------------------------------------------
    def hits(self, key: str) -> int:
        with self.lock:
            return self.state.hits.get(key, 0)

    def _hit(self, key: str) -> None:
        with self.lock:
            self.state.hits[key] = self.state.hits.get(key, 0) + 1

    def new_token(self, prefix: str) -> str:
        tok = prefix + secrets.token_urlsafe(32)
        with self.lock:
            self.state.issued.append(tok)
        return tok

    def finesse_refresh_token(self, user: str = "1001001") -> str:
        tok = self.new_token("fr-")
        with self.lock:
            self.state.finesse_refresh[tok] = user
        return tok

    def webex_refresh_token(self) -> str:
        tok = self.new_token("wr-")
        with self.lock:
            self.state.webex_refresh.add(tok)
        return tok

    def authorize(self, authorize_url: str) -> str:
        """What the browser + IdP would do: register a code bound to the URL's client, redirect and PKCE."""
        from urllib.parse import parse_qs, urlsplit

        q = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.state.codes[code] = q
        return code

    async def _hold(self) -> None:
        self.received.set()
        if not self.gate.is_set():
            await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, 60)

    # -- Finesse -----------------------------------------------------------------------------------------
    async def finesse_token(self, request: Request) -> Response:
        if request.method == "GET":
            self._hit("finesse_get")
            return JSONResponse({"detail": "browser flow not emulated here"}, status_code=400)
        form = dict(await request.form())
        with self.lock:
            self.state.forms.append((request.url.path, form, dict(request.headers)))
        self._hit("finesse_refresh")
        await self._hold()
        mode = self.state.finesse_mode
        if mode == "html":
            return HTMLResponse("<!doctype html><html><body><form method=post>IdP login</form></body></html>")
        if mode == "error":
            return JSONResponse({"error": "server_error"}, status_code=500)
        refresh = form.get("refresh-token", "")
        with self.lock:
            user = self.state.finesse_refresh.pop(refresh, None)
        if user is None or not form.get("token"):
            return JSONResponse({"error": "invalid_grant", "error_description": "refresh token unknown"},
                                status_code=401)
        body: dict[str, Any] = {"token": self.new_token("fa-"), "expires_in": self.state.expires_in,
                                "user_id": user, "realm": "finesse.test"}
        if mode == "rotate":
            new_refresh = self.finesse_refresh_token(user)
            body["refresh_token"] = new_refresh
        else:  # keep: the same refresh token stays valid, the response carries none
            with self.lock:
                self.state.finesse_refresh[refresh] = user
        return JSONResponse(body)

    # -- Webex -------------------------------------------------------------------------------------------
    async def webex_token(self, request: Request) -> Response:
        form = dict(await request.form())
        with self.lock:
            self.state.forms.append((request.url.path, form, dict(request.headers)))
        grant = form.get("grant_type")
        self._hit(f"webex_{grant}")
        if grant == "authorization_code":
            with self.lock:
                entry = self.state.codes.pop(form.get("code", ""), None)
            if entry is None:
                return JSONResponse({"message": "The authorization code is invalid",
                                     "errors": [{"description": "invalid code"}], "trackingId": "ROUTER_T1"},
                                    status_code=400)
            if (form.get("client_id") != entry.get("client_id")
                    or form.get("redirect_uri") != entry.get("redirect_uri")
                    or entry.get("code_challenge_method") != "S256"
                    or _s256(form.get("code_verifier", "")) != entry.get("code_challenge")):
                return JSONResponse({"message": "PKCE or client mismatch", "trackingId": "ROUTER_T2"},
                                    status_code=400)
            return JSONResponse({"access_token": self.new_token("wa-"), "expires_in": 1209599,
                                 "refresh_token": self.webex_refresh_token(), "refresh_token_expires_in": 7775999,
                                 "token_type": "Bearer"})
        if grant == "refresh_token":
            await self._hold()
            refresh = form.get("refresh_token", "")
            with self.lock:
                ok = refresh in self.state.webex_refresh
                if ok and self.state.webex_mode == "rotate":
                    self.state.webex_refresh.discard(refresh)
            if not ok:
                return JSONResponse({"message": "Invalid refresh token", "trackingId": "ROUTER_T3"}, status_code=400)
            body = {"access_token": self.new_token("wa-"), "expires_in": 1209599, "token_type": "Bearer"}
            if self.state.webex_mode == "rotate":
                body.update(refresh_token=self.webex_refresh_token(), refresh_token_expires_in=7775999)
            return JSONResponse(body)
        return JSONResponse({"message": "unsupported grant_type"}, status_code=400)


@pytest.fixture(scope="module")
def server():
    srv = TokenServer().start()
    yield srv
    srv.stop()


@pytest.fixture()
def srv(server):
    server.reset()
    yield server
    server.gate.set()


CB = "https://app.example.com/cb"
CUCM = "https://cucm.example.com:8443"
TOKEN = "MjpkZTkxYjNmYS0wYzU2LTQxMDMtOWQ3YS0xNmNhZTdhOGY0MmI"
TOKEN2 = "MjpjMTAzNDk4NC0wYzU2LTQxMDMtOWQ3YS0xNmNhZTdhOGY0Mm"


def landed(flow, token: str = TOKEN, extra: str = "") -> str:
    """What the browser lands on after a CUCM/Unity sign-in with ``flow``: its redirect URI, this attempt's state."""
    return f"{flow.redirect_uri}#access_token={token}&token_type=Bearer&expires_in=3600{extra}&state={flow.state}"


def webex_landed(flow, code: str) -> str:
    """What the browser lands on after a Webex sign-in with ``flow``: ``?code=…&state=…`` at its redirect URI."""
    return f"{flow.redirect_uri}?code={code}&state={flow.state}"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def due_token(access: str, refresh: str | None, *, issuer: str, user: str | None = None,
              lifetime: float = 100.0, elapsed: float = 80.0) -> Token:
    """A token 80 % through its life: needs a refresh, not expired (no waiting in tests)."""
    return Token(access, expires_in=lifetime, issued_at=time.time() - elapsed, refresh_token=refresh,
                 issuer=issuer, user=user)


def run(coro):
    return asyncio.run(coro)


# =============================================================================================================
# CUCM / Unity: implicit grant
# =============================================================================================================


def test_cucm_authorize_url_is_exact():
    flow = CucmSSO(CUCM + "/", redirect_uri=CB)
    url = flow.authorize_url
    assert url.startswith(f"{CUCM}/ssosp/oauth/authorize?scope=UnifiedCommunications:readwrite&response_type=token"
                          f"&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&client_id={DEVNET_CLIENT_ID}&state=")
    q = query_of(url)
    assert list(q) == ["scope", "response_type", "redirect_uri", "client_id", "state"]
    assert q["redirect_uri"] == CB and q["client_id"] == DEVNET_CLIENT_ID
    assert q["state"] == flow.state and len(flow.state) >= 16
    assert url == flow.authorize_url, "stable until completed or new_attempt()"
    assert CucmSSO(CUCM, redirect_uri=CB).state != flow.state, "state is random per flow"
    old = flow.state
    assert flow.new_attempt() != url and flow.state != old


def test_cucm_custom_client_and_scope():
    flow = CucmSSO(CUCM, CB, client_id="C41eb545", scope="UnifiedCommunications:readwrite openid")
    q = query_of(flow.authorize_url)
    assert q["client_id"] == "C41eb545" and q["scope"] == "UnifiedCommunications:readwrite openid"


def test_cucm_needs_a_redirect_uri_and_a_url():
    with pytest.raises(ValueError, match="Redirect URIs for Third Party SSO Client"):
        CucmSSO(CUCM)
    with pytest.raises(ValueError, match="https://"):
        CucmSSO("cucm.example.com", redirect_uri=CB)


def test_cucm_complete_from_the_redirect_url():
    flow = CucmSSO(CUCM, redirect_uri=CB)
    events = []
    flow.on_change.append(lambda event, f: events.append((event, f is flow)))
    tok = flow.complete(f"  '{CB}#access_token={TOKEN}&token_type=Bearer&expires_in=1800&state={flow.state}' ")
    assert tok.access_token == TOKEN and tok.issuer == "cucm" and round(tok.lifetime) == 1800
    assert flow.token is tok and flow.signed_in
    assert events == [("signed_in", True)]
    assert not tok.refreshable


def test_cucm_lifetime_defaults_to_3600():
    flow = CucmSSO(CUCM, redirect_uri=CB)
    assert round(flow.complete(f"{CB}#access_token={TOKEN}&token_type=Bearer&state={flow.state}").lifetime) == 3600


def test_cucm_state_mismatch_and_absence_are_refused_unless_opted_out():
    # changed: an address without state used to be accepted ("CUCM may not echo state"); RFC 6749 §4.2.2 says
    # it must, so absence is refused unless the flow was built with require_state=False
    flow = CucmSSO(CUCM, redirect_uri=CB)
    with pytest.raises(SSOError, match="different sign-in attempt") as exc:
        flow.complete(f"{CB}#access_token={TOKEN}&state=not-{flow.state}")
    assert TOKEN not in str(exc.value) and flow.token is None
    with pytest.raises(SSOError, match="has no state") as exc:
        flow.complete(f"{CB}#access_token={TOKEN}&expires_in=3600")
    assert "require_state=False" in str(exc.value) and flow.token is None
    lax = CucmSSO(CUCM, redirect_uri=CB, require_state=False)
    assert lax.complete(f"{CB}#access_token={TOKEN}&expires_in=3600").access_token == TOKEN
    assert "require_state=False" in repr(lax) and "require_state" not in repr(flow)
    with pytest.raises(SSOError, match="different sign-in attempt"):
        CucmSSO(CUCM, redirect_uri=CB, require_state=False).complete(f"{CB}#access_token={TOKEN}&state=forged")


def test_cucm_state_rotates_after_sign_in_and_a_double_paste_is_harmless():
    flow = CucmSSO(CUCM, redirect_uri=CB)
    pasted = f"{CB}#access_token={TOKEN}&state={flow.state}"
    first_state = flow.state
    tok = flow.complete(pasted)
    assert flow.state != first_state
    assert flow.complete(pasted) is tok  # the same address twice (double click) gives the same token
    with pytest.raises(SSOError, match="different sign-in attempt"):  # but a new token from an old attempt fails
        flow.complete(f"{CB}#access_token={TOKEN2}&state={first_state}")


def test_cucm_refuses_the_sign_in_url_and_webex_codes():
    flow = CucmSSO(CUCM, redirect_uri=CB)
    with pytest.raises(SSOError, match="sign-in link itself"):
        flow.complete(flow.authorize_url)
    with pytest.raises(SSOError, match="authorization code"):
        flow.complete(f"{CB}?code={TOKEN}&state={flow.state}")


def test_not_signed_in_points_at_login():
    flow = CucmSSO(CUCM, redirect_uri=CB)
    with pytest.raises(NotSignedIn) as exc:
        run(flow.ensure_fresh_async())
    assert "ux.login(flow)" in str(exc.value) and "CUCM is not signed in" in str(exc.value)
    with pytest.raises(NotSignedIn):
        flow.ensure_fresh()


def test_cucm_token_is_used_until_expiry_then_sign_in_again():
    flow = CucmSSO(CUCM, redirect_uri=CB)
    due = due_token(TOKEN, None, issuer="cucm")
    flow.use_token(due)
    assert run(flow.ensure_fresh_async()) is due  # 80 % through its life: cannot refresh, still valid
    assert flow.ensure_fresh() is due
    expired = Token(TOKEN2, expires_in=60, issued_at=time.time() - 120, issuer="cucm")
    flow.use_token(expired)
    assert not flow.signed_in
    with pytest.raises(TokenExpired) as exc:
        run(flow.ensure_fresh_async())
    msg = str(exc.value)
    assert "cannot be refreshed" in msg
    # the hint names what to run as a notebook shows it, and where the sign-in page is — not a long URL
    assert flow.authorize_url not in msg and "flow.authorize_url" in msg
    assert "flow.complete" in msg and "ux.login(flow)" in msg and "sign_in(flow)" in msg
    assert TOKEN2 not in msg
    with pytest.raises(TokenExpired):
        flow.ensure_fresh()
    with pytest.raises(TokenExpired, match="cannot be refreshed"):
        flow.refresh()


def test_cucm_after_401():
    flow = CucmSSO(CUCM, redirect_uri=CB)
    assert run(flow.refresh_after_401_async(Token(TOKEN))) is None  # not signed in
    old = flow.use_token(Token(TOKEN, expires_in=3600))
    assert run(flow.refresh_after_401_async(old)) is None  # implicit tokens cannot be refreshed
    new = flow.use_token(Token(TOKEN2, expires_in=3600))
    assert run(flow.refresh_after_401_async(old)) is new  # someone already signed in again: retry with it


def test_sign_out_forgets_and_notifies():
    flow = CucmSSO(CUCM, redirect_uri=CB)
    events = []
    flow.on_change.append(lambda event, f: events.append(event))
    flow.complete(f"#access_token={TOKEN}&state={flow.state}")
    gen = flow.generation
    flow.sign_out()
    assert flow.token is None and not flow.signed_in and flow.generation > gen
    assert events == ["signed_in", "signed_out"]
    flow.sign_out()  # twice: no second event
    assert events == ["signed_in", "signed_out"]
    with pytest.raises(NotSignedIn):
        run(flow.ensure_fresh_async())


def test_a_broken_callback_does_not_break_sign_in(caplog):
    flow = CucmSSO(CUCM, redirect_uri=CB)
    seen = []

    def broken(event, f):
        raise RuntimeError("widget bug")

    flow.on_change.extend([broken, lambda event, f: seen.append(event)])
    flow.complete(landed(flow))
    assert seen == ["signed_in"] and flow.signed_in
    assert "on_change callback" in caplog.text


def test_unity_is_the_same_shape_with_its_own_issuer():
    flow = UnitySSO("https://cuc.example.com/", redirect_uri=CB)
    assert flow.authorize_url.startswith("https://cuc.example.com/ssosp/oauth/authorize?scope=")
    tok = flow.complete(f"{CB}#access_token={TOKEN}&expires_in=600&state={flow.state}")
    assert tok.issuer == "unity" and flow.product == "unity"
    assert "Unity Connection" in flow.sign_in_hint()
    assert flow_for("unity") is UnitySSO and flow_for(" CUCM ") is CucmSSO
    with pytest.raises(ValueError):
        flow_for("axl")


def test_complete_async_twin():
    flow = CucmSSO(CUCM, redirect_uri=CB)
    assert run(flow.complete_async(f"#access_token={TOKEN}&state={flow.state}")).access_token == TOKEN


def test_flows_satisfy_the_transport_protocol():
    flow = CucmSSO(CUCM, redirect_uri=CB)
    assert isinstance(flow, SignInFlow)
    creds = resolve_auth(flow)
    assert creds.kind == "bearer"
    with pytest.raises(NotSignedIn):
        run(creds.authorization())
    flow.complete(landed(flow))
    assert run(creds.authorization()) == f"Bearer {TOKEN}"
    for f in (UnitySSO(CUCM, CB), FinesseSSO(CUCM, agent_id="1"), WebexOAuth("C1", redirect_uri=CB)):
        assert isinstance(f, SignInFlow)


def test_repr_shows_who_and_when_never_secrets():
    flow = CucmSSO(CUCM, redirect_uri=CB)
    assert repr(flow) == "<CucmSSO cucm cucm.example.com:8443 not signed in>"
    flow.use_token(Token(TOKEN, expires_in=3600, user="jdoe"))
    text = repr(flow)
    assert "cucm.example.com:8443" in text and "'jdoe'" in text and "expires 20" in text and "signed in" in text
    assert TOKEN not in text and TOKEN not in str(flow) and TOKEN not in str(flow.describe())


def test_use_token_from_a_string():
    flow = UnitySSO(CUCM, redirect_uri=CB)
    tok = flow.use_token(f"  {TOKEN}  ")
    assert tok.access_token == TOKEN and tok.issuer == "unity" and flow.token is tok
    with pytest.raises(TypeError):
        flow.use_token(42)  # type: ignore[arg-type]


# =============================================================================================================
# Finesse
# =============================================================================================================

FINESSE = "https://finesse.example.com:8445"


def finesse_json(token: str, refresh: str | None, *, expires_in: int = 300, user: str = "1001001") -> str:
    body: dict[str, Any] = {"token": token, "expires_in": expires_in, "user_id": user, "realm": "finesse.com",
                            "user_principal": f"{user}@finesse.com"}
    if refresh:
        body["refresh_token"] = refresh
    return json.dumps(body)


def test_finesse_authorize_url_is_exact():
    flow = FinesseSSO(FINESSE + "/", agent_id="1001001")
    assert flow.authorize_url == f"{FINESSE}/desktop/sso/token?cc_username=1001001&return_refresh_token=true"
    spaced = FinesseSSO(FINESSE, agent_id="j doe").authorize_url
    assert spaced.endswith("cc_username=j%20doe&return_refresh_token=true")
    assert FinesseSSO(FINESSE).authorize_url == f"{FINESSE}/desktop/sso/token?return_refresh_token=true"


def test_finesse_complete_reads_the_json():
    flow = FinesseSSO(FINESSE, agent_id="1001001")
    tok = flow.complete(json.dumps(json.loads(finesse_json(TOKEN, TOKEN2, user="sjefferson")), indent=2))
    assert (tok.access_token, tok.refresh_token, tok.user, tok.issuer) == (TOKEN, TOKEN2, "sjefferson", "finesse")
    assert round(tok.lifetime) == 300 and flow.signed_in
    assert flow.realm == "finesse.com" and flow.user_principal == "sjefferson@finesse.com"
    assert flow.complete(finesse_json(TOKEN, TOKEN2)) is tok  # double paste


def test_finesse_bare_token_uses_the_agent_id():
    flow = FinesseSSO(FINESSE, agent_id="1001001")
    tok = flow.complete(TOKEN)
    assert tok.user == "1001001" and not tok.refreshable


def test_finesse_refuses_other_shapes():
    flow = FinesseSSO(FINESSE, agent_id="1001001")
    with pytest.raises(SSOError, match="sign-in link itself"):
        flow.complete(flow.authorize_url)
    with pytest.raises(SSOError, match="JSON page"):
        flow.complete(f"{CB}#access_token={TOKEN}")


def test_finesse_refresh_url_carries_the_refresh_token():
    # changed: refresh_url() returned a plain str holding the refresh token; it is a SecretURL now (masked when
    # shown, .reveal() for the address)
    flow = FinesseSSO(FINESSE, agent_id="1001001")
    with pytest.raises(NotSignedIn):
        flow.refresh_url()
    tok = flow.complete(finesse_json(TOKEN, "rt+/abcdefghijkl=="))
    url = flow.refresh_url(tok)
    assert url.reveal() == f"{FINESSE}/desktop/sso/token?cc_username=1001001&refresh-token=rt%2B%2Fabcdefghijkl%3D%3D"
    assert query_of(url.reveal())["refresh-token"] == "rt+/abcdefghijkl=="
    assert str(url) == f"{FINESSE}/desktop/sso/token?cc_username=1001001&refresh-token=*****"
    assert flow.refresh_url() == url
    flow2 = FinesseSSO(FINESSE)
    flow2.complete(TOKEN)
    with pytest.raises(TokenExpired, match="no refresh token"):
        flow2.refresh_url()


def test_finesse_refresh_posts_the_form_and_rotates(srv):
    flow = FinesseSSO(srv.url, agent_id="1001001")
    r1 = srv.finesse_refresh_token()
    old = flow.complete(finesse_json(TOKEN, r1))
    events = []
    flow.on_change.append(lambda event, f: events.append(event))
    new = flow.refresh(old)
    path, form, headers = srv.state.forms[-1]
    assert path == "/desktop/sso/token"
    assert form == {"token": TOKEN, "refresh-token": r1}
    assert headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert new.access_token != TOKEN and new.refresh_token != r1 and new.refresh_token.startswith("fr-")
    assert new.user == "1001001" and new.issuer == "finesse" and round(new.lifetime) == 300
    assert flow.token is new and events == ["refreshed"]
    assert srv.hits("finesse_refresh") == 1
    # the old (rotated) refresh token is now refused by the server: TokenExpired, not a raw 401
    with pytest.raises(TokenExpired) as exc:
        run(flow.refresh_async(Token(TOKEN, refresh_token=r1, issuer="finesse")))
    assert "refused to refresh" in str(exc.value) and r1 not in str(exc.value)
    # refresh(old) after the flow moved on: no request, the current token
    assert flow.refresh(old) is new and srv.hits("finesse_refresh") == 2


def test_finesse_refresh_without_new_refresh_token_keeps_the_old_one(srv):
    srv.state.finesse_mode = "keep"
    flow = FinesseSSO(srv.url, agent_id="1001001")
    r1 = srv.finesse_refresh_token()
    old = flow.complete(finesse_json(TOKEN, r1))
    old.refresh_expires_at = old.issued_at.replace(year=old.issued_at.year + 1)
    new = flow.refresh()
    assert new.refresh_token == r1 and new.refresh_expires_at == old.refresh_expires_at
    newer = flow.refresh()
    assert newer.refresh_token == r1 and newer.access_token != new.access_token
    assert srv.hits("finesse_refresh") == 2


def test_finesse_refresh_answered_by_a_login_page_means_sign_in_again(srv):
    srv.state.finesse_mode = "html"
    flow = FinesseSSO(srv.url, agent_id="1001001")
    flow.complete(finesse_json(TOKEN, srv.finesse_refresh_token()))
    with pytest.raises(TokenExpired, match="wants a browser sign-in") as exc:
        flow.refresh()
    assert "flow.authorize_url" in str(exc.value) and "ux.login(flow)" in str(exc.value)


def test_finesse_ensure_fresh_refreshes_only_when_due(srv):
    flow = FinesseSSO(srv.url, agent_id="1001001")
    fresh = flow.complete(finesse_json(TOKEN, srv.finesse_refresh_token()))
    assert run(flow.ensure_fresh_async()) is fresh and flow.ensure_fresh() is fresh
    assert srv.hits("finesse_refresh") == 0
    due = flow.use_token(due_token(TOKEN2, srv.finesse_refresh_token(), issuer="finesse", user="1001001"))
    got = run(flow.ensure_fresh_async())
    assert got is not due and got is flow.token and srv.hits("finesse_refresh") == 1
    assert run(flow.ensure_fresh_async()) is got and srv.hits("finesse_refresh") == 1
    flow.use_token(due_token(TOKEN, srv.finesse_refresh_token(), issuer="finesse", user="1001001"))
    assert flow.ensure_fresh() is flow.token and srv.hits("finesse_refresh") == 2  # the sync twin


def test_finesse_expired_token_with_dead_refresh_token(srv):
    flow = FinesseSSO(srv.url, agent_id="1001001")
    flow.use_token(Token(TOKEN, expires_in=60, issued_at=time.time() - 120, refresh_token="unknown-refresh-tok",
                         issuer="finesse"))
    with pytest.raises(TokenExpired, match="refused to refresh"):
        run(flow.ensure_fresh_async())
    tok = Token(TOKEN, expires_in=60, issued_at=time.time() - 120, refresh_token="r-abcdefghijkl",
                issuer="finesse", refresh_expires_in=30)
    flow.use_token(tok)
    assert not flow.signed_in
    with pytest.raises(TokenExpired, match="refresh token ran out"):
        run(flow.ensure_fresh_async())
    assert srv.hits("finesse_refresh") == 1


def test_failed_refresh_keeps_a_still_valid_token_and_backs_off(srv, monkeypatch, caplog):
    srv.state.finesse_mode = "error"
    flow = FinesseSSO(srv.url, agent_id="1001001")
    due = flow.use_token(due_token(TOKEN, srv.finesse_refresh_token(), issuer="finesse"))
    assert run(flow.ensure_fresh_async()) is due  # 500 from the token endpoint: keep using the valid token
    assert "refreshing the Finesse token failed" in caplog.text
    assert run(flow.ensure_fresh_async()) is due
    assert srv.hits("finesse_refresh") == 1, "no retry storm: the next try waits REFRESH_RETRY_SECONDS"
    monkeypatch.setattr(flow_base, "REFRESH_RETRY_SECONDS", 0.0)
    srv.state.finesse_mode = "rotate"
    got = run(flow.ensure_fresh_async())
    assert got is not due and srv.hits("finesse_refresh") == 2


def test_finesse_refresh_after_401_refreshes_once(srv):
    flow = FinesseSSO(srv.url, agent_id="1001001")
    old = flow.complete(finesse_json(TOKEN, srv.finesse_refresh_token()))
    new = run(flow.refresh_after_401_async(old))
    assert new is flow.token and new is not old
    assert run(flow.refresh_after_401_async(old)) is new  # a second 401 for the old token: no new request
    assert srv.hits("finesse_refresh") == 1


# -- single flight: exactly one refresh request, whoever asks on whichever loop ------------------------------


def test_concurrent_refresh_across_loops_and_threads_sends_exactly_one_request(srv):
    flow = FinesseSSO(srv.url, agent_id="1001001")
    old = flow.use_token(due_token(TOKEN, srv.finesse_refresh_token(), issuer="finesse", user="1001001"))
    srv.gate.clear()  # hold the refresh response until every caller is waiting
    results: list[Token] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    ready = threading.Semaphore(0)

    async def callers(n: int) -> None:
        tasks = [asyncio.ensure_future(flow.ensure_fresh_async()) for _ in range(n)]
        for _ in range(3):
            await asyncio.sleep(0)  # every task has reached its wait point
        ready.release()
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            with lock:
                (errors if isinstance(outcome, BaseException) else results).append(outcome)

    # 8 on the transport's worker loop (the sync facade's loop) ...
    on_worker = asyncio.run_coroutine_threadsafe(callers(8), worker_loop())
    # ... 8 on another event loop in another thread (a notebook's loop) ...
    other = threading.Thread(target=lambda: asyncio.run(callers(8)))
    other.start()

    # ... and 4 sync calls from plain threads (each blocks in run_sync on the worker loop)
    def sync_call() -> None:
        ready.release()
        try:
            tok = flow.ensure_fresh()
        except BaseException as exc:  # pragma: no cover - reported below
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(tok)

    plain = [threading.Thread(target=sync_call) for _ in range(4)]
    for t in plain:
        t.start()
    for _ in range(2 + len(plain)):
        assert ready.acquire(timeout=60)
    assert srv.received.wait(60), "the one refresh request reached the server"
    srv.gate.set()
    on_worker.result(60)
    other.join(60)
    for t in plain:
        t.join(60)

    assert not errors, errors
    assert len(results) == 20
    assert srv.hits("finesse_refresh") == 1, "exactly one refresh request for 20 concurrent callers"
    assert flow.refresh_count == 1
    new = flow.token
    assert new is not old and all(r is new for r in results)


def test_concurrent_refresh_failure_reaches_every_waiter_once(srv):
    flow = FinesseSSO(srv.url, agent_id="1001001")
    flow.use_token(Token(TOKEN, expires_in=60, issued_at=time.time() - 120, refresh_token="dead-refresh-token",
                         issuer="finesse"))

    async def many() -> list[Any]:
        return await asyncio.gather(*(flow.ensure_fresh_async() for _ in range(10)), return_exceptions=True)

    outcomes = run(many())
    assert all(isinstance(o, TokenExpired) for o in outcomes)
    assert srv.hits("finesse_refresh") == 1


def test_cancelling_the_refresh_owner_does_not_lose_the_refresh(srv):
    flow = FinesseSSO(srv.url, agent_id="1001001")
    old = flow.use_token(due_token(TOKEN, srv.finesse_refresh_token(), issuer="finesse"))
    srv.gate.clear()

    async def scenario() -> Token:
        owner = asyncio.ensure_future(flow.ensure_fresh_async())
        await asyncio.sleep(0)
        waiter = asyncio.ensure_future(flow.ensure_fresh_async())
        await asyncio.sleep(0)
        await asyncio.get_running_loop().run_in_executor(None, srv.received.wait, 60)
        owner.cancel()  # e.g. the notebook cell was interrupted
        srv.received.clear()
        await asyncio.sleep(0)
        srv.gate.set()
        return await waiter

    got = run(scenario())
    assert got is flow.token and got is not old
    # the request was not abandoned with the cancelled caller: its rotated refresh token was kept, and the
    # waiter got its result instead of sending a second request with the now-invalid old refresh token
    assert srv.hits("finesse_refresh") == 1
    assert flow.refresh() is flow.token and srv.hits("finesse_refresh") == 2  # the kept refresh token works


# =============================================================================================================
# Webex
# =============================================================================================================


def webex(srv, **kw) -> WebexOAuth:
    kw.setdefault("redirect_uri", CB)
    kw.setdefault("scopes", ["spark:people_read", "meeting:schedules_read"])
    return WebexOAuth(kw.pop("client_id", "C0ffee-client"), base_url=f"{srv.url}/v1", **kw)


def test_pkce_challenge_matches_rfc7636_and_the_definition():
    rfc_verifier, rfc_challenge = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert pkce_challenge(rfc_verifier) == rfc_challenge  # RFC 7636 appendix B
    for _ in range(20):
        verifier = secrets.token_urlsafe(48)
        expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        assert pkce_challenge(verifier) == expected and "=" not in expected


def test_webex_authorize_url_has_state_and_pkce_and_is_stable():
    flow = WebexOAuth("C0ffee", redirect_uri=CB, scopes=["spark:people_read", "meeting:schedules_read"])
    url = flow.authorize_url
    assert url.startswith("https://webexapis.com/v1/authorize?client_id=C0ffee&response_type=code"
                          "&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&scope=spark:people_read%20meeting:")
    q = query_of(url)
    assert q["scope"] == "spark:people_read meeting:schedules_read"
    assert q["state"] == flow.state and q["code_challenge_method"] == "S256"
    verifier = flow._code_verifier
    assert 43 <= len(verifier) <= 128
    digest = hashlib.sha256(verifier.encode()).digest()
    assert q["code_challenge"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert verifier not in url
    assert flow.authorize_url == url and flow.authorize_url == url, "stable until completed"
    fresh = flow.new_attempt()
    q2 = query_of(fresh)
    assert fresh != url and q2["state"] != q["state"] and q2["code_challenge"] != q["code_challenge"]
    assert "code_challenge=" in fresh and "code_challenge_method=S256" in fresh
    assert WebexOAuth("C1", redirect_uri=CB, scopes="a b").scopes == ("a", "b")


def test_webex_needs_client_and_redirect():
    with pytest.raises(ValueError):
        WebexOAuth("", redirect_uri=CB)
    with pytest.raises(ValueError, match="redirect_uri"):
        WebexOAuth("C1")


def test_webex_complete_exchanges_the_code_with_pkce(srv):
    flow = webex(srv, client_secret="s3cr3t-client-secret")
    url = flow.authorize_url
    verifier = flow._code_verifier
    code = srv.authorize(url)
    events = []
    flow.on_change.append(lambda event, f: events.append(event))
    tok = flow.complete(f" '{CB}?code={code}&state={flow.state}' ")
    path, form, headers = srv.state.forms[-1]
    assert path == "/v1/access_token"
    assert form == {"grant_type": "authorization_code", "client_id": "C0ffee-client", "code": code,
                    "redirect_uri": CB, "code_verifier": verifier, "client_secret": "s3cr3t-client-secret"}
    assert tok.access_token.startswith("wa-") and tok.refresh_token.startswith("wr-") and tok.issuer == "webex"
    assert round(tok.lifetime) == 1209599
    assert round(tok.refresh_expires_at.timestamp() - tok.issued_at.timestamp()) == 7775999
    assert events == ["signed_in"] and flow.signed_in
    assert flow.authorize_url != url, "a new attempt after completion"
    # double paste of the same (single-use) code: the same token, no second exchange
    assert flow.complete(f"{CB}?code={code}&state={query_of(url)['state']}") is tok
    assert srv.hits("webex_authorization_code") == 1


def test_webex_public_client_sends_no_secret(srv):
    flow = webex(srv)
    code = srv.authorize(flow.authorize_url)
    flow.complete(f"{code}#{flow.state}")
    form = srv.state.forms[-1][1]
    assert "client_secret" not in form and form["code_verifier"]


def test_webex_bare_code_is_refused_before_any_request(srv):
    # changed: a bare code used to be accepted ("PKCE binds the code"); a code obtained without our
    # code_challenge is not bound by it, so only the state ties a code to this attempt
    flow = webex(srv)
    code = srv.authorize(flow.authorize_url)
    with pytest.raises(SSOError, match="whole address the browser landed on") as exc:
        flow.complete(code)
    assert code not in str(exc.value) and srv.hits("webex_authorization_code") == 0 and flow.token is None
    assert flow.complete(webex_landed(flow, code)).access_token.startswith("wa-")


def test_webex_state_mismatch_is_refused_before_any_request(srv):
    flow = webex(srv)
    code = srv.authorize(flow.authorize_url)
    with pytest.raises(SSOError, match="different sign-in attempt") as exc:
        flow.complete(f"{CB}?code={code}&state=forged-state-value")
    assert code not in str(exc.value)
    with pytest.raises(SSOError, match="no state"):
        flow.complete(f"{CB}?code={code}")
    assert srv.hits("webex_authorization_code") == 0 and flow.token is None
    other = webex(srv)  # a paste meant for another flow object (another tab / notebook)
    with pytest.raises(SSOError, match="different sign-in attempt"):
        flow.complete(f"{CB}?code={code}&state={other.state}")


def test_webex_refused_code_is_an_ssoerror_without_secrets(srv):
    flow = webex(srv, client_secret="s3cr3t-client-secret")
    with pytest.raises(SSOError, match="refused the sign-in code") as exc:
        flow.complete(f"{CB}?code=not-a-real-code-1234&state={flow.state}")
    msg = str(exc.value)
    assert "The authorization code is invalid" in msg and "not-a-real-code-1234" not in msg
    assert "s3cr3t-client-secret" not in msg and flow._code_verifier not in msg
    flow2 = webex(srv)
    code = srv.authorize(flow2.authorize_url)
    flow2.new_attempt()  # the verifier no longer matches the challenge the code was issued for
    with pytest.raises(SSOError, match="PKCE"):
        flow2.complete(webex_landed(flow2, code))


def test_webex_json_paste_is_refused(srv):
    flow = webex(srv)
    with pytest.raises(SSOError, match="is JSON"):
        flow.complete(json.dumps({"access_token": TOKEN}))


def test_webex_refresh_rotates(srv):
    flow = webex(srv, client_secret="s3cr3t-client-secret")
    tok = flow.complete(webex_landed(flow, srv.authorize(flow.authorize_url)))
    new = flow.refresh(tok)
    form = srv.state.forms[-1][1]
    assert form == {"grant_type": "refresh_token", "client_id": "C0ffee-client", "refresh_token": tok.refresh_token,
                    "client_secret": "s3cr3t-client-secret"}
    assert new.access_token != tok.access_token and new.refresh_token != tok.refresh_token
    assert round(new.lifetime) == 1209599 and flow.token is new
    with pytest.raises(TokenExpired, match="Invalid refresh token"):
        run(flow.refresh_async(Token("wa-foreign-token-xyz", refresh_token=tok.refresh_token, issuer="webex")))


def test_webex_refresh_keeps_the_refresh_token_when_none_comes(srv):
    srv.state.webex_mode = "keep"
    flow = webex(srv)
    tok = flow.complete(webex_landed(flow, srv.authorize(flow.authorize_url)))
    new = flow.refresh()
    assert new.refresh_token == tok.refresh_token and new.refresh_expires_at == tok.refresh_expires_at


def test_webex_concurrent_ensure_fresh_is_single_flight(srv):
    flow = webex(srv)
    flow.use_token(due_token("wa-" + "x" * 40, srv.webex_refresh_token(), issuer="webex"))

    async def many() -> list[Token]:
        return await asyncio.gather(*(flow.ensure_fresh_async() for _ in range(20)))

    got = run(many())
    assert srv.hits("webex_refresh_token") == 1 and all(t is flow.token for t in got)


def test_webex_repr_never_shows_secrets(srv):
    flow = webex(srv, client_secret="s3cr3t-client-secret")
    tok = flow.complete(webex_landed(flow, srv.authorize(flow.authorize_url)))
    verifier = flow._code_verifier
    for text in (repr(flow), str(flow), str(flow.describe()), repr(tok)):
        for secret in ("s3cr3t-client-secret", verifier, tok.access_token, tok.refresh_token):
            assert secret not in text
    assert "C0ffee-client" in repr(flow) and "webex" in repr(flow)


def test_exception_texts_never_contain_secrets(srv):
    """Drive the failure paths and check every message against every secret involved."""
    secrets_seen: list[str] = ["s3cr3t-client-secret"]
    messages: list[str] = []
    flow = webex(srv, client_secret="s3cr3t-client-secret")
    secrets_seen.append(flow._code_verifier)
    code = srv.authorize(flow.authorize_url)
    secrets_seen.append(code)
    for bad in (f"{CB}?code={code}&state=wrong-state-xx", f"{CB}?code={code}", "{}",
                f"{CB}#access_token={TOKEN}", f"{CB}?code=unknown-code-abcdef&state={flow.state}"):
        try:
            flow.complete(bad)
        except UcError as exc:
            messages.append(str(exc))
    secrets_seen.append(TOKEN)
    fin = FinesseSSO(srv.url, agent_id="1001001")
    r = srv.finesse_refresh_token()
    secrets_seen += [r, TOKEN2]
    fin.use_token(Token(TOKEN2, expires_in=60, issued_at=time.time() - 120, refresh_token=r, issuer="finesse"))
    srv.state.finesse_mode = "html"
    for call in (lambda: run(fin.ensure_fresh_async()), fin.refresh):
        try:
            call()
        except UcError as exc:
            messages.append(str(exc))
    cucm = CucmSSO(CUCM, redirect_uri=CB)
    cucm.use_token(Token(TOKEN, expires_in=1, issued_at=time.time() - 10))
    try:
        cucm.ensure_fresh()
    except UcError as exc:
        messages.append(str(exc))
    assert len(messages) == 8
    for msg in messages:
        for secret in secrets_seen:
            assert secret not in msg, (secret, msg)


# =============================================================================================================
# terminal sign-in (ucexplore login …) and the JTAPI helper
# =============================================================================================================

from ucexplore.auth.interactive import build_flow, login_interactive, read_paste  # noqa: E402
from ucexplore.auth.jtapi import provider_string  # noqa: E402
from ucexplore.auth.store import MemoryStore  # noqa: E402


class Console:
    """Scripted input (as getpass would return it) and captured output."""

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)
        self.prompts: list[str] = []
        self.out: list[str] = []

    def input(self, prompt: str = "") -> str:
        self.prompts.append(prompt)
        if not self.lines:
            raise EOFError
        return self.lines.pop(0)

    def print(self, *args: Any, **kw: Any) -> None:
        self.out.append(" ".join(str(a) for a in args))

    @property
    def text(self) -> str:
        return "\n".join(self.out)


def printed_state(con: "Console") -> str:
    """The state of the sign-in link the terminal printed (what the person's browser carries back)."""
    return query_of(next(w for w in con.text.split() if "/ssosp/oauth/authorize?" in w))["state"]


def test_login_interactive_cucm_prints_the_link_and_reads_the_paste():
    con = Console()
    con.input = lambda prompt="": (con.prompts.append(prompt)  # type: ignore[method-assign]
                                   or f"{CB}#access_token={TOKEN}&expires_in=600&state={printed_state(con)}")
    tok = login_interactive("cucm", CUCM, redirect_uri=CB, input_fn=con.input, print_fn=con.print)
    assert tok.access_token == TOKEN and tok.issuer == "cucm"
    assert f"{CUCM}/ssosp/oauth/authorize?" in con.text and "Signed in to CUCM" in con.text
    assert TOKEN not in con.text
    assert "hidden" in con.prompts[0]


def test_login_interactive_asks_again_after_a_bad_paste():
    con = Console("   ", "https://app.example.com/cb", TOKEN)  # the third: a bare token (no state to check)
    tok = login_interactive("unity", CUCM, redirect_uri=CB, input_fn=con.input, print_fn=con.print)
    assert tok.issuer == "unity" and "That did not work" in con.text and "no sign-in result" in con.text


def test_login_interactive_gives_up_with_the_last_error():
    con = Console("nope", "still nope", "no")
    with pytest.raises(SSOError):
        login_interactive("cucm", CUCM, redirect_uri=CB, input_fn=con.input, print_fn=con.print, attempts=3)
    assert con.text.count("That did not work") == 3


def test_login_interactive_reads_a_multi_line_finesse_page():
    pretty = json.dumps(json.loads(finesse_json(TOKEN, TOKEN2)), indent=2).splitlines()
    con = Console(*pretty, "never read")
    tok = login_interactive("finesse", FINESSE, agent_id="1001001", input_fn=con.input, print_fn=con.print)
    assert tok.refresh_token == TOKEN2 and con.lines == ["never read"]
    assert "desktop/sso/token?cc_username=1001001&return_refresh_token=true" in con.text
    assert "JSON" in con.text


def test_read_paste_stops_at_an_empty_line_or_eof():
    con = Console("abc", "def")
    assert read_paste(con.input) == "abc"
    assert read_paste(Console('{"token":', '"x"', "", "later").input) == '{"token":\n"x"'
    assert read_paste(Console('{"token": "x}"', "}").input) == '{"token": "x}"\n}'
    assert read_paste(Console().input) == ""


def test_login_interactive_webex(srv):
    flow = build_flow("webex", f"{srv.url}/v1", client_id="C0ffee-client", redirect_uri=CB,
                      scopes="spark:people_read")
    code_holder = {}

    def answer(prompt: str = "") -> str:
        code_holder["code"] = srv.authorize(flow.authorize_url)
        return f"{CB}?code={code_holder['code']}&state={flow.state}"

    con = Console()
    tok = login_interactive("webex", flow=flow, input_fn=answer, print_fn=con.print)
    assert tok.issuer == "webex" and srv.hits("webex_authorization_code") == 1
    assert code_holder["code"] not in con.text and tok.access_token not in con.text


def test_login_interactive_store_reuses_a_stored_token():
    store = MemoryStore()
    con = Console()
    con.input = lambda prompt="": (con.prompts.append(prompt)  # type: ignore[method-assign]
                                   or f"#access_token={TOKEN}&expires_in=600&state={printed_state(con)}")
    first = login_interactive("cucm", CUCM, redirect_uri=CB, input_fn=con.input, print_fn=con.print, store=store)
    con2 = Console()
    again = login_interactive("cucm", CUCM, redirect_uri=CB, input_fn=con2.input, print_fn=con2.print, store=store)
    assert again.access_token == first.access_token and con2.prompts == []
    assert "stored CUCM token" in con2.text and TOKEN not in con2.text


def test_build_flow_arguments():
    assert isinstance(build_flow("finesse", FINESSE, agent_id="7"), FinesseSSO)
    assert build_flow("cucm", CUCM, redirect_uri=CB, client_id="Cx").client_id == "Cx"
    wx = build_flow("webex", None, client_id="C1", redirect_uri=CB)
    assert wx.base_url == "https://webexapis.com/v1"
    with pytest.raises(ValueError, match="client-id"):
        build_flow("webex", None, redirect_uri=CB)
    with pytest.raises(ValueError, match="server URL"):
        build_flow("cucm", None, redirect_uri=CB)


def test_jtapi_provider_string():
    tok = Token(TOKEN, expires_in=600, issuer="cucm", user="jdoe")
    assert provider_string("cucm-pub.example.com", tok) == f"cucm-pub.example.com;login=jdoe;ssoticket={TOKEN}"
    assert provider_string(["cti1", "cti2"], TOKEN, user="amy", key="ssotoken", extra={"appinfo": "ucx"}) == \
        f"cti1,cti2;login=amy;ssotoken={TOKEN};appinfo=ucx"
    flow = CucmSSO(CUCM, redirect_uri=CB)
    with pytest.raises(NotSignedIn):
        provider_string("cti1", flow)
    flow.complete(TOKEN)  # a bare token: the person's explicit choice
    assert provider_string("cti1", flow).endswith(f"ssoticket={TOKEN}")
    with pytest.raises(ValueError, match="CUCM-issued"):
        provider_string("cti1", Token(TOKEN, issuer="unity"))
    with pytest.raises(TokenExpired) as exc:
        provider_string("cti1", Token(TOKEN, expires_in=1, issued_at=time.time() - 10, issuer="cucm"))
    assert TOKEN not in str(exc.value)
    with pytest.raises(ValueError):
        provider_string("host;login=x", tok)
    with pytest.raises(ValueError):
        provider_string([], tok)
    with pytest.raises(TypeError):
        provider_string("cti1", 42)
