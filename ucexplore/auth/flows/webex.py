"""Webex integrations: OAuth authorization code with ``state`` and PKCE (S256) on every sign-in link.

``authorize_url`` = ``{base}/authorize?client_id=…&response_type=code&redirect_uri=…&scope=…&state=…&
code_challenge=…&code_challenge_method=S256``. It stays the same until the sign-in completes (or
:meth:`WebexOAuth.new_attempt`), so opening it twice is harmless. The person pastes back the address they land on
(``?code=…&state=…``, or the query alone, or ``code#state``); :meth:`WebexOAuth.complete` checks that it came
back to ``redirect_uri`` and carries this attempt's ``state`` (constant time), then exchanges the code at
``POST {base}/access_token`` with the PKCE ``code_verifier``.

A bare code (no ``state``) is refused. PKCE does not bind a code that an attacker obtained *without* a
``code_challenge`` (a server that does not enforce PKCE exchanges it all the same: RFC 9700 §4.8, PKCE
downgrade), so only the ``state`` ties a pasted code to this sign-in attempt (RFC 9700 §4.5 code injection,
§4.7 CSRF).
The token is always used as ``Bearer``.

Example::

    >>> flow = WebexOAuth("C0ffee", redirect_uri="https://app.example.com/cb", scopes=["spark:people_read"])
    >>> url = flow.authorize_url
    >>> "code_challenge_method=S256" in url and url == flow.authorize_url
    True
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any, Iterable
from urllib.parse import quote

from ...errors import SSOError
from ...redact import Secret, register_secret
from ..paste import _seconds, parse_paste, states_match
from ..token import Token
from .base import SignInFlowBase
from .http import post_form_json

__all__ = ["WebexOAuth", "pkce_challenge", "DEFAULT_SCOPES", "WEBEX_BASE_URL"]

WEBEX_BASE_URL = "https://webexapis.com/v1"
#: enough for wx.me(), wx.people() and wx.meetings()
DEFAULT_SCOPES = ("spark:people_read", "meeting:schedules_read")


def pkce_challenge(verifier: str) -> str:
    """The S256 PKCE challenge: base64url(sha256(verifier)) without ``=`` padding (RFC 7636 §4.2).

    Example::

        >>> pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
    """
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


class WebexOAuth(SignInFlowBase):
    """Sign in to Webex through an integration (client id, optional secret) and keep the token fresh.

    Example::

        >>> flow = WebexOAuth("C0ffee", client_secret=None, redirect_uri="https://app.example.com/cb")
        >>> flow.authorize_url.startswith("https://webexapis.com/v1/authorize?client_id=C0ffee&response_type=code")
        True
        >>> "verifier" in repr(flow)
        False
    """

    product = "webex"
    display_name = "Webex"
    refreshable = True
    paste_what = "the whole address you land on"

    def __init__(
        self,
        client_id: str,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        scopes: Iterable[str] | str | None = None,
        base_url: str = WEBEX_BASE_URL,
        verify: bool | str = True,
    ) -> None:
        super().__init__(base_url, verify=verify)
        if not client_id:
            raise ValueError("WebexOAuth needs the integration's client_id (developer.webex.com > My Webex Apps)")
        if not redirect_uri:
            raise ValueError("WebexOAuth needs redirect_uri=: one of the integration's registered redirect URIs "
                             "(the lab's is lab.redirect_uri)")
        self.client_id = client_id
        self._client_secret = client_secret or None
        register_secret(self._client_secret)
        self.redirect_uri = redirect_uri
        if scopes is None:
            scopes = DEFAULT_SCOPES
        self.scopes = tuple(scopes.split()) if isinstance(scopes, str) else tuple(scopes)
        self._last_code_digest: bytes | None = None
        self._new_pkce()

    def _new_pkce(self) -> None:
        self._state = secrets.token_urlsafe(16)
        self._code_verifier = secrets.token_urlsafe(48)  # 64 characters of [A-Za-z0-9_-]
        register_secret(self._code_verifier)

    @property
    def state(self) -> str:
        """The ``state`` of the current attempt (not a secret)."""
        return self._state

    @property
    def store_key(self) -> str:
        return f"{self.product}@{self.host}/{self.client_id}"

    @property
    def code_challenge(self) -> str:
        """The PKCE S256 challenge of the current attempt (public; the verifier stays private)."""
        return pkce_challenge(self._code_verifier)

    @property
    def authorize_url(self) -> str:
        """The sign-in link: stable until the sign-in completes or :meth:`new_attempt` is called."""
        return (
            f"{self.base_url}/authorize"
            f"?client_id={quote(self.client_id, safe='')}"
            f"&response_type=code"
            f"&redirect_uri={quote(self.redirect_uri, safe='')}"
            f"&scope={quote(' '.join(self.scopes), safe=':')}"
            f"&state={self._state}"
            f"&code_challenge={self.code_challenge}"
            f"&code_challenge_method=S256"
        )

    def new_attempt(self) -> str:
        """Start over with a new ``state`` and PKCE verifier; returns the new :attr:`authorize_url`."""
        self._new_pkce()
        return self.authorize_url

    def _after_sign_out(self) -> None:
        self._new_pkce()

    # -- sign-in -------------------------------------------------------------------------------------------
    def complete(self, pasted_redirect_url: str) -> Token:
        """Check the address and its ``state``, exchange the code (with the PKCE verifier) and sign in; returns
        the Token. A bare code is refused: paste the whole address the browser landed on."""
        return self._run_sync(self.complete_async(pasted_redirect_url))

    async def complete_async(self, pasted_redirect_url: str) -> Token:
        """Async twin of :meth:`complete`."""
        # the same code pasted twice (double click): a code is single-use, answer with the token it gave
        try:
            again = parse_paste(pasted_redirect_url, expect="code", product=self.display_name,
                                redirect_uri=self.redirect_uri)
        except SSOError:
            again = None
        if again is not None and again.shape != "bare" and self._token is not None \
                and self._last_code_digest is not None:
            if secrets.compare_digest(hashlib.sha256(again.code.encode()).digest(),  # type: ignore[union-attr]
                                      self._last_code_digest):
                return self._token
        got = parse_paste(pasted_redirect_url, expect="code", state=self._state, require_state=True,
                          redirect_uri=self.redirect_uri, product=self.display_name, sign_in_url=self.authorize_url)
        if not states_match(self._state, got.state):  # parse_paste checked; be sure (a bare code never passes)
            raise SSOError("the pasted address does not carry the state of this sign-in attempt",
                           hint=("paste the whole address the browser landed on after signing in (it contains "
                                 "?code=… and state=…)"))
        form: dict[str, Any] = {  # credentials as Secret: no frame local shows them (see ucexplore.redact)
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "code": Secret(got.code or ""),
            "redirect_uri": self.redirect_uri,
            "code_verifier": Secret(self._code_verifier),
        }
        if self._client_secret:
            form["client_secret"] = Secret(self._client_secret)
        data = await post_form_json(self._get_transport(), f"{self.base_url}/access_token", form,
                                    product=self.display_name, hint=self._retry_hint(), refresh=False)
        tok = self._token_from_response(data, None)
        self._last_code_digest = hashlib.sha256((got.code or "").encode()).digest()
        self._install(tok, "signed_in")
        self._new_pkce()
        return tok

    def _retry_hint(self) -> str:
        return ("codes are single-use and expire within minutes: open the sign-in page again (the widget's link, "
                "or flow.authorize_url), sign in, and paste the new address")

    # -- refresh -------------------------------------------------------------------------------------------
    async def _refresh_request_async(self, tok: Token) -> Token:
        form: dict[str, Any] = {"grant_type": "refresh_token", "client_id": self.client_id,
                                "refresh_token": Secret(tok.refresh_token or "")}
        if self._client_secret:
            form["client_secret"] = Secret(self._client_secret)
        data = await post_form_json(self._get_transport(), f"{self.base_url}/access_token", form,
                                    product=self.display_name, hint=self.sign_in_hint(), refresh=True)
        return self._token_from_response(data, tok)

    def _token_from_response(self, data: dict[str, Any], old: Token | None) -> Token:
        access = data.get("access_token")
        if not isinstance(access, str) or not access.strip():
            raise SSOError("Webex answered without an access_token", hint=self.sign_in_hint())
        new_refresh = data.get("refresh_token")
        rotated = isinstance(new_refresh, str) and bool(new_refresh.strip())
        tok = Token(
            access.strip(),
            token_type="Bearer",  # Webex tokens are bearer tokens, whatever a response says
            expires_in=_seconds(data.get("expires_in")) or (old.lifetime if old else None),
            refresh_token=(new_refresh.strip() if rotated  # type: ignore[union-attr]
                           else (old.refresh_token if old else None)),
            refresh_expires_in=_seconds(data.get("refresh_token_expires_in")) if rotated else None,
            issuer=self.product,
            user=old.user if old else None,
        )
        if not rotated and old is not None:
            tok.refresh_expires_at = old.refresh_expires_at
        return tok

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f" client_id={self.client_id!r}>"
