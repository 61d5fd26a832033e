"""Finesse SSO through Cisco IdS: the browser opens ``/desktop/sso/token`` and shows a JSON body to paste back.

``GET {base}/desktop/sso/token?cc_username=<agent>&return_refresh_token=true`` walks the browser through IdS and
the organisation's IdP and ends on a JSON page::

    {"token":"<JWT>","refresh_token":"<JWT>","expires_in":300,"user_id":"sjefferson","realm":"finesse.com",
     "user_principal":"sjefferson@finesse.com"}

The token is refreshed once 75 % of its lifetime has passed with ``POST {base}/desktop/sso/token`` and the form
``token=<access>&refresh-token=<refresh>``. The refresh response may omit ``refresh_token``: the old one is kept;
when a new one comes, it replaces (rotates) the old one. :meth:`FinesseSSO.refresh_url` gives the browser
variant (GET with ``refresh-token=…``) as a :class:`SecretURL`: it shows masked, and only ``.reveal()``
gives the address that carries the refresh token.

Example::

    >>> flow = FinesseSSO("https://finesse.example.com:8445", agent_id="1001001")
    >>> flow.authorize_url
    'https://finesse.example.com:8445/desktop/sso/token?cc_username=1001001&return_refresh_token=true'
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ...errors import SSOError, TokenExpired
from ...redact import MASK, Secret
from ..paste import _seconds, parse_paste
from ..token import Token
from .base import SignInFlowBase
from .http import post_form_json

__all__ = ["FinesseSSO", "SecretURL", "TOKEN_PATH"]

TOKEN_PATH = "/desktop/sso/token"


class SecretURL(Secret):
    """An address that carries a secret (a refresh token): ``repr`` and ``str`` show it masked.

    ``reveal()`` returns the real address, to open in a browser (``webbrowser.open(url.reveal())``) — never to
    print, log or save. A cell whose last line is the object shows only the masked form, so a saved notebook
    never holds the secret. It refuses to be pickled.

    Example::

        >>> url = SecretURL("https://f:8445/desktop/sso/token?cc_username=1001&refresh-token=rt-secret-0123",
        ...                 "https://f:8445/desktop/sso/token?cc_username=1001&refresh-token=*****")
        >>> url
        <SecretURL https://f:8445/desktop/sso/token?cc_username=1001&refresh-token=*****>
        >>> "rt-secret" in f"{url} {url!r} {url!s}", url.reveal().endswith("rt-secret-0123")
        (False, True)
    """

    __slots__ = ("_masked",)
    _pickle_what = "a SecretURL (it holds a refresh token)"
    _pickle_hint = "call flow.refresh_url() again in the new process (after signing in there)"

    def __init__(self, url: str, masked: str) -> None:
        super().__init__(url)
        self._masked = masked

    @property
    def masked(self) -> str:
        """The address with the secret replaced by ``*****`` (safe to show)."""
        return self._masked

    def __repr__(self) -> str:
        return f"<SecretURL {self._masked}>"

    def __str__(self) -> str:
        return self._masked

    def __format__(self, spec: str) -> str:
        return format(self._masked, spec)

    __hash__ = None  # type: ignore[assignment]  # equal by secret content: not a dict key



class FinesseSSO(SignInFlowBase):
    """Sign in to Finesse (UCCE/UCCX with SSO) and keep the token fresh.

    Example::

        >>> flow = FinesseSSO("https://finesse.example.com:8445", agent_id="1001001")
        >>> tok = flow.complete('{"token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln",'
        ...                     '"refresh_token":"eyJyZWZyZXNoIjoxfQ.e30.c2ln",'
        ...                     '"expires_in":300,"user_id":"1001001","realm":"finesse.com"}')
        >>> tok.user, tok.refreshable, round(tok.lifetime)
        ('1001001', True, 300)
    """

    product = "finesse"
    display_name = "Finesse"
    refreshable = True
    paste_what = "the whole JSON text the page shows"

    def __init__(self, base_url: str, agent_id: str | None = None, verify: bool | str = True) -> None:
        super().__init__(base_url, verify=verify)
        self.agent_id = str(agent_id) if agent_id is not None else None
        #: realm and user principal from the last token response (not secrets)
        self.realm: str | None = None
        self.user_principal: str | None = None

    @property
    def authorize_url(self) -> str:
        """``{base}/desktop/sso/token?cc_username=<agent_id>&return_refresh_token=true``."""
        user = f"cc_username={quote(self.agent_id, safe='')}&" if self.agent_id else ""
        return f"{self.base_url}{TOKEN_PATH}?{user}return_refresh_token=true"

    # -- sign-in -------------------------------------------------------------------------------------------
    def complete(self, pasted: str) -> Token:
        """Read the pasted JSON body (or a bare token) and sign in; returns the Token (user = ``user_id``)."""
        got = parse_paste(pasted, expect="finesse", product=self.display_name, sign_in_url=self.authorize_url)
        current = self._token
        if current is not None and got.access_token == current.access_token:
            return current  # the same paste twice
        self.realm = got.realm or self.realm
        self.user_principal = got.user_principal or self.user_principal
        tok = Token(
            got.access_token,  # type: ignore[arg-type]
            expires_in=got.expires_in,
            refresh_token=got.refresh_token,
            refresh_expires_in=got.refresh_expires_in,
            issuer=self.product,
            user=got.user or self.agent_id,
        )
        self._install(tok, "signed_in")
        return tok

    async def complete_async(self, pasted: str) -> Token:
        """Async twin of :meth:`complete` (no network is involved)."""
        return self.complete(pasted)

    # -- refresh -------------------------------------------------------------------------------------------
    def refresh_url(self, tok: Token | None = None) -> SecretURL:
        """The GET variant of the refresh, to open in a browser when Finesse wants one for the refresh:
        ``{base}/desktop/sso/token?cc_username=…&refresh-token=…``, as a :class:`SecretURL`.

        **The address carries the refresh token (a secret)**: the object shows it masked (``repr``, ``str``,
        f-strings, a cell's output); ``.reveal()`` gives the real address to open — do not print, log or share
        that. It cannot be pickled.

        Example::

            >>> flow = FinesseSSO("https://finesse.example.com:8445", agent_id="1001001")
            >>> _ = flow.complete('{"token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln","refresh_token":"rt-0123456789ab"}')
            >>> flow.refresh_url()
            <SecretURL https://finesse.example.com:8445/desktop/sso/token?cc_username=1001001&refresh-token=*****>
        """
        tok = tok or self._token
        if tok is None:
            raise self._not_signed_in()
        if not tok.refresh_token:
            raise TokenExpired("this Finesse token has no refresh token", hint=self.sign_in_hint())
        user = self.agent_id or tok.user or ""
        head = f"{self.base_url}{TOKEN_PATH}?cc_username={quote(user, safe='')}&refresh-token="
        return SecretURL(head + quote(tok.refresh_token, safe=""), head + MASK)

    async def _refresh_request_async(self, tok: Token) -> Token:
        data = await post_form_json(
            self._get_transport(), f"{self.base_url}{TOKEN_PATH}",
            {"token": Secret(tok.access_token), "refresh-token": Secret(tok.refresh_token or "")},
            product=self.display_name, hint=self.sign_in_hint(), refresh=True,
        )
        return self._token_from_refresh(data, tok)

    def _token_from_refresh(self, data: dict[str, Any], old: Token) -> Token:
        access = data.get("token") or data.get("access_token")
        if not isinstance(access, str) or not access.strip():
            raise SSOError("Finesse answered the refresh without a token", hint=self.sign_in_hint())
        new_refresh = data.get("refresh_token")
        rotated = isinstance(new_refresh, str) and bool(new_refresh.strip())
        tok = Token(
            access.strip(),
            expires_in=_seconds(data.get("expires_in")) or old.lifetime,
            refresh_token=new_refresh.strip() if rotated else old.refresh_token,  # type: ignore[union-attr]
            refresh_expires_in=_seconds(data.get("refresh_token_expires_in")) if rotated else None,
            issuer=self.product,
            user=str(data.get("user_id") or old.user or self.agent_id or "") or None,
        )
        if not rotated:
            tok.refresh_expires_at = old.refresh_expires_at  # the kept refresh token keeps its own expiry
        if isinstance(data.get("realm"), str):
            self.realm = data["realm"]
        return tok
