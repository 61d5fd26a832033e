"""The only place in ucexplore that speaks HTTP.

httpx underneath, async at the core. Every request goes through :meth:`Transport.request` (or
:meth:`Transport.fetch`, which also decodes the body inside the retry loop), which adds credentials, bounds
concurrency per host, retries politely (429, 503, dropped connections, truncated bodies) honouring
``Retry-After``, turns failures into the :mod:`ucexplore.errors` tree, and keeps secrets out of logs and
messages.

The synchronous API of every service runs its coroutine on one private, persistent event loop in a daemon
thread (:func:`run_sync`), so it behaves the same in a script, in a notebook cell (where a loop is already
running) and inside a running loop. One ``httpx.AsyncClient`` exists per event loop: the worker loop for
sync calls, the caller's loop for ``*_async`` calls.

Example::

    >>> t = Transport("https://cucm.example.com:8443", auth=("jdoe", "pa55word"), max_concurrency=4)
    >>> t.host
    'cucm.example.com:8443'
    >>> r = run_sync(t.request("GET", "/cucm-uds/version"))      # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import os
import random
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import httpx

from .auth.credentials import Credentials, resolve_auth
from .errors import (
    ApiError,
    ConnectionFailed,
    InvalidArgument,
    ParseError,
    RateLimited,
    RedirectRefused,
    ServerBusy,
    UcError,
)
from .redact import Secret, SecretBody, Unpicklable, redact, redact_params, redact_url

__all__ = [
    "IDEMPOTENT_METHODS",
    "MAX_BODY_BYTES",
    "Progress",
    "RetryPolicy",
    "Transport",
    "check_plain_http",
    "check_verify",
    "default_error_decoder",
    "parse_retry_after",
    "run_sync",
]

log = logging.getLogger("ucexplore.transport")

T = TypeVar("T")

#: Methods that may be re-sent after a dropped connection or a timeout.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

#: Bodies larger than this are refused (a 20,000-user UDS pull is ~7 MB in 64-user pages).
MAX_BODY_BYTES = 64 * 1024 * 1024

#: Progress bars appear for pulls of more than this many pages.
PROGRESS_MIN_PAGES = 3

#: Redirects followed by one request before giving up.
MAX_REDIRECTS = 10

#: After this many requests in a row to a host got no answer at all, calls to it fail at once for a cool-down.
SILENT_AFTER = 3


# ============================================================================================================
# the sync facade: one persistent worker loop in a daemon thread
# ============================================================================================================

_worker_lock = threading.Lock()
_worker: tuple[asyncio.AbstractEventLoop, threading.Thread, int] | None = None


def _worker_main(loop: asyncio.AbstractEventLoop, started: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(started.set)
    try:
        loop.run_forever()
    finally:  # pragma: no cover - only at interpreter shutdown
        loop.close()


def worker_loop() -> asyncio.AbstractEventLoop:
    """The private event loop that runs every synchronous call (started on first use, one per process).

    Example::

        >>> worker_loop().is_running()
        True
    """
    global _worker
    w = _worker
    if w is not None and w[1].is_alive() and w[2] == os.getpid():
        return w[0]
    with _worker_lock:
        w = _worker
        if w is None or not w[1].is_alive() or w[2] != os.getpid():  # first use, or after os.fork()
            loop = asyncio.new_event_loop()
            started = threading.Event()
            thread = threading.Thread(
                target=_worker_main, args=(loop, started), name="ucexplore-io", daemon=True
            )
            thread.start()
            started.wait()
            _worker = w = (loop, thread, os.getpid())
    return w[0]


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on the worker loop and return its result (or raise its exception).

    Works from plain code, from a notebook cell and from inside a running event loop (the calling loop is
    blocked while it waits, as for any synchronous call). Ctrl-C cancels the work.

    Example::

        >>> async def two():
        ...     return 2
        >>> run_sync(two())
        2
    """
    loop = worker_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise RuntimeError(
            "a synchronous ucexplore call was made from code already running on ucexplore's own event loop; "
            "await the *_async twin instead"
        )
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result()
    except concurrent.futures.CancelledError:
        raise
    except BaseException:
        if not future.done():  # KeyboardInterrupt / SystemExit while waiting: stop the work too
            future.cancel()
        raise


