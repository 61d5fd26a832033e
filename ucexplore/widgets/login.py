"""The sign-in widget: open the product's sign-in page, paste back what it shows, see who is signed in.

``ux.login(flow)`` returns a :class:`LoginWidget`. It is a plain class that *holds* ipywidgets (composition,
not a ``VBox`` subclass) and displays itself in a notebook. Secrets never reach the browser side:

* the paste box is a ``Password`` field that is emptied the moment the kernel reads it (a paste signs in at
  once; the Sign in button does the same for whatever is in the box), and it never echoes its value back;
* the token lives only in Python (the flow's private attribute); widgets show who, issuer and expiry only;
* errors are shown inside the widget, redacted, never printed: one short card that says what happened and
  what to do (a paste meant for another flow's widget names that widget);
* when the widget is shown, a background thread checks that the sign-in host accepts a TCP connection
  (2 s, nothing sent) and the widget says "Cannot reach host:port (why): …" when it does not.

Every control carries a ``ucx-login-…`` CSS class so that browser tests and themes can find it.

Example::

    >>> import ucexplore as ux
    >>> flow = ux.CucmSSO("https://cucm.example.com:8443", redirect_uri="https://app.example.com/cb")
    >>> w = ux.login(flow)                      # in a notebook, the cell shows the widget
    >>> w.token is None
    True
    >>> tok = w.submit(f"https://app.example.com/cb#access_token=MjpkZTkxYjNmYS0wYzU2LTQx&expires_in=3600"
    ...                f"&state={flow.state}")
    >>> w.token is tok, "MjpkZTkx" in repr(w)
    (True, False)
    >>> w.sign_out(); w.token is None
    True
    >>> w.close()
"""

from __future__ import annotations

import asyncio
import errno
import html
import logging
import socket
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable
from urllib.parse import urlsplit

import ipywidgets as widgets
from traitlets import Unicode

from ..auth.token import Token
from ..errors import SSOError, UcError, card_html
from ..redact import redact

__all__ = ["LoginWidget", "login", "TICK_SECONDS", "REACH_TIMEOUT"]

log = logging.getLogger("ucexplore.widgets")

#: How often the status line is refreshed from the kernel's event loop (seconds).
TICK_SECONDS = 15.0

_INSTRUCTIONS = {
    "cucm": "Sign in, then click <b>Copy</b> on the page you land on and paste here.",
    "unity": "Sign in, then click <b>Copy</b> on the page you land on and paste here.",
    "finesse": "Sign in, then copy the text the page shows (it starts with <code>{\"token\"</code>) "
               "and paste it here.",
    "webex": "Sign in and allow access, then click <b>Copy</b> on the page you land on (its address holds a "
             "one-time code) and paste here.",
}
_GENERIC_INSTRUCTION = "Sign in, then copy what the page you land on shows and paste it here."
#: what the paste box needs, in the "nothing pasted" message
_WHAT_TO_PASTE = {
    "finesse": "copy the text the sign-in page shows",
    "cucm": "click Copy on the page you land on",
    "unity": "click Copy on the page you land on",
    "webex": "click Copy on the page you land on",
}
#: the widget's own fix for a pasted address without its ``#…``/``?…`` part: the lab's callback page removes
#: the token from the address bar once it has read it (the parser's hint blames the browser)
_NO_RESULT_HINT = ("the page you land on removes the token from its address bar once it has read it: click Copy "
                   "on that page, then paste here")
#: how the flows' products read a paste (for recognising a paste meant for another widget)
_EXPECT = {"cucm": "implicit", "unity": "implicit", "webex": "code"}

#: seconds the reachability check waits for a TCP connection to the sign-in host
REACH_TIMEOUT = 2.0
#: styles that let a long line of text wrap inside its box (hints, status, errors)
_WRAP = "white-space:normal;overflow-wrap:anywhere"


class _PasteBox(widgets.Password):
    """The stock Password control (same front-end model and view) whose value is never echoed back."""

    value = Unicode("", help="Pasted text; emptied by the kernel as soon as it arrives").tag(
        sync=True, echo_update=False)


