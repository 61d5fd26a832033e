"""The sign-in flows, one per product: :class:`CucmSSO`, :class:`UnitySSO`, :class:`FinesseSSO`, :class:`WebexOAuth`.

Every flow offers ``authorize_url`` (the page to open in a browser), ``complete(pasted)`` / ``complete_async``,
``token``, ``signed_in``, ``sign_out()``, ``sign_in_hint()``, ``on_change`` (callbacks ``callback(event, flow)``
with event ``"signed_in"``, ``"refreshed"`` or ``"signed_out"``), ``ensure_fresh_async()`` and
``refresh_after_401_async(rejected)`` (what the transport asks), and — where the product allows it —
``refresh(tok)`` / ``refresh_async(tok)``.

``complete(pasted)`` checks what is pasted (RFC 9700): an address must be the flow's ``redirect_uri`` and carry
the ``state`` of this attempt (CUCM/Unity: ``require_state=False`` is the explicit opt-out for a server that does
not echo it); a bare token is the person's explicit choice and is accepted, a bare Webex code is not; tokens are
always sent as ``Bearer``. ``FinesseSSO.refresh_url()`` returns a :class:`SecretURL` (masked when shown,
``.reveal()`` for the real address, never pickled).

Example::

    >>> from ucexplore.auth.flows import CucmSSO
    >>> flow = CucmSSO("https://cucm.example.com:8443", redirect_uri="https://app.example.com/cb")
    >>> flow
    <CucmSSO cucm cucm.example.com:8443 not signed in>
"""

from __future__ import annotations

from .base import SignInFlowBase
from .finesse import FinesseSSO, SecretURL
from .implicit import DEVNET_CLIENT_ID, UC_SCOPE, CucmSSO, UnitySSO
from .webex import DEFAULT_SCOPES, WEBEX_BASE_URL, WebexOAuth, pkce_challenge

__all__ = [
    "SignInFlowBase",
    "CucmSSO",
    "UnitySSO",
    "FinesseSSO",
    "SecretURL",
    "WebexOAuth",
    "pkce_challenge",
    "DEVNET_CLIENT_ID",
    "UC_SCOPE",
    "DEFAULT_SCOPES",
    "WEBEX_BASE_URL",
    "flow_for",
]

_PRODUCTS = {"cucm": CucmSSO, "unity": UnitySSO, "finesse": FinesseSSO, "webex": WebexOAuth}


def flow_for(product: str) -> type[SignInFlowBase]:
    """The flow class for ``"cucm"``, ``"unity"``, ``"finesse"`` or ``"webex"``.

    Example::

        >>> flow_for("unity").__name__
        'UnitySSO'
    """
    try:
        return _PRODUCTS[product.lower().strip()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown product {product!r}: use one of {', '.join(_PRODUCTS)}") from None
