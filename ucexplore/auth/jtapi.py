"""Hand a CUCM SSO token to a JTAPI/TAPI application (ucexplore itself does not speak JTAPI/CTI).

Cisco JTAPI opens a provider with ``JtapiPeer.getProvider(providerString)``. The documented form for a user
and password is ``"<cti-manager>;login=<user>;passwd=<password>"`` (Cisco JTAPI Developer Guide; DevNet
``jtapi-samples``). With SSO enabled on CUCM (10.5+), JTAPI end users may open the provider with the SSO token
issued by CUCM's ``/ssosp/oauth/authorize`` — the same token :class:`~ucexplore.auth.flows.CucmSSO` obtains
(the guide's message-sequence charts show ``getProvider()`` called "with the singlesignon ticket", and errors
``CTIERR_SSO_DISABLED`` / ``CTIERR_DIRECTORY_LOGIN_FAILED``).

**Assumption** (not confirmed from a public source during development): the token goes in the provider string
as ``ssoticket=<token>`` in place of ``passwd=``. The parameter name is therefore configurable (``key=``); check
your JTAPI version's developer guide ("Single Sign-On" feature) before relying on it.

The returned string carries the token: pass it straight to the application, never print or log it (the token
text is registered for redaction, so ucexplore's own messages mask it).

Example::

    >>> from ucexplore.auth.token import Token
    >>> s = provider_string("cucm-pub.example.com", Token("MjpkZTkxYjNmYS0wYzU2", expires_in=3600), user="jdoe")
    >>> s.split(";")[:2]
    ['cucm-pub.example.com', 'login=jdoe']
"""

from __future__ import annotations

from typing import Any

from ..errors import NotSignedIn, TokenExpired
from .token import Token

__all__ = ["provider_string", "SSO_TICKET_KEY"]

#: The provider-string parameter assumed to carry the SSO token (see the module docstring).
SSO_TICKET_KEY = "ssoticket"


def _token_of(source: Any) -> Token:
    if isinstance(source, Token):
        return source
    if isinstance(source, str):
        return Token(source.strip(), issuer="cucm")
    tok = getattr(source, "token", None)
    if isinstance(tok, Token):
        return tok
    if hasattr(source, "ensure_fresh_async"):
        raise NotSignedIn("the CUCM flow is not signed in yet",
                          hint=getattr(source, "sign_in_hint", lambda: "sign in with ux.login(flow)")())
    raise TypeError("provider_string() takes a ux.Token, a token string, or a signed-in ux.CucmSSO flow")


def provider_string(
    cti_managers: str | list[str] | tuple[str, ...],
    token: Any,
    *,
    user: str | None = None,
    key: str = SSO_TICKET_KEY,
    extra: dict[str, str] | None = None,
) -> str:
    """The JTAPI provider string ``"<cti-manager>[,<backup>];login=<user>;<key>=<token>[;k=v…]"``.

    ``token`` is a :class:`Token`, a token string or a signed-in :class:`CucmSSO`; ``user`` defaults to the
    token's user. Several CTI managers are joined with commas. A token issued by Unity Connection, Finesse or
    Webex is refused: only CUCM validates CTI sign-ins.

    **The result contains the token.**
    """
    tok = _token_of(token)
    if tok.issuer not in (None, "cucm"):
        raise ValueError(f"JTAPI needs a CUCM-issued token, not one issued by {tok.issuer!r}")
    if tok.expired:
        raise TokenExpired("the CUCM token has expired; JTAPI would refuse it",
                           hint="sign in again (ux.login(flow)) and build the provider string from the new token")
    hosts = [cti_managers] if isinstance(cti_managers, str) else list(cti_managers)
    hosts = [h.strip() for h in hosts if h and h.strip()]
    if not hosts:
        raise ValueError("give at least one CTI Manager host (the CUCM node running the CTI Manager service)")
    for h in hosts:
        if any(c in h for c in ";,= "):
            raise ValueError(f"not a host name: {h!r}")
    parts = [",".join(hosts)]
    who = user or tok.user
    if who:
        parts.append(f"login={who}")
    parts.append(f"{key}={tok.access_token}")
    for k, v in (extra or {}).items():
        parts.append(f"{k}={v}")
    return ";".join(parts)