# -- small helpers shared with sessions.py ------------------------------------------------------------------
def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _human_duration(seconds: float) -> str:
    """``3725`` → ``'1 h 02 min'``; ``59`` → ``'59 s'``; days for long-lived tokens."""
    s = max(0, int(seconds))
    if s < 120:
        return f"{s} s"
    minutes = s // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _clock(when: datetime | None) -> str:
    """A timestamp in the kernel's local zone: time only when it is today, else date and time."""
    if when is None:
        return "unknown"
    local = when.astimezone()
    now = datetime.now(local.tzinfo)
    fmt = "%H:%M" if local.date() == now.date() else "%Y-%m-%d %H:%M"
    zone = local.strftime("%Z")
    return local.strftime(fmt) + (f" {zone}" if zone else "")


def _product(flow: Any) -> str:
    return str(getattr(flow, "product", "") or "").lower()


def _display_name(flow: Any) -> str:
    return str(getattr(flow, "display_name", "") or _product(flow).upper() or type(flow).__name__)


def _host(flow: Any) -> str:
    host = getattr(flow, "host", None)
    if host:
        return str(host)
    base = getattr(flow, "base_url", "") or ""
    return str(base).split("://", 1)[-1]


def _close_all(items: Any) -> None:
    """Close widgets together with their ``layout``/``style`` models (``Widget.close`` leaves those open)."""
    for w in items:
        for sub in (getattr(w, "layout", None), getattr(w, "style", None)):
            if isinstance(sub, widgets.Widget):
                sub.close()
        w.close()


def _wrapping(markup: str) -> str:
    """``markup`` in a block whose long lines wrap (a widget's HTML otherwise keeps one line per hint)."""
    return f"<div class='ucx-wrap' style='{_WRAP}'>{markup}</div>" if markup else ""


def _card(title: str, message: str, hints: list[str] | tuple[str, ...] = ()) -> str:
    """The short error card: **title**: message, then one ``→ what to do`` line per hint."""
    return _wrapping(card_html(title, message, [f"→ {h}" for h in hints if h]))


def _split_message(exc: BaseException) -> tuple[str, list[str]]:
    """``str(exc)`` (redacted for a UcError) as its first line and its ``→`` hints."""
    text = str(exc) if isinstance(exc, UcError) else redact(str(exc))
    head, _, fix = text.partition("\n→ ")
    return head.strip(), [line.strip().removeprefix("→ ") for line in fix.splitlines() if line.strip()]


def _error_html(exc: BaseException) -> str:
    if isinstance(exc, UcError):
        return _wrapping(exc._repr_html_())
    return _card("Sign-in failed", redact(f"{type(exc).__name__}: {exc}"))


# -- reachability of the sign-in host -------------------------------------------------------------------------
def _sign_in_address(flow: Any) -> tuple[str, int] | None:
    """(host, port) of the flow's sign-in page (its ``authorize_url``, else its ``base_url``), or None."""
    for attr in ("authorize_url", "base_url"):
        try:
            parts = urlsplit(str(getattr(flow, attr, "") or ""))
            port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
        except Exception:  # noqa: BLE001 - a flow that cannot build its URL yet: nothing to check there
            parts, port = None, None
        if parts is not None and parts.hostname and port:
            return parts.hostname, port
    return None


