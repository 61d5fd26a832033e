"""Token-endpoint requests (code exchange, refresh) through :mod:`ucexplore.transport`, and their errors.

Example::

    >>> data = await post_form_json(transport, "https://finesse:8445/desktop/sso/token",
    ...                             {"token": "…", "refresh-token": "…"}, product="Finesse",
    ...                             hint="sign in again", refresh=True)          # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any, Callable

import httpx

from ...errors import ApiError, ParseError, SSOError, TokenExpired, UcError
from ..paste import quote_idp_text

__all__ = ["post_form_json", "token_error_decoder"]


def _server_message(response: httpx.Response) -> tuple[str, str | None, str | None]:
    """(message, error code, tracking id) from an OAuth/Webex/Finesse error body, never the body itself."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    message, code, tracking = "", None, response.headers.get("trackingid")
    if isinstance(body, dict):
        code = body.get("error") if isinstance(body.get("error"), str) else None
        parts = [body.get("error_description"), body.get("message")]
        errs = body.get("errors")
        if isinstance(errs, list):
            parts += [e.get("description") for e in errs if isinstance(e, dict)]
        elif isinstance(errs, dict):
            parts.append(errs.get("message"))
        message = next((str(p) for p in parts if isinstance(p, str) and p.strip()), "")
        tracking = body.get("trackingId") if isinstance(body.get("trackingId"), str) else tracking
    return quote_idp_text(message, 300), code, tracking


def token_error_decoder(product: str, hint: str, *, refresh: bool) -> Callable[[httpx.Response], UcError]:
    """The exception for a refused token request: ``TokenExpired`` for a refused refresh (sign in again),
    ``SSOError`` for a refused code exchange, ``ApiError`` for anything else."""

    def decode(response: httpx.Response) -> UcError:
        status = response.status_code
        message, code, tracking = _server_message(response)
        detail = f": {message}" if message else (f": {code}" if code else "")
        if status in (400, 401, 403):
            if refresh:
                return TokenExpired(f"{product} refused to refresh the token ({status}{detail})", hint=hint)
            return SSOError(f"{product} refused the sign-in code ({status}{detail})", hint=hint)
        return ApiError(f"the {product} token request failed{detail}", status=status, code=code,
                        server_message=message or None, tracking_id=tracking, service=f"{product.lower()}-sso",
                        hint=hint if status < 500 else f"the server had a problem; try again later, or {hint}")

    return decode


async def post_form_json(transport: Any, url: str, form: dict[str, str], *, product: str, hint: str,
                         refresh: bool) -> dict[str, Any]:
    """POST ``form`` (x-www-form-urlencoded) to a token endpoint and return its JSON object.

    A body that is not JSON (an HTML login page after redirects: the server wants a browser) becomes
    ``TokenExpired`` for a refresh and ``SSOError`` for a sign-in.
    """
    response = await transport.request(
        "POST", url, data=form, auth=False,
        headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"},
        error_decoder=token_error_decoder(product, hint, refresh=refresh),
    )
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        ctype = response.headers.get("Content-Type", "")
        if "html" in ctype.lower() or response.content.lstrip()[:1] == b"<":
            what = f"{product} answered with a web page instead of a token: it wants a browser sign-in"
            if refresh:
                raise TokenExpired(what, hint=hint)
            raise SSOError(what, hint=hint)
        raise ParseError(f"{product} answered the token request with something that is not a JSON object",
                         excerpt=None, content_type=ctype or None, hint=hint)
    if isinstance(data.get("error"), str):
        err = quote_idp_text(data["error"], 80)
        desc = data.get("error_description")
        text = f"{product} refused the token request: {err}" + (
            f" — {quote_idp_text(desc, 200)}" if isinstance(desc, str) else "")
        raise (TokenExpired(text, hint=hint) if refresh else SSOError(text, hint=hint))
    return data
