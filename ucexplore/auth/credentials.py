"""What a service client's ``auth=`` becomes: one small object the transport asks for credentials.

``auth=`` may be a :class:`~ucexplore.auth.Token`, a bearer string, a ``(user, password)`` tuple for HTTP
Basic, a sign-in flow (its token is used and refreshed), or None. :func:`resolve_auth` turns each into a
:class:`Credentials`.

Example::

    >>> creds = resolve_auth(("jdoe", "pa55word"))
    >>> creds.kind, creds.describe()
    ('basic', 'jdoe (HTTP Basic)')
"""

from __future__ import annotations

import base64
from typing import Any, Protocol, runtime_checkable

from ..errors import NotSignedIn, TokenExpired
from ..redact import Secret, Unpicklable, register_secret
from .token import Token

__all__ = ["Credentials", "SignInFlow", "resolve_auth", "BasicCredentials", "TokenCredentials",
           "FlowCredentials", "NoCredentials"]


@runtime_checkable
class SignInFlow(Protocol):
    """What every flow (CucmSSO, UnitySSO, FinesseSSO, WebexOAuth) offers to the transport."""

    product: str
    token: Token | None

    async def ensure_fresh_async(self) -> Token:
        """Return a usable token, refreshing it (at most once at a time) when 75 % of its life has passed.

        Raises NotSignedIn before sign-in and TokenExpired when it expired and cannot be refreshed.
        """
        ...

    async def refresh_after_401_async(self, rejected: Token) -> Token | None:
        """The server refused ``rejected``: refresh it if possible (once), else return None."""
        ...

    def sign_in_hint(self) -> str:
        """One sentence on how to sign in (again) with this flow."""
        ...


class Credentials:
    """Base class: ``kind`` is ``"bearer"``, ``"basic"`` or ``"none"``."""

    kind = "none"

    async def authorization(self) -> str | None:
        """The ``Authorization`` header value (may refresh a token first)."""
        return None

    async def body_credential(self) -> dict[str, Any]:
        """Credentials for APIs that carry them in the body (WebDialer SOAP, Webex XML):
        ``{"token": Secret}`` or ``{"user": str, "password": Secret}`` (a :class:`~ucexplore.redact.Secret`
        shows as ``*****`` in every repr, so a traceback's frame locals never hold the text)."""
        return {}

    async def after_unauthorized(self) -> bool:
        """Called on a 401: return True when fresh credentials make one retry worthwhile."""
        return False

    def describe(self) -> str:
        """Who is signed in, without any secret (for provenance and status lines)."""
        return "anonymous"

    @property
    def user(self) -> str | None:
        """The user name behind these credentials, when known."""
        return None


class NoCredentials(Credentials):
    """Anonymous requests."""


class BasicCredentials(Unpicklable, Credentials):
    """HTTP Basic. The password is kept in a private attribute and registered for redaction."""

    kind = "basic"
    __slots__ = ("_user", "_password")
    _pickle_what = "a Basic credential"

    def __init__(self, user: str, password: str) -> None:
        if not user:
            raise ValueError("Basic auth needs a user name")
        self._user = user
        self._password = password
        register_secret(password)
        register_secret(self._header_value())

    def _header_value(self) -> str:
        return base64.b64encode(f"{self._user}:{self._password}".encode()).decode()

    async def authorization(self) -> str | None:
        return f"Basic {self._header_value()}"

    async def body_credential(self) -> dict[str, Any]:
        return {"user": self._user, "password": Secret(self._password)}

    def describe(self) -> str:
        return f"{self._user} (HTTP Basic)"

    @property
    def user(self) -> str | None:
        return self._user

    def __repr__(self) -> str:
        return f"<BasicCredentials user={self._user!r}>"


class TokenCredentials(Credentials):
    """A fixed token: used until it expires, then :class:`TokenExpired`."""

    kind = "bearer"

    def __init__(self, token: Token) -> None:
        self.token = token

    async def authorization(self) -> str | None:
        self._check()
        return self.token.authorization()

    async def body_credential(self) -> dict[str, Any]:
        self._check()
        return {"token": Secret(self.token.access_token)}

    def _check(self) -> None:
        if self.token.expired:
            raise TokenExpired(
                f"the {self.token.issuer or 'access'} token expired at {self.token.expires_at:%H:%M:%S} UTC",
                hint="sign in again (ux.login(flow) or flow.complete(...)) and pass the new token or the flow",
            )

    def describe(self) -> str:
        who = self.token.user or "unknown user"
        return f"Bearer token for {who}" + (f" from {self.token.issuer}" if self.token.issuer else "")

    @property
    def user(self) -> str | None:
        return self.token.user


class FlowCredentials(Credentials):
    """A sign-in flow: its current token, refreshed automatically where the product allows it."""

    kind = "bearer"

    def __init__(self, flow: SignInFlow) -> None:
        self.flow = flow

    async def authorization(self) -> str | None:
        return (await self.flow.ensure_fresh_async()).authorization()

    async def body_credential(self) -> dict[str, Any]:
        return {"token": Secret((await self.flow.ensure_fresh_async()).access_token)}

    async def after_unauthorized(self) -> bool:
        current = self.flow.token
        if current is None:
            return False
        return await self.flow.refresh_after_401_async(current) is not None

    def describe(self) -> str:
        tok = self.flow.token
        who = (tok.user or "signed in") if tok else "not signed in"
        return f"{type(self.flow).__name__} ({who})"

    @property
    def user(self) -> str | None:
        return self.flow.token.user if self.flow.token else None


def resolve_auth(auth: Any) -> Credentials:
    """Turn any accepted ``auth=`` value into :class:`Credentials`.

    Example::

        >>> resolve_auth(None).kind
        'none'
        >>> resolve_auth("a-bearer-token-text").kind
        'bearer'
    """
    if auth is None:
        return NoCredentials()
    if isinstance(auth, Credentials):
        return auth
    if isinstance(auth, Token):
        return TokenCredentials(auth)
    if isinstance(auth, str):
        return TokenCredentials(Token(auth.strip()))
    if isinstance(auth, tuple) and len(auth) == 2 and all(isinstance(x, str) for x in auth):
        return BasicCredentials(*auth)
    if hasattr(auth, "ensure_fresh_async"):
        return FlowCredentials(auth)
    raise TypeError(
        "auth= takes a ux.Token, a bearer token string, a (user, password) tuple, or a sign-in flow "
        f"(ux.CucmSSO, ux.UnitySSO, ux.FinesseSSO, ux.WebexOAuth); got {type(auth).__name__}"
    )


def not_signed_in(product: str, hint: str) -> NotSignedIn:
    """The standard NotSignedIn error for ``product``."""
    return NotSignedIn(f"{product} is not signed in yet", hint=hint)
