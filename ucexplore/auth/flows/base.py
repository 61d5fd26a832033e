"""What every sign-in flow shares: the current token, sign-out, change hooks, and the single-flight refresh.

Refresh runs **at most once at a time per flow**, whichever threads and event loops ask: the sync facade runs
coroutines on the transport's private worker-thread loop while ``*_async`` calls run on the notebook's loop, so
an ``asyncio.Lock`` would not do. Instead, a ``threading.Lock`` guards a few fields for microseconds (never
across an ``await``), and the first caller that finds the token due becomes the *owner* of a
``concurrent.futures.Future``; every other caller, on any loop or thread, awaits that future through
``asyncio.wrap_future`` — nothing blocks an event loop and exactly one refresh request goes out. A generation
counter (and the token's identity) tells late callers that the token they saw has already been replaced.
The request itself runs as a task on the transport's private worker loop (never on the caller's loop), so
no mix of sync and async calls can deadlock (a sync call blocks the notebook's loop, never the refresh), and
neither an interrupted cell nor the end of the caller's loop (``asyncio.run(wait_for(…))``) abandons a
refresh halfway and loses a rotated refresh token: its result is always stored.

Example::

    >>> from ucexplore.auth.flows import CucmSSO
    >>> flow = CucmSSO("https://cucm.example.com:8443", redirect_uri="https://app.example.com/cb")
    >>> events = []
    >>> flow.on_change.append(lambda event, flow: events.append(event))
    >>> tok = flow.complete("https://app.example.com/cb#access_token=MjpkZTkxYjNmYS0wYzU2&expires_in=3600"
    ...                     f"&state={flow.state}")
    >>> events, flow.signed_in
    (['signed_in'], True)
    >>> flow.sign_out(); events
    ['signed_in', 'signed_out']
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
import weakref
from typing import Any, Callable, Coroutine, TypeVar
from urllib.parse import urlsplit

from ...errors import NotSignedIn, TokenExpired, UcError
from ..token import Token

__all__ = ["SignInFlowBase", "ChangeCallback", "REFRESH_RETRY_SECONDS"]

log = logging.getLogger("ucexplore.auth")

T = TypeVar("T")

#: ``callback(event, flow)`` with event ``"signed_in"``, ``"refreshed"`` or ``"signed_out"``.
ChangeCallback = Callable[[str, "SignInFlowBase"], None]

#: After a failed automatic refresh (the access token still being valid), wait this long before trying again.
REFRESH_RETRY_SECONDS = 30.0


class _Abandoned(Exception):
    """The refresh owner was cancelled; waiters should try again (one of them becomes the owner)."""


def normalize_base_url(base_url: str) -> str:
    """``https://host:8443/`` → ``https://host:8443`` (and refuse what is not an http(s) URL)."""
    if not isinstance(base_url, str) or not base_url.strip():
        raise ValueError("base_url must be a URL such as https://cucm.example.com:8443")
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must start with https:// (or http:// for the lab), got {base_url!r}")
    return url


