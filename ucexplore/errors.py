"""The one exception tree of ucexplore.

::

    UcError                     every failure; its message says what to do next
    ├── NotSignedIn             a data call before the sign-in finished
    ├── TokenExpired            the token ran out and cannot be refreshed: sign in again
    ├── SSOError                a bad paste, a state mismatch, an error sent back by the identity provider
    ├── InvalidArgument         a call was given a value it cannot take (also a ValueError and a TypeError)
    ├── ConnectionFailed        DNS, refused connection, timeout, TLS verification failure
    │   └── RedirectRefused     a request carrying credentials was redirected to another origin
    ├── ParseError              a body that is not what the endpoint sends (truncated, HTML, wrong type)
    └── ApiError                the server answered with an error (status, type, code, message, tracking id)
        ├── RateLimited         429 (or the XML API's 000045) after the retries were used up
        └── ServerBusy          503 after the retries were used up

Every message passes through :func:`ucexplore.redact.redact`, so no token, password or session ticket can
end up in ``str(exc)``, a traceback or a log.

In IPython and Jupyter a ``UcError`` shows as a short card (what failed, what to do, where it came from)
instead of a traceback wall; :func:`debug` ``(True)`` brings the full traceback back, and
:func:`last_error` returns the last one (with ``.partial`` rows when a pull failed half-way). Plain Python
scripts keep their normal tracebacks.

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
    "card_html",
    "debug",
    "last_error",
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


_debug = False
_last: "UcError | None" = None

#: the most lines an error card shows (the message is cut before that)
CARD_LINES = 12


def debug(on: bool = True) -> bool:
    """Show full tracebacks for ucexplore errors in notebooks (``True``) or short cards (``False``, the default);
    returns the previous setting.

    Example::

        >>> previous = debug(True); debug(previous)
        True
    """
    global _debug
    previous, _debug = _debug, bool(on)
    return previous


def last_error() -> "UcError | None":
    """The last ucexplore error raised (in a notebook: the one the card above shows), e.g. to get the rows a
    failed pull kept: ``ux.last_error().partial``.

    Example::

        >>> err = remember(UcError("it failed", hint="do this"))
        >>> str(last_error())
        'it failed\\n→ do this'
    """
    import sys

    if _last is not None:
        return _last
    shown = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)  # what IPython showed last
    return shown if isinstance(shown, UcError) else None


def remember(err: "UcError") -> "UcError":
    """Make ``err`` what :func:`last_error` returns (services call it as a failed call ends); returns it."""
    global _last
    _last = err
    return err


class UcError(Exception):
    """Base class of every ucexplore error. ``str(err)`` is redacted and ends with the fix when known.

    ``service``, ``host``, ``method`` and ``url`` say where it came from when known (the transport fills them
    in); a notebook shows the error as a short card (see :func:`debug`).
    """

    service: str | None = None
    host: str | None = None
    method: str | None = None
    url: str | None = None

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

    @property
    def where(self) -> str:
        """Where the error came from: ``service method url`` (redacted), or ``host``; empty when unknown."""
        parts = [p for p in (self.service, self.method, self.url or self.host) if p]
        return redact(" ".join(str(p) for p in parts))

    def card_lines(self) -> list[str]:
        """The short card: ``Class: what failed``, ``→ what to do``, ``where: …`` (at most :data:`CARD_LINES`)."""
        head, _, fix = self.message.partition("\n→ ")
        lines = [f"{type(self).__name__}: {head.strip()}"]
        lines += [f"→ {line}" for line in fix.strip().splitlines() if line.strip()]
        partial = getattr(self, "partial", None)
        if partial is not None and "ux.last_error().partial" not in self.message:
            lines.append(f"→ the {len(partial):,} rows fetched before the error: ux.last_error().partial")
        if self.where:
            lines.append(f"  where: {self.where}")
        if len(lines) > CARD_LINES - 1:
            lines = lines[: CARD_LINES - 2] + ["  …"]
        lines.append("  (ux.debug(True) shows the full traceback)")
        return lines

    @property
    def _render_traceback_(self) -> Any:
        """IPython's hook for a custom traceback: the card (absent with ``ux.debug(True)``)."""
        if _debug:
            raise AttributeError("_render_traceback_")  # hasattr() is False: IPython shows the full traceback
        remember(self)
        red, bold, dim, reset = "\x1b[31m", "\x1b[1m", "\x1b[2m", "\x1b[0m"

        def render() -> list[str]:
            lines = self.card_lines()
            name, _, rest = lines[0].partition(": ")
            out = [f"{red}{bold}{name}{reset}: {rest}"]
            out += [f"{dim}{line}{reset}" if line.startswith("  ") else line for line in lines[1:]]
            return out

        return render

    def _repr_html_(self) -> str:
        """Render as a short, readable box in a notebook (when the error is displayed as a value)."""
        lines = self.card_lines()[:-1]
        return card_html(type(self).__name__, lines[0].partition(": ")[2], [line.strip() for line in lines[1:]])


def card_html(title: str, message: str, lines: Any = ()) -> str:
    """The HTML of an error card (every widget's and every error's): **title**: message, then each of ``lines``
    (e.g. ``"→ what to do"``) on its own line; all text escaped.

    Example::

        >>> html = card_html("NotSignedIn", "CUCM <not> signed in", ["→ run ux.login(flow)"])
        >>> "<b>NotSignedIn</b>: CUCM &lt;not&gt; signed in" in html, "→ run ux.login(flow)</div>" in html
        (True, True)
    """
    import html

    head = f"<b>{html.escape(title)}</b>: " if title else ""
    rest = "".join(f"<div style='margin-top:2px'>{html.escape(line)}</div>" for line in lines if line)
    return (f"<div class='ucx-error' style='border-left:4px solid #c0392b;padding:4px 8px'>"
            f"{head}{html.escape(message)}{rest}</div>")


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


class InvalidArgument(UcError, ValueError, TypeError):
    """A call was given a value (or an argument) it cannot take; the message says what it accepts. It is also a
    ``ValueError`` and a ``TypeError``, as Python raises for such mistakes.

    Example::

        >>> err = InvalidArgument("limit= takes a whole number")
        >>> isinstance(err, ValueError), isinstance(err, TypeError)
        (True, True)
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
