"""The UC SSO implicit grant (``/ssosp``) as CUCM and Unity Connection both serve it (cisco-api-notes §1).

Routes (:func:`sso_routes`):

- ``GET /ssosp/oauth/authorize`` — the implicit grant: a fixed ``client_id`` (CUCM's or Jabber's),
  ``response_type=token``, ``scope=UnifiedCommunications:readwrite`` and a registered ``redirect_uri``, each
  exactly once (``state`` optional). Anything else is HTTP 400 with the byte-exact quasi-JSON
  ``INVALID_REQUEST`` body (:data:`INVALID_REQUEST_BODY`, not valid JSON: the value is unquoted), sent as
  ``application/json;charset=UTF-8``. A valid request is remembered as a sign-in transaction and redirected
  (302) to the lab IdP.
- The ACS (``context.ACS_PATHS[sp]``, GET or POST binding) — the IdP's hop back: the assertion must be valid
  for ``sp`` (else 403) and the transaction known and fresh (else 400); then 302 to
  ``redirect_uri#access_token=…&token_type=Bearer&expires_in=…[&state=…]`` with a token from
  ``ctx.issuers[sp]`` (tokens are per issuer: a CUCM token is no good at Unity).
- ``GET /ssosp/ws/public/singleSignOn`` — anonymous: ``<Response><SingleSignOn><Status enabled="true"/>…``.

Product-specific routes (CUCM's ``/ssosp/token/revoke``) and answers to a wrong method stay in the product
module. Example::

    >>> app = Starlette(routes=[*sso_routes(ctx, "unity"), ...])        # doctest: +SKIP
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .asgi import xml_response
from .context import ACS_PATHS, CUCM_CLIENT_ID, JABBER_CLIENT_ID, LabContext, xml_escape

__all__ = ["INVALID_REQUEST_BODY", "SSO_CLIENT_IDS", "SSO_SCOPE", "TXN_TTL", "invalid_request", "sso_routes"]

#: The documented malformed-request answer of /ssosp/oauth/authorize, byte for byte (not valid JSON: the
#: value is unquoted).
INVALID_REQUEST_BODY = (
    b'{"error":INVALID_REQUEST,"error_description":"The request is missing a required parameter, includes an '
    b'invalid parameter value, includes a parameter more than once, or is otherwise malformed."}'
)
SSO_SCOPE = "UnifiedCommunications:readwrite"
SSO_CLIENT_IDS = frozenset({CUCM_CLIENT_ID, JABBER_CLIENT_ID})
TXN_TTL = 600.0  #: seconds a sign-in transaction (authorize → ACS) stays valid
TXN_MAX = 10_000  #: pending transactions kept at most (the oldest go first)

_NO_STORE = {"Cache-Control": "no-store"}
_SINGLE_SIGN_ON = ('<Response><SingleSignOn><Status enabled="true"/><Protocol>SAML</Protocol>'
                   '<OAuthRefreshLogin enabled="false"/></SingleSignOn></Response>')

Endpoint = Callable[[Request], Any]


def invalid_request() -> Response:
    """The byte-exact ``INVALID_REQUEST`` answer (HTTP 400)."""
    return Response(INVALID_REQUEST_BODY, status_code=400, media_type="application/json;charset=UTF-8",
                    headers=_NO_STORE)


def _error_page(message: str, status: int) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Sign-in failed</title></head><body>"
        f"<h1>Sign-in failed</h1><p>{xml_escape(message)}</p></body></html>", status_code=status,
        headers=_NO_STORE)


class _Transactions:
    """Pending sign-ins: transaction id → what the ACS needs; expire after ``ttl``, at most ``limit``."""

    def __init__(self, ttl: float = TXN_TTL, limit: int = TXN_MAX) -> None:
        self.ttl = ttl
        self.limit = limit
        self._items: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()  # txn → (expiry, data)

    def add(self, data: dict[str, Any]) -> str:
        now = time.time()
        while self._items:
            expiry = next(iter(self._items.values()))[0]
            if expiry >= now and len(self._items) < self.limit:
                break
            self._items.popitem(last=False)
        txn = secrets.token_urlsafe(16)
        self._items[txn] = (now + self.ttl, data)
        return txn

    def take(self, txn: str) -> dict[str, Any] | None:
        """The transaction's data, once (None when unknown, used or expired)."""
        entry = self._items.pop(txn, None) if txn else None
        if entry is None or entry[0] < time.time():
            return None
        return entry[1]


def sso_routes(ctx: LabContext, sp: str, *, methods: Sequence[str] = ("GET",),
               wrap: Callable[[Endpoint], Endpoint] | None = None) -> list[Route]:
    """The authorize, ACS and singleSignOn routes of product ``sp`` (``"cucm"`` or ``"unity"``).

    ``methods`` are the methods the authorize and singleSignOn routes accept and ``wrap`` wraps their
    endpoints: CUCM accepts every method and answers the wrong ones with its own 405 page from ``wrap``; Unity
    leaves the 405 to Starlette and its exception handler. The ACS takes GET and POST (SAML bindings).
    """
    issuer = ctx.issuers[sp]
    transactions = _Transactions()
    guard = wrap or (lambda endpoint: endpoint)

    async def authorize(request: Request) -> Response:
        items = request.query_params.multi_items()
        if len({k for k, _ in items}) != len(items):  # a parameter more than once
            return invalid_request()
        q = dict(items)
        if (q.get("client_id") not in SSO_CLIENT_IDS or q.get("response_type") != "token"
                or q.get("scope") != SSO_SCOPE
                or q.get("redirect_uri") not in ctx.registered_redirect_uris()):
            return invalid_request()
        txn = transactions.add({"client_id": q["client_id"], "redirect_uri": q["redirect_uri"],
                                "state": q.get("state")})
        return RedirectResponse(ctx.idp_login_url(sp=sp, relay_state=txn), status_code=302, headers=_NO_STORE)

    async def acs(request: Request) -> Response:
        if request.method == "POST":  # HTTP-POST binding: a urlencoded form
            body = (await request.body()).decode("utf-8", "replace")
            fields = dict(parse_qsl(body, keep_blank_values=True))
        else:
            fields = dict(request.query_params)
        txn = transactions.take(fields.get("RelayState", ""))  # used up even when the assertion is bad
        name = ctx.verify_assertion(fields.get("SAMLResponse"), audience=sp)
        user = ctx.org.user_by_name(name) if name else None
        if user is None:
            return _error_page("The identity provider's assertion could not be verified.", 403)
        if txn is None:
            return _error_page("The sign-in request is unknown or has expired. "
                               "Start again from the application.", 400)
        grant = issuer.issue(user.username, client_id=txn["client_id"], scope=SSO_SCOPE)
        fragment = f"access_token={grant.access_token}&token_type=Bearer&expires_in={grant.expires_in}"
        if txn["state"] is not None:
            fragment += "&state=" + quote(txn["state"], safe="")
        target = txn["redirect_uri"].split("#", 1)[0] + "#" + fragment
        return RedirectResponse(target, status_code=302, headers=_NO_STORE)

    async def single_sign_on(request: Request) -> Response:
        return xml_response(_SINGLE_SIGN_ON, headers={"Access-Control-Allow-Origin": "*"})

    return [
        Route("/ssosp/oauth/authorize", guard(authorize), methods=list(methods)),
        Route(ACS_PATHS[sp], acs, methods=["GET", "POST"]),
        Route("/ssosp/ws/public/singleSignOn", guard(single_sign_on), methods=list(methods)),
    ]