async def _on_worker(coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` on the worker loop from another loop."""
    loop = worker_loop()
    try:
        if asyncio.get_running_loop() is loop:
            return await coro
    except RuntimeError:  # pragma: no cover
        pass
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))


# ============================================================================================================
# retries
# ============================================================================================================


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date); None when malformed.

    Example::

        >>> parse_retry_after("12")
        12.0
        >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0)
        10.0
        >>> parse_retry_after("soon") is None
        True
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            return None
        return seconds
    try:
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``attempts`` counts every try (first one included); waits are capped at ``max_wait``
    each and ``max_total`` in all; ``Retry-After`` is honoured (capped), else exponential backoff with jitter.

    Example::

        >>> p = RetryPolicy(attempts=3, backoff=0.5)
        >>> 0.25 <= p.delay(1) <= 0.5
        True
        >>> p.delay(1, retry_after=12.0)
        12.0
    """

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_wait: float = 30.0
    max_total: float = 90.0
    statuses: tuple[int, ...] = (429, 503)

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """The wait before retry number ``retry`` (1 = the first retry)."""
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_wait)
        base = min(self.max_backoff, self.backoff * (2 ** max(0, retry - 1)))
        return min(base * random.uniform(0.5, 1.0), self.max_wait)


class _Retry:
    """Internal: this attempt failed in a way worth another try (returned, never raised)."""

    __slots__ = ("kind", "error", "retry_after", "response")

    def __init__(
        self,
        kind: str,
        error: BaseException | None,
        retry_after: float | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        self.kind = kind
        self.error = error
        self.retry_after = retry_after
        self.response = response


@dataclass(frozen=True, eq=False)
class _Call:
    """Internal: everything one :meth:`Transport.fetch` call sends (its repr shows no body)."""

    method: str
    url: str
    params: Any
    headers: dict[str, str]
    content: Any
    data: Any
    json: Any
    send_auth: bool
    ok: frozenset[int] | None
    decoder: Any
    parse: Any
    idempotent: bool
    follow_redirects: bool

    @property
    def carries_credentials(self) -> bool:
        """Whether a redirect of this request to another origin could hand a credential over."""
        if self.send_auth or self.content is not None or self.data is not None or self.json is not None:
            return True
        return bool(self.params) and redact_params(self.params) != dict(
            self.params.items() if isinstance(self.params, Mapping) else self.params
        )

    def __repr__(self) -> str:
        return f"<request {self.method} {redact_url(self.url)}>"


def _reveal(value: Any) -> Any:
    """``value`` with every :class:`~ucexplore.redact.Secret` in it (top level or one mapping deep) revealed."""
    if isinstance(value, (Secret, SecretBody)):
        return value.reveal()
    if isinstance(value, Mapping):
        return {k: v.reveal() if isinstance(v, Secret) else v for k, v in value.items()}
    return value


def _build(client: httpx.AsyncClient, call: _Call, method: str, url: str, params: Any, with_body: bool
           ) -> httpx.Request:
    """The httpx request for one hop; secrets are revealed only here, into the request itself."""
    if not with_body:
        return client.build_request(method, url, params=params, headers=call.headers)
    return client.build_request(method, url, params=params, headers=call.headers, content=_reveal(call.content),
                                data=_reveal(call.data), json=_reveal(call.json))


def _authorize(request: httpx.Request, value: str | None) -> None:
    """Put the Authorization header on ``request`` (the value lives only in this short frame)."""
    if value:
        request.headers["Authorization"] = value


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    scheme = url.scheme.lower()
    return scheme, (url.host or "").lower(), url.port or (443 if scheme == "https" else 80)


def _origin_text(url: httpx.URL) -> str:
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}:{port}"


#: Transport failures that mean the server did not answer at all (a frozen server, a dead VPN).
_SILENCE = (httpx.ReadTimeout, httpx.ConnectTimeout, httpx.WriteTimeout)


# ============================================================================================================
# progress
# ============================================================================================================


class Progress:
    """A progress bar (``tqdm.auto``) that appears only when enabled and tqdm is installed; text is redacted.

    In a notebook the finished bar is replaced by a one-line plain-text summary, so a saved and reopened
    notebook shows ``UDS /cucm-uds/users: 313 pages in 1.3 s``, not "Error displaying widget".

    Example::

        >>> bar = Progress(False, total=10, desc="UDS /cucm-uds/users")
        >>> bar.update(3); bar.close()
    """

    def __init__(
        self, enabled: bool, *, total: int | None = None, desc: str = "", unit: str = "page"
    ) -> None:
        self._bar: Any = None
        self._handle: Any = None
        self._desc, self._unit, self._n, self._t0 = redact(desc), unit, 0, time.perf_counter()
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm
        except Exception:  # tqdm missing or broken: no bar
            return
        try:
            if _is_notebook_tqdm(tqdm):
                from IPython.display import display

                self._bar = tqdm(total=total, desc=self._desc, unit=unit, leave=False, display=False)
                self._handle = display(self._bar.container, display_id=True)
            else:
                self._bar = tqdm(total=total, desc=self._desc, unit=unit, leave=False, dynamic_ncols=True)
        except Exception:  # pragma: no cover - e.g. a notebook without ipywidgets
            self._bar = None

    def update(self, n: int = 1) -> None:
        """Advance by ``n``."""
        self._n += n
        if self._bar is not None:
            self._bar.update(n)

    def add_total(self, n: int) -> None:
        """Grow the expected total (a short page added a gap to fetch)."""
        if self._bar is not None and self._bar.total is not None:
            self._bar.total += n
            self._bar.refresh()

    @property
    def summary(self) -> str:
        """``desc: N pages in T s`` (what a notebook keeps once the bar is done)."""
        plural = "" if self._n == 1 else "s"
        return f"{self._desc}: {self._n:,} {self._unit}{plural} in {time.perf_counter() - self._t0:.1f} s"

    def close(self) -> None:
        """Remove the bar (in a notebook: leave the plain-text summary in its place)."""
        if self._bar is not None:
            bar, self._bar = self._bar, None
            bar.close()
            if self._handle is not None:
                try:
                    self._handle.update({"text/plain": self.summary}, raw=True)
                except Exception:  # pragma: no cover - the front end went away
                    log.debug("could not replace the progress bar", exc_info=True)


def _is_notebook_tqdm(cls: Any) -> bool:
    try:
        from tqdm.notebook import tqdm as notebook_tqdm
    except Exception:  # pragma: no cover - ipywidgets missing
        return False
    return isinstance(cls, type) and issubclass(cls, notebook_tqdm)


# ============================================================================================================
# errors
# ============================================================================================================


def default_error_decoder(response: httpx.Response) -> UcError:
    """A plain :class:`ApiError` (``RateLimited`` for 429, ``ServerBusy`` for 503) naming status and URL.

    Services pass a richer decoder (``ucexplore.decode.error_from_response``).

    Example::

        >>> r = httpx.Response(404, request=httpx.Request("GET", "https://h/x?token=abc123"))
        >>> str(default_error_decoder(r))
        '[404] GET https://h/x?token=***** failed: Not Found'
    """
    status = response.status_code
    try:
        method, url = response.request.method, redact_url(str(response.request.url))
    except RuntimeError:  # pragma: no cover - a response without a request
        method, url = "", ""
    msg = f"{method} {url} failed: {response.reason_phrase or 'HTTP ' + str(status)}".strip()
    if status == 429:
        return RateLimited(
            msg, status=status, url=url, retry_after=parse_retry_after(response.headers.get("Retry-After"))
        )
    if status == 503:
        return ServerBusy(msg, status=status, url=url)
    return ApiError(msg, status=status, url=url)


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _is_tls_error(exc: BaseException) -> bool:
    for e in _chain(exc):
        if isinstance(e, ssl.SSLError):
            return True
        text = str(e)
        if "CERTIFICATE_VERIFY_FAILED" in text or "SSL:" in text or "certificate verify failed" in text:
            return True
    return False


def _is_refused(exc: BaseException) -> bool:
    for e in _chain(exc):
        if isinstance(e, ConnectionRefusedError):
            return True
        if "Connection refused" in str(e) or "Errno 111" in str(e):
            return True
    return False


def _is_dns(exc: BaseException) -> bool:
    import socket

    for e in _chain(exc):
        if isinstance(e, socket.gaierror):
            return True
        text = str(e)
        if (
            "Name or service not known" in text
            or "nodename nor servname" in text
            or "getaddrinfo failed" in text
        ):
            return True
    return False


def _retry_kind(exc: httpx.TransportError, idempotent: bool) -> str | None:
    """Which transport failures deserve another try (None: none)."""
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return "timeout"  # nothing was sent: safe for every method
    if isinstance(exc, httpx.ConnectError):
        if _is_tls_error(exc) or _is_refused(exc) or _is_dns(exc):
            return None  # permanent for this call: say so at once
        return "connect"
    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout)):
        return "timeout" if idempotent else None
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return "reset" if idempotent else None
    return None


_sniffio_checked = False


def _cache_missing_sniffio() -> None:
    """httpcore tries ``import sniffio`` on every pooled request; when sniffio is not installed (anyio 4.10+
    no longer needs it) each failed import searches sys.path again, which costs ~0.3 ms per request. Record
    the absence once (``sys.modules["sniffio"] = None`` makes that import fail at once, as it would
    anyway)."""
    global _sniffio_checked
    if _sniffio_checked:
        return
    _sniffio_checked = True
    import importlib.util
    import sys

    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


_default_ssl: ssl.SSLContext | None = None
_default_ssl_lock = threading.Lock()


def _default_ssl_context() -> ssl.SSLContext:
    """The verifying SSL context for ``verify=True``, made once per process and shared by every client
    (loading the CA bundle costs ~45 ms: paid once, not by every client a notebook creates)."""
    global _default_ssl
    if _default_ssl is None:
        with _default_ssl_lock:
            if _default_ssl is None:
                _default_ssl = httpx.create_ssl_context(verify=True)
    return _default_ssl


def check_verify(verify: Any) -> Any:
    """``verify`` if it is one of the accepted values, else :class:`~ucexplore.errors.InvalidArgument`.

    Example::

        >>> check_verify(True)
        True
        >>> check_verify(None)
        Traceback (most recent call last):
        ...
        ucexplore.errors.InvalidArgument: verify= takes True, a CA bundle path, an ssl.SSLContext or False; got None
        → leave it out to check certificates against the system CAs, or pass verify="/path/to/ca.pem"
    """
    if verify is True or verify is False or isinstance(verify, ssl.SSLContext):
        return verify
    if isinstance(verify, (str, os.PathLike)) and os.fspath(verify).strip():
        path = os.fspath(verify)
        if not os.path.exists(path):
            raise ConnectionFailed(
                f"the CA bundle {path!r} does not exist",
                hint="verify= takes True, False, or the path of a PEM file with the CA certificate(s)",
            )
        return verify
    raise InvalidArgument(
        f"verify= takes True, a CA bundle path, an ssl.SSLContext or False; got {verify!r}",
        hint='leave it out to check certificates against the system CAs, or pass verify="/path/to/ca.pem"',
    )


def _is_loopback(host: str) -> bool:
    import ipaddress

    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_plain_http(base_url: str, with_credentials: bool, allowed: bool = False) -> None:
    """Refuse credentials over plain ``http://`` to a host that is not loopback, unless explicitly allowed
    (``allow_insecure_http=True`` or ``UCX_ALLOW_INSECURE_HTTP=1``); allowed, it is logged as a warning.

    Example::

        >>> check_plain_http("http://127.0.0.1:9101", True)          # the lab: fine
        >>> check_plain_http("http://cucm.example.com", True)
        Traceback (most recent call last):
        ...
        ucexplore.errors.InvalidArgument: refusing to send credentials over plain http:// to cucm.example.com
        → use https://; for a lab on your own network pass allow_insecure_http=True (or set UCX_ALLOW_INSECURE_HTTP=1)
    """
    parts = urlsplit(base_url)
    if parts.scheme != "http" or not with_credentials or _is_loopback(parts.hostname or ""):
        return
    if not (allowed or os.environ.get("UCX_ALLOW_INSECURE_HTTP", "").strip().lower() in ("1", "true", "yes")):
        raise InvalidArgument(
            f"refusing to send credentials over plain http:// to {parts.netloc}",
            hint="use https://; for a lab on your own network pass allow_insecure_http=True "
            "(or set UCX_ALLOW_INSECURE_HTTP=1)",
        )
    log.warning("credentials to %s go over plain http:// (allow_insecure_http): anyone on the path can read them",
                parts.netloc)


# ============================================================================================================
# the transport
# ============================================================================================================


class _LoopState:
    """One event loop's httpx client, per-host semaphores and per-host cool-down deadlines."""

    __slots__ = ("client", "not_before", "semaphores")

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.semaphores: dict[str, asyncio.Semaphore] = {}
        self.not_before: dict[str, float] = {}


ErrorDecoder = Callable[[httpx.Response], BaseException]


class Transport(Unpicklable):
    """HTTP for one service: base URL, credentials, TLS, timeouts, retries, per-host concurrency, redaction.

    ``auth`` is anything :func:`ucexplore.auth.credentials.resolve_auth` accepts; ``verify`` is True (default,
    system/certifi CAs), False (explicitly unverified), a CA bundle path, or an ``ssl.SSLContext``;
    ``http_transport`` injects an ``httpx.MockTransport``/ASGI transport (tests, the lab).

    Example::

        >>> t = Transport("http://127.0.0.1:8080", auth="a-bearer-token-text", progress=False)
        >>> t.stats["requests"]
        0
    """

    _pickle_what = "a ucexplore client"

    def __init__(
        self,
        base_url: str,
        *,
        auth: Any = None,
        verify: bool | str | os.PathLike[str] | ssl.SSLContext = True,
        timeout: float = 30.0,
        max_concurrency: int = 8,
        retry: RetryPolicy | None = None,
        progress: bool = True,
        service: str = "",
        headers: Mapping[str, str] | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
        max_body: int = MAX_BODY_BYTES,
        allow_insecure_http: bool = False,
    ) -> None:
        parts = urlsplit(str(base_url).strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidArgument(
                f"base_url must look like https://host[:port], got {redact(base_url)!r}",
                hint="include the scheme and the host, e.g. https://cucm.example.com:8443",
            )
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise InvalidArgument(f"max_concurrency= takes a whole number of at least 1, got {max_concurrency!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise InvalidArgument(f"timeout= takes a number of seconds above 0, got {timeout!r}")
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._origin = (
            parts.scheme,
            (parts.hostname or "").lower(),
            parts.port or (443 if parts.scheme == "https" else 80),
        )
        self.host = parts.netloc
        self.credentials: Credentials = resolve_auth(auth)
        if not isinstance(http_transport, (httpx.MockTransport, httpx.ASGITransport)):  # those use no network
            check_plain_http(self.base_url, self.credentials.kind != "none", allow_insecure_http)
        self.timeout = float(timeout)
        #: the longest one attempt may take from the first byte sent to the last byte read
        self.attempt_budget = max(3 * self.timeout, 5.0)
        #: how long calls to a host that stopped answering fail at once before it is tried again
        self.silent_cooldown = max(2 * self.timeout, 5.0)
        self.max_concurrency = int(max_concurrency)
        self.retry = retry or RetryPolicy()
        self.progress = bool(progress)
        self.service = service
        self.headers = dict(headers or {})
        self.max_body = int(max_body)
        self._http_transport = http_transport
        self._verify_arg = check_verify(verify)
        if verify is False:
            log.warning("TLS certificate verification is OFF for %s (verify=False)", self.host)
        self._ssl: ssl.SSLContext | bool | None = None
        self._lock = threading.Lock()
        self._states: dict[asyncio.AbstractEventLoop, _LoopState] = {}
        self._silent: dict[str, tuple[int, float | None]] = {}
        self.stats: dict[str, float] = {}
        self.retry_log: list[tuple[str, float]] = []
        #: decides whether a 401 is a token problem worth one refresh (None: always); a service sets it when
        #: its server also answers 401 for "not allowed" (Finesse), so a refusal does not rotate tokens
        self.refresh_on_401: Callable[[httpx.Response], bool] | None = None
        self.reset_stats()

    # -- bookkeeping -------------------------------------------------------------------------------------
    def reset_stats(self) -> None:
        """Zero the counters in :attr:`stats` (requests, retries, rate_limited_waits, busy_waits, …)."""
        with self._lock:
            self.stats.clear()
            self.stats.update(
                requests=0,
                retries=0,
                rate_limited_waits=0,
                busy_waits=0,
                reset_retries=0,
                parse_retries=0,
                refreshes=0,
                waited_s=0.0,
            )
            self.retry_log.clear()

    def _count(self, key: str, n: float = 1) -> None:
        with self._lock:
            self.stats[key] = self.stats.get(key, 0) + n

    def __repr__(self) -> str:
        return redact(f"<Transport {self.base_url} {self.credentials.describe()}>")

    # -- TLS and clients ---------------------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext | bool:
        if self._ssl is None:
            v = self._verify_arg
            if v is False:
                self._ssl = False
            elif isinstance(v, ssl.SSLContext):
                self._ssl = v
            elif v is True:
                self._ssl = _default_ssl_context()
            else:
                path = os.fspath(v)
                try:
                    if os.path.isdir(path):
                        self._ssl = ssl.create_default_context(capath=path)
                    else:
                        self._ssl = ssl.create_default_context(cafile=path)
                except (OSError, ssl.SSLError) as exc:
                    raise ConnectionFailed(
                        f"cannot load the CA bundle {path!r}: {exc}",
                        host=self.host,
                        hint="verify= takes the path of a PEM file with the CA certificate(s)",
                    ) from None
        return self._ssl

    def _new_client(self) -> httpx.AsyncClient:
        _cache_missing_sniffio()
        verify = True if self._http_transport is not None else self._ssl_context()
        limits = httpx.Limits(
            max_connections=self.max_concurrency * 4, max_keepalive_connections=self.max_concurrency * 2
        )
        return httpx.AsyncClient(
            verify=verify,
            timeout=httpx.Timeout(self.timeout),
            limits=limits,
            transport=self._http_transport,
            follow_redirects=False,  # followed by hand in _send, where credentials are checked per hop
            headers={"User-Agent": "ucexplore/0.1"},
        )

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        st = self._states.get(loop)
        if st is not None:
            return st
        with self._lock:
            st = self._states.get(loop)
            if st is None:
                for old in [lp for lp in self._states if lp.is_closed()]:
                    del self._states[old]  # its loop is gone: the client cannot be closed any more
                st = _LoopState(self._new_client())
                self._states[loop] = st
        return st

    def _semaphore(self, st: _LoopState, host: str) -> asyncio.Semaphore:
        sem = st.semaphores.get(host)
        if sem is None:
            sem = st.semaphores[host] = asyncio.Semaphore(self.max_concurrency)
        return sem

    # -- URLs --------------------------------------------------------------------------------------------
    def url(self, url_or_path: str) -> str:
        """An absolute URL: paths are appended to ``base_url`` (its own path prefix kept), URLs kept.

        Example::

            >>> Transport("https://webexapis.com/v1").url("/people/me")
            'https://webexapis.com/v1/people/me'
        """
        s = str(url_or_path)
        if s.startswith(("http://", "https://")):
            return s
        if not s.startswith("/"):
            s = "/" + s
        return self.base_url + s

    def same_origin(self, url: str) -> bool:
        """True when ``url`` is on this transport's scheme, host and port (credentials go nowhere else)."""
        p = urlsplit(url)
        port = p.port or (443 if p.scheme == "https" else 80)
        return (p.scheme, (p.hostname or "").lower(), port) == self._origin

    # -- requests ----------------------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        url_or_path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        auth: bool = True,
        expect: Iterable[int] | None = None,
        error_decoder: ErrorDecoder | None = None,
        idempotent: bool | None = None,
        follow_redirects: bool = True,
    ) -> httpx.Response:
        """Send one request (with retries) and return the response, or raise a :class:`UcError`.

        ``expect`` lists the acceptable statuses (default: any 2xx); other statuses go to
        ``error_decoder(response)``, which returns the exception to raise. Redirects are followed unless
        ``follow_redirects=False`` (then a 3xx can be listed in ``expect`` to read its ``Location``).

        Example::

            >>> r = await t.request("GET", "/cucm-uds/users", params={"last": "Ka"})   # doctest: +SKIP
        """
        call = self._prepare(method, url_or_path, None, params=params, headers=headers, content=content, data=data,
                             json=json, auth=auth, expect=expect, error_decoder=error_decoder,
                             idempotent=idempotent, follow_redirects=follow_redirects)
        del content, data, json  # the body may hold a credential: from here on only ``call`` (repr-safe) has it
        response, _ = await self._perform(call)
        return response

    async def fetch(
        self,
        method: str,
        url_or_path: str,
        parse: Callable[[httpx.Response], T] | None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | str | SecretBody | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        auth: bool = True,
        expect: Iterable[int] | None = None,
        error_decoder: ErrorDecoder | None = None,
        idempotent: bool | None = None,
        follow_redirects: bool = True,
    ) -> tuple[httpx.Response, T | None]:
        """Like :meth:`request`, and also ``parse(response)`` inside the retry loop.

        When ``parse`` raises an exception whose ``retry`` attribute is ``"truncated"`` (a cut-off body, for
        idempotent requests) or ``"rate_limited"`` (e.g. the Webex XML API's 000045 inside HTTP 200), the
        request is sent again like a 429. ``content`` may be a :class:`~ucexplore.redact.SecretBody` (a body
        that holds a credential): it is revealed only while the request is built.

        Every call has a deadline (``retry.max_total`` seconds, attempts included), and once a host has let
        :data:`SILENT_AFTER` requests in a row go unanswered, calls to it fail at once for a short cool-down
        instead of queueing behind a server that has stopped answering.

        Example::

            >>> resp, records = await t.fetch("GET", "/x", lambda r: r.json())   # doctest: +SKIP
        """
        call = self._prepare(method, url_or_path, parse, params=params, headers=headers, content=content, data=data,
                             json=json, auth=auth, expect=expect, error_decoder=error_decoder,
                             idempotent=idempotent, follow_redirects=follow_redirects)
        del content, data, json  # the body may hold a credential: from here on only ``call`` (repr-safe) has it
        return await self._perform(call)

    def _prepare(self, method: str, url_or_path: str, parse: Any, *, params: Any, headers: Any, content: Any,
                 data: Any, json: Any, auth: bool, expect: Iterable[int] | None, error_decoder: Any,
                 idempotent: bool | None, follow_redirects: bool) -> _Call:
        method = method.upper()
        full = self.url(url_or_path)
        send_auth = auth and self.credentials.kind != "none"
        if send_auth and not self.same_origin(full):
            log.warning("not sending credentials to %s: it is not %s", redact_url(full), self.host)
            send_auth = False
        return _Call(
            method=method,
            url=full,
            params=params,
            headers={**self.headers, **(headers or {})},
            content=content,
            data=data,
            json=json,
            send_auth=send_auth,
            ok=frozenset(expect) if expect is not None else None,
            decoder=error_decoder or default_error_decoder,
            parse=parse,
            idempotent=method in IDEMPOTENT_METHODS if idempotent is None else idempotent,
            follow_redirects=follow_redirects,
        )

    async def _perform(self, call: _Call) -> tuple[httpx.Response, Any]:
        """The retry loop of one call (see :meth:`fetch`); every UcError it raises says where it came from."""
        try:
            return await self._retry_loop(call)
        except UcError as exc:
            exc.service = exc.service or self.service or None
            exc.method = exc.method or call.method
            if not exc.url:
                exc.url = redact_url(call.url)
            raise

    async def _retry_loop(self, call: _Call) -> tuple[httpx.Response, Any]:
        method, full = call.method, call.url
        st = self._state()
        host = urlsplit(full).netloc.lower()
        sem = self._semaphore(st, host)
        policy = self.retry
        loop = asyncio.get_running_loop()
        started = loop.time()
        attempt = 0
        retries = 0
        refreshed = False
        # Errors are raised outside every ``except`` block, so none of them chains an httpx exception (whose
        # request object would carry the Authorization header) as its __context__.
        while True:
            attempt += 1
            self._check_answering(host)
            outcome = await self._attempt(st, sem, host, loop, call, attempt)
            if not isinstance(outcome, _Retry):
                return outcome
            r = outcome
            if r.kind == "unauthorized":
                assert r.response is not None
                worth_refresh = self.refresh_on_401 is None or self.refresh_on_401(r.response)
                if not refreshed and worth_refresh:
                    refreshed = True
                    if await self.credentials.after_unauthorized():
                        self._count("refreshes")
                        log.debug("%s %s: 401, credentials refreshed, trying once more", method, redact_url(full))
                        continue
                raise self._decoded_error(call.decoder, r.response)
            retries += 1
            delay = policy.delay(retries, r.retry_after)
            if attempt >= policy.attempts or (loop.time() - started) + delay > policy.max_total:
                raise self._final_error(r, call.decoder, method, full, attempt)
            self._count("retries")
            self._count("waited_s", delay)
            self._count(
                {"rate_limited": "rate_limited_waits", "busy": "busy_waits", "truncated": "parse_retries"}.get(
                    r.kind, "reset_retries"
                )
            )
            with self._lock:
                if len(self.retry_log) < 10_000:
                    self.retry_log.append((r.kind, delay))
            if r.kind in ("rate_limited", "busy") and r.retry_after:
                # be polite: hold every request to this host until the server's deadline
                st.not_before[host] = max(st.not_before.get(host, 0.0), loop.time() + delay)
            log.info(
                "%s %s: %s, retry %d/%d in %.2f s", method, redact_url(full), r.kind, retries,
                policy.attempts - 1, delay,
            )
            await asyncio.sleep(delay)

    # -- one attempt -------------------------------------------------------------------------------------
    async def _attempt(
        self,
        st: _LoopState,
        sem: asyncio.Semaphore,
        host: str,
        loop: asyncio.AbstractEventLoop,
        call: _Call,
        attempt: int,
    ) -> tuple[httpx.Response, Any] | _Retry:
        """Send once; return the result, or a :class:`_Retry` saying why another try is worthwhile.

        Final failures are raised after the ``except`` blocks, never inside them (see :meth:`fetch`)."""
        wait = st.not_before.get(host, 0.0) - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        async with sem:
            self._check_answering(host)  # waited for a slot while the host stopped answering
            t0 = time.perf_counter()
            self._count("requests")
            failure: BaseException | None = None
            retry: _Retry | None = None
            try:
                async with asyncio.timeout(self.attempt_budget):
                    response, authorized = await self._send(st.client, call)
                    try:
                        length = response.headers.get("Content-Length")
                        if length and length.isdigit() and int(length) > self.max_body:
                            raise self._too_large(call.url, f"{int(length):,} bytes > {self.max_body:,}")
                        await self._read_bounded(response, call.url)
                    finally:
                        await response.aclose()
            except httpx.TransportError as exc:
                kind = _retry_kind(exc, call.idempotent)
                if not isinstance(exc, httpx.PoolTimeout):  # a full local pool says nothing of the host
                    self._note_answer(host, answered=not isinstance(exc, _SILENCE))
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s %s -> %s after %.1f ms (try %d)", call.method, redact_url(call.url),
                              type(exc).__name__, (time.perf_counter() - t0) * 1000, attempt)
                err = self._connection_error(exc, call.url)
                if kind is None:
                    failure = err
                else:
                    retry = _Retry(kind, err)
            except TimeoutError:  # the whole attempt outlived its budget (a server trickling its answer)
                self._note_answer(host, answered=False)
                err = ConnectionFailed(
                    f"{host} did not finish answering {call.method} {redact_url(call.url)} "
                    f"within {self.attempt_budget:g} s",
                    host=host,
                    hint="the server is very slow or stuck: try again later, raise timeout=, or ask for less",
                )
                if call.idempotent:
                    retry = _Retry("timeout", err)
                else:
                    failure = err
            except httpx.HTTPError as exc:  # invalid URL, unsupported protocol, …
                failure = ConnectionFailed(
                    f"cannot send {call.method} {redact_url(call.url)}: {type(exc).__name__}: {_short(str(exc))}",
                    host=host,
                    hint="check the base URL (scheme://host[:port])",
                )
            if failure is not None:
                raise failure
            if retry is not None:
                return retry
            self._note_answer(host, answered=True)
            elapsed = (time.perf_counter() - t0) * 1000
        status = response.status_code
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %d in %.1f ms (%d bytes, try %d)", call.method, redact_url(str(response.url)),
                      status, elapsed, len(response.content), attempt)
        if status in self.retry.statuses:
            kind = "rate_limited" if status == 429 else "busy" if status == 503 else "status"
            return _Retry(kind, None, parse_retry_after(response.headers.get("Retry-After")), response)
        if status == 401 and authorized:
            return _Retry("unauthorized", None, None, response)
        good = (status in call.ok) if call.ok is not None else (200 <= status < 300)
        if not good:
            raise self._decoded_error(call.decoder, response)
        if len(response.content) > self.max_body:
            raise self._too_large(call.url, f"{len(response.content):,} bytes")
        if call.parse is None:
            return response, None
        # let a request waiting for the slot just freed go out before this body is decoded (CPU work)
        await asyncio.sleep(0)
        parse_error: UcError | None = None
        try:
            return response, call.parse(response)
        except UcError as exc:
            parse_error = exc
        kind = getattr(parse_error, "retry", None)
        if kind == "rate_limited" or (kind == "truncated" and call.idempotent):
            return _Retry(kind, parse_error, getattr(parse_error, "retry_wait", None), response)
        raise parse_error

    async def _send(self, client: httpx.AsyncClient, call: _Call) -> tuple[httpx.Response, bool]:
        """Send ``call`` and follow its redirects by hand; returns (response, whether it carried credentials).

        The ``Authorization`` header is put on the request just before it leaves and taken off right after,
        so no local variable, no response and no httpx exception keeps it. A redirect to another origin is
        followed only by a request that carries no credential (no Authorization, no body, no secret query
        parameter); otherwise it raises :class:`~ucexplore.errors.RedirectRefused` naming both origins.
        """
        method, url, params, with_body = call.method, call.url, call.params, True
        hops = 0
        while True:
            request = _build(client, call, method, url, params, with_body)
            authorized = call.send_auth and _origin(request.url) == self._origin
            if authorized:
                _authorize(request, await self.credentials.authorization())
            try:
                response = await client.send(request, stream=True, follow_redirects=False)
            finally:
                request.headers.pop("Authorization", None)
            if not (call.follow_redirects and response.is_redirect):
                return response, authorized
            await response.aclose()
            hops += 1
            here, target = request.url, request.url.join(response.headers.get("Location", ""))
            status = response.status_code
            del request, response  # the request holds the body: no frame of the error below keeps it
            if hops > MAX_REDIRECTS:
                raise ConnectionFailed(
                    f"too many redirects from {redact_url(call.url)}", host=self.host,
                    hint="check the base URL; the server keeps redirecting",
                )
            if call.carries_credentials and _origin(target) != _origin(here):
                raise RedirectRefused(
                    f"{_origin_text(here)} redirected {call.method} {redact_url(here.path)} to "
                    f"{_origin_text(target)}; ucexplore does not send credentials to another origin",
                    host=self.host,
                    hint=f"use the final server's URL as base_url if you trust {_origin_text(target)}, "
                    "or ask the server's administrator why it redirects",
                )
            if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
                method, with_body = "GET", False
            url, params = str(target), None

    # -- a host that stopped answering -------------------------------------------------------------------
    def _check_answering(self, host: str) -> None:
        """Fail at once while ``host`` is in its cool-down after :data:`SILENT_AFTER` unanswered requests."""
        silent = self._silent.get(host)
        if silent is None or silent[1] is None or time.monotonic() >= silent[1]:
            return
        raise ConnectionFailed(
            f"{host} stopped answering: {silent[0]} requests in a row got no answer within {self.timeout:g} s",
            host=host,
            hint="check that the server is up and reachable (VPN, firewall, `ucexplore check`), then run the "
            "call again; rows already fetched are kept on the error (err.partial)",
        )

    def _note_answer(self, host: str, *, answered: bool) -> None:
        with self._lock:
            if answered:
                self._silent.pop(host, None)
                return
            count = (self._silent.get(host) or (0, None))[0] + 1
            until = time.monotonic() + self.silent_cooldown if count >= SILENT_AFTER else None
            self._silent[host] = (count, until)
            if until is not None and count == SILENT_AFTER:
                log.warning("%s stopped answering (%d requests in a row timed out)", host, count)

    @staticmethod
    def _too_large(url: str, size: str) -> ParseError:
        return ParseError(
            f"the response is too large ({size})",
            url=redact_url(url),
            hint="ask for less (limit=, filters) or raise Transport(max_body=...)",
        )


    async def _read_bounded(self, response: httpx.Response, url: str) -> None:
        """Read the body, refusing it as soon as it grows past ``max_body`` (a body without a Content-Length
        is never held in memory beyond the limit)."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_body:
                raise self._too_large(url, f"more than {self.max_body:,} bytes")
            chunks.append(chunk)
        response._content = b"".join(chunks)  # what Response.aread() stores

    def _decoded_error(self, decoder: ErrorDecoder, response: httpx.Response) -> BaseException:
        try:
            err = decoder(response)
        except UcError as exc:  # a decoder may raise instead of returning
            return exc
        return err

    def _final_error(
        self, r: _Retry, decoder: ErrorDecoder, method: str, url: str, attempts: int
    ) -> BaseException:
        tries = f"after {attempts} tries"
        if r.response is not None and r.kind in ("rate_limited", "busy", "status"):
            err = r.error or self._decoded_error(decoder, r.response)
            if r.kind == "rate_limited" and not isinstance(err, RateLimited):
                err = _rewrap(RateLimited, err, r.response, retry_after=r.retry_after, tries=tries)
            elif isinstance(err, RateLimited) and err.retry_after is None:
                err.retry_after = r.retry_after
            elif r.kind == "busy" and not isinstance(err, ServerBusy):
                err = _rewrap(ServerBusy, err, r.response, tries=tries)
            return err
        if r.error is not None:
            return r.error
        return ConnectionFailed(
            f"{method} {redact_url(url)} failed {tries}", host=self.host
        )  # pragma: no cover

    def _connection_error(self, exc: httpx.TransportError, url: str) -> ConnectionFailed:
        p = urlsplit(url)
        host = p.hostname or self.host
        where = p.netloc or self.host
        if _is_tls_error(exc):
            reason = next((str(e) for e in _chain(exc) if isinstance(e, ssl.SSLError)), str(exc))
            if "CERTIFICATE_VERIFY_FAILED" in reason or "certificate verify failed" in reason:
                return ConnectionFailed(
                    f"the TLS certificate of {where} did not verify ({_short(reason)})",
                    host=host,
                    hint=f"pass verify='/path/to/ca.pem' (the CA that signed {host}'s certificate) "
                    f"or run `ucexplore check {p.scheme}://{where}`",
                )
            return ConnectionFailed(
                f"the TLS handshake with {where} failed ({_short(reason)})",
                host=host,
                hint=f"check that {where} speaks HTTPS on that port (http:// vs https://), "
                f"or run `ucexplore check {p.scheme}://{where}`",
            )
        if _is_dns(exc):
            return ConnectionFailed(
                f"cannot resolve the host name {host}",
                host=host,
                hint="check the spelling of the host, your DNS, or your VPN",
            )
        if _is_refused(exc):
            return ConnectionFailed(
                f"{where} refused the connection",
                host=host,
                hint="check the host and port; is the server (or `ucexplore lab`) running?",
            )
        if isinstance(exc, httpx.TimeoutException):
            return ConnectionFailed(
                f"no answer from {where} within {self.timeout:g} s ({type(exc).__name__})",
                host=host,
                hint="raise timeout=, check the network/VPN, or lower max_concurrency=",
            )
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            return ConnectionFailed(
                f"the connection to {where} was dropped ({type(exc).__name__}: {_short(str(exc))})",
                host=host,
                hint="try again; if it keeps happening, lower max_concurrency=",
            )
        return ConnectionFailed(
            f"cannot connect to {where} ({type(exc).__name__}: {_short(str(exc))})",
            host=host,
            hint=f"check the URL and the network, or run `ucexplore check {p.scheme}://{where}`",
        )

    # -- life cycle --------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close every httpx client this transport opened (safe to call twice; the transport stays usable).

        Example::

            >>> Transport("https://h").close()
        """
        with self._lock:
            states = list(self._states.items())
            self._states.clear()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        worker = _worker[0] if _worker is not None else None
        for loop, st in states:
            if loop.is_closed():
                continue
            if loop is worker and running is not worker:
                try:
                    run_sync(st.client.aclose())
                except Exception:  # pragma: no cover
                    log.debug("closing the worker client failed", exc_info=True)
            elif loop is running:
                loop.create_task(st.client.aclose())
            elif loop.is_running():
                asyncio.run_coroutine_threadsafe(st.client.aclose(), loop)

    async def aclose(self) -> None:
        """Close every httpx client, awaiting the one of the current loop and the worker's."""
        with self._lock:
            states = list(self._states.items())
            self._states.clear()
        running = asyncio.get_running_loop()
        worker = _worker[0] if _worker is not None else None
        for loop, st in states:
            if loop.is_closed():
                continue
            if loop is running:
                await st.client.aclose()
            elif loop is worker:
                await _on_worker(st.client.aclose())
            elif loop.is_running():
                asyncio.run_coroutine_threadsafe(st.client.aclose(), loop)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _short(text: str, n: int = 160) -> str:
    text = redact(" ".join(str(text).split()))
    return text if len(text) <= n else text[: n - 1] + "…"


def _rewrap(
    cls: type[ApiError],
    err: BaseException,
    response: httpx.Response,
    *,
    tries: str,
    retry_after: float | None = None,
) -> ApiError:
    """Turn a decoder's error for a 429/503 into ``RateLimited``/``ServerBusy``, keeping the server's
    fields."""
    fields: dict[str, Any] = {}
    if isinstance(err, ApiError):
        fields = dict(
            status=err.status,
            error_type=err.error_type,
            code=err.code,
            server_message=err.server_message,
            tracking_id=err.tracking_id,
            service=err.service,
            url=err.url,
        )
    else:
        fields = dict(status=response.status_code, url=redact_url(str(response.request.url)))
    what = "rate limited (429)" if cls is RateLimited else "busy (503)"
    detail = f": {fields.get('server_message')}" if fields.get("server_message") else ""
    msg = f"the server kept answering {what} {tries}{detail}"
    if cls is RateLimited:
        return RateLimited(msg, retry_after=retry_after, **fields)
    return cls(msg, **fields)
