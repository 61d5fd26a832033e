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

import hmac
import logging
import re
import threading
from typing import Any, Iterable

__all__ = ["MASK", "Secret", "SecretBody", "Unpicklable", "register_secret", "forget_secret", "redact",
           "redact_url", "redact_params"]

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


class Unpicklable:
    """Mixin of every object that holds a credential: pickling it (IPython ``%store``, dill, multiprocessing)
    raises ``TypeError`` saying what to do instead (and so does ``copy``, unless the class allows it).

    Subclasses name themselves in ``_pickle_what`` and may say what to do in ``_pickle_hint``.

    Example::

        >>> import pickle
        >>> class Holder(Unpicklable):
        ...     _pickle_what = "a holder"
        >>> pickle.dumps(Holder())
        Traceback (most recent call last):
        ...
        TypeError: a holder holds a credential and cannot be pickled; create it again in the new process
    """

    __slots__ = ()
    _pickle_what: str = "this object"
    _pickle_hint: str = "create it again in the new process"

    def _refuse(self) -> TypeError:
        return TypeError(f"{self._pickle_what} holds a credential and cannot be pickled; {self._pickle_hint}")

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise self._refuse()

    def __reduce__(self) -> Any:
        raise self._refuse()

    def __getstate__(self) -> Any:
        raise self._refuse()


class Secret(Unpicklable):
    """A credential string that shows as ``*****`` in every repr, str and format; ``reveal()`` gives the text.

    Credentials that travel in a body (WebDialer SOAP, the Webex XML API) are handed around as ``Secret`` so
    that a traceback's frame locals (``%xmode Verbose``, ``pytest --showlocals``, Sentry) never show them.

    Example::

        >>> s = Secret("pa55word-text")
        >>> s, f"{s}", s.reveal()
        (Secret('*****'), '*****', 'pa55word-text')
    """

    __slots__ = ("_value",)
    _pickle_what = "a Secret"

    def __init__(self, value: str) -> None:
        self._value = str(value)
        register_secret(self._value)

    def reveal(self) -> str:
        """The secret text itself (for the request being built, nothing else)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __copy__(self) -> "Secret":  # immutable: a copy is the object itself
        return self

    def __deepcopy__(self, memo: Any) -> "Secret":
        return self


class SecretBody(Unpicklable):
    """A request body built from plain text and :class:`Secret` parts; only the transport reveals it.

    Example::

        >>> body = SecretBody("<password>", Secret("pa55word-text"), "</password>")
        >>> body, body.reveal()
        (SecretBody('<password>*****</password>'), b'<password>pa55word-text</password>')
        >>> (body + "<more/>").reveal()[-7:]
        b'<more/>'
    """

    __slots__ = ("_parts",)
    _pickle_what = "a request body with a credential"

    def __init__(self, *parts: "str | Secret | SecretBody") -> None:
        flat: list[str | Secret] = []
        for part in parts:
            if isinstance(part, SecretBody):
                flat.extend(part._parts)
            elif isinstance(part, (str, Secret)):
                flat.append(part)
            else:
                raise TypeError(f"SecretBody parts are str or Secret, got {type(part).__name__}")
        self._parts = tuple(flat)

    def reveal(self) -> bytes:
        """The body as UTF-8 bytes, secrets included."""
        return "".join(p.reveal() if isinstance(p, Secret) else p for p in self._parts).encode("utf-8")

    def __add__(self, other: "str | Secret | SecretBody") -> "SecretBody":
        return SecretBody(self, other)

    def __radd__(self, other: "str | Secret") -> "SecretBody":
        return SecretBody(other, self)

    def __repr__(self) -> str:
        return f"SecretBody({''.join(str(p) for p in self._parts)!r})"

    __str__ = __repr__

    def __copy__(self) -> "SecretBody":  # immutable: a copy is the object itself
        return self

    def __deepcopy__(self, memo: Any) -> "SecretBody":
        return self


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
