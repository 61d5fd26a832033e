"""Keep secrets out of every string a person or a log can see.

Two complementary mechanisms:

* a process-wide registry of live secret values (tokens, refresh tokens, passwords, session tickets):
  every :class:`~ucexplore.auth.Token` and every Basic credential registers its secrets on creation, so the
  exact text is masked wherever it shows up;
* patterns for secrets that were never registered (an ``access_token=`` in a pasted URL, an
  ``Authorization`` header, a ``<sessionTicket>`` in an XML body).

Example::

    >>> from ucexplore.redact import register_secret, redact
    >>> register_secret("s3cr3t-token-value")
    >>> redact("Bearer s3cr3t-token-value failed")
    'Bearer ***** failed'
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, Iterable

__all__ = ["MASK", "register_secret", "forget_secret", "redact", "redact_url", "redact_params"]

MASK = "*****"

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

# Query/form/JSON/XML keys whose values are secrets wherever they appear.
SECRET_KEYS = (
    "access_token",
    "refresh_token",
    "refresh-token",
    "token",
    "id_token",
    "code_verifier",
    "client_secret",
    "password",
    "passwd",
    "sessionTicket",
    "SAMLResponse",
    "accessToken",
    "Credentials",
)
_KEYS = "|".join(re.escape(k) for k in SECRET_KEYS)
# An OAuth authorization ``code`` is a secret in a URL but an error code in a JSON or XML body is not.
_URL_KEYS = _KEYS + "|code"
_PATTERNS = [
    # key=value in URLs, fragments and form bodies
    re.compile(rf"(?i)(?<![A-Za-z0-9_-])({_URL_KEYS})=([^&#\s\"'<>]+)"),
    # "key": "value" in JSON
    re.compile(rf"(?i)(\"(?:{_KEYS})\"\s*:\s*\")([^\"]+)(\")"),
    # <key>value</key> in XML (optionally namespaced)
    re.compile(rf"(?i)(<(?:\w+:)?(?:{_KEYS})>)([^<]+)(</)"),
    # Authorization headers
    re.compile(r"(?i)\b(Bearer|Basic)\s+([A-Za-z0-9._~+/=-]{8,})"),
]


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that :func:`redact` masks it everywhere (values under 6 characters are ignored)."""
    global _pattern
    if not value or len(value) < 6:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        _pattern = None


def forget_secret(value: str | None) -> None:
    """Stop masking ``value`` (used when a token is discarded on sign-out)."""
    global _pattern
    with _lock:
        if value in _secrets:
            _secrets.discard(value)  # type: ignore[arg-type]
            _pattern = None


def _secret_pattern() -> re.Pattern[str] | None:
    global _pattern
    with _lock:
        if _pattern is None and _secrets:
            ordered = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(s) for s in ordered))
        return _pattern


def redact(text: Any) -> str:
    """Return ``str(text)`` with every registered secret and every secret-looking field masked.

    Example::

        >>> redact("https://app/cb#access_token=abc123def&expires_in=3600")
        'https://app/cb#access_token=*****&expires_in=3600'
    """
    s = text if isinstance(text, str) else str(text)
    pat = _secret_pattern()
    if pat is not None:
        s = pat.sub(MASK, s)
    s = _PATTERNS[0].sub(lambda m: f"{m.group(1)}={MASK}", s)
    s = _PATTERNS[1].sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", s)
    s = _PATTERNS[2].sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", s)
    s = _PATTERNS[3].sub(lambda m: f"{m.group(1)} {MASK}", s)
    return s


def redact_url(url: Any) -> str:
    """Mask secret query/fragment values of a URL (alias of :func:`redact`, named for intent)."""
    return redact(url)


def redact_params(params: dict[str, Any] | Iterable[tuple[str, Any]] | None) -> dict[str, Any]:
    """Copy ``params`` with secret keys masked, for provenance records.

    Example::

        >>> redact_params({"max": 10, "refresh_token": "x"})
        {'max': 10, 'refresh_token': '*****'}
    """
    if not params:
        return {}
    items = params.items() if isinstance(params, dict) else params
    lowered = {k.lower() for k in SECRET_KEYS}
    out: dict[str, Any] = {}
    for key, value in items:
        out[key] = MASK if str(key).lower() in lowered else (redact(value) if isinstance(value, str) else value)
    return out


class _RedactingFilter(logging.Filter):
    """Redacts the records of httpx's and httpcore's own loggers: at DEBUG httpcore logs response headers (the
    ``Location: …#access_token=…`` of a sign-in redirect), and httpx logs every URL at INFO. Records are only
    built when those loggers are enabled, so this costs nothing otherwise."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is left to logging's own error handling
            return True
        clean = redact(text)
        if clean != text:
            record.msg, record.args = clean, None
        return True


#: the third-party loggers that may carry a URL or a header (filters attach to the logger that logs)
HTTP_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy")
_LOG_FILTER = _RedactingFilter()
for _name in HTTP_LOGGERS:
    logging.getLogger(_name).addFilter(_LOG_FILTER)
