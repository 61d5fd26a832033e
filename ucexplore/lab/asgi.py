"""Small HTTP/ASGI helpers shared by the lab's product apps.

- :class:`StripTrailingSlash` — ASGI middleware: ``/vmrest/users/`` is routed as ``/vmrest/users`` (no
  redirect: API clients do not follow them).
- :func:`xml_response` — an ``application/xml`` answer with the XML declaration the Cisco servers send.
- :func:`xml_safe` — text without the characters XML 1.0 cannot carry (echoed input may hold NUL and friends).
- :func:`retry_after_value` — a ``Retry-After`` header value as the lab sends it.

Example::

    >>> xml_response("<a/>").body
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><a/>'
    >>> retry_after_value(2.0), retry_after_value(0.5)
    (b'2', b'0.5')
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

__all__ = ["XML_DECL", "StripTrailingSlash", "retry_after_value", "xml_response", "xml_safe"]

XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class StripTrailingSlash:
    """ASGI middleware: a path is routed without its trailing slashes (``/x/`` is ``/x``; ``/`` stays)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = dict(scope, path=path.rstrip("/") or "/")
                scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)


def xml_response(text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``text`` (an XML document without its declaration) as an ``application/xml`` response."""
    return Response((XML_DECL + text).encode("utf-8"), status_code=status, media_type="application/xml",
                    headers=headers)


def xml_safe(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot carry (NUL, other controls) replaced by U+FFFD."""
    return _XML_ILLEGAL.sub("\ufffd", text)


def retry_after_value(seconds: float) -> bytes:
    """``Retry-After`` as sent: an integer when whole, else the configured decimal; never negative."""
    value = max(0.0, float(seconds))
    return (str(int(value)) if value.is_integer() else f"{value:g}").encode()
