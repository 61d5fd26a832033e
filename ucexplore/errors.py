"""The one exception tree of ucexplore.

::

    UcError                     every failure; its message says what to do next
    ├── NotSignedIn             a data call before the sign-in finished
    ├── TokenExpired            the token ran out and cannot be refreshed: sign in again
    ├── SSOError                a bad paste, a state mismatch, an error sent back by the identity provider
    ├── InvalidArgument         a call was given a value it cannot take (also a ValueError)
    ├── ConnectionFailed        DNS, refused connection, timeout, TLS verification failure
    │   └── RedirectRefused     a request carrying credentials was redirected to another origin
    ├── ParseError              a body that is not what the endpoint sends (truncated, HTML, wrong type)
    └── ApiError                the server answered with an error (status, type, code, message, tracking id)
        ├── RateLimited         429 (or the XML API's 000045) after the retries were used up
        └── ServerBusy          503 after the retries were used up

Every message passes through :func:`ucexplore.redact.redact`, so no token, password or session ticket can
end up in ``str(exc)``, a traceback or a log.

Example::

    >>> from ucexplore.errors import ApiError
    >>> err = ApiError("Not found", status=404, service="uds", url="https://cucm:8443/cucm-uds/user/x")
    >>> err.status
    404
"""

from __future__ import annotations

from typing import Any

from .redact import redact

__all__ = [
    "UcError",
    "NotSignedIn",
    "TokenExpired",
    "SSOError",
    "InvalidArgument",
    "ConnectionFailed",
    "RedirectRefused",
    "ParseError",
    "ApiError",
    "RateLimited",
    "ServerBusy",
]


class UcError(Exception):
    """Base class of every ucexplore error. ``str(err)`` is redacted and ends with the fix when known."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.hint = redact(hint) if hint else None
        text = redact(message)
        if self.hint:
            text = f"{text}\n→ {self.hint}"
        super().__init__(text)

    @property
    def message(self) -> str:
        """The redacted message, including the hint."""
        return str(self.args[0]) if self.args else ""

    def _repr_html_(self) -> str:
        """Render as a short, readable box in a notebook."""
        import html

        head, _, tail = self.message.partition("\n→ ")
        fix = f"<div style='margin-top:4px'>→ {html.escape(tail)}</div>" if tail else ""
        return (
            f"<div class='ucx-error' style='border-left:4px solid #c0392b;padding:4px 8px'>"
            f"<b>{type(self).__name__}</b>: {html.escape(head)}{fix}</div>"
        )


class NotSignedIn(UcError):
    """A data call was made with a flow whose sign-in has not been completed yet.

    Example::

        >>> raise NotSignedIn("CUCM is not signed in yet", hint="run the ux.login(flow) cell and sign in")
        Traceback (most recent call last):
        ...
        ucexplore.errors.NotSignedIn: CUCM is not signed in yet
        → run the ux.login(flow) cell and sign in
    """


class TokenExpired(UcError):
    """The access token has expired and cannot be refreshed; the hint says how to sign in again."""


class SSOError(UcError):
    """The sign-in could not be completed: bad paste, state mismatch, or an error from the identity provider."""


class InvalidArgument(UcError, ValueError):
    """A call was given a value it cannot take; the message says what it accepts.

    Example::

        >>> isinstance(InvalidArgument("limit= takes a whole number"), ValueError)
        True
    """


class ConnectionFailed(UcError):
    """The server could not be reached (DNS, refused, timeout) or its TLS certificate did not verify."""

    def __init__(self, message: str, *, host: str | None = None, hint: str | None = None) -> None:
        self.host = host
        super().__init__(message, hint=hint)


class RedirectRefused(ConnectionFailed):
    """The server redirected a request that carries credentials (a header, a password or token in the body, a
    secret query parameter) to another origin; ucexplore does not follow it. The message names both origins."""


class ParseError(UcError):
    """A response body could not be decoded; ``excerpt`` holds its first bytes, redacted."""

    def __init__(
        self,
        message: str,
        *,
        excerpt: str | bytes | None = None,
        content_type: str | None = None,
        url: str | None = None,
        hint: str | None = None,
    ) -> None:
        if isinstance(excerpt, bytes):
            excerpt = excerpt[:200].decode("utf-8", "replace")
        self.excerpt = redact(excerpt[:200]) if excerpt else ""
        self.content_type = content_type
        self.url = redact(url) if url else None
        where = f" from {self.url}" if self.url else ""
        ctype = f" ({content_type})" if content_type else ""
        text = f"{message}{where}{ctype}"
        if self.excerpt:
            text += f"; body starts: {self.excerpt!r}"
        super().__init__(text, hint=hint)


class ApiError(UcError):
    """The server answered with an error.

    Attributes: ``status`` (HTTP status), ``error_type``, ``code`` and ``server_message`` (the product's own
    error fields), ``tracking_id`` (Webex), ``service`` and ``url`` (redacted).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        code: str | None = None,
        server_message: str | None = None,
        tracking_id: str | None = None,
        service: str | None = None,
        url: str | None = None,
        hint: str | None = None,
        details: Any = None,
    ) -> None:
        self.status = status
        self.error_type = error_type
        self.code = code
        self.server_message = redact(server_message) if server_message else None
        self.tracking_id = tracking_id
        self.service = service
        self.url = redact(url) if url else None
        self.details = _redact_any(details)
        parts = [message]
        if status is not None:
            parts.insert(0, f"[{status}]")
        if tracking_id:
            parts.append(f"[Tracking ID: {tracking_id}]")
        super().__init__(" ".join(parts), hint=hint)


def _redact_any(value: Any) -> Any:
    """``value`` with every string in it redacted (the server's error details may echo a credential)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_any(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_any(v) for v in value)
    return value


class RateLimited(ApiError):
    """The server kept answering 429 (too many requests); ``retry_after`` is its last advice in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        kw.setdefault(
            "hint",
            "the server is throttling this client: wait"
            + (f" {retry_after:g} s" if retry_after else " a minute")
            + ", lower max_concurrency=, or pull less with limit=",
        )
        super().__init__(message, **kw)


class ServerBusy(ApiError):
    """The server kept answering 503 (temporarily overloaded or out of service)."""

    def __init__(self, message: str, **kw: Any) -> None:
        kw.setdefault("hint", "the server is overloaded or out of service: try again in a few minutes")
        super().__init__(message, **kw)