def _show_target(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def probe(host: str, port: int, timeout: float = REACH_TIMEOUT) -> str | None:
    """None when a TCP connection to ``host:port`` opens within ``timeout`` seconds, else a few words on why
    not (``"connection refused"``, ``"host name not found"``, ``"no answer within 2 s"`` …).

    Only a TCP connection is opened and closed again: nothing is sent, least of all a credential.

    Example::

        >>> import socket
        >>> s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        >>> probe("127.0.0.1", port)
        'connection refused'
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except ConnectionRefusedError:
        return "connection refused"
    except socket.gaierror:
        return "host name not found"
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except OSError as exc:
        known = {errno.ENETUNREACH: "network unreachable", errno.EHOSTUNREACH: "host unreachable",
                 errno.ECONNRESET: "connection reset"}
        return known.get(exc.errno or 0) or (exc.strerror or type(exc).__name__).lower()
    except Exception as exc:  # noqa: BLE001 - a check must never raise into the kernel
        return type(exc).__name__


def unreachable_message(host: str, port: int, why: str) -> str:
    """What the widget says when the sign-in host cannot be reached."""
    return f"Cannot reach {_show_target(host, port)} ({why}): check the URL, the VPN, or start the lab"


def _reach_worker(ref: weakref.ref[LoginWidget], address: tuple[str, int], timeout: float) -> None:
    """Run in a daemon thread: probe, then hand the result to the widget's own thread."""
    why = probe(*address, timeout)
    widget = ref()
    if widget is not None:
        widget._kernel.call(lambda: widget._apply_reach(address, why))


class _WeakCallback:
    """A flow ``on_change`` callback that does not keep its widget alive and removes itself once it is gone."""

    def __init__(self, method: Callable[[str, Any], None]) -> None:
        self._ref = weakref.WeakMethod(method)

    def __call__(self, event: str, flow: Any) -> None:
        method = self._ref()
        if method is None:
            self.detach(flow)
            return
        method(event, flow)

    def detach(self, flow: Any) -> None:
        try:
            flow.on_change.remove(self)
        except (AttributeError, ValueError):
            pass


class _KernelSide:
    """Run widget updates on the kernel's event loop thread, and tick them while a loop runs.

    Flows may fire ``on_change`` from a worker thread (a refresh driven by the sync facade); widgets are only
    ever touched from the thread that built them, through ``loop.call_soon_threadsafe``.
    """

    def __init__(self, render: Callable[[], None], interval: float) -> None:
        self._render_ref = weakref.WeakMethod(render)
        self.interval = interval
        self.thread = threading.get_ident()
        self.loop = _running_loop()
        self.task: asyncio.Task[None] | None = None
        self.closed = False

    def call(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` now when on the owner thread, else hand it to the owner's loop."""
        loop = self.loop
        if threading.get_ident() != self.thread and loop is not None and loop.is_running() \
                and not loop.is_closed():
            loop.call_soon_threadsafe(fn)
        else:
            fn()

    def start(self) -> None:
        """Start ticking when an event loop runs on this thread (an IPython kernel) and it is not running yet."""
        if self.closed or self.interval <= 0 or (self.task is not None and not self.task.done()):
            return
        loop = _running_loop()
        if loop is None or threading.get_ident() != self.thread:
            return
        self.loop = loop
        self.task = loop.create_task(self._tick(), name="ucexplore-widget-tick")

    async def _tick(self) -> None:
        while not self.closed:
            await asyncio.sleep(self.interval)
            render = self._render_ref()
            if render is None or self.closed:
                return
            try:
                render()
            except Exception:  # noqa: BLE001 - a status line must never kill the kernel's loop
                log.warning("refreshing a ucexplore widget failed", exc_info=True)
            del render

    def stop(self) -> None:
        """Stop ticking (idempotent)."""
        self.closed = True
        task, self.task = self.task, None
        if task is not None and not task.done():
            if self.loop is not None and threading.get_ident() != self.thread and self.loop.is_running():
                self.loop.call_soon_threadsafe(task.cancel)
            else:
                task.cancel()


@dataclass(frozen=True)
class _Status:
    """What a status line says about a flow's token (never the token itself)."""

    state: str  #: "signed_out", "signed_in" or "expired"
    user: str | None = None
    issuer: str = ""
    expiry: str = ""  #: "expires in 59 min (21:43 UTC)", "expired at 21:43 UTC" or "expiry unknown"
    refresh: str = ""  #: "refreshes at 21:28 UTC", "no refresh token: sign in again when it expires" or ""
    refreshes_at: str | None = None

    def text(self) -> str:
        if self.state == "signed_out":
            return "Not signed in."
        who = f" as {self.user}" if self.user else ""
        head = f"Signed in{who}" if self.state == "signed_in" else f"Session{who} expired, sign in again"
        return " · ".join(p for p in (head, f"issuer {self.issuer}", self.expiry, self.refresh) if p)

    def html(self) -> str:
        if self.state == "signed_out":
            return "<span style='color:#667'>Not signed in.</span>"
        who = f" as <b>{html.escape(self.user)}</b>" if self.user else ""
        if self.state == "signed_in":
            head = f"<span style='color:#1e7d32'>●</span> Signed in{who}"
        else:
            head = f"<span style='color:#c0392b'>●</span> Session{who} expired, sign in again"
        rest = [html.escape(p) for p in (f"issuer {self.issuer}", self.expiry, self.refresh) if p]
        return " · ".join([head, *rest])


def _status(flow: Any) -> _Status:
    """The :class:`_Status` of ``flow`` right now."""
    tok = getattr(flow, "token", None)
    if tok is None:
        return _Status("signed_out")
    issuer = f"{tok.issuer or _product(flow)} at {_host(flow)}"
    remaining = tok.remaining
    if tok.expired:
        expiry = f"expired at {_clock(tok.expires_at)}"
    elif remaining is not None:
        expiry = f"expires in {_human_duration(remaining)} ({_clock(tok.expires_at)})"
    else:
        expiry = "expiry unknown"
    can_refresh = bool(getattr(flow, "refreshable", False)) and tok.refreshable
    refreshes_at = _clock(tok.refresh_at) if can_refresh and tok.refresh_at is not None else None
    if refreshes_at:
        refresh = f"refreshes at {refreshes_at}"
    elif not tok.expired:
        refresh = "no refresh token: sign in again when it expires"
    else:
        refresh = ""
    signed_in = bool(getattr(flow, "signed_in", not tok.expired))
    state = "expired" if tok.expired and not signed_in else "signed_in"
    return _Status(state, tok.user or None, issuer, expiry, refresh, refreshes_at)


class LoginWidget:
    """The sign-in widget for one flow (:class:`~ucexplore.CucmSSO`, ``UnitySSO``, ``FinesseSSO``,
    ``WebexOAuth``). Build it with :func:`login`.

    Attributes: ``flow``; ``widget`` (the root ipywidgets box); ``token`` (the Token or None);
    ``signed_in``; ``error`` (the last error text shown, or None); ``status_text`` (the status line as text);
    ``unreachable`` (the "Cannot reach host:port …" line shown, or None).

    When the widget is shown, a background thread opens (and closes) a TCP connection to the sign-in page's
    host with a :data:`REACH_TIMEOUT` of 2 s: if that fails the widget says so ("Cannot reach
    cucm.example.com:8443 (connection refused): check the URL, the VPN, or start the lab") and checks again
    on every tick until it succeeds; the sign-in link stays usable. Nothing is sent on that connection.
    ``check=False`` skips the check.

    Example::

        >>> import ucexplore as ux
        >>> w = ux.login(ux.CucmSSO("https://cucm:8443", redirect_uri="https://app/cb"))
        >>> w.submit("not a token")          # the error is shown in the widget, not raised
        >>> w.error.startswith("SSOError")
        True
        >>> w.close()
    """

    def __init__(self, flow: Any, *, tick: float = TICK_SECONDS, check: bool = True) -> None:
        self.flow = flow
        self._error: str | None = None
        self._closed = False
        self._check = bool(check)
        self._unreachable: str | None = None
        self._reach_thread: threading.Thread | None = None
        self._reach_lock = threading.Lock()
        self._reach_done = threading.Event()  #: set each time a check's result has been shown
        self.renders = 0  #: how many times the status was brought up to date (tests read it)
        name = _display_name(flow)
        instruction = _INSTRUCTIONS.get(_product(flow), _GENERIC_INSTRUCTION)

        self._title = widgets.HTML(f"<b>{html.escape(name)}</b> sign-in "
                                   f"<span style='color:#667'>· {html.escape(_host(flow))}</span>")
        self._title.add_class("ucx-login-title")
        self._open = widgets.HTML()
        self._open.add_class("ucx-login-open")
        self._help = widgets.HTML(_wrapping(f"<span style='color:#445'>{instruction}</span>"),
                                  layout=widgets.Layout(flex="1 1 auto", min_width="0"))
        self._help.add_class("ucx-login-help")
        self._reach = widgets.HTML()
        self._reach.add_class("ucx-login-unreachable")
        self._paste = _PasteBox(placeholder="paste here: it signs in at once",
                                layout=widgets.Layout(width="26em"))
        self._paste.add_class("ucx-login-paste")
        self._submit = widgets.Button(description="Sign in", button_style="primary", icon="sign-in",
                                      tooltip="Sign in with what you pasted")
        self._submit.add_class("ucx-login-submit")
        self._signout = widgets.Button(description="Sign out", icon="sign-out",
                                       tooltip="Forget the token in this kernel")
        self._signout.add_class("ucx-login-signout")
        self._status = widgets.HTML()
        self._status.add_class("ucx-login-status")
        self._errors = widgets.HTML()
        self._errors.add_class("ucx-login-error")

        row_open = widgets.HBox([self._open, self._help], layout=widgets.Layout(align_items="center"))
        row_open.add_class("ucx-login-row")
        row_paste = widgets.HBox([self._paste, self._submit, self._signout])
        row_paste.add_class("ucx-login-row")
        self.widget = widgets.VBox([self._title, row_open, self._reach, row_paste, self._status, self._errors])
        self.widget.add_class("ucx-login")
        self._children = [self._title, self._open, self._help, self._reach, self._paste, self._submit,
                          self._signout, self._status, self._errors, row_open, row_paste, self.widget]

        self._paste.observe(self._on_paste, names="value")
        self._submit.on_click(self._on_submit_click)
        self._signout.on_click(self._on_signout_click)
        self._callback = _WeakCallback(self._on_flow_change)
        if isinstance(getattr(flow, "on_change", None), list):
            flow.on_change.append(self._callback)
        self._kernel = _KernelSide(self._on_tick, tick)
        from .sessions import register_flow

        register_flow(flow)
        self._render()
        self._kernel.start()

    # -- public API ---------------------------------------------------------------------------------------
    @property
    def token(self) -> Token | None:
        """The flow's current :class:`~ucexplore.Token`, or None before sign-in and after sign-out."""
        return getattr(self.flow, "token", None)

    @property
    def signed_in(self) -> bool:
        """True while the flow holds a usable (or refreshable) token."""
        return bool(getattr(self.flow, "signed_in", self.token is not None))

    @property
    def error(self) -> str | None:
        """The error currently shown in the widget (redacted), or None."""
        return self._error

    @property
    def status_text(self) -> str:
        """The status line as plain text (what the widget shows)."""
        return _status(self.flow).text()

    @property
    def unreachable(self) -> str | None:
        """The "Cannot reach host:port (why): …" line the widget shows, or None (reachable, or not checked)."""
        return self._unreachable

    def check_reachability(self, *, wait: bool = False) -> str | None:
        """Check that the sign-in page's host accepts a TCP connection (what showing the widget does).

        In the background by default (a daemon thread; the result is shown by the widget's own thread); with
        ``wait=True`` it waits (at most :data:`REACH_TIMEOUT` s plus name resolution) and returns
        :attr:`unreachable`. Nothing is sent on the connection.

        Example::

            >>> w.check_reachability(wait=True)                  # doctest: +SKIP
            'Cannot reach 127.0.0.1:8443 (connection refused): check the URL, the VPN, or start the lab'
        """
        address = _sign_in_address(self.flow)
        if address is None or self._closed:
            return self._unreachable
        if wait:
            self._apply_reach(address, probe(*address, REACH_TIMEOUT))
            return self._unreachable
        with self._reach_lock:
            running = self._reach_thread
            if running is not None and running.is_alive():
                return self._unreachable
            self._reach_done.clear()
            thread = threading.Thread(target=_reach_worker, args=(weakref.ref(self), address, REACH_TIMEOUT),
                                      name="ucexplore-reachability", daemon=True)
            self._reach_thread = thread
        thread.start()
        return self._unreachable

    def submit(self, text: str | None = None) -> Token | None:
        """Sign in with ``text`` (default: what is in the paste box); returns the Token, or None on failure.

        This is what the Sign in button does. The paste box is emptied before anything else happens; a bad
        paste shows an actionable error in the widget (also in :attr:`error`) instead of raising.

        Example::

            >>> w.submit(pasted_url)                     # doctest: +SKIP
            <Token Bearer issuer='cucm' user='jkam' valid expires_at=...>
        """
        if text is None:
            text = self._paste.value
        if self._paste.value:
            self._paste.value = ""
        if not text or not text.strip():
            what = _WHAT_TO_PASTE.get(_product(self.flow), "copy what the page you land on shows")
            self._show_error(f"Nothing to sign in with: open the sign-in page, sign in, then {what} and "
                             f"paste here.")
            return None
        try:
            tok = self.flow.complete(text)
        except Exception as exc:  # noqa: BLE001 - shown in the widget; nothing escapes a button click
            if not isinstance(exc, UcError):
                log.warning("sign-in failed unexpectedly (%s)", type(exc).__name__)
            self._show_exception(exc, pasted=text)
            self._render()
            return None
        self._set_error(None)
        self._render()
        self._kernel.start()
        return tok

    def sign_out(self) -> None:
        """Forget the token (what the Sign out button does)."""
        try:
            self.flow.sign_out()
        except Exception as exc:  # noqa: BLE001
            self._show_exception(exc)
        else:
            self._set_error(None)
        self._render()

    def close(self) -> None:
        """Stop ticking, detach from the flow and close every widget (the token stays with the flow)."""
        if self._closed:
            return
        self._closed = True
        self._kernel.stop()
        self._callback.detach(self.flow)
        _close_all(self._children)

    # -- display ------------------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        if self._closed:
            return {"text/plain": repr(self)}
        self._kernel.start()
        if self._check:
            self.check_reachability()
        data = self.widget._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = repr(self)
        return data

    def __repr__(self) -> str:
        return f"<LoginWidget {type(self.flow).__name__} {self.status_text}>"

    # -- internals ---------------------------------------------------------------------------------------
    def _on_paste(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.submit()

    def _on_submit_click(self, _button: Any) -> None:
        if self._paste.value:
            self.submit()
        elif self.signed_in or self._error:
            return  # the paste already signed in (or failed visibly) when it arrived
        else:
            self.submit()

    def _on_signout_click(self, _button: Any) -> None:
        self.sign_out()

    def _on_flow_change(self, event: str, flow: Any) -> None:
        if not self._closed:
            self._kernel.call(self._render)

    def _show_exception(self, exc: BaseException, *, pasted: str | None = None) -> None:
        if isinstance(exc, SSOError) and pasted is not None:
            other = self._meant_for(pasted)
            if other is not None:
                mine, theirs = _display_name(self.flow), _display_name(other)
                if (theirs, _host(other)) == (mine, _host(self.flow)):
                    head = (f"that address completes another {theirs} sign-in in this kernel (from an earlier "
                            f"run of this cell?), not this one")
                    hint = "open the sign-in page above, sign in, and paste the address you land on"
                else:
                    head = f"that is the {theirs} sign-in result ({_host(other)}), not one for {mine}"
                    hint = f"paste it into the {theirs} sign-in widget; for {mine} open the sign-in page above"
                self._set_card(type(exc).__name__, head, [hint])
                return
            head, _hints = _split_message(exc)
            if "carries no sign-in result" in head and _product(self.flow) != "finesse":
                self._set_card(type(exc).__name__, head, [_NO_RESULT_HINT])
                return
        self._error = redact(f"{type(exc).__name__}: {exc}")
        self._errors.value = _error_html(exc)

    def _set_card(self, title: str, head: str, hints: list[str]) -> None:
        self._error = redact(f"{title}: {head}" + "".join(f"\n→ {h}" for h in hints))
        self._errors.value = _card(title, redact(head), [redact(h) for h in hints])

    def _meant_for(self, pasted: str) -> Any:
        """Another registered flow whose current sign-in attempt this paste completes (the wrong widget)."""
        from ..auth.paste import parse_paste
        from .sessions import registered_flows

        def completes(other: Any) -> bool:
            expect = _EXPECT.get(_product(other))
            state = getattr(other, "state", None)
            if other is self.flow or expect is None or not isinstance(state, str) or not state:
                return False
            try:
                parse_paste(pasted, expect=expect, state=state,  # type: ignore[arg-type]
                            redirect_uri=getattr(other, "redirect_uri", None))
            except Exception:  # noqa: BLE001 - not that flow's result either
                return False
            return True

        return next((other for other in registered_flows() if completes(other)), None)

    def _show_error(self, message: str) -> None:
        self._error = redact(message)
        self._errors.value = _wrapping(card_html("", self._error))

    def _on_tick(self) -> None:
        self._render()
        if self._check and self._unreachable:
            self.check_reachability()  # the lab or the VPN may be up by now

    def _apply_reach(self, address: tuple[str, int], why: str | None) -> None:
        """Show (or clear) the "Cannot reach" line; on the widget's own thread."""
        if self._closed:
            self._reach_done.set()
            return
        if why is None:
            self._unreachable = None
            self._reach.value = ""
        else:
            self._unreachable = unreachable_message(*address, why)
            self._reach.value = _wrapping(
                f"<div class='ucx-warning' style='border-left:4px solid #d68910;padding:4px 8px'>"
                f"<b>Cannot reach {html.escape(_show_target(*address))}</b> ({html.escape(why)}): check the URL, "
                f"the VPN, or start the lab</div>")
        self._reach_done.set()

    def _set_error(self, message: str | None) -> None:
        if message is None:
            self._error = None
            self._errors.value = ""
        else:
            self._show_error(message)

    def _render(self) -> None:
        """Bring the link, the buttons and the status line up to date (called on the kernel thread)."""
        if self._closed:
            return
        try:
            url = str(self.flow.authorize_url)
        except Exception as exc:  # noqa: BLE001 - e.g. a flow that cannot build its URL yet
            url = ""
            self._show_exception(exc)
        if url:
            self._open.value = (
                f"<a href=\"{html.escape(url, quote=True)}\" target=\"_blank\" rel=\"noopener noreferrer\" "
                f"class=\"ucx-login-open-link\" style=\"display:inline-block;padding:3px 12px;margin-right:8px;"
                f"border-radius:3px;background:#0d6ebd;color:#fff;text-decoration:none;white-space:nowrap\">"
                f"Open sign-in page ↗</a>")
        self._status.value = _wrapping(_status(self.flow).html())
        self._signout.disabled = self.token is None
        self.renders += 1


def login(flow: Any, *, tick: float = TICK_SECONDS, check: bool = True) -> LoginWidget:
    """The sign-in widget for ``flow``: open the sign-in page, paste back what it shows, see the status.

    ``tick`` is how often (seconds) the status line refreshes while the kernel's loop runs; 0 turns it off.
    ``check=False`` skips the reachability check of the sign-in host that showing the widget starts.

    Example::

        >>> import ucexplore as ux
        >>> flow = ux.FinesseSSO("https://finesse.example.com:8445", agent_id="1001001")
        >>> w = ux.login(flow)        # the last line of a cell: shows the widget
        >>> w.signed_in
        False
        >>> w.close()
    """
    return LoginWidget(flow, tick=tick, check=check)
