"""CUCM and Unity Connection SSO: the implicit grant with the fixed DevNet client id, token in the fragment.

The browser goes to ``{base}/ssosp/oauth/authorize?scope=…&response_type=token&redirect_uri=…&client_id=…&state=…``,
signs in through the organisation's IdP, and lands on ``redirect_uri#access_token=…&token_type=Bearer&
expires_in=3600&state=…``. The person pastes that address back; :meth:`CucmSSO.complete` reads it.

What :meth:`CucmSSO.complete` accepts — the implicit grant's weak points made strict (RFC 9700 §2.1.2, §4.6
token injection, §4.7 CSRF):

* ``state``: ucexplore adds a random ``state`` to every sign-in link, and RFC 6749 §4.2.2 obliges the server to
  send it back. A pasted result with parameters (the address, the fragment, a JSON body) whose ``state`` is
  missing or different is refused: it may come from another attempt, tab or notebook — or from someone else.
  For a server that does not echo ``state``, create the flow with ``require_state=False``: an explicit,
  documented opt-out, visible in the notebook, never a silent acceptance;
* the address: a pasted URL must be the flow's ``redirect_uri`` (same scheme, host, port and path) — a result
  that landed on another page is refused;
* a bare token (the token text alone) has no state to check: pasting one is the person's explicit choice to
  use that token, as :meth:`~ucexplore.auth.flows.base.SignInFlowBase.use_token` is, and it is accepted;
* the token is always sent as ``Bearer``, whatever ``token_type`` a paste claims.

Implicit-grant tokens have no refresh token (RFC 6749 §4.2.2): when one expires, the person signs in again.

Example::

    >>> flow = CucmSSO("https://cucm.example.com:8443", redirect_uri="https://app.example.com/cb")
    >>> flow.authorize_url.split("?")[0]
    'https://cucm.example.com:8443/ssosp/oauth/authorize'
    >>> tok = flow.complete("https://app.example.com/cb#access_token=MjpkZTkxYjNmYS0wYzU2LTQx&expires_in=3600"
    ...                     f"&state={flow.state}")
    >>> tok.issuer, round(tok.lifetime)
    ('cucm', 3600)
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

from ...errors import SSOError
from ..paste import parse_paste
from ..token import Token
from .base import SignInFlowBase

__all__ = ["CucmSSO", "UnitySSO", "DEVNET_CLIENT_ID", "UC_SCOPE"]

#: The fixed client id of Cisco's third-party UC SSO sample (client ids cannot be registered).
DEVNET_CLIENT_ID = "C69908c4f345729af0a23cdfff1d255272de942193e7d39171ddd307bc488d7a1"
UC_SCOPE = "UnifiedCommunications:readwrite"
#: CUCM's "OAuth Access Token Expiry Timer" default, used when the fragment carries no expires_in.
DEFAULT_LIFETIME = 3600


class CucmSSO(SignInFlowBase):
    """Sign in to CUCM (UDS, WebDialer) with the UC SSO implicit grant.

    ``require_state=False`` (keyword-only) accepts a pasted address without ``state``, for a CUCM/Unity that
    does not send it back; a *different* state is refused all the same. Leave it True unless you have seen
    your server drop ``state``: it is what ties the address you paste to the sign-in link you opened.

    Example::

        >>> flow = CucmSSO("https://cucm.example.com:8443", redirect_uri="https://app.example.com/cb")
        >>> "response_type=token" in flow.authorize_url and "state=" in flow.authorize_url
        True
        >>> flow.signed_in
        False
    """

    product = "cucm"
    display_name = "CUCM"
    refreshable = False
    paste_what = "the address the Copy button gives you"

    def __init__(
        self,
        base_url: str,
        redirect_uri: str | None = None,
        client_id: str = DEVNET_CLIENT_ID,
        scope: str = UC_SCOPE,
        verify: bool | str = True,
        *,
        default_lifetime: float = DEFAULT_LIFETIME,
        require_state: bool = True,
    ) -> None:
        super().__init__(base_url, verify=verify)
        if not redirect_uri:
            raise ValueError(
                f"{type(self).__name__} needs redirect_uri=: the page your browser lands on after signing in; "
                "it must be listed under System > Enterprise Parameters > SSO Configuration > 'Redirect URIs "
                "for Third Party SSO Client' (the lab's is lab.redirect_uri)"
            )
        self.redirect_uri = redirect_uri
        self.client_id = client_id
        self.scope = scope
        self.default_lifetime = default_lifetime
        #: refuse a pasted result without ``state`` (True). False only for a server that does not echo it.
        self.require_state = bool(require_state)
        self._state = secrets.token_urlsafe(16)

    @property
    def state(self) -> str:
        """The ``state`` of the current sign-in attempt (not a secret; it ties a paste to this attempt)."""
        return self._state

    @property
    def authorize_url(self) -> str:
        """``{base}/ssosp/oauth/authorize?scope=…&response_type=token&redirect_uri=…&client_id=…&state=…``."""
        return (
            f"{self.base_url}/ssosp/oauth/authorize"
            f"?scope={quote(self.scope, safe=':')}"
            f"&response_type=token"
            f"&redirect_uri={quote(self.redirect_uri, safe='')}"
            f"&client_id={quote(self.client_id, safe='')}"
            f"&state={self._state}"
        )

    def new_attempt(self) -> str:
        """Start a fresh attempt (new ``state``); returns the new :attr:`authorize_url`."""
        self._state = secrets.token_urlsafe(16)
        return self.authorize_url

    def _after_sign_out(self) -> None:
        self.new_attempt()

    def complete(self, pasted: str) -> Token:
        """Read the pasted redirect address (or fragment, or bare token) and sign in; returns the Token.

        The address must be this flow's ``redirect_uri`` and carry this attempt's ``state`` (see the module
        docstring); a bare token is accepted as the person's explicit choice. The token is sent as ``Bearer``.
        Pasting the same address twice (a double click) returns the same token.
        """
        # the same paste again: answer with the token it already gave
        current = self._token
        if current is not None:
            try:
                again = parse_paste(pasted, expect="implicit", product=self.display_name,
                                    redirect_uri=self.redirect_uri)
            except SSOError:
                again = None
            if again is not None and again.access_token == current.access_token:
                return current
        got = parse_paste(pasted, expect="implicit", state=self._state, require_state=self.require_state,
                          redirect_uri=self.redirect_uri, product=self.display_name, sign_in_url=self.authorize_url)
        tok = Token(
            got.access_token,  # type: ignore[arg-type]
            token_type="Bearer",  # never a scheme a paste names (a pasted token_type=Basic is ignored)
            expires_in=got.expires_in or self.default_lifetime,
            issuer=self.product,
            user=got.user,
        )
        self._install(tok, "signed_in")
        self.new_attempt()
        return tok

    async def complete_async(self, pasted: str) -> Token:
        """Async twin of :meth:`complete` (no network is involved)."""
        return self.complete(pasted)

    def __repr__(self) -> str:
        text = super().__repr__()
        return text if self.require_state else text[:-1] + " require_state=False>"


class UnitySSO(CucmSSO):
    """Sign in to Unity Connection (CUMI and the other ``/vmrest`` APIs) with its own ``/ssosp`` implicit grant.

    Same shape as :class:`CucmSSO`; the token is issued by Unity Connection (issuer ``"unity"``) and is not
    valid on CUCM, nor a CUCM token here.

    Example::

        >>> flow = UnitySSO("https://cuc.example.com", redirect_uri="https://app.example.com/cb")
        >>> flow.authorize_url.startswith("https://cuc.example.com/ssosp/oauth/authorize?")
        True
    """

    product = "unity"
    display_name = "Unity Connection"