class SignInFlowBase:
    """Base class of :class:`CucmSSO`, :class:`UnitySSO`, :class:`FinesseSSO` and :class:`WebexOAuth`.

    Subclasses set ``product`` (also the token issuer), ``display_name``, and implement ``authorize_url``,
    ``complete_async`` and (when refreshable) ``_refresh_request_async``.
    """

    product: str = ""
    display_name: str = ""
    #: whether this kind of flow can refresh tokens at all
    refreshable: bool = False

    def __init__(self, base_url: str, *, verify: bool | str = True) -> None:
        from ...transport import check_verify

        self.base_url = normalize_base_url(base_url)
        self.verify = check_verify(verify)
        #: set True (or UCX_ALLOW_INSECURE_HTTP=1) to exchange or refresh tokens over plain http:// with a host
        #: that is not loopback; refused otherwise
        self.allow_insecure_http = False
        #: callbacks ``callback(event, flow)``; events: "signed_in", "refreshed", "signed_out"
        self.on_change: list[ChangeCallback] = []
        self._lock = threading.Lock()
        self._token: Token | None = None
        self._generation = 0
        self._inflight: concurrent.futures.Future[Token] | None = None
        self._retired: weakref.WeakSet[Token] = weakref.WeakSet()
        self._refresh_failed_at: float | None = None
        self._transport: Any = None
        self._refresh_tasks: set[asyncio.Future[None]] = set()
        #: how many refresh requests this flow has sent (diagnostics; the status bar shows it)
        self.refresh_count = 0

    # -- state -------------------------------------------------------------------------------------------
    @property
    def token(self) -> Token | None:
        """The current :class:`Token`, or None before sign-in (and after :meth:`sign_out`)."""
        return self._token

    @property
    def signed_in(self) -> bool:
        """True while a token is held that is still valid or can be refreshed."""
        tok = self._token
        return tok is not None and (not tok.expired or self._can_refresh(tok))

    @property
    def generation(self) -> int:
        """Increases with every sign-in, refresh and sign-out (widgets use it to notice changes)."""
        return self._generation

    @property
    def host(self) -> str:
        """``host[:port]`` of the server this flow signs in to."""
        return urlsplit(self.base_url).netloc

    @property
    def store_key(self) -> str:
        """The key under which an opt-in token store keeps this flow's token."""
        return f"{self.product}@{self.host}"

    @property
    def authorize_url(self) -> str:  # pragma: no cover - abstract
        """The sign-in page to open in a browser."""
        raise NotImplementedError

    #: what a person pastes back after signing in (for hints)
    paste_what = "what you get"

    def sign_in_hint(self) -> str:
        """One sentence on how to sign in (again) with this flow, as a notebook shows it (no long URL: the
        sign-in page stays at ``flow.authorize_url``)."""
        return (f"run the sign-in cell above (ux.login(flow), or sign_in(flow) in the ucexplore notebooks) and "
                f"sign in to {self.display_name}; without a widget, open flow.authorize_url and pass "
                f"{self.paste_what} to flow.complete(...)")

    # -- sign-in / sign-out ------------------------------------------------------------------------------
    def complete(self, pasted: str) -> Token:  # pragma: no cover - overridden
        """Finish the sign-in with what the person pasted; returns the new :class:`Token`."""
        return self._run_sync(self.complete_async(pasted))

    async def complete_async(self, pasted: str) -> Token:  # pragma: no cover - overridden
        """Async twin of :meth:`complete`."""
        raise NotImplementedError

    def use_token(self, token: Token | str) -> Token:
        """Adopt an existing token (from an environment variable, a store, another tool).

        Example::

            >>> from ucexplore.auth.flows import UnitySSO
            >>> flow = UnitySSO("https://cuc.example.com", redirect_uri="https://app/cb")
            >>> flow.use_token("a-token-from-somewhere-else").issuer
            'unity'
        """
        if isinstance(token, str):
            token = Token(token.strip(), issuer=self.product)
        if not isinstance(token, Token):
            raise TypeError("use_token() takes a ux.Token or a token string")
        if token.issuer is None:
            token.issuer = self.product
        self._install(token, "signed_in")
        return token

    def sign_out(self) -> None:
        """Forget the token (the server-side session is not revoked; implicit tokens expire on their own).

        The token text stays registered for redaction: it may still be valid on the server.
        """
        with self._lock:
            had = self._token is not None
            if self._token is not None:
                self._retired.add(self._token)
            self._token = None
            self._generation += 1
            self._refresh_failed_at = None
        self._after_sign_out()
        if had:
            self._emit("signed_out")

    def _after_sign_out(self) -> None:
        """Hook: forget per-attempt secrets (new state, new PKCE verifier)."""

    def _install(self, token: Token, event: str) -> None:
        with self._lock:
            if self._token is not None and self._token is not token:
                self._retired.add(self._token)
            self._token = token
            self._generation += 1
            self._refresh_failed_at = None
        self._emit(event)

    def _emit(self, event: str) -> None:
        for callback in list(self.on_change):
            try:
                callback(event, self)
            except Exception:  # noqa: BLE001 - a broken widget must not break the sign-in
                log.warning("an on_change callback of %s failed", type(self).__name__, exc_info=True)

    # -- freshness ----------------------------------------------------------------------------------------
    def _can_refresh(self, tok: Token) -> bool:
        if not (self.refreshable and tok.refreshable):
            return False
        rexp = tok.refresh_expires_at
        return rexp is None or rexp.timestamp() > time.time()

    def _not_signed_in(self) -> NotSignedIn:
        return NotSignedIn(f"{self.display_name} is not signed in yet", hint=self.sign_in_hint())

    def _expired(self, tok: Token, why: str | None = None) -> TokenExpired:
        when = f" at {tok.expires_at:%H:%M:%S} UTC" if tok.expires_at else ""
        return TokenExpired(f"the {self.display_name} token expired{when}" + (f" ({why})" if why else ""),
                            hint=self.sign_in_hint())

    async def ensure_fresh_async(self) -> Token:
        """A usable token: refreshed first (once, whoever asks) when 75 % of its lifetime has passed.

        Raises :class:`NotSignedIn` before sign-in and :class:`TokenExpired` once it expired and cannot be
        refreshed. While the token is still valid, a failed refresh is logged and retried after
        ``REFRESH_RETRY_SECONDS``; the valid token is returned meanwhile.
        """
        tok = self._token
        if tok is None:
            raise self._not_signed_in()
        if not tok.needs_refresh:
            return tok
        if not self._can_refresh(tok):
            if tok.expired:
                why = "it cannot be refreshed" if not self.refreshable else "its refresh token ran out"
                raise self._expired(tok, why)
            return tok
        failed = self._refresh_failed_at
        if not tok.expired and failed is not None and time.monotonic() - failed < REFRESH_RETRY_SECONDS:
            return tok
        try:
            return await self._single_flight_refresh(tok)
        except UcError as exc:
            if tok.expired or self._token is not tok:
                raise
            self._refresh_failed_at = time.monotonic()
            log.warning("refreshing the %s token failed; using it until it expires: %s", self.display_name, exc)
            return tok

    def ensure_fresh(self) -> Token:
        """Sync twin of :meth:`ensure_fresh_async`."""
        tok = self._token
        if tok is None:
            raise self._not_signed_in()
        if not tok.needs_refresh:
            return tok
        if not self._can_refresh(tok):  # nothing to send: decide here, no event loop needed
            if tok.expired:
                why = "it cannot be refreshed" if not self.refreshable else "its refresh token ran out"
                raise self._expired(tok, why)
            return tok
        return self._run_sync(self.ensure_fresh_async())

    async def refresh_after_401_async(self, rejected: Token) -> Token | None:
        """The server refused ``rejected``: return a newer token (refreshing once if needed), or None."""
        current = self._token
        if current is None:
            return None
        if current is not rejected and current.access_token != rejected.access_token:
            return current  # someone already replaced it: retrying is worthwhile
        if not self._can_refresh(current):
            return None
        return await self._single_flight_refresh(current)

    async def refresh_async(self, tok: Token | None = None) -> Token:
        """Refresh now (single-flight with automatic refreshes); returns the new token.

        ``tok`` defaults to the current token. A token this flow already replaced returns the current one
        without a request; a token from elsewhere is refreshed and adopted.
        """
        if not self.refreshable:
            current = tok or self._token
            if current is None:
                raise self._not_signed_in()
            raise TokenExpired(f"{self.display_name} tokens cannot be refreshed", hint=self.sign_in_hint())
        current = self._token
        if tok is None:
            if current is None:
                raise self._not_signed_in()
            tok = current
        elif tok is not current and tok in self._retired and current is not None:
            return current
        if not tok.refreshable:
            raise TokenExpired(f"this {self.display_name} token has no refresh token", hint=self.sign_in_hint())
        if tok is not current:  # a token from elsewhere: refresh it and adopt the result
            fut: concurrent.futures.Future[Token] = concurrent.futures.Future()
            fut.set_running_or_notify_cancel()
            self._start_on_worker(tok, fut, adopt=True)
            return await asyncio.wrap_future(fut)
        return await self._single_flight_refresh(tok)

    def refresh(self, tok: Token | None = None) -> Token:
        """Sync twin of :meth:`refresh_async`."""
        return self._run_sync(self.refresh_async(tok))

    async def _single_flight_refresh(self, seen: Token) -> Token:
        while True:
            with self._lock:
                current = self._token
                if current is None:
                    raise self._not_signed_in()
                if current is not seen:
                    return current  # already refreshed by someone else
                fut = self._inflight
                owner = fut is None
                if fut is None:
                    fut = self._inflight = concurrent.futures.Future()
                    fut.set_running_or_notify_cancel()  # a cancelled waiter must not cancel it for everyone
            if owner:
                self._start_on_worker(seen, fut)
            try:
                return await asyncio.wrap_future(fut)
            except _Abandoned:
                continue

    def _start_on_worker(self, seen: Token, fut: concurrent.futures.Future[Token], *, adopt: bool = False) -> None:
        """Run the one refresh request as a task on the worker loop; ``fut`` gets its outcome."""
        from ...transport import worker_loop

        loop = worker_loop()

        def start() -> None:
            task = loop.create_task(self._run_refresh(seen, fut, adopt=adopt))
            self._refresh_tasks.add(task)
            task.add_done_callback(self._refresh_tasks.discard)

        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            start()
        else:
            loop.call_soon_threadsafe(start)

    async def _run_refresh(self, seen: Token, fut: concurrent.futures.Future[Token], *, adopt: bool = False) -> None:
        try:
            self.refresh_count += 1
            new = await self._refresh_request_async(seen)
        except BaseException as exc:
            with self._lock:
                if not adopt:
                    self._inflight = None
            fut.set_exception(exc if isinstance(exc, Exception) else _Abandoned())
            if not isinstance(exc, Exception):
                raise
            return
        with self._lock:
            replaced = adopt or self._token is seen
            if replaced:
                if self._token is not None and self._token is not new:
                    self._retired.add(self._token)
                self._retired.add(seen)
                self._token = new
                self._generation += 1
                self._refresh_failed_at = None
            if not adopt:
                self._inflight = None
        fut.set_result(new)
        if replaced:
            self._emit("refreshed")

    async def _refresh_request_async(self, tok: Token) -> Token:  # pragma: no cover - abstract
        """Send the one refresh request and return the new token."""
        raise TokenExpired(f"{self.display_name} tokens cannot be refreshed", hint=self.sign_in_hint())

    # -- HTTP plumbing ---------------------------------------------------------------------------------
    def _get_transport(self) -> Any:
        """The flow's own :class:`~ucexplore.transport.Transport` (no auth: token endpoints take none)."""
        if self._transport is None:
            from ...transport import Transport, check_plain_http

            check_plain_http(self.base_url, True, self.allow_insecure_http)  # codes and refresh tokens go there
            self._transport = Transport(self.base_url, auth=None, verify=self.verify,
                                        service=f"{self.product}-sso")
        return self._transport

    def _run_sync(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` to completion from sync code (also from inside a running notebook loop)."""
        from ...transport import run_sync

        return run_sync(coro)

    # -- display ----------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Who is signed in where, without any secret (for status bars)."""
        tok = self._token
        info: dict[str, Any] = {"product": self.product, "host": self.host, "signed_in": self.signed_in}
        if tok is not None:
            info.update(tok.describe())
        return info

    def __repr__(self) -> str:
        tok = self._token
        if tok is None:
            state = "not signed in"
        else:
            who = f" as {tok.user!r}" if tok.user else ""
            exp = tok.expires_at.isoformat(timespec="seconds") if tok.expires_at else "unknown"
            state = f"{'expired' if tok.expired else 'signed in'}{who}, expires {exp}"
            if self._can_refresh(tok):
                state += ", refreshable"
        return f"<{type(self).__name__} {self.product} {self.host} {state}>"

    __str__ = __repr__
